"""Reading CLI commands on a PostgreSQL database (`engram threads`, `engram events`) never
create or migrate its schema: a database without Engram's schema is refused with the command
that makes one, and a component it never had reads as empty without being created."""

from __future__ import annotations

import psycopg
import pytest
from click.testing import CliRunner

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
