"""A slot's timeline: the validity spans of the values one slot (the user's home, say) held,
fitted so that "as of" any time one value held, whatever order the statements came in.

Each statement of a slot value is a memory, true over `[valid_from, valid_to)` (no start:
from when it was recorded, as "as of" reads it, or from the beginning if it ended by then,
`began`; no end: still). The statements of a slot
reach the store in any order: an old chat replayed after the current value was learned, a
move said to have begun before the value said last ("I moved to Lisbon in March"), two
databases that each learned part of the user's history merged by an import. Both ways in,
revision (`revision.decide`) and import (`_memory_transfer`), cut a value said again
around a value said between (`cut`), then fit their values with `ends`; `_revision_time.ended`
writes what it finds.

A value said again is folded into the memory of its first saying (a revision `noop`, or
an `update` refining it: "Lisbon", then "Lisbon, Portugal"), which records each later
saying, when and by which messages (`SAID_AGAIN`); an older statement of it, replayed,
becomes its first saying. When a memory was said is when its latest saying was (`said`).
A saying whose messages are erased (their session's, `without_sources`) no longer counts;
the first erased, the next left becomes the first: the memory holds from then.
A value said between two sayings of another (learned after both: "Berlin" on day 0 and
day 2, then "Lisbon" said on day 1 replayed; an ending of it too) cuts that one in two
(`cut`): its first stretch, the sayings up to the value between, ends where that one
begins, retired by it; the later sayings go to a new memory (same text, their provenance,
holding from the first of them on) that ends the value between. So "as of" any time the
value said latest holds: Berlin day 0-1, Lisbon day 1-2, Berlin from day 2, whichever
order the three were learned in, by revision (`revision.decide`) and by an import
(`_revision_time.cut_slots`) alike; the cut is audited (`supersede` of the first stretch, `add`
of the second) and nothing is erased. Two values said at one moment: the one learned
later wins (`ends` orders by `said`, then by id, time-ordered), and a saying of the other
at that moment, folded into a memory it retired, no longer counts (`sayings`).

A value the user set by hand (`Memories.update` of a slot fact's value, `EDITED_AT`) was
said when the edit was made, as a hand edit of the profile is: a statement said before the
edit, replayed after it, does not undo it. Its validity keeps its start: the edit says
what held, not since when. An edit that only rewords a fact, its value kept, says nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from engram.memory.entities import fold
from engram.types._memory import Memory

__all__ = [
    "BEGINNING",
    "EDITED_AT",
    "LAST_SAID_AT",
    "SAID_AGAIN",
    "End",
    "Saying",
    "began",
    "cut",
    "edited_at",
    "ended_unstarted",
    "ends",
    "first_saying",
    "last_said_at",
    "merged_sayings",
    "metadata_time",
    "said",
    "said_again",
    "same_day_start",
    "sayings",
    "slot_value",
    "to_come",
    "with_said_at",
    "with_sayings",
    "without_sources",
]

EDITED_AT = "_value_edited_at"
"""Metadata key Engram sets on a slot fact whose value the user edited by hand: when, as an
ISO-8601 time (the last such edit). `said` orders the value by it (`Memory.updated_at`
changes for any rewrite, provenance appended too, so it cannot tell an edit). Exported
and imported with the memory's metadata."""

SAID_AGAIN = "_said_again"
"""Metadata key Engram sets on a slot fact whose value was said again after it was recorded
(a revision `noop` or `update` folding the restatement in): each later saying, as
`{"at": ISO-8601 time, "source_ids": [...]}`, the earliest first. `said` orders the value by
the latest; `cut` splits the memory where another value was said between two of them.
Exported and imported with the memory's metadata; an import merging two versions of the
memory keeps the sayings of both."""

LAST_SAID_AT = "_last_said_at"
"""Metadata key of the former format of `SAID_AGAIN`: the latest later saying alone, as an
ISO-8601 time (its sources unknown). Still read (`sayings`); no longer written."""


class Saying(NamedTuple):
    """A later statement of a memory's value, folded into it (`SAID_AGAIN`)."""

    at: datetime
    """When it was said."""
    source_ids: tuple[str, ...]
    """The messages that said it (none known for the former format, `LAST_SAID_AT`)."""


BEGINNING = datetime.min.replace(tzinfo=UTC)
"""When a memory that held from an unknown start up to an end said before it was recorded
began to hold, as far as we know (`began`)."""


