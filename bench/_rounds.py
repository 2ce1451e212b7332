"""Timing several systems on the same stream of operations, in one run: `per_second`.

The systems take turns in rounds: in each round every system runs its next block of
consecutive operations (operation `i` of every system does the same work), so a slow moment
of this shared machine weighs on all of them alike, while each system's operations follow its
own, as in a user's loop of appends or an agent's loop of checkpoints. The order of the systems
rotates from round to round, and by default each system leads two rounds: the block that opens
a round runs right after the other systems' blocks (measured on PostgreSQL: Engram's appends
took 126 us at p50 when always first, against 106 us in its own loop).

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

__all__ = ["ONE_AT_A_TIME", "per_second", "seconds"]

ONE_AT_A_TIME = -1
"""`rounds=ONE_AT_A_TIME`: one operation of each system in turn, in a fixed order."""


def per_second(
    ops: Mapping[str, Callable[[int], object]], n: int, rounds: int | None = None
) -> dict[str, float]:
    """Operations per second of each system: `ops[name](i)` for i in range(n), the systems
    taking turns in blocks of consecutive operations (see `seconds`)."""
    return {name: n / sum(spent) for name, spent in seconds(ops, n, rounds).items()}


def seconds(
    ops: Mapping[str, Callable[[int], object]], n: int, rounds: int | None = None
) -> dict[str, list[float]]:
    """The seconds each operation took, per system: `ops[name](i)` for i in range(n), in
    `rounds` rounds (default: two per system, at most `n`) of one block of consecutive
    operations per system, the order of the systems rotated by one each round;
    `ONE_AT_A_TIME`: one operation of each in turn, in a fixed order."""
    names = list(ops)
    rotate = rounds != ONE_AT_A_TIME
    count = n if rounds == ONE_AT_A_TIME else min(n, rounds or 2 * len(names))
    if not 0 < count <= n:
        raise ValueError(f"rounds must be in 1..{n} or ONE_AT_A_TIME, got {rounds}")
    bounds = [n * r // count for r in range(count + 1)]
    spent: dict[str, list[float]] = {name: [] for name in names}
    for r, (first, stop) in enumerate(zip(bounds, bounds[1:], strict=False)):
        shift = r % len(names) if rotate else 0
        for name in names[shift:] + names[:shift]:
            op = ops[name]
            for i in range(first, stop):
                start = time.perf_counter()
                op(i)
                spent[name].append(time.perf_counter() - start)
    return spent
