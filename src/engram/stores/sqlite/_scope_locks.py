"""Scope locks across the processes of one SQLite file: `FileScopeHold`.

Each key is one byte of a lock file beside the database (`<file>-engram-locks`, next to its
`-wal` and `-shm`, created with the database file's permissions), at the offset
`lock_number(key)`; the file stays empty. SQLite's own locks are on the database file, so the
two never meet.

On Linux a hold opens the lock file for itself and takes open-file-description locks
(`F_OFD_SETLKW`): they belong to that descriptor, so holds of one process exclude each other
like those of two processes (threads, and two `Engram` objects on one file, take turns too),
closing the descriptor frees exactly the hold's locks, and the kernel runs no per-process
deadlock detection, which sees two multi-threaded workers waiting on each other's free
threads as a deadlock. A process that dies frees its locks with its descriptors.

Elsewhere (macOS, the BSDs) classic record locks (`fcntl.lockf`) belong to the process, so a
threading lock per key orders the holders of one process first, and the file stays open while
any hold uses it (closing a descriptor would drop all of the process's locks on it). Windows
has neither: only the in-process locks remain.
"""

from __future__ import annotations

import os
import struct
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
_OFD = fcntl is not None and hasattr(fcntl, "F_OFD_SETLKW")
_FLOCK = "hhqqi"  # struct flock: l_type, l_whence, l_start, l_len, l_pid (0 for OFD locks)


def lock_file_path(database: str) -> str:
    """The lock file of the database file at `database`."""
    return database + _SUFFIX


class FileScopeHold(ScopeHold):
    """The scope locks one flow holds on the SQLite file at `database`, an absolute path
    (not `:memory:`; resolved once, so a later `os.chdir` changes nothing)."""

    def __init__(self, database: str) -> None:
        super().__init__()
        self._database = database
        self._fd: int | None = None  # the hold's own descriptor (OFD locks)
        self._shared: _SharedFile | None = None  # the process's (record locks)

    def take(self, keys: Sequence[str]) -> None:
        wanted = sorted(set(keys) - set(self.held))
        if not wanted:
            return
        if _OFD:
            if self._fd is None:
                self._fd = _open(self._database)
            for key in wanted:
                _lock(self._fd, lock_number(key), self._database)
                self.held.append(key)
            return
        if self._shared is None:
            self._shared = _use(self._database)
        for key in wanted:
            self._shared.lock(lock_number(key))
            self.held.append(key)

    def _free(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            self.held.clear()
            os.close(fd)  # frees this descriptor's locks, and only them
            return
        shared, self._shared = self._shared, None
        if shared is None:
            return
        while self.held:
            shared.unlock(lock_number(self.held.pop()))
        _unuse(self._database)


def _open(database: str) -> int:
    """A descriptor of the lock file of `database`, created like SQLite's `-wal`: with the
    database file's permissions, so every user who may write the database may lock it."""
    path = lock_file_path(database)
    try:
        mode = os.stat(database).st_mode & 0o666
    except OSError:
        mode = 0o644
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, mode)
    except OSError as exc:
        raise BackendError(f"cannot open the lock file {path}: {exc}") from exc
    try:
        if os.fstat(fd).st_mode & 0o666 != mode:
            os.fchmod(fd, mode)  # the umask narrowed it (as SQLite, widen it back)
    except OSError:
        pass  # another user's file: its mode is its owner's business
    return fd


def _lock(fd: int, number: int, database: str) -> None:
    """Lock byte `number` of the lock file for the descriptor `fd`, waiting for it."""
    request = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, number, 1, 0)
    try:
        fcntl.fcntl(fd, fcntl.F_OFD_SETLKW, request)
    except OSError as exc:  # ENOLCK
        raise BackendError(f"cannot lock a memory scope in {database}: {exc}") from exc


@dataclass
class _SharedFile:
    """Without OFD locks: the process's one descriptor of a lock file, and its key locks."""

    path: str
    fd: int | None
    users: int = 0
    """The holds using it: it is closed when none is."""
    guard: threading.Lock = field(default_factory=threading.Lock)
    keys: dict[int, tuple[threading.Lock, int]] = field(default_factory=dict)
    """number -> (its lock, how many holders hold or wait for it)"""

    def lock(self, number: int) -> None:
        with self.guard:
            key_lock, users = self.keys.get(number, (threading.Lock(), 0))
            self.keys[number] = (key_lock, users + 1)
        try:
            key_lock.acquire()
        except BaseException:  # interrupted (a signal handler raised): not a holder
            self._forget(number, key_lock, held=False)
            raise
        if self.fd is None:
            return
        try:
            fcntl.lockf(self.fd, fcntl.LOCK_EX, 1, number)
        except BaseException as exc:
            self._forget(number, key_lock, held=True)
            if isinstance(exc, OSError):  # EDEADLK, ENOLCK
                raise BackendError(f"cannot lock a memory scope in {self.path}: {exc}") from exc
            raise

    def unlock(self, number: int) -> None:
        with self.guard:
            key_lock, _ = self.keys[number]
        if self.fd is not None:
            fcntl.lockf(self.fd, fcntl.LOCK_UN, 1, number)
        self._forget(number, key_lock, held=True)

    def _forget(self, number: int, key_lock: threading.Lock, *, held: bool) -> None:
        with self.guard:
            _, users = self.keys[number]
            if users == 1:
                del self.keys[number]
            else:
                self.keys[number] = (key_lock, users - 1)
        if held:
            key_lock.release()


_files: dict[str, _SharedFile] = {}
_files_guard = threading.Lock()


def _use(database: str) -> _SharedFile:
    """The process's open `_SharedFile` of `database`, opened if none is."""
    with _files_guard:
        opened = _files.get(database)
        if opened is None:
            fd = None if fcntl is None else _open(database)
            opened = _files[database] = _SharedFile(lock_file_path(database), fd)
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
