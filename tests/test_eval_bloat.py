"""`BloatMeter`: the evaluation consolidates each conversation and reports its bloat."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from engram.eval._bloat import BloatMeter
from engram.eval._records import EvalConversation, RetrievedItem


class _Inner:
    name = "fake"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def ingest(self, conversation: EvalConversation) -> None:
        self.calls.append(f"ingest {conversation.id}")

    def search(
        self, conversation_id: str, query: str, limit: int, asked_at: datetime | None = None
    ) -> list[RetrievedItem]:
        self.calls.append(f"search {conversation_id}")
        return []

    def forget(self, conversation_id: str) -> None:
        self.calls.append(f"forget {conversation_id}")


class _Memories:
    """Two users: `a` has 20% bloat that consolidation removes, `b` none."""

    def __init__(self, calls: list[str]) -> None:
        self.calls = calls
        self.merged: set[str] = set()

    def bloat(
        self, *, user_id: str, threshold: float = 0.92, kinds: Sequence[str] | None = None
    ) -> float:
        if kinds:
            return 0.01
        return 0.2 if user_id == "a" and user_id not in self.merged else 0.0

    def consolidate(self, *, user_id: str, threshold: float = 0.92) -> int:
        self.calls.append(f"consolidate {user_id}")
        self.merged.add(user_id)
        return 3 if user_id == "a" else 0


def test_consolidates_before_forgetting_and_reports_the_worst_user() -> None:
    inner = _Inner()
    meter = BloatMeter(inner, _Memories(inner.calls))
    assert meter.figures() == {}
    for user in ("a", "b"):
        meter.search(user, "q", 5)
        meter.forget(user)
    assert inner.calls == [
        "search a",
        "consolidate a",
        "forget a",
        "search b",
        "consolidate b",
        "forget b",
    ]
    assert meter.figures() == {
        "bloat": 0.0,
        "bloat_mean": 0.0,
        "bloat_before": 0.2,
        "bloat_episodes": 0.01,
        "consolidation_merges": 3,
    }
    assert meter.name == "fake"
