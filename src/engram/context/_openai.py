"""Content parts in the form OpenAI's chat completions take.

Messages keep their parts as given. An Anthropic image part (`{"type": "image", "source":
...}`, which LangChain and Claude clients produce) is counted like any image, but OpenAI
refuses that part type: `ContextResult.to_openai` sends it as the `image_url` part it stands
for. OpenAI's own parts, and the parts with no OpenAI equivalent, go as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["openai_content"]


def openai_content(message: dict[str, Any]) -> dict[str, Any]:
    """`message` (an OpenAI message dict) with its Anthropic image parts as `image_url` parts."""
    content = message.get("content")
    if not isinstance(content, list) or not any(_is_anthropic_image(p) for p in content):
        return message
    return {**message, "content": [_openai_part(part) for part in content]}


def _is_anthropic_image(part: object) -> bool:
    return (
        isinstance(part, Mapping)
        and part.get("type") == "image"
        and isinstance(part.get("source"), Mapping)
    )


def _openai_part(part: Any) -> Any:
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
