"""Long-term memory operations as flows (see `_flows`): add, search, consolidate, forget.

Each flow decides everything and does no I/O: it yields store batches, embedding requests
and LLM requests, and the `Memories` facade drives it sync or async.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engram._exceptions import InvalidInputError
from engram._flows import Flow, call_memories, embed, forget_embeddings, serialized
from engram.memory import (
    Candidate,
    EntityMention,
    EntityResolution,
    ExtractionBudget,
    ForgettingPolicy,
    RelationMention,
    RevisionPlan,
    bloat,
    build_relations,
    close_relations,
    extract,
    extract_entities,
    extraction_flow,
    fold,
    plan_consolidation,
    plan_flow,
    plan_forgetting,
    resolve_entities,
    update_profile,
)
from engram.memory.candidates import NO_VALUE, SLOT_RELATIONS, EntityKind
from engram.memory.consolidation import (
    Merge,
    check_threshold,
    redirected_memories,
    redirected_profile,
    redirected_relations,
)
from engram.memory.profile import overridden_by_edits, profile_value, reflect_edit
from engram.memory.ranking import (
    DEFAULT_WEIGHTS,
    RankingWeights,
    complete_dense,
    dense_text,
    lexical_query,
    rank_memories,
)
from engram.memory.revision import retired
from engram.memory.vectors import normalize
from engram.stores._memory_rules import MAX_LIMIT
from engram.stores.memories import (
    CountMemories,
    DeleteEntities,
    DeleteMemories,
    DeleteScope,
    ErasureReport,
    GetHistory,
    GetMemories,
    GetProfile,
    GetVectors,
    ListEntities,
    ListMemories,
    ListRelations,
    MemoryFilter,
    PutEntities,
    PutMemories,
    PutProfile,
    PutRelations,
    PutVectors,
    RecordAccess,
    ScanVectors,
    SearchLexical,
    SearchVector,
    VectorRecord,
)
from engram.types import Message
from engram.types._memory import Entity, Memory, MemoryChange, MemoryHit, Relation, UserProfile

__all__ = [
    "AddReport",
    "Scope",
    "add_flow",
    "bloat_flow",
    "consolidate_flow",
    "correction_flow",
    "erase_flow",
    "erase_scope_flow",
    "every_memory",
    "forget_flow",
    "lock_key",
    "reembed_flow",
    "search_flow",
]

_NEIGHBOURS = 5
"""Stored neighbours compared with each new memory during revision."""
_CANDIDATES = 50
"""Candidates each retrieval signal contributes before fusion."""


@dataclass(frozen=True, slots=True)
class Scope:
    """Who a memory is about: the tenant and a user, agent and/or session."""

    tenant: str
    user_id: str | None = None
    agent_id: str | None = None
    session_id: str | None = None

    def filter(self, **fields: Any) -> MemoryFilter:
        """The store filter of this scope, plus `fields`."""
        return MemoryFilter(
            user_id=self.user_id, agent_id=self.agent_id, session_id=self.session_id, **fields
        )

    def slot_filter(self, **fields: Any) -> MemoryFilter:
        """The store filter of the memories a slot fact is revised against: the user's,
        whatever agent or session stored them (a user has one home city, in every
        conversation); without a user, this scope's. The writes of a user serialise on the
        user alone (`lock_key`), so no other add of these memories runs meanwhile."""
        if self.user_id is None:
            return self.filter(**fields)
        return MemoryFilter(user_id=self.user_id, **fields)

    @property
    def lock_key(self) -> str:
        """What the writes of this scope serialise on (see `lock_key`)."""
        return lock_key(self.tenant, self.user_id)

    @property
    def whole_user(self) -> str | None:
        """The user, when the scope is a user alone (no agent or session): everything of the
        user (entities, relations, profile) is in scope; else None."""
        return self.user_id if self.agent_id is None and self.session_id is None else None


def lock_key(tenant: str, user_id: str | None) -> str:
    """The lock (`_flows.Serialize`) of the memory writes of a scope: its user's, whatever the
    agent or session (the profile, the entities and the slots are the user's); without a
    user, the tenant's user-less one: such scopes overlap (an agent's memories include its
    sessions') and share the entities of no user."""
    if user_id is not None:
        return repr(("memories", tenant, user_id))
    return repr(("memories", tenant, None))


def _lock_key_of(memory: Memory) -> str:
    return lock_key(memory.tenant, memory.user_id)


@dataclass(frozen=True, slots=True)
class AddReport:
    """What an `add` did."""

    added: tuple[Memory, ...]
    """New memories."""
    updated: tuple[Memory, ...]
    """Stored memories rewritten: refined, given more provenance, or superseded."""
    unchanged: int
    """Candidates that were duplicates of stored memories (their provenance was appended)."""
    llm_calls: int = 0
    """LLM calls spent on extraction and revision."""
    llm_tokens: int = 0
    """LLM tokens (prompt and reply) spent on extraction and revision."""

    @property
    def superseded(self) -> tuple[Memory, ...]:
        """The stored memories this add retired (they stay queryable "as of" before)."""
        return tuple(m for m in self.updated if m.superseded_at is not None)


def add_flow(
    scope: Scope,
    messages: Sequence[Message],
    *,
    candidates: Sequence[Candidate] = (),
    model_id: str,
    budget: ExtractionBudget,
    user_name: str | None,
    metadata: Mapping[str, Any] | None = None,
    pinned: bool = False,
    now: datetime,
) -> Flow[AddReport]:
    """Extract, embed, revise against what is stored, then write it all in one batch.

    `metadata` is merged under every new memory's own; `pinned` pins the new memories.

    What a new memory is revised against: a slot fact (a memory with an `attribute`) against
    the user's memories, whatever agent or session stored them (`Scope.slot_filter`): "I
    moved to Lisbon" in one conversation retires "I live in Porto" of another, and a slot
    value said again is a duplicate (its provenance appended to the stored memory, which
    keeps its session). Other facts and episodes are revised within the scope as given: a
    plain fact said in two sessions is kept in each (a session's search finds its own),
    and a negation of one ("I no longer ...") retires only the scope's.

    Each memory is recorded (`recorded_at`) when the first of its source messages was said
    (no later than `now`): "as of" a time between two turns of one add, the first turn's
    facts are known and the second's are not.
    """
    if messages:
        if budget.max_calls > 0:
            result = yield from extraction_flow(messages, budget=budget, user_name=user_name)
            extracted = list(result.candidates)
        else:
            extracted = extract(messages, user_name=user_name)
        candidates = [*candidates, *extracted]
        # What a conversation says is learned when it is said (replays and imports included).
        now = min(now, max(m.created_at for m in messages))
    if not candidates:
        return AddReport(added=(), updated=(), unchanged=0)
    # From the first read of what is stored to the write of what was decided from it, one
    # add of the scope at a time: two adds would each miss what the other writes.
    yield from serialized(scope.lock_key)
    profile, graph = yield from _read_user(scope, candidates)
    graph = yield from _name_user(scope, graph, _user_name(candidates, profile, user_name), now)
    entities = _resolve_entities(scope, candidates, graph, now)
    said_at = {message.id: message.created_at for message in messages}
    news = [_placed(c, scope, entities, _recorded_at(c, said_at, now)) for c in candidates]
    if metadata or pinned:
        news = [
            replace(m, metadata={**(metadata or {}), **m.metadata}, pinned=pinned or m.pinned)
            for m in news
        ]
    vectors = yield from embed([dense_text(m) for m in news])
    similar = yield from _neighbours(scope, news, vectors, model_id)
    pairwise = vectors @ vectors.T
    plan = yield from plan_flow(
        news, similar, now=now, budget=budget, pairwise=lambda i, j: float(pairwise[i, j])
    )
    plan = _under_edits(plan, profile, now)
    entities = _settled_kinds(entities, candidates, news, plan)
    vector_of = {m.id: VectorRecord(model_id, vectors[i]) for i, m in enumerate(news)}
    texts = {m.id: m.text for m in news}
    restated = [m for m in plan.inserts if m.id in texts and m.text != texts[m.id]]
    if restated:  # revision restated a guessed change in its slot's words: embed those
        fresh = yield from embed([dense_text(m) for m in restated])
        vector_of |= {m.id: VectorRecord(model_id, fresh[i]) for i, m in enumerate(restated)}
    ops: list[Any] = [
        PutMemories(
            scope.tenant,
            (*plan.inserts, *plan.updates),
            tuple(vector_of.get(m.id) for m in (*plan.inserts, *plan.updates)),
            plan.changes,
        ),
    ]
    me, relations = _relations(scope, candidates, news, plan, entities, graph, now)
    touched = (*entities.new, *entities.updated, *me)
    if touched:
        ops.append(PutEntities(scope.tenant, touched))
    if relations:
        ops.append(PutRelations(scope.tenant, tuple(relations)))
    if scope.user_id is not None:
        names = (user_name,) if user_name else ()
        fresh = update_profile(
            profile,
            (*plan.inserts, *plan.updates),
            user_id=scope.user_id,
            tenant=scope.tenant,
            names=names,
            now=now,
        )
        ops.append(PutProfile(scope.tenant, fresh))
    yield from call_memories(*ops)
    return AddReport(
        added=plan.inserts,
        updated=plan.updates,
        unchanged=len(news) - len(plan.inserts),
        llm_calls=budget.calls,
        llm_tokens=budget.tokens,
    )


def _under_edits(plan: RevisionPlan, profile: UserProfile | None, now: datetime) -> RevisionPlan:
    """`plan` with the new slot facts a later hand edit of the profile overrides retired
    (`overridden_by_edits`), each change audited."""
    overridden = overridden_by_edits(profile, plan.inserts, now=now)
    if not overridden:
        return plan
    changes = _retired_by_hand(overridden.values(), "since it was said", now)
    inserts = tuple(overridden.get(memory.id, memory) for memory in plan.inserts)
    return replace(plan, inserts=inserts, changes=(*plan.changes, *changes))


@dataclass(frozen=True, slots=True)
class _Graph:
    """The stored entities and relations a write revises (for a user: all of theirs)."""

    entities: tuple[Entity, ...] = ()
    relations: tuple[Relation, ...] = ()

    @property
    def me(self) -> Entity | None:
        """The entity standing for the user, if there is one yet."""
        return next((e for e in self.entities if e.metadata.get("user") is True), None)


def _read_user(
    scope: Scope, candidates: Sequence[Candidate]
) -> Flow[tuple[UserProfile | None, _Graph]]:
    """The user's profile and graph; without a user, no profile, and the entities of no
    user the candidates' mentions resolve against (if they mention any): an agent's memory
    never names a user's entity, which erasing the user must take."""
    if scope.user_id is None:
        if not any(candidate.entities for candidate in candidates):
            return None, _Graph()
        [known] = yield from call_memories(ListEntities(scope.tenant, None))
        return None, _Graph(tuple(entity for entity in known if entity.user_id is None))
    profile, known, stored = yield from call_memories(
        GetProfile(scope.tenant, scope.user_id),
        ListEntities(scope.tenant, scope.user_id),
        ListRelations(scope.tenant, scope.user_id),
    )
    return profile, _Graph(tuple(known), tuple(stored))


def _user_name(
    candidates: Sequence[Candidate], profile: UserProfile | None, user_name: str | None
) -> str | None:
    """The user's name: `user_name`, else the last one the candidates say the user has ("Hi,
    I'm Ana"), else the profile's."""
    said = [
        candidate.value
        for candidate in candidates
        if candidate.attribute == "name"
        and candidate.subject is None
        and candidate.value
        and fold(candidate.value) != NO_VALUE
    ]
    if user_name or said:
        return user_name or said[-1]
    return profile.fields.get("name") if profile is not None else None


def _named(entity: Entity, name: str) -> bool:
    return fold(name) in {fold(entity.name), *map(fold, entity.aliases)}


def _new_user_entity(scope: Scope, name: str | None, now: datetime) -> Entity:
    """The entity standing for the user, named after them (after their id, if unknown)."""
    return Entity(
        name=name or scope.user_id or "",
        kind="person",
        tenant=scope.tenant,
        user_id=scope.user_id,
        metadata={"user": True},
        created_at=now,
        updated_at=now,
    )


def _name_user(scope: Scope, graph: _Graph, name: str | None, now: datetime) -> Flow[_Graph]:
    """The graph once the user's entity bears the user's `name`, written at once (so this
    add's mentions of the name resolve to the user).

    The entity is created, or renamed; or, while it is unnamed (named after the user's id)
    or absent, an entity of that name mentioned before the name was known ("Nice to meet
    you, Ana") becomes the user's, absorbing the unnamed one: one Ana, not two.
    """
    if scope.user_id is None or not name:
        return graph
    me = graph.me
    namesake = next(
        (
            entity
            for entity in graph.entities
            if entity is not me and entity.kind in ("person", "other") and _named(entity, name)
        ),
        None,
    )
    if namesake is not None and (me is None or me.name == scope.user_id):
        adopted = yield from _adopt(scope, graph, namesake, me, now)
        return adopted
    if me is not None and me.name == name:
        return graph
    if me is None:
        named = _new_user_entity(scope, name, now)
    else:
        named = replace(me, name=name, updated_at=now)
    yield from call_memories(PutEntities(scope.tenant, (named,)))
    others = tuple(entity for entity in graph.entities if entity is not me)
    return replace(graph, entities=(*others, named))


def _adopt(
    scope: Scope, graph: _Graph, namesake: Entity, unnamed: Entity | None, now: datetime
) -> Flow[_Graph]:
    """Make `namesake` the user's entity; the `unnamed` one, if any, is merged into it: its
    relations and the memories naming it move over, then it is deleted."""
    metadata = {**namesake.metadata, "user": True}
    me = replace(namesake, kind="person", metadata=metadata, updated_at=now)
    ops: list[Any] = [PutEntities(scope.tenant, (me,))]
    relations = graph.relations
    if unnamed is not None:
        relations = tuple(
            _relation_moved(relation, unnamed.id, me.id) for relation in graph.relations
        )
        moved = tuple(
            new for new, old in zip(relations, graph.relations, strict=True) if new != old
        )
        where = MemoryFilter(
            user_id=scope.user_id, entity_ids=(unnamed.id,), include_superseded=True
        )
        naming = yield from every_memory(scope.tenant, where)
        renamed = tuple(_memory_moved(memory, unnamed.id, me.id) for memory in naming)
        if moved:
            ops.append(PutRelations(scope.tenant, moved))
        if renamed:
            ops.append(PutMemories(scope.tenant, renamed))
        ops.append(DeleteEntities(scope.tenant, (unnamed.id,)))
    yield from call_memories(*ops)
    entities = tuple(
        me if entity.id == me.id else entity
        for entity in graph.entities
        if unnamed is None or entity.id != unnamed.id
    )
    return _Graph(entities, relations)


def _memory_moved(memory: Memory, old_id: str, new_id: str) -> Memory:
    """`memory` naming the entity `new_id` instead of `old_id`."""
    ids = dict.fromkeys(
        new_id if entity_id == old_id else entity_id for entity_id in memory.entity_ids
    )
    return replace(memory, entity_ids=tuple(ids))


def _relation_moved(relation: Relation, old_id: str, new_id: str) -> Relation:
    """`relation` with the entity `old_id` replaced by `new_id` at either end."""
    source = new_id if relation.source_id == old_id else relation.source_id
    target = new_id if relation.target_id == old_id else relation.target_id
    if (source, target) == (relation.source_id, relation.target_id):
        return relation
    return replace(relation, source_id=source, target_id=target)


def _mentions(candidates: Sequence[Candidate]) -> list[EntityMention]:
    """The candidates' entity mentions, the surest kinds first (the first mention of a name
    decides the kind of an entity it creates): the objects of relations, whose kinds the
    relations state ("my cat Miso" is no person, whatever "named Miso" suggests); the rules'
    slot values ("Google" of "I work at Google" is an organisation, even if the turn's
    mentions guess it a place, "from Google to Meta"); then the rest, kinds guessed from
    cue words."""
    stated = [
        EntityMention(relation.object, relation.object_kind)
        for candidate in candidates
        for relation in candidate.relations
    ]
    slots = [m for c in candidates if c.attribute is not None for m in c.entities]
    guessed = [m for c in candidates if c.attribute is None for m in c.entities]
    return [*stated, *slots, *guessed]


def _resolve_entities(
    scope: Scope, candidates: Sequence[Candidate], graph: _Graph, now: datetime
) -> EntityResolution:
    """The candidates' mentions resolved against the stored entities. A stored relation's
    object keeps its kind: the relation stated it ("my cat Miso"), a later turn's cue words
    only guess ("I played with Miso": a person?)."""
    resolution = resolve_entities(
        _mentions(candidates), graph.entities, tenant=scope.tenant, user_id=scope.user_id, now=now
    )
    stored = {entity.id: entity for entity in graph.entities}
    objects = {relation.target_id for relation in graph.relations}
    updated: list[Entity] = []
    for entity in resolution.updated:
        old = stored[entity.id]
        if entity.id in objects and entity.kind != old.kind:
            entity = replace(entity, kind=old.kind)
        if (entity.name, entity.kind, entity.aliases) != (old.name, old.kind, old.aliases):
            updated.append(entity)
    return replace(resolution, updated=tuple(updated))


def _relations(
    scope: Scope,
    candidates: Sequence[Candidate],
    news: Sequence[Memory],
    plan: Any,
    entities: EntityResolution,
    graph: _Graph,
    now: datetime,
) -> tuple[tuple[Entity, ...], list[Relation]]:
    """The relations the inserted memories state (ended with them, if this add already
    retired them), and the open ones of the memories this add supersedes, ended; with the
    entity standing for the user, if it is new."""
    if scope.user_id is None:
        return (), []
    inserted = {memory.id: memory for memory in plan.inserts}
    stated = [
        (inserted[m.id], c.relations or _slot_relation(c, inserted[m.id]))
        for c, m in zip(candidates, news, strict=True)
        if m.id in inserted
    ]
    stated = [(memory, mentions) for memory, mentions in stated if mentions]
    retired = [m for m in plan.updates if m.superseded_at is not None]
    relations = [
        ended
        for memory in retired
        for ended in close_relations(graph.relations, [memory.id], memory.valid_to or now)
    ]
    if not stated:
        return (), relations
    me = graph.me or _new_user_entity(scope, None, now)
    for memory, mentions in stated:
        built = build_relations(
            mentions,
            entities.ids,
            user_entity_id=me.id,
            memory_id=memory.id,
            tenant=scope.tenant,
            user_id=scope.user_id,
        )
        relations += [_while_true(relation, memory) for relation in built]
    return (() if graph.me else (me,)), relations


def _while_true(relation: Relation, memory: Memory) -> Relation:
    """`relation` ending when the memory stating it does (a memory superseded in the add
    that inserts it, or history from the start, states an ended relation)."""
    if memory.valid_to is None or relation.valid_to is not None:
        return relation
    return replace(relation, valid_to=memory.valid_to)


def _settled_kinds(
    entities: EntityResolution, candidates: Sequence[Candidate], news: Sequence[Memory], plan: Any
) -> EntityResolution:
    """The entities a guessed change named ("I left Paris for Rome": a job or a home?) and
    this add created, of the kind of the slot revision filed the change under, or `other`."""
    filed = {memory.id: memory.attribute for memory in plan.inserts}
    kinds: dict[str, EntityKind] = {}
    for candidate, memory in zip(candidates, news, strict=True):
        if candidate.metadata.get("guessed") and memory.id in filed:
            slot = SLOT_RELATIONS.get(filed[memory.id] or "")
            for mention in candidate.entities:
                entity_id = entities.ids.get(fold(mention.name))
                if entity_id is not None:
                    kinds[entity_id] = slot[1] if slot else "other"
    if not kinds:
        return entities
    new = tuple(replace(e, kind=kinds.get(e.id, e.kind)) for e in entities.new)
    return replace(entities, new=new)


def _slot_relation(candidate: Candidate, memory: Memory) -> tuple[RelationMention, ...]:
    """The relation of a guessed change ("I switched from Google to Meta") once revision has
    filed it under a slot (`employer`: works_at Meta); none if it stayed a plain fact."""
    if not candidate.metadata.get("guessed") or memory.attribute not in SLOT_RELATIONS:
        return ()
    relation, kind = SLOT_RELATIONS[memory.attribute]
    value = candidate.value or ""
    return (RelationMention(candidate.subject, relation, value, kind, memory.valid_from),)


def _recorded_at(candidate: Candidate, said_at: Mapping[str, datetime], now: datetime) -> datetime:
    """When a candidate was learned: when the first of its source messages was said (a
    fact said twice in one add was known from the first time), no later than `now`; `now`
    if no message of the add is its source."""
    return min([now, *(said_at[s] for s in candidate.source_ids if s in said_at)])


def _placed(candidate: Candidate, scope: Scope, entities: Any, recorded_at: datetime) -> Memory:
    ids = tuple(
        dict.fromkeys(
            entities.ids[key]
            for key in (fold(e.name) for e in candidate.entities)
            if key in entities.ids
        )
    )
    return candidate.to_memory(
        tenant=scope.tenant,
        user_id=scope.user_id,
        agent_id=scope.agent_id,
        session_id=scope.session_id,
        entity_ids=ids,
        now=recorded_at,
    )


def _neighbours(
    scope: Scope, news: Sequence[Memory], vectors: NDArray[np.float32], model_id: str
) -> Flow[list[list[tuple[Memory, float]]]]:
    """For each new memory: its nearest stored memories of its kind group, plus the current
    holders of its slot (cosine 0 if not near), so contradictions are always seen; for a
    slot fact, among the user's memories (`Scope.slot_filter`), else within the scope."""
    ops: list[Any] = []
    for memory, vector in zip(news, vectors, strict=True):
        kinds = ("episode",) if memory.kind == "episode" else _FACT_KINDS
        where = scope.slot_filter(kinds=kinds) if memory.attribute else scope.filter(kinds=kinds)
        ops.append(SearchVector(scope.tenant, vector, model_id, where, _NEIGHBOURS))
    slots = sorted({m.attribute for m in news if m.attribute})
    if slots:
        where = scope.slot_filter(attributes=tuple(slots))
        ops.append(ListMemories(scope.tenant, where, limit=1000))
    results = yield from call_memories(*ops)
    holders: list[Memory] = results[len(news)] if slots else []
    ids = sorted({score.memory_id for found in results[: len(news)] for score in found})
    stored = {}
    if ids:
        [loaded] = yield from call_memories(GetMemories(scope.tenant, tuple(ids)))
        stored = {m.id: m for m in loaded if m is not None}
    similar: list[list[tuple[Memory, float]]] = []
    for memory, found in zip(news, results[: len(news)], strict=True):
        near = [(stored[s.memory_id], s.score) for s in found if s.memory_id in stored]
        seen = {m.id for m, _ in near}
        near += [(h, 0.0) for h in holders if h.attribute == memory.attribute and h.id not in seen]
        similar.append(near)
    return similar


_FACT_KINDS = ("fact", "preference", "profile", "event", "summary")


def search_flow(
    scope: Scope,
    query: str,
    *,
    model_id: str,
    limit: int,
    filter_fields: dict[str, Any],
    weights: RankingWeights = DEFAULT_WEIGHTS,
    now: datetime,
    accessed_at: datetime | None = None,
) -> Flow[list[MemoryHit]]:
    """Hybrid search: exact dense and BM25 candidates under the filter, fused and explained.

    `now` is the time ranked from (the `as_of` time of a search of the past); the hits are
    recorded as accessed at `accessed_at` (default: `now`)."""
    if not query.strip():
        raise InvalidInputError("the search query is empty")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= MAX_LIMIT:
        raise InvalidInputError(f"limit must be an integer within 1..{MAX_LIMIT}, got {limit!r}")
    vectors = yield from embed([query])
    # Retired memories are candidates too: they mark the episodes that state only retired
    # values (`ranking.stale_episodes`), then leave the results (`current_only`).
    now_only = filter_fields.get("as_of") is None and filter_fields.get("valid_at") is None
    where = scope.filter(**{**filter_fields, "include_superseded": True})
    pool = min(MAX_LIMIT, max(_CANDIDATES, limit * 3))
    # The entities the query names, looked up by name and alias among the user's.
    named = list({fold(m.name): m.name for m in extract_entities(query)}.items())
    lookups = [ListEntities(scope.tenant, scope.user_id, name) for _, name in named]
    dense, lexical, *known = yield from call_memories(
        SearchVector(scope.tenant, vectors[0], model_id, where, pool),
        SearchLexical(scope.tenant, lexical_query(query), where, pool),
        *(lookups if scope.user_id is not None else ()),
    )
    query_entities = [
        frozenset({key, *(entity.id for entity in entities)})
        for (key, _), entities in zip(named, known or [[] for _ in named], strict=True)
    ]
    ids = tuple(dict.fromkeys([s.memory_id for s in dense] + [s.memory_id for s in lexical]))
    if not ids:
        return []
    # Lexical candidates outside the dense top `pool` get their true cosine, not 0.
    missing = ids[len({s.memory_id for s in dense}) :]
    ops: list[Any] = [GetMemories(scope.tenant, ids)]
    if missing:
        ops.append(GetVectors(scope.tenant, missing, model_id))
    loaded, *found = yield from call_memories(*ops)
    memories = {m.id: m for m in loaded if m is not None}
    dense_scores = [(s.memory_id, s.score) for s in dense]
    if found:
        stored = {i: v for i, v in zip(missing, found[0], strict=True) if i in memories}
        # No vector of this model: embedded by another one (`reembed_flow` stores new ones).
        unembedded = [i for i, v in stored.items() if v is None]
        if unembedded:
            fresh = yield from embed([dense_text(memories[i]) for i in unembedded])
            stored.update(zip(unembedded, fresh, strict=True))
        query_vector = normalize(vectors[0])
        cosines = [(i, float(v @ query_vector)) for i, v in stored.items()]
        dense_scores = complete_dense(dense_scores, cosines)
    hits = rank_memories(
        memories,
        dense_scores,
        [(s.memory_id, s.score) for s in lexical],
        query=query,
        query_entities=query_entities,
        now=now,
        weights=weights,
        limit=limit,
        current_only=now_only,
    )
    if hits:
        accessed = tuple(hit.memory.id for hit in hits)
        yield from call_memories(RecordAccess(scope.tenant, accessed, accessed_at or now))
    return hits


def consolidate_flow(
    scope: Scope, *, model_id: str, threshold: float, now: datetime
) -> Flow[tuple[int, ErasureReport | None]]:
    """Merge near-duplicate current memories of the scope (all provenance kept).

    What pointed at a merged-away memory (a retired memory's `superseded_by`, a relation, a
    profile field's source) points at the memory it merged into, in the batch that erases
    it: erasing it would otherwise take the relation and the profile field along."""
    check_threshold(threshold)
    yield from serialized(scope.lock_key)
    where = scope.filter(kinds=_FACT_KINDS)
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
    user's retired memories it superseded, the relations it states, the profile fields
    taken from it (`engram.memory.consolidation.redirected_*`)."""
    retired = yield from every_memory(scope.tenant, scope.filter(include_superseded=True))
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
    """The share of the scope's current memories (of `kinds`; default: those
    `consolidate_flow` merges) that are redundant near-duplicates (`engram.memory.bloat`)."""
    check_threshold(threshold)
    where = scope.filter(kinds=tuple(kinds) or _FACT_KINDS)
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
        fresh = yield from embed([dense_text(memories[index]) for index in missing])
        for index, vector in zip(missing, fresh, strict=True):
            found[index] = vector
    return [vector for vector in found if vector is not None]


_PAGE = 10_000
"""Memories read per store batch when a flow needs all of a scope's."""


