"""Long-term memory export and import as a user migrating between backends or
restoring a backup uses them: round-trip fidelity (SQLite to SQLite and to PostgreSQL),
the same search answers afterwards, all-or-nothing refusal of a bad document, a second
import of the same backup, a backup restored after an erasure, tenant and user scoping,
and the format version."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engram import ConflictError, Engram, InvalidInputError, Memory, Message, NotFoundError
from engram.memory import ForgettingPolicy

pytest_plugins = ["servers"]

BEFORE_MOVE = datetime(2026, 2, 1, tzinfo=UTC)


def said(text: str, month: int) -> Message:
    return Message(role="user", content=text, created_at=datetime(2026, month, 10, tzinfo=UTC))


@pytest.fixture
def source(tmp_path: Path) -> Iterator[Engram]:
    """A SQLite Engram holding a rich history for user "ana" (a moved home, an edit, a
    deletion, entities, relations, a profile, pinned and accessed memories), and one
    memory of user "bob"."""
    with Engram(str(tmp_path / "source.db")) as mem:
        mem.memories.add(
            messages=[said("I'm vegetarian and my partner is Tomás. I live in Berlin.", 1)],
            user_id="ana",
        )
        mem.memories.add(messages=[said("I moved to Tokyo.", 3)], user_id="ana")
        trip = mem.memories.add(
            "Ana flies to Lisbon on 3 May",
            user_id="ana",
            infer=False,
            metadata={"booking": {"ref": "X1", "seats": [1, 2]}},
            importance=0.7,
        )
        mem.memories.update(trip.added[0].id, text="Ana flies to Porto on 3 May", pinned=True)
        gone = mem.memories.add("Ana dislikes jazz", user_id="ana", infer=False)
        mem.memories.delete(gone.added[0].id)
        mem.memories.add("Ana asked about trains", user_id="ana", session_id="s1", infer=False)
        mem.memories.add("Ana prefers short answers", user_id="ana", agent_id="bot", infer=False)
        mem.memories.update_profile("ana", {"language": "Portuguese"})
        mem.memories.search("where does Ana fly", user_id="ana")
        mem.memories.add("Bob likes chess", user_id="bob", infer=False)
        yield mem


@pytest.fixture
def target(memory_address: str) -> Iterator[Engram]:
    """An empty Engram on each memory backend."""
    with Engram(memory_address) as mem:
        yield mem


def answers(mem: Engram, **options: Any) -> list[tuple[str, str]]:
    hits = mem.memories.search("where does Ana live", user_id="ana", limit=20, **options)
    return sorted((hit.memory.id, hit.memory.text) for hit in hits)


def test_a_round_trip_keeps_every_record_and_field(source: Engram, target: Engram) -> None:
    exported = source.memories.export(user_id="ana")
    assert exported["history"] and exported["relations"] and exported["profile"]
    assert any(m["access_count"] for m in exported["memories"])
    assert any(m["superseded_at"] for m in exported["memories"])

    target.memories.import_(exported)

    assert target.memories.export(user_id="ana") == exported


def test_search_and_as_of_answer_the_same_after_a_round_trip(
    source: Engram, target: Engram
) -> None:
    target.memories.import_(source.memories.export(user_id="ana"))

    assert answers(target) == answers(source)
    assert answers(target, as_of=BEFORE_MOVE) == answers(source, as_of=BEFORE_MOVE)
    assert any("Berlin" in text for _, text in answers(target, as_of=BEFORE_MOVE))
    assert target.memories.profile("ana") == source.memories.profile("ana")


def test_importing_a_backup_twice_changes_nothing(source: Engram, target: Engram) -> None:
    exported = source.memories.export(user_id="ana")
    first = target.memories.import_(exported)
    second = target.memories.import_(exported)

    assert [m.id for m in second] == [m.id for m in first]
    assert target.memories.export(user_id="ana") == exported


ERASURES: dict[str, Callable[[Engram, str], object]] = {
    "delete": lambda mem, memory_id: mem.memories.delete(memory_id),
    "forget": lambda mem, _: mem.memories.forget(ForgettingPolicy(max_per_user=1), user_id="ana"),
    "delete_all of a session": lambda mem, _: mem.memories.delete_all(
        user_id="ana", session_id="s1"
    ),
}


@pytest.mark.parametrize("erasure", ERASURES)
def test_a_backup_restored_after_an_erasure_does_not_bring_the_memory_back(
    target: Engram, erasure: str
) -> None:
    kept = target.memories.add("Ana likes green tea", user_id="ana", infer=False, pinned=True)
    secret = target.memories.add(
        "Ana's door code is quokka-mauve",
        user_id="ana",
        session_id="s1",
        infer=False,
        importance=0.1,
    ).added[0]
    backup = target.memories.export(user_id="ana")
    ERASURES[erasure](target, secret.id)
    erased = target.memories.export(user_id="ana")

    restored = target.memories.import_(backup)

    assert [m.id for m in restored] == [kept.added[0].id]
    assert restored.skipped_erased == 1
    assert target.memories.export(user_id="ana") == erased
    assert "quokka" not in json.dumps(erased)
    assert [change.action for change in target.memories.history(secret.id)] == ["add", "delete"]


def test_what_an_erased_memory_gave_rise_to_stays_erased_after_a_restore(target: Engram) -> None:
    """The entity only it named, the relation it stated, the profile field taken from it,
    the line quoting it in the next turn's context, the link from the value it retired."""
    told = target.memories.add(
        messages=[said("My partner is Zorvax.", 1), said("I live in Berlin.", 1)], user_id="ana"
    ).added
    moved = target.memories.add(messages=[said("I moved to Tokyo.", 3)], user_id="ana").added
    backup = target.memories.export(user_id="ana")
    partner = [m.id for m in told if "Zorvax" in m.text]
    tokyo = [m.id for m in moved if m.kind != "episode"]
    assert len(partner) == 2 and len(tokyo) == 1
    assert any(m["superseded_by"] == tokyo[0] for m in backup["memories"])
    assert any(m["metadata"].get("context") for m in backup["memories"])
    for memory_id in partner + tokyo:
        target.memories.delete(memory_id)
    erased = target.memories.export(user_id="ana")

    restored = target.memories.import_(backup)

    assert restored.skipped_erased == 3
    assert target.memories.export(user_id="ana") == erased
    assert "Zorvax" not in json.dumps(erased)
    assert all(m["superseded_by"] is None for m in erased["memories"])
    # What Tokyo retired came back with its erasure, and stays back: current, its
    # relation open, the profile's home city (`revival`).
    current = target.memories.get_all(user_id="ana")
    [berlin] = [m for m in current if m.attribute == "home_city"]
    assert "Berlin" in berlin.text and berlin.valid_to is None and berlin.superseded_at is None
    [lives_in] = [r for r in target.memories.relations(user_id="ana") if r.memory_id == berlin.id]
    assert lives_in.valid_to is None
    assert target.memories.profile("ana").fields == {"home_city": "Berlin"}  # type: ignore[union-attr]


