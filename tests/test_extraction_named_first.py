"""Kin named before the role ("Carla Mendes is my best friend", "Sam is my boss"), and a
pronoun in a name's place naming no one ("She is my girlfriend" set the partner to "She",
retiring the real one)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engram import Engram, Message
from engram.memory import extract


def facts(text: str) -> list[str]:
    return [c.text for c in extract([Message(role="user", content=text)]) if c.kind != "episode"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Carla Mendes is my best friend.", "Carla Mendes is the user's best friend"),
        ("Sam is my boss.", "Sam is the user's boss"),
        ("Tom is my older brother.", "Tom is the user's brother"),
        ("Rui is my friend from college.", "Rui is the user's friend"),
        ("Ana is now my roommate.", "Ana is the user's roommate"),
    ],
)
def test_kin_named_before_the_role(text: str, expected: str) -> None:
    assert facts(text) == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "She is my girlfriend.",
        "This is my girlfriend.",
        "He is my boss.",
        "That is my sister.",
        "Tom is my brother's friend.",
        "Who is my boss?",
    ],
)
def test_a_pronoun_or_someone_elses_kin_names_no_one(text: str) -> None:
    assert facts(text) == []


def test_she_is_my_girlfriend_keeps_the_partner_named_before(tmp_path: Path) -> None:
    start = datetime(2026, 1, 5, tzinfo=UTC)
    with Engram(tmp_path / "e.db") as mem:
        for day, text in enumerate(["My girlfriend is Lena.", "She is my girlfriend, you know."]):
            said = Message(role="user", content=text, created_at=start + timedelta(days=day))
            mem.memories.add(messages=[said], user_id="bo")
        profile = mem.memories.profile("bo")
        assert profile is not None and profile.fields["partner"] == "Lena"
