"""Cutting a message's text to a token count, with a visible marker of what was cut."""

from __future__ import annotations

from dataclasses import dataclass, replace

from engram.context._counting import MessageCounterProtocol
from engram.types import ContentPart, Message

__all__ = ["Cut", "cut_floor", "cut_text", "shrink", "truncation_marker"]


def truncation_marker(removed: int) -> str:
    """The text that replaces the cut end of a message: `[… truncated N tokens …]`."""
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
    """Text tokens kept before the marker; None: the message is whole."""


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
    """`message` with its text cut to its first `keep` tokens (of `total`) plus the marker."""
    head = counter.truncate_text(message.text, keep) if keep > 0 else ""
    removed = total - (counter.count_text(head) if head else 0)
    text = f"{head}\n{truncation_marker(removed)}" if head else truncation_marker(removed)
    cut = _with_text(message, text)
    tokens = counter.count_message(cut)
    return Cut(replace(cut, tokens=tokens, encoding=counter.encoding), tokens, keep)


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
