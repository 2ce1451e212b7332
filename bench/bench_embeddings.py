"""LocalEmbedder (all-MiniLM-L6-v2, int8 ONNX): cold start, throughput, memory.

Measures, each in a fresh Python process so nothing is warm or shared:
  - cold start: import Engram's embedder, load the model (sha256 checks included), embed one
    sentence;
  - throughput on chat-like messages (LoCoMo turns from ../shared/data/locomo_dev.json when
    present, else synthetic messages): sentences per CPU-second and per wall-second, with
    1 thread and with every core, plus the same 1-thread run with the texts fed in arrival
    order, `batch_size` at a time (what length-sorting saves);
  - latency of one text at a time (what an add or a query waits for), p50/p95, with 1 thread
    and with every core;
  - all of it for both `compute` settings: "int8" (the default) and "float32";
  - peak RSS of each process;
  - a NumPy float32 matrix-multiply rate on one thread, to compare machines and load levels.

Usage: python bench/bench_embeddings.py [--texts 1000] [--data PATH] [--compute int8,float32]
The last line of output is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Literal

Compute = Literal["int8", "float32"]

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo_dev.json"
_SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def load_texts(path: Path, count: int) -> tuple[list[str], str]:
    """The first `count` LoCoMo turns (in conversation order), or synthetic chat messages."""
    if path.exists():
        texts: list[str] = []
        for conversation in json.loads(path.read_text(encoding="utf-8")):
            sessions = conversation["conversation"]
            numbered = [key for key in sessions if key.startswith("session_") and key[8:].isdigit()]
            for key in sorted(numbered, key=lambda k: int(k[8:])):
                texts.extend(turn["text"] for turn in sessions[key])
        return texts[:count], f"locomo ({path.name})"
    return [synthetic(i) for i in range(count)], "synthetic"


def synthetic(i: int) -> str:
    words = (
        "hey did you see the game last night I think we should book the trip to Lisbon "
        "before prices go up my sister starts her new job on Monday and she is nervous"
    ).split()
    length = 6 + (i * 7) % 30
    return " ".join(words[(i + k) % len(words)] for k in range(length)) + ("?" if i % 3 else ".")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def rss_mb() -> float:
    """Current resident set size (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def worker_cold(compute: Compute) -> dict[str, float]:
    start = time.perf_counter()
    from engram.providers._onnx_embedder import LocalEmbedder

    imported, imported_rss = time.perf_counter(), rss_mb()
    embedder = LocalEmbedder(compute=compute)
    embedder.load()
    loaded, loaded_rss = time.perf_counter(), rss_mb()
    embedder.embed(["hello there, how was your weekend?"])
    done = time.perf_counter()
    return {
        "start_s": done - start,
        "import_s": imported - start,
        "load_s": loaded - imported,
        "first_embed_s": done - loaded,
        "rss_after_import_mb": imported_rss,
        "rss_added_by_load_mb": loaded_rss - imported_rss,
        "peak_rss_mb": peak_rss_mb(),
    }


def worker_throughput(
    texts: list[str], threads: int | None, batch_size: int, arrival_order: bool, compute: Compute
) -> dict[str, float]:
    from engram.providers._onnx_embedder import LocalEmbedder

    embedder = LocalEmbedder(threads=threads, batch_size=batch_size, compute=compute)
    embedder.embed(texts[:batch_size])  # warm-up: first run allocates
    cpu, wall = time.process_time(), time.perf_counter()
    if arrival_order:
        for start in range(0, len(texts), batch_size):
            embedder.embed(texts[start : start + batch_size])
    else:
        embedder.embed(texts)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {
        "sentences_per_cpu_s": len(texts) / cpu,
        "sentences_per_wall_s": len(texts) / wall,
        "cpu_s": cpu,
        "wall_s": wall,
        "peak_rss_mb": peak_rss_mb(),
    }


def worker_latency(texts: list[str], threads: int | None, compute: Compute) -> dict[str, float]:
    """Each of the texts embedded alone, as an add or a query does; milliseconds."""
    from engram.providers._onnx_embedder import LocalEmbedder

    embedder = LocalEmbedder(threads=threads, compute=compute)
    embedder.embed(texts[:10])
    samples = []
    for text in texts:
        start = time.perf_counter()
        embedder.embed([text])
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {
        "p50_ms": samples[len(samples) // 2],
        "p95_ms": samples[min(len(samples) - 1, int(len(samples) * 0.95))],
    }


def worker_gflops() -> dict[str, float]:
    import numpy as np

    a = np.random.default_rng(0).random((1024, 384), dtype=np.float32)
    b = np.random.default_rng(1).random((384, 1536), dtype=np.float32)
    a @ b
    repeat, start = 50, time.process_time()
    for _ in range(repeat):
        a @ b
    return {
        "sgemm_gflops_1_thread": 2
        * 1024
        * 384
        * 1536
        * repeat
        / (time.process_time() - start)
        / 1e9
    }


def run_worker(args: list[str], single_thread_blas: bool = True) -> dict[str, float]:
    env = dict(os.environ)
    if single_thread_blas:
        env.update(_SINGLE_THREAD_ENV)
    command = [sys.executable, __file__, "--worker", *args]
    output = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True, env=env).stdout
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=1000, help="messages to embed")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="locomo_dev.json")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--compute", default="int8,float32", help="LocalEmbedder compute modes")
    parser.add_argument("--latency-texts", type=int, default=300, help="texts embedded alone")
    parser.add_argument("--worker", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        sys.stdout.write(json.dumps(dispatch(args)) + "\n")
        return
    results = measure(args)
    sys.stdout.write(json.dumps({k: round(v, 4) for k, v in results.items()}) + "\n")


def dispatch(args: argparse.Namespace) -> dict[str, float]:
    kind, *rest = args.worker
    if kind == "gflops":
        return worker_gflops()
    compute = rest[-1]
    if kind == "cold":
        return worker_cold(compute)
    texts, _ = load_texts(args.data, args.texts)
    threads = None if rest[0] == "all" else int(rest[0])
    if kind == "latency":
        return worker_latency(texts[: args.latency_texts], threads, compute)
    arrival = rest[1] == "arrival"
    return worker_throughput(texts, threads, args.batch_size, arrival, compute)


def measure(args: argparse.Namespace) -> dict[str, float]:
    texts, source = load_texts(args.data, args.texts)
    common = ["--texts", str(args.texts), "--data", str(args.data)]
    common += ["--batch-size", str(args.batch_size), "--latency-texts", str(args.latency_texts)]
    cores = os.cpu_count() or 1
    print(f"{len(texts)} messages from {source}; {cores} cores; load {os.getloadavg()}")
    results: dict[str, float] = {"texts": len(texts), "cores": cores}
    results.update(run_worker(["gflops"]))
    for compute in args.compute.split(","):
        print(f"compute={compute}")
        results.update(measure_compute(compute, common))
    print(f"numpy sgemm, 1 thread: {results['sgemm_gflops_1_thread']:.1f} GFLOP/s")
    return results


def measure_compute(compute: str, common: list[str]) -> dict[str, float]:
    """Every figure of one `compute` setting, keyed `<compute>_<figure>`."""
    results: dict[str, float] = {}
    cold = run_worker(["cold", compute])
    print(
        f"  cold start {cold['start_s']:.2f} s (import engram {cold['import_s']:.2f}, load "
        f"{cold['load_s']:.2f}, first embed {cold['first_embed_s']:.3f}); the model adds "
        f"{cold['rss_added_by_load_mb']:.0f} MB RSS to {cold['rss_after_import_mb']:.0f} MB"
    )
    results.update({f"cold_{key}": value for key, value in cold.items()})
    for label, worker in (
        ("1_thread", ["throughput", "1", "sorted"]),
        ("all_cores", ["throughput", "all", "sorted"]),
        ("1_thread_arrival_order", ["throughput", "1", "arrival"]),
    ):
        figures = run_worker([*worker, compute, *common])
        print(
            f"  {label:>24}: {figures['sentences_per_cpu_s']:6.1f} sentences/CPU-s, "
            f"{figures['sentences_per_wall_s']:6.1f}/wall-s, peak RSS "
            f"{figures['peak_rss_mb']:.0f} MB"
        )
        results.update({f"{label}_{key}": value for key, value in figures.items()})
    for label, threads in (("one_text_1_thread", "1"), ("one_text_all_cores", "all")):
        figures = run_worker(["latency", threads, compute, *common])
        print(f"  {label:>24}: p50 {figures['p50_ms']:.2f} ms, p95 {figures['p95_ms']:.2f} ms")
        results.update({f"{label}_{key}": value for key, value in figures.items()})
    return {f"{compute}_{key}": value for key, value in results.items()}


if __name__ == "__main__":
    main()
