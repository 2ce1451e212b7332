"""What the long-term tier of a context spends its room on: an earlier question that only
restates the query ranks below the turns that answer it, a profile field that the turn
which said it already gives is not sent twice, and at a small budget the profile leaves
room for recalled memories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engram import Engram, Message
from engram.context import Recall, recall_block
from engram.memory import ranking
from engram.memory.queries import query_terms
from engram.memory.ranking import RankingWeights, rank_memories
from engram.types import Memory, MemoryHit, ScoreParts
from test_context_support import WordCounter

pytest_plugins = ["servers"]

DAY = datetime(2026, 9, 1, tzinfo=UTC)
WHERE = "Where do I live?"


def turn(memory_id: str, text: str, **metadata: object) -> Memory:
    return Memory(
        text=text, id=memory_id, kind="episode", recorded_at=DAY,
        metadata={"role": "user", **metadata},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "echo"),
    [
        ("Where do I live?", True),
        ("Where am I living now?", True),  # the same terms, stemmed, stopwords aside
        ("Do I live in Faro?", False),  # names a place the query does not
        ("I live in Faro.", False),  # tells, does not ask
        ("Where do I live? I forgot.", False),  # not only a question
    ],
)
def test_an_earlier_question_asking_only_what_the_query_asks_is_an_echo(
    text: str, echo: bool
) -> None:
    terms = query_terms(WHERE)
    assert ranking.is_echo(turn("t", text), terms) is echo
    assert not ranking.is_echo(turn("t", text, speaker="Tim"), terms)  # a named speaker's
    assert not ranking.is_echo(Memory(text=text, kind="fact"), terms)


def test_an_echo_asking_part_of_a_longer_query_is_one_too() -> None:
    assert ranking.is_echo(turn("t", WHERE), query_terms("Where do I live and work?"))


def test_an_echo_ranks_below_the_turn_that_answers() -> None:
    """The earlier "Where do I live?" is the best match in words and in meaning, the move
    a weak one (it shares no word with the question): `filler` alone left the echo first."""
    echo = turn("echo", WHERE)
    move = turn("move", "I moved to Faro last month.")
    memories = {m.id: m for m in (echo, move)}
    dense, lexical = [("echo", 0.9), ("move", 0.4)], [("echo", 3.0)]
    hits = rank_memories(memories, dense, lexical, query=WHERE)
    assert [hit.memory.id for hit in hits] == ["move", "echo"]
    kept = rank_memories(memories, dense, lexical, query=WHERE, weights=RankingWeights(echo=1))
    assert [hit.memory.id for hit in kept] == ["echo", "move"]
    assert hits[1].score == pytest.approx(kept[0].score * 0.1)


def test_echo_weight_is_checked() -> None:
    with pytest.raises(ValueError, match="echo"):
        RankingWeights(echo=1.5)


def said(memories: Engram, *turns: tuple[str, str], day: int) -> None:
    messages = [
        Message(role=role, content=text, created_at=DAY + timedelta(days=day))
        for role, text in turns
    ]
    memories.memories.add(messages=messages, user_id="ana", session_id=f"s{day}")


def test_search_and_recall_put_the_answer_before_the_same_question_asked_before(
    memory_engram: Engram,
) -> None:
    said(memory_engram, ("user", WHERE), day=0)
    said(memory_engram, ("user", "I moved to Faro last month."), day=1)
    said(memory_engram, ("user", "I work at Google as an engineer."), day=2)
    said(memory_engram, ("user", "My sister Marta lives in Madrid."), day=3)
    texts = [
        hit.memory.text
        for hit in memory_engram.memories.search(WHERE, user_id="ana", record_access=False)
    ]
    assert texts.index("I moved to Faro last month.") < texts.index(WHERE)
    session = memory_engram.session("now", user_id="ana")
    session.add("user", WHERE)
    result = session.context(model="gpt-4o", budget=2000, recall=8)
    [block] = [m for m in result.messages if m.role == "system"]
    lines = block.text.splitlines()
    assert lines.index("- [2026-09-02] I moved to Faro last month.") < lines.index(
        f"- [2026-09-01] {WHERE}"
    )


def test_recall_puts_the_turn_that_said_a_field_in_its_place_and_counts_it_used(
    memory_engram: Engram,
) -> None:
    """ "home city: Faro" beside "I moved to Faro last month." said it twice; the turn says
    more (when), so it stays, and the field's memory still counts as used."""
    said(memory_engram, ("user", "I moved to Faro last month."), day=1)
    source = memory_engram.memories.profile("ana").sources["home_city"]
    session = memory_engram.session("now", user_id="ana")
    session.add("user", WHERE)
    result = session.context(model="gpt-4o", budget=2000, recall=8)
    [block] = [m for m in result.messages if m.role == "system"]
    assert block.text.splitlines()[1:] == ["- [2026-09-02] I moved to Faro last month."]
    assert result.report.profile_dropped == ()
    used = memory_engram.memories.get(source)
    assert used is not None and used.access_count == 1


