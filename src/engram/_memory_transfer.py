"""Long-term memory export and import as flows (see `_flows`).

An export is JSON-ready data: every memory of a scope (retired ones too, with their validity
and supersession), the audit history of each, and for a user the entities, relations and
profile, and the user's tombstones (the `delete` entries left by the memories erased
before the export, without text), so the database the user moves to keeps their erasures.
Vectors are not exported: the importing side embeds the memories with its own embedder,
whatever model the exporting side used. All else (ids, access counts, pinning, every time)
is imported as exported, so an export of the import is the export again. An import is one
transaction; importing an export a second time leaves what the first time stored.

An import never undoes an erasure: a memory the database holds the tombstone of (deleted or
forgotten since the export was taken, or erased where an export imported since was taken)
is skipped, with what its erasure removed and gave back (see `_without_erased`). And an
import brings the export's erasures: a memory the database holds (an import of an older
export put it there) that the export holds the tombstone of, of the same user, is erased
as `delete` erases it, giving back what it retired (`_kept_current`), in the same
transaction (`_erasures`), so a replica or a backup kept by nightly imports
forgets what the user had erased. The other tombstones are stored. `delete_all(user_id=...)`
leaves no tombstone, so a backup of the user restores them. Only a user's export holds
tombstones: a tombstone records no agent or session. Format `engram.memories/1` (no
tombstones) is still read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from engram._exceptions import InvalidInputError
from engram._flows import Flow, call_memories, embed, forget_embeddings, serialized
from engram._memory_flows import Scope, every_memory, revival
from engram._memory_flows.erasure import (
    TICK,
    embedded_texts,
    named_by,
    with_orphans_erased,
)
from engram._validation import (
    CLOCK_SKEW,
    check_export_format,
    check_identifier,
    check_json_object,
    check_profile_fields,
    check_text,
    first_repeat,
)
from engram.memory._revision_decision import earliest, union
from engram.memory._revision_slots import by_slot, settle_slots
from engram.memory._revision_time import cut_slots, ended
from engram.memory.candidates import ENGRAM_METADATA_KEYS, TIED_SLOTS, TIED_TO
from engram.memory.entities import close_relations, fold, stretch_relations
from engram.memory.forgetting import forgotten_by_policy
from engram.memory.profile import EDITED, handed_over
from engram.memory.texts import dense_text
from engram.memory.timeline import ends, sayings, with_sayings
from engram.stores._memory_rules import (
    check_no_nul,
    checked_change,
    checked_entity,
    checked_memory,
    checked_profile,
    checked_relation,
    checked_tombstone,
    erased_change,
    profile_without,
    without_quotes,
)
from engram.stores.memories import (
    DeleteMemories,
    ErasureReport,
    GetHistory,
    GetMemories,
    GetProfile,
    ListEntities,
    ListRelations,
    ListTombstones,
    MemoryFilter,
    PutEntities,
    PutMemories,
    PutProfile,
    PutRelations,
    PutTombstones,
    VectorRecord,
)
from engram.types._memory import (
    Entity,
    Memory,
    MemoryChange,
    Relation,
    UserProfile,
)

__all__ = [
    "MEMORY_EXPORT_FORMAT",
    "ImportedMemories",
    "export_flow",
    "import_flow",
    "parse_export",
]

MEMORY_EXPORT_FORMAT = "engram.memories/2"
_READ_FORMATS = ("engram.memories/1", MEMORY_EXPORT_FORMAT)
"""The formats an import reads, the newest last: `/1` holds no tombstones."""
_PAGE = 1000
"""Histories fetched per store batch."""

_Record = TypeVar("_Record")
_Records = tuple[
    tuple[Memory, ...],
    tuple[MemoryChange, ...],
    tuple[Entity, ...],
    tuple[Relation, ...],
    UserProfile | None,
]
"""An export's memories, history, entities, relations and profile (`parse_export`)."""


class _Tombstone(NamedTuple):
    """A tombstone of the export: the `delete` entry of an erased memory of `user_id`."""

    user_id: str
    change: MemoryChange


_NOT_IN_TOMBSTONES = ("tenant", "old_text", "new_text")
"""The fields of a history entry a tombstone's record leaves out: it has no text, and it is
imported into the importing tenant."""


class ImportedMemories(list[Memory]):
    """The memories an import stored, in the export's order (a list of them)."""

    skipped_erased: int
    """Memories of the export not imported: this database erased them since (it holds
    their tombstones)."""
    erased: int
    """Memories of this database the import erased: the export holds their tombstones."""

    def __init__(
        self, memories: Iterable[Memory] = (), skipped_erased: int = 0, erased: int = 0
    ) -> None:
        super().__init__(memories)
        self.skipped_erased = skipped_erased
        self.erased = erased


class _Erasures(NamedTuple):
    """What an import erases of the database (`_erasures`), besides storing the export's
    other tombstones."""

    memories: tuple[Memory, ...]
    """The memories the export holds the tombstones of, as stored."""
    ops: tuple[DeleteMemories, ...]
    """Their erasure, one op per reason their tombstones give, written after the import."""
    named: set[str]
    """The entities they name or their relations touch: erased after the import if nothing
    else names them (`erasure.with_orphans_erased`)."""
    texts: list[str]
    """What was embedded for them, dropped from the embedding cache after the import."""


