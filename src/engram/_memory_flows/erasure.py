"""Erasure: of memories, or of a whole scope, with the entities only they named and what
was embedded for them; an erasure of memories or of a narrower scope than a user gives
back what the erased memories retired (`revival`)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from engram._exceptions import ConfigError, ProviderError
from engram._flows import Flow, call_memories, forget_embeddings, serialized
from engram._memory_flows import revival
from engram._memory_flows.edits import correction_flow, vector_records
from engram._memory_flows.graph import is_user, restarted
from engram._memory_flows.scope import PAGE, Scope, every_memory, lock_key
from engram.memory import fold
from engram.memory.profile import handed_over, reflect_edit
from engram.memory.texts import SESSION_KEY, dense_text
from engram.memory.timeline import with_said_at, without_sources
from engram.stores.memories import (
    CountMemories,
    DeleteEntities,
    DeleteMemories,
    DeleteScope,
    ErasureReport,
    GetHistory,
    GetMemories,
    GetProfile,
    ListEntities,
    ListRelations,
    MemoryFilter,
    PutEntities,
    PutMemories,
    PutProfile,
    PutRelations,
    VectorRecord,
)
from engram.types._memory import Entity, Memory, MemoryChange, Relation

logger = logging.getLogger("engram")

TICK = timedelta(microseconds=1)
"""The least time after another (histories are ordered by time, then by change id)."""

_WORD = re.compile(r"[^\W_]+")


class _Outside(NamedTuple):
    """What erasing a scope's memories leaves outside it (`_provenance_outside`)."""

    kept: list[Memory]
    """The scope's memories turns outside it said too, moved out of it."""
    rewritten: list[Memory]
    """Every memory to rewrite: the kept, and those outside naming turns of the scope."""
    blanked: list[Memory]
    """The memories whose history holds wordings only the scope's turns said (the spared,
    and of the others those rewritten or retired by one rewritten): `DeleteScope.spared`."""
    corrections: list[Any]
    """The ops that follow a value the erasure took back to an earlier wording (profile
    field, relation, entity: `edits.correction_flow`)."""
    unnamed: set[str]
    """The entities the rewritten no longer name (those of a wording taken back)."""
    reworded: list[Memory]
    """The rewritten taken back to an earlier wording: their vectors are of the erased one."""


def _lock_key_of(memory: Memory) -> str:
    return lock_key(memory.tenant, memory.user_id)


def erase_flow(
    tenant: str, ids: Sequence[str], reason: str, now: datetime, *, with_sources: bool = False
) -> Flow[ErasureReport]:
    """Erase memories (`DeleteMemories`), then the entities that only they gave a name to:
    those no remaining memory mentions and no remaining relation touches.

    What an erased memory retired is given back as what is left retires it (`revival`,
    as `erase_scope_flow` gives it back): "I moved to Faro" erased, "I live in Lisbon" is
    current again, with its relation and profile field.

    The turns a memory was extracted from (the episodes of its source messages) are other
    memories, kept unless `with_sources`: they are what was said, and may say more than it
    did ("I live in Porto and work at Google"), so they stay recallable as they were. With
    `with_sources` they are erased too, for the same reason (`_source_turns`): what else
    they gave stays, its provenance naming messages no longer kept."""
    reasons = dict.fromkeys(ids, reason)
    report: ErasureReport = yield from erase_each_flow(
        tenant, reasons, now, with_sources=with_sources
    )
    return report


