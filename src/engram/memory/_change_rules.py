"""Change rules: a slot value that ended ("I left Google", "I moved out of Paris", "I stopped
being vegetarian") or was replaced ("I left Google and joined Meta", "I switched from vegan to
vegetarian").

An ending is a candidate with no value (`NO_VALUE`) that names the value it ends
(`metadata["negates"]`): revision retires the current memory holding that value, and only
that one, so "I don't live in Rome anymore" leaves Paris alone. A replacement is a slot value
like any other, naming the value it replaces. Where the words leave the slot open ("I left
X" ends a job, a home or a school; "I switched from X to Y" changes anything), the slot is a
guess from the sentence's other words (`metadata["guessed"]`), and revision applies the
candidate to whichever slot holds X, or to none (see `revision.decide`).

These rules run before the profile rules: "I left Google" must not become an event and a
stale employer.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from engram.memory._job_change_rules import job_dropped
from engram.memory._patterns import OOPS
from engram.memory._phrases import (
    ADV,
    DIETS,
    EMAIL,
    HAVE,
    I_AM,
    JOB_CUE,
    ME,
    NAME,
    PARTNERS,
    PHONE_NUMBER,
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
    stopped,
    third_person,
    with_date,
)
from engram.memory._places import is_well_known_place
from engram.memory._profile_rules import email_slot, phone_number_slot
from engram.memory.candidates import (
    SLOT_RELATIONS,
    Candidate,
    EntityKind,
    EntityMention,
    RelationMention,
)
from engram.memory.entities import fold

__all__ = ["CHANGE_RULES"]

_HOME_CUE = re.compile(
    r"\b(?:move[ds]?|moving|relocat\w*|city|town|country|home|apartment|flat|house|"
    r"neighbou?rhood|live[ds]?|living)\b",
    re.IGNORECASE,
)
_SCHOOL_CUE = re.compile(
    r"\b(?:school|university|uni|college|study|studies|studying|degree|class(?:es)?|course|"
    r"program(?:me)?|campus)\b",
    re.IGNORECASE,
)
_TRIP_CUE = re.compile(
    r"\b(?:trip|vacation|holidays?|weekend|conference|visit(?:ing)?|flight|flew|airport|hotel|"
    r"tour)\b",
    re.IGNORECASE,
)
_SLOT_ENTITY: dict[str, EntityKind] = {slot: kind for slot, (_, kind) in SLOT_RELATIONS.items()}
_JOBS = r"(?:jobs|companies|employers)"
_OLD = r"(?P<y>[^,.;!?()\n]+?)"
_DIET = re.compile(DIETS, re.IGNORECASE)
_FOR = re.compile(rf"\s+for\s+(?P<n>[{UP}][\w'-]*(?:\s+[{UP}][\w'-]*)*)")


def _open_slot(s: Sentence, value: str | None = None) -> str:
    """The slot a "left X" sentence most likely speaks of, from `value` (X) if a well-known
    place ("I left Paris": a home, no employer), else from its other words."""
    if (value is not None and is_well_known_place(value)) or _HOME_CUE.search(s.text):
        return "home_city"
    if _SCHOOL_CUE.search(s.text) and not JOB_CUE.search(s.text):
        return "school"
    return "employer"


_RELATION = {slot: relation for slot, (relation, _) in SLOT_RELATIONS.items() if slot != "partner"}
"""A replaced value's relation ("left X and joined Y"); a partner's comes from its own rules."""


def _replaced(
    s: Sentence, text: str, attribute: str, old: str | None, new: str, *, guessed: bool
) -> Candidate:
    """A new slot value `new` replacing `old` (if named). A guessed slot carries no relation
    (revision may file it under another slot, or under none: the add flow states the relation
    of the slot it lands in), and its entities are of the guessed slot's kind."""
    kind = _SLOT_ENTITY.get(attribute)
    entities: tuple[EntityMention, ...] = ()
    relations: tuple[RelationMention, ...] = ()
    if kind and not guessed and attribute in _RELATION:
        entities, relations = relate(s, _RELATION[attribute], new, kind)
    if kind and guessed:
        entities = (EntityMention(new, kind),)
    if kind and old:
        entities = (*entities, EntityMention(old, kind))
    metadata: dict[str, Any] = {"negates": old} if old else {}
    if guessed:
        metadata["guessed"] = True
        metadata["restated"] = _restated(s, text, new)
    return fact(
        s,
        text,
        kind="profile",
        attribute=attribute,
        value=new,
        importance=0.8,
        entities=entities,
        relations=relations,
        metadata=metadata,
    )


