"""A slot's past: the value held before another, what an ending ended, endings said over since.

"Where did I work before Zalando?" and "Where did I do my PhD?" (once graduated) ask a retired
value, which a search of current memories would leave out; "The user broke up with Tom"
answers "What's my boyfriend's name?" only while it is the user's latest word on it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime

from engram.memory.candidates import NO_VALUE
from engram.memory.entities import fold
from engram.memory.queries import aware
from engram.memory.ranking.features import MemoryFeatures, about_query
from engram.memory.ranking.slots import fills_slot
from engram.memory.ranking.staleness import current_at
from engram.memory.timeline import metadata_time
from engram.types._memory import Memory

__all__ = ["ended_slots", "ended_values", "held_before", "superseded_endings"]


def _value(memory: Memory) -> str:
    """A slot fact's value, folded ("" for none given; `NO_VALUE` for an ending)."""
    value = memory.metadata.get("value")
    return fold(value) if isinstance(value, str) else ""


def _said(memory: Memory) -> datetime:
    """When a memory was said (`metadata["said_at"]`), else recorded."""
    return metadata_time(memory, "said_at") or aware(memory.recorded_at)


def _started(memory: Memory) -> datetime:
    return aware(memory.valid_from or memory.recorded_at)


def superseded_endings(
    memories: Mapping[str, Memory],
    features: Mapping[str, MemoryFeatures],
    terms: Collection[str],
) -> set[str]:
    """The endings holding an asked slot ("The user broke up with Tom" for "What's my
    boyfriend's name?") after which the user said more of what the question asks: a value
    of the slot, or a turn sharing a word with it ("his name is Jonas", "he's my boyfriend
    now") that no slot fact was read from. An ending holds no value: the slot boost puts a
    value first, and the ending takes it only while it is the user's latest word on the
    question (then "no boyfriend now" is the answer). It still answers "Did I break up with
    Tom?" by its words."""
    endings = [
        memory
        for memory_id, memory in memories.items()
        if features[memory_id].slot and _value(memory) == NO_VALUE
    ]
    if not endings or not terms:
        return set()
    later = [
        (memory, features[memory_id])
        for memory_id, memory in memories.items()
        if features[memory_id].current >= 1
        and not features[memory_id].filler
        and memory.metadata.get("role") != "assistant"
        and memory.metadata.get("subject") is None
    ]
    return {
        ending.id
        for ending in endings
        if any(
            _said(memory) > _said(ending)
            and (
                (feature.slot and _value(memory) not in ("", NO_VALUE))
                or about_query(memory, 0.0, (), terms)
            )
            for memory, feature in later
        )
    }


def held_before(
    memories: Mapping[str, Memory],
    slots: Collection[str],
    named: str,
    now: datetime | None,
    until: datetime | None = None,
) -> tuple[set[str], set[str]]:
    """For a question about what held before (`queries.past_asked`): the user's slot facts
    of `slots` (a job's: its employer too) that held just before the value `named` began
    (its words name a value of the slot: "zalando"), or, naming none (""), before the
    current one, or, given `until` (an ending's start), before it in a slot holding no
    current value; and every retired fact of those slots, kept in the results. A slot whose
    values the words name none of, or that held no other value before, gives none."""
    asked = {*slots, "employer"} if "occupation" in slots else set(slots)
    by_slot: dict[str, list[Memory]] = {}
    for memory in memories.values():
        if (
            memory.kind != "episode"
            and memory.metadata.get("subject") is None
            and fills_slot(memory.attribute, asked)
            and _value(memory) not in ("", NO_VALUE)
        ):
            by_slot.setdefault(str(memory.attribute), []).append(memory)
    earlier: set[str] = set()
    past: set[str] = set()
    for held in by_slot.values():
        if named:
            later = [m for m in held if re.search(rf"\b{re.escape(_value(m))}\b", named)]
            if not later:
                continue
        else:
            later = [m for m in held if current_at(m, now)]
            if until is not None and later:
                continue
        start = until or min(map(_started, later), default=None)
        retired = [m for m in held if not current_at(m, now) and m not in later]
        before = [m for m in retired if start is None or _started(m) < start]
        if before:
            latest = max(map(_started, before))
            earlier.update(m.id for m in before if _started(m) == latest)
            past.update(m.id for m in retired)
    return earlier, past


def ended_slots(
    memories: Iterable[Memory], slots: Collection[str], now: datetime | None
) -> list[Memory]:
    """The endings holding one of the user's `slots` at `now` ("The user left Google" for
    "Where do I work?"): a question about the slot asks the value the ending ended."""
    return [
        memory
        for memory in memories
        if memory.kind != "episode"
        and memory.metadata.get("subject") is None
        and fills_slot(memory.attribute, slots)
        and _value(memory) == NO_VALUE
        and current_at(memory, now)
    ]


def ended_values(
    memories: Mapping[str, Memory], endings: Iterable[Memory], now: datetime | None
) -> set[str]:
    """The user's slot facts that the `endings` ended (`ended_slots`): of each, the latest
    real value its slot held before it began (`held_before`)."""
    ended: set[str] = set()
    for ending in endings:
        ended |= held_before(memories, {str(ending.attribute)}, "", now, _started(ending))[0]
    return ended
