"""Memory-store specs: filters, listing order, lexical and vector search."""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engram._exceptions import InvalidInputError
from engram.stores import _memory_rules as rules
from engram.stores.memories import ListMemories, MemoryFilter
from engram.testing._memory_checks import (
    MODEL,
    TENANT,
    at,
    brute_force_top,
    ids_of,
    memory,
    put,
    unit_vectors,
)
from engram.types._memory import Memory

__all__ = ["MemorySearchSpecs"]

_tenants = itertools.count()


def _filter_cases() -> list[tuple[str, MemoryFilter, list[str]]]:
    """(name, filter, expected ids in id order) over `_filter_pool()`."""
    return [
        ("default_is_current", MemoryFilter(), ["a", "b", "c", "d", "f"]),
        ("user", MemoryFilter(user_id="u2"), ["d"]),
        ("agent", MemoryFilter(agent_id="a1"), ["a", "f"]),
        ("session", MemoryFilter(session_id="s2"), ["b"]),
        ("kinds", MemoryFilter(kinds=("episode", "preference")), ["b", "c"]),
        ("ids", MemoryFilter(ids=("a", "e", "zzz")), ["a"]),
        ("attributes", MemoryFilter(attributes=("diet",)), ["a"]),
        ("entities", MemoryFilter(entity_ids=("e2", "e9")), ["b", "c"]),
        ("metadata_text", MemoryFilter(metadata={"k": "1"}), ["b"]),
        ("metadata_int", MemoryFilter(metadata={"k": 1}), ["a"]),
        ("metadata_float_is_int", MemoryFilter(metadata={"k": 1.0}), ["a"]),
        ("metadata_true_is_not_1", MemoryFilter(metadata={"k": True}), ["c"]),
        ("metadata_null", MemoryFilter(metadata={"k": None}), ["d"]),
        ("metadata_two_keys", MemoryFilter(metadata={"k": 1, "z": "y"}), ["a"]),
        ("after_inclusive", MemoryFilter(after=at(2)), ["c", "d", "f"]),
        ("before_exclusive", MemoryFilter(before=at(2)), ["a", "b"]),
        ("include_superseded", MemoryFilter(include_superseded=True), list("abcdef")),
        ("superseded_user", MemoryFilter(user_id="u1", include_superseded=True), list("abcef")),
    ]


def _filter_pool() -> list[Memory]:
    return [
        memory(
            "a",
            id="a",
            agent_id="a1",
            session_id="s1",
            attribute="diet",
            entity_ids=("e1",),
            metadata={"k": 1, "z": "y"},
            recorded_at=at(0),
        ),
        memory(
            "b",
            id="b",
            kind="episode",
            session_id="s2",
            entity_ids=("e1", "e2"),
            metadata={"k": "1"},
            recorded_at=at(1),
        ),
        memory(
            "c",
            id="c",
            kind="preference",
            entity_ids=("e2",),
            metadata={"k": True},
            valid_from=at(2),
            recorded_at=at(5),
        ),
        memory("d", id="d", user_id="u2", metadata={"k": None}, recorded_at=at(3)),
        memory(
            "e", id="e", attribute="diet", superseded_at=at(4), valid_to=at(4), recorded_at=at(0.5)
        ),
        memory("f", id="f", agent_id="a1", valid_from=at(6), valid_to=at(7), recorded_at=at(6)),
    ]


def _memory_pool() -> st.SearchStrategy[list[Memory]]:
    days = st.sampled_from([None, 0, 1, 2, 3])
    scalar = st.sampled_from([1, 1.0, 2, True, False, "1", None])

    @st.composite
    def one(draw: st.DrawFn, index: int) -> Memory:
        valid_from, valid_to, superseded = draw(days), draw(days), draw(days)
        recorded = draw(st.sampled_from([0, 1, 2]))
        metadata = draw(st.dictionaries(st.sampled_from(["k", "j"]), scalar, max_size=2))
        return memory(
            f"memory {index}",
            id=f"m{index:02d}",
            user_id=draw(st.sampled_from(["u1", "u2", None])),
            agent_id=draw(st.sampled_from(["a1", None])),
            session_id=draw(st.sampled_from(["s1", "s2", None])),
            kind=draw(st.sampled_from(["fact", "episode"])),
            attribute=draw(st.sampled_from(["diet", None])),
            entity_ids=tuple(draw(st.lists(st.sampled_from(["e1", "e2"]), max_size=2))),
            metadata=metadata,
            valid_from=None if valid_from is None else at(valid_from),
            valid_to=None if valid_to is None else at(valid_to + 0.5),
            recorded_at=at(recorded),
            superseded_at=None if superseded is None else at(superseded + 0.25),
        )

    return st.integers(1, 10).flatmap(lambda n: st.tuples(*[one(i) for i in range(n)]).map(list))


