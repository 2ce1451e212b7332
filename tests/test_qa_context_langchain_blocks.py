"""LangChain's standard content blocks sent in each provider's own form: a message added
through `EngramChatMessageHistory` keeps its blocks as given, and `to_anthropic()` /
`to_openai()` send them as Anthropic's `image` / `document` blocks and OpenAI's `image_url`,
`file` and `input_audio` parts.

The shapes: LangChain 1.x `langchain_core.messages.content` (`ImageContentBlock`: `url`,
`base64` with `mime_type`, `file_id`; `FileContentBlock` likewise; `PlainTextContentBlock`,
type `text-plain`) and LangChain 0.3's `source_type` blocks; Anthropic's Messages API image
and document sources (`base64` with `media_type`, `url`, `file`, `text`); OpenAI's chat
completions parts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from engram import Engram, InvalidInputError
from engram.integrations.langchain import EngramChatMessageHistory
from engram.stores.memory import InMemoryConversationStore
from engram.types import ContentPart, Message

PNG = "iVBORw0KGgo="
PDF = "JVBERi0xLjQ="
WAV = "UklGRg=="
IMAGE_URL = "https://example.com/tram.png"


@pytest.fixture
def history() -> Iterator[EngramChatMessageHistory]:
    with Engram(InMemoryConversationStore()) as mem:
        yield EngramChatMessageHistory(mem, "s1")


def user(*blocks: dict[str, Any]) -> Message:
    content = tuple(ContentPart.from_openai(block) for block in blocks)
    return Message(role="user", content=content)


def base64_image(data: str = PNG) -> dict[str, Any]:
    return {"type": "base64", "media_type": "image/png", "data": data}


def url_image(url: str = IMAGE_URL) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


# Through the LangChain history, as a LangChain app adds them.


def test_langchain_blocks_added_through_the_history_go_in_each_providers_form(
    history: EngramChatMessageHistory,
) -> None:
    blocks: list[str | dict[str, Any]] = [
        {"type": "text", "text": "Where is this?"},
        {"type": "image", "base64": PNG, "mime_type": "image/png"},
        {"type": "image", "url": IMAGE_URL},
        {"type": "file", "base64": PDF, "mime_type": "application/pdf", "filename": "a.pdf"},
    ]
    history.add_messages([HumanMessage(content=blocks), AIMessage("Lisbon, by the tram.")])
    result = history.conversation.context("gpt-4o", budget=10_000)

    assert result.to_anthropic()["messages"][0]["content"] == [
        {"type": "text", "text": "Where is this?"},
        {"type": "image", "source": base64_image()},
        {"type": "image", "source": {"type": "url", "url": IMAGE_URL}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
        },
    ]
    assert result.to_openai()[0]["content"] == [
        {"type": "text", "text": "Where is this?"},
        url_image(f"data:image/png;base64,{PNG}"),
        url_image(IMAGE_URL),
        {
            "type": "file",
            "file": {"file_data": f"data:application/pdf;base64,{PDF}", "filename": "a.pdf"},
        },
    ]
    assert history.messages[0].content == blocks  # stored as given


def test_blocks_from_content_blocks_go_as_anthropic_and_openai_images(
    history: EngramChatMessageHistory,
) -> None:
    """`HumanMessage(content_blocks=...)`, LangChain 1.x's way to build a multimodal message."""
    history.add_messages([HumanMessage(content_blocks=[{"type": "image", "url": IMAGE_URL}])])
    result = history.conversation.context("gpt-4o", budget=10_000)
    [turn] = result.to_anthropic()["messages"]
    assert turn["content"] == [{"type": "image", "source": {"type": "url", "url": IMAGE_URL}}]
    assert result.to_openai()[0]["content"] == [url_image(IMAGE_URL)]


def test_a_langchain_1_ai_message_of_claude_goes_as_thinking_then_tool_use(
    history: EngramChatMessageHistory,
) -> None:
    """LangChain 1.x's standard blocks of a Claude reply (`output_version="v1"`): signed
    `reasoning` is Claude's `thinking`, and the `tool_call` block is the call, sent once."""
    reasoning = {"type": "reasoning", "reasoning": "Ferries first.", "extras": {"signature": "s1"}}
    call = {"type": "tool_call", "id": "toolu_1", "name": "ferries", "args": {"day": "sat"}}
    history.add_messages(
        [
            HumanMessage("Plan my Saturday."),
            AIMessage(content_blocks=[reasoning, {"type": "text", "text": "Checking."}, call]),
            ToolMessage("10:00", tool_call_id="toolu_1"),
        ]
    )
    turns = history.conversation.context("gpt-4o", budget=10_000).to_anthropic()["messages"]
    assert turns[1]["content"] == [
        {"type": "thinking", "thinking": "Ferries first.", "signature": "s1"},
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_1", "name": "ferries", "input": {"day": "sat"}},
    ]
    assert turns[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "10:00"}
    ]


def test_unsigned_reasoning_is_not_sent_to_anthropic() -> None:
    """Another model's reasoning (no signature): Anthropic refuses unsigned thinking."""
    message = Message(
        role="assistant",
        content=(
            ContentPart.from_openai({"type": "reasoning", "reasoning": "Hmm."}),
            ContentPart.from_openai({"type": "text", "text": "Lisbon."}),
        ),
    )
    assert message.to_anthropic() == [{"type": "text", "text": "Lisbon."}]


