"""The agent event log as an event-store user would push it, on every backend.

Idempotency keys reused for other events, bad input of every kind (nothing written), read
ranges checked against a reference, concurrent retries of one key, and snapshots that never
change what a replay rebuilds (a hypothesis property).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engram._exceptions import ConflictError, InvalidInputError
from engram.state.events import SnapshotPolicy, fold, merge_custom_payloads, replay
from engram.state.working import apply_event, working_memory_snapshots
from engram.stores.events import BaseEventLog
from engram.stores.memory_events import InMemoryEventLog
from engram.stores.sqlite._internal import SqliteConnection
from engram.stores.sqlite.events import SqliteEventLog
from engram.testing.events import AsyncDrivenEventLog
from engram.types import Event, Snapshot, WorkingMemory
from servers import LoopBoundEventLog, fresh_store, open_store

pytest_plugins = ["servers"]

TENANT = "t"
T0 = datetime(2024, 5, 1, tzinfo=UTC)

BACKENDS = ["memory", "sqlite", "postgres", "postgres-async", "redis", "redis-async"]


@pytest.fixture(params=BACKENDS)
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BaseEventLog]:
    """A fresh, empty event log of every backend (async ones driven through `abatch`)."""
    yield from _open(request, tmp_path)


@pytest.fixture(params=["memory", "sqlite", "postgres", "redis"])
def sync_log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BaseEventLog]:
    """A fresh event log of every backend, through its sync API (safe across threads)."""
    yield from _open(request, tmp_path)


def _open(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BaseEventLog]:
    kind = request.param
    if kind in ("memory", "sqlite"):
        with fresh_store(request, tmp_path, "EventLog") as log:
            yield log
    elif kind.startswith("postgres"):
        from engram.stores.postgres import AsyncPostgresEventLog, PostgresEventLog
        from test_postgres_conformance import open_store as open_postgres

        url = request.getfixturevalue("postgres_clean_database")
        mode = "async-conn" if kind.endswith("async") else "conn"
        classes = (PostgresEventLog, AsyncPostgresEventLog, LoopBoundEventLog)
        with open_postgres(url, mode, *classes) as opened:
            yield AsyncDrivenEventLog(opened) if mode.startswith("async") else opened
    else:
        from engram.stores.redis import AsyncRedisEventLog, RedisEventLog

        url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
        mode = "async" if kind.endswith("async") else "sync"
        classes = (RedisEventLog, AsyncRedisEventLog, LoopBoundEventLog)
        with open_store(url, prefix, mode, *classes) as opened:
            yield AsyncDrivenEventLog(opened) if mode == "async" else opened


def _texts(events: list[Event]) -> list[str]:
    return [str(event.payload.get("text")) for event in events]


# Idempotency keys.


def test_a_key_reused_for_other_events_is_a_conflict(log: BaseEventLog) -> None:
    first = log.append(TENANT, "s", [Event.thought("a")], idempotency_key="k")
    for other in ([Event.thought("b")], [Event.thought("a"), Event.thought("a")]):
        with pytest.raises(ConflictError, match="idempotency key 'k'"):
            log.append(TENANT, "s", other, idempotency_key="k")
    with pytest.raises(ConflictError, match="idempotency key 'k'"):
        log.append(TENANT, "s", [Event.thought("a", name="plan")], idempotency_key="k")
    assert _texts(log.read(TENANT, "s")) == ["a"]
    # A real retry rebuilds its events (new ids, times, attempt metadata): the first answer.
    again = Event.thought("a", metadata={"attempt": 2})
    retry = log.append(TENANT, "s", [again], idempotency_key="k")
    assert retry.duplicate and retry.events == first.events


def test_a_retry_matches_payloads_as_json(log: BaseEventLog) -> None:
    payload = {"b": [1, 2.5], "a": {"z": None, "y": "ü"}}
    first = log.append(TENANT, "s", [Event("custom", payload)], idempotency_key="k")
    reordered = {"a": {"y": "ü", "z": None}, "b": (1, 2.5)}
    retry = log.append(TENANT, "s", [Event("custom", reordered)], idempotency_key="k")
    assert retry.duplicate and retry.events == first.events


def test_concurrent_retries_of_one_key_write_once(sync_log: BaseEventLog) -> None:
    results: list[Any] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def writer() -> None:
        barrier.wait()
        try:
            events = [Event.thought("a"), Event.thought("b")]
            results.append(
                sync_log.append(TENANT, "s", events, expected_version=0, idempotency_key="k")
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(result.duplicate for result in results) == [False] + [True] * 5
    assert len({tuple(e.id for e in result.events) for result in results}) == 1
    assert _texts(sync_log.read(TENANT, "s")) == ["a", "b"]


# Bad input is InvalidInputError and writes nothing.


class _Opaque:
    pass


BAD_APPENDS: dict[str, Callable[[], dict[str, Any]]] = {
    "empty stream": lambda: {"stream_id": ""},
    "blank stream": lambda: {"stream_id": "  "},
    "NUL in stream": lambda: {"stream_id": "a\x00b"},
    "NaN payload": lambda: {"events": [Event("custom", {"x": math.nan})]},
    "infinite metadata": lambda: {"events": [Event("custom", {}, metadata={"x": math.inf})]},
    "object payload": lambda: {"events": [Event("custom", {"x": _Opaque()})]},
    "naive datetime payload": lambda: {"events": [Event("custom", {"at": datetime(2024, 1, 1)})]},
    "lone surrogate": lambda: {"events": [Event.thought("\ud800")]},
    "non-string keys": lambda: {"events": [Event("custom", {1: "a", "1": "b"})]},
    "list payload": lambda: {"events": [Event("custom", [1, 2])]},  # type: ignore[arg-type]
    "not an event": lambda: {"events": [{"type": "thought"}]},
    "text created_at": lambda: {"events": [Event("custom", created_at="2024-01-01")]},  # type: ignore[arg-type]
    "created_at past 9999 in UTC": lambda: {
        "events": [
            Event("custom", created_at=datetime.max.replace(tzinfo=timezone(-timedelta(hours=5))))
        ]
    },
    "unknown type": lambda: {"events": [Event("note", {})]},  # type: ignore[arg-type]
    "no events": lambda: {"events": []},
    "None for events": lambda: {"events": None},
    "one event alone": lambda: {"events": Event.thought("x")},
    "a string for events": lambda: {"events": "thought"},
    "bool expected_version": lambda: {"expected_version": True},
    "text expected_version": lambda: {"expected_version": "1"},
    "negative expected_version": lambda: {"expected_version": -1},
    "empty idempotency key": lambda: {"idempotency_key": ""},
}


@pytest.mark.parametrize("case", sorted(BAD_APPENDS))
def test_bad_appends_are_rejected_and_write_nothing(log: BaseEventLog, case: str) -> None:
    log.append(TENANT, "s", [Event.thought("kept")])
    call: dict[str, Any] = {"stream_id": "s", "events": [Event.thought("x")]}
    call |= {"expected_version": None, "idempotency_key": "k2"}
    call.update(BAD_APPENDS[case]())
    stream_id = call.pop("stream_id")
    with pytest.raises(InvalidInputError):
        log.append(TENANT, stream_id, call.pop("events"), **call)
    assert _texts(log.read(TENANT, "s")) == ["kept"]
    assert [info.stream_id for info in log.list_streams(TENANT)] == ["s"]
    # Nothing half-written: the key is still free.
    assert not log.append(TENANT, "s", [Event.thought("y")], idempotency_key="k2").duplicate


BAD_READS: dict[str, Callable[[BaseEventLog], Any]] = {
    "types as a string": lambda log: log.read(TENANT, "s", types="thought"),  # type: ignore[arg-type]
    "unknown type": lambda log: log.read(TENANT, "s", types=["thougth"]),  # type: ignore[list-item]
    "text from_version": lambda log: log.read(TENANT, "s", from_version="2"),  # type: ignore[arg-type]
    "float to_version": lambda log: log.read(TENANT, "s", to_version=2.5),  # type: ignore[arg-type]
    "bool limit": lambda log: log.read(TENANT, "s", limit=True),
    "negative limit": lambda log: log.read(TENANT, "s", limit=-1),
    "negative from_version": lambda log: log.read(TENANT, "s", from_version=-5),
    "negative to_version": lambda log: log.read(TENANT, "s", to_version=-1),
    "text list limit": lambda log: log.list_streams(TENANT, limit="3"),  # type: ignore[arg-type]
    "negative offset": lambda log: log.list_streams(TENANT, offset=-1),
    "text max_version": lambda log: log.get_snapshot(TENANT, "s", max_version="2"),  # type: ignore[arg-type]
    "text snapshot version": lambda log: log.put_snapshot(TENANT, Snapshot("s", "1", {})),  # type: ignore[arg-type]
    "NaN snapshot": lambda log: log.put_snapshot(TENANT, Snapshot("s", 1, {"x": math.nan})),
}


@pytest.mark.parametrize("case", sorted(BAD_READS))
def test_bad_read_arguments_are_rejected(log: BaseEventLog, case: str) -> None:
    log.append(TENANT, "s", [Event.thought("a"), Event.thought("b")])
    with pytest.raises(InvalidInputError):
        BAD_READS[case](log)
    assert log.get_snapshot(TENANT, "s") is None


# Reading ranges: every backend gives what a plain list would.

KINDS = ("thought", "action", "observation", "thought", "error", "custom", "thought")


@pytest.fixture
def filled(log: BaseEventLog) -> BaseEventLog:
    events = [Event(KINDS[i % len(KINDS)], {"i": i}) for i in range(12)]  # type: ignore[arg-type]
    log.append(TENANT, "s", events[:5])
    log.append(TENANT, "s", events[5:])
    return log


def test_read_ranges_match_a_reference(filled: BaseEventLog) -> None:
    every = filled.read(TENANT, "s")
    assert [e.version for e in every] == list(range(1, 13))
    # Non-negative bounds only: a negative one is refused (`BAD_READS`), not read as 0.
    for low in (0, 1, 4, 12, 13):
        for high in (None, 0, 3, 12, 40):
            for limit in (None, 0, 1, 5):
                for types in (None, ["thought"], ["error", "custom"]):
                    expected = [
                        e.version
                        for e in every
                        if e.version >= low
                        and (high is None or e.version <= high)
                        and (types is None or e.type in types)
                    ][:limit]
                    found = filled.read(
                        TENANT, "s", from_version=low, to_version=high, limit=limit, types=types
                    )
                    assert [e.version for e in found] == expected, (low, high, limit, types)


def test_iter_events_pages_match_read(filled: BaseEventLog) -> None:
    for page_size in (1, 5, 12, 100):
        paged = list(filled.iter_events(TENANT, "s", from_version=3, page_size=page_size))
        assert paged == filled.read(TENANT, "s", from_version=3)


def test_snapshot_times_are_stored_in_utc(log: BaseEventLog) -> None:
    log.append(TENANT, "s", [Event.thought("a")])
    naive = datetime(2024, 5, 1, 12, 0)
    stored = log.put_snapshot(TENANT, Snapshot("s", 1, {"n": 1}, created_at=naive))
    read = log.get_snapshot(TENANT, "s")
    assert stored.created_at == read.created_at == naive.replace(tzinfo=UTC)  # type: ignore[union-attr]


def test_async_twins_match_the_sync_api(tmp_path: Path) -> None:
    import asyncio

    conn = SqliteConnection(tmp_path / "engram.db")
    log = SqliteEventLog(conn)

    async def run() -> None:
        await log.aappend(TENANT, "s", [Event.thought("a")], idempotency_key="k")
        with pytest.raises(ConflictError):
            await log.aappend(TENANT, "s", [Event.thought("b")], idempotency_key="k")
        with pytest.raises(InvalidInputError):
            await log.aread(TENANT, "s", types="thought")  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError):
            await log.aappend(TENANT, "s", [Event("custom", {"x": math.nan})])

    asyncio.run(run())
    assert _texts(log.read(TENANT, "s")) == ["a"]
    conn.close()


# Snapshots never change what a replay rebuilds.

keys = st.sampled_from(["a", "b", "c"])
json_leaf = st.none() | st.integers(-5, 5) | st.text("xyz", max_size=3)
patches = st.dictionaries(
    keys, json_leaf | st.dictionaries(keys, json_leaf, max_size=2), max_size=3
)
custom_events = st.builds(lambda p: Event("custom", p), patches)
agent_events = st.one_of(
    st.builds(lambda p: Event("custom", {"goal": p}, name="goal"), st.text("goal", max_size=5)),
    st.builds(
        lambda steps: Event("custom", {"steps": steps}, name="plan"),
        st.lists(st.sampled_from(["s1", "s2", "s3"]), max_size=3),
    ),
    st.builds(lambda s: Event.action("tool", {}, step=s), st.sampled_from(["s1", "s2", "s3"])),
    st.builds(lambda o: Event.observation(o, tool="t", call_id="c"), st.text("ok", max_size=4)),
    st.builds(lambda t: Event.thought(t), st.text("hm\n", max_size=4)),
    st.builds(lambda t: Event.error(t), st.text("no", max_size=4)),
    st.just(Event("custom", {}, name="step_completed")),
)


def _memory_log(kind: str) -> tuple[BaseEventLog, Callable[[], None]]:
    if kind == "memory":
        return InMemoryEventLog(), lambda: None
    conn = SqliteConnection(":memory:")
    return SqliteEventLog(conn), conn.close


def _append_in_chunks(
    log: BaseEventLog, events: list[Event], chunks: list[int], check: Callable[[], None]
) -> None:
    """Append `events` in chunks, replaying (and so snapshotting) between chunks."""
    start = 0
    for size in [*chunks, len(events)]:
        if start >= len(events):
            break
        batch = [
            Event(e.type, e.payload, e.name, created_at=T0 + timedelta(seconds=start + i))
            for i, e in enumerate(events[start : start + size])
        ]
        if batch:
            log.append(TENANT, "s", batch)
        start += size
        check()


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events=st.lists(custom_events, min_size=1, max_size=30),
    chunks=st.lists(st.integers(1, 7), max_size=8),
    every=st.integers(1, 6),
)
def test_snapshots_never_change_a_merge_replay(
    kind: str, events: list[Event], chunks: list[int], every: int
) -> None:
    log, close = _memory_log(kind)
    policy: SnapshotPolicy[dict[str, Any]] = SnapshotPolicy(every=every)

    def check() -> None:
        scratch = replay(log, TENANT, "s", merge_custom_payloads, {})
        snapped = replay(log, TENANT, "s", merge_custom_payloads, {}, snapshots=policy)
        assert snapped.state == scratch.state and snapped.version == scratch.version
        for version in range(0, scratch.version + 1, 3):
            old = replay(log, TENANT, "s", merge_custom_payloads, {}, to_version=version)
            as_of = replay(
                log, TENANT, "s", merge_custom_payloads, {}, snapshots=policy, to_version=version
            )
            assert (as_of.state, as_of.version) == (old.state, old.version)

    try:
        _append_in_chunks(log, events, chunks, check)
        stored = fold(log.read(TENANT, "s"), merge_custom_payloads, {})
        assert replay(log, TENANT, "s", merge_custom_payloads, {}, snapshots=policy).state == stored
    finally:
        close()


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events=st.lists(agent_events, min_size=1, max_size=30),
    chunks=st.lists(st.integers(1, 7), max_size=8),
    every=st.integers(1, 6),
)
def test_snapshots_never_change_a_working_memory_replay(
    kind: str, events: list[Event], chunks: list[int], every: int
) -> None:
    log, close = _memory_log(kind)
    policy = working_memory_snapshots(every=every)
    initial = WorkingMemory(goal="", updated_at=T0)

    def check() -> None:
        scratch = replay(log, TENANT, "s", apply_event, initial)
        snapped = replay(log, TENANT, "s", apply_event, initial, snapshots=policy)
        assert snapped.state == scratch.state and snapped.version == scratch.version

    try:
        _append_in_chunks(log, events, chunks, check)
    finally:
        close()


# Erasure and size.


def test_deleting_a_stream_frees_its_ids_and_spares_other_tenants(log: BaseEventLog) -> None:
    event = Event.thought("secret", id="fixed-id")
    log.append(TENANT, "s", [event], idempotency_key="k")
    log.append("other", "s", [Event.thought("theirs", id="fixed-id")], idempotency_key="k")
    log.put_snapshot(TENANT, Snapshot("s", 1, {"n": 1}))
    assert log.delete_stream(TENANT, "s")
    assert log.read(TENANT, "s") == [] and log.get_snapshot(TENANT, "s") is None
    assert _texts(log.read("other", "s")) == ["theirs"]
    again = log.append(TENANT, "s2", [Event.thought("new", id="fixed-id")], idempotency_key="k")
    assert not again.duplicate and again.last_version == 1


def test_a_large_payload_round_trips(log: BaseEventLog) -> None:
    big = "ü" * 3_000_000 + "\u0000 end"
    stored = log.append(TENANT, "s", [Event("custom", {"blob": big, "n": [1.5, None, True]})])
    read = log.read(TENANT, "s")
    assert read == list(stored.events) and read[0].payload["blob"] == big


def test_a_key_reused_within_one_batch(log: BaseEventLog) -> None:
    from engram.stores.events import AppendEvents

    first = AppendEvents(TENANT, "s", (Event.thought("a"),), None, "k")
    same = AppendEvents(TENANT, "s", (Event.thought("a"),), None, "k")
    results = log.batch([first, same])
    assert [r.duplicate for r in results] == [False, True]
    assert results[0].events == results[1].events
    other = AppendEvents(TENANT, "s2", (Event.thought("b"),), None, "k")
    with pytest.raises(ConflictError):
        log.batch([other._replace(events=(Event.thought("a"),)), other])
    assert log.read(TENANT, "s2") == [] and _texts(log.read(TENANT, "s")) == ["a"]


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_redis_retry_reading_a_key_committed_meanwhile_reruns(
    redis_url: str, redis_prefix: str, driver: str
) -> None:
    """A retry reads the stream's record, then a rival commits the same keyed append, then the
    retry reads the key: its view is stale (the events are not in it). It must not compare the
    key's events against that view: its EXEC fails and it runs again, getting the first result."""
    import asyncio

    import redis
    import redis.asyncio

    from engram.stores.events import AppendEvents
    from engram.stores.redis import RedisEventLog
    from engram.stores.redis._internal import Read, Tx, Work, arun, run
    from engram.stores.redis._streams import StreamBatch
    from engram.stores.redis.events import event_work

    events = (Event.thought("once"), Event.thought("twice"))
    op = AppendEvents(TENANT, "s", events, 0, "k")
    runs: list[int] = []
    with redis.Redis.from_url(redis_url) as client:
        log = RedisEventLog(client, prefix=redis_prefix)

        def make(tx: Tx) -> Work[list[Any]]:
            work = event_work([op], StreamBatch(tx, log.keys))
            first, reads, reply = not runs, 0, None
            runs.append(1)
            while True:
                try:
                    read: Read = work.send(reply)
                except StopIteration as stop:
                    result: list[Any] = stop.value
                    return result
                if first and reads == 1:  # after the record's read, before the key's
                    log.append(TENANT, "s", list(events), idempotency_key="k")
                reads += 1
                reply = yield read

        if driver == "sync":
            (result,) = run(client, make)
        else:

            async def main() -> list[Any]:
                async with redis.asyncio.Redis.from_url(redis_url) as aclient:
                    return await arun(aclient, make)

            (result,) = asyncio.run(main())
        assert len(runs) == 2
        assert result.duplicate and _texts(list(result.events)) == ["once", "twice"]
        assert _texts(log.read(TENANT, "s")) == ["once", "twice"]


