"""Vector helpers shared by every memory store: normalising, encoding, exact top-k (NumPy).

Stores keep vectors L2-normalised float32, so a dot product is the cosine similarity. Search
is exact brute force over the rows a filter selects: a matrix-vector product (~8 ms of CPU
per 100k 384-d rows) and an `argpartition`, with nothing to build or tune. Partitioning by
user keeps most searches to a few thousand rows.

Ranking is deterministic: among equal scores the smaller key (memory id) comes first, so
every backend returns the same order whatever order it scanned its rows in.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from engram._exceptions import InvalidInputError

__all__ = [
    "Matrix",
    "Vector",
    "contenders",
    "from_bytes",
    "normalize",
    "normalize_rows",
    "rank",
    "similarities",
    "stack_bytes",
    "to_bytes",
    "top_k",
]

Vector = NDArray[np.float32]
"""A 1-D float32 array."""
Matrix = NDArray[np.float32]
"""A 2-D float32 array: one vector per row."""

_DTYPE = np.dtype("<f4")
"""The on-disk encoding: little-endian float32, whatever the machine."""


def normalize(vector: object) -> Vector:
    """`vector` as a unit-length float32 1-D array (a new array).

    Raises:
        InvalidInputError: Not a non-empty 1-D array of finite numbers, or all zeros.
    """
    try:
        array = np.array(vector, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"not a numeric vector: {exc}") from exc
    if array.ndim != 1 or array.size == 0:
        raise InvalidInputError(f"a vector must be 1-D and non-empty, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise InvalidInputError("a vector must hold finite numbers only")
    norm = float(np.linalg.norm(array))
    if norm == 0.0 or not np.isfinite(norm):
        raise InvalidInputError("cannot normalise a zero vector")
    unit: Vector = array / np.float32(norm)
    return unit


def normalize_rows(rows: Sequence[object]) -> Matrix:
    """Many vectors of one dimension as a matrix of unit rows (one pass, a new array).

    Raises:
        InvalidInputError: The vectors are not all 1-D of one length, or one is all zeros or
            holds a non-finite number.
    """
    try:
        matrix = np.array(rows, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"not numeric vectors of one dimension: {exc}") from exc
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise InvalidInputError(f"vectors must be 1-D and non-empty, got shape {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise InvalidInputError("a vector must hold finite numbers only")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    if not (norms > 0).all() or not np.isfinite(norms).all():
        raise InvalidInputError("cannot normalise a zero vector")
    matrix /= norms
    return matrix


def to_bytes(vector: Vector) -> bytes:
    """The little-endian float32 bytes of `vector` (4 bytes per dimension)."""
    return np.asarray(vector, dtype=_DTYPE).tobytes()


def from_bytes(data: bytes, dim: int) -> Vector:
    """Inverse of `to_bytes`; a fresh, writable array.

    Raises:
        InvalidInputError: `data` does not hold exactly `dim` float32 values.
    """
    if len(data) != 4 * dim:
        raise InvalidInputError(f"a {dim}-d vector needs {4 * dim} bytes, got {len(data)}")
    vector: Vector = np.frombuffer(data, dtype=_DTYPE).astype(np.float32)
    return vector


def stack_bytes(blobs: Sequence[bytes], dim: int) -> Matrix:
    """Many `to_bytes` encodings as one `(len(blobs), dim)` matrix, in one copy."""
    joined = b"".join(blobs)
    if len(joined) != 4 * dim * len(blobs):
        raise InvalidInputError(f"vectors of {dim} dimensions expected")
    matrix: Matrix = np.frombuffer(joined, dtype=_DTYPE).reshape(len(blobs), dim)
    return matrix.astype(np.float32, copy=False)


def similarities(matrix: Matrix, query: Vector) -> NDArray[np.float32]:
    """`matrix @ query` (one score per row) on the calling thread only.

    A BLAS matrix-vector product hands rows to the library's worker threads; on a busy
    machine waking them costs milliseconds, far more than the product of a user's few
    thousand rows (~0.1 ms on one core), and grows with the rows. `einsum` runs its own
    single-threaded SIMD loop, as fast per core (faster than threaded BLAS at 100k rows
    here)."""
    scores: NDArray[np.float32] = np.einsum("ij,j->i", matrix, query)
    return scores


def top_k(scores: NDArray[np.floating], keys: Sequence[str], k: int) -> list[int]:
    """The indices of the `k` highest scores, best first; ties go to the smaller key.

    Linear in `len(scores)` (`argpartition`); only the rows tied at the cut-off and above
    are sorted.

    Args:
        scores: One score per row.
        keys: One key per row (the memory ids), to break ties.
        k: How many to return (fewer if there are fewer rows).
    """
    chosen = contenders(scores, k)
    return rank(chosen, scores, [keys[index] for index in chosen])[:k]


def contenders(scores: NDArray[np.floating], k: int) -> list[int]:
    """The indices that can be in the top `k`: every score at or above the k-th highest
    (more than `k` only when scores tie at the cut-off), in index order."""
    count = len(scores)
    if k <= 0 or count == 0:
        return []
    if k >= count:
        return list(range(count))
    threshold = np.partition(scores, count - k)[count - k]
    chosen: list[int] = np.flatnonzero(scores >= threshold).tolist()
    return chosen


def rank(indices: Sequence[int], scores: NDArray[np.floating], keys: Sequence[str]) -> list[int]:
    """`indices` best score first, ties by `keys` (`keys[i]` belongs to `indices[i]`)."""
    order = sorted(range(len(indices)), key=lambda i: (-float(scores[indices[i]]), keys[i]))
    return [indices[i] for i in order]
