"""A fact about someone the user knows said first by a short name, then by a longer one:
"Carla moved to Porto", then "Carla Mendes moved to Berlin". The entity takes the longer
name, and the later fact, filed under the name the earlier was, retires it (the order
"Carla Mendes ..." then "Carla ..." is `test_others_renamed_subject`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engram import Engram, Message
from test_others_renamed_subject import current, facts_in_june


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Engram]:
    with Engram(tmp_path / "engram.db") as engram:
        yield engram


def tell(mem: Engram, *texts: str) -> None:
    for month, text in enumerate(texts, start=1):
        said = datetime(2026, month, 10, 10, tzinfo=UTC)
        mem.memories.add(
            messages=[Message(role="user", content=text, created_at=said)], user_id="kim"
        )


@pytest.mark.parametrize(
    ("first", "later", "relation", "old", "new", "question"),
    [
        ("Carla moved to Porto.", "Carla Mendes moved to Berlin.", "lives_in")
        + ("Porto", "Berlin", "Where does Carla live?"),
        ("My friend Carla lives in Porto.", "My friend Carla Mendes moved to Berlin.")
        + ("lives_in", "Porto", "Berlin", "Where does Carla live?"),
        ("Carla works at Farfetch.", "Carla Mendes now works at Zalando.", "works_at")
        + ("Farfetch", "Zalando", "Where does Carla work?"),
    ],
)
def test_a_longer_name_later_replaces_the_short_named_persons_value(
    mem: Engram, first: str, later: str, relation: str, old: str, new: str, question: str
) -> None:
    """(was: both values current, the old one found first)"""
    tell(mem, first, later)
    people = [e for e in mem.memories.entities(user_id="kim") if e.name.startswith("Carla")]
    assert [(e.name, e.aliases) for e in people] == [("Carla Mendes", ("Carla",))]
    assert current(mem, relation) == [("Carla Mendes", new)]
    assert not [text for text in facts_in_june(mem) if old in text]
    hits = mem.memories.search(question, user_id="kim", limit=10, record_access=False)
    assert new in hits[0].memory.text
    assert all(hit.parts.current < 1.0 for hit in hits if old in hit.memory.text)


def test_a_short_name_after_the_rename_still_fills_the_same_slot(mem: Engram) -> None:
    tell(mem, "Carla moved to Porto.", "Carla Mendes moved to Berlin.", "Carla moved to Lisbon.")
    assert current(mem, "lives_in") == [("Carla Mendes", "Lisbon")]
    assert [text for text in facts_in_june(mem) if "moved" in text] == ["Carla moved to Lisbon"]
