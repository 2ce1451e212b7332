"""Reading checkpoints back from SQLite: headers, values, list items, pending writes.

Values of many checkpoints of one thread namespace are read together: one query for the
channel versions they name, one recursive query per list version not in the cache (its delta
chain, at most `snapshot_every` rows), one for the list items, one for the pending writes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from engram.state.checkpoints import id_from_bytes, id_to_bytes, is_checkpoint_id, sort_writes
from engram.state.headers import Header, unpack_header
from engram.state.values import SCALAR, ListState, ValueRow, assemble, resolve_hashes
from engram.stores._cache import BoundedCache
from engram.stores.sqlite import checkpoints_base as sql
from engram.types._checkpoint import (
    ChannelVersion,
    CheckpointInfo,
    EncodedValue,
    PendingWrite,
    StoredCheckpoint,
    StoredValue,
)

__all__ = [
    "ListCache",
    "info_of",
    "load_checkpoints",
    "resolve_list",
    "select_checkpoint",
]

_Group = tuple[int, str]  # (thread key, namespace)


ListCache = BoundedCache[tuple[int, str, str, str], ListState]
"""Resolved list versions by `(thread key, namespace, channel, version)`.

A stored version never changes and a thread key is never reused, so entries stay true; a
writer still checks a cached base's row exists before storing a delta against it.
"""


def resolve_list(
    db: sqlite3.Connection,
    cache: ListCache,
    key: int,
    namespace: str,
    channel: str,
    version: str,
) -> ListState | None:
    """A list version's item hashes (cache first, else one recursive query over its chain)."""
    cache_key = (key, namespace, channel, version)
    state = cache.get(cache_key)
    if state is not None:
        return state
    chain = db.execute(sql.VALUE_CHAIN, (key, namespace, channel, version)).fetchall()
    rows = {row[0]: sql.value_row(row, 1) for row in chain}
    if version not in rows or rows[version].kind == SCALAR:
        return None
    state = ListState(version, resolve_hashes(version, rows.get), rows[version].depth)
    cache.put(cache_key, state)
    return state


def select_checkpoint(
    db: sqlite3.Connection,
    tenant: str,
    thread_id: str,
    namespace: str,
    checkpoint_id: str | None,
) -> sqlite3.Row | None:
    """A `CHECKPOINT_COLUMNS` row: the checkpoint `checkpoint_id`, or the newest if None."""
    if checkpoint_id is None:
        found = db.execute(sql.GET_HEAD, (tenant, thread_id, namespace))
    elif is_checkpoint_id(checkpoint_id):
        params = (tenant, thread_id, namespace, id_to_bytes(checkpoint_id))
        found = db.execute(sql.GET_CHECKPOINT, params)
    else:
        return None
    row: sqlite3.Row | None = found.fetchone()
    return row


def info_of(row: sqlite3.Row) -> CheckpointInfo:
    """The header of a `CHECKPOINT_COLUMNS` row."""
    return sql.info_from_row(row, unpack_header(row["header"], row["zdict"]).versions)


def load_checkpoints(
    db: sqlite3.Connection,
    cache: ListCache,
    rows: Sequence[sqlite3.Row],
    values: bool,
    writes: bool,
) -> list[StoredCheckpoint]:
    """`StoredCheckpoint`s of `CHECKPOINT_COLUMNS` rows, with values/writes if asked."""
    headers = [unpack_header(row["header"], row["zdict"]) for row in rows]
    infos = [sql.info_from_row(row, h.versions) for row, h in zip(rows, headers, strict=True)]
    groups: dict[_Group, list[tuple[CheckpointInfo, Header]]] = {}
    for row, info, header in zip(rows, infos, headers, strict=True):
        groups.setdefault((row["thread_key"], info.namespace), []).append((info, header))
    loaded: dict[str, Mapping[str, StoredValue]] = {}
    pending: dict[str, tuple[PendingWrite, ...]] = {}
    for group, members in groups.items():
        if values:
            loaded |= _group_values(db, cache, group, members)
        if writes:
            pending |= _group_writes(db, group, [info for info, _ in members])
    return [
        StoredCheckpoint(
            info,
            values=loaded.get(info.id) if values else None,
            extra=header.extra,
            pending_writes=pending.get(info.id) if writes else None,
        )
        for info, header in zip(infos, headers, strict=True)
    ]


