"""The PostgreSQL event log (sync); the async twin is in `aio.py`.

Concurrency is enforced by the database. An append first upserts its stream's row
(`INSERT ... ON CONFLICT DO UPDATE ... RETURNING version`), which creates and row-locks it:
appends to one stream queue there, from any number of processes, and each checks
`expected_version` against the version the previous append committed. Behind that lock the
primary key `(tenant, stream_id, version)` still makes a second version N impossible, and the
unique index on `(tenant, id)` rejects a reused event id; both surface as `ConflictError`. An
idempotency key is a row keyed by `(tenant, stream_id, key)`, written in the same transaction
as the events it names.

Every op is a generator over the statements of `base.py` (`event_work`), shared with
`AsyncPostgresEventLog`; validation and stamping come from `engram.stores._event_rules`. A
batch that writes is one transaction; one of reads sends its statements alone where that
reads the same (`event_mode`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from engram._exceptions import ConflictError, InvalidInputError
from engram.stores import _event_rules as rules
from engram.stores.events import (
    AppendEvents,
    BaseEventLog,
    DeleteStream,
    GetSnapshot,
    GetStream,
    ListStreams,
    Op,
    PutSnapshot,
    ReadEvents,
)
from engram.stores.postgres import base
from engram.stores.postgres._internal import BatchMode, Conn, Durability, Target, connect
from engram.stores.postgres.base import Statement, Work
from engram.types._conversation import utcnow
from engram.types._event import AppendResult, Event, Snapshot, StreamInfo

__all__ = ["PostgresEventLog", "duplicate_ids_named", "event_mode", "event_work"]


class PostgresEventLog(BaseEventLog):
    """Event streams in PostgreSQL, over a psycopg connection or connection pool.

    The constructor applies the `events` migrations (idempotent; `migrate=False` skips
    them). It never closes an injected connection or pool; `from_conn_string` opens and
    closes its own. `abatch` runs the batch on a worker thread; for real async I/O use
    `AsyncPostgresEventLog`.

    Args:
        conn: A psycopg `Connection` (autocommit) or a psycopg_pool `ConnectionPool`.
        migrate: Apply the schema migrations now.
        durability: `"normal"` (default: asynchronous commit, may lose the last writes on a
            server crash) or `"full"` (the server's synchronous commit); see
            `engram.stores.postgres._internal`.

    Raises:
        MigrationRequired: The database holds a newer event-log schema than this code.
        ConfigError: `durability` is neither `"normal"` nor `"full"`.

    Example:
        ```python
        with PostgresEventLog.from_conn_string("postgresql://localhost/app") as log:
            log.append("default", "task-1", [Event.thought("plan")], expected_version=0)
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
    ) -> Iterator[PostgresEventLog]:
        """Open a log on its own connection (autocommit), closed when the block exits.

        Args:
            conninfo: A libpq connection string or URL.
            durability: `"normal"` or `"full"`; see `engram.stores.postgres._internal`.
        """
        with connect(conninfo, durability) as conn:
            yield cls(conn, durability=durability)

    def migrate(self) -> int:
        """Create or upgrade the event-log tables (idempotent); return the schema version."""
        return self._target.run(base.migrate(base.EVENTS, base.EVENT_MIGRATIONS))

    def batch(self, ops: Sequence[Op]) -> list[Any]:
        """Run `ops` in order, atomically (see `event_mode`); return their results in order."""
        for op in ops:
            rules.check_op(op)
        if not ops:
            return []
        running: list[Op] = []
        mode, work = event_mode(ops), event_work(ops, running)
        with duplicate_ids_named(running):
            return self._target.run_batch(mode, work)

    async def abatch(self, ops: Sequence[Op]) -> list[Any]:
        """Async `batch` on a worker thread (this class's I/O is blocking)."""
        return await asyncio.to_thread(self.batch, ops)


_READS = (ReadEvents, GetStream, ListStreams, GetSnapshot)
"""The ops that read in one statement and never write."""


def event_mode(ops: Sequence[Op]) -> BatchMode:
    """How a batch runs, atomically and reading what one transaction would: `"read"`, one
    read (one statement, one snapshot) on its own: no `BEGIN`/`COMMIT`, whatever the
    isolation level; `"reads"`, several reads, each statement on its own where transactions
    are READ COMMITTED, else in one transaction (`Target.run_reads`); `"transaction"`, a
    batch that writes."""
    if not all(isinstance(op, _READS) for op in ops):
        return "transaction"
    return "read" if len(ops) == 1 else "reads"


def event_work(ops: Sequence[Op], running: list[Op] | None = None) -> Work[list[Any]]:
    """The statements of a batch of validated ops, in order; returns their results. Each op
    is appended to `running` as its statements start (`duplicate_ids_named` reads it)."""
    results: list[Any] = []
    for op in ops:
        if running is not None:
            running.append(op)
        results.append((yield from _run(op)))
    return results


@contextmanager
def duplicate_ids_named(running: Sequence[Op]) -> Iterator[None]:
    """Re-raise the unique index's refusal of a reused event id (`engram_events_id`) as
    every backend words it (`rules.duplicate_event_id`), not as the database's message."""
    try:
        yield
    except ConflictError as exc:
        diag = getattr(exc.__cause__, "diag", None)  # the psycopg error's diagnostics
        constraint = getattr(diag, "constraint_name", None)
        if constraint == "engram_events_id" and running and isinstance(running[-1], AppendEvents):
            raise rules.duplicate_event_id(running[-1]) from exc.__cause__
        raise


def _run(op: Op) -> Work[Any]:
    match op:
        case AppendEvents():
            return (yield from _append(op))
        case ReadEvents():
            return (yield from _read(op))
        case GetStream():
            return (yield from _get_stream(op.tenant, op.stream_id))
        case ListStreams():
            return (yield from _list_streams(op))
        case DeleteStream():
            return (yield from _delete_stream(op))
        case PutSnapshot():
            return (yield from _put_snapshot(op))
        case GetSnapshot():
            return (yield from _get_snapshot(op))
    raise InvalidInputError(f"unsupported operation: {type(op).__name__}")


def _append(op: AppendEvents) -> Work[AppendResult]:
    now = utcnow()
    key = {"tenant": op.tenant, "stream_id": op.stream_id, "now": now}
    row = yield Statement(base.LOCK_STREAM, key, "one")
    current = int(row["version"])
    if op.idempotency_key is not None:
        applied = yield from _applied(op)
        if applied is not None:
            return applied
    rules.check_expected(op, current)
    stamped = rules.stamp(op.events, op.stream_id, current)
    rows = [_event_params(op.tenant, item) for item in stamped]
    yield Statement(base.INSERT_EVENT, rows, many=True)
    last = current + len(stamped)
    yield Statement(base.UPDATE_STREAM, key | {"version": last})
    if op.idempotency_key is not None:
        params = (op.tenant, op.stream_id, op.idempotency_key, current + 1, last)
        yield Statement(base.INSERT_APPEND, params)
    return AppendResult(op.stream_id, tuple(item.load() for item in stamped))


def _event_params(tenant: str, item: rules.Stamped) -> tuple[Any, ...]:
    event = item.event
    return (
        tenant,
        event.stream_id,
        event.version,
        event.id,
        event.type,
        event.name,
        item.payload,
        item.metadata,
        event.created_at,
    )


def _applied(op: AppendEvents) -> Work[AppendResult | None]:
    params = (op.tenant, op.stream_id, op.idempotency_key)
    row = yield Statement(base.SELECT_APPEND, params, "one")
    if row is None:
        return None
    first, last = int(row["first_version"]), int(row["last_version"])
    events = yield from _read(ReadEvents(op.tenant, op.stream_id, first, last))
    rules.check_same_append(op, events)
    return AppendResult(op.stream_id, tuple(events), duplicate=True)


def _read(op: ReadEvents) -> Work[list[Event]]:
    sql = base.SELECT_EVENTS
    params: list[Any] = [op.tenant, op.stream_id, op.from_version]
    if op.to_version is not None:
        sql += base.EVENTS_TO_VERSION
        params.append(op.to_version)
    if op.types is not None:
        sql += base.EVENTS_OF_TYPES
        params.append(list(op.types))
    sql += base.EVENTS_IN_ORDER
    if op.limit is not None:
        sql += base.EVENTS_LIMIT
        params.append(op.limit)
    rows = yield Statement(sql, params, "all")
    return [base.event_from_row(row) for row in rows]


def _get_stream(tenant: str, stream_id: str) -> Work[StreamInfo | None]:
    row = yield Statement(base.SELECT_STREAM, (tenant, stream_id), "one")
    return None if row is None else base.stream_from_row(row)


def _list_streams(op: ListStreams) -> Work[list[StreamInfo]]:
    sql = base.LIST_STREAMS
    params: list[Any] = [op.tenant]
    if op.prefix:
        sql += base.STREAMS_WITH_PREFIX
        params.append(op.prefix)
    rows = yield Statement(sql + base.STREAMS_PAGE, [*params, op.limit, op.offset], "all")
    return [base.stream_from_row(row) for row in rows]


def _delete_stream(op: DeleteStream) -> Work[bool]:
    deleted = 0
    for statement in base.DELETE_STREAM:
        deleted = yield Statement(statement, (op.tenant, op.stream_id), "rowcount")
    return bool(deleted)


def _put_snapshot(op: PutSnapshot) -> Work[Snapshot]:
    snapshot = op.snapshot
    stream = yield from _get_stream(op.tenant, snapshot.stream_id)
    rules.check_snapshot(snapshot, None if stream is None else stream.version)
    state = rules.to_json(snapshot.state, "snapshot state")
    params = (
        op.tenant,
        snapshot.stream_id,
        snapshot.name,
        snapshot.version,
        state,
        base.utc(snapshot.created_at),
    )
    yield Statement(base.UPSERT_SNAPSHOT, params)
    stored = yield from _get_snapshot(GetSnapshot(op.tenant, snapshot.stream_id, snapshot.name))
    assert stored is not None  # written or kept just above, in this transaction
    return stored


def _get_snapshot(op: GetSnapshot) -> Work[Snapshot | None]:
    row = yield Statement(base.SELECT_SNAPSHOT, (op.tenant, op.stream_id, op.name), "one")
    if row is None or (op.max_version is not None and row["version"] > op.max_version):
        return None
    return base.snapshot_from_row(row)
