"""The pending writes a rollback carries to its new head (pure).

A rollback makes a new head with the target checkpoint's values, under a new id. The
target's pending writes are what its step had done when it stopped: the writes of the tasks
that finished, and the question of a task that paused at a LangGraph `interrupt()`. They
come along, so the rolled-back thread stands where the target stood: the question is
asked again (`graph.get_state(config).interrupts`) and the finished tasks do not run again.
What answered the target later does not come along: its `__resume__` writes, and whatever
the paused task wrote once answered (the task runs again, and asks again, when resumed).

LangGraph derives a task's id from the checkpoint id (an XXH3 hash of the id, the
namespace, the step, the node and its triggers), and an interrupt's id from its task's.
A carried write of a LangGraph task gets the id the same task has on the new head; the
parts of the hash are recovered by trying the candidates the checkpoint names (its
channels) against the old id. A write whose task id cannot be reproduced that way (a task
of LangGraph's functional API, a checkpoint of format v1, whose task ids are UUIDv5s) is
dropped, as a write LangGraph would not match to any task of the new head. Writes of other
tasks (not LangGraph's) are carried as they are.

The question of a task paused inside a LangGraph subgraph is not carried: the subgraph's
state lives in a namespace named after the old task id, so on the new head the subgraph
starts again, and asks again when run (it is not shown until then).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence

from engram.types._checkpoint import CheckpointInfo, EncodedList, PendingWrite, StoredValue

__all__ = ["asks", "carried_writes", "needs_send_targets", "send_targets", "unanswered"]

INTERRUPT = "__interrupt__"
RESUME = "__resume__"
_PULL = "__pregel_pull"
_PUSH = "__pregel_push"
_TASKS = "__pregel_tasks"
_LANGGRAPH_PATH = "~__pregel_"
_WORD = re.compile(rb"[A-Za-z0-9_\-.:]{1,128}")
_MAX_TRIGGERS = 2  # a node's triggers: its `branch:to:` channel and a join it waits on
_MAX_ANSWERS = 16  # interrupts of one task whose ids are rewritten

Hasher = Callable[[bytes], str]


def needs_send_targets(writes: Iterable[PendingWrite]) -> bool:
    """True if a write is of a `Send` task, whose node `send_targets` may name."""
    return any(w.task_path.startswith(f"~{_PUSH}, ") for w in writes)


def send_targets(values: Mapping[str, StoredValue] | None) -> list[str]:
    """Candidate node names of a checkpoint's pending `Send`s: the words in its serialized
    `__pregel_tasks` channel (whatever the serializer; a wrong candidate never matches)."""
    stored = (values or {}).get(_TASKS)
    if stored is None:
        return []
    chunks = stored.items if isinstance(stored, EncodedList) else (stored,)
    words = {m.decode() for _, data in chunks for m in _WORD.findall(data)}
    # A length byte before a name may read as a letter (msgpack's str8 of 32 to 127 bytes)
    return sorted(words | {word[1:] for word in words if len(word) > 1})


def asks(writes: Iterable[PendingWrite]) -> bool:
    """True if a task of the checkpoint paused at an `interrupt()` (answered or not)."""
    return any(w.channel == INTERRUPT for w in writes)


def unanswered(writes: Iterable[PendingWrite]) -> tuple[PendingWrite, ...]:
    """A checkpoint's pending writes as they stood when its step stopped: without the
    answers given since (`__resume__`) and without what a paused task wrote once answered
    (it runs again, and asks again, when resumed). A fork of a checkpoint the thread has
    moved past copies these, as a rollback carries them."""
    writes = [w for w in writes if w.channel != RESUME]
    paused = {w.task_id for w in writes if w.channel == INTERRUPT}
    return tuple(w for w in writes if w.task_id not in paused or w.channel == INTERRUPT)


def carried_writes(
    target: CheckpointInfo,
    writes: Iterable[PendingWrite],
    new_id: str,
    send_targets: Iterable[str] = (),
) -> tuple[PendingWrite, ...]:
    """The pending writes of `target` a rollback attaches to its new head `new_id`.

    Args:
        target: The checkpoint rolled back to.
        writes: Its pending writes.
        new_id: The id of the new head.
        send_targets: Candidate nodes of its `Send` tasks (see `send_targets`).
    """
    writes = unanswered(writes)
    if not any(w.task_path.startswith(_LANGGRAPH_PATH) for w in writes):
        return tuple(writes)
    hasher, nodes = _xxh3(), tuple(send_targets)
    renamed: dict[str, tuple[str, str, str] | None] = {}
    carried = []
    for write in writes:
        if not write.task_path.startswith(_LANGGRAPH_PATH):
            carried.append(write)
            continue
        if write.task_id not in renamed:
            renamed[write.task_id] = (
                None if hasher is None else _new_task(hasher, target, write, new_id, nodes)
            )
        task = renamed[write.task_id]
        moved = None if task is None else _moved(hasher, write, *task)
        if moved is not None:
            carried.append(moved)
    return tuple(carried)


def _xxh3() -> Hasher | None:
    try:
        from xxhash import xxh3_128_hexdigest
    except ImportError:  # LangGraph (which brings xxhash) is not installed here
        return None
    return xxh3_128_hexdigest


def _task_id(hasher: Hasher, checkpoint_id: str, parts: Sequence[str]) -> str:
    """LangGraph's task id (`langgraph.pregel._algo._xxhash_str`)."""
    digest = hasher(bytes.fromhex(checkpoint_id.replace("-", "")) + "".join(parts).encode())
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _new_task(
    hasher: Hasher,
    target: CheckpointInfo,
    write: PendingWrite,
    new_id: str,
    send_targets: Sequence[str],
) -> tuple[str, str, str] | None:
    """`(new task id, old task namespace, new task namespace)` of a write's task, or None
    if its id is not reproduced from the candidates."""
    step = target.metadata.get("step")
    if not isinstance(step, int):
        return None
    for name, tail in _candidates(target, write.task_path, send_targets):
        node_ns = f"{target.namespace}|{name}" if target.namespace else name
        parts = (node_ns, str(step + 1), name, *tail)
        if _task_id(hasher, target.id, parts) == write.task_id:
            new_task = _task_id(hasher, new_id, parts)
            return new_task, f"{node_ns}:{write.task_id}", f"{node_ns}:{new_task}"
    return None


