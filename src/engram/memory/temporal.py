"""Temporal grounding: turn time expressions into absolute intervals.

`ground(text, reference)` finds expressions such as "yesterday", "last week", "3 days ago",
"next Friday", "last summer", "8 May 2023", "May 8th" or "2023-05-08" and resolves each one
against `reference` (the timestamp of the message that contains it) into a half-open interval
`[start, end)` with a granularity. A month or day without a year ("in March", "on 5
December", "on Friday") takes the tense of its sentence: the latest one not after
`reference` in the past tense ("I moved in March"), the next one in the future tense ("I'm
going to Rome in March") or after a present "be" ("my defense is in June", "the wedding is
on March 3"), else the nearest (for a weekday, the coming one). A past verb of arranging
dates the event arranged, in the reference's year ("I signed up for the marathon in October",
said in January: this October), and "starting August 17" looks ahead whatever the
verb; "this weekend" and "this Monday" in the past tense are the ones gone by. The tense comes
from word-list cues (`_TENSE_CUE`), not a parser. "Next Friday" is the Friday of next week
(weeks run Monday to Sunday, as for "next week"), even said on a Thursday; "this Friday",
"coming Friday" and "on Friday" are the nearest one ahead. A date in digits is read in ISO
order ("2019-03-12"); with slashes, only when its order is plain (`_slash_date`: "25/12/2019",
"12/25/2019"), never "12/03/2019", which is 3 December in the US and 12 March elsewhere.
A weekday before a date is part of it ("on Tuesday, March 4", "Tuesday the 4th"); "on the
3rd" is that day of the month its tense points to (not "on the 3rd floor"); "a week from
today" counts from today; "the summer of 2019", "in early 2023", "the week before last" and,
by tense, "in the summer" and "over the weekend" are periods ("in the fall" alone is not:
it may be a tumble). A recurring time ("every Friday", "on Friday mornings", "in June every
year", "I usually swim on Friday") is no point in time and is left out (`_recurrence`).

A compact rule set, not `dateparser`: `dateparser.search.search_dates` costs ~8 ms per chat
turn here (48 s for the ~6,000 LoCoMo turns, against ~0.1 s for these rules), pulls in 15 MB of
dependencies and reports many false positives on chat text; `parsedatetime` has had no release
since 2020. English only; seasons are those of the northern hemisphere.

Example:
    ```python
    ref = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
    [m.span for m in ground("I went there yesterday", ref)]      # ["yesterday"]
    ground("I went there yesterday", ref)[0].start.date()        # date(2023, 5, 7)
    ```
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Literal, NamedTuple

from engram.memory._recurrence import Span, recurring

__all__ = ["Granularity", "TimeMention", "ground"]

Granularity = Literal["day", "week", "weekend", "month", "season", "year"]


class TimeMention(NamedTuple):
    """A time expression found in a text, resolved to the interval `[start, end)`."""

    span: str
    """The expression as written, e.g. `last Friday`."""
    start: datetime
    """First instant of the interval (midnight of its first day, in the reference's zone)."""
    end: datetime
    """First instant after the interval (exclusive)."""
    granularity: Granularity
    """How precise the expression is."""
    position: int
    """Character offset of `span` in the text."""


_Interval = tuple[date, date, Granularity]
_Handler = Callable[[re.Match[str], date, str], _Interval | None]

_MONTHS = {
    name: index
    for index, names in enumerate(
        (
            ("January", "Jan"),
            ("February", "Feb"),
            ("March", "Mar"),
            ("April", "Apr"),
            ("May",),
            ("June", "Jun"),
            ("July", "Jul"),
            ("August", "Aug"),
            ("September", "Sep", "Sept"),
            ("October", "Oct"),
            ("November", "Nov"),
            ("December", "Dec"),
        ),
        start=1,
    )
    for name in names
}
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "a couple of": 2,
    "a couple": 2,
    "couple of": 2,
    "a few": 3,
    "few": 3,
    "several": 3,
}
_SEASONS = {"spring": 3, "summer": 6, "fall": 9, "autumn": 9, "winter": 12}

