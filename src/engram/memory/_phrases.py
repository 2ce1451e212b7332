"""Phrase helpers of the first-person rules: clean-up of captured objects ("Lisbon" of
"Lisbon with my wife", third person, no time words), dates said in a fact, and the
candidate builders every rule shares (`fact`, `ending`, `denied`, `related_slot`, `rule`).

The rule modules import all they use from here: the sentence record (`_sentences`), the
regex blocks (`_patterns`), the partner words (`_partners`) and whether a match is the
speaker's own statement (`_assertion`) are re-exported with these helpers."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from engram.memory._assertion import (
    BOUNDARY,
    CLAUSE_END,
    asserted,
    clause_end,
    negated_before,
    stopped,
)
from engram.memory._partners import PARTNERS, partner_role, partner_stage
from engram.memory._patterns import (
    ADV,
    AND_MY_CONTACT,
    COUNTS,
    DEMONYMS,
    DIETS,
    EMAIL,
    FAITHS,
    HAVE,
    I_AM,
    JOB_CUE,
    JOBS,
    ME,
    NAME,
    NO_EMPLOYER,
    NOT,
    PHONE_NUMBER,
    PRONOUNS,
    REST,
    STAY,
    STIRRED,
    TITLE_DOT,
    TRIP,
    UP,
    WE,
)
from engram.memory._sentences import USER_LABEL, Sentence, with_subject
from engram.memory.candidates import (
    NO_VALUE,
    SLOT_RELATIONS,
    Candidate,
    EntityKind,
    EntityMention,
    RelationMention,
)
from engram.memory.queries import STOPWORDS
from engram.memory.temporal import TimeMention
from engram.types._memory import MemoryKind

__all__ = [
    "ADV",
    "AND_MY_CONTACT",
    "COUNTS",
    "DEMONYMS",
    "DIETS",
    "EMAIL",
    "FAITHS",
    "HAVE",
    "ME",
    "I_AM",
    "JOB_CUE",
    "JOBS",
    "NAME",
    "NO_EMPLOYER",
    "NOT",
    "PARTNERS",
    "PHONE_NUMBER",
    "PRONOUNS",
    "REST",
    "STAY",
    "STIRRED",
    "TRIP",
    "UP",
    "USER_LABEL",
    "WE",
    "Builder",
    "Rule",
    "Sentence",
    "clause_end",
    "clean",
    "date_phrase",
    "denied",
    "asserted",
    "ending",
    "fact",
    "held_until",
    "in_own_clause",
    "past_value",
    "listed",
    "lowercase_name",
    "lowercase_place",
    "negated_before",
    "partner_role",
    "partner_stage",
    "proper",
    "related_slot",
    "relate",
    "rule",
    "slug",
    "spans",
    "specific",
    "stopped",
    "third_person",
    "unpossessive",
    "with_article",
    "with_date",
    "with_subject",
]


Builder = Callable[[re.Match[str], Sentence], list[Candidate]]

_FILLER = frozenset(
    "a an the to of for in at on with and or but some it that this them you him her us".split()
)
_VAGUE_END = re.compile(
    r"\b(?:you|them|it|that|this|those|these|him|her|us|one|too|there|so|things?|stuff)$",
    re.IGNORECASE,
)
_TRAILING = re.compile(
    r"(?:\s+(?:now|anymore|any\s+more|again|too|as\s+well|these\s+days|right\s+now|though|"
    r"lately|tbh|honestly|actually|at\s+all|a\s+lot|so\s+much|very\s+much|and|or|but|with|"
    r"to|of|for|in|at|on|the|a|an|my))+$",
    re.IGNORECASE,
)
_PRONOUN_OBJECT = re.compile(
    r"^(?:it|that|this|them|those|these|you|your|him|her|to\s+(?:say|think|know|hear)|"
    r"when|how|what|where|why|the\s+way|the\s+idea|the\s+fact)\b",
    re.IGNORECASE,
)
_FIRST_PERSON = {
    "my": "their",
    "me": "them",
    "myself": "themselves",
    "mine": "theirs",
    "i": "they",
    "i'm": "they're",
    "i've": "they've",
    "i'd": "they'd",
    "i'll": "they'll",
}
_FIRST_PERSON_WORD = re.compile(r"\b(?:my|me|myself|mine|I'm|I've|I'd|I'll|I)\b", re.IGNORECASE)
_NAME_WORD = rf"[{UP}][\w'-]*(?:{TITLE_DOT}(?:[{UP}]\.?)*)?"
"""A capitalised word of a name, with the full stops of titles and initials ("D.C.")."""
_CAPITALISED = re.compile(
    rf"^(?:the\s+)?{_NAME_WORD}(?:\s+(?:of\s+|de\s+)?(?!I\b){_NAME_WORD})*"
)  # "Rome" of "When I lived in Rome I was vegan": the pronoun is no part of a name


def third_person(phrase: str) -> str:
    """`phrase` with first-person words swapped for third-person ones ("my" -> "their")."""

    def swap(match: re.Match[str]) -> str:
        return _FIRST_PERSON[match[0].lower()]

    return _FIRST_PERSON_WORD.sub(swap, phrase)


def _without(phrase: str, span: str) -> str:
    """`phrase` without the time expression `span`, as words ("Mar" of "Mar. 5" is not in
    "Marseille"). The object stops at the clause's punctuation: of "on 5 March, 2023" it
    holds "5 March" at most; the date is written out again (`date_phrase`)."""
    head = CLAUSE_END.split(span, maxsplit=1)[0].strip()
    if not head:
        return phrase
    return re.sub(rf"(?<!\w){re.escape(head)}(?!\w)", " ", phrase)


def _is_emoji(word: str) -> bool:
    """Whether `word` is only pictographs and their joiners ("🎉", "❤️", "👨‍👩‍👧")."""
    return all(unicodedata.category(char) in ("So", "Sk", "Mn", "Cf") for char in word)


def _without_emoji(phrase: str) -> str:
    """`phrase`, spaces collapsed, without the emoji that decorate its words ("senior engineer
    🎉" -> "senior engineer"); an emoji alone is what it says ("🍣" of "I love 🍣")."""
    words = phrase.split()
    kept = [word for word in words if not _is_emoji(word)]
    return " ".join(kept or words)


_HOW_MUCH = re.compile(r"^(?:full|part)[- ]?time$", re.IGNORECASE)
"""How much one works, no thing: "a full time" of "I've got two kids and a full time job"
(what the user has is the job; "The user has a full time" says nothing)."""


_WORD = re.compile(r"[^\W\d_][\w'-]*")
_CLAUSE_START = re.compile(r"[,;:.!?()]")


def _shouted(phrase: str, sentence: Sentence) -> bool:
    """Whether `phrase` is part of a clause written in capitals ("I GOT THE SCRIPPS POSTDOC",
    "omg I LOVE JAZZ"): no small letter in it, and the words of its clause up to it mostly
    in capitals, two at least (not "IBM" of "I work at IBM", nor "the IBM HQ")."""
    if any(char.islower() for char in phrase):
        return False
    at = sentence.text.find(phrase)
    if at < 0:
        return False
    head = sentence.text[: at + len(phrase)]
    starts = [found.end() for found in _CLAUSE_START.finditer(head, 0, at)]
    words = [w for w in _WORD.findall(head, starts[-1] if starts else 0) if w != "I"]
    loud = sum(1 for word in words if len(word) > 1 and word.isupper())
    return loud >= 2 and 2 * loud > len(words)


def _unshouted(phrase: str, sentence: Sentence) -> str:
    """`phrase` of a shouted clause in small letters, but for a word the turn writes
    elsewhere not all in capitals, written as there ("the Scripps postdoc" of "I GOT THE
    SCRIPPS POSTDOC. Scripps!"). A name in capitals alone is no name that can be told: the
    slot rules take theirs before this (`proper`: "I LIVE IN NEW YORK")."""
    seen = {word.casefold(): word for word in _WORD.findall(sentence.turn) if not word.isupper()}
    return _WORD.sub(lambda word: seen.get(word[0].casefold(), word[0].lower()), phrase)


_SPOKEN_VOWEL = frozenset("AEFHILMNORSX")
"""The capitals whose names open with a vowel sound: "an MBA", "an HR manager"; "a PhD"."""


def with_article(noun: str) -> str:
    """`noun` with the indefinite article its first sound takes ("a designer", "an
    iPhone 12"); an acronym by its first letter's name ("an MBA", "a PhD")."""
    if noun[:2].isupper():
        return ("an " if noun[0] in _SPOKEN_VOWEL else "a ") + noun
    return ("an " if noun[0].lower() in "aeiou" else "a ") + noun


def clean(raw: str | None, sentence: Sentence, *, max_words: int = 10) -> str | None:
    """A rule's captured object, cut at the clause's end, without time words, third person;
    said in capitals ("I GOT THE SCRIPPS POSTDOC"), in small letters (`_unshouted`)."""
    if not raw:
        return None
    phrase = BOUNDARY.sub("", raw.split("<", 1)[0].split(">", 1)[0])  # no "<3" nor tag
    if _shouted(phrase, sentence):
        phrase = _unshouted(phrase, sentence)
    for time in sentence.times:
        phrase = _without(phrase, time.span)
    phrase = _TRAILING.sub("", _without_emoji(phrase.replace('"', " "))).strip(" '-")
    words = phrase.lower().split()
    if not words or len(words) > max_words or _FILLER.issuperset(words):
        return None
    if _PRONOUN_OBJECT.match(phrase) or _HOW_MUCH.match(phrase):
        return None
    return third_person(phrase)


_JOINED = re.compile(r"\s+(?:and|&)\s+", re.IGNORECASE)
_JOINED_EITHER = re.compile(r"\s+(?:and|&|or)\s+", re.IGNORECASE)
_NEXT_ITEM = re.compile(r"\s*,\s*(?P<join>(?:and|&|or)\s+)?(?P<x>[^,.;!?()\n<>]+)", re.IGNORECASE)
_NOT_AN_ITEM = re.compile(
    r"^(?:but|so|then|which|who|that|because|since|though|although|especially|except|like|"
    r"including|mostly|mainly|even|not|i|i'm|im|i've|ive|we|we're|he|she|they|it|it's|its|"
    r"you|there|this|these|those|what|how|if|when|is|are|was|were)\b",
    re.IGNORECASE,
)
"""What opens a clause after a comma, no item of a list ("peanuts, so I never eat Thai")."""
_ONE_THING = frozenset(
    thing.strip()
    for thing in """
    mac and cheese, rock and roll, fish and chips, salt and pepper, bread and butter,
    peanut butter and jelly, pb and j, rhythm and blues, r and b, drum and bass, arts and crafts,
    black and white, sweet and sour, cookies and cream, surf and turf, rice and beans,
    dungeons and dragons, hide and seek, law and order, pride and prejudice, war and peace,
    tom and jerry, rick and morty, strawberries and cream, bacon and eggs, ham and cheese,
    chips and salsa, gin and tonic, rum and coke, cheese and crackers
    """.split(",")
)
"""Things whose name holds an "and" ("I love mac and cheese"): one thing, no list."""
_MAX_ITEM_WORDS = 2
"""The most words of an item of a list: a short noun phrase ("tree nuts"); a longer one is
no item ("the freedom and connection it brings" is one thing; with 3, LoCoMo recall@10 fell
from 0.7776 to 0.7766)."""


def _items(phrase: str, joins: re.Pattern[str], s: Sentence) -> list[str] | None:
    """The items `phrase` joins by "and" ("peanuts and shellfish"), cleaned; None when one
    is no short noun phrase ("spending time with my kids and my wife" is one liking)."""
    if phrase.lower() in _ONE_THING:
        return [phrase]
    items = [clean(part, s, max_words=_MAX_ITEM_WORDS) for part in joins.split(phrase)]
    if any(item is None or item.lower().startswith("to ") for item in items):
        return None
    kept = [item for item in items if item is not None]
    first, last = kept[0].split(), kept[-1].split()
    if len(first) == 1 and len(last) > 1 and not first[0].lower().endswith("s"):
        return None  # "action and sci-fi movies": action movies, the head said once
    return kept


def listed(match: re.Match[str], s: Sentence, *, max_words: int, either: bool = False) -> list[str]:
    """The things a rule's captured object `x` names, one per item of a list: "peanuts" and
    "shellfish" of "allergic to peanuts and shellfish", of "to peanuts, shellfish and eggs"
    (three) and of "to peanuts too actually, and shellfish". Items are short noun phrases
    joined by "and" or commas ending on an "and" item; `either` joins by "or" too, as a
    negation does ("I don't like olives or anchovies": neither). A thing whose name holds
    an "and" ("mac and cheese", `_ONE_THING`) is one. Without a list, `clean(x)` alone
    (nothing when that is nothing)."""
    whole = clean(match["x"], s, max_words=max_words)
    if not whole:
        return []
    joins = _JOINED_EITHER if either else _JOINED
    found = _items(whole, joins, s) or [whole]
    pending: list[str] = []
    position = match.end("x")
    while (more := _NEXT_ITEM.match(s.text, position)) is not None:
        if _NOT_AN_ITEM.match(more["x"].strip()) or (
            more["join"] and not joins.match(" " + more["join"])
        ):
            break
        items = _items(more["x"].strip(), joins, s)
        if not items:
            break
        pending.extend(items)
        if more["join"] or len(items) > 1:  # the list's last item: "..., and shellfish"
            found.extend(pending)
            break
        position = more.end()
    return list(dict.fromkeys(found))


def specific(phrase: str | None) -> str | None:
    """`phrase` unless it ends vaguely ("see them", "do that"): such goals and events say
    nothing on their own."""
    return None if phrase is None or _VAGUE_END.search(phrase) else phrase


def proper(raw: str | None) -> str | None:
    """The capitalised name opening `raw` ("Lisbon" of "Lisbon with my wife"), if any."""
    match = _CAPITALISED.match(raw.strip()) if raw else None
    return match[0] if match else None


_POSSESSIVE = re.compile(r"(?:'s|(?<=s)')$", re.IGNORECASE)


def unpossessive(name: str) -> str:
    """The person `name` names, without the possessive it was said with: "Dave" of "my
    neighbor Dave's" (his place), "Tom" of "my brother Tom's car", "Chris" of "Chris'"."""
    return _POSSESSIVE.sub("", name) or name


_DETERMINERS = frozenset("a an the my our his her their this that these those some another".split())
_PLACE_WORDS = frozenset(
    """town city country countryside village suburbs suburb downtown uptown area region place
    house home apartment flat studio room dorm campus abroad overseas here there together
    tears work school college university office hospital bed""".split()
)
_AFTER_PLACE = frozenset(
    """with since for near because and but now again too so in on at by next this last soon
    later after before around rn atm tbh btw lol lmao haha omg i im i'm ive i've""".split()
)
"""Words after a place, no part of its name ("denver in june", a month the chat left in lower
case; "austin rn im still unpacking", the next clause unpunctuated)."""
_NOT_PLACES = frozenset(
    """sales marketing engineering management finance accounting design support operations
    research product legal hr it remote part-time full-time night nights day days morning
    mornings evening evenings weekend weekends python java""".split()
)
"""Words one moves "to" or works "at" that are no places and no employers ("i moved to
sales", "I moved to part-time", "i work at night")."""
_LOWER_WORD = re.compile(r"^[a-z][a-z'-]+$")
_CAPITALISED_WORD = re.compile(r"[\w'’-]*[A-ZÀ-ÖØ-Þ][\w'’-]*")
_PRONOUN_I = re.compile(r"I(?:['’](?:m|ve|d|ll))?")


def _writes_names_in_lowercase(sentence: Sentence, after_move: bool) -> bool:
    """Whether the sentence has no capital a name would have: none at all, or, after a move
    verb ("I moved to lisbon"), none but the pronoun "I" and the sentence's first letter."""
    text = sentence.text
    if not after_move:
        return not any(char.isupper() for char in text)
    opening = len(text) - len(text.lstrip())
    return all(
        _PRONOUN_I.fullmatch(word[0]) or word.start() == opening
        for word in _CAPITALISED_WORD.finditer(text)
    )


def lowercase_place(
    phrase: str | None, sentence: Sentence, *, after_move: bool = False
) -> str | None:
    """A place named in lower case by someone who writes names in lower case ("i moved to
    munich" -> "Munich", "i live in new york city with my wife" -> "New York City"): up to
    three plain words, the first no determiner or common place word ("i moved to a new
    flat", "the suburbs", "downtown" name none). Never in a sentence with capitals, where a
    name would be capitalised; but the object of a move verb (`after_move`) may follow a
    capital "I" ("I moved to lisbon": many write the pronoun, and nothing else, upper case),
    and then its first word is no common noun one moves to ("I moved to sales")."""
    if not phrase or not _writes_names_in_lowercase(sentence, after_move):
        return None
    if after_move and phrase.split()[0] in _NOT_PLACES:
        return None
    words: list[str] = []
    for word in _without_emoji(phrase).split():
        if word in _AFTER_PLACE:
            break
        words.append(word)
    if not 0 < len(words) <= 3 or not all(_LOWER_WORD.match(word) for word in words):
        return None
    if words[0] in _DETERMINERS or words[0] in _PLACE_WORDS:
        return None
    return " ".join(word.capitalize() for word in words)


_ADVERB = re.compile(ADV)
_NOT_LOWER_NAMES = frozenset(
    """never ever even already often sometimes someday later though tho however anyway
    anyways kinda sorta prob def who whose left went came said told made took gave got ran
    saw group circle date request list zone life guilt brain jeans joke jokes bod vibes energy
    fight material city car phone birthday wedding party job family""".split()
)
"""Words after "my sister" or "my bf" that are no name and no function word (`STOPWORDS`),
adverb (`ADV`), chat filler (`_AFTER_PLACE`) or place word: adverbs that end in no "-ly"
("my mom never has", "my dad, however, is"), past verbs of no "-ed" ("my sister left and i
cried"), the nouns a kin word qualifies ("my friend group is", "my mom guilt is"), and
what kin own, said without the "'s" ("my bf car is broken")."""
_NAME_IN_LOWER = re.compile(r"[a-z][a-z-]*[a-z]")
_NOT_NAME_FORM = re.compile(r"[a-z]{3}ing$|[a-z]{3}ed$|[a-z]{4,}ly$|(?<!l|i)ly$")
"""Forms of verbs and adverbs, no names: "-ing", "-ed" ("texted"; not "Ted", "Fred"), "-ly"
("probably", "sadly"; not the short "-lly" and "-ily" names, "Kelly", "Emily")."""
_COMMON_WORDS = STOPWORDS | _FILLER | _AFTER_PLACE | _DETERMINERS | _PLACE_WORDS | _NOT_LOWER_NAMES
"""The words `lowercase_name` reads as no name, whatever their place."""


def lowercase_name(word: str, sentence: Sentence) -> str | None:
    """A person's name written in lower case, where a rule expects one ("my sister maria
    just got married" -> "Maria"), by someone who writes names in lower case: as for
    `lowercase_place` after a move, the sentence has no capital but the pronoun "I" and its
    first letter. No common word is a name ("my sister just", "my bf really", "my friend
    group"): no function word, adverb, chat filler or verb or adverb form (`_NOT_NAME_FORM`)."""
    if not _NAME_IN_LOWER.fullmatch(word):
        return None
    if not _writes_names_in_lowercase(sentence, after_move=True):
        return None
    if word in _COMMON_WORDS or _ADVERB.fullmatch(" " + word) or _NOT_NAME_FORM.search(word):
        return None
    return "-".join(part.capitalize() for part in word.split("-"))


_AMERICAN = {
    "favourite": "favorite",
    "favourites": "favorites",
    "colour": "color",
    "colours": "colors",
    "flavour": "flavor",
    "flavours": "flavors",
    "humour": "humor",
    "honour": "honor",
    "neighbour": "neighbor",
    "neighbourhood": "neighborhood",
    "behaviour": "behavior",
    "harbour": "harbor",
    "theatre": "theater",
    "centre": "center",
    "metre": "meter",
    "programme": "program",
    "catalogue": "catalog",
    "jewellery": "jewelry",
    "pyjamas": "pajamas",
    "tyre": "tire",
    "grey": "gray",
    "aeroplane": "airplane",
    "yoghurt": "yogurt",
    "doughnut": "donut",
    "mum": "mom",
}
"""British spellings and their American twins: one slot, however its key is spelt ("my
favourite colour" and "my favorite color" are one `favorite_color`)."""


def slug(phrase: str) -> str:
    """A slot key for `phrase`: its first four words, lower case, without punctuation, spelt
    the American way (`_AMERICAN`).

    Symbols stay when they are all there is: an emoji is the thing liked in "I love 🍣"
    ("preference:🍣"), not nothing; beside words it only decorates them ("cooking 🍳" is
    "cooking", the slot of "I love cooking").
    """
    kept = "".join(c for c in phrase.lower() if c == "-" or unicodedata.category(c)[0] != "P")
    words = kept.split()
    words = [word for word in words if any(c.isalnum() for c in word)] or words
    while words and words[0] in ("a", "an", "the", "some", "my", "their"):
        words = words[1:]
    return "_".join(_AMERICAN.get(word, word) for word in words[:4])


def date_phrase(time: TimeMention) -> str:
    """How a fact says when: "on 5 March 2023", "in March 2023", "in 2023"; a period said
    from one time to another ("from March 2020 to May 2021") by its first and last parts."""
    start, last = time.start, time.end - timedelta(days=1)
    if time.granularity == "day" and last.date() > start.date():
        return f"from {start.day} {start:%B %Y} to {last.day} {last:%B %Y}"
    if time.granularity == "month" and (last.year, last.month) != (start.year, start.month):
        return f"from {start:%B %Y} to {last:%B %Y}"
    if time.granularity == "day":
        return f"on {start.day} {start:%B %Y}"
    if time.granularity in ("week", "weekend"):
        return f"in the {time.granularity} of {start.day} {start:%B %Y}"
    if time.granularity == "month":
        return f"in {start:%B %Y}"
    if time.granularity == "season":
        season = {3: "spring", 6: "summer", 9: "autumn", 12: "winter"}[start.month]
        return f"in {season} {start.year}"
    if time.end.year - start.year > 1:  # a span of years, "from 2019 to 2021"
        return f"from {start.year} to {time.end.year - 1}"
    return f"in {start.year}"


_CLAUSE_BREAK = re.compile(r"\s*[,;:]\s+|\s+[-–—]\s+")
"""Where a clause joined by punctuation alone ends ("work at Stripe is intense, big launch in
December")."""


def in_own_clause(sentence: Sentence, start: int) -> Sentence:
    """`sentence` with only the times of the clause that opens or holds `start`, of the
    clauses a comma (or a semicolon, colon, dash) joins: "big launch in December" of "work
    at Stripe is intense rn, big launch in December" dates the launch, not the job. A clause
    with no time of its own takes those of the clauses before it ("Starting Monday, I work
    at Initech"), else a time said just after its comma ("I joined Stripe, last month");
    never one said further on in another clause. Itself when no time is dropped."""
    if not sentence.times:
        return sentence
    breaks = [(cut.start(), cut.end()) for cut in _CLAUSE_BREAK.finditer(sentence.text)]
    begin = max((end for cut, end in breaks if end <= start), default=0)
    stop = min((cut for cut, _ in breaks if cut >= start), default=len(sentence.text))
    following = next((end for cut, end in breaks if cut == stop), None)
    lowered = sentence.text.casefold()
    where = [(time, lowered.find(time.span.casefold())) for time in sentence.times]
    own = [time for time, at in where if begin <= at < stop]
    own = own or [time for time, at in where if 0 <= at < begin]
    own = own or [time for time, at in where if at == following]
    own += [time for time, at in where if at < 0]
    if len(own) == len(sentence.times):
        return sentence
    return replace(sentence, times=tuple(time for time in sentence.times if time in own))


def with_date(text: str, sentence: Sentence) -> str:
    """`text` followed by the date of the sentence's first time (`date_phrase`), if it has one."""
    return f"{text} {date_phrase(sentence.times[0])}" if sentence.times else text


_UNTIL = re.compile(r"^(?:until|till|up\s+to)\b", re.IGNORECASE)
_SPAN = re.compile(r"^(?:from|between)\b|\d\s*[-–]\s*\d", re.IGNORECASE)
_WHOLE_PERIOD = timedelta(days=28)
"""How long a time said alone must be to be a period a state held over ("last year", "in
2020", "in March 2025"): a month or more, not the day of "two years ago"."""


def spans(time: TimeMention) -> bool:
    """Whether `time` is said from one time to another ("from March 2020 to May 2021",
    "between 2015 and 2018", "2019-2021")."""
    return bool(_SPAN.search(time.span))


def held_until(candidate: Candidate, sentence: Sentence) -> Candidate | None:
    """`candidate`, a state of the past, ending when the sentence's first time says it did
    (`metadata["valid_to"]`, which revision makes its `valid_to`). A time named as the end
    of a period includes it, whatever word names it: "from 2010 to 2018", "between 2015
    and 2018", "2010-2018" and "until 2018" all hold through 2018 (until 2019 begins), "to
    May 2021" and "until May 2021" through May. A period said from one time to another
    holds from its start; a state said "until" a time holds from an unknown start; a state
    said of a period over by when it was said ("Last year I lived in Dublin", "In 2020 I
    worked at IBM") holds over it, and ends with it. None when the sentence says no end
    ("This year I worked at IBM" may go on; "Two years ago I lived in Dublin" names a day,
    no period)."""
    when = sentence.times[0] if sentence.times else None
    if when is None:
        return None
    if _until(when, sentence):
        metadata = {**candidate.metadata, "valid_to": when.end.isoformat()}
        relations = tuple(relation._replace(valid_from=None) for relation in candidate.relations)
        return replace(candidate, valid_from=None, relations=relations, metadata=metadata)
    if spans(when) or (when.end - when.start >= _WHOLE_PERIOD and _by(when.end, sentence)):
        return replace(candidate, metadata={**candidate.metadata, "valid_to": when.end.isoformat()})
    return None


def _until(when: TimeMention, sentence: Sentence) -> bool:
    """Whether `when` is said as the end of what held, "until 2019" (in its span, or just
    before it: "until March 2021" grounds "March 2021")."""
    if _UNTIL.match(when.span):
        return True
    before = re.compile(r"\b(?:until|till|up\s+to)\s+" + re.escape(when.span), re.IGNORECASE)
    return before.search(sentence.text) is not None


def _by(end: datetime, sentence: Sentence) -> bool:
    """Whether `end` came by when `sentence` was said (either naive time read in the other's
    zone)."""
    said = sentence.said_at
    if end.tzinfo is None and said.tzinfo is not None:
        end = end.replace(tzinfo=said.tzinfo)
    elif said.tzinfo is None and end.tzinfo is not None:
        said = said.replace(tzinfo=end.tzinfo)
    return end <= said


def past_value(candidate: Candidate, sentence: Sentence, attribute: str, value: str) -> Candidate:
    """`candidate`, a state of the past that `held_until` ended, filed as a past value of
    the slot `attribute` (`value`) if it ended by when the sentence was said: revision
    files such a value as the slot's history, retiring no current value
    (`_revision_slots.past_value`), so "as of" its span it is the slot's value. An end still to
    come ("I'll live in Porto until 2030") is no past: it stays a plain fact."""
    stated = candidate.metadata.get("valid_to")
    if not isinstance(stated, str) or not _by(datetime.fromisoformat(stated), sentence):
        return candidate
    return replace(candidate, attribute=attribute, value=value)


def _start(sentence: Sentence, dated: bool) -> datetime:
    return sentence.times[0].start if dated and sentence.times else sentence.said_at


def _when_metadata(sentence: Sentence, dated: bool) -> dict[str, Any]:
    """When a fact was said (`said_at`) and, when its sentence's time dates it, that time's
    precision (`event_granularity`: "last year" a year, "on Monday" a day): what a recalled
    line reads to date it apart from when it was said, at the precision known ("[2025] ...").

    The date itself is the fact's start (`valid_from`), not recorded again as `event_date`:
    search favours a memory stating a time for a "when" question (`ranking.memory_features`),
    and favouring dated facts over the turns that say them cost LoCoMo turn recall@10 (0.777
    -> 0.773)."""
    data: dict[str, Any] = {"said_at": sentence.said_at.isoformat()}
    if dated and sentence.times:
        data["event_granularity"] = sentence.times[0].granularity
    return data


def fact(
    sentence: Sentence,
    text: str,
    *,
    kind: MemoryKind = "fact",
    attribute: str | None = None,
    value: str | None = None,
    importance: float = 0.7,
    confidence: float = 0.7,
    entities: tuple[EntityMention, ...] = (),
    relations: tuple[RelationMention, ...] = (),
    metadata: dict[str, Any] | None = None,
    dated: bool = True,
) -> Candidate:
    """A fact of `sentence`, true from the sentence's first time mention, else from when it
    was said; `dated=False` for a state named in passing ("my partner Tomás"), whose start
    the sentence's time ("a trip in May") does not give. Its metadata records when it was
    said and the date and precision of the time that dates it (`_when_metadata`)."""
    when = _start(sentence, dated)
    return Candidate(
        text=text[0].upper() + text[1:],
        kind=kind,
        attribute=attribute,
        value=value,
        importance=importance,
        source_ids=(sentence.source_id,),
        entities=entities,
        relations=relations,
        valid_from=when,
        confidence=confidence,
        subject=sentence.subject,
        metadata={"extractor": "rules", **_when_metadata(sentence, dated), **(metadata or {})},
    )


def ending(
    sentence: Sentence,
    text: str,
    attribute: str,
    negated: str | None,
    *,
    entity: EntityKind | None = None,
    guessed: bool = False,
    importance: float = 0.8,
) -> Candidate:
    """A slot value that stopped being true, with no new value (`NO_VALUE`).

    `negated` names the value that ended ("Paris"; None: whatever the slot holds, "I quit my
    job"). Revision retires only a current value it names, so an ending is safe to build
    wherever the words allow it. `guessed`: the words leave the slot open ("I left Google"
    ends a job or a home): revision may apply it to another slot holding `negated`.
    """
    metadata: dict[str, Any] = {}
    if negated:
        metadata["negates"] = negated
    if guessed:
        metadata["guessed"] = True
    entities = (EntityMention(negated, entity),) if negated and entity else ()
    return fact(
        sentence,
        text,
        kind="profile",
        attribute=attribute,
        value=NO_VALUE,
        importance=importance,
        entities=entities,
        metadata=metadata,
    )


_ENTITY_OF: dict[str, EntityKind] = {
    "home_city": "place",
    "employer": "organisation",
    "school": "organisation",
}
_ACCUSTOMED = re.compile(r"I(?:'m|\s+am)\b", re.IGNORECASE)


def denied(
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
        past = _past_period(s, text, attribute, value)
        if past is not None:
            return [past]
    elif stopped(match, s):
        text = f"{s.label} no longer {third} {value}"
    else:
        text = f"{s.label} doesn't {base} {value}"
    return [ending(s, text, attribute, value, entity=_ENTITY_OF.get(attribute))]


def _past_period(s: Sentence, text: str, attribute: str, value: str) -> Candidate | None:
    """What the user "used to" hold over a period said, "I used to live in Paris from 2015
    to 2019": the slot's history over it (`held_until`, `past_value`), with its relation
    ending with it, as "I lived in Paris from 2015 to 2019" says it; None when no period
    ended by when it was said (an ending then: "I used to live in Paris")."""
    if attribute not in SLOT_RELATIONS:
        return None
    relation, kind = SLOT_RELATIONS[attribute]
    entities, relations = relate(s, relation, value, kind)
    held = held_until(fact(s, text, importance=0.5, entities=entities, relations=relations), s)
    filed = past_value(held, s, attribute, value) if held is not None else None
    return filed if filed is not None and filed.attribute else None


def relate(
    sentence: Sentence, relation: str, name: str, kind: EntityKind, *, dated: bool = True
) -> tuple[tuple[EntityMention, ...], tuple[RelationMention, ...]]:
    """The entity and the relation to it a sentence states (`dated` as for `fact`)."""
    when = _start(sentence, dated)
    mention = RelationMention(sentence.subject, relation, name, kind, when)
    return (EntityMention(name, kind),), (mention,)


def related_slot(
    s: Sentence, attribute: str, value: str, text: str, importance: float
) -> Candidate:
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


class Rule(NamedTuple):
    pattern: re.Pattern[str]
    build: Builder
    gate: tuple[str, ...]
    """The rule runs only on sentences containing one of these (lower case); () = always."""


def rule(pattern: str, builder: Builder, gate: tuple[str, ...] = ()) -> Rule:
    return Rule(re.compile(pattern), builder, gate)
