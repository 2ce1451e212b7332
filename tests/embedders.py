"""Stand-in embedders for tests that need vectors but no model: deterministic, instant."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from engram.providers._embeddings import l2_normalize

__all__ = ["HashingEmbedder"]


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
