"""The writer processes of `test_memories_multiprocess`: memory writes of one user, or of
several, made by separate processes at the same moment.

Each function runs in a `backend_processes.WriterPool` process (spawned: it imports Engram
anew and opens its own `Engram` on the address it is given), waits at the pool's barrier so
that every writer starts its write together, and returns a report: what its writes did, or
the error they raised (a writer that fails breaks the barrier, so no one waits).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, TypeVar

import backend_processes
from engram import Engram, NotFoundError
from engram.stores.sqlite._internal import SqliteConnection

T = TypeVar("T")

VEGETARIAN = "Ana is vegetarian"
"""The fact every writer adds verbatim (`infer=False`)."""
LISBON = "I live in Lisbon."
"""The message every writer adds, extraction on."""
CITIES = ("I live in Lisbon.", "I live in Porto.", "I live in Berlin.", "I live in Madrid.")
"""Writer `i` says it lives in `CITIES[i]`."""
VEGAN = "Ana is vegan"
"""The text the updating writer gives the memory another writer deletes."""


def _together(
    opened: Callable[[], AbstractContextManager[T]], rounds: int, write: Callable[[T, int], Any]
) -> dict[str, Any]:
    """In what `opened()` opens, run `write(it, round)` once per round, every writer of the
    pool starting each round at the same moment; report the results by round, or the error
    raised."""
    report: dict[str, Any] = {"error": None, "results": []}
    try:
        with opened() as resource:
            for round_ in range(rounds):
                backend_processes._barrier.wait()
                report["results"].append(write(resource, round_))
    except BaseException as exc:  # reported to the parent, which fails the test
        report["error"] = repr(exc)
        backend_processes._barrier.abort()
    return report


def mend_barrier(index: int) -> None:
    """Reset the pool's barrier, which a failed writer broke, for the next scenario."""
    backend_processes._barrier.reset()


def _engram(address: str) -> Callable[[], Engram]:
    return lambda: Engram(address)


def _added(report: Any) -> dict[str, list[str]]:
    """An `AddReport` as ids: what the add inserted and what it rewrote."""
    return {
        "added": [memory.id for memory in report.added],
        "updated": [memory.id for memory in report.updated],
    }


def open_new_database(index: int, folder: str, rounds: int) -> dict[str, Any]:
    """Open a connection to the new SQLite file `<folder>/new-<round>.db`, every writer at
    once (the workers of a web server starting together on a new database)."""

    def open_and_close(_: None, round_: int) -> None:
        SqliteConnection(f"{folder}/new-{round_}.db").close()

    return _together(nullcontext, rounds, open_and_close)


def add_same_fact(index: int, address: str, rounds: int) -> dict[str, Any]:
    """Add `VEGETARIAN` verbatim and say `LISBON`, for user `same-<round>`."""

    def write(mem: Engram, round_: int) -> list[dict[str, list[str]]]:
        user = f"same-{round_}"
        verbatim = mem.memories.add(VEGETARIAN, user_id=user, infer=False)
        said = mem.memories.add(LISBON, user_id=user)
        return [_added(verbatim), _added(said)]

    return _together(_engram(address), rounds, write)


def add_own_city(index: int, address: str, rounds: int) -> dict[str, Any]:
    """Say `CITIES[index]`, for user `moves-<round>`."""
    return _together(
        _engram(address),
        rounds,
        lambda mem, round_: _added(mem.memories.add(CITIES[index], user_id=f"moves-{round_}")),
    )


def race_the_deletion(index: int, address: str, ids: list[str]) -> dict[str, Any]:
    """With the others, on memory `ids[round]` (a stored `VEGETARIAN` of user `gone-<round>`):
    writer 0 deletes it, writer 1 rewrites it to `VEGAN`, the others add its text again."""

    def write(mem: Engram, round_: int) -> Any:
        memory_id, user = ids[round_], f"gone-{round_}"
        if index == 0:
            return mem.memories.delete(memory_id).memories
        if index == 1:
            try:
                return mem.memories.update(memory_id, VEGAN).id
            except NotFoundError:  # the deletion came first
                return None
        return _added(mem.memories.add(VEGETARIAN, user_id=user, infer=False))

    return _together(_engram(address), len(ids), write)


def add_for_own_user(index: int, address: str, rounds: int) -> dict[str, Any]:
    """Say `CITIES[index]`, add `VEGETARIAN` and edit the profile of user `own-<index>`."""

    def write(mem: Engram, round_: int) -> None:
        user = f"own-{index}"
        mem.memories.add(CITIES[index], user_id=user)
        mem.memories.add(VEGETARIAN, user_id=user, infer=False)
        mem.memories.update_profile(user, {f"round-{round_}": "done"})

    return _together(_engram(address), rounds, write)
