"""Chat-format counts: OpenAI's published formulas and examples, images, tools, truncation."""

from __future__ import annotations

import base64
import struct
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engram._exceptions import InvalidInputError
from engram.context import message_tokens
from engram.tokens import (
    GPT_4_TOOL_CONSTANTS,
    GPT_4O_TOOL_CONSTANTS,
    TokenCounter,
    get_tokenizer,
)
from engram.tokens._images import ImagePricing, high_detail_tokens, image_size, image_tokens
from engram.types import ContentPart, Message, ToolCall, messages_from_openai

# OpenAI cookbook, examples/How_to_count_tokens_with_tiktoken.ipynb (openai/openai-cookbook
# at c81359cdc6744f001e40c08a192604c5113fdab3), sections 6 and 7: the example inputs, and the
# prompt_tokens the OpenAI API reported for them.
EXAMPLE_MESSAGES = [
    {
        "role": "system",
        "content": "You are a helpful, pattern-following assistant that translates corporate "
        "jargon into plain English.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "New synergies will help drive top-line growth.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Things working well together will increase revenue.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "Let's circle back when we have more bandwidth to touch base on "
        "opportunities for increased leverage.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Let's talk later when we're less busy about how to do better.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean for the client "
        "deliverable.",
    },
]
TOOLS_EXAMPLE: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_current_weather",
            "description": "Get the current weather in a given location",
            "parameters": {
                "type": "object",
                "properties": {
                    "location": {
                        "type": "string",
                        "description": "The city and state, e.g. San Francisco, CA",
                    },
                    "unit": {
                        "type": "string",
                        "description": "The unit of temperature to return",
                        "enum": ["celsius", "fahrenheit"],
                    },
                },
                "required": ["location"],
            },
        },
    }
]
TOOLS_EXAMPLE_MESSAGES = [
    {
        "role": "system",
        "content": "You are a helpful assistant that can answer to questions about the weather.",
    },
    {"role": "user", "content": "What's the weather like in San Francisco?"},
]


@pytest.mark.parametrize(
    ("model", "expected"),
    [("gpt-3.5-turbo", 129), ("gpt-4-0613", 129), ("gpt-4", 129), ("gpt-4o", 124)]
    + [("gpt-4o-mini", 124)],
)
def test_cookbook_example_messages(model: str, expected: int) -> None:
    messages = messages_from_openai(EXAMPLE_MESSAGES)
    assert TokenCounter.for_model(model).count_messages(messages) == expected


@pytest.mark.parametrize(
    ("model", "expected"),
    [("gpt-3.5-turbo", 105), ("gpt-4", 105), ("gpt-4o", 101), ("gpt-4o-mini", 101)],
)
def test_cookbook_tools_example(model: str, expected: int) -> None:
    counter = TokenCounter.for_model(model)
    messages = messages_from_openai(TOOLS_EXAMPLE_MESSAGES)
    assert counter.count_messages(messages) + counter.count_tools(TOOLS_EXAMPLE) == expected


def _cookbook_formula(message: Mapping[str, Any], counter: TokenCounter, per_name: int) -> int:
    """`num_tokens_from_messages` for one message: every string value, plus the overheads."""
    tokens = counter.tokens_per_message
    for key, value in message.items():
        tokens += counter.count_text(value)
        if key == "name":
            tokens += per_name
    return tokens


NAMES = st.none() | st.text(max_size=12)
SHORT_TEXT = st.text(max_size=60)


@settings(max_examples=100, deadline=None)
@given(role=st.sampled_from(["system", "user", "assistant"]), content=SHORT_TEXT, name=NAMES)
def test_plain_messages_follow_the_cookbook_formula(
    role: str, content: str, name: str | None
) -> None:
    counter = TokenCounter.for_encoding("o200k_base")
    message = Message(role=role, content=content, name=name)  # type: ignore[arg-type]
    expected = _cookbook_formula(message.to_openai(), counter, per_name=1)
    assert counter.count_message(message) == expected
    assert counter.count_messages([message, message]) == 2 * expected + 3


