"""The working-memory record of an agent task: what it is doing and what it has learnt so far.

`WorkingMemory` is immutable; its `with_*` methods return updated copies, so it can be the
state of a pure reducer (`engram.state.working.apply_event`) and be folded from an event log,
snapshotted (`to_dict()`), and rendered into a prompt within a token budget
(`engram.state.working.render_working_memory`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from engram._exceptions import InvalidInputError
from engram.types._time import parse_time, utcnow

__all__ = ["ToolResult", "WorkingMemory"]


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The output of one tool call.

    `output` may be given as text or as any JSON value; a JSON value is kept as its JSON text
    (as working memory folded from an `Event.observation` shows it), so the record renders
    and round-trips through `to_dict()` / `from_dict()` unchanged.
    """

    tool: str
    """The tool's name."""
    output: str
    """What it returned, as text (a JSON value given is stored as its JSON text)."""
    call_id: str | None = None
    """The call it answers, if the model gave one."""
    step: str | None = None
    """The step it was run for."""

    def __post_init__(self) -> None:
        """Check the fields' types (`InvalidInputError`) and store `output` as text."""
        _check_text(self.tool, "tool")
        object.__setattr__(self, "output", output_text(self.output))

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "output": self.output,
            "call_id": self.call_id,
            "step": self.step,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ToolResult:
        """Inverse of `to_dict()`."""
        _check_record(data, "a tool result")
        return cls(
            tool=_required(data, "tool", "a tool result"),
            output=data.get("output", ""),
            call_id=data.get("call_id"),
            step=data.get("step"),
        )


def output_text(output: object) -> str:
    """A tool's output as text: text as it is, any other JSON value as its JSON text.

    Raises:
        InvalidInputError: `output` is neither text nor a JSON value.
    """
    if isinstance(output, str):
        return output
    try:
        return json.dumps(output, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidInputError(f"output must be text or a JSON value, not {output!r}") from exc


def _check_text(value: object, what: str) -> None:
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be text, not {value!r}")


def _check_record(data: object, what: str) -> None:
    if not isinstance(data, Mapping):
        raise InvalidInputError(f"{what} must be a mapping, not {data!r}")


def _required(data: Mapping[str, Any], name: str, what: str) -> Any:
    if name not in data:
        raise InvalidInputError(f"{what} needs a {name!r} field, got {dict(data)!r}")
    return data[name]


@dataclass(frozen=True, slots=True)
class WorkingMemory:
    """An agent's task record: its goal, its progress, its pending work and its notes.

    Example:
        ```python
        wm = WorkingMemory(goal="Book a table for two at 7pm")
        wm = wm.with_plan(["find restaurants", "call the restaurant"])
        wm = wm.start_step("find restaurants").with_tool_result(
            ToolResult("search", "3 results: ...")
        ).complete_step()
        ```
    """

    goal: str
    """What the task is for; always rendered."""
    current_step: str | None = None
    """The step in progress; always rendered."""
    completed_steps: tuple[str, ...] = ()
    """Finished steps, oldest first."""
    pending_actions: tuple[str, ...] = ()
    """Planned steps not started yet, next first."""
    tool_results: tuple[ToolResult, ...] = ()
    """Tool outputs, oldest first."""
    scratchpad: str = ""
    """Free-form notes, newest last (one note per line)."""
    updated_at: datetime = field(default_factory=utcnow)
    """When it last changed."""

    def __post_init__(self) -> None:
        """Check the fields' types (`InvalidInputError`): a step list given as one string
        (`with_plan("search")`) would otherwise become one step per letter. Lists passed in
        are copied to tuples: the caller keeping the list cannot change us."""
        _check_text(self.goal, "goal")
        _check_text(self.scratchpad, "scratchpad")
        if self.current_step is not None:
            _check_text(self.current_step, "current_step")
        for name, kind in (
            ("completed_steps", str),
            ("pending_actions", str),
            ("tool_results", ToolResult),
        ):
            value = getattr(self, name)
            if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
                raise InvalidInputError(f"{name} must be a list, e.g. [{value!r}], not {value!r}")
            items = tuple(value)
            wrong = next((item for item in items if not isinstance(item, kind)), None)
            if wrong is not None:
                raise InvalidInputError(f"{name} holds {wrong!r}, not a {kind.__name__}")
            object.__setattr__(self, name, items)

    def with_goal(self, goal: str, *, now: datetime | None = None) -> WorkingMemory:
        """A copy with `goal` as its goal."""
        return self._changed(now, goal=goal)

    def with_plan(self, steps: Sequence[str], *, now: datetime | None = None) -> WorkingMemory:
        """A copy whose pending actions are `steps`."""
        return self._changed(now, pending_actions=steps)

    def start_step(self, step: str, *, now: datetime | None = None) -> WorkingMemory:
        """A copy with `step` in progress (and removed from the pending actions).

        Starting the step already in progress changes nothing.

        Raises:
            InvalidInputError: Another step is in progress (`complete_step()` it first).
        """
        if step == self.current_step:
            return self
        if self.current_step is not None:
            raise InvalidInputError(
                f"step {self.current_step!r} is in progress: complete_step() it before"
                f" starting {step!r}"
            )
        pending = list(self.pending_actions)
        if step in pending:
            pending.remove(step)
        return self._changed(now, current_step=step, pending_actions=tuple(pending))

    def complete_step(self, *, now: datetime | None = None) -> WorkingMemory:
        """A copy with the current step moved to the completed steps (no-op without one)."""
        if self.current_step is None:
            return self
        done = (*self.completed_steps, self.current_step)
        return self._changed(now, current_step=None, completed_steps=done)

    def with_tool_result(self, result: ToolResult, *, now: datetime | None = None) -> WorkingMemory:
        """A copy with `result` added to the tool results."""
        return self._changed(now, tool_results=(*self.tool_results, result))

    def with_note(self, note: str, *, now: datetime | None = None) -> WorkingMemory:
        """A copy with `note` appended to the scratchpad, on its own line."""
        pad = f"{self.scratchpad}\n{note}" if self.scratchpad else note
        return self._changed(now, scratchpad=pad)

    def _changed(self, now: datetime | None, **changes: Any) -> WorkingMemory:
        return replace(self, updated_at=now or utcnow(), **changes)

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data."""
        return {
            "goal": self.goal,
            "current_step": self.current_step,
            "completed_steps": list(self.completed_steps),
            "pending_actions": list(self.pending_actions),
            "tool_results": [result.to_dict() for result in self.tool_results],
            "scratchpad": self.scratchpad,
            "updated_at": self.updated_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkingMemory:
        """Inverse of `to_dict()`."""
        _check_record(data, "working memory")
        results = data.get("tool_results") or ()
        if isinstance(results, str | bytes | Mapping) or not isinstance(results, Iterable):
            raise InvalidInputError(f"tool_results must be a list, not {results!r}")
        updated_at = data.get("updated_at")
        return cls(
            goal=_required(data, "goal", "working memory"),
            current_step=data.get("current_step"),
            completed_steps=data.get("completed_steps") or (),
            pending_actions=data.get("pending_actions") or (),
            tool_results=tuple(ToolResult.from_dict(r) for r in results),
            scratchpad=data.get("scratchpad") or "",
            updated_at=parse_time(updated_at, "updated_at") if updated_at else utcnow(),
        )
