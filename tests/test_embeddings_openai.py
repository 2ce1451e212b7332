"""OpenAIEmbedder against a real local HTTP server speaking the OpenAI embeddings wire format."""

from __future__ import annotations

import base64
import hashlib
import logging

import httpx
import numpy as np
import pytest

from engram._exceptions import (
    ConfigError,
    InvalidInputError,
    ProviderError,
    ProviderUnavailable,
)
from engram.providers._embeddings import (
    CachedEmbedder,
    EmbedderProtocol,
    EmbeddingSpace,
    embedding_space,
)
from engram.providers._openai_embeddings import OpenAIEmbedder
from openai_server import (
    FakeOpenAIServer,
    ReceivedRequest,
    ScriptedResponse,
    embeddings_body,
    error_body,
    unreachable_url,
)

pytest_plugins = ["openai_server"]

KEY = "sk-test-embeddings-0123456789"
DIM = 4


def raw_vector(text: str, dimension: int = DIM) -> list[float]:
    """What the fake model answers for `text`: deterministic, deliberately not unit-length."""
    digest = hashlib.sha256(text.encode()).digest()
    return [float(byte) + 1.0 for byte in digest[:dimension]]


def unit(vector: list[float]) -> np.ndarray:
    array = np.asarray(vector, dtype=np.float64)
    return (array / np.linalg.norm(array)).astype(np.float32)


def model_server(request: ReceivedRequest) -> ScriptedResponse:
    """Answers every embeddings request like a real model would."""
    body = request.json()
    dimension = body.get("dimensions", DIM)
    vectors = [raw_vector(text, dimension) for text in body["input"]]
    return ScriptedResponse(json=embeddings_body(vectors, model=body["model"]))


def make_embedder(server: FakeOpenAIServer, **options: object) -> OpenAIEmbedder:
    settings: dict[str, object] = {"api_key": KEY, "backoff": 0.0, "timeout": 5.0}
    settings.update(options)
    return OpenAIEmbedder("embed-test", base_url=server.url, **settings)  # type: ignore[arg-type]


