"""`to_openai()` gives what OpenAI's chat completions take, whoever's parts a message holds.

A message keeps its parts as given (OpenAI's, Anthropic's, LangChain's); on the way to OpenAI
each is converted, left out (another model's reasoning; tool calls, sent as `tool_calls`) or,
when OpenAI has no form for it and leaving it out would lose what was said, refused.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from openai.types.chat import ChatCompletionMessageParam
from pydantic import ConfigDict, TypeAdapter

from engram import Engram, InvalidInputError
from engram.integrations.langchain import EngramChatMessageHistory
from engram.types import Message

PDF = base64.b64encode(b"%PDF-1.4 a tiny document").decode()
PNG = "iVBORw0KGgo="
WAV = "UklGRg=="

OPENAI_MESSAGE = TypeAdapter(ChatCompletionMessageParam, config=ConfigDict(extra="forbid"))
"""The OpenAI SDK's message schema, refusing keys it does not name (its TypedDicts allow
them otherwise)."""

ALLOWED_PARTS: Mapping[str, frozenset[str]] = {
    "system": frozenset({"text"}),
    "user": frozenset({"text", "image_url", "input_audio", "file"}),
    "assistant": frozenset({"text", "refusal"}),
    "tool": frozenset({"text"}),
}
"""The part types OpenAI's chat completions take in a message of each role."""

PART_KEYS: Mapping[str, frozenset[str]] = {
    "text": frozenset({"type", "text", "prompt_cache_breakpoint"}),
    "image_url": frozenset({"type", "image_url", "prompt_cache_breakpoint"}),
    "input_audio": frozenset({"type", "input_audio", "prompt_cache_breakpoint"}),
    "file": frozenset({"type", "file", "prompt_cache_breakpoint"}),
    "refusal": frozenset({"type", "refusal"}),
}
"""The keys OpenAI's documented schema has for each part."""


def assert_openai_accepts(messages: list[dict[str, Any]]) -> None:
    """`messages` is a request OpenAI's chat completions take: each message valid for the
    SDK's schema (its lazily checked lists read through), each part one its role takes with
    the keys OpenAI names, no empty content list, every tool call answered next."""
    for message in messages:
        validated = OPENAI_MESSAGE.validate_python(message)
        for key in ("content", "tool_calls"):
            if not isinstance(value := validated.get(key), str | None):
                list(value)
        content = message.get("content")
        assert content != [], message
        for part in content if isinstance(content, list) else ():
            assert part["type"] in ALLOWED_PARTS[message["role"]], (message["role"], part)
            assert set(part) <= PART_KEYS[part["type"]], part
    for i, message in enumerate(messages):
        calls = [call["id"] for call in message.get("tool_calls") or ()]
        answers = [m.get("tool_call_id") for m in messages[i + 1 : i + 1 + len(calls)]]
        assert answers == calls, (message, messages[i + 1 :])


