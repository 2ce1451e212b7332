"""Memory writes of several processes take turns per user (`BaseMemoryStore.hold`).

A memory add reads what is stored, decides and writes in a later batch; two processes adding
for one user at once could both decide on the same stale state (two current home cities).
Each store's `ScopeHold` makes them take turns: SQLite with record locks on a file beside the
database, PostgreSQL with advisory locks. These tests hold a user's lock in this process and
watch an add of another process wait for it: the waiter is seen in the kernel's lock table or
in `pg_locks`, never guessed from the time that passed.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from engram import Engram
from engram._memory_flows import lock_key
from engram.stores.scope_locks import lock_number
from engram.stores.sqlite import _scope_locks
from engram.stores.sqlite._scope_locks import lock_file_path

pytest_plugins = ["servers"]

TENANT = "default"
USER = "ana"
WAIT_S = 120  # how long a condition may take to appear before the test fails


@pytest.fixture(params=["sqlite", "postgres"])
def address(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_clean_database")
        return url
    return str(tmp_path / "shared.db")


@pytest.fixture
def mem(address: str) -> Iterator[Engram]:
    with Engram(address) as engram:
        yield engram


def add_in_child(address: str, mode: str) -> None:
    """The other process: one add for `USER`, blocking or awaited."""
    with Engram(address) as mem:
        if mode == "sync":
            mem.memories.add("I live in Lisbon.", user_id=USER)
        else:
            asyncio.run(mem.memories.aadd("I live in Lisbon.", user_id=USER))


def waiters(address: str) -> int:
    """How many lock waits the database's scope locks have right now."""
    if not address.endswith(".db"):  # a PostgreSQL conninfo
        with psycopg.connect(address, autocommit=True) as conn:
            query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            row = conn.execute(query).fetchone()
            assert row is not None
            return int(row[0])
    inode = os.stat(lock_file_path(os.path.realpath(address))).st_ino
    with open("/proc/locks") as table:  # a waiter's line reads "N: -> POSIX ..."
        return sum(f":{inode} " in line and "->" in line for line in table)


def until(condition: Callable[[], bool], what: str) -> None:
    """Wait for `condition`, failing after `WAIT_S` seconds."""
    loop = asyncio.new_event_loop()
    try:
        deadline = loop.time() + WAIT_S
        while not condition():
            if loop.time() > deadline:
                pytest.fail(f"gave up waiting: {what}")
            loop.run_until_complete(asyncio.sleep(0.05))
    finally:
        loop.close()


@pytest.mark.skipif(sys.platform != "linux", reason="reads the kernel's lock table")
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_add_of_another_process_waits_for_the_users_lock(
    mem: Engram, address: str, mode: str
) -> None:
    hold = mem.resources.memory_store().hold()
    hold.take([lock_key(TENANT, USER)])
    child = multiprocessing.get_context("spawn").Process(target=add_in_child, args=(address, mode))
    child.start()
    try:
        until(lambda: waiters(address) > 0 or not child.is_alive(), "the child waiting")
        assert child.is_alive(), f"the child ended without waiting (exit code {child.exitcode})"
        assert mem.memories.get_all(user_id=USER) == []  # it read and wrote nothing yet
    finally:
        hold.release()
        child.join(WAIT_S)
    assert child.exitcode == 0
    assert any("Lisbon" in m.text for m in mem.memories.get_all(user_id=USER))


def test_another_users_add_does_not_wait(mem: Engram) -> None:
    hold = mem.resources.memory_store().hold()
    hold.take([lock_key(TENANT, "bob")])
    try:
        mem.memories.add("I live in Lisbon.", user_id=USER)  # would never return if it waited
    finally:
        hold.release()
    assert mem.memories.get_all(user_id=USER)


def test_two_engrams_in_one_process_take_turns(tmp_path: Path) -> None:
    """Each `Engram` orders its own flows; the lock file's in-process locks order two of them
    (record locks alone would not: they belong to the process)."""
    address = str(tmp_path / "shared.db")
    with Engram(address) as mem, Engram(address) as other:
        hold = mem.resources.memory_store().hold()
        hold.take([lock_key(TENANT, USER)])
        number = lock_number(lock_key(TENANT, USER))

        def waiting() -> bool:  # the holder and the waiting add
            lock_file = _scope_locks._files.get(os.path.realpath(address))
            return lock_file is not None and lock_file.keys.get(number, (None, 0))[1] == 2

        async def scenario() -> None:
            task = asyncio.create_task(other.memories.aadd("I live in Lisbon.", user_id=USER))
            while not waiting():
                await asyncio.sleep(0.01)
            assert mem.memories.get_all(user_id=USER) == []
            hold.release()
            await task

        asyncio.run(asyncio.wait_for(scenario(), WAIT_S))
        assert any("Lisbon" in m.text for m in other.memories.get_all(user_id=USER))


def test_a_cancelled_waiting_add_frees_the_lock_it_gets(postgres_clean_database: str) -> None:
    address = postgres_clean_database
    with Engram(address) as mem, Engram(address) as other:
        hold = mem.resources.memory_store().hold()
        hold.take([lock_key(TENANT, USER)])

        async def scenario() -> None:
            task = asyncio.create_task(other.memories.aadd("I live in Lisbon.", user_id=USER))
            while waiters(address) == 0:
                await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            hold.release()  # the cancelled add's thread now gets the lock, and frees it
            while held_advisory_locks(address):
                await asyncio.sleep(0.05)

        asyncio.run(asyncio.wait_for(scenario(), WAIT_S))
        assert mem.memories.get_all(user_id=USER) == []
        mem.memories.add("I live in Porto.", user_id=USER)  # the lock is free
        assert [m.text for m in mem.memories.get_all(user_id=USER) if "Porto" in m.text]


def held_advisory_locks(address: str) -> int:
    with psycopg.connect(address, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone()
        assert row is not None
        return int(row[0])


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/fd")
def test_no_lock_file_stays_open_between_adds(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with Engram(str(path)) as mem:
        mem.memories.add("I live in Lisbon.", user_id=USER)
        lock_file = lock_file_path(os.path.realpath(path))
        assert os.path.exists(lock_file)
        open_files = {os.path.realpath(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")}
        assert lock_file not in open_files


def test_engram_closes_its_lock_connections(postgres_clean_database: str) -> None:
    address = postgres_clean_database
    others = backends(address)
    with Engram(address) as mem:
        mem.memories.add("I live in Lisbon.", user_id=USER)
        assert waiting_for_unlock_all(address)  # the idle lock connection's last statement
        mine = backends(address) - others
    until(lambda: not mine & backends(address), "every connection of Engram closed")


def waiting_for_unlock_all(address: str) -> bool:
    with psycopg.connect(address, autocommit=True) as conn:
        query = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND state = 'idle' AND query = 'SELECT pg_advisory_unlock_all()'"
        )
        row = conn.execute(query).fetchone()
        assert row is not None
        return int(row[0]) >= 1


def backends(address: str) -> set[int]:
    """The server processes of the database's client connections, this one's excepted."""
    with psycopg.connect(address, autocommit=True) as conn:
        query = (
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return {int(row[0]) for row in conn.execute(query)}
