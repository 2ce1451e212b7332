"""The PostgreSQL conversation store (sync); the async twin is in `aio.py`.

Each batch that writes is one transaction (a batch of reads sends its statements alone
where that reads the same: `conversation_mode`). Every op is a generator over the statements
of `base.py` (`conversation_work`), shared with `AsyncPostgresConversationStore`; the rules
shared with every backend (expiry, counters, seq) come from `engram.stores._conversation_rules`.

Concurrency: a write locks its session's row first (`SELECT ... FOR UPDATE`, or the update
that opens an append's single statement), so the writers of one session queue on its row,
whichever process they run in. An append therefore numbers its messages from the `last_seq`
the previous append committed: no two appends share a seq, and a writer's messages keep its
own order. State merges apply RFC 7396 in Python (`engram.stores._merge`) under the same
lock, so no merge is lost. A batch that is one statement (an append of up to
`base.APPEND_CHUNK` messages, or a single read) runs on its own: one round trip.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
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
from engram.stores.postgres import base
from engram.stores.postgres._internal import BatchMode, Conn, Durability, Target, connect
from engram.stores.postgres.base import Statement, Work
from engram.types import Message, Session, Summary

__all__ = [
    "PostgresConversationStore",
    "conversation_mode",
    "conversation_work",
    "plain_conflict",
]


class PostgresConversationStore(BaseConversationStore):
    """Conversations in PostgreSQL, over a psycopg connection or connection pool.

    The constructor applies the `conversation` migrations (idempotent; pass `migrate=False`
    where the application has no DDL rights and runs `engram db migrate` instead). It never
    closes an injected connection or pool; `from_conn_string` opens and closes its own.

    Thread-safe: with a pool each batch borrows a connection; a single connection runs one
    batch at a time. `abatch` runs the batch on a worker thread; for real async I/O use
    `AsyncPostgresConversationStore`.

    Args:
        conn: A psycopg `Connection` (autocommit) or a psycopg_pool `ConnectionPool`.
        migrate: Apply the schema migrations now.
        durability: `"normal"` (default: asynchronous commit, may lose the last writes on a
            server crash) or `"full"` (the server's synchronous commit); see
            `engram.stores.postgres._internal`.

    Raises:
        MigrationRequired: The database holds a newer conversation schema than this code.
        BackendUnavailable: The server cannot be reached.
        ConfigError: `durability` is neither `"normal"` nor `"full"`.

    Example:
        ```python
        with PostgresConversationStore.from_conn_string("postgresql://localhost/app") as store:
            store.create_session(Session(id="s1"))
        ```
    """

    def __init__(
        self, conn: Conn, *, migrate: bool = True, durability: Durability = "normal"
    ) -> None:
        self.conn = conn
        self._target = Target(conn, durability)
        if migrate:
            self.migrate()

    @classmethod
    @contextmanager
    def from_conn_string(
        cls, conninfo: str, *, durability: Durability = "normal"
    ) -> Iterator[PostgresConversationStore]:
        """Open a store on its own connection (autocommit), closed when the block exits.

        Args:
            conninfo: A libpq connection string or URL.
            durability: `"normal"` or `"full"`; see `engram.stores.postgres._internal`.
        """
        with connect(conninfo, durability) as conn:
            yield cls(conn, durability=durability)

    def migrate(self) -> int:
        """Create or upgrade the conversation tables (idempotent); return the schema version."""
        return self._target.run(base.migrate(base.CONVERSATION, base.CONVERSATION_MIGRATIONS))

    def batch(self, ops: Sequence[Op]) -> list[Any]:
        """Run `ops` in order, atomically (see `conversation_mode`); return their results in
        order."""
        if not ops:
            return []
        mode = conversation_mode(ops)
        work = conversation_work(ops)
        try:
            return self._target.run_batch(mode, work)
        except ConflictError as exc:
            raise plain_conflict(exc, ops) from exc.__cause__

    async def abatch(self, ops: Sequence[Op]) -> list[Any]:
        """Async `batch` on a worker thread (this class's I/O is blocking)."""
        return await asyncio.to_thread(self.batch, ops)


def conversation_work(ops: Sequence[Op]) -> Work[list[Any]]:
    """The statements of a batch: each op's, in order; returns the results in order."""
    rules.check_batch(ops)
    results: list[Any] = []
    for op in ops:
        handler = _HANDLERS.get(type(op))
        if handler is None:
            raise InvalidInputError(f"unsupported operation: {type(op).__name__}")
        results.append((yield from handler(op)))
    return results


_MESSAGE_ID_INDEX = "engram_messages_id"
"""The unique index of message ids in a tenant (`base.CONVERSATION`)."""


def plain_conflict(exc: ConflictError, ops: Sequence[Op]) -> ConflictError:
    """`exc`; for an append repeating a stored message id, the error every backend gives
    (naming the session), not the words of the unique index the database names."""
    diagnostic = getattr(exc.__cause__, "diag", None)
    if getattr(diagnostic, "constraint_name", None) != _MESSAGE_ID_INDEX:
        return exc
    appended = dict.fromkeys(op.session_id for op in ops if isinstance(op, AppendMessages))
    where = ", ".join(repr(session_id) for session_id in appended)
    return ConflictError(f"session {where}: a message id already exists")


_READS = (ListMessages, ListSessions, FindToolCalls, GetSummary)
"""The ops that read in one statement and never write (as does `GetSession` without touch)."""


def conversation_mode(ops: Sequence[Op]) -> BatchMode:
    """How a batch runs, atomically and reading what one transaction would:

    - `"read"`: one op reading in one statement (one snapshot), run on its own: one round
      trip, no `BEGIN`/`COMMIT`, whatever the isolation level;
    - `"write"`: an append of up to `base.APPEND_CHUNK` messages, one statement committed
      on its own;
    - `"reads"`: several reads, each statement on its own where transactions are READ
      COMMITTED (each of their statements reads a snapshot of its own anyway), else in one
      transaction (`Target.run_reads`);
    - `"touch"`: a `GetSession` that extends the session's expiry: a read, then perhaps one
      write, its last statement (`Target.run_reads` with `writes`);
    - `"transaction"`: anything else, in one transaction."""
    if len(ops) == 1:
        op = ops[0]
        if isinstance(op, AppendMessages) and 0 < len(op.messages) <= base.APPEND_CHUNK:
            return "write"
        if _only_reads(op):
            return "read"
        if isinstance(op, GetSession):
            return "touch"
    if all(_only_reads(op) for op in ops):
        return "reads"
    return "transaction"


def _only_reads(op: Op) -> bool:
    return isinstance(op, _READS) or (isinstance(op, GetSession) and not op.touch)


def _locked_live(tenant: str, session_id: str, now: datetime) -> Work[dict[str, Any]]:
    row = yield Statement(base.LOCK_SESSION, (tenant, session_id), "one")
    if row is None or not rules.is_live(base.session_from_row(row).expires_at, now):
        raise NotFoundError(f"no session {session_id!r} in tenant {tenant!r}")
    locked: dict[str, Any] = row
    return locked


def _create_session(op: CreateSession) -> Work[Session]:
    session = rules.session_to_create(op.session)
    key = (session.tenant, session.id)
    row = yield Statement(base.LOCK_SESSION, key, "one")
    if row is not None:
        if rules.is_live(base.session_from_row(row).expires_at, session.created_at):
            raise ConflictError(f"session {session.id!r} exists in tenant {session.tenant!r}")
        yield from _delete(session.tenant, session.id)
    yield Statement(base.INSERT_SESSION, base.session_params(session))
    return session


def _get_session(op: GetSession) -> Work[Session | None]:
    row = yield Statement(base.SELECT_SESSION, (op.tenant, op.session_id), "one")
    session = None if row is None else base.session_from_row(row)
    if session is None or not rules.is_live(session.expires_at, op.now):
        return None
    if op.touch and session.ttl_seconds is not None:
        session = rules.touched(session, op.now)
        params = (session.expires_at, op.tenant, op.session_id)
        yield Statement(base.TOUCH_SESSION, params, async_sql=base.TOUCH_SESSION_ALONE)
    return session


def _list_sessions(op: ListSessions) -> Work[list[Session]]:
    rules.check_list_sessions(op)
    sql = base.LIST_SESSIONS
    if op.user_id is not None:
        sql += base.LIST_SESSIONS_BY_USER
    if op.agent_id is not None:
        sql += base.LIST_SESSIONS_BY_AGENT
    params = op._asdict() | {"now": base.utc(op.now)}
    rows = yield Statement(sql + base.LIST_SESSIONS_PAGE, params, "all")
    return [base.session_from_row(row) for row in rows]


def _delete_session(op: DeleteSession) -> Work[bool]:
    return (yield from _delete(op.tenant, op.session_id))


def _delete(tenant: str, session_id: str) -> Work[bool]:
    deleted = yield Statement(base.DELETE_SESSION, (tenant, session_id), "rowcount")
    yield Statement(base.DELETE_MESSAGES, (tenant, [session_id]))
    return bool(deleted)


def _clear_messages(op: ClearMessages) -> Work[Session]:
    row = yield from _locked_live(op.tenant, op.session_id, op.now)
    session = rules.cleared(base.session_from_row(row), op.now)
    yield Statement(base.DELETE_MESSAGES, (op.tenant, [op.session_id]))
    params = base.session_params(session)
    for statement in base.CLEAR_SESSION:
        yield Statement(statement, params)
    return session


def _append_messages(op: AppendMessages) -> Work[list[Message]]:
    rules.check_append(op)
    if not op.messages:
        yield from _locked_live(op.tenant, op.session_id, op.now)
        return []
    last_seq = 0
    for start in range(0, len(op.messages), base.APPEND_CHUNK):
        chunk = op.messages[start : start + base.APPEND_CHUNK]
        row = yield base.append_statement(op.tenant, op.session_id, chunk, op.now)
        if row is None:
            raise NotFoundError(f"no session {op.session_id!r} in tenant {op.tenant!r}")
        last_seq = row["last_seq"]
    return rules.stamp_messages(op.messages, op.session_id, last_seq - len(op.messages))


def _list_messages(op: ListMessages) -> Work[list[Message]]:
    rules.check_list_messages(op)
    if op.last == 0 and op.now is None:
        return []
    sql = base.SELECT_MESSAGES
    params: list[Any] = [op.tenant, op.session_id]
    if op.after_seq is not None:
        sql += base.AFTER_SEQ
        params.append(op.after_seq)
    if op.before_seq is not None:
        sql += base.BEFORE_SEQ
        params.append(op.before_seq)
    if op.roles is not None and tuple(op.roles) == ("system",):
        sql += base.SYSTEM_ONLY
    elif op.roles is not None:
        sql += base.WITH_ROLES
        params.append(list(op.roles))
    if op.last is None:
        rows = yield from _read(op, sql, params, "id", base.ORDER_BY_SEQ)
    else:
        rows = yield from _read(op, sql, params, "id", base.NEWEST_FIRST, limit=op.last)
        rows.reverse()
    return [base.message_from_row(row) for row in rows]


def _read(
    op: ListMessages | FindToolCalls | GetSummary,
    sql: str,
    params: list[Any],
    key: str,
    order: str = "",
    *,
    limit: int | None = None,
) -> Work[list[dict[str, Any]]]:
    """The rows of `sql` in `order` (at most `limit`), a read of the op's session: with the
    op's `now`, only if the session is live then (else `NotFoundError`), checked in the same
    statement (still one round trip). `key` is a column no row of `sql` leaves NULL."""
    bounded = sql + order
    if limit is not None:
        bounded, params = bounded + base.LIMIT, [*params, limit]
    if op.now is None:
        rows: list[dict[str, Any]] = yield Statement(bounded, params, "all")
        return rows
    # The join orders the rows: `sql` needs an order of its own only to pick the limited few.
    inner = sql if limit is None else bounded
    checked = [op.tenant, op.session_id, base.utc(op.now), *params]
    rows = yield Statement(base.if_live(inner, order), checked, "all")
    if not rows:
        raise NotFoundError(f"no session {op.session_id!r} in tenant {op.tenant!r}")
    return [] if rows[0][key] is None else rows


def _find_tool_calls(op: FindToolCalls) -> Work[set[str]]:
    params = [op.tenant, op.session_id, list(op.call_ids)]
    rows = yield from _read(op, base.FIND_TOOL_CALLS, params, "call_id")
    return {row["call_id"] for row in rows}


def _get_summary(op: GetSummary) -> Work[Summary | None]:
    rows = yield from _read(op, base.SELECT_SUMMARY, [op.tenant, op.session_id], "session_id")
    return base.summary_from_row(rows[0]) if rows else None


def _put_summary(op: PutSummary) -> Work[Summary]:
    session_id = op.summary.session_id
    # The session lock serialises summary writers: the check below sees the latest summary.
    row = yield Statement(base.LOCK_SESSION, (op.tenant, session_id), "one")
    if row is None:
        raise NotFoundError(f"no session {session_id!r} in tenant {op.tenant!r}")
    current = yield from _get_summary(GetSummary(op.tenant, session_id))
    through_seq = None if current is None else current.through_seq
    if through_seq != op.expected_through_seq:
        raise ConflictError(
            f"session {session_id!r}: the summary is through seq {through_seq}, "
            f"not {op.expected_through_seq}"
        )
    yield Statement(base.UPSERT_SUMMARY, base.summary_params(op.tenant, op.summary))
    return op.summary


def _merge_state(op: MergeState) -> Work[dict[str, Any]]:
    row = yield from _locked_live(op.tenant, op.session_id, op.now)
    session = base.session_from_row(row)
    state: dict[str, Any] = merge_patch(session.state, op.patch)
    updated = rules.after_merge(session, state, op.now)
    yield Statement(base.UPDATE_STATE, base.session_params(updated))
    return state


def _purge_expired(op: PurgeExpired) -> Work[int]:
    rows = yield Statement(base.PURGE_EXPIRED, (op.tenant, base.utc(op.now)), "all")
    if rows:
        yield Statement(base.DELETE_MESSAGES, (op.tenant, [row["id"] for row in rows]))
    return len(rows)


_HANDLERS: dict[type, Callable[[Any], Work[Any]]] = {
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
"""One generator per op type; each runs inside the batch's transaction."""
