"""Tenant isolation with hostile identifiers, on every backend.

Ids hold the characters the stores use as separators or patterns (`:`, `/`, `%`, `_`, `*`,
`?`, `[`, `{`, `}`), unicode, and run to the longest allowed. Each test fills tenant A, runs
every operation in tenant B on ids made to collide with A's under a naive key or pattern
(tenant "a:b" user "c" against tenant "a" user "b:c"), and checks A is untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engram import Engram, EngramSettings, Message
from engram._exceptions import EngramError, InvalidInputError
from engram.config import EmbeddingsSettings, LLMSettings
from engram.memory.forgetting import ForgettingPolicy
from engram.stores import (
    BaseConversationStore,
)
from engram.stores.checkpoints import BaseCheckpointer, DeleteRuns
from engram.stores.conversation import (
    AppendMessages,
    ClearMessages,
    CreateSession,
    DeleteSession,
    ListMessages,
    ListSessions,
    MergeState,
    PurgeExpired,
    PutSummary,
)
from engram.stores.events import BaseEventLog
from engram.stores.memories import (
    BaseMemoryStore,
    DeleteScope,
    ListMemories,
    MemoryFilter,
    PutMemories,
    VectorRecord,
)
from engram.stores.sqlite.memories import SqliteMemoryStore
from engram.testing._conversation_checks import T0, message, session, snapshot
from engram.testing._memory_checks import MODEL, TENANT, memory, unit_vectors
from engram.types import (
    Entity,
    Event,
    MemoryChange,
    Relation,
    RetentionPolicy,
    Snapshot,
    Summary,
    UserProfile,
)
from openai_server import (
    FakeOpenAIServer,
    ReceivedRequest,
    ScriptedResponse,
    chat_completion_body,
    embeddings_body,
    error_body,
)
from servers import fresh_store

pytest_plugins = ["servers", "openai_server"]

LONG = "x" * 255
PAIRS = [
    # (tenant A, id in A), (tenant B, id in B): a naive "tenant:id" key is the same for both.
    (("a:b", "c"), ("a", "b:c")),
    (("a%3Ab", "c"), ("a:b", "c")),
    (("t*", "s[1]"), ("t?", "s?1]")),
    (("t%", "s_"), ("t_", "s%")),
    (("t/x", "{s}"), ("t", "x/{s}")),
    (("ünï🙂", "你好"), ("ünï", "🙂你好")),
    ((LONG + "a", "s"), (LONG + "b", "s")),
]


@pytest.fixture(params=["memory", "sqlite", "postgres", "redis"])
def conversations(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A fresh conversation store of each backend (PostgreSQL and Redis: the test servers)."""
    with fresh_store(request, tmp_path, "ConversationStore") as store:
        yield store


