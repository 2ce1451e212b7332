"""Content parts in the forms the chat APIs take.

A message keeps its parts as given (`ContentPart`): OpenAI's, Anthropic's, LangChain's. The
forms differ only on the way out, and each conversion is done here, once:

- `openai_part`: a part as OpenAI's chat completions take it in a message of a given role
  (system and tool messages: text parts only; user messages: text, `image_url`,
  `input_audio` and `file` parts; assistant messages: text and refusal parts), or None when
  it is not sent. A text part goes with only the keys OpenAI's schema has for it (not
  Anthropic's `cache_control` or `citations`), and so does each of OpenAI's own parts (a
  bare-URL `image_url` as `{"url": ...}`). Anthropic's image part goes as the `image_url` part
  it stands for, its `document` block as a `file` part (base64 data) or a text part (a text
  source); LangChain's standard data blocks likewise (an image as `image_url`, a file as
  `file`, WAV or MP3 audio as `input_audio`, plain text as a text part). Another model's
  private reasoning (Anthropic's `thinking` and `redacted_thinking`, LangChain's `reasoning`)
  is not sent, nor are tool calls among the parts (Anthropic's `tool_use`, LangChain's
  `tool_call`: they go as the message's `tool_calls`, `openai_tool_call`), nor, in an
  assistant message, any other part OpenAI has no form for (a reply's own machinery: server
  tool use and its results). Any other part OpenAI has no form for in that role (an image in
  a system or tool message, a file by URL, video, an Anthropic `tool_result` in a user
  message, which goes as a tool message: `openai_tool_message`) raises `InvalidInputError`:
  leaving it out would lose what was said.
- `anthropic_block`: OpenAI's text, refusal and image parts become Anthropic's text and image
  blocks, LangChain's data blocks Anthropic's `image` and `document` blocks, and its signed
  `reasoning` blocks Claude's `thinking` blocks (its `tool_call` blocks are the message's
  tool calls, sent as `tool_use`); Anthropic's own blocks (`image`, `document`, `thinking`,
  `tool_use`, ...), and the parts with no Anthropic equivalent (`input_audio`, OpenAI's
  `file`, LangChain's audio), go as they are.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
from collections.abc import Mapping
from typing import Any

from engram._exceptions import InvalidInputError

__all__ = ["anthropic_block", "openai_part", "openai_tool_call", "openai_tool_message"]

_OPENAI_PART_TYPES: Mapping[str, frozenset[str]] = {
    "system": frozenset({"text"}),
    "user": frozenset({"text", "image_url", "input_audio", "file"}),
    "assistant": frozenset({"text", "refusal"}),
    "tool": frozenset({"text"}),
}
"""The parts OpenAI's chat completions take in a message of each role."""

_NOT_SENT_TO_OPENAI = frozenset(
    {"thinking", "redacted_thinking", "reasoning", "tool_use", "tool_call", "invalid_tool_call"}
)
"""Parts never sent to OpenAI: another model's private reasoning (Anthropic's `thinking`
and `redacted_thinking` blocks, LangChain's `reasoning`), and tool calls (Anthropic's
`tool_use`, LangChain's `tool_call` and `invalid_tool_call`), which go as the message's
`tool_calls`."""

_TEXT_PART_TYPES = frozenset({"text", "input_text", "output_text"})
"""Part types that are text: OpenAI's and Anthropic's `text`, the Responses API's two."""

_ANTHROPIC_TEXT_KEYS = ("cache_control", "citations")
"""The keys of a text part Anthropic takes besides `type` and `text` (OpenAI's `annotations`,
for one, it refuses)."""

_ANTHROPIC_DOCUMENT_KEYS = ("cache_control", "citations", "title", "context")
"""The keys of a document block Anthropic takes besides `type` and `source`."""

_LANGCHAIN_DATA_TYPES = frozenset({"image", "file", "audio", "video", "text-plain"})
"""The types of LangChain's standard data blocks (`langchain_core.messages.content`)."""

_LANGCHAIN_V1_SOURCES = ("url", "base64", "file_id", "text")
"""The keys a LangChain 1.x data block holds its data under."""

_LANGCHAIN_V0_SOURCES: Mapping[str, tuple[str, str]] = {
    "url": ("url", "url"),
    "base64": ("base64", "data"),
    "id": ("file_id", "id"),
    "text": ("text", "text"),
}
"""A LangChain 0.3 data block's `source_type`: the 1.x key it stands for, and its own key."""

