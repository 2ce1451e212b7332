"""The event-log conformance suite, run against every built-in backend and both APIs.

Backends: memory, SQLite file, SQLite `:memory:`; each through the sync API and through
`abatch` (`AsyncDrivenEventLog`). (PostgreSQL and Redis run the suite in their own test
modules.) `TestLargeAppend` runs on every backend, PostgreSQL and Redis included.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engram._exceptions import ConflictError
from engram.stores.events import AppendEvents, BaseEventLog, DeleteStream
from engram.testing.events import TENANT, AsyncDrivenEventLog, EventLogSpec
from engram.types import Event
from servers import LoopBoundEventLog, fresh_store, open_store

pytest_plugins = ["servers"]


@pytest.fixture(params=["memory", "sqlite-file", "sqlite-memory"])
def event_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BaseEventLog]:
    """A fresh, empty event log of each backend."""
    with fresh_store(request, tmp_path, "EventLog") as log:
        yield log


@pytest.fixture(params=["sync", "async"])
def event_log(request: pytest.FixtureRequest, event_backend: BaseEventLog) -> BaseEventLog:
    """Each backend through its sync API, and through its async API (`abatch`)."""
    return AsyncDrivenEventLog(event_backend) if request.param == "async" else event_backend


class TestEventLog(EventLogSpec):
    """Every spec of `engram.testing.events`, per backend and API."""


# One large append (20,000 events) on every backend.

LARGE = 20_000


@pytest.fixture(params=["memory", "sqlite", "postgres", "redis", "redis-async"])
def any_event_log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BaseEventLog]:
    """A fresh, empty event log of each backend (the servers' only when asked for)."""
    if request.param == "redis-async":
        yield from _async_redis_log(request)
        return
    with fresh_store(request, tmp_path, "EventLog") as log:
        yield log


def _async_redis_log(request: pytest.FixtureRequest) -> Iterator[BaseEventLog]:
    from engram.stores.redis import AsyncRedisEventLog, RedisEventLog

    url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
    classes = (RedisEventLog, AsyncRedisEventLog, LoopBoundEventLog)
    with open_store(url, prefix, "async", *classes) as log:
        yield log


def _events(start: int, count: int) -> list[Event]:
    return [Event(type="custom", payload={"i": i}) for i in range(start, start + count)]


def _same_id(event: Event) -> Event:
    """Another event with `event`'s id."""
    return Event(type="custom", payload={"i": -1}, id=event.id)


def _version(log: BaseEventLog, stream_id: str) -> int:
    info = log.get_stream(TENANT, stream_id)
    return 0 if info is None else info.version


@pytest.mark.slow
class TestLargeAppend:
    """One append of `LARGE` events is stored whole, and keeps every rule (no timing asserted)."""

    def test_all_stored_in_order_without_gaps(self, any_event_log: BaseEventLog) -> None:
        events = _events(0, LARGE)
        result = any_event_log.append(
            TENANT, "big", events, expected_version=0, idempotency_key="k"
        )
        assert (result.first_version, result.last_version) == (1, LARGE)
        stored = list(any_event_log.iter_events(TENANT, "big"))
        assert [event.version for event in stored] == list(range(1, LARGE + 1))
        assert [event.id for event in stored] == [event.id for event in events]
        assert [event.payload["i"] for event in stored] == list(range(LARGE))
        again = any_event_log.append(TENANT, "big", events, idempotency_key="k")
        assert again.duplicate and again.events == result.events
        with pytest.raises(ConflictError):
            any_event_log.append(TENANT, "big", _events(LARGE, 1), expected_version=LARGE - 1)
        more = any_event_log.append(TENANT, "big", _events(LARGE, 2), expected_version=LARGE)
        assert more.last_version == LARGE + 2

    def test_a_duplicate_id_refuses_the_whole_append(self, any_event_log: BaseEventLog) -> None:
        stored = _events(0, LARGE)
        any_event_log.append(TENANT, "s1", stored)
        batch = _events(LARGE, LARGE)
        refused = [
            ("s2", [*batch, _same_id(batch[0])]),  # twice in the batch
            ("s2", [*batch, _same_id(stored[-1])]),  # stored in another stream
            ("s1", [*batch, _same_id(stored[0])]),  # stored in the same stream
        ]
        for stream, events in refused:
            with pytest.raises(ConflictError):
                any_event_log.append(TENANT, stream, events)
        assert _version(any_event_log, "s1") == LARGE
        assert _version(any_event_log, "s2") == 0
        # The refused appends claimed none of their ids: without the duplicate, it goes in.
        assert any_event_log.append(TENANT, "s2", batch).last_version == LARGE

    def test_a_deleted_streams_ids_are_free_in_the_same_batch(
        self, any_event_log: BaseEventLog
    ) -> None:
        events = _events(0, LARGE)
        any_event_log.append(TENANT, "old", events)
        moved = tuple(_same_id(event) for event in events)
        any_event_log.batch([DeleteStream(TENANT, "old"), AppendEvents(TENANT, "new", moved)])
        assert _version(any_event_log, "old") == 0
        stored = list(any_event_log.iter_events(TENANT, "new"))
        assert [event.id for event in stored] == [event.id for event in events]
        assert [event.version for event in stored] == list(range(1, LARGE + 1))
        with pytest.raises(ConflictError):
            any_event_log.append(TENANT, "old", [_same_id(events[LARGE // 2])])
