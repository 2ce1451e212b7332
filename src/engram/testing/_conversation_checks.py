"""Builders, fixtures-as-data and scenarios of the conversation conformance suite."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from engram._exceptions import NotFoundError
from engram.stores.conversation import (
    AppendMessages,
    BaseConversationStore,
    FindToolCalls,
    ListMessages,
    ListSessions,
    MergeState,
    PutSummary,
)
from engram.types import ContentPart, Message, Role, Session, Summary, ToolCall

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
"""The suite's clock starts here; specs pass `now` explicitly."""
TENANT = "acme"
OTHER_TENANT = "globex"


def at(seconds: float) -> datetime:
    """`seconds` after `T0`."""
    return T0 + timedelta(seconds=seconds)


def session(
    session_id: str = "s1", *, tenant: str = TENANT, at_seconds: float = 0, **fields: Any
) -> Session:
    """A session created and updated `at_seconds` after `T0`."""
    moment = at(at_seconds)
    return Session(id=session_id, tenant=tenant, created_at=moment, updated_at=moment, **fields)


def message(
    role: Role = "user", text: str = "hello", *, tool_calls: tuple[str, ...] = (), **fields: Any
) -> Message:
    """A message written at `T0`; `tool_calls` are the ids of calls it requests."""
    calls = tuple(ToolCall(call_id, "lookup", "{}") for call_id in tool_calls)
    return Message(role=role, content=text, tool_calls=calls, created_at=T0, **fields)


def fill(
    store: BaseConversationStore,
    count: int,
    *,
    session_id: str = "s1",
    tenant: str = TENANT,
    system: bool = False,
    calls: tuple[str, ...] = (),
    ttl_seconds: float | None = None,
    create: bool = True,
) -> list[Message]:
    """Create a session (at `T0`) and append `count` messages `m1`, `m2`, ... to it at `T0`.

    Roles alternate user/assistant from seq 1, or from seq 2 after a system message when
    `system`. Message `mN` has `N` tokens; the first assistant message requests `calls`.
    """
    if create:
        store.create_session(session(session_id, tenant=tenant, ttl_seconds=ttl_seconds))
    messages = []
    for seq in range(1, count + 1):
        role: Role = (
            "system" if system and seq == 1 else ("user", "assistant")[(seq + system + 1) % 2]
        )
        requested = calls if role == "assistant" and seq <= 2 + system else ()
        messages.append(
            message(role, f"text {seq}", id=f"m{seq}", tokens=seq, tool_calls=requested)
        )
    stored: list[Message] = store.batch([AppendMessages(tenant, session_id, tuple(messages), T0)])[
        0
    ]
    return stored


def snapshot(store: BaseConversationStore, tenant: str, *, now: datetime) -> dict[str, Any]:
    """Everything the store holds for the tenant's sessions live at `now`, as plain data."""
    sessions = store.list_sessions(ListSessions(tenant, now=now, limit=1000))
    return {
        item.id: {
            "session": item.to_dict(),
            "messages": [
                stored.to_dict() for stored in store.list_messages(ListMessages(tenant, item.id))
            ],
            "summary": store.get_summary(tenant, item.id),
        }
        for item in sessions
    }


# Tenant isolation: each check acts in OTHER_TENANT on the id of TENANT's session "s1".


def _get(store: BaseConversationStore) -> None:
    assert store.get_session(OTHER_TENANT, "s1", now=T0) is None
    assert store.get_session(OTHER_TENANT, "s1", now=at(30), touch=True) is None


def _list_sessions(store: BaseConversationStore) -> None:
    assert store.list_sessions(ListSessions(OTHER_TENANT, now=T0)) == []


def _delete(store: BaseConversationStore) -> None:
    assert store.delete_session(OTHER_TENANT, "s1") is False


def _append(store: BaseConversationStore) -> None:
    with pytest.raises(NotFoundError):
        store.batch([AppendMessages(OTHER_TENANT, "s1", (message(),), at(1))])


