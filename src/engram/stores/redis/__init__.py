"""Redis backends (redis-py): `pip install 'engramdb[redis]'`.

```
RedisConversationStore / AsyncRedisConversationStore   sessions (TTL), messages, summaries, state
RedisEventLog / AsyncRedisEventLog                     agent event streams and snapshots
RedisCheckpointer / AsyncRedisCheckpointer             agent checkpoints (retention, fork, TTL)
```

For the short-term, hot parts of Engram. Redis does not store long-term memories or do
vector search (Redis 7 has no search module without Redis Stack): pair these stores with a
PostgreSQL or SQLite memory store. Stores take a client or a connection pool and never close
what they were given; `from_url(...)` opens and closes its own. No migrations: the key layout
(`base.py`) is the schema.
"""

from engram.stores.redis.aio import (
    AsyncRedisCheckpointer,
    AsyncRedisConversationStore,
    AsyncRedisEventLog,
)
from engram.stores.redis.checkpoints import RedisCheckpointer
from engram.stores.redis.conversation import RedisConversationStore
from engram.stores.redis.events import RedisEventLog

__all__ = [
    "AsyncRedisCheckpointer",
    "AsyncRedisConversationStore",
    "AsyncRedisEventLog",
    "RedisCheckpointer",
    "RedisConversationStore",
    "RedisEventLog",
]
