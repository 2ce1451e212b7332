"""Bad input through `EngramSaver`, LangGraph's API: refused with `InvalidInputError` saying
what to pass, the same on every backend, before anything is deleted or written.

One thread or run id where LangGraph's API takes a list of them (`prune`, `delete_for_runs`)
is refused, as LangGraph's own PostgreSQL saver refuses it, not split into one id per
character (which deleted the threads "a" and "b" for "ab"). A config whose `checkpoint_id`
is not a checkpoint id, given to `update_state`, names the new checkpoint's parent.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypedDict

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.graph import START, StateGraph

from engram._exceptions import InvalidInputError
from engram.integrations.langgraph import EngramSaver

pytest_plugins = ["servers"]


class State(TypedDict):
    n: int


def _config(thread_id: str, **configurable: Any) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id, **configurable}}


def _graph(saver: EngramSaver) -> Any:
    builder = StateGraph(State)
    builder.add_node("add", lambda state: {"n": state["n"] + 1})
    builder.add_edge(START, "add")
    return builder.compile(checkpointer=saver)


def _left(graph: Any, threads: list[str]) -> list[str]:
    return [t for t in threads if graph.get_state(_config(t)).values]


@pytest.mark.parametrize("api", ["sync", "async"])
@pytest.mark.parametrize("strategy", ["delete", "keep_latest"])
def test_prune_refuses_one_thread_id_alone(saver: EngramSaver, api: str, strategy: str) -> None:
    graph, threads = _graph(saver), ["a", "b", "ab"]
    for thread in threads:
        graph.invoke({"n": 0}, _config(thread))
    with pytest.raises(InvalidInputError, match=r"thread_ids must be a list.*\['ab'\]"):
        if api == "sync":
            saver.prune("ab", strategy=strategy)  # type: ignore[arg-type]
        else:
            asyncio.run(saver.aprune("ab", strategy=strategy))  # type: ignore[arg-type]
    assert _left(graph, threads) == threads
    assert [len(list(saver.list(_config(t)))) for t in threads] == [3, 3, 3]
    saver.prune(["ab"], strategy=strategy)  # a list of one id works
    assert len(list(saver.list(_config("a")))) == 3
    assert len(list(saver.list(_config("ab")))) == (0 if strategy == "delete" else 1)


@pytest.mark.parametrize("api", ["sync", "async"])
def test_delete_for_runs_refuses_one_run_id_alone(saver: EngramSaver, api: str) -> None:
    graph, runs = _graph(saver), ["r", "u", "ru"]
    for run in runs:
        graph.invoke({"n": 0}, _config(f"thread-{run}", run_id=run))
    with pytest.raises(InvalidInputError, match="run_ids must be a list"):
        if api == "sync":
            saver.delete_for_runs("ru")
        else:
            asyncio.run(saver.adelete_for_runs("ru"))
    threads = [f"thread-{run}" for run in runs]
    assert _left(graph, threads) == threads
    saver.delete_for_runs(["ru"])
    assert _left(graph, threads) == ["thread-r", "thread-u"]


def test_prune_refuses_an_unknown_strategy_before_anything(saver: EngramSaver) -> None:
    with pytest.raises(InvalidInputError, match="unknown prune strategy"):
        saver.prune([], strategy="all")


@pytest.mark.parametrize("api", ["sync", "async"])
def test_update_state_on_a_checkpoint_id_that_is_not_one_is_refused(
    saver: EngramSaver, api: str
) -> None:
    """The same error on every backend (the in-memory one stored "bogus" as the parent, the
    SQL ones refused it, PostgreSQL with its server's words), and the thread is unchanged."""
    graph = _graph(saver)
    graph.invoke({"n": 0}, _config("t"))
    bogus = _config("t", checkpoint_id="bogus")
    with pytest.raises(InvalidInputError, match=r"configurable\.checkpoint_id .*'bogus'"):
        if api == "sync":
            graph.update_state(bogus, {"n": 5})
        else:
            asyncio.run(graph.aupdate_state(bogus, {"n": 5}))
    assert graph.get_state(_config("t")).values == {"n": 1}
    assert len(list(saver.list(_config("t")))) == 3
