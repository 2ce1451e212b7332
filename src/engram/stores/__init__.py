"""Storage: the contracts and their backends.

```
BaseConversationStore            sessions, messages, running summaries, session state
├── InMemoryConversationStore    process memory (the reference backend)
└── SqliteConversationStore      one SQLite file (stdlib sqlite3)
```

A backend implements `batch(ops)`/`abatch(ops)` over the typed operations re-exported here;
`engram.testing.conversation` is the conformance suite every backend passes.
"""

from engram.stores.conversation import (
    AppendMessages,
    BaseConversationStore,
    CreateSession,
    DeleteSession,
    FindToolCalls,
    GetSession,
    GetSummary,
    ListMessages,
    ListSessions,
    MergeState,
    Op,
    PurgeExpired,
    PutSummary,
)
from engram.stores.memory import InMemoryConversationStore
from engram.stores.sqlite import SqliteConnection, SqliteConversationStore

__all__ = [
    "AppendMessages",
    "BaseConversationStore",
    "CreateSession",
    "DeleteSession",
    "FindToolCalls",
    "GetSession",
    "GetSummary",
    "InMemoryConversationStore",
    "ListMessages",
    "ListSessions",
    "MergeState",
    "Op",
    "PurgeExpired",
    "PutSummary",
    "SqliteConnection",
    "SqliteConversationStore",
]
