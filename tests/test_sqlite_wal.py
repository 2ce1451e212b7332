"""Background WAL checkpoints: commits no longer copy the log back into the file themselves."""

from __future__ import annotations

import gc
import sqlite3
import threading
import time
from pathlib import Path

from engram import Engram
from engram.stores.sqlite import SqliteConnection
from engram.stores.sqlite._wal import BACKSTOP_PAGES


def _wait_until(condition: object, seconds: float = 10.0) -> bool:
    """Poll `condition()` until it holds (the thread runs on its own schedule)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def _write(conn: SqliteConnection, rows: int) -> None:
    with conn.transaction() as db:
        db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body BLOB)")
        db.executemany("INSERT INTO t (body) VALUES (?)", [(b"x" * 3000,) for _ in range(rows)])


def test_the_log_is_copied_back_by_the_thread_not_by_commits(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    conn = SqliteConnection(path)
    try:
        assert conn.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == BACKSTOP_PAGES
        assert conn.checkpointer is not None and conn.checkpointer.running
        _write(conn, 500)  # ~1.5 MB, far below the writer's backstop: commits don't checkpoint
        assert _wait_until(lambda: conn.checkpointer is not None and conn.checkpointer.checkpoints)
        # The rows reached the database file itself: a reader without the log sees them.
        assert _wait_until(lambda: path.stat().st_size > 500 * 3000)
        alone = tmp_path / "alone.db"  # the main file without its log
        alone.write_bytes(path.read_bytes())
        copy = sqlite3.connect(alone)
        try:
            assert copy.execute("SELECT count(*) FROM t").fetchone()[0] == 500
        finally:
            copy.close()
    finally:
        conn.close()
    assert conn.checkpointer is not None and not conn.checkpointer.running


def test_an_in_memory_database_has_no_thread() -> None:
    conn = SqliteConnection(":memory:")
    try:
        assert conn.checkpointer is None
        _write(conn, 3)
    finally:
        conn.close()


def test_writes_after_the_thread_stops_still_commit(tmp_path: Path) -> None:
    conn = SqliteConnection(tmp_path / "e.db")
    try:
        assert conn.checkpointer is not None
        conn.checkpointer.close()
        _write(conn, 10)  # the writer's own (backstop) checkpoints remain
        with conn.snapshot() as db:
            assert db.execute("SELECT count(*) FROM t").fetchone()[0] == 10
    finally:
        conn.close()


def test_a_database_never_closed_stops_its_thread_when_collected(tmp_path: Path) -> None:
    def checkpointers() -> int:
        return sum(t.name == "engram-wal-checkpoint" for t in threading.enumerate())

    gc.collect()  # other tests' forgotten databases first
    before = checkpointers()
    mem = Engram(tmp_path / "forgotten.db")
    mem.memories.add("I like tea.", user_id="ana", infer=False)
    assert checkpointers() == before + 1
    del mem
    gc.collect()
    assert checkpointers() == before
