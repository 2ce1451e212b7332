"""Consolidation (near-duplicate clusters, merges, bloat), forgetting policies and decay."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engram._exceptions import InvalidInputError
from engram.memory import (
    ForgettingPolicy,
    bloat,
    decay,
    find_near_duplicates,
    merge_cluster,
    plan_consolidation,
    plan_forgetting,
)
from engram.memory.consolidation import (
    redirected_memories,
    redirected_profile,
    redirected_relations,
)
from engram.memory.timeline import Saying, said, sayings, with_sayings
from engram.types._memory import Memory, Relation, UserProfile

NOW = datetime(2024, 1, 1, tzinfo=UTC)


def vectors_for(groups: list[int], dim: int = 16, noise: float = 0.01, seed: int = 0) -> np.ndarray:
    """One vector per item; items of the same group are near-identical (cosine ~0.999)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(groups) + 1, dim))
    return np.stack([centres[g] + noise * rng.normal(size=dim) for g in groups])


def tag(index: int) -> str:
    """A text of item `index`'s own, without digits (a figure would keep it apart)."""
    letters = ""
    while True:
        index, rest = divmod(index, 26)
        letters = chr(ord("a") + rest) + letters
        if index == 0:
            return "m" + letters


def mem(text: str, **fields: object) -> Memory:
    fields.setdefault("user_id", "u1")
    fields.setdefault("source_ids", (f"src-{text}",))
    return Memory(text=text, **fields)  # type: ignore[arg-type]


def test_near_duplicates_cluster_within_a_user_and_kind() -> None:
    memories = [
        mem("Ana is vegetarian"),
        mem("Ana is a vegetarian"),
        mem("Ana likes jazz"),
        mem("Ana is vegetarian", user_id="u2"),  # same vector, other user
        mem("I'm vegetarian", kind="episode"),  # same vector, an episode
        mem("Ana was vegetarian", superseded_at=NOW),  # history is not consolidated
    ]
    vectors = vectors_for([0, 0, 1, 0, 0, 0])
    clusters = find_near_duplicates(memories, vectors, threshold=0.95)
    assert [[m.text for m in c] for c in clusters] == [["Ana is vegetarian", "Ana is a vegetarian"]]


def test_slot_rivals_never_merge() -> None:
    berlin = mem("Ana lives in Berlin", attribute="home_city", metadata={"value": "Berlin"})
    lisbon = mem("Ana lives in Lisbon", attribute="home_city", metadata={"value": "Lisbon"})
    assert find_near_duplicates([berlin, lisbon], vectors_for([0, 0]), 0.9) == []


def test_texts_alike_but_for_a_figure_never_merge() -> None:
    five, fifty = mem("Ana takes 5 mg of melatonin"), mem("Ana takes 50 mg of melatonin")
    again = mem("Ana takes 5 mg of melatonin!")
    clusters = find_near_duplicates([five, fifty, again], vectors_for([0, 0, 0]), 0.9)
    assert [{m.id for m in cluster} for cluster in clusters] == [{five.id, again.id}]


def test_merge_keeps_all_provenance_and_the_best_anchor() -> None:
    old = mem(
        "Ana is vegetarian",
        importance=0.6,
        access_count=2,
        valid_from=NOW,
        created_at=NOW - timedelta(days=9),
        entity_ids=("e1",),
    )
    pinned = mem(
        "Ana is a strict vegetarian",
        pinned=True,
        importance=0.4,
        access_count=1,
        created_at=NOW - timedelta(days=1),
        entity_ids=("e2",),
    )
    merge = merge_cluster([old, pinned], now=NOW)
    kept = merge.kept
    assert kept.id == pinned.id and kept.pinned
    assert kept.text == "Ana is a strict vegetarian"
    assert kept.source_ids == (*old.source_ids, *pinned.source_ids)
    assert kept.entity_ids == ("e1", "e2")
    assert (kept.importance, kept.access_count, kept.valid_from) == (0.6, 3, NOW)
    assert [m.id for m in merge.removed] == [old.id]
    assert kept.metadata["merged_from"] == [old.id]
    assert {(c.memory_id, c.action) for c in merge.changes} == {
        (pinned.id, "merge"),
        (old.id, "merge"),
    }


