"""Phrase helpers of the first-person rules: the sentence record, regex blocks, clean-up of
captured objects, and the candidate builder shared by every rule."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from engram.memory.candidates import (
    NO_VALUE,
    SLOT_RELATIONS,
    Candidate,
    EntityKind,
    EntityMention,
    RelationMention,
)
from engram.memory.temporal import TimeMention
from engram.types._memory import MemoryKind

__all__ = [
    "ADV",
    "COUNTS",
    "DIETS",
    "HAVE",
    "ME",
    "I_AM",
    "JOB_CUE",
    "NAME",
    "NO_EMPLOYER",
    "NOT",
    "PARTNERS",
    "REST",
    "STIRRED",
    "TRIP",
    "UP",
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
    "lowercase_place",
    "negated_before",
    "partner_role",
    "partner_stage",
    "proper",
    "related_slot",
    "relate",
    "rule",
    "slug",
    "specific",
    "stopped",
    "third_person",
    "with_date",
    "with_subject",
]


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence of a message, with who said it and its grounded times."""

    text: str
    label: str
    """How facts name the speaker: `Ana` or `The user`."""
    subject: str | None
    """The speaker's key in slot identity (None: the user)."""
    said_at: datetime
    source_id: str
    times: tuple[TimeMention, ...]
    before: tuple[Candidate, ...] | None = None
    """The slot values the speaker's previous turn of the session stated (what "Oops, I meant
    Braga" corrects); None when that turn is not known (the first turn of a batch)."""

    @property
    def label_within(self) -> str:
        """`label` inside a sentence: `Ana`, or `the user` (not `The user`)."""
        return "the user" if self.label == "The user" else self.label


Builder = Callable[[re.Match[str], Sentence], list[Candidate]]

