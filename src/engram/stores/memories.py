"""The storage contract for long-term memory: memories, vectors, history, entities, profiles.

A backend implements `batch(ops)` and `abatch(ops)` over the typed operations below; every
convenience method (`put_memories`, `search_vector`, ...) is written once here. Every operation
carries its tenant and backends scope every query by it: another tenant's memory does not
exist. A batch runs its operations in order and atomically (all of its writes or none) and
returns their results in order.

What "current" means (the default of `MemoryFilter`): a memory Engram has not retired, i.e.
`superseded_at` is None. A memory whose `valid_to` has passed but that was never superseded
(an episode or fact with a known end) is still current knowledge: it is an answer to "when
did ..." questions. Asking `as_of=T` switches to the bi-temporal view at T instead, "what
Engram believed was true at T": known at T (`recorded_at` <= T, `superseded_at` None or > T)
and true at T (`valid_from` None or <= T; `valid_to` None or > T). A retired memory's
`valid_to` counts as learned at its retirement (a contradiction sets both in one write), so
before `superseded_at` it is treated as open-ended. `valid_at=T` asks "what was true at T, by
all we know now": from its start (`timeline.began`: unknown, from `recorded_at`, or from
the beginning if it was said to have ended by then, "until 2019") to `valid_to`, retired or
not; what the memory API's `as_of` asks, as its relations' `as_of` does.

Vectors are L2-normalised float32, stored per memory and embedding model (`model_id`, which
should name the backend too when quantised and full-precision runs of a model coexist); a
search compares vectors of one model only. A memory's vectors embed its current text: an
upsert that changes the text drops the memory's vectors unless it brings a new one.

Erasure is real: `DeleteMemories` removes the memory, its vectors, its relations, the profile
fields taken from it, blanks the texts of its history (a tombstone remains) and drops them
from the context other episodes keep of the turns before them;
`DeleteScope(user_id=...)` removes everything of the user, tombstones included.
`ListTombstones` lists a user's tombstones and `PutTombstones` stores those an export
brings, so a database a user moves to keeps their erasures.

Example:
    ```python
    store = InMemoryMemoryStore()
    memory = Memory("Ana is vegetarian", user_id="ana")
    store.put_memories("default", [memory], vectors=[VectorRecord("minilm", vector)])
    store.search_vector("default", query_vector, "minilm", MemoryFilter(user_id="ana"))
    ```
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import NDArray

from engram.stores.scope_locks import NoHold, ScopeHold
from engram.types._memory import Entity, Memory, MemoryChange, Relation, UserProfile

__all__ = [
    "READ_OPS",
    "BaseMemoryStore",
    "CountMemories",
    "CountUnembedded",
    "DeleteEntities",
    "DeleteMemories",
    "DeleteScope",
    "ErasureReport",
    "GetHistory",
    "GetMemories",
    "GetProfile",
    "GetVectors",
    "ListEntities",
    "ListMemories",
    "ListRelations",
    "ListTombstones",
    "ListUsers",
    "MemoryFilter",
    "MemoryScore",
    "Op",
    "PutEntities",
    "PutMemories",
    "PutProfile",
    "PutRelations",
    "PutTombstones",
    "PutVectors",
    "RecordAccess",
    "ScanVectors",
    "SearchLexical",
    "SearchVector",
    "VectorMatrix",
    "VectorRecord",
]

MetadataValue = str | int | float | bool | None
"""What a metadata filter can compare with: JSON scalars (true is not 1)."""


class MemoryFilter(NamedTuple):
    """Which memories an operation sees. Every given field must match (AND); None: any.

    By default only current memories (`superseded_at` None) match; see the module docstring
    for `as_of`, `valid_at` and `include_superseded`.
    """

    user_id: str | None = None
    agent_id: str | None = None
    session_id: str | None = None
    kinds: tuple[str, ...] | None = None
    ids: tuple[str, ...] | None = None
    attributes: tuple[str, ...] | None = None
    """Memories filling one of these slots (`Memory.attribute`)."""
    entity_ids: tuple[str, ...] | None = None
    """Memories mentioning at least one of these entities."""
    as_of: datetime | None = None
    """Bi-temporal: true at this time and known at this time."""
    valid_at: datetime | None = None
    """True at this time (valid-time axis only; from `timeline.began` to `valid_to`),
    retired or not."""
    include_superseded: bool = False
    """Also match retired memories (ignored when `as_of` or `valid_at` is given)."""
    after: datetime | None = None
    """Event time (`valid_from`, else `recorded_at`) at or after this time."""
    before: datetime | None = None
    """Event time strictly before this time."""
    metadata: Mapping[str, MetadataValue] | None = None
    """Top-level metadata keys that must be present with equal (JSON) values."""
    without_user: bool = False
    """Only memories stored without a user (an agent's or session's own, not what users
    told it); refused with a `user_id`. Read through the tenant's user-less partition."""


