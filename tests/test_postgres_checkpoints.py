"""The checkpointer conformance suite, run unchanged against PostgreSQL, and what it cannot see.

Modes (fixture params): `PostgresCheckpointer` over one connection and over a pool (sync
API), `AsyncPostgresCheckpointer` over one async connection and over an async pool, driven
through `abatch` (`AsyncDrivenCheckpointer`). Async checkpointers run on their own loop
(`servers.LoopThread`). Short list delta chains (`snapshot_every=3`), as for the other
backends. Each test gets an empty database of its own.

Below the suite: what two processes sharing a database see (one prunes or deletes while the
other writes from its caches), storage that grows with what changed, and migrations.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from engram._exceptions import ConfigError, MigrationRequired
from engram.stores.checkpoints import BaseCheckpointer, CheckpointOp, DeleteRuns, PutCheckpoint
from engram.stores.postgres import AsyncPostgresCheckpointer, PostgresCheckpointer
from engram.stores.postgres.checkpoints_base import MIGRATIONS, bytea_array, int_array, text_array
from engram.testing.checkpoints import AsyncDrivenCheckpointer, CheckpointerSpec
from engram.types._checkpoint import ChannelWrite, EncodedList, RetentionPolicy
from servers import LoopThread
from test_postgres_conformance import async_connection

pytest_plugins = ["servers"]

MODES = ["conn", "pool", "async-conn", "async-pool"]
T = "tenant-a"


class LoopBoundCheckpointer(BaseCheckpointer):
    """An async checkpointer used from any thread and any loop: its own loop runs every batch."""

    def __init__(self, inner: BaseCheckpointer, loop: LoopThread) -> None:
        self.inner, self._loop = inner, loop
        self.serde = inner.serde

    def batch(self, ops: Sequence[CheckpointOp]) -> list[Any]:
        return self.inner.batch(ops)

    async def abatch(self, ops: Sequence[CheckpointOp]) -> list[Any]:
        future = asyncio.run_coroutine_threadsafe(self.inner.abatch(ops), self._loop.loop)
        return await asyncio.wrap_future(future)


def open_checkpointer(stack: ExitStack, url: str, mode: str, **kwargs: Any) -> BaseCheckpointer:
    """A migrated checkpointer of `mode` on `url`, closed with `stack`."""
    if mode == "conn":
        conn = stack.enter_context(psycopg.connect(url, autocommit=True))
        return PostgresCheckpointer(conn, **kwargs)
    if mode == "pool":
        pool = ConnectionPool(url, min_size=4, max_size=4, kwargs={"autocommit": True}, open=False)
        # filled first: a connection opened later calls random(), refused mid-draw by hypothesis
        stack.enter_context(pool).wait()
        return PostgresCheckpointer(pool, **kwargs)
    loop = LoopThread()
    stack.callback(loop.close)
    connection = async_connection(url, mode)

    async def build() -> AsyncPostgresCheckpointer:
        checkpointer = AsyncPostgresCheckpointer(await connection.__aenter__(), **kwargs)
        await checkpointer.amigrate()
        return checkpointer

    checkpointer = loop.run(build())
    stack.callback(lambda: loop.run(connection.__aexit__(None, None, None)))
    return AsyncDrivenCheckpointer(LoopBoundCheckpointer(checkpointer, loop))


@pytest.fixture(params=MODES)
def checkpointer(
    request: pytest.FixtureRequest, postgres_clean_database: str
) -> Iterator[BaseCheckpointer]:
    with ExitStack() as stack:
        yield open_checkpointer(stack, postgres_clean_database, request.param, snapshot_every=3)


class TestPostgresCheckpointer(CheckpointerSpec):
    """Every spec of `engram.testing.checkpoints`, per connection mode and API."""


def test_async_checkpointer_sync_api_works_off_its_loop(postgres_clean_database: str) -> None:
    with ExitStack() as stack:
        driven = open_checkpointer(stack, postgres_clean_database, "async-conn")
        bound = driven.inner
        assert isinstance(bound, LoopBoundCheckpointer)
        checkpointer = bound.inner  # the AsyncPostgresCheckpointer itself
        info = checkpointer.put(T, "t", {"a": 1})  # from this thread: handed to its loop
        assert checkpointer.get(T, "t").id == info.id

        async def on_its_loop() -> None:
            checkpointer.put(T, "t", {"a": 2})

        with pytest.raises(ConfigError):
            bound._loop.run(on_its_loop())


# Two processes on one database: caches never outlive what they describe.


@pytest.fixture
def two(postgres_clean_database: str) -> Iterator[tuple[BaseCheckpointer, BaseCheckpointer]]:
    """Two checkpointers on one database, as two processes would have (own caches)."""
    with ExitStack() as stack:
        first = open_checkpointer(stack, postgres_clean_database, "conn", snapshot_every=3)
        second = open_checkpointer(stack, postgres_clean_database, "pool", snapshot_every=3)
        yield first, second


def _state(step: int) -> dict[str, Any]:
    return {"messages": [f"m{i}" for i in range(step + 1)], "step": step, "big": "x" * 300}


def test_writer_caches_survive_a_prune_by_another_process(two: Any) -> None:
    writer, pruner = two
    ids = [writer.put(T, "t", _state(step)).id for step in range(7)]
    pruner.prune(T, ["t"], policy=RetentionPolicy(keep_last=1))
    later = [writer.put(T, "t", _state(step)).id for step in range(7, 12)]
    for step, checkpoint_id in enumerate([ids[-1], *later], start=6):
        for reader in two:
            assert reader.get(T, "t", checkpoint_id).values == _state(step)


def test_puts_of_several_processes_onto_one_head_make_one_chain(
    postgres_clean_database: str,
) -> None:
    """Each put onto the head reads the head the one before wrote: 4 writers (connections
    of their own, as processes) putting at once leave one line of 40, no branch."""
    start = threading.Barrier(4)

    def write(writer: int) -> None:
        with PostgresCheckpointer.from_conn_string(postgres_clean_database) as checkpointer:
            start.wait()
            for step in range(10):
                checkpointer.put(T, "t", {"writer": writer, "step": step})

    writers = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    with PostgresCheckpointer.from_conn_string(postgres_clean_database) as checkpointer:
        history = checkpointer.history(T, "t")  # newest first
    assert [info.seq for info in history] == list(range(40, 0, -1))
    assert [info.parent_id for info in history] == [info.id for info in history[1:]] + [None]


def test_writer_caches_survive_run_deletion_by_another_process(two: Any) -> None:
    writer, deleter = two
    for step in range(4):
        writer.put(T, "t", _state(step), metadata={"run_id": "r1" if step < 3 else "r2"})
    assert deleter.batch([DeleteRuns(T, ("r1",))]) == [3]
    writer.put(T, "t", _state(4))
    assert [info.seq for info in writer.history(T, "t")] == [5, 4]
    assert deleter.get(T, "t").values == _state(4)


def test_writer_caches_survive_thread_deletion_by_another_process(two: Any) -> None:
    writer, deleter = two
    for step in range(3):
        writer.put(T, "t", _state(step))
    assert deleter.delete_thread(T, "t") is True
    info = writer.put(T, "t", _state(0))
    assert (info.seq, info.parent_id) == (1, None)
    assert deleter.get(T, "t").values == _state(0)
    assert deleter.get_thread(T, "t").checkpoint_count == 1


# Storage grows with what changed.


def _rows(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        tables = ("engram_checkpoints", "engram_checkpoint_values", "engram_checkpoint_blobs")
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


def test_storage_grows_with_what_changed(postgres_clean_database: str) -> None:
    with ExitStack() as stack:
        checkpointer = open_checkpointer(stack, postgres_clean_database, "conn")
        for step in range(20):
            checkpointer.put(T, "t", _state(step))
        rows = _rows(postgres_clean_database)
        # `big` once; one value row per list version; each message once; `step` inline.
        assert rows == {
            "engram_checkpoints": 20,
            "engram_checkpoint_values": 21,
            "engram_checkpoint_blobs": 20,
        }
        assert checkpointer.get(T, "t").values == _state(19)


def test_langgraph_style_writes_reuse_unchanged_versions(postgres_clean_database: str) -> None:
    with ExitStack() as stack:
        checkpointer = open_checkpointer(stack, postgres_clean_database, "pool")
        big = ChannelWrite("context", 1, ("json", b'"' + b"c" * 500 + b'"'))
        first, second = (
            "1ef00000-0000-6000-8000-000000000001",
            "1ef00000-0000-6000-8000-000000000002",
        )
        items = (("json", b'"a"'), ("json", b'"b"'))
        messages = ChannelWrite("messages", 1, EncodedList(items))
        grown = ChannelWrite("messages", 2, EncodedList((*items, ("json", b'"c"'))))
        put = PutCheckpoint(T, "t", "", first, None, {"context": 1, "messages": 1}, (big, messages))
        checkpointer.batch([put])
        versions = {"context": 1, "messages": 2}
        checkpointer.batch([PutCheckpoint(T, "t", "", second, first, versions, (grown,))])
        assert _rows(postgres_clean_database) == {
            "engram_checkpoints": 2,
            "engram_checkpoint_values": 3,
            "engram_checkpoint_blobs": 3,
        }
        assert checkpointer.get(T, "t").values == {
            "context": "c" * 500,
            "messages": ["a", "b", "c"],
        }


def test_value_references_round_trip_any_text(postgres_clean_database: str) -> None:
    names = ["a", 'q"uote', "back\\slash", "", "x,y}{", "NULL", " sp ", "é", "{}", '\\"']
    with psycopg.connect(postgres_clean_database) as conn:
        assert conn.execute("SELECT %s::text[]", (text_array(names),)).fetchone()[0] == names
    with ExitStack() as stack:
        checkpointer = open_checkpointer(stack, postgres_clean_database, "conn")
        values = {name: "v" * 200 for name in names}  # not inline: value rows, referenced
        checkpointer.put(T, "t", values)
        assert checkpointer.get(T, "t").values == values


def test_array_literals_round_trip(postgres_clean_database: str) -> None:
    """The array parameters a put sends as literals read back as the values."""
    texts: list[list[str | None]] = [[], ["a"], [None], ["x", None, "NULL", 'q"', "b\\s"]]
    datas = [[], [b""], [b"\x00\xff\\"], [bytes(range(256)), b'"{,}']]
    ints = [[], [0], [-1, 2, 32767, 2**31 - 1]]
    with psycopg.connect(postgres_clean_database) as conn:
        for text_items in texts:
            read = conn.execute("SELECT %s::text[]", (text_array(text_items),)).fetchone()[0]
            assert read == text_items
        for data_items in datas:
            read = conn.execute("SELECT %s::bytea[]", (bytea_array(data_items),)).fetchone()[0]
            assert [bytes(item) for item in read] == data_items
        for int_items in ints:
            read = conn.execute("SELECT %s::int[]", (int_array(int_items),)).fetchone()[0]
            assert read == int_items


# Migrations.


def test_migrate_is_idempotent_and_refuses_a_newer_schema(postgres_database: str) -> None:
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        checkpointer = PostgresCheckpointer(conn)
        assert checkpointer.migrate() == len(MIGRATIONS)
        conn.execute("UPDATE engram_migrations SET version = 99 WHERE component = 'checkpoints'")
        with pytest.raises(MigrationRequired):
            checkpointer.migrate()