def test_legacy_gpt_35_turbo_0301_format() -> None:
    counter = TokenCounter.for_model("gpt-3.5-turbo-0301")
    assert (counter.tokens_per_message, counter.tokens_per_name) == (4, -1)
    message = Message(role="user", content="hello there", name="bob")
    assert counter.count_message(message) == _cookbook_formula(
        message.to_openai(), counter, per_name=-1
    )


def test_tool_messages_count_their_call_id() -> None:
    counter = TokenCounter.for_encoding("o200k_base")
    message = Message(role="tool", content='{"temp": 21}', tool_call_id="call_abc123XYZ")
    assert counter.count_message(message) == _cookbook_formula(
        message.to_openai(), counter, per_name=1
    )


def test_tool_calls_count_name_arguments_and_a_constant_per_call() -> None:
    counter = TokenCounter.for_encoding("o200k_base")
    calls = (
        ToolCall(id="call_1", name="get_weather", arguments='{"city": "Paris"}'),
        ToolCall(id="call_2", name="get_time", arguments='{"tz": "Europe/Paris"}'),
    )
    message = Message(role="assistant", content="", tool_calls=calls)
    expected = 3 + counter.count_text("assistant") + 2 * counter.tokens_per_tool_call
    expected += sum(counter.count_text(c.name) + counter.count_text(c.arguments) for c in calls)
    assert counter.tokens_per_tool_call == 3
    assert counter.count_message(message) == expected


def test_empty_conversation_costs_the_reply_priming() -> None:
    counter = TokenCounter.for_model("gpt-4o")
    assert counter.reply_tokens == 3
    assert counter.count_messages([]) == 3


def test_special_token_text_in_messages_is_counted_not_rejected() -> None:
    counter = TokenCounter.for_encoding("cl100k_base")
    text = "<|endoftext|><|im_start|>"
    message = Message(role="user", content=text)
    assert counter.count_message(message) == 3 + 1 + counter.count_text(text)
    assert counter.count_text("<|endoftext|>") > 1


def test_counters_pick_the_tokenizer_and_tool_constants() -> None:
    assert TokenCounter.for_model("gpt-4o").encoding == "o200k_base"
    assert TokenCounter.for_model("gpt-4o").tool_constants == GPT_4O_TOOL_CONSTANTS
    assert TokenCounter.for_model("gpt-4-turbo").encoding == "cl100k_base"
    assert TokenCounter.for_model("gpt-4-turbo").tool_constants == GPT_4_TOOL_CONSTANTS
    assert TokenCounter.for_encoding("cl100k_base").tokenizer is get_tokenizer("cl100k_base")
    with pytest.raises(InvalidInputError):
        TokenCounter.for_model("claude-3-opus")
    with pytest.raises(InvalidInputError):
        TokenCounter.for_encoding("r50k_base")


# --- content parts and images ---------------------------------------------------------------


def test_text_parts_are_counted_and_unknown_parts_are_free() -> None:
    counter = TokenCounter.for_encoding("o200k_base")
    parts = (
        ContentPart(type="text", text="Describe this picture."),
        ContentPart(type="image_url", payload={"url": "https://x/y.png", "detail": "low"}),
        ContentPart(type="text", text="Be brief."),
        ContentPart(type="input_audio", payload={"data": "AAAA", "format": "wav"}),
    )
    message = Message(role="user", content=parts)
    expected = 3 + counter.count_text("user") + 85
    expected += counter.count_text("Describe this picture.") + counter.count_text("Be brief.")
    assert counter.count_message(message) == expected


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    # 765 and 1105 are the worked examples of OpenAI's vision guide.
    [(1024, 1024, 765), (2048, 4096, 1105), (4096, 2048, 1105), (512, 512, 255)]
    + [(513, 500, 425), (100, 100, 255), (768, 2048, 1445), (0, 10, 1445)],
)
def test_high_detail_tile_formula(width: int, height: int, expected: int) -> None:
    assert high_detail_tokens(width, height) == expected


