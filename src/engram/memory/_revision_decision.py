"""What one revision decision writes (`Decision`), and its builders, one per action.

`added` stores the new memory. `duplicate` (a `noop`) appends its provenance to the memory
that already says it, and for a slot value said anew, the saying (`timeline.SAID_AGAIN`);
a pin or a higher importance the new one carries is kept on it.
`refine` (an `update`) rewrites the old memory in place with the more precise text; its
history keeps the old text. `supersede` adds the new memory and retires the old ones
(`retired`: `valid_to`, `superseded_at`, `superseded_by`), or files the new one as history if
it was said before them (`filed_as_history`). Each change is audited (`history_entry`).
Nothing is deleted, so "as of" queries still find a retired memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from engram.memory.candidates import ENGRAM_METADATA_KEYS
from engram.memory.timeline import (
    first_saying,
    said,
    said_again,
    sayings,
    to_come,
    with_said_at,
    with_sayings,
)
from engram.types._memory import Memory, MemoryChange

__all__ = [
    "Decision",
    "RevisionAction",
    "added",
    "duplicate",
    "earliest",
    "filed_as_history",
    "history_entry",
    "refine",
    "reopened",
    "retire",
    "retired",
    "supersede",
    "union",
]

RevisionAction = Literal["add", "noop", "update", "supersede"]


@dataclass(frozen=True, slots=True)
class Decision:
    """What to write for one new memory. Pure: the caller persists it."""

    action: RevisionAction
    memory: Memory
    """The memory that now holds the information: the new one (add, supersede) or the
    existing one it was folded into (noop, update), after the change."""
    inserts: tuple[Memory, ...] = ()
    """Memories to insert."""
    updates: tuple[Memory, ...] = ()
    """Existing memories to rewrite (same id)."""
    changes: tuple[MemoryChange, ...] = ()
    """Audit entries to append."""
    target: Memory | None = None
    """The existing memory involved, as it was before the decision."""
    reason: str = ""
    ambiguous_with: Memory | None = None
    """For an `add` in the grey zone: the memory an LLM should compare it with."""
    stretches: tuple[tuple[str, str], ...] = ()
    """Memories the new one cut in two (`timeline.cut`): each one's id, and the id of its
    later stretch (among `inserts`), which states what it stated (its relations too)."""


def union(first: Iterable[str], second: Iterable[str]) -> tuple[str, ...]:
    """The ids of both, each once, in order (provenance merged)."""
    return tuple(dict.fromkeys((*first, *second)))


def earliest(first: datetime | None, second: datetime | None) -> datetime | None:
    """The earlier of two optional times (None: unknown, so the other)."""
    if first is None or second is None:
        return first or second
    return min(first, second)


def history_entry(
    memory: Memory, action: Any, now: datetime, reason: str, **fields: Any
) -> MemoryChange:
    return MemoryChange(
        memory_id=memory.id, action=action, reason=reason, tenant=memory.tenant, at=now, **fields
    )


def added(new: Memory, now: datetime, reason: str, related: Memory | None = None) -> Decision:
    change = history_entry(
        new,
        "add",
        now,
        reason,
        new_text=new.text,
        source_ids=new.source_ids,
        related_id=related.id if related else None,
    )
    return Decision("add", new, inserts=(new,), changes=(change,), target=related, reason=reason)


def _said_anew(new: Memory, old: Memory) -> bool:
    """Whether `new` restates `old` (a slot value, or a plain fact: "I'm training for a
    marathon" again, not idle since January) in a message it does not hold yet (a message
    ingested again says nothing anew), at another time than it was first said: a saying
    `_sayings_with` records."""
    return not set(new.source_ids) <= set(old.source_ids) and said(new)[0] != old.recorded_at


def _sayings_with(new: Memory, old: Memory, metadata: Mapping[str, Any]) -> Memory:
    """`old` (with `metadata`) recording `new`, said anew (`_said_anew`), among the sayings
    of its value (`timeline.SAID_AGAIN`): a later saying, the user's latest word on the slot
    if the last; or, said before it was first said (an older chat replayed), its first
    saying, so recorded then, the first one a later saying."""
    at = said(new)[0]
    if at > old.recorded_at:
        return replace(old, metadata=said_again(replace(old, metadata=metadata), new))
    restated = with_sayings(metadata, [*sayings(old), first_saying(old)])
    return replace(old, metadata=with_said_at(restated, at), recorded_at=at)


def duplicate(new: Memory, old: Memory, now: datetime, reason: str) -> Decision:
    """No-op: `old` already says it; append the new provenance (if any is new), and for a
    slot value said anew, when and by which messages (`_sayings_with`). What `new` asks
    more of it is kept (`_raised`): its pin, a higher importance."""
    sources = union(old.source_ids, new.source_ids)
    valid_from = earliest(old.valid_from, new.valid_from)
    adopt_slot = old.attribute is None and new.attribute is not None
    given = _callers_news(new, old)
    raised = _raised(new, old, given)
    stated_more = sources != old.source_ids or valid_from != old.valid_from or adopt_slot
    if not stated_more and not raised:
        return Decision("noop", old, target=old, reason=reason)
    metadata = {**new.metadata, **old.metadata} if adopt_slot else old.metadata
    metadata = {**metadata, **given}
    stated = replace(old, metadata=metadata)
    if _said_anew(new, old):
        stated = _sayings_with(new, old, metadata)
    kept = replace(
        stated,
        source_ids=sources,
        valid_from=valid_from,
        updated_at=now,
        entity_ids=union(old.entity_ids, new.entity_ids),
        attribute=old.attribute or new.attribute,
        pinned=old.pinned or new.pinned,
        importance=max(old.importance, new.importance),
    )
    done = (*raised, "provenance appended") if stated_more else raised
    change = history_entry(
        old,
        "update",
        now,
        "; ".join((reason, *done)),
        old_text=old.text,
        new_text=old.text,
        source_ids=new.source_ids,
        related_id=new.id,
    )
    return Decision("noop", kept, updates=(kept,), changes=(change,), target=old, reason=reason)


def _callers_news(new: Memory, old: Memory) -> dict[str, Any]:
    """The caller's metadata (keys not Engram's own, `ENGRAM_METADATA_KEYS`) that `new`
    gives and `old` lacks or holds otherwise: the later add's word wins, as an update's
    would ("source": "crm", then added again with "source": "import", "batch": 7)."""
    held = old.metadata
    return {
        key: value
        for key, value in new.metadata.items()
        if key not in ENGRAM_METADATA_KEYS and (key not in held or held[key] != value)
    }


def _raised(new: Memory, old: Memory, given: Mapping[str, Any]) -> tuple[str, ...]:
    """What a duplicate asks more of the memory it repeats, as its audit says it: a pin
    ("pinned"), a higher importance ("importance 0.5 -> 0.9"), the caller's metadata
    `given` ("metadata batch, source"). Else a `forget` would erase the memory a caller
    pinned by adding it again, and an add's metadata would be lost without a word."""
    raised: list[str] = []
    if new.pinned and not old.pinned:
        raised.append("pinned")
    if new.importance > old.importance:
        raised.append(f"importance {old.importance:g} -> {new.importance:g}")
    if given:
        raised.append("metadata " + ", ".join(sorted(given)))
    return tuple(raised)


