"""SQL, migrations and row encoding of the PostgreSQL stores (pure, no I/O).

Store logic is written once, as generators that yield `Statement`s and receive their results;
`_internal.drive`/`adrive` run them with a sync or an async statement executor, so the sync
and the async classes share every query, every rule and every encoder.

Tables of component `conversation`: `engram_sessions` (one row per session; `last_seq` is the
highest seq ever assigned, and locking this row serialises every writer of the session),
`engram_messages` (keys `(tenant, session_id, seq)` and `(tenant, id)`), `engram_summaries`
and `engram_tool_calls`; deleting a session deletes its messages explicitly and cascades to
the rest.

Tables of component `events`: `engram_event_streams` (one row per stream: its version, and a
`position` from a sequence that orders streams by their latest append), `engram_events` (key
`(tenant, stream_id, version)`: two writers can never both store version N),
`engram_event_appends` (idempotency keys) and `engram_event_snapshots`.

JSON values (content, metadata, state, payloads) are stored as `text`, not `jsonb`: jsonb
cannot hold the character U+0000, which the records allow, and text keeps the bytes exactly as
written. Times are `timestamptz` and come back in UTC. Ids use the "C" collation, so they sort
by code point as in every other backend. Every query is scoped by `tenant`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Generator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NamedTuple, TypeAlias, TypeVar

from engram._exceptions import MigrationRequired
from engram.stores import _sql_rows as rows
from engram.stores._conversation_rules import requested_call_ids
from engram.stores._sql_rows import dumps, message_json
from engram.types import Message, Session, Summary
from engram.types._event import Event, Snapshot, StreamInfo

__all__ = [
    "CONVERSATION",
    "CONVERSATION_MIGRATIONS",
    "EVENTS",
    "EVENT_MIGRATIONS",
    "Migration",
    "Statement",
    "Work",
    "APPEND_CHUNK",
    "ASYNC_COMMIT",
    "append_messages_sql",
    "append_statement",
    "dumps",
    "event_from_row",
    "if_live",
    "message_from_row",
    "migrate",
    "schema_versions",
    "session_from_row",
    "session_params",
    "snapshot_from_row",
    "stream_from_row",
    "summary_from_row",
    "summary_params",
    "utc",
]

T = TypeVar("T")


class Statement(NamedTuple):
    """One SQL statement a store generator asks its driver to run."""

    sql: str
    """The query, with `%s` / `%(name)s` placeholders; values only ever go in `params`."""
    params: Any = None
    """The parameters (a sequence of parameter sets when `many`)."""
    fetch: Literal["none", "one", "all", "rowcount"] = "none"
    """What the generator gets back: nothing, one row (or None), all rows, the row count."""
    many: bool = False
    """Run once per parameter set (`executemany`, pipelined by psycopg)."""
    async_sql: str | None = None
    """The same statement, also calling `set_config('synchronous_commit', 'off', true)`
    (`ASYNC_COMMIT`): sent instead of `sql` by an executor that commits it on its own under
    "normal" durability. Every write that can run as a batch of its own has one."""
    prepare: bool | None = None
    """Prepare it on the server at its first run (True); None: psycopg's default (after
    `prepare_threshold` runs). For a hot read whose planning costs more than its run."""
    binary: bool | None = None
    """Ask for its result in binary format (True): bytea and arrays arrive without the text
    format's hex encoding and parsing. None: the cursor's default (text)."""


ASYNC_COMMIT = "set_config('synchronous_commit', 'off', true) IS NOT NULL"
"""A condition that holds and makes the statement evaluating it commit asynchronously
(`SET LOCAL`'s function form): the `async_sql` of a statement committed on its own."""

Work: TypeAlias = Generator[Statement, Any, T]
"""A store operation: yields statements, receives their results, returns the op's result."""

# Migrations: append-only per component; entry i is schema version i + 1. Never edit one.

Migration: TypeAlias = str | Callable[[], Work[None]]
"""One schema version: a SQL script, or a function whose work rewrites rows (what SQL alone
cannot do: re-compress checkpoint headers); both run in the migration's transaction."""

_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS engram_migrations (
    component text PRIMARY KEY,
    version integer NOT NULL
)
"""
_MIGRATION_LOCK = 0x656E6772616D  # "engram": one advisory lock serialises concurrent migrators

CONVERSATION = "conversation"
CONVERSATION_MIGRATIONS: list[str] = [
    """
CREATE TABLE engram_sessions (
    tenant text COLLATE "C" NOT NULL,
    id text COLLATE "C" NOT NULL,
    user_id text COLLATE "C",
    agent_id text COLLATE "C",
    metadata text NOT NULL,
    state text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    ttl_seconds double precision,
    expires_at timestamptz,
    message_count bigint NOT NULL,
    token_count bigint NOT NULL,
    encoding text NOT NULL,
    last_seq bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX engram_sessions_updated ON engram_sessions (tenant, updated_at DESC, id DESC);
CREATE INDEX engram_sessions_user ON engram_sessions (tenant, user_id, updated_at DESC, id DESC);
CREATE INDEX engram_sessions_agent
    ON engram_sessions (tenant, agent_id, updated_at DESC, id DESC);
CREATE INDEX engram_sessions_expiry ON engram_sessions (tenant, expires_at)
    WHERE expires_at IS NOT NULL;
CREATE TABLE engram_messages (
    tenant text COLLATE "C" NOT NULL,
    session_id text COLLATE "C" NOT NULL,
    seq bigint NOT NULL,
    id text COLLATE "C" NOT NULL,
    role text COLLATE "C" NOT NULL,
    content text NOT NULL,
    name text,
    tool_calls text,
    tool_call_id text,
    metadata text NOT NULL,
    created_at timestamptz NOT NULL,
    tokens bigint,
    encoding text,
    PRIMARY KEY (tenant, session_id, seq),
    FOREIGN KEY (tenant, session_id) REFERENCES engram_sessions (tenant, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX engram_messages_id ON engram_messages (tenant, id);
CREATE INDEX engram_messages_role ON engram_messages (tenant, session_id, role, seq);
CREATE TABLE engram_summaries (
    tenant text COLLATE "C" NOT NULL,
    session_id text COLLATE "C" NOT NULL,
    text text NOT NULL,
    through_seq bigint NOT NULL,
    message_count bigint NOT NULL,
    tokens bigint NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant, session_id),
    FOREIGN KEY (tenant, session_id) REFERENCES engram_sessions (tenant, id) ON DELETE CASCADE
);
CREATE TABLE engram_tool_calls (
    tenant text COLLATE "C" NOT NULL,
    session_id text COLLATE "C" NOT NULL,
    call_id text COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant, session_id, call_id),
    FOREIGN KEY (tenant, session_id) REFERENCES engram_sessions (tenant, id) ON DELETE CASCADE
)
""",
    # An append touches as little as it can (as SQLite's schema v2): messages lose their
    # foreign key (an append inserts them only from the update of their live session row, in
    # the same statement, and deleting a session deletes its messages explicitly); only system
    # messages are indexed by role (what context() looks up across the whole history; other
    # role filters read the newest messages by seq); a user's or agent's sessions are found
    # by index and sorted, instead of indexes on `updated_at` that every append would update.
    """
ALTER TABLE engram_messages DROP CONSTRAINT engram_messages_tenant_session_id_fkey;
DROP INDEX engram_messages_role;
CREATE INDEX engram_messages_system ON engram_messages (tenant, session_id, seq)
    WHERE role = 'system';
DROP INDEX engram_sessions_user;
CREATE INDEX engram_sessions_user ON engram_sessions (tenant, user_id);
DROP INDEX engram_sessions_agent;
CREATE INDEX engram_sessions_agent ON engram_sessions (tenant, agent_id)
""",
    # An append's update of its session row stays a heap-only tuple (HOT) update: no index
    # holds a column an append changes (`updated_at` was in one), so PostgreSQL writes the new
    # row version beside the old one on its page and adds no entry to any of the session
    # indexes (measured: ~35 us less per append). Room on the page is kept for those versions
    # (fillfactor). Listing a whole tenant's sessions newest first sorts them (top-N).
    """
DROP INDEX engram_sessions_updated;
ALTER TABLE engram_sessions SET (fillfactor = 80)
""",
    # The owner indexes hold only sessions that have that owner, so a statement addressing one
    # session (`tenant`, `id`) can use no index but the primary key. While the table was small
    # the planner rated `(tenant, agent_id)` as cheap as the key, and a connection's cached
    # generic plan kept scanning every session of the tenant once the table grew (measured:
    # appends 0.11 ms -> 4.7 ms at 50,000 sessions, until an ANALYZE).
    """
DROP INDEX engram_sessions_user;
CREATE INDEX engram_sessions_user ON engram_sessions (tenant, user_id) WHERE user_id IS NOT NULL;
DROP INDEX engram_sessions_agent;
CREATE INDEX engram_sessions_agent ON engram_sessions (tenant, agent_id)
    WHERE agent_id IS NOT NULL
""",
]

EVENTS = "events"
EVENT_MIGRATIONS: list[str] = [
    """
CREATE SEQUENCE engram_event_positions;
CREATE TABLE engram_event_streams (
    tenant text COLLATE "C" NOT NULL,
    stream_id text COLLATE "C" NOT NULL,
    version bigint NOT NULL,
    position bigint NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant, stream_id)
);
CREATE INDEX engram_event_streams_position ON engram_event_streams (tenant, position DESC);
CREATE TABLE engram_events (
    tenant text COLLATE "C" NOT NULL,
    stream_id text COLLATE "C" NOT NULL,
    version bigint NOT NULL CHECK (version >= 1),
    id text COLLATE "C" NOT NULL,
    type text COLLATE "C" NOT NULL,
    name text,
    payload text NOT NULL,
    metadata text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant, stream_id, version)
);
CREATE UNIQUE INDEX engram_events_id ON engram_events (tenant, id);
CREATE TABLE engram_event_appends (
    tenant text COLLATE "C" NOT NULL,
    stream_id text COLLATE "C" NOT NULL,
    idempotency_key text COLLATE "C" NOT NULL,
    first_version bigint NOT NULL,
    last_version bigint NOT NULL,
    PRIMARY KEY (tenant, stream_id, idempotency_key)
);
CREATE TABLE engram_event_snapshots (
    tenant text COLLATE "C" NOT NULL,
    stream_id text COLLATE "C" NOT NULL,
    name text COLLATE "C" NOT NULL,
    version bigint NOT NULL,
    state text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant, stream_id, name)
)
""",
]


def migrate(component: str, migrations: Sequence[Migration]) -> Work[int]:
    """Apply the not-yet-applied `migrations` of `component`, in order; return the version.

    Idempotent, and safe with several processes migrating at once: a transaction-scoped
    advisory lock lets one migrate while the others wait, then find nothing left to do.
    Raises `MigrationRequired` if the database holds a newer schema than this code knows.
    """
    yield Statement("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
    yield Statement(_MIGRATIONS_TABLE)
    row = yield Statement(
        "SELECT version FROM engram_migrations WHERE component = %s", (component,), "one"
    )
    current = int(row["version"]) if row else 0
    if current > len(migrations):
        raise MigrationRequired(
            f"the {component} schema is at version {current}, newer than this Engram knows "
            f"({len(migrations)}); upgrade engramdb"
        )
    for script in migrations[current:]:
        if isinstance(script, str):
            yield Statement(script)
        else:
            yield from script()
    if current < len(migrations):
        yield Statement(
            "INSERT INTO engram_migrations (component, version) VALUES (%s, %s)"
            " ON CONFLICT (component) DO UPDATE SET version = excluded.version",
            (component, len(migrations)),
        )
    return len(migrations)


def schema_versions() -> Work[dict[str, int] | None]:
    """The version of each component's schema, read without writing (a reader must not
    create the schema `migrate` would); None if the database holds no Engram schema."""
    table = yield Statement(
        "SELECT to_regclass('engram_migrations') IS NOT NULL AS present", (), "one"
    )
    if not table["present"]:
        return None
    rows = yield Statement("SELECT component, version FROM engram_migrations", (), "all")
    return {str(row["component"]): int(row["version"]) for row in rows}


# Conversations: sessions.

SESSION_COLUMNS = (
    "tenant, id, user_id, agent_id, metadata, state, created_at, updated_at, ttl_seconds,"
    " expires_at, message_count, token_count, encoding, last_seq"
)
SELECT_SESSION = f"SELECT {SESSION_COLUMNS} FROM engram_sessions WHERE tenant = %s AND id = %s"
LOCK_SESSION = SELECT_SESSION + " FOR UPDATE"
"""Reads a session and locks its row: every writer of the session queues here."""
INSERT_SESSION = (
    f"INSERT INTO engram_sessions ({SESSION_COLUMNS}) VALUES (%(tenant)s, %(id)s, %(user_id)s,"
    " %(agent_id)s, %(metadata)s, %(state)s, %(created_at)s, %(updated_at)s, %(ttl_seconds)s,"
    " %(expires_at)s, %(message_count)s, %(token_count)s, %(encoding)s, 0)"
)
LIST_SESSIONS = (
    f"SELECT {SESSION_COLUMNS} FROM engram_sessions WHERE tenant = %(tenant)s"
    " AND (expires_at IS NULL OR expires_at > %(now)s)"
)
LIST_SESSIONS_BY_USER = " AND user_id = %(user_id)s"
LIST_SESSIONS_BY_AGENT = " AND agent_id = %(agent_id)s"
LIST_SESSIONS_PAGE = " ORDER BY updated_at DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s"
TOUCH_SESSION = "UPDATE engram_sessions SET expires_at = %s WHERE tenant = %s AND id = %s"
TOUCH_SESSION_ALONE = TOUCH_SESSION + f" AND {ASYNC_COMMIT}"
"""`TOUCH_SESSION` committed on its own (its `async_sql`)."""
UPDATE_STATE = (
    "UPDATE engram_sessions SET state = %(state)s, updated_at = %(updated_at)s,"
    " expires_at = %(expires_at)s WHERE tenant = %(tenant)s AND id = %(id)s"
)
DELETE_SESSION = "DELETE FROM engram_sessions WHERE tenant = %s AND id = %s"
"""Cascades to the session's summary and tool calls; `DELETE_MESSAGES` must follow."""
DELETE_MESSAGES = "DELETE FROM engram_messages WHERE tenant = %s AND session_id = ANY(%s::text[])"
"""Deletes the messages of sessions just deleted: a statement of its own, after the session
rows', so its snapshot holds every message an append committed before their deletion (an
append waits on its session's row, and finds none after the deletion)."""
CLEAR_SESSION = (
    "DELETE FROM engram_summaries WHERE tenant = %(tenant)s AND session_id = %(id)s",
    "DELETE FROM engram_tool_calls WHERE tenant = %(tenant)s AND session_id = %(id)s",
    "UPDATE engram_sessions SET message_count = 0, token_count = 0, last_seq = 0,"
    " updated_at = %(updated_at)s, expires_at = %(expires_at)s"
    " WHERE tenant = %(tenant)s AND id = %(id)s",
)
"""After `DELETE_MESSAGES`: delete the rest of a session's content and reset its counters,
keeping its row (`ClearMessages`; the parameters of `session_params`)."""
PURGE_EXPIRED = (
    "DELETE FROM engram_sessions WHERE tenant = %s AND expires_at IS NOT NULL AND expires_at <= %s"
    " RETURNING id"
)

