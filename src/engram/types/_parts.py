"""Content parts in the forms the chat APIs take.

A message keeps its parts as given (`ContentPart`): OpenAI's, Anthropic's, LangChain's. The
forms differ only on the way out, and each conversion is done here, once:

- `openai_part`: OpenAI refuses Anthropic's image part (`{"type": "image", "source": ...}`,
  which LangChain and Claude clients produce); it goes as the `image_url` part it stands for.
  OpenAI's own parts, and the parts with no OpenAI equivalent, go as they are.
- `anthropic_block`: OpenAI's text, refusal and image parts become Anthropic's text and image
  blocks; Anthropic's own blocks (`image`, `document`, `thinking`, `tool_use`, ...), and the
  parts with no Anthropic equivalent (`input_audio`, OpenAI's `file`), go as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engram._exceptions import InvalidInputError

__all__ = ["anthropic_block", "openai_part"]

_TEXT_PART_TYPES = frozenset({"text", "input_text", "output_text"})
"""Part types that are text: OpenAI's and Anthropic's `text`, the Responses API's two."""

_ANTHROPIC_TEXT_KEYS = ("cache_control", "citations")
"""The keys of a text part Anthropic takes besides `type` and `text` (OpenAI's `annotations`,
for one, it refuses)."""


def openai_part(part: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic image part as an `image_url` part: base64 data as a data URL, a URL
    source as its URL; any other part (or source type, such as a file id) unchanged."""
    if not _is_anthropic_image(part):
        return part
    source = part["source"]
    if source.get("type") == "base64" and source.get("data") and source.get("media_type"):
        url = f"data:{source['media_type']};base64,{source['data']}"
    elif source.get("type") == "url" and source.get("url"):
        url = str(source["url"])
    else:
        return part
    return {"type": "image_url", "image_url": {"url": url}}


def anthropic_block(part: dict[str, Any]) -> dict[str, Any] | None:
    """`part` as an Anthropic content block, or None when it has nothing to send.

    A text part (`text`, `input_text`, `output_text`) and a refusal become `text` blocks,
    None when blank (Anthropic refuses a text block without non-whitespace text); an
    `image_url` or `input_image` part becomes an `image` block (a `data:` URL as base64 data,
    any other URL as a URL source). Other parts go as given.

    Raises:
        InvalidInputError: An image as a `data:` URL that is not base64 (Anthropic takes
            image data as base64 only).
    """
    kind = part.get("type")
    if kind in _TEXT_PART_TYPES or kind == "refusal":
        text = part.get("refusal" if kind == "refusal" else "text")
        if not isinstance(text, str) or not text.strip():
            return None
        return {"type": "text", "text": text, **_kept(part, _ANTHROPIC_TEXT_KEYS)}
    if kind in ("image_url", "input_image"):
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, Mapping) else image
        if isinstance(url, str) and url:
            source = _image_source(url)
            return {"type": "image", "source": source, **_kept(part, ("cache_control",))}
    return part


def _image_source(url: str) -> dict[str, str]:
    """An Anthropic image source: base64 data for a `data:` URL, else the URL."""
    if not url.startswith("data:"):
        return {"type": "url", "url": url}
    header, _, data = url[len("data:") :].partition(",")
    media_type, *parameters = header.split(";")
    if "base64" not in parameters or not data:
        raise InvalidInputError(f"an image data URL must hold base64 data, not {url!r:.80}")
    return {"type": "base64", "media_type": media_type, "data": data}


def _kept(part: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: part[key] for key in keys if key in part}


def _is_anthropic_image(part: object) -> bool:
    return (
        isinstance(part, Mapping)
        and part.get("type") == "image"
        and isinstance(part.get("source"), Mapping)
    )
