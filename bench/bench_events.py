"""Event-log figures: append throughput, read throughput, rebuild cost with and without snapshots.

Run: `python bench/bench_events.py [--events 100000] [--dir /dev/shm]`. Prints one line per
measurement; nothing is asserted (the bounds are tested in tests/test_events_replay.py).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engram.state.events import Replay, SnapshotPolicy, append_and_fold, replay
from engram.stores.events import BaseEventLog
from engram.stores.memory_events import InMemoryEventLog
from engram.stores.sqlite.events import SqliteEventLog
from engram.testing.events import CountingEventLog
from engram.types._event import Event

State = dict[str, Any]


def _count(state: State, event: Event) -> State:
    return {"n": state.get("n", 0) + 1, "last": event.payload["i"]}


def _timed(label: str, count: int, action: Callable[[], object]) -> None:
    start = time.perf_counter()
    action()
    elapsed = time.perf_counter() - start
    print(f"  {label:<44} {count / elapsed:>12,.0f} events/s  ({elapsed:.2f} s)")


def _single_appends(log: BaseEventLog, count: int) -> None:
    for i in range(count):
        log.append("t", "single", [Event.thought(str(i))], expected_version=i)


def _batches(total: int, batch: int) -> list[list[Event]]:
    """Events made before timing (making UUIDv7 ids is not the store's cost)."""
    return [
        [Event(type="custom", payload={"i": i}) for i in range(start, min(start + batch, total))]
        for start in range(0, total, batch)
    ]


def _batch_appends(log: BaseEventLog, batches: list[list[Event]]) -> None:
    version = 0
    for events in batches:
        version = log.append("t", "bulk", events, expected_version=version).last_version


def _snapshotted_writer(log: BaseEventLog, batches: list[list[Event]], k: int) -> None:
    policy: SnapshotPolicy[State] = SnapshotPolicy(every=k)
    writer: Replay[State] = Replay({})
    for events in batches:
        writer = append_and_fold(log, "t", "snap", writer, events, _count, snapshots=policy)


def run(log: BaseEventLog, total: int) -> None:
    singles = min(total // 20, 5000)
    _timed(
        f"append 1 event x {singles} (expected_version)",
        singles,
        lambda: _single_appends(log, singles),
    )
    bulk = _batches(total, 1000)
    _timed(f"append {total} events in batches of 1000", total, lambda: _batch_appends(log, bulk))
    _timed("read them all (pages of 1000)", total, lambda: list(log.iter_events("t", "bulk")))
    _timed("rebuild without snapshots", total, lambda: replay(log, "t", "bulk", _count, {}))
    writes = _batches(total - 300, 700)
    label = "append_and_fold, batches of 700, K=1000"
    _timed(label, total - 300, lambda: _snapshotted_writer(log, writes, 1000))
    log.append("t", "snap", _batches(300, 300)[0])  # a tail no snapshot covers
    counting = CountingEventLog(log)
    start = time.perf_counter()
    rebuilt = replay(counting, "t", "snap", _count, {}, snapshots=SnapshotPolicy(every=1000))
    elapsed = (time.perf_counter() - start) * 1000
    print(
        f"  rebuild from snapshot: read {counting.events_read} events "
        f"(snapshot at {rebuilt.snapshot_version} of {rebuilt.version}) in {elapsed:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--dir", default=None, help="Directory of the SQLite file.")
    args = parser.parse_args()
    print("memory")
    run(InMemoryEventLog(), args.events)
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        path = Path(folder) / "events.db"
        print(f"sqlite ({path})")
        with SqliteEventLog.from_path(path) as log:
            run(log, args.events)
        print(f"  file size: {path.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
