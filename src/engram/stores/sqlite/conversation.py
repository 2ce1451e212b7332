"""The SQLite conversation store.

Each batch is one SQLite transaction on the shared `SqliteConnection`: `BEGIN IMMEDIATE` if it
writes, a plain (snapshot) `BEGIN` if it only reads. The SQL and the row encoding live in
`base.py`; the rules shared with every backend (expiry, counters, seq) in
`engram.stores._conversation_rules`.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from engram._exceptions import ConflictError, InvalidInputError, NotFoundError
from engram.stores import _conversation_rules as rules
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
from engram.stores.sqlite import base
from engram.stores.sqlite._internal import Durability, SqliteConnection
from engram.types import Message, Session, Summary

__all__ = ["SqliteConversationStore"]

_Handler = Callable[[sqlite3.Connection, Any], Any]


class SqliteConversationStore(BaseConversationStore):
    """Conversations in a SQLite database (a file, or `:memory:`).

    The constructor applies the `conversation` migrations (idempotent) on the injected
    connection, which the store never closes. `from_path` opens and closes its own.

    Thread-safe: batches hold the connection's lock. `abatch` runs the batch on a worker
    thread (sqlite3 has no async I/O), so it never blocks the event loop.

    Args:
        conn: The connection to use; may be shared with Engram's other SQLite stores.

    Raises:
        MigrationRequired: The file holds a newer conversation schema than this code knows.

    Example:
        ```python
        with SqliteConversationStore.from_path("engram.db") as store:
            store.create_session(Session(id="s1"))
        ```
    """

    def __init__(self, conn: SqliteConnection) -> None:
        self.conn = conn
        conn.migrate(base.COMPONENT, base.MIGRATIONS)

    @classmethod
    @contextmanager
    def from_path(
        cls, path: str | Path, *, durability: Durability = "normal"
    ) -> Iterator[SqliteConversationStore]:
        """Open a store on its own connection to `path`, closed when the block exits.

        Args:
            path: The database file (created if missing), or `":memory:"`.
            durability: `"normal"` or `"full"`; see `engram.stores.sqlite._internal`.
        """
        conn = SqliteConnection(path, durability=durability)
        try:
            yield cls(conn)
        finally:
            conn.close()

    def batch(self, ops: Sequence[Op]) -> list[Any]:
        """Run `ops` in order in one transaction; return their results in order."""
        rules.check_batch(ops)
        scope: AbstractContextManager[sqlite3.Connection] = (
            self.conn.snapshot() if all(map(_reads_only, ops)) else self.conn.transaction()
        )
        with scope as conn:
            results = [_run(conn, op) for op in ops]
        purged = any(
            isinstance(op, PurgeExpired) and result for op, result in zip(ops, results, strict=True)
        )
        if purged or any(isinstance(op, DeleteSession | ClearMessages) for op in ops):
            self.conn.wipe_log()  # erased text leaves the -wal file too
        return results

    async def abatch(self, ops: Sequence[Op]) -> list[Any]:
        """Async `batch`: the one place sqlite3 work leaves the event loop for a thread."""
        return await asyncio.to_thread(self.batch, ops)


def _reads_only(op: Op) -> bool:
    if isinstance(op, GetSession):
        return not op.touch
    return isinstance(op, ListSessions | ListMessages | FindToolCalls | GetSummary)


def _run(conn: sqlite3.Connection, op: Op) -> Any:
    handler = _HANDLERS.get(type(op))
    if handler is None:
        raise InvalidInputError(f"unsupported operation: {type(op).__name__}")
    return handler(conn, op)


def _select_row(conn: sqlite3.Connection, tenant: str, session_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(base.SELECT_SESSION, (tenant, session_id)).fetchone()
    return row


def _select_session(conn: sqlite3.Connection, tenant: str, session_id: str) -> Session | None:
    row = _select_row(conn, tenant, session_id)
    return None if row is None else base.session_from_row(row)


def _require_live(
    conn: sqlite3.Connection, tenant: str, session_id: str, now: datetime
) -> sqlite3.Row:
    row = _select_row(conn, tenant, session_id)
    if row is None or not rules.is_live(base.session_from_row(row).expires_at, now):
        raise NotFoundError(f"no session {session_id!r} in tenant {tenant!r}")
    return row


def _check_readable(
    conn: sqlite3.Connection, tenant: str, session_id: str, now: datetime | None
) -> None:
    """A read with `now` needs a live session (`NotFoundError`); one without checks nothing.
    The batch's transaction makes the check and the read one snapshot."""
    if now is not None:
        _require_live(conn, tenant, session_id, now)