def image_url(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def pdf_file(filename: str) -> dict[str, Any]:
    return {
        "type": "file",
        "file": {"file_data": f"data:application/pdf;base64,{PDF}", "filename": filename},
    }


def sent(part: dict[str, Any], role: str) -> list[dict[str, Any]] | str | None:
    """The content OpenAI gets of a `role` message holding `part`."""
    fields = {"tool_call_id": "c0"} if role == "tool" else {}
    data = Message.from_openai({"role": role, "content": [part], **fields}).to_openai()
    assert_openai_accepts([data])
    return data["content"]


ANTHROPIC_PDF = {
    "type": "document",
    "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
}

CONVERTED = [
    # (part, role, what OpenAI gets)
    (text("hi"), "system", text("hi")),
    ({"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}, "system", text("hi")),
    (
        {"type": "text", "text": "hi", "citations": [{"type": "char_location"}]},
        "assistant",
        text("hi"),
    ),
    ({"type": "output_text", "text": "hi", "annotations": []}, "assistant", text("hi")),
    ({"type": "input_text", "text": "hi"}, "user", text("hi")),
    ({"type": "text", "text": "out", "cache_control": {"type": "ephemeral"}}, "tool", text("out")),
    ({"type": "refusal", "refusal": "No."}, "assistant", {"type": "refusal", "refusal": "No."}),
    ({"type": "refusal", "refusal": "No."}, "user", text("No.")),
    (
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        "user",
        image_url(f"data:image/png;base64,{PNG}"),
    ),
    ({"type": "image_url", "image_url": "https://x/a.png"}, "user", image_url("https://x/a.png")),
    (ANTHROPIC_PDF, "user", pdf_file("document.pdf")),
    (
        {**ANTHROPIC_PDF, "title": "Lease.pdf", "citations": {"enabled": True}},
        "user",
        pdf_file("Lease.pdf"),
    ),
    (
        {
            "type": "document",
            "source": {
                "type": "text",
                "media_type": "text/plain",
                "data": "The lease ends in May.",
            },
            "cache_control": {"type": "ephemeral"},
        },
        "user",
        text("The lease ends in May."),
    ),
    (
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "42"}},
        "tool",
        text("42"),
    ),
    ({"type": "text-plain", "text": "notes", "mime_type": "text/plain"}, "user", text("notes")),
    ({"type": "text-plain", "text": "notes", "mime_type": "text/plain"}, "system", text("notes")),
    (
        {
            "type": "text-plain",
            "base64": base64.b64encode(b"notes").decode(),
            "mime_type": "text/plain",
        },
        "user",
        text("notes"),
    ),
    (
        {"type": "file", "base64": PDF, "mime_type": "application/pdf"},
        "user",
        pdf_file("document.pdf"),
    ),
    (
        {"type": "audio", "base64": WAV, "mime_type": "audio/wav"},
        "user",
        {"type": "input_audio", "input_audio": {"data": WAV, "format": "wav"}},
    ),
]


@pytest.mark.parametrize(("part", "role", "expected"), CONVERTED)
def test_a_part_goes_in_the_form_openai_takes_for_its_role(
    part: dict[str, Any], role: str, expected: dict[str, Any]
) -> None:
    assert sent(part, role) == [expected]


DROPPED = [
    {"type": "thinking", "thinking": "Let me see.", "signature": "sig"},
    {"type": "redacted_thinking", "data": "EmwKAhgB"},
    {"type": "reasoning", "reasoning": "Let me see.", "id": "rs_1"},
    {"type": "tool_use", "id": "c0", "name": "f", "input": {}},
    {"type": "tool_call", "id": "c0", "name": "f", "args": {}},
]


@pytest.mark.parametrize("part", DROPPED, ids=lambda part: part["type"])
@pytest.mark.parametrize("role", ["system", "user", "assistant", "tool"])
def test_reasoning_and_tool_call_parts_are_left_out(part: dict[str, Any], role: str) -> None:
    """Another model's reasoning is not OpenAI's to read; a call goes as a tool call."""
    message = Message.from_openai({"role": role, "content": [text("Hi."), part]})
    assert message.to_openai()["content"] == [text("Hi.")]
    assert message.to_dict()["content"] == [text("Hi."), part]  # stored as given


@pytest.mark.parametrize(
    "part",
    [
        {"type": "server_tool_use", "id": "srv_1", "name": "web_search", "input": {"q": "x"}},
        {"type": "web_search_tool_result", "tool_use_id": "srv_1", "content": []},
        {"type": "image", "base64": PNG, "mime_type": "image/png"},
    ],
    ids=lambda part: part["type"],
)
def test_an_assistant_part_openai_takes_no_form_of_is_left_out(part: dict[str, Any]) -> None:
    """A reply's own machinery (server tool use, its results) is not sent back."""
    message = Message.from_openai({"role": "assistant", "content": [text("Found it."), part]})
    assert message.to_openai()["content"] == [text("Found it.")]


REFUSED = [
    # (part, role): OpenAI has no form for it there, and leaving it out loses what was said
    ({"type": "image_url", "image_url": {"url": "https://x/a.png"}}, "system"),
    ({"type": "image", "source": {"type": "url", "url": "https://x/a.png"}}, "tool"),
    ({"type": "image", "base64": PNG, "mime_type": "image/png"}, "tool"),
    ({"type": "document", "source": {"type": "url", "url": "https://x/a.pdf"}}, "user"),
    ({"type": "document", "source": {"type": "file", "file_id": "file_01"}}, "user"),
    (ANTHROPIC_PDF, "system"),
    ({"type": "file", "url": "https://x/a.pdf", "mime_type": "application/pdf"}, "user"),
    ({"type": "video", "url": "https://x/a.mp4", "mime_type": "video/mp4"}, "user"),
    ({"type": "video", "base64": "AAAA", "mime_type": "video/mp4"}, "user"),
    ({"type": "audio", "base64": WAV, "mime_type": "audio/ogg"}, "user"),
    ({"type": "input_audio", "input_audio": {"data": WAV, "format": "wav"}}, "system"),
    ({"type": "tool_result", "tool_use_id": "c0", "content": "42"}, "user"),
]


@pytest.mark.parametrize(("part", "role"), REFUSED)
def test_a_part_openai_has_no_form_for_is_refused(part: dict[str, Any], role: str) -> None:
    fields = {"tool_call_id": "c0"} if role == "tool" else {}
    message = Message.from_openai({"role": role, "content": [text("See:"), part], **fields})
    with pytest.raises(InvalidInputError, match=f"{part['type']!r} part in a {role} message"):
        message.to_openai()
    assert message.to_dict()["content"] == [text("See:"), part]  # stored as given


def test_an_assistant_message_of_calls_only_has_no_content() -> None:
    thinking = {"type": "thinking", "thinking": "Weather first.", "signature": "sig"}
    call = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}}
    data = Message.from_openai({"role": "assistant", "content": [thinking, call]}).to_openai()
    assert data["content"] is None
    assert data["tool_calls"] == [
        {
            "id": "toolu_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
        }
    ]
    only_thinking = Message.from_openai({"role": "assistant", "content": [thinking]})
    assert only_thinking.to_openai()["content"] == ""
    assert_openai_accepts([data, {"role": "tool", "tool_call_id": "toolu_1", "content": "9C"}])


