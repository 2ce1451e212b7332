"""A value of a slot said to have ended before it was said ("I lived in Porto from 2019 to
2021", said while the user's home, Lisbon, is known) is the slot's history: stored with its
span, retiring nothing, the current value staying current; "as of 2020" it holds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from engram.memory import decide
from engram.memory.timeline import began
from engram.types._memory import Memory

NOW = datetime(2026, 5, 2, 9, 0, tzinfo=UTC)


def year(y: int) -> datetime:
    return datetime(y, 1, 1, tzinfo=UTC)


def home(value: str, **fields: Any) -> Memory:
    """A home city of user u1, said when recorded (default: `NOW`)."""
    metadata = {"value": value}
    end = fields.pop("stated_end", None)
    if end is not None:
        metadata["valid_to"] = end.isoformat()
    fields.setdefault("recorded_at", NOW)
    return Memory(
        text=f"Ana lives in {value}",
        user_id="u1",
        kind="profile",
        attribute="home_city",
        metadata=metadata,
        **{"source_ids": (f"msg-{value}",), **fields},
    )


def holds(memory: Memory, moment: datetime) -> bool:
    start = memory.valid_from or (year(1) if memory.valid_to and not memory.superseded_at else None)
    start = start or memory.recorded_at
    return start <= moment and (memory.valid_to is None or moment < memory.valid_to)


def test_a_past_span_said_while_the_current_home_is_known_is_history() -> None:
    lisbon = home("Lisbon", valid_from=year(2022), recorded_at=year(2024))
    porto = home("Porto", valid_from=year(2019), stated_end=year(2022))
    decision = decide(porto, [(lisbon, 0.5)], now=NOW)
    assert decision.action == "add" and decision.updates == ()
    [stored] = decision.inserts
    assert (stored.valid_from, stored.valid_to, stored.superseded_at) == (
        year(2019),
        year(2022),
        None,
    )
    assert holds(stored, year(2020)) and not holds(lisbon, year(2020))
    assert [c.action for c in decision.changes] == ["add"]


def test_a_past_home_with_an_end_only_retires_nothing() -> None:
    lisbon = home("Lisbon", recorded_at=year(2025))
    braga = home("Braga", stated_end=year(2019))
    decision = decide(braga, [(lisbon, 0.5)], now=NOW)
    assert decision.action == "add" and decision.updates == ()
    [stored] = decision.inserts
    assert stored.valid_to == year(2019) and stored.valid_from is None
    assert holds(stored, year(2018))


def test_a_past_stay_in_the_current_city_before_moving_back_is_history() -> None:
    lisbon = home("Lisbon", valid_from=year(2023), recorded_at=year(2024))
    before = home("Lisbon", valid_from=year(2015), stated_end=year(2018))
    decision = decide(before, [(lisbon, 0.9)], now=NOW)
    assert decision.action == "add" and decision.updates == ()
    assert decision.memory.valid_to == year(2018)


def test_a_stay_said_to_continue_still_retires_the_current_home() -> None:
    lisbon = home("Lisbon", recorded_at=year(2024))
    porto = home("Porto", valid_from=year(2025))  # "I moved to Porto in 2025", no end
    decision = decide(porto, [(lisbon, 0.5)], now=NOW)
    assert decision.action == "supersede"
    assert [m.id for m in decision.updates] == [lisbon.id]


@given(
    start=st.one_of(st.none(), st.integers(2000, 2020)),
    length=st.integers(1, 5),
    current_start=st.one_of(st.none(), st.integers(2000, 2025)),
)
def test_an_ended_value_leaves_the_current_value_current_and_apart_from_it(
    start: int | None, length: int, current_start: int | None
) -> None:
    """The past span keeps its stated end; one Lisbon stays current; where the span said
    later overlaps the current value's time, the value said later wins the overlap (the
    current value is cut around it, `_revision_time.overlapped_by`): no Lisbon holds with Porto."""
    end = year((start or 2015) + length)
    current = home(
        "Lisbon",
        valid_from=None if current_start is None else year(current_start),
        recorded_at=year(2025),
    )
    past = home("Porto", valid_from=None if start is None else year(start), stated_end=end)
    decision = decide(past, [(current, 0.5)], now=NOW)
    [stored] = [m for m in decision.inserts if m.metadata["value"] == "Porto"]
    assert stored.valid_to == end and stored.superseded_at is None
    written = {m.id: m for m in (*decision.updates, *decision.inserts)}
    lisbons = [
        written.get(current.id, current),
        *(m for m in decision.inserts if m.metadata["value"] == "Lisbon"),
    ]
    assert [m.valid_to for m in lisbons if m.is_current] == [None]
    for lisbon in lisbons:
        ends = [moment for moment in (lisbon.valid_to, stored.valid_to) if moment is not None]
        assert not max(began(lisbon), began(stored)) < min(ends), (lisbon, stored)


def test_a_past_span_said_again_adds_provenance_and_nothing_open_ended_absorbs_it() -> None:
    porto = home("Porto", valid_from=year(2019), stated_end=year(2022))
    first = decide(porto, [], now=NOW).memory
    again = home("Porto", valid_from=year(2019), stated_end=year(2022), source_ids=("msg-2",))
    decision = decide(again, [(first, 0.99)], now=NOW)
    assert decision.action == "noop" and decision.target == first
    # "I used to live in Porto" (no time said) is no home now: it does not take the slot
    vague = Memory(text="Ana lives in Porto", user_id="u1", recorded_at=NOW)
    decision = decide(porto, [(vague, 0.99)], now=NOW)
    assert decision.action == "add" and decision.updates == ()
    assert decision.memory.valid_to == year(2022)
