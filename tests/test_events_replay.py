"""Rebuilding state from the event log: folds, snapshots, append-and-fold, built-in reducers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engram._exceptions import ConflictError, InvalidInputError
from engram.state.events import (
    Replay,
    SnapshotPolicy,
    append_and_fold,
    event_summary,
    fold,
    merge_custom_payloads,
    replay,
)
from engram.stores.memory_events import InMemoryEventLog
from engram.stores.sqlite._internal import SqliteConnection
from engram.stores.sqlite.events import SqliteEventLog
from engram.testing.events import CountingEventLog
from engram.types._event import Event

TENANT = "t"
State = dict[str, Any]


def _numbered(start: int, count: int) -> list[Event]:
    kinds = ("thought", "action", "observation", "error", "custom")
    return [
        Event(type=kinds[i % 5], payload={"i": i}, id=f"e{i}")  # type: ignore[arg-type]
        for i in range(start, start + count)
    ]


def _total(state: State, event: Event) -> State:
    """A reducer whose state depends on every event and on their order."""
    digest = (state.get("hash", 7) * 31 + event.payload["i"]) % 1_000_000_007
    return {"n": state.get("n", 0) + 1, "hash": digest}


@pytest.mark.slow
def test_rebuilding_100k_events_reads_at_most_k_past_the_snapshot(tmp_path: Path) -> None:
    k, batch, total = 1000, 700, 100_000
    conn = SqliteConnection(tmp_path / "events.db")
    log = SqliteEventLog(conn)
    policy: SnapshotPolicy[State] = SnapshotPolicy(every=k, name="total")
    writer: Replay[State] = Replay({})
    for start in range(0, total, batch):
        events = _numbered(start, min(batch, total - start))
        writer = append_and_fold(log, TENANT, "big", writer, events, _total, snapshots=policy)
    assert writer.version == total and total - writer.snapshot_version < k

    counting = CountingEventLog(log)
    rebuilt = replay(counting, TENANT, "big", _total, {}, snapshots=policy)
    assert counting.events_read == rebuilt.events_read <= k
    assert counting.ops["ReadEvents"] == 1
    # The writer folded every event it appended; the rebuild read only the snapshot's tail.
    assert (rebuilt.version, rebuilt.state) == (total, writer.state)
    assert rebuilt.state["n"] == total
    conn.close()


@settings(max_examples=60, deadline=None)
@given(
    batches=st.lists(st.integers(1, 30), min_size=1, max_size=12),
    k=st.integers(1, 40),
    tail=st.integers(0, 45),
)
def test_snapshots_keep_rebuilds_within_k(batches: list[int], k: int, tail: int) -> None:
    log = CountingEventLog(InMemoryEventLog())
    policy: SnapshotPolicy[State] = SnapshotPolicy(every=k)
    writer: Replay[State] = Replay({})
    for size in batches:
        events = _numbered(writer.version, size)
        writer = append_and_fold(log, TENANT, "s", writer, events, _total, snapshots=policy)
    if tail:
        log.append(TENANT, "s", _numbered(writer.version, tail))  # a writer that never snapshots
    log.events_read = 0
    rebuilt = replay(log, TENANT, "s", _total, {}, snapshots=policy)
    unsnapshotted = writer.version - writer.snapshot_version + tail
    assert log.events_read == rebuilt.events_read <= unsnapshotted
    assert writer.version - writer.snapshot_version < k
    assert rebuilt.state == fold(log.read(TENANT, "s"), _total, {})


def test_replay_of_a_missing_stream_is_the_initial_state() -> None:
    log = InMemoryEventLog()
    rebuilt = replay(log, TENANT, "nope", _total, {"n": 0}, snapshots=SnapshotPolicy(every=1))
    assert rebuilt == Replay({"n": 0}, 0, 0, 0)


def test_append_and_fold_refuses_a_stale_state() -> None:
    log = InMemoryEventLog()
    stale = replay(log, TENANT, "s", _total, {})
    log.append(TENANT, "s", _numbered(0, 1))
    with pytest.raises(ConflictError):
        append_and_fold(log, TENANT, "s", stale, _numbered(1, 1), _total)


def test_append_and_fold_with_an_applied_key_catches_up() -> None:
    log = InMemoryEventLog()
    before = replay(log, TENANT, "s", _total, {})
    first = append_and_fold(log, TENANT, "s", before, _numbered(0, 3), _total, idempotency_key="k")
    again = append_and_fold(log, TENANT, "s", before, _numbered(0, 3), _total, idempotency_key="k")
    same = append_and_fold(log, TENANT, "s", first, _numbered(0, 3), _total, idempotency_key="k")
    assert again.state == same.state == first.state and again.version == 3
    assert again.events_read == 3 and log.get_stream(TENANT, "s").version == 3  # type: ignore[union-attr]


def test_replay_pages_and_bounds() -> None:
    log = CountingEventLog(InMemoryEventLog())
    log.append(TENANT, "s", _numbered(0, 10))
    rebuilt = replay(log, TENANT, "s", _total, {}, page_size=3, to_version=8)
    assert (rebuilt.version, rebuilt.state["n"], log.ops["ReadEvents"]) == (8, 8, 3)
    with pytest.raises(InvalidInputError):
        replay(log, TENANT, "s", _total, {}, page_size=0)
    with pytest.raises(InvalidInputError):
        SnapshotPolicy(every=0)


def test_a_replay_as_of_an_older_version_reports_no_newer_snapshot() -> None:
    log = InMemoryEventLog()
    policy: SnapshotPolicy[State] = SnapshotPolicy(every=5)
    log.append(TENANT, "s", _numbered(0, 30))
    latest = replay(log, TENANT, "s", _total, {}, snapshots=policy)
    assert latest.snapshot_version == 30
    then = replay(log, TENANT, "s", _total, {}, snapshots=policy, to_version=12)
    assert (then.version, then.state["n"]) == (12, 12)
    assert then.snapshot_version <= then.version


def test_event_summary_counts_and_keeps_the_last_of_each_type() -> None:
    events = [Event.thought("a"), Event.error("x"), Event.thought("b")]
    log = InMemoryEventLog()
    log.append(TENANT, "s", events)
    state = replay(log, TENANT, "s", event_summary, {}).state
    assert state["version"] == 3 and state["counts"] == {"thought": 2, "error": 1}
    assert state["last"]["thought"]["payload"] == {"text": "b"}


def test_merge_custom_payloads_is_a_json_merge_patch() -> None:
    events = [
        Event(type="custom", payload={"plan": {"a": 1, "b": 2}, "x": 1}),
        Event.thought("ignored"),
        Event(type="custom", payload={"plan": {"b": None, "c": 3}, "x": None}),
    ]
    assert fold(events, merge_custom_payloads, {}) == {"plan": {"a": 1, "c": 3}}
