"""`rank_memories`: a search's candidates ranked, with every signal of the query gathered.

The entry point for stored memories: it reads the query (entities, slots, periods, terms),
computes each memory's features, corrects them for currency and a slot's past, fuses the
lists and leaves out repeats and, if asked, what is no longer current.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from engram.memory.queries import (
    Period,
    asks_end,
    asks_past,
    entities_in_query,
    is_temporal_query,
    past_asked,
    query_periods,
    query_terms,
)
from engram.memory.ranking.features import QueryEntity, about_query, memory_features
from engram.memory.ranking.fusion import Ranked, fused
from engram.memory.ranking.slot_history import (
    ended_slots,
    ended_values,
    held_before,
    superseded_endings,
)
from engram.memory.ranking.slots import asked_slots
from engram.memory.ranking.staleness import (
    current_at,
    held_during,
    past_periods,
    stale_episodes,
    stale_preferences,
)
from engram.memory.ranking.weights import DEFAULT_WEIGHTS, RankingWeights
from engram.memory.texts import SESSION_KEY
from engram.types._memory import Memory, MemoryHit

__all__ = ["rank_memories"]


def _kept(memory: Memory, now: datetime | None, during: Sequence[Period]) -> bool:
    """Whether a search of current memories keeps `memory`: current at `now`, or, for a
    question about past periods (`during`), valid during one of them."""
    return current_at(memory, now) or held_during(memory, during)


def _distinct(
    ranked: Iterable[Ranked], memories: Mapping[str, Memory], limit: int | None = None
) -> list[Ranked]:
    """`ranked` without the memories that say what a better-ranked one says in the same
    words (`_saying`): "Tom is the user's friend", kept in each of three sessions that said
    it, takes one place in the results, not the first three. At most `limit` of them."""
    seen: set[tuple[object, ...]] = set()
    kept: list[Ranked] = []
    if limit is not None and limit <= 0:
        return kept
    for result in ranked:  # no more drawn than needed: each is built when drawn
        saying = _saying(memories[result.id])
        if saying not in seen:
            seen.add(saying)
            kept.append(result)
            if len(kept) == limit:
                break
    return kept


def _saying(memory: Memory) -> tuple[object, ...]:
    """What a memory says, as `_distinct` compares it: its words (case and spacing aside),
    whom they are about, and whether it is a fact or a turn (with its speaker): two turns
    of the same words by different people are two sayings."""
    turn = memory.kind == "episode"
    speaker = memory.metadata.get("speaker") if turn else None
    subject = memory.metadata.get("subject")
    return (turn, str(speaker), str(subject), " ".join(memory.text.casefold().split()))


def _session_of(memory: Memory) -> str | None:
    if memory.session_id is not None:
        return memory.session_id
    value = memory.metadata.get(SESSION_KEY)
    return value if isinstance(value, str) and value else None


def rank_memories(
    memories: Mapping[str, Memory],
    dense: Sequence[tuple[str, float]] = (),
    lexical: Sequence[tuple[str, float]] = (),
    *,
    query: str = "",
    query_entities: Collection[QueryEntity] | None = None,
    slots: Collection[str] | None = None,
    now: datetime | None = None,
    weights: RankingWeights = DEFAULT_WEIGHTS,
    limit: int | None = None,
    current_only: bool = False,
    holders: Collection[str] = (),
) -> list[MemoryHit]:
    """Fuse candidate lists of stored memories into ranked `MemoryHit`s.

    Candidates missing from `memories` (deleted between the index lookup and the load) are
    dropped. Memories no longer current at `now`, and episodes that only state retired
    values (`stale_episodes`), get the `superseded` decay. For belief currency, search with
    retired candidates included and `current_only=True`: they mark the stale episodes, then
    leave the results.

    Args:
        memories: id -> memory, for every candidate id.
        dense: `(id, cosine)` pairs, best first.
        lexical: `(id, bm25)` pairs, best first.
        query: The query text: its entities (unless given), whether it asks "when", and
            its terms, which an earlier question restating it asks with (`is_echo`).
        query_entities: The query's entities (`memory_features`); default: found in `query`.
        slots: The slots the query asks about (`memory_features`); default: `asked_slots`
            of `query`. A question about another person than the user asks none of hers.
        now: The time the query is about ("as of"), for currency and recency (None: now,
            no recency signal).
        weights: The fusion parameters.
        limit: Keep at most this many hits.
        current_only: Leave out the memories not current at `now`.
        holders: The folded names of the people the query asks `slots` of, not the user
            (`memory_features`): what the user's slots held before is then not asked.

    Returns:
        Hits, best first, with `rank` counted from 1.
    """
    if query_entities is None:
        query_entities = entities_in_query(query) if query else ()
    if slots is None:
        slots = asked_slots(query)
    temporal = is_temporal_query(query)
    periods = query_periods(query, now) if query else ()
    terms = query_terms(query) if query.strip() else frozenset()
    # A search of current memories asked about a past period ("Where did I live in
    # 2023?") is a search of what held then: the memories valid during it, retired or not.
    during = past_periods(periods, now) if current_only else ()
    moment = max((end for _, end in during), default=now)
    features = {
        memory_id: memory_features(
            memory,
            query_entities=query_entities,
            slots=slots,
            temporal=temporal,
            periods=periods,
            now=now,
            weights=weights,
            terms=terms,
            during=during,
            holders=holders,
        )
        for memory_id, memory in memories.items()
    }
    for memory_id, share in stale_episodes(memories.values(), moment).items():
        # A "when" question asks about the past event itself: a turn about it is not
        # demoted for stating a value since changed ("I moved to Lisbon", then Berlin).
        feature = features[memory_id]
        if not (
            temporal and about_query(memories[memory_id], feature.entity, query_entities, terms)
        ):
            features[memory_id] = replace(feature, current=share)
    for memory_id in stale_preferences(memories.values(), moment):
        features[memory_id] = replace(features[memory_id], current=0.0)
    for memory_id in superseded_endings(memories, features, terms):
        features[memory_id] = replace(features[memory_id], slot=0.0)
    # A question about what held before ("Where did I work before Zalando?", "my previous
    # job"), dated by no period, asks the value the slot held before the named or current
    # one: that retired fact holds the slot (and its turns are not stale), the current one
    # does not, and the slot's other retired facts are kept, below it.
    # Asked in the past tense about a slot the user ended ("Where did I do my PhD?" once
    # graduated, "Where did I work?" once the user left Google), unless the user said more
    # of the slot since (`superseded_endings`), the value the ending ended holds the slot
    # as a question about before's does. Asked now ("Where do I work?"), only current
    # memories answer: the ending, which says it is over.
    users = () if holders else slots
    named = past_asked(query) if current_only and not during and users else None
    endings = [
        ending for ending in ended_slots(memories.values(), users, now) if features[ending.id].slot
    ]
    if named is not None:
        earlier, past = held_before(memories, slots, named, now)
    elif current_only and not during and endings and asks_past(query):
        past = ended_values(memories, endings, now)
        earlier = set() if asks_end(query) else past  # "When did I finish my PhD?": the ending
    else:
        earlier, past = set(), set()
    told = {source for memory_id in earlier for source in memories[memory_id].source_ids}
    for memory_id, memory in memories.items():
        feature = features[memory_id]
        if memory_id in earlier:
            features[memory_id] = replace(feature, slot=1.0, current=1.0)
        elif earlier and feature.slot and named is not None:
            features[memory_id] = replace(feature, slot=0.0)
        elif memory.kind == "episode" and not told.isdisjoint(memory.source_ids):
            features[memory_id] = replace(feature, current=1.0)
    groups = {
        memory_id: group
        for memory_id, memory in memories.items()
        if (group := _session_of(memory)) is not None
    }
    ranked = _distinct(
        (
            result
            for result in fused(dense, lexical, features, weights, groups)
            if result.id in memories
            and not (
                current_only
                and result.id not in past
                and not _kept(memories[result.id], now, during)
            )
        ),
        memories,
        limit,
    )
    return [
        MemoryHit(memory=memories[result.id], score=result.score, parts=result.parts, rank=rank)
        for rank, result in enumerate(ranked, start=1)
    ]
