"""A rollback gives a carried LangGraph write the task id (and its interrupt the id) that
LangGraph's own functions give the same task on the new head, for any node, namespace,
step and triggers; a write whose task id cannot be reproduced is dropped."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from langgraph.pregel._algo import _xxhash_str
from langgraph.types import _interrupt_id

from engram.state.rollback import carried_writes, send_targets
from engram.types._checkpoint import CheckpointInfo, EncodedList, PendingWrite

_NAME = st.text("abcdefgh_-", min_size=1, max_size=8)
_IDS = st.uuids(version=4).map(str)


def _info(checkpoint_id: str, namespace: str, step: int, channels: list[str]) -> CheckpointInfo:
    versions = {channel: 1 for channel in channels}
    metadata = {"step": step}
    return CheckpointInfo(
        "t", "thread", namespace, checkpoint_id, None, 1, datetime.now(UTC), metadata, versions
    )


def _ids(checkpoint_id: str, parts: tuple[str, ...]) -> str:
    return _xxhash_str(uuid.UUID(checkpoint_id).bytes, *parts)


@given(
    old=_IDS,
    new=_IDS,
    node=_NAME,
    namespace=st.sampled_from(["", "outer:0a1b"]),
    step=st.integers(-1, 50),
    others=st.lists(_NAME, max_size=5),
    join=st.booleans(),
)
def test_a_node_task_gets_langgraph_ids_on_the_new_head(
    old: str, new: str, node: str, namespace: str, step: int, others: list[str], join: bool
) -> None:
    triggers = sorted({f"branch:to:{node}", *([f"join:x+y:{node}"] if join else [])})
    channels = sorted({*triggers, *others, "__start__"})
    node_ns = f"{namespace}|{node}" if namespace else node
    parts = (node_ns, str(step + 1), node, "__pregel_pull", *triggers)
    task = _ids(old, parts)
    asked = _interrupt_id(f"{node_ns}:{task}", 0)
    path = f"~__pregel_pull, {node}"
    writes = [
        PendingWrite(task, "__interrupt__", ("msgpack", b"\xa2id" + asked.encode()), -3, path),
        PendingWrite(task, "__resume__", ("msgpack", b"yes"), -4, path),
        PendingWrite("not-a-langgraph-id", "out", ("json", b"1"), 0, path),
        PendingWrite("own-task", "out", ("json", b"2"), 0, "p:0"),
    ]
    carried = carried_writes(_info(old, namespace, step, channels), writes, new)
    new_task = _ids(new, parts)
    expected = (b"\xa2id" + _interrupt_id(f"{node_ns}:{new_task}", 0).encode(), writes[3])
    assert len(carried) == 2 and carried[1] == writes[3]
    assert (carried[0].task_id, carried[0].value[1]) == (new_task, expected[0])


@given(old=_IDS, new=_IDS, node=_NAME, index=st.integers(0, 20), step=st.integers(0, 9))
def test_a_send_task_gets_langgraph_ids_on_the_new_head(
    old: str, new: str, node: str, index: int, step: int
) -> None:
    parts = (node, str(step + 1), node, "__pregel_push", str(index))
    path = f"~__pregel_push, {index:010d}, 0000000000"
    write = PendingWrite(_ids(old, parts), "out", ("json", b"1"), 0, path)
    packed = b"\xa4node" + bytes([0xA0 + len(node)]) + node.encode()  # Send(node=...)
    long = b"\xd9\x41" + b"n" * 65  # a str8 whose length byte reads as "A"
    tasks = EncodedList((("msgpack", b"\x93\xa4Send" + packed), ("msgpack", long)))
    nodes = send_targets({"__pregel_tasks": tasks})
    assert "n" * 65 in nodes
    [carried] = carried_writes(_info(old, "", step, ["x"]), [write], new, nodes)
    assert carried.task_id == _ids(new, parts)
    assert carried_writes(_info(old, "", step, ["x"]), [write], new) == ()  # node unknown


def test_an_interrupt_from_inside_a_subgraph_is_not_carried() -> None:
    """Its id derives from the subgraph's checkpoint, which the new head's task does not
    resume: the question is asked again when the task runs, under a new id."""
    old, new = str(uuid.uuid4()), str(uuid.uuid4())
    parts = ("sub", "1", "sub", "__pregel_pull", "branch:to:sub")
    task, path = _ids(old, parts), "~__pregel_pull, sub"
    nested = _interrupt_id(f"sub:{task}|ask:0123", 0)
    own = _interrupt_id(f"sub:{task}", 0)
    info = _info(old, "", 0, ["branch:to:sub"])
    for interrupt_id, carried in ((nested, 0), (own, 1)):
        write = PendingWrite(task, "__interrupt__", ("json", interrupt_id.encode()), -3, path)
        assert len(carried_writes(info, [write], new)) == carried
