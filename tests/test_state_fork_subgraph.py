"""A fork of a LangGraph thread paused inside a subgraph keeps the subgraph's history, on
every backend: `get_state_history` of the subgraph shows the same steps in the fork as in
the source, an earlier subgraph checkpoint reads the same, and time travel inside the
subgraph (`update_state` on an earlier subgraph checkpoint, then resume) ends the same.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from engram.integrations.langgraph import EngramSaver

pytest_plugins = ["servers"]


class Steps(TypedDict):
    log: Annotated[list[str], operator.add]


def _graph(saver: EngramSaver) -> Any:
    inner = StateGraph(Steps)
    inner.add_node("s1", lambda state: {"log": ["s1"]})
    inner.add_node("s2", lambda state: {"log": ["s2"]})
    inner.add_node("ask", lambda state: {"log": [str(interrupt("go on?"))]})
    inner.add_edge(START, "s1")
    inner.add_edge("s1", "s2")
    inner.add_edge("s2", "ask")
    outer = StateGraph(Steps)
    outer.add_node("pre", lambda state: {"log": ["pre"]})
    outer.add_node("sub", inner.compile())
    outer.add_edge(START, "pre")
    outer.add_edge("pre", "sub")
    outer.add_edge("sub", END)
    return outer.compile(checkpointer=saver)


def _config(thread_id: str, namespace: str | None = None, checkpoint_id: str = "") -> Any:
    configurable: dict[str, str] = {"thread_id": thread_id}
    if namespace is not None:
        configurable["checkpoint_ns"] = namespace
    if checkpoint_id:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


def _history(graph: Any, config: RunnableConfig) -> list[tuple[str, Any]]:
    return [
        (s.config["configurable"]["checkpoint_id"], s.values)
        for s in graph.get_state_history(config)
    ]


def _travel(graph: Any, thread_id: str, namespace: str, checkpoint_id: str) -> Any:
    """Rewrite an earlier subgraph step, resume the parent; the final state."""
    graph.update_state(_config(thread_id, namespace, checkpoint_id), {"log": ["edited"]})
    return graph.invoke(Command(resume="yes"), _config(thread_id))


def test_a_fork_keeps_the_history_of_a_paused_subgraph(saver: EngramSaver) -> None:
    graph = _graph(saver)
    graph.invoke({"log": []}, _config("source"))
    paused = graph.get_state(_config("source"), subgraphs=True)
    namespace = paused.tasks[0].state.config["configurable"]["checkpoint_ns"]
    source_history = _history(graph, _config("source", namespace))
    assert len(source_history) == 4  # input, s1, s2, paused at ask

    saver.checkpointer.fork("default", "source", "fork")
    assert _history(graph, _config("fork", namespace)) == source_history
    earlier = source_history[2][0]  # the subgraph with its input, before s1
    assert (
        graph.get_state(_config("fork", namespace, earlier)).values
        == graph.get_state(_config("source", namespace, earlier)).values
        == {"log": ["pre"]}
    )
    assert graph.get_state(_config("fork")).interrupts  # still paused in the subgraph
    assert _travel(graph, "fork", namespace, earlier) == _travel(
        graph, "source", namespace, earlier
    )
