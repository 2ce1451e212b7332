"""Scope locks across the processes of one SQLite file: `FileScopeHold`.

Each key is one byte of a lock file beside the database (`<file>-engram-locks`, next to its
`-wal` and `-shm`), at the offset `lock_number(key)`, locked with a POSIX record lock
(`fcntl.lockf`): the kernel makes processes take turns and drops a dead process's locks, and
the file stays empty. SQLite's own locks are on the database file, so the two never meet.

POSIX record locks belong to a process, not to a thread or a descriptor: a process taking a
byte it already holds gets it at once, and closing any descriptor of the file drops all of
them. So each file is opened once per process and never closed, and within a process a
threading lock per key makes holders take turns first (the flows of two `Engram` objects on
one file included). Where `fcntl` does not exist (Windows) only those in-process locks remain.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from engram._exceptions import BackendError
from engram.stores.scope_locks import ScopeHold, lock_number

try:
    import fcntl
except ImportError:  # Windows: no record locks between processes
    fcntl = None  # type: ignore[assignment]

__all__ = ["FileScopeHold", "lock_file_path"]

_SUFFIX = "-engram-locks"


def lock_file_path(database: str) -> str:
    """The lock file of the database file at `database`."""
    return database + _SUFFIX


class FileScopeHold(ScopeHold):
    """The scope locks one flow holds on the SQLite file at `database` (not `:memory:`)."""

    def __init__(self, database: str) -> None:
        super().__init__()
        self._database = os.path.realpath(database)
        self._file: _LockFile | None = None

    def take(self, keys: Sequence[str]) -> None:
        wanted = sorted(set(keys) - set(self.held))
        if not wanted:
            return
        if self._file is None:
            self._file = _use(self._database)
        for key in wanted:
            self._file.lock(lock_number(key))
            self.held.append(key)

    def _free(self) -> None:
        if self._file is None:
            return
        while self.held:
            self._file.unlock(lock_number(self.held.pop()))
        _unuse(self._database)
        self._file = None


@dataclass
class _LockFile:
    """One open lock file and its in-process key locks."""

    path: str
    fd: int | None
    users: int = 0
    """The holds using it: it is closed when none is (closing a descriptor of the file while
    the process holds a lock on it would drop the lock)."""
    guard: threading.Lock = field(default_factory=threading.Lock)
    keys: dict[int, tuple[threading.Lock, int]] = field(default_factory=dict)
    """number -> (its lock, how many holders hold or wait for it)"""

    def lock(self, number: int) -> None:
        with self.guard:
            key_lock, users = self.keys.get(number, (threading.Lock(), 0))
            self.keys[number] = (key_lock, users + 1)
        key_lock.acquire()
        if self.fd is None:
            return
        try:
            fcntl.lockf(self.fd, fcntl.LOCK_EX, 1, number)
        except OSError as exc:  # EDEADLK: waiting would never end; ENOLCK
            self._forget(number, key_lock)
            raise BackendError(f"cannot lock a memory scope in {self.path}: {exc}") from exc

    def unlock(self, number: int) -> None:
        with self.guard:
            key_lock, _ = self.keys[number]
        if self.fd is not None:
            fcntl.lockf(self.fd, fcntl.LOCK_UN, 1, number)
        self._forget(number, key_lock)

    def _forget(self, number: int, key_lock: threading.Lock) -> None:
        with self.guard:
            _, users = self.keys[number]
            if users == 1:
                del self.keys[number]
            else:
                self.keys[number] = (key_lock, users - 1)
        key_lock.release()


_files: dict[str, _LockFile] = {}
_files_guard = threading.Lock()


def _use(database: str) -> _LockFile:
    """The process's open `_LockFile` of `database` (a real path), opened if none is."""
    with _files_guard:
        opened = _files.get(database)
        if opened is None:
            path = lock_file_path(database)
            try:
                fd = None if fcntl is None else os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                raise BackendError(f"cannot open the lock file {path}: {exc}") from exc
            opened = _files[database] = _LockFile(path, fd)
        opened.users += 1
        return opened


def _unuse(database: str) -> None:
    """One hold of `database` is done with its lock file: closed when it was the last."""
    with _files_guard:
        opened = _files[database]
        opened.users -= 1
        if opened.users == 0:
            del _files[database]
            if opened.fd is not None:
                os.close(opened.fd)
