"""Retention never silently corrupts a LangGraph thread whose `DeltaChannel` is rebuilt from
its parent chain, on every backend: a prune by policy (`Prune`, as `engram threads prune`
and `default_retention` run it), `EngramSaver.prune("keep_latest")` and `delete_for_runs`
keep every checkpoint (with its pending writes) a kept one replays, back to the channel's
last snapshot, and delete the rest. On the checkpoints left, the graph's state is exactly
what LangGraph's own InMemorySaver shows for the same run.

And `copy_thread` onto a thread that exists is refused, as a fork onto one is (LangGraph's
savers leave it unspecified; merging the two histories made a head of whichever id was
largest).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.channels.delta import DeltaChannel
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph

from engram._exceptions import ConflictError
from engram.integrations.langgraph import EngramSaver
from engram.types._checkpoint import RetentionPolicy

pytest_plugins = ["servers"]

RUNS = 4
"""Each run is three checkpoints (steps -1..10 in all); `log` snapshots at steps 3 and 7."""


def _append(state: list[str] | None, writes: Sequence[list[str]]) -> list[str]:
    return [*(state or []), *(item for write in writes for item in write)]


class Deltas(TypedDict):
    log: Annotated[list[str], DeltaChannel(_append, list, snapshot_frequency=3)]


def _graph(checkpointer: BaseCheckpointSaver[Any]) -> Any:
    builder = StateGraph(Deltas)
    builder.add_node("a", lambda state: {"log": [f"a{len(state['log'])}"]})
    builder.add_edge(START, "a")
    return builder.compile(checkpointer=checkpointer)


def _config(thread_id: str, checkpoint_id: str | None = None) -> RunnableConfig:
    configurable = {"thread_id": thread_id}
    if checkpoint_id is not None:
        configurable.update(checkpoint_ns="", checkpoint_id=checkpoint_id)
    return {"configurable": configurable}


def _run(checkpointer: BaseCheckpointSaver[Any], thread_id: str = "t") -> list[str]:
    """Run `RUNS` runs (`run_id` r0, r1, ...); the checkpoint ids, oldest first."""
    graph = _graph(checkpointer)
    for run in range(RUNS):
        config = _config(thread_id)
        config["configurable"]["run_id"] = f"r{run}"
        graph.invoke({"log": [f"in{run}"]}, config)
    return _ids(checkpointer, thread_id)


def _ids(checkpointer: BaseCheckpointSaver[Any], thread_id: str = "t") -> list[str]:
    listed = checkpointer.list(_config(thread_id))
    return [t.config["configurable"]["checkpoint_id"] for t in listed][::-1]


def _states(checkpointer: BaseCheckpointSaver[Any], ids: Sequence[str]) -> list[Any]:
    """The graph's state at each checkpoint: values, next nodes, step."""
    graph = _graph(checkpointer)
    return [
        (s.values, s.next, s.metadata["step"] if s.metadata else None)
        for s in (graph.get_state(_config("t", checkpoint_id)) for checkpoint_id in ids)
    ]


@pytest.fixture
def reference() -> list[Any]:
    """LangGraph's own saver: the state at every checkpoint of the same runs, oldest first."""
    saver = InMemorySaver()
    return _states(saver, _run(saver))


def _check_kept(saver: EngramSaver, before: list[str], reference: list[Any]) -> list[int]:
    """The positions (in the full history) of the checkpoints left; asserts their states are
    LangGraph's."""
    after = _ids(saver)
    positions = [before.index(checkpoint_id) for checkpoint_id in after]
    assert _states(saver, after) == [reference[i] for i in positions]
    return positions


@pytest.mark.parametrize(
    ("how", "kept"),
    [
        ("keep_last=1", [8, 9, 10, 11]),  # the head replays steps 9, 8 and the snapshot, 7
        ("keep_last=3", [8, 9, 10, 11]),
        ("keep_every=5", [4, 8, 9, 10, 11]),  # seq 5 (step 3) is a snapshot: it stands alone
        ("default_retention", [8, 9, 10, 11]),
        ("keep_latest", [8, 9, 10, 11]),
    ],
)
def test_retention_keeps_what_a_delta_channel_replays(
    saver: EngramSaver, reference: list[Any], how: str, kept: list[int]
) -> None:
    """Before, a prune deleted the parent chain of a kept checkpoint whose `log` is rebuilt
    from it: `log` came back empty or short (`keep_latest` skipped such threads whole)."""
    engram, tenant = saver.checkpointer, saver.tenant
    before = _run(saver)
    if how == "keep_latest":
        saver.prune(["t"])
    elif how == "default_retention":
        engram.default_retention = RetentionPolicy(keep_last=1)
        report = engram.prune(tenant)
        assert (report.checkpoints_deleted, report.checkpoints_kept) == (8, 4)
    else:
        key, value = how.split("=")
        policy = RetentionPolicy(**{key: int(value)})
        dry = engram.prune(tenant, ["t"], policy=policy, dry_run=True)
        report = engram.prune(tenant, ["t"], policy=policy)
        assert report == dry
        assert report.checkpoints_deleted == len(before) - len(kept)
        assert report.checkpoints_kept == len(kept)
    assert _check_kept(saver, before, reference) == kept
    # The thread goes on as it would have on LangGraph's saver.
    assert _graph(saver).invoke({"log": ["more"]}, _config("t"))["log"] == [
        *reference[-1][0]["log"],
        "more",
        f"a{len(reference[-1][0]['log']) + 1}",
    ]


