"""Belief revision: what a new memory does to the similar ones already stored.

`decide(new, similar, now=...)` is the cheap, non-LLM pass. Given the new memory (built from a
candidate with `Candidate.to_memory()`) and the current memories most similar to it (with their
cosine similarity), it returns a `Decision`:

- `noop` (duplicate: same slot value, equal text, or cosine >= 0.92 with the same figures,
  i.e. numbers, dates and codes, and the same marks, as consolidation asks before a merge:
  names, days, parts of the day, counts in words, tense, "cannot", dislikes; `_marks`):
  nothing new is stored; the existing memory gets the new provenance appended, and for a
  slot value, the saying (`timeline.SAID_AGAIN`).
- `update` (refinement: the same slot with a value that extends the old one, or a close memory
  whose key terms the new text contains and extends): the existing memory is rewritten in
  place; its history keeps the old text.
- `supersede` (contradiction: the same single-valued slot with another value, or a negation
  such as "no longer", "not anymore", "moved from X to Y" against a matching memory, or the
  same words as a memory, one of the two negated, either way: "can swim" / "cannot swim",
  "I can't drive" / "I can drive", "no longer has a dog" / "has a dog"): the new
  memory is added and the old one gets `valid_to` (the new one's `valid_from`, else now),
  `superseded_at` and `superseded_by`. Nothing is deleted, so "as of" queries still find it.
  What a slot value's ending, guessed change, correction, partner's role or value to come
  called off ("The Google job fell through") does is the slot layer's (`_revision_slots`);
  a taste said against one of another slot (a dislike of the favourite food) retires it
  too (`_revision_tastes`); fitting the value in time among the slot's retired values,
  whatever order they are learned in, is the time layer's (`_revision_time`).
- `add`: nothing related; when the best match sits in the grey zone (0.80 <= cosine < 0.92)
  with no slot signal, the decision is `add` with `ambiguous_with` set, and
  `revision_verdict.decision_flow()` asks the LLM (one tiny JSON prompt, within the budget)
  to settle it.

Episodes are only compared with episodes (a re-ingested message is a duplicate), never revised
against facts: they record what was said, when. Decisions are pure: the caller persists
`inserts`, `updates` and `changes`.

The layers below `decide`: `_revision_words` (key terms, figures, polarity), `_marks` (what
a duplicate shares, as consolidation reads it), `_revision_decision` (`Decision` and its
builders, one per action), `_revision_slots`, `_revision_tastes` and `_revision_time`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from engram.memory._marks import say_alike, say_alike_but_negation
from engram.memory._revision_decision import Decision, added, duplicate, refine, supersede
from engram.memory._revision_slots import (
    calls_off,
    conditional_decision,
    ended_before_said,
    ended_by_plans,
    is_bare_correction,
    is_conditional,
    naming_the_corrected,
    past_value,
    plain_fact,
    plan_called_off,
    same_owner,
    slot_decision,
    subject_of,
    with_plans_called_off,
    with_tied_retired,
)
from engram.memory._revision_tastes import with_contrary_tastes_retired
from engram.memory._revision_time import (
    cut_by,
    fitted_in_history,
    is_history_of,
    overlapped_by,
    with_stated_end,
    with_stretches,
)
from engram.memory._revision_words import (
    figure_counts,
    figures,
    is_negation,
    key_terms,
    negated,
    polarity,
    stems,
)
from engram.memory.entities import fold
from engram.memory.timeline import began
from engram.types._memory import Memory

__all__ = ["DEFAULT_POLICY", "RevisionPolicy", "decide", "resolve_ambiguous"]


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


def _negation_target(
    new: Memory, pool: Sequence[tuple[Memory, float]], policy: RevisionPolicy
) -> Memory | None:
    """The memory a negation ("no longer X") retires, if one matches."""
    negated = new.metadata.get("negates")
    terms = key_terms(str(negated)) if negated else key_terms(new.text)
    for old, cosine in pool:  # best first
        if is_negation(old) or not terms:
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
            return duplicate(new, old, now, "same episode")
    return added(new, now, "new episode")


def _comparable(new: Memory, old: Memory) -> bool:
    """Whether `new` may revise `old`: both current and of one kind group, and of one owner."""
    episodes = (old.kind == "episode") == (new.kind == "episode")
    return same_owner(new, old) and episodes and old.id != new.id and old.superseded_at is None


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
    return added(new, now, f"{decision.reason}, said more widely than {target.id}", target)


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
            time (`fitted_in_history`).
        now: The record time of the change. A memory it retires is retired then, or when it
            was recorded itself if that is later (`superseded_at` >= `recorded_at`).
        policy: The thresholds.

    Returns:
        The decision: action, memories to insert and update, audit entries.
    """
    stretches = cut_by(new, similar, now) or overlapped_by(new, similar, now)
    if stretches is not None:
        first, second, _changes = stretches
        similar = [
            pair
            for m, cosine in similar
            for pair in ([(first, cosine), (second, cosine)] if m.id == first.id else [(m, cosine)])
        ]
    pool = sorted(((m, s) for m, s in similar if _comparable(new, m)), key=lambda pair: -pair[1])
    decision = _in_scope(new, _decide(with_stated_end(new), pool, now, policy), now)
    past = [m for m, _ in similar if is_history_of(m, new)]
    decision = with_tied_retired(fitted_in_history(new, decision, past, now), pool, now)
    decision = with_contrary_tastes_retired(new, decision, pool, now)
    decision = with_plans_called_off(decision, pool, now)
    return with_stretches(decision, stretches)