LARGEST = 2**63 - 1
OVERSIZED: dict[str, Callable[[BaseEventLog, int], Any]] = {
    "from_version": lambda log, n: log.read(TENANT, "s", from_version=n),
    "to_version": lambda log, n: log.read(TENANT, "s", to_version=n),
    "limit": lambda log, n: log.read(TENANT, "s", limit=n),
    "list limit": lambda log, n: log.list_streams(TENANT, limit=n),
    "list offset": lambda log, n: log.list_streams(TENANT, offset=n),
    "max_version": lambda log, n: log.get_snapshot(TENANT, "s", max_version=n),
}


@pytest.mark.parametrize("case", sorted(OVERSIZED))
def test_huge_numbers_behave_alike_on_every_backend(log: BaseEventLog, case: str) -> None:
    log.append(TENANT, "s", [Event.thought("a")])
    read_all = {"to_version", "limit", "list limit"}
    found = OVERSIZED[case](log, LARGEST)  # sys.maxsize as "no bound" works everywhere
    assert len(found or []) == (1 if case in read_all else 0)
    with pytest.raises(InvalidInputError, match="must be from"):
        OVERSIZED[case](log, LARGEST + 1)
    with pytest.raises(InvalidInputError):
        log.append(TENANT, "s", [Event.thought("b")], expected_version=LARGEST + 1)


def test_list_streams_pages_alike_on_every_backend(log: BaseEventLog) -> None:
    for stream_id in ["run-1", "run-2", "other", "run-3", "run-1", "run-4"]:
        log.append(TENANT, stream_id, [Event.thought(stream_id)])
    log.delete_stream(TENANT, "run-4")
    order = ["run-1", "run-3", "other", "run-2"]
    assert [info.stream_id for info in log.list_streams(TENANT)] == order
    pages = [log.list_streams(TENANT, limit=1, offset=i) for i in range(5)]
    assert [[info.stream_id for info in page] for page in pages] == [[s] for s in order] + [[]]
    runs = log.list_streams(TENANT, prefix="run-", limit=2, offset=1)
    assert [info.stream_id for info in runs] == ["run-3", "run-2"]
    assert [info.version for info in log.list_streams(TENANT, prefix="run-1")] == [2]
    assert log.list_streams(TENANT, limit=0) == []
