"""Entities and relations: find names in text, merge aliases safely, build relation records.

Everything here is pure. The facade resolves a candidate's `EntityMention`s against the user's
stored entities with `resolve_entities()`, stores what it returns, and turns the candidate's
`RelationMention`s into `Relation` records with `build_relations()`.

Alias merging only makes safe merges, within one user and one kind: equal names up to case,
diacritics and a leading "the" ("Tomás" = "tomas"), and a one-token name equal to the first or
last token of exactly one longer name ("Tomás" ~ "Tomás Almeida", "Almeida" ~ "Tomás Almeida").
A place merges by its last token only ("Gaia" ~ "Vila Nova de Gaia"): a place named after its
first word is in that one ("Porto Campanhã" is a station in Porto, "Porto Airport" its
airport). A name joined by "&" ("Procter & Gamble") merges with neither side. Two names of
unknown kind ("other") merge only when equal: a shared word tells nothing of them ("TAP"
the airline, "TAP TP"). A few well-known places merge by the other names they go by
("NYC", "New York" and "New York City"; "US", "U.S." and "United States"): a small curated
table (`_PLACE_ALIASES`).
"Tom" is never merged with "Tomás": a nickname is a guess, and a wrong merge is worse than a
missed one. For the same reason a new, longer name never takes over a known person the user
relates to unless said in that role (`resolve_entities`): "our neighbour Marta Kowalski" is
not the user's sister "Marta", introduced on her own; "my sister Marta Kowalski" is.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from engram._ids import new_id
from engram.memory._patterns import DEMONYMS, FAITHS
from engram.memory.candidates import EntityKind, EntityMention, RelationMention
from engram.types._conversation import DEFAULT_TENANT
from engram.types._memory import Entity, Memory, Relation
from engram.types._time import utcnow

__all__ = [
    "EntityResolution",
    "build_relations",
    "close_relations",
    "extract_entities",
    "fold",
    "merge_aliases",
    "named_entities",
    "resolve_entities",
]

_UPPER = "A-ZÀ-ÖØ-Þ"
_NAME_TOKEN = rf"[{_UPPER}][\w'’&-]*"
_CONNECTOR = r"(?:of|de|da|do|dos|das|del|della|van|von|der|den|la|le|du|the|&)"
_INITIAL = rf"[{_UPPER}]\.(?=\s+{_NAME_TOKEN})"
"""A middle initial going on with the name ("John F. Kennedy School")."""
_DOTTED = rf"(?:[{_UPPER}]\.){{2,}}(?![\w'’])"
"""A dotted abbreviation ("D.C.", "U.S."): it ends a name ("Washington D.C."), as a capital
after it may open the next sentence ("I moved to the U.S. Last year ...")."""
_WORD_TOKEN = rf"(?!{_DOTTED}){_NAME_TOKEN}"
_SPAN = re.compile(
    rf"(?<![\w'’])(?:{_DOTTED}|{_WORD_TOKEN}"
    rf"(?:\s+(?:{_CONNECTOR}\s+)?(?:{_INITIAL}|{_WORD_TOKEN}))*(?:\s+{_DOTTED})?)"
)
_DOTTED_END = re.compile(rf"(?:^|\s){_DOTTED}$")
_WORD = re.compile(r"\S+")
_SENTENCE_BREAK = re.compile(r"(?:^|[.!?:;\"“(\n]|\s-\s)\s*$")
_POSSESSIVE = re.compile(r"['’]s?$")
_TITLE = re.compile(r"\b(?:Dr|Mr|Mrs|Ms|Prof|St)\.\s*$")

_COMMON = frozenset(
    """i i'm i've i'd i'll im ive id ill a an the this that these those it its it's my your our
    their his her he she we they you me us them what when where why how who which there here
    yes no not ok okay oh ah wow hey hi hello thanks thank please sorry sure well so and but or
    if then also just really very too anyway haha lol omg yeah yep nope great good nice cool
    awesome amazing congrats congratulations bye goodbye dear mr mrs ms dr miss prof sir madam st
    monday tuesday wednesday thursday friday saturday sunday january february march april may
    june july august september october november december today tomorrow yesterday tonight
    christmas easter halloween thanksgiving god gonna wanna let let's can could would should
    will did do does was were is are am be been being have has had as at by for from in into
    of on to with without about after before during since until all any both each every
    some many much more most other another such maybe perhaps mon tue tues wed thu thurs fri sat sun
    mondays tuesdays wednesdays thursdays fridays saturdays sundays yay yup yea nah aww awww
    ugh oof phew hmm hmmm woah whoa woohoo yum ouch cheers gotcha btw fyi idk tbh imo ttyl thx
    xoxo""".split()
)
_OPENERS = frozenset(
    """probably definitely exactly honestly basically hopefully luckily sadly
    unfortunately fortunately apparently literally seriously totally absolutely typical
    add near glad happy welcome guess remember check try see thinking looking
    planning hoping wondering trying going getting feeling speaking talking finally recently
    actually usually lately eventually currently obviously clearly surely thankfully mostly
    only never always still even already now later someday sometimes though whenever super
    fully stay keep enjoy take""".split()
)
"""Words that open a sentence before a name ("Maybe Lisbon", "Add the Lisbon trip"): not
part of it, nor a name alone ("Finally got it!"). (No suffix rule: -ing and -ly end names
too, Sterling Bank and Billy Joel.)"""
_EDGE = _COMMON | {"of", "&", "the"}
_ORG_TAILS = frozenset(
    """inc inc. ltd ltd. llc corp corp. corporation company co co. group university college
    school academy institute bank foundation hospital clinic club society association church
    labs lab studio studios agency center centre partners ventures technologies systems media
    press records airlines motors""".split()
)
_PLACE_TAILS = frozenset(
    """city town village street st st. avenue ave road park lake river mountain mountains
    beach island islands bay county state province valley canyon falls national square""".split()
)
_PLACE_ALIASES: Mapping[str, str] = {
    alias: names[0]
    for names in (
        ("new york city", "new york", "nyc"),
        ("san francisco", "sf", "san fran"),
        ("los angeles", "la"),
        ("united kingdom", "uk"),
        ("united states", "us", "usa", "united states of america"),
        ("washington dc",),
    )
    for alias in names
}
"""Well-known places by the names they go by (folded, without dots: "U.S." is "us"), each
to the first name of its group: "NYC", "New York" and "New York City" are one place,
"Washington D.C." and "Washington DC" too. Small and curated on purpose: a place's short
form is no guess, a person's nickname is ("Bob" may not be Robert), so people have none."""


