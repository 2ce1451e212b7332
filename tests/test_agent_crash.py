"""Crash safety: an agent loop SIGKILLed mid-step resumes with no event lost or duplicated.

The agent (`event_fixtures.run_agent`) runs in a subprocess on a SQLite file. The test
synchronises on its stdout lines: either the agent stops at a named point of a step (printing
`PAUSED ...` and waiting on stdin) and is killed there, or the test kills it right after a
progress line while it keeps running. A restarted agent must finish the task so that the log
and the final working memory equal those of an uninterrupted run.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from engram.state.events import replay
from engram.state.working import apply_event
from engram.stores.sqlite._internal import SqliteConnection
from engram.stores.sqlite.events import SqliteEventLog
from engram.testing.events import TENANT
from engram.types._event import Event
from event_fixtures import agent_policy, initial_memory, run_agent

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")

AGENT = Path(__file__).with_name("event_fixtures.py")
STEPS = 6
STREAM = "task-1"


def _start(db: Path, *extra: str) -> subprocess.Popen[str]:
    command = [sys.executable, str(AGENT), str(db), STREAM, str(STEPS), *extra]
    return subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _read_until(process: subprocess.Popen[str], wanted: str) -> list[str]:
    """Read stdout lines until one starts with `wanted` (a watchdog kills a stuck agent)."""
    watchdog = threading.Timer(120, process.kill)
    watchdog.start()
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.strip())
            if line.startswith(wanted):
                return lines
    finally:
        watchdog.cancel()
    raise AssertionError(f"agent ended before {wanted!r}: {lines}, {_stderr(process)}")


def _stderr(process: subprocess.Popen[str]) -> str:
    return process.stderr.read() if process.stderr else ""


def _kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL


def _finish(db: Path) -> list[str]:
    process = _start(db)
    lines = _read_until(process, "DONE")
    process.communicate()
    assert process.returncode == 0, _stderr(process)
    return lines


def _events(db: Path) -> list[Event]:
    conn = SqliteConnection(db)
    events = SqliteEventLog(conn).read(TENANT, STREAM)
    conn.close()
    return events


def _outcome(db: Path) -> tuple[list[tuple[Any, ...]], dict[str, Any]]:
    """What must not depend on crashes: the events' content and the final working memory."""
    events = _events(db)
    content = [(e.version, e.type, e.name, dict(e.payload)) for e in events]
    conn = SqliteConnection(db)
    log = SqliteEventLog(conn)
    state = replay(log, TENANT, STREAM, apply_event, initial_memory(), snapshots=agent_policy())
    full = replay(log, TENANT, STREAM, apply_event, initial_memory())
    conn.close()
    assert state.state == full.state  # the snapshot path and the full fold agree
    memory = state.state.to_dict()
    memory.pop("updated_at")  # the time of the last event, which differs between runs
    return content, memory


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, ...]:
    db = tmp_path_factory.mktemp("reference") / "agent.db"
    lines: list[str] = []
    run_agent(str(db), STREAM, STEPS, lines.append)
    assert lines[-1] == "DONE"
    return _outcome(db)


def _assert_exactly_once(db: Path) -> None:
    events = _events(db)
    assert [e.version for e in events] == list(range(1, 3 * STEPS + 1))
    per_call = Counter((e.type, e.payload.get("call_id")) for e in events if e.type != "custom")
    assert set(per_call.values()) == {1} and len(per_call) == 2 * STEPS


@pytest.mark.slow
@pytest.mark.parametrize(
    ("pause_at", "retried"),
    [
        ("intent:2:result", "RETRIED step-2/result duplicate=False"),
        ("appended:2:action", "RETRIED step-2/action duplicate=True"),
        ("appended:3:result", "RETRIED step-3/result duplicate=True"),
    ],
)
def test_killed_at_a_point_of_a_step_resumes_exactly_once(
    tmp_path: Path, reference: tuple[object, ...], pause_at: str, retried: str
) -> None:
    db = tmp_path / "agent.db"
    process = _start(db, pause_at)
    _read_until(process, f"PAUSED {pause_at}")
    _kill(process)

    lines = _finish(db)
    assert lines[0] == retried
    assert lines[1].startswith("START")
    _assert_exactly_once(db)
    assert _outcome(db) == reference


@pytest.mark.slow
def test_killed_while_running_resumes_exactly_once(
    tmp_path: Path, reference: tuple[object, ...]
) -> None:
    db = tmp_path / "agent.db"
    process = _start(db)
    _read_until(process, "STEP 2 result")
    _kill(process)  # wherever it is now: appending, snapshotting, writing its intent

    lines = _finish(db)
    started = next(line for line in lines if line.startswith("START"))
    assert int(started.split("version=")[1].split()[0]) >= 9  # steps 0-2 were durable
    _assert_exactly_once(db)
    assert _outcome(db) == reference
