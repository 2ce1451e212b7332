"""A context in the form Anthropic's Messages API takes: `system` and `messages`.

Anthropic's messages are user and assistant turns only, each a list of content blocks
(`Message.to_anthropic`); the conversion here places each message in a turn:

- The system prompt (the system messages before any other message: the prompt, the summary,
  the recall block) goes to the top-level `system`, as text blocks, one per text part.
- A system message said later (a note added during the conversation) stays where it was said,
  as a text block `[system] <note>` in a user turn. Moving it into `system` would lose when it
  applied, and changing `system` invalidates Anthropic's prompt cache for everything after it.
  (Claude Opus 4.8 takes `{"role": "system"}` messages inside `messages`; other models and the
  cloud platforms refuse them.)
- A tool message is a `tool_result` block in a user turn: the results answering one assistant
  turn are one user message, in order; a user message said after them joins it (after the
  results, as Anthropic requires).
- Consecutive messages of one role are merged into one turn (Anthropic's turns alternate), and
  a message with nothing to send (blank text, no part, no call) is left out. An assistant turn
  must open with its `thinking` and `redacted_thinking` blocks (Anthropic refuses a turn whose
  thinking follows its text or tool use when thinking is on): so the thinking a merged message
  opens with joins the turn's opening thinking, ahead of what earlier messages said, each
  block as given (its signature kept); the rest keeps its order.
- The turns start with a user turn: a conversation opened by the assistant (a greeting) gets a
  `[conversation start]` user turn before it, rather than losing what the assistant said, which
  the user's reply may answer (Amazon Bedrock refuses an assistant turn first).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engram._exceptions import InvalidInputError
from engram.types import Message

__all__ = ["CONVERSATION_START", "SYSTEM_NOTE_PREFIX", "anthropic_request"]

SYSTEM_NOTE_PREFIX = "[system] "
"""Begins the user-turn text block that carries a system message said during the conversation."""

CONVERSATION_START = "[conversation start]"
"""The text of the user turn put before a conversation the assistant opened."""


_THINKING_TYPES = frozenset({"thinking", "redacted_thinking"})
"""The blocks of Claude's extended thinking, which open an assistant turn."""


def anthropic_request(messages: Sequence[Message]) -> dict[str, Any]:
    """`{"system": [...], "messages": [...]}` for `messages` (no `system` when there is none).

    Raises:
        InvalidInputError: A system prompt message with a part other than text (Anthropic's
            `system` takes text blocks only), or an image data URL that is not base64.
    """
    count = next((i for i, m in enumerate(messages) if m.role != "system"), len(messages))
    system = [block for message in messages[:count] for block in _system_blocks(message)]
    turns: list[dict[str, Any]] = []
    for message in messages[count:]:
        role, blocks = _turn(message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            _join(turns[-1]["content"], blocks)
        else:
            turns.append({"role": role, "content": blocks})
    if turns and turns[0]["role"] == "assistant":
        turns.insert(0, {"role": "user", "content": [_text(CONVERSATION_START)]})
    return {"system": system, "messages": turns} if system else {"messages": turns}


def _system_blocks(message: Message) -> list[dict[str, Any]]:
    """A system prompt message's text blocks (their `cache_control` kept)."""
    blocks = message.to_anthropic()
    for block in blocks:
        if block.get("type") != "text":
            raise InvalidInputError(
                f"Anthropic's system prompt takes text only, not a {block.get('type')!r:.50} part"
            )
    return blocks


def _turn(message: Message) -> tuple[str, list[dict[str, Any]]]:
    """The role of the turn `message` goes in, and its blocks."""
    if message.role == "system":
        note = message.text
        return "user", [_text(SYSTEM_NOTE_PREFIX + note)] if note.strip() else []
    return ("assistant" if message.role == "assistant" else "user"), message.to_anthropic()


def _join(content: list[dict[str, Any]], blocks: list[dict[str, Any]]) -> None:
    """Add a message's `blocks` to the turn of `content`: the thinking they open with after
    the turn's opening thinking, the others at the end."""
    thinking = _thinking_count(blocks)
    at = _thinking_count(content)
    content[at:at] = blocks[:thinking]
    content.extend(blocks[thinking:])


def _thinking_count(blocks: Sequence[dict[str, Any]]) -> int:
    """How many `thinking` and `redacted_thinking` blocks `blocks` open with."""
    return next(
        (i for i, block in enumerate(blocks) if block.get("type") not in _THINKING_TYPES),
        len(blocks),
    )


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}
