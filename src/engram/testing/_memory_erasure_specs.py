"""Memory-store specs: audit history and real erasure."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from engram._exceptions import ConflictError, InvalidInputError
from engram.stores.memories import DeleteScope, ErasureReport, MemoryFilter, PutMemories
from engram.testing._memory_checks import (
    MODEL,
    OTHER_TENANT,
    TENANT,
    at,
    ids_of,
    memory,
    put,
    unit_vectors,
)
from engram.types._memory import Entity, MemoryChange, Relation, UserProfile

__all__ = ["MemoryErasureSpecs"]

_EVERY = MemoryFilter(include_superseded=True)


def _change(memory_id: str, action: Any, day: float, **fields: Any) -> MemoryChange:
    return MemoryChange(memory_id, action, tenant=TENANT, at=at(day), **fields)


def _texts(changes: list[MemoryChange]) -> list[tuple[Any, ...]]:
    return [(c.action, c.old_text, c.new_text, c.reason) for c in changes]


def _user_world(store: Any, user_id: str, prefix: str) -> list[str]:
    """A user with current and retired memories, vectors, history (one tombstone),
    entities, relations and a profile; returns the ids of the memories ever written."""
    memories = [
        memory(f"{prefix} likes tea", id=f"{prefix}1", user_id=user_id, session_id="s1"),
        memory(
            f"{prefix} lives in Rome",
            id=f"{prefix}2",
            user_id=user_id,
            superseded_at=at(2),
            valid_to=at(2),
        ),
        memory(f"{prefix} lives in Oslo", id=f"{prefix}3", user_id=user_id, session_id="s2"),
        memory(f"{prefix} once said X", id=f"{prefix}4", user_id=user_id),
    ]
    put(store, memories, unit_vectors(4), history=True)
    store.delete_memories(TENANT, [f"{prefix}4"], reason="user request", at=at(3))
    store.put_entities(
        TENANT, [Entity(f"{prefix} person", id=f"{prefix}-e1", tenant=TENANT, user_id=user_id)]
    )
    store.put_relations(
        TENANT,
        [
            Relation(
                f"{prefix}-e1", "likes", "tea", id=f"{prefix}-r1", tenant=TENANT, user_id=user_id
            )
        ],
    )
    store.put_profile(
        UserProfile(user_id, tenant=TENANT, fields={"city": "Oslo"}, sources={"city": f"{prefix}3"})
    )
    return [memory_.id for memory_ in memories]


class MemoryErasureSpecs:
    """History and erasure; part of `MemoryStoreSpec`."""

    # History.

    def test_history_is_oldest_first(self, memory_store: Any) -> None:
        changes = [
            _change("m1", "update", 2, old_text="a", new_text="b", id="c3"),
            _change("m1", "add", 1, new_text="a", id="c1"),
            _change("m1", "update", 2, old_text="b", new_text="c", id="c2"),
        ]
        memory_store.put_memories(TENANT, [memory("c", id="m1")], changes=changes)
        assert ids_of(memory_store.get_history(TENANT, "m1")) == ["c1", "c2", "c3"]
        assert memory_store.get_history(TENANT, "m1")[0] == changes[1]
        assert memory_store.get_history(TENANT, "nope") == []

    def test_history_can_be_appended_later(self, memory_store: Any) -> None:
        put(memory_store, [memory(id="m1")], history=True)
        later = _change("m1", "update", 1, old_text="Ana drinks green tea", new_text="x")
        memory_store.put_memories(TENANT, [], changes=[later])
        assert [c.action for c in memory_store.get_history(TENANT, "m1")] == ["add", "update"]

    # Deleting memories.

    def test_delete_erases_and_leaves_a_tombstone(self, memory_store: Any) -> None:
        put(
            memory_store,
            [memory("Ana is 41", id="m1"), memory("Bo", id="m2")],
            unit_vectors(2),
            history=True,
        )
        update = _change(
            "m1",
            "update",
            1,
            old_text="Ana is 41",
            new_text="Ana is 42",
            reason="she said so: Ana is 42",
        )
        memory_store.put_memories(
            TENANT, [memory("Ana is 42", id="m1")], vectors=[None], changes=[update]
        )
        report = memory_store.delete_memories(TENANT, ["m1", "ghost"], reason="forget", at=at(5))
        assert report == ErasureReport(memories=1, vectors=0, history=2)
        assert memory_store.get_memory(TENANT, "m1") is None
        assert memory_store.get_vectors(TENANT, ["m1"], MODEL) == [None]
        assert memory_store.search_lexical(TENANT, "Ana 42", _EVERY) == []
        history = memory_store.get_history(TENANT, "m1")
        assert _texts(history) == [
            ("add", None, None, None),
            ("update", None, None, None),
            ("delete", None, None, "forget"),
        ]
        assert history[-1].at == at(5)
        assert memory_store.get_history(TENANT, "ghost") == []
        assert memory_store.get_memory(TENANT, "m2") is not None

    def test_delete_counts_vectors_relations_and_profile_fields(self, memory_store: Any) -> None:
        put(memory_store, [memory(id="m1"), memory("Bo", id="m2")], unit_vectors(2))
        memory_store.put_relations(
            TENANT,
            [
                Relation("e1", "drinks", "e2", id="r1", tenant=TENANT, memory_id="m1"),
                Relation("e1", "knows", "e3", id="r2", tenant=TENANT, memory_id="m2"),
            ],
        )
        profile = UserProfile(
            "u1",
            tenant=TENANT,
            fields={"drink": "tea", "name": "Ana"},
            sources={"drink": "m1", "name": "m2"},
        )
        memory_store.put_profile(profile)
        report = memory_store.delete_memories(TENANT, ["m1"], at=at(1))
        assert report == ErasureReport(memories=1, vectors=1, relations=1, profiles=1)
        assert ids_of(memory_store.list_relations(TENANT)) == ["r2"]
        kept = memory_store.get_profile(TENANT, "u1")
        assert (dict(kept.fields), dict(kept.sources)) == ({"name": "Ana"}, {"name": "m2"})

    def test_delete_blanks_copies_of_the_text_elsewhere(self, memory_store: Any) -> None:
        berlin, lisbon = "Ana lives in Berlin", "Ana lives in Lisbon"
        put(memory_store, [memory(berlin, id="m1", superseded_at=at(1)), memory(lisbon, id="m2")])
        swap = _change("m1", "supersede", 1, old_text=berlin, new_text=lisbon, related_id="m2")
        memory_store.put_memories(TENANT, [], changes=[swap])
        memory_store.delete_memories(TENANT, ["m2"], at=at(2))
        [kept] = memory_store.get_history(TENANT, "m1")
        assert (kept.old_text, kept.new_text, kept.related_id) == (berlin, None, "m2")

    def test_delete_unlinks_the_memories_it_retired(self, memory_store: Any) -> None:
        """No dangling `superseded_by`: the retired memory stays retired (and exports)."""
        old = memory("Ana lives in Berlin", id="m1", superseded_at=at(1), superseded_by="m2")
        put(memory_store, [old, memory("Ana lives in Lisbon", id="m2")])
        memory_store.delete_memories(TENANT, ["m2"], at=at(2))
        kept = memory_store.get_memory(TENANT, "m1")
        assert (kept.superseded_by, kept.superseded_at) == (None, at(1))

    def test_delete_scope_unlinks_the_memories_it_retired(self, memory_store: Any) -> None:
        old = memory("Ana lives in Berlin", id="m1", superseded_at=at(1), superseded_by="m2")
        put(memory_store, [old, memory("Ana lives in Rome", id="m2", session_id="s9")])
        memory_store.delete_scope(TENANT, session_id="s9")
        kept = memory_store.get_memory(TENANT, "m1")
        assert (kept.superseded_by, kept.superseded_at) == (None, at(1))

    def test_deleted_id_can_be_reused(self, memory_store: Any) -> None:
        put(memory_store, [memory(id="m1")], unit_vectors(1), history=True)
        memory_store.delete_memories(TENANT, ["m1"], at=at(1))
        put(memory_store, [memory("Ana drinks coffee", id="m1")], unit_vectors(1, seed=5))
        assert memory_store.get_memory(TENANT, "m1").text == "Ana drinks coffee"
        assert [c.action for c in memory_store.get_history(TENANT, "m1")] == ["add", "delete"]
        hits = memory_store.search_vector(TENANT, unit_vectors(1, seed=5)[0], MODEL)
        assert hits[0].score == pytest.approx(1.0, abs=1e-5)

    # Tombstones.

    def test_tombstones_are_the_erasures_of_a_user(self, memory_store: Any) -> None:
        put(memory_store, [memory(id="m1"), memory("Bo", id="m2")], history=True)
        put(memory_store, [memory("Cy", id="m3", user_id="u2")], history=True)
        memory_store.delete_memories(TENANT, ["m1"], reason="forget", at=at(1))
        memory_store.delete_memories(TENANT, ["m3"], at=at(2))
        [tombstone] = memory_store.list_tombstones(TENANT, "u1")
        assert tombstone == memory_store.get_history(TENANT, "m1")[-1]
        assert (tombstone.memory_id, tombstone.reason, tombstone.at) == ("m1", "forget", at(1))
        assert _texts(memory_store.list_tombstones(TENANT, "u2")) == [("delete", None, None, None)]
        assert memory_store.list_tombstones(TENANT, "nobody") == []
        assert memory_store.list_tombstones(OTHER_TENANT, "u1") == []

    def test_a_reused_or_wholly_erased_memory_has_no_tombstone(self, memory_store: Any) -> None:
        put(memory_store, [memory(id="m1")], history=True)
        memory_store.delete_memories(TENANT, ["m1"], at=at(1))
        put(memory_store, [memory("Ana drinks coffee", id="m1")])
        assert memory_store.list_tombstones(TENANT, "u1") == []
        memory_store.delete_memories(TENANT, ["m1"], at=at(2))
        assert len(memory_store.list_tombstones(TENANT, "u1")) == 2
        memory_store.delete_scope(TENANT, user_id="u1")
        assert memory_store.list_tombstones(TENANT, "u1") == []

    def test_tombstones_of_memories_never_held_are_stored_once(self, memory_store: Any) -> None:
        erased = _change("x1", "delete", 2, reason="user request", id="t1")
        other = _change("x2", "delete", 1, id="t2")
        assert memory_store.put_tombstones(TENANT, "u1", [erased, other, erased]) == 2
        assert memory_store.put_tombstones(TENANT, "u1", [erased]) == 0
        assert memory_store.list_tombstones(TENANT, "u1") == [other, erased]
        assert memory_store.get_history(TENANT, "x1") == [erased]
        assert memory_store.list_tombstones(TENANT, "u2") == []

    @pytest.mark.parametrize(
        "entry",
        [
            {"action": "add"},
            {"action": "delete", "old_text": "Ana drinks green tea"},
            {"action": "delete", "new_text": ""},
            {"action": "delete", "tenant": OTHER_TENANT},
        ],
    )
    def test_put_tombstones_refuses_what_is_not_a_tombstone(
        self, memory_store: Any, entry: dict[str, Any]
    ) -> None:
        change = MemoryChange("x1", **{"tenant": TENANT, **entry})
        with pytest.raises(InvalidInputError):
            memory_store.put_tombstones(TENANT, "u1", [change])
        assert memory_store.get_history(TENANT, "x1") == []

    def test_put_tombstones_refuses_a_memory_the_store_holds(self, memory_store: Any) -> None:
        put(memory_store, [memory(id="m1")], history=True)
        tombstones = [_change("x1", "delete", 1), _change("m1", "delete", 1)]
        with pytest.raises(ConflictError, match="m1"):
            memory_store.put_tombstones(TENANT, "u1", tombstones)
        assert memory_store.get_history(TENANT, "x1") == []
        assert [c.action for c in memory_store.get_history(TENANT, "m1")] == ["add"]

    # Deleting scopes.

    def test_delete_user_leaves_nothing_of_them(self, memory_store: Any) -> None:
        gone = _user_world(memory_store, "u1", "a")
        kept = _user_world(memory_store, "u2", "b")
        report = memory_store.delete_scope(TENANT, user_id="u1")
        # 3 memories (one was deleted before), 3 vectors, 4 add entries + 1 tombstone.
        assert report == ErasureReport(3, 3, 5, 1, 1, 1)
        mine = MemoryFilter(user_id="u1", include_superseded=True)
        assert memory_store.list_memories(TENANT, mine) == []
        assert all(memory_store.get_history(TENANT, memory_id) == [] for memory_id in gone)
        assert memory_store.get_vectors(TENANT, gone, MODEL) == [None] * 4
        assert memory_store.scan_vectors(TENANT, MODEL, mine).ids == ()
        assert memory_store.list_entities(TENANT, "u1") == []
        assert memory_store.list_relations(TENANT, "u1") == []
        assert memory_store.get_profile(TENANT, "u1") is None
        theirs = MemoryFilter(user_id="u2", include_superseded=True)
        assert sorted(ids_of(memory_store.list_memories(TENANT, theirs))) == kept[:3]
        assert len(memory_store.get_history(TENANT, "b4")) == 2
        assert memory_store.get_profile(TENANT, "u2") is not None

    def test_deleted_user_can_come_back(self, memory_store: Any) -> None:
        _user_world(memory_store, "u1", "a")
        memory_store.delete_scope(TENANT, user_id="u1")
        put(memory_store, [memory("new life", id="n1")], unit_vectors(1, seed=9), history=True)
        mine = MemoryFilter(user_id="u1")
        assert ids_of(
            memory_store.search_vector(TENANT, unit_vectors(1, seed=9)[0], MODEL, mine)
        ) == ["n1"]
        assert ids_of(memory_store.search_lexical(TENANT, "life", mine)) == ["n1"]
        assert memory_store.get_history(TENANT, "a1") == []

    def test_delete_session_erases_only_its_memories(self, memory_store: Any) -> None:
        _user_world(memory_store, "u1", "a")
        report = memory_store.delete_scope(TENANT, session_id="s1")
        assert (report.memories, report.vectors, report.history) == (1, 1, 1)
        assert memory_store.get_memory(TENANT, "a1") is None
        assert [c.action for c in memory_store.get_history(TENANT, "a1")] == ["add", "delete"]
        assert memory_store.get_memory(TENANT, "a3") is not None
        assert memory_store.get_profile(TENANT, "u1") is not None
        assert len(memory_store.list_entities(TENANT, "u1")) == 1

    def test_a_spared_memory_outlives_its_session_with_only_its_current_text(
        self, memory_store: Any
    ) -> None:
        """`DeleteScope.spared`: another session said it too; the caller moved it out of
        the erased one, and its history keeps none of the texts it had before."""
        kept = memory("Ana lives in Berlin", id="k1", user_id="u1", session_id="s1")
        gone = memory("Ana says hi", id="g1", user_id="u1", session_id="s1")
        put(memory_store, [kept, gone], unit_vectors(2), history=True)
        refined = "Ana lives in Berlin, Mitte"
        moved = replace(kept, text=refined, session_id="s2", source_ids=("msg2",))
        edit = _change("k1", "update", 1, old_text=kept.text, new_text=refined)
        memory_store.batch([PutMemories(TENANT, (moved,), changes=(edit,))])
        [report] = memory_store.batch([DeleteScope(TENANT, session_id="s1", spared=("k1",))])
        # g1's add blanked; k1's add (its first text) and its update's old text
        assert (report.memories, report.vectors, report.history) == (1, 1, 3)
        assert ids_of(memory_store.list_memories(TENANT, _EVERY)) == ["k1"]
        [left] = memory_store.list_memories(TENANT, MemoryFilter(session_id="s2"))
        assert (left.text, left.source_ids) == (refined, ("msg2",))
        assert [
            (c.action, c.old_text, c.new_text) for c in memory_store.get_history(TENANT, "k1")
        ] == [("add", None, None), ("update", None, refined)]
        assert memory_store.list_memories(TENANT, MemoryFilter(session_id="s1")) == []

    def test_erased_sources_leave_the_history_of_the_memories_left(self, memory_store: Any) -> None:
        """`DeleteScope.erased_sources`: the scope's message ids that no memory left comes
        from go from the history of the memories named `unsourced`; others stay."""
        kept = memory("Ana lives in Berlin", id="k1", user_id="u1", session_id="s2")
        other = memory("Ana likes tea", id="o1", user_id="u1", session_id="s3")
        gone = memory("Ana says hi", id="g1", user_id="u1", session_id="s1")
        put(memory_store, [kept, other, gone], unit_vectors(3))
        said = (
            _change("k1", "add", 0, new_text=kept.text, source_ids=("m1",)),
            _change("k1", "update", 1, new_text=kept.text, source_ids=("m1", "m2")),
            _change("o1", "add", 0, new_text=other.text, source_ids=("m1", "m3")),
        )
        memory_store.batch([PutMemories(TENANT, (), changes=said)])
        op = DeleteScope(TENANT, session_id="s1", unsourced=("k1",), erased_sources=("m1",))
        [report] = memory_store.batch([op])
        assert report.memories == 1
        assert [c.source_ids for c in memory_store.get_history(TENANT, "k1")] == [(), ("m2",)]
        assert [c.source_ids for c in memory_store.get_history(TENANT, "o1")] == [("m1", "m3")]

    def test_delete_scope_fields_combine(self, memory_store: Any) -> None:
        put(
            memory_store,
            [
                memory("x", id="m1", agent_id="a1"),
                memory("y", id="m2", agent_id="a1", user_id="u2"),
                memory("z", id="m3", agent_id="a2"),
            ],
        )
        report = memory_store.delete_scope(TENANT, user_id="u1", agent_id="a1")
        assert report.memories == 1
        assert sorted(ids_of(memory_store.list_memories(TENANT))) == ["m2", "m3"]
        assert memory_store.delete_scope(TENANT, agent_id="a1").memories == 1

    def test_delete_scope_needs_a_scope(self, memory_store: Any) -> None:
        with pytest.raises(InvalidInputError):
            memory_store.delete_scope(TENANT)