def every_memory(tenant: str, where: MemoryFilter) -> Flow[list[Memory]]:
    """Every memory `where` selects, oldest first, read a page at a time."""
    memories: list[Memory] = []
    while True:
        [page] = yield from call_memories(
            ListMemories(tenant, where, limit=_PAGE, offset=len(memories), order="oldest")
        )
        memories.extend(page)
        if len(page) < _PAGE:
            return memories


def forget_flow(
    scope: Scope, policy: ForgettingPolicy, *, now: datetime
) -> Flow[ErasureReport | None]:
    """Erase what `policy` forgets in the scope (pinned memories are exempt by default)."""
    yield from serialized(scope.lock_key)
    memories = yield from every_memory(scope.tenant, scope.filter(include_superseded=True))
    doomed = plan_forgetting(memories, policy, now)
    if not doomed:
        return None
    reasons = sorted({f.reason for f in doomed})
    ids = tuple(f.memory_id for f in doomed)
    report = yield from erase_flow(scope.tenant, ids, "; ".join(reasons), now)
    return report


def erase_flow(tenant: str, ids: Sequence[str], reason: str, now: datetime) -> Flow[ErasureReport]:
    """Erase memories (`DeleteMemories`), then the entities that only they gave a name to:
    those no remaining memory mentions and no remaining relation touches."""
    [loaded] = yield from call_memories(GetMemories(tenant, tuple(ids)))
    keys = {_lock_key_of(memory) for memory in loaded if memory is not None}
    if keys:  # then read them again: an add of their scope may have revised them meanwhile
        yield from serialized(*keys)
        [loaded] = yield from call_memories(GetMemories(tenant, tuple(ids)))
    doomed = [memory for memory in loaded if memory is not None]
    named = yield from _named_by(tenant, doomed)
    texts = yield from _embedded_texts(tenant, doomed)
    [report] = yield from call_memories(DeleteMemories(tenant, tuple(ids), reason, now))
    yield from forget_embeddings(texts)
    result: ErasureReport = report
    orphans = yield from _orphan_entities(tenant, named)
    if orphans:
        [gone] = yield from call_memories(DeleteEntities(tenant, orphans))
        result = result._replace(
            entities=result.entities + gone.entities, relations=result.relations + gone.relations
        )
    return result


