"""Memory writes of one user made by separate processes at the same moment: gunicorn or
Celery workers sharing one SQLite file or one PostgreSQL database.

Each add reads what is stored (neighbours, slot holders, profile), decides and writes in a
later batch; the store's scope locks (`BaseMemoryStore.hold`) make the writes of one user
take turns across processes. Four spawned writers (`memory_workers`) start each write at
one barrier, a few rounds per scenario, and the test checks what the store holds after:

- workers opening a new SQLite file together: none fails ("database is locked");
- the same fact, added by all: stored once, with every add's provenance;
- contradicting values of one slot: one current value, the others superseded (each still
  the answer "as of" when it was said), the profile agreeing;
- a deletion racing an edit and re-adds of the deleted memory: it stays deleted, its
  tombstone last in its history, whichever came first;
- writers of different users: none fails, none loses a write.

A race the writers hit only sometimes is also staged in one process, so that it is certain.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import engram._memories
import memory_workers as workers
from backend_processes import WriterPool
from engram import Engram, NotFoundError
from engram.stores.sqlite._internal import SqliteConnection
from engram.types import Memory, utcnow

pytest_plugins = ["servers"]

WRITERS = 4
ROUNDS = 3
NEW_FILES = 40


@pytest.fixture(scope="module")
def pool() -> Iterator[WriterPool]:
    """The writer processes, shared by this module's tests (spawning one costs seconds)."""
    writers = WriterPool(WRITERS)
    yield writers
    writers.close()


def run(pool: WriterPool, worker: Any, *args: Any) -> list[list[Any]]:
    """Run `worker` in every writer; its results by writer, then by round. No writer failed."""
    reports = pool.run(worker, *args)
    if any(report["error"] for report in reports):
        pool.run(workers.mend_barrier)  # for the next test
    assert [report["error"] for report in reports] == [None] * WRITERS, reports
    return [report["results"] for report in reports]


def everything(mem: Engram, user: str) -> list[Memory]:
    """Every memory of `user`, superseded ones included."""
    return mem.memories.get_all(user_id=user, include_superseded=True, limit=1000)


def facts(mem: Engram, user: str) -> list[Memory]:
    """Every memory of `user` but the episodes (each turn said is kept as one)."""
    return [memory for memory in everything(mem, user) if memory.kind != "episode"]


def test_workers_starting_together_on_a_new_sqlite_file(pool: WriterPool, tmp_path: Path) -> None:
    run(pool, workers.open_new_database, str(tmp_path), NEW_FILES)


