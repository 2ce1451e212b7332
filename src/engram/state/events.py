"""Rebuilding state from an event log: reducers, replay, snapshots.

A reducer is a pure function `(state, event) -> state`. Folding a stream's events through it
rebuilds the state; a `SnapshotPolicy` stores that state every K events so the next rebuild
starts from the snapshot and reads at most K events after it.

The replay and append logic is written once, as generators that yield store operations and
receive their results (`replay_flow`, `append_flow`); `replay`/`areplay` and
`append_and_fold`/`aappend_and_fold` only drive them against a sync or async event log.

Example:
    ```python
    policy = SnapshotPolicy(every=100)
    rebuilt = replay(log, "default", "task-1", event_summary, {}, snapshots=policy)
    rebuilt.state, rebuilt.version, rebuilt.events_read
    rebuilt = append_and_fold(
        log, "default", "task-1", rebuilt, [Event.thought("next")], event_summary,
        snapshots=policy,
    )
    ```
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, Protocol, TypeVar

from engram._exceptions import InvalidInputError
from engram.stores._merge import merge_patch
from engram.stores.events import (
    AppendEvents,
    BaseEventLog,
    GetSnapshot,
    Op,
    PutSnapshot,
    ReadEvents,
)
from engram.types._event import AppendResult, Event, Snapshot

__all__ = [
    "ReducerProtocol",
    "Replay",
    "SnapshotPolicy",
    "aappend_and_fold",
    "append_and_fold",
    "append_flow",
    "areplay",
    "event_summary",
    "fold",
    "merge_custom_payloads",
    "replay",
    "replay_flow",
]

S = TypeVar("S")
R = TypeVar("R")

Flow = Generator[Op, Any, R]
"""A generator yielding store operations, sent their results, returning an `R`."""


class ReducerProtocol(Protocol[S]):
    """A pure function folding one event into the state; it must not mutate `state`."""

    def __call__(self, state: S, event: Event, /) -> S: ...


def _identity(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class SnapshotPolicy(Generic[S]):
    """When and how to snapshot a projection's state.

    Example:
        ```python
        SnapshotPolicy(every=500, name="agent/v1", encode=WorkingMemory.to_dict,
                       decode=WorkingMemory.from_dict)
        ```
    """

    every: int = 100
    """Store a snapshot once this many events were folded past the latest one (K)."""
    name: str = "state"
    """The projection's name; change it when the reducer changes meaning."""
    encode: Callable[[S], Any] = _identity
    """State -> JSON value."""
    decode: Callable[[Any], S] = _identity
    """JSON value -> state."""

    def __post_init__(self) -> None:
        if self.every < 1:
            raise InvalidInputError(f"snapshot interval must be >= 1, got {self.every}")

    def is_due(self, snapshot_version: int, version: int) -> bool:
        """Whether to snapshot at `version`, given the latest snapshot at `snapshot_version`."""
        return version - snapshot_version >= self.every


@dataclass(frozen=True)
class Replay(Generic[S]):
    """A rebuilt state and where it stands in its stream."""

    state: S
    """The folded state."""
    version: int = 0
    """The version of the last event folded into it (0: none)."""
    events_read: int = 0
    """How many events were read from the log to build it (snapshots not counted)."""
    snapshot_version: int = 0
    """The version of the latest snapshot it started from or wrote (0: none)."""


def fold(events: Iterable[Event], reducer: ReducerProtocol[S], state: S) -> S:
    """Fold `events` into `state`, in order."""
    for event in events:
        state = reducer(state, event)
    return state


def replay_flow(
    tenant: str,
    stream_id: str,
    reducer: ReducerProtocol[S],
    initial: S,
    *,
    snapshots: SnapshotPolicy[S] | None = None,
    to_version: int | None = None,
    page_size: int = 1000,
) -> Flow[Replay[S]]:
    """The replay logic, as a generator of store ops (see `replay` for the arguments)."""
    if page_size < 1:
        raise InvalidInputError(f"page_size must be >= 1, got {page_size}")
    current = Replay(initial)
    if snapshots is not None:
        found: Snapshot | None = yield GetSnapshot(tenant, stream_id, snapshots.name, to_version)
        if found is not None:
            state = snapshots.decode(found.state)
            current = Replay(state, found.version, 0, found.version)
    while to_version is None or current.version < to_version:
        page: list[Event] = yield ReadEvents(
            tenant, stream_id, current.version + 1, to_version, page_size
        )
        current = _folded(current, page, reducer)
        if len(page) < page_size:
            break
    return (yield from _snapshot_flow(tenant, stream_id, current, snapshots))


def _folded(current: Replay[S], page: Sequence[Event], reducer: ReducerProtocol[S]) -> Replay[S]:
    if not page:
        return current
    return replace(
        current,
        state=fold(page, reducer, current.state),
        version=page[-1].version or current.version,
        events_read=current.events_read + len(page),
    )


def _snapshot_flow(
    tenant: str, stream_id: str, current: Replay[S], snapshots: SnapshotPolicy[S] | None
) -> Flow[Replay[S]]:
    if snapshots is None or not snapshots.is_due(current.snapshot_version, current.version):
        return current
    snapshot = Snapshot(stream_id, current.version, snapshots.encode(current.state), snapshots.name)
    stored: Snapshot = yield PutSnapshot(tenant, snapshot)
    if stored.version != current.version:  # the store kept a newer one ("as of" a version)
        return current
    return replace(current, snapshot_version=current.version)