def _place_alias(name: str) -> str | None:
    """The `_PLACE_ALIASES` group `name` (any case, dots aside) belongs to, if one."""
    return _PLACE_ALIASES.get(fold(name).replace(".", ""))


_PERSON_TITLES = frozenset("mr mr. mrs mrs. ms ms. dr dr. miss prof prof. aunt uncle".split())
_KIN = frozenset(
    """mom mum mommy mummy mother dad daddy father grandma grandpa granny gran nana grandmother
    grandfather""".split()
)
"""Family words said as names ("Mom called", "Christmas at Grandma's"): people, whatever
"at" suggests."""
_ROLE_NOUNS = frozenset("boss doctor nurse teacher manager dentist therapist office".split())
"""Role words and a workplace, capitalised as common nouns ("my Boss yelled", "Doctor Who",
"The Office"): no name alone."""
_CALENDAR = frozenset(
    "spring summer autumn fall winter birthday anniversary holiday holidays weekend".split()
)
"""Seasons and occasions ("Spring in Kyoto", "Happy Birthday"): a name only where the words
say so (`_named_so`: "my friend Summer")."""
_SAINT = re.compile(r"\bSt\.?\s+$")
"""A saint's title before a name ("St. Mary's", "St Louis"): part of the name."""
_PERSON_CUES = re.compile(
    r"(?:\b(?:my|our)\s+(?:\w+\s+)?(?:friend|partner|wife|husband|girlfriend|boyfriend|fianc[ée]e?|"
    r"spouse|brother|sister|mom|mother|dad|father|son|daughter|cousin|colleague|coworker|"
    r"co-worker|boss|roommate|neighbou?r|aunt|uncle|grandma|grandmother|grandpa|grandfather|"
    r"niece|nephew|kid|child|mentor|teacher|coach|therapist|doctor)s?|\bnamed|\bcalled|"
    r"\bwith|\b(?:dr|mr|mrs|ms|prof)\.?|"
    r"\b(?:hey|hi|hello|thanks|thank you|dear|bye|congrats|congratulations),?|"
    r"\b(?:talk(?:ed|ing)?|spoke|speak(?:ing)?|said|wrote|sent|gave|married|introduced|"
    r"listen(?:ed|ing)?)\s+to|\b(?:met|meet|meeting|visited|visiting|call(?:ed)?|texted|told|"
    r"asked|thanked|hugged))\s*$",
    re.IGNORECASE,
)
_ORG_CUES = re.compile(
    r"\b(?:work(?:s|ed|ing)?\s+(?:at|for)|job\s+at|joined|hired\s+(?:by|at)|employed\s+by|"
    r"intern(?:ing|ship)?\s+at|volunteer(?:s|ed|ing)?\s+(?:at|with|for)|studying\s+at|"
    r"study\s+at|graduated\s+from|enrolled\s+(?:at|in))\s*$",
    re.IGNORECASE,
)
_WORKPLACE_CUES = re.compile(
    r"\b(?:start(?:s|ed|ing)?\s+(?:work(?:ing)?\s+)?at|interview(?:s|ed|ing)?\s+(?:at|for)|"
    r"offers?\s+from|(?:nurse|doctor|engineer|developer|designer|manager|analyst|consultant|"
    r"researcher|scientist|intern|lawyer|accountant|teacher|professor|lecturer|student|"
    r"director|programmer|architect|editor|chef|barista|cashier)s?\s+at)\s*$",
    re.IGNORECASE,
)
"""Words before a workplace less sure than `_ORG_CUES` ("started at Globex", "interviewed
at Netflix", "an offer from Stripe", "a nurse at Charité"): a name with a place's tail is
still a place ("We started at Union Square")."""
_PLACE_CUES = re.compile(
    r"\b(?:in|to|from|near|at|visit(?:ed|ing)?|around|across|towards?|via|moved\s+to|"
    r"live\s+in|lives\s+in|based\s+in|trip\s+to|flew\s+to|travel(?:l?ed|l?ing)?\s+to)\s*$",
    re.IGNORECASE,
)
_ANIMAL_CUES = re.compile(
    r"\b(?:dog|cat|puppy|kitten|pet|bird|parrot|hamster|rabbit|bunny|horse|pony|fish|"
    r"turtle|tortoise|snake|lizard|ferret|guinea\s+pig)s?(?:,|\s+(?:named|called))?\s*$",
    re.IGNORECASE,
)
"""Words before an animal's name ("a cat named Miso", "my dog, Rex"): no person, whatever
"named" or "with" suggest; `other` (there is no kind for animals)."""
_PERSON_AFTER = re.compile(
    r"^(?:['’]s\s+(?:\w+\s+)?(?:wife|husband|partner|kids?|children|son|daughter|mom|dad|birthday)|"
    r"\s+(?:said|says|told|asked|and\s+I|is\s+my|was\s+my))\b",
    re.IGNORECASE,
)

