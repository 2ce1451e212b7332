"""Erasure is real: a deleted memory's text is gone from every table and from the file's bytes.

SQLite keeps deleted rows' bytes in free space unless `secure_delete` is on (it is, on every
`SqliteConnection`); the memory store keeps no FTS5 index, whose segments would keep a deleted
document's terms. Each test checks the file after a `wal_checkpoint(TRUNCATE)`, so nothing is
left only in the WAL, and first checks that the marker *was* in the file (the control).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engram.stores.memories import VectorRecord
from engram.stores.memory_memories import InMemoryMemoryStore
from engram.stores.sqlite.memories import SqliteMemoryStore
from engram.testing._memory_checks import MODEL, TENANT, at, memory, unit_vectors
from engram.types._memory import Entity, MemoryChange, UserProfile

MARKER = "zqxjvorp"
"""A word that appears nowhere else: in texts, history, profiles."""


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "engram.db"


@pytest.fixture
def store(db: Path) -> Iterator[SqliteMemoryStore]:
    with SqliteMemoryStore.from_path(db) as opened:
        yield opened


def _file_bytes(store: SqliteMemoryStore, db: Path) -> bytes:
    store.conn.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    wal = db.with_name(db.name + "-wal")
    return db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def _fill(store: SqliteMemoryStore, user_id: str = "u1") -> None:
    """Ballast: other users' memories, so the erased rows share pages with live ones."""
    others = [
        memory(f"ballast fact number {i}", id=f"b{i}", user_id=f"other{i % 3}") for i in range(200)
    ]
    store.put_memories(TENANT, others, vectors=[VectorRecord(MODEL, v) for v in unit_vectors(200)])


def test_deleted_memory_is_gone_from_the_file(store: SqliteMemoryStore, db: Path) -> None:
    _fill(store)
    old, new = f"Ana's code is {MARKER} 41", f"Ana's code is {MARKER} 42"
    store.put_memories(
        TENANT,
        [memory(old, id="secret"), memory("Ana likes tea", id="kept", superseded_at=at(2))],
        vectors=[VectorRecord(MODEL, unit_vectors(1)[0]), None],
        changes=[MemoryChange("secret", "add", new_text=old, tenant=TENANT, at=at(0))],
    )
    store.put_memories(
        TENANT,
        [memory(new, id="secret")],
        changes=[
            MemoryChange(
                "secret",
                "update",
                old_text=old,
                new_text=new,
                tenant=TENANT,
                reason=f"corrected to {MARKER} 42",
                at=at(1),
            ),
            MemoryChange(
                "kept",
                "supersede",
                old_text="Ana likes tea",
                new_text=new,
                related_id="secret",
                tenant=TENANT,
                at=at(2),
            ),
        ],
    )
    store.put_profile(
        UserProfile(
            "u1", tenant=TENANT, fields={"code": f"{MARKER} 42"}, sources={"code": "secret"}
        )
    )
    assert MARKER.encode() in _file_bytes(store, db)

    report = store.delete_memories(TENANT, ["secret"], reason="user request", at=at(3))

    assert (report.memories, report.profiles) == (1, 1)
    assert MARKER.encode() not in _file_bytes(store, db)
    assert store.get_history(TENANT, "kept")[0].old_text == "Ana likes tea"
    assert [c.action for c in store.get_history(TENANT, "secret")] == ["add", "update", "delete"]


def test_deleted_user_is_gone_from_the_file(store: SqliteMemoryStore, db: Path) -> None:
    _fill(store)
    user = f"user-{MARKER}"
    memories = [
        memory(
            f"fact {i} about the user",
            id=f"{MARKER}-{i}",
            user_id=user,
            session_id=f"session-{MARKER}",
        )
        for i in range(50)
    ]
    store.put_memories(
        TENANT,
        memories,
        vectors=[VectorRecord(MODEL, v) for v in unit_vectors(50, seed=3)],
        changes=[MemoryChange(m.id, "add", new_text=m.text, tenant=TENANT) for m in memories],
    )
    store.put_entities(TENANT, [Entity(f"{MARKER} Inc", id="e1", tenant=TENANT, user_id=user)])
    store.put_profile(UserProfile(user, tenant=TENANT, fields={"name": MARKER}))
    assert MARKER.encode() in _file_bytes(store, db)

    store.delete_scope(TENANT, user_id=user)

    assert MARKER.encode() not in _file_bytes(store, db)
    assert store.count_memories(TENANT) == 200


def test_erased_text_leaves_the_write_ahead_log_at_once(store: SqliteMemoryStore, db: Path) -> None:
    """A server never closes its database: the log must not keep what an erasure removed."""
    _fill(store)
    store.put_memories(TENANT, [memory(f"Ana's PIN hint is {MARKER}", id="secret")])
    wal = db.with_name(db.name + "-wal")
    assert MARKER.encode() in db.read_bytes() + wal.read_bytes()  # not checkpointed yet
    store.delete_memories(TENANT, ["secret"], reason="user request", at=at(3))
    left = db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert MARKER.encode() not in left


@pytest.mark.parametrize("backend", ["sqlite", "memory"])
def test_erasing_a_memory_keeps_the_history_of_another_with_the_same_text(
    request: pytest.FixtureRequest, backend: str
) -> None:
    """A fact said in two sessions is kept in each: erasing one blanks none of the other's
    history, which holds no trace of it (its own text is still stored)."""
    store = request.getfixturevalue("store") if backend == "sqlite" else InMemoryMemoryStore()
    text = f"Ana's code is {MARKER}"
    store.put_memories(
        TENANT,
        [memory(text, id="s1", session_id="s1"), memory(text, id="s2", session_id="s2")],
        changes=[
            MemoryChange(memory_id, "add", new_text=text, tenant=TENANT, at=at(0))
            for memory_id in ("s1", "s2")
        ],
    )
    store.delete_memories(TENANT, ["s2"])
    [add] = store.get_history(TENANT, "s1")
    assert add.new_text == text
    store.delete_memories(TENANT, ["s1"])  # the last one: no copy of it is left
    assert [change.new_text for change in store.get_history(TENANT, "s1")] == [None, None]