_OPENAI_AUDIO_FORMATS: Mapping[str, str] = {
    "audio/wav": "wav",
    "audio/wave": "wav",
    "audio/x-wav": "wav",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
}
"""The `input_audio` format of each audio MIME type OpenAI's chat completions take."""


def openai_part(part: dict[str, Any], role: str) -> dict[str, Any] | None:
    """`part` as OpenAI's chat completions take it in a `role` message, or None when it is
    not sent (the module docstring says which are not).

    A text part (`text`, `input_text`, `output_text`) is a `text` part with its text (and
    OpenAI's `prompt_cache_breakpoint`) only; a refusal outside an assistant message is a
    text part too. An Anthropic image part, or a LangChain image block, is an `image_url`
    part (base64 data as a data URL); an Anthropic base64 `document`, or a LangChain file
    block, a `file` part (base64 data as a data URL, with its filename, Anthropic's `title`
    or one made up from its MIME type: OpenAI requires one; or a file id); an Anthropic text
    `document`, or a LangChain `text-plain` block, a text part; a LangChain audio block of
    WAV or MP3 data an `input_audio` part.

    Raises:
        InvalidInputError: A part OpenAI has no form for in a `role` message that is not
            left out (a system or tool message's image, a file by URL or file id OpenAI
            cannot read, video, an Anthropic `tool_result` in a user message).
    """
    kind = part.get("type")
    if kind in _NOT_SENT_TO_OPENAI:
        return None
    converted = _openai_form(part)
    if converted is not None and converted["type"] == "refusal" and role != "assistant":
        converted = {"type": "text", "text": converted["refusal"]}
    if converted is not None and converted["type"] in _OPENAI_PART_TYPES.get(role, ()):
        return converted
    if role == "assistant":
        return None
    hint = (
        " (it goes as a tool message: ContextResult.to_openai())" if kind == "tool_result" else ""
    )
    raise InvalidInputError(
        f"OpenAI's chat completions take no form of this {kind!r:.50} part in a {role} "
        f"message{hint}"
    )


def openai_tool_call(part: Mapping[str, Any]) -> dict[str, Any] | None:
    """The call of an Anthropic `tool_use` block or a LangChain `tool_call` block, as
    `ToolCall.from_openai` reads it (its arguments the block's `input` or `args` object);
    None for any other part."""
    kind = part.get("type")
    if kind not in ("tool_use", "tool_call") or not isinstance(part.get("id"), str):
        return None
    arguments = part.get("input" if kind == "tool_use" else "args")
    function = {"name": str(part.get("name") or ""), "arguments": arguments or {}}
    return {"id": part["id"], "type": "function", "function": function}


def openai_tool_message(part: Mapping[str, Any]) -> dict[str, Any] | None:
    """An Anthropic `tool_result` block as the OpenAI tool message it stands for (its
    content as text, or as text parts: `openai_part`; `is_error` is not sent); None for any
    other part.

    Raises:
        InvalidInputError: Its content holds a part a tool message cannot take (an image).
    """
    if part.get("type") != "tool_result":
        return None
    content = part.get("content")
    if isinstance(content, list):
        parts = [openai_part(block, "tool") for block in content if isinstance(block, dict)]
        content = [converted for converted in parts if converted is not None] or ""
    message = {"role": "tool", "tool_call_id": str(part.get("tool_use_id") or "")}
    return {**message, "content": content if isinstance(content, str | list) else ""}


def _openai_form(part: Mapping[str, Any]) -> dict[str, Any] | None:
    """The OpenAI part `part` stands for, whatever the role; None when it has none."""
    kind = part.get("type")
    if kind in _TEXT_PART_TYPES:
        text = part.get("text")
        return _openai_text(text, part) if isinstance(text, str) else None
    if kind == "refusal":
        refusal = part.get("refusal")
        return {"type": "refusal", "refusal": refusal} if isinstance(refusal, str) else None
    if kind in ("image_url", "input_image"):
        image = part.get("image_url")
        image = {"url": image} if isinstance(image, str) else image
        if isinstance(image, Mapping) and isinstance(image.get("url"), str):
            detail = _kept(part, ("detail",)) if kind == "input_image" else {}
            return {"type": "image_url", "image_url": {**image, **detail}, **_cache_point(part)}
        return None
    if kind in ("input_audio", "file") and isinstance(body := part.get(kind), Mapping):
        return {"type": kind, kind: body, **_cache_point(part)}
    if (data := _langchain_source(part)) is not None:
        return _openai_data_part(part, *data)
    if kind == "document" and isinstance(part.get("source"), Mapping):
        return _openai_document(part, part["source"])
    if _is_anthropic_image(part):
        source = part["source"]
        if source.get("type") == "base64" and source.get("data") and source.get("media_type"):
            return _image_url(_data_url(source["media_type"], source["data"]))
        if source.get("type") == "url" and source.get("url"):
            return _image_url(str(source["url"]))
    return None


