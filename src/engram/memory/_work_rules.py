"""Work slot rules: employer and occupation, their changes ("I joined Meta", "I quit my job",
"I retired") and the `works_at` relation; a student's role at a school ("I'm a junior at
NYU") is the school's (`_school_rules`). Part of the profile-slot rules
(`_profile_rules.PROFILE_RULES` holds them in its order).

Here: what the user does and where ("I work at Google", "I'm a nurse at Santa Maria", "I
teach math", "I'm at Meta now") and `WORK_RULES`, every work rule in its order (earlier
rules win overlapping spans), with the builders of job changes (`_job_change_rules`) and
the names of employers and jobs they read (`_employer_rules`)."""

from __future__ import annotations

import re
from dataclasses import replace

from engram.memory._employer_rules import (
    AS_ROLE,
    COMPANY_NAMES,
    COMPANY_SPELLINGS,
    NOT_A_JOB,
    OFFICE_ONLY,
    ROLE_TAIL,
    VISIT,
    bare_job,
    employer_slot,
    lowercase_employer,
    occupation_slot,
    off_site,
    role_after,
    workplace,
)
from engram.memory._job_change_rules import (
    hired_by_person,
    hired_me,
    job_plan,
    job_to_come,
    joined,
    new_job,
    offer,
    promoted,
    quit_job,
    starts_then,
    switched_to,
    work_there_no_more,
    worked_at,
    works_for,
)
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
    in_own_clause,
    proper,
    rule,
    stopped,
    with_date,
)
from engram.memory._school_rules import STUDENT, school_slot
from engram.memory.candidates import Candidate

__all__ = ["WORK_RULES"]

_TEACH_END = (
    r"(?i:at|to|for|in|on|with|from|online|now|and|this|next|every|part|full|remotely|here|"
    r"there)"
)
"""Where what one teaches ends ("math" of "I teach math to kids", "I teach math at ...")."""
_MANNER = r"(?:\s+(?:remotely|full[- ]time|part[- ]time|freelance|from\s+home))?"
"""How one works, between the verb and the employer ("I work remotely for Google")."""


