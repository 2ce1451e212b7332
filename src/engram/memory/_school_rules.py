"""School slot rules: the school and the major ("I study law at UCLA", "I go to MIT", "I
majored in biology", "I'm a junior in college") and the `studies_at` relation. Part of the
profile-slot rules (`_profile_rules.PROFILE_RULES` holds them in its order, after the work
rules: "I'm a junior at NYU", a role at a school, is read there, by `school_slot`)."""

from __future__ import annotations

import re
from datetime import timedelta

from engram.memory._phrases import (
    ADV,
    HAVE,
    I_AM,
    ME,
    NO_EMPLOYER,
    NOT,
    REST,
    UP,
    Rule,
    Sentence,
    clean,
    denied,
    ending,
    fact,
    proper,
    related_slot,
    rule,
    with_article,
    with_date,
)
from engram.memory.candidates import Candidate

__all__ = ["SCHOOL_RULES", "STUDENT", "school_slot"]

STUDENT = frozenset(
    "student freshman sophomore junior senior undergrad undergraduate grad postgrad".split()
)
"""A role at a school that is no job: "I'm a junior at NYU" says the school."""


def school_slot(s: Sentence, school: str) -> Candidate:
    """The user's school slot, with the studies_at relation it states."""
    return related_slot(s, "school", school, f"{s.label} studies at {school}", 0.7)


def _major(s: Sentence, field: str, verb: str = "studies") -> Candidate:
    """What the user studies, "law" of "I'm studying law at UCLA" (the `major` slot)."""
    text = f"{s.label} {verb} {field}"
    return fact(s, text, kind="profile", attribute="major", value=field, importance=0.7)


