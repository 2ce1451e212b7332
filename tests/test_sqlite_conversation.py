"""SQLite-specific behaviour of the conversation store (the shared behaviour is in the
conformance suite): migrations, pragmas, query plans, locking and error translation."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engram._exceptions import (
    BackendError,
    BackendUnavailable,
    ConflictError,
    InvalidInputError,
    MigrationRequired,
)
from engram.stores import (
    AppendMessages,
    ListMessages,
    SqliteConnection,
    SqliteConversationStore,
)
from engram.stores.sqlite import base
from engram.types import ROLES, ContentPart, Message, Session, ToolCall

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def _session(session_id: str = "s1") -> Session:
    return Session(id=session_id, tenant="t", created_at=NOW, updated_at=NOW)


def _append(store: SqliteConversationStore, *messages: Message) -> list[Message]:
    stored: list[Message] = store.batch([AppendMessages("t", "s1", messages, NOW)])[0]
    return stored


def _version(conn: SqliteConnection) -> int:
    row = conn.conn.execute(
        "SELECT version FROM engram_migrations WHERE component = ?", (base.COMPONENT,)
    ).fetchone()
    return int(row[0])


def test_migrations_are_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "engram.db"
    with SqliteConversationStore.from_path(path) as store:
        store.create_session(_session())
        _append(store, Message(role="user", content="hi", id="m1"))
        SqliteConversationStore(store.conn)  # a second store on the same connection
        assert _version(store.conn) == len(base.MIGRATIONS)
    with SqliteConversationStore.from_path(path) as reopened:
        assert _version(reopened.conn) == len(base.MIGRATIONS)
        assert [m.id for m in reopened.list_messages(ListMessages("t", "s1"))] == ["m1"]


def test_a_first_version_file_upgrades_and_keeps_its_messages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "engram.db"
    every_migration = base.MIGRATIONS
    monkeypatch.setattr(base, "MIGRATIONS", every_migration[:1])  # a file of version 1
    with SqliteConversationStore.from_path(path) as old:
        old.create_session(_session())
        _append(old, Message(role="system", content="be brief", id="m1"))
        _append(old, Message(role="user", content="hi", id="m2"))
    monkeypatch.setattr(base, "MIGRATIONS", every_migration)
    with SqliteConversationStore.from_path(path) as upgraded:
        assert _version(upgraded.conn) == len(every_migration) > 1
        system = upgraded.list_messages(ListMessages("t", "s1", roles=("system",)))
        assert [m.id for m in system] == ["m1"]
        _append(upgraded, Message(role="user", content="again", id="m3"))
        assert [m.seq for m in upgraded.list_messages(ListMessages("t", "s1"))] == [1, 2, 3]


def test_newer_schema_requires_an_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "engram.db"
    with SqliteConversationStore.from_path(path) as store:
        store.conn.conn.execute(
            "UPDATE engram_migrations SET version = ? WHERE component = ?",
            (len(base.MIGRATIONS) + 1, base.COMPONENT),
        )
    conn = SqliteConnection(path)
    try:
        with pytest.raises(MigrationRequired, match="upgrade engramdb"):
            SqliteConversationStore(conn)
    finally:
        conn.close()


def test_a_current_schema_is_only_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "engram.db"
    with SqliteConversationStore.from_path(path) as store:
        store.create_session(_session())

    def no_writes(self: SqliteConnection) -> None:
        raise AssertionError("opening a current file took a write transaction")

    monkeypatch.setattr(SqliteConnection, "transaction", no_writes)
    with SqliteConversationStore.from_path(path) as store:  # as a read-only file opens
        found = store.get_session("t", "s1", now=NOW)
        assert found is not None and found.id == "s1"


def test_a_database_whose_directory_cannot_be_made_is_a_backend_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(BackendError, match="cannot create the directory"):
        SqliteConnection(tmp_path / "file" / "engram.db")


@pytest.mark.parametrize(("durability", "synchronous"), [("normal", 1), ("full", 2)])
def test_file_is_in_wal_mode_with_the_chosen_durability(
    tmp_path: Path, durability: str, synchronous: int
) -> None:
    with SqliteConversationStore.from_path(
        tmp_path / "engram.db",
        durability=durability,  # type: ignore[arg-type]
    ) as store:
        assert store.conn.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.conn.conn.execute("PRAGMA synchronous").fetchone()[0] == synchronous


@pytest.mark.parametrize(
    ("condition", "params", "index"),
    [
        ("", (), "messages_seq"),
        (base.AFTER_SEQ + base.BEFORE_SEQ, (10, 50), "messages_seq"),
        (*base.roles_condition(["system"]), "messages_system"),
        (*base.roles_condition(["user", "assistant", "tool"]), "messages_seq"),
    ],
    ids=["last", "range", "system", "other-roles"],
)
def test_message_reads_walk_an_index_in_seq_order(
    condition: str, params: tuple[object, ...], index: str
) -> None:
    with SqliteConversationStore.from_path(":memory:") as store:
        sql = base.SELECT_MESSAGES + condition + base.NEWEST_FIRST
        plan = store.conn.conn.execute(
            "EXPLAIN QUERY PLAN " + sql, ("t", "s1", *params, 20)
        ).fetchall()
        details = " ".join(row["detail"] for row in plan)
        assert f"USING INDEX {index}" in details
        assert "TEMP B-TREE" not in details  # no sort: rows come in seq order


def test_reads_do_not_wait_for_another_writer(tmp_path: Path) -> None:
    path = tmp_path / "engram.db"
    conn = SqliteConnection(path, busy_timeout_ms=50)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        store = SqliteConversationStore(conn)
        store.create_session(_session())
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        assert store.get_session("t", "s1", now=NOW) is not None
        assert store.list_messages(ListMessages("t", "s1", last=20)) == []
        with pytest.raises(BackendUnavailable):
            _append(store, Message(role="user", content="blocked"))
    finally:
        other.close()
        conn.close()


def test_a_failed_commit_rolls_back_and_leaves_the_connection_usable(tmp_path: Path) -> None:
    conn = SqliteConnection(tmp_path / "engram.db")
    try:
        with conn.transaction() as c:
            c.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
            c.execute(
                "CREATE TABLE child (parent INTEGER REFERENCES parent (id)"
                " DEFERRABLE INITIALLY DEFERRED)"
            )
        with pytest.raises(ConflictError), conn.transaction() as c:  # checked at COMMIT
            c.execute("INSERT INTO child VALUES (1)")
        assert not conn.conn.in_transaction
        with conn.transaction() as c:
            c.execute("INSERT INTO parent VALUES (2)")
            c.execute("INSERT INTO child VALUES (2)")
        assert [tuple(row) for row in conn.conn.execute("SELECT parent FROM child")] == [(2,)]
    finally:
        conn.close()


def test_unserialisable_metadata_is_invalid_input_and_writes_nothing() -> None:
    with SqliteConversationStore.from_path(":memory:") as store:
        store.create_session(_session())
        good = Message(role="user", content="ok")
        bad = Message(role="user", content="bad", metadata={"when": NOW})
        with pytest.raises(InvalidInputError):
            _append(store, good, bad)
        assert store.list_messages(ListMessages("t", "s1")) == []


def test_injected_connection_outlives_the_store() -> None:
    conn = SqliteConnection(":memory:")
    store = SqliteConversationStore(conn)
    store.close()
    assert store.create_session(_session()).id == "s1"
    conn.close()


def test_from_path_closes_its_connection(tmp_path: Path) -> None:
    with SqliteConversationStore.from_path(tmp_path / "engram.db") as store:
        store.create_session(_session())
    with pytest.raises(BackendError):
        store.get_session("t", "s1", now=NOW)


async def test_concurrent_async_appends_get_distinct_seqs(tmp_path: Path) -> None:
    with SqliteConversationStore.from_path(tmp_path / "engram.db") as store:
        await store.acreate_session(_session())
        ops = [
            [AppendMessages("t", "s1", (Message(role="user", content=str(i)),), NOW)]
            for i in range(20)
        ]
        await asyncio.gather(*(store.abatch(batch) for batch in ops))
        stored = await store.alist_messages(ListMessages("t", "s1"))
        assert [m.seq for m in stored] == list(range(1, 21))
        assert sorted(m.text for m in stored) == sorted(str(i) for i in range(20))


def test_text_sqlite_cannot_encode_is_invalid_input() -> None:
    with SqliteConversationStore.from_path(":memory:") as store:
        store.create_session(_session())
        with pytest.raises(InvalidInputError):
            _append(store, Message(role="user", content="lone surrogate \ud800"))
        assert store.list_messages(ListMessages("t", "s1")) == []


# Round trip of arbitrary messages through the row encoding (base.message_row/_from_row).

_text = st.text(st.characters(codec="utf-8"), max_size=8)


def _json_of(text: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """JSON values whose strings (keys included) are drawn from `text`."""
    return st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | text,
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(text, children, max_size=3)
        ),
        max_leaves=6,
    )


_json = _json_of(_text)
_metadata_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8)
"""Metadata refuses a NUL character on every backend (`check_batch`)."""
_part_keys = st.dictionaries(
    st.sampled_from(["refusal", "signature", "id", "summary", "cache_control", "detail"]),
    _json,
    max_size=3,
)
"""A part's other keys (never `type`, `text` or a part type below)."""
_parts = (
    st.builds(ContentPart, type=st.just("text"), text=_text, extra=_part_keys)
    | st.builds(
        ContentPart,
        type=st.sampled_from(["image_url", "input_audio", "file"]),
        payload=st.dictionaries(_text, _json, max_size=3),
        extra=_part_keys,
    )
    | st.builds(
        ContentPart,
        type=st.sampled_from(["thinking", "reasoning", "input_image"]),
        text=st.none() | _text,
        extra=_part_keys,
    )
)
_zones = st.sampled_from([UTC, timezone(timedelta(hours=-7)), timezone(timedelta(minutes=330))])
_messages = st.builds(
    Message,
    role=st.sampled_from(sorted(ROLES)),
    content=_text | st.lists(_parts, max_size=3).map(tuple),
    name=st.none() | _text,
    tool_calls=st.lists(st.builds(ToolCall, id=_text, name=_text, arguments=_text), max_size=2).map(
        tuple
    ),
    tool_call_id=st.none() | _text,
    metadata=st.dictionaries(_metadata_text, _json_of(_metadata_text), max_size=3),
    created_at=st.datetimes(
        min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=_zones
    ),
    tokens=st.none() | st.integers(min_value=0, max_value=2**40),
    encoding=st.none() | _text,
)


