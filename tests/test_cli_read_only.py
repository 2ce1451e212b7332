"""Reading CLI commands never write to the database file: an older schema is refused with the
command that upgrades it, a file that is no Engram database is refused, and a component the
file never had reads as empty without being created."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from engram.cli import main
from engram.stores.sqlite import SqliteConnection, base, checkpoints_base, events, memories_base

READING = [
    ["sessions", "list"],
    ["sessions", "show", "s1"],
    ["sessions", "export", "s1"],
    ["memories", "list", "--user", "ana"],
    ["memories", "search", "tea", "--user", "ana"],
    ["memories", "history", "m1"],
    ["memories", "users"],
    ["memories", "export", "--user", "ana"],
    ["memories", "entities", "--user", "ana"],
    ["memories", "profile", "--user", "ana"],
    ["memories", "forget", "--user", "ana", "--max-age", "1d", "--dry-run"],
]


def snapshot(path: Path) -> tuple[bytes, list[str]]:
    """The file's bytes and the names of the files beside it."""
    return path.read_bytes(), sorted(p.name for p in path.parent.iterdir())


def versions(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT component, version FROM engram_migrations").fetchall())


@pytest.fixture
def older(tmp_path: Path) -> Path:
    """A database written by an older Engram: each schema one migration behind (or absent)."""
    path = tmp_path / "old.db"
    connection = SqliteConnection(path)
    connection.migrate(base.COMPONENT, base.MIGRATIONS[:-1])
    connection.migrate(memories_base.COMPONENT, memories_base.MIGRATIONS[:-1])
    connection.close()
    return path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize("command", READING, ids=" ".join)
def test_a_reading_command_refuses_an_older_schema_and_leaves_the_file(
    older: Path, command: list[str]
) -> None:
    before = snapshot(older)
    code, output = run(*command, "--db", str(older))
    assert code == 1, output
    assert "engram db migrate --db" in output and "older" in output
    assert snapshot(older) == before


def test_after_db_migrate_the_reading_commands_read(older: Path) -> None:
    assert run("memories", "list", "--user", "ana", "--db", str(older))[0] == 1
    assert run("db", "migrate", "--db", str(older))[0] == 0
    assert versions(older)[base.COMPONENT] == len(base.MIGRATIONS)
    code, output = run("memories", "list", "--user", "ana", "--db", str(older))
    assert (code, output.strip()) == (0, "no memories")
    assert run("sessions", "list", "--db", str(older)) == (0, "no sessions\n")


def test_a_write_command_still_migrates(older: Path) -> None:
    code, output = run("sessions", "delete", "s1", "--db", str(older))
    assert versions(older)[memories_base.COMPONENT] == len(memories_base.MIGRATIONS), output
    assert code in (0, 1)  # the session does not exist; the file was upgraded to tell


@pytest.mark.parametrize(
    ("command", "empty"),
    [
        (["threads", "list"], "no threads"),
        (["threads", "prune", "--keep-last", "1", "--dry-run"], "would remove"),
        (["events", "list"], "no streams"),
    ],
    ids=["threads", "prune", "events"],
)
def test_a_component_the_file_never_had_reads_as_empty_and_is_not_created(
    older: Path, command: list[str], empty: str
) -> None:
    before = snapshot(older)
    code, output = run(*command, "--db", str(older))
    assert code == 0 and empty in output, output
    assert snapshot(older) == before
    assert checkpoints_base.COMPONENT not in versions(older)
    assert events.COMPONENT not in versions(older)


@pytest.mark.parametrize(
    "command", [*READING, ["threads", "list"], ["events", "list"]], ids=" ".join
)
@pytest.mark.parametrize("contents", ["foreign", "empty"])
def test_a_file_that_is_no_engram_database_is_refused_untouched(
    tmp_path: Path, command: list[str], contents: str
) -> None:
    path = tmp_path / "other-app.db"
    if contents == "foreign":
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE notes (body TEXT)")
        conn.close()
    else:
        path.touch()
    before = snapshot(path)
    code, output = run(*command, "--db", str(path))
    assert code == 1, output
    assert "is not an Engram database" in output
    assert snapshot(path) == before


def test_an_older_memory_database_named_by_the_environment_is_refused_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    main_db, memory_db = tmp_path / "main.db", tmp_path / "memories.db"
    connection = SqliteConnection(main_db)
    connection.migrate(base.COMPONENT, base.MIGRATIONS)
    connection.close()
    connection = SqliteConnection(memory_db)
    connection.migrate(memories_base.COMPONENT, memories_base.MIGRATIONS[:-1])
    connection.close()
    monkeypatch.setenv("ENGRAM_MEMORY_DB", str(memory_db))
    before = snapshot(memory_db)
    code, output = run("memories", "list", "--user", "ana", "--db", str(main_db))
    assert code == 1 and "(ENGRAM_MEMORY_DB)" in output, output
    assert f"engram db migrate --db {main_db}`" in output  # which migrates both files
    assert snapshot(memory_db) == before
    assert run("db", "migrate", "--db", str(main_db))[0] == 0
    assert run("memories", "list", "--user", "ana", "--db", str(main_db)) == (0, "no memories\n")


def test_the_migrate_command_quoted_for_a_server_database_hides_its_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory_db = tmp_path / "memories.db"
    with sqlite3.connect(memory_db) as conn:  # a SQLite file, but no Engram database
        conn.execute("CREATE TABLE notes (body TEXT)")
    monkeypatch.setenv("ENGRAM_MEMORY_DB", str(memory_db))
    main_db = "postgresql://ana:quokka-mauve@127.0.0.1:5432/engram"
    code, output = run("memories", "list", "--user", "ana", "--db", main_db)
    assert code == 1 and "(ENGRAM_MEMORY_DB)" in output, output
    assert "quokka-mauve" not in output
    assert "engram db migrate --db 'postgresql://ana:***@127.0.0.1:5432/engram'`" in output
