"""EngramSaver against LangGraph's own InMemorySaver: the same graphs, driven the same way
(interrupts and resume, subgraphs, history, `update_state` as a node and on a past
checkpoint, time travel, listings, copy and delete, sync and async), must show the same
states, histories and next nodes, on every backend.

Checkpoint and interrupt ids are random, so states are compared without them.

Then what LangGraph's saver does not do: pruning, forking and rolling back threads whose
`DeltaChannel` is rebuilt from the parent chain never lose it, and listings reject a
`before` that is not a checkpoint id on every backend.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.channels.delta import DeltaChannel
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, StateSnapshot, interrupt

from engram._exceptions import InvalidInputError
from engram.integrations.langgraph import EngramSaver
from engram.stores.postgres import AsyncPostgresCheckpointer
from engram.stores.redis import AsyncRedisCheckpointer

pytest_plugins = ["servers"]


class State(TypedDict):
    n: int
    log: Annotated[list[str], operator.add]


def _config(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


def _graph(checkpointer: BaseCheckpointSaver[Any]) -> Any:
    """START -> sub (a -> ask, which waits for an answer) -> b -> END."""

    def a(state: State) -> dict[str, Any]:
        return {"n": state["n"] + 1, "log": ["a"]}

    def ask(state: State) -> dict[str, Any]:
        return {"log": [f"ask:{interrupt('ok?')}"]}

    def b(state: State) -> dict[str, Any]:
        return {"n": state["n"] * 10, "log": ["b"]}

    sub = StateGraph(State)
    sub.add_node("a", a)
    sub.add_node("ask", ask)
    sub.add_edge(START, "a")
    sub.add_edge("a", "ask")
    sub.add_edge("ask", END)
    graph = StateGraph(State)
    graph.add_node("sub", sub.compile())
    graph.add_node("b", b)
    graph.add_edge(START, "sub")
    graph.add_edge("sub", "b")
    graph.add_edge("b", END)
    return graph.compile(checkpointer=checkpointer)


def _shape(snapshot: StateSnapshot) -> Any:
    """What a user sees of a state, without the random ids."""
    tasks = []
    for task in snapshot.tasks:
        nested = _shape(task.state) if isinstance(task.state, StateSnapshot) else None
        tasks.append((task.name, [i.value for i in task.interrupts], task.result, nested))
    metadata = {k: snapshot.metadata[k] for k in ("source", "step")} if snapshot.metadata else {}
    return snapshot.values, snapshot.next, metadata, tasks, snapshot.parent_config is None


def _result(value: dict[str, Any]) -> Any:
    return {k: [i.value for i in v] if k == "__interrupt__" else v for k, v in value.items()}


def _steps(checkpointer: BaseCheckpointSaver[Any], config: RunnableConfig, **kw: Any) -> Any:
    return [
        (t.metadata["source"], t.metadata["step"], t.config["configurable"]["checkpoint_ns"] != "")
        for t in checkpointer.list(config, **kw)
    ]


def _session(checkpointer: BaseCheckpointSaver[Any]) -> list[Any]:
    """Drive a graph as a LangGraph user does; everything observed, in order."""
    seen: list[Any] = []
    graph, config = _graph(checkpointer), _config("t")
    seen.append(_result(graph.invoke({"n": 1, "log": []}, config)))
    seen.append(_shape(graph.get_state(config, subgraphs=True)))
    seen.append([_shape(s) for s in graph.get_state_history(config)])
    paused = graph.get_state(config).config
    seen.append(_result(graph.invoke(Command(resume="yes"), config)))
    # Time travel: resume the paused checkpoint again, with another answer.
    seen.append(_shape(graph.get_state(paused, subgraphs=True)))
    seen.append(_result(graph.invoke(Command(resume="no"), paused)))
    # Edit the past: a fork from the first step, as if `sub` had written n=100.
    history = list(graph.get_state_history(config))
    first = next(s for s in history if s.metadata and s.metadata["step"] == 0)
    forked = graph.update_state(first.config, {"n": 100}, as_node="sub")
    seen.append(_shape(graph.get_state(forked)))
    seen.append(_result(graph.invoke(None, forked)))
    # Edit the head as a node: the graph goes on from that node.
    head = graph.update_state(config, {"n": 7, "log": ["edit"]}, as_node="sub")
    seen.append(_shape(graph.get_state(head)))
    seen.append(_result(graph.invoke(None, config)))
    seen.append([_shape(s) for s in graph.get_state_history(config)])
    listed = list(checkpointer.list(config))
    seen.append(_steps(checkpointer, config, filter={"source": "update"}))
    seen.append(_steps(checkpointer, config, limit=3))
    seen.append(_steps(checkpointer, config, before=listed[4].config, limit=2))
    seen.append(_steps(checkpointer, config, filter={"step": 1, "source": "loop"}))
    checkpointer.delete_thread("t")
    seen.append((graph.get_state(config).values, list(checkpointer.list(config))))
    return seen


def test_a_session_looks_the_same_as_on_langgraphs_own_saver(saver: EngramSaver) -> None:
    expected = _session(InMemorySaver())
    observed = _session(saver)
    for index, (want, got) in enumerate(zip(expected, observed, strict=True)):
        assert got == want, index


async def _asession(checkpointer: BaseCheckpointSaver[Any]) -> list[Any]:
    """`_session`'s first part with the async API."""
    seen: list[Any] = []
    graph, config = _graph(checkpointer), _config("ta")
    seen.append(_result(await graph.ainvoke({"n": 1, "log": []}, config)))
    seen.append(_shape(await graph.aget_state(config, subgraphs=True)))
    seen.append([_shape(s) async for s in graph.aget_state_history(config)])
    paused = (await graph.aget_state(config)).config
    seen.append(_result(await graph.ainvoke(Command(resume="yes"), config)))
    seen.append(_result(await graph.ainvoke(Command(resume="no"), paused)))
    history = [s async for s in graph.aget_state_history(config)]
    first = next(s for s in history if s.metadata and s.metadata["step"] == 0)
    forked = await graph.aupdate_state(first.config, {"n": 100}, as_node="sub")
    seen.append(_result(await graph.ainvoke(None, forked)))
    seen.append([_shape(s) async for s in graph.aget_state_history(config)])
    seen.append([t.metadata["step"] async for t in checkpointer.alist(config, limit=2)])
    await checkpointer.adelete_thread("ta")
    seen.append(((await graph.aget_state(config)).values, await checkpointer.aget_tuple(config)))
    return seen


