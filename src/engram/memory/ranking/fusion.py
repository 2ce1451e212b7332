"""Fusion: one ranking, best first, from the dense and lexical lists and each memory's features.

The base score is the weighted sum of the lists (each over its best value) or RRF; the
features and the session strength multiply it. Results are built lazily, with their
`ScoreParts`, so a search pays for the parts of the hits it returns only.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from engram._exceptions import InvalidInputError
from engram.memory.ranking.features import MemoryFeatures
from engram.memory.ranking.weights import DEFAULT_WEIGHTS, RankingWeights
from engram.types._memory import ScoreParts

__all__ = ["SESSION_TOP", "Ranked", "complete_dense", "fuse", "fused"]


_NEUTRAL = MemoryFeatures()


@dataclass(frozen=True, slots=True)
class Ranked:
    """One fused result: a memory id, its score and the parts of that score."""

    id: str
    score: float
    parts: ScoreParts


def fuse(
    dense: Sequence[tuple[str, float]] = (),
    lexical: Sequence[tuple[str, float]] = (),
    features: Mapping[str, MemoryFeatures] | None = None,
    weights: RankingWeights = DEFAULT_WEIGHTS,
    *,
    groups: Mapping[str, str] | None = None,
    limit: int | None = None,
) -> list[Ranked]:
    """Fuse candidate lists into one ranking, best first.

    Args:
        dense: `(id, cosine)` pairs, best first (as a vector search returns them).
        lexical: `(id, bm25)` pairs, best first (higher BM25 is better).
        features: Per-memory features; a candidate without an entry gets neutral ones.
        weights: The fusion parameters.
        groups: id -> session id, for the session boost (a candidate without one gets the
            whole boost when others have one, none when none has).
        limit: Keep at most this many results (None: all).

    Returns:
        The union of the candidates, sorted by fused score (ties: best rank in either list,
        then id), each with its `ScoreParts`.

    Raises:
        InvalidInputError: A negative `limit`.

    Example:
        ```python
        fuse(dense=[("a", 0.8), ("b", 0.5)], lexical=[("b", 7.1)])[0].id  # "b"
        ```
    """
    results = fused(dense, lexical, features or {}, weights, groups or {})
    if limit is not None and limit < 0:
        raise InvalidInputError(f"limit must be 0 or more, not {limit}")
    return list(itertools.islice(results, limit))


def fused(
    dense: Sequence[tuple[str, float]],
    lexical: Sequence[tuple[str, float]],
    features: Mapping[str, MemoryFeatures],
    weights: RankingWeights,
    groups: Mapping[str, str],
) -> Iterator[Ranked]:
    """`fuse`'s results, best first, each built (with its `ScoreParts`) only when the
    caller gets to it: a search keeps its limit of a pool several times larger."""
    dense_values = _first_values(dense)
    lexical_values = _first_values(lexical)
    base = _base_scores(dense_values, lexical_values, weights)
    order = _tie_order(dense_values, lexical_values)
    # A session's strength counts its candidates as currency leaves them (`_session_shares`).
    counted = {
        memory_id: score * _currency(features.get(memory_id) or _NEUTRAL, weights)
        for memory_id, score in base.items()
    }
    sessions = _session_shares(counted, groups) if weights.session else {}
    scored = []
    for memory_id, score in base.items():
        feature = features.get(memory_id) or _NEUTRAL
        session = _session_share(memory_id, sessions, features)
        boost = _boost(feature, session, weights)
        scored.append((-(score * boost), order[memory_id], memory_id, score, boost, session))
    scored.sort()  # the ids are distinct: the first three items decide every pair
    values = (dense_values, lexical_values)
    for _, _, memory_id, score, boost, session in scored:
        feature = features.get(memory_id) or _NEUTRAL
        yield _ranked(memory_id, score, boost, session, values, feature)


def complete_dense(
    dense: Sequence[tuple[str, float]], extra: Iterable[tuple[str, float]]
) -> list[tuple[str, float]]:
    """The dense list with the cosines of more candidates merged in, best first (ties by id).

    A search takes the top N of each signal; a memory that BM25 found but that is not among
    the N nearest vectors would get 0 for the dense part, as if it were unrelated. Scoring it
    with its true cosine (`extra`) ranks it by both signals, and the result no longer depends
    on N (LoCoMo recall@10 at N = 50: 0.738 -> 0.776, as with every memory a candidate).
    """
    merged = _first_values([*dense, *extra])
    return sorted(merged.items(), key=lambda pair: (-pair[1], pair[0]))


def _first_values(pairs: Sequence[tuple[str, float]]) -> dict[str, float]:
    """id -> value, keeping each id's first (best-ranked) entry, in rank order."""
    values: dict[str, float] = {}
    for memory_id, value in pairs:
        values.setdefault(memory_id, float(value))
    return values


def _base_scores(
    dense: Mapping[str, float], lexical: Mapping[str, float], weights: RankingWeights
) -> dict[str, float]:
    scores: dict[str, float] = dict.fromkeys([*dense, *lexical], 0.0)
    for values, weight in ((dense, weights.dense), (lexical, weights.lexical)):
        if weights.method == "rrf":
            contributions = _rrf(values, weights.rrf_k)
        else:
            contributions = _by_best(values)
        for memory_id, contribution in contributions.items():
            scores[memory_id] += weight * contribution
    return scores