# Month names are matched case-sensitively (capitalised) so that "may" and "march" the verbs
# are not dates; everything else is case-insensitive. The full stop of an abbreviation
# ("Sept. 2023") is part of a date only when the date goes on: in "I moved in March." it
# ends the sentence, and a span that took it would not be the expression as written.
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\b(?:\.(?=,?\s*\d))?"
_ABOUT = r"(?:(?i:about|around|roughly|approximately)\s+)?"
"""A hedge before a month ("since about February"): the month all the same, at its precision."""
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_NUM = r"(?P<num>\d{1,3}|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")"
_UNIT = r"(?P<unit>day|week|month|year)s?"
_Tense = Literal["past", "future"]
_When = Literal["past", "future", "arranged"]
"""A sentence's tense as a yearless month or date reads it: "arranged" is a past verb of
arranging ("I signed up for the marathon in October", "I booked a flight in March"), whose
time is the event's, in the reference's year: to come if later in it, else past."""
_BE = r"(?:\b(?:am|is|are)|['’](?:m|re))"
_PARTICIPLE = r"[a-z]{2,}ed\b"
# Cues of a sentence's tense. A participle after "be" or "get" ("I'm excited") says nothing
# of the time, so it is matched first, as neither, and so are a few words that only look
# like past forms ("need"). "I'm flying to Rome in March" is a plan: "be" + "-ing" is future.
_TENSE_CUE = re.compile(
    rf"(?P<neither>(?:{_BE}|\b(?:be|being|get|gets|getting|so|very|really|too))\s+{_PARTICIPLE}"
    r"|\b(?:need|indeed|hundred|speed|seed|feed|proceed|succeed|exceed|embed)\b)"
    r"|(?P<arranged>\b(?:signed\s+up|registered|enrolled)\s+for\b"
    r"|\b(?:booked|reserved|scheduled|rescheduled|planned|arranged)\b"
    r"|\b(?:bought|got|ordered|snagged|scored)\s+(?:[\w'’-]+\s+){0,3}?tickets?\b)"
    rf"|(?P<future>{_BE}\s+[a-z]{{2,}}ing\b(?:\s+{_PARTICIPLE})?"
    r"|\b(?:will|won't|won’t|shall|gonna|going\s+to|about\s+to|next|upcoming"
    r"|(?:plan|plans|planning|intend|intends|hope|hoping|want|wants)\s+to)\b|['’]ll\b)"
    r"|(?P<past>\b(?:was|were|did|didn't|didn’t|had|went|got|came|made|saw|took|met|ran|"
    r"gave|felt|left|bought|spent|began|became|found|lost|won|wrote|drove|flew|sold|built|"
    r"taught|brought|held|kept|paid|sent|grew|knew|broke|chose|spoke|ate|fell|ago|last)\b"
    rf"|\b{_PARTICIPLE})",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?;\n]")
_FORWARD = re.compile(
    r"(?i)\b(?:starting|beginning|effective|(?P<source>from))(?:\s+(?:on|in|from))?\s+$"
)
"""Just before a time, words that look ahead from it ("starting August 17", "from June")."""
_COPULA = re.compile(r"(?i)(?:\b(?:is|are|isn['’]t|aren['’]t)|\w['’](?:s|re))\s+(?:(?:in|on)\s+)?$")
"""Just before a time, a present "be" ("the defense is in June", "the wedding's on March 3"):
an event or date said to be at a time is one to come, whatever the sentence's other verbs."""
_RANGE_AFTER = re.compile(r"(?i)\s*(?:-|–|to|until|till|through)\s")
_WEEKDAY_NAMES = "|".join(_WEEKDAYS)
_ON_WEEKDAY = rf"(?:(?i:on)\s+)?(?i:{_WEEKDAY_NAMES})(?:,\s*|\s+)(?:(?i:the)\s+)?"
"""A weekday before a date ("on Tuesday, March 4"): part of the date, not a weekday apart
(the date alone is matched too, for "next Friday, 12 May", where the weekday is its own)."""
_ORDINAL = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)\b"


def _days(start: date, count: int = 1) -> tuple[date, date]:
    return start, start + timedelta(days=count)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def _month_interval(year: int, month: int) -> _Interval:
    start = date(year, month, 1)
    return start, _add_months(start, 1), "month"


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _number(text: str) -> int:
    text = " ".join(text.lower().split())
    return int(text) if text.isdigit() else _NUMBER_WORDS[text]


def _tense(text: str, start: int, end: int) -> _Tense | None:
    """The tense of the sentence around `text[start:end]`, from a word-list cue (a verb of
    arranging is past: "I booked a table on Friday" may be the Friday gone)."""
    when = _when(text, start, end)
    return "past" if when == "arranged" else when


