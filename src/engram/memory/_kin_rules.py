"""Kin rules' builders and words: the user's kin, friends and the people they work with
(`KIN`), named ("My sister Maria", "Sam is my boss", "my sister maria"), in a list ("My
kids are Sam and Alex"), by their age ("My son is 5") or their diet, faith or allergies
("My wife is vegetarian": `trait`), and whom they have ("My brother's wife is Julia"); the
words of kin and pets (`KIN_AND_PETS`, `PETS`), and what tells a name from a word said of
someone (`said_of_someone`, `lower_name`). `_family_rules.FAMILY_RULES` holds their
patterns, in its order."""

from __future__ import annotations

import re
from dataclasses import replace

from engram.memory._phrases import (
    COUNTS,
    DEMONYMS,
    DIETS,
    FAITHS,
    JOBS,
    NAME,
    PARTNERS,
    PRONOUNS,
    REST,
    Sentence,
    ending,
    fact,
    listed,
    lowercase_name,
    partner_role,
    relate,
    slug,
    stopped,
    unpossessive,
)
from engram.memory.candidates import Candidate, EntityMention

__all__ = [
    "BROOD",
    "CAT_BREEDS",
    "CHILD_ROLE",
    "DOG_BREEDS",
    "FAMILY",
    "KIN",
    "KIN_AND_PETS",
    "MOURNED",
    "PETS",
    "RANK",
    "TRAIT",
    "allergies",
    "brood",
    "how_many",
    "kin_age",
    "kin_fact",
    "kin_first",
    "kin_of_kin",
    "kin_trait",
    "lower_kin",
    "lower_kin_is",
    "lower_name",
    "my_kin",
    "newborn",
    "parent_of",
    "said_of_someone",
    "trait",
]


