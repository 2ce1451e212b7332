"""The PostgreSQL memory store (sync); the async twin is `aio.AsyncPostgresMemoryStore`.

Each batch that writes is one transaction (a batch of reads sends its statements alone
where that reads the same: `batch_mode`); every op is a generator over SQL statements
(`memory_work`), shared by both classes. Schema and encoding: `memories_base.py`; writes:
`memories_write.py`.

Vector search, and why it is planned per user rather than left to the planner:

An HNSW index filtered afterwards is the failure to avoid. LangGraph's `PostgresStore` gets
recall@5 = 0.22 on per-user searches because PostgreSQL scans one global HNSW index for the
`ef_search` (40) nearest vectors of *all* users and only then drops the other users' rows:
a user owning 0.1% of the table keeps almost nothing. pgvector 0.8's iterative scans
(`hnsw.iterative_scan`) keep scanning until enough rows pass the filter, but at 0.1%
selectivity that means thousands of graph hops (capped by `hnsw.max_scan_tuples`), and recall
is still the graph's recall on the *global* neighbourhood, not the user's. So:

- Most users have few vectors: the search is exact, `ORDER BY embedding <#> q` over the
  rows of the user's partition, found through the btree `(pid, model_no)` (a user's rows
  are one index range). No approximate index takes part: the ordering expression is not
  the one any HNSW index is built on, so the planner cannot pick one. At about 1.3 us per
  384-d row this stays within a few milliseconds up to thousands of rows.
- A user with many vectors (at least `index_min_vectors`, default 10,000, where the exact
  scan starts to cost over 10 ms) gets an HNSW index of their own: a partial expression
  index `((embedding::vector(dim)) vector_ip_ops) WHERE pid = P AND model_no = M`, built by
  `index_vectors()` (`CREATE INDEX CONCURRENTLY`: writers are not blocked). The graph holds
  that user's vectors only, so nothing is filtered out after the scan and recall is the
  graph's own (about 0.99 at `ef_search` 500 on 50k clustered synthetic vectors, a hard
  case; see bench/bench_postgres_vectors.py). The search
  sets `hnsw.ef_search`, `hnsw.iterative_scan = relaxed_order` (so currency, checked on
  the joined memory row, never starves the result) and `plan_cache_mode =
  force_custom_plan` (a generic plan could not prove the partial index's predicate) for
  its own statement only, fetches a few extra candidates and re-ranks them exactly.
- Only a user-and-currency filter takes the HNSW path; any narrower filter (kinds,
  session, time, metadata, ...) searches exactly, so a selective filter never meets an
  approximate index. A `without_user` filter reads the partition of the memories without a
  user as a user's; searches without either are exact over the tenant.
- Partitions grow: until `index_vectors()` runs again, a user past the threshold is searched
  exactly (correct, slower). Run it after bulk loads and periodically; it also drops the
  indexes of erased users. Partial indexes, not one index per model: a global HNSW index
  would be searched with a filter again, and would cost every insert a graph update.

Vectors are unit length, so inner product (`<#>`, `vector_ip_ops`) is the cosine and skips
pgvector's normalisation; scores are `-(a <#> b)` as float32 arithmetic, like NumPy's.

Lexical search is the shared BM25 (`engram.memory.bm25`): the `tsvector` column holds each
memory's term hashes, its GIN index finds the memories holding a query term, and one count
over the filtered rows gives the corpus size and average length, so the scores equal the
other backends' without reading every row's terms.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np

from engram._exceptions import InvalidInputError
from engram.memory import bm25
from engram.memory import vectors as vec
from engram.stores import _memory_rules as rules
from engram.stores.memories import (
    READ_OPS,
    BaseMemoryStore,
    CountMemories,
    CountUnembedded,
    DeleteEntities,
    DeleteMemories,
    DeleteScope,
    GetHistory,
    GetMemories,
    GetProfile,
    GetVectors,
    ListEntities,
    ListMemories,
    ListRelations,
    ListTombstones,
    ListUsers,
    MemoryFilter,
    MemoryScore,
    Op,
    PutEntities,
    PutMemories,
    PutProfile,
    PutRelations,
    PutTombstones,
    PutVectors,
    RecordAccess,
    ScanVectors,
    SearchLexical,
    SearchVector,
    VectorMatrix,
)
from engram.stores.postgres import base
from engram.stores.postgres import memories_base as mbase
from engram.stores.postgres import memories_write as write
from engram.stores.postgres._internal import BatchMode, Conn, Durability, Target, connect
from engram.stores.postgres._scope_locks import AdvisoryLocks
from engram.stores.postgres._vectors import VectorParam
from engram.stores.postgres.base import Statement, Work
from engram.stores.scope_locks import ScopeHold
from engram.types._memory import Entity, Memory, MemoryChange, Relation, UserProfile

__all__ = [
    "DEFAULT_EF_SEARCH",
    "DEFAULT_INDEX_MIN_VECTORS",
    "PostgresMemoryStore",
    "SearchSettings",
    "VectorIndexReport",
    "batch_mode",
    "index_work",
    "memory_work",
]

DEFAULT_INDEX_MIN_VECTORS = 10_000
"""A partition with this many vectors of a model gets its own HNSW index."""
DEFAULT_EF_SEARCH = 500
"""`hnsw.ef_search` of a search through a partition's HNSW index."""
_EF_CONSTRUCTION = 128
"""HNSW build quality: 128 rather than pgvector's 64 buys recall at equal `ef_search`
(0.985 against 0.979 at 400 on 50k clustered 384-d vectors) for a 45% longer build."""
_EXTRA_CANDIDATES = 10
"""Candidates fetched beyond `limit` from a relaxed-order scan, then re-ranked exactly."""
_MAX_EF_SEARCH = 1000
"""pgvector's ceiling for `hnsw.ef_search` (an iterative scan still returns `limit` rows)."""


