"""The Redis conversation store (sync); the async twin is in `aio.py`.

Sessions, messages, running summaries and session state, for hot, short-lived conversations.
Each batch is one optimistic transaction (`_internal`): all-or-nothing, isolated, retried when
a concurrent writer changed what it read. A batch of one `AppendMessages` or `GetSession`
(the hot path: `session.add(...)`, opening a session) is instead one Lua script, one round
trip (`_session_script`), with the same rules. Appends to one session from many processes
therefore never share a seq, and each writer's messages keep its order; merges of session
state (RFC 7396, in Python: `engram.stores._merge`) are never lost.

Reading the newest N messages costs O(N): seqs run 1..last_seq without gaps, so the store
asks for exactly those fields of the session's message hash. Role filters read the per-role
seq indexes, newest first, and stop at N.

Expiry (see `base.py`): `expires_at` decides, judged at each op's `now`; Redis TTLs (the
remaining lifetime plus `expiry_grace` seconds, renewed on every write) free what nobody uses.
Call `purge_expired` now and then, as with the SQL stores, to drop expired sessions and the
bookkeeping Redis expiry cannot reach (their message ids and index entries). Once Redis has
expired a session's keys the session is gone: `delete_session` then reports False.

What Redis does not store: long-term memories and vector search (Redis 7 here has no search
module). Combine this store with a PostgreSQL or SQLite store for those. Messages must have
one of the four chat roles (`system`, `user`, `assistant`, `tool`): each has a seq index.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from engram._exceptions import ConflictError, InvalidInputError, NotFoundError
from engram.stores import _conversation_rules as rules
from engram.stores._merge import merge_patch
from engram.stores.conversation import (
    AppendMessages,
    BaseConversationStore,
    ClearMessages,
    CreateSession,
    DeleteSession,
    FindToolCalls,
    GetSession,
    GetSummary,
    ListMessages,
    ListSessions,
    MergeState,
    Op,
    PurgeExpired,
    PutSummary,
)
from engram.stores.redis import base
from engram.stores.redis._internal import Client, Read, Tx, Work, client_from, connect, run
from engram.stores.redis._session_script import LEGACY, append_alone, check_roles, get_alone
from engram.stores.redis._sessions import SessionBatch, SessionView
from engram.types import Message, Session, Summary

__all__ = ["RedisConversationStore", "conversation_work"]


class RedisConversationStore(BaseConversationStore):
    """Conversations in Redis (sessions with TTL, messages, summaries, state).

    It never closes an injected client or pool; `from_url` opens and closes its own.
    Thread-safe (each batch uses its own pooled connection). `abatch` runs the batch on a
    worker thread; for real async I/O use `AsyncRedisConversationStore`.

    Args:
        client: A `redis.Redis` client or a `redis.ConnectionPool`.
        prefix: Prepended to every key (several stores or apps can share one database).
        expiry_grace: Seconds a session's keys outlive its expiry in Redis (clock leeway).

    Example:
        ```python
        with RedisConversationStore.from_url("redis://localhost:6379/0") as store:
            store.create_session(Session(id="s1", ttl_seconds=3600))
        ```
    """

    def __init__(
        self, client: Client | Any, *, prefix: str = "engram:", expiry_grace: float = 60.0
    ) -> None:
        self.client = client_from(client)
        self.keys = base.Keys(prefix)
        self.expiry_grace = expiry_grace

    @classmethod
    @contextmanager
    def from_url(cls, url: str, **options: Any) -> Iterator[RedisConversationStore]:
        """Open a store on its own client to `url`, closed when the block exits.

        Args:
            url: A Redis URL (`redis://host:port/db`).
            **options: `prefix` and `expiry_grace`, as for the constructor.
        """
        with connect(url) as client:
            yield cls(client, **options)

    def batch(self, ops: Sequence[Op]) -> list[Any]:
        """Run `ops` in order in one optimistic transaction; return their results in order."""
        if not ops:
            return []
        return run(self.client, self._work(ops))

    async def abatch(self, ops: Sequence[Op]) -> list[Any]:
        """Async `batch` on a worker thread (this class's I/O is blocking)."""
        return await asyncio.to_thread(self.batch, ops)

    def _work(self, ops: Sequence[Op]) -> Callable[[Tx], Work[list[Any]]]:
        def make(tx: Tx) -> Work[list[Any]]:
            return conversation_work(ops, SessionBatch(tx, self.keys, self.expiry_grace))

        return make


def conversation_work(ops: Sequence[Op], batch: SessionBatch) -> Work[list[Any]]:
    """The reads and writes of a batch: each op's, in order; returns the results in order."""
    rules.check_batch(ops)
    alone = _ALONE.get(type(ops[0])) if len(ops) == 1 else None
    if alone is not None:
        result = yield from alone(batch, ops[0])
        if result is not LEGACY:
            return [result]
    results: list[Any] = []
    for op in ops:
        handler = _HANDLERS.get(type(op))
        if handler is None:
            raise InvalidInputError(f"unsupported operation: {type(op).__name__}")
        results.append((yield from handler(batch, op)))
    return results


def _not_found(tenant: str, session_id: str) -> NotFoundError:
    return NotFoundError(f"no session {session_id!r} in tenant {tenant!r}")


def _create_session(batch: SessionBatch, op: CreateSession) -> Work[Session]:
    session = rules.session_to_create(op.session)
    view = yield from batch.view(session.tenant, session.id)
    if view.session is not None and rules.is_live(view.session.expires_at, session.created_at):
        raise ConflictError(f"session {session.id!r} exists in tenant {session.tenant!r}")
    yield from batch.remove(view)  # an expired session, or what Redis expiry left of one
    view.session = session
    batch.save(view, session.created_at)
    return session


def _get_session(batch: SessionBatch, op: GetSession) -> Work[Session | None]:
    view = yield from batch.live(op.tenant, op.session_id, op.now)
    if view is None or view.session is None:
        return None
    if op.touch and view.session.ttl_seconds is not None:
        view.session = rules.touched(view.session, op.now)
        batch.save(view, op.now)
    return view.session


def _list_sessions(batch: SessionBatch, op: ListSessions) -> Work[list[Session]]:
    rules.check_list_sessions(op)
    wanted = op.offset + op.limit
    if op.limit == 0:
        return []
    keys = batch.keys
    index = keys.sessions(op.tenant)
    if op.user_id is not None:
        index = keys.sessions_by_user(op.tenant, op.user_id)
    elif op.agent_id is not None:
        index = keys.sessions_by_agent(op.tenant, op.agent_id)
    written = batch.written(op.tenant)
    skip = {view.session_id for view in written}
    # The index orders stored sessions as the contract does (updated_at, then id); the
    # sessions this batch wrote are not where the index says, so they are merged in below.
    found: list[Session] = []
    start, chunk = 0, min(max(wanted, 32), _MOST_READ)
    while len(found) < wanted:
        members = yield Read(("ZREVRANGE", index, start, start + chunk - 1), (index,))
        ids = [base.text(item) for item in members]
        views = yield from batch.views_of(op.tenant, [sid for sid in ids if sid not in skip])
        for view in views:
            if view.session is None:  # Redis expired it: tidy its index entry
                batch.tx.write("ZREM", index, view.session_id)
            elif _listed(view.session, op):
                found.append(view.session)
        if len(ids) < chunk:
            break
        start += chunk
    found += [v.session for v in written if v.session is not None and _listed(v.session, op)]
    found.sort(key=lambda session: (session.updated_at, session.id), reverse=True)
    return found[op.offset : wanted]


_MOST_READ = 2**62
"""The most index entries one read of `_list_sessions` asks for: its range ends stay
integers Redis takes (64-bit) for any offset `check_list_sessions` lets through."""


def _listed(session: Session, op: ListSessions) -> bool:
    return (
        rules.is_live(session.expires_at, op.now)
        and op.user_id in (None, session.user_id)
        and op.agent_id in (None, session.agent_id)
    )


def _delete_session(batch: SessionBatch, op: DeleteSession) -> Work[bool]:
    view = yield from batch.view(op.tenant, op.session_id)
    existed = view.session is not None
    yield from batch.remove(view)
    return existed


def _clear_messages(batch: SessionBatch, op: ClearMessages) -> Work[Session]:
    view = yield from batch.live(op.tenant, op.session_id, op.now)
    if view is None or view.session is None:
        raise _not_found(op.tenant, op.session_id)
    session = rules.cleared(view.session, op.now)
    yield from batch.remove(view)  # as a new session of the same id replaces an expired one
    view.session = session
    batch.save(view, op.now)
    return session


def _append_messages(batch: SessionBatch, op: AppendMessages) -> Work[list[Message]]:
    rules.check_append(op)
    check_roles(op.messages)
    view = yield from batch.live(op.tenant, op.session_id, op.now)
    if view is None or view.session is None:
        raise _not_found(op.tenant, op.session_id)
    if not op.messages:
        return []
    if (yield from batch.taken_ids(op.tenant, (message.id for message in op.messages))):
        raise ConflictError(f"session {op.session_id!r}: a message id already exists")
    stored = rules.stamp_messages(op.messages, op.session_id, view.last_seq)
    batch.add_messages(view, stored)
    view.session = rules.after_append(view.session, stored, op.now)
    view.last_seq += len(stored)
    batch.save(view, op.now)
    return stored


def _readable(
    batch: SessionBatch, op: ListMessages | FindToolCalls | GetSummary
) -> Work[SessionView]:
    """The view a read sees: with the op's `now`, a live session's (else `NotFoundError`)."""
    if op.now is None:
        return (yield from batch.view(op.tenant, op.session_id))
    view = yield from batch.live(op.tenant, op.session_id, op.now)
    if view is None or view.session is None:
        raise _not_found(op.tenant, op.session_id)
    return view


def _list_messages(batch: SessionBatch, op: ListMessages) -> Work[list[Message]]:
    rules.check_list_messages(op)
    view = yield from _readable(batch, op)
    if view.session is None or op.last == 0:
        return []
    low = max(1, (op.after_seq or 0) + 1)
    high = view.last_seq if op.before_seq is None else min(view.last_seq, op.before_seq - 1)
    if high < low:
        return []
    if op.roles is None:
        if op.last is not None:
            low = max(low, high - op.last + 1)
        seqs = list(range(low, high + 1))
    else:
        seqs = yield from _seqs_of_roles(view, op.roles, low, high, op.last)
    return (yield from _messages(view, seqs))


def _seqs_of_roles(
    view: SessionView, roles: Sequence[str], low: int, high: int, last: int | None
) -> Work[list[int]]:
    """The seqs in low..high of messages with one of `roles` (the newest `last`), ascending."""
    wanted = [role for role in dict.fromkeys(roles) if role in base.INDEXED_ROLES]
    new = [
        m.seq or 0 for m in view.new_messages if m.role in wanted and low <= (m.seq or 0) <= high
    ]
    if last is not None and len(new) >= last:
        return new[len(new) - last :]
    top = 0 if view.wiped else min(high, view.stored_last_seq)
    remaining = None if last is None else last - len(new)
    stored: list[int] = []
    for role in wanted if top >= low else ():
        key = view.keys.role(role)
        command: tuple[Any, ...] = ("ZREVRANGEBYSCORE", key, top, low)
        if remaining is not None:
            command += ("LIMIT", 0, remaining)
        replies = yield Read(command, (key,))
        stored += [int(seq) for seq in replies]
    stored.sort(reverse=True)
    return sorted(stored[:remaining] if remaining is not None else stored) + new


def _messages(view: SessionView, seqs: Sequence[int]) -> Work[list[Message]]:
    """The messages with `seqs` (ascending): stored ones from Redis, new ones from the batch."""
    top = 0 if view.wiped else view.stored_last_seq
    stored = [seq for seq in seqs if seq <= top]
    found: list[Message] = []
    if stored:
        key = view.keys.messages
        replies = yield Read(("HMGET", key, *stored), (key,))
        found = [base.decode_message(raw) for raw in replies if raw is not None]
    first_new = top + 1
    found += [view.new_messages[seq - first_new] for seq in seqs if seq > top]
    return found


def _find_tool_calls(batch: SessionBatch, op: FindToolCalls) -> Work[set[str]]:
    view = yield from _readable(batch, op)
    if view.session is None or not op.call_ids:
        return set()
    found = view.new_calls & set(op.call_ids)
    if not view.wiped:
        ids = list(dict.fromkeys(op.call_ids))
        flags = yield Read(("SMISMEMBER", view.keys.calls, *ids), (view.keys.calls,))
        found |= {call_id for call_id, flag in zip(ids, flags, strict=True) if flag}
    return found


def _get_summary(batch: SessionBatch, op: GetSummary) -> Work[Summary | None]:
    view = yield from _readable(batch, op)
    if view.session is None:
        return None
    return (yield from batch.summary(view))


def _put_summary(batch: SessionBatch, op: PutSummary) -> Work[Summary]:
    session_id = op.summary.session_id
    view = yield from batch.view(op.tenant, session_id)
    if view.session is None:
        raise _not_found(op.tenant, session_id)
    current = yield from batch.summary(view)
    through_seq = None if current is None else current.through_seq
    if through_seq != op.expected_through_seq:
        raise ConflictError(
            f"session {session_id!r}: the summary is through seq {through_seq}, "
            f"not {op.expected_through_seq}"
        )
    batch.put_summary(view, op.summary)
    return op.summary


def _merge_state(batch: SessionBatch, op: MergeState) -> Work[dict[str, Any]]:
    view = yield from batch.live(op.tenant, op.session_id, op.now)
    if view is None or view.session is None:
        raise _not_found(op.tenant, op.session_id)
    state: dict[str, Any] = merge_patch(view.session.state, op.patch)
    view.session = rules.after_merge(view.session, state, op.now)
    batch.save(view, op.now)
    return state


def _purge_expired(batch: SessionBatch, op: PurgeExpired) -> Work[int]:
    expiry = batch.keys.expiry(op.tenant)
    members = yield Read(("ZRANGEBYSCORE", expiry, "-inf", base.micros(op.now)), (expiry,))
    stored = yield from batch.views_of(op.tenant, [base.text(item) for item in members])
    candidates = {view.session_id: view for view in [*stored, *batch.written(op.tenant)]}
    purged = 0
    for view in candidates.values():
        if view.session is None:
            if not view.written:  # expired by Redis already: tidy what it left
                yield from batch.remove(view)
        elif not rules.is_live(view.session.expires_at, op.now):
            yield from batch.remove(view)
            purged += 1
    return purged


_HANDLERS: dict[type, Callable[[SessionBatch, Any], Work[Any]]] = {
    CreateSession: _create_session,
    GetSession: _get_session,
    ListSessions: _list_sessions,
    DeleteSession: _delete_session,
    ClearMessages: _clear_messages,
    AppendMessages: _append_messages,
    ListMessages: _list_messages,
    FindToolCalls: _find_tool_calls,
    GetSummary: _get_summary,
    PutSummary: _put_summary,
    MergeState: _merge_state,
    PurgeExpired: _purge_expired,
}
"""One generator per op type; each reads through the batch and queues its writes on it."""

_ALONE: dict[type, Callable[[SessionBatch, Any], Work[Any]]] = {
    AppendMessages: append_alone,
    GetSession: get_alone,
}
"""The ops a batch of one runs as one Lua script (`_session_script`)."""
