"""Model names -> encoding and context window."""

from __future__ import annotations

import pytest
import tiktoken.model

from engram._exceptions import InvalidInputError
from engram.tokens import context_window, encoding_for_model

O200K = [
    "gpt-5",
    "gpt-5-mini",
    "gpt-5-nano",
    "gpt-5.1",
    "gpt-5-chat-latest",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4.1-nano-2025-04-14",
    "gpt-4.5",
    "gpt-4.5-preview",
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4o-2024-08-06",
    "gpt-4o-mini-2024-07-18",
    "gpt-4o-audio-preview",
    "chatgpt-4o-latest",
    "o1",
    "o1-mini",
    "o1-preview-2024-09-12",
    "o3",
    "o3-mini",
    "o3-pro",
    "o4-mini",
    "o4-mini-2025-04-16",
    "ft:gpt-4o-mini-2024-07-18:my-org::abc123",
    "ft:gpt-4o:org:custom:id",
    "openai/gpt-4o",
    "GPT-4o",
    "gpt-oss-120b",
]
CL100K = [
    "gpt-4",
    "gpt-4-0613",
    "gpt-4-32k",
    "gpt-4-turbo",
    "gpt-4-turbo-2024-04-09",
    "gpt-4-1106-preview",
    "gpt-3.5-turbo",
    "gpt-3.5-turbo-0125",
    "gpt-3.5-turbo-16k",
    "gpt-3.5-turbo-0301",
    "gpt-35-turbo",
    "text-embedding-ada-002",
    "text-embedding-3-small",
    "text-embedding-3-large",
    "ft:gpt-3.5-turbo-0125:org::id",
    "ft:gpt-4-0613:org::id",
    "davinci-002",
]


@pytest.mark.parametrize("model", O200K)
def test_o200k_models(model: str) -> None:
    assert encoding_for_model(model) == "o200k_base"


@pytest.mark.parametrize("model", CL100K)
def test_cl100k_models(model: str) -> None:
    assert encoding_for_model(model) == "cl100k_base"


def _tiktoken_encoding(model: str) -> str | None:
    try:
        return tiktoken.model.encoding_name_for_model(model)
    except KeyError:
        return None


KNOWN_TO_TIKTOKEN = [m for m in O200K + CL100K if _tiktoken_encoding(m) is not None]


@pytest.mark.parametrize("model", KNOWN_TO_TIKTOKEN)
def test_agrees_with_tiktoken_where_tiktoken_knows_the_model(model: str) -> None:
    expected = str(_tiktoken_encoding(model))
    # gpt-oss's o200k_harmony only adds special tokens to o200k_base.
    assert encoding_for_model(model) == expected.replace("o200k_harmony", "o200k_base")


@pytest.mark.parametrize("model", ["claude-3-opus", "llama-3-8b", "gpt-4x", "o2", "", "gpt"])
def test_unknown_models_say_how_to_pass_an_encoding(model: str) -> None:
    with pytest.raises(InvalidInputError, match=r"for_encoding\('o200k_base'\)"):
        encoding_for_model(model)


@pytest.mark.parametrize(
    ("model", "window"),
    [
        ("gpt-4o", 128_000),
        ("gpt-4o-2024-08-06", 128_000),
        ("gpt-4o-mini", 128_000),
        ("gpt-4.1", 1_047_576),
        ("gpt-4.1-mini", 1_047_576),
        ("gpt-5", 400_000),
        ("gpt-5-mini", 400_000),
        ("o1", 200_000),
        ("o3", 200_000),
        ("o4-mini", 200_000),
        ("gpt-4", 8_192),
        ("gpt-4-0613", 8_192),
        ("gpt-4-turbo", 128_000),
        ("gpt-4-turbo-2024-04-09", 128_000),
        ("gpt-3.5-turbo", 16_385),
        ("gpt-3.5-turbo-0125", 16_385),
        ("ft:gpt-4o-mini-2024-07-18:org::x", 128_000),
        ("claude-3-opus", None),
        ("gpt", None),
    ],
)
def test_context_windows(model: str, window: int | None) -> None:
    assert context_window(model) == window
