"""The strategies called directly send what the chat APIs accept, as a session's do: no call
left unanswered, no orphan result, one result per call (the last), in OpenAI's shape or
Anthropic's; and a newest result of text blocks is cut like one of a string."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from engram import BudgetExceededError
from engram.context import (
    ContextResult,
    buffer,
    token_budget,
    window,
    without_abandoned_calls,
)
from engram.types import ContentPart, Message, ToolCall
from test_context_anthropic import assert_anthropic_accepts
from test_context_anthropic_tool_pairs import anthropic_shaped, calls, result, results, say
from test_context_properties import PROPERTY_SETTINGS, conversations
from test_context_support import WordCounter, ids, openai_accepts, words

Strategy = Callable[[list[Message]], ContextResult]

STRATEGIES: dict[str, Strategy] = {
    "buffer": lambda messages: buffer(messages, WordCounter()),
    "window": lambda messages: window(messages, WordCounter(), last_messages=50),
    "token_budget": lambda messages: token_budget(messages, WordCounter(), budget=10_000),
}


def assert_accepted(context: ContextResult) -> None:
    assert openai_accepts(context.to_openai()), context.to_openai()
    assert_anthropic_accepts(context.to_anthropic())


def openai_call(*ids_: str, **fields: Any) -> Message:
    tools = tuple(ToolCall(id=i, name="lookup", arguments="{}") for i in ids_)
    return Message(role="assistant", content="Checking.", tool_calls=tools, **fields)


def tool(call: str, text: str = "result", **fields: Any) -> Message:
    return Message(role="tool", content=text, tool_call_id=call, **fields)


def partly_answered_openai() -> list[Message]:
    return [
        say("user", "Paris and Rome?", id="u1"),
        openai_call("c1", "c2", id="a1"),
        tool("c1", id="t1"),
        say("user", "Thanks", id="u2"),
    ]


def partly_answered_anthropic() -> list[Message]:
    return [
        say("user", "Paris and Rome?", id="u1"),
        calls("c1", "c2", text="Both.", id="a1"),
        results(result("c1", "sunny"), id="r1"),
        say("user", "Thanks", id="u2"),
    ]


def abandoned_anthropic() -> list[Message]:
    """A call the conversation went on without, then its result, too late."""
    return [
        say("user", "Paris?", id="u1"),
        calls("c1", id="a1"),
        say("user", "Never mind.", id="u2"),
        results(result("c1", "sunny"), id="r1"),
        say("assistant", "OK.", id="a2"),
        say("user", "Thanks", id="u3"),
    ]


HISTORIES = {
    "partly answered, OpenAI": partly_answered_openai,
    "partly answered, Anthropic": partly_answered_anthropic,
    "abandoned, Anthropic": abandoned_anthropic,
    "abandoned, OpenAI": lambda: [
        say("user", "Paris?", id="u1"),
        openai_call("c1", id="a1"),
        say("user", "Never mind.", id="u2"),
    ],
}


# 1. Called directly, every strategy leaves out what a session's cleanup leaves out.


@pytest.mark.parametrize("history", HISTORIES)
@pytest.mark.parametrize("name", STRATEGIES)
def test_a_strategy_called_directly_sends_no_unanswered_call(name: str, history: str) -> None:
    """(was: buffer, window and token_budget sent c2, or c1 abandoned, unanswered)"""
    messages = HISTORIES[history]()
    context = STRATEGIES[name](messages)
    assert_accepted(context)
    cleaned = STRATEGIES[name](without_abandoned_calls(messages))
    assert context.messages == cleaned.messages  # what a session, cleaning first, sends
    assert context.report.tokens_after == cleaned.report.tokens_after


def test_a_message_left_out_whole_is_reported_dropped() -> None:
    messages = abandoned_anthropic()
    context = buffer(messages, WordCounter())
    assert ids(context.messages) == ["u1", "u2", "a2", "u3"]
    assert set(context.report.dropped) == {"a1", "r1"}


def test_a_partly_answered_call_keeps_its_text_and_answered_call() -> None:
    context = window(partly_answered_anthropic(), WordCounter(), last_messages=3)
    [first, *_] = context.messages
    assert first.id == "a1"
    assert [part.type for part in first.content] == ["text", "tool_use"]
    assert ids(context.messages) == ["a1", "r1", "u2"]


# 2. One result per call in Anthropic's shape too: the last.


def retried_in_one_message() -> list[Message]:
    return [
        say("user", "Paris?", id="u1"),
        calls("c1", id="a1"),
        results(result("c1", "timeout"), result("c1", "sunny"), id="r1"),
    ]


def retried_in_two_messages() -> list[Message]:
    return [
        say("user", "Paris?", id="u1"),
        calls("c1", id="a1"),
        results(result("c1", "timeout"), id="r1"),
        results(result("c1", "sunny"), id="r2"),
    ]


@pytest.mark.parametrize("retried", [retried_in_one_message, retried_in_two_messages])
@pytest.mark.parametrize("name", STRATEGIES)
def test_a_retried_tool_result_part_sends_the_last(name: str, retried: Any) -> None:
    """(was: both results sent for c1, which both APIs refuse)"""
    context = STRATEGIES[name](retried())
    assert_accepted(context)
    sent = [m for m in context.to_openai() if m["role"] == "tool"]
    assert [m["content"] for m in sent] == ["sunny"]
    [*_, last] = without_abandoned_calls(retried())
    assert [part.extra["content"] for part in last.content] == ["sunny"]


def test_a_retried_result_logged_apart_is_reported_dropped() -> None:
    context = buffer(retried_in_two_messages(), WordCounter())
    assert ids(context.messages) == ["u1", "a1", "r2"]
    assert context.report.dropped == ("r1",)


# 3. A newest result of text blocks is cut like one of a string.


def test_a_newest_result_of_text_blocks_is_cut_to_fit() -> None:
    """(was: a result whose content is blocks stayed whole: over the budget, or refused)"""
    blocks = [{"type": "text", "text": words(300, "rain")}, {"type": "text", "text": "end"}]
    block_result = ContentPart(type="tool_result", extra={"tool_use_id": "c1", "content": blocks})
    messages = [say("user", "Paris?", id="u1"), calls("c1", id="a1")]
    messages.append(results(block_result, id="r1"))
    counter = WordCounter()
    context = token_budget(messages, counter, budget=120)
    assert "r1" in context.report.truncated
    assert context.report.tokens_after <= 120
    [sent] = [m for m in context.messages if m.id == "r1"]
    assert not isinstance(sent.content, str)
    [part] = sent.content
    kept = part.extra["content"]
    assert [block["type"] for block in kept] == ["text", "text"]
    assert "[… truncated" in kept[0]["text"]
    assert kept[0]["text"].startswith("rain rain")
    assert_accepted(context)


# Properties: calls abandoned or partly answered at random, in either shape.


def with_results_removed(messages: list[Message], removed: list[bool]) -> list[Message]:
    """`messages` without the tool messages whose flag in `removed` (cycled) is set."""
    flags = iter(removed * (len(messages) + 1))
    return [m for m in messages if m.role != "tool" or not next(flags)]


@PROPERTY_SETTINGS
@given(
    messages=conversations(),
    removed=st.lists(st.booleans(), min_size=1, max_size=6),
    shape=st.sampled_from(["openai", "anthropic", "anthropic mixed"]),
    size=st.floats(0.1, 1.2),
)
def test_every_strategy_called_directly_sends_what_the_apis_accept(
    messages: list[Message], removed: list[bool], shape: str, size: float
) -> None:
    broken = with_results_removed(messages, removed)
    if shape != "openai":
        broken = anthropic_shaped(broken, mixed=shape == "anthropic mixed")
    counter = WordCounter()
    total = buffer(broken, counter).report.tokens_after
    contexts = [buffer(broken, counter), window(broken, counter, last_messages=4)]
    try:
        contexts.append(token_budget(broken, counter, budget=max(1, round(size * total))))
    except BudgetExceededError:
        event("budget exceeded")
    cleaned = without_abandoned_calls(broken)
    assert without_abandoned_calls(cleaned) == cleaned  # a session's strategy cleans again
    for context in contexts:
        assert openai_accepts(context.to_openai())
        if context.messages and context.messages[0].role in ("user", "system"):
            assert_anthropic_accepts(context.to_anthropic())
        assert {m.id for m in context.messages} <= {m.id for m in cleaned}


# 4. A question typed with the newest results is kept like the newest user message.


def test_a_question_typed_with_the_newest_results_keeps_its_floor() -> None:
    """(was: the results' unit was cut to markers, the user's question with it)"""
    question = ContentPart(type="text", text="And is it raining in Rome today?")
    messages = [
        say("user", "Weather in Paris?", id="u1"),
        calls("c1", id="a1"),
        results(result("c1", words(300, "sunny")), question, id="r1"),
    ]
    context = token_budget(messages, WordCounter(), budget=60)
    assert "r1" in context.report.truncated
    assert context.report.tokens_after <= 60
    [sent] = [m for m in context.messages if m.id == "r1"]
    assert sent.text == question.text
    [answer] = [p for p in sent.content if p.type == "tool_result"]
    assert "[… truncated" in answer.extra["content"]
    assert_accepted(context)


def test_a_long_question_typed_with_results_keeps_its_start_and_end() -> None:
    said = ContentPart(type="text", text=f"start {words(100, 'x')} end?")
    messages = [say("user", "Paris?", id="u1"), calls("c1", id="a1")]
    messages.append(results(result("c1", words(300, "sunny")), said, id="r1"))
    context = token_budget(messages, WordCounter(), budget=90)
    [sent] = [m for m in context.messages if m.id == "r1"]
    assert sent.text.startswith("start x") and sent.text.endswith("end?")
    assert "[… truncated" in sent.text
