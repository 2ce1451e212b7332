"""Stand-in embedders for tests that need vectors but no model: deterministic, instant."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from engram.providers._embeddings import l2_normalize

__all__ = ["CountingEmbedder", "HashingEmbedder"]


class HashingEmbedder:
    """A deterministic bag-of-words embedder: each word adds to one of 64 dimensions (texts
    sharing words are near, as with a real model, without weights to load)."""

    model_id = "test/hashing"
    dimension = 64
    backend = "numpy"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                rows[row, sum(map(ord, word)) % self.dimension] += 1.0
        return l2_normalize(rows)

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)


class CountingEmbedder:
    """A deterministic embedder that records every text the model is asked for."""

    model_id = "test/counting"
    dimension = 16
    backend = "numpy"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        rows = [np.frombuffer(hashlib.sha256(t.encode()).digest()[:16], np.uint8) for t in texts]
        matrix = np.array(rows, dtype=np.float32).reshape(len(texts), self.dimension) + 1.0
        return l2_normalize(matrix)

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)

    def count(self, text: str) -> int:
        """How many times the model embedded `text`."""
        return sum(call.count(text) for call in self.calls)
