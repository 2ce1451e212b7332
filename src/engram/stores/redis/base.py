"""Key layout, Lua script and record encoding of the Redis stores (pure, no I/O).

Every key starts with the store's prefix (default `engram:`). Tenants and ids are escaped
(`%` -> `%25`, `:` -> `%3A`), so no two (tenant, id) pairs ever share a key.

Conversations, per session (`s:{tenant}:{session}`):

| key        | type   | holds                                                            |
|------------|--------|------------------------------------------------------------------|
| (base)     | string | the session record (JSON; below)                                 |
| `:m`       | hash   | seq -> message JSON; seqs run 1..last_seq without gaps           |
| `:r:{role}`| zset   | the seqs of one role (score = seq), for role filters             |
| `:c`       | set    | ids of the tool calls its assistant messages requested           |
| `:u`       | string | the running summary as JSON                                      |
| `:i`       | set    | its message ids (bookkeeping: no TTL, see below)                 |

A session record is `{"last_seq":N,"message_count":N,"token_count":N,"updated_us":N,
"expires_us":N|null,"ttl_us":N|null,"session":{...}}`: what an append or a use changes (times in
microseconds since the epoch) comes first, in a fixed form, so the session script
(`_session_script`) reads and rewrites it without re-encoding the session's other fields.
Records from before this form (every field in `session`) still decode; the script leaves them
to the optimistic path, which rewrites them in this form.

Per tenant: `mid:{tenant}:{message id}` (string: the session holding that message id; makes
ids unique in the tenant), `sessions:{tenant}` (zset: session ids by `updated_at` in
microseconds, so ties order by id, as the contract wants), `sessions:{tenant}:user:{user}` and
`...:agent:{agent}` (the same, per owner) and `expiry:{tenant}` (zset: `expires_at`).

Expiry: a session past its `expires_at` (judged at the op's `now`) reads as absent. Every
write to a session also sets a Redis TTL on the session's keys (its remaining lifetime, at
least its `ttl_seconds`, plus a grace period), so an abandoned session's data leaves Redis on
its own. The bookkeeping a TTL cannot tidy (the `:i` set, the message-id keys and the index
entries) stays until `purge_expired`, a delete, or a new session with the same id.

Event log, per stream (`e:{tenant}:{stream}`): the base key is a Redis stream whose entry ids
are `{version}-0`; `:meta` (string: version and times, as JSON), `:idem` (hash: idempotency key ->
versions) and `:snap` (hash: snapshot name -> JSON). Per tenant: `eid:{tenant}:{event id}`,
`streams:{tenant}` (zset by append position) and `streams:{tenant}:names` (zset, all scores
0: prefix search by `ZRANGEBYLEX`), and the position counter `streams:{tenant}:clock`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from engram._exceptions import InvalidInputError
from engram.types import ROLES, Message, Session, Summary
from engram.types._event import Event, Snapshot, StreamInfo

__all__ = [
    "INDEXED_ROLES",
    "POSITION_SCRIPT",
    "Keys",
    "SessionKeys",
    "StreamKeys",
    "decode_event",
    "decode_message",
    "decode_record",
    "decode_snapshot",
    "decode_stream",
    "decode_summary",
    "dumps",
    "encode_event",
    "encode_message",
    "encode_record",
    "encode_snapshot",
    "encode_stream",
    "encode_summary",
    "message_body",
    "micros",
    "snapshot_version",
    "text",
    "ttl_millis",
]

INDEXED_ROLES: tuple[str, ...] = tuple(sorted(ROLES))
"""The roles a session indexes (one zset each); an append with another role is rejected."""

POSITION_SCRIPT = """
local position = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], position, ARGV[1])
return position
"""
"""Give a stream the tenant's next append position. Queued inside MULTI, so the counter is
read and used at EXEC time, without watching (and so contending for) the counter."""


def _escape(part: str) -> str:
    return part.replace("%", "%25").replace(":", "%3A")


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """The keys of one session."""

    record: str
    messages: str
    calls: str
    summary: str
    ids: str
    roles: tuple[str, ...]
    """One zset per role of `INDEXED_ROLES`, in that order."""

    def role(self, role: str) -> str:
        return self.roles[INDEXED_ROLES.index(role)]

    @property
    def expiring(self) -> tuple[str, ...]:
        """The keys that carry the session's Redis TTL."""
        return (self.record, self.messages, self.calls, self.summary, *self.roles)

    @property
    def children(self) -> tuple[str, ...]:
        """Every key but the record: deleted when the session is deleted or replaced."""
        return (self.messages, self.calls, self.summary, self.ids, *self.roles)