def test_a_backup_restored_where_one_of_its_memories_was_erased_copies_none_of_its_texts(
    source: Engram, target: Engram
) -> None:
    """The target erased the memory (moved there on its own before): the backup's other
    memories hold copies of its text in their history (the value it retired), which go."""
    backup = source.memories.export(user_id="ana")
    [tokyo] = [m for m in backup["memories"] if m["kind"] != "episode" and "Tokyo" in m["text"]]
    assert any(
        c["new_text"] == tokyo["text"] and c["memory_id"] != tokyo["id"] for c in backup["history"]
    )
    alone = {
        **backup,
        "memories": [{**tokyo, "entity_ids": []}],
        "history": [c for c in backup["history"] if c["memory_id"] == tokyo["id"]],
        "entities": [],
        "relations": [],
        "profile": None,
    }
    target.memories.import_(alone)
    target.memories.delete(tokyo["id"])

    restored = target.memories.import_(backup)

    assert restored.skipped_erased == 1
    assert tokyo["text"] not in json.dumps(target.memories.export(user_id="ana"))


def test_a_user_erased_whole_leaves_nothing_so_a_backup_restores_them(target: Engram) -> None:
    """`delete_all(user_id=...)` erases the user's tombstones too: nothing records that the
    user's memories were, so restoring a backup brings them back, as a restore should."""
    target.memories.add("Ana likes green tea", user_id="ana", infer=False)
    backup = target.memories.export(user_id="ana")
    target.memories.delete_all(user_id="ana")

    restored = target.memories.import_(backup)

    assert restored.skipped_erased == 0
    assert target.memories.export(user_id="ana") == backup


def _tea_and_door_code(engram: Engram) -> tuple[Memory, Memory]:
    """Ana's two memories: one to keep, and a secret to erase."""
    kept = engram.memories.add("Ana likes green tea", user_id="ana", infer=False).added[0]
    secret = engram.memories.add("Ana's door code is quokka-mauve", user_id="ana", infer=False)
    return kept, secret.added[0]


