"""What the strategies need from a token counter, and the one rule for a message's count."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from engram.context._groups import part_calls
from engram.types import ContentPart, Message

__all__ = ["MessageCounterProtocol", "chat_tokens", "message_tokens", "tools_tokens"]


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
    """A message's chat-format token count: its stored count if in `counter`'s encoding,
    else `chat_tokens`.

    Messages written by a store carry `tokens` counted once at write time; recounting them on
    every turn is the cost this avoids. A count in another encoding is ignored, not converted;
    so is one a `TokenCounter` would count otherwise (`TokenCounter.counts_as_stored`: with
    `gpt-3.5-turbo-0301`'s overheads, or `gpt-4o-mini`'s image prices), and the count of a
    message with Anthropic tool parts or LangChain reasoning (a store counts it with
    `count_message`, which sees no text in them).
    """
    if message.tokens is None or _unseen_parts(message):
        return chat_tokens(message, counter)
    as_stored = getattr(counter, "counts_as_stored", None)  # else: the encoding decides
    if as_stored(message) if as_stored is not None else message.encoding == counter.encoding:
        return message.tokens
    return counter.count_message(message)


def chat_tokens(message: Message, counter: MessageCounterProtocol) -> int:
    """`counter.count_message(message)`, the tool calls and results among its parts counted
    as the messages `ContextResult.to_openai()` sends for them.

    An assistant message's `tool_use` (or LangChain `tool_call`) parts count as its
    `tool_calls`; a user message's `tool_result` parts each as a tool message of its content
    (its text and images), the rest of the message as a user message when anything is left.
    A context is sent in OpenAI's form or Anthropic's, which it does not know: so a part only
    one of them sends counts too (a `thinking` block, which `to_openai()` leaves out, and the
    text of a LangChain `reasoning` block, which `to_anthropic()` sends as one). The count may
    be over what one form sends, never under it.
    """
    parts = message.content
    if isinstance(parts, str) or not _unseen_parts(message):
        return counter.count_message(message)
    reasoning = [part.extra.get("reasoning") for part in parts if part.type == "reasoning"]
    tokens = sum(counter.count_text(text) for text in reasoning if isinstance(text, str))
    if message.role != "user":
        calls = (*message.tool_calls, *part_calls(message))
        return tokens + counter.count_message(replace(message, tool_calls=calls))
    results = [part for part in parts if part.type == "tool_result"]
    rest = tuple(part for part in parts if part.type != "tool_result")
    tokens += sum(counter.count_message(_as_tool_message(part)) for part in results)
    return tokens + (counter.count_message(replace(message, content=rest)) if rest else 0)


def _unseen_parts(message: Message) -> bool:
    """Whether `message` has parts a counter's `count_message` sees no text in: tool calls
    and tool results among the parts, and LangChain's reasoning."""
    return not isinstance(message.content, str) and any(
        part.type in _UNSEEN_PARTS for part in message.content
    )


_UNSEEN_PARTS = frozenset({"tool_use", "tool_call", "tool_result", "reasoning"})


def _as_tool_message(part: ContentPart) -> Message:
    """A `tool_result` part as the tool message it stands for: its content as text, or its
    well-formed blocks as parts (images priced as images)."""
    content = part.extra.get("content")
    parts: str | tuple[ContentPart, ...] = content if isinstance(content, str) else ""
    if isinstance(content, list):
        parts = tuple(ContentPart.from_openai(block) for block in content if _is_block(block))
    return Message(role="tool", content=parts, tool_call_id=str(part.extra.get("tool_use_id", "")))


def _is_block(block: object) -> bool:
    """A content block `ContentPart.from_openai` takes: a dict with a type (a text block with
    its text)."""
    if not isinstance(block, Mapping) or not isinstance(kind := block.get("type"), str):
        return False
    return bool(kind) and (kind != "text" or isinstance(block.get("text"), str))


def tools_tokens(tools: Sequence[Mapping[str, Any]], counter: MessageCounterProtocol) -> int:
    """Tokens of the tool schemas (0 when there are none)."""
    return counter.count_tools(tools) if tools else 0
