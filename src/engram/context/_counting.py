"""What the strategies need from a token counter, and the one rule for a message's count."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from engram.types import Message

__all__ = ["MessageCounterProtocol", "message_tokens", "tools_tokens"]


class MessageCounterProtocol(Protocol):
    """Counts chat-format tokens; `engram.tokens.TokenCounter` is the implementation we ship.

    A prompt costs the sum of `count_message()` over its messages, plus `reply_tokens` (the
    priming of the reply), plus `count_tools()` of the tool schemas sent with it.
    """

    @property
    def encoding(self) -> str:
        """The tokenizer name; a message's stored count is trusted only in this encoding."""
        ...

    @property
    def reply_tokens(self) -> int:
        """Tokens every prompt pays once to prime the reply."""
        ...

    def count_text(self, text: str) -> int:
        """Tokens of a bare text."""
        ...

    def count_message(self, message: Message) -> int:
        """Tokens of one message in the chat format, per-message overhead included."""
        ...

    def count_tools(self, tools: Sequence[Mapping[str, Any]]) -> int:
        """Tokens the tool schemas add to a prompt."""
        ...

    def truncate_text(self, text: str, max_tokens: int) -> str:
        """The longest prefix of `text` of at most `max_tokens` tokens."""
        ...


def message_tokens(message: Message, counter: MessageCounterProtocol) -> int:
    """A message's chat-format token count: its stored count if in `counter`'s encoding.

    Messages written by a store carry `tokens` counted once at write time; recounting them on
    every turn is the cost this avoids. A count in another encoding is ignored, not converted;
    so is one a `TokenCounter` would count otherwise (`TokenCounter.counts_as_stored`: with
    `gpt-3.5-turbo-0301`'s overheads, or `gpt-4o-mini`'s image prices).
    """
    if message.tokens is None:
        return counter.count_message(message)
    as_stored = getattr(counter, "counts_as_stored", None)  # else: the encoding decides
    if as_stored(message) if as_stored is not None else message.encoding == counter.encoding:
        return message.tokens
    return counter.count_message(message)


def tools_tokens(tools: Sequence[Mapping[str, Any]], counter: MessageCounterProtocol) -> int:
    """Tokens of the tool schemas (0 when there are none)."""
    return counter.count_tools(tools) if tools else 0
