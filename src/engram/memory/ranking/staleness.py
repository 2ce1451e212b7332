"""Currency: whether a memory held at a moment or in a period, and which state retired values.

Episodes and preferences are never revised by a slot change, so "I live in Lisbon" would keep
winning after the move to Porto; marked stale, they rank below the current value, still
findable (`RankingWeights.superseded`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from engram.memory.candidates import NO_VALUE
from engram.memory.entities import fold
from engram.memory.queries import Period, aware
from engram.memory.timeline import edited_at, to_come
from engram.types._memory import Memory

__all__ = ["current_at", "held_during", "past_periods", "stale_episodes", "stale_preferences"]


def current_at(memory: Memory, moment: datetime | None) -> bool:
    """Whether `memory` was current at `moment` (None: now, by `Memory.is_current`).

    Current means not yet retired by Engram, not yet ended in the world and, for a slot
    value to come, begun: a memory superseded in June is current for a question asked "as
    of" March; employer Google from July, said in June, is not current in June.
    """
    if moment is None:
        return memory.is_current
    moment = aware(moment)
    retired = memory.superseded_at is not None and aware(memory.superseded_at) <= moment
    ended = memory.valid_to is not None and aware(memory.valid_to) <= moment
    return not (retired or ended or to_come(memory, moment))


def stale_episodes(memories: Iterable[Memory], moment: datetime | None) -> dict[str, float]:
    """The episodes that state values Engram has since retired, each with the share of the
    slot facts its messages produced that are still current (at `moment`): 0 when all are
    retired, 0.5 for "I live in Porto and I'm vegan" once the user moved.

    Episodes are never revised (they are what was said), so "I live in Lisbon" would keep
    winning after "I moved to Porto" superseded the home-city fact it produced. A fact
    retired by what its own messages said counts for neither side (`_retired_by_its_sources`:
    "I broke up with Tiago, I'm dating Rui" ends the partner slot, then fills it: nothing it
    said has changed since). A current fact whose value the user edited to one the turn does
    not name counts as retired (`_edited_away`: "I live in Porto" once its fact was updated to
    "The user lives in Madrid"), as the same change said in a message or made to the profile
    would retire it. A turn of the assistant's produces no slot facts: it is stale
    when it names values of the user's retired after it was said that no current slot holds
    ("Noted: vegetarian, and Tiago." once the user went vegan and left Tiago;
    `_stale_replies`). Only the memories given are considered: a search that wants this must
    fetch retired candidates too.
    """
    items = list(memories)
    by_id = {memory.id: memory for memory in items}
    retired: dict[str, int] = {}
    kept: dict[str, list[Memory]] = {}
    for memory in items:
        if memory.attribute is None:
            continue
        if current_at(memory, moment):
            for source in memory.source_ids:
                kept.setdefault(source, []).append(memory)
        elif not _retired_by_its_sources(memory, by_id):
            for source in memory.source_ids:
                retired[source] = retired.get(source, 0) + 1
    stale: dict[str, float] = {}
    for memory in items:
        if memory.kind != "episode" or not memory.source_ids:
            continue
        holding = [fact for source in memory.source_ids for fact in kept.get(source, ())]
        left = sum(not _edited_away(fact, memory) for fact in holding)
        gone = sum(retired.get(source, 0) for source in memory.source_ids) + len(holding) - left
        if gone:
            stale[memory.id] = left / (left + gone)
    return stale | _stale_replies(items, moment)


def _edited_away(fact: Memory, turn: Memory) -> bool:
    """Whether the user edited the value of `fact`, a slot fact `turn` said, to one the turn
    does not name (`Memories.update`, `timeline.EDITED_AT`): "I live in Porto" once "The user
    lives in Porto" was edited to "... in Madrid", or to "The user no longer lives in Porto".
    The fact is edited in place, so no retired fact marks the turn: the edit says the turn's
    value no longer holds. An edit the turn agrees with (a misread value corrected to the
    one it says) leaves it current."""
    value = fact.metadata.get("value")
    folded = fold(value) if isinstance(value, str) else ""
    if edited_at(fact) is None or not folded:
        return False
    return re.search(rf"\b{re.escape(folded)}\b", fold(turn.text)) is None


def _retired_by_its_sources(memory: Memory, by_id: Mapping[str, Memory]) -> bool:
    """Whether a retired slot fact was retired by what the messages that said it said: its
    successor (`superseded_by`) came from one of its source messages. A successor not among
    the memories given is judged by the fact's own times: it held no time (it ended as it
    began) and was retired as it was recorded, as a fact superseded by another of the same
    message is (a correction filed later is retired later)."""
    if memory.superseded_by is None:
        return False
    successor = by_id.get(memory.superseded_by)
    if successor is not None:
        return not set(successor.source_ids).isdisjoint(memory.source_ids)
    return (
        memory.valid_from is not None
        and memory.valid_to is not None
        and aware(memory.valid_to) <= aware(memory.valid_from)
        and memory.superseded_at is not None
        and aware(memory.superseded_at) <= aware(memory.recorded_at)
    )


def _slot_values(
    items: Sequence[Memory], moment: datetime | None
) -> tuple[dict[str, datetime], set[str]]:
    """The values of the slot facts (preferences aside), folded: each retired one with when
    it last stopped holding (before `moment`), and the ones a current slot holds. An ending
    (`NO_VALUE`) is no value."""
    retired: dict[str, datetime] = {}
    held: set[str] = set()
    for memory in items:
        value = memory.metadata.get("value")
        if memory.attribute is None or memory.kind == "preference" or not isinstance(value, str):
            continue
        folded = fold(value)
        if not folded or folded == NO_VALUE:
            continue
        if current_at(memory, moment):
            held.add(folded)
            continue
        ends = [aware(t) for t in (memory.superseded_at, memory.valid_to) if t is not None]
        if not ends:  # a value to come, not begun: neither held nor retired
            continue
        end = min(ends)
        retired[folded] = max(end, retired.get(folded, end))
    return retired, held


def _naming(values: Iterable[str]) -> re.Pattern[str] | None:
    """A pattern finding any of `values` (folded) as whole words in a folded text."""
    ordered = sorted(set(values))
    if not ordered:
        return None
    return re.compile(r"\b(?:" + "|".join(map(re.escape, ordered)) + r")\b")


def _stale_replies(items: Sequence[Memory], moment: datetime | None) -> dict[str, float]:
    """The assistant's turns that name slot values retired after the turn was said and
    held by no current slot, each with the share of the slot values it names
    that still hold (as `stale_episodes`): "Noted: vegetarian, and Tiago." once the user
    went vegan and left Tiago, 0; "Got it: Rui, not Tiago." said as Tiago left, not stale."""
    retired, held = _slot_values(items, moment)
    gone = {value: end for value, end in retired.items() if value not in held}
    gone_pattern = _naming(gone)
    if gone_pattern is None:
        return {}
    held_pattern = _naming(held)
    stale: dict[str, float] = {}
    for memory in items:
        if memory.kind != "episode" or memory.metadata.get("role") != "assistant":
            continue
        said = aware(memory.valid_from or memory.recorded_at)
        text = fold(memory.text)
        named = {value for value in gone_pattern.findall(text) if gone[value] > said}
        if named:
            still = set(held_pattern.findall(text)) if held_pattern is not None else set()
            stale[memory.id] = len(still) / (len(still) + len(named))
    return stale


def stale_preferences(memories: Iterable[Memory], moment: datetime | None) -> set[str]:
    """The current preferences that name a slot value Engram has since retired and that no
    current slot holds: "The user loves living in Porto" once the user moved to Lisbon.

    A preference is never revised by a slot change (it is another slot), so it would keep
    winning "Where does the user live?" over the move. Marked stale, it ranks below the
    current value, still findable. Only the memories given are considered (see
    `stale_episodes`).
    """
    items = list(memories)
    retired, held = _slot_values(items, moment)
    named = _naming(set(retired) - held)
    if named is None:
        return set()
    return {
        memory.id
        for memory in items
        if memory.kind == "preference"
        and current_at(memory, moment)
        and named.search(fold(memory.text))
    }


def past_periods(periods: Sequence[Period], now: datetime | None) -> tuple[Period, ...]:
    """The `periods` (`queries.query_periods`) wholly before `now`: those a question asks
    about the past with ("Where did I live in 2023?"). None without `now`."""
    if now is None:
        return ()
    return tuple((start, end) for start, end in periods if end <= aware(now))


def held_during(memory: Memory, periods: Sequence[Period]) -> bool:
    """Whether `memory` was valid at some time in one of `periods`: from its `valid_from`
    (else when recorded) until it ended in the world or was retired (`current_at`)."""
    start = aware(memory.valid_from or memory.recorded_at)
    ends = [aware(t) for t in (memory.valid_to, memory.superseded_at) if t is not None]
    end = min(ends, default=None)
    return any(start < last and (end is None or end > first) for first, last in periods)
