"""The tokenizer contract: what `TokenCounter` needs from a tokenizer."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["TokenizerProtocol", "TruncatingTokenizerProtocol"]


class TokenizerProtocol(Protocol):
    """A pluggable tokenizer: OpenAI's (`get_tokenizer`), Hugging Face's (`HFTokenizer`), yours.

    Example:
        ```python
        class WhitespaceTokenizer:
            name = "whitespace"

            def encode(self, text: str) -> list[int]:
                return [len(word) for word in text.split()]

            def count(self, text: str) -> int:
                return len(text.split())

        TokenCounter(WhitespaceTokenizer()).count_text("two words")  # 2
        ```
    """

    name: str
    """Identifies the tokenizer; stored next to token counts (e.g. `o200k_base`)."""

    def encode(self, text: str) -> list[int]:
        """The token ids of `text` (no special tokens added)."""
        ...

    def count(self, text: str) -> int:
        """The number of tokens of `text`; equal to `len(encode(text))`."""
        ...


@runtime_checkable
class TruncatingTokenizerProtocol(Protocol):
    """A tokenizer that can cut a text to its first tokens itself (optional)."""

    def truncate(self, text: str, max_tokens: int) -> str:
        """The longest prefix of `text` with at most `max_tokens` tokens."""
        ...
