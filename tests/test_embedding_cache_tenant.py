"""The embedding cache keeps each tenant's vectors apart: tenants sharing one `CachedEmbedder`
share no entries (no tenant learns by latency what another embedded), and erasing one
tenant's text leaves another's vector cached."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from embedders import CountingEmbedder
from engram import Engram
from engram.memory.texts import dense_text
from engram.providers import CachedEmbedder
from engram.providers._embeddings import cache_key


@pytest.fixture
def model() -> CountingEmbedder:
    return CountingEmbedder()


@pytest.fixture
def tenants(tmp_path: Path, model: CountingEmbedder) -> Iterator[tuple[Engram, Engram]]:
    """Engrams of tenants "a" and "b" on one file, sharing one cached embedder."""
    shared = CachedEmbedder(model)
    address = tmp_path / "engram.db"
    with (
        Engram(address, tenant="a", embedder=shared) as a,
        Engram(address, tenant="b", embedder=shared) as b,
    ):
        yield a, b


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_another_tenants_embedding_of_a_text_is_a_miss_and_ones_own_a_hit(
    tenants: tuple[Engram, Engram], model: CountingEmbedder, driver: str
) -> None:
    a, b = tenants
    query = "Where does Ana live?"

    def search(mem: Engram) -> None:
        if driver == "sync":
            mem.memories.search(query, user_id="ana")
        else:
            asyncio.run(mem.memories.asearch(query, user_id="ana"))

    search(a)
    assert model.count(query) == 1
    search(a)
    assert model.count(query) == 1  # tenant a's own text: a hit
    search(b)
    assert model.count(query) == 2  # tenant b never embedded it: the model is called
    search(b)
    assert model.count(query) == 2


def test_one_flows_texts_go_to_the_model_in_one_call(
    tenants: tuple[Engram, Engram], model: CountingEmbedder
) -> None:
    a, b = tenants
    exported = _export_of(a, ["Ana likes tea", "Ana lives in Porto", "Ana likes tea"])
    before = len(model.calls)
    b.memories.import_(exported)
    new_calls = model.calls[before:]
    # Tenant a's vector of "Ana likes tea" is not b's: b embeds both texts, once each.
    assert len(new_calls) == 1 and sorted(new_calls[0]) == sorted(set(new_calls[0]))
    assert any("Ana likes tea" in text for text in new_calls[0])


@pytest.mark.parametrize("erase", ["delete", "delete_all"])
def test_erasing_a_tenants_text_leaves_another_tenants_vector(
    tenants: tuple[Engram, Engram], model: CountingEmbedder, erase: str
) -> None:
    a, b = tenants
    [mine] = a.memories.add("Ana's PIN is 4071", user_id="ana", infer=False).added
    [theirs] = b.memories.add("Ana's PIN is 4071", user_id="ana", infer=False).added
    text = dense_text(mine)
    assert dense_text(theirs) == text and model.count(text) == 2
    if erase == "delete":
        a.memories.delete(mine.id)
    else:
        a.memories.delete_all(user_id="ana")
    b.memories.add("Ana's PIN is 4071", user_id="bo", infer=False)
    assert model.count(text) == 2  # b's vector survived a's erasure: a hit
    a.memories.add("Ana's PIN is 4071", user_id="bo", infer=False)
    assert model.count(text) == 3  # a's was erased: embedded anew


def test_forget_drops_only_the_named_tenants_entry(model: CountingEmbedder) -> None:
    cached = CachedEmbedder(model)
    cached.embed(["x", "x"], tenant="a")
    cached.embed(["x"], tenant="b")
    assert model.calls == [["x"], ["x"]]
    cached.forget(["x"], tenant="a")
    cached.embed(["x"], tenant="b")
    assert model.calls == [["x"], ["x"]]
    cached.embed(["x"], tenant="a")
    assert model.calls == [["x"], ["x"], ["x"]]


def test_forget_drops_the_entry_a_persistent_cache_kept_from_before_tenants(
    model: CountingEmbedder,
) -> None:
    """Erasure leaves no vector of the text under the key of releases that had no tenants."""
    cache: dict[str, bytes] = {}
    CachedEmbedder(model, cache).embed(["x"])  # written as before tenants were keyed
    cached = CachedEmbedder(model, cache)
    cached.embed(["x"], tenant="a")
    assert len(cache) == 2
    cached.forget(["x"], tenant="a")
    assert cache == {}


_tenant_ids = st.text(min_size=1, max_size=8)
_texts = st.text(max_size=12)


@given(_tenant_ids, _texts, _tenant_ids, _texts)
def test_tenant_keys_collide_only_for_the_same_tenant_and_text(
    tenant: str, text: str, other_tenant: str, other_text: str
) -> None:
    space = "test/counting\x00numpy"
    key = cache_key(space, text, tenant)
    assert key == cache_key(space, text, tenant)
    assert (key == cache_key(space, other_text, other_tenant)) == (
        (tenant, text) == (other_tenant, other_text)
    )
    assert key != cache_key(space, other_text)  # no tenant's key is a key without one


@given(_texts)
def test_keys_without_a_tenant_are_unchanged(text: str) -> None:
    """Caches persisted before tenants were keyed (the evaluation's disk cache) stay valid."""
    space = "test/counting\x00numpy"
    expected = hashlib.sha256(f"{space}\x00{text}".encode("utf-8", "surrogatepass")).hexdigest()
    assert cache_key(space, text) == expected


def _export_of(mem: Engram, texts: list[str]) -> dict[str, object]:
    """An export of user "cy" of `mem`'s tenant, who was told `texts`."""
    for text in texts:
        mem.memories.add(text, user_id="cy", infer=False)
    return mem.memories.export(user_id="cy")
