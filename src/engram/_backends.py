"""Storage by address: what `Engram("postgresql://...")` and `ENGRAM_DB` open.

An address is a SQLite path (no scheme, or `sqlite:///path`), a URL whose scheme names a
backend, or a libpq key/value connection string (`host=db dbname=engram`: PostgreSQL). Each
backend registers an opener for its schemes through one hook, a function that receives a
`register(scheme, opener)` callback:

```python
def register_backends(register):
    register("mydb", open_mydb)    # open_mydb(address, settings, conversations=..., memories=...)
```

Engram's own backends (`sqlite`, `postgresql`/`postgres`, `redis`/`rediss`) register through
`register_builtin_backends`; a third-party package declares its hook as an entry point of the
group `engram.backends`:

```toml
[project.entry-points."engram.backends"]
mydb = "mydb_engram:register_backends"
```

Entry points are loaded lazily, once, the first time an address names a scheme Engram's own
backends do not. An opener imports its driver only when called, so a missing extra is a
`ConfigError` saying what to install, raised only when that backend is asked for.
"""

from __future__ import annotations

import importlib.metadata
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, closing, contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar
from urllib.parse import urlsplit

from engram._exceptions import ConfigError, EngramError
from engram._secrets import password_of

if TYPE_CHECKING:
    from engram.config import EngramSettings
    from engram.stores.conversation import BaseConversationStore
    from engram.stores.memories import BaseMemoryStore

__all__ = [
    "ENTRY_POINT_GROUP",
    "POSTGRES_SCHEMES",
    "REDIS_SCHEMES",
    "BackendOpener",
    "OpenedBackend",
    "check_address",
    "checked_redis_url",
    "hidden_password",
    "lowered_scheme",
    "open_backend",
    "register_builtin_backends",
    "scheme_of",
    "sqlite_path",
]

ENTRY_POINT_GROUP = "engram.backends"
POSTGRES_SCHEMES = ("postgresql", "postgres")
"""The URL schemes of Engram's PostgreSQL backend (a libpq string reads as `postgresql`)."""
REDIS_SCHEMES = ("redis", "rediss")
"""The URL schemes of Engram's Redis backend."""


class OpenedBackend(NamedTuple):
    """The stores an opener opened, and how to close what it opened for them."""

    conversations: BaseConversationStore | None
    """None if not asked for."""
    memories: BaseMemoryStore | None
    """None if not asked for, or if the backend stores no long-term memories."""
    close: Callable[[], None]
    memories_unavailable: str | None = None
    """Why memories asked for beside conversations could not be opened (a PostgreSQL
    without pgvector): the conversations are served, and memory operations say this."""


class BackendOpener(Protocol):
    """Opens the stores at `address`; whatever it opens, the returned `close` closes."""

    def __call__(
        self, address: str, settings: EngramSettings, *, conversations: bool, memories: bool
    ) -> OpenedBackend: ...


Register = Callable[[str, BackendOpener], None]


_LIBPQ_KEYWORDS = re.compile(
    r"\s*(host|hostaddr|port|dbname|user|password|passfile|service|sslmode|options"
    r"|application_name|connect_timeout|target_session_attrs)\s*=",
    re.IGNORECASE,
)
"""How a libpq key/value connection string (`host=db dbname=engram`) starts."""

_SQLITE_URL = "sqlite:///"


def scheme_of(address: str) -> str:
    """The scheme of a URL (`postgresql://h/db` -> `postgresql`); `postgresql` for a libpq
    key/value connection string (`host=db dbname=engram`); `sqlite` for a path."""
    scheme, separator, _ = address.partition("://")
    if separator:
        return scheme.lower()
    return "postgresql" if _LIBPQ_KEYWORDS.match(address) else "sqlite"


