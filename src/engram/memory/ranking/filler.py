"""Chat turns with nothing to say: acknowledgements, questions, and questions restating the query.

They match a question by the words every turn has (or by its own words, for an echo) and
would take the places that turns with something to say need; ranking scores them down
(`RankingWeights.filler`, `RankingWeights.echo`), never out.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from engram.memory.entities import fold
from engram.memory.queries import STOPWORDS, query_terms
from engram.providers._text import split_sentences
from engram.types._memory import Memory

__all__ = ["is_echo", "is_filler"]


_ACKNOWLEDGEMENTS = frozenset(
    """
    ok okay k kk alright right sure yes yeah yep yup no nope thanks thank thx ty cheers please
    got noted saved updated done understood great nice cool good fine perfect awesome wow oh
    ah hmm lol haha hi hello hey bye goodbye welcome glad meet sounds
    """.split()
)
"""The words of an acknowledgement or a greeting: with the stopwords, all a filler turn has."""

_CONTENT_WORD = re.compile(r"[^\W_]+")


def is_filler(memory: Memory) -> bool:
    """Whether `memory` is a chat turn that says nothing but function words and
    acknowledgements ("Saved.", "Ok, thanks!", "Got it."; a number or any other word is
    content), or that only asks ("What's the weather in Porto?"): in a chat with the
    assistant, the question asks and the reply tells, and "Where do I work now?" recalled
    for the same question again says nothing.

    A turn of a named speaker (a dialogue between people, a `speaker` each, as LoCoMo's) is
    never filler: there an agreement says what the other said ("Same here!") and a question
    what the asker knows ("Have you read The Alchemist?"). Demoting those lowered LoCoMo's
    in_context (@2k 0.8817 to 0.8814 for the questions, @4k 0.9237 to 0.9234 for the
    agreements)."""
    if memory.kind != "episode" or memory.metadata.get("speaker"):
        return False
    words = _CONTENT_WORD.findall(fold(memory.text))
    if all(word in STOPWORDS or word in _ACKNOWLEDGEMENTS for word in words):
        return True
    return _only_asks(memory)


def _only_asks(memory: Memory) -> bool:
    """Whether every sentence of a memory's text is a question."""
    sentences = split_sentences(memory.text)
    return bool(sentences) and all(sentence.endswith("?") for sentence in sentences)


def is_echo(memory: Memory, terms: Collection[str]) -> bool:
    """Whether `memory` is a chat turn that only asks (as `is_filler` has it) with no term
    but the query's `terms` (`queries.query_terms`): "Where do I live?" or "Where am I
    living now?" recalled for "Where do I live?", or for "Where do I live and work?". It
    restates the question and says nothing of the answer. "Do I live in Faro?" names a
    place, which the query does not: it says something, and is no echo.

    A turn of a named speaker (a dialogue between people) is never one, as never filler."""
    if memory.kind != "episode" or memory.metadata.get("speaker") or not _only_asks(memory):
        return False
    return query_terms(memory.text) <= set(terms)
