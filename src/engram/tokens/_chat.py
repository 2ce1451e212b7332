"""Chat-format token counts: messages, tool schemas and truncation.

Messages are counted with OpenAI's published formula (cookbook "How to count tokens with
tiktoken", `num_tokens_from_messages`): every message costs `tokens_per_message` (3) plus the
tokens of each string value of its OpenAI dict (role, content, name, tool_call_id), a name
adds `tokens_per_name` (1), and every reply is primed with `reply_tokens` (3:
`<|start|>assistant<|message|>`). `gpt-3.5-turbo-0301` used 4 and -1.

What the formula does not cover, and what Engram counts instead:

- content parts: each text part's tokens (and a refusal's, a thinking block's); each image
  part by OpenAI's formula for the model (`_images`); other parts (audio, files, reasoning) count 0,
  since OpenAI publishes no formula for them - budget for them separately;
- tool calls in assistant messages: the function name's and arguments' tokens plus
  `tokens_per_tool_call` (3) per call, our estimate of the call's framing tokens;
- tool schemas: the cookbook's `num_tokens_for_tools` (`_tools`), itself an estimate.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from engram._exceptions import InvalidInputError
from engram.tokens._images import GPT_4O_IMAGES, ImagePricing, image_tokens
from engram.tokens._models import encoding_for_model, image_pricing, is_legacy_chat_format
from engram.tokens._protocol import TokenizerProtocol, TruncatingTokenizerProtocol
from engram.tokens._registry import get_tokenizer
from engram.tokens._tools import (
    GPT_4_TOOL_CONSTANTS,
    GPT_4O_TOOL_CONSTANTS,
    ToolConstants,
    tool_tokens,
)
from engram.types import ContentPart, Message

__all__ = ["TokenCounter"]

_IMAGE_PART_TYPES = frozenset({"image_url", "input_image", "image"})
"""Chat Completions', the Responses API's, and LangChain's or Anthropic's image parts."""
_TEXT_KEYS = ("refusal", "thinking")
"""The keys of other parts holding text the model reads: OpenAI's refusal part, Anthropic's
thinking block."""

_STORED_OVERHEADS = (3, 1, 3)
"""Per message, per name and per tool call: the overheads the stores count messages with."""


class TokenCounter:
    """Counts the tokens of texts, chat messages and tool schemas for one tokenizer.

    Example:
        ```python
        counter = TokenCounter.for_model("gpt-4o")
        counter.count_messages([Message(role="user", content="Hi!")])  # 3 + 1 + 2 + 3 = 9
        ```
    """

    tokenizer: TokenizerProtocol
    """The tokenizer texts are counted with."""
    encoding: str
    """The tokenizer's name (e.g. `o200k_base`), stored next to counts."""
    tokens_per_message: int
    """Overhead of every message (`<|start|>{role}<|message|>...<|end|>`)."""
    tokens_per_name: int
    """Extra tokens when a message has a `name`."""
    reply_tokens: int
    """The per-reply priming overhead (`<|start|>assistant<|message|>`)."""
    tool_constants: ToolConstants
    """Constants of the tool-schema formula."""
    tokens_per_tool_call: int
    """Overhead of each tool call in an assistant message (our estimate)."""
    image_pricing: ImagePricing
    """What the model charges for an image (GPT-4o's prices by default)."""

    def __init__(
        self,
        tokenizer: TokenizerProtocol,
        *,
        tokens_per_message: int = 3,
        tokens_per_name: int = 1,
        reply_tokens: int = 3,
        tool_constants: ToolConstants = GPT_4O_TOOL_CONSTANTS,
        tokens_per_tool_call: int = 3,
        image_pricing: ImagePricing = GPT_4O_IMAGES,
    ) -> None:
        """Count with `tokenizer` and the given chat-format overheads and image prices
        (GPT-4o's by default)."""
        self.tokenizer = tokenizer
        self.encoding = tokenizer.name
        self.tokens_per_message = tokens_per_message
        self.tokens_per_name = tokens_per_name
        self.reply_tokens = reply_tokens
        self.tool_constants = tool_constants
        self.tokens_per_tool_call = tokens_per_tool_call
        self.image_pricing = image_pricing
        overheads = (tokens_per_message, tokens_per_name, tokens_per_tool_call)
        self._stored_overheads = overheads == _STORED_OVERHEADS
        self._short_texts: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"TokenCounter({self.tokenizer!r})"

    @classmethod
    def for_model(cls, model: str) -> TokenCounter:
        """The counter for an OpenAI model: its tokenizer, chat format and tool constants.

        Raises:
            InvalidInputError: the model is unknown (use `for_encoding` instead).
        """
        encoding = encoding_for_model(model)
        if is_legacy_chat_format(model):
            return cls(
                get_tokenizer(encoding),
                tokens_per_message=4,
                tokens_per_name=-1,
                tool_constants=GPT_4_TOOL_CONSTANTS,
            )
        return cls._priced(encoding, image_pricing(model))

    @classmethod
    @functools.cache
    def _priced(cls, encoding: str, images: ImagePricing) -> TokenCounter:
        """`for_encoding(encoding)`, with the image prices `images` (one shared counter each)."""
        if images == GPT_4O_IMAGES:
            return cls.for_encoding(encoding)
        shared = cls.for_encoding(encoding)
        return cls(shared.tokenizer, tool_constants=shared.tool_constants, image_pricing=images)

    @classmethod
    @functools.cache
    def for_encoding(cls, encoding: str) -> TokenCounter:
        """The counter for `o200k_base` (GPT-4o and later) or `cl100k_base` (GPT-4, 3.5).

        One shared counter per encoding (it remembers the counts of roles and names), so
        treat it as read-only; build a `TokenCounter(...)` for other overheads.

        Raises:
            InvalidInputError: the encoding is not one Engram ships.
        """
        tokenizer = get_tokenizer(encoding)
        constants = GPT_4_TOOL_CONSTANTS if encoding == "cl100k_base" else GPT_4O_TOOL_CONSTANTS
        return cls(tokenizer, tool_constants=constants)

    def count_text(self, text: str) -> int:
        """The tokens of `text` alone (special-token text counts as plain text)."""
        return self.tokenizer.count(text)

    def count_message(self, message: Message) -> int:
        """The tokens `message` takes in a prompt, its chat-format overhead included."""
        tokens = self.tokens_per_message + self._count_short(message.role)
        if isinstance(message.content, str):
            tokens += self.tokenizer.count(message.content)
        else:
            tokens += sum(self._count_part(part) for part in message.content)
        if message.name is not None:
            tokens += self._count_short(message.name) + self.tokens_per_name
        if message.tool_call_id is not None:
            tokens += self.tokenizer.count(message.tool_call_id)
        for call in message.tool_calls:
            tokens += self.tokens_per_tool_call + self._count_short(call.name)
            tokens += self.tokenizer.count(call.arguments)
        return tokens

    def count_messages(self, messages: Sequence[Message]) -> int:
        """The prompt tokens of `messages`: each message plus the reply priming."""
        return sum(self.count_message(message) for message in messages) + self.reply_tokens

    def count_tools(self, tools: Sequence[Mapping[str, Any]]) -> int:
        """The tokens an OpenAI `tools` list adds to a request (OpenAI's published estimate).

        Raises:
            InvalidInputError: a tool is not a function schema.
        """
        return tool_tokens(tools, self.tokenizer.count, self.tool_constants)

    def truncate_text(self, text: str, max_tokens: int) -> str:
        """The longest prefix of `text` with at most `max_tokens` tokens.

        With an OpenAI tokenizer this keeps exactly the text's first `max_tokens` tokens,
        minus a character they would split. The result never counts more than `max_tokens`.

        Raises:
            InvalidInputError: `max_tokens` is negative.
        """
        if max_tokens < 0:
            raise InvalidInputError(f"max_tokens must be >= 0, got {max_tokens}")
        if isinstance(self.tokenizer, TruncatingTokenizerProtocol):
            return self.tokenizer.truncate(text, max_tokens)
        return _truncate_by_search(self.tokenizer, text, max_tokens)

    def counts_as_stored(self, message: Message) -> bool:
        """Whether the count a store made of `message` (with `for_encoding`) is this
        counter's count of it too: not with other chat-format overheads (those of
        `gpt-3.5-turbo-0301`), nor, for a message with an image, other image prices (those
        of `gpt-4o-mini`). Only then is it reused (`engram.context.message_tokens`)."""
        if message.encoding != self.encoding or not self._stored_overheads:
            return False
        if self.image_pricing == GPT_4O_IMAGES or isinstance(message.content, str):
            return True
        return not any(part.type in _IMAGE_PART_TYPES for part in message.content)

    def _count_part(self, part: ContentPart) -> int:
        if part.type == "text" or part.text is not None:  # also input_text, output_text
            return self.tokenizer.count(part.text or "")
        if part.type in _IMAGE_PART_TYPES:
            return image_tokens(_image_source(part), self.image_pricing)
        texts = (part.extra.get(key) for key in _TEXT_KEYS)
        return sum(self.tokenizer.count(text) for text in texts if isinstance(text, str))

    def _count_short(self, text: str) -> int:
        """Count a role or name: they take few distinct values, so they are remembered."""
        tokens = self._short_texts.get(text)
        if tokens is None:
            tokens = self.tokenizer.count(text)
            if len(self._short_texts) < 1024 and len(text) <= 64:
                self._short_texts[text] = tokens
        return tokens


def _image_source(part: ContentPart) -> Mapping[str, Any]:
    """An image part as `image_tokens` reads it: `{"url": ..., "detail": ...}`, from the
    part's payload (`image_url`), or from its own keys (the Responses API's `image_url` text,
    LangChain's `url` or `base64` with `mime_type`). An image it cannot size counts as the
    largest."""
    if part.payload is not None:
        return part.payload
    extra = part.extra
    url = extra.get("image_url", extra.get("url"))
    data = extra.get("base64", extra.get("data"))
    if not isinstance(url, str) and isinstance(data, str):
        url = f"data:{extra.get('mime_type') or 'image'};base64,{data}"
    return {"url": url if isinstance(url, str) else "", "detail": extra.get("detail")}


def _truncate_by_search(tokenizer: TokenizerProtocol, text: str, max_tokens: int) -> str:
    """Binary-search the longest prefix (in characters) that fits in `max_tokens`."""
    if tokenizer.count(text) <= max_tokens:
        return text
    fits, too_long = 0, len(text)
    while too_long - fits > 1:
        middle = (fits + too_long) // 2
        if tokenizer.count(text[:middle]) <= max_tokens:
            fits = middle
        else:
            too_long = middle
    return text[:fits]
