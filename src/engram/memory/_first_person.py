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
    r"\s*(?P<adv>(?:no\s+longer|never|still|also|now|just|recently|currently|usually|always)"
    r"\s+)?(?:(?P<verb>is|isn't|was|wasn't|has|hasn't|does|doesn't|lives|works|likes|loves|"
    r"enjoys|prefers|hates|dislikes|adores|owns|plays|speaks|studies|teaches|eats|drinks|"
    r"wants|needs|attends|practices|uses|drives|follows|avoids|resides)(?=\s+\S)"
    r"|(?P<past>quit|left|lost|moved|relocated|stopped|started|joined|switched|sold|bought|"
    r"adopted|gave\s+up|used\s+to|broke\s+up)(?=\s+\S)"
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
writes the user's facts: a verb of the third person ("Lives in Braga", "Is a nurse"), after
an adverb or negation or not ("No longer enjoys jazz"), or of the past ("Quit their job"), a
thing of the user's before what is said of it ("Name is Ana", "Favourite food is sushi",
"Sister Marta lives in Porto"), or how the user is ("Allergic to nuts", "Based in Porto",
"Vegetarian", "No longer vegetarian"). Closed lists: no name opens it ("James lives in ..."
is James's)."""
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
    stays), and "their" of the user's as "my" (`_as_mine`: "The user quit their job" -> "I
    quit my job"); with `unnamed`, also if it opens on no subject (`_UNNAMED`: "Lives in
    Braga" -> "I live in Braga", "No longer enjoys jazz" -> "I no longer enjoy jazz", "Quit
    their job" -> "I quit my job", "Name is Ana" -> "My name is Ana", "Allergic to nuts" ->
    "I am allergic to nuts"); else `text` as it is."""
    bare = _UNNAMED.match(text) if unnamed else None
    if bare is not None and not (bare["adv"] and bare["own"]):
        rest, adverb = text[bare.end() :], (bare["adv"] or "").lower()
        if bare["verb"]:
            return "I " + adverb + first_person_verb(bare["verb"].lower()) + _as_mine(rest)
        if bare["past"]:
            return "I " + adverb + bare["past"].lower() + _as_mine(rest)
        if bare["own"]:
            return "My " + bare["own"].lower() + rest
        return "I am " + adverb + bare["state"].lower() + _as_mine(rest)
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
            return "I" + _as_mine(rest)
        first = first_person_verb(verb["verb"])
        return "I" + rest[: verb.start("verb")] + first + _as_mine(rest[verb.end("verb") :])
    return text


_THEIR = {"their": "my", "theirs": "mine", "themselves": "myself", "themself": "myself"}
_THEIRS_OR_ANOTHER = re.compile(
    r"\b(?P<their>their|theirs|themselves|themself)\b|(?-i:\b[A-Z])|\b(?:he|she|his|her|him|"
    r"they|them|who|whom|whose|which|friends|parents|kids|children|family|colleagues|"
    r"co-?workers|people|team|neighbou?rs|siblings|sisters|brothers|sons|daughters|guests|"
    r"students|clients|customers)\b",
    re.IGNORECASE,
)
""""their" and its forms, or a word that may name another they may be of: a capitalised
word (a name), a person other than the user, a group of people."""


def _as_mine(rest: str) -> str:
    """`rest` of a text whose subject is the user ("... quit their job"), each "their" (and
    "theirs", "themselves") the user's in the first person ("... quit my job"), up to a
    word that may name another they could be of (`_THEIRS_OR_ANOTHER`: "The user met Tom
    at their house" is Tom's house, maybe)."""
    mine, at = [], 0
    for found in _THEIRS_OR_ANOTHER.finditer(rest):
        if found["their"] is None:
            break
        word = _THEIR[found["their"].lower()]
        said = found[0]
        mine += [rest[at : found.start()], word.upper() if said.isupper() else word]
        at = found.end()
    return "".join(mine) + rest[at:]


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