# Conversations: messages, tool calls, summaries.

MESSAGE_COLUMNS = (
    "session_id, seq, id, role, content, name, tool_calls, tool_call_id, metadata, created_at,"
    " tokens, encoding"
)
_APPEND_ROW = (
    "(%(n{i})s::bigint, %(id{i})s, %(role{i})s, %(content{i})s, %(name{i})s::text,"
    " %(tool_calls{i})s::text, %(tool_call_id{i})s::text, %(metadata{i})s,"
    " %(created_at{i})s::timestamptz, %(tokens{i})s::bigint, %(encoding{i})s::text)"
)


APPEND_CHUNK = 100
"""The most messages one append statement carries; longer appends run one per chunk, in the
same transaction (the parameters of one statement stay far below PostgreSQL's 65,535)."""


@functools.lru_cache(maxsize=256)
def append_messages_sql(count: int, calls: int, async_commit: bool = False) -> str:
    """The statement that appends `count` messages requesting `calls` tool calls in all to a
    live session, in one.

    The session row's update (counters, `last_seq`, expiry extended on use) locks it, so the
    appends of one session queue there and number their messages on from the `last_seq` the
    previous one committed; the messages and the tool calls they request are inserted from
    its result (`VALUES` rows: no array parameters to encode), so nothing is written unless
    the session is live. Returns the new `last_seq`, or no row if there is no such live
    session. With `async_commit`, the statement also turns `synchronous_commit` off for
    itself (`ASYNC_COMMIT`). One text per shape, so each is prepared once by the server."""
    rows = ", ".join(_APPEND_ROW.format(i=i) for i in range(count))
    sql = (
        "WITH session AS (UPDATE engram_sessions SET message_count = message_count + %(count)s,"
        " token_count = token_count + %(tokens)s, updated_at = %(now)s,"
        " last_seq = last_seq + %(count)s, expires_at = CASE WHEN ttl_seconds IS NULL"
        " THEN expires_at ELSE %(now)s + make_interval(secs => ttl_seconds) END"
        " WHERE tenant = %(tenant)s AND id = %(id)s"
        " AND (expires_at IS NULL OR expires_at > %(now)s)"
        f" AND {ASYNC_COMMIT if async_commit else 'true'} RETURNING last_seq),"
        f" appended AS (INSERT INTO engram_messages (tenant, {MESSAGE_COLUMNS})"
        " SELECT %(tenant)s, %(id)s, session.last_seq - %(count)s + m.n, m.id, m.role,"
        " m.content, m.name, m.tool_calls, m.tool_call_id, m.metadata, m.created_at, m.tokens,"
        f" m.encoding FROM session, (VALUES {rows}) AS m(n, id, role, content, name,"
        " tool_calls, tool_call_id, metadata, created_at, tokens, encoding))"
    )
    if calls:
        call_rows = ", ".join(f"(%(call{i})s)" for i in range(calls))
        sql += (
            ", requested AS (INSERT INTO engram_tool_calls (tenant, session_id, call_id)"
            f" SELECT %(tenant)s, %(id)s, c.call_id FROM session, (VALUES {call_rows})"
            " AS c(call_id) ON CONFLICT DO NOTHING)"
        )
    return sql + " SELECT last_seq FROM session"


