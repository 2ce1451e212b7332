"""`EngramChatMessageHistory` as a LangChain user drives it: the same operations give
the same `messages` as LangChain's own histories (`InMemoryChatMessageHistory`, and
`SQLChatMessageHistory` for what survives storage), on SQLite, PostgreSQL and Redis; inside
`RunnableWithMessageHistory`; `clear` erases; two histories share a session; bad input is an
`InvalidInputError` that writes nothing."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from langchain_core.chat_history import BaseChatMessageHistory, InMemoryChatMessageHistory
from langchain_core.language_models.fake_chat_models import (
    FakeListChatModel,
    GenericFakeChatModel,
)
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    ChatMessageChunk,
    FunctionMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    SystemMessageChunk,
    ToolMessage,
    ToolMessageChunk,
)
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import Runnable
from langchain_core.runnables.history import RunnableWithMessageHistory

from engram import Engram
from engram._exceptions import InvalidInputError
from engram.integrations.langchain import EngramChatMessageHistory
from engram.stores.postgres import PostgresConversationStore
from engram.stores.redis import RedisConversationStore
from servers import fresh_store

with warnings.catch_warnings():  # "langchain-community is being sunset"; still the reference
    warnings.simplefilter("ignore", DeprecationWarning)
    from langchain_community.chat_message_histories import SQLChatMessageHistory

pytest_plugins = ["servers"]

pytestmark = pytest.mark.filterwarnings(
    # InMemoryChatMessageHistory and RunnableWithMessageHistory are deprecated in LangChain 1.x
    # (for LangGraph persistence) but still what a LangChain user of a history runs.
    "ignore::langchain_core._api.deprecation.LangChainDeprecationWarning"
)


def call(call_id: str | None, name: str = "weather", **args: Any) -> dict[str, Any]:
    return {"name": name, "args": args, "id": call_id}


def asked(*ids: str) -> AIMessage:
    return AIMessage("", tool_calls=[call(i) for i in ids])


SEQUENCES: dict[str, list[BaseMessage]] = {
    "empty human": [HumanMessage("")],
    "empty parts": [HumanMessage([])],
    "bare string parts": [
        HumanMessage(["a", "b"]),
        AIMessage(["a", {"type": "text", "text": "b"}]),
    ],
    "image_url parts": [
        HumanMessage(
            [
                {"type": "text", "text": "And this?"},
                {"type": "image_url", "image_url": {"url": "https://x.test/a.png", "detail": "hi"}},
            ]
        ),
        AIMessage(
            [
                {"type": "text", "text": "here"},
                {"type": "image_url", "image_url": {"url": "https://x.test/b.png"}},
            ]
        ),
    ],
    "v1 content blocks": [
        HumanMessage(
            [
                {"type": "image", "base64": "aGVsbG8=", "mime_type": "image/png"},
                {"type": "file", "url": "https://x.test/a.pdf"},
                {"type": "input_audio", "input_audio": {"data": "aGVsbG8=", "format": "wav"}},
            ]
        ),
        AIMessage([{"type": "reasoning", "reasoning": "hmm"}, {"type": "text", "text": "x"}]),
    ],
    "annotated text part": [
        AIMessage(
            [{"type": "text", "text": "b", "id": "blk1", "annotations": [{"type": "citation"}]}]
        )
    ],
    "anthropic tool_use": [
        AIMessage(
            [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"c": "L"}},
            ],
            tool_calls=[call("toolu_1", c="L")],
        ),
        ToolMessage("sunny", tool_call_id="toolu_1"),
    ],
    "tool call ids None": [
        AIMessage("", tool_calls=[call(None, "a"), call(None, "b", x=1)]),
    ],
    "duplicate tool call ids": [asked("c1", "c1"), ToolMessage("ok", tool_call_id="c1")],
    "empty tool name": [AIMessage("", tool_calls=[call("c1", "")])],
    "tool args JSON": [
        AIMessage("", tool_calls=[call("c", "f", x=1.0, y=1e300, z="é", w=[None, True])]),
    ],
    "invalid tool calls only": [
        AIMessage(
            "x",
            invalid_tool_calls=[
                {"type": "invalid_tool_call", "name": None, "args": None, "id": None, "error": None}
            ],
        )
    ],
    "invalid tool calls answered": [
        AIMessage(
            "",
            tool_calls=[call("c1")],
            invalid_tool_calls=[
                {"type": "invalid_tool_call", "name": "f", "args": "{x", "id": "c2", "error": "e"}
            ],
        ),
        ToolMessage("sunny", tool_call_id="c1"),
        ToolMessage("Error: the arguments are not JSON", tool_call_id="c2", status="error"),
    ],
    "usage details": [
        AIMessage(
            "x",
            usage_metadata={
                "input_tokens": 1,
                "output_tokens": 2,
                "total_tokens": 3,
                "input_token_details": {"cache_read": 1},
                "output_token_details": {"reasoning": 1},
            },
            response_metadata={"model_name": "m", "logprobs": None},
            additional_kwargs={"big": 2**70, "nested": {"b": 1, "a": [1.5, "x"]}},
            id="run-1",
        )
    ],
    "tool results": [
        asked("c1", "c2", "c3"),
        ToolMessage("boom", tool_call_id="c1", status="error", artifact={"trace": [1, 2]}),
        ToolMessage(
            [{"type": "image_url", "image_url": {"url": "https://x.test/p.png"}}],
            tool_call_id="c2",
            status="success",
            response_metadata={"a": 1},
            additional_kwargs={"b": 2},
        ),
        ToolMessage(5, tool_call_id="c3", name="counter", id="t3"),  # type: ignore[arg-type]
    ],
    "names and ids": [
        SystemMessage("s", name="n", id="i0"),
        HumanMessage("h", name="ana", id="i1", example=True),
        AIMessage("a", name="bot", id="i2"),
    ],
    "chat messages": [
        ChatMessage("x", role="assistant", id="q"),
        ChatMessage("y", role="user", name="ana"),
        ChatMessage("z", role="developer"),
        ChatMessageChunk("w", role="system"),
    ],
    "chunks": [
        SystemMessageChunk("s"),
        AIMessageChunk("partial", id="lc_run-1", chunk_position="last"),
        AIMessageChunk(
            "",
            tool_call_chunks=[{"name": "f", "args": '{"a": 1}', "id": "k1", "index": 0}],
        ),
        ToolMessageChunk("o", tool_call_id="k1"),
    ],
    "unicode": [
        HumanMessage("héllo 🌍 \u2028 line"),
        AIMessage("ok", additional_kwargs={"k": "a\u2028b"}),
    ],
}
"""Sequences of messages Engram stores, each given back as LangChain's own histories give it."""


