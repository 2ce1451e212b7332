"""The storage contract of the agent event log: append-only streams, reads, snapshots.

A backend implements two methods, `batch(ops)` and `abatch(ops)`, over the typed operations
below; every convenience method (`append`, `read`, `list_streams`, ...) is written once here.
Every operation carries its tenant, and backends scope every query by it.

A batch runs its operations in order and atomically: if one fails, none of the batch's writes
remain. Results come back in the order of the operations.

The rules every backend keeps (the conformance suite `engram.testing.events` checks them):

- Versions are gap-free: the events of a stream are numbered 1, 2, 3, ... in append order.
- Optimistic concurrency: an append with `expected_version=v` succeeds only if the stream is at
  version `v` (0: empty) when it is applied; otherwise it raises `ConflictError` and writes
  nothing. Two writers can never both write version N: the storage key is
  `(tenant, stream_id, version)`. `expected_version=None` appends at the end, whatever it is.
- Idempotency: an append whose `idempotency_key` was already applied to the stream writes
  nothing and returns the first append's result (`duplicate=True`), before any version check,
  so a writer retrying after a lost reply gets its original answer. The retry must carry the
  same events (type, name and payload; ids, times and metadata may differ): a key reused for
  other events raises `ConflictError`.

Example:
    ```python
    log = InMemoryEventLog()
    log.append("default", "task-1", [Event.thought("look up flights")], expected_version=0)
    log.read("default", "task-1", from_version=1)
    ```
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, NamedTuple

from engram._exceptions import InvalidInputError
from engram._validation import check_list
from engram.types._event import AppendResult, Event, EventType, Snapshot, StreamInfo

__all__ = [
    "AppendEvents",
    "BaseEventLog",
    "DeleteStream",
    "GetSnapshot",
    "GetStream",
    "ListStreams",
    "Op",
    "PutSnapshot",
    "ReadEvents",
]


class AppendEvents(NamedTuple):
    """Append events to a stream (created by its first append), numbering them from its
    version + 1. Result: `AppendResult`.

    `ConflictError` if `expected_version` is not the stream's version, or if an event id
    already exists in the tenant. A repeated `idempotency_key` returns the first result
    (`ConflictError` if it comes with other events)."""

    tenant: str
    stream_id: str
    events: tuple[Event, ...]
    expected_version: int | None = None
    idempotency_key: str | None = None


class ReadEvents(NamedTuple):
    """Read a stream's events in version order. Result: `list[Event]` (empty if no stream).

    `from_version`/`to_version` bound the range (inclusive; a negative one is refused with
    `InvalidInputError`); `limit` caps how many are returned; `types` keeps only those event
    types."""

    tenant: str
    stream_id: str
    from_version: int = 1
    to_version: int | None = None
    limit: int | None = None
    types: tuple[EventType, ...] | None = None


class GetStream(NamedTuple):
    """Describe a stream. Result: `StreamInfo`, or None if it has no events."""

    tenant: str
    stream_id: str


class ListStreams(NamedTuple):
    """List a tenant's streams, most recently appended to first. Result: `list[StreamInfo]`."""

    tenant: str
    prefix: str | None = None
    limit: int = 100
    offset: int = 0


class DeleteStream(NamedTuple):
    """Delete a stream with its snapshots and idempotency keys. Result: True if it existed."""

    tenant: str
    stream_id: str


class PutSnapshot(NamedTuple):
    """Store a snapshot unless a newer one of the same name is stored. Result: the stored
    latest `Snapshot`. `NotFoundError` if the stream has no events; `InvalidInputError` if
    the snapshot's version is beyond the stream's; the state must be JSON-serialisable."""

    tenant: str
    snapshot: Snapshot


class GetSnapshot(NamedTuple):
    """Read the latest snapshot of one projection. Result: `Snapshot` or None.

    With `max_version`, a snapshot newer than it is not returned (rebuilding an old version)."""

    tenant: str
    stream_id: str
    name: str = "state"
    max_version: int | None = None


Op = AppendEvents | ReadEvents | GetStream | ListStreams | DeleteStream | PutSnapshot | GetSnapshot

READ_OPS = (ReadEvents, GetStream, ListStreams, GetSnapshot)
"""Ops that never write: a batch of only these may run without the write lock."""


