"""Reading CLI commands on a PostgreSQL database (`engram threads`, `engram events`,
`engram sessions`, `engram memories`) never create or migrate its schema: a database without
Engram's schema is refused with the command that makes one, and a component it never had reads
as empty without being created."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from engram import Engram
from engram.cli import main
from engram.stores.postgres import PostgresEventLog
from engram.types._event import Event

pytest_plugins = ["servers"]

READING = [
    ["events", "list"],
    ["events", "tail", "run-1"],
    ["events", "replay", "run-1"],
    ["threads", "list"],
    ["threads", "show", "t1"],
    ["threads", "history", "t1"],
]

ENGRAM_READING = [
    ["sessions", "list"],
    ["sessions", "show", "s1"],
    ["sessions", "export", "s1"],
    ["memories", "list", "--user", "ana"],
    ["memories", "search", "--user", "ana", "food"],
    ["memories", "history", "m1"],
    ["memories", "users"],
    ["memories", "export", "--user", "ana"],
    ["memories", "entities", "--user", "ana"],
    ["memories", "profile", "--user", "ana"],
    ["memories", "forget", "--user", "ana", "--max-age", "1d", "--dry-run"],
]
"""The commands of `engram sessions` and `engram memories` that only read."""

PASSWORD = "s3cret-pw"


def tables(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        ).fetchall()
    return sorted(str(row[0]) for row in rows)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize("command", READING, ids=" ".join)
def test_a_reading_command_on_an_empty_database_creates_no_tables(
    postgres_database: str, command: list[str]
) -> None:
    code, output = run(*command, "--db", postgres_database)

    assert code == 1 and "MigrationRequired" in output
    assert "not an Engram database" in output and "engram db migrate --db" in output
    assert tables(postgres_database) == []


def test_a_component_the_database_never_had_reads_as_empty_and_is_not_created(
    postgres_database: str,
) -> None:
    with PostgresEventLog.from_conn_string(postgres_database) as log:
        log.append("default", "run-1", [Event.thought("plan")])
    before = tables(postgres_database)

    code, output = run("threads", "list", "--db", postgres_database)

    assert code == 0 and "no threads" in output
    assert "run-1" in run("events", "list", "--db", postgres_database)[1]
    assert tables(postgres_database) == before


def test_after_db_migrate_the_reading_commands_read(postgres_database: str) -> None:
    assert run("db", "migrate", "--db", postgres_database)[0] == 0

    assert run("events", "list", "--db", postgres_database) == (0, "no streams\n")
    assert run("threads", "list", "--db", postgres_database)[0] == 0


@pytest.mark.parametrize("command", ENGRAM_READING, ids=" ".join)
def test_a_sessions_or_memories_reading_command_on_an_empty_database_creates_no_tables(
    postgres_database: str, command: list[str]
) -> None:
    address = make_conninfo(postgres_database, password=PASSWORD)  # trust: not checked

    code, output = run(*command, "--db", address)

    assert code == 1 and "MigrationRequired" in output
    assert "not an Engram database" in output and "engram db migrate --db" in output
    assert PASSWORD not in output
    assert tables(postgres_database) == []


def test_a_database_that_never_had_sessions_reads_as_empty_and_one_without_memories_refuses(
    postgres_database: str,
) -> None:
    with PostgresEventLog.from_conn_string(postgres_database) as log:
        log.append("default", "run-1", [Event.thought("plan")])
    before = tables(postgres_database)

    assert run("sessions", "list", "--db", postgres_database) == (0, "no sessions\n")
    code, output = run("memories", "users", "--db", postgres_database)
    assert code == 1 and "holds no memories schema" in output
    assert "engram db migrate" in output
    assert tables(postgres_database) == before


@pytest.fixture
def reader(postgres_database: str) -> Iterator[str]:
    """The address of `postgres_database` for a role that may read and write rows but not
    create or alter tables (an application without DDL rights)."""
    name = f"reader_{uuid.uuid4().hex[:12]}"
    role = sql.Identifier(name)
    database = sql.Identifier(conninfo_to_dict(postgres_database)["dbname"])
    with psycopg.connect(postgres_database, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
        try:
            admin.execute(sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
            admin.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(database, role))
            yield make_conninfo(postgres_database, user=name)
        finally:
            admin.execute(sql.SQL("DROP OWNED BY {}").format(role))
            admin.execute(sql.SQL("DROP ROLE {}").format(role))


def test_after_db_migrate_sessions_and_memories_read_without_ddl_rights(
    postgres_database: str, reader: str
) -> None:
    assert run("db", "migrate", "--db", postgres_database)[0] == 0
    with Engram(postgres_database) as mem:
        mem.session("s1", user_id="ana").add("user", "Hi, I'm Ana.")
        mem.memories.add("Ana is vegetarian", user_id="ana", infer=False)
    with psycopg.connect(postgres_database, autocommit=True) as admin:
        admin.execute(
            sql.SQL(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}"
            ).format(sql.Identifier(conninfo_to_dict(reader)["user"]))
        )
    before = tables(postgres_database)

    sessions = run("sessions", "list", "--db", reader)
    users = run("memories", "users", "--db", reader)
    listed = run("memories", "list", "--user", "ana", "--db", reader)

    assert sessions[0] == 0 and "s1" in sessions[1]
    assert users == (0, "ana\n")
    assert listed[0] == 0 and "vegetarian" in listed[1]
    assert tables(postgres_database) == before


def test_an_empty_memory_database_is_refused_with_the_migrate_of_the_main_one(
    postgres_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    main_db = str(tmp_path / "engram.db")
    assert run("db", "migrate", "--db", main_db)[0] == 0
    monkeypatch.setenv("ENGRAM_MEMORY_DB", make_conninfo(postgres_database, password=PASSWORD))

    code, output = run("memories", "users", "--db", main_db)

    assert code == 1 and "MigrationRequired" in output
    assert f"engram db migrate --db {main_db}" in output and "(ENGRAM_MEMORY_DB)" in output
    assert PASSWORD not in output
    assert tables(postgres_database) == []


@pytest.mark.parametrize("command", [["memories", "users"], ["sessions", "list"]], ids=" ".join)
def test_a_password_given_as_a_query_parameter_is_never_shown(
    postgres_database: str, command: list[str]
) -> None:
    params = conninfo_to_dict(postgres_database)
    dbname = params.pop("dbname")
    query = urlencode({**params, "password": PASSWORD})  # libpq takes the password there too
    address = f"postgresql:///{dbname}?{query}"

    code, output = run(*command, "--db", address)

    assert code == 1 and "MigrationRequired" in output and "password=***" in output
    assert PASSWORD not in output