def _works_at(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """The employer, and the occupation when the role follows ("I work at Google as a
    software engineer"); said in lower case, the name as a name (`lowercase_employer`), or
    the words as said ("a bakery"); no employer where or when one works ("i work at home")."""
    raw = match["x"]
    unnamed = ROLE_TAIL.split(raw, maxsplit=1)[0]  # "a bakery" of "a bakery as a cleaner"
    employer = workplace(raw) or lowercase_employer(raw, s) or clean(unnamed, s, max_words=6)
    if not employer or off_site(employer):
        return []
    if match["neg"]:
        return denied(match, s, "employer", employer, ("works at", "work at"))
    role = role_after(raw, employer, s)
    after = raw[raw.casefold().find(employer.casefold()) + len(employer) :]
    by = match[0][: match.start("x") - match.start()].split()[-1].lower()
    if by in ("for", "by") and hired_by_person(employer, role, after):  # "for Maria as a nanny"
        return works_for(employer, role, after, s)
    if starts_then(s, match.start()):
        return job_plan(s, employer, role)  # "Starting Monday, I work at Initech"
    return [employer_slot(s, employer), *role]


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
    employer = workplace(match["x"][named.end() :]) if named else None
    if employer and job.split()[-1].lower() not in NOT_A_JOB:
        return [occupation_slot(s, job), employer_slot(s, employer)]
    return [occupation_slot(s, job)]


def _ends_job(endings: list[Candidate]) -> list[Candidate]:
    """Occupation endings naming the job as the slot holds it (no article)."""
    return [
        replace(c, metadata={**c.metadata, "negates": bare_job(str(c.metadata["negates"]))})
        if "negates" in c.metadata
        else c
        for c in endings
    ]


def _role_at(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A job at a named employer, "I'm a software engineer at Google": the occupation and
    the employer; a student's role, "I'm a junior at NYU", the school. A role that is no
    job ("a regular at Joe's") says neither."""
    employer = workplace(match["x"])
    role = clean(match["role"], s, max_words=5)
    if not employer or not role:
        return []
    if role.split()[-1].lower() in STUDENT:
        return [school_slot(s, employer)]
    if role.split()[-1].lower() in NOT_A_JOB:
        return []
    return [occupation_slot(s, role), employer_slot(s, employer)]


def _role_at_lowercase(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A job at an employer named in lower case, "I'm a nurse at acme", "i'm an engineer at
    jp morgan": the occupation and the employer as `lowercase_employer` spells it; only an
    occupation's word (`JOBS`) as the role ("I'm a beast at chess" names no job), and no
    employer where or when one works ("a nurse at night", "at home", "at heart")."""
    employer = lowercase_employer(match["x"], s)
    role = clean(match["role"], s, max_words=5)
    if not employer or not role or off_site(employer):
        return []
    return [occupation_slot(s, role), employer_slot(s, employer)]


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
    employer = workplace(match["x"]) if match["x"] else None
    words = _LESSONS.sub("", " ".join(match["subject"].split())).split()
    subject = "" if words and words[0].lower() in _TAUGHT_WHOM else " ".join(words)
    if not employer and not subject:
        return []
    text = f"{s.label} teaches {subject}".rstrip() + (f" at {employer}" if employer else "")
    job = f"{subject} teacher".lstrip()
    found = [fact(s, text, kind="profile", attribute="occupation", value=job, importance=0.8)]
    return [*found, employer_slot(s, employer)] if employer else found


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
        return [ending(s, f"{s.label} is {job}", "occupation", bare_job(former))]
    if match["neg"]:
        how = "no longer" if stopped(match, s) else "not"
        return [ending(s, f"{s.label} is {how} {job}", "occupation", bare_job(job))]
    return [occupation_slot(s, job)]


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
    return [
        fact(s, text, kind="profile", attribute="occupation", value=bare_job(job), importance=0.8)
    ]


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
    "With" only a company (`OFFICE_ONLY`: "I'm with Deloitte now"; not "I'm with Sara
    now", nor "I've been with Sara for years")."""
    employer = proper(match["x"])
    if not employer or NO_EMPLOYER.search(employer):
        return []
    if match["prep"].lower() == "with" and not OFFICE_ONLY.search(employer):
        return []
    if match["been"]:
        long_ago = [time for time in s.times if time.granularity in ("month", "season", "year")]
        if not (long_ago or _SINCE_LONG.search(s.text)) or TRIP.search(s.text):
            return []
    elif not JOB_CUE.search(s.text) and not _there_now(match, employer, s):
        return []
    return [employer_slot(s, employer), *role_after(match["x"], employer, s)]


_WHILE_CUE = re.compile(r"\b(?:these\s+days|nowadays)\b", re.IGNORECASE)
"""A while, not a moment: "These days I'm at Meta" says for whom the user works."""
_NOW_CUE = re.compile(r"(?<!\bright\s)(?<!\bjust\s)\b(?:now|currently)\b", re.IGNORECASE)
"""Now, as against before: "I'm at Meta now", "I'm currently at Meta" (not "right now",
"just now": a moment)."""
_PLACE_TAIL = re.compile(
    r"\s(?:city|town|village|street|avenue|road|park|lake|river|beach|island|bay|airport|"
    r"station|mall|square)$",
    re.IGNORECASE,
)
_VENUES = frozenset(
    (
        *"""starbucks costco walmart target tesco ikea disneyland disney walgreens cvs safeway
        kroger aldi lidl asda waitrose primark zara sephora nordstrom chipotle subway dunkin
        panera heathrow gatwick coachella wembley legoland hilton marriott hyatt harvard
        stanford yale princeton oxford cambridge berkeley columbia cornell""".split(),
        *("whole foods", "best buy", "disney world"),
        *COMPANY_SPELLINGS,
        *(name.casefold() for name in COMPANY_SPELLINGS.values()),
    )
)
"""Names one is "at" as a customer, a guest, a visitor or a student: shops, chains,
airports, venues, hotels, universities, and the firms with branches one visits
(`COMPANY_SPELLINGS`)."""
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
    if not (_NOW_ALONE.match(after) or AS_ROLE.match(after)):
        return False
    if s.text[match.end() :].strip(" .!") or "?" in s.turn:
        return False
    if " " in employer or employer.isupper() or "'" in employer or "’" in employer:
        return False
    return employer.casefold() not in _VENUES


def _there_now(match: re.Match[str], employer: str, s: Sentence) -> bool:
    """ "These days I'm at Meta", "I'm at Meta now": a capitalised name the user is at for a
    while, or now as against before if it is a company one is only at by working there
    (`OFFICE_ONLY`) or a name said alone that looks like a firm's (`_firm_said_alone`:
    "I'm now at Globex"), with no word of travel or of a visit, that names no place (by its
    last word, or as a place the previous turn named: "I moved to Porto." "These days I'm
    at Porto")."""
    if TRIP.search(s.text) or VISIT.search(s.text) or _PLACE_TAIL.search(employer):
        return False
    if not _WHILE_CUE.search(s.text):
        if not _NOW_CUE.search(s.text):
            return False
        if not (OFFICE_ONLY.search(employer) or _firm_said_alone(match, employer, s)):
            return False
    places = {
        entity.name.casefold()
        for c in s.before or ()
        for entity in c.entities
        if entity.kind == "place"
    }
    return employer.casefold() not in places


def _staff_of(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """The employer said as what the user is staff of, "I'm a Netflix employee now", "I'm a
    proud Google employee" (not "a former Netflix employee": `WORK_RULES` reads no past or
    future word there)."""
    employer = proper(match["x"])
    if not employer or employer.split()[0].lower() in PRONOUNS:
        return []
    return [employer_slot(s, employer)]


_HIRED_OPENER = (
    r"(?i:today|yesterday|tonight|(?:this|last)\s+(?:morning|afternoon|evening|night|week|"
    r"month)|so|well|and|but|then|now|wow|yay|omg|guess\s+what|finally|recently|also|just)"
)
"""What may open "Netflix hired me" before the name: when, or a word of news ("Today
Netflix hired me", "Guess what, Netflix hired me!")."""
_KNOWN_COMPANY = "|".join(
    re.escape(name).replace(r"\ ", r"\s+") for name in sorted(COMPANY_NAMES, key=len)[::-1]
)
"""The well-known companies' names, longest first, to match in any case."""
_JOB_THING = r"\s+(?:search|hunt|hunting|applications?|interviews?|offers?|listings?|notes)\b"
"""What "my job" may be part of, no job ("I lost my job search notes")."""


WORK_RULES: tuple[Rule, ...] = (
    rule(
        rf"{ME}(?i:'m|\s+am)?{ADV}{NOT}{ADV}\s+(?i:work|working)\s+(?i:there)\b",
        work_there_no_more,
        ("there",),
    ),
    rule(
        rf"{ME}{HAVE}?{ADV}\s+(?i:(?P<how>quit|left|lost)\s+my\s+job(?![\w'-]|{_JOB_THING})|"
        r"(?:got|was|been)(?:\s+just)?\s+(?P<how2>fired|laid\s+off))"
        r"(?i:\s+as\s+(?P<role>an?\s+[a-z]+(?:\s+[a-z]+)?))?"
        r"(?i:\s+(?:at|from)\s+(?P<x>[^,.;!?()\n]+))?",
        quit_job,
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
        hired_me,
        ("hired me", "recruited me"),
    ),
    rule(
        r"^(?:(?i:so|and|finally|yay|wow|guess\s+what)[,:!]?\s+)?"
        rf"(?i:(?:(?:I\s+)?got\s+(?:a|my)\s+)?new\s+job)"
        rf"(?:\s*[:–—-]\s*(?P<role>(?i:(?:an?\s+)?(?:[a-z-]+\s+){{0,2}}(?:{JOBS}|PM|CEO|CTO|VP)))"
        r"(?![\w'-]))?\s+(?i:at|with)\s+"
        rf"(?=[{UP}]|(?i:{_KNOWN_COMPANY})(?![\w&'-])){REST}",
        new_job,
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
        offer,
        ("offer",),
    ),
    rule(
        rf"{ME}{ADV}\s+(?i:accepted|took)\s+(?i:the|their)\s+"
        rf"(?P<x>[{UP}][\w&'-]*(?:\s+[{UP}][\w&'-]*){{0,2}})\s+(?i:(?:job\s+)?offer)\b",
        offer,
        ("offer",),
    ),
    rule(
        rf"{ME}{ADV}\s+(?i:got|received)\s+(?i:an?\s+)?(?i:(?:new\s+)?job\s+)?(?i:offer)\s+"
        rf"(?i:from|at|with)\s+(?=[{UP}])(?P<x>[^,.;!?()\n]+?)\s+(?i:and\s+(?:I\s+)?"
        r"(?:accepted|took)\s+it)\b",
        offer,
        ("offer",),
    ),
    rule(
        rf"{ME}(?i:\s+got|\s+was|'?ve\s+been|\s+have\s+been){ADV}\s+(?i:promoted)\s+"
        rf"(?i:to)\s+{REST}",
        promoted,
        ("promoted",),
    ),
    rule(
        rf"{ME}{ADV}\s+(?i:worked|was\s+working|(?P<was>was))(?i:{_MANNER})\s+(?P<prep>(?i:at|for|with))\s+"
        rf"(?=(?i:the\s+)?[{UP}]){REST}",
        worked_at,
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
        switched_to,
        ("switched",),
    ),
    rule(
        rf"{ME}(?P<will>(?i:'ll|\s+will|(?:'m|\s+am)\s+going\s+to))?(?:(?i:'m|\s+am))?{ADV}\s+"
        r"(?i:(?:be\s+)?(?:start(?:ing)?|begin(?:ning)?)"
        r"(?:\s+(?:work(?:ing)?|(?:a|my)\s+(?:new\s+)?job))?\s+at|"
        rf"(?:be\s+working|work){_MANNER}\s+(?:at|for)|(?P<join>join(?:ing)?))\s+"
        rf"(?=[{UP}]|(?i:{_KNOWN_COMPANY})(?![\w&'-])){REST}",
        job_to_come,
        ("start", "begin", "work", "join"),
    ),
    rule(
        rf"{ME}{HAVE}?{ADV}\s+(?i:joined|(?:started|began)\s+at)\s+{REST}",
        joined,
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
