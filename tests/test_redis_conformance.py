"""The conversation and event-log conformance suites, run unchanged against Redis.

Modes (fixture params): the sync store (`redis.Redis`) and the async store
(`redis.asyncio.Redis`) on its own loop (`servers.LoopThread`): the specs' sync calls go
through its `batch` (the loop bridge), their async calls through `abatch`. Each test has its
own key prefix, deleted after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
import redis.asyncio

from engram.stores.redis import (
    AsyncRedisConversationStore,
    AsyncRedisEventLog,
    RedisConversationStore,
    RedisEventLog,
)
from engram.testing.conversation import ConversationStoreSpec
from engram.testing.events import EventLogSpec
from servers import LoopBoundConversationStore, LoopBoundEventLog, LoopThread

pytest_plugins = ["servers"]

MODES = ["sync", "async"]


@contextmanager
def open_store(
    url: str, prefix: str, mode: str, sync_class: Any, async_class: Any, bound: Any
) -> Iterator[Any]:
    """A store of `mode` on `url` under `prefix`; an async one belongs to a `LoopThread`."""
    if mode == "sync":
        with redis.Redis.from_url(url) as client:
            yield sync_class(client, prefix=prefix)
        return
    loop = LoopThread()

    async def build() -> Any:
        return async_class(redis.asyncio.Redis.from_url(url), prefix=prefix)

    store = loop.run(build())
    try:
        yield bound(store, loop)
    finally:
        loop.run(store.client.aclose())
        loop.close()


@pytest.fixture(params=MODES)
def redis_conversation_store(
    request: pytest.FixtureRequest, redis_url: str, redis_prefix: str
) -> Iterator[Any]:
    """A fresh Redis conversation store per mode."""
    classes = (RedisConversationStore, AsyncRedisConversationStore, LoopBoundConversationStore)
    with open_store(redis_url, redis_prefix, request.param, *classes) as store:
        yield store


@pytest.fixture(params=MODES)
def redis_event_log(
    request: pytest.FixtureRequest, redis_url: str, redis_prefix: str
) -> Iterator[Any]:
    """A fresh Redis event log per mode."""
    classes = (RedisEventLog, AsyncRedisEventLog, LoopBoundEventLog)
    with open_store(redis_url, redis_prefix, request.param, *classes) as log:
        yield log


class TestRedisConversation(ConversationStoreSpec):
    """Every conversation spec, per API."""

    @pytest.fixture
    def conversation_store(self, redis_conversation_store: Any) -> Any:
        return redis_conversation_store


class TestRedisEventLog(EventLogSpec):
    """Every event-log spec, per API."""

    @pytest.fixture
    def event_log(self, redis_event_log: Any) -> Any:
        return redis_event_log
