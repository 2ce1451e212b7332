"""Model names -> tokenizer and context window.

Names are matched by family, like tiktoken's `MODEL_PREFIX_TO_ENCODING`: a family `gpt-4o`
covers `gpt-4o` and every `gpt-4o-...` name (`gpt-4o-mini`, `gpt-4o-2024-08-06`), and a
family ending in `*` covers every name starting with it (`gpt-5*`: `gpt-5.1`, `gpt-5-mini`).
Fine-tuned names (`ft:gpt-4o-mini-2024-07-18:org::abc`) and `openai/`-prefixed names
resolve to their base model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from engram._exceptions import InvalidInputError
from engram.tokens._images import GPT_4O_IMAGES, ImagePricing

__all__ = ["context_window", "encoding_for_model", "image_pricing", "is_legacy_chat_format"]

_V = TypeVar("_V")

_O200K = "o200k_base"
_CL100K = "cl100k_base"

_ENCODING_FAMILIES: tuple[tuple[str, str], ...] = (
    ("gpt-5*", _O200K),
    ("gpt-4.5", _O200K),
    ("gpt-4.1", _O200K),
    ("gpt-4o", _O200K),
    ("chatgpt-4o", _O200K),
    ("o1", _O200K),
    ("o3", _O200K),
    ("o4", _O200K),
    # gpt-oss uses o200k_harmony: the o200k_base ranks and pattern plus more special tokens,
    # so ordinary text counts the same.
    ("gpt-oss", _O200K),
    ("gpt-4", _CL100K),
    ("gpt-3.5-turbo", _CL100K),
    ("gpt-3.5", _CL100K),
    ("gpt-35-turbo", _CL100K),  # Azure deployment names
    ("text-embedding-ada-002", _CL100K),
    ("text-embedding-3-small", _CL100K),
    ("text-embedding-3-large", _CL100K),
    ("davinci-002", _CL100K),
    ("babbage-002", _CL100K),
)

_CONTEXT_WINDOWS: dict[str, int] = {
    "gpt-5*": 400_000,
    "gpt-5-chat": 128_000,
    "gpt-4.5": 128_000,
    "gpt-4.1": 1_047_576,
    "gpt-4o": 128_000,
    "gpt-4o-mini": 128_000,
    "chatgpt-4o": 128_000,
    "o1": 200_000,
    "o1-mini": 128_000,
    "o1-preview": 128_000,
    "o3": 200_000,
    "o3-mini": 200_000,
    "o4-mini": 200_000,
    "gpt-oss": 131_072,
    "gpt-4": 8_192,
    "gpt-4-32k": 32_768,
    "gpt-4-turbo": 128_000,
    "gpt-4-1106-preview": 128_000,
    "gpt-4-0125-preview": 128_000,
    "gpt-4-vision-preview": 128_000,
    "gpt-3.5-turbo": 16_385,
    "gpt-3.5-turbo-16k": 16_385,
    "gpt-3.5-turbo-0301": 4_096,
    "gpt-3.5-turbo-0613": 4_096,
    "gpt-3.5-turbo-instruct": 4_096,
    "text-embedding-ada-002": 8_191,
    "text-embedding-3-small": 8_191,
    "text-embedding-3-large": 8_191,
}


_IMAGE_PRICES: dict[str, ImagePricing] = {
    "gpt-5*": ImagePricing(70, 140),
    "gpt-5-mini": ImagePricing(per_patch=1.62),
    "gpt-5-nano": ImagePricing(per_patch=2.46),
    "gpt-4.1-mini": ImagePricing(per_patch=1.62),
    "gpt-4.1-nano": ImagePricing(per_patch=2.46),
    "gpt-4o-mini": ImagePricing(2833, 5667),
    "o1": ImagePricing(75, 150),
    "o3": ImagePricing(75, 150),
    "o4-mini": ImagePricing(per_patch=1.72),
}
"""The image prices of OpenAI's vision guide that differ from GPT-4o's (`GPT_4O_IMAGES`)."""


def encoding_for_model(model: str) -> str:
    """The tokenizer (encoding name) an OpenAI model uses.

    Args:
        model: A model name: `gpt-4o`, `gpt-4o-mini-2024-07-18`, `o3-mini`, `gpt-4.1-nano`,
            `gpt-3.5-turbo`, `text-embedding-3-small`, `ft:gpt-4o-mini:org::id`, ...

    Returns:
        `o200k_base` or `cl100k_base`.

    Raises:
        InvalidInputError: the model is not known; pass the encoding explicitly instead.

    Example:
        ```python
        encoding_for_model("gpt-4o-mini")  # "o200k_base"
        ```
    """
    base = _base_model(model)
    for family, encoding in _ENCODING_FAMILIES:
        if _in_family(base, family):
            return encoding
    raise InvalidInputError(
        f"unknown model {model!r}: cannot tell which tokenizer it uses. Pass the encoding "
        "explicitly, e.g. TokenCounter.for_encoding('o200k_base') (GPT-4o and later) or "
        "get_tokenizer('cl100k_base') (GPT-4, GPT-3.5), or wrap your own tokenizer "
        "(HFTokenizer.from_file('tokenizer.json')) in TokenCounter(...)."
    )


def context_window(model: str) -> int | None:
    """The context window (in tokens) of an OpenAI model family, or None if unknown.

    Example:
        ```python
        context_window("gpt-4o-2024-08-06")  # 128000
        ```
    """
    return _of_family(_CONTEXT_WINDOWS, model)


def image_pricing(model: str) -> ImagePricing:
    """How an OpenAI model family charges for images (GPT-4o's prices if not listed).

    Example:
        ```python
        image_pricing("gpt-4o-mini-2024-07-18")  # ImagePricing(base=2833, tile=5667, ...)
        ```
    """
    return _of_family(_IMAGE_PRICES, model) or GPT_4O_IMAGES


def is_legacy_chat_format(model: str) -> bool:
    """Whether the model is `gpt-3.5-turbo-0301` (4 tokens per message, -1 per name)."""
    return _in_family(_base_model(model), "gpt-3.5-turbo-0301")


def _of_family(table: Mapping[str, _V], model: str) -> _V | None:
    """The value of the most specific family of `table` that `model` is in, if any."""
    base = _base_model(model)
    families = [family for family in table if _in_family(base, family)]
    return table[max(families, key=len)] if families else None


def _base_model(model: str) -> str:
    name = model.strip().lower()
    name = name.removeprefix("openai/")
    if name.startswith("ft:"):
        name = name[3:].split(":", 1)[0]
    return name


def _in_family(name: str, family: str) -> bool:
    if family.endswith("*"):
        return name.startswith(family[:-1])
    return name == family or name.startswith(family + "-")
