"""The OpenAI-compatible clients against what real servers answer (OpenAI, Ollama, vLLM,
llama.cpp, LM Studio): replies without content, endpoints without json_schema, secret URLs."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from engram._exceptions import ProviderError
from engram.memory import ExtractionBudget, LLMExtractor
from engram.memory.llm_extraction import _FORMAT
from engram.providers import OpenAIChatModel
from engram.providers._openai_embeddings import OpenAIEmbedder
from engram.providers.openai import track_attempts
from engram.types import Message
from openai_server import (
    FakeOpenAIServer,
    chat_completion_body,
    embeddings_body,
    error_body,
)

pytest_plugins = ["openai_server"]

MESSAGES = [{"role": "user", "content": "Where does Ana live?"}]
SCHEMA_FORMAT = {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}
MEMORIES = json.dumps(
    {"memories": [{"text": "Ana lives in Lisbon", "kind": "fact", "sources": [0]}]}
)
WHEN = datetime(2026, 1, 10, tzinfo=UTC)


def make_model(server: FakeOpenAIServer, **options: Any) -> OpenAIChatModel:
    settings: dict[str, Any] = {"backoff": 0.0, "timeout": 5.0, "max_retries": 0}
    settings.update(options)
    return OpenAIChatModel("gpt-test", base_url=server.url, **settings)


def reply_with(message: dict[str, Any], finish_reason: str = "stop") -> dict[str, Any]:
    body = chat_completion_body("")
    body["choices"][0]["message"] = {"role": "assistant", **message}
    body["choices"][0]["finish_reason"] = finish_reason
    return body


def tool_call(arguments: Any) -> dict[str, Any]:
    return {
        "id": "call_1",
        "type": "function",
        "function": {"name": "memories", "arguments": arguments},
    }


def conversation() -> list[Message]:
    return [Message(role="user", content="I live in Lisbon.", name="Ana", created_at=WHEN)]


def sent_formats(server: FakeOpenAIServer) -> list[Any]:
    return [request.json().get("response_format") for request in server.requests]


# 1. Replies whose content is null --------------------------------------------------------


@pytest.mark.parametrize("sync", [True, False])
@pytest.mark.parametrize(
    "arguments", [MEMORIES, json.loads(MEMORIES)], ids=["json-text", "json-object"]
)
async def test_a_tool_calls_arguments_are_the_reply_when_content_is_null(
    openai_server: FakeOpenAIServer, sync: bool, arguments: Any
) -> None:
    message = {"content": None, "tool_calls": [tool_call(arguments)]}
    openai_server.enqueue(json=reply_with(message, "tool_calls"))
    async with make_model(openai_server) as model:
        if sync:
            reply = model.complete(MESSAGES, response_format=SCHEMA_FORMAT)
        else:
            reply = await model.acomplete(MESSAGES, response_format=SCHEMA_FORMAT)
    assert json.loads(reply.text) == json.loads(MEMORIES)
    assert reply.finish_reason == "tool_calls"


def test_a_legacy_function_call_is_the_reply_when_content_is_null(
    openai_server: FakeOpenAIServer,
) -> None:
    message = {"content": None, "function_call": {"name": "memories", "arguments": MEMORIES}}
    openai_server.enqueue(json=reply_with(message, "function_call"))
    with make_model(openai_server) as model:
        assert model.complete(MESSAGES).text == MEMORIES


def test_an_extraction_answered_by_a_tool_call_keeps_the_models_memories(
    openai_server: FakeOpenAIServer,
) -> None:
    message = {"content": None, "tool_calls": [tool_call(MEMORIES)]}
    openai_server.enqueue(json=reply_with(message, "tool_calls"))
    with make_model(openai_server) as model:
        result = LLMExtractor(model).extract(conversation(), user_name="Ana")
    assert result.llm_batches == 1 and result.fallbacks == ()
    facts = [c for c in result.candidates if c.kind != "episode"]
    assert [(c.text, c.metadata["extractor"]) for c in facts] == [("Ana lives in Lisbon", "llm")]
    assert len(openai_server.requests) == 1


@pytest.mark.parametrize("sync", [True, False])
async def test_a_refusal_falls_back_to_the_rules_without_a_retry(
    openai_server: FakeOpenAIServer, sync: bool, caplog: pytest.LogCaptureFixture
) -> None:
    message = {"content": None, "refusal": "I'm sorry, I can't help with that."}
    openai_server.enqueue(json=reply_with(message))
    budget = ExtractionBudget(max_calls=4, max_tokens=16000)
    async with make_model(openai_server) as model:
        extractor = LLMExtractor(model)
        with caplog.at_level(logging.WARNING, logger="engram"):
            if sync:
                result = extractor.extract(conversation(), user_name="Ana", budget=budget)
            else:
                result = await extractor.aextract(conversation(), user_name="Ana", budget=budget)
    assert result.llm_batches == 0 and len(result.fallbacks) == 1
    facts = [c for c in result.candidates if c.kind != "episode"]
    assert facts and all(c.metadata["extractor"] != "llm" for c in facts)  # the rules' facts
    assert len(openai_server.requests) == 1 and budget.calls == 1  # a refusal is not retried
    assert "refused" in caplog.text


# 2. Endpoints that reject response_format json_schema ------------------------------------

SCHEMA_REJECTED = error_body(
    "[{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
    "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema'}]"
)
OBJECT_REJECTED = error_body("'response_format.type' must be 'json_schema' or 'text'")


@pytest.mark.parametrize("sync", [True, False])
async def test_a_rejected_json_schema_degrades_to_json_object_once(
    openai_server: FakeOpenAIServer, sync: bool
) -> None:
    openai_server.enqueue(400, SCHEMA_REJECTED)
    openai_server.enqueue_completion("{}")
    openai_server.enqueue_completion("{}")
    async with make_model(openai_server) as model:
        for _ in range(2):
            if sync:
                reply = model.complete(MESSAGES, response_format=SCHEMA_FORMAT)
            else:
                reply = await model.acomplete(MESSAGES, response_format=SCHEMA_FORMAT)
            assert reply.text == "{}"
    assert sent_formats(openai_server) == [
        SCHEMA_FORMAT,
        {"type": "json_object"},
        {"type": "json_object"},  # remembered: no failing request first
    ]


@pytest.mark.parametrize("sync", [True, False])
async def test_a_rejected_json_object_degrades_to_no_response_format(
    openai_server: FakeOpenAIServer, sync: bool
) -> None:
    openai_server.enqueue(400, SCHEMA_REJECTED)
    openai_server.enqueue(400, OBJECT_REJECTED)
    for _ in range(3):
        openai_server.enqueue_completion("{}")
    async with make_model(openai_server) as model:
        for format in (SCHEMA_FORMAT, SCHEMA_FORMAT, {"type": "json_object"}):
            if sync:
                assert model.complete(MESSAGES, response_format=format).text == "{}"
            else:
                assert (await model.acomplete(MESSAGES, response_format=format)).text == "{}"
    assert sent_formats(openai_server) == [
        SCHEMA_FORMAT,
        {"type": "json_object"},
        None,
        None,
        None,
    ]


def test_a_json_object_only_endpoint_is_asked_without_a_format_at_once(
    openai_server: FakeOpenAIServer,
) -> None:
    """LM Studio takes json_schema but not json_object: a json_object request degrades to
    none, and json_schema requests keep their schema."""
    openai_server.enqueue(400, OBJECT_REJECTED)
    for _ in range(2):
        openai_server.enqueue_completion("{}")
    with make_model(openai_server) as model:
        model.complete(MESSAGES, response_format={"type": "json_object"})
        model.complete(MESSAGES, response_format=SCHEMA_FORMAT)
    assert sent_formats(openai_server) == [{"type": "json_object"}, None, SCHEMA_FORMAT]


def test_llama_cpps_http_500_refusing_json_schema_is_degraded_not_retried(
    openai_server: FakeOpenAIServer,
) -> None:
    refused = error_body(
        'response_format type must be one of "text" or "json_object", but got: json_schema',
        kind="server_error",
    )
    openai_server.enqueue(500, refused)
    openai_server.enqueue_completion("{}")
    openai_server.enqueue(500, error_body("CUDA error: out of memory", kind="server_error"))
    openai_server.enqueue_completion("{}")
    with make_model(openai_server, max_retries=3) as model:
        assert model.complete(MESSAGES, response_format=SCHEMA_FORMAT).text == "{}"
        assert len(openai_server.requests) == 2  # the refusal was not retried as it was
        assert model.complete(MESSAGES, response_format=SCHEMA_FORMAT).text == "{}"
    # Another HTTP 500 is a transient failure, retried in the same format.
    assert sent_formats(openai_server) == [SCHEMA_FORMAT] + [{"type": "json_object"}] * 3


def test_a_400_about_something_else_is_not_retried_nor_remembered(
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.enqueue(400, error_body("This model's maximum context length is 8192 tokens"))
    openai_server.enqueue_completion("{}")
    with make_model(openai_server) as model:
        with pytest.raises(ProviderError, match="maximum context length"):
            model.complete(MESSAGES, response_format=SCHEMA_FORMAT)
        model.complete(MESSAGES, response_format=SCHEMA_FORMAT)
    assert sent_formats(openai_server) == [SCHEMA_FORMAT, SCHEMA_FORMAT]


def test_the_downgrade_requests_count_against_the_attempt_ledger(
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.enqueue(400, SCHEMA_REJECTED)
    openai_server.enqueue(400, OBJECT_REJECTED)
    openai_server.enqueue_completion("{}")
    with make_model(openai_server, max_retries=3) as model:
        with track_attempts(2) as ledger, pytest.raises(ProviderError, match="response_format"):
            model.complete(MESSAGES, response_format=SCHEMA_FORMAT)
        assert ledger.attempts == len(openai_server.requests) == 2
        with track_attempts(1) as ledger:
            assert model.complete(MESSAGES, response_format=SCHEMA_FORMAT).text == "{}"
        assert ledger.attempts == 1
    assert sent_formats(openai_server) == [SCHEMA_FORMAT, {"type": "json_object"}, None]


def test_an_extraction_pays_for_the_rejected_request_within_its_budget(
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.enqueue(400, SCHEMA_REJECTED)
    openai_server.enqueue(json=chat_completion_body(MEMORIES))
    with make_model(openai_server) as model:
        extractor = LLMExtractor(model)
        budget = ExtractionBudget(max_calls=2, max_tokens=16000)
        result = extractor.extract(conversation(), user_name="Ana", budget=budget)
        assert result.llm_batches == 1 and budget.calls == 2
    assert sent_formats(openai_server) == [_FORMAT, {"type": "json_object"}]


def test_one_call_budget_falls_back_once_then_uses_the_degraded_format(
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.enqueue(400, SCHEMA_REJECTED)
    openai_server.enqueue(json=chat_completion_body(MEMORIES))
    with make_model(openai_server) as model:
        extractor = LLMExtractor(model)
        budget = ExtractionBudget(max_calls=1, max_tokens=16000)
        first = extractor.extract(conversation(), user_name="Ana", budget=budget)
        assert first.llm_batches == 0 and len(first.fallbacks) == 1 and budget.calls == 1
        assert len(openai_server.requests) == 1  # no request past the budget
        budget = ExtractionBudget(max_calls=1, max_tokens=16000)
        second = extractor.extract(conversation(), user_name="Ana", budget=budget)
    assert second.llm_batches == 1 and budget.calls == 1
    assert sent_formats(openai_server)[1] == {"type": "json_object"}


# 3. No secret of a base_url in any log record ---------------------------------------------

SECRET = "azure-key-0123456789"
PASSWORD = "pw-0123456789"


def secret_url(server: FakeOpenAIServer) -> str:
    url = server.url.replace("http://", f"http://bob:{PASSWORD}@")
    return f"{url}?api-version=2024-06-01&api-key={SECRET}"


@pytest.mark.parametrize("sync", [True, False])
async def test_a_secret_in_the_base_urls_query_reaches_no_log_record(
    openai_server: FakeOpenAIServer, sync: bool, caplog: pytest.LogCaptureFixture
) -> None:
    openai_server.enqueue(503, error_body("overloaded"))
    openai_server.enqueue_completion("ok")
    model = OpenAIChatModel("gpt-test", base_url=secret_url(openai_server), backoff=0.0)
    with caplog.at_level(logging.DEBUG):
        async with model:
            if sync:
                assert model.complete(MESSAGES).text == "ok"
            else:
                assert (await model.acomplete(MESSAGES)).text == "ok"
    assert "HTTP Request: POST" in caplog.text  # httpx logged the request...
    assert SECRET not in caplog.text and PASSWORD not in caplog.text  # ...without the secret
    assert openai_server.requests[-1].path.endswith(f"&api-key={SECRET}")  # but sent it


def test_a_server_error_quoting_the_secret_query_is_redacted(
    openai_server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    echoed = f"no deployment at /v1/chat/completions?api-version=2024-06-01&api-key={SECRET}"
    openai_server.enqueue(404, error_body(echoed))
    openai_server.enqueue(400, error_body(echoed))  # not a refused setting: falls back, logged
    model = OpenAIChatModel("gpt-test", base_url=secret_url(openai_server), backoff=0.0)
    with caplog.at_level(logging.DEBUG), model:
        with pytest.raises(ProviderError, match="no deployment") as error:
            model.complete(MESSAGES)
        result = LLMExtractor(model).extract(conversation(), user_name="Ana")  # logs the error
    assert result.fallbacks and "no deployment" in caplog.text
    assert SECRET not in str(error.value) and SECRET not in caplog.text


@pytest.mark.parametrize("sync", [True, False])
async def test_the_embedder_logs_no_secret_of_its_base_url(
    openai_server: FakeOpenAIServer, sync: bool, caplog: pytest.LogCaptureFixture
) -> None:
    openai_server.enqueue(json=embeddings_body([[1.0, 0.0]]))
    echoed = f"bad input for ?api-version=2024-06-01&api-key={SECRET}"
    openai_server.enqueue(400, error_body(echoed))
    embedder = OpenAIEmbedder("emb", base_url=secret_url(openai_server), backoff=0.0)
    with caplog.at_level(logging.DEBUG):
        async with embedder:
            if sync:
                assert embedder.embed(["hi"]).shape == (1, 2)
                with pytest.raises(ProviderError, match="bad input") as error:
                    embedder.embed(["hi"])
            else:
                assert (await embedder.aembed(["hi"])).shape == (1, 2)
                with pytest.raises(ProviderError, match="bad input") as error:
                    await embedder.aembed(["hi"])
    assert "HTTP Request: POST" in caplog.text
    assert SECRET not in caplog.text and SECRET not in str(error.value)
    assert PASSWORD not in caplog.text