SELECT_MESSAGES = (
    f"SELECT {MESSAGE_COLUMNS} FROM engram_messages WHERE tenant = %s AND session_id = %s"
)
AFTER_SEQ = " AND seq > %s"
BEFORE_SEQ = " AND seq < %s"
WITH_ROLES = " AND role = ANY(%s::text[])"
SYSTEM_ONLY = " AND role = 'system'"
"""System messages alone are asked for with the literal the `engram_messages_system` partial
index is defined by, so a long session's few system messages are read from it."""
ORDER_BY_SEQ = " ORDER BY seq"
NEWEST_FIRST = " ORDER BY seq DESC"
LIMIT = " LIMIT %s"
FIND_TOOL_CALLS = (
    "SELECT call_id FROM engram_tool_calls WHERE tenant = %s AND session_id = %s"
    " AND call_id = ANY(%s::text[])"
)
SUMMARY_COLUMNS = "session_id, text, through_seq, message_count, tokens, updated_at"
SELECT_SUMMARY = (
    f"SELECT {SUMMARY_COLUMNS} FROM engram_summaries WHERE tenant = %s AND session_id = %s"
)
UPSERT_SUMMARY = (
    f"INSERT INTO engram_summaries (tenant, {SUMMARY_COLUMNS}) VALUES (%(tenant)s,"
    " %(session_id)s, %(text)s, %(through_seq)s, %(message_count)s, %(tokens)s, %(updated_at)s)"
    " ON CONFLICT (tenant, session_id) DO UPDATE SET text = excluded.text,"
    " through_seq = excluded.through_seq, message_count = excluded.message_count,"
    " tokens = excluded.tokens, updated_at = excluded.updated_at"
)