def _fill_conversation(store: BaseConversationStore, tenant: str, sid: str, user: str) -> None:
    store.create_session(session(sid, tenant=tenant, user_id=user, agent_id=user, ttl_seconds=60))
    msgs = (message(id=f"{sid}:m1", tool_calls=("c1",)), message("assistant", id=f"{sid}:m2"))
    store.batch(
        [
            AppendMessages(tenant, sid, msgs, T0),
            PutSummary(tenant, Summary(sid, "so far", 1, updated_at=T0), None),
            MergeState(tenant, sid, {"k": sid}, T0),
        ]
    )


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_conversations_of_colliding_ids_stay_apart(
    conversations: BaseConversationStore, a: tuple[str, str], b: tuple[str, str]
) -> None:
    (tenant_a, id_a), (tenant_b, id_b) = a, b
    _fill_conversation(conversations, tenant_a, id_a, id_a)
    before = snapshot(conversations, tenant_a, now=T0)
    for sid in dict.fromkeys((id_b, id_a)):
        _fill_conversation(conversations, tenant_b, sid, sid)
    assert snapshot(conversations, tenant_a, now=T0) == before
    assert [s.id for s in conversations.list_sessions(ListSessions(tenant_b, T0, id_a))] == [id_a]
    for sid in dict.fromkeys((id_a, id_b)):
        conversations.batch([ClearMessages(tenant_b, sid, T0), ListMessages(tenant_b, sid)])
        conversations.delete_session(tenant_b, sid)
    assert conversations.purge_expired(tenant_b, now=T0 + timedelta(days=1)) == 0
    assert snapshot(conversations, tenant_a, now=T0) == before
    for user in (id_a, id_b, "*", "?", "[a-z]*", "%", "_"):
        found = conversations.list_sessions(ListSessions(tenant_a, T0, user_id=user))
        assert [s.id for s in found] == ([id_a] if user == id_a else [])


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def memories(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A fresh memory store of each backend that keeps memories (PostgreSQL: the test server)."""
    with fresh_store(request, tmp_path, "MemoryStore") as store:
        yield store


def _fill_memories(store: BaseMemoryStore, tenant: str, user: str) -> None:
    items = [
        memory(
            f"{user} drinks tea",
            id="m1",
            tenant=tenant,
            user_id=user,
            agent_id=user,
            session_id=user,
            metadata={user: user, "k": "v"},
        ),
        memory(f"{user} likes green", id="m2", tenant=tenant, user_id=user, session_id=user),
    ]
    changes = [MemoryChange(m.id, "add", new_text=m.text, tenant=tenant, at=T0) for m in items]
    vectors = [VectorRecord(MODEL, row) for row in unit_vectors(2)]
    store.put_memories(tenant, items, vectors=vectors, changes=changes)
    entity = Entity(user, id="e1", tenant=tenant, user_id=user, created_at=T0, updated_at=T0)
    store.put_entities(tenant, [entity])
    relation = Relation(
        "e1", "likes", "e1", id="r1", tenant=tenant, user_id=user, memory_id="m1", created_at=T0
    )
    store.put_relations(tenant, [relation])
    store.put_profile(UserProfile(user, tenant, {"name": user}, {"name": "m1"}, updated_at=T0))


def _memory_world(store: BaseMemoryStore, tenant: str, user: str) -> dict[str, Any]:
    everything = MemoryFilter(include_superseded=True)
    found = store.list_memories(tenant, everything, limit=1000)
    matrix = store.scan_vectors(tenant, MODEL, everything)
    return {
        "memories": [m.to_dict() for m in found],
        "history": {m.id: store.get_history(tenant, m.id) for m in found},
        "vectors": (list(matrix.ids), matrix.matrix.tolist()),
        "users": store.list_users(tenant),
        "entities": store.list_entities(tenant),
        "relations": store.list_relations(tenant),
        "profile": store.get_profile(tenant, user),
    }


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_memories_of_colliding_ids_stay_apart(
    memories: BaseMemoryStore, a: tuple[str, str], b: tuple[str, str]
) -> None:
    (tenant_a, user_a), (tenant_b, user_b) = a, b
    _fill_memories(memories, tenant_a, user_a)
    before = _memory_world(memories, tenant_a, user_a)
    for user in dict.fromkeys((user_b, user_a)):
        memories.delete_scope(tenant_b, user_id=user)
        _fill_memories(memories, tenant_b, user)
        memories.search_lexical(tenant_b, "tea", MemoryFilter(user_id=user))
        memories.search_vector(tenant_b, unit_vectors(1)[0], MODEL, MemoryFilter(user_id=user))
        memories.record_access(tenant_b, ["m1", "m2"], at=T0 + timedelta(days=1))
        memories.delete_memories(tenant_b, ["m1"])
        memories.delete_scope(tenant_b, session_id=user)
        memories.delete_scope(tenant_b, agent_id=user)
        memories.delete_scope(tenant_b, user_id=user)
    assert _memory_world(memories, tenant_a, user_a) == before
    for user in (user_b, "*", "%", "_", "[a-z]*", user_a.upper()):
        if user != user_a:
            assert memories.list_memories(tenant_a, MemoryFilter(user_id=user)) == []


ODD_KEYS = ["a.b", 'a"b', "$.a", "a[0]", "a'b", "a\\b", '"a"', "$", "", "a%", "a_b", "a\u00e9🙂"]


@pytest.mark.parametrize("key", ODD_KEYS)
def test_metadata_filter_keys_are_literal(memories: BaseMemoryStore, key: str) -> None:
    """A key with JSON-path or LIKE syntax names itself, not a path or a pattern."""
    tenant = "t"
    decoys = [
        {"a": {"b": "v"}, "$": {"a": "v"}, "a[0]": "w"},
        {"a": ["v"], "axb": "v", "a%x": "v", "ab": "v"},
        {"a": "v", "b": "v", "\\": "v", "": "w"},
    ]
    items = [memory("literal", id="literal", tenant=tenant, metadata={key: "v"})]
    items += [memory(f"decoy {i}", tenant=tenant, metadata=m) for i, m in enumerate(decoys)]
    memories.put_memories(tenant, items)
    for value, wanted in (("v", ["literal"]), (None, [])):
        found = memories.list_memories(tenant, MemoryFilter(metadata={key: value}))
        assert [m.id for m in found] == wanted


@pytest.fixture(params=["memory", "sqlite", "postgres", "redis"])
def event_log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A fresh event log of each backend (PostgreSQL and Redis: the test servers)."""
    with fresh_store(request, tmp_path, "EventLog") as log:
        yield log


def _events_world(log: BaseEventLog, tenant: str, stream: str) -> dict[str, Any]:
    return {
        "streams": log.list_streams(tenant),
        "events": [e.to_dict() for e in log.read(tenant, stream)],
        "snapshot": log.get_snapshot(tenant, stream),
    }


def _fill_stream(log: BaseEventLog, tenant: str, stream: str) -> None:
    events = [Event("thought", {"s": stream}, id=f"{stream}:1", created_at=T0)]
    log.append(tenant, stream, events, idempotency_key=stream)
    log.put_snapshot(tenant, Snapshot(stream, 1, {"s": stream}, created_at=T0))


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_event_streams_of_colliding_ids_stay_apart(
    event_log: BaseEventLog, a: tuple[str, str], b: tuple[str, str]
) -> None:
    (tenant_a, stream_a), (tenant_b, stream_b) = a, b
    _fill_stream(event_log, tenant_a, stream_a)
    before = _events_world(event_log, tenant_a, stream_a)
    for stream in dict.fromkeys((stream_b, stream_a)):
        _fill_stream(event_log, tenant_b, stream)
        assert event_log.delete_stream(tenant_b, stream)
    assert _events_world(event_log, tenant_a, stream_a) == before


@pytest.mark.parametrize("prefix", ["%", "_", "*", "?", "[", "s[", "s%", "s_", "S", "s\\"])
def test_stream_prefixes_are_literal(event_log: BaseEventLog, prefix: str) -> None:
    for stream in ("s1", "s%1", "s_1", "s*1", "s[1]", "s\\1", "x"):
        event_log.append("t", stream, [Event("thought", created_at=T0)])
    found = {s.stream_id for s in event_log.list_streams("t", prefix=prefix)}
    assert found == {
        s for s in ("s1", "s%1", "s_1", "s*1", "s[1]", "s\\1", "x") if s.startswith(prefix)
    }


@pytest.fixture(params=["memory", "sqlite", "postgres", "redis"])
def checkpointer(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A fresh checkpointer of each backend (PostgreSQL and Redis: the test servers)."""
    with fresh_store(request, tmp_path, "Checkpointer", snapshot_every=3) as cp:
        yield cp


def _threads_world(cp: BaseCheckpointer, tenant: str, thread: str) -> dict[str, Any]:
    return {
        "threads": cp.list_threads(tenant),
        "history": cp.history(tenant, thread),
        "sub": cp.history(tenant, thread, namespace="n:1"),
        "head": cp.get(tenant, thread),
    }


def _grow(cp: BaseCheckpointer, tenant: str, thread: str) -> None:
    for step in range(4):
        meta = {"run_id": thread, "step": step}
        cp.put(tenant, thread, {"messages": list(range(step)), "t": thread}, metadata=meta)
    cp.put(tenant, thread, {"x": 1}, namespace="n:1", metadata={"run_id": thread})


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_threads_of_colliding_ids_stay_apart(
    checkpointer: BaseCheckpointer, a: tuple[str, str], b: tuple[str, str]
) -> None:
    (tenant_a, thread_a), (tenant_b, thread_b) = a, b
    _grow(checkpointer, tenant_a, thread_a)
    before = _threads_world(checkpointer, tenant_a, thread_a)
    for thread in dict.fromkeys((thread_b, thread_a)):
        _grow(checkpointer, tenant_b, thread)
        checkpointer.set_retention(tenant_b, thread, RetentionPolicy(keep_last=1))
        checkpointer.fork(tenant_b, thread, thread + ":fork")
    checkpointer.prune(tenant_b, now=T0 + timedelta(days=400))
    checkpointer.prune(tenant_b, policy=RetentionPolicy(keep_last=1))
    checkpointer.batch([DeleteRuns(tenant_b, (thread_a, thread_b))])
    for thread in dict.fromkeys((thread_b, thread_a)):
        checkpointer.delete_thread(tenant_b, thread)
        checkpointer.delete_thread(tenant_b, thread + ":fork")
    assert _threads_world(checkpointer, tenant_a, thread_a) == before


@pytest.mark.parametrize("key", ODD_KEYS)
def test_checkpoint_filter_keys_are_literal(checkpointer: BaseCheckpointer, key: str) -> None:
    checkpointer.put("t", "th", {"v": 1}, metadata={key: "v"})
    for decoy in ({"a": {"b": "v"}, "$": {"a": "v"}}, {"a": ["v"], "axb": "v", "ab": "v"}):
        checkpointer.put("t", "th", {"v": 2}, metadata=decoy)
    found = checkpointer.history("t", "th", filter={key: "v"})
    assert [c.metadata for c in found] == [{key: "v"}]


USER, PASSWORD, KEY, QUERY_KEY = "svc-user", "pw-s3cr3t-9f2", "sk-test-4b7e9d1c0a", "qk-5e8a2c7f"


def _answer(request: ReceivedRequest) -> ScriptedResponse:
    if request.path.split("?")[0].endswith("/embeddings"):
        texts = request.json()["input"]
        vectors = [[1.0, float(len(text) % 7), 0.5] for text in texts]
        return ScriptedResponse(json=embeddings_body(vectors))
    reply = '{"facts": [{"text": "Ana is vegetarian", "kind": "fact"}]}'
    return ScriptedResponse(json=chat_completion_body(reply))


def test_debug_logs_hold_no_secret(
    openai_server: FakeOpenAIServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A provider base_url with user:password and a query key, and an api_key: a normal run,
    a retried request and a refused one, all logged at DEBUG, never show any of them."""
    host = openai_server.url.removeprefix("http://")
    url = f"http://{USER}:{PASSWORD}@{host}?api-key={QUERY_KEY}"
    settings = EngramSettings(
        llm=LLMSettings(model="fake-model", base_url=url, api_key=KEY, max_retries=1),
        embeddings=EmbeddingsSettings(model="fake-embedder", base_url=url, api_key=KEY),
    )
    caplog.set_level(logging.DEBUG)
    openai_server.handler = _answer
    with Engram(tmp_path / "engram.db", settings=settings) as mem:
        s = mem.session("s1", user_id="ana")
        s.add("user", "I'm Ana and I'm vegetarian.")
        mem.memories.add(messages=[Message(role="user", content="I'm vegetarian.")], user_id="ana")
        mem.memories.search("what does Ana eat?", user_id="ana")
        openai_server.enqueue(status=503, json=error_body(f"busy; key {KEY} pw {PASSWORD}"))
        openai_server.enqueue(status=400, json=error_body(f"bad key {KEY} {QUERY_KEY}"))
        with pytest.raises(EngramError):
            mem.memories.search("and Lisbon?", user_id="ana")
        logging.getLogger("test").debug("settings: %r %s", settings, settings)
    assert any("retry 1/" in record.getMessage() for record in caplog.records)
    lines = [record.getMessage() for record in caplog.records]
    leaks = [line for line in lines if any(s in line for s in (PASSWORD, KEY, QUERY_KEY))]
    assert leaks == []  # was: the retry line quoted the base_url's password


class _Embedder:
    """A deterministic embedder: letter counts (no model download)."""

    model_id = "test/letters"
    backend = "letters"
    dimension = 26

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = np.ones((len(texts), self.dimension), dtype=np.float32)
        for row, text in zip(rows, texts, strict=True):
            for char in text.lower():
                if "a" <= char <= "z":
                    row[ord(char) - ord("a")] += 1
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)


@pytest.fixture(params=["sqlite", "postgres", "redis"])
def two_tenants(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Engram, Engram]]:
    """Engrams of tenants "a:b" and "a" on one storage (Redis: sessions, SQLite: memories)."""
    tenants = ("a:b", "a")
    if request.param == "redis":
        from engram.stores.redis import RedisConversationStore

        url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
        with (
            RedisConversationStore.from_url(url, prefix=prefix) as store,
            SqliteMemoryStore.from_path(tmp_path / "m.db") as memories,
        ):
            first, second = (
                Engram(store, memory_store=memories, tenant=t, embedder=_Embedder())
                for t in tenants
            )
            yield first, second
        return
    if request.param == "sqlite":
        address = str(tmp_path / "engram.db")
    else:
        address = request.getfixturevalue("postgres_clean_database")
    with (
        Engram(address, tenant=tenants[0], embedder=_Embedder()) as first,
        Engram(address, tenant=tenants[1], embedder=_Embedder()) as second,
    ):
        yield first, second