_STATEMENTS = {"home_city": "lives in", "employer": "works at", "school": "studies at"}
"""How a slot's value is stated ("The user lives in Lisbon")."""


def _restated(s: Sentence, text: str, new: str) -> dict[str, str]:
    """The text of a guessed change in each slot revision may file it under: "The user
    meant Lisbon, not Porto" under `home_city` is "The user lives in Lisbon (meant Lisbon,
    not Porto)", found by a question of where the user lives."""
    said = text[len(s.label) :].strip()
    return {slot: f"{s.label} {verb} {new} ({said})" for slot, verb in _STATEMENTS.items()}


def _left_for_job(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A job for another: "I left Google and joined Meta" (Meta now, Google no longer)."""
    new = proper(match["x"]) or clean(match["x"], s, max_words=5)
    if not new:
        return []
    old = proper(match["y"])
    left = old or clean(match["y"], s, max_words=4) or "their job"
    text = with_date(f"{s.label} works at {new}, after leaving {left}", s)
    return [_replaced(s, text, "employer", old, new, guessed=False)]


def _switched(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A switch, "I switched from X to Y": a diet if both are diets, a job if the words say
    so, else a guess that revision checks against what X is the current value of."""
    old = proper(match["y"]) or clean(match["y"], s, max_words=4)
    new = proper(match["x"]) or clean(match["x"], s, max_words=4)
    if not old or not new:
        return []
    text = with_date(f"{s.label} switched from {old} to {new}", s)
    if _DIET.fullmatch(old) and _DIET.fullmatch(new):
        return [_replaced(s, text, "diet", old.lower(), new.lower(), guessed=False)]
    about_work = bool(match["what"]) or bool(JOB_CUE.search(s.text))
    return [_replaced(s, text, "employer", old, new, guessed=not about_work)]


def _left(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """An exit, "I left Google", "I left Paris for Rome", "I resigned from Acme", "I dropped
    out of MIT", "I left Dell after 6 years": the end of a job, home or school, and maybe the
    next one. The name must be all the verb's object, but for how long it held ("I left Mom a
    message" ends nothing), and a trip ends nothing either ("I left Paris after the
    conference")."""
    old = proper(match["x"])
    if not old or _TRIP_CUE.search(s.text):
        return []
    rest = match["x"].strip()[len(old) :]
    following = _FOR.match(rest)
    held = _HELD.match(rest)
    if following is None and held is None and clean(match["x"], s) != old:
        return []
    verb = " ".join(match["verb"].lower().split())
    attribute = {"resigned from": "employer", "dropped out of": "school"}.get(verb)
    slot = attribute or _open_slot(s, old)
    said = _SAID_AS.get(verb, verb)
    if following is not None:
        new = following["n"]
        text = with_date(f"{s.label} {said} {old} for {new}", s)
        return [_replaced(s, text, slot, old, new, guessed=attribute is None)]
    how_long = " ".join(held[0].split()) if held is not None else ""
    text = with_date(" ".join(filter(None, (s.label, said, old, how_long))), s)
    return [ending(s, text, slot, old, entity=_SLOT_ENTITY[slot], guessed=attribute is None)]


_HELD = re.compile(
    r"\s+after\s+(?:\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"fifteen|twenty|thirty|a\s+few|a\s+couple\s+of|several|many)\s+(?:years?|months?|weeks?)"
    r"(?=\s*$)",
    re.IGNORECASE,
)
"""How long the value left held, after its name ("I left Dell after 6 years")."""
_SAID_AS = {"leaving": "is leaving"}
_SOON = re.compile(
    r"\b(?:tonight|later|in\s+an?\s+(?:hour|bit|minute|sec)|this\s+(?:morning|afternoon|"
    r"evening)|for\s+the\s+(?:day|night|weekend))\b",
    re.IGNORECASE,
)


def _leaving(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """An exit in the making, "I'm leaving Dell", "leaving Dell after 6 years": as "I left
    Dell" ends it, when said; not a day's leaving of a place ("I'm leaving Dell's office
    now", "leaving Paris tonight") nor one still ahead ("I'm leaving Dell next month")."""
    if _AHEAD.search(s.text) or _SOON.search(s.text):
        return []
    return _left(match, s)


def _corrected(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A correction, "I meant Lisbon, not Porto", "No wait, it's Braga, not Porto", "Sorry, I
    meant vegan, not vegetarian": the new value in whichever slot holds the old one (a diet's
    in `diet`), true since the old one was said to be (`corrects`: it never was). Filed, it
    reads as the slot states a value ("The user lives in Lisbon"): what it corrects is in its
    metadata (`corrects`, `negates`) and in the old value's history, not in its words."""
    old, new = match["y"], match["x"]
    slot = _open_slot(s)
    restated = {key: f"{s.label} {verb} {new}" for key, verb in _STATEMENTS.items()}
    if _DIET.fullmatch(old) and _DIET.fullmatch(new):
        slot, old, new = "diet", old.lower(), new.lower()
        restated = {"diet": f"{s.label} is {new}"}
    fixed = _replaced(s, f"{s.label} meant {new}, not {old}", slot, old, new, guessed=True)
    metadata = {**fixed.metadata, "corrects": True, "restated": restated}
    return [replace(fixed, metadata=metadata)]


def _bare_correction(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A correction that names only the new value, "Oops, I meant Braga", "Sorry, make that
    vegan": it corrects what the speaker's previous turn of the session stated (`s.before`),
    the one value of the slot of the new value's sort (a diet for a diet, else a name). Said in
    the first turn known of its session, it names no old value: revision applies it to the
    slot value the session stated last, if said just before (see `revision.decide`)."""
    new = match["x"] or match["diet"]
    diet = bool(_DIET.fullmatch(new))
    new = new.lower() if diet else new
    if s.before is None:
        slot = "diet" if diet else _open_slot(s)
        text = f"{s.label} meant {new}"
        metadata = {"corrects": True, "guessed": True, "restated": {}}
        return [
            fact(
                s,
                text,
                kind="profile",
                attribute=slot,
                value=new,
                importance=0.8,
                metadata=metadata,
            )
        ]
    said = [
        fact
        for fact in s.before
        if fact.attribute is not None
        and (fact.attribute == "diet") == diet
        and (diet or str(fact.value)[:1].isupper())
    ]
    if len({(fact.attribute, fact.value) for fact in said}) != 1 or fold(new) == fold(
        str(said[0].value)
    ):
        return []  # nothing to correct, or too much ("I live in Porto and work at Acme")
    previous = said[0]
    old, slot = str(previous.value), str(previous.attribute)
    text = f"{s.label} meant {new}, not {old}"
    fixed = _replaced(s, text, slot, old, new, guessed=True)
    restated = {slot: _with_value(previous.text, old, new)}
    return [replace(fixed, metadata={**fixed.metadata, "corrects": True, "restated": restated})]


def _contact_corrected(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A correction of an email or phone number, "Sorry, I meant bob@gmail.com", "Oops, I
    meant 555-0101": the value says its slot, so it is the new value of that slot, whatever
    came before it."""
    new = match["x"]
    return email_slot(new, s) if "@" in new else phone_number_slot(new, s)


def _with_value(text: str, old: str, new: str) -> str:
    """`text` stating `new` where it stated `old` ("The user moved to Porto" -> "... to
    Braga")."""
    return re.sub(rf"(?<!\w){re.escape(old)}(?!\w)", new, text)


_PETS = frozenset(
    "dog cat puppy kitten pet bird parrot hamster rabbit bunny horse pony fish turtle".split()
)
_OPENER = re.compile(
    r"^(?:Sadly|Unfortunately|Tragically|Yesterday|Today|So|And|But|Oh|Well|Also|Then)\s+"
)
_AGAIN = re.compile(r"\b(?:again|now|started|began|back)\b", re.IGNORECASE)
_CLAUSE = re.compile(r"[^,.;!?]*")
_BEEN = re.compile(r"\b(?:was|today|tonight|yesterday|it's|it\s+is)\b", re.IGNORECASE)
_AHEAD = re.compile(
    r"\b(?:will|going\s+to|gonna|coming|soon|next|tomorrow|upcoming)\b|'ll\b", re.IGNORECASE
)


def _plan_dropped(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A plan given up, "I'm not moving to Berlin after all", "I decided not to move to
    Berlin": it negates the plan naming the place (revision retires the memory that names
    it), and ends no home."""
    place = proper(match["x"]) or lowercase_place(clean(match["x"], s, max_words=3), s)
    if not place:
        return []
    text = f"{s.label} is no longer planning to move to {place}"
    entities = (EntityMention(place, "place"),)
    return [fact(s, text, importance=0.7, entities=entities, metadata={"negates": place})]


_EMPLOYER = rf"(?P<x>[{UP}][\w&'-]*(?:\s+[{UP}][\w&'-]*){{0,2}}?)"
"""The employer a job to come given up names ("Google", "Acme Corp")."""


def _moved_out(match: re.Match[str], s: Sentence) -> list[Candidate]:
    place = proper(match["x"])
    if not place:
        return []
    how = " ".join(match["how"].lower().split())
    text = with_date(f"{s.label} moved {how} {place}", s)
    return [ending(s, text, "home_city", place, entity="place")]


_WHERE = {"at": "employer", "in": "home_city"}


def _no_longer_at(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """Not there anymore: "I'm not at Google anymore", "I'm no longer in Paris", "I'm not with
    Tom anymore"."""
    name = proper(match["x"])
    if not name or not stopped(match, s):
        return []
    where = " ".join(match["where"].lower().split())
    slot = _WHERE.get(where, "partner")
    text = f"{s.label} is no longer {where} {name}"
    return [ending(s, text, slot, name, entity=_SLOT_ENTITY[slot], guessed=slot != "partner")]


def _stopped_being(match: re.Match[str], s: Sentence) -> list[Candidate]:
    diet = match["x"].lower()
    return [ending(s, f"{s.label} is no longer {diet}", "diet", diet)]


def _broke_up(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A break-up, "I broke up with Tom", "Tom and I split up", "me and my boyfriend broke
    up", "I divorced my husband", "We broke up": no partner now (Tom's ending, or any
    partner's when unnamed)."""
    name = match.groupdict().get("x")
    verb = " ".join(match["verb"].lower().split())
    if "divorced" in verb:
        text = f"{s.label} divorced {name or 'their partner'}"
    else:
        text = f"{s.label} broke up with {name or 'their partner'}"
    return [ending(s, with_date(text, s), "partner", name, entity="person")]


def _ex(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """An ex named, "my ex Ana", "my ex-girlfriend Ana": Ana is no partner now."""
    name = match["x"]
    text = f"{name} is {s.label_within}'s ex"
    return [ending(s, text, "partner", name, entity="person")]


_GONE = frozenset(("ran away", "went missing"))
"""What only ends a pet ("My cat Luna ran away"): a person who did is still kin."""
_PUT = {"put": "was put down"}


def _died(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A death, "My dog Rex died last week", "Rex passed away": whatever held of Rex (the
    user's pet, a relative) holds no more. It negates the name, and revision retires the
    memory that names Rex, with the relations it states."""
    name = match["x"]
    name = _OPENER.sub("", name)
    whose = match["whose"] or match.groupdict().get("apposed") or ""
    whose = " ".join(whose.lower().split())
    pet = bool(whose.split()[-1:]) and whose.split()[-1] in _PETS
    verb = " ".join(match["verb"].lower().split())
    if verb in _GONE and not pet:
        return []  # "My sister Ana ran away from home": no death, and Ana is still her
    if verb == "put" and not (pet or "had to" in match[0].lower()):
        return []  # "We put Tom to sleep": a child, to bed
    subject = f"{s.label}'s {whose} {name}" if whose else name
    text = with_date(f"{subject} {_PUT.get(verb, verb)}", s)
    kind: EntityKind = "other" if pet else "person"
    return [
        fact(
            s,
            text,
            importance=0.8,
            entities=(EntityMention(name, kind),),
            metadata={"negates": name},
        )
    ]


def _pet_died(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A pet's death without its name, "My cat died": revision ends the user's one current
    pet of that kind (`negates_pet`), and none if they have two or none."""
    species = match["species"].lower()
    verb = " ".join(match["verb"].lower().split())
    text = with_date(f"{s.label}'s {species} {_PUT.get(verb, verb)}", s)
    return [fact(s, text, importance=0.8, metadata={"negates_pet": species})]


_REHOMED = {
    "rehome": "rehome",
    "re-home": "rehome",
    "rehomed": "rehomed",
    "re-homed": "rehomed",
    "gave": "gave away",
    "given": "gave away",
}
_PET_WORD = re.compile(rf"\b(?:{'|'.join(sorted(_PETS))})s?\b", re.IGNORECASE)


def _rehomed(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A pet given up, "we had to rehome Miso", "I gave my dog Rex away", "we found a new
    home for Luna": the user's pet no more. It negates the name, as a death does. Giving
    away, said of things too ("I gave away Harry Potter"), counts only where a pet is said."""
    name = match["x"]
    said = " ".join((match["base"] or match["past"] or match["gave"]).lower().split())
    verb = _REHOMED.get(said, said)
    if ("give" in verb or "gave" in verb) and not _PET_WORD.search(s.text):
        return []
    how = f"had to {verb}" if match["base"] else verb
    whose = " ".join((match["whose"] or "").lower().split())
    pet = f"their {whose} {name}" if whose else name
    return [
        fact(
            s,
            with_date(f"{s.label} {how} {pet}", s),
            importance=0.8,
            entities=(EntityMention(name, "other"),),
            metadata={"negates": name},
        )
    ]


def _no_employer(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """No employer now, said without the job: "I retired last month", "I resigned", "I'm
    unemployed now", "I'm retired", "I'm freelancing now" (not "on the side": a job still),
    "I started my own company" (the slot holds employers, organisations with a works_at
    relation: one's own company, unnamed, is none of them, so it ends the employer rather
    than naming "their own company" as one)."""
    said = " ".join(third_person(match["how"]).split())
    verb = "is" if match.groupdict().get("be") else ""
    text = with_date(" ".join(filter(None, (s.label, verb, said))), s)
    return [ending(s, text, "employer", None, importance=0.7)]


def _last_day(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A job's last day, "Today was my last day at Google": the end of that employer, unless
    the day is still to come ("Friday is my last day at Google")."""
    employer = proper(match["x"])
    if not employer or not _last_day_past(s):
        return []
    text = with_date(f"{s.label} left {employer}", s)
    return [ending(s, text, "employer", employer, entity="organisation")]


def _meat_again(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """Meat again, "I started eating meat again", "I eat meat again", "I now eat meat": the
    meat-free diet the user had is over (the slot holds one diet: the ending names none, so
    it ends that one). Not "I eat meat", which may say nothing new."""
    clause = _CLAUSE.match(s.text, match.start())
    if clause is None or not _AGAIN.search(clause[0]):
        return []
    return [ending(s, with_date(f"{s.label} eats meat again", s), "diet", None)]


def _last_day_past(s: Sentence) -> bool:
    """Whether the last day a sentence speaks of has come ("Today was my last day"), not
    is to come ("Friday is my last day", "My last day is next week")."""
    return bool(_BEEN.search(s.text)) and not _AHEAD.search(s.text)


_RESTATED = r"(?i:I(?:'m|\s+am)?\s+(?:live|living|work|working|study|studying)\s+(?:in|at|for))"
"""The slot restated whole in a correction ("Sorry, I meant I live in Boulder, not Denver")."""
_EX = rf"(?=(?i:my\s+(?:{PARTNERS}))|[{UP}])(?:(?i:my\s+(?:{PARTNERS}))\b,?\s*)?{NAME}?"
"""A partner named ("Tom", "my boyfriend Tom") or not ("my boyfriend")."""

CHANGE_RULES: tuple[Rule, ...] = (
    rule(
        rf"{ME}{ADV}\s+(?i:left|quit)\s+{_OLD}\s+(?i:and\s+(?:I\s+)?(?:joined|started\s+"
        r"(?:working\s+)?(?:at|for|with)|now\s+work\s+(?:at|for)|went\s+to\s+work\s+(?:at|for))|"
        r"to\s+(?:join|work\s+(?:at|for))|for\s+a\s+(?:new\s+)?(?:job|position|role)\s+(?:at|with))"
        rf"\s+{REST}",
        _left_for_job,
        ("left", "quit"),
    ),
    rule(
        rf"{ME}{HAVE}?{ADV}\s+(?i:switched|changed|moved(?=\s+{_JOBS}\b))"
        rf"(?P<what>\s+(?i:{_JOBS}))?\s+(?i:from)\s+{_OLD}\s+(?i:to)\s+{REST}",
        _switched,
        ("switched", "changed", "moved"),
    ),
    rule(
        rf"{ME}{HAVE}?{ADV}\s+(?P<verb>(?i:left|quit|resigned\s+from|dropped\s+out\s+of))"
        rf"\s+{REST}",
        _left,
        ("left", "quit", "resigned", "dropped out"),
    ),
    rule(
        rf"(?:{I_AM}{ADV}\s+|^\s*(?i:(?:just|finally|officially|now)\s+)*)(?P<verb>(?i:leaving))"
        rf"\s+{REST}",
        _leaving,
        ("leaving",),
    ),
    rule(
        rf"{ME}{ADV}\s+(?i:meant|mean)\s+(?:{_RESTATED}\s+)?{NAME},?\s+(?i:not)\s+"
        rf"(?P<y>[{UP}][\w'-]+(?:\s+[{UP}][\w'-]+)?)",
        _corrected,
        ("mean",),
    ),
    rule(
        rf"{ME}{HAVE}?{ADV}\s+(?i:moved)\s+(?P<how>(?i:out\s+of|away\s+from))\s+{REST}",
        _moved_out,
        ("moved out", "moved away"),
    ),
    rule(
        rf"{I_AM}{ADV}\s+(?P<neg>(?i:no\s+longer|not)){ADV}\s+(?P<where>(?i:at|in|with|dating|"
        rf"married\s+to))\s+{REST}",
        _no_longer_at,
        ("no longer", "anymore", "any more"),
    ),
    rule(
        rf"{ME}{HAVE}?{ADV}\s+(?i:stopped|quit|gave\s+up)\s+(?i:being)(?i:\s+an?)?\s+"
        rf"(?P<x>(?i:{DIETS}))(?![\w-])",
        _stopped_being,
        ("being",),
    ),
    rule(
        rf"{ME}{ADV}\s+(?P<verb>(?i:broke\s+up\s+with|split\s+up\s+with|split\s+from|"
        rf"separated\s+from|divorced))\s+{_EX}",
        _broke_up,
        ("broke up", "split", "separated", "divorced"),
    ),
    rule(
        rf"(?P<me>(?i:\bme\s+and)\s+)?{_EX}(?(me)|\s+(?i:and\s+I))\s+"
        r"(?P<verb>(?i:broke\s+up|split\s+up|split|separated|"
        r"divorced|got\s+divorced))\b",
        _broke_up,
        ("broke up", "split", "separated", "divorced"),
    ),
    rule(
        rf"{_EX}(?i:\s+(?:just|finally))?\s+(?P<verb>(?i:left|dumped|broke\s+up\s+with))\s+"
        r"(?i:me)\b(?=\s*(?:$|[,.;!?]|(?i:for|after|last|yesterday|today|this|in|on)\b|\d))",
        _broke_up,
        ("left me", "dumped me", "up with me"),
    ),
    rule(
        rf"\b(?i:we){HAVE}?{ADV}\s+(?P<verb>(?i:broke\s+up|split\s+up|separated|"
        r"got\s+divorced|divorced|called\s+it\s+quits))\b"
        r"(?!\s+(?i:with|the|a|an|it|them|our|my|his|her|their|from|into|in)\b)",
        _broke_up,
        ("broke up", "split up", "separated", "divorced", "quits"),
    ),
    rule(
        rf"(?i:\bmy\s+ex(?:-?(?:girlfriend|boyfriend|wife|husband|partner|fianc[ée]e?))?)"
        rf"(?:,|\s+named|\s+called)?\s+{NAME}",
        _ex,
        ("my ex",),
    ),
    rule(
        rf"(?:(?i:\bmy\s+(?P<whose>(?:[a-z]+\s+)?[a-z]+))\s+)?{NAME}"
        r"(?:,\s*(?i:my|our)\s+(?P<apposed>(?:[a-z]+\s+)?[a-z]+),)?"
        r"(?i:\s+(?:has|had|just|sadly|recently))*\s+"
        r"(?P<verb>(?i:passed\s+away|died|was\s+put\s+down|had\s+to\s+be\s+put\s+down|"
        r"ran\s+away|went\s+missing))\b",
        _died,
        ("passed away", "died", "put down", "ran away", "went missing"),
    ),
    rule(
        r"\b(?i:my|our)\s+(?P<species>(?i:" + "|".join(sorted(_PETS - {"pet"})) + r"))"
        r"(?i:\s+(?:has|had|just|sadly|recently))*\s+"
        r"(?P<verb>(?i:passed\s+away|died|was\s+put\s+down|had\s+to\s+be\s+put\s+down))\b",
        _pet_died,
        ("passed away", "died", "put down"),
    ),
    rule(
        rf"\b(?i:we|I)(?i:\s+(?:just|sadly|finally))?(?i:\s+had\s+to)?\s+(?P<verb>(?i:put))\s+"
        rf"(?:(?i:my|our)\s+(?P<whose>(?:[a-z]+\s+)?[a-z]+)\s+)?{NAME}(?i:\s+(?:down|to\s+sleep))\b"
        r"(?!\s+(?i:for|with|at|in|after|before|early)\b)",
        _died,
        ("put",),
    ),
    rule(
        rf"\b(?i:we|I){HAVE}?(?i:\s+(?:just|sadly|finally|recently|eventually))?\s+"
        r"(?:(?i:had\s+to)\s+(?P<base>(?i:re-?home|give\s+away|find\s+a\s+new\s+home\s+for))|"
        r"(?P<past>(?i:re-?homed|gave\s+away|found\s+a\s+new\s+home\s+for))|"
        r"(?P<gave>(?i:gave|given))(?=\s+(?:(?i:my|our)\s+(?:[a-z]+\s+)?[a-z]+\s+)?"
        rf"[{UP}][\w'-]+\s+(?i:away)\b))\s+"
        rf"(?:(?i:my|our)\s+(?P<whose>(?:[a-z]+\s+)?[a-z]+)\s+)?{NAME}",
        _rehomed,
        ("rehome", "re-home", "away", "new home"),
    ),
    rule(
        rf"{ME}{HAVE}?{ADV}\s+(?P<how>(?i:started|founded|launched|opened|set\s+up)"
        r"\s+(?i:my\s+own)\s+(?i:company|business|startup|firm|practice|agency|consultancy))\b",
        _no_employer,
        ("my own",),
    ),
    rule(
        rf"{ME}{HAVE}?{ADV}\s+(?P<how>(?i:retired|resigned)"
        r"(?i:\s+from\s+(?:my\s+(?:job|position|post|role)|work))?)"
        r"(?=\s*(?:$|[,.;!?]|(?i:early|today|yesterday|last|this|in|on|recently|after|at\s+\d|"
        r"a\s+(?:few|couple)|two|three)\b))",
        _no_employer,
        ("retired", "resigned"),
    ),
    rule(
        rf"(?P<be>{I_AM}){ADV}\s+(?P<how>(?i:unemployed|out\s+of\s+work|between\s+jobs|jobless|"
        r"self-employed|retired|freelancing|freelance|an?\s+freelancer))\b"
        r"(?!\s+(?i:from\s+(?:the\s+)?(?:army|navy|military|sports?|"
        r"football|soccer|tennis|racing|competition)|on\s+the\s+side|part[- ]time|too|"
        r"as\s+well|on\s+weekends|in\s+my\s+(?:spare|free)\s+time))",
        _no_employer,
        (
            "unemployed",
            "out of work",
            "between jobs",
            "jobless",
            "self-employed",
            "retired",
            "freelanc",
        ),
    ),
    rule(
        rf"(?i:\bmy\s+last\s+day\s+(?:at|with)\s+)(?=[{UP}]){REST}",
        _last_day,
        ("last day",),
    ),
    rule(
        rf"{ME}(?i:'m|\s+am|'ve|\s+have)?{ADV}\s+(?i:(?:started|began|went\s+back\s+to|back\s+to)"
        r"\s+eating|eat|eating)\s+(?i:meat)\b",
        _meat_again,
        ("meat",),
    ),
    rule(
        rf"(?i:\b(?:no\s+wait|wait|oops|sorry|my\s+(?:mistake|bad)|correction|actually|no))"
        r"[,!.:]?\s+(?:(?i:I\s+meant|I\s+mean)\s+)?"
        rf"(?:(?i:it's|it\s+is|make\s+that)\s+|{_RESTATED}\s+)?{NAME},?\s+"
        rf"(?i:not)\s+(?P<y>[{UP}][\w'-]+(?:\s+[{UP}][\w'-]+)?)",
        _corrected,
        ("wait", "oops", "sorry", "mistake", "my bad", "correction", "actually", "no"),
    ),
    rule(
        rf"{ME}{ADV}\s+(?i:meant|mean)\s+(?P<x>(?i:{DIETS})),?\s+(?i:not)\s+(?P<y>(?i:{DIETS}))"
        r"(?![\w-])",
        _corrected,
        ("mean",),
    ),
    rule(
        rf"(?:{ME}{ADV}\s+(?i:meant|mean)|{OOPS}[,!.:]?\s+(?i:it's|it\s+is|make\s+that))\s+"
        rf"(?P<x>{EMAIL}|{PHONE_NUMBER})(?:,?\s+(?i:not)\s+(?:{EMAIL}|{PHONE_NUMBER}))?"
        r"(?=\s*(?:[.!?]|$))",
        _contact_corrected,
        ("mean", "wait", "oops", "sorry", "mistake", "my bad", "correction"),
    ),
    rule(
        rf"(?:{ME}{ADV}\s+(?i:meant|mean)|{OOPS}[,!.:]?\s+(?i:it's|it\s+is|make\s+that))\s+"
        rf"(?:{NAME}|(?P<diet>(?i:{DIETS})))(?=\s*(?:[.!?]|$))",
        _bare_correction,
        ("mean", "wait", "oops", "sorry", "mistake", "my bad", "correction"),
    ),
    rule(
        rf"(?:(?:{I_AM}|\b(?i:we're|we\s+are)){ADV}\s+(?i:not|no\s+longer){ADV}\s+"
        r"(?i:moving|relocating|going\s+to\s+(?:move|relocate))|"
        rf"{WE}{HAVE}?{ADV}\s+(?i:decided\s+not\s+to\s+(?:move|relocate)|"
        r"(?:cancelled|canceled|called\s+off)\s+(?:my|our|the)\s+move))\s+(?i:to)\s+"
        rf"{REST}",
        _plan_dropped,
        ("moving", "move", "relocat"),
    ),
    rule(
        rf"\b(?i:the|my)\s+{_EMPLOYER}'?s?\s+(?i:job|offer|position|role)\s+(?i:fell\s+through|"
        r"(?:is|was)\s+(?:off|cancell?ed|rescinded|withdrawn)|got\s+(?:cancell?ed|rescinded))\b",
        job_dropped,
        ("through", "off", "cancel", "rescinded", "withdrawn"),
    ),
    rule(
        rf"(?:{I_AM}{ADV}\s+(?i:not|no\s+longer){ADV}\s+(?i:joining|starting\s+(?:at|with)|"
        r"going\s+to\s+(?:join|start\s+at|work\s+(?:at|for)))|"
        rf"{ME}{HAVE}?{ADV}\s+(?i:decided\s+not\s+to\s+(?:join|start\s+at|work\s+(?:at|for)|"
        r"take\s+the\s+(?:job|offer|position)\s+(?:at|with|from))))\s+"
        rf"{_EMPLOYER}(?=\s+(?i:after\s+all|anymore|any\s+more)\b|\s*(?:[,.;!?]|$))",
        job_dropped,
        ("joining", "starting", "going", "decided"),
    ),
    rule(
        rf"{ME}{HAVE}?{ADV}\s+(?i:turned\s+down|declined|rejected|passed\s+on)\s+"
        rf"(?:(?i:the|their)\s+{_EMPLOYER}'?s?\s+(?i:job\s+)?(?i:offer|job|position)|"
        rf"(?i:the|their)\s+(?i:job\s+)?(?i:offer|job|position)\s+(?i:from|at|with)\s+"
        rf"{_EMPLOYER.replace('?P<x>', '?P<y>')})",
        job_dropped,
        ("turned", "declined", "rejected", "passed"),
    ),
)
"""The change rules, most specific first."""
