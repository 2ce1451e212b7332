"""What a search query says: its content words for BM25 (`lexical_query`), the entities it
names (`entities_in_query`), whether it asks "when" (`is_temporal_query`) and the periods it
names (`query_periods`), whether it asks what held before (`past_asked`) and whom it names
by what they are to the user (`role_relations`) or to someone named
(`named_role_relations`). Pure functions, no I/O; `ranking` reads
queries with them."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime

from engram.memory.bm25 import tokenize
from engram.memory.entities import extract_entities, fold
from engram.memory.temporal import ground

__all__ = [
    "PARTNER_ROLES",
    "STOPWORDS",
    "Period",
    "asks_end",
    "asks_past",
    "aware",
    "entities_in_query",
    "is_temporal_query",
    "lexical_query",
    "named_role_relations",
    "past_asked",
    "query_periods",
    "query_terms",
    "role_relations",
    "role_words",
    "without_names",
]


Period = tuple[datetime, datetime]
"""A half-open time interval `[start, end)`."""


_FIRST_REFERENCE = datetime(2001, 1, 1, tzinfo=UTC)
_SECOND_REFERENCE = datetime(2031, 7, 15, tzinfo=UTC)
_WORD = re.compile(r"[^\W_]+")

STOPWORDS: frozenset[str] = frozenset(
    """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours
    yourself yourselves s t don didn doesn isn wasn aren weren won wouldn couldn shouldn ll
    ve re d m o y ma
    """.split()
)
"""English function words, dropped from lexical queries (`lexical_query`)."""


_NOW_PHRASES = re.compile(
    r"\b(?:these\s+days|nowadays|lately|right\s+now|at\s+(?:the\s+)?moment)\b",
    re.IGNORECASE,
)
"""Phrases that say a question is about now, and nothing of its topic: "What music do I like
these days?" would match "10 days" by "days" (`lexical_query` drops them). Not "currently":
LoCoMo's "What book is Jon currently reading?" finds "I'm currently reading" by it."""


def lexical_query(text: str) -> str:
    """`text` reduced to its content words, for a BM25 search.

    Function words ("what", "did", "the") match most memories and add noise to BM25's sum:
    dropping them raised LoCoMo turn recall@10. So do the phrases that only say "now"
    ("these days", "lately", "right now", "at the moment"): "days" of "these days" is no
    topic. A text made only of these is returned unchanged (searching for "who am I"
    should still find something).

    Example:
        ```python
        lexical_query("What did Caroline research?")  # "Caroline research"
        ```
    """
    # Composed first: a decomposed "Zürich" (u + combining diaeresis) would split in two.
    text = unicodedata.normalize("NFC", text)
    words = _WORD.findall(_NOW_PHRASES.sub(" ", text))
    kept = [word for word in words if word.casefold() not in STOPWORDS]
    return " ".join(kept) if kept else text


def query_terms(text: str) -> frozenset[str]:
    """The terms a question asks with: the stemmed content words of `text` (`lexical_query`,
    as BM25 reads them), so that two questions compare by what they ask, not by how.

    Example:
        ```python
        query_terms("Where do I live now?")  # frozenset({"live"})
        ```
    """
    return frozenset(tokenize(lexical_query(text)))


def without_names(query: str, names: Iterable[str]) -> str:
    """`query` without `names` (a possessive "'s" goes with its name), if a content word
    remains; else `query` unchanged.

    A search of a user's memories that names the user ("What does Ana eat?") is about all of
    them, yet only the few that spell the name ("Nice to meet you, Ana!") match it, in words
    and in meaning alike: without it, "What does eat?" finds "I switched to a vegan diet".

    Example:
        ```python
        without_names("What is Ana's running goal?", ["Ana"])  # "What is running goal?"
        without_names("Who is Ana?", ["Ana"])                   # "Who is Ana?"
        ```
    """
    rest = query
    for name in names:
        pattern = rf"(?<!\w){re.escape(name)}(?:['’]s)?(?!\w)"
        rest = re.sub(pattern, "", rest, flags=re.IGNORECASE)
    rest = " ".join(rest.split())
    content = [word for word in _WORD.findall(rest) if word.casefold() not in STOPWORDS]
    return rest if content and rest != query else query


