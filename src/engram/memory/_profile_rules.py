"""Profile-slot rules: name, age, diet, home, origin, work, school, relationship, partner, kin,
pets and "my X is Y" slots. Each builder turns a rule's match into candidates.

The slot rules read their own negations too ("I don't live in Paris anymore", "I'm not
vegan", "I used to work at Google"): those build an `ending` of the value, never the value.
Ends and changes said with other verbs ("I left Google") are in `_change_rules`."""

from __future__ import annotations

import re

from engram.memory._phrases import (
    ADV,
    DIETS,
    I_AM,
    JOB_CUE,
    ME,
    NAME,
    NOT,
    PARTNERS,
    REST,
    UP,
    Rule,
    Sentence,
    clean,
    ending,
    fact,
    lowercase_place,
    proper,
    relate,
    rule,
    slug,
    stopped,
)
from engram.memory.candidates import SLOT_RELATIONS, Candidate, EntityKind, EntityMention
from engram.types._memory import MemoryKind

__all__ = ["PROFILE_RULES"]


def _name(match: re.Match[str], s: Sentence) -> list[Candidate]:
    name = match["x"]
    text = f"{s.label}'s name is {name}"
    return [fact(s, text, kind="profile", attribute="name", value=name, importance=0.9)]


def _age(match: re.Match[str], s: Sentence) -> list[Candidate]:
    age = match["x"]
    text = f"{s.label} is {age} years old"
    return [fact(s, text, kind="profile", attribute="age", value=age, importance=0.7)]


def _diet(match: re.Match[str], s: Sentence) -> list[Candidate]:
    diet = match["x"].lower()
    if match.groupdict().get("neg"):
        how = "no longer" if stopped(match, s) else "not"
        return [ending(s, f"{s.label} is {how} {diet}", "diet", diet)]
    text = f"{s.label} is {diet}"
    return [fact(s, text, kind="profile", attribute="diet", value=diet, importance=0.8)]


_ENTITY_OF: dict[str, EntityKind] = {
    "home_city": "place",
    "employer": "organisation",
    "school": "organisation",
}
_ACCUSTOMED = re.compile(r"I(?:'m|\s+am)\b", re.IGNORECASE)


def _denied(
    match: re.Match[str], s: Sentence, attribute: str, value: str, verb: tuple[str, str]
) -> list[Candidate]:
    """The ending a negated slot statement builds: "I don't live in Paris anymore" -> "The
    user no longer lives in Paris"; "I don't work at Google" -> "The user doesn't work at
    Google"; "I used to work at Google" -> "The user used to work at Google". Never the
    positive value."""
    third, base = verb
    if match["neg"].split()[0].lower() == "used":
        if _ACCUSTOMED.match(match[0]):
            return []  # "I'm used to living in Paris" says nothing of where they live
        text = f"{s.label} used to {base} {value}"
    elif stopped(match, s):
        text = f"{s.label} no longer {third} {value}"
    else:
        text = f"{s.label} doesn't {base} {value}"
    return [ending(s, text, attribute, value, entity=_ENTITY_OF.get(attribute))]


def _place_slot(
    s: Sentence, raw: str | None, attribute: str, template: str, relation: str | None
) -> list[Candidate]:
    phrase = clean(raw, s, max_words=6)
    place = proper(raw) or lowercase_place(phrase, s)
    if place is None:
        return [fact(s, template.format(s=s.label, x=phrase), importance=0.5)] if phrase else []
    entities, relations = relate(s, relation, place, "place") if relation else ((), ())
    text = template.format(s=s.label, x=place)
    return [
        fact(
            s,
            text,
            kind="profile",
            attribute=attribute,
            value=place,
            importance=0.8,
            entities=entities or (EntityMention(place, "place"),),
            relations=relations,
        )
    ]


def _lives(match: re.Match[str], s: Sentence) -> list[Candidate]:
    if match["neg"]:
        place = proper(match["x"])
        return _denied(match, s, "home_city", place, ("lives in", "live in")) if place else []
    return _place_slot(s, match["x"], "home_city", "{s} lives in {x}", "lives_in")


def _moved(match: re.Match[str], s: Sentence) -> list[Candidate]:
    found = _place_slot(s, match["x"], "home_city", "{s} moved to {x}", "lives_in")
    old = proper(match.groupdict().get("y"))
    if found and old:
        found[0] = fact(
            s,
            f"{s.label} moved from {old} to {found[0].value}",
            kind=found[0].kind,
            attribute=found[0].attribute,
            value=found[0].value,
            importance=0.8,
            entities=(*found[0].entities, EntityMention(old, "place")),
            relations=found[0].relations,
            metadata={"negates": old},
        )
    return found


