"""Agent checkpoints: Engram against LangGraph's InMemorySaver and SqliteSaver.

Workload (per thread, like a tool-calling agent): 100 checkpoints whose state holds
  - `messages`: LangChain messages (~230 bytes each serialized), one appended every 5th
    checkpoint, so the list grows to 20 (~4.5 KB of state at the end);
  - `context`: a ~300-byte dict written at the first checkpoint and never changed;
  - `status`: a small dict that changes at every checkpoint;
  - `branch:to:agent` / `branch:to:tools`: LangGraph-style trigger channels (None values);
with LangGraph's checkpoint shape (v4 header, `versions_seen`, `updated_channels`, metadata
`source/step/parents`) and each saver's own `get_next_version`. 100 threads are written
round-robin (one checkpoint per thread per round), the way concurrent conversations are.

Measured, in one run, on disk (a temporary directory, `--disk-dir`) and on /dev/shm:
  - put throughput (each put its own committed transaction);
  - get-latest p50/p95, by a fresh saver (new connection: no warm caches), every thread twice;
  - list-history p50/p95: a thread's full history through `list()` (values included);
  (the compared savers take turns: puts in rounds of consecutive puts, see `_rounds.py`; each
  get or list of one is followed by the same call on the other, so the load of a shared
  machine weighs on all alike)
  - bytes on disk after the run (database + WAL, after a WAL checkpoint).
Savers: LangGraph `SqliteSaver` (its defaults: WAL, synchronous=FULL), `InMemorySaver`;
Engram's `EngramSaver` over `SqliteCheckpointer` (Engram's default durability: WAL,
synchronous=NORMAL), over `InMemoryCheckpointer` and over `RedisCheckpointer` (the Redis of
`_servers.py`, beside InMemorySaver: LangGraph's Redis saver needs modules plain Redis lacks;
its size is what its keys take in Redis); and Engram's native API
(`SqliteCheckpointer.put/get/history` with plain JSON values; history lists headers only).

Where the time goes (see `engram.stores.sqlite._checkpoint_write`): a put whose changed
channels are all small is one INSERT of a ~130-byte row (small values inline in its compressed
header), so it skips serializing the unchanged state SqliteSaver re-serializes every time; a
put where `messages` grew serializes the list (as SqliteSaver does) and also writes a delta
row and the new item, which costs more than SqliteSaver's single row.

Usage: python bench/bench_checkpoints.py [--threads 100] [--steps 100] [--disk-dir DIR]
The last line of output is one JSON object with every figure (and the pass/fail checks).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.base.id import uuid6
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver

from _rounds import per_second
from _servers import REDIS_URL, redis_keyspace
from engram.integrations.langgraph import EngramSaver
from engram.stores.memory_checkpoints import InMemoryCheckpointer
from engram.stores.sqlite import SqliteConnection
from engram.stores.sqlite.checkpoints import SqliteCheckpointer

WORDS = (
    "the flight to Lisbon leaves at 11:40 and the hotel near the river is booked for three "
    "nights, the budget is eighteen hundred euros and a window seat was requested"
).split()
NODES = ("agent", "tools")
Put = tuple[Any, Any, Any, Any]  # LangGraph's put(config, checkpoint, metadata, new_versions)


def text(seed: int, words: int) -> str:
    return " ".join(WORDS[(seed * 7 + k) % len(WORDS)] for k in range(words))


def message(thread: int, index: int) -> Any:
    content = f"{text(thread + index, 9)} (#{thread}.{index})"
    if index % 3 == 0:
        return HumanMessage(content=content, id=f"m-{thread}-{index}")
    if index % 3 == 1:
        call = {"name": "search", "args": {"q": text(index, 3)}, "id": f"c-{thread}-{index}"}
        return AIMessage(content=content, id=f"m-{thread}-{index}", tool_calls=[call])
    return ToolMessage(content=content, id=f"m-{thread}-{index}", tool_call_id=f"c{index}")


def context_value(thread: int) -> dict[str, Any]:
    return {"user": f"user-{thread}", "profile": text(thread, 40), "locale": "en-GB"}


def thread_values(thread: int, steps: int) -> Iterator[tuple[dict[str, Any], list[str]]]:
    """The full state at each step and the channels that changed."""
    values: dict[str, Any] = {"messages": []}
    for step in range(steps):
        node = NODES[step % 2]
        changed = ["status", f"branch:to:{node}"]
        values = {**values, "status": {"node": node, "iteration": step, "ok": True}}
        values[f"branch:to:{node}"] = None
        if step == 0:
            values["context"] = context_value(thread)
            changed.append("context")
        if step % 5 == 0:
            values["messages"] = [*values["messages"], message(thread, step // 5)]
            changed.append("messages")
        yield values, changed


def langgraph_puts(saver: BaseCheckpointSaver[Any], thread: int, steps: int) -> list[Put]:
    """The `put` arguments LangGraph would pass for one thread (parents filled in later)."""
    versions: dict[str, Any] = {}
    seen: dict[str, dict[str, Any]] = {"__input__": {}}
    puts: list[Put] = []
    for step, (values, changed) in enumerate(thread_values(thread, steps)):
        new = {ch: saver.get_next_version(versions.get(ch), None) for ch in changed}
        versions.update(new)
        node = NODES[step % 2]
        seen[node] = {f"branch:to:{node}": versions[f"branch:to:{node}"]}
        checkpoint = {
            "v": 4,
            "id": str(uuid6(clock_seq=step)),
            "ts": datetime.now(UTC).isoformat(),
            "channel_values": values,
            "channel_versions": dict(versions),
            "versions_seen": copy.deepcopy(seen),
            "updated_channels": sorted(changed),
        }
        metadata: dict[str, Any] = {
            "source": "input" if step == 0 else "loop",
            "step": step - 1,
            "parents": {},
        }
        config = {"configurable": {"thread_id": f"thread-{thread}", "checkpoint_ns": ""}}
        puts.append((config, checkpoint, metadata, new))
    return puts


def native_values(thread: int, steps: int) -> list[dict[str, Any]]:
    def plain(value: Any) -> Any:
        if isinstance(value, list):
            return [{"type": m.type, "content": m.content, "id": m.id} for m in value]
        return value

    return [{k: plain(v) for k, v in values.items()} for values, _ in thread_values(thread, steps)]


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(fn: Callable[..., object], *args: Any) -> float:
    start = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - start) * 1000


def file_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def fsync_ms(directory: Path, repeat: int = 30) -> float:
    path = directory / "fsync.probe"
    samples = []
    with open(path, "wb") as handle:
        for _ in range(repeat):
            handle.write(b"x" * 512)
            handle.flush()
            start = time.perf_counter()
            os.fsync(handle.fileno())
            samples.append((time.perf_counter() - start) * 1000)
    path.unlink()
    return statistics.median(samples)


# Savers


@contextmanager
def open_langgraph(kind: str, path: Path | None) -> Iterator[BaseCheckpointSaver[Any]]:
    if kind == "InMemorySaver":
        yield InMemorySaver()
    elif kind == "SqliteSaver":
        conn = sqlite3.connect(str(path), check_same_thread=False)
        try:
            yield SqliteSaver(conn)
        finally:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()
    elif kind == "EngramSaver[memory]":
        yield EngramSaver(InMemoryCheckpointer())
    else:
        conn_ = SqliteConnection(str(path))
        try:
            yield EngramSaver(SqliteCheckpointer(conn_))
        finally:
            conn_.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn_.close()


def run_puts(
    savers: dict[str, BaseCheckpointSaver[Any]], threads: int, steps: int, rounds: int | None = None
) -> dict[str, float]:
    """Put every checkpoint round-robin (step by step, every thread), the savers taking turns
    in rounds of consecutive puts (see `_rounds`); return each one's puts/s."""
    puts = {name: _putter(saver, threads, steps) for name, saver in savers.items()}
    return per_second(puts, threads * steps, rounds)


