"""The conversation and event-log conformance suites, run unchanged against Redis.

Modes (fixture params): the sync store (`redis.Redis`) and the async store
(`redis.asyncio.Redis`) on its own loop (`servers.LoopThread`): the specs' sync calls go
through its `batch` (the loop bridge), their async calls through `abatch`. Each test has its
own key prefix, deleted after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from engram.stores.redis import (
    AsyncRedisConversationStore,
    AsyncRedisEventLog,
    RedisConversationStore,
    RedisEventLog,
)
from engram.testing.conversation import ConversationStoreSpec
from engram.testing.events import EventLogSpec
from servers import LoopBoundConversationStore, LoopBoundEventLog, open_store

pytest_plugins = ["servers"]

MODES = ["sync", "async"]


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
