"""The pending writes a rollback carries to its new head (pure).

A rollback makes a new head with the target checkpoint's values, under a new id. The
target's pending writes are what its step had done when it stopped: the writes of the tasks
that finished, and the question of a task that paused at a LangGraph `interrupt()`. They
come along, so the rolled-back thread stands where the target stood: the question is
asked again (`graph.get_state(config).interrupts`) and the finished tasks do not run again.
What answered the target later does not come along: its `__resume__` writes, and whatever
the paused task wrote once answered (the task runs again, and asks again, when resumed).

A task that asks several questions in a row (`interrupt("first?")`, then
`interrupt("second?")`) stays at one checkpoint while it is answered, and LangGraph replaces
the task's `__interrupt__` write with each new question. Its first question is kept beside
it (`first_asked`, in channel `__engram_asked__`, hidden from LangGraph): without its
answers the task asks that one first again, so that one is shown.

LangGraph derives a task's id from the checkpoint id (an XXH3 hash of the id, the
namespace, the step, the node and its triggers), and an interrupt's id from its task's.
A carried write of a LangGraph task gets the id the same task has on the new head; the
parts of the hash are recovered by trying the candidates the checkpoint names (its
channels) against the old id. A write whose task id cannot be reproduced that way (a task
of LangGraph's functional API, a checkpoint of format v1, whose task ids are UUIDv5s) is
dropped, as a write LangGraph would not match to any task of the new head. Writes of other
tasks (not LangGraph's) are carried as they are.

A task paused inside a LangGraph subgraph keeps the subgraph's state in a namespace named
after the task (`sub:<task id>`). Those nested checkpoints (as a fork copies them, where the
subgraph stood before the answer) are copied under the new task's namespace, with their
tasks and interrupts renamed the same way: the new head shows the question, with the id
LangGraph asks it with there, and the subgraph paused where it asked, as time travel
(`invoke(None, target)`) does. If a task's id is not reproduced, its subgraph is not
copied (it starts again when run, and asks again; the question is not shown until then).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from engram.types._checkpoint import (
    CheckpointInfo,
    EncodedList,
    PendingWrite,
    StoredCheckpoint,
    StoredValue,
)

__all__ = [
    "ASKED",
    "Carried",
    "asks",
    "carry",
    "carried_writes",
    "first_asked",
    "needs_send_targets",
    "send_targets",
    "unanswered",
]

INTERRUPT = "__interrupt__"
RESUME = "__resume__"
ASKED = "__engram_asked__"  # a task's first `__interrupt__` write, kept when LangGraph replaces it
_ASKED_IDX = -1003  # apart from LangGraph's special indexes (-1 to -4)
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


def first_asked(writes: Iterable[PendingWrite]) -> tuple[PendingWrite, ...]:
    """Copies of a task's `__interrupt__` writes to keep as its first question: stored
    beside them, never replaced (a stored one wins), not shown to LangGraph."""
    return tuple(
        w._replace(channel=ASKED, idx=_ASKED_IDX) for w in writes if w.channel == INTERRUPT
    )


def unanswered(writes: Iterable[PendingWrite]) -> tuple[PendingWrite, ...]:
    """A checkpoint's pending writes as they stood when its step stopped: without the
    answers given since (`__resume__`), without what a paused task wrote once answered
    (it runs again, and asks again, when resumed), and with the first question of a task
    that has been asked several (the one it asks again first). A fork of a checkpoint the
    thread has moved past copies these, as a rollback carries them."""
    writes = [w for w in writes if w.channel != RESUME]
    paused = {w.task_id for w in writes if w.channel == INTERRUPT}
    first = {w.task_id: w.value for w in writes if w.channel == ASKED}
    return tuple(
        w._replace(value=first.get(w.task_id, w.value)) if w.channel == INTERRUPT else w
        for w in writes
        if w.task_id not in paused or w.channel in (INTERRUPT, ASKED)
    )


class Carried(NamedTuple):
    """What a rollback attaches to its new head (see `carry`)."""

    writes: tuple[PendingWrite, ...]
    """The target's pending writes, as writes of the new head's tasks."""
    children: tuple[StoredCheckpoint, ...]
    """Copies of the nested checkpoints of its paused subgraphs, under the namespaces the
    new head's tasks read (oldest first in each), with their writes carried the same way."""


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
    return carry(target, writes, new_id, send_targets).writes


