"""`ExtractiveSummarizer`: a deterministic, offline running summary (no LLM).

The summary is a list of lines, one per source message, each prefixed by its speaker
(`user: ...`, `assistant: ...`, `tool (get_weather): ...`) and holding the sentences of that
message worth keeping. Folding new messages re-reads the previous summary's lines, scores every
sentence old and new, and keeps the best within the token budget, in chronological order. A
sentence said twice is kept once, and a phrase repeated three times or more in a row (filler)
once. When messages folded in have nothing left in the summary (filler, or too little room),
its first line says how many (`[… 12 messages left out …]`, counted across folds): the
summary does not pass for all of them (`left_out`, `unsaid`).

A sentence scores for what a later turn is likely to need: names (capitalised words not at the
start of a sentence, and those words wherever they recur), numbers, dates and times, money,
decisions and commitments, preferences, the user's questions and personal details, tool calls
and (shortened) tool results. Sentences from the previous summary pay a small age penalty, so
when the budget is tight the oldest, least salient material goes first.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from engram.providers._text import (
    TokenCounter,
    shorten,
    speaker,
    split_sentences,
    truncate_words,
)
from engram.types import Message

__all__ = ["ExtractiveSummarizer", "left_out", "unsaid"]

_LINE = re.compile(r"^((system|user|assistant|tool)(?: \([^)\n]*\))?): (.*)$")
_CALL = re.compile(r"^Called [\w.-]+\(.*\)$")
_WORD = re.compile(r"[A-Za-z][\w'’-]*")
_TOKEN = re.compile(r"[^\W_]+")
"""Words and numbers: what makes two sentences the same one (`_key`)."""
_REPEATS = re.compile(r"(?<!\S)(\S+(?:\s+\S+){0,3}?)(?:\s+\1){2,}(?!\S)")
"""A phrase of one to four words said three times or more in a row: kept once."""
_LEFT_OUT = re.compile(r"^\[… (\d+) messages? left out …\]$")
"""The first line of a summary that left messages out (`_left_out_line`)."""
_NOT_NAMES = frozenset({"I", "I'm", "I'll", "I've", "I'd", "OK", "Ok"})

_MONTHS = "january|february|march|april|june|july|august|september|october|november|december"
_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_DATE = re.compile(
    rf"\b(?:{_MONTHS}|{_DAYS}|today|tomorrow|tonight|yesterday|weekend|noon|midnight)\b"
    r"|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sept?|oct|nov|dec)\.?\s+\d{1,2}\b"
    r"|\b\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?may\b"
    r"|\b\d{1,2}(?::\d{2})?\s?(?:am|pm|a\.m\.|p\.m\.)"
    r"|\b\d{1,2}:\d{2}\b|\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b",
    re.IGNORECASE,
)
_MONEY = re.compile(
    r"[$€£¥]\s?\d|\b\d[\d,.]*\s?(?:k|m|usd|eur|gbp|dollars?|euros?|pounds?|bucks|cents?)\b",
    re.IGNORECASE,
)
_DECISION = re.compile(
    r"\b(?:decid\w*|decision|agree[sd]?|book(?:ed|ing)?|reserv\w*|confirm\w*|schedul\w*|"
    r"cho(?:se|sen|ose)|select(?:ed)?|cancel\w*|deadline|due|must|settled|order(?:ed)?)\b",
    re.IGNORECASE,
)
_COMMITMENT = re.compile(
    r"\b(?:will|won't|shall|going to|promis\w*|commit\w*|plan(?:s|ned|ning)?)\b|\w'll\b",
    re.IGNORECASE,
)
_PREFERENCE = re.compile(
    r"\b(?:prefer\w*|favou?rite|allerg\w*|love[sd]?|hate[sd]?|likes?|dislikes?|want[s]?|"
    r"need[s]?|always|never|vegetarian|vegan|budget|at (?:most|least)|maximum|minimum)\b",
    re.IGNORECASE,
)
_PERSONAL = re.compile(r"\b(?:my|i am|i'm|i live|i work|call me)\b", re.IGNORECASE)

_NAME_WEIGHT, _MAX_NAMES = 2.0, 2
_NUMBER, _DATE_WEIGHT, _MONEY_WEIGHT = 1.5, 2.0, 2.0
_DECISION_WEIGHT, _COMMITMENT_WEIGHT = 3.5, 2.0
_PREFERENCE_WEIGHT, _PERSONAL_WEIGHT = 2.0, 1.0
_USER_WEIGHT = 1.0  # what the user states outranks the assistant's restatements
_USER_QUESTION, _OTHER_QUESTION = 2.0, 0.5
_TOOL_RESULT, _TOOL_CALL = 1.5, 0.5
_WORD_WEIGHT, _MAX_WORDS_SCORED = 0.02, 20
_AGE_PENALTY = 0.5
_MIN_PLAIN_WORDS = 4  # a shorter sentence without any feature ("Thanks!", "Sure.") is dropped
_TOOL_CHARS, _ARGUMENT_CHARS = 100, 60  # tool results and call arguments are cut short


class _Draft(NamedTuple):
    """A sentence as found, before ordering and dedup."""

    line: int
    speaker: str
    role: str
    text: str
    bonus: float = 0.0


@dataclass(frozen=True, slots=True)
class _Sentence:
    """One candidate sentence: where it came from, who said it, what it says."""

    order: int
    """Chronological position across the previous summary and the new messages."""
    line: int
    """Source line (previous summary) or message; sentences of one line render together."""
    speaker: str
    """The line prefix, e.g. `user` or `tool (get_weather)`; empty for unprefixed prose."""
    role: str
    text: str
    key: str
    """What makes two sentences the same one (`_key`)."""
    words: tuple[str, ...]
    """The words of `text` (letters first), as written."""
    bonus: float
    """Score added for tool results and tool calls."""
    old: bool
    """From the previous summary: ranks `_AGE_PENALTY` lower."""


class _Pool(NamedTuple):
    """What a summary is made from: the sentences, and the messages they come from."""

    sentences: list[_Sentence]
    """Every sentence once, in chronological order."""
    sources: list[frozenset[str]]
    """The keys of each message's sentences: each new message, each line of the previous
    summary with a speaker (one message each); prose lines are no message."""
    left_out: int
    """The messages the previous summary says it left out."""


def left_out(summary: str) -> int:
    """How many messages folded into `summary` it says it keeps nothing of (0 if it does not
    say: an LLM's summary, or one that left nothing out)."""
    first = summary.lstrip().split("\n", 1)[0].strip()
    match = _LEFT_OUT.match(first)
    return int(match.group(1)) if match else 0


def unsaid(summary: str, messages: Sequence[Message]) -> list[Message]:
    """The messages `summary` keeps nothing of: none of their sentences is in it (words and
    numbers in order, whatever the punctuation), and one was worth keeping (not "Thanks!")."""
    said = "\n".join(f" {_key(line)} " for line in summary.splitlines())
    pool = _pool(summary, messages)
    names = _names(pool.sentences)
    worth = {s.key for s in pool.sentences if _score(s, names) > 0}
    missing: list[Message] = []
    for message in messages:
        keys = {_key(_tidy(draft.text)) for draft in _message_sentences(message, 0)}
        if keys & worth and not any(f" {key} " in said for key in keys):
            missing.append(message)
    return missing


def _left_out_line(count: int) -> str:
    return f"[… {count} message{'' if count == 1 else 's'} left out …]"


def _tidy(text: str) -> str:
    """`text` with a phrase repeated in a row three times or more said once."""
    return _REPEATS.sub(r"\1", text)


def _key(text: str) -> str:
    """What makes two sentences the same one: their words and numbers, lower-cased.

    Numbers are part of a sentence's identity: "leaves at 17:25 on 8 May" is news after
    "leaves at 09:40 on 3 May", not a repeat of it."""
    return " ".join(_TOKEN.findall(text.lower())) or text


def _previous_sentences(previous: str) -> Iterator[_Draft]:
    for line_number, line in enumerate(previous.splitlines()):
        if _LEFT_OUT.match(line.strip()):
            continue
        match = _LINE.match(line.strip())
        label, role, body = match.groups() if match else ("", "", line)
        for text in split_sentences(body):
            bonus = _TOOL_RESULT if role == "tool" else _TOOL_CALL * bool(_CALL.match(text))
            yield _Draft(line_number, label, role, text, bonus)


def _message_sentences(message: Message, line: int) -> Iterator[_Draft]:
    label = speaker(message)
    if message.role == "tool":
        if result := shorten(message.text, _TOOL_CHARS):
            yield _Draft(line, label, "tool", result, _TOOL_RESULT)
        return
    for text in split_sentences(message.text):
        yield _Draft(line, label, message.role, text)
    for call in message.tool_calls:
        text = f"Called {call.name}({shorten(call.arguments, _ARGUMENT_CHARS)})"
        yield _Draft(line, label, message.role, text, _TOOL_CALL)


def _pool(previous: str | None, messages: Sequence[Message]) -> _Pool:
    """All sentences in chronological order, duplicates (same words and numbers) kept once,
    and the messages they come from."""
    old = list(_previous_sentences(previous or ""))
    first_line = old[-1].line + 1 if old else 0
    new = [
        draft
        for index, message in enumerate(messages)
        for draft in _message_sentences(message, first_line + index)
    ]
    sources: dict[int, set[str]] = {draft.line: set() for draft in old if draft.speaker}
    sources.update((first_line + index, set()) for index in range(len(messages)))
    unique: dict[str, _Sentence] = {}
    for order, draft in enumerate(old + new):
        line, label, role, raw, bonus = draft
        text = _tidy(raw)
        key = _key(text)
        if line in sources:
            sources[line].add(key)
        if key not in unique:
            words = tuple(_WORD.findall(text))
            unique[key] = _Sentence(
                order, line, label, role, text, key, words, bonus, order < len(old)
            )
    keys = [frozenset(source) for source in sources.values()]
    return _Pool(list(unique.values()), keys, left_out(previous or ""))


def _names(sentences: Sequence[_Sentence]) -> frozenset[str]:
    """Capitalised words seen somewhere other than at the start of a sentence."""
    names: set[str] = set()
    for sentence in sentences:
        names.update(w for w in sentence.words[1:] if w[0].isupper() and not _DATE.fullmatch(w))
    return frozenset(names - _NOT_NAMES)


def _score(sentence: _Sentence, names: frozenset[str]) -> float:
    """How much a later turn is likely to need this sentence (0 for filler)."""
    text, words = sentence.text, sentence.words
    features = (
        _NAME_WEIGHT * min(_MAX_NAMES, len(names.intersection(words)))
        + _NUMBER * any(char.isdigit() for char in text)
        + _DATE_WEIGHT * bool(_DATE.search(text))
        + _MONEY_WEIGHT * bool(_MONEY.search(text))
        + _DECISION_WEIGHT * bool(_DECISION.search(text))
        + _COMMITMENT_WEIGHT * bool(_COMMITMENT.search(text))
        + _PREFERENCE_WEIGHT * bool(_PREFERENCE.search(text))
        + _question_score(sentence)
    )
    if sentence.role == "user" and features > 0:
        features += _USER_WEIGHT + _PERSONAL_WEIGHT * bool(_PERSONAL.search(text))
    if features == 0 and sentence.bonus <= 0 and len(words) < _MIN_PLAIN_WORDS:
        return 0.0
    return features + sentence.bonus + _WORD_WEIGHT * min(len(words), _MAX_WORDS_SCORED)


def _question_score(sentence: _Sentence) -> float:
    if not sentence.text.rstrip().endswith("?"):
        return 0.0
    return _USER_QUESTION if sentence.role == "user" else _OTHER_QUESTION


def _rank_key(scored: tuple[float, _Sentence]) -> tuple[float, int]:
    """Best first; older material a little lower; among equals, the newer first."""
    score, sentence = scored
    return (-(score - _AGE_PENALTY * sentence.old), -sentence.order)


def _render(sentences: Sequence[_Sentence], marker: str | None) -> str:
    """Sentences in chronological order, one line per source line, prefixed by the speaker;
    `marker` first, if any."""
    lines: list[tuple[int, str, list[str]]] = []
    for sentence in sorted(sentences, key=lambda s: s.order):
        if lines and lines[-1][0] == sentence.line:
            lines[-1][2].append(sentence.text)
        else:
            lines.append((sentence.line, sentence.speaker, [sentence.text]))
    rendered = [
        f"{label}: {' '.join(texts)}" if label else " ".join(texts) for _, label, texts in lines
    ]
    return "\n".join([marker, *rendered] if marker else rendered)


@dataclass(frozen=True, slots=True)
class _Account:
    """Which messages of a pool a choice of its sentences keeps nothing of."""

    pool: _Pool
    needless: frozenset[str]
    """Sentences not worth keeping (filler): a message of only those is left out of nothing."""

    def marker(self, kept: Sequence[_Sentence]) -> str | None:
        """The first line saying how many messages `kept` leaves out, if any: those with a
        sentence worth keeping, none of which is kept."""
        keys = {sentence.key for sentence in kept}
        missing = self.pool.left_out + sum(
            1
            for source in self.pool.sources
            if keys.isdisjoint(source) and not source <= self.needless
        )
        return _left_out_line(missing) if missing else None


class ExtractiveSummarizer:
    """A `SummarizerProtocol` that keeps the most salient sentences, verbatim (no LLM).

    Deterministic (same input, same output), offline, and fast: folding twenty messages takes
    about a millisecond.

    Args:
        count_tokens: The token counter the budget is measured with.

    Example:
        ```python
        summarizer = ExtractiveSummarizer(lambda text: len(text.split()))
        summary = summarizer.summarize(None, evicted_messages, max_tokens=200)
        summary = summarizer.summarize(summary, more_evicted_messages, max_tokens=200)
        ```
    """

    def __init__(self, count_tokens: TokenCounter) -> None:
        self.count_tokens = count_tokens

    def summarize(
        self, previous: str | None, messages: Sequence[Message], *, max_tokens: int
    ) -> str:
        """Fold `messages` into `previous`; the result has at most `max_tokens` tokens.

        Args:
            previous: The running summary so far (ours, or any prose), or None.
            messages: The messages newly evicted from the context, oldest first.
            max_tokens: Hard limit, measured with `count_tokens`.

        Returns:
            The new summary: `speaker: sentences` lines in chronological order.
        """
        if max_tokens <= 0:
            return ""
        return self._summary(_pool(previous, messages), max_tokens, frozenset())

    def shorten(self, summary: str, max_tokens: int, *, besides: Sequence[Message] = ()) -> str:
        """`summary` (ours, or any prose) within `max_tokens`, without the sentences the
        messages `besides` say (sent verbatim after it): whole when it fits and repeats none
        of them, else its most salient other sentences that fit, in their order ("" when
        none is worth keeping). Nothing is folded: a context's own copy of the summary."""
        if max_tokens <= 0:
            return ""
        pool = _pool(summary, ())
        said = frozenset(_key(_tidy(d.text)) for m in besides for d in _message_sentences(m, 0))
        repeats = not said.isdisjoint(sentence.key for sentence in pool.sentences)
        if not repeats and self.count_tokens(summary) <= max_tokens:
            return summary
        return self._summary(pool, max_tokens, said)

    async def asummarize(
        self, previous: str | None, messages: Sequence[Message], *, max_tokens: int
    ) -> str:
        """Async twin of `summarize` (pure CPU work, done inline)."""
        return self.summarize(previous, messages, max_tokens=max_tokens)

    def _summary(self, pool: _Pool, max_tokens: int, besides: frozenset[str]) -> str:
        """The best sentences of `pool` but those `besides` holds, within `max_tokens`."""
        names = _names(pool.sentences)
        scored = [(_score(s, names), s) for s in pool.sentences if s.key not in besides]
        ranked = [s for score, s in sorted(scored, key=_rank_key) if score > 0]
        needless = frozenset(s.key for score, s in scored if score == 0)
        return self._fit(ranked, _Account(pool, needless), max_tokens)

    def _fit(self, ranked: Sequence[_Sentence], account: _Account, max_tokens: int) -> str:
        """Keep the best-ranked sentences whose estimated cost fits, with room for the line
        counting the messages they leave out if any, then enforce the limit."""
        kept = self._select(ranked, max_tokens)
        marker = self.count_tokens(account.marker(()) or "") + 1
        marked = marker < max_tokens  # a marker cut short would say nothing
        if marked and account.marker(kept):
            kept = self._select(ranked, max_tokens - marker)
        if not kept and ranked:
            kept = [ranked[0]]  # nothing fits whole: keep the best, truncated below
        summary = _render(kept, account.marker(kept) if marked else None)
        while len(kept) > 1 and self.count_tokens(summary) > max_tokens:
            kept.pop()  # the estimate was short: drop the lowest-ranked sentence
            summary = _render(kept, account.marker(kept) if marked else None)
        return truncate_words(summary, max_tokens, self.count_tokens)

    def _select(self, ranked: Sequence[_Sentence], max_tokens: int) -> list[_Sentence]:
        kept: list[_Sentence] = []
        open_lines: set[int] = set()
        prefix_costs: dict[str, int] = {"": 0}
        used = 0
        for sentence in ranked:
            cost = self.count_tokens(sentence.text) + 1  # + the joining space or newline
            if sentence.line not in open_lines:
                if sentence.speaker not in prefix_costs:
                    prefix_costs[sentence.speaker] = self.count_tokens(f"{sentence.speaker}: ")
                cost += prefix_costs[sentence.speaker]
            if used + cost <= max_tokens:
                kept.append(sentence)
                open_lines.add(sentence.line)
                used += cost
        return kept