def erase_each_flow(
    tenant: str,
    reasons: Mapping[str, str],
    now: datetime,
    *,
    give_back: bool = True,
    with_sources: bool = False,
) -> Flow[ErasureReport]:
    """`erase_flow` of memories erased for reasons of their own (memory id -> reason, which
    its tombstone keeps), in one transaction with what they give back (`_given_back`), if
    `give_back`: forgetting by policy takes nothing back ("lives in Austin" forgotten does
    not make "lives in Denver" true again), a user's erasure does. With `with_sources`, the
    turns they were extracted from go too (`_source_turns`)."""
    ids = tuple(reasons)
    [loaded] = yield from call_memories(GetMemories(tenant, ids))
    keys = {_lock_key_of(memory) for memory in loaded if memory is not None}
    if keys:  # then read them again: an add of their scope may have revised them meanwhile
        yield from serialized(*keys)
        [loaded] = yield from call_memories(GetMemories(tenant, ids))
    doomed = [memory for memory in loaded if memory is not None]
    others: list[Memory] = []
    if give_back or with_sources:
        others = yield from _others_of(tenant, doomed)
    if with_sources:
        turns = _source_turns(doomed, others, reasons)
        reasons = {**reasons, **turns}
        doomed += [memory for memory in others if memory.id in turns]
        others = [memory for memory in others if memory.id not in turns]
    # An edit that took the lock first (in another process, say) was stamped after `now`:
    # the tombstones come after it, so a history never reads "deleted, then edited".
    at = max([now, *(memory.updated_at + TICK for memory in doomed)])
    named = yield from named_by(tenant, doomed)
    texts = yield from embedded_texts(tenant, doomed)
    given_back: list[Any] = []
    if give_back:
        nothing_outside = _Outside([], [], [], [], set(), [])
        given_back = yield from _given_back(tenant, doomed, others, nothing_outside, (), at)
    by_reason: dict[str, list[str]] = {}
    for memory_id, reason in reasons.items():
        by_reason.setdefault(reason, []).append(memory_id)
    erasures = [DeleteMemories(tenant, tuple(group), why, at) for why, group in by_reason.items()]
    # What they give back first: the profile field handed over is then no erased one's.
    results = yield from call_memories(*given_back, *erasures)
    reports = results[len(given_back) :]
    yield from forget_embeddings(texts, tenant=tenant)
    report: ErasureReport = yield from with_orphans_erased(tenant, named, reports)
    return report


def erase_scope_flow(
    scope: Scope, *, model_id: Callable[[], Flow[str]], now: datetime
) -> Flow[ErasureReport]:
    """Erase every memory of a scope (`DeleteScope`: with a user alone, everything of that
    user), and drop their texts, past ones included, from the embedding cache (with a user
    alone, the user's search queries too). Erasing a narrower scope (an agent's, a
    session's), also the entities only its memories named; a memory turns outside it said
    too outlives it, worded as they worded it and with no wording only the scope said left
    in its history (`_provenance_outside`), and no history left names a message id of the
    scope's that no memory left comes from.

    A memory taken back to an earlier wording is embedded anew with the current model
    (`model_id` gives its id); if the embedder is missing or fails, it is left without one
    (`reembed` embeds it later, a search on the fly meanwhile): the erasure stands.

    A memory an erased one retired is given back as what is left retires it (`revival`):
    current again, with its relations and profile field, if the erased one was current;
    the user's entity is named as what is left names the user. Their history records it
    at `now`.

    A scope without a user (a session's, an agent's) may hold the memories of many users:
    their adds are held too, or one could write back a memory being erased (retiring it)."""
    where = scope.filter(include_superseded=True)
    keys = {scope.lock_key}
    if scope.user_id is None:
        found = yield from every_memory(scope.tenant, where)
        keys |= {_lock_key_of(memory) for memory in found}
    yield from serialized(*sorted(keys))
    memories = yield from every_memory(scope.tenant, where)
    outside = _Outside([], [], [], [], set(), [])
    named: set[str] = set()
    given_back: list[Any] = []
    restarted: list[Relation] = []
    left: list[Memory] = []
    erased_sources: set[str] = set()
    if scope.whole_user is None:  # a narrower scope: the entities only it named go too
        others = yield from _others_of(scope.tenant, memories)
        outside = yield from _provenance_outside(scope.tenant, memories, others)
        restarted = yield from _relations_restarted(scope.tenant, memories, outside.kept)
        rewritten = {memory.id: memory for memory in outside.rewritten}
        left = [rewritten.get(memory.id, memory) for memory in others] + outside.kept
        # the scope's turns no memory left comes from: no history left names them either
        erased_sources = {s for memory in memories for s in memory.source_ids}
        erased_sources -= {s for memory in left for s in memory.source_ids}
        spared = {memory.id for memory in outside.kept}
        memories = [memory for memory in memories if memory.id not in spared]
        named = yield from named_by(scope.tenant, memories)
        named |= outside.unnamed
        given_back = yield from _given_back(scope.tenant, memories, others, outside, restarted, now)
    texts = yield from embedded_texts(scope.tenant, memories)
    texts += yield from embedded_texts(scope.tenant, outside.blanked, current=False)
    op = DeleteScope(
        scope.tenant,
        scope.user_id,
        scope.agent_id,
        scope.session_id,
        spared=tuple(memory.id for memory in outside.blanked),
        unsourced=tuple(memory.id for memory in left),
        erased_sources=tuple(sorted(erased_sources)),
    )
    ops: list[Any] = []
    if outside.rewritten:  # the spared moved out of the scope first, so that `op` leaves them
        vectors = yield from _vectors_of_reworded(scope.tenant, outside, model_id)
        ops = [PutMemories(scope.tenant, tuple(outside.rewritten), vectors)]
        if restarted:
            ops.append(PutRelations(scope.tenant, tuple(restarted)))
    *_, erased = yield from call_memories(*ops, *outside.corrections, *given_back, op)
    # A user's erasure: what they searched for goes too (`EmbedCall.user_id`).
    yield from forget_embeddings(texts, tenant=scope.tenant, user_id=scope.whole_user)
    report: ErasureReport = yield from with_orphans_erased(scope.tenant, named, [erased])
    return report