class SearchSettings(NamedTuple):
    """How vector searches use HNSW indexes."""

    ef_search: int = DEFAULT_EF_SEARCH
    """The HNSW candidate list size (higher: better recall, slower)."""
    use_indexes: bool = True
    """False: every search is exact, whatever indexes exist."""


class VectorIndexReport(NamedTuple):
    """What `index_vectors` did."""

    created: tuple[str, ...] = ()
    """The HNSW indexes built (one per partition and model)."""
    dropped: tuple[str, ...] = ()
    """The indexes of erased partitions (or of failed builds) removed."""


class PostgresMemoryStore(BaseMemoryStore):
    """Long-term memories in PostgreSQL with pgvector, over a psycopg connection or pool.

    The constructor applies the `memories` migrations (idempotent; `migrate=False` where the
    application has no DDL rights and runs `engram db migrate`); they create the `vector`
    extension if it is missing. It never closes an injected connection or pool;
    `from_conn_string` opens and closes its own. See the module docstring for how vector
    searches stay exact, or near-exact through per-user HNSW indexes (`index_vectors`).

    Thread-safe: with a pool each batch borrows a connection; a single connection runs one
    batch at a time. `abatch` runs the batch on a worker thread; for real async I/O use
    `AsyncPostgresMemoryStore`.

    Args:
        conn: A psycopg `Connection` (autocommit) or a psycopg_pool `ConnectionPool`.
        migrate: Apply the schema migrations now.
        index_min_vectors: The partition size from which `index_vectors` builds an index.
        search: How searches use the indexes (`SearchSettings`).
        durability: `"normal"` (default: asynchronous commit, may lose the last writes on a
            server crash) or `"full"` (the server's synchronous commit); see
            `engram.stores.postgres._internal`.

    Raises:
        MigrationRequired: The database holds a newer memories schema than this code.
        BackendError: pgvector is not installed on the server.
        ConfigError: `durability` is neither `"normal"` nor `"full"`.

    Example:
        ```python
        with PostgresMemoryStore.from_conn_string("postgresql://localhost/app") as store:
            store.put_memories("default", [Memory("Ana is vegetarian", user_id="ana")])
        ```
    """

    def __init__(
        self,
        conn: Conn,
        *,
        migrate: bool = True,
        index_min_vectors: int = DEFAULT_INDEX_MIN_VECTORS,
        search: SearchSettings | None = None,
        durability: Durability = "normal",
    ) -> None:
        self.conn = conn
        self.index_min_vectors = index_min_vectors
        self.search_settings = search or SearchSettings()
        self._target = Target(conn, durability)
        self._locks = AdvisoryLocks(conn, owner=self)
        if migrate:
            self.migrate()

    @classmethod
    @contextmanager
    def from_conn_string(
        cls, conninfo: str, *, durability: Durability = "normal", **options: Any
    ) -> Iterator[PostgresMemoryStore]:
        """Open a store on its own connection (autocommit), closed when the block exits.

        Args:
            conninfo: A libpq connection string or URL.
            durability: `"normal"` or `"full"`; see `engram.stores.postgres._internal`.
            **options: The constructor's other keyword arguments.
        """
        with connect(conninfo, durability) as conn:
            yield cls(conn, durability=durability, **options)

    def migrate(self) -> int:
        """Create or upgrade the memory tables (idempotent); return the schema version."""
        return self._target.run(base.migrate(mbase.COMPONENT, mbase.MIGRATIONS))

    def batch(self, ops: Sequence[Op]) -> list[Any]:
        """Run `ops` in order, atomically (see `batch_mode`); return their results in order."""
        if not ops:
            return []
        work = memory_work(ops, self.search_settings)
        return self._target.run_batch(batch_mode(ops), work)

    async def abatch(self, ops: Sequence[Op]) -> list[Any]:
        """Async `batch` on a worker thread (this class's I/O is blocking)."""
        return await asyncio.to_thread(self.batch, ops)

    def hold(self) -> ScopeHold:
        """A flow's scope locks: advisory locks, on a connection of their own, that every
        process and server using the database takes (see `_scope_locks`)."""
        return self._locks.hold()

    def close(self) -> None:
        """Close the idle connections the store opened for scope locks."""
        self._locks.close()

    def index_vectors(
        self, *, min_vectors: int | None = None, maintenance_work_mem: str = "512MB"
    ) -> VectorIndexReport:
        """Build an HNSW index for every partition and model with at least `min_vectors`
        vectors (default: `index_min_vectors`) that has none; drop erased users' indexes.

        Runs outside a transaction (`CREATE INDEX CONCURRENTLY`), so writers are not
        blocked; a large partition takes seconds. Run one at a time, after bulk loads and
        periodically. The connection must be in autocommit mode.

        Args:
            min_vectors: The partition size threshold.
            maintenance_work_mem: For the build (an HNSW graph that does not fit builds
                much more slowly).
        """
        threshold = self.index_min_vectors if min_vectors is None else min_vectors
        return self._target.run_autocommit(index_work(threshold, maintenance_work_mem))


