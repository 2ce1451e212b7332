"""The embedder contract, and a cache that makes any embedder embed each text once.

```
EmbedderProtocol                 embed() / aembed(): texts -> float32 (n, d), unit rows
├── LocalEmbedder                all-MiniLM-L6-v2, int8 ONNX, offline      (_onnx_embedder)
├── OpenAIEmbedder               POST {base_url}/embeddings                (_openai_embeddings)
└── CachedEmbedder               wraps any of them; content-hash cache, batch dedupe
EmbeddingCacheProtocol           get_many() / put_many() of float32 bytes by key
└── LRUEmbeddingCache            in-process, bounded (the default)
```

Vectors are identified by `EmbeddingSpace` (model id, dimension, backend): the stores record it
with every vector and re-embed when it changes. Two optional attributes refine the protocol:
`known_dimension` (None until an embedder that learns its dimension from a response has had
one) and `native_dimension` (the dimension the model has unless asked for another; None if
unknown). An embedder without them has one dimension, known from the start.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np
from numpy.typing import NDArray

from engram._exceptions import InvalidInputError, ProviderError

__all__ = [
    "CachedEmbedder",
    "EmbedderProtocol",
    "EmbeddingCacheProtocol",
    "EmbeddingSpace",
    "LRUEmbeddingCache",
    "cache_key",
    "embedding_space",
    "known_dimension",
    "l2_normalize",
    "native_dimension",
]

Matrix = NDArray[np.float32]
"""A float32 matrix of shape (n, d): one embedding per row."""

_NORM_EPS = 1e-12  # sentence-transformers' Normalize (torch.nn.functional.normalize) epsilon
_UNSET = object()  # an optional attribute the embedder does not have


class EmbedderProtocol(Protocol):
    """Turns texts into unit-length float32 vectors, in batches.

    Implementations must be deterministic for a given text (the cache relies on it) and must
    return one row per input text, in input order, each row L2-normalised (so a dot product
    is the cosine similarity). An empty input gives an empty `(0, dimension)` matrix.
    """

    @property
    def model_id(self) -> str:
        """The model's name, recorded with every vector (e.g. `BAAI/bge-small-en-v1.5`)."""
        ...

    @property
    def dimension(self) -> int:
        """The length of every vector."""
        ...

    def embed(self, texts: Sequence[str]) -> Matrix:
        """Embed `texts`.

        Args:
            texts: The texts, any number (batching is the embedder's business).

        Returns:
            A float32 array of shape `(len(texts), dimension)` with L2-normalised rows.

        Raises:
            ProviderError: The model or endpoint failed.
            ConfigError: The model cannot be loaded.
        """
        ...

    async def aembed(self, texts: Sequence[str]) -> Matrix:
        """Async twin of `embed`."""
        ...


class EmbeddingSpace(NamedTuple):
    """What makes two vectors comparable: same model, dimension and backend."""

    model_id: str
    """The model's name."""
    dimension: int
    """The vector length."""
    backend: str
    """How the model runs (`onnx-int8`, `openai-compatible`, ...): quantised and full-precision
    runs of one model give slightly different vectors."""


def embedding_space(embedder: EmbedderProtocol) -> EmbeddingSpace:
    """The `EmbeddingSpace` of `embedder`, to store with its vectors.

    An embedder without a `backend` attribute is identified by its class's qualified name.
    """
    return EmbeddingSpace(embedder.model_id, embedder.dimension, _backend_of(embedder))


def known_dimension(embedder: EmbedderProtocol) -> int | None:
    """`embedder`'s dimension if it is known without a request, else None (an embedder that
    learns it from its first response, before that response)."""
    known = getattr(embedder, "known_dimension", _UNSET)
    return embedder.dimension if known is _UNSET else _dimension_or_none(known)


def native_dimension(embedder: EmbedderProtocol) -> int | None:
    """The dimension `embedder`'s model has unless asked for another, if known: its
    `native_dimension`, else (an embedder with one dimension) its `dimension`."""
    native = getattr(embedder, "native_dimension", _UNSET)
    return embedder.dimension if native is _UNSET else _dimension_or_none(native)