async def test_an_async_session_looks_the_same_as_on_langgraphs_own_saver(
    saver: EngramSaver,
) -> None:
    expected = await _asession(InMemorySaver())
    observed = await _asession(saver)
    for index, (want, got) in enumerate(zip(expected, observed, strict=True)):
        assert got == want, index


@pytest.mark.parametrize("backend", ["postgres", "redis"])
async def test_an_async_session_on_an_async_checkpointer(
    request: pytest.FixtureRequest, backend: str
) -> None:
    """The same, on the async checkpointers (their own connections and event loop)."""
    expected = await _asession(InMemorySaver())
    if backend == "postgres":
        url = request.getfixturevalue("postgres_clean_database")
        async with AsyncPostgresCheckpointer.from_conn_string(url) as checkpointer:
            observed = await _asession(EngramSaver(checkpointer))
    else:
        url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
        async with AsyncRedisCheckpointer.from_url(url, prefix=prefix) as redis_checkpointer:
            observed = await _asession(EngramSaver(redis_checkpointer))
    assert observed == expected


class Fan(TypedDict):
    log: Annotated[list[str], operator.add]


def test_finished_parallel_tasks_are_not_run_again_on_resume(saver: EngramSaver) -> None:
    """A step where one task waits and another finished: the finished one's pending write is
    kept, on resume and on a replay of that checkpoint (time travel), as LangGraph's saver."""

    def run(checkpointer: BaseCheckpointSaver[Any]) -> list[Any]:
        calls: list[str] = []

        def fast(state: Fan) -> dict[str, Any]:
            calls.append("fast")
            return {"log": ["fast"]}

        def ask(state: Fan) -> dict[str, Any]:
            calls.append("ask")
            return {"log": [f"ask:{interrupt('ok?')}"]}

        builder = StateGraph(Fan)
        builder.add_node("fast", fast)
        builder.add_node("ask", ask)
        builder.add_edge(START, "fast")
        builder.add_edge(START, "ask")
        graph = builder.compile(checkpointer=checkpointer)
        config, seen = _config("fan"), []
        graph.invoke({"log": []}, config)
        paused = graph.get_state(config)
        seen += [_shape(paused), list(calls)]
        calls.clear()
        seen += [graph.invoke(Command(resume="yes"), config), list(calls)]
        calls.clear()
        seen += [graph.invoke(Command(resume="no"), paused.config), list(calls)]
        return seen

    assert run(saver) == run(InMemorySaver())