def _tenant_world(mem: Engram) -> dict[str, Any]:
    sessions = mem.sessions()
    exported = [mem.session(s.id, create=False).export() for s in sessions]
    return {
        "sessions": [s.to_dict() for s in sessions],
        "exports": exported,
        "memories": mem.memories.export(user_id="c"),
        "users": mem.memories.users(),
    }


def _use(mem: Engram, user: str) -> None:
    s = mem.session(f"{user}:s", user_id=user)
    s.add("user", "I'm vegetarian and I live in Lisbon.")
    s.update_state({"goal": user})
    mem.memories.add("Ana is vegetarian", user_id=user, infer=False)
    mem.memories.add("Ana is a vegetarian", user_id=user, infer=False)
    mem.memories.add("Ana lives in Lisbon", user_id=user, infer=False)
    mem.memories.update_profile(user, {"city": "Lisbon"})


def test_every_operation_of_one_tenant_leaves_the_other_alone(
    two_tenants: tuple[Engram, Engram],
) -> None:
    """Tenant "a" (users "b:c", "c") runs every public operation, imports tenant "a:b"'s
    exports included; tenant "a:b" (user "c") sees no change."""
    owner, other = two_tenants
    _use(owner, "c")
    before = _tenant_world(owner)
    for user in ("b:c", "c"):
        _use(other, user)
        other.memories.search("vegetarian", user_id=user)
        other.memories.get_all(user_id=user)
        other.memories.consolidate(user_id=user, threshold=0.5)
        other.memories.forget(ForgettingPolicy(max_per_user=1), user_id=user)
    other.memories.delete_all(user_id="c")
    other.memories.import_(before["memories"])
    for export in before["exports"]:
        other.import_session(export, session_id="imported")
        other.session("imported", create=False).delete()
    other.memories.delete_all(user_id="c")
    other.delete_user("c")
    other.delete_user("b:c")
    other.purge_expired()
    assert _tenant_world(owner) == before


