"""Concurrent appends to one stream from several processes (each with several threads).

Each writer reads the stream's version and appends at it, retrying on `ConflictError`. The
checks: every lost race surfaced as a `ConflictError` (acknowledged + conflicts = attempts),
no event was lost (events = acknowledged appends, each payload once), versions are gap-free.
Lockstep rounds (all writers read the same version, then all append) make conflicts certain:
exactly one writer wins each round. (The thread-only variants are in the conformance suite.)
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from engram.stores.sqlite._internal import SqliteConnection
from engram.stores.sqlite.events import SqliteEventLog
from engram.testing.events import TENANT
from event_fixtures import concurrent_writer

PROCESSES, ROUNDS, THREADS, PER_THREAD = 3, 5, 2, 10


def _run_writers(db: Path) -> list[dict[str, Any]]:
    conn = SqliteConnection(db)
    SqliteEventLog(conn)  # migrate once, before the race
    conn.close()
    context = multiprocessing.get_context("spawn")
    barrier, queue = context.Barrier(PROCESSES, timeout=120), context.Queue()
    processes = [
        context.Process(
            target=concurrent_writer,
            args=(str(db), index, ROUNDS, THREADS, PER_THREAD, barrier, queue),
        )
        for index in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    reports = [queue.get(timeout=300) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    return reports


@pytest.mark.slow
def test_processes_and_threads_racing_on_one_stream(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    reports = _run_writers(db)
    assert [report["error"] for report in reports] == [None] * PROCESSES

    conn = SqliteConnection(db)
    log = SqliteEventLog(conn)
    lockstep = sum((Counter(report["lockstep"]) for report in reports), Counter[str]())
    assert lockstep == {"acknowledged": ROUNDS, "conflicts": (PROCESSES - 1) * ROUNDS}
    rounds = [event.payload["round"] for event in log.read(TENANT, "lockstep")]
    assert rounds == list(range(ROUNDS))

    free = sum((Counter(report["free"]) for report in reports), Counter[str]())
    total = PROCESSES * THREADS * PER_THREAD
    assert free["acknowledged"] == total
    assert free["acknowledged"] + free["conflicts"] == free["attempts"]
    events = log.read(TENANT, "free")
    assert [event.version for event in events] == list(range(1, total + 1))
    payloads = Counter((e.payload["w"], e.payload["t"], e.payload["i"]) for e in events)
    assert len(payloads) == total and set(payloads.values()) == {1}
    conn.close()