def _putter(saver: BaseCheckpointSaver[Any], threads: int, steps: int) -> Callable[[int], object]:
    """`put(i)`: the saver's put `i` (step `i // threads` of thread `i % threads`), each
    thread's checkpoint the child of its previous one, as LangGraph chains them."""
    plans = [langgraph_puts(saver, thread, steps) for thread in range(threads)]
    parents: list[dict[str, Any] | None] = [None] * threads

    def put(i: int) -> object:
        step, thread = divmod(i, threads)
        config, checkpoint, metadata, new = plans[thread][step]
        parent = parents[thread]
        if parent is not None:
            config = {"configurable": {**config["configurable"], **parent}}
        stored = saver.put(config, checkpoint, metadata, new)
        parents[thread] = {"checkpoint_id": stored["configurable"]["checkpoint_id"]}
        return stored

    return put


def read_figures(
    savers: dict[str, BaseCheckpointSaver[Any]], threads: int
) -> dict[str, dict[str, float]]:
    """get-latest (every thread, twice) and full-history list (20 threads), in lockstep."""
    configs = [
        {"configurable": {"thread_id": f"thread-{t}", "checkpoint_ns": ""}} for t in range(threads)
    ]
    gets: dict[str, list[float]] = {name: [] for name in savers}
    lists: dict[str, list[float]] = {name: [] for name in savers}
    for config in configs * 2:
        for name, saver in savers.items():
            gets[name].append(timed(saver.get_tuple, config))
    for config in configs[: min(threads, 20)]:
        for name, saver in savers.items():
            lists[name].append(timed(lambda c, s=saver: list(s.list(c)), config))
    return {
        name: {
            "get_p50_ms": percentile(gets[name], 0.5),
            "get_p95_ms": percentile(gets[name], 0.95),
            "list_p50_ms": percentile(lists[name], 0.5),
            "list_p95_ms": percentile(lists[name], 0.95),
        }
        for name in savers
    }