def erase_scope_flow(scope: Scope) -> Flow[ErasureReport]:
    """Erase every memory of a scope (`DeleteScope`: with a user alone, everything of that
    user), and drop their texts, past ones included, from the embedding cache. Erasing a
    narrower scope (an agent's, a session's), also the entities only its memories named."""
    yield from serialized(scope.lock_key)
    memories = yield from every_memory(scope.tenant, scope.filter(include_superseded=True))
    texts = yield from _embedded_texts(scope.tenant, memories)
    named: set[str] = set()
    if scope.whole_user is None:  # a narrower scope: the entities only it named go too
        named = yield from _named_by(scope.tenant, memories)
    op = DeleteScope(scope.tenant, scope.user_id, scope.agent_id, scope.session_id)
    [report] = yield from call_memories(op)
    yield from forget_embeddings(texts)
    result: ErasureReport = report
    orphans = yield from _orphan_entities(scope.tenant, named)
    if orphans:
        [gone] = yield from call_memories(DeleteEntities(scope.tenant, orphans))
        result = result._replace(
            entities=result.entities + gone.entities, relations=result.relations + gone.relations
        )
    return result


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


def _embedded_texts(tenant: str, memories: Sequence[Memory]) -> Flow[list[str]]:
    """What was embedded for `memories`: their texts now and every text their history
    holds (an edit re-embeds, and the cache keeps the old text's vector)."""
    texts = [dense_text(memory) for memory in memories]
    for start in range(0, len(memories), _PAGE):
        page = memories[start : start + _PAGE]
        histories = yield from call_memories(*(GetHistory(tenant, m.id) for m in page))
        for memory, changes in zip(page, histories, strict=True):
            older = {c.old_text for c in changes if c.old_text and c.old_text != memory.text}
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