def _filters() -> st.SearchStrategy[MemoryFilter]:
    maybe_day = st.sampled_from([None, -1, 0, 0.5, 1, 1.3, 2, 3.7, 9])
    return st.builds(
        lambda owner, agent, session, kinds, entities, meta, as_of, valid_at, sup, after, before: (
            MemoryFilter(
                user_id=owner[0],
                without_user=owner[1],
                agent_id=agent,
                session_id=session,
                kinds=kinds,
                entity_ids=entities,
                metadata=meta,
                as_of=None if as_of is None else at(as_of),
                valid_at=None if valid_at is None else at(valid_at),
                include_superseded=sup,
                after=None if after is None else at(after),
                before=None if before is None else at(before),
            )
        ),
        st.sampled_from([(None, False), (None, True), ("u1", False), ("u2", False)]),
        st.sampled_from([None, "a1"]),
        st.sampled_from([None, "s1"]),
        st.sampled_from([None, ("fact",), ("episode", "fact")]),
        st.sampled_from([None, ("e1",), ("e2", "e3")]),
        st.sampled_from([None, {"k": 1}, {"k": True}, {"j": None}, {"k": "1", "j": 2}]),
        maybe_day,
        maybe_day,
        st.booleans(),
        maybe_day,
        maybe_day,
    )


