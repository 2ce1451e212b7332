"""Rules the event-log backends share: validation, JSON encoding, version stamping.

Written once so every backend rejects the same input with the same error and stores the same
values; the backends keep only their I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from engram._exceptions import ConflictError, InvalidInputError, NotFoundError
from engram._validation import check_identifier, check_int
from engram.stores.events import (
    AppendEvents,
    GetSnapshot,
    ListStreams,
    Op,
    PutSnapshot,
    ReadEvents,
)
from engram.types._event import EVENT_TYPES, Event, Snapshot

__all__ = [
    "Stamped",
    "check_append",
    "check_expected",
    "check_op",
    "check_same_append",
    "check_snapshot",
    "duplicate_event_id",
    "from_json",
    "stamp",
    "to_json",
    "utc_time",
]

_ZERO = timedelta(0)
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_CANONICAL = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":"), sort_keys=True
)


def to_json(value: Any, what: str) -> str:
    """`value` as compact JSON text; `InvalidInputError` if it is not JSON-serialisable."""
    try:
        text = _ENCODER.encode(value)
        text.encode("utf-8")  # lone surrogates pass the encoder but no database takes them
    except (TypeError, ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise InvalidInputError(f"{what} is not JSON-serialisable: {exc}") from exc
    return text


def from_json(text: str) -> Any:
    """Inverse of `to_json` (with a fast path for the common empty object)."""
    return {} if text == "{}" else json.loads(text)


def check_append(op: AppendEvents) -> None:
    """Reject a malformed append before anything is read or written."""
    check_identifier(op.tenant, "tenant")
    check_identifier(op.stream_id, "stream_id")
    if op.idempotency_key is not None:
        check_identifier(op.idempotency_key, "idempotency_key")
    if not op.events:
        raise InvalidInputError("an append needs at least one event")
    if op.expected_version is not None:
        check_int(op.expected_version, "expected_version", 0)
    for event in op.events:
        if not isinstance(event, Event):
            raise InvalidInputError(f"an append takes Event records, got {event!r}")
        if event.type not in EVENT_TYPES:
            raise InvalidInputError(f"unknown event type {event.type!r}")
        for value in (event.payload, event.metadata):
            # JSON turns other keys into strings: {1: "a", "1": "b"} would lose a value.
            if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
                raise InvalidInputError(
                    "an event's payload and metadata must be JSON objects (string keys)"
                )
        if not isinstance(event.created_at, datetime):
            raise InvalidInputError(f"created_at must be a datetime, got {event.created_at!r}")
        check_identifier(event.id, "event id")
        if event.name is not None:
            check_identifier(event.name, "event name")


def check_same_append(op: AppendEvents, stored: Sequence[Event]) -> None:
    """`ConflictError` unless a repeated idempotency key comes with the events it first wrote.

    A retry may rebuild its events (new ids, times and metadata such as a trace id of the
    attempt): type, name and payload must match, in order. Anything else is another append
    reusing the key by mistake.
    """
    same = len(stored) == len(op.events) and all(
        _content(sent) == _content(kept) for sent, kept in zip(op.events, stored, strict=True)
    )
    if not same:
        raise ConflictError(
            f"idempotency key {op.idempotency_key!r} of stream {op.stream_id!r} was used for"
            " different events: a retry must send the events of the first append"
        )


def _content(event: Event) -> tuple[str, str | None, str]:
    try:
        payload = _CANONICAL.encode(dict(event.payload))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"event payload is not JSON-serialisable: {exc}") from exc
    return event.type, event.name, payload


def check_expected(op: AppendEvents, current: int) -> None:
    """`ConflictError` unless the stream's `current` version is the expected one."""
    if op.expected_version is not None and op.expected_version != current:
        raise ConflictError(
            f"stream {op.stream_id!r} is at version {current}, "
            f"expected {op.expected_version}: another writer appended first"
        )


class Stamped(NamedTuple):
    """An event ready to store: numbered, in UTC, with its payload and metadata as JSON."""

    event: Event
    """The event's other fields (its payload and metadata are left empty here)."""
    payload: str
    """The payload as JSON text."""
    metadata: str
    """The metadata as JSON text."""

    def load(self) -> Event:
        """The event with freshly decoded (unshared) payload and metadata."""
        return _event_with(self.event, from_json(self.payload), from_json(self.metadata))


