"""Slots: the one a memory fills (owner, attribute, subject), and what a new value does to it.

A new value of a single-valued slot retires the current one (`slot_decision`), and a value
that extends it refines it ("Lisbon, Portugal"). A slot *ending* (value `none`, naming the
value it ends in `metadata["negates"]`: "I don't live in Paris anymore") retires only the
current value it names, never another one ("I don't live in Rome anymore" leaves Paris
current); naming none of them, it is a plain fact (`conditional_decision`). An ending said
anew in other words ("I'm unemployed", then "I'm retired") retires the one before, as a new
value would. A change whose slot the words left open (`metadata["guessed"]`: "I switched from
Google to Meta") fills the slot, its own or another among the neighbours, whose current value
it names, and is a plain fact otherwise. A correction naming no old value ("Oops, I meant
Braga", the extractor not knowing the turn before it) corrects the one slot value its session
stated just before (`BARE_CORRECTION_WINDOW`), and is a plain fact otherwise. A partner said
again with a role further on ("My girlfriend is Ana", then "Ana and I got married")
supersedes the old role. A value that ended before it was said is history, retiring no
current value (`past_value`). A retired slot value also retires the current memories that
held only while it did (`tied_to`: "I love living in Porto" once the user moved).
A value to come (a plan's: "I start at Google next month") leaves the value it ends the
slot's until it begins (`ended_by_plans`); called off before then, in words ("The Google
job fell through": `plan_called_off`), by the value it ends said again, or by another value,
it never holds, and the value it ended is given back its end (`with_plans_called_off`).

`settle_slots` leaves one current value per slot among records from elsewhere (an import).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from engram.memory._revision_decision import (
    Decision,
    added,
    duplicate,
    filed_as_history,
    history_entry,
    refine,
    reopened,
    retire,
    retired,
    supersede,
)
from engram.memory._revision_words import extends, key_terms, says_past, stage
from engram.memory.candidates import NO_VALUE, TIED_TO
from engram.memory.entities import fold
from engram.memory.texts import SESSION_KEY
from engram.memory.timeline import began, said, slot_value, to_come
from engram.types._memory import Memory, MemoryChange

__all__ = [
    "BARE_CORRECTION_WINDOW",
    "SlotKey",
    "by_slot",
    "calls_off",
    "conditional_decision",
    "ended_before_said",
    "ended_by_plans",
    "holds",
    "is_bare_correction",
    "is_conditional",
    "naming_the_corrected",
    "past_value",
    "plain_fact",
    "plan_called_off",
    "same_owner",
    "settle_slots",
    "slot_decision",
    "slot_key",
    "subject_of",
    "tied_to",
    "with_plans_called_off",
    "with_tied_retired",
]


def subject_of(memory: Memory) -> str | None:
    """Whom `memory` is about, folded (None: its owner)."""
    subject = memory.metadata.get("subject")
    return fold(subject) if isinstance(subject, str) else None


SlotKey = tuple[str | None, str | None, str, str | None]
"""A slot: its owner (user, else agent), attribute and subject (None: the owner)."""


def slot_key(memory: Memory) -> SlotKey | None:
    """The slot `memory` fills, current or retired, if one: its owner (its user, else its
    agent, as `revision._comparable` owns), attribute and subject."""
    if memory.attribute is None:
        return None
    agent = memory.agent_id if memory.user_id is None else None
    return memory.user_id, agent, memory.attribute, subject_of(memory)


def by_slot(
    memories: Iterable[Memory], key: Callable[[Memory], SlotKey | None] = slot_key
) -> dict[SlotKey, list[Memory]]:
    """`memories` grouped by the slot `key` says each fills (default: `slot_key`, current
    or retired), in their order; those of no slot are left out."""
    slots: dict[SlotKey, list[Memory]] = {}
    for memory in memories:
        if (slot := key(memory)) is not None:
            slots.setdefault(slot, []).append(memory)
    return slots


def _slot_of(memory: Memory) -> SlotKey | None:
    """The slot a current memory holds, if one."""
    if memory.valid_to is not None or memory.superseded_at:
        return None
    return slot_key(memory)


def same_owner(new: Memory, old: Memory) -> bool:
    """The same user (whatever agent or session stored them), or without a user, one agent."""
    same_user = (old.tenant, old.user_id) == (new.tenant, new.user_id)
    return same_user and (new.user_id is not None or old.agent_id == new.agent_id)


def holds(memory: Memory, value: str) -> bool:
    """Whether `memory`'s slot value is `value` ("Google" holds "Google Inc", and back)."""
    held = slot_value(memory)
    if held == NO_VALUE:
        return False
    if held == fold(value):
        return True
    wanted, have = key_terms(value), key_terms(held)
    return bool(wanted and have) and (wanted <= have or have <= wanted)


