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
import fcntl
import multiprocessing
import os
import struct
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest

from engram import Engram
from engram._memory_flows import lock_key
from engram.stores.scope_locks import lock_number
from engram.stores.sqlite._scope_locks import FileScopeHold, lock_file_path

pytest_plugins = ["servers"]

TENANT = "default"
USER = "ana"
WAIT_S = 120  # how long a condition may take to appear before the test fails


@pytest.fixture
def address(memory_address: str) -> str:
    return memory_address


@pytest.fixture
def mem(memory_engram: Engram) -> Engram:
    return memory_engram


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


def erase_session_in_child(address: str) -> None:
    """The other process: the erasure of session `s1`, a scope without a user."""
    with Engram(address) as mem:
        mem.memories.delete_all(session_id="s1")


@pytest.mark.skipif(sys.platform != "linux", reason="reads the kernel's lock table")
def test_erasing_a_session_waits_for_the_adds_of_its_users(mem: Engram, address: str) -> None:
    mem.memories.add("Ana lives in Porto", user_id=USER, session_id="s1", infer=False)
    hold = mem.resources.memory_store().hold()
    hold.take([lock_key(TENANT, USER)])  # as an add of ana's would, which may rewrite it
    child = multiprocessing.get_context("spawn").Process(
        target=erase_session_in_child, args=(address,)
    )
    child.start()
    try:
        until(lambda: waiters(address) > 0 or not child.is_alive(), "the child waiting")
        assert child.is_alive(), f"the child ended without waiting (exit code {child.exitcode})"
        assert mem.memories.get_all(user_id=USER)  # not erased yet
    finally:
        hold.release()
        child.join(WAIT_S)
    assert child.exitcode == 0
    assert mem.memories.get_all(user_id=USER, include_superseded=True) == []


def test_another_users_add_does_not_wait(mem: Engram) -> None:
    hold = mem.resources.memory_store().hold()
    hold.take([lock_key(TENANT, "bob")])
    try:
        mem.memories.add("I live in Lisbon.", user_id=USER)  # would never return if it waited
    finally:
        hold.release()
    assert mem.memories.get_all(user_id=USER)


def test_two_engrams_in_one_process_take_turns(tmp_path: Path) -> None:
    """Each `Engram` orders its own flows; the store's locks order two of them."""
    address = str(tmp_path / "shared.db")
    with Engram(address) as mem, Engram(address) as other:
        hold = mem.resources.memory_store().hold()
        hold.take([lock_key(TENANT, USER)])

        async def scenario() -> None:
            task = asyncio.create_task(other.memories.aadd("I live in Lisbon.", user_id=USER))
            while waiters(address) == 0:
                await asyncio.sleep(0.01)
            assert mem.memories.get_all(user_id=USER) == []
            hold.release()
            await task

        asyncio.run(asyncio.wait_for(scenario(), WAIT_S))
        assert any("Lisbon" in m.text for m in other.memories.get_all(user_id=USER))


def hold_one_then_want_the_other(
    database: str, mine: str, other: str, holding: Any, results: Any
) -> None:
    """The other process: hold `mine`, then wait for `other` on a second hold (a second
    thread of a worker would); put what happened in `results`."""
    hold, waiter = FileScopeHold(database), FileScopeHold(database)
    hold.take([mine])
    holding.set()
    try:
        waiter.take([other])
    except Exception as exc:  # what the test reports
        results.put(repr(exc))
    else:
        results.put("ok")
    finally:
        waiter.release()
        hold.release()


@pytest.mark.skipif(sys.platform != "linux", reason="open-file-description locks are Linux's")
def test_two_workers_waiting_on_each_others_users_is_no_deadlock(tmp_path: Path) -> None:
    """Worker A holds u0 and a second thread of it waits for u1; worker B holds u1 and waits
    for u0. Each holder finishes on its own, so nothing is deadlocked; the kernel's
    per-process deadlock detection of classic record locks said EDEADLK here."""
    address = str(tmp_path / "shared.db")
    Engram(address).close()
    database = os.path.realpath(address)
    u0, u1 = lock_key(TENANT, "u0"), lock_key(TENANT, "u1")
    mine, waiter = FileScopeHold(database), FileScopeHold(database)
    mine.take([u0])
    context = multiprocessing.get_context("spawn")
    holding, results = context.Event(), context.Queue()
    child = context.Process(
        target=hold_one_then_want_the_other, args=(database, u1, u0, holding, results)
    )
    child.start()
    try:
        until(lambda: holding.is_set() or not child.is_alive(), "the other worker holding u1")
        with ThreadPoolExecutor(1) as threads:
            second = threads.submit(waiter.take, [u1])
            until(lambda: waiters(address) == 2, "both workers waiting")
            mine.release()  # A's holder finishes: B gets u0, finishes, frees u1 for A
            assert results.get(timeout=WAIT_S) == "ok"
            second.result(WAIT_S)
    finally:
        mine.release()
        child.join(WAIT_S)
    assert waiter.held == [u1]
    waiter.release()


@pytest.mark.skipif(sys.platform != "linux", reason="reads the kernel's lock table")
def test_a_cancelled_add_whose_loop_closed_frees_the_lock_it_gets(address: str) -> None:
    """`asyncio.run(wait_for(aadd(...), timeout))` from a worker: the add is cancelled while
    it waits, the loop closes, and the thread that waited gets the lock after: it must free
    it, with no loop left to tell."""
    key = lock_key(TENANT, USER)
    with Engram(address) as mem, Engram(address) as other:
        hold = mem.resources.memory_store().hold()
        hold.take([key])

        async def cancelled() -> None:
            task = asyncio.create_task(other.memories.aadd("I live in Lisbon.", user_id=USER))
            while waiters(address) == 0:
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        asyncio.run(cancelled())  # the loop is closed from here on
        hold.release()  # the abandoned wait gets the lock, and must free it
        until(lambda: free(address, key), "the abandoned lock freed")
        assert mem.memories.get_all(user_id=USER) == []
        mem.memories.add("I live in Porto.", user_id=USER)
        assert [m.text for m in mem.memories.get_all(user_id=USER) if "Porto" in m.text]


def free(address: str, key: str) -> bool:
    """Whether no one holds `key` in the scope locks of the database at `address`."""
    if not address.endswith(".db"):  # a PostgreSQL conninfo: no advisory lock left at all
        return held_advisory_locks(address) == 0
    fd = os.open(lock_file_path(os.path.realpath(address)), os.O_RDWR)
    try:
        request = struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, lock_number(key), 1, 0)
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, request)  # does not wait
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def test_the_lock_file_follows_the_database_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "data")
    with Engram("memories.db") as mem:  # a relative path
        monkeypatch.chdir(tmp_path / "elsewhere")
        mem.memories.add("I live in Lisbon.", user_id=USER)
    assert (tmp_path / "data" / "memories.db-engram-locks").exists()
    assert not (tmp_path / "elsewhere" / "memories.db-engram-locks").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_the_lock_file_takes_the_databases_permissions(tmp_path: Path) -> None:
    """Another OS user who may write the database (a cron job, an admin CLI) may lock it."""
    path = tmp_path / "shared.db"
    Engram(str(path)).close()
    path.chmod(0o666)
    with Engram(str(path)) as mem:
        mem.memories.add("I live in Lisbon.", user_id=USER)
    assert (tmp_path / "shared.db-engram-locks").stat().st_mode & 0o777 == 0o666


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