def _dimension_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _backend_of(embedder: object) -> str:
    backend = getattr(embedder, "backend", None)
    if isinstance(backend, str) and backend:
        return backend
    cls = type(embedder)
    return f"{cls.__module__}.{cls.__qualname__}"


def l2_normalize(vectors: NDArray[Any]) -> Matrix:
    """Return `vectors` as float32 with every row scaled to unit length (zero rows stay zero)."""
    matrix = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    result: Matrix = matrix / np.maximum(norms, np.float32(_NORM_EPS))
    return result


def check_texts(texts: Sequence[str]) -> list[str]:
    """Return `texts` as a list, rejecting a bare string and items that are not text.

    Raises:
        InvalidInputError: `texts` is a `str` (embed `[text]` instead) or holds a non-`str`,
            or a string with a lone surrogate (`"\\ud800"`, which JSON's `\\u` escapes can
            produce): no tokenizer or endpoint takes it, as it is not Unicode text.
    """
    if isinstance(texts, str | bytes):
        raise InvalidInputError("embed() takes a sequence of texts, not one string: use [text]")
    items = list(texts)
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise InvalidInputError(f"text #{index} is {type(item).__name__}, not str")
        try:
            item.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidInputError(
                f"text #{index} is not valid UTF-8 text: {exc.reason}"
            ) from None
    return items


def cache_key(space_id: str, text: str, tenant: str | None = None) -> str:
    """The content hash a vector is cached under: sha256 of the embedder's identity and `text`,
    and of `tenant` if given.

    A tenant's keys are apart from every other tenant's (its name is hashed with its length)
    and from the keys without one (those start with the identity, a tenant's with
    `tenant\\x00`), so no tenant can tell from the cache what another embedded, nor erase
    another's vectors. Keys without a tenant are those of releases before tenants had theirs.
    """
    digest = hashlib.sha256()
    if tenant is not None:
        name = tenant.encode("utf-8", "surrogatepass")
        digest.update(b"tenant\x00%d:" % len(name) + name)
    digest.update(space_id.encode("utf-8"))
    digest.update(b"\x00")
    digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


class EmbeddingCacheProtocol(Protocol):
    """A key -> vector store for `CachedEmbedder`; vectors are little-endian float32 bytes.

    Persistent stores implement it to keep embeddings across processes (one round trip per
    batch, hence the `_many` methods). A cache that also has `delete_many(keys)` (as
    `LRUEmbeddingCache` has) loses the vectors of erased memories' texts when they are
    erased (`CachedEmbedder.forget`); one without it keeps them.
    """

    def get_many(self, keys: Sequence[str]) -> Mapping[str, bytes]:
        """The cached vectors among `keys` (missing keys are simply absent)."""
        ...

    def put_many(self, items: Mapping[str, bytes]) -> None:
        """Store (or overwrite) the vectors in `items`."""
        ...


