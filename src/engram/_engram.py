"""`Engram`: the entry point. Opens the storage, hands out conversations."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

from engram import _session_flows as flows
from engram._backends import OpenedBackend, check_address, open_backend
from engram._conversation import Conversation
from engram._exceptions import BackendUnavailable, ConfigError, InvalidInputError
from engram._flows import Flow, Resources, arun, run
from engram._ids import new_id
from engram._memories import Memories
from engram._validation import check_flag, check_identifier, check_json_object
from engram.config import EngramSettings, load_settings
from engram.memory.ranking import DEFAULT_WEIGHTS, RankingWeights
from engram.providers import (
    CachedEmbedder,
    EmbedderProtocol,
    ExtractiveSummarizer,
    LLMSummarizer,
    LocalEmbedder,
    OpenAIChatModel,
    OpenAIEmbedder,
    SummarizerProtocol,
    embedding_space,
)
from engram.providers._embeddings import native_dimension
from engram.stores._conversation_rules import check_ttl
from engram.stores.conversation import BaseConversationStore, ListSessions, PurgeExpired
from engram.stores.memories import BaseMemoryStore, ErasureReport
from engram.tokens import TokenCounter
from engram.types import Session, utcnow

__all__ = ["Engram"]


class Engram:
    """Memory and state for one application: sessions, messages, contexts.

    Args:
        store: Where conversations live: an address Engram opens and closes (a SQLite
            file, `postgresql://...`, `redis://...`; see `EngramSettings.db`, the default,
            from `ENGRAM_DB`, else `engram.db`), or a `BaseConversationStore` you own.
        tenant: The tenant every call is scoped to (default: settings, `"default"`).
        settings: Settings; default read from `ENGRAM_*` environment variables.
        summarizer: Folds evicted messages into running summaries. Default: the LLM in
            `settings.llm` if configured, else the offline extractive summariser.
        memory_store: The long-term memory store (a `BaseMemoryStore` you own). Default:
            the one at `settings.memory_db` (`ENGRAM_MEMORY_DB`) if set, else, when `store`
            is an address, that backend's (Redis stores none).
        embedder: Embeds memories and queries. Default: the endpoint in
            `settings.embeddings` if configured, else the local all-MiniLM-L6-v2.
        ranking: How memory search and recall weigh their signals. Default: the weights
            tuned on LoCoMo and LongMemEval, where recency and importance count for nothing
            (a benchmark's questions are about the past); an assistant may want them, e.g.
            `RankingWeights(recency=0.3, importance=0.2, half_life_days=30)`.

    Example:
        ```python
        with Engram("engram.db") as mem:
            s = mem.session("s1", user_id="u1")
            s.add("user", "Hi, I'm Ana.")
            s.context(model="gpt-4o", budget=2000).to_openai()
        ```

        Other backends by address (PostgreSQL gets a connection pool), or passed in (they
        stay open when Engram closes):

        ```python
        Engram("postgresql://db.internal/app")
        Engram("redis://cache:6379/0", settings=EngramSettings(memory_db="postgresql://..."))
        ```

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
        ranking: RankingWeights = DEFAULT_WEIGHTS,
    ) -> None:
        _check_arguments(store, settings, memory_store, ranking)
        _check_plugins(embedder, summarizer)
        self.settings = settings or load_settings()
        # Only None means "the default": an empty tenant is a mistake, not the default's data.
        self.tenant = check_identifier(self.settings.tenant if tenant is None else tenant, "tenant")
        self.ranking = ranking
        self._closers: list[Callable[[], None]] = []
        self._async_closers: list[Callable[[], Awaitable[None]]] = []
        self._closed = False
        self._memories_unavailable: str | None = None
        try:
            self._store, memory_store = self._open(store, memory_store)
            llm = _default_llm(self.settings)
            if llm is not None:  # Engram made it: its HTTP connections close with Engram
                self._closers.append(llm.close)
                self._async_closers.append(llm.aclose)
            if embedder is None:
                embedder = self._default_embedder()
        except BaseException:
            self.close()
            raise
        self.summarizer = summarizer or _default_summarizer(self.settings, llm)
        self.embedder: EmbedderProtocol = embedder
        self._resources = Resources(
            conversations=self._store,
            summarizer=self.summarizer,
            memories=memory_store,
            memories_unavailable=self._memories_unavailable,
            embedder=self.embedder,
            llm=llm,
        )
        self.memories = Memories(self)
        """Long-term memory: `add`, `search`, `get`, `get_all`, `update`, `delete`, `history`,
        `delete_all`, `export`, `import_`, `entities`, `relations`, `profile`,
        `update_profile`, and the jobs `consolidate`, `bloat`, `forget`, `reembed`; each
        with an async twin (`asearch`, `aconsolidate`, ...)."""

    @property
    def store(self) -> BaseConversationStore:
        """The conversation store (`BackendUnavailable` once this Engram is closed)."""
        self._check_open()
        return self._store

    @property
    def resources(self) -> Resources:
        """What flows run with (`BackendUnavailable` once this Engram is closed)."""
        self._check_open()
        return self._resources

    def _check_open(self) -> None:
        # Without this, a closed SQLite file says "Cannot operate on a closed database", a
        # closed PostgreSQL pool names the pool, and a closed Redis client quietly reconnects.
        if self._closed:
            raise BackendUnavailable("this Engram is closed: open a new one")

    @property
    def embedding_model_id(self) -> str:
        """The id stored with every vector: the model, the backend that ran it and, unless it
        is the model's native one, the dimension (`text-embedding-3-small:openai-compatible`,
        `text-embedding-3-small:openai-compatible:512`, `nomic-embed-text:openai-compatible:768`).

        Vectors of one model name in another dimension are another model's: a scope's first
        search (a context's recall too) embeds and stores new ones for the scope,
        `memories.reembed()` for every memory. (An embedder that learns its
        dimension from a response sends one blocking probe here if it has had none; the
        memory API learns it through its own driver first.)"""
        return self._embedding_ids()[0]

    def _embedding_ids(self) -> tuple[str, str]:
        """(`embedding_model_id`, the id without the dimension). Databases written before the
        dimension was part of the id hold every vector under the short one: it stays the id of
        the model's native dimension, and of embedders with one dimension (the local model)."""
        space = embedding_space(self.embedder)
        short = f"{space.model_id}:{space.backend}"
        if space.dimension == native_dimension(self.embedder):
            return short, short
        return f"{short}:{space.dimension}", short

    def _default_embedder(self) -> EmbedderProtocol:
        """The embedder `settings.embeddings` names (closed with Engram), else the local one."""
        options = self.settings.embeddings
        if options is None:
            return CachedEmbedder(_local_embedder())
        remote = OpenAIEmbedder(
            options.model,
            base_url=options.base_url,
            api_key=options.api_key.get_secret_value() if options.api_key else None,
            dimension=options.dimension,
            send_dimensions=options.send_dimensions,
            batch_size=options.batch_size,
            timeout=options.timeout,
            max_retries=options.max_retries,
        )
        self._closers.append(remote.close)
        self._async_closers.append(remote.aclose)
        return CachedEmbedder(remote)

    def _open(
        self, store: str | Path | BaseConversationStore | None, memories: BaseMemoryStore | None
    ) -> tuple[BaseConversationStore, BaseMemoryStore | None]:
        """The stores given, and those the settings name, opened (and closed by `close`).

        Memories come from `memory_store`, else `settings.memory_db`, else the backend that
        holds the conversations (if it stores memories: Redis does not). `memory_db` opens
        first, and the conversations' address is checked before: a bad one of either leaves
        no file behind."""
        memory_db = self.settings.memory_db if memories is None else None
        if not isinstance(store, BaseConversationStore):
            address = str(store) if store is not None else self.settings.db
            setting = None if store is not None else "db"
            with _naming(setting):
                check_address(address)
        if memory_db is not None:
            memories = self._open_memory_db(memory_db)
        if isinstance(store, BaseConversationStore):
            return store, memories
        opened = self._open_address(address, setting, conversations=True, memories=memories is None)
        if opened.conversations is None:
            raise ConfigError(f"{address!r} stores no conversations")
        self._memories_unavailable = opened.memories_unavailable
        return opened.conversations, memories or opened.memories

    def _open_memory_db(self, memory_db: str) -> BaseMemoryStore:
        opened = self._open_address(memory_db, "memory_db", conversations=False, memories=True)
        if opened.memories is None:
            raise ConfigError(f"{memory_db!r} stores no long-term memories (memory_db)")
        return opened.memories

    def _open_address(
        self, address: str, setting: str | None, *, conversations: bool, memories: bool
    ) -> OpenedBackend:
        """Open `address`; a `ConfigError` names the `setting` it came from, if any."""
        with _naming(setting):
            opened = open_backend(
                address, self.settings, conversations=conversations, memories=memories
            )
        self._closers.append(opened.close)
        return opened

    def close(self) -> None:
        """Close the databases Engram opened (an injected store is left open); every later use
        of this Engram, its conversations and its memories raises `BackendUnavailable`.
        Closing again does nothing."""
        self._closed = True
        while self._closers:
            self._closers.pop()()

    async def aclose(self) -> None:
        """`close`, first closing on the running event loop the async HTTP connections of
        the LLM and embedding endpoints Engram made (`close` alone leaves those of an async
        caller's `a...` calls open: an "unclosed transport" when the loop ends)."""
        while self._async_closers:
            await self._async_closers.pop()()
        self.close()

    async def __aenter__(self) -> Engram:
        self._check_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __enter__(self) -> Engram:
        self._check_open()
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
            session_id: The id; None (the default) for a new time-sortable id.
            user_id: The user it belongs to (a session of another user is refused).
            agent_id: The agent it belongs to (a session of another agent is refused).
            metadata: Stored on creation.
            ttl_seconds: Lifetime after last use, in seconds (> 0, finite; default: settings,
                where None means it never expires); opening the session, each write to it
                and each `context()` extend it (reading its messages, state or summary does
                not: a viewer of old chats keeps none alive). Used on creation.
            create: If False, raise `NotFoundError` instead of creating (True or False: a
                truthy "no" is refused).

        Raises:
            InvalidInputError: An empty or malformed `session_id`, a bad `ttl_seconds`,
                `metadata` that is not a JSON object with string keys (valid UTF-8); a
                `user_id` or `agent_id` other than the session's (or one for a session made
                without).
            NotFoundError: `create=False` and no live session has that id.
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
        ttl = self.settings.session_ttl_seconds if ttl_seconds is None else ttl_seconds
        template = Session(
            id=check_identifier(new_id() if session_id is None else session_id, "session id"),
            tenant=self.tenant,
            user_id=None if user_id is None else check_identifier(user_id, "user_id"),
            agent_id=None if agent_id is None else check_identifier(agent_id, "agent_id"),
            metadata=check_json_object(metadata or {}, "session metadata"),
            ttl_seconds=check_ttl(ttl),
            encoding=self.settings.encoding,
        )
        return flows.open_flow(template, now=utcnow(), create=check_flag(create, "create"))

    def sessions(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Session]:
        """Live sessions, most recently updated first; of one user or agent if given.

        Raises:
            InvalidInputError: A `user_id` or `agent_id` that is not an id (a non-empty
                string), a `limit` not from 0 to 100,000 or an `offset` not from 0 to 2**63-1
                (integers), as `memories.get_all` has them.
        """
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

    def delete_user(self, user_id: str) -> UserErasure:
        """Erase everything this tenant holds of a user: their sessions with messages,
        summaries and state, and, if there is a memory store, every memory and what was
        derived from them (`memories.delete_all(user_id=...)`)."""
        user = check_identifier(user_id, "user_id")
        sessions = run(
            flows.delete_user_sessions_flow(self.tenant, user, now=utcnow()), self.resources
        )
        memories = None
        if self.resources.memories is not None:
            memories = self.memories.delete_all(user_id=user)
        return UserErasure(sessions, memories)

    def import_session(
        self, data: Mapping[str, Any], *, session_id: str | None = None
    ) -> Conversation:
        """Recreate a session from `Conversation.export()` data, atomically.

        Ids, metadata, state, the messages in order and the summary are kept (an export of
        the import is the export again); token counts are counted again, and the session's
        last use and expiry start from now. Importing an export again is a `ConflictError`:
        the session may have moved on since, so it is not replaced.

        Args:
            data: The export (`format` `engram.session/1`).
            session_id: Import under this id (None: the exported one); the messages then
                get new ids, since ids are unique within a tenant.

        Raises:
            InvalidInputError: `data` is not a well-formed session export (nothing is written).
            ConflictError: A live session with that id, or a message id, exists already.
        """
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


