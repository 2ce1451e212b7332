"""LLM calls written once for sync and async: request records, a budget, two drivers.

LLM-using logic (extraction, ambiguous revision cases) is a generator that yields `LLMRequest`s
and receives the `Completion` (or None when the provider failed); `drive()` runs it with
`model.complete`, `adrive()` with `await model.acomplete` (the pattern of `engram._flows` and
httpx's `auth_flow`). The generator does no I/O and decides everything, so the sync and async
APIs cannot drift apart.

Example:
    ```python
    budget = ExtractionBudget(max_calls=2, max_tokens=6000)
    result = drive(extraction_flow(messages, budget=budget), model)
    ```
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from engram._exceptions import ProviderError
from engram.providers._base import ChatModelProtocol, Completion

__all__ = [
    "ExtractionBudget",
    "LLMFlow",
    "LLMRequest",
    "adrive",
    "drive",
    "estimate_tokens",
]

logger = logging.getLogger("engram.memory")

T = TypeVar("T")


class LLMRequest(NamedTuple):
    """Ask the chat model; the flow receives the `Completion`, or None if the call failed."""

    messages: tuple[Mapping[str, Any], ...]
    max_tokens: int
    response_format: Mapping[str, Any] | None = None


LLMFlow = Generator[LLMRequest, Completion | None, T]


def estimate_tokens(text: str) -> int:
    """A cheap upper-side estimate of a text's token count (four characters per token)."""
    return len(text) // 4 + 1


@dataclass(slots=True)
class ExtractionBudget:
    """The LLM calls and tokens one `add` may spend; flows decrement it as they call.

    When a call would exceed it, the flow takes the deterministic path instead. One budget can
    be shared by the extraction and the revision of one `add`.
    """

    max_calls: int = 1
    """How many LLM calls in total."""
    max_tokens: int = 4000
    """How many tokens in total (prompt and reply, as reported by the endpoint or estimated)."""
    calls: int = 0
    """Calls spent so far."""
    tokens: int = 0
    """Tokens spent so far."""

    @property
    def calls_left(self) -> int:
        """Calls still allowed."""
        return max(0, self.max_calls - self.calls)

    @property
    def tokens_left(self) -> int:
        """Tokens still allowed."""
        return max(0, self.max_tokens - self.tokens)

    def allows(self, tokens: int) -> bool:
        """True if one more call of about `tokens` tokens fits."""
        return self.calls_left > 0 and tokens <= self.tokens_left

    def spend(self, request: LLMRequest, completion: Completion | None) -> None:
        """Charge one call: the tokens the endpoint reports, else an estimate."""
        self.calls += 1
        prompt = sum(
            estimate_tokens(str(message.get("content", ""))) for message in request.messages
        )
        if completion is None:
            self.tokens += prompt
            return
        used_prompt = completion.prompt_tokens if completion.prompt_tokens is not None else prompt
        used_reply = (
            completion.completion_tokens
            if completion.completion_tokens is not None
            else estimate_tokens(completion.text)
        )
        self.tokens += used_prompt + used_reply


def drive(flow: LLMFlow[T], model: ChatModelProtocol) -> T:
    """Run `flow` with blocking calls to `model`; return its value.

    A `ProviderError` is logged and the flow receives None (it falls back on its own).
    """
    try:
        request = next(flow)
        while True:
            try:
                completion: Completion | None = model.complete(
                    request.messages,
                    max_tokens=request.max_tokens,
                    response_format=request.response_format,
                )
            except ProviderError as exc:
                logger.warning("LLM call failed (%s); falling back", exc)
                completion = None
            request = flow.send(completion)
    except StopIteration as stop:
        value: T = stop.value
        return value


async def adrive(flow: LLMFlow[T], model: ChatModelProtocol) -> T:
    """Async twin of `drive`: run `flow` with awaited calls to `model`."""
    try:
        request = next(flow)
        while True:
            try:
                completion: Completion | None = await model.acomplete(
                    request.messages,
                    max_tokens=request.max_tokens,
                    response_format=request.response_format,
                )
            except ProviderError as exc:
                logger.warning("LLM call failed (%s); falling back", exc)
                completion = None
            request = flow.send(completion)
    except StopIteration as stop:
        value: T = stop.value
        return value
