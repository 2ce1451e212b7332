"""The storage contract for agent checkpoints: versioned state per thread, with retention.

A backend implements `batch(ops)` and `abatch(ops)` over the typed operations below; every
convenience method (`put`, `get`, `history`, `rollback`, `fork`, `prune`, ...) is written
once here. Every operation carries its tenant and backends scope every query by it.

A batch runs its operations in order and atomically; results come back in order.

Checkpoints live on a thread and a namespace (`""` unless LangGraph subgraphs add others).
Each names a version per channel (`CheckpointInfo.versions`); a version's value is stored
once, when first written (`ChannelWrite`), and list values are stored as deltas (see
`engram.state.values`), so storage grows with what changed. (The SQLite backend keeps
values of up to 128 bytes inline in each checkpoint's compressed header instead: cheaper
than a row of their own.)

Example:
    ```python
    checkpointer = InMemoryCheckpointer()
    first = checkpointer.put("default", "t1", {"messages": ["hi"], "step": 1})
    checkpointer.put("default", "t1", {"messages": ["hi", "hello"], "step": 2})
    checkpointer.rollback("default", "t1", first.id)  # a new head equal to `first`
    [info.seq for info in checkpointer.history("default", "t1")]  # [3, 2, 1]
    ```
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Generator, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from engram._exceptions import InvalidInputError
from engram._validation import check_identifier, check_int, check_list, check_text
from engram.serde import JsonSerializer, SerializerProtocol
from engram.state.checkpoints import (
    fork_histories,
    id_to_bytes,
    is_checkpoint_id,
    is_child_namespace,
    needs_ancestors,
    next_checkpoint_id,
)
from engram.state.rollback import (
    asks,
    carry,
    needs_send_targets,
    send_targets,
    unanswered,
)
from engram.state.values import content_version, decode_value, encode_value
from engram.types._checkpoint import (
    ChannelVersion,
    ChannelWrite,
    Checkpoint,
    CheckpointInfo,
    EncodedValue,
    PendingWrite,
    PruneReport,
    RetentionPolicy,
    StoredCheckpoint,
    ThreadInfo,
)
from engram.types._conversation import utcnow

__all__ = [
    "BaseCheckpointer",
    "CheckpointOp",
    "CopyThread",
    "DeleteRuns",
    "DeleteThread",
    "ForkThread",
    "GetCheckpoint",
    "GetThread",
    "ListCheckpoints",
    "ListThreads",
    "Prune",
    "PutCheckpoint",
    "PutWrites",
    "Rollback",
    "SetRetention",
    "check_checkpoint_id",
    "check_op",
]


class PutCheckpoint(NamedTuple):
    """Store a checkpoint and the channel versions it introduces. Result: `CheckpointInfo`.

    A channel version that is already stored is not stored again. `checkpoint_id=None`
    makes a new id that sorts after the thread's head; `parent_is_head=True` links the
    checkpoint to the current head instead of `parent_id`. Rewriting an existing id replaces
    its header (LangGraph semantics). `InvalidInputError` if the id is not a UUID string.
    """

    tenant: str
    thread_id: str
    namespace: str
    checkpoint_id: str | None
    parent_id: str | None
    versions: Mapping[str, ChannelVersion]
    writes: tuple[ChannelWrite, ...] = ()
    metadata: Mapping[str, Any] | None = None
    extra: EncodedValue | None = None
    created_at: datetime | None = None
    parent_is_head: bool = False


class GetCheckpoint(NamedTuple):
    """Read one checkpoint (the head when `checkpoint_id` is None).
    Result: `StoredCheckpoint` or None."""

    tenant: str
    thread_id: str
    namespace: str = ""
    checkpoint_id: str | None = None
    with_values: bool = True
    with_writes: bool = True


class ListCheckpoints(NamedTuple):
    """List checkpoints newest first. Result: `list[StoredCheckpoint]`.

    `thread_id=None` lists every thread of the tenant, `namespace=None` every namespace.
    `filter` keeps checkpoints whose metadata has these key/values; `before` keeps ids
    below it (`InvalidInputError` if it is not a checkpoint id); `checkpoint_id` keeps only
    the checkpoints with that id (none if it is not a checkpoint id); values and pending
    writes are loaded only when asked for."""

    tenant: str
    thread_id: str | None
    namespace: str | None = ""
    filter: Mapping[str, Any] | None = None
    before: str | None = None
    limit: int | None = None
    with_values: bool = False
    with_writes: bool = False
    checkpoint_id: str | None = None


class PutWrites(NamedTuple):
    """Attach pending writes to a checkpoint. Result: None.

    A write with the same `(task_id, idx)` as a stored one is ignored, unless `replace`."""

    tenant: str
    thread_id: str
    namespace: str
    checkpoint_id: str
    writes: tuple[PendingWrite, ...]
    replace: bool = False


class Rollback(NamedTuple):
    """Make a new head whose values equal checkpoint `checkpoint_id`'s (history is kept).
    Result: the new `CheckpointInfo`, whose parent is the old head. `NotFoundError` if absent.

    The op copies no pending writes; `BaseCheckpointer.rollback` attaches the target's
    (see `engram.state.rollback`) in the same batch, to the id it chose: `new_checkpoint_id`
    (None: a new id after the head's). `ConflictError` if that id does not sort after the
    head's (a checkpoint was added since it was chosen)."""

    tenant: str
    thread_id: str
    checkpoint_id: str
    namespace: str = ""
    metadata: Mapping[str, Any] | None = None
    new_checkpoint_id: str | None = None


class ForkThread(NamedTuple):
    """Start thread `new_thread_id` from a checkpoint of another (the head if None): its
    first checkpoint is a copy of that checkpoint, with the same id, values, pending writes
    and writer data (`seq` 1, no parent, `metadata["forked_from"]` naming the source). The
    id is kept because LangGraph derives task ids from it: the copied pending writes (an
    interrupt, the writes of the tasks that finished) stay those of the fork's tasks.
    Result: the new `CheckpointInfo`. `NotFoundError` if the source is absent,
    `ConflictError` if the new thread exists.

    The op copies that one checkpoint (its pending writes only if `copy_writes`);
    `BaseCheckpointer.fork` also copies the nested namespaces it needs (a paused subgraph's
    state), and attaches the writes itself when it leaves out answers, in the same batch."""

    tenant: str
    thread_id: str
    new_thread_id: str
    checkpoint_id: str | None = None
    namespace: str = ""
    metadata: Mapping[str, Any] | None = None
    copy_writes: bool = True


class CopyThread(NamedTuple):
    """Copy every checkpoint, value and pending write of a thread into a new thread (same
    ids). Result: the number of checkpoints copied (0 if the source does not exist: no
    error, and no target thread made, as LangGraph's conformance suite expects).
    `ConflictError` if the target thread exists, as for a fork: two histories merged into
    one would make a head of whichever checkpoint id is largest."""

    tenant: str
    source_thread_id: str
    target_thread_id: str


class DeleteThread(NamedTuple):
    """Delete a thread with everything stored for it. Result: True if it existed."""

    tenant: str
    thread_id: str


class DeleteRuns(NamedTuple):
    """Delete the checkpoints whose `metadata["run_id"]` is one of `run_ids`, with their
    writes and the values nothing else needs. Result: checkpoints deleted.

    A checkpoint another one rebuilds a LangGraph `DeltaChannel` from (its parent chain
    back to the channel's last snapshot) stays: see `engram.state.retention`."""

    tenant: str
    run_ids: tuple[str, ...]


class Prune(NamedTuple):
    """Apply retention to threads (all of the tenant's when `thread_ids` is None).

    `policy` overrides; otherwise each thread's own policy applies, else the backend's
    `default_retention`, else nothing is pruned. A removed checkpoint's values, pending
    writes and the list items only it held are deleted with it (a kept list stored as a
    delta of a removed one is stored whole first). One exception, whatever `max_age` says:
    a kept checkpoint keeps what it rebuilds a LangGraph `DeltaChannel` from, its parent
    chain back to the channel's last snapshot (up to the channel's `snapshot_frequency`
    checkpoints), whole and however old, as long as it is kept (counted in
    `checkpoints_kept`, listed in its history): LangGraph rebuilds the channel by replaying
    those checkpoints' writes with the graph's reducer, which a checkpointer does not have.
    Result: `PruneReport` (with `dry_run`, what would be removed; nothing is)."""

    tenant: str
    now: datetime
    thread_ids: tuple[str, ...] | None = None
    policy: RetentionPolicy | None = None
    dry_run: bool = False


class SetRetention(NamedTuple):
    """Set (or with None, clear) a thread's own retention policy. Result: None."""

    tenant: str
    thread_id: str
    policy: RetentionPolicy | None


class GetThread(NamedTuple):
    """Read a thread's summary. Result: `ThreadInfo` or None."""

    tenant: str
    thread_id: str


class ListThreads(NamedTuple):
    """List threads, newest (most recently created) first. Result: `list[ThreadInfo]`."""

    tenant: str
    limit: int = 100
    offset: int = 0


CheckpointOp = (
    PutCheckpoint
    | GetCheckpoint
    | ListCheckpoints
    | PutWrites
    | Rollback
    | ForkThread
    | CopyThread
    | DeleteThread
    | DeleteRuns
    | Prune
    | SetRetention
    | GetThread
    | ListThreads
)


_INT32 = 2**31
"""A pending write's `idx` is from -2**31 to 2**31-1: what PostgreSQL's `integer` holds."""


def check_op(op: CheckpointOp) -> None:
    """Reject malformed arguments of any op (`InvalidInputError`), before anything is written."""
    if type(op) is PutCheckpoint:  # the hot path (one per agent step): the same checks, fewer
        _identifier(op.tenant, "tenant")
        _identifier(op.thread_id, "thread_id")
        _namespace(op.namespace)
        if op.checkpoint_id is not None:
            check_checkpoint_id(op.checkpoint_id, "checkpoint_id")
        if op.parent_id is not None:
            check_checkpoint_id(op.parent_id, "parent_id")
        _of_type(op.metadata, Mapping, "metadata", "a mapping")
        return
    _identifier(op.tenant, "tenant")
    if isinstance(op, PutCheckpoint | PutWrites | SetRetention):
        _identifier(op.thread_id, "thread_id")
    if isinstance(op, ForkThread):
        _identifier(op.new_thread_id, "new thread_id")
    if isinstance(op, CopyThread):
        _identifier(op.target_thread_id, "target thread_id")
    if isinstance(op, Prune) and op.thread_ids is not None:
        for thread_id in check_list(op.thread_ids, "thread_ids"):
            _identifier(thread_id, "thread_id")
    if isinstance(op, DeleteRuns):
        for run_id in check_list(op.run_ids, "run_ids"):
            _identifier(run_id, "run_id")
    namespace = getattr(op, "namespace", "")
    if namespace is not None or not isinstance(op, ListCheckpoints):  # None: every namespace
        _namespace(namespace)
    for name in ("checkpoint_id", "new_checkpoint_id", "before"):
        _of_type(getattr(op, name, None), str, name, "a checkpoint id (a UUID string)")
    _of_type(getattr(op, "metadata", None), Mapping, "metadata", "a mapping")
    _of_type(getattr(op, "filter", None), Mapping, "filter", "a mapping of metadata to match")
    _of_type(getattr(op, "policy", None), RetentionPolicy, "policy", "a RetentionPolicy")
    if isinstance(op, Prune):
        _of_type(op.now, datetime, "now", "a datetime")
    checkpoint_id = getattr(op, "checkpoint_id", None)
    if isinstance(op, PutCheckpoint | PutWrites | Rollback) and checkpoint_id is not None:
        id_to_bytes(checkpoint_id)
    if isinstance(op, Rollback) and op.new_checkpoint_id is not None:
        id_to_bytes(op.new_checkpoint_id)
    if isinstance(op, ListCheckpoints) and op.before is not None:
        id_to_bytes(op.before)  # the same error on every backend, not a string comparison
    if isinstance(op, PutWrites):
        for write in op.writes:
            if not isinstance(write, PendingWrite):
                raise InvalidInputError(f"writes must hold PendingWrite, got {write!r}")
            check_int(write.idx, "PendingWrite.idx", -_INT32, _INT32 - 1)  # PostgreSQL's integer
    limit = getattr(op, "limit", None)
    if limit is not None:
        check_int(limit, "limit", 0)  # what SQL takes: refused alike by every backend
    check_int(getattr(op, "offset", 0), "offset", 0)


def check_checkpoint_id(value: object, what: str) -> str:
    """`value`, which must be a checkpoint id (a canonical UUID string)."""
    if not isinstance(value, str) or not is_checkpoint_id(value):
        raise InvalidInputError(
            f"{what} must be a checkpoint id (a canonical UUID string), not {value!r}"
        )
    return value


def _of_type(value: object, kind: type, what: str, expected: str) -> None:
    """Refuse a `value` that is neither None nor a `kind`, saying what to pass."""
    if value is not None and not isinstance(value, kind):
        raise InvalidInputError(f"{what} must be {expected} or None, got {value!r}")


def _namespace(value: object) -> None:
    """A namespace is text (`""`: the graph's own; LangGraph names subgraphs'), not None."""
    if not isinstance(value, str):
        raise InvalidInputError(f'namespace must be a string ("" by default), got {value!r}')
    if value:
        check_text(value, "namespace")


def _fork_plan(op: ForkThread) -> Generator[list[CheckpointOp], list[Any], CheckpointInfo]:
    """A fork as batches (the same on every backend): read what the fork point needs, then
    write the fork and the copies of its nested namespaces in one atomic batch."""
    tenant, thread_id = op.tenant, op.thread_id
    thread, root, head = yield [
        GetThread(tenant, thread_id),
        GetCheckpoint(tenant, thread_id, op.namespace, op.checkpoint_id, False, True),
        GetCheckpoint(tenant, thread_id, op.namespace, None, False, False),
    ]
    writes: list[CheckpointOp] = []
    answered = False
    if root is not None:
        _check_standalone(root.info, "fork")
    if root is not None and head is not None and root.info.id != head.info.id:
        # The thread moved past the fork point: the answers given there since stay behind
        kept = unanswered(root.pending_writes or ())
        answered = kept != tuple(root.pending_writes or ())
        if answered:
            op = op._replace(checkpoint_id=root.info.id, copy_writes=False)
            if kept:
                writes.append(PutWrites(tenant, op.new_thread_id, op.namespace, root.info.id, kept))
    if root is not None and any(
        is_child_namespace(namespace, op.namespace) for namespace in thread.namespaces
    ):
        op = op._replace(checkpoint_id=root.info.id)  # the one read, even if the head moves
        [listed] = yield [ListCheckpoints(tenant, thread_id, None, with_writes=answered)]
        paused = {(s.info.namespace, s.info.id) for s in listed if asks(s.pending_writes or ())}
        children = fork_histories(op.namespace, root.info.id, [s.info for s in listed], paused)
        copied = {(c.namespace, c.id) for c in children}
        for child in children:
            if (child.namespace, child.parent_id) not in copied:  # else its chain comes too
                _check_standalone(child, "fork")
        loaded = yield [GetCheckpoint(tenant, thread_id, c.namespace, c.id) for c in children]
        for stored in loaded:
            if stored is not None:  # None: deleted meanwhile
                writes.extend(_fork_copy(stored, op.new_thread_id, copied, answered))
    results = yield [op, *writes]  # NotFoundError if there is no root to fork
    forked: CheckpointInfo = results[0]
    return forked


def _rollback_plan(op: Rollback) -> Generator[list[CheckpointOp], list[Any], CheckpointInfo]:
    """A rollback as batches: read the target and the head, check the target can stand on
    another chain, then roll back and attach the target's pending writes, and copies of its
    paused subgraphs' checkpoints (see `engram.state.rollback.carry`), atomically."""
    check_op(op)  # a malformed id says so before the read
    thread, target, head = yield [
        GetThread(op.tenant, op.thread_id),
        GetCheckpoint(op.tenant, op.thread_id, op.namespace, op.checkpoint_id, False, True),
        GetCheckpoint(op.tenant, op.thread_id, op.namespace, None, False, False),
    ]
    if target is None or head is None:  # the rollback says NotFoundError
        [rolled] = yield [op]
        missing: CheckpointInfo = rolled
        return missing
    _check_standalone(target.info, "roll back to")
    nodes: list[str] = []
    if needs_send_targets(target.pending_writes or ()):
        [valued] = yield [
            GetCheckpoint(op.tenant, op.thread_id, op.namespace, target.info.id, True, False)
        ]
        nodes = send_targets(valued and valued.values)
    children: list[StoredCheckpoint] = []
    if asks(target.pending_writes or ()) and any(
        is_child_namespace(namespace, op.namespace) for namespace in thread.namespaces
    ):
        children = yield from _children_plan(op.tenant, op.thread_id, target.info)
    new_id = next_checkpoint_id(head.info.id)
    carried = carry(target.info, target.pending_writes or (), new_id, nodes, children)
    batch: list[CheckpointOp] = [op._replace(new_checkpoint_id=new_id)]
    if carried.writes:
        batch.append(PutWrites(op.tenant, op.thread_id, op.namespace, new_id, carried.writes))
    copied = {(c.info.namespace, c.info.id) for c in carried.children}
    for child in carried.children:
        batch.extend(_copy_ops(child, op.thread_id, copied, child.info.metadata))
    results = yield batch
    result: CheckpointInfo = results[0]
    return result


def _children_plan(
    tenant: str, thread_id: str, target: CheckpointInfo
) -> Generator[list[CheckpointOp], list[Any], list[StoredCheckpoint]]:
    """The nested checkpoints a copy of `target` needs, as a fork copies them, loaded; none
    if one is rebuilt from ancestors not copied (a `DeltaChannel`: the subgraph restarts)."""
    [listed] = yield [ListCheckpoints(tenant, thread_id, None, with_writes=True)]
    paused = {(s.info.namespace, s.info.id) for s in listed if asks(s.pending_writes or ())}
    children = fork_histories(target.namespace, target.id, [s.info for s in listed], paused)
    copied = {(c.namespace, c.id) for c in children}
    if any(needs_ancestors(c) and (c.namespace, c.parent_id) not in copied for c in children):
        return []
    loaded = yield [GetCheckpoint(tenant, thread_id, c.namespace, c.id) for c in children]
    return [stored for stored in loaded if stored is not None]  # None: deleted meanwhile


def _check_standalone(info: CheckpointInfo, action: str) -> None:
    """`InvalidInputError` if the checkpoint's state needs its own parent chain."""
    if needs_ancestors(info):
        raise InvalidInputError(
            f"cannot {action} checkpoint {info.id} of thread {info.thread_id!r}: a LangGraph "
            "DeltaChannel of it is rebuilt from the writes of its ancestors since the last "
            "snapshot, and the copy would not have them (copy the whole thread instead, or "
            "use LangGraph's time travel: invoke or update_state with its checkpoint_id)"
        )


def _fork_copy(
    stored: StoredCheckpoint, new_thread_id: str, copied: set[tuple[str, str]], answered: bool
) -> list[CheckpointOp]:
    """The ops that copy a nested checkpoint into a fork, linked to its parent if that is
    `copied` too (copies are made oldest first); without the answers given since if the
    fork point was `answered`."""
    info = stored.info
    forked = {"thread_id": info.thread_id, "checkpoint_id": info.id}
    pending = unanswered(stored.pending_writes or ()) if answered else stored.pending_writes
    stored = stored._replace(pending_writes=pending)
    return _copy_ops(stored, new_thread_id, copied, {**info.metadata, "forked_from": forked})


def _copy_ops(
    stored: StoredCheckpoint,
    thread_id: str,
    copied: set[tuple[str, str]],
    metadata: Mapping[str, Any],
) -> list[CheckpointOp]:
    """The ops that write a copy of a nested checkpoint, with its pending writes, into
    `thread_id`, linked to its parent if that is `copied` too."""
    info, values = stored.info, stored.values or {}
    parent_id = info.parent_id if (info.namespace, info.parent_id) in copied else None
    put = PutCheckpoint(
        info.tenant,
        thread_id,
        info.namespace,
        info.id,
        parent_id,
        info.versions,
        tuple(
            ChannelWrite(ch, info.versions[ch], v)
            for ch, v in values.items()
            if ch in info.versions
        ),
        metadata,
        stored.extra,
    )
    if not stored.pending_writes:
        return [put]
    writes = tuple(stored.pending_writes)
    return [put, PutWrites(info.tenant, thread_id, info.namespace, info.id, writes)]


def _prune_op(
    tenant: str,
    thread_ids: Sequence[str] | None,
    policy: RetentionPolicy | None,
    now: datetime | None,
    dry_run: bool,
) -> Prune:
    """The `Prune` of `BaseCheckpointer.prune`: one thread id alone is refused, not split
    into characters (pass `[thread_id]`)."""
    ids = None if thread_ids is None else check_list(thread_ids, "thread_ids")
    return Prune(tenant, now or utcnow(), ids, policy, dry_run)


def _identifier(value: object, what: str) -> None:
    if isinstance(value, str):
        _checked(value, what)  # cached: a tenant and a thread are written to again and again
    else:
        check_identifier(value, what)


@functools.lru_cache(maxsize=4096)
def _checked(value: str, what: str) -> str:
    return check_identifier(value, what)


class BaseCheckpointer(ABC):
    """Stores versioned checkpoints per tenant, thread and namespace.

    Attributes:
        serde: Serializes the values of the convenience API (`put`/`get`).
        default_retention: The policy `prune` applies to threads without their own.
    """

    serde: SerializerProtocol = JsonSerializer()
    default_retention: RetentionPolicy | None = None

    @abstractmethod
    def batch(self, ops: Sequence[CheckpointOp]) -> list[Any]:
        """Run `ops` in order, atomically; return their results in order."""

    @abstractmethod
    async def abatch(self, ops: Sequence[CheckpointOp]) -> list[Any]:
        """Async `batch`."""

    def close(self) -> None:
        """Release what the checkpointer opened itself (not injected connections)."""
        return None

    def _run(self, op: CheckpointOp) -> Any:
        return self.batch([op])[0]

    async def _arun(self, op: CheckpointOp) -> Any:
        return (await self.abatch([op]))[0]

    # Convenience methods: one op each, sync and async.

    def put(
        self,
        tenant: str,
        thread_id: str,
        values: Mapping[str, Any],
        *,
        namespace: str = "",
        metadata: Mapping[str, Any] | None = None,
        parent_id: str | None = None,
    ) -> CheckpointInfo:
        """Store `values` as the thread's new head (child of `parent_id`, default the head).

        Unchanged channels cost nothing; a list that grew costs only its new items.
        """
        result: CheckpointInfo = self._run(
            self._put_op(tenant, thread_id, values, namespace, metadata, parent_id)
        )
        return result

    async def aput(
        self,
        tenant: str,
        thread_id: str,
        values: Mapping[str, Any],
        *,
        namespace: str = "",
        metadata: Mapping[str, Any] | None = None,
        parent_id: str | None = None,
    ) -> CheckpointInfo:
        op = self._put_op(tenant, thread_id, values, namespace, metadata, parent_id)
        result: CheckpointInfo = await self._arun(op)
        return result

    def _put_op(
        self,
        tenant: str,
        thread_id: str,
        values: Mapping[str, Any],
        namespace: str,
        metadata: Mapping[str, Any] | None,
        parent_id: str | None,
    ) -> PutCheckpoint:
        if not isinstance(values, Mapping) or not all(isinstance(ch, str) for ch in values):
            raise InvalidInputError(
                f"values must be a mapping of channel name to value, got {values!r}"
            )
        writes = []
        for channel, value in values.items():
            stored = encode_value(self.serde, value)
            writes.append(ChannelWrite(channel, content_version(stored), stored))
        return PutCheckpoint(
            tenant,
            thread_id,
            namespace,
            None,
            parent_id,
            {write.channel: write.version for write in writes},
            tuple(writes),
            metadata,
            parent_is_head=parent_id is None,
        )

    def get(
        self, tenant: str, thread_id: str, checkpoint_id: str | None = None, *, namespace: str = ""
    ) -> Checkpoint | None:
        """Read a checkpoint (the head by default) with its values deserialized."""
        op = GetCheckpoint(tenant, thread_id, namespace, checkpoint_id, with_writes=False)
        return self._decode(self._run(op))

    async def aget(
        self, tenant: str, thread_id: str, checkpoint_id: str | None = None, *, namespace: str = ""
    ) -> Checkpoint | None:
        op = GetCheckpoint(tenant, thread_id, namespace, checkpoint_id, with_writes=False)
        return self._decode(await self._arun(op))

    def _decode(self, stored: StoredCheckpoint | None) -> Checkpoint | None:
        if stored is None:
            return None
        values = {ch: decode_value(self.serde, v) for ch, v in (stored.values or {}).items()}
        return Checkpoint(stored.info, values)

    def history(
        self,
        tenant: str,
        thread_id: str,
        *,
        namespace: str = "",
        filter: Mapping[str, Any] | None = None,
        before: str | None = None,
        limit: int | None = None,
    ) -> list[CheckpointInfo]:
        """The thread's checkpoints, newest first (headers only)."""
        op = ListCheckpoints(tenant, thread_id, namespace, filter, before, limit)
        return [stored.info for stored in self._run(op)]

    async def ahistory(
        self,
        tenant: str,
        thread_id: str,
        *,
        namespace: str = "",
        filter: Mapping[str, Any] | None = None,
        before: str | None = None,
        limit: int | None = None,
    ) -> list[CheckpointInfo]:
        op = ListCheckpoints(tenant, thread_id, namespace, filter, before, limit)
        return [stored.info for stored in await self._arun(op)]

    def rollback(
        self, tenant: str, thread_id: str, checkpoint_id: str, *, namespace: str = ""
    ) -> CheckpointInfo:
        """Make checkpoint `checkpoint_id`'s values the thread's new head.

        The new head is a child of the old one, with the target's values and writer data,
        and its pending writes as they stood when its step stopped (see
        `engram.state.rollback`): a LangGraph thread rolled back to a checkpoint paused at
        an `interrupt()` shows that interrupt again (the first of the task's questions, and
        one asked inside a subgraph too), and resumes with a new answer; the tasks of that
        step that had finished do not run again. `InvalidInputError` if the
        target's state is rebuilt from its ancestors (a LangGraph `DeltaChannel`),
        `ConflictError` if a checkpoint was added to the namespace meanwhile (roll back
        again).
        """
        return self._drive(_rollback_plan(Rollback(tenant, thread_id, checkpoint_id, namespace)))

    async def arollback(
        self, tenant: str, thread_id: str, checkpoint_id: str, *, namespace: str = ""
    ) -> CheckpointInfo:
        plan = _rollback_plan(Rollback(tenant, thread_id, checkpoint_id, namespace))
        return await self._adrive(plan)

    def _drive(
        self, plan: Generator[list[CheckpointOp], list[Any], CheckpointInfo]
    ) -> CheckpointInfo:
        """Run a plan's batches in turn (`_fork_plan`, `_rollback_plan`); its result."""
        try:
            ops_ = next(plan)
            while True:
                ops_ = plan.send(self.batch(ops_))
        except StopIteration as done:
            result: CheckpointInfo = done.value
            return result

    async def _adrive(
        self, plan: Generator[list[CheckpointOp], list[Any], CheckpointInfo]
    ) -> CheckpointInfo:
        try:
            ops_ = next(plan)
            while True:
                ops_ = plan.send(await self.abatch(ops_))
        except StopIteration as done:
            result: CheckpointInfo = done.value
            return result

    def fork(
        self,
        tenant: str,
        thread_id: str,
        new_thread_id: str,
        checkpoint_id: str | None = None,
        *,
        namespace: str = "",
    ) -> CheckpointInfo:
        """Start `new_thread_id` from a checkpoint of `thread_id` (time travel, `ForkThread`).

        The nested namespaces the checkpoint needs come too: the latest checkpoint of each,
        as of the fork point, with its values and pending writes (see `fork_children`), so a
        thread paused inside a LangGraph subgraph resumes in the fork where it paused; and
        that checkpoint's parent chain in its namespace (the subgraph's earlier steps, for
        `get_state_history` and time travel inside the subgraph), with the same ids, parent
        links and `seq` from 1. `InvalidInputError` if the oldest one copied is rebuilt from
        its ancestors (a LangGraph `DeltaChannel` since its last snapshot): copy the whole
        thread instead.

        A fork of a checkpoint the thread has moved past leaves out the answers given there
        since (`engram.state.rollback.unanswered`), in a subgraph too: a LangGraph thread
        forked where a human was asked shows the question (as `get_state` of that checkpoint
        does), and takes a new answer (as after time travel, `invoke(None, checkpoint)`).
        LangGraph's own `invoke(Command(resume=...), checkpoint)` there replays the old one.
        """
        plan = _fork_plan(ForkThread(tenant, thread_id, new_thread_id, checkpoint_id, namespace))
        return self._drive(plan)

    async def afork(
        self,
        tenant: str,
        thread_id: str,
        new_thread_id: str,
        checkpoint_id: str | None = None,
        *,
        namespace: str = "",
    ) -> CheckpointInfo:
        plan = _fork_plan(ForkThread(tenant, thread_id, new_thread_id, checkpoint_id, namespace))
        return await self._adrive(plan)

    def delete_thread(self, tenant: str, thread_id: str) -> bool:
        return bool(self._run(DeleteThread(tenant, thread_id)))

    async def adelete_thread(self, tenant: str, thread_id: str) -> bool:
        return bool(await self._arun(DeleteThread(tenant, thread_id)))

    def prune(
        self,
        tenant: str,
        thread_ids: Sequence[str] | None = None,
        *,
        policy: RetentionPolicy | None = None,
        now: datetime | None = None,
        dry_run: bool = False,
    ) -> PruneReport:
        """Apply retention (see `Prune`: what goes, and the LangGraph `DeltaChannel`
        checkpoints that stay past `max_age`). `thread_ids` is a list: one id alone is
        refused (`InvalidInputError`), not split into one id per character."""
        op = _prune_op(tenant, thread_ids, policy, now, dry_run)
        result: PruneReport = self._run(op)
        return result

    async def aprune(
        self,
        tenant: str,
        thread_ids: Sequence[str] | None = None,
        *,
        policy: RetentionPolicy | None = None,
        now: datetime | None = None,
        dry_run: bool = False,
    ) -> PruneReport:
        op = _prune_op(tenant, thread_ids, policy, now, dry_run)
        result: PruneReport = await self._arun(op)
        return result

    def set_retention(self, tenant: str, thread_id: str, policy: RetentionPolicy | None) -> None:
        self._run(SetRetention(tenant, thread_id, policy))

    async def aset_retention(
        self, tenant: str, thread_id: str, policy: RetentionPolicy | None
    ) -> None:
        await self._arun(SetRetention(tenant, thread_id, policy))

    def get_thread(self, tenant: str, thread_id: str) -> ThreadInfo | None:
        result: ThreadInfo | None = self._run(GetThread(tenant, thread_id))
        return result

    async def aget_thread(self, tenant: str, thread_id: str) -> ThreadInfo | None:
        result: ThreadInfo | None = await self._arun(GetThread(tenant, thread_id))
        return result

    def list_threads(self, tenant: str, *, limit: int = 100, offset: int = 0) -> list[ThreadInfo]:
        result: list[ThreadInfo] = self._run(ListThreads(tenant, limit, offset))
        return result

    async def alist_threads(
        self, tenant: str, *, limit: int = 100, offset: int = 0
    ) -> list[ThreadInfo]:
        result: list[ThreadInfo] = await self._arun(ListThreads(tenant, limit, offset))
        return result