def export_flow(scope: Scope) -> Flow[dict[str, Any]]:
    """The scope's memories, their histories and (for a user) entities, relations and
    profile, as JSON-ready data: one consistent state, read while no write of the scope runs
    (its reads take several batches; a write between them would leave the export naming
    memories it does not hold)."""
    yield from serialized(scope.lock_key)
    memories = yield from every_memory(scope.tenant, scope.filter(include_superseded=True))
    history = yield from _histories(scope.tenant, [memory.id for memory in memories])
    entities: list[Entity] = []
    relations: list[Relation] = []
    profile: UserProfile | None = None
    tombstones: list[dict[str, Any]] = []
    if (user := scope.whole_user) is not None:
        entities, relations, profile, erased = yield from call_memories(
            ListEntities(scope.tenant, user),
            ListRelations(scope.tenant, user),
            GetProfile(scope.tenant, user),
            ListTombstones(scope.tenant, user),
        )
        tombstones = [_tombstone_record(user, change) for change in erased]
    return {
        "format": MEMORY_EXPORT_FORMAT,
        "memories": [memory.to_dict() for memory in memories],
        "history": [change.to_dict() for change in history],
        "entities": [entity.to_dict() for entity in entities],
        "relations": [relation.to_dict() for relation in relations],
        "profile": profile.to_dict() if profile is not None else None,
        "tombstones": tombstones,
    }


def _tombstone_record(user_id: str, change: MemoryChange) -> dict[str, Any]:
    """A tombstone as the export holds it: its history entry but its tenant and (empty) text
    fields, and the user it is of (the store keeps it by user, and the export may hold none
    of their memories)."""
    record = {
        key: value for key, value in change.to_dict().items() if key not in _NOT_IN_TOMBSTONES
    }
    return {**record, "user_id": user_id}


def import_flow(
    data: Mapping[str, Any], *, tenant: str, model_id: str, max_bytes: int, now: datetime
) -> Flow[ImportedMemories]:
    """Store an export's memories, histories, entities, relations and profile in `tenant`,
    embedding the memories with the current embedder; all of it or nothing. A slot (the
    user's home, say) that the export and the store both fill keeps one current value, the
    one said last (`_one_per_slot`); `now` is when the other is retired. Memories `tenant`
    or the export holds the tombstone of are skipped, and counted (`_without_erased`);
    those `tenant` holds and the export holds the tombstone of are erased (`_erasures`);
    the export's other tombstones are stored (`_tombstones_to_put`).

    Raises:
        InvalidInputError: The data is not an export, or a record of it is malformed or
            holds what `add` or `update_profile` refuse (a memory text with a NUL character or
            over `max_bytes`, metadata over `MAX_METADATA_BYTES`, a profile value that is
            not text, ...), or a record of another user than the one it belongs with
            (`_check_owners`), or a time Engram learned, recorded, changed, retired or
            recalled something at (`_LEARNED_AT`) more than `CLOCK_SKEW` past `now`, as `add`
            refuses a message dated so (its facts would hold from then on). When a fact
            holds (`valid_from`, `valid_to`) may lie ahead: a planned move, a job to start.
    """
    parsed, tombstones = parse_export(data, tenant, max_bytes, now=now)
    known = yield from _histories(tenant, [memory.id for memory in parsed[0]])
    erased = {change.memory_id: change.at for change in known if change.action == "delete"}
    # A consistent export holds no memory it holds the tombstone of (`ListTombstones`
    # lists those of memories gone); an edited one that does is taken at its word.
    exported = {memory.id for memory in parsed[0]}
    erased |= {
        t.change.memory_id: t.change.at
        for t in tombstones
        if t.change.memory_id in exported and t.change.memory_id not in erased
    }
    recorded = {change.memory_id for change in known}
    # What a policy forgot gives nothing back, as `forget` gave nothing back.
    forgotten = {
        change.memory_id
        for change in (*known, *(t.change for t in tombstones))
        if change.action == "delete" and forgotten_by_policy(change.reason)
    }
    taken_back = {memory_id: at for memory_id, at in erased.items() if memory_id not in forgotten}
    parsed = yield from _without_erased(tenant, parsed, erased, taken_back, recorded)
    ids = list(dict.fromkeys(t.change.memory_id for t in tombstones))
    held = yield from _held(tenant, ids)
    erasures = yield from _erasures(tenant, tombstones, held, now)
    put_tombstones = _tombstones_to_put(tenant, tombstones, held)
    memories, history, entities, relations, profile = parsed
    memories, entities, relations = yield from _known_entities(
        tenant, memories, entities, relations
    )
    memories = yield from _linkable(tenant, memories, entities)
    memories, relations, profile = yield from _kept_current(
        tenant, memories, relations, profile, erasures
    )
    # Entries already stored (an import of the same export) are not written twice.
    stored = {change.id for change in known}
    history = tuple(change for change in history if change.id not in stored)
    settled = yield from _one_per_slot(
        tenant, memories, relations, profile, now, {m.id for m in erasures.memories}
    )
    records: tuple[VectorRecord | None, ...] = ()
    if settled.memories:
        vectors = yield from embed(
            [dense_text(memory) for memory in settled.memories], tenant=tenant
        )
        records = tuple(VectorRecord(model_id, vector) for vector in vectors)
    ops: list[Any] = [
        PutEntities(tenant, entities),
        PutMemories(
            tenant,
            settled.memories + settled.retired,
            records + (None,) * len(settled.retired),  # their text, so their vectors, kept
            history + settled.changes,
        ),
        PutRelations(tenant, settled.relations),
        *(PutProfile(tenant, profile) for profile in settled.profiles),
        *put_tombstones,
        *erasures.ops,  # last: what the import wrote of them (a profile field) goes too
    ]
    results = yield from call_memories(*ops)
    erased_here = ErasureReport()
    if erasures.ops:
        yield from forget_embeddings(erasures.texts, tenant=tenant)
        reports = results[len(ops) - len(erasures.ops) :]
        erased_here = yield from with_orphans_erased(tenant, erasures.named, reports)
    return ImportedMemories(
        results[1][: len(memories)], skipped_erased=len(erased), erased=erased_here.memories
    )