_NOUNS = frozenset(
    """nature art arts life music dance family yoga basketball football soccer tennis golf
    baseball hockey sport sports change progress clay pottery adoption success confidence
    challenge challenges friendship love balance safety punishment garlic sushi games work
    school time money food health fitness travel science history math religion faith hope
    peace freedom community therapy meditation exercise kindness happiness patience education
    weather rain snow summer winter autumn spring weekend people poetry photography coffee tea
    water wine beer chocolate pizza pasta breakfast lunch dinner dessert home stress sleep
    energy motivation practice courage honesty trust respect empathy support communication
    technology culture knowledge wisdom creativity inspiration passion talent beauty anxiety
    depression parenthood marriage college traffic camp homework cancer
    lots tons one mine budget price prices rate rates cost costs total deadline""".split()
)
"""Common nouns that open sentences as their subjects ("Nature is calming", "Art was my
escape"): never a name alone, though a few are names too ("Hope is coming" is missed)."""
_NOT_A_NAME = re.compile(
    r"[a-z]{2}ing$|n['’]t$|['’](?:re|ve|ll|d|m)$|^(?:any|every|some|no)(?:thing|one|body|where)$",
    re.IGNORECASE,
)
"""Forms of words that open sentences and are no names: -ing words ("Seeing", "Having";
not "Ming"), contractions ("You're", "Can't") and indefinite pronouns ("Anything")."""
_SINGULAR_VERBS = (
    r"is|was|has|does|(?:is|was|has|does)n['’]t|goes|studies|teaches|tries|misses|watches|"
    r"(?:live|love|like|work|want|need|look|seem|think|know|come|make|take|get|play|run|call|"
    r"help|mean|feel|keep|start|say|tell|give|find|hate|enjoy|stay|sing|write|read|paint|cook|"
    r"sound|believe|visit|own|move|plan|hope|bring|buy|eat|walk|talk|drive|join|leave|grow)s"
)
"""Verbs of a third-person singular subject ("Anna lives", "Rex loves")."""
_OTHER_VERBS = (
    r"[a-z]{2,}ed(?=\s+\w)|had|did|went|got|came|made|saw|took|met|ran|gave|felt|left|bought|"
    r"spent|began|became|found|lost|won|wrote|drove|flew|sold|built|taught|brought|held|kept|"
    r"paid|sent|grew|knew|broke|chose|spoke|ate|fell|said|told|thought|heard|caught|"
    r"will|would|can|could|should|must|might|may|(?:did|had|would|could|should|ca|wo)n['’]t"
)
"""Verbs of any subject: past forms ("Mel got", "Anna called me"; not "Super excited!",
with nothing after it) and modals."""
_PREDICATE = re.compile(
    r"^\s+(?:(?:really|just|also|finally|always|never|still|already|recently|actually|"
    r"often|usually|sometimes|now|currently|then|soon|even|mostly|rarely|suddenly)\s+)?"
    rf"(?:(?P<singular>{_SINGULAR_VERBS})|{_OTHER_VERBS})\b"
)
"""The verb of a subject just before it ("Anna lives", "Mel got", "Rex always loves",
"Robert now teaches"); `singular` when it agrees with a singular subject only."""
_PLURAL = re.compile(r"(?:[b-df-hj-np-rt-z]|ie)s$")
"""A plural-looking word: -s after a consonant or "ie" ("Things", "Pets", "Movies"; not
"Tomás", "James", "Lewis", "Jess")."""
_MARKS = " \t\n.!?…,;:'\"‘’“”()"
"""What may surround the word of a one-word text ("Rex?")."""