def _vectors_of_reworded(
    tenant: str, outside: _Outside, model_id: Callable[[], Flow[str]]
) -> Flow[tuple[VectorRecord | None, ...]]:
    """A vector for each of `outside.rewritten` taken back to an earlier wording (the store
    drops the vector of a changed text), None for the others (theirs stay); none at all if
    the embedder is missing or fails."""
    if not outside.reworded:
        return ()
    try:
        found = yield from vector_records(tenant, outside.reworded, model_id)
    except (ProviderError, ConfigError) as exc:  # the erasure stands all the same
        logger.warning("erasure: reworded memories left without vectors: %s", exc)
        return ()
    records = dict(zip((m.id for m in outside.reworded), found, strict=True))
    return tuple(records.get(memory.id) for memory in outside.rewritten)


def _source_turns(
    memories: Sequence[Memory], others: Sequence[Memory], reasons: Mapping[str, str]
) -> dict[str, str]:
    """The turns among `others` (episodes) that `memories` were extracted from (a message of
    their provenance), each with the reason (of `reasons`, by memory id) of the memory it
    said, for its tombstone: the turn goes for the reason the memory goes."""
    why: dict[str, str] = {}  # message id -> the reason of a memory it said
    for memory in memories:
        if memory.kind != "episode":
            why.update((s, reasons[memory.id]) for s in memory.source_ids if s not in why)
    return {
        turn.id: next(why[s] for s in turn.source_ids if s in why)
        for turn in others
        if turn.kind == "episode" and not why.keys().isdisjoint(turn.source_ids)
    }


def _others_of(tenant: str, memories: Sequence[Memory]) -> Flow[list[Memory]]:
    """Every memory of the users of `memories` (of no user, for those of none), retired
    ones included, but `memories`."""
    erased = {memory.id for memory in memories}
    others: list[Memory] = []
    for user_id in sorted({memory.user_id or "" for memory in memories}):
        where = MemoryFilter(
            user_id=user_id or None, without_user=not user_id, include_superseded=True
        )
        found = yield from every_memory(tenant, where)
        others += [memory for memory in found if memory.id not in erased]
    return others


def _given_back(
    tenant: str,
    erased: Sequence[Memory],
    others: Sequence[Memory],
    outside: _Outside,
    restarted: Sequence[Relation],
    now: datetime,
) -> Flow[list[Any]]:
    """The ops that give back what the `erased` memories retired (`revival`), over what
    `outside` rewrote: the memories left (`others` as rewritten, the spared), their
    relations (as `restarted`, if they are), the profiles (the fields the reworded and the
    revived give values), the user's entity named as what is left names the user."""
    gone = {memory.id: memory for memory in erased}
    before = {memory.id: memory for memory in (*others, *outside.rewritten)}
    back = revival.revived(gone, list(before.values()), now)
    left = {**before, **{memory.id: memory for memory in back}}
    ops: list[Any] = []
    if back:
        changes = revival.revival_changes(back, list(left.values()), now)
        ops.append(PutMemories(tenant, tuple(back), (), changes))
    users = sorted({m.user_id for m in (*erased, *outside.reworded) if m.user_id is not None})
    if not users:
        return ops
    found = yield from call_memories(
        *(op for user in users for op in (ListRelations(tenant, user), ListEntities(tenant, user)))
    )
    moved = {relation.id: relation for relation in restarted}
    stated = [
        moved.get(relation.id, relation) for relations in found[::2] for relation in relations
    ]
    reopened = revival.relations_revived(stated, before, back)
    if reopened:
        ops.append(PutRelations(tenant, tuple(reopened)))
    successors = {
        erased_id: memory
        for memory in back
        if memory.is_current
        for erased_id in revival.retirers(gone, before[memory.id])
    }
    ops += yield from _profiles_revised(tenant, users, outside.reworded, successors, now)
    users_entities = [entity for entities in found[1::2] for entity in entities if is_user(entity)]
    renamed = _users_renamed(users_entities, erased, list(left.values()), now)
    if renamed:
        ops.append(PutEntities(tenant, tuple(renamed)))
    return ops