_ANY = MemoryFilter()
"""The default filter: every current memory of the tenant."""


class VectorRecord(NamedTuple):
    """A memory's embedding: the model that made it and the vector (normalised on write)."""

    model_id: str
    vector: NDArray[np.float32]

    @property
    def dim(self) -> int:
        """The vector's dimension."""
        return int(np.asarray(self.vector).shape[-1])


class VectorMatrix(NamedTuple):
    """Vectors of many memories: row i of `matrix` is the unit vector of `ids[i]`."""

    ids: tuple[str, ...]
    matrix: NDArray[np.float32]


class MemoryScore(NamedTuple):
    """A search result: a memory id and its score (higher is better)."""

    memory_id: str
    score: float


class ErasureReport(NamedTuple):
    """What an erasure removed, per kind of record (history: entries removed or blanked)."""

    memories: int = 0
    vectors: int = 0
    history: int = 0
    entities: int = 0
    relations: int = 0
    profiles: int = 0
    """Profiles removed, or edited to drop fields taken from erased memories."""

    @property
    def total(self) -> int:
        """All records touched."""
        return sum(self)


# Memories.


class PutMemories(NamedTuple):
    """Insert or replace memories (by id), with their vectors and history entries.

    `vectors` is empty or holds one `VectorRecord | None` per memory; `changes` are history
    entries, each for a memory of this op or already stored, written in the same transaction.
    Result: the stored memories (times in UTC).

    `InvalidInputError` for bad input (tenant mismatch, empty text, unknown kind, an empty
    `user_id`, a vector of the wrong dimension for its model, duplicate ids);
    `ConflictError` if an upsert would move a memory to another `user_id`.
    """

    tenant: str
    memories: tuple[Memory, ...]
    vectors: tuple[VectorRecord | None, ...] = ()
    changes: tuple[MemoryChange, ...] = ()


class GetMemories(NamedTuple):
    """Read memories by id. Result: `list[Memory | None]`, aligned with `ids`."""

    tenant: str
    ids: tuple[str, ...]
    shared: bool = False
    """The caller only reads the records and hands none of them out (a search ranking its
    candidates, of which it returns copies of the best): a store that caches records may
    return its own instead of copies. Else each record is the caller's to change."""


class ListMemories(NamedTuple):
    """List the memories `filter` selects. Result: `list[Memory]`, newest event time first
    (`order="oldest"`: oldest first); ties by id. `InvalidInputError` for a negative limit
    or offset."""

    tenant: str
    filter: MemoryFilter = _ANY
    limit: int = 100
    offset: int = 0
    order: Literal["newest", "oldest"] = "newest"


class CountMemories(NamedTuple):
    """How many memories `filter` selects. Result: `int`."""

    tenant: str
    filter: MemoryFilter = _ANY


class ListUsers(NamedTuple):
    """The users of a tenant with at least one memory (retired ones count), in id order.
    Result: `list[str]`. `InvalidInputError` for a negative limit or offset."""

    tenant: str
    limit: int = 100
    offset: int = 0


class SearchLexical(NamedTuple):
    """BM25 search (`engram.memory.bm25`) among the memories `filter` selects.

    Result: `list[MemoryScore]`, best first (ties by id); memories matching no query term
    are left out. Corpus statistics are those of the selected memories.
    """

    tenant: str
    query: str
    filter: MemoryFilter = _ANY
    limit: int = 10


class SearchVector(NamedTuple):
    """Exact cosine search among the memories `filter` selects that have a `model_id` vector.

    Brute force over the filtered rows (never an approximate index filtered afterwards), so
    the result is the true top `limit`. Result: `list[MemoryScore]` (score: cosine), best
    first, ties by id. `InvalidInputError` if the vector's dimension is not the model's.
    """

    tenant: str
    vector: NDArray[np.float32]
    model_id: str
    filter: MemoryFilter = _ANY
    limit: int = 10