def fold(name: str) -> str:
    """The comparison key of a name: no diacritics, case-folded, spaces collapsed.

    Example:
        ```python
        fold("  Tomás  ALMEIDA ") == fold("tomas almeida")  # True
        ```
    """
    if not name.isascii():
        decomposed = unicodedata.normalize("NFKD", name.replace("’", "'"))
        name = "".join(char for char in decomposed if not unicodedata.combining(char))
    words = name.casefold().split()
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    return " ".join(words)


def _at_sentence_start(text: str, start: int) -> bool:
    before = text[max(0, start - 6) : start]
    return bool(_SENTENCE_BREAK.search(before[-4:])) and not _TITLE.search(before)


def _trim(tokens: list[str]) -> tuple[list[str], bool]:
    """Drop common words at the edges (not "US", the country in capitals); also say whether
    the first token was kept."""
    first_kept = True
    while tokens and _common(_POSSESSIVE.sub("", tokens[0]), _COMMON):
        tokens, first_kept = tokens[1:], False
    while tokens and _common(tokens[-1], _EDGE):
        tokens = tokens[:-1]
    return tokens, first_kept


def _common(word: str, common: frozenset[str]) -> bool:
    """Whether `word` is one of the `common` words, not a place of `_PLACE_ALIASES` written
    in capitals ("US": "us" is common, "the US" a country)."""
    return word.lower() in common and not (word.isupper() and _place_alias(word) is not None)


def _bare(tokens: Sequence[str]) -> str:
    """The name `tokens` spell: no possessive, no dot, hyphen or "&" at its edges, but the
    closing dot of a dotted abbreviation ("Washington D.C.", "U.S.")."""
    name = _POSSESSIVE.sub("", " ".join(tokens))
    return name.strip(".-&") + ("." if _DOTTED_END.search(name) else "")


_COMPOUND = re.compile(r"[^\W\d_]+-[a-z]")
"""A hyphenated word going on in lower case ("Kitchen-level"; not "Jean-Paul", "Coca-Cola")."""


def _opener(token: str, text: str, match: re.Match[str]) -> bool:
    """A word opening the sentence before a name, not the start of the name: an `_OPENERS`
    word, or a compound of common words ("Kitchen-level Portuguese", "Well-known Lisbon")."""
    common = token.lower() in _OPENERS or _COMPOUND.match(token) is not None
    return common and _at_sentence_start(text, match.start())


def _after(text: str, match: re.Match[str], tokens: list[str]) -> str:
    """The text after a span's kept `tokens`, a possessive `'s` included (it says "a person"
    in "X's wife"), and the common words `_trim` dropped ("I" in "Wish I could": the name
    is not the subject of "could")."""
    words = [word for word in _WORD.finditer(match[0]) if word[0] == tokens[-1]]
    end = match.start() + words[-1].end()
    if tokens[-1].endswith(("'s", "’s")):
        end -= 2
    return text[end : end + 30]


def _opens_sentence_alone(text: str, match: re.Match[str], tokens: list[str]) -> bool:
    """A lone capitalised word opening a sentence, with nothing saying it is a name."""
    if len(tokens) > 1 or not _at_sentence_start(text, match.start()):
        return False
    if tokens[0].lower() in _NOUNS:  # "Art was my escape": no person, whatever follows
        return True
    after = _after(text, match, tokens)
    if tokens[0].endswith(("'s", "’s")) or _PERSON_AFTER.match(after):
        return False
    alone = not (text[: match.start()] + text[match.end() :]).strip(_MARKS)
    return not _reads_as_name(tokens[0], after, alone=alone) or _in_lower_case(tokens[0], text)


def _in_lower_case(word: str, text: str) -> bool:
    """Whether `text` writes `word` in lower case too ("Plenty is left, plenty of time"):
    a common word then, not a name."""
    lower = word.lower()
    return lower in text and bool(re.search(rf"(?<![\w'’]){re.escape(lower)}(?![\w'’])", text))


def _reads_as_name(word: str, after: str, *, alone: bool) -> bool:
    """Whether a lone capitalised word opening a sentence reads as a name: it has no form of
    a common word (`_NOT_A_NAME`), and it is the subject of its sentence's verb ("Anna lives
    in Madrid", "Mel got a job"; a plural-looking word only before a singular verb: "Things
    got busy" names nothing) or the whole text ("Rex", a one-word query; no -ed word then:
    "Agreed!"). Capitals alone cannot tell "Anna" from "Sounds" there, the syntax can."""
    if word.lower() in _OPENERS or _NOT_A_NAME.search(word):
        return False
    if alone:
        return not word.endswith("ed")
    predicate = _PREDICATE.match(after)
    if predicate is None:
        return False
    return predicate["singular"] is not None or not _PLURAL.search(word)


def _kind(name: str, before: str, after: str) -> EntityKind:
    words = name.lower().split()
    if words[-1] in _ORG_TAILS or _ORG_CUES.search(before):
        return "organisation"
    if words[-1] in _PLACE_TAILS or _place_alias(name) is not None:
        return "place"
    if _WORKPLACE_CUES.search(before):
        return "organisation"
    if words == [words[0]] and words[0] in _KIN:
        return "person"
    if _ANIMAL_CUES.search(before):
        return "other"
    if words[0] in _PERSON_TITLES or _PERSON_CUES.search(before) or _PERSON_AFTER.match(after):
        return "person"
    if _PLACE_CUES.search(before):
        return "place"
    return "other"


