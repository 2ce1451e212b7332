"""Lexical search: one tokeniser and one BM25 for every memory store (pure, NumPy).

Tokenising follows SQLite FTS5's `unicode61 remove_diacritics 2` tokenizer with the `porter`
stemmer: text is case-folded, diacritics are removed, tokens are the runs of letters and
digits, and pure-ASCII words are reduced by Porter's (1980) algorithm.

The stores do not use FTS5 itself: FTS5 (SQLite 3.40 here, no `secure-delete` option) keeps a
deleted document's terms in its index segments until a full `optimize`, so an erased memory's
words would stay in the file. Instead every memory stores its terms as 64-bit hashes next to
its row (`term_hashes`), and `bm25_scores` ranks the candidate rows a filter selected, the
way vector search brute-forces its partition. Both backends use these functions, so their
scores are equal.

BM25 uses k1 = 1.2 and b = 0.75 (FTS5's constants) and Lucene's always-positive
`idf = ln(1 + (N - df + 0.5) / (df + 0.5))`, where N, df and the average length are taken
over the candidates (the memories the search's filter selected): with the small corpora of one
user, FTS5's `ln((N - df + 0.5) / (df + 0.5))` would zero out any word in half the memories.
Scores are higher-is-better; a memory matching no query term is not a result.
"""

from __future__ import annotations

import hashlib
import re
import struct
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "B",
    "K1",
    "TermHashes",
    "bm25_scores",
    "join_documents",
    "stem",
    "term_bytes",
    "term_hashes",
    "tokenize",
]

K1 = 1.2
B = 0.75

TermHashes = NDArray[np.int64]
"""A document's (or query's) terms as signed 64-bit hashes, in text order."""

_TOKEN = re.compile(r"[^\W_]+")
"""Runs of Unicode letters and digits (FTS5 unicode61's token characters, roughly)."""
_HASH_DTYPE = np.dtype("<i8")
_ASCII_FOLD = str.maketrans(
    {code: chr(code).lower() if chr(code).isalnum() else " " for code in range(128)}
)
"""ASCII letters to lower case, digits kept, everything else a separator."""


def tokenize(text: str) -> list[str]:
    """`text` as a list of terms: case-folded, without diacritics, Porter-stemmed.

    Example:
        ```python
        tokenize("Café owners were running!")  # ['cafe', 'owner', 'were', 'run']
        ```
    """
    return [_stem_token(token) for token in _words(text)]


def _words(text: str) -> list[str]:
    """The case-folded, diacritic-free runs of letters and digits of `text`."""
    if text.isascii():
        # The fast path (most text): one C-level pass instead of a regex scan.
        return text.translate(_ASCII_FOLD).split()
    return _TOKEN.findall(_strip_diacritics(text.casefold()))


def term_hashes(text: str) -> TermHashes:
    """The terms of `text` (see `tokenize`) as stable 64-bit hashes, in text order."""
    hashes: TermHashes = np.frombuffer(term_bytes(text), dtype=_HASH_DTYPE).astype(np.int64)
    return hashes


def term_bytes(text: str) -> bytes:
    """`term_hashes(text)` as stores keep it: little-endian bytes, 8 per term."""
    hashes = [_token_hash(token) for token in _words(text)]
    return struct.pack(f"<{len(hashes)}q", *hashes)


