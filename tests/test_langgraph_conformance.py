"""LangGraph's own conformance suite (`langgraph-checkpoint-conformance`) against EngramSaver.

Every capability LangGraph defines is implemented (base: put, put_writes, get_tuple, list,
delete_thread; extended: delete_for_runs, copy_thread, prune), so all must pass, on the
in-memory checkpointer and on SQLite (a file).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from langgraph.checkpoint.conformance import checkpointer_test, validate

from engram.integrations.langgraph import EngramSaver
from engram.stores.memory_checkpoints import InMemoryCheckpointer
from engram.stores.sqlite.checkpoints import SqliteCheckpointer


def _registered(backend: str, tmp_path: Path) -> object:
    async def factory() -> AsyncIterator[EngramSaver]:
        if backend == "memory":
            yield EngramSaver(InMemoryCheckpointer(snapshot_every=3))
            return
        with SqliteCheckpointer.from_path(tmp_path / "lg.db", snapshot_every=3) as checkpointer:
            yield EngramSaver(checkpointer)

    return checkpointer_test(name=f"EngramSaver[{backend}]")(factory)


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
async def test_langgraph_conformance(backend: str, tmp_path: Path) -> None:
    report = await validate(_registered(backend, tmp_path))  # type: ignore[arg-type]
    failures = {name: r.failures for name, r in report.results.items() if r.failures}
    assert report.passed_all_base(), failures
    assert report.passed_all(), failures
    assert report.conformance_level() == "FULL"
    assert all(result.detected for result in report.results.values())
