"""Work slot rules: employer and occupation, their changes ("I joined Meta", "I quit my job",
"I retired") and the `works_at` relation; a student's role at a school ("I'm a junior at
NYU") is the school's (`_school_rules`). Part of the profile-slot rules
(`_profile_rules.PROFILE_RULES` holds them in its order)."""

from __future__ import annotations

import re
from dataclasses import replace

from engram.memory._life_rules import LANGUAGES
from engram.memory._phrases import (
    ADV,
    HAVE,
    I_AM,
    JOB_CUE,
    JOBS,
    ME,
    NO_EMPLOYER,
    NOT,
    PRONOUNS,
    REST,
    TRIP,
    UP,
    Builder,
    Rule,
    Sentence,
    clean,
    denied,
    ending,
    fact,
    held_until,
    in_own_clause,
    lowercase_place,
    past_value,
    proper,
    relate,
    related_slot,
    rule,
    stopped,
    with_article,
    with_date,
)
from engram.memory._school_rules import STUDENT, school_slot
from engram.memory.candidates import NO_VALUE, Candidate, EntityMention
from engram.memory.entities import fold
from engram.memory.profile import TO_COME
from engram.memory.queries import STOPWORDS

__all__ = ["WORK_RULES", "moved_to_company", "with_role"]

_TEACH_END = (
    r"(?i:at|to|for|in|on|with|from|online|now|and|this|next|every|part|full|remotely|here|"
    r"there)"
)
"""Where what one teaches ends ("math" of "I teach math to kids", "I teach math at ...")."""
_MANNER = r"(?:\s+(?:remotely|full[- ]time|part[- ]time|freelance|from\s+home))?"
"""How one works, between the verb and the employer ("I work remotely for Google")."""


def _employer(s: Sentence, employer: str) -> Candidate:
    """The user's employer slot, with the works_at relation it states."""
    return related_slot(s, "employer", employer, f"{s.label} works at {employer}", 0.8)


_ARTICLE = re.compile(r"^(?:an?|the)\s+", re.IGNORECASE)


def _bare(job: str) -> str:
    """An occupation without its article: "a nurse" -> "nurse", "the head nurse" -> "head
    nurse" (the value; the text says it as it was said)."""
    return _ARTICLE.sub("", job, count=1) or job


def _occupation(s: Sentence, job: str) -> Candidate:
    """The user's occupation slot ("a software engineer": value "software engineer")."""
    return fact(
        s,
        f"{s.label} works as {job}",
        kind="profile",
        attribute="occupation",
        value=_bare(job),
        importance=0.8,
    )


_WORKPLACE = (
    r"hospital|clinic|school|university|college|academy|institute|bank|bakery|caf[eé]|"
    r"restaurant|bar|pub|hotel|library|museum|gallery|pharmacy|store|shop|supermarket|"
    r"market|lab|laboratory|studio|agency|firm|center|centre|theat(?:re|er)|airport|"
    r"factory|warehouse|salon|church|hall|foundation|company|hq"
)
_NAMED_WORKPLACE = re.compile(rf"\s+(?:{_WORKPLACE})\b", re.IGNORECASE)


def _workplace(raw: str | None) -> str | None:
    """The capitalised name opening `raw`, with the kind of place it names if that follows
    in lower case ("Santa Maria hospital" of "Santa Maria hospital in Lisbon")."""
    name = proper(raw)
    if not raw or not name:
        return name
    rest = raw.strip()[len(name) :]
    kind = _NAMED_WORKPLACE.match(rest)
    return name + kind[0] if kind else name


_OFF_SITE = frozenset(
    "home night nights day days weekend weekends morning mornings evening evenings midnight "
    "shift shifts hours".split()
)
"""Where or when one works that is no employer ("i work at home", "I work at night shifts")."""
_ROLE_TAIL = re.compile(r"\s+(?:as|full[- ]time|part[- ]time|remotely)\b", re.IGNORECASE)
"""Where an employer's name ends, before the role or manner of the work ("google as a PM")."""


def _known_company(raw: str) -> str | None:
    """The well-known company `raw` opens with, in any case, spelt as it spells itself
    ("google as a PM": "Google", "jp morgan": "J.P. Morgan")."""
    words = raw.split()
    for size in (3, 2, 1):
        known = _COMPANY_NAMES.get(" ".join(words[:size]).casefold())
        if known:
            return known
    return None


def _lowercase_employer(raw: str, s: Sentence) -> str | None:
    """An employer named in lower case: a well-known company in any case, spelt as it spells
    itself ("i work at google", "I work at openai": "Google", "OpenAI"), or a name by one who
    writes names in lower case, title-cased as a place after a move is (`lowercase_place`:
    "i work at acme" -> "Acme"; not "a bakery", "home", "night")."""
    return _known_company(raw) or lowercase_place(
        _ROLE_TAIL.split(raw, maxsplit=1)[0], s, after_move=True
    )


_WHEN = re.compile(
    r"^(?:\d{1,2}(?:[:.]\d\d)?\s*(?:[ap]\.?m\.?|o'?clock|h)?|noon|midday|dawn|"
    r"(?:the\s+)?(?:moment|minute|mo|time)|(?:the\s+)?same\s+time|(?:this|that)\s+time)$",
    re.IGNORECASE,
)
"""When one works, said after "at": a clock time ("i work at 7am", "at 9:30"), or the
present ("i work at the moment", "at the same time"): no employer."""


_AT_IDIOMS = frozenset("heart times first last least best most all once present large ease".split())
"""What follows "at" in a set phrase, no employer ("I'm a teacher at heart", "at times")."""


def _off_site(phrase: str) -> bool:
    """Whether `phrase` says where or when one works, not for whom ("home", "night and
    weekends", "7am", "the moment", "heart"; not "home depot")."""
    if _WHEN.match(phrase):
        return True
    words = phrase.lower().split()
    if words[0] in _AT_IDIOMS:
        return True
    return words[0] in _OFF_SITE and (len(words) == 1 or words[1] in _OFF_SITE | STOPWORDS)


