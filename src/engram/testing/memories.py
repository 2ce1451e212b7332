"""The conformance suite of `BaseMemoryStore`: every backend must pass it.

`MemoryStoreSpec` holds the specs, written once against the contract; subclass it as
`Test...` with a `memory_store` fixture yielding a fresh, empty store. Wrap a store in
`AsyncDrivenMemoryStore` to run every spec through its `abatch` as well. Every spec passes
its times explicitly, so nothing sleeps. Needs pytest and hypothesis.

The specs are grouped by area: storing and reading (here), filters and search
(`_memory_search_specs`), history and erasure (`_memory_erasure_specs`).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime
from typing import Any

import numpy as np
import pytest

from engram._exceptions import ConflictError, InvalidInputError, NotFoundError
from engram.stores.memories import (
    CountMemories,
    CountUnembedded,
    DeleteEntities,
    DeleteMemories,
    GetMemories,
    MemoryFilter,
    PutMemories,
    PutVectors,
    SearchLexical,
    VectorRecord,
)
from engram.testing._memory_checks import (
    DIM,
    MODEL,
    OTHER_TENANT,
    T0,
    TENANT,
    AsyncDrivenMemoryStore,
    at,
    ids_of,
    memory,
    put,
    unit_vectors,
)
from engram.testing._memory_erasure_specs import MemoryErasureSpecs
from engram.testing._memory_search_specs import MemorySearchSpecs
from engram.types._memory import Entity, Memory, MemoryChange, Relation, UserProfile

__all__ = ["AsyncDrivenMemoryStore", "MemoryStoreSpec"]


def _full_memory() -> Memory:
    return memory(
        "Ana moved to Lisbon in May",
        id="m-full",
        kind="episode",
        agent_id="a1",
        session_id="s1",
        attribute="home_city",
        metadata={"source": "chat", "tags": ["move", "city"], "n": 2, "ok": True},
        importance=0.8,
        source_ids=("msg1", "msg2"),
        entity_ids=("e-ana", "e-lisbon"),
        valid_from=at(-30),
        valid_to=at(300),
        superseded_at=at(5),
        superseded_by="m-next",
        access_count=3,
        last_accessed_at=at(1),
        pinned=True,
    )


class MemoryStoreSpec(MemorySearchSpecs, MemoryErasureSpecs):
    """The behaviour every `BaseMemoryStore` must have.

    Needs a `memory_store` fixture: a fresh, empty store (sync API; wrap an async-only
    store in `AsyncDrivenMemoryStore`).
    """

    supports_threads: bool = True
    """The store may be shared by threads (batches from several threads serialise)."""

    # Storing and reading.

    def test_put_and_get_round_trip(self, memory_store: Any) -> None:
        original = _full_memory()
        stored = memory_store.put_memories(TENANT, [original])
        assert stored == [original]
        got = memory_store.get_memory(TENANT, "m-full")
        assert got == original
        assert got.to_dict() == original.to_dict()

    def test_times_come_back_in_utc(self, memory_store: Any) -> None:
        naive = datetime(2025, 3, 1, 8, 30)
        memory_store.put_memories(TENANT, [memory(id="m1", recorded_at=naive, valid_from=naive)])
        got = memory_store.get_memory(TENANT, "m1")
        assert got.recorded_at == naive.replace(tzinfo=T0.tzinfo)
        assert got.valid_from.utcoffset().total_seconds() == 0

    def test_get_is_aligned_with_ids(self, memory_store: Any) -> None:
        put(memory_store, [memory(id="m1"), memory("Bo", id="m2")])
        got = memory_store.batch([GetMemories(TENANT, ("m2", "nope", "m1"))])[0]
        assert [item.id if item else None for item in got] == ["m2", None, "m1"]

    def test_put_replaces_by_id(self, memory_store: Any) -> None:
        put(memory_store, [memory(id="m1")])
        put(memory_store, [memory("Ana drinks coffee now", id="m1", importance=0.9)])
        got = memory_store.get_memory(TENANT, "m1")
        assert (got.text, got.importance) == ("Ana drinks coffee now", 0.9)
        assert memory_store.count_memories(TENANT, MemoryFilter(include_superseded=True)) == 1
        assert memory_store.search_lexical(TENANT, "tea") == []

    def test_returned_and_stored_records_are_detached(self, memory_store: Any) -> None:
        metadata: dict[str, Any] = {"tags": ["a"]}
        put(memory_store, [memory("Ana likes tea", id="m1", metadata=metadata)])
        metadata["tags"].append("b")
        assert ids_of(memory_store.search_lexical(TENANT, "tea")) == ["m1"]  # caches may fill
        for mark in ("c", "d"):  # read once from the store, then from what it may have cached
            got = memory_store.get_memory(TENANT, "m1")
            got.metadata["tags"].append(mark)
            assert memory_store.get_memory(TENANT, "m1").metadata == {"tags": ["a"]}

    @pytest.mark.parametrize(
        "bad",
        [
            {"tenant": OTHER_TENANT},
            {"text": "   "},
            {"kind": "rumour"},
            {"user_id": ""},
            {"importance": 1.5},
            {"metadata": {"when": T0}},
            {"metadata": {"x": float("nan")}},
            {"text": "lone \ud800 surrogate"},
        ],
        ids=[
            "tenant_mismatch",
            "blank_text",
            "unknown_kind",
            "empty_user",
            "importance",
            "datetime_metadata",
            "nan_metadata",
            "lone_surrogate",
        ],
    )
    def test_invalid_memory_is_rejected(self, memory_store: Any, bad: dict[str, Any]) -> None:
        fields = {"id": "m-bad"} | bad
        text = fields.pop("text", "fine text")
        with pytest.raises(InvalidInputError):
            memory_store.put_memories(TENANT, [memory(id="m-ok"), memory(text, **fields)])
        assert memory_store.count_memories(TENANT, MemoryFilter(include_superseded=True)) == 0

    @pytest.mark.parametrize("case", ["duplicate_ids", "vector_count", "zero_vector", "nan"])
    def test_invalid_put_is_rejected(self, memory_store: Any, case: str) -> None:
        memories = [memory(id="m1"), memory("Bo", id="m1" if case == "duplicate_ids" else "m2")]
        vectors = [VectorRecord(MODEL, row) for row in unit_vectors(2)]
        if case == "vector_count":
            vectors = vectors[:1]
        elif case == "zero_vector":
            vectors[1] = VectorRecord(MODEL, np.zeros(DIM, dtype=np.float32))
        elif case == "nan":
            vectors[1] = VectorRecord(MODEL, np.full(DIM, np.nan, dtype=np.float32))
        with pytest.raises(InvalidInputError):
            memory_store.put_memories(TENANT, memories, vectors=vectors)
        assert memory_store.count_memories(TENANT) == 0

    def test_change_of_unknown_memory_is_rejected(self, memory_store: Any) -> None:
        change = MemoryChange("ghost", "add", new_text="boo", tenant=TENANT)
        with pytest.raises(InvalidInputError):
            memory_store.put_memories(TENANT, [memory(id="m1")], changes=[change])
        assert memory_store.get_memory(TENANT, "m1") is None

    def test_memory_cannot_move_to_another_user(self, memory_store: Any) -> None:
        put(memory_store, [memory(id="m1")])
        with pytest.raises(ConflictError):
            put(memory_store, [memory(id="m1", user_id="u2")])
        assert memory_store.get_memory(TENANT, "m1").user_id == "u1"

    def test_model_dimension_is_fixed(self, memory_store: Any) -> None:
        put(memory_store, [memory(id="m1")], unit_vectors(1))
        with pytest.raises(InvalidInputError):
            put(memory_store, [memory(id="m2")], unit_vectors(1, dim=DIM + 1))
        with pytest.raises(InvalidInputError):
            memory_store.search_vector(TENANT, unit_vectors(1, dim=DIM + 1)[0], MODEL)

    def test_memory_without_user(self, memory_store: Any) -> None:
        put(memory_store, [memory(id="m1", user_id=None, agent_id="a1")])
        assert memory_store.get_memory(TENANT, "m1").user_id is None
        assert memory_store.count_memories(TENANT, MemoryFilter(agent_id="a1")) == 1
        assert memory_store.count_memories(TENANT, MemoryFilter(user_id="u1")) == 0

    # Vectors.

    def test_vectors_are_stored_normalised(self, memory_store: Any) -> None:
        raw = np.arange(1, DIM + 1, dtype=np.float32)
        memory_store.put_memories(TENANT, [memory(id="m1")], vectors=[VectorRecord(MODEL, raw)])
        [got] = memory_store.get_vectors(TENANT, ["m1"], MODEL)
        np.testing.assert_allclose(got, raw / np.linalg.norm(raw), rtol=1e-6)
        assert got.dtype == np.float32
        assert memory_store.get_vectors(TENANT, ["m1", "nope"], "other-model") == [None, None]

    def test_new_text_drops_old_vectors(self, memory_store: Any) -> None:
        put(memory_store, [memory(id="m1"), memory("Bo", id="m2")], unit_vectors(2))
        put(memory_store, [memory(id="m1", importance=0.9), memory("Bo is tall", id="m2")])
        kept, dropped = memory_store.get_vectors(TENANT, ["m1", "m2"], MODEL)
        assert kept is not None and dropped is None

    def test_put_vectors_reembeds(self, memory_store: Any) -> None:
        put(memory_store, [memory(id="m1")], unit_vectors(1, seed=1))
        new = unit_vectors(1, seed=2, dim=4)[0]
        memory_store.batch([_put_vectors(["m1"], [VectorRecord("model-b", new)])])
        [old] = memory_store.get_vectors(TENANT, ["m1"], MODEL)
        [got] = memory_store.get_vectors(TENANT, ["m1"], "model-b")
        np.testing.assert_allclose(old, unit_vectors(1, seed=1)[0], rtol=1e-6)
        np.testing.assert_allclose(got, new, rtol=1e-6)
        hits = memory_store.search_vector(TENANT, new, "model-b")
        assert [hit.memory_id for hit in hits] == ["m1"]
        with pytest.raises(NotFoundError):
            memory_store.batch([_put_vectors(["ghost"], [VectorRecord("model-b", new)])])

    def test_scan_vectors_matches_get_vectors(self, memory_store: Any) -> None:
        memories = [memory(f"fact {i}", id=f"m{i}") for i in (3, 1, 2)]
        memories.append(memory("old", id="m0", superseded_at=at(1)))
        put(memory_store, memories, unit_vectors(4))
        scanned = memory_store.scan_vectors(TENANT, MODEL, MemoryFilter(user_id="u1"))
        assert scanned.ids == ("m1", "m2", "m3")
        expected = memory_store.get_vectors(TENANT, list(scanned.ids), MODEL)
        np.testing.assert_allclose(scanned.matrix, np.stack(expected), rtol=1e-6)
        assert memory_store.scan_vectors(TENANT, "unknown").ids == ()

    def test_count_unembedded(self, memory_store: Any) -> None:
        embedded = [memory(f"fact {i}", id=f"m{i}") for i in (0, 1)]
        put(memory_store, embedded, unit_vectors(2))
        other_model = [VectorRecord("model-b", unit_vectors(1, seed=3, dim=4)[0])]
        memory_store.put_memories(TENANT, [memory("Ana rows", id="m5")], vectors=other_model)
        retired = memory("old", id="m3", superseded_at=at(1), valid_to=at(1))
        put(memory_store, [memory("fact 2", id="m2"), retired, memory("Bo", id="m4", user_id="u2")])
        ana, every = MemoryFilter(user_id="u1"), MemoryFilter(include_superseded=True)
        assert memory_store.count_unembedded(TENANT, MODEL, ana) == 2  # m2, m5: current ones
        assert (
            memory_store.count_unembedded(TENANT, MODEL, ana._replace(include_superseded=True)) == 3
        )
        assert memory_store.count_unembedded(TENANT, MODEL, every) == 4
        assert memory_store.count_unembedded(TENANT, "model-b", every) == 5
        assert memory_store.count_unembedded(TENANT, "unknown", every) == 6
        assert memory_store.count_unembedded(TENANT, MODEL, MemoryFilter(user_id="u9")) == 0
        assert memory_store.count_unembedded(OTHER_TENANT, MODEL, every) == 0
        vector = VectorRecord(MODEL, unit_vectors(1, seed=4)[0])
        before, _, after = memory_store.batch(
            [
                CountUnembedded(TENANT, MODEL, ana),
                _put_vectors(["m2"], [vector]),
                CountUnembedded(TENANT, MODEL, ana),
            ]
        )
        assert (before, after) == (2, 1)
        put(memory_store, [memory("fact 0, reworded", id="m0")])  # a new text drops its vector
        assert memory_store.count_unembedded(TENANT, MODEL, ana) == 2

    # Access.

    def test_record_access(self, memory_store: Any) -> None:
        put(memory_store, [memory(id="m1"), memory("Bo", id="m2")])
        assert memory_store.record_access(TENANT, ["m1", "nope"], at=at(2)) == 1
        assert memory_store.record_access(TENANT, ["m1"], at=at(3)) == 1
        got = memory_store.get_memory(TENANT, "m1")
        assert (got.access_count, got.last_accessed_at) == (2, at(3))
        assert memory_store.get_memory(TENANT, "m2").access_count == 0

    # Tenancy.

    def test_other_tenant_sees_nothing(self, memory_store: Any) -> None:
        put(memory_store, [memory(id="m1", session_id="s1")], unit_vectors(1), history=True)
        memory_store.put_entities(TENANT, [Entity("Ana", id="e1", tenant=TENANT, user_id="u1")])
        memory_store.put_relations(TENANT, [_relation("r1", "e1", "e1")])
        memory_store.put_profile(UserProfile("u1", tenant=TENANT, fields={"name": "Ana"}))
        every = MemoryFilter(include_superseded=True)
        query = unit_vectors(1)[0]
        assert memory_store.get_memory(OTHER_TENANT, "m1") is None
        assert memory_store.list_memories(OTHER_TENANT, every) == []
        assert memory_store.count_memories(OTHER_TENANT, every) == 0
        assert memory_store.search_lexical(OTHER_TENANT, "tea") == []
        assert memory_store.search_vector(OTHER_TENANT, query, MODEL) == []
        assert memory_store.scan_vectors(OTHER_TENANT, MODEL).ids == ()
        assert memory_store.get_vectors(OTHER_TENANT, ["m1"], MODEL) == [None]
        assert memory_store.get_history(OTHER_TENANT, "m1") == []
        assert memory_store.record_access(OTHER_TENANT, ["m1"], at=at(1)) == 0
        assert memory_store.list_entities(OTHER_TENANT) == []
        assert memory_store.list_relations(OTHER_TENANT) == []
        assert memory_store.get_profile(OTHER_TENANT, "u1") is None
        with pytest.raises(NotFoundError):
            memory_store.batch([_put_vectors(["m1"], [VectorRecord(MODEL, query)], OTHER_TENANT)])

    def test_other_tenant_cannot_erase(self, memory_store: Any) -> None:
        put(memory_store, [memory(id="m1", session_id="s1")], unit_vectors(1), history=True)
        memory_store.put_profile(UserProfile("u1", tenant=TENANT, fields={"name": "Ana"}))
        assert memory_store.delete_memories(OTHER_TENANT, ["m1"]).total == 0
        assert memory_store.delete_scope(OTHER_TENANT, user_id="u1").total == 0
        assert memory_store.delete_scope(OTHER_TENANT, session_id="s1").total == 0
        assert memory_store.get_memory(TENANT, "m1") is not None
        assert memory_store.get_history(TENANT, "m1")[0].new_text == "Ana drinks green tea"
        assert memory_store.get_profile(TENANT, "u1") is not None

    def test_same_ids_in_two_tenants_are_two_memories(self, memory_store: Any) -> None:
        put(memory_store, [memory(id="m1")])
        other = memory("Globex fact", id="m1", tenant=OTHER_TENANT, user_id="u1")
        memory_store.put_memories(OTHER_TENANT, [other])
        assert memory_store.get_memory(TENANT, "m1").text == "Ana drinks green tea"
        assert memory_store.get_memory(OTHER_TENANT, "m1").text == "Globex fact"

    def test_list_users(self, memory_store: Any) -> None:
        retired = memory(id="m4", user_id="u3", superseded_at=at(1), valid_to=at(1))
        agents = memory(id="m3", user_id=None, agent_id="a1")
        put(memory_store, [memory(id="m1", user_id="u2"), memory(id="m2"), agents, retired])
        other = memory("Globex fact", id="m9", tenant=OTHER_TENANT, user_id="u9")
        memory_store.put_memories(OTHER_TENANT, [other])
        assert memory_store.list_users(TENANT) == ["u1", "u2", "u3"]  # retired ones count
        assert memory_store.list_users(TENANT, limit=1, offset=1) == ["u2"]
        assert memory_store.list_users(OTHER_TENANT) == ["u9"]
        memory_store.delete_memories(TENANT, ["m1"])
        assert memory_store.list_users(TENANT) == ["u1", "u3"]  # no memory left: not a user
        with pytest.raises(InvalidInputError):
            memory_store.list_users(TENANT, limit=-1)
        assert memory_store.list_users(TENANT, offset=2**63 - 1) == []
        with pytest.raises(InvalidInputError, match="offset"):
            memory_store.list_users(TENANT, offset=2**63)

    # Entities, relations, profiles.

    def test_entities(self, memory_store: Any) -> None:
        ana = Entity(
            "Ana",
            kind="person",
            aliases=("Annie", "Anita Sousa-Gonçalves"),
            id="e1",
            tenant=TENANT,
            user_id="u1",
            created_at=at(0),
            updated_at=at(0),
        )
        acme = Entity(
            "Acme",
            kind="organisation",
            id="e2",
            tenant=TENANT,
            user_id="u1",
            metadata={"hq": "Lyon"},
            created_at=at(1),
            updated_at=at(1),
        )
        other = Entity(
            "Ana", id="e3", tenant=TENANT, user_id="u2", created_at=at(2), updated_at=at(2)
        )
        assert memory_store.put_entities(TENANT, [ana, acme, other]) == [ana, acme, other]
        assert memory_store.list_entities(TENANT, "u1") == [ana, acme]
        assert ids_of(memory_store.list_entities(TENANT, name_or_alias="ANA")) == ["e1", "e3"]
        assert ids_of(memory_store.list_entities(TENANT, "u1", name_or_alias="annie")) == ["e1"]
        # Accents, case and spacing aside, as entity resolution compares names (`fold`).
        folded = memory_store.list_entities(TENANT, name_or_alias=" anita  sousa-goncalves")
        assert ids_of(folded) == ["e1"]
        renamed = replace(ana, name="Ana Lima")
        memory_store.put_entities(TENANT, [renamed])
        assert memory_store.list_entities(TENANT, "u1")[0] == renamed

    def test_relations_with_validity(self, memory_store: Any) -> None:
        works = _relation("r1", "e1", "e2", valid_from=at(0), valid_to=at(10))
        lives = _relation("r2", "e1", "e3", created_at=at(1), valid_from=at(5))
        theirs = replace(_relation("r3", "e9", "e2"), user_id="u2", created_at=at(2))
        memory_store.put_relations(TENANT, [works, lives, theirs])
        assert ids_of(memory_store.list_relations(TENANT, "u1")) == ["r1", "r2"]
        assert ids_of(memory_store.list_relations(TENANT, entity_id="e2")) == ["r1", "r3"]
        assert ids_of(memory_store.list_relations(TENANT, "u1", as_of=at(3))) == ["r1"]
        assert ids_of(memory_store.list_relations(TENANT, "u1", as_of=at(10))) == ["r2"]
        assert ids_of(memory_store.list_relations(TENANT, "u1", as_of=at(-1))) == []

    def test_delete_entities_takes_their_relations(self, memory_store: Any) -> None:
        memory_store.put_entities(TENANT, [Entity("Ana", id="e1", tenant=TENANT)])
        memory_store.put_relations(
            TENANT, [_relation("r1", "e1", "e2"), _relation("r2", "e2", "e3")]
        )
        report = memory_store.batch([_delete_entities(["e1"])])[0]
        assert (report.entities, report.relations) == (1, 1)
        assert ids_of(memory_store.list_relations(TENANT)) == ["r2"]

    def test_profile_round_trip(self, memory_store: Any) -> None:
        assert memory_store.get_profile(TENANT, "u1") is None
        profile = UserProfile(
            "u1",
            tenant=TENANT,
            fields={"name": "Ana", "diet": "vegan"},
            sources={"diet": "m1"},
            last_interaction_at=at(1),
            updated_at=at(1),
        )
        assert memory_store.put_profile(profile) == profile
        assert memory_store.get_profile(TENANT, "u1") == profile
        smaller = replace(profile, fields={"name": "Ana"}, sources={}, updated_at=at(2))
        memory_store.put_profile(smaller)
        assert memory_store.get_profile(TENANT, "u1") == smaller

    # Batches.

    def test_batch_sees_its_own_writes_in_order(self, memory_store: Any) -> None:
        every = MemoryFilter(include_superseded=True)
        results = memory_store.batch(
            [
                CountMemories(TENANT, every),
                PutMemories(TENANT, (memory(id="m1"),)),
                CountMemories(TENANT, every),
                SearchLexical(TENANT, "tea"),
            ]
        )
        assert results[0] == 0 and results[2] == 1
        assert ids_of(results[3]) == ["m1"]

    def test_failed_batch_leaves_no_trace(self, memory_store: Any) -> None:
        put(memory_store, [memory(id="m1")], unit_vectors(1), history=True)
        memory_store.put_profile(
            UserProfile("u1", tenant=TENANT, fields={"a": "b"}, sources={"a": "m1"})
        )
        bad = PutMemories(TENANT, (memory("", id="m3"),))
        with pytest.raises(InvalidInputError):
            memory_store.batch(
                [
                    PutMemories(
                        TENANT, (memory("Bo", id="m2"),), (VectorRecord(MODEL, unit_vectors(1)[0]),)
                    ),
                    _delete_memories(["m1"]),
                    bad,
                ]
            )
        assert memory_store.get_memory(TENANT, "m2") is None
        assert memory_store.get_memory(TENANT, "m1") is not None
        assert [c.new_text for c in memory_store.get_history(TENANT, "m1")] == [
            "Ana drinks green tea"
        ]
        assert memory_store.get_profile(TENANT, "u1").fields == {"a": "b"}
        assert ids_of(memory_store.search_vector(TENANT, unit_vectors(1)[0], MODEL)) == ["m1"]

    def test_concurrent_puts_from_threads(self, memory_store: Any) -> None:
        if not self.supports_threads:
            pytest.skip("the store is not shared by threads")
        errors: list[BaseException] = []

        def work(worker: int) -> None:
            try:
                for index in range(5):
                    put(memory_store, [memory(f"w{worker} fact {index}", id=f"w{worker}-{index}")])
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(worker,)) for worker in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert memory_store.count_memories(TENANT) == 20

    async def test_async_convenience_methods(self, memory_store: Any) -> None:
        store = (
            memory_store.inner if isinstance(memory_store, AsyncDrivenMemoryStore) else memory_store
        )
        vectors = [VectorRecord(MODEL, unit_vectors(1)[0])]
        await store.aput_memories(TENANT, [memory(id="m1")], vectors=vectors)
        got = await store.aget_memory(TENANT, "m1")
        assert got is not None and got.id == "m1"
        assert await store.acount_memories(TENANT) == 1
        assert ids_of(await store.alist_memories(TENANT)) == ["m1"]
        assert ids_of(await store.asearch_lexical(TENANT, "tea")) == ["m1"]
        assert ids_of(await store.asearch_vector(TENANT, vectors[0].vector, MODEL)) == ["m1"]
        assert (await store.ascan_vectors(TENANT, MODEL)).ids == ("m1",)
        assert (await store.aget_vectors(TENANT, ["m1"], MODEL))[0] is not None
        assert await store.arecord_access(TENANT, ["m1"], at=at(1)) == 1
        assert await store.aget_history(TENANT, "m1") == []
        await store.aput_entities(TENANT, [Entity("Ana", id="e1", tenant=TENANT)])
        assert ids_of(await store.alist_entities(TENANT)) == ["e1"]
        await store.aput_relations(TENANT, [_relation("r1", "e1", "e1")])
        assert ids_of(await store.alist_relations(TENANT)) == ["r1"]
        await store.aput_profile(UserProfile("u1", tenant=TENANT))
        profile = await store.aget_profile(TENANT, "u1")
        assert profile is not None and profile.user_id == "u1"
        assert (await store.adelete_memories(TENANT, ["m1"])).memories == 1
        assert (await store.adelete_scope(TENANT, user_id="u1")).profiles == 1


def _relation(relation_id: str, source: str, target: str, **fields: Any) -> Relation:
    fields.setdefault("created_at", T0)
    return Relation(source, "knows", target, id=relation_id, tenant=TENANT, user_id="u1", **fields)


def _put_vectors(ids: list[str], records: list[VectorRecord], tenant: str = TENANT) -> PutVectors:
    return PutVectors(tenant, tuple(ids), tuple(records))


def _delete_entities(ids: list[str]) -> DeleteEntities:
    return DeleteEntities(TENANT, tuple(ids))


def _delete_memories(ids: list[str]) -> DeleteMemories:
    return DeleteMemories(TENANT, tuple(ids), "test", at(9))
