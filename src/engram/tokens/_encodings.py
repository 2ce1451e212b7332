"""OpenAI's BPE encodings, built offline from the rank files shipped with Engram.

The rank files in `engram/tokens/data/` are the `.tiktoken` files tiktoken downloads, gzipped.
They are checked against the sha256 tiktoken pins for them (`tiktoken_ext/openai_public.py`)
every time they are loaded, so a corrupted install fails loudly instead of counting wrongly.
The split patterns and special tokens below are copied from the same tiktoken module.
"""

from __future__ import annotations

import binascii
import functools
import gzip
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable

import tiktoken

from engram._exceptions import ConfigError, InvalidInputError

__all__ = ["ENCODING_NAMES", "load_encoding", "read_rank_file"]

_ENDOFTEXT = "<|endoftext|>"
_FIM_PREFIX = "<|fim_prefix|>"
_FIM_MIDDLE = "<|fim_middle|>"
_FIM_SUFFIX = "<|fim_suffix|>"
_ENDOFPROMPT = "<|endofprompt|>"

_CL100K_PAT_STR = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""  # noqa: E501

_O200K_PAT_STR = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)


@dataclass(frozen=True, slots=True)
class _EncodingSpec:
    """What tiktoken's `openai_public` constructor says about one encoding."""

    pat_str: str
    """The pre-tokenizer regex."""
    special_tokens: Mapping[str, int]
    """Special token text -> id."""
    sha256: str
    """The sha256 of the decompressed `.tiktoken` rank file."""


_SPECS: dict[str, _EncodingSpec] = {
    "cl100k_base": _EncodingSpec(
        pat_str=_CL100K_PAT_STR,
        special_tokens={
            _ENDOFTEXT: 100257,
            _FIM_PREFIX: 100258,
            _FIM_MIDDLE: 100259,
            _FIM_SUFFIX: 100260,
            _ENDOFPROMPT: 100276,
        },
        sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    "o200k_base": _EncodingSpec(
        pat_str=_O200K_PAT_STR,
        special_tokens={_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018},
        sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
}

ENCODING_NAMES: tuple[str, ...] = tuple(sorted(_SPECS))
"""The encodings Engram ships: `cl100k_base` and `o200k_base`."""


@functools.cache
def load_encoding(name: str) -> tiktoken.Encoding:
    """Build (once per process) the tiktoken encoding `name` from the shipped rank file.

    Args:
        name: `o200k_base` or `cl100k_base`.

    Returns:
        The encoding; tiktoken never touches the network for it.

    Raises:
        InvalidInputError: `name` is not an encoding Engram ships.
        ConfigError: the rank file is missing, unreadable or fails its sha256 check.
    """
    spec = _SPECS.get(name)
    if spec is None:
        raise InvalidInputError(
            f"unknown encoding {name!r}; Engram ships {', '.join(ENCODING_NAMES)}"
        )
    source = resources.files("engram.tokens").joinpath("data").joinpath(f"{name}.tiktoken.gz")
    return tiktoken.Encoding(
        name=name,
        pat_str=spec.pat_str,
        mergeable_ranks=read_rank_file(source, spec.sha256),
        special_tokens=dict(spec.special_tokens),
    )


def read_rank_file(source: Traversable, sha256: str) -> dict[bytes, int]:
    """Read a gzipped `.tiktoken` rank file and check the sha256 of its decompressed bytes.

    Args:
        source: The `.tiktoken.gz` file.
        sha256: The expected hex digest of the decompressed contents.

    Returns:
        The mergeable ranks (token bytes -> rank), as `tiktoken.load.load_tiktoken_bpe` reads them.

    Raises:
        ConfigError: the file is missing, not gzip, corrupt, or its digest does not match.
    """
    try:
        contents = gzip.decompress(source.read_bytes())
    except (OSError, EOFError) as exc:
        raise ConfigError(f"cannot read the token rank file {source}: {exc}") from exc
    digest = hashlib.sha256(contents).hexdigest()
    if digest != sha256:
        raise ConfigError(
            f"the token rank file {source} is corrupt: sha256 {digest}, expected {sha256}; "
            "reinstall engramdb"
        )
    return _parse_ranks(contents, source)


def _parse_ranks(contents: bytes, source: Traversable) -> dict[bytes, int]:
    try:
        return {
            binascii.a2b_base64(token, strict_mode=True): int(rank)
            for token, rank in (line.split() for line in contents.splitlines() if line)
        }
    except ValueError as exc:  # bad base64 (binascii.Error), bad rank, wrong field count
        raise ConfigError(f"the token rank file {source} is malformed: {exc}") from exc