def _works_at(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """The employer, and the occupation when the role follows ("I work at Google as a
    software engineer"); said in lower case, the name as a name (`_lowercase_employer`), or
    the words as said ("a bakery"); no employer where or when one works ("i work at home")."""
    raw = match["x"]
    unnamed = _ROLE_TAIL.split(raw, maxsplit=1)[0]  # "a bakery" of "a bakery as a cleaner"
    employer = _workplace(raw) or _lowercase_employer(raw, s) or clean(unnamed, s, max_words=6)
    if not employer or _off_site(employer):
        return []
    if match["neg"]:
        return denied(match, s, "employer", employer, ("works at", "work at"))
    role = _role_after(raw, employer, s)
    after = raw[raw.casefold().find(employer.casefold()) + len(employer) :]
    by = match[0][: match.start("x") - match.start()].split()[-1].lower()
    if by in ("for", "by") and _hired_by_person(employer, role, after):  # "for Maria as a nanny"
        return _works_for(employer, role, after, s)
    if _starts_then(s, match.start()):
        return _job_plan(s, employer, role)  # "Starting Monday, I work at Initech"
    return [_employer(s, employer), *role]


_HAS_A_JOB = re.compile(
    rf"{ME}(?:{HAVE}(?i:\s+got)?|(?i:\s+got))\s+(?:[^,.;!?]*?\s(?i:and|plus)\s+)?(?i:an?)\s+"
    r"(?:(?i:new|full[- ]time|part[- ]time|day|steady|good|great|decent|remote)\s+)*$"
)
"""A job the user has, said before its employer: "I have a full time job at Dell", "I've got
two kids and a full time job at Dell"."""


def _job_had(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """The employer of a job the user says they have, "I have a full time job at Dell",
    "I've got two kids and a part-time job at Dell" (a job among what they have), as "I
    work at Dell" says it; no job of another's ("my wife has a job at Dell")."""
    if _HAS_A_JOB.search(s.text, 0, match.start()) is None:
        return []
    return _works_at(match, s)


def _role_after(rest: str, employer: str, s: Sentence) -> list[Candidate]:
    """The occupation an employer's name is followed by: "Meta as a designer", past words
    of when ("Google now as a PM", "Stripe last month as a designer"); a role that is no
    job is none ("Google's meetup as a guest")."""
    at = rest.casefold().find(employer.casefold())
    return _role_from(rest[at + len(employer) :], s) if at >= 0 else []


_NOT_A_ROLE = frozenset(
    """result consequence team group whole family couple pair bonus favor favour gift joke way
    matter courtesy precaution backup reminder surprise kid child teen teenager start""".split()
)
"""What one is "as" that is no role ("as a result of the layoffs", "as a team")."""
_JOB_WORD = re.compile(rf"\b(?:{JOBS}|PM|CEO|CTO|CFO|VP)$", re.IGNORECASE)


def _role_from(after: str, s: Sentence) -> list[Candidate]:
    """The occupation said at the start of `after`, the words after an employer or a hire
    ("as a designer", "now as a PM", "last month as a designer"): none for a role that is no
    job ("as a guest", "as a result of the layoffs")."""
    role = _AS_ROLE.match(after)
    job = clean(role["role"], s, max_words=5) if role else None
    if not job or job.split()[-1].lower() in _NOT_A_JOB:
        return []
    if _bare(job).split()[0].lower() in _NOT_A_ROLE:
        return []
    return [_occupation(s, job)]


def with_role(candidates: list[Candidate], clause: str, s: Sentence) -> list[Candidate]:
    """`candidates` of one clause, with the occupation that follows the user's new employer
        in it when no rule of the clause read one: "I left Farfetch and joined Google as a
        product manager" (the change rules' new employer, and the product manager now, which
        retires the data analyst of before). Not of another's job ("Tom joined Google as a
        designer"), nor of a past one ("I worked at IBM until 2019 as ..."); of a guessed slot's
    value, only a job's word ("I switched from Farfetch to Google as a PM")."""
    if any(c.attribute == "occupation" for c in candidates):
        return candidates
    employers = [
        c
        for c in candidates
        if c.attribute == "employer"
        and c.value
        and c.value != NO_VALUE
        and c.subject is None
        and "valid_to" not in c.metadata
    ]
    if not employers:
        return candidates
    role = _role_after(clause, str(employers[-1].value), s)
    if employers[-1].metadata.get("guessed"):  # "I switched from Farfetch to Google as a PM"
        role = [c for c in role if _JOB_WORD.search(str(c.value))]
    return [*candidates, *role]


_WHERE = re.compile(r"\s+(?:at|for|in|with)\s+", re.IGNORECASE)
_AT_NAME = re.compile(rf"\s+(?i:at|for)\s+(?=(?i:the\s+)?[{UP}])")
"""Where a job's employer is named: "at" or "for" a capitalised name, past the department or
town ("a nurse in the ICU at Santa Maria"; not "with Google", a client)."""


def _works_as(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """The occupation, and the employer a capitalised name after "at" or "for" says ("I work
    as a nurse at Santa Maria hospital in Lisbon", "as a nurse in the ICU at Santa Maria";
    not "at the local hospital")."""
    split = _WHERE.search(match["x"])
    job = clean(match["x"][: split.start()] if split else match["x"], s, max_words=6)
    if not job:
        return []
    if match["neg"]:
        return _ends_job(denied(match, s, "occupation", job, ("works as", "work as")))
    named = _AT_NAME.search(match["x"], split.start()) if split else None
    employer = _workplace(match["x"][named.end() :]) if named else None
    if employer and job.split()[-1].lower() not in _NOT_A_JOB:
        return [_occupation(s, job), _employer(s, employer)]
    return [_occupation(s, job)]


def _ends_job(endings: list[Candidate]) -> list[Candidate]:
    """Occupation endings naming the job as the slot holds it (no article)."""
    return [
        replace(c, metadata={**c.metadata, "negates": _bare(str(c.metadata["negates"]))})
        if "negates" in c.metadata
        else c
        for c in endings
    ]


_NOT_A_JOB = frozenset(
    "member regular fan customer client guest volunteer patient student visitor subscriber "
    "user intern".split()
)


def _role_at(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A job at a named employer, "I'm a software engineer at Google": the occupation and
    the employer; a student's role, "I'm a junior at NYU", the school. A role that is no
    job ("a regular at Joe's") says neither."""
    employer = _workplace(match["x"])
    role = clean(match["role"], s, max_words=5)
    if not employer or not role:
        return []
    if role.split()[-1].lower() in STUDENT:
        return [school_slot(s, employer)]
    if role.split()[-1].lower() in _NOT_A_JOB:
        return []
    return [_occupation(s, role), _employer(s, employer)]


def _role_at_lowercase(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A job at an employer named in lower case, "I'm a nurse at acme", "i'm an engineer at
    jp morgan": the occupation and the employer as `_lowercase_employer` spells it; only an
    occupation's word (`JOBS`) as the role ("I'm a beast at chess" names no job), and no
    employer where or when one works ("a nurse at night", "at home", "at heart")."""
    employer = _lowercase_employer(match["x"], s)
    role = clean(match["role"], s, max_words=5)
    if not employer or not role or _off_site(employer):
        return []
    return [_occupation(s, role), _employer(s, employer)]


_TAUGHT_WHOM = frozenset(
    """them him her you me us it people kids children students adults myself my our a an the
    some""".split()
)
"""The first word of whom or how much one teaches, not what ("I teach kids to swim")."""
_LESSONS = re.compile(r"\s+(?:class(?:es)?|lessons?|courses?)$", re.IGNORECASE)


def _teaches(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A teacher, by what and where they teach, "I teach math", "I teach math at Lincoln
    High", "I teach at Lincoln High": the occupation (a math teacher, as "I'm a math teacher"
    says it; a teacher, when what is not said) and the employer, if named."""
    employer = _workplace(match["x"]) if match["x"] else None
    words = _LESSONS.sub("", " ".join(match["subject"].split())).split()
    subject = "" if words and words[0].lower() in _TAUGHT_WHOM else " ".join(words)
    if not employer and not subject:
        return []
    text = f"{s.label} teaches {subject}".rstrip() + (f" at {employer}" if employer else "")
    job = f"{subject} teacher".lstrip()
    found = [fact(s, text, kind="profile", attribute="occupation", value=job, importance=0.8)]
    return [*found, _employer(s, employer)] if employer else found


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
        return [ending(s, f"{s.label} is {job}", "occupation", _bare(former))]
    if match["neg"]:
        how = "no longer" if stopped(match, s) else "not"
        return [ending(s, f"{s.label} is {how} {job}", "occupation", _bare(job))]
    return [_occupation(s, job)]


_JUDGED = frozenset("better worse good great bad decent real proper".split())
"""Words that judge how one does a job, not which ("I became a better writer")."""


def _became(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """An occupation one took up, "I became a nurse last year", "I've become a teacher": the
    occupation from the time said (the nurse of last year retires the teacher said before).
    Not a job judged ("I became a better writer"), nor one yet to be ("a future nurse")."""
    job = " ".join(match["x"].lower().split())
    words = job.split()
    if _JUDGED.intersection(words) or _FUTURE.intersection(words) or _PAST.intersection(words):
        return []
    text = with_date(f"{s.label} became {job}", s)
    return [fact(s, text, kind="profile", attribute="occupation", value=_bare(job), importance=0.8)]


_AS_ROLE = re.compile(
    r"(?:\s+(?:now|currently|still|full[- ]time|part[- ]time|remotely|"
    r"(?:last|this|next)\s+(?:week|month|year|spring|summer|fall|autumn|winter)|"
    r"(?:since|in)\s+(?-i:[A-Z])\w+))*\s+as\s+(?P<role>an?\s+[^,.;!?()\n]+)",
    re.IGNORECASE,
)
_CLUB_CUE = re.compile(
    r"\b(?:club|gym|choir|league|members?|membership|hobby|signed\s+up|classes|course|"
    r"semester|app|platform|server|subreddit|community)\b",
    re.IGNORECASE,
)
"""Words that say what was joined is no workplace ("I joined Strava, the running app")."""


_OWNED = re.compile(r"(?<=['’]s)\s+(?!(?i:as|in|on|at|last|this|since|today|now|back)\b)[a-z]")
"""A name's possession after it, what was joined ("Google's meetup", "Sara's book club");
not a firm named so ("McDonald's as a cashier", "McDonald's last month")."""


def _joined(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A new employer, "I joined Meta as a designer", "I joined Meta last month", "I started
    at Stripe on Monday": a capitalised name, with a role or a word of work, or else one that
    names no club, team, school or platform, in a sentence of none ("I joined a gym", in
    lower case, is an event; so is "I joined Toastmasters")."""
    if not match["x"][0].isupper():
        return _joined_lowercase(match["x"], s)
    employer = proper(match["x"])
    if not employer or _OWNED.match(match["x"], len(employer)):
        return []
    role = _role_after(match["x"], employer, s)
    if not role and not JOB_CUE.search(s.text):
        if NO_EMPLOYER.search(employer) or _CLUB_CUE.search(s.text):
            return []
    return [_employer(s, employer), *role]


def _joined_lowercase(raw: str, s: Sentence) -> list[Candidate]:
    """A new employer named in lower case, "i just started at microsoft": a well-known
    company, or another name (`_lowercase_employer`) with a role or a word of work ("i
    just started at acme as a designer"): one joins a club, a gym or an app as often."""
    employer = _lowercase_employer(raw, s)
    if not employer or NO_EMPLOYER.search(employer) or _CLUB_CUE.search(s.text):
        return []
    role = _role_after(raw, employer, s)
    if role or employer in _COMPANIES or JOB_CUE.search(s.text):
        return [_employer(s, employer), *role]
    return []


_TITLE = re.compile(
    rf"\b(?:{JOBS}|lead|head|vp|chief|supervisor|partner|principal|associate)\b", re.IGNORECASE
)
"""Words of a job title one is promoted to ("senior engineer", "team lead", "head of sales")."""


def _promoted(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A promotion, "I got promoted to senior engineer": the occupation now (not "promoted
    to the next level", which names no job)."""
    job = clean(match["x"], s, max_words=5)
    if not job or not _TITLE.search(job):
        return []
    text = with_date(f"{s.label} got promoted to {job}", s)
    return [fact(s, text, kind="profile", attribute="occupation", value=_bare(job), importance=0.8)]


_SALE = re.compile(
    r"\b(?:house|home|apartment|flat|condo|car|property|place|sell|selling|sold|buyer|bid)\b",
    re.IGNORECASE,
)
"""Words of a sale: an offer accepted from a buyer is no job ("an offer from Zillow on our
house")."""


def _offer(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A job offer taken, "I accepted an offer from Meta", "I got an offer from Meta and took
    it": the employer, a capitalised name, unless the sentence speaks of a sale."""
    employer = _workplace(match["x"])
    if not employer or _SALE.search(s.text):
        return []
    return [_employer(s, employer), *_role_after(match["x"], employer, s)]


_SINCE_LONG = re.compile(
    r"\b(?:since|for)\s+(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|a\s+few|"
    r"several|many)\s+(?:years?|months?)\b|\bsince\s+(?:last\s+)?(?:year|month|spring|summer|"
    r"fall|autumn|winter)\b",
    re.IGNORECASE,
)


def _at_employer(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """Where the user works, said as where they are: "I switched jobs, I'm at Meta now"
    (with a word of work), "I've been at Meta since January" (a while: months or years, not
    "since Monday" at a hotel), "These days I'm at Meta", "I'm at Meta now" (a company one
    is only "at" by working there, or a firm's name said alone: `_there_now`), and the role
    that follows ("I'm at Google now as a PM"). Not at a school, a club or a platform.
    "With" only a company (`_OFFICE_ONLY`: "I'm with Deloitte now"; not "I'm with Sara
    now", nor "I've been with Sara for years")."""
    employer = proper(match["x"])
    if not employer or NO_EMPLOYER.search(employer):
        return []
    if match["prep"].lower() == "with" and not _OFFICE_ONLY.search(employer):
        return []
    if match["been"]:
        long_ago = [time for time in s.times if time.granularity in ("month", "season", "year")]
        if not (long_ago or _SINCE_LONG.search(s.text)) or TRIP.search(s.text):
            return []
    elif not JOB_CUE.search(s.text) and not _there_now(match, employer, s):
        return []
    return [_employer(s, employer), *_role_after(match["x"], employer, s)]


_WHILE_CUE = re.compile(r"\b(?:these\s+days|nowadays)\b", re.IGNORECASE)
"""A while, not a moment: "These days I'm at Meta" says for whom the user works."""
_NOW_CUE = re.compile(r"(?<!\bright\s)(?<!\bjust\s)\b(?:now|currently)\b", re.IGNORECASE)
"""Now, as against before: "I'm at Meta now", "I'm currently at Meta" (not "right now",
"just now": a moment)."""
_COMPANIES = tuple(
    "Google Meta Facebook Microsoft Amazon Netflix Stripe Shopify Salesforce Oracle IBM Intel "
    "Nvidia NVIDIA AMD Adobe Uber Lyft Airbnb Spotify Twitter OpenAI Anthropic DeepMind SpaceX "
    "Deloitte McKinsey Accenture PwC KPMG EY BCG Bain Goldman JPMorgan BlackRock Bloomberg "
    "Palantir Coinbase Robinhood DoorDash Instacart Twilio GitHub GitLab Cloudflare Datadog "
    "Snowflake Databricks Atlassian Dropbox Figma ByteDance Alibaba Tencent SAP Cisco "
    "Siemens".split()
) + (
    "Goldman Sachs",
    "J.P. Morgan",
    "JPMorgan Chase",
    "Morgan Stanley",
    "American Express",
    "Ernst & Young",
)
"""Well-known companies, spelt as they spell themselves."""
_COMPANY_SPELLINGS = {
    "bank of america": "Bank of America",
    "wells fargo": "Wells Fargo",
    "capital one": "Capital One",
    "home depot": "Home Depot",
    "jp morgan": "J.P. Morgan",
    "jp morgan chase": "JPMorgan Chase",
    "chase bank": "Chase",
    "bofa": "Bank of America",
    "amex": "American Express",
    "ernst and young": "Ernst & Young",
    "the home depot": "Home Depot",
}
"""How chat spells a few firms without their capitals or punctuation ("jp morgan": "J.P.
Morgan"), and firms with branches or stores one visits, so no name one is "at" only as staff
(`_OFFICE_ONLY`: "I'm at Home Depot now" says where)."""
_COMPANY_NAMES = {
    **{name.casefold(): name for name in reversed(_COMPANIES)},
    **_COMPANY_SPELLINGS,
}
"""The companies by their name in any case ("nvidia": the first spelling, "Nvidia")."""
_OFFICE_ONLY = re.compile(
    "^(?:" + "|".join(re.escape(name).replace(r"\ ", r"\s+") for name in _COMPANIES) + ")$"
    r"|\s(?:Inc|Corp|Corporation|LLC|Ltd|GmbH|Labs|Technologies|Software|Systems|Consulting|"
    r"Capital|Ventures|Analytics|Solutions)\.?$"
)
"""Names one is "at" only by working there: companies with no shop, branch or venue to
visit, and names with a company's suffix ("Acme Corp", "Hooli Labs"). "I'm at Starbucks now"
says where, not for whom, even just after a turn that named the employer ("I work at
Google. I'm at Starbucks now, on my laptop"): a false job change would retire the real
employer, a missed one only waits for plainer words."""
_PLACE_TAIL = re.compile(
    r"\s(?:city|town|village|street|avenue|road|park|lake|river|beach|island|bay|airport|"
    r"station|mall|square)$",
    re.IGNORECASE,
)
_VISIT = re.compile(r"\b(?:interview(?:ing)?|onsite|on-site|visitors?|guest|event)\b", re.I)
"""Why one may be at a company for a day, working elsewhere ("I'm at Google now for an
interview")."""


def moved_to_company(s: Sentence, name: str) -> list[Candidate]:
    """A move to a company, "I moved to Meta last month": a new employer, not a home (any
    other name one moves to is a place)."""
    return [_employer(s, name)] if _OFFICE_ONLY.search(name) else []


_VENUES = frozenset(
    (
        *"""starbucks costco walmart target tesco ikea disneyland disney walgreens cvs safeway
        kroger aldi lidl asda waitrose primark zara sephora nordstrom chipotle subway dunkin
        panera heathrow gatwick coachella wembley legoland hilton marriott hyatt harvard
        stanford yale princeton oxford cambridge berkeley columbia cornell""".split(),
        *("whole foods", "best buy", "disney world"),
        *_COMPANY_SPELLINGS,
        *(name.casefold() for name in _COMPANY_SPELLINGS.values()),
    )
)
"""Names one is "at" as a customer, a guest, a visitor or a student: shops, chains,
airports, venues, hotels, universities, and the firms with branches one visits
(`_COMPANY_SPELLINGS`)."""
_NOW_ALONE = re.compile(r"^\s*(?:now|currently)?\s*$", re.IGNORECASE)


def _firm_said_alone(match: re.Match[str], employer: str, s: Sentence) -> bool:
    """ "I'm at Globex now", "I'm now at Globex": a name that looks like a firm's, said with
    nothing more, as news of where the user works. One word (a name of more is a place or
    a venue as often: "Grand Central", "Central Park"), not an acronym ("UVA", "JFK": a
    school or an airport as often), a possessive ("at Sarah's", "at Chili's") or a venue
    (`_VENUES`: "I'm at Walmart now"); nothing but "now" or the role after it in the
    sentence ("I'm at Globex now as a PM"; not "I'm at Level 5 now", "I'm at Globex now,
    what should I order?"), and a turn that asks nothing ("I'm at Costco now. What should
    I get?" is of the moment)."""
    after = match["x"][len(employer) :]
    if not (_NOW_ALONE.match(after) or _AS_ROLE.match(after)):
        return False
    if s.text[match.end() :].strip(" .!") or "?" in s.turn:
        return False
    if " " in employer or employer.isupper() or "'" in employer or "’" in employer:
        return False
    return employer.casefold() not in _VENUES


def _there_now(match: re.Match[str], employer: str, s: Sentence) -> bool:
    """ "These days I'm at Meta", "I'm at Meta now": a capitalised name the user is at for a
    while, or now as against before if it is a company one is only at by working there
    (`_OFFICE_ONLY`) or a name said alone that looks like a firm's (`_firm_said_alone`:
    "I'm now at Globex"), with no word of travel or of a visit, that names no place (by its
    last word, or as a place the previous turn named: "I moved to Porto." "These days I'm
    at Porto")."""
    if TRIP.search(s.text) or _VISIT.search(s.text) or _PLACE_TAIL.search(employer):
        return False
    if not _WHILE_CUE.search(s.text):
        if not _NOW_CUE.search(s.text):
            return False
        if not (_OFFICE_ONLY.search(employer) or _firm_said_alone(match, employer, s)):
            return False
    places = {
        entity.name.casefold()
        for c in s.before or ()
        for entity in c.entities
        if entity.kind == "place"
    }
    return employer.casefold() not in places


_SWITCH_CUE = re.compile(
    r"\b(?:jobs?|compan(?:y|ies)|employers?|career|position|role|salary|hired|offer)\b",
    re.IGNORECASE,
)
"""Words that make a switch one of jobs ("I switched to Google, better salary"); "team" is
none ("I switched to Google Docs, the team loves it")."""


_SWITCHED_PRODUCT = re.compile(
    r"(?:Spotify|Netflix|Uber|Lyft|Airbnb|Dropbox|Twitter|Facebook|Figma|GitHub|GitLab|"
    r"Robinhood|Coinbase|DoorDash|Instacart|Bloomberg)$"
)
"""Companies whose product one switches to as often as one's job ("I switched to Spotify"
from another music app): a switch to one is a job change only in words of work."""


def _switched_to(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A new employer said as a switch, "I switched jobs to Stripe", "I switched to Google
    as a PM", "I switched to Google for the salary": a capitalised name that names no club
    or platform. With work only around the sentence, a company one works for
    (`_OFFICE_ONLY`) that is no product one switches to as often (`_SWITCHED_PRODUCT`): a
    word of work elsewhere in the turn ("My job was killing me. I switched to Google"), or
    an employer the user named earlier in the session ("I work at Meta." "I switched to
    Google last month"). Not said alone: one switches to an app, a brand or a search engine
    as often ("I switched to Spotify", "I switched to Google from Bing"), and not to a
    product around work ("I work at Meta." "I switched to Google Docs", "... to Firefox")."""
    employer = proper(match["x"])
    if not employer or NO_EMPLOYER.search(employer):
        return []
    role = _role_after(match["x"], employer, s)
    if role or match["what"] or _SWITCH_CUE.search(s.text):
        return [_employer(s, employer), *role]
    if not _OFFICE_ONLY.search(employer) or _SWITCHED_PRODUCT.match(employer):
        return []
    worked = "employer" in s.known or any(c.attribute == "employer" for c in s.before or ())
    return [_employer(s, employer)] if worked or _SWITCH_CUE.search(s.turn) else []


def _worked_at(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A job of the past, "I worked at Deloitte from March 2020 to May 2021", "I was at
    Deloitte between 2015 and 2018", "I worked for Google until 2019": true over the period
    said (`held_until`), with the works_at relation ending with it; a past value of the
    employer slot if it ended by when it was said (`past_value`: history, which retires
    no current employer), else a plain fact. Only with its end said: "I worked at Google
    for five years" may go on still. "Was at" only a company one is at by working there, or
    in a sentence of work ("I was at Stanford from 2015 to 2019" studied there; "I was at
    Disneyland" visited); "with" only such a company ("I was with Deloitte"; "I worked with
    Google" was a client)."""
    employer = _workplace(match["x"])
    if not employer or NO_EMPLOYER.search(employer):
        return []
    if match["was"] and not (JOB_CUE.search(s.text) or _OFFICE_ONLY.search(employer)):
        return []
    if match["prep"].lower() == "with" and not (match["was"] and _OFFICE_ONLY.search(employer)):
        return []  # "I worked with Google": a client
    if TRIP.search(s.text) or _VISIT.search(s.text):
        return []
    entities, relations = relate(s, "works_at", employer, "organisation")
    worked = fact(
        s,
        f"{s.label} worked at {employer}",
        importance=0.7,
        entities=entities,
        relations=relations,
    )
    held = held_until(worked, s)
    return [past_value(held, s, "employer", employer)] if held is not None else []


def _work_there_no_more(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """No longer working "there", "I no longer work there", "I don't work there anymore":
    the employer the previous turn named, if it named one (revision ends it only if it is
    current), else whichever the user had. Not "I don't work there" (it may never have)."""
    if not stopped(match, s):
        return []
    named = [c.value for c in s.before or () if c.attribute == "employer" and c.value]
    text = f"{s.label} no longer works " + (f"at {named[-1]}" if named else "there")
    return [ending(s, text, "employer", named[-1] if named else None, importance=0.7)]


_SINCE = re.compile(r"(?:\b(?:since|after|because|cause|cos)|'cause)\s+$", re.IGNORECASE)
"""A job loss given as the time or the reason of something else ("It's been tough since I
lost my job", "I'm my own boss 'cause I lost my job"): a loss told of before, not news (its
event is still kept, `_fact_rules`). As an ending it would supersede the one first told,
and with it the turn that told it (LoCoMo: "Lost my job as a banker yesterday", then
"... since I lost my job")."""


def _quit_job(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """No employer now: that one if named, else whichever the user had. Said as the user
    said it: a lay-off or a firing is no resignation, and a job lost ("I lost my job at
    the plant") is either. Where, in the words, even unnamed ("at the bakery"), and as
    what ("I lost my job as a banker")."""
    if _SINCE.search(s.text, 0, match.start()):
        return []  # "It's been tough since I lost my job": a loss told of before, not news
    employer = proper(match["x"])
    where = employer or clean(match["x"], s, max_words=6)
    role = clean(match["role"], s, max_words=4)
    how = " ".join((match["how"] or match["how2"]).lower().split())
    if how in ("quit", "left", "lost"):
        text = f"{s.label} {how} their job" + (f" as {role}" if role else "")
        text += f" at {where}" if where else ""
    else:
        verb = "was laid off" if "laid" in how else "was fired"
        text = f"{s.label} {verb}" + (f" from {where}" if where else "")
    return [ending(s, text, "employer", employer, entity="organisation", importance=0.7)]


def _hired_me(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """The employer said as who hired the user, "Netflix just hired me!", "Today Netflix
    hired me", "netflix hired me" (a well-known company in lower case), and the role if said
    ("Netflix hired me as a designer"): a name, not a pronoun ("They hired me"). A person
    who hired the user is no employer (`_hired_by_person`: "Maria hired me as a
    babysitter"; `_first_name`: "Maria hired me!"): the user works as the role, for them,
    or was hired by them ("Maria hired the user")."""
    raw = " ".join(match["x"].split())
    employer = _workplace(raw) if raw[0].isupper() else _COMPANY_NAMES.get(raw.casefold())
    if not employer or employer.split()[0].lower() in PRONOUNS or _off_site(employer):
        return []
    after = s.text[match.end() :]
    role = _role_from(after, s)
    if _hired_by_person(employer, role, after) or _first_name(employer):
        return _works_for(employer, role, after, s)
    return [_employer(s, employer), *role]


_FIRST_NAMES = frozenset(
    """adam alex alice amanda amy ana andrea andrew angela anna anne ben beth bob brian carla
    carlos carol caroline catherine charlie chris christina claire daniel david deborah diana
    diego elena elizabeth emily emma eric eva evan gina grace hannah helen isabel jack james
    jane jason jennifer jess jessica joana joanna joe john jon jonathan jose joseph juan julia
    karen kate katie laura linda lisa lucas lucia luis marco maria mariana mark marta martin
    mary matt melanie michael michelle mike nate nina olivia pablo paul pedro peter rachel
    rebecca robert rosa sam sara sarah sofia sophie steve susan thomas tim tom tomas tony
    """.split()
)
"""Common first names: "Maria hired me!" says who hired the user, a person, not an employer.
Curated and small, no firm's name among them ("Wendy", "Dell", "Tesla" are left out): a name
missing here is read as an employer's, as "Globex hired me!" must be."""


def _first_name(hirer: str) -> bool:
    """Whether `hirer` is a person named by a common first name, alone or with a surname
    ("Maria", "Maria Lopez"; not "Maria Hospital", which `_hired_by_person` reads as a
    workplace)."""
    words = hirer.split()
    return len(words) <= 2 and fold(words[0]) in _FIRST_NAMES and not _NAMED_WORKPLACE.search(hirer)


_HOUSEHOLD_JOBS = re.compile(
    r"\b(?:babysitter|baby-sitter|nanny|au\s+pair|dog[- ]?walker|pet[- ]?sitter|"
    r"house[- ]?sitter|dog[- ]?sitter|cat[- ]?sitter|housekeeper|house\s+cleaner|maid|"
    r"caregiver|carer|gardener|handyman|personal\s+(?:assistant|chef|driver))$",
    re.IGNORECASE,
)
"""Jobs one is hired for by a person or a family as often as by a firm ("Maria hired me as
a babysitter", "The Smiths hired me as a nanny")."""
_FOR_THEM = re.compile(r"^\s+as\s+(?:her|his)\s+(?P<role>[a-z]+(?:\s+[a-z]+)?)", re.IGNORECASE)
"""The role the user was hired for, said of the hirer as a person ("as her assistant")."""

_FIRM_TAILS = frozenset("Inc Corp Co Ltd LLC GmbH Group Labs Studios Media Partners".split())
"""Last words of a firm's name ("Acme Group")."""


def _hired_by_person(employer: str, role: list[Candidate], after: str) -> bool:
    """Whether who hired the user is a person, not an organisation: no firm's name (a
    well-known company, a company's suffix, a workplace's kind: "Acme Corp", "Santa Maria
    hospital"), and a household's job ("as a babysitter") or the hirer said to be "her" or
    "his" ("as her assistant"). A name alone cannot tell ("Globex hired me!" is an
    employer's), unless it is a common first name (`_first_name`: "Maria hired me!")."""
    if not any(word[0].isupper() for word in employer.split()):
        return False  # "the local gym": a place, unnamed
    if _OFFICE_ONLY.search(employer) or employer.casefold() in _COMPANY_NAMES:
        return False
    if _NAMED_WORKPLACE.search(employer) or employer.split()[-1] in _FIRM_TAILS:
        return False
    return any(_HOUSEHOLD_JOBS.search(str(c.value)) for c in role) or bool(_FOR_THEM.match(after))


def _works_for(employer: str, role: list[Candidate], after: str, s: Sentence) -> list[Candidate]:
    """The user's job for a person who hired them: the occupation, the role said ("as a
    babysitter", "as her assistant"), done for them; no role, no slot."""
    person = (EntityMention(employer, "person"),)
    said = _FOR_THEM.match(after) if not role else None
    if said:  # "as her assistant": "The user works as Maria Lopez's assistant"
        job = said["role"].lower()
        role = [_occupation(s, job)]
        text = f"{s.label} works as {employer}'s {job}"
    elif role:
        job = str(role[0].text).removeprefix(f"{s.label} works as ")
        text = f"{s.label} works as {job} for {employer}"
    else:
        return [fact(s, f"{employer} hired {s.label_within}", entities=person)]
    return [replace(role[0], text=text[0].upper() + text[1:], entities=person)]


_NEW_JOB_AFTER = re.compile(
    r"^\s*(?:(?:today|now|this\s+week|this\s+month|starting\s+(?:today|now))\s*)?$",
    re.IGNORECASE,
)
"""What may follow the employer of "New job at Netflix!": nothing but when."""


def _new_job(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A new job said as news with no verb, "New job at Netflix!", "Got a new job at Netflix
    today": the employer and the role if said ("New job at Netflix as a designer", "Got a
    new job: designer at Netflix"); nothing more after it ("New job at Netflix for my
    brother", "... posted on LinkedIn": no news of the user's)."""
    employer = _workplace(match["x"]) or _known_company(match["x"])
    if not employer or NO_EMPLOYER.search(employer):
        return []
    after = match["x"][len(employer) :]
    role = _role_after(match["x"], employer, s)
    if not role and not _NEW_JOB_AFTER.match(after):
        return []
    if match["role"] and not role:  # "New job: designer at Globex"
        job = " ".join(word if word.isupper() else word.lower() for word in match["role"].split())
        role = [_occupation(s, job if _ARTICLE.match(job) else with_article(job))]
    return [_employer(s, employer), *role]


def _job_to_come(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A job still to start, "I start at Google next month", "Starting Monday I'll be
    working at Initech", "I'm joining Meta in June": a plan, as a move to come is
    (`_fact_rules._moving`), true from the date said ("The user will start working at Google
    in April 2025"), with no employer yet: the one of now stays until then. Said in the
    present ("I start", "I'm joining"), only with a date to come; said with "will" or "going
    to", a plan even undated. Joining only a company, or with a word of work or a role ("I'm
    joining Tom for dinner next week" is no job)."""
    employer = _workplace(match["x"]) or _known_company(match["x"])
    if not employer or NO_EMPLOYER.search(employer) or _off_site(employer):
        return []
    if _first_name(employer):
        return []  # "I'll work for Maria next week": a person, no employer
    if _OWNED.match(match["x"], len(employer)) or _CLUB_CUE.search(s.text):
        return []  # "I'll be working at Google's booth", "I start at Stanford's course"
    role = _role_after(match["x"], employer, s)
    if match["join"] and not (role or _OFFICE_ONLY.search(employer) or JOB_CUE.search(s.text)):
        return []
    if not _to_come(s) and (s.times or not match["will"]):
        return []
    return _job_plan(s, employer, role)


def _to_come(s: Sentence) -> bool:
    """Whether the sentence's first time is to come: a day after the one it was said on."""
    return bool(s.times) and s.times[0].start.date() > s.said_at.date()


_FROM_THEN = re.compile(r"\b(?:starting|from|as\s+of|beginning)\s+(?:on\s+)?$", re.IGNORECASE)
"""What opens the time a job begins at, said before it ("Starting Monday, I work at ...")."""


def _starts_then(s: Sentence, start: int) -> bool:
    """Whether the sentence opens on when what it says at `start` begins, a time to come:
    "Starting next week, I work at Initech", "From Monday I work at Initech"."""
    if not _to_come(s) or s.times[0].position >= start:
        return False
    return bool(_FROM_THEN.search(s.text, 0, s.times[0].position))


def _job_plan(s: Sentence, employer: str, role: list[Candidate]) -> list[Candidate]:
    """The plan of a job to come at `employer`, as the role if said, dated by the sentence's
    first time: "The user will start working at Google as a designer in April 2025". Dated
    to come, the job is the employer (and the role the occupation) from then on, a value to
    come: revision ends the current one when it begins, and the profile changes then."""
    job = str(role[0].value) if role else None
    text = f"{s.label} will start working at {employer}" + (
        f" as {with_article(job)}" if job else ""
    )
    entities = (EntityMention(employer, "organisation"),)
    plan = fact(s, with_date(text, s), importance=0.7, entities=entities, metadata=TO_COME)
    if not _to_come(s):
        return [plan]
    values = [_employer(s, employer), *role]
    return [plan, *(replace(c, metadata={**c.metadata, **TO_COME}) for c in values)]


def _staff_of(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """The employer said as what the user is staff of, "I'm a Netflix employee now", "I'm a
    proud Google employee" (not "a former Netflix employee": `WORK_RULES` reads no past or
    future word there)."""
    employer = proper(match["x"])
    if not employer or employer.split()[0].lower() in PRONOUNS:
        return []
    return [_employer(s, employer)]


_HIRED_OPENER = (
    r"(?i:today|yesterday|tonight|(?:this|last)\s+(?:morning|afternoon|evening|night|week|"
    r"month)|so|well|and|but|then|now|wow|yay|omg|guess\s+what|finally|recently|also|just)"
)
"""What may open "Netflix hired me" before the name: when, or a word of news ("Today
Netflix hired me", "Guess what, Netflix hired me!")."""
_KNOWN_COMPANY = "|".join(
    re.escape(name).replace(r"\ ", r"\s+") for name in sorted(_COMPANY_NAMES, key=len)[::-1]
)
"""The well-known companies' names, longest first, to match in any case."""
_JOB_THING = r"\s+(?:search|hunt|hunting|applications?|interviews?|offers?|listings?|notes)\b"
"""What "my job" may be part of, no job ("I lost my job search notes")."""


WORK_RULES: tuple[Rule, ...] = (
    rule(
        rf"{ME}(?i:'m|\s+am)?{ADV}{NOT}{ADV}\s+(?i:work|working)\s+(?i:there)\b",
        _work_there_no_more,
        ("there",),
    ),
    rule(
        rf"{ME}{HAVE}?{ADV}\s+(?i:(?P<how>quit|left|lost)\s+my\s+job(?![\w'-]|{_JOB_THING})|"
        r"(?:got|was|been)(?:\s+just)?\s+(?P<how2>fired|laid\s+off))"
        r"(?i:\s+as\s+(?P<role>an?\s+[a-z]+(?:\s+[a-z]+)?))?"
        r"(?i:\s+(?:at|from)\s+(?P<x>[^,.;!?()\n]+))?",
        _quit_job,
        ("job", "fired", "laid off"),
    ),
    rule(
        rf"(?:{ME}(?i:'m|\s+am)?{ADV}{NOT}{ADV}\s+(?i:(?:work|working|employed){_MANNER}\s+"
        r"(?:at|for)|employed\s+by)"
        rf"|{ME}{HAVE}?{ADV}\s+(?i:(?:got|landed|took|accepted|have)\s+(?:a|the)\s+(?:new\s+)?job|"
        r"started\s+(?:(?:a|my)\s+new\s+job|working))"
        rf"\s+(?i:at|for|with)|{ME}(?:{ADV}(?i:\s+got|\s+was)|{HAVE}{ADV}\s+(?i:been)){ADV}\s+"
        r"(?i:hired\s+(?:by|at))"
        r"|(?i:my\s+(?:new\s+|current\s+)?(?:employer\s+is|job\s+is\s+(?:at|with|for))))\s+" + REST,
        _works_at,
        ("work", "job", "employ", "hired"),
    ),
    rule(
        rf"(?<![\w'-])(?i:job)(?P<neg>)\s+(?i:at|with|for)\s+(?=[{UP}]){REST}",
        _job_had,
        ("job",),
    ),
    rule(
        rf"^(?:{_HIRED_OPENER}[,:!]?\s+)*"
        r"(?!(?i:today|yesterday|tonight|last|this|next|on|in|so|well|and|but|then|now|wow|"
        r"yay|omg|guess|finally|recently|also|just)\b)"
        rf"(?P<x>[{UP}][\w&'-]*(?:\s+[{UP}][\w&'-]*){{0,2}}|(?i:{_KNOWN_COMPANY})(?![\w&'-]))"
        rf"(?:\s+(?i:has|had))?{ADV}\s+(?i:hired|recruited)\s+"
        r"(?i:me)\b(?!\s+(?i:to|for\s+(?:a|the|one|two|this))\b)",
        _hired_me,
        ("hired me", "recruited me"),
    ),
    rule(
        r"^(?:(?i:so|and|finally|yay|wow|guess\s+what)[,:!]?\s+)?"
        rf"(?i:(?:(?:I\s+)?got\s+(?:a|my)\s+)?new\s+job)"
        rf"(?:\s*[:–—-]\s*(?P<role>(?i:(?:an?\s+)?(?:[a-z-]+\s+){{0,2}}(?:{JOBS}|PM|CEO|CTO|VP)))"
        r"(?![\w'-]))?\s+(?i:at|with)\s+"
        rf"(?=[{UP}]|(?i:{_KNOWN_COMPANY})(?![\w&'-])){REST}",
        _new_job,
        ("new job",),
    ),
    rule(
        rf"{I_AM}{ADV}\s+(?i:an?)\s+(?:(?!(?i:former|ex|retired|aspiring|future|would-be)\b)"
        rf"[a-z]+\s+)?(?P<x>[{UP}][\w&'-]*(?:\s+[{UP}][\w&'-]*){{0,2}})\s+"
        r"(?i:employee|staffer|staff\s+member)(?![\w'’-])",
        _staff_of,
        ("employee", "staff"),
    ),
    rule(
        rf"{ME}{ADV}\s+(?i:accepted|took)\s+(?i:an?|the|their)\s+(?i:(?:new\s+)?job\s+)?"
        rf"(?i:offer)\s+(?i:from|at|with)\s+(?=[{UP}]){REST}",
        _offer,
        ("offer",),
    ),
    rule(
        rf"{ME}{ADV}\s+(?i:accepted|took)\s+(?i:the|their)\s+"
        rf"(?P<x>[{UP}][\w&'-]*(?:\s+[{UP}][\w&'-]*){{0,2}})\s+(?i:(?:job\s+)?offer)\b",
        _offer,
        ("offer",),
    ),
    rule(
        rf"{ME}{ADV}\s+(?i:got|received)\s+(?i:an?\s+)?(?i:(?:new\s+)?job\s+)?(?i:offer)\s+"
        rf"(?i:from|at|with)\s+(?=[{UP}])(?P<x>[^,.;!?()\n]+?)\s+(?i:and\s+(?:I\s+)?"
        r"(?:accepted|took)\s+it)\b",
        _offer,
        ("offer",),
    ),
    rule(
        rf"{ME}(?i:\s+got|\s+was|'?ve\s+been|\s+have\s+been){ADV}\s+(?i:promoted)\s+"
        rf"(?i:to)\s+{REST}",
        _promoted,
        ("promoted",),
    ),
    rule(
        rf"{ME}{ADV}\s+(?i:worked|was\s+working|(?P<was>was))(?i:{_MANNER})\s+(?P<prep>(?i:at|for|with))\s+"
        rf"(?=(?i:the\s+)?[{UP}]){REST}",
        _worked_at,
        ("worked", "was"),
    ),
    rule(
        rf"{ME}(?i:'m|\s+am)?{ADV}{NOT}{ADV}\s+(?i:(?:work|working){_MANNER}\s+as)\s+{REST}",
        _works_as,
        ("work",),
    ),
    rule(
        rf"(?:{I_AM}|(?P<been>{ME}{HAVE}\s+been)){ADV}\s+(?P<prep>(?i:at|with))\s+(?=[{UP}])"
        + REST,
        _at_employer,
        (" at ", " with "),
    ),
    rule(
        rf"{ME}{HAVE}?{ADV}\s+(?i:switched)(?P<what>\s+(?i:jobs|companies|employers))?\s+"
        rf"(?i:to)\s+(?=[{UP}]){REST}",
        _switched_to,
        ("switched",),
    ),
    rule(
        rf"{ME}(?P<will>(?i:'ll|\s+will|(?:'m|\s+am)\s+going\s+to))?(?:(?i:'m|\s+am))?{ADV}\s+"
        r"(?i:(?:be\s+)?(?:start(?:ing)?|begin(?:ning)?)"
        r"(?:\s+(?:work(?:ing)?|(?:a|my)\s+(?:new\s+)?job))?\s+at|"
        rf"(?:be\s+working|work){_MANNER}\s+(?:at|for)|(?P<join>join(?:ing)?))\s+"
        rf"(?=[{UP}]|(?i:{_KNOWN_COMPANY})(?![\w&'-])){REST}",
        _job_to_come,
        ("start", "begin", "work", "join"),
    ),
    rule(
        rf"{ME}{HAVE}?{ADV}\s+(?i:joined|(?:started|began)\s+at)\s+{REST}",
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
        rf"{I_AM}{ADV}\s+(?P<role>(?i:an?)\s+(?:[a-z-]+\s+){{0,2}}(?i:{JOBS}))\s+(?i:at|for)\s+"
        r"(?=[a-z])" + REST,
        _role_at_lowercase,
        ("i'm", "i am", "im "),
    ),
    rule(
        rf"{ME}{HAVE}?{ADV}\s+(?i:became|become)\s+(?P<x>(?i:an?)\s+(?:[a-z-]+\s+){{0,2}}"
        rf"(?i:{JOBS}))(?![\w'-])",
        _became,
        ("became", "become"),
    ),
    rule(
        rf"{I_AM}{ADV}{NOT}{ADV}\s+(?P<x>(?i:an?)\s+(?:[a-z-]+\s+){{0,2}}(?i:{JOBS}))(?![\w'-])",
        _job_is,
        ("i'm", "i am", "im "),
    ),
    rule(
        rf"{ME}(?:{ADV}\s+(?i:teach)|(?i:'m|\s+am){ADV}\s+(?i:teaching))"
        rf"(?P<subject>(?:\s+(?!{_TEACH_END}\b)(?:[a-z]+|{LANGUAGES})){{0,3}})"
        rf"(?:\s+(?i:at)\s+(?=[{UP}]){REST}|(?=\s*(?:$|[,.;!?])|\s+{_TEACH_END}\b))",
        _teaches,
        ("teach",),
    ),
)
"""The work rules, most specific first."""


def _of_own_clause(build: Builder) -> Builder:
    """`build` reading only the times of the clause its match is in (`in_own_clause`): "work
    at Stripe is intense rn, big launch in December" restates Stripe, from when it was said,
    not from December."""

    def built(match: re.Match[str], s: Sentence) -> list[Candidate]:
        return build(match, in_own_clause(s, match.start()))

    return built


WORK_RULES = tuple(entry._replace(build=_of_own_clause(entry.build)) for entry in WORK_RULES)