def test_merging_nothing_is_an_error() -> None:
    with pytest.raises(InvalidInputError):
        merge_cluster([])
    with pytest.raises(InvalidInputError):
        find_near_duplicates([mem("a")], np.zeros((2, 4)))


def test_plan_consolidation_and_bloat() -> None:
    memories = [mem(f"fact {tag(i)}") for i in range(6)]
    vectors = vectors_for([0, 0, 0, 1, 2, 2])
    assert bloat(memories, vectors, 0.95) == pytest.approx(3 / 6)
    plan = plan_consolidation(memories, vectors, 0.95, now=NOW)
    assert len(plan.merges) == 2 and len(plan.deletes) == 3
    survivors = [m for m in memories if m.id not in plan.deletes]
    assert bloat(survivors, vectors[[memories.index(m) for m in survivors]], 0.95) == 0.0
    assert bloat([], np.zeros((0, 4))) == 0.0


def test_a_threshold_of_one_finds_identical_vectors() -> None:
    """float32 puts the cosine of a vector with itself a little below 1 for about half of
    the vectors: a threshold of 1 (which `check_threshold` allows) then found no duplicate."""
    vectors = np.random.default_rng(1).normal(size=(20, 384)).astype(np.float32)
    for vector in vectors:
        pair = [mem("Ana likes tea"), mem("Ana likes tea")]
        assert find_near_duplicates(pair, np.stack([vector, vector]), 1.0) == [pair]


def test_blockwise_search_finds_pairs_across_blocks() -> None:
    groups = list(range(700)) + [5, 699]  # duplicates of items 5 and 699 at the far end
    memories = [mem(tag(i)) for i in range(len(groups))]
    clusters = find_near_duplicates(memories, vectors_for(groups, dim=32), 0.95)
    assert sorted(sorted(m.text for m in c) for c in clusters) == sorted(
        [sorted([tag(5), tag(700)]), sorted([tag(699), tag(701)])]
    )


@settings(max_examples=40, deadline=None)
@given(groups=st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=30))
def test_merging_clusters_keeps_the_union_of_provenance(groups: list[int]) -> None:
    memories = [mem(tag(i), source_ids=(f"s{i}", "shared")) for i in range(len(groups))]
    plan = plan_consolidation(memories, vectors_for(groups), 0.95, now=NOW)
    survivors = {m.id: m for m in memories if m.id not in plan.deletes}
    survivors.update({m.id: m for m in plan.updates})
    assert len(survivors) == len(set(groups))
    assert {s for m in survivors.values() for s in m.source_ids} == {
        s for m in memories for s in m.source_ids
    }


def lisbon_slot(**fields: object) -> Memory:
    return mem(
        "The user lives in Lisbon",
        kind="profile",
        attribute="home_city",
        metadata={"value": "Lisbon"},
        **fields,
    )


def test_the_slot_fact_is_kept_when_merged_with_a_plain_restatement() -> None:
    slot = lisbon_slot(importance=0.5)
    note = mem("The user moved to Lisbon.", importance=1.0, pinned=True)
    kept = merge_cluster([note, slot], now=NOW).kept
    assert kept.id == slot.id and kept.pinned and kept.importance == 1.0
    assert (kept.kind, kept.attribute, kept.metadata["value"]) == ("profile", "home_city", "Lisbon")


def test_a_merge_of_one_slot_value_keeps_every_saying_of_it() -> None:
    """(was: the kept memory's metadata won, so the other's sayings were lost and the value
    counted as said when the kept one last was, not when the user last said it)"""
    day = timedelta(days=1)
    old = lisbon_slot(recorded_at=NOW, source_ids=("a",))
    old = replace(old, metadata=with_sayings(old.metadata, [Saying(NOW + 2 * day, ("b",))]))
    other = lisbon_slot(recorded_at=NOW + day, source_ids=("c", "d"))
    other = replace(other, metadata=with_sayings(other.metadata, [Saying(NOW + 5 * day, ("d",))]))
    kept = merge_cluster([old, other], now=NOW + 6 * day).kept
    assert kept.recorded_at == NOW
    assert sayings(kept) == [
        Saying(NOW + day, ("c",)),
        Saying(NOW + 2 * day, ("b",)),
        Saying(NOW + 5 * day, ("d",)),
    ]
    assert said(kept)[0] == NOW + 5 * day


