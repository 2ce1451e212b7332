"""Retention planning and garbage collection of checkpoint values (pure).

Pruning is two steps, both planned here:

1. `plan_retention` picks the checkpoints of one thread namespace to keep, and
   `spare_ancestors` adds back those a kept checkpoint rebuilds a LangGraph `DeltaChannel`
   from (its parent chain back to the channel's last snapshot).
2. `rebased_values` turns a kept list delta whose base no kept checkpoint names into a
   snapshot; `needed_values` closes the set of channel versions the kept checkpoints name
   over the remaining delta bases, so every kept checkpoint still rebuilds exactly; the
   rest of the values, and the list items no kept value references (`values.blob_hashes`),
   go. So a pruned checkpoint's values and the list items only it held are deleted with
   it, except what step 1 spared: a spared ancestor stays whole, however old.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import NamedTuple

from engram.state.values import (
    DELTA,
    LIST,
    ValueRow,
    blob_hashes,
    pack_hashes,
    resolve_hashes,
)
from engram.types._checkpoint import ChannelVersion, RetentionPolicy

__all__ = [
    "HistoryEntry",
    "ValueKey",
    "collect_garbage",
    "doomed_checkpoints",
    "inline_garbage",
    "needed_values",
    "plan_retention",
    "rebased_values",
    "referenced_values",
    "spare_ancestors",
]


class HistoryEntry(NamedTuple):
    """What retention needs to know of one checkpoint."""

    namespace: str
    id: str
    seq: int
    created_at_ms: int
    parent_id: str | None = None
    needs_ancestors: bool = False
    """True if a LangGraph `DeltaChannel` of it is rebuilt from its parent chain
    (`engram.state.checkpoints.rebuilt_from_ancestors` of its metadata)."""


ValueKey = tuple[str, str, str]
"""A stored channel version: `(namespace, channel, str(version))`."""


def plan_retention(
    history: Sequence[HistoryEntry], policy: RetentionPolicy, now_ms: int
) -> set[str]:
    """The ids to keep of one thread namespace's checkpoints (see `RetentionPolicy`)."""
    if not history:
        return set()
    newest_first = sorted(history, key=lambda entry: entry.id, reverse=True)
    if policy.keep_last is None and policy.keep_every is None:
        kept = {entry.id for entry in newest_first}
    else:
        kept = {entry.id for entry in newest_first[: policy.keep_last or 0]}
        if policy.keep_every:
            kept |= {entry.id for entry in history if entry.seq % policy.keep_every == 0}
    if policy.max_age is not None:
        cutoff = now_ms - int(policy.max_age.total_seconds() * 1000)
        kept = {entry.id for entry in history if entry.id in kept and entry.created_at_ms >= cutoff}
    kept.add(newest_first[0].id)
    return kept


def referenced_values(namespace: str, versions: Mapping[str, ChannelVersion]) -> Iterable[ValueKey]:
    """The value keys a checkpoint's version map names."""
    return ((namespace, channel, str(version)) for channel, version in versions.items())


def needed_values(
    referenced: Iterable[ValueKey], bases: Mapping[ValueKey, str | None]
) -> set[ValueKey]:
    """The stored values to keep: those referenced, and the delta bases they rebuild from.

    Args:
        referenced: Value keys named by the kept checkpoints (absent keys are ignored).
        bases: Every stored value key of the thread, mapped to its delta base version.
    """
    needed: set[ValueKey] = set()
    for key in referenced:
        current: ValueKey | None = key
        while current is not None and current in bases and current not in needed:
            needed.add(current)
            base = bases[current]
            current = None if base is None else (current[0], current[1], base)
    return needed


def doomed_checkpoints(
    history: Iterable[HistoryEntry], policy: RetentionPolicy, now_ms: int
) -> list[tuple[str, str]]:
    """The `(namespace, id)` of the checkpoints `policy` removes from one thread (never one
    a kept checkpoint rebuilds its state from: see `spare_ancestors`)."""
    history = list(history)
    by_namespace: dict[str, list[HistoryEntry]] = {}
    for entry in history:
        by_namespace.setdefault(entry.namespace, []).append(entry)
    doomed: list[tuple[str, str]] = []
    for namespace, entries in sorted(by_namespace.items()):
        kept = plan_retention(entries, policy, now_ms)
        doomed += [(namespace, entry.id) for entry in entries if entry.id not in kept]
    return spare_ancestors(history, doomed)


