"""Reading checkpoints back from PostgreSQL: headers, values, list items, pending writes.

A get is one query (prepared, read in binary): the checkpoint row with its pending writes and
its values: the value rows of the channel versions it names, the delta chains of the lists
among them (recursive) and the list items these name. A listing reads its checkpoint rows,
then the values of each thread namespace's checkpoints together, the same way. A read takes
no lock: rows deleted between a listing's queries are reported by `VanishedError`, and the
batch is read again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from engram._exceptions import BackendError
from engram.state.checkpoints import is_checkpoint_id, metadata_matches, split_filter
from engram.state.headers import Header, unpack_header
from engram.state.retention import ValueKey
from engram.state.values import SCALAR, ListState, ValueRow, assemble, resolve_hashes
from engram.stores import checkpoints as ops
from engram.stores.postgres import checkpoints_base as sql
from engram.stores.postgres.base import Statement, Work
from engram.types._checkpoint import (
    ChannelVersion,
    CheckpointInfo,
    EncodedValue,
    StoredCheckpoint,
    StoredValue,
    ThreadInfo,
)

__all__ = [
    "VanishedError",
    "get",
    "get_thread",
    "info_of",
    "list_checkpoints",
    "list_threads",
    "resolve_list",
    "select_checkpoint",
    "value_rows",
]

_Group = tuple[int, str]  # (thread key, namespace)


class VanishedError(BackendError):
    """Rows a read needed were deleted while it read them; read again."""


def select_checkpoint(
    tenant: str,
    thread_id: str,
    namespace: str,
    checkpoint_id: str | None,
    writes: bool = False,
    values: bool = False,
) -> Work[dict[str, Any] | None]:
    """A `CHECKPOINT_COLUMNS` row: the checkpoint `checkpoint_id`, or the newest if None;
    with its pending writes and its values if asked (`checkpoints_base.decorated`)."""
    params: tuple[str, ...]
    if checkpoint_id is None:
        query, params = sql.GET_HEAD[(writes, values)], (namespace, tenant, thread_id)
    elif is_checkpoint_id(checkpoint_id):
        query = sql.GET_CHECKPOINT[(writes, values)]
        params = (tenant, thread_id, namespace, checkpoint_id)
    else:
        return None
    # The hot read: prepared at its first run (planning its value joins costs more than
    # running them; psycopg would plan it afresh 5 times first; a connection whose
    # `prepare_threshold` is None still prepares nothing), read in binary (bytea and arrays
    # without the text format's hex encoding and parsing).
    row: dict[str, Any] | None = yield Statement(query, params, "one", prepare=True, binary=True)
    return row


def _header(row: Mapping[str, Any]) -> Header:
    zdict = row["zdict"]
    return unpack_header(bytes(row["header"]), None if zdict is None else bytes(zdict))


def info_of(row: Mapping[str, Any]) -> CheckpointInfo:
    """The header of a `CHECKPOINT_COLUMNS` row."""
    return sql.info_from_row(row, _header(row).versions)


def get(op: ops.GetCheckpoint) -> Work[StoredCheckpoint | None]:
    ids = (op.tenant, op.thread_id, op.namespace, op.checkpoint_id)
    row = yield from select_checkpoint(*ids, writes=op.with_writes, values=op.with_values)
    if row is None:
        return None
    header = _header(row)
    info = sql.info_from_row(row, header.versions)
    values = None
    if op.with_values:
        with _vanished():
            values = _checkpoint_values(
                info.versions, header.inline, sql.chain_rows(row), sql.item_rows(row)
            )
    writes = sql.pending_writes(row) if op.with_writes else None
    return StoredCheckpoint(info, values, header.extra, writes)


def list_checkpoints(op: ops.ListCheckpoints) -> Work[list[StoredCheckpoint]]:
    if op.checkpoint_id is not None and not is_checkpoint_id(op.checkpoint_id):
        return []
    statement, params, rest = _list_query(op, limited=True)
    rows = yield Statement(statement, params, "all")
    kept = [r for r in rows if metadata_matches(json.loads(r["metadata"]), op.filter)]
    if len(kept) < len(rows) and op.limit is not None and not rest:
        # SQL's filter kept a row Python's did not (metadata jsonb cannot read): no LIMIT.
        statement, params, _ = _list_query(op, limited=False)
        rows = yield Statement(statement, params, "all")
        kept = [r for r in rows if metadata_matches(json.loads(r["metadata"]), op.filter)]
    kept = kept[: op.limit] if op.limit is not None else kept
    return (yield from load_checkpoints(kept, op.with_values, op.with_writes))


def _list_query(op: ops.ListCheckpoints, limited: bool) -> tuple[str, list[Any], dict[str, Any]]:
    """The SQL of a listing, its parameters, and the filter keys left for Python."""
    clauses: list[str] = ["t.tenant = %s"]
    params: list[Any] = [op.tenant]
    if op.thread_id is not None:
        clauses.append("t.thread_id = %s")
        params.append(op.thread_id)
    if op.namespace is not None:
        clauses.append("c.namespace = %s")
        params.append(op.namespace)
    if op.checkpoint_id is not None:
        clauses.append("c.checkpoint_id = %s::uuid")
        params.append(op.checkpoint_id)
    if op.before is not None:
        clauses.append("c.checkpoint_id < %s::uuid")
        params.append(op.before)
    in_sql, rest = split_filter(op.filter)
    for name, value in in_sql.items():
        clauses.append(sql.METADATA_EQUALS)
        params += [name, sql.json_candidates(value)]
    statement = f"{sql.CHECKPOINT_COLUMNS} WHERE {' AND '.join(clauses)}"
    statement += " ORDER BY c.checkpoint_id DESC"
    if op.limit is not None and not rest and limited:
        statement += " LIMIT %s"
        params.append(op.limit)
    return sql.decorated(statement, op.with_writes), params, rest


def load_checkpoints(
    rows: Sequence[Mapping[str, Any]], values: bool, writes: bool
) -> Work[list[StoredCheckpoint]]:
    """`StoredCheckpoint`s of `CHECKPOINT_COLUMNS` rows (read with their pending writes if
    `writes`), with their values if asked: one query per thread namespace."""
    headers = [_header(row) for row in rows]
    infos = [sql.info_from_row(row, h.versions) for row, h in zip(rows, headers, strict=True)]
    loaded: dict[tuple[int, str, str], Mapping[str, StoredValue]] = {}
    if values:
        groups: dict[_Group, list[tuple[CheckpointInfo, Header]]] = {}
        for row, info, header in zip(rows, infos, headers, strict=True):
            groups.setdefault((row["thread_key"], info.namespace), []).append((info, header))
        for group, members in groups.items():
            found = yield from _group_values(group, members)
            loaded |= {(*group, cid): value for cid, value in found.items()}
    return [
        StoredCheckpoint(
            info,
            values=loaded.get((row["thread_key"], info.namespace, info.id)) if values else None,
            extra=header.extra,
            pending_writes=sql.pending_writes(row) if writes else None,
        )
        for row, info, header in zip(rows, infos, headers, strict=True)
    ]


def _group_values(
    group: _Group, members: Sequence[tuple[CheckpointInfo, Header]]
) -> Work[dict[str, dict[str, StoredValue]]]:
    """The values of several checkpoints of one thread namespace: inline ones from their
    headers, the others from value rows and list items, read by one query."""
    key, namespace = group
    wanted = sorted(
        {
            (channel, str(version))
            for info, header in members
            for channel, version in info.versions.items()
            if channel not in header.inline
        }
    )
    rows, blobs = yield from _chains(key, namespace, wanted, sql.VALUES_AND_ITEMS)
    with _vanished():
        hashes = _resolve({pair: rows[pair] for pair in wanted if pair in rows}, rows)
        return {
            info.id: _assemble(info.versions, header.inline, rows, hashes, blobs)
            for info, header in members
        }


@contextmanager
def _vanished() -> Iterator[None]:
    """A chain row or a list item is missing: deleted while this read ran (read again)."""
    try:
        yield
    except BackendError as exc:
        raise VanishedError(str(exc)) from exc


def _resolve(
    wanted: Mapping[tuple[str, str], ValueRow], rows: Mapping[tuple[str, str], ValueRow]
) -> dict[tuple[str, str], tuple[bytes, ...]]:
    """The item hashes of the list rows of `wanted`, following their chains in `rows`."""
    return {pair: _hashes(rows, *pair) for pair, row in wanted.items() if row.kind != SCALAR}


def _hashes(
    rows: Mapping[tuple[str, str], ValueRow], channel: str, version: str
) -> tuple[bytes, ...]:
    return resolve_hashes(version, lambda other: rows.get((channel, other)))


def _chains(
    key: int, namespace: str, wanted: Sequence[tuple[str, str]], statement: str
) -> Work[tuple[dict[tuple[str, str], ValueRow], dict[bytes, EncodedValue]]]:
    """The wanted value rows with the delta chains of the lists among them, and (with
    `VALUES_AND_ITEMS`) the list items they name."""
    if not wanted:
        return {}, {}
    params = {
        "key": key,
        "namespace": namespace,
        "channels": [channel for channel, _ in wanted],
        "versions": [version for _, version in wanted],
    }
    rows: dict[tuple[str, str], ValueRow] = {}
    blobs: dict[bytes, EncodedValue] = {}
    for row in (yield Statement(statement, params, "all")):
        if row["hash"] is None:
            rows[(row["channel"], row["version"])] = sql.value_row(row)
        else:
            blobs[bytes(row["hash"])] = (row["type"], bytes(row["data"]))
    return rows, blobs


def resolve_list(key: int, namespace: str, channel: str, version: str) -> Work[ListState | None]:
    """A list version's item hashes (one recursive query over its delta chain)."""
    rows, _ = yield from _chains(key, namespace, [(channel, version)], sql.VALUE_CHAINS)
    row = rows.get((channel, version))
    if row is None or row.kind == SCALAR:
        return None
    with _vanished():
        return ListState(version, _hashes(rows, channel, version), row.depth)


