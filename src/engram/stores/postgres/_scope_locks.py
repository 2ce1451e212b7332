"""Scope locks across the processes and servers of one PostgreSQL database: `AdvisoryLocks`.

Each key is a session-level advisory lock (`pg_advisory_lock(bigint)` of `lock_number(key)`),
held on a connection of its own for the whole flow: a flow's batches run on other connections
(a pool's, or the store's one), in transactions of their own, which a transaction-level lock
could not span. Lock connections are opened with the store's connection settings and kept
idle for the next flows. A store has at most as many as its pool has connections (the
pool's `max_size`: `ENGRAM_POSTGRES_POOL_SIZE`), or `LOCK_CONNECTIONS` on a single
connection; a flow borrows one before its first in-process lock (`ScopeHold.reserve`) and
never a second, on its lock thread, so a flow waiting for one holds nothing another waits
for. PostgreSQL drops the locks of a session that ends, so a crashed worker never blocks a
user's writes.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from engram.stores.postgres._internal import map_backend_errors
from engram.stores.scope_locks import ScopeHold, lock_number

__all__ = ["LOCK_CONNECTIONS", "AdvisoryLocks", "lock_connector"]

LOCK_CONNECTIONS = 8
"""Lock connections of a store on one connection (a pool's store has its `max_size`)."""

Connector = Callable[[], "psycopg.Connection[Any]"]


def lock_connector(conn: Any) -> Connector:
    """How to open a lock connection like `conn` (a sync or async connection or pool)."""
    if hasattr(conn, "conninfo") and hasattr(conn, "kwargs"):  # a psycopg_pool pool
        conninfo, options = conn.conninfo, dict(conn.kwargs or {})
    else:  # a connection: its settings, with the password libpq does not show in `dsn`
        info = conn.info
        conninfo = make_conninfo(info.dsn, password=info.password) if info.password else info.dsn
        options = {}
    options.pop("row_factory", None)
    options.pop("cursor_factory", None)
    options["autocommit"] = True
    return lambda: psycopg.Connection.connect(conninfo, **options)


class AdvisoryLocks:
    """The lock connections of one store; `hold()` gives a flow its `ScopeHold`.

    At most `limit` are open, lent or idle: `borrow` waits (on the flow's lock thread) while
    all are lent. `close()` closes the idle ones; so does the store's collection (a store on
    a lent connection or pool is often never closed).
    """

    def __init__(self, conn: Any, owner: object) -> None:
        self._conn = conn  # the store's connection or pool, whose settings lock ones copy
        self._connect: Connector | None = None
        self.limit: int = getattr(conn, "max_size", None) or LOCK_CONNECTIONS
        self._free_slots = threading.Semaphore(self.limit)
        self._idle: list[psycopg.Connection[Any]] = []
        self._lent: set[psycopg.Connection[Any]] = set()
        self._closed = False
        self._guard = threading.Lock()
        weakref.finalize(owner, self.close)

    def hold(self) -> AdvisoryScopeHold:
        return AdvisoryScopeHold(self)

    def borrow(self) -> psycopg.Connection[Any]:
        """A lock connection, idle or new, waiting while `limit` are lent."""
        self._free_slots.acquire()
        try:
            with self._guard:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                with map_backend_errors():
                    if self._connect is None:
                        self._connect = lock_connector(self._conn)
                    conn = self._connect()
        except BaseException:
            self._free_slots.release()
            raise
        with self._guard:
            self._lent.add(conn)
        return conn

    def give_back(self, conn: psycopg.Connection[Any]) -> None:
        """Take back a borrowed connection (once: a second give-back of it does nothing)."""
        with self._guard:
            if conn not in self._lent:
                return
            self._lent.remove(conn)
            keep = not self._closed and not conn.closed
            if keep:
                self._idle.append(conn)
        if not keep:
            conn.close()
        self._free_slots.release()

    def close(self) -> None:
        """Close the idle lock connections (those of running flows close as they end)."""
        with self._guard:
            idle, self._idle = self._idle, []
            self._closed = True
        for conn in idle:
            conn.close()


class AdvisoryScopeHold(ScopeHold):
    """The advisory locks one flow holds, on one lock connection."""

    def __init__(self, locks: AdvisoryLocks) -> None:
        super().__init__()
        self._locks = locks
        self._conn: psycopg.Connection[Any] | None = None

    def reserve(self) -> None:
        if self._conn is None:
            self._conn = self._locks.borrow()

    async def areserve(self) -> None:
        await self.atake(())

    def take(self, keys: Sequence[str]) -> None:
        self.reserve()
        assert self._conn is not None
        wanted = sorted(set(keys) - set(self.held))
        with map_backend_errors():  # a deadlock PostgreSQL detects is an error, not a wait
            for key in wanted:
                self._conn.execute("SELECT pg_advisory_lock(%s)", (lock_number(key),))
                self.held.append(key)

    def _free(self) -> None:
        conn, self._conn = self._conn, None
        self.held.clear()
        if conn is None:
            return
        try:
            conn.execute("SELECT pg_advisory_unlock_all()")
        except psycopg.Error:  # the session is gone, and its locks with it
            conn.close()
        self._locks.give_back(conn)

    async def arelease(self) -> None:
        """`release` on a thread (it waits for PostgreSQL), carried through even if the
        awaiting task is cancelled meanwhile."""
        await asyncio.shield(asyncio.to_thread(self.release))
