"""CLI tables piped into another program (`engram memories list ... | cat`) are not cut to the
width Rich assumes without a terminal: each row stays on one line, each cell whole. Printed to
a terminal, they still fit it."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.table import Table

from engram import Engram
from engram.cli import main
from engram.cli._options import console

LONG = "Ana is allergic to peanuts and shellfish and keeps an epinephrine pen in her bag"


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "memories.db")
    with Engram(path) as mem:
        mem.memories.add(LONG, user_id="ana", infer=False)
        mem.memories.add("Ana lives in Lisbon", user_id="ana", infer=False)
    return path


def test_a_piped_table_keeps_each_row_on_one_line(db: str) -> None:
    """CliRunner's output is no terminal, as a pipe is; COLUMNS as a terminal 80 wide sets it."""
    result = CliRunner().invoke(
        main, ["memories", "list", "--db", db, "--user", "ana"], env={"COLUMNS": "80"}
    )
    assert result.exit_code == 0, result.output
    with Engram(db) as mem:
        ids = {m.text: m.id for m in mem.memories.get_all(user_id="ana")}
    rows = [line for line in result.output.splitlines() if line.startswith("│")]
    assert len(rows) == 2  # one line each: no cell wrapped
    long_row = next(row for row in rows if ids[LONG] in row)
    assert LONG in long_row and "2" in long_row.split("│")[2]  # the text and the date whole
    assert max(len(line) for line in result.output.splitlines()) > 80


def test_what_fits_is_as_wide_as_before_and_a_rule_as_wide_as_the_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    out = io.StringIO()
    piped = type(console)(file=out, highlight=False, emoji=False)
    piped.rule("Memories")
    piped.print("short line")
    lines = out.getvalue().splitlines()
    assert [len(line) for line in lines] == [80, len("short line")]


def test_a_table_printed_to_a_terminal_still_fits_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    out = io.StringIO()
    terminal = type(console)(file=out, force_terminal=True, color_system=None, emoji=False)
    table = Table("kind", "text")
    table.add_row("fact", LONG)
    terminal.print(table)
    assert max(len(line) for line in out.getvalue().splitlines()) <= 40
