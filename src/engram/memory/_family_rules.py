"""Family rules: the user's partner (and their relationship status), kin and pets, named
in a statement ("My sister Maria", "Ana and I got married", "We have a beagle named Max"),
in a list ("My kids are Sam and Alex"), or a turn after they were introduced ("I have a
girlfriend now." "Her name is Mia."), or a partner said by a pronoun after their name ("his name
is Jonas", then "he's my boyfriend now"); and the kin they lost ("My dad passed away last
year"). Part of the profile-slot rules (`_profile_rules.PROFILE_RULES` holds them in its
order).

Here: pets ("We have a beagle named Max"), whom the user has or introduces ("I have a
girlfriend now." "Her name is Mia."), kin lost and carers ("My doctor is Dr. Lopez"), and
`FAMILY_RULES`, every family rule in its order (earlier rules win overlapping spans), with
the builders of kin (`_kin_rules`) and of the partner (`_partner_rules`)."""

from __future__ import annotations

import re

from engram.memory._kin_rules import (
    CAT_BREEDS,
    DOG_BREEDS,
    FAMILY,
    KIN,
    KIN_AND_PETS,
    MOURNED,
    PETS,
    RANK,
    TRAIT,
    brood,
    how_many,
    kin_age,
    kin_fact,
    kin_first,
    kin_of_kin,
    kin_trait,
    lower_kin,
    lower_kin_is,
    my_kin,
    newborn,
    parent_of,
)
from engram.memory._partner_rules import (
    dating,
    lower_partner,
    lower_partner_is,
    married,
    my_partner,
    partner_fact,
    partner_now,
    relationship_status,
    wed_to,
)
from engram.memory._phrases import (
    ADV,
    COUNTS,
    HAVE,
    I_AM,
    ME,
    NAME,
    PARTNERS,
    UP,
    WE,
    Rule,
    Sentence,
    ending,
    fact,
    lowercase_name,
    partner_role,
    partner_stage,
    relate,
    rule,
    slug,
    unpossessive,
    with_date,
)
from engram.memory.candidates import Candidate

__all__ = ["FAMILY_RULES"]


_FRESH = r"(?:(?:new|current)\s+)?"
"""A word saying who holds a role now, as the plain form says it: "my new partner is Lena"
is "my partner is Lena" (the later statement replaces the earlier one either way)."""
_PARTNER_GATE = tuple("partner wife husband girlfriend boyfriend gf bf fianc spouse".split())
"""What a sentence naming the user's partner holds (`PARTNERS`)."""
_NAMES = (
    rf"(?P<names>[{UP}][\w'-]+(?:,\s+[{UP}][\w'-]+)*,?\s+(?i:and|&)\s+[{UP}][\w'-]+"
    rf"|[{UP}][\w'-]+)"
)
"""One name or a list of them ("Sam, Alex and Jo")."""
_AGE = (
    r"(?:(?i:'s|\s+is)" + ADV + r"|" + ADV + r"\s+(?i:turned))\s+"
    r"(?P<n>\d{1,2}|(?i:two|three|four|five|six|seven|eight))"
    r"(?=\s*(?:$|[,;!?]|\.(?!\d)|(?i:years?\s+old|yo|now|today|yesterday|last|this|on|and|"
    r"but|so)\b))"
)
"""An age said of whom the rule names before it: "is 5", "'s 12", "just turned 6" (not "is 5
minutes away", "is 5'11"", "is 6 feet tall")."""


