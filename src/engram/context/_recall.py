"""The long-term tier of a context: the user's profile and recalled memories, in one message.

Context assembly across tiers, by priority: the system messages; the newest user turn (the
newest user message and the newest unit after it) and the running summary, cut if need be;
this block, only if neither was cut, within its share of the budget; then the rest of the
history in what is left (see `token_budget`). So memories give way before the newest user
message or the summary is cut, and older history gives way to memories. `buffer` and
`window`, which have no budget, send the block within its share.

`Recall` is what the long-term tier offers a context. A strategy packs it with `recall_block`
into the room its messages leave: greedily, profile fields first, then memories best first,
each one in if it still fits and left out (and reported) if not. A session's context offers no
memory that only repeats the prompt: a profile memory whose field the block gives, or one
whose every source message the context sends (`_session_flows._without_repeats`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from engram.context._counting import MessageCounterProtocol
from engram.types import Message
from engram.types._memory import MemoryHit

__all__ = ["RECALL_ID", "RECALL_PREFIX", "Recall", "RecallBlock", "recall_block", "recall_room"]

RECALL_PREFIX = "What you know about the user from earlier conversations:\n"
RECALL_ID = "memories"
"""The recall block's id, unless a message of the context has it (see `unused_id`)."""


@dataclass(frozen=True, slots=True)
class Recall:
    """What the long-term tier offers a context; a strategy sends what fits of it."""

    max_tokens: int
    """The most its message may take: its share of the prompt (see `recall_room`)."""
    hits: tuple[MemoryHit, ...] = ()
    """Recalled memories, best first."""
    profile: Mapping[str, str] = field(default_factory=dict)
    """The user's profile fields, in the order they are offered."""


@dataclass(frozen=True, slots=True)
class RecallBlock:
    """The profile fields and the memories that fit, as one system message."""

    message: Message | None
    """None when nothing fits (or nothing was recalled)."""
    kept: tuple[str, ...]
    """Ids of the memories in the message, best first."""
    dropped: tuple[str, ...]
    """Ids of recalled memories that did not fit."""
    tokens: int
    """The message's chat-format token count (0 without a message)."""
    profile_dropped: tuple[str, ...] = ()
    """Keys of the profile fields that did not fit."""


def memory_line(hit: MemoryHit) -> str:
    """How a memory reads in the prompt: episodes carry their date."""
    memory = hit.memory
    if memory.kind == "episode":
        when = memory.valid_from or memory.recorded_at
        return f"- [{when.date().isoformat()}] {memory.text}"
    return f"- {memory.text}"


def recall_block(
    recall: Recall,
    counter: MessageCounterProtocol,
    *,
    space: int | None = None,
    message_id: str = RECALL_ID,
) -> RecallBlock:
    """Greedily pack the profile fields, then the memories best first, into one message of at
    most `recall.max_tokens` tokens (and `space`, if given).

    A field or memory that does not fit is left out and the next ones are still tried, so a
    long one costs only itself, never the whole block.
    """
    limit = recall.max_tokens if space is None else min(recall.max_tokens, space)
    fields = [f"- {key.replace('_', ' ')}: {value}" for key, value in recall.profile.items()]
    lines, fits = _pack([*fields, *map(memory_line, recall.hits)], counter, limit)
    field_fits, memory_fits = fits[: len(fields)], fits[len(fields) :]
    profile_dropped = _left_out(list(recall.profile), field_fits)
    ids = [hit.memory.id for hit in recall.hits]
    kept = tuple(i for i, fit in zip(ids, memory_fits, strict=True) if fit)
    dropped = _left_out(ids, memory_fits)
    if not lines:
        return RecallBlock(None, (), dropped, 0, profile_dropped)
    message = _message(lines, message_id)
    return RecallBlock(message, kept, dropped, counter.count_message(message), profile_dropped)


def _pack(
    candidates: Sequence[str], counter: MessageCounterProtocol, limit: int
) -> tuple[list[str], list[bool]]:
    """The candidates that go in a message of at most `limit` tokens, each in turn if the
    message with it still fits, and for each candidate whether it went in."""
    lines: list[str] = []
    fits: list[bool] = []
    for line in candidates:
        fit = limit > 0 and counter.count_message(_message([*lines, line])) <= limit
        if fit:
            lines.append(line)
        fits.append(fit)
    return lines, fits


def _left_out(names: Sequence[str], fits: Sequence[bool]) -> tuple[str, ...]:
    return tuple(name for name, fit in zip(names, fits, strict=True) if not fit)


def _message(lines: Sequence[str], message_id: str = RECALL_ID) -> Message:
    return Message(role="system", content=RECALL_PREFIX + "\n".join(lines), id=message_id)


def recall_room(
    counter: MessageCounterProtocol,
    *,
    budget: int,
    reserve: int,
    tools_tokens: int,
    share: float,
) -> int:
    """The most tokens the recall block may take: `share` of what the budget leaves for
    messages (after the reply reserve, the tool schemas and the reply priming).

    A budgeted strategy gives it less when the system messages, the newest user turn and the
    summary need the room (see the module docstring).
    """
    available = budget - reserve - tools_tokens - counter.reply_tokens
    return max(0, int(share * available))