def hit(memory: Memory, current: float = 1.0) -> MemoryHit:
    return MemoryHit(memory, 1.0, ScoreParts(current=current), 1)


MOVE = Memory(
    text="I moved to Faro last month.", id="move", kind="episode", source_ids=("m1",),
    recorded_at=DAY, metadata={"role": "user"},
)  # fmt: skip
HOME = {"home_city": "Faro"}


def block_lines(recall: Recall) -> list[str]:
    block = recall_block(recall, WordCounter())
    assert block.message is not None
    return block.message.text.splitlines()[1:]


def test_a_turn_of_the_fields_own_message_saying_its_value_gives_the_field() -> None:
    recall = Recall(200, (hit(MOVE),), HOME, query=WHERE, field_sources={"home_city": ("m1",)})
    block = recall_block(recall, WordCounter())
    assert block_lines(recall) == ["- [2026-09-01] I moved to Faro last month."]
    assert (block.profile_given, block.profile_dropped, block.kept) == (
        ("home_city",),
        (),
        ("move",),
    )


@pytest.mark.parametrize(
    ("recall", "why"),
    [
        (Recall(200, (hit(MOVE),), HOME), "a field set by hand, of no message"),
        (Recall(200, (hit(MOVE),), HOME, field_sources={"home_city": ("m1", "m2")}), "of two"),
        (Recall(200, (hit(MOVE),), HOME, field_sources={"home_city": ("m9",)}), "another's"),
        (
            Recall(200, (hit(MOVE, current=0.5),), HOME, field_sources={"home_city": ("m1",)}),
            "since changed",
        ),
        (
            Recall(200, (hit(MOVE),), {"home_city": "Far"}, field_sources={"home_city": ("m1",)}),
            "says another value",
        ),
    ],
)
def test_a_turn_that_does_not_say_the_field_leaves_it(recall: Recall, why: str) -> None:
    lines = block_lines(recall)
    assert lines[0].startswith("- home city: Far"), why
    assert len(lines) == 2


def test_a_field_stays_when_its_turn_has_no_room() -> None:
    """The turn takes the field's place only if the block with it, less the field, fits."""
    recall = Recall(17, (hit(MOVE),), HOME, query=WHERE, field_sources={"home_city": ("m1",)})
    block = recall_block(recall, WordCounter())
    assert block_lines(recall) == ["- home city: Faro"]
    assert (block.profile_given, block.dropped) == ((), ("move",))


def test_a_small_block_leaves_the_memories_room_beside_the_profile() -> None:
    """Seven fields took 22 of the block's 40 tokens, its message 34, and the one memory (8)
    no longer fit. Now the field the question asks about goes first, the others while the
    fields take at most half of the block; the rest wait for the memory, then fill up."""
    profile = {
        "home_city": "Faro", "employer": "Google", "occupation": "engineer",
        "diet": "vegetarian", "preference:hiking": "likes", "pet": "cat", "car": "Tesla",
    }  # fmt: skip
    trail = Memory(text="Pico do Arieiro has the best trail.", id="trail", kind="episode",
                   recorded_at=DAY)  # fmt: skip
    query = "Where should I go hiking this weekend?"
    block = recall_block(Recall(40, (hit(trail),), profile, query=query), WordCounter())
    assert block.kept == ("trail",)
    assert block.profile_dropped == ("car",)
    assert block_lines(Recall(40, (hit(trail),), profile, query=query)) == [
        "- likes: hiking", "- home city: Faro", "- employer: Google", "- occupation: engineer",
        "- diet: vegetarian", "- pet: cat", "- [2026-09-01] Pico do Arieiro has the best trail.",
    ]  # fmt: skip
    assert block.tokens <= 40
    # Without memories to wait for, the whole profile goes, as it fits.
    alone = recall_block(Recall(40, (), profile, query=query), WordCounter())
    assert alone.profile_dropped == ()


def test_a_field_waiting_for_the_memories_is_given_by_its_turn_not_dropped() -> None:
    """The home city waits (the fields before it take half of the block); the turn that
    said it goes in, so the field is given, not sent after it nor reported left out."""
    profile = {"employer": "Google", "occupation": "engineer", "diet": "vegetarian",
               "pet": "cat", "home_city": "Faro"}  # fmt: skip
    recall = Recall(
        40, (hit(MOVE),), profile, query="Any news?", field_sources={"home_city": ("m1",)}
    )
    block = recall_block(recall, WordCounter())
    assert (block.kept, block.profile_given, block.profile_dropped) == (
        ("move",),
        ("home_city",),
        (),
    )
    assert "- home city: Faro" not in block_lines(recall)
