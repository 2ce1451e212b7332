"""`EngramChatMessageHistory`: LangChain messages in an Engram session, on a SQLite file (and
on every backend, for the round trip of every message type and for `clear`)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    HumanMessageChunk,
    SystemMessage,
    ToolMessage,
    messages_from_dict,
    messages_to_dict,
)

from engram import Engram
from engram._exceptions import InvalidInputError
from engram.integrations.langchain import EngramChatMessageHistory
from engram.tokens import TokenCounter
from servers import fresh_store

pytest_plugins = ["servers"]

CONVERSATION: list[BaseMessage] = [
    SystemMessage("You are a travel assistant."),
    HumanMessage("What's the weather in Lisbon?", name="ana"),
    AIMessage("", tool_calls=[{"name": "weather", "args": {"city": "Lisbon"}, "id": "call_1"}]),
    ToolMessage("sunny, 24C", tool_call_id="call_1"),
    AIMessage("Sunny and 24C."),
    HumanMessage(
        content=[
            {"type": "text", "text": "And this photo?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/tram.png"}},
        ]
    ),
]


EVERY_FIELD: list[BaseMessage] = [
    SystemMessage("You are terse.", id="m-0", additional_kwargs={"cache": True}),
    ChatMessage("Answer in French.", role="developer", name="ops"),
    HumanMessage("Weather?", name="ana", id="m-1", response_metadata={"client": [1, 2]}),
    HumanMessage(
        [
            "Look:",  # a bare string among the parts, as LangChain allows
            {"type": "image", "source_type": "url", "url": "https://example.com/a.png"},
            {"type": "text", "text": "this", "cache_control": {"type": "ephemeral"}},
        ]
    ),
    AIMessage(
        [
            {"type": "thinking", "thinking": "The user wants...", "signature": "sig=="},
            {"type": "text", "text": "Checking."},
            {"type": "refusal", "refusal": "Not that part."},
        ],
        tool_calls=[
            {"name": "weather", "args": {"city": "Lisbon", "days": [1, 2]}, "id": "call_1"},
            {"name": "clock", "args": {}, "id": None},
        ],
        invalid_tool_calls=[{"name": "x", "args": "{bad", "id": "call_9", "error": "bad"}],
        additional_kwargs={"reasoning": {"id": "rs_1", "summary": []}},
        response_metadata={"model_name": "gpt-4o", "finish_reason": "tool_calls"},
        usage_metadata={"input_tokens": 10, "output_tokens": 5, "total_tokens": 15},
        id="run-1",
        name="agent",
    ),
    ToolMessage(
        [{"type": "text", "text": "API timeout"}, "retry later"],
        tool_call_id="call_1",
        status="error",
        artifact={"raw": {"code": 504}},
        name="weather",
        id="m-3",
    ),
    AIMessageChunk(
        "Let me retry.",
        tool_call_chunks=[
            {"name": "weather", "args": '{"city": "Lisbon"}', "id": "c2", "index": 0}
        ],
        chunk_position="last",
    ),
    ToolMessage("sunny", tool_call_id="c2"),
    HumanMessageChunk("thanks"),
    ChatMessage("and tomorrow?", role="user"),
    AIMessage(""),
]
"""Every LangChain message type Engram stores, each with every field it has."""


def as_langchain_stores(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """What LangChain's own SQL history gives back (`message_to_dict`, JSON, and back)."""
    return messages_from_dict(json.loads(json.dumps(messages_to_dict(list(messages)))))


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Engram]:
    with Engram(tmp_path / "engram.db") as engram:
        yield engram


@pytest.fixture(params=["sqlite-file", "memory", "postgres", "redis"])
def any_mem(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engram]:
    """An Engram on each backend's conversation store (the servers only for their params)."""
    with fresh_store(request, tmp_path, "ConversationStore") as store, Engram(store) as engram:
        yield engram


def fields(message: BaseMessage) -> tuple[object, ...]:
    return (
        message.type,
        message.content,
        message.name,
        getattr(message, "tool_calls", None),
        getattr(message, "tool_call_id", None),
    )


def test_it_is_a_langchain_history(mem: Engram) -> None:
    assert isinstance(EngramChatMessageHistory(mem, "s1"), BaseChatMessageHistory)


def test_messages_round_trip(mem: Engram) -> None:
    EngramChatMessageHistory(mem, "s1", user_id="ana").add_messages(CONVERSATION)
    reopened = EngramChatMessageHistory(mem, "s1", user_id="ana")
    assert [fields(m) for m in reopened.messages] == [fields(m) for m in CONVERSATION]
    stored = mem.session("s1").messages()
    assert [m.role for m in stored] == ["system", "user", "assistant", "tool", "assistant", "user"]
    counter = TokenCounter.for_model("gpt-4o")
    assert [m.tokens for m in stored] == [counter.count_message(m) for m in stored]


