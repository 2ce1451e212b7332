"""Options and helpers shared by the CLI commands."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shlex
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any, Generic, Protocol, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.protocol import is_renderable

from engram import _exceptions, providers
from engram._backends import (
    POSTGRES_SCHEMES,
    REDIS_SCHEMES,
    checked_redis_url,
    hidden_password,
    lowered_scheme,
    scheme_of,
    sqlite_path,
)
from engram._engram import Engram
from engram._exceptions import ConfigError, EngramError, MigrationRequired
from engram._secrets import without_url_passwords
from engram._validation import INT64_MAX
from engram.config import EngramSettings, load_settings
from engram.stores.conversation import BaseConversationStore
from engram.stores.memories import BaseMemoryStore
from engram.stores.sqlite import base as conversation_schema
from engram.stores.sqlite import memories_base as memories_schema
from engram.stores.sqlite.conversation import SqliteConversationStore
from engram.stores.sqlite.memories import SqliteMemoryStore

__all__ = [
    "console",
    "count",
    "db_option",
    "db_options",
    "duration",
    "engram_errors",
    "existing_sqlite_file",
    "json_output",
    "literal",
    "PostgresStore",
    "read_json",
    "readable_sqlite_file",
    "RedisStore",
    "removed_if_failed",
    "require_database",
    "store_at",
    "StoreOpeners",
    "timestamp",
    "write_json",
]

F = TypeVar("F", bound=Callable[..., Any])
S = TypeVar("S")
S_co = TypeVar("S_co", covariant=True)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""The control characters but tab and newline: stored data can hold escape sequences."""

_LINE_BREAK = re.compile(r"\s*\n\s*")

_SQLITE_FILES = ("", "-wal", "-shm", "-journal", "-engram-locks")
"""A SQLite database's file and the files beside it (`_scope_locks` makes the last)."""

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
"""A span: a number and its unit, which is required: a bare `1` read as one second would
make `forget --max-age 1` erase every memory (the help shows spans in days and hours)."""
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

_UNCUT_WIDTH = 1_000_000
"""The width what a console prints is measured at when no terminal bounds it."""


class _Console(Console):
    """Rich's console, but what it prints to no terminal (a pipe, a file) is as wide as it
    needs: a table piped into `grep`, `cut` or a file keeps each row on one line and each cell
    whole, rather than wrapped to the 80 columns Rich assumes (or to the width of a terminal
    the command is not writing to). The usual width stays the least, so a rule (which takes
    any width) is as wide as before, and so is everything printed to a terminal."""

    def print(self, *objects: Any, **options: Any) -> None:
        if self.is_terminal or self._width is not None or "width" in options:
            super().print(*objects, **options)
            return
        uncut = self.options.update(width=_UNCUT_WIDTH, markup=options.get("markup"))
        needed = max(
            (
                self.measure(o if is_renderable(o) else str(o), options=uncut).maximum
                for o in objects
            ),
            default=0,
        )
        self.width = max(self.width, needed)
        try:
            super().print(*objects, **options)
        finally:
            self._width = None


console = _Console(highlight=False, emoji=False)
"""The console every command prints to. Its strings are Rich markup: data goes in through
`literal`."""


def count(minimum: int = 0, maximum: int = INT64_MAX) -> click.IntRange:
    """The type of a limit, count or version option: out of range is a usage error (exit
    code 2), never a value a database rejects (or its driver cannot even send)."""
    return click.IntRange(min=minimum, max=maximum)


def literal(value: object) -> str:
    """`value` as text to put in a console string or table cell, shown exactly as it is:
    `[red]` or `[/i]` in stored data is printed, never read as Rich markup, and a control
    character as its escape (`\\x1b`, `\\r`), never sent for the terminal to obey."""
    text = _CONTROL.sub(lambda found: repr(found.group())[1:-1], str(value))
    body = text.rstrip("\\")
    if len(body) == len(text):
        return escape(text)
    # Backslashes escape a tag that follows them, two showing as one; so trailing ones are
    # doubled and closed by an empty span: shown once, whatever the caller puts after them.
    return escape(body) + "\\" * 2 * (len(text) - len(body)) + "[dim][/dim]"