@dataclass(frozen=True, slots=True)
class StreamKeys:
    """The keys of one event stream."""

    events: str
    meta: str
    appends: str
    snapshots: str

    @property
    def all(self) -> tuple[str, ...]:
        return (self.events, self.meta, self.appends, self.snapshots)


@dataclass(frozen=True, slots=True)
class Keys:
    """Every key of a store, under one prefix."""

    prefix: str = "engram:"

    def session(self, tenant: str, session_id: str) -> SessionKeys:
        base = f"{self.prefix}s:{_escape(tenant)}:{_escape(session_id)}"
        roles = tuple(f"{base}:r:{role}" for role in INDEXED_ROLES)
        return SessionKeys(base, f"{base}:m", f"{base}:c", f"{base}:u", f"{base}:i", roles)

    def message_id(self, tenant: str, message_id: str) -> str:
        return f"{self.prefix}mid:{_escape(tenant)}:{_escape(message_id)}"

    def sessions(self, tenant: str) -> str:
        return f"{self.prefix}sessions:{_escape(tenant)}"

    def sessions_by_user(self, tenant: str, user_id: str) -> str:
        return f"{self.sessions(tenant)}:user:{_escape(user_id)}"

    def sessions_by_agent(self, tenant: str, agent_id: str) -> str:
        return f"{self.sessions(tenant)}:agent:{_escape(agent_id)}"

    def expiry(self, tenant: str) -> str:
        return f"{self.prefix}expiry:{_escape(tenant)}"

    def stream(self, tenant: str, stream_id: str) -> StreamKeys:
        base = f"{self.prefix}e:{_escape(tenant)}:{_escape(stream_id)}"
        return StreamKeys(base, f"{base}:meta", f"{base}:idem", f"{base}:snap")

    def event_id(self, tenant: str, event_id: str) -> str:
        return f"{self.prefix}eid:{_escape(tenant)}:{_escape(event_id)}"

    def streams(self, tenant: str) -> str:
        return f"{self.prefix}streams:{_escape(tenant)}"

    def stream_names(self, tenant: str) -> str:
        return f"{self.streams(tenant)}:names"

    def stream_clock(self, tenant: str) -> str:
        return f"{self.streams(tenant)}:clock"


# Encoding.

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def dumps(value: Any) -> str:
    """Compact JSON text; `InvalidInputError` if `value` is not JSON-serialisable."""
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"not JSON-serialisable: {exc}") from exc


def text(value: bytes | str) -> str:
    """A reply as text, whether the client decodes replies or not."""
    return value.decode() if isinstance(value, bytes) else value


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def micros(moment: datetime) -> int:
    """Microseconds since the epoch: an exact zset score (below 2**53 until the year 2255)."""
    return (_utc(moment) - _EPOCH) // timedelta(microseconds=1)


def ttl_millis(session: Session, now: datetime, grace: float) -> int | None:
    """The Redis TTL of a session's keys after a write at `now` (None: never expires).

    The session's remaining lifetime (at least its `ttl_seconds`: callers' clocks may differ
    from Redis's) plus `grace` seconds. Expiry itself is judged on `expires_at`; the TTL
    only lets Redis drop what nobody uses any more.
    """
    if session.expires_at is None:
        return None
    remaining = max((session.expires_at - now).total_seconds(), session.ttl_seconds or 0.0)
    return max(1000, int((remaining + grace) * 1000))


_IN_HEAD = ("message_count", "token_count", "updated_at", "expires_at")
"""Session fields kept at the head of the record rather than in its `session` object."""


def encode_record(session: Session, last_seq: int) -> str:
    """A session record: the session and the highest seq ever assigned in it (see above)."""
    data = _session_dict(session)
    for name in _IN_HEAD:
        del data[name]
    ttl = session.ttl_seconds
    head = {
        "last_seq": last_seq,
        "message_count": session.message_count,
        "token_count": session.token_count,
        "updated_us": micros(session.updated_at),
        "expires_us": None if session.expires_at is None else micros(session.expires_at),
        "ttl_us": None if ttl is None else timedelta(seconds=ttl) // timedelta(microseconds=1),
    }
    return f'{dumps(head)[:-1]},"session":{dumps(data)}}}'