def test_a_moved_database_keeps_the_erasures_so_an_older_backup_stays_erased(
    target: Engram, tmp_path: Path
) -> None:
    """The tombstones travel with the export: a backup older than the erasure, restored
    into the database the user moved to, does not bring the memory back there either."""
    with Engram(str(tmp_path / "old.db")) as old:
        kept, secret = _tea_and_door_code(old)
        older = old.memories.export(user_id="ana")
        old.memories.delete(secret.id)
        moved = old.memories.export(user_id="ana")
    [tombstone] = moved["tombstones"]
    assert (tombstone["memory_id"], tombstone["action"], tombstone["user_id"]) == (
        secret.id,
        "delete",
        "ana",
    )
    assert "old_text" not in tombstone and "new_text" not in tombstone
    target.memories.import_(moved)

    restored = target.memories.import_(older)

    assert [m.id for m in restored] == [kept.id]
    assert restored.skipped_erased == 1
    assert target.memories.export(user_id="ana") == moved
    assert "quokka" not in json.dumps(moved)
    assert [change.action for change in target.memories.history(secret.id)] == ["delete"]


def test_an_erasure_imported_after_the_memory_erases_it_and_fails_nothing(
    target: Engram,
) -> None:
    """An import brings the export's erasures: the memory the database holds (an older
    export imported first) that the newer export holds the tombstone of is erased, and
    leaves a tombstone of its own; the rest of the export is imported."""
    kept, secret = _tea_and_door_code(target)
    older = target.memories.export(user_id="ana")
    target.memories.delete(secret.id)
    newer = target.memories.export(user_id="ana")
    target.memories.delete_all(user_id="ana")
    target.memories.import_(older)

    restored = target.memories.import_(newer)

    assert [m.id for m in restored] == [kept.id]
    assert restored.erased == 1
    with pytest.raises(NotFoundError):
        target.memories.get(secret.id)
    [tombstone] = target.memories.export(user_id="ana")["tombstones"]
    assert tombstone["memory_id"] == secret.id


def test_an_export_of_format_1_still_imports(source: Engram, target: Engram) -> None:
    exported = source.memories.export(user_id="ana")
    assert exported["format"] == "engram.memories/2" and exported["tombstones"]
    first = {key: value for key, value in exported.items() if key != "tombstones"}

    target.memories.import_({**first, "format": "engram.memories/1"})

    assert target.memories.export(user_id="ana") == {**exported, "tombstones": []}


def test_an_import_writes_only_into_its_own_tenant(source: Engram, memory_address: str) -> None:
    exported = source.memories.export(user_id="ana")
    with Engram(memory_address, tenant="acme") as acme, Engram(memory_address) as other:
        acme.memories.import_(exported)
        assert other.memories.get_all(user_id="ana") == []
        assert other.memories.export(user_id="ana")["memories"] == []
        in_acme = acme.memories.export(user_id="ana")
        assert {m["tenant"] for m in in_acme["memories"]} == {"acme"}

        # The same ids in another tenant are other records: no conflict, nothing shared.
        other.memories.import_(exported)
        other.memories.delete_all(user_id="ana")
        assert acme.memories.export(user_id="ana") == in_acme


def test_exporting_a_user_includes_no_other_user(source: Engram) -> None:
    exported = source.memories.export(user_id="ana")

    texts = [m["text"] for m in exported["memories"]]
    assert "Bob likes chess" not in texts
    assert {m["user_id"] for m in exported["memories"]} == {"ana"}
    assert {e["user_id"] for e in exported["entities"]} == {"ana"}


