"""Concurrent appends to one stream from several processes (each with several threads).

Each writer reads the stream's version and appends at it, retrying on `ConflictError`. The
checks: every lost race surfaced as a `ConflictError` (acknowledged + conflicts = attempts),
no event was lost (events = acknowledged appends, each payload once), versions are gap-free.
Lockstep rounds (all writers read the same version, then all append) make conflicts certain:
exactly one writer wins each round. (The thread-only variants are in the conformance suite.)

Redis reads a batch's event-id keys without watching them (see `engram.stores.redis._streams`):
`test_redis_event_id_taken_before_the_commit` has another writer take an id between a batch's
reads and its commit.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engram._exceptions import ConflictError
from engram.stores.events import AppendEvents
from engram.stores.sqlite._internal import SqliteConnection
from engram.stores.sqlite.events import SqliteEventLog
from engram.testing.events import TENANT
from engram.types import Event
from event_fixtures import concurrent_writer

pytest_plugins = ["servers"]

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


@pytest.mark.parametrize("driver", ["sync", "async"])
@pytest.mark.parametrize("rival", ["keeps_the_id", "frees_it_again"])
def test_redis_event_id_taken_before_the_commit(
    redis_url: str, redis_prefix: str, driver: str, rival: str
) -> None:
    """A batch reads its ids as free; before it commits, a rival appends one of them to another
    stream. The commit writes nothing and the batch runs again: it then refuses the id, or,
    if the rival deleted its stream meanwhile, appends."""
    import redis

    from engram.stores.redis import RedisEventLog
    from engram.stores.redis._internal import Tx, Work
    from engram.stores.redis._streams import StreamBatch
    from engram.stores.redis.events import event_work

    events = [Event(type="custom", payload={"i": i}) for i in range(3000)]
    op = AppendEvents(TENANT, "mine", tuple(events))
    runs: list[int] = []
    with redis.Redis.from_url(redis_url) as client:
        log = RedisEventLog(client, prefix=redis_prefix)

        def make(tx: Tx) -> Work[list[Any]]:
            if runs and rival == "frees_it_again":
                log.delete_stream(TENANT, "rival")
            results = yield from event_work([op], StreamBatch(tx, log.keys))
            if not runs:  # the rival commits between this run's reads and its commit
                log.append(TENANT, "rival", [Event(type="custom", id=events[-1].id)])
            runs.append(len(tx.commands))
            return results

        if rival == "keeps_the_id":
            with pytest.raises(ConflictError, match="event id"):
                _drive(redis_url, client, driver, make)
            assert runs == [1]  # one commit, refused; the second run refused the id
            assert log.get_stream(TENANT, "mine") is None
            assert [event.id for event in log.read(TENANT, "rival")] == [events[-1].id]
        else:
            result = _drive(redis_url, client, driver, make)
            assert runs == [1, 1] and result[0].last_version == len(events)
            stored = log.read(TENANT, "mine")
            assert [event.id for event in stored] == [event.id for event in events]
            assert log.get_stream(TENANT, "rival") is None


def _drive(url: str, client: Any, driver: str, make: Callable[..., Any]) -> Any:
    """Run the batch `make` with the sync driver on `client`, or the async one on its own."""
    import redis.asyncio

    from engram.stores.redis._internal import arun, run

    if driver == "sync":
        return run(client, make)

    async def main() -> Any:
        async with redis.asyncio.Redis.from_url(url) as aclient:
            return await arun(aclient, make)

    return asyncio.run(main())
