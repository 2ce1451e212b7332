"""The `Engram` facade end to end, on SQLite and in memory: sync and async."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from engram import (
    BudgetExceededError,
    ConfigError,
    Engram,
    EngramError,
    InvalidInputError,
    Message,
    NotFoundError,
    ToolCall,
)
from engram.config import EmbeddingsSettings, EngramSettings
from engram.providers import CachedEmbedder, OpenAIEmbedder
from engram.stores.memory import InMemoryConversationStore


@pytest.fixture(params=["sqlite", "memory"])
def mem(request: pytest.FixtureRequest, tmp_path: Path):
    store = tmp_path / "engram.db" if request.param == "sqlite" else InMemoryConversationStore()
    with Engram(store) as engram:
        yield engram


def test_messages_are_stored_with_seq_and_exact_tokens(mem: Engram) -> None:
    s = mem.session("s1", user_id="ana")
    stored = s.add("user", "Hello there")
    assert stored.seq == 1
    assert stored.tokens == 3 + 1 + 2  # overhead + "user" + "Hello there" in o200k_base
    assert [m.text for m in s.messages()] == ["Hello there"]
    assert s.info().token_count == stored.tokens


def test_session_reopens_and_refuses_another_user(mem: Engram) -> None:
    mem.session("s1", user_id="ana").add("user", "hi")
    assert mem.session("s1", user_id="ana").info().message_count == 1
    with pytest.raises(InvalidInputError, match="another user"):
        mem.session("s1", user_id="bob")
    with pytest.raises(NotFoundError):
        mem.session("nope", create=False)


def test_context_token_budget_keeps_system_and_newest(mem: Engram) -> None:
    s = mem.session("s1")
    s.add("system", "You are terse.")
    for i in range(200):
        s.add("user" if i % 2 == 0 else "assistant", f"message number {i} " * 5)
    result = s.context("gpt-4o", budget=300, reserve=50)
    assert result.report.tokens_after <= 250
    assert result.messages[0].role == "system"
    assert result.messages[-1].text.startswith("message number 199")
    assert result.report.dropped


def test_context_summary_folds_old_messages_once(mem: Engram) -> None:
    s = mem.session("s1")
    s.add("system", "You are a travel assistant.")
    for i in range(60):
        s.add("user" if i % 2 == 0 else "assistant", f"On day {i} Ana booked hotel {i} in Lisbon.")
        result = s.context("gpt-4o", budget=400, reserve=50, strategy="summary")
        assert result.report.tokens_after <= 350
    summary = s.summary()
    assert summary is not None
    assert summary.message_count == summary.through_seq - 1  # every non-system message once
    assert "Lisbon" in summary.text


def test_tool_call_groups(mem: Engram) -> None:
    s = mem.session("s1")
    s.add("user", "weather?")
    s.add("assistant", "", tool_calls=[ToolCall(id="c1", name="weather", arguments="{}")])
    s.add("tool", '{"temp": 21}', tool_call_id="c1")
    assert [m.role for m in s.messages()] == ["user", "assistant", "tool"]


@pytest.mark.parametrize(
    ("role", "content", "fields", "match"),
    [
        ("robot", "hi", {}, "unknown role"),
        ("tool", "42", {"tool_call_id": "missing"}, "answer no tool call"),
        ("tool", "42", {}, "needs the tool_call_id"),
        ("user", "a\x00b", {}, "NUL"),
        ("user", b"\xff\xfe", {}, "UTF-8"),
        ("user", "\ud800", {}, "UTF-8"),
        ("user", "x" * 1_000_001, {}, "over the limit"),
    ],
)
def test_bad_input_raises_and_stores_nothing(
    mem: Engram, role: str, content: object, fields: dict[str, object], match: str
) -> None:
    s = mem.session("s1")
    s.add("user", "kept")
    with pytest.raises(InvalidInputError, match=match):
        s.add(role, content, **fields)
    assert [m.text for m in s.messages()] == ["kept"]
    assert s.info().message_count == 1


def test_a_bad_message_in_a_batch_stores_none_of_it(mem: Engram) -> None:
    s = mem.session("s1")
    batch = [Message(role="user", content="fine"), Message(role="user", content="bad\x00")]
    with pytest.raises(InvalidInputError):
        s.add_messages(batch)
    assert s.messages() == []


@pytest.mark.parametrize("budget,reserve", [(-1, 0), (0, 0), (100, 100), (100, -5)])
def test_bad_budget(mem: Engram, budget: int, reserve: int) -> None:
    s = mem.session("s1")
    s.add("user", "hi")
    with pytest.raises(InvalidInputError):
        s.context("gpt-4o", budget=budget, reserve=reserve)


def test_budget_exceeded_only_when_system_and_newest_user_cannot_fit(mem: Engram) -> None:
    s = mem.session("s1")
    s.add("system", "You are a very careful assistant. " * 40)
    s.add("user", "hi")
    with pytest.raises(BudgetExceededError):
        s.context("gpt-4o", budget=50)


def test_another_tenants_session_is_invisible(tmp_path: Path) -> None:
    path = tmp_path / "engram.db"
    with Engram(path, tenant="acme") as acme, Engram(path, tenant="globex") as globex:
        acme.session("shared-id", user_id="u1").add("user", "acme secret")
        with pytest.raises(NotFoundError):
            globex.session("shared-id", create=False)
        other = globex.session("shared-id", user_id="u1")
        assert other.messages() == []
        assert [s.id for s in globex.sessions()] == ["shared-id"]
        assert acme.session("shared-id").messages()[0].text == "acme secret"


def test_export_import_round_trip(mem: Engram) -> None:
    s = mem.session("s1", user_id="ana")
    s.add("system", "sys")
    for i in range(30):
        s.add("user" if i % 2 == 0 else "assistant", f"turn {i} about Lisbon " * 10)
    s.context("gpt-4o", budget=300, strategy="summary")
    s.update_state({"step": 3, "prefs": {"seat": "window"}})
    data = s.export()
    copy = mem.import_session(data, session_id="s2")
    assert [m.text for m in copy.messages()] == [m.text for m in s.messages()]
    assert copy.summary() is not None and copy.summary().text == s.summary().text
    assert copy.state() == {"step": 3, "prefs": {"seat": "window"}}
    with pytest.raises(EngramError):
        mem.import_session(data, session_id="s2")  # exists: nothing half-written
    assert len(copy.messages()) == 31


def test_state_merge_patch(mem: Engram) -> None:
    s = mem.session("s1")
    assert s.update_state({"a": 1, "b": {"c": 2, "d": 3}}) == {"a": 1, "b": {"c": 2, "d": 3}}
    assert s.update_state({"b": {"c": None, "e": 4}}) == {"a": 1, "b": {"d": 3, "e": 4}}


async def test_async_api_matches_sync(mem: Engram) -> None:
    s = await mem.asession("s1", user_id="ana")
    await s.aadd("system", "sys")
    for i in range(20):
        await s.aadd("user" if i % 2 == 0 else "assistant", f"async turn {i} " * 8)
    result = await s.acontext("gpt-4o", budget=200)
    sync_result = mem.session("s1").context("gpt-4o", budget=200)
    assert [m.id for m in result.messages] == [m.id for m in sync_result.messages]
    assert len(await s.amessages(last=5)) == 5
    assert [x.id for x in await mem.asessions(user_id="ana")] == ["s1"]


def test_sqlite_file_is_a_real_database(tmp_path: Path) -> None:
    path = tmp_path / "engram.db"
    with Engram(path) as mem:
        mem.session("s1").add("user", "persisted")
    with Engram(path) as mem:
        assert mem.session("s1").messages()[0].text == "persisted"
    check = sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()
    assert check == ("ok",)


def test_the_embedder_comes_from_the_embeddings_settings(tmp_path: Path) -> None:
    settings = EngramSettings(
        embeddings=EmbeddingsSettings(
            model="nomic-embed-text",
            base_url="http://localhost:11434/v1",
            api_key="sk-embeddings-secret",
            dimension=768,
            batch_size=16,
            timeout=5.0,
            max_retries=1,
        )
    )
    with Engram(tmp_path / "engram.db", settings=settings) as mem:
        assert isinstance(mem.embedder, CachedEmbedder)
        remote = mem.embedder.inner
        assert isinstance(remote, OpenAIEmbedder)
        assert (remote.model, remote.base_url, remote.batch_size) == (
            "nomic-embed-text",
            "http://localhost:11434/v1",
            16,
        )
        assert (remote.timeout, remote.policy.max_retries) == (5.0, 1)
        assert mem.embedding_model_id == "nomic-embed-text:openai-compatible:768"
        assert "sk-embeddings-secret" not in repr(remote)


def test_without_embeddings_settings_the_local_model_embeds(tmp_path: Path) -> None:
    with Engram(tmp_path / "engram.db") as mem:
        assert mem.settings.embeddings is None
        assert mem.embedding_model_id == "sentence-transformers/all-MiniLM-L6-v2:onnx-int8-dynamic"


def test_embeddings_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGRAM_EMBEDDINGS__MODEL", "text-embedding-3-small")
    monkeypatch.setenv("ENGRAM_EMBEDDINGS__API_KEY", "sk-embeddings-secret")
    monkeypatch.setenv("ENGRAM_EMBEDDINGS__DIMENSION", "512")
    monkeypatch.setenv("ENGRAM_EMBEDDINGS__SEND_DIMENSIONS", "true")
    with Engram(":memory:") as mem:
        assert mem.embedding_model_id == "text-embedding-3-small:openai-compatible:512"


@pytest.mark.parametrize(
    ("variables", "problem"),
    [
        ({"ENGRAM_EMBEDDINGS__BASEURL": "http://localhost:11434/v1"}, "embeddings.baseurl"),
        ({"ENGRAM_EMBEDDINGS__SEND_DIMENSIONS": "true"}, "send_dimensions needs a dimension"),
        ({"ENGRAM_EMBEDDINGS__DIMENSION": "0"}, "embeddings.dimension"),
        ({"ENGRAM_EMBEDDINGS__BASE_URL": "ftp://h/v1?key=sk-embeddings-secret"}, "http://"),
    ],
)
def test_bad_embeddings_settings_are_config_errors_that_hide_the_key(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], problem: str
) -> None:
    monkeypatch.setenv("ENGRAM_EMBEDDINGS__MODEL", "nomic-embed-text")
    monkeypatch.setenv("ENGRAM_EMBEDDINGS__API_KEY", "sk-embeddings-secret")
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=problem) as raised:
        Engram(":memory:")
    assert "sk-embeddings-secret" not in str(raised.value)