def _nested_graph(checkpointer: BaseCheckpointSaver[Any]) -> Any:
    """Two levels of subgraphs: START -> outer (a -> inner (ask)) -> b -> END."""

    def a(state: State) -> dict[str, Any]:
        return {"n": state["n"] + 1, "log": ["a"]}

    def ask(state: State) -> dict[str, Any]:
        return {"log": [f"ask:{interrupt('ok?')}"]}

    inner = StateGraph(State)
    inner.add_node("ask", ask)
    inner.add_edge(START, "ask")
    outer = StateGraph(State)
    outer.add_node("a", a)
    outer.add_node("inner", inner.compile())
    outer.add_edge(START, "a")
    outer.add_edge("a", "inner")
    graph = StateGraph(State)
    graph.add_node("outer", outer.compile())
    graph.add_node("b", lambda state: {"n": state["n"] * 10, "log": ["b"]})
    graph.add_edge(START, "outer")
    graph.add_edge("outer", "b")
    return graph.compile(checkpointer=checkpointer)


def _paused_then_resumed(checkpointer: BaseCheckpointSaver[Any], build: Any) -> Any:
    """A thread of `build` paused in its subgraphs, then resumed: its paused state's config."""
    graph = build(checkpointer)
    graph.invoke({"n": 1, "log": []}, _config("src"))
    paused = graph.get_state(_config("src")).config
    graph.invoke(Command(resume="yes"), _config("src"))
    return graph, paused


@pytest.mark.parametrize("build", [_graph, _nested_graph])
def test_a_fork_of_a_past_pause_asks_again_as_time_travel_does(
    saver: EngramSaver, build: Any
) -> None:
    """Fork the checkpoint a thread paused at (inside subgraphs) after the thread went on:
    the fork shows the question, as LangGraph's `get_state` of that checkpoint does, and
    goes on as time travel to it does (`invoke(None, checkpoint)` asks again), here and on
    LangGraph's saver: the new answer is taken, the source's is not replayed."""
    graph, paused = _paused_then_resumed(InMemorySaver(), build)
    question = [i.value for i in graph.get_state(paused).interrupts]
    graph.invoke(None, paused)
    expected = graph.invoke(Command(resume="no"), _config("src"))
    graph, paused = _paused_then_resumed(saver, build)
    assert [i.value for i in graph.get_state(paused).interrupts] == question == ["ok?"]
    saver.checkpointer.fork(saver.tenant, "src", "fork", paused["configurable"]["checkpoint_id"])
    assert [i.value for i in graph.get_state(_config("fork")).interrupts] == question
    assert graph.invoke(Command(resume="no"), _config("fork")) == expected
    graph.invoke(None, paused)
    assert graph.invoke(Command(resume="no"), _config("src")) == expected
    assert expected["log"][-2:] == ["ask:no", "b"]