def _users_renamed(
    users: Sequence[Entity], erased: Sequence[Memory], left: Sequence[Memory], now: datetime
) -> list[Entity]:
    """The entities standing for `users` named as the memories `left` name each user, where
    the `erased` ones named them otherwise (`revival.renamed_back`)."""
    renamed = []
    for me in users:
        named = revival.renamed_back(
            me,
            [memory for memory in erased if memory.user_id == me.user_id],
            [memory for memory in left if memory.user_id == me.user_id],
            now,
        )
        if named is not None:
            renamed.append(named)
    return renamed


def _provenance_outside(
    tenant: str, memories: Sequence[Memory], outside: Sequence[Memory]
) -> Flow[_Outside]:
    """What erasing a scope's `memories` leaves of their provenance outside it: the spared
    (those turns outside the scope said too) and every memory to rewrite (the spared, and
    the memories outside the scope whose provenance names turns of it), each keeping only
    the message ids of turns outside the scope, and worded as the latest saying left
    worded it (`_reworded`). `outside` is every other memory of their users (`_others_of`).

    A slot value said in two sessions is one memory, the first session's, with the message
    ids of the second saying appended to its provenance (`revision`): erasing the first
    session spares it, moved to the session and agent of its first turn outside; erasing
    the second takes that turn's ids out of it. Which turn a message id is, its episode
    tells (one per turn, never merged across scopes): a message id no episode outside the
    scope has is taken to be the scope's, so what cannot be told apart goes with it."""
    erased = {memory.id for memory in memories}
    inside = {s for memory in memories if memory.kind == "episode" for s in memory.source_ids}
    if not any(memory.source_ids for memory in memories):
        return _Outside([], [], [], [], set(), [])
    turns: dict[str, Memory] = {}  # message id -> the episode of its turn outside the scope
    for episode in outside:
        if episode.kind == "episode":
            turns.update((s, episode) for s in episode.source_ids if s not in turns)
    gone: dict[str, set[str]] = {}  # memory id -> the message ids of its erased turns
    for memory in memories:
        lost = {s for s in memory.source_ids if s not in turns or s in inside}
        if memory.kind != "episode" and len(lost) < len(set(memory.source_ids)):
            gone[memory.id] = lost
    for memory in outside:
        if memory.kind != "episode" and inside.intersection(memory.source_ids):
            gone[memory.id] = inside
    touched = [memory for memory in (*memories, *outside) if memory.id in gone]
    # a value they retired recorded their wording in its history (`supersede`)
    touched += [m for m in outside if m.superseded_by in gone and m.id not in gone]
    result = _Outside([], [], [], [], set(), [])
    reworded = result.reworded
    for start in range(0, len(touched), PAGE):
        page = touched[start : start + PAGE]
        histories = yield from call_memories(*(GetHistory(tenant, m.id) for m in page))
        for memory, changes in zip(page, histories, strict=True):
            if memory.id not in gone:
                if _said_only_by(changes, inside, memory.text):
                    result.blanked.append(memory)
                continue
            rewritten = without_sources(memory, gone[memory.id])
            if memory.id in erased:
                first = turns[rewritten.source_ids[0]]
                rewritten = replace(
                    rewritten,
                    session_id=first.session_id,
                    agent_id=first.agent_id,
                    metadata=_in_session_of(rewritten.metadata, first),
                )
            wording = _reworded(rewritten, changes, gone[memory.id], turns)
            if wording is not rewritten:
                wording, corrections = yield from correction_flow(
                    rewritten, wording, now=memory.updated_at
                )
                # each read the profile as stored: `_profiles_reworded` writes them all
                result.corrections.extend(c for c in corrections if not isinstance(c, PutProfile))
                result.unnamed.update(set(memory.entity_ids) - set(wording.entity_ids))
                reworded.append(wording)
            result.rewritten.append(wording)
            if memory.id in erased:
                result.kept.append(wording)
            if memory.id in erased or _said_only_by(changes, gone[memory.id], wording.text):
                result.blanked.append(wording)
    return result


def _profiles_revised(
    tenant: str,
    users: Sequence[str],
    reworded: Sequence[Memory],
    successors: Mapping[str, Memory],
    now: datetime,
) -> Flow[list[PutProfile]]:
    """The `users`' profiles, each field the `reworded` memories are the sources of their
    value now (`profile.reflect_edit`, as a correction of the value), and each an erased
    memory was the source of (a key of `successors`) the value of the memory it gives back
    (`profile.handed_over`)."""
    profiles = yield from call_memories(*(GetProfile(tenant, user) for user in users))
    ops = []
    for profile in profiles:
        if profile is None:
            continue
        revised = profile
        for memory in reworded:
            if memory.user_id == profile.user_id:
                revised = reflect_edit(revised, memory, now=memory.updated_at)
        revised = handed_over(revised, successors, now=now)
        if revised is not profile:
            ops.append(PutProfile(tenant, revised))
    return ops