def _when(text: str, start: int, end: int) -> _When | None:
    """The tense of the sentence around `text[start:end]`, as a yearless time reads it.

    The cue nearest before the expression in its sentence wins, else the first one after it:
    in "I moved in May and will fly in June" the move is past and the flight future. Just
    before it, "starting", "beginning" or "effective" look ahead whatever the verb ("I got the
    job, starting August 17"), as a present "be" does ("the defense was great, the party is in
    June"), and "from" makes a past verb one of arranging ("I got the job, from August 17"),
    unless it opens a span ("I was there from May 3 to May 10").
    """
    forward = _FORWARD.search(text, max(0, start - 24), start)
    if (forward and not forward["source"]) or _COPULA.search(text, max(0, start - 24), start):
        return "future"
    begin = max((m.end() for m in _SENTENCE_END.finditer(text, 0, start)), default=0)
    stop = _SENTENCE_END.search(text, end)
    before = [_cue(m) for m in _TENSE_CUE.finditer(text, begin, start)]
    after = [_cue(m) for m in _TENSE_CUE.finditer(text, end, stop.start() if stop else len(text))]
    cues = [cue for cue in (*reversed(before), *after) if cue is not None]
    when = cues[0] if cues else None
    if when == "past" and forward and not _RANGE_AFTER.match(text, end):
        return "arranged"
    return when


def _cue(match: re.Match[str]) -> _When | None:
    if match["arranged"]:
        return "arranged"
    if match["past"]:
        return "past"
    return "future" if match["future"] else None


def _year_of(month: int, day: int, ref: date, tense: _When | None) -> date | None:
    """The date `month/day` in the year the speaker means (the year before, of or after `ref`).

    Said in the past tense ("I graduated on 5 December"), the latest not after `ref`; in the
    future tense, the first not before it; arranged ("I booked a flight for 5 December"), in
    `ref`'s year; otherwise the closest to `ref`.
    """
    options: list[date] = []
    for year in (ref.year - 1, ref.year, ref.year + 1):
        try:
            options.append(date(year, month, day))
        except ValueError:
            continue
    if tense == "arranged" and (this_year := [o for o in options if o.year == ref.year]):
        return this_year[0]
    if tense == "past" and (past := [option for option in options if option <= ref]):
        return past[-1]
    if tense == "future" and (future := [option for option in options if option >= ref]):
        return future[0]
    return min(options, key=lambda option: abs((option - ref).days), default=None)


def _explicit_date(match: re.Match[str], ref: date, text: str) -> _Interval | None:
    month, day = _MONTHS[match["month"]], int(match["day"])
    if match["year"]:
        try:
            found = date(int(match["year"]), month, day)
        except ValueError:
            return None
    else:
        meant = _year_of(month, day, ref, _when(text, match.start(), match.end()))
        if meant is None:
            return None
        found = meant
    return (*_days(found), "day")


def _iso_date(match: re.Match[str], _ref: date, _text: str) -> _Interval | None:
    try:
        found = date(int(match["y"]), int(match["m"]), int(match["d"]))
    except ValueError:
        return None
    return (*_days(found), "day")


def _slash_date(match: re.Match[str], _ref: date, _text: str) -> _Interval | None:
    """A date with slashes whose order is plain: a number above 12 is the day ("25/12/2019",
    "12/25/2019"), or both numbers are the same ("05/05/2019"). Engram has no locale setting
    to say whether "12/03/2019" is 3 December (month first, the US) or 12 March (day first,
    most of the world), and a wrong date misdates a fact where none leaves it dated when it
    was said (its words keep the date as written): such a date is not grounded."""
    first, second, year = int(match["a"]), int(match["b"]), int(match["y"])
    year += 2000 if year < 100 else 0
    if first <= 12 and second <= 12 and first != second:
        return None
    month, day = (second, first) if first > 12 else (first, second)
    try:
        found = date(year, month, day)
    except ValueError:
        return None
    return (*_days(found), "day")


def _month_year(match: re.Match[str], _ref: date, _text: str) -> _Interval | None:
    return _month_interval(int(match["year"]), _MONTHS[match["month"]])


def _month_only(match: re.Match[str], ref: date, text: str) -> _Interval | None:
    """A month without a year: "last"/"next" name its year; else the sentence's tense does
    ("since" speaks of the past), with the current month both past and future, and a month
    arranged ("I signed up for the marathon in October") in `ref`'s year."""
    month, modifier = _MONTHS[match["month"]], (match["mod"] or "").lower()
    tense = "past" if modifier == "since" else _when(text, match.start(), match.end())
    if modifier == "last":
        year = ref.year if month < ref.month else ref.year - 1
    elif modifier in ("next", "coming"):
        year = ref.year if month > ref.month else ref.year + 1
    elif tense == "arranged":
        year = ref.year
    elif tense == "past":
        year = ref.year if month <= ref.month else ref.year - 1
    elif tense == "future":
        year = ref.year if month >= ref.month else ref.year + 1
    else:
        nearest = _year_of(month, 15, ref, None)
        year = nearest.year if nearest else ref.year
    return _month_interval(year, month)


