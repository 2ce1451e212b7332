"""`engram db`: database administration."""

from __future__ import annotations

import click

from engram._backends import (
    POSTGRES_SCHEMES,
    REDIS_SCHEMES,
    checked_redis_url,
    hidden_password,
    lowered_scheme,
    scheme_of,
    sqlite_path,
)
from engram._exceptions import ConfigError
from engram.cli._options import console, db_option, handles_errors
from engram.config import load_settings
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
@db_option
@handles_errors
def migrate(db: str) -> None:
    """Create or upgrade the database schema of every component (idempotent).

    --db is an address as Engram() takes it. A SQLite file (a path or sqlite:///path):
    every component is migrated. A postgresql:// URL or libpq connection string: the
    PostgreSQL components (conversations, events, checkpoints, memories). Memories need
    pgvector: on a server without it the other components are migrated, and the command
    fails saying so, unless ENGRAM_MEMORY_DB keeps the memories elsewhere. A redis:// URL:
    Redis has no schema to migrate, so the command only checks that the server answers.
    With ENGRAM_MEMORY_DB set to another database, that one is migrated too.
    """
    memory_db = load_settings().memory_db
    elsewhere = memory_db if memory_db is not None and memory_db != db else None
    _check(db, memories=False)  # both before either is migrated: a refusal changes nothing
    if elsewhere is not None:
        _check(elsewhere, memories=True)
    try:
        _migrate(db, memories_elsewhere=elsewhere is not None)
        if elsewhere is not None:
            console.print("memory database (ENGRAM_MEMORY_DB):")
            _migrate(elsewhere, memories_elsewhere=False)
    except ImportError as exc:  # the backend's extra is not installed: the message says which
        raise ConfigError(str(exc)) from exc


def _check(address: str, *, memories: bool) -> None:
    """Refuse an address this command cannot migrate, or, for the memory database
    (`memories`), one that stores no memories."""
    scheme = scheme_of(address)
    if scheme == "sqlite":
        sqlite_path(address)  # a malformed sqlite: URL, or none at all
    elif scheme in REDIS_SCHEMES and memories:
        raise ConfigError("ENGRAM_MEMORY_DB: Redis stores no long-term memories")
    elif scheme not in POSTGRES_SCHEMES + REDIS_SCHEMES:
        raise click.ClickException(
            f"engram db migrate migrates SQLite, PostgreSQL and Redis, not {scheme}:// URLs"
        )


def _migrate(address: str, *, memories_elsewhere: bool) -> None:
    """Migrate the database at `address`; a PostgreSQL without pgvector is enough when the
    memories are kept `memories_elsewhere`."""
    scheme = scheme_of(address)
    if scheme == "sqlite":
        _print_versions(_migrate_sqlite(sqlite_path(address)))
    elif scheme in POSTGRES_SCHEMES:
        versions, memories_error = _migrate_postgres(address)
        _print_versions(versions)
        if memories_error is not None and not memories_elsewhere:
            raise memories_error
    else:  # Redis (`_check`)
        _ping_redis(address)
        console.print("Redis needs no migration: its key layout is its schema")


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


def _ping_redis(url: str) -> None:
    """Check that the Redis at `url` answers."""
    # Imported here: the Redis driver is an extra (`engramdb[redis]`).
    from engram.stores.redis._internal import connect, map_backend_errors

    url = checked_redis_url(url)
    with hidden_password(url), map_backend_errors(), connect(url) as client:
        client.ping()


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
    with hidden_password(url), connect(lowered_scheme(url)) as conn:
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
