"""Memory-store figures at 10k, 100k and 1M memories: batch adds/s, search latency, recall, size.

Run: `python bench/bench_memory_store.py [--sizes 10000,100000,1000000] [--dir /tmp]
[--backend sqlite|postgres]`.

One store is loaded in stages up to each size: a SQLite file on disk, or (`--backend
postgres`) a PostgreSQL database with pgvector (`_servers.pgvector_server`: a pgserver with
initdb's defaults and shared_buffers 2GB, or `ENGRAM_BENCH_POSTGRES_URL`; ANALYZE runs,
untimed, after each stage's load, as PostgreSQL advises after bulk loads). Each stage adds
users of `--per-user` memories (1,000 by default, so 1M memories are 1,000 users), 384-d
unit vectors clustered by topic (each user writes about a few of 128 topics; a memory is its
topic's centroid plus noise, cosine ~0.7 to it), texts drawn from the topic's vocabulary,
10% of memories superseded, and one `add` history entry per memory (what the add path
writes). Generating the data is
not timed; `put_memories` (validation, encoding, the transaction) is.

After each stage, for `--queries` users picked at random: a lexical search, a vector search
and both in one batch (what hybrid retrieval does), all filtered to the user's current
memories. The first vector search of a user reads its partition from the file ("cold"); the
later ones hit the in-process matrix cache ("warm"). Recall@10 compares the vector search
with an exact NumPy search over the user's current vectors; `f16_recall@10` measures what
storing float16 instead would cost. Embedding the query is excluded from those figures;
`vector_embedded_ms` and `both_embedded_ms` include it: a question (LoCoMo's, else synthetic)
embedded by Engram's LocalEmbedder (all-MiniLM-L6-v2, int8 ONNX, one thread, no cache), then
the search with that vector (`--no-embed` skips them).

Prints one line per stage, and last one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from _servers import databases, pgvector_server
from engram.stores.memories import (
    BaseMemoryStore,
    MemoryFilter,
    SearchLexical,
    SearchVector,
    VectorRecord,
)
from engram.stores.postgres import PostgresMemoryStore
from engram.stores.sqlite.memories import SqliteMemoryStore
from engram.types._memory import Memory, MemoryChange

TENANT = "bench"
MODEL = "all-MiniLM-L6-v2"
TOPICS = 128
TOPICS_PER_USER = 6
WORDS_PER_TOPIC = 60
COMMON_WORDS = 300
NOISE_ROWS = 50_000
T0 = datetime(2024, 1, 1, tzinfo=UTC)
Vectors = NDArray[np.float32]
PG_SETTINGS = {"shared_buffers": "2GB"}
"""The 128MB default holds little of 1M memories' vectors; 2GB is a modest production setting."""


@dataclass(frozen=True)
class World:
    """The fixed parts of the synthetic data: topic centroids and vocabularies."""

    dim: int
    centroids: Vectors
    noise: Vectors
    """A pool of noise rows (scaled to norm ~1); a memory's vector is its topic's centroid
    plus a row of the pool with random signs (drawing fresh noise per memory is slow)."""
    topic_words: list[list[str]]
    common_words: list[str]


def make_world(dim: int, seed: int = 0) -> World:
    rng = np.random.default_rng(seed)
    centroids = rng.standard_normal((TOPICS, dim)).astype(np.float32)
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "do", "fi"]

    def word(index: int) -> str:
        parts = []
        for _ in range(3):
            parts.append(syllables[index % len(syllables)])
            index //= len(syllables)
        return "".join(parts) + "x"

    words = [word(index) for index in range(TOPICS * WORDS_PER_TOPIC + COMMON_WORDS)]
    topic_words = [words[t * WORDS_PER_TOPIC : (t + 1) * WORDS_PER_TOPIC] for t in range(TOPICS)]
    noise = rng.standard_normal((NOISE_ROWS, dim), dtype=np.float32) / np.float32(np.sqrt(dim))
    return World(dim, centroids, noise, topic_words, words[TOPICS * WORDS_PER_TOPIC :])