def append_flow(
    tenant: str,
    stream_id: str,
    current: Replay[S],
    events: Sequence[Event],
    reducer: ReducerProtocol[S],
    *,
    idempotency_key: str | None = None,
    snapshots: SnapshotPolicy[S] | None = None,
) -> Flow[Replay[S]]:
    """The append-and-fold logic, as a generator of store ops (see `append_and_fold`)."""
    op = AppendEvents(tenant, stream_id, tuple(events), current.version, idempotency_key)
    result: AppendResult = yield op
    if result.duplicate and result.last_version > current.version:
        # The key was applied before this state was rebuilt: catch up on what it wrote.
        missed: list[Event] = yield ReadEvents(
            tenant, stream_id, current.version + 1, result.last_version
        )
        current = _folded(current, missed, reducer)
    elif not result.duplicate:
        current = replace(
            current,
            state=fold(result.events, reducer, current.state),
            version=result.last_version,
        )
    return (yield from _snapshot_flow(tenant, stream_id, current, snapshots))


def _drive(log: BaseEventLog, flow: Flow[R]) -> R:
    try:
        op = next(flow)
        while True:
            op = flow.send(log.batch([op])[0])
    except StopIteration as stop:
        result: R = stop.value
        return result


async def _adrive(log: BaseEventLog, flow: Flow[R]) -> R:
    try:
        op = next(flow)
        while True:
            op = flow.send((await log.abatch([op]))[0])
    except StopIteration as stop:
        result: R = stop.value
        return result


def replay(
    log: BaseEventLog,
    tenant: str,
    stream_id: str,
    reducer: ReducerProtocol[S],
    initial: S,
    *,
    snapshots: SnapshotPolicy[S] | None = None,
    to_version: int | None = None,
    page_size: int = 1000,
) -> Replay[S]:
    """Rebuild a stream's state by folding its events through `reducer`.

    With `snapshots`, the rebuild starts from the latest snapshot of that projection and reads
    only the events after it; if it folded at least `snapshots.every` events past it, it stores
    a new snapshot of the state it reached, so the next rebuild reads fewer.

    Args:
        log: The event log.
        tenant: The tenant.
        stream_id: The stream (an empty or missing stream gives `initial` at version 0).
        reducer: The pure `(state, event) -> state` function.
        initial: The state before the first event.
        snapshots: How to read and write snapshots; None reads every event from version 1.
        to_version: Rebuild the state as of this version (a newer snapshot is ignored).
        page_size: Events read per round trip.

    Returns:
        The state, its version, and how many events were read to build it.
    """
    return _drive(
        log,
        replay_flow(
            tenant,
            stream_id,
            reducer,
            initial,
            snapshots=snapshots,
            to_version=to_version,
            page_size=page_size,
        ),
    )


async def areplay(
    log: BaseEventLog,
    tenant: str,
    stream_id: str,
    reducer: ReducerProtocol[S],
    initial: S,
    *,
    snapshots: SnapshotPolicy[S] | None = None,
    to_version: int | None = None,
    page_size: int = 1000,
) -> Replay[S]:
    """Async `replay`."""
    flow = replay_flow(
        tenant,
        stream_id,
        reducer,
        initial,
        snapshots=snapshots,
        to_version=to_version,
        page_size=page_size,
    )
    return await _adrive(log, flow)


def append_and_fold(
    log: BaseEventLog,
    tenant: str,
    stream_id: str,
    current: Replay[S],
    events: Sequence[Event],
    reducer: ReducerProtocol[S],
    *,
    idempotency_key: str | None = None,
    snapshots: SnapshotPolicy[S] | None = None,
) -> Replay[S]:
    """Append `events` on top of `current` and fold them in, snapshotting when due.

    The append expects the stream to be at `current.version`, so a state rebuilt by a writer
    that lost a race is never extended: the append raises `ConflictError` and the writer
    replays and decides again. A repeated `idempotency_key` appends nothing; the state catches
    up on the events the first append wrote if `current` did not include them yet.

    Raises:
        ConflictError: Another writer appended since `current` was rebuilt.
    """
    flow = append_flow(
        tenant,
        stream_id,
        current,
        events,
        reducer,
        idempotency_key=idempotency_key,
        snapshots=snapshots,
    )
    return _drive(log, flow)


async def aappend_and_fold(
    log: BaseEventLog,
    tenant: str,
    stream_id: str,
    current: Replay[S],
    events: Sequence[Event],
    reducer: ReducerProtocol[S],
    *,
    idempotency_key: str | None = None,
    snapshots: SnapshotPolicy[S] | None = None,
) -> Replay[S]:
    """Async `append_and_fold`."""
    flow = append_flow(
        tenant,
        stream_id,
        current,
        events,
        reducer,
        idempotency_key=idempotency_key,
        snapshots=snapshots,
    )
    return await _adrive(log, flow)


# Built-in reducers (JSON states, so they snapshot with the default policy).


def event_summary(state: dict[str, Any], event: Event) -> dict[str, Any]:
    """Count events by type and keep the last event of each type.

    State: `{"version": int, "counts": {type: n}, "last": {type: event as dict}}`.
    """
    counts = dict(state.get("counts") or {})
    counts[event.type] = counts.get(event.type, 0) + 1
    last = dict(state.get("last") or {})
    last[event.type] = event.to_dict()
    return {"version": event.version or 0, "counts": counts, "last": last}


def merge_custom_payloads(state: dict[str, Any], event: Event) -> dict[str, Any]:
    """Merge every `custom` event's payload into the state as a JSON merge patch (RFC 7396).

    Other event types leave the state unchanged; a `null` value deletes a key.
    """
    if event.type != "custom":
        return state
    merged: dict[str, Any] = merge_patch(state, dict(event.payload))
    return merged
