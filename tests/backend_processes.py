"""The multi-process scenarios of the PostgreSQL and Redis tests, and their writer processes.

Several processes (started with `spawn`, so nothing is inherited but the arguments) write the
same session and the same event streams at once, each through its own connections:

- `run_session_writers`: each writer appends its numbered messages (with a state merge, in
  the same batch) and races the others to replace the running summary.
- `run_stream_writers`: lockstep rounds in which every writer appends at the version all of
  them read (exactly one may win), then free-running writers (two threads per process) that
  append with `expected_version` and retry on `ConflictError`, then idempotent re-sends.

The writers run in a `WriterPool`: one process per writer, started once (a spawned process
imports Engram anew, which costs seconds) and shared by the scenarios of a test module. Each
scenario returns the writers' reports and the store's final state; `check_*` check them. A
writer that fails reports its error instead (and breaks the barrier, so no one waits).
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from engram._exceptions import ConflictError
from engram.stores.conversation import (
    AppendMessages,
    BaseConversationStore,
    ListMessages,
    MergeState,
    PutSummary,
)
from engram.stores.events import BaseEventLog
from engram.testing.events import TENANT, append_with_retry
from engram.types import Event, Message, Session, Summary

SESSION = "shared"
TIMEOUT = 120


@contextmanager
def conversation_store(backend: str, target: Any) -> Iterator[BaseConversationStore]:
    """A store of `backend` on `target` (a conninfo, or a Redis (url, prefix))."""
    if backend == "postgres":
        from engram.stores.postgres import PostgresConversationStore

        with PostgresConversationStore.from_conn_string(target) as store:
            yield store
    else:
        from engram.stores.redis import RedisConversationStore

        url, prefix = target
        with RedisConversationStore.from_url(url, prefix=prefix) as store:
            yield store


@contextmanager
def event_log(backend: str, target: Any) -> Iterator[BaseEventLog]:
    """An event log of `backend` on `target`."""
    if backend == "postgres":
        from engram.stores.postgres import PostgresEventLog

        with PostgresEventLog.from_conn_string(target) as log:
            yield log
    else:
        from engram.stores.redis import RedisEventLog

        url, prefix = target
        with RedisEventLog.from_url(url, prefix=prefix) as log:
            yield log


_barrier: Any = None
"""The pool's barrier, in a writer process."""


def _remember_barrier(barrier: Any) -> None:
    global _barrier
    _barrier = barrier


class WriterPool:
    """`writers` spawned processes that run one writer each, all at once, per scenario."""

    def __init__(self, writers: int = 3) -> None:
        context = multiprocessing.get_context("spawn")
        self.writers = writers
        self._executor = ProcessPoolExecutor(
            writers,
            mp_context=context,
            initializer=_remember_barrier,
            initargs=(context.Barrier(writers, timeout=TIMEOUT),),
        )

    def run(self, worker: Any, *args: Any) -> list[dict[str, Any]]:
        """Run `worker(index, *args)` in every process; return the reports by writer."""
        futures = [self._executor.submit(worker, index, *args) for index in range(self.writers)]
        return [future.result(timeout=TIMEOUT) for future in futures]

    def close(self) -> None:
        self._executor.shutdown()


# One session, many writers.


def run_session_writers(
    pool: WriterPool, backend: str, target: Any, appends: int = 20, size: int = 2
) -> tuple[list[dict[str, Any]], list[Message], Session, Summary | None]:
    """Run the writers; return their reports, the session's messages, session and summary."""
    with conversation_store(backend, target) as store:
        store.create_session(Session(id=SESSION, tenant=TENANT))
    reports = pool.run(session_writer, backend, target, appends, size)
    with conversation_store(backend, target) as store:
        messages = store.list_messages(ListMessages(TENANT, SESSION))
        session = store.get_session(TENANT, SESSION, now=datetime.now(UTC))
        summary = store.get_summary(TENANT, SESSION)
    assert session is not None
    return reports, messages, session, summary


def session_writer(
    index: int, backend: str, target: Any, appends: int, size: int
) -> dict[str, Any]:
    """Append `appends` batches of `size` messages (and a merge); race for the summary."""
    report: dict[str, Any] = {"writer": index, "error": None, "acknowledged": [], "batches": 0}
    summary = Counter[str]()
    try:
        with conversation_store(backend, target) as store:
            _barrier.wait()
            for batch in range(appends):
                messages = tuple(
                    Message(
                        role="user",
                        content=f"writer {index} message {batch * size + item}",
                        id=f"w{index}-{batch * size + item}",
                        metadata={"writer": index, "index": batch * size + item},
                    )
                    for item in range(size)
                )
                now = datetime.now(UTC)
                patch = {"writers": {f"w{index}": batch}, "keys": {f"w{index}-{batch}": batch}}
                store.batch(
                    [
                        AppendMessages(TENANT, SESSION, messages, now),
                        MergeState(TENANT, SESSION, patch, now),
                    ]
                )
                report["acknowledged"] += [message.id for message in messages]
                report["batches"] += 1
                _race_for_summary(store, index, summary)
    except BaseException as exc:  # reported to the parent, which fails the test
        report["error"] = repr(exc)
        _barrier.abort()
    report["summary"] = dict(summary)
    return report