BAD_IDS = ["", " ", "x" * 257, "a\x00b", "a\ud800b"]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_conversation_stores_refuse_a_bad_tenant(
    conversations: BaseConversationStore, bad: str
) -> None:
    """As the event log and the checkpointer do (was: any string was a tenant, the empty
    one included), and the batch writes nothing."""
    good = CreateSession(session("s", tenant="t"))
    for op in (CreateSession(session("s", tenant=bad)), CreateSession(session(bad, tenant="t"))):
        with pytest.raises(InvalidInputError):
            conversations.batch([good, op])
    for op in (ListSessions(bad, T0), DeleteSession(bad, "s"), PurgeExpired(bad, T0)):
        with pytest.raises(InvalidInputError):
            conversations.batch([op])
    assert conversations.list_sessions(ListSessions("t", T0)) == []


@pytest.mark.parametrize("bad", BAD_IDS)
def test_memory_stores_refuse_a_bad_tenant(memories: BaseMemoryStore, bad: str) -> None:
    """As the event log and the checkpointer do (was: any string was a tenant, the empty
    one included), and the batch writes nothing."""
    good = PutMemories("t", (memory(tenant="t"),))
    with pytest.raises(InvalidInputError):
        memories.batch([good, PutMemories(bad, (memory(tenant=bad),))])
    for op in (ListMemories(bad, MemoryFilter()), DeleteScope(bad, user_id="u1")):
        with pytest.raises(InvalidInputError):
            memories.batch([op])
    assert memories.list_memories("t") == []


