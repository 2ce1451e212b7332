"""Storage by address: `Engram("postgresql://...")`, `ENGRAM_DB`/`ENGRAM_MEMORY_DB`, plugins.

Real SQLite files, PostgreSQL (with pgvector) and Redis; the plugin tests stand a fake entry
point in for an installed package.
"""

from __future__ import annotations

import importlib.metadata
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import psycopg
import pytest
import redis
from click.testing import CliRunner
from psycopg.conninfo import conninfo_to_dict

from engram import Engram, EngramSettings
from engram import _backends as backends
from engram._exceptions import BackendUnavailable, ConfigError
from engram.cli import main
from engram.stores.memory import InMemoryConversationStore
from engram.stores.postgres import PostgresConversationStore, PostgresMemoryStore
from engram.stores.redis import RedisConversationStore
from engram.stores.sqlite import SqliteConversationStore

pytest_plugins = ["servers"]


@pytest.fixture
def postgres_address(postgres_clean_database: str) -> str:
    """The lent database as a `postgresql://` URL (the fixture gives a libpq key=value string)."""
    params = conninfo_to_dict(postgres_clean_database)
    host = quote(str(params.pop("host", "")), safe="")
    user, dbname = params.pop("user", ""), params.pop("dbname")
    port = f":{params.pop('port')}" if "port" in params else ""
    query = f"?{urlencode(params)}" if params else ""
    return f"postgresql://{user}@{host}{port}/{dbname}{query}"


def remember(mem: Engram) -> None:
    """A conversation and a memory, through the facade."""
    s = mem.session("s1", user_id="ana")
    s.add("user", "I'm flying to Lisbon on 3 May.")
    mem.memories.add("Ana is vegetarian", user_id="ana", infer=False)


def recalls(mem: Engram) -> bool:
    hits = mem.memories.search("what does Ana eat?", user_id="ana")
    texts = [message.text for message in mem.session("s1", create=False).messages()]
    return texts == ["I'm flying to Lisbon on 3 May."] and hits[0].memory.text.startswith("Ana")


