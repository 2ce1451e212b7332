"""LangChain chat-message history on Engram: `pip install 'engramdb[langchain]'`.

`EngramChatMessageHistory` goes wherever LangChain takes a `BaseChatMessageHistory` (for
instance `RunnableWithMessageHistory`). Each LangChain message is stored as an Engram message
(its role, content, name, tool calls and tool-call id, which Engram validates and counts the
tokens of, as for any other append), and what Engram has no field for (`additional_kwargs`,
`response_metadata`, the message id, a tool result's `status` and `artifact`, usage, a
`ChatMessage`'s role, ...) goes into the message's metadata under the key `"langchain"`.
Invalid tool calls (malformed arguments) are Engram tool calls too, after the valid ones, as
LangChain's OpenAI chat model sends them, so a tool result may answer them. Messages come back
as LangChain's own histories give them back (`messages_from_dict(messages_to_dict(...))`),
content parts and ids included. Those fields must be JSON, as for LangChain's SQL history.

Roles: human, AI, system and tool messages (and their chunks) keep theirs; a `ChatMessage` is
stored with the role it names (`developer`, OpenAI's newer name for the system role, as
`system`). A `FunctionMessage` (OpenAI's deprecated function role) has no Engram role and is
refused, and so is a `RemoveMessage` (a history has only `clear()`). Messages written through
Engram's own API come back in LangChain's conversion of their OpenAI form (a tool call whose
arguments are not a JSON object as an invalid tool call).

Beyond the history interface, `context()` returns the session's prompt within a token budget
(trimmed, summarised, with recalled memories), as LangChain messages.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from engram._conversation import Conversation
from engram._engram import Engram
from engram._exceptions import InvalidInputError, NotFoundError
from engram._validation import message_from
from engram.stores.conversation import ClearMessages
from engram.types import Message, utcnow

try:
    from langchain_core.chat_history import BaseChatMessageHistory
    from langchain_core.exceptions import OutputParserException
    from langchain_core.messages import (
        AIMessage,
        BaseMessage,
        ChatMessage,
        FunctionMessage,
        HumanMessage,
        InvalidToolCall,
        RemoveMessage,
        SystemMessage,
        ToolCall,
        ToolMessage,
        convert_to_messages,
        message_to_dict,
        messages_from_dict,
    )
    from langchain_core.output_parsers.openai_tools import (
        make_invalid_tool_call,
        parse_tool_call,
    )
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "the LangChain integration needs langchain-core: pip install 'engramdb[langchain]'"
    ) from exc

__all__ = ["EngramChatMessageHistory"]


class EngramChatMessageHistory(BaseChatMessageHistory):
    """One Engram session as a LangChain chat-message history.

    Args:
        engram: The Engram to store in (it stays open: close it yourself).
        session_id: The session; created if it does not exist.
        user_id, agent_id, ttl_seconds: For a new session, as `Engram.session` takes them
            (a session of another user is refused).

    Raises:
        InvalidInputError: The session belongs to another user.

    Example:
        ```python
        with Engram("engram.db") as mem:
            history = EngramChatMessageHistory(mem, "s1", user_id="ana")
            history.add_messages([HumanMessage("I'm vegetarian.")])
            history.messages           # [HumanMessage(content="I'm vegetarian.")]
            history.context(budget=2000)   # what to send, within 2000 tokens
        ```
    """

    def __init__(
        self,
        engram: Engram,
        session_id: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        ttl_seconds: float | None = None,
    ) -> None:
        self._engram = engram
        self.conversation: Conversation = engram.session(
            session_id, user_id=user_id, agent_id=agent_id, ttl_seconds=ttl_seconds
        )
        # Reopened by the id it got (a new one for a session_id of None).
        self._open = functools.partial(
            engram.session,
            self.conversation.id,
            user_id=user_id,
            agent_id=agent_id,
            ttl_seconds=ttl_seconds,
        )
        self._aopen = functools.partial(
            engram.asession,
            self.conversation.id,
            user_id=user_id,
            agent_id=agent_id,
            ttl_seconds=ttl_seconds,
        )

    @property
    def session_id(self) -> str:
        return self.conversation.id

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        """Every message of the session, oldest first; none once it has expired or was
        deleted (as LangChain's own histories read a cleared or expired one; the read opens
        nothing)."""
        try:
            stored = self.conversation.messages()
        except NotFoundError:
            return []
        return [_to_langchain(message) for message in stored]

    async def aget_messages(self) -> list[BaseMessage]:
        """Async `messages`."""
        try:
            stored = await self.conversation.amessages()
        except NotFoundError:
            return []
        return [_to_langchain(message) for message in stored]

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Append `messages` atomically (all or none). A session that has expired or was
        deleted meanwhile is opened afresh first, as the constructor does.

        Raises:
            InvalidInputError: A message Engram refuses (a tool result answering no call of
                this session, NUL characters, over the size limit, a field that is not JSON, a
                role Engram does not have); nothing is stored.
        """
        converted = [_to_engram(message) for message in messages]
        try:
            self.conversation.add_messages(converted)
        except NotFoundError:
            self.conversation = self._open()
            self.conversation.add_messages(converted)

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Async `add_messages`."""
        converted = [_to_engram(message) for message in messages]
        try:
            await self.conversation.aadd_messages(converted)
        except NotFoundError:
            self.conversation = await self._aopen()
            await self.conversation.aadd_messages(converted)

    def clear(self) -> None:
        """Delete the session's messages and running summary. The session stays, with its
        owner, metadata, state and TTL (so `Engram.delete_user` still erases it); one that
        has expired or was deleted meanwhile is opened afresh, as the constructor does."""
        try:
            self._engram.store.batch([self._clear_op()])
        except NotFoundError:
            self.conversation = self._open()

    async def aclear(self) -> None:
        """Async `clear`."""
        try:
            await self._engram.store.abatch([self._clear_op()])
        except NotFoundError:
            self.conversation = await self._aopen()

    def _clear_op(self) -> ClearMessages:
        return ClearMessages(self.conversation.tenant, self.conversation.id, utcnow())

    def context(self, model: str = "gpt-4o", **options: Any) -> list[BaseMessage]:
        """The prompt for the next turn within a token budget (see `Conversation.context`:
        `budget`, `reserve`, `strategy`, `recall`, ...), as LangChain messages.

        A message keeps its LangChain fields, with its content as sent (it may be cut)."""
        result = self.conversation.context(model, **options)
        return [_to_langchain(message, as_sent=True) for message in result.messages]

    async def acontext(self, model: str = "gpt-4o", **options: Any) -> list[BaseMessage]:
        """Async `context`."""
        result = await self.conversation.acontext(model, **options)
        return [_to_langchain(message, as_sent=True) for message in result.messages]


_KEY = "langchain"
"""The metadata key of what an Engram message holds of a LangChain message beyond its own
fields: `{"type": <LangChain type>, "data": {<fields>}}`, as in `message_to_dict`."""

_CARRIED = ("content", "name", "tool_calls", "invalid_tool_calls", "tool_call_id")
"""The LangChain fields an Engram message holds itself (stored in `data` only when Engram's
form of them does not give them back exactly)."""

_CHAT_ROLES: Mapping[str, str] = {
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "ai": "assistant",
    "system": "system",
    "developer": "system",
    "tool": "tool",
}
"""The Engram role of a `ChatMessage`'s role."""


