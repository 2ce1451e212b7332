"""Checkpoint identifiers, timestamps, metadata filters and write ordering (pure helpers).

Checkpoint ids are canonical UUID strings (Engram makes UUIDv7s, LangGraph UUIDv6s); both
sort in creation order, so the latest checkpoint of a thread is the one with the greatest id.
Backends may store an id as its 16 bytes: byte order and string order agree.
"""

from __future__ import annotations

import functools
import json
import os
import re
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from engram._exceptions import ConflictError, InvalidInputError
from engram._ids import new_id
from engram._validation import INT64_MAX, INT64_MIN
from engram.types._checkpoint import CheckpointInfo, PendingWrite

__all__ = [
    "dumps_json",
    "fork_children",
    "fork_histories",
    "from_ms",
    "id_from_bytes",
    "id_to_bytes",
    "is_checkpoint_id",
    "is_child_namespace",
    "metadata_matches",
    "needs_ancestors",
    "next_checkpoint_id",
    "rebuilt_from_ancestors",
    "rollback_id",
    "sort_writes",
    "split_filter",
    "to_ms",
]

_CANONICAL = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_SQL_KEY = re.compile(r"^[A-Za-z0-9_\-]+$")
_MISSING = object()
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def dumps_json(value: Mapping[str, Any]) -> str:
    """Compact JSON text of checkpoint metadata or a version map.

    Raises:
        InvalidInputError: The value is not JSON (checkpoint metadata must be).
    """
    try:
        text = _JSON.encode(value)
        text.encode()  # lone surrogates are not text
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise InvalidInputError(f"checkpoint metadata must be JSON text: {exc}") from exc
    return text


def is_checkpoint_id(value: str) -> bool:
    """True if `value` is a canonical (lowercase, hyphenated) UUID string."""
    return len(value) == 36 and _CANONICAL.fullmatch(value) is not None


@functools.lru_cache(maxsize=4096)
def id_to_bytes(checkpoint_id: str) -> bytes:
    """The 16 bytes of a checkpoint id (cached: a put converts its parent's id again).

    Raises:
        InvalidInputError: The id is not a canonical UUID string.
    """
    if not is_checkpoint_id(checkpoint_id):
        raise InvalidInputError(f"checkpoint ids are canonical UUID strings, not {checkpoint_id!r}")
    return bytes.fromhex(checkpoint_id.replace("-", ""))


def id_from_bytes(raw: bytes) -> str:
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def next_checkpoint_id(head: str | None) -> str:
    """A new checkpoint id that sorts after `head` (a new UUIDv7 unless `head` is ahead of it).

    A thread written by LangGraph has UUIDv6 ids, which sort after today's UUIDv7s; a
    checkpoint Engram adds to such a thread (a rollback) must still become its latest.
    """
    candidate = new_id()
    if head is None or candidate > head:
        return candidate
    bumped = uuid.UUID(head).int + 1 + int.from_bytes(os.urandom(4), "big")
    return str(uuid.UUID(int=bumped % (1 << 128)))


def rollback_id(requested: str | None, head: str | None) -> str:
    """The id of a rollback's new head: `requested` (chosen with the pending writes it
    carries), else a new id after `head`.

    Raises:
        ConflictError: `requested` does not sort after `head` (the head moved meanwhile).
    """
    if requested is None:
        return next_checkpoint_id(head)
    if head is not None and requested <= head:
        raise ConflictError(
            f"checkpoint {head} was added while rolling back (the new head {requested} "
            "would not be the latest): roll back again"
        )
    return requested


def to_ms(moment: datetime) -> int:
    """Milliseconds since the Unix epoch."""
    return int(moment.timestamp() * 1000)