_SETS_SEARCH = (SearchVector, ScanVectors)
"""Reads whose first statement sets, for the rest of the transaction, what the statements
after it rely on (`_SEARCH_TARGET`): they run in a transaction."""


def batch_mode(ops: Sequence[Op]) -> BatchMode:
    """How a batch runs: `"reads"`, reads only, each statement on its own where that reads
    the same (`Target.run_reads`: no `BEGIN`/`COMMIT` round trips); `"write"`, a write
    that is one statement (`RecordAccess` alone), committed on its own; else in one
    transaction."""
    if all(isinstance(op, READ_OPS) and not isinstance(op, _SETS_SEARCH) for op in ops):
        return "reads"
    if len(ops) == 1 and isinstance(ops[0], RecordAccess):
        return "write"
    return "transaction"


def memory_work(ops: Sequence[Op], settings: SearchSettings) -> Work[list[Any]]:
    """The statements of a batch: each op's, in order; returns the results in order."""
    rules.check_tenants(ops)
    results: list[Any] = []
    index = 0
    while index < len(ops):
        if histories := _history_run(ops, index):
            results.extend((yield from _get_histories(histories)))
            index += len(histories)
            continue
        op = ops[index]
        handler = _HANDLERS.get(type(op))
        if handler is None:
            raise InvalidInputError(f"unsupported operation: {type(op).__name__}")
        results.append((yield from handler(op, settings)))
        index += 1
    return results


# Selecting memories.


class _Scope(NamedTuple):
    where: str
    """Conditions on `engram_memories AS m`."""
    params: list[Any]


def _scope(tenant: str, filter: MemoryFilter, pid: int | None = None) -> Work[_Scope | None]:
    """The WHERE clause of `filter` in `tenant`, or None if it selects nothing (`pid`: the
    partition of its user or `without_user`, if already known)."""
    checked = rules.checked_filter(filter)
    params: list[Any] = [tenant]
    where = "m.tenant = %s"
    user_key = rules.filter_partition(checked)
    if user_key is not None:
        if pid is None:
            pid = yield from write.find_partition(tenant, user_key)
        if pid is None:
            return None
        where += " AND m.pid = %s"
        params.append(pid)
    return _Scope(where + mbase.filter_sql(checked, params), params)


def _get_memories(op: GetMemories, _: SearchSettings) -> Work[list[Memory | None]]:
    rows = yield Statement(
        f"SELECT {mbase.MEMORY_COLUMNS} FROM engram_memories"
        " WHERE tenant = %s AND id = ANY(%s::text[])",
        (op.tenant, list(op.ids)),
        "all",
    )
    found = {row["id"]: mbase.memory_from_row(row) for row in rows}
    return [found.get(memory_id) for memory_id in op.ids]


