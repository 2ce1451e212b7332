"""The OpenAI tokenizers Engram ships, by encoding name."""

from __future__ import annotations

import functools

from engram.tokens._encodings import load_encoding
from engram.tokens._protocol import TokenizerProtocol
from engram.tokens._tiktoken import TiktokenTokenizer

__all__ = ["get_tokenizer"]


@functools.cache
def get_tokenizer(encoding: str) -> TokenizerProtocol:
    """The OpenAI tokenizer `encoding`, built offline and shared by the whole process.

    Args:
        encoding: `o200k_base` (GPT-4o, GPT-4.1, GPT-5, o-series) or `cl100k_base`
            (GPT-4, GPT-3.5, text-embedding-3).

    Returns:
        A `TiktokenTokenizer`, exact on texts of any length.

    Raises:
        InvalidInputError: `encoding` is not one Engram ships.
        ConfigError: its rank file is missing or corrupt.

    Example:
        ```python
        get_tokenizer("o200k_base").count("hello world")  # 2
        ```
    """
    return TiktokenTokenizer(load_encoding(encoding))
