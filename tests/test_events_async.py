"""Sync/async parity of the event log and of replay: one scenario, both APIs, same outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engram._exceptions import ConflictError
from engram.state.events import (
    Replay,
    SnapshotPolicy,
    aappend_and_fold,
    append_and_fold,
    areplay,
    event_summary,
    replay,
)
from engram.stores.events import BaseEventLog
from engram.stores.memory_events import InMemoryEventLog
from engram.stores.sqlite._internal import SqliteConnection
from engram.stores.sqlite.events import SqliteEventLog
from engram.types._event import Event, Snapshot

T = "t"
POLICY: SnapshotPolicy[dict[str, Any]] = SnapshotPolicy(every=3)


@pytest.fixture(params=["memory", "sqlite"])
def make_log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A factory of fresh, empty logs of one backend."""
    connections: list[SqliteConnection] = []

    def make(name: str) -> BaseEventLog:
        if request.param == "memory":
            return InMemoryEventLog()
        connections.append(SqliteConnection(tmp_path / f"{name}.db"))
        return SqliteEventLog(connections[-1])

    yield make
    for conn in connections:
        conn.close()


def _events() -> list[Event]:
    return [Event.thought("a"), Event.action("search", {"q": 1}), Event.observation("ok")]


def _shape(value: Any) -> Any:
    """`value` without what differs between runs (ids and times)."""
    if isinstance(value, Event):
        return (value.stream_id, value.version, value.type, value.name, dict(value.payload))
    if isinstance(value, list | tuple):
        return [_shape(item) for item in value]
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items() if k not in {"id", "created_at"}}
    if isinstance(value, Replay):
        return (_shape(value.state), value.version, value.events_read, value.snapshot_version)
    if hasattr(value, "stream_id") and hasattr(value, "version"):
        return (type(value).__name__, value.stream_id, value.version)
    return value


def sync_scenario(log: BaseEventLog) -> list[Any]:
    first = log.append(T, "s", _events(), expected_version=0, idempotency_key="k")
    again = log.append(T, "s", _events(), expected_version=0, idempotency_key="k")
    try:
        log.append(T, "s", _events(), expected_version=1)
        conflict = "no conflict"
    except ConflictError:
        conflict = "conflict"
    state = replay(log, T, "s", event_summary, {}, snapshots=POLICY)
    state = append_and_fold(log, T, "s", state, _events(), event_summary, snapshots=POLICY)
    return [
        first.events,
        (again.duplicate, again.events),
        conflict,
        log.read(T, "s", from_version=2, limit=3, types=["action", "observation"]),
        list(log.iter_events(T, "s", page_size=2)),
        log.get_stream(T, "s"),
        log.list_streams(T),
        log.put_snapshot(T, Snapshot("s", 1, {"x": 1}, name="other")),
        log.get_snapshot(T, "s", "other"),
        state,
        replay(log, T, "s", event_summary, {}, snapshots=POLICY),
        log.delete_stream(T, "s"),
        log.get_stream(T, "s"),
    ]


async def async_scenario(log: BaseEventLog) -> list[Any]:
    first = await log.aappend(T, "s", _events(), expected_version=0, idempotency_key="k")
    again = await log.aappend(T, "s", _events(), expected_version=0, idempotency_key="k")
    try:
        await log.aappend(T, "s", _events(), expected_version=1)
        conflict = "no conflict"
    except ConflictError:
        conflict = "conflict"
    state = await areplay(log, T, "s", event_summary, {}, snapshots=POLICY)
    state = await aappend_and_fold(log, T, "s", state, _events(), event_summary, snapshots=POLICY)
    return [
        first.events,
        (again.duplicate, again.events),
        conflict,
        await log.aread(T, "s", from_version=2, limit=3, types=["action", "observation"]),
        [event async for event in log.aiter_events(T, "s", page_size=2)],
        await log.aget_stream(T, "s"),
        await log.alist_streams(T),
        await log.aput_snapshot(T, Snapshot("s", 1, {"x": 1}, name="other")),
        await log.aget_snapshot(T, "s", "other"),
        state,
        await areplay(log, T, "s", event_summary, {}, snapshots=POLICY),
        await log.adelete_stream(T, "s"),
        await log.aget_stream(T, "s"),
    ]


def test_async_api_matches_sync_api(make_log: Any) -> None:
    expected = _shape(sync_scenario(make_log("sync")))
    assert _shape(asyncio.run(async_scenario(make_log("async")))) == expected
    assert expected[2] == "conflict" and expected[1][0] is True


async def test_racing_async_appends_conflict(make_log: Any) -> None:
    log = make_log("race")
    attempts = [log.aappend(T, "s", [Event.thought(str(i))], expected_version=0) for i in range(4)]
    outcomes = await asyncio.gather(*attempts, return_exceptions=True)
    assert sum(isinstance(o, ConflictError) for o in outcomes) == 3
    assert [e.version for e in await log.aread(T, "s")] == [1]
