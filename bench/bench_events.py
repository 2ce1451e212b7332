"""Event-log figures: append throughput, read throughput, rebuild cost with and without snapshots.

On each backend: in-memory, SQLite (a file in `--dir`), PostgreSQL and Redis (the servers of
`_servers.py`: a database made and dropped for the run, a Redis key prefix deleted after).

Run: `python bench/bench_events.py [--events 100000] [--dir /dev/shm]
[--backends memory,sqlite,postgres,redis]`. Prints one line per measurement, and last one JSON
line with every figure; nothing is asserted (the bounds are tested in
tests/test_events_replay.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _servers import POSTGRES_URL, databases, redis_keyspace
from engram.state.events import Replay, SnapshotPolicy, append_and_fold, replay
from engram.stores.events import BaseEventLog
from engram.stores.memory_events import InMemoryEventLog
from engram.stores.sqlite.events import SqliteEventLog
from engram.testing.events import CountingEventLog
from engram.types._event import Event

State = dict[str, Any]
BACKENDS = ("memory", "sqlite", "postgres", "redis")


def _count(state: State, event: Event) -> State:
    return {"n": state.get("n", 0) + 1, "last": event.payload["i"]}


def _timed(label: str, count: int, action: Callable[[], object]) -> float:
    """Run `action` once; print and return its events/s."""
    start = time.perf_counter()
    action()
    elapsed = time.perf_counter() - start
    print(f"  {label:<44} {count / elapsed:>12,.0f} events/s  ({elapsed:.2f} s)")
    return count / elapsed


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


def run(log: BaseEventLog, total: int) -> dict[str, float]:
    """Every figure of one event log, by name."""
    singles = min(total // 20, 5000)
    figures = {
        "single_appends_per_s": _timed(
            f"append 1 event x {singles} (expected_version)",
            singles,
            lambda: _single_appends(log, singles),
        )
    }
    bulk = _batches(total, 1000)
    label = f"append {total} events in batches of 1000"
    figures["batch_appends_per_s"] = _timed(label, total, lambda: _batch_appends(log, bulk))
    read = lambda: list(log.iter_events("t", "bulk"))  # noqa: E731
    figures["reads_per_s"] = _timed("read them all (pages of 1000)", total, read)
    rebuild = lambda: replay(log, "t", "bulk", _count, {})  # noqa: E731
    figures["rebuild_per_s"] = _timed("rebuild without snapshots", total, rebuild)
    writes = _batches(total - 300, 700)
    label = "append_and_fold, batches of 700, K=1000"
    fold = lambda: _snapshotted_writer(log, writes, 1000)  # noqa: E731
    figures["append_and_fold_per_s"] = _timed(label, total - 300, fold)
    log.append("t", "snap", _batches(300, 300)[0])  # a tail no snapshot covers
    counting = CountingEventLog(log)
    start = time.perf_counter()
    rebuilt = replay(counting, "t", "snap", _count, {}, snapshots=SnapshotPolicy(every=1000))
    elapsed = (time.perf_counter() - start) * 1000
    print(
        f"  rebuild from snapshot: read {counting.events_read} events "
        f"(snapshot at {rebuilt.snapshot_version} of {rebuilt.version}) in {elapsed:.1f} ms"
    )
    return figures | {
        "snapshot_rebuild_events_read": counting.events_read,
        "snapshot_rebuild_ms": elapsed,
    }


@contextmanager
def open_log(backend: str, directory: str | None) -> Iterator[BaseEventLog]:
    """A fresh, empty event log on `backend`, removed after."""
    if backend == "memory":
        yield InMemoryEventLog()
    elif backend == "sqlite":
        with tempfile.TemporaryDirectory(dir=directory) as folder:
            path = Path(folder) / "events.db"
            print(f"  file: {path}")
            with SqliteEventLog.from_path(path) as log:
                yield log
            print(f"  file size: {path.stat().st_size / 1e6:.1f} MB")
    elif backend == "postgres":
        from engram.stores.postgres import PostgresEventLog

        with (
            databases(POSTGRES_URL, ("events",)) as urls,
            PostgresEventLog.from_conn_string(urls["events"]) as log,
        ):
            yield log
    else:
        from engram.stores.redis import RedisEventLog

        with redis_keyspace() as (client, prefix):
            yield RedisEventLog(client, prefix=prefix)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--dir", default=None, help="Directory of the SQLite file.")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="Comma-separated.")
    args = parser.parse_args()
    results: dict[str, float] = {}
    for backend in args.backends.split(","):
        if backend not in BACKENDS:
            parser.error(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
        print(backend)
        with open_log(backend, args.dir) as log:
            figures = run(log, args.events)
        results |= {f"{backend}.{name}": round(value, 2) for name, value in figures.items()}
    sys.stdout.write(json.dumps(results) + "\n")


if __name__ == "__main__":
    main()
