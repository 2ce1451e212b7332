"""Opening SQLite connections, translating sqlite3 errors, and running migrations.

Every SQLite store of Engram (conversations, checkpoints, event log, ...) shares one
`SqliteConnection`: one `sqlite3.Connection` guarded by a lock, opened in WAL mode with a busy
timeout, so several stores of one `Engram` write to one file.

Durability (the `durability` argument):
    - `"normal"` (the default): WAL with `synchronous=NORMAL`. A committed write survives the
      process being killed at any moment; a power loss or OS crash may lose the last
      transactions committed before it (never corrupting the file).
    - `"full"`: WAL with `synchronous=FULL`: every commit is fsynced before it returns, so it
      also survives a power loss. Costs one fsync per commit.

Checkpoints (copying the log back into the file) run in a background thread rather than
inside commits; see `engram.stores.sqlite._wal`.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Literal

from engram._exceptions import (
    BackendError,
    BackendUnavailable,
    ConflictError,
    EngramError,
    InvalidInputError,
    MigrationRequired,
)
from engram.stores.sqlite._wal import BACKSTOP_PAGES, WalCheckpointer

__all__ = ["Durability", "Migration", "SqliteConnection", "map_backend_errors"]

Durability = Literal["normal", "full"]
Migration = str | Callable[[sqlite3.Connection], None]
"""One schema version: SQL statements, or a function rewriting rows (what SQL alone cannot
do: re-compress checkpoint headers); both run in the migration's transaction."""
_SYNCHRONOUS = {"normal": "NORMAL", "full": "FULL"}


