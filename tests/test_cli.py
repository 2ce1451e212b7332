"""The `engram` CLI, through click's runner, on real SQLite files."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from engram import Engram
from engram.cli import main

pytest_plugins = ["servers"]

LOCOMO = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo_dev.json"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def assert_clean_error(result: Result, says: str) -> None:
    """A CLI error: a non-zero exit and one `Error: ...` line saying `says`, no traceback."""
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    last = result.output.rstrip().splitlines()[-1]
    assert last.startswith("Error:") and says in last, result.output


def locomo_file(path: Path, turns: list[dict[str, str]], speakers: tuple[str, str]) -> Path:
    """A one-conversation LoCoMo file."""
    conversation = {
        "speaker_a": speakers[0],
        "speaker_b": speakers[1],
        "session_1_date_time": "1:56 pm on 8 May, 2023",
        "session_1": turns,
    }
    path.write_text(json.dumps([{"sample_id": "s", "conversation": conversation, "qa": []}]))
    return path


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
    profile_line = " ".join(memory_part.split("Profile:", 1)[1].split("Search", 1)[0].split())
    assert "diet: pescatarian" in profile_line  # fields in words, not their keys
    assert ":fish" not in profile_line
    assert "Ana is pescatarian" in now.split("\n  2.")[0]  # the fact holding her diet now
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


@pytest.mark.parametrize(
    "args",
    [["sessions", "list"], ["memories", "users"], ["threads", "list"], ["events", "list"]],
)
def test_a_misspelt_variable_is_named_before_any_default_is_read(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    """(was: "no database at engram.db", the default the misspelt ENGRAM_DB left in place)"""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ENGRAM_DBB", str(tmp_path / "x.db"))
    result = runner.invoke(main, args)
    assert result.exit_code == 1
    assert "ConfigError" in result.output and "ENGRAM_DBB: no such setting" in result.output
    assert list(tmp_path.iterdir()) == []


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


def test_stored_text_is_shown_as_is(runner: CliRunner, tmp_path: Path) -> None:
    db = str(tmp_path / "markup.db")
    with Engram(db) as mem:
        session = mem.session("a[/b]", user_id="[bold]ana")
        session.add("user", "print(arr[i]) and [red]warning")
        session.add("assistant", "oops [/i] typo")
        session.update_state({"note": "[/x]"})
    listed = runner.invoke(main, ["sessions", "list", "--db", db])
    assert listed.exit_code == 0, listed.output
    assert "a[/b]" in listed.output and "[bold]ana" in listed.output
    shown = runner.invoke(main, ["sessions", "show", "a[/b]", "--db", db])
    assert shown.exit_code == 0, shown.output
    for text in ("a[/b]", "user=[bold]ana", "print(arr[i]) and [red]warning", "oops [/i] typo"):
        assert text in shown.output
    assert '"note": "[/x]"' in shown.output
    deleted = runner.invoke(main, ["sessions", "delete", "a[/b]", "--db", db])
    assert deleted.exit_code == 0 and "deleted a[/b]" in deleted.output


def test_trailing_backslashes_are_shown_once(runner: CliRunner, tmp_path: Path) -> None:
    db = str(tmp_path / "paths.db")
    with Engram(db) as mem:
        mem.session("C:\\temp\\", user_id="ana\\\\").add("user", "saved to D:\\out\\")
    listed = runner.invoke(main, ["sessions", "list", "--db", db])  # table cells
    assert listed.exit_code == 0, listed.output
    assert "C:\\temp\\ " in listed.output and "ana\\\\ " in listed.output
    assert "C:\\temp\\\\" not in listed.output and "ana\\\\\\" not in listed.output
    shown = runner.invoke(main, ["sessions", "show", "C:\\temp\\", "--db", db])  # in markup
    assert shown.exit_code == 0, shown.output
    assert "saved to D:\\out\\" in shown.output and "D:\\out\\\\" not in shown.output
    assert "user=ana\\\\" in shown.output and "ana\\\\\\" not in shown.output


def test_demo_shows_names_texts_and_paths_as_is(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    turns = [
        {"speaker": "Ana [/b]", "dia_id": f"D1:{n}", "text": f"[/i] turn {n} " + "word " * 40}
        for n in range(1, 9)
    ]
    data = locomo_file(tmp_path / "markup.json", turns, ("Ana [/b]", "Bo [red]"))
    args = ["demo", "--data", str(data), "--no-compare", "--no-memory", "--budget", "400"]
    result = runner.invoke(main, [*args, "--db", "run[i].db"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # the console wraps long lines
    assert "LoCoMo s: Ana [/b] & Bo [red]" in said
    assert "summarised 2 msgs from “[/i] turn 1 word" in said
    assert "engram sessions show demo-" in said and "--db 'run[i].db'" in said  # shell-quoted


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ('{"a": 1}', "expected a JSON list"),
        ("[1]", "is not a LoCoMo file"),
        ('[{"sample_id": "x"}]', "is not a LoCoMo file"),
        ('[{"sample_id": "x", "conversation": [1]}]', "is not a LoCoMo file"),
        ("not json", "cannot read"),
    ],
    ids=["object", "not-objects", "no-conversation", "bad-conversation", "not-json"],
)
def test_demo_refuses_what_is_not_locomo(
    runner: CliRunner, tmp_path: Path, content: str, says: str
) -> None:
    data = tmp_path / "data.json"
    data.write_text(content)
    args = ["demo", "--data", str(data), "--db", str(tmp_path / "d.db"), "--no-compare"]
    assert_clean_error(runner.invoke(main, args), says)


def test_demo_refuses_a_turn_without_text(runner: CliRunner, tmp_path: Path) -> None:
    data = locomo_file(
        tmp_path / "no-text.json", [{"speaker": "Ana", "dia_id": "D1:1"}], ("Ana", "Bo")
    )
    args = ["demo", "--data", str(data), "--db", str(tmp_path / "d.db"), "--no-compare"]
    assert_clean_error(runner.invoke(main, args), "is not a LoCoMo file")


def test_sqlite_urls_name_the_file_engram_opens(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with Engram("sqlite:///x.db") as mem:
        mem.session("s1").add("user", "hi")
    listed = runner.invoke(main, ["sessions", "list"], env={"ENGRAM_DB": "sqlite:///x.db"})
    assert listed.exit_code == 0, listed.output
    assert "s1" in listed.output
    absolute = runner.invoke(main, ["sessions", "show", "s1", "--db", f"sqlite:///{tmp_path}/x.db"])
    assert absolute.exit_code == 0 and "hi" in absolute.output
    assert_clean_error(
        runner.invoke(main, ["sessions", "list", "--db", "sqlite://x.db"]), "a SQLite URL is"
    )


def test_a_sqlite_url_is_not_checked_as_a_path(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Engram(str(tmp_path / "sqlite:" / "y.db")).close()  # what Path("sqlite:///y.db") names
    result = runner.invoke(main, ["sessions", "list", "--db", "sqlite:///y.db"])
    assert_clean_error(result, "no database at sqlite:///y.db")
    assert not (tmp_path / "y.db").exists()


def test_migrate_a_sqlite_url(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["db", "migrate", "--db", "sqlite:///x.db"])
    assert result.exit_code == 0, result.output
    assert "conversation: schema version" in result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == ["x.db"]
    with Engram("sqlite:///x.db") as mem:
        assert mem.sessions() == []


def test_migrate_a_libpq_connection_string(
    runner: CliRunner, postgres_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "://" not in postgres_database  # the fixture's address is a libpq string
    monkeypatch.chdir(tmp_path)
    env = {"ENGRAM_MEMORY_DB": str(tmp_path / "memories.db")}  # in case there is no pgvector
    result = runner.invoke(main, ["db", "migrate", "--db", postgres_database], env=env)
    assert result.exit_code == 0, result.output
    components = [line.split(":")[0] for line in result.output.splitlines()]
    assert components[:3] == ["checkpoints", "conversation", "events"]
    # The memory database is migrated too, after the main one.
    assert "memory database (ENGRAM_MEMORY_DB)" in result.output
    assert {path.name for path in tmp_path.iterdir()} >= {"memories.db"}
    import psycopg

    with psycopg.connect(postgres_database) as conn:
        migrated = {row[0] for row in conn.execute("SELECT component FROM engram_migrations")}
    assert {"checkpoints", "conversation", "events"} <= migrated


def test_migrate_redis_says_there_is_nothing_to_migrate(
    runner: CliRunner, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["db", "migrate", "--db", redis_url])
    assert result.exit_code == 0, result.output
    assert "Redis needs no migration" in " ".join(result.output.split())
    assert list(tmp_path.iterdir()) == []
    unreachable = runner.invoke(main, ["db", "migrate", "--db", "redis://127.0.0.1:1/0"])
    assert_clean_error(unreachable, "BackendUnavailable")
    assert list(tmp_path.iterdir()) == []


def test_migrate_migrates_the_memory_database_too(
    runner: CliRunner, redis_url: str, tmp_path: Path
) -> None:
    memories = tmp_path / "memories.db"
    env = {"ENGRAM_MEMORY_DB": str(memories)}
    result = runner.invoke(main, ["db", "migrate", "--db", redis_url], env=env)
    assert result.exit_code == 0, result.output
    with sqlite3.connect(memories) as conn:
        migrated = {row[0] for row in conn.execute("SELECT component FROM engram_migrations")}
    assert "memories" in migrated


def test_a_directory_that_cannot_be_made_is_one_clean_error(runner: CliRunner) -> None:
    result = runner.invoke(main, ["db", "migrate", "--db", "/proc/nope/x.db"])
    assert_clean_error(result, "BackendError")


@pytest.mark.parametrize(
    "args",
    [
        ["sessions", "list", "--limit", "99999999999999999999"],
        ["sessions", "list", "--limit", "-1"],
        ["sessions", "show", "s1", "--last", "99999999999999999999"],
        ["sessions", "show", "s1", "--last", "-5"],
    ],
    ids=["huge-limit", "negative-limit", "huge-last", "negative-last"],
)
def test_numbers_out_of_range_are_usage_errors(
    runner: CliRunner, tmp_path: Path, args: list[str]
) -> None:
    db = str(tmp_path / "e.db")
    with Engram(db) as mem:
        mem.session("s1").add("user", "hi")
    result = runner.invoke(main, [*args, "--db", db])
    assert result.exit_code == 2, result.output  # not a driver's OverflowError, nor exit 1
    assert isinstance(result.exception, SystemExit) and "is not in the range" in result.output


@pytest.mark.parametrize(
    "content", [b"\xff\xfe not text", b'{"format": "nope"}'], ids=["binary", "not-an-export"]
)
def test_a_file_that_is_not_an_export_is_refused_before_the_database_is_made(
    runner: CliRunner, tmp_path: Path, content: bytes
) -> None:
    data = tmp_path / "bad.json"
    data.write_bytes(content)
    db = tmp_path / "new.db"
    result = runner.invoke(main, ["sessions", "import", str(data), "--db", str(db)])
    assert_clean_error(result, "not")
    assert not db.exists()


def test_an_empty_address_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    """SQLite reads "" as a temporary database: an import would "succeed" into nothing."""
    exported = tmp_path / "s1.json"
    with Engram(tmp_path / "e.db") as mem:
        mem.session("s1").add("user", "hi")
        write = mem.session("s1").export()
    exported.write_text(json.dumps(write))
    for args in (["sessions", "import", str(exported)], ["db", "migrate"], ["sessions", "list"]):
        for address in ("", "sqlite:///"):
            result = runner.invoke(main, [*args, "--db", address])
            assert_clean_error(result, "a SQLite address names a file")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis://127.0.0.1:notaport/0", "not a valid Redis URL"),
        ("redis://u:pw@[::1/0", "not a valid Redis URL"),
        ("redis://127.0.0.1:6379/0?db=abc", "not a valid Redis URL"),
        ("redis://127.0.0.1:6379/abc", "is a database number, not 'abc'"),
    ],
    ids=["port", "ipv6", "db-option", "db-path"],
)
def test_a_malformed_redis_url_is_one_clean_error(
    runner: CliRunner, url: str, says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for args in (["sessions", "list"], ["db", "migrate"]):
        assert_clean_error(runner.invoke(main, [*args, "--db", url]), says)
    assert list(tmp_path.iterdir()) == []


def test_the_scheme_of_an_address_is_read_in_any_case(runner: CliRunner, redis_url: str) -> None:
    upper = "REDIS" + redis_url.removeprefix("redis")
    for args in (["sessions", "list"], ["db", "migrate"]):
        result = runner.invoke(main, [*args, "--db", upper])
        assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app:s3cret%zz@127.0.0.1:1/engram",
        "postgresql://app:s3cret@[::1/engram",
        "POSTGRESQL://app:s3cret@127.0.0.1:1/engram",
    ],
    ids=["bad-percent", "bad-ipv6", "upper-case"],
)
def test_errors_never_show_the_password(runner: CliRunner, url: str) -> None:
    for args in (["sessions", "list"], ["db", "migrate"], ["memories", "users"]):
        result = runner.invoke(main, [*args, "--db", url])
        assert_clean_error(result, "postgres")
        assert "s3cret" not in result.output


def test_eval_refuses_another_backend_as_its_sqlite_file(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for address in ("postgresql://app@db/engram", "host=db dbname=engram"):
        result = runner.invoke(main, ["eval", "currency", "--no-cache", "--db", address])
        assert result.exit_code == 2 and "a SQLite file" in result.output, result.output
    assert list(tmp_path.iterdir()) == []  # not a directory `postgresql:` with a database


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--budget", "0"], "Invalid value for '--budget'"),
        (["--reserve", "5000"], "leaves no room in --budget 3000"),
        (["--model", "no-such-model"], "unknown model"),
        (["--sample", "conv-1"], "--sample picks a conversation of --data"),
    ],
    ids=["budget", "reserve", "model", "sample"],
)
def test_demo_checks_its_options_before_writing(
    runner: CliRunner, tmp_path: Path, options: list[str], says: str
) -> None:
    db = tmp_path / "demo.db"
    result = runner.invoke(main, ["demo", "--db", str(db), "--no-compare", *options])
    assert result.exit_code != 0 and isinstance(result.exception, SystemExit), result.output
    assert says in result.output
    assert not db.exists()


def test_control_characters_are_shown_escaped(runner: CliRunner, tmp_path: Path) -> None:
    """Stored text may hold escape sequences: a terminal must not obey them."""
    db = str(tmp_path / "ctl.db")
    with Engram(db) as mem:
        mem.session("s\x1b]0;title\x07").add("user", "hi \x1b[2J\x1b[31mred\r over")
    listed = runner.invoke(main, ["sessions", "list", "--db", db])
    assert listed.exit_code == 0 and "s\\x1b]0;title\\x07" in listed.output
    shown = runner.invoke(main, ["sessions", "show", "s\x1b]0;title\x07", "--db", db])
    assert shown.exit_code == 0 and "hi \\x1b[2J\\x1b[31mred\\r over" in shown.output
    assert not {"\x1b", "\x07", "\r"} & set(listed.output + shown.output)


def test_migrate_takes_no_tenant(runner: CliRunner, tmp_path: Path) -> None:
    """Migrations are of the whole database: a --tenant would be ignored, so there is none."""
    assert "--tenant" not in runner.invoke(main, ["db", "migrate", "--help"]).output
    result = runner.invoke(main, ["db", "migrate", "--db", str(tmp_path / "x.db"), "--tenant", "t"])
    assert result.exit_code == 2 and "No such option '--tenant'" in result.output
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize(
    ("memory_db", "says"),
    [
        ("redis://127.0.0.1:1/0", "Redis stores no long-term memories"),
        ("mysql://db/engram", "not mysql:// URLs"),
    ],
    ids=["redis", "unknown"],
)
def test_migrate_refuses_a_memory_database_before_migrating_anything(
    runner: CliRunner, tmp_path: Path, memory_db: str, says: str
) -> None:
    db = tmp_path / "x.db"
    env = {"ENGRAM_MEMORY_DB": memory_db}
    assert_clean_error(runner.invoke(main, ["db", "migrate", "--db", str(db)], env=env), says)
    assert not db.exists()
