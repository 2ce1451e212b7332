"""OpenAIChatModel against a real local HTTP server speaking the OpenAI wire format."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import warnings

import httpx
import pytest

from engram._exceptions import ConfigError, ProviderError, ProviderUnavailable
from engram.providers import Completion, OpenAIChatModel
from engram.providers._http import Done, Exchange, Retry, RetryPolicy
from engram.providers.openai import storable_text, track_attempts
from openai_server import (
    FakeOpenAIServer,
    ScriptedResponse,
    chat_completion_body,
    error_body,
    unreachable_url,
)

pytest_plugins = ["openai_server"]

KEY = "sk-test-0123456789abcdef"
MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Where is the meeting?"},
]


def make_model(server: FakeOpenAIServer, **options: object) -> OpenAIChatModel:
    settings: dict[str, object] = {"api_key": KEY, "backoff": 0.0, "timeout": 5.0}
    settings.update(options)
    return OpenAIChatModel("gpt-test", base_url=server.url, **settings)  # type: ignore[arg-type]


def test_complete_sends_payload_and_parses_reply(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(json=chat_completion_body("In Berlin.", model="gpt-test-2024"))

    with make_model(openai_server) as model:
        reply = model.complete(MESSAGES, max_tokens=50, response_format={"type": "json_object"})

    assert reply == Completion(
        text="In Berlin.",
        model="gpt-test-2024",
        prompt_tokens=11,
        completion_tokens=7,
        finish_reason="stop",
    )
    (request,) = openai_server.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {
        "model": "gpt-test",
        "messages": MESSAGES,
        "temperature": 0.0,
        "stream": False,
        "max_tokens": 50,
        "response_format": {"type": "json_object"},
    }


async def test_acomplete_sends_payload_and_parses_reply(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(json=chat_completion_body("In Berlin."))

    async with make_model(openai_server) as model:
        reply = await model.acomplete(MESSAGES, temperature=0.7)

    assert reply.text == "In Berlin."
    (request,) = openai_server.requests
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.json() == {
        "model": "gpt-test",
        "messages": MESSAGES,
        "temperature": 0.7,
        "stream": False,
    }


def test_no_api_key_sends_no_authorization(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(json=chat_completion_body("hi"))
    with make_model(openai_server, api_key=None) as model:
        model.complete(MESSAGES)
    assert "authorization" not in openai_server.requests[0].headers


def test_reply_without_usage_or_content(openai_server: FakeOpenAIServer) -> None:
    body = chat_completion_body("", finish_reason="tool_calls")
    body["choices"][0]["message"]["content"] = None
    del body["usage"], body["model"]
    openai_server.enqueue(json=body)
    with make_model(openai_server) as model:
        reply = model.complete(MESSAGES)
    assert reply == Completion("", "gpt-test", None, None, "tool_calls")


def completion_with(message: dict[str, object]) -> dict[str, object]:
    body = chat_completion_body("")
    body["choices"][0]["message"] = {"role": "assistant", **message}
    return body


def test_content_parts_are_joined_into_the_text(openai_server: FakeOpenAIServer) -> None:
    parts = [
        {"type": "text", "text": "Ana booked "},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
        "flights ",
        {"type": "output_text", "text": "to Lisbon."},
        {"type": "text", "text": None},
    ]
    openai_server.enqueue(json=completion_with({"content": parts}))
    with make_model(openai_server) as model:
        assert model.complete(MESSAGES).text == "Ana booked flights to Lisbon."


@pytest.mark.parametrize(
    "message",
    [
        {"content": None, "refusal": "I'm sorry, I cannot help with that."},
        {"content": [{"type": "refusal", "refusal": "I'm sorry, I cannot help with that."}]},
    ],
    ids=["refusal-field", "refusal-part"],
)
async def test_a_refusal_is_a_provider_error_not_a_reply(
    openai_server: FakeOpenAIServer, message: dict[str, object]
) -> None:
    openai_server.handler = lambda request: ScriptedResponse(200, completion_with(message))
    async with make_model(openai_server) as model:
        with pytest.raises(ProviderError, match="refused: .I'm sorry") as error:
            model.complete(MESSAGES)
        with pytest.raises(ProviderError, match="refused"):
            await model.acomplete(MESSAGES)
    assert not isinstance(error.value, ProviderUnavailable)
    assert len(openai_server.requests) == 2  # not retried


async def test_a_refusal_quoting_the_key_is_redacted(
    openai_server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    message = {"content": None, "refusal": f"I won't say that {KEY} is your key."}
    openai_server.handler = lambda request: ScriptedResponse(200, completion_with(message))
    async with make_model(openai_server) as model:
        with pytest.raises(ProviderError, match="refused") as error:
            model.complete(MESSAGES)
        with pytest.raises(ProviderError, match="refused") as async_error:
            await model.acomplete(MESSAGES)
    for raised in (error.value, async_error.value):
        assert KEY not in str(raised) and "is your key" in str(raised)


def test_content_that_is_no_text_is_a_provider_error(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(json=completion_with({"content": {"text": "hi"}}))
    with make_model(openai_server) as model, pytest.raises(ProviderError, match="dict, not text"):
        model.complete(MESSAGES)


def test_storable_text_removes_what_no_store_takes() -> None:
    text = "A\x00n\x07a\x1b[0m\tis\r\n\x0bhere\x1f\x85now \ud800😀\x9f."
    assert storable_text(text) == "Ana[0m\tis\r\n\x0bhere  now 😀."


@pytest.mark.parametrize("sync", [True, False])
async def test_an_attempt_ledger_counts_retries_and_bounds_them(
    openai_server: FakeOpenAIServer, sync: bool
) -> None:
    openai_server.handler = lambda request: ScriptedResponse(500, error_body("boom"))
    async with make_model(openai_server, max_retries=5) as model:
        with track_attempts(3) as ledger, pytest.raises(ProviderUnavailable, match="after 3"):
            if sync:
                model.complete(MESSAGES)
            else:
                await model.acomplete(MESSAGES)
        assert ledger.attempts == len(openai_server.requests) == 3
        openai_server.handler = None
        openai_server.enqueue(503, error_body("overloaded"))
        openai_server.enqueue(json=chat_completion_body("ok"))
        with track_attempts() as ledger:
            assert model.complete(MESSAGES).text == "ok"
        assert ledger.attempts == 2
        assert model.policy.max_retries == 5  # the ledger bounded its calls, not the model


@pytest.mark.parametrize(
    ("room", "sent"),
    [(None, 1024), (3000, 3000), (9000, 4096), (500, 1024)],
    ids=["no room given", "room below reply_tokens", "room above it", "room below the ask"],
)
def test_reply_tokens_raises_max_tokens_only_within_the_ledgers_room(
    openai_server: FakeOpenAIServer, room: int | None, sent: int
) -> None:
    openai_server.handler = lambda request: ScriptedResponse(200, chat_completion_body("ok"))
    with make_model(openai_server, reply_tokens=4096) as model:
        with track_attempts(1, max_reply_tokens=room):
            model.complete(MESSAGES, max_tokens=1024)
        model.complete(MESSAGES, max_tokens=1024)  # no caller's budget: raised in full
        model.complete(MESSAGES)  # no max_tokens: none is sent
    first, second, third = (request.json() for request in openai_server.requests)
    assert (first["max_tokens"], second["max_tokens"]) == (sent, 4096)
    assert "max_tokens" not in third


def test_429_is_retried_after_retry_after(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(429, error_body("Rate limit reached"), headers={"Retry-After": "0.05"})
    openai_server.enqueue(json=chat_completion_body("ok"))

    with make_model(openai_server) as model:
        assert model.complete(MESSAGES).text == "ok"

    first, second = openai_server.requests
    # backoff=0 would retry at once; the gap is the server-requested wait.
    assert second.received_at - first.received_at >= 0.04
    assert first.json() == second.json()


async def test_async_503_then_success(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(503, error_body("overloaded"), headers={"Retry-After": "0.01"})
    openai_server.enqueue(json=chat_completion_body("ok"))
    async with make_model(openai_server) as model:
        assert (await model.acomplete(MESSAGES)).text == "ok"
    assert len(openai_server.requests) == 2


@pytest.mark.parametrize("status", [500, 502, 504])
def test_persistent_5xx_is_unavailable(openai_server: FakeOpenAIServer, status: int) -> None:
    openai_server.handler = lambda request: ScriptedResponse(status, error_body("boom"))

    with (
        make_model(openai_server, max_retries=2) as model,
        pytest.raises(ProviderUnavailable, match=f"after 3 attempt.*HTTP {status}: boom"),
    ):
        model.complete(MESSAGES)

    assert len(openai_server.requests) == 3


async def test_async_persistent_500_is_unavailable(openai_server: FakeOpenAIServer) -> None:
    openai_server.handler = lambda request: ScriptedResponse(500, error_body("boom"))
    async with make_model(openai_server, max_retries=1) as model:
        with pytest.raises(ProviderUnavailable):
            await model.acomplete(MESSAGES)
    assert len(openai_server.requests) == 2


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_key_is_not_retried_nor_revealed(
    openai_server: FakeOpenAIServer, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    # OpenAI quotes the key back in its message; we must not pass it on.
    openai_server.enqueue(status, error_body(f"Incorrect API key provided: {KEY}."))

    with caplog.at_level(logging.DEBUG), make_model(openai_server) as model:
        with pytest.raises(ProviderError, match="rejected the API key") as caught:
            model.complete(MESSAGES)

    assert not isinstance(caught.value, ProviderUnavailable)
    assert KEY not in str(caught.value)
    assert "Incorrect API key provided: ***" in str(caught.value)
    assert KEY not in repr(model) and KEY not in caplog.text
    assert len(openai_server.requests) == 1


def test_404_names_model_and_url(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(404, {"error": 'model "gpt-test" not found, try pulling it first'})
    with make_model(openai_server) as model, pytest.raises(ProviderError) as caught:
        model.complete(MESSAGES)
    message = str(caught.value)
    assert "'gpt-test'" in message
    assert f"{openai_server.url}/chat/completions" in message
    assert "try pulling it first" in message


def test_other_4xx_quotes_server_message(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(400, error_body("'messages' must contain the word 'json'"))
    with (
        make_model(openai_server) as model,
        pytest.raises(ProviderError, match=r"HTTP 400.*must contain the word 'json'"),
    ):
        model.complete(MESSAGES)
    assert len(openai_server.requests) == 1


def test_retry_logs_do_not_reveal_key(
    openai_server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    openai_server.enqueue(500, error_body(f"failed for key {KEY}"))
    openai_server.enqueue(json=chat_completion_body("ok"))
    with caplog.at_level(logging.DEBUG, logger="engram"), make_model(openai_server) as model:
        model.complete(MESSAGES)
    assert "retry 1/3" in caplog.text
    assert KEY not in caplog.text


def test_timeout_is_retried_then_unavailable(openai_server: FakeOpenAIServer) -> None:
    openai_server.handler = lambda request: ScriptedResponse(
        json=chat_completion_body("late"), delay=5.0
    )
    with make_model(openai_server, timeout=0.1, max_retries=1) as model:
        with pytest.raises(ProviderUnavailable, match="Timeout") as caught:
            model.complete(MESSAGES)
    assert isinstance(caught.value.__cause__, httpx.TimeoutException)
    assert len(openai_server.requests) == 2


async def test_async_timeout_then_success(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(json=chat_completion_body("late"), delay=5.0)
    openai_server.enqueue(json=chat_completion_body("on time"))
    async with make_model(openai_server, timeout=0.1) as model:
        assert (await model.acomplete(MESSAGES)).text == "on time"
    assert len(openai_server.requests) == 2


def test_timeout_bounds_a_whole_attempt_of_a_trickling_server(
    openai_server: FakeOpenAIServer,
) -> None:
    # Every byte comes well within the per-read timeout; the whole body would take 60 s.
    openai_server.handler = lambda request: ScriptedResponse(
        json=chat_completion_body("late"), trickle=0.2
    )
    started = time.monotonic()
    with make_model(openai_server, timeout=0.5, max_retries=1) as model:
        with pytest.raises(ProviderUnavailable, match="Timeout.*0.5 s") as caught:
            model.complete(MESSAGES)
    assert time.monotonic() - started < 3.0  # two attempts, each abandoned within a read
    assert isinstance(caught.value.__cause__, httpx.TimeoutException)
    assert len(openai_server.requests) == 2


async def test_async_timeout_bounds_a_whole_attempt_of_a_trickling_server(
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.enqueue(json=chat_completion_body("late"), trickle=0.2)
    openai_server.enqueue(json=chat_completion_body("on time"))
    started = time.monotonic()
    async with make_model(openai_server, timeout=0.5) as model:
        assert (await model.acomplete(MESSAGES)).text == "on time"
    assert time.monotonic() - started < 1.5
    assert len(openai_server.requests) == 2


def test_a_trickled_reply_within_the_timeout_is_read(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(json=chat_completion_body("ok"), trickle=0.001)
    with make_model(openai_server, timeout=5.0) as model:
        assert model.complete(MESSAGES).text == "ok"


def test_connection_refused_is_unavailable() -> None:
    model = OpenAIChatModel("gpt-test", base_url=unreachable_url(), api_key=KEY, backoff=0.0)
    with model, pytest.raises(ProviderUnavailable, match="ConnectError") as caught:
        model.complete(MESSAGES)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert KEY not in str(caught.value)


def test_credentials_in_the_base_url_are_never_quoted() -> None:
    base_url = unreachable_url().replace("http://", "http://bob:s3cr3t-pw@")
    model = OpenAIChatModel("gpt-test", base_url=base_url, backoff=0.0, max_retries=0)
    with model, pytest.raises(ProviderUnavailable) as caught:
        model.complete(MESSAGES)
    assert "s3cr3t-pw" not in str(caught.value) and "bob" not in str(caught.value)
    assert "http://127.0.0.1:" in str(caught.value)


async def test_async_connection_refused_is_unavailable() -> None:
    model = OpenAIChatModel("gpt-test", base_url=unreachable_url(), backoff=0.0, max_retries=0)
    async with model:
        with pytest.raises(ProviderUnavailable, match="after 1 attempt"):
            await model.acomplete(MESSAGES)


def test_malformed_json_is_provider_error(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(raw=b'{"choices": [')
    with make_model(openai_server) as model, pytest.raises(ProviderError, match="not JSON") as e:
        model.complete(MESSAGES)
    assert not isinstance(e.value, ProviderUnavailable)
    assert len(openai_server.requests) == 1


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
async def test_a_body_that_cannot_be_decoded_is_a_provider_error_sync_and_async(
    openai_server: FakeOpenAIServer, sync: bool
) -> None:
    openai_server.handler = lambda request: ScriptedResponse(
        raw=b"not gzip at all", headers={"Content-Encoding": "gzip"}
    )
    async with make_model(openai_server, max_retries=1) as model:
        with pytest.raises(ProviderError, match="DecodingError") as caught:
            if sync:
                model.complete(MESSAGES)
            else:
                await model.acomplete(MESSAGES)
    assert not isinstance(caught.value, ProviderUnavailable)
    assert len(openai_server.requests) == 1  # not retried: the server answered, unreadably


@pytest.mark.parametrize(
    "body",
    [{"choices": []}, {"object": "list"}, [1, 2], {"choices": [{"message": "text"}]}],
    ids=["no-choices", "not-a-completion", "array", "bad-message"],
)
def test_unexpected_json_is_provider_error(openai_server: FakeOpenAIServer, body: object) -> None:
    openai_server.enqueue(json=body)
    with make_model(openai_server) as model, pytest.raises(ProviderError, match="JSON"):
        model.complete(MESSAGES)


def test_error_object_with_200_is_provider_error(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(json={"error": {"message": "context length exceeded"}})
    with (
        make_model(openai_server) as model,
        pytest.raises(ProviderError, match="context length exceeded"),
    ):
        model.complete(MESSAGES)


def test_client_is_reusable_after_close(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(json=chat_completion_body("one"))
    openai_server.enqueue(json=chat_completion_body("two"))
    model = make_model(openai_server)
    assert model.complete(MESSAGES).text == "one"
    model.close()
    assert model.complete(MESSAGES).text == "two"
    model.close()


def test_async_client_follows_the_event_loop(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(json=chat_completion_body("one"))
    openai_server.enqueue(json=chat_completion_body("two"))
    model = make_model(openai_server)

    async def ask_and_close() -> str:
        async with model:
            return (await model.acomplete(MESSAGES)).text

    with warnings.catch_warnings():
        # The first loop's connection is left open on purpose (no aclose()).
        warnings.simplefilter("ignore", ResourceWarning)
        assert asyncio.run(model.acomplete(MESSAGES)).text == "one"
        assert asyncio.run(ask_and_close()) == "two"
        gc.collect()


def test_invalid_base_url_is_config_error() -> None:
    with pytest.raises(ConfigError, match="http:// or https://"):
        OpenAIChatModel("llama3.2", base_url="localhost:11434/v1")


@pytest.mark.parametrize(
    "base_url", ["ftp://example.com/v1?api-key=query-secret", "query-secret@example.com/v1"]
)
def test_a_bad_base_url_is_not_echoed(base_url: str) -> None:
    with pytest.raises(ConfigError, match="http:// or https://") as caught:
        OpenAIChatModel("llama3.2", base_url=base_url)
    assert "query-secret" not in str(caught.value)


@pytest.mark.parametrize(
    "options",
    [
        {"timeout": 0},
        {"timeout": float("inf")},
        {"timeout": float("nan")},
        {"max_retries": -1},
        {"backoff": -0.5},
    ],
    ids=str,
)
def test_invalid_settings_are_config_errors(options: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        OpenAIChatModel("gpt-test", **options)  # type: ignore[arg-type]


def test_async_only_transport_refuses_sync_calls() -> None:
    class AsyncOnly(httpx.AsyncBaseTransport):
        pass

    with pytest.raises(ConfigError, match="async-only"):
        OpenAIChatModel("gpt-test", transport=AsyncOnly()).complete(MESSAGES)


def test_repr_shows_model_and_url_only() -> None:
    model = OpenAIChatModel("gpt-test", base_url="http://localhost:8000/v1/", api_key=KEY)
    assert repr(model) == "OpenAIChatModel(model='gpt-test', base_url='http://localhost:8000/v1')"


# The pure retry logic, fed real httpx responses.


def exchange(max_retries: int = 3, **policy: float) -> Exchange:
    return Exchange(
        "http://h/v1/x",
        model="m",
        policy=RetryPolicy(max_retries=max_retries, **policy),
        secrets=(KEY,),
    )


def test_retry_after_is_capped() -> None:
    step = exchange(max_retry_after=2.0).next_step(
        httpx.Response(429, headers={"Retry-After": "3600"})
    )
    assert step == Retry(2.0)


def test_retry_after_ms_wins_over_seconds() -> None:
    response = httpx.Response(503, headers={"retry-after-ms": "250", "Retry-After": "9"})
    assert exchange().next_step(response) == Retry(0.25)


def test_http_date_retry_after_falls_back_to_backoff() -> None:
    response = httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    step = exchange(backoff=1.0).next_step(response)
    assert isinstance(step, Retry) and 0.5 <= step.delay <= 1.0


def test_backoff_grows_exponentially_with_jitter_and_cap() -> None:
    policy = RetryPolicy(backoff=1.0, max_backoff=5.0)
    for retry, ceiling in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 5.0), (10, 5.0)]:
        delay = policy.delay(retry, None)
        assert ceiling / 2 <= delay <= ceiling


def test_exchange_gives_up_after_max_retries() -> None:
    flow = exchange(max_retries=2, backoff=0.0)
    assert isinstance(flow.next_step(httpx.Response(500)), Retry)
    assert isinstance(flow.next_step(httpx.Response(502)), Retry)
    with pytest.raises(ProviderUnavailable, match="after 3 attempt"):
        flow.next_step(httpx.Response(504))


def test_exchange_success_and_non_retryable_transport_error() -> None:
    assert exchange().next_step(httpx.Response(200, json={"a": 1})) == Done({"a": 1})
    request = httpx.Request("POST", "ftp://h/v1/x")
    with pytest.raises(ProviderError, match="UnsupportedProtocol") as caught:
        exchange().next_step(httpx.UnsupportedProtocol("no ftp", request=request))
    assert not isinstance(caught.value, ProviderUnavailable)


def test_credentials_in_the_base_url_go_as_basic_auth_and_never_into_a_log(
    openai_server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    """httpx logs each request's URL at INFO: the user and password are not in it."""
    openai_server.enqueue(json=chat_completion_body("ok"))
    base_url = openai_server.url.replace("http://", "http://bob:s3cr3t-pw@")
    model = OpenAIChatModel("gpt-test", base_url=base_url, backoff=0.0)
    with caplog.at_level(logging.DEBUG), model:
        assert model.complete(MESSAGES).text == "ok"
    assert "s3cr3t-pw" not in caplog.text and "s3cr3t-pw" not in repr(model)
    assert "/v1/chat/completions" in caplog.text  # what httpx logged, without the password
    [request] = openai_server.requests
    assert request.headers["authorization"] == "Basic Ym9iOnMzY3IzdC1wdw=="  # bob:s3cr3t-pw