def _data_url(kind: str, data: bytes) -> str:
    return f"data:image/{kind};base64," + base64.b64encode(data).decode()


PNG = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(">II", 1024, 1024)
GIF = b"GIF89a" + struct.pack("<HH", 300, 200) + b"\x00" * 8
JPEG = (
    b"\xff\xd8"
    + b"\xff\xe0"
    + struct.pack(">H", 16)
    + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    + b"\xff\xc0"
    + struct.pack(">HBHH", 17, 8, 4096, 2048)
    + b"\x03" * 10
)
WEBP_LOSSY = b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 10 + struct.pack("<HH", 640, 480)
WEBP_LOSSLESS = (
    b"RIFF\x00\x00\x00\x00WEBPVP8L"
    + b"\x00" * 5
    + ((639) | (479 << 14)).to_bytes(4, "little")
    + b"\x00" * 8
)
WEBP_EXTENDED = (
    b"RIFF\x00\x00\x00\x00WEBPVP8X"
    + b"\x00" * 8
    + (2047).to_bytes(3, "little")
    + (1023).to_bytes(3, "little")
)


@pytest.mark.parametrize(
    ("url", "size"),
    [
        (_data_url("png", PNG), (1024, 1024)),
        (_data_url("gif", GIF), (300, 200)),
        (_data_url("jpeg", JPEG), (2048, 4096)),
        (_data_url("webp", WEBP_LOSSY), (640, 480)),
        (_data_url("webp", WEBP_LOSSLESS), (640, 480)),
        (_data_url("webp", WEBP_EXTENDED), (2048, 1024)),
        (_data_url("png", b"not an image at all"), None),
        ("data:image/png;base64,!!!!", None),
        ("https://example.com/cat.png", None),
        ("data:text/plain,hello", None),
    ],
)
def test_inline_image_sizes_are_read_from_their_headers(
    url: str, size: tuple[int, int] | None
) -> None:
    assert image_size(url) == size


def test_image_parts_use_detail_and_known_sizes() -> None:
    assert image_tokens({"url": "https://x/a.png", "detail": "low"}) == 85
    assert image_tokens({"url": "https://x/a.png", "detail": "high"}) == 1445
    assert image_tokens({"url": "https://x/a.png"}) == 1445
    assert image_tokens({"url": "https://x/a.png", "width": 1024, "height": 1024}) == 765
    assert image_tokens({"url": _data_url("jpeg", JPEG), "detail": "auto"}) == 1105
    assert image_tokens({"url": _data_url("png", PNG), "detail": "LOW"}) == 85


@pytest.mark.parametrize(
    ("model", "size", "expected"),
    # OpenAI's vision guide: gpt-4o-mini's tiles cost 2833 + 5667 each; o1's 75 + 150;
    # gpt-4.1-mini's 32px patches 1.62 each (1800 x 2400 is scaled down to 1452 of them).
    [("gpt-4o-mini", (1024, 1024), 2833 + 4 * 5667), ("o1", (1024, 1024), 75 + 4 * 150)]
    + [("gpt-4.1-mini", (1024, 1024), 1659), ("gpt-4.1-mini", (1800, 2400), 2353)]
    + [("gpt-4.1-nano", None, 3779), ("gpt-4o-mini", None, 2833 + 8 * 5667)]
    + [("gpt-4o-2024-08-06", (1024, 1024), 765), ("gpt-5", (1024, 1024), 70 + 4 * 140)],
)
def test_images_cost_what_the_model_charges(
    model: str, size: tuple[int, int] | None, expected: int
) -> None:
    payload: dict[str, Any] = {"url": "https://x/a.png", "detail": "high"}
    if size is not None:
        payload |= {"width": size[0], "height": size[1]}
    part = ContentPart(type="image_url", payload=payload)
    counter = TokenCounter.for_model(model)
    bare = counter.count_message(Message(role="user", content=()))
    assert counter.count_message(Message(role="user", content=(part,))) - bare == expected