class GetVectors(NamedTuple):
    """Read the `model_id` vectors of memories. Result: `list[NDArray | None]`, aligned."""

    tenant: str
    ids: tuple[str, ...]
    model_id: str


class PutVectors(NamedTuple):
    """Store vectors of existing memories (a re-embedding), one per id. Result: None.
    `NotFoundError` if a memory is absent."""

    tenant: str
    ids: tuple[str, ...]
    vectors: tuple[VectorRecord, ...]


class ScanVectors(NamedTuple):
    """Every `model_id` vector of the memories `filter` selects, in one matrix (for
    consolidation). Result: `VectorMatrix`, rows ordered by memory id."""

    tenant: str
    model_id: str
    filter: MemoryFilter = _ANY


class CountUnembedded(NamedTuple):
    """How many memories `filter` selects have no `model_id` vector (embedded by another
    model, or by none). Result: `int`."""

    tenant: str
    model_id: str
    filter: MemoryFilter = _ANY


class RecordAccess(NamedTuple):
    """Count a recall: `access_count + 1` and `last_accessed_at = at` for each memory.
    Result: how many memories were found."""

    tenant: str
    ids: tuple[str, ...]
    at: datetime


class GetHistory(NamedTuple):
    """A memory's audit history, oldest first (ties by change id). Result:
    `list[MemoryChange]` (still there after the memory's deletion, texts blanked)."""

    tenant: str
    memory_id: str


class ListTombstones(NamedTuple):
    """A user's tombstones: the `delete` entries of the history of the user's memories the
    store holds no row of (erased ones; `DeleteScope(user_id=...)` leaves none). Result:
    `list[MemoryChange]`, oldest first (ties by change id)."""

    tenant: str
    user_id: str


class PutTombstones(NamedTuple):
    """Store tombstones of `user_id`'s memories, the store holding none of the memories (an
    import bringing the erasures of another database); an entry whose id the history of its
    memory holds is skipped (the same import again). Result: how many were written.

    `InvalidInputError` for an entry that is not a tombstone (action `delete`, no
    `old_text` or `new_text`) or of another tenant; `ConflictError` if the store holds one
    of the memories (erase it with `DeleteMemories` instead).
    """

    tenant: str
    user_id: str
    changes: tuple[MemoryChange, ...]


class DeleteMemories(NamedTuple):
    """Erase memories: rows, vectors, relations stated by them, profile fields taken from
    them, the texts (and reasons) of their history entries, and the lines quoting them in
    the context of their user's episodes (`metadata["context"]`, `_memory_rules.
    without_quotes`); each gets a tombstone change (action `delete`, `reason`, no text) at
    `at` (None: now). Absent ids are skipped. Result: `ErasureReport`."""

    tenant: str
    ids: tuple[str, ...]
    reason: str | None = None
    at: datetime | None = None


class DeleteScope(NamedTuple):
    """Erase every memory of a scope (all given fields must match; at least one given).

    With `user_id` alone, everything of that user goes: memories, vectors, all history
    (tombstones included), entities, relations and the profile. With other fields, the
    selected memories are erased as by `DeleteMemories` (tombstones remain). Result:
    `ErasureReport`. `InvalidInputError` if no field is given.

    `spared` names memories that outlive the scope, other scopes having said them too (the
    caller moved them out of it first): every text of their history but their current one
    is blanked (counted in `history`), as the scope's own words. `erased_sources` are the
    message ids of the scope's turns that no memory left has: they go from the history of
    the memories `unsourced` (the ones left that may name them; not counted: no text goes).
    """

    tenant: str
    user_id: str | None = None
    agent_id: str | None = None
    session_id: str | None = None
    spared: tuple[str, ...] = ()
    unsourced: tuple[str, ...] = ()
    erased_sources: tuple[str, ...] = ()


# Entities, relations, profiles.


class PutEntities(NamedTuple):
    """Insert or replace entities (by id). Result: the stored `list[Entity]`."""

    tenant: str
    entities: tuple[Entity, ...]


class ListEntities(NamedTuple):
    """List entities, oldest first (ties by id). `name_or_alias` matches the name or an
    alias, case, accents and spacing aside (`engram.memory.entities.fold`). Result:
    `list[Entity]`."""

    tenant: str
    user_id: str | None = None
    name_or_alias: str | None = None
    ids: tuple[str, ...] | None = None


class DeleteEntities(NamedTuple):
    """Delete entities and every relation touching them. Result: `ErasureReport`."""

    tenant: str
    ids: tuple[str, ...]


