"""Working memory: folding it from agent events, and rendering it into a prompt within a budget.

`apply_event` is a reducer (`engram.state.events.ReducerProtocol`) that maintains a
`WorkingMemory` from an event stream:

| event                                   | effect                                            |
|-----------------------------------------|---------------------------------------------------|
| `custom` named `goal`, `{"goal": s}`    | sets the goal                                     |
| `custom` named `plan`, `{"steps": [..]}`| sets the pending actions                          |
| `action` with `{"step": s}`             | completes the current step if another, starts `s` |
| `observation`                           | adds a tool result (for the current step)         |
| `custom` named `step_completed`         | completes the current step                        |
| `thought` / `error`                     | adds a note to the scratchpad                     |

`render_working_memory` turns it into prompt text that never exceeds a token budget: the goal
and current step always (cut only if they alone exceed the budget), then, by importance,
the pending actions (next first), the completed steps (newest first), the tool results (newest
first, each cut to a cap) and the scratchpad notes (newest first). What does not fit is dropped
least important first: the kept lines are always the most important ones, the last of them
cut to the space left.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from engram._validation import check_count
from engram.state.events import SnapshotPolicy
from engram.types._event import Event
from engram.types._working import ToolResult, WorkingMemory

__all__ = [
    "GOAL",
    "PLAN",
    "STEP_COMPLETED",
    "TextCounterProtocol",
    "apply_event",
    "render_working_memory",
    "working_memory_snapshots",
]

GOAL = "goal"
"""Name of the custom event that sets the goal."""
PLAN = "plan"
"""Name of the custom event that sets the pending actions."""
STEP_COMPLETED = "step_completed"
"""Name of the custom event that completes the current step."""


class TextCounterProtocol(Protocol):
    """What rendering needs from a tokenizer (`engram.tokens.TokenCounter` has it)."""

    def count_text(self, text: str, /) -> int:
        """Tokens of a bare text."""
        ...

    def truncate_text(self, text: str, max_tokens: int, /) -> str:
        """The longest prefix of `text` of at most `max_tokens` tokens."""
        ...


def apply_event(memory: WorkingMemory, event: Event) -> WorkingMemory:
    """Fold one event into the working memory (see the module docstring for the rules)."""
    now, payload = event.created_at, event.payload
    if event.type == "custom":
        if event.name == GOAL:
            return memory.with_goal(str(payload.get("goal", memory.goal)), now=now)
        if event.name == PLAN:
            return memory.with_plan([str(step) for step in payload.get("steps", ())], now=now)
        if event.name == STEP_COMPLETED:
            return memory.complete_step(now=now)
        return memory
    if event.type == "action":
        step = payload.get("step")
        if step is None or step == memory.current_step:
            return memory
        return memory.complete_step(now=now).start_step(str(step), now=now)
    if event.type == "observation":
        result = ToolResult(
            tool=str(payload.get("tool") or "tool"),
            output=payload.get("output", ""),  # JSON as its JSON text (`ToolResult`)
            call_id=payload.get("call_id"),
            step=memory.current_step,
        )
        return memory.with_tool_result(result, now=now)
    key = "text" if event.type == "thought" else "message"
    prefix = "" if event.type == "thought" else "error: "
    return memory.with_note(f"{prefix}{payload.get(key, '')}", now=now)


def working_memory_snapshots(
    every: int = 100, name: str = "working_memory/v2"
) -> SnapshotPolicy[WorkingMemory]:
    """A `SnapshotPolicy` storing `WorkingMemory` states as their `to_dict()` form."""
    return SnapshotPolicy(every, name, WorkingMemory.to_dict, WorkingMemory.from_dict)


# Rendering.

_Item = tuple[int, str]
"""(section index, line): one optional line of the rendered text."""

_MIN_CUT_TOKENS = 8
"""A line is cut to fit the space left only if at least this many tokens of it would show."""

_HEADERS = ("Pending actions:", "Completed steps:", "Tool results:", "Scratchpad:")


def render_working_memory(
    memory: WorkingMemory,
    counter: TextCounterProtocol,
    max_tokens: int,
    *,
    tool_result_tokens: int = 200,
) -> str:
    """Render `memory` as prompt text of at most `max_tokens` tokens.

    Args:
        memory: The working memory.
        counter: The tokenizer of the model the text is for.
        max_tokens: The budget; the result never exceeds it (0 gives "").
        tool_result_tokens: Each tool output is cut to this many tokens first.

    Returns:
        Lines `Goal: ...`, `Current step: ...`, then the sections that fit.

    Raises:
        InvalidInputError: `max_tokens` or `tool_result_tokens` is not an integer >= 0.

    Example:
        ```python
        render_working_memory(wm, TokenCounter.for_encoding("o200k_base"), 500)
        ```
    """
    check_count(max_tokens, "max_tokens")
    check_count(tool_result_tokens, "tool_result_tokens")
    head = _head(memory, counter, max_tokens)
    room = max_tokens - counter.count_text(head) - 1
    ranked = _ranked_items(memory, counter, tool_result_tokens)
    kept = _greedy(ranked, counter, room)
    text = _render(head, kept)
    # Token counts are not exactly additive across lines: drop items until the whole fits.
    while kept and counter.count_text(text) > max_tokens:
        kept = kept[:-1]
        text = _render(head, kept)
    return _fit(text, counter, max_tokens)


def _head(memory: WorkingMemory, counter: TextCounterProtocol, max_tokens: int) -> str:
    goal = _fit(f"Goal: {_indented(memory.goal)}", counter, max_tokens)
    step = f"Current step: {_indented(memory.current_step or 'none')}"
    step = _fit(step, counter, max_tokens - counter.count_text(goal) - 1)
    return f"{goal}\n{step}" if step else goal


def _ranked_items(
    memory: WorkingMemory, counter: TextCounterProtocol, tool_result_tokens: int
) -> list[_Item]:
    """Every optional line, most important first: each section's lines in order of value."""
    results = [_result_line(r, counter, tool_result_tokens) for r in memory.tool_results]
    notes = [f"- {line}" for line in memory.scratchpad.splitlines() if line.strip()]
    sections: Sequence[Sequence[str]] = (
        [f"- {_indented(action)}" for action in memory.pending_actions],
        [f"- {_indented(step)}" for step in reversed(memory.completed_steps)],
        list(reversed(results)),
        list(reversed(notes)),
    )
    return [(index, line) for index, lines in enumerate(sections) for line in lines]


