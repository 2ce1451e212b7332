"""What one batch of the Redis event log knows and writes, stream by stream.

The event-log twin of `_sessions`: `StreamBatch` reads each stream the batch touches once
(watching its keys), applies the batch's writes to an in-memory view, and collects the Redis
commands, sent at the end (`commit`) as one checked script (`COMMIT_SCRIPT`) in one
`MULTI`/`EXEC`. Pure: every read is a `Read`.

The event-id keys (one per event) are read unwatched: watching N keys costs Redis O(N²), so a
large append took seconds, then timed out. Instead the script checks at `EXEC`, atomically
and before any write, that every id key the batch read as free still is; if one was taken
meanwhile it writes nothing, and the batch runs again (and then refuses the duplicate id).
The ids of a stream the batch deletes (free for its later appends) need no such check: only
that stream holds them, and the batch watches its keys.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from engram.stores import _event_rules as rules
from engram.stores.redis import base
from engram.stores.redis._internal import Read, Tx, Work
from engram.types._conversation import utcnow
from engram.types._event import Event, Snapshot, StreamInfo

__all__ = ["COMMIT_SCRIPT", "StreamBatch", "StreamView"]

COMMIT_SCRIPT = """
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then return 0 end
end
local i, count = 1, #ARGV
while i <= count do
  local size = tonumber(ARGV[i])
  if ARGV[i + 1] == 'POSITION' then
    local position = redis.call('INCR', ARGV[i + 2])
    redis.call('ZADD', ARGV[i + 3], position, ARGV[i + 4])
  else
    redis.call(unpack(ARGV, i + 1, i + size))
  end
  i = i + size + 1
