"""Rules for where someone the user names lives or works: "My sister Marta lives in Madrid",
"My friend Carla just got a new job at IBM", "Carla moved to Paris". Each is a fact about
them (its `subject` is their name), never the user's own slot: revision keeps a person's
home and employer apart from the user's, so "My sister Marta moved to Paris" replaces her
Madrid, not the user's Lisbon. Part of the fact rules (`_fact_rules` holds them in its
order)."""

from __future__ import annotations

import re
from dataclasses import replace

from engram.memory._kin_rules import KIN, allergies
from engram.memory._partners import PARTNERS
from engram.memory._patterns import ME, NAME, NO_EMPLOYER, OOPS, PRONOUNS, TRIP, UP
from engram.memory._phrases import (
    ADV,
    REST,
    Rule,
    Sentence,
    fact,
    listed,
    partner_role,
    proper,
    relate,
    rule,
    slug,
    unpossessive,
    with_article,
)
from engram.memory._school_rules import STUDENT
from engram.memory.candidates import SLOT_RELATIONS, Candidate, EntityMention
from engram.memory.entities import fold
from engram.memory.queries import STOPWORDS

__all__ = ["OTHERS_RULES", "SAID_OF_OTHERS", "where"]

_KIN_NAMED = re.compile(
    rf"(?i:\bmy\s+(?:(?:good|close|old|best|new|little|big|older|younger|twin)\s+)?"
    rf"(?:{PARTNERS}|{KIN}))(?:,?\s+){NAME},?\s*$"
)
"""The user's kin, partner or friend named just before the verb ("my sister Marta")."""
_NAMED_ALONE = re.compile(rf"^\s*{NAME}\s*$")
"""A name alone opening the sentence, as its subject ("Carla just got a new job")."""
_NO_ONE = PRONOUNS | frozenset("mom mum mother dad father people".split())
"""Capitalised words opening a sentence that name no one in particular ("She moved to
Paris", "Mom lives in Porto": whose mother is not said)."""

_VERBS = (
    r"(?P<home>lives\s+in|is\s+living\s+in|(?:has\s+)?(?P<move>moved|relocated)\s+(?:back\s+)?to)"
    r"|(?:is|works\s+as)\s+an?\s+(?P<role>[a-z]+(?:\s+[a-z]+)?)\s+(?:at|for)"
    r"|works\s+(?:at|for)|is\s+working\s+(?:at|for)|(?:got|landed|started)\s+a\s+(?:new\s+)?"
    r"job\s+(?:at|with)|(?:has\s+)?(?:left|quit)\s+(?P<y>[^,.;!?()\n]+?)\s+(?:and\s+"
    r"(?:(?:has\s+)?joined|started\s+(?:working\s+)?(?:at|for)|now\s+works\s+(?:at|for)|"
    r"went\s+to\s+work\s+(?:at|for))|to\s+(?:join|work\s+(?:at|for)))"
)
_NO_JOB = STUDENT | frozenset(
    "regular member guest customer client fan patient visitor resident tourist".split()
)
"""What one "is a ... at" a place without working there."""
_LIKINGS = (
    r"(?P<verb>loves|likes|enjoys|adores|hates|dislikes|detests|can't\s+stand)"
    r"|is(?P<neg>\s+not|\s+no\s+longer|n't)?\s+(?P<allergic>allergic\s+to)"
)
SAID_OF_OTHERS = re.compile(
    r"^\S+(?:\s+\S+)?" + ADV + r"\s+(?:" + _VERBS + "|" + _LIKINGS + r")\b", re.IGNORECASE
)
"""A sentence opening on someone's name and where they live or work ("Carla just got a new
job at IBM", "Carla left Farfetch and joined Zalando"), what they like ("Tom loves pizza")
or are allergic to ("Ana is allergic to shellfish"): the fact rules read it, though it holds
no first person."""


def _whose(before: str, s: Sentence) -> str | None:
    """Who the words before the verb name: the user's kin, partner or friend ("my sister
    Marta"), or a name opening the sentence that is not the speaker's nor a word naming no one
    in particular (`_NO_ONE`)."""
    named = _KIN_NAMED.search(before) or _NAMED_ALONE.match(before)
    if named is None:
        return None
    name = unpossessive(named["x"])  # "Dave's moved to Paris": Dave has
    if fold(name) in _NO_ONE or fold(name) in STOPWORDS or fold(name) == fold(s.label):
        return None
    return name


