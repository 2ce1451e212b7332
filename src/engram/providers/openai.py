"""`OpenAIChatModel`: chat completions from any OpenAI-compatible endpoint.

It speaks `POST {base_url}/chat/completions`, which OpenAI, Ollama (`http://localhost:11434/v1`),
vLLM and the llama.cpp server all understand.

Example:
    ```python
    with OpenAIChatModel("llama3.2", base_url="http://localhost:11434/v1") as model:
        reply = model.complete([{"role": "user", "content": "Say hi"}], max_tokens=20)
        print(reply.text)
    ```

Servers differ in what they take and answer; the model copes with what real ones do:

- an endpoint that refuses `response_format` type `json_schema` (older vLLM, llama.cpp and
  LM Studio builds, OpenAI's older models) is asked again with `json_object`, and one that
  refuses that too, without a `response_format` (the prompt asks for JSON anyway); the
  downgrade is remembered for the model's lifetime, so later calls pay no failing request;
- a reply whose content is null but that carries a tool call (how some servers and proxies
  answer a json_schema request) is read from the call's `arguments`;
- a refusal (`refusal` text) is a `ProviderError`, never an empty reply.

A caller that pays for what is sent (the memory flows' `ExtractionBudget`) opens an
`AttemptLedger` with `track_attempts()` around a call: the model then sends no more requests
than the ledger allows (retries and a downgrade's included), records every one it sent, and
raises no `max_tokens` past the room the ledger leaves a reply (`reply_tokens`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpx

from engram._exceptions import ConfigError, ProviderError
from engram.providers._base import Completion
from engram.providers._http import Exchange, OpenAICompatibleClient, Rejected, RetryPolicy

__all__ = [
    "AttemptLedger",
    "OpenAIChatModel",
    "storable_text",
    "track_attempts",
    "without_reasoning",
]

logger = logging.getLogger("engram.providers")

_PATH = "/chat/completions"
_DEGRADED: dict[str, str | None] = {"json_schema": "json_object", "json_object": None}
"""The `response_format` type sent instead of one the endpoint refused (None: no format)."""
_FORMAT_REFUSED = re.compile(r"response.?format|json.?schema", re.IGNORECASE)
_FORMAT_STATUSES = frozenset({400, 422, 500})
"""How servers refuse a `response_format`: 400 (OpenAI, vLLM), 422 (FastAPI validation),
500 (llama.cpp: "response_format type must be one of "text" or "json_object"")."""
_TEXT_PARTS = ("text", "output_text")
"""The content-part types whose `text` is the reply (a list `content`, as some servers send)."""
_QUOTED = 200  # characters of a refusal quoted in the error
_UNSTORABLE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
"""Control characters other than tab, newline, vertical tab, form feed and carriage return,
and lone surrogates (a JSON `\\ud800` without its pair)."""


def storable_text(text: str) -> str:
    """What a model wrote, without the characters no store takes or means anything in text.

    NUL (PostgreSQL refuses it in text), the other control characters that are not
    whitespace, and lone surrogates (not encodable as UTF-8) are removed; the whitespace
    controls among them (U+001C-U+001F, NEL) become spaces.
    """
    return _UNSTORABLE.sub(lambda found: " " if found.group().isspace() else "", text)


def without_reasoning(text: str) -> str:
    """A reply without the thoughts a reasoning model (Qwen3, DeepSeek-R1) leaves in it.

    Removed: `<think>...</think>` blocks, one left open (the reply was cut off while the
    model was still thinking: what it thought is no answer), and everything before a
    closing `</think>` whose opening tag the chat template wrote (DeepSeek-R1 on vLLM).
    """
    answer = text.rpartition("</think>")[2]
    return answer.partition("<think>")[0]


@dataclasses.dataclass(slots=True)
class AttemptLedger:
    """The HTTP attempts of the chat calls made while it is active (see `track_attempts`)."""

    max_attempts: int | None = None
    """At most this many requests in all, retries and a downgraded format's included (None:
    the model's policy)."""
    max_reply_tokens: int | None = None
    """The most `max_tokens` a request may allow its reply: what the caller's budget leaves
    after paying for its attempts' prompts. The model's `reply_tokens` raises `max_tokens` up
    to it, never past it; None: `max_tokens` is sent as asked (the caller sized it)."""
    exchanges: list[Exchange] = dataclasses.field(default_factory=list)
    """One per request the model made (a downgraded `response_format` makes another), with
    its retries."""

    @property
    def attempts(self) -> int:
        """Requests sent so far (0 if the model does not keep a ledger)."""
        return sum(exchange.retries + 1 for exchange in self.exchanges)

    @property
    def exhausted(self) -> bool:
        """True if no further request is allowed."""
        return self.max_attempts is not None and self.attempts >= self.max_attempts

    def track(self, exchange: Exchange) -> None:
        """Record `exchange` and hold its retries to what `max_attempts` leaves."""
        if self.max_attempts is not None:
            left = self.max_attempts - self.attempts
            retries = max(0, min(exchange.policy.max_retries, left - 1))
            exchange.policy = dataclasses.replace(exchange.policy, max_retries=retries)
        self.exchanges.append(exchange)


