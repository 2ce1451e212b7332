"""`ContextResult.to_anthropic()`: a context as Anthropic's Messages API takes it, and
`Message.to_openai()` sending Anthropic image parts as OpenAI's.

Anthropic's rules checked here (platform.claude.com, Messages API and "Handle tool calls"):
`system` is top level and `messages` holds user and assistant turns only, alternating, the
first a user turn; a tool call is a `tool_use` block (`input` an object) and its result a
`tool_result` block in the very next user turn, the results before any other block there;
text blocks are never blank; an image is an `image` block with a base64 or URL source.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engram import BudgetExceededError, Engram, InvalidInputError
from engram.context import (
    ContextResult,
    buffer,
    summary_message,
    token_budget,
    without_abandoned_calls,
)
from engram.stores.memory import InMemoryConversationStore
from engram.types import ContentPart, Message, ToolCall
from test_context_properties import PROPERTY_SETTINGS, agent_loops, conversations, leading
from test_context_support import WordCounter, assistant, system, tool, user

PNG = "iVBORw0KGgo="


@pytest.fixture
def mem() -> Iterator[Engram]:
    with Engram(InMemoryConversationStore()) as engram:
        yield engram


def sent(messages: Sequence[Message]) -> dict[str, Any]:
    """What `to_anthropic()` gives for a buffer of `messages`."""
    return buffer(messages, WordCounter()).to_anthropic()


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def parts(role: str, *items: dict[str, Any], **fields: Any) -> Message:
    content = tuple(ContentPart.from_openai(item) for item in items)
    return Message(role=role, content=content, **fields)  # type: ignore[arg-type]


# Tool calls and their results.


def test_a_tool_call_round_trip_is_tool_use_then_tool_results_in_one_user_turn() -> None:
    calls = (
        ToolCall("call_1", "weather", '{"city": "Paris"}'),
        ToolCall("call_2", "weather", '{"city": "Oslo", "days": [1, 2]}'),
    )
    messages = [
        system("You are helpful."),
        user("Weather in Paris and Oslo?"),
        Message(role="assistant", content="Checking both.", tool_calls=calls),
        tool("call_1", "18C sunny"),
        tool("call_2", ""),
        assistant("Paris 18C; Oslo did not answer."),
        user("Thanks!"),
    ]
    assert sent(messages) == {
        "system": [text("You are helpful.")],
        "messages": [
            {"role": "user", "content": [text("Weather in Paris and Oslo?")]},
            {
                "role": "assistant",
                "content": [
                    text("Checking both."),
                    {
                        "type": "tool_use",
                        "id": "call_1",
                        "name": "weather",
                        "input": {"city": "Paris"},
                    },
                    {
                        "type": "tool_use",
                        "id": "call_2",
                        "name": "weather",
                        "input": {"city": "Oslo", "days": [1, 2]},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "call_1", "content": "18C sunny"},
                    {"type": "tool_result", "tool_use_id": "call_2"},
                ],
            },
            {"role": "assistant", "content": [text("Paris 18C; Oslo did not answer.")]},
            {"role": "user", "content": [text("Thanks!")]},
        ],
    }


def test_a_user_message_after_the_results_joins_their_turn_after_them() -> None:
    messages = [user("go"), assistant("", "c1"), tool("c1", "done"), user("and now?")]
    [_, call, results] = sent(messages)["messages"]
    assert call == {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "c1", "name": "lookup", "input": {}}],
    }
    assert results["content"] == [
        {"type": "tool_result", "tool_use_id": "c1", "content": "done"},
        text("and now?"),
    ]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"q": "x"}', {"q": "x"}),
        ("", {}),
        ("  ", {}),
        ('{"q": ', {"_raw": '{"q": '}),
        ("[1, 2]", {"_raw": "[1, 2]"}),
        ("null", {"_raw": "null"}),
        ("[" * 100_000, {"_raw": "[" * 100_000}),
    ],
)
def test_tool_use_input_is_the_parsed_arguments_or_the_raw_text(
    arguments: str, expected: dict[str, Any]
) -> None:
    block = ToolCall("c1", "lookup", arguments).to_anthropic()
    assert block == {"type": "tool_use", "id": "c1", "name": "lookup", "input": expected}


def test_a_tool_use_part_langchain_keeps_in_the_content_is_not_sent_twice() -> None:
    tool_use = {"type": "tool_use", "id": "c1", "name": "lookup", "input": {"q": "x"}}
    call = parts(
        "assistant",
        {"type": "text", "text": "Looking."},
        tool_use,
        tool_calls=(ToolCall("c1", "lookup", '{"q": "x"}'), ToolCall("c2", "lookup", "{}")),
    )
    messages = [user("go"), call, tool("c1"), tool("c2")]
    assert sent(messages)["messages"][1]["content"] == [
        text("Looking."),
        tool_use,
        {"type": "tool_use", "id": "c2", "name": "lookup", "input": {}},
    ]


def test_a_tool_result_of_parts_sends_them_as_blocks() -> None:
    result = parts(
        "tool",
        {"type": "text", "text": "the chart:"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        tool_call_id="c1",
    )
    [_, _, results] = sent([user("go"), assistant("", "c1"), result])["messages"]
    source = {"type": "base64", "media_type": "image/png", "data": PNG}
    assert results["content"] == [
        {
            "type": "tool_result",
            "tool_use_id": "c1",
            "content": [text("the chart:"), {"type": "image", "source": source}],
        }
    ]


# Alternation: merged turns, blank messages, the first turn.


def test_consecutive_messages_of_one_role_are_one_turn() -> None:
    messages = [user("one"), user("two"), assistant("three"), assistant("four"), user("five")]
    assert sent(messages)["messages"] == [
        {"role": "user", "content": [text("one"), text("two")]},
        {"role": "assistant", "content": [text("three"), text("four")]},
        {"role": "user", "content": [text("five")]},
    ]


def test_blank_messages_are_left_out_and_their_neighbours_merged() -> None:
    messages = [user("one"), assistant("  "), user(""), user("two")]
    assert sent(messages) == {"messages": [{"role": "user", "content": [text("one"), text("two")]}]}


def test_a_conversation_the_assistant_opened_starts_with_a_user_turn() -> None:
    messages = [system("Be brief."), assistant("Hi! What's your name?"), user("Ana.")]
    assert sent(messages)["messages"] == [
        {"role": "user", "content": [text("[conversation start]")]},
        {"role": "assistant", "content": [text("Hi! What's your name?")]},
        {"role": "user", "content": [text("Ana.")]},
    ]


def test_a_context_without_system_messages_has_no_system_key() -> None:
    assert sent([user("hi")]) == {"messages": [{"role": "user", "content": [text("hi")]}]}


# System messages.


def test_the_system_prompt_and_the_summary_go_to_system() -> None:
    counter = WordCounter()
    messages = [system("You are helpful."), user("old " * 50), assistant("reply"), user("new")]
    result = token_budget(messages, counter, budget=40, summary="They talked about trains.")
    request = result.to_anthropic()
    assert request["system"] == [
        text("You are helpful."),
        text(summary_message("They talked about trains.").text),
    ]
    assert request["messages"][0]["role"] == "user"


def test_a_system_note_said_later_stays_in_place_in_a_user_turn() -> None:
    messages = [
        system("You are helpful."),
        user("hi"),
        assistant("hello"),
        system("From now on, answer in French."),
        user("How are you?"),
        assistant("Bien."),
        system("The user is on mobile."),
    ]
    assert sent(messages) == {
        "system": [text("You are helpful.")],
        "messages": [
            {"role": "user", "content": [text("hi")]},
            {"role": "assistant", "content": [text("hello")]},
            {
                "role": "user",
                "content": [text("[system] From now on, answer in French."), text("How are you?")],
            },
            {"role": "assistant", "content": [text("Bien.")]},
            {"role": "user", "content": [text("[system] The user is on mobile.")]},
        ],
    }


def test_a_system_note_inside_a_tool_group_comes_after_the_results() -> None:
    messages = [user("go"), assistant("", "c1"), system("Tools are slow today."), tool("c1")]
    [_, _, results] = sent(messages)["messages"]
    assert results["content"] == [
        {"type": "tool_result", "tool_use_id": "c1", "content": "result"},
        text("[system] Tools are slow today."),
    ]


def test_a_system_prompt_part_keeps_its_cache_control() -> None:
    cached = {"type": "text", "text": "Long rules.", "cache_control": {"type": "ephemeral"}}
    assert sent([parts("system", cached), user("hi")])["system"] == [cached]


def test_a_system_prompt_with_an_image_is_invalid_input() -> None:
    image = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    with pytest.raises(InvalidInputError, match="system prompt takes text only"):
        sent([parts("system", image), user("hi")])


# Parts: images, refusals, Anthropic's own blocks.


def test_openai_image_parts_become_image_blocks() -> None:
    message = parts(
        "user",
        {"type": "text", "text": "What are these?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "low"}},
        {"type": "input_image", "image_url": "https://example.com/dog.png"},
    )
    assert message.to_anthropic() == [
        text("What are these?"),
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/dog.png"}},
    ]


def test_an_image_data_url_that_is_not_base64_is_invalid_input() -> None:
    message = parts(
        "user", {"type": "image_url", "image_url": {"url": "data:image/svg+xml,<svg/>"}}
    )
    with pytest.raises(InvalidInputError, match="base64"):
        message.to_anthropic()


ANTHROPIC_BLOCKS = [
    {"type": "thinking", "thinking": "The user wants...", "signature": "sig=="},
    {"type": "redacted_thinking", "data": "EmwKAhgB"},
    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
    {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}},
    {"type": "text", "text": "Hi", "cache_control": {"type": "ephemeral"}},
]


@pytest.mark.parametrize("block", ANTHROPIC_BLOCKS, ids=lambda block: block["type"])
def test_anthropic_blocks_stored_as_given_go_as_given(block: dict[str, Any]) -> None:
    assert parts("assistant", block).to_anthropic() == [block]


def test_a_refusal_is_text_and_openai_only_text_keys_are_left_out() -> None:
    message = parts(
        "assistant",
        {"type": "text", "text": "See", "annotations": [{"type": "url_citation", "url": "u"}]},
        {"type": "output_text", "text": "more"},
        {"type": "refusal", "refusal": "I can't help with that."},
    )
    assert message.to_anthropic() == [text("See"), text("more"), text("I can't help with that.")]


# Message.to_openai: Anthropic image parts as OpenAI's, stored parts as given.

ANTHROPIC_IMAGE = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}


OPENAI_PARTS = [
    {"type": "text", "text": "Hi"},
    {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}},
    {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
    {"type": "file", "file": {"file_id": "file-1"}},
    {"type": "refusal", "refusal": "No."},
]


def test_message_to_openai_converts_anthropic_images_only() -> None:
    """An Anthropic image part goes as an `image_url`; OpenAI's parts go as given, but a
    refusal, which a user message cannot hold, as text."""
    message = Message.from_openai({"role": "user", "content": [*OPENAI_PARTS, ANTHROPIC_IMAGE]})
    assert message.to_openai()["content"] == [
        *OPENAI_PARTS[:-1],
        {"type": "text", "text": "No."},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
    ]
    assert message.to_dict()["content"][-1] == ANTHROPIC_IMAGE  # stored as given
    assert Message.from_dict(message.to_dict()) == message


# Through a session, as a chatbot calls it.


def test_a_session_context_to_anthropic(mem: Engram) -> None:
    s = mem.session("claude")
    s.add("system", "You are a travel agent.")
    s.add("user", [{"type": "text", "text": "Is this Lisbon?"}, ANTHROPIC_IMAGE])
    s.add_messages(
        [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "landmark", "arguments": '{"photo": 1}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "Belém Tower, Lisbon"},
        ]
    )
    request = s.context(model="gpt-4o", budget=10_000).to_anthropic()
    assert request == {
        "system": [text("You are a travel agent.")],
        "messages": [
            {"role": "user", "content": [text("Is this Lisbon?"), ANTHROPIC_IMAGE]},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "call_1", "name": "landmark", "input": {"photo": 1}}
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "call_1",
                        "content": "Belém Tower, Lisbon",
                    }
                ],
            },
        ],
    }


# The property: whatever a context holds, Anthropic's turn rules hold.


def assert_anthropic_accepts(request: Mapping[str, Any]) -> None:
    """Turns alternate from a user turn; each `tool_use` is answered by a `tool_result` in
    the next turn, which names only `tool_use` blocks of the turn before it and puts them
    before any other block; no text block is blank; `system` is text blocks."""
    assert set(request) <= {"system", "messages"}
    assert all(block["type"] == "text" for block in request.get("system", []))
    turns = request["messages"]
    assert [turn["role"] for turn in turns] == ["user", "assistant"] * (len(turns) // 2) + [
        "user"
    ] * (len(turns) % 2)
    asked: set[str] = set()
    for turn in turns:
        blocks = turn["content"]
        assert blocks
        assert all(b["text"].strip() for b in blocks if b["type"] == "text")
        kinds = [block["type"] for block in blocks]
        if turn["role"] == "user":
            answered = [b["tool_use_id"] for b in blocks if b["type"] == "tool_result"]
            assert set(answered) <= asked
            assert sorted(answered) == sorted(asked)
            assert kinds[: len(answered)] == ["tool_result"] * len(answered)
            asked = set()
        else:
            assert "tool_result" not in kinds
            used = [b["id"] for b in blocks if b["type"] == "tool_use"]
            assert len(set(used)) == len(used)
            asked = set(used)
    assert not asked


def as_langchain(message: Message) -> Message:
    """`message` with its calls also as `tool_use` parts in its content, as LangChain keeps them."""
    if not message.tool_calls:
        return message
    uses = tuple(ContentPart.from_openai(call.to_anthropic()) for call in message.tool_calls)
    return replace(message, content=(ContentPart(type="text", text=message.text), *uses))


@PROPERTY_SETTINGS
@given(
    messages=st.one_of(conversations(), agent_loops()),
    budget=st.one_of(st.none(), st.integers(5, 400)),
    langchain=st.booleans(),
    malformed=st.booleans(),
)
def test_to_anthropic_gives_turns_anthropic_accepts(
    messages: list[Message], budget: int | None, langchain: bool, malformed: bool
) -> None:
    if malformed:
        messages = [
            replace(m, tool_calls=tuple(replace(c, arguments='{"q": ') for c in m.tool_calls))
            for m in messages
        ]
    if langchain:
        messages = [as_langchain(m) for m in messages]
    given = without_abandoned_calls(messages)
    counter = WordCounter()
    try:
        result = (
            buffer(given, counter)
            if budget is None
            else token_budget(given, counter, budget=budget)
        )
    except BudgetExceededError:
        return
    request = ContextResult(result.messages, result.report).to_anthropic()
    assert_anthropic_accepts(request)
    history = result.messages[len(leading(result.messages)) :]
    notes = [m for m in history if m.role == "system"]
    said = [
        b["text"] for turn in request["messages"] for b in turn["content"] if b["type"] == "text"
    ]
    assert sum(text.startswith("[system] ") for text in said) == sum(
        bool(m.text.strip()) for m in notes
    )