def _erasures(
    tenant: str, tombstones: Sequence[_Tombstone], held: Mapping[str, Memory], now: datetime
) -> Flow[_Erasures]:
    """The erasure of the memories `tenant` holds (`held`) that the export holds the
    tombstones of, each with the reason its tombstone gives, as `erasure.erase_each_flow`
    erases them but in the import's transaction. Only a tombstone of the same memory and
    user erases (the import's tenant is the only one read): a memory of another user that
    an edited export names is left as it is.

    Else the erasure would not reach a copy: a database kept by importing another's
    exports (a replica, a backup) would keep what the user had erased there."""
    reasons = {
        t.change.memory_id: t.change.reason
        for t in tombstones
        if (memory := held.get(t.change.memory_id)) is not None and memory.user_id == t.user_id
    }
    if not reasons:
        return _Erasures((), (), set(), [])
    gone = tuple(held[memory_id] for memory_id in reasons)
    named = yield from named_by(tenant, gone)
    texts = yield from embedded_texts(tenant, gone)
    # After the memory's last change, so a history never reads "deleted, then edited".
    at = max([now, *(memory.updated_at + TICK for memory in gone)])
    by_reason: dict[str | None, list[str]] = {}
    for memory_id, reason in reasons.items():
        by_reason.setdefault(reason, []).append(memory_id)
    ops = tuple(DeleteMemories(tenant, tuple(ids), why, at) for why, ids in by_reason.items())
    return _Erasures(gone, ops, named, texts)


def _tombstones_to_put(
    tenant: str, tombstones: Sequence[_Tombstone], held: Mapping[str, Memory]
) -> list[PutTombstones]:
    """The ops storing the export's tombstones, per user, but those of memories `tenant`
    holds (`held`): the store refuses a tombstone of a memory it holds, and the import
    erases those of the same user (`_erasures`), which leaves them a tombstone of its own.
    Those it stored already it skips."""
    by_user: dict[str, list[MemoryChange]] = {}
    for tombstone in tombstones:
        if tombstone.change.memory_id not in held:
            by_user.setdefault(tombstone.user_id, []).append(tombstone.change)
    return [PutTombstones(tenant, user, tuple(changes)) for user, changes in by_user.items()]


def _without_erased(
    tenant: str,
    records: _Records,
    erased: Mapping[str, datetime],
    taken_back: Mapping[str, datetime],
    recorded: set[str],
) -> Flow[_Records]:
    """The export's records but what erasing the memories of `erased` (those `tenant`
    holds the tombstone of, by id, with when they were erased) removed or changed
    (`DeleteMemories`): the memories and their history, their texts in other entries and in
    the context lines of episodes, the relations they stated, the profile fields taken from
    them, and the entities only they named; and with what they retired given back as the
    erasure gave it back (`_given_back`: those of `taken_back`, the erasures that were no
    policy's). Else restoring a backup taken before an erasure would undo it. `recorded`
    are the memories whose history `tenant` holds."""
    memories, history, entities, relations, profile = records
    gone = [memory for memory in memories if memory.id in erased]
    if not gone:
        return records
    kept = [memory for memory in memories if memory.id not in erased]
    texts = {memory.text for memory in gone} | {
        text
        for change in history
        if change.memory_id in erased
        for text in (change.old_text, change.new_text)
        if text
    }
    texts -= {memory.text for memory in kept}  # a copy of one a memory holds is no trace
    named = {entity for memory in gone for entity in memory.entity_ids} | {
        end for r in relations if r.memory_id in erased for end in (r.source_id, r.target_id)
    }
    relations = tuple(relation for relation in relations if relation.memory_id not in erased)
    back = _given_back(gone, kept, relations, profile, taken_back)
    kept = [without_quotes(memory, texts) or memory for memory in back.memories]
    orphans = yield from _orphans(tenant, named, kept, back.relations)
    history = tuple(
        erased_change(change, False, texts) for change in history if change.memory_id not in erased
    )
    return (
        tuple(kept),
        history + tuple(c for c in back.changes if c.memory_id not in recorded),
        tuple(entity for entity in entities if entity.id not in orphans),
        back.relations,
        None if back.profile is None else profile_without(back.profile, set(erased)),
    )


class _GivenBack(NamedTuple):
    """An export's records with what its erased memories retired given back (`_given_back`)."""

    memories: list[Memory]
    changes: tuple[MemoryChange, ...]
    """The audit of what came back (`revival.revival_changes`)."""
    relations: tuple[Relation, ...]
    profile: UserProfile | None


def _given_back(
    gone: Sequence[Memory],
    kept: Sequence[Memory],
    relations: tuple[Relation, ...],
    profile: UserProfile | None,
    erased: Mapping[str, datetime],
) -> _GivenBack:
    """The `kept` memories, `relations` and `profile` (an export's, or the store's) with
    what the `gone` ones retired given back as their erasure gave it back (`revival`, as
    `erasure.erase_flow` does): current again, with its relations and profile field, if
    the erased one was current; at the latest erasure of those that retired what comes
    back. What one of them retired and does not get back (a policy forgot its retirer,
    `erased` leaves it out) stays retired, retired by none."""
    by_id = {memory.id: memory for memory in gone if memory.id in erased}
    gone_ids = {memory.id for memory in gone}
    before = {memory.id: memory for memory in kept}
    chains = {m.id: revival.retirers(by_id, m) for m in kept}
    at = max((erased[e] for chain in chains.values() for e in chain), default=None)
    back = {} if at is None else {m.id: m for m in revival.revived(by_id, kept, at)}
    left = [
        back.get(memory.id)
        or (replace(memory, superseded_by=None) if memory.superseded_by in gone_ids else memory)
        for memory in kept
    ]
    if at is None:
        return _GivenBack(left, (), relations, profile)
    reopened = {r.id: r for r in revival.relations_revived(relations, before, back.values())}
    successors = {
        erased_id: memory
        for memory in back.values()
        if memory.is_current
        for erased_id in chains[memory.id]
    }
    return _GivenBack(
        left,
        revival.revival_changes(back.values(), left, at),
        tuple(reopened.get(relation.id, relation) for relation in relations),
        None if profile is None else handed_over(profile, successors, now=at),
    )


