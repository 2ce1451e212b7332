"""`ScopeLocks`: named locks that threads and event loops share, for `_flows.Serialize`.

A memory write reads what is stored, decides, and writes in a later store batch; two writes
of one user must not interleave, nor two folds of one session's running summary (each a paid
LLM call: `_session_flows._fold_turn`). The flows' drivers (`_flows.run` blocking,
`_flows.arun` awaiting) take these locks for the keys a flow names, so one lock has to serve a
thread and a task of any event loop alike, never blocking a loop on behalf of another waiter.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from dataclasses import dataclass, field

__all__ = ["ScopeLocks"]


class ScopeLocks:
    """Named locks, each held by one flow at a time, shared by threads and event loops.

    Waiters are served first come, first served: a thread waits on an event, a task on a
    future of its own loop, so no thread is blocked on behalf of an event loop. A key is
    stored only while held: `_held` maps it to its queue of waiters, `_owners` to the loop
    of the task holding it (None: a thread).
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held: dict[str, deque[_Waiter]] = {}
        self._owners: dict[str, asyncio.AbstractEventLoop | None] = {}

    def acquire(self, key: str) -> None:
        """Take `key`, blocking the thread until it is free.

        Raises:
            RuntimeError: Called from a coroutine while a task of the same event loop holds or
                awaits `key`: the blocked loop could never hand it over.
        """
        loop = _running_loop()
        with self._guard:
            waiters = self._held.get(key)
            if waiters is None:
                self._held[key], self._owners[key] = deque(), None
                return
            if loop is not None and (
                self._owners[key] is loop or any(w.loop is loop for w in waiters)
            ):
                raise RuntimeError(
                    f"a blocking call waits for {key}, held by a task of this event loop: call"
                    " the async API (`aadd`, `aupdate_profile`, `acontext`, ...) from coroutines"
                )
            waiter = _Waiter(event=threading.Event())
            waiters.append(waiter)
        try:
            waiter.event.wait()
        except BaseException:  # interrupted (KeyboardInterrupt): leave, or pass the key on
            self._abandon(key, waiter)
            raise

    async def aacquire(self, key: str) -> None:
        """Take `key`, awaiting it: the event loop runs meanwhile."""
        loop = asyncio.get_running_loop()
        with self._guard:
            waiters = self._held.get(key)
            if waiters is None:
                self._held[key], self._owners[key] = deque(), loop
                return
            future: asyncio.Future[None] = loop.create_future()
            waiter = _Waiter(loop=loop, future=future)
            waiters.append(waiter)
        try:
            await future
        except asyncio.CancelledError:
            self._abandon(key, waiter)
            raise

    def release(self, key: str) -> None:
        """Free `key`, handing it to its first waiter (woken on its own thread or loop)."""
        with self._guard:
            waiters = self._held[key]
            while waiters:
                waiter = waiters.popleft()
                self._owners[key] = waiter.loop
                if waiter.loop is None or waiter.future is None:
                    waiter.event.set()
                    return
                try:
                    waiter.loop.call_soon_threadsafe(self._wake, key, waiter.future)
                    return
                except RuntimeError:  # its loop is closed: nobody waits there any more
                    continue
            del self._held[key], self._owners[key]

    def _wake(self, key: str, future: asyncio.Future[None]) -> None:
        """On the waiter's loop: the key is the waiter's now, unless it was cancelled."""
        if future.cancelled():
            self.release(key)
        else:
            future.set_result(None)

    def _abandon(self, key: str, waiter: _Waiter) -> None:
        """A waiter gave up: out of the queue, or, if the key was handed to it, pass it on (a
        cancelled task's key not yet handed over is passed on by `_wake`)."""
        with self._guard:
            waiters = self._held.get(key)
            if waiters is not None and waiter in waiters:
                waiters.remove(waiter)
                return
        future = waiter.future
        if future is None or (future.done() and not future.cancelled()):
            self.release(key)


@dataclass(slots=True, eq=False)
class _Waiter:
    """A thread (`event`) or a task (`loop`, `future`) waiting for a key."""

    event: threading.Event = field(default_factory=threading.Event)
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future[None] | None = None


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