def carry(
    target: CheckpointInfo,
    writes: Iterable[PendingWrite],
    new_id: str,
    send_targets: Iterable[str] = (),
    children: Iterable[StoredCheckpoint] = (),
) -> Carried:
    """`carried_writes`, and the nested checkpoints (`children`: the target's, as a fork
    copies them, see `engram.state.checkpoints.fork_histories`) that come along.

    A subgraph keeps its state in a namespace named after its task (`sub:<task id>`); a
    task renamed on the new head reads it under its new name, and the tasks of the nested
    checkpoints (and the ids of their interrupts, which the parent's shows too) are renamed
    the same way, level by level. A child whose task does not come along is left out (its
    subgraph starts again when run)."""
    writes = unanswered(writes)
    if not any(w.task_path.startswith(_LANGGRAPH_PATH) for w in writes):
        return Carried(tuple(writes), ())
    hasher = _xxh3()
    if hasher is None:
        return Carried(tuple(w for w in writes if not w.task_path.startswith(_LANGGRAPH_PATH)), ())
    spaces: dict[str, str] = {}  # old task namespace: new
    tasks = _renamed(hasher, target, target.namespace, new_id, writes, tuple(send_targets), spaces)
    moved = []
    for child in sorted(children, key=lambda c: c.info.namespace.count("|")):  # outer first
        namespace = spaces.get(child.info.namespace)
        if namespace is not None:
            pending = unanswered(child.pending_writes or ())
            renamed = _renamed(hasher, child.info, namespace, child.info.id, pending, (), spaces)
            moved.append((child, namespace, pending, renamed))
    ids = {
        _interrupt_id(hasher, old, answered).encode(): _interrupt_id(hasher, new, answered).encode()
        for old, new in spaces.items()
        for answered in range(_MAX_ANSWERS)
    }
    parents = {target.namespace: (target.id, new_id)}
    return Carried(
        _moved(writes, tasks, ids),
        tuple(
            child._replace(
                info=child.info._replace(
                    namespace=namespace,
                    metadata=_reparented(child.info.metadata, spaces, parents),
                ),
                pending_writes=_moved(pending, renamed, ids),
            )
            for child, namespace, pending, renamed in moved
        ),
    )


def _renamed(
    hasher: Hasher,
    info: CheckpointInfo,
    namespace: str,
    new_id: str,
    writes: Sequence[PendingWrite],
    send_targets: Sequence[str],
    spaces: dict[str, str],
) -> dict[str, str]:
    """The new id of each LangGraph task of `writes` whose id is reproduced, for checkpoint
    `info` copied as `new_id` into `namespace`; records the tasks' namespaces in `spaces`."""
    tasks: dict[str, str] = {}
    for write in writes:
        if write.task_path.startswith(_LANGGRAPH_PATH) and write.task_id not in tasks:
            task = _new_task(hasher, info, write, new_id, namespace, send_targets)
            if task is not None:
                tasks[write.task_id], old_ns, spaces[old_ns] = task
    return tasks


def _reparented(
    metadata: Mapping[str, Any], spaces: Mapping[str, str], parents: Mapping[str, tuple[str, str]]
) -> Mapping[str, Any]:
    """A nested checkpoint's metadata with LangGraph's `parents` (namespace: checkpoint id
    of each enclosing level) naming the renamed namespaces and the new head."""
    old = metadata.get("parents")
    if not isinstance(old, Mapping):
        return metadata
    new = {}
    for namespace, checkpoint_id in old.items():
        was, now = parents.get(namespace, (None, None))
        new[spaces.get(namespace, namespace)] = now if checkpoint_id == was else checkpoint_id
    return {**metadata, "parents": new}


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
    new_namespace: str,
    send_targets: Sequence[str],
) -> tuple[str, str, str] | None:
    """`(new task id, old task namespace, new task namespace)` of a write's task on `target`
    copied as `new_id` into `new_namespace`, or None if its id is not reproduced from the
    candidates."""
    step = target.metadata.get("step")
    if not isinstance(step, int):
        return None
    spaces = (target.namespace, new_namespace)
    for name, tail in _candidates(target, write.task_path, send_targets):
        node_ns, new_node_ns = (f"{ns}|{name}" if ns else name for ns in spaces)
        parts = (str(step + 1), name, *tail)
        if _task_id(hasher, target.id, (node_ns, *parts)) == write.task_id:
            new_task = _task_id(hasher, new_id, (new_node_ns, *parts))
            return new_task, f"{node_ns}:{write.task_id}", f"{new_node_ns}:{new_task}"
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
    writes: Iterable[PendingWrite], tasks: Mapping[str, str], ids: Mapping[bytes, bytes]
) -> tuple[PendingWrite, ...]:
    """The writes as ones of the renamed `tasks`, with the interrupt `ids` they show renamed.

    A LangGraph write of a task not renamed is left out, and so is an interrupt none of
    whose ids is renamed (raised inside a subgraph that does not come along: it starts
    again, and asks again, under a new id)."""
    known = re.compile(b"|".join(map(re.escape, ids))) if ids else None
    moved = []
    for write in writes:
        if not write.task_path.startswith(_LANGGRAPH_PATH):
            moved.append(write)
            continue
        task_id = tasks.get(write.task_id)
        value = write.value
        if task_id is not None and write.channel in (INTERRUPT, ASKED):
            tag, data = value
            value = (tag, known.sub(lambda match: ids[match[0]], data) if known else data)
            task_id = None if value[1] == data else task_id
        if task_id is not None:
            moved.append(write._replace(task_id=task_id, value=value))
    return tuple(moved)


def _interrupt_id(hasher: Hasher, task_ns: str, answered: int) -> str:
    """LangGraph's interrupt id (`langgraph.types._interrupt_id`)."""
    return hasher((f"{task_ns}|{answered}" if answered else task_ns).encode())
