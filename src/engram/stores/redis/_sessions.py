"""What one batch of the Redis conversation store knows and writes, session by session.

`SessionBatch` loads each session the batch touches once (watching its keys), applies the
batch's writes to that in-memory view, and queues the matching Redis commands on the `Tx`.
Later ops of the batch read the view, so they see the batch's own writes; the commands run
in one `MULTI`/`EXEC` at the end (see `_internal`). Pure: every read is a yielded `Read`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engram.stores import _conversation_rules as rules
from engram.stores.redis import base
from engram.stores.redis._internal import Read, Tx, Work
from engram.types import Message, Session, Summary
from engram.types._conversation import utcnow

__all__ = ["SessionBatch", "SessionView"]

_UNKNOWN: Any = object()
"""A summary not read yet."""


@dataclass(slots=True)
class SessionView:
    """One session as the running batch sees it."""

    tenant: str
    session_id: str
    keys: base.SessionKeys
    session: Session | None
    """The session after the batch's writes so far; None if absent (or deleted)."""
    last_seq: int = 0
    """The highest seq assigned in the session (with the batch's appends)."""
    stored_last_seq: int = 0
    """Messages 1..stored_last_seq are in Redis; later ones are `new_messages`."""
    wiped: bool = False
    """The batch deleted what Redis stored for the session: read none of it."""
    written: bool = False
    """The batch wrote or deleted the session (its index entries in Redis are stale)."""
    new_messages: list[Message] = field(default_factory=list)
    new_calls: set[str] = field(default_factory=set)
    new_ids: set[str] = field(default_factory=set)
    summary: Any = _UNKNOWN
    """`Summary | None` once known."""


