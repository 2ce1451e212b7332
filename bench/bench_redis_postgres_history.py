"""Conversation history on Redis and PostgreSQL: Engram against LangChain, in one run.

Measured through the path a user takes: Engram's facade (`Engram(store).session(...)`,
`session.add(...)` for an append, `session.messages(last=20)` for a read) over
`RedisConversationStore` and `PostgresConversationStore`; LangChain's
`RedisChatMessageHistory` (langchain-community: plain Redis lists; langchain-redis's class
needs the RediSearch module, which plain Redis 7 lacks) and `PostgresChatMessageHistory`
(langchain-postgres, psycopg 3), `add_message(...)` and `messages[-20:]`.

Per backend:
  - appends/s, one writer, single messages, each acknowledged by the server before the next;
    Engram and LangChain take turns in rounds of consecutive appends (`_rounds.py`), so
    machine noise hits both alike. Engram's
    store op (`batch([AppendMessages])`) is also shown, to separate the facade's work
    (validation, exact token counts) from storage. On PostgreSQL each side runs at its
    documented default durability (both are printed): Engram's `durability="normal"`
    (asynchronous commit: `SET synchronous_commit = off` on the connection
    `from_conn_string` opens, `SET LOCAL` per transaction on a lent one; an append is one
    statement, one round trip. An append survives the client
    process dying; a server or OS crash may lose the last few hundred ms of appends, never
    corrupting), LangChain's the server's `synchronous_commit` (`on`: every append waits for
    a WAL flush). The store op is also run at Engram's `durability="full"` (the server's
    setting, as LangChain), for comparison;
  - read-last-20 and context() (token_budget and summary) p50/p95 in sessions of 100 /
    1,000 / 10,000 / 100,000 messages, as bench_conversation.py measures them on SQLite, with
    its PASS/FAIL checks; LangChain's read-last-20 at 10,000 messages (it has no last-N read:
    it loads the whole session and slices).

The workload is bench_conversation.py's (its message generator, imported).
Target: Engram appends >= 2x LangChain's on each backend, each at its default durability
(PASS/FAIL lines).

Usage: python bench/bench_redis_postgres_history.py [--quick]
Servers: ENGRAM_BENCH_REDIS_URL (default redis://127.0.0.1:6379/0) and
ENGRAM_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres; the
benchmark creates a database of its own there and drops it after). Redis keys go under a
unique prefix, deleted after. The last line of output is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal, NamedTuple

from _rounds import per_second
from _servers import POSTGRES_URL, REDIS_URL, databases, redis_keyspace
from bench_conversation import (
    QUICK_SIZES,
    SIZES,
    conversation_checks,
    percentile,
    reads_and_context,
    text,
    timed,
)
from engram import Engram, Message
from engram.stores.conversation import AppendMessages
from engram.types._conversation import utcnow

TARGET = 2.0
LANGCHAIN_READ_SIZE = 10_000
"""LangChain's read-last-20 loads the whole session: measured at this length only."""


message_text = functools.cache(text)
"""Message `i`'s text (`bench_conversation.text`), made once."""


def role(i: int) -> Literal["user", "assistant"]:
    return "user" if i % 2 == 0 else "assistant"


def langchain_message(i: int) -> Any:
    from langchain_core.messages import AIMessage, HumanMessage

    return (HumanMessage if i % 2 == 0 else AIMessage)(content=message_text(i))


def compare(
    backend: str,
    side: Side,
    engram_append: Callable[[int], object],
    n: int,
    sizes: list[int],
    repeat: int,
) -> dict[str, float]:
    """Every figure of one backend: Engram (facade and store op) against LangChain."""
    mem, history = side.mem, side.history
    session = mem.session(f"appends-{uuid.uuid4().hex[:8]}")
    lc_appends = history("appends")
    writers: dict[str, Callable[[int], object]] = {
        "engram": lambda i: session.add(role(i), message_text(i)),
        "engram_store_op": engram_append,
        "langchain": lambda i: lc_appends.add_message(langchain_message(i)),
    }
    for i in range(n):  # the texts are made beforehand: the time is the append's
        message_text(i)
    rates = per_second(writers | side.extras, n)
    figures = {f"{name}_appends_per_s": rates[name] for name in writers}
    figures["append_speedup_vs_langchain"] = rates["engram"] / rates["langchain"]
    extras = {name: rates[name] for name in side.extras}
    figures |= {f"{name}_per_s": value for name, value in extras.items()}
    reads = reads_and_context(mem, sizes, repeat)
    figures |= {f"engram_{key}": value for key, value in reads.items()}
    lc_reads = history("reads")
    lc_reads.add_messages([langchain_message(i) for i in range(LANGCHAIN_READ_SIZE)])
    langchain_reads = timed(lambda: lc_reads.messages[-20:], 20)
    figures[f"langchain_read_last20_p50_ms@{LANGCHAIN_READ_SIZE}"] = percentile(
        langchain_reads, 0.5
    )
    figures[f"langchain_read_last20_p95_ms@{LANGCHAIN_READ_SIZE}"] = percentile(
        langchain_reads, 0.95
    )
    print(
        f"{backend}: appends/s engram {rates['engram']:,.0f} (facade),"
        f" {rates['engram_store_op']:,.0f} (store op); langchain {rates['langchain']:,.0f}"
        f" -> {figures['append_speedup_vs_langchain']:.2f}x"
    )
    for who, setting in side.durability.items():
        print(f"  {who} durability: {setting}")
    for name, value in extras.items():
        print(f"  {name}: {value:,.0f}/s ({1000 / value:.3f} ms each)")
    for key in sorted(k for k in figures if "@" in k):
        print(f"  {key:<40} {figures[key]:8.3f}")
    return {f"{backend}.{key}": value for key, value in figures.items()}


