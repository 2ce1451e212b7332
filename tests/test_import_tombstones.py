"""An import brings the erasures of the exporting database: a replica or a backup kept by
importing another database's exports nightly forgets what the user erased there, as
`delete` forgets it, and still never takes back an erasure of its own."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engram import Engram, Message, NotFoundError
from engram._memory_transfer import ImportedMemories
from engram.memory import ForgettingPolicy
from engram.providers import CachedEmbedder
from engram.types._memory import Memory
from test_memories_lifecycle import Counting

pytest_plugins = ["servers"]

SECRET = "I live in Quokkaville."
"""What Ana erases: a fact with a profile field, a relation and an entity only it names."""


def _erase_by_delete(source: Engram, secret: Sequence[Memory]) -> None:
    for memory in secret:
        source.memories.delete(memory.id)


def _erase_by_forget(source: Engram, secret: Sequence[Memory]) -> None:
    everything = ForgettingPolicy(max_per_user=0, keep_profile=False)
    source.memories.forget(everything, user_id="ana")  # the rest pinned


def _erase_by_session(source: Engram, secret: Sequence[Memory]) -> None:
    source.memories.delete_all(user_id="ana", session_id="s2")


ERASURES: dict[str, Callable[[Engram, Sequence[Memory]], None]] = {
    "delete": _erase_by_delete,
    "forget": _erase_by_forget,
    "delete_all(session_id)": _erase_by_session,
}


def _import(engram: Engram, data: dict[str, Any], driver: str) -> ImportedMemories:
    if driver == "async":
        return asyncio.run(engram.memories.aimport_(data))
    return engram.memories.import_(data)


@pytest.fixture
def source(tmp_path: Path) -> Iterator[Engram]:
    with Engram(str(tmp_path / "source.db")) as engram:
        yield engram


def _day_one(source: Engram) -> tuple[Memory, list[Memory]]:
    """Ana's memories: one she keeps (pinned), and what she said in session "s2" only, to
    erase (the fact and its episode)."""
    kept = source.memories.add("Ana likes green tea", user_id="ana", infer=False).added[0]
    source.memories.update(kept.id, pinned=True)
    said = [Message(role="user", content=SECRET)]
    secret = source.memories.add(messages=said, user_id="ana", session_id="s2").added
    assert any(m.attribute == "home_city" for m in secret)
    return kept, secret


def _without_tombstone_ids(data: dict[str, Any]) -> dict[str, Any]:
    """An export, its tombstones by memory, reason and user: each database stamps its own."""
    keys = ("memory_id", "reason", "user_id")
    tombstones = sorted(tuple(t[key] for key in keys) for t in data["tombstones"])
    return {**data, "tombstones": tombstones}


@pytest.mark.parametrize("driver", ["sync", "async"])
@pytest.mark.parametrize("how", list(ERASURES))
def test_an_erasure_in_the_source_reaches_the_replica(
    source: Engram, memory_engram: Engram, how: str, driver: str
) -> None:
    """Day 1 is imported into the replica; on day 2 Ana erases in the source: the day 2
    import erases there what the source erased, its profile field, relation and entity
    too, and leaves the replica as the source is (but for its own tombstones)."""
    replica = memory_engram
    kept, secret = _day_one(source)
    _import(replica, source.memories.export(user_id="ana"), driver)
    assert replica.memories.profile("ana").fields["home_city"] == "Quokkaville"  # type: ignore[union-attr]
    ERASURES[how](source, secret)
    day_two = source.memories.export(user_id="ana")

    imported = _import(replica, day_two, driver)

    assert imported.erased == len(secret)
    assert [m.id for m in imported] == [kept.id]
    copy = replica.memories.export(user_id="ana")
    assert "Quokkaville" not in json.dumps(copy)
    assert _without_tombstone_ids(copy) == _without_tombstone_ids(day_two)
    assert replica.memories.profile("ana").fields == {}  # type: ignore[union-attr]
    assert "Quokkaville" not in [e.name for e in replica.memories.entities(user_id="ana")]
    for memory in secret:
        with pytest.raises(NotFoundError):
            replica.memories.get(memory.id)
        history = replica.memories.history(memory.id)
        assert history[-1].action == "delete"
        assert all(c.old_text is None and c.new_text is None for c in history)
    found = replica.memories.search("Where does Ana live?", user_id="ana")
    assert [hit.memory.id for hit in found] == [kept.id]


def test_an_import_erases_only_what_a_tombstone_of_the_same_user_names(
    source: Engram, memory_engram: Engram
) -> None:
    """A tombstone erases the memory of its id and user alone: Bob's memory, named by a
    tombstone of Ana's in an edited export, and the replica's own memory of Ana, which no
    tombstone names, stay."""
    replica = memory_engram
    kept, secret = _day_one(source)
    replica.memories.import_(source.memories.export(user_id="ana"))
    bob = replica.memories.add("Bob likes chess", user_id="bob", infer=False).added[0]
    own = replica.memories.add("Ana likes oolong", user_id="ana", infer=False).added[0]
    _erase_by_delete(source, secret)
    day_two = source.memories.export(user_id="ana")
    forged = {**day_two["tombstones"][0], "id": "forged", "memory_id": bob.id}
    day_two["tombstones"].append(forged)

    imported = replica.memories.import_(day_two)

    assert imported.erased == len(secret)
    assert replica.memories.get(bob.id).text == "Bob likes chess"
    assert replica.memories.get(own.id).text == "Ana likes oolong"
    assert replica.memories.get(kept.id).text == kept.text


def test_a_backup_older_than_the_erasure_stays_erased_in_the_replica(
    source: Engram, memory_engram: Engram
) -> None:
    """An import never undoes an erasure, the one an import brought included: day 1's
    export, restored after day 2's, brings nothing erased back."""
    replica = memory_engram
    kept, secret = _day_one(source)
    day_one = source.memories.export(user_id="ana")
    replica.memories.import_(day_one)
    _erase_by_delete(source, secret)
    replica.memories.import_(source.memories.export(user_id="ana"))

    restored = replica.memories.import_(day_one)

    assert [m.id for m in restored] == [kept.id]
    assert restored.skipped_erased == len(secret) and restored.erased == 0
    assert [m.id for m in replica.memories.get_all(user_id="ana")] == [kept.id]
    assert "Quokkaville" not in json.dumps(replica.memories.export(user_id="ana"))