def tied_to(memory: Memory, holder: Memory) -> bool:
    """Whether `memory` holds only while the slot value `holder` does ("The user loves
    living in Porto" while the home is Porto: `tied_to`, `tied_value`)."""
    tied_value = memory.metadata.get("tied_value")
    return (
        memory.metadata.get(TIED_TO) == holder.attribute
        and isinstance(tied_value, str)
        and subject_of(memory) == subject_of(holder)
        and holds(holder, tied_value)
    )


def settle_slots(
    memories: Iterable[Memory], *, now: datetime, reason: str
) -> tuple[list[Memory], list[MemoryChange]]:
    """One current value per slot, where records from elsewhere (an import) put several
    current memories in one: the latest said stays, those of other values are retired by it
    as a contradiction retires them (`supersede`), and so are the memories that held only
    while a retired value did ("loves living in Tokyo"). Those of its value are duplicates,
    not contradictions: they stay (`consolidate` merges them).

    Returns:
        The memories retired, and their `supersede` history entries.
    """
    given = list(memories)
    replaced: list[tuple[Memory, Memory]] = []  # (retired value, the value retiring it)
    for holders in by_slot(given, _slot_of).values():
        newest = max(holders, key=lambda memory: (said(memory), memory.id))
        value = slot_value(newest)
        replaced += [(old, newest) for old in holders if slot_value(old) != value]
    retiring = {old.id for old, _ in replaced}
    for memory in given:
        if memory.id not in retiring and memory.valid_to is None and not memory.superseded_at:
            tied = next((pair for pair in replaced if tied_to(memory, pair[0])), None)
            if tied is not None:
                replaced.append((memory, tied[1]))
    pairs = [retire(old, newest, now, reason) for old, newest in replaced]
    return [memory for memory, _ in pairs], [change for _, change in pairs]


def with_tied_retired(
    decision: Decision, pool: Sequence[tuple[Memory, float]], now: datetime
) -> Decision:
    """`decision`, retiring as well the current memories that held only while a slot value
    it retires did: "I love living in Porto" once the user moved to Lisbon (retired when the
    home changed, so "as of" before it still finds it)."""
    holders = [m for m in decision.updates if m.superseded_at is not None and m.attribute]
    if not holders:
        return decision
    touched = {m.id for m in decision.updates}
    tied = [
        old
        for old, _cosine in pool
        if old.id not in touched
        and old.id != decision.memory.id
        and old.valid_to is None
        and any(tied_to(old, holder) for holder in holders)
    ]
    if not tied:
        return decision
    new = decision.memory
    updates, changes = list(decision.updates), list(decision.changes)
    for old in tied:
        updates.append(retired(old, end=new.valid_from or now, now=now, by=new.id))
        changes.append(
            history_entry(
                old,
                "supersede",
                now,
                f"held while {old.metadata[TIED_TO]} was {old.metadata['tied_value']}: "
                f"{decision.reason}",
                old_text=old.text,
                new_text=new.text,
                related_id=new.id,
                source_ids=new.source_ids,
            )
        )
    return replace(decision, updates=tuple(updates), changes=tuple(changes))


def is_conditional(new: Memory) -> bool:
    """An ending naming the value it ends ("I left Google") or a guessed change: what it
    does depends on that value being current. ("I quit my job", naming none, ends any.)"""
    guessed = bool(new.metadata.get("guessed"))
    return "negates" in new.metadata and (slot_value(new) == NO_VALUE or guessed)


def is_bare_correction(new: Memory) -> bool:
    return bool(new.metadata.get("corrects")) and "negates" not in new.metadata


