"""Clients, optimistic transactions and error translation shared by Engram's Redis stores.

A batch is one optimistic transaction (`WATCH` ... `MULTI` ... `EXEC`):

1. The batch runs as a generator (see `Read`): it asks for each key it reads, and the driver
   `WATCH`es the key before reading it. Nothing is written yet: the batch appends its write
   commands to a `Tx` and keeps what it wrote in memory, so its later ops see its own writes.
2. Every rule is checked in this phase; an op that fails raises and nothing is written.
3. The driver sends the writes in one `MULTI`/`EXEC`. If any watched key changed since it was
   read, Redis discards the whole transaction, and the batch runs again from the start, on
   fresh reads (with a short random back-off).

So a batch is all-or-nothing and isolated: its writes apply together, and only if nothing it
read changed meanwhile. Writers of different sessions or streams watch different keys and
never retry because of each other. The same generator runs on the sync driver (`run`) and on
the async one (`arun`), so both APIs share every rule.

Watching a key costs Redis time per key the connection already watches (`WATCH` of N keys
is O(N²) on Redis 7), so a batch that reads many keys (the event log's one key per event id)
may read those unwatched and queue its writes as one checked script (`Tx.write_checked`):
at `EXEC` the script first checks that what it read unwatched still holds; if not, it writes
nothing and the batch runs again, as after a lost race.

A batch that Redis can run whole as one server-side Lua script (atomic by itself) yields that
script as its only read, unwatched, and queues no writes: one round trip, never retried. The
script goes by `EVALSHA`; the driver loads it (`SCRIPT LOAD`) when Redis answers NOSCRIPT.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any, NamedTuple, TypeAlias, TypeVar

from engram._exceptions import (
    BackendError,
    BackendUnavailable,
    ConfigError,
    ConflictError,
    EngramError,
    InvalidInputError,
)

try:
    import redis
    import redis.asyncio
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("the Redis backend needs redis-py: pip install 'engramdb[redis]'") from exc

__all__ = [
    "AsyncClient",
    "Client",
    "Read",
    "Script",
    "Tx",
    "Work",
    "aconnect",
    "arun",
    "async_client_from",
    "call_on_loop",
    "client_from",
    "connect",
    "map_backend_errors",
    "run",
    "running_loop",
]

Client: TypeAlias = "redis.Redis"
AsyncClient: TypeAlias = "redis.asyncio.Redis"
T = TypeVar("T")

MAX_ATTEMPTS = 1000
"""Runs of one batch before giving up under contention (each lost race means another
writer committed, so the system as a whole always progresses)."""


class Read(NamedTuple):
    """One read a batch asks for: `WATCH` the keys, then run the command."""

    command: tuple[Any, ...]
    """The Redis command and its arguments."""
    watch: tuple[str, ...] = ()
    """The keys the command reads (watched first, so a change to them aborts the batch)."""
    script: str | None = None
    """The Lua source `command` runs by `EVALSHA`: loaded if Redis does not have it yet."""


class Script:
    """A Lua script, run by its SHA1 (`EVALSHA`)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    def read(self, keys: Sequence[str], args: Sequence[Any]) -> Read:
        """The read that runs the script on `keys` with `args` (unwatched: it is atomic)."""
        return Read(("EVALSHA", self.sha, len(keys), *keys, *args), script=self.source)


class Tx:
    """The writes of one run of a batch, sent in one `MULTI`/`EXEC` at its end."""

    def __init__(self) -> None:
        self.commands: list[tuple[Any, ...]] = []
        self.checked: list[int] = []
        """The positions in `commands` of checked scripts (see `write_checked`)."""

    def write(self, *command: Any) -> None:
        """Queue one write command."""
        self.commands.append(command)

    def write_checked(self, *command: Any) -> None:
        """Queue a script that re-checks, at `EXEC`, what the batch read without watching.

        The script returns 0, having written nothing, if that changed; the batch then runs
        again on fresh reads, as after a lost race. Any other reply means it wrote.
        """
        self.checked.append(len(self.commands))
        self.commands.append(command)

    def lost(self, replies: Sequence[Any]) -> bool:
        """Whether a checked script of this run found its reads stale (its `EXEC` replies)."""
        return any(replies[index] == 0 for index in self.checked)


Work: TypeAlias = Generator[Read, Any, T]
"""A batch: yields reads, receives their replies, queues writes on its `Tx`, returns results."""


def client_from(target: Client | redis.ConnectionPool) -> Client:
    """A client for what a store was given: a client, or a connection pool."""
    if isinstance(target, redis.ConnectionPool):
        return redis.Redis(connection_pool=target)
    return target


def async_client_from(target: AsyncClient | redis.asyncio.ConnectionPool) -> AsyncClient:
    """An async client for what an async store was given: a client, or a connection pool."""
    if isinstance(target, redis.asyncio.ConnectionPool):
        return redis.asyncio.Redis(connection_pool=target)
    return target


MAX_CONNECTIONS = 100
"""Connections of the pool `connect`/`aconnect` open (redis-py's own pools' default)."""
POOL_TIMEOUT = 20.0
"""Seconds a batch waits for a free connection of that pool before `BackendUnavailable`."""


