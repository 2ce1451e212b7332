"""Writers in several processes on one PostgreSQL or Redis event stream.

(SQLite has its own multi-process test in test_events_concurrency.py.) Lockstep rounds: every
process reads the same version, then every process appends at it; the database must let
exactly one through per round. Then every process sends the same append with one idempotency
key at once: it must be written exactly once, and every process must get that append back.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from engram._exceptions import ConflictError
from engram.stores.events import BaseEventLog
from engram.types import Event

pytest_plugins = ["servers"]

PROCESSES, ROUNDS = 3, 4
TENANT = "t"


@contextmanager
def _open(kind: str, url: str, prefix: str) -> Iterator[BaseEventLog]:
    if kind == "postgres":
        from engram.stores.postgres import PostgresEventLog

        with PostgresEventLog.from_conn_string(url) as log:
            yield log
    else:
        from engram.stores.redis import RedisEventLog

        with RedisEventLog.from_url(url, prefix=prefix) as log:
            yield log


def writer(kind: str, url: str, prefix: str, index: int, barrier: Any, queue: Any) -> None:
    """One process: lockstep rounds on stream `lockstep`, then a keyed append on `keyed`."""
    report: dict[str, Any] = {"writer": index, "error": None, "outcomes": Counter[str]()}
    try:
        with _open(kind, url, prefix) as log:
            for round_ in range(ROUNDS):
                barrier.wait()
                info = log.get_stream(TENANT, "lockstep")
                barrier.wait()  # every process has read the same version
                event = Event("custom", {"w": index, "round": round_})
                try:
                    version = info.version if info else 0
                    log.append(TENANT, "lockstep", [event], expected_version=version)
                    report["outcomes"]["acknowledged"] += 1
                except ConflictError:
                    report["outcomes"]["conflicts"] += 1
            barrier.wait()
            events = [Event.thought("once"), Event.thought("twice")]
            result = log.append(TENANT, "keyed", events, expected_version=0, idempotency_key="k")
            report["duplicate"] = result.duplicate
            report["ids"] = [event.id for event in result.events]
    except BaseException as exc:  # reported to the parent, which fails the test
        report["error"] = repr(exc)
        barrier.abort()
    report["outcomes"] = dict(report["outcomes"])
    queue.put(report)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["postgres", "redis"])
def test_processes_racing_on_one_stream(request: pytest.FixtureRequest, kind: str) -> None:
    if kind == "postgres":
        url, prefix = request.getfixturevalue("postgres_clean_database"), ""
    else:
        url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
    with _open(kind, url, prefix):
        pass  # migrate once, before the race
    context = multiprocessing.get_context("spawn")
    barrier, queue = context.Barrier(PROCESSES, timeout=120), context.Queue()
    processes = [
        context.Process(target=writer, args=(kind, url, prefix, index, barrier, queue))
        for index in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    reports = [queue.get(timeout=300) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert [report["error"] for report in reports] == [None] * PROCESSES
    outcomes = sum((Counter(report["outcomes"]) for report in reports), Counter[str]())
    assert outcomes == {"acknowledged": ROUNDS, "conflicts": (PROCESSES - 1) * ROUNDS}
    assert sorted(report["duplicate"] for report in reports) == [False] + [True] * (PROCESSES - 1)
    assert len({tuple(report["ids"]) for report in reports}) == 1
    with _open(kind, url, prefix) as log:
        rounds = [event.payload["round"] for event in log.read(TENANT, "lockstep")]
        assert rounds == list(range(ROUNDS))
        keyed = log.read(TENANT, "keyed")
        assert [event.payload["text"] for event in keyed] == ["once", "twice"]
