"""A user's erasure leaves nothing of the user in the embedding cache: neither the vectors of
their memories' texts nor those of what they searched for (`CachedEmbedder.embed(user_id=)`),
while another user's searches and every memory text left stay cached."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from embedders import CountingEmbedder
from engram import Engram
from engram.memory.texts import dense_text
from engram.providers import CachedEmbedder

ANA_ASKS = "which company employs me these days"
BO_ASKS = "what is my job title"


@pytest.fixture
def model() -> CountingEmbedder:
    return CountingEmbedder()


@pytest.fixture
def mem(tmp_path: Path, model: CountingEmbedder) -> Iterator[Engram]:
    with Engram(tmp_path / "engram.db", embedder=CachedEmbedder(model)) as engram:
        yield engram


@pytest.mark.parametrize("erase", ["delete_user", "delete_all", "adelete_all"])
def test_a_users_erasure_drops_the_vectors_of_what_they_searched_for(
    mem: Engram, model: CountingEmbedder, erase: str
) -> None:
    mem.memories.add("Ana works at Acme", user_id="ana", infer=False)
    [kept] = mem.memories.add("Bo works at Initech", user_id="bo", infer=False).added
    mem.memories.search(ANA_ASKS, user_id="ana")
    asyncio.run(mem.memories.asearch(BO_ASKS, user_id="bo"))
    mem.memories.search(ANA_ASKS, user_id="ana")
    assert model.count(ANA_ASKS) == model.count(BO_ASKS) == 1  # cached: a hit
    if erase == "delete_user":
        mem.delete_user("ana")
    elif erase == "delete_all":
        mem.memories.delete_all(user_id="ana")
    else:
        asyncio.run(mem.memories.adelete_all(user_id="ana"))
    mem.memories.search(ANA_ASKS, user_id="ana")
    assert model.count(ANA_ASKS) == 2  # nothing of it was left: embedded anew
    mem.memories.search(BO_ASKS, user_id="bo")
    assert model.count(BO_ASKS) == 1  # another user's search stays cached
    text = dense_text(kept)
    mem.memories.add("Bo works at Initech", user_id="bo", infer=False)
    assert model.count(text) == 1  # and so do the memory texts left


def test_a_narrower_erasure_keeps_the_users_searches(mem: Engram, model: CountingEmbedder) -> None:
    mem.memories.add("Ana works at Acme", user_id="ana", agent_id="bot", infer=False)
    mem.memories.search(ANA_ASKS, user_id="ana")
    mem.memories.delete_all(user_id="ana", agent_id="bot")
    mem.memories.search(ANA_ASKS, user_id="ana")
    assert model.count(ANA_ASKS) == 1  # the user is not erased: a hit


def test_what_a_user_said_is_cached_apart_and_forgotten_with_the_user(
    model: CountingEmbedder,
) -> None:
    persistent: dict[str, bytes] = {}
    cached = CachedEmbedder(model, persistent)
    cached.embed(["where do I live"], tenant="t", user_id="ana")
    cached.embed(["where do I live"], tenant="t", user_id="bo")
    cached.embed(["where do I live"], tenant="u", user_id="ana")
    cached.embed(["Ana lives in Porto"], tenant="t")
    assert model.count("where do I live") == 3  # each user's own entry
    assert len(persistent) == 1  # only the memory text: a user's words stay in this process
    cached.forget([], tenant="t", user_id="ana")
    for tenant, user_id in (("t", "ana"), ("t", "bo"), ("u", "ana")):
        cached.embed(["where do I live"], tenant=tenant, user_id=user_id)
    assert model.count("where do I live") == 4  # only tenant t's ana embedded anew
    cached.embed(["Ana lives in Porto"], tenant="t")
    assert model.count("Ana lives in Porto") == 1
