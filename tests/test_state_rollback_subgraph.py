"""Rolling a LangGraph thread back to where a question was asked inside a subgraph, on every
backend, against LangGraph's own time travel (`InMemorySaver`, `invoke(None, checkpoint)`).

The rolled-back head shows what time travel shows: the question (with the id LangGraph
asks it with there), the subgraph paused where it asked, its earlier steps done; a new
answer finishes the run the same way. The source's history stays.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.types import Command, interrupt

from engram.integrations.langgraph import EngramSaver
from test_state_rollback import _config

pytest_plugins = ["servers"]

T = "default"


class Steps(TypedDict):
    log: Annotated[list[str], operator.add]


def _ask_twice(state: Steps) -> dict[str, Any]:
    return {"log": [str(interrupt("go on?")), str(interrupt("sure?"))]}


def _graph(saver: BaseCheckpointSaver[Any], depth: int = 1) -> Any:
    """`pre`, then a subgraph (nested `depth` deep) that runs `s1` and asks twice in `ask`."""
    inner = StateGraph(Steps)
    inner.add_node("s1", lambda state: {"log": ["s1"]})
    inner.add_node("ask", _ask_twice)
    inner.add_edge(START, "s1")
    inner.add_edge("s1", "ask")
    graph = inner.compile()
    for _ in range(depth - 1):
        wrapper = StateGraph(Steps)
        wrapper.add_node("deeper", graph)
        wrapper.add_edge(START, "deeper")
        graph = wrapper.compile()
    outer = StateGraph(Steps)
    outer.add_node("pre", lambda state: {"log": ["pre"]})
    outer.add_node("sub", graph)
    outer.add_node("post", lambda state: {"log": ["post"]})
    outer.add_edge(START, "pre")
    outer.add_edge("pre", "sub")
    outer.add_edge("sub", "post")
    return outer.compile(checkpointer=saver)


def _shown(graph: Any, config: RunnableConfig) -> tuple[Any, ...]:
    """What `get_state(subgraphs=True)` shows, but ids: questions, next, values, and the
    same of each paused subgraph level."""
    state = graph.get_state(config, subgraphs=True)
    levels = []
    while state is not None:
        levels.append(([i.value for i in state.interrupts], state.next, state.values))
        state = state.tasks[0].state if state.tasks else None
    return tuple(levels)


def _asked_then_answered(graph: Any, config: RunnableConfig, answers: list[str]) -> str:
    graph.invoke({"log": []}, config)
    asked = graph.get_state(config)
    for answer in answers:
        graph.invoke(Command(resume=answer), config)
    return str(asked.config["configurable"]["checkpoint_id"])


def _finish(graph: Any, config: RunnableConfig) -> Any:
    """Answer the questions shown, by interrupt id, until the run ends; its values."""
    answers = iter(["no", "really"])
    while questions := graph.get_state(config).interrupts:
        graph.invoke(Command(resume={q.id: next(answers) for q in questions}), config)
    return graph.get_state(config).values


@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("answers", [["yes"], ["yes", "sure"]], ids=["paused", "done"])
def test_rollback_into_a_subgraph_shows_what_time_travel_shows(
    saver: EngramSaver, depth: int, answers: list[str]
) -> None:
    expected = _graph(InMemorySaver(), depth)
    asked = _asked_then_answered(expected, _config("t"), answers)
    expected.invoke(None, {"configurable": {"thread_id": "t", "checkpoint_id": asked}})
    shown = _shown(expected, _config("t"))
    assert shown[0][0] == ["go on?"] and shown[-1][1] == ("ask",)

    graph = _graph(saver, depth)
    asked = _asked_then_answered(graph, _config("trip"), answers)
    history = list(graph.get_state_history(_config("trip")))
    saver.checkpointer.rollback(T, "trip", asked)
    assert _shown(graph, _config("trip")) == shown
    saver.checkpointer.fork(T, "trip", "probe")
    reasked = graph.invoke(None, _config("probe"))["__interrupt__"]
    assert graph.get_state(_config("trip")).interrupts == tuple(reasked)
    assert _shown(graph, _config("probe")) == shown

    assert _finish(graph, _config("trip")) == _finish(expected, _config("t"))
    assert list(graph.get_state_history(_config("trip")))[-len(history) :] == history


def test_a_rolled_back_subgraph_question_can_be_rolled_back_to_again(saver: EngramSaver) -> None:
    """The copies name the new head as their parent level: a rollback to it finds them."""
    graph, config = _graph(saver, 2), _config("trip")
    saver.checkpointer.rollback(T, "trip", _asked_then_answered(graph, config, ["yes", "sure"]))
    shown = _shown(graph, config)
    rolled_back = graph.get_state(config).config["configurable"]["checkpoint_id"]
    graph.invoke(Command(resume="again"), config)
    assert _shown(graph, config)[0][0] == ["sure?"]

    saver.checkpointer.rollback(T, "trip", rolled_back)
    assert _shown(graph, config) == shown
    assert _finish(graph, config) == {"log": ["pre", "pre", "pre", "s1", "no", "really", "post"]}
