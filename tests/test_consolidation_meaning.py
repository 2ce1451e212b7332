"""Consolidation merges only what says the same thing: close vectors (the local model puts
"can swim" and "cannot swim" at 0.93) of texts differing in a day, a part of the day, a
negation, a tense, a count in words or a dislike, or true over spans apart, stay two; and
forgetting counts a value said again as used then."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from engram import Engram
from engram._exceptions import InvalidInputError
from engram._memory_transfer import MEMORY_EXPORT_FORMAT
from engram.memory import (
    ForgettingPolicy,
    decay,
    find_near_duplicates,
    merge_cluster,
    plan_forgetting,
)
from engram.memory.timeline import SAID_AGAIN
from engram.types._memory import Memory

NOW = datetime(2026, 1, 1, tzinfo=UTC)
YEAR = timedelta(days=365)


def fact(text: str, **fields: object) -> Memory:
    fields.setdefault("user_id", "u1")
    fields.setdefault("source_ids", (f"src-{text}",))
    return Memory(text=text, **fields)  # type: ignore[arg-type]


def merged(*memories: Memory) -> bool:
    """Whether the memories, of identical vectors, make one cluster."""
    clusters = find_near_duplicates(list(memories), np.ones((len(memories), 8)), 0.92)
    return len(clusters) == 1 and len(clusters[0]) == len(memories)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("The user can swim", "The user cannot swim"),
        ("The user's meeting is on Monday", "The user's meeting is on Tuesday"),
        ("The user drinks coffee every morning", "The user drinks coffee every evening"),
        ("The user works at Google", "The user worked at Google"),
        ("The user will move to Paris", "The user moved to Paris"),
        ("The user has two dogs", "The user has three dogs"),
        ("The user's birthday is March third", "The user's birthday is March fourth"),
        ("The user likes spicy food", "The user dislikes spicy food"),
        ("The user loves cats", "The user hates cats"),
        ("The user's sister is called Ana", "The user's sister is called Eva"),
    ],
)
def test_texts_that_differ_in_meaning_do_not_merge(first: str, second: str) -> None:
    assert not merged(fact(first), fact(second))
    with pytest.raises(InvalidInputError):
        merge_cluster([fact(first), fact(second)], now=NOW)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("The user loves hiking in the mountains", "The user loves hiking in the mountains a lot"),
        ("The user lives in Lisbon", "The user moved to Lisbon."),
        ("Works at Google", "The user works at Google"),
    ],
)
def test_restatements_still_merge(first: str, second: str) -> None:
    assert merged(fact(first), fact(second))


def test_a_tense_clash_with_any_member_keeps_clusters_apart() -> None:
    memories = [
        fact("The user works at Google"),
        fact("The user works at Google as an engineer"),
        fact("The user worked at Google"),
    ]
    clusters = find_near_duplicates(memories, np.ones((3, 8)), 0.92)
    assert [[m.text for m in cluster] for cluster in clusters] == [
        ["The user works at Google", "The user works at Google as an engineer"]
    ]


def test_spans_apart_do_not_merge_overlapping_ones_do() -> None:
    first = fact("The user works at Acme", valid_from=NOW, valid_to=NOW + YEAR)
    again = fact("The user works at Acme", valid_from=NOW + 3 * YEAR)
    between = fact("The user works at Acme", valid_from=NOW + YEAR / 2, valid_to=NOW + 4 * YEAR)
    assert not merged(first, again)
    assert merged(first, again, between)  # one span, 2026 on, through `between`
    kept = merge_cluster([again, first, between], now=NOW).kept  # any order
    assert (kept.valid_from, kept.valid_to) == (NOW, None)


def test_consolidate_keeps_a_fact_true_again_after_a_gap_as_two(tmp_path: object) -> None:
    old = fact("The user works at Acme", user_id="ana", valid_from=NOW, valid_to=NOW + YEAR)
    new = fact("The user works at Acme", user_id="ana", valid_from=NOW + 3 * YEAR)
    with Engram(f"{tmp_path}/m.db") as mem:
        mem.memories.import_(
            {
                "format": MEMORY_EXPORT_FORMAT,
                "memories": [old.to_dict(), new.to_dict()],
                "history": [],
                "entities": [],
                "relations": [],
                "profile": None,
            }
        )
        assert mem.memories.consolidate(user_id="ana") == 0
        assert mem.memories.get_all(user_id="ana", as_of=NOW + 2 * YEAR) == []


def said_again_yesterday() -> Memory:
    """A liking recorded a year ago and said again yesterday."""
    said_again = [{"at": (NOW - timedelta(days=1)).isoformat(), "source_ids": ["m2"]}]
    return fact(
        "The user loves jazz",
        kind="preference",
        attribute="preference:jazz",
        metadata={"value": "likes", SAID_AGAIN: said_again},
        recorded_at=NOW - YEAR,
    )


def test_a_value_said_again_lately_is_not_idle() -> None:
    restated = said_again_yesterday()
    unsaid = fact("The user loves opera", recorded_at=NOW - YEAR)
    policy = ForgettingPolicy(max_idle=timedelta(days=180))
    assert plan_forgetting([restated, unsaid], policy, NOW) == [(unsaid.id, "policy: max_idle")]


def test_a_value_said_again_lately_is_fresh_but_not_before_it_was() -> None:
    restated = said_again_yesterday()
    half_life = timedelta(days=30)
    assert decay(restated, NOW, half_life) > 0.97
    assert decay(restated, NOW - 2 * timedelta(days=1), half_life) < 0.01  # "as of" before
    policy = ForgettingPolicy(max_per_user=1)
    unsaid = fact("The user loves opera", recorded_at=NOW - YEAR / 2)
    assert plan_forgetting([restated, unsaid], policy, NOW) == [(unsaid.id, "policy: max_per_user")]