def refine(new: Memory, old: Memory, now: datetime, reason: str) -> Decision:
    """Update: rewrite `old` in place with the more precise text of `new`; a slot value
    refined later than it was first said is said again then ("Lisbon", then "Lisbon,
    Portugal": `timeline.said_again`)."""
    metadata = {**old.metadata, **new.metadata}
    if _said_anew(new, old) and said(new)[0] > old.recorded_at:
        metadata = said_again(replace(old, metadata=metadata), new)
    kept = replace(
        old,
        text=new.text,
        attribute=new.attribute or old.attribute,
        metadata=metadata,
        importance=max(old.importance, new.importance),
        source_ids=union(old.source_ids, new.source_ids),
        entity_ids=union(old.entity_ids, new.entity_ids),
        valid_from=old.valid_from or new.valid_from,
        updated_at=now,
    )
    change = history_entry(
        old,
        "update",
        now,
        reason,
        old_text=old.text,
        new_text=new.text,
        source_ids=new.source_ids,
        related_id=new.id,
    )
    return Decision("update", kept, updates=(kept,), changes=(change,), target=old, reason=reason)


def _retired_at(memory: Memory, now: datetime) -> datetime:
    """When `memory` is retired by a change recorded at `now`: then, but never before it was
    recorded itself (a replay may record an older statement after a newer one)."""
    return max(now, memory.recorded_at)