def _candidates(
    target: CheckpointInfo, task_path: str, send_targets: Sequence[str]
) -> Iterable[tuple[str, list[str]]]:
    """`(node, hash parts after the node)` that may have made a task of `task_path`."""
    kind, *path = task_path.removeprefix("~").split(", ")
    channels = sorted(str(channel) for channel in target.versions)
    if kind == _PULL and len(path) == 1:  # a node, triggered by its channels
        for size in range(1, _MAX_TRIGGERS + 1):
            for triggers in itertools.combinations(channels, size):
                yield path[0], [_PULL, *triggers]
    elif kind == _PUSH and len(path) == 2 and path[0].isdigit():  # (PUSH, send index, False)
        for node in send_targets:
            yield node, [_PUSH, str(int(path[0]))]


def _moved(
    hasher: Hasher | None, write: PendingWrite, task_id: str, old_ns: str, new_ns: str
) -> PendingWrite | None:
    """The write as one of task `task_id`; an interrupt's ids follow the task's namespace.

    None for an interrupt raised inside a subgraph of the task: its id derives from the
    subgraph's own checkpoint, which the new task does not resume (its subgraph starts
    again, and asks again, under a new id)."""
    value = write.value
    if write.channel == INTERRUPT and hasher is not None:
        tag, data = value
        for answered in range(_MAX_ANSWERS):
            old, new = (_interrupt_id(hasher, ns, answered) for ns in (old_ns, new_ns))
            data = data.replace(old.encode(), new.encode())
        if data == value[1]:
            return None
        value = (tag, data)
    return write._replace(task_id=task_id, value=value)


def _interrupt_id(hasher: Hasher, task_ns: str, answered: int) -> str:
    """LangGraph's interrupt id (`langgraph.types._interrupt_id`)."""
    return hasher((f"{task_ns}|{answered}" if answered else task_ns).encode())