class LRUEmbeddingCache:
    """A thread-safe in-process cache that keeps the `max_entries` most recently used vectors.

    A 384-d vector takes about 1.8 KB with its key, so the default holds ~18 MB.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        if max_entries < 1:
            raise InvalidInputError(f"max_entries must be at least 1, got {max_entries}")
        self.max_entries = max_entries
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        """The cached vectors among `keys`; each hit becomes the most recently used."""
        found: dict[str, bytes] = {}
        with self._lock:
            for key in keys:
                value = self._entries.get(key)
                if value is not None:
                    self._entries.move_to_end(key)
                    found[key] = value
        return found

    def put_many(self, items: Mapping[str, bytes]) -> None:
        """Store `items`, evicting the least recently used entries beyond `max_entries`."""
        with self._lock:
            for key, value in items.items():
                self._entries[key] = value
                self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def delete_many(self, keys: Sequence[str]) -> None:
        """Drop the entries of `keys` (absent ones are ignored)."""
        with self._lock:
            for key in keys:
                self._entries.pop(key, None)

    def delete_prefixed(self, prefix: str) -> None:
        """Drop every entry whose key starts with `prefix`."""
        with self._lock:
            for key in [key for key in self._entries if key.startswith(prefix)]:
                del self._entries[key]


def _user_prefix(tenant: str | None, user_id: str) -> str:
    """What the keys of the texts a user said (`CachedEmbedder.embed(user_id=)`) start with:
    a hash of the tenant and the user, each length-prefixed so no two pairs share it."""
    digest = hashlib.sha256()
    for part in ("" if tenant is None else tenant, user_id):
        name = part.encode("utf-8", "surrogatepass")
        digest.update(b"%d:" % len(name) + name)
    return digest.hexdigest()[:32] + ":"


class _MappingCache:
    """Adapts a plain `MutableMapping[str, bytes]` (a dict, a `shelve`) to the cache protocol."""

    def __init__(self, mapping: MutableMapping[str, bytes]) -> None:
        self.mapping = mapping

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        return {key: self.mapping[key] for key in keys if key in self.mapping}

    def put_many(self, items: Mapping[str, bytes]) -> None:
        self.mapping.update(items)

    def delete_many(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.mapping.pop(key, None)


@dataclass(slots=True)
class _Lookup:
    """The cache's answer for one call: known rows, and the distinct texts still to embed."""

    cache: EmbeddingCacheProtocol
    """Where the rows are looked up and the new ones stored."""
    keys: list[str]
    """The cache key of every input text, in input order."""
    found: dict[str, Matrix]
    """Key -> vector (shape (d,)) for the texts already embedded."""
    missing: dict[str, str]
    """Key -> text for the texts to embed, each distinct text once, in first-seen order."""


