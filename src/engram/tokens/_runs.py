"""BPE of a run of one repeated byte (a million spaces) in a few steps instead of O(n log n).

tiktoken's BPE repeatedly merges the adjacent pair of parts whose concatenation has the lowest
rank, the leftmost pair on ties. On n copies of one byte every part is itself a run of that
byte, so the parts are kept run-length encoded, `[[length, count], ...]`, and the same
algorithm is applied to that form:

- a merge across two runs is applied alone;
- a merge inside a run of `count` parts of `length` is applied to every pair of that run at
  once (left to right: `count // 2` parts of `2 * length`) when none of the pairs those merges
  create ranks below it, so the one-pair-at-a-time algorithm would do the same merges next;
  otherwise only its first pair is merged.

Pairs of equal concatenation have equal rank, and the ones left of the chosen pair rank
higher (it is the leftmost of the lowest), so the whole-run step cannot jump a tie. If the
steps exceed a budget (a rank table without that regularity), `None` tells the caller to
use tiktoken's own BPE.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["repeated_byte_bpe"]

_MAX_STEPS = 4096

_Runs = list[list[int]]


def repeated_byte_bpe(ranks: Mapping[int, int], n: int) -> list[int] | None:
    """The tokens of `n` copies of one byte, or None past the step budget.

    Args:
        ranks: For each length k such that k copies of the byte form a token, that token's
            rank (its id). Must hold every such length, and length 1.
        n: The run length (>= 1).
    """
    runs: _Runs = [[1, n]]
    for _ in range(_MAX_STEPS):
        best = _lowest_pair(runs, ranks)
        if best is None:
            return [ranks[length] for length, count in runs for _ in range(count)]
        rank, index, inside = best
        if inside:
            _merge_inside(runs, index, rank, ranks)
        else:
            _merge_across(runs, index)
    return None


def _lowest_pair(runs: _Runs, ranks: Mapping[int, int]) -> tuple[int, int, bool] | None:
    """(rank, run index, inside the run?) of the leftmost lowest-rank mergeable pair."""
    best: tuple[int, int, bool] | None = None
    for index, (length, count) in enumerate(runs):
        # Candidates are visited left to right; `<` keeps the leftmost of equal ranks.
        if count >= 2:
            rank = ranks.get(2 * length)
            if rank is not None and (best is None or rank < best[0]):
                best = (rank, index, True)
        if index + 1 < len(runs):
            rank = ranks.get(length + runs[index + 1][0])
            if rank is not None and (best is None or rank < best[0]):
                best = (rank, index, False)
    return best


def _merge_inside(runs: _Runs, index: int, rank: int, ranks: Mapping[int, int]) -> None:
    length, count = runs[index]
    before = runs[index - 1][0] if index > 0 else None
    after = runs[index + 1][0] if index + 1 < len(runs) else None
    created = [3 * length] if count >= 3 else []  # (2l, l) while the run is being merged
    created += [4 * length] if count >= 4 else []  # (2l, 2l)
    created += [before + 2 * length] if before is not None else []
    created += [2 * length + after] if after is not None and count % 2 == 0 else []
    if all(ranks.get(total, rank + 1) > rank for total in created):
        merged = [[2 * length, count // 2]] + ([[length, 1]] if count % 2 else [])
    else:
        merged = [[2 * length, 1]] + ([[length, count - 2]] if count > 2 else [])
    runs[index : index + 1] = merged
    _normalize(runs)


def _merge_across(runs: _Runs, index: int) -> None:
    left, right = runs[index], runs[index + 1]
    left[1] -= 1
    right[1] -= 1
    runs.insert(index + 1, [left[0] + right[0], 1])
    _normalize(runs)


def _normalize(runs: _Runs) -> None:
    """Drop empty runs and join neighbours of equal length."""
    normal: _Runs = []
    for length, count in runs:
        if count == 0:
            continue
        if normal and normal[-1][0] == length:
            normal[-1][1] += count
        else:
            normal.append([length, count])
    runs[:] = normal