def edited(memory: Memory, *, text: str | None, now: datetime, **fields: Any) -> Memory:
    """A memory after a user edit (text and/or importance, metadata, pinned). `metadata` is
    merged into the memory's: a key given None is removed, the keys not given are kept. A
    slot fact's new text that changes only its value ("The user lives in Porto" -> "... in
    Madrid") gives the slot its new value, unless `metadata` names one."""
    changes = {k: v for k, v in fields.items() if v is not None}
    if "metadata" in changes:
        merged = {**memory.metadata, **changes["metadata"]}
        changes["metadata"] = {key: value for key, value in merged.items() if value is not None}
    if text is not None:
        if not text.strip():
            raise InvalidInputError("a memory's text cannot be empty")
        changes["text"] = text
        given = fields.get("metadata") or {}
        value = memory.metadata.get("value")
        if memory.attribute and "value" not in given and isinstance(value, str):
            read = _value_in(text, memory.text, value)
            if read is not None:
                changes["metadata"] = {**changes.get("metadata", memory.metadata), "value": read}
    return replace(memory, updated_at=now, **changes)


def _value_in(text: str, old_text: str, value: str) -> str | None:
    """The value `text` states where `old_text` stated `value`, all else alike; None if the
    two differ elsewhere, if `old_text` does not state `value`, or if the new words still
    hold it ("Porto, Portugal" details Porto, it names no other city)."""
    at = old_text.find(value)
    if at < 0 or not value:
        return None
    before, after = old_text[:at], old_text[at + len(value) :]
    if not (text.startswith(before) and text.endswith(after)):
        return None
    read = text[len(before) : len(text) - len(after)].strip()
    return read if read and fold(value) not in fold(read) else None


