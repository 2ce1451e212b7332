"""Revision across sessions and agents, one add of many turns, corrections and the user's
entity: end to end through `Engram.memories`, on SQLite (and PostgreSQL where the store's
filters decide the outcome)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engram import Engram, Message
from engram.types._memory import Memory

pytest_plugins = ["servers"]

JAN, FEB, MAY, JUNE = (datetime(2025, month, 1, 12, tzinfo=UTC) for month in (1, 2, 5, 6))


def said(text: str, when: datetime, **fields: Any) -> Message:
    return Message(role="user", content=text, created_at=when, **fields)


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Engram]:
    with Engram(tmp_path / "engram.db") as engram:
        yield engram


@pytest.fixture
def any_mem(memory_engram: Engram) -> Engram:
    """An Engram whose memories are in SQLite, or in PostgreSQL + pgvector."""
    return memory_engram


def facts(mem: Engram, user_id: str, **scope: Any) -> list[Memory]:
    return [m for m in mem.memories.get_all(user_id=user_id, **scope) if m.kind != "episode"]


def relation_targets(mem: Engram, user_id: str, as_of: datetime | None = None) -> list[str]:
    names = {entity.id: entity.name for entity in mem.memories.entities(user_id=user_id)}
    found = mem.memories.relations(user_id=user_id, as_of=as_of)
    return sorted(f"{relation.relation} {names[relation.target_id]}" for relation in found)


def entity_kinds(mem: Engram, user_id: str) -> dict[str, str]:
    return {entity.name: entity.kind for entity in mem.memories.entities(user_id=user_id)}


# 1. Slot facts are the user's, whatever session or agent stored them.


def test_a_slot_value_said_in_another_session_supersedes(any_mem: Engram) -> None:
    memories = any_mem.memories
    memories.add(
        messages=[said("I live in Porto. I love sushi.", JAN)], user_id="kim", session_id="c1"
    )
    report = memories.add(
        messages=[said("I moved to Lisbon. I love sushi.", MAY)], user_id="kim", session_id="c2"
    )
    assert [m.metadata["value"] for m in report.superseded] == ["Porto"]
    current = sorted(m.text for m in facts(any_mem, "kim"))
    assert current == ["The user loves sushi", "The user moved to Lisbon"]
    [sushi] = [m for m in facts(any_mem, "kim") if m.attribute == "preference:sushi"]
    assert sushi.session_id == "c1" and len(sushi.source_ids) == 2  # a duplicate: provenance
    [top, *_] = memories.search("where do I live", user_id="kim", kinds=["profile"])
    assert top.memory.text == "The user moved to Lisbon"
    assert relation_targets(any_mem, "kim", as_of=JUNE) == ["lives_in Lisbon"]
    # Episodes and plain facts stay in their session: a session's search finds its own.
    [episode] = memories.get_all(user_id="kim", session_id="c2", kinds=["episode"])
    assert "Lisbon" in episode.text
    for session in ("c1", "c2"):
        memories.add("Kim keeps bees on the roof", user_id="kim", session_id=session, infer=False)
    bees = [m for m in facts(any_mem, "kim") if "bees" in m.text]
    assert sorted(m.session_id or "" for m in bees) == ["c1", "c2"]


def test_a_slot_value_said_to_another_agent_supersedes(mem: Engram) -> None:
    mem.memories.add(messages=[said("I work at Google.", JAN)], user_id="kim", agent_id="a1")
    mem.memories.add(messages=[said("I work at Meta.", MAY)], user_id="kim", agent_id="a2")
    assert [m.metadata["value"] for m in facts(mem, "kim")] == ["Meta"]
    assert relation_targets(mem, "kim", as_of=JUNE) == ["works_at Meta"]


# 2. and 3. One add of several turns: each memory recorded when said, relations closed.


def test_a_relation_of_a_fact_superseded_in_the_same_add_ends(mem: Engram) -> None:
    mem.memories.add(
        messages=[said("I live in Porto.", JAN), said("I moved to Lisbon.", MAY)], user_id="may"
    )
    assert relation_targets(mem, "may", as_of=JUNE) == ["lives_in Lisbon"]
    assert relation_targets(mem, "may", as_of=FEB) == ["lives_in Porto"]
    [porto] = [r for r in mem.memories.relations(user_id="may") if r.valid_from == JAN]
    assert porto.valid_to == MAY


def test_each_memory_of_an_add_is_recorded_when_it_was_said(any_mem: Engram) -> None:
    memories = any_mem.memories
    memories.add(
        messages=[said("I live in Porto.", JAN), said("I moved to Lisbon.", MAY)], user_id="may"
    )
    everything = memories.get_all(user_id="may", include_superseded=True)
    assert {m.text: m.recorded_at for m in everything if m.kind != "episode"} == {
        "The user lives in Porto": JAN,
        "The user moved to Lisbon": MAY,
    }
    assert all(m.superseded_at is None or m.superseded_at >= m.recorded_at for m in everything)
    then = memories.search("where do I live", user_id="may", kinds=["profile"], as_of=FEB)
    assert [hit.memory.text for hit in then] == ["The user lives in Porto"]
    later = memories.search("where do I live", user_id="may", kinds=["profile"], as_of=JUNE)
    assert [hit.memory.text for hit in later] == ["The user moved to Lisbon"]


def test_an_older_value_learned_later_was_believed_until_the_newer_one(mem: Engram) -> None:
    mem.memories.add(messages=[said("I moved to Lisbon.", MAY)], user_id="may")
    mem.memories.add(messages=[said("I live in Porto.", JAN)], user_id="may")
    everything = mem.memories.get_all(user_id="may", include_superseded=True)
    [porto] = [m for m in everything if m.text == "The user lives in Porto"]
    assert porto.recorded_at == JAN and porto.superseded_at == MAY and porto.valid_to == MAY
    then = mem.memories.search("where do I live", user_id="may", kinds=["profile"], as_of=FEB)
    assert [hit.memory.text for hit in then] == ["The user lives in Porto"]


# 4. An update is a correction: profile and relation follow the slot value.


def test_correcting_a_slot_value_updates_profile_and_relation(any_mem: Engram) -> None:
    any_mem.memories.add(messages=[said("I live in Porto.", JAN)], user_id="quin")
    [city] = facts(any_mem, "quin")
    [before] = any_mem.memories.relations(user_id="quin")
    any_mem.memories.update(city.id, "The user lives in Braga", metadata={"value": "Braga"})
    assert any_mem.memories.profile("quin").fields["home_city"] == "Braga"  # type: ignore[union-attr]
    [after] = any_mem.memories.relations(user_id="quin")
    assert relation_targets(any_mem, "quin") == ["lives_in Braga"]
    assert (after.id, after.valid_from, after.valid_to) == (before.id, JAN, None)
    assert entity_kinds(any_mem, "quin")["Braga"] == "place"
    braga = any_mem.memories.entities(user_id="quin", name="Braga")[0]
    assert braga.id in any_mem.memories.get(city.id).entity_ids
    session = any_mem.session("c", user_id="quin")
    session.add("user", "What city am I in?")
    context = session.context(budget=2000, recall=5).to_openai()[0]["content"]
    assert "home city: Braga" in context and "home city: Porto" not in context


def test_correcting_a_retired_value_leaves_the_current_one(mem: Engram) -> None:
    mem.memories.add(messages=[said("I live in Porto.", JAN)], user_id="quin")
    [porto] = mem.memories.add(
        messages=[said("I moved to Lisbon.", MAY)], user_id="quin"
    ).superseded
    mem.memories.update(porto.id, "The user lived in Braga", metadata={"value": "Braga"})
    assert mem.memories.profile("quin").fields["home_city"] == "Lisbon"  # type: ignore[union-attr]
    assert relation_targets(mem, "quin", as_of=FEB) == ["lives_in Braga"]
    assert relation_targets(mem, "quin", as_of=JUNE) == ["lives_in Lisbon"]


def test_only_an_edit_of_the_value_is_a_correction(mem: Engram) -> None:
    mem.memories.add(messages=[said("I live in Porto.", JAN)], user_id="quin")
    [city] = facts(mem, "quin")
    before = mem.memories.relations(user_id="quin")
    mem.memories.update(city.id, "The user lives in Porto, Portugal", importance=0.9)
    assert mem.memories.relations(user_id="quin") == before
    mem.memories.update(city.id, "The user no longer lives in Porto")
    assert "home_city" not in mem.memories.profile("quin").fields  # type: ignore[union-attr]
    assert relation_targets(mem, "quin", as_of=datetime.now(UTC)) == []


# 5. The user's entity carries the user's name; a pet is no person.


def test_the_user_entity_is_named_after_the_name_said(mem: Engram) -> None:
    mem.memories.add(messages=[said("Hi, I'm Ana. I live in Porto.", JAN)], user_id="u-123")
    [ana] = [e for e in mem.memories.entities(user_id="u-123") if e.kind == "person"]
    assert ana.name == "Ana" and ana.metadata.get("user") is True
    assert "u-123" not in entity_kinds(mem, "u-123")
    [lives] = mem.memories.relations(user_id="u-123")
    assert lives.source_id == ana.id


def test_the_user_entity_takes_the_name_once_it_is_known(mem: Engram) -> None:
    mem.memories.add(messages=[said("I live in Porto.", JAN)], user_id="u-123")
    mem.memories.add(messages=[said("Hi, I'm Ana.", FEB)], user_id="u-123")
    mem.memories.add(messages=[said("My partner is Tomás.", MAY)], user_id="u-123")
    kinds = entity_kinds(mem, "u-123")
    assert kinds == {"Porto": "place", "Ana": "person", "Tomás": "person"}
    [ana] = mem.memories.entities(user_id="u-123", name="Ana")
    assert {r.source_id for r in mem.memories.relations(user_id="u-123")} == {ana.id}


def test_an_entity_of_the_user_name_mentioned_before_becomes_the_user(any_mem: Engram) -> None:
    any_mem.memories.add(messages=[said("I live in Porto.", JAN)], user_id="u-123")
    greeting = Message(role="assistant", content="Nice to meet you too, Ana!", created_at=FEB)
    any_mem.memories.add(messages=[greeting], user_id="u-123")
    [namesake] = any_mem.memories.entities(user_id="u-123", name="Ana")
    any_mem.memories.add(messages=[said("My name is Ana.", MAY)], user_id="u-123")
    [ana] = any_mem.memories.entities(user_id="u-123", name="Ana")
    assert ana.id == namesake.id and ana.kind == "person" and ana.metadata.get("user") is True
    assert "u-123" not in entity_kinds(any_mem, "u-123")
    [lives] = any_mem.memories.relations(user_id="u-123")
    assert lives.source_id == ana.id


def test_the_merged_user_entity_keeps_what_named_the_unnamed_one(any_mem: Engram) -> None:
    memories = any_mem.memories
    memories.add(messages=[said("I live in Porto.", JAN)], user_id="Kim")
    memories.add(messages=[said("I met Kim at the gym.", FEB)], user_id="Kim")  # the user id
    greeting = Message(role="assistant", content="Nice to meet you, Kimberly!", created_at=MAY)
    memories.add(messages=[greeting], user_id="Kim")
    memories.add(messages=[said("My name is Kimberly.", JUNE)], user_id="Kim")
    [me] = [e for e in memories.entities(user_id="Kim") if e.metadata.get("user")]
    assert me.name == "Kimberly" and entity_kinds(any_mem, "Kim")["Porto"] == "place"
    assert "Kim" not in entity_kinds(any_mem, "Kim")
    [gym] = memories.get_all(user_id="Kim", kinds=["episode"], limit=1, offset=2)
    assert gym.text == "I met Kim at the gym." and gym.entity_ids == (me.id,)
    assert memories.search("gym", user_id="Kim", kinds=["episode"])[0].memory.id == gym.id
    assert {r.source_id for r in memories.relations(user_id="Kim")} == {me.id}


def test_a_pet_is_not_a_person(mem: Engram) -> None:
    mem.memories.add(
        messages=[said("We have a cat named Miso and my partner is Tomás.", JAN)], user_id="u"
    )
    assert entity_kinds(mem, "u") == {"Miso": "other", "Tomás": "person", "u": "person"}


def test_a_relation_states_its_object_kind_for_good(mem: Engram) -> None:
    mem.memories.add(messages=[said("My cat Miso sleeps all day.", JAN)], user_id="u")
    assert relation_targets(mem, "u") == ["has_pet Miso"]
    mem.memories.add(messages=[said("I played with Miso all afternoon.", FEB)], user_id="u")
    mem.memories.add(messages=[said("I had lunch with Miso.", MAY)], user_id="u")
    assert entity_kinds(mem, "u")["Miso"] == "other"