def extract_entities(text: str, *, people: Iterable[str] = ()) -> list[EntityMention]:
    """Find named entities in `text` with capitalisation and cue-word heuristics.

    Capitalised spans ("Tomás Almeida", "Bank of America") are names, except common words,
    currency codes and period labels ("EUR", "Q2"). A single capitalised word opening a
    sentence is one only if what follows says so: its verb ("Anna lives in Madrid", not
    "Sounds great"), a possessive, or nothing (a one-word text, "Rex"); and never if the text
    writes it in lower case too. A role word or a workplace alone ("my Boss", "Doctor Who",
    "The Office") names nothing; a season or an occasion ("Spring", "Birthday") only where
    the words say so ("my friend Summer"); a saint's title and a middle initial are part of
    the name ("St. Mary's" is "St. Mary", "John F. Kennedy School"), and a dotted
    abbreviation ends one ("Washington D.C.", "U.S."). Names joined by "&"
    are two when each side is named on its own in the text ("Lisbon & Porto ... from Lisbon
    to Porto") or one is a known person ("Ana & Tomás"), else one ("Procter & Gamble",
    "AT&T"): capitals cannot tell a pair from a firm, the text's other mentions and its
    speakers can. The kind comes from cues: "work at X" or a suffix like "Inc"/"University"
    -> organisation; a suffix like "Street"/"Square" or a well-known place ("NYC", "US":
    `_PLACE_ALIASES`) -> place; "started at X", "a nurse at X" -> organisation; "a cat named
    X" -> other (an animal); "my friend X", "with X", "Dr X", a family word ("Grandma") ->
    person; "in/to/from X" -> place; otherwise `other`.

    Args:
        text: Any text (never raises).
        people: Names already known to be people (e.g. the speakers); they win over cues.

    Returns:
        One mention per distinct name (by `fold`), in order of first appearance.
    """
    known_people = {fold(name) for name in people}
    text = unicodedata.normalize("NFC", text)  # a decomposed "Zoë" is one word, as composed
    found: dict[str, EntityMention] = {}
    spans = list(_SPAN.finditer(text))
    named = known_people
    if any("&" in match[0].split() for match in spans):  # only a pair needs them
        named = named | {_name_key(m[0].split()) for m in spans if "&" not in m[0].split()}
    for match, tokens, first_kept in _parts(spans, text, named, known_people):
        name = _bare(tokens)
        key = fold(name)
        if len(key) < 2 or _common(name, _COMMON) or _NO_NAME.fullmatch(name):
            continue
        if key in _ROLE_NOUNS and key not in known_people:
            continue
        if first_kept and key not in known_people and _opens_sentence_alone(text, match, tokens):
            continue
        start = text.find(tokens[0], match.start())
        if saint := _SAINT.search(text[max(0, start - 4) : start]):
            name, key, start = f"St. {name}", fold(f"St. {name}"), start - len(saint[0])
        elif (
            key in _DESCRIBING | _CALENDAR
            and key not in known_people
            and not _named_so(text, start, match)
        ):
            continue
        kind: EntityKind = (
            "person"
            if key in known_people
            else _kind(name, text[max(0, start - 40) : start], _after(text, match, tokens))
        )
        previous = found.get(key)
        if previous is None or previous.kind == "other":
            found[key] = EntityMention(name, kind)
    return list(found.values())


_NO_NAME = re.compile(
    r"(?:EUR|USD|GBP|CHF|JPY|CNY|CAD|AUD|NZD|SEK|NOK|DKK|PLN|CZK|HUF|BRL|MXN|INR|ZAR|SGD|HKD|"
    r"KRW|TRY|RUB)|(?:Q[1-4]|H[12]|FY\d{2}(?:\d{2})?)|[AP]\.?M\.?"
)
"""Capitalised words that name no entity: currency codes ("EUR 1,800"), period labels
("the Q2 review", "FY2026") and times of day ("5 PM", "9 A.M.")."""


_DESCRIBING = FAITHS | DEMONYMS
"""Faiths and nationalities: words that say what someone or something is ("I'm Christian",
"a Catholic church", "Italian food"), no named entity; a first name too ("Christian"), a
person only where the words say so (`_named_so`)."""


def _named_so(text: str, start: int, match: re.Match[str]) -> bool:
    """Whether a describing word (`_DESCRIBING`) at `start` is said as a person's name: after
    a person's cue ("my friend Christian", "I met Christian"), as a possessor or the subject
    of a verb ("Christian's car", "Christian lives in Berlin", "Christian is my friend")."""
    after = text[match.end() : match.end() + 30]
    return bool(
        match[0].endswith(("'s", "’s"))
        or _PERSON_CUES.search(text[max(0, start - 40) : start])
        or _PREDICATE.match(after)
    )


def _name_key(tokens: list[str]) -> str:
    """The folded name of a span's tokens, as `extract_entities` keys it."""
    return fold(_bare(_trim(tokens)[0]))


