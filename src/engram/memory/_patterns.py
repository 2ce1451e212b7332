"""Regex blocks of the first-person rules: the speaker as subject ("I", "I'm", "I've"), the
adverbs and negation around the verb, a rule's object (`REST`, `NAME`), and the cue words
several rules share (of work, of a trip, of what is no employer).

Patterns are case-sensitive so that `NAME` only takes capitalised names; the first-person
and verb parts are wrapped in `(?i:...)` instead."""

from __future__ import annotations

import re

__all__ = [
    "ADV",
    "AND_MY_CONTACT",
    "COUNTS",
    "DEMONYMS",
    "DIETS",
    "EMAIL",
    "FAITHS",
    "HAVE",
    "I_AM",
    "JOBS",
    "JOB_CUE",
    "ME",
    "NAME",
    "NO_EMPLOYER",
    "NOT",
    "OOPS",
    "PERSON_TITLE",
    "PHONE_NUMBER",
    "PRONOUNS",
    "REST",
    "STIRRED",
    "TITLE_DOT",
    "STAY",
    "TRIP",
    "UP",
    "WE",
]

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
DEMONYMS = frozenset(
    """american brazilian portuguese spanish english british french german italian dutch irish
    scottish welsh swiss swedish danish norwegian finnish icelandic polish russian ukrainian
    belarusian greek turkish cypriot maltese austrian belgian czech slovak hungarian romanian
    bulgarian serbian croatian bosnian slovenian albanian macedonian lithuanian latvian
    estonian chinese japanese korean thai vietnamese filipino indonesian malaysian
    singaporean taiwanese mongolian indian pakistani bangladeshi nepali nepalese afghan
    iranian persian iraqi syrian lebanese israeli palestinian jordanian saudi emirati qatari
    kuwaiti yemeni arab kurdish armenian georgian azerbaijani kazakh uzbek mexican canadian
    australian aussie kiwi african nigerian kenyan ghanaian ethiopian somali ugandan
    tanzanian zimbabwean egyptian moroccan algerian tunisian libyan sudanese senegalese
    congolese cameroonian argentinian argentine chilean colombian peruvian venezuelan
    ecuadorian bolivian uruguayan paraguayan cuban dominican haitian jamaican caribbean
    european scandinavian asian latina latino latinx hispanic""".split()
)
"""Nationalities, demonyms and peoples: what someone is, never who ("I'm Brazilian", "my
husband is italian")."""
FAITHS = frozenset(
    """jewish muslim christian catholic protestant orthodox evangelical baptist methodist
    lutheran anglican mormon buddhist hindu sikh jain pagan atheist agnostic""".split()
)
"""Faiths (and their absence): what someone is, never who ("my wife is Catholic")."""
PRONOUNS = frozenset(
    """i me you he she it we they this that these those who what which there here someone
    somebody everyone everybody nobody""".split()
)
"""Words that open a sentence capitalised in a name's place and name no one ("She is my
girlfriend", "This is my boss"): the one meant is named elsewhere, or not at all."""
JOBS = (
    r"teacher|nurse|doctor|physician|surgeon|dentist|pharmacist|vet|veterinarian|therapist|"
    r"counsel(?:l)?or|psychologist|engineer|developer|programmer|designer|architect|manager|"
    r"lawyer|attorney|accountant|consultant|analyst|scientist|researcher|professor|lecturer|"
    r"librarian|journalist|editor|writer|photographer|chef|cook|baker|barista|bartender|"
    r"waiter|waitress|cashier|pilot|driver|electrician|plumber|carpenter|mechanic|farmer|"
    r"firefighter|paramedic|police\s+officer|officer|soldier|realtor|translator|"
    r"interpreter|economist|technician|administrator|secretary|receptionist|clerk|"
    r"paralegal|caregiver|nanny|tutor|instructor|coach|midwife|freelancer|entrepreneur|"
    r"founder|ceo|cto|cfo|director|executive|product\s+manager|data\s+scientist|"
    r"software\s+engineer|web\s+developer|social\s+worker|flight\s+attendant"
)
"""Words of an occupation: what "I'm a teacher" says is the user's job (not "I'm a mess"),
and what someone is, never who ("my wife is Nurse")."""
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
OOPS = r"(?i:\b(?:no\s+wait|wait|oops|sorry|my\s+(?:mistake|bad)|correction))"
"""The opener of a correction ("Oops, ...", "My bad, ...")."""
NOT = r"(?P<neg>\s+(?i:don't|dont|do\s+not|no\s+longer|never|not|used\s+to))?"
"""An optional negation after the subject ("I don't live", "I'm no longer working", "I used
to work"): a slot rule with it builds an `ending` when it is there, a value when not."""
EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w@-])"
"""An email address, all of it and nothing else ("bob@new.com" of "... bob@new.com."): the
local part, an "@", a domain with a dot and a top-level name of letters."""
PHONE_NUMBER = r"\+?\(?\d[\d ().-]{5,}\d(?!\w)"
"""A phone number, "555-0100", "+1 (555) 123-4567": digits with the spaces, dashes, dots and
brackets written inside (a rule counts the digits: seven at least)."""
AND_MY_CONTACT = (
    r"\s+(?i:and)\s+(?i:my)\s+(?i:new\s+)?(?i:e-?mail|phone|number|cell|mobile|address)\b"
)
"""Where a clause ends that a contact detail follows ("I live in Denver and my email is ..."):
the next statement, no part of the value before it."""
PERSON_TITLE = r"(?:Dr|Mr|Mrs|Ms|Mx|Prof)\."
"""A person's title written with its full stop ("Dr.", "Mrs.")."""
TITLE_DOT = r"(?:(?<=\b(?:St|Dr|Mr|Ms|Mt|Jr|Sr))|(?<=\bMrs)|(?<=\b[A-Z]))\."
"""The full stop of a title or initial ("St.", "Dr.", "J."), part of a name."""
REST = rf"(?P<x>(?:[^,.;!?()\n]|{TITLE_DOT}(?=\s*[{UP}](?:[a-z]|\.|$))|\.(?=\w))+)"
"""A rule's object: the rest of the clause ("St. Mary's Hospital" whole, and a full stop
inside a word: "ana@example.com", "Node.js")."""
NAME = rf"(?P<x>(?:{PERSON_TITLE}\s+)?[{UP}][\w'-]+(?:\s+[{UP}][\w'-]+)?)"
"""A capitalised name of one or two words, with the title it may be said with ("Dr. Lopez":
one name, not "Dr" and "Lopez")."""
STIRRED = r"(?i:to\s+(?:tears|laughter))\b"
"""What one is "moved to" who is moved, not moving ("Moved to tears by the ending"): no
move, no event."""
_SEASON = (
    r"for\s+(?:a|the|two|three|a\s+few|a\s+couple\s+of)\s+months?|"
    r"for\s+(?:the\s+|this\s+)?(?:summer|winter|spring|autumn|fall|semester|season)"
)
STAY = re.compile(rf"\b(?:{_SEASON})\b", re.IGNORECASE)
"""A stay bounded by its season ("moved to Porto for the summer", "for a few months"): a
move said with it is no new home."""
TRIP = re.compile(
    r"\b(?:trip|vacation|holidays?|weekend|conference|visit(?:ing)?|flight|hotel|tour|"
    r"business|meeting|for\s+(?:a|the|two|three|a\s+few|a\s+couple\s+of)\s+"
    rf"(?:days?|nights?|weeks?|weekend)|{_SEASON})\b",
    re.IGNORECASE,
)
"""Words of a stay away from home ("in Rome for a conference", "for the summer"): no move,
no new job."""