def _race_for_summary(store: BaseConversationStore, index: int, tally: Counter[str]) -> None:
    current = store.get_summary(TENANT, SESSION)
    expected = None if current is None else current.through_seq
    replacement = Summary(SESSION, f"by writer {index}", (expected or 0) + 1)
    tally["attempts"] += 1
    try:
        store.batch([PutSummary(TENANT, replacement, expected)])
    except ConflictError:
        tally["conflicts"] += 1
    else:
        tally["acknowledged"] += 1


# One stream, many writers.


def run_stream_writers(
    pool: WriterPool, backend: str, target: Any, rounds: int = 5, per_thread: int = 10
) -> tuple[list[dict[str, Any]], dict[str, list[Event]]]:
    """Run the writers; return their reports and the final events of both streams."""
    reports = pool.run(stream_writer, backend, target, rounds, per_thread)
    with event_log(backend, target) as log:
        streams = {name: log.read(TENANT, name) for name in ("lockstep", "free")}
    return reports, streams


def stream_writer(
    index: int, backend: str, target: Any, rounds: int, per_thread: int
) -> dict[str, Any]:
    """Lockstep rounds, then free-running threads, then idempotent re-sends."""
    report: dict[str, Any] = {"writer": index, "error": None}
    try:
        report["lockstep"] = _lockstep(backend, target, index, rounds)
        _barrier.wait()
        report["free"] = _free_running(backend, target, index, per_thread)
        report["resent"] = _resend(backend, target, index)
    except BaseException as exc:  # reported to the parent, which fails the test
        report["error"] = repr(exc)
        _barrier.abort()
    return report


def _lockstep(backend: str, target: Any, index: int, rounds: int) -> dict[str, int]:
    tally = Counter[str]()
    with event_log(backend, target) as log:
        for round_ in range(rounds):
            _barrier.wait()
            info = log.get_stream(TENANT, "lockstep")
            _barrier.wait()  # every process has read the same version
            event = Event(type="custom", payload={"w": index, "round": round_})
            try:
                log.append(
                    TENANT, "lockstep", [event], expected_version=info.version if info else 0
                )
                tally["acknowledged"] += 1
            except ConflictError:
                tally["conflicts"] += 1
    return dict(tally)


def _free_running(backend: str, target: Any, index: int, per_thread: int) -> dict[str, int]:
    tallies = [Counter[str](), Counter[str]()]
    errors: list[BaseException] = []

    def work(thread: int) -> None:
        try:
            with event_log(backend, target) as log:  # one connection per thread
                for item in range(per_thread):
                    payload = {"w": index, "t": thread, "i": item}
                    append_with_retry(log, "free", payload, tallies[thread])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(thread,)) for thread in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return dict(sum(tallies, Counter[str]()))


def _resend(backend: str, target: Any, index: int) -> list[bool]:
    """Append once with an idempotency key, then re-send it: (first, second) duplicate flags."""
    with event_log(backend, target) as log:
        event = Event(type="custom", name="resent", payload={"w": index})
        first = log.append(TENANT, "free", [event], idempotency_key=f"resend-{index}")
        again = log.append(TENANT, "free", [event], idempotency_key=f"resend-{index}")
        assert again.events == first.events
        return [first.duplicate, again.duplicate]


# One user's memories, many writers (PostgreSQL: Redis keeps no long-term memories).

MEMORY_USER = "shared-user"
MEMORY_MODEL = "test/unit-vectors"