def test_embed_sends_the_openai_payload_and_normalises(openai_server: FakeOpenAIServer) -> None:
    openai_server.handler = model_server

    with make_embedder(openai_server, dimension=DIM) as embedder:
        vectors = embedder.embed(["I love pizza", "the train leaves at 9"])

    assert vectors.dtype == np.float32 and vectors.shape == (2, DIM)
    np.testing.assert_allclose(vectors[0], unit(raw_vector("I love pizza")), rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    (request,) = openai_server.requests
    assert (request.method, request.path) == ("POST", "/v1/embeddings")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.json() == {
        "model": "embed-test",
        "input": ["I love pizza", "the train leaves at 9"],
    }


def test_identity_and_protocol(openai_server: FakeOpenAIServer) -> None:
    embedder: EmbedderProtocol = make_embedder(openai_server, dimension=DIM)
    assert embedding_space(embedder) == EmbeddingSpace("embed-test", DIM, "openai-compatible")
    assert openai_server.requests == []  # a known dimension needs no request
    assert KEY not in repr(embedder)


def test_batches_of_batch_size_in_order(openai_server: FakeOpenAIServer) -> None:
    openai_server.handler = model_server
    texts = [f"message {i}" for i in range(5)]

    with make_embedder(openai_server, batch_size=2) as embedder:
        vectors = embedder.embed(texts)

    assert [request.json()["input"] for request in openai_server.requests] == [
        texts[0:2],
        texts[2:4],
        texts[4:5],
    ]
    expected = np.stack([unit(raw_vector(text)) for text in texts])
    np.testing.assert_allclose(vectors, expected, rtol=1e-6)


def test_out_of_order_items_are_put_back_by_index(openai_server: FakeOpenAIServer) -> None:
    body = embeddings_body([raw_vector("a"), raw_vector("b")])
    body["data"].reverse()
    openai_server.enqueue(json=body)
    with make_embedder(openai_server) as embedder:
        vectors = embedder.embed(["a", "b"])
    np.testing.assert_allclose(vectors[0], unit(raw_vector("a")), rtol=1e-6)


def test_base64_vectors_are_decoded(openai_server: FakeOpenAIServer) -> None:
    encoded = base64.b64encode(np.asarray([3.0, 4.0], dtype="<f4").tobytes()).decode()
    openai_server.enqueue(json={"data": [{"index": 0, "embedding": encoded}]})
    with make_embedder(openai_server) as embedder:
        np.testing.assert_allclose(embedder.embed(["x"]), [[0.6, 0.8]], rtol=1e-6)


def test_empty_list_with_a_known_dimension_sends_nothing(openai_server: FakeOpenAIServer) -> None:
    with make_embedder(openai_server, dimension=DIM) as embedder:
        assert embedder.embed([]).shape == (0, DIM)
    assert openai_server.requests == []


def test_unknown_dimension_is_learned_from_the_first_response(
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.handler = model_server
    with make_embedder(openai_server) as embedder:
        embedder.embed(["first"])
        assert embedder.dimension == DIM
    assert len(openai_server.requests) == 1


def test_unknown_dimension_is_probed_once(openai_server: FakeOpenAIServer) -> None:
    openai_server.handler = model_server
    with make_embedder(openai_server) as embedder:
        assert embedder.dimension == DIM
        assert embedder.embed([]).shape == (0, DIM)
    assert len(openai_server.requests) == 1


async def test_async_empty_list_probes_asynchronously(openai_server: FakeOpenAIServer) -> None:
    openai_server.handler = model_server
    async with make_embedder(openai_server) as embedder:
        assert (await embedder.aembed([])).shape == (0, DIM)
    assert len(openai_server.requests) == 1


def test_empty_text_is_sent_as_a_space(openai_server: FakeOpenAIServer) -> None:
    openai_server.handler = model_server
    with make_embedder(openai_server) as embedder:
        embedder.embed(["", "text"])
    assert openai_server.requests[0].json()["input"] == [" ", "text"]


def test_send_dimensions(openai_server: FakeOpenAIServer) -> None:
    openai_server.handler = model_server
    with make_embedder(openai_server, dimension=2, send_dimensions=True) as embedder:
        assert embedder.embed(["short"]).shape == (1, 2)
    assert openai_server.requests[0].json()["dimensions"] == 2


def test_vectors_of_the_wrong_length_are_a_provider_error(
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.enqueue(json=embeddings_body([raw_vector("a", 3)]))
    with make_embedder(openai_server, dimension=DIM) as embedder:
        with pytest.raises(ProviderError, match=r"length \[3\], expected 4"):
            embedder.embed(["a"])


def test_a_changing_dimension_is_a_provider_error(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(json=embeddings_body([raw_vector("a", 4)]))
    openai_server.enqueue(json=embeddings_body([raw_vector("b", 5)]))
    with make_embedder(openai_server) as embedder:
        embedder.embed(["a"])
        with pytest.raises(ProviderError, match="expected 4"):
            embedder.embed(["b"])


@pytest.mark.parametrize(
    "body",
    [
        {"data": []},
        {"object": "list"},
        {"data": [{"index": 0}]},
        {"data": [{"index": 0, "embedding": "not base64!"}]},
        {"data": [{"index": 0, "embedding": [1.0, "x"]}]},
        {"data": [{"index": 0, "embedding": [1.0, float("nan")]}]},
        {"data": [{"index": 5, "embedding": [1.0, 2.0]}]},
        {"data": ["just a string"]},
        {"data": [{"index": 0, "embedding": [1.0]}, {"index": 1, "embedding": [1.0, 2.0]}]},
    ],
)
def test_malformed_bodies_are_provider_errors(
    openai_server: FakeOpenAIServer, body: dict[str, object]
) -> None:
    openai_server.enqueue(json=body)  # json.dumps writes NaN, as some servers do
    texts = ["a", "b"][: max(1, len(body.get("data", [])))]  # type: ignore[arg-type]
    with make_embedder(openai_server) as embedder, pytest.raises(ProviderError):
        embedder.embed(texts)
    assert len(openai_server.requests) == 1  # malformed answers are not retried


def test_5xx_is_retried_by_the_shared_machinery(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(503, error_body("loading model"), headers={"Retry-After": "0"})
    openai_server.handler = model_server
    with make_embedder(openai_server) as embedder:
        assert embedder.embed(["a"]).shape == (1, DIM)
    assert len(openai_server.requests) == 2


def test_persistent_failure_is_unavailable(openai_server: FakeOpenAIServer) -> None:
    openai_server.handler = lambda request: ScriptedResponse(500, error_body("boom"))
    with make_embedder(openai_server, max_retries=1) as embedder:
        with pytest.raises(ProviderUnavailable, match="after 2 attempt"):
            embedder.embed(["a"])


def test_rejected_key_is_not_retried_nor_revealed(
    openai_server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    openai_server.enqueue(401, error_body(f"Incorrect API key provided: {KEY}."))
    with caplog.at_level(logging.DEBUG), make_embedder(openai_server) as embedder:
        with pytest.raises(ProviderError, match="rejected the API key") as caught:
            embedder.embed(["a"])
    assert not isinstance(caught.value, ProviderUnavailable)
    assert KEY not in str(caught.value) and KEY not in caplog.text
    assert len(openai_server.requests) == 1


def test_a_query_in_base_url_stays_last_and_out_of_errors(
    openai_server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    query = "api-version=2024-02-01&sig=query-secret"
    openai_server.enqueue(500, error_body("overloaded"))
    openai_server.enqueue(401, error_body("no"))
    embedder = OpenAIEmbedder(
        "embed-test", base_url=f"{openai_server.url}?{query}", backoff=0.0, max_retries=1
    )
    with caplog.at_level(logging.DEBUG), embedder, pytest.raises(ProviderError) as caught:
        embedder.embed(["a"])
    assert [request.path for request in openai_server.requests] == [f"/v1/embeddings?{query}"] * 2
    assert "/v1/embeddings" in str(caught.value)
    assert "query-secret" not in str(caught.value)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("engram")]
    assert ours and not any("query-secret" in message for message in ours)  # (httpx logs it)


def test_unknown_model_names_the_model(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(404, {"error": 'model "embed-test" not found, try pulling it first'})
    with make_embedder(openai_server) as embedder, pytest.raises(ProviderError) as caught:
        embedder.embed(["a"])
    assert "'embed-test'" in str(caught.value) and "/embeddings" in str(caught.value)


def test_unreachable_server_is_unavailable() -> None:
    embedder = OpenAIEmbedder("m", base_url=unreachable_url(), max_retries=1, backoff=0.0)
    with embedder, pytest.raises(ProviderUnavailable):
        embedder.embed(["a"])


async def test_aembed_matches_embed(openai_server: FakeOpenAIServer) -> None:
    openai_server.handler = model_server
    texts = [f"t{i}" for i in range(5)]
    async with make_embedder(openai_server, batch_size=2) as embedder:
        asynchronous = await embedder.aembed(texts)
        synchronous = embedder.embed(texts)
    np.testing.assert_array_equal(asynchronous, synchronous)
    assert len(openai_server.requests) == 6


async def test_async_retry_then_success(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(429, error_body("slow down"), headers={"Retry-After": "0"})
    openai_server.handler = model_server
    async with make_embedder(openai_server) as embedder:
        assert (await embedder.aembed(["a"])).shape == (1, DIM)
    assert len(openai_server.requests) == 2


def test_cached_remote_embedder_sends_each_text_once(openai_server: FakeOpenAIServer) -> None:
    openai_server.handler = model_server
    with make_embedder(openai_server, dimension=DIM) as remote:
        cached = CachedEmbedder(remote)
        cached.embed(["a", "b", "a"])
        cached.embed(["b", "c"])
    assert [request.json()["input"] for request in openai_server.requests] == [["a", "b"], ["c"]]


@pytest.mark.parametrize(
    "options",
    [{"batch_size": 0}, {"dimension": 0}, {"send_dimensions": True}],
)
def test_bad_settings(options: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        OpenAIEmbedder("m", base_url="http://localhost:1/v1", **options)  # type: ignore[arg-type]


def test_bad_base_url() -> None:
    with pytest.raises(ConfigError):
        OpenAIEmbedder("m", base_url="localhost:11434")


@pytest.mark.parametrize("vector", [[0.0] * DIM, [0.0, -0.0, 0.0, 0.0]], ids=["zero", "signed"])
def test_a_zero_vector_is_a_provider_error_naming_the_endpoint(
    openai_server: FakeOpenAIServer, vector: list[float]
) -> None:
    openai_server.enqueue(json=embeddings_body([raw_vector("a"), vector]))
    embedder = OpenAIEmbedder(
        "embed-test", base_url=f"{openai_server.url}?sig=query-secret", api_key=KEY
    )
    with embedder, pytest.raises(ProviderError, match="zero vector") as caught:
        embedder.embed(["a", "b"])
    message = str(caught.value)
    assert "/v1/embeddings" in message and "'embed-test'" in message
    assert "query-secret" not in message and KEY not in message


@pytest.mark.parametrize(
    "vector",
    [[1e38, 1e38, -1e38, 1e38], [3e38, 0.0, 0.0, 0.0], [1e300, 1e300, 0.0, 0.0], [5e-324] * 4],
    ids=["large", "near-float32-max", "beyond-float32", "subnormal"],
)
def test_vectors_of_extreme_magnitude_are_normalised(
    openai_server: FakeOpenAIServer, vector: list[float]
) -> None:
    openai_server.enqueue(json=embeddings_body([vector]))
    with make_embedder(openai_server) as embedder:
        [row] = embedder.embed(["a"])
    expected = np.sign(vector) / np.sqrt(np.count_nonzero(vector))
    np.testing.assert_allclose(row, expected, rtol=1e-6)


def test_large_base64_float32_vectors_are_normalised(openai_server: FakeOpenAIServer) -> None:
    big = np.finfo(np.float32).max
    encoded = base64.b64encode(np.asarray([big, big], dtype="<f4").tobytes()).decode()
    openai_server.enqueue(json={"data": [{"index": 0, "embedding": encoded}]})
    with make_embedder(openai_server) as embedder:
        np.testing.assert_allclose(embedder.embed(["x"]), [[0.5**0.5] * 2], rtol=1e-6)


def test_timeout_bounds_the_whole_response(openai_server: FakeOpenAIServer) -> None:
    openai_server.handler = lambda request: ScriptedResponse(
        json=embeddings_body([raw_vector("a")]), trickle=0.1
    )
    with make_embedder(openai_server, timeout=0.3, max_retries=0) as embedder:
        with pytest.raises(ProviderUnavailable, match="0.3 s"):
            embedder.embed(["a"])


async def test_async_only_transport_learns_the_dimension_asynchronously(
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.handler = model_server
    async with make_embedder(openai_server, transport=httpx.AsyncHTTPTransport()) as embedder:
        assert embedder.known_dimension is None
        cached = CachedEmbedder(embedder)
        assert (await cached.aembed([])).shape == (0, DIM)  # the probe, awaited
        assert embedder.known_dimension == DIM
    assert len(openai_server.requests) == 1


async def test_a_cache_hit_never_probes_an_unknown_dimension(
    openai_server: FakeOpenAIServer,
) -> None:
    # A persistent cache filled by another process: this embedder has not learned its
    # dimension yet, so the entries cannot be checked and the texts are embedded again.
    openai_server.handler = model_server
    store: dict[str, bytes] = {}
    async with make_embedder(openai_server, transport=httpx.AsyncHTTPTransport()) as first:
        await CachedEmbedder(first, store).aembed(["a"])
    async with make_embedder(openai_server, transport=httpx.AsyncHTTPTransport()) as second:
        cached = CachedEmbedder(second, store)
        vectors = await cached.aembed(["a"])
        assert vectors.shape == (1, DIM)
        await cached.aembed(["a"])  # now known: a hit
    assert [request.json()["input"] for request in openai_server.requests] == [["a"], ["a"]]


@pytest.mark.parametrize(
    ("model", "options", "native"),
    [
        ("text-embedding-3-small", {}, 1536),
        ("text-embedding-3-large", {"dimension": 256, "send_dimensions": True}, 3072),
        ("text-embedding-ada-002", {}, 1536),
        ("nomic-embed-text", {"dimension": 768}, None),
    ],
)
def test_native_dimension(model: str, options: dict[str, object], native: int | None) -> None:
    embedder = OpenAIEmbedder(model, base_url="http://localhost:1/v1", **options)  # type: ignore[arg-type]
    assert embedder.native_dimension == native
    assert CachedEmbedder(embedder).native_dimension == native
