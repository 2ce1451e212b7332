"""Contexts of one chat built at once pay for one fold, counted at the HTTP server.

A web server answering two requests of one chat at once builds two `summary` contexts at
once. Both read no summary and both have the same messages to fold; they used to both ask
the model, and the second to store its summary lost the compare-and-set, so one summary
was paid for twice. Now the second waits for the fold in progress and sends the summary the
first one stored; a context of another chat never waits for it.

The fake server's `Gate` makes the contexts overlap without sleeping: it holds every
summarize request until each context has read the stored summary (no summary yet, so each
has something to fold). A context tells it so by its request (the old code) or by the debug
record it logs before waiting for a fold in progress (`_session_flows._fold_turn`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from engram import Engram
from engram._exceptions import ProviderError
from engram.context import SUMMARY_PREFIX, ContextResult
from engram.providers import LLMSummarizer, OpenAIChatModel, SummarizerProtocol
from engram.stores.redis import RedisConversationStore
from engram.types import Message
from openai_server import (
    FakeOpenAIServer,
    ReceivedRequest,
    ScriptedResponse,
    chat_completion_body,
    error_body,
)
from test_summary_calls import BUDGET, O200K, meeting, obedient

pytest_plugins = ["openai_server", "servers"]

SAFETY = 30.0
"""Seconds after which a held request is answered anyway (the test then fails): a bound on
a hang, never a timing the test relies on."""


class Gate(logging.Handler):
    """Holds every summarize request until `contexts` contexts have read the stored summary,
    and the first context of each of `chats` chats has sent its request (a context never
    waits for another chat's fold)."""

    def __init__(
        self, contexts: int, chats: int, answer: Callable[[int, ReceivedRequest], ScriptedResponse]
    ):
        super().__init__(logging.DEBUG)
        self.contexts, self.chats, self.answer = contexts, chats, answer
        self.requests = 0
        self.answered = 0
        self.answered_before: list[int] = []
        """For each request, how many requests had been answered when it arrived."""
        self.waiting = 0
        self.opened = threading.Event()
        self.held_until_open: list[bool] = []
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if "waiting for any fold" in record.getMessage():
            with self._guard:
                self.waiting += 1
                self._check()

    def handle_request(self, request: ReceivedRequest) -> ScriptedResponse:
        with self._guard:
            self.requests += 1
            number = self.requests
            self.answered_before.append(self.answered)
            self._check()
        self.held_until_open.append(self.opened.wait(SAFETY))
        response = self.answer(number, request)
        with self._guard:
            self.answered += 1
        return response

    def _check(self) -> None:
        if self.requests >= self.contexts or (
            self.waiting >= self.contexts and self.requests >= self.chats
        ):
            self.opened.set()


@contextmanager
def gated(
    server: FakeOpenAIServer,
    contexts: int,
    chats: int = 1,
    answer: Callable[[int, ReceivedRequest], ScriptedResponse] | None = None,
) -> Iterator[Gate]:
    gate = Gate(contexts, chats, answer or (lambda number, request: obedient(request)))
    logger = logging.getLogger("engram")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(gate)
    server.handler = gate.handle_request
    try:
        yield gate
    finally:
        logger.removeHandler(gate)
        logger.setLevel(level)
    assert gate.held_until_open and all(gate.held_until_open)  # they did overlap


class Raising:
    """A summarizer that lets the model's error out (`LLMSummarizer` falls back instead)."""

    def __init__(self, chat: OpenAIChatModel) -> None:
        self.chat = chat

    def summarize(
        self, previous: str | None, messages: Sequence[Message], *, max_tokens: int
    ) -> str:
        return self.chat.complete(_prompt(messages), max_tokens=max_tokens).text

    async def asummarize(
        self, previous: str | None, messages: Sequence[Message], *, max_tokens: int
    ) -> str:
        return (await self.chat.acomplete(_prompt(messages), max_tokens=max_tokens)).text


def _prompt(messages: Sequence[Message]) -> list[dict[str, Any]]:
    return [{"role": "user", "content": "\n".join(m.text for m in messages)}]


Opener = Callable[[SummarizerProtocol], Engram]


@pytest.fixture(params=["sqlite", "postgres", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def opener(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """Opens an Engram on one store: each Engram opened shares it, as processes would."""
    if backend == "redis":
        import redis

        client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
        request.addfinalizer(client.close)
        prefix = request.getfixturevalue("redis_prefix")
        return lambda s: Engram(RedisConversationStore(client, prefix=prefix), summarizer=s)
    if backend == "postgres":
        url = request.getfixturevalue("postgres_clean_database")
        return lambda s: Engram(url, summarizer=s)
    return lambda s: Engram(str(tmp_path / "e.db"), summarizer=s)


@pytest.fixture
async def chat(openai_server: FakeOpenAIServer) -> AsyncIterator[OpenAIChatModel]:
    async with OpenAIChatModel(
        "summarizer", base_url=openai_server.url, api_key="k", backoff=0.0, max_retries=0
    ) as model:
        yield model


@pytest.fixture
def mem(opener: Opener, chat: OpenAIChatModel) -> Iterator[Engram]:
    with opener(LLMSummarizer(chat, O200K.count_text)) as engram:
        for chat_id in ("s1", "s2"):
            talk(engram, chat_id)
        yield engram


def talk(mem: Engram, chat_id: str) -> None:
    s = mem.session(chat_id)
    s.add("system", "Ты помощник.")
    for i in range(40):
        s.add("user", meeting(i))
        s.add("assistant", f"Хорошо, записал встречу {i}.")


OPTIONS: dict[str, Any] = {"model": "gpt-4o", "budget": BUDGET, "strategy": "summary"}


def in_threads(builds: Sequence[Callable[[], ContextResult]]) -> list[Any]:
    """Each build's result, or the exception it raised, as `gather(return_exceptions=True)`."""
    with ThreadPoolExecutor(len(builds)) as pool:
        futures = [pool.submit(build) for build in builds]
        return [future.exception(2 * SAFETY) or future.result() for future in futures]


async def build_all(mems: Sequence[Engram], chat_ids: Sequence[str], sync: bool) -> list[Any]:
    """Build a context of each chat at once (each on its Engram): in threads, or tasks."""
    pairs = list(zip(mems, chat_ids, strict=True))
    if sync:
        builds = [lambda m=m, c=c: m.session(c).context(**OPTIONS) for m, c in pairs]
        return await asyncio.to_thread(in_threads, builds)
    tasks = (m.session(c).acontext(**OPTIONS) for m, c in pairs)
    return await asyncio.gather(*tasks, return_exceptions=True)


def summary_of(result: ContextResult) -> str:
    [summary] = [m.text for m in result.messages if m.text.startswith(SUMMARY_PREFIX)]
    assert result.report.summarized_count > 0
    return summary


@pytest.mark.parametrize("sync", [True, False])
async def test_two_contexts_of_one_chat_at_once_make_one_fold(
    openai_server: FakeOpenAIServer, mem: Engram, sync: bool
) -> None:
    with gated(openai_server, contexts=3, chats=2):
        first, second, other = await build_all([mem] * 3, ["s1", "s1", "s2"], sync)

    assert len(openai_server.requests) == 2  # one fold per chat
    assert summary_of(first) == summary_of(second)  # the second sent the one stored
    assert summary_of(other)


@pytest.mark.parametrize("sync", [True, False])
@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)  # Redis holds none
async def test_engrams_sharing_a_store_that_holds_keys_take_turns_too(
    openai_server: FakeOpenAIServer,
    opener: Opener,
    mem: Engram,
    chat: OpenAIChatModel,
    sync: bool,
) -> None:
    with opener(LLMSummarizer(chat, O200K.count_text)) as elsewhere:
        with gated(openai_server, contexts=2):
            first, second = await build_all([mem, elsewhere], ["s1", "s1"], sync)

    assert len(openai_server.requests) == 1
    assert summary_of(first) == summary_of(second)


@pytest.mark.parametrize("sync", [True, False])
async def test_a_failed_fold_hands_the_turn_to_the_waiting_context(
    openai_server: FakeOpenAIServer, opener: Opener, chat: OpenAIChatModel, sync: bool
) -> None:
    def answer(number: int, request: ReceivedRequest) -> ScriptedResponse:
        if number == 1:
            return ScriptedResponse(500, error_body("overloaded", kind="server_error"))
        return ScriptedResponse(200, chat_completion_body("Встречи с Анной Петровной."))

    with opener(Raising(chat)) as mem:
        talk(mem, "s1")
        with gated(openai_server, contexts=2, answer=answer) as gate:
            outcomes = await build_all([mem, mem], ["s1", "s1"], sync)

    failed = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    built = [outcome for outcome in outcomes if isinstance(outcome, ContextResult)]
    assert len(failed) == 1 and isinstance(failed[0], ProviderError)
    assert summary_of(built[0]).endswith("Встречи с Анной Петровной.")
    assert gate.answered_before == [0, 1]  # the second fold waited for the first to fail
