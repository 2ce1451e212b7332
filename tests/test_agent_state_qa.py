"""Working memory records and `engram events tail` on malformed or JSON input (the rules every
backend shares are in the conformance specs of `engram.testing`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from engram._exceptions import InvalidInputError
from engram.cli.events import events, preview
from engram.state.working import apply_event, render_working_memory
from engram.stores.sqlite.events import SqliteEventLog
from engram.tokens import TokenCounter
from engram.types._event import Event
from engram.types._working import ToolResult, WorkingMemory

COUNTER = TokenCounter.for_encoding("o200k_base")


@pytest.mark.parametrize(
    ("data", "said"),
    [
        ({}, "needs a 'goal' field"),
        ({"scratchpad": "x"}, "needs a 'goal' field"),
        ({"goal": None}, "goal must be text"),
        (None, "must be a mapping"),
        ({"goal": "g", "tool_results": [{}]}, "needs a 'tool' field"),
        ({"goal": "g", "tool_results": ["x"]}, "tool result must be a mapping"),
        ({"goal": "g", "tool_results": {"tool": "t"}}, "tool_results must be a list"),
        ({"goal": "g", "updated_at": "soon"}, "updated_at"),
    ],
)
def test_from_dict_refuses_malformed_records_naming_the_field(data: Any, said: str) -> None:
    with pytest.raises(InvalidInputError, match=said):
        WorkingMemory.from_dict(data)


def test_tool_result_from_dict_names_the_missing_tool() -> None:
    with pytest.raises(InvalidInputError, match="needs a 'tool' field"):
        ToolResult.from_dict({"output": "x"})


@pytest.mark.parametrize(
    ("output", "text"),
    [
        ({"a": None}, '{"a": null}'),
        ([1, "é", True], '[1, "é", true]'),
        (3.5, "3.5"),
        (None, "null"),
        ("as is", "as is"),
    ],
)
def test_a_json_output_is_kept_as_json_through_the_round_trip(output: Any, text: str) -> None:
    memory = WorkingMemory(goal="g").with_tool_result(ToolResult("t", output))
    assert memory.tool_results[0].output == text
    assert WorkingMemory.from_dict(memory.to_dict()) == memory
    assert f"[t] {text}" in render_working_memory(memory, COUNTER, 500)


def test_a_direct_tool_result_equals_the_one_folded_from_its_observation() -> None:
    output = {"ok": True, "rows": [1, 2], "x": None}
    folded = apply_event(WorkingMemory(goal="g"), Event.observation(output, tool="t"))
    assert folded.tool_results == (ToolResult("t", output),)


@pytest.mark.parametrize("output", [object(), float("nan"), {"a": {1, 2}}])
def test_an_output_that_is_neither_text_nor_json_is_refused(output: Any) -> None:
    with pytest.raises(InvalidInputError, match="output must be text or a JSON value"):
        ToolResult("t", output)


def test_tail_shows_an_observation_output_as_json(tmp_path: Path) -> None:
    event = Event.observation({"ok": True, "x": None}, tool="lookup")
    assert preview(event) == 'lookup → {"ok": true, "x": null}'
    path = str(tmp_path / "engram.db")
    with SqliteEventLog.from_path(path) as log:
        log.append("default", "run", [event, Event.observation("plain", tool="echo")])
    result = CliRunner().invoke(events, ["tail", "run", "--db", path], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert '{"ok": true, "x": null}' in result.output and "'ok'" not in result.output
    assert "echo → plain" in result.output
