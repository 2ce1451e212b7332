"""Tool calls in sessions and contexts: what is stored, what is sent, what is reported, on
every backend; and the user a session is opened for."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engram import Engram, InvalidInputError, Message
from engram.context import buffer, token_budget, window, without_abandoned_calls
from engram.tokens import TokenCounter
from engram.types import ToolCall
from servers import fresh_store
from test_context_support import WordCounter, openai_accepts, weather_call

pytest_plugins = ["servers"]

STRATEGIES: list[dict[str, Any]] = [
    {"strategy": "buffer"},
    {"strategy": "window", "last_messages": 50},
    {"strategy": "window", "last_turns": 5},
    {"strategy": "token_budget"},
    {"strategy": "summary"},
]


@pytest.fixture(params=["sqlite-file", "memory", "postgres", "redis"])
def mem(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engram]:
    """An Engram on each backend's conversation store."""
    with fresh_store(request, tmp_path, "ConversationStore") as store, Engram(store) as engram:
        yield engram


def _accounted(result: Any, session_messages: int) -> None:
    """The report names every message of the session once: kept, dropped or summarised."""
    report = result.report
    listed = [*report.kept, *report.dropped, *report.summarized]
    assert len(listed) == len(set(listed))
    assert report.message_count == session_messages


# 1. The report accounts for the messages `without_abandoned_calls` takes out.


@pytest.mark.parametrize("spec", STRATEGIES, ids=lambda s: "-".join(map(str, s.values())))
def test_a_message_of_abandoned_calls_is_reported_dropped(
    mem: Engram, spec: dict[str, Any]
) -> None:
    s = mem.session("s1")
    s.add("system", "You are a travel assistant.")
    s.add("user", "Weather in Paris?")
    abandoned = s.add("assistant", "", tool_calls=[weather_call("c1")])
    s.add("user", "Never mind, what about Rome?")
    s.add("assistant", "Rome is sunny.")
    result = s.context("gpt-4o", budget=2000, **spec)
    assert abandoned.id not in {m.id for m in result.messages}
    assert abandoned.id in result.report.dropped
    _accounted(result, s.info().message_count)
    assert openai_accepts(result.to_openai())
    priming = TokenCounter.for_model("gpt-4o").reply_tokens
    assert result.report.tokens_before == s.info().token_count + priming


def test_a_summary_report_accounts_for_abandoned_calls_once_folded(mem: Engram) -> None:
    s = mem.session("s1")
    s.add("system", "You are a travel assistant.")
    for i in range(30):
        s.add("user", f"Question {i} about the trip " + "detail " * 20)
        if i == 3:
            s.add("assistant", "", tool_calls=[weather_call("c1")])  # abandoned
            continue
        s.add("assistant", f"Answer {i} " + "detail " * 20)
    for _ in range(2):  # the second reads the stored summary
        result = s.context("gpt-4o", budget=900, strategy="summary")
        assert result.report.summarized_count
        _accounted(result, s.info().message_count)
        assert openai_accepts(result.to_openai())


# 2. Tool-call ids: empty, repeated in one message, repeated across messages.


@pytest.mark.parametrize("spec", STRATEGIES, ids=lambda s: "-".join(map(str, s.values())))
@pytest.mark.parametrize("other", ["", "c1"], ids=["empty-id", "same-id"])
def test_a_call_no_result_can_answer_is_stored_but_never_sent(
    mem: Engram, spec: dict[str, Any], other: str
) -> None:
    """An empty id (LangChain's `id=None`), or an id a call of the message has already: no
    tool message can answer it (a result needs a non-empty id, and answers the first)."""
    s = mem.session("s1")
    s.add("user", "Weather in Paris and Rome?")
    asked = s.add(
        "assistant", "On it.", tool_calls=[weather_call("c1"), weather_call(other, "Rome")]
    )
    s.add("tool", "20", tool_call_id="c1")
    s.add("user", "Thanks.")
    assert [c.id for c in s.messages()[1].tool_calls] == ["c1", other]  # stored as given
    result = s.context("gpt-4o", budget=2000, **spec)
    sent = result.to_openai()
    assert openai_accepts(sent)
    assert [c["id"] for c in sent[1]["tool_calls"]] == ["c1"]
    assert asked.id in result.report.kept
    _accounted(result, s.info().message_count)


@pytest.mark.parametrize("spec", STRATEGIES, ids=lambda s: "-".join(map(str, s.values())))
def test_an_id_reused_by_a_later_message_pairs_each_call_with_its_own_result(
    mem: Engram, spec: dict[str, Any]
) -> None:
    """Local model servers number calls per message (`call_0` each time)."""
    s = mem.session("s1")
    s.add("user", "Weather in Paris?")
    first = s.add("assistant", "", tool_calls=[weather_call("call_0")])  # never answered
    s.add("user", "Rome instead.")
    second = s.add("assistant", "", tool_calls=[weather_call("call_0", "Rome")])
    answer = s.add("tool", '{"celsius": 25}', tool_call_id="call_0")
    s.add("assistant", "25 degrees in Rome.")
    result = s.context("gpt-4o", budget=2000, **spec)
    sent = [m.id for m in result.messages]
    assert first.id not in sent and sent.index(second.id) + 1 == sent.index(answer.id)
    assert first.id in result.report.dropped
    assert openai_accepts(result.to_openai())
    _accounted(result, s.info().message_count)


# 2. A result far from its call.


