"""The checkpointer conformance suite, run against every built-in backend.

Backends: memory, SQLite file, SQLite `:memory:`, each through the sync and the async API,
with short list delta chains (`snapshot_every=3`) so rebuilding crosses snapshots often.
(PostgreSQL and Redis run the suite in their own modules.) Then specs not in the suite yet,
on all four backends (PostgreSQL and Redis: the servers of `servers.py`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from engram.stores.checkpoints import (
    BaseCheckpointer,
    GetCheckpoint,
    ListCheckpoints,
    PutWrites,
)
from engram.stores.redis import AsyncRedisCheckpointer, RedisCheckpointer
from engram.testing.checkpoints import AsyncDrivenCheckpointer, CheckpointerSpec
from engram.types._checkpoint import PendingWrite
from servers import fresh_store

pytest_plugins = ["servers"]

T = "tenant-a"


@pytest.fixture(params=["memory", "sqlite-file", "sqlite-memory"])
def checkpoint_backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[BaseCheckpointer]:
    with fresh_store(request, tmp_path, "Checkpointer", snapshot_every=3) as backend:
        yield backend


@pytest.fixture(params=["sync", "async"])
def checkpointer(
    request: pytest.FixtureRequest, checkpoint_backend: BaseCheckpointer
) -> BaseCheckpointer:
    if request.param == "async":
        return AsyncDrivenCheckpointer(checkpoint_backend)
    return checkpoint_backend


class TestCheckpointer(CheckpointerSpec):
    """Every spec of `engram.testing.checkpoints`, per backend and API."""


# Beyond the spec: forks keep pending writes, listings by id, filters beyond 64 bits, and the
# connections a backend opens itself under concurrency. On every backend, through the sync API.


@pytest.fixture(params=["memory", "sqlite", "postgres", "redis"])
def every_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BaseCheckpointer]:
    """A fresh checkpointer of each backend (PostgreSQL and Redis: the test servers)."""
    with fresh_store(request, tmp_path, "Checkpointer", snapshot_every=3) as backend:
        yield backend


def _thread() -> str:
    return f"thread-{uuid.uuid4().hex[:12]}"


def _writes(task: str) -> tuple[PendingWrite, ...]:
    return (
        PendingWrite(task, "fan", ("json", b"[1]"), 0, "~__pregel_push, 0"),
        PendingWrite(task, "__error__", ("json", b'"boom"'), -1, "~__pregel_push, 1"),
    )


def _pending(cp: BaseCheckpointer, thread: str, checkpoint_id: str) -> Any:
    stored = cp.batch([GetCheckpoint(T, thread, "", checkpoint_id)])[0]
    assert stored is not None
    return stored.pending_writes


def test_fork_keeps_the_checkpoint_and_its_pending_writes(every_backend: BaseCheckpointer) -> None:
    """A fork's first checkpoint is the source checkpoint: same id (LangGraph derives its task
    ids from it), values, writer data and pending writes (an interrupt, the writes of the
    tasks that succeeded)."""
    cp, thread, fork, head_fork = every_backend, _thread(), _thread(), _thread()
    first = cp.put(T, thread, {"messages": ["a"], "step": 1})
    head = cp.put(T, thread, {"messages": ["a", "b"], "step": 2})
    cp.batch([PutWrites(T, thread, "", first.id, _writes("task-1"))])
    cp.batch([PutWrites(T, thread, "", head.id, _writes("task-2"))])
    info = cp.fork(T, thread, fork, first.id)
    assert (info.id, info.seq, info.parent_id) == (first.id, 1, None)
    assert _pending(cp, fork, info.id) == _pending(cp, thread, first.id)
    assert {w.task_id for w in _pending(cp, fork, info.id)} == {"task-1"}
    at_head = cp.fork(T, thread, head_fork)
    assert at_head.id == head.id
    assert _pending(cp, head_fork, head.id) == _pending(cp, thread, head.id)
    assert cp.get(T, head_fork).values == {"messages": ["a", "b"], "step": 2}
    later = cp.put(T, fork, {"messages": ["a", "c"], "step": 2})
    assert later.parent_id == info.id and later.id > info.id
    assert cp.delete_thread(T, thread)
    assert {w.task_id for w in _pending(cp, fork, info.id)} == {"task-1"}  # copies, not links
    assert cp.get(T, fork, info.id).values == {"messages": ["a"], "step": 1}


def test_list_one_checkpoint_by_id(every_backend: BaseCheckpointer) -> None:
    cp, thread, other = every_backend, _thread(), _thread()
    ids = [cp.put(T, thread, {"n": n}, metadata={"n": n}).id for n in range(4)]
    cp.put(T, other, {"n": 0})

    def listed(**kwargs: Any) -> list[str]:
        op = ListCheckpoints(**{"tenant": T, "thread_id": thread, **kwargs})
        return [stored.info.id for stored in cp.batch([op])[0]]

    assert listed(checkpoint_id=ids[1]) == [ids[1]]
    assert listed(checkpoint_id=ids[1], thread_id=None) == [ids[1]]
    assert listed(checkpoint_id=ids[1], namespace=None, limit=5) == [ids[1]]
    assert listed(checkpoint_id=ids[1], filter={"n": 1}) == [ids[1]]
    assert listed(checkpoint_id=ids[1], filter={"n": 2}) == []
    assert listed(checkpoint_id=ids[1], before=ids[2]) == [ids[1]]
    assert listed(checkpoint_id=ids[1], before=ids[1]) == []
    assert listed(checkpoint_id=ids[1], namespace="sub") == []
    assert listed(checkpoint_id=ids[1], thread_id=other) == []
    assert listed(checkpoint_id=str(uuid.uuid4())) == []
    assert listed(checkpoint_id="not-a-uuid") == []
    stored = cp.batch([ListCheckpoints(T, thread, with_values=True, checkpoint_id=ids[2])])[0]
    assert [(s.info.id, s.values is not None) for s in stored] == [(ids[2], True)]


@pytest.mark.parametrize(
    "value", [2**63, 2**63 - 1, -(2**63), -(2**63) - 1, 2**70, 10**30 + 1, 12345678901234567891]
)
def test_filter_on_integers_beyond_64_bits(every_backend: BaseCheckpointer, value: int) -> None:
    """Metadata is JSON, whose integers have no size limit: a filter matches them exactly
    (not as floats, which would also match their neighbours)."""
    for order in ((value, value + 1), (value + 1, value)):  # each one the newest
        cp, thread = every_backend, _thread()
        ids = {n: cp.put(T, thread, {"x": 1}, metadata={"val": n}).id for n in order}
        cp.put(T, thread, {"x": 2}, metadata={"val": "other"})
        for wanted in order:
            for limit in (None, 1):
                found = cp.history(T, thread, filter={"val": wanted}, limit=limit)
                assert [info.id for info in found] == [ids[wanted]], (order, wanted, limit)
        assert cp.history(T, thread, filter={"val": value + 2}) == []


def _with_query(url: str, query: str) -> str:
    return url + ("&" if "?" in url else "?") + query


async def test_async_redis_from_url_waits_for_a_free_connection(
    redis_url: str, redis_prefix: str
) -> None:
    """Many more concurrent operations than pooled connections: they queue, none fails."""
    for url in (redis_url, _with_query(redis_url, "max_connections=2")):
        async with AsyncRedisCheckpointer.from_url(url, prefix=redis_prefix) as cp:
            threads = [f"{_thread()}-{i}" for i in range(200)]
            puts = await asyncio.gather(*[cp.aput(T, t, {"i": i}) for i, t in enumerate(threads)])
            gets = await asyncio.gather(*[cp.aget(T, t) for t in threads])
            assert [got.id for got in gets if got] == [info.id for info in puts]
            assert [got.values for got in gets if got] == [{"i": i} for i in range(200)]


def test_redis_from_url_waits_for_a_free_connection(redis_url: str, redis_prefix: str) -> None:
    url = _with_query(redis_url, "max_connections=2")
    with RedisCheckpointer.from_url(url, prefix=redis_prefix) as cp:
        threads = [f"{_thread()}-{i}" for i in range(100)]
        with ThreadPoolExecutor(50) as pool:
            puts = list(pool.map(lambda t: cp.put(T, t, {"t": t}), threads))
        heads = [cp.get(T, t) for t in threads]
        assert [head.id for head in heads if head] == [info.id for info in puts]
