"""Migration 2 of the checkpoints schema: no thread keeps a header dictionary holding values.

Before `thread_dictionary`, a thread's dictionary was its first checkpoint header, whole
(inline values included), and a prune by that code left it: the pruned values stayed
readable there. `_as_written_before` builds that layout with the code's own header helpers:
threads written and pruned now, then given their first header (captured before the prune) as
dictionary, headers re-packed against it, the schema set back to version 1. `engram db
migrate`, or opening the database, must clean every dictionary; SQLite is checked on the
bytes of the file and its `-wal` log, PostgreSQL on every column of its tables.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from engram import MigrationRequired
from engram.cli import main
from engram.integrations.langgraph import EngramSaver
from engram.stores.sqlite import checkpoints_base as sqlite_schema
from engram.stores.sqlite.checkpoints import SqliteCheckpointer
from engram.types._checkpoint import RetentionPolicy
from secret_traces import (
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
PROCESSED = {"notes": "processed"}


def _values(checkpointer: Any, thread_id: str) -> Any:
    found = EngramSaver(checkpointer).get_tuple({"configurable": {"thread_id": thread_id}})
    return None if found is None else found.checkpoint["channel_values"]


# SQLite

THREADS = "SELECT key, thread_id, zdict FROM checkpoint_threads ORDER BY key"


def _sqlite_version(path: Path) -> int:
    with closing(sqlite3.connect(path)) as db:
        query = "SELECT version FROM engram_migrations WHERE component = 'checkpoints'"
        return int(db.execute(query).fetchone()[0])


def _sqlite_file_as_written_before(path: Path, threads: list[str], legacy: set[str]) -> None:
    """A file holding `threads` (in this order) pruned to their head, the `legacy` ones as an
    older Engram left them: their dictionary their first header, secret included."""
    with SqliteCheckpointer.from_path(path) as checkpointer:
        for thread_id in threads:
            run_secret_graph(EngramSaver(checkpointer), thread_id)
    with closing(sqlite3.connect(path)) as db:
        firsts = {t: h for t, h in sqlite_first_headers(db).items() if t in legacy}
    with SqliteCheckpointer.from_path(path) as checkpointer:
        checkpointer.prune(T, threads, policy=RetentionPolicy(keep_last=1))
    with closing(sqlite3.connect(path)) as db, db:
        set_sqlite_dictionaries(db, firsts)
        db.execute("UPDATE engram_migrations SET version = 1 WHERE component = 'checkpoints'")
    columns = [trace for trace in sqlite_traces(path) if trace.startswith("checkpoint")]
    assert columns == ["checkpoint_threads.zdict"] * len(legacy)


def test_sqlite_db_migrate_cleans_the_dictionaries_an_older_prune_left(tmp_path: Path) -> None:
    path = tmp_path / "agent.db"
    _sqlite_file_as_written_before(path, ["t1", "t2", "t3"], {"t1", "t2"})
    result = CliRunner().invoke(main, ["db", "migrate", "--db", str(path)])
    assert result.exit_code == 0, result.output
    assert f"checkpoints: schema version {len(sqlite_schema.MIGRATIONS)}" in result.output
    assert sqlite_traces(path) == []
    with SqliteCheckpointer.from_path(path) as checkpointer:
        for thread_id in ("t1", "t2", "t3"):
            assert _values(checkpointer, thread_id) == PROCESSED
            assert len(checkpointer.history(T, thread_id)) == 1
        run_secret_graph(EngramSaver(checkpointer), "t1")  # the thread goes on
        assert _values(checkpointer, "t1") == PROCESSED


def test_sqlite_opening_migrates_once_and_keeps_the_threads_order(tmp_path: Path) -> None:
    path = tmp_path / "agent.db"
    _sqlite_file_as_written_before(path, ["t1", "t2", "t3"], {"t1", "t3"})
    with SqliteCheckpointer.from_path(path) as checkpointer:
        order = [thread.thread_id for thread in checkpointer.list_threads(T)]
    assert order == ["t3", "t2", "t1"]  # newest first, as before
    assert sqlite_traces(path) == []
    with closing(sqlite3.connect(path)) as db:
        migrated = db.execute(THREADS).fetchall()
    with SqliteCheckpointer.from_path(path) as checkpointer:
        assert [thread.thread_id for thread in checkpointer.list_threads(T)] == order
        assert [_values(checkpointer, t) for t in order] == [PROCESSED] * 3
    with closing(sqlite3.connect(path)) as db:
        assert db.execute(THREADS).fetchall() == migrated  # nothing left to do: unchanged
    assert _sqlite_version(path) == len(sqlite_schema.MIGRATIONS) == 2


def test_sqlite_a_process_of_the_version_before_goes_on_and_then_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "agent.db"
    _sqlite_file_as_written_before(path, ["t1"], {"t1"})
    every_migration = sqlite_schema.MIGRATIONS
    monkeypatch.setattr(sqlite_schema, "MIGRATIONS", every_migration[:1])
    with SqliteCheckpointer.from_path(path) as before:  # its caches warm with the old dictionary
        run_secret_graph(EngramSaver(before), "t1")
        monkeypatch.setattr(sqlite_schema, "MIGRATIONS", every_migration)
        with SqliteCheckpointer.from_path(path) as after:
            assert _values(after, "t1") == _values(before, "t1") == PROCESSED  # read throughout
            run_secret_graph(EngramSaver(before), "t1")  # finds the thread moved, looks it up again
            assert len(after.history(T, "t1")) == len(before.history(T, "t1")) == 1 + 2 * 12
            assert _values(after, "t1") == PROCESSED
            after.prune(T, ["t1"], policy=RetentionPolicy(keep_last=1))
    assert sqlite_traces(path) == []
    monkeypatch.setattr(sqlite_schema, "MIGRATIONS", every_migration[:1])
    with pytest.raises(MigrationRequired, match="checkpoints"), SqliteCheckpointer.from_path(path):
        pass


# PostgreSQL


def _postgres_as_written_before(url: str, legacy: list[str]) -> None:
    """`_sqlite_file_as_written_before` for a PostgreSQL database (every thread `legacy`)."""
    import psycopg

    from engram.stores.postgres import PostgresCheckpointer

    with PostgresCheckpointer.from_conn_string(url) as checkpointer:
        for thread_id in legacy:
            run_secret_graph(EngramSaver(checkpointer), thread_id)
    with psycopg.connect(url) as conn:
        firsts = postgres_first_headers(conn)
    with PostgresCheckpointer.from_conn_string(url) as checkpointer:
        checkpointer.prune(T, legacy, policy=RetentionPolicy(keep_last=1))
    with psycopg.connect(url) as conn:
        set_postgres_dictionaries(conn, firsts)
        conn.execute("UPDATE engram_migrations SET version = 1 WHERE component = 'checkpoints'")
    assert postgres_traces(url) == ["engram_checkpoint_threads.zdict"] * len(legacy)


def test_postgres_migrate_cleans_the_dictionaries_an_older_prune_left(
    postgres_clean_database: str,
) -> None:
    from engram.stores.postgres import PostgresCheckpointer
    from engram.stores.postgres import checkpoints_base as schema

    url = postgres_clean_database
    _postgres_as_written_before(url, ["t1", "t2"])
    with PostgresCheckpointer.from_conn_string(url) as checkpointer:
        assert postgres_traces(url) == []
        assert checkpointer.migrate() == len(schema.MIGRATIONS) == 2  # nothing left to do
        for thread_id in ("t1", "t2"):
            assert _values(checkpointer, thread_id) == PROCESSED
            assert len(checkpointer.history(T, thread_id)) == 1
        run_secret_graph(EngramSaver(checkpointer), "t1")
        assert _values(checkpointer, "t1") == PROCESSED


def test_postgres_a_process_of_the_version_before_goes_on_and_then_is_refused(
    postgres_clean_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engram.stores.postgres import PostgresCheckpointer
    from engram.stores.postgres import checkpoints_base as schema

    url = postgres_clean_database
    _postgres_as_written_before(url, ["t1"])
    every_migration = schema.MIGRATIONS
    monkeypatch.setattr(schema, "MIGRATIONS", every_migration[:1])
    with PostgresCheckpointer.from_conn_string(url) as before:  # caches the old dictionary
        run_secret_graph(EngramSaver(before), "t1")
        monkeypatch.setattr(schema, "MIGRATIONS", every_migration)
        with PostgresCheckpointer.from_conn_string(url) as after:
            assert _values(after, "t1") == _values(before, "t1") == PROCESSED
            run_secret_graph(EngramSaver(before), "t1")  # turned away once, reads the thread again
            assert len(after.history(T, "t1")) == len(before.history(T, "t1")) == 1 + 2 * 12
            assert _values(after, "t1") == PROCESSED
            after.prune(T, ["t1"], policy=RetentionPolicy(keep_last=1))
    assert postgres_traces(url) == []
    monkeypatch.setattr(schema, "MIGRATIONS", every_migration[:1])
    with (
        pytest.raises(MigrationRequired, match="newer than this Engram knows"),
        PostgresCheckpointer.from_conn_string(url),
    ):
        pass
