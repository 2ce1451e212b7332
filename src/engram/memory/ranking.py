"""Hybrid ranking: fuse dense, lexical and per-memory signals into one explained score.

Pure functions, no I/O: a store gathers the candidates (cosine and BM25 lists, best first,
each exact under the scope filter) and the memories they name; this module decides the order.

```
dense   [(id, cosine)] ──┐ base = w_dense * cosine / best cosine
lexical [(id, bm25)]   ──┘      + w_lexical * bm25 / best bm25          (or RRF over ranks)
score = base x (1 + w_entity  * entity)     share of the query's entities it mentions
             x (1 + w_time    * time)       dated in the period asked about / states a time
             x (1 + w_session * session)    its session holds strong candidates
             x (1 + w_recency * recency) x (1 + w_importance * importance)
             x (1 + w_decay   * decay)      fresh in memory: recorded or recalled lately, pinned
             x superseded                   when it is no longer current (never 0)
             x filler                       a chat turn with nothing to say ("Saved.")
             x echo                         an earlier question asking what this one does
```

Every result carries `ScoreParts`: the raw cosine and BM25 values, each feature in 0..1, and
the fused score it was sorted by, so a user can see why a memory was recalled.

Tuning (`engram eval`, deterministic, MiniLM int8; the in-process pipeline, which extracts and
ranks as the product does, then checked end to end through `Engram.memories`). LoCoMo dev,
categories 1-4, turn-level evidence recall@10, each step added to the previous one:

| step | recall@10 |
|---|---|
| BM25 on the turn alone, all query words | 0.517 |
| stopwords dropped from the query (`queries.lexical_query`) | 0.570 |
| the speaker's name indexed with the turn | 0.605 |
| the two previous turns indexed with it (`texts.index_text`, BM25 only) | 0.696 |
| (MiniLM alone on the turn with its speaker: 0.473) | |
| fused with MiniLM, weighted 0.5 / 0.5 | 0.724 |
| entity boost 1.0 | 0.726 |
| time boost 1.0 | 0.750 |
| session boost 2.0 | 0.763 |
| the extractor's facts indexed too (what the product stores) | 0.762 |
| BM25-only candidates scored with their true cosine (`complete_dense`) | 0.776 |

Then both benchmarks at once (LongMemEval_S: all 321 non-abstention dev questions, session
recall_all@5), in-process and checked end to end through `Engram.memories`:

| step | LoCoMo recall@10 | LongMemEval recall_all@5 |
|---|---|---|
| the product before this tuning (no context, no sessions in the stores' index) | 0.615 | |
| context and session kept by extraction, indexed by the stores | 0.776 | 0.888 |
| context lines cut at 200 characters (LongMemEval turns are long) | 0.776 | 0.894 |
| a session's strength is its best 3 candidates (`_session_shares`) | 0.779 | 0.897 |
| dense 0.6 / lexical 0.4, entity 0.5 (in-process; the product: 0.772, 0.900) | 0.774 | 0.903 |

The embedding matters more on LongMemEval (long, content-rich user turns) than on LoCoMo
(short chat turns): dense weight 0.5 / 0.55 / 0.6 / 0.65 gives LoCoMo 0.779 / 0.772 / 0.768 /
0.760 and LongMemEval 0.897 / 0.900 / 0.903 / 0.907; 0.6 with the entity boost at 0.5 (which
LongMemEval ignores) keeps both targets (0.75, 0.90). RRF instead of the weighted sum: LoCoMo
0.747, LongMemEval 0.872. The session weight sits on a plateau (1-4 within 0.005); the time
boost at 2: LoCoMo 0.763. Recency helped neither, so it is off.

The slot boost (`asked_slots`, weight 4, with the whole session boost) leaves LoCoMo as it
was (recall@10 0.7776, in_context@2k 0.8817) and puts the value of the user's home,
employer or partner first for "Where does Ana live?" now and "as of" any date, above the
turns that merely share the question's words (`engram eval currency`, `aside` scenarios).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from engram._exceptions import InvalidInputError
from engram.memory.candidates import NO_VALUE
from engram.memory.entities import fold
from engram.memory.forgetting import decay
from engram.memory.queries import (
    STOPWORDS,
    Period,
    asks_past,
    aware,
    entities_in_query,
    is_temporal_query,
    past_asked,
    query_periods,
    query_terms,
)
from engram.memory.texts import SESSION_KEY
from engram.memory.timeline import metadata_time
from engram.providers._text import split_sentences
from engram.types._memory import Memory, MemoryHit, ScoreParts

__all__ = [
    "DEFAULT_WEIGHTS",
    "FusionMethod",
    "MemoryFeatures",
    "QueryEntity",
    "Ranked",
    "RankingWeights",
    "asked_slots",
    "complete_dense",
    "current_at",
    "ended_slots",
    "fills_slot",
    "fuse",
    "is_echo",
    "is_filler",
    "memory_features",
    "rank_memories",
    "recency",
    "stale_episodes",
    "stale_preferences",
]

FusionMethod = Literal["rrf", "weighted"]

_SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class RankingWeights:
    """How the signals combine. Defaults are the values tuned on the dev data.

    Example:
        ```python
        RankingWeights(entity=0.0)  # ignore entity matches
        RankingWeights(method="weighted", dense=0.7, lexical=0.3)
        ```
    """

    method: FusionMethod = "weighted"
    """`weighted`: sum over the lists of weight x score / the list's best score (a memory
    absent from a list gets 0 for it); `rrf`: sum of weight / (rrf_k + rank)."""
    rrf_k: float = 60.0
    """RRF's rank offset: larger flattens the difference between the top ranks."""
    dense: float = 0.6
    """Weight of the embedding similarity list."""
    lexical: float = 0.4
    """Weight of the BM25 list."""
    entity: float = 0.5
    """Boost for the share of the query's entities the memory mentions."""
    slot: float = 4.0
    """Boost for the user's slot facts that answer the question (`asked_slots`: the home
    city for "Where does Ana live?"): the value held at the time asked about, which often
    shares no word with the question ("Ana moved to Berlin"), ranks above the turns that
    merely do ("My sister Marta lives in Madrid"), now and "as of" any date."""
    time: float = 1.0
    """Boost for memories whose time fits the query: dated in a period the query names ("in
    July 2023", "last week"), or stating a time (`metadata["event_date"]`) when the query
    asks "when"."""
    recency: float = 0.0
    """Boost for recent memories (see `half_life_days`)."""
    importance: float = 0.0
    """Boost for the memory's importance (0..1)."""
    decay: float = 0.0
    """Boost for memories fresh in memory (`forgetting.decay`: recorded or recalled lately,
    pinned ones never fading; half-life `half_life_days`). Unlike `recency`, which dates
    what a memory is about, this follows its use."""
    session: float = 2.0
    """Boost for memories of the sessions whose best candidates score high (relative to the
    strongest session; a candidate no longer current counts with its `superseded` factor):
    evidence clusters where a topic was discussed. A memory of no session, among memories of
    some, gets the whole boost: it is not demoted for want of one."""
    superseded: float = 0.2
    """Factor for memories no longer current, and for episodes that only state retired values
    (`stale_episodes`; one that also states current values gets a share of it, see
    `MemoryFeatures.current`): never 0, a superseded memory stays findable, below the current
    one.
    Low because a stale episode ("I live in Lisbon") often matches a question better than the
    statement that replaced it ("I just moved to Porto")."""
    filler: float = 0.5
    """Factor for a chat turn that says nothing but function words and acknowledgements
    ("Saved.", "Ok, thanks!") or only asks ("What's the weather in Porto?"; `is_filler`): it
    matches a question by the words every turn has, and would take a place that a turn with
    something to say needs. Above 0, it stays findable; 1 turns this off. LoCoMo (named
    speakers, never filler) is unchanged."""
    echo: float = 0.1
    """Factor for an earlier question that asks nothing the query does not (`is_echo`:
    "Where do I live?" recalled for "Where do I live?" again), on top of `filler`: it is
    the query's best match in words and in meaning, yet says nothing, and with `filler`
    alone (0.5) it still outranks the turn that answers ("I moved to Faro last month").
    Above 0, it stays findable; 1 turns this off. LoCoMo (named speakers, never echoes) is
    unchanged."""
    half_life_days: float = 180.0
    """Age, or time unused, at which the recency and decay features fall to 0.5."""

    def __post_init__(self) -> None:
        if self.method not in ("rrf", "weighted"):
            raise InvalidInputError(f"unknown fusion method {self.method!r}")
        if self.rrf_k < 0:
            raise InvalidInputError(f"rrf_k must be >= 0, got {self.rrf_k}")
        if self.half_life_days <= 0:
            raise InvalidInputError(f"half_life_days must be > 0, got {self.half_life_days}")
        if not 0 <= self.superseded <= 1:
            raise InvalidInputError(f"superseded must be in 0..1, got {self.superseded}")
        if not 0 <= self.filler <= 1:
            raise InvalidInputError(f"filler must be in 0..1, got {self.filler}")
        if not 0 <= self.echo <= 1:
            raise InvalidInputError(f"echo must be in 0..1, got {self.echo}")
        weights = (
            self.dense,
            self.lexical,
            self.entity,
            self.slot,
            self.time,
            self.recency,
            self.importance,
            self.decay,
            self.session,
        )
        if any(weight < 0 or not math.isfinite(weight) for weight in weights):
            raise InvalidInputError("ranking weights must be finite and >= 0")