def ended_before_said(new: Memory) -> bool:
    """Whether `new` is a value of its slot that ended by when it was said ("I lived in
    Porto from 2019 to 2021", "... until 2019": its stated end,
    `_revision_time.with_stated_end`)."""
    end = new.valid_to
    return (
        new.attribute is not None
        and end is not None
        and end <= said(new)[0]
        and slot_value(new) != NO_VALUE
    )


def past_value(
    new: Memory, pool: Sequence[tuple[Memory, float]], holders: Sequence[Memory], now: datetime
) -> Decision:
    """`new`, a value of its slot that ended before it was said, added as the slot's
    history: true over its span (of unknown start: up to its end, `timeline.began`),
    retiring no current value (a stay that ended is no current value: "I lived in Porto
    from 2019 to 2021" does not say the user left Lisbon), fitted among the slot's retired
    values (`_revision_time.fitted_in_history`). The same span said again (same text, start
    and end) adds its provenance; nothing else absorbs it (an open-ended "used to live in
    Porto" taking its slot would make Porto a current home).

    Over a span where a current value held too, the value said later wins: said after it,
    `new` cuts that one in two (`_revision_time.overlapped_by`, before this); said before
    it (an old chat replayed), `new` ends where that one began."""
    text, span = fold(new.text), (new.valid_from, new.valid_to)
    for old, _cosine in pool:
        if fold(old.text) == text and (old.valid_from, old.valid_to) == span:
            return duplicate(new, old, now, f"same past {new.attribute}")
    newest = max(holders, key=lambda old: (said(old), old.id), default=None)
    reason = f"past {new.attribute}, ended before it was said"
    start = min((began(old) for old in holders if said(new) < said(old)), default=None)
    if start is not None and new.valid_to is not None and start < new.valid_to:
        new = replace(new, valid_to=max(began(new), start))
        reason = f"{reason}; up to when the value said after it began"
    return added(new, now, reason, newest)


def slot_decision(new: Memory, holders: Sequence[Memory], now: datetime) -> Decision:
    value = slot_value(new)
    for old in holders:
        if slot_value(old) == value:
            if new.attribute == "partner" and stage(new) > stage(old) > 0:
                # "My girlfriend is Ana", then "Ana and I got married": Ana is a wife now
                return supersede(new, [old], now, "partner's role changed")
            if value == NO_VALUE and fold(new.text) != fold(old.text):
                # "I'm unemployed", then "I'm retired": the slot is still empty, but the
                # latest word on why is the one true now
                return supersede(new, [old], now, f"{new.attribute} ended anew")
            return duplicate(new, old, now, f"same {new.attribute}")
    for old in holders:
        if extends(value, slot_value(old)):
            return refine(new, old, now, f"{new.attribute} refined")
    newest = max(holders, key=said)
    if _past_beside(new, newest):
        reason = f"new {new.attribute}; the past of the value said with it"
        return filed_as_history(new, newest, now, reason)
    return supersede(new, holders, now, f"new {new.attribute}")


def _past_beside(new: Memory, old: Memory) -> bool:
    """Whether `new`, a value of its slot said with `old` (by a message of both, at one
    moment, beginning alike: "I moved from Paris to Rome", read as two values), is the past
    of the two and `old` current, whatever order the extractor listed them in: an ending
    beside a value ("Sara and I broke up. I'm seeing Mia now"); else the one its text names
    as the past (`says_past`: "Ana lived in Paris", "Ana moved from Paris to Rome" of
    Paris) if the other's does not; else, nothing telling them apart, the one of the value
    first in alphabetical order (folded). (A value said to begin before the other, its
    `when` earlier, is the past already: `supersede` orders by `said`.)"""
    if said(new) != said(old) or not set(new.source_ids) & set(old.source_ids):
        return False
    values = slot_value(new), slot_value(old)
    if NO_VALUE in values:  # an ending and a value (two alike were one: `slot_decision`)
        return values[0] == NO_VALUE
    new_past = says_past(new.text, values[0])
    old_past = says_past(old.text, values[1])
    if new_past != old_past:
        return new_past
    return values[0] < values[1]


