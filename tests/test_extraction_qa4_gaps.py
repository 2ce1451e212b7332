"""Gaps a mem0 user found in the rule extractor, end to end on a SQLite `Engram`: lists in
one sentence ("allergic to peanuts and shellfish": one slot per thing), what people the user
names like or are allergic to ("My friend Tom loves pizza": a fact about Tom), and dirty
text (zero-width characters, brand marks, HTML) that must not leak into a value."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from embedders import HashingEmbedder
from engram import Engram, Message
from engram.memory.extraction import extract


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Engram]:
    with Engram(tmp_path / "qa4.db", embedder=HashingEmbedder()) as engram:
        yield engram


def say(mem: Engram, text: str, day: int = 1, user: str = "bob") -> None:
    message = Message(role="user", content=text, created_at=datetime(2026, 1, day, tzinfo=UTC))
    mem.memories.add(messages=[message], user_id=user)


def fields(mem: Engram, user: str = "bob") -> dict[str, str]:
    profile = mem.memories.profile(user)
    return dict(profile.fields) if profile else {}


def facts(mem: Engram, user: str = "bob") -> dict[str, str | None]:
    """Each fact's text, with its subject (None: the user)."""
    found = mem.memories.get_all(user_id=user)
    return {m.text: m.metadata.get("subject") for m in found if m.kind != "episode"}


@pytest.mark.parametrize(
    "said",
    [
        "I'm allergic to peanuts and shellfish.",
        "I'm allergic to peanuts too actually, and shellfish.",
        "I'm allergic to peanuts, shellfish and eggs.",
        "I'm allergic to peanuts, shellfish, and eggs.",
    ],
)
def test_each_allergy_of_a_list_is_its_own_slot(mem: Engram, said: str) -> None:
    say(mem, said)
    allergies = {key: value for key, value in fields(mem).items() if key.startswith("allergy:")}
    expected = {"allergy:peanuts", "allergy:shellfish"} | (
        {"allergy:eggs"} if "eggs" in said else set()
    )
    assert allergies == dict.fromkeys(expected, "allergic")


def test_an_allergy_of_a_list_ends_alone(mem: Engram) -> None:
    say(mem, "I'm allergic to peanuts and shellfish.", day=1)
    say(mem, "I'm no longer allergic to peanuts.", day=2)
    profile = fields(mem)
    assert profile["allergy:shellfish"] == "allergic"
    assert profile.get("allergy:peanuts") != "allergic"


def test_a_list_after_a_comma_ends_where_a_clause_opens(mem: Engram) -> None:
    say(mem, "I'm allergic to peanuts, so I never eat Thai food.")
    assert [key for key in fields(mem) if key.startswith("allergy:")] == ["allergy:peanuts"]


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("I love sushi and ramen.", {"preference:sushi": "likes", "preference:ramen": "likes"}),
        (
            "I hate olives, capers and anchovies.",
            dict.fromkeys(
                ("preference:olives", "preference:capers", "preference:anchovies"), "dislikes"
            ),
        ),
        (
            "I don't like olives or anchovies.",
            {"preference:olives": "dislikes", "preference:anchovies": "dislikes"},
        ),
        (
            "I love hiking, swimming, and biking.",
            dict.fromkeys(
                ("preference:hiking", "preference:swimming", "preference:biking"), "likes"
            ),
        ),
        ("I love mac and cheese.", {"preference:mac_and_cheese": "likes"}),
        ("I love action and sci-fi movies.", {"preference:action_and_sci-fi_movies": "likes"}),
    ],
)
def test_each_thing_liked_in_a_list_is_its_own_preference(
    mem: Engram, said: str, expected: dict[str, str]
) -> None:
    say(mem, said)
    assert {k: v for k, v in fields(mem).items() if k.startswith("preference:")} == expected


def test_a_kin_allergy_list_is_one_fact_per_thing(mem: Engram) -> None:
    say(mem, "My son is allergic to peanuts and eggs.")
    found = facts(mem)
    assert found["The user's son is allergic to peanuts"] == "the user's son"
    assert found["The user's son is allergic to eggs"] == "the user's son"


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("My friend Tom loves pizza.", {"Tom loves pizza": "Tom"}),
        (
            "My wife Ana loves Italian food but she hates mushrooms.",
            {"Ana loves Italian food": "Ana", "Ana hates mushrooms": "Ana"},
        ),
        ("Ana is allergic to shellfish.", {"Ana is allergic to shellfish": "Ana"}),
        (
            "Tom loves pizza but he hates olives.",
            {"Tom loves pizza": "Tom", "Tom hates olives": "Tom"},
        ),
        ("My sister Marta loves dogs and cats.", {"Marta loves dogs": "Marta"}),
    ],
)
def test_what_a_named_person_likes_is_a_fact_about_them(
    mem: Engram, said: str, expected: dict[str, str]
) -> None:
    say(mem, said)
    found = facts(mem)
    assert {text: found.get(text) for text in expected} == expected
    assert not [key for key in fields(mem) if key.startswith(("preference:", "allergy:"))]


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("My mom loves gardening.", {"The user's mom loves gardening": "the user's mom"}),
        (
            "My best friend hates cilantro.",
            {"The user's best friend hates cilantro": "the user's best friend"},
        ),
    ],
)
def test_what_unnamed_kin_like_is_a_fact_about_their_role(
    mem: Engram, said: str, expected: dict[str, str]
) -> None:
    say(mem, said)
    assert facts(mem) == expected
    assert fields(mem) == {}


@pytest.mark.parametrize(
    "said", ["She loves pizza.", "I think he hates mushrooms.", "My wife loves me."]
)
def test_a_liking_of_no_one_named_is_no_fact(mem: Engram, said: str) -> None:
    say(mem, said)
    assert facts(mem) == {}


@pytest.mark.parametrize(
    ("said", "slot", "value"),
    [
        ("I live in Ber\u200blin.", "home_city", "Berlin"),
        ("I live in \ufeffLis\u2060bon.", "home_city", "Lisbon"),
        ("I work at ACME\u00ae Corp.", "employer", "ACME Corp"),
        ("I work at Globex\u2122.", "employer", "Globex"),
        ("I work at <b>Netflix</b></div><script>alert(1)</script>", "employer", "Netflix"),
        ('<div onclick="x">I work at <i>Net</i>flix</div>', "employer", "Netflix"),
    ],
)
def test_a_value_is_read_without_invisible_marks_or_html(
    mem: Engram, said: str, slot: str, value: str
) -> None:
    say(mem, said)
    assert fields(mem)[slot] == value
    episodes = [m.text for m in mem.memories.get_all(user_id="bob") if m.kind == "episode"]
    assert episodes == [said]  # the turn as said


_DIRT = st.sampled_from(["<", ">", "</b>", "<b>", "<script>x</script>", "\u200b", "\u00ae", "<3"])
_WORD = st.sampled_from(["Netflix", "peanuts", "Berlin", "sushi", "and", ",", "ACME", "Corp"])
_OPENING = st.sampled_from(
    ["I work at ", "I live in ", "I love ", "I'm allergic to ", "My friend Tom loves "]
)


@given(_OPENING, st.lists(st.one_of(_DIRT, _WORD), min_size=1, max_size=6))
def test_no_value_holds_a_tag_or_an_invisible_character(opening: str, parts: list[str]) -> None:
    text = opening + " ".join(parts)
    for candidate in extract([Message(role="user", content=text)]):
        if candidate.kind == "episode":
            continue
        said = f"{candidate.text} {candidate.value or ''} {candidate.attribute or ''}"
        assert not set(said) & set("<>\u200b\u00ae"), said
