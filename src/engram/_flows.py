"""Orchestration written once, driven by a sync or an async driver.

A flow is a generator that yields requests and receives their results:

- `StoreCall`: a batch of conversation-store operations -> their results;
- `MemoryCall`: a batch of memory-store operations -> their results;
- `SummarizeCall`: fold messages into a running summary -> the new summary text;
- `EmbedCall`: embed a tenant's texts -> a float32 matrix;
- `ForgetEmbeddings`: drop a tenant's texts' vectors from the embedder's cache (erased
  memories) -> None;
- `LLMRequest` (from `engram.memory.llm_flow`): ask the chat model -> a `Completion`, or None
  when the provider failed (the flow then takes its deterministic path); a refused key,
  model or base_url (`ProviderConfigError`) is thrown into the flow instead;
- `Serialize`: hold these scope locks until the flow ends -> None.

`run()` drives a flow with blocking calls, `arun()` with awaited ones; the flow itself does no
I/O, so the sync and async APIs share every decision (the pattern of httpx's `auth_flow`). An
`EngramError` raised by a call is thrown into the flow, which may handle it.

A flow that reads what is stored, decides and writes in a later batch (a memory `add`, a
profile edit) yields `Serialize` with its scope's key before it reads: the flows of one key
then run one after the other in this process, whichever driver runs them, on any thread or
event loop (`ScopeLocks`), and across the processes sharing the memory store (the store's
`ScopeHold`, taken after the in-process lock, released before it).
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from engram._exceptions import ConfigError, EngramError, ProviderError
from engram._locks import ScopeLocks
from engram.memory.llm_flow import LLMRequest
from engram.providers import (
    CachedEmbedder,
    ChatModelProtocol,
    EmbedderProtocol,
    SummarizerProtocol,
)
from engram.stores.conversation import BaseConversationStore
from engram.stores.conversation import Op as ConversationOp
from engram.stores.scope_locks import NoHold, ScopeHold
from engram.types import Message

if TYPE_CHECKING:
    from engram.stores.memories import BaseMemoryStore

__all__ = [
    "EmbedCall",
    "Flow",
    "ForgetEmbeddings",
    "MemoryCall",
    "Resources",
    "Serialize",
    "StoreCall",
    "SummarizeCall",
    "arun",
    "call",
    "forget_embeddings",
    "run",
    "serialized",
]

logger = logging.getLogger("engram")
T = TypeVar("T")


class StoreCall(NamedTuple):
    """Run these conversation-store operations as one batch."""

    ops: tuple[ConversationOp, ...]


class MemoryCall(NamedTuple):
    """Run these memory-store operations as one batch."""

    ops: tuple[Any, ...]


class SummarizeCall(NamedTuple):
    """Fold `messages` into `previous`; the flow receives the new summary text."""

    previous: str | None
    messages: tuple[Message, ...]
    max_tokens: int


class EmbedCall(NamedTuple):
    """Embed `texts`; the flow receives an (n, d) float32 matrix of normalised rows."""

    texts: tuple[str, ...]
    tenant: str
    """Whose texts: a `CachedEmbedder` keeps each tenant's vectors apart, so no tenant can
    tell by latency what another embedded."""
    user_id: str | None = None
    """The user who said them, if they are a user's own words (a search's query) and no
    memory's: a `CachedEmbedder` drops them at that user's erasure."""


class ForgetEmbeddings(NamedTuple):
    """Drop the cached vectors of `texts` (an embedder without a cache has none)."""

    texts: tuple[str, ...]
    tenant: str
    """Whose texts: only that tenant's entries go (another may hold the same text)."""
    user_id: str | None = None
    """The user erased, if the erasure is a user's: every text they said goes too."""


class Serialize(NamedTuple):
    """Hold the locks of `keys` until the flow ends (keys already held are kept as they are)."""

    keys: tuple[str, ...]


Call = StoreCall | MemoryCall | SummarizeCall | EmbedCall | ForgetEmbeddings | LLMRequest
"""A request a driver serves by calling a store or a provider."""
Request = Call | Serialize
Flow = Generator[Request, Any, T]


@dataclass(slots=True)
class Resources:
    """What flows may call: the stores and the providers of one `Engram`."""

    conversations: BaseConversationStore
    summarizer: SummarizerProtocol
    memories: BaseMemoryStore | None = None
    embedder: EmbedderProtocol | None = None
    llm: ChatModelProtocol | None = None
    locks: ScopeLocks = field(default_factory=ScopeLocks)
    """The locks `Serialize` takes: one set per `Engram`."""
    memories_unavailable: str | None = None
    """Why the backend of the conversations could not hold memories (no pgvector)."""

    def memory_store(self) -> BaseMemoryStore:
        if self.memories is None and self.memories_unavailable:
            raise ConfigError(self.memories_unavailable)
        if self.memories is None:
            raise ConfigError(
                "this Engram has no long-term memory store: pass memory_store= or set"
                " ENGRAM_MEMORY_DB (Redis stores no long-term memories)"
            )
        return self.memories

    def scope_hold(self) -> ScopeHold:
        """The hold that makes other processes wait for the keys a flow serialises on: the
        memory store's; without one (Redis), none (`NoHold`): this process's locks alone."""
        return NoHold() if self.memories is None else self.memories.hold()

    def embedding_model(self) -> EmbedderProtocol:
        if self.embedder is None:
            raise ConfigError("this Engram has no embedder configured")
        return self.embedder


