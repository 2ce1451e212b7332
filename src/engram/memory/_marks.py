"""Whether two close memories say the same: the words that change what a fact says.

Two texts may sit at cosine 0.93 and still say different things: "can swim" / "cannot
swim", "on Monday" / "on Tuesday", "every morning" / "every evening", "works" / "worked",
"two kids" / "three kids", "likes" / "dislikes", "Ana" / "Eva". Both consolidation (before
it merges) and belief revision (before it calls a new memory a duplicate) ask `say_alike`;
consolidation, which compares clusters, reads its parts (`marks`, `words`, `tense_clash`).
"""

from __future__ import annotations

import re

from engram.memory.entities import fold
from engram.types._memory import Memory

__all__ = ["marks", "say_alike", "say_alike_but_negation", "tense_clash", "words"]

_MARKING_WORDS = frozenset(
    """
    zero one two three four five six seven eight nine ten eleven twelve twenty thirty forty
    fifty hundred thousand million billion once twice half dozen first second third fourth
    fifth sixth seventh eighth ninth tenth last next
    monday tuesday wednesday thursday friday saturday sunday weekday weekdays weekend weekends
    january february march april may june july august september october november december
    spring summer autumn fall winter morning mornings afternoon afternoons evening evenings
    night nights noon midnight tonight today tomorrow yesterday daily weekly monthly yearly
    cannot unable neither nor nobody nothing none without
    will would was were had did went left got became used might could should must
    hate hates hated dislike dislikes disliked loathe loathes detest detests
    """.split()
)
"""Words that change what a fact says, however close the vectors ("on Monday" / "on
Tuesday", "can swim" / "cannot swim", "works" / "worked", "likes" / "dislikes"): two
memories say the same only if they hold the same of these (`marks`)."""

_NEGATING_MARKS = frozenset("cannot unable used".split())
"""The marks that negate what a fact says ("cannot swim", "unable to drive", "used to
sing"): a statement and its opposite differ in these only (`say_alike_but_negation`)."""

_WORDS = re.compile(r"[A-Za-z][A-Za-z'-]*")
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+)\W*$")


def marks(memory: Memory) -> frozenset[str]:
    """What of `memory`'s words its duplicates must share: the words that mark a time, a
    count, a tense, a negation or a dislike (`_MARKING_WORDS`), and the names it holds (its
    entities, and each capitalised word not opening a sentence: "The user's sister is
    called Ana" is not "... called Eva")."""
    found_marks: set[str] = set()
    for found in _WORDS.finditer(memory.text):
        word = found.group().lower()
        if word in _MARKING_WORDS:
            found_marks.add(word)
        elif found.group()[0].isupper() and word != "i":
            if not _SENTENCE_START.search(memory.text[: found.start()]):
                found_marks.add(fold(found.group()))
    entities = memory.metadata.get("entities")
    for name in entities if isinstance(entities, list) else ():
        if isinstance(name, str):
            found_marks.add(fold(name))
    return frozenset(found_marks)


def words(text: str) -> frozenset[str]:
    """The lower-cased words of `text`, as `tense_clash` reads them."""
    return frozenset(_WORDS.findall(text.lower()))


def tense_clash(first: frozenset[str], second: frozenset[str]) -> bool:
    """Whether one of two texts' words (`words`) says in the past what the other says in
    the present ("worked" / "works", "lived" / "live"), either way."""
    for past, present in ((first, second), (second, first)):
        stems = {word.removesuffix(end) for word in present for end in ("es", "s")} | present
        for word in past - present:
            if word.endswith("ed") and {word[:-2], word[:-1]} & stems:
                return True
    return False


def say_alike(first: Memory, second: Memory) -> bool:
    """Whether two memories hold the same marks (`marks`) and verbs of one tense
    (`tense_clash`): what a duplicate, or a merge, needs besides a close vector and the
    same figures."""
    return marks(first) == marks(second) and not tense_clash(words(first.text), words(second.text))


def say_alike_but_negation(first: Memory, second: Memory) -> bool:
    """Whether two memories hold the same marks (`marks`) but those of a negation
    (`_NEGATING_MARKS`), and verbs of one tense: what a statement and its opposite share
    ("The user can swim" / "The user cannot swim", but not "The user could not swim" nor
    "The user had a dog" / "The user no longer has a dog")."""
    first_marks, second_marks = marks(first) - _NEGATING_MARKS, marks(second) - _NEGATING_MARKS
    clash = tense_clash(words(first.text), words(second.text))
    return first_marks == second_marks and not clash