def _orphans(
    tenant: str, named: set[str], memories: Sequence[Memory], relations: Sequence[Relation]
) -> Flow[set[str]]:
    """The entities of `named` (by erased memories, or the relations they stated) that
    neither the import's other `memories` and `relations` nor the store name: the store
    holds those only something else names (the erasure erased the others)."""
    named = named - {entity for memory in memories for entity in memory.entity_ids}
    named -= {end for relation in relations for end in (relation.source_id, relation.target_id)}
    if not named:
        return named
    [stored] = yield from call_memories(ListEntities(tenant, ids=tuple(sorted(named))))
    return named - {entity.id for entity in stored}


class _Settled(NamedTuple):
    """An import's records once its slots are settled against the store's (`_one_per_slot`)."""

    memories: tuple[Memory, ...]
    """The export's memories, those an imported or stored value outdates retired, then the
    later stretches of the values cut (`cut_slots`), new memories."""
    retired: tuple[Memory, ...]
    """Stored memories the import retires."""
    changes: tuple[MemoryChange, ...]
    relations: tuple[Relation, ...]
    """The export's relations and the stored ones the retirements end."""
    profiles: tuple[UserProfile, ...]
    """The export's profile and the stored ones naming a retired memory."""


def _one_per_slot(
    tenant: str,
    memories: tuple[Memory, ...],
    relations: tuple[Relation, ...],
    profile: UserProfile | None,
    now: datetime,
    erasing: set[str],
) -> Flow[_Settled]:
    """The import's records with one current value per slot of its users: an export saying
    "Berlin" imported where the store says "Tokyo" for the same user and slot leaves the
    value said last current and retires the other (`settle_slots`), with what held only
    while it did; the relations they stated end, and profile fields taken from them are
    taken from the value that retired them. A value said again after another value said
    between is cut there first (`cut_slots`), and the retired values of both are fitted in
    time around each other (`_fitted_in_time`), so that "as of" any time one value held.
    The stored values the import is `erasing` take no part: none retires another."""
    users = sorted({m.user_id for m in memories if m.user_id is not None and m.attribute})
    profiles = () if profile is None else (profile,)
    if not users:
        return _Settled(memories, (), (), relations, profiles)
    stored = yield from _slot_holders(tenant, users, memories, erasing)
    cuts = cut_slots([*memories, *stored], now=now)
    latest = {memory.id: memory for memory in [*memories, *stored, *cuts.firsts, *cuts.seconds]}
    settled, changes = settle_slots(
        latest.values(), now=now, reason="the slot's other value was imported"
    )
    latest |= {memory.id: memory for memory in settled}
    fitted, fitted_changes = _fitted_in_time(list(latest.values()), now)
    changes = [*cuts.changes, *changes, *fitted_changes]
    ended_sooner = list({m.id: m for m in [*cuts.firsts, *settled, *fitted]}.values())
    by_id = {memory.id: memory for memory in ended_sooner}
    # The later stretches the cuts made are new memories, written with the export's.
    seconds = tuple(by_id.pop(m.id, latest[m.id]) for m in cuts.seconds)
    memories = tuple(by_id.pop(memory.id, memory) for memory in memories) + seconds
    [*found] = yield from call_memories(*(ListRelations(tenant, user) for user in users))
    known = [*relations, *(r for held in found for r in held)]
    ended = {
        relation.id: relation
        for memory in ended_sooner
        for relation in close_relations(known, [memory.id], memory.valid_to or now)
    }
    restated = stretch_relations(cuts.pairs, {m.id: m for m in seconds}, known, now)
    relations = (*(ended.pop(r.id, r) for r in relations), *ended.values(), *restated)
    every = {memory.id: memory for memory in [*stored, *memories, *ended_sooner]}
    successors = {
        m.id: successor for m in ended_sooner if (successor := _latest(m, every)) is not m
    }
    others = {m.user_id for m in by_id.values() if m.user_id} - {p.user_id for p in profiles}
    [*held] = yield from call_memories(*(GetProfile(tenant, user) for user in sorted(others)))
    updated = [handed_over(p, successors, now=now) for p in (*profiles, *held) if p is not None]
    # The export's profile is written whatever; a stored one, if it changed.
    written = tuple(p for p in updated if p.user_id not in others or p not in held)
    return _Settled(memories, tuple(by_id.values()), tuple(changes), relations, written)


def _latest(memory: Memory, memories: Mapping[str, Memory]) -> Memory:
    """The value that took over from `memory` last, following who retired whom (a value
    cut in two, `cut_slots`: the one said between retired its first stretch, and its later
    stretch retired that one), among `memories`; `memory` itself if none did."""
    seen = {memory.id}
    while (successor := memories.get(memory.superseded_by or "")) and successor.id not in seen:
        memory = successor
        seen.add(memory.id)
    return memory


