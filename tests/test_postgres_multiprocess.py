"""Many processes, one PostgreSQL database: concurrent writers of one session, one stream and
one user's memories.

See `backend_processes` for the scenarios. Each writer process opens its own connections.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from backend_processes import (
    WriterPool,
    check_memory_writers,
    check_session_writers,
    check_stream_writers,
    run_memory_writers,
    run_session_writers,
    run_stream_writers,
)

pytest_plugins = ["servers"]


@pytest.fixture(scope="module")
def writers() -> Iterator[WriterPool]:
    """Three writer processes, shared by this module's tests."""
    pool = WriterPool(3)
    yield pool
    pool.close()


def test_writers_of_one_session_lose_and_reorder_nothing(
    writers: WriterPool, postgres_clean_database: str
) -> None:
    check_session_writers(*run_session_writers(writers, "postgres", postgres_clean_database))


def test_writers_of_one_stream_conflict_and_lose_nothing(
    writers: WriterPool, postgres_clean_database: str
) -> None:
    reports, streams = run_stream_writers(writers, "postgres", postgres_clean_database, rounds=5)
    check_stream_writers(reports, streams, rounds=5, per_thread=10)


def test_writers_of_one_users_memories_lose_nothing(
    writers: WriterPool, postgres_clean_database: str
) -> None:
    check_memory_writers(*run_memory_writers(writers, postgres_clean_database))
