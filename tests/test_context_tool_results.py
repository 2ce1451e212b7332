"""Tool results as the chat APIs take them: one result per call (a retried tool run logged
twice sends its last), no import of results the conversation had moved on from; and what a
dropped call or a cut leaves of an assistant message of content parts."""

from __future__ import annotations

from typing import Any

import pytest

from engram import Engram, InvalidInputError, Message
from engram.context import buffer, token_budget, window, without_abandoned_calls
from engram.tokens import TokenCounter
from engram.types import ContentPart, ToolCall
from test_context_support import WordCounter, openai_accepts, weather_call, words
from test_context_tool_calls import STRATEGIES, _accounted
from test_context_tool_calls import mem as mem  # the per-backend fixture

pytest_plugins = ["servers"]

_CALL = ToolCall("c1", "weather", "{}")


# 1. Two results for one call.


@pytest.mark.parametrize("spec", STRATEGIES, ids=lambda s: "-".join(map(str, s.values())))
def test_a_result_logged_twice_is_sent_once_the_last(mem: Engram, spec: dict[str, Any]) -> None:
    s = mem.session("s1")
    s.add("user", "Weather in Paris and Rome?")
    s.add("assistant", "", tool_calls=[weather_call("c1"), weather_call("c2", "Rome")])
    failed = s.add("tool", "error: timeout", tool_call_id="c1")
    rome = s.add("tool", "25", tool_call_id="c2")
    retried = s.add("tool", "20", tool_call_id="c1")
    s.add("assistant", "20 in Paris, 25 in Rome.")
    result = s.context("gpt-4o", budget=2000, **spec)
    sent = [m.id for m in result.messages]
    assert failed.id not in sent and {rome.id, retried.id} <= set(sent)
    assert failed.id in result.report.dropped
    assert openai_accepts(result.to_openai())
    _accounted(result, s.info().message_count)
    priming = TokenCounter.for_model("gpt-4o").reply_tokens
    assert result.report.tokens_before == s.info().token_count + priming


def _retried() -> list[Message]:
    calls = (ToolCall("c1", "weather", "{}"), ToolCall("c2", "weather", "{}"))
    return [
        Message(role="user", content="Weather in Paris and Rome?", id="u1"),
        Message(role="assistant", content="", tool_calls=calls, id="a1"),
        Message(role="tool", content="error: timeout", tool_call_id="c1", id="t1"),
        Message(role="system", content="Be brief.", id="s1"),
        Message(role="tool", content="25", tool_call_id="c2", id="t2"),
        Message(role="tool", content="20", tool_call_id="c1", id="t3"),
        Message(role="assistant", content="20 and 25.", id="a2"),
    ]


@pytest.mark.parametrize("strategy", ["buffer", "window", "token_budget"])
def test_the_strategies_send_the_last_result_of_a_call(strategy: str) -> None:
    counter = WordCounter()
    if strategy == "buffer":
        result = buffer(_retried(), counter)
    elif strategy == "window":
        result = window(_retried(), counter, last_messages=10)
    else:
        result = token_budget(_retried(), counter, budget=500)
    assert [m.id for m in result.messages] == ["u1", "a1", "t2", "t3", "s1", "a2"]
    assert result.report.dropped == ("t1",)
    assert openai_accepts(result.to_openai())


def test_without_abandoned_calls_keeps_the_last_result_of_a_call() -> None:
    kept = without_abandoned_calls(_retried())
    assert [m.id for m in kept] == ["u1", "a1", "s1", "t2", "t3", "a2"]


# 2. Importing results the conversation had moved on from.


def _late_export(mem: Engram) -> dict[str, Any]:
    """An export whose tool result comes after the user spoke again."""
    s = mem.session("s1")
    s.add("user", "Weather in Paris?")
    s.add("assistant", "", tool_calls=[weather_call("c1")])
    s.add("tool", "20", tool_call_id="c1")
    data = s.export()
    messages = data["messages"]
    hurry = {**messages[0], "id": "hurry", "content": "Hurry up.", "seq": 3}
    messages[2]["seq"] = 4
    data["messages"] = [*messages[:2], hurry, messages[2]]
    return data


def test_an_import_refuses_a_result_that_comes_too_late(mem: Engram) -> None:
    data = _late_export(mem)
    with pytest.raises(InvalidInputError, match="too late for their call"):
        mem.import_session(data, session_id="s2")
    assert [info.id for info in mem.sessions()] == ["s1"]


def test_an_import_takes_results_after_a_system_message_said_meanwhile(mem: Engram) -> None:
    s = mem.session("s1")
    s.add("user", "Weather in Paris and Rome?")
    s.add("assistant", "", tool_calls=[weather_call("c1"), weather_call("c2", "Rome")])
    s.add("tool", "20", tool_call_id="c1")
    s.add("system", "Be brief.")
    s.add("tool", "25", tool_call_id="c2")
    mem.import_session(s.export(), session_id="s2")
    copied = mem.session("s2").messages()
    assert [m.role for m in copied] == ["user", "assistant", "tool", "system", "tool"]


# 3. What a dropped call or a cut leaves of an assistant message of content parts.


def test_an_assistant_message_of_output_text_keeps_it_when_its_call_is_abandoned() -> None:
    """The Responses API's `output_text` parts are text too: not an empty message."""
    said = ContentPart(type="output_text", text="Let me check.")
    messages = [
        Message(role="user", content="Weather?", id="u1"),
        Message(role="assistant", content=(said,), tool_calls=(_CALL,), id="a1"),
        Message(role="user", content="Never mind.", id="u2"),
    ]
    kept = without_abandoned_calls(messages)
    assert [m.id for m in kept] == ["u1", "a1", "u2"]
    assert kept[1].content == (said,) and kept[1].tool_calls == ()


def test_a_cut_keeps_a_thinking_block_before_the_text() -> None:
    """Anthropic wants an assistant turn's thinking block first, before its text."""
    thinking = ContentPart(type="thinking", extra={"thinking": "Call it.", "signature": "x"})
    texts = (ContentPart(type="text", text=words(400)), ContentPart(type="text", text="more"))
    messages = [
        Message(role="user", content="Weather?", id="u1"),
        Message(role="assistant", content=(thinking, *texts), tool_calls=(_CALL,), id="a1"),
        Message(role="tool", content="20", tool_call_id="c1", id="t1"),
    ]
    result = token_budget(messages, WordCounter(), budget=150)
    assert result.report.truncated == ("a1",)
    cut = result.messages[1].content
    assert isinstance(cut, tuple) and [part.type for part in cut] == ["thinking", "text"]
    assert cut[0] == thinking and cut[1].text is not None and cut[1].text.startswith("w w")
