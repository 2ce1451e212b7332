"""Retrieval evaluation on LoCoMo and LongMemEval: does memory find the evidence?

```
load_locomo / load_longmemeval   dataset file -> EvalConversation (turns, dated sessions, questions)
RetrieverProtocol                ingest(conversation) / search(id, query, limit) / forget(id)
├── InProcessRetriever           episodes + BM25 + MiniLM + ranking.fuse, no database (tuning)
└── EngramRetriever              over Engram.memories (the product)
evaluate                         ingest, ask, score -> RunResult
summarize                        RunResult -> the report (JSON-ready)
run_currency                     belief-currency scenarios over Engram.memories
```

`engram eval locomo|longmemeval --data PATH` and `engram eval currency` run them from the
command line.

What is measured (per question, then averaged over the questions that define it; the
definitions are in `_metrics` and `_runner`): a retrieved memory stands for the turns of its
provenance, and the ranking is read as the list of distinct turns (or sessions) it covers, so
"k" is always k turns or k sessions whatever the unit of memory.

- LoCoMo: categories 1-4, both speakers' turns indexed; `recall@k` (turn level, the share of
  the evidence turns among the first k turns), `session_recall@k`, `recall_all@k` (session
  level), `in_context@1k/2k/4k` (the share of evidence turns whose text reaches the context:
  the memories' lines packed greedily, best first, into a gpt-4o token budget, a turn counting
  when a packed memory derived from it holds its text), search latency p50/p95 (the
  `RetrieverProtocol.search` call only, embedding the query included: the CLI's disk cache
  keeps the turns' vectors between runs, never the questions'), ingest time.
- LongMemEval: user turns only, abstention questions skipped; `recall_all@k` (every
  `answer_session_ids` session among the first k distinct sessions), `recall_any@k` (one of
  them), `official_recall_all@k`/`official_recall_any@k` (the official code's labels at its
  session granularity: sessions of `has_answer` user turns; a question without any is left
  out, as the official averages do), and `turn2session_recall_all@k`/`..._any@k` (the
  official turn granularity read at session level: a non-evidence turn of an evidence
  session takes a place of the k).
"""

from engram.eval._cache import DiskEmbeddingCache, default_cache_path
from engram.eval._currency import (
    CURRENCY_SCENARIOS,
    CurrencyResult,
    CurrencyScenario,
    run_currency,
)
from engram.eval._engram_adapter import EngramRetriever, MemoriesProtocol
from engram.eval._lexical import LexicalIndex
from engram.eval._locomo import LOCOMO_CATEGORIES, load_locomo, parse_evidence
from engram.eval._longmemeval import load_longmemeval
from engram.eval._metrics import (
    distinct_sessions,
    distinct_turns,
    in_context,
    pack_context,
    percentile,
    recall_all_at_k,
    recall_any_at_k,
    recall_at_k,
    turn_labelled_sessions,
)
from engram.eval._pipeline import InProcessRetriever, PipelineOptions
from engram.eval._records import (
    EvalConversation,
    EvalQuestion,
    EvalSession,
    EvalTurn,
    RetrievedItem,
)
from engram.eval._report import mean_metrics, summarize
from engram.eval._runner import (
    EvalSettings,
    QuestionResult,
    RetrieverProtocol,
    RunResult,
    evaluate,
    score_question,
)

__all__ = [
    "CURRENCY_SCENARIOS",
    "LOCOMO_CATEGORIES",
    "CurrencyResult",
    "CurrencyScenario",
    "DiskEmbeddingCache",
    "EngramRetriever",
    "EvalConversation",
    "EvalQuestion",
    "EvalSession",
    "EvalSettings",
    "EvalTurn",
    "InProcessRetriever",
    "LexicalIndex",
    "MemoriesProtocol",
    "PipelineOptions",
    "QuestionResult",
    "RetrievedItem",
    "RetrieverProtocol",
    "RunResult",
    "default_cache_path",
    "distinct_sessions",
    "distinct_turns",
    "evaluate",
    "in_context",
    "load_locomo",
    "load_longmemeval",
    "mean_metrics",
    "pack_context",
    "parse_evidence",
    "percentile",
    "recall_all_at_k",
    "recall_any_at_k",
    "recall_at_k",
    "run_currency",
    "score_question",
    "summarize",
    "turn_labelled_sessions",
]