_ANY_DB = "SQLite file, postgresql:// URL or libpq connection string, or redis:// URL."


def db_options(command: F) -> F:
    """`--db` and `--tenant`, read from `ENGRAM_DB` / `ENGRAM_TENANT` when not given."""
    return _db_options(command, _ANY_DB)


def db_option(command: F) -> F:
    """`--db` alone, for the commands that act for every tenant (`db migrate`)."""
    return _db_options(command, _ANY_DB, tenant=False)


def _db_options(command: F, what: str, *, tenant: bool = True) -> F:
    if tenant:
        command = click.option(
            "--tenant",
            envvar="ENGRAM_TENANT",
            default="default",
            show_default=True,
            help="Tenant to act for.",
        )(command)
    command = click.option(
        "--db",
        "db",
        envvar="ENGRAM_DB",
        default="engram.db",
        show_default=True,
        help=what,
    )(command)
    return command


json_output = click.option(
    "-o",
    "--output",
    type=click.File("w", encoding="utf-8"),
    default="-",
    help="File to write the JSON to (default: standard output).",
)
"""`-o/--output FILE` of an export command (`write_json`)."""


def write_json(data: Any, output: IO[str]) -> None:
    """Write an export, indented, with a final newline."""
    json.dump(data, output, ensure_ascii=False, indent=2)
    output.write("\n")


def read_json(file: IO[str]) -> Any:
    """Read an export to import; a file that is not JSON is a CLI error."""
    try:
        return json.load(file)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:  # a binary file is not JSON
        raise click.ClickException(f"not JSON: {exc}") from exc
    except RecursionError as exc:
        raise click.ClickException("not an export: JSON nested too deeply to read") from exc


def require_database(db: str) -> None:
    """Refuse a SQLite address whose file does not exist: reading must not create one."""
    if scheme_of(db) == "sqlite":
        existing_sqlite_file(db)


def existing_sqlite_file(db: str) -> str:
    """The file of the SQLite address `db` (a path or `sqlite:///path`, as `Engram()` reads
    it), which must exist."""
    path = os.path.expanduser(sqlite_path(db))  # as `SqliteConnection` reads it
    if path != ":memory:" and not Path(path).exists():
        raise click.ClickException(f"no database at {db}")
    return path


def readable_sqlite_file(
    db: str, component: str, latest: int, *, migrated_by: str | None = None
) -> str | None:
    """`existing_sqlite_file(db)`, for a reading command, which must not write to it: its
    `component` schema must be at version `latest`, as opening it would migrate an older one.
    `migrated_by` is the `--db` of the `engram db migrate` that upgrades it (default: `db`).

    Returns:
        The file's path; None if it is an Engram database without that component (which
        therefore holds nothing of it).

    Raises:
        click.ClickException: The file is no Engram database, or its `component` schema is
            older than this Engram's: `engram db migrate` upgrades it.
    """
    path = existing_sqlite_file(db)
    if path == ":memory:":
        return None
    versions = _sqlite_schema_versions(db, path)
    problem = _unreadable(db, component, versions, latest, migrated_by or db)
    if problem is not None:
        raise click.ClickException(problem)
    return path if component in (versions or {}) else None


def _unreadable(
    db: str, component: str, versions: dict[str, int] | None, latest: int, migrated_by: str
) -> str | None:
    """Why a reading command cannot read `component` in `db` without migrating it, whose
    schema `versions` are these (None: no Engram database); None if it can (a database
    without the component holds nothing of it)."""
    if versions is None:
        return (
            f"{db} is not an Engram database: {_migrate(migrated_by)} to make it one "
            "(reading leaves it as it is)"
        )
    version = versions.get(component, latest)
    if version < latest:
        return (
            f"{db}: the {component} schema is at version {version}, older than this Engram's "
            f"({latest}); {_migrate(migrated_by)} first (reading leaves it as it is)"
        )
    return None