def test_a_call_both_among_the_parts_and_the_tool_calls_goes_once() -> None:
    call = {"type": "tool_call", "id": "call_1", "name": "f", "args": {"x": 1}}
    tool_calls = [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"x":1}'}}
    ]
    message = Message.from_openai(
        {"role": "assistant", "content": [call], "tool_calls": tool_calls}
    )
    assert message.to_openai()["tool_calls"] == tool_calls


def test_a_tool_message_goes_without_its_tool_name() -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    asked = Message.from_openai({"role": "assistant", "content": "", "tool_calls": [call]})
    answer = Message(role="tool", content="9C", name="f", tool_call_id="call_1")
    sent = [asked.to_openai(), answer.to_openai()]
    assert sent[1] == {"role": "tool", "content": "9C", "tool_call_id": "call_1"}
    assert_openai_accepts(sent)
    assert answer.to_dict()["name"] == "f"


# A Claude conversation, recorded through a session, sent to OpenAI.

CLAUDE_CONVERSATION: list[dict[str, Any]] = [
    {
        "role": "system",
        "content": [
            {
                "type": "text",
                "text": "You help with leases.",
                "cache_control": {"type": "ephemeral"},
            }
        ],
    },
    {
        "role": "user",
        "content": [
            {**ANTHROPIC_PDF, "title": "lease.pdf", "citations": {"enabled": True}},
            {
                "type": "document",
                "source": {"type": "text", "media_type": "text/plain", "data": "Rent: 900 EUR."},
            },
            {
                "type": "text",
                "text": "When does my lease end?",
                "cache_control": {"type": "ephemeral"},
            },
        ],
    },
    {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "I should check the calendar.", "signature": "sig1"},
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_1", "name": "calendar", "input": {"q": "lease end"}},
            {"type": "tool_use", "id": "toolu_2", "name": "today", "input": {}},
        ],
    },
    {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "31 May"},
            {
                "type": "tool_result",
                "tool_use_id": "toolu_2",
                "content": [{"type": "text", "text": "2 May"}],
                "is_error": False,
            },
            {"type": "text", "text": "Thanks."},
        ],
    },
    {
        "role": "assistant",
        "content": [
            {"type": "redacted_thinking", "data": "EmwKAhgB"},
            {
                "type": "text",
                "text": "It ends on 31 May.",
                "citations": [
                    {
                        "type": "char_location",
                        "cited_text": "31 May",
                        "document_index": 0,
                        "start_char_index": 0,
                        "end_char_index": 6,
                    }
                ],
            },
        ],
    },
    {"role": "user", "content": "And the rent?"},
]


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Engram]:
    with Engram(tmp_path / "e.db") as engram:
        yield engram


