"""The Redis checkpointer (sync); the async twin is in `aio.py`.

Agent checkpoints per tenant and thread, stored as the other checkpointers store them (see
`engram.stores.checkpoints`): a header per checkpoint, each channel version once, lists as
deltas of content-addressed items, so a thread's memory grows with what changed. The key
layout is in `_checkpoint_codec.py`, the batch's view of a thread in `_checkpoint_batch.py`,
writes in `_checkpoint_write.py`, reads in `_checkpoint_load.py` and deletion in
`_checkpoint_prune.py`; delta planning, retention and garbage collection in `engram.state`.

Each batch is one optimistic transaction (`_internal`): it watches the keys of every thread it
touches, so it is all-or-nothing and isolated; of two writers of one thread, the later one
runs again on fresh reads. A LangGraph put is three round trips: `WATCH`, one script reading
what the put needs (`PREFETCH_SCRIPT`), and `MULTI`/`EXEC` with the writes.

Expiry: with `ttl_seconds` (or a thread's own TTL, `set_ttl`) every key of a thread gets that
Redis TTL again each time the thread is used (written, or read when `refresh_on_read`), so
an abandoned thread leaves Redis on its own. Its entry in the tenant's thread index stays
until a listing, a prune or a run deletion finds it gone and drops it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from engram._exceptions import ConfigError, InvalidInputError
from engram._validation import check_identifier
from engram.serde import SerializerProtocol
from engram.stores import checkpoints as ops
from engram.stores._cache import BoundedCache
from engram.stores.redis import _checkpoint_codec as codec
from engram.stores.redis import _checkpoint_load as load
from engram.stores.redis import _checkpoint_prune as prune
from engram.stores.redis import _checkpoint_write as write
from engram.stores.redis._checkpoint_batch import CheckpointBatch, ListCache
from engram.stores.redis._checkpoint_write import SetThreadTtl
from engram.stores.redis._internal import Client, Tx, Work, client_from, connect, run
from engram.types._checkpoint import RetentionPolicy

__all__ = [
    "CheckpointerOptions",
    "RedisCheckpointOp",
    "RedisCheckpointer",
    "SetThreadTtl",
    "check_client",
    "checkpoint_work",
]

RedisCheckpointOp = ops.CheckpointOp | SetThreadTtl


class CheckpointerOptions:
    """What the sync and async Redis checkpointers share: options, caches, the batch maker."""

    def __init__(
        self,
        *,
        prefix: str,
        snapshot_every: int,
        ttl_seconds: float | None,
        refresh_on_read: bool,
        cache_size: int,
    ) -> None:
        if ttl_seconds is not None and not ttl_seconds > 0:
            raise InvalidInputError("ttl_seconds must be positive (or None)")
        self.keys = codec.CheckpointKeys(prefix)
        self.snapshot_every = snapshot_every
        self.ttl_ms = None if ttl_seconds is None else max(1, int(ttl_seconds * 1000))
        self.refresh_on_read = refresh_on_read
        self.lists: ListCache = BoundedCache(cache_size)

    def work(
        self, ops_: Sequence[RedisCheckpointOp], default_retention: RetentionPolicy | None
    ) -> Callable[[Tx], Work[list[Any]]]:
        """Validate `ops_`; return what makes one run of their batch."""
        for op in ops_:
            ops.check_op(op)  # type: ignore[arg-type]  # SetThreadTtl: its tenant is checked
            if isinstance(op, SetThreadTtl):
                check_identifier(op.thread_id, "thread_id")

        def make(tx: Tx) -> Work[list[Any]]:
            batch = CheckpointBatch(tx, self.keys, self.lists, self.ttl_ms, self.refresh_on_read)
            return checkpoint_work(ops_, batch, self.snapshot_every, default_retention)

        return make


def check_client(client: Any) -> Any:
    """`client`, if its replies are bytes: checkpoints store binary data.

    Raises:
        ConfigError: The client decodes replies (`decode_responses=True`).
    """
    pool = getattr(client, "connection_pool", None)
    if pool is not None and pool.connection_kwargs.get("decode_responses"):
        raise ConfigError(
            "the Redis checkpointer stores bytes: give it a client without decode_responses"
        )
    return client


def checkpoint_work(
    ops_: Sequence[RedisCheckpointOp],
    batch: CheckpointBatch,
    snapshot_every: int,
    default_retention: RetentionPolicy | None,
) -> Work[list[Any]]:
    """The reads and writes of a batch: each op's, in order; returns the results in order."""
    results: list[Any] = []
    for op in ops_:
        results.append((yield from _run(batch, op, snapshot_every, default_retention)))
    batch.finish()
    return results


