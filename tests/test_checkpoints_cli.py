"""`engram threads ...` through click's runner, on a real SQLite file, PostgreSQL and Redis."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli_backends import BACKENDS, SQLITE_ONLY, Backend, backend_of
from engram.cli.threads import threads
from engram.integrations.langgraph import EngramSaver
from engram.stores.checkpoints import BaseCheckpointer
from engram.stores.sqlite.checkpoints import SqliteCheckpointer
from engram.types._checkpoint import RetentionPolicy

pytest_plugins = ["servers"]


@pytest.fixture(params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Backend[BaseCheckpointer]:
    """An empty database of each backend."""
    from engram.stores.postgres import PostgresCheckpointer
    from engram.stores.redis import RedisCheckpointer

    return backend_of(
        request,
        tmp_path / "agent.db",
        monkeypatch,
        sqlite=SqliteCheckpointer.from_path,
        postgres=PostgresCheckpointer.from_conn_string,
        redis=lambda url, prefix: RedisCheckpointer.from_url(url, prefix=prefix),
    )


@pytest.fixture
def db(backend: Backend[BaseCheckpointer]) -> str:
    with backend.open() as checkpointer:
        for step in range(6):
            values = {"messages": [f"message {i}" for i in range(step + 1)], "step": step}
            meta = {"source": "loop", "step": step}
            checkpointer.put("default", "t1", values, metadata=meta)
        checkpointer.put("default", "t2", {"goal": "book a flight"})
        checkpointer.put("other", "secret", {"x": 1})
    return backend.db


def invoke(*args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(threads, list(args), input=input)
    assert result.exit_code == 0, result.output
    return result.output


def ids(backend: Backend[BaseCheckpointer], thread: str = "t1") -> list[str]:
    with backend.open() as checkpointer:
        return [info.id for info in checkpointer.history("default", thread)]


def test_list(db: str) -> None:
    out = invoke("list", "--db", db)
    assert "t1" in out and "t2" in out and "secret" not in out
    assert "secret" in invoke("list", "--db", db, "--tenant", "other")


def test_show_newest_and_by_id(db: str, backend: Backend[BaseCheckpointer]) -> None:
    out = invoke("show", "t1", "--db", db)
    assert "#6" in out and '[6 items] last: "message 5"' in out and '"step": 5' in out
    older = ids(backend)[-1]
    assert '[1 items] last: "message 0"' in invoke("show", "t1", "--db", db, "--checkpoint", older)


def test_history_shows_what_changed(db: str, backend: Backend[BaseCheckpointer]) -> None:
    out = invoke("history", "t1", "--db", db, "--limit", "3")
    assert ids(backend)[0] in out and ids(backend)[3] not in out
    assert out.count("messages,") == 2  # the oldest listed one's parent is not listed: "?"


def test_history_of_a_run_whose_metadata_names_forked_from(
    backend: Backend[BaseCheckpointer],
) -> None:
    """LangGraph copies a config's plain values into a checkpoint's metadata: a run's own
    `forked_from` (not Engram's `{"thread_id": ..., "checkpoint_id": ...}`) is no fork."""
    with backend.open() as checkpointer:
        checkpointer.put("default", "t1", {"x": 1}, metadata={"forked_from": "ticket-7"})
        checkpointer.fork("default", "t1", "t2")
    assert "fork of" not in invoke("history", "t1", "--db", backend.db)
    assert "(fork of" in invoke("history", "t2", "--db", backend.db)


def test_fork_and_rollback(db: str, backend: Backend[BaseCheckpointer]) -> None:
    first = ids(backend)[-1]
    assert "forked t1 into t3" in invoke(
        "fork", "t1", "--db", db, "--checkpoint", first, "--to", "t3"
    )
    assert '[1 items] last: "message 0"' in invoke("show", "t3", "--db", db)
    assert "new head" in invoke("rollback", "t1", first, "--db", db)
    assert '[1 items] last: "message 0"' in invoke("show", "t1", "--db", db)


def test_prune_dry_run_then_saved_policy(db: str, backend: Backend[BaseCheckpointer]) -> None:
    out = invoke("prune", "t1", "--keep-last", "2", "--dry-run", "--save", "--db", db)
    assert "would remove" in out and len(ids(backend)) == 6
    assert "last 2" not in invoke("list", "--db", db)  # a dry run saves no policy either
    invoke("prune", "t1", "--keep-last", "2", "--save", "--db", db)
    assert len(ids(backend)) == 2
    with backend.open() as checkpointer:
        thread = checkpointer.get_thread("default", "t1")
        assert thread is not None and thread.retention == RetentionPolicy(keep_last=2)
    assert "last 2" in invoke("list", "--db", db)
    invoke("prune", "--max-age", "1w", "--db", db)  # nothing that old
    assert len(ids(backend)) == 2


def test_delete(db: str, backend: Backend[BaseCheckpointer]) -> None:
    assert "deleted t2" in invoke("delete", "t2", "--db", db, "--yes")
    assert ids(backend, "t2") == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["show", "nope"], "no checkpoint (newest) in thread nope"),
        (["history", "nope"], "no checkpoints in thread nope"),
        (["fork", "nope", "--to", "x"], "NotFoundError"),
        (["rollback", "t1", "00000000-0000-7000-8000-000000000000"], "NotFoundError"),
        (["delete", "nope", "--yes"], "no thread nope"),
    ],
    ids=["show", "history", "fork", "rollback", "delete"],
)
def test_what_is_not_there_is_one_clean_error(db: str, args: list[str], says: str) -> None:
    result = CliRunner().invoke(threads, [*args, "--db", db])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert result.output.startswith("Error: NotFoundError: ") and says in result.output
    assert len(result.output.splitlines()) == 1