def _role(message: BaseMessage) -> str:
    if isinstance(message, HumanMessage):
        return "user"
    if isinstance(message, AIMessage):
        return "assistant"
    if isinstance(message, SystemMessage):
        return "system"
    if isinstance(message, ToolMessage):
        return "tool"
    if isinstance(message, ChatMessage):
        if message.role in _CHAT_ROLES:
            return _CHAT_ROLES[message.role]
        raise InvalidInputError(
            f"a ChatMessage with role {message.role!r} has no Engram role; expected one of "
            + ", ".join(sorted(_CHAT_ROLES))
        )
    hint = ""
    if isinstance(message, FunctionMessage):
        hint = " (OpenAI's deprecated function role: use a ToolMessage)"
    if isinstance(message, RemoveMessage):
        hint = " (a history removes no single message: clear() empties it)"
    raise InvalidInputError(
        f"Engram stores human, AI, system, tool and chat messages, not {type(message).__name__}"
        + hint
    )


def _to_engram(message: BaseMessage) -> Message:
    """The Engram message of `message`, with what Engram has no field for in its metadata."""
    if not isinstance(message, BaseMessage):
        raise InvalidInputError(f"a LangChain message was expected, not {message!r:.200}")
    role = _role(message)
    dumped = message_to_dict(message)
    kind: str = dumped["type"]
    data: dict[str, Any] = dumped["data"]
    content = data["content"]
    if isinstance(content, list):  # LangChain allows bare strings among the parts
        content = [{"type": "text", "text": p} if isinstance(p, str) else p for p in content]
    # As LangChain's OpenAI chat model sends them: the calls, then the invalid ones (a tool
    # result may answer either).
    calls = [_openai_call(call) for call in data.get("tool_calls") or ()]
    calls += [_openai_invalid_call(call) for call in data.get("invalid_tool_calls") or ()]
    fields = {
        "name": data.get("name"),
        "tool_calls": calls,
        "tool_call_id": data.get("tool_call_id"),
    }
    stored = message_from(role, content, fields)
    kept = _carried(stored, kind)
    fields_of = type(message).model_fields
    extra = {
        key: value
        for key, value in data.items()
        if key not in _CARRIED
        and key != "type"
        and not (key in fields_of and _is_default(value, fields_of[key]))
    }
    extra |= {key: data[key] for key in _CARRIED if key in data and data[key] != kept.get(key)}
    try:
        json.dumps(extra, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"a {type(message).__name__} field Engram keeps as JSON is not JSON: {exc}"
        ) from exc
    return replace(stored, metadata={_KEY: {"type": kind, "data": extra}})


