"""`Engram`: the entry point. Opens the storage, hands out conversations."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from engram import _session_flows as flows
from engram._conversation import Conversation
from engram._flows import Flow, Resources, arun, run
from engram._ids import new_id
from engram._memories import Memories
from engram._validation import check_identifier
from engram.config import EngramSettings
from engram.providers import (
    CachedEmbedder,
    EmbedderProtocol,
    ExtractiveSummarizer,
    LLMSummarizer,
    LocalEmbedder,
    OpenAIChatModel,
    SummarizerProtocol,
    embedding_space,
)
from engram.stores.conversation import BaseConversationStore, ListSessions, PurgeExpired
from engram.stores.memories import BaseMemoryStore
from engram.stores.sqlite import SqliteConnection, SqliteConversationStore
from engram.stores.sqlite.memories import SqliteMemoryStore
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
        memory_store: The long-term memory store (a `BaseMemoryStore` you own). Default:
            the SQLite file's when `store` is a path; none with an injected `store`.
        embedder: Embeds memories and queries. Default: the local all-MiniLM-L6-v2.

    Example:
        ```python
        with Engram("engram.db") as mem:
            s = mem.session("s1", user_id="u1")
            s.add("user", "Hi, I'm Ana.")
            s.context(model="gpt-4o", budget=2000).to_openai()
        ```

        Other backends are passed in, and stay open when Engram closes:

        ```python
        Engram(RedisConversationStore(redis), memory_store=PostgresMemoryStore(pg_pool))
        ```
    """

    def __init__(
        self,
        store: str | Path | BaseConversationStore | None = None,
        *,
        tenant: str | None = None,
        settings: EngramSettings | None = None,
        summarizer: SummarizerProtocol | None = None,
        memory_store: BaseMemoryStore | None = None,
        embedder: EmbedderProtocol | None = None,
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
            memory_store = memory_store or SqliteMemoryStore(self._connection)
        self.summarizer = summarizer or _default_summarizer(self.settings)
        self.embedder = embedder or CachedEmbedder(_local_embedder())
        self.resources = Resources(
            conversations=self.store,
            summarizer=self.summarizer,
            memories=memory_store,
            embedder=self.embedder,
            llm=_default_llm(self.settings),
        )
        self.memories = Memories(self)
        """Long-term memory: `add`, `search`, `get`, `list`, `update`, `delete`, `history`,
        `delete_all`, `consolidate`, `forget`, `entities`, `profile` (and async twins)."""

    @property
    def embedding_model_id(self) -> str:
        """The id stored with every vector: the model and the backend that ran it."""
        space = embedding_space(self.embedder)
        return f"{space.model_id}:{space.backend}"

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


@functools.cache
def _local_embedder() -> LocalEmbedder:
    """One offline model per process: it is read-only, thread-safe and costs ~200 MB."""
    return LocalEmbedder()


def _default_llm(settings: EngramSettings) -> OpenAIChatModel | None:
    llm = settings.llm
    if llm is None:
        return None
    return OpenAIChatModel(
        llm.model,
        base_url=llm.base_url,
        api_key=llm.api_key.get_secret_value() if llm.api_key else None,
        timeout=llm.timeout,
        max_retries=llm.max_retries,
    )


def _default_summarizer(settings: EngramSettings) -> SummarizerProtocol:
    count = TokenCounter.for_encoding(settings.encoding).count_text
    model = _default_llm(settings)
    return ExtractiveSummarizer(count) if model is None else LLMSummarizer(model, count)
