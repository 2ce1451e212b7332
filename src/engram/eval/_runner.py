"""The evaluation loop: ingest each conversation, ask its questions, score the rankings.

Any retriever works through `RetrieverProtocol`; the in-process pipeline and the adapter over
the `Engram` API are the two shipped.

Per question (definitions in `engram.eval._metrics`; "k" counts distinct turns or sessions):

- `recall@k`: turn-level evidence recall over the first k distinct turns the results cover;
- `session_recall@k`: the same over the first k distinct sessions;
- `recall_all@k`: 1 if every evidence session is among the first k distinct sessions
  (LongMemEval's session-level `recall_all@k`); `recall_any@k`: 1 if any is;
- `in_context@<budget>`: the share of evidence turns whose content reaches the context: the
  results' texts packed greedily, best first, into the budget (tokens of
  `TokenCounter.for_model("gpt-4o")`), a turn counting when a packed result stands for it
  and holds its text;
- `official_recall_all@k` and `official_recall_any@k` (LongMemEval only): the same with the
  official labels, the sessions of the indexed `has_answer` turns (the official script's
  session granularity, whose BM25 baseline is the one the targets compare with); a question
  without such a turn has none, as the official averages skip it;
- `turn2session_recall_all@k` and `turn2session_recall_any@k` (LongMemEval only): the
  official turn granularity read at session level (`turn_labelled_sessions`): stricter, a
  turn of the evidence session that is not itself evidence takes a place of the k.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from engram.eval._metrics import (
    distinct_sessions,
    distinct_turns,
    in_context,
    recall_all_at_k,
    recall_any_at_k,
    recall_at_k,
    turn_labelled_sessions,
)
from engram.eval._records import EvalConversation, EvalQuestion, RetrievedItem
from engram.tokens import TokenCounter

__all__ = [
    "DEFAULT_BUDGETS",
    "DEFAULT_KS",
    "EvalSettings",
    "QuestionResult",
    "RetrieverProtocol",
    "RunResult",
    "evaluate",
    "score_question",
]

DEFAULT_KS: tuple[int, ...] = (1, 5, 10, 20)
DEFAULT_BUDGETS: tuple[int, ...] = (1000, 2000, 4000)


class RetrieverProtocol(Protocol):
    """What the evaluation needs from a memory system."""

    @property
    def name(self) -> str:
        """A short description for reports."""
        ...

    def ingest(self, conversation: EvalConversation) -> None:
        """Store every turn of `conversation` in one scope named by `conversation.id`."""
        ...

    def search(
        self, conversation_id: str, query: str, limit: int, asked_at: datetime | None = None
    ) -> list[RetrievedItem]:
        """The best `limit` items for `query` in the conversation's scope, best first."""
        ...

    def forget(self, conversation_id: str) -> None:
        """Release what was ingested for `conversation_id` (it will not be asked again)."""
        ...


@dataclass(frozen=True, slots=True)
class EvalSettings:
    """What to measure."""

    ks: tuple[int, ...] = DEFAULT_KS
    """Cut-offs of the recall metrics."""
    budgets: tuple[int, ...] = DEFAULT_BUDGETS
    """Token budgets of the evidence-in-context metric."""
    search_limit: int = 200
    """Results requested per question (enough to fill the largest budget)."""
    official: bool = False
    """Also compute LongMemEval's `official_recall_all@k` and `official_recall_any@k`."""
    model: str = "gpt-4o"
    """Whose tokenizer counts the budget."""


@dataclass(frozen=True, slots=True)
class QuestionResult:
    """The metrics of one question."""

    question_id: str
    category: str
    metrics: dict[str, float]
    """Metric name -> value (metrics undefined for the question are absent)."""
    latency_ms: float
    """Wall time of the search call."""


@dataclass(slots=True)
class RunResult:
    """Everything one evaluation run produced."""

    results: list[QuestionResult] = field(default_factory=list)
    ingest_seconds: float = 0.0
    """Total wall time of the `ingest` calls."""
    conversations: int = 0
    turns: int = 0
    """Turns ingested."""


