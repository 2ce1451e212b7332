"""The HTTP edge shared by every OpenAI-compatible provider (chat, embeddings).

The retry and error-mapping logic is written once, as the pure `Exchange` state machine: it looks
at the outcome of one attempt (an `httpx.Response` or an `httpx.RequestError`) and says what to do
next, `Done(body)` or `Retry(delay)`, or raises the Engram error. `OpenAICompatibleClient` keeps
only the I/O: it sends, feeds the outcome to the exchange, and sleeps (`time.sleep` on the sync
side, `asyncio.sleep` on the async side), in the spirit of httpx's shared `auth_flow`.

httpx's timeouts bound each connect, read and write, so a server that trickles its answer a
byte at a time would hold a request forever; `timeout` bounds each whole attempt instead. The
async side cancels the attempt when it runs out (`asyncio.timeout`); the sync side streams the
body and gives up at the first chunk past the deadline (at most one read timeout late). An
attempt that runs out is a timeout like httpx's own: retried, then `ProviderUnavailable`. A
server's `Retry-After` is waited at most `timeout` per retry (as long as an attempt may take):
with retries answered by it, a call takes at most `(2 * max_retries + 1) * timeout`, whatever
the server asks.

A 401 or 403 (the key) or a 404 (the model, or a base_url without `/v1`) is a
`ProviderConfigError`, both a `ProviderError` and a `ConfigError`: the callers that fall back
when a call fails raise it instead, since no later call could succeed.

The API key never appears in a repr, a log line or an error message: server messages are
redacted before they are quoted. Neither does a secret in the base_url: its user and password
go as Basic auth (the password and the header's token are redacted as the key is), and its
query string (Azure's `?api-key=...`) is masked in the line httpx logs for each request
(`_QueryMask`) and in the server messages quoted.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import unquote_plus

import httpx

from engram._exceptions import ConfigError, ProviderError, ProviderUnavailable

__all__ = [
    "Done",
    "Exchange",
    "OpenAICompatibleClient",
    "ProviderConfigError",
    "Rejected",
    "Retry",
    "RetryPolicy",
]

logger = logging.getLogger("engram.providers")

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
"""Statuses worth another attempt: rate limits and transient server failures."""
CONFIG_STATUSES = frozenset({401, 403, 404})
"""Statuses that refuse the settings, not one request: the key (401, 403), the model or the
base_url (404, e.g. one without `/v1`). Every later request would fail alike."""

_RETRYABLE_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
_MAX_QUOTED = 300  # characters of a server's error message quoted in our errors
_SHORTEST_SECRET = 4
"""A query value shorter than this is redacted from no message (a "1" would garble numbers)."""

Outcome = httpx.Response | httpx.RequestError
"""What one attempt produced: a response, or the transport error that prevented one."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry a failed request."""

    max_retries: int = 3
    """Retries after the first attempt (so at most `max_retries + 1` requests)."""
    backoff: float = 0.5
    """Base delay in seconds; retry n waits about `backoff * 2**n` (with jitter)."""
    max_backoff: float = 30.0
    """Upper bound on one computed backoff delay."""
    max_retry_after: float = 60.0
    """Upper bound on a server-requested `Retry-After` delay (`OpenAICompatibleClient` lowers
    it to its `timeout`)."""

    def __post_init__(self) -> None:
        if self.max_retries < 0 or min(self.backoff, self.max_backoff, self.max_retry_after) < 0:
            raise ConfigError(f"retry settings must not be negative: {self!r}")

    def delay(self, retry: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number `retry` (0-based).

        A server's `Retry-After` wins (capped at `max_retry_after`); otherwise exponential
        backoff with jitter in [50%, 100%] so clients that failed together don't retry together.
        """
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        base = min(self.backoff * 2.0**retry, self.max_backoff)
        return base * random.uniform(0.5, 1.0)


class Rejected(ProviderError):
    """The endpoint refused the request (HTTP 4xx other than a rate limit, or a failure
    `Exchange.refuses`): sending it again as it is would not help, a client may change it
    (say, drop a `response_format`)."""

    def __init__(self, text: str, *, status: int, detail: str) -> None:
        super().__init__(text)
        self.status = status
        """The HTTP status."""
        self.detail = detail
        """The server's message, redacted."""


class ProviderConfigError(Rejected, ConfigError):
    """The endpoint refused the settings (`CONFIG_STATUSES`): a bad API key, an unknown model,
    a base_url that is not the API root. Both a `ProviderError` and a `ConfigError`: callers
    that fall back when a call fails (LLM extraction, revision, summaries) raise it instead,
    since no later call could succeed."""


class _QueryMask(logging.Filter):
    """Masks the query strings of Engram's base URLs in the records of httpx's logger.

    httpx logs each request at INFO ("HTTP Request: POST <url> ..."), query and all, and a
    query may hold a key. Only the queries registered by Engram's clients are masked (as
    `?***`); other records pass unchanged.
    """

    def __init__(self) -> None:
        super().__init__()
        self.queries: frozenset[str] = frozenset()  # replaced, never changed: read lock-free

    def register(self, query: str) -> None:
        """Mask `query` (with its `?`) from now on."""
        self.queries = self.queries | {query}
        target = logging.getLogger("httpx")
        if self not in target.filters:
            target.addFilter(self)

    def filter(self, record: logging.LogRecord) -> bool:
        queries = self.queries
        if queries:
            message = masked = record.getMessage()
            for query in queries:
                masked = masked.replace(query, "?***")
            if masked != message:
                record.msg, record.args = masked, None
        return True


_QUERY_MASK = _QueryMask()


@dataclass(frozen=True, slots=True)
class Done:
    """The request succeeded; `body` is the decoded JSON object."""

    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Retry:
    """The attempt failed transiently; wait `delay` seconds and send again."""

    delay: float


class Exchange:
    """Pure retry/error logic for one logical request (no I/O, no sleeping).

    Example:
        ```python
        exchange = Exchange(url, model="gpt-4o-mini", policy=RetryPolicy())
        while True:
            step = exchange.next_step(send())  # raises ProviderError / ProviderUnavailable
            if isinstance(step, Done):
                return step.body
            time.sleep(step.delay)
        ```
    """

    def __init__(
        self,
        url: str,
        *,
        model: str,
        policy: RetryPolicy,
        secrets: Sequence[str | None] = (),
        refuses: Callable[[int, str], bool] | None = None,
    ) -> None:
        self.url = url
        self.where = url.split("?", 1)[0]
        """The URL as errors and logs name it: without its query, which may hold a key.
        (`OpenAICompatibleClient` sends a user and password of its base_url as Basic auth,
        never in the URL.)"""
        self.model = model
        self.policy = policy
        self.refuses = refuses
        """Whether an HTTP status and server message refuse the request itself, though the
        status says a failure worth retrying (llama.cpp answers HTTP 500 to a
        `response_format` it does not know): a `Rejected`, not retried."""
        self._secrets = _quotable_secrets(url, secrets)
        self.retries = 0

    def next_step(self, outcome: Outcome) -> Done | Retry:
        """Decide what follows `outcome`.

        Raises:
            ProviderError: The endpoint rejected the request or answered something unreadable.
            ProviderUnavailable: Transient failures outlasted the retries.
        """
        if isinstance(outcome, httpx.RequestError):
            return self._after_transport_error(outcome)
        if outcome.is_success:
            return Done(self._decode(outcome))
        status, message = outcome.status_code, self._message(outcome)
        refused = self.refuses is not None and self.refuses(status, message)
        if status in RETRYABLE_STATUSES and not refused:
            return self._retry_or_give_up(f"HTTP {status}: {message}", _retry_after(outcome))
        refusal = ProviderConfigError if status in CONFIG_STATUSES else Rejected
        raise refusal(self._rejection(outcome), status=status, detail=message)

    def _after_transport_error(self, error: httpx.RequestError) -> Retry:
        reason = f"{type(error).__name__}: {self._redact(str(error)) or 'no details'}"
        if not isinstance(error, _RETRYABLE_ERRORS):
            raise ProviderError(f"POST {self.where} failed ({reason})") from error
        return self._retry_or_give_up(reason, None, cause=error)

    def _retry_or_give_up(
        self, reason: str, retry_after: float | None, *, cause: Exception | None = None
    ) -> Retry:
        if self.retries >= self.policy.max_retries:
            raise ProviderUnavailable(
                f"POST {self.where} failed after {self.retries + 1} attempt(s); last: {reason}"
            ) from cause
        delay = self.policy.delay(self.retries, retry_after)
        self.retries += 1
        logger.info(
            "POST %s failed (%s); retry %d/%d in %.2fs",
            self.where,
            reason,
            self.retries,
            self.policy.max_retries,
            delay,
        )
        return Retry(delay)

    def _decode(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except (ValueError, RecursionError) as exc:  # not JSON, or nested past any answer
            raise ProviderError(
                f"POST {self.where} returned HTTP {response.status_code} with a body that is not "
                f"JSON: {self._redact(response.text)[:_MAX_QUOTED]!r}"
            ) from exc
        if not isinstance(body, dict):
            raise ProviderError(f"POST {self.where} returned JSON that is not an object")
        if body.get("error"):  # some servers report errors with a 200
            raise ProviderError(f"POST {self.where} returned an error: {self._message(response)}")
        return body

    def _rejection(self, response: httpx.Response) -> str:
        status, message = response.status_code, self._message(response)
        if status in (401, 403):
            return f"{self.where} rejected the API key (HTTP {status}): {message}"
        if status == 404:
            return (
                f"{self.where} answered HTTP 404: the model {self.model!r} or the endpoint does "
                f"not exist there (check the model name and base_url): {message}"
            )
        return f"{self.where} rejected the request (HTTP {status}): {message}"

    def _message(self, response: httpx.Response) -> str:
        return self._redact(_server_message(response))[:_MAX_QUOTED]

    def _redact(self, text: str) -> str:
        """`text` without the key or the query's values; redact before cutting, or a cut
        secret's start would stay."""
        return _redacted(text, self._secrets)


def _quotable_secrets(url: str, secrets: Sequence[str | None]) -> list[str]:
    """The `secrets` (the key, the base_url's password sent as Basic auth) and the values of
    `url`'s query, which a server may quote, longest first (one may hold another)."""
    raw = [pair.partition("=")[2] for pair in url.partition("?")[2].split("&")]
    quoted = {*(secret or "" for secret in secrets), *raw, *map(unquote_plus, raw)}
    long_enough = (text for text in quoted if len(text) >= _SHORTEST_SECRET)
    return sorted(long_enough, key=len, reverse=True)


def _redacted(text: str, secrets: Sequence[str]) -> str:
    """`text` with each of `secrets` (longest first) masked."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _server_message(response: httpx.Response) -> str:
    """The error message of an OpenAI/Ollama/vLLM-style error body, else the raw text."""
    try:
        body = response.json()
    except (ValueError, RecursionError):
        return response.text.strip() or response.reason_phrase
    if isinstance(body, dict):
        for key in ("error", "detail", "message"):
            value = body.get(key)
            if isinstance(value, dict) and "message" in value:
                value = value["message"]
            if value:
                return str(value)
    return str(body)


def _complete(response: httpx.Response, raw: bytes) -> httpx.Response:
    """`response` with its body, read as raw (still encoded) chunks, in place."""
    return httpx.Response(
        response.status_code,
        headers=response.headers,
        content=raw,
        request=response.request,
        extensions=response.extensions,
    )


def _retry_after(response: httpx.Response) -> float | None:
    """The server-requested delay in seconds (`retry-after-ms` or `Retry-After`), if any."""
    for header, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = response.headers.get(header)
        try:
            seconds = float(raw) * scale if raw is not None else math.nan
        except ValueError:  # an HTTP date: fall back to our own backoff
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    return None


_HOST = re.compile(r"[A-Za-z0-9._~-]+|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*")
"""A host name (or IPv4 address), or an IPv6 address as httpx gives it (no brackets)."""


def _basic_credentials(username: str, password: str) -> str:
    """The token of the `Authorization: Basic` header httpx sends for these credentials."""
    return base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


class OpenAICompatibleClient:
    """Base of the OpenAI-compatible providers: owns the HTTP clients and the retry loop.

    The `httpx.Client`/`httpx.AsyncClient` are created on first use and closed by
    `close()`/`aclose()` or by using the object as a (async) context manager. The async client
    belongs to the event loop that first used it: `aclose()` it before that loop ends (a new
    loop gets a new client).
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        api_key: str | None,
        timeout: float,
        policy: RetryPolicy,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            # Not echoed: a query string (or a key pasted in the wrong place) is a secret.
            raise ConfigError(
                "base_url must start with http:// or https:// (e.g. http://localhost:11434/v1)"
            )
        try:
            url = httpx.URL(base_url)
        except (httpx.InvalidURL, UnicodeError):
            url = None
        if url is None or not _HOST.fullmatch(url.host) or not 0 < (url.port or 80) < 65536:
            # Refused now, not at the first request (whose add it would fail); not echoed.
            raise ConfigError("base_url is not a valid URL (bad host, port or character)")
        if not 0 < timeout < math.inf:  # (NaN too) infinite: no socket or timer takes it
            raise ConfigError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.model = model
        # A user and password in the URL go as Basic auth, out of every URL Engram or httpx
        # shows (httpx logs each request's URL at INFO).
        self._auth = httpx.BasicAuth(url.username, url.password) if url.userinfo else None
        # Redacted from errors and logs, as the key: the password, and the Basic credentials
        # as sent (a server may echo its Authorization header).
        self._password = url.password or None
        self._basic = _basic_credentials(url.username, url.password) if url.userinfo else None
        base_url = str(url.copy_with(userinfo=b"")) if url.userinfo else base_url
        root, _, query = base_url.partition("?")
        self.base_url = root.rstrip("/")
        self._query = f"?{query}" if query else ""  # e.g. Azure's ?api-version=..., kept last
        if query:
            _QUERY_MASK.register(f"?{httpx.URL(base_url).query.decode('ascii')}")
        self.timeout = timeout
        self.policy = policy
        self._api_key = api_key
        self._transport = transport
        self._client: httpx.Client | None = None
        self._async_client: httpx.AsyncClient | None = None
        self._async_loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, base_url={self.base_url!r})"

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "engram"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _exchange(self, path: str) -> Exchange:
        url = f"{self.base_url}{path}{self._query}"
        # A server's Retry-After is waited at most `timeout` per retry: a call is bounded by
        # (2 * max_retries + 1) * timeout, whatever the server asks.
        cap = min(self.policy.max_retry_after, self.timeout)
        policy = dataclasses.replace(self.policy, max_retry_after=cap)
        return Exchange(url, model=self.model, policy=policy, secrets=self._secrets())

    def _secrets(self) -> tuple[str | None, ...]:
        """What is redacted from errors and logs, besides the query's values."""
        return (self._api_key, self._password, self._basic)

    def _redact(self, text: str) -> str:
        """`text` as an error or log line may quote it: as `Exchange` redacts a server's
        message (for what a 200 answer says, e.g. a refusal)."""
        secrets = _quotable_secrets(f"{self.base_url}{self._query}", self._secrets())
        return _redacted(text, secrets)

    def _sync_client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                transport = self._transport
                if transport is not None and not isinstance(transport, httpx.BaseTransport):
                    raise ConfigError(f"{self!r}: the transport is async-only; use the a* methods")
                self._client = httpx.Client(
                    headers=self._headers(),
                    auth=self._auth,
                    timeout=self.timeout,
                    transport=transport,
                )
            return self._client

    def _async_http_client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._async_loop is not loop:
            # Pooled connections belong to the loop that opened them; a client used on a new
            # loop (say, a second asyncio.run) would fail with "Event loop is closed".
            self._async_client, self._async_loop = None, loop
        if self._async_client is None:
            transport = self._transport
            if transport is not None and not isinstance(transport, httpx.AsyncBaseTransport):
                raise ConfigError(f"{self!r}: the transport is sync-only; use the sync methods")
            self._async_client = httpx.AsyncClient(
                headers=self._headers(), auth=self._auth, timeout=self.timeout, transport=transport
            )
        return self._async_client

    def _post(self, path: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """POST `payload` as JSON to `path` with retries; return the decoded JSON object."""
        client, exchange = self._sync_client(), self._exchange(path)
        while True:
            step = exchange.next_step(self._attempt(client, exchange.url, payload))
            if isinstance(step, Done):
                return step.body
            time.sleep(step.delay)

    async def _apost(self, path: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Async twin of `_post`."""
        client, exchange = self._async_http_client(), self._exchange(path)
        while True:
            step = exchange.next_step(await self._aattempt(client, exchange.url, payload))
            if isinstance(step, Done):
                return step.body
            await asyncio.sleep(step.delay)

    def _attempt(self, client: httpx.Client, url: str, payload: Mapping[str, Any]) -> Outcome:
        """One POST, its body read a chunk at a time until `timeout` has passed."""
        deadline = time.monotonic() + self.timeout
        request = client.build_request("POST", url, json=payload)
        try:
            response = client.send(request, stream=True)
            try:
                chunks = []
                for chunk in response.iter_raw():
                    chunks.append(chunk)
                    if time.monotonic() > deadline:
                        return self._overrun(request)
            finally:
                response.close()
            return _complete(response, b"".join(chunks))  # decodes: may fail as the async side
        except httpx.RequestError as exc:
            return exc

    async def _aattempt(
        self, client: httpx.AsyncClient, url: str, payload: Mapping[str, Any]
    ) -> Outcome:
        """Async twin of `_attempt`: the attempt is cancelled when `timeout` has passed."""
        request = client.build_request("POST", url, json=payload)
        try:
            async with asyncio.timeout(self.timeout):
                return await client.send(request)
        except httpx.RequestError as exc:
            return exc
        except TimeoutError:
            return self._overrun(request)

    def _overrun(self, request: httpx.Request) -> httpx.TimeoutException:
        return httpx.TimeoutException(
            f"no whole response within the timeout of {self.timeout:g} s", request=request
        )

    def close(self) -> None:
        """Close the sync HTTP client (the async one needs `aclose()`)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Close both HTTP clients."""
        self.close()
        client, loop = self._async_client, self._async_loop
        self._async_client, self._async_loop = None, None
        if client is not None and loop is asyncio.get_running_loop():
            await client.aclose()  # (one opened on an ended loop cannot be closed any more)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
