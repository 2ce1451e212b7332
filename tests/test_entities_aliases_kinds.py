"""Organisations a graph user's QA found typed as places: a firm after words less sure than
"work at" ("started at", "interviewed at", "an offer from", "a nurse at"), and a firm first
met after a place's cue ("lunch at Globex") staying a place once the user works there."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engram import Engram, Message
from engram.memory import extract_entities


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Engram]:
    with Engram(tmp_path / "engram.db") as engram:
        yield engram


def tell(mem: Engram, *texts: str) -> None:
    for month, text in enumerate(texts, start=1):
        said = datetime(2026, month, 5, 9, tzinfo=UTC)
        mem.memories.add(
            messages=[Message(role="user", content=text, created_at=said)], user_id="u"
        )


def kind_of(text: str, name: str) -> str:
    return {m.name: m.kind for m in extract_entities(text)}[name]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Carla started at Google Zurich.", "Google Zurich"),
        ("My brother just started at Globex.", "Globex"),
        ("I'm starting at Amazon on Monday.", "Amazon"),
        ("Carla interviewed at Netflix.", "Netflix"),
        ("I got a job offer from Stripe.", "Stripe"),
        ("I got hired at Stripe.", "Stripe"),
        ("Ana is a nurse at Charité.", "Charité"),
    ],
)
def test_a_workplace_is_an_organisation(text: str, name: str) -> None:
    """(was: a place, by "at"/"from")"""
    assert kind_of(text, name) == "organisation"


@pytest.mark.parametrize(
    ("text", "name", "kind"),
    [
        ("I moved to Berlin.", "Berlin", "place"),
        ("I live in New York.", "New York", "place"),
        ("I work at Globex in Berlin.", "Berlin", "place"),
        ("We started at Union Square.", "Union Square", "place"),
        ("I joined Zalando.", "Zalando", "organisation"),
        ("She works for Farfetch.", "Farfetch", "organisation"),
    ],
)
def test_places_and_plain_workplaces_keep_their_kinds(text: str, name: str, kind: str) -> None:
    assert kind_of(text, name) == kind


@pytest.mark.parametrize(
    ("first", "later", "firm"),
    [
        ("I had lunch at Globex with Tom.", "I work at Globex.", "Globex"),
        ("We drove to Zalando yesterday.", "I joined Zalando.", "Zalando"),
        ("I flew to Google Zurich.", "I work at Google Zurich now.", "Google Zurich"),
    ],
)
def test_a_firm_guessed_a_place_is_an_organisation_once_the_user_works_there(
    mem: Engram, first: str, later: str, firm: str
) -> None:
    """(was: a place the user works at, the first guess kept)"""
    tell(mem, first, later)
    [entity] = mem.memories.entities(user_id="u", name=firm)
    assert entity.kind == "organisation"
    [job] = [r for r in mem.memories.relations(user_id="u") if r.relation == "works_at"]
    assert job.target_id == entity.id


def test_a_stated_relation_object_keeps_its_kind(mem: Engram) -> None:
    """A later relation's kind does not retype the object of an earlier one."""
    tell(mem, "I work at Globex.", "I moved to Berlin.", "I moved to Globex.")
    [entity] = mem.memories.entities(user_id="u", name="Globex")
    assert entity.kind == "organisation"


def test_a_relation_retypes_no_place_into_a_person(mem: Engram) -> None:
    """Only a place and an organisation, which cue words confuse, take a relation's kind."""
    tell(mem, "I flew to Paris last week.", "My friend Paris works at Globex.")
    [paris] = mem.memories.entities(user_id="u", name="Paris")
    assert paris.kind == "place"