class BaseEventLog(ABC):
    """Stores agent event streams and their snapshots, per tenant."""

    @abstractmethod
    def batch(self, ops: Sequence[Op]) -> list[Any]:
        """Run `ops` in order, atomically; return their results in order."""

    @abstractmethod
    async def abatch(self, ops: Sequence[Op]) -> list[Any]:
        """Async `batch`."""

    def close(self) -> None:  # noqa: B027 - optional hook, most logs own nothing
        """Release what the log opened itself (not injected connections)."""

    # Convenience methods: one op each.

    def append(
        self,
        tenant: str,
        stream_id: str,
        events: Sequence[Event],
        *,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> AppendResult:
        """Append `events` to a stream.

        Args:
            tenant: The tenant.
            stream_id: The stream (created by its first append).
            events: At least one event; their `stream_id`/`version` are assigned here.
            expected_version: The version the caller read (0: the stream must be empty);
                None appends whatever the version is.
            idempotency_key: A key naming this append; repeating it returns the first result.

        Returns:
            The stored events (or the first append's, with `duplicate=True`).

        Raises:
            ConflictError: The stream moved past `expected_version`, an event id is taken, or
                `idempotency_key` was used for other events.
            InvalidInputError: No events, an unknown type, or a payload that is not JSON.
        """
        op = AppendEvents(
            tenant, stream_id, check_list(events, "events"), expected_version, idempotency_key
        )
        result: AppendResult = self.batch([op])[0]
        return result

    async def aappend(
        self,
        tenant: str,
        stream_id: str,
        events: Sequence[Event],
        *,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> AppendResult:
        """Async `append`."""
        op = AppendEvents(
            tenant, stream_id, check_list(events, "events"), expected_version, idempotency_key
        )
        result: AppendResult = (await self.abatch([op]))[0]
        return result

    def read(
        self,
        tenant: str,
        stream_id: str,
        *,
        from_version: int = 1,
        to_version: int | None = None,
        limit: int | None = None,
        types: Sequence[EventType] | None = None,
    ) -> list[Event]:
        """Read a stream's events in version order (see `ReadEvents`)."""
        op = ReadEvents(tenant, stream_id, from_version, to_version, limit, _types(types))
        result: list[Event] = self.batch([op])[0]
        return result

    async def aread(
        self,
        tenant: str,
        stream_id: str,
        *,
        from_version: int = 1,
        to_version: int | None = None,
        limit: int | None = None,
        types: Sequence[EventType] | None = None,
    ) -> list[Event]:
        """Async `read`."""
        op = ReadEvents(tenant, stream_id, from_version, to_version, limit, _types(types))
        result: list[Event] = (await self.abatch([op]))[0]
        return result

    def iter_events(
        self, tenant: str, stream_id: str, *, from_version: int = 1, page_size: int = 1000
    ) -> Iterator[Event]:
        """Every event from `from_version` on, read `page_size` at a time."""
        while page := self.read(tenant, stream_id, from_version=from_version, limit=page_size):
            yield from page
            from_version = (page[-1].version or 0) + 1

    async def aiter_events(
        self, tenant: str, stream_id: str, *, from_version: int = 1, page_size: int = 1000
    ) -> AsyncIterator[Event]:
        """Async `iter_events`."""
        while page := await self.aread(
            tenant, stream_id, from_version=from_version, limit=page_size
        ):
            for event in page:
                yield event
            from_version = (page[-1].version or 0) + 1

    def get_stream(self, tenant: str, stream_id: str) -> StreamInfo | None:
        result: StreamInfo | None = self.batch([GetStream(tenant, stream_id)])[0]
        return result

    async def aget_stream(self, tenant: str, stream_id: str) -> StreamInfo | None:
        result: StreamInfo | None = (await self.abatch([GetStream(tenant, stream_id)]))[0]
        return result

    def list_streams(
        self, tenant: str, *, prefix: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[StreamInfo]:
        result: list[StreamInfo] = self.batch([ListStreams(tenant, prefix, limit, offset)])[0]
        return result

    async def alist_streams(
        self, tenant: str, *, prefix: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[StreamInfo]:
        op = ListStreams(tenant, prefix, limit, offset)
        result: list[StreamInfo] = (await self.abatch([op]))[0]
        return result

    def delete_stream(self, tenant: str, stream_id: str) -> bool:
        return bool(self.batch([DeleteStream(tenant, stream_id)])[0])

    async def adelete_stream(self, tenant: str, stream_id: str) -> bool:
        return bool((await self.abatch([DeleteStream(tenant, stream_id)]))[0])

    def put_snapshot(self, tenant: str, snapshot: Snapshot) -> Snapshot:
        result: Snapshot = self.batch([PutSnapshot(tenant, snapshot)])[0]
        return result

    async def aput_snapshot(self, tenant: str, snapshot: Snapshot) -> Snapshot:
        result: Snapshot = (await self.abatch([PutSnapshot(tenant, snapshot)]))[0]
        return result

    def get_snapshot(
        self, tenant: str, stream_id: str, name: str = "state", *, max_version: int | None = None
    ) -> Snapshot | None:
        op = GetSnapshot(tenant, stream_id, name, max_version)
        result: Snapshot | None = self.batch([op])[0]
        return result

    async def aget_snapshot(
        self, tenant: str, stream_id: str, name: str = "state", *, max_version: int | None = None
    ) -> Snapshot | None:
        op = GetSnapshot(tenant, stream_id, name, max_version)
        result: Snapshot | None = (await self.abatch([op]))[0]
        return result


def _types(types: Sequence[EventType] | None) -> tuple[EventType, ...] | None:
    if isinstance(types, str):  # tuple("thought") would be its letters
        raise InvalidInputError(f"types must be a list of event types, got the string {types!r}")
    return None if types is None else tuple(types)
