"""Upkeep of a scope's stored memories: consolidate, measure bloat, re-embed, forget.

Consolidation, bloat and forgetting act on the scope's own memories (`Scope.own_filter`):
a user's, of every agent and session the scope leaves open; without a user, those stored
without one (an agent's own). What users told an agent is theirs, kept up with them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engram._exceptions import InvalidInputError
from engram._flows import Flow, call_memories, embed, serialized
from engram._memory_flows.erasure import erase_each_flow
from engram._memory_flows.scope import FACT_KINDS, Scope, every_memory, lock_key
from engram.memory import Forget, ForgettingPolicy, bloat, plan_consolidation, plan_forgetting
from engram.memory.consolidation import (
    Merge,
    check_threshold,
    redirected_memories,
    redirected_profile,
    redirected_relations,
)
from engram.memory.texts import dense_text
from engram.stores.memories import (
    CountUnembedded,
    DeleteMemories,
    ErasureReport,
    GetMemories,
    GetProfile,
    GetVectors,
    ListMemories,
    ListRelations,
    PutMemories,
    PutProfile,
    PutRelations,
    PutVectors,
    ScanVectors,
    VectorRecord,
)
from engram.types._memory import Memory


def consolidate_flow(
    scope: Scope, *, model_id: str, threshold: float, now: datetime
) -> Flow[tuple[int, ErasureReport | None]]:
    """Merge near-duplicate current memories of the scope's own (`Scope.own_filter`; all
    provenance kept).

    What pointed at a merged-away memory (a retired memory's `superseded_by`, a relation, a
    profile field's source) points at the memory it merged into, in the batch that erases
    it: erasing it would otherwise take the relation and the profile field along."""
    check_threshold(threshold)
    yield from serialized(scope.lock_key)
    where = scope.own_filter(kinds=FACT_KINDS)
    [matrix] = yield from call_memories(ScanVectors(scope.tenant, model_id, where))
    if not matrix.ids:
        return 0, None
    [loaded] = yield from call_memories(GetMemories(scope.tenant, matrix.ids))
    memories = [m for m in loaded if m is not None]
    vectors = matrix.matrix[: len(memories)]
    plan = plan_consolidation(memories, vectors, threshold, now=now)
    if not plan.merges:
        return 0, None
    row_of = {memory.id: row for row, memory in enumerate(memories)}
    kept_vectors = tuple(
        VectorRecord(model_id, vectors[row_of[_text_donor(merge, memories, row_of).id]])
        for merge in plan.merges
    )
    redirects = yield from _redirects(scope, plan.survivors, now)
    *_, report = yield from call_memories(
        PutMemories(scope.tenant, plan.updates, kept_vectors, plan.changes),
        *redirects,
        DeleteMemories(scope.tenant, plan.deletes, "merged into a near-duplicate", now),
    )
    return len(plan.merges), report


def _redirects(scope: Scope, survivors: Mapping[str, str], now: datetime) -> Flow[list[Any]]:
    """The writes that re-point what refers to a merged-away memory at its survivor: the
    retired memories it superseded, the relations it states, the profile fields taken from
    it (`engram.memory.consolidation.redirected_*`).

    The retired memories are read where an add of the scope revises (`Scope.slot_filter`):
    a user's memories of every agent and session (a user's plain fact retires one an agent
    stored for the user); without a user, the scope's own. A scope without a user has no
    profile and states no relations: those are a user's."""
    retired = yield from every_memory(scope.tenant, scope.slot_filter(include_superseded=True))
    ops: list[Any] = []
    memories = redirected_memories(retired, survivors)
    if memories:
        ops.append(PutMemories(scope.tenant, memories))
    if scope.user_id is None:
        return ops
    profile, stored = yield from call_memories(
        GetProfile(scope.tenant, scope.user_id), ListRelations(scope.tenant, scope.user_id)
    )
    relations = redirected_relations(stored, survivors)
    if relations:
        ops.append(PutRelations(scope.tenant, relations))
    redirected = redirected_profile(profile, survivors, now=now)
    if redirected is not None:
        ops.append(PutProfile(scope.tenant, redirected))
    return ops


def _text_donor(merge: Merge, memories: Sequence[Memory], row_of: dict[str, int]) -> Memory:
    """The merged memory whose text the kept one took: its vector is the kept one's (a
    changed text without a vector would drop the memory from dense search)."""
    members = [memories[row_of[merge.kept.id]], *merge.removed]
    return next((m for m in members if m.text == merge.kept.text), members[0])


def bloat_flow(
    scope: Scope, *, model_id: str, threshold: float, kinds: Sequence[str] = ()
) -> Flow[float]:
    """The share of the scope's own current memories (of `kinds`; default: those
    `consolidate_flow` merges) that are redundant near-duplicates (`engram.memory.bloat`)."""
    check_threshold(threshold)
    where = scope.own_filter(kinds=tuple(kinds) or FACT_KINDS)
    [matrix] = yield from call_memories(ScanVectors(scope.tenant, model_id, where))
    if not matrix.ids:
        return 0.0
    [loaded] = yield from call_memories(GetMemories(scope.tenant, matrix.ids))
    memories = [m for m in loaded if m is not None]
    return bloat(memories, matrix.matrix[: len(memories)], threshold)


