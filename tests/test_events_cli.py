"""`engram events list|tail|replay`, through click's CliRunner on a real SQLite file,
PostgreSQL and Redis."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli_backends import BACKENDS, SQLITE_ONLY, Backend, backend_of
from engram.cli.events import events
from engram.stores.events import BaseEventLog
from engram.stores.sqlite.events import SqliteEventLog
from engram.types._event import Event

pytest_plugins = ["servers"]


@pytest.fixture(params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Backend[BaseEventLog]:
    """An empty database of each backend."""
    from engram.stores.postgres import PostgresEventLog
    from engram.stores.redis import RedisEventLog

    return backend_of(
        request,
        tmp_path / "engram.db",
        monkeypatch,
        sqlite=SqliteEventLog.from_path,
        postgres=PostgresEventLog.from_conn_string,
        redis=lambda url, prefix: RedisEventLog.from_url(url, prefix=prefix),
    )


@pytest.fixture
def db(backend: Backend[BaseEventLog]) -> str:
    with backend.open() as log:
        log.append(
            "default",
            "run-1",
            [
                Event.thought("look for [bold]flights[/bold]"),
                Event.action("search", {"q": "LIS"}, call_id="c1"),
                Event.observation("TP123 at 9:00", tool="search", call_id="c1"),
                Event(type="custom", name="plan", payload={"plan": {"a": 1}, "x": 1}),
                Event.error("timeout"),
                Event(type="custom", payload={"plan": {"b": 2}, "x": None}),
            ],
        )
        log.append("default", "run-2", [Event.thought("other run")])
        log.append("acme", "run-3", [Event.thought("other tenant")])
    return backend.db


def _run(*args: str) -> Result:
    result = CliRunner().invoke(events, list(args), catch_exceptions=False)
    return result


def test_list_shows_the_tenants_streams(db: str) -> None:
    result = _run("list", "--db", db)
    assert result.exit_code == 0
    assert "run-1" in result.output and "run-2" in result.output
    assert "run-3" not in result.output
    assert result.output.index("run-2") < result.output.index("run-1")


def test_tail_shows_the_newest_events(db: str) -> None:
    result = _run("tail", "run-1", "--db", db, "--limit", "3")
    assert result.exit_code == 0
    assert "6 events" in result.output and "timeout" in result.output
    assert "custom:plan" in result.output and "flights" not in result.output


def test_tail_from_a_version_keeps_markup_literal(db: str) -> None:
    result = _run("tail", "run-1", "--db", db, "--from", "1", "--limit", "2")
    assert "look for [bold]flights[/bold]" in result.output
    assert 'search({"q": "LIS"})' in result.output and "TP123" not in result.output


def test_tail_json_filters_by_type(db: str) -> None:
    result = _run("tail", "run-1", "--db", db, "--from", "1", "--type", "custom", "--json")
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [(e["version"], e["type"]) for e in lines] == [(4, "custom"), (6, "custom")]


def test_tail_of_a_missing_stream_fails_cleanly(db: str) -> None:
    result = _run("tail", "nope", "--db", db)
    assert result.exit_code == 1 and "no stream 'nope'" in result.output


def test_tenant_option_scopes_the_streams(db: str) -> None:
    assert "other tenant" in _run("tail", "run-3", "--db", db, "--tenant", "acme").output
    assert _run("tail", "run-3", "--db", db).exit_code == 1


def test_replay_summary(db: str) -> None:
    result = _run("replay", "run-1", "--db", db)
    assert result.exit_code == 0
    assert "version 6 (6 events replayed)" in result.output
    for kind in ["action", "custom", "error", "observation", "thought"]:
        assert kind in result.output


def test_replay_merge_to_version_as_json(db: str) -> None:
    result = _run("replay", "run-1", "--db", db, "--reducer", "merge", "--json")
    assert json.loads(result.output) == {"plan": {"a": 1, "b": 2}}
    early = _run("replay", "run-1", "--db", db, "--reducer", "merge", "--to", "4", "--json")
    assert json.loads(early.output) == {"plan": {"a": 1}, "x": 1}


def test_env_var_selects_the_database(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGRAM_DB", db)
    assert "run-1" in _run("list").output


@pytest.mark.parametrize(
    "command",
    [["list"], ["tail", "run-1"], ["replay", "run-1"]],
    ids=" ".join,
)
@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://app:s3cret@127.0.0.1:1/engram", "BackendUnavailable"),
        ("host=127.0.0.1 port=1 user=app password=s3cret dbname=engram", "BackendUnavailable"),
        ("postgresql://app:s3cret%zz@127.0.0.1:1/engram", "invalid percent-encoded"),
        ("redis://:s3cret@127.0.0.1:1/0", "BackendUnavailable"),
    ],
    ids=["postgres", "libpq-string", "postgres-bad-percent", "redis"],
)
def test_an_unreachable_server_is_one_clean_error_without_its_password(
    command: list[str], url: str, says: str
) -> None:
    result = _run(*command, "--db", url)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert result.output.startswith("Error: ") and says in result.output
    assert len(result.output.splitlines()) == 1 and "s3cret" not in result.output


def test_an_address_of_another_backend_is_refused() -> None:
    result = _run("list", "--db", "mysql://db/app")
    assert result.exit_code == 1
    assert "reads SQLite, PostgreSQL and Redis, not mysql:// addresses" in result.output


def test_missing_database_is_an_error(tmp_path: Path) -> None:
    result = _run("list", "--db", str(tmp_path / "absent.db"))
    assert result.exit_code == 1 and "no database" in result.output
    assert not (tmp_path / "absent.db").exists()


def test_tail_by_type_shows_the_newest_of_that_type(backend: Backend[BaseEventLog]) -> None:
    path = backend.db
    with backend.open() as log:
        thoughts = [Event.thought(str(i)) for i in range(30)]
        log.append("default", "t", [Event.error("boom"), *thoughts, Event.error("again")])
        log.append("default", "t", [Event.thought(str(i)) for i in range(100)])
    shown = _run("tail", "t", "--db", path, "--type", "error", "--limit", "1")
    assert "again" in shown.output and "boom" not in shown.output
    both = _run("tail", "t", "--db", path, "--type", "error", "--json")
    assert [json.loads(line)["version"] for line in both.output.splitlines()] == [1, 32]
    one = _run("tail", "t", "--db", path, "--type", "error", "--json", "--limit", "1")
    assert [json.loads(line)["version"] for line in one.output.splitlines()] == [32]
    newest = _run("tail", "t", "--db", path, "--json", "--limit", "2")
    assert [json.loads(line)["version"] for line in newest.output.splitlines()] == [131, 132]
    none = _run("tail", "t", "--db", path, "--type", "action")
    assert none.exit_code == 0 and "no events" in none.output


def test_stream_ids_are_shown_as_is(backend: Backend[BaseEventLog]) -> None:
    path = backend.db
    with backend.open() as log:
        log.append("default", "a[/b]", [Event.thought("[/i] x"), Event.error("[red]y")])
    assert "a[/b]" in _run("list", "--db", path).output
    tailed = _run("tail", "a[/b]", "--db", path)
    assert "a[/b]: 2 events" in tailed.output
    assert "[/i] x" in tailed.output and "[red]y" in tailed.output
    replayed = _run("replay", "a[/b]", "--db", path)
    assert "a[/b] at version 2" in replayed.output and "[red]y" in replayed.output


@SQLITE_ONLY
def test_a_sqlite_url_names_the_file(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "run-1" in _run("list", "--db", f"sqlite:///{db}").output  # sqlite:////absolute
    monkeypatch.chdir(tmp_path)
    assert "run-1" in _run("tail", "run-1", "--db", "sqlite:///engram.db").output
    missing = CliRunner().invoke(events, ["list", "--db", "sqlite:///absent.db"])
    assert missing.exit_code == 1 and "no database at sqlite:///absent.db" in missing.output
    assert not (tmp_path / "absent.db").exists()


@SQLITE_ONLY
@pytest.mark.parametrize(
    "args",
    [
        ["list", "--limit", "99999999999999999999"],
        ["list", "--limit", "-1"],
        ["tail", "run-1", "--from", "99999999999999999999"],
        ["tail", "run-1", "--from", "-5"],
        ["replay", "run-1", "--to", "99999999999999999999"],
        ["replay", "run-1", "--to", "-1"],
    ],
    ids=[
        "list-huge",
        "list-negative",
        "tail-from-huge",
        "tail-from-negative",
        "replay-to-huge",
        "replay-to-negative",
    ],
)
def test_numbers_out_of_range_are_usage_errors(db: str, args: list[str]) -> None:
    result = CliRunner().invoke(events, [*args, "--db", db])
    assert result.exit_code == 2 and "is not in the range" in result.output, result.output
