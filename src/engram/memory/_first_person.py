"""The user's words in the first person again: a fact's text ("The user lives in Braga") as
the user would have said it ("I live in Braga"), for the extractor, which reads what people
say of themselves. The inverse of the rules' third person (`_phrases.third_person`)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from engram.memory._patterns import ADV

__all__ = ["first_person", "first_person_verb"]

_VERB = re.compile(r"\s+(?P<verb>[^\W\d_]+(?:['’]t)?)(?!\w)")
_FIRST_PERSON_VERBS = {
    "is": "am",
    "isn't": "am not",
    "was": "was",
    "has": "have",
    "hasn't": "haven't",
    "does": "do",
    "doesn't": "don't",
}


def first_person(text: str, labels: Sequence[str]) -> str:
    """`text` said by the user, if it opens on one of `labels`: "The user's" as "My", and
    "The user" as "I" with its verb, after any adverb, in the first person ("lives" ->
    "live", "is" -> "am"; "moved" stays); else `text` as it is."""
    for label in labels:
        opening = re.match(rf"\s*{re.escape(label)}(?P<own>'s|’s)?(?=\W|$)", text, re.IGNORECASE)
        if opening is None:
            continue
        rest = text[opening.end() :]
        if opening["own"]:
            return "My" + rest
        adverbs = re.match(ADV, rest)
        at = adverbs.end() if adverbs else 0
        verb = _VERB.match(rest, at)
        if verb is None:
            return "I" + rest
        first = first_person_verb(verb["verb"])
        return "I" + rest[: verb.start("verb")] + first + rest[verb.end("verb") :]
    return text


def first_person_verb(verb: str) -> str:
    """A present verb of the third person singular in the first ("lives" -> "live",
    "studies" -> "study", "goes" -> "go"); any other word as it is."""
    lower = verb.lower().replace("’", "'")
    if lower in _FIRST_PERSON_VERBS:
        return _FIRST_PERSON_VERBS[lower]
    if lower.endswith("ies") and len(lower) > 4:
        return verb[:-3] + "y"
    if lower.endswith(("sses", "shes", "ches", "xes", "zes", "oes")):
        return verb[:-2]
    if lower.endswith("s") and not lower.endswith(("ss", "us", "is")):
        return verb[:-1]
    return verb
