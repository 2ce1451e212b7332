"""Conversation memory on SQLite: appends, read-last-20 and context(), against LangChain.

Measures, in one run, on disk and on /dev/shm:
  - fsync cost of the filesystem (what durability costs here);
  - appends/s, one writer, each append its own committed transaction: Engram at its default
    durability (WAL, synchronous=NORMAL) and at `full`, and LangChain's SQLChatMessageHistory,
    taking turns in rounds of consecutive appends (see `_rounds.py`), then one append of each
    in turn (`alternating_*`: each append right after the other system's);
  - read-last-20 p50/p95 in a session of 100,000 messages (LangChain has no last-N read: it
    loads the whole session, so it is measured at a smaller size, stated in the output);
  - context() p50/p95 at 100 / 1,000 / 10,000 / 100,000 messages (token_budget and summary).

Checks (PASS/FAIL, on disk, where durability costs what it costs a user): appends at least
10x LangChain's; read-last-20 p95 under 2 ms at 100,000 messages; context() p50 at 100,000
messages within 2x of its p50 at 1,000 (both strategies). On /dev/shm, where no commit waits
for a disk, the figures are printed for comparison only.

Usage: python bench/bench_conversation.py [--quick]
The last line of output is one JSON object with every figure and the checks.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from pathlib import Path

from _rounds import ONE_AT_A_TIME, per_second
from engram import Conversation, Engram, EngramSettings, Message

WORDS = (
    "we could fly to Lisbon on the third and stay near the river, the budget is about "
    "eighteen hundred euros and Tomás wants a window seat on the 11:40 flight"
).split()


SIZES = [100, 1000, 10_000, 100_000]
"""Session lengths, in messages, of the read and context() figures (`--quick`: QUICK_SIZES)."""
QUICK_SIZES = [100, 1000]


def text(i: int, words: int = 30) -> str:
    return " ".join(WORDS[(i + k) % len(WORDS)] for k in range(words)) + f" ({i})"


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def fsync_ms(directory: Path, repeat: int = 50) -> float:
    path = directory / "fsync.probe"
    with open(path, "wb") as handle:
        samples = []
        for _ in range(repeat):
            handle.write(b"x" * 512)
            handle.flush()
            start = time.perf_counter()
            os.fsync(handle.fileno())
            samples.append((time.perf_counter() - start) * 1000)
    path.unlink()
    return statistics.median(samples)


def langchain_history(directory: Path, name: str):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from langchain_community.chat_message_histories import SQLChatMessageHistory

        return SQLChatMessageHistory(session_id="bench", connection=f"sqlite:///{directory / name}")


def appends(directory: Path, n: int) -> dict[str, float]:
    """Single-message appends/s of Engram (durability normal and full) and LangChain, taking
    turns in rounds (see `_rounds`); then one append of each in turn (`alternating_*`). The
    texts are made beforehand: the time is the append's."""
    from langchain_core.messages import AIMessage, HumanMessage

    texts = [text(i) for i in range(2 * n)]
    roles = ["user" if i % 2 == 0 else "assistant" for i in range(2 * n)]
    history = langchain_history(directory, "langchain-appends.db")
    with ExitStack() as stack:
        ops: dict[str, Callable[[int], object]] = {}
        for name, durability in (("engram", "normal"), ("engram_full", "full")):
            settings = EngramSettings(durability=durability)  # type: ignore[arg-type]
            mem = stack.enter_context(Engram(directory / f"{name}.db", settings=settings))
            ops[name] = partial(_engram_append, mem.session("bench"), roles, texts)
        kinds = {"user": HumanMessage, "assistant": AIMessage}
        ops["langchain"] = lambda i: history.add_message(kinds[roles[i]](content=texts[i]))
        rounds = per_second(ops, n)
        shifted = {name: partial(_shifted, op, n) for name, op in ops.items()}
        alternating = per_second(shifted, n, ONE_AT_A_TIME)
    figures = {f"{name}_appends_per_s": rate for name, rate in rounds.items()}
    figures |= {f"alternating_{name}_appends_per_s": rate for name, rate in alternating.items()}
    return figures


def _engram_append(session: Conversation, roles: list[str], texts: list[str], i: int) -> object:
    return session.add(roles[i], texts[i])


def _shifted(op: Callable[[int], object], shift: int, i: int) -> object:
    return op(shift + i)


def fill_engram(mem: Engram, session_id: str, size: int) -> None:
    s = mem.session(session_id)
    s.add("system", "You are a helpful travel assistant. Keep answers short.")
    for start in range(0, size - 1, 5000):
        chunk = range(start, min(size - 1, start + 5000))
        s.add_messages(
            [Message(role="user" if i % 2 == 0 else "assistant", content=text(i)) for i in chunk]
        )


