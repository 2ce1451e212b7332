"""Context assembly as a user of the session API meets it: every prompt a context returns is
one the chat APIs accept, and its report tells what it sends."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engram import Engram
from engram.stores.memory import InMemoryConversationStore
from engram.tokens import TokenCounter
from test_context_support import openai_accepts, weather_call

STRATEGIES: list[dict[str, Any]] = [
    {"strategy": "buffer"},
    {"strategy": "window", "last_messages": 10},
    {"strategy": "token_budget"},
    {"strategy": "summary"},
]


@pytest.fixture(params=["sqlite", "memory"])
def mem(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engram]:
    store = tmp_path / "engram.db" if request.param == "sqlite" else InMemoryConversationStore()
    with Engram(store) as engram:
        yield engram


def _counted(result: Any) -> int:
    return TokenCounter.for_model("gpt-4o").count_messages(list(result.messages))


@pytest.mark.parametrize("options", STRATEGIES, ids=lambda o: "-".join(map(str, o.values())))
def test_a_call_waiting_for_its_result_is_not_sent(mem: Engram, options: dict[str, Any]) -> None:
    """(was: the newest message's calls were sent without results, which OpenAI refuses
    with a 400, "An assistant message with 'tool_calls' must be followed by tool messages")"""
    s = mem.session("s1")
    s.add("system", "You are a travel assistant.")
    s.add("user", "Weather in Paris?")
    pending = s.add("assistant", "", tool_calls=[weather_call("c1")])
    result = s.context("gpt-4o", budget=2000, **options)
    sent = result.to_openai()
    assert openai_accepts(sent)
    assert [m["role"] for m in sent] == ["system", "user"]
    assert pending.id in result.report.dropped and pending.id not in result.report.kept
    assert result.report.tokens_after == _counted(result)
    s.add("tool", '{"celsius": 20}', tool_call_id="c1")  # the result is in: both are sent
    sent = s.context("gpt-4o", budget=2000, **options).to_openai()
    assert openai_accepts(sent) and [m["role"] for m in sent[-2:]] == ["assistant", "tool"]
    assert sent[-2]["tool_calls"][0]["id"] == "c1"


@pytest.mark.parametrize("options", STRATEGIES, ids=lambda o: "-".join(map(str, o.values())))
def test_a_waiting_call_s_text_is_sent_without_the_call(
    mem: Engram, options: dict[str, Any]
) -> None:
    s = mem.session("s1")
    s.add("user", "Weather in Paris?")
    said = s.add("assistant", "Checking Paris.", tool_calls=[weather_call("c1")])
    result = s.context("gpt-4o", budget=2000, **options)
    sent = result.to_openai()
    assert openai_accepts(sent)
    assert sent[-1] == {"role": "assistant", "content": "Checking Paris."}
    assert said.id in result.report.kept
    assert result.report.tokens_after == _counted(result)


def test_the_async_context_leaves_a_waiting_call_out_too(mem: Engram) -> None:
    async def scenario() -> list[dict[str, Any]]:
        s = await mem.asession("s1")
        await s.aadd("user", "Weather in Paris?")
        await s.aadd("assistant", "", tool_calls=[weather_call("c1")])
        return (await s.acontext("gpt-4o", budget=2000, strategy="summary")).to_openai()

    sent = asyncio.run(scenario())
    assert openai_accepts(sent) and [m["role"] for m in sent] == ["user"]


@pytest.mark.parametrize("options", STRATEGIES, ids=lambda o: "-".join(map(str, o.values())))
def test_the_report_lists_the_kept_messages_in_the_order_they_are_sent(
    mem: Engram, options: dict[str, Any]
) -> None:
    """(was: a system message said while a call ran is sent after the call's results, but
    the report listed it before them: `kept` was not the order of the messages)"""
    s = mem.session("s1")
    s.add("user", "Weather in Paris?")
    s.add("assistant", "", tool_calls=[weather_call("c1")])
    s.add("system", "Be brief.")  # said while the call ran
    s.add("tool", '{"celsius": 20}', tool_call_id="c1")
    result = s.context("gpt-4o", budget=2000, **options)
    assert [m["role"] for m in result.to_openai()] == ["user", "assistant", "tool", "system"]
    assert list(result.report.kept) == [m.id for m in result.messages]


def test_a_newest_message_of_invisible_characters_recalls_nothing_and_does_not_fail(
    tmp_path: Path,
) -> None:
    with Engram(tmp_path / "zw.db") as mem:
        mem.memories.add("Ana likes green tea", user_id="ana", infer=False)
        session = mem.session("s1", user_id="ana")
        session.add("user", "\u200b\u2060")  # zero-width space and word joiner: no query
        result = session.context(model="gpt-4o", budget=2000, recall=4)
    assert [m.role for m in result.messages] == ["user"]
    assert result.report.recalled == ()


def test_a_newest_message_longer_than_a_query_may_be_recalls_from_its_start(
    tmp_path: Path,
) -> None:
    """(was: the search refuses a query over `MAX_QUERY_LENGTH` characters, and a context's
    recall searched with the whole newest message, so a long paste made `context` raise)"""
    with Engram(tmp_path / "long.db") as mem:
        [tea] = mem.memories.add("Ana likes green tea", user_id="ana", infer=False).added
        session = mem.session("s1", user_id="ana")
        session.add("user", "Which green tea? " + "lorem ipsum " * 2_000)
        result = session.context(model="gpt-4o", budget=8000, recall=4)
    assert tea.id in result.report.recalled