def test_a_patch_priced_image_costs_the_same_in_low_detail() -> None:
    patches = ImagePricing(per_patch=1.72)
    wide = {"url": "https://x/a.png", "width": 128, "height": 64}
    assert image_tokens({**wide, "detail": "low"}, patches) == image_tokens(wide, patches) == 14


def test_a_stored_count_of_an_image_is_recounted_for_other_image_prices() -> None:
    image = ContentPart(type="image_url", payload={"url": "https://x/a.png"})
    store = TokenCounter.for_encoding("o200k_base")  # as a store counts
    mini = TokenCounter.for_model("gpt-4o-mini")
    with_image = Message(role="user", content=(ContentPart(type="text", text="hi"), image))
    plain = Message(role="user", content="hi")
    for message in (with_image, plain):
        stored = Message(
            role="user",
            content=message.content,
            tokens=store.count_message(message),
            encoding="o200k_base",
        )
        assert message_tokens(stored, mini) == mini.count_message(message)
    assert mini.count_message(with_image) > store.count_message(with_image) + 40_000


def _part_tokens(counter: TokenCounter, part: dict[str, Any]) -> int:
    """What one part adds to a user message made of it alone."""
    bare = counter.count_message(Message(role="user", content=()))
    return (
        counter.count_message(Message(role="user", content=(ContentPart.from_openai(part),))) - bare
    )


def test_parts_in_other_forms_are_counted_and_none_crashes() -> None:
    counter = TokenCounter.for_encoding("o200k_base")
    count = counter.count_text
    assert _part_tokens(counter, {"type": "refusal", "refusal": "I can't."}) == count("I can't.")
    thinking = {"type": "thinking", "thinking": "Let me see.", "signature": "c2ln"}
    assert _part_tokens(counter, thinking) == count("Let me see.")
    assert _part_tokens(counter, {"type": "input_text", "text": "Hi there"}) == count("Hi there")
    # Images in the Responses API's, LangChain's and Anthropic's forms: sized when they can
    # be, else the formula's largest.
    low = {"type": "input_image", "image_url": "https://x/a.png", "detail": "low"}
    assert _part_tokens(counter, low) == 85
    inline = {"type": "image", "base64": base64.b64encode(PNG).decode(), "mime_type": "image/png"}
    assert _part_tokens(counter, inline) == 765
    assert _part_tokens(counter, {"type": "image", "url": _data_url("jpeg", JPEG)}) == 1105
    anthropic = {"type": "image", "source": {"type": "url", "url": "https://x/a.png"}}
    assert _part_tokens(counter, anthropic) == 1445
    for free in (
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "x"}]},
        {"type": "redacted_thinking", "data": "EmwK"},
        {"type": "refusal", "refusal": {"not": "text"}},
        {"type": "file", "file": {"file_id": "f"}},
    ):
        assert _part_tokens(counter, free) == 0


@pytest.mark.parametrize(
    "part",
    [
        {"type": "text", "text": "Hi", "cache_control": {"type": "ephemeral"}},
        {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}},
        {"type": "image_url", "image_url": "https://x/y.png"},
        {"type": "refusal", "refusal": "No."},
        {"type": "thinking", "thinking": "hmm", "signature": "abc"},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "why"}]},
        {"type": "image", "source_type": "url", "url": "https://x/y.png"},
        {"type": "input_text", "text": "t"},
        {"type": "custom", "text": 5},
        {"type": "custom"},
    ],
)
def test_any_content_part_round_trips(part: dict[str, Any]) -> None:
    """Kept as given (`to_openai()` sends some in another form: `openai_part`)."""
    assert ContentPart.from_openai(part).to_openai() == part
    [message] = messages_from_openai([{"role": "assistant", "content": [part]}])
    assert message.to_dict()["content"] == [part]


