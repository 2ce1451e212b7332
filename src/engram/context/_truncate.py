"""Cutting a message's text to a token count, with a visible marker of what was cut.

A user message loses its middle: its start says what it is about, its end usually asks the
question (a pasted log, then "QUESTION: ..."). Other messages lose their end.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

from engram.context._counting import MessageCounterProtocol, chat_tokens
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
    its first `keep` tokens, then the marker.

    A user message of Anthropic `tool_result` parts has the text of each result cut too, as
    a tool message's (`_results_cut`)."""
    if _result_texts(message):
        cut = _results_cut(message, counter, keep)
    else:
        cut = _with_text(message, _cut_string(message.text, message.role, counter, keep, total))
    tokens = chat_tokens(cut, counter)
    return Cut(replace(cut, tokens=tokens, encoding=counter.encoding), tokens, keep)


def _cut_string(
    text: str, role: str, counter: MessageCounterProtocol, keep: int, total: int
) -> str:
    """`text` (of `total` tokens) cut to `keep` tokens and the marker, as `_cut` says."""
    ends = (keep // 2, keep - keep // 2) if role == "user" else (keep, 0)
    head = counter.truncate_text(text, ends[0]) if ends[0] > 0 else ""
    tail = last_tokens(text[len(head) :], counter, ends[1]).lstrip()
    removed = total - sum(counter.count_text(part) for part in (head, tail) if part)
    return "\n".join(part for part in (head, truncation_marker(removed), tail) if part)


def _results_cut(message: Message, counter: MessageCounterProtocol, keep: int) -> Message:
    """A user message of `tool_result` parts with its text and each result's text cut (a
    result's content, or each text block of it). What the user said with the results (a
    question) gets `keep` tokens first, cut as a user message's is; the results share the
    rest in proportion to their sizes."""
    said, texts = message.text, _result_texts(message)
    said_size = counter.count_text(said) if said else 0
    if said_size > keep:
        said = _cut_string(said, "user", counter, keep, said_size)
    keep -= min(said_size, keep)
    sizes = [counter.count_text(text) if text else 0 for text in texts]
    whole = sum(sizes)
    shares = [keep * size // whole if whole else 0 for size in sizes]
    results = iter(
        text if size <= share else _cut_string(text, "tool", counter, share, size)
        for text, size, share in zip(texts, sizes, shares, strict=True)
    )
    cut = _with_text(message, said) if said != message.text else message
    content = () if isinstance(cut.content, str) else cut.content  # parts: it has results
    parts = tuple(_with_result_texts(part, results) for part in content)
    return replace(cut, content=parts, tokens=None, encoding=None)


def _result_texts(message: Message) -> list[str]:
    """The texts of a user message's `tool_result` parts: each one's content when it is a
    string, else the text of each of its text blocks."""
    if message.role != "user" or isinstance(message.content, str):
        return []
    return [text for part in message.content for text in _texts_of(part)]


def _texts_of(part: ContentPart) -> list[str]:
    """A `tool_result` part's texts (`_result_texts`); none for any other part."""
    content = part.extra.get("content") if part.type == "tool_result" else None
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        return []
    return [text for block in content if (text := _block_text(block)) is not None]


def _block_text(block: object) -> str | None:
    """The text of a text block (`{"type": "text", "text": ...}`), else None."""
    if isinstance(block, Mapping) and block.get("type") == "text":
        text = block.get("text")
        return text if isinstance(text, str) else None
    return None


def _with_result_texts(part: ContentPart, texts: Iterator[str]) -> ContentPart:
    """`part` with its texts (`_texts_of`, in order) replaced by the next of `texts`."""
    content = part.extra.get("content") if part.type == "tool_result" else None
    if isinstance(content, str):
        return replace(part, extra={**part.extra, "content": next(texts)})
    if not isinstance(content, list) or not _texts_of(part):
        return part
    blocks = [
        {**block, "text": next(texts)} if _block_text(block) is not None else block
        for block in content
    ]
    return replace(part, extra={**part.extra, "content": blocks})


def _text_tokens(message: Message, counter: MessageCounterProtocol) -> int:
    """The tokens of the text a cut shortens: the message's, and its results' (`_cut`)."""
    texts = [message.text, *_result_texts(message)]
    return sum(counter.count_text(text) for text in texts if text)


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
    total = _text_tokens(message, counter)
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
