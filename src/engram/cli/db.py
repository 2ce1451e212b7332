"""`engram db`: database administration."""

from __future__ import annotations

import click

from engram.cli._options import console, db_options, handles_errors
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
    (conversations, events, memories, checkpoints) are migrated; memories need pgvector.
    """
    versions = _migrate_postgres(db) if db.startswith(_POSTGRES_SCHEMES) else _migrate_sqlite(db)
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


def _migrate_postgres(url: str) -> list[tuple[str, int]]:
    # Imported here: the PostgreSQL driver is an extra (`engramdb[postgres]`).
    from engram.stores.postgres import (
        PostgresConversationStore,
        PostgresEventLog,
        PostgresMemoryStore,
    )
    from engram.stores.postgres._internal import connect, map_backend_errors
    from engram.stores.postgres.checkpoints import PostgresCheckpointer

    with connect(url) as conn:
        for store in (
            PostgresConversationStore,
            PostgresMemoryStore,
            PostgresCheckpointer,
            PostgresEventLog,
        ):
            store(conn)  # each constructor applies its migrations
        with map_backend_errors():
            rows = conn.execute(
                "SELECT component, version FROM engram_migrations ORDER BY component"
            ).fetchall()
    return [(str(component), int(version)) for component, version in rows]