def _slot_holders(
    tenant: str, users: Sequence[str], memories: Sequence[Memory], erasing: set[str]
) -> Flow[list[Memory]]:
    """The stored memories, not in `memories` nor `erasing`, of the slots `memories` fill
    for `users` (their retired values too, to fit the import's in time among them), and the
    current ones holding only while a value of one does (`TIED_TO`)."""
    imported = {memory.id for memory in memories} | erasing
    stored: dict[str, Memory] = {}
    for user in users:
        slots = {m.attribute for m in memories if m.user_id == user and m.attribute}
        wheres = [
            MemoryFilter(user_id=user, attributes=tuple(sorted(slots)), include_superseded=True)
        ]
        wheres += [MemoryFilter(user_id=user, metadata={TIED_TO: s}) for s in TIED_SLOTS & slots]
        for where in wheres:
            found = yield from every_memory(tenant, where)
            stored.update((m.id, m) for m in found if m.id not in imported)
    return list(stored.values())


def _fitted_in_time(
    memories: Sequence[Memory], now: datetime
) -> tuple[list[Memory], list[MemoryChange]]:
    """The slot values of `memories` (an import's and the store's, one current value per
    slot already) that end sooner once fitted in time among each other (`timeline.ends`, as
    revision fits a value learned late): two databases each knew part of the user's history
    ("Berlin" then "Oslo" in one, "Lisbon" said between them in the other), and each ended
    its values where it knew the next one began.

    Returns:
        The memories ended sooner (a current one retired), and their history entries.
    """
    found = [
        ended(end, now=now, why="imported")
        for values in by_slot(memories).values()
        for end in ends(values)
    ]
    return [memory for memory, _ in found], [change for _, change in found]


def _known_entities(
    tenant: str,
    memories: tuple[Memory, ...],
    entities: tuple[Entity, ...],
    relations: tuple[Relation, ...],
) -> Flow[tuple[tuple[Memory, ...], tuple[Entity, ...], tuple[Relation, ...]]]:
    """The export's records with each entity the store holds under another id (of the same
    user, name and kind: "Ana" imported into a database that knows her) replaced by the
    stored one, as an add would link it: else the user would have two of it."""
    users = sorted({entity.user_id for entity in entities if entity.user_id is not None})
    found = yield from call_memories(*(ListEntities(tenant, user) for user in users))
    stored = {entity.id for entities in found for entity in entities}
    known = {
        (entity.user_id, fold(name), entity.kind): entity.id
        for entities in found
        for entity in entities
        for name in (*entity.aliases, entity.name)
    }
    same = {
        entity.id: known[key]
        for entity in entities
        if entity.id not in stored
        and (key := (entity.user_id, fold(entity.name), entity.kind)) in known
    }
    if not same:
        return memories, entities, relations
    return (
        tuple(
            replace(
                memory,
                entity_ids=tuple(dict.fromkeys(same.get(e, e) for e in memory.entity_ids)),
            )
            for memory in memories
        ),
        tuple(entity for entity in entities if entity.id not in same),
        tuple(
            replace(
                relation,
                source_id=same.get(relation.source_id, relation.source_id),
                target_id=same.get(relation.target_id, relation.target_id),
            )
            for relation in relations
        ),
    )


def _kept_current(
    tenant: str,
    memories: tuple[Memory, ...],
    relations: tuple[Relation, ...],
    profile: UserProfile | None,
    erasures: _Erasures,
) -> Flow[tuple[tuple[Memory, ...], tuple[Relation, ...], UserProfile | None]]:
    """The export's records merged with what the store holds of them, as the import's
    `erasures` leave it (`_given_back`: what they retired given back, as `delete` gives
    it back): a stored memory keeps its provenance and its time (`_merged`), so one
    retired since the export (the user moved on after an earlier import of it) stays
    retired, and its relations ended; the stored profile keeps its fields, but those the
    export sets from memories current after the import. Else an old export imported again
    would leave two current values in a slot, and the profile saying the older one."""
    held = yield from _held(tenant, [memory.id for memory in memories])
    users = sorted({relation.user_id for relation in relations if relation.user_id})
    found = yield from call_memories(*(ListRelations(tenant, user) for user in users))
    known: UserProfile | None = None
    if profile is not None:
        [known] = yield from call_memories(GetProfile(tenant, profile.user_id))
    # Their audit is the export's: it holds the tombstones, so was taken after the erasure.
    times = {
        memory_id: op.at
        for op in erasures.ops
        if op.at and not forgotten_by_policy(op.reason)
        for memory_id in op.ids
    }
    store = _given_back(
        erasures.memories,
        list(held.values()),
        tuple(r for listed in found for r in listed),
        known,
        times,
    )
    stored = {memory.id: memory for memory in store.memories}
    kept = tuple(
        memory if (old := stored.get(memory.id)) is None else _merged(memory, old)
        for memory in memories
    )
    ends = {r.id: r.valid_to for r in store.relations if r.valid_to}
    relations = tuple(  # ending as the store's if that ends sooner, as their memories do
        replace(relation, valid_to=ends[relation.id])
        if relation.id in ends
        and (relation.valid_to is None or ends[relation.id] < relation.valid_to)
        else relation
        for relation in relations
    )
    known = store.profile
    if profile is None or known is None:
        return kept, relations, profile
    retired = {memory.id for memory in kept if not memory.is_current}
    fields, sources = dict(known.fields), dict(known.sources)
    for attribute, value in profile.fields.items():
        source = profile.sources.get(attribute)
        if source not in retired:
            fields[attribute] = value
            if source is not None:
                sources[attribute] = source
            else:
                sources.pop(attribute, None)
    merged = replace(
        profile,
        fields=fields,
        sources=sources,
        updated_at=max(profile.updated_at, known.updated_at),
        last_interaction_at=max(
            (t for t in (profile.last_interaction_at, known.last_interaction_at) if t),
            default=None,
        ),
    )
    return kept, relations, merged


