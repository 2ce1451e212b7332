"""Recurring times: "every Friday" is no point in time, "on Friday" is.

`temporal.ground` reads a weekday, a month, a season or a date without a year as the one
nearest its sentence's tense. Said of a habit ("I go swimming every Friday", "I play tennis on
Friday mornings", "every year in June", "I usually swim on Friday"), it names no such one: a
fact dated by it would start on the next Friday, and not be true now. `recurring` tells these
mentions apart, so that `ground` leaves them out and the fact is dated when it was said.

A plural ("on Fridays", "on weekends") is never matched by `ground`'s rules; a quantifier
before the time ("every", "each", "every other") makes any mention recurring; a cyclical one
(a weekday, month, season or yearless date: `cyclical`) is recurring also by a period that
repeats around it ("every week on Friday", "in June every year", "weekly on Monday"), a part
of the day in the plural ("Friday mornings"), a habitual adverb in its sentence with no tense
to say otherwise ("I usually swim on Friday") or a list with one that is ("every Monday,
Wednesday and Friday").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

__all__ = ["Span", "recurring"]


class Span(NamedTuple):
    """A time mention's place in its text, and whether it names a time that comes round."""

    start: int
    end: int
    cyclical: bool
    """A weekday, a month or season without a year, a date without a year: a time of the
    week or year, which a repeating period can make recurring ("in June every year"), unlike
    "last June" or "June 2023"."""


_QUANTIFIER = re.compile(
    r"(?i)\b(?:every|each)(?:\s+(?:other|second|third|single|alternate|2nd|3rd))?\s+$"
)
"""Just before a mention: "every Friday", "each June", "every other Saturday"."""
_PERIOD = (
    r"(?:(?:every|each)\s+(?:other\s+|single\s+)?(?:week|month|year)"
    r"|weekly|monthly|yearly|annually)"
)
_PERIOD_BEFORE = re.compile(rf"(?i)\b{_PERIOD}\s*,?\s+(?:(?:on|in|during)\s+)?$")
"""Before a cyclical mention: "every week on Friday", "every year in June", "weekly on Monday"."""
_AFTER = re.compile(rf"(?i)(?:\s*,?\s*{_PERIOD}\b|\s+(?:mornings|afternoons|evenings|nights)\b)")
"""After a cyclical mention: "on Friday every week", "in June every year", "Friday nights"."""
_HABITUAL = re.compile(
    r"(?i)\b(?:usually|normally|typically|generally|always|often|regularly|sometimes|never"
    r"|mostly|routinely)\b"
)
_WINDOW = 40
"""How far before a mention its quantifier or period is looked for (in characters)."""
_SENTENCE_END = re.compile(r"[.!?;\n]")
_LIST_JOINER = re.compile(r"(?i)\s*(?:[,/&]\s*(?:(?:and|or)\s+)?|(?:and|or)\s+)")
"""Between two mentions of a list: "Monday, Wednesday and Friday", "Tuesday and Thursday".
The second has no preposition of its own: in "every Friday, and on Friday I'm seeing the
dentist" the dentist is one Friday."""
_OWN_PREPOSITION = re.compile(r"(?i)(?:on|in|during|over|at|for)\s")


def recurring(
    text: str, spans: Sequence[Span], tense_of: Callable[[int, int], object]
) -> list[bool]:
    """Whether each of `spans` (in text order, not overlapping) names a recurring time.

    Args:
        text: The text the mentions were found in.
        spans: The mentions.
        tense_of: The tense of the sentence around `text[start:end]`, `None` if it has none
            (`temporal._tense`): a habitual adverb makes a cyclical mention recurring only in
            a sentence with no tense ("I usually swim on Friday", not "I usually swim, but on
            Friday I'm seeing the dentist").
    """
    flags = [_recurring(text, span, tense_of) for span in spans]
    # A list shares its recurrence, either way: "every Monday, Wednesday and Friday",
    # "Tuesday and Thursday every week".
    group: list[int] = []
    for index, span in enumerate(spans):
        joined = bool(group) and span.cyclical and spans[group[-1]].cyclical
        joined = joined and not _OWN_PREPOSITION.match(text, span.start)
        if not (joined and _LIST_JOINER.fullmatch(text, spans[group[-1]].end, span.start)):
            _share(flags, group)
            group = []
        group.append(index)
    _share(flags, group)
    return flags


def _share(flags: list[bool], group: list[int]) -> None:
    if any(flags[index] for index in group):
        for index in group:
            flags[index] = True


def _recurring(text: str, span: Span, tense_of: Callable[[int, int], object]) -> bool:
    window = max(0, span.start - _WINDOW)
    if _QUANTIFIER.search(text, window, span.start):
        return True
    if not span.cyclical:
        return False
    if _PERIOD_BEFORE.search(text, window, span.start) or _AFTER.match(text, span.end):
        return True
    begin = max((m.end() for m in _SENTENCE_END.finditer(text, 0, span.start)), default=0)
    return (
        bool(_HABITUAL.search(text, begin, span.start)) and tense_of(span.start, span.end) is None
    )