def test_sqlite_path_and_url_name_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    with Engram(path) as mem:
        assert isinstance(mem.store, SqliteConversationStore)
        remember(mem)
    with Engram(f"sqlite:///{path}") as mem:
        assert recalls(mem)


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("mongodb://localhost/db", "no backend for mongodb:// addresses (known: postgres,"),
        ("sqlite://e.db", "a SQLite URL is sqlite:///relative"),
    ],
)
def test_bad_address_is_a_config_error(tmp_path: Path, address: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        Engram(address)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_postgres_fails_at_once() -> None:
    with pytest.raises(BackendUnavailable, match="port 1 failed"):
        Engram("postgresql://postgres@127.0.0.1:1/engram")


def test_postgres_url_opens_a_pool_for_both_stores(postgres_address: str) -> None:
    with Engram(postgres_address, settings=EngramSettings(postgres_pool_size=3)) as mem:
        assert isinstance(mem.store, PostgresConversationStore)
        assert isinstance(mem.resources.memories, PostgresMemoryStore)
        pool = mem.store.conn
        assert pool is mem.resources.memories.conn and pool.max_size == 3
        remember(mem)
    assert pool.closed
    with Engram(postgres_address) as other:  # another process, as far as it knows
        assert recalls(other)


def test_a_libpq_connection_string_is_a_postgres_address(
    postgres_clean_database: str, postgres_address: str, tmp_path: Path, monkeypatch: Any
) -> None:
    assert "=" in postgres_clean_database and "://" not in postgres_clean_database
    monkeypatch.chdir(tmp_path)  # a path it was taken for would be created here
    with Engram(postgres_clean_database) as mem:
        assert isinstance(mem.store, PostgresConversationStore)
        remember(mem)
    with Engram(postgres_address) as mem:
        assert recalls(mem)
    assert list(tmp_path.iterdir()) == []


def test_settings_put_sessions_in_redis_and_memories_in_postgres(
    redis_url: str, redis_prefix: str, postgres_address: str, tmp_path: Path
) -> None:
    settings = EngramSettings(db=redis_url, memory_db=postgres_address, redis_prefix=redis_prefix)
    with Engram(settings=settings) as mem:
        assert isinstance(mem.store, RedisConversationStore)
        assert isinstance(mem.resources.memories, PostgresMemoryStore)
        remember(mem)
        assert recalls(mem)
    with redis.Redis.from_url(redis_url) as client:
        assert any(client.scan_iter(match=f"{redis_prefix}*"))
    with psycopg.connect(postgres_address) as conn:
        [(texts,)] = conn.execute("SELECT array_agg(text) FROM engram_memories").fetchall()
        assert texts == ["Ana is vegetarian"]
    assert list(tmp_path.iterdir()) == []


def test_redis_alone_holds_no_memories(redis_url: str, redis_prefix: str) -> None:
    with Engram(redis_url, settings=EngramSettings(redis_prefix=redis_prefix)) as mem:
        mem.session("s1").add("user", "hello")
        with pytest.raises(ConfigError, match="ENGRAM_MEMORY_DB"):
            mem.memories.add("Ana is vegetarian", user_id="ana", infer=False)


def test_memory_db_that_holds_no_memories_is_refused(
    redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    settings = EngramSettings(memory_db=redis_url, redis_prefix=redis_prefix)
    with pytest.raises(ConfigError, match="stores no long-term memories"):
        Engram(tmp_path / "e.db", settings=settings)


def test_cli_reads_a_postgres_database(postgres_address: str) -> None:
    with Engram(postgres_address) as mem:
        remember(mem)
    runner = CliRunner()
    listed = runner.invoke(main, ["sessions", "list", "--db", postgres_address])
    assert listed.exit_code == 0 and "s1" in listed.output
    args = ["memories", "search", "vegetarian", "--user", "ana", "--db", postgres_address]
    found = runner.invoke(main, args)
    assert found.exit_code == 0 and "vegetarian" in found.output


# Plugins.


class FakeEntryPoint:
    def __init__(self, name: str, hook: Any) -> None:
        self.name, self.value, self.hook = name, f"fake_{name}:register_backends", hook

    def load(self) -> Any:
        return self.hook


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[FakeEntryPoint]]:
    """Installed entry points of the `engram.backends` group, as the test lists them."""
    installed: list[FakeEntryPoint] = []

    def entry_points(*, group: str) -> list[FakeEntryPoint]:
        return installed if group == backends.ENTRY_POINT_GROUP else []

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    monkeypatch.setattr(backends, "_registry", {})
    monkeypatch.setattr(backends, "_plugins_loaded", False)
    yield installed


def test_a_plugin_serves_its_scheme(plugins: list[FakeEntryPoint]) -> None:
    calls: list[tuple[Any, ...]] = []

    def open_in_memory(
        address: str, settings: EngramSettings, *, conversations: bool, memories: bool
    ) -> backends.OpenedBackend:
        calls.append(("open", address, conversations, memories))
        store = InMemoryConversationStore()
        return backends.OpenedBackend(store, None, lambda: calls.append(("close",)))

    plugins.append(FakeEntryPoint("volatile", lambda register: register("mem", open_in_memory)))
    with Engram("mem://scratch") as mem:
        assert isinstance(mem.store, InMemoryConversationStore)
        mem.session("s1").add("user", "hello")
    assert calls == [("open", "mem://scratch", True, True), ("close",)]


def test_a_broken_plugin_is_named(plugins: list[FakeEntryPoint]) -> None:
    plugins.append(FakeEntryPoint("broken", lambda register: 1 / 0))
    with pytest.raises(ConfigError, match="backend plugin 'broken'"):
        Engram("mem://scratch")


def test_two_backends_for_one_scheme_are_refused(plugins: list[FakeEntryPoint]) -> None:
    rival = FakeEntryPoint("rival", lambda register: register("sqlite", lambda *a, **k: None))
    plugins.append(rival)
    with pytest.raises(ConfigError, match="two backends register the scheme 'sqlite'"):
        Engram("mem://scratch")


async def test_postgres_url_serves_the_async_api(postgres_address: str) -> None:
    with Engram(postgres_address) as mem:
        s = await mem.asession("s1", user_id="ana")
        await s.aadd("user", "I'm flying to Lisbon on 3 May.")
        await mem.memories.aadd("Ana is vegetarian", user_id="ana", infer=False)
        hits = await mem.memories.asearch("what does Ana eat?", user_id="ana")
        assert hits[0].memory.text == "Ana is vegetarian"
        assert [m.text for m in await s.amessages()] == ["I'm flying to Lisbon on 3 May."]


@pytest.mark.parametrize(
    ("address", "driver", "remedy"),
    [
        ("postgresql://localhost/app", "psycopg", "pip install 'engramdb[postgres]'"),
        ("redis://localhost:6379/0", "redis", "pip install 'engramdb[redis]'"),
    ],
)
def test_a_missing_driver_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, address: str, driver: str, remedy: str
) -> None:
    for name in [
        m for m in sys.modules if m.startswith(("engram.stores.postgres", "engram.stores.redis"))
    ]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, driver, None)  # what a missing package looks like to import
    with pytest.raises(ConfigError, match=re.escape(remedy)):
        Engram(address)
