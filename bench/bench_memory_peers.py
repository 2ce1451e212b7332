"""Engram vs mem0 vs LangGraph `InMemoryStore`: adds/s, filtered search, recall, one run.

Run: `python bench/bench_memory_peers.py [--n 10000] [--per-user 100] [--adds 200]
[--queries 60] [--dir /tmp] [--vectors-cache FILE.npz]`

All three get the same `n` memories (chat turns from ../shared/data: LoCoMo, then the first
sentences of LongMemEval user turns), spread over `n / per-user` users, and the same
all-MiniLM-L6-v2 embedder (Engram's `LocalEmbedder`, int8 ONNX, offline), each behind its
own `CachedEmbedder`:

- Engram: `Engram(file, embedder=...)` on a SQLite file; loaded through the public bulk path
  `SqliteMemoryStore.put_memories` with the precomputed vectors and an `add` history entry per
  memory (`Engram.memories.add` always embeds; this is the path for already-embedded
  memories), which gives `batch_adds_per_s`. Searched with `Engram.memories.search` (hybrid:
  dense + BM25 + ranking) and, vector-only, `SqliteMemoryStore.search_vector`.
- mem0 (`mem0ai`, `Memory`, `infer=False`, its default local vector store: Qdrant in local
  mode on disk, plus its SQLite history). Its embedder is replaced by `_Mem0Embedder` (a
  subclass of mem0's `EmbeddingBase` over the shared MiniLM); its LLM is configured with a
  placeholder key and an unroutable local URL and is never called (`infer=False`). spaCy and
  fastembed are not installed, so mem0 lemmatises nothing and its BM25 is off (what it does
  offline). Loaded with `vector_store.insert` and the payload `Memory.add` writes; searched
  with `Memory.search(filters={"user_id": ...})` and, vector-only, `vector_store.search`.
- LangGraph `InMemoryStore(index={"dims": 384, "embed": ...})`, one namespace per user.

mem0 is in the `dev` dependency group (`python -m pip install mem0ai` pulls qdrant-client,
openai, posthog, grpcio; no torch). The bench sets `MEM0_TELEMETRY=False` and `MEM0_DIR` (a
temp dir) before importing mem0, and refuses every internet socket `connect` of the process:
`network_attempts` in the output counts the attempts (0 expected).

Figures per system:
- `single_adds_per_s`: `--adds` new texts added one call each (embedding included; each text
  is new to every cache), to random users; `single_adds_cached_per_s`: `--adds` more, embedded
  beforehand (what an add costs besides embedding).
- `search_ms` / `search_cached_ms` (p50/p95): the public search of one user's memories, top
  10, for `--queries` held-out texts: first with the query not yet embedded (embedding
  included), then the same queries again, answered from the embedding cache (embedding
  excluded). Every queried user is searched once before, untimed (warm caches).
- `vector_ms`, `recall@10`: the filtered vector search alone (precomputed query vector) and its
  recall@10 against an exact NumPy search over the user's vectors (LangGraph has no
  vector-only call: its cached-query search is its vector search).

Checks (PASS/FAIL): Engram's search at least 10x faster than mem0's (p50, embedding excluded
and included), single adds at least 3x mem0's rate, batch adds >= 10,000/s, Engram's recall@10
>= 0.98. The last line is one JSON object with every figure; the exit status is 1 if a
check failed.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from _rounds import seconds
from engram import Engram
from engram.providers import CachedEmbedder, LocalEmbedder
from engram.stores.memories import MemoryFilter, VectorRecord
from engram.stores.sqlite.memories import SqliteMemoryStore
from engram.types._memory import Memory, MemoryChange

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
Vectors = np.ndarray


# No network: every internet connect of this process fails and is counted.

_NETWORK_ATTEMPTS: list[str] = []
_CONNECT = socket.socket.connect


def _guarded_connect(self: socket.socket, address: Any) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _NETWORK_ATTEMPTS.append(repr(address))
        raise OSError(f"bench_memory_peers: network disabled ({address!r})")
    _CONNECT(self, address)


def _no_network() -> None:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign, assignment]


# Texts and vectors.


def _sentences(text: str, limit: int = 220) -> str:
    """The first sentences of `text`, at most `limit` characters."""
    parts = re.split(r"(?<=[.!?])\s+", " ".join(text.split()))
    kept = ""
    for part in parts:
        if kept and len(kept) + 1 + len(part) > limit:
            break
        kept = f"{kept} {part}".strip()
    return kept[:limit]


def load_texts(count: int) -> list[str]:
    """`count` distinct chat texts: LoCoMo turns, then LongMemEval user turns (shortened)."""
    texts: dict[str, None] = {}
    locomo = DATA / "locomo_dev.json"
    if locomo.exists():
        for conversation in json.loads(locomo.read_text(encoding="utf-8")):
            sessions = conversation["conversation"]
            for key in sorted(
                (k for k in sessions if k.startswith("session_") and k[8:].isdigit()),
                key=lambda k: int(k[8:]),
            ):
                texts.update((turn["text"].strip(), None) for turn in sessions[key])
    longmemeval = DATA / "longmemeval_s_dev.json.gz"
    if len(texts) < count and longmemeval.exists():
        with gzip.open(longmemeval, "rt", encoding="utf-8") as file:
            for question in json.load(file):
                for session in question["haystack_sessions"]:
                    for turn in session:
                        if turn["role"] == "user":
                            texts[_sentences(turn["content"])] = None
                if len(texts) >= count:
                    break
    pool = [text for text in texts if len(text) >= 8]
    index = 0
    while len(pool) < count:  # no data files: synthetic sentences
        pool.append(f"note {index}: the meeting about project {index % 97} moved to day {index}")
        index += 1
    return pool[:count]


def embed_all(texts: Sequence[str], cache_file: str | None) -> tuple[dict[str, bytes], Vectors]:
    """Embed `texts` once (every core); the filled embedding cache and the matrix."""
    cache: dict[str, bytes] = {}
    # The backend too: a file of another backend's vectors must not be taken for this one's.
    digest = hashlib.sha256("\n".join([LocalEmbedder().backend, *texts]).encode()).hexdigest()
    if cache_file and Path(cache_file).exists():
        stored = np.load(cache_file)
        if str(stored["digest"]) == digest:
            matrix = stored["vectors"]
            embedder = CachedEmbedder(LocalEmbedder(), cache=cache)
            keys = [embedder_key(embedder, text) for text in texts]
            cache.update((key, row.tobytes()) for key, row in zip(keys, matrix, strict=True))
            return cache, matrix
    embedder = CachedEmbedder(LocalEmbedder(threads=None, batch_size=64), cache=cache)
    matrix = embedder.embed(list(texts))
    if cache_file:
        Path(cache_file).parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache_file, digest=np.array(digest), vectors=matrix)
    return cache, matrix


def embedder_key(embedder: CachedEmbedder, text: str) -> str:
    from engram.providers._embeddings import cache_key

    return cache_key(f"{embedder.inner.model_id}\x00{embedder.backend}", text)


# Timing.


def _percentiles(samples: Sequence[float]) -> dict[str, float]:
    return {
        "p50": round(float(np.percentile(samples, 50)), 3),
        "p95": round(float(np.percentile(samples, 95)), 3),
    }


class Workload:
    """The memories, their owners and vectors, the held-out queries and single-add texts."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.n = args.n
        self.users = max(1, args.n // args.per_user)
        pool = load_texts(args.n + args.queries + 2 * args.adds)
        texts, self.cached_adds = pool[: -args.adds], pool[-args.adds :]
        # One distribution for stored, queried and added texts (the pool is LoCoMo first).
        np.random.default_rng(3).shuffle(texts)
        self.texts = texts[: args.n]
        self.queries = texts[args.n : args.n + args.queries]
        self.adds = texts[args.n + args.queries :]
        self.cache, self.vectors = embed_all(self.texts, args.vectors_cache)
        self.model = LocalEmbedder()  # one ONNX session (the default), shared by the systems
        self.model.load()
        rng = np.random.default_rng(7)
        self.owner = np.minimum(np.arange(args.n) // args.per_user, self.users - 1)
        self.query_users = rng.integers(0, self.users, len(self.queries)).tolist()
        self.add_users = rng.integers(0, self.users, len(self.adds)).tolist()

    @staticmethod
    def user(index: int) -> str:
        return f"user-{index:05d}"

    def rows_of(self, user: int) -> np.ndarray:
        return np.flatnonzero(self.owner == user)

    def exact_top(self, user: int, query: Vectors, k: int = 10) -> set[int]:
        rows = self.rows_of(user)
        scores = self.vectors[rows] @ query
        return {int(rows[i]) for i in np.argsort(-scores, kind="stable")[:k]}

    def embedder(self) -> CachedEmbedder:
        """A MiniLM embedder whose cache already holds every stored memory's vector."""
        return CachedEmbedder(self.model, cache=dict(self.cache))


# The three systems.


class EngramSystem:
    name = "engram"

    def __init__(self, work: Workload, directory: Path) -> None:
        self.work = work
        self.embedder = work.embedder()
        self.mem = Engram(directory / "engram.db", embedder=self.embedder)
        self.store = self.mem.resources.memory_store()
        assert isinstance(self.store, SqliteMemoryStore)
        self.model = self.mem.embedding_model_id

    def load(self) -> float:
        """Seconds in `put_memories`, one batch per user (building the records not timed)."""
        spent = 0.0
        tenant = self.mem.tenant
        for user in range(self.work.users):
            rows = self.work.rows_of(user)
            memories, changes = [], []
            for row in rows.tolist():
                at = T0 + timedelta(minutes=row)
                memory = Memory(
                    self.work.texts[row],
                    id=f"m{row}",
                    tenant=tenant,
                    user_id=self.work.user(user),
                    recorded_at=at,
                    created_at=at,
                    updated_at=at,
                )
                memories.append(memory)
                changes.append(
                    MemoryChange(memory.id, "add", new_text=memory.text, tenant=tenant, at=at)
                )
            vectors = [VectorRecord(self.model, self.work.vectors[row]) for row in rows]
            start = time.perf_counter()
            self.store.put_memories(tenant, memories, vectors=vectors, changes=changes)
            spent += time.perf_counter() - start
        return spent

    def add(self, text: str, user: int) -> None:
        self.mem.memories.add(text, user_id=self.work.user(user), infer=False)

    def search(self, query: str, user: int) -> None:
        self.mem.memories.search(query, user_id=self.work.user(user), limit=10)

    def vector_search(self, vector: Vectors, user: int) -> list[int]:
        where = MemoryFilter(user_id=self.work.user(user))
        hits = self.store.search_vector(self.mem.tenant, vector, self.model, where, limit=10)
        return [int(hit.memory_id[1:]) for hit in hits]

    def embed_ahead(self, texts: Sequence[str]) -> None:
        """Cache `texts`' vectors where this Engram's adds look them up (its tenant's)."""
        self.embedder.embed(texts, tenant=self.mem.tenant)

    def close(self) -> None:
        self.mem.close()


def _import_mem0(home: Path) -> Any:
    os.environ["MEM0_TELEMETRY"] = "False"
    os.environ["MEM0_DIR"] = str(home)
    os.environ.pop("OPENAI_API_KEY", None)
    import logging

    import mem0  # type: ignore[import-untyped]

    # mem0 warns on every call that spaCy/fastembed are missing (its offline degradation).
    logging.getLogger("mem0").setLevel(logging.ERROR)
    return mem0


class Mem0System:
    name = "mem0"

    def __init__(self, work: Workload, directory: Path) -> None:
        mem0 = _import_mem0(directory / "mem0home")
        from mem0.configs.embeddings.base import (  # type: ignore[import-untyped]
            BaseEmbedderConfig,
        )
        from mem0.embeddings.base import EmbeddingBase  # type: ignore[import-untyped]

        class _Mem0Embedder(EmbeddingBase):  # type: ignore[misc]
            """mem0's embedder contract over the shared MiniLM."""

            def __init__(self, inner: CachedEmbedder) -> None:
                super().__init__(BaseEmbedderConfig(embedding_dims=inner.dimension))
                self.inner = inner

            def embed(self, text: Any, memory_action: Any = None) -> list[float]:
                vector: list[float] = self.inner.embed([text])[0].tolist()
                return vector

        self.work = work
        unused = {"api_key": "unused-no-network", "openai_base_url": "http://127.0.0.1:9/v1"}
        config = {
            "vector_store": {
                "provider": "qdrant",
                "config": {
                    "path": str(directory / "qdrant"),
                    "collection_name": "bench",
                    "embedding_model_dims": 384,
                    "on_disk": True,
                },
            },
            "embedder": {"provider": "openai", "config": {**unused, "embedding_dims": 384}},
            "llm": {"provider": "openai", "config": unused},
            "history_db_path": str(directory / "mem0_history.db"),
        }
        self.memory = mem0.Memory.from_config(config)
        self.embedder = work.embedder()
        self.memory.embedding_model = _Mem0Embedder(self.embedder)

    def load(self) -> float:
        """Seconds in `vector_store.insert`, 500 points a call, with `Memory.add`'s payload."""
        spent = 0.0
        for start in range(0, self.work.n, 500):
            rows = range(start, min(start + 500, self.work.n))
            payloads = []
            for row in rows:
                text = self.work.texts[row]
                at = (T0 + timedelta(minutes=row)).isoformat()
                payloads.append(
                    {
                        "data": text,
                        "hash": hashlib.md5(text.encode()).hexdigest(),
                        "created_at": at,
                        "updated_at": at,
                        "text_lemmatized": text,
                        "user_id": self.work.user(int(self.work.owner[row])),
                        "role": "user",
                    }
                )
            vectors = [self.work.vectors[row].tolist() for row in rows]
            ids = [str(uuid.UUID(int=row + 1)) for row in rows]
            began = time.perf_counter()
            self.memory.vector_store.insert(vectors=vectors, payloads=payloads, ids=ids)
            spent += time.perf_counter() - began
        return spent

    def add(self, text: str, user: int) -> None:
        self.memory.add(text, user_id=self.work.user(user), infer=False)

    def search(self, query: str, user: int) -> None:
        self.memory.search(query, filters={"user_id": self.work.user(user)}, top_k=10)

    def vector_search(self, vector: Vectors, user: int) -> list[int]:
        hits = self.memory.vector_store.search(
            query="", vectors=vector.tolist(), top_k=10, filters={"user_id": self.work.user(user)}
        )
        return [uuid.UUID(str(hit.id)).int - 1 for hit in hits]

    def embed_ahead(self, texts: Sequence[str]) -> None:
        """Cache `texts`' vectors where this system's adds look them up."""
        self.embedder.embed(texts)

    def close(self) -> None:
        client = getattr(self.memory.vector_store, "client", None)
        if client is not None:
            client.close()


class LangGraphSystem:
    name = "langgraph"

    def __init__(self, work: Workload, directory: Path) -> None:
        from langgraph.store.memory import InMemoryStore

        self.work = work
        self.embedder = embedder = work.embedder()

        def embed(texts: Sequence[str]) -> list[list[float]]:
            rows: list[list[float]] = embedder.embed(list(texts)).tolist()
            return rows

        self.store = InMemoryStore(index={"dims": 384, "embed": embed, "fields": ["text"]})

    def load(self) -> float:
        from langgraph.store.base import PutOp

        spent = 0.0
        for start in range(0, self.work.n, 500):
            ops = [
                PutOp(
                    ("memories", self.work.user(int(self.work.owner[row]))),
                    f"m{row}",
                    {"text": self.work.texts[row]},
                )
                for row in range(start, min(start + 500, self.work.n))
            ]
            began = time.perf_counter()
            self.store.batch(ops)
            spent += time.perf_counter() - began
        return spent

    def add(self, text: str, user: int) -> None:
        self.store.put(("memories", self.work.user(user)), uuid.uuid4().hex, {"text": text})

    def search(self, query: str, user: int) -> None:
        self.store.search(("memories", self.work.user(user)), query=query, limit=10)

    def vector_search(self, vector: Vectors, user: int) -> list[int]:
        return []  # no vector-only call: see `measure`

    def embed_ahead(self, texts: Sequence[str]) -> None:
        """Cache `texts`' vectors where this system's adds look them up."""
        self.embedder.embed(texts)

    def close(self) -> None:
        pass


# Measuring.


def measure(systems: dict[str, Any], work: Workload) -> dict[str, dict[str, Any]]:
    """Load each system, then every timed operation, the systems taking turns in rounds of
    consecutive operations (see `_rounds.py`), so a slow moment of this shared machine slows
    them alike. Searches (embedding included, then cached), vector search and recall, single
    adds (embedding included, then with the text embedded beforehand)."""
    figures: dict[str, dict[str, Any]] = {name: {} for name in systems}
    for name, system in systems.items():
        figures[name]["load_per_s"] = round(work.n / system.load())
    pairs = list(zip(work.queries, work.query_users, strict=True))
    for user in sorted(set(work.query_users)):  # warm-up, untimed: a stored text as the query
        for system in systems.values():
            system.search(work.texts[int(work.rows_of(user)[0])], user)
    for key in ("search_ms", "search_cached_ms"):  # the second pass hits the embedding caches
        timings = _timed(systems, [partial(_search, q, u) for q, u in pairs])
        for name in systems:
            figures[name][key] = _percentiles(timings[name])
    query_vectors = work.embedder().embed(work.queries)
    found: dict[str, list[set[int]]] = {name: [] for name in systems}

    def vector_search(turn: int, system: Any) -> None:
        (query, user), vector = pairs[turn], query_vectors[turn]
        if system.name == "langgraph":  # no vector-only call: its cached-query search
            hits = system.store.search(("memories", work.user(user)), query=query, limit=10)
            found[system.name].append({int(hit.key[1:]) for hit in hits})
        else:
            found[system.name].append(set(system.vector_search(vector, user)))

    timings = _timed(systems, [partial(vector_search, turn) for turn in range(len(pairs))])
    # The exact search recall is measured against, outside the timed calls.
    exact = [work.exact_top(user, query_vectors[turn]) for turn, (_, user) in enumerate(pairs)]
    for name in systems:
        recalls = [len(got & top) / 10 for got, top in zip(found[name], exact, strict=True)]
        figures[name]["vector_ms"] = _percentiles(timings[name])
        figures[name]["recall@10"] = round(float(np.mean(recalls)), 4)
    adds = list(zip(work.adds, work.add_users, strict=True))
    timings = _timed(systems, [partial(_add, t, u) for t, u in adds])
    for name in systems:
        figures[name]["single_adds_per_s"] = round(len(adds) / (sum(timings[name]) / 1000), 1)
        systems[name].embed_ahead(work.cached_adds)  # what is left of an add without embedding
    cached = list(zip(work.cached_adds, work.add_users, strict=True))
    timings = _timed(systems, [partial(_add, t, u) for t, u in cached])
    for name in systems:
        figures[name]["single_adds_cached_per_s"] = round(
            len(cached) / (sum(timings[name]) / 1000), 1
        )
    return figures


def _search(query: str, user: int, system: Any) -> Any:
    return system.search(query, user)


def _add(text: str, user: int, system: Any) -> Any:
    return system.add(text, user)


def _timed(
    systems: dict[str, Any], operations: Sequence[Callable[[Any], Any]]
) -> dict[str, list[float]]:
    """Every operation on every system, in rounds; the milliseconds each took, per system."""
    ops = {name: lambda i, s=system: operations[i](s) for name, system in systems.items()}
    return {name: [t * 1000 for t in ts] for name, ts in seconds(ops, len(operations)).items()}


def _check(name: str, ok: bool, detail: str) -> bool:
    print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}")
    return ok


def checks(results: dict[str, dict[str, Any]]) -> dict[str, bool]:
    engram, mem0 = results["engram"], results.get("mem0")
    outcome = {
        "batch_adds_10k_per_s": _check(
            "batch adds", engram["load_per_s"] >= 10_000, f"{engram['load_per_s']:,}/s >= 10,000/s"
        ),
        "recall_0.98": _check(
            "recall@10", engram["recall@10"] >= 0.98, f"{engram['recall@10']} >= 0.98"
        ),
    }
    if mem0 is None:
        return outcome
    for key, label in (("search_cached_ms", "embedding excluded"), ("search_ms", "included")):
        ratio = mem0[key]["p50"] / engram[key]["p50"]
        outcome[f"search_10x_mem0_{key}"] = _check(
            f"search 10x mem0 ({label})",
            ratio >= 10,
            f"p50 {engram[key]['p50']} ms vs {mem0[key]['p50']} ms = {ratio:.1f}x",
        )
    ratio = engram["single_adds_per_s"] / mem0["single_adds_per_s"]
    outcome["single_adds_3x_mem0"] = _check(
        "single adds 3x mem0",
        ratio >= 3,
        f"{engram['single_adds_per_s']}/s vs {mem0['single_adds_per_s']}/s = {ratio:.1f}x",
    )
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=10_000, help="memories stored")
    parser.add_argument("--per-user", type=int, default=100, help="memories per user")
    parser.add_argument("--adds", type=int, default=200, help="single adds timed")
    parser.add_argument("--queries", type=int, default=60, help="searches timed")
    parser.add_argument("--systems", default="engram,mem0,langgraph")
    parser.add_argument("--dir", default=None, help="where the files go (default: temp dir)")
    parser.add_argument("--vectors-cache", default=None, help="an .npz to reuse embeddings")
    args = parser.parse_args()
    _no_network()
    started = time.perf_counter()
    work = Workload(args)
    elapsed = time.perf_counter() - started
    print(f"{args.n:,} memories, {work.users} users; embedded in {elapsed:.0f} s")
    kinds: dict[str, Any] = {
        "engram": EngramSystem,
        "mem0": Mem0System,
        "langgraph": LangGraphSystem,
    }
    results: dict[str, dict[str, Any]] = {}
    workdir = Path(tempfile.mkdtemp(prefix="engram-peers-", dir=args.dir))
    try:
        with ExitStack() as stack:
            systems = {}
            for name in args.systems.split(","):
                (workdir / name).mkdir()
                systems[name] = kinds[name](work, workdir / name)
                stack.callback(systems[name].close)
            results = measure(systems, work)
        for name, figures in results.items():
            print(f"{name:>9}: {json.dumps(figures)}", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    outcome = checks(results)
    summary = {
        "bench": "memory_peers",
        "n": args.n,
        "users": work.users,
        "results": results,
        "checks": outcome,
        "network_attempts": len(_NETWORK_ATTEMPTS),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(summary))
    sys.exit(0 if all(outcome.values()) else 1)


if __name__ == "__main__":
    main()