def reembed_flow(
    scope: Scope, *, model_id: str, batch_size: int, copy_from: tuple[str, int] | None = None
) -> Flow[int]:
    """Embed with the current model every memory of the scope that has no vector of it
    (they were embedded by another model or backend); return how many.

    Retired memories too, so "as of" searches find them by meaning. `batch_size` memories
    are embedded and stored at a time: an interrupted run keeps what it stored. `copy_from`
    is another id of the current model's vectors and their dimension (the id older databases
    stored them under): its vectors of that dimension are copied, not computed again.
    """
    if batch_size <= 0:
        raise InvalidInputError(f"batch_size must be positive, got {batch_size}")
    where = scope.filter(include_superseded=True)
    [embedded] = yield from call_memories(ScanVectors(scope.tenant, model_id, where))
    have = set(embedded.ids)
    done, offset = 0, 0
    while True:
        [page] = yield from call_memories(
            ListMemories(scope.tenant, where, limit=batch_size, offset=offset, order="oldest")
        )
        offset += len(page)
        todo = [memory for memory in page if memory.id not in have]
        if todo:
            vectors = yield from _vectors_of(scope.tenant, todo, copy_from)
            records = tuple(VectorRecord(model_id, vector) for vector in vectors)
            ids = tuple(memory.id for memory in todo)
            yield from call_memories(PutVectors(scope.tenant, ids, records))
            done += len(todo)
        if len(page) < batch_size:
            return done


REEMBED_BATCH = 256
"""Memories `reembed_flow` embeds and stores at a time, unless told."""


def stale_scope(scope: Scope) -> Scope:
    """The scope a search of `scope` re-embeds first (`reembed_stale_flow`): its user's
    memories of every agent and session (one check covers each scope of the user's, under
    the user's lock), else `scope` itself (an agent's, a session's)."""
    return scope if scope.user_id is None else Scope(scope.tenant, scope.user_id)


def reembed_stale_flow(
    scope: Scope, *, model_id: str, batch_size: int, copy_from: tuple[str, int] | None = None
) -> Flow[int]:
    """`reembed_flow` of `scope`, if one of its memories (retired ones too) has no vector of
    the current model (one count of them); return how many it embedded.

    It holds the locks of the writes of those memories, as a write does: an edit meanwhile
    would otherwise get the vector of its old text back, and an erasure would fail the
    `PutVectors` of the memory gone. A scope without a user may hold the memories of many
    users: their writes are held too. Another flow that re-embedded them meanwhile leaves
    nothing to do (`PutVectors` replaces a vector, were two to store one)."""
    where = scope.filter(include_superseded=True)
    [missing] = yield from call_memories(CountUnembedded(scope.tenant, model_id, where))
    if not missing:
        return 0
    keys = {scope.lock_key}
    if scope.user_id is None:
        found = yield from every_memory(scope.tenant, where)
        keys |= {lock_key(scope.tenant, memory.user_id) for memory in found}
    yield from serialized(*sorted(keys))
    done: int = yield from reembed_flow(
        scope, model_id=model_id, batch_size=batch_size, copy_from=copy_from
    )
    return done


def _vectors_of(
    tenant: str, memories: Sequence[Memory], copy_from: tuple[str, int] | None
) -> Flow[list[NDArray[np.float32]]]:
    """A vector for each of `memories`: the one stored under `copy_from` if it has one of its
    dimension, else embedded."""
    found: list[NDArray[np.float32] | None] = [None] * len(memories)
    if copy_from is not None:
        old_id, dimension = copy_from
        ids = tuple(memory.id for memory in memories)
        [stored] = yield from call_memories(GetVectors(tenant, ids, old_id))
        found = [v if v is not None and v.shape[-1] == dimension else None for v in stored]
    missing = [index for index, vector in enumerate(found) if vector is None]
    if missing:
        fresh = yield from embed([dense_text(memories[index]) for index in missing], tenant=tenant)
        for index, vector in zip(missing, fresh, strict=True):
            found[index] = vector
    return [vector for vector in found if vector is not None]


def forgettable_flow(
    scope: Scope, policy: ForgettingPolicy, *, now: datetime
) -> Flow[list[Forget]]:
    """What `policy` forgets of the scope's own memories now (`Scope.own_filter`), each with
    its reason (nothing erased). The slot facts the user's current profile fields come from
    (`UserProfile.sources`) are exempt unless the policy says otherwise (`keep_profile`).

    Raises:
        InvalidInputError: `policy` sets no rule (`max_age`, `max_idle`, `max_per_user`):
            `min_access`, `keep_pinned` and `keep_profile` only exempt memories, so it would
            forget nothing.
    """
    _check_rule(policy)
    memories = yield from every_memory(scope.tenant, scope.own_filter(include_superseded=True))
    profile = None
    if scope.user_id is not None and policy.keep_profile:
        [profile] = yield from call_memories(GetProfile(scope.tenant, scope.user_id))
    sources = set(profile.sources.values()) if profile is not None else set()
    return plan_forgetting(memories, policy, now, profile=sources)


def forget_flow(
    scope: Scope, policy: ForgettingPolicy, *, now: datetime
) -> Flow[ErasureReport | None]:
    """Erase what `policy` forgets of the scope's own memories (pinned ones and the sources of
    the user's current profile fields are exempt by default); `InvalidInputError` for a
    policy without a rule (`forgettable_flow`)."""
    _check_rule(policy)
    yield from serialized(scope.lock_key)
    doomed = yield from forgettable_flow(scope, policy, now=now)
    if not doomed:
        return None
    reasons = {memory_id: reason for memory_id, reason in doomed}
    report: ErasureReport = yield from erase_each_flow(scope.tenant, reasons, now, give_back=False)
    return report


def _check_rule(policy: ForgettingPolicy) -> None:
    """Refuse a policy that sets no rule: it would forget nothing, silently."""
    if policy.max_age is None and policy.max_idle is None and policy.max_per_user is None:
        raise InvalidInputError(
            "give a rule: max_age, max_idle or max_per_user (min_access only exempts memories)"
        )