def reads_and_context(mem: Engram, sizes: list[int], repeat: int) -> dict[str, float]:
    """Read-last-20 and context() p50/p95 in sessions of each size, on `mem`'s backend."""
    figures: dict[str, float] = {}
    for size in sizes:
        session_id = f"reads-{size}-{uuid.uuid4().hex[:8]}"
        fill_engram(mem, session_id, size)
        s = mem.session(session_id)
        reads = timed(lambda s=s: s.messages(last=20), 5 * repeat)
        figures[f"read_last20_p50_ms@{size}"] = percentile(reads, 0.5)
        figures[f"read_last20_p95_ms@{size}"] = percentile(reads, 0.95)
        for strategy in ("token_budget", "summary"):
            build = lambda s=s, strategy=strategy: s.context(  # noqa: E731
                "gpt-4o", budget=4000, reserve=500, strategy=strategy
            )
            build()  # the first summary call folds the whole backlog once
            samples = timed(build, repeat)
            figures[f"context_{strategy}_p50_ms@{size}"] = percentile(samples, 0.5)
            figures[f"context_{strategy}_p95_ms@{size}"] = percentile(samples, 0.95)
    return figures


def conversation_checks(figures: dict[str, float], sizes: list[int]) -> dict[str, bool]:
    """The read and context() targets: read-last-20 p95 under 2 ms in the longest session;
    context() p50 there within 2x of its p50 at the second size, 1,000 messages (the first
    with `--quick`), both strategies."""
    big, small = sizes[-1], sizes[1] if len(sizes) > 2 else sizes[0]
    verdicts = {
        f"read-last-20 p95 < 2 ms at {big:,} messages": figures[f"read_last20_p95_ms@{big}"] < 2
    }
    for strategy in ("token_budget", "summary"):
        ratio = (
            figures[f"context_{strategy}_p50_ms@{big}"]
            / figures[f"context_{strategy}_p50_ms@{small}"]
        )
        verdicts[f"context({strategy}) p50 at {big:,} within 2x of {small:,}"] = ratio <= 2
    return verdicts


def langchain_reads(directory: Path, size: int, repeat: int) -> dict[str, float]:
    from langchain_core.messages import HumanMessage

    history = langchain_history(directory, "langchain-reads.db")
    history.add_messages([HumanMessage(content=text(i)) for i in range(size)])
    samples = timed(lambda: history.messages[-20:], repeat)
    return {
        f"langchain_read_last20_p50_ms@{size}": percentile(samples, 0.5),
        f"langchain_read_last20_p95_ms@{size}": percentile(samples, 0.95),
    }


def run(directory: Path, label: str, quick: bool) -> dict[str, float]:
    n_appends = 200 if quick else 1000
    sizes = QUICK_SIZES if quick else SIZES
    repeat = 50 if quick else 200
    print(f"\n== {label}: {directory}")
    figures: dict[str, float] = {"fsync_ms": fsync_ms(directory)}
    print(f"fsync: {figures['fsync_ms']:.3f} ms")
    figures.update(appends(directory, n_appends))
    figures["append_speedup_vs_langchain"] = (
        figures["engram_appends_per_s"] / figures["langchain_appends_per_s"]
    )
    figures["alternating_append_speedup_vs_langchain"] = (
        figures["alternating_engram_appends_per_s"] / figures["alternating_langchain_appends_per_s"]
    )
    for prefix, how in (("", "in rounds"), ("alternating_", "one of each in turn")):
        print(
            f"appends/s {how}: engram {figures[prefix + 'engram_appends_per_s']:,.0f}"
            f" (durability=normal), {figures[prefix + 'engram_full_appends_per_s']:,.0f}"
            f" (durability=full); langchain {figures[prefix + 'langchain_appends_per_s']:,.0f}"
            f" -> {figures[prefix + 'append_speedup_vs_langchain']:.1f}x"
        )
    with Engram(directory / "reads.db") as mem:
        figures.update(reads_and_context(mem, sizes, repeat))
    figures.update(langchain_reads(directory, 10_000 if not quick else 1000, 20))
    for key in sorted(k for k in figures if "@" in k):
        print(f"{key:<40} {figures[key]:8.3f}")
    return {f"{label}.{key}": value for key, value in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    args = parser.parse_args()
    targets = [("disk", Path(tempfile.mkdtemp(prefix="engram-bench-", dir=Path.cwd())))]
    if Path("/dev/shm").is_dir():
        targets.append(("shm", Path(tempfile.mkdtemp(prefix="engram-bench-", dir="/dev/shm"))))
    results: dict[str, float | bool] = {}
    for label, directory in targets:
        try:
            results.update(run(directory, label, args.quick))
        finally:
            for path in directory.iterdir():
                path.unlink()
            directory.rmdir()
    for check, passed in checks(results, args.quick).items():
        print(f"{'PASS' if passed else 'FAIL'} {check}")
        results[f"check.{check}"] = passed
    rounded = {k: v if isinstance(v, bool) else round(v, 4) for k, v in results.items()}
    sys.stdout.write(json.dumps(rounded) + "\n")


def checks(results: dict[str, float | bool], quick: bool) -> dict[str, bool]:
    """The issue's targets, on disk."""
    disk = {k[len("disk.") :]: float(v) for k, v in results.items() if k.startswith("disk.")}
    verdicts = {"disk: appends >= 10x LangChain's": disk["append_speedup_vs_langchain"] >= 10}
    sizes = QUICK_SIZES if quick else SIZES
    verdicts |= {f"disk: {name}": ok for name, ok in conversation_checks(disk, sizes).items()}
    return verdicts


if __name__ == "__main__":
    main()
