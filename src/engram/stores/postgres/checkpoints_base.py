"""SQL, migrations and row decoding of the PostgreSQL checkpointer (pure, no I/O).

Tables of component `checkpoints`, the SQLite checkpointer's layout in PostgreSQL types:

- `engram_checkpoint_threads`: one row per `(tenant, thread_id)` with a `key` the other
  tables use (an identity: never reused), the thread's retention policy (JSON text), `zdict`
  (the dictionary its headers are compressed against: `engram.state.headers.thread_dictionary`;
  replaced, headers re-packed, only by a deletion or migration 2, which bump the generation) and
  `generation`, bumped by every operation that deletes part of the thread (see below).
- `engram_checkpoints`: one row per checkpoint: ids as `uuid` (16 bytes, ordered as their
  strings), `seq`, metadata as JSON text, and `header`: the version map, the writer's extra
  and the small values, deflated (the SQLite header format, `sqlite.checkpoints_base`);
  `ref_channels`/`ref_versions`: the channel versions it names that are value rows, so
  that one query reads a checkpoint with its values.
- `engram_checkpoint_values`: one row per stored channel version (`state.values.ValueRow`).
- `engram_checkpoint_blobs`: list items, once per thread, keyed by their 16-byte hash.
- `engram_checkpoint_writes`: pending writes, keyed like LangGraph's.

Concurrency without a lock round trip per put: a put is one statement that inserts only if
the thread row still has the generation the writer's caches were read at, and it locks that
row `FOR SHARE`. Pruning and run deletion first bump the generation (waiting for puts in
flight), so their later statements see every committed put, and a put racing them finds a
newer generation and starts again from the database. Deleting a thread deletes its thread row
first, for the same reason. Every query is scoped by tenant (through the thread row).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from engram.state.checkpoints import from_ms, sort_writes, to_ms
from engram.state.values import ValueRow
from engram.stores.postgres.base import ASYNC_COMMIT, Migration, Work, utc
from engram.types._checkpoint import (
    ChannelVersion,
    CheckpointInfo,
    PendingWrite,
    RetentionPolicy,
    ThreadInfo,
)

__all__ = ["COMPONENT", "MIGRATIONS"]

COMPONENT = "checkpoints"


def _clean_dictionaries() -> Work[None]:
    """Migration 2: `_checkpoint_prune.clean_dictionaries` (imported here: it uses this
    module's SQL)."""
    from engram.stores.postgres._checkpoint_prune import clean_dictionaries

    yield from clean_dictionaries()


MIGRATIONS: list[Migration] = [
    """
CREATE TABLE engram_checkpoint_threads (
    key bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant text COLLATE "C" NOT NULL,
    thread_id text COLLATE "C" NOT NULL,
    created_at timestamptz NOT NULL,
    generation bigint NOT NULL DEFAULT 0,
    retention text,
    zdict bytea,
    UNIQUE (tenant, thread_id)
);
CREATE INDEX engram_checkpoint_threads_tenant ON engram_checkpoint_threads (tenant, key);
CREATE TABLE engram_checkpoints (
    thread_key bigint NOT NULL,
    namespace text COLLATE "C" NOT NULL,
    checkpoint_id uuid NOT NULL,
    parent_id uuid,
    seq integer NOT NULL,
    created_at timestamptz NOT NULL,
    metadata text NOT NULL,
    header bytea NOT NULL,
    ref_channels text[] NOT NULL,
    ref_versions text[] NOT NULL,
    PRIMARY KEY (thread_key, namespace, checkpoint_id)
);
CREATE TABLE engram_checkpoint_values (
    thread_key bigint NOT NULL,
    namespace text COLLATE "C" NOT NULL,
    channel text COLLATE "C" NOT NULL,
    version text COLLATE "C" NOT NULL,
    kind smallint NOT NULL,
    type text,
    data bytea NOT NULL,
    base text COLLATE "C",
    start integer NOT NULL,
    stop integer NOT NULL,
    depth integer NOT NULL,
    PRIMARY KEY (thread_key, namespace, channel, version)
);
CREATE TABLE engram_checkpoint_blobs (
    thread_key bigint NOT NULL,
    hash bytea NOT NULL,
    type text NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (thread_key, hash)
);
CREATE TABLE engram_checkpoint_writes (
    thread_key bigint NOT NULL,
    namespace text COLLATE "C" NOT NULL,
    checkpoint_id uuid NOT NULL,
    task_id text COLLATE "C" NOT NULL,
    idx integer NOT NULL,
    channel text NOT NULL,
    type text NOT NULL,
    data bytea NOT NULL,
    task_path text COLLATE "C" NOT NULL,
    PRIMARY KEY (thread_key, namespace, checkpoint_id, task_id, idx)
)
""",
    # 2: no thread keeps a dictionary written before `thread_dictionary` (a first header
    # whole, values included: values an older Engram pruned or deleted stayed readable there).
    _clean_dictionaries,
]

TABLES = (
    "engram_checkpoints",
    "engram_checkpoint_values",
    "engram_checkpoint_blobs",
    "engram_checkpoint_writes",
)
"""The tables keyed by `thread_key` (every table but the threads)."""

# Threads

THREAD = """
SELECT key, zdict, generation FROM engram_checkpoint_threads WHERE tenant = %s AND thread_id = %s
"""
INSERT_THREAD = """
INSERT INTO engram_checkpoint_threads (tenant, thread_id, created_at, zdict)
VALUES (%s, %s, %s, %s) ON CONFLICT (tenant, thread_id) DO NOTHING
RETURNING key, zdict, generation
"""
SET_ZDICT = """
UPDATE engram_checkpoint_threads SET zdict = coalesce(zdict, %s) WHERE key = %s
RETURNING key, zdict, generation
"""
SET_RETENTION = "UPDATE engram_checkpoint_threads SET retention = %s WHERE key = %s"
LOCK_THREAD = "SELECT key, zdict FROM engram_checkpoint_threads WHERE key = %s FOR SHARE"
LOCK_HEAD = "SELECT key FROM engram_checkpoint_threads WHERE key = %s FOR NO KEY UPDATE"
"""Held by a put onto the thread's head until it commits: puts of one thread onto its head
take turns, each reading the head the one before wrote."""
BUMP_GENERATION = """
UPDATE engram_checkpoint_threads SET generation = generation + 1 WHERE key = %s
RETURNING generation
"""
DELETE_THREAD = """
DELETE FROM engram_checkpoint_threads WHERE tenant = %s AND thread_id = %s RETURNING key
"""
DELETE_THREAD_ROWS = [f"DELETE FROM {table} WHERE thread_key = %s" for table in TABLES]
_THREAD_COLUMNS = """
SELECT t.key, t.tenant, t.thread_id, t.created_at, t.retention,
    (SELECT count(*) FROM engram_checkpoints c WHERE c.thread_key = t.key) AS checkpoints,
    head.checkpoint_id::text AS head_id, head.created_at AS updated_at,
    (SELECT string_agg(DISTINCT c.namespace, chr(10)) FROM engram_checkpoints c
     WHERE c.thread_key = t.key) AS namespaces
FROM engram_checkpoint_threads t
LEFT JOIN LATERAL (
    SELECT c.checkpoint_id, c.created_at FROM engram_checkpoints c
    WHERE c.thread_key = t.key AND c.namespace = '' ORDER BY c.checkpoint_id DESC LIMIT 1
) head ON true
"""
GET_THREAD = _THREAD_COLUMNS + "WHERE t.tenant = %s AND t.thread_id = %s"
LIST_THREADS = _THREAD_COLUMNS + "WHERE t.tenant = %s ORDER BY t.key DESC LIMIT %s OFFSET %s"
TENANT_THREADS = """
SELECT key, thread_id, retention, zdict FROM engram_checkpoint_threads WHERE tenant = %s
ORDER BY key
"""
THREAD_CHECKPOINTS = """
SELECT count(*) AS checkpoints FROM engram_checkpoints WHERE thread_key = %s
"""

# Checkpoints

CHECKPOINT_COLUMNS = """
SELECT t.tenant, t.thread_id, t.zdict, c.thread_key, c.namespace,
    c.checkpoint_id::text AS checkpoint_id, c.parent_id::text AS parent_id, c.seq,
    c.created_at, c.metadata, c.header, c.ref_channels, c.ref_versions
FROM engram_checkpoint_threads t JOIN engram_checkpoints c ON c.thread_key = t.key
"""
_WRITES = """
LEFT JOIN LATERAL (
    SELECT array_agg(w.task_id) AS task_ids, array_agg(w.channel) AS channels,
        array_agg(w.type) AS types, array_agg(w.data) AS datas, array_agg(w.idx) AS idxs,
        array_agg(w.task_path) AS task_paths
    FROM engram_checkpoint_writes w WHERE w.thread_key = c.thread_key
        AND w.namespace = c.namespace AND w.checkpoint_id = c.checkpoint_id::uuid
) w ON true"""
# Each value row is looked up by its primary key (a LIMIT 1 lateral): a plain join lets a
# planner without statistics (a table just filled) scan every value row of the namespace
# once per wanted version.
_VALUES = """
LEFT JOIN LATERAL (
    WITH RECURSIVE chain AS (
        SELECT v.channel, v.version, v.kind, v.type, v.data, v.base, v.start, v.stop, v.depth
        FROM unnest(c.ref_channels, c.ref_versions) AS r(channel, version)
        CROSS JOIN LATERAL (
            SELECT * FROM engram_checkpoint_values v WHERE v.thread_key = c.thread_key
                AND v.namespace = c.namespace AND v.channel = r.channel AND v.version = r.version
            LIMIT 1
        ) v
        UNION
        SELECT v.channel, v.version, v.kind, v.type, v.data, v.base, v.start, v.stop, v.depth
        FROM chain CROSS JOIN LATERAL (
            SELECT * FROM engram_checkpoint_values v WHERE v.thread_key = c.thread_key
                AND v.namespace = c.namespace AND v.channel = chain.channel
                AND v.version = chain.base
            LIMIT 1
        ) v
        WHERE chain.kind = 2
    )
    SELECT array_agg(channel) AS v_channels, array_agg(version) AS v_versions,
        array_agg(kind) AS v_kinds, array_agg(type) AS v_types, array_agg(data) AS v_datas,
        array_agg(base) AS v_bases, array_agg(start) AS v_starts, array_agg(stop) AS v_stops,
        array_agg(depth) AS v_depths
    FROM chain
) v ON true
LEFT JOIN LATERAL (
    SELECT array_agg(b.hash) AS b_hashes, array_agg(b.type) AS b_types,
        array_agg(b.data) AS b_datas
    FROM engram_checkpoint_blobs b WHERE b.thread_key = c.thread_key AND b.hash = ANY(ARRAY(
        SELECT substring(d.data FROM i * 16 + 1 FOR 16)
        FROM unnest(v.v_datas, v.v_kinds) AS d(data, kind),
            generate_series(0, length(d.data) / 16 - 1) AS i
        WHERE d.kind <> 0))
) b ON true"""


def decorated(checkpoints: str, writes: bool, values: bool = False, one: bool = False) -> str:
    """A `CHECKPOINT_COLUMNS` query whose rows also carry (as arrays, joined after its own
    ordering and limit) their pending writes, and their value rows with the delta chains of
    the lists among them and the list items these name. `one`: it reads at most one row
    (nothing to sort again)."""
    if not writes and not values:
        return checkpoints
    joins = (_WRITES if writes else "") + (_VALUES if values else "")
    order = "" if one else " ORDER BY c.checkpoint_id DESC"
    return f"SELECT * FROM ({checkpoints}) c {joins}{order}"


# The newest checkpoint through a lateral LIMIT 1: one backward index step, where a join
# ordered after it reads (and sorts) every checkpoint of the thread namespace.
_HEAD = """
SELECT t.tenant, t.thread_id, t.zdict, c.thread_key, c.namespace,
    c.checkpoint_id::text AS checkpoint_id, c.parent_id::text AS parent_id, c.seq,
    c.created_at, c.metadata, c.header, c.ref_channels, c.ref_versions
FROM engram_checkpoint_threads t CROSS JOIN LATERAL (
    SELECT * FROM engram_checkpoints c WHERE c.thread_key = t.key AND c.namespace = %s
    ORDER BY c.checkpoint_id DESC LIMIT 1
) c
WHERE t.tenant = %s AND t.thread_id = %s
"""
_ID_WHERE = (
    "WHERE t.tenant = %s AND t.thread_id = %s AND c.namespace = %s AND c.checkpoint_id = %s::uuid"
)
GET_HEAD = {
    (writes, values): decorated(_HEAD, writes, values, one=True)
    for writes in (False, True)
    for values in (False, True)
}
"""The newest checkpoint of a thread namespace, by `(with writes, with values)`."""
GET_CHECKPOINT = {
    (writes, values): decorated(CHECKPOINT_COLUMNS + _ID_WHERE, writes, values, one=True)
    for writes in (False, True)
    for values in (False, True)
}
"""A checkpoint by id, by `(with writes, with values)`."""
HEAD = """
SELECT checkpoint_id::text AS checkpoint_id, seq FROM engram_checkpoints
WHERE thread_key = %s AND namespace = %s ORDER BY checkpoint_id DESC LIMIT 1
"""
PARENT = """
SELECT seq, header FROM engram_checkpoints
WHERE thread_key = %s AND namespace = %s AND checkpoint_id = %s::uuid
"""
THREAD_HISTORY = """
SELECT namespace, checkpoint_id::text AS checkpoint_id, parent_id::text AS parent_id, seq,
    created_at, header, metadata
FROM engram_checkpoints WHERE thread_key = %s
"""
# A metadata value as jsonb; NULL for the rare text jsonb cannot hold (an escaped U+0000).
_METADATA = "(CASE WHEN strpos(c.metadata, '\\u0000') = 0 THEN c.metadata::jsonb END)"
METADATA_EQUALS = f"({_METADATA} -> %s = ANY(%s::jsonb[]) OR strpos(c.metadata, '\\u0000') > 0)"
"""A listing's filter on one metadata key: its value is one of the JSON values given (rows
jsonb cannot read are kept for the exact filter in Python)."""
RUN_THREADS = f"""
SELECT DISTINCT c.thread_key, t.zdict FROM engram_checkpoint_threads t
JOIN engram_checkpoints c ON c.thread_key = t.key
WHERE t.tenant = %s AND ({_METADATA} ->> 'run_id' = ANY(%s::text[])
    OR strpos(c.metadata, '\\u0000') > 0)
"""
DELETE_CHECKPOINTS = """
DELETE FROM {table} WHERE thread_key = %s AND (namespace, checkpoint_id) IN
    (SELECT * FROM unnest(%s::text[], %s::uuid[]))
"""
THREAD_HEADERS = """
SELECT namespace, checkpoint_id::text AS checkpoint_id, header FROM engram_checkpoints
WHERE thread_key = %s
"""
SET_HEADERS = """
UPDATE engram_checkpoints c SET header = r.header
FROM unnest(%s::text[], %s::uuid[], %s::bytea[]) AS r(namespace, checkpoint_id, header)
WHERE c.thread_key = %s AND (c.namespace, c.checkpoint_id) = (r.namespace, r.checkpoint_id)
"""
REPLACE_ZDICT = "UPDATE engram_checkpoint_threads SET zdict = %s WHERE key = %s"
DICTIONARIES_AFTER = """
SELECT key, zdict FROM engram_checkpoint_threads WHERE key > %s AND zdict IS NOT NULL
ORDER BY key LIMIT 500
"""
BUMP_GENERATION_ZDICT = """
UPDATE engram_checkpoint_threads SET generation = generation + 1 WHERE key = %s RETURNING zdict
"""
COPY_CHECKPOINTS = """
SELECT namespace, checkpoint_id::text AS checkpoint_id, parent_id::text AS parent_id, seq,
    created_at, metadata, header, ref_channels, ref_versions
FROM engram_checkpoints WHERE thread_key = %s
"""
INSERT_CHECKPOINT = """
INSERT INTO engram_checkpoints (thread_key, namespace, checkpoint_id, parent_id, seq,
    created_at, metadata, header, ref_channels, ref_versions)
VALUES (%s, %s, %s::uuid, %s::uuid, %s, %s, %s, %s, %s::text[], %s::text[])
ON CONFLICT DO NOTHING
"""

# Writing a checkpoint: one statement (see the module docstring).


_PUT = """
WITH thread AS (
    SELECT key FROM engram_checkpoint_threads
    WHERE key = %(key)s AND generation = %(generation)s FOR SHARE
){values}{blobs}
INSERT INTO engram_checkpoints AS c (thread_key, namespace, checkpoint_id, parent_id, seq,
    created_at, metadata, header, ref_channels, ref_versions)
SELECT key, %(namespace)s, %(id)s::uuid, %(parent)s::uuid, %(seq)s, %(created)s,
    %(metadata)s, %(header)s, %(ref_channels)s::text[], %(ref_versions)s::text[]
FROM thread WHERE {commit}
ON CONFLICT (thread_key, namespace, checkpoint_id) DO UPDATE SET
    parent_id = excluded.parent_id, seq = excluded.seq, created_at = excluded.created_at,
    metadata = excluded.metadata, header = excluded.header,
    ref_channels = excluded.ref_channels, ref_versions = excluded.ref_versions
"""
_PUT_VALUES = """, value_rows AS (
    INSERT INTO engram_checkpoint_values (thread_key, namespace, channel, version, kind, type,
        data, base, start, stop, depth)
    SELECT thread.key, %(namespace)s, v.* FROM thread, {rows} AS v
    ON CONFLICT DO NOTHING
)"""
_VALUE_ROWS = {
    1: """(VALUES (%(channels)s::text, %(versions)s::text, %(kinds)s::smallint, %(types)s::text,
        %(datas)s::bytea, %(bases)s::text, %(starts)s::int, %(stops)s::int, %(depths)s::int))""",
    2: """unnest(%(channels)s::text[], %(versions)s::text[], %(kinds)s::smallint[],
        %(types)s::text[], %(datas)s::bytea[], %(bases)s::text[], %(starts)s::int[],
        %(stops)s::int[], %(depths)s::int[])""",
}
_PUT_BLOBS = """, blob_rows AS (
    INSERT INTO engram_checkpoint_blobs (thread_key, hash, type, data)
    SELECT thread.key, b.* FROM thread, {rows} AS b
    ON CONFLICT DO NOTHING
)"""
_BLOB_ROWS = {
    1: "(VALUES (%(hashes)s::bytea, %(blob_types)s::text, %(blob_datas)s::bytea))",
    2: "unnest(%(hashes)s::bytea[], %(blob_types)s::text[], %(blob_datas)s::bytea[])",
}
PUT = {
    (values, blobs, commit): _PUT.format(
        values=_PUT_VALUES.format(rows=_VALUE_ROWS[values]) if values else "",
        blobs=_PUT_BLOBS.format(rows=_BLOB_ROWS[blobs]) if blobs else "",
        commit=ASYNC_COMMIT if commit else "true",
    )
    for values in (0, 1, 2)
    for blobs in (0, 1, 2)
    for commit in (False, True)
}
"""The put statement (its row count: 1 if written, 0 if the thread's generation changed), by
how many value rows it stores and how many list items (0, 1, or 2: more than one, sent as
arrays; one row is sent as scalars, cheaper to parse), and whether it is the form that
commits asynchronously."""

PUT_WRITES = """
WITH thread AS (SELECT key FROM engram_checkpoint_threads WHERE key = %s FOR SHARE),
written AS (
    INSERT INTO engram_checkpoint_writes (thread_key, namespace, checkpoint_id, task_id, idx,
        channel, type, data, task_path)
    SELECT thread.key, %s, %s::uuid, w.* FROM thread, unnest(%s::text[], %s::int[], %s::text[],
        %s::text[], %s::bytea[], %s::text[]) AS w
    ON CONFLICT (thread_key, namespace, checkpoint_id, task_id, idx) {conflict}
)
SELECT count(*) AS threads FROM thread WHERE {commit}
"""
_REPLACE = (
    "DO UPDATE SET channel = excluded.channel, type = excluded.type,"
    " data = excluded.data, task_path = excluded.task_path"
)
WRITES = {
    (replace, commit): PUT_WRITES.format(
        conflict=_REPLACE if replace else "DO NOTHING",
        commit=ASYNC_COMMIT if commit else "true",
    )
    for replace in (False, True)
    for commit in (False, True)
}
"""The pending writes statement (one row: `threads`, 0 if the thread is gone), by whether it
replaces existing writes, and whether it is the form that commits asynchronously."""

# Values, blobs and writes

_CHAINS = """
WITH RECURSIVE chain AS (
    SELECT v.channel, v.version, v.kind, v.type, v.data, v.base, v.start, v.stop, v.depth
    FROM unnest(%(channels)s::text[], %(versions)s::text[]) AS w(channel, version)
    JOIN engram_checkpoint_values v ON v.thread_key = %(key)s AND v.namespace = %(namespace)s
        AND v.channel = w.channel AND v.version = w.version
    UNION
    SELECT v.channel, v.version, v.kind, v.type, v.data, v.base, v.start, v.stop, v.depth
    FROM chain JOIN engram_checkpoint_values v ON v.thread_key = %(key)s
        AND v.namespace = %(namespace)s AND v.channel = chain.channel AND v.version = chain.base
    WHERE chain.kind = 2
)
"""
VALUE_CHAINS = _CHAINS + "SELECT *, NULL::bytea AS hash FROM chain"
"""The value rows of the wanted `(channel, version)` pairs, with the delta chains of lists."""
VALUES_AND_ITEMS = (
    VALUE_CHAINS
    + """
UNION ALL
SELECT NULL, NULL, NULL, b.type, b.data, NULL, NULL, NULL, NULL, b.hash
FROM engram_checkpoint_blobs b WHERE b.thread_key = %(key)s AND b.hash = ANY(ARRAY(
    SELECT substring(chain.data FROM i * 16 + 1 FOR 16)
    FROM chain, generate_series(0, length(chain.data) / 16 - 1) AS i WHERE chain.kind <> 0))
"""
)
"""`VALUE_CHAINS`, then (rows with a `hash`) every list item the chains' rows name."""
THREAD_VALUES = """
SELECT namespace, channel, version, kind, type,
    CASE WHEN kind = 0 THEN ''::bytea ELSE data END AS data, base, start, stop, depth
FROM engram_checkpoint_values WHERE thread_key = %s
"""
THREAD_BLOB_HASHES = "SELECT hash FROM engram_checkpoint_blobs WHERE thread_key = %s"
DELETE_VALUES = """
DELETE FROM engram_checkpoint_values WHERE thread_key = %s AND (namespace, channel, version) IN
    (SELECT * FROM unnest(%s::text[], %s::text[], %s::text[]))
"""
DELETE_BLOBS = "DELETE FROM engram_checkpoint_blobs WHERE thread_key = %s AND hash = ANY(%s)"
# Deltas stored as the snapshots of their items (`engram.state.retention.rebased_values`).
REBASE_VALUES = """
UPDATE engram_checkpoint_values v
SET kind = r.kind, data = r.data, base = NULL, start = 0, stop = 0, depth = 0
FROM unnest(%s::text[], %s::text[], %s::text[], %s::smallint[], %s::bytea[])
    AS r(namespace, channel, version, kind, data)
WHERE v.thread_key = %s AND (v.namespace, v.channel, v.version) = (r.namespace, r.channel,
    r.version)
"""
COPY_VALUES = """
INSERT INTO engram_checkpoint_values
SELECT %s, v.namespace, v.channel, v.version, v.kind, v.type, v.data, v.base, v.start, v.stop,
    v.depth
FROM engram_checkpoint_values v
WHERE v.thread_key = %s AND (v.namespace, v.channel, v.version) IN
    (SELECT * FROM unnest(%s::text[], %s::text[], %s::text[]))
ON CONFLICT DO NOTHING
"""
COPY_BLOBS = """
INSERT INTO engram_checkpoint_blobs
SELECT %s, hash, type, data FROM engram_checkpoint_blobs WHERE thread_key = %s AND hash = ANY(%s)
ON CONFLICT DO NOTHING
"""
COPY_WRITES = """
INSERT INTO engram_checkpoint_writes SELECT %s, namespace, checkpoint_id, task_id, idx, channel,
    type, data, task_path FROM engram_checkpoint_writes
WHERE thread_key = %s AND namespace = %s AND checkpoint_id = %s::uuid
ON CONFLICT DO NOTHING
"""
"""Copy one checkpoint's pending writes to another thread (a fork)."""
COPY_THREAD = [
    """INSERT INTO engram_checkpoint_values SELECT %(target)s, namespace, channel, version, kind,
    type, data, base, start, stop, depth FROM engram_checkpoint_values
    WHERE thread_key = %(source)s ON CONFLICT DO NOTHING""",
    """INSERT INTO engram_checkpoint_blobs SELECT %(target)s, hash, type, data
    FROM engram_checkpoint_blobs WHERE thread_key = %(source)s ON CONFLICT DO NOTHING""",
    """INSERT INTO engram_checkpoint_writes SELECT %(target)s, namespace, checkpoint_id, task_id,
    idx, channel, type, data, task_path FROM engram_checkpoint_writes
    WHERE thread_key = %(source)s ON CONFLICT DO NOTHING""",
]


# Row decoding


def info_from_row(row: Mapping[str, Any], versions: Mapping[str, ChannelVersion]) -> CheckpointInfo:
    """A `CheckpointInfo` from a `CHECKPOINT_COLUMNS` row and its unpacked versions."""
    return CheckpointInfo(
        tenant=row["tenant"],
        thread_id=row["thread_id"],
        namespace=row["namespace"],
        id=row["checkpoint_id"],
        parent_id=row["parent_id"],
        seq=row["seq"],
        created_at=utc(row["created_at"]),
        metadata=json.loads(row["metadata"]),
        versions=versions,
    )


def value_row(row: Mapping[str, Any]) -> ValueRow:
    """A `ValueRow` from a row with the `engram_checkpoint_values` columns."""
    return ValueRow(
        row["kind"],
        row["type"],
        bytes(row["data"]),
        row["base"],
        row["start"],
        row["stop"],
        row["depth"],
    )


def chain_rows(row: Mapping[str, Any]) -> dict[tuple[str, str], ValueRow]:
    """The value rows a checkpoint row read with its values carries, by `(channel, version)`."""
    if row["v_channels"] is None:
        return {}
    names = ("v_kinds", "v_types", "v_datas", "v_bases", "v_starts", "v_stops", "v_depths")
    columns = zip(row["v_channels"], row["v_versions"], *(row[n] for n in names), strict=True)
    return {
        (channel, version): ValueRow(kind, type_, bytes(data), base, start, stop, depth)
        for channel, version, kind, type_, data, base, start, stop, depth in columns
    }


def item_rows(row: Mapping[str, Any]) -> dict[bytes, tuple[str, bytes]]:
    """The list items a checkpoint row read with its values carries, by hash."""
    if row["b_hashes"] is None:
        return {}
    return dict(zip(row["b_hashes"], zip(row["b_types"], row["b_datas"], strict=True), strict=True))


def pending_writes(row: Mapping[str, Any]) -> tuple[PendingWrite, ...]:
    """The pending writes of a checkpoint row read with its writes (`CHECKPOINT_COLUMNS`)."""
    if row["task_ids"] is None:
        return ()
    columns = (row["task_ids"], row["channels"], row["types"], row["datas"], row["idxs"])
    return sort_writes(
        PendingWrite(task_id, channel, (type_, bytes(data)), idx, task_path)
        for task_id, channel, type_, data, idx, task_path in zip(
            *columns, row["task_paths"], strict=True
        )
    )


def thread_from_row(row: Mapping[str, Any]) -> ThreadInfo:
    namespaces = row["namespaces"]
    created = utc(row["created_at"])
    return ThreadInfo(
        tenant=row["tenant"],
        thread_id=row["thread_id"],
        checkpoint_count=row["checkpoints"],
        head_id=row["head_id"],
        created_at=created,
        updated_at=utc(row["updated_at"]) if row["updated_at"] is not None else created,
        namespaces=tuple(sorted(namespaces.split("\n"))) if namespaces is not None else (),
        retention=retention_from_row(row["retention"]),
    )


def retention_from_row(text: str | None) -> RetentionPolicy | None:
    return None if text is None else RetentionPolicy.from_dict(json.loads(text))


def retention_text(policy: RetentionPolicy | None) -> str | None:
    return None if policy is None else json.dumps(policy.to_dict())


def millisecond(moment: datetime) -> datetime:
    """`moment` in UTC, to the millisecond (what every checkpointer stores)."""
    return from_ms(to_ms(moment))


# Array parameters as literals: psycopg adapts a Python list element by element, in Python
# (~10 us per small array). A put names its value rows in two arrays (and sends several value
# rows or list items as arrays); a `put_writes` sends six.


def text_array(items: Sequence[str | None]) -> str:
    """A `text[]` literal of `items` (None: NULL)."""
    if None in items:
        return "{" + ",".join(map(_array_text, items)) + "}"
    joined = '","'.join(cast("Sequence[str]", items))
    if "\\" not in joined and joined.count('"') == 2 * len(items) - 2:
        return '{"' + joined + '"}'  # nothing to escape (and not empty)
    return "{" + ",".join(map(_array_text, items)) + "}"


def _array_text(item: str | None) -> str:
    if item is None:
        return "NULL"
    return '"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"'


def bytea_array(items: Sequence[bytes]) -> str:
    """A `bytea[]` literal of `items` (hex)."""
    return '{"\\\\x' + '","\\\\x'.join([item.hex() for item in items]) + '"}' if items else "{}"


def int_array(items: Sequence[int]) -> str:
    """An `int[]` (or `smallint[]`) literal of `items`."""
    return "{" + ",".join(map(str, items)) + "}"


def json_candidates(value: str | int | float | None) -> list[str]:
    """The JSON texts of the values Python finds equal to a filter value (`1 == True`)."""
    candidates = [json.dumps(value)]
    if isinstance(value, bool) or value in (0, 1):
        candidates += ["true" if value else "false", "1" if value else "0"]
    return candidates