def _list_memories(op: ListMemories, _: SearchSettings) -> Work[list[Memory]]:
    rules.check_page(op.limit, op.offset)
    scope = yield from _scope(op.tenant, op.filter)
    if scope is None:
        return []
    direction = "ASC" if op.order == "oldest" else "DESC"
    rows = yield Statement(
        f"SELECT {mbase.MEMORY_COLUMNS} FROM engram_memories AS m WHERE {scope.where}"
        f" ORDER BY m.event_at {direction}, m.id {direction} LIMIT %s OFFSET %s",
        [*scope.params, op.limit, op.offset],
        "all",
    )
    return [mbase.memory_from_row(row) for row in rows]


def _list_users(op: ListUsers, _: SearchSettings) -> Work[list[str]]:
    rules.check_page(op.limit, op.offset)
    rows = yield Statement(
        "SELECT p.user_key FROM engram_memory_partitions AS p WHERE p.tenant = %s"
        " AND p.user_key <> %s"
        " AND EXISTS (SELECT 1 FROM engram_memories AS m WHERE m.pid = p.pid)"
        " ORDER BY p.user_key LIMIT %s OFFSET %s",
        [op.tenant, rules.NO_USER, op.limit, op.offset],
        "all",
    )
    return [str(row["user_key"]) for row in rows]


def _count_memories(op: CountMemories, _: SearchSettings) -> Work[int]:
    scope = yield from _scope(op.tenant, op.filter)
    if scope is None:
        return 0
    row = yield Statement(
        f"SELECT count(*) AS n FROM engram_memories AS m WHERE {scope.where}", scope.params, "one"
    )
    return int(row["n"])


def _history_run(ops: Sequence[Op], start: int) -> tuple[GetHistory, ...]:
    """The `GetHistory` ops of one tenant that follow each other in `ops` from `start` on
    (none if `ops[start]` is not one): their histories are read in one statement, each op's
    result the same as if read alone (exports and erasures ask for hundreds at once)."""
    run: list[GetHistory] = []
    for op in ops[start:]:
        if type(op) is not GetHistory or (run and op.tenant != run[0].tenant):
            break
        run.append(op)
    return tuple(run)


def _get_histories(ops: Sequence[GetHistory]) -> Work[list[list[MemoryChange]]]:
    """The histories of one tenant's memories (`_history_run`), in one statement."""
    ids = list(dict.fromkeys(op.memory_id for op in ops))
    rows = yield Statement(
        f"SELECT {mbase.CHANGE_COLUMNS} FROM engram_memory_history"
        " WHERE tenant = %s AND memory_id = ANY(%s::text[]) ORDER BY at, id",
        (ops[0].tenant, ids),
        "all",
    )
    found: dict[str, list[MemoryChange]] = {memory_id: [] for memory_id in ids}
    for row in rows:
        found[row["memory_id"]].append(mbase.change_from_row(row))
    return [list(found[op.memory_id]) for op in ops]


def _list_tombstones(op: ListTombstones, _: SearchSettings) -> Work[list[MemoryChange]]:
    rules.check_user_id(op.user_id)
    pid = yield from write.find_partition(op.tenant, op.user_id)
    if pid is None:
        return []
    rows = yield Statement(
        f"SELECT {mbase.CHANGE_COLUMNS} FROM engram_memory_history AS h"
        " WHERE h.tenant = %s AND h.pid = %s AND h.action = %s AND NOT EXISTS"
        " (SELECT 1 FROM engram_memories AS m WHERE m.tenant = h.tenant AND m.id = h.memory_id)"
        " ORDER BY h.at, h.id",
        (op.tenant, pid, "delete"),
        "all",
    )
    return [mbase.change_from_row(row) for row in rows]


# Lexical search.


