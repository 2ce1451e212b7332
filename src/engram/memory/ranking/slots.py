"""Which of the user's slots (`Memory.attribute`) a question asks for.

"Where does Ana live?" asks the home city: the slot fact that answers often shares no word
with the question, so ranking finds it by its slot (`RankingWeights.slot`), not its words.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from engram.memory.entities import fold
from engram.memory.queries import PARTNER_ROLES

__all__ = ["asked_slots", "fills_slot", "slots_named"]


_ASKED_SLOTS: tuple[tuple[re.Pattern[str], frozenset[str]], ...] = tuple(
    (re.compile(pattern), frozenset(slots))
    for pattern, slots in (
        (r"\bwhere\b.*\b(?:live[sd]?|living|reside[sd]?|based|home)\b", ("home_city",)),
        (r"\b(?:home ?town|home city|which city|what city)\b", ("home_city",)),
        (r"\bwhere\b.*\b(?:work(?:s|ed|ing)?|employed|job)\b", ("employer",)),
        (r"\b(?:work(?:s|ed|ing)? for|employer|company)\b", ("employer",)),
        (
            r"\bwhere\b.*\b(?:stud(?:y|ies|ied|ying)|school|college|university|phd|doctorate"
            r"|degree|masters?)\b",
            ("school",),
        ),
        (
            r"\bwhen\b.*\b(?:graduat\w*|(?:finish|complet|defend)\w*\b.*\b(?:stud(?:y|ies)"
            r"|school|college|university|phd|doctorate|degree|masters?|thesis|dissertation))\b",
            ("school",),
        ),
        (r"\b(?:job|occupation|profession|do for a living|job title)\b", ("occupation",)),
        (
            r"\b(?:partner|dating|seeing anyone|boyfriend|girlfriend|husband|wife|spouse"
            r"|married|single|ex)\b",
            ("partner", "relationship_status"),
        ),
        (r"\b(?:diet|vegan|vegetarian|eat|eats|eating)\b", ("diet",)),
        (
            r"\b(?:cook(?:s|ed|ing)?|recipes?|meals?|food|dinner|lunch|breakfast|snacks?"
            r"|restaurants?|menu|dish(?:es)?|bake|baking|allergi(?:c|es)|allergy)\b",
            ("diet", "allergy:"),
        ),
        (r"\bnear(?:by)?\s+(?:me|her|him|them|us|home|where\b)|\bnearby\b", ("home_city",)),
        (r"\b(?:how old|age|birthday)\b", ("age", "birthday", "birth_year")),
        (r"\b(?:car|drive|drives)\b", ("car",)),
        (r"\bphone\b", ("phone",)),
    )
)


_KIN_ASKED = re.compile(
    r"\b(?:my|your|his|her|their|our)\s+(?:best\s+)?(?:friends?|brothers?|sisters?|siblings?"
    r"|mom|mum|mother|dad|father|parents?|sons?|daughters?|kids?|child|children|cousins?"
    r"|colleagues?|co-?workers?|boss|roommates?|neighbou?rs?|aunts?|uncles?|grand\w+"
    r"|nieces?|nephews?)\b"
)
"""Someone else the question asks about: "Where does my sister live?"."""
_PARTNER_ASKED = re.compile(rf"\b(?:my|your)\s+(?:{'|'.join(sorted(PARTNER_ROLES))})\b")
"""The user's partner, whom a question asks about ("Where does my wife work?") when it
asks a slot besides the partner's own ("What's my wife's name?" asks the partner slot)."""
_PARTNER_SLOTS = frozenset({"partner", "relationship_status"})


def fills_slot(attribute: str | None, slots: Collection[str]) -> bool:
    """Whether a memory's `attribute` is one of `slots`, a slot ending in ":" standing for
    every attribute it begins ("allergy:" for "allergy:peanuts")."""
    if attribute is None:
        return False
    return attribute in slots or any(
        slot.endswith(":") and attribute.startswith(slot) for slot in slots
    )


def asked_slots(query: str) -> frozenset[str]:
    """The slots (`Memory.attribute`) a question about the user asks for: `home_city` for
    "Where does Ana live?", `employer` for "Who do I work for?", the diet and every allergy
    ("allergy:", a prefix) for "What should I cook for her?", the partner for "What's my
    boyfriend's name?", none for "What did we talk about?", "Where does my sister live?"
    or "Where does my boyfriend work?". The slot fact that answers often shares no
    word with the question ("Ana moved to Berlin"), while turns that merely do ("My sister
    lives in Madrid") outrank it. (A question naming another person, "Where does Marta
    live?", the search leaves out itself: only it knows who the user is.)"""
    text = fold(query)
    if _KIN_ASKED.search(text):
        return frozenset()
    found = slots_named(query)
    if _PARTNER_ASKED.search(text) and found - _PARTNER_SLOTS:
        return frozenset()  # "Where does my boyfriend work?" asks his job, not the user's
    return found


def slots_named(query: str) -> frozenset[str]:
    """The slots a question asks for, whoever it asks them of: `employer` for "Where does my
    boyfriend work?" and "Where does Jonas work?" as for "Where do I work?" (`asked_slots`
    tells whose)."""
    text = fold(query)
    return frozenset(
        slot for pattern, slots in _ASKED_SLOTS if pattern.search(text) for slot in slots
    )