@contextmanager
def connect(url: str) -> Iterator[Client]:
    """A client of `url` on a pool of its own, closed when the block exits.

    The pool blocks: when all its connections are in use, a batch waits for one (at most
    `POOL_TIMEOUT` seconds) instead of failing. The URL's `max_connections` and `timeout`
    query parameters override `MAX_CONNECTIONS` and `POOL_TIMEOUT`.
    """
    pool = redis.BlockingConnectionPool.from_url(
        url, max_connections=MAX_CONNECTIONS, timeout=POOL_TIMEOUT
    )
    client = redis.Redis(connection_pool=pool)
    try:
        yield client
    finally:
        client.close()
        pool.disconnect()


@asynccontextmanager
async def aconnect(url: str) -> AsyncIterator[AsyncClient]:
    """An async client of `url` on a pool of its own, closed when the block exits (see
    `connect`: a task waits for a free connection)."""
    pool = redis.asyncio.BlockingConnectionPool.from_url(
        url, max_connections=MAX_CONNECTIONS, timeout=POOL_TIMEOUT
    )
    client = redis.asyncio.Redis(connection_pool=pool)
    try:
        yield client
    finally:
        await client.aclose()
        await pool.disconnect()


@contextmanager
def map_backend_errors() -> Iterator[None]:
    """Re-raise redis-py errors as Engram errors (`raise ... from exc`)."""
    try:
        yield
    except EngramError:
        raise
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise BackendUnavailable(f"redis: {exc}") from exc
    except redis.WatchError as exc:
        # Lost races are retried inside `run`; one that escapes is redis-py reporting a
        # connection lost while keys were watched.
        raise BackendUnavailable(f"redis: {exc}") from exc
    except redis.RedisError as exc:
        raise BackendError(f"redis: {exc}") from exc
    except UnicodeEncodeError as exc:
        # Text the client cannot encode (lone surrogates) is bad input, not a backend fault.
        raise InvalidInputError(f"text not encodable as UTF-8: {exc}") from exc


def _gave_up() -> ConflictError:
    return ConflictError(
        f"redis: the batch lost {MAX_ATTEMPTS} races in a row to concurrent writers; retry later"
    )


def _backoff(attempt: int) -> float:
    return 0.0 if attempt == 0 else random.uniform(0, min(0.05, 0.0005 * 2**attempt))


def _execute(pipe: Any, read: Read) -> Any:
    try:
        return pipe.immediate_execute_command(*read.command)
    except redis.exceptions.NoScriptError:
        if read.script is None:
            raise
        pipe.immediate_execute_command("SCRIPT LOAD", read.script)
        return pipe.immediate_execute_command(*read.command)


async def _aexecute(pipe: Any, read: Read) -> Any:
    try:
        return await pipe.immediate_execute_command(*read.command)
    except redis.exceptions.NoScriptError:
        if read.script is None:
            raise
        await pipe.immediate_execute_command("SCRIPT LOAD", read.script)
        return await pipe.immediate_execute_command(*read.command)


def run(client: Client, make: Callable[[Tx], Work[T]]) -> T:
    """Run a batch as one optimistic transaction (see the module docstring)."""
    # redis-py's pipeline methods are untyped: handle the pipeline as Any.
    pipeline: Any = client.pipeline(transaction=True)
    with map_backend_errors(), pipeline as pipe:
        for attempt in range(MAX_ATTEMPTS):
            if attempt:  # sleep(0) is not free: it yields the CPU to other processes
                time.sleep(_backoff(attempt))
            tx = Tx()
            work = make(tx)
            try:
                reply: Any = None
                while True:
                    read = work.send(reply)
                    if read.watch:
                        pipe.watch(*read.watch)
                    reply = _execute(pipe, read)
            except StopIteration as stop:
                result: T = stop.value
            try:
                pipe.multi()
                for command in tx.commands:
                    pipe.execute_command(*command)
                replies = pipe.execute()
            except redis.WatchError:
                pipe.reset()
                continue
            if tx.lost(replies):
                continue
            return result
    raise _gave_up()


async def arun(client: AsyncClient, make: Callable[[Tx], Work[T]]) -> T:
    """Async `run`: the same generator, on an async client."""
    pipeline: Any = client.pipeline(transaction=True)
    with map_backend_errors():
        async with pipeline as pipe:
            for attempt in range(MAX_ATTEMPTS):
                if attempt:
                    await asyncio.sleep(_backoff(attempt))
                tx = Tx()
                work = make(tx)
                try:
                    reply: Any = None
                    while True:
                        read = work.send(reply)
                        if read.watch:
                            await pipe.watch(*read.watch)
                        reply = await _aexecute(pipe, read)
                except StopIteration as stop:
                    result: T = stop.value
                try:
                    pipe.multi()
                    for command in tx.commands:
                        pipe.execute_command(*command)
                    replies = await pipe.execute()
                except redis.WatchError:
                    await pipe.reset()
                    continue
                if tx.lost(replies):
                    continue
                return result
    raise _gave_up()


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread, if any."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def call_on_loop(
    loop: asyncio.AbstractEventLoop | None, coro: Coroutine[Any, Any, T], owner: str
) -> T:
    """Run `coro` on `loop` (the async store's own) from another thread, and wait for it.

    Called on the loop's own thread it would deadlock, so it raises `ConfigError` instead;
    so it does when that loop is not running.
    """
    if loop is None or not loop.is_running() or running_loop() is loop:
        coro.close()
        raise ConfigError(
            f"{owner} is async: await its a-methods (abatch, acreate_session, ...) on its event "
            "loop; its sync methods only work from another thread while that loop runs. "
            "Sync code should use the sync store class."
        )
    return asyncio.run_coroutine_threadsafe(coro, loop).result()
