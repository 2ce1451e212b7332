"""Whether a rule's match is the speaker's own statement: not negated before it ("I don't
think I live in Paris"), not a question, wish, supposition, doubt or someone else's words
(`asserted`); whether a negated value stopped being true ("no longer", "anymore":
`stopped`); and where the clause of a match ends (`clause_end`)."""

from __future__ import annotations

import re

from engram.memory._sentences import Sentence

__all__ = [
    "BOUNDARY",
    "CLAUSE_END",
    "asserted",
    "clause_end",
    "negated_before",
    "negated_in",
    "stopped",
]

BOUNDARY = re.compile(
    r"(?:\s+(?:and\s+(?:I|it|that|we|they|he|she|then|(?:now\s+|currently\s+)?(?:live|reside)\b)|but|because|since|so|which|who|whom|"
    r"where|when|while|though|although|if|until|unless|whereas|cause|cuz|lol|haha)\b|"
    r"\s+[-–—]+\s+|\s*:).*$",
    re.IGNORECASE,
)
"""Where a clause ends inside a captured object: a conjunction opening the next statement
("... but I live in Rome"), a dash or a colon."""
_ANYMORE = re.compile(r"\bany\s?more\b|\bno\s+more\b", re.IGNORECASE)
CLAUSE_END = re.compile(r"[,.;:!?()\n]")
_CLAUSE_START = re.compile(
    r"[,;:()]|\b(?:but|and|so|because|though|although|while|whereas|since|if|or)\b",
    re.IGNORECASE,
)
"""Where a clause starts: a comma or the like, or a conjunction."""
_NEGATIVE = re.compile(
    r"\b(?:not|never|no\s+longer|dont|cant|wont|didnt|doesnt|isnt)\b|n't\b", re.IGNORECASE
)


def negated_before(sentence: Sentence, start: int) -> bool:
    """Whether the clause of `sentence` before `start` negates what follows ("I don't think
    I live in Paris", "I can't say I work at Google anymore"): a slot value said there is
    not the user's."""
    return negated_in(sentence.text, start)


def negated_in(text: str, start: int) -> bool:
    """Whether the clause of `text` before `start` negates what follows (`negated_before`;
    "The user no longer lives in Paris", "The user is not called Ana")."""
    before = text[:start]
    return bool(_NEGATIVE.search(before, _after_last(_CLAUSE_START, before)))


def _after_last(mark: re.Pattern[str], text: str) -> int:
    """Where the last match of `mark` in `text` ends (0 if none): the start of the clause
    `text` ends in. One pass: a greedy `.*` before the mark, substituted away, took time
    quadratic in the length of an unpunctuated turn (seconds for 10 KB)."""
    end = 0
    for found in mark.finditer(text):
        end = found.end()
    return end


