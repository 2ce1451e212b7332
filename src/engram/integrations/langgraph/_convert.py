"""Conversions between LangGraph's checkpoint shapes and Engram's (pure, no I/O)."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    ChannelVersions,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_metadata,
)
from langgraph.checkpoint.base import Checkpoint as LangGraphCheckpoint
from langgraph.checkpoint.serde.base import SerializerProtocol

from engram._exceptions import InvalidInputError
from engram.integrations.langgraph._encoder import ListEncoder
from engram.integrations.langgraph._msgpack import join_array
from engram.state.rollback import ASKED, first_asked
from engram.state.values import decode_value
from engram.stores.checkpoints import (
    ListCheckpoints,
    PutCheckpoint,
    PutWrites,
    check_checkpoint_id,
)
from engram.types._checkpoint import (
    ChannelWrite,
    EncodedList,
    PendingWrite,
    StoredCheckpoint,
    StoredValue,
)

__all__ = ["config_for", "list_op", "put_op", "put_writes_ops", "thread_of", "to_tuple"]

# Checkpoint keys Engram stores in its own columns; the rest is kept as the opaque header.
_OWN_KEYS = ("id", "channel_values", "channel_versions")


def thread_of(config: RunnableConfig) -> tuple[str, str, str | None]:
    """`(thread_id, checkpoint_ns, checkpoint_id)` of a config."""
    configurable = config.get("configurable") or {}
    if configurable.get("thread_id") is None:
        raise InvalidInputError("a LangGraph config needs configurable.thread_id")
    checkpoint_id = configurable.get("checkpoint_id")
    namespace = str(configurable.get("checkpoint_ns") or "")
    return str(configurable["thread_id"]), namespace, checkpoint_id and str(checkpoint_id)


def config_for(thread_id: str, namespace: str, checkpoint_id: str) -> RunnableConfig:
    return {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": namespace,
            "checkpoint_id": checkpoint_id,
        }
    }


def put_op(
    tenant: str,
    encoder: ListEncoder,
    config: RunnableConfig,
    checkpoint: LangGraphCheckpoint,
    metadata: CheckpointMetadata,
    new_versions: ChannelVersions,
) -> PutCheckpoint:
    """The Engram put of a LangGraph `put`: only the channels in `new_versions` are written."""
    thread_id, namespace, parent_id = thread_of(config)
    if parent_id is not None:  # the same error on every backend, before anything is encoded
        check_checkpoint_id(parent_id, "configurable.checkpoint_id (the parent of a put)")
    values, encode = checkpoint["channel_values"], encoder.encode
    writes = [
        ChannelWrite(channel, version, encode((thread_id, namespace, channel), values[channel]))
        for channel, version in new_versions.items()
        if channel in values
    ]
    header: dict[str, Any] = dict(checkpoint)
    for own in _OWN_KEYS:
        header.pop(own, None)
    return PutCheckpoint(
        tenant=tenant,
        thread_id=thread_id,
        namespace=namespace,
        checkpoint_id=checkpoint["id"],
        parent_id=parent_id,
        versions=dict(checkpoint["channel_versions"]),
        writes=tuple(writes),
        metadata=get_checkpoint_metadata(config, metadata),  # a new dict
        extra=encoder.serde.dumps_typed(header),
    )


def put_writes_ops(
    tenant: str,
    serde: SerializerProtocol,
    config: RunnableConfig,
    writes: Sequence[tuple[str, Any]],
    task_id: str,
    task_path: str,
) -> list[PutWrites]:
    """The Engram ops of a LangGraph `put_writes` (special channels replace, others don't).

    An interrupt is also kept as the task's first question, which later ones do not
    replace (see `engram.state.rollback.first_asked`)."""
    thread_id, namespace, checkpoint_id = thread_of(config)
    if checkpoint_id is None:
        raise InvalidInputError("put_writes needs configurable.checkpoint_id")
    pending = tuple(
        PendingWrite(
            task_id, channel, serde.dumps_typed(value), WRITES_IDX_MAP.get(channel, idx), task_path
        )
        for idx, (channel, value) in enumerate(writes)
    )
    replace = all(channel in WRITES_IDX_MAP for channel, _ in writes)
    ops = [PutWrites(tenant, thread_id, namespace, checkpoint_id, pending, replace)]
    asked = first_asked(pending)
    if asked:
        ops.append(PutWrites(tenant, thread_id, namespace, checkpoint_id, asked))
    return ops


def list_op(
    tenant: str,
    config: RunnableConfig | None,
    filter: Mapping[str, Any] | None,
    before: RunnableConfig | None,
    limit: int | None,
) -> ListCheckpoints:
    """The Engram listing of a LangGraph `list` (no config: every thread of the tenant).

    A config naming a checkpoint (`checkpoint_id`) lists that checkpoint only, as
    LangGraph's own savers do (`get_state_history` of such a config too).
    """
    configurable = (config or {}).get("configurable") or {}
    thread_id = configurable.get("thread_id")
    namespace = configurable.get("checkpoint_ns")
    checkpoint_id = configurable.get("checkpoint_id")
    before_id = ((before or {}).get("configurable") or {}).get("checkpoint_id")
    return ListCheckpoints(
        tenant=tenant,
        thread_id=None if thread_id is None else str(thread_id),
        namespace=None if namespace is None else str(namespace),
        filter=filter,
        before=before_id,
        limit=limit,
        with_values=True,
        with_writes=True,
        checkpoint_id=str(checkpoint_id) if checkpoint_id else None,
    )


def to_tuple(
    stored: StoredCheckpoint,
    serde: SerializerProtocol,
    decoded: dict[tuple[str, str, str, str], Any] | None = None,
) -> CheckpointTuple:
    """A LangGraph `CheckpointTuple` from a stored checkpoint.

    `decoded` memoizes values across the checkpoints of one listing: a channel version held
    by several of them is deserialized once. Each checkpoint gets its own top-level list or
    dict; the objects inside (messages) are shared between the checkpoints of the listing.
    """
    info = stored.info
    header: dict[str, Any] = (
        serde.loads_typed(stored.extra)
        if stored.extra is not None
        else {"v": 1, "ts": info.created_at.isoformat(), "versions_seen": {}}
    )
    values = {
        channel: _value(serde, value, (info.thread_id, info.namespace, channel), info, decoded)
        for channel, value in (stored.values or {}).items()
    }
    checkpoint: Any = {
        **header,
        "id": info.id,
        "channel_values": values,
        "channel_versions": dict(info.versions),
    }
    parent = None
    if info.parent_id is not None:
        parent = config_for(info.thread_id, info.namespace, info.parent_id)
    writes = [
        (w.task_id, w.channel, serde.loads_typed(w.value))
        for w in stored.pending_writes or ()
        if w.channel != ASKED
    ]
    metadata: Any = dict(info.metadata)
    return CheckpointTuple(
        config_for(info.thread_id, info.namespace, info.id), checkpoint, metadata, parent, writes
    )


def _value(
    serde: SerializerProtocol,
    stored: StoredValue,
    key: tuple[str, str, str],
    info: Any,
    decoded: dict[tuple[str, str, str, str], Any] | None,
) -> Any:
    if decoded is None:
        return _decode(serde, stored)
    memo_key = (*key, str(info.versions.get(key[2])))
    if memo_key not in decoded:
        decoded[memo_key] = _decode(serde, stored)
    value = decoded[memo_key]
    return copy.copy(value) if isinstance(value, list | dict) else value


def _decode(serde: SerializerProtocol, stored: StoredValue) -> Any:
    """Deserialize a channel value; a list of msgpack items in one call, joined as an array."""
    if isinstance(stored, EncodedList) and all(tag == "msgpack" for tag, _ in stored.items):
        return serde.loads_typed(("msgpack", join_array([data for _, data in stored.items])))
    return decode_value(serde, stored)
