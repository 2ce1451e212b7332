"""Crash safety: a writer killed with SIGKILL mid-stream loses no acknowledged message.

A child process appends one message per batch and prints each message id once `batch()` has
returned (the write is committed). The parent kills it without warning after 300 acks, then
checks the file: intact, every acknowledged message present, seqs gap-free, counters equal to
the rows.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from engram.stores import ListMessages, SqliteConnection, SqliteConversationStore
from engram.stores.sqlite import base

_WRITER = """
import sys
from datetime import UTC, datetime
from engram.stores import AppendMessages, SqliteConversationStore
from engram.types import Message, Session

with SqliteConversationStore.from_path(sys.argv[1]) as store:
    store.create_session(Session(id="s1", tenant="t"))
    while True:
        message = Message(role="user", content="x" * 500, tokens=7)
        store.batch([AppendMessages("t", "s1", (message,), datetime.now(UTC))])
        sys.stdout.write(message.id + "\\n")
        sys.stdout.flush()
"""
_ACKS = 300


def _read_acks(process: subprocess.Popen[str], count: int) -> list[str]:
    assert process.stdout is not None
    acks: list[str] = []
    while len(acks) < count:
        line = process.stdout.readline()
        assert line, f"the writer died early: {process.stderr.read() if process.stderr else ''}"
        acks.append(line.strip())
    return acks


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_loses_no_acknowledged_message(tmp_path: Path) -> None:
    path = tmp_path / "engram.db"
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    watchdog = threading.Timer(60, process.kill)  # never hang the suite on a stuck writer
    watchdog.start()
    try:
        acks = _read_acks(process, _ACKS)
        process.send_signal(signal.SIGKILL)  # mid-stream: it is writing its next batch
        process.wait()
        assert process.stdout is not None
        # Acks it printed after our 300th and before dying count too (whole lines only).
        acks += [line.strip() for line in process.stdout.readlines() if line.endswith("\n")]
    finally:
        watchdog.cancel()
        process.kill()
        process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    assert process.returncode == -signal.SIGKILL

    conn = SqliteConnection(path)
    try:
        assert conn.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        store = SqliteConversationStore(conn)
        stored = store.list_messages(ListMessages("t", "s1"))
        session = store.get_session("t", "s1", now=stored[-1].created_at)
        row = conn.conn.execute(base.SELECT_SESSION, ("t", "s1")).fetchone()
    finally:
        conn.close()
    ids = [message.id for message in stored]
    assert len(acks) >= _ACKS
    assert ids[: len(acks)] == acks  # every ack present, in order; at most one more unacked
    assert len(ids) - len(acks) <= 1
    assert [message.seq for message in stored] == list(range(1, len(stored) + 1))
    assert session is not None
    assert (session.message_count, session.token_count) == (len(stored), 7 * len(stored))
    assert row["last_seq"] == len(stored)
