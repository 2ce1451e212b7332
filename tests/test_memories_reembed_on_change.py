"""After an embedder change, the first search of a scope re-embeds its memories.

Memories whose vectors another model made are invisible to dense search until they have one
of the current model: the first search of a scope (a user's memories; an agent's, a
session's) by an `Engram` stores them (`reembed`), retired ones too, so it already finds
them by meaning. Each scope is checked once per `Engram` and model; if the embedder fails,
the search goes on with what is stored, and says so once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from embedders import HashingEmbedder
from engram import Engram, Message
from engram._exceptions import ProviderError
from engram.stores import InMemoryConversationStore
from engram.stores.memories import BaseMemoryStore, CountUnembedded, MemoryFilter, PutVectors

pytest_plugins = ["servers"]

QUESTION = "Which city?"
"""No word of it is in a memory: only its meaning finds the home city."""


def said(text: str, month: int) -> Message:
    return Message(role="user", content=text, created_at=datetime(2026, month, 10, tzinfo=UTC))


def written_by_another_model(store: BaseMemoryStore) -> None:
    """Ana's home city (Berlin, then Lisbon), Bo's cello and an agent's note, stored with
    the vectors of another embedder (as a database written before an embedder change)."""
    with Engram(
        InMemoryConversationStore(), memory_store=store, embedder=HashingEmbedder()
    ) as before:
        before.memories.add(messages=[said("I live in Berlin.", 1)], user_id="ana")
        before.memories.add(messages=[said("I moved to Lisbon.", 6)], user_id="ana")
        before.memories.add("Ana is vegetarian", user_id="ana", infer=False)
        before.memories.add("Bo plays the cello", user_id="bo", infer=False)
        before.memories.add("The office moved to Madrid", agent_id="desk", infer=False)


def texts(mem: Engram, query: str = QUESTION, **scope: Any) -> list[str]:
    return [hit.memory.text for hit in mem.memories.search(query, **scope)]


def unembedded(mem: Engram, **scope: Any) -> int:
    where = MemoryFilter(include_superseded=True, **scope)
    return mem.resources.memory_store().count_unembedded(mem.tenant, mem.embedding_model_id, where)


def test_the_first_search_finds_by_meaning_what_another_model_embedded(
    every_memory_engram: Engram,
) -> None:
    mem = every_memory_engram
    written_by_another_model(mem.resources.memory_store())
    assert texts(mem, user_id="ana")[0] == "The user moved to Lisbon"
    assert unembedded(mem, user_id="ana") == 0  # stored, the retired one too
    assert unembedded(mem, user_id="bo") == 1  # a scope not searched yet
    as_of_march = datetime(2026, 3, 1, tzinfo=UTC)
    assert texts(mem, user_id="ana", as_of=as_of_march)[0] == "The user lives in Berlin"
    assert texts(mem, agent_id="desk")[0] == "The office moved to Madrid"
    assert mem.memories.reembed(user_id="ana") == 0
    assert mem.memories.reembed() == 1  # Bo's


def test_a_contexts_recall_finds_by_meaning_what_another_model_embedded(
    every_memory_engram: Engram,
) -> None:
    mem = every_memory_engram
    written_by_another_model(mem.resources.memory_store())
    session = mem.session("chat", user_id="ana")
    session.add("user", QUESTION)
    result = session.context(model="gpt-4o", budget=2000, recall=4)
    [block] = [m for m in result.messages if m.role == "system"]
    assert "I moved to Lisbon." in block.text  # found by meaning (the profile gives the city)
    assert unembedded(mem, user_id="ana") == 0


def test_a_scope_is_checked_once_per_engram(
    every_memory_engram: Engram, monkeypatch: pytest.MonkeyPatch
) -> None:
    mem = every_memory_engram
    store = mem.resources.memory_store()
    written_by_another_model(store)
    ops: list[type] = []
    locks: list[str] = []
    batch, acquire = store.batch, mem.resources.locks.acquire

    def recorded_batch(batch_ops: Sequence[Any]) -> list[Any]:
        ops.extend(type(op) for op in batch_ops)
        return batch(batch_ops)

    def recorded_acquire(key: str) -> None:
        locks.append(key)
        acquire(key)

    monkeypatch.setattr(store, "batch", recorded_batch)
    monkeypatch.setattr(mem.resources.locks, "acquire", recorded_acquire)
    assert texts(mem, user_id="ana")[0] == "The user moved to Lisbon"
    assert ops.count(CountUnembedded) == 1 and PutVectors in ops
    assert locks == [repr(("memories", mem.tenant, "ana"))]  # as a write of hers holds
    ops.clear()
    locks.clear()
    as_of_march = datetime(2026, 3, 1, tzinfo=UTC)
    assert texts(mem, user_id="ana", as_of=as_of_march)[0] == "The user lives in Berlin"
    texts(mem, user_id="ana", session_id="later")  # one of her scopes: checked with her
    assert CountUnembedded not in ops and PutVectors not in ops and locks == []
    texts(mem, user_id="bo")
    assert ops.count(CountUnembedded) == 1 and PutVectors in ops
    ops.clear()
    with Engram(InMemoryConversationStore(), memory_store=store) as restarted:
        texts(restarted, user_id="ana")  # counted again, nothing left to embed
    assert ops.count(CountUnembedded) == 1 and PutVectors not in ops


class FailingBatches(HashingEmbedder):
    """Embeds a query or a search's few candidates on the fly; fails on a batch of more."""

    model_id = "test/failing"

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        if len(texts) > 2:
            raise ProviderError("the embeddings endpoint is down")
        return super().embed(texts)


def test_an_embedder_failing_leaves_the_search_as_it_was(
    every_memory_engram: Engram, caplog: pytest.LogCaptureFixture
) -> None:
    store = every_memory_engram.resources.memory_store()
    written_by_another_model(store)
    embedder = FailingBatches()
    with Engram(InMemoryConversationStore(), memory_store=store, embedder=embedder) as mem:
        with caplog.at_level(logging.WARNING, logger="engram"):
            hits = mem.memories.search("Lisbon", user_id="ana")
            assert "The user moved to Lisbon" in [hit.memory.text for hit in hits]
            assert all(hit.parts.dense > 0.0 for hit in hits)  # embedded on the fly, as before
            calls = embedder.calls
            again = mem.memories.search("Lisbon", user_id="ana")
            assert [hit.memory.id for hit in again] == [hit.memory.id for hit in hits]
        warnings = [r for r in caplog.records if "engram memories reembed" in r.getMessage()]
        assert len(warnings) == 1  # once: the scope is not tried again
        assert embedder.calls == calls + 2  # the query and its candidates, nothing more
