"""Profile-slot rules: name, age, diet, home, origin, birth and "my X is Y" slots, and (from
`_work_rules`) work, (from `_school_rules`) school, (from `_family_rules`) partner,
relationship, kin and pets.
Each builder turns a rule's match into candidates.

The slot rules read their own negations too ("I don't live in Paris anymore", "I'm not
vegan", "I used to work at Google"): those build an `ending` of the value, never the value.
Ends and changes said with other verbs ("I left Google") are in `_change_rules`."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

from engram.memory._employer_rules import moved_to_company
from engram.memory._family_rules import FAMILY_RULES
from engram.memory._phrases import (
    ADV,
    AND_MY_CONTACT,
    DEMONYMS,
    DIETS,
    EMAIL,
    FAITHS,
    HAVE,
    I_AM,
    ME,
    NAME,
    NOT,
    PHONE_NUMBER,
    PRONOUNS,
    REST,
    STAY,
    STIRRED,
    TRIP,
    UP,
    USER_LABEL,
    WE,
    Rule,
    Sentence,
    clean,
    denied,
    ending,
    fact,
    held_until,
    lowercase_place,
    past_value,
    proper,
    relate,
    rule,
    slug,
    spans,
    stopped,
)
from engram.memory._places import is_well_known_place, place_within, well_known_city_opening
from engram.memory._school_rules import SCHOOL_RULES
from engram.memory._work_rules import WORK_RULES
from engram.memory.candidates import Candidate, EntityMention
from engram.memory.entities import fold
from engram.types._memory import MemoryKind

__all__ = ["PROFILE_RULES", "diet_value", "users_home"]


_OTHERS_CALL = re.compile(
    r"\b(?:(?:they|people|everyone|everybody|friends|family|colleagues|kids|parents|some|"
    r"most|he|she|who|(?:my|his|her|our|their|the)\s+\w+)\s+(?:\w+\s+)?|"
    r"(?:used\s+to|would|'d|never)\s+)$",
    re.IGNORECASE,
)
"""Someone else, or another time, before "call me": "My friends call me Bobby", "They used
to call me Bob" say a nickname, not the name."""


_NOT_NAMES = frozenset(
    """fine ok okay good great well sorry sure tired busy happy sad glad ready done back home
    here there new single married engaged divorced vegan vegetarian retired pregnant sick ill
    hungry bored excited thrilled exhausted stressed worried nervous scared afraid confused
    lost stuck free late early alone alright awake asleep sorry curious grateful thankful
    blessed lucky proud hopeful honest serious joking kidding not so just also still really
    actually currently always never only very totally in out off on from at with gay
    straight bi queer trans""".split()
).union(DEMONYMS, FAITHS)
"""Capitalised words "I'm" opens on that say no name: states, adjectives, nationalities and
faiths (`DEMONYMS`, `FAITHS`): "I'm Tired.", "I'm Brazilian, so ...", which a
self-introduction never names."""
_NOT_NAME_END = re.compile(r"(?:ous|ful|less|able|ible|ese|ing)$", re.IGNORECASE)
"""The endings of adjectives ("Nervous", "Hopeful", "Portuguese", "Fasting")."""
_I_AM_NAME = re.compile(r"\bI(?:'m|\s+am)\s", re.IGNORECASE)
"""A name said as what the user is ("Hi, I'm Ana"), not as a name ("call me Ana")."""