def _search_lexical(op: SearchLexical, _: SearchSettings) -> Work[list[MemoryScore]]:
    rules.check_page(op.limit)
    query = mbase.lexeme_query(op.query)
    scope = yield from _scope(op.tenant, op.filter)
    if scope is None or query is None or op.limit == 0:
        return []
    # One statement: the corpus (its size and total length) on every row, then the
    # memories holding a query term (a row of NULLs if none does).
    found = yield Statement(
        "SELECT c.n, c.total, h.id, h.terms FROM (SELECT count(*) AS n,"
        f" coalesce(sum(m.term_count), 0) AS total FROM engram_memories AS m WHERE {scope.where})"
        f" AS c LEFT JOIN LATERAL (SELECT m.id, m.terms FROM engram_memories AS m"
        f" WHERE {scope.where} AND m.lexemes @@ %s::tsquery) AS h ON c.n > 0",
        [*scope.params, *scope.params, query],
        "all",
    )
    size = int(found[0]["n"])
    rows = [row for row in found if row["id"] is not None]
    if not size:
        return []
    flat, lengths = bm25.join_documents([bytes(row["terms"]) for row in rows])
    average = int(found[0]["total"]) / size
    scores = bm25.bm25_scores(flat, lengths, bm25.term_hashes(op.query), corpus=(size, average))
    ids = [row["id"] for row in rows]
    hits: list[int] = np.flatnonzero(scores > 0).tolist()
    best = vec.top_k(scores[hits], [ids[index] for index in hits], op.limit)
    return [MemoryScore(ids[hits[index]], float(scores[hits[index]])) for index in best]


# Vector search.


class _Target(NamedTuple):
    """Where a vector search looks: the model, and the partition of the filter's user (or
    `without_user`) if given."""

    model_no: int
    dim: int
    pid: int | None
    indexed: bool
    """The partition has an HNSW index for the model."""
    retired: list[int]
    """Row ids of the partition's superseded memories."""


_SEARCH_TARGET = """
SELECT mo.model_no, mo.dim, p.pid, (i.pid IS NOT NULL) AS indexed,
    ARRAY(SELECT r.rid FROM engram_memories AS r
          WHERE r.pid = p.pid AND r.superseded_at IS NOT NULL) AS retired,
    set_config('max_parallel_workers_per_gather',
               CASE WHEN p.pid IS NULL THEN current_setting('max_parallel_workers_per_gather')
                    ELSE '0' END, true) AS parallel_workers,
    set_config('hnsw.ef_search', %(ef_search)s, true) AS ef_search,
    set_config('hnsw.iterative_scan', 'relaxed_order', true) AS iterative_scan,
    set_config('plan_cache_mode', 'force_custom_plan', true) AS plan_cache_mode
FROM engram_memory_models AS mo
LEFT JOIN engram_memory_partitions AS p ON p.tenant = %(tenant)s AND p.user_key = %(user_key)s
LEFT JOIN engram_memory_vector_indexes AS i ON i.pid = p.pid AND i.model_no = mo.model_no
WHERE mo.model_id = %(model_id)s
"""
"""The model and partition of a search, in one round trip, with the transaction's settings:
no parallel workers for one user's rows (starting them costs more than the scan), and the
HNSW scan settings (used only by `_search_indexed`: every setting lasts until the batch's
transaction ends, and no other statement scans an HNSW index)."""


def _search_target(
    tenant: str, model_id: str, user_key: str | None, ef_search: int = 40
) -> Work[_Target | None]:
    row = yield Statement(
        _SEARCH_TARGET,
        {"tenant": tenant, "user_key": user_key, "model_id": model_id, "ef_search": str(ef_search)},
        "one",
    )
    if row is None:
        return None
    pid = None if row["pid"] is None else int(row["pid"])
    retired = list(row["retired"] or [])
    return _Target(int(row["model_no"]), int(row["dim"]), pid, bool(row["indexed"]), retired)


def _search_vector(op: SearchVector, settings: SearchSettings) -> Work[list[MemoryScore]]:
    rules.check_page(op.limit)
    query = vec.normalize(op.vector)
    checked = rules.checked_filter(op.filter)
    ef_search = min(max(settings.ef_search, op.limit + _EXTRA_CANDIDATES), _MAX_EF_SEARCH)
    user_key = rules.filter_partition(checked)
    target = yield from _search_target(op.tenant, op.model_id, user_key, ef_search)
    if target is None or op.limit == 0:
        return []
    if target.dim != query.size:
        raise InvalidInputError(f"model {op.model_id!r} has {target.dim}-d vectors")
    if user_key is not None and target.pid is None:
        return []
    if not mbase.is_plain(checked) or target.pid is None:
        return (yield from _search_filtered(op, target, query))
    if target.indexed and settings.use_indexes:
        return (yield from _search_indexed(op, checked, target, query))
    return (yield from _search_partition(op, checked, target, query))


def _excluded(checked: MemoryFilter, target: _Target) -> tuple[str, list[Any]]:
    """The condition leaving out the partition's retired memories (unless asked for)."""
    if checked.include_superseded or not target.retired:
        return "", []
    return " AND v.rid <> ALL(%s::bigint[])", [target.retired]


