"""The in-memory event log: the executable reference of the event-log contract.

Everything lives in process memory behind one lock. Payloads, metadata and snapshot states are
kept as JSON text, as a database would, so what callers pass in or get back is never shared
with what is stored.

Atomicity: every write of a batch records how to undo itself in a journal; if an op raises,
the journal is replayed newest first, so a failed batch leaves no trace.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
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
from engram.types._conversation import utcnow
from engram.types._event import AppendResult, Event, Snapshot, StreamInfo

__all__ = ["InMemoryEventLog"]

_Key = tuple[str, str]
"""(tenant, stream id)."""


@dataclass(slots=True)
class _Stream:
    """One stream with everything that belongs to it."""

    info: StreamInfo
    touched: int
    """Logical time of its last append (orders `list_streams`)."""
    events: list[rules.Stamped] = field(default_factory=list)
    snapshots: dict[str, tuple[Snapshot, str]] = field(default_factory=dict)
    """Projection name -> (snapshot without state, state as JSON)."""
    appends: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Idempotency key -> (first version, last version) of the append that used it."""


class _Journal:
    """Undo actions of the running batch."""

    def __init__(self) -> None:
        self._actions: list[Callable[[], None]] = []

    def record(self, undo: Callable[[], None]) -> None:
        self._actions.append(undo)

    def rollback(self) -> None:
        for undo in reversed(self._actions):
            undo()