def _openai_document(part: Mapping[str, Any], source: Mapping[str, Any]) -> dict[str, Any] | None:
    """An Anthropic `document` block as a `file` part (base64 data) or a text part (a text
    source); None for a URL, file or content source (OpenAI's chat completions read no file
    by URL, and an Anthropic file id is no OpenAI file's)."""
    data, media_type = source.get("data"), source.get("media_type")
    if source.get("type") == "text" and isinstance(data, str):
        return _openai_text(data, {})
    if source.get("type") == "base64" and isinstance(data, str) and data:
        mime_type = media_type if isinstance(media_type, str) and media_type else "application/pdf"
        return _openai_file(mime_type, data, part.get("title"))
    return None


def _openai_text(text: str, part: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "text", "text": text, **_cache_point(part)}


def _openai_file(mime_type: str, data: str, filename: object) -> dict[str, Any]:
    """A `file` part of base64 `data`, named `filename` or, without one, `document` with
    the extension of its MIME type (OpenAI refuses file data without a filename)."""
    name = filename if isinstance(filename, str) and filename else None
    name = name or "document" + (mimetypes.guess_extension(mime_type) or "")
    return {"type": "file", "file": {"file_data": _data_url(mime_type, data), "filename": name}}


def _cache_point(part: Mapping[str, Any]) -> dict[str, Any]:
    return _kept(part, ("prompt_cache_breakpoint",))


