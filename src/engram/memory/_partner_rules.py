"""Partner rules' builders: the user's partner and relationship status, named ("my
girlfriend Ana", "my bf is tom", "I'm dating Tom"), wed ("Ana and I got married", "I'm
engaged to Ana"), said as a status ("I'm single now"), or by a pronoun after their name
("his name is Jonas", then "he's my boyfriend now": `names_given`). `_family_rules.FAMILY_RULES`
holds their patterns, in its order."""

from __future__ import annotations

import re
from dataclasses import replace

from engram.memory._kin_rules import lower_name, said_of_someone
from engram.memory._phrases import (
    NAME,
    PRONOUNS,
    Sentence,
    ending,
    fact,
    partner_role,
    partner_stage,
    relate,
    unpossessive,
)
from engram.memory.candidates import TIED_TO, Candidate

__all__ = [
    "NAMES_KEY",
    "dating",
    "lower_partner",
    "lower_partner_is",
    "married",
    "my_partner",
    "names_given",
    "partner_fact",
    "partner_now",
    "relationship_status",
    "wed_to",
]


_UNPARTNERED = frozenset(("single", "divorced", "separated", "widowed"))


def relationship_status(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """The relationship status; a status with no partner ("I'm single now") also ends the
    partner slot, whoever held it, for as long as that status holds (`TIED_TO`): "I just got
    engaged!", naming nobody, retires "has no partner now" with "single"."""
    status = match["x"].lower()
    text = f"{s.label} is {status}"
    found = [fact(s, text, kind="profile", attribute="relationship_status", value=status)]
    if status in _UNPARTNERED:
        alone = ending(s, f"{s.label} has no partner now", "partner", None)
        tie = {TIED_TO: "relationship_status", "tied_value": status}
        found.append(replace(alone, metadata={**alone.metadata, **tie}))
    return found


_WITH_ME = re.compile(r",\s*(?:and|&)\s+(?:I|me|myself)\b", re.IGNORECASE)


def my_partner(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """The user's partner named, "my girlfriend Ana", "my gf's name is Ana", "my wife, Sara,
    works ...". Before ", and I" the name is the spouse's (or fiancé's) own, "My wife, Sara,
    and I went hiking"; with a word of dating it is one of a list, "my gf, Toby, and I played
    board games" (three of them, Toby the dog, in LoCoMo): a false partner would retire the
    real one, a missed name waits for plainer words. After a bare "is", no word said of
    someone (`said_of_someone`: "My husband is Italian")."""
    if match.groupdict().get("is") and said_of_someone(s.text[match.start("x") :]):
        return []
    return _partner_named(match, s, match["x"])


def lower_partner(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """The user's partner named in lower case, "my bf tom is great" (`lower_name`)."""
    name = lower_name(match, s)
    return _partner_named(match, s, name) if name else []


def lower_partner_is(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """The user's partner named in lower case after a bare "is", "my bf is tom", "my
    girlfriend is sarah": only a word that ends the clause (`lower_name`), and no word said
    of a partner (`said_of_someone`: "my bf is great"): a false partner would retire the
    real one."""
    return [] if said_of_someone(match["x"]) else lower_partner(match, s)


def _partner_named(match: re.Match[str], s: Sentence, name: str) -> list[Candidate]:
    if name.casefold() in PRONOUNS:  # "She is my girlfriend": no name said
        return []
    role = partner_role(match["rel"])
    if _WITH_ME.match(s.text, match.end()) and partner_stage(role) < 2:
        return []
    text = f"{s.label}'s {role} is {name}"
    return [partner_fact(s, text, name, role, dated=False)]


def dating(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """The user's partner said as whom they date, "I'm seeing Mia now", "I'm dating Tom": the
    partner, in no role more precise than "partner" (the words say none)."""
    name = match["x"]
    return [partner_fact(s, f"{s.label} is dating {name}", name, "partner")]


def married(match: re.Match[str], s: Sentence) -> list[Candidate]:
    name = match["x"]
    return [partner_fact(s, f"{s.label} married {name}", name, "spouse")]


def partner_fact(s: Sentence, text: str, name: str, role: str, *, dated: bool = True) -> Candidate:
    """The user's partner `name`, in `role` (`partner_role`: further on supersedes), with
    the partner_of relation; `dated` as for `fact`. A name said with a possessive is the
    partner's without it ("my boyfriend Tom's parents": Tom)."""
    if name != (bare := unpossessive(name)):
        name, text = bare, text.replace(name, bare)
    entities, relations = relate(s, "partner_of", name, "person", dated=dated)
    return fact(
        s,
        text,
        kind="profile",
        attribute="partner",
        value=name,
        importance=0.9,
        entities=entities,
        relations=relations,
        metadata={"role": role},
        dated=dated,
    )


_OPENING_WORD = re.compile(
    r"^(?:Yesterday|Today|Finally|So|And|But|Oh|Well|Also|Then|Actually|Guess\s+what)\s+"
)
"""A sentence's first word, before the name it opens on ("Yesterday Ana and I got married")."""
_WED = {"married": "spouse", "engaged": "fiancé"}
"""The partner's role after a wedding or an engagement."""


def wed_to(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A wedding or engagement said with the partner, "Ana and I got married", "I'm married
    to Ana", "I got engaged to Ana": the partner (their role now spouse or fiancé: an earlier
    girlfriend or fiancée fact is over) and the relationship status."""
    name = _OPENING_WORD.sub("", match["x"] or match["x2"])
    how = (match["how"] or match["how2"]).lower()
    wed = "married" if how == "married" else "got engaged to"
    partner = partner_fact(s, f"{s.label} {wed} {name}", name, _WED[how])
    status = fact(
        s, f"{s.label} is {how}", kind="profile", attribute="relationship_status", value=how
    )
    return [partner, status]


NAMES_KEY = "names"
"""The metadata key of whom a turn named without saying who they are to the speaker
(`names_given`): not a fact, what a later "he's my boyfriend now" reads (`Sentence.before`)."""
_NAMING = re.compile(
    r"(?:\b(?P<pro>(?i:his|her|their))\s+(?i:name)(?:'s|\s+is)"
    r"|\b(?P<pro2>(?i:he|she))(?:'s|\s+is)\s+(?i:called|named)"
    r"|(?i:\bmet\s+(?:someone|somebody|(?:a|this)\s+(?:\w+\s+){0,2}?"
    r"(?P<who>guy|girl|man|woman|boy|lady|dude|person)))"
    r"(?i:\s+(?:named|called)|,\s+(?P<pro3>his|her|their)\s+name\s+is)"
    r"|(?i:\b(?:I'm|I\s+am|I'?ve\s+been|I\s+have\s+been)\s+(?:seeing|dating)))"
    rf"\s+{NAME}"
)
"""A person named with no role ("his name is Jonas", "I met someone named Jonas", "I've
been seeing Jonas"): whom a later "he's my boyfriend now" means."""
_HE = frozenset("his he guy man boy dude".split())
_SHE = frozenset("her she girl woman lady".split())


def names_given(text: str) -> tuple[Candidate, ...]:
    """Whom `text` names with no role (`_NAMING`), in order, each as a marker (no fact) of
    the name and the pronoun that fits them ("he", "she", or None: "their name", "someone").
    A name with a possessive is a place ("at Dave's"), no one's name."""
    found = []
    for match in _NAMING.finditer(text):
        if match["x"].casefold() in PRONOUNS or unpossessive(match["x"]) != match["x"]:
            continue
        said = (match["pro"] or match["pro2"] or match["pro3"] or match["who"] or "").lower()
        pronoun = "he" if said in _HE else "she" if said in _SHE else None
        found.append(
            Candidate(text=match["x"], metadata={NAMES_KEY: match["x"], "pronoun": pronoun})
        )
    return tuple(found)


def partner_now(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A partner said by a pronoun, "he's my boyfriend now", "we're officially together":
    the person the speaker named last, in this turn or an earlier one of the session
    (`names_given`), whom the pronoun fits. No name known, no fact."""
    start = max(s.turn.find(s.text), 0) if s.turn else 0
    head = (s.turn[:start] if s.turn else "") + " " + s.text[: match.start()]
    named = (*(c for c in s.before or () if NAMES_KEY in c.metadata), *names_given(head))
    pronoun = (match["pro"] or "").lower() or None
    fits = [c for c in named if pronoun is None or c.metadata["pronoun"] in (pronoun, None)]
    if not fits:
        return []
    name = str(fits[-1].metadata[NAMES_KEY])
    role = partner_role(match["rel"]) if match["rel"] else "partner"
    return [partner_fact(s, f"{s.label}'s {role} is {name}", name, role, dated=False)]