@pytest.mark.parametrize("build", [_graph, _nested_graph])
def test_a_copied_thread_is_the_same_thread(saver: EngramSaver, build: Any) -> None:
    """`copy_thread` of a thread paused in subgraphs: the copy has the same history, nested
    namespaces included, resumes as the source (and LangGraph's saver) does, and deleting
    the source leaves it whole."""
    reference = build(InMemorySaver())
    reference.invoke({"n": 1, "log": []}, _config("src"))
    expected = reference.invoke(Command(resume="ok"), _config("src"))
    graph = build(saver)
    graph.invoke({"n": 1, "log": []}, _config("src"))
    saver.copy_thread("src", "copy")
    source = [_shape(s) for s in graph.get_state_history(_config("src"))]
    assert [_shape(s) for s in graph.get_state_history(_config("copy"))] == source
    namespaces = {t.config["configurable"]["checkpoint_ns"] for t in saver.list(None)}
    assert len(namespaces) == (2 if build is _graph else 3)
    saver.delete_thread("src")
    assert list(saver.list(_config("src"))) == []
    assert {t.config["configurable"]["thread_id"] for t in saver.list(None)} == {"copy"}
    assert graph.invoke(Command(resume="ok"), _config("copy")) == expected


class Counter(TypedDict):
    n: int


def _counter_graph(checkpointer: BaseCheckpointSaver[Any]) -> Any:
    builder = StateGraph(Counter)
    builder.add_node("add", lambda state: {"n": state["n"] + 1})
    builder.add_edge(START, "add")
    return builder.compile(checkpointer=checkpointer)


def _append(state: list[str] | None, writes: Sequence[list[str]]) -> list[str]:
    return [*(state or []), *(item for write in writes for item in write)]


class Deltas(TypedDict):
    log: Annotated[list[str], DeltaChannel(_append, list)]


def _delta_graph(checkpointer: BaseCheckpointSaver[Any]) -> Any:
    """A graph whose `log` is a `DeltaChannel`: rebuilt from the writes of the parent chain."""
    builder = StateGraph(Deltas)
    builder.add_node("a", lambda state: {"log": [f"a{len(state['log'])}"]})
    builder.add_edge(START, "a")
    return builder.compile(checkpointer=checkpointer)


@pytest.mark.parametrize("api", ["sync", "async"])
async def test_keep_latest_never_empties_a_delta_channel(saver: EngramSaver, api: str) -> None:
    """`prune(keep_latest)` keeps a thread whose latest checkpoint needs its ancestors to
    rebuild a `DeltaChannel` (it came back empty), and still prunes the others."""
    delta_graph, plain_graph = _delta_graph(saver), _counter_graph(saver)
    for turn in range(3):
        delta_graph.invoke({"log": [f"in{turn}"]}, _config("delta"))
        plain_graph.invoke({"n": turn}, _config("plain"))
    expected = delta_graph.get_state(_config("delta")).values
    assert expected == {"log": ["in0", "a1", "in1", "a3", "in2", "a5"]}
    kept = len(list(saver.list(_config("delta"))))
    if api == "sync":
        saver.prune(["delta", "plain"])
    else:
        await saver.aprune(["delta", "plain"])
    assert delta_graph.get_state(_config("delta")).values == expected
    assert len(list(saver.list(_config("delta")))) == kept
    assert len(list(saver.list(_config("plain")))) == 1
    assert plain_graph.invoke({"n": 5}, _config("plain")) == {"n": 6}
    assert delta_graph.invoke({"log": ["x"]}, _config("delta"))["log"][-2:] == ["x", "a7"]