def _migrate(db: str) -> str:
    """The command that brings `db`'s schema up to date, ready to paste but for the password
    of a server's address (`***`: errors end up in logs and on terminals)."""
    return f"run `engram db migrate --db {shlex.quote(without_url_passwords(db))}`"


def _sqlite_schema_versions(db: str, path: str) -> dict[str, int] | None:
    """The version of each component's schema in the SQLite file `path`, read without
    writing (None if the file holds no Engram schema)."""
    address = Path(path).absolute().as_uri() + "?mode=rw"  # never creates the file
    try:
        conn = sqlite3.connect(address, uri=True)
        try:
            if not conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'engram_migrations'"
            ).fetchone():
                return None
            rows = conn.execute("SELECT component, version FROM engram_migrations").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise click.ClickException(f"cannot read {db} as a SQLite database: {exc}") from exc
    return {str(component): int(version) for component, version in rows}


class MissingComponent(MigrationRequired):
    """A reading command's database has none of a component it must have
    (`StoreOpeners.required`): `engram db migrate` creates it."""


def _missing(address: str, component: str, db: str, name: str = "") -> str:
    """Why a reading command on `db` refuses `address`, which has no `component` schema."""
    return (
        f"{address}{name} holds no {component} schema: {_migrate(db)} to create it "
        "(reading leaves it as it is)"
    )


def _current(address: str, component: str, latest: int, db: str, name: str = "") -> None:
    """Refuse `address` for a reading command on `db` unless its `component` schema is
    current (`name` says where the address comes from)."""
    try:
        path = readable_sqlite_file(address, component, latest, migrated_by=db)
    except click.ClickException as exc:
        raise click.ClickException(f"{exc.message}{name}") from None
    if path is None:
        raise click.ClickException(_missing(address, component, db, name))


class PostgresStore(Protocol[S_co]):
    """A PostgreSQL store class (`PostgresEventLog`, `PostgresCheckpointer`)."""

    def __call__(self, conn: Any, *, migrate: bool, durability: Any) -> S_co: ...


class RedisStore(Protocol[S_co]):
    """A Redis store class (`RedisEventLog`, `RedisCheckpointer`)."""

    def from_url(self, url: str, *, prefix: str) -> AbstractContextManager[S_co]: ...


@dataclass(frozen=True)
class StoreOpeners(Generic[S]):
    """How a command opens its store (a checkpointer, an event log) on each backend an
    address can name (`store_at`). The server backends' classes are loaded when a command
    opens one: their driver is an extra."""

    component: str
    """The store's schema component (its row in `engram_migrations`)."""
    migrations: int
    """How many migrations its SQLite schema has: the version a file must be at to be read."""
    sqlite: Callable[[str], AbstractContextManager[S]]
    """Opens the store in the SQLite file at a path (or `:memory:`)."""
    postgresql: Callable[[], tuple[PostgresStore[S], int]]
    """Imports the PostgreSQL store class; returns it and how many migrations its schema
    has."""
    redis: Callable[[], RedisStore[S]]
    """Imports the Redis store class."""
    required: bool = False
    """Whether a reading command refuses a database without the component (`_missing`),
    rather than reading it as empty: the memories, which a PostgreSQL without pgvector
    cannot hold (an empty listing would read as "none stored")."""


@contextmanager
def store_at(
    db: str, openers: StoreOpeners[S], *, read_only: bool = False, migrated_by: str | None = None
) -> Iterator[S]:
    """The store `openers` opens at the address `db`, read as `Engram()` reads it: a SQLite
    file, which must exist; a PostgreSQL or Redis database, opened with the ENGRAM_* settings
    `Engram()` opens it with (durability, Redis key prefix). With `read_only` (a command that
    only reads) a SQLite file or PostgreSQL database is left as it is: it must hold the
    current schema, as opening it would migrate an older one (or create a missing one), and
    one without the component reads as empty (or is refused, if `openers.required`).
    `migrated_by` is the `--db` of the `engram db migrate` that upgrades it (default:
    `db`)."""
    migrated_by = migrated_by or db
    if scheme_of(db) == "sqlite":
        path = _sqlite_file(db, openers, read_only=read_only, migrated_by=migrated_by)
        with openers.sqlite(path) as store:
            yield store
        return
    with (
        hidden_password(db),
        _server_store(db, openers, read_only=read_only, migrated_by=migrated_by) as store,
    ):
        yield store