def _session_dict(session: Session) -> dict[str, Any]:
    data = session.to_dict()
    data["created_at"] = _utc(session.created_at).isoformat()
    return data


def _from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def decode_record(raw: bytes | str) -> tuple[Session, int]:
    """Inverse of `encode_record` (also reads records of the older form)."""
    data = json.loads(raw)
    fields = data["session"]
    if "updated_us" in data:
        expires = data["expires_us"]
        fields.update(
            message_count=data["message_count"],
            token_count=data["token_count"],
            updated_at=_from_micros(data["updated_us"]),
            expires_at=None if expires is None else _from_micros(expires),
        )
    return Session.from_dict(fields), int(data["last_seq"])


def message_body(message: Message, session_id: str | None) -> str:
    """A message's JSON as stored in `session_id`, but for its seq (see `encode_message`)."""
    data = message.to_dict()
    del data["seq"]
    data["session_id"] = session_id
    data["created_at"] = _utc(message.created_at).isoformat()
    return dumps(data)


def encode_message(message: Message) -> str:
    """A stored message as JSON (every field; its time in UTC), its seq first.

    The session script builds the same text from `message_body` and the seq it assigns.
    """
    return f'{{"seq":{dumps(message.seq)},{message_body(message, message.session_id)[1:]}'


def decode_message(raw: bytes | str) -> Message:
    """Inverse of `encode_message`."""
    return Message.from_dict(json.loads(raw))


def encode_summary(summary: Summary) -> str:
    data = summary.to_dict()
    data["updated_at"] = _utc(summary.updated_at).isoformat()
    return dumps(data)


def decode_summary(raw: bytes | str) -> Summary:
    return Summary.from_dict(json.loads(raw))


def encode_event(event: Event, payload: str, metadata: str) -> dict[str, str]:
    """The fields of a stream entry (payload and metadata already JSON text)."""
    fields = {
        "id": event.id,
        "type": event.type,
        "payload": payload,
        "metadata": metadata,
        "created_at": _utc(event.created_at).isoformat(),
    }
    if event.name is not None:
        fields["name"] = event.name
    return fields


def decode_event(entry_id: bytes | str, raw: Mapping[Any, Any], stream_id: str) -> Event:
    """An `Event` from a stream entry (`XRANGE` reply item)."""
    fields = {text(key): text(value) for key, value in raw.items()}
    payload, metadata = fields["payload"], fields["metadata"]
    return Event(
        type=fields["type"],  # type: ignore[arg-type]  # written from a checked EventType
        payload={} if payload == "{}" else json.loads(payload),
        name=fields.get("name"),
        metadata={} if metadata == "{}" else json.loads(metadata),
        id=fields["id"],
        created_at=datetime.fromisoformat(fields["created_at"]),
        stream_id=stream_id,
        version=int(text(entry_id).split("-", 1)[0]),
    )


def encode_stream(info: StreamInfo) -> str:
    """A stream's `:meta` record."""
    return dumps(
        {
            "version": info.version,
            "created_at": _utc(info.created_at).isoformat(),
            "updated_at": _utc(info.updated_at).isoformat(),
        }
    )


def decode_stream(tenant: str, stream_id: str, raw: bytes | str) -> StreamInfo:
    """Inverse of `encode_stream`."""
    data = json.loads(raw)
    return StreamInfo(
        stream_id=stream_id,
        tenant=tenant,
        version=int(data["version"]),
        created_at=datetime.fromisoformat(data["created_at"]),
        updated_at=datetime.fromisoformat(data["updated_at"]),
    )


def encode_snapshot(snapshot: Snapshot, state: str) -> str:
    """A snapshot as JSON (its state already JSON text, embedded verbatim)."""
    head = dumps(
        {
            "version": snapshot.version,
            "created_at": _utc(snapshot.created_at).isoformat(),
        }
    )
    return f'{head[:-1]},"state":{state}}}'


def snapshot_version(raw: bytes | str) -> int:
    """The version of a stored snapshot."""
    return int(json.loads(raw)["version"])


def decode_snapshot(raw: bytes | str, stream_id: str, name: str) -> Snapshot:
    """Inverse of `encode_snapshot`."""
    data = json.loads(raw)
    return Snapshot(
        stream_id=stream_id,
        version=int(data["version"]),
        state=data["state"],
        name=name,
        created_at=datetime.fromisoformat(data["created_at"]),
    )
