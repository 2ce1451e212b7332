"""Bad input to `memories.add` is refused whatever the mode, before anything is stored: a
kind or importance out of range (with `infer` too, where they go unused), a message without
content (as a session refuses it), a message dated in the future of Engram's clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import engram._memories
from engram import Engram, InvalidInputError, Message

pytest_plugins = ["servers"]

PORTO = Message(
    role="user", content="I live in Porto.", created_at=datetime(2026, 1, 1, tzinfo=UTC)
)


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def add(mem: Engram, api: str, *args: Any, **kwargs: Any) -> Any:
    """`mem.memories.add(...)` for Ana, or its async twin run to completion."""
    if api == "sync":
        return mem.memories.add(*args, user_id="ana", **kwargs)
    return asyncio.run(mem.memories.aadd(*args, user_id="ana", **kwargs))


def stored(mem: Engram) -> dict[str, Any]:
    """Everything stored about Ana."""
    return mem.memories.export(user_id="ana")


@pytest.mark.parametrize("infer", [True, False])
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "bogus"}, "unknown memory kind 'bogus'"),
        ({"kind": None}, "unknown memory kind None"),
        ({"importance": 5}, r"importance must be a number within 0\.\.1, got 5"),
        ({"importance": True}, r"importance must be a number within 0\.\.1, got True"),
        ({"importance": "high"}, r"importance must be a number within 0\.\.1, got 'high'"),
    ],
)
def test_a_bad_kind_or_importance_is_refused_with_or_without_inference(
    every_memory_engram: Engram, api: str, infer: bool, kwargs: dict[str, Any], match: str
) -> None:
    add(every_memory_engram, api, messages=[PORTO])
    before = stored(every_memory_engram)

    with pytest.raises(InvalidInputError, match=match):
        add(every_memory_engram, api, "I like coffee", infer=infer, **kwargs)
    with pytest.raises(InvalidInputError, match=match):
        add(every_memory_engram, api, messages=[{"role": "user", "content": "x"}], **kwargs)

    assert stored(every_memory_engram) == before


@pytest.mark.parametrize(
    "message",
    [
        {"role": "user", "content": None},
        {"role": "user", "content": 0},
        {"role": "tool", "content": None, "tool_call_id": "call-1"},
        {"role": "assistant", "content": None},
    ],
)
def test_a_message_without_content_is_refused_as_a_session_refuses_it(
    every_memory_engram: Engram, api: str, message: dict[str, Any]
) -> None:
    mem = every_memory_engram
    add(mem, api, messages=[PORTO])
    before = stored(mem)

    with pytest.raises(InvalidInputError) as by_memories:
        add(mem, api, messages=[message])
    with pytest.raises(InvalidInputError) as by_session:
        mem.session("s", user_id="ana").add_messages([message])

    assert str(by_memories.value) == str(by_session.value)
    assert stored(mem) == before


def test_an_assistant_message_of_tool_calls_may_have_no_content(
    every_memory_engram: Engram,
) -> None:
    """OpenAI's form of an assistant turn that only calls tools: content None."""
    call = {"id": "call-1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    turns = [
        {"role": "user", "content": "I live in Porto."},
        {"role": "assistant", "content": None, "tool_calls": [call]},
    ]

    every_memory_engram.memories.add(messages=turns, user_id="ana")

    assert every_memory_engram.memories.profile("ana").fields == {"home_city": "Porto"}  # type: ignore[union-attr]


def test_a_message_dated_in_the_future_is_refused(every_memory_engram: Engram, api: str) -> None:
    """The QA case: "I live in Bern" dated 2999 would be the current home while "as of now"
    the home is Porto."""
    mem = every_memory_engram
    add(mem, api, messages=[PORTO])
    before = stored(mem)
    bern = {"role": "user", "content": "I live in Bern.", "created_at": "2999-01-01T00:00:00Z"}

    with pytest.raises(InvalidInputError, match=r"dated 2999-01-01T00:00:00\+00:00, in the future"):
        add(mem, api, messages=[PORTO, bern])

    assert stored(mem) == before
    now = datetime.now(UTC)
    current = [m.text for m in mem.memories.get_all(user_id="ana") if m.kind != "episode"]
    then = [m.text for m in mem.memories.get_all(user_id="ana", as_of=now) if m.kind != "episode"]
    assert current == then == ["The user lives in Porto"]
    assert mem.memories.profile("ana").fields == {"home_city": "Porto"}  # type: ignore[union-attr]


def test_a_day_of_clock_skew_is_tolerated(
    every_memory_engram: Engram, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sender's clock may run ahead of Engram's, by up to a day."""
    clock = datetime(2026, 3, 1, 12, tzinfo=UTC)
    monkeypatch.setattr(engram._memories, "utcnow", lambda: clock)
    ahead = Message(role="user", content="I live in Faro.", created_at=clock + timedelta(days=1))
    too_far = Message(
        role="user",
        content="I live in Braga.",
        created_at=clock + timedelta(days=1, seconds=1),
    )

    with pytest.raises(InvalidInputError, match="at most a day past now"):
        every_memory_engram.memories.add(messages=[too_far], user_id="ana")
    every_memory_engram.memories.add(messages=[ahead], user_id="ana")

    assert every_memory_engram.memories.profile("ana").fields == {"home_city": "Faro"}  # type: ignore[union-attr]
