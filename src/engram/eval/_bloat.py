"""Memory bloat in the evaluation: consolidate each conversation's memories, measure duplicates.

`BloatMeter` wraps the Engram retriever. When a conversation's questions are done (just
before its memories are released), it measures the user's bloat (`Memories.bloat`: the share
of current memories that are redundant near-duplicates), runs the consolidation job
(`Memories.consolidate`), and measures again. The questions are asked before consolidating,
so recall figures are those of the memories as ingested.

Example:
    ```python
    meter = BloatMeter(EngramRetriever(mem.memories), mem.memories)
    run = evaluate(conversations, meter)
    meter.figures()  # {"bloat": ..., "bloat_before": ..., "consolidation_merges": ...}
    ```
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from engram.eval._records import EvalConversation, RetrievedItem
from engram.eval._runner import RetrieverProtocol

__all__ = ["BloatMeter"]


class _Maintenance(Protocol):
    def bloat(
        self, *, user_id: str, threshold: float = ..., kinds: Sequence[str] | None = ...
    ) -> float: ...

    def consolidate(self, *, user_id: str, threshold: float = ...) -> int: ...


class BloatMeter:
    """A `RetrieverProtocol` that consolidates and measures bloat before each `forget`.

    Args:
        inner: The retriever whose users are `memories`' users (conversation ids).
        memories: `Engram.memories`.
        threshold: The near-duplicate cosine (consolidation's default).
    """

    def __init__(
        self, inner: RetrieverProtocol, memories: _Maintenance, threshold: float = 0.92
    ) -> None:
        self.inner = inner
        self.memories = memories
        self.threshold = threshold
        self.per_user: dict[str, tuple[float, int, float, float]] = {}
        """conversation id -> (bloat before, merges, bloat after, episodes' bloat)."""

    @property
    def name(self) -> str:
        return self.inner.name

    def ingest(self, conversation: EvalConversation) -> None:
        self.inner.ingest(conversation)

    def search(
        self, conversation_id: str, query: str, limit: int, asked_at: datetime | None = None
    ) -> list[RetrievedItem]:
        return self.inner.search(conversation_id, query, limit, asked_at)

    def forget(self, conversation_id: str) -> None:
        """Measure, consolidate and measure the conversation's memories; then release them."""
        before = self.memories.bloat(user_id=conversation_id, threshold=self.threshold)
        merges = self.memories.consolidate(user_id=conversation_id, threshold=self.threshold)
        after = self.memories.bloat(user_id=conversation_id, threshold=self.threshold)
        episodes = self.memories.bloat(
            user_id=conversation_id, threshold=self.threshold, kinds=["episode"]
        )
        self.per_user[conversation_id] = (before, merges, after, episodes)
        self.inner.forget(conversation_id)

    def figures(self) -> dict[str, Any]:
        """The worst user's bloat after consolidating (`bloat`), before it (`bloat_before`),
        and among the episodes (the turns themselves, which consolidation leaves alone)."""
        if not self.per_user:
            return {}
        before, merges, after, episodes = zip(*self.per_user.values(), strict=True)
        return {
            "bloat": round(max(after), 4),
            "bloat_mean": round(sum(after) / len(after), 4),
            "bloat_before": round(max(before), 4),
            "bloat_episodes": round(max(episodes), 4),
            "consolidation_merges": sum(merges),
        }
