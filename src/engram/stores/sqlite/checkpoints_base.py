"""SQL, migrations and row encoding of the SQLite checkpointer (pure, no I/O).

Tables (component `checkpoints`):

- `checkpoint_threads`: one row per `(tenant, thread_id)` with an integer `key` the other
  tables use (AUTOINCREMENT: a key is never reused, so an in-process cache keyed by it never
  describes another thread), the thread's own retention policy (JSON) and `zdict`: the
  thread's first checkpoint header, the zlib dictionary its headers are compressed with.
- `checkpoints`: one row per checkpoint: ids as their 16 UUID bytes, `seq` (the parent's + 1),
  metadata as JSON text (filters use `json_extract`), and `header`: the channel version map
  and the writer's opaque `extra`, compressed with zstd against `zdict` (consecutive headers
  of a thread differ in a few versions, so a ~500-byte LangGraph header takes ~170 bytes).
  Files written before zstd hold deflated headers, which are still read.
- `checkpoint_values`: one row per stored channel version (`engram.state.values.ValueRow`).
- `checkpoint_blobs`: list items, once per thread, keyed by their 16-byte content hash.
- `checkpoint_writes`: pending writes (LangGraph), keyed like LangGraph's.

Times are Unix milliseconds. There are no foreign keys (each would cost a lookup per row
written): deleting a thread deletes its rows table by table, and a writer holding a cached
thread key inserts a checkpoint only if the thread row still exists (`INSERT ... WHERE EXISTS`);
every other row of a put is written after that, in the same transaction.
"""

from __future__ import annotations

import functools
import json
import operator
import sqlite3
import struct
import threading
import zlib
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import zstandard

from engram._exceptions import BackendError
from engram.state.checkpoints import dumps_json, from_ms, id_from_bytes
from engram.state.values import ValueRow
from engram.types._checkpoint import (
    ChannelVersion,
    CheckpointInfo,
    EncodedValue,
    PendingWrite,
    RetentionPolicy,
    ThreadInfo,
)

__all__ = ["COMPONENT", "MIGRATIONS"]

COMPONENT = "checkpoints"

MIGRATIONS = [
    """
CREATE TABLE checkpoint_threads (
    key INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    retention TEXT,
    zdict BLOB,
    UNIQUE (tenant, thread_id)
);
CREATE TABLE checkpoints (
    thread_key INTEGER NOT NULL,
    namespace TEXT NOT NULL,
    checkpoint_id BLOB NOT NULL,
    parent_id BLOB,
    seq INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    metadata TEXT NOT NULL,
    header BLOB NOT NULL,
    PRIMARY KEY (thread_key, namespace, checkpoint_id)
) WITHOUT ROWID;
CREATE TABLE checkpoint_values (
    thread_key INTEGER NOT NULL,
    namespace TEXT NOT NULL,
    channel TEXT NOT NULL,
    version TEXT NOT NULL,
    kind INTEGER NOT NULL,
    type TEXT,
    data BLOB NOT NULL,
    base TEXT,
    start INTEGER NOT NULL DEFAULT 0,
    stop INTEGER NOT NULL DEFAULT 0,
    depth INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (thread_key, namespace, channel, version)
) WITHOUT ROWID;
CREATE TABLE checkpoint_blobs (
    thread_key INTEGER NOT NULL,
    hash BLOB NOT NULL,
    type TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (thread_key, hash)
) WITHOUT ROWID;
CREATE TABLE checkpoint_writes (
    thread_key INTEGER NOT NULL,
    namespace TEXT NOT NULL,
    checkpoint_id BLOB NOT NULL,
    task_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    channel TEXT NOT NULL,
    type TEXT NOT NULL,
    data BLOB NOT NULL,
    task_path TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (thread_key, namespace, checkpoint_id, task_id, idx)
) WITHOUT ROWID
""",
]

# Threads