@pytest.mark.parametrize(
    "policy",
    [
        RetentionPolicy(max_age=timedelta(seconds=1)),
        RetentionPolicy(max_age=timedelta(seconds=1), keep_last=6),
        RetentionPolicy(max_age=timedelta(seconds=1), keep_every=5),
    ],
    ids=["max_age", "with keep_last", "with keep_every"],
)
def test_max_age_keeps_what_a_delta_channel_replays(
    saver: EngramSaver, reference: list[Any], policy: RetentionPolicy
) -> None:
    """However old, the head's chain back to the channel's last snapshot stays."""
    before = _run(saver)
    later = datetime.now(UTC) + timedelta(days=1)  # every checkpoint is past max_age
    report = saver.checkpointer.prune(saver.tenant, ["t"], policy=policy, now=later)
    assert _check_kept(saver, before, reference) == [8, 9, 10, 11]  # the head, back to step 7
    assert (report.checkpoints_deleted, report.checkpoints_kept) == (8, 4)
    log = _graph(saver).invoke({"log": ["more"]}, _config("t"))["log"]
    assert log == [*reference[-1][0]["log"], "more", f"a{len(reference[-1][0]['log']) + 1}"]


@pytest.mark.parametrize(
    ("runs", "deleted"),
    [
        (["r0"], []),  # r1's first checkpoint replays all of r0: nothing goes
        (["r1"], [3]),  # r2 replays back to the snapshot in r1 (step 3): only step 2 goes
        (["r3"], [9, 10, 11]),  # the latest run: nothing replays it
        (["r0", "r1", "r2", "r3"], list(range(12))),
    ],
)
async def test_deleting_runs_keeps_what_a_delta_channel_replays(
    saver: EngramSaver, reference: list[Any], runs: list[str], deleted: list[int]
) -> None:
    before = _run(saver)
    if runs == ["r1"]:
        await saver.adelete_for_runs(runs)
    else:
        saver.delete_for_runs(runs)
    positions = _check_kept(saver, before, reference)
    assert positions == [i for i in range(len(before)) if i not in deleted]


def test_each_delta_thread_keeps_its_own_chain(saver: EngramSaver) -> None:
    """A prune of every thread keeps, in each, the chain its head replays."""
    _run(saver, "t")
    _run(saver, "u")
    report = saver.checkpointer.prune(saver.tenant, policy=RetentionPolicy(keep_last=1))
    assert (report.threads, report.checkpoints_deleted, report.checkpoints_kept) == (2, 16, 8)
    expected = ["in0", "a1", "in1", "a3", "in2", "a5", "in3", "a7"]
    for thread_id in ("t", "u"):
        assert _graph(saver).get_state(_config(thread_id)).values == {"log": expected}


@pytest.mark.parametrize("api", ["sync", "async"])
async def test_copying_onto_a_thread_that_exists_is_refused(saver: EngramSaver, api: str) -> None:
    """Before, the two histories merged and the head became whichever id was largest."""
    _run(saver, "src")
    graph = _graph(saver)
    graph.invoke({"log": ["mine"]}, _config("dst"))
    dst = _ids(saver, "dst")
    state = graph.get_state(_config("dst")).values
    for target in ("dst", "src"):
        with pytest.raises(ConflictError, match=f"thread {target} exists already"):
            if api == "sync":
                saver.copy_thread("src", target)
            else:
                await saver.acopy_thread("src", target)
    assert _ids(saver, "dst") == dst
    assert graph.get_state(_config("dst")).values == state == {"log": ["mine", "a1"]}
    assert len(_ids(saver, "src")) == 3 * RUNS
    saver.copy_thread("src", "new")
    assert _ids(saver, "new") == _ids(saver, "src")
    assert graph.get_state(_config("new")).values == graph.get_state(_config("src")).values


def test_a_branch_keeps_its_own_parent_chain(saver: EngramSaver) -> None:
    """A run from a past checkpoint (time travel from step 4) replays that checkpoint's
    chain, not the checkpoints just before it by id (the other branch): those go."""

    def branch(checkpointer: BaseCheckpointSaver[Any]) -> tuple[list[str], list[Any]]:
        ids = _run(checkpointer)
        _graph(checkpointer).invoke({"log": ["x"]}, _config("t", ids[5]))
        ids = _ids(checkpointer)
        return ids, _states(checkpointer, ids)

    before, expected = branch(saver)
    assert branch(InMemorySaver())[1] == expected
    assert expected[-1][0] == {"log": ["in0", "a1", "in1", "a3", "x", "a5"]}
    saver.checkpointer.prune(saver.tenant, ["t"], policy=RetentionPolicy(keep_last=2))
    # 12-14 are the branch: 13 replays 12, then 5 (step 4) and the snapshot at step 3 (4).
    assert _check_kept(saver, before, expected) == [4, 5, 12, 13, 14]
