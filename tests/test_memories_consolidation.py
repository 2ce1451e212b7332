"""Consolidation end to end through `Engram.memories`, on SQLite and PostgreSQL: a merge
keeps the profile field, relation and slot of what it merges, "as of" answers, and the
sessions' reads and erasure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engram import Engram, Message
from engram._memory_transfer import MEMORY_EXPORT_FORMAT
from engram.types._memory import Entity, Memory, Relation, UserProfile

pytest_plugins = ["servers"]

JAN = datetime(2025, 1, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def mem(memory_engram: Engram) -> Engram:
    return memory_engram


def export(
    memories: list[Memory],
    entities: list[Entity] | None = None,
    relations: list[Relation] | None = None,
    profile: UserProfile | None = None,
) -> dict[str, Any]:
    return {
        "format": MEMORY_EXPORT_FORMAT,
        "memories": [memory.to_dict() for memory in memories],
        "history": [],
        "entities": [entity.to_dict() for entity in entities or []],
        "relations": [relation.to_dict() for relation in relations or []],
        "profile": profile.to_dict() if profile else None,
    }


def assert_nothing_dangles(mem: Engram, user_id: str) -> None:
    """Every `superseded_by`, profile source and relation names a stored memory."""
    stored = mem.memories.get_all(user_id=user_id, include_superseded=True)
    ids = {memory.id for memory in stored}
    pointers = {memory.superseded_by for memory in stored if memory.superseded_by}
    pointers |= set(mem.memories.profile(user_id).sources.values())
    pointers |= {r.memory_id for r in mem.memories.relations(user_id=user_id)}
    assert pointers <= ids


def relation_targets(mem: Engram, user_id: str, as_of: datetime) -> list[str]:
    names = {entity.id: entity.name for entity in mem.memories.entities(user_id=user_id)}
    found = mem.memories.relations(user_id=user_id, as_of=as_of)
    return sorted(f"{relation.relation} {names[relation.target_id]}" for relation in found)


def test_merging_a_restated_slot_fact_keeps_the_profile_field_and_relation(mem: Engram) -> None:
    memories = mem.memories
    memories.add(messages=[Message(role="user", content="I live in Porto.")], user_id="ana")
    memories.add(messages=[Message(role="user", content="I moved to Lisbon.")], user_id="ana")
    [note] = memories.add("Ana enjoys the trams of Lisbon.", user_id="ana", infer=False).added
    memories.update(note.id, "The user moved to Lisbon.", importance=1.0)  # now a duplicate
    assert memories.consolidate(user_id="ana") == 1
    [slot] = [m for m in memories.get_all(user_id="ana") if m.attribute == "home_city"]
    assert slot.metadata["value"] == "Lisbon" and slot.importance == 1.0
    profile = memories.profile("ana")
    assert (profile.fields["home_city"], profile.sources["home_city"]) == ("Lisbon", slot.id)
    assert relation_targets(mem, "ana", datetime.now(UTC)) == ["lives_in Lisbon"]
    assert_nothing_dangles(mem, "ana")


def test_merging_two_holders_of_a_slot_re_points_what_named_the_merged_away_one(
    mem: Engram,
) -> None:
    def holder(text: str, **fields: Any) -> Memory:
        return Memory(text, kind="profile", user_id="ana", attribute="home_city", **fields)

    ana, lisbon, porto = (
        Entity("ana", "person", user_id="ana", metadata={"user": True}),
        Entity("Lisbon", "place", user_id="ana"),
        Entity("Porto", "place", user_id="ana"),
    )
    kept = holder(
        "The user lives in Lisbon",
        metadata={"value": "Lisbon"},
        importance=0.9,
        recorded_at=JAN + 3 * DAY,
        entity_ids=(lisbon.id,),
    )
    merged = holder(
        "The user lives in Lisbon now",
        metadata={"value": "Lisbon"},
        recorded_at=JAN + 2 * DAY,
        entity_ids=(lisbon.id,),
    )
    old = holder(
        "The user lives in Porto",
        metadata={"value": "Porto"},
        recorded_at=JAN,
        valid_to=JAN + 2 * DAY,
        superseded_at=JAN + 2 * DAY,
        superseded_by=merged.id,
        entity_ids=(porto.id,),
    )
    relations = [
        Relation(ana.id, "lives_in", lisbon.id, user_id="ana", memory_id=merged.id),
        Relation(ana.id, "lives_in", lisbon.id, user_id="ana", memory_id=kept.id),
        Relation(
            ana.id, "lives_in", porto.id, user_id="ana", memory_id=old.id, valid_to=JAN + 2 * DAY
        ),
    ]
    profile = UserProfile("ana", fields={"home_city": "Lisbon"}, sources={"home_city": merged.id})
    mem.memories.import_(export([kept, merged, old], [ana, lisbon, porto], relations, profile))

    assert mem.memories.consolidate(user_id="ana", threshold=0.85) == 1
    assert mem.memories.get(old.id).superseded_by == kept.id
    assert mem.memories.profile("ana").sources == {"home_city": kept.id}
    stated = {(r.memory_id, r.target_id) for r in mem.memories.relations(user_id="ana")}
    assert stated == {(kept.id, lisbon.id), (old.id, porto.id)}  # one Lisbon edge, not two
    assert_nothing_dangles(mem, "ana")


def test_consolidating_does_not_change_what_was_known_as_of_a_time(mem: Engram) -> None:
    early = Memory("Ana is allergic to peanuts.", user_id="ana", recorded_at=JAN + 2 * DAY)
    late = Memory(
        "Ana is allergic to peanuts!", user_id="ana", importance=0.9, recorded_at=JAN + 30 * DAY
    )
    mem.memories.import_(export([early, late]))
    query = {"user_id": "ana", "as_of": JAN + 10 * DAY}
    [before] = mem.memories.search("peanut allergy", **query)
    assert mem.memories.consolidate(user_id="ana") == 1
    [after] = mem.memories.search("peanut allergy", **query)
    assert after.memory.recorded_at == before.memory.recorded_at == JAN + 2 * DAY


def test_near_duplicates_of_two_sessions_stay_in_their_sessions(mem: Engram) -> None:
    first = Memory("I love hiking in the mountains.", user_id="ana", session_id="s1")
    again = Memory("I love hiking in the mountains!", user_id="ana", session_id="s1")
    other = Memory("I love going hiking in mountains.", user_id="ana", session_id="s2")
    mem.memories.import_(export([first, again, other]))
    assert mem.memories.consolidate(user_id="ana") == 1  # within s1 only
    assert [m.text for m in mem.memories.get_all(session_id="s2")] == [other.text]
    assert mem.memories.delete_all(user_id="ana", session_id="s2").memories == 1
    assert [m.session_id for m in mem.memories.get_all(user_id="ana")] == ["s1"]


def test_a_merge_keeps_the_text_it_took_in_the_kept_memorys_history(mem: Engram) -> None:
    """The merged-away memory is erased, but not the text that lives on in the kept one: the
    merge entry recorded it, then the erasure blanked it as a copy of an erased text."""
    short = Memory("Ana is allergic to peanuts.", user_id="ana", importance=0.9)
    long = Memory("Ana is allergic to peanuts, badly.", user_id="ana")
    mem.memories.import_(export([short, long]))
    assert mem.memories.consolidate(user_id="ana", threshold=0.8) == 1
    [kept] = mem.memories.get_all(user_id="ana")
    assert (kept.id, kept.text) == (short.id, long.text)
    merge = mem.memories.history(kept.id)[-1]
    assert (merge.action, merge.old_text, merge.new_text) == ("merge", short.text, long.text)


def test_a_fact_and_the_end_of_it_are_no_duplicates(mem: Engram) -> None:
    """Close by cosine (0.97), but opposites: revision retires the one said first (see
    test_revision_negation_flips), and a merge of both current (an import) keeps both."""
    texts = ["Ana used to play tennis every week.", "Ana plays tennis every week."]
    mem.memories.import_(export([Memory(text, user_id="ana") for text in texts]))
    assert mem.memories.consolidate(user_id="ana") == 0
    assert sorted(m.text for m in mem.memories.get_all(user_id="ana")) == sorted(texts)