def _spoiled(exported: dict[str, Any], spoil: str) -> dict[str, Any]:
    data = copy.deepcopy(exported)
    memories = data["memories"]
    if spoil == "kind":
        memories[-1]["kind"] = "gossip"
    elif spoil == "date":
        memories[-1]["valid_from"] = "the third of May"
    elif spoil == "nul":
        memories[-1]["text"] = "Ana\x00flies"
    elif spoil == "oversized":
        memories[-1]["text"] = "x" * 2_000_000
    elif spoil == "version":
        data["format"] = "engram.memories/3"
    elif spoil == "duplicate memory":
        memories.append({**memories[0], "text": "Ana lives on the Moon"})
    elif spoil == "duplicate entity":
        data["entities"].append({**data["entities"][0], "name": "Somebody else"})
    elif spoil == "duplicate relation":
        data["relations"].append(dict(data["relations"][0]))
    elif spoil == "duplicate history":
        data["history"].append({**data["history"][0], "text": "rewritten"})
    elif spoil == "oversized profile value":
        data["profile"]["fields"]["language"] = "x" * 2_000_000
    elif spoil == "overlong profile field name":
        data["profile"]["fields"]["x" * 300] = "value"
    elif spoil == "oversized entity name":
        data["entities"][0]["name"] = "x" * 2_000_000
    elif spoil == "oversized history text":
        data["history"][0]["new_text"] = "x" * 2_000_000
    elif spoil == "empty relation id":
        data["relations"][0]["id"] = ""
    elif spoil == "relation to missing entity":
        data["relations"][-1]["target_id"] = "no-such-entity"
    elif spoil == "history of another memory":
        data["history"][-1]["memory_id"] = "no-such-memory"
    elif spoil == "tombstone with text":
        data["tombstones"][0]["old_text"] = "Ana dislikes jazz"
    elif spoil == "tombstone of no user":
        del data["tombstones"][0]["user_id"]
    elif spoil == "duplicate tombstone":
        data["tombstones"].append({**data["tombstones"][0], "memory_id": "another"})
    return data


SPOILS = {
    "kind": "memories[",
    "date": "memories[",
    "nul": "memories[",
    "oversized": "memories[",
    "version": "engram.memories/3",
    "duplicate memory": "memories[",
    "duplicate entity": "entities[",
    "duplicate relation": "relations[",
    "duplicate history": "history[",
    "oversized profile value": "profile: profile field 'language'",
    "overlong profile field name": "profile: a profile field's name",
    "oversized entity name": "entities[0]",
    "oversized history text": "history[0]",
    "empty relation id": "relations[0]",
    "relation to missing entity": "no-such-entity",
    "history of another memory": "history[",
    "tombstone with text": "tombstones[0]",
    "tombstone of no user": "tombstones[0]",
    "duplicate tombstone": "tombstones[1]",
}


@pytest.mark.parametrize("spoil", SPOILS)
def test_one_bad_record_refuses_the_whole_import_naming_it(
    source: Engram, target: Engram, spoil: str
) -> None:
    data = _spoiled(source.memories.export(user_id="ana"), spoil)

    with pytest.raises(InvalidInputError) as refused:
        target.memories.import_(data)

    assert SPOILS[spoil] in str(refused.value)
    empty = target.memories.export(user_id="ana")
    assert empty["memories"] == empty["history"] == empty["entities"] == []
    assert empty["relations"] == empty["tombstones"] == [] and empty["profile"] is None


def test_a_future_format_version_is_refused_by_name(source: Engram, target: Engram) -> None:
    data = {**source.memories.export(user_id="ana"), "format": "engram.memories/3"}

    with pytest.raises(InvalidInputError, match=r"engram\.memories/3"):
        target.memories.import_(data)


def test_metadata_nested_too_deeply_is_refused_naming_the_record(
    source: Engram, target: Engram
) -> None:
    data = source.memories.export(user_id="ana")
    deep: dict[str, Any] = {}
    inner = deep
    for _ in range(5000):
        inner["a"] = {}
        inner = inner["a"]
    data["memories"][0]["metadata"] = deep

    with pytest.raises(InvalidInputError, match=r"memories\[0\].*nested too deeply"):
        target.memories.import_(data)

    assert target.memories.get_all(user_id="ana") == []


def test_a_session_export_is_refused_saying_what_it_is(source: Engram, target: Engram) -> None:
    source.session("s1").add("user", "hi")

    with pytest.raises(InvalidInputError, match="a session export, not a memory export"):
        target.memories.import_(source.session("s1").export())


def test_an_export_edited_to_another_user_takes_nothing_from_the_first(source: Engram) -> None:
    """Ids are kept on import: an export of "ana" relabelled "carol" and imported into the
    database it came from must not move ana's memories over to carol."""
    before = source.memories.export(user_id="ana")
    relabelled = copy.deepcopy(before)
    for memory in relabelled["memories"]:
        memory["user_id"] = "carol"
    for record in (*relabelled["entities"], *relabelled["relations"], relabelled["profile"]):
        record["user_id"] = "carol"

    with pytest.raises(ConflictError, match="another user"):
        source.memories.import_(relabelled)

    assert source.memories.export(user_id="ana") == before
    assert source.memories.get_all(user_id="carol") == []