def _search_partition(
    op: SearchVector, checked: MemoryFilter, target: _Target, query: vec.Vector
) -> Work[list[MemoryScore]]:
    """Exact, over one user's vectors only: their btree range, no join but for the result."""
    excluded, params = _excluded(checked, target)
    rows = yield Statement(
        "SELECT m.id, c.distance FROM ("
        " SELECT v.rid, v.embedding <#> %s::vector AS distance FROM engram_memory_vectors AS v"
        f" WHERE v.pid = %s AND v.model_no = %s{excluded}"
        " ORDER BY distance FETCH FIRST %s ROWS WITH TIES) AS c"
        " JOIN engram_memories AS m ON m.rid = c.rid AND m.tenant = %s"
        " ORDER BY c.distance, m.id LIMIT %s",
        [VectorParam(query), target.pid, target.model_no, *params, op.limit, op.tenant, op.limit],
        "all",
    )
    return [MemoryScore(row["id"], -float(row["distance"])) for row in rows]


def _search_filtered(
    op: SearchVector, target: _Target, query: vec.Vector
) -> Work[list[MemoryScore]]:
    """Exact, over the memories any filter selects (joined with their vectors)."""
    scope = yield from _scope(op.tenant, op.filter, target.pid)
    if scope is None:
        return []
    rows = yield Statement(
        "SELECT m.id, v.embedding <#> %s::vector AS distance"
        " FROM engram_memories AS m JOIN engram_memory_vectors AS v"
        " ON v.rid = m.rid AND v.model_no = %s"
        f" WHERE {scope.where} ORDER BY distance, m.id LIMIT %s",
        [VectorParam(query), target.model_no, *scope.params, op.limit],
        "all",
    )
    return [MemoryScore(row["id"], -float(row["distance"])) for row in rows]


def _search_indexed(
    op: SearchVector, checked: MemoryFilter, target: _Target, query: vec.Vector
) -> Work[list[MemoryScore]]:
    """Through the partition's own HNSW index (settings: `_SEARCH_TARGET`), re-ranked."""
    excluded, params = _excluded(checked, target)
    # The dimension is part of the index expression, so it is SQL text (an integer we
    # stored), not a parameter.
    distance = f"v.embedding::vector({target.dim}) <#> %s::vector({target.dim})"
    rows = yield Statement(
        f"SELECT m.id, c.distance FROM (SELECT v.rid, {distance} AS distance"
        " FROM engram_memory_vectors AS v"
        f" WHERE v.pid = %s AND v.model_no = %s{excluded} ORDER BY distance LIMIT %s) AS c"
        " JOIN engram_memories AS m ON m.rid = c.rid AND m.tenant = %s",
        [
            VectorParam(query),
            target.pid,
            target.model_no,
            *params,
            op.limit + _EXTRA_CANDIDATES,
            op.tenant,
        ],
        "all",
    )
    scores = np.array([-float(row["distance"]) for row in rows], dtype=np.float64)
    ids = [row["id"] for row in rows]
    return [MemoryScore(ids[i], float(scores[i])) for i in vec.top_k(scores, ids, op.limit)]


def _vector_rows(
    tenant: str, model_id: str, filter: MemoryFilter
) -> Work[tuple[int, list[dict[str, Any]]]]:
    """(dimension, rows of `id` and `embedding` text by id) of the selected memories' vectors."""
    target = yield from _search_target(tenant, model_id, None)
    if target is None:
        return 0, []
    scope = yield from _scope(tenant, filter)
    if scope is None:
        return target.dim, []
    rows = yield Statement(
        "SELECT m.id, vector_send(v.embedding) AS embedding"
        " FROM engram_memories AS m JOIN engram_memory_vectors AS v"
        " ON v.rid = m.rid AND v.model_no = %s"
        f" WHERE {scope.where} ORDER BY m.id",
        [target.model_no, *scope.params],
        "all",
        binary=True,
    )
    return target.dim, rows


def _scan_vectors(op: ScanVectors, _: SearchSettings) -> Work[VectorMatrix]:
    dim, rows = yield from _vector_rows(op.tenant, op.model_id, op.filter)
    if not rows:
        return VectorMatrix((), np.zeros((0, dim), dtype=np.float32))
    matrix = np.stack([mbase.vector_from_binary(row["embedding"]) for row in rows])
    return VectorMatrix(tuple(row["id"] for row in rows), matrix.astype(np.float32))