@pytest.fixture(scope="module")
def roundtrip_store() -> Iterator[SqliteConversationStore]:
    with SqliteConversationStore.from_path(":memory:") as store:
        store.create_session(_session())
        yield store


@given(message=_messages)
def test_any_message_round_trips(
    roundtrip_store: SqliteConversationStore, message: Message
) -> None:
    stored = _append(roundtrip_store, message)
    assert stored[0].seq is not None
    expected = replace(message, session_id="s1", seq=stored[0].seq)
    assert roundtrip_store.list_messages(ListMessages("t", "s1", last=1)) == [expected]


def test_purged_text_leaves_the_write_ahead_log_too(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    secret = "zanzibar-purged-7781"
    with SqliteConversationStore.from_path(path) as store:
        store.create_session(replace(_session(), ttl_seconds=10))
        _append(store, Message(role="user", content=f"my code is {secret}"))
        assert store.purge_expired("t", now=NOW + timedelta(hours=1)) == 1
        wal = path.with_name(path.name + "-wal")
        stored = path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
        assert secret.encode() not in stored  # while the database is still open


def test_a_number_past_64_bits_is_invalid_input(tmp_path: Path) -> None:
    with SqliteConversationStore.from_path(tmp_path / "e.db") as store:
        store.create_session(_session())
        with pytest.raises(InvalidInputError, match="too large"):
            store.list_messages(ListMessages("t", "s1", last=2**70))
