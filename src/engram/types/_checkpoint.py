"""Agent-state records: checkpoints, their stored form, retention policies and reports.

A checkpoint is a snapshot of an agent's state on one thread (and namespace): a mapping of
channel names to values, plus metadata and a link to its parent. Values are versioned per
channel: a checkpoint names the version of each channel it holds, and a version is stored
once however many checkpoints share it.

Stored values are `(type_tag, bytes)` pairs made by a serializer (`engram.serde`); a list value
is stored item by item (`EncodedList`), so a list that grows by appending costs only the new
items per checkpoint. Records made on every put or read are `NamedTuple`s (cheap to build);
the others frozen dataclasses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from engram._exceptions import InvalidInputError

__all__ = [
    "ChannelVersion",
    "ChannelWrite",
    "Checkpoint",
    "CheckpointInfo",
    "EncodedList",
    "EncodedValue",
    "PendingWrite",
    "PruneReport",
    "RetentionPolicy",
    "StoredCheckpoint",
    "StoredValue",
    "ThreadInfo",
]

EncodedValue = tuple[str, bytes]
"""A serialized value: `(type_tag, data)`, as made by `SerializerProtocol.dumps_typed`."""

ChannelVersion = str | int | float
"""A channel's version as the writer named it (LangGraph versions are int/float/str)."""


@dataclass(frozen=True, slots=True)
class EncodedList:
    """A list value, serialized item by item (so appends are stored as deltas)."""

    items: tuple[EncodedValue, ...]
    """The serialized items, in order."""


StoredValue = EncodedValue | EncodedList
"""What a checkpointer stores for one channel version."""


class ChannelWrite(NamedTuple):
    """A new version of one channel, written with a checkpoint."""

    channel: str
    """The channel name."""
    version: ChannelVersion
    """The version this value is stored under; unique per thread, namespace and channel."""
    value: StoredValue
    """The serialized value."""


class PendingWrite(NamedTuple):
    """A write a task made after a checkpoint, kept until the next checkpoint (LangGraph)."""

    task_id: str
    """The task that wrote it."""
    channel: str
    """The channel written."""
    value: EncodedValue
    """The serialized value."""
    idx: int = 0
    """The write's index within the task (negative for special channels such as errors)."""
    task_path: str = ""
    """The task's path; pending writes are ordered by `(task_path, task_id, idx)`."""


class CheckpointInfo(NamedTuple):
    """A checkpoint's header: everything but its values."""

    tenant: str
    """The tenant owning the thread."""
    thread_id: str
    """The thread."""
    namespace: str
    """The namespace within the thread (`""` for the root graph)."""
    id: str
    """The checkpoint id, a UUID string; ids sort in creation order (UUIDv6/v7)."""
    parent_id: str | None
    """The checkpoint this one was derived from, in the same thread and namespace."""
    seq: int
    """Its depth in its lineage: the parent's `seq` + 1, or 1 without a parent (a fork's
    first checkpoint too). `RetentionPolicy.keep_every` counts it."""
    created_at: datetime
    """When the checkpoint was written."""
    metadata: Mapping[str, Any]
    """JSON metadata (LangGraph puts `source`, `step`, `parents`, `run_id` here)."""
    versions: Mapping[str, ChannelVersion]
    """The version of each channel the checkpoint holds."""


class StoredCheckpoint(NamedTuple):
    """A checkpoint as a backend returns it: header, serialized values, pending writes."""

    info: CheckpointInfo
    """The header."""
    values: Mapping[str, StoredValue] | None = None
    """The serialized value of each channel (None when not requested)."""
    extra: EncodedValue | None = None
    """Opaque writer data kept with the checkpoint (the LangGraph saver keeps its header)."""
    pending_writes: tuple[PendingWrite, ...] | None = None
    """Pending writes in `(task_path, task_id, idx)` order (None when not requested)."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A checkpoint with its values deserialized."""

    info: CheckpointInfo
    """The header."""
    values: Mapping[str, Any]
    """The value of each channel."""

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def parent_id(self) -> str | None:
        return self.info.parent_id

    @property
    def metadata(self) -> Mapping[str, Any]:
        return self.info.metadata


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Which checkpoints of a thread to keep when it is pruned.

    Applied per thread and namespace. With `keep_last` or `keep_every` set, a checkpoint is
    kept if it is one of the newest `keep_last` or its `seq` is a multiple of `keep_every`;
    `max_age` then drops the kept ones older than that. The newest checkpoint is always kept
    (delete the thread to remove it), and pruning never breaks a kept checkpoint: the values
    it needs stay stored.
    """

    keep_last: int | None = None
    """Keep the newest N checkpoints."""
    keep_every: int | None = None
    """Also keep every checkpoint whose `seq` is a multiple of K (a thinned history)."""
    max_age: timedelta | None = None
    """Drop checkpoints older than this (except the newest, and those a kept checkpoint
    rebuilds a LangGraph `DeltaChannel` from: see `Prune`)."""

    def __post_init__(self) -> None:
        for name in ("keep_last", "keep_every"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise InvalidInputError(
                    f"RetentionPolicy.{name} must be a positive integer or None, got {value!r}"
                )
        if self.max_age is not None and not isinstance(self.max_age, timedelta):
            raise InvalidInputError(
                "RetentionPolicy.max_age must be a datetime.timedelta (e.g. timedelta(days=30))"
                f" or None, got {self.max_age!r}"
            )
        if self.max_age is not None and self.max_age <= timedelta(0):
            raise InvalidInputError("RetentionPolicy.max_age must be positive")

    @property
    def keeps_everything(self) -> bool:
        """True if the policy removes nothing."""
        return self.keep_last is None and self.keep_every is None and self.max_age is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "keep_last": self.keep_last,
            "keep_every": self.keep_every,
            "max_age_seconds": None if self.max_age is None else self.max_age.total_seconds(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RetentionPolicy:
        seconds = data.get("max_age_seconds")
        return cls(
            keep_last=data.get("keep_last"),
            keep_every=data.get("keep_every"),
            max_age=None if seconds is None else timedelta(seconds=float(seconds)),
        )


@dataclass(frozen=True, slots=True)
class PruneReport:
    """What a prune removed (or, in a dry run, would remove)."""

    threads: int = 0
    """Threads examined."""
    checkpoints_deleted: int = 0
    """Checkpoints removed."""
    checkpoints_kept: int = 0
    """Checkpoints left."""
    values_deleted: int = 0
    """Channel versions no kept checkpoint needed any more."""
    blobs_deleted: int = 0
    """List items no kept value referenced any more."""


@dataclass(frozen=True, slots=True)
class ThreadInfo:
    """A thread's summary."""

    tenant: str
    """The tenant owning the thread."""
    thread_id: str
    """The thread."""
    checkpoint_count: int
    """Checkpoints stored, all namespaces."""
    head_id: str | None
    """The newest checkpoint of the root namespace (None if it has none)."""
    created_at: datetime
    """When the thread was created."""
    updated_at: datetime
    """When its newest root-namespace checkpoint was written (else `created_at`)."""
    namespaces: tuple[str, ...] = ()
    """The namespaces with checkpoints."""
    retention: RetentionPolicy | None = None
    """The thread's own retention policy, if one was set."""
