"""The conformance suite of `BaseCheckpointer`: every backend must pass it.

`CheckpointerSpec` holds the specs, written once against the contract; subclass it as
`Test...` with a `checkpointer` fixture yielding a fresh, empty checkpointer. Wrap a
checkpointer in `AsyncDrivenCheckpointer` to run every spec through `abatch` too.

The retention spec is a Hypothesis property: after any history of puts, rollbacks and forks,
pruning with any policy leaves every kept checkpoint rebuilding exactly the values it was
written with. Give the backend a small `snapshot_every` to exercise long delta chains.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engram._exceptions import ConflictError, InvalidInputError, NotFoundError
from engram.stores.checkpoints import (
    BaseCheckpointer,
    CheckpointOp,
    CopyThread,
    DeleteRuns,
    GetCheckpoint,
    ListCheckpoints,
    Prune,
    PutCheckpoint,
    PutWrites,
    Rollback,
)
from engram.types._checkpoint import ChannelWrite, PendingWrite, PruneReport, RetentionPolicy
from engram.types._conversation import utcnow

__all__ = ["AsyncDrivenCheckpointer", "CheckpointerSpec"]

T = "tenant-a"
OTHER = "tenant-b"


class AsyncDrivenCheckpointer(BaseCheckpointer):
    """Runs every call of the sync API through the wrapped checkpointer's `abatch`.

    Call it only from code without a running event loop (each batch runs in `asyncio.run`).
    """

    def __init__(self, inner: BaseCheckpointer) -> None:
        self.inner = inner
        self.serde = inner.serde
        self.default_retention = inner.default_retention

    def batch(self, ops: Sequence[CheckpointOp]) -> list[Any]:
        return asyncio.run(self.inner.abatch(ops))

    async def abatch(self, ops: Sequence[CheckpointOp]) -> list[Any]:
        return await self.inner.abatch(ops)

    def close(self) -> None:
        self.inner.close()


def _thread() -> str:
    return f"thread-{uuid.uuid4().hex[:12]}"


def _grow(cp: BaseCheckpointer, thread: str, steps: int, **kw: Any) -> list[str]:
    """`steps` checkpoints whose `messages` grows by one item each; their ids, oldest first."""
    ids = []
    for step in range(steps):
        values = {"messages": [f"m{i}" for i in range(step + 1)], "step": step, "fixed": "x"}
        ids.append(cp.put(T, thread, values, metadata={"step": step, **kw}).id)
    return ids


_WRITES = (
    PendingWrite("task-1", "__interrupt__", ("json", b'"approve?"'), 0, "~sub"),
    PendingWrite("task-2", "log", ("json", b'["c"]'), 0, "~sub"),
)


def _values(step: int) -> dict[str, Any]:
    return {"messages": [f"m{i}" for i in range(step + 1)], "step": step, "fixed": "x"}


# One history step of the retention property: how the next checkpoint's values change.
_STEP = st.one_of(
    st.tuples(st.just("append"), st.text(max_size=8)),
    st.tuples(st.just("drop_front"), st.integers(1, 3)),
    st.tuples(st.just("replace_last"), st.text(max_size=8)),
    st.tuples(st.just("truncate"), st.integers(0, 4)),
    st.tuples(st.just("scalar"), st.integers(-5, 5)),
    st.tuples(st.just("rollback"), st.integers(0, 50)),
)
_POLICY = st.builds(
    RetentionPolicy,
    keep_last=st.none() | st.integers(1, 6),
    keep_every=st.none() | st.integers(1, 5),
    max_age=st.none() | st.just(timedelta(hours=1)),
)


def _next(values: dict[str, Any], kind: str, arg: Any) -> dict[str, Any]:
    items = list(values["messages"])
    if kind == "append":
        items.append(arg)
    elif kind == "drop_front":
        items = items[arg:]
    elif kind == "replace_last" and items:
        items[-1] = arg
    elif kind == "truncate":
        items = items[:arg]
    scalar = arg if kind == "scalar" else values["n"]
    return {"messages": items, "n": scalar, "big": values["big"]}


class CheckpointerSpec:
    """The behaviour every `BaseCheckpointer` must have.

    Needs a `checkpointer` fixture: a fresh, empty checkpointer (sync API).
    """

    supports_threads: bool = True
    """The checkpointer may be shared by threads (batches from several threads serialise)."""

    # Put and get.

    def test_put_then_get_latest(self, checkpointer: Any) -> None:
        thread = _thread()
        info = checkpointer.put(T, thread, {"a": [1, 2], "b": {"k": "v"}, "c": None})
        got = checkpointer.get(T, thread)
        assert got.id == info.id and got.values == {"a": [1, 2], "b": {"k": "v"}, "c": None}
        assert (got.info.seq, got.parent_id, got.info.namespace) == (1, None, "")

    def test_get_by_id_and_parent_links(self, checkpointer: Any) -> None:
        thread = _thread()
        ids = _grow(checkpointer, thread, 5)
        for step, checkpoint_id in enumerate(ids):
            got = checkpointer.get(T, thread, checkpoint_id)
            assert got.values == _values(step)
            assert got.parent_id == (ids[step - 1] if step else None)
            assert got.info.seq == step + 1

    def test_get_absent(self, checkpointer: Any) -> None:
        thread = _thread()
        assert checkpointer.get(T, thread) is None
        _grow(checkpointer, thread, 1)
        assert checkpointer.get(T, thread, str(uuid.uuid4())) is None
        assert checkpointer.get(T, thread, "not-a-uuid") is None

    def test_ids_sort_in_creation_order(self, checkpointer: Any) -> None:
        ids = _grow(checkpointer, _thread(), 20)
        assert ids == sorted(ids) and len(set(ids)) == 20

    def test_rejects_bad_input_without_writing(self, checkpointer: Any) -> None:
        thread = _thread()
        bad_id = PutCheckpoint(T, thread, "", "not-a-uuid", None, {})
        with pytest.raises(InvalidInputError):
            checkpointer.batch([bad_id])
        with pytest.raises(InvalidInputError):
            checkpointer.put(T, thread, {"a": 1}, metadata={"when": object()})
        with pytest.raises(InvalidInputError):
            checkpointer.put(T, thread, {"a": 1}, metadata={"text": "\ud800"})
        with pytest.raises(InvalidInputError):
            checkpointer.put(T, "\x00", {"a": 1})
        assert checkpointer.get(T, thread) is None

    def test_rejects_malformed_arguments_saying_what_to_pass(self, checkpointer: Any) -> None:
        """Arguments of the wrong type raise `InvalidInputError` saying what to pass, on every
        backend, and change nothing: values that are not a mapping, a namespace of None, a
        parent that is not a checkpoint id, a limit that is not an integer, metadata, a
        filter or a policy of another type, and one thread or run id where a list of ids is
        expected (not split into one id per character)."""
        thread = _thread()
        _grow(checkpointer, thread, 2, run_id="ab")
        for letter in "ab":
            _grow(checkpointer, letter, 2, run_id=letter)
        keep_one = RetentionPolicy(keep_last=1)
        one: Any = "ab"  # one id where the op takes a tuple of them
        calls: list[tuple[str, Any]] = [
            ("values", lambda: checkpointer.put(T, thread, [1, 2])),
            ("values", lambda: checkpointer.put(T, thread, None)),
            ("namespace", lambda: checkpointer.put(T, thread, {"a": 1}, namespace=None)),
            ("parent_id", lambda: checkpointer.put(T, thread, {"a": 1}, parent_id="bogus")),
            ("metadata", lambda: checkpointer.put(T, thread, {"a": 1}, metadata="m")),
            ("limit", lambda: checkpointer.history(T, thread, limit="1")),
            ("filter", lambda: checkpointer.history(T, thread, filter="step")),
            ("checkpoint_id", lambda: checkpointer.get(T, thread, 5)),
            ("policy", lambda: checkpointer.set_retention(T, thread, "keep 1")),
            ("policy", lambda: checkpointer.prune(T, [thread], policy="keep 1")),
            ("thread_ids", lambda: checkpointer.prune(T, "ab", policy=keep_one)),
            ("thread_ids", lambda: asyncio.run(checkpointer.aprune(T, "ab", policy=keep_one))),
            ("thread_ids", lambda: checkpointer.batch([Prune(T, utcnow(), one, keep_one)])),
            ("run_ids", lambda: checkpointer.batch([DeleteRuns(T, one)])),
        ]
        for what, call in calls:
            with pytest.raises(InvalidInputError, match=what):
                call()
        for name in (thread, "a", "b"):
            assert len(checkpointer.history(T, name)) == 2, name
        assert checkpointer.get_thread(T, "x") is None
        assert checkpointer.get_thread(T, thread).retention is None

    def test_refuses_integers_sql_cannot_hold_naming_them(self, checkpointer: Any) -> None:
        """A limit or offset past 2**63-1, or a pending write's idx past PostgreSQL's
        integer, is refused before the query with an `InvalidInputError` naming it, alike on
        every backend (as the event log's `read` refuses it), not as a database's error."""
        thread = _thread()
        info = checkpointer.put(T, thread, {"a": 1})
        most = 2**63 - 1
        far = PendingWrite("task", "c", ("json", b"1"), 2**31)
        below = far._replace(idx=-(2**31) - 1)
        calls: list[tuple[str, Any]] = [
            ("limit", lambda: checkpointer.history(T, thread, limit=2**63)),
            ("limit", lambda: checkpointer.batch([ListCheckpoints(T, None, None, limit=2**63)])),
            ("limit", lambda: checkpointer.history(T, thread, limit=-1)),
            ("limit", lambda: checkpointer.list_threads(T, limit=2**63)),
            ("offset", lambda: checkpointer.list_threads(T, offset=2**63)),
            ("offset", lambda: checkpointer.list_threads(T, offset=-1)),
            ("idx", lambda: checkpointer.batch([PutWrites(T, thread, "", info.id, (far,))])),
            ("idx", lambda: checkpointer.batch([PutWrites(T, thread, "", info.id, (below,))])),
        ]  # fmt: skip
        for what, call in calls:
            with pytest.raises(InvalidInputError, match=f"{what} must be from"):
                call()
        assert [h.id for h in checkpointer.history(T, thread, limit=most)] == [info.id]
        assert checkpointer.list_threads(T, offset=most) == []
        edge = (far._replace(idx=2**31 - 1), far._replace(task_id="t2", idx=-(2**31)))
        checkpointer.batch([PutWrites(T, thread, "", info.id, edge)])
        stored = checkpointer.batch([GetCheckpoint(T, thread, "", info.id, with_writes=True)])[0]
        assert sorted(w.idx for w in stored.pending_writes) == [-(2**31), 2**31 - 1]

    def test_lists_round_trip_through_any_edit(self, checkpointer: Any) -> None:
        thread = _thread()
        states = [[], ["a"], ["a", "b"], ["b"], ["b", "c", "d"], ["x", "b"], ["a", "a"], ["a"]]
        ids = [checkpointer.put(T, thread, {"l": state}).id for state in states * 3]
        for checkpoint_id, state in zip(ids, states * 3, strict=True):
            assert checkpointer.get(T, thread, checkpoint_id).values == {"l": state}

    def test_writer_versions_and_partial_writes(self, checkpointer: Any) -> None:
        """LangGraph's way: explicit versions, values written only when they change."""
        thread = _thread()
        first, second = str(uuid.uuid4()), str(uuid.uuid4())
        first, second = sorted((first, second))
        a1 = ChannelWrite("a", 1, ("json", b'"v1"'))
        b1 = ChannelWrite("b", 1, ("json", b'"w1"'))
        a2 = ChannelWrite("a", 2, ("json", b'"v2"'))
        checkpointer.batch([PutCheckpoint(T, thread, "", first, None, {"a": 1, "b": 1}, (a1, b1))])
        checkpointer.batch([PutCheckpoint(T, thread, "", second, first, {"a": 2, "b": 1}, (a2,))])
        assert checkpointer.get(T, thread, second).values == {"a": "v2", "b": "w1"}
        assert checkpointer.get(T, thread, first).values == {"a": "v1", "b": "w1"}
        assert checkpointer.get(T, thread).info.versions == {"a": 2, "b": 1}

    def test_extra_round_trips(self, checkpointer: Any) -> None:
        thread, cid = _thread(), str(uuid.uuid4())
        op = PutCheckpoint(T, thread, "", cid, None, {}, extra=("bytes", b"\x00header"))
        checkpointer.batch([op])
        assert checkpointer.batch([GetCheckpoint(T, thread)])[0].extra == ("bytes", b"\x00header")

    # History.

    def test_history_newest_first(self, checkpointer: Any) -> None:
        thread = _thread()
        ids = _grow(checkpointer, thread, 6)
        history = checkpointer.history(T, thread)
        assert [info.id for info in history] == ids[::-1]
        assert [info.metadata["step"] for info in history] == [5, 4, 3, 2, 1, 0]

    def test_history_pages_with_before_and_limit(self, checkpointer: Any) -> None:
        thread = _thread()
        ids = _grow(checkpointer, thread, 7)
        page = checkpointer.history(T, thread, before=ids[4], limit=2)
        assert [info.id for info in page] == [ids[3], ids[2]]

    @pytest.mark.parametrize(
        ("wanted", "steps"),
        [({"step": 2}, [2]), ({"kind": "odd"}, [5, 3, 1]), ({"kind": "odd", "step": 3}, [3]),
         ({"kind": None}, []), ({"tags": ["t", 2]}, [5, 4, 3, 2, 1, 0]), ({"nope": 1}, [])],
    )  # fmt: skip
    def test_history_filters_on_metadata(
        self, checkpointer: Any, wanted: dict[str, Any], steps: list[int]
    ) -> None:
        thread = _thread()
        for step in range(6):
            meta = {"step": step, "kind": "odd" if step % 2 else "even", "tags": ["t", 2]}
            checkpointer.put(T, thread, {"s": step}, metadata=meta)
        got = checkpointer.history(T, thread, filter=wanted)
        assert [info.metadata["step"] for info in got] == steps

    def test_list_across_threads_and_namespaces(self, checkpointer: Any) -> None:
        one, two = _thread(), _thread()
        checkpointer.put(T, one, {"a": 1})
        checkpointer.put(T, one, {"a": 2}, namespace="child:1")
        checkpointer.put(T, two, {"a": 3})
        mine = checkpointer.batch([ListCheckpoints(T, None, None, with_values=True)])[0]
        values = {
            (s.info.thread_id, s.info.namespace): checkpointer.serde.loads_typed(s.values["a"])
            for s in mine
        }
        assert {k: v for k, v in values.items() if k[0] in (one, two)} == {
            (one, ""): 1, (one, "child:1"): 2, (two, ""): 3
        }  # fmt: skip
        assert checkpointer.get(T, one, namespace="child:1").values == {"a": 2}
        assert [h.namespace for h in checkpointer.history(T, one)] == [""]

    # Rollback and fork.

    def test_rollback_makes_a_new_head_and_keeps_history(self, checkpointer: Any) -> None:
        thread = _thread()
        ids = _grow(checkpointer, thread, 4)
        info = checkpointer.rollback(T, thread, ids[1])
        head = checkpointer.get(T, thread)
        assert head.id == info.id and head.values == _values(1)
        assert info.parent_id == ids[3] and info.id > ids[3] and info.seq == 5
        assert [h.id for h in checkpointer.history(T, thread)] == [info.id, *ids[::-1]]
        later = checkpointer.put(T, thread, {"after": True})
        assert later.parent_id == info.id

    def test_rollback_keeps_the_pending_writes_of_the_target(self, checkpointer: Any) -> None:
        """The new head gets the target's pending writes as its step left them: a finished
        task's writes and a paused task's question, not the answer (`__resume__`) nor what
        the paused task wrote once answered."""
        thread = _thread()
        ids = _grow(checkpointer, thread, 3)
        done = PendingWrite("task-done", "log", ("json", b'["c"]'), 0, "p:0")
        asked = PendingWrite("task-ask", "__interrupt__", ("json", b'"approve?"'), -3, "p:1")
        null_task = "00000000-0000-0000-0000-000000000000"
        later = (
            PendingWrite("task-ask", "__resume__", ("json", b'["yes"]'), -4, "p:1"),
            PendingWrite("task-ask", "approved", ("json", b'"yes"'), 0, "p:1"),
            PendingWrite(null_task, "__resume__", ("json", b'"yes"'), -4),
        )
        checkpointer.batch([PutWrites(T, thread, "", ids[1], (done, asked, *later))])
        info = checkpointer.rollback(T, thread, ids[1])
        head = checkpointer.batch([GetCheckpoint(T, thread, "", info.id)])[0]
        assert set(head.pending_writes) == {done, asked}
        target = checkpointer.batch([GetCheckpoint(T, thread, "", ids[1])])[0]
        assert len(target.pending_writes) == 5  # the target keeps its own
        plain = checkpointer.rollback(T, thread, ids[2])  # a target without pending writes
        assert not checkpointer.batch([GetCheckpoint(T, thread, "", plain.id)])[0].pending_writes

    def test_rollback_to_an_id_behind_the_head_conflicts(self, checkpointer: Any) -> None:
        thread = _thread()
        ids = _grow(checkpointer, thread, 3)
        with pytest.raises(ConflictError):
            checkpointer.batch([Rollback(T, thread, ids[0], new_checkpoint_id=ids[1])])
        assert [h.id for h in checkpointer.history(T, thread)] == ids[::-1]

    def test_rollback_absent_raises(self, checkpointer: Any) -> None:
        thread = _thread()
        _grow(checkpointer, thread, 1)
        with pytest.raises(NotFoundError):
            checkpointer.rollback(T, thread, str(uuid.uuid4()))

    def test_fork_starts_a_new_thread(self, checkpointer: Any) -> None:
        thread, fork = _thread(), _thread()
        ids = _grow(checkpointer, thread, 4)
        info = checkpointer.fork(T, thread, fork, ids[1])
        got = checkpointer.get(T, fork)
        assert got.values == _values(1) and (info.seq, info.parent_id) == (1, None)
        assert got.metadata["forked_from"] == {"thread_id": thread, "checkpoint_id": ids[1]}
        checkpointer.put(T, fork, {"diverged": 1})
        checkpointer.delete_thread(T, thread)
        assert checkpointer.get(T, fork, info.id).values == _values(1)

    def test_fork_conflicts_and_absent_source(self, checkpointer: Any) -> None:
        thread, other = _thread(), _thread()
        _grow(checkpointer, thread, 1)
        _grow(checkpointer, other, 1)
        with pytest.raises(ConflictError):
            checkpointer.fork(T, thread, other)
        with pytest.raises(NotFoundError):
            checkpointer.fork(T, _thread(), _thread())

    def test_fork_copies_the_nested_namespaces_of_the_fork_point(self, checkpointer: Any) -> None:
        """A fork takes the latest checkpoint of each nested namespace (a LangGraph subgraph's
        state) as of the fork point, with its values and pending writes, and its parent chain
        there (same ids and links, `seq` from 1). Checkpoints LangGraph records as made from
        another checkpoint (`metadata["parents"]`), or made after the next one, are not the
        fork point's."""
        thread, fork, head_fork = _thread(), _thread(), _thread()
        first = checkpointer.put(T, thread, {"step": 1})
        sub = {"parents": {"": first.id}}
        begun = checkpointer.put(T, thread, {"log": ["a"]}, namespace="sub:1", metadata=sub)
        paused = checkpointer.put(T, thread, {"log": ["a", "b"]}, namespace="sub:1", metadata=sub)
        checkpointer.batch([PutWrites(T, thread, "sub:1", paused.id, _WRITES)])
        deep_meta = {"parents": {"": first.id, "sub:1": paused.id}}
        deep = checkpointer.put(T, thread, {"d": 1}, namespace="sub:1|in:2", metadata=deep_meta)
        plain = checkpointer.put(T, thread, {"p": 1}, namespace="plain")
        other = {"parents": {"": str(uuid.uuid4())}}
        checkpointer.put(T, thread, {"o": 1}, namespace="sub:9", metadata=other)
        second = checkpointer.put(T, thread, {"step": 2})
        checkpointer.put(T, thread, {"p": 2}, namespace="plain")
        checkpointer.put(
            T, thread, {"n": 2}, namespace="sub:2", metadata={"parents": {"": second.id}}
        )
        info = checkpointer.fork(T, thread, fork, first.id)
        assert info.id == first.id and checkpointer.get(T, fork).values == {"step": 1}
        listed = checkpointer.batch([ListCheckpoints(T, fork, None, with_writes=True)])[0]
        by_namespace = {stored.info.namespace: stored for stored in reversed(listed)}  # newest
        assert sorted(by_namespace) == ["", "plain", "sub:1", "sub:1|in:2"]
        assert len(listed) == 5
        copied = by_namespace["sub:1"]  # the newest of its namespace
        assert (copied.info.id, copied.info.parent_id, copied.info.seq) == (paused.id, begun.id, 2)
        [earlier] = [s.info for s in listed if s.info.namespace == "sub:1" and s.info.seq == 1]
        assert (earlier.id, earlier.parent_id) == (begun.id, None)
        assert checkpointer.get(T, fork, begun.id, namespace="sub:1").values == {"log": ["a"]}
        assert copied.info.metadata["parents"] == {"": first.id}
        assert copied.pending_writes == _WRITES
        assert checkpointer.get(T, fork, namespace="sub:1").values == {"log": ["a", "b"]}
        assert checkpointer.get(T, fork, namespace="sub:1|in:2").id == deep.id
        assert checkpointer.get(T, fork, namespace="plain").values == {"p": 1}
        assert by_namespace["plain"].info.id == plain.id
        at_head = asyncio.run(checkpointer.afork(T, thread, head_fork))
        assert at_head.id == second.id
        namespaces = checkpointer.get_thread(T, head_fork).namespaces
        assert namespaces == ("", "plain", "sub:2")
        assert checkpointer.get(T, head_fork, namespace="plain").values == {"p": 2}
        checkpointer.delete_thread(T, thread)
        assert checkpointer.get(T, fork, namespace="sub:1").values == {"log": ["a", "b"]}

    def test_copy_thread(self, checkpointer: Any) -> None:
        thread, copy = _thread(), _thread()
        ids = _grow(checkpointer, thread, 3)
        assert checkpointer.batch([CopyThread(T, thread, copy)]) == [3]
        assert [h.id for h in checkpointer.history(T, copy)] == ids[::-1]
        assert checkpointer.get(T, copy).values == _values(2)
        missing, target = _thread(), _thread()  # as LangGraph's conformance suite allows:
        assert checkpointer.batch([CopyThread(T, missing, target)]) == [0]  # no error,
        assert checkpointer.get_thread(T, target) is None  # and nothing made

    # Pending writes.

    def test_pending_writes(self, checkpointer: Any) -> None:
        thread = _thread()
        cid = _grow(checkpointer, thread, 1)[0]
        w1 = PendingWrite("task-b", "ch", ("json", b"1"), 0, "p:1")
        w2 = PendingWrite("task-a", "ch", ("json", b"2"), 0, "p:0")
        w1b = w1._replace(value=("json", b"9"))
        checkpointer.batch([PutWrites(T, thread, "", cid, (w1, w2))])
        checkpointer.batch([PutWrites(T, thread, "", cid, (w1b,))])  # ignored: same key
        stored = checkpointer.batch([GetCheckpoint(T, thread, "", cid)])[0]
        assert stored.pending_writes == (w2, w1)
        checkpointer.batch([PutWrites(T, thread, "", cid, (w1b,), replace=True)])
        stored = checkpointer.batch([GetCheckpoint(T, thread, "", cid)])[0]
        assert stored.pending_writes == (w2, w1b)

    # Deletion.

    def test_delete_thread(self, checkpointer: Any) -> None:
        thread, kept = _thread(), _thread()
        _grow(checkpointer, thread, 3)
        _grow(checkpointer, kept, 1)
        assert checkpointer.delete_thread(T, thread) is True
        assert checkpointer.get(T, thread) is None and checkpointer.history(T, thread) == []
        assert checkpointer.get_thread(T, thread) is None
        assert checkpointer.delete_thread(T, thread) is False
        assert checkpointer.get(T, kept).values == _values(0)

    def test_delete_runs(self, checkpointer: Any) -> None:
        thread = _thread()
        _grow(checkpointer, thread, 2, run_id="r1")
        keep = _grow(checkpointer, thread, 2, run_id="r2")
        assert checkpointer.batch([DeleteRuns(T, ("r1", "nope"))]) == [2]
        assert [h.id for h in checkpointer.history(T, thread)] == keep[::-1]
        assert checkpointer.get(T, thread, keep[0]).values == _values(0)

    def test_batch_is_atomic(self, checkpointer: Any) -> None:
        thread = _thread()
        put = PutCheckpoint(T, thread, "", str(uuid.uuid4()), None, {})
        with pytest.raises(NotFoundError):
            checkpointer.batch([put, Rollback(T, thread, str(uuid.uuid4()))])
        assert checkpointer.get(T, thread) is None

    # Tenancy and threads.

    def test_tenants_are_isolated(self, checkpointer: Any) -> None:
        thread = _thread()
        ids = _grow(checkpointer, thread, 2)
        assert checkpointer.get(OTHER, thread) is None
        assert checkpointer.get(OTHER, thread, ids[0]) is None
        assert checkpointer.history(OTHER, thread) == []
        assert thread not in {t.thread_id for t in checkpointer.list_threads(OTHER)}
        assert checkpointer.delete_thread(OTHER, thread) is False
        checkpointer.prune(OTHER, policy=RetentionPolicy(keep_last=1))
        with pytest.raises(NotFoundError):
            checkpointer.rollback(OTHER, thread, ids[0])
        assert len(checkpointer.history(T, thread)) == 2

    def test_threads_listed_newest_first(self, checkpointer: Any) -> None:
        first, second = _thread(), _thread()
        ids = _grow(checkpointer, first, 2)
        checkpointer.put(T, second, {"a": 1}, namespace="sub")
        listed = [t for t in checkpointer.list_threads(T) if t.thread_id in (first, second)]
        assert [t.thread_id for t in listed] == [second, first]
        info = checkpointer.get_thread(T, first)
        assert (info.checkpoint_count, info.head_id, info.namespaces) == (2, ids[1], ("",))
        assert checkpointer.get_thread(T, second).namespaces == ("sub",)

    def test_prune_and_run_deletion_keep_the_threads_order(self, checkpointer: Any) -> None:
        """A prune or a run's deletion is no activity: the threads it cleans keep their
        places in `list_threads` (newest created first)."""
        oldest, middle, newest = _thread(), _thread(), _thread()
        for thread in (oldest, middle, newest):
            _grow(checkpointer, thread, 3, run_id=f"run-{thread}")
        order = [newest, middle, oldest]

        def listed() -> list[str]:
            return [t.thread_id for t in checkpointer.list_threads(T) if t.thread_id in order]

        assert listed() == order
        report = checkpointer.prune(T, [oldest, middle], policy=RetentionPolicy(keep_last=1))
        assert report.checkpoints_deleted == 4
        assert listed() == order
        _grow(checkpointer, middle, 1, run_id="later")
        assert checkpointer.batch([DeleteRuns(T, (f"run-{middle}",))]) == [1]
        assert listed() == order

    def test_concurrent_writers(self, checkpointer: Any) -> None:
        if not self.supports_threads:
            pytest.skip("not thread-safe")
        threads = [_thread() for _ in range(4)]
        workers = [threading.Thread(target=_grow, args=(checkpointer, t, 10)) for t in threads]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        for thread in threads:
            assert checkpointer.get(T, thread).values == _values(9)

    # Retention.

    def test_prune_keep_last_and_every(self, checkpointer: Any) -> None:
        thread = _thread()
        ids = _grow(checkpointer, thread, 10)
        report = checkpointer.prune(T, [thread], policy=RetentionPolicy(keep_last=2, keep_every=4))
        kept = [ids[9], ids[8], ids[7], ids[3]]  # seq 10, 9 (last 2), 8, 4 (every 4th)
        assert [h.id for h in checkpointer.history(T, thread)] == kept
        assert (report.checkpoints_deleted, report.checkpoints_kept) == (6, 4)
        for checkpoint_id in kept:
            step = ids.index(checkpoint_id)
            assert checkpointer.get(T, thread, checkpoint_id).values == _values(step)

    def test_prune_max_age_keeps_the_head(self, checkpointer: Any) -> None:
        thread = _thread()
        ids = _grow(checkpointer, thread, 3)
        policy = RetentionPolicy(max_age=timedelta(minutes=5))
        checkpointer.prune(T, [thread], policy=policy, now=utcnow())
        assert len(checkpointer.history(T, thread)) == 3
        checkpointer.prune(T, [thread], policy=policy, now=utcnow() + timedelta(hours=1))
        assert [h.id for h in checkpointer.history(T, thread)] == [ids[2]]

    def test_prune_deletes_the_list_items_only_pruned_checkpoints_held(
        self, checkpointer: Any
    ) -> None:
        """A message removed from a list is gone from storage once the checkpoints holding it
        are pruned, although the kept head's list was stored as a delta of theirs."""
        thread = _thread()
        secret, hello, ok = "card 4242 " * 20, "hello " * 20, "ok " * 30  # not inlined
        for messages in ([secret, hello], [hello], [hello, ok]):
            checkpointer.put(T, thread, {"messages": messages})
        later = utcnow() + timedelta(days=365)
        report = checkpointer.prune(
            T, [thread], policy=RetentionPolicy(max_age=timedelta(1)), now=later
        )
        assert (report.checkpoints_deleted, report.checkpoints_kept) == (2, 1)
        assert report.blobs_deleted == 1  # the secret; hello and ok are the head's
        assert checkpointer.get(T, thread).values == {"messages": [hello, ok]}
        checkpointer.put(T, thread, {"messages": [hello, ok, "bye"]})  # a delta of the head
        checkpointer.put(T, thread, {"messages": [ok, "bye"]})
        assert checkpointer.get(T, thread).values == {"messages": [ok, "bye"]}
        report = checkpointer.prune(T, [thread], policy=RetentionPolicy(keep_last=1))
        assert (report.checkpoints_deleted, report.blobs_deleted) == (2, 1)  # hello
        assert checkpointer.get(T, thread).values == {"messages": [ok, "bye"]}

    def test_prune_report_counts_every_thread_examined(self, checkpointer: Any) -> None:
        """`checkpoints_kept` counts what is left of every thread examined, with a policy or
        without; `values_deleted` the channel versions removed, small ones (kept inline in
        the checkpoint row by the SQL backends) and large ones: the same on every backend,
        in a dry run too."""
        pruned, untouched = _thread(), _thread()
        for thread in (pruned, untouched):
            for i in range(5):
                checkpointer.put(T, thread, {"small": i, "large": f"{i}" + "x" * 300, "k": 0})
        checkpointer.set_retention(T, pruned, RetentionPolicy(keep_last=2))
        dry = checkpointer.prune(T, [pruned, untouched], dry_run=True)
        report = checkpointer.prune(T, [pruned, untouched])
        assert dry == report
        assert (report.threads, report.checkpoints_deleted, report.checkpoints_kept) == (2, 3, 7)
        assert report.values_deleted == 6  # "small" and "large" of 3 checkpoints; "k" is kept
        assert sum(len(checkpointer.history(T, t)) for t in (pruned, untouched)) == 7

    def test_prune_dry_run_and_policies(self, checkpointer: Any) -> None:
        thread, other = _thread(), _thread()
        _grow(checkpointer, thread, 4)
        _grow(checkpointer, other, 4)
        dry = checkpointer.prune(T, [thread], policy=RetentionPolicy(keep_last=1), dry_run=True)
        assert dry.checkpoints_deleted == 3 and len(checkpointer.history(T, thread)) == 4
        assert checkpointer.prune(T, [thread]).checkpoints_deleted == 0  # no policy: keep all
        checkpointer.set_retention(T, thread, RetentionPolicy(keep_last=2))
        assert checkpointer.get_thread(T, thread).retention == RetentionPolicy(keep_last=2)
        checkpointer.prune(T, [thread, other])
        assert [len(checkpointer.history(T, t)) for t in (thread, other)] == [2, 4]

    def test_prune_counts_only_what_it_deletes_after_a_fork(self, checkpointer: Any) -> None:
        """A fork of a checkpoint whose list is a delta keeps the delta bases it copied while
        none of its checkpoints goes: a prune deleting nothing reports nothing deleted (in a
        dry run too), and one deleting checkpoints reports what it removes, as its dry run
        said, and leaves every kept checkpoint whole."""
        source, fork = _thread(), _thread()

        def values(step: int) -> dict[str, Any]:
            return {"msgs": [f"m{i}" * 30 for i in range(step + 1)], "big": "z" * (300 + step)}

        ids = [checkpointer.put(T, source, values(step)).id for step in range(6)]
        checkpointer.fork(T, source, fork, ids[2])  # a list delta of 2 bases (any snapshot_every)
        keep_one = RetentionPolicy(keep_last=1)
        nothing = PruneReport(threads=1, checkpoints_kept=1)
        for dry_run in (True, False, False):
            assert checkpointer.prune(T, [fork], policy=keep_one, dry_run=dry_run) == nothing
        assert checkpointer.get(T, fork).values == values(2)
        checkpointer.put(T, fork, values(3))
        checkpointer.put(T, fork, values(4))
        dry = checkpointer.prune(T, [fork], policy=keep_one, dry_run=True)
        report = checkpointer.prune(T, [fork], policy=keep_one)
        assert dry == report
        assert (report.threads, report.checkpoints_deleted, report.checkpoints_kept) == (1, 2, 1)
        assert report.values_deleted >= 2 * 2  # both channels of both pruned checkpoints
        assert checkpointer.prune(T, [fork], policy=keep_one) == nothing
        assert checkpointer.get(T, fork).values == values(4)
        for step, checkpoint_id in enumerate(ids):
            assert checkpointer.get(T, source, checkpoint_id).values == values(step)

    @settings(
        max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(steps=st.lists(_STEP, min_size=1, max_size=25), policy=_POLICY, late=st.booleans())
    def test_pruning_never_breaks_a_kept_checkpoint(
        self, checkpointer: Any, steps: list[tuple[str, Any]], policy: RetentionPolicy, late: bool
    ) -> None:
        thread = _thread()
        values: dict[str, Any] = {"messages": [], "n": 0, "big": "x" * 300}
        expected: dict[str, dict[str, Any]] = {}
        for kind, arg in steps:
            if kind == "rollback" and expected:
                target = sorted(expected)[arg % len(expected)]
                info = checkpointer.rollback(T, thread, target)
                values = expected[info.id] = expected[target]
                continue
            values = _next(values, kind, arg)
            expected[checkpointer.put(T, thread, values).id] = values
        now = utcnow() + (timedelta(hours=2) if late else timedelta(0))
        checkpointer.prune(T, [thread], policy=policy, now=now)
        history = checkpointer.history(T, thread)
        assert history and history[0].id == max(expected)
        for info in history:
            assert checkpointer.get(T, thread, info.id).values == expected[info.id]