THREAD = "SELECT key, zdict FROM checkpoint_threads WHERE tenant = ? AND thread_id = ?"
INSERT_THREAD = """
INSERT INTO checkpoint_threads (tenant, thread_id, created_at, zdict) VALUES (?, ?, ?, ?)
RETURNING key
"""
THREAD_EXISTS = "SELECT 1 FROM checkpoint_threads WHERE key = ?"
SET_ZDICT = "UPDATE checkpoint_threads SET zdict = ? WHERE key = ?"
SET_RETENTION = "UPDATE checkpoint_threads SET retention = ? WHERE key = ?"
DELETE_THREAD = [
    f"DELETE FROM {table} WHERE thread_key = ?"
    for table in ("checkpoints", "checkpoint_values", "checkpoint_blobs", "checkpoint_writes")
] + ["DELETE FROM checkpoint_threads WHERE key = ?"]
_THREAD_COLUMNS = """
SELECT t.key, t.tenant, t.thread_id, t.created_at, t.retention,
    (SELECT count(*) FROM checkpoints c WHERE c.thread_key = t.key) AS checkpoints,
    (SELECT max(checkpoint_id) FROM checkpoints c
     WHERE c.thread_key = t.key AND c.namespace = '') AS head_id,
    (SELECT created_at FROM checkpoints c WHERE c.thread_key = t.key AND c.namespace = ''
     ORDER BY checkpoint_id DESC LIMIT 1) AS updated_at,
    (SELECT group_concat(namespace, char(10)) FROM
        (SELECT DISTINCT namespace FROM checkpoints c WHERE c.thread_key = t.key)) AS namespaces
FROM checkpoint_threads t
"""
GET_THREAD = _THREAD_COLUMNS + "WHERE t.tenant = ? AND t.thread_id = ?"
LIST_THREADS = _THREAD_COLUMNS + "WHERE t.tenant = ? ORDER BY t.key DESC LIMIT ? OFFSET ?"
TENANT_THREADS = """
SELECT key, thread_id, retention, zdict FROM checkpoint_threads WHERE tenant = ?
"""

# Checkpoints

CHECKPOINT_COLUMNS = """
SELECT t.tenant, t.thread_id, t.zdict, c.thread_key, c.namespace, c.checkpoint_id,
    c.parent_id, c.seq, c.created_at, c.metadata, c.header
FROM checkpoint_threads t JOIN checkpoints c ON c.thread_key = t.key
"""
GET_HEAD = (
    CHECKPOINT_COLUMNS
    + "WHERE t.tenant = ? AND t.thread_id = ? AND c.namespace = ?"
    + " ORDER BY c.checkpoint_id DESC LIMIT 1"
)
GET_CHECKPOINT = (
    CHECKPOINT_COLUMNS
    + "WHERE t.tenant = ? AND t.thread_id = ? AND c.namespace = ? AND c.checkpoint_id = ?"
)
HEAD = """
SELECT checkpoint_id, seq FROM checkpoints WHERE thread_key = ? AND namespace = ?
ORDER BY checkpoint_id DESC LIMIT 1
"""
PARENT = """
SELECT seq, header FROM checkpoints WHERE thread_key = ? AND namespace = ? AND checkpoint_id = ?
"""
INSERT_CHECKPOINT = """
INSERT OR REPLACE INTO checkpoints (thread_key, namespace, checkpoint_id, parent_id, seq,
    created_at, metadata, header)
SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8
WHERE EXISTS (SELECT 1 FROM checkpoint_threads WHERE key = ?1)
"""
THREAD_HISTORY = """
SELECT namespace, checkpoint_id, seq, created_at, header, json_extract(metadata, '$.run_id')
FROM checkpoints WHERE thread_key = ?
"""
DELETE_CHECKPOINT = """
DELETE FROM checkpoints WHERE thread_key = ? AND namespace = ? AND checkpoint_id = ?
"""
DELETE_CHECKPOINT_WRITES = """
DELETE FROM checkpoint_writes WHERE thread_key = ? AND namespace = ? AND checkpoint_id = ?
"""

# Values and blobs