def _parts(
    spans: Iterable[re.Match[str]], text: str, named: set[str], people: set[str]
) -> Iterable[tuple[re.Match[str], list[str], bool]]:
    """Each span's name tokens (common and opening words trimmed), and whether its first
    token was kept. A span joining names by "&" gives each side when every side is `named`
    (a known person, or named on its own in the text) or one is a known person (a speaker
    and a name: "Ana & Tomás" is two people), none then a lone word opening a sentence
    (being named is what says they are names)."""
    for match in spans:
        tokens, first_kept = _trim(match[0].split())
        if first_kept and len(tokens) > 1 and _opener(tokens[0], text, match):
            tokens, first_kept = _trim(tokens[1:])[0], False
        sides: list[list[str]] = [[]]
        for token in tokens:
            if token == "&":
                sides.append([])
            else:
                sides[-1].append(token)
        keys = [_name_key(side) for side in sides if side]
        pair = len(keys) == len(sides) > 1
        if not pair or not (set(keys) <= named or set(keys) & people):
            yield match, tokens, first_kept
            continue
        for side in sides:
            yield match, side, False


def _mergeable(short: str, long: str, kinds: Iterable[str] = ()) -> bool:
    """True if one-token `short` is the first or last token of multi-token `long` (folded);
    the last only if one of `kinds` is a place ("Gaia" of "Vila Nova de Gaia", not "Porto"
    of "Porto Campanhã", a station in it); never a side of a name joined by "&" ("Procter &
    Gamble")."""
    tokens = long.split()
    if " " in short or len(tokens) < 2 or "&" in tokens:
        return False
    return short == tokens[-1] or ("place" not in kinds and short == tokens[0])


_LEADING_TITLE = re.compile(
    r"^(?:(?:" + "|".join(sorted({title.rstrip(".") for title in _PERSON_TITLES})) + r")\.?\s+)+",
    re.IGNORECASE,
)
"""The `_PERSON_TITLES` a name looked up starts with ("Dr. Lopez", "aunt Rosa")."""


def _untitled(name: str) -> str:
    """The folded `name` without a leading title: "Prof. Ana Costa" is "Ana Costa"."""
    key = fold(name)
    return _LEADING_TITLE.sub("", key) or key


def _lookup_keys(name: str) -> set[str]:
    """The folded names a lookup means: as given, and without a title or possessive, as
    extraction stores names ("Dr. Lopez" and "Maria's" look up "lopez" and "maria")."""
    bare = fold(_POSSESSIVE.sub("", name.strip()))
    return {fold(name), bare, _LEADING_TITLE.sub("", bare) or bare}


def _names(key: str, entity: Entity) -> bool:
    """Whether the folded name `key` names `entity`: its name or an alias, or for a place (or
    an entity of unknown kind) another name of that place ("nyc" for "New York City")."""
    names = {fold(entity.name), *map(fold, entity.aliases)}
    if key in names:
        return True
    place = _place_alias(key)
    return (
        place is not None
        and entity.kind in ("place", "other")
        and place in map(_place_alias, names)
    )


def named_entities(name: str, entities: Iterable[Entity]) -> list[Entity]:
    """The entities `name` stands for: those it names or is an alias of (case, accents, a
    title and a possessive aside), else those whose name it shortens as a first or last name
    ("Carla" for "Carla Mendes", never named alone yet; "Maria" for both "Maria Lopez" and
    "Maria Santos"). A place is named by its other names too ("NYC" for "New York City",
    `_PLACE_ALIASES`).

    Example:
        ```python
        named_entities("dr. lopez", entities)  # [Entity(name="Maria Lopez", ...)]
        ```
    """
    keys, pool = _lookup_keys(name), list(entities)
    exact = [e for e in pool if _untitled(e.name) in keys or any(_names(key, e) for key in keys)]
    if exact:
        return exact
    return [e for e in pool if any(_mergeable(key, fold(e.name)) for key in keys)]


def _canonical_order(entity: Entity) -> tuple[int, datetime]:
    return -len(fold(entity.name).split()), entity.created_at


def merge_aliases(entities: Sequence[Entity]) -> dict[str, str]:
    """Map every entity id to the id of the entity it is an alias of (itself if canonical).

    Merges only within one (tenant, user) and one kind: equal folded names (for places, the
    names of one place in `_PLACE_ALIASES`), and a one-token name equal to the first or last
    token of exactly one longer name. The canonical entity of a group is the one with the
    longest name, then the oldest.

    Args:
        entities: Entities of any users; groups never cross users.

    Returns:
        `{entity_id: canonical_entity_id}` for every entity given.
    """
    mapping = {entity.id: entity.id for entity in entities}
    groups: dict[tuple[str, str | None, str], list[Entity]] = {}
    for entity in entities:
        groups.setdefault((entity.tenant, entity.user_id, entity.kind), []).append(entity)
    for (_, _, kind), members in groups.items():
        by_name: dict[str, Entity] = {}
        for entity in sorted(members, key=_canonical_order):
            key = fold(entity.name)
            if kind == "place":  # "NYC" is "New York City"
                key = _place_alias(key) or key
            if key in by_name:
                mapping[entity.id] = by_name[key].id
            else:
                by_name[key] = entity
        if kind == "other":  # of two names of unknown kind, a shared word tells nothing
            continue
        for key, entity in by_name.items():
            targets = [other for name, other in by_name.items() if _mergeable(key, name, [kind])]
            if len(targets) == 1:
                for alias_id, canonical in mapping.items():
                    if canonical == entity.id:
                        mapping[alias_id] = targets[0].id
    return mapping