def _is_default(value: Any, field: Any) -> bool:
    """Whether `value` is the default of a LangChain message field (pydantic `FieldInfo`),
    which the message gets back without storing it."""
    if field.is_required():
        return False
    default = field.get_default(call_default_factory=True)
    return value is default or (type(value) is type(default) and bool(value == default))


def _openai_call(call: Mapping[str, Any]) -> dict[str, Any]:
    """A LangChain tool call in OpenAI form (a missing id as ""; the exact call is kept)."""
    try:
        arguments = json.dumps(call.get("args", {}), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"tool call {call.get('name')!r}: its args are not JSON: {exc}"
        ) from exc
    function = {"name": call.get("name") or "", "arguments": arguments}
    return {"id": call.get("id") or "", "type": "function", "function": function}


def _openai_invalid_call(call: Mapping[str, Any]) -> dict[str, Any]:
    """A LangChain invalid tool call in OpenAI form, its arguments as they came."""
    function = {"name": call.get("name") or "", "arguments": call.get("args") or ""}
    return {"id": call.get("id") or "", "type": "function", "function": function}


def _langchain_calls(message: Message) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    """`message`'s tool calls as LangChain's OpenAI chat model reads them: a call whose
    arguments are not a JSON object (Engram keeps what a model sent) is an invalid one."""
    calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for call in message.tool_calls:
        raw = call.to_openai()
        try:
            parsed = parse_tool_call(raw, return_id=True)
        except OutputParserException as exc:
            invalid.append(make_invalid_tool_call(raw, str(exc)))
            continue
        if parsed is not None and isinstance(parsed["args"], dict):
            calls.append(ToolCall(**parsed))  # type: ignore[typeddict-item]
        else:
            invalid.append(make_invalid_tool_call(raw, "the arguments are not a JSON object"))
    return calls, invalid


def _carried(message: Message, kind: str) -> dict[str, Any]:
    """The `_CARRIED` fields of the LangChain message of type `kind` that `message` gives."""
    content = message.content
    data: dict[str, Any] = {
        "content": content if isinstance(content, str) else [p.to_openai() for p in content],
        "name": message.name,
    }
    if kind in ("ai", "AIMessageChunk"):
        data["tool_calls"], data["invalid_tool_calls"] = _langchain_calls(message)
    if kind in ("tool", "ToolMessageChunk"):
        data["tool_call_id"] = message.tool_call_id
    return data


def _to_langchain(message: Message, *, as_sent: bool = False) -> BaseMessage:
    """The LangChain message of an Engram message: as it was added through this history
    (`as_sent`: with the content and tool calls Engram holds, which a context may have cut
    or, unanswered, dropped), else LangChain's conversion of its OpenAI form."""
    stored = message.metadata.get(_KEY)
    if (
        isinstance(stored, Mapping)
        and isinstance(stored.get("type"), str)
        and isinstance(stored.get("data"), Mapping)
    ):
        extra = dict(stored["data"])
        try:
            if as_sent:
                extra.pop("content", None)
                sent = {call.id for call in message.tool_calls}
                for key in ("tool_calls", "invalid_tool_calls", "tool_call_chunks"):
                    if key in extra:
                        extra[key] = [c for c in extra[key] if (c.get("id") or "") in sent]
            data = _carried(message, stored["type"]) | extra
            [converted] = messages_from_dict([{"type": stored["type"], "data": data}])
            return converted
        # Not what this history wrote (pydantic's validators raise all three): fall back on
        # the OpenAI form.
        except (ValueError, TypeError, AttributeError):
            pass
    return _from_openai(message)


def _from_openai(message: Message) -> BaseMessage:
    """LangChain's conversion of `message`'s OpenAI form, its content parts as given (what
    a LangChain message holds: not the form sent to OpenAI, which leaves out reasoning),
    its tool calls read as `_langchain_calls` reads them (LangChain's own conversion raises
    on malformed ones)."""
    data = message.to_dict()
    openai: dict[str, Any] = {
        key: data[key] for key in ("role", "content", "name", "tool_call_id") if key in data
    }
    [converted] = convert_to_messages([openai])
    if not message.tool_calls:
        return converted
    calls, invalid = _langchain_calls(message)
    return converted.model_copy(update={"tool_calls": calls, "invalid_tool_calls": invalid})