def test_a_result_after_the_conversation_went_on_is_refused(mem: Engram) -> None:
    s = mem.session("s1")
    s.add("user", "Weather in Paris?")
    s.add("assistant", "", tool_calls=[weather_call("c1")])
    s.add("user", "Hurry up.")
    with pytest.raises(InvalidInputError, match="too late for their call"):
        s.add("tool", '{"celsius": 20}', tool_call_id="c1")
    with pytest.raises(InvalidInputError, match="answer no tool call"):
        s.add("tool", '{"celsius": 20}', tool_call_id="c9")
    assert [m.role for m in s.messages()] == ["user", "assistant", "user"]


def test_results_may_follow_a_system_message_said_while_the_calls_ran(mem: Engram) -> None:
    s = mem.session("s1")
    s.add("user", "Weather in Paris and Rome?")
    s.add("assistant", "", tool_calls=[weather_call("c1"), weather_call("c2", "Rome")])
    s.add("system", "Be brief.")
    s.add("tool", "20", tool_call_id="c1")
    s.add("tool", "25", tool_call_id="c2")
    sent = s.context("gpt-4o", budget=2000).to_openai()
    assert openai_accepts(sent) and [m["role"] for m in sent[-3:]] == ["tool", "tool", "system"]


def test_results_and_their_call_may_come_in_one_add(mem: Engram) -> None:
    s = mem.session("s1")
    s.add_messages(
        [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": "", "tool_calls": [weather_call("c1")]},
            {"role": "tool", "content": "20", "tool_call_id": "c1"},
        ]
    )
    with pytest.raises(InvalidInputError, match="too late"):
        s.add_messages(
            [
                {"role": "assistant", "content": "", "tool_calls": [weather_call("c2")]},
                {"role": "user", "content": "Hurry."},
                {"role": "tool", "content": "21", "tool_call_id": "c2"},
            ]
        )
    assert len(s.messages()) == 3


# 2. The pure strategies given such a history (an old store, an import, a caller's own list).


def _messy() -> list[Message]:
    call = ToolCall("c1", "weather", "{}")
    return [
        Message(role="user", content="Weather in Paris?", id="u1"),
        Message(role="assistant", content="", tool_calls=(call,), id="a1"),
        Message(role="user", content="Hurry up.", id="u2"),
        Message(role="assistant", content="Still checking.", id="a2"),
        Message(role="tool", content="20 degrees", tool_call_id="c1", id="t1"),  # far away
        Message(role="tool", content="21 degrees", tool_call_id="c1", id="t2"),
    ]


@pytest.mark.parametrize("strategy", ["buffer", "window", "token_budget"])
def test_the_strategies_never_send_a_result_away_from_its_call(strategy: str) -> None:
    counter = WordCounter()
    messages = _messy()
    if strategy == "buffer":
        result = buffer(messages, counter)
    elif strategy == "window":
        result = window(messages, counter, last_messages=3)
    else:
        result = token_budget(messages, counter, budget=500)
    assert [m.role for m in result.messages if m.role == "tool"] == []
    assert {"t1", "t2"} <= set(result.report.dropped)
    assert len(result.report.kept) + len(result.report.dropped) == len(messages)


def test_without_abandoned_calls_pairs_calls_and_results_by_position() -> None:
    kept = without_abandoned_calls(_messy())
    assert [m.id for m in kept] == ["u1", "u2", "a2"]
    assert openai_accepts([m.to_openai() for m in kept])


def test_without_abandoned_calls_leaves_out_the_newest_calls_still_pending() -> None:
    """(was: the newest message's calls were kept, a prompt OpenAI refuses)"""
    pending = Message(role="assistant", content="", tool_calls=(ToolCall("c2", "f"),), id="a3")
    kept = without_abandoned_calls([*_messy(), pending])
    assert [m.id for m in kept] == ["u1", "u2", "a2"]
    assert openai_accepts([m.to_openai() for m in kept])


# 3. Opening a session without a user for a user.


def test_a_session_created_without_a_user_is_not_opened_for_one(mem: Engram) -> None:
    mem.session("s1").add("user", "hi")
    with pytest.raises(InvalidInputError, match="created with no user_id"):
        mem.session("s1", user_id="ana")
    assert mem.session("s1").info().user_id is None
    assert mem.sessions(user_id="ana") == []
    mem.session("s2", user_id="ana")
    assert mem.session("s2", user_id="ana").info().user_id == "ana"
    assert mem.session("s2").info().user_id == "ana"  # opened without one: still hers


def test_a_session_is_opened_only_for_the_agent_it_was_made_for(mem: Engram) -> None:
    mem.session("s1", user_id="ana", agent_id="planner").add("user", "hi")
    with pytest.raises(InvalidInputError, match="belongs to another agent"):
        mem.session("s1", agent_id="critic")
    assert mem.session("s1", user_id="ana", agent_id="planner").info().agent_id == "planner"
    assert mem.session("s1").info().agent_id == "planner"  # opened without one: still its
    mem.session("s2").add("user", "hi")
    with pytest.raises(InvalidInputError, match="created with no agent_id"):
        mem.session("s2", agent_id="planner")


def test_metadata_counts_towards_a_messages_size(mem: Engram) -> None:
    session = mem.session("big")
    with pytest.raises(InvalidInputError, match="over the limit"):
        session.add("user", "hi", metadata={"artifact": "x" * 1_100_000})
    assert session.messages() == []
    session.add("user", "hi", metadata={"artifact": "x" * 1_000})
    assert [m.text for m in session.messages()] == ["hi"]
