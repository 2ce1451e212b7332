"""The async Redis stores (`redis.asyncio`).

Real async I/O (no worker threads), over the very generators of the sync classes
(`conversation_work`, `event_work`), so both APIs run the same reads, writes and rules.

An async store belongs to the event loop it was created on. Its sync methods (`batch`,
`create_session`, ...) work from other threads while that loop runs; called on the loop's own
thread they raise `ConfigError` instead of deadlocking.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from engram.stores import _event_rules as event_rules
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
from engram.stores.redis.conversation import conversation_work
from engram.stores.redis.events import event_work

__all__ = ["AsyncRedisConversationStore", "AsyncRedisEventLog"]


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
