"""Fitting a measured history into a token budget: the core of `token_budget`.

The current turn is the newest user message (the anchor) and the units after it. Priorities,
highest first: the system prompt (never cut); the core at its floor (the anchor cut to
`NEWEST_USER_MIN_TOKENS` tokens, its first and last halves, the newest unit after it cut to
markers); the summary; the
core whole; the recall block (profile and memories), only if nothing before it was cut, within
its share; the other units after the anchor, newest first, whole, while they fit; then, only
if all of those fit, older units, newest first, while they fit. `BudgetExceededError` is
raised only when the first two cannot fit.

Only the core is ever cut. In an agent or tool loop (many messages after the user's), cutting
every step to a marker would send a prompt of markers, and would crowd out the summary: the
oldest steps are dropped whole instead, like older history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from engram._exceptions import BudgetExceededError
from engram.context._counting import MessageCounterProtocol
from engram.context._groups import Unit, anchor_index, is_said
from engram.context._measure import Measured
from engram.context._recall import RECALL_ID, Recall, RecallBlock, recall_block
from engram.context._truncate import Cut, cut_floor, shrink
from engram.types import Message

__all__ = [
    "NEWEST_USER_MIN_TOKENS",
    "SUMMARY_ID",
    "SUMMARY_PREFIX",
    "Fit",
    "fit",
    "summary_message",
]

NEWEST_USER_MIN_TOKENS = 32
"""The newest user message is never cut shorter than 32 tokens, its first 16 and its last 16
(plus the marker between them)."""

SUMMARY_PREFIX = "Summary of the earlier conversation: "
"""How the summary is introduced to the model, as the text of one system message."""

SUMMARY_ID = "summary"
"""The summary message's id, unless a message of the context has it (see `unused_id`)."""


def summary_message(text: str, *, message_id: str = SUMMARY_ID) -> Message:
    """The system message that carries a running summary into a context."""
    return Message(role="system", content=SUMMARY_PREFIX + text, id=message_id)


_Floors = dict[int, tuple[Cut, int]]
"""By position: the smallest allowed cut of a message, and its text's token count."""


@dataclass(frozen=True, slots=True)
class Fit:
    """Which history messages fit, in what form, and what the prompt costs."""

    kept: list[int]
    """Positions of the kept history messages, ascending."""
    replacements: dict[int, Message]
    """Truncated copies, by position."""
    summary: Cut | None
    """The summary message as sent (maybe truncated), or None."""
    recall: RecallBlock | None
    """The profile and memories that fit, or None when none were offered."""
    tokens: int
    """The whole prompt: fixed part, summary, recall block and kept history."""


def fit(
    prompt: Measured,
    counter: MessageCounterProtocol,
    *,
    budget: int,
    reserve: int,
    summary: Cut | None = None,
    recall: Recall | None = None,
    recall_id: str = RECALL_ID,
) -> Fit:
    """Choose the history, cut the summary and pack the recall block (as a message with id
    `recall_id`) so the prompt fits `budget - reserve`.

    Raises:
        BudgetExceededError: the system prompt, tool schemas and reply priming plus the
            newest user message at its floor exceed `budget - reserve`.
    """
    room = budget - reserve - prompt.fixed
    anchor = anchor_index(prompt.messages, prompt.units)
    start = len(prompt.units) if anchor is None else anchor
    newest = max(start + 1, len(prompt.units) - 1)
    core = [*prompt.units[start : start + 1], *prompt.units[newest:]]
    needed = prompt.tokens_at(i for unit in core for i in unit)
    needed += summary.tokens if summary else 0
    squeezed = needed > room
    turn = (
        _squeeze(prompt, counter, core, summary, budget=budget, reserve=reserve)
        if squeezed
        else _Turn(core, {}, summary, needed)
    )
    space = room - turn.tokens
    block = None
    if recall is not None:
        # Memories give way before the turn or the summary is cut: a squeezed turn leaves
        # them nothing, whatever few tokens its cuts left over.
        left = 0 if squeezed else space
        block = recall_block(recall, counter, space=left, message_id=recall_id)
        space -= block.tokens
    middle = _walk_back(prompt, newest, space, stop=start + 1)
    space -= sum(prompt.unit_sizes[middle:newest])
    first = _walk_back(prompt, start, space) if middle == start + 1 else start
    first = _on_a_user_turn(prompt, first, start)
    kept = [*prompt.units[first:start], *turn.units[:1], *prompt.units[middle:newest]]
    kept += turn.units[1:]
    positions = [i for unit in kept for i in unit]
    tokens = prompt.fixed + turn.tokens + sum(prompt.unit_sizes[first:start])
    tokens += sum(prompt.unit_sizes[middle:newest]) + (block.tokens if block else 0)
    return Fit(positions, turn.replacements, turn.summary, block, tokens)


class _Turn(NamedTuple):
    """The core of the current turn (anchor, newest unit) as it will be sent, with the summary."""

    units: list[Unit]
    replacements: dict[int, Message]
    summary: Cut | None
    tokens: int
    """Tokens of the kept units (as cut) and the summary."""


def _squeeze(
    prompt: Measured,
    counter: MessageCounterProtocol,
    current: list[Unit],
    summary: Cut | None,
    *,
    budget: int,
    reserve: int,
) -> _Turn:
    """The core of the current turn and the summary, cut to fit."""
    room = budget - reserve - prompt.fixed
    floors = _floors(prompt, counter, current)
    kept, floor_total = _keep_floors(prompt, current, floors, budget=budget, reserve=reserve)
    cut_summary = _fit_summary(summary, counter, room - floor_total)
    space = room - (cut_summary.tokens if cut_summary else 0)
    replacements, used = _allocate(prompt, counter, kept, floors, space)
    return _Turn(kept, replacements, cut_summary, used + (cut_summary.tokens if cut_summary else 0))