REFUSED: dict[str, tuple[list[Any], str]] = {
    "FunctionMessage": ([HumanMessage("hi"), FunctionMessage("42", name="f")], "use a ToolMessage"),
    "custom ChatMessage role": ([ChatMessage("hm", role="critic")], "no Engram role"),
    "ChatMessage as a tool": ([ChatMessage("x", role="tool")], "tool_call_id"),
    "RemoveMessage": ([HumanMessage("a", id="1"), RemoveMessage(id="1")], r"clear\(\)"),
    "NUL byte": ([HumanMessage("ok"), AIMessage("a\x00b")], "NUL"),
    "NUL in kwargs": (  # refused in all metadata, as in texts and memories' metadata
        [HumanMessage("ok"), AIMessage("ok", additional_kwargs={"k": "a\x00b"})],
        r"\['k'\] contains a NUL character",
    ),
    "a string": ([HumanMessage("ok"), "hello"], "LangChain message was expected"),
    "a dict": ([HumanMessage("ok"), {"role": "user", "content": "hi"}], "expected"),
    "a tuple": ([HumanMessage("ok"), ("human", "hi")], "expected"),
    "None": ([HumanMessage("ok"), None], "expected"),
    "a message class": ([HumanMessage("ok"), HumanMessage], "expected"),
    "orphan tool result": ([HumanMessage("ok"), ToolMessage("x", tool_call_id="nope")], "no tool"),
}
"""Input Engram refuses (LangChain's in-memory history would keep it), with the error's words."""