def _event_with(
    event: Event,
    payload: Mapping[str, Any],
    metadata: Mapping[str, Any],
    stream_id: str | None = None,
    version: int | None = None,
) -> Event:
    # The constructor, not dataclasses.replace(): this runs per event on bulk appends.
    return Event(
        type=event.type,
        payload=payload,
        name=event.name,
        metadata=metadata,
        id=event.id,
        created_at=event.created_at,
        stream_id=stream_id or event.stream_id,
        version=version or event.version,
    )


def stamp(events: Sequence[Event], stream_id: str, after: int) -> list[Stamped]:
    """`events` numbered from `after + 1`, in UTC, ready to store."""
    stamped = []
    for version, event in enumerate(events, start=after + 1):
        payload = to_json(dict(event.payload), "event payload")
        metadata = to_json(dict(event.metadata), "event metadata") if event.metadata else "{}"
        numbered = _event_with(event, {}, {}, stream_id, version)
        moment = event.created_at
        if moment.utcoffset() != _ZERO or moment.tzinfo is None:
            numbered = replace(numbered, created_at=utc_time(moment))
        stamped.append(Stamped(numbered, payload, metadata))
    return stamped


def utc_time(moment: datetime) -> datetime:
    """`moment` in UTC (naive means UTC); `InvalidInputError` if that leaves years 1-9999."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:
        raise InvalidInputError(
            f"created_at {moment.isoformat()} is outside years 1-9999 in UTC"
        ) from exc


def duplicate_event_id(op: AppendEvents) -> ConflictError:
    """The error for an append reusing an event id of the tenant."""
    return ConflictError(f"an event id of this append already exists in tenant {op.tenant!r}")


def check_op(op: Op) -> None:
    """Reject malformed arguments of any op (`InvalidInputError`)."""
    check_identifier(op.tenant, "tenant")
    if isinstance(op, AppendEvents):
        check_append(op)
    elif isinstance(op, ListStreams):
        check_int(op.limit, "limit", 0)
        check_int(op.offset, "offset", 0)
        if op.prefix is not None and not isinstance(op.prefix, str):
            raise InvalidInputError(f"prefix must be a string, got {op.prefix!r}")
    elif isinstance(op, PutSnapshot):
        _check_snapshot_fields(op.snapshot)
    else:
        check_identifier(op.stream_id, "stream_id")
    if isinstance(op, ReadEvents):
        _check_read(op)
    elif isinstance(op, GetSnapshot):
        check_identifier(op.name, "snapshot name")
        if op.max_version is not None:
            check_int(op.max_version, "max_version", 0)


def _check_read(op: ReadEvents) -> None:
    # Versions start at 1: a negative bound is a caller's mistake, refused as a negative
    # `max_version` or `expected_version` is, not read as 0 (0 itself: "from the start").
    check_int(op.from_version, "from_version", 0)
    if op.to_version is not None:
        check_int(op.to_version, "to_version", 0)
    if op.limit is not None:
        check_int(op.limit, "limit", 0)
    if op.types is not None:
        if isinstance(op.types, str):
            raise InvalidInputError(f"types must be a list of event types, got {op.types!r}")
        unknown = sorted(str(kind) for kind in op.types if kind not in EVENT_TYPES)
        if unknown:
            raise InvalidInputError(f"unknown event types {unknown}; known: {sorted(EVENT_TYPES)}")


def _check_snapshot_fields(snapshot: Snapshot) -> None:
    check_identifier(snapshot.stream_id, "stream_id")
    check_identifier(snapshot.name, "snapshot name")
    check_int(snapshot.version, "snapshot version")
    if not isinstance(snapshot.created_at, datetime):
        raise InvalidInputError(f"created_at must be a datetime, got {snapshot.created_at!r}")
    utc_time(snapshot.created_at)


def check_snapshot(snapshot: Snapshot, stream_version: int | None) -> None:
    """Reject a snapshot of a missing stream or of a version the stream has not reached."""
    if stream_version is None:
        raise NotFoundError(f"no stream {snapshot.stream_id!r}")
    if not 1 <= snapshot.version <= stream_version:
        raise InvalidInputError(
            f"snapshot version {snapshot.version} is outside the stream's 1..{stream_version}"
        )