def _result_line(result: ToolResult, counter: TextCounterProtocol, cap: int) -> str:
    output = result.output
    total = counter.count_text(output)
    if total > cap:
        kept = counter.truncate_text(output, cap)
        output = f"{kept}… [{total - counter.count_text(kept)} more tokens]"
    return f"- [{result.tool}] {_indented(output)}"


def _indented(text: str) -> str:
    """`text` with its later lines indented under its item: a tool's output (or a goal) that
    holds "\nScratchpad:" must not read as a section of its own."""
    return text.replace("\n", "\n  ")


def _greedy(ranked: list[_Item], counter: TextCounterProtocol, room: int) -> list[_Item]:
    """The longest prefix of `ranked` that fits `room`, its last line cut to fit if need be.

    Keeping a prefix means an item is only ever dropped with every less important one.
    """
    kept: list[_Item] = []
    for section, line in ranked:
        header = 0 if kept and kept[-1][0] == section else _cost(_HEADERS[section], counter)
        cost = header + _cost(line, counter)
        if cost <= room:
            kept.append((section, line))
            room -= cost
            continue
        available = room - header - 1
        if available >= _MIN_CUT_TOKENS:
            kept.append((section, _fit(line, counter, available - 1) + "…"))
        break
    return kept


def _cost(line: str, counter: TextCounterProtocol) -> int:
    return counter.count_text(line) + 1


def _render(head: str, kept: list[_Item]) -> str:
    lines = [head]
    for section, header in enumerate(_HEADERS):
        chosen = [line for s, line in kept if s == section]
        if not chosen:
            continue
        # Pending actions read next-first; the others oldest-first, as they happened.
        ordered = chosen if section == 0 else list(reversed(chosen))
        lines += [header, *ordered]
    return "\n".join(lines)


def _fit(text: str, counter: TextCounterProtocol, budget: int) -> str:
    """`text` cut to at most `budget` tokens (re-counted: a cut can re-tokenize longer)."""
    limit = budget
    while text and counter.count_text(text) > budget:
        if limit <= 0:
            return ""
        text = counter.truncate_text(text, limit)
        limit -= 1
    return text
