"""A mem0 user's searches: a fact kept in each of three sessions takes one place in the
results, and an assistant's everyday questions ("What should I cook for her?", "a
restaurant near her") find the user's diet, allergies and current home first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engram import Engram, Message

pytest_plugins = ["servers"]

START = datetime(2026, 9, 1, 9, tzinfo=UTC)


def tell(mem: Engram, user: str, turns: list[tuple[int, str, str]]) -> None:
    """Each turn added as it arrives, in its session, `day` days after `START`."""
    for day, session, text in turns:
        said = Message(
            role="user", content=text, created_at=START + timedelta(days=day), session_id=session
        )
        mem.memories.add(messages=[said], user_id=user, session_id=session)


@pytest.fixture
def mem(every_memory_engram: Engram) -> Engram:
    return every_memory_engram


def test_a_fact_said_in_three_sessions_takes_one_place(mem: Engram) -> None:
    tell(mem, "kim", [(day, f"s{day}", "My friend Tom loves pizza.") for day in range(3)])
    copies = [m for m in mem.memories.get_all(user_id="kim") if m.kind != "episode"]
    assert len(copies) >= 2  # each session keeps its own (its search finds what it said)
    hits = mem.memories.search("Who is Tom?", user_id="kim", limit=5)
    sayings = [(h.memory.kind == "episode", h.memory.text) for h in hits]
    assert len(sayings) == len(set(sayings))
    # A session's own search still finds its copy.
    [own] = [
        h
        for h in mem.memories.search("Who is Tom?", user_id="kim", session_id="s2")
        if h.memory.kind != "episode"
    ]
    assert own.memory.session_id == "s2"


def test_an_assistants_everyday_questions_find_diet_allergies_and_home(mem: Engram) -> None:
    tell(
        mem,
        "maria",
        [
            (0, "s1", "Hi, I'm Maria. I work at Google as a product manager."),
            (1, "s1", "I'm vegetarian, so no meat recipes please."),
            (3, "s2", "I love Thai food, especially green curry."),
            (4, "s2", "I live in Boston, the best restaurants are in Boston anyway."),
            (8, "s3", "I'm allergic to peanuts."),
            (14, "s5", "I'm vegan now, I stopped eating dairy and eggs."),
            (20, "s6", "I moved to Denver."),
        ],
    )
    cook = mem.memories.search("What should I cook for her?", user_id="maria", limit=3)
    attributes = {hit.memory.attribute for hit in cook[:2]}
    assert attributes == {"diet", "allergy:peanuts"}, [h.memory.text for h in cook]
    assert "vegan" in next(h.memory.text for h in cook if h.memory.attribute == "diet")
    near = mem.memories.search("Recommend a restaurant near her", user_id="maria", limit=3)
    homes = [h for h in near if h.memory.attribute == "home_city"]
    assert homes and homes[0].rank < min(
        (h.rank for h in near if "Boston" in h.memory.text), default=99
    )
    assert "Denver" in homes[0].memory.text