VALUE_EXISTS = """
SELECT 1 FROM checkpoint_values
WHERE thread_key = ? AND namespace = ? AND channel = ? AND version = ?
"""
INSERT_VALUE = """
INSERT OR IGNORE INTO checkpoint_values (thread_key, namespace, channel, version, kind, type,
    data, base, start, stop, depth)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
# A delta is only stored if its base still is (another process may have pruned it).
INSERT_DELTA = """
INSERT OR IGNORE INTO checkpoint_values (thread_key, namespace, channel, version, kind, type,
    data, base, start, stop, depth)
SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11 WHERE EXISTS (SELECT 1 FROM
    checkpoint_values WHERE thread_key = ?1 AND namespace = ?2 AND channel = ?3 AND version = ?8)
"""
INSERT_BLOB = """
INSERT OR IGNORE INTO checkpoint_blobs (thread_key, hash, type, data) VALUES (?, ?, ?, ?)
"""
VALUE_CHAIN = """
WITH RECURSIVE chain(version, depth) AS (
    SELECT ?4, 0
    UNION ALL
    SELECT v.base, chain.depth + 1 FROM checkpoint_values v JOIN chain
    ON v.thread_key = ?1 AND v.namespace = ?2 AND v.channel = ?3 AND v.version = chain.version
    WHERE v.base IS NOT NULL AND chain.depth < 10000
)
SELECT v.version, v.kind, v.type, v.data, v.base, v.start, v.stop, v.depth
FROM chain JOIN checkpoint_values v
ON v.thread_key = ?1 AND v.namespace = ?2 AND v.channel = ?3 AND v.version = chain.version
"""
SELECT_VALUES = """
WITH wanted(channel, version) AS (VALUES {pairs})
SELECT w.channel, w.version, v.kind, v.type, v.data, v.base, v.start, v.stop, v.depth
FROM wanted w JOIN checkpoint_values v ON v.thread_key = ? AND v.namespace = ?
    AND v.channel = w.channel AND v.version = w.version
"""
SCAN_BLOBS = "SELECT hash, type, data FROM checkpoint_blobs WHERE thread_key = ? LIMIT ?"
SELECT_BLOBS = (
    "SELECT hash, type, data FROM checkpoint_blobs WHERE thread_key = ? AND hash IN ({marks})"
)
THREAD_VALUES = """
SELECT namespace, channel, version, kind, type, CASE WHEN kind = 0 THEN x'' ELSE data END,
    base, start, stop, depth
FROM checkpoint_values WHERE thread_key = ?
"""
THREAD_BLOB_HASHES = "SELECT hash FROM checkpoint_blobs WHERE thread_key = ?"
DELETE_VALUE = """
DELETE FROM checkpoint_values
WHERE thread_key = ? AND namespace = ? AND channel = ? AND version = ?
"""
DELETE_BLOB = "DELETE FROM checkpoint_blobs WHERE thread_key = ? AND hash = ?"
COPY_VALUE = """
INSERT OR IGNORE INTO checkpoint_values
SELECT ?, namespace, channel, version, kind, type, data, base, start, stop, depth
FROM checkpoint_values WHERE thread_key = ? AND namespace = ? AND channel = ? AND version = ?
"""
COPY_BLOB = """
INSERT OR IGNORE INTO checkpoint_blobs
SELECT ?, hash, type, data FROM checkpoint_blobs WHERE thread_key = ? AND hash = ?
"""
COPY_THREAD = [
    """INSERT OR IGNORE INTO checkpoint_values SELECT ?1, namespace, channel, version, kind,
    type, data, base, start, stop, depth FROM checkpoint_values WHERE thread_key = ?2""",
    """INSERT OR IGNORE INTO checkpoint_blobs SELECT ?1, hash, type, data
    FROM checkpoint_blobs WHERE thread_key = ?2""",
    """INSERT OR IGNORE INTO checkpoint_writes SELECT ?1, namespace, checkpoint_id, task_id,
    idx, channel, type, data, task_path FROM checkpoint_writes WHERE thread_key = ?2""",
]
COPY_CHECKPOINTS = """
SELECT namespace, checkpoint_id, parent_id, seq, created_at, metadata, header
FROM checkpoints WHERE thread_key = ?
"""
INSERT_COPY = """
INSERT OR IGNORE INTO checkpoints (thread_key, namespace, checkpoint_id, parent_id, seq,
    created_at, metadata, header) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
