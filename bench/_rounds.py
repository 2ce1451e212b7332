"""Timing several systems on the same stream of operations, in one run: `per_second`.

The systems take turns in rounds: in each round every system runs its next block of
consecutive operations (operation `i` of every system does the same work), so a slow moment
of this shared machine weighs on all of them alike, while each system's operations follow its
own, as in a user's loop of appends or an agent's loop of checkpoints.

Why not one operation of each system in turn (blocks of one, `rounds=n`)? Each operation then
runs right after the other system's: in the CPU caches the other filled and, after its
synchronous commit, on a core that sat idle waiting for the disk. The lighter system pays for
the heavier one. Measured here (SQLite file, 1,000 appends each): Engram's append took 75 us
in blocks and 165 us right after each of LangChain's, whose own append took 830 and 895 us. The
benchmarks that compare single operations print the blocks-of-one figure too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

__all__ = ["ROUNDS", "per_second", "seconds"]

ROUNDS = 5


def per_second(
    ops: Mapping[str, Callable[[int], object]], n: int, rounds: int = ROUNDS
) -> dict[str, float]:
    """Operations per second of each system: `ops[name](i)` for i in range(n), the systems
    taking turns in `rounds` blocks of consecutive operations (`rounds=n`: one at a time)."""
    return {name: n / sum(spent) for name, spent in seconds(ops, n, rounds).items()}


def seconds(
    ops: Mapping[str, Callable[[int], object]], n: int, rounds: int = ROUNDS
) -> dict[str, list[float]]:
    """The seconds each operation took, per system, run as `per_second` runs them."""
    if not 0 < rounds <= n:
        raise ValueError(f"rounds must be in 1..{n}, got {rounds}")
    bounds = [n * r // rounds for r in range(rounds + 1)]
    spent: dict[str, list[float]] = {name: [] for name in ops}
    for first, stop in zip(bounds, bounds[1:], strict=False):
        for name, op in ops.items():
            for i in range(first, stop):
                start = time.perf_counter()
                op(i)
                spent[name].append(time.perf_counter() - start)
    return spent