def _create_session(conn: sqlite3.Connection, op: CreateSession) -> Session:
    session = rules.session_to_create(op.session)
    existing = _select_session(conn, session.tenant, session.id)
    if existing is not None:
        if rules.is_live(existing.expires_at, session.created_at):
            raise ConflictError(f"session {session.id!r} exists in tenant {session.tenant!r}")
        _delete(conn, session.tenant, session.id)
    conn.execute(base.INSERT_SESSION, base.session_row(session))
    return session


def _get_session(conn: sqlite3.Connection, op: GetSession) -> Session | None:
    session = _select_session(conn, op.tenant, op.session_id)
    if session is None or not rules.is_live(session.expires_at, op.now):
        return None
    if op.touch and session.ttl_seconds is not None:
        session = rules.touched(session, op.now)
        expires_at = base.time_to_text(session.expires_at or op.now)
        conn.execute(base.TOUCH_SESSION, (expires_at, op.tenant, op.session_id))
    return session


def _list_sessions(conn: sqlite3.Connection, op: ListSessions) -> list[Session]:
    rules.check_list_sessions(op)
    sql = base.LIST_SESSIONS
    if op.user_id is not None:
        sql += base.LIST_SESSIONS_BY_USER
    if op.agent_id is not None:
        sql += base.LIST_SESSIONS_BY_AGENT
    params = op._asdict() | {"now": base.time_to_text(op.now)}
    rows = conn.execute(sql + base.LIST_SESSIONS_PAGE, params).fetchall()
    return [base.session_from_row(row) for row in rows]


def _delete(conn: sqlite3.Connection, tenant: str, session_id: str) -> bool:
    params = {"tenant": tenant, "id": session_id}
    deleted = 0
    for statement in base.DELETE_SESSION:
        deleted = conn.execute(statement, params).rowcount
    return deleted > 0


def _delete_session(conn: sqlite3.Connection, op: DeleteSession) -> bool:
    return _delete(conn, op.tenant, op.session_id)


def _clear_messages(conn: sqlite3.Connection, op: ClearMessages) -> Session:
    row = _require_live(conn, op.tenant, op.session_id, op.now)
    session = rules.cleared(base.session_from_row(row), op.now)
    params = {
        "tenant": op.tenant,
        "id": op.session_id,
        "updated_at": base.time_to_text(op.now),
        "expires_at": None if session.expires_at is None else base.time_to_text(session.expires_at),
    }
    for statement in base.CLEAR_SESSION:
        conn.execute(statement, params)
    return session


def _append_messages(conn: sqlite3.Connection, op: AppendMessages) -> list[Message]:
    rules.check_append(op)
    if not op.messages:
        _require_live(conn, op.tenant, op.session_id, op.now)
        return []
    params = {
        "count": len(op.messages),
        "tokens": sum(m.tokens or 0 for m in op.messages),
        "now": base.time_to_text(op.now),
        "tenant": op.tenant,
        "id": op.session_id,
    }
    row = conn.execute(base.APPEND_TO_SESSION, params).fetchone()
    if row is None:
        raise NotFoundError(f"no session {op.session_id!r} in tenant {op.tenant!r}")
    last_seq, ttl = row
    if ttl is not None:  # extend on use
        expires_at = base.time_to_text(op.now + timedelta(seconds=ttl))
        conn.execute(base.EXTEND_EXPIRY, params | {"expires_at": expires_at})
    stored = rules.stamp_messages(op.messages, op.session_id, last_seq - len(op.messages))
    try:
        conn.executemany(base.INSERT_MESSAGE, [base.message_row(op.tenant, m) for m in stored])
    except sqlite3.IntegrityError as exc:
        raise ConflictError(f"session {op.session_id!r}: a message id already exists") from exc
    calls = [(op.tenant, op.session_id, call_id) for call_id in rules.requested_call_ids(stored)]
    if calls:
        conn.executemany(base.INSERT_TOOL_CALL, calls)
    return stored


