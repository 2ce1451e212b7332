"""The storage contract for conversations: sessions, messages, running summaries, state.

A backend implements two methods, `batch(ops)` and `abatch(ops)`, over the typed operations
below; every convenience method (`get_session`, `append_messages`, ...) is written once here.
Every operation carries its tenant, and backends must scope every query by it: a session of
another tenant does not exist.

A batch runs its operations in order and atomically: if one fails, none of the batch's writes
remain. Results come back in the order of the operations.

Example:
    ```python
    store = InMemoryConversationStore()
    store.create_session(Session(id="s1", user_id="u1"))
    store.append_messages("default", "s1", [Message(role="user", content="hi")])
    store.list_messages("default", "s1", last=20)
    ```
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from engram.types import Message, Session, Summary

__all__ = [
    "AppendMessages",
    "BaseConversationStore",
    "ClearMessages",
    "CreateSession",
    "DeleteSession",
    "FindToolCalls",
    "GetSession",
    "GetSummary",
    "ListMessages",
    "ListSessions",
    "MergeState",
    "Op",
    "PurgeExpired",
    "PutSummary",
]


class CreateSession(NamedTuple):
    """Create a session. Result: the stored `Session`. `ConflictError` if the id is taken
    (an expired session with that id is replaced).

    The stored session has no messages yet (its counters are zero); one with `ttl_seconds`
    and no `expires_at` expires `ttl_seconds` after its `updated_at`. Expiry of the existing
    session is judged at the new session's `created_at` (the op carries no other clock)."""

    session: Session


class GetSession(NamedTuple):
    """Read a session. Result: `Session`, or None if absent or expired.

    With `touch`, an expiring session's `expires_at` moves to `now + ttl` (extend on use)."""

    tenant: str
    session_id: str
    now: datetime
    touch: bool = False


class ListSessions(NamedTuple):
    """List live sessions, most recently updated first (ties: by id, descending).
    Result: `list[Session]`. `InvalidInputError` if `limit` or `offset` is negative."""

    tenant: str
    now: datetime
    user_id: str | None = None
    agent_id: str | None = None
    limit: int = 100
    offset: int = 0


class DeleteSession(NamedTuple):
    """Delete a session with its messages, summary and state. Result: True if it existed."""

    tenant: str
    session_id: str


class ClearMessages(NamedTuple):
    """Delete a live session's messages and running summary (with the record of its tool
    calls), keeping the session: its id, owner, metadata, state, TTL and `created_at`.

    Its counters go back to zero and the next append's seqs start again at 1. Like an append,
    it sets `updated_at` to `now` and extends the expiry. Result: the cleared `Session`.
    `NotFoundError` if the session is absent or expired."""

    tenant: str
    session_id: str
    now: datetime


class AppendMessages(NamedTuple):
    """Append messages to a live session, assigning each its `seq` and `session_id`.

    Updates the session's `message_count`, `token_count` and `updated_at` and extends its
    expiry. Result: the stored messages. `NotFoundError` if the session is absent or expired;
    `ConflictError` if a message id already exists in the tenant."""

    tenant: str
    session_id: str
    messages: tuple[Message, ...]
    now: datetime


class ListMessages(NamedTuple):
    """Read a session's messages in `seq` order. Result: `list[Message]`.

    With `now` (every read made for a caller), `NotFoundError` if the session is absent or
    expired at `now`, as for a write: an expired session's content is gone even before it is
    purged. Without it (raw, unchecked reads: tools and tests), an absent session has no
    messages and expiry is not checked.

    `last=N` returns the newest N of the matching messages (still in ascending order);
    `after_seq`/`before_seq` bound the range (exclusive); `roles` filters by role.
    `InvalidInputError` if `last` is negative."""

    tenant: str
    session_id: str
    last: int | None = None
    after_seq: int | None = None
    before_seq: int | None = None
    roles: tuple[str, ...] | None = None
    now: datetime | None = None


class FindToolCalls(NamedTuple):
    """Which of these tool-call ids were requested by an assistant message of the session.
    Result: `set[str]`. `now` as for `ListMessages` (without it, an absent session requested
    none)."""

    tenant: str
    session_id: str
    call_ids: tuple[str, ...]
    now: datetime | None = None


class GetSummary(NamedTuple):
    """Read a session's running summary. Result: `Summary` or None. `now` as for
    `ListMessages` (without it, an absent session has no summary)."""

    tenant: str
    session_id: str
    now: datetime | None = None