def anthropic_block(part: dict[str, Any]) -> dict[str, Any] | None:
    """`part` as an Anthropic content block, or None when it has nothing to send.

    A text part (`text`, `input_text`, `output_text`) and a refusal become `text` blocks,
    None when blank (Anthropic refuses a text block without non-whitespace text); an
    `image_url` or `input_image` part becomes an `image` block (a `data:` URL as base64 data,
    any other URL as a URL source). A LangChain data block becomes an `image` block (an
    image) or a `document` block (a file: base64 data as a PDF unless its `mime_type` says
    otherwise; plain text, `text-plain`, as a text source), its data as a URL, base64 or file
    id source. A LangChain `reasoning` block becomes a `thinking` block when signed (None
    otherwise), and a `tool_call` block None (the message's tool calls are sent as `tool_use`
    blocks: `Message.to_anthropic`, only those a context kept). Other parts go as given.

    Raises:
        InvalidInputError: An image or file as a `data:` URL that is not base64 (Anthropic
            takes such data as base64 only).
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
            source = _url_source(url)
            return {"type": "image", "source": source, **_kept(part, ("cache_control",))}
    if kind == "reasoning":
        return _anthropic_thinking(part)
    if kind == "tool_call":
        return None
    if (data := _langchain_source(part)) is not None:
        return _anthropic_data_block(part, *data) or part
    return part


def _anthropic_thinking(part: Mapping[str, Any]) -> dict[str, Any] | None:
    """A LangChain `reasoning` block as Anthropic's `thinking` block when it is signed (it is
    Claude's, its signature in `extras`), else None: Anthropic refuses unsigned thinking, and
    another model's reasoning is not Claude's to read back."""
    signature = _extras(part).get("signature")
    thinking = part.get("reasoning", "")
    if not isinstance(signature, str) or not signature or not isinstance(thinking, str):
        return None
    return {"type": "thinking", "thinking": thinking, "signature": signature}


def _langchain_source(part: Mapping[str, Any]) -> tuple[str, str] | None:
    """Where a LangChain data block holds its data: `(key, value)`, the key one of
    `_LANGCHAIN_V1_SOURCES` (a 0.3 block's `source_type` read as the key it stands for); None
    for any other part (Anthropic's blocks hold theirs under `source`, OpenAI's `file` part
    under `file`)."""
    if part.get("type") not in _LANGCHAIN_DATA_TYPES:
        return None
    if "source_type" in part:
        key, own_key = _LANGCHAIN_V0_SOURCES.get(part["source_type"], ("", ""))
        value = part.get(own_key) if key else None
        return (key, value) if isinstance(value, str) and value else None
    for key in _LANGCHAIN_V1_SOURCES:
        if isinstance(value := part.get(key), str) and value:
            return key, value
    return None


def _openai_data_part(part: Mapping[str, Any], key: str, value: str) -> dict[str, Any] | None:
    """A LangChain data block (its data `value` under `key`) as OpenAI's part, or None when
    OpenAI's chat completions have no part for it."""
    kind, mime_type = part["type"], _mime_type(part)
    if kind == "image" and key == "url":
        return _image_url(value)
    if kind == "image" and key == "base64" and mime_type:
        return _image_url(_data_url(mime_type, value))
    if kind == "file" and key == "file_id":
        return {"type": "file", "file": {"file_id": value}}
    if kind == "file" and key == "base64" and mime_type:
        return _openai_file(mime_type, value, _extras(part).get("filename"))
    if kind == "text-plain" and key in ("text", "base64"):
        text = value if key == "text" else _decoded_text(value)
        return _openai_text(text, {}) if text is not None else None
    audio_format = _OPENAI_AUDIO_FORMATS.get(mime_type or "")
    if kind == "audio" and key == "base64" and audio_format:
        return {"type": "input_audio", "input_audio": {"data": value, "format": audio_format}}
    return None


def _decoded_text(data: str) -> str | None:
    """Base64 `data` as UTF-8 text; None when it is not."""
    try:
        return base64.b64decode(data, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def _anthropic_data_block(part: Mapping[str, Any], key: str, value: str) -> dict[str, Any] | None:
    """A LangChain data block (its data `value` under `key`) as Anthropic's `image` or
    `document` block, or None when Anthropic has no block for it (audio, video)."""
    kind = part["type"]
    source = _anthropic_source(kind, key, value, _mime_type(part))
    if source is None:
        return None
    if kind == "image":
        return {"type": "image", "source": source, **_kept(_extras(part), ("cache_control",))}
    kept = _kept(_extras(part), _ANTHROPIC_DOCUMENT_KEYS)
    return {"type": "document", "source": source, **kept}


def _anthropic_source(
    kind: str, key: str, value: str, mime_type: str | None
) -> dict[str, str] | None:
    """The Anthropic source of a LangChain image, file or plain-text block's data; None for
    another kind of block, or an image's base64 data without its MIME type."""
    if kind not in ("image", "file", "text-plain"):
        return None
    if key == "url":
        return _url_source(value)
    if key == "file_id":
        return {"type": "file", "file_id": value}
    if key == "base64" and kind == "file":
        return {"type": "base64", "media_type": mime_type or "application/pdf", "data": value}
    if key == "base64" and kind == "image" and mime_type:
        return {"type": "base64", "media_type": mime_type, "data": value}
    if key == "text" and kind != "image":
        return {"type": "text", "media_type": "text/plain", "data": value}
    return None


def _extras(part: Mapping[str, Any]) -> dict[str, Any]:
    """A LangChain block's keys with those of its `extras` (0.3: `metadata`) beneath them."""
    nested = [part.get(key) for key in ("metadata", "extras")]
    return {
        **{k: v for extra in nested if isinstance(extra, Mapping) for k, v in extra.items()},
        **part,
    }


def _mime_type(part: Mapping[str, Any]) -> str | None:
    mime_type = part.get("mime_type")
    return mime_type if isinstance(mime_type, str) and mime_type else None


def _image_url(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def _data_url(media_type: str, data: str) -> str:
    return f"data:{media_type};base64,{data}"


def _url_source(url: str) -> dict[str, str]:
    """An Anthropic image or document source: base64 data for a `data:` URL, else the URL."""
    if not url.startswith("data:"):
        return {"type": "url", "url": url}
    header, _, data = url[len("data:") :].partition(",")
    media_type, *parameters = header.split(";")
    if "base64" not in parameters or not data:
        raise InvalidInputError(f"an image or file data URL must hold base64 data, not {url!r:.80}")
    return {"type": "base64", "media_type": media_type, "data": data}


def _kept(part: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: part[key] for key in keys if key in part}


def _is_anthropic_image(part: object) -> bool:
    return (
        isinstance(part, Mapping)
        and part.get("type") == "image"
        and isinstance(part.get("source"), Mapping)
    )
