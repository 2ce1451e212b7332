"""The long-term memory API as a demanding mem0 user checks it, through the sync methods and
their async twins, on SQLite and PostgreSQL: a slot fact's edit that would leave its text
and its value telling two stories is refused, and `infer=False` stores messages as they are."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from engram import Engram, InvalidInputError, Message, NotFoundError
from engram.types import Memory

pytest_plugins = ["servers"]

JAN = datetime(2026, 1, 1, 10, tzinfo=UTC)


@pytest.fixture(params=["sync", "async"])
def call(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """`call(mem.memories, "update", ...)`: the sync method, or its async twin run to the end."""

    def sync(memories: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        return getattr(memories, name)(*args, **kwargs)

    def twin(memories: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        return asyncio.run(getattr(memories, f"a{name}")(*args, **kwargs))

    return twin if request.param == "async" else sync


def said(text: str, when: datetime = JAN) -> Message:
    return Message(role="user", content=text, created_at=when)


def home_of(mem: Engram, user_id: str) -> Memory:
    mem.memories.add(messages=[said("I live in Porto.")], user_id=user_id, session_id="s1")
    return next(m for m in mem.memories.get_all(user_id=user_id) if m.attribute == "home_city")


def home_city(mem: Engram, user_id: str) -> str | None:
    profile = mem.memories.profile(user_id)
    return None if profile is None else profile.fields.get("home_city")


def current_homes(mem: Engram, user_id: str) -> list[str]:
    """Where the user lives by the relations still true."""
    names = {entity.id: entity.name for entity in mem.memories.entities(user_id=user_id)}
    return [
        names[r.target_id]
        for r in mem.memories.relations(user_id=user_id)
        if r.relation == "lives_in" and r.valid_to is None
    ]


@pytest.mark.parametrize(
    "text", ["Nia lives in Vigo now", "The user works at IBM", "Somewhere else entirely"]
)
def test_a_slot_fact_edit_whose_value_cannot_be_read_is_refused(
    memory_engram: Engram, call: Callable[..., Any], text: str
) -> None:
    """(was: accepted, the text said Vigo while the value, profile, relation and context
    said Porto)"""
    home = home_of(memory_engram, "nia")
    with pytest.raises(InvalidInputError, match="metadata="):
        call(memory_engram.memories, "update", home.id, text)
    assert memory_engram.memories.get(home.id) == home  # nothing written
    assert home_city(memory_engram, "nia") == "Porto"
    assert [c.action for c in memory_engram.memories.history(home.id)] == ["add"]


def test_a_slot_fact_edit_reads_its_value_or_takes_the_one_given(
    memory_engram: Engram, call: Callable[..., Any]
) -> None:
    memories = memory_engram.memories
    home = home_of(memory_engram, "nia")
    moved = call(memories, "update", home.id, "The user lives in Madrid")
    assert moved.metadata["value"] == "Madrid"
    reworded = call(memories, "update", home.id, "The user lives in Madrid, Spain")
    assert reworded.metadata["value"] == "Madrid"  # the new words still name Madrid
    given = call(memories, "update", home.id, "Nia lives in Vigo now", metadata={"value": "Vigo"})
    assert given.metadata["value"] == "Vigo"
    assert home_city(memory_engram, "nia") == "Vigo"
    assert current_homes(memory_engram, "nia") == ["Vigo"]


@pytest.mark.parametrize("value", [None, "", "  "])
def test_a_slot_fact_value_cannot_be_removed(
    memory_engram: Engram, call: Callable[..., Any], value: str | None
) -> None:
    """(was: `metadata={"value": None}` gave the profile field the memory's whole sentence)"""
    home = home_of(memory_engram, "nia")
    with pytest.raises(InvalidInputError, match="home_city"):
        call(memory_engram.memories, "update", home.id, metadata={"value": value})
    assert memory_engram.memories.get(home.id) == home
    assert home_city(memory_engram, "nia") == "Porto"


def test_infer_false_stores_messages_as_episodes_only(
    memory_engram: Engram, call: Callable[..., Any]
) -> None:
    """(was: facts were extracted from the messages and revised the user's slots anyway)"""
    memories = memory_engram.memories
    first = call(
        memories,
        "add",
        messages=[said("I live in Porto."), said("My wife is Maria.")],
        user_id="bob",
        infer=False,
    )
    assert [(m.kind, m.text) for m in first.added] == [
        ("episode", "I live in Porto."),
        ("episode", "My wife is Maria."),
    ]
    home = call(memories, "add", "I live in Faro", user_id="bob")  # inferred: a slot fact
    moved = call(
        memories,
        "add",
        messages=[said("I moved to Lisbon.", datetime(2026, 6, 1, tzinfo=UTC))],
        user_id="bob",
        infer=False,
    )
    assert [m.kind for m in moved.added] == ["episode"] and moved.updated == ()
    assert memories.profile("bob").fields == {"home_city": "Faro"}  # type: ignore[union-attr]
    assert {m.id for m in home.added} <= {m.id for m in memories.get_all(user_id="bob")}


async def test_history_of_an_id_never_stored_is_not_found_as_get_is(
    memory_engram: Engram,
) -> None:
    """`get`, `history` and their twins agree: an unknown id is not found; an erased memory's
    history is its tombstone."""
    memories = memory_engram.memories
    for read in (memories.get, memories.history):
        with pytest.raises(NotFoundError, match="no memory 'no-such-id'"):
            read("no-such-id")
    with pytest.raises(NotFoundError):
        await memories.ahistory("no-such-id")
    [tea] = memories.add("Ana likes green tea", user_id="ana", infer=False).added
    memories.delete(tea.id)
    *_, tombstone = await memories.ahistory(tea.id)
    assert tombstone.action == "delete"
