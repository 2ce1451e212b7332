"""Rules the event-log backends share: validation, JSON encoding, version stamping.

Written once so every backend rejects the same input with the same error and stores the same
values; the backends keep only their I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, timedelta
from typing import Any, NamedTuple

from engram._exceptions import ConflictError, InvalidInputError, NotFoundError
from engram._validation import check_identifier
from engram.stores.events import AppendEvents, ListStreams, Op, PutSnapshot, ReadEvents
from engram.types._event import EVENT_TYPES, Event, Snapshot

__all__ = [
    "Stamped",
    "check_append",
    "check_expected",
    "check_op",
    "check_snapshot",
    "duplicate_event_id",
    "from_json",
    "stamp",
    "to_json",
]

_ZERO = timedelta(0)
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def to_json(value: Any, what: str) -> str:
    """`value` as compact JSON text; `InvalidInputError` if it is not JSON-serialisable."""
    try:
        text = _ENCODER.encode(value)
        text.encode("utf-8")  # lone surrogates pass the encoder but no database takes them
    except (TypeError, ValueError) as exc:
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
    if op.expected_version is not None and op.expected_version < 0:
        raise InvalidInputError(f"expected_version must be >= 0, got {op.expected_version}")
    for event in op.events:
        if event.type not in EVENT_TYPES:
            raise InvalidInputError(f"unknown event type {event.type!r}")
        if not isinstance(event.payload, Mapping) or not isinstance(event.metadata, Mapping):
            raise InvalidInputError("an event's payload and metadata must be JSON objects")
        check_identifier(event.id, "event id")
        if event.name is not None:
            check_identifier(event.name, "event name")


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
            utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
            numbered = replace(numbered, created_at=utc)
        stamped.append(Stamped(numbered, payload, metadata))
    return stamped


def duplicate_event_id(op: AppendEvents) -> ConflictError:
    """The error for an append reusing an event id of the tenant."""
    return ConflictError(f"an event id of this append already exists in tenant {op.tenant!r}")


def check_op(op: Op) -> None:
    """Reject malformed arguments of any op (`InvalidInputError`)."""
    check_identifier(op.tenant, "tenant")
    if isinstance(op, AppendEvents):
        check_append(op)
    elif isinstance(op, ListStreams):
        if op.limit < 0 or op.offset < 0:
            raise InvalidInputError("limit and offset must be >= 0")
    elif isinstance(op, PutSnapshot):
        check_identifier(op.snapshot.stream_id, "stream_id")
        check_identifier(op.snapshot.name, "snapshot name")
    else:
        check_identifier(op.stream_id, "stream_id")
    if isinstance(op, ReadEvents) and op.limit is not None and op.limit < 0:
        raise InvalidInputError(f"limit must be >= 0, got {op.limit}")


def check_snapshot(snapshot: Snapshot, stream_version: int | None) -> None:
    """Reject a snapshot of a missing stream or of a version the stream has not reached."""
    if stream_version is None:
        raise NotFoundError(f"no stream {snapshot.stream_id!r}")
    if not 1 <= snapshot.version <= stream_version:
        raise InvalidInputError(
            f"snapshot version {snapshot.version} is outside the stream's 1..{stream_version}"
        )
