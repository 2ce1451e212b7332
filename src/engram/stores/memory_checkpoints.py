"""`InMemoryCheckpointer`: the reference checkpointer, in process memory.

Stores what the SQLite backend stores (checkpoint headers, channel versions as rows with
list deltas, content-addressed list items, pending writes) in dicts, through the same pure
core (`engram.state`). Batches are atomic: every mutation is journaled and undone if an
operation of the batch fails.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engram._exceptions import ConflictError, InvalidInputError, NotFoundError
from engram.serde import SerializerProtocol
from engram.state.checkpoints import (
    dumps_json,
    from_ms,
    id_to_bytes,
    metadata_matches,
    needs_ancestors,
    next_checkpoint_id,
    rollback_id,
    sort_writes,
    to_ms,
)
from engram.state.retention import (
    HistoryEntry,
    ValueKey,
    collect_garbage,
    doomed_checkpoints,
    needed_values,
    rebased_values,
    referenced_values,
    spare_ancestors,
)
from engram.state.values import (
    DELTA,
    SCALAR,
    ListState,
    ValueRow,
    assemble,
    blob_hashes,
    plan_value_row,
    resolve_hashes,
)
from engram.stores import checkpoints as ops
from engram.types._checkpoint import (
    CheckpointInfo,
    EncodedValue,
    PendingWrite,
    PruneReport,
    RetentionPolicy,
    StoredCheckpoint,
    StoredValue,
    ThreadInfo,
)
from engram.types._conversation import utcnow

__all__ = ["InMemoryCheckpointer"]

_MISSING = object()


@dataclass
class _Thread:
    tenant: str
    thread_id: str
    created_ms: int
    order: int
    retention: RetentionPolicy | None = None
    checkpoints: dict[tuple[str, str], StoredCheckpoint] = field(default_factory=dict)
    values: dict[ValueKey, ValueRow] = field(default_factory=dict)
    blobs: dict[bytes, EncodedValue] = field(default_factory=dict)
    writes: dict[tuple[str, str, str, int], PendingWrite] = field(default_factory=dict)

    def head(self, namespace: str) -> StoredCheckpoint | None:
        ids = [cid for ns, cid in self.checkpoints if ns == namespace]
        return self.checkpoints[(namespace, max(ids))] if ids else None


class _Journal:
    """Records mutations so a failed batch can be undone."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def set(self, target: dict[Any, Any], key: Any, value: Any) -> None:
        old = target.get(key, _MISSING)
        self._undo.append(lambda: _restore(target, key, old))
        target[key] = value

    def pop(self, target: dict[Any, Any], key: Any) -> None:
        if key in target:
            old = target.pop(key)
            self._undo.append(lambda: target.__setitem__(key, old))

    def assign(self, obj: object, name: str, value: Any) -> None:
        old = getattr(obj, name)
        self._undo.append(lambda: setattr(obj, name, old))
        setattr(obj, name, value)

    def rollback(self) -> None:
        for undo in reversed(self._undo):
            undo()


def _restore(target: dict[Any, Any], key: Any, old: Any) -> None:
    if old is _MISSING:
        target.pop(key, None)
    else:
        target[key] = old