def _year_range(match: re.Match[str], _ref: date, _text: str) -> _Interval | None:
    """A span of years, "from 2019 to 2021", "between 2019 and 2021", "2019-2021": from the
    first year's start to the last one's end."""
    first, last = int(match["year"]), int(match["last"])
    if last < first:
        return None
    return date(first, 1, 1), date(last + 1, 1, 1), "year"


def _year_only(match: re.Match[str], _ref: date, _text: str) -> _Interval | None:
    year = int(match["year"])
    return date(year, 1, 1), date(year + 1, 1, 1), "year"


_DAY_WORDS = {
    "today": 0,
    "tonight": 0,
    "this morning": 0,
    "this afternoon": 0,
    "this evening": 0,
    "earlier today": 0,
    "yesterday": -1,
    "last night": -1,
    "yesterday morning": -1,
    "yesterday afternoon": -1,
    "yesterday evening": -1,
    "the day before yesterday": -2,
    "tomorrow": 1,
    "tomorrow morning": 1,
    "tomorrow night": 1,
    "the day after tomorrow": 2,
}


def _day_word(match: re.Match[str], ref: date, _text: str) -> _Interval | None:
    offset = _DAY_WORDS[" ".join(match[0].lower().split())]
    return (*_days(ref + timedelta(days=offset)), "day")


def _shift(ref: date, unit: str, count: int) -> _Interval:
    """The day (or unit) `count` units away from `ref` (negative: in the past)."""
    if unit == "day":
        return (*_days(ref + timedelta(days=count)), "day")
    if unit == "week":
        return (*_days(ref + timedelta(weeks=count)), "week")
    months = count if unit == "month" else 12 * count
    return (*_days(_add_months(ref, months)), "month" if unit == "month" else "year")


def _ago(match: re.Match[str], ref: date, _text: str) -> _Interval | None:
    return _shift(ref, match["unit"].lower(), -_number(match["num"]))


def _ahead(match: re.Match[str], ref: date, _text: str) -> _Interval | None:
    return _shift(ref, match["unit"].lower(), _number(match["num"]))


_FROM_DAY = {"now": 0, "today": 0, "tonight": 0, "tomorrow": 1}


def _ahead_from(match: re.Match[str], ref: date, _text: str) -> _Interval | None:
    """ "a week from today", "3 days from tomorrow": counted from that day, to the day for
    days and weeks (a week from today is a day, not a week)."""
    base = ref + timedelta(days=_FROM_DAY[match["base"].lower()])
    start, end, granularity = _shift(base, match["unit"].lower(), _number(match["num"]))
    return start, end, "day" if granularity == "week" else granularity


def _before_last(match: re.Match[str], ref: date, _text: str) -> _Interval | None:
    """ "the week before last" (and weekend, month, year): two back."""
    return _period(match["period"].lower(), ref, -2)


def _relative_period(match: re.Match[str], ref: date, text: str) -> _Interval | None:
    """ "last week", "this month", "next year"; "this weekend" said in the past tense ("we
    moved this weekend") is the one gone by if said Monday to Thursday, else this one up to
    today (said on a Saturday, that Saturday)."""
    modifier, unit = match["mod"].lower().split()[-1], match["period"].lower()
    if unit == "weekend" and modifier == "this" and _said_gone(text, match):
        if ref.weekday() < 4:
            return _period(unit, ref, -1)
        saturday = _week_start(ref) + timedelta(days=5)
        return min(saturday, ref), ref + timedelta(days=1), "weekend"
    step = {"last": -1, "past": -1, "this": 0, "next": 1, "coming": 1}[modifier]
    return _period(unit, ref, step)


def _said_gone(text: str, match: re.Match[str]) -> bool:
    """Whether "this weekend" or "this Monday" is said in the past tense (not of arranging:
    "I booked a cabin this weekend" may be for the coming one)."""
    return _when(text, match.start(), match.end()) == "past"


