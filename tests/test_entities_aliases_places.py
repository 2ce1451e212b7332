"""Places a graph user's QA found split or cut: a dotted abbreviation cut at its first dot
("Washington D" of "Washington D.C."), and a well-known place stored once per name it goes
by ("NYC" and "New York City", "US" and "United States")."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engram import Engram
from engram.memory import extract_entities, merge_aliases
from engram.types._memory import Entity
from test_entities_aliases_kinds import tell

JAN = datetime(2026, 1, 5, 9, tzinfo=UTC)


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Engram]:
    with Engram(tmp_path / "engram.db") as engram:
        yield engram


def places(mem: Engram) -> list[tuple[str, tuple[str, ...]]]:
    return sorted(
        (e.name, e.aliases) for e in mem.memories.entities(user_id="u") if e.kind == "place"
    )


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("I visited Washington D.C. last year.", "Washington D.C."),
        ("I moved to the U.S. in 2019.", "U.S."),
        ("We moved to the U.K. in May.", "U.K."),
        ("I moved to the U.S. Last year was hard.", "U.S."),
        ("We flew to St. Louis.", "St. Louis"),
    ],
)
def test_a_dotted_abbreviation_is_kept_whole(text: str, name: str) -> None:
    """(was: "Washington D", a person, and no "U.S." at all)"""
    assert [(m.name, m.kind) for m in extract_entities(text)] == [(name, "place")]


@pytest.mark.parametrize("text", ["See you at 5 P.M. tomorrow.", "The call is at 5 PM."])
def test_a_time_of_day_names_nothing(text: str) -> None:
    assert extract_entities(text) == []


@pytest.mark.parametrize("text", ["I moved to the US last year.", "Made in the USA."])
def test_the_country_in_capitals_is_a_place(text: str) -> None:
    """(was: "US" dropped as the word "us", "USA" of unknown kind)"""
    [mention] = extract_entities(text)
    assert mention.kind == "place" and mention.name in ("US", "USA")


def test_we_in_lower_case_is_no_country() -> None:
    assert extract_entities("Tell us about it, Anna.") == [extract_entities("Anna")[0]]


def test_the_names_of_one_place_are_one_entity(mem: Engram) -> None:
    """(was: "NYC", "New York City", "SF", "San Francisco", ... each an entity)"""
    tell(
        mem,
        "I moved to NYC last year.",
        "I love New York City in the fall.",
        "We went to San Francisco for a week.",
        "I flew to SF again.",
        "I flew to LA for work.",
        "Traffic in Los Angeles is awful.",
        "I visited the US in 2019.",
        "I moved to the United States.",
        "I visited Washington D.C. last year.",
        "We flew to Washington DC.",
    )
    assert places(mem) == [
        ("Los Angeles", ("LA",)),
        ("New York City", ("NYC",)),
        ("San Francisco", ("SF",)),
        ("Washington D.C.", ("Washington DC",)),
        ("the United States", ("US",)),  # as "I moved to the United States" names it
    ]
    [nyc] = mem.memories.entities(user_id="u", name="NYC")
    assert nyc.name == "New York City"
    [states] = mem.memories.entities(user_id="u", name="U.S.")
    assert states.name == "the United States"


def test_a_place_named_only_in_full_is_found_by_its_short_name(mem: Engram) -> None:
    tell(mem, "I live in San Francisco.")
    assert [e.name for e in mem.memories.entities(user_id="u", name="SF")] == ["San Francisco"]


def test_place_aliases_merge_places_only() -> None:
    """A person or a firm keeps its own name: no nickname table ("Bob" may not be Robert),
    and "LA Fitness" is no Los Angeles."""
    city = Entity(name="Los Angeles", kind="place", user_id="u", created_at=JAN)
    short = Entity(name="LA", kind="place", user_id="u", created_at=JAN)
    gym = Entity(name="LA Fitness", kind="organisation", user_id="u", created_at=JAN)
    bob = Entity(name="Bob", kind="person", user_id="u", created_at=JAN)
    robert = Entity(name="Robert", kind="person", user_id="u", created_at=JAN)
    mapping = merge_aliases([city, short, gym, bob, robert])
    assert mapping[short.id] == city.id
    assert [mapping[e.id] for e in (gym, bob, robert)] == [gym.id, bob.id, robert.id]