def from_ms(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


def metadata_matches(metadata: Mapping[str, Any], wanted: Mapping[str, Any] | None) -> bool:
    """True if every key of `wanted` is in `metadata` with an equal value."""
    if not wanted:
        return True
    return all(metadata.get(key, _MISSING) == value for key, value in wanted.items())


def split_filter(
    wanted: Mapping[str, Any] | None,
) -> tuple[dict[str, str | int | float | None], dict[str, Any]]:
    """Split a metadata filter into what SQL can match and the rest (matched in Python).

    SQL matches plain keys with scalar values. An integer beyond 64 bits is left to Python:
    JSON integers have no size limit, but SQL parameters do (SQLite would also read such a
    number back as a float, equal to its neighbours).
    """
    sql: dict[str, str | int | float | None] = {}
    rest: dict[str, Any] = {}
    for key, value in (wanted or {}).items():
        scalar = value is None or isinstance(value, str | float) or _is_int64(value)
        if scalar and _SQL_KEY.match(key):
            sql[key] = value
        else:
            rest[key] = value
    return sql, rest


def _is_int64(value: object) -> bool:
    return isinstance(value, int) and INT64_MIN <= value <= INT64_MAX


def needs_ancestors(info: CheckpointInfo) -> bool:
    """True if a LangGraph `DeltaChannel` of the checkpoint is rebuilt from its ancestors.

    Such a channel is stored only in snapshots, every Nth update; in between, LangGraph
    replays the pending writes of the parent chain back to the last snapshot, and records
    how far back that is in `metadata["counters_since_delta_snapshot"]` (empty or absent
    when the checkpoint's own values are whole). A copy of the checkpoint without its
    parent chain (a fork) or on another chain (a rollback) would rebuild the channel wrong.
    """
    return rebuilt_from_ancestors(info.metadata)


def rebuilt_from_ancestors(metadata: Mapping[str, Any]) -> bool:
    """`needs_ancestors` of a checkpoint's metadata."""
    return bool(metadata.get("counters_since_delta_snapshot"))


def sort_writes(writes: Iterable[PendingWrite]) -> tuple[PendingWrite, ...]:
    """Pending writes in the order LangGraph applies them: `(task_path, task_id, idx)`."""
    return tuple(sorted(writes, key=lambda w: (w.task_path, w.task_id, w.idx)))


def is_child_namespace(namespace: str, parent: str) -> bool:
    """True if `namespace` is nested in `parent` (LangGraph joins subgraph levels with `|`)."""
    if not parent:
        return namespace != ""
    return namespace.startswith(parent + "|")


def fork_children(
    namespace: str,
    checkpoint_id: str,
    checkpoints: Sequence[CheckpointInfo],
    paused: Collection[tuple[str, str]] = (),
) -> list[CheckpointInfo]:
    """The checkpoints of the nested namespaces a fork of checkpoint `checkpoint_id` needs:
    the latest of each, as of the fork point.

    A subgraph that ran (or is paused) in a task of that checkpoint keeps its state in a
    nested namespace named after the task; LangGraph derives task ids from the checkpoint id,
    so the fork's tasks read those namespaces. A nested checkpoint belongs to the fork point
    if LangGraph's `metadata["parents"]` names it as its `namespace` checkpoint (without that
    record, any nested checkpoint does), and is older than the next checkpoint of `namespace`
    (later ones are the source's future). `checkpoints` are headers of the source thread.
    `paused` names `(namespace, id)` of nested checkpoints where a subgraph asked a question
    that was answered since: a namespace that has one is taken as of the first, where it
    stood before the answer (the later ones are what the answer did).
    """
    later = [c.id for c in checkpoints if c.namespace == namespace and c.id > checkpoint_id]
    bound = min(later, default=None)
    owned = [c for c in checkpoints if _belongs(c, namespace, checkpoint_id, bound)]
    asked: dict[str, str] = {}
    for info in owned:
        if (info.namespace, info.id) in paused:
            asked[info.namespace] = min(asked.get(info.namespace, info.id), info.id)
    latest: dict[str, CheckpointInfo] = {}
    for info in owned:
        if info.id > asked.get(info.namespace, info.id):
            continue
        current = latest.get(info.namespace)
        if current is None or info.id > current.id:
            latest[info.namespace] = info
    return [latest[ns] for ns in sorted(latest)]


def _belongs(info: CheckpointInfo, namespace: str, checkpoint_id: str, bound: str | None) -> bool:
    """True if `info` is a nested checkpoint of the fork point (see `fork_children`)."""
    if not is_child_namespace(info.namespace, namespace):
        return False
    if bound is not None and info.id >= bound:
        return False
    parents = info.metadata.get("parents")
    if isinstance(parents, Mapping) and namespace in parents:
        return bool(parents[namespace] == checkpoint_id)
    return True


def fork_histories(
    namespace: str,
    checkpoint_id: str,
    checkpoints: Sequence[CheckpointInfo],
    paused: Collection[tuple[str, str]] = (),
) -> list[CheckpointInfo]:
    """`fork_children` with their histories: each one's parent chain in its namespace,
    oldest first (a subgraph's earlier steps, for its history and time travel in a fork)."""
    by_key = {(c.namespace, c.id): c for c in checkpoints}
    histories: list[CheckpointInfo] = []
    for child in fork_children(namespace, checkpoint_id, checkpoints, paused):
        chain = [child]
        while (parent := by_key.get((child.namespace, chain[-1].parent_id or ""))) is not None:
            chain.append(parent)
        histories.extend(reversed(chain))
    return histories