def _period(unit: str, ref: date, step: int) -> _Interval:
    """The week, weekend, month or year `step` of them from the one of `ref`."""
    if unit == "week":
        start = _week_start(ref) + timedelta(weeks=step)
        return start, start + timedelta(weeks=1), "week"
    if unit == "weekend":
        saturday = _week_start(ref) + timedelta(days=5)
        saturday += timedelta(weeks=step)
        return saturday, saturday + timedelta(days=2), "weekend"
    if unit == "month":
        start = _add_months(date(ref.year, ref.month, 1), step)
        return start, _add_months(start, 1), "month"
    return date(ref.year + step, 1, 1), date(ref.year + step + 1, 1, 1), "year"


def _season_start(year: int, season: str) -> date:
    return date(year, _SEASONS[season], 1)


def _season(match: re.Match[str], ref: date, _text: str) -> _Interval | None:
    modifier, season = match["mod"].lower(), match["season"].lower()
    # The season containing `ref`'s month starts in this year, or last year for Jan/Feb winter.
    start = _season_start(ref.year, season)
    if season == "winter" and ref.month < 3:
        start = _season_start(ref.year - 1, season)
    end = _add_months(start, 3)
    if modifier == "last" and end > ref:
        start = _season_start(start.year - 1, season)
    elif modifier in ("next", "coming") and start <= ref:
        start = _season_start(start.year + 1, season)
    return start, _add_months(start, 3), "season"


def _season_year(match: re.Match[str], _ref: date, _text: str) -> _Interval | None:
    """A season of a named year, "summer 2023", "the fall of 2022": that year's (winter
    starting in its December, as a season's start does)."""
    start = _season_start(int(match["year"]), match["season"].lower())
    return start, _add_months(start, 3), "season"


def _bare_season(match: re.Match[str], ref: date, text: str) -> _Interval | None:
    """ "in the summer", "over the winter": by its sentence's tense, the latest one begun by
    `ref` (past), the first not over by then (future), else the nearer of those two."""
    season = match["season"].lower()
    latest = _season_start(ref.year, season)
    if latest > ref:
        latest = _season_start(ref.year - 1, season)
    following = _season_start(latest.year + 1, season)
    tense = _tense(text, match.start(), match.end())
    if tense == "past":
        start = latest
    elif ref < _add_months(latest, 3):  # in it: this one, spoken of in any tense
        start = latest
    elif tense == "future":
        start = following
    else:
        start = min((latest, following), key=lambda s: abs((s + timedelta(days=45) - ref).days))
    return start, _add_months(start, 3), "season"


def _part_of_year(match: re.Match[str], _ref: date, _text: str) -> _Interval | None:
    """ "early 2023", "mid-2020", "in late 2019": somewhere in that year."""
    year = int(match["year"])
    return date(year, 1, 1), date(year + 1, 1, 1), "year"


def _the_weekend(match: re.Match[str], ref: date, text: str) -> _Interval | None:
    """ "over the weekend", "on the weekend": the weekend begun last (past tense, or said on
    it), else the coming one."""
    saturday = _week_start(ref) + timedelta(days=5)
    if saturday > ref and _tense(text, match.start(), match.end()) == "past":
        saturday -= timedelta(weeks=1)
    return saturday, saturday + timedelta(days=2), "weekend"


def _month_day(match: re.Match[str], ref: date, text: str) -> _Interval | None:
    """ "on the 3rd", "Tuesday the 4th": that day of a month near `ref` (two either side),
    on that weekday if one is named: the latest not after `ref` in the past tense, the first
    not before it in the future tense, else the nearest. "I landed on the 31st", said on 10
    March, is 31 January (February has none), never 31 March."""
    day = int(match["day"])
    options: list[date] = []
    for months in (-2, -1, 0, 1, 2):
        first = _add_months(date(ref.year, ref.month, 1), months)
        if 1 <= day <= calendar.monthrange(first.year, first.month)[1]:
            options.append(date(first.year, first.month, day))
    if match["weekday"]:
        target = _WEEKDAYS.index(match["weekday"].lower())
        options = [option for option in options if option.weekday() == target]
    tense = _tense(text, match.start(), match.end())
    if tense == "past":
        options = [option for option in options if option <= ref][-1:]
    elif tense == "future":
        options = [option for option in options if option >= ref][:1]
    found = min(options, key=lambda option: abs((option - ref).days), default=None)
    return None if found is None else (*_days(found), "day")


