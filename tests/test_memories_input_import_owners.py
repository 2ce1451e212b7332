"""An import stores every record under the user it belongs with: an export whose profile,
relation or entity names another user than its memories (or than the memory or entity it
is tied to) is refused whole, naming the record, so no user's data lands under a user
whose erasure would not reach it."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engram import Engram, InvalidInputError, Message
from engram.types import MemoryChange
from test_memories_api import EMPTY_EXPORT

pytest_plugins = ["servers"]


def said(text: str) -> Message:
    return Message(role="user", content=text, created_at=datetime(2026, 1, 10, tzinfo=UTC))


@pytest.fixture
def source(tmp_path: Path) -> Iterator[Engram]:
    """A SQLite Engram holding Ana's home, sister and diet (memories, entities, relations,
    a profile), and Bob's home."""
    with Engram(tmp_path / "source.db") as mem:
        mem.memories.add(messages=[said("I live in Lisbon and my sister is Rita.")], user_id="ana")
        mem.memories.update_profile("ana", {"diet": "vegan"})
        mem.memories.add(messages=[said("I live in Oslo.")], user_id="bob")
        yield mem


@pytest.fixture
def target(memory_address: str) -> Iterator[Engram]:
    """An empty Engram on each memory backend."""
    with Engram(memory_address) as mem:
        yield mem


def _to_carol(record: dict[str, Any]) -> None:
    record["user_id"] = "carol"


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda d: _to_carol(d["profile"]), r"the profile is of user 'carol'"),
        (lambda d: _to_carol(d["relations"][0]), r"relation '.+' is of user 'carol'"),
        (lambda d: _to_carol(d["entities"][0]), r"entity '.+' is of user 'carol'"),
        (lambda d: d["entities"][0].update(user_id=None), r"entity '.+' is of no user"),
    ],
)
def test_a_record_of_a_user_whose_memories_the_export_does_not_hold_is_refused(
    source: Engram, target: Engram, damage: Callable[[dict[str, Any]], None], match: str
) -> None:
    data = copy.deepcopy(source.memories.export(user_id="ana"))
    damage(data)

    with pytest.raises(InvalidInputError, match=f"malformed memory export: {match}, but the "):
        target.memories.import_(data)

    for user in ("ana", "carol"):
        assert target.memories.export(user_id=user) == EMPTY_EXPORT


def test_a_refused_import_leaves_nothing_that_survives_the_users_erasure(
    memory_engram: Engram,
) -> None:
    """The QA case: Ana's backup, its profile and relation relabelled "carol", restored
    after Ana's memories were removed; erasing Ana must leave nothing of her anywhere."""
    memory_engram.memories.add(messages=[said("I live in Lisbon.")], user_id="ana")
    data = memory_engram.memories.export(user_id="ana")
    _to_carol(data["profile"])
    _to_carol(data["relations"][0])
    memory_engram.memories.delete_all(user_id="ana")

    with pytest.raises(InvalidInputError, match="is of user 'carol'"):
        memory_engram.memories.import_(data)
    memory_engram.delete_user("ana")

    assert memory_engram.memories.profile("carol") is None
    assert memory_engram.memories.relations(user_id="carol") == []


def _merged(*exports: dict[str, Any]) -> dict[str, Any]:
    """Several users' exports as one (the first one's profile)."""
    lists = ("memories", "history", "entities", "relations", "tombstones")
    merged = {**exports[0], **{key: [r for e in exports for r in e[key]] for key in lists}}
    return copy.deepcopy(merged)


def _of(data: dict[str, Any], key: str, user: str) -> dict[str, Any]:
    """The first record of `key` of `user` in `data`."""
    return next(record for record in data[key] if record["user_id"] == user)


def _fact(data: dict[str, Any], user: str) -> dict[str, Any]:
    """The first memory of `user` naming an entity."""
    return next(m for m in data["memories"] if m["user_id"] == user and m["entity_ids"])


def _tombstone(memory_id: str, user: str) -> dict[str, Any]:
    """A tombstone record of an export: `memory_id` of `user` erased."""
    change = MemoryChange(memory_id, "delete").to_dict()
    return {key: change[key] for key in ("id", "memory_id", "action", "at")} | {"user_id": user}


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (
            lambda d: _of(d, "relations", "bob").update(memory_id=_fact(d, "ana")["id"]),
            r"relation '.+' is of user 'bob', but the memory stating it \('.+'\) is of user 'ana'",
        ),
        (
            lambda d: _of(d, "relations", "bob").update(target_id=_of(d, "entities", "ana")["id"]),
            r"relation '.+' is of user 'bob', but the entity it joins \('.+'\) is of user 'ana'",
        ),
        (
            lambda d: _fact(d, "bob").update(entity_ids=[_of(d, "entities", "ana")["id"]]),
            r"memory '.+' is of user 'bob', but the entity it names \('.+'\) is of user 'ana'",
        ),
        (
            lambda d: d["tombstones"].append(_tombstone(_fact(d, "ana")["id"], "bob")),
            r"the tombstone of memory '.+' is of user 'bob', but the memory itself is of user",
        ),
        (
            lambda d: d["profile"]["sources"].update(home_city=_fact(d, "bob")["id"]),
            r"the profile is of user 'ana', but the memory its field 'home_city' is taken from",
        ),
    ],
)
def test_a_record_of_another_user_than_what_it_is_tied_to_is_refused(
    source: Engram, target: Engram, damage: Callable[[dict[str, Any]], None], match: str
) -> None:
    """In an export holding two users' memories, each record is of the user of the
    memory or entity it is tied to."""
    data = _merged(source.memories.export(user_id="ana"), source.memories.export(user_id="bob"))
    damage(data)

    with pytest.raises(InvalidInputError, match="malformed memory export: " + match):
        target.memories.import_(data)

    for user in ("ana", "bob"):
        assert target.memories.export(user_id=user) == EMPTY_EXPORT


def test_records_of_users_whose_memories_the_export_holds_are_imported(
    source: Engram, target: Engram
) -> None:
    ana, bob = (source.memories.export(user_id=user) for user in ("ana", "bob"))

    target.memories.import_(_merged(ana, bob))

    assert target.memories.export(user_id="ana") == ana
    assert target.memories.relations(user_id="bob") == source.memories.relations(user_id="bob")


def test_the_export_of_a_user_with_a_profile_only_is_imported(
    source: Engram, target: Engram
) -> None:
    """No memory says whose the export is: its profile does."""
    source.memories.update_profile("dan", {"diet": "vegetarian"})
    data = source.memories.export(user_id="dan")

    target.memories.import_(data)

    assert target.memories.export(user_id="dan") == data
