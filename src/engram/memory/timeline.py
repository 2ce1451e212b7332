"""A slot's timeline: the validity spans of the values one slot (the user's home, say) held,
fitted so that "as of" any time one value held, whatever order the statements came in.

Each statement of a slot value is a memory, true over `[valid_from, valid_to)` (no start:
from when it was recorded, as "as of" reads it; no end: still). The statements of a slot
reach the store in any order: an old chat replayed after the current value was learned, a
move said to have begun before the value said last ("I moved to Lisbon in March"), two
databases that each learned part of the user's history merged by an import. Both ways in,
revision (`revision.decide`) and import (`_memory_transfer`), fit their values with `ends`;
`revision.ended` writes what it finds.

When a memory was said is when its latest statement was: a value said again, folded into
the memory of its first saying (a revision `noop`), records when (`LAST_SAID_AT`), so an
old statement of another value replayed after it ("Berlin" on day 0 and day 2, then
"Lisbon" from day 1 replayed) is filed as history, the value said last staying current.
The memory is not split in two spans: it holds from its first saying on, unbroken, so
"as of" the time between (day 1.5) its value holds, not the replayed one (which ends
where it begins, never holding), though the user's word then was the other: the fully
right answer (Berlin day 0-1, Lisbon day 1-2, Berlin from day 2) would take a memory per
stretch of the value. A value the user set by hand
(`Memories.update` of a slot fact's value, `EDITED_AT`) was said when the edit was made, as
a hand edit of the profile is: a statement said before the edit, replayed after it, does
not undo it. Its validity keeps its start: the edit says what held, not since when.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import NamedTuple

from engram.memory.entities import fold
from engram.types._memory import Memory

__all__ = [
    "EDITED_AT",
    "LAST_SAID_AT",
    "End",
    "began",
    "edited_at",
    "ends",
    "last_said_at",
    "metadata_time",
    "said",
    "slot_value",
]

EDITED_AT = "_value_edited_at"
"""Metadata key Engram sets on a slot fact whose value the user edited by hand: when, as an
ISO-8601 time (the last such edit). `said` orders the value by it (`Memory.updated_at`
changes for any rewrite, provenance appended too, so it cannot tell an edit). Exported
and imported with the memory's metadata."""

LAST_SAID_AT = "_last_said_at"
"""Metadata key Engram sets on a slot fact whose value was said again after it was recorded
(a revision `noop` folding the restatement in): when it was last said, as an ISO-8601 time.
`said` orders the value by it (its provenance keeps every saying, but not when). Exported
and imported with the memory's metadata; an import merging two versions of the memory keeps
the later."""


def began(memory: Memory) -> datetime:
    """When `memory` began to hold: from when it was recorded, if its start is unknown (as
    "as of" reads it)."""
    return memory.valid_from or memory.recorded_at


def edited_at(memory: Memory) -> datetime | None:
    """When the user last edited the value of `memory` by hand (`EDITED_AT`), if they did."""
    return metadata_time(memory, EDITED_AT)


def last_said_at(memory: Memory) -> datetime | None:
    """When the value of `memory` was last said again (`LAST_SAID_AT`), if it was."""
    return metadata_time(memory, LAST_SAID_AT)


def metadata_time(memory: Memory, key: str) -> datetime | None:
    """The ISO-8601 time `memory`'s metadata holds at `key`, if a valid one (UTC if naive)."""
    value = memory.metadata.get(key)
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
    ending the other. Values said at one moment are left as they are (no order settles
    which held), and so is a value that never held: it ends nothing.

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
                for later, later_end in fitted
                if said(later) > said(memory)
                and (later_end is None or began(later) < later_end)
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
