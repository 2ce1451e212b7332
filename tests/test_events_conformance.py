"""The event-log conformance suite, run against every built-in backend and both APIs.

Backends: memory, SQLite file, SQLite `:memory:`; each through the sync API and through
`abatch` (`AsyncDrivenEventLog`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engram.stores.events import BaseEventLog
from engram.stores.memory_events import InMemoryEventLog
from engram.stores.sqlite._internal import SqliteConnection
from engram.stores.sqlite.events import SqliteEventLog
from engram.testing.events import AsyncDrivenEventLog, EventLogSpec


@pytest.fixture(params=["memory", "sqlite-file", "sqlite-memory"])
def event_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BaseEventLog]:
    """A fresh, empty event log of each backend."""
    if request.param == "memory":
        yield InMemoryEventLog()
        return
    path = tmp_path / "engram.db" if request.param == "sqlite-file" else ":memory:"
    conn = SqliteConnection(path)
    yield SqliteEventLog(conn)
    conn.close()


@pytest.fixture(params=["sync", "async"])
def event_log(request: pytest.FixtureRequest, event_backend: BaseEventLog) -> BaseEventLog:
    """Each backend through its sync API, and through its async API (`abatch`)."""
    return AsyncDrivenEventLog(event_backend) if request.param == "async" else event_backend


class TestEventLog(EventLogSpec):
    """Every spec of `engram.testing.events`, per backend and API."""
