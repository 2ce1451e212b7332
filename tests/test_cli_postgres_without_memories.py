"""Reading CLI commands on a PostgreSQL database without the memories schema (no pgvector on
the server, or its tables never created) refuse the memory commands with the command that
creates it, as for a SQLite file without it, instead of reading it as empty; the session
commands still read its conversations, and nothing is created."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from engram import Engram
from engram.cli import main
from servers import unavailable

pytest_plugins = ["servers"]

PLAIN_POSTGRES = "postgresql://postgres@127.0.0.1:5432"
"""A PostgreSQL server without pgvector (the system's PostgreSQL 15, trust auth)."""

MEMORY_READS = [
    ["memories", "list", "--user", "ana"],
    ["memories", "search", "tea", "--user", "ana"],
    ["memories", "history", "m1"],
    ["memories", "users"],
    ["memories", "export", "--user", "ana"],
    ["memories", "entities", "--user", "ana"],
    ["memories", "profile", "--user", "ana"],
    ["memories", "forget", "--user", "ana", "--max-age", "1d", "--dry-run"],
]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def components(url: str) -> set[str]:
    import psycopg

    with psycopg.connect(url) as conn:
        return {row[0] for row in conn.execute("SELECT component FROM engram_migrations")}


@pytest.fixture(scope="module")
def _plain_admin() -> Iterator[Any]:
    try:
        import psycopg

        conn = psycopg.connect(f"{PLAIN_POSTGRES}/postgres", autocommit=True, connect_timeout=5)
    except Exception as exc:  # no such server here
        unavailable(f"no PostgreSQL at {PLAIN_POSTGRES}: {exc}")
    with conn:
        if conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone():
            unavailable(f"the PostgreSQL at {PLAIN_POSTGRES} has pgvector")
        yield conn


@pytest.fixture
def without_pgvector(_plain_admin: Any) -> Iterator[str]:
    """A new database on the server without pgvector, where `Engram()` stored a session
    (its memories unavailable)."""
    name = f"erase_{uuid.uuid4().hex}"
    _plain_admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{PLAIN_POSTGRES}/{name}"
    try:
        with Engram(url) as mem:
            mem.session("s1", user_id="ana").add("user", "Hello")
        yield url
    finally:
        _plain_admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.mark.parametrize("command", MEMORY_READS, ids=" ".join)
def test_a_memory_command_refuses_a_postgres_without_pgvector(
    without_pgvector: str, command: list[str]
) -> None:
    code, output = run(*command, "--db", without_pgvector)
    assert code == 1, output
    assert "holds no memories schema" in output
    assert f"engram db migrate --db {without_pgvector}`" in output
    # ... which would fail alike: what is missing is said too.
    assert "this server has no pgvector" in output and "ENGRAM_MEMORY_DB" in output
    assert "memories" not in components(without_pgvector)


def test_the_session_commands_still_read_its_conversations(without_pgvector: str) -> None:
    code, output = run("sessions", "list", "--db", without_pgvector)
    assert code == 0 and "s1" in output, output
    assert run("sessions", "show", "s1", "--db", without_pgvector)[0] == 0


def test_a_memory_database_without_pgvector_named_by_the_environment_is_refused(
    without_pgvector: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    main_db = tmp_path / "main.db"
    with Engram(main_db) as mem:
        mem.session("s1").add("user", "Hello")
    monkeypatch.setenv("ENGRAM_MEMORY_DB", without_pgvector)
    code, output = run("memories", "list", "--user", "ana", "--db", str(main_db))
    assert code == 1 and "holds no memories schema" in output, output
    assert output.rstrip().endswith("(ENGRAM_MEMORY_DB)")


def test_a_postgres_whose_memory_tables_were_never_created_is_refused_until_migrated(
    postgres_database: str,
) -> None:
    """On a server with pgvector: the conversations' schema only, as an Engram that was
    never asked for memories leaves it."""
    from engram.stores.postgres._internal import connect
    from engram.stores.postgres.conversation import PostgresConversationStore

    with connect(postgres_database, "normal") as conn:
        PostgresConversationStore(conn, migrate=True, durability="normal")
    code, output = run("memories", "list", "--user", "ana", "--db", postgres_database)
    assert code == 1 and "holds no memories schema" in output, output
    assert "memories" not in components(postgres_database)
    assert run("db", "migrate", "--db", postgres_database)[0] == 0
    assert run("memories", "list", "--user", "ana", "--db", postgres_database) == (
        0,
        "no memories\n",
    )
