"""Employer and occupation as said: the slots they fill (`employer_slot`,
`occupation_slot`), the names of companies and workplaces ("Google", "jp morgan", "Santa Maria
hospital"), where or when one works that is no employer ("at home", "at 7am"), and the role
said after an employer ("Meta as a designer": `role_after`, `with_role`). What the work rules
(`_work_rules`, `_job_change_rules`) read a job with."""

from __future__ import annotations

import re

from engram.memory._phrases import (
    JOBS,
    Sentence,
    clean,
    fact,
    lowercase_place,
    proper,
    related_slot,
)
from engram.memory.candidates import NO_VALUE, Candidate
from engram.memory.queries import STOPWORDS

__all__ = [
    "ARTICLE",
    "AS_ROLE",
    "COMPANIES",
    "COMPANY_NAMES",
    "COMPANY_SPELLINGS",
    "NAMED_WORKPLACE",
    "NOT_A_JOB",
    "OFFICE_ONLY",
    "ROLE_TAIL",
    "VISIT",
    "bare_job",
    "employer_slot",
    "known_company",
    "lowercase_employer",
    "moved_to_company",
    "occupation_slot",
    "off_site",
    "role_after",
    "role_from",
    "with_role",
    "workplace",
]


def employer_slot(s: Sentence, employer: str) -> Candidate:
    """The user's employer slot, with the works_at relation it states."""
    return related_slot(s, "employer", employer, f"{s.label} works at {employer}", 0.8)


ARTICLE = re.compile(r"^(?:an?|the)\s+", re.IGNORECASE)


def bare_job(job: str) -> str:
    """An occupation without its article: "a nurse" -> "nurse", "the head nurse" -> "head
    nurse" (the value; the text says it as it was said)."""
    return ARTICLE.sub("", job, count=1) or job


def occupation_slot(s: Sentence, job: str) -> Candidate:
    """The user's occupation slot ("a software engineer": value "software engineer")."""
    return fact(
        s,
        f"{s.label} works as {job}",
        kind="profile",
        attribute="occupation",
        value=bare_job(job),
        importance=0.8,
    )


_WORKPLACE = (
    r"hospital|clinic|school|university|college|academy|institute|bank|bakery|caf[eé]|"
    r"restaurant|bar|pub|hotel|library|museum|gallery|pharmacy|store|shop|supermarket|"
    r"market|lab|laboratory|studio|agency|firm|center|centre|theat(?:re|er)|airport|"
    r"factory|warehouse|salon|church|hall|foundation|company|hq"
)
NAMED_WORKPLACE = re.compile(rf"\s+(?:{_WORKPLACE})\b", re.IGNORECASE)


def workplace(raw: str | None) -> str | None:
    """The capitalised name opening `raw`, with the kind of place it names if that follows
    in lower case ("Santa Maria hospital" of "Santa Maria hospital in Lisbon")."""
    name = proper(raw)
    if not raw or not name:
        return name
    rest = raw.strip()[len(name) :]
    kind = NAMED_WORKPLACE.match(rest)
    return name + kind[0] if kind else name


_OFF_SITE = frozenset(
    "home night nights day days weekend weekends morning mornings evening evenings midnight "
    "shift shifts hours".split()
)
"""Where or when one works that is no employer ("i work at home", "I work at night shifts")."""
ROLE_TAIL = re.compile(r"\s+(?:as|full[- ]time|part[- ]time|remotely)\b", re.IGNORECASE)
"""Where an employer's name ends, before the role or manner of the work ("google as a PM")."""


def known_company(raw: str) -> str | None:
    """The well-known company `raw` opens with, in any case, spelt as it spells itself
    ("google as a PM": "Google", "jp morgan": "J.P. Morgan")."""
    words = raw.split()
    for size in (3, 2, 1):
        known = COMPANY_NAMES.get(" ".join(words[:size]).casefold())
        if known:
            return known
    return None


