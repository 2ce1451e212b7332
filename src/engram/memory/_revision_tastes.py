"""Tastes that contradict each other from two slots: a favourite ("The user's favourite food
is sushi", slot `favorite_food`) and a dislike of that same thing ("The user hates sushi",
slot `preference:sushi`, value `dislikes`), or the end of its liking ("The user used to love
sushi"), cannot both hold. The one said later retires the other, whichever came first: a
dislike retires the favourite, and a favourite said since retires the dislike."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from engram.memory._phrases import slug
from engram.memory._revision_decision import Decision, retire
from engram.memory._revision_slots import subject_of
from engram.memory.candidates import NO_VALUE
from engram.memory.entities import fold
from engram.memory.timeline import said, slot_value
from engram.types._memory import Memory

__all__ = ["ended_taste", "is_taste", "contrary_tastes", "with_contrary_tastes_retired"]

_FAVOURITE = "favorite_"
_PREFERENCE = "preference:"
_ENDED_TASTE = re.compile(
    r"(?:(?P<likes>enjoy(?:ing)?|lik(?:e|ing)|lov(?:e|ing)|ador(?:e|ing)|prefer(?:ring)?|into|"
    r"an?\s+(?:[\w-]+\s+)?fan\s+of)|(?P<dislikes>hat(?:e|ing)|dislik(?:e|ing)|"
    r"detest(?:ing)?|loath(?:e|ing)|can't\s+stand))\s+(?P<thing>\S.*)",
    re.IGNORECASE,
)
"""What a negation without a slot ends when it ends a taste: "I no longer enjoy jazz"
negates "enjoy jazz", "I'm no longer a fan of jazz" "a fan of jazz", "I no longer hate
olives" "hate olives"."""


def ended_taste(negated: str) -> tuple[str, str] | None:
    """The `preference:` slot and the taste in it (`likes`, `dislikes`) that the end named
    by a negation's `negates` ends ("enjoy jazz": `preference:jazz`, `likes`); None if it
    names no taste ("coffee", "vegetarian"). An add of "I no longer enjoy jazz" is a fact of
    no slot that retires the liking; an edit of the liking to those words is its end, as
    "The user used to love jazz" is (`NO_VALUE`, negating `likes`)."""
    found = _ENDED_TASTE.fullmatch(negated.strip())
    key = slug(found["thing"]) if found else ""
    if found is None or not key:
        return None
    return _PREFERENCE + key, "likes" if found["likes"] else "dislikes"


def is_taste(memory: Memory) -> bool:
    """Whether `memory` fills a favourite's slot or a liking's (`preference:`), or ends a
    taste (`_as_taste`: "The user no longer enjoys jazz")."""
    return (_as_taste(memory).attribute or "").startswith((_FAVOURITE, _PREFERENCE))


def contrary_tastes(new: Memory, old: Memory) -> bool:
    """Whether `new` says against the taste `old` states, both of one person: a dislike of
    `old`'s favourite, or the end of its liking ("The user hates sushi", "The user used to
    love sushi", "The user no longer enjoys sushi" against "The user's favourite food is
    sushi"), or a favourite of what `old` dislikes. (A favourite said after the end of a
    liking contradicts nothing current.)"""
    if subject_of(new) != subject_of(old):
        return False
    new, old = _as_taste(new), _as_taste(old)
    return _against(new, favourite=old) or _disliked(old, favourite=new)


def _as_taste(memory: Memory) -> Memory:
    """`memory`; or, a negation of no slot that ends a taste ("The user no longer enjoys
    jazz", negating "enjoy jazz": `ended_taste`), the end of that taste in its
    `preference:` slot, as "The user used to love jazz" states it."""
    negated = memory.metadata.get("negates")
    ended = ended_taste(negated) if memory.attribute is None and isinstance(negated, str) else None
    if ended is None:
        return memory
    attribute, taste = ended
    metadata = {**memory.metadata, "value": NO_VALUE, "negates": taste}
    return replace(memory, attribute=attribute, metadata=metadata)


def _against(taste: Memory, *, favourite: Memory) -> bool:
    """A dislike of `favourite`'s value, or the end of its liking."""
    ended = slot_value(taste) == NO_VALUE and fold(str(taste.metadata.get("negates"))) == "likes"
    return (_disliked(taste, favourite=favourite) or ended) and _of(taste, favourite)


def _disliked(taste: Memory, *, favourite: Memory) -> bool:
    return slot_value(taste) == "dislikes" and _of(taste, favourite)


def _of(taste: Memory, favourite: Memory) -> bool:
    """Whether `taste` is the `preference:` slot of `favourite`'s value (`slug`: "Sushi",
    `preference:sushi`)."""
    value = favourite.metadata.get("value")
    return (
        (favourite.attribute or "").startswith(_FAVOURITE)
        and isinstance(value, str)
        and taste.attribute == _PREFERENCE + slug(value)
    )


def with_contrary_tastes_retired(
    new: Memory, decision: Decision, pool: Sequence[tuple[Memory, float]], now: datetime
) -> Decision:
    """`decision` of `new`, retiring as well the current tastes of `pool` that `new` says
    against (`contrary_tastes`) and that were said before it, if what holds `new` now (the
    decision's memory: `new`, or the one it said again) is current: "The user hates sushi"
    retires "The user's favourite food is sushi", and so do "The user used to love sushi",
    kept as a plain fact when it ends no liking stored, "The user no longer enjoys sushi",
    a fact of no slot, or a dislike said again since."""
    held = decision.memory
    if not is_taste(new) or held.valid_to is not None or held.superseded_at is not None:
        return decision
    touched = {memory.id for memory in decision.updates}
    contrary = [
        old
        for old, _cosine in pool
        if old.id not in touched
        and old.id != new.id
        and old.valid_to is None
        and old.superseded_at is None
        and said(old) <= said(new)
        and contrary_tastes(new, old)
    ]
    if not contrary:
        return decision
    updates, changes = list(decision.updates), list(decision.changes)
    for old in contrary:
        said_against = f"{_as_taste(new).attribute} against {old.attribute}"
        retired, change = retire(old, held, now, said_against)
        updates.append(retired)
        changes.append(change)
    return replace(decision, updates=tuple(updates), changes=tuple(changes))