def test_a_fact_and_its_end_never_merge() -> None:
    """Revision keeps both, as opposites: a merge kept the longer, "used to", alone."""
    now, then = mem("Ana plays tennis every week."), mem("Ana used to play tennis every week.")
    assert find_near_duplicates([now, then], vectors_for([0, 0]), 0.9) == []
    with pytest.raises(InvalidInputError, match="polarities"):
        merge_cluster([now, then])


def test_a_cluster_never_chains_two_slots_through_a_third_memory() -> None:
    home = lisbon_slot()
    work = mem("The user works in Lisbon", attribute="work_city", metadata={"value": "Lisbon"})
    plain = mem("The user is in Lisbon")
    clusters = find_near_duplicates([home, plain, work], vectors_for([0, 0, 0]), 0.9)
    assert [[m.id for m in cluster] for cluster in clusters] == [[home.id, plain.id]]
    with pytest.raises(InvalidInputError):
        merge_cluster([home, plain, work])


def test_memories_of_different_sessions_or_agents_never_merge() -> None:
    memories = [
        mem("I love hiking", session_id="s1"),
        mem("I love hiking!", session_id="s2"),
        mem("I love hiking.", session_id="s1", agent_id="coach"),
        mem("I love hiking", session_id="s1"),
    ]
    clusters = find_near_duplicates(memories, vectors_for([0, 0, 0, 0]), 0.9)
    assert [[m.id for m in cluster] for cluster in clusters] == [[memories[0].id, memories[3].id]]


def test_the_kept_memory_was_known_and_valid_as_early_as_any_merged_one() -> None:
    early = mem("Ana is allergic to peanuts.", recorded_at=NOW - timedelta(days=28))
    late = mem(
        "Ana is allergic to peanuts!",
        importance=0.9,
        recorded_at=NOW,
        valid_from=NOW - timedelta(days=5),
        valid_to=NOW + timedelta(days=5),
    )
    dated = mem("Ana is allergic to peanut", valid_from=NOW - timedelta(days=9))
    kept = merge_cluster([early, late, dated], now=NOW).kept
    assert kept.id == late.id
    assert kept.recorded_at == NOW - timedelta(days=28)
    assert kept.valid_from == NOW - timedelta(days=9)  # the earliest known start
    assert kept.valid_to is None  # still true: two of them had no end


def test_what_pointed_at_a_merged_away_memory_points_at_its_survivor() -> None:
    kept, merged = lisbon_slot(importance=0.9), lisbon_slot(importance=0.5)
    plan = plan_consolidation([kept, merged], vectors_for([0, 0]), 0.9, now=NOW)
    assert plan.survivors == {merged.id: kept.id}
    porto = mem("The user lives in Porto", superseded_at=NOW, superseded_by=merged.id)
    assert [m.superseded_by for m in redirected_memories([porto, kept], plan.survivors)] == [
        kept.id
    ]
    profile = UserProfile("u1", fields={"home_city": "Lisbon"}, sources={"home_city": merged.id})
    assert redirected_profile(profile, plan.survivors, now=NOW).sources == {"home_city": kept.id}
    assert redirected_profile(replace(profile, sources={}), plan.survivors, now=NOW) is None
    day = timedelta(days=1)
    own = Relation("me", "lives_in", "lisbon", memory_id=kept.id, valid_from=NOW)
    same = Relation("me", "lives_in", "lisbon", memory_id=merged.id, valid_from=NOW - day)
    other = Relation("me", "likes", "trams", memory_id=merged.id)
    unrelated = Relation("me", "lives_in", "porto", memory_id=porto.id, valid_to=NOW)
    moved = redirected_relations([same, other, own, unrelated], plan.survivors)
    assert {(r.id, r.memory_id, r.valid_from) for r in moved} == {
        (own.id, kept.id, NOW - day),  # one edge, over both intervals
        (other.id, kept.id, None),
    }


def test_repeated_merges_remember_everything_merged() -> None:
    first, second, third = mem("a"), mem("b"), mem("c")
    kept = merge_cluster([first, second], now=NOW).kept
    again = merge_cluster([kept, third], now=NOW).kept
    assert again.metadata["merged_from"] == [
        m.id for m in (first, second, third) if m.id != again.id
    ]


