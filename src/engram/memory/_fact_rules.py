"""First-person fact rules of the deterministic extractor.

Each rule is a regular expression over one sentence and a builder that turns a match into
candidates. Rules run in order; a match overlapping an earlier rule's match is skipped, so the
specific rules ("I'm no longer vegetarian" -> diet) win over the generic ones ("I'm no longer
X" -> negation). Health and pastimes are in `_life_rules`, the profile slots in
`_profile_rules`, changes in `_change_rules`, what others are in `_others_rules`, and what
several people at once are ("My wife and I are vegetarian") in `_group_rules`.
"""

from __future__ import annotations

import re
from dataclasses import replace

from engram.memory._change_rules import CHANGE_RULES
from engram.memory._employer_rules import with_role
from engram.memory._group_rules import GROUP_RULES
from engram.memory._kin_rules import KIN_AND_PETS, allergies
from engram.memory._life_rules import ALONGSIDE_RULES, LIFE_RULES, hobby_of
from engram.memory._others_rules import OTHERS_RULES
from engram.memory._phrases import (
    ADV,
    AND_MY_CONTACT,
    COUNTS,
    HAVE,
    I_AM,
    ME,
    REST,
    STIRRED,
    UP,
    Rule,
    Sentence,
    asserted,
    clause_end,
    clean,
    date_phrase,
    ending,
    fact,
    listed,
    lowercase_place,
    negated_before,
    proper,
    rule,
    slug,
    spans,
    specific,
    stopped,
    with_article,
    with_date,
)
from engram.memory._profile_rules import PROFILE_RULES
from engram.memory.candidates import TIED_TO, Candidate, EntityMention

__all__ = ["apply_rules"]


_NUMBER = r"\d{1,2}|(?i:two|three|four|five|six|seven|eight)"
"""How many of a thing the user has ("two sisters", "3 dogs")."""
_NOT_NOUN = r"(?i:named|called|who|that|and)"
"""Words after what the user has as well, no part of it ("a brother who lives in Porto"). One
named ("and a dog named Rex") is left whole to the pet rules."""