def _rrf(values: Mapping[str, float], rrf_k: float) -> dict[str, float]:
    return {memory_id: 1.0 / (rrf_k + rank) for rank, memory_id in enumerate(values, start=1)}


def _by_best(values: Mapping[str, float]) -> dict[str, float]:
    """Each value over the list's best (negative values count as 0): the best gets 1.

    Not min-max: that would give the last candidate 0 whatever its score, which erases the
    difference between two close candidates of a small pool (and with it any boost).
    """
    best = max(values.values(), default=0.0)
    if best <= 0:
        return dict.fromkeys(values, 0.0)
    return {memory_id: max(value, 0.0) / best for memory_id, value in values.items()}


SESSION_TOP = 3
"""How many of a session's best candidates make its strength (`_session_shares`)."""


def _session_shares(base: Mapping[str, float], groups: Mapping[str, str]) -> dict[str, float]:
    """id -> its session's strength relative to the strongest session's (0..1).

    `base` is each candidate's base score times its currency factor (`_currency`): retired
    memories are candidates (to mark stale episodes), and a retired value's strong match ("I
    live in Porto", once the user moved) would otherwise lift its session-mates ("Hi, I'm
    Ana") above the current value and the turn that said it.

    A session's strength is the sum of its best `SESSION_TOP` base scores: a session where
    the topic came up in several turns beats one with a single slightly better turn, which
    also reorders sessions (with the best score alone, the boost of a session's best memory
    grows with its own score, so sessions keep their order). Summing every candidate favours
    long sessions of weak matches instead (LoCoMo turn recall@10, BM25 only: 0.705 with the
    sum, 0.713 with the best alone). Measured, sum of the best 3 vs the best alone: LoCoMo
    turn recall@10 0.779 vs 0.776, LongMemEval_S session recall_all@5 0.897 vs 0.894.

    A candidate of no session gets 1: else any memory of a session, however weak its match,
    would outrank it by the boost (a user who gave mem0's `run_id` on some adds only found
    "oolong tea" of a session before "green tea" of none). Its own score as its strength
    would instead square every score of a pool without sessions, and with it the factor of a
    retired memory.
    """
    members: dict[str, list[float]] = {}
    for memory_id, score in base.items():
        group = groups.get(memory_id)
        if group is not None:
            members.setdefault(group, []).append(score)
    strengths = {
        group: sum(sorted(scores, reverse=True)[:SESSION_TOP]) for group, scores in members.items()
    }
    best = max(strengths.values(), default=0.0)
    if best <= 0:
        return {}
    return {
        memory_id: 1.0 if (group := groups.get(memory_id)) is None else strengths[group] / best
        for memory_id in base
    }


def _session_share(
    memory_id: str, sessions: Mapping[str, float], features: Mapping[str, MemoryFeatures]
) -> float:
    """A candidate's session feature: its session's share, but 1 for a fact holding the slot
    the question asks (`MemoryFeatures.slot`) in a pool of sessions. That is the user's
    standing state, not a turn: its session's other turns say nothing of its worth (as of
    April, the June session that told of a March move holds nothing else true yet)."""
    share = sessions.get(memory_id, 0.0)
    feature = features.get(memory_id)
    return 1.0 if sessions and feature is not None and feature.slot else share


def _tie_order(dense: Mapping[str, float], lexical: Mapping[str, float]) -> dict[str, int]:
    """id -> its best rank in either list: breaks score ties (then the id does)."""
    order: dict[str, int] = {}
    for values in (dense, lexical):
        for rank, memory_id in enumerate(values):
            order[memory_id] = min(order.get(memory_id, rank), rank)
    return order


def _boost(feature: MemoryFeatures, session: float, weights: RankingWeights) -> float:
    return (
        (1.0 + weights.entity * feature.entity)
        * (1.0 + weights.slot * feature.slot)
        * (1.0 + weights.time * feature.time)
        * (1.0 + weights.recency * feature.recency)
        * (1.0 + weights.importance * feature.importance)
        * (1.0 + weights.decay * feature.decay)
        * (1.0 + weights.session * session)
        * _currency(feature, weights)
        * math.pow(weights.filler, feature.filler)
        * math.pow(weights.echo, feature.echo)
    )


def _ranked(
    memory_id: str,
    base: float,
    boost: float,
    session: float,
    values: tuple[Mapping[str, float], Mapping[str, float]],
    feature: MemoryFeatures,
) -> Ranked:
    score = base * boost
    dense, lexical = values
    parts = ScoreParts(
        dense=dense.get(memory_id, 0.0),
        lexical=lexical.get(memory_id, 0.0),
        recency=feature.recency,
        importance=feature.importance,
        entity=feature.entity,
        fused=score,
        time=feature.time,
        session=session,
        decay=feature.decay,
        slot=feature.slot,
        current=feature.current,
        filler=feature.filler,
        echo=feature.echo,
        base=base,
        boost=boost,
    )
    return Ranked(memory_id, score, parts)


def _currency(feature: MemoryFeatures, weights: RankingWeights) -> float:
    """The factor of a memory no longer (or only partly) current: `superseded ** (1 -
    current)`, 1 for a current one."""
    return math.pow(weights.superseded, 1.0 - feature.current)