def _weekday(match: re.Match[str], ref: date, text: str) -> _Interval | None:
    """A weekday: "last Friday" the latest one before the reference's day; "next Friday"
    the one of next week, as "next week" is (said on Thursday 9 May, Friday 17 May, not the
    next day: "this Friday" or "on Friday" say that one); "coming" and "this" the nearest
    one ahead ("this" in the past tense, the latest one by today); bare, by its sentence's
    tense."""
    target = _WEEKDAYS.index(match["weekday"].lower())
    modifier = (match["mod"] or "").lower()
    back = (ref.weekday() - target) % 7 or 7  # days since the previous such weekday
    ahead = (target - ref.weekday()) % 7  # days until the next (0: today)
    if modifier in ("last", "past"):
        offset = -back
    elif modifier == "next":
        offset = 7 - ref.weekday() + target  # from the reference to that day of next week
    elif modifier == "coming":
        offset = ahead or 7
    elif modifier == "this":  # in the past tense, the latest by today ("I saw her this Monday")
        offset = -back if ahead and _said_gone(text, match) else ahead
    else:  # "on Friday" / "Friday": the past one if its sentence speaks of the past
        offset = -back if _tense(text, match.start(), match.end()) == "past" else ahead
    return (*_days(ref + timedelta(days=offset)), "day")


class _Rule(NamedTuple):
    pattern: re.Pattern[str]
    handler: _Handler
    gate: tuple[str, ...]
    """The rule runs only if the lower-cased text contains one of these (`#`: any digit,
    `@`: a capitalised month name)."""
    cyclical: bool = False
    """Its times come round (a weekday, a month, a season, a date without a year), unless
    one is fixed (`_FIXED`): "every year in June" may make one recurring (`_recurrence`)."""


