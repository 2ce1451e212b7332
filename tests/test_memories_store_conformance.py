"""The memory-store conformance suite, run against every built-in backend and both APIs.

Backends: memory, SQLite file, SQLite `:memory:`; each through the sync API and through
`abatch` (`AsyncDrivenMemoryStore`). The SQLite store without its vector cache runs the suite
in test_memories_store_sqlite.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engram.stores.memories import BaseMemoryStore
from engram.stores.memory_memories import InMemoryMemoryStore
from engram.stores.sqlite._internal import SqliteConnection
from engram.stores.sqlite.memories import SqliteMemoryStore
from engram.testing.memories import AsyncDrivenMemoryStore, MemoryStoreSpec


@pytest.fixture(params=["memory", "sqlite-file", "sqlite-memory"])
def memory_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BaseMemoryStore]:
    """A fresh, empty memory store of each backend."""
    if request.param == "memory":
        yield InMemoryMemoryStore()
        return
    path = ":memory:" if request.param == "sqlite-memory" else tmp_path / "engram.db"
    conn = SqliteConnection(path)
    yield SqliteMemoryStore(conn, vector_cache_bytes=1 << 20)
    conn.close()


@pytest.fixture(params=["sync", "async"])
def memory_store(
    request: pytest.FixtureRequest, memory_backend: BaseMemoryStore
) -> BaseMemoryStore:
    """Each backend through its sync API, and through its async API (`abatch`)."""
    return AsyncDrivenMemoryStore(memory_backend) if request.param == "async" else memory_backend


class TestMemoryStore(MemoryStoreSpec):
    """Every spec of `engram.testing.memories`, per backend and API."""