def sqlite_path(address: str) -> str:
    """The file a SQLite address names: `sqlite:///data/x.db` -> `data/x.db`
    (`sqlite:////abs/x.db` -> `/abs/x.db`); a path is its own.

    Raises:
        ConfigError: A `sqlite:` URL not of the form `sqlite:///path`.
    """
    path = address.removeprefix(_SQLITE_URL)
    if "://" in path:
        raise ConfigError(
            f"a SQLite URL is sqlite:///relative or sqlite:////absolute/path, not {address!r}"
        )
    if not path:  # SQLite would open a temporary database, gone at close with all it got
        raise ConfigError(f"a SQLite address names a file, not {address!r}")
    return path


def lowered_scheme(address: str) -> str:
    """`address` with its scheme in lower case, as the drivers read it (`scheme_of` and
    the registry ignore its case: `POSTGRESQL://...` is PostgreSQL)."""
    scheme, separator, rest = address.partition("://")
    return f"{scheme.lower()}{separator}{rest}" if separator else address


@contextmanager
def hidden_password(address: str) -> Iterator[None]:
    """Engram errors raised inside, with the password of `address` replaced by `***`: a
    driver that cannot parse an address quotes it (or the part it choked on) in its error,
    and errors end up in logs and on terminals."""
    try:
        yield
    except EngramError as exc:
        password = password_of(address)
        if password is None or password not in str(exc):
            raise
        raise type(exc)(str(exc).replace(password, "***")) from None


def checked_redis_url(address: str) -> str:
    """`address` as redis-py reads it (its scheme in lower case), checked first: redis-py
    raises a bare ValueError for a port or option it cannot read, and reads a database
    that is not a number as database 0.

    Raises:
        ConfigError: A malformed Redis URL.
    """
    from redis.connection import parse_url  # the caller has the driver (`_driver_extra`)

    address = lowered_scheme(address)
    try:
        options = parse_url(address)  # type: ignore[no-untyped-call]  # redis-py's own
        database = urlsplit(address).path.strip("/")
    except ValueError as exc:
        raise ConfigError(f"not a valid Redis URL: {exc}") from exc
    if database and "db" not in options:
        raise ConfigError(f"a Redis URL's path is a database number, not {database!r}")
    return address


def open_backend(
    address: str, settings: EngramSettings, *, conversations: bool, memories: bool
) -> OpenedBackend:
    """Open the stores at `address` that are asked for.

    Raises:
        ConfigError: No backend serves the address's scheme, or its extra is not installed.
        BackendUnavailable: The server cannot be reached.
    """
    opener = _opener(address)
    return opener(address, settings, conversations=conversations, memories=memories)


def check_address(address: str) -> None:
    """Refuse, without opening anything, an address no backend serves or a malformed SQLite
    one (what can be known before connecting).

    Raises:
        ConfigError: As `open_backend` would for these.
    """
    _opener(address)
    if scheme_of(address) == "sqlite":
        sqlite_path(address)


def _opener(address: str) -> BackendOpener:
    scheme = scheme_of(address)
    opener = _openers().get(scheme) or _openers(load_plugins=True).get(scheme)
    if opener is None:
        known = ", ".join(sorted(_openers(load_plugins=True)))
        raise ConfigError(f"no backend for {scheme}:// addresses (known: {known})")
    return opener


_registry: dict[str, BackendOpener] = {}
_plugins_loaded = False
_lock = threading.Lock()


def _openers(*, load_plugins: bool = False) -> dict[str, BackendOpener]:
    """scheme -> opener: Engram's own, and the plugins' once `load_plugins` asked for them."""
    global _plugins_loaded
    with _lock:
        if not _registry:
            register_builtin_backends(_register)
        if load_plugins and not _plugins_loaded:
            _plugins_loaded = True
            for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
                try:
                    entry_point.load()(_register)
                except EngramError:
                    raise
                except Exception as exc:  # a broken plugin must say which one it is
                    raise ConfigError(
                        f"backend plugin {entry_point.name!r} ({entry_point.value}) failed: {exc}"
                    ) from exc
        return _registry


