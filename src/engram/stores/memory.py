"""The in-memory conversation store: the executable reference of the contract.

It keeps everything in process memory, behind one lock. It is the default in examples, the
fast backend of unit tests and the first target of the conformance suite
(`engram.testing.conversation`). Records are copied on the way in and out, so callers mutating
what they passed or got back never change what is stored (as with a database).

Atomicity: every write of a batch records how to undo itself in a journal; if an op raises,
the journal is replayed newest first, so a failed batch leaves no trace.
"""

from __future__ import annotations

import bisect
import json
import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from engram._exceptions import ConflictError, InvalidInputError, NotFoundError
from engram.stores import _conversation_rules as rules
from engram.stores._memory_rules import check_utf8
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
from engram.types import ContentPart, Message, Session, Summary

__all__ = ["InMemoryConversationStore"]

_Key = tuple[str, str]
"""(tenant, session id)."""


# Records are frozen; only their JSON-like mappings (metadata, state, part payloads) are
# mutable, so copying those detaches a record from the caller (much cheaper than deepcopy).


def _copy_json(value: Any) -> Any:
    """A detached copy of a JSON-like value, refused (`InvalidInputError`) where the SQL
    stores could not keep it: values that are not JSON, NaN or infinity, text that is not
    valid UTF-8 (a lone surrogate), keys that are not text (a number key comes back as text,
    as from a JSON column)."""
    if isinstance(value, str):
        check_utf8(value)
        return value
    if isinstance(value, bool | int | None):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError(f"{value} is not a JSON number")
        return value
    if isinstance(value, Mapping):
        return {_json_key(key): _copy_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_copy_json(item) for item in value]
    raise InvalidInputError(f"{type(value).__name__} {value!r} is not JSON-serialisable")


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        check_utf8(key)
        return key
    if isinstance(key, bool | int | float) or key is None:
        return json.dumps(key)
    raise InvalidInputError(f"a JSON object key must be text, not {key!r}")


def _copy_part(part: ContentPart) -> ContentPart:
    if part.payload is None and not part.extra:
        return part
    payload = None if part.payload is None else _copy_json(part.payload)
    return replace(part, payload=payload, extra=_copy_json(part.extra))


def _copy_message(message: Message) -> Message:
    content = message.content
    if not isinstance(content, str):
        content = tuple(_copy_part(part) for part in content)
    return replace(message, content=content, metadata=_copy_json(message.metadata))


def _copy_messages(messages: Iterable[Message]) -> list[Message]:
    return [_copy_message(message) for message in messages]


def _copy_session(session: Session) -> Session:
    return replace(session, metadata=_copy_json(session.metadata), state=_copy_json(session.state))


@dataclass(slots=True)
class _Entry:
    """One stored session with everything that belongs to it."""

    session: Session
    messages: list[Message] = field(default_factory=list)
    summary: Summary | None = None
    call_ids: set[str] = field(default_factory=set)
    last_seq: int = 0
    """The highest seq ever assigned in the session."""


class _Journal:
    """Undo actions of the running batch."""

    def __init__(self) -> None:
        self._actions: list[Callable[[], None]] = []

    def record(self, undo: Callable[[], None]) -> None:
        self._actions.append(undo)

    def rollback(self) -> None:
        for undo in reversed(self._actions):
            undo()


