"""SQLite backends (stdlib `sqlite3`; no extra needed).

Every SQLite store of Engram shares one `SqliteConnection` (one file, WAL, one lock).
"""

from engram.stores.sqlite._internal import Durability, SqliteConnection
from engram.stores.sqlite.checkpoints import SqliteCheckpointer
from engram.stores.sqlite.conversation import SqliteConversationStore
from engram.stores.sqlite.events import SqliteEventLog
from engram.stores.sqlite.memories import SqliteMemoryStore

__all__ = [
    "Durability",
    "SqliteCheckpointer",
    "SqliteConnection",
    "SqliteConversationStore",
    "SqliteEventLog",
    "SqliteMemoryStore",
]
