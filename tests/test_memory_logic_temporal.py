"""Temporal grounding: relative and explicit expressions resolve against the message time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engram import Engram, Message
from engram.memory.temporal import ground

# Monday 8 May 2023, 13:56 UTC: the first LoCoMo session's timestamp.
REF = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)


def first(text: str, reference: datetime = REF) -> tuple[str, date, date, str]:
    [mention] = ground(text, reference)
    return mention.span, mention.start.date(), mention.end.date(), mention.granularity


@pytest.mark.parametrize(
    ("text", "span", "start", "end", "granularity"),
    [
        ("I went to a support group yesterday.", "yesterday", "2023-05-07", "2023-05-08", "day"),
        ("Let's talk today", "today", "2023-05-08", "2023-05-09", "day"),
        ("See you tomorrow!", "tomorrow", "2023-05-09", "2023-05-10", "day"),
        ("the day before yesterday", "the day before yesterday", "2023-05-06", "2023-05-07", "day"),
        ("I ran a race 3 days ago", "3 days ago", "2023-05-05", "2023-05-06", "day"),
        ("a couple of days ago", "a couple of days ago", "2023-05-06", "2023-05-07", "day"),
        ("in two weeks I fly", "in two weeks", "2023-05-22", "2023-05-23", "week"),
        ("last week was busy", "last week", "2023-05-01", "2023-05-08", "week"),
        ("next week", "next week", "2023-05-15", "2023-05-22", "week"),
        ("last weekend we hiked", "last weekend", "2023-05-06", "2023-05-08", "weekend"),
        ("last month", "last month", "2023-04-01", "2023-05-01", "month"),
        ("last year", "last year", "2022-01-01", "2023-01-01", "year"),
        ("last summer we went camping", "last summer", "2022-06-01", "2022-09-01", "season"),
        ("this summer", "this summer", "2023-06-01", "2023-09-01", "season"),
        ("next Friday I fly", "next Friday", "2023-05-19", "2023-05-20", "day"),
        ("I ran a charity race last Saturday", "last Saturday", "2023-05-06", "2023-05-07", "day"),
        ("on Friday we met", "on Friday", "2023-05-05", "2023-05-06", "day"),
        ("see you on Friday", "on Friday", "2023-05-12", "2023-05-13", "day"),
        ("On 8 May 2023 I", "8 May 2023", "2023-05-08", "2023-05-09", "day"),
        ("It was May 8th", "May 8th", "2023-05-08", "2023-05-09", "day"),
        ("May 8, 2022", "May 8, 2022", "2022-05-08", "2022-05-09", "day"),
        ("the 3rd of June", "3rd of June", "2023-06-03", "2023-06-04", "day"),
        ("2023-05-08", "2023-05-08", "2023-05-08", "2023-05-09", "day"),
        ("12/25/2022", "12/25/2022", "2022-12-25", "2022-12-26", "day"),
        ("in May 2022", "May 2022", "2022-05-01", "2022-06-01", "month"),
        # The full month name, not "in Dec" followed by "ember 2022".
        ("in December 2022", "December 2022", "2022-12-01", "2023-01-01", "month"),
        ("on December 1,2022", "December 1,2022", "2022-12-01", "2022-12-02", "day"),
        ("on 1 December,2022", "1 December,2022", "2022-12-01", "2022-12-02", "day"),
        # "in" belongs to the verb here: a month in the past, not in a month's time.
        ("I joined in a month ago", "a month ago", "2023-04-08", "2023-04-09", "month"),
        ("in March", "in March", "2023-03-01", "2023-04-01", "month"),
        ("since 2016", "since 2016", "2016-01-01", "2017-01-01", "year"),
    ],
)
def test_expressions_resolve_against_the_reference(
    text: str, span: str, start: str, end: str, granularity: str
) -> None:
    assert first(text) == (span, date.fromisoformat(start), date.fromisoformat(end), granularity)


@pytest.mark.parametrize(
    "text",
    ["I may go", "we march on", "Fridays are great", "I have 12 cats", "nothing here", ""],
)
def test_non_expressions_are_ignored(text: str) -> None:
    assert ground(text, REF) == []


def test_year_is_inferred_nearest_to_the_reference() -> None:
    january = datetime(2024, 1, 3, tzinfo=UTC)
    assert first("on December 28th", january)[1] == date(2023, 12, 28)


# Sunday 22 and Sunday 1 November 2026.
LATE_NOVEMBER = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
EARLY_NOVEMBER = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "reference", "start"),
    [
        # The past tense: the latest such month or day not after the reference.
        ("I moved to Berlin in January.", LATE_NOVEMBER, "2026-01-01"),
        ("I visited Rome in March", EARLY_NOVEMBER, "2026-03-01"),
        ("I graduated on 5 December", EARLY_NOVEMBER, "2025-12-05"),
        ("We went there on December 5th", EARLY_NOVEMBER, "2025-12-05"),
        ("In January I moved to Berlin", LATE_NOVEMBER, "2026-01-01"),
        ("I moved here in November", LATE_NOVEMBER, "2026-11-01"),
        ("I've been vegan since December", EARLY_NOVEMBER, "2025-12-01"),
        # The future tense: the next one.
        ("I'm going to Rome in March", EARLY_NOVEMBER, "2027-03-01"),
        ("I will graduate on 5 December", EARLY_NOVEMBER, "2026-12-05"),
        ("We'll meet on 3 January", EARLY_NOVEMBER, "2027-01-03"),
        ("I'm getting married in June", EARLY_NOVEMBER, "2027-06-01"),
        ("I plan to move in November", LATE_NOVEMBER, "2026-11-01"),
        # No tense cue ("excited" after "be" is not one): the nearest, as before.
        ("in March", EARLY_NOVEMBER, "2027-03-01"),
        ("in June", EARLY_NOVEMBER, "2026-06-01"),
        ("I'm excited about Rome in March", EARLY_NOVEMBER, "2027-03-01"),
        ("Rome on 5 December", EARLY_NOVEMBER, "2026-12-05"),
    ],
)
def test_a_month_without_a_year_follows_the_tense(
    text: str, reference: datetime, start: str
) -> None:
    assert first(text, reference)[1] == date.fromisoformat(start)


def test_each_sentence_has_its_own_tense() -> None:
    text = "I moved in May and will fly in June with Ben. I went there before. See you on Friday!"
    found = ground(text, EARLY_NOVEMBER)
    assert [(m.span, m.start.date()) for m in found] == [
        ("in May", date(2026, 5, 1)),  # the cue nearest before it: "moved"
        ("in June", date(2027, 6, 1)),  # "will", nearer than "moved"
        ("on Friday", date(2026, 11, 6)),  # "went" is another sentence's
    ]
    found = ground("On Friday, I went there.", EARLY_NOVEMBER)
    assert found[0].start.date() == date(2026, 10, 30)  # a cue after it counts too


def test_several_mentions_in_order_without_overlaps() -> None:
    found = ground("Yesterday I booked a flight for next Friday, 12 May 2023.", REF)
    assert [m.span for m in found] == ["Yesterday", "next Friday", "12 May 2023"]
    assert [m.position for m in found] == sorted(m.position for m in found)


def test_intervals_keep_the_reference_time_zone() -> None:
    [mention] = ground("yesterday", REF)
    assert mention.start.tzinfo is UTC
    [naive] = ground("yesterday", REF.replace(tzinfo=None))
    assert naive.start.tzinfo is None


@settings(max_examples=150, deadline=None)
@given(text=st.text(), offset=st.integers(min_value=-20000, max_value=20000))
def test_grounding_never_raises_and_intervals_are_ordered(text: str, offset: int) -> None:
    for mention in ground(text, REF + timedelta(days=offset)):
        assert mention.start < mention.end
        assert text[mention.position : mention.position + len(mention.span)] == mention.span


@settings(max_examples=100, deadline=None)
@given(
    words=st.lists(
        st.sampled_from(
            "I went last next this on in ago days weeks 3 two May 8th 2023 Friday yesterday "
            "summer weekend month year the of 12/31/2022 2023-02-30 31 February".split()
        ),
        max_size=12,
    )
)
def test_grounding_survives_date_like_word_salad(words: list[str]) -> None:
    for mention in ground(" ".join(words), REF):
        assert mention.start < mention.end


# Wednesday 25 November 2026.
WEDNESDAY = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "I go swimming every Friday.",
        "Every Monday I call my mother.",
        "Each Friday I swim.",
        "I play tennis every Saturday morning.",
        "I swim every other Friday.",
        "I work from home every week on Friday.",
        "I swim on Friday every week.",
        "Every week, on Friday, I swim.",
        "I swim on Friday mornings.",
        "I have yoga every Tuesday and Thursday.",
        "I go to the gym every Monday, Wednesday and Friday.",
        "Monday and Thursday every week I train.",
        "We go to Rome every year in June.",
        "We go to Rome in June every year.",
        "Every 4th of July we have a barbecue.",
        "I pay rent on the 3rd every month.",
        "I usually swim on Friday.",
        "I never work on Friday.",
    ],
)
def test_a_recurring_time_is_no_point_in_time(text: str) -> None:
    assert ground(text, WEDNESDAY) == []


@pytest.mark.parametrize(
    ("text", "spans"),
    [
        ("I'm seeing the dentist on Friday.", [("on Friday", "2026-11-27")]),
        ("I met Ana on Friday.", [("on Friday", "2026-11-20")]),
        ("I'm going to Rome next Friday.", [("next Friday", "2026-12-04")]),
        ("I saw Ana last Friday.", [("last Friday", "2026-11-20")]),
        (
            "I'm free on Monday and Tuesday.",
            [("on Monday", "2026-11-30"), ("Tuesday", "2026-12-01")],
        ),
        ("I ran every day this week.", [("this week", "2026-11-23")]),
        ("We go every summer and last summer it rained.", [("last summer", "2026-06-01")]),
        # The habit recurs, the appointment is one Friday.
        (
            "I swim every Friday, and on Friday I'm seeing the dentist.",
            [("on Friday", "2026-11-27")],
        ),
        ("I swim weekly, and on Friday I'm seeing the dentist.", [("on Friday", "2026-11-27")]),
        ("I usually swim, but on Friday I'm seeing the dentist.", [("on Friday", "2026-11-27")]),
        ("I never worked on Friday.", [("on Friday", "2026-11-20")]),
        ("I often think about what happened in 2019.", [("in 2019", "2019-01-01")]),
    ],
)
def test_a_one_off_time_beside_a_habit_is_still_grounded(
    text: str, spans: list[tuple[str, str]]
) -> None:
    found = [(m.span, m.start.date().isoformat()) for m in ground(text, WEDNESDAY)]
    assert found == spans


@pytest.mark.parametrize(
    "text", ["I go swimming every Friday.", "I play tennis every Saturday morning."]
)
def test_a_habit_said_today_is_true_as_of_today(text: str) -> None:
    with Engram(":memory:") as mem:
        message = Message(role="user", content=text, created_at=WEDNESDAY)
        mem.memories.add(messages=[message], user_id="u")
        [habit] = mem.memories.get_all(user_id="u", kinds=["preference"])
        assert habit.valid_from == WEDNESDAY
        now = mem.memories.get_all(user_id="u", as_of=WEDNESDAY, kinds=["preference"])
        assert [memory.id for memory in now] == [habit.id]


# Thursday 8 January, Thursday 30 April, Wednesday 10 June 2026.
JANUARY = datetime(2026, 1, 8, 10, 0, tzinfo=UTC)
APRIL = datetime(2026, 4, 30, 10, 0, tzinfo=UTC)
JUNE = datetime(2026, 6, 10, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "reference", "start"),
    [
        # A past verb of arranging: the time is the event's, to come later in the year.
        ("I signed up for the Chicago marathon in October!!", JANUARY, "2026-10-01"),
        ("We booked flights to Lisbon for June 3", JANUARY, "2026-06-03"),
        ("I bought concert tickets for March 14", JANUARY, "2026-03-14"),
        ("We planned a trip to Rome in September", JANUARY, "2026-09-01"),
        # "starting" and "from" look ahead, whatever the verb.
        ("I got the Scripps postdoc, starting August 17", APRIL, "2026-08-17"),
        ("I accepted the offer, starting in September", APRIL, "2026-09-01"),
        ("I got the job, from August 17", APRIL, "2026-08-17"),
        ("I start my new job at Scripps on August 17", APRIL, "2026-08-17"),
        # Events gone by stay past.
        ("I ran the Chicago marathon in October", JANUARY, "2025-10-01"),
        ("We got married in June", JANUARY, "2025-06-01"),
        ("I moved to Berlin in March", JUNE, "2026-03-01"),
        ("I booked a flight in March", JUNE, "2026-03-01"),
        ("I was in Rome from May 3 to May 10", APRIL, "2025-05-03"),
    ],
)
def test_an_arranged_event_is_dated_when_it_happens(
    text: str, reference: datetime, start: str
) -> None:
    assert first(text, reference)[1] == date.fromisoformat(start)


# Tuesday 2 December 2025.
DECEMBER = datetime(2025, 12, 2, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "reference", "start"),
    [
        # A present "be" just before a time: the event is to come, as a month or a date.
        ("my thesis defense is in June", DECEMBER, "2026-06-01"),
        ("my birthday is in June", DECEMBER, "2026-06-01"),
        ("My birthday's in June", DECEMBER, "2026-06-01"),
        ("The trips are in early June", DECEMBER, "2026-06-01"),
        ("The wedding is on June 3", DECEMBER, "2026-06-03"),
        ("The wedding is in the summer", DECEMBER, "2026-06-01"),
        # The clause's own "be", not the sentence's earlier past verb.
        ("The defense was great, the party is in June", DECEMBER, "2026-06-01"),
        ("The party is in June, I went to the last one in May", DECEMBER, "2026-06-01"),
        # Guards: already to come, this month, and the past readings.
        ("the conference is in April", DECEMBER, "2026-04-01"),
        ("The wedding is on March 3", datetime(2025, 11, 1, tzinfo=UTC), "2026-03-03"),
        ("the party is in December", DECEMBER, "2025-12-01"),
        ("I was in Paris in June", DECEMBER, "2025-06-01"),
        ("we met in June", DECEMBER, "2025-06-01"),
        ("I moved in June", DECEMBER, "2025-06-01"),
        ("It was in June", DECEMBER, "2025-06-01"),
    ],
)
def test_an_event_that_is_in_a_month_is_the_coming_one(
    text: str, reference: datetime, start: str
) -> None:
    assert ground(text, reference)[0].start.date() == date.fromisoformat(start)


def test_a_habit_said_with_be_stays_recurring() -> None:
    assert ground("My birthday is usually in June", DECEMBER) == []
    assert ground("my birthday is in June every year", DECEMBER) == []


# Monday 27 July to Sunday 2 August 2026.
def _day(day: int) -> datetime:
    return datetime(2026, 7, 27, 10, 0, tzinfo=UTC) + timedelta(days=day)


@pytest.mark.parametrize(
    ("text", "reference", "start", "end"),
    [
        # Past tense, said Monday to Thursday: the weekend gone by.
        ("we moved to Round Rock this weekend!!!", _day(1), "2026-07-25", "2026-07-27"),
        ("We went camping this weekend.", _day(3), "2026-07-25", "2026-07-27"),
        # Past tense, said Friday to Sunday: this weekend, up to today.
        ("we moved this weekend", _day(5), "2026-08-01", "2026-08-02"),
        ("we moved this weekend", _day(6), "2026-08-01", "2026-08-03"),
        ("we moved this weekend", _day(4), "2026-07-31", "2026-08-01"),
        # A plan, or no tense: the coming weekend.
        ("we're moving this weekend", _day(1), "2026-08-01", "2026-08-03"),
        ("We booked a cabin this weekend", _day(1), "2026-08-01", "2026-08-03"),
        ("this weekend", _day(1), "2026-08-01", "2026-08-03"),
        ("we moved this past weekend", _day(1), "2026-07-25", "2026-07-27"),
        # "this Monday": in the past tense, the latest one by today.
        ("I saw her this Monday", _day(2), "2026-07-27", "2026-07-28"),
        ("I saw her this Monday", _day(0), "2026-07-27", "2026-07-28"),
        ("I'm seeing her this Monday", _day(2), "2026-08-03", "2026-08-04"),
        ("I'm seeing her this Friday", _day(2), "2026-07-31", "2026-08-01"),
    ],
)
def test_this_weekend_in_the_past_tense_is_gone_by(
    text: str, reference: datetime, start: str, end: str
) -> None:
    assert first(text, reference)[1:3] == (date.fromisoformat(start), date.fromisoformat(end))


@pytest.mark.parametrize(
    ("text", "reference", "valid_from"),
    [
        ("I signed up for the Chicago marathon in October!!", JANUARY, date(2026, 10, 1)),
        ("we moved to Round Rock this weekend!!!", _day(1), date(2026, 7, 25)),
    ],
)
def test_an_extracted_fact_takes_the_grounded_time(
    text: str, reference: datetime, valid_from: date
) -> None:
    with Engram(":memory:") as mem:
        message = Message(role="user", content=text, created_at=reference)
        mem.memories.add(messages=[message], user_id="u")
        dated = [
            m.valid_from.date()
            for m in mem.memories.get_all(user_id="u")
            if m.kind != "episode" and m.valid_from is not None
        ]
        assert valid_from in dated