class UserErasure(NamedTuple):
    """What `Engram.delete_user` erased."""

    sessions: int
    """Live sessions deleted, each with its messages, summary and state."""
    memories: ErasureReport | None
    """The long-term memory erasure (None: this Engram has no memory store)."""


def _check_arguments(store: object, settings: object, memories: object, ranking: object) -> None:
    """Refuse arguments of the wrong type before anything is opened: `Engram(123)` would
    create a file named `123`, and a `memory_store` address would fail at the first search."""
    none = type(None)
    expected = (
        ("store", store, (str, Path, BaseConversationStore, none), "an address or a store"),
        ("settings", settings, (EngramSettings, none), "EngramSettings"),
        ("memory_store", memories, (BaseMemoryStore, none), "a store (an address: memory_db)"),
        ("ranking", ranking, (RankingWeights,), "RankingWeights"),
    )
    for name, value, types, what in expected:
        if not isinstance(value, types):
            raise InvalidInputError(f"{name} must be {what}, not {type(value).__name__}")


def _check_plugins(embedder: object, summarizer: object) -> None:
    """Refuse an `embedder` or `summarizer` without the methods of its protocol before anything
    is opened: `embedder="minilm"` would fail at the first memory added."""
    expected = (
        ("embedder", embedder, "EmbedderProtocol", ("embed", "aembed")),
        ("summarizer", summarizer, "SummarizerProtocol", ("summarize", "asummarize")),
    )
    for name, value, protocol, methods in expected:
        if value is not None and not all(callable(getattr(value, m, None)) for m in methods):
            raise InvalidInputError(
                f"{name} must have the methods {' and '.join(methods)} ({protocol}), "
                f"not {type(value).__name__}"
            )


@contextmanager
def _naming(setting: str | None) -> Iterator[None]:
    """A `ConfigError` raised inside names the `setting` its address came from, if any."""
    try:
        yield
    except ConfigError as exc:
        if setting is None:
            raise
        raise ConfigError(f"{exc} (settings.{setting}, ENGRAM_{setting.upper()})") from exc


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
        reply_tokens=llm.reply_tokens,
    )


def _default_summarizer(
    settings: EngramSettings, model: OpenAIChatModel | None
) -> SummarizerProtocol:
    count = TokenCounter.for_encoding(settings.encoding).count_text
    return ExtractiveSummarizer(count) if model is None else LLMSummarizer(model, count)