class CachedEmbedder:
    """Wraps an embedder so that no text is embedded twice.

    Texts are keyed by `cache_key` (sha256 of the inner embedder's model id, backend and the
    text, and of the tenant a call names: an `Engram`'s flows name theirs, so tenants sharing
    an embedder share no entries, and erasing one's text leaves the others'). Within one
    call, repeated texts are embedded once; across calls, cached vectors are reused. Vectors
    are stored as float32 bytes. A cached entry of the wrong length (written by a model of
    another dimension) counts as a miss and is overwritten; so does every entry while the
    inner embedder has yet to learn its dimension (its first call teaches it).

    The texts a user said (a search's query: `embed(user_id=)`) are cached apart, in this
    process only (`asked`, never in a persistent `cache`) under keys that name the user, so
    that the user's erasure drops every one of them (`forget(user_id=)`).

    Example:
        ```python
        embedder = CachedEmbedder(LocalEmbedder())
        first = embedder.embed(["hello", "hello", "world"])  # embeds 2 texts
        again = embedder.embed(["world"])                    # embeds nothing
        ```

    Args:
        inner: The embedder to call on cache misses.
        cache: Where vectors live: an `EmbeddingCacheProtocol` (e.g. a store), a plain
            `MutableMapping[str, bytes]`, or None for a fresh `LRUEmbeddingCache`.
    """

    def __init__(
        self,
        inner: EmbedderProtocol,
        cache: EmbeddingCacheProtocol | MutableMapping[str, bytes] | None = None,
    ) -> None:
        self.inner = inner
        if cache is None:
            cache = LRUEmbeddingCache()
        self.cache: EmbeddingCacheProtocol = (
            _MappingCache(cache) if isinstance(cache, MutableMapping) else cache
        )
        self.backend = _backend_of(inner)
        self._space_id = f"{inner.model_id}\x00{self.backend}"
        self.asked = LRUEmbeddingCache(max_entries=1_000)
        """The vectors of the texts users said (`embed(user_id=)`), keyed by user."""
        self.hits = 0
        """Texts answered from the cache (including repeats within a call)."""
        self.misses = 0
        """Distinct texts sent to the inner embedder."""

    def __repr__(self) -> str:
        return f"CachedEmbedder({self.inner!r})"

    @property
    def model_id(self) -> str:
        """The inner embedder's model id."""
        return self.inner.model_id

    @property
    def dimension(self) -> int:
        """The inner embedder's dimension."""
        return self.inner.dimension

    @property
    def known_dimension(self) -> int | None:
        """The inner embedder's dimension if known without a request (`known_dimension`)."""
        return known_dimension(self.inner)

    @property
    def native_dimension(self) -> int | None:
        """The inner embedder's model's native dimension (`native_dimension`)."""
        return native_dimension(self.inner)

    def embed(
        self, texts: Sequence[str], *, tenant: str | None = None, user_id: str | None = None
    ) -> Matrix:
        """Embed `texts`, calling the inner embedder only for texts never seen before (by
        `tenant`, if given: each tenant's entries are its own; and, if `user_id` is given,
        by that user: the texts are what the user said, cached in `asked`).

        Raises:
            InvalidInputError: `texts` is a single string or holds a non-string.
            ProviderError: The inner embedder failed or returned the wrong shape.
        """
        lookup = self._lookup(check_texts(texts), tenant, user_id)
        if not lookup.keys and self.known_dimension is None:
            return self.inner.embed([])  # it learns its dimension (the sync way)
        fresh = self.inner.embed(list(lookup.missing.values())) if lookup.missing else None
        return self._complete(lookup, fresh)

    async def aembed(
        self, texts: Sequence[str], *, tenant: str | None = None, user_id: str | None = None
    ) -> Matrix:
        """Async twin of `embed`."""
        lookup = self._lookup(check_texts(texts), tenant, user_id)
        if not lookup.keys and self.known_dimension is None:
            return await self.inner.aembed([])  # it learns its dimension (the async way)
        fresh = await self.inner.aembed(list(lookup.missing.values())) if lookup.missing else None
        return self._complete(lookup, fresh)

    def forget(
        self, texts: Sequence[str], *, tenant: str | None = None, user_id: str | None = None
    ) -> None:
        """Drop the cached vectors of `texts` (when their memories are erased) as `embed` with
        this `tenant` keyed them, if the cache can delete (`delete_many`, or a mapping's
        `pop`); a later `embed` computes them anew. Other tenants' entries stay; those without
        a tenant go too (a persistent cache holds them from before tenants were keyed).

        With `user_id` (the user's erasure), every text that user said (`embed(user_id=)`)
        goes too."""
        if user_id is not None:
            self.asked.delete_prefixed(_user_prefix(tenant, user_id))
        delete = getattr(self.cache, "delete_many", None)
        if callable(delete):
            items = check_texts(texts)
            keys = [cache_key(self._space_id, text, tenant) for text in items]
            if tenant is not None:
                keys += [cache_key(self._space_id, text) for text in items]
            delete(keys)

    def _lookup(self, texts: list[str], tenant: str | None, user_id: str | None) -> _Lookup:
        keys = [cache_key(self._space_id, text, tenant) for text in texts]
        cache = self.cache
        if user_id is not None:
            cache, prefix = self.asked, _user_prefix(tenant, user_id)
            keys = [prefix + key for key in keys]
        unique = list(dict.fromkeys(keys))
        dimension = self.known_dimension  # None: nothing to check the entries against yet
        cached = cache.get_many(unique) if unique and dimension is not None else {}
        found: dict[str, Matrix] = {}
        if cached and dimension is not None:
            size = 4 * dimension
            for key, raw in cached.items():
                if len(raw) == size:
                    found[key] = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        missing: dict[str, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in found:
                missing.setdefault(key, text)
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        return _Lookup(cache, keys, found, missing)

    def _complete(self, lookup: _Lookup, fresh: Matrix | None) -> Matrix:
        if fresh is not None:
            fresh = self._checked(fresh, len(lookup.missing))
            new = dict(zip(lookup.missing, fresh, strict=True))
            lookup.cache.put_many({key: row.astype("<f4").tobytes() for key, row in new.items()})
            lookup.found.update(new)
        if not lookup.keys:
            return np.empty((0, self.dimension), dtype=np.float32)
        return np.stack([lookup.found[key] for key in lookup.keys]).astype(np.float32, copy=False)

    def _checked(self, vectors: NDArray[Any], count: int) -> Matrix:
        matrix = np.asarray(vectors, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[0] != count:
            raise ProviderError(
                f"{self.inner!r} returned an array of shape {matrix.shape} for {count} text(s)"
            )
        if not np.isfinite(matrix).all():  # cached, it would be served again and again
            raise ProviderError(f"{self.inner!r} returned a vector with NaN or infinite values")
        return matrix
