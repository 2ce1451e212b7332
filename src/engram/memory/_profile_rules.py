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
    WE,
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
    age = match["x"] or match["y"]
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
    s: Sentence,
    raw: str | None,
    attribute: str,
    template: str,
    relation: str | None,
    *,
    after_move: bool = False,
) -> list[Candidate]:
    phrase = clean(raw, s, max_words=6)
    place = proper(raw) or lowercase_place(phrase, s, after_move=after_move)
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
    found = _place_slot(s, match["x"], "home_city", "{s} moved to {x}", "lives_in", after_move=True)
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


_TRIP = re.compile(
    r"\b(?:trip|vacation|holidays?|weekend|conference|visit(?:ing)?|flight|hotel|tour|"
    r"business|meeting|for\s+(?:a|the|two|three|a\s+few|a\s+couple\s+of)\s+"
    r"(?:days?|nights?|weeks?|weekend))\b",
    re.IGNORECASE,
)
_HOME = re.compile(
    r"\b(?:live[ds]?|living|moved?|moving|home|apartment|flat|house|for\s+good|"
    r"permanently)\b",
    re.IGNORECASE,
)


def _back_in(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """Home again, "I'm back in Porto now": the home city, unless it is a trip ("I'm back in
    Porto for the weekend")."""
    if _TRIP.search(s.text):
        return []
    return _place_slot(s, match["x"], "home_city", "{s} lives in {x} again", "lives_in")


def _now_in(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """Living somewhere now, "I lived in Porto for 5 years, now I'm in Lisbon": only where the
    sentence speaks of a home (being in Rome now is as often a trip), and of no trip."""
    if _TRIP.search(s.text) or not _HOME.search(s.text):
        return []
    return _place_slot(s, match["x"], "home_city", "{s} lives in {x}", "lives_in")


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


_JOBS = (
    r"teacher|nurse|doctor|physician|surgeon|dentist|pharmacist|vet|veterinarian|therapist|"
    r"counsel(?:l)?or|psychologist|engineer|developer|programmer|designer|architect|manager|"
    r"lawyer|attorney|accountant|consultant|analyst|scientist|researcher|professor|lecturer|"
    r"librarian|journalist|editor|writer|photographer|chef|cook|baker|barista|bartender|"
    r"waiter|waitress|cashier|pilot|driver|electrician|plumber|carpenter|mechanic|farmer|"
    r"firefighter|paramedic|police\s+officer|officer|soldier|realtor|translator|"
    r"interpreter|economist|technician|administrator|secretary|receptionist|clerk|"
    r"paralegal|caregiver|nanny|tutor|instructor|coach|midwife|freelancer|entrepreneur|"
    r"founder|ceo|cto|cfo|director|executive|product\s+manager|data\s+scientist|"
    r"software\s+engineer|web\s+developer|social\s+worker|flight\s+attendant"
)
"""Words of an occupation: what "I'm a teacher" says is the user's job (not "I'm a mess")."""
_PAST = frozenset("former ex ex- retired".split())
_FUTURE = frozenset("aspiring future would-be wannabe".split())


def _job_is(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """An occupation said with "be": "I'm a teacher now"; its ending, "I'm not a nurse
    anymore", "I'm a former nurse" ("a nurse" no longer). A future one is none yet ("an
    aspiring writer")."""
    job = " ".join(match["x"].lower().split())
    words = job.split()
    if _FUTURE.intersection(words):
        return []
    if _PAST.intersection(words):
        former = " ".join([words[0], *(word for word in words[1:] if word not in _PAST)])
        return [ending(s, f"{s.label} is {job}", "occupation", former)]
    if match["neg"]:
        how = "no longer" if stopped(match, s) else "not"
        return [ending(s, f"{s.label} is {how} {job}", "occupation", job)]
    return [_occupation(s, job)]


_AS_ROLE = re.compile(r"\s+as\s+(?P<role>an?\s+[^,.;!?()\n]+)", re.IGNORECASE)
_NO_EMPLOYER = re.compile(
    r"(?:club|society|association|league|choir|chorus|band|orchestra|gym|fitness|church|"
    r"guild|union|circle|crew|scouts|team|fc|masters|watchers|anonymous|group|community|"
    r"university|college|school|academy|institute)$"
    r"|^(?:reddit|discord|strava|instagram|tiktok|twitter|facebook|mastodon|bluesky|"
    r"duolingo|patreon|tinder|bumble|hinge|linkedin|slack|whatsapp|telegram|snapchat|"
    r"pinterest|youtube|twitch|goodreads|meetup|peloton|weight\s+watchers)$",
    re.IGNORECASE,
)
"""Names one joins or starts at other than as an employee: clubs, teams and groups
("Toastmasters", "Chess Club"), schools ("Harvard University") and platforms ("Reddit")."""
_CLUB_CUE = re.compile(
    r"\b(?:club|gym|choir|league|members?|membership|hobby|signed\s+up|classes|course|"
    r"semester|app|platform|server|subreddit|community)\b",
    re.IGNORECASE,
)
"""Words that say what was joined is no workplace ("I joined Strava, the running app")."""


def _joined(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A new employer, "I joined Meta as a designer", "I joined Meta last month", "I started
    at Stripe on Monday": a capitalised name, with a role or a word of work, or else one that
    names no club, team, school or platform, in a sentence of none ("I joined a gym", in
    lower case, is an event; so is "I joined Toastmasters")."""
    employer = proper(match["x"])
    if not employer:
        return []
    role = _AS_ROLE.match(match["x"][match["x"].find(employer) + len(employer) :])
    if role is None and not JOB_CUE.search(s.text):
        if _NO_EMPLOYER.search(employer) or _CLUB_CUE.search(s.text):
            return []
    job = clean(role["role"], s, max_words=5) if role else None
    return [_employer(s, employer), *([_occupation(s, job)] if job else [])]


_SINCE_LONG = re.compile(
    r"\b(?:since|for)\s+(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|a\s+few|"
    r"several|many)\s+(?:years?|months?)\b|\bsince\s+(?:last\s+)?(?:year|month|spring|summer|"
    r"fall|autumn|winter)\b",
    re.IGNORECASE,
)


def _at_employer(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """Where the user works, said as where they are: "I switched jobs, I'm at Meta now"
    (with a word of work), "I've been at Meta since January" (a while: months or years, not
    "since Monday" at a hotel). Not at a school, a club or a platform."""
    employer = proper(match["x"])
    if not employer or _NO_EMPLOYER.search(employer):
        return []
    if match["been"]:
        long_ago = [time for time in s.times if time.granularity in ("month", "season", "year")]
        if not (long_ago or _SINCE_LONG.search(s.text)) or _TRIP.search(s.text):
            return []
    elif not JOB_CUE.search(s.text):
        return []
    return [_employer(s, employer)]


def _quit_job(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """No employer now: that one if named, else whichever the user had. Said as the user
    said it: a lay-off or a firing is no resignation."""
    employer = proper(match["x"])
    how = " ".join((match["how"] or match["how2"]).lower().split())
    if how in ("quit", "left"):
        text = f"{s.label} {how} their job" + (f" at {employer}" if employer else "")
    else:
        verb = "was laid off" if "laid" in how else "was fired"
        text = f"{s.label} {verb}" + (f" from {employer}" if employer else "")
    return [ending(s, text, "employer", employer, entity="organisation", importance=0.7)]


def _studies_at(match: re.Match[str], s: Sentence) -> list[Candidate]:
    school = proper(match["x"])
    if not school:
        return []
    if match["neg"]:
        return _denied(match, s, "school", school, ("studies at", "study at"))
    return [_related(s, "school", school, f"{s.label} studies at {school}", 0.7)]


_UNPARTNERED = frozenset(("single", "divorced", "separated", "widowed"))


def _status(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """The relationship status; a status with no partner ("I'm single now") also ends the
    partner slot, whoever held it."""
    status = match["x"].lower()
    text = f"{s.label} is {status}"
    found = [fact(s, text, kind="profile", attribute="relationship_status", value=status)]
    if status in _UNPARTNERED:
        found.append(ending(s, f"{s.label} has no partner now", "partner", None))
    return found


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
        rf"(?i:\bmy\s+name(?:'s|\s+is)|\bcall\s+me|\b(?:hi|hello|hey)[,!.]?\s+I'm|"
        rf"\bI(?:\s+now)?\s+go\s+by|\bI(?:'ve|\s+have)?\s+changed\s+my\s+name\s+to)\s+{NAME}",
        _name,
        ("name", "call me", "i'm", "go by"),
    ),
    rule(
        rf"(?:{I_AM}\s+(?P<x>\d{{1,3}})(?i:\s+years?\s+old|\s*(?:yo|y/o)\b|\s+now\b)|"
        rf"{ME}(?i:'ve|\s+have)?{ADV}\s+(?i:turned)\s+(?P<y>\d{{1,3}})"
        r"(?=\s*(?:$|[,.;!?]|(?i:today|yesterday|last|this|on|in|and|now)\b)))",
        _age,
        ("old", "yo", "now", "turned"),
    ),
    rule(
        rf"{I_AM}{ADV}(?P<neg>\s+(?i:no\s+longer|not))?{ADV}(?i:\s+on)?(?i:\s+an?|\s+the)?\s+"
        rf"(?P<x>(?i:{DIETS}))(?![\w-])",
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
        rf"(?i:{WE}\s+moved\s+from)\s+(?P<y>[^,.;!?()\n]+?)\s+(?i:to)\s+{REST}",
        _moved,
        ("moved",),
    ),
    rule(
        rf"{WE}(?i:'ve|\s+have)?{ADV}\s+(?i:moved|relocated)(?i:\s+back)?\s+(?i:to|into)\s+"
        rf"{REST}",
        _moved,
        ("moved", "relocated"),
    ),
    rule(
        rf"{WE}(?i:'m|\s+am|'re|\s+are|'ve\s+been|\s+have\s+been)?{ADV}{NOT}{ADV}\s+"
        rf"(?i:live|living|reside|residing)\s+(?i:in)\s+{REST}",
        _lives,
        ("liv", "resid"),
    ),
    rule(rf"{I_AM}{ADV}\s+(?i:back)\s+(?i:in)\s+(?=[{UP}]){REST}", _back_in, ("back in",)),
    rule(
        rf"(?:(?i:\bnow),?\s+{I_AM}|{I_AM}(?i:\s+now))\s+(?i:in|based\s+in)\s+(?=[{UP}]){REST}",
        _now_in,
        ("now",),
    ),
    rule(rf"{ME}{ADV}\s+(?i:used\s+to\s+live|lived)\s+(?i:in)\s+{REST}", _lived, ("live",)),
    rule(
        rf"(?:{I_AM}(?i:\s+originally)?\s+(?i:from)|{ME}\s+(?i:grew\s+up\s+in))\s+{REST}",
        _origin,
        ("from", "grew up"),
    ),
    rule(
        rf"{ME}(?i:(?:\s+|'ve\s+|\s+have\s+)(?P<how>quit|left)\s+my\s+job|"
        r"\s+(?:got|was|have\s+been|'ve\s+been)(?:\s+just)?\s+(?P<how2>fired|laid\s+off))"
        r"(?i:\s+(?:at|from)\s+(?P<x>[^,.;!?()\n]+))?",
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
    rule(
        rf"(?:{I_AM}|(?P<been>{ME}(?i:'ve|\s+have)\s+been)){ADV}\s+(?i:at)\s+(?=[{UP}]){REST}",
        _at_employer,
        (" at ",),
    ),
    rule(
        rf"{ME}(?i:'ve|\s+have)?{ADV}\s+(?i:joined|(?:started|began)\s+at)\s+"
        rf"(?=[{UP}]){REST}",
        _joined,
        ("joined", "started", "began"),
    ),
    rule(
        rf"{I_AM}{ADV}\s+(?P<role>(?i:an?)\s+[^,.;!?()\n]{{2,40}}?)\s+(?i:at|for|with)\s+"
        rf"(?=[{UP}]){REST}",
        _role_at,
        ("i'm", "i am", "im "),
    ),
    rule(
        rf"{I_AM}{ADV}{NOT}{ADV}\s+(?P<x>(?i:an?)\s+(?:[a-z-]+\s+){{0,2}}(?i:{_JOBS}))(?![\w'-])",
        _job_is,
        ("i'm", "i am", "im "),
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