@SQLITE_ONLY
@pytest.mark.parametrize(
    "args",
    [
        ["prune", "--max-age", "soon"],
        ["prune", "--max-age", "99999999999w"],
        ["prune", "--save"],
    ],
)
def test_errors_are_clean(db: str, args: list[str]) -> None:
    result = CliRunner().invoke(threads, [*args, "--db", db])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "Error" in result.output


def test_missing_database(tmp_path: Path) -> None:
    result = CliRunner().invoke(threads, ["list", "--db", str(tmp_path / "none.db")])
    assert result.exit_code != 0 and "no database" in result.output


def test_shows_langgraph_threads(backend: Backend[BaseCheckpointer]) -> None:
    from langchain_core.messages import HumanMessage
    from langgraph.graph import START, MessagesState, StateGraph

    with backend.open() as checkpointer:
        graph = StateGraph(MessagesState)
        graph.add_node("echo", lambda state: {"messages": [("ai", "hello back")]})
        graph.add_edge(START, "echo")
        app = graph.compile(checkpointer=EngramSaver(checkpointer))
        app.invoke({"messages": [HumanMessage("hello")]}, {"configurable": {"thread_id": "lg"}})
    out = invoke("show", "lg", "--db", backend.db)
    assert "[2 items] last: ai: hello back" in out


def test_ids_names_and_values_are_shown_as_is(backend: Backend[BaseCheckpointer]) -> None:
    with backend.open() as checkpointer:
        checkpointer.put("default", "a[/b]", {"[/i]": "x"}, metadata={"source": "[red]"})
        checkpointer.put("default", "a[/b]", {"[/i]": "[bold]y", "n": 2})
    path = backend.db
    assert "a[/b]" in invoke("list", "--db", path)
    shown = invoke("show", "a[/b]", "--db", path)
    assert "a[/b] checkpoint" in shown and "[/i]" in shown and '"[bold]y"' in shown
    assert "[/i], n" in invoke("history", "a[/b]", "--db", path)
    first = ids(backend, "a[/b]")[-1]
    assert "forked a[/b] into c[/d]" in invoke(
        "fork", "a[/b]", "--db", path, "--checkpoint", first, "--to", "c[/d]"
    )
    assert "rolled a[/b] back" in invoke("rollback", "a[/b]", first, "--db", path)
    assert "deleted c[/d]" in invoke("delete", "c[/d]", "--db", path, "--yes")


