"""Background WAL checkpoints for a SQLite file Engram writes to.

In WAL mode SQLite copies the log back into the database file ("checkpoints") from inside a
commit, once the log holds `wal_autocheckpoint` pages (1,000 by default): that commit writes
the pages back and waits for two fsyncs. On the checkpoint benchmark here this averaged ~40 µs
per put, a fifth of its time. Engram moves that work off the writer: a thread with its own
connection runs a PASSIVE checkpoint (which never blocks a writer or a reader) whenever the
log changed since it last looked, every `interval` seconds. The writer's own automatic
checkpoint stays as a backstop at `BACKSTOP_PAGES` (used only if the thread falls behind, or in
a child process forked after the connection opened, which has no thread).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading

__all__ = ["BACKSTOP_PAGES", "WalCheckpointer"]

BACKSTOP_PAGES = 10_000
"""The writer connection's `wal_autocheckpoint` (pages) while a `WalCheckpointer` runs."""

_log = logging.getLogger(__name__)


class WalCheckpointer:
    """Checkpoints the WAL of the database at `path` from a daemon thread until `close()`.

    Args:
        path: The database file (its log is `path + "-wal"`).
        interval: Seconds between looks at the log.
    """

    def __init__(self, path: str, *, interval: float = 0.2) -> None:
        self.path = path
        self.interval = interval
        self.checkpoints = 0
        """How many checkpoints the thread has run (for tests and diagnostics)."""
        self._wal = path + "-wal"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="engram-wal-checkpoint", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def close(self) -> None:
        """Stop the thread (after its current checkpoint, if one is running)."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:  # the writer still checkpoints by itself (the backstop)
            _log.warning("engram: no background WAL checkpoints for %s: %s", self.path, exc)
            return
        try:
            conn.execute("PRAGMA busy_timeout = 1000")
            seen: tuple[int, int] | None = None
            while not self._stop.wait(self.interval):
                seen = self._checkpoint_if_changed(conn, seen)
        finally:
            conn.close()

    def _checkpoint_if_changed(
        self, conn: sqlite3.Connection, seen: tuple[int, int] | None
    ) -> tuple[int, int] | None:
        try:
            stat = os.stat(self._wal)
        except OSError:  # no log (yet, or any more)
            return None
        state = (stat.st_mtime_ns, stat.st_size)
        if state == seen:
            return seen
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:  # busy or gone: try again at the next look
            _log.debug("engram: WAL checkpoint of %s skipped: %s", self.path, exc)
            return None
        self.checkpoints += 1
        return state
