"""LangGraph's conformance suite (`langgraph-checkpoint-conformance`) against EngramSaver on Redis.

Both Redis checkpointers: the sync one (LangGraph's async API reaches it through `abatch`, on
a worker thread) and the async one (`redis.asyncio`, created on the test's event loop). Every
capability LangGraph defines must pass: the base ones (put, put_writes, get_tuple, list,
delete_thread) and the extended ones (delete_for_runs, copy_thread, prune).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from langgraph.checkpoint.conformance import checkpointer_test, validate

from engram.integrations.langgraph import EngramSaver
from engram.stores.redis import AsyncRedisCheckpointer, RedisCheckpointer

pytest_plugins = ["servers"]


def _registered(mode: str, url: str, prefix: str) -> object:
    async def factory() -> AsyncIterator[EngramSaver]:
        if mode == "sync":
            with RedisCheckpointer.from_url(url, prefix=prefix, snapshot_every=3) as checkpointer:
                yield EngramSaver(checkpointer)
            return
        async with AsyncRedisCheckpointer.from_url(url, prefix=prefix, snapshot_every=3) as cp:
            yield EngramSaver(cp)

    return checkpointer_test(name=f"EngramSaver[redis-{mode}]")(factory)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_langgraph_conformance(mode: str, redis_url: str, redis_prefix: str) -> None:
    report = await validate(_registered(mode, redis_url, redis_prefix))  # type: ignore[arg-type]
    failures = {name: r.failures for name, r in report.results.items() if r.failures}
    assert report.passed_all_base(), failures
    assert report.passed_all(), failures
    assert report.conformance_level() == "FULL"
    assert all(result.detected for result in report.results.values())