def began(memory: Memory) -> datetime:
    """When `memory` began to hold, as "as of" reads it: its start; if unknown, when it was
    recorded, unless it ended by then (an end it was said with, not one Engram gave it
    retiring it: "I lived in Braga until 2019", said in 2026), and then from the beginning
    (`BEGINNING`), as far as we know: from when it was recorded it would hold over nothing.

    The stores' "valid at" filters (`stores._memory_rules.valid_at`, the SQL backends'
    `_temporal_sql`) read it so too. A value retired before it was said (a move said to
    have begun before it) keeps an empty span: it never held.
    """
    if memory.valid_from is not None:
        return memory.valid_from
    if ended_unstarted(memory):
        return BEGINNING
    return memory.recorded_at


def ended_unstarted(memory: Memory) -> bool:
    """Whether `memory`, of unknown start and not retired, ended at or before it was
    recorded (said of the past: "until 2019"), so held up to its end (`began`)."""
    return (
        memory.valid_from is None
        and memory.superseded_at is None
        and memory.valid_to is not None
        and memory.valid_to <= memory.recorded_at
    )


def edited_at(memory: Memory) -> datetime | None:
    """When the user last edited the value of `memory` by hand (`EDITED_AT`), if they did."""
    return metadata_time(memory, EDITED_AT)


def last_said_at(memory: Memory) -> datetime | None:
    """When the value of `memory` was last said again (`SAID_AGAIN`), if it was."""
    return max((saying.at for saying in sayings(memory)), default=None)


def sayings(memory: Memory) -> list[Saying]:
    """The later statements of `memory`'s value folded into it (`SAID_AGAIN`, and the
    former `LAST_SAID_AT`), the earliest first; malformed entries are skipped, and so are
    those of a retired memory at or after its end (another value said at that moment,
    learned later, won)."""
    found: dict[datetime, tuple[str, ...]] = {}
    legacy = metadata_time(memory, LAST_SAID_AT)
    if legacy is not None:
        found[legacy] = ()
    entries = memory.metadata.get(SAID_AGAIN)
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict):
            continue
        at = _time(entry.get("at"))
        ids = entry.get("source_ids")
        if at is not None and isinstance(ids, list):
            sources = tuple(i for i in ids if isinstance(i, str))
            found[at] = tuple(dict.fromkeys((*found.get(at, ()), *sources)))
    end = memory.valid_to if memory.superseded_at is not None else None
    return [Saying(at, ids) for at, ids in sorted(found.items()) if end is None or at < end]


def first_saying(memory: Memory) -> Saying:
    """The statement `memory` was recorded by: when it was recorded, by its messages but
    those of its later sayings (`sayings`)."""
    later = {source for saying in sayings(memory) for source in saying.source_ids}
    return Saying(memory.recorded_at, tuple(s for s in memory.source_ids if s not in later))