class Side(NamedTuple):
    """One backend's contestants."""

    mem: Engram
    history: Callable[[str], Any]
    """A LangChain history for a session name."""
    durability: dict[str, str]
    """How each side commits, in words (PostgreSQL)."""
    extras: dict[str, Callable[[int], object]] = {}
    """More writers taking turns with them, by figure name (PostgreSQL: Engram's store op at
    `durability="full"`, and the server's commit floors)."""


def store_append(mem: Engram, session_id: str) -> Callable[[int], object]:
    """One message per `batch([AppendMessages])` (no token counting: the raw store op)."""
    mem.session(session_id)
    return raw_append(mem.store, mem.tenant, session_id)


def raw_append(store: Any, tenant: str, session_id: str) -> Callable[[int], object]:
    def append(i: int) -> object:
        message = Message(role=role(i), content=message_text(i))
        return store.batch([AppendMessages(tenant, session_id, (message,), utcnow())])

    return append


@contextmanager
def redis_side() -> Iterator[Side]:

    from engram.stores.redis import RedisConversationStore

    with warnings.catch_warnings():  # langchain-community warns that it is being sunset
        warnings.simplefilter("ignore")
        from langchain_community.chat_message_histories import RedisChatMessageHistory

    with redis_keyspace() as (client, prefix):

        def history(name: str) -> Any:
            return RedisChatMessageHistory(name, url=REDIS_URL, key_prefix=f"{prefix}lc:")

        with Engram(RedisConversationStore(client, prefix=prefix)) as mem:
            yield Side(mem, history, {})


@contextmanager
def postgres_side() -> Iterator[Side]:
    import psycopg
    from langchain_postgres import PostgresChatMessageHistory

    from engram.stores.postgres import PostgresConversationStore

    with (
        databases(POSTGRES_URL, ("history",)) as urls,
        PostgresConversationStore.from_conn_string(urls["history"]) as store,  # its default
        PostgresConversationStore.from_conn_string(urls["history"], durability="full") as full,
        psycopg.connect(urls["history"]) as lc_conn,
    ):
        PostgresChatMessageHistory.create_tables(lc_conn, "langchain_messages")
        server = lc_conn.execute("SHOW synchronous_commit").fetchone()[0]
        lc_conn.commit()
        durability = {
            "engram": "durability='normal' (Engram's default: asynchronous commit,"
            " synchronous_commit = off on its own connection)",
            "langchain": f"its default (the server's synchronous_commit={server})",
        }

        def history(_: str) -> Any:
            session_id = str(uuid.uuid4())  # langchain-postgres wants a UUID
            return PostgresChatMessageHistory(
                "langchain_messages", session_id, sync_connection=lc_conn
            )

        with Engram(store) as mem, commit_floors(urls["history"]) as floors:
            full_id = f"store-op-full-{uuid.uuid4().hex[:8]}"
            mem.session(full_id)
            extras = {"engram_full_store_op_appends": raw_append(full, mem.tenant, full_id)}
            yield Side(mem, history, durability, extras | floors)


@contextmanager
def commit_floors(url: str) -> Iterator[dict[str, Callable[[int], object]]]:
    """One-row INSERTs, each committed on its own: synchronously (the server's setting) and
    asynchronously (`synchronous_commit = off`): the least an append can cost either way."""
    import psycopg

    with (
        psycopg.connect(url, autocommit=True) as sync,
        psycopg.connect(url, autocommit=True) as off,
    ):
        sync.execute("CREATE TABLE bench_floor (n int)")
        off.execute("SET synchronous_commit = off")
        yield {
            "commit_floor_sync_commits": lambda i: sync.execute(
                "INSERT INTO bench_floor VALUES (%s)", (i,)
            ),
            "commit_floor_async_commits": lambda i: off.execute(
                "INSERT INTO bench_floor VALUES (%s)", (i,)
            ),
        }


def verdicts(results: dict[str, Any]) -> list[str]:
    lines = []
    for backend in ("redis", "postgres"):
        speedup = results.get(f"{backend}.append_speedup_vs_langchain")
        if speedup is None:
            continue
        verdict = "PASS" if speedup >= TARGET else "FAIL"
        settings = ""
        if f"{backend}.durability.engram" in results:
            settings = (
                f" (Engram {results[f'{backend}.durability.engram']}; LangChain"
                f" {results[f'{backend}.durability.langchain']})"
            )
        lines.append(
            f"{verdict} {backend}: Engram appends {speedup:.2f}x LangChain's (target >= {TARGET}x)"
            + settings
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    args = parser.parse_args()
    n = 300 if args.quick else 1500
    sizes = QUICK_SIZES if args.quick else SIZES
    repeat = 50 if args.quick else 200
    results: dict[str, Any] = {}
    checks: dict[str, bool] = {}
    for backend, open_side in (("redis", redis_side), ("postgres", postgres_side)):
        with open_side() as side:
            append = store_append(side.mem, f"store-op-{uuid.uuid4().hex[:8]}")
            figures = compare(backend, side, append, n, sizes, repeat)
            results |= {key: round(value, 4) for key, value in figures.items()}
            results |= {f"{backend}.durability.{k}": v for k, v in side.durability.items()}
            prefix = f"{backend}.engram_"
            reads = {k[len(prefix) :]: v for k, v in figures.items() if k.startswith(prefix)}
            for check, ok in conversation_checks(reads, sizes).items():
                checks[f"{backend}: {check}"] = ok
    for line in verdicts(results):
        print(line)
    for check, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'} {check}")
        results[f"check.{check}"] = ok
    sys.stdout.write(json.dumps(results) + "\n")


if __name__ == "__main__":
    main()
