"""The SQLite event log: streams, events, idempotency keys and snapshots in one file.

Concurrency is enforced by the schema, not by the code alone: an event's key is
`(tenant, stream_id, version)`, so two writers (threads or processes) can never both store
version N of a stream; the loser's insert fails and surfaces as `ConflictError`. Writes run in
`BEGIN IMMEDIATE` transactions, so the version a writer checks is the version it appends to.
An idempotency key is a row keyed by `(tenant, stream_id, key)`, written in the same
transaction as the events it names: an append and its key commit together or not at all.

`abatch` runs the batch in a worker thread: the stdlib driver blocks, and the connection's
lock serialises the batches of all threads (as `aiosqlite` would, on one thread).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from engram._exceptions import ConflictError, InvalidInputError
from engram.stores import _event_rules as rules
from engram.stores.events import (
    READ_OPS,
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
from engram.stores.sqlite._internal import Durability, SqliteConnection, map_backend_errors
from engram.types._conversation import utcnow
from engram.types._event import AppendResult, Event, Snapshot, StreamInfo

__all__ = ["MIGRATIONS", "SqliteEventLog"]

COMPONENT = "events"

MIGRATIONS = [
    """
CREATE TABLE engram_event_streams (
    tenant TEXT NOT NULL,
    stream_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    position INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant, stream_id)
);
CREATE INDEX engram_event_streams_position ON engram_event_streams (tenant, position);
CREATE TABLE engram_events (
    tenant TEXT NOT NULL,
    stream_id TEXT NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 1),
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    name TEXT,
    payload TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant, stream_id, version)
);
CREATE UNIQUE INDEX engram_events_id ON engram_events (tenant, id);
CREATE TABLE engram_event_appends (
    tenant TEXT NOT NULL,
    stream_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    first_version INTEGER NOT NULL,
    last_version INTEGER NOT NULL,
    PRIMARY KEY (tenant, stream_id, idempotency_key)
);
CREATE TABLE engram_event_snapshots (
    tenant TEXT NOT NULL,
    stream_id TEXT NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant, stream_id, name)
)
""",
]

_EVENT_COLUMNS = "id, stream_id, version, type, name, payload, metadata, created_at"
_STREAM_COLUMNS = "tenant, stream_id, version, created_at, updated_at"
_INSERT_EVENT = (
    "INSERT INTO engram_events (tenant, stream_id, version, id, type, name, payload, metadata,"
    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPSERT_STREAM = """
INSERT INTO engram_event_streams (tenant, stream_id, version, position, created_at, updated_at)
VALUES (?, ?, ?,
    (SELECT coalesce(max(position), 0) + 1 FROM engram_event_streams WHERE tenant = ?), ?, ?)
ON CONFLICT (tenant, stream_id) DO UPDATE SET
    version = excluded.version, position = excluded.position, updated_at = excluded.updated_at
"""
_UPSERT_SNAPSHOT = """
INSERT INTO engram_event_snapshots (tenant, stream_id, name, version, state, created_at)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (tenant, stream_id, name) DO UPDATE SET
    version = excluded.version, state = excluded.state, created_at = excluded.created_at
