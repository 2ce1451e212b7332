"""Hugging Face tokenizers (`tokenizer.json`) as a `TokenizerProtocol`.

Needs the `hf` extra (`pip install engramdb[hf]`); `tokenizers` is imported only when an
`HFTokenizer` is built. Files are read from disk: nothing is downloaded.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import ModuleType
from typing import Any

from engram._exceptions import ConfigError

__all__ = ["HFTokenizer"]


def _tokenizers() -> ModuleType:
    try:
        import tokenizers
    except ImportError as exc:
        raise ConfigError(
            "HFTokenizer needs the Hugging Face tokenizers library: pip install engramdb[hf]"
        ) from exc
    return tokenizers


class HFTokenizer:
    """A Hugging Face `tokenizers.Tokenizer`, counted without special tokens (BOS/EOS).

    Example:
        ```python
        tokenizer = HFTokenizer.from_file("models/llama-3/tokenizer.json", name="llama-3")
        TokenCounter(tokenizer).count_text("hello")
        ```
    """

    name: str
    """The tokenizer's name, stored next to token counts."""

    def __init__(self, tokenizer: Any, name: str) -> None:
        """Wrap an already-built `tokenizers.Tokenizer` under `name`."""
        self.name = name
        self._tokenizer = tokenizer

    def __repr__(self) -> str:
        return f"HFTokenizer({self.name!r})"

    @classmethod
    def from_file(cls, path: str | Path, *, name: str | None = None) -> HFTokenizer:
        """Load a `tokenizer.json` file.

        Args:
            path: The file.
            name: The name to store counts under; defaults to `hf:` and a digest of the file,
                so two different tokenizers never share a name.

        Raises:
            ConfigError: `tokenizers` is not installed, or the file is missing or invalid.
        """
        try:
            json_text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the tokenizer file {path}: {exc}") from exc
        return cls.from_str(json_text, name=name)

    @classmethod
    def from_str(cls, json_text: str, *, name: str | None = None) -> HFTokenizer:
        """Load a tokenizer from the JSON text of a `tokenizer.json` file.

        Raises:
            ConfigError: `tokenizers` is not installed, or the JSON is not a valid tokenizer.
        """
        tokenizers = _tokenizers()
        try:
            tokenizer = tokenizers.Tokenizer.from_str(json_text)
        except Exception as exc:  # tokenizers raises bare Exceptions from Rust
            raise ConfigError(f"invalid tokenizer JSON: {exc}") from exc
        if name is None:
            name = "hf:" + hashlib.sha256(json_text.encode("utf-8")).hexdigest()[:16]
        return cls(tokenizer, name)

    def encode(self, text: str) -> list[int]:
        """The token ids of `text`, without special tokens."""
        return list(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def count(self, text: str) -> int:
        """The number of tokens of `text`."""
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def truncate(self, text: str, max_tokens: int) -> str:
        """The longest prefix of `text` ending at a token edge with at most `max_tokens` tokens."""
        offsets = self._tokenizer.encode(text, add_special_tokens=False).offsets
        if len(offsets) <= max_tokens:
            return text
        for keep in range(max(max_tokens, 0), 0, -1):
            head = text[: offsets[keep - 1][1]]
            if self.count(head) <= max_tokens:
                return head
        return ""