DEFAULT_WEIGHTS = RankingWeights()
"""The tuned defaults."""


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
        limit: Keep at most this many results.

    Returns:
        The union of the candidates, sorted by fused score (ties: best rank in either list,
        then id), each with its `ScoreParts`.

    Example:
        ```python
        fuse(dense=[("a", 0.8), ("b", 0.5)], lexical=[("b", 7.1)])[0].id  # "b"
        ```
    """
    results = _fusion(dense, lexical, features or {}, weights, groups or {})
    if limit is None or limit < 0:
        return list(results)[:limit]
    return list(itertools.islice(results, limit))


def _fusion(
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


def recency(moment: datetime | None, now: datetime | None, half_life_days: float) -> float:
    """Exponential decay of age: 1.0 at `now`, 0.5 after one half-life; 0 when unknown.

    A moment after `now` counts as age 0.
    """
    if moment is None or now is None:
        return 0.0
    age_days = max((now - moment).total_seconds(), 0.0) / _SECONDS_PER_DAY
    return math.pow(0.5, age_days / half_life_days)


_ASKED_SLOTS: tuple[tuple[re.Pattern[str], frozenset[str]], ...] = tuple(
    (re.compile(pattern), frozenset(slots))
    for pattern, slots in (
        (r"\bwhere\b.*\b(?:live[sd]?|living|reside[sd]?|based|home)\b", ("home_city",)),
        (r"\b(?:home ?town|home city|which city|what city)\b", ("home_city",)),
        (r"\bwhere\b.*\b(?:work(?:s|ed|ing)?|employed|job)\b", ("employer",)),
        (r"\b(?:work(?:s|ed|ing)? for|employer|company)\b", ("employer",)),
        (
            r"\bwhere\b.*\b(?:stud(?:y|ies|ied|ying)|school|college|university|phd|doctorate"
            r"|degree|masters?)\b",
            ("school",),
        ),
        (r"\b(?:job|occupation|profession|do for a living|job title)\b", ("occupation",)),
        (
            r"\b(?:partner|dating|seeing anyone|boyfriend|girlfriend|husband|wife|spouse"
            r"|married|single|ex)\b",
            ("partner", "relationship_status"),
        ),
        (r"\b(?:diet|vegan|vegetarian|eat|eats|eating)\b", ("diet",)),
        (
            r"\b(?:cook(?:s|ed|ing)?|recipes?|meals?|food|dinner|lunch|breakfast|snacks?"
            r"|restaurants?|menu|dish(?:es)?|bake|baking|allergi(?:c|es)|allergy)\b",
            ("diet", "allergy:"),
        ),
        (r"\bnear(?:by)?\s+(?:me|her|him|them|us|home|where\b)|\bnearby\b", ("home_city",)),
        (r"\b(?:how old|age|birthday)\b", ("age", "birthday", "birth_year")),
        (r"\b(?:car|drive|drives)\b", ("car",)),
        (r"\bphone\b", ("phone",)),
    )
)


_KIN_ASKED = re.compile(
    r"\b(?:my|your|his|her|their|our)\s+(?:best\s+)?(?:friends?|brothers?|sisters?|siblings?"
    r"|mom|mum|mother|dad|father|parents?|sons?|daughters?|kids?|child|children|cousins?"
    r"|colleagues?|co-?workers?|boss|roommates?|neighbou?rs?|aunts?|uncles?|grand\w+"
    r"|nieces?|nephews?)\b"
)
"""Someone else the question asks about: "Where does my sister live?"."""


def fills_slot(attribute: str | None, slots: Collection[str]) -> bool:
    """Whether a memory's `attribute` is one of `slots`, a slot ending in ":" standing for
    every attribute it begins ("allergy:" for "allergy:peanuts")."""
    if attribute is None:
        return False
    return attribute in slots or any(
        slot.endswith(":") and attribute.startswith(slot) for slot in slots
    )


def asked_slots(query: str) -> frozenset[str]:
    """The slots (`Memory.attribute`) a question about the user asks for: `home_city` for
    "Where does Ana live?", `employer` for "Who do I work for?", the diet and every allergy
    ("allergy:", a prefix) for "What should I cook for her?", none for "What did we talk
    about?" or "Where does my sister live?". The slot fact that answers often shares no
    word with the question ("Ana moved to Berlin"), while turns that merely do ("My sister
    lives in Madrid") outrank it. (A question naming another person, "Where does Marta
    live?", the search leaves out itself: only it knows who the user is.)"""
    text = fold(query)
    if _KIN_ASKED.search(text):
        return frozenset()
    found: set[str] = set()
    for pattern, slots in _ASKED_SLOTS:
        if pattern.search(text):
            found |= slots
    return frozenset(found)


def _value(memory: Memory) -> str:
    """A slot fact's value, folded ("" for none given; `NO_VALUE` for an ending)."""
    value = memory.metadata.get("value")
    return fold(value) if isinstance(value, str) else ""


def _said(memory: Memory) -> datetime:
    """When a memory was said (`metadata["said_at"]`), else recorded."""
    return metadata_time(memory, "said_at") or aware(memory.recorded_at)


def _started(memory: Memory) -> datetime:
    return aware(memory.valid_from or memory.recorded_at)


def _superseded_endings(
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


def _held_before(
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


def _ended_values(
    memories: Mapping[str, Memory], endings: Iterable[Memory], now: datetime | None
) -> set[str]:
    """The user's slot facts that the `endings` ended (`ended_slots`): of each, the latest
    real value its slot held before it began (`_held_before`)."""
    ended: set[str] = set()
    for ending in endings:
        ended |= _held_before(memories, {str(ending.attribute)}, "", now, _started(ending))[0]
    return ended


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
        and memory.metadata.get("subject") is None
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


_ACKNOWLEDGEMENTS = frozenset(
    """
    ok okay k kk alright right sure yes yeah yep yup no nope thanks thank thx ty cheers please
    got noted saved updated done understood great nice cool good fine perfect awesome wow oh
    ah hmm lol haha hi hello hey bye goodbye welcome glad meet sounds
    """.split()
)
"""The words of an acknowledgement or a greeting: with the stopwords, all a filler turn has."""

_CONTENT_WORD = re.compile(r"[^\W_]+")


def is_filler(memory: Memory) -> bool:
    """Whether `memory` is a chat turn that says nothing but function words and
    acknowledgements ("Saved.", "Ok, thanks!", "Got it."; a number or any other word is
    content), or that only asks ("What's the weather in Porto?"): in a chat with the
    assistant, the question asks and the reply tells, and "Where do I work now?" recalled
    for the same question again says nothing.

    A turn of a named speaker (a dialogue between people, a `speaker` each, as LoCoMo's) is
    never filler: there an agreement says what the other said ("Same here!") and a question
    what the asker knows ("Have you read The Alchemist?"). Demoting those lowered LoCoMo's
    in_context (@2k 0.8817 to 0.8814 for the questions, @4k 0.9237 to 0.9234 for the
    agreements)."""
    if memory.kind != "episode" or memory.metadata.get("speaker"):
        return False
    words = _CONTENT_WORD.findall(fold(memory.text))
    if all(word in STOPWORDS or word in _ACKNOWLEDGEMENTS for word in words):
        return True
    return _only_asks(memory)


def _only_asks(memory: Memory) -> bool:
    """Whether every sentence of a memory's text is a question."""
    sentences = split_sentences(memory.text)
    return bool(sentences) and all(sentence.endswith("?") for sentence in sentences)


def is_echo(memory: Memory, terms: Collection[str]) -> bool:
    """Whether `memory` is a chat turn that only asks (as `is_filler` has it) with no term
    but the query's `terms` (`queries.query_terms`): "Where do I live?" or "Where am I
    living now?" recalled for "Where do I live?", or for "Where do I live and work?". It
    restates the question and says nothing of the answer. "Do I live in Faro?" names a
    place, which the query does not: it says something, and is no echo.

    A turn of a named speaker (a dialogue between people) is never one, as never filler."""
    if memory.kind != "episode" or memory.metadata.get("speaker") or not _only_asks(memory):
        return False
    return query_terms(memory.text) <= set(terms)


def current_at(memory: Memory, moment: datetime | None) -> bool:
    """Whether `memory` was current at `moment` (None: now, by `Memory.is_current`).

    Current means not yet retired by Engram and not yet ended in the world: a memory
    superseded in June is current for a question asked "as of" March.
    """
    if moment is None:
        return memory.is_current
    moment = aware(moment)
    retired = memory.superseded_at is not None and aware(memory.superseded_at) <= moment
    ended = memory.valid_to is not None and aware(memory.valid_to) <= moment
    return not (retired or ended)


def stale_episodes(memories: Iterable[Memory], moment: datetime | None) -> dict[str, float]:
    """The episodes that state values Engram has since retired, each with the share of the
    slot facts its messages produced that are still current (at `moment`): 0 when all are
    retired, 0.5 for "I live in Porto and I'm vegan" once the user moved.

    Episodes are never revised (they are what was said), so "I live in Lisbon" would keep
    winning after "I moved to Porto" superseded the home-city fact it produced. A fact
    retired by what its own messages said counts for neither side (`_retired_by_its_sources`:
    "I broke up with Tiago, I'm dating Rui" ends the partner slot, then fills it: nothing it
    said has changed since). A turn of the assistant's produces no slot facts: it is stale
    when it names values of the user's retired after it was said that no current slot holds
    ("Noted: vegetarian, and Tiago." once the user went vegan and left Tiago;
    `_stale_replies`). Only the memories given are considered: a search that wants this must
    fetch retired candidates too.
    """
    items = list(memories)
    by_id = {memory.id: memory for memory in items}
    retired: dict[str, int] = {}
    kept: dict[str, int] = {}
    for memory in items:
        if memory.attribute is None:
            continue
        if current_at(memory, moment):
            target = kept
        elif _retired_by_its_sources(memory, by_id):
            continue
        else:
            target = retired
        for source in memory.source_ids:
            target[source] = target.get(source, 0) + 1
    stale: dict[str, float] = {}
    for memory in items:
        if memory.kind != "episode" or not memory.source_ids:
            continue
        gone = sum(retired.get(source, 0) for source in memory.source_ids)
        if gone:
            left = sum(kept.get(source, 0) for source in memory.source_ids)
            stale[memory.id] = left / (left + gone)
    return stale | _stale_replies(items, moment)


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
    ("none") is no value."""
    retired: dict[str, datetime] = {}
    held: set[str] = set()
    for memory in items:
        value = memory.metadata.get("value")
        if memory.attribute is None or memory.kind == "preference" or not isinstance(value, str):
            continue
        folded = fold(value)
        if not folded or folded == "none":
            continue
        if current_at(memory, moment):
            held.add(folded)
            continue
        ends = [aware(t) for t in (memory.superseded_at, memory.valid_to) if t is not None]
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


def _session_of(memory: Memory) -> str | None:
    if memory.session_id is not None:
        return memory.session_id
    value = memory.metadata.get(SESSION_KEY)
    return value if isinstance(value, str) and value else None


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
    for memory_id in _superseded_endings(memories, features, terms):
        features[memory_id] = replace(features[memory_id], slot=0.0)
    # A question about what held before ("Where did I work before Zalando?", "my previous
    # job"), dated by no period, asks the value the slot held before the named or current
    # one: that retired fact holds the slot (and its turns are not stale), the current one
    # does not, and the slot's other retired facts are kept, below it.
    # Asked in the past tense about a slot the user ended ("Where did I do my PhD?" once
    # graduated, "Where did I work?" once the user left Google), unless the user said more
    # of the slot since (`_superseded_endings`), the value the ending ended holds the slot
    # as a question about before's does. Asked now ("Where do I work?"), only current
    # memories answer: the ending, which says it is over.
    named = past_asked(query) if current_only and not during and slots else None
    endings = [
        ending for ending in ended_slots(memories.values(), slots, now) if features[ending.id].slot
    ]
    if named is not None:
        earlier, past = _held_before(memories, slots, named, now)
    elif current_only and not during and endings and asks_past(query):
        earlier = past = _ended_values(memories, endings, now)
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
            for result in _fusion(dense, lexical, features, weights, groups)
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
