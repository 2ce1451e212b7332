"""The backend-neutral rules of the conversation contract, written once (pure, no I/O).

Every conversation backend applies the same rules for expiry, counters and sequence numbers;
they live here so the in-memory reference and the SQL backends cannot drift apart.

Expiry: a session with `expires_at` is live while `now < expires_at`; at `expires_at` it is
expired. Using a session (appending, merging state, `touch`) moves `expires_at` to
`now + ttl_seconds`. An expired session is gone for every op that carries a clock: reads of
its messages, summary or tool calls raise `NotFoundError` as writes do, even before
`PurgeExpired` deletes it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from engram import _validation as validation
from engram._exceptions import ConflictError, InvalidInputError
from engram.stores._memory_rules import check_page
from engram.stores.conversation import (
    AppendMessages,
    CreateSession,
    ListMessages,
    ListSessions,
    MergeState,
    Op,
)
from engram.types import Message, Session
from engram.types._copy import copy_record

__all__ = [
    "MAX_TTL_SECONDS",
    "after_append",
    "after_merge",
    "check_append",
    "check_list_messages",
    "check_list_sessions",
    "check_batch",
    "check_ttl",
    "cleared",
    "is_live",
    "requested_call_ids",
    "session_to_create",
    "stamp_messages",
    "touched",
]


MAX_TTL_SECONDS = 100 * 366 * 24 * 3600
"""The longest lifetime a session may be given (about a century): `now + ttl` must remain a
time every backend stores. A session meant to outlive that has no TTL (None)."""


def check_ttl(ttl_seconds: object) -> float | None:
    """A session lifetime: None (never expires) or a finite number of seconds in
    `(0, MAX_TTL_SECONDS]`. Zero is refused rather than read as "never" or "at once": both
    have been meant by it, and None already says "never"."""
    if ttl_seconds is None:
        return None
    if (
        isinstance(ttl_seconds, bool)
        or not isinstance(ttl_seconds, int | float)
        or not math.isfinite(ttl_seconds)
        or not 0 < ttl_seconds <= MAX_TTL_SECONDS
    ):
        raise InvalidInputError(
            f"ttl_seconds must be a number of seconds > 0 (at most {MAX_TTL_SECONDS:,}, about"
            f" a century), or None to never expire; got {ttl_seconds!r}"
        )
    return ttl_seconds


def is_live(expires_at: datetime | None, now: datetime) -> bool:
    """Whether a session expiring at `expires_at` is still live at `now`."""
    return expires_at is None or now < expires_at


def session_to_create(session: Session) -> Session:
    """The session as a backend stores it on creation.

    It holds no messages yet, so its counters start at zero; an expiring session without an
    explicit `expires_at` expires `ttl_seconds` after its `updated_at`. `InvalidInputError`
    if `ttl_seconds` is not a valid lifetime (`check_ttl`).
    """
    check_ttl(session.ttl_seconds)
    expires_at = session.expires_at
    if expires_at is None and session.ttl_seconds is not None:
        expires_at = session.updated_at + timedelta(seconds=session.ttl_seconds)
    return replace(session, message_count=0, token_count=0, expires_at=expires_at)


def touched(session: Session, now: datetime) -> Session:
    """The session after a use at `now`: an expiring session's expiry moves to `now + ttl`."""
    if session.ttl_seconds is None:
        return session
    return replace(session, expires_at=now + timedelta(seconds=session.ttl_seconds))


def stamp_messages(messages: Iterable[Message], session_id: str, last_seq: int) -> list[Message]:
    """The messages as stored: in the session, numbered on from `last_seq`."""
    return [
        copy_record(message, session_id=session_id, seq=last_seq + offset)
        for offset, message in enumerate(messages, start=1)
    ]


def after_append(session: Session, stored: Sequence[Message], now: datetime) -> Session:
    """The session after `stored` were appended at `now` (a token count of None counts 0)."""
    appended = replace(
        session,
        message_count=session.message_count + len(stored),
        token_count=session.token_count + sum(message.tokens or 0 for message in stored),
        updated_at=now,
    )
    return touched(appended, now)


def cleared(session: Session, now: datetime) -> Session:
    """The session after its messages were cleared at `now` (`ClearMessages`)."""
    return touched(replace(session, message_count=0, token_count=0, updated_at=now), now)


def after_merge(session: Session, state: Mapping[str, Any], now: datetime) -> Session:
    """The session after its state became `state` at `now`."""
    return touched(replace(session, state=state, updated_at=now), now)


def requested_call_ids(messages: Iterable[Message]) -> list[str]:
    """The ids of the tool calls the assistant messages among `messages` request."""
    return [
        call.id
        for message in messages
        if message.role == "assistant"
        for call in message.tool_calls
    ]


def check_append(op: AppendMessages) -> None:
    """Reject an append whose messages repeat an id among themselves."""
    ids = [message.id for message in op.messages]
    if len(set(ids)) != len(ids):
        raise ConflictError(f"session {op.session_id!r}: the appended messages repeat an id")


def check_list_messages(op: ListMessages) -> None:
    """Reject a `last` that is not an integer from 0 to 2**63-1 (what every backend's
    integer columns hold: a larger one is refused alike everywhere, not read as "all")."""
    last = op.last
    if last is not None and (isinstance(last, bool) or not isinstance(last, int) or last < 0):
        raise InvalidInputError(f"last must be an integer >= 0, not {last!r}")
    if last is not None and last > validation.INT64_MAX:
        raise InvalidInputError(f"last={last} is too large: at most 2**63-1")


def check_list_sessions(op: ListSessions) -> None:
    """Reject a `limit` not from 0 to `MAX_LIMIT`, an `offset` not from 0 to 2**63-1
    (integers, as the memory store's pages), and a `user_id` or `agent_id` filter that is not
    an identifier (a blank one would find nothing on one backend and fail on another)."""
    check_page(op.limit, op.offset)
    for name in ("user_id", "agent_id"):
        if (value := getattr(op, name)) is not None:
            validation.check_identifier(value, name)


def check_batch(ops: Iterable[Op]) -> None:
    """Refuse a batch, before any backend writes, with an op whose tenant, or new session's
    tenant, id, user or agent, is not an identifier (`check_identifier`: no blank tenant is
    everyone's), or whose metadata or state holds a NUL character (`check_no_nul`:
    PostgreSQL could not keep it in a JSON column, so no backend keeps it)."""
    for op in ops:
        if isinstance(op, CreateSession):
            validation.check_identifier(op.session.tenant, "tenant")
            validation.check_identifier(op.session.id, "session id")
            for name in ("user_id", "agent_id"):
                if (value := getattr(op.session, name)) is not None:
                    validation.check_identifier(value, f"session {name}")
        _check_no_nul(op)
    validation.check_tenants(ops)


def _check_no_nul(op: Op) -> None:
    """Refuse `op` if the metadata or state it writes holds a NUL character."""
    if isinstance(op, CreateSession):
        validation.check_no_nul(op.session.metadata, "session metadata")
        validation.check_no_nul(op.session.state, "session state")
    elif isinstance(op, AppendMessages):
        for message in op.messages:
            if message.metadata:
                validation.check_no_nul(message.metadata, "message metadata")
    elif isinstance(op, MergeState):
        validation.check_no_nul(op.patch, "state patch")