_LIVE_SESSION = (
    "SELECT FROM engram_sessions WHERE tenant = %s AND id = %s"
    " AND (expires_at IS NULL OR expires_at > %s)"
)


def if_live(sql: str, order: str = "") -> str:
    """`sql`, a read of one session's rows, made one statement with the check that the session
    is live (its parameters: tenant, session id, now, then `sql`'s). Its rows: none if the
    session is absent or expired; one of NULLs if it is live and `sql` finds nothing; else
    `sql`'s, in `order` (an `ORDER BY` over its columns: a join keeps no order by itself)."""
    return (
        f"SELECT found.* FROM ({_LIVE_SESSION}) AS live"
        f" LEFT JOIN LATERAL ({sql}) AS found ON true{order}"
    )


# Events.

EVENT_COLUMNS = "id, stream_id, version, type, name, payload, metadata, created_at"
STREAM_COLUMNS = "tenant, stream_id, version, created_at, updated_at"
LOCK_STREAM = """
INSERT INTO engram_event_streams AS s (tenant, stream_id, version, position, created_at,
    updated_at)
VALUES (%(tenant)s, %(stream_id)s, 0, 0, %(now)s, %(now)s)
ON CONFLICT (tenant, stream_id) DO UPDATE SET version = s.version
RETURNING version
"""
"""Creates the stream row if needed and locks it: appends to one stream queue here, so the
version an append checks is the version it writes after (READ COMMITTED re-reads it)."""
UPDATE_STREAM = (
    "UPDATE engram_event_streams SET version = %(version)s,"
    " position = nextval('engram_event_positions'), updated_at = %(now)s"
    " WHERE tenant = %(tenant)s AND stream_id = %(stream_id)s"
)
INSERT_EVENT = (
    "INSERT INTO engram_events (tenant, stream_id, version, id, type, name, payload, metadata,"
    " created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
SELECT_APPEND = (
    "SELECT first_version, last_version FROM engram_event_appends"
    " WHERE tenant = %s AND stream_id = %s AND idempotency_key = %s"
)
INSERT_APPEND = (
    "INSERT INTO engram_event_appends (tenant, stream_id, idempotency_key, first_version,"
    " last_version) VALUES (%s, %s, %s, %s, %s)"
)
SELECT_EVENTS = (
    f"SELECT {EVENT_COLUMNS} FROM engram_events"
    " WHERE tenant = %s AND stream_id = %s AND version >= %s"
)
EVENTS_TO_VERSION = " AND version <= %s"
EVENTS_OF_TYPES = " AND type = ANY(%s::text[])"
EVENTS_IN_ORDER = " ORDER BY version"
EVENTS_LIMIT = " LIMIT %s"
SELECT_STREAM = (
    f"SELECT {STREAM_COLUMNS} FROM engram_event_streams"
    " WHERE tenant = %s AND stream_id = %s AND version > 0"
)
LIST_STREAMS = f"SELECT {STREAM_COLUMNS} FROM engram_event_streams WHERE tenant = %s"
STREAMS_WITH_PREFIX = " AND starts_with(stream_id, %s)"
STREAMS_PAGE = " ORDER BY position DESC LIMIT %s OFFSET %s"
DELETE_STREAM = [
    "DELETE FROM engram_events WHERE tenant = %s AND stream_id = %s",
    "DELETE FROM engram_event_appends WHERE tenant = %s AND stream_id = %s",
    "DELETE FROM engram_event_snapshots WHERE tenant = %s AND stream_id = %s",
    "DELETE FROM engram_event_streams WHERE tenant = %s AND stream_id = %s",
]
"""The stream row goes last; its row count says whether the stream existed."""
UPSERT_SNAPSHOT = """
INSERT INTO engram_event_snapshots AS s (tenant, stream_id, name, version, state, created_at)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (tenant, stream_id, name) DO UPDATE SET
    version = excluded.version, state = excluded.state, created_at = excluded.created_at
WHERE excluded.version > s.version
"""
SELECT_SNAPSHOT = (
    "SELECT stream_id, name, version, state, created_at FROM engram_event_snapshots"
    " WHERE tenant = %s AND stream_id = %s AND name = %s"
)

# Encoding.

_ZERO = timedelta(0)


def utc(moment: datetime) -> datetime:
    """`moment` in UTC (a naive datetime is taken as UTC, as in every backend)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


def _optional_utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else utc(moment)


def session_params(session: Session) -> dict[str, Any]:
    """The named parameters of `INSERT_SESSION` and the session updates."""
    return {
        "tenant": session.tenant,
        "id": session.id,
        "user_id": session.user_id,
        "agent_id": session.agent_id,
        "metadata": dumps(dict(session.metadata)),
        "state": dumps(dict(session.state)),
        "created_at": utc(session.created_at),
        "updated_at": utc(session.updated_at),
        "ttl_seconds": session.ttl_seconds,
        "expires_at": _optional_utc(session.expires_at),
        "message_count": session.message_count,
        "token_count": session.token_count,
        "encoding": session.encoding,
    }


def session_from_row(row: dict[str, Any]) -> Session:
    """A `Session` from a row of `SESSION_COLUMNS`."""
    return Session(
        id=row["id"],
        tenant=row["tenant"],
        user_id=row["user_id"],
        agent_id=row["agent_id"],
        metadata=json.loads(row["metadata"]),
        state=json.loads(row["state"]),
        created_at=utc(row["created_at"]),
        updated_at=utc(row["updated_at"]),
        ttl_seconds=row["ttl_seconds"],
        expires_at=_optional_utc(row["expires_at"]),
        message_count=row["message_count"],
        token_count=row["token_count"],
        encoding=row["encoding"],
    )


def append_statement(
    tenant: str, session_id: str, messages: Sequence[Message], now: datetime
) -> Statement:
    """The statement appending `messages` to a live session at `now` (see
    `append_messages_sql`; content and tool calls in OpenAI form), fetching its one row."""
    params: dict[str, Any] = {
        "tenant": tenant,
        "id": session_id,
        "now": utc(now),
        "count": len(messages),
        "tokens": sum(message.tokens or 0 for message in messages),
    }
    for i, message in enumerate(messages):
        content, tool_calls, metadata = message_json(message)
        params |= {
            f"n{i}": i + 1,
            f"id{i}": message.id,
            f"role{i}": message.role,
            f"content{i}": content,
            f"name{i}": message.name,
            f"tool_calls{i}": tool_calls,
            f"tool_call_id{i}": message.tool_call_id,
            f"metadata{i}": metadata,
            f"created_at{i}": utc(message.created_at),
            f"tokens{i}": message.tokens,
            f"encoding{i}": message.encoding,
        }
    calls = requested_call_ids(messages)
    params |= {f"call{i}": call_id for i, call_id in enumerate(calls)}
    shape = (len(messages), len(calls))
    return Statement(
        append_messages_sql(*shape), params, "one", async_sql=append_messages_sql(*shape, True)
    )


def message_from_row(row: dict[str, Any]) -> Message:
    """A `Message` from a row of `MESSAGE_COLUMNS`."""
    return rows.message_from_row(row, utc(row["created_at"]))


def summary_params(tenant: str, summary: Summary) -> dict[str, Any]:
    """The named parameters of `UPSERT_SUMMARY`."""
    return {
        "tenant": tenant,
        "session_id": summary.session_id,
        "text": summary.text,
        "through_seq": summary.through_seq,
        "message_count": summary.message_count,
        "tokens": summary.tokens,
        "updated_at": utc(summary.updated_at),
    }


def summary_from_row(row: dict[str, Any]) -> Summary:
    """A `Summary` from a row of `SUMMARY_COLUMNS`."""
    return Summary(
        session_id=row["session_id"],
        text=row["text"],
        through_seq=row["through_seq"],
        message_count=row["message_count"],
        tokens=row["tokens"],
        updated_at=utc(row["updated_at"]),
    )


def event_from_row(row: dict[str, Any]) -> Event:
    """An `Event` from a row of `EVENT_COLUMNS`."""
    payload, metadata = row["payload"], row["metadata"]
    return Event(
        type=row["type"],
        payload={} if payload == "{}" else json.loads(payload),
        name=row["name"],
        metadata={} if metadata == "{}" else json.loads(metadata),
        id=row["id"],
        created_at=utc(row["created_at"]),
        stream_id=row["stream_id"],
        version=int(row["version"]),
    )


def stream_from_row(row: dict[str, Any]) -> StreamInfo:
    """A `StreamInfo` from a row of `STREAM_COLUMNS`."""
    return StreamInfo(
        stream_id=row["stream_id"],
        tenant=row["tenant"],
        version=int(row["version"]),
        created_at=utc(row["created_at"]),
        updated_at=utc(row["updated_at"]),
    )


def snapshot_from_row(row: dict[str, Any]) -> Snapshot:
    """A `Snapshot` from a row of `SELECT_SNAPSHOT`."""
    return Snapshot(
        stream_id=row["stream_id"],
        version=int(row["version"]),
        state=json.loads(row["state"]),
        name=row["name"],
        created_at=utc(row["created_at"]),
    )
