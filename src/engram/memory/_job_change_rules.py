"""Job change builders: a job lost or left ("I quit my job", "I no longer work there"),
taken ("Netflix hired me", "I joined Meta", "I accepted an offer from Meta", "I switched jobs
to Stripe", "I got promoted to senior engineer"), to come ("I start at Google next month":
`job_plan`), or held over a period now past ("I worked at Deloitte until 2021"); and a job
for a person who hired the user ("Maria hired me as a babysitter": `works_for`).
`_work_rules.WORK_RULES` holds their patterns, in its order."""

from __future__ import annotations

import re
from dataclasses import replace

from engram.memory._employer_rules import (
    ARTICLE,
    COMPANIES,
    COMPANY_NAMES,
    NAMED_WORKPLACE,
    OFFICE_ONLY,
    VISIT,
    bare_job,
    employer_slot,
    known_company,
    lowercase_employer,
    occupation_slot,
    off_site,
    role_after,
    role_from,
    workplace,
)
from engram.memory._phrases import (
    JOB_CUE,
    JOBS,
    NO_EMPLOYER,
    PRONOUNS,
    TRIP,
    Sentence,
    clean,
    ending,
    fact,
    held_until,
    past_value,
    proper,
    relate,
    stopped,
    with_article,
    with_date,
)
from engram.memory.candidates import Candidate, EntityMention
from engram.memory.entities import fold
from engram.memory.profile import TO_COME

__all__ = [
    "hired_by_person",
    "hired_me",
    "job_dropped",
    "job_plan",
    "job_to_come",
    "joined",
    "new_job",
    "offer",
    "promoted",
    "quit_job",
    "starts_then",
    "switched_to",
    "work_there_no_more",
    "worked_at",
    "works_for",
]


_CLUB_CUE = re.compile(
    r"\b(?:club|gym|choir|league|members?|membership|hobby|signed\s+up|classes|course|"
    r"semester|app|platform|server|subreddit|community)\b",
    re.IGNORECASE,
)
"""Words that say what was joined is no workplace ("I joined Strava, the running app")."""


_OWNED = re.compile(r"(?<=['’]s)\s+(?!(?i:as|in|on|at|last|this|since|today|now|back)\b)[a-z]")
"""A name's possession after it, what was joined ("Google's meetup", "Sara's book club");
not a firm named so ("McDonald's as a cashier", "McDonald's last month")."""


