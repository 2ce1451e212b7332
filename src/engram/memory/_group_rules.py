"""Rules for what the user says of several people at once: kin in the plural ("My sisters Ana
and Marta live in Madrid", "My parents live in Porto", "My kids are allergic to nuts"), kin
listed ("My wife and my son are vegetarian") and the user with kin ("My wife and I are
vegetarian", "Me and my partner live in Oslo", "My husband and I moved to Berlin").

Each person said gets a fact of their own, its `subject` their name ("Ana", with the relation
"Ana is the user's sister") or, unnamed, the user's role word ("the user's parents", "the
user's wife"); never the user's own slot, unless the user is one of them ("and I", "me and").
Only a subject that opens its clause is read: "When my parents live in Porto" says nothing,
and whatever the words before the verb do not name in full is left unextracted (a wrong slot
would retire a true one). Part of the fact rules (`_fact_rules` holds them in its order)."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import NamedTuple

from engram.memory._kin_rules import BROOD, CHILD_ROLE, KIN, TRAIT, kin_fact, trait
from engram.memory._others_rules import where
from engram.memory._partners import PARTNERS
from engram.memory._patterns import ADV, PRONOUNS, UP
from engram.memory._phrases import REST, Rule, Sentence, partner_role, rule
from engram.memory._profile_rules import diet_value, users_home
from engram.memory.candidates import Candidate, EntityMention
from engram.memory.entities import fold
from engram.memory.queries import STOPWORDS

__all__ = ["GROUP_RULES"]

_MOD = r"(?:(?:good|close|old|best|new|little|baby|big|older|younger|oldest|youngest|twin)\s+)?"
_PLURALS = "|".join(BROOD)
_ONE = rf"(?i:{_MOD}(?:{PARTNERS}|{KIN}|kid|child|boy|girl|{_PLURALS}))(?:,?\s+[{UP}][\w'-]+)?"
_MANY = (
    rf"(?i:(?:both\s+(?:of\s+)?|all\s+(?:of\s+)?)?my\s+(?:(?:two|three|four|five|\d)\s+)?{_MOD}"
    rf"(?P<plural>{_PLURALS}))(?:,?\s+(?P<names>[{UP}][\w'-]+(?:,\s+[{UP}][\w'-]+)*,?\s+"
    rf"(?i:and|&)\s+[{UP}][\w'-]+))?"
)
_SUBJECT = re.compile(
    r"(?:^|[,;:]\s*|\b(?i:and|but|so|because|since|well|oh|also|btw|now)\s+)"
    r"(?:(?P<me>(?i:me|myself))\s+(?i:and|&)\s+)?"
    rf"(?:{_MANY}|(?P<list>(?i:my)\s+{_ONE}(?:(?:,\s+|,?\s+(?i:and|&)\s+)(?i:my\s+)?{_ONE})*))"
    r"(?:,?\s+(?i:and|&)\s+(?P<I>I|(?i:me|myself)))?,?\s*$"
)
"""Several people as the subject opening a clause, just before its verb: kin in the plural
("my sisters Ana and Marta", "both my kids"), kin listed ("my wife and my son", "my wife and
kids"), with the user ("me and my partner", "my wife and I")."""
_MEMBER = re.compile(
    rf"(?i:(?:my\s+)?{_MOD}(?P<rel>{PARTNERS}|{KIN}|kid|child|boy|girl|{_PLURALS}))"
    rf"(?:,?\s+(?P<name>[{UP}][\w'-]+))?"
)
_LIST_SPLIT = re.compile(r",?\s+(?:and|&)\s+|,\s+", re.IGNORECASE)

_PLACES = (
    r"(?P<home>live\s+in|are\s+living\s+in|(?:have\s+|'ve\s+)?(?P<move>moved|relocated)\s+"
    r"(?:back\s+)?to)|work\s+(?:at|for)|are\s+working\s+(?:at|for)"
)
"""Where several people live or work, the verb in the plural ("live in", "moved to")."""


class _Person(NamedTuple):
    """One of the people a group subject names: how a fact says them (`who`), whom it is
    about (`subject`), their entity when named, and whether `who` is several ("The user's
    parents")."""

    who: str
    subject: str
    person: tuple[EntityMention, ...] = ()
    plural: bool = False


def _named(name: str) -> _Person:
    return _Person(name, name, (EntityMention(name, "person"),))


def _group(
    before: str, s: Sentence, *, and_i: bool = False
) -> tuple[list[_Person], list[Candidate], bool] | None:
    """The people the words `before` a verb name as its subject (`_SUBJECT`), the facts of
    who they are to the user ("Ana is the user's sister") and whether the user is one of
    them (as they are `and_i`: "and I" follows); None unless they are several, each said in
    full."""
    found = _SUBJECT.search(before)
    if found is None or (and_i and found["I"]):
        return None
    with_user = and_i or bool(found["me"] or found["I"])
    if found["plural"]:
        plural = found["plural"].lower()
        if not found["names"]:
            role = f"{s.label}'s {plural}", f"{s.label_within}'s {plural}"
            return [_Person(*role, plural=True)], [], with_user
        names = _LIST_SPLIT.split(found["names"])
        if any(_no_name(name, s) for name in names):
            return None
        kin = [c for name in names for c in kin_fact(s, name, BROOD[plural])]
        return [_named(name) for name in names], kin, with_user
    people = [_member(part, s) for part in _LIST_SPLIT.split(found["list"])]
    if any(person is None for person in people) or len(people) + with_user < 2:
        return None
    return [person for person in people if person is not None], [], with_user


def _member(said: str, s: Sentence) -> _Person | None:
    """One of kin listed ("my wife", "son", "my sister Ana"); None for anything else."""
    member = _MEMBER.fullmatch(said)
    if member is None:
        return None
    if member["name"]:
        return None if _no_name(member["name"], s) else _named(member["name"])
    rel = member["rel"].lower()
    role = partner_role(rel)
    role = CHILD_ROLE.get(role, role)
    return _Person(f"{s.label}'s {role}", f"{s.label_within}'s {role}", plural=rel in BROOD)


def _no_name(word: str, s: Sentence) -> bool:
    """Whether a capitalised word where a name goes names no one, or the speaker ("I")."""
    folded = fold(word)
    return folded in PRONOUNS or folded in STOPWORDS or folded == fold(s.label)


def _live_or_work(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """Where several people live or work, "My parents live in Porto", "My sisters Ana and
    Marta live in Madrid", "Me and my partner live in Oslo": a fact about each (`where`),
    and the user's home when they are one of them. "My wife and I moved to Berlin" is
    `_with_me`'s: the user's home there is the profile rules'."""
    group = _group(s.text[: match.start()], s)
    if group is None:
        return []
    people, kin, with_user = group
    found = [*kin, *_about(people, match, s)]
    if with_user and match["home"]:
        found[:0] = users_home(match, s)
    return found if len(found) > len(kin) else []


def _with_me(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """Where the user's kin live or work with them, "My husband and I moved to Berlin last
    year": a fact about the kin (the "and" the match is: "I moved to Berlin" is the profile
    rules' own)."""
    group = _group(s.text[: match.start()], s, and_i=True)
    if group is None:
        return []
    people, kin, _ = group
    said = _about(people, match, s)
    return [*kin, *said] if said else []


def _about(people: list[_Person], match: re.Match[str], s: Sentence) -> list[Candidate]:
    """Where each of `people` lives or works, as `match` says (`where`)."""
    return [c for p in people for c in where(match, s, p.who, p.subject, p.person, plural=p.plural)]


def _trait_of_all(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A diet, faith or allergy of several people, "My wife and I are vegetarian", "My kids
    are allergic to nuts", "My wife and my son are vegan": a fact about each (`trait`), and
    the user's own diet or allergy when they are one of them (the user has no faith slot)."""
    group = _group(s.text[: match.start()], s)
    if group is None:
        return []
    people, kin, with_user = group
    found = list(kin)
    if with_user and not match["faith"]:
        diet = match["diet"] and not match["neg"]
        users = [diet_value(s, match["diet"].lower())] if diet else trait(match, s, s.label)
        found.extend(users)
    for p in people:
        be = "are" if p.plural else "is"
        said = trait(match, s, p.who, be=be)
        found.extend(replace(c, subject=p.subject, entities=(*p.person, *c.entities)) for c in said)
    return found if len(found) > len(kin) else []


_VERB = r"\s+(?i:" + _PLACES + r")\s+(?=[\"'A-ZÀ-ÖØ-Þ])" + REST
_BOTH = r"(?i:\s+(?:both|all))?"
"""What several people are said to be or do together ("are both vegan", "both work at")."""

GROUP_RULES: tuple[Rule, ...] = (
    rule(
        ADV + _BOTH + ADV + _VERB, _live_or_work, ("live", "living", "moved", "relocated", "work")
    ),
    rule(
        r"\s+(?i:and|&)(?=\s+I" + ADV + _VERB + ")",
        _with_me,
        ("live", "living", "moved", "relocated", "work"),
    ),
    rule(r"(?i:\s+are|'re)" + _BOTH + TRAIT, _trait_of_all, ("are", "'re")),
)
"""The rules of what several people are, and where they live and work."""
