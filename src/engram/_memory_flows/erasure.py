"""Erasure: of memories, or of a whole scope, with the entities only they named and what
was embedded for them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from engram._flows import Flow, call_memories, forget_embeddings, serialized
from engram._memory_flows.scope import PAGE, Scope, every_memory, lock_key
from engram.memory.texts import SESSION_KEY, dense_text
from engram.memory.timeline import without_sources
from engram.stores.memories import (
    CountMemories,
    DeleteEntities,
    DeleteMemories,
    DeleteScope,
    ErasureReport,
    GetHistory,
    GetMemories,
    ListEntities,
    ListRelations,
    MemoryFilter,
    PutMemories,
    PutRelations,
)
from engram.types._memory import Memory, Relation

_TICK = timedelta(microseconds=1)
"""The least time after another (histories are ordered by time, then by change id)."""


def _lock_key_of(memory: Memory) -> str:
    return lock_key(memory.tenant, memory.user_id)


def erase_flow(tenant: str, ids: Sequence[str], reason: str, now: datetime) -> Flow[ErasureReport]:
    """Erase memories (`DeleteMemories`), then the entities that only they gave a name to:
    those no remaining memory mentions and no remaining relation touches."""
    report: ErasureReport = yield from erase_each_flow(tenant, dict.fromkeys(ids, reason), now)
    return report


def erase_each_flow(tenant: str, reasons: Mapping[str, str], now: datetime) -> Flow[ErasureReport]:
    """`erase_flow` of memories erased for reasons of their own (memory id -> reason, which
    its tombstone keeps), in one transaction."""
    ids = tuple(reasons)
    [loaded] = yield from call_memories(GetMemories(tenant, ids))
    keys = {_lock_key_of(memory) for memory in loaded if memory is not None}
    if keys:  # then read them again: an add of their scope may have revised them meanwhile
        yield from serialized(*keys)
        [loaded] = yield from call_memories(GetMemories(tenant, ids))
    doomed = [memory for memory in loaded if memory is not None]
    # An edit that took the lock first (in another process, say) was stamped after `now`:
    # the tombstones come after it, so a history never reads "deleted, then edited".
    at = max([now, *(memory.updated_at + _TICK for memory in doomed)])
    named = yield from _named_by(tenant, doomed)
    texts = yield from _embedded_texts(tenant, doomed)
    by_reason: dict[str, list[str]] = {}
    for memory_id, reason in reasons.items():
        by_reason.setdefault(reason, []).append(memory_id)
    reports = yield from call_memories(
        *(DeleteMemories(tenant, tuple(group), why, at) for why, group in by_reason.items())
    )
    yield from forget_embeddings(texts, tenant=tenant)
    report: ErasureReport = yield from _with_orphans_erased(tenant, named, reports)
    return report


def erase_scope_flow(scope: Scope) -> Flow[ErasureReport]:
    """Erase every memory of a scope (`DeleteScope`: with a user alone, everything of that
    user), and drop their texts, past ones included, from the embedding cache. Erasing a
    narrower scope (an agent's, a session's), also the entities only its memories named;
    a memory turns outside it said too outlives it (`_provenance_outside`).

    A scope without a user (a session's, an agent's) may hold the memories of many users:
    their adds are held too, or one could write back a memory being erased (retiring it)."""
    where = scope.filter(include_superseded=True)
    keys = {scope.lock_key}
    if scope.user_id is None:
        found = yield from every_memory(scope.tenant, where)
        keys |= {_lock_key_of(memory) for memory in found}
    yield from serialized(*sorted(keys))
    memories = yield from every_memory(scope.tenant, where)
    kept: list[Memory] = []
    rewritten: list[Memory] = []
    named: set[str] = set()
    restarted: list[Relation] = []
    if scope.whole_user is None:  # a narrower scope: the entities only it named go too
        kept, rewritten = yield from _provenance_outside(scope.tenant, memories)
        restarted = yield from _relations_restarted(scope.tenant, memories, kept)
        spared = {memory.id for memory in kept}
        memories = [memory for memory in memories if memory.id not in spared]
        named = yield from _named_by(scope.tenant, memories)
    texts = yield from _embedded_texts(scope.tenant, memories)
    texts += yield from _embedded_texts(scope.tenant, kept, current=False)
    op = DeleteScope(
        scope.tenant,
        scope.user_id,
        scope.agent_id,
        scope.session_id,
        spared=tuple(memory.id for memory in kept),
    )
    if rewritten:  # the spared moved out of the scope first, so that `op` leaves them
        ops: list[Any] = [PutMemories(scope.tenant, tuple(rewritten))]
        if restarted:
            ops.append(PutRelations(scope.tenant, tuple(restarted)))
        *_, erased = yield from call_memories(*ops, op)
    else:
        [erased] = yield from call_memories(op)
    yield from forget_embeddings(texts, tenant=scope.tenant)
    report: ErasureReport = yield from _with_orphans_erased(scope.tenant, named, [erased])
    return report


def _provenance_outside(
    tenant: str, memories: Sequence[Memory]
) -> Flow[tuple[list[Memory], list[Memory]]]:
    """What erasing a scope's `memories` leaves of their provenance outside it: the spared
    (those turns outside the scope said too) and every memory to rewrite (the spared, and
    the memories outside the scope whose provenance names turns of it), each keeping only
    the message ids of turns outside the scope.

    A slot value said in two sessions is one memory, the first session's, with the message
    ids of the second saying appended to its provenance (`revision`): erasing the first
    session spares it, moved to the session and agent of its first turn outside; erasing
    the second takes that turn's ids out of it. Which turn a message id is, its episode
    tells (one per turn, never merged across scopes): a message id no episode outside the
    scope has is taken to be the scope's, so what cannot be told apart goes with it."""
    erased = {memory.id for memory in memories}
    inside = {s for memory in memories if memory.kind == "episode" for s in memory.source_ids}
    if not any(memory.source_ids for memory in memories):
        return [], []
    outside: list[Memory] = []
    for user_id in sorted({memory.user_id or "" for memory in memories}):
        where = MemoryFilter(
            user_id=user_id or None, without_user=not user_id, include_superseded=True
        )
        found = yield from every_memory(tenant, where)
        outside += [memory for memory in found if memory.id not in erased]
    turns: dict[str, Memory] = {}  # message id -> the episode of its turn outside the scope
    for episode in outside:
        if episode.kind == "episode":
            turns.update((s, episode) for s in episode.source_ids if s not in turns)
    kept = []
    for memory in memories:
        gone = {s for s in memory.source_ids if s not in turns or s in inside}
        if memory.kind != "episode" and len(gone) < len(set(memory.source_ids)):
            spared = without_sources(memory, gone)
            first = turns[spared.source_ids[0]]
            kept.append(
                replace(
                    spared,
                    session_id=first.session_id,
                    agent_id=first.agent_id,
                    metadata=_in_session_of(spared.metadata, first),
                )
            )
    stripped = [
        without_sources(memory, inside)
        for memory in outside
        if memory.kind != "episode" and inside.intersection(memory.source_ids)
    ]
    return kept, [*kept, *stripped]