def _sqlite_file(db: str, openers: StoreOpeners[Any], *, read_only: bool, migrated_by: str) -> str:
    """The file `store_at` opens for the SQLite address `db` (`:memory:`, empty, for a
    database without the component)."""
    if not read_only:
        return existing_sqlite_file(db)
    found = readable_sqlite_file(db, openers.component, openers.migrations, migrated_by=migrated_by)
    if found is None and openers.required:
        raise MissingComponent(_missing(db, openers.component, migrated_by))
    return found or ":memory:"


def _server_store(
    db: str, openers: StoreOpeners[S], *, read_only: bool, migrated_by: str
) -> AbstractContextManager[S]:
    """The store at the server address `db`, not entered yet.

    Raises:
        ConfigError: The backend's extra is not installed, or a malformed Redis URL.
        click.ClickException: An address of another backend.
    """
    scheme = scheme_of(db)
    settings = load_settings()
    try:
        if scheme in POSTGRES_SCHEMES:
            loaded = openers.postgresql()
            return _postgres_store(
                db, openers, loaded, settings, read_only=read_only, migrated_by=migrated_by
            )
        if scheme in REDIS_SCHEMES:
            return openers.redis().from_url(checked_redis_url(db), prefix=settings.redis_prefix)
    except ImportError as exc:  # the message says which extra to install
        raise ConfigError(str(exc)) from exc
    raise click.ClickException(
        f"this command reads SQLite, PostgreSQL and Redis, not {scheme}:// addresses"
    )


@contextmanager
def _postgres_store(
    db: str,
    openers: StoreOpeners[S],
    loaded: tuple[PostgresStore[S], int],
    settings: EngramSettings,
    *,
    read_only: bool,
    migrated_by: str,
) -> Iterator[S]:
    """The store of `loaded` (its class, its number of migrations) in the PostgreSQL
    database `db`, on a connection of its own. With `read_only`, it creates and migrates
    nothing: the component's schema must be current (or absent, unless `openers.required`:
    an empty SQLite store stands in for it, as for a SQLite file without it).

    Raises:
        MigrationRequired: With `read_only`, the database holds no Engram schema, or an
            older one of the component (`engram db migrate` brings it up to date), or a
            newer one; `MissingComponent` if it has none of a required component.
    """
    # Loaded with the store class (`openers.postgresql`): the driver is there.
    from engram.stores.postgres._internal import Target, connect
    from engram.stores.postgres.base import schema_versions

    store, latest = loaded
    with connect(lowered_scheme(db), settings.durability) as conn:
        if read_only:
            versions = Target(conn, settings.durability).run(schema_versions())
            problem = _unreadable(db, openers.component, versions, latest, migrated_by)
            if problem is not None:
                raise MigrationRequired(problem)
            version = (versions or {}).get(openers.component)
            if version is None and openers.required:
                problem = _missing(db, openers.component, migrated_by)
                if openers.component == "memories" and not _has_pgvector(conn):
                    problem = f"{problem}; {_NO_PGVECTOR}"
                raise MissingComponent(problem)
            if version is None:
                with openers.sqlite(":memory:") as empty:
                    yield empty
                return
            if version > latest:  # as `migrate` refuses it: reading it could misread it
                raise MigrationRequired(
                    f"{db}: the {openers.component} schema is at version {version}, newer "
                    f"than this Engram knows ({latest}); upgrade engramdb"
                )
        yield store(conn, migrate=not read_only, durability=settings.durability)


_NO_PGVECTOR = (
    "this server has no pgvector, which memories need (>= 0.8): install it, or keep the "
    "memories elsewhere (ENGRAM_MEMORY_DB)"
)


