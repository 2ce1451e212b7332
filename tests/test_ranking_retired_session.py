"""A retired value's strong match does not lift its session-mates: a session's strength (the
session boost) counts each candidate as currency leaves it, so "I live in Porto", once the
user moved, no longer puts the greetings of its session above the move.

(was: retired memories are candidates so they can mark stale episodes, and the session boost
counted them at full strength: "Where does Ana live?" ranked "Nice to meet you, Ana!" and
"Hi, I'm Ana." above the current fact "The user moved to Lisbon")"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engram import Engram, Message
from engram.memory.ranking import DEFAULT_WEIGHTS, MemoryFeatures, fuse

pytest_plugins = ["servers"]

MOVE_FACT = "The user moved to Lisbon"
GREETINGS = ("Hi, I'm Ana.", "Nice to meet you, Ana!")


def _said(role: str, text: str, day: int, month: int = 1) -> Message:
    return Message(role=role, content=text, created_at=f"2026-{month:02d}-{day:02d}T10:00:00Z")


@pytest.mark.parametrize("query", ["Where does Ana live?", "Where do I live?"])
def test_a_retired_values_session_mates_stay_below_the_current_fact(
    memory_engram: Engram, query: str
) -> None:
    first = [
        _said("user", GREETINGS[0], 10),
        _said("assistant", GREETINGS[1], 10),
        _said("user", "I live in Porto.", 10),
    ]
    memory_engram.memories.add(messages=first, user_id="ana", session_id="s1")
    moved = [_said("user", "I moved to Lisbon last week.", 15, month=3)]
    memory_engram.memories.add(messages=moved, user_id="ana", session_id="s2")

    hits = memory_engram.memories.search(query, user_id="ana", limit=6, record_access=False)
    rank = {hit.memory.text: hit.rank for hit in hits}
    assert hits[0].memory.text in ("I moved to Lisbon last week.", MOVE_FACT)
    assert all(rank[MOVE_FACT] < rank[greeting] for greeting in GREETINGS), rank
    # The move's session is the strongest once Porto counts as retired.
    assert {hit.parts.session for hit in hits if "Lisbon" in hit.memory.text} == {1.0}


def test_a_retired_candidate_counts_at_its_decayed_score_in_its_sessions_strength() -> None:
    dense = [("old", 0.9), ("new", 0.45), ("mate", 0.3)]
    groups = {"old": "s1", "mate": "s1", "new": "s2"}
    features = {"old": MemoryFeatures(current=0.0)}
    weights = replace(DEFAULT_WEIGHTS, dense=1.0, lexical=0.0)
    by_id = {r.id: r for r in fuse(dense, features=features, weights=weights, groups=groups)}
    s1 = 0.9 * weights.superseded + 0.3  # not 0.9 + 0.3: "old" no longer holds
    assert by_id["mate"].parts.session == 1.0
    assert by_id["new"].parts.session == pytest.approx(0.45 / s1)
    assert by_id["new"].score > by_id["mate"].score


_IDS = "abcdef"


@given(
    st.lists(st.floats(0.01, 1.0), min_size=len(_IDS), max_size=len(_IDS)),
    st.sampled_from(_IDS),
    st.floats(0.0, 1.0),
)
def test_retiring_a_candidate_never_lifts_its_session_mates(
    cosines: list[float], retired: str, current: float
) -> None:
    """Retiring one candidate (lowering its currency) lowers, or keeps, the session share of
    its session-mates, and raises, or keeps, everyone else's."""
    dense = sorted(zip(_IDS, cosines, strict=True), key=lambda pair: -pair[1])
    groups = {memory_id: f"s{index % 3}" for index, memory_id in enumerate(_IDS)}
    features = {retired: MemoryFeatures(current=current)}
    before = {r.id: r.parts.session for r in fuse(dense, groups=groups)}
    after = {r.id: r.parts.session for r in fuse(dense, features=features, groups=groups)}
    for memory_id in _IDS:
        if groups[memory_id] == groups[retired]:
            assert after[memory_id] <= before[memory_id] + 1e-12
        else:
            assert after[memory_id] >= before[memory_id] - 1e-12