class PutRelations(NamedTuple):
    """Insert or replace relations (by id). Result: the stored `list[Relation]`."""

    tenant: str
    relations: tuple[Relation, ...]


class ListRelations(NamedTuple):
    """List relations, oldest first (ties by id): of a user, touching an entity (as source
    or target), valid at `as_of` (None: ended ones too). Result: `list[Relation]`."""

    tenant: str
    user_id: str | None = None
    entity_id: str | None = None
    as_of: datetime | None = None


class GetProfile(NamedTuple):
    """Read a user's profile. Result: `UserProfile | None`."""

    tenant: str
    user_id: str


class PutProfile(NamedTuple):
    """Store a user's profile (replacing it). Result: the stored `UserProfile`."""

    tenant: str
    profile: UserProfile


Op = (
    PutMemories
    | GetMemories
    | ListMemories
    | CountMemories
    | ListUsers
    | SearchLexical
    | SearchVector
    | GetVectors
    | PutVectors
    | ScanVectors
    | CountUnembedded
    | RecordAccess
    | GetHistory
    | ListTombstones
    | PutTombstones
    | DeleteMemories
    | DeleteScope
    | PutEntities
    | ListEntities
    | DeleteEntities
    | PutRelations
    | ListRelations
    | GetProfile
    | PutProfile
)

READ_OPS: tuple[type, ...] = (
    GetMemories,
    ListMemories,
    CountMemories,
    ListUsers,
    SearchLexical,
    SearchVector,
    GetVectors,
    ScanVectors,
    CountUnembedded,
    GetHistory,
    ListTombstones,
    ListEntities,
    ListRelations,
    GetProfile,
)
"""The operations that never write."""