def _merged(exported: Memory, stored: Memory) -> Memory:
    """The export's version of a memory the store holds, with the store's provenance too,
    the earliest start of the two and the sayings of both (`SAID_AGAIN`: a restatement
    the store learned since the export, as revision folds one in), ending as
    the store's if that ends sooner (`_ended_sooner`); changed when the later of the two
    was. Else restoring a backup into a database that kept learning would drop what it
    learned of the memory since."""
    memory = replace(
        exported,
        source_ids=union(stored.source_ids, exported.source_ids),
        valid_from=earliest(stored.valid_from, exported.valid_from),
        updated_at=max(stored.updated_at, exported.updated_at),
    )
    if _ended_sooner(stored, exported):
        memory = replace(
            memory,
            valid_to=stored.valid_to,
            superseded_at=stored.superseded_at,
            superseded_by=stored.superseded_by,
        )
    # A saying is of the stretch it was said in: those the store cut off (`timeline.cut`)
    # belong to the later stretch, past this one's end, and their provenance with them.
    every = (*sayings(stored), *sayings(exported))
    end = memory.valid_to
    both = [saying for saying in every if end is None or saying.at < end]
    if not both and not sayings(exported):
        return memory
    moved = {source for saying in every if saying not in both for source in saying.source_ids}
    kept = tuple(source for source in memory.source_ids if source not in moved)
    return replace(
        memory, metadata=with_sayings(memory.metadata, both), source_ids=kept or memory.source_ids
    )


def _ended_sooner(stored: Memory, exported: Memory) -> bool:
    """Whether the store's version of a memory ends before the export's: retired since the
    export was taken, or fitted in time by an import of it (`_fitted_in_time`)."""
    if exported.is_current and not stored.is_current:
        return True
    return stored.valid_to is not None and (
        exported.valid_to is None or stored.valid_to < exported.valid_to
    )


def _linkable(
    tenant: str, memories: tuple[Memory, ...], entities: Sequence[Entity]
) -> Flow[tuple[Memory, ...]]:
    """`memories` naming only entities the export or the store holds. The export of an
    agent's or a session's memories holds no entities: imported elsewhere, their links to
    the user's entities point nowhere and are dropped (the memories themselves are kept)."""
    named = {e for memory in memories for e in memory.entity_ids} - {e.id for e in entities}
    if not named:
        return memories
    [present] = yield from call_memories(ListEntities(tenant, ids=tuple(sorted(named))))
    missing = named - {entity.id for entity in present}
    return tuple(
        replace(memory, entity_ids=tuple(e for e in memory.entity_ids if e not in missing))
        for memory in memories
    )


def _held(tenant: str, ids: Sequence[str]) -> Flow[dict[str, Memory]]:
    """The memories of `ids` that `tenant` holds, by id (read a page at a time)."""
    held: dict[str, Memory] = {}
    for start in range(0, len(ids), _PAGE):
        [found] = yield from call_memories(GetMemories(tenant, tuple(ids[start : start + _PAGE])))
        held.update((memory.id, memory) for memory in found if memory is not None)
    return held


def _histories(tenant: str, ids: Sequence[str]) -> Flow[list[MemoryChange]]:
    """The audit histories of memories, one after the other."""
    history: list[MemoryChange] = []
    for start in range(0, len(ids), _PAGE):
        chunk = ids[start : start + _PAGE]
        changes = yield from call_memories(*(GetHistory(tenant, memory_id) for memory_id in chunk))
        history.extend(change for entries in changes for change in entries)
    return history


def parse_export(
    data: Mapping[str, Any], tenant: str, max_bytes: int, *, now: datetime
) -> tuple[_Records, tuple[_Tombstone, ...]]:
    """The records and tombstones of an export, checked field by field, for references
    and for the users they are of (`_check_owners`), in `tenant`; none learned after `now`
    (`_check_learned`).

    Raises:
        InvalidInputError: `data` is not an export, or a record of it is malformed.
    """
    check_export_format(data, _READ_FORMATS)
    latest = now + CLOCK_SKEW

    def parse(key: str, parse_one: Callable[[Mapping[str, Any], int], _Record]) -> list[_Record]:
        return _records(data, key, lambda item: _check_learned(parse_one(item, max_bytes), latest))

    memories = parse("memories", _memory)
    history = parse("history", _change)
    entities = parse("entities", _entity)
    relations = parse("relations", _relation)
    profile = (
        _record(
            "profile",
            data["profile"],
            lambda item: _check_learned(_profile(item, max_bytes), latest),
        )
        if data.get("profile")
        else None
    )
    tombstones = parse("tombstones", _tombstone)
    _check_references(memories, history, entities, relations, profile)
    _check_unique("tombstones", [tombstone.change for tombstone in tombstones])
    _check_owners(memories, entities, relations, profile, tombstones)
    records = (
        tuple(replace(memory, tenant=tenant) for memory in memories),
        tuple(replace(change, tenant=tenant) for change in history),
        tuple(replace(entity, tenant=tenant) for entity in entities),
        tuple(replace(relation, tenant=tenant) for relation in relations),
        replace(profile, tenant=tenant) if profile is not None else None,
    )
    return records, tuple(
        _Tombstone(t.user_id, replace(t.change, tenant=tenant)) for t in tombstones
    )


