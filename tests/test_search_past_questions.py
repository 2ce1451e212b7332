"""Questions about the past without `as_of`: a past period named in the query ("Where did I
live in 2023?") searches what held then, and a "when" question ranks the turn about the
event it asks, not the turns dated or since changed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
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


def test_a_question_about_a_graduated_school_finds_the_school(mem: Engram) -> None:
    _say(
        mem,
        "I'm a PhD student at Boston University and my thesis defense is in June",
        datetime(2025, 12, 2, tzinfo=UTC),
    )
    _say(mem, "I PASSED MY DEFENSE. I'm officially Dr. Alvarez", datetime(2026, 6, 13, tzinfo=UTC))
    hits = mem.memories.search("Where did I do my PhD?", user_id="u", limit=5)
    # The school the graduation ended, retired, holds the slot asked about; its turn is not
    # stale, and the ending, which says the PhD is over, stays.
    assert hits[0].memory.text == "The user studies at Boston University"
    assert not hits[0].memory.is_current
    assert hits[0].parts.slot == 1.0
    turn = next(h for h in hits if h.memory.text.startswith("I'm a PhD student"))
    assert turn.parts.current == 1.0
    ending = "The user passed their defense (finished their studies)"
    assert any(h.memory.text == ending for h in hits)
    # Asked when it ended, the ending answers first; the school it ended is still found.
    hits = mem.memories.search("When did I finish my PhD?", user_id="u", limit=5)
    assert hits[0].memory.text == ending
    assert any(h.memory.text == "The user studies at Boston University" for h in hits)


def test_a_question_about_an_ended_job_finds_the_employer(mem: Engram) -> None:
    _say(mem, "I work at Google", datetime(2026, 1, 8, 10, tzinfo=UTC))
    _say(mem, "I left Google", datetime(2026, 5, 10, 10, tzinfo=UTC))
    hits = mem.memories.search("Where did I work?", user_id="u", limit=5)
    assert hits[0].memory.text == "The user works at Google"
    assert hits[0].parts.slot == 1.0
    assert any(h.memory.text == "The user left Google" for h in hits)


def test_a_present_question_about_an_ended_job_is_answered_by_the_ending(mem: Engram) -> None:
    _say(mem, "I work at Google", datetime(2026, 1, 8, 10, tzinfo=UTC))
    _say(mem, "I left Google", datetime(2026, 5, 10, 10, tzinfo=UTC))
    hits = mem.memories.search("Where do I work?", user_id="u", limit=5)
    # No employer now: the ending answers first, and a search of now finds current ones only.
    assert hits[0].memory.text == "The user left Google"
    assert all(h.memory.is_current for h in hits)


def test_an_ended_job_in_a_crowded_pool_is_still_found(mem: Engram) -> None:
    _say(mem, "I work at Google", datetime(2026, 1, 8, 10, tzinfo=UTC))
    _say(mem, "I left Google", datetime(2026, 5, 10, 10, tzinfo=UTC))
    for day in range(1, 81):
        at = datetime(2026, 6, day % 28 + 1, 10, tzinfo=UTC)
        _say(mem, f"I tried recipe number {day} for dinner today", at)
    hits = mem.memories.search("Where did I work?", user_id="u", limit=3)
    assert hits[0].memory.text == "The user works at Google"


def test_a_job_held_since_the_ending_still_ranks_first(mem: Engram) -> None:
    _say(mem, "I work at Google", datetime(2026, 1, 8, 10, tzinfo=UTC))
    _say(mem, "I left Google", datetime(2026, 5, 10, 10, tzinfo=UTC))
    _say(mem, "I work at Meta now", datetime(2026, 7, 1, 10, tzinfo=UTC))
    hits = mem.memories.search("Where do I work?", user_id="u", limit=5)
    assert hits[0].memory.text == "The user works at Meta"
    assert all(h.memory.is_current for h in hits)


def test_the_facts_of_the_asked_slot_are_candidates_in_a_crowded_pool(mem: Engram) -> None:
    _say(mem, "I'm a PhD student at Boston University", datetime(2025, 9, 2, tzinfo=UTC))
    for day in range(1, 71):  # turns that match the question's words better than the fact
        at = datetime(2025, 10, 1, tzinfo=UTC) + timedelta(days=day)
        _say(mem, f"Writing chapter {day} of my PhD thesis today, so much to do", at)
    _say(mem, "I PASSED MY DEFENSE. I'm officially Dr. Alvarez", datetime(2026, 6, 13, tzinfo=UTC))
    hits = mem.memories.search("Where did I do my PhD?", user_id="u", limit=5)
    assert hits[0].memory.text == "The user studies at Boston University"
