"""`EngramSaver`: LangGraph's `BaseCheckpointSaver` over an Engram checkpointer."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.checkpoint.base import Checkpoint as LangGraphCheckpoint
from langgraph.checkpoint.serde.base import SerializerProtocol

from engram._exceptions import InvalidInputError
from engram._validation import check_list
from engram.integrations.langgraph._convert import (
    config_for,
    list_op,
    put_op,
    put_writes_ops,
    thread_of,
    to_tuple,
)
from engram.integrations.langgraph._encoder import ListEncoder
from engram.stores.checkpoints import (
    BaseCheckpointer,
    CopyThread,
    DeleteRuns,
    DeleteThread,
    GetCheckpoint,
    Prune,
)
from engram.stores.sqlite._internal import Durability
from engram.types._checkpoint import RetentionPolicy
from engram.types._conversation import DEFAULT_TENANT, utcnow

__all__ = ["EngramSaver"]

_KEEP_LATEST = RetentionPolicy(keep_last=1)


class EngramSaver(BaseCheckpointSaver[str]):
    """A LangGraph checkpointer that stores in an Engram checkpointer.

    Values are serialized with the saver's `serde` (LangGraph's by default). A channel version
    is stored once, and list channels (`messages`) are stored as deltas of content-addressed
    items, so a thread's storage grows with what changed. Retention, forks and inspection
    are available through the Engram checkpointer (and `engram threads ...`).

    A put serializes only what changed: the channels in `new_versions`, and of a list that
    grew only its new items. The others keep their encoding unless changed in place, at any
    depth (a tool call's arguments edited by a node): a fingerprint of each item tells, see
    `engram.integrations.langgraph._encoder`.

    `list()` deserializes a channel version once however many listed checkpoints hold it:
    each checkpoint gets its own `messages` list, but the message objects in them are shared
    (LangGraph never mutates them; mutate copies, not the objects of a listed snapshot).

    Args:
        checkpointer: Where to store: `InMemoryCheckpointer`, `SqliteCheckpointer`, ...
        tenant: The tenant every thread of this saver belongs to.
        serde: LangGraph serializer (default `JsonPlusSerializer`).

    Example:
        ```python
        with EngramSaver.from_path("agent.db") as saver:
            graph = builder.compile(checkpointer=saver)
            graph.invoke(inputs, {"configurable": {"thread_id": "t1"}})
        ```
    """

    def __init__(
        self,
        checkpointer: BaseCheckpointer,
        *,
        tenant: str = DEFAULT_TENANT,
        serde: SerializerProtocol | None = None,
    ) -> None:
        super().__init__(serde=serde)
        self.checkpointer = checkpointer
        self.tenant = tenant
        self._encoder = ListEncoder(self.serde)

    @classmethod
    @contextmanager
    def from_path(
        cls,
        path: str | Path,
        *,
        tenant: str = DEFAULT_TENANT,
        durability: Durability = "normal",
        serde: SerializerProtocol | None = None,
    ) -> Iterator[EngramSaver]:
        """A saver on a SQLite file of its own, closed when the block exits."""
        from engram.stores.sqlite.checkpoints import SqliteCheckpointer

        with SqliteCheckpointer.from_path(path, durability=durability) as checkpointer:
            yield cls(checkpointer, tenant=tenant, serde=serde)

    def _lists(self) -> ListEncoder:
        # A clone made by `with_allowlist` has its own serde: give it its own encoder.
        if self._encoder.serde is not self.serde:
            self._encoder = ListEncoder(self.serde)
        return self._encoder

    def _get_op(self, config: RunnableConfig) -> GetCheckpoint:
        thread_id, namespace, checkpoint_id = thread_of(config)
        return GetCheckpoint(self.tenant, thread_id, namespace, checkpoint_id)

    def _tuple(self, stored: Any) -> CheckpointTuple | None:
        return None if stored is None else to_tuple(stored, self.serde)

    def _prune_ops(self, thread_ids: Sequence[str], strategy: str) -> list[Any]:
        """The ops of `prune` (none for no threads)."""
        ids = _ids(thread_ids, "thread_ids")
        if strategy not in ("keep_latest", "delete"):
            raise InvalidInputError(f"unknown prune strategy {strategy!r} (keep_latest or delete)")
        if not ids:
            return []
        if strategy == "keep_latest":
            return [Prune(self.tenant, utcnow(), ids, _KEEP_LATEST)]
        return [DeleteThread(self.tenant, thread_id) for thread_id in ids]

    def _delete_runs_op(self, run_ids: Sequence[str]) -> DeleteRuns:
        return DeleteRuns(self.tenant, _ids(run_ids, "run_ids"))

    # Sync

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self._tuple(self.checkpointer.batch([self._get_op(config)])[0])

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        op = list_op(self.tenant, config, filter, before, limit)
        decoded: dict[Any, Any] = {}
        for stored in self.checkpointer.batch([op])[0]:
            yield to_tuple(stored, self.serde, decoded)

    def put(
        self,
        config: RunnableConfig,
        checkpoint: LangGraphCheckpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        op = put_op(self.tenant, self._lists(), config, checkpoint, metadata, new_versions)
        self.checkpointer.batch([op])
        return config_for(op.thread_id, op.namespace, checkpoint["id"])

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self.checkpointer.batch(
            put_writes_ops(self.tenant, self.serde, config, writes, task_id, task_path)
        )

    def delete_thread(self, thread_id: str) -> None:
        self.checkpointer.batch([DeleteThread(self.tenant, str(thread_id))])

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints of `run_ids`, but those a `DeltaChannel` of a checkpoint
        left is rebuilt from (see `prune`). `InvalidInputError` for one run id alone."""
        self.checkpointer.batch([self._delete_runs_op(run_ids)])

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy a thread whole into a new one; `ConflictError` if the target exists. A
        source that does not exist copies nothing, without an error (LangGraph's
        conformance suite expects no error, and leaves the target empty)."""
        op = CopyThread(self.tenant, str(source_thread_id), str(target_thread_id))
        self.checkpointer.batch([op])

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Prune threads: `keep_latest` keeps the latest checkpoint of each namespace,
        `delete` deletes them.

        `keep_latest` also keeps what the latest checkpoint rebuilds its state from: a
        `DeltaChannel` written since its last snapshot is rebuilt from the writes of the
        parent chain back to that snapshot (LangGraph's
        `metadata["counters_since_delta_snapshot"]` says so), so those ancestors stay, with
        their writes (see `engram.state.retention.spare_ancestors`).

        `InvalidInputError` for one thread id alone (pass `[thread_id]`): it is not split
        into one id per character.
        """
        ops = self._prune_ops(thread_ids, strategy)
        if ops:
            self.checkpointer.batch(ops)

    # Async

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self._tuple((await self.checkpointer.abatch([self._get_op(config)]))[0])

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        op = list_op(self.tenant, config, filter, before, limit)
        decoded: dict[Any, Any] = {}
        for stored in (await self.checkpointer.abatch([op]))[0]:
            yield to_tuple(stored, self.serde, decoded)

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: LangGraphCheckpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        op = put_op(self.tenant, self._lists(), config, checkpoint, metadata, new_versions)
        await self.checkpointer.abatch([op])
        return config_for(op.thread_id, op.namespace, checkpoint["id"])

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        ops = put_writes_ops(self.tenant, self.serde, config, writes, task_id, task_path)
        await self.checkpointer.abatch(ops)

    async def adelete_thread(self, thread_id: str) -> None:
        await self.checkpointer.abatch([DeleteThread(self.tenant, str(thread_id))])

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await self.checkpointer.abatch([self._delete_runs_op(run_ids)])

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        op = CopyThread(self.tenant, str(source_thread_id), str(target_thread_id))
        await self.checkpointer.abatch([op])

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        ops = self._prune_ops(thread_ids, strategy)
        if ops:
            await self.checkpointer.abatch(ops)

    def get_next_version(self, current: str | None, channel: None) -> str:
        """The next version of a channel: a zero-padded counter and 64 random bits.

        The random part keeps versions unique when two branches of a thread (time travel)
        both update a channel from the same version.
        """
        if current is None:
            number = 0
        elif isinstance(current, int):
            number = current
        else:
            number = int(str(current).split(".")[0])
        return f"{number + 1:010d}.{random.getrandbits(64):016x}"


def _ids(values: Sequence[str], what: str) -> tuple[str, ...]:
    """Thread or run ids as Engram stores them (text); one id alone is refused, not split
    into characters (LangGraph's own savers refuse it too: pass `[thread_id]`)."""
    return tuple(str(value) for value in check_list(values, what))
