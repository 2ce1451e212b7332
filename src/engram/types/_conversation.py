"""Conversation records: messages, sessions, running summaries.

Records are frozen dataclasses. `to_dict()`/`from_dict()` give their JSON form (used by export,
import and the SQL backends: content parts as given); `Message.to_openai()`/`Message.from_openai()`
give the OpenAI chat-completions wire form (each part as OpenAI takes it: `openai_part`),
`Message.to_anthropic()` a message's content blocks in the Anthropic Messages API's
(`ContextResult.to_anthropic()` builds the whole request).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, get_args

from engram._exceptions import InvalidInputError
from engram._ids import new_id
from engram.types._parts import anthropic_block, openai_part, openai_tool_call
from engram.types._time import parse_optional_time, parse_time, utcnow

__all__ = [
    "DEFAULT_TENANT",
    "ROLES",
    "ContentPart",
    "Message",
    "Role",
    "Session",
    "Summary",
    "ToolCall",
    "messages_from_openai",
    "utcnow",
]

DEFAULT_TENANT = "default"
"""The tenant used for local, single-tenant use."""

Role = Literal["system", "user", "assistant", "tool"]
ROLES: frozenset[str] = frozenset(get_args(Role))


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function call requested by the assistant."""

    id: str
    """The call id; the tool message answering it carries the same `tool_call_id`."""
    name: str
    """The function name."""
    arguments: str = "{}"
    """The arguments, as the JSON text the model produced (kept verbatim, even if malformed)."""

    def to_openai(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }

    def to_anthropic(self) -> dict[str, Any]:
        """The call as an Anthropic `tool_use` block, its `input` the parsed arguments.

        Arguments that are not a JSON object (a model's malformed output, kept verbatim) go
        as `{"_raw": arguments}`: Anthropic takes an object only, and the conversation that
        went on from the call stays sendable, the model seeing what it sent. Blank arguments
        are `{}`.
        """
        return {"type": "tool_use", "id": self.id, "name": self.name, "input": self._input()}

    def _input(self) -> dict[str, Any]:
        if not self.arguments.strip():
            return {}
        try:
            parsed = json.loads(self.arguments)
        except (ValueError, RecursionError):
            parsed = None
        return parsed if isinstance(parsed, dict) else {"_raw": self.arguments}

    @classmethod
    def from_openai(cls, data: Mapping[str, Any]) -> ToolCall:
        """A call from its OpenAI form; arguments given as a mapping become their JSON text.

        Raises:
            InvalidInputError: Not a mapping with an `id`, a call of another type than
                `function` (OpenAI's `custom` tools: their free-text input has no JSON
                arguments to keep), a `function` that is not a mapping, or arguments that
                are neither JSON text nor a JSON object.
        """
        if not isinstance(data, Mapping) or "id" not in data:
            raise InvalidInputError(f"a tool call must be a dict with an id, not {data!r:.200}")
        if (kind := data.get("type", "function")) != "function":
            raise InvalidInputError(f"tool calls of type {kind!r:.50} are not supported")
        # OpenAI's form nests the function; the flat one ({"id", "name", "arguments"}) is read
        # alike, not stored without its name.
        function = data.get("function") or (data if "name" in data else {})
        if not isinstance(function, Mapping):
            raise InvalidInputError(f"a tool call's function must be a dict, not {function!r:.200}")
        return cls(
            id=str(data["id"]),
            name=str(function.get("name", "")),
            arguments=_arguments_text(function.get("arguments")),
        )


def _arguments_text(arguments: object) -> str:
    """A call's arguments as JSON text: text as given, a mapping encoded (not its repr),
    none as `{}`."""
    if arguments is None:
        return "{}"
    if isinstance(arguments, str):
        return arguments
    if not isinstance(arguments, Mapping):
        raise InvalidInputError(f"tool call arguments must be JSON text, not {arguments!r:.200}")
    try:
        return json.dumps(dict(arguments), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"tool call arguments are not JSON: {exc}") from exc