def _decide(
    new: Memory, pool: Sequence[tuple[Memory, float]], now: datetime, policy: RevisionPolicy
) -> Decision:
    if new.kind == "episode":
        return _episode_decision(new, pool, now)
    if new.attribute:
        holders = [
            m
            for m, _ in pool
            if m.attribute == new.attribute
            and subject_of(m) == subject_of(new)
            and m.valid_to is None
        ]
        if calls_off(new):
            return plan_called_off(new, pool, now)
        if ended_before_said(new):
            return past_value(new, pool, holders, now)
        if is_bare_correction(new):
            fixed = naming_the_corrected(new, pool)
            if fixed is None:
                return plain_fact(new, pool, now, "corrects no value said just before")
            new = fixed
            holders = [
                m
                for m, _ in pool
                if m.attribute == new.attribute
                and subject_of(m) == subject_of(new)
                and m.valid_to is None
            ]
        if is_conditional(new):
            return conditional_decision(new, holders, pool, now)
        if holders:
            return slot_decision(new, [*holders, *ended_by_plans(holders, pool, now)], now)
    text = fold(new.text)
    for old, _cosine in pool:
        if fold(old.text) == text:
            return duplicate(new, old, now, "same text")
    species = new.metadata.get("negates_pet")
    if isinstance(species, str):
        pets = [
            old
            for old, _cosine in pool
            if subject_of(old) == subject_of(new) and _is_pet(old, species)
        ]
        if len(pets) == 1:
            return supersede(new, pets, now, "negated")
        return added(new, now, f"{len(pets)} current pets of that kind")
    opposites = _opposites(new, pool, policy)
    if opposites:
        return supersede(new, opposites, now, "said the opposite")
    # A slot value's negation is about slot values (above), not about every text naming it.
    if new.attribute is None and is_negation(new):
        target = _negation_target(new, pool, policy)
        if target is not None:
            return supersede(new, [target], now, "negated")
    return _by_similarity(new, pool, now, policy)


def _opposites(
    new: Memory, pool: Sequence[tuple[Memory, float]], policy: RevisionPolicy
) -> list[Memory]:
    """The memories `new` says the opposite of, either way: the same words (`stems`), one
    of them negated (`negated`: "The user can swim" / "The user cannot swim", "I can't
    drive" / "I can drive", "Ana no longer eats meat" / "Ana eats meat"), of one subject,
    slot, tense and marks else (`say_alike_but_negation`: "The user could not swim" is
    no opposite of "The user can swim"). The latest word wins: they are retired. A memory
    that ended by the time `new` began is none ("I lived in Braga from 2010 to 2011", then
    "I live in Braga": a past stay and a current one, each true over its own span)."""
    return [
        old
        for old, cosine in pool
        if cosine >= policy.negation
        and (old.valid_to is None or began(new) < old.valid_to)
        and subject_of(old) == subject_of(new)
        and not (old.attribute and new.attribute and old.attribute != new.attribute)
        and negated(old) != negated(new)
        and stems(old.text) == stems(new.text)
        and say_alike_but_negation(old, new)
    ]


def _is_pet(memory: Memory, species: str) -> bool:
    """Whether `memory` says the user has a pet of kind `species` ("has a cat named Miso")."""
    said = re.search(rf"\bhas an? {re.escape(species)} named\b", memory.text, re.IGNORECASE)
    return said is not None and memory.valid_to is None


def _by_similarity(
    new: Memory, pool: Sequence[tuple[Memory, float]], now: datetime, policy: RevisionPolicy
) -> Decision:
    if not pool or pool[0][1] < policy.related:
        return added(new, now, "new")
    best, cosine = pool[0]
    if subject_of(best) != subject_of(new):
        return added(new, now, "about someone else")
    if best.attribute and new.attribute and best.attribute != new.attribute:
        return added(new, now, f"another slot than {best.attribute}")
    if polarity(new) != polarity(best):
        # "Ana is not allergic to peanuts, only to cashews" is close to "Ana is allergic to
        # peanuts" by cosine, but says more than its opposite (retired above: `_opposites`).
        return added(new, now, f"related (cosine {cosine:.2f}), but of opposite polarity")
    if (
        cosine >= policy.duplicate
        and figures(new.text) == figures(best.text)
        and say_alike(new, best)
    ):
        return duplicate(new, best, now, f"near-duplicate (cosine {cosine:.2f})")
    new_terms, old_terms = key_terms(new.text), key_terms(best.text)
    if old_terms and old_terms < new_terms and figure_counts(best.text) <= figure_counts(new.text):
        return refine(new, best, now, f"refinement (cosine {cosine:.2f})")
    decision = added(new, now, f"related (cosine {cosine:.2f}); ambiguous", best)
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
    if verdict == "same" and (figures(new.text) != figures(old.text) or not say_alike(new, old)):
        verdict = "unrelated"  # as in the cheap pass: "5 mg" is not "50 mg", Monday not Tuesday
    if verdict == "same":
        return duplicate(new, old, now, "same meaning (LLM)")
    if verdict == "refines":
        return refine(new, old, now, "refinement (LLM)")
    if verdict == "contradicts":
        return supersede(new, [old], now, "contradiction (LLM)")
    return added(new, now, "unrelated (LLM)", old)
