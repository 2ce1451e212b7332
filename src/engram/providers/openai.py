"""`OpenAIChatModel`: chat completions from any OpenAI-compatible endpoint.

It speaks `POST {base_url}/chat/completions`, which OpenAI, Ollama (`http://localhost:11434/v1`),
vLLM and the llama.cpp server all understand.

Example:
    ```python
    with OpenAIChatModel("llama3.2", base_url="http://localhost:11434/v1") as model:
        reply = model.complete([{"role": "user", "content": "Say hi"}], max_tokens=20)
        print(reply.text)
    ```
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from engram._exceptions import ProviderError
from engram.providers._base import Completion
from engram.providers._http import OpenAICompatibleClient, RetryPolicy

__all__ = ["OpenAIChatModel"]

_PATH = "/chat/completions"


class OpenAIChatModel(OpenAICompatibleClient):
    """A `ChatModelProtocol` over an OpenAI-compatible chat-completions endpoint.

    Transient failures (HTTP 429/500/502/503/504, timeouts, dropped connections) are retried
    with exponential backoff and jitter, honouring `Retry-After`. The API key is sent as a
    bearer token and never appears in a repr, a log line or an error.

    Args:
        model: The model name the endpoint knows, e.g. `gpt-4o-mini` or `llama3.2`.
        base_url: The API root, up to and including `/v1`.
        api_key: Bearer token; None sends no `Authorization` header (local servers).
        timeout: Seconds allowed for connecting, and for each read and write.
        max_retries: Retries after the first attempt.
        backoff: Base backoff delay in seconds (0 retries at once; useful in tests).
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
            response_format: Passed through, e.g. `{"type": "json_object"}`.

        Returns:
            The first choice's text, with the model name, token usage and finish reason.

        Raises:
            ProviderError: The endpoint rejected the request (bad key, unknown model, ...) or
                answered something that is not a chat completion.
            ProviderUnavailable: The endpoint cannot be reached or kept failing.
        """
        payload = self._payload(messages, max_tokens, temperature, response_format)
        return self._parse(self._post(_PATH, payload))

    async def acomplete(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        max_tokens: int | None = None,
        temperature: float = 0.0,
        response_format: Mapping[str, Any] | None = None,
    ) -> Completion:
        """Async twin of `complete`."""
        payload = self._payload(messages, max_tokens, temperature, response_format)
        return self._parse(await self._apost(_PATH, payload))

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
            payload["max_tokens"] = max_tokens
        if response_format is not None:
            payload["response_format"] = dict(response_format)
        return payload

    def _parse(self, body: Mapping[str, Any]) -> Completion:
        try:
            choice = body["choices"][0]
            text = choice["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ProviderError(
                f"{self.base_url}{_PATH} answered JSON that is not a chat completion "
                f"(no choices[0].message)"
            ) from exc
        usage = body.get("usage")
        usage = usage if isinstance(usage, Mapping) else {}
        reason = choice.get("finish_reason")
        return Completion(
            text=str(text),
            model=str(body.get("model") or self.model),
            prompt_tokens=_optional_int(usage.get("prompt_tokens")),
            completion_tokens=_optional_int(usage.get("completion_tokens")),
            finish_reason=None if reason is None else str(reason),
        )


def _optional_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
