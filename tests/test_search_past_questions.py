"""Questions about the past without `as_of`: a past period named in the query ("Where did I
live in 2023?") searches what held then, and a "when" question ranks the turn about the
event it asks, not the turns dated or since changed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engram import Engram, Message


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Engram]:
    engram = Engram(str(tmp_path / "past.db"))
    yield engram
    engram.close()


def _say(mem: Engram, text: str, at: datetime) -> None:
    message = Message(role="user", content=text, created_at=at)
    mem.memories.add(messages=[message], user_id="u")


def _moves(mem: Engram, *, sister: bool = False) -> None:
    _say(mem, "I live in Porto.", datetime(2023, 1, 10, 12, tzinfo=UTC))
    _say(mem, "I moved to Lisbon.", datetime(2024, 6, 10, 12, tzinfo=UTC))
    if sister:
        _say(mem, "My sister visited me in Lisbon.", datetime(2024, 8, 10, 12, tzinfo=UTC))
    _say(mem, "I moved to Berlin last week.", datetime(2025, 2, 12, 12, tzinfo=UTC))


def test_a_past_period_in_the_query_ranks_the_value_held_then_first(mem: Engram) -> None:
    _moves(mem)
    hits = mem.memories.search("Where did I live in 2023?", user_id="u", limit=3)
    assert "Porto" in hits[0].memory.text
    # The retired fact is a candidate, holding the slot asked about, and marked retired.
    fact = next(h for h in hits if h.memory.kind != "episode" and "Porto" in h.memory.text)
    assert not fact.memory.is_current
    assert fact.parts.slot == 1.0
    # Today's value, not held in 2023, ranks below it and holds no slot then.
    berlin = [h for h in hits if "Berlin" in h.memory.text]
    assert all(h.parts.slot == 0.0 and h.rank > fact.rank for h in berlin)


def test_a_query_naming_no_period_still_searches_current_memories_only(mem: Engram) -> None:
    _moves(mem)
    hits = mem.memories.search("Where do I live?", user_id="u", limit=5)
    assert "Berlin" in hits[0].memory.text
    assert all(h.memory.is_current for h in hits)


def test_a_when_question_ranks_the_turn_about_the_event_first(mem: Engram) -> None:
    _moves(mem, sister=True)
    hits = mem.memories.search("When did I move to Lisbon?", user_id="u", limit=4)
    assert hits[0].memory.text == "I moved to Lisbon."
    # Not demoted for the value it stated having since changed: it is the event asked about.
    assert hits[0].parts.current == 1.0
    # A dated turn about something else gets no time boost for a "when" question.
    berlin = next(h for h in hits if h.memory.text == "I moved to Berlin last week.")
    assert berlin.parts.time == 0.0


def test_a_past_period_finds_the_retired_value_in_a_crowded_pool(mem: Engram) -> None:
    _say(mem, "I work as a UX designer at Acme Corp", datetime(2026, 1, 8, 10, tzinfo=UTC))
    _say(mem, "I work at Zalando now", datetime(2026, 5, 10, 10, tzinfo=UTC))
    # More memories than a search's pool (50): the current ones are searched apart, and
    # the retired value found among all of them stays a candidate.
    for day in range(1, 81):
        at = datetime(2026, 6, day % 28 + 1, 10, tzinfo=UTC)
        _say(mem, f"I tried recipe number {day} for dinner today", at)
    hits = mem.memories.search("Where did I work in January 2026?", user_id="u", limit=3)
    assert hits[0].memory.text == "The user works at Acme Corp"
    assert not hits[0].memory.is_current
    assert hits[0].parts.slot == 1.0
