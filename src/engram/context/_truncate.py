"""Cutting a message's text to a token count, with a visible marker of what was cut.

A user message loses its middle: its start says what it is about, its end usually asks the
question (a pasted log, then "QUESTION: ..."). Other messages lose their end.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from engram.context._counting import MessageCounterProtocol
from engram.types import ContentPart, Message

__all__ = ["Cut", "cut_floor", "cut_text", "last_tokens", "shrink", "truncation_marker"]


def truncation_marker(removed: int) -> str:
    """The text that replaces the cut part of a message: `[… truncated N tokens …]`."""
    return f"[… truncated {removed} tokens …]"


def cut_text(text: str, counter: MessageCounterProtocol, max_tokens: int) -> str:
    """`text` if within `max_tokens`, else its start and the marker, about `max_tokens` long.

    About: the head and the marker are counted apart, so a token merging across the join
    can add one.
    """
    total = counter.count_text(text)
    if total <= max_tokens:
        return text
    room = max(0, max_tokens - counter.count_text(truncation_marker(total)) - 1)
    head = counter.truncate_text(text, room) if room else ""
    marker = truncation_marker(total - (counter.count_text(head) if head else 0))
    return f"{head}\n{marker}" if head else marker


@dataclass(frozen=True, slots=True)
class Cut:
    """A message as it will be sent, with its token count."""

    message: Message
    """The message (a truncated copy when `kept_text` is not None)."""
    tokens: int
    """Its chat-format token count."""
    kept_text: int | None = None
    """Text tokens kept besides the marker; None: the message is whole."""


def _with_text(message: Message, text: str) -> Message:
    """A copy whose text is `text`, as one part of the first text part's type, where that
    part was; the other text parts go, the parts without text (images, files, thinking
    blocks) stay in place: Anthropic wants a thinking block before the text of its turn."""
    if isinstance(message.content, str):
        return message.with_text(text)
    parts: list[ContentPart] = []
    placed = False
    for part in message.content:
        if part.text is None:
            parts.append(part)
        elif not placed:
            parts.append(ContentPart(type=part.type, text=text))
            placed = True
    if not placed:
        parts.insert(0, ContentPart(type="text", text=text))
    return replace(message, content=tuple(parts), tokens=None, encoding=None)


def _cut(message: Message, counter: MessageCounterProtocol, keep: int, total: int) -> Cut:
    """`message` with its text cut to `keep` tokens (of `total`) plus the marker: a user
    message to its first half and its last half of them, around the marker; any other to
    its first `keep` tokens, then the marker."""
    text = message.text
    ends = (keep // 2, keep - keep // 2) if message.role == "user" else (keep, 0)
    head = counter.truncate_text(text, ends[0]) if ends[0] > 0 else ""
    tail = last_tokens(text[len(head) :], counter, ends[1]).lstrip()
    removed = total - sum(counter.count_text(part) for part in (head, tail) if part)
    text = "\n".join(part for part in (head, truncation_marker(removed), tail) if part)
    cut = _with_text(message, text)
    tokens = counter.count_message(cut)
    return Cut(replace(cut, tokens=tokens, encoding=counter.encoding), tokens, keep)


def last_tokens(text: str, counter: MessageCounterProtocol, max_tokens: int) -> str:
    """The longest suffix of `text` (cut at a character) of at most `max_tokens` tokens.

    Searched from the end in a window that doubles, then bisected, so a long text is only
    counted near its tail."""
    if max_tokens <= 0 or not text:
        return ""
    window = min(len(text), 4 * max_tokens)
    while window < len(text) and counter.count_text(text[-window:]) <= max_tokens:
        window = min(len(text), 2 * window)
    low, high = 0, window  # the longest fitting suffix is between these lengths
    while low < high:
        middle = (low + high + 1) // 2
        if counter.count_text(text[-middle:]) <= max_tokens:
            low = middle
        else:
            high = middle - 1
    return text[len(text) - low :] if low else ""


def cut_floor(
    message: Message, tokens: int, counter: MessageCounterProtocol, keep: int
) -> tuple[Cut, int]:
    """The smallest form of `message` keeping `keep` text tokens, and its text's token count.

    `tokens` is the message's own count. The message itself is its floor when cutting would
    not make it smaller (no text, or a text not longer than `keep` plus the marker).
    """
    whole = Cut(message, tokens)
    text = message.text
    total = counter.count_text(text) if text else 0
    if total <= keep:
        return whole, total
    floor = _cut(message, counter, keep, total)
    return (floor if floor.tokens < whole.tokens else whole), total


def shrink(
    message: Message, counter: MessageCounterProtocol, max_tokens: int, floor: Cut, total: int
) -> Cut:
    """The longest cut of `message` within `max_tokens`, never shorter than `floor`.

    Requires `floor.tokens <= max_tokens`. Each attempt lowers the kept text by the excess of
    the one before, so this settles in one or two counts (token boundaries at the cut and
    the marker's digits make the first estimate approximate).
    """
    if floor.kept_text is None:
        return floor
    keep = min(total - 1, floor.kept_text + max_tokens - floor.tokens)
    while keep > floor.kept_text:
        attempt = _cut(message, counter, keep, total)
        if attempt.tokens <= max_tokens:
            return attempt
        keep -= max(attempt.tokens - max_tokens, 1)
    return floor
