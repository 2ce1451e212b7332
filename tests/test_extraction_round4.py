"""What the deterministic extractor makes of a self-introduction by a user it already knows
by name, and of a home of the past said as where the user was.

"Hi, I'm Ana." from the user Ana sets the name slot with "The user's name is Ana" (what ties
the user to the name), never the empty "Ana's name is Ana"; and "I was in Berlin from 2015
to 2018" files Berlin as the home slot's history, as "I lived in Berlin from 2015 to 2018"
does, while a visit ("I was in Berlin last week") stays no home."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from embedders import HashingEmbedder
from engram import Engram, Message
from engram.memory.extraction import extract

JUNE = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
NAMES = ("Ana", "Bob", "Maria Silva", "José", "Caroline")


def at(year: int, month: int = 1, day: int = 1) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


def facts_of(text: str, *, user_name: str | None = None, name: str | None = None) -> list:
    message = Message(role="user", content=text, created_at=JUNE, name=name)
    return [c for c in extract([message], user_name=user_name) if c.kind != "episode"]


@pytest.fixture
def mem(tmp_path: Path):
    with Engram(tmp_path / "round4.db", embedder=HashingEmbedder()) as engram:
        yield engram


def say(mem: Engram, text: str, when: datetime, user_name: str | None = None) -> None:
    message = Message(role="user", content=text, created_at=when, session_id="chat")
    mem.memories.add(messages=[message], user_id="ana", user_name=user_name)


# --- 1. A self-introduction by a user known by that name -------------------------------


@pytest.mark.parametrize("user_name", [None, "Ana", "ana"])
def test_a_user_introducing_themself_by_their_known_name_is_the_users_name(
    user_name: str | None,
) -> None:
    [name] = facts_of("Hi, I'm Ana.", user_name=user_name)
    assert (name.kind, name.attribute, name.value) == ("profile", "name", "Ana")
    assert name.text == "The user's name is Ana"


def test_a_name_other_than_the_known_one_is_still_stated_of_the_user() -> None:
    assert [c.text for c in facts_of("My name is Ana Silva.", user_name="Ana")] == [
        "Ana's name is Ana Silva"
    ]


def test_another_speaker_saying_the_name_they_are_known_by_states_nothing() -> None:
    assert facts_of("Hi, I'm Bob.", user_name="Ana", name="Bob") == []
    [nickname] = facts_of("Hi, I'm Robert.", user_name="Ana", name="Bob")
    assert (nickname.text, nickname.subject, nickname.value) == (
        "Bob's name is Robert",
        "Bob",
        "Robert",
    )


@given(st.sampled_from(NAMES), st.booleans(), st.sampled_from(["Hi, I'm {}.", "My name is {}."]))
def test_no_name_fact_says_a_name_is_itself(name: str, known: bool, said: str) -> None:
    found = facts_of(said.format(name), user_name=name if known else None)
    assert [(c.attribute, c.value) for c in found] == [("name", name)]
    assert all(not c.text.startswith(f"{name}'s name is") for c in found)


def test_the_known_user_introducing_themself_gets_the_name_slot_and_no_tautology(
    mem: Engram,
) -> None:
    say(mem, "Hi, I'm Ana.", JUNE, user_name="Ana")
    profile = mem.memories.profile("ana")
    assert profile is not None and profile.fields.get("name") == "Ana"
    texts = [m.text for m in mem.memories.get_all(user_id="ana")]
    assert "The user's name is Ana" in texts
    assert "Ana's name is Ana" not in texts


# --- 2. A home of the past said as where the user was ----------------------------------


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("I was in Berlin from 2015 to 2018", at(2015), at(2019)),
        ("Between 2015 and 2018 I was in Berlin", at(2015), at(2019)),
        ("I was in Berlin from March 2019 to May 2021", at(2019, 3), at(2021, 6)),
        ("I was living in Berlin until 2018", None, at(2019)),
        ("I was based in Berlin from 2015 to 2018", at(2015), at(2019)),
    ],
)
def test_a_past_stay_of_years_is_the_home_slots_history(
    text: str, start: datetime | None, end: datetime
) -> None:
    [home] = facts_of(text)
    assert (home.text, home.attribute, home.value) == (
        "The user used to live in Berlin",
        "home_city",
        "Berlin",
    )
    assert (home.valid_from, home.metadata["valid_to"]) == (start, end.isoformat())
    assert [(r.relation, r.object) for r in home.relations] == [("lives_in", "Berlin")]


@pytest.mark.parametrize(
    "text",
    [
        "I was in Berlin for a conference in 2018",
        "I was in Berlin last week",
        "I was in Berlin in 2018",
        "I was in Rome from May 3 to May 10",
        "I was in Berlin from 2015 to 2018 for a conference",
        "I was living in Berlin for a few weeks",
    ],
)
def test_a_visit_is_no_home(text: str) -> None:
    assert [c for c in facts_of(text) if c.attribute == "home_city"] == []


def test_a_past_stay_leaves_the_current_home_current(mem: Engram) -> None:
    say(mem, "I live in Lisbon.", JUNE)
    say(mem, "I was in Berlin from 2015 to 2018.", JUNE + DAY)
    profile = mem.memories.profile("ana")
    assert profile is not None and profile.fields.get("home_city") == "Lisbon"
    homes = {
        m.metadata.get("value"): m
        for m in mem.memories.get_all(user_id="ana")
        if m.attribute == "home_city"
    }
    assert homes["Lisbon"].superseded_at is None and homes["Lisbon"].valid_to is None
    assert (homes["Berlin"].valid_from, homes["Berlin"].valid_to) == (at(2015), at(2019))
