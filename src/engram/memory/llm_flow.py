"""LLM calls written once for sync and async: request records, a budget, two drivers.

LLM-using logic (extraction, ambiguous revision cases) is a generator that yields `LLMRequest`s
and receives the `Completion` (or None when the provider failed); `drive()` runs it with
`model.complete`, `adrive()` with `await model.acomplete` (the pattern of `engram._flows` and
httpx's `auth_flow`). The generator does no I/O and decides everything, so the sync and async
APIs cannot drift apart.

The budget is charged for what is sent: a flow asks through `ask()`, which lets the model
retry (at the HTTP level) only as often as the budget affords a whole attempt, and charges
every attempt the model reports making (`engram.providers.openai.track_attempts`).

Example:
    ```python
    budget = ExtractionBudget(max_calls=2, max_tokens=6000)
    result = drive(extraction_flow(messages, budget=budget), model)
    ```
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from engram._exceptions import ConfigError, ProviderError
from engram.providers._base import ChatModelProtocol, Completion
from engram.providers.openai import track_attempts
from engram.tokens import get_tokenizer

__all__ = [
    "ExtractionBudget",
    "LLMFlow",
    "LLMRequest",
    "adrive",
    "ask",
    "drive",
    "estimate_tokens",
    "prompt_tokens",
]

logger = logging.getLogger("engram.memory")

T = TypeVar("T")

_ENCODINGS = ("o200k_base", "cl100k_base")
_MESSAGE_FRAMING = 7
"""Tokens of a chat message beyond its content: at most 4 (OpenAI's chat format, a name
included) plus the 3 that prime the reply, counted with every message (an upper bound)."""


class LLMRequest(NamedTuple):
    """Ask the chat model; the flow receives the `Completion`, or None if the call failed."""

    messages: tuple[Mapping[str, Any], ...]
    max_tokens: int
    response_format: Mapping[str, Any] | None = None


LLMFlow = Generator[LLMRequest, Completion | None, T]


def estimate_tokens(text: str) -> int:
    """An upper bound of what a chat message with content `text` costs in a prompt.

    Its content counted exactly with OpenAI's tokenizers (the larger of the `o200k_base` and
    `cl100k_base` counts: CJK text and emoji take far more than four characters per token),
    plus its framing and the reply's priming. Summed over a request's messages, it bounds the
    prompt tokens an OpenAI endpoint bills. Other model families tokenize differently: their
    counts are close to these, not bounded by them.
    """
    return max(get_tokenizer(name).count(text) for name in _ENCODINGS) + _MESSAGE_FRAMING


def prompt_tokens(messages: Sequence[Mapping[str, Any]]) -> int:
    """An upper bound of a request's prompt tokens (`estimate_tokens` over its messages)."""
    return sum(estimate_tokens(str(message.get("content") or "")) for message in messages)


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
    """Requests sent so far, retries included."""
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

    def spend(
        self, request: LLMRequest, completion: Completion | None, *, attempts: int = 1
    ) -> None:
        """Charge one call of `attempts` requests.

        The answered attempt costs the tokens the endpoint reports (else the estimate, its
        reply at most `max_tokens`); each failed one its prompt: it was sent in full. A count
        of 0 for text that was sent or written is no report (some servers fill `usage` with
        zeros): charged as 0, it would leave the budget unspent.
        """
        attempts = max(1, attempts)
        self.calls += attempts
        prompt = prompt_tokens(request.messages)
        if completion is None:
            self.tokens += prompt * attempts
            return
        used_prompt = completion.prompt_tokens or prompt
        reported = completion.completion_tokens
        used_reply = (
            reported
            if reported or (reported == 0 and not completion.text)
            else min(estimate_tokens(completion.text), request.max_tokens)
        )
        self.tokens += prompt * (attempts - 1) + used_prompt + used_reply


def ask(request: LLMRequest, budget: ExtractionBudget) -> LLMFlow[Completion | None]:
    """Yield `request` and charge `budget` for every request the model sends for it.

    The model may retry (on timeouts, 5xx) only while the budget still affords a whole attempt
    (its prompt and `max_tokens` of reply) and a call: a retry never takes an add over its
    budget. A model that raises `max_tokens` (`reply_tokens`, room for a reasoning model's
    thoughts) raises it at most to an attempt's share of the budget. The caller checks
    beforehand that one attempt fits.

    Returns:
        The completion, or None if the call failed.
    """
    prompt = prompt_tokens(request.messages)
    affordable = max(
        1, min(budget.calls_left, budget.tokens_left // max(1, prompt + request.max_tokens))
    )
    # A model's `reply_tokens` may raise an attempt's `max_tokens` to its share of the budget.
    room = budget.tokens_left // affordable - prompt
    with track_attempts(affordable, max_reply_tokens=room) as ledger:
        completion = yield request
    budget.spend(request, completion, attempts=ledger.attempts)
    return completion


def drive(flow: LLMFlow[T], model: ChatModelProtocol) -> T:
    """Run `flow` with blocking calls to `model`; return its value.

    A `ProviderError` is logged and the flow receives None (it falls back on its own),
    except one that is also a `ConfigError` (the endpoint refused the key, the model or the
    base_url: `ProviderConfigError`), which is raised: no later call would succeed.
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
            except ConfigError:
                raise  # a bad key, model or base_url: no fallback would fix the next add
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
            except ConfigError:
                raise  # a bad key, model or base_url: no fallback would fix the next add
            except ProviderError as exc:
                logger.warning("LLM call failed (%s); falling back", exc)
                completion = None
            request = flow.send(completion)
    except StopIteration as stop:
        value: T = stop.value
        return value
