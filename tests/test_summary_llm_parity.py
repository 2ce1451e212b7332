"""`LLMSummarizer.summarize` and `asummarize` share one fold (`_fold`): every path of it, run
through both drivers against the same scripted HTTP replies, asks the same requests and
returns the same summary."""

from __future__ import annotations

from typing import Any

import pytest

from engram.providers import ExtractiveSummarizer, LLMSummarizer, OpenAIChatModel
from openai_server import FakeOpenAIServer, chat_completion_body, error_body
from test_context_summary_llm import FACTS, OLDEST_FIRST, count_words

pytest_plugins = ["openai_server"]


SHORT = "Dana: Lisbon, March 14, TAP, seat 12A, ABC123."
DOWN = (500, error_body("down"))
EXTRACTIVE = ExtractiveSummarizer(count_words).summarize(None, FACTS, max_tokens=12)


def ok(text: str, **fields: Any) -> tuple[int, dict[str, Any]]:
    return 200, chat_completion_body(text, **fields)


# (replies in order, the summary, how many requests); max_tokens=12 words.
PATHS = {
    "fits": ([ok(SHORT)], SHORT, 1),
    "over, then fits": ([ok(OLDEST_FIRST), ok(SHORT)], SHORT, 2),
    "over twice": (
        [ok(OLDEST_FIRST), ok(OLDEST_FIRST)],
        "Seat 12A is hers. The confirmation is ABC123.",
        2,
    ),
    "over, retry fails": (
        [ok(OLDEST_FIRST), DOWN],
        "Seat 12A is hers. The confirmation is ABC123.",
        2,
    ),
    "over, retry refuses": (
        [ok(OLDEST_FIRST), ok("I'm sorry, I can't help with that.")],
        "Seat 12A is hers. The confirmation is ABC123.",
        2,
    ),
    "cut off, then fits": ([ok("Dana flies TAP", finish_reason="length"), ok(SHORT)], SHORT, 2),
    "fails": ([DOWN], EXTRACTIVE, 1),
    "empty": ([ok("  ")], EXTRACTIVE, 1),
    "refuses": ([ok("I'm sorry, I can't help with that.")], EXTRACTIVE, 1),
}


@pytest.mark.parametrize("path", PATHS)
async def test_sync_and_async_take_the_same_path(
    openai_server: FakeOpenAIServer, path: str
) -> None:
    replies, expected, calls = PATHS[path]
    for status, body in [*replies, *replies]:  # once for each driver
        openai_server.enqueue(status, body)

    async with OpenAIChatModel(
        "m", base_url=openai_server.url, api_key="k", backoff=0.0, max_retries=0
    ) as model:
        summarizer = LLMSummarizer(model, count_words)
        sync = summarizer.summarize(None, FACTS, max_tokens=12)
        asked_sync = [request.json() for request in openai_server.requests]
        asynchronous = await summarizer.asummarize(None, FACTS, max_tokens=12)
        asked_async = [request.json() for request in openai_server.requests[len(asked_sync) :]]

    assert sync == asynchronous == expected
    assert len(asked_sync) == calls
    assert asked_async == asked_sync


@pytest.mark.parametrize("max_tokens", [0, 12])
async def test_nothing_to_fold_asks_nothing_on_either_path(
    openai_server: FakeOpenAIServer, max_tokens: int
) -> None:
    async with OpenAIChatModel("m", base_url=openai_server.url, api_key="k") as model:
        summarizer = LLMSummarizer(model, count_words)
        messages = [] if max_tokens else FACTS
        sync = summarizer.summarize(OLDEST_FIRST, messages, max_tokens=max_tokens)
        asynchronous = await summarizer.asummarize(OLDEST_FIRST, messages, max_tokens=max_tokens)

    assert sync == asynchronous
    assert count_words(sync) <= max_tokens
    assert openai_server.requests == []