def run(flow: Flow[T], resources: Resources) -> T:
    """Drive `flow` to completion with blocking calls; return its value."""
    held: list[str] = []
    hold: ScopeHold | None = None
    try:
        request = next(flow)
        while True:
            try:
                if isinstance(request, Serialize):
                    if hold is None:  # before any in-process lock (`ScopeHold.reserve`)
                        hold = resources.scope_hold()
                        hold.reserve()
                    keys = _missing(request, held)
                    for key in keys:
                        resources.locks.acquire(key)
                        held.append(key)
                    hold.take(keys)
                    result = None
                else:
                    result = _serve(request, resources)
            except EngramError as exc:
                request = flow.throw(exc)
            else:
                request = flow.send(result)
    except StopIteration as stop:
        value: T = stop.value
        return value
    finally:
        try:
            if hold is not None:
                hold.release()
        finally:
            for key in reversed(held):
                resources.locks.release(key)


async def arun(flow: Flow[T], resources: Resources) -> T:
    """Drive `flow` to completion with awaited calls; return its value."""
    held: list[str] = []
    hold: ScopeHold | None = None
    try:
        request = next(flow)
        while True:
            try:
                if isinstance(request, Serialize):
                    if hold is None:  # before any in-process lock (`ScopeHold.reserve`)
                        hold = resources.scope_hold()
                        await hold.areserve()
                    keys = _missing(request, held)
                    for key in keys:
                        await resources.locks.aacquire(key)
                        held.append(key)
                    await hold.atake(keys)
                    result = None
                else:
                    result = await _aserve(request, resources)
            except EngramError as exc:
                request = flow.throw(exc)
            else:
                request = flow.send(result)
    except StopIteration as stop:
        value: T = stop.value
        return value
    finally:
        try:
            if hold is not None:
                await hold.arelease()
        finally:
            for key in reversed(held):
                resources.locks.release(key)


def _missing(request: Serialize, held: Sequence[str]) -> list[str]:
    """The keys not held yet, sorted: flows taking several keys take them in one order."""
    return sorted(set(request.keys) - set(held))


def _serve(request: Call, resources: Resources) -> Any:
    if isinstance(request, StoreCall):
        return resources.conversations.batch(request.ops)
    if isinstance(request, MemoryCall):
        return resources.memory_store().batch(request.ops)
    if isinstance(request, EmbedCall):
        embedder = resources.embedding_model()
        if isinstance(embedder, CachedEmbedder):
            return embedder.embed(request.texts, tenant=request.tenant, user_id=request.user_id)
        return embedder.embed(request.texts)
    if isinstance(request, ForgetEmbeddings):
        return _forget(request, resources)
    if isinstance(request, SummarizeCall):
        return resources.summarizer.summarize(
            request.previous, request.messages, max_tokens=request.max_tokens
        )
    if resources.llm is None:
        return None
    try:
        return resources.llm.complete(
            request.messages,
            max_tokens=request.max_tokens,
            response_format=request.response_format,
        )
    except ConfigError:
        raise  # a bad key, model or base_url: thrown into the flow, as a store's error is
    except ProviderError as exc:
        logger.warning("LLM call failed, taking the deterministic path: %s", exc)
        return None


async def _aserve(request: Call, resources: Resources) -> Any:
    if isinstance(request, StoreCall):
        return await resources.conversations.abatch(request.ops)
    if isinstance(request, MemoryCall):
        return await resources.memory_store().abatch(request.ops)
    if isinstance(request, EmbedCall):
        embedder = resources.embedding_model()
        if isinstance(embedder, CachedEmbedder):
            return await embedder.aembed(
                request.texts, tenant=request.tenant, user_id=request.user_id
            )
        return await embedder.aembed(request.texts)
    if isinstance(request, ForgetEmbeddings):
        return _forget(request, resources)
    if isinstance(request, SummarizeCall):
        return await resources.summarizer.asummarize(
            request.previous, request.messages, max_tokens=request.max_tokens
        )
    if resources.llm is None:
        return None
    try:
        return await resources.llm.acomplete(
            request.messages,
            max_tokens=request.max_tokens,
            response_format=request.response_format,
        )
    except ConfigError:
        raise  # a bad key, model or base_url: thrown into the flow, as a store's error is
    except ProviderError as exc:
        logger.warning("LLM call failed, taking the deterministic path: %s", exc)
        return None


def _forget(request: ForgetEmbeddings, resources: Resources) -> None:
    if isinstance(resources.embedder, CachedEmbedder):
        resources.embedder.forget(request.texts, tenant=request.tenant, user_id=request.user_id)
        return
    if not request.texts:
        return
    forget = getattr(resources.embedder, "forget", None)  # another cache: keyed by text only
    if callable(forget):
        forget(request.texts)


def serialized(*keys: str) -> Flow[None]:
    """Hold the locks of `keys` until the flow ends (see `Serialize`)."""
    yield Serialize(tuple(keys))


def forget_embeddings(
    texts: Sequence[str], *, tenant: str, user_id: str | None = None
) -> Flow[None]:
    """Yield a request to drop `tenant`'s `texts` from the embedding cache (and, with
    `user_id`, every text that user said)."""
    yield ForgetEmbeddings(tuple(texts), tenant, user_id)


def call(*ops: ConversationOp) -> Flow[list[Any]]:
    """Yield one conversation batch: `[session] = yield from call(GetSession(...))`."""
    results: list[Any] = yield StoreCall(ops)
    return results


def call_memories(*ops: Any) -> Flow[list[Any]]:
    """Yield one memory-store batch and return its results."""
    results: list[Any] = yield MemoryCall(ops)
    return results


def embed(texts: Sequence[str], *, tenant: str, user_id: str | None = None) -> Flow[Any]:
    """Yield one embedding request for `tenant`'s `texts` (words `user_id` said, if given:
    see `EmbedCall`) and return the matrix."""
    return (yield EmbedCall(tuple(texts), tenant, user_id))
