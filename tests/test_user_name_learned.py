"""A name the user gives in the chat ("Hi, I'm Ana") is theirs as `user_name="Ana"` would
make it: the user's entity bears it, the profile shows it, and a search naming her is about
all her memories, not the few that spell the name ("Nice to meet you, Ana!")."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from engram import Engram, Message
from engram.types._memory import MemoryHit

pytest_plugins = ["servers"]

GREETING = "Nice to meet you, Ana!"


def _said(role: str, text: str, day: int, name: str | None = None) -> Message:
    return Message(role=role, content=text, name=name, created_at=f"2026-01-{day:02d}T10:00:00Z")


def _meet(mem: Engram, introduction: str, user_name: str | None = None) -> None:
    """Ana introduces herself, is greeted, then says where she lives and that she moved."""
    first = [
        _said("user", introduction, 10),
        _said("assistant", GREETING, 10),
        _said("user", "I live in Porto.", 11),
    ]
    mem.memories.add(messages=first, user_id="ana", session_id="s1", user_name=user_name)
    moved = [_said("user", "I moved to Lisbon last week.", 20)]
    mem.memories.add(messages=moved, user_id="ana", session_id="s2", user_name=user_name)


def _search(mem: Engram, query: str) -> list[MemoryHit]:
    return mem.memories.search(query, user_id="ana", limit=6, record_access=False)


def _rank(hits: Sequence[MemoryHit], text: str) -> int:
    return next(hit.rank for hit in hits if text in hit.memory.text)


def _me(mem: Engram) -> tuple[str, tuple[str, ...]]:
    [me] = [e for e in mem.memories.entities(user_id="ana") if e.metadata.get("user")]
    return me.name, me.aliases


@pytest.mark.parametrize(
    ("introduction", "user_name"),
    [
        ("Hi, I'm Ana.", None),
        ("My name is Ana.", None),
        ("Call me Ana.", None),
        ("Hi, I'm Ana.", "Ana"),  # as given: the same ranking
    ],
)
def test_a_search_naming_the_user_finds_what_she_said_before_her_greeting(
    memory_engram: Engram, introduction: str, user_name: str | None
) -> None:
    _meet(memory_engram, introduction, user_name)
    assert memory_engram.memories.profile("ana").fields["name"] == "Ana"
    assert _me(memory_engram)[0] == "Ana"
    hits = _search(memory_engram, "Where does Ana live?")
    assert "Lisbon" in hits[0].memory.text
    assert _rank(hits, "Lisbon") < _rank(hits, GREETING)
    # Every fact of hers is about her, whether or not it spells her name.
    facts = [hit for hit in hits if hit.memory.kind != "episode"]
    assert facts and {hit.parts.entity for hit in facts} == {1.0}
    [move] = [hit.rank for hit in facts if "Lisbon" in hit.memory.text]
    assert move < _rank(hits, GREETING)
    # A turn that does not spell her name is not favoured by it, or the facts about her
    # would lose their lead ("Ana is vegetarian" for "What does Ana eat?").
    unnamed = [hit for hit in hits if hit.memory.kind == "episode" and "Ana" not in hit.memory.text]
    assert unnamed and {hit.parts.entity for hit in unnamed} == {0.0}


def test_a_name_the_user_revises_is_hers_and_so_is_the_one_before(
    memory_engram: Engram,
) -> None:
    _meet(memory_engram, "Hi, I'm Ana.")
    later = [_said("user", "Actually, call me Annie.", 21)]
    memory_engram.memories.add(messages=later, user_id="ana", session_id="s3")
    assert memory_engram.memories.profile("ana").fields["name"] == "Annie"
    assert _me(memory_engram) == ("Annie", ("Ana",))
    for query in ("Where does Annie live?", "Where does Ana live?"):
        hits = _search(memory_engram, query)
        assert "Lisbon" in hits[0].memory.text, query
        assert _rank(hits, "Lisbon") < _rank(hits, GREETING), query


@pytest.mark.parametrize(
    "turns",
    [
        [("user", "Hi, I'm Ana's sister.")],
        [("user", "Hello!"), ("assistant", "Hi, I'm Claude.")],
    ],
)
def test_a_name_that_is_not_the_users_stays_someone_elses(
    memory_engram: Engram, turns: list[tuple[str, str]]
) -> None:
    said = [_said(role, text, 10) for role, text in turns]
    memory_engram.memories.add(messages=said, user_id="ana", session_id="s1")
    memory_engram.memories.add(messages=[_said("user", "I'm a nurse.", 11)], user_id="ana")
    assert "name" not in memory_engram.memories.profile("ana").fields
    for query in ("Where does Ana live?", "Who is Claude?"):
        # The user is no one named here: her own turn is not theirs.
        nurse = [h.parts.entity for h in _search(memory_engram, query) if "nurse" in h.memory.text]
        assert nurse and set(nurse) == {0.0}, query


def test_in_a_dialogue_the_users_name_favours_her_turns_not_the_others(
    memory_engram: Engram,
) -> None:
    said = [
        _said("user", "I'm Caroline. I painted a sunrise last week.", 10, name="Caroline"),
        _said("user", "I painted a lake last week.", 10, name="Melanie"),
    ]
    memory_engram.memories.add(messages=said, user_id="ana", user_name="Caroline")
    hits = _search(memory_engram, "What did Caroline paint?")
    entity = {hit.memory.text: hit.parts.entity for hit in hits}
    assert entity["I painted a lake last week."] == 0.0  # said by Melanie
    assert "sunrise" in hits[0].memory.text