def evaluate(
    conversations: Iterable[EvalConversation],
    retriever: RetrieverProtocol,
    settings: EvalSettings | None = None,
    *,
    on_question: Callable[[QuestionResult], None] | None = None,
) -> RunResult:
    """Ingest each conversation into `retriever`, ask its questions and score the answers.

    The retriever sees the turns (without the questions) at ingestion, and each question's
    text and date at search; evidence labels and answers never reach it.

    Args:
        conversations: The dataset.
        retriever: The memory system under test.
        settings: What to measure.
        on_question: Called after each question (progress reporting).

    Returns:
        The per-question results, the ingest time and counts.
    """
    settings = settings or EvalSettings()
    counter = _cached_counter(settings.model)
    run = RunResult()
    for conversation in conversations:
        started = time.perf_counter()
        retriever.ingest(replace(conversation, questions=()))  # no question reaches ingestion
        run.ingest_seconds += time.perf_counter() - started
        run.conversations += 1
        run.turns += len(conversation.turns)
        session_of = {turn.id: turn.session_id for turn in conversation.turns}
        texts = {turn.id: turn.text for turn in conversation.turns}
        for question in conversation.questions:
            started = time.perf_counter()
            items = retriever.search(
                conversation.id, question.text, settings.search_limit, question.asked_at
            )
            latency = (time.perf_counter() - started) * 1000
            metrics = score_question(question, items, session_of, settings, counter, texts)
            result = QuestionResult(question.id, question.category, metrics, latency)
            run.results.append(result)
            if on_question is not None:
                on_question(result)
        retriever.forget(conversation.id)
    return run


def score_question(
    question: EvalQuestion,
    items: Sequence[RetrievedItem],
    session_of: dict[str, str],
    settings: EvalSettings,
    count: Callable[[str], int],
    texts: Mapping[str, str] | None = None,
) -> dict[str, float]:
    """Every metric of one question's ranking (see the module docstring); `texts` (turn id ->
    what was said) lets `in_context` check that an evidence turn's words are in the context."""
    turns = distinct_turns(items)
    sessions = distinct_sessions(turns, session_of)
    metrics: dict[str, float] = {}
    if question.evidence_turns:
        for k in settings.ks:
            metrics[f"recall@{k}"] = recall_at_k(turns, question.evidence_turns, k)
        for budget in settings.budgets:
            name = f"in_context@{_budget_name(budget)}"
            metrics[name] = in_context(items, question.evidence_turns, budget, count, texts=texts)
    if question.evidence_sessions:
        for k in settings.ks:
            metrics[f"session_recall@{k}"] = recall_at_k(sessions, question.evidence_sessions, k)
            metrics[f"recall_all@{k}"] = recall_all_at_k(sessions, question.evidence_sessions, k)
            metrics[f"recall_any@{k}"] = recall_any_at_k(sessions, question.evidence_sessions, k)
    labelled = {session_of[turn] for turn in question.evidence_turns if turn in session_of}
    if settings.official and labelled:
        strict = turn_labelled_sessions(turns, session_of, question.evidence_turns)
        for k in settings.ks:
            metrics[f"official_recall_all@{k}"] = recall_all_at_k(sessions, labelled, k)
            metrics[f"official_recall_any@{k}"] = recall_any_at_k(sessions, labelled, k)
            metrics[f"turn2session_recall_all@{k}"] = recall_all_at_k(strict, labelled, k)
            metrics[f"turn2session_recall_any@{k}"] = recall_any_at_k(strict, labelled, k)
    return metrics


def _budget_name(budget: int) -> str:
    return f"{budget // 1000}k" if budget % 1000 == 0 else str(budget)


def _cached_counter(model: str) -> Callable[[str], int]:
    """`count_text` of the model's tokenizer, memoised (ranked texts repeat across budgets)."""
    counter = TokenCounter.for_model(model)
    counts: dict[str, int] = {}

    def count(text: str) -> int:
        value = counts.get(text)
        if value is None:
            value = counts[text] = counter.count_text(text)
        return value

    return count
