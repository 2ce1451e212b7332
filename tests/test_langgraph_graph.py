"""A real LangGraph agent on EngramSaver (SQLite file), killed and resumed across processes.

The graph: `agent` (a scripted model: asks for a tool, then answers) -> `approve` (a human
approval through `interrupt()`) -> `tools` (a `ToolNode`) -> `agent` -> end; it is also
compiled with `interrupt_before=["tools"]` for the second scenario.

Each phase runs in its own process (this file run as a script). The parent SIGKILLs the child
at the interrupt, and mid-run while the tool executes, then a fresh process resumes from the
checkpoint (`Command(resume=...)`, `invoke(None, config)`) and the run completes correctly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode
from langgraph.types import Command, Durability, interrupt

from engram.integrations.langgraph import EngramSaver

CONFIG: RunnableConfig = {"configurable": {"thread_id": "trip-1"}}


class State(MessagesState):
    approved: str


@tool
def lookup(city: str) -> str:
    """Look up the weather of a city."""
    log = Path(os.environ["AGENT_LOG"])
    with log.open("a") as handle:
        handle.write("tool started\n")
    print("TOOL_STARTED", flush=True)
    if os.environ.get("AGENT_BLOCK_TOOL"):
        signal.pause()  # killed here, mid-run
    with log.open("a") as handle:
        handle.write("tool finished\n")
    return f"sunny in {city}"


def agent(state: State) -> dict[str, Any]:
    last = state["messages"][-1]
    if isinstance(last, ToolMessage):
        return {"messages": [AIMessage(f"Pack sunglasses: {last.content}.", id="final")]}
    call = {"name": "lookup", "args": {"city": "Lisbon"}, "id": "call-1"}
    return {"messages": [AIMessage("", tool_calls=[call], id="ask")]}


def approve(state: State) -> dict[str, Any]:
    answer = interrupt({"question": "run the lookup tool?"})
    return {"approved": str(answer)}


def route(state: State) -> str:
    last = state["messages"][-1]
    return "approve" if isinstance(last, AIMessage) and last.tool_calls else END


def build(saver: EngramSaver, *, pause_before_tools: bool) -> Any:
    graph = StateGraph(State)
    graph.add_node("agent", agent)
    graph.add_node("approve", approve)
    graph.add_node("tools", ToolNode([lookup]))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", route, ["approve", END])
    graph.add_edge("approve", "tools")
    graph.add_edge("tools", "agent")
    before = ["tools"] if pause_before_tools else []
    return graph.compile(checkpointer=saver, interrupt_before=before)


def child(phase: str, db: str) -> None:
    """One phase of a run, in its own process."""
    with EngramSaver.from_path(db) as saver:
        app = build(saver, pause_before_tools=phase.startswith("b-"))
        # "sync": each step's checkpoint is stored before the next step starts, so a kill
        # mid-step loses that step only (the default, "async", stores it in the background).
        if phase in ("a-start", "b-start"):
            question = {"messages": [HumanMessage("Weather in Lisbon?", id="ask-user")]}
            app.invoke(question, CONFIG, durability="sync")
        elif phase in ("a-resume", "b-approve"):
            app.invoke(Command(resume="yes"), CONFIG, durability="sync")
        else:
            app.invoke(None, CONFIG, durability="sync")
        print("PAUSED" if app.get_state(CONFIG).next else "DONE", flush=True)
        if os.environ.get("AGENT_HANG"):
            signal.pause()  # stays alive at the interrupt until killed


def run(tmp_path: Path, phase: str, *, kill_on: str | None = None, **env: str) -> str:
    """Run a phase; if `kill_on` is given, SIGKILL the child once it prints that line."""
    environ = {**os.environ, "AGENT_LOG": str(tmp_path / "tool.log"), **env}
    db = str(tmp_path / "agent.db")
    command = [sys.executable, __file__, phase, db]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=environ) as proc:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line.strip())
            if kill_on is not None and line.strip() == kill_on:
                proc.send_signal(signal.SIGKILL)
                break
        code = proc.wait(timeout=60)
    assert code == (-signal.SIGKILL if kill_on else 0), lines
    return lines[-1]


def final_state(tmp_path: Path) -> Any:
    with EngramSaver.from_path(tmp_path / "agent.db") as saver:
        app = build(saver, pause_before_tools=False)
        return app.get_state(CONFIG)


def tool_log(tmp_path: Path) -> list[str]:
    return (tmp_path / "tool.log").read_text().splitlines()


def assert_completed(tmp_path: Path) -> None:
    state = final_state(tmp_path)
    messages = state.values["messages"]
    assert [type(m).__name__ for m in messages] == [
        "HumanMessage",
        "AIMessage",
        "ToolMessage",
        "AIMessage",
    ]
    assert messages[2].content == "sunny in Lisbon"
    assert messages[3].content == "Pack sunglasses: sunny in Lisbon."
    assert state.values["approved"] == "yes" and not state.next


@pytest.mark.slow
def test_killed_at_interrupt_and_mid_tool_then_resumed(tmp_path: Path) -> None:
    # 1. Runs to the approval interrupt; killed while waiting there.
    run(tmp_path, "a-start", kill_on="PAUSED", AGENT_HANG="1")
    pending = final_state(tmp_path)
    assert pending.next == ("approve",) and pending.interrupts
    # 2. A new process approves; the tool starts and the process is killed mid-tool.
    run(tmp_path, "a-resume", kill_on="TOOL_STARTED", AGENT_BLOCK_TOOL="1")
    assert final_state(tmp_path).next == ("tools",)
    # 3. Another process resumes from the last checkpoint and completes.
    assert run(tmp_path, "a-continue") == "DONE"
    assert_completed(tmp_path)
    assert tool_log(tmp_path) == ["tool started", "tool started", "tool finished"]


@pytest.mark.slow
def test_interrupt_before_tools_survives_a_kill(tmp_path: Path) -> None:
    run(tmp_path, "b-start", kill_on="PAUSED", AGENT_HANG="1")
    assert final_state(tmp_path).next == ("approve",)
    assert run(tmp_path, "b-approve") == "PAUSED"  # approved; now paused before `tools`
    assert final_state(tmp_path).next == ("tools",)
    assert run(tmp_path, "b-continue") == "DONE"
    assert_completed(tmp_path)
    assert tool_log(tmp_path) == ["tool started", "tool finished"]


def chat_graph(saver: EngramSaver) -> Any:
    def reply(state: MessagesState) -> dict[str, Any]:
        return {"messages": [AIMessage(f"reply {len(state['messages'])}")]}

    graph = StateGraph(MessagesState)
    graph.add_node("reply", reply)
    graph.add_edge(START, "reply")
    return graph.compile(checkpointer=saver)


def test_pruned_threads_keep_working(tmp_path: Path) -> None:
    """Retention between turns never breaks the thread: the next turn sees all messages."""
    with EngramSaver.from_path(tmp_path / "chat.db") as saver:
        app = chat_graph(saver)
        for turn in range(4):
            app.invoke({"messages": [HumanMessage(f"turn {turn}")]}, CONFIG)
            saver.prune(["trip-1"])
        assert len(list(saver.list(CONFIG))) == 1
        messages = app.get_state(CONFIG).values["messages"]
    assert [m.content for m in messages[-2:]] == ["turn 3", "reply 7"] and len(messages) == 8


async def test_async_graph(tmp_path: Path) -> None:
    with EngramSaver.from_path(tmp_path / "chat.db") as saver:
        app = chat_graph(saver)
        for turn in range(3):
            await app.ainvoke({"messages": [HumanMessage(f"turn {turn}")]}, CONFIG)
        state = await app.aget_state(CONFIG)
        history = [snapshot async for snapshot in app.aget_state_history(CONFIG)]
    assert len(state.values["messages"]) == 6
    assert len(history) == 9  # per turn: the input, the start step and the reply step
    assert history[0].values == state.values and history[-1].values == {"messages": []}


class Email(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    sent_to: str


class SignalingSaver(EngramSaver):
    """An `EngramSaver` that tells when it has stored a checkpoint holding the AI message."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stored_ask = threading.Event()

    def put(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        stored = super().put(config, checkpoint, metadata, new_versions)
        if any(m.id == "ask" for m in checkpoint["channel_values"].get("messages", ())):
            self.stored_ask.set()
        return stored


def email_graph(saver: SignalingSaver, durability: Durability) -> Any:
    """`agent` asks to send an email, a human corrects the address on that very message
    (`review`, in place), `confirm` waits for approval (`interrupt`), `send` sends."""

    def agent(state: Email) -> dict[str, Any]:
        call = {"name": "send_email", "args": {"to": "wrong@x.com"}, "id": "call-1"}
        return {"messages": [AIMessage("", tool_calls=[call], id="ask")]}

    def review(state: Email) -> dict[str, Any]:
        if durability != "exit":  # "async" stores in the background: edit once it has
            assert saver.stored_ask.wait(timeout=30)  # the message (as "sync" always has)
        message = state["messages"][-1]
        assert isinstance(message, AIMessage)
        message.tool_calls[0]["args"]["to"] = "right@x.com"
        return {"messages": [message]}

    def confirm(state: Email) -> dict[str, Any]:
        interrupt("send it?")
        return {}

    def send(state: Email) -> dict[str, Any]:
        message = state["messages"][-1]
        assert isinstance(message, AIMessage)
        return {"sent_to": message.tool_calls[0]["args"]["to"]}

    graph = StateGraph(Email)
    graph.add_sequence([("agent", agent), ("review", review), ("confirm", confirm), ("send", send)])
    graph.add_edge(START, "agent")
    return graph.compile(checkpointer=saver)


@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
def test_a_message_edited_in_place_is_stored_edited(tmp_path: Path, durability: Durability) -> None:
    """A node edits a message of the state in place and returns it: the checkpoint the run
    resumes from holds the edit, as with LangGraph's own savers. ("exit" stores one checkpoint
    per invocation, of objects the invocation made or loaded: it never reused an encoding.)"""
    with SignalingSaver.from_path(tmp_path / "email.db") as saver:
        app = email_graph(saver, durability)
        question = {"messages": [HumanMessage("email bob", id="user")]}
        app.invoke(question, CONFIG, durability=durability)
        paused = app.get_state(CONFIG)
        assert paused.next == ("confirm",)
        assert paused.values["messages"][-1].tool_calls[0]["args"] == {"to": "right@x.com"}
        result = app.invoke(Command(resume=True), CONFIG, durability=durability)
    assert result["sent_to"] == "right@x.com"


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2])