def _count(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """What the user has so many of, "I have two sisters": the `count:` slot of it; and what
    they have as well, "I have two sisters and a brother" (a brother, as "I have a brother"
    says it). "We have two kids": kin and pets only, no shared "two options"."""
    noun = clean(match["x"], s, max_words=3) or ""
    if match["we"] and not re.fullmatch(KIN_AND_PETS, noun, re.IGNORECASE):
        return []  # "We have 3 kids now": the noun as `_counted` reads it
    found = _counted(s, match["n"], match["x"])
    if not found or not match["y"]:
        return found
    if match["m"].lower() in ("a", "an"):
        return found + _has_one(s, match["m"].lower(), match["y"])
    return found + _counted(s, match["m"], match["y"])


def _counted(s: Sentence, number: str, raw: str) -> list[Candidate]:
    noun = clean(raw, s, max_words=3)
    if not noun:
        return []
    count = COUNTS.get(number.lower(), number.lower())
    text = f"{s.label} has {count} {noun}"
    attribute = "count:" + ("kids" if slug(noun) == "children" else slug(noun))
    return [fact(s, text, attribute=attribute, value=count, importance=0.6)]


_VAGUE_HEADS = re.compile(
    r"^(?:question|idea|feeling|lot|bit|great|good|nice|hard|tough|rough|busy|fun|blast|"
    r"chance|moment|minute|second|look|thing|problem|way|point|sense|clue|doubt|favou?r|"
    r"reason|few|couple|little(?!\s+(?:brother|sister|sibling|boy|girl)\b)|long|while|dream|"
    r"plan|sec)\b",
    re.IGNORECASE,
)
"""What the user has only in a manner of speaking ("a little time"); a little brother is kin."""


_MOMENTS_AWAY = re.compile(
    r"\bin\s+(?:\d+|(?:an?|a\s+few|a\s+couple(?:\s+of)?|\d+|two|three|five|ten|fifteen|twenty|"
    r"thirty|forty-five)\s+(?:secs?|seconds?|mins?|minutes?|hrs?|hours?|moment|bit))$",
    re.IGNORECASE,
)
"""When a thing the user has comes in minutes or hours ("a meeting in 5", "a call in ten
minutes"): an appointment of the moment, which the turn's episode keeps; as a fact it would
outlive it, its time cut ("Ana has a meeting in 5")."""
_OPEN_SPAN = re.compile(r"^(?:since|until|till|from)\b", re.IGNORECASE)


def _has_a(match: re.Match[str], s: Sentence) -> list[Candidate]:
    return _has_one(s, match["art"].lower(), match["x"])


def _has_one(s: Sentence, article: str, raw: str) -> list[Candidate]:
    """What the user has one of, "a brother" of "I have a brother"; one dated by a time said
    with it, written with its date ("I have a meeting at 3pm tomorrow": "... a meeting at
    3pm on 1 May 2026"; `clean` drops the time words, and "tomorrow" read later is another
    day). Not what comes in minutes (`_MOMENTS_AWAY`)."""
    thing = clean(raw, s, max_words=5)
    if not thing or _VAGUE_HEADS.match(thing) or _MOMENTS_AWAY.search(thing):
        return []
    text = f"{s.label} has {article} {thing}"
    when = [
        time
        for time in s.times
        if time.span.casefold() in raw.casefold() and not _OPEN_SPAN.match(time.span)
    ]
    if when:
        text = f"{text} {date_phrase(when[0])}"
    return [fact(s, text, importance=0.6)]


def _allergy(match: re.Match[str], s: Sentence) -> list[Candidate]:
    return allergies(match, s, s.label)


_POSITIVE = {
    "love": "loves",
    "like": "likes",
    "enjoy": "enjoys",
    "adore": "adores",
    "prefer": "prefers",
    "can't live without": "can't live without",
}
_NEGATIVE = {
    "hate": "hates",
    "dislike": "dislikes",
    "detest": "detests",
    "loathe": "loathes",
    "can't stand": "can't stand",
    "cannot stand": "can't stand",
    "cant stand": "can't stand",
}


def _liking_ended(s: Sentence, thing: str, text: str, value: str = "likes") -> Candidate:
    """The end of a liking ("I used to love coffee") or a dislike ("I used to hate olives"):
    the `preference:` slot of `thing` is empty now, if it held that (it names the value it
    ends: a dislike said since a liking ended stays)."""
    return ending(s, text, "preference:" + slug(thing), value, importance=0.7)


_TIED = re.compile(
    r"^(?P<how>living|working|studying)\s+(?:in|at|for)\s+(?P<what>.+)$", re.IGNORECASE
)
_TIED_SLOT = {"living": "home_city", "working": "employer", "studying": "school"}
"""The slot a liking of doing something somewhere is about ("I love living in Porto": the
home), and that it holds no longer than the slot's value does."""


def _tied(thing: str) -> dict[str, str]:
    """What a liking holds while ("living in Porto" while the home is Porto), as metadata:
    revision retires it with that value (see `revision.decide`). "I love Porto" is tied to
    nothing: one may love a city one does not live in."""
    found = _TIED.match(thing)
    place = proper(found["what"]) if found else None
    if found is None or place is None:
        return {}
    return {TIED_TO: _TIED_SLOT[found["how"].lower()], "tied_value": place}


def _preference(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A liking or dislike of the user's, one per thing listed ("I love sushi and ramen")."""
    verb = " ".join(match["verb"].lower().split())
    negated = bool(match["neg"])
    return [
        _liked(match, s, verb, thing)
        for thing in listed(match, s, max_words=8, either=negated and verb in _POSITIVE)
    ]


def _liked(match: re.Match[str], s: Sentence, verb: str, thing: str) -> Candidate:
    """The `preference:` slot of `thing`, as the preference rule's `verb` says."""
    if (match["neg"] or "").strip().lower().startswith("used"):
        value = "dislikes" if verb in _NEGATIVE else "likes"
        return _liking_ended(s, thing, f"{s.label} used to {verb} {thing}", value)
    negated = bool(match["neg"])
    if negated and stopped(match, s):
        # "I don't enjoy jazz anymore": the taste ended, as "I no longer enjoy jazz" says
        # (`_no_longer_does`), not a dislike.
        ended = f"{s.label} no longer {(_POSITIVE | _NEGATIVE)[verb]} {thing}"
        return fact(s, ended, importance=0.7, metadata={"negates": f"{verb} {thing}"})
    liked = (verb in _POSITIVE) != negated
    if negated:
        text = f"{s.label} doesn't {verb} {thing}"
    else:
        text = f"{s.label} {(_POSITIVE | _NEGATIVE)[verb]} {thing}"
    value = "likes" if liked else "dislikes"
    return fact(
        s,
        text,
        kind="preference",
        attribute="preference:" + slug(thing),
        value=value,
        importance=0.7,
        metadata=_tied(thing),
    )


def _prefers_over(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A preference over another, "I prefer tea over coffee these days": tea liked, and the
    liking of coffee, if the user had one, over."""
    liked = clean(match["x"], s, max_words=5)
    other = clean(match["y"], s, max_words=5)
    if not liked or not other:
        return []
    text = f"{s.label} prefers {liked}"
    preferred = fact(
        s,
        text,
        kind="preference",
        attribute="preference:" + slug(liked),
        value="likes",
        importance=0.7,
    )
    return [preferred, _liking_ended(s, other, f"{text} over {other}")]


def _fan(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A taste said as being, "I'm a huge fan of jazz", "I'm into climbing"; negated, a
    dislike ("I'm not a big fan of horror movies"), or a liking that ended ("I'm no longer
    into jazz")."""
    thing = clean(match["x"], s, max_words=8)
    if not thing:
        return []
    how = " ".join(match["how"].lower().split())
    if how.split()[-1] == "of" and how.split()[0] not in ("a", "an"):
        how = f"a {how}"  # "Big fan of the Lakers"
    if match["neg"] and stopped(match, s):
        return [_liking_ended(s, thing, f"{s.label} is no longer {how} {thing}")]
    negation = " not" if match["neg"] else ""
    return [_taste(s, f"{s.label} is{negation} {how} {thing}", thing, liked=not match["neg"])]


def _fan_of_name(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A taste said with the fan last, "I'm a huge Lakers fan", "I'm a soccer fan": a huge
    fan of the Lakers. A name, or one word: "a total movie fan" says too little of what."""
    thing = clean(match["x"], s, max_words=3)
    if not thing:
        return []
    fan = " ".join((*match["how"].lower().split(), "fan"))
    return [_taste(s, f"{s.label} is a {fan} of {thing}", thing)]


def _taste(s: Sentence, text: str, thing: str, *, liked: bool = True) -> Candidate:
    """The `preference:` slot of `thing`, liked or disliked, as `text` says."""
    return fact(
        s,
        text,
        kind="preference",
        attribute="preference:" + slug(thing),
        value="likes" if liked else "dislikes",
        importance=0.7,
    )


def _third_singular(verb: str) -> str:
    """`verb` conjugated for he/she: eat -> eats, go -> goes, study -> studies, have -> has."""
    if verb == "have":
        return "has"
    if verb.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if verb.endswith("y") and verb[-2:-1] not in ("a", "e", "i", "o", "u"):
        return verb[:-1] + "ies"
    return verb + "s"


def _no_longer_is(match: re.Match[str], s: Sentence) -> list[Candidate]:
    thing = clean(match["x"], s, max_words=8)
    if not thing:
        return []
    text = f"{s.label} is no longer {thing}"
    return [fact(s, text, importance=0.7, metadata={"negates": thing})]


_CONSUMED = re.compile(r"^(?:drink|eat|smoke|drinking|eating|smoking)\s+(?P<what>.+)$", re.I)


def _owns(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """What the user owns, "I own a car", "I don't own a car", "I no longer own a car": the
    `owns:` slot of it ("owns", "doesn't own"), so one said since supersedes the other,
    and a sale ends it (`_sold`)."""
    thing = clean(match["x"], s, max_words=4)
    if not thing:
        return []
    article = (match["art"] or "").strip().lower()
    said = f"{article} {thing}".strip()
    if not match["neg"]:
        return [_ownership(s, f"{s.label} owns {said}", thing, "owns")]
    if "longer" in match["neg"].lower() or stopped(match, s):
        return [_ownership(s, f"{s.label} no longer owns {said}", thing, "doesn't own")]
    return [_ownership(s, f"{s.label} doesn't own {said}", thing, "doesn't own")]


def _ownership(s: Sentence, text: str, thing: str, value: str) -> Candidate:
    return fact(s, text, kind="profile", attribute="owns:" + slug(thing), value=value)


_SOLD = re.compile(r"^their\s+(?P<x>(?:[\w-]+\s+)?[\w-]+)$")
"""What the user sold of theirs ("their car", "their old bike"): they no longer own it."""


def _sold(s: Sentence, verb: str, thing: str) -> list[Candidate]:
    """The end of ownership a sale says, "I sold my car": the user no longer owns a car
    (the `owns:` slot, dated as the sale)."""
    sold = _SOLD.match(thing) if verb == "sold" else None
    if sold is None:
        return []
    owned = sold["x"]
    said = with_date(f"{s.label} no longer owns {with_article(owned)}", s)
    return [_ownership(s, said, owned, "doesn't own")]


def _cancelled(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A subscription, membership or plan the user ended, "I cancelled my premium
    subscription": they no longer have one (it negates "The user has a premium
    subscription")."""
    thing = clean(match["x"], s, max_words=4)
    if not thing:
        return []
    text = f"{s.label} no longer has {with_article(thing)}"
    return [fact(s, text, importance=0.7, metadata={"negates": thing})]


def _no_longer_does(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A habit that stopped, "I no longer drink coffee", "I stopped eating sugar", "I don't
    drink coffee anymore": it negates the habit, or what it consumed (coffee: "The user loves
    coffee" is over too)."""
    thing = clean(match["x"], s, max_words=8)
    if not thing:
        return []
    keyword = " ".join(match["kw"].lower().split())
    consumed = _CONSUMED.match(thing)
    played = _PLAYED.match(thing)
    if not played and re.match(r"play", thing, re.IGNORECASE):
        return []  # "I don't play games with people": no pastime
    if keyword in ("don't", "dont", "do not"):
        if not stopped(match, s):
            if played:
                return _pastime(s, f"{s.label} doesn't {thing}", played, "doesn't play")
            return _abstains(s, thing, "doesn't")
        keyword = "no longer"
    if played and keyword == "no longer":
        text = f"{s.label} no longer plays {played['what']}"
        return _pastime(s, text, played, "no longer plays")
    if played:  # "I stopped playing tennis"
        return _pastime(s, f"{s.label} {keyword} {thing}", played, "no longer plays")
    negates = consumed["what"] if consumed else thing
    if keyword == "no longer":
        verb, _, rest = thing.partition(" ")
        text = f"{s.label} no longer {_third_singular(verb.lower())} {rest}".rstrip()
    else:
        text = f"{s.label} {keyword} {thing}"
    return [fact(s, text, importance=0.7, metadata={"negates": negates})]


_PLAYED = re.compile(
    r"^(?P<verb>play|playing)\s+(?!(?:it|this|that|with|along|around|"
    r"against|for|to|a\s+role|a\s+part|games?\s+with|them|him|her|you|me|us)\b)(?P<what>.+)$",
    re.IGNORECASE,
)
"""A pastime said after "play" ("play the guitar"), as `_life_rules._plays` reads one ("I
quit practicing law" is no pastime)."""


def _pastime(s: Sentence, text: str, played: re.Match[str], value: str) -> list[Candidate]:
    """A pastime the user does not, or no longer, take part in ("I don't play the guitar
    anymore"): the `hobby:` slot "I play the guitar" fills, which it supersedes."""
    what = hobby_of(played["what"], s)
    if not what:
        return []
    return [fact(s, text, kind="preference", attribute="hobby:" + slug(what), value=value)]


_BARE_HABIT = {"smoke": "smoking", "drink": "alcohol"}
"""What one abstains from who says only the verb: "I don't drink" (alcohol)."""


_HOW_MUCH = re.compile(
    r"(?:much|a\s+lot|enough|well|out|often|anything|right|properly|late|early|fast|that)\b",
    re.IGNORECASE,
)
"""How or how much one eats or drinks, not what ("I don't eat much")."""


def _abstains(s: Sentence, thing: str, how: str) -> list[Candidate]:
    """What the user does not eat, drink or smoke, "I don't drink alcohol", "I can't have
    dairy": the `avoids:` slot of it (value "doesn't drink", "can't have"). Not what they
    don't have ("I don't have time")."""
    verb, _, what = thing.partition(" ")
    verb = verb.lower()
    what = what or _BARE_HABIT.get(verb, "")
    if not what or verb == "own" or _HOW_MUCH.match(what) or verb == "have" and how != "can't":
        return []
    text = f"{s.label} {how} {thing}"
    attribute = "avoids:" + slug(what)
    return [fact(s, text, kind="profile", attribute=attribute, value=f"{how} {verb}")]


def _cannot(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """Food or drink the user can't have, "I can't have dairy", "I cannot eat gluten"."""
    thing = clean(match["x"], s, max_words=5)
    return _abstains(s, thing, "can't") if thing else []


_TRAVEL = re.compile(r"\b(?:trip|fly|flying|travell?ing)\b", re.IGNORECASE)


def _trip(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A trip to come, "I'm going to Japan in April", "We're flying to Paris next week",
    "I'm planning a trip to Italy": a plan, dated when said (no move, no new home). Going
    somewhere with no date and no word of travel is an errand ("I'm going to Costco
    later"), not a trip."""
    place = proper(match["x"])
    if not place or not (s.times or _TRAVEL.search(match[0])):
        return []
    return _plan(s, f"{s.label} plans a trip to {place}", place)


_NOT_A_GOAL = re.compile(r"^(?:(?:the|a|an|my|our|his|her|their|this|that)\b|[A-Z])")
"""Where "going to" leads to a place, not a deed ("I'm going to the gym": to go there)."""


def _goal(match: re.Match[str], s: Sentence) -> list[Candidate]:
    goal = specific(clean(match["x"], s, max_words=12))
    if not goal:
        return []
    planned = re.search(r"plan|going|intend", match[0], re.IGNORECASE)
    if _NOT_A_GOAL.match(goal):  # "I'm going to a conference this month"
        if not re.search(r"going", match[0], re.IGNORECASE):
            return []
        goal = f"go to {goal}"
    text = f"{s.label} {'plans' if planned else 'wants'} to {goal}"
    return [fact(s, text, importance=0.6, confidence=0.6, metadata={"plan": True})]


def _moving(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A move to come, "I'm moving to Berlin next month", "im moving to denver" (a place in
    lower case, `lowercase_place`): a plan, no home yet (a home said since, "I moved to
    Berlin", makes it one; "I'm not moving to Berlin after all" ends it). Not "moving to a
    new place" nor "to the next step"."""
    phrase = clean(match["x"], s, max_words=6)
    place = proper(match["x"]) or lowercase_place(phrase, s, after_move=True)
    if not place:
        return []
    return _plan(s, f"{s.label} plans to move to {place}", place)


def _plan(s: Sentence, text: str, place: str) -> list[Candidate]:
    """The plan `text` to go to `place`, with the date the sentence gives it, if any."""
    entities = (EntityMention(place, "place"),)
    return [fact(s, with_date(text, s), importance=0.7, entities=entities, metadata={"plan": True})]


_EVENT_VERBS = (
    r"bought|adopted|started|finished|completed|visited|went|joined|graduated|ran|won|lost|"
    r"signed\s+up|took|booked|attended|traveled|travelled|met|made|painted|wrote|published|"
    r"watched|saw|learned|learnt|tried|received|celebrated|launched|opened|sold|built|hiked|"
    r"climbed|baked|cooked|organized|organised|volunteered|began|applied|passed|failed|left|"
    r"got|found|moved|created|designed|performed|played|gave|hosted|raised|donated|drew|"
    r"planted|fixed|renovated|redecorated|decorated|picked\s+up|took\s+up|went\s+back"
)


_SUBORDINATE = re.compile(
    r"\b(?:since|because|cause|cuz|when|after|before|once|as\s+soon\s+as|now\s+that|ever\s+since)"
    r"\s*$",
    re.IGNORECASE,
)
"""What opens a clause the event is said in to time or explain another ("since I lost my job
I've been cooking more")."""
_MAIN_CLAUSE = re.compile(
    r"\s+(?:I(?:'ve|'m|'d|'ll)?|ive|im|we(?:'ve|'re)?|i)\s+(?=\w)|\s+it's\s", re.IGNORECASE
)
"""Where the main clause opens after a subordinate one left unpunctuated: its subject."""


def _event(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """An event of the user's, "I bought a bike yesterday", dated by the sentence's time. In
    a subordinate clause ("since I lost my job I've been cooking more") it ends where the
    main clause opens, unpunctuated as chat leaves it: "The user lost their job"."""
    raw = match["x"]
    if _SUBORDINATE.search(s.text[: match.start()]):
        raw = _MAIN_CLAUSE.split(raw, maxsplit=1)[0]
    thing = specific(clean(raw, s, max_words=12))
    if not thing:
        return []
    verb = " ".join(match["verb"].lower().split())
    text = with_date(f"{s.label} {verb} {thing}", s)
    event = fact(s, text, kind="event", importance=0.6, confidence=0.6)
    return [event, *_sold(s, verb, thing)]


_FACT_RULES: tuple[Rule, ...] = (
    rule(
        rf"{I_AM}{ADV}(?P<neg>\s+(?i:not|no\s+longer))?\s+(?i:allergic\s+to)\s+{REST}",
        _allergy,
        ("allergic",),
    ),
    rule(
        rf"{ME}(?i:\s+have|'?ve\s+got|\s+have\s+got|\s+got)(?P<neg>)\s+(?i:an?)\s+"
        r"(?!(?i:severe|mild|bad|serious|slight|terrible|real|little)\s+allergy)"
        r"(?i:(?:severe|mild|bad|serious|slight|terrible)\s+)?"
        r"(?P<x>[A-Za-z]+(?:\s+[A-Za-z]+)?)\s+(?i:allergy)\b",
        _allergy,
        ("allergy",),
    ),
    rule(
        rf"(?:{ME}|\b(?P<we>(?i:we)))(?i:\s+have|'?ve\s+got|\s+have\s+got|\s+got)\s+"
        rf"(?P<n>{_NUMBER})\s+"
        r"(?P<x>[A-Za-z]+(?:\s+(?!(?i:and)\b)[A-Za-z]+)?)"
        rf"(?:\s+(?i:and)\s+(?P<m>{_NUMBER}|(?i:an?))\s+(?P<y>[A-Za-z]+(?:\s+(?!{_NOT_NOUN}\b)"
        r"[A-Za-z]+)?)(?![\w'-])(?!\s+(?i:named|called)\b))?",
        _count,
        ("have", "got"),
    ),
    rule(
        rf"(?:{I_AM}{ADV}(?:\s+(?i:no\s+longer)|\s+(?i:not)(?=[^,.;!?]*\bany\s?more\b)))\s+"
        rf"{REST}",
        _no_longer_is,
        ("no longer", "anymore", "any more"),
    ),
    rule(
        rf"{ME}{ADV}(?P<neg>\s+(?i:don't|dont|do\s+not|no\s+longer)(?:\s+(?i:even))?)?"
        r"\s+(?i:own)\s+(?!(?i:up)\b)(?P<art>(?i:an?|the|two|three|\d+)\s+)?" + REST,
        _owns,
        ("own",),
    ),
    rule(
        rf"{ME}{HAVE}?{ADV}\s+(?i:cancell?ed|ended|terminated|closed)\s+(?i:my|our)\s+"
        r"(?P<x>(?:[\w-]+\s+){0,3}(?i:subscription|membership|plan|account))(?=\s*(?:[,.;!?]|$))",
        _cancelled,
        ("cancel", "ended", "terminated", "closed"),
    ),
    rule(
        rf"{ME}{HAVE}?{ADV}\s+(?P<kw>(?i:no\s+longer|stopped|quit|gave\s+up))\s+{REST}",
        _no_longer_does,
        ("no longer", "stopped", "quit", "gave up"),
    ),
    rule(
        rf"{ME}\s+(?P<kw>(?i:don't|dont|do\s+not))\s+(?=(?i:drink|eat|smoke|have|own|play)\b){REST}",
        _no_longer_does,
        ("don't", "dont", "do not"),
    ),
    rule(
        rf"{ME}{ADV}(?P<neg>\s+(?i:don't|do\s+not|dont|no\s+longer|never|used\s+to)){ADV}\s+"
        r"(?P<verb>(?i:love|like|enjoy|hate|dislike))\s+" + REST,
        _preference,
        ("don't", "do not", "dont", "no longer", "never", "used to"),
    ),
    rule(
        rf"{ME}{ADV}\s+(?i:prefer)\s+(?!(?i:to|not)\b)(?P<x>[^,.;!?()\n]+?)"
        r"(?:\s+(?i:over|rather\s+than|instead\s+of|to)|(?i:\s+now)?,?\s+(?i:not))\s+"
        + REST.replace("?P<x>", "?P<y>"),
        _prefers_over,
        ("prefer",),
    ),
    rule(
        rf"{ME}(?P<neg>){ADV}\s+(?P<verb>(?i:love|like|enjoy|adore|prefer|hate|dislike|detest|"
        r"loathe|can't\s+stand|cannot\s+stand|cant\s+stand|can't\s+live\s+without))\s+" + REST,
        _preference,
        ("love", "like", "enjoy", "adore", "prefer", "hate", "dislike", "detest", "loathe")
        + ("stand", "without"),
    ),
    rule(
        rf"{I_AM}{ADV}(?P<neg>\s+(?i:not|no\s+longer))?{ADV}\s+"
        r"(?P<how>(?i:(?:an?\s+)?(?:(?:big|huge|great)\s+)?fan\s+of|into|obsessed\s+with|"
        r"passionate\s+about|interested\s+in|crazy\s+about))\s+" + REST,
        _fan,
        ("fan", "into", "obsessed", "passionate", "interested", "crazy"),
    ),
    rule(
        rf"{I_AM}{ADV}\s+(?i:an?)\s+(?P<how>(?i:(?:big|huge|great|massive|die-hard)\s+)?)"
        r"(?!(?i:big|huge|great|massive|die-hard|fan|bit)\b)"
        rf"(?P<x>[{UP}][\w'-]*(?:\s+[{UP}][\w'-]*)?|[a-z][\w'-]*)\s+(?i:fan)\b(?!\s+(?i:of)\b)",
        _fan_of_name,
        ("fan",),
    ),
    rule(
        rf"(?:(?:{I_AM}|\b(?i:we're|we\s+are)){ADV}\s+(?i:going|heading|flying|travell?ing|"
        r"driving|off)(?:\s+(?i:back|over|down|up))?|"
        rf"{ME}(?i:'m|\s+am)?{ADV}\s+(?i:planning|plan|taking|going\s+on|booked)|"
        rf"{ME}(?i:\s+have|'?ve\s+got)(?=\s+(?i:an?\s+(?:\w+\s+)?trip)\b))"
        rf"(?i:\s+an?\s+(?:\w+\s+)?trip)?\s+(?i:to)\s+(?=[{UP}]){REST}",
        _trip,
        ("going", "heading", "flying", "travel", "driving", "off", "trip"),
    ),
    rule(
        rf"{ME}{ADV}\s+(?P<kw>(?i:can't|cannot|can\s+not|cant))\s+"
        rf"(?=(?i:have|eat|drink|tolerate|digest)\b){REST}",
        _cannot,
        ("can't", "cannot", "can not", "cant"),
    ),
    *LIFE_RULES,
    rule(
        rf"(?:{ME}(?i:\s+(?:really\s+)?(?:want|wanna|hope|plan|intend|dream\s+of)|'d\s+love|"
        rf"\s+would\s+love|'m\s+(?:planning|hoping|going)|\s+am\s+(?:planning|hoping|going))|"
        r"(?i:\bmy\s+goal\s+is))\s+(?i:to)\s+" + REST,
        _goal,
        ("want", "wanna", "hope", "plan", "intend", "dream", "love", "going", "goal"),
    ),
    rule(
        rf"(?:{I_AM}|\b(?i:we're|we\s+are)){ADV}\s+(?i:moving|relocating)(?i:\s+back)?\s+"
        rf"(?i:to)\s+{REST}",
        _moving,
        ("moving", "relocating"),
    ),
    rule(rf"{ME}(?i:\s+have|'?ve\s+got)\s+(?P<art>(?i:an?))\s+{REST}", _has_a, ("have", "'ve got")),
    rule(rf"{ME}{HAVE}?{ADV}\s+(?P<verb>(?i:{_EVENT_VERBS}))\s+(?!{STIRRED}){REST}", _event),
    *OTHERS_RULES,
    *GROUP_RULES,
)
_RULES = CHANGE_RULES + PROFILE_RULES + _FACT_RULES
_NEXT_CONTACT = re.compile(AND_MY_CONTACT)
"""A contact detail said after a clause ("I live in Denver and my email is ..."): its own
statement, which the clause's span must leave to the rules that read it."""


def apply_rules(sentence: Sentence) -> list[Candidate]:
    """Every fact the rules find in one sentence (earlier rules win overlapping spans; the
    rules read alongside, `ALONGSIDE_RULES`, neither take nor lose one).

    A slot value in a clause that negates it ("I don't think I live in Paris") is dropped:
    it is not the user's, and the slot's current value must not change for it. Nothing is
    taken from what the speaker does not assert: a question, a condition or wish, someone
    else's words (see `asserted`). A fact is dated only by a time of its own clause
    (`_in_clause`)."""
    taken: list[tuple[int, int]] = []
    found: list[Candidate] = []
    lowered = sentence.text.lower()
    for rules, exclusive in ((_RULES, True), (ALONGSIDE_RULES, False)):
        for entry in rules:
            if entry.gate and not any(key in lowered for key in entry.gate):
                continue
            position = 0
            while (match := entry.pattern.search(sentence.text, position)) is not None:
                start, end = match.start(), clause_end(match)
                contact = _NEXT_CONTACT.search(sentence.text, start + 1, end)
                end = contact.start() if contact else end
                position = max(end, start + 1)  # the next clause may say more of the same
                if exclusive and any(start < stop and begin < end for begin, stop in taken):
                    continue
                candidates = _build(entry, match, sentence)
                if not candidates:
                    continue
                candidates = with_role(candidates, sentence.text[start:end], sentence)
                if exclusive:
                    taken.append((start, end))
                if not asserted(sentence, start):
                    continue
                if negated_before(sentence, start):
                    candidates = [c for c in candidates if c.attribute is None]
                found.extend(_after_period(candidates, sentence, start))
    return found


_NEXT_CLAUSE = re.compile(r"(?:,\s*|\s+)(?:and|but|while|whereas)\s+", re.IGNORECASE)
_CLAUSE_SUBJECT = re.compile(
    r",?\s*(?P<i>I|I'm|I've|I'll|I'd)?(?(i)|(?:we|we're|we've|we'll|he|she|they|my|our|his|"
    r"their))\b",
    re.IGNORECASE,
)


def _clause_cuts(sentence: Sentence, *, by_anyone: bool) -> list[int]:
    """Where a clause with a subject of its own opens in `sentence`, after "and", "but" (a
    time may come before its subject): "I work at Initech and next week we have a party"
    opens one at "and". `by_anyone`: one whose subject is the speaker too ("I live in Oslo
    and tomorrow I fly to Rome"); else only one of others ("we", "my wife")."""
    cuts = []
    lowered = sentence.text.casefold()
    for joint in _NEXT_CLAUSE.finditer(sentence.text):
        after = joint.end()
        for time in sentence.times:
            if lowered.startswith(time.span.casefold(), after):
                after += len(time.span)
                break
        subject = _CLAUSE_SUBJECT.match(sentence.text, after)
        if subject and (by_anyone or not subject["i"]):
            cuts.append(joint.start())
    return cuts


def _in_clause(sentence: Sentence, start: int, *, by_anyone: bool) -> Sentence:
    """`sentence` cut where the next clause opens (`_clause_cuts`), with only the times of
    the clause `start` opens; itself when no other clause holds a time. A clause with no
    time of its own takes those of the clauses before it ("Last week I went hiking and I
    got lost": both last week), never those of one after it: "next week" of "I work at
    Initech and next week we have a party" dates the party, not the job."""
    cuts = _clause_cuts(sentence, by_anyone=by_anyone) if sentence.times else []
    if not cuts:
        return sentence
    begin = max((cut for cut in cuts if cut < start), default=0)
    stop = min((cut for cut in cuts if cut > start), default=len(sentence.text))
    lowered = sentence.text.casefold()
    where = [(time, lowered.find(time.span.casefold())) for time in sentence.times]
    own = [time for time, at in where if begin <= at < stop]
    if not own:
        own = [time for time, at in where if at < begin]
    own += [time for time, at in where if at < 0]
    if len(own) == len(sentence.times):
        return sentence
    times = tuple(time for time in sentence.times if time in own)
    return replace(sentence, text=sentence.text[:stop], times=times)


def _build(entry: Rule, match: re.Match[str], sentence: Sentence) -> list[Candidate]:
    """What `entry` builds of `match`, reading the clause it is in alone when another of
    the sentence holds a time (`_in_clause`): its object then stops where the other opens.
    A slot value is of its clause whoever's the other is; an event is dated by the time
    of a clause of the speaker's after it ("I bought tickets to Toronto, and I'm leaving
    on Monday": LoCoMo recall@10 0.7795 -> 0.7788 when the event lost that date)."""
    strict = _in_clause(sentence, match.start(), by_anyone=True)
    if strict is sentence:
        return entry.build(match, sentence)
    lenient = _in_clause(sentence, match.start(), by_anyone=False)
    slots = [c for c in _build_in(entry, match, strict) if c.attribute is not None]
    return slots + [c for c in _build_in(entry, match, lenient) if c.attribute is None]


def _build_in(entry: Rule, match: re.Match[str], clause: Sentence) -> list[Candidate]:
    """What `entry` builds of `match` read again in `clause` (the sentence cut short)."""
    return entry.build(entry.pattern.match(clause.text, match.start()) or match, clause)


_THEN = re.compile(r"(?:,|\band)\s+then\s+$", re.IGNORECASE)
"""What a clause told as what came next opens on ("..., then I joined SAP")."""


def _after_period(candidates: list[Candidate], sentence: Sentence, start: int) -> list[Candidate]:
    """`candidates` of a clause told as what came after the period the sentence names, "I
    worked at IBM from 2010 to 2018, then joined SAP": they hold from the period's end (SAP
    from 2019), not from its start, which is the clause before's."""
    when = sentence.times[0] if sentence.times else None
    if when is None or not spans(when) or not _THEN.search(sentence.text, 0, start):
        return candidates
    return [
        replace(
            c,
            valid_from=when.end,
            relations=tuple(r._replace(valid_from=when.end) for r in c.relations),
        )
        if c.valid_from == when.start
        else c
        for c in candidates
    ]
