"""What one fold costs: LLM calls per context build, counted at the HTTP server.

A context for a model whose tokenizer differs from the Engram's (gpt-4: cl100k_base; the
Engram and its summarizer: o200k_base) used to fold twice when the summary came back over
the room in the model's tokens, each fold asking up to twice: four paid calls for one
context. A fold now asks once with the room in the summarizer's tokens, and once more only
when the model overshoots its own bound; what is still over is cut at a sentence end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engram import Engram
from engram.context import SUMMARY_PREFIX
from engram.context._summary import summarizer_room
from engram.providers import LLMSummarizer, OpenAIChatModel
from engram.tokens import TokenCounter
from openai_server import FakeOpenAIServer, ReceivedRequest, ScriptedResponse, chat_completion_body
from test_context_support import WordCounter

pytest_plugins = ["openai_server"]

O200K = TokenCounter.for_encoding("o200k_base")
BUDGET = 1500


def meeting(i: int) -> str:
    return f"Встреча номер {i} с Анной Петровной назначена на {i + 1} мая в Лиссабоне."


def obedient(request: ReceivedRequest) -> ScriptedResponse:
    """A model that fills the bound the summarizer has in o200k_base tokens, not more (its
    `max_tokens` is the bound with a margin: `LLMSummarizer._reply_tokens`)."""
    bound = int((request.json()["max_tokens"] - 16) / 1.25)
    text = ""
    for i in range(1000):
        longer = f"{text} {meeting(i)}".strip()
        if O200K.count_text(longer) > bound:
            break
        text = longer
    return ScriptedResponse(200, chat_completion_body(text or "Встреча."))


def verbose(request: ReceivedRequest) -> ScriptedResponse:
    """A model that ignores the bound: every reply is far too long (over the stored
    summary's room too, `STORED_SUMMARY_TOKENS`)."""
    return ScriptedResponse(200, chat_completion_body(" ".join(meeting(i) for i in range(200))))


@pytest.fixture
async def mem(openai_server: FakeOpenAIServer, tmp_path: Path) -> AsyncIterator[Engram]:
    async with OpenAIChatModel(
        "summarizer", base_url=openai_server.url, api_key="k", backoff=0.0, max_retries=0
    ) as chat:
        summarizer = LLMSummarizer(chat, O200K.count_text)
        with Engram(str(tmp_path / "e.db"), summarizer=summarizer) as mem:
            assert mem.settings.encoding == "o200k_base"
            s = mem.session("s1")
            s.add("system", "Ты помощник.")
            for i in range(40):
                s.add("user", meeting(i))
                s.add("assistant", f"Хорошо, записал встречу {i}.")
            yield mem


async def build(mem: Engram, model: str, sync: bool) -> list[str]:
    s = mem.session("s1")
    options = {"model": model, "budget": BUDGET, "strategy": "summary"}
    result = s.context(**options) if sync else await s.acontext(**options)
    assert TokenCounter.for_model(model).count_messages(result.messages) <= BUDGET
    assert result.report.summarized_count > 0
    return [m.text for m in result.messages if m.text.startswith(SUMMARY_PREFIX)]


@pytest.mark.parametrize("sync", [True, False])
@pytest.mark.parametrize("model", ["gpt-4", "gpt-4o"])
async def test_a_model_that_keeps_its_bound_costs_one_call(
    openai_server: FakeOpenAIServer, mem: Engram, model: str, sync: bool
) -> None:
    openai_server.handler = obedient

    [summary] = await build(mem, model, sync)

    assert len(openai_server.requests) == 1
    assert "truncated" not in summary  # asked for the room in its own tokens, it fit


@pytest.mark.parametrize("sync", [True, False])
@pytest.mark.parametrize("model", ["gpt-4", "gpt-4o"])
async def test_a_model_that_overshoots_costs_two_calls_and_keeps_the_newest_facts(
    openai_server: FakeOpenAIServer, mem: Engram, model: str, sync: bool
) -> None:
    openai_server.handler = verbose

    [summary] = await build(mem, model, sync)

    assert len(openai_server.requests) == 2  # asked once, then once more firmly; then cut
    assert summary.endswith(meeting(199))  # the newest sentence of the reply survives the cut


def test_the_room_is_scaled_to_the_summarizer_tokens_never_up() -> None:
    words = WordCounter()  # one token per word

    def halves(text: str) -> int:  # counts half as many tokens as `words`
        return len(text.split()) // 2

    def doubles(text: str) -> int:
        return 2 * len(text.split())

    sample = "one two three four five six seven eight"
    assert summarizer_room(100, sample, words, halves) == 50
    assert summarizer_room(100, sample, words, doubles) == 100
    assert summarizer_room(100, "", words, halves) == 100
    assert summarizer_room(1, sample, words, lambda text: 0) == 1