WHERE excluded.version > engram_event_snapshots.version
"""


class SqliteEventLog(BaseEventLog):
    """Event streams in a SQLite file, shared through a `SqliteConnection`.

    It never closes an injected connection; `from_path` opens and closes its own.

    Args:
        conn: The connection to use; may be shared with Engram's other SQLite stores.

    Raises:
        MigrationRequired: The file holds a newer event-log schema than this code knows.

    Example:
        ```python
        with SqliteEventLog.from_path("agent.db") as log:
            log.append("default", "task-1", [Event.thought("plan")], expected_version=0)
        ```
    """

    def __init__(self, conn: SqliteConnection) -> None:
        self.conn = conn
        conn.migrate(COMPONENT, MIGRATIONS)

    @classmethod
    @contextmanager
    def from_path(
        cls, path: str | Path, *, durability: Durability = "normal"
    ) -> Iterator[SqliteEventLog]:
        """Open a log on its own connection to `path`, closed when the block exits.

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
        for op in ops:
            rules.check_op(op)
        with self._transaction(all(isinstance(op, READ_OPS) for op in ops)) as db:
            results = [self._run(db, op) for op in ops]
        if any(isinstance(op, DeleteStream) for op in ops):
            self.conn.wipe_log()  # erased text leaves the -wal file too
        return results

    async def abatch(self, ops: Sequence[Op]) -> list[Any]:
        """Async `batch` (runs it in a worker thread; see the module docstring)."""
        return await asyncio.to_thread(self.batch, ops)

    @contextmanager
    def _transaction(self, read_only: bool) -> Iterator[sqlite3.Connection]:
        if not read_only:
            with self.conn.transaction() as db:
                yield db
            return
        # Reads take no write lock: a deferred transaction sees one consistent WAL snapshot.
        with self.conn.lock, map_backend_errors():
            db = self.conn.conn
            db.execute("BEGIN")
            try:
                yield db
            finally:
                db.execute("COMMIT")

    def _run(self, db: sqlite3.Connection, op: Op) -> Any:
        match op:
            case AppendEvents():
                return _append(db, op)
            case ReadEvents():
                return _read(db, op)
            case GetStream():
                return _get_stream(db, op.tenant, op.stream_id)
            case ListStreams():
                return _list_streams(db, op)
            case DeleteStream():
                return _delete_stream(db, op)
            case PutSnapshot():
                return _put_snapshot(db, op)
            case GetSnapshot():
                return _get_snapshot(db, op)
        raise InvalidInputError(f"unsupported operation: {type(op).__name__}")


def _append(db: sqlite3.Connection, op: AppendEvents) -> AppendResult:
    if op.idempotency_key is not None:
        applied = _applied(db, op)
        if applied is not None:
            return applied
    row = db.execute(
        "SELECT max(version) AS version FROM engram_events WHERE tenant = ? AND stream_id = ?",
        (op.tenant, op.stream_id),
    ).fetchone()
    current = int(row["version"] or 0)
    rules.check_expected(op, current)
    stamped = rules.stamp(op.events, op.stream_id, current)
    try:
        db.executemany(_INSERT_EVENT, [_event_row(op.tenant, item) for item in stamped])
    except sqlite3.IntegrityError as exc:
        # The id index catches a reused id; the primary key settles a race for a version.
        if "engram_events.id" in str(exc):
            raise rules.duplicate_event_id(op) from exc
        raise ConflictError(f"stream {op.stream_id!r}: version {current + 1} is taken") from exc
    now = utcnow().isoformat()
    last = current + len(stamped)
    db.execute(_UPSERT_STREAM, (op.tenant, op.stream_id, last, op.tenant, now, now))
    if op.idempotency_key is not None:
        db.execute(
            "INSERT INTO engram_event_appends (tenant, stream_id, idempotency_key,"
            " first_version, last_version) VALUES (?, ?, ?, ?, ?)",
            (op.tenant, op.stream_id, op.idempotency_key, current + 1, last),
        )
    return AppendResult(op.stream_id, tuple(item.load() for item in stamped))


def _event_row(tenant: str, item: rules.Stamped) -> tuple[Any, ...]:
    event = item.event
    created = event.created_at.isoformat()
    return (
        tenant,
        event.stream_id,
        event.version,
        event.id,
        event.type,
        event.name,
        item.payload,
        item.metadata,
        created,
    )


def _applied(db: sqlite3.Connection, op: AppendEvents) -> AppendResult | None:
    row = db.execute(
        "SELECT first_version, last_version FROM engram_event_appends"
        " WHERE tenant = ? AND stream_id = ? AND idempotency_key = ?",
        (op.tenant, op.stream_id, op.idempotency_key),
    ).fetchone()
    if row is None:
        return None
    first, last = int(row["first_version"]), int(row["last_version"])
    events = _read(db, ReadEvents(op.tenant, op.stream_id, first, last))
    rules.check_same_append(op, events)
    return AppendResult(op.stream_id, tuple(events), duplicate=True)


