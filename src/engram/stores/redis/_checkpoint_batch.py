"""What one batch of the Redis checkpointer knows and writes, thread by thread.

The checkpointer twin of `_sessions`: `CheckpointBatch` watches every key of a thread the
first time the batch touches it, reads what it needs lazily (caching what Redis holds, which
cannot change under the watch), and applies the batch's writes to an overlay, queueing the
matching commands on the `Tx` (sent in one `MULTI`/`EXEC` at the end, see `_internal`). So
later ops of a batch see its earlier writes. Pure: every read is a yielded `Read`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engram.state.checkpoints import to_ms
from engram.state.values import DELTA, LIST, ListState, ValueRow, resolve_hashes
from engram.stores._cache import BoundedCache
from engram.stores.redis import _checkpoint_codec as codec
from engram.stores.redis import base
from engram.stores.redis._internal import Read, Tx, Work
from engram.types._conversation import utcnow

__all__ = ["READ", "WRITE", "CheckpointBatch", "ListCache", "ThreadView"]

READ, WRITE = 1, 2

ListCache = BoundedCache[tuple[str, str], ListState]
"""Resolved list versions by `(thread uid, value field)`. A stored version never changes, and
a checkpoint that names a version keeps it stored, so an entry found for a parent's version
is true while the parent exists."""


@dataclass(slots=True)
class ThreadView:
    """One thread as the running batch sees it: what Redis holds (read lazily) and, over it,
    what the batch wrote (`None`: deleted)."""

    tenant: str
    thread_id: str
    keys: codec.ThreadKeys
    record: codec.ThreadRecord | None
    """The thread after the batch's writes; None if absent (or deleted)."""
    wiped: bool = False
    """The batch deleted the thread: what Redis holds for it is gone."""
    created: int = 0
    """Order of the batch's creation of the thread (0: not created by this batch)."""
    used: int = 0
    """How an op of the batch used the thread itself: 0 not (a scan of the tenant's threads
    by a listing or a prune), `READ` or `WRITE`. Decides whether its TTL is renewed."""
    persist: bool = False
    """Remove the keys' TTL at the end of the batch (the thread's TTL was cleared)."""
    heads: dict[str, str | None] = field(default_factory=dict)
    members: dict[str | None, list[str]] = field(default_factory=dict)
    """Stored members per namespace (None: all), ascending."""
    stored: dict[str, dict[Any, bytes | None]] = field(default_factory=dict)
    """Stored hash fields read so far, per hash (`c`, `v`, `b`, `w`)."""
    complete: set[str] = field(default_factory=set)
    """The hashes read whole."""
    exists: dict[str, bool] = field(default_factory=dict)
    """Stored value fields known to exist or not (without their rows)."""
    overlay: dict[str, dict[Any, bytes | None]] = field(default_factory=dict)
    """The batch's writes per hash (None: deleted)."""

    def hash_key(self, name: str) -> str:
        return {"c": self.keys.headers, "v": self.keys.values, "b": self.keys.blobs,
                "w": self.keys.writes}[name]  # fmt: skip


