"""Chat messages as the OpenAI SDK and LangChain give them: an SDK reply's `model_dump()`
stored as is, Responses-style text parts read as text, Anthropic `tool_use` parts sent only
with their call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engram import Engram, InvalidInputError, Message
from engram.context import without_abandoned_calls
from engram.stores.memory import InMemoryConversationStore
from engram.stores.memory_memories import InMemoryMemoryStore
from engram.types import ContentPart, ToolCall


@pytest.fixture(params=["sqlite", "memory"])
def mem(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engram]:
    """An Engram that keeps memories too, on a file (what it reads back is what it stored)
    and in memory."""
    if request.param == "sqlite":
        engram = Engram(tmp_path / "engram.db")
    else:
        engram = Engram(InMemoryConversationStore(), memory_store=InMemoryMemoryStore())
    with engram:
        yield engram


def _reply(**keys: Any) -> dict[str, Any]:
    """An assistant reply as `ChatCompletionMessage.model_dump()` gives it."""
    dumped = {
        "content": None,
        "refusal": None,
        "role": "assistant",
        "annotations": None,
        "audio": None,
        "function_call": None,
        "tool_calls": None,
    }
    return dumped | keys


# 1. An OpenAI SDK reply's model_dump() is stored as is.


def test_an_sdk_reply_model_dump_is_stored() -> None:
    chat = pytest.importorskip("openai.types.chat")
    reply = chat.ChatCompletionMessage(role="assistant", content="Paris.", annotations=[])
    with Engram(InMemoryConversationStore()) as mem:
        s = mem.session("s1")
        s.add_messages([{"role": "user", "content": "Capital of France?"}, reply.model_dump()])
        [_, stored] = s.messages()
    assert stored.to_openai() == {"role": "assistant", "content": "Paris."}
    assert dict(stored.metadata) == {}


def test_empty_sdk_keys_are_ignored_as_add_fields_too(mem: Engram) -> None:
    s = mem.session("s1")
    s.add("user", "Hi")
    stored = s.add("assistant", "Hello!", refusal=None, annotations=[], audio=None)
    assert stored.to_openai() == {"role": "assistant", "content": "Hello!"}


def test_a_refusal_is_kept_and_sent_back_as_a_refusal_part(mem: Engram) -> None:
    s = mem.session("s1")
    s.add_messages(
        [{"role": "user", "content": "Help me pick a lock."}, _reply(refusal="I can't help.")]
    )
    [_, stored] = s.messages()
    assert stored.content == (ContentPart(type="refusal", extra={"refusal": "I can't help."}),)
    [_, sent] = s.context("gpt-4o", budget=1000).messages
    assert sent.to_openai() == {
        "role": "assistant",
        "content": [{"type": "refusal", "refusal": "I can't help."}],
    }


def test_a_refusal_follows_the_text_of_its_reply(mem: Engram) -> None:
    s = mem.session("s1")
    s.add("user", "Hi")
    stored = s.add_messages([_reply(content="Partly:", refusal="no more.")])[0]
    assert stored.to_openai()["content"] == [
        {"type": "text", "text": "Partly:"},
        {"type": "refusal", "refusal": "no more."},
    ]


def test_message_from_openai_keeps_a_refusal_as_add_does() -> None:
    reply = _reply(content="Partly:", refusal="no more.")
    assert Message.from_openai(reply).to_openai()["content"] == [
        {"type": "text", "text": "Partly:"},
        {"type": "refusal", "refusal": "no more."},
    ]


@pytest.mark.parametrize(
    ("message", "named"),
    [
        ({"role": "user", "content": "Hi", "refusal": "no"}, "'refusal'"),
        (_reply(refusal=["no"]), "'refusal'"),
        (_reply(audio={"id": "a1", "data": "AA", "transcript": "Hi"}), "'audio'"),
        (_reply(function_call={"name": "weather", "arguments": "{}"}), "'function_call'"),
        (_reply(content="Hi", annotations="cited"), "'annotations'"),
        (
            _reply(
                tool_calls=[{"id": "c1", "type": "custom", "custom": {"name": "sql", "input": "x"}}]
            ),
            "'custom'",
        ),
    ],
)
def test_what_a_message_cannot_keep_is_refused_by_its_key(
    mem: Engram, message: dict[str, Any], named: str
) -> None:
    s = mem.session("s1")
    with pytest.raises(InvalidInputError, match=named):
        s.add_messages([{"role": "user", "content": "Hi"}, message])
    assert s.messages() == []


def test_annotations_are_kept_in_the_metadata(mem: Engram) -> None:
    citation = {
        "type": "url_citation",
        "url_citation": {"start_index": 0, "end_index": 5, "title": "P", "url": "https://p.fr"},
    }
    s = mem.session("s1")
    s.add("user", "Capital of France?")
    s.add_messages([_reply(content="Paris.", annotations=[citation])])
    [_, stored] = s.messages()
    assert stored.metadata == {"annotations": [citation]}
    assert stored.to_openai() == {"role": "assistant", "content": "Paris."}


# 2. Message.text reads every text-bearing part.


def test_message_text_reads_responses_style_parts() -> None:
    message = Message(
        role="user",
        content=(
            ContentPart(type="input_text", text="Where do I live?"),
            ContentPart(type="input_image", payload={"url": "https://x/y.png"}),
            ContentPart(type="text", text="Answer briefly."),
        ),
    )
    assert message.text == "Where do I live?\nAnswer briefly."


def test_a_responses_style_question_recalls_memories(mem: Engram) -> None:
    mem.memories.add("I live in Lisbon.", user_id="ana", infer=False)
    s = mem.session("s1", user_id="ana")
    s.add("user", [{"type": "input_text", "text": "Where do I live, Lisbon?"}])
    result = s.context("gpt-4o", budget=1000, recall=3)
    [block] = [m for m in result.messages if m.id == "memories"]
    assert "Lisbon" in block.text


# 3. An abandoned call's Anthropic tool_use part goes with it.


def _tool_use(call_id: str) -> ContentPart:
    return ContentPart.from_openai(
        {"type": "tool_use", "id": call_id, "name": "weather", "input": {"city": "Paris"}}
    )


def test_an_abandoned_calls_tool_use_part_is_taken_out() -> None:
    text = ContentPart(type="text", text="Checking both.")
    asked = Message(
        role="assistant",
        content=(text, _tool_use("c1"), _tool_use("c2")),
        tool_calls=(ToolCall("c1", "weather"), ToolCall("c2", "weather")),
    )
    messages = [
        Message(role="user", content="Weather?"),
        asked,
        Message(role="tool", content="sunny", tool_call_id="c1"),
        Message(role="user", content="Thanks"),
    ]
    [_, kept, _, _] = without_abandoned_calls(messages)
    assert kept.content == (text, _tool_use("c1"))
    assert kept.tool_calls == (ToolCall("c1", "weather"),)


def test_a_message_of_only_an_abandoned_tool_use_is_left_out() -> None:
    messages = [
        Message(role="user", content="Weather?"),
        Message(
            role="assistant",
            content=(_tool_use("c1"),),
            tool_calls=(ToolCall("c1", "weather"),),
        ),
        Message(role="user", content="Never mind"),
    ]
    assert [m.content for m in without_abandoned_calls(messages)] == ["Weather?", "Never mind"]


def test_the_newest_calls_wait_for_their_results_with_their_tool_use_parts() -> None:
    asked = Message(
        role="assistant", content=(_tool_use("c1"),), tool_calls=(ToolCall("c1", "weather"),)
    )
    messages = [Message(role="user", content="Weather?"), asked]
    assert [m.content for m in without_abandoned_calls(messages)] == ["Weather?"]
    answered = [*messages, Message(role="tool", content="sunny", tool_call_id="c1")]
    assert without_abandoned_calls(answered)[1] == asked