def conditional_decision(
    new: Memory, holders: Sequence[Memory], pool: Sequence[tuple[Memory, float]], now: datetime
) -> Decision:
    """Retire the current value `new` names; if none holds it, keep `new` as a plain fact,
    out of the slot: a slot it joined would lose the value it did not name. A guessed change
    filed under a slot is stated as the slot states its values (`restated`); a correction
    ("I meant Lisbon, not Porto": `corrects`) holds from when the value it corrects was said
    to, which so never held (its validity ends where it starts)."""
    negated = str(new.metadata["negates"])
    named = [old for old in holders if holds(old, negated)]
    if not named and new.metadata.get("guessed"):
        other = next(
            (
                old
                for old, _cosine in pool  # best first
                if old.attribute is not None
                and old.valid_to is None
                and subject_of(old) == subject_of(new)
                and holds(old, negated)
            ),
            None,
        )
        if other is not None:
            new, named = replace(new, attribute=other.attribute), [other]
    restated = new.metadata.get("restated") or {}
    if named and new.metadata.get("corrects"):  # the old value never held: the new one did
        starts = [old.valid_from for old in named if old.valid_from is not None]
        new = replace(new, valid_from=min(starts, default=new.valid_from))
    if named:
        how = "ended" if slot_value(new) == NO_VALUE else "replaced"
        filed = replace(
            new,
            text=restated.get(new.attribute, new.text),
            metadata={key: value for key, value in new.metadata.items() if key != "restated"},
        )
        return supersede(filed, named, now, f"{new.attribute} {negated} {how}")
    return plain_fact(new, pool, now, f"names no current {new.attribute}")


def _as_plain(new: Memory) -> Memory:
    """`new` out of its slot: a plain fact, without its value (nor, a call-off, its plan)."""
    dropped = ("value", "restated", "plan")
    metadata = {k: v for k, v in new.metadata.items() if k not in dropped}
    kind = "fact" if new.kind == "profile" else new.kind
    return replace(new, attribute=None, kind=kind, metadata=metadata)


def plain_fact(
    new: Memory, pool: Sequence[tuple[Memory, float]], now: datetime, reason: str
) -> Decision:
    """`new` kept out of its slot, as a plain fact (a duplicate of one with its text)."""
    plain = _as_plain(new)
    for old, _cosine in pool:
        if fold(old.text) == fold(plain.text):
            return duplicate(plain, old, now, "same text")
    return added(plain, now, reason)


BARE_CORRECTION_WINDOW = timedelta(minutes=30)
"""How soon after a slot value a correction naming no old value ("Oops, I meant Braga") must
come, in its session, to correct it: a correction is of what was just said."""


def _session(memory: Memory) -> str | None:
    session = memory.metadata.get(SESSION_KEY)
    return session if isinstance(session, str) else memory.session_id


def naming_the_corrected(new: Memory, pool: Sequence[tuple[Memory, float]]) -> Memory | None:
    """A bare correction ("Oops, I meant Braga", said in a later add than what it corrects)
    naming the value it corrects: the one slot value of its sort (a diet for a diet, else a
    name) its session stated last, within `BARE_CORRECTION_WINDOW` before it; None if there
    is none, or more than one."""
    diet = new.attribute == "diet"
    stated = [
        old
        for old, _cosine in pool
        if old.attribute is not None
        and old.valid_to is None
        and old.kind != "episode"
        and subject_of(old) == subject_of(new)
        and _session(old) == _session(new)
        and (old.attribute == "diet") == diet
        and slot_value(old) != NO_VALUE
        and (diet or str(old.metadata.get("value", ""))[:1].isupper())
        and timedelta(0) <= new.recorded_at - old.recorded_at <= BARE_CORRECTION_WINDOW
    ]
    if not stated:
        return None
    last = max(old.recorded_at for old in stated)
    latest = {(old.attribute, slot_value(old)): old for old in stated if old.recorded_at == last}
    if len(latest) != 1:
        return None
    [old] = latest.values()
    value = str(new.metadata.get("value", ""))
    if slot_value(old) == fold(value):
        return None
    held = str(old.metadata.get("value"))
    text = f"{new.text}, not {held}"
    restated = re.sub(rf"(?<!\w){re.escape(held)}(?!\w)", value, old.text)
    metadata = {
        **new.metadata,
        "negates": held,
        "restated": {old.attribute: restated},
    }
    return replace(new, attribute=old.attribute, text=text, metadata=metadata)


