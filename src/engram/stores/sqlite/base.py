"""SQL, migrations and row encoding of the SQLite conversation store (pure, no I/O).

Tables (component `conversation`):

- `sessions`: one row per session; `metadata`/`state` are JSON text; `last_seq` is the highest
  seq ever assigned in the session.
- `messages`: one row per message; `content` (a string or a list of OpenAI content parts),
  `tool_calls` and `metadata` are JSON text. Keys: `(tenant, session_id, seq)` and
  `(tenant, id)`, both unique; `(tenant, session_id, role, seq)` serves role filters.
- `summaries`: the running summary of a session.
- `tool_calls`: the ids of the tool calls requested by a session's assistant messages.

Times are ISO-8601 UTC text with a fixed format (`2025-01-31T09:30:00.000000+00:00`), so text
order is time order. Every query is scoped by `tenant`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from engram.stores import _sql_rows as rows
from engram.stores._sql_rows import dumps, message_json
from engram.types import Message, Session, Summary

__all__ = [
    "AFTER_SEQ",
    "APPEND_TO_SESSION",
    "CLEAR_SESSION",
    "BEFORE_SEQ",
    "COMPONENT",
    "DELETE_SESSION",
    "EXTEND_EXPIRY",
    "FIND_TOOL_CALLS",
    "INSERT_MESSAGE",
    "INSERT_SESSION",
    "INSERT_TOOL_CALL",
    "LIST_SESSIONS",
    "LIST_SESSIONS_BY_AGENT",
    "LIST_SESSIONS_BY_USER",
    "LIST_SESSIONS_PAGE",
    "MERGE_STATE",
    "MESSAGE_COLUMNS",
    "MIGRATIONS",
    "NEWEST_FIRST",
    "ORDER_BY_SEQ",
    "PURGE_EXPIRED",
    "SELECT_MESSAGES",
    "SELECT_SESSION",
    "SELECT_SUMMARY",
    "SESSION_COLUMNS",
    "SUMMARY_COLUMNS",
    "TOUCH_SESSION",
    "UPSERT_SUMMARY",
    "dumps",
    "message_from_row",
    "message_row",
    "roles_condition",
    "session_from_row",
    "session_row",
    "summary_from_row",
    "summary_row",
    "time_from_text",
    "time_to_text",
]

COMPONENT = "conversation"
"""The name the migrations are recorded under in `engram_migrations`."""

# Append-only: entry i is schema version i + 1. Never edit an entry; add one.
MIGRATIONS: list[str] = [
    """
