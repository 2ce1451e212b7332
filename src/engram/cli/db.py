"""`engram db`: database administration."""

from __future__ import annotations

import click

from engram._exceptions import ConfigError
from engram.cli._options import console, db_options, handles_errors
from engram.config import load_settings
from engram.stores.sqlite import (
    SqliteCheckpointer,
    SqliteConnection,
    SqliteConversationStore,
    SqliteEventLog,
    SqliteMemoryStore,
)

__all__ = ["db"]

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


@click.group()
def db() -> None:
    """Manage the database."""


@db.command()
@db_options
@handles_errors
def migrate(db: str, tenant: str) -> None:
    """Create or upgrade the database schema of every component (idempotent).

    --db is a SQLite file, or a postgresql:// URL: then the PostgreSQL components
    (conversations, events, checkpoints, memories) are migrated. Memories need pgvector:
    on a server without it the other components are migrated, and the command fails
    saying so, unless ENGRAM_MEMORY_DB keeps the memories elsewhere.
    """
    if not db.startswith(_POSTGRES_SCHEMES):
        _print_versions(_migrate_sqlite(db))
        return
    versions, memories_error = _migrate_postgres(db)
    _print_versions(versions)
    if memories_error is not None and not _memories_elsewhere(db):
        raise memories_error


def _memories_elsewhere(db: str) -> bool:
    """Whether the settings keep long-term memories in another database (ENGRAM_MEMORY_DB):
    then a server without pgvector is all this one needs to be."""
    memory_db = load_settings().memory_db
    return memory_db is not None and memory_db != db


def _print_versions(versions: list[tuple[str, int]]) -> None:
    for component, version in versions:
        console.print(f"{component}: schema version {version}")


def _migrate_sqlite(path: str) -> list[tuple[str, int]]:
    connection = SqliteConnection(path)
    try:
        for store in (
            SqliteConversationStore,
            SqliteMemoryStore,
            SqliteCheckpointer,
            SqliteEventLog,
        ):
            store(connection)
        rows = connection.conn.execute(
            "SELECT component, version FROM engram_migrations ORDER BY component"
        ).fetchall()
    finally:
        connection.close()
    return [(row["component"], int(row["version"])) for row in rows]


def _migrate_postgres(url: str) -> tuple[list[tuple[str, int]], ConfigError | None]:
    """The components' schema versions, and the error that kept memories out (no pgvector)."""
    # Imported here: the PostgreSQL driver is an extra (`engramdb[postgres]`).
    from engram.stores.postgres import (
        PostgresConversationStore,
        PostgresEventLog,
        PostgresMemoryStore,
    )
    from engram.stores.postgres._internal import connect, map_backend_errors
    from engram.stores.postgres.checkpoints import PostgresCheckpointer

    memories_error: ConfigError | None = None
    with connect(url) as conn:
        for store in (PostgresConversationStore, PostgresCheckpointer, PostgresEventLog):
            store(conn)  # each constructor applies its migrations
        try:
            PostgresMemoryStore(conn)
        except ConfigError as exc:  # pgvector missing: the rest is usable without it
            memories_error = exc
        with map_backend_errors():
            rows = conn.execute(
                "SELECT component, version FROM engram_migrations ORDER BY component"
            ).fetchall()
    return [(str(component), int(version)) for component, version in rows], memories_error