@pytest.mark.parametrize("part", [{"type": "text"}, {"type": ""}, {"text": "x"}, "x", None])
def test_a_malformed_content_part_is_invalid_input(part: Any) -> None:
    with pytest.raises(InvalidInputError):
        ContentPart.from_openai(part)


# --- tools ----------------------------------------------------------------------------------


def test_no_tools_cost_nothing() -> None:
    assert TokenCounter.for_model("gpt-4o").count_tools([]) == 0


def test_tool_formula_by_hand() -> None:
    counter = TokenCounter.for_model("gpt-4o")
    count = counter.count_text
    tool = {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look a word up.",
            "parameters": {
                "type": "object",
                "properties": {
                    "word": {"type": "string", "description": "The word."},
                    "lang": {"type": ["string", "null"], "enum": ["en", "fr", 3]},
                },
            },
        },
    }
    expected = 7 + count("lookup:Look a word up") + 3
    expected += 3 + count("word:string:The word")
    expected += 3 - 3 + (3 + count("en")) + (3 + count("fr")) + (3 + count("3"))
    expected += count("lang:['string', 'null']:") + 12
    assert counter.count_tools([tool]) == expected


def test_flat_and_nested_tool_forms_cost_the_same() -> None:
    counter = TokenCounter.for_model("gpt-4o")
    nested = TOOLS_EXAMPLE[0]
    flat = {"type": "function", **nested["function"]}
    assert counter.count_tools([flat]) == counter.count_tools([nested])
    bare = {"type": "function", "function": {"name": "ping"}}
    assert counter.count_tools([bare]) == 7 + counter.count_text("ping:") + 12


@pytest.mark.parametrize(
    "tool",
    [
        "get_weather",
        {"type": "function", "function": {"description": "no name"}},
        {"type": "function", "function": {"name": "f", "parameters": {"properties": {"a": 1}}}},
    ],
)
def test_malformed_tools_are_rejected(tool: Any) -> None:
    with pytest.raises(InvalidInputError):
        TokenCounter.for_model("gpt-4o").count_tools([tool])


# --- truncation and custom tokenizers ---------------------------------------------------------


class WordTokenizer:
    """A toy tokenizer without `truncate`: one token per whitespace-separated word."""

    name = "words"

    def encode(self, text: str) -> list[int]:
        return [len(word) for word in text.split()]

    def count(self, text: str) -> int:
        return len(text.split())


def test_custom_tokenizers_plug_in() -> None:
    counter = TokenCounter(WordTokenizer(), tokens_per_message=0, reply_tokens=0)
    assert counter.encoding == "words"
    assert counter.count_messages([Message(role="user", content="one two three")]) == 4


@settings(max_examples=100, deadline=None)
@given(text=st.text(alphabet=" ab\n", max_size=40), max_tokens=st.integers(0, 8))
def test_truncate_by_search_for_tokenizers_without_truncate(text: str, max_tokens: int) -> None:
    counter = TokenCounter(WordTokenizer())
    head = counter.truncate_text(text, max_tokens)
    assert text.startswith(head)
    assert counter.count_text(head) <= max_tokens
    assert counter.count_text(text[: len(head) + 1]) > max_tokens or head == text


def test_truncate_text_uses_the_exact_tokens() -> None:
    counter = TokenCounter.for_model("gpt-4o")
    text = "The quick brown fox jumps over the lazy dog. " * 5
    head = counter.truncate_text(text, 5)
    assert head == "The quick brown fox jumps"
    assert counter.truncate_text(text, 10_000) == text
    with pytest.raises(InvalidInputError):
        counter.truncate_text(text, -1)