@pytest.fixture(params=["sqlite-file", "postgres", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engram]:
    """An Engram on each backend (each server only for its param)."""
    with fresh_store(request, tmp_path, "ConversationStore") as store, Engram(store) as engram:
        yield engram


@pytest.fixture
def sql_reference(tmp_path: Path) -> Iterator[SQLChatMessageHistory]:
    history = SQLChatMessageHistory("reference", connection=f"sqlite:///{tmp_path / 'lc.db'}")
    yield history
    history.clear()


def drive(history: BaseChatMessageHistory, messages: Sequence[BaseMessage]) -> None:
    """Every way LangChain adds messages: one, several, and the two string helpers."""
    history.add_message(messages[0])
    history.add_messages(messages[1:])
    history.add_user_message("and?")
    history.add_ai_message(AIMessage("done", id="last"))


@pytest.mark.parametrize("name", list(SEQUENCES))
def test_same_messages_as_langchains_histories(
    name: str, sql_reference: SQLChatMessageHistory, tmp_path: Path
) -> None:
    in_memory = InMemoryChatMessageHistory()
    drive(in_memory, SEQUENCES[name])
    drive(sql_reference, SEQUENCES[name])
    with Engram(tmp_path / "engram.db") as mem:
        drive(EngramChatMessageHistory(mem, "s1"), SEQUENCES[name])
    with Engram(tmp_path / "engram.db") as mem:  # reopened: read from the file
        history = EngramChatMessageHistory(mem, "s1")
        got = history.messages
        assert got == sql_reference.messages == in_memory.messages
        assert [type(m) for m in got] == [type(m) for m in in_memory.messages]
        assert [m.id for m in got] == [m.id for m in in_memory.messages]
        assert str(history) == str(in_memory)


def test_same_messages_on_every_backend(backend: Engram) -> None:
    for i, messages in enumerate(SEQUENCES.values()):
        reference = InMemoryChatMessageHistory()
        drive(reference, messages)
        drive(EngramChatMessageHistory(backend, f"s{i}"), messages)
        assert EngramChatMessageHistory(backend, f"s{i}").messages == reference.messages


async def test_same_messages_async_on_every_backend(backend: Engram) -> None:
    for i, messages in enumerate(SEQUENCES.values()):
        history = EngramChatMessageHistory(backend, f"s{i}")
        await history.aadd_messages(messages)
        assert await history.aget_messages() == messages
        assert history.messages == messages


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_input_writes_nothing(name: str, backend: Engram) -> None:
    messages, words = REFUSED[name]
    history = EngramChatMessageHistory(backend, "s1")
    history.add_messages([HumanMessage("before")])
    with pytest.raises(InvalidInputError, match=words):
        history.add_messages(messages)
    with pytest.raises(InvalidInputError, match=words):
        for message in messages:  # one by one, as `add_message` is called
            history.add_message(message)
    assert history.messages[:1] == [HumanMessage("before")]
    assert backend.session("s1").info().message_count == len(history.messages)


async def test_refused_input_writes_nothing_async(backend: Engram) -> None:
    history = EngramChatMessageHistory(backend, "s1")
    for messages, words in REFUSED.values():
        with pytest.raises(InvalidInputError, match=words):
            await history.aadd_messages(messages)
    assert await history.aget_messages() == []
    assert backend.session("s1").info().message_count == 0


def test_a_string_or_single_message_is_not_a_sequence(backend: Engram) -> None:
    history = EngramChatMessageHistory(backend, "s1")
    with pytest.raises(InvalidInputError, match="expected"):
        history.add_messages("hello")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="expected"):
        history.add_messages(HumanMessage("hi"))  # type: ignore[arg-type]
    assert history.messages == []


def chain(responses: list[str]) -> Runnable[Any, Any]:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Be brief."), MessagesPlaceholder("history"), ("human", "{question}")]
    )
    return prompt | FakeListChatModel(responses=responses)


def with_history(runnable: Runnable[Any, Any], histories: Any) -> RunnableWithMessageHistory:
    return RunnableWithMessageHistory(
        runnable,
        histories,
        input_messages_key="question",
        history_messages_key="history",
    )


QUESTIONS = ["Hi, I'm Ana from Lisbon.", "Where do I live?", "Thanks!"]
ANSWERS = ["Hello Ana!", "In Lisbon.", "You're welcome."]
TURNS = [text for pair in zip(QUESTIONS, ANSWERS, strict=True) for text in pair]


