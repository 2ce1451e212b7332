"""Shared fixtures: a clean environment, one conversation store per backend and API, and an
Engram keeping its memories in each memory backend, or its sessions in each conversation
backend."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from engram import Engram
from engram.stores import BaseConversationStore, InMemoryConversationStore
from engram.stores.memory_memories import InMemoryMemoryStore
from engram.testing import AsyncDrivenConversationStore
from servers import fresh_store


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's ENGRAM_* settings."""
    for name in list(os.environ):
        if name.startswith("ENGRAM_"):
            monkeypatch.delenv(name)


@pytest.fixture(params=["memory", "sqlite-file", "sqlite-memory"])
def conversation_backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[BaseConversationStore]:
    """A fresh, empty conversation store of each backend."""
    with fresh_store(request, tmp_path, "ConversationStore") as store:
        yield store


@pytest.fixture(params=["sync", "async"])
def conversation_store(
    request: pytest.FixtureRequest, conversation_backend: BaseConversationStore
) -> BaseConversationStore:
    """Each backend through its sync API, and through its async API (`abatch`)."""
    if request.param == "async":
        return AsyncDrivenConversationStore(conversation_backend)
    return conversation_backend


@pytest.fixture(params=["sqlite", "postgres"])
def memory_address(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where an Engram keeps everything, long-term memories included: a SQLite file, or a
    PostgreSQL database with pgvector (the `servers` plugin's, which the module loads)."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_clean_database")
        return url
    return str(tmp_path / "memories.db")


@pytest.fixture
def memory_engram(memory_address: str) -> Iterator[Engram]:
    """An Engram on `memory_address`."""
    with Engram(memory_address) as engram:
        yield engram


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def every_memory_engram(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engram]:
    """An Engram on each memory backend: in memory, a SQLite file, PostgreSQL with pgvector
    (the `servers` plugin's, which the module loads)."""
    if request.param == "memory":
        engram = Engram(InMemoryConversationStore(), memory_store=InMemoryMemoryStore())
    elif request.param == "postgres":
        engram = Engram(request.getfixturevalue("postgres_clean_database"))
    else:
        engram = Engram(tmp_path / "memories.db")
    with engram:
        yield engram


@pytest.fixture(params=["memory", "sqlite", "postgres", "redis"])
def every_session_engram(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engram]:
    """An empty Engram keeping sessions in each conversation backend (PostgreSQL and Redis
    the `servers` plugin's, which the module loads)."""
    if request.param == "sqlite":
        with Engram(tmp_path / "sessions.db") as engram:
            yield engram
        return
    if request.param == "postgres":
        with Engram(request.getfixturevalue("postgres_clean_database")) as engram:
            yield engram
        return
    with fresh_store(request, tmp_path, "ConversationStore") as store, Engram(store) as engram:
        yield engram