def calls_off(new: Memory) -> bool:
    """Whether `new` calls off a value to come, naming it ("The Google job fell through",
    "I turned down the Google offer": a plan's ending, `plan` and no value)."""
    plan = bool(new.metadata.get("plan"))
    return plan and "negates" in new.metadata and slot_value(new) == NO_VALUE


def _of_plan(old: Memory, new: Memory, now: datetime) -> bool:
    """Whether `old` is a current plan of `new`'s slot naming the value `new` calls off:
    its value to come, or the plan's fact ("The user will start working at Google in July
    2026"), dated to come or undated."""
    negated = str(new.metadata["negates"])
    if not old.metadata.get("plan") or old.superseded_at is not None:
        return False
    if old.attribute is None:
        ahead = old.valid_from is None or old.valid_from > now
        return ahead and key_terms(negated) <= key_terms(old.text)
    same_slot = old.attribute == new.attribute and subject_of(old) == subject_of(new)
    return same_slot and to_come(old, now) and holds(old, negated)


def plan_called_off(new: Memory, pool: Sequence[tuple[Memory, float]], now: datetime) -> Decision:
    """`new` (`calls_off`), a plain fact retiring the plan it names (never held: it ends
    where it was to begin) and its fact; the value the plan ended is given back its end
    after (`with_plans_called_off`). Naming no plan to come, a plain fact."""
    plans = [old for old, _cosine in pool if _of_plan(old, new, now)]
    if not plans:
        return plain_fact(new, pool, now, f"names no {new.attribute} to come")
    reason = f"{new.attribute} {new.metadata['negates']} to come called off"
    return supersede(_as_plain(new), plans, now, reason)


def ended_by_plans(
    holders: Sequence[Memory], pool: Sequence[tuple[Memory, float]], now: datetime
) -> list[Memory]:
    """The values of the slot that a value to come among `holders` ends when it begins: the
    slot's until then, so said again, they call that plan off (`with_plans_called_off`),
    and a value said now retires them from now."""
    plans = {old.id for old in holders if to_come(old, now)}
    return [
        old
        for old, _cosine in pool
        if old.superseded_by in plans and old.superseded_at is None and old.valid_to is not None
    ]


def with_plans_called_off(
    decision: Decision, pool: Sequence[tuple[Memory, float]], now: datetime
) -> Decision:
    """`decision`, calling off the values to come it retires, or whose ended value it says
    again ("I work at Initech" before the Google job begins: retired, never held), with the
    facts of their plans ("The user will start working at Google in July 2026"), and giving
    back their end to the values they ended, unless `decision` ends those itself (another
    value said): the user's latest word is that the plan is off."""
    plans = {old.id: old for old, _cosine in pool if to_come(old, now)}
    written = {memory.id: memory for memory in decision.updates}
    changes = list(decision.changes)
    kept = decision.memory
    plan = plans.get(kept.superseded_by or "")
    if decision.action in ("noop", "update") and plan is not None and kept.superseded_at is None:
        written[plan.id], change = retire(plan, kept, now, f"{kept.attribute} said again")
        changes.append(change)
    off = [plans[key] for key, memory in written.items() if key in plans and memory.superseded_at]
    for old, _cosine in pool:
        if old.id in written or not any(_plan_fact_of(old, value) for value in off):
            continue
        written[old.id], change = retire(old, kept, now, "its value to come was called off")
        changes.append(change)
    ended_by = {value.id for value in off}
    for old, _cosine in pool:
        ended = written.get(old.id, old)
        if ended.superseded_by in ended_by and ended.superseded_at is None:
            written[old.id] = replace(reopened(ended), updated_at=now)
            why = f"the value to come that ended it, {ended.superseded_by}, was called off"
            changes.append(
                history_entry(old, "restore", now, why, new_text=old.text, related_id=kept.id)
            )
    if len(changes) == len(decision.changes):
        return decision
    return replace(
        decision,
        memory=written.get(kept.id, kept),
        updates=tuple(written.values()),
        changes=tuple(changes),
    )


def _plan_fact_of(memory: Memory, value: Memory) -> bool:
    """Whether `memory` is the current fact of the plan that said `value`, a value to come
    (`job_plan`: one message says both)."""
    plan = memory.attribute is None and bool(memory.metadata.get("plan"))
    said_with = bool(set(memory.source_ids) & set(value.source_ids))
    return plan and said_with and memory.superseded_at is None
