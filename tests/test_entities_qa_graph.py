"""Entities a graph user's QA found wrong: a new full name taking over the user's sister known
by her first name alone, a first name missed after an adverb ("Robert now teaches"), and
capitalised common words, a saint's title and a middle initial read wrongly as names."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engram import Engram, Message
from engram.memory import EntityMention, extract_entities, resolve_entities
from engram.types._memory import Entity

JAN = datetime(2026, 1, 5, 9, tzinfo=UTC)


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Engram]:
    with Engram(tmp_path / "engram.db") as engram:
        yield engram


def tell(mem: Engram, month: int, text: str) -> None:
    message = Message(role="user", content=text, created_at=datetime(2026, month, 5, 9, tzinfo=UTC))
    mem.memories.add(messages=[message], user_id="u")


def person(name: str) -> Entity:
    return Entity(name=name, kind="person", user_id="u", created_at=JAN)


def test_a_new_full_name_does_not_take_over_a_relative_known_by_first_name() -> None:
    """(was: "Marta Kowalski" renamed the user's sister "Marta", keeping "Marta" an alias)"""
    sister = person("Marta")
    roles = {sister.id: ["has_sister"]}
    neighbour = EntityMention("Marta Kowalski", "person")
    resolution = resolve_entities([neighbour], [sister], user_id="u", roles=roles)
    assert [e.name for e in resolution.new] == ["Marta Kowalski"] and resolution.updated == ()
    linked = resolve_entities(
        [neighbour], [sister], roles=roles, stated_roles={"marta kowalski": ["has_sister"]}
    )
    [renamed] = linked.updated  # "my sister Marta Kowalski": the text links them
    assert (renamed.id, renamed.name, renamed.aliases) == (sister.id, "Marta Kowalski", ("Marta",))
    known = person("Marta Kowalski")  # a later "Marta" still shortens the one Marta known
    short = resolve_entities(
        [EntityMention("Marta", "person")], [known], roles={known.id: ["neighbour_of"]}
    )
    assert short.ids["marta"] == known.id and short.new == ()


def test_the_sister_and_the_neighbour_stay_two_people(mem: Engram) -> None:
    tell(mem, 1, "My sister Marta is a nurse in Lisbon.")
    tell(mem, 3, "Our new neighbour Marta Kowalski is from Krakow.")
    people = {e.id: e for e in mem.memories.entities(user_id="u") if e.name.startswith("Marta")}
    assert sorted((e.name, e.aliases) for e in people.values()) == [
        ("Marta", ()),
        ("Marta Kowalski", ()),
    ]
    [sister] = [r for r in mem.memories.relations(user_id="u") if r.relation == "has_sister"]
    assert people[sister.target_id].name == "Marta"
    hits = mem.memories.search("What does Marta do?", user_id="u", limit=4, record_access=False)
    kowalski = [i for i, hit in enumerate(hits) if "Kowalski" in hit.memory.text]
    nurse = [i for i, hit in enumerate(hits) if "nurse" in hit.memory.text]
    assert nurse and min(nurse) < min(kowalski, default=len(hits))


@pytest.mark.parametrize(
    "text",
    [
        "Robert now teaches at Kennedy School.",
        "Robert currently works in Berlin.",
        "Robert then called me.",
    ],
)
def test_a_first_name_before_an_adverb_and_its_verb_is_a_name(text: str) -> None:
    assert "Robert" in [m.name for m in extract_entities(text)]


def test_a_first_name_after_an_adverb_links_the_known_full_name(mem: Engram) -> None:
    tell(mem, 1, "My husband Robert Smith teaches history.")
    tell(mem, 2, "Robert now teaches at Kennedy School.")
    names = {e.id: e.name for e in mem.memories.entities(user_id="u")}
    [said] = [m for m in mem.memories.get_all(user_id="u") if m.text.startswith("Robert now")]
    assert "Robert Smith" in [names[i] for i in said.entity_ids]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Happy Birthday to me, I turned 40!", []),
        ("Trust me, Spring in Kyoto is magical.", [("Kyoto", "place")]),
        ("My friend Summer loves Spring in Kyoto.", [("Summer", "person"), ("Kyoto", "place")]),
        ("Love is complicated, Doctor Who says so.", []),
        ("Yesterday my Boss yelled at me.", []),
        ("We watched The Office with Uncle Ben.", [("Uncle Ben", "person")]),
        ("Christmas at Grandma's was lovely.", [("Grandma", "person")]),
        ("I see Dr. Chen at St. Mary's.", [("Chen", "person"), ("St. Mary", "place")]),
        ("I live in St Louis now.", [("St. Louis", "place")]),
        ("He works at the John F. Kennedy School.", [("John F. Kennedy School", "organisation")]),
    ],
)
def test_common_words_saints_and_initials_are_read_as_they_are_meant(
    text: str, expected: list[tuple[str, str]]
) -> None:
    """(was: "Birthday", "Spring", "Doctor", "Boss", "Office" and "Mary" entities, "Grandma" a
    place, "John F" and "Kennedy School" two names)"""
    assert [tuple(m) for m in extract_entities(text)] == expected
