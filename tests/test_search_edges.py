"""Search input edges: a query longer than `MAX_QUERY_LENGTH` characters is refused before
anything is read or recorded, sync and async; a caller searching with a message clips it."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

from engram import Engram, EngramError, InvalidInputError
from engram._memory_flows import search_flow
from engram._validation import MAX_QUERY_LENGTH, check_query
from engram.types._time import utcnow


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Engram]:
    with Engram(tmp_path / "m.db") as engram:
        engram.memories.add("Ana likes green tea", user_id="ana", infer=False)
        yield engram


def query_of(length: int) -> str:
    return ("green tea " * (length // 10 + 1))[:length]


def test_a_query_at_the_cap_is_searched(mem: Engram) -> None:
    [hit] = mem.memories.search(query_of(MAX_QUERY_LENGTH), user_id="ana")
    assert hit.memory.text == "Ana likes green tea"


def test_a_query_over_the_cap_is_refused_and_records_nothing(mem: Engram) -> None:
    with pytest.raises(InvalidInputError, match="10,001 characters, more than the 10,000"):
        mem.memories.search(query_of(MAX_QUERY_LENGTH + 1), user_id="ana")
    assert issubclass(InvalidInputError, EngramError)
    [memory] = mem.memories.get_all(user_id="ana")
    assert memory.access_count == 0


async def test_an_async_query_over_the_cap_is_refused(mem: Engram) -> None:
    with pytest.raises(InvalidInputError, match="more than the 10,000"):
        await mem.memories.asearch("x" * 10_000_000, user_id="ana")


@pytest.mark.parametrize("query", [None, 42, b"tea"])
def test_a_query_that_is_no_text_is_refused(query: object) -> None:
    with pytest.raises(InvalidInputError, match="query must be a string"):
        check_query(query)


def test_a_caller_searching_with_a_message_has_it_clipped_not_refused(mem: Engram) -> None:
    """What a context's recall does with the newest user turn, as long as a message."""
    memories = mem.memories
    search = functools.partial(
        search_flow,
        memories._scope("ana", None, None),
        "green tea " * 100_000,
        limit=5,
        filter_fields={},
        now=utcnow(),
        clip_query=True,
    )
    [hit] = memories._run(memories._with_model_id(search))
    assert hit.memory.text == "Ana likes green tea"