def _checkpoint_values(
    versions: Mapping[str, ChannelVersion],
    inline: Mapping[str, EncodedValue],
    rows: Mapping[tuple[str, str], ValueRow],
    blobs: Mapping[bytes, EncodedValue],
) -> dict[str, StoredValue]:
    """The values of one checkpoint, resolving only the lists it names (`rows` also holds
    the rows of their delta chains)."""
    named = ((channel, str(version)) for channel, version in versions.items())
    wanted = {pair: rows[pair] for pair in named if pair[0] not in inline and pair in rows}
    return _assemble(versions, inline, rows, _resolve(wanted, rows), blobs)


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


def value_rows(key: int) -> Work[dict[ValueKey, ValueRow]]:
    """Every value row of a thread (list rows with their hashes, scalars without data)."""
    rows = yield Statement(sql.THREAD_VALUES, (key,), "all")
    return {(r["namespace"], r["channel"], r["version"]): sql.value_row(r) for r in rows}


def get_thread(op: ops.GetThread) -> Work[ThreadInfo | None]:
    row = yield Statement(sql.GET_THREAD, (op.tenant, op.thread_id), "one")
    return None if row is None else sql.thread_from_row(row)


def list_threads(op: ops.ListThreads) -> Work[list[ThreadInfo]]:
    rows = yield Statement(sql.LIST_THREADS, (op.tenant, op.limit, op.offset), "all")
    return [sql.thread_from_row(row) for row in rows]