def _unit(matrix: Vectors) -> Vectors:
    unit: Vectors = matrix / np.linalg.norm(matrix, axis=-1, keepdims=True)
    return unit


@dataclass(frozen=True)
class UserData:
    """A user's vectors, which of its memories are current, its topics and word picks."""

    user: int
    vectors: Vectors
    current: NDArray[np.bool_]
    topics: NDArray[np.int64]
    chosen: NDArray[np.int64]
    """The topic of each memory."""
    words: NDArray[np.int64]
    """Per memory: 7 indexes into its topic's words, then 4 into the common words."""


def user_data(world: World, user: int, count: int) -> UserData:
    """The data of user `user`, the same on every call (seeded by the user)."""
    rng = np.random.default_rng(1000 + user)
    topics = rng.choice(TOPICS, TOPICS_PER_USER, replace=False)
    chosen = topics[rng.integers(0, TOPICS_PER_USER, count)]
    signs = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), (count, 1))
    noise = world.noise[rng.integers(0, NOISE_ROWS, count)] * signs
    vectors = _unit(world.centroids[chosen] + noise)
    words = np.concatenate(
        [rng.integers(0, WORDS_PER_TOPIC, (count, 7)), rng.integers(0, COMMON_WORDS, (count, 4))],
        axis=1,
    )
    current = rng.random(count) >= 0.1
    return UserData(user, vectors, current, topics, chosen, words)


def memory_id(user: int, index: int) -> str:
    return f"m{user:07d}-{index:05d}"


def user_memories(world: World, data: UserData) -> list[Memory]:
    """The user's memories (building them is most of the data generation's time)."""
    topic_words = np.array(world.topic_words)[data.chosen[:, None], data.words[:, :7]]
    common_words = np.array(world.common_words)[data.words[:, 7:]]
    texts = [" ".join(row) for row in np.concatenate([topic_words, common_words], 1).tolist()]
    memories = []
    for index, text in enumerate(texts):
        recorded = T0 + timedelta(minutes=data.user * len(data.chosen) + index)
        memories.append(
            Memory(
                text,
                id=memory_id(data.user, index),
                user_id=f"user-{data.user:05d}",
                session_id=f"session-{data.user}-{index // 50}",
                tenant=TENANT,
                recorded_at=recorded,
                created_at=recorded,
                updated_at=recorded,
                superseded_at=None if data.current[index] else recorded + timedelta(days=1),
            )
        )
    return memories


def load(store: BaseMemoryStore, world: World, users: range, per_user: int, history: bool) -> float:
    """Put the memories of `users`, one batch per user; the seconds spent in the store."""
    spent = 0.0
    for user in users:
        data = user_data(world, user, per_user)
        memories = user_memories(world, data)
        records = [VectorRecord(MODEL, row) for row in data.vectors]
        changes = (
            [
                MemoryChange(m.id, "add", new_text=m.text, tenant=TENANT, at=m.recorded_at)
                for m in memories
            ]
            if history
            else []
        )
        start = time.perf_counter()
        store.put_memories(TENANT, memories, vectors=records, changes=changes)
        spent += time.perf_counter() - start
    return spent


