"""`copy_message`, the write path's copy of a `Message`: the same as `dataclasses.replace`."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engram import Message, ToolCall
from engram.types._conversation import copy_message

CHANGES: dict[str, st.SearchStrategy[Any]] = {
    "role": st.sampled_from(["system", "user", "assistant", "tool"]),
    "content": st.text(max_size=20),
    "name": st.none() | st.text(max_size=5),
    "tool_calls": st.lists(
        st.builds(ToolCall, id=st.text(min_size=1, max_size=5), name=st.just("f")), max_size=2
    ).map(tuple),
    "tool_call_id": st.none() | st.text(max_size=5),
    "metadata": st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    "id": st.text(min_size=1, max_size=8),
    "created_at": st.datetimes(timezones=st.just(UTC)),
    "session_id": st.none() | st.text(max_size=5),
    "seq": st.none() | st.integers(min_value=1),
    "tokens": st.none() | st.integers(min_value=0),
    "encoding": st.none() | st.sampled_from(["o200k_base", "cl100k_base"]),
}


def test_every_field_of_message_can_change() -> None:
    assert {f.name for f in fields(Message)} == set(CHANGES)


@given(st.fixed_dictionaries({}, optional=CHANGES))
def test_a_copy_equals_dataclasses_replace(changes: dict[str, Any]) -> None:
    message = Message(role="user", content="hi", created_at=datetime(2024, 1, 1, tzinfo=UTC))
    copy = copy_message(message, **changes)
    assert copy == replace(message, **changes)
    assert type(copy) is Message
    assert message == Message(  # the original is untouched
        role="user", content="hi", id=message.id, created_at=datetime(2024, 1, 1, tzinfo=UTC)
    )


def test_an_unknown_field_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="no field"):
        copy_message(Message(role="user"), colour="red")


def test_a_subclass_keeps_its_type_and_fields() -> None:
    @dataclass(frozen=True, slots=True)
    class Tagged(Message):
        tag: str = ""

    copy = copy_message(Tagged(role="user", tag="x"), seq=3)
    assert isinstance(copy, Tagged)
    assert (copy.tag, copy.seq) == ("x", 3)
