"""A pet named in a sentence is the user's only when the user owns it ("I have a cat named
Luna", "We adopted a dog, Bolt", "my cat Luna"), never when the sentence's owner is someone
else: a person named, or one the user names by "our" ("Our neighbour ... has a cat named
Luna")."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from engram import Engram, Message
from engram.memory import extract


def facts(text: str) -> list[str]:
    said = Message(role="user", content=text, created_at=datetime(2026, 3, 5, 9, tzinfo=UTC))
    return [c.text for c in extract([said], user_name="Ana") if c.kind != "episode"]


@pytest.mark.parametrize(
    ("theirs", "ours", "expected"),
    [
        (
            "Our neighbour in Berlin, Marta Kowalski, has a cat named Luna.",
            "I have a cat named Mia.",
            "Ana has a cat named Mia",
        ),
        ("Marta Kowalski, our neighbour, has a cat named Luna.", "We adopted a dog, Bolt.")
        + ("Ana has a dog named Bolt",),
        ("Our neighbours have a cat named Luna.", "my cat Mia is jealous.")
        + ("Ana has a cat named Mia",),
        ("Our neighbours have a cat named Luna.", "Our family adopted a cat named Mia.")
        + ("Ana has a cat named Mia",),
        ("Our neighbour, Marta, has a cat named Luna.", "We got our first cat named Mia.")
        + ("Ana has a cat named Mia",),
    ],
)
def test_someone_elses_pet_is_not_the_users_and_the_users_own_is(
    theirs: str, ours: str, expected: str
) -> None:
    said = facts(f"{theirs} {ours}")
    assert expected in said
    assert not [fact for fact in said if "named Luna" in fact]


def test_a_neighbours_pet_gives_the_user_no_pet_relation(tmp_path: Path) -> None:
    with Engram(tmp_path / "engram.db") as mem:
        said = "Our neighbour in Berlin, Marta Kowalski, has a cat named Luna."
        at = datetime(2026, 3, 5, 9, tzinfo=UTC)
        mem.memories.add(messages=[Message(role="user", content=said, created_at=at)], user_id="u")
        assert [r for r in mem.memories.relations(user_id="u") if r.relation == "has_pet"] == []
        texts = [m.text for m in mem.memories.get_all(user_id="u") if m.kind != "episode"]
        assert not [text for text in texts if "user has a cat" in text]
