"""Event-log records: events, streams, snapshots and append results.

A stream is the append-only log of one agent task or run, identified by `(tenant, stream_id)`.
Its events are numbered by `version`, 1, 2, 3, ... without gaps; the stream's version is the
version of its last event (0 for an empty stream). State is rebuilt by folding the events
through a reducer (`engram.state.events.replay`); a `Snapshot` stores the folded state after
some version so a rebuild does not start from the first event.

Payload conventions of the built-in event kinds (what `Event.thought()`, `Event.action()`, ...
write, and what the working-memory reducer reads):

| type          | payload                                                            |
|---------------|--------------------------------------------------------------------|
| `thought`     | `{"text": str}`                                                    |
| `action`      | `{"tool": str, "arguments": {...}, "call_id": str?, "step": str?}` |
| `observation` | `{"output": str or JSON, "tool": str?, "call_id": str?}`           |
| `error`       | `{"message": str}`                                                 |
| `custom`      | anything; `name` says what it is                                   |
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from engram._ids import new_id
from engram.types._conversation import DEFAULT_TENANT
from engram.types._time import parse_time, utcnow

__all__ = [
    "EVENT_TYPES",
    "AppendResult",
    "Event",
    "EventType",
    "Snapshot",
    "StreamInfo",
]

EventType = Literal["thought", "action", "observation", "error", "custom"]
EVENT_TYPES: frozenset[str] = frozenset(get_args(EventType))


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of an agent's event log.

    Example:
        ```python
        Event.action("search", {"query": "flights to Lisbon"}, call_id="c1")
        Event(type="custom", name="plan", payload={"steps": ["search", "book"]})
        ```
    """

    type: EventType
    """`thought`, `action`, `observation`, `error` or `custom`."""
    payload: Mapping[str, Any] = field(default_factory=dict)
    """The event's content, a JSON object (see the module docstring for the conventions)."""
    name: str | None = None
    """A finer kind chosen by the application (e.g. `"plan"` for a custom event)."""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    """Free-form, JSON-serialisable metadata (trace ids, model name, cost, ...)."""
    id: str = field(default_factory=new_id)
    """Time-sortable id (UUIDv7), unique within the tenant."""
    created_at: datetime = field(default_factory=utcnow)
    """When the event happened."""
    stream_id: str | None = None
    """The stream it belongs to; set by the store."""
    version: int | None = None
    """Its position in the stream (1, 2, 3, ... without gaps); set by the store."""

    @classmethod
    def thought(cls, text: str, **fields: Any) -> Event:
        """A reasoning step of the agent."""
        return cls(type="thought", payload={"text": text}, **fields)

    @classmethod
    def action(
        cls,
        tool: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        call_id: str | None = None,
        step: str | None = None,
        **fields: Any,
    ) -> Event:
        """A tool call the agent decided to make (`step` names the plan step it serves)."""
        payload = {"tool": tool, "arguments": dict(arguments or {}), "call_id": call_id}
        if step is not None:
            payload["step"] = step
        return cls(type="action", payload=payload, **fields)

    @classmethod
    def observation(
        cls, output: Any, *, tool: str | None = None, call_id: str | None = None, **fields: Any
    ) -> Event:
        """The result of a tool call: text, or a JSON value (working memory shows it as JSON)."""
        payload = {"output": output, "tool": tool, "call_id": call_id}
        return cls(type="observation", payload=payload, **fields)

    @classmethod
    def error(cls, message: str, **fields: Any) -> Event:
        """A failure (a tool error, a malformed model reply, ...)."""
        return cls(type="error", payload={"message": message}, **fields)

    def to_dict(self) -> dict[str, Any]:
        """The event as JSON-ready data (every field)."""
        return {
            "id": self.id,
            "stream_id": self.stream_id,
            "version": self.version,
            "type": self.type,
            "name": self.name,
            "payload": dict(self.payload),
            "metadata": dict(self.metadata),
            "created_at": self.created_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Event:
        """Inverse of `to_dict()`."""
        return cls(
            type=data["type"],
            payload=dict(data.get("payload") or {}),
            name=data.get("name"),
            metadata=dict(data.get("metadata") or {}),
            id=data["id"],
            created_at=parse_time(data["created_at"]),
            stream_id=data.get("stream_id"),
            version=data.get("version"),
        )


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What a store knows about a stream without reading its events."""

    stream_id: str
    tenant: str = DEFAULT_TENANT
    """The tenant that owns it; part of every key."""
    version: int = 0
    """The version of its last event (= its number of events)."""
    created_at: datetime = field(default_factory=utcnow)
    """When its first event was appended."""
    updated_at: datetime = field(default_factory=utcnow)
    """When its last event was appended."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream_id": self.stream_id,
            "tenant": self.tenant,
            "version": self.version,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StreamInfo:
        return cls(
            stream_id=data["stream_id"],
            tenant=data.get("tenant", DEFAULT_TENANT),
            version=int(data.get("version", 0)),
            created_at=parse_time(data["created_at"]),
            updated_at=parse_time(data["updated_at"]),
        )


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The folded state of a stream after `version`, stored so rebuilds can start there.

    A store keeps the latest snapshot per `(stream, name)`. The name identifies the reducer
    (the projection) that produced the state: put a version in it (`"agent/v2"`) when the
    reducer changes, so old snapshots are not read by a new reducer.
    """

    stream_id: str
    version: int
    """The last event folded into `state`."""
    state: Any
    """The state, as a JSON value."""
    name: str = "state"
    """Which projection this is the state of."""
    created_at: datetime = field(default_factory=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream_id": self.stream_id,
            "version": self.version,
            "state": self.state,
            "name": self.name,
            "created_at": self.created_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Snapshot:
        return cls(
            stream_id=data["stream_id"],
            version=int(data["version"]),
            state=data.get("state"),
            name=data.get("name", "state"),
            created_at=parse_time(data["created_at"]),
        )


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What an append wrote (or, for a repeated idempotency key, what it wrote the first time)."""

    stream_id: str
    events: tuple[Event, ...]
    """The stored events, with their `stream_id` and `version` set."""
    duplicate: bool = False
    """True when the idempotency key had been applied already and nothing was written now."""

    @property
    def first_version(self) -> int:
        """The version of the first event of the append."""
        return (self.events[0].version or 0) if self.events else 0

    @property
    def last_version(self) -> int:
        """The version of the last event of the append (the stream's version right after it)."""
        return (self.events[-1].version or 0) if self.events else 0
