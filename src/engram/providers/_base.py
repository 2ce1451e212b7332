"""The provider contracts: what a chat model and a summariser look like to Engram.

Both are `Protocol`s (STYLE practice 3): users plug in their own objects without subclassing.
Each has a sync method and its `a`-prefixed async twin.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from engram.types import Message

__all__ = ["ChatModelProtocol", "Completion", "SummarizerProtocol"]


@dataclass(frozen=True, slots=True)
class Completion:
    """The answer of one chat-completion call."""

    text: str
    """The assistant's reply. A message without content is read from its first tool call's
    arguments (no tools are offered, so a call is how some servers answer a structured-output
    request); empty if it has neither."""
    model: str
    """The model that answered, as reported by the endpoint."""
    prompt_tokens: int | None = None
    """Input tokens billed, when the endpoint reports usage."""
    completion_tokens: int | None = None
    """Output tokens billed, when the endpoint reports usage."""
    finish_reason: str | None = None
    """Why generation stopped: `stop`, `length`, `tool_calls`, ..."""


class ChatModelProtocol(Protocol):
    """A chat model: OpenAI-style messages in, one `Completion` out."""

    def complete(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        max_tokens: int | None = None,
        temperature: float = 0.0,
        response_format: Mapping[str, Any] | None = None,
    ) -> Completion:
        """Answer `messages` (OpenAI chat-completions form).

        Args:
            messages: The conversation, e.g. `[{"role": "user", "content": "hi"}]`.
            max_tokens: Upper bound on the reply's length; None leaves it to the endpoint.
            temperature: Sampling temperature; 0 asks for the most deterministic reply.
            response_format: Passed through, e.g. `{"type": "json_object"}`.

        Returns:
            The completion.

        Raises:
            ProviderError: The endpoint rejected the request or answered nonsense.
            ProviderUnavailable: The endpoint cannot be reached or keeps failing.
        """
        ...

    async def acomplete(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        max_tokens: int | None = None,
        temperature: float = 0.0,
        response_format: Mapping[str, Any] | None = None,
    ) -> Completion:
        """Async twin of `complete`."""
        ...


class SummarizerProtocol(Protocol):
    """Folds messages evicted from a context window into a running summary."""

    def summarize(
        self, previous: str | None, messages: Sequence[Message], *, max_tokens: int
    ) -> str:
        """Return `previous` updated with `messages`, in at most `max_tokens` tokens.

        Args:
            previous: The running summary so far, or None for the first fold.
            messages: The messages newly evicted from the context, oldest first.
            max_tokens: Hard limit on the new summary's length.

        Returns:
            The new running summary (possibly empty, never longer than `max_tokens`).
        """
        ...

    async def asummarize(
        self, previous: str | None, messages: Sequence[Message], *, max_tokens: int
    ) -> str:
        """Async twin of `summarize`."""
        ...
