"""`after`/`before` take a `datetime.date`: the start of that day in UTC, so `after=D`
keeps day D and `before=D` keeps what came before it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from engram import Engram, InvalidInputError, Message
from engram._validation import check_time_bound

pytest_plugins = ["servers"]


def _said(mem: Engram) -> None:
    """Three turns: late on 4 January, at noon on 5 January, early on 6 January (UTC)."""
    for moment, text in (
        (datetime(2026, 1, 4, 23, 30, tzinfo=UTC), "I bought a red bike."),
        (datetime(2026, 1, 5, 12, tzinfo=UTC), "I bought a blue kayak."),
        (datetime(2026, 1, 6, 0, 30, tzinfo=UTC), "I bought a green tent."),
    ):
        said = Message(role="user", content=text, created_at=moment)
        mem.memories.add(messages=[said], user_id="ana", session_id=moment.isoformat())


def _texts(memories: list) -> set[str]:  # type: ignore[type-arg]
    return {getattr(item, "memory", item).text for item in memories}


def test_a_date_is_the_start_of_its_day_in_utc() -> None:
    assert check_time_bound(date(2026, 1, 5), "after") == datetime(2026, 1, 5, tzinfo=UTC)
    naive = datetime(2026, 1, 5, 12)
    assert check_time_bound(naive, "before") == naive.replace(tzinfo=UTC)  # as before
    assert check_time_bound(None, "after") is None
    with pytest.raises(InvalidInputError, match="after"):
        check_time_bound(5, "after")  # type: ignore[arg-type]


def test_get_all_and_search_take_dates(memory_engram: Engram) -> None:
    _said(memory_engram)
    day = date(2026, 1, 5)
    listed = memory_engram.memories.get_all
    kept = listed(user_id="ana", kinds=["episode"], after=day, before=day + timedelta(days=1))
    assert _texts(kept) == {"I bought a blue kayak."}
    assert _texts(listed(user_id="ana", kinds=["episode"], before=day)) == {"I bought a red bike."}
    hits = memory_engram.memories.search(
        "What did I buy?", user_id="ana", kinds=["episode"], after=day, record_access=False
    )
    assert _texts(hits) == {"I bought a blue kayak.", "I bought a green tent."}


async def test_async_twins_take_dates(memory_engram: Engram) -> None:
    _said(memory_engram)
    day = date(2026, 1, 6)
    listed = await memory_engram.memories.aget_all(user_id="ana", kinds=["episode"], after=day)
    found = await memory_engram.memories.asearch(
        "What did I buy?", user_id="ana", kinds=["episode"], before=day, record_access=False
    )
    assert _texts(listed) == {"I bought a green tent."}
    assert _texts(found) == {"I bought a red bike.", "I bought a blue kayak."}