def _relations_restarted(
    tenant: str, before: Sequence[Memory], spared: Sequence[Memory]
) -> Flow[list[Relation]]:
    """The relations the `spared` state that held from their first saying, erased: each
    from when its memory holds now (`timeline.without_sources` moved its start to the
    saying left), so "as of" the graph agrees with the memory."""
    old = {memory.id: memory for memory in before}
    moved = {
        memory.id: (old[memory.id].valid_from, memory.valid_from)
        for memory in spared
        if memory.id in old and old[memory.id].valid_from != memory.valid_from
    }
    users = sorted({m.user_id for m in spared if m.id in moved and m.user_id is not None})
    if not users:
        return []
    stated = yield from call_memories(*(ListRelations(tenant, user) for user in users))
    return [
        replace(relation, valid_from=moved[relation.memory_id][1])
        for relations in stated
        for relation in relations
        if relation.memory_id in moved
        and relation.valid_from is not None
        and relation.valid_from == moved[relation.memory_id][0]
    ]


def _in_session_of(metadata: Mapping[str, Any], turn: Memory) -> dict[str, Any]:
    """`metadata`, its source session (`SESSION_KEY`, if it names one) that of `turn`'s
    episode: the erased session's id is no longer where the memory came from."""
    moved = dict(metadata)
    if SESSION_KEY in moved:
        session = turn.metadata.get(SESSION_KEY) or turn.session_id
        if session is None:
            del moved[SESSION_KEY]
        else:
            moved[SESSION_KEY] = session
    return moved


def _with_orphans_erased(
    tenant: str, named: set[str], reports: Sequence[ErasureReport]
) -> Flow[ErasureReport]:
    """Erase the entities of `named` no memory or relation is left to name; return the
    sum of `reports` and of that erasure."""
    orphans = yield from _orphan_entities(tenant, named)
    if orphans:
        reports = [*reports, *(yield from call_memories(DeleteEntities(tenant, orphans)))]
    return ErasureReport(*(sum(counts) for counts in zip(*reports, strict=True)))


def _named_by(tenant: str, memories: Sequence[Memory]) -> Flow[set[str]]:
    """The entities `memories` name, or that the relations they state touch."""
    erased = {memory.id for memory in memories}
    users = sorted({memory.user_id for memory in memories if memory.user_id is not None})
    stated = yield from call_memories(*(ListRelations(tenant, user) for user in users))
    named = {entity for memory in memories for entity in memory.entity_ids}
    return named | {
        end
        for relations in stated
        for relation in relations
        if relation.memory_id in erased
        for end in (relation.source_id, relation.target_id)
    }


def _embedded_texts(
    tenant: str, memories: Sequence[Memory], *, current: bool = True
) -> Flow[list[str]]:
    """What was embedded for `memories`: their texts now (unless not `current`) and every
    text their history holds (an edit re-embeds, and the cache keeps the old text's vector)."""
    texts = [dense_text(memory) for memory in memories] if current else []
    for start in range(0, len(memories), PAGE):
        page = memories[start : start + PAGE]
        histories = yield from call_memories(*(GetHistory(tenant, m.id) for m in page))
        for memory, changes in zip(page, histories, strict=True):
            older = {c.old_text for c in changes if c.old_text and c.old_text != memory.text}
            older |= {c.new_text for c in changes if c.new_text and c.new_text != memory.text}
            texts += [dense_text(replace(memory, text=text)) for text in sorted(older)]
    return texts


def _orphan_entities(tenant: str, candidates: set[str]) -> Flow[tuple[str, ...]]:
    """The candidates no memory mentions (retired ones included) and no relation touches."""
    if not candidates:
        return ()
    [entities] = yield from call_memories(ListEntities(tenant, ids=tuple(sorted(candidates))))
    ops: list[Any] = []
    for entity in entities:
        where = MemoryFilter(
            user_id=entity.user_id, entity_ids=(entity.id,), include_superseded=True
        )
        ops += [CountMemories(tenant, where), ListRelations(tenant, entity.user_id, entity.id)]
    found = yield from call_memories(*ops)
    return tuple(
        entity.id
        for entity, mentions, relations in zip(entities, found[::2], found[1::2], strict=True)
        if mentions == 0 and not relations
    )
