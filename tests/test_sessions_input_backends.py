"""Bad input to the session API, on every conversation backend (in memory, SQLite, PostgreSQL,
Redis): one `InvalidInputError` (or `ConflictError`) saying what is wrong and what to pass,
the same on each, and nothing written."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from typing import Any

import pytest

from engram import BackendUnavailable, ConflictError, Engram, InvalidInputError, NotFoundError
from engram.types import Message, ToolCall

pytest_plugins = ["servers"]

CALL = {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}


@pytest.fixture
def mem(every_session_engram: Engram) -> Engram:
    return every_session_engram


def session_ids(mem: Engram) -> list[str]:
    return [session.id for session in mem.sessions()]


@pytest.mark.parametrize("create", ["no", 0, 1, None], ids=repr)
def test_create_must_be_true_or_false(mem: Engram, create: Any) -> None:
    with pytest.raises(InvalidInputError, match="create must be True or False"):
        mem.session("s1", create=create)
    assert session_ids(mem) == []
    with pytest.raises(NotFoundError):
        mem.session("s1", create=False)


SURROGATE = {"note": ["fine", "\ud800"]}
"""A JSON object holding a lone surrogate: text UTF-8 cannot encode."""


@pytest.mark.parametrize(
    ("write", "named"),
    [
        (lambda mem: mem.session("s2", metadata=SURROGATE), r"session metadata\['note'\]\[1\]"),
        (
            lambda mem: mem.session("s1").add("user", "hi", metadata=SURROGATE),
            r"message metadata\['note'\]\[1\]",
        ),
        (
            lambda mem: mem.session("s1").add_messages(
                [{"role": "user", "content": "a"}, {"role": "user", "metadata": SURROGATE}]
            ),
            r"messages\[1\]: message metadata\['note'\]\[1\]",
        ),
        (
            lambda mem: mem.session("s1").update_state({"ok": {"\ud800": 1}}),
            r"a key of state patch\['ok'\]",
        ),
    ],
    ids=["session-metadata", "message-metadata", "one-of-messages", "state-key"],
)
def test_a_lone_surrogate_is_refused_naming_the_field(
    mem: Engram, write: Callable[[Engram], Any], named: str
) -> None:
    mem.session("s1")
    with pytest.raises(InvalidInputError, match=f"^{named} is not valid UTF-8 text"):
        write(mem)
    assert session_ids(mem) == ["s1"]
    assert mem.session("s1").messages() == [] and mem.session("s1").state() == {}


@pytest.mark.parametrize("kind", ["state", "session-metadata", "message-metadata"])
def test_keys_must_be_strings(mem: Engram, kind: str) -> None:
    s = mem.session("s1")
    with pytest.raises(InvalidInputError, match="has the key 1: JSON object keys must be strings"):
        if kind == "state":
            s.update_state({"a": {1: "x"}})
        elif kind == "session-metadata":
            mem.session("s2", metadata={1: "x"})
        else:
            s.add("user", "hi", metadata={1: "x"})
    assert session_ids(mem) == ["s1"] and s.messages() == [] and s.state() == {}


@pytest.mark.parametrize("last", [2**63, 10**20])
def test_a_last_past_64_bits_is_refused(mem: Engram, last: int) -> None:
    s = mem.session("s1")
    s.add("user", "hi")
    with pytest.raises(InvalidInputError, match="last=.* is too large"):
        s.messages(last=last)
    with pytest.raises(InvalidInputError, match="too large"):
        asyncio.run(s.amessages(last=last))
    assert [m.text for m in s.messages(last=2**63 - 1)] == ["hi"]


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        ({"user_id": 5}, "user_id must be a non-empty string"),
        ({"user_id": ""}, "user_id must be a non-empty string"),
        ({"agent_id": 5}, "agent_id must be a non-empty string"),
        ({"limit": "a"}, "limit must be an integer"),
        ({"limit": 10**20}, "limit must be from 0 to 100000"),
        ({"offset": 10**20}, "offset must be from 0 to 9223372036854775807"),
        ({"offset": -1}, "offset must be from 0"),
    ],
    ids=repr,
)
def test_sessions_checks_its_arguments(mem: Engram, arguments: dict[str, Any], said: str) -> None:
    mem.session("s1", user_id="ana")
    with pytest.raises(InvalidInputError, match=said):
        mem.sessions(**arguments)
    with pytest.raises(InvalidInputError, match=said):
        asyncio.run(mem.asessions(**arguments))
    assert mem.sessions(offset=2**63 - 1) == []


def test_a_repeated_message_id_is_said_alike(mem: Engram) -> None:
    s = mem.session("s1")
    s.add("user", "a", id="m1")
    with pytest.raises(ConflictError) as raised:
        s.add("user", "b", id="m1")
    assert str(raised.value) == "session 's1': a message id already exists"
    assert [m.text for m in s.messages()] == ["a"]


@pytest.mark.parametrize("messages", [None, 5, {"role": "user", "content": "hi"}], ids=repr)
def test_add_messages_takes_a_list(mem: Engram, messages: Any) -> None:
    s = mem.session("s1")
    said = "add_messages takes a list of messages, not .*: pass \\[message\\]"
    with pytest.raises(InvalidInputError, match=said):
        s.add_messages(messages)
    with pytest.raises(InvalidInputError, match=said):
        asyncio.run(s.aadd_messages(messages))
    assert s.messages() == []


@pytest.mark.parametrize("role", ["user", "system", "tool", "assistant"])
def test_none_content_is_refused_but_for_a_tool_calling_assistant(mem: Engram, role: str) -> None:
    s = mem.session("s1")
    fields = {"tool_call_id": "call_1"} if role == "tool" else {}
    with pytest.raises(InvalidInputError, match=f"message content is None: a {role} message"):
        s.add_messages([{"role": role, "content": None, **fields}])
    with pytest.raises(InvalidInputError, match=f"message content is None: a {role} message"):
        s.add(role, None, **fields)
    assert s.messages() == []


def test_a_message_object_of_none_content_is_taken_as_its_dict_is(mem: Engram) -> None:
    s = mem.session("s1")
    with pytest.raises(InvalidInputError, match="message content is None: a user message"):
        s.add_messages([Message(role="user", content=None)])  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="message content must be text"):
        s.add_messages([Message(role="user", content=5)])  # type: ignore[arg-type]
    s.add("user", "Weather?")
    call = ToolCall("call_1", "weather", "{}")
    s.add_messages([Message(role="assistant", content=None, tool_calls=(call,))])  # type: ignore[arg-type]
    assert [m.content for m in s.messages()] == ["Weather?", ""]


def test_a_tool_calling_assistant_may_have_none_content(mem: Engram) -> None:
    s = mem.session("s1")
    s.add("user", "Weather?")
    s.add("assistant", None, tool_calls=[CALL])
    s.add_messages([{"role": "assistant", "content": None, "tool_calls": [CALL]}])
    assert [(m.role, m.content, len(m.tool_calls)) for m in s.messages()[1:]] == [
        ("assistant", "", 1),
        ("assistant", "", 1),
    ]


def exported(mem: Engram) -> dict[str, Any]:
    s = mem.session("src", user_id="ana", metadata={"k": 1})
    s.add("system", "sys")
    s.add("user", "hello")
    s.add("assistant", "hi")
    s.update_state({"a": 1})
    data = s.export()
    s.delete()
    return data


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change setting `path` (keys and indexes split by dots) of an export to `value`."""
    *parents, last = path.split(".")

    def change(data: dict[str, Any]) -> None:
        target: Any = data
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return change


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split(".")

    def change(data: dict[str, Any]) -> None:
        target: Any = data
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        del target[last]

    return change


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (_drop("messages.2.id"), r"messages\[2\]: id is missing"),
        (_drop("messages.1.created_at"), r"messages\[1\]: created_at is missing"),
        (_set("messages.2.created_at", "garbage"), r"messages\[2\]: created_at is not an ISO"),
        (_set("messages.2.content", 5), r"messages\[2\]: content must be text or a list"),
        (_set("messages.2.role", "bot"), r"messages\[2\]: unknown role 'bot'"),
        (_set("messages.2.metadata", "abc"), r"messages\[2\]: metadata must be an object"),
        (_set("messages.0.tool_calls", "abc"), r"messages\[0\]: tool_calls must be a list"),
        (_set("messages.1", None), r"messages\[1\] must be an object, not NoneType"),
        (_set("messages", "abc"), r"messages must be a list of messages, not str"),
        (_set("session", None), r"session must be an object, not NoneType"),
        (_set("session.state", [1]), r"session: state must be an object"),
        (_set("session.metadata", "abc"), r"session: metadata must be an object"),
        (_set("session.id", 5), r"session: id must be text"),
        (_set("session.user_id", 5), r"session: user_id must be text"),
        (_set("summary", {"x": 1}), r"summary: session_id is missing"),
        (_set("session.metadata", {"a": "\ud800"}), r"session's metadata\['a'\] is not valid"),
        (_set("session.state", {1: "a"}), r"session's state has the key 1"),
        (_set("messages.1.metadata", {"a": "\ud800"}), r"messages\[1\]: message metadata\['a'\]"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_malformed_import_names_the_field_and_writes_nothing(
    mem: Engram, change: Callable[[dict[str, Any]], None], said: str
) -> None:
    data = copy.deepcopy(exported(mem))
    change(data)
    with pytest.raises(InvalidInputError, match=said):
        mem.import_session(data, session_id="copy")
    with pytest.raises(InvalidInputError, match=said):
        mem.import_session(data)
    assert session_ids(mem) == []


def test_an_unreachable_redis_fails_at_construction_as_postgres_does() -> None:
    with pytest.raises(BackendUnavailable, match="^redis: .*127.0.0.1:1"):
        Engram("redis://127.0.0.1:1/0")


def test_every_json_value_is_kept(mem: Engram) -> None:
    value = {"text": "é", "int": -3, "float": 1.5, "true": True, "none": None, "list": [{"a": []}]}
    s = mem.session("s1", metadata=value)
    s.add("user", "hi", metadata=value)
    kept = {key: item for key, item in value.items() if item is not None}  # null deletes
    assert s.update_state({"v": kept}) == {"v": kept}
    assert s.info().metadata == value and s.messages()[0].metadata == value
