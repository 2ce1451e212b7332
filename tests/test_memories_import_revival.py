"""An import that erases what the export holds the tombstone of gives back what it
retired, as `delete` gives it back (`revival`); what a policy forgot gives nothing back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engram import Engram, Message
from engram.memory import ForgettingPolicy

pytest_plugins = ["servers"]


def said(text: str, month: int) -> Message:
    return Message(role="user", content=text, created_at=datetime(2026, month, 10, tzinfo=UTC))


@pytest.fixture
def replica(memory_address: str) -> Iterator[Engram]:
    with Engram(memory_address) as mem:
        yield mem


def test_a_replica_erasing_a_value_as_its_source_did_gives_back_what_it_retired(
    tmp_path: Path, replica: Engram
) -> None:
    with Engram(str(tmp_path / "source.db")) as source:
        source.memories.add(messages=[said("I live in Berlin.", 1)], user_id="ana")
        moved = source.memories.add(messages=[said("I moved to Tokyo.", 3)], user_id="ana")
        replica.memories.import_(source.memories.export(user_id="ana"))
        [tokyo] = [m.id for m in moved.added if m.kind != "episode"]
        source.memories.delete(tokyo)
        after = source.memories.export(user_id="ana")

    imported = replica.memories.import_(after)

    assert imported.erased == 1
    [berlin] = [m for m in replica.memories.get_all(user_id="ana") if m.attribute == "home_city"]
    assert "Berlin" in berlin.text and berlin.valid_to is None
    [lives_in] = [r for r in replica.memories.relations(user_id="ana") if r.memory_id == berlin.id]
    assert lives_in.valid_to is None
    assert replica.memories.profile("ana").fields == {"home_city": "Berlin"}  # type: ignore[union-attr]


def test_a_backup_restored_after_forgetting_gives_nothing_back(replica: Engram) -> None:
    """What a policy forgot takes nothing back, in the store as in a backup restored."""
    replica.memories.add(messages=[said("I live in Berlin.", 1)], user_id="ana")
    replica.memories.add(messages=[said("I moved to Tokyo.", 3)], user_id="ana")
    [berlin] = [
        m
        for m in replica.memories.get_all(user_id="ana", include_superseded=True)
        if m.attribute == "home_city" and "Berlin" in m.text
    ]
    replica.memories.update(berlin.id, pinned=True)  # all else is older than the max age
    backup = replica.memories.export(user_id="ana")
    replica.memories.forget(
        ForgettingPolicy(max_age=timedelta(0), keep_profile=False), user_id="ana"
    )
    forgotten = replica.memories.export(user_id="ana")

    replica.memories.import_(backup)

    assert replica.memories.export(user_id="ana") == forgotten
    assert replica.memories.get(berlin.id).valid_to is not None  # retired, as forget left it
    assert replica.memories.profile("ana").fields == {}  # type: ignore[union-attr]
