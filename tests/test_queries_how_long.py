""" "How long have I lived in Berlin?" asks when the current fact began, as "When did I move
to Berlin?" does: a time question, so the turn that dates it counts its time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engram import Engram, Message
from engram.memory.queries import is_temporal_query

pytest_plugins = ["servers"]

DAY = datetime(2026, 9, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("query", "temporal"),
    [
        ("How long have I lived in Berlin?", True),
        ("How long have I worked at Acme?", True),
        ("How long has Mel been painting?", False),  # answered by a duration said
        ("Since when do I live in Berlin?", True),
        ("How long ago did I move?", True),
        ("How long is the flight to Berlin?", False),
        ("How long should I boil an egg?", False),
    ],
)
def test_how_long_have_asks_when_it_began(query: str, temporal: bool) -> None:
    assert is_temporal_query(query) is temporal


def test_the_turn_that_dates_the_fact_counts_its_time(memory_engram: Engram) -> None:
    for day, text in enumerate(
        (
            "I love Berlin, the parks are great.",
            "I moved to Berlin in March 2024.",
            "Berlin has great bakeries and I have lived near one for ages.",
        )
    ):
        said = Message(role="user", content=text, created_at=DAY + timedelta(days=day))
        memory_engram.memories.add(messages=[said], user_id="ana", session_id=f"s{day}")

    hits = memory_engram.memories.search(
        "How long have I lived in Berlin?", user_id="ana", record_access=False
    )

    assert hits[0].memory.text == "I moved to Berlin in March 2024."
    assert hits[0].parts.time == 1.0
