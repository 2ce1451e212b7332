"""Per-memory signals for one query: what the fusion multiplies a memory's base score by.

Each feature is in 0..1 and says one thing about a candidate (it names the query's entities,
holds the slot asked, is dated in the period asked, is still current, says nothing), so the
hit's `ScoreParts` can show why it ranked where it did.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from engram.memory.entities import fold
from engram.memory.forgetting import decay
from engram.memory.queries import Period, aware, query_terms
from engram.memory.ranking.filler import is_echo, is_filler
from engram.memory.ranking.slots import fills_slot
from engram.memory.ranking.staleness import current_at, held_during
from engram.memory.ranking.weights import DEFAULT_WEIGHTS, RankingWeights
from engram.memory.timeline import metadata_time
from engram.types._memory import Memory

__all__ = ["MemoryFeatures", "QueryEntity", "about_query", "memory_features", "recency"]

_SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class MemoryFeatures:
    """The per-memory signals, each in 0..1 (see `memory_features`)."""

    entity: float = 0.0
    """Share of the query's entities the memory mentions."""
    slot: float = 0.0
    """1 when the memory is a fact of the user's (no `subject`, not an episode) holding a slot
    the query asks about (`asked_slots`), current at the time asked about; else 0."""
    time: float = 0.0
    """1 when the memory is dated in a period the query names, or states a time and the query
    asks "when"; else 0."""
    recency: float = 0.0
    """1 for a memory from `now`, 0.5 at one half-life of age, towards 0 after."""
    importance: float = 0.0
    """The memory's importance."""
    decay: float = 0.0
    """1 when just recorded or recalled (before `now`), or pinned; 0.5 one half-life of
    disuse later (`forgetting.decay`); 0 with no `now`."""
    current: float = 1.0
    """1 when current, 0 when superseded or no longer valid, between for an episode that
    states some values since retired and some still current (the share still current): the
    score is multiplied by `superseded ** (1 - current)`."""
    filler: float = 0.0
    """1 for a chat turn with nothing to say (`is_filler`: "Saved.", "Where do I work
    now?"); else 0. The score is multiplied by `RankingWeights.filler ** filler`."""
    echo: float = 0.0
    """1 for an earlier question asking nothing the query does not (`is_echo`); else 0. The
    score is multiplied by `RankingWeights.echo ** echo`."""


QueryEntity = str | frozenset[str]
"""One entity of a query: an entity id or folded name, or the set of them that all stand for
it (its name and the ids of the stored entities it names or is an alias of)."""