class SessionBatch:
    """The sessions of one batch run: loaded views, pending writes, message-id changes."""

    def __init__(self, tx: Tx, keys: base.Keys, grace: float) -> None:
        self.tx, self.keys, self.grace = tx, keys, grace
        self.views: dict[tuple[str, str], SessionView] = {}
        self.added_ids: set[tuple[str, str]] = set()
        """(tenant, message id) registered by this batch."""
        self.removed_ids: set[tuple[str, str]] = set()
        """(tenant, message id) freed by this batch."""

    # Reads.

    def view(self, tenant: str, session_id: str) -> Work[SessionView]:
        """The session's view, read (and watched) on first use."""
        (view,) = yield from self.views_of(tenant, [session_id])
        return view

    def views_of(self, tenant: str, session_ids: Sequence[str]) -> Work[list[SessionView]]:
        """The views of several sessions; the unread ones are read with one `MGET`."""
        missing = [sid for sid in dict.fromkeys(session_ids) if (tenant, sid) not in self.views]
        if missing:
            keys = [self.keys.session(tenant, sid) for sid in missing]
            records = [key.record for key in keys]
            replies = yield Read(("MGET", *records), tuple(records))
            for sid, key, raw in zip(missing, keys, replies, strict=True):
                self.views[(tenant, sid)] = _load(tenant, sid, key, raw)
        return [self.views[(tenant, sid)] for sid in session_ids]

    def live(self, tenant: str, session_id: str, now: datetime) -> Work[SessionView | None]:
        """The view if the session exists and is live at `now`."""
        view = yield from self.view(tenant, session_id)
        if view.session is None or not rules.is_live(view.session.expires_at, now):
            return None
        return view

    def summary(self, view: SessionView) -> Work[Summary | None]:
        """The session's running summary."""
        if view.summary is _UNKNOWN:
            raw = None
            if not view.wiped:
                raw = yield Read(("GET", view.keys.summary), (view.keys.summary,))
            view.summary = None if raw is None else base.decode_summary(raw)
        found: Summary | None = view.summary
        return found

    def written(self, tenant: str) -> list[SessionView]:
        """The tenant's sessions this batch wrote or deleted."""
        return [view for (t, _), view in self.views.items() if t == tenant and view.written]

    # Writes.

    def save(self, view: SessionView, now: datetime) -> None:
        """Queue the session's record, its index entries and its keys' TTL."""
        session = view.session
        assert session is not None  # callers save live sessions only
        tenant, sid = view.tenant, view.session_id
        view.written = True
        self.tx.write("SET", view.keys.record, base.encode_record(session, view.last_seq))
        score = base.micros(session.updated_at)
        self.tx.write("ZADD", self.keys.sessions(tenant), score, sid)
        if session.user_id is not None:
            self.tx.write("ZADD", self.keys.sessions_by_user(tenant, session.user_id), score, sid)
        if session.agent_id is not None:
            index = self.keys.sessions_by_agent(tenant, session.agent_id)
            self.tx.write("ZADD", index, score, sid)
        if session.expires_at is None:
            self.tx.write("ZREM", self.keys.expiry(tenant), sid)
        else:
            self.tx.write("ZADD", self.keys.expiry(tenant), base.micros(session.expires_at), sid)
        self.refresh_ttl(view, now)

    def refresh_ttl(self, view: SessionView, now: datetime) -> None:
        """Queue the Redis TTL of the session's keys (see `base.ttl_millis`)."""
        assert view.session is not None
        ttl = base.ttl_millis(view.session, now, self.grace)
        if ttl is not None:
            for key in view.keys.expiring:
                self.tx.write("PEXPIRE", key, ttl)

    def remove(self, view: SessionView) -> Work[None]:
        """Queue the deletion of everything stored for the session, index entries included.

        Also tidies what an earlier Redis expiry left (message ids, index entries).
        """
        ids = set(view.new_ids)
        if not view.wiped:
            stored = yield Read(("SMEMBERS", view.keys.ids), (view.keys.ids,))
            ids |= {base.text(item) for item in stored}
        tenant, sid = view.tenant, view.session_id
        self.tx.write("DEL", view.keys.record, *view.keys.children)
        if ids:
            self.tx.write("DEL", *(self.keys.message_id(tenant, item) for item in sorted(ids)))
        self.tx.write("ZREM", self.keys.sessions(tenant), sid)
        self.tx.write("ZREM", self.keys.expiry(tenant), sid)
        if view.session is not None:
            self._unindex_owner(view.session)
        pairs = {(tenant, item) for item in ids}
        self.removed_ids |= pairs
        self.added_ids -= pairs
        view.session, view.last_seq, view.stored_last_seq = None, 0, 0
        view.wiped, view.written, view.summary = True, True, None
        view.new_messages, view.new_calls, view.new_ids = [], set(), set()

    def _unindex_owner(self, session: Session) -> None:
        if session.user_id is not None:
            index = self.keys.sessions_by_user(session.tenant, session.user_id)
            self.tx.write("ZREM", index, session.id)
        if session.agent_id is not None:
            index = self.keys.sessions_by_agent(session.tenant, session.agent_id)
            self.tx.write("ZREM", index, session.id)

    def add_messages(self, view: SessionView, stored: Sequence[Message]) -> None:
        """Queue appended (already stamped) messages with their ids, roles and tool calls."""
        assert view.session is not None
        tenant, sid, keys = view.tenant, view.session_id, view.keys
        fields = [part for m in stored for part in (m.seq, base.encode_message(m))]
        self.tx.write("HSET", keys.messages, *fields)
        for role in base.INDEXED_ROLES:
            seqs = [m.seq for m in stored if m.role == role]
            if seqs:
                self.tx.write(
                    "ZADD", keys.role(role), *(part for seq in seqs for part in (seq, seq))
                )
        calls = rules.requested_call_ids(stored)
        if calls:
            self.tx.write("SADD", keys.calls, *calls)
        ids = [m.id for m in stored]
        self.tx.write("SADD", keys.ids, *ids)
        self.tx.write(
            "MSET", *(part for i in ids for part in (self.keys.message_id(tenant, i), sid))
        )
        view.new_messages.extend(stored)
        view.new_calls.update(calls)
        view.new_ids.update(ids)
        self.added_ids.update((tenant, i) for i in ids)

    def taken_ids(self, tenant: str, ids: Iterable[str]) -> Work[bool]:
        """Whether any of `ids` is a message id of the tenant (after this batch's writes)."""
        ids = list(ids)
        if any((tenant, item) in self.added_ids for item in ids):
            return True
        unknown = [item for item in ids if (tenant, item) not in self.removed_ids]
        if not unknown:
            return False
        keys = [self.keys.message_id(tenant, item) for item in unknown]
        replies = yield Read(("MGET", *keys), tuple(keys))
        return any(reply is not None for reply in replies)

    def put_summary(self, view: SessionView, summary: Summary) -> None:
        """Queue the session's running summary."""
        self.tx.write("SET", view.keys.summary, base.encode_summary(summary))
        view.summary = summary
        self.refresh_ttl(view, utcnow())


def _load(tenant: str, session_id: str, keys: base.SessionKeys, raw: Any) -> SessionView:
    if raw is None:
        return SessionView(tenant, session_id, keys, None)
    session, last_seq = base.decode_record(raw)
    return SessionView(tenant, session_id, keys, session, last_seq, last_seq)
