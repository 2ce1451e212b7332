"""Memory writes running at the same time in one process: no lost update, no duplicate.

Each write reads what is stored (neighbours, profile, entities) and writes what it decided in
a later batch; `Memories` serialises that read-decide-write per user, for asyncio tasks,
threads, and both at once. On SQLite and on PostgreSQL + pgvector.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from engram import Engram
from engram._locks import ScopeLocks
from engram.stores.memories import BaseMemoryStore, Op

pytest_plugins = ["servers"]

CITIES = tuple(f"I live in {c}." for c in ("Porto", "Braga", "Faro", "Coimbra", "Aveiro", "Lagos"))


@pytest.fixture
def mem(memory_engram: Engram) -> Engram:
    store = memory_engram.resources.memory_store()
    memory_engram.resources.memories = Interleaved(store)
    return memory_engram


class Interleaved(BaseMemoryStore):
    """A memory store whose async batches first let the other tasks run: concurrent flows
    interleave at every batch, as they may under load, instead of when the thread pool says."""

    def __init__(self, inner: BaseMemoryStore) -> None:
        self.inner = inner

    def batch(self, ops: Sequence[Op]) -> list[Any]:
        return self.inner.batch(ops)

    async def abatch(self, ops: Sequence[Op]) -> list[Any]:
        await asyncio.sleep(0)
        return await self.inner.abatch(ops)


def current(mem: Engram, user_id: str, attribute: str) -> list[str]:
    return [m.text for m in mem.memories.get_all(user_id=user_id) if m.attribute == attribute]


def vegetarian(mem: Engram, user_id: str) -> list[str]:
    """The current vegetarian facts (each turn is kept as an episode too)."""
    memories = mem.memories.get_all(user_id=user_id)
    return [m.text for m in memories if "vegetarian" in m.text and m.kind != "episode"]


async def test_async_profile_updates_keep_every_key(mem: Engram) -> None:
    keys = [f"k{i}" for i in range(10)]
    await asyncio.gather(*(mem.memories.aupdate_profile("ana", {k: "x"}) for k in keys))
    profile = mem.memories.profile("ana")
    assert profile is not None and sorted(profile.fields) == sorted(keys)


async def test_async_duplicate_adds_store_one_fact(mem: Engram) -> None:
    users = [f"bob{i}" for i in range(4)]  # at once, so the adds of each user interleave
    reports = await asyncio.gather(
        *(mem.memories.aadd("I'm vegetarian.", user_id=u) for u in users for _ in range(3))
    )
    for user in users:
        assert vegetarian(mem, user) == ["The user is vegetarian"]
        [fact] = [m for m in mem.memories.get_all(user_id=user) if m.attribute == "diet"]
        assert len(fact.source_ids) == 3  # the provenance of each add, appended
    assert sum(report.unchanged for report in reports) == 2 * len(users)


async def test_async_contradictions_leave_one_current_value(mem: Engram) -> None:
    users = [f"cy{i}" for i in range(4)]
    await asyncio.gather(*(mem.memories.aadd(t, user_id=u) for u in users for t in CITIES))
    for user in users:
        [home] = current(mem, user, "home_city")
        retired = [
            m
            for m in mem.memories.get_all(user_id=user, include_superseded=True)
            if m.attribute == "home_city" and m.superseded_at is not None
        ]
        assert len(retired) == len(CITIES) - 1
        profile = mem.memories.profile(user)
        assert profile is not None and profile.fields["home_city"] in home


def test_threads_keep_profile_keys_and_dedupe(mem: Engram) -> None:
    keys = [f"k{i}" for i in range(10)]
    with ThreadPoolExecutor(max_workers=5) as pool:
        list(pool.map(lambda k: mem.memories.update_profile("dee", {k: "x"}), keys))
        list(pool.map(lambda t: mem.memories.add(t, user_id="dee"), CITIES))
        list(pool.map(lambda _: mem.memories.add("I'm vegetarian.", user_id="dee"), range(3)))
    profile = mem.memories.profile("dee")
    assert profile is not None and set(keys) <= set(profile.fields)
    assert len(current(mem, "dee", "home_city")) == 1
    assert len(vegetarian(mem, "dee")) == 1


def test_threads_and_event_loops_together(mem: Engram) -> None:
    """Sync callers and tasks of two event loops (one per thread) share the locks."""
    keys = [f"k{i}" for i in range(12)]

    async def on_a_loop(part: list[str]) -> None:
        await asyncio.gather(*(mem.memories.aupdate_profile("eve", {k: "x"}) for k in part))

    def sync(part: list[str]) -> None:
        for key in part:
            mem.memories.update_profile("eve", {key: "x"})

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [
            pool.submit(asyncio.run, on_a_loop(keys[0:4])),
            pool.submit(asyncio.run, on_a_loop(keys[4:8])),
            pool.submit(sync, keys[8:10]),
            pool.submit(sync, keys[10:12]),
        ]
        for future in futures:
            future.result()
    profile = mem.memories.profile("eve")
    assert profile is not None and sorted(profile.fields) == sorted(keys)


# The lock itself.


async def test_cancelled_waiter_does_not_keep_the_lock() -> None:
    locks = ScopeLocks()
    await locks.aacquire("k")
    waiter = asyncio.create_task(locks.aacquire("k"))
    await asyncio.sleep(0)  # let it queue
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    locks.release("k")
    await asyncio.wait_for(locks.aacquire("k"), timeout=5)
    locks.release("k")


async def test_cancelled_after_hand_off_passes_the_lock_on() -> None:
    locks = ScopeLocks()
    await locks.aacquire("k")
    waiter = asyncio.create_task(locks.aacquire("k"))
    await asyncio.sleep(0)
    locks.release("k")  # handed to the waiter, which is cancelled before it resumes
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await asyncio.wait_for(locks.aacquire("k"), timeout=5)
    locks.release("k")


async def test_blocking_write_inside_the_loop_holding_the_lock_raises() -> None:
    locks = ScopeLocks()
    await locks.aacquire("k")
    with pytest.raises(RuntimeError, match="async"):
        locks.acquire("k")
    locks.release("k")
    locks.acquire("k")  # free again: no deadlock, no leak
    locks.release("k")


def test_a_thread_waits_for_the_holder() -> None:
    locks = ScopeLocks()
    locks.acquire("k")
    order: list[str] = []
    waiter = threading.Thread(target=lambda: (locks.acquire("k"), order.append("waiter")))
    waiter.start()
    order.append("holder")
    locks.release("k")
    waiter.join(timeout=5)
    assert order == ["holder", "waiter"]
    locks.release("k")