def correction_flow(old: Memory, new: Memory, *, now: datetime) -> Flow[tuple[Memory, list[Any]]]:
    """What else a user's edit of a memory changes: an edit of a slot value is a correction.

    The profile field the memory is the source of takes the new value (`reflect_edit`). The
    relation the memory states (`SLOT_RELATIONS`: `lives_in` for `home_city`) points at the
    new value's entity, resolved or created as an add would, over the same validity: the
    old value was never true, so its relation is rewritten, not ended (a value `none`
    ends it now). The memory names the new value's entity instead of the old one's.

    Returns:
        The memory to store, and the ops to write in the same batch.
    """
    if new.user_id is None or new.attribute is None or profile_value(new) == profile_value(old):
        return new, []
    scope = Scope(new.tenant, new.user_id)
    profile, graph = yield from _read_user(scope, ())
    ops: list[Any] = []
    if profile is not None:
        revised = reflect_edit(profile, new, now=now)
        if revised is not profile:
            ops.append(PutProfile(scope.tenant, revised))
    value = new.metadata.get("value")
    if new.attribute in SLOT_RELATIONS and isinstance(value, str) and value.strip():
        new, restated = _restated(scope, old, new, value, graph, now)
        ops += restated
    return new, ops


def profile_edit_flow(
    scope: Scope, fields: Mapping[str, str | None], *, now: datetime
) -> Flow[list[Any]]:
    """What a hand edit of profile fields retires, as ops to write with the profile.

    The current slot facts of an edited field whose value the edit drops are retired now (not
    deleted: "as of" an earlier time they still answer), and the relations they state end
    now; else one prompt would hold the edited field and the fact it replaced ("home city:
    Braga", "The user lives in Porto"), and search would keep finding the old value.
    """
    where = MemoryFilter(user_id=scope.user_id, attributes=tuple(sorted(fields)))
    facts = yield from every_memory(scope.tenant, where)
    stale = [m for m in facts if m.kind != "episode" and _edit_drops(m, fields)]
    if not stale:
        return []
    [relations] = yield from call_memories(ListRelations(scope.tenant, scope.user_id))
    ended = tuple(retired(m, end=m.valid_to or now, now=now) for m in stale)
    closed = [r for m in ended for r in close_relations(relations, [m.id], m.valid_to or now)]
    changes = _retired_by_hand(stale, "", now)
    ops: list[Any] = [PutMemories(scope.tenant, ended, (), changes)]
    return [*ops, PutRelations(scope.tenant, tuple(closed))] if closed else ops


