"""What a casual chat says of the user's partner and kin ("My wife is vegetarian", "my son is
allergic to peanuts"), of an employer named in lower case ("i work at jp morgan", "I'm a
nurse at acme"), and of dates in digits and "next Friday", as the deterministic extractor
reads them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from embedders import HashingEmbedder
from engram import Engram, Message
from engram.memory.candidates import Candidate
from engram.memory.extraction import extract
from engram.memory.temporal import ground

THURSDAY = datetime(2024, 5, 2, 9, 0, tzinfo=UTC)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def facts(text: str, when: datetime = THURSDAY) -> list[Candidate]:
    message = Message(role="user", content=text, created_at=when)
    return [c for c in extract([message]) if c.kind != "episode"]


# -- 1. a diet, faith or allergy of the user's partner or kin ------------------------------


@pytest.mark.parametrize(
    ("text", "said", "attribute", "value", "subject"),
    [
        (
            "My wife is vegetarian",
            "The user's wife is vegetarian",
            "diet",
            "vegetarian",
            "the user's wife",
        ),
        (
            "my gf's vegan",
            "The user's girlfriend is vegan",
            "diet",
            "vegan",
            "the user's girlfriend",
        ),
        (
            "My husband is Christian",
            "The user's husband is Christian",
            "faith",
            "Christian",
            "the user's husband",
        ),
        (
            "My mom is a Catholic",
            "The user's mom is Catholic",
            "faith",
            "Catholic",
            "the user's mom",
        ),
        (
            "My son is allergic to peanuts",
            "The user's son is allergic to peanuts",
            "allergy:peanuts",
            "allergic",
            "the user's son",
        ),
        (
            "my kid is severely allergic to shellfish",
            "The user's child is allergic to shellfish",
            "allergy:shellfish",
            "allergic",
            "the user's child",
        ),
        (
            "My husband is not vegetarian anymore",
            "The user's husband is no longer vegetarian",
            "diet",
            "none",
            "the user's husband",
        ),
    ],
)
def test_a_trait_of_partner_or_kin_is_a_fact_about_them(
    text: str, said: str, attribute: str, value: str, subject: str
) -> None:
    assert [(c.text, c.attribute, c.value, c.subject) for c in facts(text)] == [
        (said, attribute, value, subject)
    ]


@pytest.mark.parametrize(
    "text",
    [
        "My wife's sister is vegan",  # not the wife's own diet
        "I think my wife is vegetarian?",  # a question asserts nothing
        "If my son is allergic to peanuts, what then",
        "My coach is vegan",  # no partner or kin
        "my wife's vegan restaurant is great",  # the restaurant's, not her diet
        "My husband's Christian friends came over",
    ],
)
def test_no_trait_where_none_is_said_of_partner_or_kin(text: str) -> None:
    assert [c for c in facts(text) if c.subject] == []


def test_a_named_partner_is_the_subject_and_keeps_the_partner_slot() -> None:
    found = {(c.text, c.attribute, c.subject) for c in facts("My wife Maria is vegan")}
    assert found == {
        ("The user's wife is Maria", "partner", None),
        ("The user's wife Maria is vegan", "diet", "Maria"),
    }


def test_the_user_and_the_partner_keep_their_own_diets() -> None:
    found = {(c.text, c.subject) for c in facts("My wife is vegetarian and I'm vegan")}
    assert found == {
        ("The user is vegan", None),
        ("The user's wife is vegetarian", "the user's wife"),
    }


def test_the_partners_diet_never_fills_the_users_profile(tmp_path: Path) -> None:
    with Engram(tmp_path / "kin.db", embedder=HashingEmbedder()) as engram:
        memories = engram.memories
        for day, text in enumerate(
            ("My wife is Maria.", "My wife is vegetarian", "My wife is vegan now")
        ):
            said = THURSDAY + timedelta(days=day)
            memories.add(
                messages=[{"role": "user", "content": text, "created_at": said}], user_id="raj"
            )
        profile = memories.profile("raj")
        assert profile is not None
        assert profile.fields == {"partner": "Maria"}
        diets = memories.get_all(user_id="raj", include_superseded=True)
        diets = [m for m in diets if m.attribute == "diet"]
        assert sorted((m.text, m.superseded_at is None) for m in diets) == [
            ("The user's wife is vegan", True),
            ("The user's wife is vegetarian", False),
        ]


def test_a_named_partners_trait_is_linked_to_her_entity(tmp_path: Path) -> None:
    with Engram(tmp_path / "kin.db", embedder=HashingEmbedder()) as engram:
        memories = engram.memories
        message = {"role": "user", "content": "My wife Maria is vegan", "created_at": THURSDAY}
        memories.add(messages=[message], user_id="raj")
        [maria] = memories.entities(user_id="raj", name="Maria")
        [diet] = [m for m in memories.get_all(user_id="raj") if m.attribute == "diet"]
        assert maria.id in diet.entity_ids
        assert diet.metadata["subject"] == "Maria"


# -- 2. an employer named in lower case --------------------------------------------------


def slots(text: str) -> dict[str, str | None]:
    return {c.attribute: c.value for c in facts(text) if c.attribute}


@pytest.mark.parametrize(
    ("text", "employer"),
    [
        ("i work at jp morgan", "J.P. Morgan"),
        ("i work at jp morgan chase", "JPMorgan Chase"),
        ("i work at bank of america", "Bank of America"),
        ("i work at the home depot", "Home Depot"),
    ],
)
def test_a_known_firm_in_lower_case_is_spelt_as_it_spells_itself(text: str, employer: str) -> None:
    assert slots(text) == {"employer": employer}


@pytest.mark.parametrize(
    "text", ["I'm a nurse at acme", "i'm a nurse at acme", "I'm a nurse for acme"]
)
def test_a_job_at_a_lowercase_employer_gives_both(text: str) -> None:
    assert slots(text) == {"occupation": "nurse", "employer": "Acme"}


def test_a_job_at_a_lowercase_known_firm() -> None:
    assert slots("I'm an engineer at jp morgan") == {
        "occupation": "engineer",
        "employer": "J.P. Morgan",
    }


@pytest.mark.parametrize(
    "where",
    ["night", "home", "the moment", "7am", "heart", "times", "work", "a hospital", "the same time"],
)
def test_no_employer_from_where_or_when_one_works(where: str) -> None:
    assert slots(f"I'm a nurse at {where}") == {"occupation": "nurse"}


def test_no_job_from_a_role_that_is_none() -> None:
    assert slots("I'm a beast at chess") == {}


# -- 3. dates in digits, and "next Friday" -----------------------------------------------


def grounded(text: str, when: datetime = THURSDAY) -> list[tuple[str, date]]:
    return [(m.span, m.start.date()) for m in ground(text, when)]


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("25/12/2019", date(2019, 12, 25)),  # day first: 25 is no month
        ("12/25/2019", date(2019, 12, 25)),  # month first: 25 is no month
        ("31/12/22", date(2022, 12, 31)),
        ("05/05/2019", date(2019, 5, 5)),  # either order
        ("2019-03-12", date(2019, 3, 12)),  # ISO
    ],
)
def test_a_date_in_digits_whose_order_is_plain_is_grounded(text: str, day: date) -> None:
    assert grounded(text) == [(text, day)]


@given(st.integers(1, 12), st.integers(1, 12), st.integers(1990, 2030))
def test_a_date_whose_order_is_ambiguous_is_not_grounded(
    first: int, second: int, year: int
) -> None:
    text = f"on {first:02d}/{second:02d}/{year}"
    assert grounded(text) == ([] if first != second else [(text[3:], date(year, first, first))])


def test_an_ambiguous_date_dates_the_fact_when_it_was_said() -> None:
    [moved] = [c for c in facts("I moved to Paris on 12/03/2019") if c.attribute]
    assert moved.valid_from == THURSDAY


def test_next_friday_on_a_thursday_is_the_friday_of_next_week() -> None:
    assert grounded("Let's meet next Friday") == [("next Friday", date(2024, 5, 10))]
    assert grounded("Let's meet this Friday") == [("this Friday", date(2024, 5, 3))]
    assert grounded("Let's meet on Friday") == [("on Friday", date(2024, 5, 3))]


@given(st.dates(date(2000, 1, 1), date(2040, 1, 1)), st.sampled_from(WEEKDAYS))
def test_next_weekday_is_that_day_of_next_week(said: date, weekday: str) -> None:
    when = datetime(said.year, said.month, said.day, 12, tzinfo=UTC)
    [(_, day)] = grounded(f"see you next {weekday}", when)
    next_monday = said + timedelta(days=7 - said.weekday())
    assert next_monday <= day < next_monday + timedelta(days=7)
    assert day.weekday() == WEEKDAYS.index(weekday)


# -- a time said in another clause of the sentence dates no fact of this one ---------------


@pytest.mark.parametrize(
    ("text", "said", "attribute"),
    [
        (
            "I work at Initech and next week we have a party.",
            "The user works at Initech",
            "employer",
        ),
        ("I live in Oslo and tomorrow I fly to Rome.", "The user lives in Oslo", "home_city"),
        ("I live in Oslo, but next month my sister visits.", "The user lives in Oslo", "home_city"),
    ],
)
def test_a_time_of_another_clause_does_not_date_the_fact(
    text: str, said: str, attribute: str
) -> None:
    [fact] = [c for c in facts(text) if c.attribute == attribute]
    assert (fact.text, fact.valid_from) == (said, THURSDAY)


def test_each_clause_is_dated_by_its_own_time_and_an_opening_one_by_both() -> None:
    both = facts("I moved to Berlin in 2019 and I started at SAP in 2020.")
    starts = {c.attribute: c.valid_from.year for c in both if c.valid_from is not None}
    assert starts == {"home_city": 2019, "employer": 2020}
    opening = facts("Last year I moved to Berlin and I joined SAP.")
    assert {c.attribute: c.valid_from.year for c in opening if c.valid_from} == {
        "home_city": 2023,
        "employer": 2023,
    }
    [event] = facts("I bought a bike and next week we have a party.")
    assert (event.text, event.valid_from) == ("The user bought a bike", THURSDAY)