def joined(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A new employer, "I joined Meta as a designer", "I joined Meta last month", "I started
    at Stripe on Monday": a capitalised name, with a role or a word of work, or else one that
    names no club, team, school or platform, in a sentence of none ("I joined a gym", in
    lower case, is an event; so is "I joined Toastmasters")."""
    if not match["x"][0].isupper():
        return _joined_lowercase(match["x"], s)
    employer = proper(match["x"])
    if not employer or _OWNED.match(match["x"], len(employer)):
        return []
    role = role_after(match["x"], employer, s)
    if not role and not JOB_CUE.search(s.text):
        if NO_EMPLOYER.search(employer) or _CLUB_CUE.search(s.text):
            return []
    return [employer_slot(s, employer), *role]


def _joined_lowercase(raw: str, s: Sentence) -> list[Candidate]:
    """A new employer named in lower case, "i just started at microsoft": a well-known
    company, or another name (`lowercase_employer`) with a role or a word of work ("i
    just started at acme as a designer"): one joins a club, a gym or an app as often."""
    employer = lowercase_employer(raw, s)
    if not employer or NO_EMPLOYER.search(employer) or _CLUB_CUE.search(s.text):
        return []
    role = role_after(raw, employer, s)
    if role or employer in COMPANIES or JOB_CUE.search(s.text):
        return [employer_slot(s, employer), *role]
    return []


_TITLE = re.compile(
    rf"\b(?:{JOBS}|lead|head|vp|chief|supervisor|partner|principal|associate)\b", re.IGNORECASE
)
"""Words of a job title one is promoted to ("senior engineer", "team lead", "head of sales")."""


def promoted(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A promotion, "I got promoted to senior engineer": the occupation now (not "promoted
    to the next level", which names no job)."""
    job = clean(match["x"], s, max_words=5)
    if not job or not _TITLE.search(job):
        return []
    text = with_date(f"{s.label} got promoted to {job}", s)
    return [
        fact(s, text, kind="profile", attribute="occupation", value=bare_job(job), importance=0.8)
    ]


_SALE = re.compile(
    r"\b(?:house|home|apartment|flat|condo|car|property|place|sell|selling|sold|buyer|bid)\b",
    re.IGNORECASE,
)
"""Words of a sale: an offer accepted from a buyer is no job ("an offer from Zillow on our
house")."""


def offer(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A job offer taken, "I accepted an offer from Meta", "I got an offer from Meta and took
    it": the employer, a capitalised name, unless the sentence speaks of a sale."""
    employer = workplace(match["x"])
    if not employer or _SALE.search(s.text):
        return []
    return [employer_slot(s, employer), *role_after(match["x"], employer, s)]


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


def switched_to(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A new employer said as a switch, "I switched jobs to Stripe", "I switched to Google
    as a PM", "I switched to Google for the salary": a capitalised name that names no club
    or platform. With work only around the sentence, a company one works for
    (`OFFICE_ONLY`) that is no product one switches to as often (`_SWITCHED_PRODUCT`): a
    word of work elsewhere in the turn ("My job was killing me. I switched to Google"), or
    an employer the user named earlier in the session ("I work at Meta." "I switched to
    Google last month"). Not said alone: one switches to an app, a brand or a search engine
    as often ("I switched to Spotify", "I switched to Google from Bing"), and not to a
    product around work ("I work at Meta." "I switched to Google Docs", "... to Firefox")."""
    employer = proper(match["x"])
    if not employer or NO_EMPLOYER.search(employer):
        return []
    role = role_after(match["x"], employer, s)
    if role or match["what"] or _SWITCH_CUE.search(s.text):
        return [employer_slot(s, employer), *role]
    if not OFFICE_ONLY.search(employer) or _SWITCHED_PRODUCT.match(employer):
        return []
    worked = "employer" in s.known or any(c.attribute == "employer" for c in s.before or ())
    return [employer_slot(s, employer)] if worked or _SWITCH_CUE.search(s.turn) else []


def worked_at(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A job of the past, "I worked at Deloitte from March 2020 to May 2021", "I was at
    Deloitte between 2015 and 2018", "I worked for Google until 2019": true over the period
    said (`held_until`), with the works_at relation ending with it; a past value of the
    employer slot if it ended by when it was said (`past_value`: history, which retires
    no current employer), else a plain fact. Only with its end said: "I worked at Google
    for five years" may go on still. "Was at" only a company one is at by working there, or
    in a sentence of work ("I was at Stanford from 2015 to 2019" studied there; "I was at
    Disneyland" visited); "with" only such a company ("I was with Deloitte"; "I worked with
    Google" was a client)."""
    employer = workplace(match["x"])
    if not employer or NO_EMPLOYER.search(employer):
        return []
    if match["was"] and not (JOB_CUE.search(s.text) or OFFICE_ONLY.search(employer)):
        return []
    if match["prep"].lower() == "with" and not (match["was"] and OFFICE_ONLY.search(employer)):
        return []  # "I worked with Google": a client
    if TRIP.search(s.text) or VISIT.search(s.text):
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


def work_there_no_more(match: re.Match[str], s: Sentence) -> list[Candidate]:
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


def quit_job(match: re.Match[str], s: Sentence) -> list[Candidate]:
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


def hired_me(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """The employer said as who hired the user, "Netflix just hired me!", "Today Netflix
    hired me", "netflix hired me" (a well-known company in lower case), and the role if said
    ("Netflix hired me as a designer"): a name, not a pronoun ("They hired me"). A person
    who hired the user is no employer (`hired_by_person`: "Maria hired me as a
    babysitter"; `_first_name`: "Maria hired me!"): the user works as the role, for them,
    or was hired by them ("Maria hired the user")."""
    raw = " ".join(match["x"].split())
    employer = workplace(raw) if raw[0].isupper() else COMPANY_NAMES.get(raw.casefold())
    if not employer or employer.split()[0].lower() in PRONOUNS or off_site(employer):
        return []
    after = s.text[match.end() :]
    role = role_from(after, s)
    if hired_by_person(employer, role, after) or _first_name(employer):
        return works_for(employer, role, after, s)
    return [employer_slot(s, employer), *role]


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
    ("Maria", "Maria Lopez"; not "Maria Hospital", which `hired_by_person` reads as a
    workplace)."""
    words = hirer.split()
    return len(words) <= 2 and fold(words[0]) in _FIRST_NAMES and not NAMED_WORKPLACE.search(hirer)


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


def hired_by_person(employer: str, role: list[Candidate], after: str) -> bool:
    """Whether who hired the user is a person, not an organisation: no firm's name (a
    well-known company, a company's suffix, a workplace's kind: "Acme Corp", "Santa Maria
    hospital"), and a household's job ("as a babysitter") or the hirer said to be "her" or
    "his" ("as her assistant"). A name alone cannot tell ("Globex hired me!" is an
    employer's), unless it is a common first name (`_first_name`: "Maria hired me!")."""
    if not any(word[0].isupper() for word in employer.split()):
        return False  # "the local gym": a place, unnamed
    if OFFICE_ONLY.search(employer) or employer.casefold() in COMPANY_NAMES:
        return False
    if NAMED_WORKPLACE.search(employer) or employer.split()[-1] in _FIRM_TAILS:
        return False
    return any(_HOUSEHOLD_JOBS.search(str(c.value)) for c in role) or bool(_FOR_THEM.match(after))


def works_for(employer: str, role: list[Candidate], after: str, s: Sentence) -> list[Candidate]:
    """The user's job for a person who hired them: the occupation, the role said ("as a
    babysitter", "as her assistant"), done for them; no role, no slot."""
    person = (EntityMention(employer, "person"),)
    said = _FOR_THEM.match(after) if not role else None
    if said:  # "as her assistant": "The user works as Maria Lopez's assistant"
        job = said["role"].lower()
        role = [occupation_slot(s, job)]
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


def new_job(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A new job said as news with no verb, "New job at Netflix!", "Got a new job at Netflix
    today": the employer and the role if said ("New job at Netflix as a designer", "Got a
    new job: designer at Netflix"); nothing more after it ("New job at Netflix for my
    brother", "... posted on LinkedIn": no news of the user's)."""
    employer = workplace(match["x"]) or known_company(match["x"])
    if not employer or NO_EMPLOYER.search(employer):
        return []
    after = match["x"][len(employer) :]
    role = role_after(match["x"], employer, s)
    if not role and not _NEW_JOB_AFTER.match(after):
        return []
    if match["role"] and not role:  # "New job: designer at Globex"
        job = " ".join(word if word.isupper() else word.lower() for word in match["role"].split())
        role = [occupation_slot(s, job if ARTICLE.match(job) else with_article(job))]
    return [employer_slot(s, employer), *role]


def job_to_come(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A job still to start, "I start at Google next month", "Starting Monday I'll be
    working at Initech", "I'm joining Meta in June": a plan, as a move to come is
    (`_fact_rules._moving`), true from the date said ("The user will start working at Google
    in April 2025"), with no employer yet: the one of now stays until then. Said in the
    present ("I start", "I'm joining"), only with a date to come; said with "will" or "going
    to", a plan even undated. Joining only a company, or with a word of work or a role ("I'm
    joining Tom for dinner next week" is no job)."""
    employer = workplace(match["x"]) or known_company(match["x"])
    if not employer or NO_EMPLOYER.search(employer) or off_site(employer):
        return []
    if _first_name(employer):
        return []  # "I'll work for Maria next week": a person, no employer
    if _OWNED.match(match["x"], len(employer)) or _CLUB_CUE.search(s.text):
        return []  # "I'll be working at Google's booth", "I start at Stanford's course"
    role = role_after(match["x"], employer, s)
    if match["join"] and not (role or OFFICE_ONLY.search(employer) or JOB_CUE.search(s.text)):
        return []
    if not _to_come(s) and (s.times or not match["will"]):
        return []
    return job_plan(s, employer, role)


def _to_come(s: Sentence) -> bool:
    """Whether the sentence's first time is to come: a day after the one it was said on."""
    return bool(s.times) and s.times[0].start.date() > s.said_at.date()


_FROM_THEN = re.compile(r"\b(?:starting|from|as\s+of|beginning)\s+(?:on\s+)?$", re.IGNORECASE)
"""What opens the time a job begins at, said before it ("Starting Monday, I work at ...")."""


def starts_then(s: Sentence, start: int) -> bool:
    """Whether the sentence opens on when what it says at `start` begins, a time to come:
    "Starting next week, I work at Initech", "From Monday I work at Initech"."""
    if not _to_come(s) or s.times[0].position >= start:
        return False
    return bool(_FROM_THEN.search(s.text, 0, s.times[0].position))


def job_plan(s: Sentence, employer: str, role: list[Candidate]) -> list[Candidate]:
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
    values = [employer_slot(s, employer), *role]
    return [plan, *(replace(c, metadata={**c.metadata, **TO_COME}) for c in values)]


def job_dropped(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A job to come given up, "The Google job fell through", "I'm not joining Google after
    all", "I turned down the Google offer": the plan's ending (`TO_COME`, no value, negating
    the employer), which revision reads as the plan called off (`_revision_slots.calls_off`),
    the employer of now kept. Not of a person ("I'm not joining Tom after all"). The
    employer is `x`, else `y` ("I turned down the offer from Google")."""
    raw = str(match["x"] or match["y"])
    employer = workplace(raw) or known_company(raw)
    if not employer or _first_name(employer) or NO_EMPLOYER.search(employer):
        return []
    text = f"{s.label} is no longer going to work at {employer}"
    dropped = ending(s, text, "employer", employer, entity="organisation", importance=0.7)
    return [replace(dropped, metadata={**dropped.metadata, **TO_COME})]
