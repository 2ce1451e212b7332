"""`engram threads ...` through click's runner, on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from engram.cli.threads import threads
from engram.integrations.langgraph import EngramSaver
from engram.stores.sqlite.checkpoints import SqliteCheckpointer
from engram.types._checkpoint import RetentionPolicy


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = tmp_path / "agent.db"
    with SqliteCheckpointer.from_path(path) as checkpointer:
        for step in range(6):
            values = {"messages": [f"message {i}" for i in range(step + 1)], "step": step}
            meta = {"source": "loop", "step": step}
            checkpointer.put("default", "t1", values, metadata=meta)
        checkpointer.put("default", "t2", {"goal": "book a flight"})
        checkpointer.put("other", "secret", {"x": 1})
    return str(path)


def invoke(*args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(threads, list(args), input=input)
    assert result.exit_code == 0, result.output
    return result.output


def ids(db: str, thread: str = "t1") -> list[str]:
    with SqliteCheckpointer.from_path(db) as checkpointer:
        return [info.id for info in checkpointer.history("default", thread)]


def test_list(db: str) -> None:
    out = invoke("list", "--db", db)
    assert "t1" in out and "t2" in out and "secret" not in out
    assert "secret" in invoke("list", "--db", db, "--tenant", "other")


def test_show_newest_and_by_id(db: str) -> None:
    out = invoke("show", "t1", "--db", db)
    assert "#6" in out and '[6 items] last: "message 5"' in out and '"step": 5' in out
    older = ids(db)[-1]
    assert '[1 items] last: "message 0"' in invoke("show", "t1", "--db", db, "--checkpoint", older)


def test_history_shows_what_changed(db: str) -> None:
    out = invoke("history", "t1", "--db", db, "--limit", "3")
    assert ids(db)[0] in out and ids(db)[3] not in out
    assert out.count("messages,") == 2  # the oldest listed one's parent is not listed: "?"


def test_history_of_a_run_whose_metadata_names_forked_from(tmp_path: Path) -> None:
    """LangGraph copies a config's plain values into a checkpoint's metadata: a run's own
    `forked_from` (not Engram's `{"thread_id": ..., "checkpoint_id": ...}`) is no fork."""
    path = str(tmp_path / "agent.db")
    with SqliteCheckpointer.from_path(path) as checkpointer:
        checkpointer.put("default", "t1", {"x": 1}, metadata={"forked_from": "ticket-7"})
        checkpointer.fork("default", "t1", "t2")
    assert "fork of" not in invoke("history", "t1", "--db", path)
    assert "(fork of" in invoke("history", "t2", "--db", path)


def test_fork_and_rollback(db: str) -> None:
    first = ids(db)[-1]
    assert "forked t1 into t3" in invoke(
        "fork", "t1", "--db", db, "--checkpoint", first, "--to", "t3"
    )
    assert '[1 items] last: "message 0"' in invoke("show", "t3", "--db", db)
    assert "new head" in invoke("rollback", "t1", first, "--db", db)
    assert '[1 items] last: "message 0"' in invoke("show", "t1", "--db", db)


def test_prune_dry_run_then_saved_policy(db: str) -> None:
    out = invoke("prune", "t1", "--keep-last", "2", "--dry-run", "--save", "--db", db)
    assert "would remove" in out and len(ids(db)) == 6
    assert "last 2" not in invoke("list", "--db", db)  # a dry run saves no policy either
    invoke("prune", "t1", "--keep-last", "2", "--save", "--db", db)
    assert len(ids(db)) == 2
    with SqliteCheckpointer.from_path(db) as checkpointer:
        thread = checkpointer.get_thread("default", "t1")
        assert thread is not None and thread.retention == RetentionPolicy(keep_last=2)
    assert "last 2" in invoke("list", "--db", db)
    invoke("prune", "--max-age", "1w", "--db", db)  # nothing that old
    assert len(ids(db)) == 2


def test_delete(db: str) -> None:
    assert "deleted t2" in invoke("delete", "t2", "--db", db, "--yes")
    assert ids(db, "t2") == []


@pytest.mark.parametrize(
    "args",
    [
        ["show", "nope"],
        ["history", "nope"],
        ["fork", "nope", "--to", "x"],
        ["rollback", "t1", "00000000-0000-7000-8000-000000000000"],
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


def test_shows_langgraph_threads(tmp_path: Path) -> None:
    from langchain_core.messages import HumanMessage
    from langgraph.graph import START, MessagesState, StateGraph

    path = tmp_path / "lg.db"
    with EngramSaver.from_path(path) as saver:
        graph = StateGraph(MessagesState)
        graph.add_node("echo", lambda state: {"messages": [("ai", "hello back")]})
        graph.add_edge(START, "echo")
        app = graph.compile(checkpointer=saver)
        app.invoke({"messages": [HumanMessage("hello")]}, {"configurable": {"thread_id": "lg"}})
    out = invoke("show", "lg", "--db", str(path))
    assert "[2 items] last: ai: hello back" in out


def test_ids_names_and_values_are_shown_as_is(tmp_path: Path) -> None:
    path = str(tmp_path / "markup.db")
    with SqliteCheckpointer.from_path(path) as checkpointer:
        checkpointer.put("default", "a[/b]", {"[/i]": "x"}, metadata={"source": "[red]"})
        checkpointer.put("default", "a[/b]", {"[/i]": "[bold]y", "n": 2})
    assert "a[/b]" in invoke("list", "--db", path)
    shown = invoke("show", "a[/b]", "--db", path)
    assert "a[/b] checkpoint" in shown and "[/i]" in shown and '"[bold]y"' in shown
    assert "[/i], n" in invoke("history", "a[/b]", "--db", path)
    first = ids(path, "a[/b]")[-1]
    assert "forked a[/b] into c[/d]" in invoke(
        "fork", "a[/b]", "--db", path, "--checkpoint", first, "--to", "c[/d]"
    )
    assert "rolled a[/b] back" in invoke("rollback", "a[/b]", first, "--db", path)
    assert "deleted c[/d]" in invoke("delete", "c[/d]", "--db", path, "--yes")


def test_a_sqlite_url_names_the_file(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "t1" in invoke("list", "--db", f"sqlite:///{db}")
    monkeypatch.chdir(Path(db).parent)
    assert "#6" in invoke("show", "t1", "--db", f"sqlite:///{Path(db).name}")


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


def test_prune_save_refuses_an_unknown_thread(db: str) -> None:
    """A typo must not get a policy saved, and with it a thread of its own."""
    result = CliRunner().invoke(
        threads, ["prune", "t1", "t-typo", "--save", "--keep-last", "2", "--db", db]
    )
    assert result.exit_code == 1 and "no thread t-typo" in result.output
    with SqliteCheckpointer.from_path(db) as checkpointer:
        assert checkpointer.get_thread("default", "t-typo") is None
        info = checkpointer.get_thread("default", "t1")
        assert info is not None and info.retention is None and info.checkpoint_count == 6


def test_a_bad_max_age_names_the_option(db: str) -> None:
    result = CliRunner().invoke(threads, ["prune", "--max-age", "soon", "--db", db])
    assert result.exit_code == 2 and "Invalid value for --max-age: 'soon'" in result.output


@pytest.mark.parametrize("age", ["0s", "0d", "0.0000001s"])
def test_a_zero_max_age_is_a_usage_error(db: str, age: str) -> None:
    result = CliRunner().invoke(threads, ["prune", "--max-age", age, "--dry-run", "--db", db])
    assert result.exit_code == 2, result.output
    assert f"Invalid value for --max-age: '{age}': must be positive" in result.output