class BaseMemoryStore(ABC):
    """Stores long-term memories with their vectors, history, entities and profiles."""

    @abstractmethod
    def batch(self, ops: Sequence[Op]) -> list[Any]:
        """Run `ops` in order, atomically; return their results in order."""

    @abstractmethod
    async def abatch(self, ops: Sequence[Op]) -> list[Any]:
        """Async `batch`."""

    def close(self) -> None:  # noqa: B027 - an optional hook, not an abstract method
        """Release what the store opened itself (not injected connections)."""

    def hold(self) -> ScopeHold:
        """A new `ScopeHold` for one flow: the locks that make the memory writes of one
        scope take turns across the processes sharing this store (see
        `engram.stores.scope_locks`). This default suits a store only one process sees."""
        return NoHold()

    def _one(self, op: Op) -> Any:
        return self.batch([op])[0]

    async def _aone(self, op: Op) -> Any:
        return (await self.abatch([op]))[0]

    # Convenience methods: one op each.

    def put_memories(
        self,
        tenant: str,
        memories: Sequence[Memory],
        *,
        vectors: Sequence[VectorRecord | None] = (),
        changes: Sequence[MemoryChange] = (),
    ) -> list[Memory]:
        """Insert or replace memories; see `PutMemories`."""
        op = PutMemories(tenant, tuple(memories), tuple(vectors), tuple(changes))
        result: list[Memory] = self._one(op)
        return result

    async def aput_memories(
        self,
        tenant: str,
        memories: Sequence[Memory],
        *,
        vectors: Sequence[VectorRecord | None] = (),
        changes: Sequence[MemoryChange] = (),
    ) -> list[Memory]:
        op = PutMemories(tenant, tuple(memories), tuple(vectors), tuple(changes))
        result: list[Memory] = await self._aone(op)
        return result

    def get_memory(self, tenant: str, memory_id: str) -> Memory | None:
        result: Memory | None = self._one(GetMemories(tenant, (memory_id,)))[0]
        return result

    async def aget_memory(self, tenant: str, memory_id: str) -> Memory | None:
        result: Memory | None = (await self._aone(GetMemories(tenant, (memory_id,))))[0]
        return result

    def list_memories(
        self, tenant: str, filter: MemoryFilter = _ANY, *, limit: int = 100, offset: int = 0
    ) -> list[Memory]:
        result: list[Memory] = self._one(ListMemories(tenant, filter, limit, offset))
        return result

    async def alist_memories(
        self, tenant: str, filter: MemoryFilter = _ANY, *, limit: int = 100, offset: int = 0
    ) -> list[Memory]:
        result: list[Memory] = await self._aone(ListMemories(tenant, filter, limit, offset))
        return result

    def count_memories(self, tenant: str, filter: MemoryFilter = _ANY) -> int:
        return int(self._one(CountMemories(tenant, filter)))

    async def acount_memories(self, tenant: str, filter: MemoryFilter = _ANY) -> int:
        return int(await self._aone(CountMemories(tenant, filter)))

    def list_users(self, tenant: str, *, limit: int = 100, offset: int = 0) -> list[str]:
        """See `ListUsers`."""
        result: list[str] = self._one(ListUsers(tenant, limit, offset))
        return result

    async def alist_users(self, tenant: str, *, limit: int = 100, offset: int = 0) -> list[str]:
        """See `ListUsers`."""
        result: list[str] = await self._aone(ListUsers(tenant, limit, offset))
        return result

    def search_lexical(
        self, tenant: str, query: str, filter: MemoryFilter = _ANY, *, limit: int = 10
    ) -> list[MemoryScore]:
        """BM25 search; see `SearchLexical`."""
        result: list[MemoryScore] = self._one(SearchLexical(tenant, query, filter, limit))
        return result

    async def asearch_lexical(
        self, tenant: str, query: str, filter: MemoryFilter = _ANY, *, limit: int = 10
    ) -> list[MemoryScore]:
        result: list[MemoryScore] = await self._aone(SearchLexical(tenant, query, filter, limit))
        return result

    def search_vector(
        self,
        tenant: str,
        vector: NDArray[np.float32],
        model_id: str,
        filter: MemoryFilter = _ANY,
        *,
        limit: int = 10,
    ) -> list[MemoryScore]:
        """Exact cosine search; see `SearchVector`."""
        op = SearchVector(tenant, vector, model_id, filter, limit)
        result: list[MemoryScore] = self._one(op)
        return result

    async def asearch_vector(
        self,
        tenant: str,
        vector: NDArray[np.float32],
        model_id: str,
        filter: MemoryFilter = _ANY,
        *,
        limit: int = 10,
    ) -> list[MemoryScore]:
        op = SearchVector(tenant, vector, model_id, filter, limit)
        result: list[MemoryScore] = await self._aone(op)
        return result

    def get_vectors(
        self, tenant: str, ids: Sequence[str], model_id: str
    ) -> list[NDArray[np.float32] | None]:
        result: list[NDArray[np.float32] | None] = self._one(
            GetVectors(tenant, tuple(ids), model_id)
        )
        return result

    async def aget_vectors(
        self, tenant: str, ids: Sequence[str], model_id: str
    ) -> list[NDArray[np.float32] | None]:
        result: list[NDArray[np.float32] | None] = await self._aone(
            GetVectors(tenant, tuple(ids), model_id)
        )
        return result

    def scan_vectors(self, tenant: str, model_id: str, filter: MemoryFilter = _ANY) -> VectorMatrix:
        result: VectorMatrix = self._one(ScanVectors(tenant, model_id, filter))
        return result

    async def ascan_vectors(
        self, tenant: str, model_id: str, filter: MemoryFilter = _ANY
    ) -> VectorMatrix:
        result: VectorMatrix = await self._aone(ScanVectors(tenant, model_id, filter))
        return result

    def count_unembedded(self, tenant: str, model_id: str, filter: MemoryFilter = _ANY) -> int:
        """See `CountUnembedded`."""
        return int(self._one(CountUnembedded(tenant, model_id, filter)))

    async def acount_unembedded(
        self, tenant: str, model_id: str, filter: MemoryFilter = _ANY
    ) -> int:
        return int(await self._aone(CountUnembedded(tenant, model_id, filter)))

    def record_access(self, tenant: str, ids: Sequence[str], *, at: datetime) -> int:
        return int(self._one(RecordAccess(tenant, tuple(ids), at)))

    async def arecord_access(self, tenant: str, ids: Sequence[str], *, at: datetime) -> int:
        return int(await self._aone(RecordAccess(tenant, tuple(ids), at)))

    def get_history(self, tenant: str, memory_id: str) -> list[MemoryChange]:
        result: list[MemoryChange] = self._one(GetHistory(tenant, memory_id))
        return result

    async def aget_history(self, tenant: str, memory_id: str) -> list[MemoryChange]:
        result: list[MemoryChange] = await self._aone(GetHistory(tenant, memory_id))
        return result

    def list_tombstones(self, tenant: str, user_id: str) -> list[MemoryChange]:
        """A user's tombstones; see `ListTombstones`."""
        result: list[MemoryChange] = self._one(ListTombstones(tenant, user_id))
        return result

    async def alist_tombstones(self, tenant: str, user_id: str) -> list[MemoryChange]:
        result: list[MemoryChange] = await self._aone(ListTombstones(tenant, user_id))
        return result

    def put_tombstones(self, tenant: str, user_id: str, changes: Sequence[MemoryChange]) -> int:
        """Store tombstones of memories the store does not hold; see `PutTombstones`."""
        return int(self._one(PutTombstones(tenant, user_id, tuple(changes))))

    async def aput_tombstones(
        self, tenant: str, user_id: str, changes: Sequence[MemoryChange]
    ) -> int:
        return int(await self._aone(PutTombstones(tenant, user_id, tuple(changes))))

    def delete_memories(
        self,
        tenant: str,
        ids: Sequence[str],
        *,
        reason: str | None = None,
        at: datetime | None = None,
    ) -> ErasureReport:
        """Erase memories for real; see `DeleteMemories`."""
        result: ErasureReport = self._one(DeleteMemories(tenant, tuple(ids), reason, at))
        return result

    async def adelete_memories(
        self,
        tenant: str,
        ids: Sequence[str],
        *,
        reason: str | None = None,
        at: datetime | None = None,
    ) -> ErasureReport:
        result: ErasureReport = await self._aone(DeleteMemories(tenant, tuple(ids), reason, at))
        return result

    def delete_scope(
        self,
        tenant: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> ErasureReport:
        """Erase a scope; see `DeleteScope`."""
        result: ErasureReport = self._one(DeleteScope(tenant, user_id, agent_id, session_id))
        return result

    async def adelete_scope(
        self,
        tenant: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> ErasureReport:
        op = DeleteScope(tenant, user_id, agent_id, session_id)
        result: ErasureReport = await self._aone(op)
        return result

    def put_entities(self, tenant: str, entities: Sequence[Entity]) -> list[Entity]:
        result: list[Entity] = self._one(PutEntities(tenant, tuple(entities)))
        return result

    async def aput_entities(self, tenant: str, entities: Sequence[Entity]) -> list[Entity]:
        result: list[Entity] = await self._aone(PutEntities(tenant, tuple(entities)))
        return result

    def list_entities(
        self, tenant: str, user_id: str | None = None, *, name_or_alias: str | None = None
    ) -> list[Entity]:
        result: list[Entity] = self._one(ListEntities(tenant, user_id, name_or_alias))
        return result

    async def alist_entities(
        self, tenant: str, user_id: str | None = None, *, name_or_alias: str | None = None
    ) -> list[Entity]:
        result: list[Entity] = await self._aone(ListEntities(tenant, user_id, name_or_alias))
        return result

    def put_relations(self, tenant: str, relations: Sequence[Relation]) -> list[Relation]:
        result: list[Relation] = self._one(PutRelations(tenant, tuple(relations)))
        return result

    async def aput_relations(self, tenant: str, relations: Sequence[Relation]) -> list[Relation]:
        result: list[Relation] = await self._aone(PutRelations(tenant, tuple(relations)))
        return result

    def list_relations(
        self,
        tenant: str,
        user_id: str | None = None,
        *,
        entity_id: str | None = None,
        as_of: datetime | None = None,
    ) -> list[Relation]:
        result: list[Relation] = self._one(ListRelations(tenant, user_id, entity_id, as_of))
        return result

    async def alist_relations(
        self,
        tenant: str,
        user_id: str | None = None,
        *,
        entity_id: str | None = None,
        as_of: datetime | None = None,
    ) -> list[Relation]:
        op = ListRelations(tenant, user_id, entity_id, as_of)
        result: list[Relation] = await self._aone(op)
        return result

    def get_profile(self, tenant: str, user_id: str) -> UserProfile | None:
        result: UserProfile | None = self._one(GetProfile(tenant, user_id))
        return result

    async def aget_profile(self, tenant: str, user_id: str) -> UserProfile | None:
        result: UserProfile | None = await self._aone(GetProfile(tenant, user_id))
        return result

    def put_profile(self, profile: UserProfile) -> UserProfile:
        result: UserProfile = self._one(PutProfile(profile.tenant, profile))
        return result

    async def aput_profile(self, profile: UserProfile) -> UserProfile:
        result: UserProfile = await self._aone(PutProfile(profile.tenant, profile))
        return result
