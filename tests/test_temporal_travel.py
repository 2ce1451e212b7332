"""Temporal grounding of the times a traveller says: "a week from today", "on Tuesday, March
4", "the summer of 2019", "in early 2023", "over the weekend", "on the 3rd"."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engram import Engram, Message
from engram.memory.temporal import ground

# Monday 10 March 2025, noon UTC.
MONDAY = datetime(2025, 3, 10, 12, tzinfo=UTC)


def grounded(text: str, reference: datetime = MONDAY) -> list[tuple[str, date, date, str]]:
    return [(m.span, m.start.date(), m.end.date(), m.granularity) for m in ground(text, reference)]


@pytest.mark.parametrize(
    ("text", "span", "start", "end", "granularity"),
    [
        # Counted from the day named, not "today" alone.
        (
            "I fly to Tokyo a week from today.",
            "a week from today",
            "2025-03-17",
            "2025-03-18",
            "day",
        ),
        ("3 days from tomorrow", "3 days from tomorrow", "2025-03-14", "2025-03-15", "day"),
        ("two weeks from now", "two weeks from now", "2025-03-24", "2025-03-25", "day"),
        # A weekday before a date is part of it: the date, not the coming Tuesday.
        ("Rome on Tuesday, March 4", "on Tuesday, March 4", "2025-03-04", "2025-03-05", "day"),
        ("Rome on Tuesday 4 March", "on Tuesday 4 March", "2025-03-04", "2025-03-05", "day"),
        ("Rome on Tuesday the 4th", "on Tuesday the 4th", "2025-03-04", "2025-03-05", "day"),
        ("Rome on Thursday the 27th", "on Thursday the 27th", "2025-02-27", "2025-02-28", "day"),
        # A season of a named year.
        ("in summer 2023", "summer 2023", "2023-06-01", "2023-09-01", "season"),
        (
            "We met in the summer of 2019.",
            "the summer of 2019",
            "2019-06-01",
            "2019-09-01",
            "season",
        ),
        ("I moved in the fall of 2022", "the fall of 2022", "2022-09-01", "2022-12-01", "season"),
        # A part of a year: somewhere in it.
        ("I moved in early 2023", "in early 2023", "2023-01-01", "2024-01-01", "year"),
        ("mid-2020", "mid-2020", "2020-01-01", "2021-01-01", "year"),
        # Two back.
        ("the week before last", "the week before last", "2025-02-24", "2025-03-03", "week"),
        (
            "the weekend before last",
            "the weekend before last",
            "2025-03-01",
            "2025-03-03",
            "weekend",
        ),
        # A day of the month, by the tense.
        ("I arrived on the 3rd.", "on the 3rd", "2025-03-03", "2025-03-04", "day"),
        ("I'll arrive on the 23rd.", "on the 23rd", "2025-03-23", "2025-03-24", "day"),
        ("We landed on the 28th.", "on the 28th", "2025-02-28", "2025-03-01", "day"),
        # February has no 31st: the one before, never one ahead for a past tense.
        ("I landed on the 31st.", "on the 31st", "2025-01-31", "2025-02-01", "day"),
        # "the weekend of March 8" is the date's: no coming weekend besides.
        ("It rained over the weekend of March 8", "March 8", "2025-03-08", "2025-03-09", "day"),
    ],
)
def test_travel_expressions_resolve(
    text: str, span: str, start: str, end: str, granularity: str
) -> None:
    assert grounded(text) == [
        (span, date.fromisoformat(start), date.fromisoformat(end), granularity)
    ]


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("I went to Greece in the summer.", "2024-06-01"),
        ("I'll go to Greece in the summer.", "2025-06-01"),
        ("We skied over the winter.", "2024-12-01"),  # the one begun: it is winter still
        ("What did I do over the weekend?", "2025-03-08"),
        ("at the weekend we hiked", "2025-03-08"),
        ("I'm free on the weekend", "2025-03-15"),
        ("I'll hike over the weekend", "2025-03-15"),
    ],
)
def test_a_season_or_weekend_without_a_modifier_follows_the_tense(text: str, start: str) -> None:
    [mention] = ground(text, MONDAY)
    assert mention.start.date() == date.fromisoformat(start)


@pytest.mark.parametrize(
    "text",
    [
        "I live on the 3rd floor",
        "I hurt my knee in the fall",
        "It was my 2nd time there",
        "Fridays the 13th are unlucky",
        "on the 0th.",
        "on the 39th",
    ],
)
def test_look_alikes_are_no_times(text: str) -> None:
    assert ground(text, MONDAY) == []


def test_a_modified_weekday_before_a_date_stays_its_own() -> None:
    found = grounded("I booked a flight for next Friday, 21 March 2025.")
    assert [span for span, *_ in found] == ["next Friday", "21 March 2025"]


def test_a_move_in_a_season_of_a_named_year_holds_as_of_then(tmp_path: Path) -> None:
    with Engram(str(tmp_path / "travel.db")) as mem:
        for text, at in (
            ("I live in Porto.", datetime(2023, 1, 10, tzinfo=UTC)),
            ("I moved to Lisbon in the summer of 2023.", datetime(2024, 2, 1, tzinfo=UTC)),
        ):
            message = Message(role="user", content=text, created_at=at)
            mem.memories.add(messages=[message], user_id="ana")
        then = mem.memories.profile("ana", as_of=datetime(2023, 8, 15, tzinfo=UTC))
        assert then is not None
        assert then.fields["home_city"] == "Lisbon"
        before = mem.memories.profile("ana", as_of=datetime(2023, 5, 15, tzinfo=UTC))
        assert before is not None
        assert before.fields["home_city"] == "Porto"


def test_a_trip_a_week_from_today_is_dated_then(tmp_path: Path) -> None:
    with Engram(str(tmp_path / "trip.db")) as mem:
        message = Message(
            role="user", content="I'm flying to Tokyo a week from today.", created_at=MONDAY
        )
        mem.memories.add(messages=[message], user_id="ana")
        facts = mem.memories.get_all(user_id="ana", kinds=["fact", "event"])
        assert facts
        assert all("10 March" not in fact.text for fact in facts)
        assert any(fact.valid_from == datetime(2025, 3, 17, tzinfo=UTC) for fact in facts)


def test_midnight_takes_the_offset_of_its_own_day_in_a_pytz_zone() -> None:
    pytz = pytest.importorskip("pytz")
    lisbon = pytz.timezone("Europe/Lisbon")
    july = lisbon.localize(datetime(2025, 7, 10, 12))  # summer time, UTC+1
    [mention] = ground("I moved to Lisbon on 5 January", july)
    assert mention.start.astimezone(UTC) == datetime(2025, 1, 5, tzinfo=UTC)  # winter, UTC+0
    # The day summer time begins (30 March 2025): yesterday began in winter time.
    [yesterday] = ground("I moved yesterday", lisbon.localize(datetime(2025, 3, 30, 12)))
    assert yesterday.start.astimezone(UTC) == datetime(2025, 3, 29, tzinfo=UTC)
    assert yesterday.end.astimezone(UTC) == datetime(2025, 3, 30, tzinfo=UTC)


def test_midnight_takes_the_offset_of_its_own_day_in_a_zoneinfo_zone() -> None:
    lisbon = ZoneInfo("Europe/Lisbon")
    [mention] = ground("I moved to Lisbon on 5 January", datetime(2025, 7, 10, 12, tzinfo=lisbon))
    assert mention.start.astimezone(UTC) == datetime(2025, 1, 5, tzinfo=UTC)
    tokyo = datetime(2025, 3, 2, 0, 30, tzinfo=ZoneInfo("Asia/Tokyo"))  # 1 March, 15:30 UTC
    [yesterday] = ground("I flew in yesterday", tokyo)
    assert yesterday.start.date() == date(2025, 3, 1)  # the speaker's yesterday, not UTC's


@settings(max_examples=150, deadline=None)
@given(
    words=st.lists(
        st.sampled_from(
            "I went will on the 0th 1st 31st 39th of weekend week before last early mid-2020 "
            "late 2019 summer fall winter in over a week from today Tuesday , March 4".split()
        ),
        max_size=12,
    ),
    offset=st.integers(min_value=-20000, max_value=20000),
)
def test_grounding_survives_travel_word_salad(words: list[str], offset: int) -> None:
    text = " ".join(words)
    for mention in ground(text, MONDAY + timedelta(days=offset)):
        assert mention.start < mention.end
        assert text[mention.position : mention.position + len(mention.span)] == mention.span