class PutSummary(NamedTuple):
    """Store a session's running summary. Result: the `Summary`.

    Optimistic: `ConflictError` unless the stored summary's `through_seq` equals
    `expected_through_seq` (None: no summary stored yet), so two writers never fold the same
    messages twice. `NotFoundError` if the session is absent."""

    tenant: str
    summary: Summary
    expected_through_seq: int | None


class MergeState(NamedTuple):
    """Apply a JSON merge patch (RFC 7396: nested objects merge, null deletes) to a session's
    state, atomically. Result: the new state.

    Like an append, it sets `updated_at` to `now` and extends the expiry. `NotFoundError` if
    the session is absent or expired."""

    tenant: str
    session_id: str
    patch: Mapping[str, Any]
    now: datetime


class PurgeExpired(NamedTuple):
    """Delete every session of the tenant that expired before `now`. Result: how many."""

    tenant: str
    now: datetime


Op = (
    CreateSession
    | GetSession
    | ListSessions
    | DeleteSession
    | ClearMessages
    | AppendMessages
    | ListMessages
    | FindToolCalls
    | GetSummary
    | PutSummary
    | MergeState
    | PurgeExpired
)


class BaseConversationStore(ABC):
    """Stores sessions, messages, running summaries and session state, per tenant."""

    @abstractmethod
    def batch(self, ops: Sequence[Op]) -> list[Any]:
        """Run `ops` in order, atomically; return their results in order."""

    @abstractmethod
    async def abatch(self, ops: Sequence[Op]) -> list[Any]:
        """Async `batch`."""

    def close(self) -> None:  # noqa: B027 - an optional hook, not an abstract method
        """Release what the store opened itself (not injected connections)."""

    # Convenience methods: one op each.

    def create_session(self, session: Session) -> Session:
        result: Session = self.batch([CreateSession(session)])[0]
        return result

    async def acreate_session(self, session: Session) -> Session:
        result: Session = (await self.abatch([CreateSession(session)]))[0]
        return result

    def get_session(
        self, tenant: str, session_id: str, *, now: datetime, touch: bool = False
    ) -> Session | None:
        result: Session | None = self.batch([GetSession(tenant, session_id, now, touch)])[0]
        return result

    async def aget_session(
        self, tenant: str, session_id: str, *, now: datetime, touch: bool = False
    ) -> Session | None:
        op = GetSession(tenant, session_id, now, touch)
        result: Session | None = (await self.abatch([op]))[0]
        return result

    def list_sessions(self, op: ListSessions) -> list[Session]:
        result: list[Session] = self.batch([op])[0]
        return result

    async def alist_sessions(self, op: ListSessions) -> list[Session]:
        result: list[Session] = (await self.abatch([op]))[0]
        return result

    def delete_session(self, tenant: str, session_id: str) -> bool:
        return bool(self.batch([DeleteSession(tenant, session_id)])[0])

    async def adelete_session(self, tenant: str, session_id: str) -> bool:
        return bool((await self.abatch([DeleteSession(tenant, session_id)]))[0])

    def clear_messages(self, tenant: str, session_id: str, *, now: datetime) -> Session:
        result: Session = self.batch([ClearMessages(tenant, session_id, now)])[0]
        return result

    async def aclear_messages(self, tenant: str, session_id: str, *, now: datetime) -> Session:
        result: Session = (await self.abatch([ClearMessages(tenant, session_id, now)]))[0]
        return result

    def list_messages(self, op: ListMessages) -> list[Message]:
        result: list[Message] = self.batch([op])[0]
        return result

    async def alist_messages(self, op: ListMessages) -> list[Message]:
        result: list[Message] = (await self.abatch([op]))[0]
        return result

    def get_summary(
        self, tenant: str, session_id: str, *, now: datetime | None = None
    ) -> Summary | None:
        result: Summary | None = self.batch([GetSummary(tenant, session_id, now)])[0]
        return result

    async def aget_summary(
        self, tenant: str, session_id: str, *, now: datetime | None = None
    ) -> Summary | None:
        result: Summary | None = (await self.abatch([GetSummary(tenant, session_id, now)]))[0]
        return result

    def purge_expired(self, tenant: str, *, now: datetime) -> int:
        return int(self.batch([PurgeExpired(tenant, now)])[0])

    async def apurge_expired(self, tenant: str, *, now: datetime) -> int:
        return int((await self.abatch([PurgeExpired(tenant, now)]))[0])
