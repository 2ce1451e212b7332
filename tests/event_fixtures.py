"""Helpers of the event-log tests that run in other processes.

- `concurrent_writer`: one process of the multi-process concurrency test.
- `run_agent` / `python event_fixtures.py DB STREAM STEPS [PAUSE]`: a deterministic agent loop
  for the crash test. Each step is two appends, an action then its result, each with an
  idempotency key derived from the step. Before an append the agent writes its intent (the
  append it is about to make) to a file; a restarted agent first re-sends a leftover intent,
  not knowing whether it committed, and the key makes that retry safe. Its state (working
  memory) is rebuilt on start by replaying the stream from its latest snapshot.
"""

from __future__ import annotations

import json
import sys
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engram._exceptions import ConflictError
from engram.state.events import Replay, append_and_fold, replay
from engram.state.working import STEP_COMPLETED, apply_event, working_memory_snapshots
from engram.stores.sqlite._internal import SqliteConnection
from engram.stores.sqlite.events import SqliteEventLog
from engram.testing.events import TENANT, append_with_retry
from engram.types._event import Event
from engram.types._working import WorkingMemory

GOAL = "square the numbers"
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


# Concurrency.


def concurrent_writer(
    db: str, index: int, rounds: int, threads: int, per_thread: int, barrier: Any, queue: Any
) -> None:
    """Lockstep rounds on stream `lockstep`, then free-running threads on stream `free`."""
    report: dict[str, Any] = {"writer": index, "error": None}
    try:
        report["lockstep"] = _lockstep(db, index, rounds, barrier)
        report["free"] = _free_running(db, index, threads, per_thread)
    except BaseException as exc:  # reported to the parent, which fails the test
        report["error"] = repr(exc)
        barrier.abort()
    queue.put(report)


def _lockstep(db: str, index: int, rounds: int, barrier: Any) -> dict[str, int]:
    conn = SqliteConnection(db)
    log, tally = SqliteEventLog(conn), Counter[str]()
    for round_ in range(rounds):
        barrier.wait()
        info = log.get_stream(TENANT, "lockstep")
        barrier.wait()  # every process has read the same version
        event = Event(type="custom", payload={"w": index, "round": round_})
        try:
            log.append(TENANT, "lockstep", [event], expected_version=info.version if info else 0)
            tally["acknowledged"] += 1
        except ConflictError:
            tally["conflicts"] += 1
    conn.close()
    return dict(tally)


def _free_running(db: str, index: int, threads: int, per_thread: int) -> dict[str, int]:
    tallies = [Counter[str]() for _ in range(threads)]
    errors: list[BaseException] = []

    def work(thread: int) -> None:
        conn = SqliteConnection(db)  # one connection per thread: real lock contention
        log = SqliteEventLog(conn)
        try:
            for item in range(per_thread):
                payload = {"w": index, "t": thread, "i": item}
                append_with_retry(log, "free", payload, tallies[thread])
        except BaseException as exc:
            errors.append(exc)
        conn.close()

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]
    return dict(sum(tallies, Counter[str]()))


# The crash-test agent.


def agent_policy() -> Any:
    return working_memory_snapshots(every=4, name="agent/v1")


def initial_memory() -> WorkingMemory:
    return WorkingMemory(goal=GOAL, updated_at=EPOCH)


def run_agent(
    db: str,
    stream: str,
    steps: int,
    emit: Callable[[str], None],
    pause: Callable[[str], None] = lambda point: None,
) -> Replay[WorkingMemory]:
    """Run the agent until `steps` steps are complete; return its final state."""
    conn = SqliteConnection(db)
    log, policy = SqliteEventLog(conn), agent_policy()
    intent = Path(f"{db}.intent.json")
    if intent.exists():
        _retry(log, stream, intent, emit)
    state = replay(log, TENANT, stream, apply_event, initial_memory(), snapshots=policy)
    emit(f"START version={state.version} read={state.events_read}")
    while (n := len(state.state.completed_steps)) < steps:
        phase, key, events = _next_append(state.state, n)
        _write_intent(intent, key, state.version, events)
        pause(f"intent:{n}:{phase}")
        state = append_and_fold(
            log, TENANT, stream, state, events, apply_event, idempotency_key=key, snapshots=policy
        )
        pause(f"appended:{n}:{phase}")
        intent.unlink()
        emit(f"STEP {n} {phase} version={state.version}")
    emit("DONE")
    conn.close()
    return state


def _next_append(memory: WorkingMemory, n: int) -> tuple[str, str, list[Event]]:
    """Decide the next append from the state alone (deterministic)."""
    step = f"step-{n}"
    if memory.current_step != step:
        action = Event.action("square", {"x": n}, call_id=f"call-{n}", step=step)
        return "action", f"{step}/action", [action]
    result = Event.observation(str(n * n), tool="square", call_id=f"call-{n}")
    return "result", f"{step}/result", [result, Event(type="custom", name=STEP_COMPLETED)]


def _write_intent(path: Path, key: str, version: int, events: list[Event]) -> None:
    data = {"key": key, "expected_version": version, "events": [e.to_dict() for e in events]}
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data))
    temporary.replace(path)  # atomic: a crash leaves the old intent or the new one


def _retry(log: SqliteEventLog, stream: str, intent: Path, emit: Callable[[str], None]) -> None:
    data = json.loads(intent.read_text())
    events = [Event.from_dict(item) for item in data["events"]]
    result = log.append(
        TENANT,
        stream,
        events,
        expected_version=data["expected_version"],
        idempotency_key=data["key"],
    )
    intent.unlink()
    emit(f"RETRIED {data['key']} duplicate={result.duplicate}")


def _main(argv: list[str]) -> None:
    db, stream, steps = argv[0], argv[1], int(argv[2])
    pause_at = argv[3] if len(argv) > 3 else None

    def emit(line: str) -> None:
        print(line, flush=True)

    def pause(point: str) -> None:
        if point == pause_at:
            emit(f"PAUSED {point}")
            sys.stdin.readline()  # the test kills the process here

    run_agent(db, stream, steps, emit, pause)


if __name__ == "__main__":
    _main(sys.argv[1:])
