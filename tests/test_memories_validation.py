"""Bad input to the long-term memory API: `InvalidInputError` (sync and async), nothing stored."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engram import Engram, InvalidInputError, Message
from engram.config import EngramSettings
from test_memories_api import EMPTY_EXPORT


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Engram]:
    with Engram(tmp_path / "engram.db") as engram:
        turn = Message(
            role="user",
            content="My partner is Tomás. I live in Porto.",
            created_at=datetime(2026, 1, 10, tzinfo=UTC),
        )
        engram.memories.add(messages=[turn], user_id="ana", user_name="Ana")
        yield engram


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def call(mem: Engram, api: str, method: str, *args: Any, **kwargs: Any) -> Any:
    """`mem.memories.<method>(...)`, or its async twin run to completion."""
    if api == "sync":
        return getattr(mem.memories, method)(*args, **kwargs)
    return asyncio.run(getattr(mem.memories, "a" + method)(*args, **kwargs))


def stored(mem: Engram) -> dict[str, Any]:
    """Everything stored about Ana (memories with their access counts, history, profile)."""
    return mem.memories.export(user_id="ana")


def first_id(mem: Engram) -> str:
    return mem.memories.get_all(user_id="ana")[0].id


@pytest.mark.parametrize(
    "message",
    [
        {"role": "User", "content": "I live in Rome."},
        {"role": "human", "content": "I live in Rome."},
        {"content": "I live in Rome."},
        {"role": None, "content": "I live in Rome."},
        {"role": ["user"], "content": "I live in Rome."},
    ],
)
def test_a_message_with_a_bad_role_is_refused(mem: Engram, api: str, message: Any) -> None:
    before = stored(mem)
    with pytest.raises(InvalidInputError, match="unknown role"):
        call(mem, api, "add", messages=[message], user_id="ana")
    assert stored(mem) == before


def test_memories_and_sessions_refuse_a_role_alike(mem: Engram) -> None:
    with pytest.raises(InvalidInputError) as by_session:
        mem.session("s", user_id="ana").add("User", "I live in Rome.")
    with pytest.raises(InvalidInputError) as by_memories:
        mem.memories.add(messages=[{"role": "User", "content": "x"}], user_id="ana")
    assert str(by_memories.value) == str(by_session.value)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"text": 5}, "memory text must be a string"),
        ({"text": b"I live in Rome"}, "memory text must be a string"),
        ({"messages": [{"role": "user", "content": "a\x00b"}]}, "NUL"),
        ({"messages": "I live in Rome"}, "messages must be a list"),
        ({"messages": 5}, "messages must be a list"),
        ({"text": "I live in Rome", "user_name": 5}, "user_name"),
        ({"text": "I live in Rome", "user_name": ""}, "user_name"),
        ({"text": "I live in Rome", "max_llm_calls": "2"}, "max_llm_calls"),
        ({"text": "I live in Rome", "max_llm_calls": True}, "max_llm_calls"),
        ({"text": "I live in Rome", "max_llm_tokens": 1.5}, "max_llm_tokens"),
        ({"text": "I live in Rome", "max_llm_tokens": -1}, "max_llm_tokens"),
        ({"text": "I live in Rome", "infer": "no"}, "infer must be True or False"),
        ({"text": "Prefers email", "infer": False, "pinned": "no"}, "pinned must be True"),
        ({"text": "Prefers email", "infer": False, "pinned": 1}, "pinned must be True"),
        ({"text": "Prefers email", "infer": False, "kind": ["fact"]}, "unknown memory kind"),
        ({"text": "Prefers email", "metadata": [("a", 1)]}, "metadata must be a mapping"),
        ({"text": "Prefers email", "metadata": {1: "x"}}, "metadata has the key 1"),
        ({"text": "\u200b \ufeff", "infer": False}, "text cannot be empty"),  # invisible
    ],
)
def test_add_refuses_bad_arguments(mem: Engram, api: str, kwargs: dict, match: str) -> None:
    before = stored(mem)
    with pytest.raises(InvalidInputError, match=match):
        call(mem, api, "add", **{"user_id": "ana", **kwargs})
    assert stored(mem) == before


@pytest.mark.parametrize(
    ("method", "args", "kwargs", "match"),
    [
        ("search", ("x",), {"as_of": "yesterday"}, "as_of is not an ISO-8601 time"),
        ("search", ("x",), {"after": "2025-13-01"}, "after is not an ISO-8601 time"),
        ("search", ("x",), {"before": 12345}, "before must be a datetime"),
        ("search", ("x",), {"as_of": 12345}, "as_of must be a datetime"),
        ("search", ("x",), {"as_of": "9999-12-31T23:00:00-05:00"}, "as_of is out of range"),
        ("search", ("x",), {"after": "0001-01-01T01:00:00+05:00"}, "after is out of range"),
        ("search", (None,), {}, "query must be a string"),
        ("search", (5,), {}, "query must be a string"),
        ("search", ("\u200b\u2060",), {}, "query is empty"),  # zero-width characters only
        ("search", ("x",), {"metadata": "ab"}, "metadata must be a mapping"),
        ("search", ("x",), {"kinds": 5}, "kinds must be a list"),
        ("get_all", (), {"include_superseded": "yes"}, "include_superseded"),
        ("relations", (), {"as_of": "nope"}, "as_of is not an ISO-8601 time"),
        ("relations", (), {"as_of": "9999-12-31T23:00:00-05:00"}, "as_of is out of range"),
        ("relations", (), {"entity_id": 5}, "entity_id"),
        ("entities", (), {"name": 5}, "name must be a string"),
        ("bloat", (), {"kinds": 5}, "kinds must be a list"),
    ],
)
def test_reads_refuse_bad_arguments(
    mem: Engram, api: str, method: str, args: tuple, kwargs: dict, match: str
) -> None:
    before = stored(mem)
    with pytest.raises(InvalidInputError, match=match):
        call(mem, api, method, *args, **{"user_id": "ana", **kwargs})
    assert stored(mem) == before  # no access recorded either


@pytest.mark.parametrize(
    ("call_it", "match"),
    [
        (lambda m, api: call(m, api, "get", 5), "memory_id"),
        (lambda m, api: call(m, api, "history", None), "memory_id"),
        (lambda m, api: call(m, api, "delete", None), "memory_id"),
        (lambda m, api: call(m, api, "update", [first_id(m)], "x"), "memory_id"),
        (lambda m, api: call(m, api, "update", first_id(m), 42), "memory text must be a string"),
        (lambda m, api: call(m, api, "update", first_id(m), "\u200b"), "text cannot be empty"),
        (lambda m, api: call(m, api, "update", first_id(m), metadata=[1]), "metadata"),
        (lambda m, api: call(m, api, "update", first_id(m), pinned="yes"), "pinned"),
        (lambda m, api: call(m, api, "update", first_id(m), pinned=0), "pinned"),
        (lambda m, api: call(m, api, "update", first_id(m), importance="high"), "importance"),
        (lambda m, api: call(m, api, "update_profile", "ana", [("a", "b")]), "profile fields"),
        (lambda m, api: call(m, api, "update_profile", "ana", None), "profile fields"),
        (lambda m, api: call(m, api, "forget", None, user_id="ana"), "ForgettingPolicy"),
        (lambda m, api: call(m, api, "reembed", user_id="ana", batch_size="2"), "batch_size"),
    ],
)
def test_writes_refuse_bad_arguments(
    mem: Engram, api: str, call_it: Callable[[Engram, str], Any], match: str
) -> None:
    before = stored(mem)
    with pytest.raises(InvalidInputError, match=match):
        call_it(mem, api)
    assert stored(mem) == before


def test_a_verbatim_memory_keeps_a_real_bool(mem: Engram) -> None:
    [memory] = mem.memories.add("Prefers email", user_id="bo", infer=False, pinned=True).added
    assert mem.memories.get(memory.id).pinned is True
    assert mem.memories.update(memory.id, pinned=False).pinned is False


def _memory(data: dict[str, Any]) -> dict[str, Any]:
    """The export's first fact (not an episode)."""
    return next(m for m in data["memories"] if m["kind"] != "episode")


