"""The long-term tier of a context: the user's profile and recalled memories, in one message.

Context assembly across tiers, by priority: system messages, then the newest user turn, then
this block (profile first, then memories best first, within its share of the budget), then
the running summary and the recent messages in what is left. `recall_block` builds the block;
`with_recall` puts it into a strategy's result and accounts for it in the report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from engram.context._counting import MessageCounterProtocol, message_tokens
from engram.context._report import ContextResult
from engram.types import Message
from engram.types._memory import MemoryHit

__all__ = ["RECALL_PREFIX", "RecallBlock", "recall_block", "recall_room", "with_recall"]

RECALL_PREFIX = "What you know about the user from earlier conversations:\n"
RECALL_ID = "memories"


@dataclass(frozen=True, slots=True)
class RecallBlock:
    """The profile and the memories that fit, as one system message."""

    message: Message | None
    """None when nothing fits (or nothing was recalled)."""
    kept: tuple[str, ...]
    """Ids of the memories in the message, best first."""
    dropped: tuple[str, ...]
    """Ids of recalled memories that did not fit."""
    tokens: int
    """The message's chat-format token count (0 without a message)."""


def memory_line(hit: MemoryHit) -> str:
    """How a memory reads in the prompt: episodes carry their date."""
    memory = hit.memory
    if memory.kind == "episode":
        when = memory.valid_from or memory.recorded_at
        return f"- [{when.date().isoformat()}] {memory.text}"
    return f"- {memory.text}"


def recall_block(
    hits: Sequence[MemoryHit],
    counter: MessageCounterProtocol,
    *,
    max_tokens: int,
    profile: Mapping[str, str] | None = None,
) -> RecallBlock:
    """Greedily pack the profile, then memories best first, into at most `max_tokens`."""
    lines = [f"- {key.replace('_', ' ')}: {value}" for key, value in (profile or {}).items()]
    kept: list[str] = []
    dropped: list[str] = []
    for hit in hits:
        candidate = [*lines, memory_line(hit)]
        if _cost(candidate, counter) <= max_tokens:
            lines, kept = candidate, [*kept, hit.memory.id]
        else:
            dropped.append(hit.memory.id)
    if not lines or _cost(lines, counter) > max_tokens:
        return RecallBlock(None, (), tuple(h.memory.id for h in hits), 0)
    message = _message(lines)
    return RecallBlock(message, tuple(kept), tuple(dropped), message_tokens(message, counter))


def _message(lines: Sequence[str]) -> Message:
    return Message(role="system", content=RECALL_PREFIX + "\n".join(lines), id=RECALL_ID)


def _cost(lines: Sequence[str], counter: MessageCounterProtocol) -> int:
    return counter.count_message(_message(lines))


def recall_room(
    messages: Sequence[Message],
    counter: MessageCounterProtocol,
    *,
    budget: int,
    reserve: int,
    tools_tokens: int,
    share: float,
) -> int:
    """Tokens the recall block may take: its share of the prompt, never crowding out the
    system messages and (the start of) the newest user message."""
    available = budget - reserve - tools_tokens - counter.reply_tokens
    system = sum(message_tokens(m, counter) for m in messages if m.role == "system")
    newest_user = next((m for m in reversed(messages) if m.role == "user"), None)
    user = min(message_tokens(newest_user, counter), 64) if newest_user else 0
    return max(0, min(int(share * available), available - system - user))


def with_recall(result: ContextResult, block: RecallBlock) -> ContextResult:
    """`result` with the block inserted after its leading system messages."""
    report = replace(
        result.report,
        tokens_after=result.report.tokens_after + block.tokens,
        recalled=block.kept,
        recall_dropped=block.dropped,
        memory_tokens=block.tokens,
    )
    if block.message is None:
        return ContextResult(result.messages, report)
    messages = list(result.messages)
    at = next((i for i, m in enumerate(messages) if m.role != "system"), len(messages))
    messages.insert(at, block.message)
    return ContextResult(tuple(messages), report)