def _floors(prompt: Measured, counter: MessageCounterProtocol, current: list[Unit]) -> _Floors:
    """The floor of each message of the core: a user message's text (the newest user
    message's, or a question typed with the newest results) keeps `NEWEST_USER_MIN_TOKENS`,
    the rest is cut to markers."""
    floors: _Floors = {}
    for unit in current:
        for i in unit:
            message = prompt.messages[i]
            keep = NEWEST_USER_MIN_TOKENS if is_said(message) else 0
            floors[i] = cut_floor(message, prompt.sizes[i], counter, keep)
    return floors


def _keep_floors(
    prompt: Measured, current: list[Unit], floors: _Floors, *, budget: int, reserve: int
) -> tuple[list[Unit], int]:
    """The anchor and the newest unit after it if its floor fits, and their floor total.

    `current` is the core (the turn's other units are only ever added whole, with the room
    left); its unit after the anchor is dropped only when even cut to markers it cannot fit;
    the anchor itself is never dropped.
    """
    room = budget - reserve - prompt.fixed
    unit_floors = [sum(floors[i][0].tokens for i in unit) for unit in current]
    anchor_floor, followers = (unit_floors[0], unit_floors[1:]) if current else (0, [])
    if anchor_floor > room:
        role = prompt.messages[current[0][0]].role if current else None
        cut = any(floors[i][0].kept_text is not None for i in current[0]) if current else False
        raise BudgetExceededError(
            _too_small(prompt.fixed, (role, anchor_floor, cut), budget=budget, reserve=reserve)
        )
    tail = sum(followers)
    start = 0
    while anchor_floor + tail > room:
        tail -= followers[start]
        start += 1
    return [*current[:1], *current[1 + start :]], anchor_floor + tail


def _too_small(
    fixed: int, newest: tuple[str | None, int, bool], *, budget: int, reserve: int
) -> str:
    """Why the context cannot fit, in what it would take: the system prompt (with the tool
    schemas and reply priming), and the newest message (`role`, its tokens at its floor,
    and whether that floor is a cut), whichever is too much."""
    role, floor, cut = newest
    available = budget - reserve
    limit = f"budget {budget} - reserve {reserve} = {available} tokens"
    alone = " alone" if fixed > available else ""
    need = f"the system prompt, tool schemas and reply priming{alone} take {fixed} tokens"
    if role is not None:
        need += f" and the newest {'user ' if role == 'user' else ''}message {floor} more"
    if cut and role == "user":
        need += f", even cut to {NEWEST_USER_MIN_TOKENS} tokens (its start and its end)"
    elif cut:
        need += ", even cut to a marker"
    return f"the context cannot fit {limit}: {need}"


def _fit_summary(summary: Cut | None, counter: MessageCounterProtocol, space: int) -> Cut | None:
    """The summary, cut to `space` if needed; None when its prefix and marker do not fit."""
    if summary is None or summary.tokens <= space:
        return summary
    prefix = counter.count_text(SUMMARY_PREFIX)
    floor, total = cut_floor(summary.message, summary.tokens, counter, prefix)
    if floor.tokens > space:
        return None
    return shrink(summary.message, counter, space, floor, total)


def _allocate(
    prompt: Measured,
    counter: MessageCounterProtocol,
    units: list[Unit],
    floors: _Floors,
    space: int,
) -> tuple[dict[int, Message], int]:
    """Cut the largest messages of `units` first until they fit `space` (>= their floors)."""
    positions = [i for unit in units for i in unit]
    full = [prompt.sizes[i] for i in positions]
    if sum(full) <= space:
        return {}, sum(full)
    caps = _water_fill(full, [floors[i][0].tokens for i in positions], space)
    replacements: dict[int, Message] = {}
    used = 0
    for i, size, cap in zip(positions, full, caps, strict=True):
        if cap >= size:
            used += size
            continue
        floor, total = floors[i]
        cut = shrink(prompt.messages[i], counter, cap, floor, total)
        replacements[i] = cut.message
        used += cut.tokens
    return replacements, used


def _water_fill(full: Sequence[int], floors: Sequence[int], space: int) -> list[int]:
    """Per-message caps: the highest common level within `space`, never below a floor.

    Cutting everything above one level takes the tokens from the largest messages first.
    """

    def cost(level: int) -> int:
        return sum(max(low, min(size, level)) for size, low in zip(full, floors, strict=True))

    low, high = 0, max(full)
    while low < high:
        middle = (low + high + 1) // 2
        if cost(middle) <= space:
            low = middle
        else:
            high = middle - 1
    return [max(floor, min(size, low)) for size, floor in zip(full, floors, strict=True)]


def _on_a_user_turn(prompt: Measured, first: int, anchor: int) -> int:
    """Where the kept older history starts once the units before its first user message are
    left out, when older ones were dropped (`first > 0`) and the turn is a user's.

    Their question is gone: an assistant reply (or a tool call with its results, whole) or a
    note first would answer nothing, and Anthropic's API wants a user message first, as
    LangGraph's `trim_messages(start_on="human")` has it. A conversation that opens with an
    assistant greeting keeps it: nothing was dropped before it."""
    messages, units = prompt.messages, prompt.units
    if first == 0 or anchor >= len(units) or messages[units[anchor][0]].role != "user":
        return first
    while first < anchor and messages[units[first][0]].role != "user":
        first += 1
    return first


def _walk_back(prompt: Measured, end: int, space: int, *, stop: int = 0) -> int:
    """Where the kept units before `end` start: walking back to `stop` while each one fits."""
    sizes = prompt.unit_sizes
    first = end
    while first > stop and sizes[first - 1] <= space:
        first -= 1
        space -= sizes[first]
    return first
