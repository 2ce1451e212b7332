"""More of how recalled memories read in the prompt: a change stated and made in one message
is not "since changed", the assistant's turns say who spoke and are marked when they restate
values since retired, and a long memory is cut to the part that matches the question."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engram import Engram, Message
from engram.context import Recall, recall_block
from engram.context._recall import memory_line
from engram.memory import ranking
from engram.memory.ranking import rank_memories, stale_episodes
from engram.types import Memory, MemoryHit, ScoreParts
from test_context_support import WordCounter

pytest_plugins = ["servers"]

DAY = datetime(2026, 9, 1, tzinfo=UTC)
QUESTION = "What's my diet and who is my boyfriend?"


def said(memories: Engram, *turns: tuple[str, str], day: int, session: str = "a") -> None:
    messages = [
        Message(role=role, content=text, created_at=DAY + timedelta(days=day))
        for role, text in turns
    ]
    memories.memories.add(messages=messages, user_id="ana", session_id=session)


def recalled_lines(memories: Engram, question: str = QUESTION) -> list[str]:
    session = memories.session("now", user_id="ana")
    session.add("user", question)
    result = session.context(model="gpt-4o", budget=2000, recall=8)
    [block] = [m for m in result.messages if m.role == "system"]
    return block.text.splitlines()[1:]


def test_a_change_stated_and_made_in_one_message_is_not_since_changed(
    memory_engram: Engram,
) -> None:
    """The break-up is a partner fact of its own (an ending) that "dating Rui" of the same
    message retires: nothing the message said has changed since."""
    said(memory_engram, ("user", "I'm vegetarian and my boyfriend is Tiago."), day=0)
    said(memory_engram, ("user", "I broke up with Tiago, I'm dating Rui."), day=30)
    lines = recalled_lines(memory_engram)
    assert "- [2026-10-01] I broke up with Tiago, I'm dating Rui." in lines
    assert "- [2026-09-01] I'm vegetarian and my boyfriend is Tiago. (since changed)" in lines
    hits = memory_engram.memories.search(QUESTION, user_id="ana", record_access=False)
    newest = next(hit for hit in hits if hit.memory.text.startswith("I broke up"))
    assert newest.parts.current == 1


def fact(memory_id: str, source: str, *, value: str, at: int, **fields: Any) -> Memory:
    return Memory(
        text=f"partner {value}", id=memory_id, kind="profile", attribute="partner",
        source_ids=(source,), recorded_at=DAY + timedelta(days=at),
        valid_from=DAY + timedelta(days=at), metadata={"value": value}, **fields,
    )  # fmt: skip


def test_a_fact_retired_by_its_own_message_does_not_count_even_without_its_successor() -> None:
    """The successor is not always among the memories ranked: the ending's own times say it
    (it held no time and was retired as it was recorded); a fact retired by a later message
    still counts."""
    end = DAY + timedelta(days=30)
    turn = Memory(
        text="I broke up with Tiago, I'm dating Rui.", id="turn", kind="episode",
        source_ids=("m2",), recorded_at=end, valid_from=end, metadata={"role": "user"},
    )  # fmt: skip
    ending = fact("ending", "m2", value="none", at=30, valid_to=end, superseded_at=end,
                  superseded_by="rui")  # fmt: skip
    rui = fact("rui", "m2", value="Rui", at=30)
    assert stale_episodes([turn, ending, rui], None) == {}
    assert stale_episodes([turn, ending], None) == {}
    # Retired a day later, by another message: the turn is stale.
    later = end + timedelta(days=1)
    replaced = fact("ending", "m2", value="none", at=30, valid_to=later, superseded_at=later,
                    superseded_by="other")  # fmt: skip
    assert stale_episodes([turn, replaced], None) == {"turn": 0.0}
    other = fact("other", "m3", value="Rui", at=31)
    ended = fact("ending", "m2", value="none", at=30, valid_to=end, superseded_at=end,
                 superseded_by="other")  # fmt: skip
    assert stale_episodes([turn, ended, other], None) == {"turn": 0.0}


def test_the_assistant_restating_values_since_retired_is_marked_and_labelled(
    memory_engram: Engram,
) -> None:
    said(
        memory_engram,
        ("user", "I'm vegetarian and my boyfriend is Tiago."),
        ("assistant", "Noted: vegetarian, and Tiago."),
        day=0,
    )
    said(
        memory_engram,
        ("user", "I'm vegan now. I broke up with Tiago, I'm dating Rui."),
        ("assistant", "Got it: vegan, and Rui, not Tiago."),
        day=30,
        session="b",
    )
    lines = recalled_lines(memory_engram)
    assert "- [2026-09-01] assistant: Noted: vegetarian, and Tiago. (since changed)" in lines
    # Said as Tiago left: it names him, and nothing it says has changed since.
    assert "- [2026-10-01] assistant: Got it: vegan, and Rui, not Tiago." in lines
    assert "- [2026-10-01] I'm vegan now. I broke up with Tiago, I'm dating Rui." in lines


def turn(text: str, role: str, **fields: Any) -> MemoryHit:
    memory = Memory(
        text=text, id="t", kind=fields.pop("kind", "episode"), recorded_at=DAY,
        metadata={"role": role}, **fields,
    )  # fmt: skip
    return MemoryHit(memory, 1.0, ScoreParts(), 1)


def test_a_turn_says_who_said_it_when_not_the_user() -> None:
    assert memory_line(turn("Saved.", "assistant")) == "- [2026-09-01] assistant: Saved."
    assert memory_line(turn("I live in Porto.", "user")) == "- [2026-09-01] I live in Porto."
    # A fact's "role" is the slot's word ("boyfriend"), not a speaker.
    tiago = turn("The user's boyfriend is Tiago", "boyfriend", kind="profile")
    assert memory_line(tiago) == "- The user's boyfriend is Tiago"


ELLIPSIS = "…"
"""The mark of what an excerpt leaves out."""

STORY = " ".join(
    [f"On day {n} we walked along the river and had coffee by the bridge." for n in range(60)]
    + ["Then we talked about my job: I started at Google in March."]
    + [f"On evening {n} it rained and we stayed in." for n in range(40)]
)


def test_a_long_memory_is_cut_to_the_sentences_that_match_the_question() -> None:
    story = Memory(text=STORY, id="story", kind="episode", recorded_at=DAY)
    short = Memory(text="Ana works at Google", id="fact", kind="profile", recorded_at=DAY)
    hits = tuple(MemoryHit(m, 1.0, ScoreParts(), i) for i, m in enumerate((story, short), 1))
    counter = WordCounter()
    block = recall_block(Recall(200, hits, query="Where is my job now?"), counter)
    assert block.message is not None and block.kept == ("story", "fact")
    [cut, rest] = block.message.text.splitlines()[1:]
    assert rest == "- Ana works at Google"
    assert "I started at Google in March." in cut
    assert cut.startswith(f"- [2026-09-01] {ELLIPSIS} ") and cut.endswith(f" {ELLIPSIS}")
    assert counter.count_text(cut) <= 2 + 100  # the date, and half the block
    # Matching no sentence, its start.
    block = recall_block(Recall(200, hits, query="Where is my flat?"), counter)
    assert block.message is not None
    first = block.message.text.splitlines()[1]
    assert first.startswith("- [2026-09-01] On day 0 we walked") and first.endswith(ELLIPSIS)
    assert counter.count_text(first) <= 2 + 100
    # Not knowing what it was recalled for, whole.
    block = recall_block(Recall(4000, hits), counter)
    assert block.message is not None and f"- [2026-09-01] {STORY}" in block.message.text
    # One that fits goes whole.
    block = recall_block(Recall(400, hits[1:], query="job"), counter)
    assert block.message is not None and ELLIPSIS not in block.message.text


def test_a_sessions_context_cuts_a_long_memory_to_what_its_question_matches(
    memory_engram: Engram,
) -> None:
    said(memory_engram, ("user", STORY), day=0)
    lines = recalled_lines(memory_engram, "Where did I start my job?")
    [story] = [line for line in lines if ELLIPSIS in line or "walked along" in line]
    assert "I started at Google in March." in story
    assert story.count(ELLIPSIS) == 2 and len(story) < len(STORY) / 4


def test_a_best_sentence_longer_than_the_cap_is_cut_to_its_start() -> None:
    long_sentence = " ".join(["My job at Google"] + ["and more"] * 200) + "."
    text = f"I walked by the river. {long_sentence} Then it rained."
    story = Memory(text=text, id="story", kind="episode", recorded_at=DAY)
    hit = MemoryHit(story, 1.0, ScoreParts(), 1)
    counter = WordCounter()
    block = recall_block(Recall(200, (hit,), query="Where is my job?"), counter)
    assert block.message is not None
    [cut] = block.message.text.splitlines()[1:]
    assert cut.startswith(f"- [2026-09-01] {ELLIPSIS} My job at Google and more")
    assert cut.endswith(f"more {ELLIPSIS}") and counter.count_text(cut) <= 2 + 100


@pytest.mark.parametrize(
    ("text", "filler"),
    [
        ("Saved.", True),
        ("Got it, thanks!", True),
        ("Wow, that's great!", True),
        ("Nice to meet you, Ana!", False),  # a name says who
        ("I have 2 cats.", False),
        ("What's the weather in Porto?", True),  # a chat turn that only asks
        ("Where do I work now? Is it Google?", True),
        ("I'm in Porto. What's the weather like?", False),
    ],
)
def test_a_turn_with_no_content_word_or_only_asking_is_filler(text: str, filler: bool) -> None:
    assert ranking.is_filler(Memory(text=text, kind="episode")) is filler
    assert not ranking.is_filler(Memory(text=text, kind="fact"))


@pytest.mark.parametrize("text", ["Have you read The Alchemist?", "Same here!"])
def test_a_turn_between_named_people_is_not_filler(text: str) -> None:
    assert ranking.is_filler(Memory(text=text, kind="episode"))
    assert not ranking.is_filler(Memory(text=text, kind="episode", metadata={"speaker": "Tim"}))


def test_filler_ranks_below_a_turn_that_matches_as_well() -> None:
    """ "Saved." matches "What did I save?" as well as the turn that says what was saved, by
    the words they share; it takes the lower place, with half the score."""
    saved = Memory(text="Saved.", id="ack", kind="episode", recorded_at=DAY)
    note = Memory(text="I saved the recipe.", id="note", kind="episode", recorded_at=DAY)
    memories = {m.id: m for m in (saved, note)}
    hits = rank_memories(memories, [("ack", 0.5), ("note", 0.5)], [("ack", 2.0), ("note", 2.0)])
    assert [hit.memory.id for hit in hits] == ["note", "ack"]
    assert hits[1].score == pytest.approx(hits[0].score / 2)
    assert hits[1].parts.fused == pytest.approx(hits[1].parts.base * hits[1].parts.boost)