def _list_messages(store: BaseConversationStore) -> None:
    assert store.list_messages(ListMessages(OTHER_TENANT, "s1")) == []
    assert store.list_messages(ListMessages(OTHER_TENANT, "s1", last=2)) == []
    with pytest.raises(NotFoundError):
        store.list_messages(ListMessages(OTHER_TENANT, "s1", now=T0))


def _find_tool_calls(store: BaseConversationStore) -> None:
    assert store.batch([FindToolCalls(OTHER_TENANT, "s1", ("c1",))]) == [set()]
    with pytest.raises(NotFoundError):
        store.batch([FindToolCalls(OTHER_TENANT, "s1", ("c1",), T0)])


def _get_summary(store: BaseConversationStore) -> None:
    assert store.get_summary(OTHER_TENANT, "s1") is None
    with pytest.raises(NotFoundError):
        store.get_summary(OTHER_TENANT, "s1", now=T0)


def _put_summary(store: BaseConversationStore) -> None:
    with pytest.raises(NotFoundError):
        store.batch([PutSummary(OTHER_TENANT, Summary("s1", "stolen", 1), 1)])


def _merge_state(store: BaseConversationStore) -> None:
    with pytest.raises(NotFoundError):
        store.batch([MergeState(OTHER_TENANT, "s1", {"k": "stolen"}, T0)])


def _purge_expired(store: BaseConversationStore) -> None:
    # TENANT's session has expired by then; only TENANT's purge may remove it.
    assert store.purge_expired(OTHER_TENANT, now=at(3600)) == 0


def _create_same_ids(store: BaseConversationStore) -> None:
    theirs = fill(store, 2, tenant=OTHER_TENANT, calls=("c1",))
    assert [item.seq for item in theirs] == [1, 2]
    assert store.batch([FindToolCalls(OTHER_TENANT, "s1", ("c1",))]) == [{"c1"}]


ISOLATION_CHECKS: dict[str, Callable[[BaseConversationStore], None]] = {
    "append_messages": _append,
    "create_same_ids": _create_same_ids,
    "delete_session": _delete,
    "find_tool_calls": _find_tool_calls,
    "get_session": _get,
    "get_summary": _get_summary,
    "list_messages": _list_messages,
    "list_sessions": _list_sessions,
    "merge_state": _merge_state,
    "purge_expired": _purge_expired,
    "put_summary": _put_summary,
}
"""Each op, run by another tenant against a session it does not own."""

MERGE_CASES = [
    pytest.param({"a": "b"}, {"a": "c"}, {"a": "c"}, id="replace"),
    pytest.param({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}, id="add"),
    pytest.param({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}, id="null-deletes"),
    pytest.param({"a": "b"}, {"x": None}, {"a": "b"}, id="null-of-absent"),
    pytest.param({"a": ["b"]}, {"a": "c"}, {"a": "c"}, id="scalar-over-list"),
    pytest.param({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}, id="lists-replace"),
    pytest.param(
        {"a": {"b": "c", "x": 1}},
        {"a": {"b": "d", "x": None, "n": {"m": 2}}},
        {"a": {"b": "d", "n": {"m": 2}}},
        id="nested",
    ),
    pytest.param({"a": 1}, {"a": {"b": None, "c": 2}}, {"a": {"c": 2}}, id="object-over-scalar"),
    pytest.param({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}, id="nested-null-new"),
    pytest.param({"e": None}, {"a": 1}, {"e": None, "a": 1}, id="stored-null-kept"),
    pytest.param({"a": 1}, {}, {"a": 1}, id="empty-patch"),
    pytest.param(
        {"t": "ünï"},
        {"u": "🙂 你好", "f": 1.5, "b": False},
        {"t": "ünï", "u": "🙂 你好", "f": 1.5, "b": False},
        id="unicode-and-scalars",
    ),
]
"""(stored state, patch, expected state): RFC 7396 appendix A, for object states."""

