"""The embedding contract on awkward input, with the local MiniLM model, and what erasure leaves
in process: nothing derived from an erased memory's text."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engram import Engram
from engram._exceptions import InvalidInputError, ProviderError
from engram.providers import CachedEmbedder, LocalEmbedder

AWKWARD = {
    "empty": "",
    "whitespace": " \t\n\u00a0\u3000",
    "emoji": "I ❤️ 🍕 👨‍👩‍👧‍👦 🇵🇹",
    "cjk": "我住在里斯本。東京は大きい。서울",
    "rtl": "שלום עולם، مرحبا بالعالم",
    "combining": "Zalgo: Z\u0335\u0321a\u0301\u0301\u0301l\u0308go e\u0301",
    "nul": "before\x00after",
    "control": "\x01\x1b[31mred\x7f",
    "long": "the quick brown fox " * 400,  # ~1600 wordpieces: past the 256/512 window
    "long-word": "x" * 50_000,
}


class Counting(LocalEmbedder):
    """The local model, remembering which texts it really embedded (not served by a cache)."""

    def __init__(self) -> None:
        super().__init__(threads=1)
        self.seen: list[str] = []

    def embed(self, texts: Sequence[str]) -> Any:
        self.seen += texts
        return super().embed(texts)


@pytest.fixture(scope="module")
def model() -> LocalEmbedder:
    return LocalEmbedder(threads=1)


def test_awkward_texts_embed_the_same_alone_and_in_one_batch(model: LocalEmbedder) -> None:
    texts = list(AWKWARD.values())
    batch = model.embed(texts)
    alone = np.vstack([model.embed([text]) for text in texts])
    assert batch.shape == (len(texts), 384) and batch.dtype == np.float32
    assert np.isfinite(batch).all()
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(batch, alone, atol=1e-5)


def test_a_text_past_the_window_is_its_truncated_prefix(model: LocalEmbedder) -> None:
    long = AWKWARD["long"]
    [whole, prefix] = model.embed([long, long[: len(long) // 2]])
    assert float(whole @ prefix) > 0.9999  # both keep the first 254 wordpieces


@pytest.mark.parametrize("bad", ["lone \ud800 high", "lone \udfff low", "\udc80"])
def test_a_lone_surrogate_is_invalid_input_not_a_tokenizer_crash(
    model: LocalEmbedder, bad: str
) -> None:
    cached = CachedEmbedder(Counting())
    for embedder in (model, cached):
        with pytest.raises(InvalidInputError, match=r"text #1 is not valid UTF-8"):
            embedder.embed(["fine", bad])
    assert cached.inner.seen == [] and len(cached.cache) == 0  # type: ignore[attr-defined]


async def test_a_lone_surrogate_is_invalid_input_async_too(model: LocalEmbedder) -> None:
    with pytest.raises(InvalidInputError, match="not valid UTF-8"):
        await CachedEmbedder(model).aembed(["a\ud800"])
    with pytest.raises(InvalidInputError, match="not valid UTF-8"):
        await model.aembed(["a\ud800"])


def test_the_cache_embeds_each_distinct_text_once_and_changes_no_vector() -> None:
    inner = Counting()
    cached = CachedEmbedder(inner)
    texts = ["", "same", "same", AWKWARD["emoji"], "", "same"]
    first = cached.embed(texts)
    assert inner.seen == ["", "same", AWKWARD["emoji"]]
    again = cached.embed(list(reversed(texts)))
    assert inner.seen == ["", "same", AWKWARD["emoji"]]  # no second model call
    np.testing.assert_allclose(first, inner.embed(texts), atol=1e-6)
    np.testing.assert_array_equal(again, first[::-1])
    assert cached.embed([]).shape == (0, 384)


class Broken:
    """A user's embedder that returns NaN for its first call (an fp16 overflow, say)."""

    model_id = "test/broken"
    dimension = 4
    backend = "test"

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        value = np.nan if self.calls == 1 else 0.5
        return np.full((len(texts), self.dimension), value, dtype=np.float32)

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)


def test_a_non_finite_vector_is_a_provider_error_and_is_not_cached() -> None:
    inner = Broken()
    cached = CachedEmbedder(inner)
    with pytest.raises(ProviderError, match="NaN or infinite"):
        cached.embed(["hello"])
    assert len(cached.cache) == 0  # type: ignore[arg-type]
    assert np.isfinite(cached.embed(["hello"])).all()  # the next call asks the model again
    assert inner.calls == 2


def reachable_text(root: object, needle: str) -> bool:
    """Whether a string holding `needle` is reachable from `root` through attributes,
    slots and containers (what a heap dump of the process would show of it)."""
    seen: set[int] = set()
    stack: list[object] = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, str):
            if needle in obj:
                return True
        elif isinstance(obj, dict):
            stack += [*obj.keys(), *obj.values()]
        elif isinstance(obj, list | tuple | set | frozenset):
            stack += list(obj)
        elif not isinstance(obj, bytes | int | float | np.ndarray | type) and obj is not None:
            stack += list(getattr(obj, "__dict__", {}).values())
            for cls in type(obj).__mro__:
                for slot in getattr(cls, "__slots__", ()):
                    if isinstance(slot, str) and hasattr(obj, slot):
                        stack.append(getattr(obj, slot))
    return False


SECRET = "My passport number is X123."


@pytest.mark.parametrize("erase", ["delete", "delete_all"])
def test_erasure_leaves_no_vector_or_row_of_the_text_in_process(tmp_path: Path, erase: str) -> None:
    inner = Counting()
    embedder = CachedEmbedder(inner)
    with Engram(tmp_path / "m.db", embedder=embedder) as mem:
        doomed = mem.memories.add(SECRET, user_id="ana", infer=False).added[0]
        kept = mem.memories.add("I like green tea.", user_id="bob", infer=False).added[0]
        assert mem.memories.search("passport", user_id="ana")  # fills the store's row cache
        assert mem.memories.search("tea", user_id="bob")
        inner.seen.clear()  # the test's own record of the texts embedded
        assert reachable_text(mem, "X123")  # the control: the caches hold it now
        if erase == "delete":
            mem.memories.delete(doomed.id)
        else:
            mem.memories.delete_all(user_id="ana")
        assert not reachable_text(mem, "X123")
        embedder.embed([SECRET, kept.text], tenant=mem.tenant)
        assert inner.seen == [SECRET]  # its vector was dropped, the other user's was kept


def test_a_candidate_revision_drops_keeps_no_vector_in_process(tmp_path: Path) -> None:
    """A restatement revision finds a duplicate of is stored nowhere, so no erasure could
    find its cached vector: the add drops it at once."""
    inner = Counting()
    with Engram(tmp_path / "m.db", embedder=CachedEmbedder(inner)) as mem:
        mem.memories.add("My passport number is X123.", user_id="ana", infer=False)
        report = mem.memories.add("my passport number is X123", user_id="ana", infer=False)
        assert not report.added and report.unchanged == 1  # a duplicate: provenance only
        mem.memories.delete_all(user_id="ana")
        inner.seen.clear()  # the test's own record of the texts embedded
        assert not reachable_text(mem, "X123")
        mem.embedder.embed(["my passport number is X123"], tenant=mem.tenant)
        assert inner.seen == ["my passport number is X123"]  # computed anew, not cached
