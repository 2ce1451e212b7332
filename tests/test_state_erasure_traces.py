"""Erased agent state leaves no trace: not in a thread's header dictionary, not in SQLite's log.

A checkpoint header is compressed against its thread's dictionary, which outlives the
checkpoints it was made from (retention keeps the thread's, forks and copies make one from
it): it must hold no value. Threads written before held their first header whole as their
dictionary; `_make_legacy` turns threads into that layout, as the old code wrote them, to
check that a prune, a run deletion, a fork or a copy leaves none of it either. SQLite is
checked on the bytes of the database file and of its `-wal` log (every erasure wipes the
log, as the conversation and memory stores do); PostgreSQL on every column of its tables.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest

from engram.integrations.langgraph import EngramSaver
from engram.state import headers
from engram.stores.sqlite.checkpoints import SqliteCheckpointer
from engram.stores.sqlite.events import SqliteEventLog
from engram.types import Event
from engram.types._checkpoint import RetentionPolicy
from engram.types._event import Snapshot
from secret_traces import (
    MARK,
    SECRET,
    postgres_first_headers,
    postgres_traces,
    run_secret_graph,
    set_postgres_dictionaries,
    set_sqlite_dictionaries,
    sqlite_first_headers,
    sqlite_traces,
)

pytest_plugins = ["servers"]

T = "default"


def _values(saver: EngramSaver, thread_id: str) -> Any:
    found = saver.get_tuple({"configurable": {"thread_id": thread_id}})
    return None if found is None else found.checkpoint["channel_values"]


# SQLite


def _make_legacy_sqlite(path: Path) -> None:
    """Give every thread of the (closed) file the old layout: its first header as dictionary."""
    with closing(sqlite3.connect(path)) as db, db:
        set_sqlite_dictionaries(db, sqlite_first_headers(db))


@pytest.fixture(params=["new", "legacy"])
def sqlite_thread(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A file holding thread `t1` (the secret its first input), as written now or before."""
    path = tmp_path / "agent.db"
    with SqliteCheckpointer.from_path(path) as checkpointer:
        run_secret_graph(EngramSaver(checkpointer), "t1")
    if request.param == "legacy":
        _make_legacy_sqlite(path)
    return path


def test_sqlite_prune_leaves_no_trace_of_the_pruned_values(sqlite_thread: Path) -> None:
    with SqliteCheckpointer.from_path(sqlite_thread) as checkpointer:
        assert sqlite_traces(sqlite_thread)  # the first checkpoints hold it
        checkpointer.prune(T, ["t1"], policy=RetentionPolicy(keep_last=1))
        assert sqlite_traces(sqlite_thread) == []
        assert _values(EngramSaver(checkpointer), "t1") == {"notes": "processed"}
        keys = _thread_keys(sqlite_thread)
        checkpointer.prune(T, ["t1"], policy=RetentionPolicy(keep_last=1))
        assert _thread_keys(sqlite_thread) == keys  # a clean dictionary stays


def _thread_keys(path: Path) -> list[int]:
    with closing(sqlite3.connect(path)) as db:
        return [row[0] for row in db.execute("SELECT key FROM checkpoint_threads")]


def test_sqlite_fork_and_copy_carry_no_value_of_the_source(sqlite_thread: Path) -> None:
    with SqliteCheckpointer.from_path(sqlite_thread) as checkpointer:
        saver = EngramSaver(checkpointer)
        checkpointer.fork(T, "t1", "t2")  # at the head, which holds no secret
        saver.copy_thread("t1", "t3")
        checkpointer.prune(T, ["t3"], policy=RetentionPolicy(keep_last=1))
        checkpointer.delete_thread(T, "t1")
        assert sqlite_traces(sqlite_thread) == []
        assert _values(saver, "t2") == _values(saver, "t3") == {"notes": "processed"}
        run_secret_graph(saver, "t2")  # the fork and the copy go on
        assert _values(saver, "t2") == {"notes": "processed"}


@pytest.mark.parametrize("layout", ["new", "legacy"])
def test_sqlite_run_deletion_leaves_no_trace(tmp_path: Path, layout: str) -> None:
    path, run_id = tmp_path / "agent.db", str(uuid.uuid4())
    with SqliteCheckpointer.from_path(path) as checkpointer:
        checkpointer.put(T, "t1", {"notes": SECRET}, metadata={"run_id": run_id})  # inline
        checkpointer.put(T, "t1", {"notes": "later"})
    if layout == "legacy":
        _make_legacy_sqlite(path)
    with SqliteCheckpointer.from_path(path) as checkpointer:
        EngramSaver(checkpointer).delete_for_runs([run_id])
        assert sqlite_traces(path) == []
        assert [info.seq for info in checkpointer.history(T, "t1")] == [2]