def bench_langgraph(
    kinds: tuple[str, ...], directory: Path | None, threads: int, steps: int
) -> dict[str, dict[str, float]]:
    """Puts, then reads by fresh savers (new connections, cold caches), then sizes."""
    paths = {kind: None if directory is None else directory / f"{kind}.db" for kind in kinds}
    with ExitStack() as stack:
        savers = {kind: stack.enter_context(open_langgraph(kind, paths[kind])) for kind in kinds}
        puts = run_puts(savers, threads, steps)
        if directory is None:
            reads = read_figures(savers, threads)
    if directory is not None:
        with ExitStack() as stack:
            fresh = {kind: stack.enter_context(open_langgraph(kind, paths[kind])) for kind in kinds}
            reads = read_figures(fresh, threads)
    figures = {kind: {"puts_per_s": puts[kind], **reads[kind]} for kind in kinds}
    for kind, path in paths.items():
        if path is not None:
            figures[kind]["bytes"] = file_bytes(path)
    return figures


def bench_redis(threads: int, steps: int) -> dict[str, dict[str, float]]:
    """EngramSaver over `RedisCheckpointer` beside InMemorySaver (LangGraph's own Redis saver
    needs the RediSearch and RedisJSON modules, which plain Redis 7 lacks): puts, reads, and
    the memory its keys take in Redis (`MEMORY USAGE`, every field counted)."""
    from engram.stores.redis import RedisCheckpointer

    with redis_keyspace() as (client, prefix):
        savers: dict[str, BaseCheckpointSaver[Any]] = {
            "InMemorySaver": InMemorySaver(),
            "EngramSaver[redis]": EngramSaver(RedisCheckpointer(client, prefix=prefix)),
        }
        puts = run_puts(savers, threads, steps)
        reads = read_figures(savers, threads)
        keys = client.scan_iter(match=f"{prefix}*", count=1000)
        used = sum(client.memory_usage(key, samples=0) or 0 for key in keys)
    figures = {kind: {"puts_per_s": puts[kind], **reads[kind]} for kind in savers}
    figures["EngramSaver[redis]"]["bytes"] = used
    return figures


