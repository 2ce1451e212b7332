"""The conversation and event-log conformance suites, run unchanged against PostgreSQL.

Modes (fixture params): the sync store over one connection and over a pool, and the async
store over one async connection and over an async pool. Async stores run on their own loop
(`servers.LoopThread`): the specs' sync calls go through the store's `batch` (the loop
bridge), their async calls through `abatch`. Each test gets an empty database of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from engram.stores.postgres import (
    AsyncPostgresConversationStore,
    AsyncPostgresEventLog,
    PostgresConversationStore,
    PostgresEventLog,
)
from engram.testing.conversation import ConversationStoreSpec
from engram.testing.events import EventLogSpec
from servers import LoopBoundConversationStore, LoopBoundEventLog, LoopThread

pytest_plugins = ["servers"]

MODES = ["conn", "pool", "async-conn", "async-pool"]


@contextmanager
def sync_connection(url: str, mode: str) -> Iterator[Any]:
    """A psycopg connection (`conn`) or pool (`pool`) to `url`, closed after."""
    if mode == "conn":
        with psycopg.connect(url, autocommit=True) as conn:
            yield conn
    else:
        pool = ConnectionPool(url, min_size=4, max_size=4, kwargs={"autocommit": True}, open=False)
        with pool:
            # filled first: a connection opened later calls random(), refused mid-draw by hypothesis
            pool.wait()
            yield pool


@asynccontextmanager
async def async_connection(url: str, mode: str) -> AsyncIterator[Any]:
    """An async connection (`async-conn`) or async pool (`async-pool`), closed after."""
    if mode == "async-conn":
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            yield conn
    else:
        kwargs = {"autocommit": True}
        pool = AsyncConnectionPool(url, min_size=4, max_size=4, kwargs=kwargs, open=False)
        async with pool:
            # filled first: a connection opened later calls random(), refused mid-draw by hypothesis
            await pool.wait()
            yield pool


@contextmanager
def open_store(url: str, mode: str, sync_class: Any, async_class: Any, bound: Any) -> Iterator[Any]:
    """A migrated store of `mode` on `url`.

    Sync modes give the sync class; async modes the async class, created on (so belonging
    to) the loop of a `LoopThread`, wrapped in `bound` so specs can call it from anywhere.
    """
    if not mode.startswith("async"):
        with sync_connection(url, mode) as conn:
            yield sync_class(conn)
        return
    loop = LoopThread()
    connection = async_connection(url, mode)

    async def build() -> Any:
        store = async_class(await connection.__aenter__())
        await store.amigrate()
        return store

    try:
        yield bound(loop.run(build()), loop)
    finally:
        loop.run(connection.__aexit__(None, None, None))
        loop.close()


@pytest.fixture(params=MODES)
def postgres_conversation_store(
    request: pytest.FixtureRequest, postgres_clean_database: str
) -> Iterator[Any]:
    """A fresh PostgreSQL conversation store per mode."""
    classes = (PostgresConversationStore, AsyncPostgresConversationStore)
    with open_store(
        postgres_clean_database, request.param, *classes, LoopBoundConversationStore
    ) as store:
        yield store


@pytest.fixture(params=MODES)
def postgres_event_log(
    request: pytest.FixtureRequest, postgres_clean_database: str
) -> Iterator[Any]:
    """A fresh PostgreSQL event log per mode."""
    classes = (PostgresEventLog, AsyncPostgresEventLog)
    with open_store(postgres_clean_database, request.param, *classes, LoopBoundEventLog) as log:
        yield log


class TestPostgresConversation(ConversationStoreSpec):
    """Every conversation spec, per connection mode."""

    @pytest.fixture
    def conversation_store(self, postgres_conversation_store: Any) -> Any:
        return postgres_conversation_store


class TestPostgresEventLog(EventLogSpec):
    """Every event-log spec, per connection mode."""

    @pytest.fixture
    def event_log(self, postgres_event_log: Any) -> Any:
        return postgres_event_log