def test_sqlite_a_writer_caching_an_old_dictionary_goes_on_after_a_prune_cleans_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "agent.db"
    with SqliteCheckpointer.from_path(path) as checkpointer:
        run_secret_graph(EngramSaver(checkpointer), "t1")
    _make_legacy_sqlite(path)
    with (
        SqliteCheckpointer.from_path(path) as pruner,
        SqliteCheckpointer.from_path(path) as writer,  # another process, its caches warm
    ):
        run_secret_graph(EngramSaver(writer), "t1")
        pruner.prune(T, ["t1"], policy=RetentionPolicy(keep_last=2))
        run_secret_graph(EngramSaver(writer), "t1")
        history = pruner.history(T, "t1")
        assert len(history) > 2
        for reader in (pruner, writer):
            assert _values(EngramSaver(reader), "t1") == {"notes": "processed"}
        pruner.prune(T, ["t1"], policy=RetentionPolicy(keep_last=1))
        assert sqlite_traces(path) == []


@contextmanager
def _sqlite_log_checked(path: Path) -> Iterator[None]:
    """Assert that `MARK` is in the log before the block, and nowhere after it."""
    assert MARK in path.with_name(path.name + "-wal").read_bytes()
    yield
    assert sqlite_traces(path) == []


def _put_secret_then_more(checkpointer: SqliteCheckpointer, run_id: str) -> None:
    """A checkpoint whose value (a value row: beyond `INLINE_MAX`) holds the secret, then
    another: the last commit rewrites the page holding the secret, so the log has it."""
    checkpointer.put(T, "t1", {"notes": f"{SECRET} {'x' * 300}"}, metadata={"run_id": run_id})
    checkpointer.put(T, "t1", {"notes": "later"})


@pytest.mark.parametrize("erasure", ["delete_thread", "prune", "delete_runs", "adelete_thread"])
def test_sqlite_checkpoint_erasures_wipe_the_log(tmp_path: Path, erasure: str) -> None:
    path, run_id = tmp_path / "agent.db", str(uuid.uuid4())
    with SqliteCheckpointer.from_path(path) as checkpointer:
        _put_secret_then_more(checkpointer, run_id)
        with _sqlite_log_checked(path):
            if erasure == "delete_thread":
                checkpointer.delete_thread(T, "t1")
            elif erasure == "adelete_thread":
                assert asyncio.run(checkpointer.adelete_thread(T, "t1"))
            elif erasure == "prune":
                checkpointer.prune(T, ["t1"], policy=RetentionPolicy(keep_last=1))
            else:
                EngramSaver(checkpointer).delete_for_runs([run_id])


@pytest.mark.parametrize("api", ["sync", "async"])
def test_sqlite_stream_deletion_wipes_the_log(tmp_path: Path, api: str) -> None:
    path = tmp_path / "agent.db"
    with SqliteEventLog.from_path(path) as log:
        event = Event(type="thought", payload={"text": SECRET}, metadata={"m": SECRET})
        log.append(T, "s1", [event], expected_version=0, idempotency_key=SECRET)
        log.put_snapshot(T, Snapshot("s1", 1, {"summary": SECRET}))
        with _sqlite_log_checked(path):
            if api == "sync":
                assert log.delete_stream(T, "s1")
            else:
                assert asyncio.run(log.adelete_stream(T, "s1"))


# PostgreSQL


def _make_legacy_postgres(url: str) -> None:
    """`_make_legacy_sqlite` for a PostgreSQL database (no checkpointer open on it)."""
    import psycopg

    with psycopg.connect(url) as conn:
        set_postgres_dictionaries(conn, postgres_first_headers(conn))


@pytest.fixture(params=["new", "legacy"])
def postgres_thread(request: pytest.FixtureRequest, postgres_clean_database: str) -> str:
    """A database holding thread `t1` (the secret its first input), as written now or before."""
    from engram.stores.postgres import PostgresCheckpointer

    with PostgresCheckpointer.from_conn_string(postgres_clean_database) as checkpointer:
        run_secret_graph(EngramSaver(checkpointer), "t1")
    if request.param == "legacy":
        _make_legacy_postgres(postgres_clean_database)
    return postgres_clean_database


