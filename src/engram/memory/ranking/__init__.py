"""Hybrid ranking: fuse dense, lexical and per-memory signals into one explained score.

Pure functions, no I/O: a store gathers the candidates (cosine and BM25 lists, best first,
each exact under the scope filter) and the memories they name; this package decides the order.

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
| a session's strength is its best 3 candidates (`fusion._session_shares`) | 0.779 | 0.897 |
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

```
weights       RankingWeights, DEFAULT_WEIGHTS           the fusion's parameters, tuned defaults
features      MemoryFeatures, memory_features, recency  one memory's signals for one query
fusion        fuse, complete_dense                      the lists and features -> one ranking
slots         asked_slots, fills_slot, slots_named      which slots a question asks, and whose
slot_history  ended_slots                               what held before, what an ending ended
filler        is_filler, is_echo                        chat turns with nothing to say
staleness     current_at, stale_episodes, past_periods  currency at a moment or in a period
rank          rank_memories                             the entry point: all of the above
```
"""

from engram.memory.ranking.features import (
    MemoryFeatures,
    QueryEntity,
    about_query,
    memory_features,
    recency,
)
from engram.memory.ranking.filler import is_echo, is_filler
from engram.memory.ranking.fusion import Ranked, complete_dense, fuse
from engram.memory.ranking.rank import rank_memories
from engram.memory.ranking.slot_history import ended_slots
from engram.memory.ranking.slots import asked_slots, fills_slot, slots_named
from engram.memory.ranking.staleness import (
    current_at,
    held_during,
    past_periods,
    stale_episodes,
    stale_preferences,
)
from engram.memory.ranking.weights import DEFAULT_WEIGHTS, FusionMethod, RankingWeights

__all__ = [
    "DEFAULT_WEIGHTS",
    "FusionMethod",
    "MemoryFeatures",
    "QueryEntity",
    "Ranked",
    "RankingWeights",
    "about_query",
    "asked_slots",
    "complete_dense",
    "current_at",
    "ended_slots",
    "fills_slot",
    "fuse",
    "held_during",
    "is_echo",
    "is_filler",
    "memory_features",
    "past_periods",
    "rank_memories",
    "recency",
    "slots_named",
    "stale_episodes",
    "stale_preferences",
]
