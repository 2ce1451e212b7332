"""Exact OpenAI token counts for texts of any length.

Short texts go straight to tiktoken. Long texts are cut into chunks where tiktoken's
pre-tokenizer splits anyway, so the chunks' token lists add up to exactly what tiktoken
returns for the whole text (BPE never merges across a pre-token boundary):

- a chunk boundary is put only before a space (U+0020) that follows a non-whitespace
  character. In both `cl100k_base` and `o200k_base` no pre-token contains a non-whitespace
  character followed by a space, and the only look-arounds in the patterns (`(?!\\S)`, `$`)
  sit at the end of whitespace runs, so neither side of such a boundary sees the other;
- a chunk with no such boundary for a long stretch (a million spaces, a huge unbroken CJK
  or base64 run) is pre-tokenized in Python with the same pattern, the way tiktoken's own
  `Encoding._encode_only_native_bpe` does it (tiktoken's tests check that path against the
  native encoder), and each pre-token is run through tiktoken's BPE alone. tiktoken's native
  regex overflows its stack on whitespace runs near a million characters, and its BPE needs
  about a second for a million-byte pre-token; a long run of one ASCII character (spaces,
  tabs, `=====`) is encoded by `_runs.repeated_byte_bpe` in a few steps instead.

Counting follows `encode(text, disallowed_special=())`: special-token text such as
`<|endoftext|>` is ordinary text. Lone surrogates are replaced the way tiktoken does.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable, Iterator, Sequence

import tiktoken

from engram.tokens._runs import repeated_byte_bpe

__all__ = ["TiktokenTokenizer"]

_SPLIT_POINT = re.compile(r"(?<=\S) ")
"""A space after a non-whitespace character (Python's \\S is stricter than the regex's)."""
_SURROGATE = re.compile("[\ud800-\udfff]")
_LONG_RUN = 256
"""Pre-tokens of one repeated ASCII character at least this long skip tiktoken's BPE."""


class TiktokenTokenizer:
    """A `TokenizerProtocol` over a `tiktoken.Encoding`, exact on texts of any length.

    Chunking relies on a property of OpenAI's split patterns (r50k to o200k): no pre-token
    holds a non-whitespace character followed by a space. Wrap only encodings that have it.

    Example:
        ```python
        tokenizer = get_tokenizer("o200k_base")  # a TiktokenTokenizer
        tokenizer.count("hello world")  # 2
        ```
    """

    name: str
    """The encoding name (e.g. `o200k_base`)."""

    def __init__(
        self,
        encoding: tiktoken.Encoding,
        *,
        chunk_chars: int = 16_384,
        native_chunk_chars: int = 65_536,
    ) -> None:
        """Wrap `encoding`.

        Args:
            encoding: The tiktoken encoding.
            chunk_chars: Texts longer than this are encoded in chunks of about this size.
            native_chunk_chars: Chunks longer than this (no safe boundary for that long) are
                pre-tokenized in Python rather than by tiktoken's native regex.
        """
        self.name = encoding.name
        self._encoding = encoding
        self._chunk_chars = max(1, chunk_chars)
        self._native_chunk_chars = native_chunk_chars
        self._run_ranks: dict[str, dict[int, int]] = {}

    def __repr__(self) -> str:
        return f"TiktokenTokenizer({self.name!r})"

    @property
    def encoding(self) -> tiktoken.Encoding:
        """The wrapped tiktoken encoding."""
        return self._encoding

    def encode(self, text: str) -> list[int]:
        """The token ids of `text`, equal to `encoding.encode(text, disallowed_special=())`."""
        if len(text) <= self._chunk_chars:
            return self._encoding.encode_ordinary(text)
        tokens: list[int] = []
        for part in self._parts(text):
            tokens.extend(part)
        return tokens

    def count(self, text: str) -> int:
        """The number of tokens of `text`."""
        if len(text) <= self._chunk_chars:
            return len(self._encoding.encode_ordinary(text))
        return sum(len(part) for part in self._parts(text))

    def decode(self, tokens: Sequence[int]) -> str:
        """The text of `tokens` (invalid UTF-8 at token edges becomes U+FFFD)."""
        return self._encoding.decode(tokens)

    def truncate(self, text: str, max_tokens: int) -> str:
        """The longest prefix of `text` made of its first `max_tokens` tokens.

        A character split between two tokens is dropped whole, and the result is re-counted,
        so `count(result) <= max_tokens` always holds.
        """
        tokens: list[int] = []
        for part in self._parts(text):
            tokens.extend(part)
            if len(tokens) > max_tokens:
                break
        else:
            return text
        for keep in range(max(max_tokens, 0), 0, -1):
            head = self._encoding.decode_bytes(tokens[:keep]).decode("utf-8", errors="ignore")
            if self.count(head) <= max_tokens:
                return head
        return ""

    def _parts(self, text: str) -> Iterator[list[int]]:
        """Token lists of consecutive chunks of `text`; their concatenation is its encoding."""
        if _SURROGATE.search(text):
            text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        for chunk in split_chunks(text, self._chunk_chars):
            if len(chunk) <= self._native_chunk_chars:
                yield self._encoding.encode_ordinary(chunk)
            else:
                yield self._encode_pre_tokenized(chunk)

    def _encode_pre_tokenized(self, chunk: str) -> list[int]:
        tokens: list[int] = []
        for piece in _pre_tokenizer(self._encoding._pat_str)(chunk):
            tokens.extend(self._encode_piece(piece))
        return tokens

    def _encode_piece(self, piece: str) -> list[int]:
        if len(piece) >= _LONG_RUN and piece.isascii() and piece.count(piece[0]) == len(piece):
            tokens = repeated_byte_bpe(self._ranks_of_runs(piece[0]), len(piece))
            if tokens is not None:
                return tokens
        return self._encoding._encode_single_piece(piece.encode("utf-8"))

    def _ranks_of_runs(self, char: str) -> dict[int, int]:
        """Length k -> rank of the token made of k copies of `char`, for every such token."""
        ranks = self._run_ranks.get(char)
        if ranks is None:
            ranks = {}
            for length in range(1, _longest_token(self._encoding) + 1):
                try:
                    ranks[length] = self._encoding.encode_single_token(char.encode() * length)
                except KeyError:
                    continue
            self._run_ranks[char] = ranks
        return ranks


@functools.cache
def _pre_tokenizer(pat_str: str) -> Callable[[str], list[str]]:
    """The pattern's `findall`, with the `regex` module tiktoken itself depends on.

    `regex` has the `\\p{..}` classes the patterns need (`re` has not); it ships no type
    hints, hence the dynamic import.
    """
    regex = importlib.import_module("regex")
    findall: Callable[[str], list[str]] = regex.compile(pat_str).findall
    return findall


@functools.cache
def _longest_token(encoding: tiktoken.Encoding) -> int:
    return max(len(token) for token in encoding.token_byte_values())


def split_chunks(text: str, size: int) -> Iterator[str]:
    """Cut `text` into chunks of at least `size` characters at safe boundaries.

    Each boundary is a space that follows a non-whitespace character, where both OpenAI
    pre-tokenizers start a new pre-token whatever comes before or after (see module docs).
    """
    start = 0
    while len(text) - start > size:
        match = _SPLIT_POINT.search(text, start + size)
        if match is None:
            break
        yield text[start : match.start()]
        start = match.start()
    yield text[start:]
