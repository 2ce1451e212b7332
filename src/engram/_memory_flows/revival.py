"""What a user's erasure gives back (of memories, by `delete`, or of a scope narrower than
a user; forgetting by policy and a `consolidate` merge give nothing back): the memories an
erased one retired, retired again only as what is left retires them (`revived`), their
relations (`relations_revived`), the audit of it (`revival_changes`), and the user's name as
what is left says it (`renamed_back`).

An erased memory's word no longer counts: what Engram knows is what the turns left said.
A memory the erased one retired takes the erased one's own fate: current again if that
was current ("I moved to Faro", erased, gives "I live in Lisbon" back), retired by what
retired it if not (Lisbon, Faro, Porto; Faro erased: Lisbon is Porto's to retire, until
Porto began). A memory something left retired stays as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from engram.memory import fold
from engram.memory._revision_decision import reopened, retired
from engram.memory._revision_slots import by_slot
from engram.memory.profile import profile_value
from engram.memory.timeline import said
from engram.types._memory import Entity, Memory, MemoryChange, Relation

NAME = "name"
"""The slot of the user's name (what the user's entity is named after)."""


def revived(erased: Mapping[str, Memory], left: Sequence[Memory], at: datetime) -> list[Memory]:
    """The memories of `left` an `erased` one (by id) retired, each with the retirement of
    the last erased memory down its chain of retirers: none (current again: its end and
    retirement cleared), or that of the memory left that retired it (`_revision_decision.retired`:
    true until that one began, retired when it was learned); updated `at`."""
    by_id = {memory.id: memory for memory in left}
    found = []
    for memory in left:
        chain = retirers(erased, memory)
        if not chain:
            continue
        last = erased[chain[-1]]
        if last.superseded_at is None:
            back = reopened(memory)
        else:
            by = by_id.get(last.superseded_by or "")
            end = by.valid_from if by is not None and by.valid_from else last.valid_to
            now = last.superseded_at
            back = retired(memory, end=end or now, now=now, by=last.superseded_by)
        found.append(replace(back, updated_at=max(at, memory.updated_at)))
    return _one_current_per_slot(found)


def _one_current_per_slot(found: list[Memory]) -> list[Memory]:
    """`found`, the values of a slot made current again all retired by the latest said
    (`timeline.said`) but it: an erased value had retired both the one before it and an
    older one learned after it (a replay), of which the replay is the user's latest word."""
    ended: dict[str, Memory] = {}
    for values in by_slot(memory for memory in found if memory.is_current).values():
        last = max(values, key=said)
        end = last.valid_from or last.recorded_at
        for memory in values:
            if memory is not last:
                gone = retired(memory, end=end, now=said(last)[0], by=last.id)
                ended[memory.id] = replace(gone, updated_at=memory.updated_at)
    return [ended.get(memory.id, memory) for memory in found]


def retirers(erased: Mapping[str, Memory], memory: Memory) -> list[str]:
    """The ids of the `erased` memories down the chain of retirers of `memory` (the one
    that retired it, the one that retired that, ...), up to the first not erased."""
    chain: list[str] = []
    by = memory.superseded_by
    while by is not None and by in erased and by not in chain and by != memory.id:
        chain.append(by)
        by = erased[by].superseded_by
    return chain


def revival_changes(
    revived: Iterable[Memory], left: Sequence[Memory], at: datetime
) -> tuple[MemoryChange, ...]:
    """The audit entries of the `revived` memories: a `restore` of those current again, a
    `supersede` by what retires them now of the others (no erased memory's text in either)."""
    texts = {memory.id: memory.text for memory in left}
    return tuple(
        MemoryChange(
            memory.id,
            "restore",
            new_text=memory.text,
            reason="the memory that retired it was erased",
            tenant=memory.tenant,
            at=at,
        )
        if memory.superseded_at is None
        else MemoryChange(
            memory.id,
            "supersede",
            old_text=memory.text,
            new_text=texts.get(memory.superseded_by or ""),
            reason=f"retired by {memory.superseded_by}: the memory that retired it was erased",
            related_id=memory.superseded_by,
            tenant=memory.tenant,
            at=at,
        )
        for memory in revived
    )


def relations_revived(
    relations: Iterable[Relation], before: Mapping[str, Memory], revived: Iterable[Memory]
) -> list[Relation]:
    """The relations the `revived` memories state that ended with their retirement (when
    `before`, by id, says they ended), ending as the memories do now (None: open again)."""
    now = {memory.id: memory for memory in revived}
    return [
        replace(relation, valid_to=now[relation.memory_id].valid_to)
        for relation in relations
        if relation.memory_id in now
        and relation.valid_to is not None
        and relation.valid_to == before[relation.memory_id].valid_to
    ]


def renamed_back(
    me: Entity, erased: Iterable[Memory], left: Iterable[Memory], now: datetime
) -> Entity | None:
    """The user's entity `me` named as the memories `left` name the user (their current
    name, the latest said, else its name if no erased memory alone gave it, else the user's
    id), with no name
    only `erased` memories gave among its aliases; None if no erased memory named the user,
    or none alone.

    `left` are the user's memories as the erasure leaves them (`revived` ones included)."""
    kept = [memory for memory in left if _names_user(memory)]
    stated = {fold(profile_value(memory)) for memory in kept}
    gone = {fold(profile_value(m)) for m in erased if _names_user(m)} - stated
    if not gone:
        return None
    current = [memory for memory in kept if memory.is_current]
    if current:
        name = profile_value(max(current, key=said))
    else:
        name = me.name if fold(me.name) not in gone else (me.user_id or me.name)
    names = [me.name, *me.aliases]
    aliases = {
        fold(alias): alias
        for alias in names
        if fold(alias) not in gone and fold(alias) not in {fold(name), fold(me.user_id or "")}
    }
    if (name, tuple(aliases.values())) == (me.name, me.aliases):
        return None
    return replace(me, name=name, aliases=tuple(aliases.values()), updated_at=now)


def _names_user(memory: Memory) -> bool:
    """Whether `memory` states the user's name (the name slot, about the user)."""
    return (
        memory.attribute == NAME
        and memory.user_id is not None
        and memory.metadata.get("subject") is None
        and memory.kind != "episode"
    )
