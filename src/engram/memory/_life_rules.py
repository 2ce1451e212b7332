"""Health and pastimes rules: intolerances, conditions, pregnancy, the languages the user
speaks, their hobbies, what they train for, their car and their phone; what they can do
("I can swim") and eat, drink or smoke ("I eat meat"), read beside the other rules. Part of
the fact rules (`_fact_rules` holds them in its order)."""

from __future__ import annotations

import re

from engram.memory._phrases import (
    ADV,
    HAVE,
    I_AM,
    ME,
    REST,
    UP,
    Rule,
    Sentence,
    clean,
    fact,
    rule,
    slug,
    specific,
    stopped,
    with_article,
    with_date,
)
from engram.memory.candidates import Candidate

__all__ = ["ALONGSIDE_RULES", "LANGUAGES", "LIFE_RULES", "hobby_of"]


def _intolerant(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """An intolerance, "I'm lactose intolerant", "I have a gluten intolerance", "I'm
    intolerant to fructose": the `intolerance:` slot of what (never the diet: a vegan may be
    lactose intolerant)."""
    thing = clean(match["x"] or match["y"] or match["z"], s, max_words=3)
    if not thing:
        return []
    text = f"{s.label} is intolerant to {thing}"
    attribute = "intolerance:" + slug(thing)
    return [fact(s, text, kind="profile", attribute=attribute, value="intolerant")]


_CONDITIONS = (
    r"(?:type\s+[12]\s+)?diabetes|asthma|adhd|autism|anxiety|depression|arthritis|"
    r"celiac(?:\s+disease)?|coeliac(?:\s+disease)?|epilepsy|migraines|hypertension|"
    r"high\s+blood\s+pressure|high\s+cholesterol|eczema|psoriasis|ibs|crohn's(?:\s+disease)?|"
    r"colitis|lupus|cancer|insomnia|pcos|endometriosis|copd|fibromyalgia|multiple\s+sclerosis|"
    r"sleep\s+apnea|tinnitus|dyslexia|bipolar(?:\s+disorder)?|ptsd|ocd|a\s+heart\s+condition"
)
"""Lasting health conditions one has ("I have asthma"), not a passing cold."""
_CONDITION_OF = {
    "diabetic": "diabetes",
    "asthmatic": "asthma",
    "epileptic": "epilepsy",
    "celiac": "celiac disease",
    "coeliac": "celiac disease",
    "autistic": "autism",
    "dyslexic": "dyslexia",
    "anemic": "anemia",
}
"""A condition said as what one is ("I'm diabetic")."""
_CONDITION_ADJECTIVES = "|".join(_CONDITION_OF)
_ACRONYMS = frozenset("adhd ibs pcos copd ptsd ocd".split())


def _condition(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A health condition, "I have asthma", "I was diagnosed with ADHD", "I'm diabetic"."""
    said = " ".join((match["x"] or match["y"]).split())
    condition = _CONDITION_OF.get(said.lower(), said)
    if condition.lower() in _ACRONYMS:
        condition = condition.upper()
    text = f"{s.label} has {condition}"
    attribute = "condition:" + slug(condition)
    return [fact(s, text, kind="profile", attribute=attribute, value="has", importance=0.8)]


def _pregnant(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A pregnancy, "I'm pregnant", "I'm 20 weeks pregnant"."""
    how = " ".join((match["x"] or "").split())
    text = f"{s.label} is {how + ' ' if how else ''}pregnant"
    return [fact(s, text, kind="profile", attribute="pregnant", value="yes", importance=0.8)]


LANGUAGES = (
    r"English|Spanish|French|German|Italian|Portuguese|Mandarin|Chinese|Cantonese|Japanese|"
    r"Korean|Arabic|Hindi|Urdu|Bengali|Punjabi|Russian|Ukrainian|Polish|Czech|Dutch|Swedish|"
    r"Norwegian|Danish|Finnish|Greek|Turkish|Hebrew|Persian|Farsi|Vietnamese|Thai|"
    r"Indonesian|Tagalog|Swahili|Hungarian|Romanian|Catalan|Irish|Welsh|Latin|ASL|"
    r"sign\s+language"
)
"""The languages one speaks, or teaches ("I teach Spanish": a Spanish teacher)."""
_LANGUAGE = rf"(?i:{LANGUAGES})(?![\w-])"
"""A language however written: "spanish" is Spanish in a chat typed in lower case."""
_LANGUAGE_NAMES = {name.lower(): name for name in LANGUAGES.replace(r"\s+", " ").split("|")}
"""Each language as it is written ("spanish": "Spanish", "asl": "ASL")."""
_LANGUAGE_LIST = rf"(?P<langs>{_LANGUAGE}(?:(?:,\s*|,?\s+and\s+|\s*&\s*){_LANGUAGE})*)"
_SPEAKS = {
    "speak": ("speaks", "speaks"),
    "in": ("fluent", "is fluent in"),
    "learning": ("learning", "is learning"),
    "studying": ("learning", "is learning"),
    "native": ("native", "is a native speaker of"),
}
"""The last word of how a language is said, and its slot value and verb."""


def _languages(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """Languages the user speaks, is fluent in, is learning or is a native speaker of ("I
    speak Spanish and French"): the `language:` slot of each."""
    said = match["how"].lower().split()[-1] if match["how"] else "native"
    value, verb = _SPEAKS[said]
    said_names = re.split(r",\s*(?:and\s+)?|\s+and\s+|\s*&\s*", match["langs"])
    names = [_LANGUAGE_NAMES[" ".join(name.lower().split())] for name in said_names if name]
    return [
        fact(
            s,
            f"{s.label} {verb} {name}",
            kind="profile",
            attribute="language:" + slug(name),
            value=value,
        )
        for name in names
    ]


_HOW_OFTEN = re.compile(
    r"(?:^|\s+)(?:every|each|on|at|in|with|since|for|most|mostly|twice|once|three\s+times|"
    r"a\s+lot|daily|weekly|regularly|lately|ever|now|again|and|or|one|online|hard|"
    r"sometimes|often|always|usually|occasionally|together|too|\w+ly)\b.*",
    re.IGNORECASE,
)
"""When, how often, how or with whom one plays, after what ("tennis every weekend": tennis;
"I've been playing professionally": nothing)."""
_FOR_YEARS = re.compile(
    r"\b(?:for|since)\s+(?:\d+|a\s+few|many|several|\w+)\s+years\b|"
    r"\bsince\s+(?:I\s+was|childhood|\d{4})\b",
    re.IGNORECASE,
)
_PLAYS = {
    "play": "plays",
    "playing": "plays",
    "practice": "practices",
    "practicing": "practices",
    "practise": "practises",
    "go": "goes",
}
_A_LOT_OF = re.compile(r"^\s*(?:a\s+lot\s+of|lots\s+of|some)\s+", re.IGNORECASE)


_GAMBLE = re.compile(
    r"^(?:the\s+)?(?:lottery|lotto|powerball|mega\s+millions|scratch(?:ers|\s+cards?|-offs?))$",
    re.IGNORECASE,
)
"""What one plays for a prize, not as a pastime: a plain fact, no `hobby:` slot."""


def _plays(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A pastime, "I play tennis every weekend", "I've been playing the guitar for years",
    "I go hiking on weekends", "I practice yoga": the `hobby:` slot of it. Not what one is
    playing these days ("I'm playing The Witcher 3"): a pastime goes on for years; nor the
    lottery (a plain fact)."""
    if match["verb"].lower().endswith("ing") and not _FOR_YEARS.search(s.text):
        return []
    said = _HOW_OFTEN.split(_A_LOT_OF.sub("", match["x"]), maxsplit=1)[0]
    thing = specific(clean(said, s, max_words=4))
    if not thing:
        return []
    third = _PLAYS[match["verb"].lower()]
    text = f"{s.label} {third} {thing}"
    if _GAMBLE.match(thing):
        return [fact(s, text)]
    attribute = "hobby:" + slug(thing)
    return [fact(s, text, kind="preference", attribute=attribute, value=third)]


def _hobbies(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """Hobbies said as such, "My hobby is knitting", "My hobbies are hiking and chess"."""
    things = re.split(r",\s*(?:and\s+)?|\s+and\s+", match["x"])
    found = []
    for raw in things:
        thing = clean(raw, s, max_words=4)
        if thing:
            text = f"{s.label} enjoys {thing} as a hobby"
            attribute = "hobby:" + slug(thing)
            found.append(fact(s, text, kind="preference", attribute=attribute, value="enjoys"))
    return found


def _training(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """What the user trains for, "I'm training for a marathon", "I've been training for
    the Boston Marathon in April": a fact of now, with the date of the event, if said."""
    goal = specific(clean(match["x"], s, max_words=6))
    if not goal:
        return []
    text = with_date(f"{s.label} is training for {goal}", s)
    return [fact(s, text, importance=0.7, dated=False)]


_ARTICLE = re.compile(r"^(?:an?|the)\s+", re.IGNORECASE)


def _drives(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """The user's car, "I drive a Tesla", "My car is a Prius", "I drive a 2018 Honda Civic"."""
    car = clean(match["x"], s, max_words=5)
    if not car:
        return []
    value = _ARTICLE.sub("", car)
    text = f"{s.label} drives {car if _ARTICLE.match(car) else 'a ' + car}"
    return [fact(s, text, kind="profile", attribute="car", value=value, importance=0.7)]


_PHONES = r"iphone|pixel|android|galaxy|oneplus"
"""The words that name a phone whatever is said of it ("Samsung" may be a TV: not one)."""
_PHONE_MODEL = (
    rf"(?P<x>(?i:{_PHONES})(?!\s+(?i:watch|buds|tab|tablet|book|tv|case|charger|cable)\b)"
    rf"(?:\s+(?:[{UP}]?\d+\w*|(?i:pro|max|plus|mini|ultra|lite|xl|se)\b)){{0,3}})"
)
"""A phone and its model ("iPhone 12 Pro", "Pixel 8a", "Galaxy S23 Ultra"), not what goes
with one ("a Pixel Watch", "an iPhone case")."""


def _phone(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """The user's phone, "I have an iPhone 12", "I switched to a Pixel", "my phone is a
    Galaxy": the `phone` slot (a new one replaces the old)."""
    phone = match["x"]
    text = f"{s.label}'s phone is {with_article(phone)}"
    return [fact(s, text, kind="profile", attribute="phone", value=phone, importance=0.6)]


def hobby_of(raw: str, s: Sentence) -> str | None:
    """The pastime `raw` names, after "play" ("the guitar every day": the guitar), as
    `_plays` reads it; None when vague ("it", "with them")."""
    return specific(clean(_HOW_OFTEN.split(_A_LOT_OF.sub("", raw), maxsplit=1)[0], s, max_words=4))


_INSTRUMENTS_AND_GAMES = (
    r"piano|guitar|bass|violin|viola|cello|drums|flute|saxophone|sax|trumpet|trombone|"
    r"ukulele|harp|clarinet|keyboard|organ|banjo|harmonica|accordion|chess|tennis|golf|"
    r"football|soccer|basketball|baseball|volleyball|hockey|rugby|cricket|badminton|squash|"
    r"poker|bridge|pool"
)
_SKILLS = (
    r"swim|cook|bake|ski|snowboard|surf|skate|ice[- ]skate|dance|sing|knit|sew|crochet|"
    r"code|program|juggle|dive|scuba\s+dive|sail|paint|draw|touch[- ]type|"
    r"drive(?:\s+(?:a\s+)?(?:car|stick|stick\s+shift|manual|motorcycle|motorbike|truck))?|"
    r"ride\s+(?:a\s+)?(?:bike|bicycle|horse|motorcycle|motorbike|unicycle)|"
    r"read\s+(?:sheet\s+)?music|"
    rf"play\s+(?:the\s+)?(?:{_INSTRUMENTS_AND_GAMES})|"
    r"speak\s+(?:a\s+little\s+|a\s+bit\s+of\s+|some\s+|basic\s+|fluent\s+)?"
    rf"(?P<lang>{LANGUAGES})"
)
"""What one learns to do and then can ("swim", "ride a bike", "play the piano", "speak
Spanish"): an ability, unlike whatever follows "can" ("I can help you", "I can't wait")."""
_SKILL_ALONE = (
    r"(?:\s+(?i:anymore|any\s+more|again|now|well|fluently|properly|at\s+all|yet|either|"
    r"a\s+little|a\s+bit|(?:really|pretty|very)\s+well|too))*(?=\s*(?:[,.;:!?)]|$)|\s+(?i:and|"
    r"but|so|because|since|though|although|which|lol|haha)\b)"
)
"""What may follow a skill said as an ability: how well, and the clause's end. An object
or a place makes it an offer or a plan ("I can drive you there", "I can cook dinner")."""
_ABLE = (
    r"(?P<neg>\s+(?i:can't|cannot|can\s+not|cant|can\s+no\s+longer|no\s+longer\s+can)|"
    r"(?i:'m|\s+am)\s+(?i:unable|not\s+able|no\s+longer\s+able)\s+(?i:to)|"
    r"\s+(?i:don't|dont|do\s+not|no\s+longer)\s+(?i:know\s+how\s+to))|"
    r"(?P<can>\s+(?i:can|know\s+how\s+to)|(?i:'m|\s+am)\s+(?i:able\s+to))|"
    r"(?P<learned>(?i:'ve|\s+have)?(?:\s+(?i:finally|just))?\s+(?i:learned|learnt)"
    r"(?:\s+(?i:how))?\s+(?i:to))"
)
"""How an ability is said: "can", "am able to", "know how to"; "can't", "unable to", "can no
longer"; and "learned to", from when it holds."""


def _ability(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """An ability of the user's, "I can swim", "I can't drive", "I'm unable to ski", "I
    can't swim anymore", "I learned to swim last month": the `ability:` slot of the skill,
    "can" or "cannot" (one said since supersedes it; "learned to" dates "can" by its time).
    A language is the `language:` slot ("I can speak Spanish": speaks it)."""
    skill = " ".join(match["skill"].split())
    if match["lang"]:
        name = _LANGUAGE_NAMES[" ".join(match["lang"].lower().split())]
        skill, attribute = f"speak {name}", "language:" + slug(name)
        values = ("speaks", "doesn't speak")
    else:
        skill, attribute = skill.lower(), "ability:" + slug(skill)
        values = ("can", "cannot")
    if not match["neg"]:
        text, value = f"{s.label} can {skill}", values[0]
    elif "longer" in match["neg"].lower() or stopped(match, s):
        text, value = f"{s.label} can no longer {skill}", values[1]
    else:
        text, value = f"{s.label} cannot {skill}", values[1]
    dated = bool(match["learned"])
    return [fact(s, text, kind="profile", attribute=attribute, value=value, dated=dated)]


_EATEN_OR_DRUNK = (
    r"(?:red\s+)?meat|fish|seafood|pork|beef|chicken|dairy|eggs|gluten|sugar|alcohol|"
    r"caffeine|coffee|tea|beer|wine|milk|cheese|soda"
)
"""What one eats or drinks as a habit, or abstains from ("I eat meat", "I drink coffee")."""


def _consumes(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A habit of eating, drinking or smoking, "I eat meat", "I drink coffee", "I smoke":
    the `avoids:` slot of what, as "I don't eat meat" fills it ("eats"): one supersedes
    the other, either way."""
    verb = match["verb"].lower()
    what = " ".join((match["what"] or "").lower().split())
    third = verb + "s"
    text = f"{s.label} {third} {what}".rstrip()
    attribute = "avoids:" + slug(what or "smoking")
    return [fact(s, text, kind="profile", attribute=attribute, value=third)]


ALONGSIDE_RULES: tuple[Rule, ...] = (
    rule(
        rf"{ME}{ADV}(?:{_ABLE}){ADV}\s+"
        rf"(?P<skill>(?i:{_SKILLS}))(?![\w'-])(?(learned)|{_SKILL_ALONE})",
        _ability,
        ("can", "able", "know how", "learn"),
    ),
    rule(
        rf"{ME}{ADV}\s+(?P<verb>(?i:eat|drink|smoke))(?:\s+(?P<what>(?i:{_EATEN_OR_DRUNK}))|"
        r"(?<=(?i:smoke)))(?![\w'-])(?:\s+(?i:again|now|too|daily|every\s+day|a\s+lot))*"
        r"(?=\s*(?:[,.;:!?)]|$)|\s+(?i:and|but|so|because|though)\b)",
        _consumes,
        ("eat", "drink", "smoke"),
    ),
)
"""Rules read beside the others, taking no span from them nor losing one to them: an ability
said with the event that gave it ("I learned to swim last month": the event, and that the
user can swim now), a habit with the diet it ends ("I eat meat again")."""


LIFE_RULES: tuple[Rule, ...] = (
    rule(
        rf"(?:{I_AM}{ADV}\s+(?P<x>[a-z]+)[- ](?i:intolerant)\b|"
        rf"{I_AM}{ADV}\s+(?i:intolerant\s+to)\s+(?P<y>[^,.;!?()\n]+)|"
        rf"{ME}(?i:\s+have|'?ve\s+got)(?i:\s+an?)?\s+(?P<z>[a-z]+)\s+(?i:intolerance))",
        _intolerant,
        ("intoleran",),
    ),
    rule(
        rf"(?:{ME}(?i:\s+have|'?ve\s+got|\s+have\s+got|\s+suffer\s+from|\s+live\s+with|"
        rf"(?:\s+was|'?ve\s+been|\s+have\s+been|\s+got)(?:\s+just)?\s+diagnosed\s+with)"
        rf"\s+(?P<x>(?i:{_CONDITIONS}))|{I_AM}{ADV}\s+(?P<y>(?i:{_CONDITION_ADJECTIVES})))\b",
        _condition,
        ("have", "got", "suffer", "live with", "diagnosed") + tuple(_CONDITION_OF),
    ),
    rule(
        rf"{I_AM}{ADV}(?P<x>\s+(?:\d+|(?i:a\s+few))\s+(?i:weeks|months))?\s+(?i:pregnant)\b",
        _pregnant,
        ("pregnant",),
    ),
    rule(
        rf"(?:{ME}(?P<how>{ADV}\s+(?i:speak)|(?i:'m|m|\s+am){ADV}\s+"
        r"(?i:fluent\s+in|learning|studying))"
        r"(?i:\s+(?:a\s+little|a\s+bit\s+of|some|fluent|basic|decent|good))?|"
        rf"{I_AM}\s+(?i:an?\s+)?(?i:native)(?=\s+{_LANGUAGE}\s+(?i:speaker)))\s+" + _LANGUAGE_LIST,
        _languages,
        ("speak", "fluent", "learning", "studying", "native"),
    ),
    rule(
        rf"{ME}(?i:'?ve\s+been|\s+have\s+been|'m|\s+am)?{ADV}\s+"
        r"(?P<verb>(?i:play|playing|practice|practise|practicing|go(?=\s+[a-z]+ing\b)))\s+"
        r"(?!(?i:it|this|that|with|along|around|against|for|to|a\s+role|a\s+part|games?\s+"
        r"with|them|him|her|you|me|us)\b)" + REST,
        _plays,
        ("play", "practi", "go "),
    ),
    rule(
        rf"(?:{I_AM}|{ME}{HAVE}\s+been){ADV}\s+(?i:training\s+for)\s+{REST}",
        _training,
        ("training for",),
    ),
    rule(
        rf"(?i:\bmy\s+(?:favou?rite\s+)?hobb(?:y|ies)\s+(?:is|are|include))\s+{REST}",
        _hobbies,
        ("hobb",),
    ),
    rule(
        rf"(?:{ME}{ADV}\s+(?i:drive)|(?i:\bmy\s+car\s+is))\s+(?=(?i:an?|the)\s+[{UP}0-9]){REST}",
        _drives,
        ("drive", "my car"),
    ),
    rule(
        rf"(?:{ME}{HAVE}?{ADV}\s+(?i:have|use|got|bought|switched\s+to|'?ve\s+got)|"
        r"(?i:\bmy\s+(?:new\s+)?phone\s+is))\s+(?:(?i:an?|the|my)\s+)?(?:(?i:new)\s+)?"
        + _PHONE_MODEL,
        _phone,
        ("iphone", "pixel", "android", "galaxy", "oneplus"),
    ),
)
"""The health and pastime rules, most specific first."""