_LEDGER: ContextVar[AttemptLedger | None] = ContextVar("engram_attempt_ledger", default=None)


@contextmanager
def track_attempts(
    max_attempts: int | None = None, *, max_reply_tokens: int | None = None
) -> Iterator[AttemptLedger]:
    """Count the attempts of the `OpenAIChatModel` calls made in this context.

    The ledger lives in a context variable, so it follows the call into `acomplete` on the
    same task, and a flow (a generator) can hold it open across the `yield` its driver
    answers with a call. Other chat models ignore it (their calls count as one attempt).

    Args:
        max_attempts: At most this many requests per call, the first one included.
        max_reply_tokens: The most `max_tokens` any of them may send (None: as asked).
    """
    ledger, previous = AttemptLedger(max_attempts, max_reply_tokens), _LEDGER.get()
    _LEDGER.set(ledger)
    try:
        yield ledger
    finally:
        # `set`, not `reset(token)`: a flow closed by the garbage collector runs this in
        # whatever context is current then, where the token would be refused.
        _LEDGER.set(previous)


class OpenAIChatModel(OpenAICompatibleClient):
    """A `ChatModelProtocol` over an OpenAI-compatible chat-completions endpoint.

    Transient failures (HTTP 429/500/502/503/504, timeouts, dropped connections) are retried
    with exponential backoff and jitter, honouring `Retry-After`. The API key is sent as a
    bearer token and never appears in a repr, a log line or an error.

    Args:
        model: The model name the endpoint knows, e.g. `gpt-4o-mini` or `llama3.2`.
        base_url: The API root, up to and including `/v1`.
        api_key: Bearer token; None sends no `Authorization` header (local servers).
        timeout: Seconds allowed for each attempt of a request, from connecting to the last
            byte of the answer.
        max_retries: Retries after the first attempt.
        backoff: Base backoff delay in seconds (0 retries at once; useful in tests).
        reply_tokens: The least `max_tokens` sent with a request that sets one, as far as
            the caller's budget allows (None: as asked): room for a reasoning model's
            thoughts, which count against it. Within an `AttemptLedger` (a caller paying
            for what is sent), never past its `max_reply_tokens`; as asked if it sets none.
        transport: An httpx transport to send through instead of the network.

    Raises:
        ConfigError: `base_url` is not an http(s) URL.
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str = "https://api.openai.com/v1",
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        reply_tokens: int | None = None,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            model,
            base_url=base_url,
            api_key=api_key,
            timeout=timeout,
            policy=RetryPolicy(max_retries=max_retries, backoff=backoff),
            transport=transport,
        )
        if reply_tokens is not None and reply_tokens < 1:
            raise ConfigError(f"reply_tokens must be positive, got {reply_tokens!r}")
        self.reply_tokens = reply_tokens
        self._refused_formats: set[str] = set()
        """The `response_format` types the endpoint refused (`_DEGRADED`'s keys)."""

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
            temperature: Sampling temperature.
            response_format: Passed through, e.g. `{"type": "json_object"}`; a `json_schema`
                or `json_object` the endpoint refuses is degraded (see the module's notes).

        Returns:
            The first choice's text (a tool call's arguments if it has none), with the model
            name, token usage and finish reason.

        Raises:
            ProviderError: The endpoint rejected the request (bad key, unknown model, ...) or
                answered something that is not a chat completion.
            ProviderUnavailable: The endpoint cannot be reached or kept failing.
        """
        while True:
            sent = self._format(response_format)
            payload = self._payload(messages, max_tokens, temperature, sent)
            try:
                return self._parse(self._post(_PATH, payload))
            except Rejected as error:
                if not self._degrade(sent, error):
                    raise

    async def acomplete(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        max_tokens: int | None = None,
        temperature: float = 0.0,
        response_format: Mapping[str, Any] | None = None,
    ) -> Completion:
        """Async twin of `complete`."""
        while True:
            sent = self._format(response_format)
            payload = self._payload(messages, max_tokens, temperature, sent)
            try:
                return self._parse(await self._apost(_PATH, payload))
            except Rejected as error:
                if not self._degrade(sent, error):
                    raise

    def _format(self, requested: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        """What to send for `requested`: degraded past the types the endpoint refused."""
        sent = requested
        while sent is not None and sent.get("type") in self._refused_formats:
            degraded = _DEGRADED[sent["type"]]
            sent = None if degraded is None else {"type": degraded}
        return sent

    def _degrade(self, sent: Mapping[str, Any] | None, error: Rejected) -> bool:
        """Whether to send again in a lesser format: `error` refused the `response_format`
        `sent` (remembered) and the attempt ledger, if any, allows another request."""
        kind = None if sent is None else sent.get("type")
        if kind not in _DEGRADED or not _refuses_format(error.status, error.detail):
            return False
        self._refused_formats.add(kind)
        instead = _DEGRADED[kind] or "no response_format"
        logger.warning(
            "%s refuses response_format %s (HTTP %d); sending %s from now on",
            self.base_url,
            kind,
            error.status,
            instead,
        )
        ledger = _LEDGER.get()
        return ledger is None or not ledger.exhausted

    def _exchange(self, path: str) -> Exchange:
        exchange = super()._exchange(path)
        exchange.refuses = _refuses_format
        ledger = _LEDGER.get()
        if ledger is not None:
            ledger.track(exchange)
        return exchange

    def _payload(
        self,
        messages: Sequence[Mapping[str, Any]],
        max_tokens: int | None,
        temperature: float,
        response_format: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(message) for message in messages],
            "temperature": temperature,
            "stream": False,
        }
        if max_tokens is not None:
            payload["max_tokens"] = self._reply_room(max_tokens)
        if response_format is not None:
            payload["response_format"] = dict(response_format)
        return payload

    def _reply_room(self, asked: int) -> int:
        """The `max_tokens` to send for `asked`: raised to `reply_tokens`, but not past the
        room the active `AttemptLedger` leaves (none if it sets no room); never below."""
        room = self.reply_tokens or 0
        ledger = _LEDGER.get()
        if ledger is not None:
            room = min(room, ledger.max_reply_tokens or 0)
        return max(asked, room)

    def _parse(self, body: Mapping[str, Any]) -> Completion:
        where = f"{self.base_url}{_PATH}"
        try:
            choice = body["choices"][0]
            message = choice["message"]
            content = message.get("content")
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ProviderError(
                f"{where} answered JSON that is not a chat completion (no choices[0].message)"
            ) from exc
        text, refusal = _content_text(content), message.get("refusal")
        if isinstance(content, list):
            refusal = refusal or _part_text(content, ("refusal",), "refusal")
        if text is None:
            raise ProviderError(
                f"{where} answered a message whose content is a {type(content).__name__}, not text"
            )
        if not text.strip():  # no tools are sent: a call's arguments are the answer
            text = _call_arguments(message) or text
        if isinstance(refusal, str) and refusal.strip():
            quoted = self._redact(refusal.strip())[:_QUOTED]  # redacted before it is cut
            raise ProviderError(f"the model refused: {quoted!r}")
        usage = body.get("usage")
        usage = usage if isinstance(usage, Mapping) else {}
        reason = choice.get("finish_reason")
        return Completion(
            text=text,
            model=str(body.get("model") or self.model),
            prompt_tokens=_optional_int(usage.get("prompt_tokens")),
            completion_tokens=_optional_int(usage.get("completion_tokens")),
            finish_reason=None if reason is None else str(reason),
        )


def _content_text(content: Any) -> str | None:
    """A message's text: the string, or the text parts of a list joined (None: neither)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return _part_text(content, _TEXT_PARTS, "text")
    return None


def _part_text(parts: list[Any], kinds: Sequence[str], key: str) -> str:
    """The `key` texts of the content parts of a type in `kinds` (bare strings too), joined."""
    texts: list[str] = []
    for part in parts:
        if isinstance(part, str) and key == "text":
            texts.append(part)
        elif isinstance(part, Mapping) and part.get("type", "text") in kinds:
            value = part.get(key)
            if isinstance(value, str):
                texts.append(value)
    return "".join(texts)


def _call_arguments(message: Mapping[str, Any]) -> str:
    """The `arguments` of the message's first tool call (or legacy `function_call`), as JSON
    text; empty if it has none."""
    calls = message.get("tool_calls")
    calls = calls if isinstance(calls, list) else []
    for call in [*calls, {"function": message.get("function_call")}]:
        function = call.get("function") if isinstance(call, Mapping) else None
        arguments = function.get("arguments") if isinstance(function, Mapping) else None
        if isinstance(arguments, str) and arguments.strip():
            return arguments
        if isinstance(arguments, Mapping | list):  # sent as JSON, not as its text
            return json.dumps(arguments, ensure_ascii=False)
    return ""


def _refuses_format(status: int, message: str) -> bool:
    """Whether an error answer (status and server message) refuses the `response_format`."""
    return status in _FORMAT_STATUSES and _FORMAT_REFUSED.search(message) is not None


def _optional_int(value: Any) -> int | None:
    """A token count as reported; a negative one is no count (a budget would grow by it)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