@dataclass(frozen=True, slots=True)
class EntityResolution:
    """What to store so that a batch of mentions points at entities."""

    ids: Mapping[str, str]
    """Folded mention name -> entity id."""
    new: tuple[Entity, ...] = ()
    """Entities to insert."""
    updated: tuple[Entity, ...] = ()
    """Known entities to rewrite (a new alias, a longer name, a more precise kind)."""


def _match(
    mention: EntityMention,
    known: Sequence[Entity],
    roles: Mapping[str, frozenset[str]],
    stated: frozenset[str],
) -> Entity | None:
    """The known entity `mention` safely refers to: one of its name (for a place, any name
    of it in `_PLACE_ALIASES`: "NYC" is "New York City") and kind, else the only one of its
    name (kinds are guesses from cue words: "from Google to Meta" does not make a place of
    the company), else the only one of its kind whose name it shortens or extends ("Tomás"
    and "Tomás Almeida") and whose roles for the user (`roles`, by id) do not differ from
    those the mention is `stated` in ("my sister Maria" is not "my boss Maria Keller"), or
    of two such, the only one in a role stated ("my boss Maria").
    A longer name extends a known person the user relates to only where it is said in one
    of those roles (`_takes_over`): a new full name never takes over the user's sister
    "Marta", known by her first name alone, unless the text links them ("my sister Marta
    Kowalski"); a shorter name still shortens the one person it fits ("Marta" for the
    one "Marta Kowalski" known)."""
    key = fold(mention.name)
    exact = [
        entity
        for entity in known
        if _names(key, entity)
        and (entity.kind == mention.kind or "other" in (entity.kind, mention.kind))
    ]
    if exact:
        return exact[0]
    named = [entity for entity in known if _names(key, entity)]
    if len(named) == 1:  # kinds are guesses from cue words: one "Google", not a place too
        return named[0]
    partial = [
        entity
        for entity in known
        if (entity.kind == mention.kind or "other" in (entity.kind, mention.kind))
        and _extends(key, fold(entity.name), (entity.kind, mention.kind))
        and _roles_agree(roles.get(entity.id, frozenset()), stated)
        and not _takes_over(key, entity, roles.get(entity.id, frozenset()), stated)
    ]
    if len(partial) > 1:  # "my boss Maria": of "Maria Lopez" and "Maria Keller", the boss
        partial = [entity for entity in partial if roles.get(entity.id, frozenset()) & stated]
    if len(partial) != 1 or partial[0].kind == mention.kind == "other":
        return None  # of two names of unknown kind, a shared word tells nothing
    return partial[0]


def _extends(one: str, other: str, kinds: tuple[str, str]) -> bool:
    """Whether one of two folded names shortens the other (`_mergeable`)."""
    return _mergeable(one, other, kinds) or _mergeable(other, one, kinds)


def _takes_over(key: str, entity: Entity, known: frozenset[str], stated: frozenset[str]) -> bool:
    """Whether the longer name `key` would take over a known person someone else by what
    was said: one the user relates to (`known`: "my sister Marta", introduced on her own),
    named in none of those roles where the longer name is said ("our neighbour Marta
    Kowalski" is not the sister; "my sister Marta Kowalski" is)."""
    longer = len(key.split()) > len(fold(entity.name).split())
    return longer and entity.kind == "person" and bool(known) and not known & stated


def _roles_agree(known: frozenset[str], stated: frozenset[str]) -> bool:
    """Whether an entity with the user's relations `known` may be one stated in `stated`:
    either unknown, or one in common."""
    return not known or not stated or bool(known & stated)


def _absorb(entity: Entity, mention: EntityMention, now: datetime) -> Entity:
    """`entity` after learning that `mention` names it (longer name wins, old one an alias)."""
    name, aliases = entity.name, list(entity.aliases)
    if len(fold(mention.name).split()) > len(fold(name).split()):
        aliases.append(name)
        name = mention.name
    elif fold(mention.name) != fold(name):
        aliases.append(mention.name)
    kind = mention.kind if entity.kind == "other" else entity.kind
    unique = tuple(dict.fromkeys(alias for alias in aliases if fold(alias) != fold(name)))
    if (name, kind, unique) == (entity.name, entity.kind, entity.aliases):
        return entity
    return replace(entity, name=name, kind=kind, aliases=unique, updated_at=now)


