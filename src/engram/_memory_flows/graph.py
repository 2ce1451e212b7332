"""The user's entity graph as the memory flows read and revise it: the entity standing
for the user, the entities an add's mentions resolve to, and the relations memories state."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from engram._flows import Flow, call_memories
from engram._memory_flows.scope import Scope, every_memory
from engram.memory import (
    Candidate,
    EntityMention,
    EntityResolution,
    RelationMention,
    build_relations,
    close_relations,
    fold,
    resolve_entities,
)
from engram.memory.candidates import SLOT_RELATIONS, EntityKind
from engram.memory.profile import EDITED, TO_COME, begun, update_profile
from engram.stores.memories import (
    DeleteEntities,
    GetMemories,
    GetProfile,
    ListEntities,
    ListMemories,
    ListRelations,
    MemoryFilter,
    PutEntities,
    PutMemories,
    PutRelations,
)
from engram.types._memory import Entity, Memory, Relation, UserProfile


@dataclass(frozen=True, slots=True)
class Graph:
    """The stored entities and relations a write revises (for a user: all of theirs)."""

    entities: tuple[Entity, ...] = ()
    relations: tuple[Relation, ...] = ()

    @property
    def me(self) -> Entity | None:
        """The entity standing for the user, if there is one yet."""
        return next((e for e in self.entities if is_user(e)), None)


USER_MARK = "user"
"""The metadata key (set to True) of the entity standing for the user."""


def is_user(entity: Entity) -> bool:
    """Whether `entity` stands for the user (not someone they mention)."""
    return entity.metadata.get(USER_MARK) is True


def read_user(
    scope: Scope, candidates: Sequence[Candidate], *, now: datetime
) -> Flow[tuple[UserProfile | None, Graph]]:
    """The user's profile, caught up to `now` (`profile.caught_up`: a job said to start
    next month that has started is the employer), and graph; without a user, no profile,
    and the entities of no user the candidates' mentions resolve against (if they mention
    any): an agent's memory never names a user's entity, which erasing the user must take."""
    if scope.user_id is None:
        if not any(candidate.entities for candidate in candidates):
            return None, Graph()
        [known] = yield from call_memories(ListEntities(scope.tenant, None))
        return None, Graph(tuple(entity for entity in known if entity.user_id is None))
    profile, known, stored, to_come = yield from call_memories(
        GetProfile(scope.tenant, scope.user_id),
        ListEntities(scope.tenant, scope.user_id),
        ListRelations(scope.tenant, scope.user_id),
        values_to_come(scope.tenant, scope.user_id),
    )
    profile = yield from caught_up(scope.tenant, profile, to_come, now=now, names=user_names(known))
    return profile, Graph(tuple(known), tuple(stored))


def caught_up(
    tenant: str,
    profile: UserProfile | None,
    to_come: Sequence[Memory],
    *,
    now: datetime,
    names: Sequence[str],
) -> Flow[UserProfile | None]:
    """`profile` as stored, with the values to come (`values_to_come`) that have begun by
    `now` folded in (`profile.begun`, `update_profile`), and the values of their fields it
    held, which they retired (read only then): the job said to start next month is the
    employer once started, the old one gone. The same profile if none has begun."""
    if profile is None:
        return None
    started = begun(profile, to_come, now)
    if not started:
        return profile
    ids = {profile.sources.get(m.attribute or "") for m in started} - {None, EDITED}
    [held] = yield from call_memories(GetMemories(tenant, tuple(sorted(filter(None, ids)))))
    values = [*(m for m in held if m is not None), *started]
    return update_profile(profile, values, names=names, now=profile.updated_at, moment=now)


def values_to_come(tenant: str, user_id: str) -> ListMemories:
    """The read of the user's slot values to come (`profile.TO_COME`: employer Google from
    next month), which `profile.caught_up` folds into the stored profile once begun."""
    return ListMemories(tenant, MemoryFilter(user_id=user_id, kinds=("profile",), metadata=TO_COME))


def user_names(known: Iterable[Entity]) -> list[str]:
    """The names of the entity standing for the user, among `known` (its aliases too)."""
    return [name for entity in known if is_user(entity) for name in (entity.name, *entity.aliases)]


def is_named(entity: Entity, name: str) -> bool:
    return fold(name) in {fold(entity.name), *map(fold, entity.aliases)}


def new_user_entity(scope: Scope, name: str | None, now: datetime) -> Entity:
    """The entity standing for the user, named after them (after their id, if unknown)."""
    return Entity(
        name=name or scope.user_id or "",
        kind="person",
        tenant=scope.tenant,
        user_id=scope.user_id,
        metadata={USER_MARK: True},
        created_at=now,
        updated_at=now,
    )


def name_user(scope: Scope, graph: Graph, name: str | None, now: datetime) -> Flow[Graph]:
    """The graph once the user's entity bears the user's `name`, written at once (so this
    add's mentions of the name resolve to the user).

    The entity is created, or renamed (a name it had stays an alias: after "Actually, call
    me Annie", a search naming Ana is still about the user); or, while it is unnamed (named
    after the user's id) or absent, an entity of that name mentioned before the name was
    known ("Nice to meet you, Ana") becomes the user's, absorbing the unnamed one: one Ana,
    not two.
    """
    if scope.user_id is None or not name:
        return graph
    me = graph.me
    namesake = next(
        (
            entity
            for entity in graph.entities
            if entity is not me and entity.kind in ("person", "other") and is_named(entity, name)
        ),
        None,
    )
    if namesake is not None and (me is None or me.name == scope.user_id):
        adopted = yield from _adopt(scope, graph, namesake, me, now)
        return adopted
    if me is not None and me.name == name:
        return graph
    if me is None:
        named = new_user_entity(scope, name, now)
    else:
        was = () if me.name == scope.user_id else (me.name,)
        kept = [alias for alias in (*me.aliases, *was) if fold(alias) != fold(name)]
        aliases = tuple({fold(alias): alias for alias in kept}.values())
        named = replace(me, name=name, aliases=aliases, updated_at=now)
    yield from call_memories(PutEntities(scope.tenant, (named,)))
    others = tuple(entity for entity in graph.entities if entity is not me)
    return replace(graph, entities=(*others, named))


def _adopt(
    scope: Scope, graph: Graph, namesake: Entity, unnamed: Entity | None, now: datetime
) -> Flow[Graph]:
    """Make `namesake` the user's entity; the `unnamed` one, if any, is merged into it: its
    relations and the memories naming it move over, then it is deleted."""
    metadata = {**namesake.metadata, USER_MARK: True}
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
    return Graph(entities, relations)


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


def resolve_mentions(
    scope: Scope, candidates: Sequence[Candidate], graph: Graph, now: datetime
) -> EntityResolution:
    """The candidates' mentions resolved against the stored entities, none merged by a first
    or last name into an entity the user relates to otherwise ("my sister Maria" is not "my
    boss Maria Keller"). A stored relation's object keeps its kind: the relation stated it
    ("my cat Miso"), a later turn's cue words only guess ("I played with Miso": a person?).
    Any other place or organisation a relation now names takes the kind it states (cue words
    confuse the two): "I work at Globex" makes an organisation of the "Globex" guessed a
    place from "lunch at Globex"; a person is not retyped so. A person renamed
    by a longer name keeps the name memories about them are filed under (`FILED_AS`)."""
    me = graph.me
    roles: dict[str, set[str]] = {}
    for relation in graph.relations:
        if me is not None and relation.source_id == me.id:
            roles.setdefault(relation.target_id, set()).add(relation.relation)
    stated: dict[str, set[str]] = {}
    for candidate in candidates:
        for mention in candidate.relations:
            if mention.subject is None:
                stated.setdefault(fold(mention.object), set()).add(mention.relation)
    resolution = resolve_entities(
        _mentions(candidates),
        graph.entities,
        tenant=scope.tenant,
        user_id=scope.user_id,
        now=now,
        roles=roles,
        stated_roles=stated,
    )
    stored = {entity.id: entity for entity in graph.entities}
    objects = {relation.target_id for relation in graph.relations}
    kinds = _stated_kinds(candidates, resolution)
    changed = {entity.id: entity for entity in resolution.updated}
    updated: list[Entity] = []
    for entity_id in [i for i in stored if i in changed or i in kinds]:  # no other can change
        old = stored[entity_id]
        entity = changed.get(entity_id, old)
        if entity.kind in _CONFUSED:
            entity = replace(entity, kind=kinds.get(entity_id, entity.kind))
        if entity_id in objects:
            entity = replace(entity, kind=old.kind)
        entity = _filed(entity, old)
        if _said(entity) != _said(old):
            updated.append(replace(entity, updated_at=now))
    return replace(resolution, updated=tuple(updated))


def _said(entity: Entity) -> tuple[object, ...]:
    """What a write may change of an entity: its names, kind and metadata."""
    return entity.name, entity.kind, entity.aliases, entity.metadata


FILED_AS = "filed_as"
"""The metadata key of a person renamed by a longer name ("Carla", then "Carla Mendes"):
the name memories about them were filed under (their `subject`) before, which later ones
keep (`known_subjects`), so that "Carla Mendes moved to Berlin" retires "Carla moved to
Porto"."""


def _filed(entity: Entity, old: Entity) -> Entity:
    """`entity`, the stored `old` person renamed, keeping the name memories about them are
    filed under (`FILED_AS`); else as it is."""
    if entity.name == old.name or entity.kind != "person" or is_user(entity):
        return entity
    filed = old.metadata.get(FILED_AS) or old.name
    return replace(entity, metadata={**entity.metadata, FILED_AS: filed})


_CONFUSED: frozenset[EntityKind] = frozenset({"place", "organisation"})
"""The kinds cue words confuse ("lunch at Globex", "from Google to Meta")."""


def _stated_kinds(
    candidates: Sequence[Candidate], resolution: EntityResolution
) -> dict[str, EntityKind]:
    """Entity id -> the kind of `_CONFUSED` a relation of `candidates` states of it."""
    return {
        entity_id: relation.object_kind
        for candidate in candidates
        for relation in candidate.relations
        if relation.object_kind in _CONFUSED
        and (entity_id := resolution.ids.get(fold(relation.object))) is not None
    }


def known_subjects(
    candidates: Sequence[Candidate], entities: EntityResolution, graph: Graph
) -> tuple[list[Candidate], EntityResolution]:
    """`candidates`, each about someone else (a `subject`) named as the person its mention
    resolved to is (`filed_name`): "Carla moved to Berlin", once "Carla Mendes" is the one
    Carla known, is about "Carla Mendes", so it fills her slot and retires her Porto; and
    "Carla Mendes moved to Berlin", once "Carla" was known and renamed, is filed under
    "Carla", as "Carla moved to Porto" was. A mention that could be two known people resolved
    to neither (`resolve_entities`), and keeps its own name; the user's own entity is left
    alone. Returned with `entities` resolving the names given too (the relations of the
    candidates name them)."""
    named = {e.id: e for e in (*graph.entities, *entities.new, *entities.updated)}

    def canonical(name: str | None) -> str | None:
        entity = named.get(entities.ids.get(fold(name), "")) if name else None
        if entity is None or entity.kind != "person" or is_user(entity):
            return name
        return filed_name(entity)

    renamed: list[Candidate] = []
    for candidate in candidates:
        subject = canonical(candidate.subject)
        if subject == candidate.subject:
            renamed.append(candidate)
            continue
        relations = tuple(
            r._replace(subject=canonical(r.subject)) if r.subject == candidate.subject else r
            for r in candidate.relations
        )
        renamed.append(replace(candidate, subject=subject, relations=relations))
    resolved = [e for e in named.values() if e.id in entities.ids.values()]
    ids = {fold(name): e.id for e in resolved for name in {e.name, filed_name(e)}}
    return renamed, replace(entities, ids={**ids, **entities.ids})


def filed_name(entity: Entity) -> str:
    """The name memories about `entity` are filed under: its name, or the one it had before
    a longer name renamed it (`FILED_AS`)."""
    filed = entity.metadata.get(FILED_AS)
    return filed if isinstance(filed, str) and filed else entity.name


def relations_to_write(
    scope: Scope,
    candidates: Sequence[Candidate],
    news: Sequence[Memory],
    plan: Any,
    entities: EntityResolution,
    graph: Graph,
    now: datetime,
) -> tuple[tuple[Entity, ...], list[Relation]]:
    """The relations the inserted memories state (ended with them, if this add already
    retired them); those of the memories this add starts later (`restarted`) started with
    them, and those of the memories it ends (supersedes, or fits in time to end sooner)
    ended with them; with the entity standing for the user, if it is new."""
    if scope.user_id is None:
        return (), []
    inserted = {memory.id: memory for memory in plan.inserts}
    stated = [
        (inserted[m.id], c.relations or _slot_relation(c, inserted[m.id]))
        for c, m in zip(candidates, news, strict=True)
        if m.id in inserted
    ]
    stated = [(memory, mentions) for memory, mentions in stated if mentions]
    restarts = {relation.id: relation for relation in restarted(graph.relations, plan.updates)}
    stored = [restarts.get(relation.id, relation) for relation in graph.relations]
    ending = [m for m in plan.updates if m.superseded_at is not None or m.valid_to is not None]
    ends = {
        ended.id: ended
        for memory in ending
        for ended in close_relations(stored, [memory.id], memory.valid_to or now)
    }
    relations = list({**restarts, **ends}.values())
    if not stated:
        return (), relations
    me = graph.me or new_user_entity(scope, None, now)
    for memory, mentions in stated:
        built = build_relations(
            mentions,
            entities.ids,
            user_entity_id=me.id,
            memory_id=memory.id,
            tenant=scope.tenant,
            user_id=scope.user_id,
        )
        relations += [while_true(_started_with(relation, memory), memory) for relation in built]
    return (() if graph.me else (me,)), relations


def restarted(relations: Iterable[Relation], memories: Iterable[Memory]) -> list[Relation]:
    """The `relations` stated by `memories` that start before their memory now does, each
    from when it does: revision started the memory later (a move said the same day as
    another learned after it, `timeline.same_day_start`), or an erasure did (its first
    saying erased, `timeline.without_sources`); else "as of" a time between, the relation
    holds and the memory does not."""
    by_id = {memory.id: memory for memory in memories}
    return [
        moved
        for relation in relations
        if (memory := by_id.get(relation.memory_id or "")) is not None
        and (moved := _started_with(relation, memory)) != relation
    ]


def _started_with(relation: Relation, memory: Memory) -> Relation:
    """`relation` starting no earlier than the memory stating it (revision started it later:
    a move said the same day as another, `timeline.same_day_start`)."""
    start = memory.valid_from
    if start is None or relation.valid_from is None or relation.valid_from >= start:
        return relation
    return replace(relation, valid_from=start)


def while_true(relation: Relation, memory: Memory) -> Relation:
    """`relation` ending when the memory stating it does (a memory superseded in the add
    that inserts it, or history from the start, states an ended relation)."""
    if memory.valid_to is None or relation.valid_to is not None:
        return relation
    return replace(relation, valid_to=memory.valid_to)


def settled_kinds(
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