def _drop_target_of_a_relation(data: dict[str, Any]) -> None:
    target = data["relations"][0]["target_id"]
    data["entities"] = [entity for entity in data["entities"] if entity["id"] != target]


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda d: _memory(d).update(text="a\x00b"), r"memories\[\d+\] .*text contains a NUL"),
        (lambda d: _memory(d).update(text="x" * 201), r"text is 201 bytes"),
        (lambda d: _memory(d).update(pinned="false"), r"pinned must be true or false"),
        (lambda d: _memory(d).update(source_ids="abc"), r"source_ids must be a list"),
        (lambda d: _memory(d).update(entity_ids=[1]), r"entity_ids must be a list"),
        (lambda d: _memory(d).update(importance="0.7"), r"importance must be a number"),
        (lambda d: _memory(d).update(importance=True), r"importance must be a number"),
        (lambda d: _memory(d).update(access_count="3"), r"access_count must be an integer"),
        (lambda d: _memory(d).update(metadata=[1, 2]), r"metadata must be an object"),
        (lambda d: _memory(d).update(attribute=5), r"attribute must be a string"),
        (lambda d: _memory(d).update(user_id=" "), r"user_id must be a non-empty string"),
        (lambda d: _memory(d).update(recorded_at=5), r"recorded_at must be an ISO-8601"),
        (lambda d: _memory(d).pop("id"), r"memories\[\d+\]: id is missing"),
        (lambda d: d["memories"].append("x"), r"memories\[\d+\] is not an object"),
        (lambda d: d["history"][0].update(at="nope"), r"history\[0\] .*at is not an ISO"),
        (lambda d: d["entities"][0].update(aliases="Tom"), r"entities\[0\] .*aliases"),
        (lambda d: d["relations"][0].update(valid_from=5), r"relations\[0\] .*valid_from"),
        (lambda d: d["profile"]["fields"].update(age=5), r"profile: fields\['age'\] must be"),
        (lambda d: d["profile"]["fields"].update(age=" "), r"profile: fields\['age'\] must be"),
        (lambda d: d.update(profile="Ana"), r"profile is not an object"),
        (lambda d: _drop_target_of_a_relation(d), r"(relation .* refers to|names) entity"),
        (
            lambda d: _memory(d)["metadata"].update(note="a\x00b"),
            r"metadata\['note'\] contains a NUL",
        ),
        (lambda d: d["entities"][0].update(name="A\x00"), r"entities\[0\] .*name contains a NUL"),
        (lambda d: d["history"][0].update(new_text="x\x00"), r"history\[0\] .*contains a NUL"),
        (lambda d: _memory(d).update(superseded_by="gone"), r"superseded by 'gone'"),
    ],
)
def test_an_import_with_a_bad_record_is_refused_whole(
    mem: Engram, tmp_path: Path, api: str, damage: Callable[[dict], Any], match: str
) -> None:
    data = copy.deepcopy(mem.memories.export(user_id="ana"))
    damage(data)
    settings = EngramSettings(max_message_bytes=200)  # as `add` refuses a larger text
    with Engram(tmp_path / "target.db", settings=settings) as target:
        with pytest.raises(InvalidInputError, match=match):
            call(target, api, "import_", data)
        assert target.memories.export(user_id="ana") == EMPTY_EXPORT


def test_an_import_takes_what_an_export_gives(mem: Engram, tmp_path: Path) -> None:
    data = mem.memories.export(user_id="ana")
    with Engram(tmp_path / "target.db") as target:
        imported = target.memories.import_(data)
        assert len(imported) == len(data["memories"])
        assert target.memories.profile("ana") == mem.memories.profile("ana")