class CheckpointBatch:
    """The threads of one batch run: loaded views, reads through them, pending writes."""

    def __init__(
        self,
        tx: Tx,
        keys: codec.CheckpointKeys,
        lists: ListCache,
        ttl_ms: int | None,
        refresh_on_read: bool,
    ) -> None:
        self.tx, self.keys, self.lists = tx, keys, lists
        self.ttl_ms, self.refresh_on_read = ttl_ms, refresh_on_read
        self.views: dict[tuple[str, str], ThreadView] = {}
        self._created = 0

    # Threads.

    def view(self, tenant: str, thread_id: str) -> Work[ThreadView]:
        """The thread's view, its keys watched and its record read on first use."""
        found = self.views.get((tenant, thread_id))
        if found is None:
            keys = self.keys.thread(tenant, thread_id)
            raw = yield Read(("GET", keys.record), keys.all)
            found = self._add(tenant, thread_id, keys, raw)
        return found

    def prefetch(
        self,
        tenant: str,
        thread_id: str,
        namespace: str,
        head: bool,
        item: str | None,
        fields: Sequence[str] = (),
    ) -> Work[ThreadView]:
        """`view`, reading on first use what a put or a get needs, in one script: the head of
        `namespace` (if `head`), the header of checkpoint member `item` (the head's if None;
        none if "") and whether value `fields` are stored."""
        found = self.views.get((tenant, thread_id))
        if found is not None:
            return found
        keys = self.keys.thread(tenant, thread_id)
        low, high = codec.namespace_range(namespace)
        args = ("1" if head else "0", low, high, item or "", "1" if item is None else "0")
        script = ("EVAL", codec.PREFETCH_SCRIPT, 4, *keys.all[:4], *args, *fields)
        raw, head_member, header, flags = yield Read(script, keys.all)
        view = self._add(tenant, thread_id, keys, raw)
        if head:
            view.heads[namespace] = None if head_member is None else base.text(head_member)
        wanted = view.heads.get(namespace) if item is None else item
        if wanted:
            view.stored.setdefault("c", {})[wanted] = header
        view.exists.update(zip(fields, (bool(flag) for flag in flags), strict=True))
        return view

    def _add(self, tenant: str, thread_id: str, keys: codec.ThreadKeys, raw: Any) -> ThreadView:
        record = None if raw is None else codec.ThreadRecord.decode(raw)
        view = ThreadView(tenant, thread_id, keys, record)
        self.views[(tenant, thread_id)] = view
        return view

    def thread_ids(self, tenant: str) -> Work[list[str]]:
        """The tenant's threads, newest first: those this batch created, then the stored."""
        index = self.keys.threads(tenant)
        stored = yield Read(("ZREVRANGE", index, 0, -1), (index,))
        mine = [v for (t, _), v in self.views.items() if t == tenant and v.created]
        mine.sort(key=lambda view: view.created, reverse=True)
        fresh = [view.thread_id for view in mine if view.record is not None]
        skip = {view.thread_id for view in mine}
        return fresh + [tid for tid in map(base.text, stored) if tid not in skip]

    def use(self, view: ThreadView, how: int) -> ThreadView:
        """Record that an op used the thread itself (`READ` or `WRITE`): see `finish`."""
        view.used = max(view.used, how)
        return view

    def untrack(self, tenant: str, thread_id: str) -> None:
        """Drop a thread Redis expired from the tenant's index."""
        self.tx.write("ZREM", self.keys.threads(tenant), thread_id)

    def create(self, view: ThreadView) -> codec.ThreadRecord:
        """Create the (absent) thread: its record and its place in the tenant's index."""
        self._created += 1
        view.record = codec.ThreadRecord.new(to_ms(utcnow()))
        view.created, view.used = self._created, WRITE
        self.tx.write("SET", view.keys.record, view.record.encode())
        clock, index = self.keys.clock(view.tenant), self.keys.threads(view.tenant)
        self.tx.write("EVAL", base.POSITION_SCRIPT, 2, clock, index, view.thread_id)
        return view.record

    def save_record(self, view: ThreadView, record: codec.ThreadRecord) -> None:
        view.record, view.used = record, WRITE  # SET also cleared the key's TTL
        self.tx.write("SET", view.keys.record, record.encode())

    def wipe(self, view: ThreadView) -> None:
        """Delete the thread with everything stored for it."""
        self.tx.write("DEL", *view.keys.all)
        self.tx.write("ZREM", self.keys.threads(view.tenant), view.thread_id)
        view.record, view.wiped, view.created = None, True, 0
        view.heads, view.members, view.stored, view.exists, view.overlay = {}, {}, {}, {}, {}
        view.complete = set()

    # Reads of hash fields: the overlay, else what Redis holds.

    def get(self, view: ThreadView, name: str, items: Iterable[Any]) -> Work[dict[Any, bytes]]:
        """The present values of `items` in hash `name` (`c`, `v`, `b` or `w`)."""
        items = list(dict.fromkeys(items))
        overlay, stored = view.overlay.get(name, {}), view.stored.setdefault(name, {})
        unknown = [
            item
            for item in items
            if item not in overlay and item not in stored and name not in view.complete
        ]
        if unknown and not view.wiped:
            key = view.hash_key(name)
            replies = yield Read(("HMGET", key, *unknown), (key,))
            stored.update(zip(unknown, replies, strict=True))
        found: dict[Any, bytes] = {}
        for item in items:
            raw = overlay[item] if item in overlay else stored.get(item)
            if raw is not None:
                found[item] = raw
        return found

    def get_all(self, view: ThreadView, name: str) -> Work[dict[Any, bytes]]:
        """Every present field of hash `name`."""
        stored = view.stored.setdefault(name, {})
        if name not in view.complete and not view.wiped:
            key = view.hash_key(name)
            reply = yield Read(("HGETALL", key), (key,))
            items = reply.items() if isinstance(reply, dict) else _pairs(reply)
            stored.clear()
            stored.update((_field(name, item), raw) for item, raw in items)
            view.complete.add(name)
        merged = {} if view.wiped else {k: v for k, v in stored.items() if v is not None}
        for item, raw in view.overlay.get(name, {}).items():
            if raw is None:
                merged.pop(item, None)
            else:
                merged[item] = raw
        return merged

    def field_names(self, view: ThreadView, name: str) -> Work[set[Any]]:
        """The names of every present field of hash `name` (without reading the values)."""
        names: set[Any] = set()
        if name in view.complete:
            names = {k for k, v in view.stored.get(name, {}).items() if v is not None}
        elif not view.wiped:
            key = view.hash_key(name)
            reply = yield Read(("HKEYS", key), (key,))
            names = {_field(name, item) for item in reply}
        for item, raw in view.overlay.get(name, {}).items():
            if raw is None:
                names.discard(item)
            else:
                names.add(item)
        return names

    def value_exists(self, view: ThreadView, value_field: str) -> Work[bool]:
        overlay = view.overlay.get("v", {})
        if value_field in overlay:
            return overlay[value_field] is not None
        if not view.wiped and value_field in view.exists:
            return view.exists[value_field]
        return bool((yield from self.get(view, "v", [value_field])))

    def rows(self, view: ThreadView, fields: Iterable[str]) -> Work[dict[str, ValueRow]]:
        """The value rows of `fields` and of every delta base they rebuild from."""
        found: dict[str, ValueRow] = {}
        pending = list(dict.fromkeys(fields))
        while pending:
            yield from self._fetch_chains(view, pending)
            following: list[str] = []
            for item in pending:
                raw = self._known(view, "v", item)
                if raw is None or item in found:
                    continue
                row = found[item] = codec.decode_row(raw)
                if row.kind == DELTA and row.base is not None:
                    namespace, channel, _ = codec.value_key(item)
                    following.append(codec.value_field(namespace, channel, row.base))
            pending = [item for item in following if item not in found]
        return found

    def _fetch_chains(self, view: ThreadView, fields: Sequence[str]) -> Work[None]:
        overlay, stored = view.overlay.get("v", {}), view.stored.setdefault("v", {})
        unknown = [
            item for item in fields if item not in overlay and item not in stored
        ] if "v" not in view.complete and not view.wiped else []  # fmt: skip
        if not unknown:
            return
        key = view.keys.values
        reply = yield Read(("EVAL", codec.CHAINS_SCRIPT, 1, key, *unknown), (key,))
        for at in range(0, len(reply), 2):
            stored[base.text(reply[at])] = reply[at + 1]
        for item in unknown:
            stored.setdefault(item, None)

    def _known(self, view: ThreadView, name: str, item: Any) -> bytes | None:
        overlay = view.overlay.get(name, {})
        if item in overlay:
            return overlay[item]
        return None if view.wiped else view.stored.get(name, {}).get(item)

    def list_state(self, view: ThreadView, value_field: str) -> Work[ListState | None]:
        """A stored list version's item hashes (cached per thread incarnation)."""
        assert view.record is not None
        cache_key = (view.record.uid, value_field)
        cached = self.lists.get(cache_key)
        if cached is not None:
            return cached
        rows = yield from self.rows(view, [value_field])
        row = rows.get(value_field)
        if row is None or row.kind not in (LIST, DELTA):
            return None
        namespace, channel, version = codec.value_key(value_field)

        def fetch(other: str) -> ValueRow | None:
            return rows.get(codec.value_field(namespace, channel, other))

        state = ListState(version, resolve_hashes(version, fetch), row.depth)
        self.lists.put(cache_key, state)
        return state

    # Members (checkpoints) by namespace.

    def members(self, view: ThreadView, namespace: str | None) -> Work[list[str]]:
        """The thread's checkpoint members in `namespace` (None: all), ascending."""
        stored: list[str] = []
        if not view.wiped:
            if namespace not in view.members and None in view.members:
                everything = view.members[None]
                view.members[namespace] = [
                    m for m in everything if codec.member_namespace(m) == namespace
                ]
            if namespace not in view.members:
                command: tuple[Any, ...] = ("ZRANGE", view.keys.index, 0, -1)
                if namespace is not None:
                    command = ("ZRANGEBYLEX", view.keys.index, *codec.namespace_range(namespace))
                reply = yield Read(command, (view.keys.index,))
                view.members[namespace] = [base.text(item) for item in reply]
            stored = view.members[namespace]
        overlay = view.overlay.get("c", {})
        if not overlay:
            return list(stored)
        merged = {m for m in stored if overlay.get(m, b"") is not None}
        merged |= {
            m
            for m, raw in overlay.items()
            if raw is not None and (namespace is None or codec.member_namespace(m) == namespace)
        }
        return sorted(merged)

    def head(self, view: ThreadView, namespace: str) -> Work[str | None]:
        """The member of the newest checkpoint of `namespace`."""
        overlay = view.overlay.get("c", {})
        added = [
            m
            for m, raw in overlay.items()
            if raw is not None and codec.member_namespace(m) == namespace
        ]
        if view.wiped:
            return max(added, default=None)
        if namespace not in view.heads:
            if namespace in view.members:
                known = view.members[namespace]
                view.heads[namespace] = known[-1] if known else None
            else:
                low, high = codec.namespace_range(namespace)
                command = ("ZREVRANGEBYLEX", view.keys.index, high, low, "LIMIT", 0, 1)
                reply = yield Read(command, (view.keys.index,))
                view.heads[namespace] = base.text(reply[0]) if reply else None
        stored = view.heads[namespace]
        if stored is not None and overlay.get(stored, b"") is None:  # deleted by this batch
            everything = yield from self.members(view, namespace)
            return everything[-1] if everything else None
        return max([*added, *([stored] if stored else [])], default=None)

    # Writes.

    def put(self, view: ThreadView, name: str, values: dict[Any, bytes]) -> None:
        """Queue `HSET`s of hash `name` (and, for headers, the members' index entries)."""
        if not values:
            return
        view.overlay.setdefault(name, {}).update(values)
        self.tx.write("HSET", view.hash_key(name), *(p for pair in values.items() for p in pair))
        if name == "c":
            self.tx.write("ZADD", view.keys.index, *(p for m in values for p in (0, m)))

    def delete(self, view: ThreadView, name: str, items: Iterable[Any]) -> None:
        """Queue `HDEL`s of hash `name` (and, for headers, of the members' index entries)."""
        items = list(items)
        if not items:
            return
        view.overlay.setdefault(name, {}).update(dict.fromkeys(items))
        self.tx.write("HDEL", view.hash_key(name), *items)
        if name == "c":
            self.tx.write("ZREM", view.keys.index, *items)

    def finish(self) -> None:
        """Queue the TTL of every thread the batch used (wrote, or read if so configured)."""
        for view in self.views.values():
            wanted = view.used == WRITE or (view.used == READ and self.refresh_on_read)
            if view.record is None or not wanted:
                continue
            ttl = view.record.ttl_ms if view.record.ttl_ms is not None else self.ttl_ms
            if ttl is not None:
                self.tx.write("EVAL", codec.EXPIRE_SCRIPT, len(view.keys.all), *view.keys.all, ttl)
            elif view.persist:
                self.tx.write("EVAL", codec.PERSIST_SCRIPT, len(view.keys.all), *view.keys.all)


def _pairs(reply: Sequence[Any]) -> Iterable[tuple[Any, Any]]:
    return zip(reply[::2], reply[1::2], strict=True)


def _field(name: str, item: Any) -> Any:
    """A hash field as the batch keys it: bytes for list items, text for the rest."""
    return bytes(item) if name == "b" else base.text(item)