def bench_native(directory: Path, threads: int, steps: int) -> dict[str, float]:
    path = directory / "engram-native.db"
    plans = [native_values(thread, steps) for thread in range(threads)]
    conn = SqliteConnection(str(path))
    checkpointer = SqliteCheckpointer(conn)
    start = time.perf_counter()
    for step in range(steps):
        for thread in range(threads):
            meta = {"step": step}
            checkpointer.put("default", f"thread-{thread}", plans[thread][step], metadata=meta)
    figures = {"puts_per_s": threads * steps / (time.perf_counter() - start)}
    conn.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    conn = SqliteConnection(str(path))
    fresh = SqliteCheckpointer(conn)
    names = [f"thread-{t}" for t in range(threads)]
    gets = [timed(fresh.get, "default", n) for _ in range(2) for n in names]
    lists = [timed(fresh.history, "default", n) for n in names[:20]]
    conn.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return figures | {
        "get_p50_ms": percentile(gets, 0.5),
        "get_p95_ms": percentile(gets, 0.95),
        "list_p50_ms": percentile(lists, 0.5),
        "list_p95_ms": percentile(lists, 0.95),
        "bytes": file_bytes(path),
    }


# Report


def show(label: str, figures: dict[str, float]) -> None:
    size = f"{figures['bytes'] / 1e6:8.2f} MB" if "bytes" in figures else "        -"
    print(
        f"  {label:<28} {figures['puts_per_s']:>9.0f} puts/s   get p50 {figures['get_p50_ms']:.3f}"
        f" p95 {figures['get_p95_ms']:.3f} ms   list p50 {figures['list_p50_ms']:.2f}"
        f" p95 {figures['list_p95_ms']:.2f} ms   {size}"
    )


def verdicts(results: dict[str, dict[str, float]]) -> dict[str, bool]:
    checks = {}
    for place in ("disk", "shm"):
        lg, en = results[f"SqliteSaver/{place}"], results[f"EngramSaver/{place}"]
        speed = 2.0 if place == "disk" else 1.0
        checks[f"{place}: >= 5x smaller"] = lg["bytes"] >= 5 * en["bytes"]
        checks[f"{place}: puts >= {speed:g}x SqliteSaver"] = (
            en["puts_per_s"] >= speed * lg["puts_per_s"]
        )
        checks[f"{place}: get p95 within 5x"] = en["get_p95_ms"] <= 5 * lg["get_p95_ms"]
        checks[f"{place}: list faster"] = en["list_p50_ms"] < lg["list_p50_ms"]
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=100)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--disk-dir", default=tempfile.gettempdir())
    args = parser.parse_args()
    places = {"disk": Path(args.disk_dir), "shm": Path("/dev/shm")}
    results: dict[str, dict[str, float]] = {}
    print(f"Checkpoints: {args.threads} threads x {args.steps} checkpoints, round-robin")
    for kind, figures in bench_langgraph(
        ("InMemorySaver", "EngramSaver[memory]"), None, args.threads, args.steps
    ).items():
        results[f"{kind}/memory"] = figures
        show(f"{kind}/memory", figures)
    print(f"redis: {REDIS_URL}")
    for kind, figures in bench_redis(args.threads, args.steps).items():
        results[f"{kind}/redis"] = figures
        show(f"{kind}/redis", figures)
    for place, root in places.items():
        with tempfile.TemporaryDirectory(dir=root, prefix="engram-bench-") as tmp:
            directory = Path(tmp)
            print(f"{place}: {root} (fsync {fsync_ms(directory):.2f} ms)")
            pair = bench_langgraph(
                ("SqliteSaver", "EngramSaver"), directory, args.threads, args.steps
            )
            for kind, figures in pair.items():
                results[f"{kind}/{place}"] = figures
                show(f"{kind}/{place}", figures)
            results[f"engram-native/{place}"] = bench_native(directory, args.threads, args.steps)
            show(f"engram-native/{place}", results[f"engram-native/{place}"])
    checks = verdicts(results)
    for name, ok in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    flat = {f"{k}.{m}": round(v, 4) for k, figs in results.items() for m, v in figs.items()}
    flat |= {f"check.{name}": ok for name, ok in checks.items()}
    sys.stdout.write(json.dumps(flat) + "\n")


if __name__ == "__main__":
    main()
