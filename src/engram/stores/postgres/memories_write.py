"""The writing half of the PostgreSQL memory store: puts, access counts and erasure.

Each function is a statement generator (see `base.py`) run inside the batch's transaction,
so a batch's writes to memories, vectors, history, relations and profiles commit together.
Rows a write reads in order to change them are locked (`FOR UPDATE`), so concurrent writers
of one memory queue instead of losing an update.

Erasure is real in the sense of the contract: rows are deleted and history texts blanked in
the transaction. PostgreSQL keeps the bytes of deleted row versions until VACUUM (autovacuum)
reclaims them, as for any deleted row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from engram._exceptions import ConflictError, InvalidInputError, NotFoundError
from engram.stores import _memory_rules as rules
from engram.stores.memories import (
    DeleteEntities,
    DeleteMemories,
    DeleteScope,
    ErasureReport,
    PutMemories,
    PutTombstones,
    PutVectors,
    RecordAccess,
    VectorRecord,
)
from engram.stores.postgres import memories_base as base
from engram.stores.postgres._vectors import VectorParam
from engram.stores.postgres.base import ASYNC_COMMIT, Statement, Work
from engram.types._memory import Memory, MemoryChange, UserProfile
from engram.types._time import utcnow

__all__ = [
    "delete_entities",
    "delete_memories",
    "delete_scope",
    "find_partition",
    "put_memories",
    "put_tombstones",
    "put_vectors",
    "record_access",
]

_STORED = (
    "SELECT id, rid, pid, user_id, text FROM engram_memories"
    " WHERE tenant = %s AND id = ANY(%s::text[]) ORDER BY id FOR UPDATE"
)
_INSERT_CHANGE = (
    f"INSERT INTO engram_memory_history (pid, {base.CHANGE_COLUMNS})"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
_UPSERT_VECTOR = (
    "INSERT INTO engram_memory_vectors (rid, model_no, pid, embedding) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (rid, model_no) DO UPDATE SET embedding = excluded.embedding"
)
_UPSERT_PROFILE = base.upsert_sql("engram_memory_profiles", base.PROFILE_COLUMNS, "tenant, user_id")


# Partitions and models.


def find_partition(tenant: str, user_key: str, lock: str = "") -> Work[int | None]:
    """The `pid` of a partition, or None if it has none (`lock`: a locking clause)."""
    row = yield Statement(
        "SELECT pid FROM engram_memory_partitions WHERE tenant = %s AND user_key = %s" + lock,
        (tenant, user_key),
        "one",
    )
    return None if row is None else int(row["pid"])


_IN_USE = " FOR KEY SHARE"
"""How a write holds the partitions it adds rows to until it commits: an erasure of the
user (`_delete_user`, which locks the partition `FOR UPDATE` first) waits for it, then
erases its rows too; or, erasing first, makes it wait and find no partition (it makes a
new one). Without it, a put that found the partition before an erasure committed added
its memory to a deleted partition: stored, yet no user's, never listed, searched or
erased. Concurrent puts do not wait for each other."""


def _ensure_partition(tenant: str, user_key: str) -> Work[int]:
    """The user's `pid`, making the partition if it has none (one round trip if it has),
    held until the transaction ends (`_IN_USE`)."""
    pid = yield from find_partition(tenant, user_key, _IN_USE)
    if pid is not None:
        return pid
    yield Statement(
        "INSERT INTO engram_memory_partitions (tenant, user_key) VALUES (%s, %s)"
        " ON CONFLICT (tenant, user_key) DO NOTHING",
        (tenant, user_key),
    )
    pid = yield from find_partition(tenant, user_key, _IN_USE)
    assert pid is not None  # inserted above, or by a transaction that committed first
    return pid


def _models() -> Work[dict[str, tuple[int, int]]]:
    """model id -> (model_no, dim) of every model with stored vectors (ever)."""
    rows = yield Statement("SELECT model_id, model_no, dim FROM engram_memory_models", (), "all")
    return {row["model_id"]: (int(row["model_no"]), int(row["dim"])) for row in rows}


def _ensure_model(models: dict[str, tuple[int, int]], record: VectorRecord) -> Work[int]:
    known = models.get(record.model_id)
    if known is None:
        yield Statement(
            "INSERT INTO engram_memory_models (model_id, dim) VALUES (%s, %s)"
            " ON CONFLICT (model_id) DO NOTHING",
            (record.model_id, record.dim),
        )
        models.update((yield from _models()))
        known = models[record.model_id]
    if known[1] != record.dim:
        raise InvalidInputError(
            f"model {record.model_id!r} has {known[1]}-d vectors, not {record.dim}-d"
        )
    return known[0]


# Memories.


def _new_rids(count: int) -> Work[list[int]]:
    if count == 0:
        return []
    rows = yield Statement(
        "SELECT nextval(pg_get_serial_sequence('engram_memories', 'rid')) AS rid"
        " FROM generate_series(1, %s)",
        (count,),
        "all",
    )
    return [int(row["rid"]) for row in rows]


def put_memories(op: PutMemories) -> Work[list[Memory]]:
    memories, records, changes = rules.check_put(op, detach=False)
    # The partitions first, then the memory rows: the order `_delete_user` takes them in.
    pids: dict[str, int] = {}
    for key in sorted({rules.user_key(memory.user_id) for memory in memories}):
        pids[key] = yield from _ensure_partition(op.tenant, key)
    rows = yield Statement(_STORED, (op.tenant, [m.id for m in memories]), "all")
    stored = {row["id"]: row for row in rows}
    for memory in memories:
        old = stored.get(memory.id)
        if old is not None and old["user_id"] != memory.user_id:
            raise ConflictError(f"memory {memory.id!r} belongs to another user_id")
    fresh = iter((yield from _new_rids(sum(m.id not in stored for m in memories))))
    inserts, updates, stale, placed = [], [], [], []
    for memory in memories:
        old = stored.get(memory.id)
        if old is None:
            rid, pid = next(fresh), pids[rules.user_key(memory.user_id)]
            inserts.append((rid, pid, *base.memory_params(memory)))
        else:
            rid, pid = int(old["rid"]), int(old["pid"])
            updates.append((*base.memory_params(memory), rid))
            if old["text"] != memory.text:
                stale.append(rid)
        placed.append((rid, pid))
    if inserts:
        yield Statement(base.INSERT_MEMORY, inserts, many=True)
    if updates:
        yield Statement(base.UPDATE_MEMORY, updates, many=True)
    if stale:
        yield Statement("DELETE FROM engram_memory_vectors WHERE rid = ANY(%s)", (stale,))
    yield from _put_vector_rows(records, placed)
    owners = {memory.id: pid for memory, (_, pid) in zip(memories, placed, strict=True)}
    yield from _insert_changes(op.tenant, changes, owners)
    return memories


def _put_vector_rows(
    records: Sequence[VectorRecord | None], placed: Sequence[tuple[int, int]]
) -> Work[None]:
    """Upsert `records[i]` (if any) as the vector of the memory at `placed[i]` (rid, pid)."""
    if not any(record is not None for record in records):
        return
    models = yield from _models()
    rows = []
    for record, (rid, pid) in zip(records, placed, strict=True):
        if record is not None:
            model_no = yield from _ensure_model(models, record)
            rows.append((rid, model_no, pid, VectorParam(record.vector)))
    yield Statement(_UPSERT_VECTOR, rows, many=True)


def _owner(tenant: str, memory_id: str) -> Work[int]:
    """The partition of a stored memory, or of the history of a deleted one."""
    row = yield Statement(
        "SELECT pid FROM engram_memories WHERE tenant = %s AND id = %s"
        " UNION ALL (SELECT pid FROM engram_memory_history WHERE tenant = %s AND memory_id = %s"
        " LIMIT 1) LIMIT 1",
        (tenant, memory_id, tenant, memory_id),
        "one",
    )
    if row is None:
        raise InvalidInputError(f"a change names an unknown memory {memory_id!r}")
    return int(row["pid"])


def _insert_changes(
    tenant: str, changes: Sequence[MemoryChange], owners: dict[str, int]
) -> Work[None]:
    rows = []
    for change in changes:
        if change.memory_id not in owners:
            owners[change.memory_id] = yield from _owner(tenant, change.memory_id)
        rows.append((owners[change.memory_id], *base.change_params(change)))
    if rows:
        yield Statement(_INSERT_CHANGE, rows, many=True)


def put_vectors(op: PutVectors) -> Work[None]:
    if len(op.ids) != len(op.vectors):
        raise InvalidInputError("PutVectors needs one vector per id")
    records = [rules.checked_vector(record) for record in op.vectors]
    rows = yield Statement(_STORED, (op.tenant, list(op.ids)), "all")
    stored = {row["id"]: (int(row["rid"]), int(row["pid"])) for row in rows}
    for memory_id in op.ids:
        if memory_id not in stored:
            raise NotFoundError(f"no memory {memory_id!r} in tenant {op.tenant!r}")
    yield from _put_vector_rows(records, [stored[memory_id] for memory_id in op.ids])


def put_tombstones(op: PutTombstones) -> Work[int]:
    """Write the op's tombstones but those stored already, in the user's partition."""
    changes = rules.tombstones_to_put(op)
    ids = list(dict.fromkeys(change.memory_id for change in changes))
    held = yield Statement(
        "SELECT id FROM engram_memories WHERE tenant = %s AND id = ANY(%s::text[]) LIMIT 1",
        (op.tenant, ids),
        "one",
    )
    if held is not None:
        raise ConflictError(f"memory {held['id']!r} is stored: erase it instead")
    rows = yield Statement(
        "SELECT id FROM engram_memory_history WHERE tenant = %s AND memory_id = ANY(%s::text[])",
        (op.tenant, ids),
        "all",
    )
    known = {row["id"] for row in rows}
    new = [change for change in changes if change.id not in known]
    if new:
        # The partition is held until the transaction ends, as a put holds it.
        pid = yield from _ensure_partition(op.tenant, op.user_id)
        params = [(pid, *base.change_params(change)) for change in new]
        yield Statement(_INSERT_CHANGE, params, many=True)
    return len(new)


_RECORD_ACCESS = (
    "UPDATE engram_memories SET access_count = access_count + 1, last_accessed_at = %s"
    " WHERE tenant = %s AND id = ANY(%s::text[])"
)


def record_access(op: RecordAccess) -> Work[int]:
    """One statement: a batch of this op alone commits on its own (`async_sql`)."""
    count = yield Statement(
        _RECORD_ACCESS,
        (rules.as_utc(op.at), op.tenant, list(op.ids)),
        "rowcount",
        async_sql=f"{_RECORD_ACCESS} AND {ASYNC_COMMIT}",
    )
    return int(count)


# Erasure.


class _Counts:
    def __init__(self) -> None:
        self.values = dict.fromkeys(ErasureReport._fields, 0)
        self.quoted: dict[int, set[str]] = {}
        """pid -> the erased texts to drop from the context of its episodes (`_unquote`,
        once per partition when the erasure is done)."""

    def add(self, field: str, count: int) -> None:
        self.values[field] += max(count, 0)

    def report(self) -> ErasureReport:
        return ErasureReport(**self.values)


def delete_memories(op: DeleteMemories) -> Work[ErasureReport]:
    counts = _Counts()
    at = rules.as_utc(utcnow() if op.at is None else op.at)
    ids = list(dict.fromkeys(op.ids))
    rows = yield Statement(_STORED, (op.tenant, ids), "all")
    stored = {row["id"]: row for row in rows}
    for memory_id in ids:
        if memory_id in stored:
            yield from _erase(op.tenant, stored[memory_id], op.reason, at, counts)
    yield from _unquote(op.tenant, counts)
    return counts.report()


def _erase(
    tenant: str, stored: dict[str, Any], reason: str | None, at: datetime, counts: _Counts
) -> Work[None]:
    memory_id, rid, pid = stored["id"], int(stored["rid"]), int(stored["pid"])
    texts = yield from _blank_history(tenant, memory_id, pid, stored["text"], counts)
    deleted = yield Statement(
        "DELETE FROM engram_memory_vectors WHERE rid = %s", (rid,), "rowcount"
    )
    counts.add("vectors", deleted)
    yield Statement("DELETE FROM engram_memories WHERE rid = %s", (rid,))
    counts.add("memories", 1)
    yield Statement(  # the memories it retired keep no link to it
        "UPDATE engram_memories SET superseded_by = NULL"
        " WHERE tenant = %s AND pid = %s AND superseded_by = %s",
        (tenant, pid, memory_id),
    )
    yield from _insert_changes(
        tenant, [rules.tombstone(tenant, memory_id, reason, at)], {memory_id: pid}
    )
    counts.quoted.setdefault(pid, set()).update(texts)
    deleted = yield Statement(
        "DELETE FROM engram_memory_relations WHERE tenant = %s AND memory_id = %s",
        (tenant, memory_id),
        "rowcount",
    )
    counts.add("relations", deleted)
    if stored["user_id"] is not None:
        yield from _drop_profile_fields(tenant, stored["user_id"], memory_id, counts)


def _unquote(tenant: str, counts: _Counts) -> Work[None]:
    """Drop the erased texts from the context of their partitions' episodes (their lexical
    terms and lexemes are written again with it)."""
    for pid, texts in sorted(counts.quoted.items()):
        rows = yield Statement(
            f"SELECT m.rid, {base.MEMORY_COLUMNS} FROM engram_memories AS m"
            " WHERE m.tenant = %s AND m.pid = %s AND m.kind = 'episode'"
            " AND strpos(m.metadata, '\"context\":') > 0"
            " AND EXISTS (SELECT 1 FROM unnest(%s::text[]) AS n (needle)"
            " WHERE strpos(m.metadata, n.needle) > 0) ORDER BY m.id FOR UPDATE",
            (tenant, pid, rules.context_needles(texts)),
            "all",
        )
        updates = []
        for row in rows:
            unquoted = rules.without_quotes(base.memory_from_row(row), texts)
            if unquoted is not None:
                updates.append((*base.memory_params(unquoted), int(row["rid"])))
        if updates:
            yield Statement(base.UPDATE_MEMORY, updates, many=True)


def _blank_history(
    tenant: str, memory_id: str, pid: int, text: str, counts: _Counts
) -> Work[list[str]]:
    """Blank the memory's texts in its partition's history; return those no other memory
    of the partition holds (a copy of one it holds is no trace of the erased memory: an add
    keeps a fact said in two sessions in each, and a merge keeps the text of what it merges)."""
    own = yield Statement(
        "SELECT old_text, new_text FROM engram_memory_history WHERE tenant = %s AND memory_id = %s",
        (tenant, memory_id),
        "all",
    )
    stated = {text} | {row[key] for row in own for key in ("old_text", "new_text")} - {None}
    texts = yield from _not_held(tenant, pid, memory_id, sorted(stated))
    blanked = yield Statement(
        "UPDATE engram_memory_history SET old_text = NULL, new_text = NULL, reason = NULL"
        " WHERE tenant = %s AND memory_id = %s"
        " AND (old_text IS NOT NULL OR new_text IS NOT NULL OR reason IS NOT NULL)",
        (tenant, memory_id),
        "rowcount",
    )
    counts.add("history", blanked)
    copies = yield Statement(
        "UPDATE engram_memory_history SET"
        " old_text = CASE WHEN old_text = ANY(%(texts)s) THEN NULL ELSE old_text END,"
        " new_text = CASE WHEN new_text = ANY(%(texts)s) THEN NULL ELSE new_text END"
        " WHERE tenant = %(tenant)s AND pid = %(pid)s AND memory_id <> %(id)s"
        " AND (old_text = ANY(%(texts)s) OR new_text = ANY(%(texts)s))",
        {"texts": texts, "tenant": tenant, "pid": pid, "id": memory_id},
        "rowcount",
    )
    counts.add("history", copies)
    return texts


def _not_held(tenant: str, pid: int, memory_id: str, texts: list[str]) -> Work[list[str]]:
    """Those of `texts` no memory of partition `pid` but `memory_id` has as its text."""
    rows = yield Statement(
        "SELECT text FROM engram_memories"
        " WHERE tenant = %s AND pid = %s AND id <> %s AND text = ANY(%s::text[])",
        (tenant, pid, memory_id, texts),
        "all",
    )
    held = {row["text"] for row in rows}
    return [text for text in texts if text not in held]


def _drop_profile_fields(tenant: str, user_id: str, memory_id: str, counts: _Counts) -> Work[None]:
    row = yield Statement(
        f"SELECT {base.PROFILE_COLUMNS} FROM engram_memory_profiles"
        " WHERE tenant = %s AND user_id = %s FOR UPDATE",
        (tenant, user_id),
        "one",
    )
    if row is None:
        return
    profile: UserProfile = base.profile_from_row(row)
    if memory_id not in profile.sources.values():
        return
    yield Statement(
        _UPSERT_PROFILE, base.profile_params(rules.profile_without(profile, {memory_id}))
    )
    counts.add("profiles", 1)


def delete_scope(op: DeleteScope) -> Work[ErasureReport]:
    rules.check_scope(op)
    if op.agent_id is None and op.session_id is None and op.user_id is not None:
        return (yield from _delete_user(op.tenant, op.user_id))
    conditions, params = ["tenant = %s"], [op.tenant]
    for column in ("user_id", "agent_id", "session_id"):
        if getattr(op, column) is not None:
            conditions.append(f"{column} = %s")
            params.append(getattr(op, column))
    rows = yield Statement(
        "SELECT id, rid, pid, user_id, text FROM engram_memories"
        f" WHERE {' AND '.join(conditions)} ORDER BY id FOR UPDATE",
        params,
        "all",
    )
    counts = _Counts()
    at = utcnow()
    for row in rows:
        yield from _erase(op.tenant, row, "scope erased", at, counts)
    yield from _unquote(op.tenant, counts)
    if op.spared:
        yield from _blank_older_texts(op.tenant, op.spared, counts)
    if op.unsourced and op.erased_sources:
        yield from _unsource(op.tenant, op.unsourced, op.erased_sources)
    return counts.report()


def _unsource(tenant: str, ids: Sequence[str], erased: Sequence[str]) -> Work[None]:
    """Take the `erased` message ids out of the history of memories `ids`
    (`DeleteScope.erased_sources`)."""
    yield Statement(
        "UPDATE engram_memory_history SET source_ids = ARRAY("
        "SELECT s FROM unnest(source_ids) WITH ORDINALITY AS t(s, n)"
        " WHERE NOT s = ANY(%(erased)s::text[]) ORDER BY n)"
        " WHERE tenant = %(tenant)s AND memory_id = ANY(%(ids)s::text[])"
        " AND source_ids && %(erased)s::text[]",
        {"tenant": tenant, "ids": list(ids), "erased": list(erased)},
        "rowcount",
    )


def _blank_older_texts(tenant: str, ids: Sequence[str], counts: _Counts) -> Work[None]:
    """Blank every text of the history of memories `ids` but their current one
    (`DeleteScope.spared`)."""
    blanked = yield Statement(
        "UPDATE engram_memory_history AS h SET"
        " old_text = CASE WHEN h.old_text = m.text THEN h.old_text END,"
        " new_text = CASE WHEN h.new_text = m.text THEN h.new_text END"
        " FROM engram_memories AS m"
        " WHERE h.tenant = %(tenant)s AND m.tenant = %(tenant)s AND h.memory_id = m.id"
        " AND m.id = ANY(%(ids)s::text[])"
        " AND (h.old_text <> m.text OR h.new_text <> m.text)",
        {"tenant": tenant, "ids": list(ids)},
        "rowcount",
    )
    counts.add("history", blanked)


def _delete_user(tenant: str, user_id: str) -> Work[ErasureReport]:
    counts = _Counts()
    memory_ids: list[str] = []
    pid = yield from find_partition(tenant, user_id, " FOR UPDATE")  # see `_IN_USE`
    if pid is not None:
        deleted = yield Statement(
            "DELETE FROM engram_memory_vectors WHERE pid = %s", (pid,), "rowcount"
        )
        counts.add("vectors", deleted)
        rows = yield Statement(
            "DELETE FROM engram_memories WHERE tenant = %s AND pid = %s RETURNING id",
            (tenant, pid),
            "all",
        )
        memory_ids = [row["id"] for row in rows]
        counts.add("memories", len(rows))
        deleted = yield Statement(
            "DELETE FROM engram_memory_history WHERE tenant = %s AND pid = %s",
            (tenant, pid),
            "rowcount",
        )
        counts.add("history", deleted)
        # The partition's HNSW indexes go unused from now on; `index_vectors` drops them.
        yield Statement("DELETE FROM engram_memory_vector_indexes WHERE pid = %s", (pid,))
        yield Statement(
            "DELETE FROM engram_memory_partitions WHERE tenant = %s AND pid = %s", (tenant, pid)
        )
    rows = yield Statement(
        "DELETE FROM engram_memory_entities WHERE tenant = %s AND user_id = %s RETURNING id",
        (tenant, user_id),
        "all",
    )
    entities = [row["id"] for row in rows]
    counts.add("entities", len(entities))
    counts.add("relations", (yield from _delete_relations(tenant, user_id, entities, memory_ids)))
    deleted = yield Statement(
        "DELETE FROM engram_memory_profiles WHERE tenant = %s AND user_id = %s",
        (tenant, user_id),
        "rowcount",
    )
    counts.add("profiles", deleted)
    return counts.report()


def _delete_relations(
    tenant: str, user_id: str | None, entity_ids: Sequence[str], memory_ids: Sequence[str] = ()
) -> Work[int]:
    """Delete the relations of `user_id`, touching `entity_ids` or stated by `memory_ids`."""
    deleted = yield Statement(
        "DELETE FROM engram_memory_relations WHERE tenant = %(tenant)s AND ("
        " (%(user_id)s::text IS NOT NULL AND user_id = %(user_id)s)"
        " OR source_id = ANY(%(entities)s::text[]) OR target_id = ANY(%(entities)s::text[])"
        " OR memory_id = ANY(%(memories)s::text[]))",
        {
            "tenant": tenant,
            "user_id": user_id,
            "entities": list(entity_ids),
            "memories": list(memory_ids),
        },
        "rowcount",
    )
    return int(deleted)


def delete_entities(op: DeleteEntities) -> Work[ErasureReport]:
    rows = yield Statement(
        "DELETE FROM engram_memory_entities WHERE tenant = %s AND id = ANY(%s::text[])"
        " RETURNING id",
        (op.tenant, list(op.ids)),
        "all",
    )
    entities = [row["id"] for row in rows]
    relations = yield from _delete_relations(op.tenant, None, entities)
    return ErasureReport(entities=len(entities), relations=relations)
