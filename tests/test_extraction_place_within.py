"""A home named with where it lies, "I live in Portland, Oregon" or "I live in Kreuzberg,
Berlin": the rules kept only the name before the comma ("The user lives in Brooklyn"), so
"Which state do I live in?" found nothing and a neighbourhood became the home city.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from embedders import HashingEmbedder
from engram import Engram, Message
from engram.memory._places import place_within

MAY = datetime(2024, 5, 2, 9, 0, tzinfo=UTC)


def remember(tmp_path: Path, text: str) -> tuple[dict[str, str], list[str]]:
    """The profile fields and the current facts after the user said `text`."""
    with Engram(tmp_path / "where.db", embedder=HashingEmbedder()) as engram:
        message = Message(role="user", content=text, created_at=MAY)
        engram.memories.add(messages=[message], user_id="ana")
        profile = engram.memories.profile("ana")
        facts = [m.text for m in engram.memories.get_all(user_id="ana") if m.kind != "episode"]
        return dict(profile.fields if profile else {}), facts


@pytest.mark.parametrize(
    ("text", "home", "fact"),
    [
        ("I live in Portland, Oregon.", "Portland", "The user lives in Portland, Oregon"),
        ("I live in Paris, France", "Paris", "The user lives in Paris, France"),
        # a part of a well-known city: the city is the home city
        ("I live in Kreuzberg, Berlin.", "Berlin", "The user lives in Kreuzberg, Berlin"),
        ("I just moved to Shoreditch, London!", "London", "The user moved to Shoreditch, London"),
        # New York names a state as much as a city: Albany is no part of New York City
        ("I live in Brooklyn, New York.", "Brooklyn", "The user lives in Brooklyn, New York"),
        ("I live in Albany, New York.", "Albany", "The user lives in Albany, New York"),
        # a well-known city is never a part of the place after it
        ("I live in Seattle, Washington.", "Seattle", "The user lives in Seattle, Washington"),
        # what follows the comma is no place: as before
        ("I live in Lisbon, and I love it.", "Lisbon", "The user lives in Lisbon"),
    ],
)
def test_a_home_keeps_where_it_lies(tmp_path: Path, text: str, home: str, fact: str) -> None:
    fields, facts = remember(tmp_path, text)
    assert fields["home_city"] == home
    assert fact in facts


def test_a_search_for_the_state_finds_the_home(tmp_path: Path) -> None:
    with Engram(tmp_path / "state.db", embedder=HashingEmbedder()) as engram:
        engram.memories.add(
            messages=[Message(role="user", content="I live in Portland, Oregon.", created_at=MAY)],
            user_id="ana",
        )
        hits = engram.memories.search("Do I live in Oregon?", user_id="ana", limit=3)
        assert any("Oregon" in hit.memory.text and hit.memory.kind != "episode" for hit in hits)


@pytest.mark.parametrize(
    ("words", "within"),
    [
        (", Oregon with my wife", ("Oregon", False)),
        (", Porto is where I grew up", None),
        (", Berlin.", ("Berlin", True)),
        (", New York City", ("New York City", True)),
        (", the suburbs", None),
        (" Oregon", None),
        ("", None),
    ],
)
def test_place_within(words: str, within: tuple[str, bool] | None) -> None:
    assert place_within(words) == within


@pytest.mark.parametrize(
    ("text", "home"),
    [
        # a list of places, or a clause that goes on: the place alone, as before
        ("I live in Lisbon, Porto is where I grew up.", "Lisbon"),
        ("I moved to Berlin, Paris and Rome over the years.", "Berlin"),
    ],
)
def test_a_place_after_a_comma_that_is_no_qualifier(tmp_path: Path, text: str, home: str) -> None:
    fields, facts = remember(tmp_path, text)
    assert fields.get("home_city") == home
    assert not any("," in fact for fact in facts if home in fact)