def _count_unembedded(op: CountUnembedded, _: SearchSettings) -> Work[int]:
    scope = yield from _scope(op.tenant, op.filter)
    if scope is None:
        return 0
    row = yield Statement(
        f"SELECT count(*) AS n FROM engram_memories AS m WHERE {scope.where}"
        " AND NOT EXISTS (SELECT 1 FROM engram_memory_vectors AS v WHERE v.rid = m.rid"
        " AND v.model_no = (SELECT model_no FROM engram_memory_models WHERE model_id = %s))",
        [*scope.params, op.model_id],
        "one",
    )
    return int(row["n"])


def _get_vectors(op: GetVectors, _: SearchSettings) -> Work[list[vec.Vector | None]]:
    rows = yield Statement(
        "SELECT m.id, vector_send(v.embedding) AS embedding"
        " FROM engram_memories AS m JOIN engram_memory_vectors AS v ON v.rid = m.rid"
        " JOIN engram_memory_models AS mo ON mo.model_no = v.model_no AND mo.model_id = %s"
        " WHERE m.tenant = %s AND m.id = ANY(%s::text[])",
        (op.model_id, op.tenant, list(op.ids)),
        "all",
        binary=True,
    )
    found = {row["id"]: row["embedding"] for row in rows}
    return [
        None if found.get(memory_id) is None else mbase.vector_from_binary(found[memory_id])
        for memory_id in op.ids
    ]


# Entities, relations, profiles.

_UPSERT_ENTITY = mbase.upsert_sql("engram_memory_entities", mbase.ENTITY_COLUMNS, "tenant, id")
_UPSERT_RELATION = mbase.upsert_sql("engram_memory_relations", mbase.RELATION_COLUMNS, "tenant, id")
_UPSERT_PROFILE = mbase.upsert_sql(
    "engram_memory_profiles", mbase.PROFILE_COLUMNS, "tenant, user_id"
)


def _put_entities(op: PutEntities, _: SearchSettings) -> Work[list[Entity]]:
    entities = [rules.checked_entity(op.tenant, entity) for entity in op.entities]
    if entities:
        rows = [mbase.entity_params(entity) for entity in entities]
        yield Statement(_UPSERT_ENTITY, rows, many=True)
    return entities


def _list_entities(op: ListEntities, _: SearchSettings) -> Work[list[Entity]]:
    sql = f"SELECT {mbase.ENTITY_COLUMNS} FROM engram_memory_entities WHERE tenant = %s"
    params: list[Any] = [op.tenant]
    if op.user_id is not None:
        sql += " AND user_id = %s"
        params.append(op.user_id)
    if op.ids is not None:
        sql += " AND id = ANY(%s::text[])"
        params.append(list(op.ids))
    rows = yield Statement(sql + " ORDER BY created_at, id", params, "all")
    entities = [mbase.entity_from_row(row) for row in rows]
    if op.name_or_alias is None:
        return entities
    return [entity for entity in entities if rules.entity_has_name(entity, op.name_or_alias)]


def _put_relations(op: PutRelations, _: SearchSettings) -> Work[list[Relation]]:
    relations = [rules.checked_relation(op.tenant, relation) for relation in op.relations]
    if relations:
        rows = [mbase.relation_params(relation) for relation in relations]
        yield Statement(_UPSERT_RELATION, rows, many=True)
    return relations


def _list_relations(op: ListRelations, _: SearchSettings) -> Work[list[Relation]]:
    sql = f"SELECT {mbase.RELATION_COLUMNS} FROM engram_memory_relations WHERE tenant = %s"
    params: list[Any] = [op.tenant]
    if op.user_id is not None:
        sql += " AND user_id = %s"
        params.append(op.user_id)
    if op.entity_id is not None:
        sql += " AND (source_id = %s OR target_id = %s)"
        params.extend([op.entity_id, op.entity_id])
    if op.as_of is not None:
        moment = rules.as_utc(op.as_of)
        sql += (
            " AND (valid_from IS NULL OR valid_from <= %s) AND (valid_to IS NULL OR valid_to > %s)"
        )
        params.extend([moment, moment])
    rows = yield Statement(sql + " ORDER BY created_at, id", params, "all")
    return [mbase.relation_from_row(row) for row in rows]


def _get_profile(op: GetProfile, _: SearchSettings) -> Work[UserProfile | None]:
    row = yield Statement(
        f"SELECT {mbase.PROFILE_COLUMNS} FROM engram_memory_profiles"
        " WHERE tenant = %s AND user_id = %s",
        (op.tenant, op.user_id),
        "one",
    )
    return None if row is None else mbase.profile_from_row(row)


