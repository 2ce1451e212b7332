"""`EngramChatMessageHistory`: LangChain messages in an Engram session, on a SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from engram import Engram
from engram._exceptions import InvalidInputError
from engram.integrations.langchain import EngramChatMessageHistory
from engram.tokens import TokenCounter

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


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Engram]:
    with Engram(tmp_path / "engram.db") as engram:
        yield engram


def fields(message: BaseMessage) -> tuple[object, ...]:
    """What survives the round trip (LangChain-only metadata does not)."""
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


def test_clear_starts_the_session_afresh(mem: Engram) -> None:
    history = EngramChatMessageHistory(mem, "s1", user_id="ana")
    history.add_messages(CONVERSATION[:2])
    history.clear()
    assert history.messages == []
    assert mem.session("s1").info().user_id == "ana"
    history.add_messages([HumanMessage("again")])
    assert [m.content for m in history.messages] == ["again"]


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