KIN = (
    r"best\s+friend|friend|brother|sister|mom|mother|dad|father|son|daughter|cousin|colleague|"
    r"coworker|co-worker|boss|roommate|neighbou?r|aunt|uncle|grandma|grandmother|grandpa|"
    r"grandfather|niece|nephew|mentor|stepson|stepdaughter|stepmom|stepdad"
)
"""Kin, friends and the people the user works with, one at a time ("my sister", "my boss")."""
DOG_BREEDS = (
    "beagle labrador lab retriever poodle doodle labradoodle goldendoodle husky corgi pug "
    "terrier bulldog chihuahua dachshund spaniel collie boxer rottweiler greyhound schnauzer "
    "pomeranian shepherd"
).split()
CAT_BREEDS = "tabby siamese ragdoll sphynx".split()
PETS = (
    r"dog|cat|puppy|kitten|pet|bird|parrot|hamster|rabbit|bunny|horse|pony|fish|turtle|snake|"
    r"tortoise|lizard|gecko|iguana|ferret|guinea\s+pig|chinchilla|hedgehog|budgie|cockatiel|"
    r"goldfish|" + "|".join(DOG_BREEDS + CAT_BREEDS)
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


def brood(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """Kin named in a list, "My kids are Sam and Alex", "I have two kids, Sam and Alex": each
    one the user's child (with their number, when said). A faith or nationality is no name
    ("My parents are Catholic": what they are, `_group_rules`' to read)."""
    plural = (match["rel"] or match["rel2"]).lower()
    names = re.split(r",?\s+(?:and|&)\s+|,\s+", match["names"], flags=re.IGNORECASE)
    if any(name.casefold() in FAITHS or name.casefold() in DEMONYMS for name in names):
        return []
    found = [c for name in names for c in kin_fact(s, name, BROOD[plural])]
    if match["n"]:
        found.insert(0, how_many(s, match["n"], plural))
    return found


def how_many(s: Sentence, number: str, plural: str) -> Candidate:
    """How many kin or pets the user has, "two sisters": the `count:` slot of them (kids
    and children are one slot)."""
    count = COUNTS.get(number.lower(), number)
    noun = "kids" if BROOD.get(plural) == "child" else plural
    text = f"{s.label} has {count} {noun}"
    return fact(s, text, attribute="count:" + noun, value=count, importance=0.6)


def parent_of(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A parent by their count of kids, "I'm a mom of two", "a father of 3": the kids."""
    count = COUNTS.get(match["n"].lower(), match["n"])
    return [fact(s, f"{s.label} has {count} kids", attribute="count:kids", value=count)]


CHILD_ROLE = {"kid": "child", "boy": "son", "girl": "daughter"}
"""What a child said another way is to the user ("my boy": their son)."""
RANK = {
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


def kin_age(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A child's or sibling's age, "My son is 5", "My little sister is 12": the `age:` slot
    of them by what they are to the user (`age:son`: "My son just turned 6" updates it), and
    by which of them (`RANK`) where the user tells them apart ("My older son is 12 and my
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
        attribute = "age:" + slug(f"{RANK.get(which, '')} {role}")
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


_KIN_SAID_OF = re.compile(
    rf"(?i:\bmy\s+(?:(?:little|baby|big|older|younger|oldest|youngest|twin)\s+)?"
    rf"(?P<rel>{PARTNERS}|{KIN}|kid|child|boy|girl))(?:,?\s+{NAME},?)?$"
)
"""Whom a trait after it is said of: the user's partner or kin, named or not ("my wife",
"my son Leo"), just before the trait (`kin_trait`)."""
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
_UNCAPITALISED_FAITHS = frozenset(("atheist", "agnostic"))


def kin_trait(match: re.Match[str], s: Sentence) -> list[Candidate]:
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


def said_of_someone(said: str) -> bool:
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


def lower_kin_is(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """Kin named in lower case after a bare "is", "my sister is maria", guarded as
    `lower_partner_is` is ("my sister is great", "my mom is sick")."""
    return [] if said_of_someone(match["x"]) else lower_kin(match, s)


def my_kin(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """Kin named, "my sister Maria", "my new boss is Sam"; after a bare "is", no word said
    of someone (`said_of_someone`: "My boss is Italian")."""
    if match["is"] and said_of_someone(s.text[match.start("x") :]):
        return []
    return kin_fact(s, match["x"], " ".join(match["rel"].lower().split()))


def kin_first(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """Kin named first, "Carla Mendes is my best friend", "Sam is my boss"."""
    return kin_fact(s, match["x"], " ".join(match["rel"].lower().split()))


def lower_kin(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """Kin named in lower case, "my sister maria just got married" (`lower_name`)."""
    name = lower_name(match, s)
    return kin_fact(s, name, " ".join(match["rel"].lower().split())) if name else []


def lower_name(match: re.Match[str], s: Sentence) -> str | None:
    """The name `_family_rules._LOWER_NAME` captured, title-cased; None for a common word
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


def kin_of_kin(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """Someone the user's kin has, "My brother's wife is Julia": a fact naming them (their
    entity), no relation of the user's: Julia is no partner of the user's, and "My sister's
    boss is Sam" no boss. Nothing for a word said of someone ("is Italian")."""
    name = match["x"]
    if name.casefold() in PRONOUNS or said_of_someone(s.text[match.start("x") :]):
        return []
    role, role2 = (CHILD_ROLE.get(r, r) for r in map(partner_role, (match["rel"], match["rel2"])))
    text = f"{name} is {s.label_within}'s {role}'s {role2}"
    person = (EntityMention(name, "person"),)
    return [fact(s, text, importance=0.6, entities=person, dated=False)]


_NEWBORN = {"girl": "daughter", "boy": "son", "baby": "child"}
"""The kin a baby the user had is: "a baby girl" their daughter."""


def newborn(match: re.Match[str], s: Sentence) -> list[Candidate]:
    """A child born to the user, "We just had a baby girl named Rosa": their daughter."""
    role = match["rel"].lower()
    return kin_fact(s, match["x"], _NEWBORN.get(role, role))


FAMILY = (
    r"mom|mum|mother|dad|father|parents?|step(?:mom|mum|mother|dad|father)|grandma|"
    r"grandmother|grandpa|grandfather|granny|gran|nana|grandad|granddad|grandparents?|"
    r"brother|sister|son|daughter|baby|aunt|uncle|cousin|niece|nephew|wife|husband|"
    r"partner|fianc[ée]e?"
)
"""Kin one "lost", meaning they died ("I lost my dad last year"): family only ("I lost my
best friend" may be a friendship that ended)."""
MOURNED = (
    rf"{FAMILY}|best\s+friend|friend|girlfriend|boyfriend|colleague|co-?worker|boss|mentor|"
    r"roommate"
)
"""Whom one says died ("My grandma passed away", "my boss died")."""
_KIN_WORD = re.compile(
    rf"(?:{MOURNED}|{PARTNERS}|{PETS}|{KIN_AND_PETS}|kid|child|baby|family|fam)s?", re.IGNORECASE
)
"""A word of kin or pets: whose it is follows, not their name ("my sister kids are ...")."""