def _list_messages(conn: sqlite3.Connection, op: ListMessages) -> list[Message]:
    rules.check_list_messages(op)
    _check_readable(conn, op.tenant, op.session_id, op.now)
    if op.last == 0:
        return []
    sql = base.SELECT_MESSAGES
    params: list[Any] = [op.tenant, op.session_id]
    if op.after_seq is not None:
        sql += base.AFTER_SEQ
        params.append(op.after_seq)
    if op.before_seq is not None:
        sql += base.BEFORE_SEQ
        params.append(op.before_seq)
    if op.roles is not None:
        condition, roles = base.roles_condition(op.roles)
        sql += condition
        params.extend(roles)
    if op.last is None:
        rows = conn.execute(sql + base.ORDER_BY_SEQ, params).fetchall()
    else:
        rows = conn.execute(sql + base.NEWEST_FIRST, [*params, op.last]).fetchall()
        rows.reverse()
    return [base.message_from_row(row) for row in rows]


def _find_tool_calls(conn: sqlite3.Connection, op: FindToolCalls) -> set[str]:
    _check_readable(conn, op.tenant, op.session_id, op.now)
    params = (op.tenant, op.session_id, json.dumps(list(op.call_ids)))
    return {row["call_id"] for row in conn.execute(base.FIND_TOOL_CALLS, params)}


def _get_summary(conn: sqlite3.Connection, op: GetSummary) -> Summary | None:
    _check_readable(conn, op.tenant, op.session_id, op.now)
    row = conn.execute(base.SELECT_SUMMARY, (op.tenant, op.session_id)).fetchone()
    return None if row is None else base.summary_from_row(row)


def _put_summary(conn: sqlite3.Connection, op: PutSummary) -> Summary:
    session_id = op.summary.session_id
    if _select_row(conn, op.tenant, session_id) is None:
        raise NotFoundError(f"no session {session_id!r} in tenant {op.tenant!r}")
    current = _get_summary(conn, GetSummary(op.tenant, session_id))
    through_seq = None if current is None else current.through_seq
    if through_seq != op.expected_through_seq:
        raise ConflictError(
            f"session {session_id!r}: the summary is through seq {through_seq}, "
            f"not {op.expected_through_seq}"
        )
    conn.execute(base.UPSERT_SUMMARY, base.summary_row(op.tenant, op.summary))
    return op.summary


def _merge_state(conn: sqlite3.Connection, op: MergeState) -> dict[str, Any]:
    row = _require_live(conn, op.tenant, op.session_id, op.now)
    session = rules.touched(base.session_from_row(row), op.now)
    params = {
        "tenant": op.tenant,
        "id": op.session_id,
        "patch": base.dumps(dict(op.patch)),
        "updated_at": base.time_to_text(op.now),
        "expires_at": None if session.expires_at is None else base.time_to_text(session.expires_at),
    }
    state: dict[str, Any] = json.loads(conn.execute(base.MERGE_STATE, params).fetchone()[0])
    return state


def _purge_expired(conn: sqlite3.Connection, op: PurgeExpired) -> int:
    params = {"tenant": op.tenant, "now": base.time_to_text(op.now)}
    purged = 0
    for statement in base.PURGE_EXPIRED:
        purged = conn.execute(statement, params).rowcount
    return purged


_HANDLERS: dict[type, _Handler] = {
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
"""One handler per op type; each runs inside the batch's transaction."""
