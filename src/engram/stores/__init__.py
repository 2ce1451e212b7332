"""Storage: the contracts and their backends.

```
contract               in-memory (reference)      SQLite                   server backends
BaseConversationStore  InMemoryConversationStore  SqliteConversationStore  postgres, redis
BaseMemoryStore        InMemoryMemoryStore        SqliteMemoryStore
BaseCheckpointer       InMemoryCheckpointer       SqliteCheckpointer
BaseEventLog           InMemoryEventLog           SqliteEventLog           postgres, redis
```

A backend implements `batch(ops)`/`abatch(ops)` over its contract's typed operations (in
`engram.stores.conversation`, `.memories`, `.checkpoints`, `.events`); `engram.testing` holds
the conformance suite each backend passes. The PostgreSQL and Redis backends import their
drivers, so they are imported from their own packages (`pip install engramdb[postgres]`).
"""

from engram.stores.checkpoints import BaseCheckpointer
from engram.stores.conversation import (
    AppendMessages,
    BaseConversationStore,
    ClearMessages,
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
from engram.stores.events import BaseEventLog
from engram.stores.memories import BaseMemoryStore
from engram.stores.memory import InMemoryConversationStore
from engram.stores.memory_checkpoints import InMemoryCheckpointer
from engram.stores.memory_events import InMemoryEventLog
from engram.stores.memory_memories import InMemoryMemoryStore
from engram.stores.sqlite import (
    SqliteCheckpointer,
    SqliteConnection,
    SqliteConversationStore,
    SqliteEventLog,
    SqliteMemoryStore,
)

__all__ = [
    "AppendMessages",
    "BaseCheckpointer",
    "BaseConversationStore",
    "BaseEventLog",
    "BaseMemoryStore",
    "ClearMessages",
    "CreateSession",
    "DeleteSession",
    "FindToolCalls",
    "GetSession",
    "GetSummary",
    "InMemoryCheckpointer",
    "InMemoryConversationStore",
    "InMemoryEventLog",
    "InMemoryMemoryStore",
    "ListMessages",
    "ListSessions",
    "MergeState",
    "Op",
    "PurgeExpired",
    "PutSummary",
    "SqliteCheckpointer",
    "SqliteConnection",
    "SqliteConversationStore",
    "SqliteEventLog",
    "SqliteMemoryStore",
]