@pytest.mark.parametrize("bad", BAD_IDS)
def test_memory_stores_refuse_bad_ids_below_engram(memories: BaseMemoryStore, bad: str) -> None:
    """A store used on its own refuses the ids `Engram` refuses (was: a NUL, blank or over-long
    user, agent or memory id was stored as given), and writes nothing of the batch."""
    records = [
        memory(id=bad),
        memory(user_id=bad),
        memory(agent_id=bad),
        memory(session_id=bad),
    ]
    for record in records:
        with pytest.raises(InvalidInputError):
            memories.batch(
                [PutMemories("t", (memory(tenant="t"),)), PutMemories(TENANT, (record,))]
            )
    entity = Entity("Ana", id=bad, tenant=TENANT, user_id="u1", created_at=T0, updated_at=T0)
    with pytest.raises(InvalidInputError):
        memories.put_entities(TENANT, [entity])
    with pytest.raises(InvalidInputError):
        memories.put_profile(UserProfile(bad, TENANT, {"name": "Ana"}, {}, updated_at=T0))
    with pytest.raises(InvalidInputError):
        memories.list_memories(TENANT, MemoryFilter(user_id=bad))
    assert memories.list_memories("t") == []
    assert memories.list_memories(TENANT) == []
    assert memories.list_entities(TENANT) == []


@pytest.mark.parametrize("bad", BAD_IDS)
def test_conversation_stores_refuse_a_bad_user_or_agent(
    conversations: BaseConversationStore, bad: str
) -> None:
    for fields in ({"user_id": bad}, {"agent_id": bad}):
        with pytest.raises(InvalidInputError):
            conversations.batch([CreateSession(session("s", tenant="t", **fields))])
    assert conversations.list_sessions(ListSessions("t", T0)) == []
