"""The async Redis stores (`redis.asyncio`).

Real async I/O (no worker threads), over the very generators of the sync classes
(`conversation_work`, `event_work`, `checkpoint_work`), so both APIs run the same reads,
writes and rules.

An async store belongs to the event loop it was created on. Its sync methods (`batch`,
`create_session`, ...) work from other threads while that loop runs; called on the loop's own
thread they raise `ConfigError` instead of deadlocking.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from engram.serde import SerializerProtocol
from engram.stores import _event_rules as event_rules
from engram.stores import checkpoints as checkpoint_contract
from engram.stores import conversation as conversation_contract
from engram.stores import events as event_contract
from engram.stores.conversation import BaseConversationStore
from engram.stores.events import BaseEventLog
from engram.stores.redis import base
from engram.stores.redis._internal import (
    AsyncClient,
    Tx,
    Work,
    aconnect,
    arun,
    async_client_from,
    call_on_loop,
    running_loop,
)
from engram.stores.redis._sessions import SessionBatch
from engram.stores.redis._streams import StreamBatch
from engram.stores.redis.checkpoints import (
    CheckpointerOptions,
    RedisCheckpointOp,
    SetThreadTtl,
    check_client,
)
from engram.stores.redis.conversation import conversation_work
from engram.stores.redis.events import event_work
from engram.types._checkpoint import RetentionPolicy

__all__ = ["AsyncRedisCheckpointer", "AsyncRedisConversationStore", "AsyncRedisEventLog"]


class AsyncRedisConversationStore(BaseConversationStore):
    """Conversations in Redis, with async I/O (see `RedisConversationStore`).

    Args:
        client: A `redis.asyncio.Redis` client or a `redis.asyncio.ConnectionPool`.
        prefix: Prepended to every key.
        expiry_grace: Seconds a session's keys outlive its expiry in Redis.

    Example:
        ```python
        async with AsyncRedisConversationStore.from_url("redis://localhost:6379/0") as store:
            await store.acreate_session(Session(id="s1", ttl_seconds=3600))
        ```
    """

    def __init__(
        self, client: AsyncClient | Any, *, prefix: str = "engram:", expiry_grace: float = 60.0
    ) -> None:
        self.client = async_client_from(client)
        self.keys = base.Keys(prefix)
        self.expiry_grace = expiry_grace
        self.loop = running_loop()

    @classmethod
    @asynccontextmanager
    async def from_url(cls, url: str, **options: Any) -> AsyncIterator[AsyncRedisConversationStore]:
        """Open a store on its own client to `url`, closed when the block exits."""
        async with aconnect(url) as client:
            yield cls(client, **options)

    async def abatch(self, ops: Sequence[conversation_contract.Op]) -> list[Any]:
        """Run `ops` in order in one optimistic transaction; return their results in order."""
        if not ops:
            return []

        def make(tx: Tx) -> Work[list[Any]]:
            return conversation_work(ops, SessionBatch(tx, self.keys, self.expiry_grace))

        return await arun(self.client, make)

    def batch(self, ops: Sequence[conversation_contract.Op]) -> list[Any]:
        """Sync `abatch`, from a thread other than the store's event loop."""
        return call_on_loop(self.loop, self.abatch(ops), type(self).__name__)


class AsyncRedisEventLog(BaseEventLog):
    """Event streams in Redis, with async I/O (see `RedisEventLog`).

    Args:
        client: A `redis.asyncio.Redis` client or a `redis.asyncio.ConnectionPool`.
        prefix: Prepended to every key.
    """

    def __init__(self, client: AsyncClient | Any, *, prefix: str = "engram:") -> None:
        self.client = async_client_from(client)
        self.keys = base.Keys(prefix)
        self.loop = running_loop()

    @classmethod
    @asynccontextmanager
    async def from_url(cls, url: str, **options: Any) -> AsyncIterator[AsyncRedisEventLog]:
        """Open a log on its own client to `url`, closed when the block exits."""
        async with aconnect(url) as client:
            yield cls(client, **options)

    async def abatch(self, ops: Sequence[event_contract.Op]) -> list[Any]:
        """Run `ops` in order in one optimistic transaction; return their results in order."""
        for op in ops:
            event_rules.check_op(op)
        if not ops:
            return []

        def make(tx: Tx) -> Work[list[Any]]:
            return event_work(ops, StreamBatch(tx, self.keys))

        return await arun(self.client, make)

    def batch(self, ops: Sequence[event_contract.Op]) -> list[Any]:
        """Sync `abatch`, from a thread other than the log's event loop."""
        return call_on_loop(self.loop, self.abatch(ops), type(self).__name__)


class AsyncRedisCheckpointer(checkpoint_contract.BaseCheckpointer):
    """Checkpoints in Redis, with async I/O (see `RedisCheckpointer`).

    Args:
        client: A `redis.asyncio.Redis` client or a `redis.asyncio.ConnectionPool`.
        prefix: Prepended to every key.
        serde: Serializer of the convenience API's values (default JSON).
        default_retention: The policy `prune` applies to threads without their own.
        snapshot_every: The longest list delta chain before a full snapshot.
        ttl_seconds: Expire a thread this long after it was last used (None: never).
        refresh_on_read: Reading a thread also renews its TTL (else only writing does).
        cache_size: Resolved list versions kept in process.
    """

    def __init__(
        self,
        client: AsyncClient | Any,
        *,
        prefix: str = "engram:",
        serde: SerializerProtocol | None = None,
        default_retention: RetentionPolicy | None = None,
        snapshot_every: int = 16,
        ttl_seconds: float | None = None,
        refresh_on_read: bool = True,
        cache_size: int = 4096,
    ) -> None:
        self.client = check_client(async_client_from(client))
        self.options = CheckpointerOptions(
            prefix=prefix,
            snapshot_every=snapshot_every,
            ttl_seconds=ttl_seconds,
            refresh_on_read=refresh_on_read,
            cache_size=cache_size,
        )
        if serde is not None:
            self.serde = serde
        self.default_retention = default_retention
        self.loop = running_loop()

    @classmethod
    @asynccontextmanager
    async def from_url(cls, url: str, **options: Any) -> AsyncIterator[AsyncRedisCheckpointer]:
        """Open a checkpointer on its own client to `url`, closed when the block exits."""
        async with aconnect(url) as client:
            yield cls(client, **options)

    async def abatch(self, ops: Sequence[RedisCheckpointOp]) -> list[Any]:
        """Run `ops` in order in one optimistic transaction; return their results in order."""
        make = self.options.work(ops, self.default_retention)
        return await arun(self.client, make) if ops else []

    def batch(self, ops: Sequence[RedisCheckpointOp]) -> list[Any]:
        """Sync `abatch`, from a thread other than the checkpointer's event loop."""
        return call_on_loop(self.loop, self.abatch(ops), type(self).__name__)

    def set_ttl(self, tenant: str, thread_id: str, ttl_seconds: float | None) -> None:
        """Set (or with None, clear) the thread's own TTL (see `SetThreadTtl`)."""
        self.batch([SetThreadTtl(tenant, thread_id, ttl_seconds)])

    async def aset_ttl(self, tenant: str, thread_id: str, ttl_seconds: float | None) -> None:
        await self.abatch([SetThreadTtl(tenant, thread_id, ttl_seconds)])