def _origin(match: re.Match[str], s: Sentence) -> list[Candidate]:
    return _place_slot(s, match["x"], "origin", "{s} is from {x}", "from")


def _lived(match: re.Match[str], s: Sentence) -> list[Candidate]:
    place = proper(match["x"]) or clean(match["x"], s, max_words=6)
    return [fact(s, f"{s.label} used to live in {place}", importance=0.5)] if place else []


def _related(s: Sentence, attribute: str, value: str, text: str, importance: float) -> Candidate:
    """A slot whose value stands in a relation to the user (`SLOT_RELATIONS`: the employer
    works_at, the school studies_at), with that relation."""
    relation, kind = SLOT_RELATIONS[attribute]
    entities, relations = relate(s, relation, value, kind)
    return fact(
        s,
        text,
        kind="profile",
        attribute=attribute,
        value=value,
        importance=importance,
        entities=entities,
        relations=relations,
    )


def _employer(s: Sentence, employer: str) -> Candidate:
    """The user's employer slot, with the works_at relation it states."""
    return _related(s, "employer", employer, f"{s.label} works at {employer}", 0.8)


def _occupation(s: Sentence, job: str) -> Candidate:
    """The user's occupation slot ("a software engineer")."""
    return fact(
        s,
        f"{s.label} works as {job}",
        kind="profile",
        attribute="occupation",
        value=job,
        importance=0.8,
    )


def _works_at(match: re.Match[str], s: Sentence) -> list[Candidate]:
    employer = proper(match["x"]) or clean(match["x"], s, max_words=6)
    if not employer:
        return []
    if match["neg"]:
        return _denied(match, s, "employer", employer, ("works at", "work at"))
    return [_employer(s, employer)]


def _works_as(match: re.Match[str], s: Sentence) -> list[Candidate]:
    job = clean(re.split(r"\s+(?:at|for|in|with)\s+", match["x"], maxsplit=1)[0], s, max_words=6)
    if not job:
        return []
    if match["neg"]:
        return _denied(match, s, "occupation", job, ("works as", "work as"))
    return [_occupation(s, job)]


_NOT_A_JOB = frozenset(
    "member regular fan customer client guest volunteer patient student visitor subscriber "
    "user intern".split()
)


