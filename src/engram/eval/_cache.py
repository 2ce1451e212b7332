"""A disk cache of embeddings, so re-running an evaluation embeds nothing twice.

Vectors are keyed by content hash (`CachedEmbedder`'s key: model, backend and text, and the
tenant for what an `Engram` embeds), stored in
one SQLite file outside the repository (default: `$TMPDIR/engram-eval/embeddings.sqlite`).
LongMemEval_S haystacks share many turns across questions; the key dedupes them.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from engram._exceptions import BackendError

__all__ = ["DiskEmbeddingCache", "default_cache_path"]

_CHUNK = 500  # keys per SELECT: below SQLite's bound-parameter limit


def default_cache_path() -> Path:
    """`<system temp dir>/engram-eval/embeddings.sqlite`."""
    return Path(tempfile.gettempdir()) / "engram-eval" / "embeddings.sqlite"


class DiskEmbeddingCache:
    """An `EmbeddingCacheProtocol` over a SQLite file (key -> float32 bytes).

    Args:
        path: The cache file; its directory is created if needed.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_cache_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            with self._db:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB)"
                )
        except (OSError, sqlite3.Error) as exc:
            raise BackendError(f"cannot open the embedding cache {self.path}: {exc}") from exc
        self._bypassed = False

    @contextmanager
    def bypassed(self) -> Iterator[None]:
        """Within the block the cache serves and keeps nothing: an evaluation's searches run
        in it, so their latency includes embedding the query, as a user's would."""
        self._bypassed = True
        try:
            yield
        finally:
            self._bypassed = False

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        """The cached vectors among `keys` (none while `bypassed`)."""
        found: dict[str, bytes] = {}
        if self._bypassed:
            return found
        try:
            for start in range(0, len(keys), _CHUNK):
                chunk = list(keys[start : start + _CHUNK])
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({marks})", chunk
                )
                found.update((str(key), bytes(vector)) for key, vector in rows)
        except sqlite3.Error as exc:
            raise BackendError(f"cannot read the embedding cache: {exc}") from exc
        return found

    def put_many(self, items: Mapping[str, bytes]) -> None:
        """Store `items` (overwriting; nothing while `bypassed`)."""
        if self._bypassed:
            return
        try:
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO vectors(key, vector) VALUES (?, ?)", items.items()
                )
        except sqlite3.Error as exc:
            raise BackendError(f"cannot write the embedding cache: {exc}") from exc