def test_runnable_with_message_history(backend: Engram) -> None:
    reference: dict[str, InMemoryChatMessageHistory] = {}
    ours = with_history(chain(ANSWERS), lambda sid: EngramChatMessageHistory(backend, sid))
    theirs = with_history(
        chain(ANSWERS), lambda sid: reference.setdefault(sid, InMemoryChatMessageHistory())
    )
    seen: list[list[BaseMessage]] = []
    spy = with_history(
        chain(ANSWERS).with_listeners(on_start=lambda run: seen.append(run.inputs)),
        lambda sid: EngramChatMessageHistory(backend, sid),
    )
    config: Any = {"configurable": {"session_id": "ana"}}
    for question in QUESTIONS:
        answer = ours.invoke({"question": question}, config=config)
        assert answer.content == theirs.invoke({"question": question}, config=config).content
    got = EngramChatMessageHistory(backend, "ana").messages
    assert [(m.type, m.content) for m in got] == [
        (m.type, m.content) for m in reference["ana"].messages
    ]
    assert [m.content for m in got] == TURNS
    assert got[1].id is not None and got[1].id.startswith("lc_run-")  # the model's run id
    # The next turn sees the whole history as the prompt.
    spy.invoke({"question": "Again?"}, config={"configurable": {"session_id": "ana"}})
    assert [m.content for m in seen[0]["history"]] == [m.content for m in got]
    assert EngramChatMessageHistory(backend, "other").messages == []


async def test_runnable_with_message_history_async_and_streamed(backend: Engram) -> None:
    ours = with_history(chain(ANSWERS), lambda sid: EngramChatMessageHistory(backend, sid))
    config: Any = {"configurable": {"session_id": "ana"}}
    for question in QUESTIONS[:2]:
        await ours.ainvoke({"question": question}, config=config)
    async for _ in ours.astream({"question": QUESTIONS[2]}, config=config):
        pass
    got = await EngramChatMessageHistory(backend, "ana").aget_messages()
    assert [m.content for m in got] == TURNS
    assert isinstance(got[-1], AIMessageChunk)  # as streamed, as LangChain stores it


def test_runnable_streamed_reply_is_stored_whole(backend: Engram) -> None:
    model = GenericFakeChatModel(messages=iter([AIMessage("a reply in several chunks")]))
    prompt = ChatPromptTemplate.from_messages([MessagesPlaceholder("history"), ("human", "{q}")])
    runnable = RunnableWithMessageHistory(
        prompt | model,
        lambda sid: EngramChatMessageHistory(backend, sid),
        input_messages_key="q",
        history_messages_key="history",
    )
    chunks = list(runnable.stream({"q": "hi"}, config={"configurable": {"session_id": "s"}}))
    assert len(chunks) > 1
    got = EngramChatMessageHistory(backend, "s").messages
    assert [m.content for m in got] == ["hi", "a reply in several chunks"]


def test_clear_erases_from_the_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "engram.db"
    with Engram(path) as mem:
        history = EngramChatMessageHistory(mem, "s1", user_id="ana")
        history.add_messages(
            [
                HumanMessage("my card is SECRET4111", additional_kwargs={"k": "SECRETKW"}),
                AIMessage("SECRETREPLY", tool_calls=[call("c1", card="SECRETARG")]),
                ToolMessage("SECRETTOOL", tool_call_id="c1", artifact="SECRETART"),
            ]
        )
        history.clear()
        assert history.messages == []
        with sqlite3.connect(path) as db:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            for table in tables:
                rows = db.execute(f'SELECT * FROM "{table}"').fetchall()
                assert "SECRET" not in repr(rows), table
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("engram.db"))
    assert b"SECRET" not in raw


def test_clear_erases_from_postgres(
    postgres_clean_database: str,
) -> None:
    import psycopg

    with (
        PostgresConversationStore.from_conn_string(postgres_clean_database) as store,
        Engram(store) as mem,
    ):
        history = EngramChatMessageHistory(mem, "s1", user_id="ana")
        history.add_messages([HumanMessage("SECRET4111"), AIMessage("SECRETREPLY")])
        history.clear()
        with psycopg.connect(postgres_clean_database) as db:
            tables = db.execute(
                "SELECT schemaname, tablename FROM pg_tables"
                " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
            ).fetchall()
            assert tables
            for schema, table in tables:
                rows = db.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()
                assert "SECRET" not in repr(rows), table


def test_clear_erases_from_redis(redis_url: str, redis_prefix: str) -> None:
    import redis

    with (
        RedisConversationStore.from_url(redis_url, prefix=redis_prefix) as store,
        Engram(store) as mem,
    ):
        history = EngramChatMessageHistory(mem, "s1", user_id="ana")
        history.add_messages([HumanMessage("SECRET4111"), AIMessage("SECRETREPLY")])
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=f"{redis_prefix}*"))

        def dump() -> str:
            return repr([client.dump(key) for key in client.scan_iter(match=f"{redis_prefix}*")])

        assert keys and "SECRET" in dump()
        history.clear()
        assert "SECRET" not in dump()
        client.close()