def _lives_or_works(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """Where a person the user names lives or works (`where`): "My sister Marta lives in
    Madrid", "Carla just got a new job at IBM"."""
    name = _whose(s.text[: match.start()], s)
    if name is None:
        return []
    return where(match, s, name, name, (EntityMention(name, "person"),))


def where(
    match: re.Match[str],
    s: Sentence,
    who: str,
    subject: str,
    person: tuple[EntityMention, ...] = (),
    *,
    plural: bool = False,
) -> list[Candidate]:
    """Where `who` lives ("lives in Madrid", "moved to Paris last year") or works ("works at
    IBM", "just got a new job at IBM", "left Farfetch and joined Zalando": the employer
    left, `match`'s `y`, is named as the one it replaces, as the user's is), a capitalised
    name (`match`'s `x`): their `home_city` or `employer`, its `subject` `subject`; no trip
    ("Carla moved to Rome for the summer"), no club or platform joined ("left Reddit and
    joined Discord"). A person named (`person`, their entity) has the lives_in or works_at
    relation; kin said together ("The user's parents", `plural`) only the fact."""
    value = proper(match["x"])
    if value is None or fold(value) == fold(who):
        return []
    if match["home"] and TRIP.search(s.text):
        return []
    left = match.groupdict().get("y")
    old = proper(left) if left else None
    if left and (old is None or NO_EMPLOYER.search(old) or NO_EMPLOYER.search(value)):
        return []  # "Carla left her band and joined ...", "Carla left Reddit and joined Discord"
    role = match.groupdict().get("role")
    if role and (role.split()[-1] in _NO_JOB or plural):
        return []  # "Ana is a student at UCLA", "Tom is a regular at Joe's"
    if match["home"]:
        verb = "moved to" if match["move"] else "live in" if plural else "lives in"
    elif role:
        verb = f"works as {with_article(role)} at"
    else:
        verb = "work at" if plural else "works at"
    attribute = "home_city" if match["home"] else "employer"
    relation, kind = SLOT_RELATIONS[attribute]
    entities, relations = relate(s, relation, value, kind)
    said = fact(
        s,
        f"{who} {verb} {value}" + (f", after leaving {old}" if old else ""),
        attribute=attribute,
        value=value,
        importance=0.6,
        entities=(*person, *entities, *((EntityMention(old, "organisation"),) if old else ())),
        relations=tuple(r._replace(subject=subject) for r in relations) if person else (),
        metadata={"negates": old} if old else None,
    )
    return [replace(said, subject=subject)]


_A_NAME = rf"[{UP}][\w'-]*(?:\s+[{UP}][\w'-]*)*"
_CORRECTION_OPENER = re.compile(
    rf"(?:{OOPS}[,!.:]?\s+(?:{ME}{ADV}\s+(?i:meant|mean)\s+)?|{ME}{ADV}\s+(?i:meant|mean)\s+)"
    r"(?P<who>[^,.;!?()\n]+?)$"
)
"""What opens a correction, before the person it is of: "Sorry, I meant Lily", "No wait,
my sister Lily"."""


def _corrected(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A correction of where a person the user names lives or works, "Sorry, I meant Lily
    lives in Boulder, not Denver": their `home_city` or `employer` (`where`), with the marks
    of a correction of the user's own slot (`_change_rules._corrected`): it names the value
    it corrects (`negates`), which never held (`corrects`), in whichever of their slots holds
    it (`guessed`)."""
    opened = _CORRECTION_OPENER.search(s.text, 0, match.start())
    name = _whose(opened["who"], s) if opened else None
    old = proper(match["old"])
    if name is None or old is None:
        return []
    marks = {"negates": old, "corrects": True, "guessed": True}
    return [
        replace(said, metadata={**said.metadata, **marks})
        for said in where(match, s, name, name, (EntityMention(name, "person"),))
        if said.attribute is not None and fold(str(said.value)) != fold(old)
    ]


_KIN_NAMED_IN = re.compile(
    rf"(?i:\bmy\s+(?:(?:good|close|old|best|new|little|big|older|younger|twin)\s+)?"
    rf"(?:{PARTNERS}|{KIN}))(?:,?\s+){NAME}"
)
_PRONOUN_AFTER = re.compile(r"(?:\b(?:and|but)|,)\s+(?i:she|he)\s*$", re.IGNORECASE)
_KIN_UNNAMED = re.compile(
    rf"(?i:\bmy\s+(?:(?:little|baby|big|older|younger|oldest|youngest|twin)\s+)?"
    rf"(?P<rel>{PARTNERS}|{KIN}))\s*$"
)
"""The user's kin, partner or friend, unnamed, just before the verb ("my mom loves")."""
_THE_USER = re.compile(r"\s*(?:me|us|myself|ourselves|each\s+other)\b", re.IGNORECASE)
"""Whom a liking is of when it is the speaker ("My wife loves me"): no thing liked."""
_OPENING_NAME = re.compile(rf"^\s*{NAME}(?=\s)")
"""A pronoun opening a clause after a conjunction ("My wife Ana loves pasta but she hates
mushrooms"): its subject is the person named before it in the sentence."""


def _who_likes(before: str, s: Sentence) -> str | None:
    """Whom a liking or allergy is said of: the person the words before the verb name
    (`_whose`), or, for "she"/"he" after a conjunction, the user's kin, partner or friend
    named last before it ("my wife Ana ... but she")."""
    if _PRONOUN_AFTER.search(before) is None:
        return _whose(before, s)
    named = [found["x"] for found in _KIN_NAMED_IN.finditer(before)]
    if named:
        return named[-1]
    opening = _OPENING_NAME.match(before)  # "Tom loves pizza but he hates olives"
    return _whose(opening[0], s) if opening else None


def _likes(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """What a person the user names likes, dislikes ("My friend Tom loves pizza", "but she
    hates mushrooms") or is allergic to ("Ana is allergic to shellfish"): facts about them
    (their `subject`), one per thing listed, never the user's own preference or allergy.
    Kin left unnamed ("My mom loves gardening") are the user's role word, as for a trait
    (`_kin_rules.kin_trait`): subject "the user's mom"."""
    if _THE_USER.match(match["x"]):
        return []  # "My wife loves me": no taste, and "them" would be no thing
    before = s.text[: match.start()]
    name = _who_likes(before, s)
    kin = None if name is not None else _KIN_UNNAMED.search(before)
    person: tuple[EntityMention, ...] = ()
    if kin is not None:
        role = partner_role(kin["rel"])
        who, subject = f"{s.label}'s {role}", f"{s.label_within}'s {role}"
    elif name is not None:
        who, subject, person = name, name, (EntityMention(name, "person"),)
    else:
        return []
    if match["allergic"]:
        said = allergies(match, s, who)
    else:
        verb = " ".join(match["verb"].lower().split())
        liked = verb in ("loves", "likes", "enjoys", "adores")
        said = [
            fact(
                s,
                f"{who} {verb} {thing}",
                kind="preference",
                attribute="preference:" + slug(thing),
                value="likes" if liked else "dislikes",
                importance=0.7,
            )
            for thing in listed(match, s, max_words=8)
        ]
    return [replace(c, subject=subject, entities=(*person, *c.entities)) for c in said]


OTHERS_RULES: tuple[Rule, ...] = (
    rule(
        rf"{ADV}\s+(?i:{_VERBS})\s+(?P<x>{_A_NAME}),?\s+(?i:not)\s+(?P<old>{_A_NAME})",
        _corrected,
        ("mean", "wait", "oops", "sorry", "mistake", "my bad", "correction"),
    ),
    rule(
        ADV + r"\s+(?i:" + _VERBS + r")\s+(?=[\"'A-ZÀ-ÖØ-Þ])" + REST,
        _lives_or_works,
        ("live", "living", "moved", "relocated", "work", "job", "left", "quit", " a ", " an "),
    ),
    rule(
        ADV + r"\s+(?i:" + _LIKINGS + r")\s+" + REST,
        _likes,
        ("love", "like", "enjoy", "adore", "hate", "dislike", "detest", "stand", "allergic"),
    ),
)
"""The rules of where others live and work."""