def _said(text: str, month: int) -> list[Message]:
    return [Message(role="user", content=text, created_at=datetime(2026, month, 10, tzinfo=UTC))]


def test_a_value_the_import_erases_retires_no_value_the_export_brings(
    source: Engram, memory_engram: Engram
) -> None:
    """The erased value said last takes no part in settling the slot: the value the source
    learned after the erasure (said earlier) is current in the replica as in the source,
    not retired by a value the same import erases."""
    replica = memory_engram
    secret = source.memories.add(messages=_said(SECRET, 5), user_id="ana").added
    replica.memories.import_(source.memories.export(user_id="ana"))
    _erase_by_delete(source, secret)
    source.memories.add(messages=_said("I live in Berlin.", 3), user_id="ana")

    replica.memories.import_(source.memories.export(user_id="ana"))

    [home] = [m for m in replica.memories.get_all(user_id="ana") if m.attribute == "home_city"]
    assert "Berlin" in home.text
    assert replica.memories.profile("ana").fields == {"home_city": "Berlin"}  # type: ignore[union-attr]


def test_an_erasure_imported_drops_the_texts_from_the_embedding_cache(
    source: Engram, tmp_path: Path
) -> None:
    model = Counting()
    embedder = CachedEmbedder(model)
    secret = source.memories.add("Ana's door code is quokka-mauve", user_id="ana", infer=False)
    [memory] = secret.added
    with Engram(tmp_path / "replica.db", embedder=embedder) as replica:
        replica.memories.import_(source.memories.export(user_id="ana"))
        model.seen.clear()
        embedder.embed([memory.text], tenant=replica.tenant)
        assert model.seen == []  # the control: the import cached it
        source.memories.delete(memory.id)

        replica.memories.import_(source.memories.export(user_id="ana"))

        embedder.embed([memory.text], tenant=replica.tenant)
        assert model.seen == [memory.text]


_STEP = st.one_of(
    st.tuples(st.just("erase"), st.integers(0, 3), st.sampled_from(["delete", "forget"])),
    st.just(("sync",)),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(_STEP, max_size=8))
def test_a_replica_synced_by_imports_holds_what_the_source_holds(
    steps: list[tuple[Any, ...]],
) -> None:
    """After any erasures in the source, between nightly imports into the replica, the
    replica holds, after the next import, no memory the source erased, and all it kept."""
    with (
        tempfile.TemporaryDirectory() as folder,
        Engram(str(Path(folder) / "a.db")) as source,
        Engram(str(Path(folder) / "b.db")) as replica,
    ):
        ids = [
            source.memories.add(f"Ana's note {n}", user_id="ana", infer=False).added[0].id
            for n in range(4)
        ]
        for step in steps:
            if step[0] == "sync":
                replica.memories.import_(source.memories.export(user_id="ana"))
                continue
            _, index, how = step
            if how == "delete" and _held(source, ids[index]):
                source.memories.delete(ids[index])
            elif how == "forget":
                for memory_id in ids:  # all but the chosen one pinned: forget takes it alone
                    if _held(source, memory_id):
                        source.memories.update(memory_id, pinned=memory_id != ids[index])
                source.memories.forget(
                    ForgettingPolicy(max_per_user=0, keep_profile=False), user_id="ana"
                )
        replica.memories.import_(source.memories.export(user_id="ana"))

        left = sorted(m.id for m in source.memories.get_all(user_id="ana"))
        assert sorted(m.id for m in replica.memories.get_all(user_id="ana")) == left


def _held(engram: Engram, memory_id: str) -> bool:
    try:
        engram.memories.get(memory_id)
    except NotFoundError:
        return False
    return True