def _run(
    batch: CheckpointBatch,
    op: RedisCheckpointOp,
    snapshot_every: int,
    default_retention: RetentionPolicy | None,
) -> Work[Any]:
    match op:
        case ops.PutCheckpoint():
            return (yield from write.put(batch, op, snapshot_every))
        case ops.GetCheckpoint():
            return (yield from load.get_checkpoint(batch, op))
        case ops.ListCheckpoints():
            return (yield from load.list_checkpoints(batch, op))
        case ops.PutWrites():
            return (yield from write.put_writes(batch, op))
        case ops.Rollback():
            return (yield from write.rollback(batch, op))
        case ops.ForkThread():
            return (yield from write.fork(batch, op))
        case ops.CopyThread():
            return (yield from write.copy_thread(batch, op))
        case ops.DeleteThread():
            return (yield from write.delete_thread(batch, op))
        case ops.DeleteRuns():
            return (yield from prune.delete_runs(batch, op))
        case ops.Prune():
            return (yield from prune.prune(batch, op, default_retention))
        case ops.SetRetention():
            return (yield from write.set_retention(batch, op))
        case SetThreadTtl():
            return (yield from write.set_ttl(batch, op))
        case ops.GetThread():
            return (yield from load.get_thread(batch, op))
        case ops.ListThreads():
            return (yield from load.list_threads(batch, op))
    raise InvalidInputError(f"unsupported checkpoint operation {type(op).__name__}")


class RedisCheckpointer(ops.BaseCheckpointer):
    """Checkpoints in Redis, with retention, rollback, fork and TTL.

    It never closes an injected client or pool; `from_url` opens and closes its own.
    Thread-safe (each batch uses its own pooled connection). `abatch` runs the batch on a
    worker thread; for real async I/O use `AsyncRedisCheckpointer`.

    Args:
        client: A `redis.Redis` client or a `redis.ConnectionPool`.
        prefix: Prepended to every key (several stores or apps can share one database).
        serde: Serializer of the convenience API's values (default JSON).
        default_retention: The policy `prune` applies to threads without their own.
        snapshot_every: The longest list delta chain before a full snapshot.
        ttl_seconds: Expire a thread this long after it was last used (None: never); a
            thread's own TTL (`set_ttl`) overrides it.
        refresh_on_read: Reading a thread also renews its TTL (else only writing does).
        cache_size: Resolved list versions kept in process (saves reads on puts).

    Example:
        ```python
        with RedisCheckpointer.from_url("redis://localhost:6379/0", ttl_seconds=86400) as cp:
            cp.put("default", "thread-1", {"messages": ["hi"]})
        ```
    """

    def __init__(
        self,
        client: Client | Any,
        *,
        prefix: str = "engram:",
        serde: SerializerProtocol | None = None,
        default_retention: RetentionPolicy | None = None,
        snapshot_every: int = 16,
        ttl_seconds: float | None = None,
        refresh_on_read: bool = True,
        cache_size: int = 4096,
    ) -> None:
        self.client = check_client(client_from(client))
        self.options = CheckpointerOptions(
            prefix=prefix,
            snapshot_every=snapshot_every,
            ttl_seconds=ttl_seconds,
            refresh_on_read=refresh_on_read,
            cache_size=cache_size,
        )
        if serde is not None:
            self.serde = serde
        self.default_retention = default_retention

    @classmethod
    @contextmanager
    def from_url(cls, url: str, **options: Any) -> Iterator[RedisCheckpointer]:
        """Open a checkpointer on its own client to `url`, closed when the block exits.

        Args:
            url: A Redis URL (`redis://host:port/db`).
            **options: As for the constructor.
        """
        with connect(url) as client:
            yield cls(client, **options)

    def batch(self, ops_: Sequence[RedisCheckpointOp]) -> list[Any]:
        """Run `ops_` in order in one optimistic transaction; return their results in order."""
        make = self.options.work(ops_, self.default_retention)
        return run(self.client, make) if ops_ else []

    async def abatch(self, ops_: Sequence[RedisCheckpointOp]) -> list[Any]:
        """Async `batch` on a worker thread (this class's I/O is blocking)."""
        return await asyncio.to_thread(self.batch, ops_)

    def set_ttl(self, tenant: str, thread_id: str, ttl_seconds: float | None) -> None:
        """Set (or with None, clear) the thread's own TTL (see `SetThreadTtl`)."""
        self.batch([SetThreadTtl(tenant, thread_id, ttl_seconds)])

    async def aset_ttl(self, tenant: str, thread_id: str, ttl_seconds: float | None) -> None:
        await self.abatch([SetThreadTtl(tenant, thread_id, ttl_seconds)])