@pytest.mark.parametrize("api", ["sync", "async"])
async def test_a_before_that_is_not_a_checkpoint_id_is_rejected(
    saver: EngramSaver, api: str
) -> None:
    """Every backend says so (two compared it as a string, two rejected it), and the thread
    is left as it was."""
    graph = _counter_graph(saver)
    graph.invoke({"n": 1}, _config("t"))
    before: RunnableConfig = {"configurable": {"checkpoint_id": "yesterday"}}
    with pytest.raises(InvalidInputError, match="checkpoint ids are canonical UUID strings"):
        if api == "sync":
            list(saver.list(_config("t"), before=before))
        else:
            [t async for t in saver.alist(_config("t"), before=before)]
    assert len(list(saver.list(_config("t")))) == 3
    assert graph.get_state(_config("t")).values == {"n": 2}


def test_a_paused_subgraph_is_edited_and_listed_as_on_langgraphs_saver(saver: EngramSaver) -> None:
    """The state of a subgraph paused at an interrupt: its history, an edit of it (its
    config names its namespace), and the resume after the edit."""

    def run(checkpointer: BaseCheckpointSaver[Any]) -> list[Any]:
        graph, config = _graph(checkpointer), _config("t")
        graph.invoke({"n": 1, "log": []}, config)
        sub = graph.get_state(config, subgraphs=True).tasks[0].state
        seen: list[Any] = [[_shape(s) for s in graph.get_state_history(sub.config)]]
        edited = graph.update_state(sub.config, {"n": 50, "log": ["edit"]})
        seen.append(
            edited["configurable"]["checkpoint_ns"] == sub.config["configurable"]["checkpoint_ns"]
        )
        seen.append(_shape(graph.get_state(config, subgraphs=True)))
        seen.append(_result(graph.invoke(Command(resume="yes"), config)))
        seen.append([_shape(s) for s in graph.get_state_history(config)])
        return seen

    assert run(saver) == run(InMemorySaver())


@pytest.mark.parametrize("api", ["sync", "async"])
async def test_a_delta_channel_is_never_forked_or_rolled_back_empty(
    saver: EngramSaver, api: str
) -> None:
    """A fork (one checkpoint, no parent) or a rollback (a new head on the old head's chain)
    of a checkpoint whose `DeltaChannel` is rebuilt from its ancestors came back with the
    channel empty or wrong; they are refused, and nothing is written."""
    graph, engram = _delta_graph(saver), saver.checkpointer
    for turn in range(2):
        graph.invoke({"log": [f"in{turn}"]}, _config("t"))
    history = [
        s.config["configurable"]["checkpoint_id"] for s in graph.get_state_history(_config("t"))
    ]
    refused = pytest.raises(InvalidInputError, match="DeltaChannel")
    with refused:
        if api == "sync":
            engram.fork(saver.tenant, "t", "f")
        else:
            await engram.afork(saver.tenant, "t", "f")
    with refused:
        if api == "sync":
            engram.rollback(saver.tenant, "t", history[2])
        else:
            await engram.arollback(saver.tenant, "t", history[2])
    assert engram.get_thread(saver.tenant, "f") is None
    after = [
        s.config["configurable"]["checkpoint_id"] for s in graph.get_state_history(_config("t"))
    ]
    assert after == history
    assert graph.get_state(_config("t")).values == {"log": ["in0", "a1", "in1", "a3"]}


def test_a_delta_channel_at_its_snapshot_is_forked_whole(saver: EngramSaver) -> None:
    """A checkpoint holding a snapshot of every `DeltaChannel` stands alone: it forks."""

    class Snapshots(TypedDict):
        log: Annotated[list[str], DeltaChannel(_append, list, snapshot_frequency=1)]

    builder = StateGraph(Snapshots)
    builder.add_node("a", lambda state: {"log": [f"a{len(state['log'])}"]})
    builder.add_edge(START, "a")
    graph = builder.compile(checkpointer=saver)
    for turn in range(2):
        graph.invoke({"log": [f"in{turn}"]}, _config("t"))
    saver.checkpointer.fork(saver.tenant, "t", "f")
    assert graph.get_state(_config("f")).values == {"log": ["in0", "a1", "in1", "a3"]}
    assert graph.invoke({"log": ["x"]}, _config("f")) == {
        "log": ["in0", "a1", "in1", "a3", "x", "a5"]
    }