def _has_pgvector(conn: Any) -> bool:
    """Whether the server can create the `vector` extension (installed or available)."""
    query = "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"
    return conn.execute(query).fetchone() is not None


def _postgres_conversations() -> tuple[PostgresStore[BaseConversationStore], int]:
    """The PostgreSQL conversation store class, and how many migrations its schema has."""
    from engram.stores.postgres.base import CONVERSATION_MIGRATIONS
    from engram.stores.postgres.conversation import PostgresConversationStore

    return PostgresConversationStore, len(CONVERSATION_MIGRATIONS)


def _redis_conversations() -> RedisStore[BaseConversationStore]:
    """The Redis conversation store class."""
    from engram.stores.redis.conversation import RedisConversationStore

    return RedisConversationStore


def _postgres_memories() -> tuple[PostgresStore[BaseMemoryStore], int]:
    """The PostgreSQL memory store class, and how many migrations its schema has."""
    from engram.stores.postgres.memories import PostgresMemoryStore
    from engram.stores.postgres.memories_base import MIGRATIONS

    return PostgresMemoryStore, len(MIGRATIONS)


def _no_redis_memories() -> RedisStore[BaseMemoryStore]:
    """Refuses: Redis stores no long-term memories."""
    raise ConfigError("Redis stores no long-term memories")


_CONVERSATION_STORES = StoreOpeners[BaseConversationStore](
    conversation_schema.COMPONENT,
    len(conversation_schema.MIGRATIONS),
    sqlite=SqliteConversationStore.from_path,
    postgresql=_postgres_conversations,
    redis=_redis_conversations,
)
"""The conversation store of each backend (`store_at`), for the reading commands."""

_MEMORY_STORES = StoreOpeners[BaseMemoryStore](
    memories_schema.COMPONENT,
    len(memories_schema.MIGRATIONS),
    sqlite=SqliteMemoryStore.from_path,
    postgresql=_postgres_memories,
    redis=_no_redis_memories,
    required=True,
)
"""The memory store of each backend (`store_at`), for the reading commands."""


@contextmanager
def existing_engram(db: str, tenant: str, *, read_only: bool = False) -> Iterator[Engram]:
    """Engram on databases that exist (`db`, and ENGRAM_MEMORY_DB if set): a reading
    command must not create one. With `read_only` (a command that only reads), opening
    them must not migrate them either: a SQLite file must hold the current schemas, and a
    PostgreSQL database's stores are opened as `store_at` opens them for a reading command
    (a schema missing or older is a `MigrationRequired` error, conversations the database
    never had read as empty, and memories it never had refuse every memory operation, as
    a SQLite file without them is refused: an empty listing would say "none stored")."""
    require_database(db)
    memory_db = load_settings().memory_db
    if memory_db is not None:
        try:
            require_database(memory_db)
        except click.ClickException as exc:
            raise click.ClickException(f"{exc.message} (ENGRAM_MEMORY_DB)") from None
    if not read_only:
        with Engram(db, tenant=tenant) as mem:
            yield mem
        return
    _check_current(db, memory_db)
    with contextlib.ExitStack() as stack:
        conversations = _postgres_reader(stack, db, _CONVERSATION_STORES, db)
        name = "" if memory_db is None else " (ENGRAM_MEMORY_DB)"
        try:
            memories = _postgres_reader(stack, memory_db or db, _MEMORY_STORES, db, name)
        except MissingComponent as exc:  # a PostgreSQL without pgvector serves sessions
            memories = _RefusedMemories(str(exc))
        if memories is not None:  # Engram leaves a store it is given open
            stack.callback(memories.close)
        yield stack.enter_context(Engram(conversations or db, tenant=tenant, memory_store=memories))


