"""The Redis event log (sync); the async twin is in `aio.py`.

Each stream is a Redis stream whose entry ids are the event versions (`{version}-0`), next to
a small record of its version and times (`base.py`). A batch is one optimistic transaction
(`_internal`): it watches the records of the streams it reads, so of two writers that read
version N of a stream, only the first to commit writes N + 1; the other's whole batch runs
again on fresh reads, and its `expected_version=N` append then raises `ConflictError`.
Appends without an expected version simply land after the winner's. Event ids are unique per
tenant (a key per id) and idempotency keys are a hash per stream, written in the same
transaction as the events they name. The id keys are not watched (that costs Redis O(N²) for
N ids): the transaction's writes are one script that first checks the ids are still free,
and writes nothing if not, so the batch runs again (`_streams`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from engram._exceptions import InvalidInputError
from engram.stores import _event_rules as rules
from engram.stores.events import (
    AppendEvents,
    BaseEventLog,
    DeleteStream,
    GetSnapshot,
    GetStream,
    ListStreams,
    Op,
    PutSnapshot,
    ReadEvents,
)
from engram.stores.redis import base
from engram.stores.redis._internal import Client, Read, Tx, Work, client_from, connect, run
from engram.stores.redis._streams import StreamBatch
from engram.types._event import AppendResult, Event, Snapshot, StreamInfo

__all__ = ["RedisEventLog", "event_work"]


class RedisEventLog(BaseEventLog):
    """Event streams in Redis.

    It never closes an injected client or pool; `from_url` opens and closes its own.
    Thread-safe. `abatch` runs the batch on a worker thread; for real async I/O use
    `AsyncRedisEventLog`.

    Args:
        client: A `redis.Redis` client or a `redis.ConnectionPool`.
        prefix: Prepended to every key.

    Example:
        ```python
        with RedisEventLog.from_url("redis://localhost:6379/0") as log:
            log.append("default", "task-1", [Event.thought("plan")], expected_version=0)
        ```
    """

    def __init__(self, client: Client | Any, *, prefix: str = "engram:") -> None:
        self.client = client_from(client)
        self.keys = base.Keys(prefix)

    @classmethod
    @contextmanager
    def from_url(cls, url: str, **options: Any) -> Iterator[RedisEventLog]:
        """Open a log on its own client to `url`, closed when the block exits."""
        with connect(url) as client:
            yield cls(client, **options)

    def batch(self, ops: Sequence[Op]) -> list[Any]:
        """Run `ops` in order in one optimistic transaction; return their results in order."""
        for op in ops:
            rules.check_op(op)
        if not ops:
            return []
        return run(self.client, self._work(ops))

    async def abatch(self, ops: Sequence[Op]) -> list[Any]:
        """Async `batch` on a worker thread (this class's I/O is blocking)."""
        return await asyncio.to_thread(self.batch, ops)

    def _work(self, ops: Sequence[Op]) -> Callable[[Tx], Work[list[Any]]]:
        def make(tx: Tx) -> Work[list[Any]]:
            return event_work(ops, StreamBatch(tx, self.keys))

        return make


def event_work(ops: Sequence[Op], batch: StreamBatch) -> Work[list[Any]]:
    """The reads and writes of a batch of validated ops, in order; returns their results."""
    results: list[Any] = []
    for op in ops:
        results.append((yield from _run(batch, op)))
    batch.commit()
    return results


def _run(batch: StreamBatch, op: Op) -> Work[Any]:
    match op:
        case AppendEvents():
            return (yield from _append(batch, op))
        case ReadEvents():
            return (yield from _read(batch, op))
        case GetStream():
            view = yield from batch.view(op.tenant, op.stream_id)
            return view.info
        case ListStreams():
            return (yield from _list_streams(batch, op))
        case DeleteStream():
            view = yield from batch.view(op.tenant, op.stream_id)
            existed = view.info is not None
            yield from batch.remove(view)
            return existed
        case PutSnapshot():
            return (yield from _put_snapshot(batch, op))
        case GetSnapshot():
            return (yield from _get_snapshot(batch, op))
    raise InvalidInputError(f"unsupported operation: {type(op).__name__}")


def _append(batch: StreamBatch, op: AppendEvents) -> Work[AppendResult]:
    view = yield from batch.view(op.tenant, op.stream_id)
    if op.idempotency_key is not None:
        applied = yield from batch.applied(view, op.idempotency_key)
        if applied is not None:
            events = yield from batch.events(view, applied[0], applied[1], None, None)
            if len(events) == applied[1] - applied[0] + 1:
                rules.check_same_append(op, events)
            # Else the key was read after another writer committed it, the stream's record
            # before: this run's reads are stale, and its EXEC fails on the watched record,
            # so the batch runs again on fresh reads (this result is never returned).
            return AppendResult(op.stream_id, tuple(events), duplicate=True)
    current = 0 if view.info is None else view.info.version
    rules.check_expected(op, current)
    stamped = rules.stamp(op.events, op.stream_id, current)
    ids = [item.event.id for item in stamped]
    if len(set(ids)) < len(ids) or (yield from batch.taken_ids(op.tenant, ids)):
        raise rules.duplicate_event_id(op)
    batch.add_events(view, stamped, op.idempotency_key)
    return AppendResult(op.stream_id, tuple(item.load() for item in stamped))


def _read(batch: StreamBatch, op: ReadEvents) -> Work[list[Event]]:
    view = yield from batch.view(op.tenant, op.stream_id)
    if view.info is None or op.limit == 0:
        return []
    low = max(op.from_version, 1)
    high = view.info.version if op.to_version is None else min(op.to_version, view.info.version)
    if high < low:
        return []
    return (yield from batch.events(view, low, high, op.types, op.limit))


def _list_streams(batch: StreamBatch, op: ListStreams) -> Work[list[StreamInfo]]:
    # This batch's appends are the tenant's newest (their positions are taken at EXEC);
    # the rest come from the position index, minus the streams this batch changed.
    written = batch.written(op.tenant)
    recent = sorted((v for v in written if v.written > 0), key=lambda v: v.written, reverse=True)
    found = [v.info for v in recent if v.info and v.stream_id.startswith(op.prefix or "")]
    wanted = min(op.offset + op.limit, 2**62)  # a range Redis takes, past any real count
    if len(found) < wanted:
        skip = {view.stream_id for view in written}
        ids = yield from _stored_stream_ids(batch, op, wanted - len(found) + len(skip))
        views = yield from batch.views_of(op.tenant, [sid for sid in ids if sid not in skip])
        found += [view.info for view in views if view.info is not None]
    return found[op.offset : wanted]


def _stored_stream_ids(batch: StreamBatch, op: ListStreams, count: int) -> Work[list[str]]:
    """The ids of up to `count` of the tenant's stored streams, most recent append first."""
    streams = batch.keys.streams(op.tenant)
    if not op.prefix:
        members = yield Read(("ZREVRANGE", streams, 0, count - 1), (streams,))
        return [base.text(item) for item in members]
    names = batch.keys.stream_names(op.tenant)
    prefix = op.prefix.encode()
    # Every id starting with the prefix sorts below prefix + 0xFF (a byte UTF-8 never uses).
    bounds = (b"[" + prefix, b"(" + prefix + b"\xff")
    members = yield Read(("ZRANGEBYLEX", names, *bounds), (names,))
    ids = [base.text(item) for item in members]
    if not ids:
        return []
    positions = yield Read(("ZMSCORE", streams, *ids), (streams,))
    ranked = sorted(
        ((float(position), sid) for sid, position in zip(ids, positions, strict=True) if position),
        reverse=True,
    )
    return [sid for _, sid in ranked[:count]]


def _put_snapshot(batch: StreamBatch, op: PutSnapshot) -> Work[Snapshot]:
    snapshot = op.snapshot
    view = yield from batch.view(op.tenant, snapshot.stream_id)
    rules.check_snapshot(snapshot, None if view.info is None else view.info.version)
    state = rules.to_json(snapshot.state, "snapshot state")
    current = yield from batch.snapshot(view, snapshot.name)
    stored_version = None if current is None else base.snapshot_version(current)
    if stored_version is None or stored_version < snapshot.version:
        batch.put_snapshot(view, snapshot, state)
    stored = view.snapshots[snapshot.name]
    assert stored is not None  # written or kept just above
    return base.decode_snapshot(stored, snapshot.stream_id, snapshot.name)


def _get_snapshot(batch: StreamBatch, op: GetSnapshot) -> Work[Snapshot | None]:
    view = yield from batch.view(op.tenant, op.stream_id)
    raw = yield from batch.snapshot(view, op.name)
    if raw is None:
        return None
    snapshot = base.decode_snapshot(raw, op.stream_id, op.name)
    if op.max_version is not None and snapshot.version > op.max_version:
        return None
    return snapshot