class InMemoryConversationStore(BaseConversationStore):
    """Conversations in process memory; nothing survives the process.

    Thread-safe: batches run one at a time. `abatch` runs the batch directly (there is no I/O
    to wait for).

    Example:
        ```python
        store = InMemoryConversationStore()
        store.create_session(Session(id="s1"))
        ```
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._sessions: dict[_Key, _Entry] = {}
        self._message_ids: set[_Key] = set()
        """(tenant, message id) of every stored message."""

    def batch(self, ops: Sequence[Op]) -> list[Any]:
        """Run `ops` in order, atomically; return their results in order."""
        rules.check_batch(ops)
        with self._lock:
            journal = _Journal()
            try:
                return [self._run(op, journal) for op in ops]
            except BaseException:
                journal.rollback()
                raise

    async def abatch(self, ops: Sequence[Op]) -> list[Any]:
        """Async `batch` (runs it directly: nothing to await)."""
        return self.batch(ops)

    def _run(self, op: Op, journal: _Journal) -> Any:
        match op:
            case CreateSession():
                return self._create_session(op, journal)
            case GetSession():
                return self._get_session(op, journal)
            case ListSessions():
                return self._list_sessions(op)
            case DeleteSession():
                return self._delete_session(op, journal)
            case ClearMessages():
                return self._clear_messages(op, journal)
            case AppendMessages():
                return self._append_messages(op, journal)
            case ListMessages():
                return self._list_messages(op)
            case FindToolCalls():
                return self._find_tool_calls(op)
            case GetSummary():
                return self._get_summary(op)
            case PutSummary():
                return self._put_summary(op, journal)
            case MergeState():
                return self._merge_state(op, journal)
            case PurgeExpired():
                return self._purge_expired(op, journal)
        raise InvalidInputError(f"unsupported operation: {type(op).__name__}")

    # Journaled primitives: every mutation goes through one of these.

    def _insert(self, key: _Key, entry: _Entry, journal: _Journal) -> None:
        self._sessions[key] = entry

        def undo() -> None:
            del self._sessions[key]

        journal.record(undo)

    def _remove(self, key: _Key, journal: _Journal) -> None:
        entry = self._sessions.pop(key)
        ids = {(key[0], message.id) for message in entry.messages}
        self._message_ids -= ids

        def undo() -> None:
            self._sessions[key] = entry
            self._message_ids |= ids

        journal.record(undo)

    def _set_session(self, entry: _Entry, session: Session, journal: _Journal) -> None:
        previous, entry.session = entry.session, session

        def undo() -> None:
            entry.session = previous

        journal.record(undo)

    def _live_entry(self, key: _Key, now: datetime) -> _Entry | None:
        entry = self._sessions.get(key)
        if entry is None or not rules.is_live(entry.session.expires_at, now):
            return None
        return entry

    def _require_live(self, key: _Key, now: datetime) -> _Entry:
        entry = self._live_entry(key, now)
        if entry is None:
            raise NotFoundError(f"no session {key[1]!r} in tenant {key[0]!r}")
        return entry

    # One handler per op.

    def _create_session(self, op: CreateSession, journal: _Journal) -> Session:
        session = rules.session_to_create(_copy_session(op.session))
        key = (session.tenant, session.id)
        if key in self._sessions:
            if self._live_entry(key, session.created_at) is not None:
                raise ConflictError(f"session {session.id!r} exists in tenant {session.tenant!r}")
            self._remove(key, journal)
        self._insert(key, _Entry(session), journal)
        return _copy_session(session)

    def _get_session(self, op: GetSession, journal: _Journal) -> Session | None:
        entry = self._live_entry((op.tenant, op.session_id), op.now)
        if entry is None:
            return None
        if op.touch:
            self._set_session(entry, rules.touched(entry.session, op.now), journal)
        return _copy_session(entry.session)

    def _list_sessions(self, op: ListSessions) -> list[Session]:
        rules.check_list_sessions(op)
        sessions = [
            entry.session
            for (tenant, _), entry in self._sessions.items()
            if tenant == op.tenant
            and rules.is_live(entry.session.expires_at, op.now)
            and op.user_id in (None, entry.session.user_id)
            and op.agent_id in (None, entry.session.agent_id)
        ]
        sessions.sort(key=lambda session: (session.updated_at, session.id), reverse=True)
        return [_copy_session(item) for item in sessions[op.offset : op.offset + op.limit]]

    def _delete_session(self, op: DeleteSession, journal: _Journal) -> bool:
        key = (op.tenant, op.session_id)
        if key not in self._sessions:
            return False
        self._remove(key, journal)
        return True

    def _clear_messages(self, op: ClearMessages, journal: _Journal) -> Session:
        key = (op.tenant, op.session_id)
        session = rules.cleared(self._require_live(key, op.now).session, op.now)
        self._remove(key, journal)
        self._insert(key, _Entry(session), journal)
        return _copy_session(session)

    def _append_messages(self, op: AppendMessages, journal: _Journal) -> list[Message]:
        rules.check_append(op)
        entry = self._require_live((op.tenant, op.session_id), op.now)
        ids = {(op.tenant, message.id) for message in op.messages}
        if ids & self._message_ids:
            raise ConflictError(f"session {op.session_id!r}: a message id already exists")
        stamped = rules.stamp_messages(op.messages, op.session_id, entry.last_seq)
        self._extend(entry, _copy_messages(stamped), ids, journal)
        self._set_session(entry, rules.after_append(entry.session, stamped, op.now), journal)
        return stamped  # shares mutable parts with the caller's input only, not with the store

    def _extend(
        self, entry: _Entry, stored: list[Message], ids: set[_Key], journal: _Journal
    ) -> None:
        count, last_seq = len(entry.messages), entry.last_seq
        new_calls = set(rules.requested_call_ids(stored)) - entry.call_ids
        entry.messages.extend(stored)
        entry.last_seq += len(stored)
        entry.call_ids |= new_calls
        self._message_ids |= ids

        def undo() -> None:
            del entry.messages[count:]
            entry.last_seq = last_seq
            entry.call_ids -= new_calls
            self._message_ids -= ids

        journal.record(undo)

    def _readable(self, key: _Key, now: datetime | None) -> _Entry | None:
        """The entry a read sees: with `now`, a live one or `NotFoundError`; without, any."""
        return self._sessions.get(key) if now is None else self._require_live(key, now)

    def _list_messages(self, op: ListMessages) -> list[Message]:
        rules.check_list_messages(op)
        entry = self._readable((op.tenant, op.session_id), op.now)
        if entry is None:
            return []
        return _copy_messages(_select(entry.messages, op))

    def _find_tool_calls(self, op: FindToolCalls) -> set[str]:
        entry = self._readable((op.tenant, op.session_id), op.now)
        return set() if entry is None else set(op.call_ids) & entry.call_ids

    def _get_summary(self, op: GetSummary) -> Summary | None:
        entry = self._readable((op.tenant, op.session_id), op.now)
        return None if entry is None else entry.summary

    def _put_summary(self, op: PutSummary, journal: _Journal) -> Summary:
        session_id = op.summary.session_id
        entry = self._sessions.get((op.tenant, session_id))
        if entry is None:
            raise NotFoundError(f"no session {session_id!r} in tenant {op.tenant!r}")
        current = None if entry.summary is None else entry.summary.through_seq
        if current != op.expected_through_seq:
            raise ConflictError(
                f"session {session_id!r}: the summary is through seq {current}, "
                f"not {op.expected_through_seq}"
            )
        previous, entry.summary = entry.summary, op.summary

        def undo() -> None:
            entry.summary = previous

        journal.record(undo)
        return op.summary

    def _merge_state(self, op: MergeState, journal: _Journal) -> dict[str, Any]:
        entry = self._require_live((op.tenant, op.session_id), op.now)
        state: dict[str, Any] = merge_patch(entry.session.state, op.patch)
        self._set_session(entry, rules.after_merge(entry.session, state, op.now), journal)
        copied: dict[str, Any] = _copy_json(state)
        return copied

    def _purge_expired(self, op: PurgeExpired, journal: _Journal) -> int:
        expired = [
            key
            for key, entry in self._sessions.items()
            if key[0] == op.tenant and not rules.is_live(entry.session.expires_at, op.now)
        ]
        for key in expired:
            self._remove(key, journal)
        return len(expired)


def _select(messages: list[Message], op: ListMessages) -> list[Message]:
    """The messages `op` asks for, in seq order, touching only the range it bounds."""
    start = 0 if op.after_seq is None else bisect.bisect_right(messages, op.after_seq, key=_seq)
    stop = (
        len(messages)
        if op.before_seq is None
        else bisect.bisect_left(messages, op.before_seq, key=_seq)
    )
    limit = len(messages) if op.last is None else op.last
    if op.roles is None:
        return messages[max(start, stop - limit) : stop]
    newest_first: list[Message] = []
    for index in range(stop - 1, start - 1, -1):
        if len(newest_first) == limit:
            break
        if messages[index].role in op.roles:
            newest_first.append(messages[index])
    return newest_first[::-1]


def _seq(message: Message) -> int:
    return message.seq or 0