def _role_at(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A job at a named employer, "I'm a software engineer at Google": the occupation and
    the employer. A role that is no job ("a regular at Joe's") says neither."""
    employer = proper(match["x"])
    role = clean(match["role"], s, max_words=5)
    if not employer or not role or role.split()[-1].lower() in _NOT_A_JOB:
        return []
    return [_occupation(s, role), _employer(s, employer)]


_AS_ROLE = re.compile(r"\s+as\s+(?P<role>an?\s+[^,.;!?()\n]+)", re.IGNORECASE)


def _joined(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A new employer, "I joined Meta as a designer" or "I joined Meta last month, new
    job!": only with a role or a word of work, since one also joins a club or a choir."""
    employer = proper(match["x"])
    if not employer:
        return []
    role = _AS_ROLE.match(match["x"][match["x"].find(employer) + len(employer) :])
    if role is None and not JOB_CUE.search(s.text):
        return []
    job = clean(role["role"], s, max_words=5) if role else None
    return [_employer(s, employer), *([_occupation(s, job)] if job else [])]


def _quit_job(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """No employer now: that one if named, else whichever the user had."""
    employer = proper(match["x"])
    text = f"{s.label} quit their job" + (f" at {employer}" if employer else "")
    return [ending(s, text, "employer", employer, entity="organisation", importance=0.7)]


def _studies_at(match: re.Match[str], s: Sentence) -> list[Candidate]:
    school = proper(match["x"])
    if not school:
        return []
    if match["neg"]:
        return _denied(match, s, "school", school, ("studies at", "study at"))
    return [_related(s, "school", school, f"{s.label} studies at {school}", 0.7)]


def _status(match: re.Match[str], s: Sentence) -> list[Candidate]:
    status = match["x"].lower()
    text = f"{s.label} is {status}"
    return [fact(s, text, kind="profile", attribute="relationship_status", value=status)]


_KIN = (
    r"best\s+friend|friend|brother|sister|mom|mother|dad|father|son|daughter|cousin|colleague|"
    r"coworker|co-worker|boss|roommate|neighbou?r|aunt|uncle|grandma|grandmother|grandpa|"
    r"grandfather|niece|nephew|mentor|stepson|stepdaughter|stepmom|stepdad"
)
_PETS = r"dog|cat|puppy|kitten|pet|bird|parrot|hamster|rabbit|bunny|horse|fish|turtle|snake"


def _partner(match: re.Match[str], s: Sentence) -> list[Candidate]:
    name, role = match["x"], match["rel"].lower()
    entities, relations = relate(s, "partner_of", name, "person", dated=False)
    text = f"{s.label}'s {role} is {name}"
    return [
        fact(
            s,
            text,
            kind="profile",
            attribute="partner",
            value=name,
            importance=0.9,
            entities=entities,
            relations=relations,
            dated=False,
        )
    ]


def _married(match: re.Match[str], s: Sentence) -> list[Candidate]:
    name = match["x"]
    entities, relations = relate(s, "partner_of", name, "person")
    text = f"{s.label} married {name}"
    return [
        fact(
            s,
            text,
            kind="profile",
            attribute="partner",
            value=name,
            importance=0.9,
            entities=entities,
            relations=relations,
        )
    ]


def _kin(match: re.Match[str], s: Sentence) -> list[Candidate]:
    name, role = match["x"], " ".join(match["rel"].lower().split())
    relation = "friend_of" if "friend" in role else "has_" + role.replace(" ", "_")
    entities, relations = relate(s, relation, name, "person", dated=False)
    text = f"{name} is {s.label_within}'s {role}"
    return [fact(s, text, importance=0.7, entities=entities, relations=relations, dated=False)]


def _pet(match: re.Match[str], s: Sentence) -> list[Candidate]:
    name, animal = match["x"], match["rel"].lower()
    entities, relations = relate(s, "has_pet", name, "other", dated=False)
    text = f"{s.label} has a {animal} named {name}"
    return [fact(s, text, importance=0.7, entities=entities, relations=relations, dated=False)]


_SLOT_KEYS = frozenset(
    """birthday email phone address hometown nickname major job occupation goal dream
    pronouns height weight zodiac star sign blood type budget""".split()
)


def _my_x_is(match: re.Match[str], s: Sentence) -> list[Candidate]:
    key = " ".join(match["key"].lower().split())
    value = clean(match["x"], s, max_words=8)
    if not value:
        return []
    favourite = key.startswith(("favorite ", "favourite "))
    if not favourite and key not in _SLOT_KEYS:
        return []
    attribute = ("favorite_" + slug(key.split(" ", 1)[1])) if favourite else slug(key)
    kind: MemoryKind = "preference" if favourite else "profile"
    text = f"{s.label}'s {key} is {value}"
    return [fact(s, text, kind=kind, attribute=attribute, value=value, importance=0.7)]


PROFILE_RULES: tuple[Rule, ...] = (
    rule(
        rf"(?i:\bmy\s+name(?:'s|\s+is)|\bcall\s+me|\b(?:hi|hello|hey)[,!.]?\s+I'm)\s+{NAME}",
        _name,
        ("name", "call me", "i'm"),
    ),
    rule(rf"{I_AM}\s+(?P<x>\d{{1,3}})(?i:\s+years?\s+old|\s*(?:yo|y/o)\b)", _age, ("old", "yo")),
    rule(
        rf"{I_AM}{ADV}(?P<neg>\s+(?i:no\s+longer|not))?(?i:\s+an?)?\s+(?P<x>(?i:{DIETS}))(?![\w-])",
        _diet,
        ("vegetarian", "vegan", "pesc", "flexitarian", "keto", "paleo", "gluten", "lactose")
        + ("kosher", "halal", "carnivore"),
    ),
    rule(
        rf"{ME}(?i:'ve|\s+have)?{ADV}\s+(?i:went|gone|became|become|turned)(?i:\s+an?)?\s+"
        rf"(?P<x>(?i:{DIETS}))(?![\w-])",
        _diet,
        ("went", "gone", "became", "become", "turned"),
    ),
    rule(
        rf"(?i:{ME}\s+moved\s+from)\s+(?P<y>[^,.;!?()\n]+?)\s+(?i:to)\s+{REST}",
        _moved,
        ("moved",),
    ),
    rule(
        rf"{ME}(?i:'ve|\s+have)?{ADV}\s+(?i:moved|relocated)(?i:\s+back)?\s+(?i:to|into)\s+"
        rf"{REST}",
        _moved,
        ("moved", "relocated"),
    ),
    rule(
        rf"{ME}(?i:'m|\s+am|'ve\s+been|\s+have\s+been)?{ADV}{NOT}{ADV}\s+"
        rf"(?i:live|living|reside|residing)\s+(?i:in)\s+{REST}",
        _lives,
        ("liv", "resid"),
    ),
    rule(rf"{ME}{ADV}\s+(?i:used\s+to\s+live|lived)\s+(?i:in)\s+{REST}", _lived, ("live",)),
    rule(
        rf"(?:{I_AM}(?i:\s+originally)?\s+(?i:from)|{ME}\s+(?i:grew\s+up\s+in))\s+{REST}",
        _origin,
        ("from", "grew up"),
    ),
    rule(
        rf"{ME}(?i:\s+(?:quit|left)\s+my\s+job|'ve\s+quit\s+my\s+job|\s+got\s+(?:fired|laid\s+off)"
        rf"|\s+was\s+(?:fired|laid\s+off))(?i:\s+(?:at|from)\s+(?P<x>[^,.;!?()\n]+))?",
        _quit_job,
        ("job", "fired", "laid off"),
    ),
    rule(
        rf"(?:{ME}(?i:'m|\s+am)?{ADV}{NOT}{ADV}\s+(?i:(?:work|working|employed)\s+(?:at|for)|"
        r"employed\s+by)"
        rf"|{ME}{ADV}\s+(?i:got\s+a\s+(?:new\s+)?job|started\s+(?:a\s+new\s+job|working))"
        rf"\s+(?i:at|for)|(?i:my\s+employer\s+is))\s+{REST}",
        _works_at,
        ("work", "job", "employ"),
    ),
    rule(
        rf"{ME}(?i:'m|\s+am)?{ADV}{NOT}{ADV}\s+(?i:work|working)\s+(?i:as)\s+{REST}",
        _works_as,
        ("work",),
    ),
    rule(rf"{ME}(?i:'ve|\s+have)?{ADV}\s+(?i:joined)\s+(?=[{UP}]){REST}", _joined, ("joined",)),
    rule(
        rf"{I_AM}{ADV}\s+(?P<role>(?i:an?)\s+[^,.;!?()\n]{{2,40}}?)\s+(?i:at|for|with)\s+"
        rf"(?=[{UP}]){REST}",
        _role_at,
        ("i'm a", "i am a", "im a"),
    ),
    rule(
        rf"{ME}(?i:'m|\s+am)?{ADV}{NOT}{ADV}\s+(?i:study|studying|a\s+student)\s+(?i:at)\s+"
        rf"{REST}",
        _studies_at,
        ("stud",),
    ),
    rule(
        rf"{ME}(?i:'m|\s+am|'ve\s+been|\s+have\s+been|\s+got|\s+just\s+got){ADV}\s+"
        r"(?P<x>(?i:married|single|engaged|divorced|separated|widowed|in\s+a\s+relationship))\b",
        _status,
        ("married", "single", "engaged", "divorced", "separated", "widowed", "relationship"),
    ),
    rule(
        rf"(?i:\bmy\s+(?P<rel>{PARTNERS})(?:'s\s+name\s+is|,|\s+is|\s+named|\s+called)?)\s+"
        rf"{NAME}",
        _partner,
        ("partner", "wife", "husband", "girlfriend", "boyfriend", "fianc", "spouse"),
    ),
    rule(
        rf"{ME}(?i:\s+(?:got\s+|just\s+got\s+)?married\s+to|\s+married)\s+{NAME}",
        _married,
        ("married",),
    ),
    rule(
        rf"(?i:\bmy\s+(?:(?:good|close|old|new|little|big|older|younger|twin)\s+)?"
        rf"(?P<rel>{_KIN})(?:'s\s+name\s+is|,|\s+named|\s+called)?)\s+{NAME}",
        _kin,
        ("my ",),
    ),
    rule(
        rf"(?i:\bmy\s+(?:\w+\s+)?(?P<rel>{_PETS})(?:'s\s+name\s+is|,|\s+named|\s+called)?)\s+"
        rf"{NAME}",
        _pet,
        ("my ",),
    ),
    rule(
        rf"(?i:\b(?:a|an)\s+(?P<rel>{_PETS})\s+(?:named|called))\s+{NAME}",
        _pet,
        ("named", "called"),
    ),
    rule(
        rf"(?i:\bmy\s+(?P<key>favou?rite\s+[a-z]+(?:\s+[a-z]+)?|[a-z]+(?:\s+[a-z]+)?)"
        rf"(?:\s+is|'s))\s+{REST}",
        _my_x_is,
        ("my ",),
    ),
)
"""The profile-slot rules, most specific first."""
