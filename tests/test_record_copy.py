"""`copy_record`, the hot paths' copy of a record: the same as `dataclasses.replace`."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engram import Message, ToolCall
from engram.types._copy import copy_record
from engram.types._memory import Memory

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
    copy = copy_record(message, **changes)
    assert copy == replace(message, **changes)
    assert type(copy) is Message
    assert message == Message(  # the original is untouched
        role="user", content="hi", id=message.id, created_at=datetime(2024, 1, 1, tzinfo=UTC)
    )


def test_an_unknown_field_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="Message has no field"):
        copy_record(Message(role="user"), colour="red")


@dataclass(frozen=True, slots=True)
class _Slotted(Message):
    tag: str = ""


@dataclass(frozen=True)
class _Loose(Message):  # its own field is not a slot
    tag: str = ""


@pytest.mark.parametrize("subclass", [_Slotted, _Loose])
def test_a_subclass_keeps_its_type_and_fields(subclass: type[_Slotted | _Loose]) -> None:
    copy = copy_record(subclass(role="user", tag="x"), seq=3)
    assert type(copy) is subclass
    assert (copy.tag, copy.seq) == ("x", 3)


def test_a_memory_copy_equals_dataclasses_replace() -> None:
    memory = Memory(tenant="t", id="m1", user_id="u1", kind="fact", text="likes tea")
    at = datetime(2024, 1, 2, tzinfo=UTC)
    copy = copy_record(memory, access_count=4, last_accessed_at=at)
    assert copy == replace(memory, access_count=4, last_accessed_at=at)
    assert (memory.access_count, memory.last_accessed_at) == (0, None)
