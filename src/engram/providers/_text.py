"""Pure text helpers for the summarisers: speaker labels, sentences, token-exact truncation.

Truncation only ever calls `count_tokens` on candidate prefixes and returns one it has measured,
so the result never exceeds the limit, whatever the tokenizer.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from engram.types import Message

__all__ = [
    "TokenCounter",
    "shorten",
    "speaker",
    "ends_with_abbreviation",
    "longest_fitting",
    "newest_sentences",
    "sentence_tails",
    "split_sentences",
    "truncate_sentences",
    "truncate_words",
]

TokenCounter = Callable[[str], int]
"""Counts the tokens of a text (e.g. `TokenCounter.for_encoding("o200k_base").count_text`)."""

# After . ! ? (and a closing quote or bracket), before anything but a lower-case letter.
_BOUNDARY = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?![a-z])|\s*\n\s*")
# Titles, common abbreviations and initials ("J. Smith") do not end a sentence.
_ABBREVIATION = re.compile(
    r"\b(?:(?i:mr|mrs|ms|dr|prof|st|jr|sr|vs|etc|approx|inc|ltd|e\.g|i\.e)|No|Co|[A-Z])\.$"
)
_WORD_END = re.compile(r"\S+")


def speaker(message: Message) -> str:
    """The label a summary line starts with: `user`, `tool (get_weather)`, ..."""
    return f"{message.role} ({message.name})" if message.name else message.role


def shorten(text: str, max_chars: int) -> str:
    """`text` on one line, cut after a word to at most about `max_chars` characters (+ `…`)."""
    flat = " ".join(text.split())
    if len(flat) <= max_chars:
        return flat
    return flat[:max_chars].rsplit(" ", 1)[0] + "…"


def ends_with_abbreviation(text: str) -> bool:
    """Whether `text` ends with a title, a common abbreviation or an initial (`Dr.`, `St.`,
    `e.g.`, `J.`): a full stop that ends no sentence."""
    return _ABBREVIATION.search(text) is not None


def split_sentences(text: str) -> list[str]:
    """Split `text` into sentences (and lines), keeping abbreviations like `Dr.` attached."""
    sentences: list[str] = []
    for piece in _BOUNDARY.split(text):
        if not piece.strip():
            continue
        if sentences and ends_with_abbreviation(sentences[-1]):
            sentences[-1] = f"{sentences[-1]} {piece.strip()}"
        else:
            sentences.append(piece.strip())
    return sentences


def longest_fitting(
    count: int, candidate: Callable[[int], str], max_tokens: int, count_tokens: TokenCounter
) -> str | None:
    """The longest of `candidate(0..count-1)` (growing with i) measured to fit: binary search."""
    best: str | None = None
    lo, hi = 0, count - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        text = candidate(mid)
        if count_tokens(text) <= max_tokens:
            best, lo = text, mid + 1
        else:
            hi = mid - 1
    return best


def truncate_words(text: str, max_tokens: int, count_tokens: TokenCounter) -> str:
    """The longest prefix of `text`, cut after a word, of at most `max_tokens` tokens.

    A first word too long on its own is cut between characters.
    """
    text = text.strip()
    if max_tokens <= 0 or not text:
        return ""
    if count_tokens(text) <= max_tokens:
        return text
    ends = [match.end() for match in _WORD_END.finditer(text)]
    best = longest_fitting(len(ends), lambda i: text[: ends[i]], max_tokens, count_tokens)
    if best is None:
        best = longest_fitting(ends[0], lambda i: text[: i + 1], max_tokens, count_tokens)
    return best or ""


def truncate_sentences(text: str, max_tokens: int, count_tokens: TokenCounter) -> str:
    """Like `truncate_words`, but cut after a whole sentence when at least one fits."""
    if max_tokens <= 0:
        return ""
    if count_tokens(text) <= max_tokens:
        return text
    sentences = split_sentences(text)
    best = longest_fitting(
        len(sentences), lambda i: " ".join(sentences[: i + 1]), max_tokens, count_tokens
    )
    return best or truncate_words(text, max_tokens, count_tokens)


def newest_sentences(text: str, max_tokens: int, count_tokens: TokenCounter) -> str:
    """`text` if within `max_tokens`, else its longest tail of whole sentences that fits.

    A running summary is written oldest first, so its end holds the newest facts: those are
    the ones a cut must keep. The tail keeps its lines as they were. Without a whole sentence
    that fits, the newest one is cut after a word.
    """
    text = text.strip()
    if max_tokens <= 0 or not text:
        return ""
    if count_tokens(text) <= max_tokens:
        return text
    tails = sentence_tails(text)
    best = longest_fitting(len(tails), lambda i: tails[-1 - i], max_tokens, count_tokens)
    return best if best is not None else truncate_words(tails[-1], max_tokens, count_tokens)


def sentence_tails(text: str) -> list[str]:
    """The tails of `text` that start a sentence (`split_sentences`), longest first (the
    last: its last sentence), each as it stands in `text`."""
    tails: list[str] = []
    position = 0
    for sentence in split_sentences(text):
        pattern = r"\s+".join(re.escape(word) for word in sentence.split())
        found = re.compile(pattern).search(text, position)
        if found is None:  # cannot happen: split_sentences only strips and joins with spaces
            continue
        tails.append(text[found.start() :])
        position = found.end()
    return tails or [text]
