"""A taste said to have ended in words the extractor files under no slot ("I no longer enjoy
jazz": a fact negating "enjoy jazz") ends the favourite of that same thing, as "I'm no
longer into jazz" and "I used to love jazz" do: the profile no longer holds it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engram import Engram, Message

pytest_plugins = ["servers"]

JAN = datetime(2026, 1, 5, 10, tzinfo=UTC)
MAY = datetime(2026, 5, 5, 10, tzinfo=UTC)


@pytest.fixture
def mem(every_memory_engram: Engram) -> Engram:
    """An Engram on each memory backend."""
    return every_memory_engram


def tell(mem: Engram, *turns: tuple[str, datetime]) -> dict[str, str]:
    """The profile of Ana after her `turns`, each said when given."""
    for text, when in turns:
        said = Message(role="user", content=text, created_at=when)
        mem.memories.add(messages=[said], user_id="ana")
    found = mem.memories.profile("ana")
    return dict(found.fields) if found else {}


@pytest.mark.parametrize(
    ("favourite", "ended", "attribute"),
    [
        ("My favourite music is jazz.", "I no longer enjoy jazz.", "favorite_music"),
        ("My favourite food is sushi.", "I no longer like sushi.", "favorite_food"),
        ("My favourite food is sushi.", "I'm no longer a fan of sushi.", "favorite_food"),
    ],
)
def test_the_end_of_a_liking_retires_the_favourite(
    mem: Engram, favourite: str, ended: str, attribute: str
) -> None:
    assert attribute in tell(mem, (favourite, JAN))

    assert attribute not in tell(mem, (ended, MAY))

    every = mem.memories.get_all(user_id="ana", include_superseded=True)
    [held] = [m for m in every if m.attribute == attribute]
    assert not held.is_current


def test_the_end_of_a_dislike_leaves_the_favourite(mem: Engram) -> None:
    fields = tell(mem, ("My favourite food is sushi.", JAN), ("I no longer hate sushi.", MAY))
    assert fields == {"favorite_food": "sushi"}
