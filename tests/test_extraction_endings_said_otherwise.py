"""Endings said in words the extractor used to misread: a taste not enjoyed "anymore" is the
end of the liking, as "I no longer enjoy jazz" is, not a dislike; a well-known place left
("I left Paris") is a home left, no employer (but "I left Google" is a job); and a memory
text about the user says "their" of the user ("The user quit their job") or names no
subject ("No longer enjoys jazz", "Quit their job"), read in the first person as the user
would say it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from embedders import HashingEmbedder
from engram import Engram, Message
from engram.memory import extract
from engram.memory._first_person import first_person
from engram.memory._sentences import USER_LABELS

JAN = datetime(2026, 1, 5, 10, tzinfo=UTC)
MAY = datetime(2026, 5, 5, 10, tzinfo=UTC)


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Engram]:
    with Engram(tmp_path / "endings.db", embedder=HashingEmbedder()) as engram:
        yield engram


def read(text: str) -> list[tuple[str | None, str | None, str | None]]:
    """(attribute, value, negates) of each fact the extractor reads in the user's `text`."""
    said = extract([Message(role="user", content=text, created_at=JAN)])
    return [(c.attribute, c.value, c.metadata.get("negates")) for c in said if c.kind != "episode"]


def tell(mem: Engram, *turns: tuple[str, datetime]) -> dict[str, str]:
    """The profile of Ana after her `turns`, each said when given."""
    for text, when in turns:
        mem.memories.add(
            messages=[Message(role="user", content=text, created_at=when)], user_id="ana"
        )
    found = mem.memories.profile("ana")
    return dict(found.fields) if found else {}


@pytest.mark.parametrize(
    ("text", "negates"),
    [
        ("I don't enjoy jazz anymore.", "enjoy jazz"),
        ("I don't like jazz anymore.", "like jazz"),
        ("I do not love jazz any more.", "love jazz"),
        ("I don't really enjoy jazz anymore.", "enjoy jazz"),
        ("I don't hate olives anymore.", "hate olives"),
    ],
)
def test_a_taste_not_held_anymore_is_its_end_not_a_dislike(text: str, negates: str) -> None:
    assert read(text) == read(f"I no longer {negates}.") == [(None, None, negates)]


def test_a_taste_not_held_is_still_a_dislike() -> None:
    assert read("I don't like jazz.") == [("preference:jazz", "dislikes", None)]


@pytest.mark.parametrize("ended", ["I don't enjoy jazz anymore.", "I don't like jazz anymore."])
@pytest.mark.parametrize("liked", ["I love jazz.", "My favourite music is jazz."])
def test_a_liking_not_held_anymore_leaves_the_profile(mem: Engram, liked: str, ended: str) -> None:
    assert tell(mem, (liked, JAN))

    assert tell(mem, (ended, MAY)) == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I left Paris.", [("home_city", "none", "Paris")]),
        ("I left Paris last year.", [("home_city", "none", "Paris")]),
        ("I quit New York.", [("home_city", "none", "New York")]),
        ("I left Lisbon for Porto.", [("home_city", "Porto", "Lisbon")]),
        ("I left Google.", [("employer", "none", "Google")]),
        ("I left Google for Meta.", [("employer", "Meta", "Google")]),
    ],
)
def test_a_place_left_is_a_home_and_a_company_left_a_job(
    text: str, expected: list[tuple[str, str, str]]
) -> None:
    assert read(text) == expected


def test_a_place_left_names_a_place_and_is_filed_as_the_home_left(mem: Engram) -> None:
    said = extract([Message(role="user", content="I left Paris.", created_at=JAN)])
    [ending] = [c for c in said if c.kind != "episode"]
    assert [(e.name, e.kind) for e in ending.entities] == [("Paris", "place")]

    assert tell(mem, ("I live in Paris.", JAN), ("I left Paris.", MAY)) == {}


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("The user quit their job", "I quit my job"),
        ("The user lost their job last week", "I lost my job last week"),
        ("User lives with their wife", "I live with my wife"),
        ("The user and their wife live in Rome", "I and my wife live in Rome"),
        ("Quit their job", "I quit my job"),
        ("No longer enjoys jazz", "I no longer enjoy jazz"),
        ("No longer lives in Porto", "I no longer live in Porto"),
        ("Never eats meat", "I never eat meat"),
        ("Used to love jazz", "I used to love jazz"),
        ("No longer vegetarian", "I am no longer vegetarian"),
        # "their" that may be another's stays.
        ("The user met Tom at their house", "I met Tom at their house"),
        ("The user visits their parents and their dog", "I visit my parents and their dog"),
        ("The user's parents sold their house", "My parents sold their house"),
    ],
)
def test_first_person_says_their_of_the_user_as_my(text: str, said: str) -> None:
    assert first_person(text, USER_LABELS, unnamed=True) == said