def entities_in_query(query: str, people: Iterable[str] = ()) -> tuple[str, ...]:
    """The folded names of the entities a query mentions (`entities.extract_entities`).

    Example:
        ```python
        entities_in_query("What did Caroline research?")  # ("caroline",)
        ```
    """
    mentions = extract_entities(query, people=people)
    return tuple(dict.fromkeys(fold(mention.name) for mention in mentions))


_TEMPORAL_QUERY = re.compile(
    r"^\W*when\b|\b(?:what|which)\s+(?:year|month|day|date|week|weekend|time|season)\b"
    r"|\bhow\s+long\s+(?:ago\b|(?:have|had)\s+I\b)|\bsince\s+when\b",
    re.IGNORECASE,
)


def is_temporal_query(query: str) -> bool:
    """True if `query` asks when something happened ("When did...", "What year...") or
    since when what the user holds now has ("How long have I lived in Berlin?", "Since
    when do I work at Acme?": the time it began, as "When did I move to Berlin?" asks).
    Not "How long has Mel been painting?": asked of someone in a conversation (LoCoMo), it
    is answered by a duration said ("for seven years"), and the boost of dated turns
    lowered recall there."""
    return bool(_TEMPORAL_QUERY.search(query))


def asks_past(query: str) -> bool:
    """Whether `query` asks in the past tense ("Where did I work?", "What was my job?"):
    about a slot the user ended, the value it held, not that it holds none now."""
    return bool(_PAST_TENSE.search(query))


_PAST_TENSE = re.compile(r"\b(?:did|was|were|used\s+to)\b", re.IGNORECASE)


def asks_end(query: str) -> bool:
    """Whether `query` asks when something the user had ended ("When did I finish my PhD?",
    "When did I leave Google?"): the ending answers it, not the value it ended."""
    return bool(_WHEN_ENDED.search(query))


_WHEN_ENDED = re.compile(
    r"\bwhen\b.*\b(?:graduat\w*|finish\w*|complet\w*|defend\w*|left|leave|quit|stopp?\w*|"
    r"end(?:ed)?|broke\s+up|moved\s+out)\b",
    re.IGNORECASE,
)


def query_periods(query: str, now: datetime | None = None) -> tuple[Period, ...]:
    """The periods a query names, as UTC intervals (`temporal.ground`).

    With `now` (when the question is asked), relative expressions count too ("last week");
    without it, only absolute ones ("in July 2023", "on 8 May, 2023"): an expression counts
    when it resolves to the same interval from two distant reference times.

    Example:
        ```python
        query_periods("What did Ana paint in July 2023?")
        # ((datetime(2023, 7, 1, tzinfo=UTC), datetime(2023, 8, 1, tzinfo=UTC)),)
        ```
    """
    if now is not None:
        mentions = ground(query, aware(now))
        return tuple((aware(m.start), aware(m.end)) for m in mentions)
    first = {(m.start, m.end) for m in ground(query, _FIRST_REFERENCE)}
    second = {(m.start, m.end) for m in ground(query, _SECOND_REFERENCE)}
    return tuple(sorted(first & second))


