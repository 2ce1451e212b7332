"""Turns of the `engram demo` conversation, and phrasings like them, as the deterministic
extractor reads them: a diet change said with a hedge ("not strictly vegetarian anymore ...
so pescatarian I guess"), an appointment of the moment ("a meeting in 5"), when one works
said after "at" ("i work at 7am"), an event in a subordinate clause ("since I lost my job
I've been cooking more") and kin named in lower case after "is" ("my sister is maria")."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from embedders import HashingEmbedder
from engram import Engram, Message
from engram.memory.candidates import NO_VALUE, Candidate
from engram.memory.extraction import extract
from engram.memory.temporal import ground

APRIL_30 = datetime(2026, 4, 30, 16, 44, tzinfo=UTC)
DEMO_UPDATE = (
    "Perfect. Also, an update about me: I'm not strictly vegetarian anymore. Since about "
    "February I eat fish, so pescatarian I guess. Tomás's grilled sardine propaganda finally "
    "worked. So for restaurants, fish and seafood are fine, still no meat."
)


def facts(text: str, at: datetime = APRIL_30) -> list[Candidate]:
    message = Message(role="user", content=text, created_at=at)
    return [c for c in extract([message], user_name="Ana") if c.kind != "episode"]


def slot(text: str, attribute: str) -> list[str | None]:
    """The values `text` gives the slot `attribute` (`none` for an ending)."""
    return [c.value for c in facts(text) if c.attribute == attribute]


def texts(text: str) -> list[str]:
    return [c.text for c in facts(text)]


# --- 1. a new diet said with a hedge, after the old one ended ---


@pytest.mark.parametrize(
    ("text", "diet"),
    [
        (DEMO_UPDATE, "pescatarian"),
        ("I'm not vegetarian anymore, so pescatarian I guess.", "pescatarian"),
        ("I'm not vegetarian anymore. Pescatarian I guess.", "pescatarian"),
        ("I stopped being vegan, now vegetarian I suppose.", "vegetarian"),
    ],
)
def test_a_hedged_diet_after_the_old_one_ended_is_the_diet(text: str, diet: str) -> None:
    assert [v for v in slot(text, "diet") if v != NO_VALUE] == [diet]


def test_since_about_a_month_is_grounded() -> None:
    (since,) = ground("Since about February I eat fish", APRIL_30)
    assert (since.start, since.granularity) == (datetime(2026, 2, 1, tzinfo=UTC), "month")


@pytest.mark.parametrize(
    "text",
    [
        "so pescatarian I guess",  # no diet ended: the words may answer anything
        "Vegan I guess?",
        "I'm not vegan anymore, so vegan I guess.",  # the same diet is no new one
        "I eat fish now.",
        "Since about February I eat fish.",
    ],
)
def test_no_diet_from_a_hedge_alone_or_from_what_one_eats(text: str) -> None:
    assert [v for v in slot(text, "diet") if v != NO_VALUE] == []


def test_a_hedged_diet_holds_from_when_it_was_said() -> None:
    """Not from "about February": a start before the old diet's own would leave that diet no
    span, and "as of" March the user would have none."""
    diet = next(c for c in facts(DEMO_UPDATE) if c.attribute == "diet" and c.value != NO_VALUE)
    assert diet.valid_from == APRIL_30


def test_the_demo_diet_change_reaches_the_profile(tmp_path: Path) -> None:
    march = datetime(2026, 3, 2, 9, 21, tzinfo=UTC)
    with Engram(tmp_path / "chat.db", embedder=HashingEmbedder()) as engram:
        said = Message(role="user", content="Preferences: I'm vegetarian.", created_at=march)
        engram.memories.add(messages=[said], user_id="ana", user_name="Ana")
        update = Message(role="user", content=DEMO_UPDATE, created_at=APRIL_30)
        engram.memories.add(messages=[update], user_id="ana", user_name="Ana")
        profile = engram.memories.profile("ana")
        assert profile is not None and profile.fields["diet"] == "pescatarian"
        hits = engram.memories.search(
            "What does Ana eat?", user_id="ana", as_of=datetime(2026, 3, 15, tzinfo=UTC)
        )
        assert "Ana is vegetarian" in [hit.memory.text for hit in hits]


# --- 2. appointments: of the moment none, a dated one with its date ---


@pytest.mark.parametrize(
    "text",
    [
        "Ok, I have a meeting in 5. Talk Friday!",
        "i have a call in 10 mins",
        "I have a meeting in an hour",
    ],
)
def test_an_appointment_minutes_away_is_no_fact(text: str) -> None:
    assert texts(text) == []


def test_a_dated_appointment_keeps_its_date() -> None:
    (meeting,) = facts("I have a meeting at 3pm tomorrow")
    assert meeting.text == "Ana has a meeting at 3pm on 1 May 2026"
    assert meeting.valid_from == datetime(2026, 5, 1, tzinfo=UTC)


def test_what_one_has_since_a_time_is_not_dated_in_its_text() -> None:
    assert "Ana has a dog" in texts("I have a dog since 2019")


def test_a_meeting_somewhere_stays() -> None:
    assert texts("I have a meeting in Paris") == ["Ana has a meeting in Paris"]


# --- 3. when one works is no employer ---


@pytest.mark.parametrize(
    "text",
    ["i work at 7am", "i work at the moment", "I work at 9:30 tomorrow", "I work at 7 am"],
)
def test_when_one_works_is_no_employer(text: str) -> None:
    assert slot(text, "employer") == []


@pytest.mark.parametrize(
    ("text", "employer"),
    [("I work at 7-Eleven", "7-Eleven"), ("i work at acme", "Acme"), ("I work at Meta", "Meta")],
)
def test_employers_stay(text: str, employer: str) -> None:
    assert slot(text, "employer") == [employer]


@given(st.integers(min_value=1, max_value=12), st.sampled_from(["am", "pm", " am", ":30", ""]))
def test_no_clock_time_is_an_employer(hour: int, suffix: str) -> None:
    assert slot(f"i work at {hour}{suffix}", "employer") == []


# --- 4. an event in a subordinate clause ---


@pytest.mark.parametrize(
    ("text", "event"),
    [
        ("since I lost my job I've been cooking more", "Ana lost their job"),
        ("Since I lost my job I have been cooking more", "Ana lost their job"),
        ("when I visited Paris I fell in love with it", "Ana visited Paris"),
        ("after I finished the book we talked for hours", "Ana finished the book"),
    ],
)
def test_an_event_in_a_subordinate_clause_ends_with_it(text: str, event: str) -> None:
    assert [c.text for c in facts(text) if c.kind == "event"] == [event]


def test_a_subordinate_job_loss_ends_no_employer() -> None:
    assert slot("since I lost my job I've been cooking more", "employer") == []


def test_an_event_in_a_main_clause_keeps_its_relative_clause() -> None:
    text = "I visited the place I always wanted to see"
    assert texts(text) == ["Ana visited the place they always wanted to see"]


# --- 5. kin named in lower case after "is" ---


@pytest.mark.parametrize(
    ("text", "relation", "name"),
    [
        ("my sister is maria", "has_sister", "Maria"),
        ("my little brother is leo lol", "has_brother", "Leo"),
        ("my mom is ana", "has_mom", "Ana"),
    ],
)
def test_kin_named_in_lower_case_after_is(text: str, relation: str, name: str) -> None:
    message = Message(role="user", content=text, created_at=APRIL_30)
    pairs = [(r.relation, r.object) for c in extract([message]) for r in c.relations]
    assert (relation, name) in pairs


@pytest.mark.parametrize(
    "text",
    [
        "my sister is great",
        "my mom is sick",
        "my mom is sixty",
        "my boss is toxic",
        "my dad is retired",
        "my friend is here",
        "my brother is thoughtful",
        "I told Bob my sister is maria",  # one who capitalises names would write "Maria"
    ],
)
def test_words_said_of_kin_are_no_names(text: str) -> None:
    message = Message(role="user", content=text, created_at=APRIL_30)
    assert [r for c in extract([message]) for r in c.relations] == []
