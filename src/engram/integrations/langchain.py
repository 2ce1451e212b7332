"""LangChain chat-message history on Engram: `pip install 'engramdb[langchain]'`.

`EngramChatMessageHistory` goes wherever LangChain takes a `BaseChatMessageHistory` (for
instance `RunnableWithMessageHistory`). Messages cross over in OpenAI's chat format, through
LangChain's own `convert_to_openai_messages` / `convert_to_messages`: roles, names, content
parts, tool calls and tool results survive the round trip; LangChain-only fields
(`additional_kwargs`, `response_metadata`, message ids) are not kept. Engram validates each
message and counts its tokens when it is written, as for any other append.

Beyond the history interface, `context()` returns the session's prompt within a token budget
(trimmed, summarised, with recalled memories), as LangChain messages.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from engram._conversation import Conversation
from engram._engram import Engram
from engram.types import Message

try:
    from langchain_core.chat_history import BaseChatMessageHistory
    from langchain_core.messages import BaseMessage, convert_to_messages, convert_to_openai_messages
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
        self._open = functools.partial(
            engram.session, session_id, user_id=user_id, agent_id=agent_id, ttl_seconds=ttl_seconds
        )
        self._aopen = functools.partial(
            engram.asession, session_id, user_id=user_id, agent_id=agent_id, ttl_seconds=ttl_seconds
        )
        self.conversation: Conversation = self._open()

    @property
    def session_id(self) -> str:
        return self.conversation.id

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        """Every message of the session, oldest first."""
        return _to_langchain(self.conversation.messages())

    async def aget_messages(self) -> list[BaseMessage]:
        """Async `messages`."""
        return _to_langchain(await self.conversation.amessages())

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Append `messages` atomically (all or none).

        Raises:
            InvalidInputError: A message Engram refuses (a tool result answering no call of
                this session, NUL bytes, over the size limit); nothing is stored.
        """
        self.conversation.add_messages(convert_to_openai_messages(list(messages)))

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Async `add_messages`."""
        await self.conversation.aadd_messages(convert_to_openai_messages(list(messages)))

    def clear(self) -> None:
        """Delete the session (messages, summary, state) and start it afresh, same id."""
        self.conversation.delete()
        self.conversation = self._open()

    async def aclear(self) -> None:
        """Async `clear`."""
        await self.conversation.adelete()
        self.conversation = await self._aopen()

    def context(self, model: str = "gpt-4o", **options: Any) -> list[BaseMessage]:
        """The prompt for the next turn within a token budget (see `Conversation.context`:
        `budget`, `reserve`, `strategy`, `recall`, ...), as LangChain messages."""
        return convert_to_messages(self.conversation.context(model, **options).to_openai())

    async def acontext(self, model: str = "gpt-4o", **options: Any) -> list[BaseMessage]:
        """Async `context`."""
        result = await self.conversation.acontext(model, **options)
        return convert_to_messages(result.to_openai())


def _to_langchain(messages: Sequence[Message]) -> list[BaseMessage]:
    return convert_to_messages([message.to_openai() for message in messages])
