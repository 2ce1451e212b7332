"""The checkpointer conformance suite on Redis, and what only the Redis checkpointer promises.

Modes (fixture params): the sync checkpointer through its sync API and through `abatch`, and
the async checkpointer (`redis.asyncio`, on its own loop: `servers.LoopThread`) through its
sync bridge and through `abatch`. Each test has its own key prefix, deleted after it.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import redis
import redis.asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engram._exceptions import ConfigError, InvalidInputError
from engram.state.values import content_version, encode_value
from engram.stores.checkpoints import (
    BaseCheckpointer,
    CheckpointOp,
    CopyThread,
    DeleteThread,
    GetCheckpoint,
    ListCheckpoints,
    Prune,
    PutCheckpoint,
    PutWrites,
)
from engram.stores.memory_checkpoints import InMemoryCheckpointer
from engram.stores.redis import AsyncRedisCheckpointer, RedisCheckpointer
from engram.testing.checkpoints import AsyncDrivenCheckpointer, CheckpointerSpec
from engram.types._checkpoint import (
    ChannelWrite,
    CheckpointInfo,
    EncodedList,
    PendingWrite,
    RetentionPolicy,
    StoredCheckpoint,
)
from engram.types._conversation import utcnow
from servers import LoopThread

pytest_plugins = ["servers"]

T = "tenant-a"


class LoopBoundCheckpointer(BaseCheckpointer):
    """An async checkpointer used from any thread and loop: its own loop runs every batch."""

    def __init__(self, inner: AsyncRedisCheckpointer, loop: LoopThread) -> None:
        self.inner, self._loop = inner, loop
        self.serde, self.default_retention = inner.serde, inner.default_retention

    def batch(self, ops: Sequence[CheckpointOp]) -> list[Any]:
        return self.inner.batch(ops)

    async def abatch(self, ops: Sequence[CheckpointOp]) -> list[Any]:
        future = asyncio.run_coroutine_threadsafe(self.inner.abatch(ops), self._loop.loop)
        return await asyncio.wrap_future(future)


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_url) as client:
        yield client


@pytest.fixture(params=["sync", "sync-abatch", "async", "async-abatch"])
def checkpointer(
    request: pytest.FixtureRequest, redis_url: str, redis_prefix: str, client: redis.Redis
) -> Iterator[BaseCheckpointer]:
    """A fresh Redis checkpointer per mode, with short delta chains (`snapshot_every=3`)."""
    mode: str = request.param
    if mode.startswith("sync"):
        sync = RedisCheckpointer(client, prefix=redis_prefix, snapshot_every=3)
        yield AsyncDrivenCheckpointer(sync) if mode == "sync-abatch" else sync
        return
    loop = LoopThread()

    async def build() -> AsyncRedisCheckpointer:
        return AsyncRedisCheckpointer(
            redis.asyncio.Redis.from_url(redis_url), prefix=redis_prefix, snapshot_every=3
        )

    inner = loop.run(build())
    bound = LoopBoundCheckpointer(inner, loop)
    try:
        yield AsyncDrivenCheckpointer(bound) if mode == "async-abatch" else bound
    finally:
        loop.run(inner.client.aclose())
        loop.close()


class TestRedisCheckpointer(CheckpointerSpec):
    """Every checkpointer spec, per mode."""


# Redis only.


@pytest.fixture
def cp(client: redis.Redis, redis_prefix: str) -> RedisCheckpointer:
    return RedisCheckpointer(client, prefix=redis_prefix, ttl_seconds=3600)


def _thread() -> str:
    return f"thread-{uuid.uuid4().hex[:12]}"


def _values(cp: BaseCheckpointer, tenant: str, thread: str, **kwargs: Any) -> Any:
    got = cp.get(tenant, thread, **kwargs)
    assert got is not None
    return got.values


def _ttls(client: redis.Redis, cp: RedisCheckpointer, thread: str) -> list[int]:
    keys = cp.options.keys.thread(T, thread)
    return [client.pttl(key) for key in keys.all if client.exists(key)]


def test_every_key_of_a_thread_gets_the_ttl(cp: RedisCheckpointer, client: redis.Redis) -> None:
    thread = _thread()
    info = cp.put(T, thread, {"messages": ["a", "b"], "step": 1})
    cp.put(T, thread, {"messages": ["a", "b", "c"], "step": 2})
    cp.batch([PutWrites(T, thread, "", info.id, (PendingWrite("t", "ch", ("json", b"1")),))])
    ttls = _ttls(client, cp, thread)
    assert len(ttls) == 6 and all(3_500_000 < ttl <= 3_600_000 for ttl in ttls)


def test_using_a_thread_extends_its_ttl(cp: RedisCheckpointer, client: redis.Redis) -> None:
    thread = _thread()
    cp.put(T, thread, {"a": 1})
    keys = cp.options.keys.thread(T, thread)
    for key in keys.all:
        client.pexpire(key, 5_000)
    assert cp.get(T, thread) is not None  # a read is a use
    assert all(ttl > 3_500_000 for ttl in _ttls(client, cp, thread))


def test_maintenance_is_no_use(cp: RedisCheckpointer, client: redis.Redis) -> None:
    """Listing and pruning every thread renews no TTL: abandoned threads still expire."""
    thread = _thread()
    for step in range(3):
        cp.put(T, thread, {"step": step})
    for key in cp.options.keys.thread(T, thread).all:
        client.pexpire(key, 5_000)
    assert cp.prune(T, policy=RetentionPolicy(keep_last=1)).checkpoints_deleted == 2
    assert [t.thread_id for t in cp.list_threads(T)] == [thread]
    cp.batch([ListCheckpoints(T, None)])
    assert 0 < max(_ttls(client, cp, thread)) <= 5_000


def test_reads_leave_the_ttl_alone_unless_asked(client: redis.Redis, redis_prefix: str) -> None:
    cp = RedisCheckpointer(client, prefix=redis_prefix, ttl_seconds=3600, refresh_on_read=False)
    thread = _thread()
    cp.put(T, thread, {"a": 1})
    client.pexpire(cp.options.keys.thread(T, thread).record, 5_000)
    cp.get(T, thread)
    assert client.pttl(cp.options.keys.thread(T, thread).record) <= 5_000


def test_a_thread_ttl_overrides_the_default(cp: RedisCheckpointer, client: redis.Redis) -> None:
    thread, other = _thread(), _thread()
    cp.put(T, thread, {"a": 1})
    cp.put(T, other, {"a": 1})
    cp.set_ttl(T, thread, 60)
    assert all(50_000 < ttl <= 60_000 for ttl in _ttls(client, cp, thread))
    assert all(ttl > 3_500_000 for ttl in _ttls(client, cp, other))
    cp.set_ttl(T, thread, None)  # back to the checkpointer's default
    assert all(ttl > 3_500_000 for ttl in _ttls(client, cp, thread))
    with pytest.raises(InvalidInputError):
        cp.set_ttl(T, thread, 0)


def test_without_any_ttl_keys_persist(client: redis.Redis, redis_prefix: str) -> None:
    cp = RedisCheckpointer(client, prefix=redis_prefix)
    thread = _thread()
    cp.put(T, thread, {"messages": ["a"]})
    assert set(_ttls(client, cp, thread)) == {-1}
    cp.set_ttl(T, thread, 30)
    assert all(ttl > 20_000 for ttl in _ttls(client, cp, thread))
    cp.set_ttl(T, thread, None)
    assert set(_ttls(client, cp, thread)) == {-1}


def test_a_thread_redis_expired_is_gone_and_untracked(
    cp: RedisCheckpointer, client: redis.Redis
) -> None:
    gone, kept = _thread(), _thread()
    cp.put(T, gone, {"a": 1})
    cp.put(T, kept, {"a": 2})
    for key in cp.options.keys.thread(T, gone).all:  # a deadline in the past: expired now
        client.pexpireat(key, 1)
    assert cp.get(T, gone) is None and cp.get_thread(T, gone) is None
    assert [t.thread_id for t in cp.list_threads(T)] == [kept]
    assert client.zscore(cp.options.keys.threads(T), gone) is None
    assert cp.prune(T, policy=RetentionPolicy(keep_last=1)).threads == 1


def test_storage_grows_with_what_changed(cp: RedisCheckpointer, client: redis.Redis) -> None:
    thread = _thread()
    keys = cp.options.keys.thread(T, thread)
    messages = [f"message {i} " + "x" * 200 for i in range(50)]
    cp.put(T, thread, {"messages": messages, "step": 0})
    before = (client.hlen(keys.blobs), client.memory_usage(keys.values, samples=0))
    for step in range(1, 11):
        messages = [*messages, f"message {50 + step} " + "x" * 200]
        cp.put(T, thread, {"messages": messages, "step": step})
    assert client.hlen(keys.blobs) == before[0] + 10  # one new item per put
    # samples=0: every field counted (the default estimates a hash from 5 of them: +-2x)
    grown = int(client.memory_usage(keys.values, samples=0) or 0) - int(before[1] or 0)
    assert grown < 10 * 400  # ten deltas and ten scalars, not ten copies of a 12 KB list
    assert _values(cp, T, thread)["messages"] == messages


def _commands_during(client: redis.Redis, action: Any, prefix: str) -> list[list[str]]:
    """The commands Redis ran on keys under `prefix` while `action` ran (from MONITOR)."""
    marker = f"end-{uuid.uuid4().hex}"
    seen: list[list[str]] = []
    monitoring: Any = client.monitor()  # type: ignore[no-untyped-call]
    with monitoring as monitor:
        action()
        client.echo(marker)
        for entry in monitor.listen():
            if marker in entry["command"]:
                return seen
            if entry["client_type"] == "lua":  # run by a script: part of its round trip
                continue
            if prefix in entry["command"] or entry["command"] in ("MULTI", "EXEC"):
                seen.append(entry["command"].split()[:1])
    return seen


def test_a_put_with_a_cached_parent_is_watch_one_script_and_one_transaction(
    cp: RedisCheckpointer, client: redis.Redis, redis_prefix: str
) -> None:
    thread, first, second = _thread(), *sorted(str(uuid.uuid4()) for _ in range(2))
    m1 = ChannelWrite("messages", 1, _list("a"))
    cp.batch([PutCheckpoint(T, thread, "", first, None, {"messages": 1}, (m1,))])
    m2 = ChannelWrite("messages", 2, _list("a", "b"))
    put = PutCheckpoint(T, thread, "", second, first, {"messages": 2}, (m2,))
    commands = _commands_during(client, lambda: cp.batch([put]), redis_prefix)
    names = [command[0] for command in commands]
    assert names[:2] == ["WATCH", "EVAL"] and names[2] == "MULTI" and names[-1] == "EXEC"
    assert "HSET" in names and "EVAL" not in names[3:-2]  # no reads between MULTI and EXEC
    assert _values(cp, T, thread) == {"messages": ["a", "b"]}


def _list(*items: str) -> EncodedList:
    return EncodedList(tuple(("json", f'"{item}"'.encode()) for item in items))


def test_prefixes_and_tenants_keep_threads_apart(client: redis.Redis, redis_prefix: str) -> None:
    one = RedisCheckpointer(client, prefix=f"{redis_prefix}one:")
    two = RedisCheckpointer(client, prefix=f"{redis_prefix}two:")
    one.put(T, "a:b", {"x": 1})
    one.put(T, "a", {"x": 2}, namespace="b")
    two.put("a:b", "c", {"x": 3})
    assert _values(one, T, "a:b") == {"x": 1}
    assert _values(one, T, "a", namespace="b") == {"x": 2}
    assert one.get(T, "a") is None and two.get(T, "a:b") is None
    assert _values(two, "a:b", "c") == {"x": 3} and two.get("a", "b:c") is None


def test_concurrent_writers_of_one_thread_all_land(cp: RedisCheckpointer) -> None:
    thread = _thread()
    workers = [
        threading.Thread(target=lambda n=n: [cp.put(T, thread, {"w": n, "i": i}) for i in range(8)])
        for n in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    history = cp.history(T, thread)
    assert len(history) == 32
    assert sorted(h.seq for h in history) == list(range(1, 33))  # each put saw the previous


def test_a_client_decoding_replies_is_refused(redis_url: str) -> None:
    with redis.Redis.from_url(redis_url, decode_responses=True) as decoding:
        with pytest.raises(ConfigError):
            RedisCheckpointer(decoding)


def test_async_checkpointer_refuses_sync_calls_on_its_loop(redis_url: str) -> None:
    async def scenario() -> None:
        async with AsyncRedisCheckpointer.from_url(redis_url, prefix="engram-test-x:") as cp:
            with pytest.raises(ConfigError):
                cp.get(T, "t")

    asyncio.run(scenario())


# Batches of several ops see their own writes, as the reference checkpointer's do.

_THREADS = ("t1", "t2")
_OP = st.one_of(
    st.tuples(st.just("put"), st.sampled_from(_THREADS), st.lists(st.sampled_from("abc"))),
    st.tuples(st.just("get"), st.sampled_from(_THREADS), st.none()),
    st.tuples(st.just("list"), st.sampled_from(_THREADS), st.none()),
    st.tuples(st.just("writes"), st.sampled_from(_THREADS), st.sampled_from("xy")),
    st.tuples(st.just("delete"), st.sampled_from(_THREADS), st.none()),
    st.tuples(st.just("prune"), st.sampled_from(_THREADS), st.integers(1, 3)),
    st.tuples(st.just("copy"), st.sampled_from(_THREADS), st.none()),
)


def _ops(batches: list[list[tuple[str, str, Any]]], serde: Any) -> list[list[Any]]:
    """The ops of `batches`, with explicit, increasing checkpoint ids (the same on both)."""
    made, ids = [], iter(sorted(str(uuid.uuid4()) for _ in range(200)))
    last: dict[str, str] = {}
    for batch in batches:
        ops: list[Any] = []
        for kind, thread, arg in batch:
            if kind == "put":
                value = encode_value(serde, arg)
                write = ChannelWrite("l", content_version(value), value)
                last[thread] = next(ids)
                op: Any = PutCheckpoint(
                    T, thread, "", last[thread], None, {"l": write.version}, (write,),
                    parent_is_head=True,
                )  # fmt: skip
            elif kind == "get":
                op = GetCheckpoint(T, thread)
            elif kind == "list":
                op = ListCheckpoints(T, thread, with_values=True, with_writes=True)
            elif kind == "writes":
                pending = (PendingWrite("task", arg, ("json", b"1")),)
                op = PutWrites(T, thread, "", last.get(thread, next(ids)), pending)
            elif kind == "delete":
                op = DeleteThread(T, thread)
            elif kind == "prune":
                op = Prune(T, utcnow(), (thread,), RetentionPolicy(keep_last=arg))
            else:
                op = CopyThread(T, thread, f"copy-{len(made)}-{len(ops)}")  # a new thread
            ops.append(op)
        made.append(ops)
    return made


def _comparable(result: Any) -> Any:
    """A result without what differs between backends by design (times)."""
    if isinstance(result, list):
        return [_comparable(item) for item in result]
    if isinstance(result, StoredCheckpoint):
        return result._replace(info=_comparable(result.info))
    if isinstance(result, CheckpointInfo):
        return result._replace(created_at=None)
    return result


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=st.lists(st.lists(_OP, min_size=1, max_size=5), min_size=1, max_size=6))
def test_multi_op_batches_match_the_reference(
    client: redis.Redis, redis_prefix: str, batches: list[list[tuple[str, str, Any]]]
) -> None:
    cp = RedisCheckpointer(client, prefix=f"{redis_prefix}{uuid.uuid4().hex}:", snapshot_every=3)
    reference = InMemoryCheckpointer(snapshot_every=3)
    for ops in _ops(batches, reference.serde):
        expected = _comparable(reference.batch(ops))
        assert _comparable(cp.batch(ops)) == expected, ops
    for thread in _THREADS:
        assert _comparable(cp.batch([ListCheckpoints(T, thread, with_values=True)])) == (
            _comparable(reference.batch([ListCheckpoints(T, thread, with_values=True)]))
        )