def test_a_refused_message_stores_nothing(mem: Engram) -> None:
    history = EngramChatMessageHistory(mem, "s1")
    history.add_messages([HumanMessage("hi")])
    with pytest.raises(InvalidInputError, match="answer no tool call"):
        history.add_messages([AIMessage("ok"), ToolMessage("orphan", tool_call_id="nope")])
    assert [m.content for m in history.messages] == ["hi"]


def test_every_message_type_round_trips_with_every_field(any_mem: Engram) -> None:
    EngramChatMessageHistory(any_mem, "s1", user_id="ana").add_messages(EVERY_FIELD)
    got = EngramChatMessageHistory(any_mem, "s1").messages
    assert got == as_langchain_stores(EVERY_FIELD)
    assert [type(m) for m in got] == [type(m) for m in EVERY_FIELD]
    # Still real Engram messages: roles, text, tool calls, counted tokens.
    stored = any_mem.session("s1").messages()
    assert [m.role for m in stored] == [
        *("system", "system", "user", "user", "assistant", "tool"),
        *("assistant", "tool", "user", "user", "assistant"),
    ]
    assert stored[4].text == "Checking."  # the invalid call too: a tool result may answer it
    assert [c.id for c in stored[4].tool_calls] == ["call_1", "", "call_9"]
    assert json.loads(stored[4].tool_calls[0].arguments) == {"city": "Lisbon", "days": [1, 2]}
    assert stored[5].tool_call_id == "call_1"
    counter = TokenCounter.for_model("gpt-4o")
    assert [m.tokens for m in stored] == [counter.count_message(m) for m in stored]


async def test_every_message_type_round_trips_async(any_mem: Engram) -> None:
    history = EngramChatMessageHistory(any_mem, "s1")
    await history.aadd_messages(EVERY_FIELD)
    assert await history.aget_messages() == as_langchain_stores(EVERY_FIELD)


def test_context_keeps_the_langchain_fields(mem: Engram) -> None:
    history = EngramChatMessageHistory(mem, "s1")
    history.add_messages(EVERY_FIELD[:6])
    prompt = history.context(budget=20_000)
    tool = prompt[-1]
    assert isinstance(tool, ToolMessage) and (tool.status, tool.artifact) == (
        "error",
        {"raw": {"code": 504}},
    )
    assert prompt[1] == ChatMessage("Answer in French.", role="developer", name="ops")
    asking = as_langchain_stores(EVERY_FIELD[4:5])[0]
    assert isinstance(asking, AIMessage)  # sent without the calls no tool result answers
    unanswered = {"tool_calls": asking.tool_calls[:1], "invalid_tool_calls": []}
    assert prompt[4] == asking.model_copy(update=unanswered)


def test_context_sends_a_cut_message_cut(mem: Engram) -> None:
    history = EngramChatMessageHistory(mem, "s1")
    history.add_messages([HumanMessage(["Long:", {"type": "text", "text": "word " * 5000}])])
    [sent] = history.context(budget=500)
    assert "truncated" in sent.text and len(sent.text) < 5000


def test_messages_written_through_engram_come_back_in_openai_form(mem: Engram) -> None:
    mem.session("s1").add("assistant", [{"type": "refusal", "refusal": "No."}], name="bot")
    history = EngramChatMessageHistory(mem, "s1")
    assert history.messages == [AIMessage([{"type": "refusal", "refusal": "No."}], name="bot")]


def test_a_function_message_is_refused(mem: Engram) -> None:
    history = EngramChatMessageHistory(mem, "s1")
    with pytest.raises(InvalidInputError, match="use a ToolMessage"):
        history.add_messages([HumanMessage("hi"), FunctionMessage("42", name="answer")])
    with pytest.raises(InvalidInputError, match="no Engram role"):
        history.add_messages([ChatMessage("hm", role="critic")])
    assert history.messages == []


def test_a_field_that_is_not_json_is_refused(mem: Engram) -> None:
    history = EngramChatMessageHistory(mem, "s1")
    history.add_messages([AIMessage("", tool_calls=[{"name": "f", "args": {}, "id": "c1"}])])
    with pytest.raises(InvalidInputError, match="not JSON"):
        history.add_messages([ToolMessage("done", tool_call_id="c1", artifact=object())])
    with pytest.raises(InvalidInputError, match="not JSON"):
        history.add_messages(
            [AIMessage("", tool_calls=[{"name": "f", "args": {"x": {1j}}, "id": "c"}])]
        )
    assert len(history.messages) == 1


