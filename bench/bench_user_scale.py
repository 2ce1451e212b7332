"""One user's memory growing: adds/s and add latency per stage, then search latency.

Run: `python bench/bench_user_scale.py [--adds 2000] [--stage 500] [--queries 40] [--dir /tmp]`

What a mem0 user does who keeps thousands of memories per user: `Engram(file)` on a SQLite
file, default settings (the local MiniLM embedder, no LLM: the deterministic extractor), and
`--adds` chat messages of ONE user, one `memories.add(messages=[...])` per message, a new
session every 50 messages, a message every 30 minutes. The messages come from a few
templates about ten foods (likes, dislikes, dinners, cooking, a friend) and, every 100th, a
new employer, seeded: each add writes the turn as an episode and often revises a memory (a
preference superseded, a fact's provenance appended), so the user's partition grows by about
1.15 memories per add.

Figures per stage of `--stage` adds: adds/s and add latency p50/p95/max (embedding included:
the MiniLM forward of the message, ~6 ms of it, is the same at every size). The embedder is
loaded by one untimed add for another user first (its cold start is not an add's cost).

At the end: `memories.search` of the user (top 5, `record_access=False`) for `--queries`
questions cycling over 8 texts; each text is searched once untimed first, so the timed
searches find its query vector in the embedding cache (embedding excluded). p50/p95.

The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from engram import Engram, Message

USER = "u1"
STEP = timedelta(minutes=30)
"""The time between two messages, the last said before now (Engram refuses a future date)."""
FOODS = ["pizza", "sushi", "tacos", "ramen", "curry", "pasta", "salad", "burgers", "pho", "paella"]
TEMPLATES = [
    "I love {food}.",
    "I really like {food}.",
    "I had {food} for dinner tonight.",
    "Can you recommend a good {food} place?",
    "I don't like {food} anymore.",
    "My friend Tom loves {food}.",
    "I cooked {food} yesterday, it was great.",
    "I love {food}!",
]
QUESTIONS = [
    "what food does the user like?",
    "where does the user work?",
    "does the user like sushi?",
    "what did I eat for dinner?",
    "who is Tom?",
    "what did the user cook?",
    "does the user still like curry?",
    "which place for ramen?",
]


def messages(count: int, seed: int = 1) -> list[str]:
    """The user's `count` messages (the same for a seed)."""
    rng = random.Random(seed)
    texts = []
    for index in range(count):
        text = rng.choice(TEMPLATES).format(food=rng.choice(FOODS))
        texts.append(f"I work at Company{index // 100}." if index % 100 == 0 else text)
    return texts


def _percentiles(samples: list[float]) -> dict[str, float]:
    return {
        "p50": round(float(np.percentile(samples, 50)), 2),
        "p95": round(float(np.percentile(samples, 95)), 2),
        "max": round(max(samples), 1),
    }


def add_all(engram: Engram, texts: list[str], stage: int) -> dict[str, dict[str, Any]]:
    """Add `texts` one message per call; the figures of each stage of `stage` adds."""
    stages: dict[str, dict[str, Any]] = {}
    latencies: list[float] = []
    first = datetime.now(UTC) - STEP * len(texts)
    for index, text in enumerate(texts):
        said = first + STEP * index
        message = Message(role="user", content=text, created_at=said)
        start = time.perf_counter()
        engram.memories.add(messages=[message], user_id=USER, session_id=f"s{index // 50}")
        latencies.append((time.perf_counter() - start) * 1000.0)
        if (index + 1) % stage == 0 or index + 1 == len(texts):
            mine = latencies[-((index % stage) + 1) :]
            figures = {"adds_per_s": round(1000.0 * len(mine) / sum(mine), 1)}
            figures |= {f"add_{name}_ms": value for name, value in _percentiles(mine).items()}
            stages[str(index + 1)] = figures
            print(f"{index + 1:>6} adds: {json.dumps(figures)}", flush=True)
    return stages


def search_latencies(engram: Engram, count: int) -> list[float]:
    """Milliseconds of `count` searches of the user, each query already embedded."""
    for question in QUESTIONS:  # embeds each question (and warms the caches), untimed
        engram.memories.search(question, user_id=USER, limit=5, record_access=False)
    samples = []
    for index in range(count):
        question = QUESTIONS[index % len(QUESTIONS)]
        start = time.perf_counter()
        engram.memories.search(question, user_id=USER, limit=5, record_access=False)
        samples.append((time.perf_counter() - start) * 1000.0)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--adds", type=int, default=2000)
    parser.add_argument("--stage", type=int, default=500, help="adds per reported stage")
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--dir", default=None, help="where the database goes (default: a temp dir)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="engram-bench-", dir=args.dir))
    started = time.perf_counter()
    try:
        engram = Engram(workdir / "engram.db")
        engram.memories.add("The warm-up user likes tea.", user_id="warm-up")
        adding = time.perf_counter()
        stages = add_all(engram, messages(args.adds), args.stage)
        adds_per_s = args.adds / (time.perf_counter() - adding)
        memories = len(engram.memories.get_all(user_id=USER, limit=100_000))
        searches = _percentiles(search_latencies(engram, args.queries))
        print(f"search of {memories:,} memories: {json.dumps(searches)}", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    last = stages[str(args.adds)]
    summary = {
        "bench": "user_scale",
        "adds": args.adds,
        "memories": memories,
        "stages": stages,
        "adds_per_s": round(adds_per_s, 1),
        "last_stage_adds_per_s": last["adds_per_s"],
        "last_stage_add_p50_ms": last["add_p50_ms"],
        "last_stage_add_p95_ms": last["add_p95_ms"],
        "search_p50_ms": searches["p50"],
        "search_p95_ms": searches["p95"],
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
