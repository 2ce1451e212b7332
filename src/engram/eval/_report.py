"""Aggregate per-question results into the report (one JSON-ready mapping)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from engram.eval._metrics import percentile
from engram.eval._runner import QuestionResult, RunResult

__all__ = ["mean_metrics", "summarize"]


def mean_metrics(results: Iterable[QuestionResult]) -> dict[str, float]:
    """The mean of each metric over the questions that define it, rounded to 4 places."""
    sums: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for result in results:
        for name, value in result.metrics.items():
            sums[name] += value
            counts[name] += 1
    return {name: round(sums[name] / counts[name], 4) for name in _ordered(sums)}


def summarize(
    run: RunResult, *, dataset: str, retriever: str, settings: Mapping[str, Any]
) -> dict[str, Any]:
    """The report: overall means, means per category, latency, ingest time, settings.

    The overall metrics are top-level keys (`recall@10`, `in_context@2k`, ...).
    """
    latencies = [result.latency_ms for result in run.results]
    by_category: dict[str, list[QuestionResult]] = defaultdict(list)
    for result in run.results:
        by_category[result.category].append(result)
    return {
        "dataset": dataset,
        "retriever": retriever,
        "questions": len(run.results),
        "conversations": run.conversations,
        "turns": run.turns,
        **mean_metrics(run.results),
        "search_p50_ms": round(percentile(latencies, 50), 2),
        "search_p95_ms": round(percentile(latencies, 95), 2),
        "ingest_seconds": round(run.ingest_seconds, 2),
        "per_category": {
            category: {"questions": len(items), **mean_metrics(items)}
            for category, items in sorted(by_category.items())
        },
        "settings": dict(settings),
    }


def _ordered(names: Iterable[str]) -> Sequence[str]:
    """Metric names grouped by family, cut-offs in numeric order."""

    def key(name: str) -> tuple[str, float]:
        family, _, cut = name.partition("@")
        number = cut.rstrip("k")
        scale = 1000 if cut.endswith("k") else 1
        return family, float(number) * scale if number.isdigit() else 0.0

    return sorted(names, key=key)