end
return 1
"""
"""A batch's writes, if the event-id keys (KEYS) are all still free; returns 1, else 0 having
written nothing. ARGV holds the commands in order, each as its word count then its words;
`POSITION clock streams sid` gives the stream the tenant's next append position (as
`base.POSITION_SCRIPT`, which a script cannot call)."""

_CHUNK = 1000
"""Keys per `MSET`/`DEL` of event ids (Lua's `unpack` takes at most about 8000 values)."""


@dataclass(slots=True)
class StreamView:
    """One stream as the running batch sees it."""

    tenant: str
    stream_id: str
    keys: base.StreamKeys
    info: StreamInfo | None
    """The stream after the batch's writes so far; None if it has no events."""
    stored_version: int = 0
    """Events 1..stored_version are in Redis; later ones are `new_events`."""
    wiped: bool = False
    """The batch deleted what Redis stored for the stream: read none of it."""
    written: int = 0
    """Order of the batch's last append to the stream (0: none); -1 if the batch deleted it."""
    new_events: list[rules.Stamped] = field(default_factory=list)
    appends: dict[str, tuple[int, int] | None] = field(default_factory=dict)
    """Idempotency key -> (first, last) version, as far as the batch knows."""
    snapshots: dict[str, str | None] = field(default_factory=dict)
    """Snapshot name -> stored JSON, as far as the batch knows."""


class StreamBatch:
    """The streams of one batch run: loaded views, pending writes, event-id changes."""

    def __init__(self, tx: Tx, keys: base.Keys) -> None:
        self.tx, self.keys = tx, keys
        self.views: dict[tuple[str, str], StreamView] = {}
        self.added_ids: set[tuple[str, str]] = set()
        self.removed_ids: set[tuple[str, str]] = set()
        self.free_keys: list[str] = []
        """Event-id keys read (unwatched) as free: `COMMIT_SCRIPT` checks they still are."""
        self.writes: list[tuple[Any, ...]] = []
        self._clock = itertools.count(1)

    # Reads.

    def view(self, tenant: str, stream_id: str) -> Work[StreamView]:
        """The stream's view, read (and watched) on first use."""
        (view,) = yield from self.views_of(tenant, [stream_id])
        return view

    def views_of(self, tenant: str, stream_ids: Sequence[str]) -> Work[list[StreamView]]:
        """The views of several streams; the unread ones are read with one `MGET`."""
        missing = [sid for sid in dict.fromkeys(stream_ids) if (tenant, sid) not in self.views]
        if missing:
            keys = [self.keys.stream(tenant, sid) for sid in missing]
            metas = [key.meta for key in keys]
            replies = yield Read(("MGET", *metas), tuple(metas))
            for sid, key, raw in zip(missing, keys, replies, strict=True):
                info = None if raw is None else base.decode_stream(tenant, sid, raw)
                version = 0 if info is None else info.version
                self.views[(tenant, sid)] = StreamView(tenant, sid, key, info, version)
        return [self.views[(tenant, sid)] for sid in stream_ids]

    def applied(self, view: StreamView, key: str) -> Work[tuple[int, int] | None]:
        """The versions of the append that used idempotency `key`, if any."""
        if key not in view.appends:
            raw = None
            if not view.wiped:
                raw = yield Read(("HGET", view.keys.appends, key), (view.keys.appends,))
            if raw is None:
                view.appends[key] = None
            else:
                first, last = base.text(raw).split(":")
                view.appends[key] = (int(first), int(last))
        return view.appends[key]

    def snapshot(self, view: StreamView, name: str) -> Work[str | None]:
        """The stored JSON of the stream's latest snapshot called `name`."""
        if name not in view.snapshots:
            raw = None
            if not view.wiped:
                raw = yield Read(("HGET", view.keys.snapshots, name), (view.keys.snapshots,))
            view.snapshots[name] = None if raw is None else base.text(raw)
        return view.snapshots[name]

    def events(
        self, view: StreamView, low: int, high: int, types: Sequence[str] | None, limit: int | None
    ) -> Work[list[Event]]:
        """Events low..high (inclusive) of `types`, at most `limit`, in version order."""
        top = 0 if view.wiped else view.stored_version
        found: list[Event] = []
        if low <= min(high, top):
            found = yield from self._stored_events(view, low, min(high, top), types, limit)
        for item in view.new_events:
            version = item.event.version or 0
            if limit is not None and len(found) >= limit:
                break
            if low <= version <= high and (types is None or item.event.type in types):
                found.append(item.load())
        return found

    def _stored_events(
        self, view: StreamView, low: int, high: int, types: Sequence[str] | None, limit: int | None
    ) -> Work[list[Event]]:
        key, found = view.keys.events, []
        # Without a type filter one XRANGE reads exactly what is wanted; with one, pages.
        page = limit if types is None else max(64, limit or 0)
        while True:
            command: tuple[Any, ...] = ("XRANGE", key, f"{low}-0", f"{high}-0")
            if page is not None:
                command += ("COUNT", page)
            entries = yield Read(command, (key,))
            for entry_id, fields in entries:
                event = base.decode_event(entry_id, fields, view.stream_id)
                if types is None or event.type in types:
                    found.append(event)
            if page is None or len(entries) < page or (limit is not None and len(found) >= limit):
                return found if limit is None else found[:limit]
            low = int(base.text(entries[-1][0]).split("-", 1)[0]) + 1

    def taken_ids(self, tenant: str, ids: Sequence[str]) -> Work[bool]:
        """Whether any of `ids` is an event id of the tenant (after this batch's writes)."""
        if any((tenant, item) in self.added_ids for item in ids):
            return True
        unknown = [item for item in ids if (tenant, item) not in self.removed_ids]
        if not unknown:
            return False
        keys = [self.keys.event_id(tenant, item) for item in unknown]
        replies = yield Read(("MGET", *keys))  # unwatched: see the module docstring
        if any(reply is not None for reply in replies):
            return True
        self.free_keys += keys
        return False

    def written(self, tenant: str) -> list[StreamView]:
        """The tenant's streams this batch appended to or deleted."""
        return [view for (t, _), view in self.views.items() if t == tenant and view.written]

    # Writes.

    def commit(self) -> None:
        """Queue the batch's writes on the `Tx`: one `COMMIT_SCRIPT`, if it wrote anything."""
        if self.writes:
            words = [word for command in self.writes for word in (len(command), *command)]
            keys = self.free_keys
            self.tx.write_checked("EVAL", COMMIT_SCRIPT, len(keys), *keys, *words)

    def _write(self, *command: Any) -> None:
        self.writes.append(command)

    def add_events(
        self, view: StreamView, stamped: Sequence[rules.Stamped], key: str | None
    ) -> None:
        """Queue appended (already stamped) events, the stream's record and its position."""
        tenant, sid, keys = view.tenant, view.stream_id, view.keys
        for item in stamped:
            fields = base.encode_event(item.event, item.payload, item.metadata)
            parts = [part for pair in fields.items() for part in pair]
            self._write("XADD", keys.events, f"{item.event.version}-0", *parts)
        ids = [item.event.id for item in stamped]
        for chunk in _chunks(ids):
            self._write(
                "MSET", *(part for i in chunk for part in (self.keys.event_id(tenant, i), sid))
            )
        first, last = (stamped[0].event.version or 0), (stamped[-1].event.version or 0)
        if key is not None:
            self._write("HSET", keys.appends, key, f"{first}:{last}")
            view.appends[key] = (first, last)
        now = utcnow()
        created = now if view.info is None else view.info.created_at
        view.info = StreamInfo(sid, tenant, last, created, now)
        self._write("SET", keys.meta, base.encode_stream(view.info))
        clock, streams = self.keys.stream_clock(tenant), self.keys.streams(tenant)
        self._write("POSITION", clock, streams, sid)
        self._write("ZADD", self.keys.stream_names(tenant), 0, sid)
        view.new_events.extend(stamped)
        view.written = next(self._clock)
        self.added_ids.update((tenant, i) for i in ids)

    def remove(self, view: StreamView) -> Work[None]:
        """Queue the deletion of the stream with its snapshots, keys and event ids."""
        tenant, sid = view.tenant, view.stream_id
        ids = {item.event.id for item in view.new_events}
        if not view.wiped and view.stored_version:
            entries = yield Read(("XRANGE", view.keys.events, "-", "+"), (view.keys.events,))
            ids |= {base.text(_field(fields, "id")) for _, fields in entries}
        self._write("DEL", *view.keys.all)
        for chunk in _chunks(sorted(ids)):
            self._write("DEL", *(self.keys.event_id(tenant, i) for i in chunk))
        self._write("ZREM", self.keys.streams(tenant), sid)
        self._write("ZREM", self.keys.stream_names(tenant), sid)
        pairs = {(tenant, i) for i in ids}
        self.removed_ids |= pairs
        self.added_ids -= pairs
        view.info, view.stored_version, view.wiped, view.written = None, 0, True, -1
        view.new_events, view.appends, view.snapshots = [], {}, {}

    def put_snapshot(self, view: StreamView, snapshot: Snapshot, state: str) -> None:
        """Queue a snapshot (the caller checked it is newer than the stored one)."""
        raw = base.encode_snapshot(snapshot, state)
        self._write("HSET", view.keys.snapshots, snapshot.name, raw)
        view.snapshots[snapshot.name] = raw


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    return (items[start : start + _CHUNK] for start in range(0, len(items), _CHUNK))


def _field(fields: Any, name: str) -> Any:
    return fields.get(name, fields.get(name.encode()))
