"""`Engram` with sessions in Redis and long-term memory in PostgreSQL, end to end.

The facade takes the two stores explicitly (`Engram(conversation_store, memory_store=...)`);
nothing is written to SQLite. Each test gets its own Redis key prefix and an empty database.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from engram import Engram, Message
from engram.stores.postgres import AsyncPostgresMemoryStore, PostgresMemoryStore
from engram.stores.redis import AsyncRedisConversationStore, RedisConversationStore

pytest_plugins = ["servers"]


def said(text: str, month: int) -> Message:
    return Message(role="user", content=text, created_at=datetime(2026, month, 10, tzinfo=UTC))


@pytest.fixture
def clients(
    redis_url: str, postgres_clean_database: str
) -> Iterator[tuple[redis.Redis, psycopg.Connection[Any]]]:
    with (
        redis.Redis.from_url(redis_url) as client,
        psycopg.connect(postgres_clean_database, autocommit=True) as conn,
    ):
        yield client, conn


@pytest.fixture
def mem(
    clients: tuple[redis.Redis, psycopg.Connection[Any]],
    redis_prefix: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Engram]:
    monkeypatch.chdir(tmp_path)  # a SQLite default (engram.db) would land here
    client, conn = clients
    conversations = RedisConversationStore(client, prefix=redis_prefix)
    with Engram(conversations, memory_store=PostgresMemoryStore(conn), tenant="acme") as engram:
        yield engram
    assert list(tmp_path.iterdir()) == []


def test_sessions_in_redis_memories_in_postgres(
    mem: Engram, clients: tuple[redis.Redis, psycopg.Connection[Any]], redis_prefix: str
) -> None:
    client, conn = clients
    mem.memories.add(messages=[said("I'm vegetarian and my partner is Tomás.", 1)], user_id="ana")
    mem.memories.add("Ana flies to Lisbon on 3 May", user_id="ana", infer=False)
    s = mem.session("trip", user_id="ana")
    s.add("system", "You are a travel assistant.")
    for i in range(30):
        s.add("user" if i % 2 == 0 else "assistant", f"Planning detail number {i} " * 6)
    s.add("user", "Can you suggest a restaurant for dinner? Remember my diet.")

    result = s.context("gpt-4o", budget=600, reserve=100, recall=5)
    assert result.report.tokens_after <= 500 and result.report.recalled
    block = next(m for m in result.messages if m.id == "memories")
    assert "vegetarian" in block.text
    assert result.messages[-1].text.startswith("Can you suggest a restaurant")

    [hit, *_] = mem.memories.search("when is Ana's flight to Lisbon?", user_id="ana")
    assert hit.memory.text == "Ana flies to Lisbon on 3 May" and hit.parts.dense > 0
    assert [m.text for m in mem.session("trip", create=False).messages(last=1)] == [
        "Can you suggest a restaurant for dinner? Remember my diet."
    ]
    # Where things live: the session's keys in Redis, the memories in PostgreSQL only.
    assert any(client.scan_iter(match=f"{redis_prefix}*"))
    stored = conn.execute(
        "SELECT count(*) FROM engram_memories WHERE tenant = 'acme' AND user_id = 'ana'"
    ).fetchone()
    vectors = conn.execute("SELECT count(*) FROM engram_memory_vectors").fetchone()
    assert stored is not None and vectors is not None
    assert stored[0] >= 2 and vectors[0] == stored[0]
    # No message in PostgreSQL (a recycled test database may hold the empty tables of others).
    table = conn.execute("SELECT to_regclass('engram_messages')").fetchone()
    if table is not None and table[0] is not None:
        assert conn.execute("SELECT count(*) FROM engram_messages").fetchone() == (0,)


def test_erasure_reaches_postgres(
    mem: Engram, clients: tuple[redis.Redis, psycopg.Connection[Any]]
) -> None:
    _, conn = clients
    mem.memories.add("Ana's passport number is X123", user_id="ana", infer=False)
    report = mem.memories.delete_all(user_id="ana")
    assert report.memories == 1 and report.vectors == 1
    left = conn.execute("SELECT count(*) FROM engram_memories WHERE text LIKE '%X123%'").fetchone()
    assert left == (0,) and mem.memories.search("passport", user_id="ana") == []


async def test_async_stores_end_to_end(
    redis_url: str, redis_prefix: str, postgres_clean_database: str
) -> None:
    import redis.asyncio as aredis

    async with (
        aredis.Redis.from_url(redis_url) as client,
        await psycopg.AsyncConnection.connect(postgres_clean_database, autocommit=True) as conn,
    ):
        memories = AsyncPostgresMemoryStore(conn)
        await memories.amigrate()
        conversations = AsyncRedisConversationStore(client, prefix=redis_prefix)
        mem = Engram(conversations, memory_store=memories, tenant="acme")
        s = await mem.asession("s1", user_id="bo")
        await s.aadd("user", "I'm Bo and I live in Porto.")
        await mem.memories.aadd("Bo lives in Porto", user_id="bo", infer=False)
        hits = await mem.memories.asearch("where does Bo live?", user_id="bo")
        assert hits[0].memory.text == "Bo lives in Porto"
        result = await s.acontext("gpt-4o", budget=400, recall=3)
        assert any("Porto" in m.text for m in result.messages if m.id == "memories")


def test_memories_exported_from_sqlite_import_into_postgres(
    mem: Engram, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with Engram(tmp_path_factory.mktemp("laptop") / "engram.db") as laptop:
        laptop.memories.add(messages=[said("I live in Berlin with Tomás.", 1)], user_id="ana")
        laptop.memories.add(messages=[said("I moved to Lisbon.", 6)], user_id="ana")
        data = laptop.memories.export(user_id="ana")
    stored = mem.memories.import_(data)
    assert len(stored) == len(data["memories"]) and {m.tenant for m in stored} == {"acme"}
    back = mem.memories.export(user_id="ana")
    for key in ("memories", "history", "entities", "relations"):
        assert [{**r, "tenant": "default"} for r in back[key]] == data[key]
    assert back["profile"]["fields"] == data["profile"]["fields"]
    [hit, *_] = mem.memories.search("Which city?", user_id="ana", kinds=["profile"])
    assert "Lisbon" in hit.memory.text and hit.parts.dense > 0.0
