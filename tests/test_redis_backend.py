"""Redis backend specifics: TTLs, expiry by `now` and by Redis, O(N) reads, transactions."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from engram._exceptions import (
    BackendUnavailable,
    ConfigError,
    ConflictError,
    InvalidInputError,
)
from engram.stores.conversation import (
    AppendMessages,
    ListMessages,
    ListSessions,
    MergeState,
    PutSummary,
)
from engram.stores.redis import (
    AsyncRedisConversationStore,
    AsyncRedisEventLog,
    RedisConversationStore,
    RedisEventLog,
    base,
)
from engram.stores.redis._internal import Read, Tx, Work, run
from engram.types import Event, Message, Session, Summary, ToolCall

pytest_plugins = ["servers"]

NOW = datetime.now(UTC).replace(microsecond=0)
TENANT = "acme"


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_url) as client:
        yield client


@pytest.fixture
def store(client: redis.Redis, redis_prefix: str) -> RedisConversationStore:
    return RedisConversationStore(client, prefix=redis_prefix, expiry_grace=30)


def _fill(store: RedisConversationStore, session_id: str = "s1", ttl: float | None = 60) -> None:
    store.create_session(Session(id=session_id, tenant=TENANT, ttl_seconds=ttl, created_at=NOW))
    messages = (
        Message(role="system", content="be brief", id=f"{session_id}-m1"),
        Message(role="user", content="weather?", id=f"{session_id}-m2"),
        Message(role="assistant", tool_calls=(ToolCall("c1", "weather"),), id=f"{session_id}-m3"),
        Message(role="tool", content="sunny", tool_call_id="c1", id=f"{session_id}-m4"),
    )
    store.batch(
        [
            AppendMessages(TENANT, session_id, messages, NOW),
            PutSummary(TENANT, Summary(session_id, "so far", 1), None),
            MergeState(TENANT, session_id, {"k": 1}, NOW),
        ]
    )


def test_every_key_of_an_expiring_session_gets_its_ttl(
    store: RedisConversationStore, client: redis.Redis
) -> None:
    _fill(store)
    keys = store.keys.session(TENANT, "s1")
    for key in keys.expiring:
        assert 60_000 < client.pttl(key) <= 90_000, key  # ttl_seconds + expiry_grace
    # Bookkeeping that Redis expiry must not drop: purge_expired tidies it.
    assert client.pttl(keys.ids) == -1
    assert client.pttl(store.keys.message_id(TENANT, "s1-m1")) == -1


def test_a_session_without_ttl_has_no_redis_ttl(
    store: RedisConversationStore, client: redis.Redis
) -> None:
    _fill(store, ttl=None)
    keys = store.keys.session(TENANT, "s1")
    assert [client.pttl(key) for key in (keys.record, keys.messages)] == [-1, -1]


def test_expiry_is_judged_at_now_before_redis_drops_anything(
    store: RedisConversationStore, client: redis.Redis
) -> None:
    _fill(store)
    assert store.get_session(TENANT, "s1", now=at(60)) is None
    assert store.list_sessions(ListSessions(TENANT, now=at(60))) == []
    assert client.exists(store.keys.session(TENANT, "s1").record) == 1


def test_purge_tidies_what_redis_expiry_left(
    store: RedisConversationStore, client: redis.Redis
) -> None:
    _fill(store, "gone")
    _fill(store, "kept", ttl=None)
    keys = store.keys.session(TENANT, "gone")
    for key in keys.expiring:  # an expiry time in the past: Redis expires the key now
        client.pexpireat(key, 1)
    assert client.exists(*keys.expiring) == 0
    assert store.get_session(TENANT, "gone", now=NOW) is None
    # Like an expired, unpurged session of the SQL stores, it still holds its message ids.
    with pytest.raises(ConflictError):
        store.batch([AppendMessages(TENANT, "kept", (Message("user", id="gone-m1"),), NOW)])
    assert store.purge_expired(TENANT, now=at(3600)) == 0  # nothing left to count
    assert client.exists(keys.ids, store.keys.message_id(TENANT, "gone-m1")) == 0
    assert client.zscore(store.keys.expiry(TENANT), "gone") is None
    listed = store.list_sessions(ListSessions(TENANT, now=NOW))
    assert [session.id for session in listed] == ["kept"]
    assert client.zscore(store.keys.sessions(TENANT), "gone") is None
    store.batch([AppendMessages(TENANT, "kept", (Message("user", id="gone-m1"),), NOW)])


def _commands_during(client: redis.Redis, action: Any, prefix: str) -> list[list[str]]:
    """The commands on keys under `prefix` Redis ran while `action` ran (from MONITOR)."""
    marker = f"end-{uuid.uuid4().hex}"
    seen: list[list[str]] = []
    monitoring: Any = client.monitor()  # type: ignore[no-untyped-call]
    with monitoring as monitor:
        action()
        client.echo(marker)
        for entry in monitor.listen():
            if marker in entry["command"]:
                return seen
            if prefix in entry["command"]:  # other clients may be busy on this server too
                seen.append(entry["command"].split())
    return seen


def test_reading_the_last_n_messages_reads_n(
    store: RedisConversationStore, client: redis.Redis
) -> None:
    store.create_session(Session(id="s1", tenant=TENANT, created_at=NOW))
    store.batch(
        [AppendMessages(TENANT, "s1", tuple(Message("user", f"m{n}") for n in range(500)), NOW)]
    )
    got: list[list[Message]] = []
    commands = _commands_during(
        client,
        lambda: got.append(store.list_messages(ListMessages(TENANT, "s1", last=3))),
        store.keys.prefix,
    )
    assert [message.seq for message in got[0]] == [498, 499, 500]
    assert [c[2:] for c in commands if c[0] == "HMGET"] == [["498", "499", "500"]]


def test_a_role_filter_reads_from_the_role_index(
    store: RedisConversationStore, client: redis.Redis
) -> None:
    _fill(store)
    commands = _commands_during(
        client,
        lambda: store.list_messages(ListMessages(TENANT, "s1", last=1, roles=("system",))),
        store.keys.prefix,
    )
    ranges = [c[-3:] for c in commands if c[0] == "ZREVRANGEBYSCORE"]
    assert ranges == [["LIMIT", "0", "1"]]
    assert [c[2:] for c in commands if c[0] == "HMGET"] == [["1"]]


def test_prefixes_and_separators_keep_keys_apart(client: redis.Redis, redis_prefix: str) -> None:
    first = RedisConversationStore(client, prefix=f"{redis_prefix}one:")
    second = RedisConversationStore(client, prefix=f"{redis_prefix}two:")
    first.create_session(Session(id="s1", tenant="t"))
    assert second.get_session("t", "s1", now=NOW) is None
    first.create_session(Session(id="c", tenant="a:b"))
    first.create_session(Session(id="b:c", tenant="a"))  # no collision with ("a:b", "c")
    assert first.get_session("a:b", "b:c", now=NOW) is None


def test_messages_need_a_chat_role(store: RedisConversationStore) -> None:
    store.create_session(Session(id="s1", tenant=TENANT))
    odd = Message(role="narrator", content="meanwhile")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="narrator"):
        store.batch([AppendMessages(TENANT, "s1", (odd,), NOW)])


def test_a_batch_whose_reads_went_stale_runs_again(client: redis.Redis, redis_prefix: str) -> None:
    key, runs = f"{redis_prefix}counter", list[int]()

    def make(tx: Tx) -> Work[int]:
        value = int((yield Read(("GET", key), (key,))) or 0)
        if not runs:  # another client writes the key between our read and our commit
            client.set(key, 10)
        runs.append(value)
        tx.write("SET", key, value + 1)
        return value + 1

    assert run(client, make) == 11
    assert runs == [0, 10] and int(client.get(key) or 0) == 11


def test_unreachable_redis_is_backend_unavailable() -> None:
    with RedisEventLog.from_url("redis://127.0.0.1:1/0") as log:
        with pytest.raises(BackendUnavailable):
            log.append(TENANT, "s1", [Event.thought("x")])


def test_a_connection_pool_is_accepted(redis_url: str, redis_prefix: str) -> None:
    pool = redis.ConnectionPool.from_url(redis_url)
    log = RedisEventLog(pool, prefix=redis_prefix)
    assert log.append(TENANT, "s1", [Event.thought("x")]).last_version == 1
    pool.disconnect()


async def test_async_store_refuses_sync_calls_on_its_own_loop(
    redis_url: str, redis_prefix: str
) -> None:
    async with AsyncRedisConversationStore.from_url(redis_url, prefix=redis_prefix) as store:
        await store.acreate_session(Session(id="s1", tenant=TENANT))
        with pytest.raises(ConfigError, match="await its a-methods"):
            store.get_session(TENANT, "s1", now=NOW)
        session = await asyncio.to_thread(store.get_session, TENANT, "s1", now=NOW)
        assert session is not None and session.id == "s1"
    async with AsyncRedisEventLog.from_url(redis_url, prefix=redis_prefix) as log:
        await log.aappend(TENANT, "s1", [Event.thought("x")])
        assert [e.version for e in await log.aread(TENANT, "s1")] == [1]


def _all_keys(keys: base.Keys, tenant: str, session_id: str) -> set[str]:
    session = keys.session(tenant, session_id)
    return {session.record, *session.children, *keys.stream(tenant, session_id).all}


_IDS = st.text(alphabet=st.sampled_from("ab:%3A"), min_size=1, max_size=6)


@given(st.tuples(_IDS, _IDS), st.tuples(_IDS, _IDS))
def test_no_two_sessions_or_streams_share_a_key(
    first: tuple[str, str], second: tuple[str, str]
) -> None:
    keys = base.Keys("p:")
    shared = _all_keys(keys, *first) & _all_keys(keys, *second)
    assert (shared == set()) is (first != second)


_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)


@given(_TEXT, st.dictionaries(_TEXT, _TEXT | st.integers() | st.none(), max_size=3))
def test_messages_round_trip_through_their_encoding(text: str, metadata: dict[str, Any]) -> None:
    message = Message("assistant", text, metadata=metadata, session_id="s", seq=3, tokens=4)
    assert base.decode_message(base.encode_message(message)) == message
