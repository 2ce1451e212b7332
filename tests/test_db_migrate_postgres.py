"""`engram db migrate --db postgresql://...`: every PostgreSQL component, on a real server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from click.testing import CliRunner
from psycopg.conninfo import conninfo_to_dict

from engram import ConfigError, Engram
from engram.cli import main
from servers import unavailable

pytest_plugins = ["servers"]

COMPONENTS = ["checkpoints", "conversation", "events", "memories"]


def as_url(conninfo: str) -> str:
    """A `postgresql://` URL for a libpq conninfo string (what the CLI takes)."""
    parts = {key: str(value) for key, value in conninfo_to_dict(conninfo).items()}
    user, dbname = parts.pop("user", ""), parts.pop("dbname", "")
    host, port = parts.pop("host", ""), parts.pop("port", "")
    query = "&".join(f"{key}={quote(value, safe='')}" for key, value in parts.items())
    if host.startswith("/"):  # a Unix socket directory goes in the query
        query, host = "&".join(filter(None, [f"host={quote(host, safe='')}", query])), ""
    netloc = f"{user}@{host}" + (f":{port}" if port else "")
    return f"postgresql://{netloc}/{dbname}" + (f"?{query}" if query else "")


def test_migrates_every_postgres_component(
    postgres_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # where a mistaken SQLite file would appear
    runner, url = CliRunner(), as_url(postgres_database)
    first = runner.invoke(main, ["db", "migrate", "--db", url])
    assert first.exit_code == 0, first.output
    assert [line.split(":")[0] for line in first.output.splitlines()] == COMPONENTS
    again = runner.invoke(main, ["db", "migrate", "--db", url])
    assert again.exit_code == 0 and again.output == first.output  # idempotent
    assert list(tmp_path.iterdir()) == []
    with psycopg.connect(postgres_database) as conn:
        tables = {
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        }
    assert {"engram_sessions", "engram_events", "engram_memories"} <= tables
    assert "engram_memory_vectors" in tables


def test_unreachable_server_is_one_clean_error() -> None:
    url = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"
    result = CliRunner().invoke(main, ["db", "migrate", "--db", url])
    assert result.exit_code == 1
    assert "BackendUnavailable" in result.output and "Traceback" not in result.output


PLAIN_POSTGRES_ENV = "ENGRAM_TEST_PLAIN_POSTGRES_URL"
"""A PostgreSQL server without pgvector (default: the machine's own, 127.0.0.1:5432)."""


@pytest.fixture
def database_without_pgvector() -> Iterator[str]:
    """A new database on a server where the `vector` extension is not installed."""
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    admin_url = os.environ.get(PLAIN_POSTGRES_ENV, "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        unavailable(
            f"no PostgreSQL without pgvector at {admin_url} ({exc}); set {PLAIN_POSTGRES_ENV}"
        )
    with admin:
        available = admin.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"
        ).fetchone()
        if available:
            pytest.fail(
                f"{admin_url} has pgvector; set {PLAIN_POSTGRES_ENV} to a server without it"
            )
        name = f"test_{uuid.uuid4().hex}"
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield make_conninfo(admin_url, dbname=name)
        finally:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_without_pgvector_the_rest_is_migrated_and_the_command_fails(
    database_without_pgvector: str,
) -> None:
    result = CliRunner().invoke(main, ["db", "migrate", "--db", as_url(database_without_pgvector)])
    assert result.exit_code == 1
    assert [line.split(":")[0] for line in result.output.splitlines()[:3]] == [
        "checkpoints",
        "conversation",
        "events",
    ]
    assert "pgvector" in result.output and "Traceback" not in result.output
    with psycopg.connect(database_without_pgvector) as conn:
        components = {
            row[0] for row in conn.execute("SELECT component FROM engram_migrations").fetchall()
        }
    assert components == {"checkpoints", "conversation", "events"}


def test_without_pgvector_memories_kept_elsewhere_need_nothing_more(
    database_without_pgvector: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENGRAM_MEMORY_DB", str(tmp_path / "memories.db"))
    result = CliRunner().invoke(main, ["db", "migrate", "--db", as_url(database_without_pgvector)])
    assert result.exit_code == 0, result.output
    lines = [line.split(":")[0] for line in result.output.splitlines()]
    assert lines[:4] == [
        "checkpoints",
        "conversation",
        "events",
        "memory database (ENGRAM_MEMORY_DB)",
    ]
    assert "memories" in lines[4:]  # then the memory database, which holds them


def test_engram_on_a_postgresql_without_pgvector_serves_conversations(
    database_without_pgvector: str,
) -> None:
    with Engram(database_without_pgvector) as mem:
        session = mem.session("s1")
        session.add("user", "Hello!")
        assert [m.text for m in session.messages()] == ["Hello!"]
        with pytest.raises(ConfigError, match="pgvector"):  # memories say why they are missing
            mem.memories.add("Ana likes tea", user_id="ana", infer=False)
