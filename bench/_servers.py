"""The PostgreSQL and Redis servers the benchmarks run against, and cleaning up after them.

`ENGRAM_BENCH_POSTGRES_URL` (default: this machine's PostgreSQL, 127.0.0.1:5432, user
postgres) and `ENGRAM_BENCH_REDIS_URL` (default: redis://127.0.0.1:6379/0). A benchmark
works in databases it creates there and drops after, and under Redis key prefixes it deletes.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["POSTGRES_URL", "POSTGRES_URL_ENV", "REDIS_URL", "databases", "redis_prefix"]

POSTGRES_URL_ENV = "ENGRAM_BENCH_POSTGRES_URL"
POSTGRES_URL = os.environ.get(POSTGRES_URL_ENV, "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("ENGRAM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


@contextmanager
def databases(url: str, names: tuple[str, ...]) -> Iterator[dict[str, str]]:
    """A new database per name on the server of `url` (dropped after): their URLs."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    created = {name: f"bench_{name.lower()}_{uuid.uuid4().hex[:8]}" for name in names}
    with psycopg.connect(url, autocommit=True) as admin:
        for database in created.values():
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        try:
            yield {name: make_conninfo(url, dbname=db) for name, db in created.items()}
        finally:
            for database in created.values():
                drop = sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database))
                admin.execute(drop)


@contextmanager
def redis_prefix(client: Any) -> Iterator[str]:
    """A key prefix of its own on `client`'s Redis; every key under it is deleted after."""
    prefix = f"engram-bench-{uuid.uuid4().hex}:"
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
