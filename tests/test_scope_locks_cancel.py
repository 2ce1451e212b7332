"""PostgreSQL scope locks under cancellation and load (`engram.stores.postgres._scope_locks`).

A memory write holds its user's advisory lock on a lock connection of its own. Cancelled
writes must never leave that lock held (every later write of the user would wait forever), a
lock connection must never be lent to two flows at once (session-level advisory locks are
re-entrant: both would think they hold the user's lock), and a burst of writes must not open
more lock connections than the store's bound. Conditions are watched in `pg_locks`, never
guessed from the time that passed.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from engram import Engram
from engram._memory_flows import lock_key
from engram.stores.postgres import _scope_locks
from engram.stores.postgres._scope_locks import AdvisoryLocks, AdvisoryScopeHold
from engram.stores.scope_locks import lock_number

pytest_plugins = ["servers"]

TENANT = "default"
CITIES = ["Lisbon", "Porto", "Braga", "Faro", "Evora", "Coimbra"]
WAIT_S = 120  # how long a write or a condition may take before the test fails


@pytest.fixture
def url(postgres_clean_database: str) -> str:
    return postgres_clean_database


class Owner:
    """A store stand-in: lock connections are closed when it is collected."""


@pytest.fixture
def locks(url: str) -> Iterator[AdvisoryLocks]:
    with psycopg.connect(url, autocommit=True) as conn:
        owner = Owner()
        locks = AdvisoryLocks(conn, owner)
        yield locks
        locks.close()


def advisory_waiters(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        row = conn.execute(query).fetchone()
        assert row is not None
        return int(row[0])


async def until(condition: Callable[[], bool], what: str) -> None:
    """Await `condition` (checked on a thread), failing after `WAIT_S` seconds."""

    async def poll() -> None:
        while not await asyncio.to_thread(condition):
            await asyncio.sleep(0.05)

    try:
        await asyncio.wait_for(poll(), WAIT_S)
    except TimeoutError:
        pytest.fail(f"gave up waiting: {what}")


def test_a_connection_given_back_twice_is_lent_once(locks: AdvisoryLocks) -> None:
    conn = locks.borrow()
    locks.give_back(conn)
    locks.give_back(conn)

    first, second = locks.borrow(), locks.borrow()

    assert first is not second
    locks.give_back(first)
    locks.give_back(second)


class RacingHold(AdvisoryScopeHold):
    """A hold whose every read of its connection waits, while `meet` is set, for a second
    reader: two frees that may overlap both read it before either empties it."""

    meet: threading.Barrier | None = None

    @property  # type: ignore[override]
    def _conn(self) -> psycopg.Connection[Any] | None:
        conn: psycopg.Connection[Any] | None = self.__dict__["conn"]
        if self.meet is not None:
            try:
                self.meet.wait()
            except threading.BrokenBarrierError:  # the hold let one reader in at a time
                pass
        return conn

    @_conn.setter
    def _conn(self, conn: psycopg.Connection[Any] | None) -> None:
        self.__dict__["conn"] = conn


def test_two_threads_releasing_one_hold_give_its_connection_back_once(
    locks: AdvisoryLocks,
) -> None:
    """The two ways a hold is freed (the flow's release, the lock thread of a cancelled take)
    can meet on two threads: both reaching the connection would lend it to two flows later."""
    hold = RacingHold(locks)
    hold.take(["ana"])
    hold.meet = threading.Barrier(2, timeout=5)
    start = threading.Barrier(2)

    def release() -> None:
        start.wait()
        hold.release()

    threads = [threading.Thread(target=release) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    first, second = locks.borrow(), locks.borrow()
    assert first is not second
    locks.give_back(first)
    locks.give_back(second)


def test_cancelled_writes_never_leave_the_users_lock_held(url: str) -> None:
    """Twelve adds of one user, six cancelled at random moments, then one more add: it must
    get the user's lock (a leaked lock makes it wait forever, with no error)."""

    async def scenario() -> None:
        rounds, rng = 100, random.Random(7)
        async with Engram(url) as mem:
            for round_ in range(rounds):
                user = f"u{round_}"
                tasks = [
                    asyncio.create_task(
                        mem.memories.aadd(
                            f"I moved to {CITIES[i % len(CITIES)]}. I work at Co{i}.",
                            user_id=user,
                            session_id=f"{user}-{i}",
                        )
                    )
                    for i in range(12)
                ]
                await asyncio.sleep(rng.uniform(0.005, 0.05))
                for task in rng.sample(tasks, 6):
                    task.cancel()
                try:
                    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), WAIT_S)
                    await asyncio.wait_for(
                        mem.memories.aadd("I moved to Tavira.", user_id=user), WAIT_S
                    )
                except TimeoutError:
                    pytest.fail(f"round {round_}: the user's lock was left held")
                home = mem.memories.profile(user).fields.get("home_city")
                assert home == "Tavira"

    asyncio.run(scenario())


def test_concurrent_writes_use_at_most_the_bound_of_lock_connections(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While every user's lock is held elsewhere, twelve adds of twelve users wait: at most
    the pool's size of lock connections is ever open."""
    monkeypatch.setenv("ENGRAM_POSTGRES_POOL_SIZE", "2")
    limit, users = 2, [f"user{i}" for i in range(12)]
    opened: list[psycopg.Connection[Any]] = []
    most_open = [0]
    guard = threading.Lock()
    connector = _scope_locks.lock_connector

    def counting_connector(conn: Any) -> Callable[[], psycopg.Connection[Any]]:
        connect = connector(conn)

        def counted() -> psycopg.Connection[Any]:
            new = connect()
            with guard:
                opened.append(new)
                most_open[0] = max(most_open[0], sum(not c.closed for c in opened))
            return new

        return counted

    monkeypatch.setattr(_scope_locks, "lock_connector", counting_connector)
    entered = [0]
    borrow = AdvisoryLocks.borrow

    def counting_borrow(self: AdvisoryLocks) -> psycopg.Connection[Any]:
        with guard:
            entered[0] += 1
        return borrow(self)

    monkeypatch.setattr(AdvisoryLocks, "borrow", counting_borrow)

    async def scenario() -> None:
        async with Engram(url) as mem:
            with psycopg.connect(url, autocommit=True) as blocker:
                for user in users:
                    number = lock_number(lock_key(TENANT, user))
                    blocker.execute("SELECT pg_advisory_lock(%s)", (number,))
                writes = [
                    asyncio.create_task(mem.memories.aadd("I live in Lisbon.", user_id=user))
                    for user in users
                ]
                await until(lambda: entered[0] == len(users), "every add wants a connection")
                await until(lambda: advisory_waiters(url) >= limit, "adds wait for locks")
                blocker.execute("SELECT pg_advisory_unlock_all()")
                await asyncio.wait_for(asyncio.gather(*writes), WAIT_S)

    asyncio.run(scenario())
    assert 0 < most_open[0] <= limit
