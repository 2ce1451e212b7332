"""Asked "as of" a time before a fact said with an end but no start ("I lived in Braga until
2019", said years later): it held up to its end, as far as we know, not over the empty
span from when it was recorded to its end. One definition (`timeline.began`) that the
stores' filters (`_memory_rules`, the SQL of each backend: `MemorySearchSpecs`) share."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from embedders import HashingEmbedder
from engram import Engram
from engram.memory.timeline import BEGINNING, began
from engram.stores import _memory_rules as rules
from engram.stores.memories import MemoryFilter
from engram.testing._memory_checks import TENANT, at, memory
from test_past_slot_history import MAY, facts_as_of, say


@pytest.fixture
def mem(tmp_path: Path):
    with Engram(tmp_path / "past.db", embedder=HashingEmbedder()) as engram:
        yield engram


def test_a_home_said_to_have_ended_years_ago_is_found_as_of_a_time_before_its_end(
    mem: Engram,
) -> None:
    say(mem, "I lived in Braga until 2019.", MAY)
    then = facts_as_of(mem, "Where did the user live?", datetime(2017, 6, 1, tzinfo=UTC))
    assert then == ["The user used to live in Braga"]
    assert facts_as_of(mem, "Where did the user live?", datetime(2020, 6, 1, tzinfo=UTC)) == []


def test_an_unstarted_fact_ended_before_it_was_recorded_began_at_the_beginning() -> None:
    until = memory("Ana lived in Braga", valid_to=at(2), recorded_at=at(9))
    assert began(until) == BEGINNING
    retired = memory("Ana lived in Faro", valid_to=at(2), recorded_at=at(9), superseded_at=at(9.5))
    assert began(retired) == at(9)  # retired before it was said: it never held
    open_ended = memory("Ana lives in Lisbon", recorded_at=at(9))
    assert began(open_ended) == at(9)


@given(
    start=st.sampled_from([None, 0, 3]),
    end=st.sampled_from([None, 1, 4, 9, 12]),
    retired=st.booleans(),
    moment=st.sampled_from([-1000, 0, 0.5, 2, 3.5, 8.9, 9, 11, 13]),
)
def test_valid_at_is_the_span_from_began_to_the_end(
    start: float | None, end: float | None, retired: bool, moment: float
) -> None:
    item = rules.checked_memory(
        TENANT,
        memory(
            "Ana lived in Braga",
            valid_from=None if start is None else at(start),
            valid_to=None if end is None else at(end),
            recorded_at=at(9),
            superseded_at=at(10) if retired else None,
        ),
    )
    found = rules.matches(item, rules.checked_filter(MemoryFilter(valid_at=at(moment))))
    assert found == (began(item) <= at(moment) and (end is None or at(moment) < at(end)))
    if start is None and end is not None and end <= 9 and not retired:
        assert found == (at(moment) < at(end))  # held up to its end