def test_clear_keeps_the_session_its_owner_and_ttl(any_mem: Engram) -> None:
    s = any_mem.session("s1", user_id="ana", metadata={"channel": "web"}, ttl_seconds=3600)
    s.update_state({"step": 2})
    history = EngramChatMessageHistory(any_mem, "s1")  # reopened by id only
    history.add_messages(CONVERSATION[:2])
    history.clear()
    assert history.messages == []
    info = s.info()
    assert (info.user_id, info.metadata, info.state) == ("ana", {"channel": "web"}, {"step": 2})
    assert (info.ttl_seconds, info.message_count, info.token_count) == (3600, 0, 0)
    assert info.expires_at is not None and s.summary() is None
    history.add_messages([HumanMessage("my card is 4111")])
    assert [m.content for m in history.messages] == ["my card is 4111"]
    assert [m.seq for m in s.messages()] == [1]
    any_mem.delete_user("ana")  # the cleared session is still hers: it goes with her
    assert any_mem.sessions() == []
    assert history.messages == []  # read as empty, and not opened again by the read
    assert any_mem.sessions() == []


async def test_aclear_keeps_the_session(any_mem: Engram) -> None:
    any_mem.session("s1", user_id="ana", metadata={"channel": "web"})
    history = EngramChatMessageHistory(any_mem, "s1")
    await history.aadd_messages(CONVERSATION[:2])
    await history.aclear()
    assert await history.aget_messages() == []
    info = any_mem.session("s1").info()
    assert (info.user_id, info.metadata, info.message_count) == ("ana", {"channel": "web"}, 0)


def test_a_kept_history_outlives_its_session(mem: Engram, monkeypatch: pytest.MonkeyPatch) -> None:
    history = EngramChatMessageHistory(mem, "s1", user_id="ana", ttl_seconds=60)
    history.add_messages(CONVERSATION[:2])
    later = datetime.now(UTC) + timedelta(seconds=120)  # it lives 60 s after its last use
    for clock in ("engram._conversation.utcnow", "engram._engram.utcnow"):
        monkeypatch.setattr(clock, lambda: later)
    assert history.messages == []  # expired: LangChain's TTL histories read it empty
    history.add_messages([HumanMessage("Hello again")])
    assert [m.content for m in history.messages] == ["Hello again"]
    assert mem.session("s1").info().user_id == "ana"


async def test_a_kept_history_outlives_its_deleted_session_async(mem: Engram) -> None:
    history = EngramChatMessageHistory(mem, "s1", user_id="ana")
    await history.aadd_messages(CONVERSATION[:2])
    mem.session("s1").delete()
    assert await history.aget_messages() == []
    await history.aadd_messages([HumanMessage("Hello again")])
    assert [m.content for m in await history.aget_messages()] == ["Hello again"]


def test_clear_of_a_deleted_session_opens_it_afresh(mem: Engram) -> None:
    history = EngramChatMessageHistory(mem, "s1", user_id="ana")
    history.add_messages(CONVERSATION[:2])
    mem.session("s1").delete()
    history.clear()
    assert history.messages == [] and mem.session("s1").info().user_id == "ana"


def test_context_fits_the_budget(mem: Engram) -> None:
    history = EngramChatMessageHistory(mem, "s1")
    history.add_messages([SystemMessage("Be brief.")])
    for i in range(200):
        history.add_messages([HumanMessage(f"Turn {i}: " + "words " * 30), AIMessage("ok")])
    prompt = history.context(budget=600, strategy="summary")
    counter = TokenCounter.for_model("gpt-4o")
    sent = mem.session("s1").context(budget=600, strategy="summary").messages
    assert counter.count_messages(sent) <= 600
    assert [m.type for m in prompt][0] == "system" and prompt[-1].content == "ok"
    assert len(prompt) == len(sent) < 401


async def test_async_history(mem: Engram) -> None:
    history = EngramChatMessageHistory(mem, "s1")
    await history.aadd_messages(CONVERSATION)
    assert [fields(m) for m in await history.aget_messages()] == [fields(m) for m in CONVERSATION]
    assert len(await history.acontext(budget=4000)) == len(CONVERSATION)
    await history.aclear()
    assert await history.aget_messages() == []


def test_a_chat_loop_with_a_langchain_model(tmp_path: Path) -> None:
    model = FakeListChatModel(responses=["Hello Ana!", "You live in Lisbon."])
    with Engram(tmp_path / "chat.db") as mem:
        history = EngramChatMessageHistory(mem, "s1")
        for question in ("Hi, I'm Ana from Lisbon.", "Where do I live?"):
            history.add_messages([HumanMessage(question)])
            history.add_messages([model.invoke(history.context(budget=2000))])
    with Engram(tmp_path / "chat.db") as mem:
        texts = [(m.role, m.text) for m in mem.session("s1").messages()]
    assert texts == [
        ("user", "Hi, I'm Ana from Lisbon."),
        ("assistant", "Hello Ana!"),
        ("user", "Where do I live?"),
        ("assistant", "You live in Lisbon."),
    ]