_DIGIT, _MONTH_NAME = "#", "@"
_UNIT_WORDS = ("day", "week", "month", "year")
_RULES: tuple[_Rule, ...] = (
    _Rule(
        re.compile(r"\b(?P<y>(?:19|20)\d\d)-(?P<m>[01]?\d)-(?P<d>[0-3]?\d)\b"), _iso_date, (_DIGIT,)
    ),
    _Rule(
        re.compile(r"\b(?P<a>[0-3]?\d)/(?P<b>[0-3]?\d)/(?P<y>(?:19|20)?\d\d)\b"),
        _slash_date,
        (_DIGIT,),
    ),
    _Rule(
        re.compile(rf"\b{_DAY}(?:\s+of)?\s+{_MONTH}(?:(?:,\s*|\s+){_YEAR})?\b"),
        _explicit_date,
        (_MONTH_NAME,),
        cyclical=True,
    ),
    _Rule(
        re.compile(rf"\b{_MONTH}\s+{_DAY}\b(?:(?:,\s*|\s+){_YEAR}\b)?"),
        _explicit_date,
        (_MONTH_NAME,),
        cyclical=True,
    ),
    _Rule(
        re.compile(rf"\b{_ON_WEEKDAY}{_DAY}(?:\s+of)?\s+{_MONTH}(?:(?:,\s*|\s+){_YEAR})?\b"),
        _explicit_date,
        (_MONTH_NAME,),
        cyclical=True,
    ),
    _Rule(
        re.compile(rf"\b{_ON_WEEKDAY}{_MONTH}\s+{_DAY}\b(?:(?:,\s*|\s+){_YEAR}\b)?"),
        _explicit_date,
        (_MONTH_NAME,),
        cyclical=True,
    ),
    _Rule(
        re.compile(
            rf"\b(?:(?i:on)\s+)?(?P<weekday>(?i:{_WEEKDAY_NAMES}))(?:,\s*|\s+)(?i:the)\s+"
            rf"{_ORDINAL}(?!\s+(?i:of)\b)"
        ),
        _month_day,
        (_DIGIT,),
        cyclical=True,
    ),
    # "on the 3rd" alone, not "on the 3rd floor": no word may follow (no weekday: empty).
    _Rule(
        re.compile(rf"\b(?i:on\s+the)\s+(?P<weekday>){_ORDINAL}(?!\s*[^\W\d_])"),
        _month_day,
        (_DIGIT,),
        cyclical=True,
    ),
    _Rule(re.compile(rf"\b{_MONTH}(?:,)?\s+{_YEAR}\b"), _month_year, (_MONTH_NAME,)),
    _Rule(
        re.compile(
            r"\b(?P<mod>(?i:in|since|during|by|until|early|late|mid|last|this|next|coming))"
            rf"(?:\s+|-){_ABOUT}{_MONTH}(?!\.?,?\s*\d)"
        ),
        _month_only,
        (_MONTH_NAME,),
        cyclical=True,
    ),
    _Rule(
        re.compile(
            rf"(?i:\b(?:from|between)\s+){_YEAR}(?i:\s*(?:-|–|to|and|until|till|through)\s*)"
            r"(?P<last>(?:19|20)\d\d)\b"
        ),
        _year_range,
        (_DIGIT,),
    ),
    _Rule(
        re.compile(rf"(?<![\w/-]){_YEAR}\s*[-–]\s*(?P<last>(?:19|20)\d\d)(?![\w/-])"),
        _year_range,
        (_DIGIT,),
    ),
    _Rule(
        re.compile(rf"(?i:\b(?:in|since|during|by|until|back in|from|between)\s+){_YEAR}\b"),
        _year_only,
        (_DIGIT,),
    ),
    _Rule(
        re.compile(
            rf"\b(?:(?i:in|since|during|by|until|back in|from|between)\s+)?"
            rf"(?i:early|late|mid)(?:\s+|-){_YEAR}\b"
        ),
        _part_of_year,
        (_DIGIT,),
    ),
    _Rule(
        re.compile(r"(?i)\b(?:" + "|".join(sorted(_DAY_WORDS, key=len, reverse=True)) + r")\b"),
        _day_word,
        ("yesterday", "today", "tonight", "tomorrow", "this ", "last night"),
    ),
    _Rule(re.compile(rf"(?i)\b{_NUM}\s+{_UNIT}\s+ago\b"), _ago, ("ago",)),
    _Rule(re.compile(rf"(?i)\bin\s+{_NUM}\s+{_UNIT}\b(?!\s+ago)"), _ahead, _UNIT_WORDS),
    _Rule(re.compile(rf"(?i)\b{_NUM}\s+{_UNIT}\s+later\b"), _ahead, ("later",)),
    _Rule(
        re.compile(rf"(?i)\b{_NUM}\s+{_UNIT}\s+from\s+(?P<base>now|today|tonight|tomorrow)\b"),
        _ahead_from,
        ("from now", "from today", "from tonight", "from tomorrow"),
    ),
    _Rule(
        re.compile(r"(?i)\bthe\s+(?P<period>weekend|week|month|year)\s+before\s+last\b"),
        _before_last,
        ("before last",),
    ),
    _Rule(
        re.compile(r"(?i)\b(?:over|on|at|during|for)\s+the\s+weekend\b(?!\s+of\b)"),
        _the_weekend,
        ("the weekend",),
        cyclical=True,
    ),
    _Rule(
        re.compile(
            r"(?i)\b(?P<mod>this\s+past|the\s+past|last|past|this|next|coming)\s+"
            r"(?P<period>weekend|week|month|year)\b"
        ),
        _relative_period,
        ("week", "month", "year"),
    ),
    _Rule(
        re.compile(
            r"(?i)\b(?P<mod>last|this|next|coming)\s+(?P<season>summer|winter|spring|fall|autumn)\b"
        ),
        _season,
        ("summer", "winter", "spring", "fall", "autumn"),
    ),
    _Rule(
        re.compile(
            r"\b(?:(?i:the)\s+)?(?P<season>(?i:summer|winter|spring|fall|autumn))"
            rf"(?:\s+(?i:of))?\s+{_YEAR}\b"
        ),
        _season_year,
        ("summer", "winter", "spring", "fall", "autumn"),
    ),
    # Not "the fall" alone: "I hurt my knee in the fall" is no season.
    _Rule(
        re.compile(
            r"(?i)\b(?:in|during|over|through|throughout)\s+(?:the\s+)?"
            r"(?P<season>summer|winter|spring|autumn)\b(?!\s+(?:of\s+)?(?:19|20)\d\d)"
        ),
        _bare_season,
        ("summer", "winter", "spring", "autumn"),
        cyclical=True,
    ),
    _Rule(
        re.compile(
            r"(?i)\b(?:(?P<mod>last|this|next|coming|past|on)\s+)?"
            r"(?P<weekday>" + "|".join(_WEEKDAYS) + r")\b(?!s)"
        ),
        _weekday,
        ("day",),
        cyclical=True,
    ),
)
_FIXED = re.compile(r"(?i:\b(?:last|next|this|coming|past)\b)|\d{4}")
"""What fixes a cyclical time to one: "last Friday", "June 2023"."""
_HAS_DIGIT = re.compile(r"\d")
_HAS_MONTH = re.compile(r"\b(?:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\b")


