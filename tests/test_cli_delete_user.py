"""`engram delete-user`: a user's sessions and memories erased from a real SQLite file, the
other user's left, the report printed (and as JSON)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from engram import Engram
from engram.cli import main

MARKER = "Zorblax7731"


@pytest.fixture
def db(tmp_path: Path) -> str:
    """ana and bob, each with a session and the memories of what they said."""
    path = str(tmp_path / "engram.db")
    with Engram(path) as mem:
        for user, city in (("ana", MARKER), ("bob", "Porto")):
            session = mem.session(f"s-{user}", user_id=user)
            session.add("user", f"I live in {city}.")
            mem.memories.add(messages=session.messages(), user_id=user)
    return path


def test_delete_user_erases_the_user_and_reports_it(db: str) -> None:
    result = CliRunner().invoke(main, ["delete-user", "--db", db, "ana"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("deleted user ana: 1 session(s), ")
    assert "0 memories" not in result.output
    with Engram(db) as mem:
        assert mem.memories.get_all(user_id="ana") == []
        assert [s.id for s in mem.sessions(user_id="ana")] == []
        assert mem.memories.get_all(user_id="bob") != []
        assert [s.id for s in mem.sessions(user_id="bob")] == ["s-bob"]
    for file in Path(db).parent.iterdir():
        assert MARKER.encode() not in file.read_bytes(), file.name


def test_delete_user_as_json(db: str) -> None:
    result = CliRunner().invoke(main, ["delete-user", "--db", db, "--json", "ana"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["user_id"] == "ana" and report["sessions"] == 1
    assert report["memories"]["memories"] >= 2 and report["memories"]["profiles"] == 1
    again = CliRunner().invoke(main, ["delete-user", "--db", db, "--json", "ana"])
    assert json.loads(again.output)["memories"]["memories"] == 0


def test_delete_user_refuses_a_missing_database(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["delete-user", "--db", str(tmp_path / "no.db"), "ana"])
    assert result.exit_code != 0
    assert not (tmp_path / "no.db").exists()
