"""The conformance suite of `BaseConversationStore`: every backend must pass it.

`ConversationStoreSpec` holds the specs, written once against the contract; subclass it as
`Test...` with a `conversation_store` fixture yielding a fresh, empty store. Every spec passes
its clock (`now`) explicitly, so nothing sleeps.

Capabilities a backend may lack are class attributes of the spec; set one to False in the
subclass to skip the specs that need it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from engram._exceptions import ConflictError, InvalidInputError, NotFoundError
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
    PutSummary,
)
from engram.testing._conversation_checks import (
    ISOLATION_CHECKS,
    MERGE_CASES,
    OTHER_TENANT,
    ROUND_TRIP_MESSAGES,
    T0,
    TENANT,
    aparity_scenario,
    at,
    fill,
    message,
    parity_scenario,
    session,
    snapshot,
)
from engram.types import Message, Summary

__all__ = ["AsyncDrivenConversationStore", "ConversationStoreSpec"]


class AsyncDrivenConversationStore(BaseConversationStore):
    """Runs every call of the sync API through the wrapped store's `abatch`.

    Lets each sync spec also cover a backend's async path. Call it only from code without a
    running event loop (plain, non-async tests): each batch runs in `asyncio.run`.
    """

    def __init__(self, inner: BaseConversationStore) -> None:
        self.inner = inner

    def batch(self, ops: Sequence[Op]) -> list[Any]:
        return asyncio.run(self.inner.abatch(ops))

    async def abatch(self, ops: Sequence[Op]) -> list[Any]:
        return await self.inner.abatch(ops)

    def close(self) -> None:
        self.inner.close()


def _refused_write(store: Any, where: str, bad: Any) -> InvalidInputError:
    """Write `bad` as the `where` of a new session ("session_metadata", "session_state") or
    of session "s1" ("message_metadata", "state"); assert it is refused and nothing is
    written, and return the error."""
    if where.startswith("session_"):
        field = "metadata" if where == "session_metadata" else "state"
        with pytest.raises(InvalidInputError) as refused:
            store.create_session(session(**{field: bad}))
        assert store.get_session(TENANT, "s1", now=T0) is None
        return refused.value
    store.create_session(session())
    op = (
        AppendMessages(TENANT, "s1", (message(metadata=bad),), at(1))
        if where == "message_metadata"
        else MergeState(TENANT, "s1", bad, at(1))
    )
    with pytest.raises(InvalidInputError) as refused:
        store.batch([op])
    assert _messages(store) == []
    assert store.get_session(TENANT, "s1", now=at(1)).state == {}
    return refused.value


def _messages(store: BaseConversationStore, **bounds: Any) -> list[Message]:
    return store.list_messages(ListMessages(TENANT, "s1", **bounds))


def _seqs(messages: Sequence[Message]) -> list[int | None]:
    return [item.seq for item in messages]


class ConversationStoreSpec:
    """The behaviour every `BaseConversationStore` must have.

    Needs a `conversation_store` fixture: a fresh, empty store (sync API; wrap an async-only
    store in `AsyncDrivenConversationStore`).
    """

    supports_threads: bool = True
    """The store may be shared by threads (batches from several threads serialise)."""

    # Sessions.

    def test_create_returns_the_stored_session(self, conversation_store: Any) -> None:
        original = session(
            user_id="u1",
            agent_id="a1",
            metadata={"channel": "web", "tags": ["a", "b"]},
            state={"step": 1},
            encoding="cl100k_base",
            message_count=7,
            token_count=99,
        )
        created = conversation_store.create_session(original)
        assert (created.message_count, created.token_count) == (0, 0)
        assert created.to_dict() | {"message_count": 7, "token_count": 99} == original.to_dict()
        assert conversation_store.get_session(TENANT, "s1", now=T0) == created

    def test_create_sets_expiry_from_ttl(self, conversation_store: Any) -> None:
        created = conversation_store.create_session(session(ttl_seconds=60))
        assert created.expires_at == at(60)
        assert conversation_store.get_session(TENANT, "s1", now=T0).expires_at == at(60)

    def test_create_duplicate_id_conflicts(self, conversation_store: Any) -> None:
        conversation_store.create_session(session())
        with pytest.raises(ConflictError):
            conversation_store.create_session(session(user_id="someone else"))
        assert conversation_store.get_session(TENANT, "s1", now=T0).user_id is None

    def test_create_replaces_an_expired_session(self, conversation_store: Any) -> None:
        fill(conversation_store, 3, ttl_seconds=60)
        replacement = session(at_seconds=61, user_id="u2")
        conversation_store.create_session(replacement)
        got = conversation_store.get_session(TENANT, "s1", now=at(61))
        assert (got.user_id, got.message_count) == ("u2", 0)
        assert _messages(conversation_store) == []
        reused = message(id="m1")  # the replaced session's message ids are free again
        stored = conversation_store.batch([AppendMessages(TENANT, "s1", (reused,), at(62))])[0]
        assert _seqs(stored) == [1]

    def test_get_absent_session_returns_none(self, conversation_store: Any) -> None:
        assert conversation_store.get_session(TENANT, "nope", now=T0) is None

    @pytest.mark.parametrize(("seconds", "live"), [(59, True), (60, False), (61, False)])
    def test_session_expires_at_its_expiry(
        self, conversation_store: Any, seconds: int, live: bool
    ) -> None:
        conversation_store.create_session(session(ttl_seconds=60))
        got = conversation_store.get_session(TENANT, "s1", now=at(seconds))
        assert (got is not None) is live

    def test_touch_extends_expiry(self, conversation_store: Any) -> None:
        conversation_store.create_session(session(ttl_seconds=60))
        touched = conversation_store.get_session(TENANT, "s1", now=at(30), touch=True)
        assert touched.expires_at == at(90)
        assert touched.updated_at == T0
        assert conversation_store.get_session(TENANT, "s1", now=at(80)) is not None

    def test_get_without_touch_keeps_expiry(self, conversation_store: Any) -> None:
        conversation_store.create_session(session(ttl_seconds=60))
        conversation_store.get_session(TENANT, "s1", now=at(30))
        assert conversation_store.get_session(TENANT, "s1", now=at(60)) is None

    @pytest.mark.parametrize("use", ["append", "merge_state"])
    def test_use_extends_expiry(self, conversation_store: Any, use: str) -> None:
        conversation_store.create_session(session(ttl_seconds=60))
        op: Op = (
            AppendMessages(TENANT, "s1", (message(),), at(50))
            if use == "append"
            else MergeState(TENANT, "s1", {"k": 1}, at(50))
        )
        conversation_store.batch([op])
        got = conversation_store.get_session(TENANT, "s1", now=at(100))
        assert (got.expires_at, got.updated_at) == (at(110), at(50))

    @pytest.mark.parametrize("use", ["append", "merge_state"])
    def test_expired_session_rejects_writes(self, conversation_store: Any, use: str) -> None:
        conversation_store.create_session(session(ttl_seconds=60))
        op: Op = (
            AppendMessages(TENANT, "s1", (message(),), at(60))
            if use == "append"
            else MergeState(TENANT, "s1", {"k": 1}, at(60))
        )
        with pytest.raises(NotFoundError):
            conversation_store.batch([op])

    @pytest.mark.parametrize(("seconds", "live"), [(59, True), (60, False)])
    @pytest.mark.parametrize("read", ["messages", "last_messages", "summary", "tool_calls"])
    def test_expired_session_hides_its_content(
        self, conversation_store: Any, read: str, seconds: int, live: bool
    ) -> None:
        fill(conversation_store, 4, calls=("c1",), ttl_seconds=60)
        conversation_store.batch([PutSummary(TENANT, Summary("s1", "so far", 2), None)])
        ops: dict[str, Op] = {
            "messages": ListMessages(TENANT, "s1", now=at(seconds)),
            "last_messages": ListMessages(TENANT, "s1", last=2, roles=("user",), now=at(seconds)),
            "summary": GetSummary(TENANT, "s1", at(seconds)),
            "tool_calls": FindToolCalls(TENANT, "s1", ("c1",), at(seconds)),
        }
        op = ops[read]
        if live:
            assert conversation_store.batch([op])[0]  # the content is there while it lives
        else:
            with pytest.raises(NotFoundError):
                conversation_store.batch([op])

    @pytest.mark.parametrize("last", [None, 0])
    def test_clocked_reads_of_an_absent_session_raise_not_found(
        self, conversation_store: Any, last: int | None
    ) -> None:
        for op in (
            ListMessages(TENANT, "nope", last=last, now=T0),
            GetSummary(TENANT, "nope", T0),
            FindToolCalls(TENANT, "nope", ("c1",), T0),
        ):
            with pytest.raises(NotFoundError):
                conversation_store.batch([op])

    def test_clocked_reads_of_a_live_session_without_content(self, conversation_store: Any) -> None:
        conversation_store.create_session(session(ttl_seconds=60))
        results = conversation_store.batch(
            [
                ListMessages(TENANT, "s1", now=at(1)),
                ListMessages(TENANT, "s1", last=0, now=at(1)),
                GetSummary(TENANT, "s1", at(1)),
                FindToolCalls(TENANT, "s1", ("c1",), at(1)),
            ]
        )
        assert results == [[], [], None, set()]

    def test_expired_sessions_content_stays_for_unclocked_reads(
        self, conversation_store: Any
    ) -> None:
        """Reads without `now` check nothing: the content of an expired session that was not
        purged yet is still readable by tools that ask for it raw."""
        fill(conversation_store, 2, ttl_seconds=60)
        assert _seqs(_messages(conversation_store)) == [1, 2]

    @pytest.mark.parametrize("ttl", [0, -1, float("nan"), float("inf"), 1e12, True, "60"], ids=repr)
    def test_create_rejects_a_bad_ttl(self, conversation_store: Any, ttl: Any) -> None:
        with pytest.raises(InvalidInputError):
            conversation_store.create_session(session(ttl_seconds=ttl))
        assert conversation_store.get_session(TENANT, "s1", now=T0) is None

    @pytest.mark.parametrize(
        "metadata",
        [{"x": object()}, {"x": float("nan")}, {(1, 2): "tuple key"}, {"x": {1, 2}}],
        ids=["object", "nan", "tuple-key", "set"],
    )
    def test_append_rejects_metadata_that_is_not_json(
        self, conversation_store: Any, metadata: dict[Any, Any]
    ) -> None:
        conversation_store.create_session(session())
        with pytest.raises(InvalidInputError):
            conversation_store.batch(
                [AppendMessages(TENANT, "s1", (message(metadata=metadata),), at(1))]
            )
        assert _messages(conversation_store) == []

    def test_number_keys_of_metadata_come_back_as_text(self, conversation_store: Any) -> None:
        conversation_store.create_session(session())
        sent = message(metadata={1: "one", "nested": {2: [3]}})
        conversation_store.batch([AppendMessages(TENANT, "s1", (sent,), at(1))])
        [stored] = _messages(conversation_store)
        assert stored.metadata == {"1": "one", "nested": {"2": [3]}}

    @pytest.mark.parametrize("where", ["session_metadata", "message_metadata", "state"])
    def test_a_lone_surrogate_is_refused_and_nothing_is_written(
        self, conversation_store: Any, where: str
    ) -> None:
        """Text UTF-8 cannot encode is refused alike by every backend (the SQL and Redis
        drivers cannot send it), not kept by one and refused by another."""
        _refused_write(conversation_store, where, {"k": ["ok", "\ud800"]})

    @pytest.mark.parametrize(
        ("bad", "place"),
        [({"k": ["ok", "a\x00b"]}, "['k'][1]"), ({"ok": {"k\x00": 1}}, "['ok']")],
        ids=["in-a-value", "in-a-key"],
    )
    @pytest.mark.parametrize(
        ("where", "what"),
        [
            ("session_metadata", "session metadata"),
            ("session_state", "session state"),
            ("message_metadata", "message metadata"),
            ("state", "state patch"),
        ],
    )
    def test_a_nul_character_is_refused_and_nothing_is_written(
        self, conversation_store: Any, where: str, what: str, bad: Any, place: str
    ) -> None:
        """U+0000 is refused alike by every backend, naming where it is (PostgreSQL cannot
        keep it in JSON), as the memory store refuses it in a memory's metadata."""
        key = "a key of " if place == "['ok']" else ""
        expected = f"{key}{what}{place} contains a NUL character"
        assert str(_refused_write(conversation_store, where, bad)) == expected

    def test_delete_reports_whether_it_existed(self, conversation_store: Any) -> None:
        conversation_store.create_session(session())
        assert conversation_store.delete_session(TENANT, "s1") is True
        assert conversation_store.delete_session(TENANT, "s1") is False
        assert conversation_store.get_session(TENANT, "s1", now=T0) is None

    def test_delete_cascades(self, conversation_store: Any) -> None:
        fill(conversation_store, 4, calls=("c1",))
        conversation_store.batch([PutSummary(TENANT, Summary("s1", "so far", 2), None)])
        conversation_store.delete_session(TENANT, "s1")
        assert _messages(conversation_store) == []
        assert conversation_store.get_summary(TENANT, "s1") is None
        assert conversation_store.batch([FindToolCalls(TENANT, "s1", ("c1",))]) == [set()]
        conversation_store.create_session(session())
        assert conversation_store.get_session(TENANT, "s1", now=T0).state == {}
        assert _seqs(fill(conversation_store, 2, create=False)) == [1, 2]

    def test_clear_messages_keeps_the_session(self, conversation_store: Any) -> None:
        owned = session(user_id="ana", agent_id="bot", metadata={"channel": "web"}, ttl_seconds=60)
        conversation_store.create_session(owned)
        fill(conversation_store, 4, calls=("c1",), create=False)
        conversation_store.batch([PutSummary(TENANT, Summary("s1", "so far", 2), None)])
        conversation_store.batch([MergeState(TENANT, "s1", {"k": 1}, at(1))])
        cleared = conversation_store.clear_messages(TENANT, "s1", now=at(10))
        stored = conversation_store.get_session(TENANT, "s1", now=at(65))
        assert cleared == stored
        owner = (stored.user_id, stored.agent_id, stored.metadata)
        assert owner == ("ana", "bot", {"channel": "web"})
        assert (stored.state, stored.ttl_seconds, stored.created_at) == ({"k": 1}, 60, T0)
        assert (stored.message_count, stored.token_count) == (0, 0)
        assert (stored.updated_at, stored.expires_at) == (at(10), at(70))
        assert _messages(conversation_store) == []
        assert conversation_store.get_summary(TENANT, "s1", now=at(10)) is None
        assert conversation_store.batch([FindToolCalls(TENANT, "s1", ("c1",), at(10))]) == [set()]
        listed = conversation_store.list_sessions(ListSessions(TENANT, now=at(10), user_id="ana"))
        assert [item.id for item in listed] == ["s1"]
        # The session goes on: seqs start again, and the cleared messages' ids are free.
        assert _seqs(fill(conversation_store, 2, create=False)) == [1, 2]
        again = conversation_store.get_session(TENANT, "s1", now=at(10))
        assert (again.message_count, again.token_count) == (2, 3)

    @pytest.mark.parametrize("case", ["absent", "expired", "other_tenant"])
    def test_clear_messages_needs_a_live_session(self, conversation_store: Any, case: str) -> None:
        fill(conversation_store, 2, ttl_seconds=60)
        op = {
            "absent": ClearMessages(TENANT, "nope", at(1)),
            "expired": ClearMessages(TENANT, "s1", at(60)),
            "other_tenant": ClearMessages(OTHER_TENANT, "s1", at(1)),
        }[case]
        with pytest.raises(NotFoundError):
            conversation_store.batch([op])
        assert _seqs(_messages(conversation_store)) == [1, 2]

    def test_purge_expired(self, conversation_store: Any) -> None:
        fill(conversation_store, 2, session_id="old", ttl_seconds=10)
        conversation_store.create_session(session("fresh", ttl_seconds=1000))
        conversation_store.create_session(session("forever"))
        conversation_store.create_session(session("theirs", tenant=OTHER_TENANT, ttl_seconds=10))
        assert conversation_store.purge_expired(TENANT, now=at(500)) == 1
        assert conversation_store.list_messages(ListMessages(TENANT, "old")) == []
        live = conversation_store.list_sessions(ListSessions(TENANT, now=T0))
        assert sorted(item.id for item in live) == ["forever", "fresh"]
        theirs = conversation_store.get_session(OTHER_TENANT, "theirs", now=T0)
        assert theirs is not None
        assert conversation_store.purge_expired(TENANT, now=at(500)) == 0

    def test_list_sessions_most_recently_updated_first(self, conversation_store: Any) -> None:
        for index, session_id in enumerate(["a", "b", "c"]):
            conversation_store.create_session(session(session_id, at_seconds=index))
        conversation_store.batch([AppendMessages(TENANT, "a", (message(),), at(10))])
        listed = conversation_store.list_sessions(ListSessions(TENANT, now=at(10)))
        assert [item.id for item in listed] == ["a", "c", "b"]

    @pytest.mark.parametrize(
        ("limit", "offset", "expected"),
        [(2, 0, "ed"), (2, 2, "cb"), (2, 4, "a"), (10, 0, "edcba"), (0, 0, ""), (3, 9, "")],
    )
    def test_list_sessions_pages(
        self, conversation_store: Any, limit: int, offset: int, expected: str
    ) -> None:
        for index, session_id in enumerate("abcde"):
            conversation_store.create_session(session(session_id, at_seconds=index))
        op = ListSessions(TENANT, now=at(10), limit=limit, offset=offset)
        assert "".join(item.id for item in conversation_store.list_sessions(op)) == expected

    @pytest.mark.parametrize(
        ("user_id", "agent_id", "expected"),
        [("u1", None, "ab"), (None, "x", "ac"), ("u1", "x", "a"), ("u9", None, "")],
    )
    def test_list_sessions_filters_by_owner(
        self, conversation_store: Any, user_id: str | None, agent_id: str | None, expected: str
    ) -> None:
        owners = {"a": ("u1", "x"), "b": ("u1", "y"), "c": ("u2", "x")}
        for index, (session_id, (user, agent)) in enumerate(owners.items()):
            conversation_store.create_session(
                session(session_id, at_seconds=-index, user_id=user, agent_id=agent)
            )
        op = ListSessions(TENANT, now=T0, user_id=user_id, agent_id=agent_id)
        assert "".join(item.id for item in conversation_store.list_sessions(op)) == expected

    def test_list_sessions_excludes_expired(self, conversation_store: Any) -> None:
        conversation_store.create_session(session("short", ttl_seconds=10))
        conversation_store.create_session(session("long", ttl_seconds=100))
        listed = conversation_store.list_sessions(ListSessions(TENANT, now=at(50)))
        assert [item.id for item in listed] == ["long"]

    @pytest.mark.parametrize(("limit", "offset"), [(-1, 0), (1, -1)])
    def test_list_sessions_rejects_negative_paging(
        self, conversation_store: Any, limit: int, offset: int
    ) -> None:
        with pytest.raises(InvalidInputError):
            conversation_store.list_sessions(ListSessions(TENANT, T0, limit=limit, offset=offset))

    @pytest.mark.parametrize(
        "bounds",
        [
            {"limit": 10**20},
            {"offset": 10**20},
            {"limit": "a"},
            {"offset": 1.5},
            {"limit": True},
            {"user_id": 5},
            {"user_id": ""},
            {"agent_id": 5},
            {"agent_id": " "},
        ],
        ids=repr,
    )
    def test_list_sessions_rejects_bad_paging_and_owners(
        self, conversation_store: Any, bounds: dict[str, Any]
    ) -> None:
        """A page past what a 64-bit column holds, a limit past `MAX_LIMIT`, or an owner that
        is not an id: `InvalidInputError` from every backend, not `[]` from one, a driver
        error from another."""
        conversation_store.create_session(session(user_id="ana", agent_id="bot"))
        with pytest.raises(InvalidInputError):
            conversation_store.list_sessions(ListSessions(TENANT, T0, **bounds))

    def test_list_sessions_takes_the_largest_offset(self, conversation_store: Any) -> None:
        conversation_store.create_session(session())
        largest = ListSessions(TENANT, T0, limit=100_000, offset=2**63 - 1)
        assert conversation_store.list_sessions(largest) == []

    # Tenancy.

    @pytest.mark.parametrize("check", sorted(ISOLATION_CHECKS))
    def test_other_tenants_cannot_see_or_touch_a_session(
        self, conversation_store: Any, check: str
    ) -> None:
        fill(conversation_store, 3, calls=("c1",), ttl_seconds=60)
        conversation_store.batch(
            [
                PutSummary(TENANT, Summary("s1", "so far", 1), None),
                MergeState(TENANT, "s1", {"k": "v"}, T0),
            ]
        )
        before = snapshot(conversation_store, TENANT, now=T0)
        ISOLATION_CHECKS[check](conversation_store)
        assert snapshot(conversation_store, TENANT, now=T0) == before

    # Messages.

    def test_append_assigns_seq_and_session(self, conversation_store: Any) -> None:
        conversation_store.create_session(session())
        sent = (message(id="m1"), message("assistant", id="m2"), message(id="m3"))
        stored = conversation_store.batch([AppendMessages(TENANT, "s1", sent, at(5))])[0]
        assert [(item.id, item.seq, item.session_id) for item in stored] == [
            ("m1", 1, "s1"),
            ("m2", 2, "s1"),
            ("m3", 3, "s1"),
        ]
        assert _messages(conversation_store) == stored

    def test_seq_continues_across_appends(self, conversation_store: Any) -> None:
        fill(conversation_store, 2)
        more = (message(id="x1"), message(id="x2"), message(id="x3"))
        conversation_store.batch([AppendMessages(TENANT, "s1", more, at(5))])
        assert _seqs(_messages(conversation_store)) == [1, 2, 3, 4, 5]

    def test_append_updates_counters(self, conversation_store: Any) -> None:
        conversation_store.create_session(session())
        sent = (message(tokens=3), message(tokens=None), message(tokens=4))
        conversation_store.batch([AppendMessages(TENANT, "s1", sent, at(5))])
        conversation_store.batch([AppendMessages(TENANT, "s1", (message(tokens=10),), at(7))])
        got = conversation_store.get_session(TENANT, "s1", now=at(7))
        assert (got.message_count, got.token_count, got.updated_at) == (4, 17, at(7))

    def test_append_nothing_changes_nothing(self, conversation_store: Any) -> None:
        conversation_store.create_session(session())
        assert conversation_store.batch([AppendMessages(TENANT, "s1", (), at(5))]) == [[]]
        assert conversation_store.get_session(TENANT, "s1", now=T0).message_count == 0

    def test_append_to_absent_session_raises_not_found(self, conversation_store: Any) -> None:
        with pytest.raises(NotFoundError):
            conversation_store.batch([AppendMessages(TENANT, "nope", (message(),), T0)])

    @pytest.mark.parametrize("where", ["same_append", "same_session", "other_session"])
    def test_append_duplicate_message_id_conflicts(
        self, conversation_store: Any, where: str
    ) -> None:
        fill(conversation_store, 1)
        conversation_store.create_session(session("s2"))
        target, sent = {
            "same_append": ("s1", (message(id="dup"), message(id="dup"))),
            "same_session": ("s1", (message(id="m1"),)),
            "other_session": ("s2", (message(id="m1"),)),
        }[where]
        # Said alike by every backend (not in the words of a database's unique index).
        said = "(the appended messages repeat an id|a message id already exists)"
        with pytest.raises(ConflictError, match=f"^session '{target}': {said}$"):
            conversation_store.batch([AppendMessages(TENANT, target, sent, at(5))])
        assert _seqs(_messages(conversation_store)) == [1]

    @pytest.mark.parametrize(
        ("last", "expected"),
        [(0, []), (1, [10]), (3, [8, 9, 10]), (10, list(range(1, 11))), (50, list(range(1, 11)))],
    )
    def test_list_messages_last_n(
        self, conversation_store: Any, last: int, expected: list[int]
    ) -> None:
        fill(conversation_store, 10)
        assert _seqs(_messages(conversation_store, last=last)) == expected

    @pytest.mark.parametrize(
        ("after_seq", "before_seq", "expected"),
        [(None, None, [1, 2, 3, 4, 5, 6]), (2, None, [3, 4, 5, 6]), (None, 3, [1, 2]),
         (2, 5, [3, 4]), (3, 4, []), (6, None, []), (0, 99, [1, 2, 3, 4, 5, 6])],
    )  # fmt: skip
    def test_list_messages_range(
        self, conversation_store: Any, after_seq: int, before_seq: int, expected: list[int]
    ) -> None:
        fill(conversation_store, 6)
        got = _messages(conversation_store, after_seq=after_seq, before_seq=before_seq)
        assert _seqs(got) == expected

    @pytest.mark.parametrize(
        ("roles", "expected"),
        [(("system",), [1]), (("user",), [2, 4, 6]), (("assistant", "system"), [1, 3, 5]),
         (("tool",), []), ((), [])],
    )  # fmt: skip
    def test_list_messages_roles(
        self, conversation_store: Any, roles: tuple[str, ...], expected: list[int]
    ) -> None:
        fill(conversation_store, 6, system=True)
        assert _seqs(_messages(conversation_store, roles=roles)) == expected

    def test_list_messages_combines_filters(self, conversation_store: Any) -> None:
        fill(conversation_store, 12, system=True)
        got = _messages(conversation_store, last=2, roles=("user",), before_seq=9, after_seq=2)
        assert _seqs(got) == [6, 8]

    def test_list_messages_of_absent_session_is_empty(self, conversation_store: Any) -> None:
        assert _messages(conversation_store) == []

    @pytest.mark.parametrize("last", [-1, 2.5, "2", True, 2**63, 10**20])
    def test_list_messages_rejects_a_last_that_is_not_a_count(
        self, conversation_store: Any, last: Any
    ) -> None:
        fill(conversation_store, 2)
        with pytest.raises(InvalidInputError):
            _messages(conversation_store, last=last)

    def test_list_messages_takes_the_largest_last(self, conversation_store: Any) -> None:
        fill(conversation_store, 2)
        assert _seqs(_messages(conversation_store, last=2**63 - 1)) == [1, 2]

    @pytest.mark.parametrize("kind", sorted(ROUND_TRIP_MESSAGES))
    def test_message_round_trip(self, conversation_store: Any, kind: str) -> None:
        conversation_store.create_session(session())
        sent = ROUND_TRIP_MESSAGES[kind]
        stored = conversation_store.batch([AppendMessages(TENANT, "s1", (sent,), at(1))])[0]
        expected = replace(sent, session_id="s1", seq=1)
        assert stored == [expected]
        assert _messages(conversation_store) == [expected]

    def test_records_are_copies(self, conversation_store: Any) -> None:
        state = {"nested": {"k": 1}}
        conversation_store.create_session(session(state=state))
        state["nested"]["k"] = 2
        got = conversation_store.get_session(TENANT, "s1", now=T0)
        got.state["nested"]["k"] = 3
        assert conversation_store.get_session(TENANT, "s1", now=T0).state == {"nested": {"k": 1}}
        sent = message(metadata={"k": [1]})
        conversation_store.batch([AppendMessages(TENANT, "s1", (sent,), at(1))])
        sent.metadata["k"].append(2)
        _messages(conversation_store)[0].metadata["k"].append(3)
        assert _messages(conversation_store)[0].metadata == {"k": [1]}

    def test_find_tool_calls(self, conversation_store: Any) -> None:
        conversation_store.create_session(session())
        conversation_store.create_session(session("s2"))
        asked = message("assistant", tool_calls=("c1", "c2"))
        answer = message("tool", text="42", tool_call_id="c3")
        elsewhere = message("assistant", tool_calls=("c4",))
        conversation_store.batch(
            [
                AppendMessages(TENANT, "s1", (asked, answer), at(1)),
                AppendMessages(TENANT, "s2", (elsewhere,), at(1)),
            ]
        )
        query = FindToolCalls(TENANT, "s1", ("c1", "c2", "c3", "c4", "c5"))
        assert conversation_store.batch([query]) == [{"c1", "c2"}]

    # Summaries and state.

    def test_summary_round_trip(self, conversation_store: Any) -> None:
        fill(conversation_store, 4)
        assert conversation_store.get_summary(TENANT, "s1") is None
        summary = Summary(
            "s1", "They met — café ☕", 3, message_count=3, tokens=9, updated_at=at(9)
        )
        assert conversation_store.batch([PutSummary(TENANT, summary, None)]) == [summary]
        assert conversation_store.get_summary(TENANT, "s1") == summary

    @pytest.mark.parametrize(("expected", "accepted"), [(None, False), (1, False), (2, True)])
    def test_put_summary_is_optimistic(
        self, conversation_store: Any, expected: int | None, accepted: bool
    ) -> None:
        fill(conversation_store, 4)
        conversation_store.batch([PutSummary(TENANT, Summary("s1", "first", 2), None)])
        op = PutSummary(TENANT, Summary("s1", "second", 4), expected)
        if accepted:
            conversation_store.batch([op])
        else:
            with pytest.raises(ConflictError):
                conversation_store.batch([op])
        text = conversation_store.get_summary(TENANT, "s1").text
        assert text == ("second" if accepted else "first")

    def test_put_summary_for_absent_session_raises_not_found(self, conversation_store: Any) -> None:
        with pytest.raises(NotFoundError):
            conversation_store.batch([PutSummary(TENANT, Summary("nope", "x", 1), None)])

    @pytest.mark.parametrize(("state", "patch", "expected"), MERGE_CASES)
    def test_merge_state_is_rfc7396(
        self, conversation_store: Any, state: dict[str, Any], patch: Any, expected: Any
    ) -> None:
        conversation_store.create_session(session(state=state))
        result = conversation_store.batch([MergeState(TENANT, "s1", patch, at(3))])[0]
        got = conversation_store.get_session(TENANT, "s1", now=at(3))
        assert (result, got.state, got.updated_at) == (expected, expected, at(3))

    def test_merge_state_of_absent_session_raises_not_found(self, conversation_store: Any) -> None:
        with pytest.raises(NotFoundError):
            conversation_store.batch([MergeState(TENANT, "nope", {"k": 1}, T0)])

    def test_merge_state_is_atomic_across_threads(self, conversation_store: Any) -> None:
        if not self.supports_threads:
            pytest.skip("the store does not support threads")
        conversation_store.create_session(session())
        errors: list[BaseException] = []

        def merge_keys(prefix: str) -> None:
            try:
                for index in range(200):
                    patch = {"keys": {f"{prefix}{index}": index}}
                    conversation_store.batch([MergeState(TENANT, "s1", patch, T0)])
            except BaseException as exc:  # surfaced below: a thread cannot fail the test
                errors.append(exc)

        threads = [threading.Thread(target=merge_keys, args=(prefix,)) for prefix in "ab"]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        state = conversation_store.get_session(TENANT, "s1", now=T0).state
        assert len(state["keys"]) == 400

    # Batches.

    def test_batch_returns_results_in_order(self, conversation_store: Any) -> None:
        results = conversation_store.batch(
            [
                CreateSession(session()),
                AppendMessages(TENANT, "s1", (message(id="m1"),), at(1)),
                MergeState(TENANT, "s1", {"k": 1}, at(2)),
                GetSession(TENANT, "s1", at(2)),
                ListMessages(TENANT, "s1"),
                DeleteSession(TENANT, "s1"),
                GetSession(TENANT, "s1", at(2)),
            ]
        )
        created, appended, state, got, listed, deleted, gone = results
        assert created.id == "s1" and _seqs(appended) == [1] and state == {"k": 1}
        assert (got.message_count, got.state) == (1, {"k": 1})
        assert (listed, deleted, gone) == (appended, True, None)

    def test_empty_batch_returns_nothing(self, conversation_store: Any) -> None:
        assert conversation_store.batch([]) == []

    @pytest.mark.parametrize(
        "failing",
        ["duplicate_session", "absent_session", "stale_summary", "duplicate_message"],
    )
    def test_failed_batch_leaves_no_trace(self, conversation_store: Any, failing: str) -> None:
        fill(conversation_store, 2, ttl_seconds=60)
        conversation_store.create_session(session("doomed"))
        before = snapshot(conversation_store, TENANT, now=T0)
        failures: dict[str, Op] = {
            "duplicate_session": CreateSession(session("s1")),
            "absent_session": AppendMessages(TENANT, "nope", (message(),), at(5)),
            "stale_summary": PutSummary(TENANT, Summary("s1", "x", 9), 7),
            "duplicate_message": AppendMessages(TENANT, "s1", (message(id="new"),), at(5)),
        }
        writes: list[Op] = [
            CreateSession(session("s2")),
            ClearMessages(TENANT, "s1", at(4)),
            AppendMessages(TENANT, "s1", (message(id="new", tool_calls=("c9",)),), at(5)),
            MergeState(TENANT, "s1", {"k": 1}, at(5)),
            PutSummary(TENANT, Summary("s1", "sum", 1), None),
            GetSession(TENANT, "s1", at(5), touch=True),
            DeleteSession(TENANT, "doomed"),
        ]
        with pytest.raises((ConflictError, NotFoundError)):
            conversation_store.batch([*writes, failures[failing]])
        assert snapshot(conversation_store, TENANT, now=T0) == before
        assert conversation_store.batch([FindToolCalls(TENANT, "s1", ("c9",))]) == [set()]

    # Sync/async parity.

    def test_async_api_matches_sync_api(self, conversation_store: Any) -> None:
        sync_result = parity_scenario(conversation_store, TENANT)
        async_result = asyncio.run(aparity_scenario(conversation_store, OTHER_TENANT))
        assert async_result == sync_result
