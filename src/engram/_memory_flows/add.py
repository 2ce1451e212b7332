"""The add flow: extract, embed, revise against what is stored, then write it in one batch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engram._exceptions import InvalidInputError
from engram._flows import Flow, call_memories, embed, forget_embeddings, serialized
from engram._memory_flows.edits import retired_by_hand
from engram._memory_flows.graph import (
    known_subjects,
    name_user,
    read_user,
    relations_to_write,
    resolve_mentions,
    settled_kinds,
)
from engram._memory_flows.scope import FACT_KINDS, Scope
from engram.memory import (
    Candidate,
    ExtractionBudget,
    RevisionPlan,
    extract,
    extraction_flow,
    fold,
    plan_flow,
    update_profile,
)
from engram.memory._revision_tastes import contrary_tastes, is_taste
from engram.memory._revision_time import refitted
from engram.memory.candidates import NO_VALUE, TIED_SLOTS, TIED_TO
from engram.memory.entities import stretch_relations
from engram.memory.profile import overridden_by_edits
from engram.memory.texts import LEXICAL_CONTEXT, SESSION_KEY, dense_text
from engram.stores.memories import (
    GetMemories,
    ListMemories,
    PutEntities,
    PutMemories,
    PutProfile,
    PutRelations,
    SearchVector,
    VectorRecord,
)
from engram.types import Message
from engram.types._memory import Memory, Relation, UserProfile
from engram.types._time import parse_time

_NEIGHBOURS = 5
"""Stored neighbours compared with each new memory during revision."""


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
    llm_fallbacks: tuple[str, ...] = ()
    """Why LLM extraction fell back to the rules, one short reason per batch that did (the
    call failed, an unusable reply, the budget spent); empty when it did not."""

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
    infer: bool = True,
    metadata: Mapping[str, Any] | None = None,
    pinned: bool = False,
    text_turn: str | None = None,
    now: datetime,
) -> Flow[AddReport]:
    """Extract, embed, revise against what is stored, then write it all in one batch.

    `metadata` is merged under every new memory's own; `pinned` pins the new memories.
    `text_turn` is the id of the turn that is a memory given as text (`Memories.add(text)`):
    with a user in the scope, extraction reads it as the user saying it ("The user lives in
    Paris", mem0's "Lives in Paris": `extract(about_user=...)`).
    Without `infer`, `messages` are kept as episodes only (as mem0's `infer=False` stores
    them as they are): no fact, so no slot revised and no profile field.

    What a new memory is revised against: a slot fact (a memory with an `attribute`) against
    the user's memories, whatever agent or session stored them (`Scope.slot_filter`): "I
    moved to Lisbon" in one conversation retires "I live in Porto" of another, and a slot
    value said again is a duplicate (its provenance appended to the stored memory, which
    keeps its session). Other facts and episodes are revised within the scope as given
    (`Scope.own_filter`; without a user, not against what users told the agent): a plain
    fact said in two sessions is kept in each (a session's search finds its own), and a
    negation of one ("I no longer ...") retires only the scope's.

    Each memory is recorded (`recorded_at`) when the first of its source messages was said
    (no later than `now`): "as of" a time between two turns of one add, the first turn's
    facts are known and the second's are not.
    """
    fallbacks: tuple[str, ...] = ()
    clock = now  # when the profile's fields hold (`update_profile`): a job to come, not yet
    if messages:
        history = yield from _earlier_turns(scope, messages)
        # The memory given as text is of the user ("Lives in Paris"); an agent's own
        # ("Prefers short answers") is no user's.
        about_user = frozenset({text_turn} if text_turn and scope.user_id else ())
        if not infer:
            extracted = extract(messages, fact_roles=(), history=history)
        elif budget.max_calls > 0:
            result = yield from extraction_flow(
                messages,
                budget=budget,
                user_name=user_name,
                history=history,
                about_user=about_user,
            )
            extracted, fallbacks = list(result.candidates), result.fallbacks
        else:
            extracted = extract(
                messages, user_name=user_name, history=history, about_user=about_user
            )
        candidates = [*candidates, *extracted]
        # What a conversation says is learned when it is said (replays and imports included).
        now = min(now, max(m.created_at for m in messages))
    if not candidates:
        return AddReport(added=(), updated=(), unchanged=0, llm_fallbacks=fallbacks)
    # From the first read of what is stored to the write of what was decided from it, one
    # add of the scope at a time: two adds would each miss what the other writes.
    yield from serialized(scope.lock_key)
    profile, graph = yield from read_user(scope, candidates, now=clock)
    graph = yield from name_user(scope, graph, _user_name(candidates, profile, user_name), now)
    entities = resolve_mentions(scope, candidates, graph, now)
    candidates, entities = known_subjects(candidates, entities, graph)
    said_at = {message.id: message.created_at for message in messages}
    news = [_placed(c, scope, entities, _recorded_at(c, said_at, now)) for c in candidates]
    if metadata or pinned:
        news = [
            replace(m, metadata={**(metadata or {}), **m.metadata}, pinned=pinned or m.pinned)
            for m in news
        ]
    vectors = yield from embed([dense_text(m) for m in news], tenant=scope.tenant)
    similar = yield from _neighbours(scope, news, vectors, model_id)
    pairwise = vectors @ vectors.T
    plan = yield from plan_flow(
        news, similar, now=now, budget=budget, pairwise=lambda i, j: float(pairwise[i, j])
    )
    plan = _under_edits(plan, profile, similar, now)
    entities = settled_kinds(entities, candidates, news, plan)
    vector_of = {m.id: VectorRecord(model_id, vectors[i]) for i, m in enumerate(news)}
    texts = {m.id: m.text for m in news}
    # Revision restated a guessed change in its slot's words, or cut off a stretch of a
    # stored value (`Decision.stretches`): embed those.
    restated = [m for m in plan.inserts if texts.get(m.id, "") != m.text]
    if restated:
        fresh = yield from embed([dense_text(m) for m in restated], tenant=scope.tenant)
        vector_of |= {m.id: VectorRecord(model_id, fresh[i]) for i, m in enumerate(restated)}
    ops: list[Any] = [
        PutMemories(
            scope.tenant,
            (*plan.inserts, *plan.updates),
            tuple(vector_of.get(m.id) for m in (*plan.inserts, *plan.updates)),
            plan.changes,
        ),
    ]
    me, relations = relations_to_write(scope, candidates, news, plan, entities, graph, now)
    relations = _started_sooner(plan, graph.relations, relations)
    inserted = {memory.id: memory for memory in plan.inserts}
    pairs = [pair for decision in plan.decisions for pair in decision.stretches]
    relations += stretch_relations(pairs, inserted, graph.relations, now)
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
            moment=clock,
        )
        ops.append(PutProfile(scope.tenant, fresh))
    yield from call_memories(*ops)
    yield from forget_embeddings(_unheld(news, plan, similar), tenant=scope.tenant)
    return AddReport(
        added=plan.inserts,
        updated=plan.updates,
        unchanged=sum(1 for decision in plan.decisions if decision.action == "noop"),
        llm_calls=budget.calls,
        llm_tokens=budget.tokens,
        llm_fallbacks=fallbacks,
    )


def _started_sooner(
    plan: RevisionPlan, stored: Sequence[Relation], written: Sequence[Relation]
) -> list[Relation]:
    """`written`, with the relations of the memories this add starts sooner (a value said
    again in an older chat, replayed) starting with them: else "as of" a time between, the
    memory holds and its relation does not."""
    starts = {m.id: m.valid_from for m in plan.updates if m.valid_from is not None}
    relations = {relation.id: relation for relation in (*stored, *written)}
    started = {
        relation.id: replace(relation, valid_from=start)
        for relation in relations.values()
        if (start := starts.get(relation.memory_id or "")) is not None
        and relation.valid_from is not None
        and start < relation.valid_from
    }
    chosen = {relation.id: relation for relation in written}
    return [*(started.pop(r.id, r) for r in chosen.values()), *started.values()]


def _unheld(
    news: Sequence[Memory], plan: RevisionPlan, similar: Sequence[Sequence[tuple[Memory, float]]]
) -> list[str]:
    """The embedded texts of `news` that no stored memory holds (revision found them
    duplicates or restated them): their cached vectors would outlive any erasure."""
    kept = [*plan.inserts, *plan.updates, *(m for near in similar for m, _ in near)]
    held = {dense_text(m) for m in kept}
    return sorted({dense_text(m) for m in news} - held)


def _under_edits(
    plan: RevisionPlan,
    profile: UserProfile | None,
    similar: Sequence[Sequence[tuple[Memory, float]]],
    now: datetime,
) -> RevisionPlan:
    """`plan` with the new slot facts a later hand edit of the profile overrides retired
    (`overridden_by_edits`), each change audited: retired when the edit was made, not when
    they were said (a replay's `now`), and true until the edit, or until a later statement
    of their value began (`refitted` among the slot's values, stored or planned)."""
    edited_at = max(now, profile.updated_at) if profile is not None else now
    overridden = overridden_by_edits(profile, plan.inserts, now=edited_at)
    if not overridden:
        return plan
    changes = retired_by_hand(overridden.values(), "since it was said", edited_at)
    values = [*(m for near in similar for m, _ in near), *plan.updates, *plan.inserts]
    overridden = refitted(overridden.values(), values, now=edited_at)
    inserts = tuple(overridden.get(memory.id, memory) for memory in plan.inserts)
    return replace(plan, inserts=inserts, changes=(*plan.changes, *changes))


_EARLIER = 20
"""Stored episodes of a session read to find the turns said just before an add's."""
_EARLIER_WITHIN = timedelta(days=1)
"""How long before an add's first turn the turns it goes on may have been said: an episode
is dated when it was said, so the store reads only that stretch of the user's memories."""


def _earlier_turns(scope: Scope, messages: Sequence[Message]) -> Flow[list[Message]]:
    """The last turns stored of each session `messages` go on, said before the first of
    them, oldest first: what extraction reads them after (an episode's context lines, the
    turn a bare correction corrects), when a conversation is added turn by turn. Only the
    scope's own (`Scope.own_filter`): a user's words never reach an agent's own memories."""
    ids = {message.id for message in messages}
    first: dict[str, datetime] = {}
    for message in messages:
        if message.session_id is not None:
            start = first.get(message.session_id, message.created_at)
            first[message.session_id] = min(start, message.created_at)
    if not first:
        return []
    ops = [
        ListMemories(
            scope.tenant,
            scope.own_filter(
                kinds=("episode",),
                after=first[session_id] - _EARLIER_WITHIN,
                before=first[session_id],
                metadata={SESSION_KEY: session_id},
            ),
            limit=_EARLIER,
        )
        for session_id in first
    ]
    found = yield from call_memories(*ops)
    turns: list[Message] = []
    for session_id, episodes in zip(first, found, strict=True):
        told = [
            _as_turn(episode, session_id)
            for episode in episodes
            if episode.source_ids and not ids & set(episode.source_ids)
        ]
        told = sorted((t for t in told if t.created_at < first[session_id]), key=_said)
        turns += told[-LEXICAL_CONTEXT:]
    return turns


def _as_turn(episode: Memory, session_id: str) -> Message:
    """The turn an episode keeps (its text, speaker and time)."""
    role = episode.metadata.get("role")
    speaker = episode.metadata.get("speaker")
    said = episode.metadata.get("said_at")
    try:
        said_at = parse_time(said) if isinstance(said, str) else episode.recorded_at
    except InvalidInputError:  # metadata of an import, say
        said_at = episode.recorded_at
    return Message(
        role=role if role in ("user", "assistant") else "user",
        content=episode.text,
        name=speaker if isinstance(speaker, str) and speaker else None,
        created_at=said_at,
        session_id=session_id,
        id=episode.source_ids[0],
    )


def _said(message: Message) -> tuple[datetime, str]:
    return message.created_at, message.id


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
    """For each new memory: its nearest stored memories of its kind group, plus the holders
    of its slot, current and retired (cosine 0 if not near), so contradictions are always
    seen and an older value learned late finds its place in the slot's history; for a slot
    fact, among the user's memories (`Scope.slot_filter`), else among the scope's own
    (`Scope.own_filter`)."""
    ops: list[Any] = []
    for memory, vector in zip(news, vectors, strict=True):
        kinds = ("episode",) if memory.kind == "episode" else FACT_KINDS
        where = (
            scope.slot_filter(kinds=kinds) if memory.attribute else scope.own_filter(kinds=kinds)
        )
        ops.append(SearchVector(scope.tenant, vector, model_id, where, _NEIGHBOURS))
    slots = sorted({m.attribute for m in news if m.attribute})
    if slots:  # retired ones too: an older value learned late is fitted among them
        where = scope.slot_filter(attributes=tuple(slots), include_superseded=True)
        ops.append(ListMemories(scope.tenant, where, limit=1000))
    # The memories that hold only while a slot's value does ("I love living in Porto"):
    # retired with it, so seen however far they are.
    ties = [slot for slot in slots if slot in TIED_SLOTS]
    for slot in ties:
        where = scope.slot_filter(metadata={TIED_TO: slot})
        ops.append(ListMemories(scope.tenant, where, limit=1000))
    # The tastes a new one may say against from another slot (a dislike of the favourite
    # food), however far.
    tasted = any(is_taste(memory) for memory in news)
    if tasted:
        ops.append(ListMemories(scope.tenant, scope.slot_filter(kinds=("preference",)), limit=1000))
    results = yield from call_memories(*ops)
    holders: list[Memory] = results[len(news)] if slots else []
    tied = dict(zip(ties, results[len(news) + 1 : len(news) + 1 + len(ties)], strict=True))
    tastes: list[Memory] = results[-1] if tasted else []
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
        near += [(t, 0.0) for t in tied.get(memory.attribute or "", ()) if t.id not in seen]
        seen = {m.id for m, _ in near}
        near += [(t, 0.0) for t in tastes if t.id not in seen and contrary_tastes(memory, t)]
        similar.append(near)
    return similar