def test_a_claude_conversation_goes_to_openai_as_openai_takes_it(mem: Engram) -> None:
    s = mem.session("s1")
    s.add_messages(CLAUDE_CONVERSATION)
    sent = s.context("gpt-4o", budget=100_000).to_openai()
    assert_openai_accepts(sent)
    assert [(m["role"], m.get("tool_call_id")) for m in sent] == [
        ("system", None),
        ("user", None),
        ("assistant", None),
        ("tool", "toolu_1"),
        ("tool", "toolu_2"),
        ("user", None),
        ("assistant", None),
        ("user", None),
    ]
    assert sent[1]["content"] == [
        pdf_file("lease.pdf"),
        text("Rent: 900 EUR."),
        text("When does my lease end?"),
    ]
    assert sent[2]["content"] == [text("Let me check.")]
    assert [call["id"] for call in sent[2]["tool_calls"]] == ["toolu_1", "toolu_2"]
    assert sent[2]["tool_calls"][0]["function"] == {
        "name": "calendar",
        "arguments": '{"q": "lease end"}',
    }
    assert sent[3]["content"] == "31 May"
    assert sent[4]["content"] == [text("2 May")]
    assert sent[5]["content"] == [text("Thanks.")]
    assert sent[6]["content"] == [text("It ends on 31 May.")]
    # Stored, exported and sent to Claude as given.
    stored = [m.to_dict() for m in s.messages()]
    assert [m["content"] for m in stored] == [m["content"] for m in CLAUDE_CONVERSATION]


def test_a_tool_result_in_a_tool_message_holding_an_image_is_refused(mem: Engram) -> None:
    s = mem.session("s1")
    s.add_messages(
        [
            {"role": "user", "content": "Show me the chart."},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "chart", "input": {}}],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": [
                            {"type": "image", "source": {"type": "url", "url": "https://x/c.png"}}
                        ],
                    }
                ],
            },
        ]
    )
    with pytest.raises(InvalidInputError, match="'image' part in a tool message"):
        s.context("gpt-4o", budget=100_000).to_openai()


# A LangChain conversation with 1.x reasoning and tool-call blocks.


def test_langchain_reasoning_and_tool_call_blocks_go_to_openai_as_it_takes_them(
    mem: Engram,
) -> None:
    history = EngramChatMessageHistory(mem, "s1")
    reply = AIMessage(
        content=[
            {"type": "reasoning", "reasoning": "Weather first.", "id": "rs_1"},
            {"type": "text", "text": "Checking."},
            {"type": "tool_call", "id": "call_1", "name": "get_weather", "args": {"city": "Paris"}},
        ],
        tool_calls=[{"id": "call_1", "name": "get_weather", "args": {"city": "Paris"}}],
    )
    history.add_messages(
        [
            SystemMessage("Be brief."),
            HumanMessage([{"type": "text-plain", "text": "Trip notes", "mime_type": "text/plain"}]),
            reply,
            ToolMessage("18C", tool_call_id="call_1"),
        ]
    )
    sent = history.conversation.context("gpt-4o", budget=100_000).to_openai()
    assert_openai_accepts(sent)
    assert sent[1]["content"] == [text("Trip notes")]
    assert sent[2]["content"] == [text("Checking.")]
    assert [call["id"] for call in sent[2]["tool_calls"]] == ["call_1"]
    assert history.messages[2].content == reply.content  # LangChain gets its blocks back


def test_a_langchain_history_reads_back_what_openai_cannot_take(mem: Engram) -> None:
    """Messages written through Engram's API come back in LangChain's form as given: their
    reasoning kept, and no refusal for what OpenAI has no form for."""
    s = mem.session("s1")
    video = {"type": "video", "url": "https://x/a.mp4", "mime_type": "video/mp4"}
    thinking = {"type": "thinking", "thinking": "Hmm.", "signature": "sig"}
    s.add_messages(
        [
            {"role": "user", "content": [text("What is this?"), video]},
            {"role": "assistant", "content": [thinking, text("A cat.")]},
        ]
    )
    human, ai = EngramChatMessageHistory(mem, "s1").messages
    assert human.content == [text("What is this?"), video]
    assert ai.content == [thinking, text("A cat.")]
