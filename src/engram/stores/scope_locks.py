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

    One flow uses a hold, from one driver; keys it already holds are not taken again.
    """

    def __init__(self) -> None:
        self.held: list[str] = []
        """The keys held, in the order taken."""
        self._abandoned: asyncio.Future[None] | None = None

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
        """Free every key held and empty `held`."""

    def release(self) -> None:
        """Free every key held (idempotent). After a cancelled `atake` whose worker thread
        still waits, that thread frees the keys when its wait ends."""
        if self._abandoned is not None and not self._abandoned.done():
            return
        self._free()

    async def arelease(self) -> None:
        """Async `release`."""
        self.release()

    async def atake(self, keys: Sequence[str]) -> None:
        """`take` on a thread of its own, so the event loop runs while it waits (not on the
        loop's default executor: waiting takes could use up the threads that the holders'
        batches need)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def wait() -> None:
            outcome: BaseException | None = None
            try:
                self.take(keys)
            except BaseException as exc:  # handed to the awaiting task
                outcome = exc
            try:
                loop.call_soon_threadsafe(_settle, done, outcome)
            except RuntimeError:  # the loop is closed (its task was cancelled): free it here
                self._free()

        threading.Thread(target=wait, name="engram-scope-lock", daemon=True).start()
        try:
            await asyncio.shield(done)
        except asyncio.CancelledError:
            self._abandoned = done
            done.add_done_callback(self._free_abandoned)
            raise

    def _free_abandoned(self, done: asyncio.Future[None]) -> None:
        done.exception()  # retrieved: the task that awaited it is gone
        self._free()


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


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
