"""A small local model (Ollama, vLLM) doing memory extraction, against a real HTTP server that
plays it (`openai_server`): configuration mistakes raise, transient failures fall back visibly,
reasoning models get room to think, and what a small model gets wrong costs only itself.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import pytest

from engram import ConfigError, Engram, Message, ProviderError, ProviderUnavailable, TokenCounter
from engram.cli._options import engram_errors
from engram.config import EmbeddingsSettings, EngramSettings, LLMSettings
from engram.memory import LLMExtractor
from engram.providers import LLMSummarizer, OpenAIChatModel, ProviderConfigError
from engram.providers._http import Rejected
from openai_server import FakeOpenAIServer, ScriptedResponse, chat_completion_body, error_body

pytest_plugins = ["openai_server"]

SAID = datetime(2026, 1, 10, tzinfo=UTC)


def turn(text: str) -> Message:
    return Message(role="user", content=text, created_at=SAID)


def reply_with(*items: dict[str, Any]) -> str:
    return json.dumps({"memories": list(items)})


def engram_for(tmp_path: Path, url: str, **llm: Any) -> Engram:
    settings = LLMSettings(model="fake-model", base_url=url, max_retries=0, **llm)
    return Engram(tmp_path / "engram.db", settings=EngramSettings(llm=settings))


@pytest.fixture
def mem(tmp_path: Path, openai_server: FakeOpenAIServer) -> Iterator[Engram]:
    with engram_for(tmp_path, openai_server.url) as engram:
        yield engram


def current(mem: Engram) -> list[str]:
    return sorted(m.text for m in mem.memories.get_all(user_id="ana") if m.kind != "episode")


# 1. A configuration mistake raises; a transient failure falls back, and says so.


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (404, "model 'llama3.2' not found, try pulling it first"),
        (401, "Incorrect API key provided"),
        (403, "forbidden"),
    ],
)
def test_a_refused_key_model_or_base_url_raises_and_writes_nothing(
    mem: Engram, openai_server: FakeOpenAIServer, status: int, message: str
) -> None:
    openai_server.enqueue(status, error_body(message))
    with pytest.raises(ProviderConfigError) as error:
        mem.memories.add(messages=[turn("I live in Lisbon.")], user_id="ana")
    assert isinstance(error.value, ConfigError) and isinstance(error.value, ProviderError)
    assert error.value.status == status and len(openai_server.requests) == 1
    assert mem.memories.get_all(user_id="ana") == []  # the input is the caller's to retry


async def test_an_async_add_refused_its_key_writes_nothing(
    tmp_path: Path, openai_server: FakeOpenAIServer
) -> None:
    openai_server.enqueue(401, error_body("Incorrect API key provided"))
    async with engram_for(tmp_path, openai_server.url) as mem:
        with pytest.raises(ProviderConfigError):
            await mem.memories.aadd(messages=[turn("I live in Lisbon.")], user_id="ana")
        assert mem.memories.get_all(user_id="ana") == []  # no episode, no fact


def test_an_embeddings_outage_raises_and_writes_nothing(
    tmp_path: Path, openai_server: FakeOpenAIServer
) -> None:
    fact = {"text": "Ana lives in Lisbon", "sources": [0]}

    def answer(request: Any) -> ScriptedResponse:
        if request.path.endswith("/embeddings"):
            return ScriptedResponse(503, error_body("loading model"))
        return ScriptedResponse(200, chat_completion_body(reply_with(fact)))

    openai_server.handler = answer
    llm = LLMSettings(model="fake-model", base_url=openai_server.url, max_retries=0)
    vectors = EmbeddingsSettings(model="fake-embedder", base_url=openai_server.url, max_retries=0)
    settings = EngramSettings(llm=llm, embeddings=vectors)
    with Engram(tmp_path / "engram.db", settings=settings) as mem:
        with pytest.raises(ProviderUnavailable):
            mem.memories.add(messages=[turn("I live in Lisbon.")], user_id="ana")
        assert mem.memories.get_all(user_id="ana") == []


@pytest.mark.parametrize("sync", [True, False])
async def test_the_extractor_raises_a_refused_setting_too(
    openai_server: FakeOpenAIServer, sync: bool
) -> None:
    openai_server.enqueue(401, error_body("Incorrect API key provided"))
    async with OpenAIChatModel("fake-model", base_url=openai_server.url) as model:
        extractor = LLMExtractor(model)
        with pytest.raises(ProviderConfigError):
            if sync:
                extractor.extract([turn("I live in Lisbon.")])
            else:
                await extractor.aextract([turn("I live in Lisbon.")])


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"status": 503, "json": error_body("loading model")}, "LLM call failed"),
        ({"json": chat_completion_body("I cannot help")}, "invalid reply"),
    ],
    ids=["server down", "malformed reply"],
)
def test_a_transient_failure_or_a_bad_reply_falls_back_visibly(
    mem: Engram, openai_server: FakeOpenAIServer, answer: dict[str, Any], reason: str
) -> None:
    for _ in range(2):
        openai_server.enqueue(**answer)
    report = mem.memories.add(messages=[turn("I live in Lisbon.")], user_id="ana")
    [fallback] = report.llm_fallbacks
    assert fallback.startswith(reason)
    assert mem.memories.profile("ana").fields["home_city"] == "Lisbon"  # the rules' facts


def test_an_extraction_by_the_model_reports_no_fallback(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    fact = {"text": "Ana lives in Lisbon", "attribute": "home_city", "value": "Lisbon"}
    openai_server.enqueue_completion(reply_with({**fact, "sources": [0]}))
    report = mem.memories.add(messages=[turn("I live in Lisbon.")], user_id="ana")
    assert report.llm_fallbacks == ()


def test_the_summariser_raises_on_a_refused_key_and_falls_back_on_an_outage(
    openai_server: FakeOpenAIServer,
) -> None:
    counter = TokenCounter.for_encoding("o200k_base")
    messages = [turn("I booked a flight to Lisbon on 3 May.")]
    with OpenAIChatModel("fake-model", base_url=openai_server.url, max_retries=0) as model:
        summarizer = LLMSummarizer(model, counter.count_text)
        openai_server.enqueue(503, error_body("overloaded"))
        assert "Lisbon" in summarizer.summarize(None, messages, max_tokens=50)
        openai_server.enqueue(401, error_body("Incorrect API key provided"))
        with pytest.raises(ProviderConfigError):
            summarizer.summarize(None, messages, max_tokens=50)


# 2. A reasoning model gets room to think.


def test_reply_tokens_is_the_least_max_tokens_of_every_request(
    tmp_path: Path, openai_server: FakeOpenAIServer
) -> None:
    openai_server.enqueue_completion(reply_with())
    with engram_for(tmp_path, openai_server.url, reply_tokens=4096) as mem:
        mem.memories.add(messages=[turn("I like tea.")], user_id="ana", max_llm_tokens=20000)
    assert openai_server.requests[0].json()["max_tokens"] == 4096


def test_reply_tokens_never_takes_an_add_over_its_budget(
    tmp_path: Path, openai_server: FakeOpenAIServer
) -> None:
    def think_to_the_end(request: Any) -> ScriptedResponse:  # a reasoning model, cut off
        used = request.json()["max_tokens"]
        body = chat_completion_body("<think>hmm", finish_reason="length", completion_tokens=used)
        return ScriptedResponse(200, body)

    openai_server.handler = think_to_the_end
    with engram_for(tmp_path, openai_server.url, reply_tokens=4096) as mem:
        report = mem.memories.add(
            messages=[turn("I'm vegetarian.")], user_id="ana", max_llm_calls=2, max_llm_tokens=2000
        )
    assert openai_server.requests
    assert all(request.json()["max_tokens"] < 2000 for request in openai_server.requests)
    assert report.llm_tokens <= 2000


def test_a_verdict_leaves_a_reasoning_model_room_to_think(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    mem.memories.add("Ana drinks coffee every morning", user_id="ana", infer=False)
    thoughts = "<think>" + "Coffee and tea are different drinks. " * 40 + "</think>"
    openai_server.enqueue_completion(thoughts + '{"relation": "contradicts"}')
    report = mem.memories.add("Ana drinks tea every morning", user_id="ana", infer=False)
    assert openai_server.requests[0].json()["max_tokens"] >= 1024
    assert [m.text for m in report.superseded] == ["Ana drinks coffee every morning"]


def test_a_reply_cut_off_while_thinking_is_asked_again_with_more_room(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    openai_server.enqueue(json=chat_completion_body("<think>Let me see", finish_reason="length"))
    fact = {"text": "Ana likes tea", "sources": [0]}
    openai_server.enqueue_completion("<think>Tea.</think>" + reply_with(fact))
    report = mem.memories.add(messages=[turn("I like tea.")], user_id="ana", max_llm_tokens=9000)
    first, second = (request.json() for request in openai_server.requests)
    assert second["max_tokens"] == 2 * first["max_tokens"]
    assert "<think>" not in json.dumps(second["messages"])  # its thoughts are not sent back
    assert report.llm_fallbacks == () and "Ana likes tea" in current(mem)


# 3. What a model makes up does not displace what was said.


def test_an_item_citing_a_message_not_in_the_batch_is_dropped(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    mem.memories.add(messages=[turn("I live in Lisbon.")], user_id="ana", max_llm_calls=0)
    made_up = {"text": "Ana lives in Tokyo", "attribute": "home_city", "value": "Tokyo"}
    said = {"text": "Ana enjoys walks by the river", "sources": [0]}
    openai_server.enqueue_completion(reply_with({**made_up, "sources": [7]}, said))
    report = mem.memories.add(messages=[turn("A lovely day for a walk.")], user_id="ana")
    assert report.superseded == ()
    assert mem.memories.profile("ana").fields["home_city"] == "Lisbon"
    assert "Ana lives in Tokyo" not in current(mem)
    assert "Ana enjoys walks by the river" in current(mem)


def test_an_unsure_item_supersedes_no_stored_value(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    mem.memories.add(messages=[turn("I live in Lisbon.")], user_id="ana", max_llm_calls=0)
    guess = {"text": "Ana lives in Tokyo", "attribute": "home_city", "value": "Tokyo"}
    openai_server.enqueue_completion(reply_with({**guess, "sources": [0], "confidence": 0.2}))
    report = mem.memories.add(messages=[turn("Tokyo was fun to visit.")], user_id="ana")
    assert report.superseded == ()
    assert mem.memories.profile("ana").fields["home_city"] == "Lisbon"


def test_a_city_nothing_said_names_supersedes_no_stored_value(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    mem.memories.add(messages=[turn("I live in Lisbon.")], user_id="ana", max_llm_calls=0)
    made_up = {"text": "Ana lives in Tokyo", "attribute": "home_city", "value": "Tokyo"}
    openai_server.enqueue_completion(reply_with({**made_up, "sources": [0], "confidence": 0.9}))
    report = mem.memories.add(messages=[turn("What a lovely day for a walk.")], user_id="ana")
    assert report.superseded == ()
    assert mem.memories.profile("ana").fields["home_city"] == "Lisbon"


def test_a_value_the_conversation_names_fills_its_slot_in_any_case_or_longer_form(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    mem.memories.add(messages=[turn("I work at IBM.")], user_id="ana", max_llm_calls=0)
    joined = {"text": "Ana works at Google", "attribute": "employer", "value": "Google LLC"}
    openai_server.enqueue_completion(reply_with({**joined, "sources": [0]}))
    report = mem.memories.add(messages=[turn("Started at google today!")], user_id="ana")
    assert [m.text for m in report.superseded] == ["The user works at IBM"]
    assert mem.memories.profile("ana").fields["employer"] == "Google LLC"


# 4. A small model's spelling of slots, and the slots it leaves out.


@pytest.mark.parametrize(
    "fields",
    [
        {"attribute": "home city", "value": "Lisbon"},
        {"attribute": "location", "value": ["Lisbon"]},
        {"attribute": ["city"], "value": "Lisbon"},
    ],
)
def test_a_slot_spelt_otherwise_or_listed_fills_the_known_slot(
    mem: Engram, openai_server: FakeOpenAIServer, fields: dict[str, Any]
) -> None:
    item = {"text": "Ana lives in Lisbon", "kind": "profile", "sources": [0], **fields}
    openai_server.enqueue_completion(reply_with(item))
    mem.memories.add(messages=[turn("Home is Lisbon these days.")], user_id="ana")
    assert mem.memories.profile("ana").fields == {"home_city": "Lisbon"}


def test_a_move_the_model_states_without_a_slot_still_supersedes_the_old_home(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    mem.memories.add(messages=[turn("I live in Lisbon.")], user_id="ana", max_llm_calls=0)
    openai_server.enqueue_completion(reply_with({"text": "Ana moved to Berlin", "sources": [0]}))
    report = mem.memories.add(messages=[turn("I moved to Berlin last week.")], user_id="ana")
    assert [m.metadata.get("value") for m in report.superseded] == ["Lisbon"]
    assert mem.memories.profile("ana").fields["home_city"] == "Berlin"


def test_a_move_the_model_leaves_out_is_kept_from_the_rules(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    mem.memories.add(messages=[turn("I live in Lisbon.")], user_id="ana", max_llm_calls=0)
    openai_server.enqueue_completion(reply_with({"text": "Ana likes tea", "sources": [0]}))
    mem.memories.add(messages=[turn("I like tea. I moved to Berlin.")], user_id="ana")
    assert mem.memories.profile("ana").fields["home_city"] == "Berlin"
    assert "Ana likes tea" in current(mem)


# 5. `timeout` bounds what a server's Retry-After makes a call wait.


def test_a_retry_after_longer_than_the_timeout_waits_the_timeout(
    openai_server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    openai_server.enqueue(429, error_body("slow down"), headers={"Retry-After": "3600"})
    openai_server.enqueue_completion("hello")
    model = OpenAIChatModel("fake-model", base_url=openai_server.url, timeout=0.5)
    with caplog.at_level(logging.INFO, logger="engram.providers"), model:
        assert model.complete([{"role": "user", "content": "hi"}]).text == "hello"
    assert "retry 1/3 in 0.50s" in caplog.text


# 6. Credentials in the base_url, and base_urls that are no URLs.


def test_a_server_echoing_basic_credentials_has_them_redacted(
    openai_server: FakeOpenAIServer,
) -> None:
    token = base64.b64encode(b"ana:s3cr3t-pass").decode()
    openai_server.enqueue(401, error_body(f"bad header: Authorization: Basic {token}"))
    url = openai_server.url.replace("http://", "http://ana:s3cr3t-pass@")
    with OpenAIChatModel("fake-model", base_url=url) as model:
        with pytest.raises(ProviderConfigError) as error:
            model.complete([{"role": "user", "content": "hi"}])
    assert token not in str(error.value) and "s3cr3t-pass" not in str(error.value)
    assert openai_server.requests[0].headers["authorization"] == f"Basic {token}"


@pytest.mark.parametrize(
    "url", ["http://exa mple:8000/v1", "http://example:99999/v1", "http:///v1", "https://:80/v1"]
)
def test_a_malformed_base_url_is_a_config_error_at_construction(url: str) -> None:
    with pytest.raises(ConfigError, match="base_url is not a valid URL"):
        OpenAIChatModel("fake-model", base_url=url)


# 7. Items keyed as small models key them.


@pytest.mark.parametrize("key", ["memory", "fact", "content"])
def test_an_item_keyed_otherwise_than_text_is_read_without_a_retry(
    mem: Engram, openai_server: FakeOpenAIServer, key: str
) -> None:
    openai_server.enqueue_completion(reply_with({key: "Ana likes tea", "sources": [0]}))
    report = mem.memories.add(messages=[turn("I like tea.")], user_id="ana")
    assert len(openai_server.requests) == 1 and report.llm_fallbacks == ()
    assert "Ana likes tea" in current(mem)


def test_the_cli_names_a_provider_error_by_its_public_class() -> None:
    with pytest.raises(click.ClickException) as error, engram_errors():
        raise Rejected("http://x/v1/embeddings rejected the request", status=422, detail="")
    assert error.value.message.startswith("ProviderError: http://x/v1/embeddings rejected")
