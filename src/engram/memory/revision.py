"""Belief revision: what a new memory does to the similar ones already stored.

`decide(new, similar, now=...)` is the cheap, non-LLM pass. Given the new memory (built from a
candidate with `Candidate.to_memory()`) and the current memories most similar to it (with their
cosine similarity), it returns a `Decision`:

- `noop` (duplicate: same slot value, equal text, or cosine >= 0.92 with the same figures,
  i.e. numbers, dates and codes): nothing new is stored; the existing memory gets the new
  provenance appended, and for a slot value, the saying (`timeline.SAID_AGAIN`).
- `update` (refinement: the same slot with a value that extends the old one, or a close memory
  whose key terms the new text contains and extends): the existing memory is rewritten in
  place; its history keeps the old text.
- `supersede` (contradiction: the same single-valued slot with another value, or a negation
  such as "no longer", "not anymore", "moved from X to Y" against a matching memory): the new
  memory is added and the old one gets `valid_to` (the new one's `valid_from`, else now),
  `superseded_at` and `superseded_by`. Nothing is deleted, so "as of" queries still find it.
  A slot *ending* (value `none`, naming the value it ends in `metadata["negates"]`: "I don't
  live in Paris anymore") retires only the current value it names, never another one ("I
  don't live in Rome anymore" leaves Paris current); naming none of them, it is a plain fact.
  An ending said anew in other words ("I'm unemployed", then "I'm retired") retires the one
  before, as a new value would.
  A change whose slot the words left open (`metadata["guessed"]`: "I switched from Google to
  Meta") fills the slot, its own or another among the neighbours, whose current value it
  names, and is a plain fact otherwise. A correction naming no old value ("Oops, I meant
  Braga", the extractor not knowing the turn before it) corrects the one slot value its
  session stated just before (`BARE_CORRECTION_WINDOW`), and is a plain fact otherwise. A
  partner said again with a role further on ("My girlfriend is Ana", then "Ana and I got
  married") supersedes the old role. A retired slot value also retires the current
  memories that held only while it did (`tied_to`: "I love living in Porto" once the user
  moved), and a memory whose words state its end (`metadata["valid_to"]`: "I lived in
  Braga until 2019") is stored with that end. Whatever order a slot's values are learned
  in, each is fitted in time among the slot's retired values, the user's latest word
  winning over its span (`timeline.ends`), so "as of" any time one value held (a past
  span said after the current value it overlaps cuts it in two, `_overlapped_by`); a value
  said before and after the new one (said again since it was first said) is cut in two
  around it first (`timeline.cut`, `_cut_by`), by an ending of it too.
- `add`: nothing related; when the best match sits in the grey zone (0.80 <= cosine < 0.92)
  with no slot signal, the decision is `add` with `ambiguous_with` set, and
  `revision_verdict.decision_flow()` asks the LLM (one tiny JSON prompt, within the budget)
  to settle it.

Episodes are only compared with episodes (a re-ingested message is a duplicate), never revised
against facts: they record what was said, when. Decisions are pure: the caller persists
`inserts`, `updates` and `changes`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal, NamedTuple

from engram._ids import new_id
from engram.memory._phrases import partner_stage
from engram.memory.bm25 import stem
from engram.memory.candidates import NO_VALUE, TIED_TO
from engram.memory.entities import fold
from engram.memory.texts import SESSION_KEY
from engram.memory.timeline import (
    End,
    began,
    cut,
    ends,
    first_saying,
    said,
    said_again,
    sayings,
    slot_value,
    with_said_at,
    with_sayings,
)
from engram.types._memory import Memory, MemoryChange

__all__ = [
    "Cuts",
    "Decision",
    "RevisionAction",
    "RevisionPolicy",
    "by_slot",
    "cut_slots",
    "decide",
    "earliest",
    "ended",
    "figures",
    "key_terms",
    "polarity",
    "refitted",
    "resolve_ambiguous",
    "retired",
    "SlotKey",
    "settle_slots",
    "slot_key",
    "union",
]

RevisionAction = Literal["add", "noop", "update", "supersede"]

_WORD = re.compile(r"[a-z0-9][a-z0-9'-]*")
_STOPWORDS = frozenset(
    """a an the and or but of to in on at for with from by as is are was were be been being am
    has have had do does did not no never very so too also just really still now then than
    that this these those it its it's they them their theirs he she his her him i me my we us
    our you your user user's about into over some any all more most much many one would could
    should will can may might must there here what which who whom when where why how
    longer anymore more again used""".split()
)
_NEGATING_WORDS = frozenset(
    "no not never none non longer anymore quit stopped former ex don't doesn't isn't".split()
)
_NEGATION = re.compile(
    r"\b(?:no\s+longer|not\s+any\s?more|n't\s+\w+(?:\s+\w+)?\s+any\s?more|stopped|quit|"
    r"gave\s+up|moved\s+(?:away\s+)?from|used\s+to|ex-|former(?:ly)?|broke\s+up\s+with|"
    r"divorced|left)\b",
    re.IGNORECASE,
)


_SAYS_NOT = re.compile(r"\b(?:not|never|no)\b|n't\b", re.IGNORECASE)
"""A plain negation: "Ana is not allergic", "I don't eat meat", "I have no pets"."""


@dataclass(frozen=True, slots=True)
class RevisionPolicy:
    """The cosine thresholds of the cheap pass (tuned for MiniLM-class sentence embeddings)."""

    duplicate: float = 0.92
    """At or above: the same memory (no-op, provenance appended)."""
    related: float = 0.80
    """From here up to `duplicate`: a refinement if the key terms say so, else ambiguous."""
    negation: float = 0.55
    """A negation supersedes a memory this similar (or one containing the negated terms)."""


DEFAULT_POLICY = RevisionPolicy()


@dataclass(frozen=True, slots=True)
class Decision:
    """What to write for one new memory. Pure: the caller persists it."""

    action: RevisionAction
    memory: Memory
    """The memory that now holds the information: the new one (add, supersede) or the
    existing one it was folded into (noop, update), after the change."""
    inserts: tuple[Memory, ...] = ()
    """Memories to insert."""
    updates: tuple[Memory, ...] = ()
    """Existing memories to rewrite (same id)."""
    changes: tuple[MemoryChange, ...] = ()
    """Audit entries to append."""
    target: Memory | None = None
    """The existing memory involved, as it was before the decision."""
    reason: str = ""
    ambiguous_with: Memory | None = None
    """For an `add` in the grey zone: the memory an LLM should compare it with."""
    stretches: tuple[tuple[str, str], ...] = ()
    """Memories the new one cut in two (`timeline.cut`): each one's id, and the id of its
    later stretch (among `inserts`), which states what it stated (its relations too)."""


def key_terms(text: str) -> frozenset[str]:
    """The content words of `text` (lower case, no stop words, no negation words)."""
    words = _WORD.findall(fold(text))
    return frozenset(word.removesuffix("'s") for word in words if word not in _STOPWORDS)


def _stems(text: str) -> frozenset[str]:
    """The stems of `text`'s content words, its negations left out ("doesn't like jazz"
    and "likes jazz" say the same words)."""
    return frozenset(stem(word) for word in key_terms(text) if not word.endswith("n't"))


def figures(text: str) -> frozenset[str]:
    """The words of `text` holding a digit: amounts, dates, codes ("5", "50mg", "x1234567").

    Two texts alike but for one of these say different things ("I take 5 mg" / "50 mg",
    "Invoice 1001" / "1002"), however close their vectors: they are never duplicates.
    """
    return frozenset(_figure_counts(text))


def _figure_counts(text: str) -> Counter[str]:
    """How often each figure of `text` occurs: a refinement keeps every one of the old
    text's ("Room 0 has chair 0" is not refined by "Room 0 has chair 1", though its words
    are all there)."""
    return Counter(word for word in _WORD.findall(fold(text)) if any(c.isdigit() for c in word))


def _subject(memory: Memory) -> str | None:
    subject = memory.metadata.get("subject")
    return fold(subject) if isinstance(subject, str) else None


def union(first: Iterable[str], second: Iterable[str]) -> tuple[str, ...]:
    """The ids of both, each once, in order (provenance merged)."""
    return tuple(dict.fromkeys((*first, *second)))


def earliest(first: datetime | None, second: datetime | None) -> datetime | None:
    """The earlier of two optional times (None: unknown, so the other)."""
    if first is None or second is None:
        return first or second
    return min(first, second)


def _change(memory: Memory, action: Any, now: datetime, reason: str, **fields: Any) -> MemoryChange:
    return MemoryChange(
        memory_id=memory.id, action=action, reason=reason, tenant=memory.tenant, at=now, **fields
    )


def _added(new: Memory, now: datetime, reason: str, related: Memory | None = None) -> Decision:
    change = _change(
        new,
        "add",
        now,
        reason,
        new_text=new.text,
        source_ids=new.source_ids,
        related_id=related.id if related else None,
    )
    return Decision("add", new, inserts=(new,), changes=(change,), target=related, reason=reason)


def _said_anew(new: Memory, old: Memory) -> bool:
    """Whether `new` restates the slot value of `old` in a message it does not hold yet (a
    message ingested again says nothing anew), at another time than it was first said:
    a saying `_sayings_with` records."""
    return (
        (old.attribute or new.attribute) is not None
        and not set(new.source_ids) <= set(old.source_ids)
        and said(new)[0] != old.recorded_at
    )


def _sayings_with(new: Memory, old: Memory, metadata: Mapping[str, Any]) -> Memory:
    """`old` (with `metadata`) recording `new`, said anew (`_said_anew`), among the sayings
    of its value (`timeline.SAID_AGAIN`): a later saying, the user's latest word on the slot
    if the last; or, said before it was first said (an older chat replayed), its first
    saying, so recorded then, the first one a later saying."""
    at = said(new)[0]
    if at > old.recorded_at:
        return replace(old, metadata=said_again(replace(old, metadata=metadata), new))
    restated = with_sayings(metadata, [*sayings(old), first_saying(old)])
    return replace(old, metadata=with_said_at(restated, at), recorded_at=at)


def _duplicate(new: Memory, old: Memory, now: datetime, reason: str) -> Decision:
    """No-op: `old` already says it; append the new provenance (if any is new), and for a
    slot value said anew, when and by which messages (`_sayings_with`)."""
    sources = union(old.source_ids, new.source_ids)
    valid_from = earliest(old.valid_from, new.valid_from)
    adopt_slot = old.attribute is None and new.attribute is not None
    if sources == old.source_ids and valid_from == old.valid_from and not adopt_slot:
        return Decision("noop", old, target=old, reason=reason)
    metadata = {**new.metadata, **old.metadata} if adopt_slot else old.metadata
    stated = replace(old, metadata=metadata)
    if _said_anew(new, old):
        stated = _sayings_with(new, old, metadata)
    kept = replace(
        stated,
        source_ids=sources,
        valid_from=valid_from,
        updated_at=now,
        entity_ids=union(old.entity_ids, new.entity_ids),
        attribute=old.attribute or new.attribute,
    )
    change = _change(
        old,
        "update",
        now,
        f"{reason}; provenance appended",
        old_text=old.text,
        new_text=old.text,
        source_ids=new.source_ids,
        related_id=new.id,
    )
    return Decision("noop", kept, updates=(kept,), changes=(change,), target=old, reason=reason)


def _refine(new: Memory, old: Memory, now: datetime, reason: str) -> Decision:
    """Update: rewrite `old` in place with the more precise text of `new`; a slot value
    refined later than it was first said is said again then ("Lisbon", then "Lisbon,
    Portugal": `timeline.said_again`)."""
    metadata = {**old.metadata, **new.metadata}
    if _said_anew(new, old) and said(new)[0] > old.recorded_at:
        metadata = said_again(replace(old, metadata=metadata), new)
    kept = replace(
        old,
        text=new.text,
        attribute=new.attribute or old.attribute,
        metadata=metadata,
        importance=max(old.importance, new.importance),
        source_ids=union(old.source_ids, new.source_ids),
        entity_ids=union(old.entity_ids, new.entity_ids),
        valid_from=old.valid_from or new.valid_from,
        updated_at=now,
    )
    change = _change(
        old,
        "update",
        now,
        reason,
        old_text=old.text,
        new_text=new.text,
        source_ids=new.source_ids,
        related_id=new.id,
    )
    return Decision("update", kept, updates=(kept,), changes=(change,), target=old, reason=reason)


def _retired_at(memory: Memory, now: datetime) -> datetime:
    """When `memory` is retired by a change recorded at `now`: then, but never before it was
    recorded itself (a replay may record an older statement after a newer one)."""
    return max(now, memory.recorded_at)


def retired(memory: Memory, *, end: datetime, now: datetime, by: str | None = None) -> Memory:
    """`memory` retired by a change recorded at `now` (superseded by `by`, if a memory): true
    until `end`, but never ending before it began (a value corrected from its start never
    held), and retired no earlier than it was recorded."""
    if memory.valid_from is not None and end < memory.valid_from:
        end = memory.valid_from
    at = _retired_at(memory, now)
    return replace(memory, valid_to=end, superseded_at=at, superseded_by=by, updated_at=at)


def _retire(old: Memory, new: Memory, now: datetime, reason: str) -> tuple[Memory, MemoryChange]:
    retired_old = retired(old, end=new.valid_from or now, now=now, by=new.id)
    change = _change(
        old,
        "supersede",
        now,
        f"contradicted by {new.id}: {reason}",
        old_text=old.text,
        new_text=new.text,
        related_id=new.id,
        source_ids=new.source_ids,
    )
    return retired_old, change


def _filed_as_history(new: Memory, newest: Memory, now: datetime, reason: str) -> Decision:
    """Add `new`, an older value learned after the current one `newest`, as history: true
    from its start until `newest` began (never before its own start: if `newest` began
    first, it never held), retired when `newest` was said (`said`: its hand edit, if one
    set it later; or now, if a replay recorded that one later)."""
    end = newest.valid_from
    if end is not None and new.valid_from is not None:
        end = max(end, new.valid_from)
    past = replace(
        new,
        valid_to=end,
        superseded_at=max(now, said(newest)[0]),
        superseded_by=newest.id,
    )
    return _added(past, now, reason, newest)


def _supersede(new: Memory, olds: Sequence[Memory], now: datetime, reason: str) -> Decision:
    """Contradiction: add `new`, retire `olds` (or file `new` as history if it is older).

    Which value is current goes by when each was said, then by when each began: the user's
    latest word wins. "I moved to Lisbon last month" said after "I live in Porto" makes Lisbon
    current even though it began before Porto was mentioned (Porto's validity is then empty);
    only an older message, replayed after the current value was learned, is history.
    """
    newest = max(olds, key=said)
    if said(new) < said(newest):
        return _filed_as_history(new, newest, now, f"{reason}; older than the current value")
    retired: list[Memory] = []
    changes: list[MemoryChange] = []
    for old in olds:
        memory, change = _retire(old, new, now, reason)
        retired.append(memory)
        changes.append(change)
    added = _change(
        new, "add", now, reason, new_text=new.text, source_ids=new.source_ids, related_id=newest.id
    )
    return Decision(
        "supersede",
        new,
        inserts=(new,),
        updates=tuple(retired),
        changes=(added, *changes),
        target=newest,
        reason=reason,
    )


SlotKey = tuple[str | None, str | None, str, str | None]
"""A slot: its owner (user, else agent), attribute and subject (None: the owner)."""


def slot_key(memory: Memory) -> SlotKey | None:
    """The slot `memory` fills, current or retired, if one: its owner (its user, else its
    agent, as `_comparable` owns), attribute and subject."""
    if memory.attribute is None:
        return None
    agent = memory.agent_id if memory.user_id is None else None
    return memory.user_id, agent, memory.attribute, _subject(memory)


def by_slot(
    memories: Iterable[Memory], key: Callable[[Memory], SlotKey | None] = slot_key
) -> dict[SlotKey, list[Memory]]:
    """`memories` grouped by the slot `key` says each fills (default: `slot_key`, current
    or retired), in their order; those of no slot are left out."""
    slots: dict[SlotKey, list[Memory]] = {}
    for memory in memories:
        if (slot := key(memory)) is not None:
            slots.setdefault(slot, []).append(memory)
    return slots


def _slot_of(memory: Memory) -> SlotKey | None:
    """The slot a current memory holds, if one."""
    if memory.valid_to is not None or memory.superseded_at:
        return None
    return slot_key(memory)


def settle_slots(
    memories: Iterable[Memory], *, now: datetime, reason: str
) -> tuple[list[Memory], list[MemoryChange]]:
    """One current value per slot, where records from elsewhere (an import) put several
    current memories in one: the latest said stays, those of other values are retired by it
    as a contradiction retires them (`_supersede`), and so are the memories that held only
    while a retired value did ("loves living in Tokyo"). Those of its value are duplicates,
    not contradictions: they stay (`consolidate` merges them).

    Returns:
        The memories retired, and their `supersede` history entries.
    """
    given = list(memories)
    replaced: list[tuple[Memory, Memory]] = []  # (retired value, the value retiring it)
    for holders in by_slot(given, _slot_of).values():
        newest = max(holders, key=lambda memory: (said(memory), memory.id))
        value = slot_value(newest)
        replaced += [(old, newest) for old in holders if slot_value(old) != value]
    retiring = {old.id for old, _ in replaced}
    for memory in given:
        if memory.id not in retiring and memory.valid_to is None and not memory.superseded_at:
            tied = next((pair for pair in replaced if _tied_to(memory, pair[0])), None)
            if tied is not None:
                replaced.append((memory, tied[1]))
    pairs = [_retire(old, newest, now, reason) for old, newest in replaced]
    return [memory for memory, _ in pairs], [change for _, change in pairs]


def _extends(new_value: str, old_value: str) -> bool:
    """True if `new_value` keeps every word of `old_value` and adds some ("Lisbon, Portugal"),
    none of them a negation ("not allergic" does not extend "allergic")."""
    old_words, new_words = set(_WORD.findall(old_value)), set(_WORD.findall(new_value))
    added = new_words - old_words
    return bool(old_words) and old_words < new_words and not added & _NEGATING_WORDS


def _stage(memory: Memory) -> int:
    """How far on the partner of a `partner` memory is, by its role (its words, for one
    stored without): see `partner_stage`."""
    role = memory.metadata.get("role")
    if isinstance(role, str):
        return partner_stage(role)
    return max((partner_stage(word) for word in _WORD.findall(fold(memory.text))), default=0)


def _ended_before_said(new: Memory) -> bool:
    """Whether `new` is a value of its slot that ended by when it was said ("I lived in
    Porto from 2019 to 2021", "... until 2019": its stated end, `_with_stated_end`)."""
    end = new.valid_to
    return (
        new.attribute is not None
        and end is not None
        and end <= said(new)[0]
        and slot_value(new) != NO_VALUE
    )


def _past_value(
    new: Memory, pool: Sequence[tuple[Memory, float]], holders: Sequence[Memory], now: datetime
) -> Decision:
    """`new`, a value of its slot that ended before it was said, added as the slot's
    history: true over its span (of unknown start: up to its end, `timeline.began`),
    retiring no current value (a stay that ended is no current value: "I lived in Porto
    from 2019 to 2021" does not say the user left Lisbon), fitted among the slot's retired
    values (`_fitted_in_history`). The same span said again (same text, start and end) adds its
    provenance; nothing else absorbs it (an open-ended "used to live in Porto" taking its
    slot would make Porto a current home).

    Over a span where a current value held too, the value said later wins: said after it,
    `new` cuts that one in two (`_overlapped_by`, before this); said before it (an old
    chat replayed), `new` ends where that one began."""
    text, span = fold(new.text), (new.valid_from, new.valid_to)
    for old, _cosine in pool:
        if fold(old.text) == text and (old.valid_from, old.valid_to) == span:
            return _duplicate(new, old, now, f"same past {new.attribute}")
    newest = max(holders, key=lambda old: (said(old), old.id), default=None)
    reason = f"past {new.attribute}, ended before it was said"
    start = min((began(old) for old in holders if said(new) < said(old)), default=None)
    if start is not None and new.valid_to is not None and start < new.valid_to:
        new = replace(new, valid_to=max(began(new), start))
        reason = f"{reason}; up to when the value said after it began"
    return _added(new, now, reason, newest)


def _slot_decision(new: Memory, holders: Sequence[Memory], now: datetime) -> Decision:
    value = slot_value(new)
    for old in holders:
        if slot_value(old) == value:
            if new.attribute == "partner" and _stage(new) > _stage(old) > 0:
                # "My girlfriend is Ana", then "Ana and I got married": Ana is a wife now
                return _supersede(new, [old], now, "partner's role changed")
            if value == NO_VALUE and fold(new.text) != fold(old.text):
                # "I'm unemployed", then "I'm retired": the slot is still empty, but the
                # latest word on why is the one true now
                return _supersede(new, [old], now, f"{new.attribute} ended anew")
            return _duplicate(new, old, now, f"same {new.attribute}")
    for old in holders:
        if _extends(value, slot_value(old)):
            return _refine(new, old, now, f"{new.attribute} refined")
    return _supersede(new, holders, now, f"new {new.attribute}")


def _holds(memory: Memory, value: str) -> bool:
    """Whether `memory`'s slot value is `value` ("Google" holds "Google Inc", and back)."""
    held = slot_value(memory)
    if held == NO_VALUE:
        return False
    if held == fold(value):
        return True
    wanted, have = key_terms(value), key_terms(held)
    return bool(wanted and have) and (wanted <= have or have <= wanted)


def _is_conditional(new: Memory) -> bool:
    """An ending naming the value it ends ("I left Google") or a guessed change: what it
    does depends on that value being current. ("I quit my job", naming none, ends any.)"""
    guessed = bool(new.metadata.get("guessed"))
    return "negates" in new.metadata and (slot_value(new) == NO_VALUE or guessed)


def _conditional_decision(
    new: Memory, holders: Sequence[Memory], pool: Sequence[tuple[Memory, float]], now: datetime
) -> Decision:
    """Retire the current value `new` names; if none holds it, keep `new` as a plain fact,
    out of the slot: a slot it joined would lose the value it did not name. A guessed change
    filed under a slot is stated as the slot states its values (`restated`); a correction
    ("I meant Lisbon, not Porto": `corrects`) holds from when the value it corrects was said
    to, which so never held (its validity ends where it starts)."""
    negated = str(new.metadata["negates"])
    named = [old for old in holders if _holds(old, negated)]
    if not named and new.metadata.get("guessed"):
        other = next(
            (
                old
                for old, _cosine in pool  # best first
                if old.attribute is not None
                and old.valid_to is None
                and _subject(old) == _subject(new)
                and _holds(old, negated)
            ),
            None,
        )
        if other is not None:
            new, named = replace(new, attribute=other.attribute), [other]
    restated = new.metadata.get("restated") or {}
    if named and new.metadata.get("corrects"):  # the old value never held: the new one did
        starts = [old.valid_from for old in named if old.valid_from is not None]
        new = replace(new, valid_from=min(starts, default=new.valid_from))
    if named:
        how = "ended" if slot_value(new) == NO_VALUE else "replaced"
        filed = replace(
            new,
            text=restated.get(new.attribute, new.text),
            metadata={key: value for key, value in new.metadata.items() if key != "restated"},
        )
        return _supersede(filed, named, now, f"{new.attribute} {negated} {how}")
    return _plain(new, pool, now, f"names no current {new.attribute}")


def _plain(
    new: Memory, pool: Sequence[tuple[Memory, float]], now: datetime, reason: str
) -> Decision:
    """`new` kept out of its slot, as a plain fact (a duplicate of one with its text)."""
    metadata = {k: v for k, v in new.metadata.items() if k not in ("value", "restated")}
    kind = "fact" if new.kind == "profile" else new.kind
    plain = replace(new, attribute=None, kind=kind, metadata=metadata)
    for old, _cosine in pool:
        if fold(old.text) == fold(plain.text):
            return _duplicate(plain, old, now, "same text")
    return _added(plain, now, reason)


BARE_CORRECTION_WINDOW = timedelta(minutes=30)
"""How soon after a slot value a correction naming no old value ("Oops, I meant Braga") must
come, in its session, to correct it: a correction is of what was just said."""


def _session(memory: Memory) -> str | None:
    session = memory.metadata.get(SESSION_KEY)
    return session if isinstance(session, str) else memory.session_id


def _is_bare_correction(new: Memory) -> bool:
    return bool(new.metadata.get("corrects")) and "negates" not in new.metadata


def _naming_the_corrected(new: Memory, pool: Sequence[tuple[Memory, float]]) -> Memory | None:
    """A bare correction ("Oops, I meant Braga", said in a later add than what it corrects)
    naming the value it corrects: the one slot value of its sort (a diet for a diet, else a
    name) its session stated last, within `BARE_CORRECTION_WINDOW` before it; None if there
    is none, or more than one."""
    diet = new.attribute == "diet"
    stated = [
        old
        for old, _cosine in pool
        if old.attribute is not None
        and old.valid_to is None
        and old.kind != "episode"
        and _subject(old) == _subject(new)
        and _session(old) == _session(new)
        and (old.attribute == "diet") == diet
        and slot_value(old) != NO_VALUE
        and (diet or str(old.metadata.get("value", ""))[:1].isupper())
        and timedelta(0) <= new.recorded_at - old.recorded_at <= BARE_CORRECTION_WINDOW
    ]
    if not stated:
        return None
    last = max(old.recorded_at for old in stated)
    latest = {(old.attribute, slot_value(old)): old for old in stated if old.recorded_at == last}
    if len(latest) != 1:
        return None
    [old] = latest.values()
    value = str(new.metadata.get("value", ""))
    if slot_value(old) == fold(value):
        return None
    held = str(old.metadata.get("value"))
    text = f"{new.text}, not {held}"
    restated = re.sub(rf"(?<!\w){re.escape(held)}(?!\w)", value, old.text)
    metadata = {
        **new.metadata,
        "negates": held,
        "restated": {old.attribute: restated},
    }
    return replace(new, attribute=old.attribute, text=text, metadata=metadata)


def _is_negation(memory: Memory) -> bool:
    """Whether `memory` ends something: it names what (`negates`), or says "no longer",
    "quit", ...; a plan never does ("The user plans to quit their job" ends nothing yet)."""
    if memory.metadata.get("plan"):
        return False
    return "negates" in memory.metadata or bool(_NEGATION.search(memory.text))


def polarity(memory: Memory) -> tuple[bool, bool]:
    """Whether `memory` ends something ("no longer", `_is_negation`), and whether it says
    "not": two memories alike in all but these say opposite things, not the same."""
    return _is_negation(memory), bool(_SAYS_NOT.search(memory.text))


def _negation_target(
    new: Memory, pool: Sequence[tuple[Memory, float]], policy: RevisionPolicy
) -> Memory | None:
    """The memory a negation ("no longer X") retires, if one matches."""
    negated = new.metadata.get("negates")
    terms = key_terms(str(negated)) if negated else key_terms(new.text)
    for old, cosine in pool:  # best first
        if _is_negation(old) or not terms:
            continue
        old_terms = key_terms(old.text)
        if negated and terms <= old_terms:
            return old
        overlap = len(terms & old_terms) / max(1, len(old_terms))
        if cosine >= policy.negation and overlap >= 0.5:
            return old
    return None


def _episode_decision(new: Memory, pool: Sequence[tuple[Memory, float]], now: datetime) -> Decision:
    sources = set(new.source_ids)
    for old, _cosine in pool:
        said_again = fold(old.text) == fold(new.text) and old.valid_from == new.valid_from
        if sources & set(old.source_ids) or said_again:
            return _duplicate(new, old, now, "same episode")
    return _added(new, now, "new episode")


def _with_stated_end(new: Memory) -> Memory:
    """`new` ending when its words say it did (`metadata["valid_to"]`: "I lived in Braga
    until 2019"), if that is after it began."""
    stated = new.metadata.get("valid_to")
    if not isinstance(stated, str) or new.valid_to is not None:
        return new
    try:
        end = datetime.fromisoformat(stated)
    except ValueError:
        return new
    if end.tzinfo is None and new.recorded_at.tzinfo is not None:
        end = end.replace(tzinfo=new.recorded_at.tzinfo)
    if new.valid_from is not None and end <= new.valid_from:
        return new
    return replace(new, valid_to=end)


def _same_owner(new: Memory, old: Memory) -> bool:
    """The same user (whatever agent or session stored them), or without a user, one agent."""
    same_user = (old.tenant, old.user_id) == (new.tenant, new.user_id)
    return same_user and (new.user_id is not None or old.agent_id == new.agent_id)


def _comparable(new: Memory, old: Memory) -> bool:
    """Whether `new` may revise `old`: both current and of one kind group, and of one owner."""
    episodes = (old.kind == "episode") == (new.kind == "episode")
    return _same_owner(new, old) and episodes and old.id != new.id and old.superseded_at is None


def _narrower(old: Memory, new: Memory) -> bool:
    """Whether `old` belongs to a part of `new`'s scope: a session or an agent `new` is not
    bound to (the user's fact in one of the user's sessions)."""
    session = old.session_id is not None and new.session_id is None
    return session or (old.agent_id is not None and new.agent_id is None)


def _in_scope(new: Memory, decision: Decision, now: datetime) -> Decision:
    """`decision`, but `new` added beside a memory of a narrower scope it would restate or
    refine: merged into it, a fact the user said outright would belong to that session or
    agent, and go with it when it is erased (its value still retires other values)."""
    target = decision.target
    if decision.action not in ("noop", "update") or target is None or not _narrower(target, new):
        return decision
    return _added(new, now, f"{decision.reason}, said more widely than {target.id}", target)


def _is_history_of(old: Memory, new: Memory) -> bool:
    """Whether `old` is a retired or ended value of `new`'s slot ("I lived in Porto from
    2019 to 2021"), among which `_fitted_in_history` fits `new` in time."""
    return (
        (old.superseded_at is not None or old.valid_to is not None)
        and old.attribute is not None
        and old.attribute == new.attribute
        and _subject(old) == _subject(new)
        and _same_owner(new, old)
        and old.id != new.id
        and slot_value(old) != NO_VALUE
    )


def _fitted_in_history(
    new: Memory, decision: Decision, past: Sequence[Memory], now: datetime
) -> Decision:
    """`decision` on `new`, fitted in time among the retired values of its slot (`past`) so
    that "as of" any time one value held, whatever order the statements are learned in (old
    chats replayed after the current value was learned, a move said last that began before
    values said earlier):

    - a restatement of the current value said before another value began is history, not
      an earlier start of the current value;
    - a value filed as history, said within the span of the same value, adds provenance to
      that one;
    - else the value the decision writes ends where a value said after it began, and the
      values said before it end where it begins (`timeline.ends`), the new one's end
      written into it, the others' as updates.
    """
    if not past:
        return decision
    decision = _restated_as_history(new, decision, past, now)
    filed = decision.memory
    if decision.action == "add" and filed.superseded_at is not None:
        start = began(filed)
        same = next(
            (
                m
                for m in past
                if began(m) <= start
                and (m.valid_to is None or start < m.valid_to)
                and _holds(m, slot_value(filed))
            ),
            None,
        )
        if same is not None:
            return _duplicate(filed, same, now, f"same {filed.attribute}, said again")
    return _with_ends(decision, past, now)


def _restated_as_history(
    new: Memory, decision: Decision, past: Sequence[Memory], now: datetime
) -> Decision:
    """`decision`, but a restatement of the current value (`noop`) said before a retired
    value of the slot began filed as history: else the current value would start before
    that one, and both hold between."""
    target, start = decision.target, new.valid_from
    if decision.action != "noop" or target is None or not target.is_current:
        return decision
    if start is None or target.valid_from is None or start >= target.valid_from:
        return decision
    if not any(start <= began(m) < target.valid_from for m in past):
        return decision
    reason = f"same {new.attribute}, said before another value held"
    return _filed_as_history(new, target, now, reason)


def _with_ends(decision: Decision, past: Sequence[Memory], now: datetime) -> Decision:
    """`decision`, with the value it writes and the retired values of its slot (`past`)
    ending where `timeline.ends` says, as far as the one ends the others or they end it."""
    written = decision.memory
    slot = slot_key(written)
    inserts = {m.id: m for m in decision.inserts}
    updates = {m.id: m for m in decision.updates}
    if slot is None or written.id not in inserts.keys() | updates.keys():
        return decision
    values = {m.id: m for m in (*past, *inserts.values(), *updates.values())}
    slot_values = [m for m in values.values() if slot_key(m) == slot]
    changes = list(decision.changes)
    written = values[written.id]
    for end in ends(slot_values):
        if written.id not in (end.memory.id, end.successor.id) and not _overlap(
            end.memory, written
        ):
            continue  # two values of the slot's past apart from it: not this decision's to fit
        memory, change = ended(end, now=now, why="revised")
        if memory.id in inserts:
            inserts[memory.id] = memory  # its `add` entry says the rest
        else:
            updates[memory.id] = memory
            changes.append(change)
    memory = inserts.get(written.id) or updates[written.id]
    return replace(
        decision,
        memory=memory,
        inserts=tuple(inserts.values()),
        updates=tuple(updates.values()),
        changes=tuple(changes),
    )


def _overlap(memory: Memory, other: Memory) -> bool:
    """Whether `memory` and `other`, as they are, held at some moment both. A past value
    that holds over the written one ends as `timeline.ends` says even where another value
    of the past ends it: its end is what overlaps ("Braga" retired by "Lisbon", which an
    older saying, replayed, starts sooner, ends where a later "Braga 2010-2011" began)."""
    return (memory.valid_to is None or began(other) < memory.valid_to) and (
        other.valid_to is None or began(memory) < other.valid_to
    )


def refitted(
    memories: Iterable[Memory], values: Iterable[Memory], *, now: datetime
) -> dict[str, Memory]:
    """`memories`, fitted in their slots while current and retired since (a hand edit of
    their profile field overrode them), each ended where `timeline.ends` now says among
    the values of its slot (`values`, stored or about to be): retired, a value ends where a
    later statement of it began too (a past stretch of the value), else both would hold.

    Returns:
        Each of `memories` by id, ended sooner or as it was.
    """
    fitted = {memory.id: memory for memory in memories}
    pool = {memory.id: memory for memory in values} | fitted
    slots = {slot_key(memory) for memory in fitted.values()}
    for slot, slot_values in by_slot(pool.values()).items():
        if slot not in slots:
            continue
        for end in ends(slot_values):
            if end.memory.id in fitted:
                fitted[end.memory.id], _change = ended(end, now=now, why="refitted")
    return fitted


def ended(end: End, *, now: datetime, why: str) -> tuple[Memory, MemoryChange]:
    """The value of `end` ended where `timeline.ends` says, and its history entry: retired
    by the value ending it if it held on (`retired`; no earlier than that value was
    said: an old statement replayed after it was retired by it once both were
    known), else only ended sooner (`why` says how that value came to be known:
    "revised", "imported")."""
    memory, successor = end.memory, end.successor
    if memory.valid_to is None:
        reason = f"{successor.id} began while it held ({why})"
        change = _change(
            memory,
            "supersede",
            now,
            reason,
            old_text=memory.text,
            new_text=successor.text,
            related_id=successor.id,
            source_ids=successor.source_ids,
        )
        at = max(now, said(successor)[0])
        return retired(memory, end=end.at, now=at, by=successor.id), change
    change = _change(
        memory,
        "update",
        now,
        f"held until {successor.id} began ({why})",
        old_text=memory.text,
        new_text=memory.text,
        related_id=successor.id,
        source_ids=successor.source_ids,
    )
    return replace(memory, valid_to=end.at, updated_at=now), change


def decide(
    new: Memory,
    similar: Sequence[tuple[Memory, float]],
    *,
    now: datetime,
    policy: RevisionPolicy = DEFAULT_POLICY,
) -> Decision:
    """The cheap, non-LLM revision decision for `new`.

    Args:
        new: The new memory (e.g. `candidate.to_memory(user_id=...)`).
        similar: Existing memories with their cosine similarity to `new`. Include every current
            memory of the user with the same `attribute`, whatever agent or session stored
            it (cosine 0 if unknown): slot conflicts do not depend on wording. Other users'
            memories (without a user: other agents') are ignored, and so are superseded ones
            but the retired values of the slot, among which the new value is fitted in
            time (`_fitted_in_history`).
        now: The record time of the change. A memory it retires is retired then, or when it
            was recorded itself if that is later (`superseded_at` >= `recorded_at`).
        policy: The thresholds.

    Returns:
        The decision: action, memories to insert and update, audit entries.
    """
    stretches = _cut_by(new, similar, now) or _overlapped_by(new, similar, now)
    if stretches is not None:
        first, second, _changes = stretches
        similar = [
            pair
            for m, cosine in similar
            for pair in ([(first, cosine), (second, cosine)] if m.id == first.id else [(m, cosine)])
        ]
    pool = sorted(((m, s) for m, s in similar if _comparable(new, m)), key=lambda pair: -pair[1])
    decision = _in_scope(new, _decide(_with_stated_end(new), pool, now, policy), now)
    past = [m for m, _ in similar if _is_history_of(m, new)]
    decision = _with_tied_retired(_fitted_in_history(new, decision, past, now), pool, now)
    return _with_stretches(decision, stretches)


_Stretches = tuple[Memory, Memory, tuple[MemoryChange, ...]]
"""A memory cut in two (`_cut_by`): its first stretch, retired, its second, and their
history entries."""


def _cut_by(
    new: Memory, similar: Sequence[tuple[Memory, float]], now: datetime
) -> _Stretches | None:
    """The value of `new`'s slot that `new`, another value, cuts in two (`timeline.cut`):
    said again after `new` was, it held before and holds again after, `new` between. Its
    first stretch is retired by `new`, where `new` began (no earlier than `new` was said);
    its second is a new memory, holding as the value held on: "Berlin" said on day 0 and on
    day 2, "Lisbon" said on day 1 learned last, is Berlin, Lisbon from day 1, Berlin again
    from day 2. A value whose slot a revision may leave (a guessed change, a correction)
    cuts nothing; an ending cuts the value it names (any, if it names none) as a value
    does: "I moved out of Berlin" said on day 1, learned last, is Berlin to day 1, no home
    from day 1 to 2 (the ending, retired by the later saying), Berlin again from day 2."""
    value = _with_stated_end(new)
    ending = slot_value(new) == NO_VALUE
    if new.kind == "episode" or new.attribute is None or _is_bare_correction(new):
        return None
    if _is_conditional(new) and not ending:
        return None
    if ending and (new.metadata.get("guessed") or new.metadata.get("corrects")):
        return None
    named = new.metadata.get("negates") if ending else None  # the value it ends
    for old, _cosine in similar:
        if not (
            old.attribute == new.attribute
            and old.kind != "episode"
            and _subject(old) == _subject(new)
            and _same_owner(new, old)
            and not _holds(old, slot_value(new))
            and not (ending and slot_value(old) == NO_VALUE)
            and (named is None or _holds(old, str(named)))
        ):
            continue
        pieces = cut(old, value, new_id=new_id())
        if pieces is None:
            continue
        first, second = pieces
        why = f"{new.id} was said between its sayings"
        return _stretched(old, first, second, value, now, why=why, again="said again")
    return None


def _overlapped_by(
    new: Memory, similar: Sequence[tuple[Memory, float]], now: datetime
) -> _Stretches | None:
    """The current value of `new`'s slot that `new`, a value that ended before it was said
    ("I lived in Porto from 2019 to 2021", `_ended_before_said`), said after it, held over
    part of its span cuts in two, as a value said between two sayings does (`_cut_by`):
    the value said later wins over the overlap. Its first stretch is retired by `new`
    where `new` began (it never held if `new` began first); its second is a new memory,
    the same statement, holding from where `new` ended on. So "I moved to Lisbon in 2020",
    then "I lived in Porto from 2019 to 2021", is Porto over 2019-2021 and Lisbon from
    2022, one home at a time. A current value said after `new` (an old chat replayed)
    wins over the overlap instead (`_past_value`)."""
    value = _with_stated_end(new)
    if new.kind == "episode" or not _ended_before_said(value) or value.valid_to is None:
        return None
    for old, _cosine in similar:
        if not (
            old.attribute == new.attribute
            and old.kind != "episode"
            and old.is_current
            and old.valid_to is None
            and _subject(old) == _subject(new)
            and _same_owner(new, old)
            and not _holds(old, slot_value(new))
            and said(old) < said(value)
            and began(old) < value.valid_to
        ):
            continue
        second = replace(
            old, id=new_id(), valid_from=value.valid_to, created_at=now, updated_at=now
        )
        why = f"{new.id}, said after it, held over its span"
        return _stretched(old, old, second, value, now, why=why, again="held on")
    return None


def _stretched(
    old: Memory, first: Memory, second: Memory, by: Memory, now: datetime, *, why: str, again: str
) -> _Stretches:
    """`old` cut in two by `by`, another value of its slot: its first stretch (`first`)
    retired by `by` where `by` began (no earlier than `by` was said), its second (`second`,
    a new memory) added, each audited (`why` it was cut, what it did `again` after `by`)."""
    at = max(now, said(by)[0])
    first = retired(first, end=max(began(first), began(by)), now=at, by=by.id)
    cut_change = _change(
        old,
        "supersede",
        now,
        f"{why}; it holds again as {second.id}",
        old_text=old.text,
        new_text=by.text,
        related_id=by.id,
        source_ids=by.source_ids,
    )
    added = _change(
        second,
        "add",
        now,
        f"{old.id} {again} after {by.id}",
        new_text=second.text,
        source_ids=second.source_ids,
        related_id=old.id,
    )
    return first, second, (cut_change, added)


class Cuts(NamedTuple):
    """The memories of some slots cut in two where another value was said between their
    sayings (`cut_slots`)."""

    firsts: list[Memory]
    """The first stretches of the memories cut, retired (same ids)."""
    seconds: list[Memory]
    """Their later stretches: new memories."""
    changes: list[MemoryChange]
    """The history entries of the cuts."""
    pairs: list[tuple[str, str]]
    """Each memory cut, by id, and the id of a later stretch cut off it."""


def cut_slots(values: Iterable[Memory], *, now: datetime) -> Cuts:
    """The values of slots (records from elsewhere, an import's and the store's) cut where
    another value was said between two sayings of theirs, as revision cuts one when it
    learns the value between (`_cut_by`), until none is: each cut takes a saying off the
    value it cuts, so there are no more cuts than sayings."""
    cuts = Cuts([], [], [], [])
    for slot_values in by_slot(values).values():
        pool = {memory.id: memory for memory in slot_values}
        touched: dict[str, None] = {}
        while any(sayings(memory) for memory in pool.values()):
            neighbours = [(memory, 0.0) for memory in pool.values()]
            found = next(
                (
                    stretches
                    for by in list(pool.values())
                    if (stretches := _cut_by(by, neighbours, now)) is not None
                ),
                None,
            )
            if found is None:
                break
            first, second, changes = found
            pool[first.id], pool[second.id] = first, second
            touched |= dict.fromkeys((first.id, second.id))
            cuts.changes.extend(changes)
            cuts.pairs.append((first.id, second.id))
        new = {second for _first, second in cuts.pairs}
        cuts.firsts.extend(pool[i] for i in touched if i not in new)
        cuts.seconds.extend(pool[i] for i in touched if i in new)
    return cuts


def _with_stretches(decision: Decision, stretches: _Stretches | None) -> Decision:
    """`decision`, writing as well the memory its new one cut in two (`_cut_by`): its first
    stretch updated, its second inserted, each as the decision left it."""
    if stretches is None:
        return decision
    first, second, changes = stretches
    updates = {m.id: m for m in decision.updates}
    second = updates.pop(second.id, second)
    first = updates.pop(first.id, first)
    return replace(
        decision,
        inserts=(*decision.inserts, second),
        updates=(first, *updates.values()),
        changes=(*changes, *decision.changes),
        stretches=((first.id, second.id),),
    )


def _tied_to(memory: Memory, holder: Memory) -> bool:
    """Whether `memory` holds only while the slot value `holder` does ("The user loves
    living in Porto" while the home is Porto: `tied_to`, `tied_value`)."""
    tied_value = memory.metadata.get("tied_value")
    return (
        memory.metadata.get(TIED_TO) == holder.attribute
        and isinstance(tied_value, str)
        and _subject(memory) == _subject(holder)
        and _holds(holder, tied_value)
    )


def _with_tied_retired(
    decision: Decision, pool: Sequence[tuple[Memory, float]], now: datetime
) -> Decision:
    """`decision`, retiring as well the current memories that held only while a slot value
    it retires did: "I love living in Porto" once the user moved to Lisbon (retired when the
    home changed, so "as of" before it still finds it)."""
    holders = [m for m in decision.updates if m.superseded_at is not None and m.attribute]
    if not holders:
        return decision
    touched = {m.id for m in decision.updates}
    tied = [
        old
        for old, _cosine in pool
        if old.id not in touched
        and old.id != decision.memory.id
        and old.valid_to is None
        and any(_tied_to(old, holder) for holder in holders)
    ]
    if not tied:
        return decision
    new = decision.memory
    updates, changes = list(decision.updates), list(decision.changes)
    for old in tied:
        updates.append(retired(old, end=new.valid_from or now, now=now, by=new.id))
        changes.append(
            _change(
                old,
                "supersede",
                now,
                f"held while {old.metadata[TIED_TO]} was {old.metadata['tied_value']}: "
                f"{decision.reason}",
                old_text=old.text,
                new_text=new.text,
                related_id=new.id,
                source_ids=new.source_ids,
            )
        )
    return replace(decision, updates=tuple(updates), changes=tuple(changes))


def _decide(
    new: Memory, pool: Sequence[tuple[Memory, float]], now: datetime, policy: RevisionPolicy
) -> Decision:
    if new.kind == "episode":
        return _episode_decision(new, pool, now)
    if new.attribute:
        holders = [
            m
            for m, _ in pool
            if m.attribute == new.attribute and _subject(m) == _subject(new) and m.valid_to is None
        ]
        if _ended_before_said(new):
            return _past_value(new, pool, holders, now)
        if _is_bare_correction(new):
            fixed = _naming_the_corrected(new, pool)
            if fixed is None:
                return _plain(new, pool, now, "corrects no value said just before")
            new = fixed
            holders = [
                m
                for m, _ in pool
                if m.attribute == new.attribute
                and _subject(m) == _subject(new)
                and m.valid_to is None
            ]
        if _is_conditional(new):
            return _conditional_decision(new, holders, pool, now)
        if holders:
            return _slot_decision(new, holders, now)
    text = fold(new.text)
    for old, _cosine in pool:
        if fold(old.text) == text:
            return _duplicate(new, old, now, "same text")
    species = new.metadata.get("negates_pet")
    if isinstance(species, str):
        pets = [
            old for old, _cosine in pool if _subject(old) == _subject(new) and _is_pet(old, species)
        ]
        if len(pets) == 1:
            return _supersede(new, pets, now, "negated")
        return _added(new, now, f"{len(pets)} current pets of that kind")
    # A slot value's negation is about slot values (above), not about every text naming it.
    if new.attribute is None and _is_negation(new):
        target = _negation_target(new, pool, policy)
        if target is not None:
            return _supersede(new, [target], now, "negated")
    return _by_similarity(new, pool, now, policy)


def _is_pet(memory: Memory, species: str) -> bool:
    """Whether `memory` says the user has a pet of kind `species` ("has a cat named Miso")."""
    said = re.search(rf"\bhas an? {re.escape(species)} named\b", memory.text, re.IGNORECASE)
    return said is not None and memory.valid_to is None


def _by_similarity(
    new: Memory, pool: Sequence[tuple[Memory, float]], now: datetime, policy: RevisionPolicy
) -> Decision:
    if not pool or pool[0][1] < policy.related:
        return _added(new, now, "new")
    best, cosine = pool[0]
    if _subject(best) != _subject(new):
        return _added(new, now, "about someone else")
    if best.attribute and new.attribute and best.attribute != new.attribute:
        return _added(new, now, f"another slot than {best.attribute}")
    ends, says_not = polarity(new)
    if ends != _is_negation(best):
        # "Ana no longer eats meat" is close to "Ana eats meat" by cosine, and its opposite.
        return _added(new, now, f"related (cosine {cosine:.2f}), but of opposite polarity")
    if says_not != polarity(best)[1]:
        # "Ana is not allergic to peanuts" contradicts "Ana is allergic to peanuts", if it
        # says nothing more; the latest word wins.
        if _stems(new.text) == _stems(best.text):
            return _supersede(new, [best], now, f"negated (cosine {cosine:.2f})")
        return _added(new, now, f"related (cosine {cosine:.2f}), but of opposite polarity")
    if cosine >= policy.duplicate and figures(new.text) == figures(best.text):
        return _duplicate(new, best, now, f"near-duplicate (cosine {cosine:.2f})")
    new_terms, old_terms = key_terms(new.text), key_terms(best.text)
    if (
        old_terms
        and old_terms < new_terms
        and _figure_counts(best.text) <= _figure_counts(new.text)
    ):
        return _refine(new, best, now, f"refinement (cosine {cosine:.2f})")
    decision = _added(new, now, f"related (cosine {cosine:.2f}); ambiguous", best)
    return replace(decision, ambiguous_with=best)


def resolve_ambiguous(decision: Decision, verdict: str, *, now: datetime) -> Decision:
    """Settle an ambiguous `add` with a verdict: same, refines, contradicts or unrelated.

    Args:
        decision: A decision whose `ambiguous_with` is set.
        verdict: The LLM's verdict (anything else counts as `unrelated`).
        now: The record time of the change.

    Returns:
        The settled decision (a plain `add` for `unrelated`).
    """
    old = decision.ambiguous_with
    if old is None:
        return decision
    new = decision.memory
    if verdict == "same" and figures(new.text) != figures(old.text):
        verdict = "unrelated"  # never duplicates, as in the cheap pass: "5 mg" is not "50 mg"
    if verdict == "same":
        return _duplicate(new, old, now, "same meaning (LLM)")
    if verdict == "refines":
        return _refine(new, old, now, "refinement (LLM)")
    if verdict == "contradicts":
        return _supersede(new, [old], now, "contradiction (LLM)")
    return _added(new, now, "unrelated (LLM)", old)