def _erased_saying(change: MemoryChange, gone: Collection[str]) -> bool:
    """Whether `change` recorded a saying by erased messages alone (a hand edit, of no
    messages, is the user's word and stays)."""
    return bool(change.source_ids) and set(change.source_ids) <= set(gone)


def _wordings(changes: Sequence[MemoryChange]) -> list[MemoryChange]:
    """The changes of a history that worded its memory: its add, a refinement, a saying
    again (its text kept) and a hand edit, in order."""
    return [c for c in changes if c.action in ("add", "update") and c.new_text]


def _said_only_by(changes: Sequence[MemoryChange], gone: Collection[str], text: str) -> bool:
    """Whether a history holds a wording only the erased messages `gone` said (not `text`,
    the memory's wording now): its own, or that of a value that retired it."""
    erased = {c.new_text for c in changes if c.new_text and _erased_saying(c, gone)}
    left = {c.new_text for c in changes if not _erased_saying(c, gone)}
    return bool(erased - left - {text})


def _reworded(
    memory: Memory,
    changes: Sequence[MemoryChange],
    gone: Collection[str],
    turns: Mapping[str, Memory],
) -> Memory:
    """`memory` worded as the latest saying left worded it, if an erased saying (messages
    `gone`) refined it last ("Google", then "Google Cloud": its text, `value`, source
    session and `said_at` back to the first saying's), else `memory` itself.

    A history that does not end in the memory's text (an import without it) is not read."""
    wordings = _wordings(changes)
    left = [c for c in wordings if not _erased_saying(c, gone)]
    if not wordings or not left or wordings[-1].new_text != memory.text:
        return memory
    text = left[-1].new_text
    if not _erased_saying(wordings[-1], gone) or text is None or text == memory.text:
        return memory
    metadata = dict(memory.metadata)
    value = metadata.get("value")
    if isinstance(value, str):
        earlier = _value_in(text, value)
        if earlier is None:
            del metadata["value"]
        else:
            metadata["value"] = earlier
    turn = next((turns[s] for s in left[-1].source_ids if s in turns), None)
    if turn is not None:
        metadata = _in_session_of(with_said_at(metadata, turn.recorded_at), turn)
    return replace(memory, text=text, metadata=metadata)


def _value_in(text: str, value: str) -> str | None:
    """The value `text` states, worded before it was refined to `value`: the longest run
    of its words that are all words of `value` (a refinement keeps every word of the value
    it refines: "Google" in "The user works at Google", refined to "Google Cloud"), as
    `text` spells it; None if no word of `text` is one of `value`."""
    words = {fold(word) for word in _WORD.findall(value)}
    best: tuple[int, int] | None = None
    run: tuple[int, int] | None = None
    for found in _WORD.finditer(text):
        if fold(found.group()) not in words:
            run = None
            continue
        run = (run[0] if run else found.start(), found.end())
        if best is None or run[1] - run[0] > best[1] - best[0]:
            best = run
    return text[best[0] : best[1]] if best else None


def _relations_restarted(
    tenant: str, before: Sequence[Memory], spared: Sequence[Memory]
) -> Flow[list[Relation]]:
    """The relations the `spared` state that held from their first saying, erased: each
    from when its memory holds now (`timeline.without_sources` moved its start to the
    saying left), so "as of" the graph agrees with the memory (`graph.restarted`)."""
    old = {memory.id: memory.valid_from for memory in before}
    moved = [m for m in spared if m.id in old and old[m.id] != m.valid_from]
    users = sorted({memory.user_id for memory in moved if memory.user_id is not None})
    if not users:
        return []
    stated = yield from call_memories(*(ListRelations(tenant, user) for user in users))
    return restarted((relation for relations in stated for relation in relations), moved)


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


def with_orphans_erased(
    tenant: str, named: set[str], reports: Sequence[ErasureReport]
) -> Flow[ErasureReport]:
    """Erase the entities of `named` no memory or relation is left to name; return the
    sum of `reports` and of that erasure."""
    orphans = yield from _orphan_entities(tenant, named)
    if orphans:
        reports = [*reports, *(yield from call_memories(DeleteEntities(tenant, orphans)))]
    return ErasureReport(*(sum(counts) for counts in zip(*reports, strict=True)))


def named_by(tenant: str, memories: Sequence[Memory]) -> Flow[set[str]]:
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


def embedded_texts(
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