def _register(scheme: str, opener: BackendOpener) -> None:
    scheme = scheme.lower()
    if scheme in _registry and _registry[scheme] is not opener:
        raise ConfigError(f"two backends register the scheme {scheme!r}")
    _registry[scheme] = opener


def register_builtin_backends(register: Register) -> None:
    """The hook of Engram's own backends."""
    register("sqlite", _open_sqlite)
    for scheme in POSTGRES_SCHEMES:
        register(scheme, _open_postgres)
    for scheme in REDIS_SCHEMES:
        register(scheme, _open_redis)


H = TypeVar("H")


def _serve(
    handle: AbstractContextManager[H],
    stores: Callable[[H], tuple[BaseConversationStore | None, BaseMemoryStore | None]],
) -> OpenedBackend:
    """Open `handle` (a connection, a pool, a client), build the stores on it, and close it
    again if building them fails; else `close` closes it."""
    with ExitStack() as stack:
        conversations, memories = stores(stack.enter_context(handle))
        if memories is not None:  # what the store opened itself closes before its handle
            stack.callback(memories.close)
        return OpenedBackend(conversations, memories, stack.pop_all().close)


@contextmanager
def _driver_extra() -> Iterator[None]:
    """Imports of a backend's driver: a missing extra is a `ConfigError` (the stores' own
    ImportError message says which extra to install)."""
    try:
        yield
    except ImportError as exc:
        raise ConfigError(str(exc)) from exc


def _open_sqlite(
    address: str, settings: EngramSettings, *, conversations: bool, memories: bool
) -> OpenedBackend:
    from engram.stores.sqlite import SqliteConnection, SqliteConversationStore
    from engram.stores.sqlite.memories import SqliteMemoryStore

    return _serve(
        closing(SqliteConnection(sqlite_path(address), durability=settings.durability)),
        lambda connection: (
            SqliteConversationStore(connection) if conversations else None,
            SqliteMemoryStore(connection) if memories else None,
        ),
    )


def _open_postgres(
    address: str, settings: EngramSettings, *, conversations: bool, memories: bool
) -> OpenedBackend:
    with _driver_extra():
        from engram.stores.postgres import PostgresConversationStore, PostgresMemoryStore
        from engram.stores.postgres._internal import open_pool
    durability = settings.durability
    unavailable: list[str] = []

    def memory_store(pool: Any) -> PostgresMemoryStore | None:
        if not memories:
            return None
        try:
            return PostgresMemoryStore(pool, durability=durability)
        except ConfigError as exc:  # no pgvector: fatal only if memories alone were asked
            if not conversations:
                raise
            unavailable.append(str(exc))
            return None

    with hidden_password(address):
        opened = _serve(
            open_pool(lowered_scheme(address), durability, max_size=settings.postgres_pool_size),
            lambda pool: (
                PostgresConversationStore(pool, durability=durability) if conversations else None,
                memory_store(pool),
            ),
        )
    return opened._replace(memories_unavailable=unavailable[0] if unavailable else None)


def _open_redis(
    address: str, settings: EngramSettings, *, conversations: bool, memories: bool
) -> OpenedBackend:
    with _driver_extra():
        from engram.stores.redis import RedisConversationStore
        from engram.stores.redis._internal import connect, map_backend_errors

        address = checked_redis_url(address)

    def conversation_store(client: Any) -> RedisConversationStore | None:
        """The store, once the server answers a PING: an unreachable one is a
        `BackendUnavailable` here, as PostgreSQL's is when its pool opens, not at first use."""
        if not conversations:
            return None
        with map_backend_errors():
            client.ping()
        return RedisConversationStore(client, prefix=settings.redis_prefix)

    # Redis stores no long-term memories (no vector search): `memories` gets None.
    with hidden_password(address):
        return _serve(connect(address), lambda client: (conversation_store(client), None))
