"""A developer's first touch and an `Engram`'s lifecycle: settings from the environment that
fail naming their variable, a closed Engram that says so, SQLite files that cannot be opened,
one Engram shared by threads and event loops."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from engram import (
    BackendUnavailable,
    ConfigError,
    Engram,
    EngramSettings,
    InvalidInputError,
    MigrationRequired,
)
from engram.cli import main
from engram.stores.sqlite import SqliteConnection, SqliteConversationStore

pytest_plugins = ["servers"]

SECRET = "sk-first-touch-0815"


# Settings.


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ENGRAM_TENANT", ""),
        ("ENGRAM_ENCODING", "o200k"),
        ("ENGRAM_SESSION_TTL_SECONDS", "1e300"),
        ("ENGRAM_POSTGRES_POOL_SIZE", "-1"),
        ("ENGRAM_DURABILITY", "fsync"),
        ("ENGRAM_LLM__MODLE", "llama3.2"),
        ("ENGRAM_LLM__MODEL", ""),
        ("ENGRAM_EMBEDDINGS__MODEL", ""),
        ("ENGRAM_MEMORYDB", "postgresql://db/engram"),
        ("ENGRAM_LLM_BASE_URL", "http://localhost:11434/v1"),
    ],
)
def test_a_bad_variable_is_a_config_error_naming_it_when_engram_opens(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    monkeypatch.setenv("ENGRAM_LLM__API_KEY", SECRET)
    if variable != "ENGRAM_LLM__MODEL":
        monkeypatch.setenv("ENGRAM_LLM__MODEL", "llama3.2")
    with pytest.raises(ConfigError, match=variable) as raised:
        Engram(tmp_path / "e.db")
    assert SECRET not in str(raised.value)
    assert not (tmp_path / "e.db").exists()  # refused before anything is opened


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("ENGRAM_DB", "mysql://app@db/engram", "no backend for mysql://"),
        ("ENGRAM_DB", "", "a SQLite address names a file"),
        ("ENGRAM_MEMORY_DB", "sqlite://memories.db", "a SQLite URL is sqlite:///relative"),
    ],
)
def test_an_address_no_backend_opens_is_a_config_error_naming_its_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str, says: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=f"{says}.*{variable}"):
        Engram()


@pytest.mark.parametrize(
    ("variables", "says"),
    [
        ({"ENGRAM_MEMORY_DB": "sqlite://memories.db"}, "a SQLite URL is .*ENGRAM_MEMORY_DB"),
        ({"ENGRAM_MEMORY_DB": "mysql://app@db/engram"}, "no backend for .*ENGRAM_MEMORY_DB"),
        ({"ENGRAM_MEMORY_DB": ""}, "a SQLite address names a file.*ENGRAM_MEMORY_DB"),
        ({"ENGRAM_MEMORY_DB": "redis://localhost:1/0"}, "stores no long-term memories"),
        (
            {"ENGRAM_DB": "sqlite://engram.db", "ENGRAM_MEMORY_DB": "memories.db"},
            "a SQLite URL is .*ENGRAM_DB",
        ),
        (
            {"ENGRAM_DB": "mysql://app@db/engram", "ENGRAM_MEMORY_DB": "memories.db"},
            "no backend for .*ENGRAM_DB",
        ),
    ],
)
def test_a_start_refused_for_a_bad_address_leaves_no_file_behind(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variables: dict[str, str], says: str
) -> None:
    monkeypatch.chdir(tmp_path)
    for variable, value in variables.items():
        monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=says):
        Engram()
    assert list(tmp_path.iterdir()) == []


def test_the_variables_of_the_eval_command_benchmarks_and_tests_are_no_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for variable in ("ENGRAM_EVAL_DATA", "ENGRAM_BENCH_REDIS_URL", "ENGRAM_TEST_POSTGRES_URL"):
        monkeypatch.setenv(variable, "x")
    with Engram(tmp_path / "e.db") as mem:
        assert mem.settings == EngramSettings()


def test_the_longest_session_ttl_is_accepted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ENGRAM_SESSION_TTL_SECONDS", str(100 * 366 * 24 * 3600))
    with Engram(tmp_path / "e.db") as mem:
        assert mem.session("s1").info().expires_at is not None


# A closed Engram.


def _uses(mem: Engram) -> dict[str, Callable[[], Any]]:
    conversation = mem.session("s1", user_id="u1")
    conversation.add("user", "I drink green tea.")
    return {
        "session": lambda: mem.session("s2"),
        "asession": lambda: asyncio.run(mem.asession("s2")),
        "sessions": mem.sessions,
        "purge_expired": mem.purge_expired,
        "delete_user": lambda: mem.delete_user("u1"),
        "conversation.add": lambda: conversation.add("user", "more"),
        "conversation.messages": conversation.messages,
        "memories.get_all": lambda: mem.memories.get_all(user_id="u1"),
        "memories.asearch": lambda: asyncio.run(mem.memories.asearch("tea", user_id="u1")),
    }


@pytest.mark.parametrize(
    "use",
    [
        "session",
        "asession",
        "sessions",
        "purge_expired",
        "delete_user",
        "conversation.add",
        "conversation.messages",
        "memories.get_all",
        "memories.asearch",
    ],
)
def test_a_closed_engram_says_it_is_closed(tmp_path: Path, use: str) -> None:
    mem = Engram(tmp_path / "e.db")
    calls = _uses(mem)
    mem.close()
    mem.close()  # twice: nothing more to do
    with pytest.raises(BackendUnavailable, match="this Engram is closed"):
        calls[use]()


def test_a_closed_engram_on_redis_refuses_instead_of_reconnecting(
    redis_url: str, redis_prefix: str
) -> None:
    mem = Engram(redis_url, settings=EngramSettings(redis_prefix=redis_prefix))
    conversation = mem.session("s1")
    mem.close()
    with pytest.raises(BackendUnavailable, match="this Engram is closed"):
        conversation.add("user", "written after close")


def test_a_batch_running_as_its_sqlite_file_closes_is_unavailable(tmp_path: Path) -> None:
    """A request still in flight as its Engram closes (`aclose` beside it) meets a closed
    connection: `BackendUnavailable`, as any call after the close, not a plain error."""
    connection = SqliteConnection(str(tmp_path / "e.db"))
    store = SqliteConversationStore(connection)
    connection.conn.close()  # closed under the store, as a close racing a batch leaves it
    with pytest.raises(BackendUnavailable, match="closed database"):
        store.list_sessions("default")


def test_a_closed_engram_cannot_be_entered_again(tmp_path: Path) -> None:
    mem = Engram(tmp_path / "e.db")
    with mem:
        mem.session("s1")
    with pytest.raises(BackendUnavailable, match="this Engram is closed"), mem:
        pass


# SQLite files.


def test_a_path_under_the_home_directory_is_the_file_there(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with Engram("~/data/e.db") as mem:
        mem.session("s1").add("user", "hi")
    assert (tmp_path / "data" / "e.db").exists()
    assert not (tmp_path / "~").exists()
    result = CliRunner().invoke(main, ["sessions", "list", "--db", "~/data/e.db"])
    assert result.exit_code == 0, result.output
    assert "s1" in result.output


@pytest.mark.parametrize("kind", ["directory", "not a database"])
def test_a_file_that_cannot_be_opened_is_named(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "e.db"
    if kind == "directory":
        path.mkdir()
    else:
        path.write_bytes(b"these are notes, not a database\n" * 64)
    with pytest.raises(BackendUnavailable, match=f"cannot open '{path}'"):
        Engram(path)


@pytest.fixture
def unwritable_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder holding a database, that this process cannot write to: by its mode, or, for
    root (whom modes do not stop), by the immutable attribute (`chattr +i`)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    with Engram(folder / "e.db"):
        pass
    as_root = os.geteuid() == 0
    if as_root:
        made = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False)
        if made.returncode != 0:
            pytest.skip(f"root, and no immutable folders here: {made.stderr.decode().strip()}")
    else:
        folder.chmod(0o555)
    try:
        assert not os.access(folder, os.W_OK)
        yield folder
    finally:
        if as_root:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        else:
            folder.chmod(0o755)


@pytest.mark.parametrize("name", ["e.db", "new.db"])
def test_a_file_in_a_folder_that_is_not_writable_says_so(
    unwritable_folder: Path, name: str
) -> None:
    path = unwritable_folder / name
    with pytest.raises(BackendUnavailable) as raised:
        Engram(path)
    assert f"cannot open '{path}'" in str(raised.value)
    assert f"its folder '{unwritable_folder}' is not writable" in str(raised.value)


def test_a_newer_schema_is_reported_even_while_another_process_writes(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    with Engram(path):
        pass
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("UPDATE engram_migrations SET version = version + 1")
    writer.execute("BEGIN IMMEDIATE")  # holds the write lock a migration would wait for
    try:
        connection = SqliteConnection(path, busy_timeout_ms=0)
        with pytest.raises(MigrationRequired, match="newer than this Engram knows"):
            SqliteConversationStore(connection)
        connection.close()
    finally:
        writer.execute("ROLLBACK")
        writer.close()


# Sharing one Engram.


FACTS = [
    "I own a red bicycle.",
    "I was born in Lisbon.",
    "I work as a night nurse.",
    "I play the cello on Sundays.",
    "I am allergic to peanuts.",
    "My sister collects stamps.",
]


def test_threads_sharing_one_engram_lose_no_write(tmp_path: Path) -> None:
    threads, rounds = 8, len(FACTS)
    failures: list[BaseException] = []
    with Engram(tmp_path / "e.db") as mem:

        def work(worker: int) -> None:
            try:
                conversation = mem.session(f"s{worker % 2}", user_id="u1")
                for round_ in range(rounds):
                    conversation.add("user", f"message {round_} of worker {worker}")
                    mem.memories.add(FACTS[round_], user_id=f"u{worker}", infer=False)
                    mem.memories.search("hobbies", user_id=f"u{worker}")
            except BaseException as exc:  # reported below, in the test's thread
                failures.append(exc)

        workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert failures == []
        assert sum(s.message_count for s in mem.sessions()) == threads * rounds
        assert sum(len(mem.session(f"s{n}").messages()) for n in range(2)) == threads * rounds
        stored = [mem.memories.get_all(user_id=f"u{n}", limit=100) for n in range(threads)]
        assert sum(len(memories) for memories in stored) == threads * rounds


def test_one_engram_serves_two_event_loops(tmp_path: Path) -> None:
    async def turn(text: str) -> int:
        conversation = await mem.asession("s1")
        await conversation.aadd("user", text)
        return len(await conversation.amessages())

    with Engram(tmp_path / "e.db") as mem:
        assert asyncio.run(turn("first loop")) == 1
        assert asyncio.run(turn("second loop")) == 2


# Arguments of the wrong type.


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ({"store": 123}, "store must be an address or a store, not int"),
        ({"settings": {"db": "e.db"}}, "settings must be EngramSettings, not dict"),
        ({"memory_store": "postgresql://db/x"}, "memory_store must be a store"),
        ({"ranking": None}, "ranking must be RankingWeights"),
        ({"embedder": "minilm"}, "embedder must have the methods embed and aembed .*, not str"),
        ({"embedder": object()}, r"embedder must .*\(EmbedderProtocol\), not object"),
        (
            {"summarizer": lambda previous, messages, max_tokens: ""},
            r"summarizer must have the methods summarize and asummarize \(SummarizerProtocol\)",
        ),
    ],
)
def test_an_argument_of_the_wrong_type_is_refused_before_anything_is_opened(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, arguments: dict[str, Any], says: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidInputError, match=says):
        Engram(**{"store": "e.db", **arguments})
    assert list(tmp_path.iterdir()) == []