def aware(moment: datetime) -> datetime:
    """`moment`, a naive one read as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


_PAST_ASKED = re.compile(
    r"\bbefore\s+(?P<named>[^?!.,;]+)|\bused\s+to\b|\bdid\b.*\buse\s+to\b|\b(?:previous(?:ly)?|former(?:ly)?|prior)\b"
    r"|\b(?:my|your)\s+(?:old|ex)\b|\bex-",
    re.IGNORECASE,
)


def past_asked(query: str) -> str | None:
    """What a question about the user's past names as the value that followed, folded: ""
    when it names none ("Where did I use to work?", "What was my previous job?", "my old
    job", "my ex": the value held before the current one), the words after "before" when it
    does ("Where did I work before Zalando?": "zalando"); None for any other question.

    Example:
        ```python
        past_asked("Where did I live before Berlin?")  # "berlin"
        past_asked("Where do I live?")                 # None
        ```
    """
    match = _PAST_ASKED.search(query)
    if match is None:
        return None
    return " ".join(fold(match["named"] or "").split())


PARTNER_ROLES = frozenset(
    "partner boyfriend girlfriend husband wife spouse fiance fiancee bf gf".split()
)
"""The words a question names the user's partner by ("my wife", "my bf"), folded."""
_CHILDREN = ("child", "kid", "son", "daughter", "stepson", "stepdaughter")
_PARENTS = ("parent", "mom", "mum", "mother", "dad", "father", "stepmom", "stepdad")
_ROLE_NAMES = {
    "mom": ("mom", "mum", "mother"),
    "mum": ("mom", "mum", "mother"),
    "mother": ("mom", "mum", "mother"),
    "dad": ("dad", "father"),
    "father": ("dad", "father"),
    "parent": _PARENTS,
    "parents": _PARENTS,
    "kid": _CHILDREN,
    "kids": _CHILDREN,
    "child": _CHILDREN,
    "children": _CHILDREN,
    "sibling": ("sibling", "brother", "sister"),
    "siblings": ("sibling", "brother", "sister"),
    "coworker": ("coworker", "co-worker", "colleague"),
    "colleague": ("coworker", "co-worker", "colleague"),
}
"""The kin a role word names: "children" are sons and daughters too, "parents" mothers and
fathers, "siblings" brothers and sisters (extraction writes `has_daughter` for "my
daughter Sara")."""
_ROLES = (
    r"(?:best\s+)?(?P<role>partner|boyfriend|girlfriend|husband|wife|spouse|fianc[eé]e?"
    r"|bf|gf|friends?|brothers?|sisters?|siblings?|mom|mum|mother|dad|father|parents?|sons?"
    r"|daughters?|kids?|child|children|cousins?|colleagues?|co-?workers?|boss|roommates?"
    r"|neighbou?rs?|aunts?|uncles?|grand(?:ma|mother|pa|father)|nieces?|nephews?|mentor)"
    r"(?![\w-])"
)
_USER_ROLE = re.compile(rf"\bmy\s+{_ROLES}", re.IGNORECASE)
_NAMED_ROLE = re.compile(rf"(?<![\w'’])(?P<name>[A-Z][\w-]*)['’]s\s+(?i:{_ROLES})")
"""A named person's kin, "John's children", "Melanie's husband" (the name capitalised)."""


def role_relations(query: str) -> frozenset[str]:
    """The relations (`Relation.relation`, from the user) of the people a query names by
    what they are to the user: `has_brother` for "Where does my brother live?",
    `partner_of` for "my wife's job", `friend_of` for "my best friend", `has_son` and
    `has_daughter` among those of "my kids".

    Example:
        ```python
        role_relations("Where does my brother live?")  # frozenset({"has_brother"})
        ```
    """
    return frozenset(_relations(match["role"] for match in _USER_ROLE.finditer(query)))


def named_role_relations(query: str) -> dict[str, frozenset[str]]:
    """The relations (as `role_relations` reads them) of the people a query names by what
    they are to a named person, by that person's name: "What are the names of John's
    children?" asks John's `has_son`, `has_daughter` ... "Caroline's sister" and
    "Caroline's sisters" are one. The name is as the query spells it.

    Example:
        ```python
        named_role_relations("Where does Melanie's husband work?")
        # {"Melanie": frozenset({"partner_of"})}
        ```
    """
    named: dict[str, set[str]] = {}
    for match in _NAMED_ROLE.finditer(query):
        if match["name"].casefold() in STOPWORDS:  # "Who's", "What's"
            continue
        named.setdefault(match["name"], set()).update(_relations([match["role"]]))
    return {name: frozenset(relations) for name, relations in named.items()}


def role_words(relations: Iterable[str]) -> str:
    """The words of the kin facts stating `relations` ("Sara is John's daughter" for
    `has_daughter`, "John's husband is Mark" for `partner_of`), for a lexical search."""
    words: set[str] = set()
    for relation in relations:
        if relation == "partner_of":
            words |= PARTNER_ROLES
        else:
            words.add(relation.removeprefix("has_").removesuffix("_of").replace("_", " "))
    return " ".join(sorted(words))


def _relations(roles: Iterable[str]) -> set[str]:
    """The relations the role words `roles` ("brother", "kids", "wife") name."""
    relations: set[str] = set()
    for found in roles:
        role = fold(found).replace("é", "e")
        if role in PARTNER_ROLES:
            relations.add("partner_of")
        elif role.startswith("friend"):
            relations.add("friend_of")
        else:
            single = role if role in _ROLE_NAMES or not role.endswith("s") else role[:-1]
            names = _ROLE_NAMES.get(single, (single,))
            relations.update("has_" + name.replace("-", "") for name in names)
            relations.update("has_" + name for name in names)
    return relations