def test_a_merged_from_of_other_values_is_no_merge_record() -> None:
    """Metadata is the caller's: a `merged_from` of non-ids crashed the merge (TypeError)."""
    first, second = mem("a", metadata={"merged_from": [{"by": "hand"}, ["x"], 3]}), mem("b")
    kept = merge_cluster([first, second], now=NOW).kept
    assert kept.metadata["merged_from"] == [m.id for m in (first, second) if m.id != kept.id]


def test_decay_halves_every_half_life() -> None:
    memory = mem("x", recorded_at=NOW - timedelta(days=30))
    assert decay(memory, NOW, timedelta(days=30)) == pytest.approx(0.5)
    touched = mem("x", recorded_at=NOW - timedelta(days=90), last_accessed_at=NOW)
    assert decay(touched, NOW, timedelta(days=30)) == 1.0
    assert (
        decay(mem("x", pinned=True, recorded_at=NOW - timedelta(days=900)), NOW, timedelta(days=1))
        == 1.0
    )
    with pytest.raises(InvalidInputError):
        decay(memory, NOW, timedelta(0))


@settings(max_examples=60, deadline=None)
@given(days=st.floats(min_value=-1e4, max_value=1e5), half=st.integers(min_value=1, max_value=999))
def test_decay_is_in_unit_interval(days: float, half: int) -> None:
    value = decay(mem("x", recorded_at=NOW - timedelta(days=days)), NOW, timedelta(days=half))
    assert 0.0 <= value <= 1.0


def test_age_and_inactivity_policies_spare_pinned_and_used_memories() -> None:
    old = mem("old", recorded_at=NOW - timedelta(days=400))
    pinned = mem("pinned", recorded_at=NOW - timedelta(days=400), pinned=True)
    popular = mem("popular", recorded_at=NOW - timedelta(days=400), access_count=5)
    idle = mem("idle", recorded_at=NOW - timedelta(days=100))
    fresh = mem("fresh", recorded_at=NOW - timedelta(days=100), last_accessed_at=NOW)
    policy = ForgettingPolicy(
        max_age=timedelta(days=365), max_idle=timedelta(days=90), min_access=3
    )
    forgotten = plan_forgetting([old, pinned, popular, idle, fresh], policy, NOW)
    assert forgotten == [(old.id, "policy: max_age"), (idle.id, "policy: max_idle")]
    unpinned = plan_forgetting(
        [pinned], ForgettingPolicy(max_age=timedelta(1), keep_pinned=False), NOW
    )
    assert unpinned == [(pinned.id, "policy: max_age")]


def test_per_user_cap_counts_current_memories_and_drops_the_least_important() -> None:
    history = mem("history", superseded_at=NOW, importance=0.1, recorded_at=NOW)
    weak = mem("weak", importance=0.1, recorded_at=NOW)
    middle = mem("middle", importance=0.5, recorded_at=NOW)
    strong = mem("strong", importance=0.9, recorded_at=NOW)
    pinned = mem("pinned", importance=0.0, pinned=True, recorded_at=NOW)
    other_user = mem("other", user_id="u2", importance=0.0, recorded_at=NOW)
    policy = ForgettingPolicy(max_per_user=2)
    forgotten = plan_forgetting([history, weak, middle, strong, pinned, other_user], policy, NOW)
    assert forgotten == [(weak.id, "policy: max_per_user"), (middle.id, "policy: max_per_user")]
    assert plan_forgetting([weak, strong], ForgettingPolicy(), NOW) == []


@pytest.mark.parametrize(
    "rules",
    [
        {"max_age": timedelta(days=-1)},
        {"max_idle": 30},
        {"min_access": -1},
        {"max_per_user": 2.5},
        {"max_per_user": True},
        {"half_life": timedelta(0)},
        {"keep_pinned": None},
        {"keep_pinned": "no"},
    ],
)
def test_a_policy_refuses_negative_or_mistyped_rules(rules: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError, match=next(iter(rules))):
        ForgettingPolicy(**rules)  # type: ignore[arg-type]
