"""What a chat says of several people at once, as the deterministic extractor reads it: kin in
the plural ("My sisters Ana and Marta live in Madrid"), kin listed ("My wife and my son are
vegetarian"), the user with kin ("My wife and I are vegetarian", "Me and my partner live in
Oslo") and kin of kin ("My brother's wife is Julia"). Each person gets a fact of their own;
the user's slots only where the user is one of them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from embedders import HashingEmbedder
from engram import Engram, Message
from engram.memory.candidates import Candidate
from engram.memory.extraction import extract

THURSDAY = datetime(2024, 5, 2, 9, 0, tzinfo=UTC)
LAST_YEAR = datetime(2023, 1, 1, tzinfo=UTC)


def facts(text: str) -> list[Candidate]:
    message = Message(role="user", content=text, created_at=THURSDAY)
    return [c for c in extract([message]) if c.kind != "episode"]


def slots(text: str) -> set[tuple[str, str | None, object, str | None]]:
    """The slot values a text states: (text, attribute, value, subject)."""
    return {(c.text, c.attribute, c.value, c.subject) for c in facts(text) if c.attribute}


# -- 1. kin in the plural, or listed: a fact about each, never the user's slot -------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "My sisters Ana and Marta live in Madrid.",
            {
                ("Ana lives in Madrid", "home_city", "Madrid", "Ana"),
                ("Marta lives in Madrid", "home_city", "Madrid", "Marta"),
            },
        ),
        (
            "My parents live in Porto.",
            {("The user's parents live in Porto", "home_city", "Porto", "the user's parents")},
        ),
        (
            "My kids are allergic to nuts.",
            {
                (
                    "The user's kids are allergic to nuts",
                    "allergy:nuts",
                    "allergic",
                    "the user's kids",
                )
            },
        ),
        (
            "My wife and my son are vegetarian.",
            {
                ("The user's wife is vegetarian", "diet", "vegetarian", "the user's wife"),
                ("The user's son is vegetarian", "diet", "vegetarian", "the user's son"),
            },
        ),
        (
            "My wife and kids live in Porto",
            {
                ("The user's wife lives in Porto", "home_city", "Porto", "the user's wife"),
                ("The user's kids live in Porto", "home_city", "Porto", "the user's kids"),
            },
        ),
        (
            "Both my kids are vegan",
            {("The user's kids are vegan", "diet", "vegan", "the user's kids")},
        ),
        (
            "My parents are Catholic.",
            {("The user's parents are Catholic", "faith", "Catholic", "the user's parents")},
        ),
    ],
)
def test_several_kin_each_get_the_fact_and_the_user_none(
    text: str, expected: set[tuple[str, str | None, object, str | None]]
) -> None:
    assert slots(text) == expected


def test_plural_kin_named_are_the_users_kin_with_their_entities() -> None:
    said = facts("My sisters Ana and Marta live in Madrid.")
    kin = {
        (r.relation, r.object, r.object_kind) for c in said for r in c.relations if not r.subject
    }
    assert kin == {("has_sister", "Ana", "person"), ("has_sister", "Marta", "person")}
    homes = {c.subject: {e.name for e in c.entities} for c in said if c.attribute == "home_city"}
    assert homes == {"Ana": {"Ana", "Madrid"}, "Marta": {"Marta", "Madrid"}}


def test_a_faith_after_plural_kin_is_no_name() -> None:
    said = facts("My parents are Catholic.")
    assert all(r.object != "Catholic" for c in said for r in c.relations)
    assert [c.subject for c in said if c.attribute == "faith"] == ["the user's parents"]


WORDS = ("wife", "husband", "son", "daughter", "sister", "brother", "mom", "dad", "friend")
PLACES = ("Madrid", "Porto", "Oslo", "Lyon", "Berlin")


@given(st.sampled_from(WORDS), st.sampled_from(WORDS), st.sampled_from(PLACES))
def test_kin_listed_never_fill_the_users_home(first: str, second: str, place: str) -> None:
    said = [c for c in facts(f"My {first} and my {second} live in {place}.") if c.attribute]
    subjects = {f"the user's {first}", f"the user's {second}"}
    assert {(c.subject, c.value) for c in said} == {(who, place) for who in subjects}


def test_only_a_subject_that_opens_its_clause_is_read() -> None:
    assert slots("Well, my parents live in Porto.") == {
        ("The user's parents live in Porto", "home_city", "Porto", "the user's parents")
    }
    assert slots("When my parents live in Porto they are happy.") == set()
    assert slots("My wife's parents live in Porto.") == set()


# -- 2. the user with kin: the user's slot and the kin's fact -------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "My wife and I are vegetarian.",
            {
                ("The user is vegetarian", "diet", "vegetarian", None),
                ("The user's wife is vegetarian", "diet", "vegetarian", "the user's wife"),
            },
        ),
        (
            "My wife and I are both vegetarian",
            {
                ("The user is vegetarian", "diet", "vegetarian", None),
                ("The user's wife is vegetarian", "diet", "vegetarian", "the user's wife"),
            },
        ),
        (
            "My son and I are allergic to peanuts",
            {
                ("The user is allergic to peanuts", "allergy:peanuts", "allergic", None),
                (
                    "The user's son is allergic to peanuts",
                    "allergy:peanuts",
                    "allergic",
                    "the user's son",
                ),
            },
        ),
        (
            "Me and my partner live in Oslo",
            {
                ("The user lives in Oslo", "home_city", "Oslo", None),
                ("The user's partner lives in Oslo", "home_city", "Oslo", "the user's partner"),
            },
        ),
        (
            "My kids and I live in Porto.",
            {
                ("The user lives in Porto", "home_city", "Porto", None),
                ("The user's kids live in Porto", "home_city", "Porto", "the user's kids"),
            },
        ),
    ],
)
def test_the_user_with_kin_gets_the_slot_and_so_do_they(
    text: str, expected: set[tuple[str, str | None, object, str | None]]
) -> None:
    assert slots(text) == expected


def test_a_move_with_the_husband_is_dated_for_both() -> None:
    said = [c for c in facts("My husband and I moved to Berlin last year.") if c.attribute]
    assert {(c.subject, c.value, c.valid_from) for c in said} == {
        (None, "Berlin", LAST_YEAR),
        ("the user's husband", "Berlin", LAST_YEAR),
    }


def test_a_diet_ended_together_ends_both() -> None:
    said = slots("My wife and I aren't vegan anymore.")
    assert {(attribute, value, subject) for _, attribute, value, subject in said} == {
        ("diet", "none", None),
        ("diet", "none", "the user's wife"),
    }


# -- 3. kin of kin ------------------------------------------------------------------------


def test_the_wife_of_the_users_brother_is_named_and_no_partner() -> None:
    said = facts("My brother's wife is Julia.")
    assert [(c.text, c.attribute) for c in said] == [("Julia is the user's brother's wife", None)]
    assert [(e.name, e.kind) for e in said[0].entities] == [("Julia", "person")]
    assert facts("My sister's husband is Italian.") == []


# -- 4. through the memory API -------------------------------------------------------------


def test_plural_kin_leave_the_users_home_and_are_recalled_by_name(tmp_path: Path) -> None:
    with Engram(tmp_path / "kin.db", embedder=HashingEmbedder()) as engram:
        memories = engram.memories
        for text in (
            "I live in Lisbon.",
            "My sisters Ana and Marta live in Madrid.",
            "My parents live in Porto.",
        ):
            memories.add(
                messages=[{"role": "user", "content": text, "created_at": THURSDAY}],
                user_id="raj",
            )
        profile = memories.profile("raj")
        assert profile is not None
        assert profile.fields["home_city"] == "Lisbon"
        homes = {
            (m.metadata.get("subject"), m.text)
            for m in memories.get_all(user_id="raj")
            if m.attribute == "home_city"
        }
        assert homes == {
            (None, "The user lives in Lisbon"),
            ("Ana", "Ana lives in Madrid"),
            ("Marta", "Marta lives in Madrid"),
            ("the user's parents", "The user's parents live in Porto"),
        }
        [ana] = memories.entities(user_id="raj", name="Ana")
        assert ana.kind == "person"
