"""`engram db migrate --db postgresql://...`: every PostgreSQL component, on a real server."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from click.testing import CliRunner
from psycopg.conninfo import conninfo_to_dict

from engram.cli import main

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
