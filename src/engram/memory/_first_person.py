"""The user's words in the first person again: a fact's text ("The user lives in Braga") as
the user would have said it ("I live in Braga"), for the extractor, which reads what people
say of themselves. The inverse of the rules' third person (`_phrases.third_person`); with
`unnamed`, also a text that names no subject, as mem0 writes the user's facts ("Lives in
Braga", "Name is Ana")."""

from __future__ import annotations

import re
from collections.abc import Sequence

from engram.memory._patterns import ADV

__all__ = ["first_person", "first_person_verb"]

_VERB = re.compile(r"\s+(?P<verb>[^\W\d_]+(?:['’]t)?)(?!\w)")
_UNNAMED = re.compile(
    r"\s*(?:(?P<verb>is|isn't|was|wasn't|has|hasn't|does|doesn't|lives|works|likes|loves|"
    r"enjoys|prefers|hates|dislikes|adores|owns|plays|speaks|studies|teaches|eats|drinks|"
    r"wants|needs|attends|practices|uses|drives|follows|avoids|resides)(?=\s+\S)"
    r"|(?P<own>(?:favou?rite(?:\s+[a-z]+){1,2}?(?=\s+(?:is|are)\b)|(?:name|birthday|email|"
    r"phone\s+number|hometown|wife|husband|partner|girlfriend|boyfriend|son|daughter|sister|"
    r"brother|mother|father|mom|dad|dog|cat)(?=\s+(?:is|are|was|named|called)\b|'s\b|"
    r"\s+(?-i:[A-Z]))))"
    r"|(?P<state>(?:allergic|intolerant)\s+to|married|engaged|divorced|retired|based\s+in|"
    r"originally\s+from|from(?=\s+(?-i:[A-Z]))|(?:vegetarian|vegan|pescatarian)"
    r"(?=\s*(?:$|[,.;!]|(?:since|for|now)\b)))(?![\w-]))",
    re.IGNORECASE,
)
"""What a text about the user opens on when it names no subject, as mem0's own extraction
writes the user's facts: a verb of the third person ("Lives in Braga", "Is a nurse"), a
thing of the user's before what is said of it ("Name is Ana", "Favourite food is sushi",
"Sister Marta lives in Porto"), or how the user is ("Allergic to nuts", "Based in Porto",
"Vegetarian"). Closed lists: no name opens it ("James lives in ..." is James's)."""
_NEGATION = r"(?i:\s+(?:no\s+longer|never|not))?"
"""A negation the verb may follow ("The user no longer works at Google")."""
_FIRST_PERSON_VERBS = {
    "is": "am",
    "isn't": "am not",
    "was": "was",
    "has": "have",
    "hasn't": "haven't",
    "does": "do",
    "doesn't": "don't",
}


def first_person(text: str, labels: Sequence[str], *, unnamed: bool = False) -> str:
    """`text` said by the user, if it opens on one of `labels`: "The user's" as "My", and
    "The user" as "I" with its verb, after any adverb or negation, in the first person
    ("lives" -> "live", "is" -> "am", "no longer works" -> "no longer work"; "moved"
    stays); with `unnamed`, also if it opens on no subject
    (`_UNNAMED`: "Lives in Braga" -> "I live in Braga", "Name is Ana" -> "My name is Ana",
    "Allergic to nuts" -> "I am allergic to nuts"); else `text` as it is."""
    bare = _UNNAMED.match(text) if unnamed else None
    if bare is not None:
        rest = text[bare.end() :]
        if bare["verb"]:
            return "I " + first_person_verb(bare["verb"].lower()) + rest
        if bare["own"]:
            return "My " + bare["own"].lower() + rest
        return "I am " + bare["state"].lower() + rest
    for label in labels:
        opening = re.match(rf"\s*{re.escape(label)}(?P<own>'s|’s)?(?=\W|$)", text, re.IGNORECASE)
        if opening is None:
            continue
        rest = text[opening.end() :]
        if opening["own"]:
            return "My" + rest
        adverbs = re.match(ADV + _NEGATION, rest)
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
