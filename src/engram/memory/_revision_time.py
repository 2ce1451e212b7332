"""A slot's values fitted in time, whatever order they are learned in.

A memory whose words state its end (`metadata["valid_to"]`: "I lived in Braga until 2019") is
stored with that end (`with_stated_end`). Each value is fitted in time among the slot's
retired values, the user's latest word winning over its span (`timeline.ends`,
`fitted_in_history`), so "as of" any time one value held: a past span said after the current
value it overlaps cuts it in two (`overlapped_by`); a value said before and after the new one
(said again since it was first said) is cut in two around it first (`timeline.cut`,
`cut_by`), by an ending of it too. An import fits records from elsewhere the same way:
`cut_slots` cuts them, `ended` and `refitted` end each value where `timeline.ends` says. A
value set by hand ends the values said before it where it begins (`ended_by_edit`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import NamedTuple

from engram._ids import new_id
from engram.memory._revision_decision import (
    Decision,
    duplicate,
    filed_as_history,
    history_entry,
    retired,
)
from engram.memory._revision_slots import (
    by_slot,
    ended_before_said,
    holds,
    is_bare_correction,
    is_conditional,
    same_owner,
    slot_key,
    subject_of,
)
from engram.memory.candidates import NO_VALUE
from engram.memory.timeline import (
    End,
    began,
    cut,
    ends,
    said,
    same_day_start,
    sayings,
    slot_value,
)
from engram.types._memory import Memory, MemoryChange

__all__ = [
    "Cuts",
    "Stretches",
    "cut_by",
    "cut_slots",
    "ended",
    "ended_by_edit",
    "fitted_in_history",
    "is_history_of",
    "overlapped_by",
    "refitted",
    "with_stated_end",
    "with_stretches",
]


def with_stated_end(new: Memory) -> Memory:
    """`new` ending when its words say it did (`metadata["valid_to"]`: "I lived in Braga
    until 2019"), if that is after it began."""
    stated = new.metadata.get("valid_to")
    if not isinstance(stated, str) or new.valid_to is not None:
        return new
    try:
        end = datetime.fromisoformat(stated)
    except ValueError:
        return new
    if end.tzinfo is None and new.recorded_at.tzinfo is not None:
        end = end.replace(tzinfo=new.recorded_at.tzinfo)
    if new.valid_from is not None and end <= new.valid_from:
        return new
    return replace(new, valid_to=end)


def is_history_of(old: Memory, new: Memory) -> bool:
    """Whether `old` is a retired or ended value of `new`'s slot ("I lived in Porto from
    2019 to 2021"), among which `fitted_in_history` fits `new` in time."""
    return (
        (old.superseded_at is not None or old.valid_to is not None)
        and old.attribute is not None
        and old.attribute == new.attribute
        and subject_of(old) == subject_of(new)
        and same_owner(new, old)
        and old.id != new.id
        and slot_value(old) != NO_VALUE
    )


def fitted_in_history(
    new: Memory, decision: Decision, past: Sequence[Memory], now: datetime
) -> Decision:
    """`decision` on `new`, fitted in time among the retired values of its slot (`past`) so
    that "as of" any time one value held, whatever order the statements are learned in (old
    chats replayed after the current value was learned, a move said last that began before
    values said earlier):

    - a restatement of the current value said before another value began is history, not
      an earlier start of the current value;
    - a value filed as history, said within the span of the same value, adds provenance to
      that one;
    - else the value the decision writes ends where a value said after it began, and the
      values said before it end where it begins (`timeline.ends`), the new one's end
      written into it, the others' as updates;
    - a value it retires grounded to the same day, said before it that day, holds until
      it was said (`_after_same_day`); a value it files as history is fitted so among the
      values grounded to its day (`_before_same_day`).
    """
    decision = _before_same_day(_after_same_day(decision), past, now)
    if not past:
        return decision
    decision = _restated_as_history(new, decision, past, now)
    filed = decision.memory
    if decision.action == "add" and filed.superseded_at is not None:
        start = began(filed)
        same = next(
            (
                m
                for m in past
                if began(m) <= start
                and (m.valid_to is None or start < m.valid_to)
                and holds(m, slot_value(filed))
            ),
            None,
        )
        if same is not None:
            return duplicate(filed, same, now, f"same {filed.attribute}, said again")
    return _with_ends(decision, past, now)


def _after_same_day(decision: Decision) -> Decision:
    """`decision`, but the value it adds beginning when it was said if a value it retires was
    grounded to the same day and said before it that day (`timeline.same_day_start`), that
    one ending then: "I moved to Lisbon today" at 09:00, "I moved to Faro today" at 18:00
    is Lisbon until 18:00, Faro from then, not Lisbon never."""
    written = decision.memory
    if written.id not in {m.id for m in decision.inserts}:
        return decision
    retired_by = [m for m in decision.updates if m.superseded_by == written.id]
    start = same_day_start(written, retired_by)
    if start is None:
        return decision
    moved = replace(written, valid_from=start)
    updates = tuple(
        replace(m, valid_to=start)
        if m in retired_by and m.valid_to is not None and m.valid_to <= start
        else m
        for m in decision.updates
    )
    inserts = tuple(moved if m.id == written.id else m for m in decision.inserts)
    return replace(decision, memory=moved, inserts=inserts, updates=updates)


def _before_same_day(decision: Decision, past: Sequence[Memory], now: datetime) -> Decision:
    """`decision`, but the value it files as history fitted among the values of its slot
    grounded to the same day, as if told in order (`_after_same_day`): those said after it
    that day (the current value, past ones) begin when they were said, and so does it if
    one was said before it that day (`timeline.same_day_start`). "I moved to Faro today"
    at 18:00, then "I moved to Lisbon today" said at 09:00 replayed, is Lisbon until
    18:00, Faro from then, not Lisbon never."""
    written, current = decision.memory, decision.target
    if written.id not in {m.id for m in decision.inserts} or current is None:
        return decision
    if written.superseded_by != current.id or not current.is_current:
        return decision
    updates = {m.id: m for m in decision.updates}
    changes = list(decision.changes)
    held = written
    for later in (current, *past):
        start = same_day_start(later, [written])
        if start is None or later.id in updates:
            continue
        if later.valid_to is not None and later.valid_to <= start:
            continue  # it never held after it was said
        updates[later.id] = replace(later, valid_from=start, updated_at=now)
        reason = f"began when said, {written.id} said before it that day"
        changes.append(_restarted(later, written, now, reason))
        if later.id == current.id and held.valid_to is not None and held.valid_to <= start:
            held = replace(held, valid_to=start)
    own = same_day_start(held, past)
    if own is not None and (held.valid_to is None or own < held.valid_to):
        held = replace(held, valid_from=own)
    if held == written and len(changes) == len(decision.changes):
        return decision
    return replace(
        decision,
        memory=held,
        inserts=tuple(held if m.id == written.id else m for m in decision.inserts),
        updates=tuple(updates.values()),
        changes=tuple(changes),
    )


def _restarted(memory: Memory, by: Memory, now: datetime, reason: str) -> MemoryChange:
    """The history entry of `memory` beginning later, `by` learned."""
    return history_entry(
        memory,
        "update",
        now,
        reason,
        old_text=memory.text,
        new_text=memory.text,
        related_id=by.id,
        source_ids=by.source_ids,
    )


def _restated_as_history(
    new: Memory, decision: Decision, past: Sequence[Memory], now: datetime
) -> Decision:
    """`decision`, but a restatement of the current value (`noop`) that begins before a
    retired value of the slot began, said before that one was, filed as history: else the
    current value would start before that one, and both hold between. Said after it, the
    restatement is the user's latest word over its span ("Lisbon since day 64", said on
    day 68 after "Berlin" on day 65): folded into the current value, an earlier start and
    its latest saying, it ends the retired one where it begins (`_with_ends`)."""
    target, start = decision.target, new.valid_from
    if decision.action != "noop" or target is None or not target.is_current:
        return decision
    if start is None or target.valid_from is None or start >= target.valid_from:
        return decision
    if not any(start <= began(m) < target.valid_from and said(new) < said(m) for m in past):
        return decision
    reason = f"same {new.attribute}, said before another value held"
    return filed_as_history(new, target, now, reason)


def _with_ends(decision: Decision, past: Sequence[Memory], now: datetime) -> Decision:
    """`decision`, with the value it writes and the retired values of its slot (`past`)
    ending where `timeline.ends` says, as far as the one ends the others or they end it."""
    written = decision.memory
    slot = slot_key(written)
    inserts = {m.id: m for m in decision.inserts}
    updates = {m.id: m for m in decision.updates}
    if slot is None or written.id not in inserts.keys() | updates.keys():
        return decision
    values = {m.id: m for m in (*past, *inserts.values(), *updates.values())}
    slot_values = [m for m in values.values() if slot_key(m) == slot]
    changes = list(decision.changes)
    written = values[written.id]
    for end in ends(slot_values):
        if written.id not in (end.memory.id, end.successor.id) and not _overlap(
            end.memory, written
        ):
            continue  # two values of the slot's past apart from it: not this decision's to fit
        memory, change = ended(end, now=now, why="revised")
        if memory.id in inserts:
            inserts[memory.id] = memory  # its `add` entry says the rest
        else:
            updates[memory.id] = memory
            changes.append(change)
    memory = inserts.get(written.id) or updates[written.id]
    return replace(
        decision,
        memory=memory,
        inserts=tuple(inserts.values()),
        updates=tuple(updates.values()),
        changes=tuple(changes),
    )


def _overlap(memory: Memory, other: Memory) -> bool:
    """Whether `memory` and `other`, as they are, held at some moment both. A past value
    that holds over the written one ends as `timeline.ends` says even where another value
    of the past ends it: its end is what overlaps ("Braga" retired by "Lisbon", which an
    older saying, replayed, starts sooner, ends where a later "Braga 2010-2011" began)."""
    return (memory.valid_to is None or began(other) < memory.valid_to) and (
        other.valid_to is None or began(memory) < other.valid_to
    )


def refitted(
    memories: Iterable[Memory], values: Iterable[Memory], *, now: datetime
) -> dict[str, Memory]:
    """`memories`, fitted in their slots while current and retired since (a hand edit of
    their profile field overrode them), each ended where `timeline.ends` now says among
    the values of its slot (`values`, stored or about to be): retired, a value ends where a
    later statement of it began too (a past stretch of the value), else both would hold.

    Returns:
        Each of `memories` by id, ended sooner or as it was.
    """
    fitted = {memory.id: memory for memory in memories}
    pool = {memory.id: memory for memory in values} | fitted
    slots = {slot_key(memory) for memory in fitted.values()}
    for slot, slot_values in by_slot(pool.values()).items():
        if slot not in slots:
            continue
        for end in ends(slot_values):
            if end.memory.id in fitted:
                fitted[end.memory.id], _change = ended(end, now=now, why="refitted")
    return fitted


def ended_by_edit(
    edited: Memory, values: Iterable[Memory], *, now: datetime
) -> list[tuple[Memory, MemoryChange]]:
    """The values of the slot of `edited` (`values`, current and retired), a value the user
    set by hand (said when edited, `timeline.EDITED_AT`), that held over its span, each ended
    where it begins as `timeline.ends` says, with its history entry: the edit keeps its
    start and says what held over its span, the user's latest word, so a value said before
    it there never held, or held until it began, as one replayed after the edit is fitted:
    "Lisbon" from day 0, the current home, edited to "Porto": a "Lisbon" said on day 1
    never held, one home at a time."""
    others = [value for value in values if value.id != edited.id]
    return [
        ended(end, now=now, why="edited by hand")
        for end in ends([edited, *others])
        if end.successor.id == edited.id
    ]


def ended(end: End, *, now: datetime, why: str) -> tuple[Memory, MemoryChange]:
    """The value of `end` ended where `timeline.ends` says, and its history entry: retired
    by the value ending it if it held on (`retired`; no earlier than that value was
    said: an old statement replayed after it was retired by it once both were
    known), else only ended sooner (`why` says how that value came to be known:
    "revised", "imported")."""
    memory, successor = end.memory, end.successor
    if memory.valid_to is None:
        reason = f"{successor.id} began while it held ({why})"
        change = history_entry(
            memory,
            "supersede",
            now,
            reason,
            old_text=memory.text,
            new_text=successor.text,
            related_id=successor.id,
            source_ids=successor.source_ids,
        )
        at = max(now, said(successor)[0])
        return retired(memory, end=end.at, now=at, by=successor.id), change
    change = history_entry(
        memory,
        "update",
        now,
        f"held until {successor.id} began ({why})",
        old_text=memory.text,
        new_text=memory.text,
        related_id=successor.id,
        source_ids=successor.source_ids,
    )
    return replace(memory, valid_to=end.at, updated_at=now), change


Stretches = tuple[Memory, Memory, tuple[MemoryChange, ...]]
"""A memory cut in two (`cut_by`): its first stretch, retired, its second, and their
history entries."""


def cut_by(new: Memory, similar: Sequence[tuple[Memory, float]], now: datetime) -> Stretches | None:
    """The value of `new`'s slot that `new`, another value, cuts in two (`timeline.cut`):
    said again after `new` was, it held before and holds again after, `new` between. Its
    first stretch is retired by `new`, where `new` began (no earlier than `new` was said);
    its second is a new memory, holding as the value held on: "Berlin" said on day 0 and on
    day 2, "Lisbon" said on day 1 learned last, is Berlin, Lisbon from day 1, Berlin again
    from day 2. A value whose slot a revision may leave (a guessed change, a correction)
    cuts nothing; an ending cuts the value it names (any, if it names none) as a value
    does: "I moved out of Berlin" said on day 1, learned last, is Berlin to day 1, no home
    from day 1 to 2 (the ending, retired by the later saying), Berlin again from day 2."""
    value = with_stated_end(new)
    ending = slot_value(new) == NO_VALUE
    if new.kind == "episode" or new.attribute is None or is_bare_correction(new):
        return None
    if is_conditional(new) and not ending:
        return None
    if ending and (new.metadata.get("guessed") or new.metadata.get("corrects")):
        return None
    named = new.metadata.get("negates") if ending else None  # the value it ends
    for old, _cosine in similar:
        if not (
            old.attribute == new.attribute
            and old.kind != "episode"
            and subject_of(old) == subject_of(new)
            and same_owner(new, old)
            and not holds(old, slot_value(new))
            and not (ending and slot_value(old) == NO_VALUE)
            and (named is None or holds(old, str(named)))
        ):
            continue
        pieces = cut(old, value, new_id=new_id())
        if pieces is None:
            continue
        first, second = pieces
        why = f"{new.id} was said between its sayings"
        return _stretched(old, first, second, value, now, why=why, again="said again")
    return None


def overlapped_by(
    new: Memory, similar: Sequence[tuple[Memory, float]], now: datetime
) -> Stretches | None:
    """The current value of `new`'s slot that `new`, a value that ended before it was said
    ("I lived in Porto from 2019 to 2021", `ended_before_said`), said after it, held over
    part of its span cuts in two, as a value said between two sayings does (`cut_by`):
    the value said later wins over the overlap. Its first stretch is retired by `new`
    where `new` began (it never held if `new` began first); its second is a new memory,
    the same statement, holding from where `new` ended on. So "I moved to Lisbon in 2020",
    then "I lived in Porto from 2019 to 2021", is Porto over 2019-2021 and Lisbon from
    2022, one home at a time. A current value said after `new` (an old chat replayed)
    wins over the overlap instead (`_revision_slots.past_value`)."""
    value = with_stated_end(new)
    if new.kind == "episode" or not ended_before_said(value) or value.valid_to is None:
        return None
    for old, _cosine in similar:
        if not (
            old.attribute == new.attribute
            and old.kind != "episode"
            and old.is_current
            and old.valid_to is None
            and subject_of(old) == subject_of(new)
            and same_owner(new, old)
            and not holds(old, slot_value(new))
            and said(old) < said(value)
            and began(old) < value.valid_to
        ):
            continue
        second = replace(
            old, id=new_id(), valid_from=value.valid_to, created_at=now, updated_at=now
        )
        why = f"{new.id}, said after it, held over its span"
        return _stretched(old, old, second, value, now, why=why, again="held on")
    return None


def _stretched(
    old: Memory, first: Memory, second: Memory, by: Memory, now: datetime, *, why: str, again: str
) -> Stretches:
    """`old` cut in two by `by`, another value of its slot: its first stretch (`first`)
    retired by `by` where `by` began (no earlier than `by` was said), its second (`second`,
    a new memory) added, each audited (`why` it was cut, what it did `again` after `by`)."""
    at = max(now, said(by)[0])
    first = retired(first, end=max(began(first), began(by)), now=at, by=by.id)
    cut_change = history_entry(
        old,
        "supersede",
        now,
        f"{why}; it holds again as {second.id}",
        old_text=old.text,
        new_text=by.text,
        related_id=by.id,
        source_ids=by.source_ids,
    )
    added = history_entry(
        second,
        "add",
        now,
        f"{old.id} {again} after {by.id}",
        new_text=second.text,
        source_ids=second.source_ids,
        related_id=old.id,
    )
    return first, second, (cut_change, added)


class Cuts(NamedTuple):
    """The memories of some slots cut in two where another value was said between their
    sayings (`cut_slots`)."""

    firsts: list[Memory]
    """The first stretches of the memories cut, retired (same ids)."""
    seconds: list[Memory]
    """Their later stretches: new memories."""
    changes: list[MemoryChange]
    """The history entries of the cuts."""
    pairs: list[tuple[str, str]]
    """Each memory cut, by id, and the id of a later stretch cut off it."""


def cut_slots(values: Iterable[Memory], *, now: datetime) -> Cuts:
    """The values of slots (records from elsewhere, an import's and the store's) cut where
    another value was said between two sayings of theirs, as revision cuts one when it
    learns the value between (`cut_by`), until none is: each cut takes a saying off the
    value it cuts, so there are no more cuts than sayings."""
    cuts = Cuts([], [], [], [])
    for slot_values in by_slot(values).values():
        pool = {memory.id: memory for memory in slot_values}
        touched: dict[str, None] = {}
        while any(sayings(memory) for memory in pool.values()):
            neighbours = [(memory, 0.0) for memory in pool.values()]
            found = next(
                (
                    stretches
                    for by in list(pool.values())
                    if (stretches := cut_by(by, neighbours, now)) is not None
                ),
                None,
            )
            if found is None:
                break
            first, second, changes = found
            pool[first.id], pool[second.id] = first, second
            touched |= dict.fromkeys((first.id, second.id))
            cuts.changes.extend(changes)
            cuts.pairs.append((first.id, second.id))
        new = {second for _first, second in cuts.pairs}
        cuts.firsts.extend(pool[i] for i in touched if i not in new)
        cuts.seconds.extend(pool[i] for i in touched if i in new)
    return cuts


def with_stretches(decision: Decision, stretches: Stretches | None) -> Decision:
    """`decision`, writing as well the memory its new one cut in two (`cut_by`): its first
    stretch updated, its second inserted, each as the decision left it."""
    if stretches is None:
        return decision
    first, second, changes = stretches
    updates = {m.id: m for m in decision.updates}
    second = updates.pop(second.id, second)
    first = updates.pop(first.id, first)
    return replace(
        decision,
        inserts=(*decision.inserts, second),
        updates=(first, *updates.values()),
        changes=(*changes, *decision.changes),
        stretches=((first.id, second.id),),
    )