CREATE TABLE sessions (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    user_id TEXT,
    agent_id TEXT,
    metadata TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    ttl_seconds REAL,
    expires_at TEXT,
    message_count INTEGER NOT NULL,
    token_count INTEGER NOT NULL,
    encoding TEXT NOT NULL,
    last_seq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX sessions_updated ON sessions (tenant, updated_at);
CREATE INDEX sessions_user ON sessions (tenant, user_id, updated_at);
CREATE INDEX sessions_agent ON sessions (tenant, agent_id, updated_at);
CREATE INDEX sessions_expiry ON sessions (tenant, expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE messages (
    tenant TEXT NOT NULL,
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    id TEXT NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    name TEXT,
    tool_calls TEXT,
    tool_call_id TEXT,
    metadata TEXT NOT NULL,
    created_at TEXT NOT NULL,
    tokens INTEGER,
    encoding TEXT
);
CREATE UNIQUE INDEX messages_seq ON messages (tenant, session_id, seq);
CREATE UNIQUE INDEX messages_id ON messages (tenant, id);
CREATE INDEX messages_role ON messages (tenant, session_id, role, seq);
CREATE TABLE summaries (
    tenant TEXT NOT NULL,
    session_id TEXT NOT NULL,
    text TEXT NOT NULL,
    through_seq INTEGER NOT NULL,
    message_count INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant, session_id)
);
CREATE TABLE tool_calls (
    tenant TEXT NOT NULL,
    session_id TEXT NOT NULL,
    call_id TEXT NOT NULL,
    PRIMARY KEY (tenant, session_id, call_id)
) WITHOUT ROWID;
""",
    # An append touches as few b-trees as it can: only system messages are indexed by role
    # (what context() looks up across the whole history; other role filters read the newest
    # messages by seq), and listing a user's or agent's sessions sorts them instead of an
    # index that every append would have to move.
    """
DROP INDEX messages_role;
CREATE INDEX messages_system ON messages (tenant, session_id, seq) WHERE role = 'system';
DROP INDEX sessions_user;
CREATE INDEX sessions_user ON sessions (tenant, user_id);
DROP INDEX sessions_agent;
CREATE INDEX sessions_agent ON sessions (tenant, agent_id);
""",
    # No index holds `updated_at`, which every append changes: moving its entry cost each
    # append one more b-tree page to write to the WAL at commit. Listing a whole tenant's
    # sessions newest first sorts them.
    """
DROP INDEX sessions_updated;
""",
]

# Sessions.

SESSION_COLUMNS = (
    "tenant, id, user_id, agent_id, metadata, state, created_at, updated_at, ttl_seconds,"
    " expires_at, message_count, token_count, encoding, last_seq"
)
INSERT_SESSION = (
    f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (:tenant, :id, :user_id, :agent_id,"
    " :metadata, :state, :created_at, :updated_at, :ttl_seconds, :expires_at, :message_count,"
    " :token_count, :encoding, 0)"
)
SELECT_SESSION = f"SELECT {SESSION_COLUMNS} FROM sessions WHERE tenant = ? AND id = ?"
_LIVE = "(expires_at IS NULL OR expires_at > :now)"
"""The condition a live session meets at `:now`."""
LIST_SESSIONS = f"SELECT {SESSION_COLUMNS} FROM sessions WHERE tenant = :tenant AND {_LIVE}"
LIST_SESSIONS_BY_USER = " AND user_id = :user_id"
LIST_SESSIONS_BY_AGENT = " AND agent_id = :agent_id"
LIST_SESSIONS_PAGE = " ORDER BY updated_at DESC, id DESC LIMIT :limit OFFSET :offset"
TOUCH_SESSION = "UPDATE sessions SET expires_at = ? WHERE tenant = ? AND id = ?"
APPEND_TO_SESSION = (
    "UPDATE sessions SET message_count = message_count + :count,"
    " token_count = token_count + :tokens, updated_at = :now, last_seq = last_seq + :count"
    f" WHERE tenant = :tenant AND id = :id AND {_LIVE} RETURNING last_seq, ttl_seconds"
)
"""Count an append into its live session and take its seqs: the new `last_seq` (no row: no
such live session). Expiry is left alone, and so is its index; `EXTEND_EXPIRY` extends it."""
EXTEND_EXPIRY = "UPDATE sessions SET expires_at = :expires_at WHERE tenant = :tenant AND id = :id"
MERGE_STATE = (
    "UPDATE sessions SET state = json_patch(state, :patch), updated_at = :updated_at,"
    " expires_at = :expires_at WHERE tenant = :tenant AND id = :id RETURNING state"
)

# Deleting a session deletes what belongs to it: children first, the session row last.

DELETE_SESSION = [
    "DELETE FROM messages WHERE tenant = :tenant AND session_id = :id",
    "DELETE FROM summaries WHERE tenant = :tenant AND session_id = :id",
    "DELETE FROM tool_calls WHERE tenant = :tenant AND session_id = :id",
    "DELETE FROM sessions WHERE tenant = :tenant AND id = :id",
]
CLEAR_SESSION = [
    *DELETE_SESSION[:-1],
    "UPDATE sessions SET message_count = 0, token_count = 0, last_seq = 0,"
    " updated_at = :updated_at, expires_at = :expires_at WHERE tenant = :tenant AND id = :id",
]
"""Delete what belongs to a session and reset its counters, keeping the session row."""
_EXPIRED_IDS = (
    "SELECT id FROM sessions WHERE tenant = :tenant"
    " AND expires_at IS NOT NULL AND expires_at <= :now"
)
PURGE_EXPIRED = [
    f"DELETE FROM messages WHERE tenant = :tenant AND session_id IN ({_EXPIRED_IDS})",
    f"DELETE FROM summaries WHERE tenant = :tenant AND session_id IN ({_EXPIRED_IDS})",
    f"DELETE FROM tool_calls WHERE tenant = :tenant AND session_id IN ({_EXPIRED_IDS})",
    "DELETE FROM sessions WHERE tenant = :tenant AND expires_at IS NOT NULL AND expires_at <= :now",
]
"""The session row is deleted last; its rowcount is the number of sessions purged."""

# Messages.

MESSAGE_COLUMNS = (
    "tenant, session_id, seq, id, role, content, name, tool_calls, tool_call_id, metadata,"
    " created_at, tokens, encoding"
)
INSERT_MESSAGE = (
    f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES (:tenant, :session_id, :seq, :id, :role,"
    " :content, :name, :tool_calls, :tool_call_id, :metadata, :created_at, :tokens, :encoding)"
)
SELECT_MESSAGES = f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE tenant = ? AND session_id = ?"
AFTER_SEQ = " AND seq > ?"
BEFORE_SEQ = " AND seq < ?"
ORDER_BY_SEQ = " ORDER BY seq"
NEWEST_FIRST = " ORDER BY seq DESC LIMIT ?"
INSERT_TOOL_CALL = "INSERT OR IGNORE INTO tool_calls (tenant, session_id, call_id) VALUES (?, ?, ?)"
FIND_TOOL_CALLS = (
    "SELECT call_id FROM tool_calls WHERE tenant = ? AND session_id = ?"
    " AND call_id IN (SELECT value FROM json_each(?))"
)

# Summaries.

SUMMARY_COLUMNS = "tenant, session_id, text, through_seq, message_count, tokens, updated_at"
SELECT_SUMMARY = f"SELECT {SUMMARY_COLUMNS} FROM summaries WHERE tenant = ? AND session_id = ?"
UPSERT_SUMMARY = (
    f"INSERT INTO summaries ({SUMMARY_COLUMNS}) VALUES (:tenant, :session_id, :text,"
    " :through_seq, :message_count, :tokens, :updated_at) ON CONFLICT (tenant, session_id)"
    " DO UPDATE SET text = excluded.text, through_seq = excluded.through_seq,"
    " message_count = excluded.message_count, tokens = excluded.tokens,"
    " updated_at = excluded.updated_at"
)


def roles_condition(roles: Sequence[str]) -> tuple[str, list[str]]:
    """The condition selecting `roles`, and its parameters.

    System messages alone are asked for with the literal the `messages_system` partial index
    is defined by (SQLite uses a partial index only for a matching literal), so fetching the
    few system messages of a long session reads only those.
    """
    if tuple(roles) == ("system",):
        return " AND role = 'system'", []
    return f" AND role IN ({', '.join('?' * len(roles))})", list(roles)


def time_to_text(moment: datetime) -> str:
    """A datetime as fixed-format UTC text (a naive datetime is taken as UTC)."""
    if moment.tzinfo is not UTC:  # Engram's own times are UTC already
        aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        moment = aware.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")


def time_from_text(text: str) -> datetime:
    """Inverse of `time_to_text`."""
    return datetime.fromisoformat(text)


def _optional_time(text: str | None) -> datetime | None:
    return None if text is None else time_from_text(text)


def _optional_text(moment: datetime | None) -> str | None:
    return None if moment is None else time_to_text(moment)


def session_row(session: Session) -> dict[str, Any]:
    """The named parameters of `INSERT_SESSION`."""
    return {
        "tenant": session.tenant,
        "id": session.id,
        "user_id": session.user_id,
        "agent_id": session.agent_id,
        "metadata": dumps(dict(session.metadata)),
        "state": dumps(dict(session.state)),
        "created_at": time_to_text(session.created_at),
        "updated_at": time_to_text(session.updated_at),
        "ttl_seconds": session.ttl_seconds,
        "expires_at": _optional_text(session.expires_at),
        "message_count": session.message_count,
        "token_count": session.token_count,
        "encoding": session.encoding,
    }


def session_from_row(row: sqlite3.Row) -> Session:
    """A `Session` from a row of `SESSION_COLUMNS`."""
    return Session(
        id=row["id"],
        tenant=row["tenant"],
        user_id=row["user_id"],
        agent_id=row["agent_id"],
        metadata=json.loads(row["metadata"]),
        state=json.loads(row["state"]),
        created_at=time_from_text(row["created_at"]),
        updated_at=time_from_text(row["updated_at"]),
        ttl_seconds=row["ttl_seconds"],
        expires_at=_optional_time(row["expires_at"]),
        message_count=row["message_count"],
        token_count=row["token_count"],
        encoding=row["encoding"],
    )


def message_row(tenant: str, message: Message) -> dict[str, Any]:
    """The named parameters of `INSERT_MESSAGE` (content and tool calls in OpenAI form)."""
    content, tool_calls, metadata = message_json(message)
    return {
        "tenant": tenant,
        "session_id": message.session_id,
        "seq": message.seq,
        "id": message.id,
        "role": message.role,
        "content": content,
        "name": message.name,
        "tool_calls": tool_calls,
        "tool_call_id": message.tool_call_id,
        "metadata": metadata,
        "created_at": time_to_text(message.created_at),
        "tokens": message.tokens,
        "encoding": message.encoding,
    }


def message_from_row(row: sqlite3.Row) -> Message:
    """A `Message` from a row of `MESSAGE_COLUMNS`."""
    return rows.message_from_row(row, datetime.fromisoformat(row["created_at"]))


def summary_row(tenant: str, summary: Summary) -> dict[str, Any]:
    """The named parameters of `UPSERT_SUMMARY`."""
    return {
        "tenant": tenant,
        "session_id": summary.session_id,
        "text": summary.text,
        "through_seq": summary.through_seq,
        "message_count": summary.message_count,
        "tokens": summary.tokens,
        "updated_at": time_to_text(summary.updated_at),
    }


def summary_from_row(row: sqlite3.Row) -> Summary:
    """A `Summary` from a row of `SUMMARY_COLUMNS`."""
    return Summary(
        session_id=row["session_id"],
        text=row["text"],
        through_seq=row["through_seq"],
        message_count=row["message_count"],
        tokens=row["tokens"],
        updated_at=time_from_text(row["updated_at"]),
    )
