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


@click.group()
def db() -> None:
    """Manage the database."""


@db.command()
@db_options
@handles_errors
def migrate(db: str, tenant: str) -> None:
    """Create or upgrade the database schema of every component (idempotent)."""
    connection = SqliteConnection(db)
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
    for row in rows:
        console.print(f"{row['component']}: schema version {row['version']}")
