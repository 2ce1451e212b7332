"""Session export and import as a user migrating between backends or restoring a
backup uses them: round-trip fidelity into each conversation backend (in memory, SQLite,
PostgreSQL, Redis), all-or-nothing refusal of a bad document, a second import of the same
backup, tenant scoping, and the format version."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engram import ConflictError, Engram, InvalidInputError
from servers import fresh_store

pytest_plugins = ["servers"]

CALL = {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}


@pytest.fixture
def source(tmp_path: Path) -> Iterator[Engram]:
    """A SQLite Engram with session "trip" of user "ana": metadata, state, tool calls and
    their results, multimodal content, and a summary of its older turns."""
    with Engram(tmp_path / "source.db") as mem:
        s = mem.session("trip", user_id="ana", agent_id="bot", metadata={"channel": "web"})
        s.add("system", "You are a travel assistant.")
        for i in range(30):
            s.add("user", f"Question {i} about Lisbon. " + "More detail. " * (i % 5))
            s.add("assistant", f"Answer {i}. " + "Some words. " * (i % 3), name="guide")
        s.add("assistant", "", tool_calls=[CALL])
        s.add("tool", '{"temp": 21}', tool_call_id="call_1")
        s.add("user", [{"type": "text", "text": "And this?"}], metadata={"lang": "en"})
        s.update_state({"step": 3, "cart": ["a", "b"]})
        s.context("gpt-4o", budget=300, strategy="summary")
        assert s.summary() is not None
        yield mem


@pytest.fixture(params=["memory", "sqlite", "postgres", "redis"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engram]:
    """An empty Engram keeping sessions in each conversation backend (on SQLite and PostgreSQL,
    an Engram of that address: every store there)."""
    address: Path | str
    if request.param == "sqlite":
        address = tmp_path / "target.db"
    elif request.param == "postgres":
        address = request.getfixturevalue("postgres_clean_database")
    else:
        with fresh_store(request, tmp_path, "ConversationStore") as store, Engram(store) as mem:
            yield mem
        return
    with Engram(address) as mem:
        yield mem


def comparable(data: dict[str, Any]) -> dict[str, Any]:
    """An export without what an import renews: when the session was last used."""
    data = copy.deepcopy(data)
    data["session"].pop("updated_at")
    data["session"].pop("expires_at")
    return data


def test_a_round_trip_keeps_the_session_its_messages_and_summary(
    source: Engram, target: Engram
) -> None:
    exported = source.session("trip").export()

    target.import_session(exported)

    again = target.session("trip").export()
    assert comparable(again) == comparable(exported)
    restored = target.session("trip")
    assert restored.state() == {"step": 3, "cart": ["a", "b"]}
    assert restored.messages()[-2].tool_call_id == "call_1"
    original = source.session("trip").context("gpt-4o", budget=300, strategy="summary")
    rebuilt = restored.context("gpt-4o", budget=300, strategy="summary")
    assert rebuilt.to_openai() == original.to_openai()
    assert rebuilt.report.tokens_after == original.report.tokens_after


def test_importing_the_backup_again_is_a_conflict_that_changes_nothing(
    source: Engram, target: Engram
) -> None:
    exported = source.session("trip").export()
    target.import_session(exported)
    target.session("trip").add("user", "Said after the restore.")
    before = target.session("trip").export()

    with pytest.raises(ConflictError, match="trip"):
        target.import_session(exported)

    assert target.session("trip").export() == before


def test_an_import_writes_only_into_its_own_tenant(source: Engram, tmp_path: Path) -> None:
    exported = source.session("trip").export()
    with Engram(tmp_path / "t.db", tenant="acme") as acme, Engram(tmp_path / "t.db") as other:
        acme.import_session(exported)
        assert [info.id for info in acme.sessions()] == ["trip"]
        assert acme.session("trip").info().tenant == "acme"
        assert other.sessions() == []


def _spoiled(exported: dict[str, Any], spoil: str) -> dict[str, Any]:
    data = copy.deepcopy(exported)
    messages = data["messages"]
    if spoil == "role":
        messages[-1]["role"] = "narrator"
    elif spoil == "date":
        messages[-1]["created_at"] = "yesterday"
    elif spoil == "nul":
        messages[-1]["content"] = "a\x00b"
    elif spoil == "oversized":
        messages[-1]["content"] = "x" * 2_000_000
    elif spoil == "version":
        data["format"] = "engram.session/2"
    elif spoil == "duplicate message":
        messages.append({**messages[1], "seq": len(messages) + 1})
    elif spoil == "orphan tool result":
        messages[-3]["tool_calls"] = []
    elif spoil == "duplicate seq":
        messages[2]["seq"] = messages[1]["seq"]
    elif spoil == "summary NUL":
        data["summary"]["text"] = "a\x00b"
    elif spoil == "oversized summary":
        data["summary"]["text"] = "x" * 2_000_000
    elif spoil == "negative summary boundary":
        data["summary"]["through_seq"] = -5
    elif spoil == "empty user":
        data["session"]["user_id"] = ""
    elif spoil == "user NUL":
        data["session"]["user_id"] = "a\x00b"
    elif spoil == "memory export":
        data = {"format": "engram.memories/1", "memories": []}
    return data


SPOILS = {
    "role": "narrator",
    "date": "yesterday",
    "nul": "NUL",
    "oversized": "bytes",
    "version": "engram.session/2",
    "duplicate message": "repeats the id",
    "orphan tool result": "tool",
    "duplicate seq": "repeats the seq",
    "summary NUL": "summary's text contains a NUL",
    "oversized summary": "summary's text is 2,000,000 bytes",
    "negative summary boundary": "through_seq",
    "empty user": "session's user_id",
    "user NUL": "session's user_id",
    "memory export": "memory export",
}


@pytest.mark.parametrize("spoil", SPOILS)
def test_one_bad_record_refuses_the_whole_import_naming_it(
    source: Engram, target: Engram, spoil: str
) -> None:
    data = _spoiled(source.session("trip").export(), spoil)

    with pytest.raises(InvalidInputError) as refused:
        target.import_session(data)

    assert SPOILS[spoil] in str(refused.value)
    assert target.sessions() == []


def test_an_import_refused_by_the_store_leaves_nothing_behind(
    source: Engram, target: Engram
) -> None:
    """A message id the tenant already holds (in another session) is a conflict found
    while writing: the session created before it must go with it."""
    exported = source.session("trip").export()
    taken = exported["messages"][-1]
    other = target.session("other")
    other.add("user", "Not part of the trip.", id=taken["id"])

    with pytest.raises(ConflictError):
        target.import_session(exported)

    assert [info.id for info in target.sessions()] == ["other"]
    assert [m.text for m in other.messages()] == ["Not part of the trip."]


def test_a_copy_under_another_id_beside_the_original_keeps_everything_but_ids(
    source: Engram, target: Engram
) -> None:
    exported = source.session("trip").export()
    target.import_session(exported)

    target.import_session(exported, session_id="trip-copy")

    original, twin = target.session("trip"), target.session("trip-copy")
    assert [m.to_openai() for m in twin.messages()] == [m.to_openai() for m in original.messages()]
    assert {m.id for m in twin.messages()}.isdisjoint(m.id for m in original.messages())
    assert twin.summary() is not None and original.summary() is not None
    assert twin.summary().text == original.summary().text  # type: ignore[union-attr]
    assert twin.summary().through_seq == original.summary().through_seq  # type: ignore[union-attr]
    assert twin.state() == original.state()
