"""A database of each backend for the CLI tests of a store (`engram threads`, `engram
events`): its `--db` address and how a test opens the store there itself."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Generic, NamedTuple, TypeVar

import pytest

S = TypeVar("S")

BACKENDS = ["sqlite", "postgres", "redis"]

SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
"""For what only a SQLite address has (a file), or what is refused before any is opened."""


class Backend(NamedTuple, Generic[S]):
    """A database of one backend: its `--db` address, and how the test opens its store
    (afresh each time: a store kept open would answer from its caches)."""

    db: str
    open: Callable[[], AbstractContextManager[S]]


def backend_of(
    request: pytest.FixtureRequest,
    file: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    sqlite: Callable[[str], AbstractContextManager[S]],
    postgres: Callable[[str], AbstractContextManager[S]],
    redis: Callable[[str, str], AbstractContextManager[S]],
) -> Backend[S]:
    """An empty database of the backend `request.param` (the servers' of the `servers`
    plugin; `file` for SQLite), with the store opener of that backend."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_clean_database")
        return Backend(url, lambda: postgres(url))
    if request.param == "redis":
        url, prefix = (request.getfixturevalue(name) for name in ("redis_url", "redis_prefix"))
        monkeypatch.setenv("ENGRAM_REDIS_PREFIX", prefix)  # the CLI reads the test's keys
        return Backend(url, lambda: redis(url, prefix))
    return Backend(str(file), lambda: sqlite(str(file)))