class MemorySearchSpecs:
    """Filters, ordering and search; part of `MemoryStoreSpec`."""

    # Filters.

    @pytest.mark.parametrize(
        ("case", "selected", "expected"), _filter_cases(), ids=[case[0] for case in _filter_cases()]
    )
    def test_filter_field(
        self, memory_store: Any, case: str, selected: MemoryFilter, expected: list[str]
    ) -> None:
        put(memory_store, _filter_pool())
        got = memory_store.list_memories(TENANT, selected, limit=100)
        assert sorted(ids_of(got)) == expected
        assert memory_store.count_memories(TENANT, selected) == len(expected)

    @pytest.mark.parametrize(
        ("moment", "expected"),
        [(-1, []), (0, []), (1, ["berlin"]), (4.5, ["berlin"]), (5, ["lisbon"]), (20, ["lisbon"])],
    )
    def test_as_of_is_bitemporal(
        self, memory_store: Any, moment: float, expected: list[str]
    ) -> None:
        # Ana lived in Berlin from day 0; on day 5 she said she had moved to Lisbon on day 3.
        berlin = memory(
            "Ana lives in Berlin",
            id="berlin",
            valid_from=at(0),
            valid_to=at(3),
            recorded_at=at(0.5),
            superseded_at=at(5),
            superseded_by="lisbon",
        )
        lisbon = memory("Ana lives in Lisbon", id="lisbon", valid_from=at(3), recorded_at=at(5))
        put(memory_store, [berlin, lisbon])
        got = memory_store.list_memories(TENANT, MemoryFilter(as_of=at(moment)))
        assert ids_of(got) == expected
        true_then = memory_store.list_memories(TENANT, MemoryFilter(valid_at=at(moment)))
        assert ids_of(true_then) == (
            ["berlin"] if 0 <= moment < 3 else ["lisbon"] if moment >= 3 else []
        )
        assert ids_of(memory_store.list_memories(TENANT)) == ["lisbon"]

    @pytest.mark.parametrize(
        ("moment", "expected"),
        [(-400, ["braga", "porto"]), (1.5, ["braga", "porto"]), (2, ["porto"]), (3, []), (9, [])],
    )
    def test_valid_at_an_end_said_without_a_start(
        self, memory_store: Any, moment: float, expected: list[str]
    ) -> None:
        # Said on day 9: "I lived in Braga until day 2", and "... in Porto until day 3"
        # (recorded as it ended). Of unknown start, each held up to its end, not from when it
        # was recorded (an empty span). A value retired before it was said never held.
        braga = memory("Ana lived in Braga", id="braga", valid_to=at(2), recorded_at=at(9))
        porto = memory("Ana lived in Porto", id="porto", valid_to=at(3), recorded_at=at(3))
        never = memory(
            "Ana lives in Faro",
            id="faro",
            valid_to=at(1),
            recorded_at=at(9),
            superseded_at=at(9.5),
            superseded_by="lisbon",
        )
        put(memory_store, [braga, porto, never])
        got = memory_store.list_memories(TENANT, MemoryFilter(valid_at=at(moment)))
        assert sorted(ids_of(got)) == expected
        assert memory_store.count_memories(TENANT, MemoryFilter(valid_at=at(moment))) == len(
            expected
        )

    @settings(
        max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(pool=_memory_pool(), selected=st.lists(_filters(), min_size=1, max_size=4))
    def test_filters_agree_with_the_reference(
        self, memory_store: Any, pool: list[Memory], selected: list[MemoryFilter]
    ) -> None:
        tenant = f"h{next(_tenants)}"
        pool = [replace(item, tenant=tenant) for item in pool]
        memory_store.put_memories(tenant, pool)
        stored = [rules.checked_memory(tenant, m) for m in pool]
        for one in selected:
            checked = rules.checked_filter(one)
            expected = sorted(m.id for m in stored if rules.matches(m, checked))
            got = memory_store.list_memories(tenant, one, limit=1000)
            assert sorted(ids_of(got)) == expected, one

    def test_bad_filters_are_rejected(self, memory_store: Any) -> None:
        nested: Any = {"k": [1]}
        for bad in (
            MemoryFilter(metadata=nested),
            MemoryFilter(user_id=""),
            MemoryFilter(user_id="u1", without_user=True),
            MemoryFilter(metadata={"k": float("inf")}),
        ):
            with pytest.raises(InvalidInputError):
                memory_store.list_memories(TENANT, bad)
        with pytest.raises(InvalidInputError):
            memory_store.list_memories(TENANT, limit=-1)
        for offset in (2**63, 2**70):  # past what SQL takes: refused alike by every store
            with pytest.raises(InvalidInputError, match="offset"):
                memory_store.list_memories(TENANT, offset=offset)
        assert memory_store.list_memories(TENANT, offset=2**63 - 1) == []

    def test_without_user_selects_the_memories_of_no_user(self, memory_store: Any) -> None:
        # Six users told agent a1 what a1 holds itself, in words nearer the query: a filter
        # of a1 without a user still selects a1's own alone, to list, count and search.
        near, own = unit_vectors(2, seed=11)
        told = [
            memory("tea is served", id=f"told{i}", user_id=f"u{i}", agent_id="a1") for i in range(6)
        ]
        mine = [
            memory("tea is served at noon", id="own", user_id=None, agent_id="a1"),
            memory("tea is served", id="other", user_id=None, agent_id="a2"),
            memory("tea is served", id="old", user_id=None, agent_id="a1", superseded_at=at(1)),
        ]
        put(memory_store, [*told, *mine], np.array([near] * 6 + [own, near, near]))
        selected = MemoryFilter(agent_id="a1", without_user=True)
        assert ids_of(memory_store.list_memories(TENANT, selected)) == ["own"]
        assert memory_store.count_memories(TENANT, selected) == 1
        assert ids_of(memory_store.search_lexical(TENANT, "tea served", selected)) == ["own"]

        def nearest(where: MemoryFilter) -> list[str]:
            return ids_of(memory_store.search_vector(TENANT, near, MODEL, where, limit=1))

        assert nearest(selected) == ["own"]
        assert nearest(MemoryFilter(without_user=True)) == ["other"]
        assert nearest(selected._replace(include_superseded=True)) == ["old"]

    # Listing.

    def test_list_is_newest_event_first(self, memory_store: Any) -> None:
        put(memory_store, _filter_pool())
        every = MemoryFilter(include_superseded=True)
        # event time: valid_from, else recorded_at
        newest = ["f", "d", "c", "b", "e", "a"]
        assert ids_of(memory_store.list_memories(TENANT, every)) == newest
        assert ids_of(memory_store.list_memories(TENANT, every, limit=2, offset=1)) == ["d", "c"]
        oldest = memory_store.batch([ListMemories(TENANT, every, 3, 0, "oldest")])[0]
        assert ids_of(oldest) == ["a", "e", "b"]

    def test_list_ties_break_by_id(self, memory_store: Any) -> None:
        put(memory_store, [memory(str(i), id=f"m{i}") for i in (2, 9, 4)])
        assert ids_of(memory_store.list_memories(TENANT)) == ["m9", "m4", "m2"]

    # Lexical search.

    def test_lexical_ranks_by_bm25(self, memory_store: Any) -> None:
        put(
            memory_store,
            [
                memory("Ana loves hiking in the mountains", id="hike"),
                memory("Ana went hiking and hiking again, hiking is her thing", id="hike3"),
                memory("Ana loves the sea", id="sea"),
                memory("The mountains near Lyon are beautiful", id="lyon"),
            ],
        )
        hits = memory_store.search_lexical(TENANT, "hiking mountains")
        assert ids_of(hits) == ["hike", "hike3", "lyon"]
        assert all(a.score >= b.score > 0 for a, b in itertools.pairwise(hits))
        assert ids_of(memory_store.search_lexical(TENANT, "hiking mountains", limit=1)) == ["hike"]
        assert memory_store.search_lexical(TENANT, "volcano") == []
        assert memory_store.search_lexical(TENANT, "") == []

    def test_lexical_stems_and_folds(self, memory_store: Any) -> None:
        put(memory_store, [memory("Zoë RUNS a café", id="m1")])
        for query in ("running", "Cafe", "zoe"):
            assert ids_of(memory_store.search_lexical(TENANT, query)) == ["m1"], query

    def test_lexical_respects_filter_and_ties_by_id(self, memory_store: Any) -> None:
        put(
            memory_store,
            [
                memory("tea", id="m2"),
                memory("tea", id="m1"),
                memory("tea", id="m3", superseded_at=at(1)),
                memory("tea", id="m4", user_id="u2"),
            ],
        )
        hits = memory_store.search_lexical(TENANT, "tea", MemoryFilter(user_id="u1"))
        assert ids_of(hits) == ["m1", "m2"] and hits[0].score == pytest.approx(hits[1].score)
        everyone = memory_store.search_lexical(TENANT, "tea", MemoryFilter(include_superseded=True))
        assert ids_of(everyone) == ["m1", "m2", "m3", "m4"]

    # Vector search.

    @pytest.mark.parametrize(
        "selected",
        [
            MemoryFilter(user_id="u1"),
            MemoryFilter(user_id="u2", kinds=("episode",)),
            MemoryFilter(),
            MemoryFilter(include_superseded=True, session_id="s1"),
            MemoryFilter(user_id="u1", as_of=at(2)),
            MemoryFilter(without_user=True),
            MemoryFilter(without_user=True, kinds=("fact",), include_superseded=True),
        ],
        ids=[
            "user",
            "user_kind",
            "tenant",
            "superseded_session",
            "as_of",
            "no_user",
            "no_user_kind",
        ],
    )
    def test_vector_search_is_exact_under_filter(
        self, memory_store: Any, selected: MemoryFilter
    ) -> None:
        memories = [
            memory(
                f"fact {i}",
                id=f"m{i:03d}",
                user_id=("u1", "u2", None)[i % 3],
                kind=("fact", "episode")[i % 2],
                session_id=("s1", "s2")[i % 4 // 2],
                recorded_at=at(i % 4),
                superseded_at=at(3) if i % 5 == 0 else None,
            )
            for i in range(90)
        ]
        matrix = unit_vectors(90, seed=7)
        put(memory_store, memories, matrix)
        for seed in range(3):
            query = unit_vectors(1, seed=100 + seed)[0] * 3.0
            expected = brute_force_top(memories, matrix, query, selected, 10)
            hits = memory_store.search_vector(TENANT, query, MODEL, selected, limit=10)
            assert ids_of(hits) == [pair[0] for pair in expected]
            np.testing.assert_allclose([h.score for h in hits], [p[1] for p in expected], atol=1e-5)

    def test_vector_search_sees_writes_and_deletes(self, memory_store: Any) -> None:
        matrix = unit_vectors(3, seed=3)
        put(memory_store, [memory("x", id="m1")], matrix[:1])
        mine = MemoryFilter(user_id="u1")
        assert ids_of(memory_store.search_vector(TENANT, matrix[1], MODEL, mine)) == ["m1"]
        put(memory_store, [memory("y", id="m2")], matrix[1:2])
        assert ids_of(memory_store.search_vector(TENANT, matrix[1], MODEL, mine))[0] == "m2"
        memory_store.delete_memories(TENANT, ["m2"], at=at(1))
        assert ids_of(memory_store.search_vector(TENANT, matrix[1], MODEL, mine)) == ["m1"]
        assert memory_store.search_vector(TENANT, matrix[1], "no-such-model", mine) == []

    def test_vector_ties_break_by_id(self, memory_store: Any) -> None:
        same = unit_vectors(1, seed=4)
        put(memory_store, [memory("x", id=f"m{i}") for i in (3, 1, 2)], np.repeat(same, 3, axis=0))
        assert ids_of(memory_store.search_vector(TENANT, same[0], MODEL, limit=2)) == ["m1", "m2"]