ROUND_TRIP_MESSAGES: dict[str, Message] = {
    "plain": Message(role="user", content="hello", tokens=5, encoding="o200k_base"),
    "content_parts": Message(
        role="user",
        content=(
            ContentPart("text", text="What is in this picture?"),
            ContentPart(
                "image_url", payload={"url": "https://example.com/a.png", "detail": "high"}
            ),
            ContentPart("input_audio", payload={"data": "UklGRg==", "format": "wav"}),
        ),
        tokens=800,
        encoding="o200k_base",
    ),
    "tool_calls": Message(
        role="assistant",
        content="",
        tool_calls=(
            ToolCall("call_1", "get_weather", '{"city": "Paris"}'),
            ToolCall("call_2", "lookup", '{"malformed": '),
        ),
    ),
    "tool_result": Message(
        role="tool", content='{"temp_c": 21}', tool_call_id="call_1", name="get_weather"
    ),
    "unicode": Message(role="assistant", content='Grüße 👋🏽 — 你好\n\t"quoted" \\ \u0000 end'),
    "metadata": Message(
        role="user",
        content="hi",
        name="alice",
        metadata={"source": "import", "nested": {"list": [1, 2.5, True, None], "s": "ü"}},
    ),
    "other_timezone": Message(
        role="system",
        content="You are terse.",
        created_at=datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=timezone(timedelta(hours=5))),
        tokens=None,
        encoding=None,
    ),
}
"""Messages exercising every field; each must come back equal (times as equal instants)."""


# Sync/async parity: one scenario, through both APIs; results must match.

_PARITY_SUMMARY = Summary("s1", "so far", 1, updated_at=T0)


def _parity_messages() -> tuple[Message, ...]:
    return (message(id="m1"), message("assistant", id="m2", tool_calls=("c1",)))


def parity_scenario(store: BaseConversationStore, tenant: str) -> list[Any]:
    """The parity scenario through the sync API; results with tenants blanked."""
    results: list[Any] = [store.create_session(session(tenant=tenant, ttl_seconds=60))]
    results += store.batch([AppendMessages(tenant, "s1", _parity_messages(), at(1))])
    results.append(store.get_session(tenant, "s1", now=at(2), touch=True))
    results.append(store.list_sessions(ListSessions(tenant, now=at(2))))
    results.append(store.list_messages(ListMessages(tenant, "s1", last=1)))
    results += store.batch([FindToolCalls(tenant, "s1", ("c1", "c2"))])
    results += store.batch([PutSummary(tenant, _PARITY_SUMMARY, None)])
    results.append(store.get_summary(tenant, "s1"))
    results += store.batch([MergeState(tenant, "s1", {"a": {"b": 1}}, at(3))])
    results.append(store.purge_expired(tenant, now=at(3)))
    results.append(store.delete_session(tenant, "s1"))
    results.append(store.get_session(tenant, "s1", now=at(3)))
    return _blank_tenants(results)


async def aparity_scenario(store: BaseConversationStore, tenant: str) -> list[Any]:
    """`parity_scenario` through the async API."""
    results: list[Any] = [await store.acreate_session(session(tenant=tenant, ttl_seconds=60))]
    results += await store.abatch([AppendMessages(tenant, "s1", _parity_messages(), at(1))])
    results.append(await store.aget_session(tenant, "s1", now=at(2), touch=True))
    results.append(await store.alist_sessions(ListSessions(tenant, now=at(2))))
    results.append(await store.alist_messages(ListMessages(tenant, "s1", last=1)))
    results += await store.abatch([FindToolCalls(tenant, "s1", ("c1", "c2"))])
    results += await store.abatch([PutSummary(tenant, _PARITY_SUMMARY, None)])
    results.append(await store.aget_summary(tenant, "s1"))
    results += await store.abatch([MergeState(tenant, "s1", {"a": {"b": 1}}, at(3))])
    results.append(await store.apurge_expired(tenant, now=at(3)))
    results.append(await store.adelete_session(tenant, "s1"))
    results.append(await store.aget_session(tenant, "s1", now=at(3)))
    return _blank_tenants(results)


def _blank_tenants(results: list[Any]) -> list[Any]:
    blanked: list[Any] = []
    for result in results:
        if isinstance(result, Session):
            blanked.append(result.to_dict() | {"tenant": None})
        elif isinstance(result, list):
            blanked.append(_blank_tenants(result))
        else:
            blanked.append(result)
    return blanked
