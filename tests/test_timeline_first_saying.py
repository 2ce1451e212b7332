"""`timeline.without_sources` of a memory whose first saying is erased: the earliest later
saying left becomes its first, and only what that erased saying set moves with it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from engram.memory.timeline import SAID_AGAIN, Saying, sayings, with_sayings, without_sources
from engram.types._memory import Memory

DAY0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
DAY5 = DAY0 + timedelta(days=5)


def berlin(**changes: object) -> Memory:
    """Berlin said by m1 on day 0 and again by m2 on day 5 (`SAID_AGAIN`)."""
    memory = Memory(
        text="The user lives in Berlin",
        user_id="ana",
        attribute="home_city",
        source_ids=("m1", "m2"),
        recorded_at=DAY0,
        created_at=DAY0,
        valid_from=DAY0,
        metadata={"value": "Berlin", "said_at": DAY0.isoformat()},
    )
    memory = replace(memory, **changes)  # type: ignore[arg-type]
    return replace(memory, metadata=with_sayings(memory.metadata, [Saying(DAY5, ("m2",))]))


def test_the_next_saying_becomes_the_first() -> None:
    kept = without_sources(berlin(), {"m1"})
    assert (kept.recorded_at, kept.valid_from, kept.created_at) == (DAY5, DAY5, DAY0)
    assert (kept.source_ids, kept.metadata["said_at"]) == (("m2",), DAY5.isoformat())
    assert SAID_AGAIN not in kept.metadata and sayings(kept) == []


def test_a_start_not_set_by_the_erased_saying_stays() -> None:
    dated = DAY0 - timedelta(days=400)  # "I have lived in Berlin since 2025"
    assert without_sources(berlin(valid_from=dated), {"m1"}).valid_from == dated
    assert without_sources(berlin(valid_from=None), {"m1"}).valid_from is None


def test_a_first_saying_partly_left_or_alone_stays_where_it_was() -> None:
    both = berlin(source_ids=("m0", "m1", "m2"))
    assert without_sources(both, {"m1"}).recorded_at == DAY0  # m0 said it on day 0 too
    alone = without_sources(berlin(), {"m1", "m2"})  # nothing said again is left
    assert (alone.recorded_at, alone.source_ids) == (DAY0, ())
    later = without_sources(berlin(), {"m2"})
    assert (later.recorded_at, later.valid_from, sayings(later)) == (DAY0, DAY0, [])
