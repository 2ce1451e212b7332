"""The in-process retriever: the product's extraction and ranking, without a database.

Each session's turns become messages; `engram.memory.extraction.extract` (the deterministic
extractor the product uses) turns them into candidates: one `episode` per turn, plus
rule-based facts, each with its provenance, session and (episodes) the lines of the turns
before it. What gets indexed is `texts.index_text`: by default what the stores index (BM25:
an episode with its speaker after the two previous turns of its session, `lexical_text`; the
embedding: the turn with its speaker, `dense_text`); the options vary it for tuning.
Candidates come from a BM25 index (`engram.memory.bm25`, as in the stores) and an exact
cosine scan; `ranking.rank_memories` fuses them, the function the product's search uses, so
the weights tuned here are the product's defaults.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from engram.context._recall import memory_line
from engram.eval._lexical import LexicalIndex
from engram.eval._records import EvalConversation, EvalSession, RetrievedItem
from engram.memory.extraction import extract
from engram.memory.queries import entities_in_query
from engram.memory.ranking import DEFAULT_WEIGHTS, RankingWeights, complete_dense, rank_memories
from engram.memory.texts import LEXICAL_CONTEXT, index_text
from engram.providers._embeddings import EmbedderProtocol, Matrix
from engram.types import Message
from engram.types._memory import Memory, MemoryHit

__all__ = ["InProcessRetriever", "PipelineOptions"]


@dataclass(frozen=True, slots=True)
class PipelineOptions:
    """What the in-process pipeline indexes and how it ranks."""

    lexical_context: int = LEXICAL_CONTEXT
    """Previous turns of the session indexed with an episode for BM25 (`texts.index_text`;
    at most `LEXICAL_CONTEXT`, the lines extraction keeps)."""
    dense_context: int = 0
    """Previous turns of the session embedded with an episode (at most `LEXICAL_CONTEXT`)."""
    speaker: bool = True
    """Index each turn with its speaker's name (`Caroline: ...`; context lines keep theirs)."""
    facts: bool = True
    """Also index the extractor's facts (not only the episodes)."""
    candidates: int = 200
    """Length of each signal's candidate list."""
    dense: bool = True
    """Use the embedding signal."""
    lexical: bool = True
    """Use the BM25 signal."""
    stopwords: bool = True
    """Remove stopwords from BM25 queries."""
    weights: RankingWeights = DEFAULT_WEIGHTS
    """The fusion parameters."""


@dataclass(slots=True)
class _Scope:
    """One ingested conversation: its memories, their vectors and BM25 index."""

    memories: list[Memory]
    turn_of: dict[str, str]
    vectors: Matrix
    lexical: LexicalIndex
    people: tuple[str, ...]


class InProcessRetriever:
    """A `RetrieverProtocol` over in-memory indexes (no database), for fast tuning.

    Args:
        embedder: Embeds indexed texts and queries (wrap it in a `CachedEmbedder` with a
            `DiskEmbeddingCache` to embed each text once across runs); None disables the
            dense signal.
        options: What to index and how to rank.
        query_embedder: Embeds the queries (default: `embedder`); pass the uncached model
            so the measured search latency includes embedding the query.
    """

    def __init__(
        self,
        embedder: EmbedderProtocol | None,
        options: PipelineOptions | None = None,
        *,
        query_embedder: EmbedderProtocol | None = None,
    ) -> None:
        self.embedder = embedder
        self.query_embedder = query_embedder or embedder
        self.options = options or PipelineOptions()
        self._scopes: dict[str, _Scope] = {}

    @property
    def name(self) -> str:
        """A short description for reports."""
        return "in-process"

    def ingest(self, conversation: EvalConversation) -> None:
        """Extract and index the memories of every session of `conversation`."""
        people = tuple(sorted({turn.speaker for turn in conversation.turns}))
        memories: list[Memory] = []
        turn_of: dict[str, str] = {}
        for session in conversation.sessions:
            messages = [turn.to_message() for turn in session.turns]
            turn_of.update((m.id, t.id) for m, t in zip(messages, session.turns, strict=True))
            memories.extend(self._memories(conversation.id, session, messages))
        options = self.options
        lexical = LexicalIndex(stopwords=options.stopwords)
        if options.lexical:
            lexical.add([self._text(memory, options.lexical_context) for memory in memories])
        vectors = self._embed([self._text(memory, options.dense_context) for memory in memories])
        self._scopes[conversation.id] = _Scope(memories, turn_of, vectors, lexical, people)

    def search(
        self, conversation_id: str, query: str, limit: int, asked_at: datetime | None = None
    ) -> list[RetrievedItem]:
        """The best `limit` memories for `query`, their provenance mapped to turn ids, each
        as the line context assembly puts in the prompt (as `EngramRetriever`'s)."""
        turn_of = self._scopes[conversation_id].turn_of
        return [
            RetrievedItem(
                text=memory_line(hit),
                turn_ids=tuple(turn_of[s] for s in hit.memory.source_ids if s in turn_of),
                score=hit.score,
            )
            for hit in self.search_hits(conversation_id, query, limit, asked_at)
        ]

    def search_hits(
        self, conversation_id: str, query: str, limit: int, asked_at: datetime | None = None
    ) -> list[MemoryHit]:
        """Like `search`, returning the ranked `MemoryHit`s with their score parts."""
        scope = self._scopes[conversation_id]
        count = self.options.candidates
        found = scope.lexical.search(query, count)
        lexical = [(scope.memories[position].id, score) for position, score in found]
        dense = self._dense(scope, query, count, [position for position, _ in found])
        pool = {memory_id for memory_id, _ in [*dense, *lexical]}
        by_id = {memory.id: memory for memory in scope.memories if memory.id in pool}
        return rank_memories(
            by_id,
            dense,
            lexical,
            query=query,
            query_entities=entities_in_query(query, scope.people),
            now=asked_at,
            weights=self.options.weights,
            limit=limit,
        )

    def forget(self, conversation_id: str) -> None:
        """Drop a conversation's indexes."""
        self._scopes.pop(conversation_id, None)

    def _memories(
        self, conversation_id: str, session: EvalSession, messages: Sequence[Message]
    ) -> list[Memory]:
        """The session's memories, as the product's extractor proposes them (each episode
        with its context lines, each memory with its session: see `extraction.extract`)."""
        return [
            candidate.to_memory(user_id=conversation_id, now=session.at)
            for candidate in extract(messages)
            if candidate.kind == "episode" or self.options.facts
        ]

    def _text(self, memory: Memory, context: int) -> str:
        return index_text(memory, context=context, speaker=self.options.speaker)

    def _embed(self, texts: list[str]) -> Matrix:
        if self.embedder is None or not self.options.dense:
            return np.empty((len(texts), 0), dtype=np.float32)
        return self.embedder.embed(texts)

    def _dense(
        self, scope: _Scope, query: str, count: int, also: list[int]
    ) -> list[tuple[str, float]]:
        """The `count` nearest memories, plus the cosines of the `also` positions (as the
        product's search scores its lexical candidates: `ranking.complete_dense`)."""
        if self.query_embedder is None or not self.options.dense or not scope.memories:
            return []
        vector = self.query_embedder.embed([query])[0]
        scores = scope.vectors @ vector
        count = min(count, len(scores))
        top = np.argpartition(-scores, count - 1)[:count]
        top = top[np.argsort(-scores[top], kind="stable")]
        nearest = [(scope.memories[index].id, float(scores[index])) for index in top]
        return complete_dense(nearest, [(scope.memories[i].id, float(scores[i])) for i in also])