def _group_values(
    db: sqlite3.Connection,
    cache: ListCache,
    group: _Group,
    members: Sequence[tuple[CheckpointInfo, Header]],
) -> dict[str, dict[str, StoredValue]]:
    """The values of several checkpoints of one thread namespace: inline ones from their
    headers, the others from value rows (and list items), read together."""
    key, namespace = group
    wanted = sorted(
        {
            (channel, str(version))
            for info, header in members
            for channel, version in info.versions.items()
            if channel not in header.inline
        }
    )
    rows = _select_values(db, key, namespace, wanted)
    hashes: dict[tuple[str, str], tuple[bytes, ...]] = {}
    for (channel, version), row in rows.items():
        if row.kind != SCALAR:
            state = resolve_list(db, cache, key, namespace, channel, version)
            hashes[(channel, version)] = state.hashes if state else ()
    blobs = _select_blobs(db, key, {d for found in hashes.values() for d in found})
    return {
        info.id: _assemble(info.versions, header.inline, rows, hashes, blobs)
        for info, header in members
    }


def _assemble(
    versions: Mapping[str, ChannelVersion],
    inline: Mapping[str, EncodedValue],
    rows: Mapping[tuple[str, str], ValueRow],
    hashes: Mapping[tuple[str, str], tuple[bytes, ...]],
    blobs: Mapping[bytes, EncodedValue],
) -> dict[str, StoredValue]:
    found: dict[str, StoredValue] = {}
    for channel, version in versions.items():
        value_key = (channel, str(version))
        if channel in inline:
            found[channel] = inline[channel]
        elif value_key in rows:
            found[channel] = assemble(rows[value_key], hashes.get(value_key), blobs)
    return found


def _in_lists(items: list[Any]) -> Iterator[tuple[list[Any], int]]:
    """Chunks of at most 256 items, each padded to a power of two (few distinct statements)."""
    for start in range(0, len(items), 256):
        chunk = items[start : start + 256]
        size = sql.in_clause_size(len(chunk))
        yield sql.padded(chunk, size), size


def _select_values(
    db: sqlite3.Connection, key: int, namespace: str, wanted: list[tuple[str, str]]
) -> dict[tuple[str, str], ValueRow]:
    found: dict[tuple[str, str], ValueRow] = {}
    for chunk, size in _in_lists(wanted):
        statement = sql.SELECT_VALUES.format(pairs=", ".join(["(?, ?)"] * size))
        params = [part for pair in chunk for part in pair] + [key, namespace]
        for row in db.execute(statement, params):
            found[(row[0], row[1])] = sql.value_row(row, 2)
    return found


def _select_blobs(
    db: sqlite3.Connection, key: int, digests: set[bytes]
) -> dict[bytes, EncodedValue]:
    """The list items `digests` of a thread.

    A list usually holds most of its thread's items (messages are appended), so the thread's
    items are read in one range scan (a few times the wanted count at most); what that did
    not reach is looked up by hash.
    """
    found: dict[bytes, EncodedValue] = {}
    if not digests:
        return found
    limit = 2 * len(digests) + 8
    scanned = db.execute(sql.SCAN_BLOBS, (key, limit)).fetchall()
    for digest, type_, data in scanned:
        if digest in digests:
            found[bytes(digest)] = (type_, bytes(data))
    missing = sorted(digests - found.keys()) if len(scanned) == limit else []
    for chunk, size in _in_lists(missing):
        statement = sql.SELECT_BLOBS.format(marks=", ".join(["?"] * size))
        for digest, type_, data in db.execute(statement, [key, *chunk]):
            found[bytes(digest)] = (type_, bytes(data))
    return found


def _group_writes(
    db: sqlite3.Connection, group: _Group, infos: Sequence[CheckpointInfo]
) -> dict[str, tuple[PendingWrite, ...]]:
    key, namespace = group
    found: dict[str, list[PendingWrite]] = {info.id: [] for info in infos}
    for chunk, size in _in_lists([id_to_bytes(info.id) for info in infos]):
        statement = sql.SELECT_WRITES.format(marks=", ".join(["?"] * size))
        for row in db.execute(statement, [key, namespace, *chunk]):
            found[id_from_bytes(row["checkpoint_id"])].append(sql.pending_write(row))
    return {cid: sort_writes(writes) for cid, writes in found.items()}
