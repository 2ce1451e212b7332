"""The search flow: dense and lexical candidates under the filter, fused and explained."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from engram._exceptions import InvalidInputError
from engram._flows import Flow, call_memories, embed
from engram._memory_flows.graph import is_user
from engram._memory_flows.scope import Scope
from engram._validation import MAX_QUERY_LENGTH, check_int, check_query, is_blank
from engram.memory import extract_entities, fold
from engram.memory.entities import named_entities
from engram.memory.queries import (
    asks_past,
    lexical_query,
    named_role_relations,
    past_asked,
    query_periods,
    role_relations,
    role_words,
    without_names,
)
from engram.memory.ranking import (
    DEFAULT_WEIGHTS,
    RankingWeights,
    asked_slots,
    complete_dense,
    ended_slots,
    past_periods,
    rank_memories,
    slots_named,
)
from engram.memory.texts import dense_text
from engram.memory.vectors import normalize
from engram.stores._memory_rules import MAX_LIMIT, detached
from engram.stores.memories import (
    GetMemories,
    GetVectors,
    ListEntities,
    ListRelations,
    MemoryScore,
    RecordAccess,
    SearchLexical,
    SearchVector,
)
from engram.types._copy import copy_record
from engram.types._memory import Entity, Memory, MemoryHit, Relation

_CANDIDATES = 50
"""Candidates each retrieval signal contributes before fusion."""
_SLOT_FACTS = 10
"""The facts of the slots a question asks, every version, that join the dense candidates."""

_PEOPLE = ("person", "other")
"""The kinds of a named entity that may be a person another than the user."""


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
    record_access: bool = True,
    clip_query: bool = False,
) -> Flow[list[MemoryHit]]:
    """Hybrid search: exact dense and BM25 candidates under the filter, fused and explained.

    `now` is the time ranked from (the `as_of` time of a search of the past); the hits are
    recorded as accessed at `accessed_at` (default: `now`), unless `record_access` is false
    (a caller that uses only some of them records those).

    A query longer than `MAX_QUERY_LENGTH` characters is refused (`InvalidInputError`),
    or with `clip_query` cut to that length: the query of a caller that searches with a
    message (a context's recall of the newest user turn), which may be as long as a
    message may be, and of which the embedder would read only the start."""
    if clip_query and isinstance(query, str):
        query = query[:MAX_QUERY_LENGTH]
    check_query(query)
    if is_blank(query):
        raise InvalidInputError("the search query is empty")
    # As a listing's: the limit checked as `get_all`'s is, and 0 reads (and records) nothing.
    if check_int(limit, "limit", 0, MAX_LIMIT) == 0:
        return []
    # The entities the query names, looked up among the user's as `memories.entities(name=)`
    # does (by name or alias, else by a longer name: "Carla" for "Carla Mendes"). The
    # user's own name, given (`user_name`) or learned ("Hi, I'm Ana"), leaves the query's
    # words (`without_names`) and, as an entity, matches every fact of the user's own
    # (`_naming_user`): spelled only where a turn greets the user, it would favour those.
    # The value a question about the user's past names ("Where did I work before Zalando?")
    # is what followed the answer: neither whom it asks about nor what it searches. A
    # question of no slot or about someone else ("Which city was John in before traveling
    # to Chicago?") keeps its words.
    past = past_asked(query)
    before = past or ""
    mentions = extract_entities(query)
    followed = [m.name for m in mentions if before and fold(m.name) in before]
    if not asked_slots(query) or any(
        m.kind in _PEOPLE and m.name not in followed for m in mentions
    ):
        followed = []
    mentioned = [m for m in mentions if m.name not in followed]
    named = list({fold(m.name): m.name for m in mentioned}.items())
    # The people it names by what they are to the user ("Where does my brother live?") are
    # the entities the user's relations give that role ("Diego"), read in the same call.
    # So are those it names by what they are to a named person ("John's children"): in a
    # dialogue of two, the user's relations hold both speakers' kin, and the person's are
    # those of the kin facts the person said ("Sara is John's daughter"), searched for in
    # the same call too.
    roles = role_relations(query)
    asked = named_role_relations(query)
    entities: list[Entity] = []
    stated: list[Relation] = []
    said: dict[str, Sequence[MemoryScore]] = {}
    if (named or roles or asked) and scope.user_id is not None:
        ops: list[Any] = [ListEntities(scope.tenant, scope.user_id)]
        if roles or asked:
            ops.append(ListRelations(scope.tenant, scope.user_id, as_of=now))
        ops.extend(_kin_facts(scope, name, relations) for name, relations in asked.items())
        entities, *related = yield from call_memories(*ops)
        stated, searches = (related[0], related[1:]) if related else ([], [])
        said = dict(zip(asked, searches, strict=True))
    known = [named_entities(name, entities) for _, name in named]
    kin = _in_roles(entities, stated, roles)
    for name, facts in said.items():
        kin += _kin_of(named_entities(name, entities), entities, stated, asked[name], facts)
    kin = list({entity.id: entity for entity in kin}.values())
    own = [name for (_, name), found in zip(named, known, strict=True) if any(map(is_user, found))]
    me = next((entity for found in known for entity in found if is_user(entity)), None)
    searched = without_names(query, [*own, *followed])
    # "Where does Ana live?" asks the user's home city only if Ana is the user: the slots a
    # question asks (`asked_slots`) are the user's unless it names another person. A name
    # the user owns ("Where did I do my PhD?") is none.
    others = {
        fold(m.name) for m in mentioned if m.kind in _PEOPLE and not _owned(query, m.name)
    } - set(map(fold, own))
    # Asked of other people ("Where does Jonas work?", "Where does my boyfriend work?"),
    # the slots are theirs: their facts hold them, and what the user's held is not asked.
    asked_of = others | {fold(entity.name) for entity in kin}
    slots = slots_named(query) if asked_of else asked_slots(query)
    users = frozenset() if asked_of else slots
    query_entities = [
        frozenset({key, *(entity.id for entity in found)})
        for (key, _), found in zip(named, known, strict=True)
    ]
    if kin:
        query_entities.append(frozenset({*(fold(e.name) for e in kin), *(e.id for e in kin)}))
    vectors = yield from embed([searched], tenant=scope.tenant, user_id=scope.user_id)
    now_only = filter_fields.get("as_of") is None and filter_fields.get("valid_at") is None
    where = scope.filter(**filter_fields)
    # Retired memories are candidates too: they mark the episodes that state only retired
    # values (`ranking.stale_episodes`), then leave the results (`current_only`, or the
    # search of the memories valid then). As of July, "I live in Berlin" said in January is
    # as stale as it is now once the user moved in June. A query naming a past period
    # ("Where did I live in 2023?") keeps those valid during it (`ranking.past_periods`).
    every = scope.filter(
        **{**filter_fields, "as_of": None, "valid_at": None, "include_superseded": True}
    )
    pool = min(MAX_LIMIT, max(_CANDIDATES, limit * 3))
    words = " ".join([lexical_query(searched), *(entity.name for entity in kin)])
    # The facts of the slots a question asks are candidates whatever else the pool holds: a
    # slot's ending and the value it ended ("Where did I do my PhD?" once graduated) may
    # rank below many turns on words alone.
    exact = tuple(sorted(slot for slot in slots if not slot.endswith(":")))
    holders = every._replace(attributes=exact)
    by_slot = (SearchVector(scope.tenant, vectors[0], model_id, holders, _SLOT_FACTS),)
    dense, lexical, *held = yield from call_memories(
        SearchVector(scope.tenant, vectors[0], model_id, every, pool),
        SearchLexical(scope.tenant, words, every, pool),
        *(by_slot if exact else ()),
    )
    crowded = len(dense) >= pool or len(lexical) >= pool
    if held:
        dense = _merged(dense, held[0])
    memories, vectors_of = yield from _loaded(scope, dense, lexical, model_id, {})
    if not memories:
        return []
    if not now_only or (crowded and not all(m.is_current for m in memories.values())):
        # As of a past time, the results are the memories valid then. Now, retired memories
        # filled places in a full pool: current ones may have missed it (a user who moved 80
        # times). Either way those searched apart are the results; the others still mark.
        searched_every = (dense, lexical)
        dense, lexical = yield from call_memories(
            SearchVector(scope.tenant, vectors[0], model_id, where, pool),
            SearchLexical(scope.tenant, words, where, pool),
        )
        if now_only and (
            (past is not None and users)
            or past_periods(query_periods(query, now), now)
            or (asks_past(query) and ended_slots(memories.values(), users, now))
        ):
            # A question about what the user's slots held before ("my previous job"), in
            # a past period ("Where did I work in January?") or about a slot the user ended
            # ("Where did I work?" once the user left Google) has retired facts for answers:
            # those found first stay candidates.
            dense, lexical = (
                _merged(*pair) for pair in zip(searched_every, (dense, lexical), strict=True)
            )
        more, vectors_of = yield from _loaded(scope, dense, lexical, model_id, memories)
        memories |= more
    dense_scores = [(s.memory_id, s.score) for s in dense]
    if vectors_of:
        # No vector of this model: embedded by another one (`reembed_flow` stores new ones).
        unembedded = [i for i, v in vectors_of.items() if v is None]
        if unembedded:
            fresh = yield from embed(
                [dense_text(memories[i]) for i in unembedded], tenant=scope.tenant
            )
            vectors_of.update(zip(unembedded, fresh, strict=True))
        query_vector = normalize(vectors[0])
        cosines = [(i, float(v @ query_vector)) for i, v in vectors_of.items()]
        dense_scores = complete_dense(dense_scores, cosines)
    hits = rank_memories(
        memories if me is None else _naming_user(memories, me),
        dense_scores,
        [(s.memory_id, s.score) for s in lexical],
        query=query,
        query_entities=query_entities,
        slots=slots,
        now=now,
        weights=weights,
        limit=limit,
        current_only=now_only,
        holders=asked_of,
    )
    if hits and record_access:
        accessed = tuple(hit.memory.id for hit in hits)
        yield from call_memories(RecordAccess(scope.tenant, accessed, accessed_at or now))
    # The candidates were the store's own records (`GetMemories.shared`): the caller's hits
    # are copies, so that changing one changes no later read (and names what it names).
    return [copy_record(hit, memory=detached(memories[hit.memory.id])) for hit in hits]


def _owned(query: str, name: str) -> bool:
    """Whether `query` names `name` as the user's own ("my PhD"): a thing, not a person."""
    return re.search(rf"\bmy\s+{re.escape(name)}\b", query, re.IGNORECASE) is not None


def _merged(first: Sequence[MemoryScore], second: Sequence[MemoryScore]) -> list[MemoryScore]:
    """Two candidate lists of one signal as one, best first (ties by id), each memory once
    with its best score."""
    best: dict[str, float] = {}
    for memory_id, score in (*first, *second):
        best[memory_id] = max(score, best.get(memory_id, score))
    ordered = sorted(best.items(), key=lambda pair: (-pair[1], pair[0]))
    return [MemoryScore(memory_id, score) for memory_id, score in ordered]


def _in_roles(
    entities: Sequence[Entity], relations: Sequence[Relation], roles: Collection[str]
) -> list[Entity]:
    """The `entities` the user's `relations` give one of `roles` (`queries.role_relations`:
    "has_brother" for "my brother"), as its target from the user's own entity."""
    users = {entity.id for entity in entities if is_user(entity)}
    targets = {r.target_id for r in relations if r.relation in roles and r.source_id in users}
    return [entity for entity in entities if entity.id in targets and entity.id not in users]


def _kin_facts(scope: Scope, name: str, relations: Collection[str]) -> SearchLexical:
    """The search of the kin facts the person `name` said of the kin `relations` name (a
    fact's `speaker`, a person of a dialogue: "Sara is John's daughter", "John's husband is
    Mark")."""
    facts = scope.filter(kinds=("fact", "profile"), metadata={"speaker": name})
    return SearchLexical(scope.tenant, role_words(relations), facts, _CANDIDATES)


def _kin_of(
    person: Sequence[Entity],
    entities: Sequence[Entity],
    relations: Sequence[Relation],
    roles: Collection[str],
    said: Sequence[MemoryScore],
) -> list[Entity]:
    """The `entities` that `relations` give one of `roles` to `person` (the entities of a
    name): the targets from the person's own entity, and from the user's, all when the
    person is the user ("Ana's brother" asked by Ana), else those stated by a kin fact the
    person `said` (`_kin_facts`)."""
    if any(map(is_user, person)):
        return _in_roles(entities, relations, roles)
    users = {entity.id for entity in entities if is_user(entity)}
    theirs = {entity.id for entity in person}
    facts = {score.memory_id for score in said}
    targets = {
        r.target_id
        for r in relations
        if r.relation in roles
        and (r.source_id in theirs or (r.source_id in users and r.memory_id in facts))
    }
    return [e for e in entities if e.id in targets and e.id not in users | theirs]


def _naming_user(memories: Mapping[str, Memory], me: Entity) -> dict[str, Memory]:
    """`memories` as ranking reads them for a query naming the user: each fact of the user's
    own (every kind but the turns themselves) names the user's entity `me`, whether or not
    it spells the name ("The user moved to Lisbon" is about Ana as much as "Ana is vegan"
    is). A turn names her only if it spells her name, as before: were every turn of hers
    to match, the name would favour none of them, and the facts about her would lose the
    lead they owe to being about her ("Ana is vegetarian" for "What does Ana eat?"). A fact
    said by another named speaker (a dialogue between people, one `speaker` each) or about
    another person (`subject`) is not the user's either."""
    names = {fold(me.name), *map(fold, me.aliases)}

    def own(memory: Memory) -> bool:
        speaker = memory.metadata.get("speaker")
        return (
            memory.kind != "episode"
            and memory.metadata.get("subject") is None
            and (not isinstance(speaker, str) or fold(speaker) in names)
        )

    return {
        memory_id: copy_record(memory, entity_ids=(*memory.entity_ids, me.id))
        if me.id not in memory.entity_ids and own(memory)
        else memory
        for memory_id, memory in memories.items()
    }


def _loaded(
    scope: Scope,
    dense: Sequence[MemoryScore],
    lexical: Sequence[MemoryScore],
    model_id: str,
    known: Mapping[str, Memory],
) -> Flow[tuple[dict[str, Memory], dict[str, Any]]]:
    """The candidates' memories not `known` yet, and the vectors of the lexical ones outside
    the dense candidates (so they get their true cosine, not 0), in one store call."""
    ids = tuple(dict.fromkeys([s.memory_id for s in dense] + [s.memory_id for s in lexical]))
    missing = ids[len({s.memory_id for s in dense}) :]
    wanted = tuple(i for i in ids if i not in known)
    if not wanted and not missing:
        return {}, {}
    ops: list[Any] = [GetMemories(scope.tenant, wanted, shared=True)]
    if missing:
        ops.append(GetVectors(scope.tenant, missing, model_id))
    loaded, *found = yield from call_memories(*ops)
    memories = {m.id: m for m in loaded if m is not None}
    vectors = {
        i: v
        for i, v in zip(missing, found[0] if found else (), strict=True)
        if i in memories or i in known
    }
    return memories, vectors
