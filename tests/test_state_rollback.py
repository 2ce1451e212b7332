"""Rolling a real LangGraph thread back to where a human was asked, on every backend.

The rolled-back head shows the question again (`get_state(config).interrupts`, with the
interrupt ids LangGraph gives the re-asked question), is resumed with a new answer (also by
interrupt id), and the tasks of that step that had finished do not run again. Both kinds of
task: a node (a PULL task) and a `Send` to a node (PUSH tasks, two interrupts at once).
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, Send, interrupt

from engram.integrations.langgraph import EngramSaver

pytest_plugins = ["servers"]

T = "default"


class Trip(TypedDict):
    log: Annotated[list[str], operator.add]
    answers: Annotated[list[str], operator.add]


def _config(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


def _parallel(saver: EngramSaver, runs: list[str]) -> Any:
    """`work` and `ask` run in one step; `ask` pauses for a human."""

    def work(state: Trip) -> dict[str, Any]:
        runs.append("work")
        return {"log": ["worked"]}

    def ask(state: Trip) -> dict[str, Any]:
        return {"answers": [str(interrupt({"question": "book it?"}))]}

    builder = StateGraph(Trip)
    builder.add_node("work", work)
    builder.add_node("ask", ask)
    builder.add_edge(START, "work")
    builder.add_edge(START, "ask")
    return builder.compile(checkpointer=saver)


def _sends(saver: EngramSaver) -> Any:
    """Two `Send`s to `ask`, each pausing with its own question."""

    def ask(state: dict[str, str]) -> dict[str, Any]:
        return {"answers": [f"{state['city']}={interrupt(state['city'])}"]}

    def fan_out(state: Trip) -> list[Send]:
        return [Send("ask", {"city": city}) for city in ("Porto", "Lisbon")]

    builder = StateGraph(Trip)
    builder.add_node("start", lambda state: {"log": ["started"]})
    builder.add_node("ask", ask)
    builder.add_edge(START, "start")
    builder.add_conditional_edges("start", fan_out, ["ask"])
    builder.add_edge("ask", END)
    return builder.compile(checkpointer=saver)


def _asked_then_answered(graph: Any, config: RunnableConfig, inputs: Any) -> str:
    """Run to the interrupt, answer every question; the id of the checkpoint that asked."""
    graph.invoke(inputs, config)
    asked = graph.get_state(config)
    assert asked.interrupts
    graph.invoke(Command(resume={i.id: "yes" for i in asked.interrupts}), config)
    assert not graph.get_state(config).interrupts
    return str(asked.config["configurable"]["checkpoint_id"])


def _reasked(graph: Any, config: RunnableConfig) -> dict[str, Any]:
    """The interrupts LangGraph raises when the head's step runs again (a copy of the thread
    at its head, so the thread itself is not moved on)."""
    return {i.id: i.value for i in graph.invoke(None, config)["__interrupt__"]}


def test_rollback_to_a_paused_node_asks_again(saver: EngramSaver) -> None:
    runs: list[str] = []
    graph, config = _parallel(saver, runs), _config("trip")
    asked = _asked_then_answered(graph, config, {"log": [], "answers": []})
    assert graph.get_state(config).values == {"log": ["worked"], "answers": ["yes"]}

    saver.checkpointer.rollback(T, "trip", asked)
    state = graph.get_state(config)
    assert [i.value for i in state.interrupts] == [{"question": "book it?"}]
    assert state.next == ("ask",)
    shown = {i.id: i.value for i in state.interrupts}
    saver.checkpointer.fork(T, "trip", "probe")
    assert _reasked(graph, _config("probe")) == shown  # the ids LangGraph asks with

    [interrupt_id] = shown
    graph.invoke(Command(resume={interrupt_id: "no"}), config)
    assert graph.get_state(config).values == {"log": ["worked"], "answers": ["no"]}
    assert runs == ["work"]  # finished in the first run: neither the probe nor the rollback ran it


def test_rollback_to_paused_sends_asks_every_question_again(saver: EngramSaver) -> None:
    graph, config = _sends(saver), _config("cities")
    asked = _asked_then_answered(graph, config, {"log": [], "answers": []})
    assert sorted(graph.get_state(config).values["answers"]) == ["Lisbon=yes", "Porto=yes"]

    saver.checkpointer.rollback(T, "cities", asked)
    state = graph.get_state(config)
    shown = {i.id: i.value for i in state.interrupts}
    assert sorted(shown.values()) == ["Lisbon", "Porto"]
    saver.checkpointer.fork(T, "cities", "probe")
    assert _reasked(graph, _config("probe")) == shown

    answers = {iid: f"no-{city}" for iid, city in shown.items()}
    graph.invoke(Command(resume=answers), config)
    assert sorted(graph.get_state(config).values["answers"]) == [
        "Lisbon=no-Lisbon",
        "Porto=no-Porto",
    ]
