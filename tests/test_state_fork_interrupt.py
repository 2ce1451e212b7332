"""A fork of a LangGraph thread at a checkpoint where a human was asked, on every backend.

If the thread moved past that checkpoint (the question was answered), the fork asks it
again (`get_state(fork).interrupts`, with the ids the source asked with) and takes a new
answer; the tasks of that step that had finished do not run again, and the source thread
is untouched. The same for a question asked inside a subgraph: the fork's subgraph stands
where it paused, before the answer. A fork of a thread still paused is a copy: a question
answered while another is still open stays answered.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import START, StateGraph
from langgraph.types import Command, interrupt

from engram.integrations.langgraph import EngramSaver
from test_state_fork_subgraph import _history
from test_state_rollback import Trip, _config, _parallel, _sends

pytest_plugins = ["servers"]

T = "default"


def _nested(saver: EngramSaver) -> Any:
    """`pre`, then a subgraph that runs `s1` and pauses in `ask`."""
    inner = StateGraph(Trip)
    inner.add_node("s1", lambda state: {"log": ["s1"]})
    inner.add_node("ask", lambda state: {"answers": [str(interrupt("go on?"))]})
    inner.add_edge(START, "s1")
    inner.add_edge("s1", "ask")
    outer = StateGraph(Trip)
    outer.add_node("pre", lambda state: {"log": ["pre"]})
    outer.add_node("sub", inner.compile())
    outer.add_edge(START, "pre")
    outer.add_edge("pre", "sub")
    return outer.compile(checkpointer=saver)


def test_a_fork_of_an_answered_question_asks_it_again(saver: EngramSaver) -> None:
    runs: list[str] = []
    graph = _parallel(saver, runs)
    graph.invoke({"log": [], "answers": []}, _config("trip"))
    asked = graph.get_state(_config("trip"))
    graph.invoke(Command(resume="yes"), _config("trip"))
    source = _history(graph, _config("trip"))
    assert source[0][1] == {"log": ["worked"], "answers": ["yes"]}

    saver.checkpointer.fork(T, "trip", "again", asked.config["configurable"]["checkpoint_id"])
    state = graph.get_state(_config("again"))
    assert state.interrupts == asked.interrupts  # the same question, with the same id
    assert state.next == ("ask",)

    [question] = state.interrupts
    done = graph.invoke(Command(resume={question.id: "no"}), _config("again"))
    assert done == {"log": ["worked"], "answers": ["no"]}
    assert runs == ["work"]  # finished before the pause: not run again
    assert _history(graph, _config("trip")) == source


def test_a_fork_of_a_thread_still_paused_keeps_its_answers(saver: EngramSaver) -> None:
    graph = _sends(saver)
    graph.invoke({"log": [], "answers": []}, _config("cities"))
    lisbon, porto = sorted(graph.get_state(_config("cities")).interrupts, key=lambda i: i.value)
    graph.invoke(Command(resume={porto.id: "yes"}), _config("cities"))
    assert graph.get_state(_config("cities")).interrupts == (lisbon,)

    saver.checkpointer.fork(T, "cities", "copy")
    assert graph.get_state(_config("copy")).interrupts == (lisbon,)
    done = graph.invoke(Command(resume={lisbon.id: "no"}), _config("copy"))
    assert sorted(done["answers"]) == ["Lisbon=no", "Porto=yes"]


def test_a_fork_of_a_question_answered_in_a_subgraph_asks_it_again(saver: EngramSaver) -> None:
    graph = _nested(saver)
    graph.invoke({"log": [], "answers": []}, _config("trip"))
    asked = graph.get_state(_config("trip"), subgraphs=True)
    paused = asked.tasks[0].state.values
    graph.invoke(Command(resume="yes"), _config("trip"))
    source = _history(graph, _config("trip"))
    assert source[0][1]["answers"] == ["yes"]

    saver.checkpointer.fork(T, "trip", "again", asked.config["configurable"]["checkpoint_id"])
    state = graph.get_state(_config("again"), subgraphs=True)
    assert state.interrupts == asked.interrupts
    assert state.tasks[0].state.values == paused  # the subgraph as it paused, unanswered

    [question] = state.interrupts
    done = graph.invoke(Command(resume={question.id: "no"}), _config("again"))
    assert done["answers"] == ["no"]
    assert _history(graph, _config("trip")) == source
