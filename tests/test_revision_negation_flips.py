"""A statement said against one stored in the same words, one of them negated ("The user can
swim" / "The user cannot swim", "I can drive" / "I can't drive", "no longer", "not anymore",
"unable"), is a contradiction, either way: the latest word supersedes the old memory, which
stays as history ("as of" a time between the two finds it), never rewritten in place nor
left current beside its opposite. Restating the same thing stays a duplicate."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import engram._memories
from engram import Engram
from engram.memory import decide
from engram.memory._revision_words import extends, negated, stems
from engram.types import Message
from engram.types._memory import Memory

JAN = datetime(2025, 1, 10, 9, tzinfo=UTC)
MARCH = datetime(2025, 3, 1, tzinfo=UTC)
JUNE = datetime(2025, 6, 15, 18, tzinfo=UTC)
LATER = datetime(2025, 7, 1, tzinfo=UTC)

FLIPS = [
    ("The user can swim", "The user cannot swim"),
    ("I can drive", "I can't drive"),
    ("The user likes jazz", "The user does not like jazz"),
    ("The user has a dog", "The user no longer has a dog"),
    ("The user owns a car", "The user does not own a car"),
    ("The user can swim", "The user is unable to swim"),
    ("I play the guitar", "I don't play the guitar anymore"),
    ("Ana plays tennis every week", "Ana used to play tennis every week"),
]
BOTH_WAYS = FLIPS + [(then, first) for first, then in FLIPS]


def fact(text: str, *, said: datetime = JAN) -> Memory:
    return Memory(text=text, user_id="u1", source_ids=(f"src-{text}",), recorded_at=said)


@pytest.mark.parametrize(("first", "then"), BOTH_WAYS)
def test_a_negation_flip_supersedes_the_old_memory(first: str, then: str) -> None:
    old = fact(first)
    decision = decide(fact(then, said=JUNE), [(old, 0.74)], now=JUNE)
    assert decision.action == "supersede", decision.reason
    assert decision.memory.text == then
    [retired] = decision.updates
    assert retired.id == old.id and retired.text == first  # not rewritten in place
    assert retired.superseded_at is not None and retired.valid_to is not None


@pytest.mark.parametrize(
    ("first", "then"),
    [
        ("The user can swim", "The user could not swim"),  # another tense, not its opposite
        ("The user no longer has a dog", "The user had a dog"),
        ("The user can swim", "The user cannot swim in the sea"),  # says more
    ],
)
def test_a_negation_saying_something_else_retires_nothing(first: str, then: str) -> None:
    decision = decide(fact(then, said=JUNE), [(fact(first), 0.85)], now=JUNE)
    assert decision.action != "supersede" and decision.updates == (), decision.reason


def test_a_past_stay_that_ended_is_no_opposite_of_a_current_one() -> None:
    """Ana "used to live in Braga" from 2010 to 2012, then "lives in Braga", said in June:
    a stay then and one now, each over its own span; the past one keeps its end."""
    past = Memory(
        text="Ana used to live in Braga",
        user_id="u1",
        source_ids=("src-past",),
        recorded_at=JAN,
        valid_from=datetime(2010, 1, 1, tzinfo=UTC),
        valid_to=datetime(2012, 1, 1, tzinfo=UTC),
    )
    decision = decide(fact("Ana lives in Braga", said=JUNE), [(past, 0.9)], now=JUNE)
    assert decision.action != "supersede", decision.reason
    assert all(m.id != past.id for m in decision.updates), decision.updates


def test_cannot_and_unable_are_read_as_negations_of_the_same_words() -> None:
    assert negated(fact("The user cannot swim")) and negated(fact("The user is unable to swim"))
    assert not negated(fact("The user can swim"))
    assert stems("The user cannot swim") == stems("The user can swim")
    assert stems("The user is unable to swim") == stems("The user can swim")
    assert not extends("cannot swim", "swim") and not extends("can't swim", "swim")


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Engram]:
    with Engram(str(tmp_path / "flips.db")) as opened:
        yield opened


def add_text(mem: Engram, monkeypatch: pytest.MonkeyPatch, text: str, when: datetime) -> None:
    monkeypatch.setattr(engram._memories, "utcnow", lambda: when)
    mem.memories.add(text, user_id="ana", infer=False)


def facts(memories: list[Memory]) -> list[str]:
    return sorted(m.text for m in memories if m.kind != "episode")


def assert_flipped(mem: Engram, first: str, then: str) -> None:
    assert facts(mem.memories.get_all(user_id="ana")) == [then]
    assert facts(mem.memories.get_all(user_id="ana", as_of=MARCH)) == [first]
    hits = mem.memories.search(then, user_id="ana", as_of=MARCH, kinds=["fact", "profile"])
    assert [hit.memory.text for hit in hits] == [first]
    kept = mem.memories.get_all(user_id="ana", include_superseded=True)
    assert [(m.text, m.superseded_at is not None) for m in kept if m.text == first] == [
        (first, True)
    ]


@pytest.mark.parametrize(
    ("first", "then"),
    [
        ("The user can swim", "The user cannot swim"),
        ("The user cannot swim", "The user can swim"),
        ("I can drive", "I can't drive"),
        ("I can't drive", "I can drive"),
        ("The user does not like jazz", "The user likes jazz"),
        ("Ana used to play tennis every week.", "Ana plays tennis every week."),
    ],
)
def test_a_text_said_against_a_stored_one_supersedes_it_as_of_then(
    mem: Engram, monkeypatch: pytest.MonkeyPatch, first: str, then: str
) -> None:
    add_text(mem, monkeypatch, first, JAN)
    add_text(mem, monkeypatch, then, JUNE)
    monkeypatch.setattr(engram._memories, "utcnow", lambda: LATER)
    assert_flipped(mem, first, then)


@pytest.mark.parametrize(
    ("first", "then", "was", "now"),
    [
        ("I have a dog", "I no longer have a dog", "has a dog", "no longer has a dog"),
        ("I no longer have a dog", "I have a dog", "no longer has a dog", "has a dog"),
        ("I don't love hiking anymore", "I love hiking", "no longer loves hiking", "loves hiking"),
        ("I am not a vegetarian", "I am a vegetarian", "is not vegetarian", "is vegetarian"),
    ],
)
def test_a_message_said_against_an_earlier_one_supersedes_it_as_of_then(
    mem: Engram, first: str, then: str, was: str, now: str
) -> None:
    for text, when in ((first, JAN), (then, JUNE)):
        message = Message(role="user", content=text, created_at=when, session_id="chat")
        mem.memories.add(messages=[message], user_id="ana")
    assert facts(mem.memories.get_all(user_id="ana")) == [f"The user {now}"]
    assert facts(mem.memories.get_all(user_id="ana", as_of=MARCH)) == [f"The user {was}"]
    hits = mem.memories.search(then, user_id="ana", as_of=MARCH, kinds=["fact", "profile"])
    assert [hit.memory.text for hit in hits] == [f"The user {was}"]


@pytest.mark.parametrize("text", ["The user cannot swim", "I can't drive", "The user can swim"])
def test_a_restated_statement_stays_a_duplicate(
    mem: Engram, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    add_text(mem, monkeypatch, text, JAN)
    monkeypatch.setattr(engram._memories, "utcnow", lambda: JUNE)
    report = mem.memories.add(text, user_id="ana", infer=False)
    assert report.unchanged == 1 and not report.added and not report.updated
    assert facts(mem.memories.get_all(user_id="ana", include_superseded=True)) == [text]