def _postgres_reader(
    stack: contextlib.ExitStack,
    address: str,
    openers: StoreOpeners[S],
    db: str,
    name: str = "",
) -> S | None:
    """The store of `openers` in `address`, opened by `store_at` for a reading command on
    `db` and closed with `stack`, if `address` is a PostgreSQL one (None for another
    backend: `Engram()` opens it, `_check_current` having checked a SQLite file). `name`
    says where the address comes from."""
    if scheme_of(address) not in POSTGRES_SCHEMES:
        return None
    with hidden_password(db):  # the `engram db migrate` to run quotes `db`
        try:
            return stack.enter_context(store_at(address, openers, read_only=True, migrated_by=db))
        except MigrationRequired as exc:
            raise type(exc)(f"{exc}{name}") from None


class _RefusedMemories(BaseMemoryStore):
    """The memory store of a reading command on a PostgreSQL database without the memories
    schema (no pgvector, say): the conversations are read, and every memory operation is
    refused with `reason` (as a SQLite file without it is refused), never read as empty."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def batch(self, ops: Any) -> list[Any]:
        raise MissingComponent(self.reason)

    async def abatch(self, ops: Any) -> list[Any]:
        raise MissingComponent(self.reason)


def _check_current(db: str, memory_db: str | None) -> None:
    """Refuse SQLite files whose conversation or memories schema opening would migrate."""
    conversations = conversation_schema.COMPONENT, len(conversation_schema.MIGRATIONS)
    memories = memories_schema.COMPONENT, len(memories_schema.MIGRATIONS)
    if scheme_of(db) == "sqlite":
        _current(db, *conversations, db)
        if memory_db is None:
            _current(db, *memories, db)
    if memory_db is not None and scheme_of(memory_db) == "sqlite":
        _current(memory_db, *memories, db, " (ENGRAM_MEMORY_DB)")


@contextmanager
def removed_if_failed(*addresses: str | None) -> Iterator[None]:
    """Remove what the block created of the SQLite databases `addresses` name that do not
    exist yet (the file, its companions, its new directories) if the block fails: a failed
    import leaves no empty database behind."""
    files: list[Path] = []
    folders: list[Path] = []
    for address in addresses:
        if address is None or scheme_of(address) != "sqlite":
            continue
        path = sqlite_path(address)
        file = Path(path).expanduser().absolute()
        if path == ":memory:" or file.exists():
            continue
        files.extend(file.with_name(file.name + suffix) for suffix in _SQLITE_FILES)
        folders.extend(parent for parent in file.parents if not parent.exists())
    try:
        yield
    except BaseException:
        for file in files:
            with contextlib.suppress(OSError):
                file.unlink(missing_ok=True)
        for folder in folders:  # the deepest first
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


@contextmanager
def engram_errors() -> Iterator[None]:
    """Show Engram errors as one clean CLI error line (exit code 1)."""
    try:
        yield
    except EngramError as exc:  # a driver's message may span lines (libpq's hints do)
        message = _LINE_BREAK.sub(" ", str(exc).strip())
        message = without_url_passwords(message)  # an endpoint's, quoted in full
        raise click.ClickException(f"{_public_name(exc)}: {message}") from exc


def _public_name(error: EngramError) -> str:
    """The name of the nearest class of `error` Engram exports (`ProviderError`, not the
    provider module's own `Rejected`)."""
    exported = {*_exceptions.__all__, *providers.__all__}
    return next(c.__name__ for c in type(error).__mro__ if c.__name__ in exported)


def handles_errors(command: F) -> F:
    """Decorator form of `engram_errors`."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with engram_errors():
            return command(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def timestamp(moment: datetime) -> str:
    """`moment` to the second, as the tables show it: `2024-05-01 09:30:00`."""
    return moment.isoformat()[:19].replace("T", " ")


def duration(text: str, option: str | None = None) -> timedelta:
    """A span like `90s`, `30m`, `12h`, `7d` or `2w` (a number without its unit is refused),
    the value of `option` (named in the error)."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise click.BadParameter(
            f"{text!r}: use a number and a unit, like 90s, 30m, 12h, 7d, 2w", param_hint=option
        )
    try:
        return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    except OverflowError as exc:
        raise click.BadParameter(
            f"{text!r}: too long (at most {timedelta.max.days} days)", param_hint=option
        ) from exc
