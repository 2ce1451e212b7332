"""The shared lexical side of the memory stores: tokeniser, Porter stemmer, BM25."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engram.memory import bm25

# Porter (1980), "An algorithm for suffix stripping": the examples of the paper.
PORTER_EXAMPLES = """
caresses caress ponies poni ties ti caress caress cats cat feed feed agreed agre
plastered plaster bled bled motoring motor sing sing conflated conflat troubled troubl
sized size hopping hop tanned tan falling fall hissing hiss fizzed fizz failing fail
filing file happy happi sky sky relational relat conditional condit rational ration
valenci valenc hesitanci hesit digitizer digit radicalli radic differentli differ
vileli vile analogousli analog vietnamization vietnam predication predic operator oper
feudalism feudal decisiveness decis hopefulness hope callousness callous formaliti formal
sensitiviti sensit sensibiliti sensibl triplicate triplic formative form formalize formal
electriciti electr electrical electr hopeful hope goodness good revival reviv
allowance allow inference infer airliner airlin gyroscopic gyroscop adjustable adjust
defensible defens irritant irrit replacement replac adjustment adjust dependent depend
adoption adopt homologou homolog communism commun activate activ angulariti angular
homologous homolog effective effect bowdlerize bowdler probate probat rate rate
cease ceas controll control roll roll generalizations gener oscillators oscil
""".split()


@pytest.mark.parametrize(
    ("word", "expected"), list(zip(PORTER_EXAMPLES[::2], PORTER_EXAMPLES[1::2], strict=True))
)
def test_porter_examples(word: str, expected: str) -> None:
    assert bm25.stem(word) == expected


def test_tokenize_folds_case_and_diacritics() -> None:
    assert bm25.tokenize("Zoë's CAFÉ, naïve_runners: 2024!") == [
        "zoe",
        "s",
        "cafe",
        "naiv",
        "runner",
        "2024",
    ]
    assert bm25.tokenize("") == []
    assert bm25.tokenize("Straße") == ["strass"]


def test_term_hashes_are_stable() -> None:
    # Stored on disk: changing the tokeniser or the hash needs a migration.
    assert bm25.term_hashes("Running").tolist() == bm25.term_hashes("run").tolist()
    assert bm25.term_hashes("hello").tolist() == [9022087748821825191]
    assert bm25.term_bytes("hello world") == bm25.term_hashes("hello world").astype("<i8").tobytes()


def _reference(documents: list[list[str]], query: list[str]) -> list[float]:
    """BM25 written out term by term, the way the module documents it."""
    count = len(documents)
    average = max(sum(map(len, documents)) / count, 1.0)
    scores = []
    for document in documents:
        tf = Counter(document)
        score = 0.0
        for term in set(query):
            df = sum(term in other for other in documents)
            if tf[term]:
                idf = math.log(1 + (count - df + 0.5) / (df + 0.5))
                norm = bm25.K1 * (1 - bm25.B + bm25.B * len(document) / average)
                score += idf * tf[term] * (bm25.K1 + 1) / (tf[term] + norm)
        scores.append(score)
    return scores


words = st.sampled_from(["tea", "coffee", "lisbon", "berlin", "runs", "jazz"])


@given(
    documents=st.lists(st.lists(words, max_size=8), min_size=1, max_size=8),
    query=st.lists(words, max_size=4),
)
def test_bm25_matches_the_reference(documents: list[list[str]], query: list[str]) -> None:
    flat, lengths = bm25.join_documents([bm25.term_bytes(" ".join(doc)) for doc in documents])
    scores = bm25.bm25_scores(flat, lengths, bm25.term_hashes(" ".join(query)))
    stemmed = [[bm25.stem(word) for word in doc] for doc in documents]
    expected = _reference(stemmed, [bm25.stem(word) for word in query])
    np.testing.assert_allclose(scores, expected, rtol=1e-9, atol=1e-12)
    assert (scores >= 0).all()


def test_bm25_prefers_rare_terms_and_short_documents() -> None:
    texts = ["tea tea", "tea and lisbon", "tea", "tea with a very long tail of other words"]
    flat, lengths = bm25.join_documents([bm25.term_bytes(text) for text in texts])
    scores = bm25.bm25_scores(flat, lengths, bm25.term_hashes("tea lisbon"))
    assert int(np.argmax(scores)) == 1
    assert scores[2] > scores[3]
    empty = bm25.bm25_scores(*bm25.join_documents([]), bm25.term_hashes("tea"))
    assert empty.size == 0
