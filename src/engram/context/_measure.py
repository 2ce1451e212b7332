"""A prompt measured once: every message counted a single time, the history split in units."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engram.context._counting import MessageCounterProtocol, message_tokens, tools_tokens
from engram.context._groups import Unit, sendable, split_history
from engram.types import Message

__all__ = ["Measured", "measure"]


@dataclass(frozen=True, slots=True)
class Measured:
    """Input messages with their token counts and their units."""

    messages: Sequence[Message]
    """The input by position, each message as it is sent (`sendable`: without its abandoned
    calls and orphan or superseded results); one left out whole is as given, in no unit."""
    sizes: Sequence[int]
    """The chat-format token count of each message, by position (`message_tokens`)."""
    systems: Sequence[int]
    """Positions of the system prompt: the system messages before any other message."""
    units: Sequence[Unit]
    """The other messages (later system messages too), grouped in units, oldest first."""
    unit_sizes: Sequence[int]
    """The token count of each unit, by position in `units`."""
    tools: int
    """Tokens of the tool schemas."""
    fixed: int
    """Tokens every context pays: reply priming, tool schemas and the system prompt."""

    @property
    def total(self) -> int:
        """The prompt if every message were sent."""
        return self.fixed + sum(self.unit_sizes)

    def tokens_at(self, positions: Iterable[int]) -> int:
        """The token count of the messages at `positions`."""
        sizes = self.sizes
        return sum(sizes[i] for i in positions)


def measure(
    messages: Sequence[Message],
    counter: MessageCounterProtocol,
    tools: Sequence[Mapping[str, Any]] = (),
) -> Measured:
    """Count every message once (stored counts are reused) and split the history in units,
    leaving out what no chat API accepts (`sendable`: abandoned calls, orphan results)."""
    sent = sendable(messages)
    given = [messages[index] if message is None else message for index, message in enumerate(sent)]
    sizes = [message_tokens(message, counter) for message in given]
    left_out = {index for index, message in enumerate(sent) if message is None}
    systems, units = split_history(given, left_out)
    unit_sizes = [
        sizes[unit[0]] if len(unit) == 1 else sum(sizes[i] for i in unit) for unit in units
    ]
    tools_count = tools_tokens(tools, counter)
    fixed = counter.reply_tokens + tools_count + sum(sizes[i] for i in systems)
    return Measured(given, sizes, systems, units, unit_sizes, tools_count, fixed)