def test_postgres_prune_leaves_no_trace_of_the_pruned_values(postgres_thread: str) -> None:
    from engram.stores.postgres import PostgresCheckpointer

    with PostgresCheckpointer.from_conn_string(postgres_thread) as checkpointer:
        assert postgres_traces(postgres_thread)
        checkpointer.prune(T, ["t1"], policy=RetentionPolicy(keep_last=1))
        assert postgres_traces(postgres_thread) == []
        assert _values(EngramSaver(checkpointer), "t1") == {"notes": "processed"}


def test_postgres_fork_and_copy_carry_no_value_of_the_source(postgres_thread: str) -> None:
    from engram.stores.postgres import PostgresCheckpointer

    with PostgresCheckpointer.from_conn_string(postgres_thread) as checkpointer:
        saver = EngramSaver(checkpointer)
        checkpointer.fork(T, "t1", "t2")
        saver.copy_thread("t1", "t3")
        checkpointer.prune(T, ["t3"], policy=RetentionPolicy(keep_last=1))
        checkpointer.delete_thread(T, "t1")
        assert postgres_traces(postgres_thread) == []
        assert _values(saver, "t2") == _values(saver, "t3") == {"notes": "processed"}
        run_secret_graph(saver, "t2")
        assert _values(saver, "t2") == {"notes": "processed"}


def test_postgres_a_writer_caching_an_old_dictionary_goes_on_after_a_prune_cleans_it(
    postgres_clean_database: str,
) -> None:
    from engram.stores.postgres import PostgresCheckpointer

    url = postgres_clean_database
    with PostgresCheckpointer.from_conn_string(url) as checkpointer:
        run_secret_graph(EngramSaver(checkpointer), "t1")
    _make_legacy_postgres(url)
    with (
        PostgresCheckpointer.from_conn_string(url) as pruner,
        PostgresCheckpointer.from_conn_string(url) as writer,
    ):
        run_secret_graph(EngramSaver(writer), "t1")
        pruner.prune(T, ["t1"], policy=RetentionPolicy(keep_last=2))
        run_secret_graph(EngramSaver(writer), "t1")
        assert len(pruner.history(T, "t1")) > 2
        for reader in (pruner, writer):
            assert _values(EngramSaver(reader), "t1") == {"notes": "processed"}
        pruner.prune(T, ["t1"], policy=RetentionPolicy(keep_last=1))
        assert postgres_traces(url) == []


# The dictionary itself


def test_a_thread_dictionary_holds_the_structure_of_its_first_header_and_no_value() -> None:
    import ormsgpack

    extra = {
        "v": 4,
        "ts": "2026-11-24T19:22:41.580783+00:00",
        "versions_seen": {"__input__": {}, "n": {"branch:to:n": "0002.5"}},
        "updated_channels": ["notes"],
        "pending_sends": [SECRET],
    }
    plain = headers.plain_header(
        {"notes": "0002.5", "branch:to:n": "0002.5", "n": 3},
        ("msgpack", ormsgpack.packb(extra)),
        {"notes": ("msgpack", ormsgpack.packb({"text": SECRET, "ts": SECRET, "n": 41}))},
    )
    dictionary = headers.thread_dictionary(plain)
    assert MARK not in dictionary
    shape = headers.unpack_header(b"\x00" + dictionary, None)  # a header stored as is
    assert shape.versions == {"notes": "0002.5", "branch:to:n": "0002.5", "n": 3}
    assert shape.extra is not None
    assert ormsgpack.unpackb(shape.extra[1]) == {
        "v": None,
        "ts": "2026-11-24T19:22:41.580783+00:00",  # the thread's creation time, no value
        "versions_seen": {"__input__": {}, "n": {"branch:to:n": "0002.5"}},
        "updated_channels": ["notes"],
        "pending_sends": [None],
    }
    assert shape.inline == {"notes": ("msgpack", b"")}  # even a value's keys may be data
    assert headers.thread_dictionary(dictionary) == dictionary
    assert headers.cleaned_dictionary(dictionary)[0] == dictionary
    assert headers.cleaned_dictionary(plain)[0] == dictionary
    as_json = headers.plain_header({"a": "1"}, ("json", b'{"k":"a"}'), {"a": ("json", b"[7]")})
    assert headers.unpack_header(b"\x00" + headers.thread_dictionary(as_json), None) == (
        {"a": "1"},
        ("json", b'{"k":"a"}'),  # "a" names a channel
        {"a": ("json", b"")},
    )
    stored = headers.pack_header(plain, headers.header_packer(plain))
    repacked = headers.cleaned_dictionary(plain)[1](stored)
    assert headers.unpack_header(repacked, dictionary) == headers.unpack_header(stored, plain)