def _check_references(
    memories: Sequence[Memory],
    history: Sequence[MemoryChange],
    entities: Sequence[Entity],
    relations: Sequence[Relation],
    profile: UserProfile | None,
) -> None:
    """Refuse an export holding two records of one id, or records pointing at records it
    does not hold: a memory superseded by a missing memory, or (in a user's export, which
    holds the user's entities) naming a missing entity; a history entry of a missing
    memory; a relation between missing entities or stated by a missing memory; a profile
    field taken from a missing memory."""
    _check_unique("memories", memories)
    _check_unique("history", history)
    _check_unique("entities", entities)
    _check_unique("relations", relations)
    memory_ids = {memory.id for memory in memories}
    for index, change in enumerate(history):
        if change.memory_id not in memory_ids:
            raise InvalidInputError(
                f"malformed memory export: history[{index}] (id {change.id!r}) is of memory "
                f"{change.memory_id!r}, which the export does not hold"
            )
    entity_ids = {entity.id for entity in entities}
    for memory in memories:
        if memory.superseded_by is not None and memory.superseded_by not in memory_ids:
            raise InvalidInputError(
                f"malformed memory export: memory {memory.id!r} is superseded by "
                f"{memory.superseded_by!r}, which the export does not hold"
            )
        ghosts = [e for e in memory.entity_ids if e not in entity_ids]
        if entities and ghosts:
            raise InvalidInputError(
                f"malformed memory export: memory {memory.id!r} names entity {ghosts[0]!r},"
                " which the export does not hold"
            )
    sources = profile.sources.items() if profile is not None else ()
    for field, source in sources:
        if source != EDITED and source not in memory_ids:
            raise InvalidInputError(
                f"malformed memory export: profile field {field!r} is taken from memory "
                f"{source!r}, which the export does not hold"
            )
    for relation in relations:
        missing = [
            f"entity {end!r}"
            for end in (relation.source_id, relation.target_id)
            if end not in entity_ids
        ]
        if relation.memory_id is not None and relation.memory_id not in memory_ids:
            missing.append(f"memory {relation.memory_id!r}")
        if missing:
            raise InvalidInputError(
                f"malformed memory export: relation {relation.id!r} refers to "
                f"{' and '.join(missing)}, which the export does not hold"
            )


def _check_owners(
    memories: Sequence[Memory],
    entities: Sequence[Entity],
    relations: Sequence[Relation],
    profile: UserProfile | None,
    tombstones: Sequence[_Tombstone],
) -> None:
    """Refuse an export holding a record of another user than the one it belongs with.

    An export's users are those its memories and tombstones are of (an export of a user
    alone holds only theirs), or, if it holds neither (a user whose profile was only
    edited by hand), the user of its profile, or of its first entity or relation. Each
    entity, relation and the profile must be of one of them; and of the same user as what
    it is tied to: a relation as the memory stating it and the entities it joins, a profile
    field as the memory it is taken from, a memory as the entities it names, a tombstone
    as the memory it is of. Else the import would store a user's data under another user,
    beyond the reach of the first one's erasure (`delete_user`)."""
    owned: list[tuple[str, str | None]] = []
    if profile is not None:
        owned.append(("the profile", profile.user_id))
    owned += [
        *((f"entity {entity.id!r}", entity.user_id) for entity in entities),
        *((f"relation {relation.id!r}", relation.user_id) for relation in relations),
    ]
    users = {memory.user_id for memory in memories if memory.user_id is not None}
    users |= {tombstone.user_id for tombstone in tombstones}
    users = users or {user for _, user in owned[:1] if user is not None}
    for what, user in owned:
        if user not in users:
            raise InvalidInputError(
                f"malformed memory export: {what} is of {_user(user)}, but the export is of "
                f"{' and '.join(_user(user) for user in sorted(users)) or 'no user'}"
            )
    for tie in _ties(memories, entities, relations, profile, tombstones):
        if tie.user_id != tie.owner:
            raise InvalidInputError(
                f"malformed memory export: {tie.what} is of {_user(tie.user_id)}, but "
                f"the {tie.tied} is of {_user(tie.owner)}"
            )


class _Tie(NamedTuple):
    """A record of the export and one it is tied to, which must be of the same user."""

    what: str
    user_id: str | None
    tied: str
    """The other record, as an error names it after "the" ("memory stating it ('m1')")."""
    owner: str | None
    """The user of the other record."""


def _ties(
    memories: Sequence[Memory],
    entities: Sequence[Entity],
    relations: Sequence[Relation],
    profile: UserProfile | None,
    tombstones: Sequence[_Tombstone],
) -> Iterator[_Tie]:
    """Each record of the export tied to another it holds, which must be of the same user
    (`_check_owners`; the references themselves are checked by `_check_references`)."""
    of_memory = {memory.id: memory.user_id for memory in memories}
    of_entity = {entity.id: entity.user_id for entity in entities}
    for memory in memories:
        for e in memory.entity_ids:
            if e in of_entity:
                yield _Tie(
                    f"memory {memory.id!r}",
                    memory.user_id,
                    f"entity it names ({e!r})",
                    of_entity[e],
                )
    for relation in relations:
        what = f"relation {relation.id!r}"
        for end in (relation.source_id, relation.target_id):
            if end in of_entity:
                yield _Tie(what, relation.user_id, f"entity it joins ({end!r})", of_entity[end])
        if (source := relation.memory_id) in of_memory:
            yield _Tie(what, relation.user_id, f"memory stating it ({source!r})", of_memory[source])
    sources = profile.sources.items() if profile is not None else ()
    for field, source in sources:
        if profile is not None and source in of_memory:
            taken = f"memory its field {field!r} is taken from ({source!r})"
            yield _Tie("the profile", profile.user_id, taken, of_memory[source])
    for tombstone in tombstones:
        if (gone := tombstone.change.memory_id) in of_memory:
            yield _Tie(
                f"the tombstone of memory {gone!r}",
                tombstone.user_id,
                "memory itself",
                of_memory[gone],
            )


def _user(user_id: str | None) -> str:
    """How an error names the user a record is of."""
    return "no user" if user_id is None else f"user {user_id!r}"