def spare_ancestors(
    history: Iterable[HistoryEntry], doomed: Iterable[tuple[str, str]]
) -> list[tuple[str, str]]:
    """`doomed` without the checkpoints a remaining one needs to rebuild its state.

    LangGraph rebuilds a `DeltaChannel` of a checkpoint that is not at the channel's
    snapshot by walking its parent chain, replaying each ancestor's pending writes, up to
    the nearest ancestor holding a snapshot (one that needs no ancestors itself) or the
    root. Every checkpoint on that walk stays, with its pending writes and values: deleting
    one would silently rebuild the channel empty or short.

    Args:
        history: Every checkpoint of the thread.
        doomed: The `(namespace, id)` of the checkpoints to delete.
    """
    by_key = {(entry.namespace, entry.id): entry for entry in history}
    doomed = list(doomed)
    gone = set(doomed)
    spared: set[tuple[str, str]] = set()
    for key, entry in by_key.items():
        if key in gone:
            continue
        while entry.needs_ancestors and entry.parent_id is not None:
            parent_key = (entry.namespace, entry.parent_id)
            if parent_key not in gone or parent_key in spared or parent_key not in by_key:
                break  # kept anyway (its own walk goes on), walked already, or gone already
            spared.add(parent_key)
            entry = by_key[parent_key]
    return [key for key in doomed if key not in spared]


def rebased_values(
    referenced: Iterable[ValueKey], rows: Mapping[ValueKey, ValueRow]
) -> dict[ValueKey, ValueRow]:
    """The list deltas to store as snapshots, so nothing a pruned checkpoint alone named
    outlives it: a kept delta whose base no kept checkpoint names becomes a snapshot of its
    items, and the base (with items removed from the list since) can go.

    Without it, a value of a deleted checkpoint, and list items no kept checkpoint holds (a
    message removed from the list), would stay stored as the base of a kept delta.

    Args:
        referenced: The value keys the thread's remaining checkpoints name.
        rows: Every stored value row of the thread (for lists, `data` must be loaded).
    """
    named = {key for key in referenced if key in rows}
    rebased: dict[ValueKey, ValueRow] = {}
    for key in named:
        row = rows[key]
        if row.kind == DELTA and (key[0], key[1], row.base) not in named:
            fetch = functools.partial(_row_of, rows, key)
            rebased[key] = ValueRow(LIST, None, pack_hashes(resolve_hashes(key[2], fetch)))
    return rebased


def _row_of(rows: Mapping[ValueKey, ValueRow], key: ValueKey, version: str) -> ValueRow | None:
    return rows.get((key[0], key[1], version))


def collect_garbage(
    referenced: Iterable[ValueKey], rows: Mapping[ValueKey, ValueRow], blobs: Iterable[bytes]
) -> tuple[set[ValueKey], set[bytes]]:
    """The stored values and list items of a thread that no remaining checkpoint needs.

    Args:
        referenced: The value keys the thread's remaining checkpoints name.
        rows: Every stored value row of the thread (for lists, `data` must be loaded).
        blobs: Every stored item hash of the thread.
    """
    bases = {key: row.base if row.kind == DELTA else None for key, row in rows.items()}
    needed = needed_values(referenced, bases)
    kept_blobs = set(blob_hashes(rows[key] for key in needed))
    return set(rows) - needed, set(blobs) - kept_blobs


def inline_garbage(
    doomed: Iterable[tuple[str, Mapping[str, ChannelVersion], Iterable[str]]],
    referenced: Iterable[ValueKey],
    rows: Collection[ValueKey],
) -> set[ValueKey]:
    """The channel versions held only inline in the headers of deleted checkpoints (the
    small values a SQL backend keeps in the checkpoint row rather than a value row) that no
    remaining checkpoint names: they go with those rows, and count as values deleted, as a
    value row of theirs would (`PruneReport.values_deleted` is the same on every backend).

    Args:
        doomed: `(namespace, versions, inline channels)` of each deleted checkpoint.
        referenced: The value keys the thread's remaining checkpoints name.
        rows: Every stored value row's key (`collect_garbage` counts those).
    """
    inline = {
        (namespace, channel, str(versions[channel]))
        for namespace, versions, channels in doomed
        for channel in channels
    }
    return inline.difference(referenced, rows)
