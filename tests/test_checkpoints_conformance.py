"""The checkpointer conformance suite, run against every built-in backend.

Backends: memory, SQLite file, SQLite `:memory:`, each through the sync and the async API,
with short list delta chains (`snapshot_every=3`) so rebuilding crosses snapshots often.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engram.stores.checkpoints import BaseCheckpointer
from engram.stores.memory_checkpoints import InMemoryCheckpointer
from engram.stores.sqlite import SqliteConnection
from engram.stores.sqlite.checkpoints import SqliteCheckpointer
from engram.testing.checkpoints import AsyncDrivenCheckpointer, CheckpointerSpec


@pytest.fixture(params=["memory", "sqlite-file", "sqlite-memory"])
def checkpoint_backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[BaseCheckpointer]:
    if request.param == "memory":
        yield InMemoryCheckpointer(snapshot_every=3)
    elif request.param == "sqlite-file":
        with SqliteCheckpointer.from_path(tmp_path / "engram.db", snapshot_every=3) as backend:
            yield backend
    else:
        conn = SqliteConnection(":memory:")
        yield SqliteCheckpointer(conn, snapshot_every=3)
        conn.close()


@pytest.fixture(params=["sync", "async"])
def checkpointer(
    request: pytest.FixtureRequest, checkpoint_backend: BaseCheckpointer
) -> BaseCheckpointer:
    if request.param == "async":
        return AsyncDrivenCheckpointer(checkpoint_backend)
    return checkpoint_backend


class TestCheckpointer(CheckpointerSpec):
    """Every spec of `engram.testing.checkpoints`, per backend and API."""
