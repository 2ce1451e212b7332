"""Retrieval metrics over ranked items that each stand for one or more turns.

A retrieved item stands for the turns of its provenance. Every metric walks the ranking and
keeps the first occurrence of each turn (or session), so "k" always means k distinct turns
(or k distinct sessions), whatever the unit of memory:

- `recall_at_k`: the share of the evidence found among the first k distinct units;
- `recall_all_at_k`: 1 if all the evidence is among them, else 0 (LongMemEval's
  `recall_all@k`);
- `recall_any_at_k`: 1 if any of the evidence is among them, else 0 (LongMemEval's
  `recall_any@k`);
- `in_context`: the share of the evidence turns whose content reaches the context, when the
  ranked items' texts are packed greedily, best first, into a token budget: a turn counts
  when a packed item stands for it and holds its text (a fact derived from a turn stands for
  it in the ranking, but does not bring its words to the model).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

from engram._exceptions import InvalidInputError
from engram.eval._records import RetrievedItem

__all__ = [
    "distinct_sessions",
    "distinct_turns",
    "in_context",
    "pack_context",
    "percentile",
    "recall_all_at_k",
    "recall_any_at_k",
    "recall_at_k",
    "turn_labelled_sessions",
]


def distinct_turns(items: Iterable[RetrievedItem]) -> list[str]:
    """The turns the ranked items stand for, first occurrence first."""
    return list(dict.fromkeys(turn for item in items for turn in item.turn_ids))


def distinct_sessions(turns: Iterable[str], session_of: Mapping[str, str]) -> list[str]:
    """The sessions of ranked turns, first occurrence first (unknown turns are skipped)."""
    return list(dict.fromkeys(session_of[turn] for turn in turns if turn in session_of))


def turn_labelled_sessions(
    turns: Iterable[str], session_of: Mapping[str, str], evidence: Collection[str]
) -> list[str]:
    """`distinct_sessions` as LongMemEval's turn-granularity evaluation reads them
    (`evaluate_retrieval_turn2session`): a turn of an evidence session that is not itself
    evidence is renamed (`noans`) and stands for a session of its own, which takes a place
    among the first k without counting as the evidence session."""
    labelled = {session_of[turn] for turn in evidence if turn in session_of}
    return list(
        dict.fromkeys(
            f"noans:{session_of[turn]}"
            if session_of[turn] in labelled and turn not in evidence
            else session_of[turn]
            for turn in turns
            if turn in session_of
        )
    )


def recall_at_k(ranked: Sequence[str], evidence: Collection[str], k: int) -> float:
    """The share of `evidence` among the first `k` of `ranked` (distinct units).

    Example:
        ```python
        recall_at_k(["a", "b", "c"], {"b", "z"}, 2)  # 0.5
        ```
    """
    if not evidence:
        raise InvalidInputError("recall is undefined without evidence")
    top = set(ranked[:k])
    return sum(1 for unit in evidence if unit in top) / len(evidence)


def recall_all_at_k(ranked: Sequence[str], evidence: Collection[str], k: int) -> float:
    """1.0 if every unit of `evidence` is among the first `k` of `ranked`, else 0.0.

    Empty evidence gives 1.0, as in LongMemEval's `evaluate_retrieval` (`all([])`).
    """
    top = set(ranked[:k])
    return 1.0 if all(unit in top for unit in evidence) else 0.0


def recall_any_at_k(ranked: Sequence[str], evidence: Collection[str], k: int) -> float:
    """1.0 if some unit of `evidence` is among the first `k` of `ranked`, else 0.0.

    Empty evidence gives 0.0, as in LongMemEval's `evaluate_retrieval` (`any([])`).
    """
    top = set(ranked[:k])
    return 1.0 if any(unit in top for unit in evidence) else 0.0


def pack_context(
    items: Iterable[RetrievedItem], budget: int, count: Callable[[str], int]
) -> list[RetrievedItem]:
    """Greedily pack items, best first, into `budget` tokens; an item too big is skipped.

    Each item costs `count(item.text)` plus one token for the line break between items.
    Items whose text was already packed cost nothing and are kept (they cover the same turns).
    """
    packed: list[RetrievedItem] = []
    seen: set[str] = set()
    left = budget
    for item in items:
        if item.text in seen:
            packed.append(item)
            continue
        cost = count(item.text) + 1
        if cost <= left:
            packed.append(item)
            seen.add(item.text)
            left -= cost
    return packed


def in_context(
    items: Iterable[RetrievedItem],
    evidence: Collection[str],
    budget: int,
    count: Callable[[str], int],
    *,
    texts: Mapping[str, str] | None = None,
) -> float:
    """The share of the evidence turns whose content is in the items that fit in `budget`.

    Args:
        items: The ranking, best first.
        evidence: The evidence turns' ids.
        budget: Tokens of the assembled context (the packed texts, one per line).
        count: The token counter.
        texts: Turn id -> what was said. A turn counts only if a packed item that stands
            for it holds this text (spaces and typographic quotes aside); without `texts`,
            standing for it is enough.
    """
    if not evidence:
        raise InvalidInputError("evidence-in-context is undefined without evidence")
    packed = pack_context(items, budget, count)
    if texts is None:
        covered = set(distinct_turns(packed))
        return sum(1 for turn in evidence if turn in covered) / len(evidence)
    found = sum(1 for turn in evidence if _carried(turn, texts.get(turn, ""), packed))
    return found / len(evidence)


def _carried(turn: str, text: str, packed: Iterable[RetrievedItem]) -> bool:
    """Whether a packed item stands for `turn` and holds its text."""
    wanted = _plain(text)
    return any(turn in item.turn_ids and wanted in _plain(item.text) for item in packed)


_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def _plain(text: str) -> str:
    """`text` with runs of whitespace as one space and typographic quotes as straight ones
    (memory stores a turn so normalised)."""
    return " ".join(text.translate(_QUOTES).split())


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0..100) by linear interpolation; 0.0 for no values (a report's
    JSON line must stay strict JSON, which has no NaN)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
