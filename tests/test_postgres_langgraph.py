"""LangGraph's own conformance suite (`langgraph-checkpoint-conformance`) against EngramSaver
over the PostgreSQL checkpointers: the sync one (over a connection; LangGraph's async API
runs it on worker threads) and the async one (over an async pool, on the test's loop).

Every capability LangGraph defines (base: put, put_writes, get_tuple, list, delete_thread;
extended: delete_for_runs, copy_thread, prune) must pass.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import psycopg
import pytest
from langgraph.checkpoint.conformance import checkpointer_test, validate
from psycopg_pool import AsyncConnectionPool

from engram.integrations.langgraph import EngramSaver
from engram.stores.postgres import AsyncPostgresCheckpointer, PostgresCheckpointer

pytest_plugins = ["servers"]


def _registered(mode: str, url: str) -> object:
    async def factory() -> AsyncIterator[EngramSaver]:
        if mode == "sync-conn":
            with psycopg.connect(url, autocommit=True) as conn:
                yield EngramSaver(PostgresCheckpointer(conn, snapshot_every=3))
            return
        kwargs = {"autocommit": True}
        pool = AsyncConnectionPool(url, min_size=1, max_size=4, kwargs=kwargs, open=False)
        async with pool:
            checkpointer = AsyncPostgresCheckpointer(pool, snapshot_every=3)
            await checkpointer.amigrate()
            yield EngramSaver(checkpointer)

    return checkpointer_test(name=f"EngramSaver[postgres {mode}]")(factory)


@pytest.mark.parametrize("mode", ["sync-conn", "async-pool"])
async def test_langgraph_conformance(mode: str, postgres_clean_database: str) -> None:
    report = await validate(_registered(mode, postgres_clean_database))  # type: ignore[arg-type]
    failures = {name: r.failures for name, r in report.results.items() if r.failures}
    assert report.passed_all_base(), failures
    assert report.passed_all(), failures
    assert report.conformance_level() == "FULL"
    assert all(result.detected for result in report.results.values())
