"""Typed, validated options for each strategy, for callers that pick a strategy at run time."""

from __future__ import annotations

from dataclasses import dataclass

from engram._validation import check_budget
from engram.context._strategies import check_window
from engram.context._summary import check_fractions, summary_room

__all__ = [
    "BufferOptions",
    "ContextOptions",
    "SummaryBufferOptions",
    "TokenBudgetOptions",
    "WindowOptions",
]


@dataclass(frozen=True, slots=True)
class BufferOptions:
    """`buffer`: send every message."""


@dataclass(frozen=True, slots=True)
class WindowOptions:
    """`window`: the last N messages or the last N user turns (exactly one of them)."""

    last_messages: int | None = None
    """Keep the last N messages after the system prompt (widened to whole tool-call groups)."""
    last_turns: int | None = None
    """Keep the last N turns, each starting at a user message."""

    def __post_init__(self) -> None:
        check_window(self.last_messages, self.last_turns)


@dataclass(frozen=True, slots=True)
class TokenBudgetOptions:
    """`token_budget`: the newest history that fits."""

    budget: int
    """Tokens the prompt and the reply reserve may use together."""
    reserve: int = 0
    """Tokens kept free for the reply."""

    def __post_init__(self) -> None:
        check_budget(self.budget, self.reserve)


@dataclass(frozen=True, slots=True)
class SummaryBufferOptions:
    """`plan_summary` + `assemble_summary`: recent messages verbatim, older ones summarised."""

    budget: int
    """Tokens the prompt and the reply reserve may use together."""
    reserve: int = 0
    """Tokens kept free for the reply."""
    trigger: float = 0.8
    """Summarise once the prompt passes this fraction of `budget - reserve`."""
    target: float = 0.5
    """After summarising, the prompt takes at most this fraction of `budget - reserve`."""
    summary_max_tokens: int | None = None
    """Room for the summary text; None: 25% of `budget - reserve`."""

    def __post_init__(self) -> None:
        check_budget(self.budget, self.reserve)
        check_fractions(self.trigger, self.target)
        summary_room(self.budget - self.reserve, self.summary_max_tokens)


ContextOptions = BufferOptions | WindowOptions | TokenBudgetOptions | SummaryBufferOptions
"""The options of any strategy."""