def _studies_at(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """The school, "I study at UCLA", and the field, "I'm studying law at UCLA"."""
    school = proper(match["x"])
    if not school:
        return []
    if match["neg"]:
        return denied(match, s, "school", school, ("studies at", "study at"))
    field = " ".join((match["field"] or "").split())
    if field.lower() in _NOT_A_FIELD or field.endswith("ly"):
        field = ""  # "I study hard at UCLA"
    return [school_slot(s, school), *([_major(s, field)] if field else [])]


_NOT_A_FIELD = frozenset("hard abroad here there online remotely full-time part-time".split())


def _majored(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A major, "I majored in biology", "I'm majoring in computer science"."""
    field = clean(match["x"], s, max_words=4)
    verb = "majored in" if "ed" in match["how"].lower() else "studies"
    return [_major(s, field, verb)] if field else []


_SCHOOL_NAME = re.compile(
    r"(?:\b(?:University|College|School|High|Academy|Institute|Uni|Polytechnic|"
    r"Conservatory|Tech)$|^University\b|^Caltech$|^[A-Z]*U[A-Z]*$|^[A-Z]{1,3}(?:IT|PI)$)"
)
"""A name that says a school: by its words ("Georgia Tech"), or an acronym of a university
("UCLA", "NYU") or an institute ("MIT", "RPI"); not any acronym ("CVS", "AA")."""
_OCCASION = re.compile(
    r"\b(?:every|each|weekly|monthly|yearly|annual(?:ly)?|always|usually|often|sometimes|"
    r"regularly|meetings?|mass|services?|festival|conference|concerts?|shows?|games?|"
    r"classes|sessions?|study|church|temple|mosque|synagogue|worship|retreat|camp)\b",
    re.IGNORECASE,
)
"""Words of an occasion one attends, not a school ("Every year I attend Coachella")."""


def _goes_to(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A school one goes to or attends, "I go to UCLA", "I go to MIT", "I attend Lincoln
    High": a name that says a school. One attends a school by any other name too ("I attend
    Stanford"), but no acronym, club or occasion ("I attend AA", "I attend Toastmasters",
    "Every year I attend Coachella"). Not "I go to Costco", nor "I go to UFC fights"."""
    school = proper(match["x"])
    rest = match["x"].strip()[len(school or "") :]
    if not school or re.match(r"\s+[a-z]", rest):
        return []
    if _SCHOOL_NAME.search(school) or _attends(match["verb"], school, s):
        return [school_slot(s, school)]
    return []


_STAGES = (
    r"college|university|uni|grad(?:uate)?\s+school|high\s+school|middle\s+school|"
    r"law\s+school|med(?:ical)?\s+school|nursing\s+school"
)
"""The schooling one is "in", by its kind rather than its name ("I'm in college")."""


def _in_school(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A student by the schooling they are in, "I'm in college", "I'm a junior in college":
    a fact, no `school` slot (which holds the school's name: "college" would retire "UCLA")."""
    role = " ".join((match["role"] or "").lower().split())
    stage = " ".join(match["stage"].lower().split())
    text = f"{s.label} is {role + ' ' if role else ''}in {stage}"
    return [fact(s, text, importance=0.7)]


def _attends(verb: str, name: str, s: Sentence) -> bool:
    """Whether "I attend <name>" says a school, though the name does not."""
    if verb.lower() != "attend" or name.isupper() or NO_EMPLOYER.search(name):
        return False
    return not s.times and not _OCCASION.search(s.text)


_DEGREE = (
    r"(?:PhD|Ph\.D\.?|doctorate|degree|master'?s(?:\s+degree)?|bachelor'?s(?:\s+degree)?|MBA|"
    r"studies)"
)
"""A degree one finishes ("I finished my PhD")."""
_THESIS = r"(?:thesis|dissertation|PhD|Ph\.D\.?)"
_UNDONE = (
    r"application|applications|acceptance|admission|offer|interview|proposal|qualifying|exams?|"
    r"courses?|class(?:es)?|program(?:me)?|advis[eo]r|supervisor|committee|drafts?|chapters?|"
    r"funding|stipend|letter|students?"
)
"""What follows a degree in words of a step on the way to it ("I got my PhD acceptance")."""
_RETOLD = re.compile(
    r"\b(?:when|after|since|before|until|till|once|because|as\s+soon\s+as)\s*$", re.IGNORECASE
)
"""Words that make a graduation the time of something else ("since I graduated")."""
_LONG_AGO = timedelta(days=60)
"""How long before it was said a graduation may be and still end the school now; one of
years ago ("I graduated in 2015") is a school of the past, and may not be the one held now."""


def _graduated(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A degree finished, "I graduated!", "I finished my PhD", "I defended my thesis", "I
    PASSED MY DEFENSE": the user studies at no school now (the one named, "I graduated from
    BU", else whichever the slot holds), since it was said. Not an exam ("I passed my exam"),
    a high school, one told as the time of something else ("since I graduated"), nor one of
    long before it was said ("I graduated in 2015")."""
    if _RETOLD.search(s.text[: match.start()]):
        return []
    if any(time.end < s.said_at - _LONG_AGO for time in s.times):
        return []
    school = proper(match["x"]) if match["x"] else None
    if match["x"] and (not school or clean(match["x"], s) != school):
        return []  # "I graduated from high school", "I graduated from BU's program"
    clause = _CLAUSE.match(s.text, match.start("how"))
    said = clause[0] if clause else match["how"]
    said = clean(said.lower() if said.isupper() else said, s, max_words=12) or match["how"]
    if not _FINISHED.search(said):  # "passed their defense": say what it means
        said = f"{said} (finished their studies)"
    text = with_date(f"{s.label} {said}", s)
    return [ending(s, text, "school", school, entity="organisation" if school else None)]


_CLAUSE = re.compile(r"(?:[^,;:.!?()\n]|\.(?=\w))+")
_FINISHED = re.compile(r"\b(?:graduated|finished|completed)\b", re.IGNORECASE)
"""Words that say a degree is finished; a defense passed says so only to who knows: "When
did I finish my PhD?" shares no word, nor much meaning for the embedder, with it."""


_DEGREE_NAME = (
    r"PhD|Ph\.D\.?|doctorate|master'?s(?:\s+degree)?|bachelor'?s(?:\s+degree)?|degree|MBA|"
    r"MSc|BSc|MA|BA|MFA|JD|MD"
)
"""A degree one studies for by name ("my PhD", "a master's", "an MBA")."""


def _degree_at(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A degree under way at a school, "I'm doing my PhD in marine biology at UCSD", "I'm
    pursuing a master's at Stanford": the school (slot), and the field (the `major`)."""
    school = proper(match["x"])
    if not school:
        return []
    degree = " ".join(match["degree"].split())
    field = " ".join((match["field"] or "").split())
    text = f"{s.label} is doing {with_article(degree)}" + (f" in {field}" if field else "")
    found = [related_slot(s, "school", school, f"{text} at {school}", 0.7)]
    return [*found, _major(s, field)] if field else found


SCHOOL_RULES: tuple[Rule, ...] = (
    rule(
        rf"{ME}{HAVE}?{ADV}\s+(?P<how>(?i:graduated(?!\s+(?:from\s+)?(?:high|middle|elementary|"
        rf"primary|secondary|grade)\b)|(?:finished|completed|got)\s+my\s+(?:{_DEGREE})|"
        rf"defended\s+my\s+{_THESIS}|passed\s+my\s+(?:{_THESIS}\s+)?(?:defen[cs]e|viva)))"
        rf"(?!\s+(?i:{_UNDONE})\b)"
        rf"(?:\s+(?i:from|at)\s+(?=[{UP}]){REST}|(?![\w'-]))",
        _graduated,
        ("graduated", "finished", "completed", "got", "defended", "passed"),
    ),
    rule(
        rf"{ME}(?i:'m|\s+am){ADV}\s+(?i:doing|pursuing|finishing|completing|working\s+on|"
        rf"starting)\s+(?i:an?|my)\s+(?P<degree>(?i:{_DEGREE_NAME}))"
        rf"(?:\s+(?i:in)\s+(?P<field>(?:(?!(?i:at)\b)[A-Za-z]+\s*){{1,3}}?))?\s+(?i:at)\s+(?=[{UP}]){REST}",
        _degree_at,
        ("doing", "pursuing", "finishing", "completing", "working", "starting"),
    ),
    rule(
        rf"{ME}(?i:'m|\s+am)?{ADV}{NOT}{ADV}\s+(?i:study|studying|a\s+student)"
        rf"(?P<field>(?:\s+(?!(?i:at)\b)[A-Za-z]+){{0,3}})\s+(?i:at)\s+(?=[{UP}]){REST}",
        _studies_at,
        ("stud",),
    ),
    rule(
        rf"{ME}(?i:'m|\s+am)?{ADV}\s+(?P<how>(?i:majored|majoring|major))\s+(?i:in)\s+{REST}",
        _majored,
        ("major",),
    ),
    rule(
        rf"{ME}{ADV}\s+(?P<verb>(?i:go\s+to|attend))\s+(?=[{UP}]){REST}",
        _goes_to,
        ("go to", "attend"),
    ),
    rule(
        rf"{I_AM}{ADV}\s+(?P<role>(?i:an?)\s+(?i:{'|'.join(sorted(STUDENT))})\s+)?(?i:in)\s+"
        rf"(?P<stage>(?i:{_STAGES}))(?=\s*(?:$|[,.;!?]|(?i:now|right\s+now|rn|still|too|and|"
        r"but|so|studying|majoring)\b))",
        _in_school,
        ("college", "uni", "school"),
    ),
)
"""The school rules, most specific first."""