def memory_features(
    memory: Memory,
    *,
    query_entities: Collection[QueryEntity] = (),
    slots: Collection[str] = (),
    temporal: bool = False,
    periods: Sequence[Period] = (),
    now: datetime | None = None,
    weights: RankingWeights = DEFAULT_WEIGHTS,
    terms: Collection[str] = (),
    during: Sequence[Period] = (),
    holders: Collection[str] = (),
) -> MemoryFeatures:
    """The ranking features of a stored memory for one query.

    Args:
        memory: The candidate.
        query_entities: The query's entities, as entity ids or folded names (`entities_in_query`),
            or sets of them standing for one entity; matched against `memory.entity_ids` and
            the folded names in its metadata (`entities`, `speaker`, `subject`).
        slots: The slots the query asks about (`asked_slots`); a fact of the user's holding
            one, current at `now`, matches.
        temporal: The query asks when something happened (`is_temporal_query`).
        periods: The periods the query names (`query_periods`); a memory said or dated
            (`valid_from`, `metadata["said_at"]`, `metadata["event_date"]`) in one matches.
        now: The time the query is about (default: no recency signal). A memory is dated by
            `valid_from`, else `recorded_at`.
        weights: Supplies `half_life_days`.
        terms: The query's terms (`queries.query_terms`): an earlier question asking with
            none but these is an echo (`is_echo`), and a memory stating a time answers a
            "when" question only if it is about what the query asks (`about_query`).
        during: The past periods a question about the past asks about (`past_periods`):
            a memory is current, and a slot fact holds the slot, when it held during one
            of them (`held_during`) rather than at `now`.
        holders: The folded names of the people the query asks `slots` of ("Where does my
            boyfriend work?": his name): their facts (`subject`) hold them, not the user's.
    """
    entity = 0.0
    if query_entities:
        known = _memory_entity_keys(memory)
        found = sum(
            1
            for keys in query_entities
            if (keys in known if isinstance(keys, str) else not known.isdisjoint(keys))
        )
        entity = found / len(query_entities)
    # A "when" question asks the time of what it names: a dated memory of something else
    # ("I moved to Berlin last week" for "When did I move to Lisbon?") does not answer it.
    states_time = (
        temporal
        and bool(memory.metadata.get("event_date"))
        and about_query(memory, entity, query_entities, terms)
    )
    current = current_at(memory, now)
    filler = is_filler(memory)
    if during:
        # A question about a past period asks what held then: a slot fact by whether it
        # held during the period, any other memory also when it is current now.
        held = held_during(memory, during)
        current = held if memory.attribute is not None else current or held
    holds = (
        current
        and fills_slot(memory.attribute, slots)
        and memory.kind != "episode"
        and _held_by(memory.metadata.get("subject"), holders)
    )
    return MemoryFeatures(
        entity=entity,
        slot=1.0 if holds else 0.0,
        time=1.0 if states_time or _in_periods(memory, periods) else 0.0,
        recency=recency(memory.valid_from or memory.recorded_at, now, weights.half_life_days),
        importance=min(max(memory.importance, 0.0), 1.0),
        decay=0.0 if now is None else decay(memory, now, timedelta(days=weights.half_life_days)),
        current=float(current),
        filler=1.0 if filler else 0.0,
        echo=1.0 if filler and terms and is_echo(memory, terms) else 0.0,  # an echo is filler
    )


def about_query(
    memory: Memory, entity: float, query_entities: Collection[QueryEntity], terms: Collection[str]
) -> bool:
    """Whether `memory` is about what a query asks: it mentions one of the query's entities
    (`entity`, the share it mentions), or shares one of its `terms` (`queries.query_terms`),
    two when the query names entities it mentions none of: "I moved to Berlin" shares only
    "move" with "When did I move to Lisbon?". (Requiring an entity alone lowered LoCoMo
    recall@10 from 0.7786 to 0.7776: a question names one speaker, the other one's turn
    may answer.) With neither given, nothing tells: every memory is."""
    if entity > 0 or not (query_entities or terms):
        return True
    shared = len(query_terms(memory.text) & set(terms))
    return shared >= (2 if query_entities else 1)


def _in_periods(memory: Memory, periods: Sequence[Period]) -> bool:
    if not periods:
        return False
    moments = [aware(memory.valid_from)] if memory.valid_from else []
    moments += filter(None, (metadata_time(memory, key) for key in ("said_at", "event_date")))
    return any(start <= moment < end for moment in moments for start, end in periods)


def _memory_entity_keys(memory: Memory) -> set[str]:
    keys = set(memory.entity_ids)
    metadata = memory.metadata
    names = metadata.get("entities")
    if isinstance(names, list | tuple):
        keys.update(fold(str(name)) for name in names)
    for key in ("speaker", "subject"):
        value = metadata.get(key)
        if isinstance(value, str) and value:
            keys.add(fold(value))
    return keys


def recency(moment: datetime | None, now: datetime | None, half_life_days: float) -> float:
    """Exponential decay of age: 1.0 at `now`, 0.5 after one half-life; 0 when unknown.

    A moment after `now` counts as age 0.
    """
    if moment is None or now is None:
        return 0.0
    age_days = max((now - moment).total_seconds(), 0.0) / _SECONDS_PER_DAY
    return math.pow(0.5, age_days / half_life_days)


def _held_by(subject: object, holders: Collection[str]) -> bool:
    """Whether a slot fact of `subject` (None: the user) holds a slot the query asks of
    `holders` (none: the user)."""
    if not holders:
        return subject is None
    return isinstance(subject, str) and fold(subject) in holders