def _pet_age(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A pet's age, "our dog Bella is 3", "my cat just turned 10": the `age:` slot of the
    pet by its name (`age:bella`), or by what it is when unnamed (`age:dog`); a named one is
    the user's pet, as "We have a dog named Bella" says."""
    animal = " ".join(match["rel"].lower().split())
    age = COUNTS.get(match["n"].lower(), match["n"])
    name = match["x"]
    said = f"{animal} {name}" if name else animal
    text = f"{s.label}'s {said} is {age} years old"
    attribute = "age:" + slug(name or animal)
    aged = fact(s, text, attribute=attribute, value=age, importance=0.7)
    return [_pet_fact(s, animal, name), aged] if name else [aged]


_KIN_TRAIT = r"(?i:\s+is|'s)" + TRAIT
"""A diet, faith or allergy said of someone after "is" ("is vegetarian", "'s Catholic",
"is allergic to peanuts", "isn't vegan"): the match starts at "is", so that the rule naming
the partner or kin before it ("my wife Maria") keeps its own span."""
_KIN_OF_KIN = (
    rf"(?i:\bmy\s+(?P<rel>{PARTNERS}|{KIN}|kid|child)'s\s+(?P<rel2>{PARTNERS}|{KIN}))"
    rf"(?i:'s\s+name)?(?i:\s+is)\s+{NAME}(?=\s*(?:$|[.,;!?]))"
)
"""Whom the user's kin has, named: "My brother's wife is Julia", "my wife's brother's name
is Tom"."""


_COUPLE = rf"(?i:\bme\s+and\s+my\s+(?:{PARTNERS}))"
"""The user and their partner as one subject, as "we" ("me and my wife had a baby girl")."""
_OURS = r"(?i:first|second|third|new|own|very|little|family|household)\b"
"""Words after "my" or "our" that keep the user the owner ("our family adopted ...")."""
_OWNER_USER = re.compile(rf"\b(?i:I|I've|I'm|we|we've|we're|(?:my|our)\s+{_OURS})(?!\w)")
_OWNER_OTHER = re.compile(
    rf"\b(?:(?i:he|she|they|his|her|their|(?:my|our)\s+(?!{_OURS})\w+)\b"
    r"|(?!(?:Just|Finally|Today|Yesterday|Recently|Also|So|And|Then|Now|Well|Oh)\b)"
    r"[A-Z][a-z]+(?=,?\s+(?:has|had|have|got|gets|adopted|owns|bought)\b))"
)
"""Who has "a cat named Miso": the user ("We adopted a cat named Miso", or no subject:
"Just adopted a cat named Miso!"), or someone else ("My sister has a dog called Max", "Tom
has a cat named Rex", "Our neighbour, Marta Kowalski, has a cat named Luna"), by the last
subject said before it."""


def _pet(match: re.Match[str], s: Sentence) -> list[Candidate]:
    if not match[0].lower().startswith(("my", "our")):  # "... a cat named Miso": whose?
        before = s.text[: match.start()]
        mine = list(_OWNER_USER.finditer(before))
        if _OWNER_OTHER.search(before, mine[-1].end() if mine else 0):
            return []
    return [_pet_fact(s, match["rel"].lower(), match["x"])]


def _pet_fact(s: Sentence, animal: str, name: str) -> Candidate:
    """The user's pet `name`, a dog or a cat too when `animal` is a breed ("The user has a
    beagle named Max, a dog": what "the user's dog" asks about); "Rex" of "my dog Rex's vet"."""
    name = unpossessive(name)
    entities, relations = relate(s, "has_pet", name, "other", dated=False)
    text = f"{s.label} has a {animal} named {name}"
    if animal in DOG_BREEDS or animal in CAT_BREEDS:
        text += ", a dog" if animal in DOG_BREEDS else ", a cat"
    return fact(s, text, importance=0.7, entities=entities, relations=relations, dated=False)


_STATUS_OF = {1: "in a relationship", 2: "engaged", 3: "married"}
"""The relationship status a partner's stage says (`partner_stage`)."""


def _has_kin(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A partner, kin or pet the user has, "I have a girlfriend now", "We have a beagle named
    Max", "I have a son named Leo", and how many more, "I have a brother and two sisters"."""
    more = [how_many(s, match["n"], match["more"].lower())] if match["n"] else []
    return _has_one(match, s) + more


def _has_one(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """The one partner, kin or pet of `_has_kin`: named, the partner, kin or pet (a name in
    lower case after "named" or "called" too, "i have a sister named maria": `lowercase_name`);
    unnamed, the one a later "Her name is Mia" names (`metadata["introduces"]`), and a
    partner's relationship status."""
    role = " ".join(match["rel"].lower().split())
    name = match["x"] or (lowercase_name(match["lower"], s) if match["lower"] else None)
    if name:
        return _named(s, role, name)
    intro = {"introduces": role}
    if re.fullmatch(PARTNERS, role, re.IGNORECASE):
        role = partner_role(role)
        status = _STATUS_OF.get(partner_stage(role), "in a relationship")
        text = f"{s.label} has a {role}"
        return [
            fact(
                s,
                text,
                kind="profile",
                attribute="relationship_status",
                value=status,
                metadata=intro,
            )
        ]
    verb = match["verb"].lower()
    if verb == "have":
        return [fact(s, f"{s.label} has a {role}", importance=0.6, metadata=intro)]
    # News of a day: "I got a puppy two weeks ago!"
    text = with_date(f"{s.label} {verb} a {role}", s)
    return [fact(s, text, kind="event", importance=0.6, confidence=0.6, metadata=intro)]


def _named(s: Sentence, role: str, name: str) -> list[Candidate]:
    """`name` is the user's `role`: their partner, kin or pet."""
    if re.fullmatch(PARTNERS, role, re.IGNORECASE):
        role = partner_role(role)
        return [partner_fact(s, f"{s.label}'s {role} is {name}", name, role, dated=False)]
    if re.fullmatch(KIN, role, re.IGNORECASE):
        return kin_fact(s, name, role)
    return [_pet_fact(s, role, name)]


def _name_given(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A name given to whom the speaker introduced just before, "I have a girlfriend now."
    "Her name is Mia." (in the same turn, or the previous one)."""
    introduced = [c for c in s.before or () if "introduces" in c.metadata]
    if not introduced:
        return []
    return _named(s, str(introduced[-1].metadata["introduces"]), match["x"])


_DEAR = r"(?:(?:late|dear|beloved)\s+)?"
_WHICH = r"(?:(?:older|younger|little|big|baby|twin)\s+)?(?:great[- ])*"
"""Which relative ("my older brother", "my great-grandmother"), part of what they are."""
_MISPLACED = r"\s+(?i:in|at)\s+(?i:the|a)\s+(?i:crowd|mall|store|shop|supermarket|park|airport)\b"
"""Where a relative is lost for a moment, not for good ("I lost my son at the mall")."""
_ELDER = re.compile(
    r"\b(?:mom|mum|mother|dad|father|parents?|grand\w*|gran|granny|nana|aunt|uncle)$"
)
"""Kin who "passed", said alone, means died ("My grandpa passed last week"); of a son or a
sister it may be an exam."""


_SPOUSE = re.compile(r"\b(?:wife|husband|spouse|partner|fianc[ée]e?|girlfriend|boyfriend)$")
"""Whose death ends the partner slot too, whoever held it ("My wife passed away last year",
"I lost my husband in 2019"), as a break-up does (`_change_rules._broke_up`): from the
date said, the user has no partner (revision retires the one they had from then on)."""


def _loss(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A relative who died, said without a name: "My dad passed away last year", "my
    grandmother died in March", "I lost my mom in 2019", "My grandpa passed last week" (of
    an elder, `_ELDER`): an event, "The user's dad died", valid from the date the sentence
    gives. Said with "died" whatever the words (the turn keeps them): a question may ask
    either way. The date is not in the words: a fact whose words hold a year ranks for any
    question naming that year (LoCoMo, "What did Maria plan to do later on the evening of
    7 July, 2023?" lost its evidence to "Maria's grandma died in the week of 27 February
    2023": recall@10 0.7773 -> 0.7764); the turn, found with it, is dated. A death said
    with the name is `_change_rules._died` (it ends what held of them). A partner's death
    also ends the partner slot (`_SPOUSE`)."""
    kin = " ".join((match["rel"] or match["rel2"]).lower().split())
    if match["bare"] and not _ELDER.search(kin):
        return []  # "My son passed!": a test, as likely as not
    died = fact(s, f"{s.label}'s {kin} died", kind="event", importance=0.8)
    if not _SPOUSE.search(kin):
        return [died]
    return [died, ending(s, f"{s.label} has no partner now", "partner", None)]


_CARERS = (
    r"doctor|gp|dentist|therapist|psychiatrist|psychologist|counsel(?:l)?or|pediatrician|"
    r"paediatrician|dermatologist|cardiologist|gynecologist|ob-?gyn|oncologist|physio|"
    r"physiotherapist|chiropractor|optometrist|vet|lawyer|attorney|accountant|"
    r"financial\s+advisor|(?:personal\s+)?trainer"
)
"""Whom one sees for care or advice, one at a time ("my doctor", "my dentist"): a new one
replaces the old."""
_TITLED = (
    rf"(?P<t>(?:Dr|Doctor|Mr|Mrs|Ms|Miss|Prof|Professor)\.?\s+)?"
    rf"(?P<x>[{UP}][\w'-]+(?:\s+[{UP}][\w'-]+)?)"
)
"""A person's name, with the title it may be said with ("Dr. Lopez")."""
_TITLES = {
    "Dr": "Dr.",
    "Doctor": "Dr.",
    "Mr": "Mr.",
    "Mrs": "Mrs.",
    "Ms": "Ms.",
    "Prof": "Prof.",
    "Professor": "Prof.",
}
"""A title as the value writes it, however it was said ("Dr Kim", "Doctor Kim": "Dr. Kim")."""


def _carer(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """The user's doctor, dentist, therapist ... named: "My doctor is Dr. Lopez", "my
    therapist, Sarah", "my dentist's name is Kim": the slot of that role (`doctor`: "My new
    doctor is Dr. Kim" replaces Dr. Lopez) with the relation (`has_doctor`). After a bare
    "is" only a titled name: "My doctor is Indian" names nobody."""
    if match["is"] and not match["t"]:
        return []
    role = " ".join(match["rel"].lower().split())
    title = (match["t"] or "").strip().rstrip(".")
    name = f"{_TITLES.get(title, title)} {match['x']}".lstrip()
    entities, relations = relate(s, "has_" + slug(role), name, "person", dated=False)
    return [
        fact(
            s,
            f"{s.label}'s {role} is {name}",
            kind="profile",
            attribute=slug(role),
            value=name,
            importance=0.7,
            entities=entities,
            relations=relations,
            dated=False,
        )
    ]


_LOWER_NAME = (
    r"(?:(?P<cue>(?i:'s\s+name\s+is|(?:\s+is)?\s+(?:named|called)))|(?P<comma>,))?"
    r"\s+(?P<x>[a-z][a-z-]*[a-z])(?![\w-]|'(?!s\b))(?(cue)|(?(comma)(?=\s*(?:[,.!?;]|$))|"
    r"(?=(?:'s|" + ADV + r"\s+(?i:is|was|has|had|got|gets|will|would|can|could|said|says|"
    r"told|texted|called|asked|thinks|wants|loves|likes|hates|lives|works|moved|proposed|"
    r"graduated|started|came|went|(?:and|&)\s+(?:i|me)))(?![\w'-]))))"
)
"""A name in lower case after a kin or partner word, only where a name is expected: after
"'s name is", "named" or "called" ("my sister's name is maria"), between commas ("my wife,
sara, works ..."), or as the subject of a verb ("my bf tom is great", "my sister maria just
got married"); never a common word (`lowercase_name`: "my sister just", "my bf really")."""

_IS_LOWER_NAME = (
    r"(?i:\s+is(?:\s+now)?)\s+(?P<x>[a-z][a-z-]*[a-z])"
    r"(?=\s*(?:$|[,.!?;]|(?:lol|haha|btw|tbh|rn)\b))"
)
"""A name in lower case after a bare "is" that ends the clause ("my bf is tom", "my sister
is maria"): the builders then rule out the words said of someone (`said_of_someone`)."""

FAMILY_RULES: tuple[Rule, ...] = (
    rule(_KIN_OF_KIN, kin_of_kin, ("'s",)),
    rule(
        rf"(?i:\b(?:my|our)\s+{_DEAR}(?P<rel>{_WHICH}(?:{MOURNED}))"
        r"(?:\s+(?:has|had|just|sadly|recently|suddenly|unexpectedly|finally))*\s+"
        r"(?:passed\s+away|passed\s+on|died|(?P<bare>passed)(?!\s+(?:the|a|an|his|her|my|their|"
        r"its|our|it|them|me|by|through|over|out|up|down|with)\b)))\b"
        rf"|(?:(?:{ME}|\b(?i:we)){HAVE}?{ADV}\s+|^(?i:(?:sadly|just|recently)\s+)*)"
        rf"(?i:lost\s+(?:my|our)\s+{_DEAR}(?P<rel2>{_WHICH}(?:{FAMILY})))(?![\w'-]|{_MISPLACED})",
        _loss,
        ("passed", "died", "lost"),
    ),
    rule(
        rf"(?:{NAME}\s+(?i:and\s+I|&\s+I)(?i:'re|\s+are|'?ve\s+been|\s+have\s+been|\s+got|"
        rf"\s+just\s+got)?{ADV}\s+(?P<how>(?i:married|engaged))\b(?!\s+(?i:to|with)\b)|"
        rf"{ME}(?i:'m|m|\s+am|'?ve\s+been|\s+have\s+been|\s+got|\s+just\s+got){ADV}\s+"
        rf"(?P<how2>(?i:married|engaged))\s+(?i:to)\s+(?P<x2>[{UP}][\w'-]+(?:\s+[{UP}][\w'-]+)?))",
        wed_to,
        ("married", "engaged"),
    ),
    rule(
        rf"{ME}(?i:'m|m|\s+am|'?ve\s+been|\s+have\s+been|\s+got|\s+just\s+got){ADV}\s+"
        r"(?P<x>(?i:married|single|engaged|divorced|separated|widowed|in\s+a\s+relationship))"
        r"(?![\w-])",  # not "I'm single-handedly ..."
        relationship_status,
        ("married", "single", "engaged", "divorced", "separated", "widowed", "relationship"),
    ),
    rule(
        # "seeing" only with "now" or "these days": "I'm seeing Coldplay!" is a concert
        rf"{I_AM}{ADV}\s+(?i:(?P<dating>dating)|seeing)\s+{NAME}"
        r"(?=\s+(?i:now|these\s+days)\b|(?(dating)\s*(?:$|[.!?,;])|(?!)))",
        dating,
        ("dating", "seeing"),
    ),
    rule(
        rf"(?i:\bmy\s+{_FRESH}(?P<rel>{PARTNERS})(?:'s\s+name\s+is|(?P<comma>,)|(?P<is>\s+is(?:\s+now)?)|"
        r"(?:\s+is)?\s+(?:named|called))?)"
        rf"\s+{NAME}(?(comma)(?![\w'-]|,\s*(?i:and|&)\s+(?!(?i:I|me|myself)\b)))",
        my_partner,
        _PARTNER_GATE,
    ),
    rule(rf"(?i:\bmy\s+{_FRESH}(?P<rel>{PARTNERS})){_LOWER_NAME}", lower_partner, _PARTNER_GATE),
    rule(
        rf"(?i:\bmy\s+{_FRESH}(?P<rel>{PARTNERS})){_IS_LOWER_NAME}",
        lower_partner_is,
        _PARTNER_GATE,
    ),
    rule(
        rf"(?i:\b(?P<pro>he|she)(?:'s|\s+is)(?:\s+(?:now|officially))*\s+my\s+{_FRESH}"
        rf"(?P<rel>{PARTNERS})(?![\w'’-])|\bwe(?:'re|\s+are)(?:\s+now)?\s+officially\s+"
        r"(?:together|a\s+couple|dating)\b)",
        partner_now,
        ("he", "officially"),
    ),
    rule(
        rf"{ME}(?i:\s+(?:got\s+|just\s+got\s+)?married\s+to|\s+married)\s+{NAME}",
        married,
        ("married",),
    ),
    rule(
        rf"{NAME}(?:\s+(?i:is)|'s)(?i:\s+now)?\s+(?i:my)\s+(?i:{_FRESH})(?P<rel>(?i:{PARTNERS}))\b",
        my_partner,
        _PARTNER_GATE,
    ),
    rule(
        rf"(?i:\bmy\s+(?:(?P<which>{'|'.join(RANK)})\s+|(?:little|baby)\s+)?"
        rf"(?P<rel>son|daughter|kid|child|boy|girl|brother|sister))(?:,?\s+{NAME},?)?{_AGE}",
        kin_age,
        ("son", "daughter", "kid", "child", "boy", "girl", "brother", "sister"),
    ),
    rule(
        rf"(?i:\b(?:my|our)\s+(?P<rel>{PETS}))(?:,?\s+{NAME},?)?{_AGE}",
        _pet_age,
        ("my ", "our "),
    ),
    rule(_KIN_TRAIT, kin_trait, ("my ",)),
    rule(
        rf"(?i:\bmy\s+(?:new\s+|current\s+|regular\s+|family\s+)?(?P<rel>{_CARERS})"
        r"(?:'s\s+name\s+is|,|(?:\s+is)?\s+(?:named|called)|(?P<is>\s+is(?:\s+now)?))?)"
        rf"\s+{_TITLED}(?![\w'-])",
        _carer,
        ("my ",),
    ),
    rule(
        rf"(?i:\bmy\s+(?:(?:good|close|old|new|current|little|big|older|younger|twin)\s+)?"
        rf"(?P<rel>{KIN})(?:'s\s+name\s+is|,|(?:\s+is)?\s+(?:named|called)|"
        rf"(?P<is>\s+is(?:\s+now)?))?)\s+{NAME}",
        my_kin,
        ("my ",),
    ),
    rule(
        rf"{NAME}\s+(?i:is)(?i:\s+now)?\s+(?i:my)\s+"
        r"(?i:(?:good|close|old|new|current|little|big|older|younger|twin)\s+)?"
        rf"(?P<rel>(?i:{KIN}))\b(?!['’]s|-)",
        kin_first,
        ("is my ", "is now my "),
    ),
    rule(
        rf"(?i:\bmy\s+(?:(?:good|close|old|new|current|little|big|older|younger|twin)\s+)?"
        rf"(?P<rel>{KIN})){_LOWER_NAME}",
        lower_kin,
        ("my ",),
    ),
    rule(
        rf"(?i:\bmy\s+(?:(?:good|close|old|new|current|little|big|older|younger|twin)\s+)?"
        rf"(?P<rel>{KIN})){_IS_LOWER_NAME}",
        lower_kin_is,
        ("my ",),
    ),
    rule(
        rf"(?i:\b(?:my|our)\s+(?:\w+\s+)?(?P<rel>{PETS})(?:'s\s+name\s+is|,|"
        rf"(?:\s+is)?\s+(?:named|called))?)\s+{NAME}",
        _pet,
        ("my ", "our "),
    ),
    rule(
        rf"(?:{_COUPLE}|{WE}){HAVE}?{ADV}\s+(?i:had|welcomed)\s+(?i:a|our)\s+(?i:(?:new|first|second|"
        r"third)\s+)?(?i:(?:baby|little)\s+)?(?P<rel>(?i:girl|boy|daughter|son|baby))"
        rf"(?i:,?\s+(?:named|called)|,\s+(?:her|his|their)\s+name\s+is)\s+{NAME}",
        newborn,
        ("had", "welcomed"),
    ),
    rule(
        rf"(?:(?i:\bmy\s+(?P<rel>kids|children|sons|daughters|twins|brothers|sisters|"
        r"siblings|parents)\s+are)|"
        rf"{WE}(?i:\s+have|'?ve\s+got|\s+have\s+got)\s+(?P<n>\d|(?i:two|three|four|five))\s+"
        r"(?P<rel2>(?i:kids|children|sons|daughters|boys|girls|brothers|sisters|siblings))"
        r"(?:,|:|\s+(?i:named|called)))\s+" + _NAMES + r"(?=\s*(?:$|[.,;!?]))",
        brood,
        ("kids", "children", "sons", "daughters", "twins", "brothers", "sisters", "siblings")
        + ("parents", "boys", "girls"),
    ),
    rule(
        rf"{I_AM}{ADV}\s+(?i:an?)\s+(?i:mom|mum|mother|dad|father|parent)\s+(?i:of)\s+"
        r"(?P<n>\d|(?i:two|three|four|five|six|seven))\b",
        parent_of,
        ("of",),
    ),
    rule(
        rf"{WE}(?:'ve|\s+have)?(?:\s+(?P<verb>(?i:have|got|adopted|rescued))){ADV}\s+"
        rf"(?i:an?)\s+(?i:(?:new|rescue)\s+)?(?P<rel>(?i:{PARTNERS}|{KIN}|{PETS}))"
        rf"(?:(?:,|(?i:\s+(?:named|called)|,\s+(?:her|his|its|their)\s+name\s+is))\s+{NAME}"
        r"|(?i:\s+(?:named|called))\s+(?P<lower>[a-z][a-z-]*[a-z]))?"
        rf"(?![\w'-])(?:\s+(?i:and)\s+(?P<n>\d|(?i:two|three|four|five))\s+"
        rf"(?P<more>(?i:{KIN_AND_PETS}))\b)?",
        _has_kin,
        ("have", "got", "adopted", "rescued"),
    ),
    rule(
        rf"^(?:(?i:her|his|their)\s+name(?:'s|\s+is)|(?i:she|he)(?:'s|\s+is)\s+"
        rf"(?i:called|named))\s+{NAME}",
        _name_given,
        ("name", "called"),
    ),
    rule(
        rf"(?i:\b(?:a|an)\s+(?:(?:new|rescue)\s+)?(?P<rel>{PETS})\s+(?:named|called))\s+{NAME}",
        _pet,
        ("named", "called"),
    ),
)
"""The family rules, most specific first."""