def test_opening_a_file_another_connection_is_creating_waits_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race above, made certain: a file still being created (written, not yet in WAL
    mode) answers the switch to WAL with "database is locked" at once; the opener retries."""
    path = str(tmp_path / "new.db")
    creator = sqlite3.connect(path, isolation_level=None)
    creator.execute("BEGIN IMMEDIATE")
    creator.execute("CREATE TABLE created_first (x)")

    def creator_finishes(seconds: float) -> None:  # while the opener pauses between tries
        if creator.in_transaction:
            creator.execute("COMMIT")

    with monkeypatch.context() as patched:
        patched.setattr(time, "sleep", creator_finishes)
        SqliteConnection(path).close()
    creator.close()
    with Engram(path) as mem:
        mem.memories.add(workers.VEGETARIAN, user_id="ana", infer=False)
        assert [m.text for m in mem.memories.get_all(user_id="ana")] == [workers.VEGETARIAN]


def test_the_same_fact_added_at_once_is_stored_once(pool: WriterPool, memory_address: str) -> None:
    results = run(pool, workers.add_same_fact, memory_address, ROUNDS)
    with Engram(memory_address) as mem:
        for round_ in range(ROUNDS):
            user = f"same-{round_}"
            verbatim, said = zip(*(by_writer[round_] for by_writer in results), strict=True)
            [fact] = [m for m in facts(mem, user) if m.text == workers.VEGETARIAN]
            assert [m for r in verbatim for m in r["added"]] == [fact.id]
            [home] = [m for m in facts(mem, user) if m.attribute == "home_city"]
            assert home.superseded_at is None and "Lisbon" in home.text
            assert [m for r in said for m in r["added"] if m == home.id] == [home.id]
            episodes = [m for m in everything(mem, user) if m.kind == "episode"]
            assert len(episodes) == WRITERS
            assert sorted(home.source_ids) == sorted(e.source_ids[0] for e in episodes)
            history = mem.memories.history(home.id)
            assert sorted(c.action for c in history) == ["add"] + ["update"] * (WRITERS - 1)
            assert sorted(s for c in history for s in c.source_ids) == sorted(home.source_ids)
            profile = mem.memories.profile(user)
            assert profile is not None and profile.fields["home_city"] == "Lisbon"
            assert profile.sources["home_city"] == home.id


def test_contradicting_values_leave_one_current(pool: WriterPool, memory_address: str) -> None:
    run(pool, workers.add_own_city, memory_address, ROUNDS)
    with Engram(memory_address) as mem:
        for round_ in range(ROUNDS):
            user = f"moves-{round_}"
            homes = [m for m in facts(mem, user) if m.attribute == "home_city"]
            assert len(homes) == WRITERS
            [current] = [m for m in homes if m.superseded_at is None]
            assert current == max(homes, key=lambda m: m.recorded_at)  # the last said
            profile = mem.memories.profile(user)
            assert profile is not None and profile.sources["home_city"] == current.id
            assert profile.fields["home_city"] in current.text
            assert home_as_of(mem, user, current.recorded_at) == [current.id]
            for home in homes:  # each alone answers "as of" when it was said
                assert home_as_of(mem, user, home.recorded_at) == [home.id]


def home_as_of(mem: Engram, user: str, moment: datetime) -> list[str]:
    """The memories that said where `user` lived at `moment`."""
    hits = mem.memories.search("Where does the user live?", user_id=user, as_of=moment)
    return [hit.memory.id for hit in hits if hit.memory.attribute == "home_city"]


def test_a_deleted_memory_stays_deleted(pool: WriterPool, memory_address: str) -> None:
    with Engram(memory_address) as mem:
        ids = [
            mem.memories.add(workers.VEGETARIAN, user_id=f"gone-{r}", infer=False).added[0].id
            for r in range(ROUNDS)
        ]
    results = run(pool, workers.race_the_deletion, memory_address, ids)
    with Engram(memory_address) as mem:
        for round_, memory_id in enumerate(ids):
            user = f"gone-{round_}"
            deleted, updated, *adds = (by_writer[round_] for by_writer in results)
            assert deleted == 1
            assert updated in (memory_id, None)
            with pytest.raises(NotFoundError):
                mem.memories.get(memory_id)
            history = mem.memories.history(memory_id)
            assert history[-1].action == "delete"
            assert all(c.old_text is None and c.new_text is None for c in history)
            left = everything(mem, user)
            readded = [m for report in adds for m in report["added"]]
            assert sorted(m.id for m in left) == sorted(readded)
            assert len(readded) <= 1
            assert all(m.text == workers.VEGETARIAN for m in left)


def test_a_deletion_waiting_behind_an_edit_is_recorded_after_it(
    memory_address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race above, made certain: a deletion asked for before an edit that took the lock
    first (stamped when asked) still reads last in the memory's history."""
    with Engram(memory_address) as mem:
        [memory] = mem.memories.add(workers.VEGETARIAN, user_id="ana", infer=False).added
        asked = utcnow()
        mem.memories.update(memory.id, workers.VEGAN)
        monkeypatch.setattr(engram._memories, "utcnow", lambda: asked)
        mem.memories.delete(memory.id)
        assert [c.action for c in mem.memories.history(memory.id)] == ["add", "update", "delete"]


def test_writers_of_different_users_do_not_fail(pool: WriterPool, memory_address: str) -> None:
    run(pool, workers.add_for_own_user, memory_address, ROUNDS)
    with Engram(memory_address) as mem:
        for index in range(WRITERS):
            user = f"own-{index}"
            city = workers.CITIES[index].removeprefix("I live in ").rstrip(".")
            [home] = [m for m in facts(mem, user) if m.attribute == "home_city"]
            assert city in home.text and len(home.source_ids) == ROUNDS
            assert [m.text for m in facts(mem, user) if m.attribute is None] == [workers.VEGETARIAN]
            profile = mem.memories.profile(user)
            assert profile is not None
            expected = {"home_city": city} | {f"round-{r}": "done" for r in range(ROUNDS)}
            assert profile.fields == expected