def with_said_at(metadata: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    """`metadata` with its `said_at` (if it has one) moved to `at`: the memory's first
    saying is then."""
    moved = dict(metadata)
    if "said_at" in moved:
        moved["said_at"] = at.isoformat()
    return moved


def with_sayings(metadata: Mapping[str, Any], given: Iterable[Saying]) -> dict[str, Any]:
    """`metadata` recording `given` as the later sayings of its memory's value
    (`SAID_AGAIN`; none: the key dropped), the former key (`LAST_SAID_AT`) dropped."""
    kept = {k: v for k, v in metadata.items() if k not in (SAID_AGAIN, LAST_SAID_AT)}
    merged: dict[datetime, tuple[str, ...]] = {}
    for saying in given:
        merged[saying.at] = tuple(dict.fromkeys((*merged.get(saying.at, ()), *saying.source_ids)))
    if not merged:
        return kept
    entries = [
        {"at": at.isoformat(), "source_ids": list(ids)} for at, ids in sorted(merged.items())
    ]
    return {**kept, SAID_AGAIN: entries}


def without_sources(memory: Memory, gone: Collection[str]) -> Memory:
    """`memory` as if the messages `gone` (erased) had not said it: their ids out of its
    provenance and out of its later sayings (`SAID_AGAIN`), a saying only they made no
    longer counted (it would keep the value said when nothing that said it is left).

    If they made its first saying (every message of it gone) and a later saying of known
    messages is left, the earliest left becomes its first (`_first_said`): "Berlin" said on
    day 0 and again on day 5, the day-0 saying erased, holds from day 5, not "as of" day 2.
    """
    if not gone:
        return memory
    earlier = sayings(memory)
    first = set(first_saying(memory).source_ids)
    left = [
        Saying(saying.at, tuple(s for s in saying.source_ids if s not in gone))
        for saying in earlier
        if not saying.source_ids or not set(saying.source_ids) <= set(gone)
    ]
    moved = bool(first) and first <= set(gone) and bool(left) and bool(left[0].source_ids)
    metadata = memory.metadata
    if SAID_AGAIN in metadata or LAST_SAID_AT in metadata:
        metadata = with_sayings(metadata, left[1:] if moved else left)
    sources = tuple(s for s in memory.source_ids if s not in gone)
    kept = replace(memory, source_ids=sources, metadata=metadata)
    return _first_said(kept, left[0].at) if moved else kept


def _first_said(memory: Memory, at: datetime) -> Memory:
    """`memory` first said at `at`, its first saying erased: recorded then (`recorded_at`,
    `said_at`), and holding from then if it held from the erased saying (its start that
    saying's time, and before its end); a start said with it ("since 2019") stays, and so
    does none, and so does `created_at` (when the record was made).

    A value it retired keeps its end: the gap between the erased saying and `at`, where
    no value holds, is what is left of the user's word (erasure forgets, it infers no
    value that held on)."""
    metadata = with_said_at(memory.metadata, at)
    start = memory.valid_from
    if start == memory.recorded_at and (memory.valid_to is None or at < memory.valid_to):
        start = at
    return replace(memory, recorded_at=at, valid_from=start, metadata=metadata)


def merged_sayings(memories: Iterable[Memory]) -> list[Saying]:
    """The later sayings of a value stated by `memories`, merged into one memory (recorded
    when the earliest of them was): each one's later sayings (`sayings`) and the first
    saying of each but the earliest (when it was recorded, by its own messages)."""
    found: list[Saying] = []
    firsts: list[Saying] = []
    for memory in memories:
        found += sayings(memory)
        firsts.append(first_saying(memory))
    firsts.sort(key=lambda saying: saying.at)
    return sorted([*found, *firsts[1:]], key=lambda saying: saying.at)


def said_again(memory: Memory, by: Memory) -> dict[str, Any]:
    """The metadata of `memory` with `by`, a later statement of its value, recorded among
    its sayings (`SAID_AGAIN`): when `by` was said, and by which messages."""
    saying = Saying(said(by)[0], by.source_ids)
    return with_sayings(memory.metadata, [*sayings(memory), saying])


def metadata_time(memory: Memory, key: str) -> datetime | None:
    """The ISO-8601 time `memory`'s metadata holds at `key`, if a valid one (UTC if naive)."""
    return _time(memory.metadata.get(key))


def _time(value: Any) -> datetime | None:
    """`value` read as an ISO-8601 time, if it is a valid one (UTC if naive)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def said(memory: Memory) -> tuple[datetime, datetime]:
    """When `memory` was said (its latest source message, or the hand edit that set its
    value, if later), then when it began to hold: the order in which the user's word wins,
    the latest last."""
    moments = (memory.recorded_at, last_said_at(memory), edited_at(memory))
    return max(moment for moment in moments if moment is not None), began(memory)


def same_day_start(memory: Memory, earlier: Iterable[Memory]) -> datetime | None:
    """When `memory`, a value of its slot said on the day it is grounded to ("I moved to
    Faro today", `event_granularity` "day"), began, if a value said before it that day
    (among `earlier`) is grounded to that day too ("I moved to Lisbon today", said that
    morning; its start that day's, or moved so to when it was said): when it was said.
    Else both would begin at that day's start, and the one said first never hold, though
    the user said it held. None if no such value was said first: `memory` begins when it
    says it did (a move "yesterday", said a week after another, still begins yesterday)."""
    start = memory.valid_from
    if start is None or memory.metadata.get("event_granularity") != "day":
        return None
    at = said(memory)[0]
    if not start < at < start + timedelta(days=1):
        return None
    first = any(
        other.id != memory.id
        and other.metadata.get("event_granularity") == "day"
        and start <= began(other) < start + timedelta(days=1)
        and start <= said(other)[0] < at
        for other in earlier
    )
    return at if first else None


def slot_value(memory: Memory) -> str:
    """The value `memory` gives its slot (`metadata["value"]`, else its text), folded."""
    value = memory.metadata.get("value")
    return fold(str(value)) if value is not None else fold(memory.text)


class End(NamedTuple):
    """A value of a slot that ends sooner than it says (`ends`)."""

    memory: Memory
    """The value, as it was."""
    at: datetime
    """Its new end: where `successor` begins, or where it began itself if `successor` began
    first (it never held)."""
    successor: Memory
    """The value said after it whose span begins before its own ends."""


def ends(values: Iterable[Memory]) -> list[End]:
    """The values of one slot (one owner, attribute and subject) that end sooner so that
    "as of" any time one of them held: the user's latest word wins over its span.

    Each value ends where the first value said after it (`said`) begins, if that one begins
    before it ends, held itself (its span, so fitted, is not empty) and had not ended
    before it began (a past value corrected by hand since); if that one began
    first, the value never held (it ends where it began). So a value learned late among
    values said after it ("Berlin" from an old chat, replayed once "Lisbon" then "Oslo" were
    learned) ends where the next began, and values said before a value end where it begins,
    whenever it was learned. A value said again ends where the later statement of it
    begins if it is retired, or another value ends it (a past stretch of the value); two
    current memories of one value are duplicates (consolidation merges them), neither
    ending the other. Of values said at one moment, the one learned later (its id, time
    ordered, the greater) counts as said later. A value that never held ends nothing.

    Args:
        values: The memories of the slot, current and retired, each once.

    Returns:
        The values that end sooner, each with its new end and the value ending it.
    """
    fitted: list[tuple[Memory, datetime | None]] = []  # said later first, with their ends
    found: list[End] = []
    for memory in sorted(values, key=lambda value: (said(value), value.id), reverse=True):
        end = memory.valid_to
        if end is None or began(memory) < end:
            later_values = [
                later
                for later, later_end in fitted  # said later, or learned later at one moment
                if (later_end is None or began(later) < later_end)
                and (end is None or began(later) < end)
                and (later_end is None or began(memory) < later_end)  # both held at once
            ]
            # A current value that another value ends is a past stretch of its value too.
            retired = not memory.is_current or any(
                slot_value(later) != slot_value(memory) for later in later_values
            )
            successor = min(
                (
                    later
                    for later in later_values
                    if retired or slot_value(later) != slot_value(memory)
                ),
                key=lambda later: (began(later), later.id),
                default=None,
            )
            if successor is not None:
                end = max(began(memory), began(successor))
                found.append(End(memory, end, successor))
        fitted.append((memory, end))
    return found


def cut(memory: Memory, by: Memory, *, new_id: str) -> tuple[Memory, Memory] | None:
    """`memory` cut in two stretches where `by`, another value of its slot, was said
    between two of its sayings (the first, `recorded_at`, and `sayings`) and held over its
    span before the next one: the stretch said up to `by` (same id, its later sayings
    after `by` taken out, and their provenance) and the stretch said after it, a new
    memory (`new_id`, same text, holding from its first saying on, as `memory` held to;
    those sayings and their provenance its own). None if `by` falls in no such gap.

    So the user's latest word wins over each stretch: "Berlin" on day 0 and day 2,
    "Lisbon" said on day 1 (learned last), is Berlin from day 0, Lisbon from day 1 and
    Berlin from day 2, whatever order the three were learned in. Ending the first stretch
    is left to the caller (`revision`), which audits it.
    """
    at = said(by)[0]
    later = [saying for saying in sayings(memory) if saying.at > at]
    if not later or at < memory.recorded_at or by.id == memory.id:
        return None
    start = later[0].at
    if memory.valid_to is not None and memory.valid_to <= start:
        return None  # it no longer held when said again: no second stretch to cut
    holds = by.valid_to is None or began(by) < by.valid_to
    overlaps = began(by) < start and (by.valid_to is None or began(memory) < by.valid_to)
    if not (holds and overlaps):
        return None
    earlier = [saying for saying in sayings(memory) if saying.at <= at]
    moved = tuple(dict.fromkeys(source for saying in later for source in saying.source_ids))
    edited = edited_at(memory)
    metadata = dict(memory.metadata)
    if edited is not None and edited > at:  # the edit set the value of the later stretch
        metadata.pop(EDITED_AT)
    first = replace(
        memory,
        source_ids=tuple(s for s in memory.source_ids if s not in moved) or memory.source_ids,
        metadata=with_sayings(metadata, earlier),
    )
    second = replace(
        memory,
        id=new_id,
        source_ids=moved or memory.source_ids,
        metadata=with_sayings(with_said_at(memory.metadata, start), later[1:]),
        valid_from=start,
        recorded_at=start,
        created_at=start,
        updated_at=start,
    )
    return first, second


def to_come(memory: Memory, moment: datetime) -> bool:
    """Whether `memory` is a slot value to come (a plan's: "I start at Google next month",
    employer Google from then) that has not begun at `moment`: no answer yet for its slot."""
    return (
        memory.attribute is not None
        and bool(memory.metadata.get("plan"))
        and memory.valid_from is not None
        and memory.valid_from > moment
    )
