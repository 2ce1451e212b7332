"""SQLite backends (stdlib `sqlite3`; no extra needed).

Every SQLite store of Engram shares one `SqliteConnection` (one file, WAL, one lock).
"""

from engram.stores.sqlite._internal import Durability, SqliteConnection
from engram.stores.sqlite.conversation import SqliteConversationStore

__all__ = ["Durability", "SqliteConnection", "SqliteConversationStore"]