# Regex blocks of the rules. Patterns are case-sensitive so that NAME only takes capitalised
# names; the first-person and verb parts are wrapped in (?i:...) instead.
UP = "A-ZÀ-ÖØ-Þ"
"""Upper-case letters (ASCII and Latin-1) that open a name."""
ME = r"\b(?i:I)"
WE = r"\b(?i:I|we)"
"""The user as the subject of a change they share ("We moved to Berlin", "We live in Rome"):
"we" includes the speaker, as "My wife and I moved" does. Only where the statement is as
true of the speaker as of the group (a home, a move); not for events or tastes."""
I_AM = r"\b(?i:I'm|I\s+am|Im)"
HAVE = r"(?i:'ve|ve|\s+have)"
""""have" after the subject: "I've", "I have", or typed without the apostrophe ("ive")."""
ADV = (
    r"(?i:(?:\s+(?:really|actually|currently|now|still|also|just|recently|finally|totally|"
    r"absolutely|definitely|honestly|kind\s+of|kinda|sort\s+of|so|very|truly|seriously|"
    r"severely|extremely|highly|deathly|mildly|slightly|super|quite|"
    r"always|usually|mostly|officially|pretty\s+much))*)"
)
DIETS = (
    r"vegetarian|vegan|pescatarian|pescetarian|flexitarian|keto|paleo|gluten[- ]free|"
    r"kosher|halal|carnivore"
)
"""The diets the `diet` slot knows (an intolerance is none: "I'm lactose intolerant" is the
`intolerance:lactose` slot, and a vegan may say it)."""
JOB_CUE = re.compile(
    r"\b(?:jobs?|work(?:ed|ing)?|company|companies|employers?|firm|team|position|role|career|"
    r"boss|colleagues|hired|startup|office|salary)\b",
    re.IGNORECASE,
)
"""Words that say a sentence is about work ("I switched from Google to Meta for the salary")."""
NO_EMPLOYER = re.compile(
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
COUNTS = dict(zip("two three four five six seven eight".split(), "2345678", strict=True))
"""Small numbers said in words, as digits ("two kids": 2)."""
PARTNERS = r"partner|wife|husband|girlfriend|boyfriend|gf|bf|fianc[ée]e?|spouse"
"""The words for the person of the `partner` slot ("gf" and "bf" as chat writes them)."""
_ABBREVIATED = {"gf": "girlfriend", "bf": "boyfriend"}
_PARTNER_STAGES = {
    "girlfriend": 1,
    "boyfriend": 1,
    "fiance": 2,
    "fiancee": 2,
    "fiancé": 2,
    "fiancée": 2,
    "wife": 3,
    "husband": 3,
    "spouse": 3,
}
"""How committed a partner role says the couple is (any other, "partner", says nothing)."""


def partner_role(word: str) -> str:
    """The role a partner word names ("Girlfriend" -> "girlfriend", "gf" -> "girlfriend")."""
    role = " ".join(word.lower().split())
    return _ABBREVIATED.get(role, role)


def partner_stage(role: str | None) -> int:
    """How far on a partner `role` is: 1 dating, 2 engaged, 3 married; 0 unknown
    ("partner"). A later role further on ("my girlfriend Ana", then "Ana and I got married")
    is news of the same partner: the old role is over."""
    return _PARTNER_STAGES.get(partner_role(role or ""), 0)


NOT = r"(?P<neg>\s+(?i:don't|dont|do\s+not|no\s+longer|never|not|used\s+to))?"
"""An optional negation after the subject ("I don't live", "I'm no longer working", "I used
to work"): a slot rule with it builds an `ending` when it is there, a value when not."""
_TITLE_DOT = r"(?:(?<=\b(?:St|Dr|Mr|Ms|Mt|Jr|Sr))|(?<=\bMrs)|(?<=\b[A-Z]))\."
"""The full stop of a title or initial ("St.", "Dr.", "J."), part of a name."""
REST = rf"(?P<x>(?:[^,.;!?()\n]|{_TITLE_DOT}(?=\s*[{UP}](?:[a-z]|\.|$))|\.(?=\w))+)"
"""A rule's object: the rest of the clause ("St. Mary's Hospital" whole, and a full stop
inside a word: "ana@example.com", "Node.js")."""
NAME = rf"(?P<x>[{UP}][\w'-]+(?:\s+[{UP}][\w'-]+)?)"
STIRRED = r"(?i:to\s+(?:tears|laughter))\b"
"""What one is "moved to" who is moved, not moving ("Moved to tears by the ending"): no
move, no event."""
_BOUNDARY = re.compile(
    r"(?:\s+(?:and\s+(?:I|it|that|we|they|he|she|then|(?:now\s+|currently\s+)?(?:live|reside)\b)|but|because|since|so|which|who|whom|"
    r"where|when|while|though|although|if|until|unless|whereas|cause|cuz|lol|haha)\b|"
    r"\s+[-–—]+\s+|\s*:).*$",
    re.IGNORECASE,
)
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
_NAME_WORD = rf"[{UP}][\w'-]*(?:{_TITLE_DOT}(?:[{UP}]\.?)*)?"
"""A capitalised word of a name, with the full stops of titles and initials ("D.C.")."""
_CAPITALISED = re.compile(
    rf"^(?:the\s+)?{_NAME_WORD}(?:\s+(?:of\s+|de\s+)?(?!I\b){_NAME_WORD})*"
)  # "Rome" of "When I lived in Rome I was vegan": the pronoun is no part of a name


_ANYMORE = re.compile(r"\bany\s?more\b|\bno\s+more\b", re.IGNORECASE)
_CLAUSE_END = re.compile(r"[,.;:!?()\n]")
_CLAUSE_START = re.compile(
    r".*(?:[,;:()]|\b(?:but|and|so|because|though|although|while|whereas|since|if|or)\b)",
    re.IGNORECASE | re.DOTALL,
)
_NEGATIVE = re.compile(
    r"\b(?:not|never|no\s+longer|dont|cant|wont|didnt|doesnt|isnt)\b|n't\b", re.IGNORECASE
)


def negated_before(sentence: Sentence, start: int) -> bool:
    """Whether the clause of `sentence` before `start` negates what follows ("I don't think
    I live in Paris", "I can't say I work at Google anymore"): a slot value said there is
    not the user's."""
    before = _CLAUSE_START.sub("", sentence.text[:start])
    return bool(_NEGATIVE.search(before))


_INVERTED = re.compile(
    r"\b(?:do|does|did|don't|didn't|should|shall|would|could|can|will|must|might|may|am|was|"
    r"were|have|has|had)\s+$",
    re.IGNORECASE,
)
_UNREAL = re.compile(
    r"\b(?:if|unless|whether|maybe|perhaps|possibly|imagine|imagining|suppose|supposing|"
    r"pretend|pretending|wish|wished|"
    r"wishing|dream(?:ed|t)?\s+(?:that|of)|in\s+case|as\s+if|as\s+though|told\s+(?:me|us)|"
    r"tells\s+(?:me|us)|(?<!\bI\s)(?:said|says|claims|claimed|thinks|insists|insisted)(?:\s+that)?)"
    r"\b",
    re.IGNORECASE,
)
_TOLD_YOU = re.compile(
    r"\b(?:(?:did|have)\s+I\s+(?:ever\s+|already\s+)?(?:tell|told|mention|mentioned)\s+"
    r"(?:you\s+)?|(?:did|do)\s+you\s+know\s+|(?:would|can|could)\s+you\s+believe\s+)"
    r"(?:that\s+)?$",
    re.IGNORECASE,
)
"""News told as a question: "Did I tell you I moved to Berlin?", "Would you believe I got a
job at Apple?" state the move and the job."""
_FRAME = re.compile(
    r"\b(?:hypothetically|assuming|let's\s+(?:say|assume|pretend|suppose)|"
    r"let\s+us\s+(?:say|assume|suppose)|for\s+(?:this|the|an)\s+example|"
    r"for\s+the\s+sake\s+of\s+(?:argument|example|the\s+example)|"
    r"in\s+(?:this|that|the|a)\s+(?:example|scenario|hypothetical)|"
    r"in\s+(?:my|our|the)\s+(?:novel|story|game|dream|dreams|script|screenplay|play|fiction|"
    r"fanfic|role-?play|campaign|head)(?=\s*[,:]|\s+(?:I|we)\b)|"
    r"(?:^|[,;:]\s*)(?:(?:so|ok|okay|well|now)\s+)?(?:say|assume)(?=(?:\s+that)?,?\s+(?:I|we)\b))"
    r"\b",
    re.IGNORECASE,
)
"""A frame that makes the whole sentence a supposition or a fiction, however far before the
statement and past its commas ("Hypothetically, I live in Rome", "Let's say I work at Meta",
"Assume I live in Rome and earn 50k, ...", "In my novel, I live in Rome")."""
_REPORTED = re.compile(
    r"(?:(?<!\bI\s)\b(?:said|says|asked|asks|wrote|writes|texted|texts|replied|replies|"
    r"messaged|goes|told)(?:\s+(?:me|us|him|her|them))?|(?<!\bI\s)\b(?:was|is|were|are)\s+"
    r"like)\s*[,:]\s*"
    r"[\"'“‘]?\s*$",
    re.IGNORECASE,
)
"""Someone else's words, introduced by a comma or a colon ("My sister said, I moved to
Paris", "He texted me: I live in Porto", "She was like, I quit"): theirs, not the user's."""
_QUOTES = re.compile(r"[\"“”]")
_CLAUSE_PUNCTUATION = re.compile(r".*[,;:()]", re.DOTALL)
_HEDGED = re.compile(
    r"\b(?:not\s+(?:sure|certain)|unsure|no\s+idea)\s*(?:[.!?,;)]|$)", re.IGNORECASE
)
"""Doubt said after the statement, in its sentence and of it: "I live in Vienna, not sure"
(not "I live in Vienna, not sure if I like it")."""
_SUBJECT_AT = re.compile(r"I|we\b", re.IGNORECASE)


def asserted(sentence: Sentence, start: int) -> bool:
    """Whether the speaker states what `sentence` says at `start` as true of themselves: not a
    question ("Do I live in Paris?", "I live in Paris?"), a condition, wish or fancy ("If I
    moved to Rome", "I wish I lived in Paris", "I'm not sure if I'm vegan"), a doubt ("Maybe I
    live in Vienna", "I live in Vienna, not sure"), a supposition or
    fiction ("Let's say I live in Rome", "In my novel, I live in Rome"), nor someone else's
    words ('My friend said "I live in Paris"', "My boss told me I work at ...")."""
    before = sentence.text[:start]
    frame = _FRAME.search(sentence.text)
    if len(_QUOTES.findall(before)) % 2 or (frame is not None and frame.start() < start):
        return False
    if _REPORTED.search(before):
        return False
    if _TOLD_YOU.search(before):
        return True
    if _SUBJECT_AT.match(sentence.text, start) and _INVERTED.search(before):
        return False  # "Do I live ...": the verb before the subject (not "I have a cat")
    stop = _CLAUSE_END.search(sentence.text, start)
    if stop is not None and stop[0] == "?" or _HEDGED.search(sentence.text, start):
        return False
    return not _UNREAL.search(_CLAUSE_PUNCTUATION.sub("", before))


def stopped(match: re.Match[str], sentence: Sentence) -> bool:
    """Whether a negated statement says its value *stopped* being true ("no longer", "not
    ... anymore"), rather than that it is not ("I don't work at Google")."""
    if "longer" in (match.groupdict().get("neg") or "").lower():
        return True
    stop = _CLAUSE_END.search(sentence.text, match.end())
    clause = sentence.text[match.start() : stop.start() if stop else len(sentence.text)]
    cut = _BOUNDARY.search(clause, 1)
    return bool(_ANYMORE.search(clause[: cut.start()] if cut else clause))


def third_person(phrase: str) -> str:
    """`phrase` with first-person words swapped for third-person ones ("my" -> "their")."""

    def swap(match: re.Match[str]) -> str:
        return _FIRST_PERSON[match[0].lower()]

    return _FIRST_PERSON_WORD.sub(swap, phrase)


_SHARED_VERBS = (
    r"moved|joined|started|left|quit|switched|got|bought|adopted|became|began|graduated|"
    r"married|visited|went|took|found|sold|opened|launched|retired|relocated|"
    r"live[ds]?|work(?:s|ed)?|stud(?:y|ies|ied)|teach(?:es)?|taught|own(?:s|ed)?|"
    r"love[ds]?|like[ds]?|hate[ds]?|prefer(?:s|red)?|enjoy(?:s|ed)?"
)
_ELIDED_SUBJECT = re.compile(
    rf"\bI(?:'ve|\s+have)?{ADV}\s+(?P<verb>{_SHARED_VERBS})\b"
    r"(?:(?!\b(?:and|but|or|who|which|that|he|she|they|we|you|it)\b)[^,.;:!?()\n])*?"
    r"\s+and\s+(?=(?:(?:then|also|now|later|eventually|finally|recently|soon)\s+)?"
    rf"(?P<next>{_SHARED_VERBS})\b)",
    re.IGNORECASE,
)
_NEW_JOB = frozenset({"joined", "started", "work", "works"})
"""What follows "I left X and ..." in a change of job, which its own rule reads whole."""


_OPENING_ADVERBS = (
    r"^(?:(?:just|finally|recently|officially|also|actually|currently|now|still|today|"
    r"yesterday)\s+)*"
)
_OPENING_VERBS = (
    (
        re.compile(
            _OPENING_ADVERBS + r"(?:(?:not|no\s+longer)\s+(?:an?\s|into\s|in\s|at\s|with\s|"
            rf"(?:{DIETS})\b)|(?:an?\s+)?(?:(?:big|huge|great)\s+)?fan\s+of\s|living\s|"
            r"working\s|studying\s|allergic\s+to\s|(?:heading|flying|off)\s+to\s|"
            r"going\s+to\s+(?-i:[A-Z]))",
            re.IGNORECASE,
        ),
        "I'm",
    ),
    (
        re.compile(
            _OPENING_ADVERBS + r"(?:moved|relocated|adopted|got|quit|started|began|left|"
            r"turned|landed|accepted|switched|became|went|bought|finished|graduated|retired|"
            r"resigned|stopped|gave\s+up|broke\s+up|married|love|hate|adore|can't\s+stand|"
            r"live|work|had|welcomed|don't|never|joined(?=\s+(?-i:[A-Z])))\s"
            r"(?!\s*(?:is|was|are|were|has|will|would|can|could|should|and|or|sure|any|well|fine|"
            r"great|badly|ok|okay|smoothly|wrong|raining|snowing|pouring|to\s+(?:rain|snow))\b)",
            re.IGNORECASE,
        ),
        "I",
    ),
    (re.compile(_OPENING_ADVERBS + r"been\s", re.IGNORECASE), "I've"),
    (re.compile(_OPENING_ADVERBS + r"born\s+(?:and\s+raised\s+)?in\s", re.IGNORECASE), "I was"),
)
"""A sentence that opens on a verb with its subject left out, as a chat turn does ("Just
moved to Vancouver!", "Got promoted today", "Living in Madrid these days", "Not vegan
anymore", "Been vegan for a year"), and the subject it leaves out: the speaker. Only verbs of
the rules' statements, past or of a lasting state, never one an imperative or a wish opens on
("Let", "Enjoy your trip!"); not a noun ("Love is all you need", "Love and trust ...") nor
how something went ("Went well!"), nor the weather ("Started raining here"), nor a question
("Got any plans?"). "Going to" only before a name ("Going to Mexico in May!", not "Going
to bed" nor "going to try it"). "Joined" only before a name ("Joined Meta last month"; with
clubs too, "Joined a travel club", LoCoMo recall@10 fell from 0.777 to 0.7767). Not "Lost my
job", though it is the speaker's: a job lost retold later retires the first telling, and its
turn with it (LoCoMo: "Lost my job as a banker yesterday", recall@10 0.7773 -> 0.7764)."""


def with_subject(text: str) -> str:
    """`text` with the "I" the speaker left out written out: before a sentence opening on a
    verb (`_OPENING_VERBS`: "Just moved to Vancouver!" -> "I just moved to Vancouver!",
    "Living in Madrid now" -> "I'm living in Madrid now"), and before each of
    coordinated verbs ("I left Paris and moved to Berlin" -> "I left Paris and I moved to
    Berlin"), so that each clause is a first-person statement of its own. Only before verbs
    the rules read, with no other subject in between ("I think my sister left Paris and
    moved to Berlin" is unchanged)."""

    def spelt_out(match: re.Match[str]) -> str:
        verb, following = match["verb"].lower(), match["next"].lower()
        if verb in ("left", "quit") and following in _NEW_JOB:
            return match[0]  # "I left Google and joined Meta": one change of job
        return f"{match[0]}I "

    for opening, subject in _OPENING_VERBS:
        if opening.match(text):
            text = f"{subject} {text[0].lower()}{text[1:]}"
            break
    previous = None
    while previous != text:
        previous, text = text, _ELIDED_SUBJECT.sub(spelt_out, text)
    return text


def clause_end(match: re.Match[str]) -> int:
    """Where the clause of a rule's match ends: a captured object runs to the punctuation,
    but "I don't live in Paris but I live in Rome" holds two statements."""
    cut = _BOUNDARY.search(match[0], 1)
    return match.start() + cut.start() if cut else match.end()


def _without(phrase: str, span: str) -> str:
    """`phrase` without the time expression `span`, as words ("Mar" of "Mar. 5" is not in
    "Marseille"). The object stops at the clause's punctuation: of "on 5 March, 2023" it
    holds "5 March" at most; the date is written out again (`date_phrase`)."""
    head = _CLAUSE_END.split(span, maxsplit=1)[0].strip()
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


def clean(raw: str | None, sentence: Sentence, *, max_words: int = 10) -> str | None:
    """A rule's captured object, cut at the clause's end, without time words, third person."""
    if not raw:
        return None
    phrase = _BOUNDARY.sub("", raw)
    for time in sentence.times:
        phrase = _without(phrase, time.span)
    phrase = _TRAILING.sub("", _without_emoji(phrase.replace('"', " "))).strip(" '-")
    words = phrase.lower().split()
    if not words or len(words) > max_words or _FILLER.issuperset(words):
        return None
    if _PRONOUN_OBJECT.match(phrase):
        return None
    return third_person(phrase)


def specific(phrase: str | None) -> str | None:
    """`phrase` unless it ends vaguely ("see them", "do that"): such goals and events say
    nothing on their own."""
    return None if phrase is None or _VAGUE_END.search(phrase) else phrase


def proper(raw: str | None) -> str | None:
    """The capitalised name opening `raw` ("Lisbon" of "Lisbon with my wife"), if any."""
    match = _CAPITALISED.match(raw.strip()) if raw else None
    return match[0] if match else None


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
    research product legal hr it remote part-time full-time nights days mornings evenings
    weekends python java""".split()
)
"""Words one moves "to" that are no places ("i moved to sales", "I moved to part-time")."""
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
    start = time.start
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


def with_date(text: str, sentence: Sentence) -> str:
    """`text` followed by the date of the sentence's first time (`date_phrase`), if it has one."""
    return f"{text} {date_phrase(sentence.times[0])}" if sentence.times else text


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


TRIP = re.compile(
    r"\b(?:trip|vacation|holidays?|weekend|conference|visit(?:ing)?|flight|hotel|tour|"
    r"business|meeting|for\s+(?:a|the|two|three|a\s+few|a\s+couple\s+of)\s+"
    r"(?:days?|nights?|weeks?|weekend))\b",
    re.IGNORECASE,
)
"""Words of a stay away from home ("in Rome for a conference"): no move, no new job."""

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
    elif stopped(match, s):
        text = f"{s.label} no longer {third} {value}"
    else:
        text = f"{s.label} doesn't {base} {value}"
    return [ending(s, text, attribute, value, entity=_ENTITY_OF.get(attribute))]


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
