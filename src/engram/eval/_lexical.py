"""An in-memory BM25 index: the lexical signal of the in-process pipeline.

It scores with `engram.memory.bm25` (the tokeniser and BM25 every memory store uses) and
prepares queries with `engram.memory.queries.lexical_query` (stopwords removed), so its
scores are the store's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from engram.memory.bm25 import TermHashes, bm25_scores, term_hashes
from engram.memory.queries import lexical_query

__all__ = ["LexicalIndex"]


class LexicalIndex:
    """A BM25 index of short documents, identified by their position.

    Example:
        ```python
        index = LexicalIndex()
        index.add(["I adopted a dog", "Pizza tonight?"])
        index.search("who adopted a dog", 5)  # [(0, 1.3...)]
        ```

    Args:
        stopwords: Remove stopwords from queries (`lexical_query`).
    """

    def __init__(self, *, stopwords: bool = True) -> None:
        self.stopwords = stopwords
        self._documents: list[TermHashes] = []
        self._joined: tuple[TermHashes, NDArray[np.int64]] | None = None

    def __len__(self) -> int:
        return len(self._documents)

    def add(self, texts: Sequence[str]) -> None:
        """Index `texts`; their positions (0-based, across calls) are their ids."""
        self._documents.extend(term_hashes(text) for text in texts)
        self._joined = None

    def search(self, text: str, limit: int) -> list[tuple[int, float]]:
        """The best `limit` documents for `text`: `(position, bm25)`, best first.

        Documents matching no query term are left out; ties go to the earlier document.
        """
        query = term_hashes(lexical_query(text) if self.stopwords else text)
        flat, lengths = self._corpus()
        scores = bm25_scores(flat, lengths, query)
        matching = np.flatnonzero(scores > 0)
        order = matching[np.argsort(-scores[matching], kind="stable")][: max(limit, 0)]
        return [(int(position), float(scores[position])) for position in order]

    def _corpus(self) -> tuple[TermHashes, NDArray[np.int64]]:
        """Every document's terms concatenated, and the documents' lengths (built once)."""
        if self._joined is None:
            lengths = np.fromiter((doc.size for doc in self._documents), dtype=np.int64)
            flat = np.concatenate(self._documents) if lengths.sum() else np.zeros(0, np.int64)
            self._joined = (flat.astype(np.int64, copy=False), lengths)
        return self._joined
