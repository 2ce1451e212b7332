"""PostgreSQL backends (psycopg 3): `pip install 'engramdb[postgres]'`.

```
PostgresConversationStore / AsyncPostgresConversationStore   sessions, messages, summaries, state
PostgresEventLog / AsyncPostgresEventLog                     agent event streams and snapshots
PostgresMemoryStore / AsyncPostgresMemoryStore               long-term memories (pgvector)
PostgresCheckpointer / AsyncPostgresCheckpointer             agent checkpoints (and LangGraph's)
```

Stores take a psycopg connection or pool (`Connection | ConnectionPool`, or the async
pair) and never close what they were given; `from_conn_string(...)` opens and closes its own.
Schemas are versioned per component in the `engram_migrations` table; `migrate()` is
idempotent.

Durability, as SQLite's: every store (and `from_conn_string`) takes `durability="normal"`
(the default: Engram's transactions commit asynchronously, `SET LOCAL synchronous_commit =
off`; a server or OS crash may lose the last few hundred ms of acknowledged writes, never
corrupting) or `"full"` (the server's synchronous commit). See `_internal`.
"""

from engram.stores.postgres._internal import AsyncConn, Conn
from engram.stores.postgres.aio import (
    AsyncPostgresConversationStore,
    AsyncPostgresEventLog,
    AsyncPostgresMemoryStore,
)
from engram.stores.postgres.checkpoints import PostgresCheckpointer
from engram.stores.postgres.checkpoints_aio import AsyncPostgresCheckpointer
from engram.stores.postgres.conversation import PostgresConversationStore
from engram.stores.postgres.events import PostgresEventLog
from engram.stores.postgres.memories import PostgresMemoryStore

__all__ = [
    "AsyncConn",
    "AsyncPostgresCheckpointer",
    "AsyncPostgresConversationStore",
    "AsyncPostgresEventLog",
    "AsyncPostgresMemoryStore",
    "Conn",
    "PostgresCheckpointer",
    "PostgresConversationStore",
    "PostgresEventLog",
    "PostgresMemoryStore",
]
