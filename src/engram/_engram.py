"""`Engram`: the entry point. Opens the storage, hands out conversations."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from engram import _session_flows as flows
from engram._conversation import Conversation
from engram._flows import Flow, Resources, arun, run
from engram._ids import new_id
from engram._validation import check_identifier
from engram.config import EngramSettings
from engram.providers import (
    ExtractiveSummarizer,
    LLMSummarizer,
    OpenAIChatModel,
    SummarizerProtocol,
)
from engram.stores.conversation import BaseConversationStore, ListSessions, PurgeExpired
from engram.stores.sqlite import SqliteConnection, SqliteConversationStore
from engram.tokens import TokenCounter
from engram.types import Session, utcnow

__all__ = ["Engram"]


class Engram:
    """Memory and state for one application: sessions, messages, contexts.

    Args:
        store: A SQLite file path (opened and owned by Engram; the default comes from
            `ENGRAM_DB`, else `engram.db`), or a `BaseConversationStore` you own.
        tenant: The tenant every call is scoped to (default: settings, `"default"`).
        settings: Settings; default read from `ENGRAM_*` environment variables.
        summarizer: Folds evicted messages into running summaries. Default: the LLM in
            `settings.llm` if configured, else the offline extractive summariser.

    Example:
        ```python
        with Engram("engram.db") as mem:
            s = mem.session("s1", user_id="u1")
            s.add("user", "Hi, I'm Ana.")
            s.context(model="gpt-4o", budget=2000).to_openai()
        ```
    """

    def __init__(
        self,
        store: str | Path | BaseConversationStore | None = None,
        *,
        tenant: str | None = None,
        settings: EngramSettings | None = None,
        summarizer: SummarizerProtocol | None = None,
    ) -> None:
        self.settings = settings or EngramSettings()
        self.tenant = check_identifier(tenant or self.settings.tenant, "tenant")
        self._connection: SqliteConnection | None = None
        if isinstance(store, BaseConversationStore):
            self.store = store
        else:
            path = str(store) if store is not None else self.settings.db
            self._connection = SqliteConnection(path, durability=self.settings.durability)
            self.store = SqliteConversationStore(self._connection)
        self.summarizer = summarizer or _default_summarizer(self.settings)
        self.resources = Resources(conversations=self.store, summarizer=self.summarizer)

    def close(self) -> None:
        """Close the database Engram opened (an injected store is left open)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> Engram:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # Sessions.

    def session(
        self,
        session_id: str | None = None,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        ttl_seconds: float | None = None,
        create: bool = True,
    ) -> Conversation:
        """Open a session's conversation, creating the session if needed.

        Args:
            session_id: The id; a new time-sortable id if omitted.
            user_id: The user it belongs to (a session of another user is refused).
            agent_id: The agent it belongs to.
            metadata: Stored on creation.
            ttl_seconds: Lifetime after last use (default: settings); each use extends it.
            create: If False, raise `NotFoundError` instead of creating.
        """
        flow = self._open_flow(session_id, user_id, agent_id, metadata, ttl_seconds, create)
        return Conversation(self, run(flow, self.resources))

    async def asession(
        self,
        session_id: str | None = None,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        ttl_seconds: float | None = None,
        create: bool = True,
    ) -> Conversation:
        """Async `session`."""
        flow = self._open_flow(session_id, user_id, agent_id, metadata, ttl_seconds, create)
        return Conversation(self, await arun(flow, self.resources))

    def _open_flow(
        self,
        session_id: str | None,
        user_id: str | None,
        agent_id: str | None,
        metadata: Mapping[str, Any] | None,
        ttl_seconds: float | None,
        create: bool,
    ) -> Flow[Session]:
        template = Session(
            id=check_identifier(session_id or new_id(), "session id"),
            tenant=self.tenant,
            user_id=user_id,
            agent_id=agent_id,
            metadata=dict(metadata or {}),
            ttl_seconds=ttl_seconds or self.settings.session_ttl_seconds,
            encoding=self.settings.encoding,
        )
        return flows.open_flow(template, now=utcnow(), create=create)

    def sessions(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Session]:
        """Live sessions, most recently updated first."""
        op = ListSessions(self.tenant, utcnow(), user_id, agent_id, limit, offset)
        return self.store.list_sessions(op)

    async def asessions(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Session]:
        """Async `sessions`."""
        op = ListSessions(self.tenant, utcnow(), user_id, agent_id, limit, offset)
        return await self.store.alist_sessions(op)

    def import_session(
        self, data: Mapping[str, Any], *, session_id: str | None = None
    ) -> Conversation:
        """Recreate a session from `Conversation.export()` data, atomically."""
        flow = flows.import_flow(
            data,
            tenant=self.tenant,
            session_id=session_id,
            max_bytes=self.settings.max_message_bytes,
            now=utcnow(),
        )
        return Conversation(self, run(flow, self.resources))

    def purge_expired(self) -> int:
        """Delete this tenant's expired sessions; return how many."""
        return int(self.store.batch([PurgeExpired(self.tenant, utcnow())])[0])


def _default_summarizer(settings: EngramSettings) -> SummarizerProtocol:
    count = TokenCounter.for_encoding(settings.encoding).count_text
    if settings.llm is None:
        return ExtractiveSummarizer(count)
    llm = settings.llm
    model = OpenAIChatModel(
        llm.model,
        base_url=llm.base_url,
        api_key=llm.api_key.get_secret_value() if llm.api_key else None,
        timeout=llm.timeout,
        max_retries=llm.max_retries,
    )
    return LLMSummarizer(model, count)