class InMemoryCheckpointer(ops.BaseCheckpointer):
    """Checkpoints in memory; the executable spec of the checkpointer contract.

    Args:
        serde: Serializer of the convenience API's values (default JSON).
        default_retention: The policy `prune` applies to threads without their own.
        snapshot_every: The longest list delta chain before a full snapshot.
    """

    def __init__(
        self,
        *,
        serde: SerializerProtocol | None = None,
        default_retention: RetentionPolicy | None = None,
        snapshot_every: int = 16,
    ) -> None:
        if serde is not None:
            self.serde = serde
        self.default_retention = default_retention
        self.snapshot_every = snapshot_every
        self._threads: dict[tuple[str, str], _Thread] = {}
        self._created = 0  # threads ever created: orders `list_threads`
        self._lock = threading.RLock()

    def batch(self, ops_: Sequence[ops.CheckpointOp]) -> list[Any]:
        with self._lock:
            for op in ops_:
                ops.check_op(op)
            journal = _Journal()
            try:
                return [self._apply(op, journal) for op in ops_]
            except BaseException:
                journal.rollback()
                raise

    async def abatch(self, ops_: Sequence[ops.CheckpointOp]) -> list[Any]:
        return self.batch(ops_)

    def _apply(self, op: ops.CheckpointOp, journal: _Journal) -> Any:
        handler = getattr(self, f"_op_{type(op).__name__}", None)
        if handler is None:
            raise InvalidInputError(f"unsupported checkpoint operation {type(op).__name__}")
        return handler(op, journal)

    # Threads

    def _thread(self, tenant: str, thread_id: str, journal: _Journal) -> _Thread:
        thread = self._threads.get((tenant, thread_id))
        if thread is None:
            self._created += 1
            thread = _Thread(tenant, thread_id, to_ms(utcnow()), self._created)
            journal.set(self._threads, (tenant, thread_id), thread)
        return thread

    def _info(self, thread: _Thread) -> ThreadInfo:
        head = thread.head("")
        return ThreadInfo(
            tenant=thread.tenant,
            thread_id=thread.thread_id,
            checkpoint_count=len(thread.checkpoints),
            head_id=head.info.id if head else None,
            created_at=from_ms(thread.created_ms),
            updated_at=head.info.created_at if head else from_ms(thread.created_ms),
            namespaces=tuple(sorted({ns for ns, _ in thread.checkpoints})),
            retention=thread.retention,
        )

    def _op_GetThread(self, op: ops.GetThread, journal: _Journal) -> ThreadInfo | None:
        thread = self._threads.get((op.tenant, op.thread_id))
        return None if thread is None else self._info(thread)

    def _op_ListThreads(self, op: ops.ListThreads, journal: _Journal) -> list[ThreadInfo]:
        threads = [t for (tenant, _), t in self._threads.items() if tenant == op.tenant]
        threads.sort(key=lambda t: t.order, reverse=True)
        return [self._info(t) for t in threads[op.offset : op.offset + op.limit]]

    def _op_SetRetention(self, op: ops.SetRetention, journal: _Journal) -> None:
        journal.assign(self._thread(op.tenant, op.thread_id, journal), "retention", op.policy)

    def _op_DeleteThread(self, op: ops.DeleteThread, journal: _Journal) -> bool:
        existed = (op.tenant, op.thread_id) in self._threads
        journal.pop(self._threads, (op.tenant, op.thread_id))
        return existed

    # Writing checkpoints

    def _op_PutCheckpoint(self, op: ops.PutCheckpoint, journal: _Journal) -> CheckpointInfo:
        if op.checkpoint_id is not None:
            id_to_bytes(op.checkpoint_id)
        thread = self._thread(op.tenant, op.thread_id, journal)
        head = thread.head(op.namespace)
        parent_id = (head.info.id if head else None) if op.parent_is_head else op.parent_id
        checkpoint_id = op.checkpoint_id or next_checkpoint_id(head.info.id if head else None)
        parent = thread.checkpoints.get((op.namespace, parent_id)) if parent_id else None
        for write in op.writes:
            self._store_value(
                thread,
                op.namespace,
                write.channel,
                str(write.version),
                write.value,
                parent,
                journal,
            )
        info = CheckpointInfo(
            tenant=op.tenant,
            thread_id=op.thread_id,
            namespace=op.namespace,
            id=checkpoint_id,
            parent_id=parent_id,
            seq=parent.info.seq + 1 if parent else 1,
            created_at=from_ms(to_ms(op.created_at or utcnow())),
            metadata=json.loads(dumps_json(op.metadata or {})),
            versions=dict(op.versions),
        )
        self._insert(thread, StoredCheckpoint(info, extra=op.extra), journal)
        return info

    def _insert(self, thread: _Thread, stored: StoredCheckpoint, journal: _Journal) -> None:
        journal.set(thread.checkpoints, (stored.info.namespace, stored.info.id), stored)

    def _store_value(
        self,
        thread: _Thread,
        namespace: str,
        channel: str,
        version: str,
        value: StoredValue,
        parent: StoredCheckpoint | None,
        journal: _Journal,
    ) -> None:
        if (namespace, channel, version) in thread.values:
            return
        base = None
        if parent is not None and channel in parent.info.versions:
            base = self._list_state(thread, namespace, channel, str(parent.info.versions[channel]))
        row, blobs, _ = plan_value_row(version, value, base, self.snapshot_every)
        journal.set(thread.values, (namespace, channel, version), row)
        for digest, item in blobs.items():
            if digest not in thread.blobs:
                journal.set(thread.blobs, digest, item)

    def _list_state(
        self, thread: _Thread, namespace: str, channel: str, version: str
    ) -> ListState | None:
        row = thread.values.get((namespace, channel, version))
        if row is None or row.kind == SCALAR:
            return None
        return ListState(version, self._hashes(thread, namespace, channel, version), row.depth)

    def _hashes(
        self, thread: _Thread, namespace: str, channel: str, version: str
    ) -> tuple[bytes, ...]:
        return resolve_hashes(version, lambda v: thread.values.get((namespace, channel, v)))

    def _op_PutWrites(self, op: ops.PutWrites, journal: _Journal) -> None:
        thread = self._thread(op.tenant, op.thread_id, journal)
        for write in op.writes:
            key = (op.namespace, op.checkpoint_id, write.task_id, write.idx)
            if op.replace or key not in thread.writes:
                journal.set(thread.writes, key, write)

    def _op_Rollback(self, op: ops.Rollback, journal: _Journal) -> CheckpointInfo:
        thread = self._threads.get((op.tenant, op.thread_id))
        target = thread.checkpoints.get((op.namespace, op.checkpoint_id)) if thread else None
        if thread is None or target is None:
            raise NotFoundError(f"no checkpoint {op.checkpoint_id} in thread {op.thread_id}")
        head = thread.head(op.namespace)
        assert head is not None
        metadata = {**target.info.metadata, "rollback_to": target.info.id, **(op.metadata or {})}
        info = target.info._replace(
            id=rollback_id(op.new_checkpoint_id, head.info.id),
            parent_id=head.info.id,
            seq=head.info.seq + 1,
            created_at=utcnow(),
            metadata=metadata,
        )
        self._insert(thread, StoredCheckpoint(info, extra=target.extra), journal)
        return info

    def _op_ForkThread(self, op: ops.ForkThread, journal: _Journal) -> CheckpointInfo:
        source = self._threads.get((op.tenant, op.thread_id))
        stored = self._find(source, op.namespace, op.checkpoint_id) if source else None
        if source is None or stored is None:
            raise NotFoundError(f"no checkpoint to fork in thread {op.thread_id}")
        if (op.tenant, op.new_thread_id) in self._threads:
            raise ConflictError(f"thread {op.new_thread_id} exists already")
        target = self._thread(op.tenant, op.new_thread_id, journal)
        keys = needed_values(
            referenced_values(op.namespace, stored.info.versions), self._bases(source)
        )
        self._copy_values(source, target, keys, journal)
        for key, write in source.writes.items():
            if op.copy_writes and key[:2] == (op.namespace, stored.info.id):
                journal.set(target.writes, key, write)
        forked = {"thread_id": op.thread_id, "checkpoint_id": stored.info.id}
        info = stored.info._replace(
            thread_id=op.new_thread_id,
            parent_id=None,
            seq=1,
            created_at=utcnow(),
            metadata={**stored.info.metadata, "forked_from": forked, **(op.metadata or {})},
        )
        self._insert(target, StoredCheckpoint(info, extra=stored.extra), journal)
        return info

    def _copy_values(
        self, source: _Thread, target: _Thread, keys: set[ValueKey], journal: _Journal
    ) -> None:
        rows = {key: source.values[key] for key in keys}
        for key, row in rows.items():
            journal.set(target.values, key, row)
        for digest in blob_hashes(rows.values()):
            journal.set(target.blobs, digest, source.blobs[digest])

    def _op_CopyThread(self, op: ops.CopyThread, journal: _Journal) -> int:
        source = self._threads.get((op.tenant, op.source_thread_id))
        if source is None or not source.checkpoints:
            return 0
        if (op.tenant, op.target_thread_id) in self._threads:
            raise ConflictError(f"thread {op.target_thread_id} exists already")
        target = self._thread(op.tenant, op.target_thread_id, journal)
        self._copy_values(source, target, set(source.values), journal)
        for key, write in source.writes.items():
            journal.set(target.writes, key, write)
        for stored in source.checkpoints.values():
            info = stored.info._replace(thread_id=op.target_thread_id)
            self._insert(target, stored._replace(info=info), journal)
        return len(source.checkpoints)

    # Reading checkpoints

    def _find(
        self, thread: _Thread, namespace: str, checkpoint_id: str | None
    ) -> StoredCheckpoint | None:
        if checkpoint_id is None:
            return thread.head(namespace)
        return thread.checkpoints.get((namespace, checkpoint_id))

    def _op_GetCheckpoint(
        self, op: ops.GetCheckpoint, journal: _Journal
    ) -> StoredCheckpoint | None:
        thread = self._threads.get((op.tenant, op.thread_id))
        stored = self._find(thread, op.namespace, op.checkpoint_id) if thread else None
        if thread is None or stored is None:
            return None
        return self._load(thread, stored, op.with_values, op.with_writes)

    def _load(
        self, thread: _Thread, stored: StoredCheckpoint, values: bool, writes: bool
    ) -> StoredCheckpoint:
        info = stored.info
        loaded = self._values(thread, info.namespace, info.versions) if values else None
        pending = None
        if writes:
            pending = sort_writes(
                w
                for (ns, cid, _, _), w in thread.writes.items()
                if ns == info.namespace and cid == info.id
            )
        return stored._replace(values=loaded, pending_writes=pending)

    def _values(
        self, thread: _Thread, namespace: str, versions: Mapping[str, Any]
    ) -> dict[str, StoredValue]:
        values: dict[str, StoredValue] = {}
        for channel, version in versions.items():
            row = thread.values.get((namespace, channel, str(version)))
            if row is None:
                continue
            hashes = None
            if row.kind != SCALAR:
                hashes = self._hashes(thread, namespace, channel, str(version))
            values[channel] = assemble(row, hashes, thread.blobs)
        return values

    def _op_ListCheckpoints(
        self, op: ops.ListCheckpoints, journal: _Journal
    ) -> list[StoredCheckpoint]:
        found = [
            (thread, stored)
            for (tenant, thread_id), thread in self._threads.items()
            if tenant == op.tenant and op.thread_id in (None, thread_id)
            for (ns, cid), stored in thread.checkpoints.items()
            if op.namespace in (None, ns)
            and op.checkpoint_id in (None, cid)
            and (op.before is None or cid < op.before)
            and metadata_matches(stored.info.metadata, op.filter)
        ]
        found.sort(key=lambda pair: pair[1].info.id, reverse=True)
        found = found[: op.limit] if op.limit is not None else found
        return [self._load(t, s, op.with_values, op.with_writes) for t, s in found]

    # Deleting checkpoints

    def _op_DeleteRuns(self, op: ops.DeleteRuns, journal: _Journal) -> int:
        deleted = 0
        for (tenant, _), thread in list(self._threads.items()):
            if tenant != op.tenant:
                continue
            doomed = [
                key
                for key, stored in thread.checkpoints.items()
                if stored.info.metadata.get("run_id") in op.run_ids
            ]
            doomed = spare_ancestors(self._history(thread), doomed)
            self._delete_checkpoints(thread, doomed, journal)
            deleted += len(doomed)
        return deleted

    def _op_Prune(self, op: ops.Prune, journal: _Journal) -> PruneReport:
        report = PruneReport()
        for (tenant, thread_id), thread in list(self._threads.items()):
            if tenant != op.tenant or (
                op.thread_ids is not None and thread_id not in op.thread_ids
            ):
                continue
            policy = op.policy or thread.retention or self.default_retention
            doomed = self._doomed(thread, policy, to_ms(op.now)) if policy else []
            total = len(thread.checkpoints)
            values, blobs = self._delete_checkpoints(thread, doomed, journal, op.dry_run)
            report = _add(report, total, len(doomed), values, blobs)
        return report

    def _doomed(
        self, thread: _Thread, policy: RetentionPolicy, now_ms: int
    ) -> list[tuple[str, str]]:
        return doomed_checkpoints(self._history(thread), policy, now_ms)

    def _history(self, thread: _Thread) -> list[HistoryEntry]:
        return [
            HistoryEntry(
                ns,
                cid,
                s.info.seq,
                to_ms(s.info.created_at),
                s.info.parent_id,
                needs_ancestors(s.info),
            )
            for (ns, cid), s in thread.checkpoints.items()
        ]

    def _delete_checkpoints(
        self,
        thread: _Thread,
        doomed: Sequence[tuple[str, str]],
        journal: _Journal,
        dry_run: bool = False,
    ) -> tuple[int, int]:
        """Delete `doomed` checkpoints, their writes, and the values and items now unneeded;
        return how many values and items (what would go, in a `dry_run`). Without a doomed
        checkpoint nothing goes, as on the SQL backends: the delta bases a fork copied stay
        the bases of its values until a pruned checkpoint rebases them."""
        if not doomed:
            return 0, 0
        rebased, values, blobs = self._garbage(thread, set(doomed))
        if dry_run:
            return len(values), len(blobs)
        gone = set(doomed)
        for value_key, row in rebased.items():
            journal.set(thread.values, value_key, row)
        for key in doomed:
            journal.pop(thread.checkpoints, key)
        for write_key in [k for k in thread.writes if (k[0], k[1]) in gone]:
            journal.pop(thread.writes, write_key)
        for value_key in values:
            journal.pop(thread.values, value_key)
        for digest in blobs:
            journal.pop(thread.blobs, digest)
        return len(values), len(blobs)

    def _bases(self, thread: _Thread) -> dict[ValueKey, str | None]:
        return {key: row.base if row.kind == DELTA else None for key, row in thread.values.items()}

    def _garbage(
        self, thread: _Thread, doomed: set[tuple[str, str]]
    ) -> tuple[dict[ValueKey, ValueRow], set[ValueKey], set[bytes]]:
        """The deltas to rebase, and the values and blobs no checkpoint outside `doomed`
        needs then."""
        referenced = [
            key
            for (ns, cid), stored in thread.checkpoints.items()
            if (ns, cid) not in doomed
            for key in referenced_values(ns, stored.info.versions)
        ]
        rebased = rebased_values(referenced, thread.values)
        rows = {**thread.values, **rebased}
        return rebased, *collect_garbage(referenced, rows, thread.blobs)


def _add(report: PruneReport, total: int, doomed: int, values: int, blobs: int) -> PruneReport:
    return PruneReport(
        threads=report.threads + 1,
        checkpoints_deleted=report.checkpoints_deleted + doomed,
        checkpoints_kept=report.checkpoints_kept + total - doomed,
        values_deleted=report.values_deleted + values,
        blobs_deleted=report.blobs_deleted + blobs,
    )
