"""Conversation history on Redis and PostgreSQL: Engram against LangChain, in one run.

Measured through the path a user takes: Engram's facade (`Engram(store).session(...)`,
`session.add(...)` for an append, `session.messages(last=20)` for a read) over
`RedisConversationStore` and `PostgresConversationStore`; LangChain's
`RedisChatMessageHistory` (langchain-community: plain Redis lists; langchain-redis's class
needs the RediSearch module, which plain Redis 7 lacks) and `PostgresChatMessageHistory`
(langchain-postgres, psycopg 3), `add_message(...)` and `messages[-20:]`.

Per backend:
  - appends/s, one writer, single messages, each acknowledged by the server before the next
    (PostgreSQL commits each, durably: fsync on); Engram and LangChain alternate in rounds
    so machine noise hits both alike. Engram's store op (`batch([AppendMessages])`) is also
    shown, to separate the facade's work (validation, exact token counts) from storage;
  - read-last-20 p50/p95 in a session of `--size` messages (LangChain has no last-N read:
    it loads the whole session and slices).

The workload is bench_conversation.py's (its message generator, imported).
Target: Engram appends >= 2x LangChain's on each backend (PASS/FAIL lines).

Usage: python bench/bench_redis_postgres_history.py [--quick]
Servers: ENGRAM_BENCH_REDIS_URL (default redis://127.0.0.1:6379/0) and
ENGRAM_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres; the
benchmark creates a database of its own there and drops it after). Redis keys go under a
unique prefix, deleted after. The last line of output is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

from bench_conversation import percentile, text, timed
from engram import Engram, Message
from engram.stores.conversation import AppendMessages
from engram.types._conversation import utcnow

REDIS_URL = os.environ.get("ENGRAM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get(
    "ENGRAM_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TARGET = 2.0
ROUNDS = 3


def role(i: int) -> Literal["user", "assistant"]:
    return "user" if i % 2 == 0 else "assistant"


def langchain_message(i: int) -> Any:
    from langchain_core.messages import AIMessage, HumanMessage

    return (HumanMessage if i % 2 == 0 else AIMessage)(content=text(i))


def rate(appends: list[Callable[[int], object]], n: int) -> list[float]:
    """Appends/s of each writer, `n` appends each, interleaved in `ROUNDS` rounds."""
    elapsed = [0.0] * len(appends)
    per_round = n // ROUNDS
    for round_ in range(ROUNDS):
        for k, append in enumerate(appends):
            start = time.perf_counter()
            for i in range(round_ * per_round, (round_ + 1) * per_round):
                append(i)
            elapsed[k] += time.perf_counter() - start
    return [per_round * ROUNDS / seconds for seconds in elapsed]


def fill_engram(mem: Engram, session_id: str, size: int) -> Any:
    s = mem.session(session_id)
    for start in range(0, size, 1000):
        chunk = range(start, min(size, start + 1000))
        s.add_messages([Message(role=role(i), content=text(i)) for i in chunk])
    return s


def compare(
    backend: str,
    mem: Engram,
    engram_append: Callable[[int], object],
    history: Callable[[str], Any],
    n: int,
    size: int,
    repeat: int,
) -> dict[str, float]:
    """Every figure of one backend: Engram (facade and store op) against LangChain."""
    session = mem.session(f"appends-{uuid.uuid4().hex[:8]}")
    lc_appends = history("appends")
    figures: dict[str, float] = {}
    rates = rate(
        [
            lambda i: session.add(role(i), text(i)),
            engram_append,
            lambda i: lc_appends.add_message(langchain_message(i)),
        ],
        n,
    )
    figures["engram_appends_per_s"], figures["engram_store_op_appends_per_s"] = rates[:2]
    figures["langchain_appends_per_s"] = rates[2]
    figures["append_speedup_vs_langchain"] = rates[0] / rates[2]
    reads = fill_engram(mem, f"reads-{uuid.uuid4().hex[:8]}", size)
    lc_reads = history("reads")
    lc_reads.add_messages([langchain_message(i) for i in range(size)])
    engram_reads = timed(lambda: reads.messages(last=20), repeat)
    langchain_reads = timed(lambda: lc_reads.messages[-20:], max(20, repeat // 10))
    for name, samples in (("engram", engram_reads), ("langchain", langchain_reads)):
        figures[f"{name}_read_last20_p50_ms@{size}"] = percentile(samples, 0.5)
        figures[f"{name}_read_last20_p95_ms@{size}"] = percentile(samples, 0.95)
    print(
        f"{backend}: appends/s engram {rates[0]:,.0f} (facade), {rates[1]:,.0f} (store op); "
        f"langchain {rates[2]:,.0f} -> {figures['append_speedup_vs_langchain']:.2f}x"
    )
    for key in sorted(k for k in figures if "@" in k):
        print(f"  {key:<40} {figures[key]:8.3f}")
    return {f"{backend}.{key}": value for key, value in figures.items()}


def store_append(mem: Engram, session_id: str) -> Callable[[int], object]:
    """One message per `batch([AppendMessages])` (no token counting: the raw store op)."""
    mem.session(session_id)
    store, tenant = mem.store, mem.tenant

    def append(i: int) -> object:
        message = Message(role=role(i), content=text(i))
        return store.batch([AppendMessages(tenant, session_id, (message,), utcnow())])

    return append


@contextmanager
def redis_side() -> Iterator[tuple[Engram, Callable[[str], Any]]]:
    import redis

    from engram.stores.redis import RedisConversationStore

    with warnings.catch_warnings():  # langchain-community warns that it is being sunset
        warnings.simplefilter("ignore")
        from langchain_community.chat_message_histories import RedisChatMessageHistory

    prefix = f"engram-bench-{uuid.uuid4().hex}:"
    client = redis.Redis.from_url(REDIS_URL)

    def history(name: str) -> Any:
        return RedisChatMessageHistory(name, url=REDIS_URL, key_prefix=f"{prefix}lc:")

    try:
        with Engram(RedisConversationStore(client, prefix=prefix)) as mem:
            yield mem, history
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
        client.close()


@contextmanager
def postgres_side() -> Iterator[tuple[Engram, Callable[[str], Any]]]:
    import psycopg
    from langchain_postgres import PostgresChatMessageHistory
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    from engram.stores.postgres import PostgresConversationStore

    name = f"engram_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        url = make_conninfo(POSTGRES_URL, dbname=name)
        try:
            with (
                PostgresConversationStore.from_conn_string(url) as store,
                psycopg.connect(url) as lc_conn,
            ):
                PostgresChatMessageHistory.create_tables(lc_conn, "langchain_messages")

                def history(_: str) -> Any:
                    session_id = str(uuid.uuid4())  # langchain-postgres wants a UUID
                    return PostgresChatMessageHistory(
                        "langchain_messages", session_id, sync_connection=lc_conn
                    )

                with Engram(store) as mem:
                    yield mem, history
        finally:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def verdicts(results: dict[str, float]) -> list[str]:
    lines = []
    for backend in ("redis", "postgres"):
        speedup = results.get(f"{backend}.append_speedup_vs_langchain")
        if speedup is None:
            continue
        verdict = "PASS" if speedup >= TARGET else "FAIL"
        lines.append(
            f"{verdict} {backend}: Engram appends {speedup:.2f}x LangChain's (target >= {TARGET}x)"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    args = parser.parse_args()
    n = 300 if args.quick else 1500
    size = 1000 if args.quick else 10_000
    repeat = 50 if args.quick else 500
    results: dict[str, float] = {}
    for backend, side in (("redis", redis_side), ("postgres", postgres_side)):
        with side() as (mem, history):
            append = store_append(mem, f"store-op-{uuid.uuid4().hex[:8]}")
            results.update(compare(backend, mem, append, history, n, size, repeat))
    for line in verdicts(results):
        print(line)
    sys.stdout.write(json.dumps({k: round(v, 4) for k, v in results.items()}) + "\n")


if __name__ == "__main__":
    main()