def _name(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """The user's name, "Hi, I'm Ana", "My name is Ana": the name slot. Said by a user the
    facts already call by that name (`Sentence.label`), it is stated as the user's ("The
    user's name is Ana": what ties the user to the name), never as "Ana's name is Ana";
    said by another speaker so named, it says nothing their facts do not."""
    if match[0].lower().startswith("call") and _OTHERS_CALL.search(s.text[: match.start()]):
        return []
    name = match["x"]
    first = name.split()[0]
    if _I_AM_NAME.search(match[0]) and (
        first.lower() in _NOT_NAMES
        or first.endswith("'s")  # "Hi, I'm Ana's sister"
        or (len(first) > 4 and _NOT_NAME_END.search(first))
    ):
        return []
    if fold(name) != fold(s.label):
        text = f"{s.label}'s name is {name}"
    elif s.subject is None:
        text = f"{USER_LABEL}'s name is {name}"
    else:
        return []
    person = (EntityMention(name, "person"),)  # "changed my name to Robert Smith": no place
    return [
        fact(s, text, kind="profile", attribute="name", value=name, importance=0.9, entities=person)
    ]


_WHEN_AGED = re.compile(
    r"\b(?:when|whenever|by\s+the\s+time|until|till|once|before|after|if|unless|as\s+soon\s+as|"
    r"like|as\s+if|as\s+though)\s*$",
    re.IGNORECASE,
)
"""An age said of another time or in jest ("I want to retire by the time I'm 60", "when I'm
40", "Explain it like I'm 10")."""


def _age(match: re.Match[str], s: Sentence) -> list[Candidate]:
    if _WHEN_AGED.search(s.text[: match.start()]):
        return []
    age = match["x"] or match["y"] or match["z"]
    text = f"{s.label} is {age} years old"
    return [fact(s, text, kind="profile", attribute="age", value=age, importance=0.7)]


def _diet(match: re.Match[str], s: Sentence) -> list[Candidate]:
    diet = match["x"].lower()
    if match.groupdict().get("used"):
        return [ending(s, f"{s.label} used to be {diet}", "diet", diet)]
    if match.groupdict().get("neg"):
        how = "no longer" if stopped(match, s) else "not"
        return [ending(s, f"{s.label} is {how} {diet}", "diet", diet)]
    return [diet_value(s, diet)]


def diet_value(s: Sentence, diet: str, *, dated: bool = True) -> Candidate:
    """The `diet` slot's value `diet` (`dated` as for `fact`)."""
    text = f"{s.label} is {diet}"
    return fact(s, text, kind="profile", attribute="diet", value=diet, importance=0.8, dated=dated)


_DIET_ENDED = re.compile(
    rf"\b(?:not|no\s+longer|stopped\s+being|quit\s+being|gave\s+up\s+being)"
    rf"(?:\s+(?:strictly|really|fully|totally|100%))?(?:\s+an?)?\s+(?P<old>{DIETS})(?![\w-])",
    re.IGNORECASE,
)
"""A diet the turn says ended ("I'm not strictly vegetarian anymore", "I quit being vegan")."""


def _hedged_diet(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A new diet named bare and hedged, "so pescatarian I guess", "Vegetarian I suppose",
    ", pescatarian I guess" (read from after the comma: "I'm not vegan anymore" denies
    nothing of it):
    a diet only in a turn that ends another ("I'm not strictly vegetarian anymore. Since
    about February I eat fish, so pescatarian I guess"), where it says what the user eats
    now; alone such words may answer anything ("Vegan I guess?" of a friend's menu).

    It holds from when it was said, not from a time the turn gives ("since about
    February"): the change is told as news, and a start before the old diet's own (said
    vegetarian on 2 March) would leave that diet no span at all, so "as of" March the user
    would have none."""
    diet = match["x"].lower()
    ended = {found["old"].lower() for found in _DIET_ENDED.finditer(s.turn or s.text)}
    if not ended or diet in ended:
        return []
    return [diet_value(s, diet, dated=False)]


_USERS_HOME = re.compile(
    r"\b(?:moved|relocated|settled|live|living)(?:\s+(?:back|down))?\s+(?:to|in|into)\s+"
    r"(?P<x>[\w'-]+(?:\s+[\w'-]+){0,3})",
    re.IGNORECASE,
)
"""A home the turn names, "moved to Berlin", "living in San Diego" (whose, `_USERS_CLAUSE`)."""
_USERS_CLAUSE = re.compile(
    r"\s*(?:(?:and|so|but|now|just|recently|finally|also|actually|officially)\s+)*"
    r"(?:(?:I|we)(?:'ve|'re|'m|\s+have|\s+are|\s+am)?"
    r"(?:\s+(?:just|recently|finally|now|also|all|actually|officially|been))*\s*)?",
    re.IGNORECASE,
)
"""What may open the clause of the user's own home: the user, or nobody ("Just moved to
Berlin"); not someone else ("my sister lives in Rome"), another time or a wish ("I used to
live in Rome", "I'd love to live in Rome"), nor a denial ("I don't live in Rome")."""
_CLAUSE_MARK = re.compile(r"[.!?,;:()]")


def _users_city(turn: str) -> str | None:
    """The well-known city (`well_known_city_opening`) the user says in `turn` they moved to
    or live in: "I moved to Berlin last week!" -> "Berlin"."""
    for home in _USERS_HOME.finditer(turn):
        before = turn[: home.start()]
        clause = before[max((m.end() for m in _CLAUSE_MARK.finditer(before)), default=0) :]
        if _USERS_CLAUSE.fullmatch(clause) and (city := well_known_city_opening(home["x"])):
            return city
    return None


def _neighbourhood(s: Sentence, place: str) -> Candidate | None:
    """A home that is part of the well-known city the same turn says the user moved to or
    lives in ("I moved to Berlin last week! living in Kreuzberg now"): no home city of its
    own but where in that city ("The user lives in Kreuzberg, Berlin"), so the city stays
    the home city. None if `place` is a well-known place itself or the turn names no such
    city."""
    if is_well_known_place(place):
        return None
    city = _users_city(s.turn or s.text)
    if city is None:
        return None
    text = f"{s.label} lives in {place}, {city}"
    places = (EntityMention(place, "place"), EntityMention(city, "place"))
    return fact(s, text, importance=0.6, entities=places)


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
    if attribute == "home_city" and (part := _neighbourhood(s, place)):
        return [part]
    named, value, around = _where(s, raw or "", place)
    entities, relations = relate(s, relation, value, "place") if relation else ((), ())
    text = template.format(s=s.label, x=named)
    return [
        fact(
            s,
            text,
            kind="profile",
            attribute=attribute,
            value=value,
            importance=0.8,
            entities=(*(entities or (EntityMention(value, "place"),)), *around),
            relations=relations,
        )
    ]


def _where(s: Sentence, raw: str, place: str) -> tuple[str, str, tuple[EntityMention, ...]]:
    """The place as the user named it, the slot's value and the other place named, read from
    the sentence after `raw` (a rule's object stops at a comma), when `raw` is the place:
    "Portland, Oregon" (value Portland; Oregon); "Kreuzberg, Berlin" (value Berlin, the city
    it is part of; Kreuzberg). A place named alone, or in a list of well-known places
    ("Berlin, Paris and Rome"; a well-known place lies in a well-known region or country
    only if it is a city), is all three at once."""
    said = raw.strip()
    at = s.text.find(said) if said.rstrip(",.;:!? ") == place else -1
    within = place_within(s.text[at + len(said) :]) if at >= 0 else None
    known = is_well_known_place(place)
    if within is None or (known and (within[1] or well_known_city_opening(place) != place)):
        return place, place, ()  # "Berlin, Paris and Rome", "France, Spain": a list
    name, city = within
    named = f"{place}, {name}"
    if city:
        return named, name, (EntityMention(place, "place"),)
    return named, place, (EntityMention(name, "place"),)


def _lives(match: re.Match[str], s: Sentence) -> list[Candidate]:
    if match.groupdict().get("neg"):
        place = proper(match["x"])
        return denied(match, s, "home_city", place, ("lives in", "live in")) if place else []
    return _place_slot(s, match["x"], "home_city", "{s} lives in {x}", "lives_in")


_CARRIED_SUBJECT = re.compile(r"\b(?i:I|I'm|I've)(?!\w)")
_OTHER_SUBJECT = re.compile(r"\b(?i:he|she|they|we|you|my|his|her|their|who|which|that)\b")


def _lives_too(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A home said by a bare verb after "but"/"and", whose subject is the user's from the
    clause before: "I'm from Porto but live in Lisbon"."""
    before = s.text[: match.start()]
    subjects = list(_CARRIED_SUBJECT.finditer(before))
    if not subjects or _OTHER_SUBJECT.search(before, subjects[-1].end()):
        return []
    return _lives(match, s)


def _moved(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A move, "I moved to Berlin", "we just moved to austin", "We moved from Paris to Rome":
    the home city (and the old one, named, over). A move to a company ("I moved to Meta")
    is a new job (`moved_to_company`); a stay for a season ("for the summer", `STAY`) is
    no move."""
    if STAY.search(s.text):
        return []
    found = _place_slot(s, match["x"], "home_city", "{s} moved to {x}", "lives_in", after_move=True)
    if found and (job := moved_to_company(s, str(found[0].value))):
        return job
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


def users_home(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """The user's home a clause said of them and others names, "Me and my partner live in
    Oslo" (its `x`), as `_moved` reads it where its `move` is ("moved to Berlin"), else as
    `_lives` does."""
    return _moved(match, s) if match["move"] else _lives(match, s)


_HOME = re.compile(
    r"\b(?:live[ds]?|living|moved?|moving|home|apartment|flat|house|for\s+good|"
    r"permanently)\b",
    re.IGNORECASE,
)


def _back_in(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """Home again, "I'm back in Porto now": the home city, unless it is a trip ("I'm back in
    Porto for the weekend")."""
    if TRIP.search(s.text):
        return []
    return _place_slot(s, match["x"], "home_city", "{s} lives in {x} again", "lives_in")


def _now_in(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """Living somewhere now, "I lived in Porto for 5 years, now I'm in Lisbon": only where the
    sentence speaks of a home (being in Rome now is as often a trip), and of no trip."""
    if TRIP.search(s.text) or not _HOME.search(s.text):
        return []
    return _place_slot(s, match["x"], "home_city", "{s} lives in {x}", "lives_in")


def _settled(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A home settled in, "We've settled in Oslo": the home city, unless for a season or a
    trip ("settled in Rome for the conference")."""
    if STAY.search(s.text) or TRIP.search(s.text):
        return []
    return _place_slot(s, match["x"], "home_city", "{s} lives in {x}", "lives_in")


def _home_is(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """The home city said as home, "Home is Oslo these days", "Oslo is home now", "I now call
    Oslo home": a name (not "This is home now"), and no stay for a season ("Home is Oslo for
    the summer")."""
    place = proper(match["x"])
    if place is None or place.split()[0].lower() in PRONOUNS or STAY.search(s.text):
        return []
    return _place_slot(s, place, "home_city", "{s} lives in {x}", "lives_in")


_HOME_OPENING = r"^(?:(?i:these\s+days|nowadays|now),?\s+)?"
"""What may open a sentence saying where home is, before it ("These days home is Oslo")."""
_HOME_NAME = rf"(?P<x>[{UP}][\w'-]+(?:\s+(?:(?:de|da|do|del|of)\s+)?[{UP}][\w'-]+){{0,2}})"
"""A place said as home: a capitalised name of up to three words ("New York City", "Rio de
Janeiro")."""
_HOME_NOW = r"(?:\s+(?i:now|these\s+days|nowadays|at\s+the\s+moment|for\s+good))?\s*(?:$|[.!;])"
"""What may close a sentence saying where home is: when it holds, nothing more ("Oslo is home
now"; not "Rome is home to the Colosseum", "Home is Oslo for the summer")."""


def _origin(match: re.Match[str], s: Sentence) -> list[Candidate]:
    return _place_slot(s, match["x"], "origin", "{s} is from {x}", "from")


def _lived(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A home of the past, "I lived in Porto from 2019 to 2021", "I lived in Braga until
    2019": a named place lived in over a period said is the home slot's history
    (`_past_home`); else a plain fact, true over the period said, if any (`held_until`)."""
    named = proper(match["x"])
    home = _past_home(s, named) if named else None
    if home is not None:
        return [home]
    place = named or clean(match["x"], s, max_words=6)
    if not place:
        return []
    lived = fact(s, f"{s.label} used to live in {place}", importance=0.5)
    return [held_until(lived, s) or lived]


def _past_home(s: Sentence, place: str) -> Candidate | None:
    """`place` lived in over the period the sentence says (`held_until`), None if it says
    none: ended by when it was said, a past value of the home slot (`past_value`: history,
    retiring no current home), with the lives_in relation ending with it; an end still to
    come ("I'll live in Porto until 2030"), a plain fact."""
    lived = fact(s, f"{s.label} used to live in {place}", importance=0.5)
    held = held_until(lived, s)
    if held is None:
        return None
    entities, relations = relate(s, "lives_in", place, "place")
    related = held_until(replace(lived, entities=entities, relations=relations), s)
    filed = past_value(related, s, "home_city", place) if related is not None else held
    return filed if filed.attribute else held


_LONG_STAY = timedelta(days=180)
"""How long a stay said only as being somewhere ("I was in Berlin from 2015 to 2018") must
be to be a home: months, not the days of a trip ("from May 3 to May 10")."""


def _was_in(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A home of the past said as where the user was, "between 2015 and 2018 I was in
    Berlin", "I was living in Berlin until 2018": as "I lived in Berlin" then (`_past_home`),
    and no trip ("... for a conference"). Bare "was in" needs a period of months or years
    said from one time to another: "I was in Berlin last week", "... in 2018", "... from May
    3 to May 10" tell of a visit."""
    place = proper(match["x"])
    if not place or TRIP.search(s.text):
        return []
    when = s.times[0] if s.times else None
    if not match["living"] and (
        when is None or not spans(when) or when.end - when.start < _LONG_STAY
    ):
        return []
    home = _past_home(s, place)
    return [home] if home is not None else []


_DURATION = re.compile(
    r"\b(?:for|since|(?:my\s+(?:whole|entire)|all\s+my)\s+life)\b", re.IGNORECASE
)


def _lived_since(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A home lived in up to now, "I've lived in Chicago for 10 years", "... since 2019": the
    home city ("... my whole life" too). Not "I've lived in Paris", which tells of some time
    in one's life."""
    if not _DURATION.search(match["x"]):
        return []
    return _place_slot(s, match["x"], "home_city", "{s} lives in {x}", "lives_in")


_BIRTH_YEAR = re.compile(r"\b(?:19|20)\d\d\b")


def _born(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """Where and when the user was born, "I was born in Porto in 1990", "Born in Porto", "I
    was born in 1990": the birthplace and the birth year; "born and raised" also the origin."""
    found: list[Candidate] = []
    place = proper(match["x"])
    if place and not any(place in time.span for time in s.times):
        found.extend(_place_slot(s, place, "birthplace", "{s} was born in {x}", None))
        if match["raised"]:
            found.extend(_place_slot(s, place, "origin", "{s} is from {x}", "from"))
    year = _BIRTH_YEAR.search(match[0])
    if year:
        text = f"{s.label} was born in {year[0]}"
        found.append(fact(s, text, kind="profile", attribute="birth_year", value=year[0]))
    return found


_SLOT_KEYS = frozenset(
    """birthday email address hometown nickname major job occupation goal dream
    pronouns height weight zodiac budget""".split()
) | {"star sign", "zodiac sign", "blood type"}
_PHONE_KEYS = frozenset(
    ("phone", "number", "phone number", "cell", "cell number", "mobile", "mobile number")
)
"""What the user calls their phone number ("my new number is ..."; "my phone is" either)."""
_EMAIL_KEYS = frozenset(("email", "email address"))
"""What the user calls their email address."""
_NEW_KEYS = frozenset(("address",)) | _EMAIL_KEYS | _PHONE_KEYS
"""Slots said new ("my new email is ...") or changed ("my email changed to ..."); not "my
new job is great"."""
_NOW = re.compile(r"^\s*(?:now\s+)?", re.IGNORECASE)
"""What opens a value said as the new one ("my email is now bob@new.com")."""
_AN_EMAIL = re.compile(EMAIL)
_CONTACT_END = re.compile(AND_MY_CONTACT)
_CITY_AFTER = re.compile(rf"^,\s*(?P<x>[{UP}][\w'-]+(?:\s+[{UP}][\w'-]+){{0,2}})(?=\s*(?:[.!?]|$))")
"""The city an address ends with after a comma ("12 Main St, Boston.")."""
_AT_EMPLOYER = re.compile(r"\s*(?:at|with|for)\s", re.IGNORECASE)
"""What "my job is" says an employer with ("my job is at IBM")."""
_PHONE_NUMBER = re.compile(PHONE_NUMBER)
_A_PHONE = re.compile(r"^an?\s+(?P<x>.+)", re.IGNORECASE)


def _phone_slot(key: str, raw: str, s: Sentence) -> list[Candidate]:
    """The user's phone number, "my new number is 555-123-4567" (a run of at least seven
    digits): the `phone_number` slot; or their phone, "my phone is a Samsung": the `phone`
    slot, the device (not "my phone is broken")."""
    number = phone_number_slot(_NOW.sub("", raw), s)
    if number:
        return number
    device = _A_PHONE.match(clean(raw, s, max_words=5) or "") if key == "phone" else None
    if device is None:
        return []
    text = f"{s.label}'s phone is {device[0]}"
    return [fact(s, text, kind="profile", attribute="phone", value=device["x"], importance=0.6)]


def email_slot(raw: str, s: Sentence) -> list[Candidate]:
    """The user's email, "my email is (now) bob@new.com": the address alone (`EMAIL`), not
    what follows it; nothing when the words are no address ("my email is full")."""
    address = _AN_EMAIL.match(_NOW.sub("", raw))
    if address is None:
        return []
    text = f"{s.label}'s email is {address[0]}"
    return [fact(s, text, kind="profile", attribute="email", value=address[0], importance=0.7)]


def phone_number_slot(raw: str, s: Sentence) -> list[Candidate]:
    """The user's phone number alone, "555-0100" (seven digits at least); nothing else."""
    number = _PHONE_NUMBER.match(raw)
    if number is None or sum(char.isdigit() for char in number[0]) < 7:
        return []
    text = f"{s.label}'s phone number is {number[0]}"
    return [fact(s, text, kind="profile", attribute="phone_number", value=number[0])]


def _address(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """The user's address, "my address is 12 Main St, Boston": the street with the city said
    after its comma; nothing for "my new address is in Austin", a city (no address)."""
    value = clean(_CONTACT_END.split(match["x"])[0], s, max_words=8)
    if not value or value.lower().startswith("in "):
        return []
    city = _CITY_AFTER.match(s.text[match.end() :])
    if city is not None and value[:1].isdigit():
        value = f"{value}, {city['x']}"
    return _address_slot(value, s)


def _address_slot(value: str, s: Sentence) -> list[Candidate]:
    """The user's `address` slot, `value` as said ("12 Rua Augusta, Lisbon")."""
    text = f"{s.label}'s address is {value}"
    return [fact(s, text, kind="profile", attribute="address", value=value, importance=0.7)]


_STREET = re.compile(
    rf"^\d+[A-Za-z]?(?:\s+(?:[{UP}][\w'.-]*|(?i:de|da|do|dos|das|del|di|la|le|du|of)))+$"
)
"""A street address: its number, then a name of capitalised words ("12 Rua Augusta", "5
Main St", "3 Rue de la Paix"; not "2 people", "3 Slack channels")."""


def _ship_to(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """Where to send the user's things from now on, "Ship to 5 Main St, Springfield from now
    on", "Going forward, send my packages to 12 Rua Augusta": their address, a street with
    its number, and the city said after its comma. Not said for good ("Ship it to 5 Main
    St", a gift's one delivery, maybe), it is none."""
    street = clean(match["x"], s, max_words=8)
    if not (match["first"] or match["last"]) or not street or not _STREET.match(street):
        return []
    return _address_slot(f"{street}, {match['city']}" if match["city"] else street, s)


def _contact_at(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """Where to reach the user, "you can reach me at 555-0199", "email me at bob@new.com",
    "use my new number 555-0199", "please use bob@new.com from now on" (read only in a
    sentence with a first-person cue or one of what holds from now on: see `extraction`):
    their email or phone number."""
    if match["email"] or match["then"]:
        return email_slot(match["email"] or match["then"], s)
    return phone_number_slot(match["number"], s)


_ON = re.compile(r"^(?:on\s+)?(?:the\s+)?", re.IGNORECASE)
"""What opens a date without being one ("my birthday is on the 3rd of March")."""


def _birthday(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """The birthday slot: "my birthday is March 3rd", "... is on March 3rd", "I was born on 3
    March 1990" (value "March 3rd", "3 March 1990")."""
    value = " ".join(_ON.sub("", match["x"].strip()).split()[:4]).rstrip(",.;!?")
    if not value or not any(c.isdigit() for c in value):
        return []
    text = f"{s.label}'s birthday is {value}"
    return [fact(s, text, kind="profile", attribute="birthday", value=value, importance=0.7)]


def _my_x_is(match: re.Match[str], s: Sentence) -> list[Candidate]:
    key = " ".join(match["key"].lower().split())
    key = "birthday" if key == "bday" else key
    favourite = key.startswith(("favorite ", "favourite "))
    if match["are"]:  # "My favourite movies are Alien and Heat": one slot with "movie is"
        return _favourites_are(match, s, key) if favourite else []
    if (match["new"] or match["changed"]) and not favourite and key not in _NEW_KEYS:
        return []
    if key in _EMAIL_KEYS:
        return email_slot(match["x"], s)
    if key == "address":
        return _address(match, s)
    if key == "job" and _AT_EMPLOYER.match(match["x"]):
        return []  # "my job is at IBM": the employer (`_work_rules`)
    if key in _PHONE_KEYS:
        return _phone_slot(key, _CONTACT_END.split(match["x"])[0], s)
    if key == "birthday":  # its value is a date, which `clean` would take out
        return _birthday(match, s)
    value = clean(match["x"], s, max_words=8)
    if not value or (favourite and _names_none(match["x"])):
        return []
    if not favourite and key not in _SLOT_KEYS:
        return []
    attribute = ("favorite_" + slug(key.split(" ", 1)[1])) if favourite else slug(key)
    kind: MemoryKind = "preference" if favourite else "profile"
    text = f"{s.label}'s {key} is {value}"
    return [fact(s, text, kind=kind, attribute=attribute, value=value, importance=0.7)]


_NO_FAVOURITE = re.compile(
    r"^(?:too|so|hard|impossible|tough|difficult|many|countless|different|changing|always|"
    r"constantly|forever|a\s+secret|a\s+mystery|a\s+toss[- ]up|a\s+tie|a\s+tough\s+one|"
    r"a\s+hard\s+one|whatever|endless|up\s+to|not|unknown|undecided|(?:it\s+)?(?:changes|"
    r"varies|depends)|(?:none|nothing|anything|everything|unclear|tbd)$|(?:i|i['’]m|im)\s|"
    r"(?:it|that)['’]?s\s+(?:hard|tough|impossible|difficult|complicated|a\s+toss[- ]up))\b",
    re.IGNORECASE,
)
"""What a favourite "is" that names none ("My favourite movie is hard to pick", "... are
too many to count", "... is, I don't have one", "... is it changes", "... is it depends",
"... is nothing")."""
_NO_ANSWER_OPENER = re.compile(r"^[\s.,…:;-]*(?:(?:honestly|well|um+|uh+|hmm+)[\s.,…:;-]*)*", re.I)
"""What opens a favourite said as said, before the words that name none ("is... well, it
changes")."""


def _names_none(said: str) -> bool:
    """Whether a favourite said so names none (`_NO_FAVOURITE`: "hard to pick", "... well,
    it changes", "I don't have one"), in lower case but for "I": a title names one ("Always
    Sunny", "Not Another Teen Movie", "It")."""
    words = _NO_ANSWER_OPENER.sub("", said)
    if not words or not (words[0].islower() or re.match(r"I\b", words)):
        return False
    return _NO_FAVOURITE.match(words) is not None


_SAME_PLURAL = frozenset("series species movies cookies pies smoothies brownies selfies".split())
"""Plurals of "-ies" whose singular is not "-y" ("movies": "movie")."""


def _singular(word: str) -> str:
    """The singular of the plural `word` a favourite is said of ("movies" -> "movie",
    "cities" -> "city", "dishes" -> "dish"): the slot of "my favourite movie is ..."."""
    if word in ("series", "species") or word.endswith(("ss", "us")):
        return word
    if word.endswith("ies") and word not in _SAME_PLURAL:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    return word[:-1] if word.endswith("s") else word


def _favourites_are(match: re.Match[str], s: Sentence, key: str) -> list[Candidate]:
    """Favourites said together, "My favourite movies are Alien and Heat", "Favourite
    bands are Blur and Pulp": the one slot of the thing ("favorite_movie"), holding them
    all."""
    value = clean(match["x"], s, max_words=8)
    if not value or _names_none(match["x"]):
        return []
    words = key.split(" ", 1)[1].split()
    attribute = "favorite_" + slug(" ".join([*words[:-1], _singular(words[-1])]))
    text = f"{s.label}'s {key} are {value}"
    return [fact(s, text, kind="preference", attribute=attribute, value=value, importance=0.7)]


def _favourite_is(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A favourite said first, "Coffee is my favorite drink": as "my favorite drink is
    coffee" says it."""
    value = clean(match["x"], s, max_words=5)
    if not value:
        return []
    key = " ".join(match["key"].lower().split())
    attribute = "favorite_" + slug(key.split(" ", 1)[1])
    text = f"{s.label}'s {key} is {value}"
    return [fact(s, text, kind="preference", attribute=attribute, value=value, importance=0.7)]


PROFILE_RULES: tuple[Rule, ...] = (
    rule(
        rf"(?i:\bmy\s+name(?:'s|\s+is)(?:\s+now)?|\bcall\s+me|\b(?:hi|hello|hey)[,!.]?\s+I'm|"
        rf"\bI(?:\s+now)?\s+go\s+by|\b(?:I(?:'ve|\s+have)?|and)\s+changed\s+my\s+name\s+to)\s+{NAME}",
        _name,
        ("name", "call me", "i'm", "go by"),
    ),
    rule(
        rf"^(?i:(?:hi|hello|hey)(?:\s+(?:there|all|everyone))?[,!.]?\s+)?(?i:I'm|I\s+am)\s+"
        rf"(?P<x>[{UP}][a-zà-öø-ÿ]+(?:\s+[{UP}][a-zà-öø-ÿ]+)?)(?=\s*(?:[,.!]|$)|\s+(?i:and)\b)",
        _name,
        ("i'm", "i am"),
    ),
    rule(
        rf"(?:{I_AM}\s+(?P<x>\d{{1,3}})(?i:\s+years?\s+old|\s*(?:yo|y/o)\b|\s+now\b)|"
        rf"{I_AM}(?i:\s+(?:already|only|just))?\s+(?P<z>1\d|[2-9]\d|1[01]\d)"
        r"(?=\s*(?:$|[,;!?]|\.(?!\d)|(?i:and|but|so|myself|btw|tbh|lol|haha|fyi)\b))|"
        rf"{ME}{HAVE}?{ADV}\s+(?i:turned)\s+(?P<y>\d{{1,3}})"
        r"(?=\s*(?:$|[,.;!?]|(?i:today|yesterday|last|this|on|in|and|now)\b)))",
        _age,
        ("old", "yo", "now", "turned", "i'm", "i am", "im "),
    ),
    rule(
        rf"(?:(?:{I_AM}|{ME}{HAVE}\s+been){ADV}(?P<neg>\s+(?i:no\s+longer|not))?|"
        rf"{ME}{ADV}(?P<used>\s+(?i:used\s+to\s+be))){ADV}"
        rf"(?i:\s+on)?(?i:\s+an?|\s+the)?\s+(?P<x>(?i:{DIETS}))(?![\w-])",
        _diet,
        ("vegetarian", "vegan", "pesc", "flexitarian", "keto", "paleo", "gluten")
        + ("kosher", "halal", "carnivore"),
    ),
    rule(
        rf"(?:^\s*|(?<=[,;:])\s*|\b(?i:so|now|then)\s+)(?P<x>(?i:{DIETS}))(?![\w-]),?\s+"
        r"(?i:I\s+guess|I\s+suppose|I\s+think|I'd\s+say)\b",
        _hedged_diet,
        ("guess", "suppose", "think", "say"),
    ),
    rule(
        rf"{ME}{HAVE}?{ADV}\s+(?i:went|gone|became|become|turned|switched\s+to|"
        r"converted\s+to)(?i:\s+an?)?\s+"
        rf"(?P<x>(?i:{DIETS}))(?![\w-])",
        _diet,
        ("went", "gone", "became", "become", "turned", "switched", "converted"),
    ),
    rule(
        rf"(?i:{WE}\s+moved\s+from)\s+(?P<y>[^,.;!?()\n]+?)\s+(?i:to)\s+{REST}",
        _moved,
        ("moved",),
    ),
    rule(
        rf"{WE}{HAVE}?{ADV}\s+(?i:moved|relocated)(?i:\s+back)?\s+(?!{STIRRED})(?i:to|into)\s+"
        rf"{REST}",
        _moved,
        ("moved", "relocated"),
    ),
    rule(
        rf"{WE}{HAVE}?{ADV}\s+(?i:settled)(?i:\s+down)?\s+(?i:in)\s+(?=[{UP}]){REST}",
        _settled,
        ("settled",),
    ),
    rule(
        rf"{WE}(?i:'m|\s+am|'re|\s+are|'?ve\s+been|\s+have\s+been)?{ADV}{NOT}{ADV}\s+"
        rf"(?i:live|living|reside|residing)\s+(?i:in)\s+{REST}",
        _lives,
        ("liv", "resid"),
    ),
    rule(rf"{I_AM}{ADV}{NOT}{ADV}\s+(?i:based)\s+(?i:in)\s+{REST}", _lives, ("based",)),
    rule(rf"{I_AM}{ADV}\s+(?i:back)\s+(?i:in)\s+(?=[{UP}]){REST}", _back_in, ("back in",)),
    rule(
        rf"(?:(?i:\bnow),?\s+{I_AM}|{I_AM}(?i:\s+now))\s+(?i:in|based\s+in)\s+(?=[{UP}]){REST}",
        _now_in,
        ("now",),
    ),
    rule(
        rf"{_HOME_OPENING}(?i:(?:my\s+)?home(?:\s+base)?(?:\s+for\s+me)?\s+is)"
        r"(?:\s+(?i:now|currently))?\s+(?!(?i:where|wherever|what|who|when|how)\b)"
        rf"{_HOME_NAME}{_HOME_NOW}",
        _home_is,
        ("home",),
    ),
    rule(
        rf"{_HOME_OPENING}{_HOME_NAME}\s+(?i:is)(?:\s+(?i:now))?\s+(?i:(?:my\s+)?(?:new\s+)?home)"
        rf"{_HOME_NOW}",
        _home_is,
        ("home",),
    ),
    rule(rf"{WE}{ADV}\s+(?i:call)\s+{_HOME_NAME}\s+(?i:home){_HOME_NOW}", _home_is, ("home",)),
    rule(
        rf"{WE}{HAVE}{ADV}\s+(?i:lived)\s+(?i:in)\s+{REST}",
        _lived_since,
        ("lived",),
    ),
    rule(rf"{ME}{ADV}\s+(?i:used\s+to\s+live|lived)\s+(?i:in)\s+{REST}", _lived, ("live",)),
    rule(
        rf"{WE}{ADV}\s+(?i:was|were)(?P<living>(?i:\s+(?:living|based)))?\s+(?i:in)\s+"
        rf"(?=[{UP}]){REST}",
        _was_in,
        (" in ",),
    ),
    rule(
        rf"(?:{I_AM}(?i:\s+originally)?\s+(?i:from)|{ME}\s+(?i:grew\s+up\s+in))\s+{REST}",
        _origin,
        ("from", "grew up"),
    ),
    # The subject carried over a "but"/"and" to a bare verb: "I'm from Porto but live in
    # Lisbon", "I grew up in Porto and now live in Lisbon".
    rule(
        rf"(?<=\s)(?i:but|and){ADV}{NOT}{ADV}\s+(?i:live|reside)\s+(?i:in)\s+{REST}",
        _lives_too,
        ("live", "reside"),
    ),
    *WORK_RULES,
    *SCHOOL_RULES,
    *FAMILY_RULES,
    rule(
        r"^(?P<x>[^,.;!?()\n]+?)\s+(?i:is|are)\s+(?i:my)\s+"
        r"(?P<key>(?i:favou?rite\s+[a-z]+(?:\s+(?!(?:now|nowadays|again|too)\b)[a-z]+)?))"
        r"(?:\s+(?i:now|nowadays|again|too|these\s+days))?(?=\s*(?:$|[,.;!?]))",
        _favourite_is,
        ("favorite", "favourite"),
    ),
    rule(
        r"(?i:\bplease\s+use|\buse\s+my\s+(?:new\s+)?(?:e-?mail(?:\s+address)?|"
        r"(?:phone|cell|mobile)(?:\s+number)?|number)|"
        r"\b(?:contact|reach|email|e-mail|call|text)\s+me\s+(?:at|on|via))\s+"
        rf"(?:(?P<email>{EMAIL})|(?P<number>{PHONE_NUMBER}))|"
        rf"(?i:\buse)\s+(?P<then>{EMAIL})(?=\s+(?i:from\s+now\s+on|instead|going\s+forward))",
        _contact_at,
        ("use", "me at", "me on", "me via"),
    ),
    rule(
        r"(?P<first>(?i:\b(?:from\s+now\s+on|going\s+forward)),?\s+)?"
        r"(?i:\b(?:please\s+)?(?:ship|send|deliver|mail|post)(?:\s+(?:it|them|everything|"
        r"things|stuff|(?:(?:all\s+)?(?:my|the)\s+|all\s+)?(?:orders?|packages?|parcels?|"
        r"deliveries|mail|post)))?\s+to)\s+"
        rf"(?P<x>\d[^,.;!?()\n]*?)(?:,\s*(?P<city>[{UP}][\w'-]+(?:\s+[{UP}][\w'-]+){{0,2}}))?"
        r"(?P<last>\s+(?i:from\s+now\s+on|going\s+forward))?(?=\s*(?:[.!]|$))",
        _ship_to,
        ("from now on", "going forward"),
    ),
    rule(rf"{ME}\s+(?i:was\s+born\s+on)\s+{REST}", _birthday, ("born",)),
    rule(
        rf"{ME}\s+(?i:was\s+born)(?P<raised>\s+(?i:and\s+raised))?\s+(?i:in)\s+{REST}",
        _born,
        ("born",),
    ),
    rule(
        r"(?i:(?:\bmy\s+|^(?=favou?rite\s))(?P<new>new\s+)?"
        r"(?P<key>favou?rite\s+[a-z]+(?:\s+[a-z]+)?|[a-z]+(?:\s+[a-z]+)?)"
        rf"(?:\s+is|'s|(?P<are>\s+are)|(?P<changed>\s+(?:has\s+)?changed\s+to)))\s+{REST}",
        _my_x_is,
        ("my ", "favorite", "favourite"),
    ),
)
"""The profile-slot rules, most specific first."""