def resolve_entities(
    mentions: Iterable[EntityMention],
    known: Sequence[Entity],
    *,
    tenant: str = DEFAULT_TENANT,
    user_id: str | None = None,
    now: datetime | None = None,
    roles: Mapping[str, Iterable[str]] | None = None,
    stated_roles: Mapping[str, Iterable[str]] | None = None,
) -> EntityResolution:
    """Match mentions to a user's known entities, creating the missing ones.

    Args:
        mentions: The mentions to resolve (e.g. the entities of a batch of candidates).
        known: The user's stored entities.
        tenant: The tenant of new entities.
        user_id: The user of new entities.
        now: The time stamp of new and updated entities.
        roles: Known entity id -> the relations the user has to it (`has_sister`,
            `friend_of`); a name is not merged by its first or last name alone into an
            entity of other roles.
        stated_roles: Folded mention name -> the relations the mentions' batch states
            from the user to it.

    Returns:
        The id of each mention and the entities to insert or update.
    """
    moment = now or utcnow()
    pool = {entity.id: entity for entity in known}
    held = {entity_id: frozenset(names) for entity_id, names in (roles or {}).items()}
    stated = {key: frozenset(names) for key, names in (stated_roles or {}).items()}
    new_ids: set[str] = set()
    ids: dict[str, str] = {}
    for mention in mentions:
        key = fold(mention.name)
        if key in ids:
            continue
        its_roles = stated.get(key, frozenset())
        target = _match(mention, list(pool.values()), held, its_roles)
        if target is None:
            target = Entity(
                name=mention.name,
                kind=mention.kind,
                tenant=tenant,
                user_id=user_id,
                created_at=moment,
                updated_at=moment,
            )
            new_ids.add(target.id)
        held[target.id] = held.get(target.id, frozenset()) | its_roles
        pool[target.id] = _absorb(target, mention, moment)
        ids[key] = target.id
    originals = {entity.id: entity for entity in known}
    return EntityResolution(
        ids=ids,
        new=tuple(pool[entity_id] for entity_id in pool if entity_id in new_ids),
        updated=tuple(
            entity
            for entity_id, entity in pool.items()
            if entity_id in originals and entity is not originals[entity_id]
        ),
    )


def build_relations(
    mentions: Iterable[RelationMention],
    entity_ids: Mapping[str, str],
    *,
    user_entity_id: str,
    memory_id: str | None = None,
    tenant: str = DEFAULT_TENANT,
    user_id: str | None = None,
) -> list[Relation]:
    """Turn relation mentions into `Relation` records between resolved entities.

    Args:
        mentions: The relations of a candidate.
        entity_ids: Folded entity name -> id (`EntityResolution.ids`).
        user_entity_id: The entity standing for the user (subject None).
        memory_id: The memory that states them.
        tenant: The tenant.
        user_id: The user.

    Returns:
        One relation per mention whose entities are resolved; the others are skipped.
    """
    relations: list[Relation] = []
    for mention in mentions:
        source = (
            user_entity_id if mention.subject is None else entity_ids.get(fold(mention.subject))
        )
        target = entity_ids.get(fold(mention.object))
        if source is None or target is None:
            continue
        relations.append(
            Relation(
                source_id=source,
                relation=mention.relation,
                target_id=target,
                tenant=tenant,
                user_id=user_id,
                memory_id=memory_id,
                valid_from=mention.valid_from,
            )
        )
    return relations


def close_relations(
    relations: Iterable[Relation], memory_ids: Iterable[str], at: datetime
) -> list[Relation]:
    """End the relations stated by memories that stopped being true: the open ones, and
    those ending later (a memory fitted in time to end sooner): a relation holds no
    longer than the memory stating it.

    Args:
        relations: Stored relations.
        memory_ids: Memories that stopped being true (superseded, or ended sooner).
        at: When they stopped (the memory's `valid_to`).

    Returns:
        The relations to rewrite, with `valid_to` set.
    """
    ended = set(memory_ids)
    return [
        replace(relation, valid_to=at)
        for relation in relations
        if relation.memory_id in ended and (relation.valid_to is None or relation.valid_to > at)
    ]


def stretch_relations(
    pairs: Iterable[tuple[str, str]],
    stretches: Mapping[str, Memory],
    relations: Iterable[Relation],
    now: datetime,
) -> list[Relation]:
    """The relations of the later stretches revision or an import cut off memories (a
    value said again after another value said between: `timeline.cut`): each states what
    the memory it was cut off states, holding while the stretch does.

    Args:
        pairs: Each memory cut, by id, and the id of its later stretch, in the order cut
            (a stretch cut again takes the relations of the first).
        stretches: The later stretches, by id.
        relations: The stored relations (and those written with the cuts).
        now: The record time of the new relations.

    Returns:
        The new relations, one per relation of each memory cut.
    """
    known = list(relations)
    found: list[Relation] = []
    for cut_id, stretch_id in pairs:
        if (stretch := stretches.get(stretch_id)) is None:
            continue
        found += [
            replace(
                relation,
                id=new_id(),
                memory_id=stretch.id,
                valid_from=stretch.valid_from,
                valid_to=stretch.valid_to,
                created_at=now,
            )
            for relation in (*known, *found)
            if relation.memory_id == cut_id
        ]
    return found