def _put_profile(op: PutProfile, _: SearchSettings) -> Work[UserProfile]:
    profile = rules.checked_profile(op.tenant, op.profile)
    yield Statement(_UPSERT_PROFILE, mbase.profile_params(profile))
    return profile


# Index maintenance (outside any transaction).


def index_work(min_vectors: int, maintenance_work_mem: str) -> Work[VectorIndexReport]:
    """Build the missing per-partition HNSW indexes, drop those of erased partitions."""
    if min_vectors < 1:
        raise InvalidInputError("min_vectors must be at least 1")
    dropped = yield from _drop_stale_indexes()
    wanted = yield Statement(
        "SELECT v.pid, v.model_no, mo.dim, count(*) AS vectors"
        " FROM engram_memory_vectors AS v"
        " JOIN engram_memory_models AS mo ON mo.model_no = v.model_no"
        " WHERE NOT EXISTS (SELECT 1 FROM engram_memory_vector_indexes AS i"
        " WHERE i.pid = v.pid AND i.model_no = v.model_no)"
        " GROUP BY v.pid, v.model_no, mo.dim HAVING count(*) >= %s ORDER BY v.pid, v.model_no",
        (min_vectors,),
        "all",
    )
    created = []
    if wanted:
        yield Statement(
            "SELECT set_config('maintenance_work_mem', %s, false)", (maintenance_work_mem,)
        )
    for row in wanted:
        pid, model_no, dim = int(row["pid"]), int(row["model_no"]), int(row["dim"])
        name = mbase.index_name(model_no, pid)
        # DDL takes no parameters: every value below is an integer read from our tables.
        yield Statement(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")  # a failed earlier build
        yield Statement(
            f"CREATE INDEX CONCURRENTLY {name} ON engram_memory_vectors"
            f" USING hnsw ((embedding::vector({dim})) vector_ip_ops)"
            f" WITH (m = 16, ef_construction = {_EF_CONSTRUCTION})"
            f" WHERE pid = {pid} AND model_no = {model_no}"
        )
        yield Statement(
            "INSERT INTO engram_memory_vector_indexes (pid, model_no, name, vectors)"
            " SELECT %s, %s, %s, %s WHERE EXISTS"
            " (SELECT 1 FROM engram_memory_partitions WHERE pid = %s)"
            " ON CONFLICT (pid, model_no) DO NOTHING",
            (pid, model_no, name, int(row["vectors"]), pid),
        )
        created.append(name)
    if wanted:
        yield Statement("RESET maintenance_work_mem")
    return VectorIndexReport(tuple(created), dropped)


def _drop_stale_indexes() -> Work[tuple[str, ...]]:
    """Drop the HNSW indexes not listed as built: erased users', or failed builds'."""
    rows = yield Statement(
        "SELECT c.relname AS name FROM pg_index AS x"
        " JOIN pg_class AS c ON c.oid = x.indexrelid"
        " WHERE x.indrelid = 'engram_memory_vectors'::regclass"
        " AND starts_with(c.relname, %s)"
        " AND c.relname NOT IN (SELECT name FROM engram_memory_vector_indexes)",
        (mbase.INDEX_PREFIX,),
        "all",
    )
    names = tuple(row["name"] for row in rows)
    for name in names:
        yield Statement(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")  # a name we generated
    return names


_Handler = Callable[[Any, SearchSettings], Work[Any]]

_HANDLERS: dict[type, _Handler] = {
    PutMemories: lambda op, _: write.put_memories(op),
    GetMemories: _get_memories,
    ListMemories: _list_memories,
    CountMemories: _count_memories,
    ListUsers: _list_users,
    SearchLexical: _search_lexical,
    SearchVector: _search_vector,
    GetVectors: _get_vectors,
    PutVectors: lambda op, _: write.put_vectors(op),
    ScanVectors: _scan_vectors,
    CountUnembedded: _count_unembedded,
    RecordAccess: lambda op, _: write.record_access(op),
    ListTombstones: _list_tombstones,
    PutTombstones: lambda op, _: write.put_tombstones(op),
    DeleteMemories: lambda op, _: write.delete_memories(op),
    DeleteScope: lambda op, _: write.delete_scope(op),
    PutEntities: _put_entities,
    ListEntities: _list_entities,
    DeleteEntities: lambda op, _: write.delete_entities(op),
    PutRelations: _put_relations,
    ListRelations: _list_relations,
    GetProfile: _get_profile,
    PutProfile: _put_profile,
}
"""One handler per op type; each runs inside the batch's transaction."""
