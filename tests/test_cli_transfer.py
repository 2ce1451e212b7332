"""`engram memories export/import` and `engram sessions export/import`: a round trip
through files, and files that are not an export of the right kind refused with one clean
error line, before any database is created."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from engram import Engram
from engram.cli import main


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "source.db")
    with Engram(path) as mem:
        mem.memories.add("Ana likes green tea", user_id="ana", infer=False)
        mem.memories.add("Bob likes chess", user_id="bob", infer=False)
        s = mem.session("trip", user_id="ana")
        s.add("user", "Hello")
        s.add("assistant", "Hi Ana")
    return path


def export(runner: CliRunner, db: str, kind: str, target: Path) -> Path:
    which = ["--user", "ana"] if kind == "memories" else ["trip"]
    result = runner.invoke(main, [kind, "export", "--db", db, *which, "-o", str(target)])
    assert result.exit_code == 0, result.output
    return target


def assert_clean_error(result: Result, says: str) -> None:
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    last = result.output.rstrip().splitlines()[-1]
    assert last.startswith("Error:") and says in last, result.output


def test_files_round_trip_both_kinds(db: str, tmp_path: Path) -> None:
    runner = CliRunner()
    memories = export(runner, db, "memories", tmp_path / "ana.json")
    session = export(runner, db, "sessions", tmp_path / "trip.json")
    fresh = str(tmp_path / "fresh.db")

    for kind, path in (("memories", memories), ("sessions", session)):
        result = runner.invoke(main, [kind, "import", "--db", fresh, str(path)])
        assert result.exit_code == 0, result.output

    assert json.loads(memories.read_text())["memories"]
    assert export(runner, fresh, "memories", tmp_path / "again.json").read_text() == (
        memories.read_text()
    )
    with Engram(fresh) as mem:
        assert [m.text for m in mem.session("trip").messages()] == ["Hello", "Hi Ana"]
        assert mem.memories.get_all(user_id="bob") == []


@pytest.mark.parametrize("kind", ["memories", "sessions"])
@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "not JSON"),
        (b"\x00\x01binary", "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"format": "engram.memories/9"}', "export"),
        (b'{"format": "engram.session/9"}', "export"),
        (b"[]", "not an Engram"),
    ],
    ids=["empty", "binary", "deep", "memories-v9", "session-v9", "list"],
)
def test_a_bad_file_is_one_clean_error_and_creates_no_database(
    tmp_path: Path, kind: str, content: bytes, says: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    fresh = tmp_path / "fresh.db"

    result = CliRunner().invoke(main, [kind, "import", "--db", str(fresh), str(bad)])

    assert_clean_error(result, says)
    assert not fresh.exists()


@pytest.mark.parametrize(
    ("kind", "other", "says"),
    [
        ("memories", "sessions", "this is a session export, not a memory export"),
        ("sessions", "memories", "this is a memory export, not a session export"),
    ],
)
def test_an_export_of_the_other_kind_is_refused_saying_so(
    db: str, tmp_path: Path, kind: str, other: str, says: str
) -> None:
    runner = CliRunner()
    wrong = export(runner, db, other, tmp_path / "wrong.json")

    result = runner.invoke(main, [kind, "import", "--db", db, str(wrong)])

    assert_clean_error(result, says)


@pytest.mark.parametrize("kind", ["memories", "sessions"])
def test_a_future_version_is_refused_naming_it(db: str, tmp_path: Path, kind: str) -> None:
    runner = CliRunner()
    path = export(runner, db, kind, tmp_path / "export.json")
    data = json.loads(path.read_text())
    kind_of, _, version = data["format"].rpartition("/")
    data["format"] = f"{kind_of}/{int(version) + 1}"
    path.write_text(json.dumps(data))

    result = runner.invoke(main, [kind, "import", "--db", str(tmp_path / "x.db"), str(path)])

    assert_clean_error(result, f"unsupported {'memory' if kind == 'memories' else 'session'}")
    assert data["format"] in result.output


def test_restoring_a_session_twice_says_what_to_do(db: str, tmp_path: Path) -> None:
    runner = CliRunner()
    path = str(export(runner, db, "sessions", tmp_path / "trip.json"))

    again = runner.invoke(main, ["sessions", "import", "--db", db, path])

    assert_clean_error(again, "nothing was imported")
    assert "--as" in again.output
    copied = runner.invoke(main, ["sessions", "import", "--db", db, path, "--as", "trip-2"])
    assert copied.exit_code == 0, copied.output
    with Engram(db) as mem:
        assert sorted(info.id for info in mem.sessions()) == ["trip", "trip-2"]


def test_restoring_a_backup_after_a_deletion_says_it_skipped_the_erased_memory(
    db: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    backup = export(runner, db, "memories", tmp_path / "ana.json")
    with Engram(db) as mem:
        [tea] = mem.memories.get_all(user_id="ana")
        mem.memories.delete(tea.id)

    result = runner.invoke(main, ["memories", "import", "--db", db, str(backup)])

    assert result.exit_code == 0, result.output
    assert "imported 0 memories" in result.output
    assert "skipped 1 memories erased since the export" in result.output
    with Engram(db) as mem:
        assert mem.memories.get_all(user_id="ana") == []
