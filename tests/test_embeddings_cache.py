"""CachedEmbedder and LRUEmbeddingCache: each distinct text is embedded once, results unchanged."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engram._exceptions import InvalidInputError, ProviderError
from engram.providers._embeddings import (
    CachedEmbedder,
    EmbedderProtocol,
    EmbeddingCacheProtocol,
    EmbeddingSpace,
    LRUEmbeddingCache,
    cache_key,
    embedding_space,
    l2_normalize,
)


class HashEmbedder:
    """A deterministic user-supplied embedder that records every text it is asked to embed."""

    model_id = "test/hash"
    dimension = 8
    backend = "numpy-hash"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        rows = [
            np.frombuffer(hashlib.sha256(text.encode()).digest(), dtype=np.uint8)[:8]
            for text in texts
        ]
        matrix = np.array(rows, dtype=np.float32).reshape(len(texts), self.dimension) + 1.0
        return l2_normalize(matrix)

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)

    @property
    def embedded(self) -> list[str]:
        return [text for call in self.calls for text in call]


class BackendlessEmbedder(HashEmbedder):
    backend = None  # type: ignore[assignment]


def test_protocol_is_satisfied_by_a_plain_class() -> None:
    embedder: EmbedderProtocol = HashEmbedder()
    cache: EmbeddingCacheProtocol = LRUEmbeddingCache()
    assert embedding_space(embedder) == EmbeddingSpace("test/hash", 8, "numpy-hash")
    assert cache.get_many(["nothing"]) == {}


def test_embedding_space_falls_back_to_the_class_name() -> None:
    space = embedding_space(BackendlessEmbedder())
    assert space.backend == f"{__name__}.BackendlessEmbedder"


def test_duplicates_within_a_batch_are_embedded_once() -> None:
    inner = HashEmbedder()
    embedder = CachedEmbedder(inner)

    vectors = embedder.embed(["a", "b", "a", "c", "b"])

    assert inner.calls == [["a", "b", "c"]]
    assert vectors.dtype == np.float32 and vectors.shape == (5, 8)
    np.testing.assert_array_equal(vectors, inner.embed(["a", "b", "a", "c", "b"]))
    assert (embedder.hits, embedder.misses) == (2, 3)


def test_texts_seen_before_are_not_embedded_again() -> None:
    inner = HashEmbedder()
    embedder = CachedEmbedder(inner)
    first = embedder.embed(["hello", "world"])

    second = embedder.embed(["world", "new", "hello"])

    assert inner.calls == [["hello", "world"], ["new"]]
    np.testing.assert_array_equal(second[[0, 2]], first[[1, 0]])


def test_fully_cached_call_does_not_touch_the_inner_embedder() -> None:
    inner = HashEmbedder()
    embedder = CachedEmbedder(inner)
    embedder.embed(["x"])
    embedder.embed(["x", "x"])
    assert inner.calls == [["x"]]


def test_empty_input() -> None:
    inner = HashEmbedder()
    vectors = CachedEmbedder(inner).embed([])
    assert vectors.shape == (0, 8) and vectors.dtype == np.float32
    assert inner.calls == []


def test_plain_dict_as_cache_holds_float32_bytes() -> None:
    store: dict[str, bytes] = {}
    inner = HashEmbedder()
    embedder = CachedEmbedder(inner, store)

    vector = embedder.embed(["café"])[0]

    key = cache_key("test/hash\x00numpy-hash", "café")
    assert list(store) == [key]
    assert store[key] == vector.astype("<f4").tobytes()
    # A second embedder over the same store reuses the vector.
    other_inner = HashEmbedder()
    CachedEmbedder(other_inner, store).embed(["café"])
    assert other_inner.calls == []


def test_cache_key_separates_models_and_backends() -> None:
    store: dict[str, bytes] = {}
    CachedEmbedder(HashEmbedder(), store).embed(["same text"])
    other = BackendlessEmbedder()
    CachedEmbedder(other, store).embed(["same text"])
    assert other.calls == [["same text"]]
    assert len(store) == 2


def test_entry_of_the_wrong_length_is_a_miss_and_is_overwritten() -> None:
    key = cache_key("test/hash\x00numpy-hash", "t")
    store = {key: np.ones(3, dtype="<f4").tobytes()}
    inner = HashEmbedder()

    vector = CachedEmbedder(inner, store).embed(["t"])[0]

    assert inner.calls == [["t"]]
    assert store[key] == vector.astype("<f4").tobytes()


class PersistentCache:
    """A user cache with the get_many/put_many protocol, counting round trips."""

    def __init__(self) -> None:
        self.rows: dict[str, bytes] = {}
        self.round_trips = 0

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        self.round_trips += 1
        return {key: self.rows[key] for key in keys if key in self.rows}

    def put_many(self, items: Mapping[str, bytes]) -> None:
        self.round_trips += 1
        self.rows.update(items)


def test_store_protocol_gets_one_round_trip_per_direction() -> None:
    cache = PersistentCache()
    embedder = CachedEmbedder(HashEmbedder(), cache)
    embedder.embed([f"text {i}" for i in range(50)] * 2)
    assert cache.round_trips == 2
    assert len(cache.rows) == 50


def test_inner_returning_the_wrong_shape_is_a_provider_error() -> None:
    class Broken(HashEmbedder):
        def embed(self, texts: Sequence[str]) -> np.ndarray:
            return super().embed(list(texts)[:-1])

    with pytest.raises(ProviderError, match="shape"):
        CachedEmbedder(Broken()).embed(["a", "b"])


@pytest.mark.parametrize("bad", ["a string", [1, 2], [b"bytes"]])
def test_rejects_non_text_input(bad: object) -> None:
    with pytest.raises(InvalidInputError):
        CachedEmbedder(HashEmbedder()).embed(bad)  # type: ignore[arg-type]


async def test_aembed_matches_embed_and_shares_the_cache() -> None:
    inner = HashEmbedder()
    embedder = CachedEmbedder(inner)
    texts = ["one", "two", "one"]

    asynchronous = await embedder.aembed(texts)
    synchronous = embedder.embed(texts)

    np.testing.assert_array_equal(asynchronous, synchronous)
    assert inner.calls == [["one", "two"]]


async def test_concurrent_aembed_calls_return_their_own_rows() -> None:
    embedder = CachedEmbedder(HashEmbedder())
    results = await asyncio.gather(*(embedder.aembed([f"t{i}", "shared"]) for i in range(5)))
    reference = HashEmbedder()
    for i, vectors in enumerate(results):
        np.testing.assert_array_equal(vectors, reference.embed([f"t{i}", "shared"]))


def test_lru_evicts_least_recently_used() -> None:
    cache = LRUEmbeddingCache(max_entries=2)
    cache.put_many({"a": b"1", "b": b"2"})
    assert cache.get_many(["a"]) == {"a": b"1"}  # a is now the most recent
    cache.put_many({"c": b"3"})
    assert cache.get_many(["a", "b", "c"]) == {"a": b"1", "c": b"3"}
    assert len(cache) == 2


def test_lru_rejects_a_non_positive_size() -> None:
    with pytest.raises(InvalidInputError):
        LRUEmbeddingCache(max_entries=0)


def test_lru_bound_holds_through_the_embedder() -> None:
    cache = LRUEmbeddingCache(max_entries=3)
    inner = HashEmbedder()
    embedder = CachedEmbedder(inner, cache)
    embedder.embed(["a", "b", "c", "d"])
    assert len(cache) == 3
    embedder.embed(["a"])  # evicted: embedded again
    assert inner.calls[-1] == ["a"]


def test_l2_normalize_keeps_zero_rows_zero() -> None:
    result = l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, [[0.6, 0.8], [0.0, 0.0]])


TEXTS = st.lists(st.text(max_size=12), max_size=12)


@settings(max_examples=60, deadline=None)
@given(batches=st.lists(TEXTS, min_size=1, max_size=5))
def test_each_distinct_text_is_embedded_once_and_results_are_unchanged(
    batches: list[list[str]],
) -> None:
    inner = HashEmbedder()
    embedder = CachedEmbedder(inner)
    reference = HashEmbedder()

    for texts in batches:
        vectors = embedder.embed(texts)
        assert vectors.shape == (len(texts), 8)
        if texts:
            np.testing.assert_array_equal(vectors, reference.embed(texts))

    embedded = inner.embedded
    assert len(embedded) == len(set(embedded))
    assert set(embedded) == {text for texts in batches for text in texts}


@pytest.mark.parametrize("cache", [None, {}], ids=["lru", "mapping"])
def test_forgotten_texts_are_embedded_again(cache: dict[str, bytes] | None) -> None:
    inner = HashEmbedder()
    cached = CachedEmbedder(inner, cache=cache)
    cached.embed(["secret", "kept"])
    cached.forget(["secret", "never embedded"])
    cached.embed(["secret", "kept"])
    assert inner.embedded == ["secret", "kept", "secret"]