def _read(db: sqlite3.Connection, op: ReadEvents) -> list[Event]:
    sql = f"SELECT {_EVENT_COLUMNS} FROM engram_events"
    sql += " WHERE tenant = ? AND stream_id = ? AND version >= ?"
    params: list[Any] = [op.tenant, op.stream_id, op.from_version]
    if op.to_version is not None:
        sql += " AND version <= ?"
        params.append(op.to_version)
    if op.types is not None:
        sql += f" AND type IN ({', '.join('?' for _ in op.types)})"
        params.extend(op.types)
    sql += " ORDER BY version"
    if op.limit is not None:
        sql += " LIMIT ?"
        params.append(op.limit)
    return [_event(row) for row in db.execute(sql, params)]


def _event(row: sqlite3.Row) -> Event:
    return Event(
        type=row["type"],
        payload=rules.from_json(row["payload"]),
        name=row["name"],
        metadata=rules.from_json(row["metadata"]),
        id=row["id"],
        created_at=datetime.fromisoformat(row["created_at"]),
        stream_id=row["stream_id"],
        version=int(row["version"]),
    )


def _get_stream(db: sqlite3.Connection, tenant: str, stream_id: str) -> StreamInfo | None:
    row = db.execute(
        f"SELECT {_STREAM_COLUMNS} FROM engram_event_streams WHERE tenant = ? AND stream_id = ?",
        (tenant, stream_id),
    ).fetchone()
    return None if row is None else _stream(row)


def _stream(row: sqlite3.Row) -> StreamInfo:
    return StreamInfo(
        stream_id=row["stream_id"],
        tenant=row["tenant"],
        version=int(row["version"]),
        created_at=datetime.fromisoformat(row["created_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
    )


def _list_streams(db: sqlite3.Connection, op: ListStreams) -> list[StreamInfo]:
    sql = f"SELECT {_STREAM_COLUMNS} FROM engram_event_streams WHERE tenant = ?"
    params: list[Any] = [op.tenant]
    if op.prefix:
        # substr() instead of LIKE: stream ids may contain % and _.
        sql += " AND substr(stream_id, 1, ?) = ?"
        params += [len(op.prefix), op.prefix]
    sql += " ORDER BY position DESC LIMIT ? OFFSET ?"
    params += [op.limit, op.offset]
    return [_stream(row) for row in db.execute(sql, params)]


def _delete_stream(db: sqlite3.Connection, op: DeleteStream) -> bool:
    key = (op.tenant, op.stream_id)
    where = " WHERE tenant = ? AND stream_id = ?"
    for table in ("engram_events", "engram_event_appends", "engram_event_snapshots"):
        db.execute(f"DELETE FROM {table}{where}", key)
    return db.execute(f"DELETE FROM engram_event_streams{where}", key).rowcount > 0


def _put_snapshot(db: sqlite3.Connection, op: PutSnapshot) -> Snapshot:
    snapshot = op.snapshot
    stream = _get_stream(db, op.tenant, snapshot.stream_id)
    rules.check_snapshot(snapshot, None if stream is None else stream.version)
    state = rules.to_json(snapshot.state, "snapshot state")
    created = rules.utc_time(snapshot.created_at).isoformat()
    db.execute(
        _UPSERT_SNAPSHOT,
        (op.tenant, snapshot.stream_id, snapshot.name, snapshot.version, state, created),
    )
    stored = _get_snapshot(db, GetSnapshot(op.tenant, snapshot.stream_id, snapshot.name))
    assert stored is not None  # written or kept just above, in this transaction
    return stored


def _get_snapshot(db: sqlite3.Connection, op: GetSnapshot) -> Snapshot | None:
    row = db.execute(
        "SELECT stream_id, name, version, state, created_at FROM engram_event_snapshots"
        " WHERE tenant = ? AND stream_id = ? AND name = ?",
        (op.tenant, op.stream_id, op.name),
    ).fetchone()
    if row is None or (op.max_version is not None and row["version"] > op.max_version):
        return None
    return Snapshot(
        stream_id=row["stream_id"],
        version=int(row["version"]),
        state=rules.from_json(row["state"]),
        name=row["name"],
        created_at=datetime.fromisoformat(row["created_at"]),
    )