_INVERTED = re.compile(
    r"\b(?:do|does|did|don't|didn't|should|shall|would|could|can|will|must|might|may|am|was|"
    r"were|have|has|had)\s+$",
    re.IGNORECASE,
)
_UNREAL = re.compile(
    r"\b(?:if|unless|whether|maybe|perhaps|possibly|imagine|imagining|suppose|supposing|"
    r"pretend|pretending|wish|wished|"
    r"wishing|dream(?:ed|t)?\s+(?:that|of)|in\s+case|as\s+if|as\s+though|told\s+(?:me|us)|"
    r"tells\s+(?:me|us)|(?<!\bI\s)(?:said|says|claims|claimed|thinks|insists|insisted)(?:\s+that)?)"
    r"\b",
    re.IGNORECASE,
)
_TOLD_YOU = re.compile(
    r"\b(?:(?:did|have)\s+I\s+(?:ever\s+|already\s+)?(?:tell|told|mention|mentioned)\s+"
    r"(?:you\s+)?|(?:did|do)\s+you\s+know\s+|(?:would|can|could)\s+you\s+believe\s+)"
    r"(?:that\s+)?$",
    re.IGNORECASE,
)
"""News told as a question: "Did I tell you I moved to Berlin?", "Would you believe I got a
job at Apple?" state the move and the job."""
_FRAME = re.compile(
    r"\b(?:hypothetically|assuming|let's\s+(?:say|assume|pretend|suppose)|"
    r"let\s+us\s+(?:say|assume|suppose)|for\s+(?:this|the|an)\s+example|"
    r"for\s+the\s+sake\s+of\s+(?:argument|example|the\s+example)|"
    r"in\s+(?:this|that|the|a)\s+(?:example|scenario|hypothetical)|"
    r"in\s+(?:my|our|the)\s+(?:novel|story|game|dream|dreams|script|screenplay|play|fiction|"
    r"fanfic|role-?play|campaign|head)(?=\s*[,:]|\s+(?:I|we)\b)|"
    r"(?:^|[,;:]\s*)(?:(?:so|ok|okay|well|now)\s+)?(?:say|assume)(?=(?:\s+that)?,?\s+(?:I|we)\b))"
    r"\b",
    re.IGNORECASE,
)
"""A frame that makes the whole sentence a supposition or a fiction, however far before the
statement and past its commas ("Hypothetically, I live in Rome", "Let's say I work at Meta",
"Assume I live in Rome and earn 50k, ...", "In my novel, I live in Rome")."""
_REPORTED = re.compile(
    r"(?:(?<!\bI\s)\b(?:said|says|asked|asks|wrote|writes|texted|texts|replied|replies|"
    r"messaged|goes|told)(?:\s+(?:me|us|him|her|them))?|(?<!\bI\s)\b(?:was|is|were|are)\s+"
    r"like)\s*[,:]\s*"
    r"[\"'“‘]?\s*$",
    re.IGNORECASE,
)
"""Someone else's words, introduced by a comma or a colon ("My sister said, I moved to
Paris", "He texted me: I live in Porto", "She was like, I quit"): theirs, not the user's."""
_QUOTES = re.compile(r"[\"“”]")
_CLAUSE_PUNCTUATION = re.compile(r"[,;:()]")
_HEDGED = re.compile(
    r"\b(?:not\s+(?:sure|certain)|unsure|no\s+idea)\s*(?:[.!?,;)]|$)", re.IGNORECASE
)
"""Doubt said after the statement, in its sentence and of it: "I live in Vienna, not sure"
(not "I live in Vienna, not sure if I like it")."""
_SUBJECT_AT = re.compile(r"I|we\b", re.IGNORECASE)


def asserted(sentence: Sentence, start: int) -> bool:
    """Whether the speaker states what `sentence` says at `start` as true of themselves: not a
    question ("Do I live in Paris?", "I live in Paris?"), a condition, wish or fancy ("If I
    moved to Rome", "I wish I lived in Paris", "I'm not sure if I'm vegan"), a doubt ("Maybe I
    live in Vienna", "I live in Vienna, not sure"), a supposition or
    fiction ("Let's say I live in Rome", "In my novel, I live in Rome"), nor someone else's
    words ('My friend said "I live in Paris"', "My boss told me I work at ...")."""
    before = sentence.text[:start]
    frame = _FRAME.search(sentence.text)
    if len(_QUOTES.findall(before)) % 2 or (frame is not None and frame.start() < start):
        return False
    if _REPORTED.search(before):
        return False
    if _TOLD_YOU.search(before):
        return True
    if _SUBJECT_AT.match(sentence.text, start) and _INVERTED.search(before):
        return False  # "Do I live ...": the verb before the subject (not "I have a cat")
    stop = CLAUSE_END.search(sentence.text, start)
    if stop is not None and stop[0] == "?" or _HEDGED.search(sentence.text, start):
        return False
    return not _UNREAL.search(before, _after_last(_CLAUSE_PUNCTUATION, before))


def stopped(match: re.Match[str], sentence: Sentence) -> bool:
    """Whether a negated statement says its value *stopped* being true ("no longer", "not
    ... anymore"), rather than that it is not ("I don't work at Google")."""
    if "longer" in (match.groupdict().get("neg") or "").lower():
        return True
    stop = CLAUSE_END.search(sentence.text, match.end())
    clause = sentence.text[match.start() : stop.start() if stop else len(sentence.text)]
    cut = BOUNDARY.search(clause, 1)
    return bool(_ANYMORE.search(clause[: cut.start()] if cut else clause))


def clause_end(match: re.Match[str]) -> int:
    """Where the clause of a rule's match ends: a captured object runs to the punctuation,
    but "I don't live in Paris but I live in Rome" holds two statements."""
    cut = BOUNDARY.search(match[0], 1)
    return match.start() + cut.start() if cut else match.end()