class InMemoryEventLog(BaseEventLog):
    """Event streams in process memory; nothing survives the process.

    Thread-safe: batches run one at a time. `abatch` runs the batch directly (there is no I/O
    to wait for).

    Example:
        ```python
        log = InMemoryEventLog()
        log.append("default", "task-1", [Event.thought("plan the trip")], expected_version=0)
        ```
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._streams: dict[_Key, _Stream] = {}
        self._event_ids: set[_Key] = set()
        """(tenant, event id) of every stored event."""
        self._clock = itertools.count(1)

    def batch(self, ops: Sequence[Op]) -> list[Any]:
        """Run `ops` in order, atomically; return their results in order."""
        with self._lock:
            journal = _Journal()
            try:
                return [self._run(op, journal) for op in ops]
            except BaseException:
                journal.rollback()
                raise

    async def abatch(self, ops: Sequence[Op]) -> list[Any]:
        """Async `batch` (runs it directly: nothing to await)."""
        return self.batch(ops)

    def _run(self, op: Op, journal: _Journal) -> Any:
        rules.check_op(op)
        match op:
            case AppendEvents():
                return self._append(op, journal)
            case ReadEvents():
                return self._read(op)
            case GetStream():
                stream = self._streams.get((op.tenant, op.stream_id))
                return None if stream is None else stream.info
            case ListStreams():
                return self._list(op)
            case DeleteStream():
                return self._delete(op, journal)
            case PutSnapshot():
                return self._put_snapshot(op, journal)
            case GetSnapshot():
                return self._get_snapshot(op)
        raise InvalidInputError(f"unsupported operation: {type(op).__name__}")

    def _append(self, op: AppendEvents, journal: _Journal) -> AppendResult:
        key = (op.tenant, op.stream_id)
        stream = self._streams.get(key)
        if stream is not None and op.idempotency_key in stream.appends:
            first, last = stream.appends[op.idempotency_key]
            events = [s.load() for s in stream.events[first - 1 : last]]
            rules.check_same_append(op, events)
            return AppendResult(op.stream_id, tuple(events), duplicate=True)
        current = stream.info.version if stream else 0
        rules.check_expected(op, current)
        stamped = rules.stamp(op.events, op.stream_id, current)
        ids = {(op.tenant, item.event.id) for item in stamped}
        if len(ids) < len(stamped) or ids & self._event_ids:
            raise rules.duplicate_event_id(op)
        stream = stream or self._create(key, journal)
        self._extend(stream, stamped, ids, journal)
        if op.idempotency_key is not None:
            last = current + len(stamped)
            self._remember(stream, op.idempotency_key, current + 1, last, journal)
        return AppendResult(op.stream_id, tuple(item.load() for item in stamped))

    def _create(self, key: _Key, journal: _Journal) -> _Stream:
        now = utcnow()
        stream = _Stream(StreamInfo(key[1], key[0], 0, now, now), 0)
        self._streams[key] = stream
        journal.record(lambda: self._streams.__delitem__(key))
        return stream

    def _extend(
        self, stream: _Stream, stored: list[rules.Stamped], ids: set[_Key], journal: _Journal
    ) -> None:
        previous_info, previous_touched = stream.info, stream.touched
        stream.events.extend(stored)
        stream.info = replace(stream.info, version=len(stream.events), updated_at=utcnow())
        stream.touched = next(self._clock)
        self._event_ids |= ids

        def undo() -> None:
            del stream.events[len(stream.events) - len(stored) :]
            stream.info, stream.touched = previous_info, previous_touched
            self._event_ids.difference_update(ids)

        journal.record(undo)

    def _remember(
        self, stream: _Stream, key: str, first: int, last: int, journal: _Journal
    ) -> None:
        stream.appends[key] = (first, last)
        journal.record(lambda: stream.appends.__delitem__(key))

    def _read(self, op: ReadEvents) -> list[Event]:
        stream = self._streams.get((op.tenant, op.stream_id))
        if stream is None:
            return []
        start = max(op.from_version, 1) - 1
        stop = len(stream.events) if op.to_version is None else max(op.to_version, 0)
        found: list[Event] = []
        for item in stream.events[start:stop]:
            if op.limit is not None and len(found) >= op.limit:
                break
            if op.types is None or item.event.type in op.types:
                found.append(item.load())
        return found

    def _list(self, op: ListStreams) -> list[StreamInfo]:
        streams = [
            stream
            for (tenant, stream_id), stream in self._streams.items()
            if tenant == op.tenant and stream_id.startswith(op.prefix or "")
        ]
        streams.sort(key=lambda stream: -stream.touched)
        return [stream.info for stream in streams[op.offset : op.offset + op.limit]]

    def _delete(self, op: DeleteStream, journal: _Journal) -> bool:
        key = (op.tenant, op.stream_id)
        stream = self._streams.pop(key, None)
        if stream is None:
            return False
        ids = {(op.tenant, item.event.id) for item in stream.events}
        self._event_ids -= ids

        def undo() -> None:
            self._streams[key] = stream
            self._event_ids |= ids

        journal.record(undo)
        return True

    def _put_snapshot(self, op: PutSnapshot, journal: _Journal) -> Snapshot:
        snapshot = op.snapshot
        stream = self._streams.get((op.tenant, snapshot.stream_id))
        rules.check_snapshot(snapshot, stream.info.version if stream else None)
        assert stream is not None  # check_snapshot raised otherwise
        state = rules.to_json(snapshot.state, "snapshot state")
        stored = stream.snapshots.get(snapshot.name)
        if stored is None or stored[0].version < snapshot.version:
            created = rules.utc_time(snapshot.created_at)
            stream.snapshots[snapshot.name] = (
                replace(snapshot, state=None, created_at=created),
                state,
            )
            self._journal_snapshot(stream, snapshot.name, stored, journal)
        return self._load_snapshot(stream.snapshots[snapshot.name])

    def _journal_snapshot(
        self,
        stream: _Stream,
        name: str,
        previous: tuple[Snapshot, str] | None,
        journal: _Journal,
    ) -> None:
        def undo() -> None:
            if previous is None:
                del stream.snapshots[name]
            else:
                stream.snapshots[name] = previous

        journal.record(undo)

    def _get_snapshot(self, op: GetSnapshot) -> Snapshot | None:
        stream = self._streams.get((op.tenant, op.stream_id))
        stored = None if stream is None else stream.snapshots.get(op.name)
        if stored is None or (op.max_version is not None and stored[0].version > op.max_version):
            return None
        return self._load_snapshot(stored)

    @staticmethod
    def _load_snapshot(stored: tuple[Snapshot, str]) -> Snapshot:
        return replace(stored[0], state=rules.from_json(stored[1]))