"""

# Pending writes

INSERT_WRITE = """
INSERT OR {conflict} INTO checkpoint_writes (thread_key, namespace, checkpoint_id, task_id,
    idx, channel, type, data, task_path)
SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9
WHERE EXISTS (SELECT 1 FROM checkpoint_threads WHERE key = ?1)
"""
SELECT_WRITES = """
SELECT checkpoint_id, task_id, channel, type, data, idx, task_path FROM checkpoint_writes
WHERE thread_key = ? AND namespace = ? AND checkpoint_id IN ({marks})
"""

# Row encoding

_NO_EXTRA = 0xFFFF
_ZSTD = b"\x02"  # the format byte of a header compressed with zstd (b"\x00": stored as is)
_ZSTD_LEVEL = -5  # zstd's fast levels: 3x faster than deflate here, 15% larger headers
_DEFLATE = b"\x01"  # headers of files written before zstd (read only)
_WBITS = -10  # their raw deflate window
_SIZES = struct.Struct("<IHI")
_KINDS: dict[type, str] = {str: "s", int: "i", float: "f"}
_PARSE: dict[str, Any] = {"s": str, "i": int, "f": float}
_ENTRY = struct.Struct("<HHI")

INLINE_MAX = 128
"""Scalar values up to this many bytes are kept in the header of each checkpoint holding
them (no value row, no extra lookup); larger ones and lists get value rows."""


class Header(NamedTuple):
    """What a checkpoint row's `header` holds.

    Stored as a format byte and, deflated against the thread's `zdict`: the sizes of the
    parts, the version map (`_versions_text`), the extra, and one length-prefixed entry per
    inline value.
    """

    versions: dict[str, ChannelVersion]
    """The version of each channel."""
    extra: EncodedValue | None
    """The writer's opaque data (LangGraph's checkpoint header)."""
    inline: dict[str, EncodedValue]
    """The small scalar values of the checkpoint, by channel."""


def plain_header(
    versions: Mapping[str, ChannelVersion],
    extra: EncodedValue | None,
    inline: Mapping[str, EncodedValue],
) -> bytes:
    """A checkpoint header, uncompressed: sizes, versions, extra, inline values."""
    encoded = _versions_text(versions).encode()
    tag, data = (b"", b"") if extra is None else (extra[0].encode(), extra[1])
    entries = b"".join([_entry(channel, *value) for channel, value in inline.items()])
    sizes = _SIZES.pack(len(encoded), _NO_EXTRA if extra is None else len(tag), len(entries))
    return b"".join((sizes, encoded, tag, data, entries))


@functools.lru_cache(maxsize=8192)
def _entry(channel: str, tag: str, data: bytes) -> bytes:
    # Cached: the small values a checkpoint carries over from its parent repeat put after put.
    name, kind = channel.encode(), tag.encode()
    return _ENTRY.pack(len(name), len(kind), len(data)) + name + kind + data


def _versions_text(versions: Mapping[str, ChannelVersion]) -> str:
    """A version map as text: `FS channel US value RS ...` when every version is a string
    (LangGraph's), else `GS channel US kind value RS ...`, else (a name needs escaping) JSON."""
    try:  # joined in C: one string per put and channel adds up
        pairs: Iterable[tuple[str, str]] = versions.items()  # type: ignore[assignment]
        text, prefix = "\x1e".join(map("\x1f".join, pairs)), "\x1c"
    except TypeError:  # a version (or name) that is not a string
        try:  # str() of an int, float or str is what `_PARSE` reads back
            parts = [f"{c}\x1f{_KINDS[type(v)]}{v}" for c, v in versions.items()]
        except KeyError:  # another type of version
            return dumps_json(versions)
        text, prefix = "\x1e".join(parts), "\x1d"
    count = len(versions)
    if text.count("\x1f") != count or text.count("\x1e") != max(count - 1, 0):
        return dumps_json(versions)
    return prefix + text


_split_unit = operator.methodcaller("partition", "\x1f")


def _parse_versions(text: str) -> dict[str, ChannelVersion]:
    if text.startswith("\x1c"):
        parts = text[1:].split("\x1e") if len(text) > 1 else ()
        return {channel: version for channel, _, version in map(_split_unit, parts)}
    if not text.startswith("\x1d"):
        parsed: dict[str, ChannelVersion] = json.loads(text)
        return parsed
    versions: dict[str, ChannelVersion] = {}
    for part in text[1:].split("\x1e") if len(text) > 1 else ():
        channel, _, value = part.partition("\x1f")
        versions[channel] = _PARSE[value[0]](value[1:])
    return versions


class HeaderPacker:
    """Compresses a thread's headers against its dictionary (its first header).

    The prepared dictionary is shared; zstd contexts are not thread-safe, so each OS thread
    gets its own.
    """

    def __init__(self, zdict: bytes) -> None:
        self._dictionary = zstandard.ZstdCompressionDict(
            zdict, dict_type=zstandard.DICT_TYPE_RAWCONTENT
        )
        self._dictionary.precompute_compress(level=_ZSTD_LEVEL)
        self._local = threading.local()

    def pack(self, plain: bytes) -> bytes:
        """A header as stored: the format byte and the compressed frame."""
        compressor = getattr(self._local, "compressor", None)
        if compressor is None:
            compressor = self._local.compressor = zstandard.ZstdCompressor(
                level=_ZSTD_LEVEL,
                dict_data=self._dictionary,
                write_checksum=False,
                write_content_size=True,
                write_dict_id=False,
            )
        packed: bytes = compressor.compress(plain)
        return _ZSTD + packed


class _HeaderUnpacker:
    """Decompresses headers compressed against one dictionary (a context per OS thread)."""

    def __init__(self, zdict: bytes) -> None:
        self._dictionary = zstandard.ZstdCompressionDict(
            zdict, dict_type=zstandard.DICT_TYPE_RAWCONTENT
        )
        self._local = threading.local()

    def unpack(self, packed: bytes) -> bytes:
        decompressor = getattr(self._local, "decompressor", None)
        if decompressor is None:
            decompressor = zstandard.ZstdDecompressor(dict_data=self._dictionary)
            self._local.decompressor = decompressor
        plain: bytes = decompressor.decompress(packed)
        return plain


@functools.lru_cache(maxsize=1024)
def _unpacker(zdict: bytes) -> _HeaderUnpacker:
    return _HeaderUnpacker(zdict)


def header_packer(zdict: bytes) -> HeaderPacker:
    """The packer of a thread's headers, primed with its dictionary; see `pack_header`."""
    return HeaderPacker(zdict)


def pack_header(plain: bytes, packer: HeaderPacker) -> bytes:
    """A header as stored, compressed by the thread's `header_packer`."""
    return packer.pack(plain)


def unpack_header(stored: bytes, zdict: bytes | None) -> Header:
    """The parts of a stored header."""
    try:
        form = stored[:1]
        if form == _ZSTD:
            plain = _unpacker(bytes(zdict or b"")).unpack(stored[1:])
        elif form == _DEFLATE:
            unpacker = zlib.decompressobj(_WBITS, zdict or b"")
            plain = unpacker.decompress(stored[1:]) + unpacker.flush()
        else:
            plain = bytes(stored[1:])
        size, tag_size, entries_size = _SIZES.unpack_from(plain)
    except (zstandard.ZstdError, zlib.error, struct.error) as exc:
        raise BackendError(f"corrupt checkpoint header: {exc}") from exc
    at = _SIZES.size + size
    versions = _parse_versions(plain[_SIZES.size : at].decode())
    extra = None
    if tag_size != _NO_EXTRA:
        data_size = len(plain) - at - tag_size - entries_size
        tag = plain[at : at + tag_size].decode()
        extra = (tag, plain[at + tag_size : at + tag_size + data_size])
        at += tag_size + data_size
    return Header(versions, extra, _inline(plain, at))


def _inline(plain: bytes, at: int) -> dict[str, EncodedValue]:
    inline: dict[str, EncodedValue] = {}
    while at < len(plain):
        name_size, tag_size, data_size = _ENTRY.unpack_from(plain, at)
        at += _ENTRY.size
        name = plain[at : at + name_size].decode()
        tag = plain[at + name_size : at + name_size + tag_size].decode()
        at += name_size + tag_size
        inline[name] = (tag, plain[at : at + data_size])
        at += data_size
    return inline


def _not_json(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON")


def _json_encoder() -> Any:
    """json's C encoder with `dumps_json`'s settings, without circular-reference markers (so
    it keeps no state between calls; a cycle ends in RecursionError); None without one."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    separators_and_flags = (":", ",", False, False, False)  # sort_keys, skipkeys, allow_nan
    return make(None, _not_json, json.encoder.encode_basestring, None, *separators_and_flags)


_ENCODE_JSON = _json_encoder()


def metadata_json(metadata: Mapping[str, Any]) -> str:
    """`dumps_json(metadata)`, by json's C encoder called directly: `JSONEncoder.encode`'s
    per-call setup costs more than encoding LangGraph's few metadata keys, once per put."""
    if _ENCODE_JSON is None or type(metadata) is not dict:
        return dumps_json(metadata)
    try:
        text = "".join(_ENCODE_JSON(metadata, 0))
        text.encode()  # lone surrogates are not text
    except (TypeError, ValueError, RecursionError):
        return dumps_json(metadata)  # raises InvalidInputError, saying what is wrong
    return text


def info_from_row(row: sqlite3.Row, versions: Mapping[str, ChannelVersion]) -> CheckpointInfo:
    """A `CheckpointInfo` from a `CHECKPOINT_COLUMNS` row and its unpacked versions."""
    parent = row["parent_id"]
    return CheckpointInfo(
        tenant=row["tenant"],
        thread_id=row["thread_id"],
        namespace=row["namespace"],
        id=id_from_bytes(row["checkpoint_id"]),
        parent_id=None if parent is None else id_from_bytes(parent),
        seq=row["seq"],
        created_at=from_ms(row["created_at"]),
        metadata=json.loads(row["metadata"]),
        versions=versions,
    )


def value_row(row: sqlite3.Row | tuple[Any, ...], offset: int = 0) -> ValueRow:
    """A `ValueRow` from the `kind, type, data, base, start, stop, depth` columns at `offset`."""
    kind, type_, data, base, start, stop, depth = tuple(row)[offset : offset + 7]
    return ValueRow(kind, type_, bytes(data), base, start, stop, depth)


def pending_write(row: sqlite3.Row) -> PendingWrite:
    return PendingWrite(
        task_id=row["task_id"],
        channel=row["channel"],
        value=(row["type"], bytes(row["data"])),
        idx=row["idx"],
        task_path=row["task_path"],
    )


def thread_from_row(row: sqlite3.Row) -> ThreadInfo:
    head, retention, namespaces = row["head_id"], row["retention"], row["namespaces"]
    return ThreadInfo(
        tenant=row["tenant"],
        thread_id=row["thread_id"],
        checkpoint_count=row["checkpoints"],
        head_id=None if head is None else id_from_bytes(head),
        created_at=from_ms(row["created_at"]),
        updated_at=from_ms(row["updated_at"] or row["created_at"]),
        namespaces=tuple(sorted(namespaces.split("\n"))) if namespaces is not None else (),
        retention=None if retention is None else RetentionPolicy.from_dict(json.loads(retention)),
    )


def retention_from_row(text: str | None) -> RetentionPolicy | None:
    return None if text is None else RetentionPolicy.from_dict(json.loads(text))


def padded(keys: list[Any], size: int) -> list[Any]:
    """`keys` padded to `size` by repeating the last (fewer distinct statements to cache)."""
    return keys + [keys[-1]] * (size - len(keys))


def in_clause_size(count: int, limit: int = 256) -> int:
    """The power of two >= count (capped at `limit`) an IN list is padded to."""
    size = 1
    while size < count and size < limit:
        size *= 2
    return size