def lowercase_employer(raw: str, s: Sentence) -> str | None:
    """An employer named in lower case: a well-known company in any case, spelt as it spells
    itself ("i work at google", "I work at openai": "Google", "OpenAI"), or a name by one who
    writes names in lower case, title-cased as a place after a move is (`lowercase_place`:
    "i work at acme" -> "Acme"; not "a bakery", "home", "night")."""
    return known_company(raw) or lowercase_place(
        ROLE_TAIL.split(raw, maxsplit=1)[0], s, after_move=True
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


def off_site(phrase: str) -> bool:
    """Whether `phrase` says where or when one works, not for whom ("home", "night and
    weekends", "7am", "the moment", "heart"; not "home depot")."""
    if _WHEN.match(phrase):
        return True
    words = phrase.lower().split()
    if words[0] in _AT_IDIOMS:
        return True
    return words[0] in _OFF_SITE and (len(words) == 1 or words[1] in _OFF_SITE | STOPWORDS)


def role_after(rest: str, employer: str, s: Sentence) -> list[Candidate]:
    """The occupation an employer's name is followed by: "Meta as a designer", past words
    of when ("Google now as a PM", "Stripe last month as a designer"); a role that is no
    job is none ("Google's meetup as a guest")."""
    at = rest.casefold().find(employer.casefold())
    return role_from(rest[at + len(employer) :], s) if at >= 0 else []


_NOT_A_ROLE = frozenset(
    """result consequence team group whole family couple pair bonus favor favour gift joke way
    matter courtesy precaution backup reminder surprise kid child teen teenager start""".split()
)
"""What one is "as" that is no role ("as a result of the layoffs", "as a team")."""
_JOB_WORD = re.compile(rf"\b(?:{JOBS}|PM|CEO|CTO|CFO|VP)$", re.IGNORECASE)


def role_from(after: str, s: Sentence) -> list[Candidate]:
    """The occupation said at the start of `after`, the words after an employer or a hire
    ("as a designer", "now as a PM", "last month as a designer"): none for a role that is no
    job ("as a guest", "as a result of the layoffs")."""
    role = AS_ROLE.match(after)
    job = clean(role["role"], s, max_words=5) if role else None
    if not job or job.split()[-1].lower() in NOT_A_JOB:
        return []
    if bare_job(job).split()[0].lower() in _NOT_A_ROLE:
        return []
    return [occupation_slot(s, job)]


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
    role = role_after(clause, str(employers[-1].value), s)
    if employers[-1].metadata.get("guessed"):  # "I switched from Farfetch to Google as a PM"
        role = [c for c in role if _JOB_WORD.search(str(c.value))]
    return [*candidates, *role]


NOT_A_JOB = frozenset(
    "member regular fan customer client guest volunteer patient student visitor subscriber "
    "user intern".split()
)


AS_ROLE = re.compile(
    r"(?:\s+(?:now|currently|still|full[- ]time|part[- ]time|remotely|"
    r"(?:last|this|next)\s+(?:week|month|year|spring|summer|fall|autumn|winter)|"
    r"(?:since|in)\s+(?-i:[A-Z])\w+))*\s+as\s+(?P<role>an?\s+[^,.;!?()\n]+)",
    re.IGNORECASE,
)
COMPANIES = tuple(
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
COMPANY_SPELLINGS = {
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
(`OFFICE_ONLY`: "I'm at Home Depot now" says where)."""
COMPANY_NAMES = {
    **{name.casefold(): name for name in reversed(COMPANIES)},
    **COMPANY_SPELLINGS,
}
"""The companies by their name in any case ("nvidia": the first spelling, "Nvidia")."""
OFFICE_ONLY = re.compile(
    "^(?:" + "|".join(re.escape(name).replace(r"\ ", r"\s+") for name in COMPANIES) + ")$"
    r"|\s(?:Inc|Corp|Corporation|LLC|Ltd|GmbH|Labs|Technologies|Software|Systems|Consulting|"
    r"Capital|Ventures|Analytics|Solutions)\.?$"
)
"""Names one is "at" only by working there: companies with no shop, branch or venue to
visit, and names with a company's suffix ("Acme Corp", "Hooli Labs"). "I'm at Starbucks now"
says where, not for whom, even just after a turn that named the employer ("I work at
Google. I'm at Starbucks now, on my laptop"): a false job change would retire the real
employer, a missed one only waits for plainer words."""
VISIT = re.compile(r"\b(?:interview(?:ing)?|onsite|on-site|visitors?|guest|event)\b", re.I)
"""Why one may be at a company for a day, working elsewhere ("I'm at Google now for an
interview")."""


def moved_to_company(s: Sentence, name: str) -> list[Candidate]:
    """A move to a company, "I moved to Meta last month": a new employer, not a home (any
    other name one moves to is a place)."""
    return [employer_slot(s, name)] if OFFICE_ONLY.search(name) else []