def _open(rule: _Rule, lowered: str, digit: bool, month: bool) -> bool:
    for key in rule.gate:
        if (key == _DIGIT and digit) or (key == _MONTH_NAME and month) or key in lowered:
            return True
    return False


def ground(text: str, reference: datetime) -> list[TimeMention]:
    """Find the time expressions of `text` and resolve them against `reference`.

    Args:
        text: Any text (never raises on arbitrary input).
        reference: When the text was written; relative expressions count from its date.
            The intervals are in its time zone (naive in, naive out).

    Returns:
        The expressions found, in text order, without overlaps (the longest match wins).
    """
    if not text:
        return []
    lowered, ref = text.lower(), reference.date()
    digit, month = bool(_HAS_DIGIT.search(text)), bool(_HAS_MONTH.search(text))
    found: list[tuple[int, int, _Interval, bool]] = []
    for rule in _RULES:
        if not _open(rule, lowered, digit, month):
            continue
        for match in rule.pattern.finditer(text):
            interval = rule.handler(match, ref, text)
            if interval is not None:
                cyclical = rule.cyclical and not _FIXED.search(match[0])
                found.append((match.start(), match.end(), interval, cyclical))
    found.sort(key=lambda item: (item[0], item[0] - item[1]))
    kept: list[tuple[int, int, _Interval, bool]] = []
    for item in found:
        if not kept or item[0] >= kept[-1][1]:
            kept.append(item)
    # A recurring time ("every Friday", "in June every year") is no point in time: left out,
    # though its span stays taken (no shorter expression inside it is read instead).
    spans = [Span(start, end, cyclical) for start, end, _, cyclical in kept]
    repeats = recurring(text, spans, lambda start, end: _tense(text, start, end))
    mentions: list[TimeMention] = []
    for (start, end, (first, after, granularity), _), repeat in zip(kept, repeats, strict=True):
        if repeat:
            continue
        mentions.append(
            TimeMention(
                span=text[start:end],
                start=_at_midnight(first, reference),
                end=_at_midnight(after, reference),
                granularity=granularity,
                position=start,
            )
        )
    return _spans(text, mentions)


_SPAN_OPENER = re.compile(r"(?i:\b(?:from|between)\s+)$")
_OPENED = re.compile(r"(?i:(?:from|between)\s)")
_SPAN_JOINER = re.compile(r"(?i:\s*(?:-|–|to|and|until|till|through)\s*)")
_FINER: dict[Granularity, int] = {
    "day": 0,
    "weekend": 1,
    "week": 2,
    "month": 3,
    "season": 4,
    "year": 5,
}


def _spans(text: str, mentions: list[TimeMention]) -> list[TimeMention]:
    """`mentions`, each period said as going from one time to another ("from March 2020 to
    May 2021", "between 2019 and May 2021") joined into one: from the first one's start to
    the last one's end (exclusive: "to May 2021" ends as June begins), at the finer of their
    granularities ("from 2019 to May 2021" is known to the month). A span of years in one
    expression ("from 2019 to 2021") is one mention already; two times that end before they
    begin ("from May 2021 to March 2020") are no period."""
    joined: list[TimeMention] = []
    for mention in mentions:
        first = joined[-1] if joined else None
        if first is None or first.start >= mention.end:
            joined.append(mention)
            continue
        opener = _SPAN_OPENER.search(text, 0, first.position)
        between = text[first.position + len(first.span) : mention.position]
        if not (opener or _OPENED.match(first.span)) or not _SPAN_JOINER.fullmatch(between):
            joined.append(mention)
            continue
        start = opener.start() if opener else first.position
        joined[-1] = TimeMention(
            span=text[start : mention.position + len(mention.span)],
            start=first.start,
            end=mention.end,
            granularity=min(first.granularity, mention.granularity, key=_FINER.__getitem__),
            position=start,
        )
    return joined


def _at_midnight(day: date, reference: datetime) -> datetime:
    """Midnight of `day` in the reference's zone, at that day's offset: a pytz zone (whose
    `tzinfo` on an aware time is one fixed offset, summer's in July) is asked for it
    (`localize`), or "5 January" said in a Lisbon July would start an hour early."""
    midnight = datetime(day.year, day.month, day.day)
    localize = getattr(reference.tzinfo, "localize", None)
    if callable(localize):
        localized: datetime = localize(midnight)
        return localized
    return midnight.replace(tzinfo=reference.tzinfo)
