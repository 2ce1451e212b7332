"""`OpenAIEmbedder`: embeddings from any OpenAI-compatible `POST {base_url}/embeddings`.

OpenAI, Ollama (`http://localhost:11434/v1`), vLLM and llama.cpp's server all speak it.
Requests, retries and error mapping are `OpenAICompatibleClient`'s, shared with the chat model.

Example:
    ```python
    with OpenAIEmbedder("nomic-embed-text", base_url="http://localhost:11434/v1") as embedder:
        vectors = embedder.embed(["I love pizza"])  # float32, unit rows
    ```
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import numpy as np

from engram._exceptions import InvalidInputError, ProviderError
from engram.providers._embeddings import Matrix, check_texts
from engram.providers._http import OpenAICompatibleClient, RetryPolicy

__all__ = ["OpenAIEmbedder"]

_PATH = "/embeddings"
_PROBE = "dimension probe"
_NATIVE_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
"""The vector length of OpenAI's embedding models when no `dimensions` is asked for."""


class OpenAIEmbedder(OpenAICompatibleClient):
    """An `EmbedderProtocol` over an OpenAI-compatible embeddings endpoint.

    Texts are sent `batch_size` at a time, one request after another. Every returned vector is
    re-normalised to unit length (not every server normalises; an all-zero vector is a
    `ProviderError`). Empty texts, which OpenAI rejects, are sent as a single space. Transient
    failures are retried with backoff as for `OpenAIChatModel`; the API key never appears in a
    repr, a log line or an error.

    The vectors' identity (`Engram.embedding_model_id`) is the model, the backend and, unless
    it is the model's `native_dimension`, the dimension: `text-embedding-3-small` asked for
    512 dimensions, or a server that swapped the model behind a name for one of another
    length, is another model.

    Args:
        model: The embedding model the endpoint serves, e.g. `text-embedding-3-small` or
            `nomic-embed-text`. It is the `model_id` recorded with the vectors.
        base_url: The API root, up to and including `/v1`.
        api_key: Bearer token; None sends no `Authorization` header (local servers).
        dimension: The vector length. Checked against every response when given; when None it
            is learned from the first response (reading `dimension` before any call sends one
            probe request; `aembed([])` sends it asynchronously).
        send_dimensions: Ask the endpoint for `dimension`-long vectors (the `dimensions`
            field that OpenAI's text-embedding-3 models accept); off by default because
            other servers reject the field.
        batch_size: Texts per request.
        timeout: Seconds allowed for each attempt of a request, from connecting to the last
            byte of the response.
        max_retries: Retries after the first attempt.
        backoff: Base backoff delay in seconds.
        transport: An httpx transport to send through instead of the network.

    Raises:
        ConfigError: `base_url` is not an http(s) URL.
        InvalidInputError: `batch_size` or `dimension` is out of range, or `send_dimensions`
            is set without `dimension`.
    """

    backend = "openai-compatible"

    def __init__(
        self,
        model: str,
        *,
        base_url: str = "https://api.openai.com/v1",
        api_key: str | None = None,
        dimension: int | None = None,
        send_dimensions: bool = False,
        batch_size: int = 128,
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if batch_size < 1:
            raise InvalidInputError(f"batch_size must be at least 1, got {batch_size}")
        if dimension is not None and dimension < 1:
            raise InvalidInputError(f"dimension must be at least 1, got {dimension}")
        if send_dimensions and dimension is None:
            raise InvalidInputError("send_dimensions=True needs a dimension")
        super().__init__(
            model,
            base_url=base_url,
            api_key=api_key,
            timeout=timeout,
            policy=RetryPolicy(max_retries=max_retries, backoff=backoff),
            transport=transport,
        )
        self.batch_size = batch_size
        self.send_dimensions = send_dimensions
        self._dimension = dimension

    @property
    def model_id(self) -> str:
        """The model name sent to the endpoint."""
        return self.model

    @property
    def dimension(self) -> int:
        """The vector length (sends one blocking probe request if it is not known yet)."""
        if self._dimension is not None:
            return self._dimension
        return int(self.embed([_PROBE]).shape[1])

    @property
    def known_dimension(self) -> int | None:
        """The vector length if known without a request: given, or learned from a response."""
        return self._dimension

    @property
    def native_dimension(self) -> int | None:
        """The model's vector length when no `dimensions` is asked for, if known (OpenAI's
        embedding models); None for other models."""
        return _NATIVE_DIMENSIONS.get(self.model)

    def embed(self, texts: Sequence[str]) -> Matrix:
        """Embed `texts`, `batch_size` per request.

        Returns:
            A float32 array of shape `(len(texts), dimension)` with L2-normalised rows.

        Raises:
            InvalidInputError: `texts` is a single string or holds a non-string.
            ProviderError: The endpoint rejected a request or answered vectors of the wrong
                number or length.
            ProviderUnavailable: The endpoint cannot be reached or kept failing.
        """
        batches = self._batches(check_texts(texts))
        if not batches:
            return np.empty((0, self.dimension), dtype=np.float32)
        return np.concatenate(
            [self._parse(self._post(_PATH, self._payload(batch)), len(batch)) for batch in batches]
        )

    async def aembed(self, texts: Sequence[str]) -> Matrix:
        """Async twin of `embed`."""
        batches = self._batches(check_texts(texts))
        if not batches:
            if self._dimension is None:
                await self.aembed([_PROBE])
            return np.empty((0, self.dimension), dtype=np.float32)
        parts = [
            self._parse(await self._apost(_PATH, self._payload(batch)), len(batch))
            for batch in batches
        ]
        return np.concatenate(parts)

    def _batches(self, texts: list[str]) -> list[list[str]]:
        size = self.batch_size
        return [texts[start : start + size] for start in range(0, len(texts), size)]

    def _payload(self, batch: list[str]) -> dict[str, Any]:
        payload: dict[str, Any] = {"model": self.model, "input": [text or " " for text in batch]}
        if self.send_dimensions:
            payload["dimensions"] = self._dimension
        return payload

    def _parse(self, body: Mapping[str, Any], count: int) -> Matrix:
        """The response's vectors in input order, checked and normalised."""
        items = body.get("data")
        if not isinstance(items, list) or len(items) != count:
            got = len(items) if isinstance(items, list) else "no"
            raise self._malformed(f"{got} embeddings for {count} input(s)")
        try:
            positions = [int(item.get("index", place)) for place, item in enumerate(items)]
            rows = [_vector(item["embedding"]) for item in items]
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise self._malformed("an item without a numeric `embedding`") from exc
        if sorted(positions) != list(range(count)):
            raise self._malformed(f"indexes {sorted(positions)} for {count} input(s)")
        self._dimension = self._checked_dimension({row.shape[0] for row in rows})
        by_position = dict(zip(positions, rows, strict=True))
        units = []
        for position in range(count):
            unit = _unit(by_position[position])
            if unit is None:
                raise self._malformed(f"a zero vector for input #{position}")
            units.append(unit)
        return np.stack(units)

    def _checked_dimension(self, lengths: set[int]) -> int:
        expected = self._dimension
        if len(lengths) != 1 or (expected is not None and lengths != {expected}):
            want = f"{expected}" if expected is not None else "one length"
            raise self._malformed(f"vectors of length {sorted(lengths)}, expected {want}")
        return lengths.pop()

    def _malformed(self, what: str) -> ProviderError:
        return ProviderError(f"{self.base_url}{_PATH} (model {self.model!r}) answered {what}")


def _vector(raw: Any) -> np.ndarray[Any, np.dtype[np.float64]]:
    """One embedding: a list of numbers, or base64 float32 (`encoding_format="base64"`), as
    float64 (a JSON number may lie beyond float32's range)."""
    if isinstance(raw, str):
        vector = np.frombuffer(base64.b64decode(raw, validate=True), dtype="<f4")
    else:
        if not isinstance(raw, list) or not raw:
            raise TypeError("embedding is not a non-empty list")
        vector = np.asarray(raw, dtype=np.float64)
    if vector.ndim != 1 or not vector.size or not np.all(np.isfinite(vector)):
        raise ValueError("embedding is not a finite vector")
    return vector.astype(np.float64)


def _unit(
    vector: np.ndarray[Any, np.dtype[np.float64]],
) -> np.ndarray[Any, np.dtype[np.float32]] | None:
    """`vector` scaled to unit length as float32, or None for a zero vector. Scaled by its
    largest component first, so neither huge (1e38) nor tiny components over- or underflow."""
    largest = float(np.max(np.abs(vector)))
    if largest == 0.0:
        return None
    scaled = vector / largest
    unit: np.ndarray[Any, np.dtype[np.float32]] = (scaled / np.linalg.norm(scaled)).astype(
        np.float32
    )
    return unit