def _retired_by_hand(
    memories: Iterable[Memory], when: str, now: datetime
) -> tuple[MemoryChange, ...]:
    """The audit entries of slot facts a hand edit of their profile field retired."""
    return tuple(
        MemoryChange(
            memory.id,
            "supersede",
            old_text=memory.text,
            new_text=memory.text,
            reason=" ".join(f"profile field {memory.attribute} edited by hand {when}".split()),
            tenant=memory.tenant,
            at=now,
        )
        for memory in memories
    )


def _edit_drops(memory: Memory, fields: Mapping[str, str | None]) -> bool:
    """Whether the edit of `fields` drops the slot value `memory` states."""
    value = fields[memory.attribute or ""]
    return value is None or fold(profile_value(memory)) != fold(value)


def _restated(
    scope: Scope, old: Memory, new: Memory, value: str, graph: _Graph, now: datetime
) -> tuple[Memory, list[Any]]:
    """The slot relation of `new` (edited from `old`) pointing at its new `value` (see
    `correction_flow`): the memory naming the value's entity, and the ops to write."""
    relation, kind = SLOT_RELATIONS[new.attribute or ""]
    stated = [r for r in graph.relations if r.memory_id == new.id and r.relation == relation]
    before = old.metadata.get("value")
    dropped = {r.target_id for r in stated}
    if isinstance(before, str) and before.strip():
        dropped |= {entity.id for entity in graph.entities if _named(entity, before)}
    kept = tuple(entity_id for entity_id in new.entity_ids if entity_id not in dropped)
    if fold(value) == NO_VALUE:
        ended = tuple(
            replace(r, valid_to=max(now, r.valid_from or now)) for r in stated if r.valid_to is None
        )
        corrected = replace(
            new, entity_ids=kept, metadata=_value_entities(new.metadata, before, None)
        )
        return corrected, [PutRelations(scope.tenant, ended)] if ended else []
    mention = EntityMention(value, kind)
    entities = resolve_entities(
        [mention], graph.entities, tenant=scope.tenant, user_id=scope.user_id, now=now
    )
    target = entities.ids[fold(value)]
    touched = [*entities.new, *entities.updated]
    relations = [replace(r, target_id=target) for r in stated]
    if not stated and new.metadata.get("subject") is None:
        me = graph.me or _new_user_entity(scope, None, now)
        touched += [] if graph.me else [me]
        relations = [_user_relation(me, relation, target, new)]
    corrected = replace(
        new,
        entity_ids=tuple(dict.fromkeys((*kept, target))),
        metadata=_value_entities(new.metadata, before, value),
    )
    ops: list[Any] = [PutEntities(scope.tenant, tuple(touched))] if touched else []
    if relations:
        ops.append(PutRelations(scope.tenant, tuple(relations)))
    return corrected, ops


def _user_relation(me: Entity, relation: str, target_id: str, memory: Memory) -> Relation:
    """The relation of the user to an entity that `memory` states, true while it is."""
    stated = Relation(
        source_id=me.id,
        relation=relation,
        target_id=target_id,
        tenant=memory.tenant,
        user_id=memory.user_id,
        memory_id=memory.id,
        valid_from=memory.valid_from,
    )
    return _while_true(stated, memory)


def _value_entities(metadata: Mapping[str, Any], before: Any, value: str | None) -> dict[str, Any]:
    """`metadata` whose entity names (`entities`, if listed) name `value` (if any) instead
    of `before`."""
    names = metadata.get("entities")
    if not isinstance(names, list):
        return dict(metadata)
    old = fold(before) if isinstance(before, str) else None
    kept = [name for name in names if not isinstance(name, str) or fold(name) != old]
    return {**metadata, "entities": list(dict.fromkeys([*kept, *([value] if value else [])]))}
