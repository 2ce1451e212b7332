"""Entities, relations and profiles through the public API, as a Zep or mem0-graph user
checks them: name lookups, entity-aware search, erasure, scoping and profile edits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from engram import Engram, InvalidInputError, Message
from engram.cli import main

pytest_plugins = ["servers"]


def said(text: str, month: int) -> Message:
    return Message(role="user", content=text, created_at=datetime(2026, month, 10, tzinfo=UTC))


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Engram]:
    with Engram(tmp_path / "engram.db") as engram:
        yield engram


def tell(mem: Engram, text: str, month: int = 3, user: str = "bob") -> None:
    mem.memories.add(messages=[said(text, month)], user_id=user, user_name=user.title())


@pytest.mark.parametrize("name", ["Maria Lopez", "maria", "Dr. Lopez", "dr lopez", "Maria's"])
def test_entities_by_any_name_the_user_would_type(mem: Engram, name: str) -> None:
    tell(mem, "I had a checkup with Dr. Maria Lopez yesterday, she was great.")
    [found] = mem.memories.entities(user_id="bob", name=name)
    assert (found.name, found.kind) == ("Maria Lopez", "person")


def test_a_shared_first_name_lists_both_people(mem: Engram) -> None:
    tell(mem, "I had a checkup with Dr. Maria Lopez yesterday.")
    tell(mem, "My colleague Maria Santos joined the team.", month=4)
    found = mem.memories.entities(user_id="bob", name="Maria")
    assert [entity.name for entity in found] == ["Maria Lopez", "Maria Santos"]
    assert mem.memories.entities(user_id="bob", name="Maria Santos") == [found[1]]
    assert mem.memories.entities(user_id="bob", name="Mar") == []


@pytest.mark.parametrize("name", ["", "   "])
def test_a_blank_name_is_refused_not_an_empty_listing(mem: Engram, name: str) -> None:
    tell(mem, "My friend Carla Mendes loves hiking in the Alps.")
    with pytest.raises(InvalidInputError, match="blank"):
        mem.memories.entities(user_id="bob", name=name)


def test_a_question_by_first_name_favours_that_entity(mem: Engram) -> None:
    tell(mem, "My friend Carla Mendes loves hiking in the Alps.")
    tell(mem, "I bought a new bike last week.")
    hits = mem.memories.search("What does Carla like?", user_id="bob", limit=10)
    about = [hit for hit in hits if "Carla" in hit.memory.text]
    others = [hit for hit in hits if "Carla" not in hit.memory.text]
    assert about and all(hit.parts.entity == 1.0 for hit in about)
    assert all(hit.parts.entity == 0.0 for hit in others)
    assert "Carla" in hits[0].memory.text


def test_entities_never_cross_users_or_tenants(tmp_path: Path) -> None:
    path = tmp_path / "engram.db"
    with Engram(path) as mem, Engram(path, tenant="acme") as other:
        tell(mem, "I had a checkup with Dr. Maria Lopez.", user="ana")
        tell(mem, "I had a checkup with Dr. Maria Lopez.", user="bob")
        tell(other, "I had a checkup with Dr. Maria Lopez.", user="bob")
        [ana] = mem.memories.entities(user_id="ana", name="Maria")
        [bob] = mem.memories.entities(user_id="bob", name="Maria")
        [acme] = other.memories.entities(user_id="bob", name="Maria")
        assert len({ana.id, bob.id, acme.id}) == 3
        assert (ana.user_id, bob.user_id, acme.tenant) == ("ana", "bob", "acme")
        mem.memories.delete_all(user_id="bob")
        assert mem.memories.entities(user_id="bob") == []
        assert mem.memories.entities(user_id="ana", name="Maria") == [ana]
        assert other.memories.entities(user_id="bob", name="Maria") == [acme]


def test_changed_relations_end_and_answer_as_of(mem: Engram) -> None:
    tell(mem, "I live in Berlin.", month=1)
    tell(mem, "I work at Google.", month=2)
    tell(mem, "I moved to Lisbon.", month=6)
    tell(mem, "I left Google and joined Meta.", month=7)
    names = {entity.id: entity.name for entity in mem.memories.entities(user_id="bob")}

    def held(as_of: datetime | None = None) -> set[tuple[str, str, bool]]:
        relations = mem.memories.relations(user_id="bob", as_of=as_of)
        return {(r.relation, names[r.target_id], r.valid_to is None) for r in relations}

    assert held() == {
        ("lives_in", "Berlin", False),
        ("works_at", "Google", False),
        ("lives_in", "Lisbon", True),
        ("works_at", "Meta", True),
    }
    march, august = datetime(2026, 3, 1), datetime(2026, 8, 1)
    assert held(march) == {("lives_in", "Berlin", False), ("works_at", "Google", False)}
    assert held(august) == {("lives_in", "Lisbon", True), ("works_at", "Meta", True)}
    assert held(datetime(2025, 12, 1)) == set()
    assert mem.memories.profile("bob").fields == {"home_city": "Lisbon", "employer": "Meta"}


def test_deleting_every_memory_of_an_entity_takes_it_and_its_relations(mem: Engram) -> None:
    tell(mem, "I work at Google.")
    tell(mem, "My friend Carla Mendes loves hiking.")
    for memory in mem.memories.get_all(user_id="bob"):
        if "Google" in memory.text:
            mem.memories.delete(memory.id)
    assert mem.memories.entities(user_id="bob", name="Google") == []
    assert [e.name for e in mem.memories.entities(user_id="bob", name="Carla")] == ["Carla Mendes"]
    kept = {e.id for e in mem.memories.entities(user_id="bob")}
    for relation in mem.memories.relations(user_id="bob"):
        assert {relation.source_id, relation.target_id} <= kept


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"diet": "x" * 2_000_000}, "bytes, more than"),
        ({"diet": "vegan\x00"}, "NUL"),
        ({"x" * 300: "vegan"}, "longer than 256"),
        ({"di\x00et": "vegan"}, "NUL"),
        ({"diet": 5}, "text or None"),
        ({"": "vegan"}, "needs a name"),
    ],
)
def test_bad_profile_edits_are_refused_and_change_nothing(
    mem: Engram, fields: dict[str, object], message: str
) -> None:
    tell(mem, "I live in Berlin.")
    mem.memories.update_profile("bob", {"diet": "vegetarian"})
    before = mem.memories.profile("bob")
    with pytest.raises(InvalidInputError, match=message):
        mem.memories.update_profile("bob", {"home_city": "Porto", **fields})  # type: ignore[dict-item]
    assert mem.memories.profile("bob") == before
    [fact] = [m for m in mem.memories.get_all(user_id="bob") if m.attribute == "home_city"]
    assert fact.is_current


def test_a_hand_edit_holds_until_the_user_says_otherwise(mem: Engram) -> None:
    tell(mem, "I'm vegan.", month=1)
    mem.memories.update_profile("bob", {"diet": "pescatarian"})
    tell(mem, "I'm vegan.", month=2)  # said before the edit: it does not undo it
    assert mem.memories.profile("bob").fields["diet"] == "pescatarian"
    mem.memories.add(messages=[Message(role="user", content="I'm vegetarian now.")], user_id="bob")
    profile = mem.memories.profile("bob")
    assert profile.fields["diet"] == "vegetarian"
    source = mem.memories.get(profile.sources["diet"])
    assert source.attribute == "diet"


def test_a_first_name_in_another_role_is_another_person(mem: Engram) -> None:
    tell(mem, "My sister Maria lives in Madrid.", month=3)
    tell(mem, "My boss Maria Keller is strict.", month=4)
    tell(mem, "My friend Carla loves hiking.", month=4)
    tell(mem, "My friend Carla Mendes called me.", month=5)
    people = {e.name: e for e in mem.memories.entities(user_id="bob") if e.kind == "person"}
    assert set(people) == {"Bob", "Maria", "Maria Keller", "Carla Mendes"}
    assert people["Carla Mendes"].aliases == ("Carla",)
    roles = {
        (r.relation, r.target_id)
        for r in mem.memories.relations(user_id="bob")
        if r.source_id == people["Bob"].id
    }
    assert ("has_sister", people["Maria"].id) in roles
    assert ("has_boss", people["Maria Keller"].id) in roles
    assert ("has_sister", people["Maria Keller"].id) not in roles


def test_lookups_and_roles_on_every_backend(memory_engram: Engram) -> None:
    mem = memory_engram
    tell(mem, "I had a checkup with Dr. Maria Lopez yesterday.", month=2)
    tell(mem, "My boss Maria Keller is strict.", month=3)
    tell(mem, "My boss Maria called me.", month=4)
    people = {e.name: e for e in mem.memories.entities(user_id="bob") if e.kind == "person"}
    assert set(people) == {"Bob", "Maria Lopez", "Maria Keller"}
    assert mem.memories.entities(user_id="bob", name="dr. lopez") == [people["Maria Lopez"]]
    assert mem.memories.entities(user_id="bob", name="MARIA") == [people["Maria Keller"]]
    hits = mem.memories.search("Is Keller strict?", user_id="bob", limit=3)
    assert "Maria Keller" in hits[0].memory.text and hits[0].parts.entity == 1.0


def test_cli_entities_by_title_and_profile_edits(tmp_path: Path) -> None:
    db = str(tmp_path / "engram.db")
    with Engram(db) as mem:
        tell(mem, "I had a checkup with Dr. Maria Lopez yesterday.")
        tell(mem, "I live in Berlin.")
    runner = CliRunner()
    found = runner.invoke(
        main, ["memories", "entities", "--db", db, "--user", "bob", "--name", "Dr. Lopez"]
    )
    assert found.exit_code == 0, found.output
    assert "Maria Lopez" in found.output and "Berlin" not in found.output
    huge = "diet=" + "x" * 2_000_000
    refused = runner.invoke(
        main, ["memories", "profile", "--db", db, "--user", "bob", "--set", huge]
    )
    assert refused.exit_code != 0 and "more than" in refused.output
    with Engram(db) as mem:
        assert mem.memories.profile("bob").fields == {"home_city": "Berlin"}


def test_a_trip_summary_names_each_person_and_place_and_no_labels(mem: Engram) -> None:
    tell(mem, "I grew up in Porto. My partner Tomás loves Lisbon.", month=3)
    tell(
        mem,
        "Summary: Lisbon & Porto, 3 to 11 May (Bob & Tomás). Budget is EUR 1,800, "
        "prices may move before the Q2 review. The train from Lisbon arrives at Porto "
        "Campanhã, a short ride from Porto centre.",
        month=4,
    )
    entities = {e.name: e for e in mem.memories.entities(user_id="bob")}
    assert set(entities) == {"Bob", "Porto", "Tomás", "Lisbon", "Porto Campanhã"}
    assert entities["Porto"].aliases == () and entities["Bob"].aliases == ()
    assert mem.memories.entities(user_id="bob", name="Porto") == [entities["Porto"]]
    relations = {
        (r.source_id, r.relation, r.target_id) for r in mem.memories.relations(user_id="bob")
    }
    assert (entities["Bob"].id, "partner_of", entities["Tomás"].id) in relations
