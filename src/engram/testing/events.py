"""The conformance suite of `BaseEventLog`: every backend must pass it.

`EventLogSpec` holds the specs, written once against the contract; subclass it as `Test...`
with an `event_log` fixture yielding a fresh, empty log. `AsyncDrivenEventLog` runs the sync
API through a log's `abatch`; `CountingEventLog` counts the events a log hands out, so tests
can bound how many a rebuild reads.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from engram._exceptions import ConflictError, InvalidInputError, NotFoundError
from engram.state.events import SnapshotPolicy, event_summary, fold, replay
from engram.stores.events import (
    AppendEvents,
    BaseEventLog,
    DeleteStream,
    GetStream,
    Op,
    PutSnapshot,
    ReadEvents,
)
from engram.types._event import Event, Snapshot

__all__ = ["AsyncDrivenEventLog", "CountingEventLog", "EventLogSpec", "append_with_retry"]

TENANT = "t1"
OTHER_TENANT = "t2"


class AsyncDrivenEventLog(BaseEventLog):
    """Runs every call of the sync API through the wrapped log's `abatch`.

    Call it only from code without a running event loop: each batch runs in `asyncio.run`.
    """

    def __init__(self, inner: BaseEventLog) -> None:
        self.inner = inner

    def batch(self, ops: Sequence[Op]) -> list[Any]:
        return asyncio.run(self.inner.abatch(ops))

    async def abatch(self, ops: Sequence[Op]) -> list[Any]:
        return await self.inner.abatch(ops)

    def close(self) -> None:
        self.inner.close()


class CountingEventLog(BaseEventLog):
    """Passes batches to `inner` and counts what they did: ops by type, events read."""

    def __init__(self, inner: BaseEventLog) -> None:
        self.inner = inner
        self.ops: Counter[str] = Counter()
        self.events_read = 0

    def _count(self, ops: Sequence[Op], results: list[Any]) -> list[Any]:
        for op, result in zip(ops, results, strict=True):
            self.ops[type(op).__name__] += 1
            if isinstance(op, ReadEvents):
                self.events_read += len(result)
        return results

    def batch(self, ops: Sequence[Op]) -> list[Any]:
        return self._count(ops, self.inner.batch(ops))

    async def abatch(self, ops: Sequence[Op]) -> list[Any]:
        return self._count(ops, await self.inner.abatch(ops))


def append_with_retry(
    log: BaseEventLog, stream_id: str, payload: dict[str, Any], tally: Counter[str]
) -> None:
    """Read the stream's version, append at it; on `ConflictError`, count it and retry.

    `tally` counts `attempts`, `conflicts` and `acknowledged` appends.
    """
    while True:
        info = log.get_stream(TENANT, stream_id)
        tally["attempts"] += 1
        try:
            log.append(
                TENANT,
                stream_id,
                [Event(type="custom", payload=payload)],
                expected_version=info.version if info else 0,
            )
        except ConflictError:
            tally["conflicts"] += 1
            continue
        tally["acknowledged"] += 1
        return


def _thought(text: str = "hmm", **fields: Any) -> Event:
    return Event.thought(text, **fields)


def _versions(events: Sequence[Event]) -> list[int | None]:
    return [event.version for event in events]


def _texts(events: Sequence[Event]) -> list[Any]:
    return [event.payload.get("text") for event in events]


def _fill(log: BaseEventLog, count: int, stream_id: str = "s1") -> None:
    log.append(TENANT, stream_id, [_thought(f"e{i}") for i in range(1, count + 1)])


class EventLogSpec:
    """Behaviour specs of `BaseEventLog`; subclass with an `event_log` fixture."""

    # Appending and versions.

    def test_append_numbers_events_from_one(self, event_log: Any) -> None:
        result = event_log.append(TENANT, "s1", [_thought("a"), _thought("b")])
        assert _versions(result.events) == [1, 2]
        assert {event.stream_id for event in result.events} == {"s1"}
        assert (result.first_version, result.last_version, result.duplicate) == (1, 2, False)
        assert event_log.read(TENANT, "s1") == list(result.events)

    def test_versions_continue_across_appends(self, event_log: Any) -> None:
        event_log.append(TENANT, "s1", [_thought("a")])
        result = event_log.append(TENANT, "s1", [_thought("b"), _thought("c")])
        assert _versions(result.events) == [2, 3]
        assert _versions(event_log.read(TENANT, "s1")) == [1, 2, 3]

    @pytest.mark.parametrize("expected", [0, 1, 3])
    def test_stale_or_future_expected_version_conflicts(
        self, event_log: Any, expected: int
    ) -> None:
        _fill(event_log, 2)
        with pytest.raises(ConflictError):
            event_log.append(TENANT, "s1", [_thought("x")], expected_version=expected)
        assert _texts(event_log.read(TENANT, "s1")) == ["e1", "e2"]

    def test_expected_version_matching_appends(self, event_log: Any) -> None:
        event_log.append(TENANT, "s1", [_thought("a")], expected_version=0)
        result = event_log.append(TENANT, "s1", [_thought("b")], expected_version=1)
        assert result.last_version == 2

    def test_idempotency_key_returns_the_first_result(self, event_log: Any) -> None:
        first = event_log.append(TENANT, "s1", [_thought("a")], idempotency_key="k1")
        _fill(event_log, 1)
        again = event_log.append(
            TENANT, "s1", [_thought("a")], expected_version=0, idempotency_key="k1"
        )
        assert again.duplicate and again.events == first.events
        assert _texts(event_log.read(TENANT, "s1")) == ["a", "e1"]

    def test_idempotency_key_reused_for_other_events_is_a_conflict(self, event_log: Any) -> None:
        event_log.append(TENANT, "s1", [_thought("a")], idempotency_key="k1")
        with pytest.raises(ConflictError, match="k1"):
            event_log.append(TENANT, "s1", [_thought("other")], idempotency_key="k1")
        assert _texts(event_log.read(TENANT, "s1")) == ["a"]

    def test_idempotency_keys_are_per_stream(self, event_log: Any) -> None:
        event_log.append(TENANT, "s1", [_thought("a")], idempotency_key="k")
        other = event_log.append(TENANT, "s2", [_thought("b")], idempotency_key="k")
        assert not other.duplicate and other.last_version == 1

    def test_failed_append_does_not_use_its_key(self, event_log: Any) -> None:
        _fill(event_log, 1)
        with pytest.raises(ConflictError):
            event_log.append(TENANT, "s1", [_thought()], expected_version=0, idempotency_key="k")
        result = event_log.append(
            TENANT, "s1", [_thought()], expected_version=1, idempotency_key="k"
        )
        assert not result.duplicate and result.last_version == 2

    @pytest.mark.parametrize(
        "events",
        [
            [],
            [Event(type="bogus")],  # type: ignore[arg-type]
            [Event(type="custom", payload={"when": datetime.now(UTC)})],
            [Event(type="custom", payload={"x": float("nan")})],
            [Event(type="custom", metadata={"x": object()})],
            [Event(type="custom", payload={"x": "\ud800"})],
            [Event(type="custom", name="")],
        ],
        ids=[
            "empty",
            "unknown_type",
            "datetime_payload",
            "nan_payload",
            "object_metadata",
            "lone_surrogate",
            "empty_name",
        ],
    )
    def test_invalid_append_is_rejected(self, event_log: Any, events: list[Event]) -> None:
        with pytest.raises(InvalidInputError):
            event_log.append(TENANT, "s1", events)
        assert event_log.get_stream(TENANT, "s1") is None

    @pytest.mark.parametrize("where", ["same_append", "same_stream", "other_stream"])
    def test_duplicate_event_id_conflicts(self, event_log: Any, where: str) -> None:
        event_log.append(TENANT, "s1", [_thought(id="e-1")])
        stream = "s2" if where == "other_stream" else "s1"
        events = [_thought(id="e-2"), _thought(id="e-2" if where == "same_append" else "e-1")]
        said = f"an event id of this append already exists in tenant '{TENANT}'"
        with pytest.raises(ConflictError, match=f"^{said}$"):  # not a database's own message
            event_log.append(TENANT, stream, events)
        assert event_log.get_stream(TENANT, "s1").version == 1
        assert event_log.append(OTHER_TENANT, "s1", [_thought(id="e-1")]).last_version == 1

    # Reading.

    @pytest.mark.parametrize(
        ("bounds", "expected"),
        [
            ({}, [1, 2, 3, 4, 5]),
            ({"from_version": 3}, [3, 4, 5]),
            ({"to_version": 2}, [1, 2]),
            ({"from_version": 2, "to_version": 4}, [2, 3, 4]),
            ({"from_version": 2, "limit": 2}, [2, 3]),
            ({"from_version": 9}, []),
            ({"limit": 0}, []),
            ({"types": ["error"]}, [2, 4]),
            ({"types": ["error"], "from_version": 3, "limit": 5}, [4]),
        ],
    )
    def test_read_bounds(self, event_log: Any, bounds: dict[str, Any], expected: list[int]) -> None:
        kinds = [_thought(), Event.error("x"), _thought(), Event.error("y"), _thought()]
        event_log.append(TENANT, "s1", kinds)
        assert _versions(event_log.read(TENANT, "s1", **bounds)) == expected

    @pytest.mark.parametrize(
        "bounds",
        [
            {"limit": -1},
            {"from_version": -5},
            {"to_version": -1},
            {"from_version": 2**63},
            {"to_version": 2**63},
            {"limit": 2**63},
        ],
    )
    def test_read_refuses_bounds_out_of_range_naming_them(
        self, event_log: Any, bounds: dict[str, Any]
    ) -> None:
        """A version or limit past what SQL holds, or a negative one, is refused with the
        same `InvalidInputError` naming the argument on every backend (a negative version
        is not read as 0)."""
        _fill(event_log, 2)
        (name,) = bounds
        with pytest.raises(InvalidInputError, match=f"^{name} must be from "):
            event_log.read(TENANT, "s1", **bounds)
        found = event_log.read(TENANT, "s1", from_version=0, to_version=2**63 - 1)
        assert _versions(found) == [1, 2]

    def test_read_of_missing_stream_is_empty(self, event_log: Any) -> None:
        assert event_log.read(TENANT, "nope") == []

    def test_event_round_trip(self, event_log: Any) -> None:
        moment = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
        event = Event(
            type="custom",
            name="plan",
            payload={"steps": ["a", "b"], "n": 1.5, "nested": {"ok": True, "none": None}},
            metadata={"model": "m", "é": "ü"},
            created_at=moment,
        )
        stored = event_log.append(TENANT, "s1", [event]).events[0]
        (read,) = event_log.read(TENANT, "s1")
        assert read == stored
        assert (read.id, read.type, read.name) == (event.id, "custom", "plan")
        assert (read.payload, read.metadata) == (event.payload, event.metadata)
        assert read.created_at == moment and read.created_at.utcoffset() == timedelta(0)

    def test_records_are_copies(self, event_log: Any) -> None:
        payload = {"items": [1]}
        event_log.append(TENANT, "s1", [Event(type="custom", payload=payload)])
        payload["items"].append(2)
        event_log.read(TENANT, "s1")[0].payload["items"].append(3)
        assert event_log.read(TENANT, "s1")[0].payload == {"items": [1]}

    def test_iter_events_pages_through_the_stream(self, event_log: Any) -> None:
        _fill(event_log, 7)
        events = list(event_log.iter_events(TENANT, "s1", from_version=2, page_size=3))
        assert _versions(events) == [2, 3, 4, 5, 6, 7]

    # Streams.

    def test_get_stream_describes_it(self, event_log: Any) -> None:
        assert event_log.get_stream(TENANT, "s1") is None
        _fill(event_log, 3)
        info = event_log.get_stream(TENANT, "s1")
        assert (info.stream_id, info.tenant, info.version) == ("s1", TENANT, 3)
        assert info.created_at <= info.updated_at

    def test_list_streams_most_recently_appended_first(self, event_log: Any) -> None:
        for stream_id in ["a", "b", "c", "a"]:
            _fill(event_log, 1, stream_id)
        assert [s.stream_id for s in event_log.list_streams(TENANT)] == ["a", "c", "b"]
        assert [s.stream_id for s in event_log.list_streams(TENANT, limit=1, offset=1)] == ["c"]
        assert event_log.list_streams(OTHER_TENANT) == []

    def test_list_streams_by_prefix(self, event_log: Any) -> None:
        for stream_id in ["run%1", "run_2", "runX", "other"]:
            _fill(event_log, 1, stream_id)
        found = {s.stream_id for s in event_log.list_streams(TENANT, prefix="run%")}
        assert found == {"run%1"}
        assert len(event_log.list_streams(TENANT, prefix="run")) == 3

    def test_delete_stream_removes_everything(self, event_log: Any) -> None:
        event_log.append(TENANT, "s1", [_thought("a")], idempotency_key="k")
        event_log.put_snapshot(TENANT, Snapshot("s1", 1, {"n": 1}))
        assert event_log.delete_stream(TENANT, "s1") is True
        assert event_log.delete_stream(TENANT, "s1") is False
        assert event_log.read(TENANT, "s1") == []
        assert event_log.get_stream(TENANT, "s1") is None
        assert event_log.get_snapshot(TENANT, "s1") is None
        again = event_log.append(TENANT, "s1", [_thought("b")], idempotency_key="k")
        assert not again.duplicate and again.last_version == 1

    @pytest.mark.parametrize("check", ["read", "get", "list", "delete", "snapshot", "key"])
    def test_other_tenants_cannot_see_a_stream(self, event_log: Any, check: str) -> None:
        event_log.append(TENANT, "s1", [_thought()], idempotency_key="k")
        event_log.put_snapshot(TENANT, Snapshot("s1", 1, {}))
        log = event_log
        if check == "read":
            assert log.read(OTHER_TENANT, "s1") == []
        elif check == "get":
            assert log.get_stream(OTHER_TENANT, "s1") is None
        elif check == "list":
            assert log.list_streams(OTHER_TENANT) == []
        elif check == "delete":
            assert log.delete_stream(OTHER_TENANT, "s1") is False
        elif check == "snapshot":
            assert log.get_snapshot(OTHER_TENANT, "s1") is None
        else:
            assert not log.append(OTHER_TENANT, "s1", [_thought()], idempotency_key="k").duplicate
        assert log.get_stream(TENANT, "s1").version == 1

    # Snapshots.

    def test_snapshot_round_trip(self, event_log: Any) -> None:
        _fill(event_log, 3)
        stored = event_log.put_snapshot(TENANT, Snapshot("s1", 2, {"a": [1, {"b": None}]}))
        assert (stored.version, stored.state, stored.name) == (2, {"a": [1, {"b": None}]}, "state")
        assert event_log.get_snapshot(TENANT, "s1") == stored

    def test_older_snapshot_does_not_replace_newer(self, event_log: Any) -> None:
        _fill(event_log, 3)
        event_log.put_snapshot(TENANT, Snapshot("s1", 3, "new"))
        kept = event_log.put_snapshot(TENANT, Snapshot("s1", 1, "old"))
        assert (kept.version, kept.state) == (3, "new")
        assert event_log.get_snapshot(TENANT, "s1").state == "new"

    def test_snapshots_are_per_name_and_bounded_by_max_version(self, event_log: Any) -> None:
        _fill(event_log, 3)
        event_log.put_snapshot(TENANT, Snapshot("s1", 3, "a", name="a"))
        event_log.put_snapshot(TENANT, Snapshot("s1", 1, "b", name="b"))
        assert event_log.get_snapshot(TENANT, "s1", "b").state == "b"
        assert event_log.get_snapshot(TENANT, "s1", "a", max_version=2) is None
        assert event_log.get_snapshot(TENANT, "s1", "a", max_version=3).state == "a"
        assert event_log.get_snapshot(TENANT, "s1", "c") is None

    @pytest.mark.parametrize(
        ("version", "state", "error"),
        [(4, {}, InvalidInputError), (0, {}, InvalidInputError), (1, {1j}, InvalidInputError)],
    )
    def test_invalid_snapshot_is_rejected(
        self, event_log: Any, version: int, state: Any, error: type[Exception]
    ) -> None:
        _fill(event_log, 3)
        with pytest.raises(error):
            event_log.put_snapshot(TENANT, Snapshot("s1", version, state))
        assert event_log.get_snapshot(TENANT, "s1") is None

    def test_snapshot_of_missing_stream_raises_not_found(self, event_log: Any) -> None:
        with pytest.raises(NotFoundError):
            event_log.put_snapshot(TENANT, Snapshot("nope", 1, {}))

    # Batches.

    def test_batch_returns_results_in_order(self, event_log: Any) -> None:
        appended, got, read, snap, deleted = event_log.batch(
            [
                AppendEvents(TENANT, "s1", (_thought("a"),), 0),
                GetStream(TENANT, "s1"),
                ReadEvents(TENANT, "s1"),
                PutSnapshot(TENANT, Snapshot("s1", 1, 7)),
                DeleteStream(TENANT, "s1"),
            ]
        )
        assert got.version == 1 and read == list(appended.events)
        assert (snap.state, deleted) == (7, True)
        assert event_log.batch([]) == []

    def test_failed_batch_leaves_no_trace(self, event_log: Any) -> None:
        event_log.append(TENANT, "s1", [_thought("a")])
        event_log.put_snapshot(TENANT, Snapshot("s1", 1, "one"))
        with pytest.raises(ConflictError):
            event_log.batch(
                [
                    AppendEvents(TENANT, "s1", (_thought("b"),), 1, "k"),
                    PutSnapshot(TENANT, Snapshot("s1", 2, "two")),
                    AppendEvents(TENANT, "s2", (_thought("c"),)),
                    DeleteStream(TENANT, "s3"),
                    AppendEvents(TENANT, "s1", (_thought("d"),), 1),
                ]
            )
        assert _texts(event_log.read(TENANT, "s1")) == ["a"]
        assert event_log.get_snapshot(TENANT, "s1").state == "one"
        assert event_log.get_stream(TENANT, "s2") is None
        assert not event_log.append(TENANT, "s1", [_thought()], idempotency_key="k").duplicate

    # Concurrency.

    def test_racing_appends_conflict_and_lose_nothing(self, event_log: Any) -> None:
        threads, per_thread = 4, 15
        tallies = [Counter[str]() for _ in range(threads)]
        errors: list[BaseException] = []

        def work(index: int) -> None:
            try:
                for item in range(per_thread):
                    append_with_retry(event_log, "s1", {"w": index, "i": item}, tallies[index])
            except BaseException as exc:  # surfaced below: a thread cannot fail the test
                errors.append(exc)

        _run_threads(work, threads)
        total = sum(tallies, Counter[str]())
        assert errors == []
        assert total["acknowledged"] == threads * per_thread
        assert total["acknowledged"] + total["conflicts"] == total["attempts"]
        events = event_log.read(TENANT, "s1")
        assert _versions(events) == list(range(1, threads * per_thread + 1))
        payloads = sorted((e.payload["w"], e.payload["i"]) for e in events)
        assert payloads == [(w, i) for w in range(threads) for i in range(per_thread)]

    def test_lockstep_writers_all_but_one_conflict(self, event_log: Any) -> None:
        writers, rounds = 3, 4
        barrier = threading.Barrier(writers, timeout=30)
        outcomes: Counter[str] = Counter()
        lock = threading.Lock()

        def work(index: int) -> None:
            for round_ in range(rounds):
                barrier.wait()
                info = event_log.get_stream(TENANT, "s1")
                barrier.wait()  # every writer has read the same version
                event = Event(type="custom", payload={"w": index, "round": round_})
                version = info.version if info else 0
                try:
                    event_log.append(TENANT, "s1", [event], expected_version=version)
                    outcome = "acknowledged"
                except ConflictError:
                    outcome = "conflicts"
                except BaseException:
                    outcome = "errors"
                    barrier.abort()
                with lock:
                    outcomes[outcome] += 1

        _run_threads(work, writers)
        assert outcomes == {"acknowledged": rounds, "conflicts": (writers - 1) * rounds}
        assert _versions(event_log.read(TENANT, "s1")) == list(range(1, rounds + 1))

    # Replay.

    def test_replay_equals_fold_and_reads_at_most_k_past_the_snapshot(self, event_log: Any) -> None:
        counting, policy = CountingEventLog(event_log), SnapshotPolicy[dict[str, Any]](every=50)
        for _ in range(5):
            _fill(event_log, 60)
        everything = fold(event_log.read(TENANT, "s1"), event_summary, {})
        first = replay(counting, TENANT, "s1", event_summary, {}, snapshots=policy)
        assert (first.state, first.version, first.snapshot_version) == (everything, 300, 300)
        _fill(event_log, 49)
        counting.events_read = 0
        second = replay(counting, TENANT, "s1", event_summary, {}, snapshots=policy, page_size=7)
        assert counting.events_read == second.events_read == 49
        assert second.state == fold(event_log.read(TENANT, "s1"), event_summary, {})

    def test_replay_to_version_ignores_newer_snapshots(self, event_log: Any) -> None:
        _fill(event_log, 10)
        policy = SnapshotPolicy[dict[str, Any]](every=5)
        replay(event_log, TENANT, "s1", event_summary, {}, snapshots=policy)
        old = replay(event_log, TENANT, "s1", event_summary, {}, snapshots=policy, to_version=4)
        assert (old.version, old.state["counts"], old.events_read) == (4, {"thought": 4}, 4)


def _run_threads(work: Any, count: int) -> None:
    threads = [threading.Thread(target=work, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
