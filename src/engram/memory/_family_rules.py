"""Family rules: the user's partner (and their relationship status), kin and pets, named
in a statement ("My sister Maria", "Ana and I got married", "We have a beagle named Max"),
in a list ("My kids are Sam and Alex"), or a turn after they were introduced ("I have a
girlfriend now." "Her name is Mia."), or a partner said by a pronoun after their name ("his name
is Jonas", then "he's my boyfriend now"); and the kin they lost ("My dad passed away last
year"). Part of the profile-slot rules (`_profile_rules.PROFILE_RULES` holds them in its
order)."""

from __future__ import annotations

import re
from dataclasses import replace

from engram.memory._phrases import (
    ADV,
    COUNTS,
    DEMONYMS,
    DIETS,
    FAITHS,
    HAVE,
    I_AM,
    JOBS,
    ME,
    NAME,
    PARTNERS,
    PRONOUNS,
    REST,
    UP,
    WE,
    Rule,
    Sentence,
    ending,
    fact,
    listed,
    lowercase_name,
    partner_role,
    partner_stage,
    relate,
    rule,
    slug,
    stopped,
    unpossessive,
    with_date,
)
from engram.memory.candidates import TIED_TO, Candidate, EntityMention

__all__ = [
    "BROOD",
    "CHILD_ROLE",
    "FAMILY_RULES",
    "KIN",
    "KIN_AND_PETS",
    "NAMES_KEY",
    "TRAIT",
    "allergies",
    "kin_fact",
    "names_given",
    "trait",
]


_FRESH = r"(?:(?:new|current)\s+)?"
"""A word saying who holds a role now, as the plain form says it: "my new partner is Lena"
is "my partner is Lena" (the later statement replaces the earlier one either way)."""
_UNPARTNERED = frozenset(("single", "divorced", "separated", "widowed"))
_PARTNER_GATE = tuple("partner wife husband girlfriend boyfriend gf bf fianc spouse".split())
"""What a sentence naming the user's partner holds (`PARTNERS`)."""


