"""The id stored with every vector: model, backend and dimension, readable by older databases.

A vector's model is its name, its backend and its length: the same name answering another
length (OpenAI's `dimensions`, or a server that swapped the model behind the name) is another
model, whose vectors are embedded on the fly by a search and stored by `reembed()`. At the
model's native length the id keeps the form it had before the length was part of it, so the
vectors of older databases stay where they are.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
import numpy as np
import pytest

from engram import Engram
from engram.providers import CachedEmbedder, OpenAIEmbedder
from engram.stores.memories import VectorRecord
from engram.types._memory import Memory
from openai_server import FakeOpenAIServer, ReceivedRequest, ScriptedResponse, embeddings_body

pytest_plugins = ["openai_server"]

TEXTS = ("Ana lives in Porto and likes pizza", "Bo plays the cello on Sundays")


def bag_of_words(text: str, dimension: int) -> list[float]:
    """A deterministic embedding where shared words mean nearby vectors."""
    vector = np.full(dimension, 0.01)
    for word in re.findall(r"\w+", text.lower()):
        seed = int.from_bytes(hashlib.md5(word.encode()).digest()[:8], "little")
        vector += np.random.default_rng(seed).normal(size=dimension)
    return [float(value) for value in vector]


def model_of(dimension: int) -> Callable[[ReceivedRequest], ScriptedResponse]:
    """An embeddings endpoint whose model answers `dimension`-long vectors."""

    def answer(request: ReceivedRequest) -> ScriptedResponse:
        texts = request.json()["input"]
        return ScriptedResponse(json=embeddings_body([bag_of_words(t, dimension) for t in texts]))

    return answer


def remote(server: FakeOpenAIServer, model: str = "emb", **options: object) -> OpenAIEmbedder:
    return OpenAIEmbedder(model, base_url=server.url, backoff=0.0, **options)  # type: ignore[arg-type]


class HashEmbedder:
    """A custom embedder (no `native_dimension`): one model, one dimension."""

    model_id = "test/hash"
    backend = "hash"
    dimension = 8

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = np.array([bag_of_words(text, self.dimension) for text in texts], dtype=np.float32)
        rows = rows.reshape(len(texts), self.dimension)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)


def store_as_an_older_release_did(path: Path, model_id: str, vectors: np.ndarray) -> None:
    """Memories of ana with their vectors under `model_id`, written straight to the store."""
    with Engram(path, embedder=HashEmbedder()) as mem:
        memories = [
            Memory(text, id=f"m{i}", user_id="ana", tenant=mem.tenant)
            for i, text in enumerate(TEXTS)
        ]
        records = [VectorRecord(model_id, row) for row in vectors]
        mem.resources.memory_store().put_memories(mem.tenant, memories, vectors=records)


def dense_hits(mem: Engram, query: str) -> dict[str, float]:
    return {hit.memory.id: hit.parts.dense for hit in mem.memories.search(query, user_id="ana")}


def test_the_id_names_the_dimension_unless_it_is_the_native_one() -> None:
    url = "http://127.0.0.1:1/v1"  # nothing is sent: every dimension here is known
    cases = {
        "test/hash:hash": HashEmbedder(),
        "text-embedding-3-small:openai-compatible": OpenAIEmbedder(
            "text-embedding-3-small", base_url=url, dimension=1536
        ),
        "text-embedding-3-small:openai-compatible:512": OpenAIEmbedder(
            "text-embedding-3-small", base_url=url, dimension=512, send_dimensions=True
        ),
        "nomic-embed-text:openai-compatible:768": CachedEmbedder(
            OpenAIEmbedder("nomic-embed-text", base_url=url, dimension=768)
        ),
    }
    for expected, embedder in cases.items():
        with Engram(":memory:", embedder=embedder) as mem:  # type: ignore[arg-type]
            assert mem.embedding_model_id == expected


def test_a_dimension_change_is_a_model_change(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    path = tmp_path / "engram.db"
    openai_server.handler = model_of(8)
    with remote(openai_server) as embedder, Engram(path, embedder=embedder) as mem:
        mem.memories.add(TEXTS[0], user_id="ana", infer=False)
        assert mem.embedding_model_id == "emb:openai-compatible:8"

    openai_server.handler = model_of(16)  # same name, another length
    with remote(openai_server) as embedder, Engram(path, embedder=embedder) as mem:
        assert mem.embedding_model_id == "emb:openai-compatible:16"
        [hit] = mem.memories.search("pizza in Porto", user_id="ana")  # re-embedded first
        assert hit.memory.text == TEXTS[0] and hit.parts.dense > 0.2
        mem.memories.add(TEXTS[1], user_id="ana", infer=False)
        assert mem.memories.reembed() == 0  # the search stored the 8-d one's 16-d vector
        ids = [memory.id for memory in mem.memories.get_all(user_id="ana")]
        vectors = mem.resources.memory_store().get_vectors(mem.tenant, ids, mem.embedding_model_id)
        assert [vector.shape for vector in vectors] == [(16,), (16,)]  # type: ignore[union-attr]

    openai_server.handler = model_of(8)  # and back: the 8-d vectors are still there
    with remote(openai_server) as embedder, Engram(path, embedder=embedder) as mem:
        assert mem.memories.reembed() == 1  # only the memory added at 16-d


def test_vectors_of_an_older_database_are_found_as_before(tmp_path: Path) -> None:
    path = tmp_path / "engram.db"
    embedder = HashEmbedder()
    store_as_an_older_release_did(path, "test/hash:hash", embedder.embed(TEXTS))
    with Engram(path, embedder=embedder) as mem:
        assert mem.memories.reembed() == 0
        assert dense_hits(mem, "cello on Sundays")["m1"] > 0.5


def test_reembed_copies_the_vectors_an_older_release_stored_under_the_short_id(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    path = tmp_path / "engram.db"
    vectors = np.array([bag_of_words(text, 8) for text in TEXTS], dtype=np.float32)
    store_as_an_older_release_did(path, "emb:openai-compatible", vectors)
    openai_server.handler = model_of(8)
    with remote(openai_server, dimension=8) as embedder, Engram(path, embedder=embedder) as mem:
        assert mem.memories.reembed() == 2
        assert openai_server.requests == []  # copied, not embedded again
        assert dense_hits(mem, "cello on Sundays")["m1"] > 0.5
    openai_server.handler = model_of(16)
    with remote(openai_server) as embedder, Engram(path, embedder=embedder) as mem:
        assert mem.memories.reembed() == 2  # 8-d vectors are not a 16-d model's
    embedded = [text for request in openai_server.requests for text in request.json()["input"]]
    assert sorted(embedded[-2:]) == sorted(TEXTS)


def test_an_unknown_dimension_is_learned_before_the_first_write(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    openai_server.handler = model_of(8)
    with remote(openai_server) as embedder, Engram(tmp_path / "e.db", embedder=embedder) as mem:
        mem.memories.add(TEXTS[0], user_id="ana", infer=False)
        assert mem.embedding_model_id == "emb:openai-compatible:8"
        assert mem.memories.reembed() == 0


async def test_the_async_api_never_sends_a_blocking_request(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    # An async-only transport: a blocking request would fail with ConfigError.
    openai_server.handler = model_of(8)
    embedder = remote(openai_server, transport=httpx.AsyncHTTPTransport())
    with Engram(tmp_path / "engram.db", embedder=embedder) as mem:
        report = await mem.memories.aadd(TEXTS[0], user_id="ana", infer=False)
        assert mem.embedding_model_id == "emb:openai-compatible:8"
        [hit] = await mem.memories.asearch("pizza", user_id="ana")
        await mem.memories.aupdate(hit.memory.id, text="Ana lives in Porto and loves pizza")
        await mem.memories.aadd(TEXTS[1], user_id="ana", infer=False)
        assert await mem.memories.areembed() == 0
        assert await mem.memories.abloat(user_id="ana") == 0.0
        assert await mem.memories.aconsolidate(user_id="ana") == 0
        data = await mem.memories.aexport(user_id="ana")
        await mem.memories.adelete_all(user_id="ana")
        assert len(await mem.memories.aimport_(data)) == 2
        assert report.added
    await embedder.aclose()


@pytest.mark.parametrize("api", ["reembed", "bloat", "consolidate"])
async def test_async_jobs_learn_the_dimension_asynchronously(
    openai_server: FakeOpenAIServer, tmp_path: Path, api: str
) -> None:
    openai_server.handler = model_of(8)
    embedder = remote(openai_server, transport=httpx.AsyncHTTPTransport())
    with Engram(tmp_path / "engram.db", embedder=embedder) as mem:
        job = getattr(mem.memories, f"a{api}")
        await (job() if api == "reembed" else job(user_id="ana"))
        assert mem.embedding_model_id == "emb:openai-compatible:8"
    await embedder.aclose()
    assert len(openai_server.requests) == 1


@pytest.mark.parametrize("recall", [0, 3])
async def test_an_async_context_never_sends_a_blocking_request(
    openai_server: FakeOpenAIServer, tmp_path: Path, recall: int
) -> None:
    openai_server.handler = model_of(8)
    embedder = remote(openai_server, transport=httpx.AsyncHTTPTransport())
    with Engram(tmp_path / "engram.db", embedder=embedder) as mem:
        session = mem.session("s1", user_id="ana")
        await session.aadd("user", "Where do I live?")
        result = await session.acontext(budget=2000, recall=recall)
        assert result.to_openai()[-1]["content"] == "Where do I live?"
    await embedder.aclose()