def join_documents(blobs: Sequence[bytes]) -> tuple[TermHashes, NDArray[np.int64]]:
    """Many `term_bytes` encodings as one flat array of hashes and the documents' lengths."""
    lengths = np.fromiter((len(blob) // 8 for blob in blobs), dtype=np.int64, count=len(blobs))
    flat: TermHashes = np.frombuffer(b"".join(blobs), dtype=_HASH_DTYPE).astype(np.int64)
    return flat, lengths


def bm25_scores(
    flat: TermHashes,
    lengths: NDArray[np.int64],
    query: TermHashes,
    *,
    corpus: tuple[int, float] | None = None,
) -> NDArray[np.float64]:
    """The BM25 score of every document for `query`; 0 for documents matching no term.

    Args:
        flat: The documents' terms, concatenated (see `join_documents`).
        lengths: How many terms each document has (they sum to `len(flat)`).
        query: The query's terms; each distinct term counts once.
        corpus: `(document count, average length)` of the whole corpus, when the given
            documents are only those holding a query term (an index found them): the others
            would score 0 and change no document frequency, so the scores are the same.

    The corpus statistics (document count, average length, document frequencies) are those
    of the given documents unless `corpus` is given.
    """
    count = lengths.size
    scores = np.zeros(count, dtype=np.float64)
    if count == 0 or query.size == 0:
        return scores
    total, average = (count, float(lengths.mean())) if corpus is None else corpus
    terms = np.unique(query)
    matching = np.isin(flat, terms)
    owners = np.repeat(np.arange(count), lengths)[matching]
    # One (document, term) pair per occurrence, counted at once: term frequencies, then
    # document frequencies; sorted by document, then term, so each document's score adds
    # up its terms in the same order as a loop over the sorted terms would.
    pairs, freqs = np.unique(
        owners * terms.size + np.searchsorted(terms, flat[matching]), return_counts=True
    )
    docs, term_of = np.divmod(pairs, terms.size)
    df = np.bincount(term_of, minlength=terms.size)
    idf = np.log1p((total - df + 0.5) / (df + 0.5))
    norms = K1 * (1.0 - B + B * lengths[docs] / max(average, 1.0))
    contributions = idf[term_of] * freqs * (K1 + 1.0) / (freqs + norms)
    scores += np.bincount(docs, weights=contributions, minlength=count)
    return scores


def stem(word: str) -> str:
    """Porter's (1980) stem of a lower-case ASCII word (other words come back unchanged)."""
    if len(word) <= 2 or not (word.isascii() and word.isalpha()):
        return word
    for step in (_step1a, _step1b, _step1c, _step2, _step3, _step4, _step5):
        word = step(word)
    return word


def _strip_diacritics(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return unicodedata.normalize("NFC", stripped)


@lru_cache(maxsize=65_536)
def _stem_token(token: str) -> str:
    return stem(token)


@lru_cache(maxsize=65_536)
def _token_hash(token: str) -> int:
    digest = hashlib.blake2b(_stem_token(token).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


# Porter's algorithm. `m` counts the VC sequences of a stem: [C](VC){m}[V].


_SHAPE = str.maketrans(
    {letter: "v" if letter in "aeiou" else "c" for letter in "abcdefghijklmnopqrstuvwxz"}
)
"""Each letter but y as consonant (c) or vowel (v)."""


def _shape(word: str) -> str:
    """`word` as Porter's c/v pattern: y is a consonant first or after a vowel, else a vowel."""
    shape = word.translate(_SHAPE)
    if "y" not in shape:
        return shape
    letters = list(shape)
    for index, letter in enumerate(letters):
        if letter == "y":
            letters[index] = "c" if index == 0 or letters[index - 1] == "v" else "v"
    return "".join(letters)


def _is_consonant(word: str, index: int) -> bool:
    return _shape(word[: index + 1])[-1] == "c"


def _measure(stem_: str) -> int:
    return _shape(stem_).lstrip("c").rstrip("v").count("vc")


def _has_vowel(stem_: str) -> bool:
    return "v" in _shape(stem_)


def _ends_double_consonant(word: str) -> bool:
    return len(word) >= 2 and word[-1] == word[-2] and _is_consonant(word, len(word) - 1)


def _ends_cvc(word: str) -> bool:
    """*o: the stem ends consonant-vowel-consonant, the last not w, x or y."""
    return len(word) >= 3 and _shape(word).endswith("cvc") and word[-1] not in "wxy"


def _step1a(word: str) -> str:
    for suffix, replacement in (("sses", "ss"), ("ies", "i"), ("ss", "ss"), ("s", "")):
        if word.endswith(suffix):
            return word[: -len(suffix)] + replacement
    return word


def _step1b(word: str) -> str:
    if word.endswith("eed"):
        return word[:-1] if _measure(word[:-3]) > 0 else word
    for suffix in ("ed", "ing"):
        if word.endswith(suffix) and _has_vowel(word[: -len(suffix)]):
            return _step1b_tidy(word[: -len(suffix)])
    return word


def _step1b_tidy(word: str) -> str:
    if word.endswith(("at", "bl", "iz")):
        return word + "e"
    if _ends_double_consonant(word) and word[-1] not in "lsz":
        return word[:-1]
    if _measure(word) == 1 and _ends_cvc(word):
        return word + "e"
    return word


def _step1c(word: str) -> str:
    if word.endswith("y") and _has_vowel(word[:-1]):
        return word[:-1] + "i"
    return word


_STEP2 = (
    ("ational", "ate"),
    ("tional", "tion"),
    ("enci", "ence"),
    ("anci", "ance"),
    ("izer", "ize"),
    ("bli", "ble"),
    ("alli", "al"),
    ("entli", "ent"),
    ("eli", "e"),
    ("ousli", "ous"),
    ("ization", "ize"),
    ("ation", "ate"),
    ("ator", "ate"),
    ("alism", "al"),
    ("iveness", "ive"),
    ("fulness", "ful"),
    ("ousness", "ous"),
    ("aliti", "al"),
    ("iviti", "ive"),
    ("biliti", "ble"),
    ("logi", "log"),
)
_STEP3 = (
    ("icate", "ic"),
    ("ative", ""),
    ("alize", "al"),
    ("iciti", "ic"),
    ("ical", "ic"),
    ("ful", ""),
    ("ness", ""),
)
_STEP4 = "al ance ence er ic able ible ant ement ment ent ion ou ism ate iti ous ive ize".split()
_STEP4_SUFFIXES = tuple(_STEP4)
_SUFFIXES = {id(rules): tuple(suffix for suffix, _ in rules) for rules in (_STEP2, _STEP3)}
"""Each rule table's suffixes, for one `str.endswith` that rejects most words at once."""


def _replace_longest(word: str, rules: Sequence[tuple[str, str]], min_measure: int) -> str:
    """Apply the rule with the longest matching suffix, if its stem's m > `min_measure`."""
    if not word.endswith(_SUFFIXES[id(rules)]):  # most words: no rule applies
        return word
    matching = [rule for rule in rules if word.endswith(rule[0])]
    if not matching:
        return word
    suffix, replacement = max(matching, key=lambda rule: len(rule[0]))
    stem_ = word[: -len(suffix)]
    return stem_ + replacement if _measure(stem_) > min_measure else word


def _step2(word: str) -> str:
    return _replace_longest(word, _STEP2, 0)


def _step3(word: str) -> str:
    return _replace_longest(word, _STEP3, 0)


def _step4(word: str) -> str:
    if not word.endswith(_STEP4_SUFFIXES):
        return word
    matching = [suffix for suffix in _STEP4 if word.endswith(suffix)]
    if not matching:
        return word
    suffix = max(matching, key=len)
    stem_ = word[: -len(suffix)]
    if suffix == "ion" and not stem_.endswith(("s", "t")):
        return word
    return stem_ if _measure(stem_) > 1 else word


def _step5(word: str) -> str:
    if word.endswith("e"):
        stem_ = word[:-1]
        measure = _measure(stem_)
        if measure > 1 or (measure == 1 and not _ends_cvc(stem_)):
            word = stem_
    if word.endswith("ll") and _measure(word) > 1:
        word = word[:-1]
    return word
