"""The `engram` CLI, through click's runner, on real SQLite files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from engram import Engram
from engram.cli import main

LOCOMO = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo_dev.json"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_demo_replays_and_compares(runner: CliRunner, tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    result = runner.invoke(main, ["demo", "--db", str(db), "--budget", "1500"])
    assert result.exit_code == 0, result.output
    assert "summarised" in result.output
    assert "Strategies compared" in result.output
    with Engram(db) as mem:
        [session] = [s for s in mem.sessions() if s.id.startswith("demo-")]
        assert session.message_count > 100
        assert mem.session(session.id).summary() is not None


def test_demo_remembers_the_conversation_long_term(runner: CliRunner, tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    result = runner.invoke(main, ["demo", "--db", str(db), "--no-compare"])
    assert result.exit_code == 0, result.output
    memory_part = result.output.split("Long-term memory", 1)[1]
    searches = memory_part.split("Search “What does Ana eat?”")
    assert len(searches) == 3  # now, then as of March
    now, then = searches[1], searches[2]
    assert "no longer strictly vegetarian" in now.split("\n  2.")[0]
    assert "Ana is vegetarian" in then.split("\n  2.")[0]
    context_line = " ".join(memory_part.split("Context of the next turn", 1)[1].split())
    assert "memories (" in context_line  # the console wraps long lines
    with Engram(db) as mem:
        retired = mem.memories.get_all(user_id="ana", include_superseded=True, limit=1000)
        [vegetarian] = [m for m in retired if m.text == "Ana is vegetarian"]
        assert vegetarian.superseded_at is not None  # revised, not deleted
        assert mem.memories.profile("ana").fields["partner"] == "Tomás"


@pytest.mark.skipif(not LOCOMO.exists(), reason="shared LoCoMo data not present")
def test_demo_reads_locomo(runner: CliRunner, tmp_path: Path) -> None:
    args = ["demo", "--data", str(LOCOMO), "--sample", "conv-26", "--no-compare"]
    result = runner.invoke(main, [*args, "--db", str(tmp_path / "d.db"), "--budget", "1000"])
    assert result.exit_code == 0, result.output
    assert "Caroline" in result.output


def test_sessions_commands(runner: CliRunner, tmp_path: Path) -> None:
    db = str(tmp_path / "e.db")
    with Engram(db) as mem:
        s = mem.session("s1", user_id="ana")
        s.add("user", "I live in Berlin")
        s.add("assistant", "Noted!")
    listed = runner.invoke(main, ["sessions", "list", "--db", db])
    assert listed.exit_code == 0 and "s1" in listed.output
    shown = runner.invoke(main, ["sessions", "show", "s1", "--db", db])
    assert "I live in Berlin" in shown.output
    exported = tmp_path / "s1.json"
    assert (
        runner.invoke(main, ["sessions", "export", "s1", "--db", db, "-o", str(exported)]).exit_code
        == 0
    )
    assert json.loads(exported.read_text())["session"]["id"] == "s1"
    imported = runner.invoke(main, ["sessions", "import", str(exported), "--as", "s2", "--db", db])
    assert imported.exit_code == 0 and "2 messages" in imported.output
    assert runner.invoke(main, ["sessions", "delete", "s1", "--db", db]).exit_code == 0
    with Engram(db) as mem:
        assert [s.id for s in mem.sessions()] == ["s2"]


def test_errors_are_one_clean_line(runner: CliRunner, tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    Engram(db).close()
    result = runner.invoke(main, ["sessions", "show", "missing", "--db", str(db)])
    assert result.exit_code == 1
    assert "NotFoundError" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args",
    [["list"], ["show", "s1"], ["export", "s1"], ["delete", "s1"]],
    ids=["list", "show", "export", "delete"],
)
def test_sessions_commands_do_not_create_a_database(
    runner: CliRunner, tmp_path: Path, args: list[str]
) -> None:
    db = tmp_path / "typo" / "engram.db"
    result = runner.invoke(main, ["sessions", *args, "--db", str(db)])
    assert result.exit_code == 1
    assert f"no database at {db}" in result.output
    assert not db.parent.exists()


def test_inspecting_a_session_does_not_extend_its_lifetime(
    runner: CliRunner, tmp_path: Path
) -> None:
    db = str(tmp_path / "e.db")
    with Engram(db) as mem:
        mem.session("s1", ttl_seconds=3600).add("user", "hi")
        expires = mem.session("s1", create=False).info().expires_at
    for command in (["show", "s1"], ["export", "s1", "-o", str(tmp_path / "s1.json")]):
        assert runner.invoke(main, ["sessions", *command, "--db", db]).exit_code == 0
    with Engram(db) as mem:
        [listed] = mem.sessions()
    assert listed.expires_at == expires


def test_every_command_has_help(runner: CliRunner) -> None:
    def walk(group, path):  # type: ignore[no-untyped-def]
        for name, command in getattr(group, "commands", {}).items():
            yield [*path, name], command
            yield from walk(command, [*path, name])

    for path, command in walk(main, []):
        assert command.help, path
        assert runner.invoke(main, [*path, "--help"]).exit_code == 0, path
