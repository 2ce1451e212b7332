"""Locks that order the memory writes of several processes: `ScopeHold`.

A memory write (an add, a profile edit, forgetting) reads what is stored, decides, and writes
in a later batch, so two writes of one user must take turns. `engram._locks.ScopeLocks` makes
the flows of one `Engram` take turns; a store that several processes share (the workers of a
web server, servers over one PostgreSQL) also makes them take turns across processes: the
flow driver takes a `ScopeHold` from `BaseMemoryStore.hold()` and the keys the flow names stay
locked, in every process, until the flow ends.

- SQLite: `engram.stores.sqlite._scope_locks` (byte-range locks on a file beside the database).
- PostgreSQL: `engram.stores.postgres._scope_locks` (session-level advisory locks).
- In-memory: `NoHold` (one process sees the store: its `ScopeLocks` order everything).

A lock dies with its holder: the kernel drops a dead process's file locks, PostgreSQL a closed
session's advisory locks, so a crashed worker never blocks a user's writes.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence

__all__ = ["NoHold", "ScopeHold", "lock_number"]


class ScopeHold(ABC):
    """The scope locks one flow holds in a store, from `take` until `release`.

    One flow uses a hold, from one driver; keys it already holds are not taken again. The
    hold's state changes under its own lock (`_state`): a cancelled `atake` leaves its thread
    waiting, and whichever of `release` and that thread comes last frees the hold, once.
    """

    def __init__(self) -> None:
        self.held: list[str] = []
        """The keys held, in the order taken."""
        self._state = threading.Lock()
        self._taking = False  # a take runs on an `atake` thread
        self._dropped = False  # released while taking: that thread frees the hold

    def reserve(self) -> None:
        """Get what `take` needs before any key (a lock connection), waiting while none is
        free. Drivers call it before the flow's first in-process lock, so a flow never waits
        for one while holding a key another flow waits for."""
        return  # nothing to get: a store with lock connections overrides it

    async def areserve(self) -> None:
        """Async `reserve`."""
        return  # as `reserve`

    @abstractmethod
    def take(self, keys: Sequence[str]) -> None:
        """Hold `keys` (in sorted order, after those already held), waiting while another
        process or store holds one.

        Raises:
            BackendError: The lock could not be taken (a deadlock the system detected, a
                lock file that cannot be created, a lost connection).
        """

    @abstractmethod
    def _free(self) -> None:
        """Free every key held and empty `held` (called with `_state` held; idempotent)."""

    def release(self) -> None:
        """Free every key held (idempotent). After a cancelled `atake` whose thread still
        waits, that thread frees the keys when its wait ends."""
        with self._state:
            if self._taking:
                self._dropped = True
                return
            self._free()

    async def arelease(self) -> None:
        """Async `release`."""
        self.release()

    async def atake(self, keys: Sequence[str]) -> None:
        """`take` on a thread of its own, so the event loop runs while it waits (not on the
        loop's default executor: waiting takes could use up the threads that the holders'
        batches need). Cancelled, the thread goes on waiting: `release` leaves the hold to it,
        and it frees the hold when its wait ends."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        with self._state:
            self._taking = True

        def wait() -> None:
            outcome: BaseException | None = None
            try:
                self.take(keys)
            except BaseException as exc:  # handed to the awaiting task
                outcome = exc
            with self._state:
                self._taking = False
                if self._dropped:  # the flow is gone and released the hold: free it here
                    self._free()
                    return
                try:
                    loop.call_soon_threadsafe(_settle, done, outcome)
                except RuntimeError:  # the loop is closed, its task with it: free it here
                    self._free()

        try:
            threading.Thread(target=wait, name="engram-scope-lock", daemon=True).start()
        except BaseException:
            with self._state:
                self._taking = False
            raise
        try:
            await asyncio.shield(done)
        except asyncio.CancelledError:
            done.add_done_callback(_retrieve)  # nobody awaits it now; `release` frees
            raise


class NoHold(ScopeHold):
    """The hold of a store only this process sees: nothing to take."""

    def take(self, keys: Sequence[str]) -> None:
        self.held.extend(key for key in sorted(set(keys)) if key not in self.held)

    def _free(self) -> None:
        self.held.clear()


def lock_number(key: str) -> int:
    """A key as a number in [0, 2**62): the same in every process and on every machine."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8, person=b"engram-lock").digest()
    return int.from_bytes(digest, "big") >> 2


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
