"""Someone's job said as what they are at a place ("Jonas is a nurse at Mercy Hospital") is
where they work; and a question about another person's job or home ("Where does my
boyfriend work?", "Where does my sister live?") asks theirs, which holds the slot asked,
not the user's: it ranked the user's employer first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from embedders import HashingEmbedder
from engram import Engram, Message
from engram.memory.ranking import asked_slots

MAY = datetime(2026, 5, 2, 9, tzinfo=UTC)


def remember(mem: Engram, *turns: str) -> None:
    for minute, text in enumerate(turns):
        message = Message(
            role="user", content=text, created_at=MAY + timedelta(minutes=minute), session_id="s"
        )
        mem.memories.add(messages=[message], user_id="ana")


def facts(mem: Engram) -> list[str]:
    return [m.text for m in mem.memories.get_all(user_id="ana") if m.kind != "episode"]


@pytest.mark.parametrize(
    ("said", "fact"),
    [
        ("Jonas is a nurse at Mercy Hospital", "Jonas works as a nurse at Mercy Hospital"),
        ("My sister Eva is an engineer at Google.", "Eva works as an engineer at Google"),
        ("Tom works as a chef at Nopa", "Tom works as a chef at Nopa"),
    ],
)
def test_someones_job_at_a_place_is_where_they_work(tmp_path: Path, said: str, fact: str) -> None:
    with Engram(tmp_path / "jobs.db", embedder=HashingEmbedder()) as mem:
        remember(mem, "I work at Initech.", said)
        assert fact in facts(mem)
        assert mem.memories.profile("ana").fields["employer"] == "Initech"  # not the user's


@pytest.mark.parametrize(
    "said", ["Eva is a student at UCLA", "Tom is a regular at Joe's", "He is a nurse at Mercy"]
)
def test_being_at_a_place_is_no_job(tmp_path: Path, said: str) -> None:
    with Engram(tmp_path / "none.db", embedder=HashingEmbedder()) as mem:
        remember(mem, said)
        assert not any("works" in fact for fact in facts(mem))


def test_the_partners_job_answers_for_the_partner(tmp_path: Path) -> None:
    with Engram(tmp_path / "partner.db") as mem:
        remember(
            mem,
            "I work at Initech as an accountant.",
            "I met this guy at a party, his name is Jonas",
            "he's my boyfriend now!",
            "Jonas is a nurse at Mercy Hospital",
        )
        hits = mem.memories.search("Where does Jonas work?", user_id="ana", limit=3)
        assert hits[0].memory.text == "Jonas works as a nurse at Mercy Hospital"
        # his employer holds the slot asked of him; the user's is not asked
        hits = mem.memories.search("Where does my boyfriend work?", user_id="ana", limit=5)
        assert hits[0].memory.text == "Jonas works as a nurse at Mercy Hospital"
        assert hits[0].parts.slot == 1.0
        assert all(
            h.parts.slot == 0.0 for h in hits if h.memory.text == "The user works at Initech"
        )


def test_a_relatives_home_holds_the_slot_asked_of_her(tmp_path: Path) -> None:
    with Engram(tmp_path / "kin.db", embedder=HashingEmbedder()) as mem:
        remember(mem, "I live in Lisbon.", "My sister Eva lives in Madrid", "Eva loves Madrid")
        [first, *_] = mem.memories.search("Where does my sister live?", user_id="ana", limit=3)
        assert (first.memory.text, first.parts.slot) == ("Eva lives in Madrid", 1.0)
        [mine, *_] = mem.memories.search("Where do I live?", user_id="ana", limit=3)
        assert (mine.memory.text, mine.parts.slot) == ("The user lives in Lisbon", 1.0)


@pytest.mark.parametrize(
    ("query", "slots"),
    [
        ("Where does my boyfriend work?", frozenset()),
        ("What does my wife do for a living?", frozenset()),
        ("What's my boyfriend's name?", frozenset({"partner", "relationship_status"})),
        ("Where do I work?", frozenset({"employer"})),
    ],
)
def test_asked_slots_of_the_partner(query: str, slots: frozenset[str]) -> None:
    assert asked_slots(query) == slots