def _timed(action: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    """Milliseconds `action(*args)` took, and its result."""
    start = time.perf_counter()
    result = action(*args)
    return (time.perf_counter() - start) * 1000.0, result


def _percentiles(samples: list[float]) -> dict[str, float]:
    return {
        "p50": round(float(np.percentile(samples, 50)), 3),
        "p95": round(float(np.percentile(samples, 95)), 3),
    }


def _exact_top(data: UserData, query: Vectors, k: int, dtype: Any = np.float32) -> list[int]:
    matrix = data.vectors.astype(dtype).astype(np.float32)
    scores = matrix @ query
    scores[~data.current] = -np.inf
    return [int(i) for i in np.argsort(-scores, kind="stable")[:k]]


def _queries(
    world: World, data: UserData, rng: np.random.Generator
) -> Iterator[tuple[str, Vectors]]:
    while True:
        topic = int(rng.choice(data.topics))
        words = rng.choice(world.topic_words[topic], 3, replace=False)
        noise = rng.standard_normal(world.dim).astype(np.float32) / np.sqrt(world.dim)
        yield " ".join(words), _unit(world.centroids[topic] + noise)


def measure(
    store: BaseMemoryStore, world: World, users: int, per_user: int, queries: int
) -> dict[str, Any]:
    """Search latencies and recall for `queries` random users (5 searches of each kind each)."""
    rng = np.random.default_rng(users)
    picked = rng.choice(users, min(queries, users), replace=False)
    samples: dict[str, list[float]] = {"lexical": [], "vector_cold": [], "vector": [], "both": []}
    recalls, f16_recalls = [], []
    for user in picked:
        data = user_data(world, int(user), per_user)
        mine = MemoryFilter(user_id=f"user-{int(user):05d}")
        for round_, (text, vector) in zip(range(5), _queries(world, data, rng), strict=False):
            elapsed, hits = _timed(store.search_vector, TENANT, vector, MODEL, mine)
            samples["vector_cold" if round_ == 0 else "vector"].append(elapsed)
            exact = _exact_top(data, vector, 10)
            got = [int(hit.memory_id.split("-")[1]) for hit in hits]
            recalls.append(len(set(got) & set(exact)) / 10)
            f16_recalls.append(len(set(_exact_top(data, vector, 10, np.float16)) & set(exact)) / 10)
            elapsed, _ = _timed(store.search_lexical, TENANT, text, mine)
            samples["lexical"].append(elapsed)
            both = [
                SearchLexical(TENANT, text, mine, 10),
                SearchVector(TENANT, vector, MODEL, mine, 10),
            ]
            elapsed, _ = _timed(store.batch, both)
            samples["both"].append(elapsed)
    return {
        **{f"{kind}_ms": _percentiles(values) for kind, values in samples.items()},
        "recall@10": round(float(np.mean(recalls)), 4),
        "f16_recall@10": round(float(np.mean(f16_recalls)), 4),
    }


def question_texts(count: int) -> list[str]:
    """`count` distinct questions: LoCoMo's when the shared data is present, else synthetic."""
    path = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo_dev.json"
    questions: dict[str, None] = {}
    if path.exists():
        for conversation in json.loads(path.read_text(encoding="utf-8")):
            questions.update((str(qa["question"]), None) for qa in conversation["qa"])
    texts = list(questions)[:count]
    while len(texts) < count:
        texts.append(f"What did user {len(texts)} say about the trip to Lisbon last spring?")
    return texts


def measure_embedded(
    store: BaseMemoryStore,
    world: World,
    users: int,
    per_user: int,
    embed: Callable[[str], Vectors],
    questions: Iterator[str],
    count: int,
) -> dict[str, Any]:
    """Latency of embedding a question and searching one user with it (vector; hybrid)."""
    rng = np.random.default_rng(users + 1)
    picked = rng.choice(users, min(count, users), replace=False)
    samples: dict[str, list[float]] = {"vector_embedded": [], "both_embedded": []}
    for user in picked:
        mine = MemoryFilter(user_id=f"user-{int(user):05d}")
        store.search_vector(TENANT, world.centroids[0], MODEL, mine)  # its partition, read
        for kind in samples:
            text = next(questions)
            start = time.perf_counter()
            vector = embed(text)
            if kind == "vector_embedded":
                store.search_vector(TENANT, vector, MODEL, mine)
            else:
                store.batch(
                    [
                        SearchLexical(TENANT, text, mine, 10),
                        SearchVector(TENANT, vector, MODEL, mine, 10),
                    ]
                )
            samples[kind].append((time.perf_counter() - start) * 1000.0)
    return {f"{kind}_ms": _percentiles(values) for kind, values in samples.items()}


def _question_embedder() -> Callable[[str], Vectors]:
    from engram.providers import LocalEmbedder

    embedder = LocalEmbedder()  # one thread, no cache: every question is embedded
    embedder.load()

    def embed(text: str) -> Vectors:
        vector: Vectors = embedder.embed([text])[0]
        return vector

    return embed


def single_adds(store: BaseMemoryStore, world: World, count: int) -> float:
    """Adds/s of one memory (with its vector and history entry) per `put_memories` call."""
    data = user_data(world, 10**6, count)
    memories = user_memories(world, data)
    start = time.perf_counter()
    for memory, vector in zip(memories, data.vectors, strict=True):
        change = MemoryChange(memory.id, "add", new_text=memory.text, tenant=TENANT)
        store.put_memories(
            TENANT, [memory], vectors=[VectorRecord(MODEL, vector)], changes=[change]
        )
    return count / (time.perf_counter() - start)


class Opened(NamedTuple):
    """A memory store on one backend, and what its data takes on disk."""

    store: BaseMemoryStore
    size_bytes: Callable[[], int]
    after_load: Callable[[], None]
    """Untimed maintenance after a bulk load (PostgreSQL: ANALYZE, as its docs advise)."""


@contextmanager
def open_store(backend: str, workdir: Path) -> Iterator[Opened]:
    """An empty memory store: a SQLite file in `workdir`, or a PostgreSQL database (the
    server of `_servers.pgvector_server`, its defaults but for `shared_buffers`)."""
    if backend == "sqlite":
        path = workdir / "memories.db"
        with SqliteMemoryStore.from_path(path) as store:
            files = lambda: sum(p.stat().st_size for p in workdir.glob(path.name + "*"))  # noqa: E731
            yield Opened(store, files, lambda: None)
        return
    with (
        pgvector_server(PG_SETTINGS, data_dir=str(workdir)) as (url, origin),
        databases(url, ("memories",)) as urls,
        PostgresMemoryStore.from_conn_string(urls["memories"]) as store,
    ):
        print(f"PostgreSQL: {origin}", flush=True)
        conn = store.conn

        def size() -> int:
            return int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])

        yield Opened(store, size, lambda: conn.execute("ANALYZE"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--per-user", type=int, default=1000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=30, help="users searched per stage")
    parser.add_argument("--no-history", action="store_true", help="add without history entries")
    parser.add_argument("--dir", default=None, help="where the database goes (default: a temp dir)")
    parser.add_argument("--no-embed", action="store_true", help="skip the embedded-query figures")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    world = make_world(args.dim)
    workdir = Path(tempfile.mkdtemp(prefix="engram-bench-", dir=args.dir))
    results: dict[str, Any] = {}
    started = time.perf_counter()
    embed = None if args.no_embed else _question_embedder()
    questions = iter(question_texts(2 * args.queries * len(sizes)))
    try:
        with open_store(args.backend, workdir) as (store, size_bytes, after_load):
            loaded_users = 0
            for size in sizes:
                users = max(1, size // args.per_user)
                spent = load(
                    store, world, range(loaded_users, users), args.per_user, not args.no_history
                )
                added = (users - loaded_users) * args.per_user
                loaded_users = users
                after_load()
                stage = {"adds_per_s": round(added / spent) if spent else None}
                stage |= measure(store, world, users, args.per_user, args.queries)
                if embed is not None:
                    stage |= measure_embedded(
                        store, world, users, args.per_user, embed, questions, args.queries
                    )
                stage["db_mb"] = round(size_bytes() / 1e6, 1)
                results[str(size)] = stage
                print(f"{size:>9,} memories: {json.dumps(stage)}", flush=True)
            single = round(single_adds(store, world, 200))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    largest = results[str(sizes[-1])]
    summary = {
        "bench": "memory_store",
        "backend": args.backend,
        "sizes": sizes,
        "per_user": args.per_user,
        "dim": args.dim,
        "history": not args.no_history,
        "results": results,
        "single_adds_per_s": single,
        "batch_adds_per_s": min(stage["adds_per_s"] for stage in results.values()),
        "search_p95_ms": largest["vector_ms"]["p95"],
        "lexical_p95_ms": largest["lexical_ms"]["p95"],
        "both_p95_ms": largest["both_ms"]["p95"],
        "search_embedded_p95_ms": largest.get("vector_embedded_ms", {}).get("p95"),
        "both_embedded_p95_ms": largest.get("both_embedded_ms", {}).get("p95"),
        "recall@10": min(stage["recall@10"] for stage in results.values()),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