def retired(memory: Memory, *, end: datetime, now: datetime, by: str | None = None) -> Memory:
    """`memory` retired by a change recorded at `now` (superseded by `by`, if a memory): true
    until `end`, but never ending before it began (a value corrected from its start never
    held) nor after the end a value to come gave it (`retire`), and retired no earlier than
    it was recorded."""
    if memory.valid_from is not None and end < memory.valid_from:
        end = memory.valid_from
    if memory.superseded_at is None and memory.valid_to is not None and memory.valid_to < end:
        end = memory.valid_to
    at = _retired_at(memory, now)
    return replace(memory, valid_to=end, superseded_at=at, superseded_by=by, updated_at=at)


def reopened(memory: Memory) -> Memory:
    """`memory` true and current again: its end and retirement given back (what retired or
    ended it no longer counts: erased, or a value to come called off)."""
    return replace(memory, valid_to=None, superseded_at=None, superseded_by=None)


def retire(old: Memory, new: Memory, now: datetime, reason: str) -> tuple[Memory, MemoryChange]:
    """`old` retired by `new`, audited. A value to come (`to_come`) retires nothing yet:
    `old` stays current knowledge, true until `new` begins (its `valid_to`), as a stay said
    to end does; what holds at a moment is read from the validity. But an `old` that would
    so never hold (another value to come, said to begin no later: "I'm joining Meta next
    month instead") is called off: retired."""
    retired_old = retired(old, end=new.valid_from or now, now=now, by=new.id)
    never_holds = old.valid_from is not None and retired_old.valid_to == old.valid_from
    if to_come(new, now) and not never_holds:
        retired_old = replace(retired_old, superseded_at=None)
    change = history_entry(
        old,
        "supersede",
        now,
        f"contradicted by {new.id}: {reason}",
        old_text=old.text,
        new_text=new.text,
        related_id=new.id,
        source_ids=new.source_ids,
    )
    return retired_old, change


def filed_as_history(new: Memory, newest: Memory, now: datetime, reason: str) -> Decision:
    """Add `new`, an older value learned after the current one `newest`, as history: true
    from its start until `newest` began (never before its own start: if `newest` began
    first, it never held), retired when `newest` was said (`said`: its hand edit, if one
    set it later; or now, if a replay recorded that one later)."""
    end = newest.valid_from
    if end is not None and new.valid_from is not None:
        end = max(end, new.valid_from)
    past = replace(
        new,
        valid_to=end,
        superseded_at=max(now, said(newest)[0]),
        superseded_by=newest.id,
    )
    return added(past, now, reason, newest)


def supersede(new: Memory, olds: Sequence[Memory], now: datetime, reason: str) -> Decision:
    """Contradiction: add `new`, retire `olds` (or file `new` as history if it is older).

    Which value is current goes by when each was said, then by when each began: the user's
    latest word wins. "I moved to Lisbon last month" said after "I live in Porto" makes Lisbon
    current even though it began before Porto was mentioned (Porto's validity is then empty);
    only an older message, replayed after the current value was learned, is history.
    """
    newest = max(olds, key=said)
    if said(new) < said(newest):
        return filed_as_history(new, newest, now, f"{reason}; older than the current value")
    retired: list[Memory] = []
    changes: list[MemoryChange] = []
    for old in olds:
        memory, change = retire(old, new, now, reason)
        retired.append(memory)
        changes.append(change)
    added = history_entry(
        new, "add", now, reason, new_text=new.text, source_ids=new.source_ids, related_id=newest.id
    )
    return Decision(
        "supersede",
        new,
        inserts=(new,),
        updates=tuple(retired),
        changes=(added, *changes),
        target=newest,
        reason=reason,
    )
