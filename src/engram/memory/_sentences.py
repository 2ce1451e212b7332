"""The sentence the first-person rules read: one sentence of a message, with who said it,
when, its grounded times and what the speaker said before; and `with_subject`, which writes
out the "I" a chat turn leaves out ("Just moved to Vancouver!") so the rules read it as a
first-person statement."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from engram.memory._patterns import ADV, DIETS
from engram.memory.candidates import Candidate
from engram.memory.temporal import TimeMention

__all__ = ["USER_LABEL", "USER_LABELS", "Sentence", "with_subject"]

USER_LABEL = "The user"
"""How facts name a user whose name is not known."""

USER_LABELS = (USER_LABEL, "User")
"""What a memory's text calls the user, given to `Memories.add` or `update` ("The user lives
in Paris", "User is vegetarian"), besides the user's name."""


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
    turn: str = ""
    """The whole message the sentence is part of: the context a rule may read ("My job was
    killing me. I switched to Google" speaks of work); empty when not known."""
    known: frozenset[str] = frozenset()
    """The slots the speaker gave a value earlier in the session (`employer`: "I work at
    Meta", said before "I switched to Google"), in this message or turns before it."""

    @property
    def label_within(self) -> str:
        """`label` inside a sentence: `Ana`, or `the user` (not `The user`)."""
        return "the user" if self.label == USER_LABEL else self.label


_SHARED_VERBS = (
    r"moved|joined|started|left|quit|switched|got|bought|adopted|became|began|graduated|"
    r"married|visited|went|took|found|sold|opened|launched|retired|relocated|"
    r"live[ds]?|work(?:s|ed)?|stud(?:y|ies|ied)|teach(?:es)?|taught|own(?:s|ed)?|"
    r"love[ds]?|like[ds]?|hate[ds]?|prefer(?:s|red)?|enjoy(?:s|ed)?"
)
_ELIDED_SUBJECT = re.compile(
    rf"\bI(?:'ve|\s+have)?{ADV}\s+(?P<verb>{_SHARED_VERBS})\b"
    r"(?:(?!\b(?:and|but|or|who|which|that|he|she|they|we|you|it)\b)[^,.;:!?()\n])*?"
    r"(?:\s+and\s+(?=(?:(?:then|also|now|later|eventually|finally|recently|soon)\s+)?"
    rf"(?P<next>{_SHARED_VERBS})\b)|,\s+(?:and\s+)?then\s+(?=(?P<then>{_SHARED_VERBS})\b))",
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
            r"going\s+to\s+(?-i:[A-Z])|leaving\s+(?-i:[A-Z]))",
            re.IGNORECASE,
        ),
        "I'm",
    ),
    (
        re.compile(
            _OPENING_ADVERBS + r"(?:moved|relocated|adopted|got|quit|started|began|left|"
            r"turned|landed|accepted|switched|became|went|bought|finished|graduated|retired|"
            r"resigned|stopped|gave\s+up|broke\s+up|married|love|hate|adore|can't\s+stand|"
            r"live|work|had|welcomed|don't|never|joined(?=\s+(?-i:[A-Z]))|lost(?=\s+my\s+job\b))\s"
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
clubs too, "Joined a travel club", LoCoMo recall@10 fell from 0.777 to 0.7767). "Lost" only
of a job ("Lost my job last week"; not "Lost my keys"): its retellings as the time or reason
of something else ("since I lost my job") end nothing (`_job_change_rules.quit_job`), else the
last would retire the first telling, and its turn with it (LoCoMo: "Lost my job as a banker
yesterday", recall@10 0.7773 -> 0.7764)."""


def with_subject(text: str) -> str:
    """`text` with the "I" the speaker left out written out: before a sentence opening on a
    verb (`_OPENING_VERBS`: "Just moved to Vancouver!" -> "I just moved to Vancouver!",
    "Living in Madrid now" -> "I'm living in Madrid now"), and before each of
    coordinated verbs ("I left Paris and moved to Berlin" -> "I left Paris and I moved to
    Berlin", "I worked at IBM, then joined SAP" -> "I worked at IBM, then I joined SAP"),
    so that each clause is a first-person statement of its own. Only before verbs the rules
    read, with no other subject in between ("I think my sister left Paris and moved to
    Berlin" is unchanged)."""

    def spelt_out(match: re.Match[str]) -> str:
        verb, following = match["verb"].lower(), (match["next"] or match["then"]).lower()
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
