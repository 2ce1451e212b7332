"""Rolling back or forking a LangGraph thread to where a task asked the first of several
questions, on every backend, against LangGraph's own time travel (`InMemorySaver`).

A node that calls `interrupt("first?")` then `interrupt("second?")` stays at one checkpoint
while answered, and LangGraph replaces the pending question there with the second. Rolled
back (or forked, once the thread moved on) to that checkpoint, the thread asks the first
question again, as `invoke(None, that checkpoint)` does, and the answers given next are
matched in order: the first to the first question, the second to the second.
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


class Form(TypedDict):
    answers: Annotated[list[str], operator.add]


def _one_node(saver: BaseCheckpointSaver[Any]) -> Any:
    """One node asks two questions in a row."""

    def ask(state: Form) -> dict[str, Any]:
        return {"answers": [f"1={interrupt('first?')}", f"2={interrupt('second?')}"]}

    builder = StateGraph(Form)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    return builder.compile(checkpointer=saver)


def _two_nodes(saver: BaseCheckpointSaver[Any]) -> Any:
    """Two nodes in a row, each asking one question."""
    builder = StateGraph(Form)
    builder.add_node("one", lambda state: {"answers": [f"1={interrupt('first?')}"]})
    builder.add_node("two", lambda state: {"answers": [f"2={interrupt('second?')}"]})
    builder.add_edge(START, "one")
    builder.add_edge("one", "two")
    return builder.compile(checkpointer=saver)


def _first_asked(graph: Any, config: RunnableConfig, answers: list[str]) -> RunnableConfig:
    """Run to the first question, give `answers` in turn; the config that asked it first."""
    graph.invoke({"answers": []}, config)
    asked = graph.get_state(config)
    assert [i.value for i in asked.interrupts] == ["first?"]
    for answer in answers:
        graph.invoke(Command(resume=answer), config)
    checkpoint: RunnableConfig = asked.config
    return checkpoint


def _questions(state: Any) -> list[Any]:
    return [i.value for i in state.interrupts]


def _answer_in_turn(graph: Any, config: RunnableConfig, answers: list[str]) -> list[Any]:
    """Answer the shown questions one by one (by interrupt id); the questions, the end."""
    shown = []
    for answer in answers:
        [question] = graph.get_state(config).interrupts
        shown.append(question.value)
        graph.invoke(Command(resume={question.id: answer}), config)
    return [*shown, graph.get_state(config).values]


def _langgraph(build: Any, answers: list[str]) -> tuple[list[Any], list[Any]]:
    """LangGraph's own: the questions after time travel to the first asked, then the
    questions and end of answering them with `x` and `y`."""
    graph = build(InMemorySaver())
    asked = _first_asked(graph, _config("t"), answers)
    graph.invoke(None, asked)  # time travel: a new head, where the step ran again
    shown = _questions(graph.get_state(_config("t")))
    return shown, _answer_in_turn(graph, _config("t"), ["x", "y"])


@pytest.mark.parametrize("build", [_one_node, _two_nodes])
@pytest.mark.parametrize("answers", [["a"], ["a", "b"]], ids=["paused", "done"])
def test_rollback_asks_the_first_question_again(
    saver: EngramSaver, build: Any, answers: list[str]
) -> None:
    shown, end = _langgraph(build, answers)
    assert shown == ["first?"]
    graph, config = build(saver), _config("form")
    asked = _first_asked(graph, config, answers)

    saver.checkpointer.rollback(T, "form", asked["configurable"]["checkpoint_id"])
    state = graph.get_state(config)
    assert _questions(state) == shown
    saver.checkpointer.fork(T, "form", "probe")
    [reasked] = graph.invoke(None, _config("probe"))["__interrupt__"]
    assert state.interrupts == (reasked,)  # the id LangGraph asks it with
    assert _answer_in_turn(graph, config, ["x", "y"]) == end
    assert end[-1] == {"answers": ["1=x", "2=y"]}


@pytest.mark.parametrize("build", [_one_node, _two_nodes])
def test_a_fork_where_the_first_question_was_asked_asks_it_again(
    saver: EngramSaver, build: Any
) -> None:
    graph, config = build(saver), _config("form")
    graph.invoke({"answers": []}, config)
    asked = graph.get_state(config)
    for answer in ("a", "b"):
        graph.invoke(Command(resume=answer), config)

    saver.checkpointer.fork(T, "form", "again", asked.config["configurable"]["checkpoint_id"])
    assert graph.get_state(_config("again")).interrupts == asked.interrupts
    _, end = _langgraph(build, ["a", "b"])
    assert _answer_in_turn(graph, _config("again"), ["x", "y"]) == end
    assert graph.get_state(config).values == {"answers": ["1=a", "2=b"]}  # source untouched


def test_langgraph_shows_the_last_question_at_that_checkpoint(saver: EngramSaver) -> None:
    """`get_state` of the checkpoint itself is LangGraph's: the question pending last."""
    expected = _one_node(InMemorySaver())
    graph = _one_node(saver)
    for built in (expected, graph):
        _first_asked(built, _config("form"), ["a"])
    assert _questions(graph.get_state(_config("form"))) == ["second?"]
    assert _questions(expected.get_state(_config("form"))) == ["second?"]
    pending = saver.get_tuple(_config("form")).pending_writes
    expected_pending = expected.checkpointer.get_tuple(_config("form")).pending_writes
    assert sorted(w[1] for w in pending) == sorted(w[1] for w in expected_pending)
