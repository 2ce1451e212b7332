"""The evaluation's adapter over the product: Engram's long-term memory API.

Each conversation is added as messages (with their dates, so relative times ground against
them), one call per session, under `user_id = conversation id`; a question is a
`memories.search(query, user_id=..., limit=...)`. A hit stands for the turns its memory was
derived from: `hit.memory.source_ids` are message ids, mapped back to the dataset's turn ids.
Its text is the line context assembly puts in the prompt (`context._recall.memory_line`: an
episode with its date), so evidence-in-context measures what the model would be shown.

Example:
    ```python
    with Engram("eval.db") as mem:
        retriever = EngramRetriever(mem.memories)
        run = evaluate(load_locomo(path), retriever)
    ```
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from datetime import datetime
from typing import Any, Protocol

from engram.context._recall import memory_line
from engram.eval._cache import DiskEmbeddingCache
from engram.eval._records import EvalConversation, RetrievedItem
from engram.types import Message
from engram.types._memory import MemoryHit

__all__ = ["EngramRetriever", "MemoriesProtocol"]


class MemoriesProtocol(Protocol):
    """The part of `Engram.memories` the evaluation uses."""

    def add(self, *, messages: Sequence[Message], user_id: str) -> Any:
        """Extract and store memories from `messages` for `user_id`."""
        ...

    def search(self, query: str, *, user_id: str, limit: int) -> Sequence[MemoryHit]:
        """The best `limit` memories of `user_id` for `query`."""
        ...

    def delete_all(self, *, user_id: str) -> Any:
        """Erase everything stored for `user_id`."""
        ...


class EngramRetriever:
    """A `RetrieverProtocol` over `Engram.memories`.

    Args:
        memories: The memory API (`Engram(path).memories`).
        keep: Keep each conversation's memories after its questions (default: erase them,
            so the database holds one conversation at a time).
        cache: The disk cache of the memories' embedder, if any: searches bypass it, so
            their latency includes embedding the query on every run, not only the first.
    """

    def __init__(
        self,
        memories: MemoriesProtocol,
        *,
        keep: bool = False,
        cache: DiskEmbeddingCache | None = None,
    ) -> None:
        self.memories = memories
        self.keep = keep
        self.cache = cache
        self._turn_of: dict[str, dict[str, str]] = {}

    @property
    def name(self) -> str:
        """A short description for reports."""
        return "engram"

    def ingest(self, conversation: EvalConversation) -> None:
        """Add every session of `conversation` as messages of user `conversation.id`."""
        turn_of: dict[str, str] = {}
        for session in conversation.sessions:
            messages = [turn.to_message() for turn in session.turns]
            turn_of.update(
                (message.id, turn.id) for message, turn in zip(messages, session.turns, strict=True)
            )
            if messages:
                self.memories.add(messages=messages, user_id=conversation.id)
        self._turn_of[conversation.id] = turn_of

    def search(
        self, conversation_id: str, query: str, limit: int, asked_at: datetime | None = None
    ) -> list[RetrievedItem]:
        """The best `limit` memories for `query`, their provenance mapped to turn ids.

        `asked_at` is not passed on: the API searches what is true now.
        """
        turn_of = self._turn_of.get(conversation_id, {})
        with self.cache.bypassed() if self.cache is not None else nullcontext():
            hits = self.memories.search(query, user_id=conversation_id, limit=limit)
        return [
            RetrievedItem(
                text=memory_line(hit),
                turn_ids=tuple(turn_of[s] for s in hit.memory.source_ids if s in turn_of),
                score=hit.score,
            )
            for hit in hits
        ]

    def forget(self, conversation_id: str) -> None:
        """Erase the conversation's memories (unless `keep`)."""
        self._turn_of.pop(conversation_id, None)
        if not self.keep:
            self.memories.delete_all(user_id=conversation_id)