def test_env_var_selects_the_database(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGRAM_DB", db)
    assert "t1" in invoke("list") and "#6" in invoke("show", "t1")


@pytest.mark.parametrize(
    "command",
    [
        ["list"],
        ["show", "t1"],
        ["history", "t1"],
        ["fork", "t1", "--to", "t2"],
        ["rollback", "t1", "00000000-0000-7000-8000-000000000000"],
        ["prune", "--keep-last", "1"],
        ["prune", "--keep-last", "1", "--dry-run"],
        ["delete", "t1", "--yes"],
    ],
    ids=" ".join,
)
@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://app:s3cret@127.0.0.1:1/engram", "BackendUnavailable"),
        ("postgresql://app:s3cret%zz@127.0.0.1:1/engram", "invalid percent-encoded"),
        ("POSTGRESQL://app:s3cret@127.0.0.1:1/engram", "BackendUnavailable"),
        ("redis://:s3cret@127.0.0.1:1/0", "BackendUnavailable"),
    ],
    ids=["postgres", "postgres-bad-percent", "postgres-upper-case", "redis"],
)
def test_an_unreachable_server_is_one_clean_error_without_its_password(
    command: list[str], url: str, says: str
) -> None:
    result = CliRunner().invoke(threads, [*command, "--db", url])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert result.output.startswith("Error: ") and says in result.output
    assert len(result.output.splitlines()) == 1 and "s3cret" not in result.output


def test_an_address_of_another_backend_is_refused() -> None:
    result = CliRunner().invoke(threads, ["list", "--db", "mysql://db/app"])
    assert result.exit_code == 1
    assert "reads SQLite, PostgreSQL and Redis, not mysql:// addresses" in result.output


@SQLITE_ONLY
def test_a_sqlite_url_names_the_file(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "t1" in invoke("list", "--db", f"sqlite:///{db}")
    monkeypatch.chdir(Path(db).parent)
    assert "#6" in invoke("show", "t1", "--db", f"sqlite:///{Path(db).name}")


@SQLITE_ONLY
@pytest.mark.parametrize(
    "args",
    [
        ["list", "--limit", "99999999999999999999"],
        ["history", "t1", "--limit", "99999999999999999999"],
        ["history", "t1", "--limit", "0"],
        ["prune", "--keep-last", "0"],
    ],
    ids=["list-huge", "history-huge", "history-zero", "keep-last-zero"],
)
def test_numbers_out_of_range_are_usage_errors(db: str, args: list[str]) -> None:
    result = CliRunner().invoke(threads, [*args, "--db", db])
    assert result.exit_code == 2 and "is not in the range" in result.output, result.output


def test_prune_save_refuses_an_unknown_thread(db: str, backend: Backend[BaseCheckpointer]) -> None:
    """A typo must not get a policy saved, and with it a thread of its own."""
    result = CliRunner().invoke(
        threads, ["prune", "t1", "t-typo", "--save", "--keep-last", "2", "--db", db]
    )
    assert result.exit_code == 1 and "no thread t-typo" in result.output
    with backend.open() as checkpointer:
        assert checkpointer.get_thread("default", "t-typo") is None
        info = checkpointer.get_thread("default", "t1")
        assert info is not None and info.retention is None and info.checkpoint_count == 6


@SQLITE_ONLY
def test_a_bad_max_age_names_the_option(db: str) -> None:
    result = CliRunner().invoke(threads, ["prune", "--max-age", "soon", "--db", db])
    assert result.exit_code == 2 and "Invalid value for --max-age: 'soon'" in result.output


@SQLITE_ONLY
@pytest.mark.parametrize("age", ["0s", "0d", "0.0000001s"])
def test_a_zero_max_age_is_a_usage_error(db: str, age: str) -> None:
    result = CliRunner().invoke(threads, ["prune", "--max-age", age, "--dry-run", "--db", db])
    assert result.exit_code == 2, result.output
    assert f"Invalid value for --max-age: '{age}': must be positive" in result.output
