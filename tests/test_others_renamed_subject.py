"""A fact about someone the user knows, said later by a shorter name: "My friend Carla Mendes
lives in Porto", then "Carla moved to Berlin". When the name resolves to the one person it
can be, the later fact is about that person, so it replaces her old value (the memory
retired, its relation ended) as it would for the user's own home; when two known people
share the name, it replaces neither."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engram import Engram, Message

JUNE = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Engram]:
    with Engram(tmp_path / "engram.db") as engram:
        yield engram


def tell(mem: Engram, month: int, *texts: str) -> None:
    messages = [
        Message(role="user", content=text, created_at=datetime(2026, month, 10, 10, i, tzinfo=UTC))
        for i, text in enumerate(texts)
    ]
    mem.memories.add(messages=messages, user_id="kim")


def current(mem: Engram, relation: str) -> list[tuple[str, str]]:
    """The `relation`s holding in June, as (source name, target name)."""
    names = {e.id: e.name for e in mem.memories.entities(user_id="kim")}
    return sorted(
        (names[r.source_id], names[r.target_id])
        for r in mem.memories.relations(user_id="kim", as_of=JUNE)
        if r.relation == relation
    )


def facts_in_june(mem: Engram) -> list[str]:
    return [m.text for m in mem.memories.get_all(user_id="kim", as_of=JUNE) if m.kind != "episode"]


@pytest.mark.parametrize(
    ("first", "later", "relation", "old", "new", "question"),
    [
        ("My best friend Carla Mendes lives in Porto.", "Carla moved to Berlin.", "lives_in")
        + ("Porto", "Berlin", "Where does Carla live now?"),
        ("My friend Carla Mendes works at Farfetch.", "Carla now works at Zalando.", "works_at")
        + ("Farfetch", "Zalando", "Where does Carla work now?"),
    ],
)
def test_a_first_name_later_replaces_the_full_named_persons_value(
    mem: Engram, first: str, later: str, relation: str, old: str, new: str, question: str
) -> None:
    tell(mem, 1, first)
    tell(mem, 4, later)
    assert current(mem, relation) == [("Carla Mendes", new)]
    assert not [text for text in facts_in_june(mem) if old in text]
    [retired] = [
        m
        for m in mem.memories.get_all(user_id="kim", include_superseded=True)
        if m.kind != "episode" and m.metadata.get("value") == old
    ]
    assert retired.superseded_at is not None or retired.valid_to is not None
    hits = mem.memories.search(question, user_id="kim", limit=10, record_access=False)
    assert [hit for hit in hits if old in hit.memory.text]
    assert all(hit.parts.current < 1.0 for hit in hits if old in hit.memory.text)
    names = {e.id: e.name for e in mem.memories.entities(user_id="kim")}
    february = mem.memories.relations(user_id="kim", as_of=datetime(2026, 2, 1, tzinfo=UTC))
    held = [(names[r.source_id], names[r.target_id]) for r in february if r.relation == relation]
    assert held == [("Carla Mendes", old)]


def test_a_first_name_two_known_people_share_replaces_neither(mem: Engram) -> None:
    tell(
        mem,
        1,
        "My friend Carla Mendes lives in Porto.",
        "My colleague Carla Santos lives in Lisbon.",
    )
    tell(mem, 4, "Carla moved to Berlin.", "Santos moved to Madrid.")
    assert current(mem, "lives_in") == [
        ("Carla", "Berlin"),
        ("Carla Mendes", "Porto"),
        ("Carla Santos", "Madrid"),
    ]
    june = facts_in_june(mem)
    assert "Carla Mendes lives in Porto" in june
    assert "Carla Santos lives in Lisbon" not in june