def _status(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """The relationship status; a status with no partner ("I'm single now") also ends the
    partner slot, whoever held it, for as long as that status holds (`TIED_TO`): "I just got
    engaged!", naming nobody, retires "has no partner now" with "single"."""
    status = match["x"].lower()
    text = f"{s.label} is {status}"
    found = [fact(s, text, kind="profile", attribute="relationship_status", value=status)]
    if status in _UNPARTNERED:
        alone = ending(s, f"{s.label} has no partner now", "partner", None)
        tie = {TIED_TO: "relationship_status", "tied_value": status}
        found.append(replace(alone, metadata={**alone.metadata, **tie}))
    return found


KIN = (
    r"best\s+friend|friend|brother|sister|mom|mother|dad|father|son|daughter|cousin|colleague|"
    r"coworker|co-worker|boss|roommate|neighbou?r|aunt|uncle|grandma|grandmother|grandpa|"
    r"grandfather|niece|nephew|mentor|stepson|stepdaughter|stepmom|stepdad"
)
"""Kin, friends and the people the user works with, one at a time ("my sister", "my boss")."""
_DOG_BREEDS = (
    "beagle labrador lab retriever poodle doodle labradoodle goldendoodle husky corgi pug "
    "terrier bulldog chihuahua dachshund spaniel collie boxer rottweiler greyhound schnauzer "
    "pomeranian shepherd"
).split()
_CAT_BREEDS = "tabby siamese ragdoll sphynx".split()
_PETS = (
    r"dog|cat|puppy|kitten|pet|bird|parrot|hamster|rabbit|bunny|horse|pony|fish|turtle|snake|"
    r"tortoise|lizard|gecko|iguana|ferret|guinea\s+pig|chinchilla|hedgehog|budgie|cockatiel|"
    r"goldfish|" + "|".join(_DOG_BREEDS + _CAT_BREEDS)
)
"""The animals (and breeds: "We have a beagle named Max") a pet is."""
BROOD = {
    "kids": "child",
    "children": "child",
    "sons": "son",
    "daughters": "daughter",
    "boys": "son",
    "girls": "daughter",
    "twins": "child",
    "brothers": "brother",
    "sisters": "sister",
    "siblings": "sibling",
    "parents": "parent",
}
"""Kin said in the plural, and what each of them is to the user ("my kids" -> child)."""
KIN_AND_PETS = "|".join(BROOD) + r"|dogs|cats|puppies|kittens|rabbits|birds|hamsters|horses"
"""Kin and pets said with their number, after one more ("a brother and two sisters")."""
_NAMES = (
    rf"(?P<names>[{UP}][\w'-]+(?:,\s+[{UP}][\w'-]+)*,?\s+(?i:and|&)\s+[{UP}][\w'-]+"
    rf"|[{UP}][\w'-]+)"
)
"""One name or a list of them ("Sam, Alex and Jo")."""


def _brood(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """Kin named in a list, "My kids are Sam and Alex", "I have two kids, Sam and Alex": each
    one the user's child (with their number, when said). A faith or nationality is no name
    ("My parents are Catholic": what they are, `_group_rules`' to read)."""
    plural = (match["rel"] or match["rel2"]).lower()
    names = re.split(r",?\s+(?:and|&)\s+|,\s+", match["names"], flags=re.IGNORECASE)
    if any(name.casefold() in FAITHS or name.casefold() in DEMONYMS for name in names):
        return []
    found = [c for name in names for c in kin_fact(s, name, BROOD[plural])]
    if match["n"]:
        found.insert(0, _how_many(s, match["n"], plural))
    return found


def _how_many(s: Sentence, number: str, plural: str) -> Candidate:
    """How many kin or pets the user has, "two sisters": the `count:` slot of them (kids
    and children are one slot)."""
    count = COUNTS.get(number.lower(), number)
    noun = "kids" if BROOD.get(plural) == "child" else plural
    text = f"{s.label} has {count} {noun}"
    return fact(s, text, attribute="count:" + noun, value=count, importance=0.6)


def _parent_of(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A parent by their count of kids, "I'm a mom of two", "a father of 3": the kids."""
    count = COUNTS.get(match["n"].lower(), match["n"])
    return [fact(s, f"{s.label} has {count} kids", attribute="count:kids", value=count)]


CHILD_ROLE = {"kid": "child", "boy": "son", "girl": "daughter"}
"""What a child said another way is to the user ("my boy": their son)."""
_RANK = {
    "older": "older",
    "elder": "older",
    "eldest": "older",
    "oldest": "older",
    "younger": "younger",
    "youngest": "younger",
    "middle": "middle",
    "other": "other",
}
"""The words that tell one of several children or siblings from the others ("my older
son", "my other son"), and the slot each keys: oldest and older are one child (said of two,
as often as not)."""
_AGE = (
    r"(?:(?i:'s|\s+is)" + ADV + r"|" + ADV + r"\s+(?i:turned))\s+"
    r"(?P<n>\d{1,2}|(?i:two|three|four|five|six|seven|eight))"
    r"(?=\s*(?:$|[,;!?]|\.(?!\d)|(?i:years?\s+old|yo|now|today|yesterday|last|this|on|and|"
    r"but|so)\b))"
)
"""An age said of whom the rule names before it: "is 5", "'s 12", "just turned 6" (not "is 5
minutes away", "is 5'11"", "is 6 feet tall")."""


def _kin_age(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A child's or sibling's age, "My son is 5", "My little sister is 12": the `age:` slot
    of them by what they are to the user (`age:son`: "My son just turned 6" updates it), and
    by which of them (`_RANK`) where the user tells them apart ("My older son is 12 and my
    younger son is 9": `age:older_son` and `age:younger_son`, two children). A child named,
    "My son Leo is 5", is the slot by the name (`age:leo`: two sons keep their ages), with
    the relation "I have a son named Leo" states."""
    role = match["rel"].lower()
    role = CHILD_ROLE.get(role, role)
    age = COUNTS.get(match["n"].lower(), match["n"])
    name = match["x"]
    if not name:
        which = (match["which"] or "").lower()
        said = f"{which} {role}".strip()
        text = f"{s.label}'s {said} is {age} years old"
        attribute = "age:" + slug(f"{_RANK.get(which, '')} {role}")
        return [fact(s, text, attribute=attribute, value=age, importance=0.7)]
    entities, relations = relate(s, "has_" + role, name, "person", dated=False)
    text = f"{s.label}'s {role} {name} is {age} years old"
    return [
        fact(
            s,
            text,
            attribute="age:" + slug(name),
            value=age,
            importance=0.7,
            entities=entities,
            relations=relations,
        )
    ]


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


_KIN_SAID_OF = re.compile(
    rf"(?i:\bmy\s+(?:(?:little|baby|big|older|younger|oldest|youngest|twin)\s+)?"
    rf"(?P<rel>{PARTNERS}|{KIN}|kid|child|boy|girl))(?:,?\s+{NAME},?)?$"
)
"""Whom a trait after it is said of: the user's partner or kin, named or not ("my wife",
"my son Leo"), just before the trait (`_kin_trait`)."""
_TRAIT_END = (
    r"(?=\s*(?:$|[,.;:!?)]|(?i:and|but|so|now|too|also|anymore|any\s+more|though|since|"
    r"for|like|which|lol|haha|btw|tbh)\b))"
)
"""Where a diet or faith said of someone ends: the clause, not a noun it qualifies ("my
wife's vegan restaurant", "my husband's Christian friends")."""
TRAIT = (
    r"(?P<neg>(?i:\s+not|\s+no\s+longer|n't|n’t))?"
    r"(?i:\s+(?:also|now|still|strictly|really|actually|severely|an?))*\s+"
    rf"(?:(?:(?P<diet>(?i:{DIETS}))|(?P<faith>(?i:{'|'.join(sorted(FAITHS))}))){_TRAIT_END}"
    rf"|(?i:allergic\s+to)\s+{REST})"
)
"""A diet, faith or allergy said of someone after the verb "be" ("vegetarian", "Catholic",
"allergic to peanuts", "n't vegan"): what `trait` reads."""
_KIN_TRAIT = r"(?i:\s+is|'s)" + TRAIT
"""A diet, faith or allergy said of someone after "is" ("is vegetarian", "'s Catholic",
"is allergic to peanuts", "isn't vegan"): the match starts at "is", so that the rule naming
the partner or kin before it ("my wife Maria") keeps its own span."""
_UNCAPITALISED_FAITHS = frozenset(("atheist", "agnostic"))


def _kin_trait(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A diet, faith or allergy of the user's partner or kin (`_KIN_SAID_OF`), "My wife is
    vegetarian", "My husband is Christian", "My son is allergic to peanuts": a fact about
    them, never the user's own slot. Its `subject` is who they are: their name when said
    ("My wife Maria is vegan": Maria, her entity), else the user's role word ("the user's
    wife"), so that "My wife is vegan now" updates "My wife is vegetarian" and "My son is
    allergic to peanuts" is no fact about the daughter. A name said in an earlier turn is
    not looked up: the rules read one message."""
    whose = _KIN_SAID_OF.search(s.text, 0, match.start())
    if whose is None:
        return []
    role = partner_role(whose["rel"])
    role = CHILD_ROLE.get(role, role)
    name = whose["x"]
    who = f"{s.label}'s {role} {name}" if name else f"{s.label}'s {role}"
    subject = name or f"{s.label_within}'s {role}"
    person = (EntityMention(name, "person"),) if name else ()
    return [
        replace(said, subject=subject, entities=(*said.entities, *person))
        for said in trait(match, s, who)
    ]


def trait(match: re.Match[str], s: Sentence, who: str, *, be: str = "is") -> list[Candidate]:
    """The diet, faith or allergies `TRAIT` matched, as facts about `who` (an allergy per
    thing listed: "is allergic to peanuts and eggs"); `be` is the verb said of `who` ("are"
    for "The user's parents")."""
    negated = bool(match["neg"])
    if match["diet"]:
        diet = match["diet"].lower()
        if negated:
            how = "no longer" if stopped(match, s) else "not"
            return [ending(s, f"{who} {be} {how} {diet}", "diet", diet)]
        return [fact(s, f"{who} {be} {diet}", attribute="diet", value=diet, importance=0.7)]
    if match["faith"]:
        faith = match["faith"].lower()
        faith = faith if faith in _UNCAPITALISED_FAITHS else faith.capitalize()
        if negated:
            return []
        return [fact(s, f"{who} {be} {faith}", attribute="faith", value=faith, importance=0.6)]
    return allergies(match, s, who, be=be)


def allergies(match: re.Match[str], s: Sentence, who: str, *, be: str = "is") -> list[Candidate]:
    """The allergies of `who` a match's `x` lists, one fact each ("allergic to peanuts and
    shellfish": the `allergy:` slot of each, so that one may end alone); ended when the
    match's `neg` is ("no longer allergic to peanuts"). `be` is the verb said of `who`."""
    negated = bool(match["neg"])
    value = "not allergic" if negated else "allergic"
    said = f"{who} {be} {'no longer ' if negated else ''}allergic to"
    return [
        fact(s, f"{said} {thing}", attribute="allergy:" + slug(thing), value=value, importance=0.9)
        for thing in listed(match, s, max_words=5, either=negated)
    ]


_WITH_ME = re.compile(r",\s*(?:and|&)\s+(?:I|me|myself)\b", re.IGNORECASE)


def _partner(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """The user's partner named, "my girlfriend Ana", "my gf's name is Ana", "my wife, Sara,
    works ...". Before ", and I" the name is the spouse's (or fiancé's) own, "My wife, Sara,
    and I went hiking"; with a word of dating it is one of a list, "my gf, Toby, and I played
    board games" (three of them, Toby the dog, in LoCoMo): a false partner would retire the
    real one, a missed name waits for plainer words. After a bare "is", no word said of
    someone (`_said_of_someone`: "My husband is Italian")."""
    if match.groupdict().get("is") and _said_of_someone(s.text[match.start("x") :]):
        return []
    return _partner_named(match, s, match["x"])


def _lower_partner(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """The user's partner named in lower case, "my bf tom is great" (`_lower_name`)."""
    name = _lower_name(match, s)
    return _partner_named(match, s, name) if name else []


_NUMBER_WORDS = frozenset(
    """one two three four five six seven eight nine ten eleven twelve thirteen fourteen
    fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy
    eighty ninety hundred""".split()
)
_SAID_OF_SOMEONE = frozenset(
    """great awesome cool nice sweet cute kind funny smart sick ill pregnant busy away asleep
    awake back gone fine ok okay good bad perfect hot sexy lazy jealous crazy weird mean rude
    sad mad angry upset happy late early best worst right wrong sure single taken tall short
    old young dead alive deaf blind gay straight bi trans cis shy quiet loud broke rich poor
    strict annoying wonderful lovely gorgeous handsome beautiful amazing incredible black
    white""".split()
)
"""Words said of a partner after a bare "is" ("my bf is great", "my gf is pregnant"): no
name, as "my bf is tom" says one."""
_ADJECTIVE_FORM = re.compile(r"(?:ful|ous|less|ible|tic|xic|\w{3}(?:ive|able))$")
"""Forms of adjectives, no names ("my bf is thoughtful", "my wife is supportive", "my boss
is toxic", "my son is autistic"; not "Eric", "Clive", "Olive", "Mable")."""
_WHAT_SOMEONE_IS = re.compile(rf"(?:{DIETS}|{JOBS})(?![\w-])", re.IGNORECASE)
"""A diet or an occupation ("vegetarian", "gluten-free", "Software Engineer", "Product
manager")."""


def _said_of_someone(said: str) -> bool:
    """Whether `said`, the words after a bare "is", says what someone is rather than who,
    in any case: a word said of a partner (`_SAID_OF_SOMEONE`), an adjective's form, an age
    in words ("my mom is sixty"), a nationality or faith (by its first word: "Italian
    American"), a diet or an occupation ("My wife is vegetarian", "My husband is Italian",
    "My wife is Product manager"). A false partner would retire the real one: no name, at
    the risk of a missed one ("my husband is christian")."""
    lower = said.lower()
    first = re.split(r"[^\w']", lower, maxsplit=1)[0]
    return (
        first in _SAID_OF_SOMEONE
        or first in _NUMBER_WORDS
        or first in DEMONYMS
        or first in FAITHS
        or bool(_ADJECTIVE_FORM.search(first))
        or bool(_WHAT_SOMEONE_IS.match(lower))
    )


def _lower_partner_is(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """The user's partner named in lower case after a bare "is", "my bf is tom", "my
    girlfriend is sarah": only a word that ends the clause (`_lower_name`), and no word said
    of a partner (`_said_of_someone`: "my bf is great"): a false partner would retire the
    real one."""
    return [] if _said_of_someone(match["x"]) else _lower_partner(match, s)


def _lower_kin_is(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """Kin named in lower case after a bare "is", "my sister is maria", guarded as
    `_lower_partner_is` is ("my sister is great", "my mom is sick")."""
    return [] if _said_of_someone(match["x"]) else _lower_kin(match, s)


def _partner_named(match: re.Match[str], s: Sentence, name: str) -> list[Candidate]:
    if name.casefold() in PRONOUNS:  # "She is my girlfriend": no name said
        return []
    role = partner_role(match["rel"])
    if _WITH_ME.match(s.text, match.end()) and partner_stage(role) < 2:
        return []
    text = f"{s.label}'s {role} is {name}"
    return [_partner_fact(s, text, name, role, dated=False)]


def _dating(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """The user's partner said as whom they date, "I'm seeing Mia now", "I'm dating Tom": the
    partner, in no role more precise than "partner" (the words say none)."""
    name = match["x"]
    return [_partner_fact(s, f"{s.label} is dating {name}", name, "partner")]


def _married(match: re.Match[str], s: Sentence) -> list[Candidate]:
    name = match["x"]
    return [_partner_fact(s, f"{s.label} married {name}", name, "spouse")]


def _partner_fact(s: Sentence, text: str, name: str, role: str, *, dated: bool = True) -> Candidate:
    """The user's partner `name`, in `role` (`partner_role`: further on supersedes), with
    the partner_of relation; `dated` as for `fact`. A name said with a possessive is the
    partner's without it ("my boyfriend Tom's parents": Tom)."""
    if name != (bare := unpossessive(name)):
        name, text = bare, text.replace(name, bare)
    entities, relations = relate(s, "partner_of", name, "person", dated=dated)
    return fact(
        s,
        text,
        kind="profile",
        attribute="partner",
        value=name,
        importance=0.9,
        entities=entities,
        relations=relations,
        metadata={"role": role},
        dated=dated,
    )


_OPENING_WORD = re.compile(
    r"^(?:Yesterday|Today|Finally|So|And|But|Oh|Well|Also|Then|Actually|Guess\s+what)\s+"
)
"""A sentence's first word, before the name it opens on ("Yesterday Ana and I got married")."""
_WED = {"married": "spouse", "engaged": "fiancé"}
"""The partner's role after a wedding or an engagement."""


def _wed_to(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A wedding or engagement said with the partner, "Ana and I got married", "I'm married
    to Ana", "I got engaged to Ana": the partner (their role now spouse or fiancé: an earlier
    girlfriend or fiancée fact is over) and the relationship status."""
    name = _OPENING_WORD.sub("", match["x"] or match["x2"])
    how = (match["how"] or match["how2"]).lower()
    wed = "married" if how == "married" else "got engaged to"
    partner = _partner_fact(s, f"{s.label} {wed} {name}", name, _WED[how])
    status = fact(
        s, f"{s.label} is {how}", kind="profile", attribute="relationship_status", value=how
    )
    return [partner, status]


def _kin(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """Kin named, "my sister Maria", "my new boss is Sam"; after a bare "is", no word said
    of someone (`_said_of_someone`: "My boss is Italian")."""
    if match["is"] and _said_of_someone(s.text[match.start("x") :]):
        return []
    return kin_fact(s, match["x"], " ".join(match["rel"].lower().split()))


def _kin_first(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """Kin named first, "Carla Mendes is my best friend", "Sam is my boss"."""
    return kin_fact(s, match["x"], " ".join(match["rel"].lower().split()))


def _lower_kin(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """Kin named in lower case, "my sister maria just got married" (`_lower_name`)."""
    name = _lower_name(match, s)
    return kin_fact(s, name, " ".join(match["rel"].lower().split())) if name else []


def _lower_name(match: re.Match[str], s: Sentence) -> str | None:
    """The name `_LOWER_NAME` captured, title-cased; None for a common word
    (`lowercase_name`) or a word of kin or pets ("my bf mom is visiting": his mom)."""
    if _KIN_WORD.fullmatch(match["x"]):
        return None
    return lowercase_name(match["x"], s)


def kin_fact(s: Sentence, name: str, role: str) -> list[Candidate]:
    """`name` is the user's `role` (friend, sister, son ...), with the relation it states;
    nothing for a pronoun in a name's place ("This is my boss")."""
    name = unpossessive(name)
    if name.casefold() in PRONOUNS:
        return []
    relation = "friend_of" if "friend" in role else "has_" + role.replace(" ", "_")
    entities, relations = relate(s, relation, name, "person", dated=False)
    text = f"{name} is {s.label_within}'s {role}"
    return [fact(s, text, importance=0.7, entities=entities, relations=relations, dated=False)]


_KIN_OF_KIN = (
    rf"(?i:\bmy\s+(?P<rel>{PARTNERS}|{KIN}|kid|child)'s\s+(?P<rel2>{PARTNERS}|{KIN}))"
    rf"(?i:'s\s+name)?(?i:\s+is)\s+{NAME}(?=\s*(?:$|[.,;!?]))"
)
"""Whom the user's kin has, named: "My brother's wife is Julia", "my wife's brother's name
is Tom"."""


def _kin_of_kin(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """Someone the user's kin has, "My brother's wife is Julia": a fact naming them (their
    entity), no relation of the user's: Julia is no partner of the user's, and "My sister's
    boss is Sam" no boss. Nothing for a word said of someone ("is Italian")."""
    name = match["x"]
    if name.casefold() in PRONOUNS or _said_of_someone(s.text[match.start("x") :]):
        return []
    role, role2 = (CHILD_ROLE.get(r, r) for r in map(partner_role, (match["rel"], match["rel2"])))
    text = f"{name} is {s.label_within}'s {role}'s {role2}"
    person = (EntityMention(name, "person"),)
    return [fact(s, text, importance=0.6, entities=person, dated=False)]


_COUPLE = rf"(?i:\bme\s+and\s+my\s+(?:{PARTNERS}))"
"""The user and their partner as one subject, as "we" ("me and my wife had a baby girl")."""
_NEWBORN = {"girl": "daughter", "boy": "son", "baby": "child"}
"""The kin a baby the user had is: "a baby girl" their daughter."""


def _newborn(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A child born to the user, "We just had a baby girl named Rosa": their daughter."""
    role = match["rel"].lower()
    return kin_fact(s, match["x"], _NEWBORN.get(role, role))


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
    if animal in _DOG_BREEDS or animal in _CAT_BREEDS:
        text += ", a dog" if animal in _DOG_BREEDS else ", a cat"
    return fact(s, text, importance=0.7, entities=entities, relations=relations, dated=False)


_STATUS_OF = {1: "in a relationship", 2: "engaged", 3: "married"}
"""The relationship status a partner's stage says (`partner_stage`)."""


def _has_kin(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A partner, kin or pet the user has, "I have a girlfriend now", "We have a beagle named
    Max", "I have a son named Leo", and how many more, "I have a brother and two sisters"."""
    more = [_how_many(s, match["n"], match["more"].lower())] if match["n"] else []
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
        return [_partner_fact(s, f"{s.label}'s {role} is {name}", name, role, dated=False)]
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


NAMES_KEY = "names"
"""The metadata key of whom a turn named without saying who they are to the speaker
(`names_given`): not a fact, what a later "he's my boyfriend now" reads (`Sentence.before`)."""
_NAMING = re.compile(
    r"(?:\b(?P<pro>(?i:his|her|their))\s+(?i:name)(?:'s|\s+is)"
    r"|\b(?P<pro2>(?i:he|she))(?:'s|\s+is)\s+(?i:called|named)"
    r"|(?i:\bmet\s+(?:someone|somebody|(?:a|this)\s+(?:\w+\s+){0,2}?"
    r"(?P<who>guy|girl|man|woman|boy|lady|dude|person)))"
    r"(?i:\s+(?:named|called)|,\s+(?P<pro3>his|her|their)\s+name\s+is)"
    r"|(?i:\b(?:I'm|I\s+am|I'?ve\s+been|I\s+have\s+been)\s+(?:seeing|dating)))"
    rf"\s+{NAME}"
)
"""A person named with no role ("his name is Jonas", "I met someone named Jonas", "I've
been seeing Jonas"): whom a later "he's my boyfriend now" means."""
_HE = frozenset("his he guy man boy dude".split())
_SHE = frozenset("her she girl woman lady".split())


def names_given(text: str) -> tuple[Candidate, ...]:
    """Whom `text` names with no role (`_NAMING`), in order, each as a marker (no fact) of
    the name and the pronoun that fits them ("he", "she", or None: "their name", "someone").
    A name with a possessive is a place ("at Dave's"), no one's name."""
    found = []
    for match in _NAMING.finditer(text):
        if match["x"].casefold() in PRONOUNS or unpossessive(match["x"]) != match["x"]:
            continue
        said = (match["pro"] or match["pro2"] or match["pro3"] or match["who"] or "").lower()
        pronoun = "he" if said in _HE else "she" if said in _SHE else None
        found.append(
            Candidate(text=match["x"], metadata={NAMES_KEY: match["x"], "pronoun": pronoun})
        )
    return tuple(found)


def _partner_now(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A partner said by a pronoun, "he's my boyfriend now", "we're officially together":
    the person the speaker named last, in this turn or an earlier one of the session
    (`names_given`), whom the pronoun fits. No name known, no fact."""
    start = max(s.turn.find(s.text), 0) if s.turn else 0
    head = (s.turn[:start] if s.turn else "") + " " + s.text[: match.start()]
    named = (*(c for c in s.before or () if NAMES_KEY in c.metadata), *names_given(head))
    pronoun = (match["pro"] or "").lower() or None
    fits = [c for c in named if pronoun is None or c.metadata["pronoun"] in (pronoun, None)]
    if not fits:
        return []
    name = str(fits[-1].metadata[NAMES_KEY])
    role = partner_role(match["rel"]) if match["rel"] else "partner"
    return [_partner_fact(s, f"{s.label}'s {role} is {name}", name, role, dated=False)]


_FAMILY = (
    r"mom|mum|mother|dad|father|parents?|step(?:mom|mum|mother|dad|father)|grandma|"
    r"grandmother|grandpa|grandfather|granny|gran|nana|grandad|granddad|grandparents?|"
    r"brother|sister|son|daughter|baby|aunt|uncle|cousin|niece|nephew|wife|husband|"
    r"partner|fianc[ée]e?"
)
"""Kin one "lost", meaning they died ("I lost my dad last year"): family only ("I lost my
best friend" may be a friendship that ended)."""
_MOURNED = (
    rf"{_FAMILY}|best\s+friend|friend|girlfriend|boyfriend|colleague|co-?worker|boss|mentor|"
    r"roommate"
)
"""Whom one says died ("My grandma passed away", "my boss died")."""
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
is maria"): the builders then rule out the words said of someone (`_said_of_someone`)."""

_KIN_WORD = re.compile(
    rf"(?:{_MOURNED}|{PARTNERS}|{_PETS}|{KIN_AND_PETS}|kid|child|baby|family|fam)s?", re.IGNORECASE
)
"""A word of kin or pets: whose it is follows, not their name ("my sister kids are ...")."""

FAMILY_RULES: tuple[Rule, ...] = (
    rule(_KIN_OF_KIN, _kin_of_kin, ("'s",)),
    rule(
        rf"(?i:\b(?:my|our)\s+{_DEAR}(?P<rel>{_WHICH}(?:{_MOURNED}))"
        r"(?:\s+(?:has|had|just|sadly|recently|suddenly|unexpectedly|finally))*\s+"
        r"(?:passed\s+away|passed\s+on|died|(?P<bare>passed)(?!\s+(?:the|a|an|his|her|my|their|"
        r"its|our|it|them|me|by|through|over|out|up|down|with)\b)))\b"
        rf"|(?:(?:{ME}|\b(?i:we)){HAVE}?{ADV}\s+|^(?i:(?:sadly|just|recently)\s+)*)"
        rf"(?i:lost\s+(?:my|our)\s+{_DEAR}(?P<rel2>{_WHICH}(?:{_FAMILY})))(?![\w'-]|{_MISPLACED})",
        _loss,
        ("passed", "died", "lost"),
    ),
    rule(
        rf"(?:{NAME}\s+(?i:and\s+I|&\s+I)(?i:'re|\s+are|'?ve\s+been|\s+have\s+been|\s+got|"
        rf"\s+just\s+got)?{ADV}\s+(?P<how>(?i:married|engaged))\b(?!\s+(?i:to|with)\b)|"
        rf"{ME}(?i:'m|m|\s+am|'?ve\s+been|\s+have\s+been|\s+got|\s+just\s+got){ADV}\s+"
        rf"(?P<how2>(?i:married|engaged))\s+(?i:to)\s+(?P<x2>[{UP}][\w'-]+(?:\s+[{UP}][\w'-]+)?))",
        _wed_to,
        ("married", "engaged"),
    ),
    rule(
        rf"{ME}(?i:'m|m|\s+am|'?ve\s+been|\s+have\s+been|\s+got|\s+just\s+got){ADV}\s+"
        r"(?P<x>(?i:married|single|engaged|divorced|separated|widowed|in\s+a\s+relationship))"
        r"(?![\w-])",  # not "I'm single-handedly ..."
        _status,
        ("married", "single", "engaged", "divorced", "separated", "widowed", "relationship"),
    ),
    rule(
        # "seeing" only with "now" or "these days": "I'm seeing Coldplay!" is a concert
        rf"{I_AM}{ADV}\s+(?i:(?P<dating>dating)|seeing)\s+{NAME}"
        r"(?=\s+(?i:now|these\s+days)\b|(?(dating)\s*(?:$|[.!?,;])|(?!)))",
        _dating,
        ("dating", "seeing"),
    ),
    rule(
        rf"(?i:\bmy\s+{_FRESH}(?P<rel>{PARTNERS})(?:'s\s+name\s+is|(?P<comma>,)|(?P<is>\s+is(?:\s+now)?)|"
        r"(?:\s+is)?\s+(?:named|called))?)"
        rf"\s+{NAME}(?(comma)(?![\w'-]|,\s*(?i:and|&)\s+(?!(?i:I|me|myself)\b)))",
        _partner,
        _PARTNER_GATE,
    ),
    rule(rf"(?i:\bmy\s+{_FRESH}(?P<rel>{PARTNERS})){_LOWER_NAME}", _lower_partner, _PARTNER_GATE),
    rule(
        rf"(?i:\bmy\s+{_FRESH}(?P<rel>{PARTNERS})){_IS_LOWER_NAME}",
        _lower_partner_is,
        _PARTNER_GATE,
    ),
    rule(
        rf"(?i:\b(?P<pro>he|she)(?:'s|\s+is)(?:\s+(?:now|officially))*\s+my\s+{_FRESH}"
        rf"(?P<rel>{PARTNERS})(?![\w'’-])|\bwe(?:'re|\s+are)(?:\s+now)?\s+officially\s+"
        r"(?:together|a\s+couple|dating)\b)",
        _partner_now,
        ("he", "officially"),
    ),
    rule(
        rf"{ME}(?i:\s+(?:got\s+|just\s+got\s+)?married\s+to|\s+married)\s+{NAME}",
        _married,
        ("married",),
    ),
    rule(
        rf"{NAME}(?:\s+(?i:is)|'s)(?i:\s+now)?\s+(?i:my)\s+(?i:{_FRESH})(?P<rel>(?i:{PARTNERS}))\b",
        _partner,
        _PARTNER_GATE,
    ),
    rule(
        rf"(?i:\bmy\s+(?:(?P<which>{'|'.join(_RANK)})\s+|(?:little|baby)\s+)?"
        rf"(?P<rel>son|daughter|kid|child|boy|girl|brother|sister))(?:,?\s+{NAME},?)?{_AGE}",
        _kin_age,
        ("son", "daughter", "kid", "child", "boy", "girl", "brother", "sister"),
    ),
    rule(
        rf"(?i:\b(?:my|our)\s+(?P<rel>{_PETS}))(?:,?\s+{NAME},?)?{_AGE}",
        _pet_age,
        ("my ", "our "),
    ),
    rule(_KIN_TRAIT, _kin_trait, ("my ",)),
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
        _kin,
        ("my ",),
    ),
    rule(
        rf"{NAME}\s+(?i:is)(?i:\s+now)?\s+(?i:my)\s+"
        r"(?i:(?:good|close|old|new|current|little|big|older|younger|twin)\s+)?"
        rf"(?P<rel>(?i:{KIN}))\b(?!['’]s|-)",
        _kin_first,
        ("is my ", "is now my "),
    ),
    rule(
        rf"(?i:\bmy\s+(?:(?:good|close|old|new|current|little|big|older|younger|twin)\s+)?"
        rf"(?P<rel>{KIN})){_LOWER_NAME}",
        _lower_kin,
        ("my ",),
    ),
    rule(
        rf"(?i:\bmy\s+(?:(?:good|close|old|new|current|little|big|older|younger|twin)\s+)?"
        rf"(?P<rel>{KIN})){_IS_LOWER_NAME}",
        _lower_kin_is,
        ("my ",),
    ),
    rule(
        rf"(?i:\b(?:my|our)\s+(?:\w+\s+)?(?P<rel>{_PETS})(?:'s\s+name\s+is|,|"
        rf"(?:\s+is)?\s+(?:named|called))?)\s+{NAME}",
        _pet,
        ("my ", "our "),
    ),
    rule(
        rf"(?:{_COUPLE}|{WE}){HAVE}?{ADV}\s+(?i:had|welcomed)\s+(?i:a|our)\s+(?i:(?:new|first|second|"
        r"third)\s+)?(?i:(?:baby|little)\s+)?(?P<rel>(?i:girl|boy|daughter|son|baby))"
        rf"(?i:,?\s+(?:named|called)|,\s+(?:her|his|their)\s+name\s+is)\s+{NAME}",
        _newborn,
        ("had", "welcomed"),
    ),
    rule(
        rf"(?:(?i:\bmy\s+(?P<rel>kids|children|sons|daughters|twins|brothers|sisters|"
        r"siblings|parents)\s+are)|"
        rf"{WE}(?i:\s+have|'?ve\s+got|\s+have\s+got)\s+(?P<n>\d|(?i:two|three|four|five))\s+"
        r"(?P<rel2>(?i:kids|children|sons|daughters|boys|girls|brothers|sisters|siblings))"
        r"(?:,|:|\s+(?i:named|called)))\s+" + _NAMES + r"(?=\s*(?:$|[.,;!?]))",
        _brood,
        ("kids", "children", "sons", "daughters", "twins", "brothers", "sisters", "siblings")
        + ("parents", "boys", "girls"),
    ),
    rule(
        rf"{I_AM}{ADV}\s+(?i:an?)\s+(?i:mom|mum|mother|dad|father|parent)\s+(?i:of)\s+"
        r"(?P<n>\d|(?i:two|three|four|five|six|seven))\b",
        _parent_of,
        ("of",),
    ),
    rule(
        rf"{WE}(?:'ve|\s+have)?(?:\s+(?P<verb>(?i:have|got|adopted|rescued))){ADV}\s+"
        rf"(?i:an?)\s+(?i:(?:new|rescue)\s+)?(?P<rel>(?i:{PARTNERS}|{KIN}|{_PETS}))"
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
        rf"(?i:\b(?:a|an)\s+(?:(?:new|rescue)\s+)?(?P<rel>{_PETS})\s+(?:named|called))\s+{NAME}",
        _pet,
        ("named", "called"),
    ),
)
"""The family rules, most specific first."""
