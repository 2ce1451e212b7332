"""A degree under way, said as most people say it ("I'm doing my PhD in marine biology at
UCSD", "I'm pursuing a master's at Stanford"), is the school; the rules read only "I study
at" and "I'm a student at", so such a user had no school, and a graduation ended nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from embedders import HashingEmbedder
from engram import Engram, Message
from engram.memory._phrases import with_article
from engram.memory.queries import asks_end

MARCH = datetime(2026, 3, 1, 9, tzinfo=UTC)


def remember(tmp_path: Path, text: str) -> tuple[dict[str, str], list[str]]:
    with Engram(tmp_path / "degree.db", embedder=HashingEmbedder()) as engram:
        engram.memories.add(
            messages=[Message(role="user", content=text, created_at=MARCH)], user_id="ana"
        )
        profile = engram.memories.profile("ana")
        facts = [m.text for m in engram.memories.get_all(user_id="ana") if m.kind != "episode"]
        return dict(profile.fields if profile else {}), facts


@pytest.mark.parametrize(
    ("text", "fields", "fact"),
    [
        (
            "I'm doing my PhD in marine biology at UCSD.",
            {"school": "UCSD", "major": "marine biology"},
            "The user is doing a PhD in marine biology at UCSD",
        ),
        (
            "I'm pursuing a master's in computer science at Stanford",
            {"school": "Stanford", "major": "computer science"},
            "The user is doing a master's in computer science at Stanford",
        ),
        (
            "I'm doing an MBA at Wharton",
            {"school": "Wharton"},
            "The user is doing an MBA at Wharton",
        ),
        ("I'm working on my PhD at MIT", {"school": "MIT"}, "The user is doing a PhD at MIT"),
    ],
)
def test_a_degree_under_way_names_the_school(
    tmp_path: Path, text: str, fields: dict[str, str], fact: str
) -> None:
    found, facts = remember(tmp_path, text)
    assert found == fields
    assert fact in facts


@pytest.mark.parametrize(
    "text",
    ["My sister is doing her PhD at UCLA", "I'm doing my PhD.", "Are you doing a PhD at MIT?"],
)
def test_no_school_of_the_user_without_one_named_as_theirs(tmp_path: Path, text: str) -> None:
    found, _ = remember(tmp_path, text)
    assert "school" not in found


@pytest.mark.parametrize(
    ("query", "ending"),
    [
        ("When did I finish my PhD?", True),
        ("When did I graduate?", True),
        ("When did I leave Google?", True),
        ("Where did I do my PhD?", False),
        ("When did I start my PhD?", False),
    ],
)
def test_asks_end(query: str, ending: bool) -> None:
    assert asks_end(query) is ending


@pytest.mark.parametrize(
    ("noun", "said"),
    [
        ("MBA", "an MBA"),
        ("PhD", "a PhD"),
        ("HR manager", "an HR manager"),
        ("UX designer", "a UX designer"),
        ("engineer", "an engineer"),
        ("iPhone 12", "an iPhone 12"),
    ],
)
def test_with_article_says_an_acronym_by_its_first_letter(noun: str, said: str) -> None:
    assert with_article(noun) == said