@dataclass(frozen=True, slots=True)
class ContentPart:
    """One part of a multi-part message (text, image, audio, file, refusal, reasoning, ...).

    Any part in the OpenAI or Anthropic form (a dict with a `type`) is kept as given:
    `ContentPart.from_openai(part).to_openai() == part`. The standard OpenAI shapes fill
    `text` (the `text` of a part) and `payload` (the object under the part's own type,
    `{"type": "image_url", "image_url": {...}}`); every other key goes to `extra`.

    Example:
        ```python
        ContentPart.from_openai({"type": "refusal", "refusal": "I can't help with that."})
        # ContentPart(type="refusal", extra={"refusal": "I can't help with that."})
        ```
    """

    type: str
    """The part type, as in the OpenAI format: `text`, `image_url`, `input_audio`, `file`,
    `refusal`, ... (or Anthropic's: `thinking`, `image`, ...)."""
    text: str | None = None
    """The text of a `text` part (or of any part with a string `text`, e.g. `input_text`)."""
    payload: Mapping[str, Any] | None = None
    """The type-specific object of a non-text part (e.g. `{"url": ..., "detail": ...}`)."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """The part's other keys (`{"refusal": ...}`, `{"thinking": ..., "signature": ...}`,
    `{"cache_control": ...}`), kept as given."""

    def to_openai(self) -> dict[str, Any]:
        """The part's dict form (what `from_openai` was given)."""
        data: dict[str, Any] = {"type": self.type, **self.extra}
        data["type"] = self.type  # first among the keys, and never replaced by an extra one
        if self.type == "text" or self.text is not None:
            data["text"] = self.text or ""
        if self.payload is not None:
            data[self.type] = dict(self.payload)
        return data

    @classmethod
    def from_openai(cls, data: Mapping[str, Any]) -> ContentPart:
        """A part from its dict form.

        Raises:
            InvalidInputError: Not a mapping, no `type` text, or a `text` part whose text is
                not a string.
        """
        if not isinstance(data, Mapping) or not isinstance(data.get("type"), str):
            raise InvalidInputError(f"a content part must be a dict with a type, not {data!r:.200}")
        kind: str = data["type"]
        if not kind:
            raise InvalidInputError("a content part's type must not be empty")
        extra = dict(data)
        del extra["type"]
        text = extra.pop("text", None) if isinstance(extra.get("text"), str) else None
        if kind == "text" and text is None:
            raise InvalidInputError(f"a text part needs its text as a string, not {data!r:.200}")
        body = extra.get(kind)
        payload = dict(extra.pop(kind)) if kind != "text" and isinstance(body, Mapping) else None
        return cls(type=kind, text=text, payload=payload, extra=extra)


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message of a session.

    Example:
        ```python
        Message(role="user", content="Book a table for two at 7pm")
        ```
    """

    role: Role
    """`system`, `user`, `assistant` or `tool`."""
    content: str | tuple[ContentPart, ...] = ""
    """Plain text, or content parts."""
    name: str | None = None
    """Optional participant name (counted by the chat format)."""
    tool_calls: tuple[ToolCall, ...] = ()
    """Function calls requested by an assistant message."""
    tool_call_id: str | None = None
    """For a tool message: the id of the call it answers."""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    """Free-form, JSON-serialisable metadata (never sent to the model)."""
    id: str = field(default_factory=new_id)
    """Time-sortable id (UUIDv7)."""
    created_at: datetime = field(default_factory=utcnow)
    """When the message was written (or said, for imported conversations)."""
    session_id: str | None = None
    """The session it belongs to; set by the store."""
    seq: int | None = None
    """Its position in the session (strictly increasing); set by the store."""
    tokens: int | None = None
    """Its chat-format token count (overhead included), computed once at write time."""
    encoding: str | None = None
    """The tokenizer `tokens` was counted with (e.g. `o200k_base`)."""

    @property
    def text(self) -> str:
        """The message's text: the content, or the text of every part that has one (`text`,
        and the Responses API's `input_text` and `output_text`: the token counter counts
        them all as text) joined by newlines."""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(part.text for part in self.content if part.text is not None)

    def with_text(self, text: str) -> Message:
        """A copy with its content replaced by `text` (token count cleared)."""
        return replace(self, content=text, tokens=None, encoding=None)

    def to_openai(self) -> dict[str, Any]:
        """The message in OpenAI chat-completions form, each part as OpenAI takes it in a
        message of its role (`openai_part`: an Anthropic image part or a LangChain image as
        `image_url`, an Anthropic base64 document or a LangChain file as `file`, WAV or MP3
        audio as `input_audio`, a text part without Anthropic's keys; another model's
        reasoning left out).

        A tool call among the parts (Anthropic's `tool_use`, LangChain's `tool_call`) goes
        as one of the `tool_calls`, once (LangChain keeps them in both). Content whose parts
        all went (an assistant's thinking before its calls) is None beside tool calls, else
        empty text: OpenAI refuses an empty list.

        Raises:
            InvalidInputError: A part OpenAI takes no form of in a message of this role
                (an image in a system or tool message, a file by URL, video, an Anthropic
                `tool_result`, which `ContextResult.to_openai()` sends as a tool message).
        """
        data = self._with_parts(lambda part: openai_part(part, self.role))
        calls = [call.to_openai() for call in self.tool_calls]
        known = {call["id"] for call in calls}
        for part in self._parts() if self.role == "assistant" else ():
            if (found := openai_tool_call(part)) is not None and found["id"] not in known:
                calls.append(ToolCall.from_openai(found).to_openai())
                known.add(found["id"])
        if calls:
            data["tool_calls"] = calls
        if self.role == "tool":
            data.pop("name", None)  # OpenAI's tool message has none (a LangChain tool's name)
        if data["content"] == []:
            data["content"] = None if calls else ""
        return data

    def to_anthropic(self) -> list[dict[str, Any]]:
        """The message's content as Anthropic Messages API content blocks.

        A tool message is one `tool_result` block (its content as text, or as blocks; none
        when blank). Other messages give their parts as `anthropic_block` converts them
        (blank text left out: Anthropic refuses it), then a `tool_use` block per tool call not
        already among the parts (LangChain keeps Anthropic's `tool_use` parts in the content
        too). The role, `name` and the system messages' place are the request's business:
        `ContextResult.to_anthropic()`.
        """
        if self.role == "tool":
            return [self._tool_result()]
        blocks = [block for block in map(anthropic_block, self._parts()) if block is not None]
        present = {block.get("id") for block in blocks if block.get("type") == "tool_use"}
        blocks.extend(call.to_anthropic() for call in self.tool_calls if call.id not in present)
        return blocks

    def _tool_result(self) -> dict[str, Any]:
        block: dict[str, Any] = {"type": "tool_result", "tool_use_id": self.tool_call_id or ""}
        if isinstance(self.content, str):
            if self.content.strip():
                block["content"] = self.content
            return block
        content = [b for b in map(anthropic_block, self._parts()) if b is not None]
        if content:
            block["content"] = content
        return block

    def _parts(self) -> list[dict[str, Any]]:
        """The content as part dicts (a text content as one `text` part)."""
        if isinstance(self.content, str):
            return [{"type": "text", "text": self.content}]
        return [part.to_openai() for part in self.content]

    def _with_parts(
        self, form: Callable[[dict[str, Any]], dict[str, Any] | None]
    ) -> dict[str, Any]:
        """The OpenAI message dict, each content part in `form` (left out when None)."""
        content: str | list[dict[str, Any]] = (
            self.content
            if isinstance(self.content, str)
            else [p for p in (form(part.to_openai()) for part in self.content) if p is not None]
        )
        data: dict[str, Any] = {"role": self.role, "content": content}
        if self.name is not None:
            data["name"] = self.name
        if self.tool_calls:
            data["tool_calls"] = [call.to_openai() for call in self.tool_calls]
        if self.tool_call_id is not None:
            data["tool_call_id"] = self.tool_call_id
        return data

    @classmethod
    def from_openai(cls, data: Mapping[str, Any], **fields: Any) -> Message:
        """Build a message from its OpenAI chat-completions form (a reply's `refusal` kept as a
        refusal part: `with_refusal`)."""
        raw = data.get("content")
        content: str | tuple[ContentPart, ...]
        if raw is None or isinstance(raw, str):
            content = raw or ""
        else:
            content = tuple(ContentPart.from_openai(part) for part in raw)
        if isinstance(refusal := data.get("refusal"), str) and refusal:
            content = with_refusal(content, refusal)
        return cls(
            role=data["role"],
            content=content,
            name=data.get("name"),
            tool_calls=tuple(ToolCall.from_openai(c) for c in data.get("tool_calls") or ()),
            tool_call_id=data.get("tool_call_id"),
            **fields,
        )

    def to_dict(self) -> dict[str, Any]:
        """The message as JSON-ready data (every field; content parts as given)."""
        data = self._with_parts(_as_given)
        data.update(
            id=self.id,
            created_at=self.created_at.isoformat(),
            metadata=dict(self.metadata),
            session_id=self.session_id,
            seq=self.seq,
            tokens=self.tokens,
            encoding=self.encoding,
        )
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Message:
        """Inverse of `to_dict()`."""
        return cls.from_openai(
            data,
            id=data["id"],
            created_at=parse_time(data["created_at"]),
            metadata=dict(data.get("metadata") or {}),
            session_id=data.get("session_id"),
            seq=data.get("seq"),
            tokens=data.get("tokens"),
            encoding=data.get("encoding"),
        )


@dataclass(frozen=True, slots=True)
class Session:
    """A conversation: its owner, its state and its lifetime."""

    id: str
    """The session id, unique within its tenant."""
    tenant: str = DEFAULT_TENANT
    """The tenant that owns it; part of every key."""
    user_id: str | None = None
    """The end user it belongs to."""
    agent_id: str | None = None
    """The agent it belongs to."""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    """Free-form, JSON-serialisable metadata."""
    state: Mapping[str, Any] = field(default_factory=dict)
    """Session state, updated by JSON merge patches (RFC 7396)."""
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    """The last write to the session (a message, a state update)."""
    ttl_seconds: float | None = None
    """Lifetime after the last use; None lives forever."""
    expires_at: datetime | None = None
    """When it expires unless used again; moved forward on every use."""
    message_count: int = 0
    """Number of messages stored."""
    token_count: int = 0
    """Sum of the stored messages' token counts (in `encoding`)."""
    encoding: str = "o200k_base"
    """The tokenizer message token counts are stored in."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant": self.tenant,
            "user_id": self.user_id,
            "agent_id": self.agent_id,
            "metadata": dict(self.metadata),
            "state": dict(self.state),
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "ttl_seconds": self.ttl_seconds,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "message_count": self.message_count,
            "token_count": self.token_count,
            "encoding": self.encoding,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Session:
        return cls(
            id=data["id"],
            tenant=data.get("tenant", DEFAULT_TENANT),
            user_id=data.get("user_id"),
            agent_id=data.get("agent_id"),
            metadata=dict(data.get("metadata") or {}),
            state=dict(data.get("state") or {}),
            created_at=parse_time(data["created_at"]),
            updated_at=parse_time(data["updated_at"]),
            ttl_seconds=data.get("ttl_seconds"),
            expires_at=parse_optional_time(data.get("expires_at")),
            message_count=int(data.get("message_count", 0)),
            token_count=int(data.get("token_count", 0)),
            encoding=data.get("encoding", "o200k_base"),
        )


@dataclass(frozen=True, slots=True)
class Summary:
    """The running summary of a session's evicted messages."""

    session_id: str
    text: str
    """The summary text."""
    through_seq: int
    """Every non-system message with `seq <= through_seq` is folded into `text`, once."""
    message_count: int = 0
    """How many messages have been folded in so far."""
    tokens: int = 0
    """Token count of `text` (in the session's encoding)."""
    updated_at: datetime = field(default_factory=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "text": self.text,
            "through_seq": self.through_seq,
            "message_count": self.message_count,
            "tokens": self.tokens,
            "updated_at": self.updated_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Summary:
        return cls(
            session_id=data["session_id"],
            text=data["text"],
            through_seq=int(data["through_seq"]),
            message_count=int(data.get("message_count", 0)),
            tokens=int(data.get("tokens", 0)),
            updated_at=parse_time(data["updated_at"]),
        )


def _as_given(part: dict[str, Any]) -> dict[str, Any]:
    return part


def with_refusal(content: str | tuple[ContentPart, ...], refusal: str) -> tuple[ContentPart, ...]:
    """`content` as parts, followed by an assistant reply's `refusal` (a key of OpenAI's
    message object) as a `refusal` part: the form the API takes it back in."""
    refused = ContentPart(type="refusal", extra={"refusal": refusal})
    if isinstance(content, str):
        return (ContentPart(type="text", text=content), refused) if content else (refused,)
    return (*content, refused)


def messages_from_openai(items: Sequence[Mapping[str, Any]]) -> list[Message]:
    """Build messages from a list in OpenAI chat-completions form."""
    return [Message.from_openai(item) for item in items]