def _check_unique(key: str, records: Sequence[Memory | MemoryChange | Entity | Relation]) -> None:
    """Refuse two records of one id in a list of the export (the second would silently
    replace the first, or the import fail in the store without naming either)."""
    if repeat := first_repeat(record.id for record in records):
        index, first = repeat
        raise InvalidInputError(
            f"malformed memory export: {key}[{index}] repeats the id {records[index].id!r} "
            f"of {key}[{first}]"
        )


def _records(
    data: Mapping[str, Any], key: str, parse: Callable[[Mapping[str, Any]], _Record]
) -> list[_Record]:
    """The records of a list of the export, each parsed and checked."""
    items = data.get(key) or []
    if not isinstance(items, list):
        raise InvalidInputError(f"malformed memory export: {key!r} is not a list")
    return [_record(f"{key}[{index}]", item, parse) for index, item in enumerate(items)]


def _record(where: str, item: Any, parse: Callable[[Mapping[str, Any]], _Record]) -> _Record:
    """One record of the export, parsed; an error says which record."""
    if not isinstance(item, Mapping):
        raise InvalidInputError(f"malformed memory export: {where} is not an object")
    named = f" (id {item['id']!r})" if isinstance(item.get("id"), str) else ""
    try:
        check_no_nul(item)
        return parse(item)
    except InvalidInputError as exc:
        raise InvalidInputError(f"malformed memory export: {where}{named}: {exc}") from exc
    except RecursionError as exc:  # metadata nested deeper than anything can walk it
        raise InvalidInputError(
            f"malformed memory export: {where}{named}: nested too deeply"
        ) from exc


_LEARNED_AT = (
    "recorded_at",
    "created_at",
    "updated_at",
    "superseded_at",
    "last_accessed_at",
    "last_interaction_at",
    "at",
)
"""The times of an export's records at which Engram learned, recorded, changed, retired or
recalled something (a history entry's `at`), which cannot lie ahead of the importing clock
(`_check_learned`). Not `valid_from` and `valid_to`: a fact may hold from a time to come
("I start at Google in July", said in June)."""


def _check_learned(record: _Record, latest: datetime) -> _Record:
    """`record`, refused if one of its `_LEARNED_AT` times lies past `latest` (now and
    `CLOCK_SKEW`), as `add` refuses a message dated so; the error names the field."""
    checked = record.change if isinstance(record, _Tombstone) else record
    for field in _LEARNED_AT:
        moment = getattr(checked, field, None)
        if moment is not None and moment > latest:
            raise InvalidInputError(
                f"{field} is {moment.isoformat()}, in the future: a time Engram learned "
                f"something at may be at most {CLOCK_SKEW.days} day past now "
                f"({(latest - CLOCK_SKEW).isoformat()})"
            )
    return record


def _memory(item: Mapping[str, Any], max_bytes: int) -> Memory:
    """A memory of the export, its text, scope and metadata (the caller's keys: Engram's
    own grow with what is said) checked as `add` checks them."""
    memory = Memory.from_dict(item)
    checked_memory(memory.tenant, memory)  # the store's checks, here to name the record
    check_identifier(memory.id, "id")
    check_text(memory.text, "text", max_bytes=max_bytes)
    callers = {k: v for k, v in memory.metadata.items() if k not in ENGRAM_METADATA_KEYS}
    check_json_object(callers, "metadata")
    scope = {
        "user_id": memory.user_id,
        "agent_id": memory.agent_id,
        "session_id": memory.session_id,
    }
    # The API scopes every memory: an unscoped one would be beyond the reach of every
    # search, list and delete_all(scope).
    if all(value is None for value in scope.values()):
        raise InvalidInputError("no user_id, agent_id or session_id")
    for what, value in scope.items():
        if value is not None:
            check_identifier(value, what)
    return memory


def _change(item: Mapping[str, Any], max_bytes: int) -> MemoryChange:
    """A history entry of the export, checked as the store checks it, its texts no larger
    than a memory's."""
    change = MemoryChange.from_dict(item)
    checked_change(change.tenant, change)
    check_identifier(change.id, "id")
    for what in ("old_text", "new_text", "reason"):
        if isinstance(text := getattr(change, what), str):
            check_text(text, what, max_bytes=max_bytes)
    return change


def _tombstone(item: Mapping[str, Any], max_bytes: int) -> _Tombstone:
    """A tombstone of the export, checked as the store checks it (`PutTombstones`: action
    `delete`, no text), as a history entry of the export otherwise, and the user it is of."""
    change = _change(item, max_bytes)
    checked_tombstone(change.tenant, change)
    return _Tombstone(check_identifier(item.get("user_id"), "user_id"), change)


def _entity(item: Mapping[str, Any], max_bytes: int) -> Entity:
    """An entity of the export, checked as the store checks it, its names no larger than a
    memory's text."""
    entity = Entity.from_dict(item)
    checked_entity(entity.tenant, entity)
    check_identifier(entity.id, "id")
    for name in (entity.name, *entity.aliases):
        check_text(name, "name", max_bytes=max_bytes)
    return entity


def _relation(item: Mapping[str, Any], max_bytes: int) -> Relation:
    """A relation of the export, checked as the store checks it."""
    relation = Relation.from_dict(item)
    checked_relation(relation.tenant, relation)
    check_identifier(relation.id, "id")
    check_text(relation.relation, "relation", max_bytes=max_bytes)
    return relation


def _profile(item: Mapping[str, Any], max_bytes: int) -> UserProfile:
    """The profile of the export, checked as the store checks it and its fields as
    `update_profile` checks them: names of at most `MAX_IDENTIFIER_LENGTH` characters,
    values no larger than a memory's text."""
    profile = UserProfile.from_dict(item)
    checked_profile(profile.tenant, profile)
    check_profile_fields(profile.fields, max_bytes)
    return profile