class _BackendErrors:
    """Re-raise sqlite3 errors as Engram errors (a class, not `@contextmanager`: it wraps
    every transaction, and costs a third as much)."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, traceback: object) -> None:
        if isinstance(exc, sqlite3.Error | UnicodeEncodeError | OverflowError):
            raise _translate(exc) from exc


def map_backend_errors() -> AbstractContextManager[None]:
    """Re-raise sqlite3 errors as Engram errors."""
    return _BACKEND_ERRORS


_BACKEND_ERRORS = _BackendErrors()


def _translate(exc: sqlite3.Error | UnicodeEncodeError | OverflowError) -> EngramError:
    if isinstance(exc, UnicodeEncodeError):
        # Text the sqlite3 driver cannot encode (lone surrogates) is bad input, not a fault.
        return InvalidInputError(f"text not encodable as UTF-8: {exc}")
    if isinstance(exc, OverflowError):  # an integer SQLite cannot hold (past 64 bits)
        return InvalidInputError(f"a number too large for SQLite: {exc}")
    if isinstance(exc, sqlite3.IntegrityError):
        return ConflictError(f"sqlite: {exc}")
    if isinstance(exc, sqlite3.ProgrammingError) and "closed database" in str(exc):
        # A batch still running as its Engram closed (`aclose` beside in-flight requests).
        return BackendUnavailable(f"sqlite: {exc}")
    if isinstance(exc, sqlite3.OperationalError):
        message = str(exc)
        if "unable to open" in message or "locked" in message or "disk" in message:
            return BackendUnavailable(f"sqlite: {message}")
    return BackendError(f"sqlite: {exc}")


class _Transaction:
    """`SqliteConnection.transaction()` / `snapshot()`: hold the lock, `begin`, then COMMIT,
    or ROLLBACK on an exception; sqlite3 errors become Engram errors."""

    __slots__ = ("begin", "owner")

    def __init__(self, owner: SqliteConnection, begin: str) -> None:
        self.owner, self.begin = owner, begin

    def __enter__(self) -> sqlite3.Connection:
        owner = self.owner
        owner.lock.acquire()
        try:
            with _BACKEND_ERRORS:
                owner.conn.execute(self.begin)
        except BaseException:
            owner.lock.release()
            raise
        return owner.conn

    def __exit__(self, kind: object, exc: BaseException | None, traceback: object) -> None:
        conn = self.owner.conn
        try:
            with _BACKEND_ERRORS:
                if exc is None:
                    _commit(conn)
                elif conn.in_transaction:  # some errors end the transaction themselves
                    conn.execute("ROLLBACK")
        finally:
            self.owner.lock.release()
        _BACKEND_ERRORS.__exit__(kind, exc, traceback)  # the body's sqlite3 errors, translated


def _commit(conn: sqlite3.Connection) -> None:
    """COMMIT; if that fails (the transaction still open), ROLLBACK, so nothing is half-written
    and the connection is left usable."""
    try:
        conn.execute("COMMIT")
    except sqlite3.Error:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


class SqliteConnection:
    """One SQLite database file (or `:memory:`), shared by Engram's SQLite stores.

    Args:
        path: The database file, or `":memory:"`.
        durability: `"normal"` (default) or `"full"`; see the module docstring.
        busy_timeout_ms: How long a writer waits for another process's lock.
    """

    def __init__(
        self,
        path: str | Path = "engram.db",
        *,
        durability: Durability = "normal",
        busy_timeout_ms: int = 10_000,
    ) -> None:
        self.path = os.path.expanduser(path)  # `~/engram.db` in a variable the shell left
        self.lock = threading.RLock()
        if self.path != ":memory:":
            _make_parent(self.path)
        self.conn = _connect(self.path, durability, busy_timeout_ms)
        self.checkpointer: WalCheckpointer | None = None
        if self.path != ":memory:":  # commits leave checkpoints to a thread (see _wal)
            self.checkpointer = WalCheckpointer(self.path)
        # Closed by `close()`, or when collected unclosed: the thread and the file go too.
        self._closer = weakref.finalize(self, _close, self.checkpointer, self.conn)

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """Hold the lock and run one write transaction (`BEGIN IMMEDIATE` ... `COMMIT`)."""
        return _Transaction(self, "BEGIN IMMEDIATE")

    def snapshot(self) -> AbstractContextManager[sqlite3.Connection]:
        """Hold the lock and run one read transaction (`BEGIN` ... `COMMIT`).

        Its reads see one consistent state of the file. Unlike `transaction()` it takes no
        write lock, so it never waits behind another process's writer (WAL readers don't block).
        """
        return _Transaction(self, "BEGIN")

    def migrate(self, component: str, migrations: Sequence[Migration]) -> None:
        """Apply the not-yet-applied `migrations` of `component`, in order, idempotently.

        Migrations are append-only: entry `i` is version `i + 1` of the component's schema.
        Raises `MigrationRequired` if the file holds a newer schema than this code knows. A
        schema already current is only read, so a read-only file opens. After a migration the
        write-ahead log is emptied (`wipe_log`): one that rewrote rows leaves no old page.
        """
        version = self._version(component)
        if version == len(migrations):
            return
        if version is not None and version > len(migrations):  # before a write lock is asked
            raise _newer_schema(self.path, component, version, len(migrations))
        with self.transaction() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS engram_migrations ("
                " component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
            )
            row = conn.execute(
                "SELECT version FROM engram_migrations WHERE component = ?", (component,)
            ).fetchone()
            current = int(row["version"]) if row else 0
            if current > len(migrations):
                raise _newer_schema(self.path, component, current, len(migrations))
            for migration in migrations[current:]:
                if callable(migration):
                    migration(conn)
                    continue
                for part in _split_statements(migration):
                    conn.execute(part)
            conn.execute(
                "INSERT INTO engram_migrations (component, version) VALUES (?, ?)"
                " ON CONFLICT (component) DO UPDATE SET version = excluded.version",
                (component, len(migrations)),
            )
        self.wipe_log()

    def _version(self, component: str) -> int | None:
        """The schema version of `component` in the file, read without a write lock (None if
        the file holds no migrations table yet)."""
        with self.snapshot() as conn:
            found = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'engram_migrations'"
            ).fetchone()
            if found is None:
                return None
            row = conn.execute(
                "SELECT version FROM engram_migrations WHERE component = ?", (component,)
            ).fetchone()
        return int(row["version"]) if row else 0

    def wipe_log(self) -> None:
        """Copy the write-ahead log into the file and empty it (`wal_checkpoint(TRUNCATE)`).

        Run after an erasure: `secure_delete` overwrites erased text in the database file,
        but the log still holds the pages that carried it until a checkpoint empties it.
        Best effort: if a reader of another connection holds an older snapshot, the log
        stays until the next checkpoint after it ends.
        """
        if self.path == ":memory:":
            return
        with self.lock, map_backend_errors():
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def close(self) -> None:
        with self.lock:
            self._closer()


def _close(checkpointer: WalCheckpointer | None, conn: sqlite3.Connection) -> None:
    if checkpointer is not None:
        checkpointer.close()
    conn.close()


def _connect(path: str, durability: Durability, busy_timeout_ms: int) -> sqlite3.Connection:
    """A connection to `path`, set up; `BackendUnavailable` naming the file if it cannot be
    opened (a directory, a file that is not a database, no permission)."""
    conn: sqlite3.Connection | None = None
    try:
        # Autocommit mode: transactions are explicit (`transaction()`), BEGIN IMMEDIATE.
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        _use_wal(conn, busy_timeout_ms)
        conn.execute(f"PRAGMA synchronous = {_SYNCHRONOUS[durability]}")
        conn.execute("PRAGMA foreign_keys = ON")
        # Deleted text is overwritten in the file, not just unlinked (erasure is real).
        conn.execute("PRAGMA secure_delete = ON")
        if path != ":memory:":  # the checkpoints are left to a thread (see _wal)
            conn.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_PAGES}")
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        why = f"{exc}{_unwritable_folder(path)}"
        raise BackendUnavailable(f"sqlite: cannot open {path!r}: {why}") from exc
    return conn


def _use_wal(conn: sqlite3.Connection, busy_timeout_ms: int) -> None:
    """Put the file in WAL mode, waiting up to the busy timeout for another connection.

    While another connection writes a file not yet in WAL mode (another process creating
    it: the workers of a web server starting together on a new database), switching to WAL
    answers "database is locked" at once, without the busy handler (SQLite's guard against
    a deadlock of two writers): retry, as the busy handler would have waited.
    """
    deadline = time.monotonic() + busy_timeout_ms / 1000
    pause = 0.001
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(2 * pause, 0.05)


def _unwritable_folder(path: str) -> str:
    """Why `path` could not be opened if its folder is not writable (SQLite says only "unable
    to open database file"), else nothing."""
    folder = Path(path).parent
    if path == ":memory:" or not folder.is_dir() or os.access(folder, os.W_OK):
        return ""
    return (
        f" (its folder {str(folder)!r} is not writable, and SQLite creates the database and"
        " its -wal and -shm files there)"
    )


def _newer_schema(path: str, component: str, version: int, known: int) -> MigrationRequired:
    return MigrationRequired(
        f"{path}: the {component} schema is at version {version}, newer than this Engram"
        f" knows ({known}); upgrade engramdb"
    )


def _make_parent(path: str) -> None:
    """Create the directory of the database file `path`, or say why it cannot be."""
    parent = Path(path).parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackendError(
            f"sqlite: cannot create the directory {str(parent)!r} of {path!r}: "
            f"{exc.strerror or exc}"
        ) from exc


def _split_statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";\n") if part.strip()]
