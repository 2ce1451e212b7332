"""The words belief revision reads in a memory's text: key terms, stems, figures, polarity.

Two memories close by cosine may still say different things: a figure apart (numbers, dates
and codes: "5 mg" / "50 mg") makes them no duplicates, and a negation ("no longer", "not")
makes them opposites. A refinement keeps every key term and figure of the text it refines
(`extends`, for a slot value). `consolidation` reads the same words before it merges, and
both ask `_marks.say_alike` (days, parts of the day, counts in words, tense, names) too.
"""

from __future__ import annotations

import re
from collections import Counter

from engram.memory._phrases import partner_stage
from engram.memory.bm25 import stem
from engram.memory.entities import fold
from engram.types._memory import Memory

__all__ = [
    "extends",
    "figure_counts",
    "figures",
    "is_negation",
    "key_terms",
    "negated",
    "polarity",
    "says_past",
    "stage",
    "stems",
]

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


_PAST_CUE = (
    r"(?:used\s+to\s+\w+|lived|was\s+living|previously|formerly|former|was|were|worked|"
    r"studied|left|from)(?:\s+(?:in|at|near|for|with))?(?:\s+the)?\s+"
)
"""What names a value as the past, right before it: "lived in Paris", "used to live in
Paris", "worked at Google", "moved from Paris" (not the "to Rome" of that change)."""


_SAYING_NOT = frozenset("not never no cannot unable".split())
"""The words that say "not", besides those ending in "n't" (`_says_not`)."""


_SAYS_NOT = re.compile(rf"\b(?:{'|'.join(sorted(_SAYING_NOT))})\b|n't\b", re.IGNORECASE)
"""A plain negation: "Ana is not allergic", "I don't eat meat", "I have no pets", "The user
cannot swim", "The user is unable to drive"."""


def _says_not(word: str) -> bool:
    """Whether `word` (lower case) says "not": "not", "cannot", "unable", "can't", ..."""
    return word in _SAYING_NOT or word.endswith("n't")


def key_terms(text: str) -> frozenset[str]:
    """The content words of `text` (lower case, no stop words, no negation words)."""
    words = _WORD.findall(fold(text))
    return frozenset(word.removesuffix("'s") for word in words if word not in _STOPWORDS)


def stems(text: str) -> frozenset[str]:
    """The stems of `text`'s content words, its negations left out ("doesn't like jazz"
    and "likes jazz" say the same words, and so do "cannot swim" and "can swim")."""
    return frozenset(stem(word) for word in key_terms(text) if not _says_not(word))


def figures(text: str) -> frozenset[str]:
    """The words of `text` holding a digit: amounts, dates, codes ("5", "50mg", "x1234567").

    Two texts alike but for one of these say different things ("I take 5 mg" / "50 mg",
    "Invoice 1001" / "1002"), however close their vectors: they are never duplicates.
    """
    return frozenset(figure_counts(text))


def figure_counts(text: str) -> Counter[str]:
    """How often each figure of `text` occurs: a refinement keeps every one of the old
    text's ("Room 0 has chair 0" is not refined by "Room 0 has chair 1", though its words
    are all there)."""
    return Counter(word for word in _WORD.findall(fold(text)) if any(c.isdigit() for c in word))


def extends(new_value: str, old_value: str) -> bool:
    """True if `new_value` keeps every word of `old_value` and adds some ("Lisbon, Portugal"),
    none of them a negation ("not allergic" does not extend "allergic", nor "cannot swim"
    "swim")."""
    old_words, new_words = set(_WORD.findall(old_value)), set(_WORD.findall(new_value))
    added = new_words - old_words
    negating = added & _NEGATING_WORDS or any(_says_not(word.lower()) for word in added)
    return bool(old_words) and old_words < new_words and not negating


def stage(memory: Memory) -> int:
    """How far on the partner of a `partner` memory is, by its role (its words, for one
    stored without): see `partner_stage`."""
    role = memory.metadata.get("role")
    if isinstance(role, str):
        return partner_stage(role)
    return max((partner_stage(word) for word in _WORD.findall(fold(memory.text))), default=0)


def is_negation(memory: Memory) -> bool:
    """Whether `memory` ends something: it names what (`negates`), or says "no longer",
    "quit", ...; a plan never does ("The user plans to quit their job" ends nothing yet)."""
    if memory.metadata.get("plan"):
        return False
    return "negates" in memory.metadata or bool(_NEGATION.search(memory.text))


def says_past(text: str, value: str) -> bool:
    """Whether `text` names `value` (or, if it does not name it whole, one of its key terms)
    as the past (`_PAST_CUE`): "Ana lived in Paris", "Ana moved from Paris to Rome" of
    Paris; not "Ana moved to Rome", nor Rome in that change."""
    folded = fold(text)
    names = [fold(value)] if fold(value) in folded else sorted(key_terms(value))
    return any(
        re.search(rf"\b{_PAST_CUE}{re.escape(name)}\b", folded) is not None for name in names
    )


def polarity(memory: Memory) -> tuple[bool, bool]:
    """Whether `memory` ends something ("no longer", `is_negation`), and whether it says
    "not": two memories alike in all but these say opposite things, not the same."""
    return is_negation(memory), bool(_SAYS_NOT.search(memory.text))


def negated(memory: Memory) -> bool:
    """Whether `memory` says "not" in any way (`polarity`): it ends something ("no longer",
    "used to") or says "not", "never", "cannot", "can't", "unable"."""
    return any(polarity(memory))
