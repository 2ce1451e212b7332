"""Findings of a QA pass over the deterministic extractor: a word that says what the user's
partner is ("My wife is vegetarian", "My husband is Italian") is no name, and retires no
partner; a home or job said of a period that is over ("Last year I lived in Dublin", "In
2020 I worked at IBM") ends with that period and is the slot's history, not its value."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from embedders import HashingEmbedder
from engram import Engram, Message
from engram.memory._patterns import DEMONYMS, DIETS, FAITHS, JOBS
from engram.memory.candidates import Candidate
from engram.memory.extraction import extract

MARCH_18 = datetime(2026, 3, 18, 12, tzinfo=UTC)


def facts(text: str, at: datetime = MARCH_18) -> list[Candidate]:
    message = Message(role="user", content=text, created_at=at)
    return [c for c in extract([message]) if c.kind != "episode"]


def partner_values(text: str) -> list[str | None]:
    """The values `text` gives the partner slot (an ending too: it retires the partner)."""
    return [c.value for c in facts(text) if c.attribute == "partner"]


# --- 1. what the partner is, never who ---

_DESCRIBING = st.one_of(
    st.sampled_from(sorted(DEMONYMS | FAITHS)),
    st.from_regex(rf"(?:{DIETS}|{JOBS})", fullmatch=True).map(lambda word: " ".join(word.split())),
)
"""A nationality, faith, diet or occupation, from the lists the rules know."""
_CASES = st.sampled_from([str.lower, str.capitalize, str.title])


@given(word=_DESCRIBING, case=_CASES)
def test_a_word_describing_the_partner_is_no_partner(word: str, case: object) -> None:
    said = case(word)  # type: ignore[operator]
    for text in (
        f"My wife is {said}.",
        f"my wife is {said}, so no meat please",
        f"My wife is {said}, so no meat please.",
        f"my husband is now {said} lol",
    ):
        assert partner_values(text) == [], text


@pytest.mark.parametrize(
    "text",
    [
        "My wife is vegetarian, so no meat please.",
        "My husband is Italian.",
        "My wife is Vegetarian.",
        "my gf is japanese",
        "My husband is Italian American.",
        "My wife is Chinese-American.",
        "My wife is Gluten-free.",
        "My husband is Software Engineer.",
        "My wife is Catholic.",
    ],
)
def test_said_of_the_partner_is_no_name(text: str) -> None:
    assert partner_values(text) == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("My wife is Maria.", "Maria"),
        ("My husband is Clive.", "Clive"),
        ("My wife is Maria Lopez.", "Maria Lopez"),
        ("my bf is tom", "Tom"),
        ("My husband, Christian, cooks on Sundays.", "Christian"),
    ],
)
def test_a_partner_named_after_is_is_still_the_partner(text: str, name: str) -> None:
    assert partner_values(text) == [name]


def test_a_diet_said_of_the_wife_keeps_her_name(tmp_path: Path) -> None:
    with Engram(tmp_path / "qa.db", embedder=HashingEmbedder()) as engram:
        memories = engram.memories
        first = Message(role="user", content="My wife is Maria.", created_at=MARCH_18)
        memories.add(messages=[first], user_id="raj", session_id="s1")
        later = datetime(2026, 4, 1, tzinfo=UTC)
        diet = Message(
            role="user", content="My wife is vegetarian, so no meat please.", created_at=later
        )
        memories.add(messages=[diet], user_id="raj", session_id="s2")
        profile = memories.profile("raj")
        assert profile is not None and profile.fields.get("partner") == "Maria"
        partners = [
            m
            for m in memories.get_all(user_id="raj", include_superseded=True)
            if m.attribute == "partner"
        ]
        assert [(m.text, m.superseded_at) for m in partners] == [("The user's wife is Maria", None)]


# --- 2. a state of a period that is over ends with it ---


@pytest.mark.parametrize(
    ("text", "attribute", "value", "start", "end"),
    [
        ("Last year I lived in Dublin.", "home_city", "Dublin", 2025, 2026),
        ("I lived in Dublin last year.", "home_city", "Dublin", 2025, 2026),
        ("In 2020 I worked at IBM.", "employer", "IBM", 2020, 2021),
        ("I worked at IBM in 2020.", "employer", "IBM", 2020, 2021),
    ],
)
def test_a_state_of_a_past_period_is_the_slots_history(
    text: str, attribute: str, value: str, start: int, end: int
) -> None:
    [found] = [c for c in facts(text) if c.attribute == attribute]
    assert found.value == value
    assert found.valid_from == datetime(start, 1, 1, tzinfo=UTC)
    assert found.metadata["valid_to"] == datetime(end, 1, 1, tzinfo=UTC).isoformat()


@pytest.mark.parametrize(
    "text",
    [
        "This year I worked at Google.",  # the year goes on
        "Two years ago I lived in Dublin.",  # a day, no period
        "I was in Berlin in 2018.",  # a trip, as likely as not
    ],
)
def test_no_end_without_a_period_that_is_over(text: str) -> None:
    assert [c for c in facts(text) if "valid_to" in c.metadata] == []


def test_last_years_home_is_history_as_of_today(tmp_path: Path) -> None:
    with Engram(tmp_path / "qa.db", embedder=HashingEmbedder()) as engram:
        memories = engram.memories
        said = [
            Message(role="user", content="I live in Lisbon.", created_at=MARCH_18),
            Message(role="user", content="Last year I lived in Dublin.", created_at=MARCH_18),
        ]
        memories.add(messages=said, user_id="fay", session_id="f1")

        def held(when: datetime) -> list[str]:
            found = memories.get_all(user_id="fay", as_of=when)
            return sorted(m.text for m in found if m.kind != "episode")

        assert held(datetime(2026, 6, 1, tzinfo=UTC)) == ["The user lives in Lisbon"]
        assert held(datetime(2025, 6, 1, tzinfo=UTC)) == ["The user used to live in Dublin"]
        profile = memories.profile("fay")
        assert profile is not None and profile.fields.get("home_city") == "Lisbon"
