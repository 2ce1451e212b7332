"""The clause a slot value is said in is found in one pass: the same clause as the greedy
`.*` before the clause marks found, in time linear in the turn (a 12 KB unpunctuated turn
took 14 s to add, and held every other add of the process meanwhile)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from engram.memory._assertion import (
    _CLAUSE_PUNCTUATION,
    _CLAUSE_START,
    _NEGATIVE,
    _UNREAL,
    _after_last,
)

# What the clause marks were before: a greedy `.*` up to the last one, substituted away.
OLD_CLAUSE_START = re.compile(
    r".*(?:[,;:()]|\b(?:but|and|so|because|though|although|while|whereas|since|if|or)\b)",
    re.IGNORECASE | re.DOTALL,
)
OLD_CLAUSE_PUNCTUATION = re.compile(r".*[,;:()]", re.DOTALL)

WORDS = st.sampled_from(
    [
        "I",
        "i",
        "said",
        "not",
        "don't",
        "but",
        "and",
        "if",
        "so",
        "wish",
        "maybe",
        "or",
        "live",
        "in",
        "Paris",
        ",",
        ";",
        ":",
        "(",
        ")",
        " ",
        "\n",
        "butter",
        "android",
        "n't",
    ]
)
TEXTS = st.lists(WORDS, max_size=30).map(lambda words: " ".join(words))


@given(TEXTS)
def test_a_negation_is_read_in_the_same_clause_as_before(text: str) -> None:
    old = bool(_NEGATIVE.search(OLD_CLAUSE_START.sub("", text)))
    assert bool(_NEGATIVE.search(text, _after_last(_CLAUSE_START, text))) == old


@given(TEXTS)
def test_a_condition_or_someone_elses_words_are_read_in_the_same_clause_as_before(
    text: str,
) -> None:
    old = bool(_UNREAL.search(OLD_CLAUSE_PUNCTUATION.sub("", text)))
    assert bool(_UNREAL.search(text, _after_last(_CLAUSE_PUNCTUATION, text))) == old


def test_the_clause_starts_after_the_last_mark() -> None:
    text = "I live in Paris, but I don't live in Rome"
    assert text[_after_last(_CLAUSE_START, text) :] == " I don't live in Rome"
    assert _after_last(_CLAUSE_START, "no marks here") == 0
