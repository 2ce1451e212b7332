"""How the recall block reads to the model: profile fields by their names in words, no memory
said twice beside the field it restates, and dated facts with their date at the precision
known."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from engram import Engram, Message
from engram.context import Recall, recall_block
from engram.context._recall import memory_line
from engram.types import Memory, MemoryHit, ScoreParts
from test_context_support import WordCounter

pytest_plugins = ["servers"]

SAID = datetime(2026, 3, 10, 14, 30, tzinfo=UTC)
"""When the memories below were said (a time of day: a moment, not a grounded date)."""


def memory(text: str, memory_id: str = "m1", **fields: Any) -> Memory:
    return Memory(text=text, id=memory_id, recorded_at=SAID, **fields)


def line(text: str, **fields: Any) -> str:
    return memory_line(MemoryHit(memory(text, **fields), 1.0, ScoreParts(), 1))


def block_text(recall: Recall) -> str:
    block = recall_block(recall, WordCounter())
    assert block.message is not None
    return block.message.text


@pytest.mark.parametrize(
    ("attribute", "value", "expected"),
    [
        ("preference:sushi", "likes", "- likes: sushi"),
        ("preference:horror_movies", "dislikes", "- dislikes: horror movies"),
        ("allergy:peanuts", "allergic", "- allergic: peanuts"),
        ("count:kids", "2", "- number of kids: 2"),
        ("age:tomás", "7", "- age of tomás: 7"),
        ("language:spanish", "fluent", "- language spanish: fluent"),
    ],
)
def test_a_profile_field_reads_by_its_name_in_words(
    attribute: str, value: str, expected: str
) -> None:
    text = block_text(Recall(200, (), {attribute: value}))
    assert text.splitlines()[1:] == [expected]
    assert attribute not in text


def test_a_memory_that_restates_a_field_in_the_block_is_not_sent_twice() -> None:
    loves = memory(
        "The user loves sushi", "src", kind="preference", attribute="preference:sushi",
        metadata={"value": "likes"},
    )  # fmt: skip
    again = memory(
        "The user likes sushi", "same", kind="preference", attribute="preference:sushi",
        metadata={"value": "Likes"},
    )  # fmt: skip
    other = memory(  # about someone else, though the slot and value match
        "Maria loves sushi", "maria", kind="preference", attribute="preference:sushi",
        metadata={"value": "likes", "subject": "Maria"},
    )  # fmt: skip
    hits = tuple(MemoryHit(m, 1.0, ScoreParts(), 1) for m in (loves, again, other))
    block = recall_block(Recall(200, hits, {"preference:sushi": "likes"}), WordCounter())
    assert block.message is not None
    assert block.message.text.splitlines()[1:] == ["- likes: sushi", "- Maria loves sushi"]
    assert (block.kept, block.dropped) == (("maria",), ())
    # A field with no room in the block restates nothing: its memory is offered.
    long_value = " ".join(["likes"] * 40)
    block = recall_block(Recall(40, hits, {"preference:sushi": long_value}), WordCounter())
    assert block.profile_dropped == ("preference:sushi",)
    assert block.kept == ("src", "same", "maria")


SAID_AT = {"said_at": SAID.isoformat()}


@pytest.mark.parametrize(
    ("valid_from", "metadata", "expected"),
    [
        # "My dad passed away last year": at the precision its grounding recorded, for its
        # start (a rule fact) or its `event_date`.
        (
            datetime(2025, 1, 1, tzinfo=UTC),
            {**SAID_AT, "event_granularity": "year"},
            "- [2025] The user's dad died",
        ),
        (
            datetime(2025, 1, 1, tzinfo=UTC),
            {**SAID_AT, "event_date": "2025-01-01", "event_granularity": "year"},
            "- [2025] The user's dad died",
        ),
        (
            datetime(2025, 6, 1, tzinfo=UTC),
            {**SAID_AT, "event_date": "2025-06-01", "event_granularity": "month"},
            "- [2025-06] The user's dad died",
        ),
        (
            datetime(2025, 6, 1, tzinfo=UTC),
            {**SAID_AT, "event_date": "2025-06-01", "event_granularity": "season"},
            "- [summer 2025] The user's dad died",
        ),
        (
            datetime(2025, 6, 2, tzinfo=UTC),
            {**SAID_AT, "event_date": "2025-06-02", "event_granularity": "week"},
            "- [week of 2025-06-02] The user's dad died",
        ),
        # A Monday or a 1st is a day unless its grounding says otherwise.
        (
            datetime(2025, 6, 2, tzinfo=UTC),
            {**SAID_AT, "event_date": "2025-06-02", "event_granularity": "day"},
            "- [2025-06-02] The user's dad died",
        ),
        (datetime(2025, 6, 1, tzinfo=UTC), SAID_AT, "- [2025-06-01] The user's dad died"),
        # A precision recorded for another date is not this one's.
        (
            datetime(2025, 6, 4, tzinfo=UTC),
            {**SAID_AT, "event_date": "2025-01-01", "event_granularity": "year"},
            "- [2025-06-04] The user's dad died",
        ),
        # Not knowing when it was said, a start is no date its words gave.
        (datetime(2025, 1, 1, tzinfo=UTC), {}, "- The user's dad died"),
    ],
)
def test_a_fact_dated_apart_from_when_it_was_said_carries_its_date(
    valid_from: datetime, metadata: dict[str, Any], expected: str
) -> None:
    for kind in ("event", "fact"):
        got = line("The user's dad died", kind=kind, valid_from=valid_from, metadata=metadata)
        assert got == expected


def test_only_a_date_the_line_does_not_say_is_added() -> None:
    """Said that day, dated by when it was said, or with its year in its words: no date;
    the same fact dated apart from when it was said: its date."""
    adopted = "The user adopted a cat"
    assert line(adopted, valid_from=datetime(2026, 3, 10, tzinfo=UTC), metadata=SAID_AT) == (
        f"- {adopted}"
    )
    assert line(adopted, valid_from=datetime(2026, 3, 8, tzinfo=UTC), metadata=SAID_AT) == (
        f"- [2026-03-08] {adopted}"
    )
    assert line(adopted, kind="event", valid_from=SAID, metadata=SAID_AT) == f"- {adopted}"
    assert line(adopted, kind="event") == f"- {adopted}"
    moved = "The user moved to Lisbon in May 2023"
    may = {**SAID_AT, "event_date": "2023-05-01", "event_granularity": "month"}
    assert line(moved, valid_from=datetime(2023, 5, 1, tzinfo=UTC), metadata=may) == f"- {moved}"
    assert line(
        "The user moved to Lisbon", valid_from=datetime(2023, 5, 1, tzinfo=UTC), metadata=may
    ) == ("- [2023-05] The user moved to Lisbon")


def test_an_ended_fact_says_since_and_until_when() -> None:
    ended = datetime(2024, 5, 2, 9, 15, tzinfo=UTC)
    lived = "The user lives in Paris"
    assert line(lived, valid_from=SAID.replace(year=2021), valid_to=ended, superseded_at=ended) == (
        f"- [2021-03-10 to 2024-05-02] {lived}"
    )
    # "I lived in Paris until 2025": through 2025 (it ends as 2026 begins), read as said;
    # else its end's day.
    until = {"event_granularity": "year"}
    next_year = datetime(2026, 1, 1, tzinfo=UTC)
    assert line(lived, valid_to=next_year, metadata=until) == f"- [until 2025] {lived}"
    assert line(lived, valid_to=next_year) == f"- [until 2026-01-01] {lived}"
    # "I lived in Porto from 2019 to 2021": it ends as 2022 begins, and reads as said.
    years = {"event_granularity": "year", "said_at": SAID.isoformat()}
    start, end = datetime(2019, 1, 1, tzinfo=UTC), datetime(2022, 1, 1, tzinfo=UTC)
    assert line(lived, valid_from=start, valid_to=end, metadata=years) == (
        f"- [2019 to 2021] {lived}"
    )
    months = {"event_granularity": "month", "said_at": SAID.isoformat()}
    start, end = datetime(2020, 3, 1, tzinfo=UTC), datetime(2021, 6, 1, tzinfo=UTC)
    assert line(lived, valid_from=start, valid_to=end, metadata=months) == (
        f"- [2020-03 to 2021-05] {lived}"
    )
    named = "The user lived in Paris from 2019"
    assert line(named, valid_from=datetime(2019, 1, 1, tzinfo=UTC), valid_to=ended) == (
        f"- [until 2024-05-02] {named}"
    )


PLUS_TWO = timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    ("content", "said", "expected"),
    [
        # Grounded to a Monday: the day, not "week of".
        (
            "My dad passed away on June 2.",
            datetime(2025, 6, 10, 14, 30, tzinfo=UTC),
            "- [2025-06-02] The user's dad died",
        ),
        # Said at 09:00 +02:00: "yesterday" is that zone's day before (stored at 22:00 UTC
        # two days before).
        (
            "My dad passed away yesterday.",
            datetime(2026, 3, 12, 9, 0, tzinfo=PLUS_TWO),
            "- [2026-03-11] The user's dad died",
        ),
        (
            "My dad passed away last year.",
            datetime(2026, 3, 12, 1, 0, tzinfo=PLUS_TWO),
            "- [2025] The user's dad died",
        ),
        # Said at midnight on a Monday, holding from then: no date.
        (
            "My dad passed away.",
            datetime(2026, 3, 9, 0, 0, tzinfo=UTC),
            "- The user's dad died",
        ),
    ],
)
def test_an_extracted_fact_reads_with_the_date_its_words_gave(
    memory_engram: Engram, content: str, said: datetime, expected: str
) -> None:
    message = Message(role="user", content=content, created_at=said)
    added = memory_engram.memories.add(messages=[message], user_id="u1")
    [died] = [m for m in added.added if m.kind != "episode"]
    stored = memory_engram.memories.get(died.id)
    assert memory_line(MemoryHit(stored, 1.0, ScoreParts(), 1)) == expected


def test_a_session_context_reads_the_profile_and_dated_memories_naturally(
    memory_engram: Engram,
) -> None:
    """The reported case: the preference by its key, "The user loves sushi" beside it, and
    "The user's dad died" with no date. The turn that said the fields, recalled, gives them
    (`test_context_recall_fairness`)."""
    said = Message(
        role="user",
        content="I love sushi and I live in Porto. My dad passed away last year.",
        created_at=SAID,
    )
    memory_engram.memories.add(messages=[said], user_id="u1")
    session = memory_engram.session("s1", user_id="u1")
    session.add("user", "What should I eat tonight?")
    result = session.context(model="gpt-4o", budget=4000, recall=8)
    [block] = [m for m in result.messages if m.role == "system"]
    lines = block.text.splitlines()
    assert "- [2026-03-10] I love sushi and I live in Porto. My dad passed away last year." in lines
    assert not any("preference:" in text or "loves sushi" in text for text in lines)
    assert "- [2025] The user's dad died" in lines


def test_a_memory_left_out_as_a_restated_field_gives_its_recall_place_up(
    memory_engram: Engram,
) -> None:
    """Of `recall=2`, "The user loves sushi" took a place though the block leaves it out
    beside "likes: sushi"; the next memory takes it."""
    said = Message(role="user", content="I love sushi.", created_at=SAID)
    memory_engram.memories.add(messages=[said], user_id="kim")
    memory_engram.memories.add(
        "Kim had sushi with Lena in Porto last Friday", user_id="kim", infer=False
    )
    session = memory_engram.session("s1", user_id="kim")
    session.add("user", "should I get sushi tonight?")
    result = session.context(model="gpt-4o", budget=2000, recall=2)
    [block] = [m for m in result.messages if m.role == "system"]
    lines = block.text.splitlines()
    assert "- [2026-03-10] I love sushi." in lines  # which gives "likes: sushi"
    assert "- Kim had sushi with Lena in Porto last Friday" in lines
    assert len(result.report.recalled) == 2


def test_a_turn_whose_values_changed_since_is_recalled_marked_so(memory_engram: Engram) -> None:
    """Before, "I live in Porto." reached the prompt beside "home city: Berlin" as if it were
    the user's word now; the turn stays (it is what was said), marked."""
    turns = ["I work at Google as an engineer.", "I live in Porto.", "I moved to Berlin."]
    for day, text in enumerate(turns):
        said = Message(role="user", content=text, created_at=SAID + timedelta(days=day))
        memory_engram.memories.add(messages=[said], user_id="eve")
    session = memory_engram.session("s1", user_id="eve")
    session.add("user", "Which city am I in these days?")
    prompt = session.context(model="gpt-4o", budget=3000, recall=10).messages[0].text
    lines = {line.split("] ", 1)[-1] for line in prompt.splitlines() if line.startswith("- [")}
    assert "I live in Porto. (since changed)" in lines
    assert "I moved to Berlin." in lines
    assert "I work at Google as an engineer." in lines  # its values all hold
    hits = memory_engram.memories.search("Where does the user live?", user_id="eve")
    porto = next(hit for hit in hits if hit.memory.text == "I live in Porto.")
    assert porto.parts.current == 0 and hits[0].parts.slot == 1
    assert hits[0].memory.text == "The user moved to Berlin"
