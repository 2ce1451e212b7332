"""The Redis session script: one round trip per append or session read, same data as the
optimistic path, records from before the script still served."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
import redis.asyncio

from engram._exceptions import ConflictError
from engram.stores.conversation import AppendMessages, GetSession
from engram.stores.redis import RedisConversationStore, base
from engram.stores.redis._internal import Script, Tx, Work, arun, run
from engram.types import Message, Session, ToolCall

pytest_plugins = ["servers"]

NOW = datetime.now(UTC).replace(microsecond=0)
TENANT = "t:1"


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_url) as client:
        yield client


@pytest.fixture
def store(client: redis.Redis, redis_prefix: str) -> RedisConversationStore:
    return RedisConversationStore(client, prefix=redis_prefix, expiry_grace=30)


def _create(store: RedisConversationStore, session_id: str, ttl: float | None = 60.5) -> None:
    session = Session(
        id=session_id, tenant=TENANT, user_id="u:%", agent_id="a", ttl_seconds=ttl, created_at=NOW
    )
    store.create_session(session)


def _messages(tag: str) -> tuple[Message, ...]:
    return (
        Message("system", "be brief", id=f"{tag}-1", tokens=3, created_at=NOW),
        Message("user", "weather? ü", id=f"{tag}-2", tokens=5, created_at=NOW),
        Message("assistant", tool_calls=(ToolCall("c1", "w"),), id=f"{tag}-3", created_at=NOW),
        Message("tool", "sunny", tool_call_id="c1", id=f"{tag}-4", tokens=2, created_at=NOW),
    )


def _client_commands(client: redis.Redis, action: Callable[[], Any], prefix: str) -> list[str]:
    """The names of the commands clients (not scripts) sent on keys under `prefix`."""
    marker = f"end-{uuid.uuid4().hex}"
    seen: list[str] = []
    monitoring: Any = client.monitor()  # type: ignore[no-untyped-call]
    with monitoring as monitor:
        action()
        client.echo(marker)
        for entry in monitor.listen():
            if marker in entry["command"]:
                return seen
            if prefix in entry["command"] and entry["client_type"] != "lua":
                seen.append(entry["command"].split()[0])
    return seen


def test_an_append_or_a_session_read_alone_is_one_round_trip(
    store: RedisConversationStore, client: redis.Redis
) -> None:
    _create(store, "s1")
    store.get_session(TENANT, "s1", now=NOW)  # Redis has the script from now on

    def use() -> None:
        store.batch([AppendMessages(TENANT, "s1", _messages("m"), at(1))])
        store.batch([GetSession(TENANT, "s1", at(2), touch=True)])
        store.batch([GetSession(TENANT, "s1", at(3))])

    assert _client_commands(client, use, store.keys.prefix) == ["EVALSHA"] * 3


def test_the_script_derives_the_session_keys_as_the_store_lays_them_out() -> None:
    keys = base.Keys("p:").session("t:%", "s:%")
    record = keys.record
    assert (keys.messages, keys.calls, keys.summary, keys.ids) == tuple(
        record + suffix for suffix in (":m", ":c", ":u", ":i")
    )
    assert keys.roles == tuple(f"{record}:r:{role}" for role in base.INDEXED_ROLES)
    assert base.Keys("p:").message_id("t:%", "m:%") == "p:mid:t%3A%25:m%3A%25"


def test_a_script_redis_lacks_is_loaded(client: redis.Redis, redis_prefix: str) -> None:
    script = Script(f"return ARGV[1] .. '{uuid.uuid4().hex}'")
    assert client.script_exists(script.sha) == [False]

    def make(tx: Tx) -> Work[Any]:
        return (yield script.read([f"{redis_prefix}k"], ["ok-"]))

    assert run(client, make).startswith(b"ok-")
    assert client.script_exists(script.sha) == [True]


async def test_an_async_store_loads_a_script_redis_lacks(
    client: redis.Redis, redis_url: str, redis_prefix: str
) -> None:
    script = Script(f"return ARGV[1] .. '{uuid.uuid4().hex}'")

    def make(tx: Tx) -> Work[Any]:
        return (yield script.read([f"{redis_prefix}k"], ["ok-"]))

    async with redis.asyncio.Redis.from_url(redis_url) as async_client:
        assert (await arun(async_client, make)).startswith(b"ok-")
    assert client.script_exists(script.sha) == [True]


def _state(store: RedisConversationStore, client: redis.Redis, session_id: str) -> dict[str, Any]:
    """What Redis holds for a session, its id and message ids left out."""
    keys, index = store.keys.session(TENANT, session_id), store.keys
    session, last_seq = base.decode_record(client.get(keys.record) or b"")
    messages = {}
    for seq, raw in client.hgetall(keys.messages).items():
        data = json.loads(raw)
        assert data.pop("id").endswith(f"-{seq.decode()}")
        assert data.pop("session_id") == session_id
        messages[int(seq)] = data
    return {
        "session": replace(session, id=""),
        "last_seq": last_seq,
        "messages": messages,
        "roles": [client.zrange(key, 0, -1, withscores=True) for key in keys.roles],
        "calls": client.smembers(keys.calls),
        "ids": len(client.smembers(keys.ids)),
        "ttl": [client.pttl(key) // 1000 for key in (keys.ids, *keys.expiring)],
        "indexes": [
            client.zscore(key, session_id)
            for key in (
                index.sessions(TENANT),
                index.sessions_by_user(TENANT, "u:%"),
                index.sessions_by_agent(TENANT, "a"),
                index.expiry(TENANT),
            )
        ],
    }


@pytest.mark.parametrize("ttl", [60.5, None])
def test_the_script_stores_what_the_optimistic_path_stores(
    store: RedisConversationStore, client: redis.Redis, ttl: float | None
) -> None:
    for session_id in ("alone", "batched"):
        _create(store, session_id, ttl)
    store.batch([AppendMessages(TENANT, "alone", _messages("alone"), at(1))])
    store.batch(  # a batch of two ops: the optimistic transaction
        [
            GetSession(TENANT, "batched", at(1)),
            AppendMessages(TENANT, "batched", _messages("batched"), at(1)),
        ]
    )
    alone = _state(store, client, "alone")
    assert alone == _state(store, client, "batched")
    assert alone["session"].token_count == 10 and alone["last_seq"] == 4
    assert alone["calls"] == {b"c1"} and alone["ids"] == 4
    if ttl is not None:
        assert alone["session"].expires_at == at(1 + ttl)
        assert alone["indexes"][3] == base.micros(at(1 + ttl))


def test_a_touch_alone_renews_expiry_and_redis_ttl(
    store: RedisConversationStore, client: redis.Redis
) -> None:
    _create(store, "s1")
    store.batch([AppendMessages(TENANT, "s1", _messages("m"), at(1))])
    keys = store.keys.session(TENANT, "s1")
    for key in keys.expiring:
        client.pexpire(key, 5000)
    session = store.get_session(TENANT, "s1", now=at(30), touch=True)
    assert session is not None and session.expires_at == at(90.5)
    assert store.get_session(TENANT, "s1", now=at(31)) == session
    assert client.zscore(store.keys.expiry(TENANT), "s1") == base.micros(at(90.5))
    for key in keys.expiring:  # all but the summary (there is none)
        assert key == keys.summary or 60_000 < client.pttl(key) <= 90_500, key
    assert store.get_session(TENANT, "s1", now=at(90.5)) is None


def _legacy_record(session: Session, last_seq: int) -> str:
    """A session record as stores before the session script wrote it."""
    data = session.to_dict()
    for name in ("created_at", "updated_at", "expires_at"):
        moment = getattr(session, name)
        data[name] = moment.astimezone(UTC).isoformat() if moment else None
    return json.dumps({"session": data, "last_seq": last_seq})


def test_records_from_before_the_script_are_read_and_upgraded(
    store: RedisConversationStore, client: redis.Redis
) -> None:
    _create(store, "s1")
    store.batch([AppendMessages(TENANT, "s1", _messages("a"), at(1))])
    record = store.keys.session(TENANT, "s1").record
    session = store.get_session(TENANT, "s1", now=at(2))
    assert session is not None
    client.set(record, _legacy_record(session, 4), keepttl=True)
    assert store.get_session(TENANT, "s1", now=at(2)) == session
    stored = store.batch([AppendMessages(TENANT, "s1", _messages("b"), at(3))])[0]
    assert [message.seq for message in stored] == [5, 6, 7, 8]
    assert b'"updated_us":' in (client.get(record) or b"")
    after = store.get_session(TENANT, "s1", now=at(4))
    assert after is not None and (after.message_count, after.token_count) == (8, 20)
    assert after.updated_at == at(3) and after.expires_at == at(63.5)


def test_a_refused_append_leaves_its_fresh_ids_free(
    store: RedisConversationStore, client: redis.Redis
) -> None:
    _create(store, "s1")
    store.batch([AppendMessages(TENANT, "s1", (Message("user", id="taken"),), at(1))])
    sent = (Message("user", id="fresh"), Message("user", id="taken"))
    with pytest.raises(ConflictError):
        store.batch([AppendMessages(TENANT, "s1", sent, at(2))])
    assert client.exists(store.keys.message_id(TENANT, "fresh")) == 0
    session = store.get_session(TENANT, "s1", now=at(3))
    assert session is not None and session.message_count == 1 and session.updated_at == at(1)
    stored = store.batch([AppendMessages(TENANT, "s1", (Message("user", id="fresh"),), at(3))])
    assert [message.seq for message in stored[0]] == [2]