def test_two_histories_on_one_session(backend: Engram) -> None:
    first = EngramChatMessageHistory(backend, "s1", user_id="ana")
    second = EngramChatMessageHistory(backend, "s1", user_id="ana")
    first.add_messages([HumanMessage("one")])
    second.add_messages([AIMessage("two")])
    first.add_user_message("three")
    assert first.messages == second.messages
    assert [m.content for m in second.messages] == ["one", "two", "three"]
    second.clear()
    assert first.messages == []
    first.add_ai_message("four")
    assert [m.content for m in second.messages] == ["four"]


def test_two_histories_append_concurrently(backend: Engram) -> None:
    histories = [EngramChatMessageHistory(backend, "s1") for _ in range(2)]
    errors: list[BaseException] = []

    def talk(history: EngramChatMessageHistory, tag: str) -> None:
        try:
            for i in range(15):
                history.add_messages([HumanMessage(f"{tag}{i}"), AIMessage(f"re {tag}{i}")])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=talk, args=(history, tag))
        for history, tag in zip(histories, "ab", strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    texts = [m.content for m in histories[0].messages]
    assert len(texts) == 60 and histories[1].messages == histories[0].messages
    assert all(texts[i + 1] == f"re {texts[i]}" for i in range(0, 60, 2))  # pairs stay whole
    assert sorted(texts[::2]) == sorted(f"{t}{i}" for t in "ab" for i in range(15))
    assert [m.seq for m in backend.session("s1").messages()] == list(range(1, 61))


def test_a_tool_result_answers_an_invalid_tool_call(backend: Engram) -> None:
    """LangChain's OpenAI chat model sends invalid tool calls with the valid ones, so the
    agent must answer both; Engram's own (OpenAI) form of the session has both calls."""
    history = EngramChatMessageHistory(backend, "s1")
    history.add_messages(SEQUENCES["invalid tool calls answered"])
    assert history.messages == SEQUENCES["invalid tool calls answered"]
    [ai, *_] = backend.session("s1").messages()
    assert [(c.id, c.name, c.arguments) for c in ai.tool_calls] == [
        ("c1", "weather", "{}"),
        ("c2", "f", "{x"),
    ]
    sent = backend.session("s1").context(budget=2000).to_openai()
    assert [c["id"] for c in sent[0]["tool_calls"]] == ["c1", "c2"]
    assert [m.get("tool_call_id") for m in sent[1:]] == ["c1", "c2"]


def test_malformed_arguments_written_through_engram_are_invalid_tool_calls(
    backend: Engram,
) -> None:
    """Engram keeps a model's arguments verbatim, even malformed; LangChain's own conversion
    raises on them, the history reads them as LangChain's OpenAI chat model does."""
    session = backend.session("s1")
    calls = [("ok", "{}"), ("bad", '{"city": "Lis'), ("num", "5"), ("none", "")]
    tool_calls = [
        {"id": i, "type": "function", "function": {"name": "f", "arguments": a}} for i, a in calls
    ]
    session.add("assistant", "", tool_calls=tool_calls)
    for call_id, _ in calls:
        session.add("tool", "done", tool_call_id=call_id)
    history = EngramChatMessageHistory(backend, "s1")
    ai, *tools = history.messages
    assert tools == [ToolMessage("done", tool_call_id=i) for i, _ in calls]
    assert isinstance(ai, AIMessage)
    assert [(c["id"], c["args"]) for c in ai.tool_calls] == [("ok", {}), ("none", {})]
    assert [(c["id"], c["args"]) for c in ai.invalid_tool_calls] == [
        ("bad", '{"city": "Lis'),
        ("num", "5"),
    ]
    assert all(c["error"] for c in ai.invalid_tool_calls)
    assert history.context(budget=2000) == [ai, *tools]
    # Written back through a history, the same messages (and Engram's calls) again.
    copy = EngramChatMessageHistory(backend, "s2")
    copy.add_messages([ai, *tools])
    assert copy.messages == [ai, *tools]
    assert [c.id for c in backend.session("s2").messages()[0].tool_calls] == [
        "ok",
        "none",
        "bad",
        "num",
    ]


def test_langchain_metadata_not_written_by_the_history_falls_back(backend: Engram) -> None:
    session = backend.session("s1")
    for stored in (
        {"type": "ai", "data": {"tool_calls": "x"}},
        {"type": "ai", "data": {"usage_metadata": 5}},
        {"type": "chat", "data": {}},
        {"type": "remove", "data": {}},
        "not a mapping",
    ):
        session.add("assistant", "hello", metadata={"langchain": stored})
    assert EngramChatMessageHistory(backend, "s1").messages == [AIMessage("hello")] * 5


def test_context_drops_the_calls_engram_drops(backend: Engram) -> None:
    """A call no tool result answers is left out of the prompt (a model API refuses it),
    also one LangChain keeps exactly (an id of None, an invalid call's own error)."""
    history = EngramChatMessageHistory(backend, "s1")
    asking = AIMessage(
        "Let me check.",
        tool_calls=[call("c1"), call(None, "clock")],
        invalid_tool_calls=[
            {"type": "invalid_tool_call", "name": "f", "args": "{x", "id": "c2", "error": "e"}
        ],
    )
    history.add_messages([HumanMessage("hi"), asking, ToolMessage("sunny", tool_call_id="c1")])
    sent = backend.session("s1").context(budget=2000).messages
    assert [[c.id for c in m.tool_calls] for m in sent] == [[], ["c1"], []]
    prompt = history.context(budget=2000)
    assert isinstance(prompt[1], AIMessage)
    assert prompt[1].tool_calls == [{**call("c1"), "type": "tool_call"}]
    assert prompt[1].invalid_tool_calls == []
    assert history.messages[1] == asking  # the history itself keeps every call


async def test_two_histories_append_concurrently_async(backend: Engram) -> None:
    histories = [EngramChatMessageHistory(backend, "s1") for _ in range(2)]

    async def talk(history: EngramChatMessageHistory, tag: str) -> None:
        for i in range(10):
            await history.aadd_messages([HumanMessage(f"{tag}{i}"), AIMessage(f"re {tag}{i}")])

    await asyncio.gather(*(talk(h, t) for h, t in zip(histories, "ab", strict=True)))
    texts = [m.content for m in await histories[1].aget_messages()]
    assert len(texts) == 40 and all(texts[i + 1] == f"re {texts[i]}" for i in range(0, 40, 2))
    await histories[0].aclear()
    assert await histories[1].aget_messages() == []


def test_two_engrams_on_one_sqlite_file(tmp_path: Path) -> None:
    """Two processes' worth of connections (two Engrams) on one file, one session."""
    with Engram(tmp_path / "engram.db") as one, Engram(tmp_path / "engram.db") as two:
        histories = [EngramChatMessageHistory(mem, "s1", user_id="ana") for mem in (one, two)]

        def talk(history: EngramChatMessageHistory, tag: str) -> None:
            for i in range(15):
                history.add_messages([HumanMessage(f"{tag}{i}"), AIMessage(f"re {tag}{i}")])

        threads = [
            threading.Thread(target=talk, args=(history, tag))
            for history, tag in zip(histories, "ab", strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        texts = [m.content for m in histories[1].messages]
        assert len(texts) == 60 and histories[0].messages == histories[1].messages
        histories[1].clear()
        assert histories[0].messages == []


def test_clear_of_a_deleted_session_keeps_its_generated_id(backend: Engram) -> None:
    history = EngramChatMessageHistory(backend, None, user_id="ana")  # type: ignore[arg-type]
    history.add_user_message("hi")
    first = history.session_id
    backend.session(first).delete()
    history.clear()
    assert history.session_id == first and history.messages == []
    assert backend.session(first).info().user_id == "ana"


async def test_same_messages_after_clear_as_langchains_history(backend: Engram) -> None:
    reference = InMemoryChatMessageHistory()
    ours = EngramChatMessageHistory(backend, "s1")
    for history in (reference, ours):
        drive(history, SEQUENCES["tool results"])
        history.clear()
        await history.aadd_messages(SEQUENCES["names and ids"])
        await history.aclear()
        drive(history, SEQUENCES["usage details"])
    assert ours.messages == await ours.aget_messages() == reference.messages
    assert backend.session("s1").info().message_count == len(reference.messages)
