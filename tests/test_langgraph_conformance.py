"""LangGraph's own conformance suite (`langgraph-checkpoint-conformance`) against EngramSaver.

Every capability LangGraph defines is implemented (base: put, put_writes, get_tuple, list,
delete_thread; extended: delete_for_runs, copy_thread, prune), so all must pass, on the
in-memory checkpointer and on SQLite (a file).

Then what the suite does not check, with real graphs on all four backends (PostgreSQL and
Redis: the servers of `servers.py`): forks resume as their source would, listings by
checkpoint id return that checkpoint as LangGraph's own savers do, and many concurrent runs
on an async Redis checkpointer share its connections.
"""

from __future__ import annotations

import asyncio
import operator
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, Send, interrupt

from engram.integrations.langgraph import EngramSaver
from engram.stores.memory_checkpoints import InMemoryCheckpointer
from engram.stores.redis import AsyncRedisCheckpointer
from engram.stores.sqlite.checkpoints import SqliteCheckpointer

pytest_plugins = ["servers"]


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


# Real graphs on every backend.


def _config(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


class Approval(TypedDict):
    n: int
    log: Annotated[list[str], operator.add]


def _ask(state: Approval) -> dict[str, Any]:
    return {"log": [f"ask:{interrupt('approve?')}"]}


def _then_ask(
    name: str,
    first: Callable[[Approval], dict[str, Any]],
    ask: Callable[[Approval], dict[str, Any]] = _ask,
) -> StateGraph[Approval]:
    """START -> `name` -> "ask" (which waits for an approval) -> END."""
    graph = StateGraph(Approval)
    graph.add_node(name, first)
    graph.add_node("ask", ask)
    graph.add_edge(START, name)
    graph.add_edge(name, "ask")
    graph.add_edge("ask", END)
    return graph


def _approval_graph(saver: EngramSaver) -> Any:
    def step(state: Approval) -> dict[str, Any]:
        return {"n": state["n"] + 1, "log": ["step"]}

    return _then_ask("step", step).compile(checkpointer=saver)


def test_fork_of_an_interrupted_thread_is_interrupted(saver: EngramSaver) -> None:
    graph = _approval_graph(saver)
    graph.invoke({"n": 0, "log": []}, _config("t1"))
    saver.checkpointer.fork(saver.tenant, "t1", "t2")
    state = graph.get_state(_config("t2"))
    assert state.next == ("ask",)
    assert [i.value for task in state.tasks for i in task.interrupts] == ["approve?"]
    assert graph.invoke(Command(resume="yes"), _config("t2"))["log"] == ["step", "ask:yes"]
    assert graph.invoke(Command(resume="no"), _config("t1"))["log"] == ["step", "ask:no"]


def test_fork_of_a_thread_paused_in_a_subgraph_keeps_the_subgraph(saver: EngramSaver) -> None:
    """The subgraph's checkpoints (its own namespace) go with the fork: resuming the fork does
    not run the subgraph's finished nodes again, exactly as resuming the source does not."""
    calls: list[str] = []

    def pre(state: Approval) -> dict[str, Any]:
        calls.append("pre")
        return {"log": ["pre"]}

    def ask(state: Approval) -> dict[str, Any]:
        calls.append("ask")
        return _ask(state)

    outer = StateGraph(Approval)
    outer.add_node("sub", _then_ask("pre", pre, ask).compile())
    outer.add_edge(START, "sub")
    outer.add_edge("sub", END)
    graph = outer.compile(checkpointer=saver)
    graph.invoke({"n": 0, "log": []}, _config("x"))
    saver.checkpointer.fork(saver.tenant, "x", "y")
    source = graph.get_state(_config("x"), subgraphs=True)
    fork = graph.get_state(_config("y"), subgraphs=True)
    assert fork.values == source.values and fork.next == source.next == ("sub",)
    [source_sub] = [task.state for task in source.tasks]
    [fork_sub] = [task.state for task in fork.tasks]
    assert isinstance(fork_sub, type(source_sub))
    assert fork_sub.values == source_sub.values == {"n": 0, "log": ["pre"]}  # type: ignore[union-attr]
    assert fork_sub.next == ("ask",)  # type: ignore[union-attr]
    for thread_id in ("y", "x"):
        calls.clear()
        result = graph.invoke(Command(resume="1"), _config(thread_id))
        assert result["log"] == ["pre", "ask:1"], thread_id
        assert calls == ["ask"], thread_id


class Fan(TypedDict, total=False):
    fan: Annotated[list[int], operator.add]


def test_fork_after_a_partial_failure_reruns_only_the_failed_task(saver: EngramSaver) -> None:
    """3 of 4 parallel tasks succeeded: a fork, like its source, runs only the failed one again."""
    calls: list[int] = []
    failing = {2}

    def worker(state: dict[str, int]) -> dict[str, Any]:
        calls.append(state["i"])
        if state["i"] in failing:
            deadline = time.monotonic() + 60  # fail once the other three writes are saved
            while len(_saved(saver, "t1").pending_writes) < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
            raise RuntimeError("boom")
        return {"fan": [state["i"]]}

    graph = StateGraph(Fan)
    graph.add_node("start", lambda state: {})
    graph.add_node("worker", worker)
    graph.add_edge(START, "start")
    fan_out = [Send("worker", {"i": i}) for i in range(4)]
    graph.add_conditional_edges("start", lambda state: fan_out, ["worker"])
    graph.add_edge("worker", END)
    compiled = graph.compile(checkpointer=saver)
    with pytest.raises(RuntimeError):
        compiled.invoke({"fan": []}, _config("t1"))
    failing.clear()
    saver.checkpointer.fork(saver.tenant, "t1", "t1-fork")
    for thread_id in ("t1-fork", "t1"):
        calls.clear()
        assert sorted(compiled.invoke(None, _config(thread_id))["fan"]) == [0, 1, 2, 3]
        assert calls == [2], thread_id


def _saved(saver: EngramSaver, thread_id: str) -> CheckpointTuple:
    found = saver.get_tuple(_config(thread_id))
    assert found is not None
    return found


class Counter(TypedDict):
    n: int


def _counter_graph(checkpointer: Any) -> Any:
    graph = StateGraph(Counter)
    graph.add_node("add", lambda state: {"n": state["n"] + 1})
    graph.add_edge(START, "add")
    graph.add_edge("add", END)
    return graph.compile(checkpointer=checkpointer)


def test_list_and_history_of_a_config_with_a_checkpoint_id(saver: EngramSaver) -> None:
    """As LangGraph's savers: a config naming a checkpoint lists that checkpoint only."""
    for checkpointer in (InMemorySaver(), saver):
        graph = _counter_graph(checkpointer)
        graph.invoke({"n": 0}, _config("t"))
        graph.invoke({"n": 10}, _config("t"))
        history = list(graph.get_state_history(_config("t")))
        assert len(history) == 6
        middle = history[2].config
        listed = list(checkpointer.list(middle))
        assert [t.config["configurable"]["checkpoint_id"] for t in listed] == [
            middle["configurable"]["checkpoint_id"]
        ]
        assert [s.config for s in graph.get_state_history(middle)] == [middle]
        assert list(checkpointer.list(middle, filter={"step": -5})) == []
        assert list(checkpointer.list(middle, before=middle)) == []
        assert len(list(checkpointer.list(middle, before=history[0].config))) == 1


async def test_many_concurrent_runs_on_async_redis(redis_url: str, redis_prefix: str) -> None:
    async def step(state: Counter) -> dict[str, Any]:
        return {"n": state["n"] + 1}

    graph = StateGraph(Counter)
    graph.add_node("step", step)
    graph.add_edge(START, "step")
    graph.add_conditional_edges("step", lambda state: END if state["n"] >= 5 else "step")
    async with AsyncRedisCheckpointer.from_url(redis_url, prefix=redis_prefix) as checkpointer:
        compiled = graph.compile(checkpointer=EngramSaver(checkpointer))
        runs = [compiled.ainvoke({"n": 0}, _config(uuid.uuid4().hex)) for _ in range(120)]
        assert await asyncio.gather(*runs) == [{"n": 5}] * 120