# Each block form, in each provider's form.

ANTHROPIC_FORMS = [
    pytest.param(
        {"type": "image", "base64": PNG, "mime_type": "image/png"},
        {"type": "image", "source": base64_image()},
        id="v1-image-base64",
    ),
    pytest.param(
        {"type": "image", "url": f"data:image/png;base64,{PNG}"},
        {"type": "image", "source": base64_image()},
        id="v1-image-data-url",
    ),
    pytest.param(
        {"type": "image", "file_id": "file_1", "extras": {"cache_control": {"type": "ephemeral"}}},
        {
            "type": "image",
            "source": {"type": "file", "file_id": "file_1"},
            "cache_control": {"type": "ephemeral"},
        },
        id="v1-image-file-id",
    ),
    pytest.param(
        {"type": "file", "url": "https://example.com/a.pdf", "title": "Itinerary"},
        {
            "type": "document",
            "source": {"type": "url", "url": "https://example.com/a.pdf"},
            "title": "Itinerary",
        },
        id="v1-file-url",
    ),
    pytest.param(
        {"type": "file", "base64": PDF},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
        },
        id="v1-file-base64",
    ),
    pytest.param(
        {"type": "text-plain", "text": "Day 1: Belém", "mime_type": "text/plain"},
        {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": "Day 1: Belém"},
        },
        id="v1-text-plain",
    ),
    pytest.param(
        {"type": "image", "source_type": "base64", "data": PNG, "mime_type": "image/png"},
        {"type": "image", "source": base64_image()},
        id="v0-image-base64",
    ),
    pytest.param(
        {"type": "image", "source_type": "url", "url": IMAGE_URL},
        {"type": "image", "source": {"type": "url", "url": IMAGE_URL}},
        id="v0-image-url",
    ),
    pytest.param(
        {"type": "file", "source_type": "id", "id": "file_2"},
        {"type": "document", "source": {"type": "file", "file_id": "file_2"}},
        id="v0-file-id",
    ),
    pytest.param(
        {"type": "image_url", "image_url": IMAGE_URL},
        {"type": "image", "source": {"type": "url", "url": IMAGE_URL}},
        id="image-url-bare",
    ),
]


@pytest.mark.parametrize(("block", "anthropic"), ANTHROPIC_FORMS)
def test_a_langchain_block_is_anthropics_block(
    block: dict[str, Any], anthropic: dict[str, Any]
) -> None:
    assert user(block).to_anthropic() == [anthropic]


OPENAI_FORMS = [
    pytest.param(
        {"type": "image", "base64": PNG, "mime_type": "image/png", "id": "lc_1"},
        url_image(f"data:image/png;base64,{PNG}"),
        id="v1-image-base64",
    ),
    pytest.param({"type": "image", "url": IMAGE_URL}, url_image(IMAGE_URL), id="v1-image-url"),
    pytest.param(
        {"type": "file", "file_id": "file-1"},
        {"type": "file", "file": {"file_id": "file-1"}},
        id="v1-file-id",
    ),
    pytest.param(
        {
            "type": "file",
            "base64": PDF,
            "mime_type": "application/pdf",
            "extras": {"filename": "a.pdf"},
        },
        {
            "type": "file",
            "file": {"file_data": f"data:application/pdf;base64,{PDF}", "filename": "a.pdf"},
        },
        id="v1-file-base64",
    ),
    pytest.param(
        {"type": "audio", "base64": WAV, "mime_type": "audio/wav"},
        {"type": "input_audio", "input_audio": {"data": WAV, "format": "wav"}},
        id="v1-audio-base64",
    ),
    pytest.param(
        {"type": "image", "source_type": "base64", "data": PNG, "mime_type": "image/png"},
        url_image(f"data:image/png;base64,{PNG}"),
        id="v0-image-base64",
    ),
    pytest.param(
        {"type": "image_url", "image_url": IMAGE_URL},
        url_image(IMAGE_URL),
        id="image-url-bare",
    ),
]


@pytest.mark.parametrize(("block", "openai"), OPENAI_FORMS)
def test_a_langchain_block_is_openais_part(block: dict[str, Any], openai: dict[str, Any]) -> None:
    message = user(block)
    assert message.to_openai()["content"] == [openai]
    assert message.to_dict()["content"] == [block]  # stored as given


PROVIDER_PARTS = [
    {"type": "image", "source": base64_image()},  # Anthropic's own
    {"type": "file", "file": {"file_id": "file-1"}},  # OpenAI's own
    {"type": "input_audio", "input_audio": {"data": WAV, "format": "wav"}},
    {"type": "image", "mime_type": "image/png"},  # no data: nothing to convert
]


@pytest.mark.parametrize("part", PROVIDER_PARTS, ids=lambda part: str(sorted(part)))
def test_provider_parts_are_not_read_as_langchain_blocks(part: dict[str, Any]) -> None:
    assert user(part).to_anthropic() == [part]
    if part["type"] == "image" and "source" not in part:  # no data: OpenAI has no form for it
        with pytest.raises(InvalidInputError, match="'image' part in a user message"):
            user(part).to_openai()
        return
    assert user(part).to_openai()["content"] == [
        url_image(f"data:image/png;base64,{PNG}") if "source" in part else part
    ]