def run_memory_writers(
    pool: WriterPool, target: str, adds: int = 15
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run the writers; return their reports and what the store holds of the user."""
    import numpy as np

    from engram.stores.memories import MemoryFilter
    from engram.stores.postgres import PostgresMemoryStore

    reports = pool.run(memory_writer, target, adds)
    with PostgresMemoryStore.from_conn_string(target) as store:
        user = MemoryFilter(user_id=MEMORY_USER)
        memories = store.list_memories(TENANT, user, limit=10_000)
        ids = [memory.id for memory in memories]
        vectors = store.get_vectors(TENANT, ids, MEMORY_MODEL)
        histories = {mid: len(store.get_history(TENANT, mid)) for mid in ids}
        probe = np.zeros(8, dtype=np.float32)
        probe[0] = 1.0
        found = store.search_vector(TENANT, probe, MEMORY_MODEL, user, limit=10_000)
    state = {
        "ids": ids,
        "with_vector": sum(vector is not None for vector in vectors),
        "histories": histories,
        "searchable": len(found),
    }
    return reports, state


def memory_writer(index: int, target: str, adds: int) -> dict[str, Any]:
    """Add `adds` memories of the shared user, one write each, with a vector and history."""
    import numpy as np

    from engram.stores.memories import VectorRecord
    from engram.stores.postgres import PostgresMemoryStore
    from engram.types import Memory, MemoryChange

    report: dict[str, Any] = {"writer": index, "error": None, "acknowledged": []}
    try:
        with PostgresMemoryStore.from_conn_string(target) as store:
            _barrier.wait()
            for item in range(adds):
                memory = Memory(
                    f"writer {index} fact {item}",
                    id=f"w{index}-{item}",
                    tenant=TENANT,
                    user_id=MEMORY_USER,
                )
                vector = np.ones(8, dtype=np.float32) / np.sqrt(8)
                change = MemoryChange(memory.id, "add", new_text=memory.text, tenant=TENANT)
                store.put_memories(
                    TENANT, [memory], vectors=[VectorRecord(MEMORY_MODEL, vector)], changes=[change]
                )
                report["acknowledged"].append(memory.id)
    except BaseException as exc:  # reported to the parent, which fails the test
        report["error"] = repr(exc)
        _barrier.abort()
    return report


def check_memory_writers(reports: list[dict[str, Any]], state: dict[str, Any]) -> None:
    """Every acknowledged memory stored once, with its vector and its history entry."""
    assert [r["error"] for r in reports] == [None] * len(reports), reports
    acknowledged = sorted(mid for report in reports for mid in report["acknowledged"])
    assert sorted(state["ids"]) == acknowledged, "acknowledged memories != stored memories"
    assert state["with_vector"] == len(acknowledged), "a vector was lost"
    assert set(state["histories"].values()) == {1}, "a history entry was lost or doubled"
    assert state["searchable"] == len(acknowledged), "a memory is missing from vector search"


# Checks (plain asserts: this module is not rewritten by pytest, so each says what broke).


def check_session_writers(
    reports: list[dict[str, Any]], messages: list[Message], session: Session, summary: Any
) -> None:
    """No acknowledged write lost, seqs gap-free, each writer's order kept, no lost merge."""
    assert [r["error"] for r in reports] == [None] * len(reports), reports
    acknowledged = [mid for report in reports for mid in report["acknowledged"]]
    assert sorted(m.id for m in messages) == sorted(acknowledged), "acknowledged != stored"
    assert [m.seq for m in messages] == list(range(1, len(messages) + 1)), "seqs have gaps"
    for report in reports:
        mine = [m.metadata["index"] for m in messages if m.metadata["writer"] == report["writer"]]
        assert mine == sorted(mine), f"writer {report['writer']}'s messages were reordered"
    assert (session.message_count, session.state["writers"]) == (
        len(acknowledged),
        {f"w{r['writer']}": r["batches"] - 1 for r in reports},
    ), "counters or merged state lost a write"
    assert len(session.state["keys"]) == sum(r["batches"] for r in reports), "a merge was lost"
    tally = sum((Counter(r["summary"]) for r in reports), Counter[str]())
    assert tally["acknowledged"] + tally["conflicts"] == tally["attempts"]
    assert summary is not None and summary.through_seq == tally["acknowledged"], (
        "a summary write was lost or applied twice"
    )


def check_stream_writers(
    reports: list[dict[str, Any]], streams: dict[str, list[Event]], rounds: int, per_thread: int
) -> None:
    """Exactly one winner per lockstep round; every acknowledged append stored, in order."""
    writers = len(reports)
    assert [r["error"] for r in reports] == [None] * writers, reports
    lockstep = sum((Counter(r["lockstep"]) for r in reports), Counter[str]())
    assert lockstep == {"acknowledged": rounds, "conflicts": (writers - 1) * rounds}, lockstep
    assert [e.version for e in streams["lockstep"]] == list(range(1, rounds + 1))
    free = sum((Counter(r["free"]) for r in reports), Counter[str]())
    assert free["acknowledged"] == writers * 2 * per_thread, free
    assert free["acknowledged"] + free["conflicts"] == free["attempts"], free
    events = streams["free"]
    assert [e.version for e in events] == list(range(1, len(events) + 1)), "versions have gaps"
    appended = [e.payload for e in events if e.name != "resent"]
    assert len(appended) == free["acknowledged"], "an acknowledged append was lost"
    for w in range(writers):
        for t in range(2):
            order = [p["i"] for p in appended if (p["w"], p["t"]) == (w, t)]
            assert order == list(range(per_thread)), f"writer {w}/{t} lost or reordered appends"
    assert [r["resent"] for r in reports] == [[False, True]] * writers
    assert sum(e.name == "resent" for e in events) == writers, "a re-sent append was stored twice"
