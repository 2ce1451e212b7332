"""`ListEncoder`: a list's items serialized once, and never stale when an item changes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from engram.integrations.langgraph._encoder import ListEncoder
from engram.integrations.langgraph._msgpack import split_array
from engram.types._checkpoint import EncodedList

SERDE = JsonPlusSerializer()
KEY = ("thread", "", "messages")


def fresh(value: list[Any]) -> tuple[tuple[str, bytes], ...]:
    """The encodings of a list's items, serialized from scratch."""
    tag, data = SERDE.dumps_typed(value)
    parts = split_array(data)
    assert tag == "msgpack" and parts is not None
    return tuple(("msgpack", part) for part in parts)


def encode(encoder: ListEncoder, value: list[Any]) -> tuple[tuple[str, bytes], ...]:
    stored = encoder.encode(KEY, value)
    assert isinstance(stored, EncodedList)
    return stored.items


def message(i: int) -> BaseMessage:
    if i % 3 == 0:
        return HumanMessage(content=f"question {i}", id=f"m{i}")
    if i % 3 == 1:
        call = {"name": "search", "args": {"q": f"q{i}"}, "id": f"c{i}"}
        return AIMessage(content=f"answer {i}", id=f"m{i}", tool_calls=[call])
    return ToolMessage(content=f"result {i}", id=f"m{i}", tool_call_id=f"c{i - 1}")


def test_a_growing_list_reuses_the_encodings_of_its_items() -> None:
    encoder, messages = ListEncoder(SERDE), list[BaseMessage]()
    previous: tuple[tuple[str, bytes], ...] = ()
    for i in range(12):
        messages = [*messages, message(i)]  # what add_messages does: same objects, one more
        items = encode(encoder, messages)
        assert items == fresh(messages)
        assert all(a is b for a, b in zip(items, previous, strict=False))  # not re-serialized
        previous = items


def test_items_changed_in_place_at_the_top_level_are_serialized_again() -> None:
    encoder = ListEncoder(SERDE)
    messages = [message(i) for i in range(6)]
    encode(encoder, messages)
    messages[0].content = "edited"  # a reassigned field
    assert encode(encoder, messages) == fresh(messages)
    messages[4].tool_calls = []  # type: ignore[attr-defined]
    assert encode(encoder, messages) == fresh(messages)
    messages[2].extra_field = "x"  # type: ignore[attr-defined]  # pydantic extra field
    assert encode(encoder, messages) == fresh(messages)
    messages[3].__dict__["name"] = "raw"  # even behind pydantic's back
    assert encode(encoder, messages) == fresh(messages)


def test_replaced_removed_and_reordered_items() -> None:
    encoder = ListEncoder(SERDE)
    messages = [message(i) for i in range(6)]
    encode(encoder, messages)
    messages[2] = message(20)  # add_messages replaces a message with the same id
    assert encode(encoder, messages) == fresh(messages)
    assert encode(encoder, messages[:3]) == fresh(messages[:3])
    assert encode(encoder, messages[::-1]) == fresh(messages[::-1])
    assert encode(encoder, []) == ()


def test_lists_of_plain_values_dicts_and_lists() -> None:
    encoder = ListEncoder(SERDE)
    value: list[Any] = [1, "a", None, 2.5, True, {"k": [1]}, [1, 2], message(1)]
    assert encode(encoder, value) == fresh(value)
    value[5]["k"] = [2]  # a dict item's entry
    assert encode(encoder, value) == fresh(value)
    value[6].append(3)  # a list item's entry
    assert encode(encoder, value) == fresh(value)
    value.append({"new": True})
    assert encode(encoder, value) == fresh(value)


@dataclass(slots=True)
class Slotted:
    """An item without `__dict__`: its state cannot be snapshot cheaply."""

    value: int


def test_items_without_attributes_are_serialized_every_time() -> None:
    item = Slotted(1)
    encoder, value = ListEncoder(SERDE), [item, message(1)]
    assert encode(encoder, value) == fresh(value)
    item.value = 2
    assert encode(encoder, value) == fresh(value)


def test_a_serde_that_is_not_msgpack_encodes_item_by_item() -> None:
    serde = JsonPlusSerializer(pickle_fallback=True)
    stored = ListEncoder(serde).encode(KEY, [{1, 2}, "x"])  # a set: msgpack ext; fine
    assert isinstance(stored, EncodedList)
    assert [serde.loads_typed(item) for item in stored.items] == [{1, 2}, "x"]
    stored = ListEncoder(serde).encode(KEY, [Unpicklable()])
    assert isinstance(stored, EncodedList) and stored.items[0][0] == "pickle"


class Unpicklable:
    """Not msgpack: JsonPlusSerializer pickles it (`pickle_fallback`)."""


OPERATIONS = st.lists(
    st.tuples(st.sampled_from(["append", "edit", "replace", "drop", "extra"]), st.integers(0, 30)),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(OPERATIONS)
def test_encodings_always_match_a_fresh_serialization(operations: list[tuple[str, int]]) -> None:
    encoder, messages = ListEncoder(SERDE), [message(0)]
    for step, (operation, n) in enumerate(operations):
        index = n % len(messages) if messages else 0
        if operation == "append" or not messages:
            messages = [*messages, message(n + step)]
        elif operation == "edit":
            messages[index].content = f"edit {step}"
        elif operation == "replace":
            messages = [*messages[:index], message(n + 100), *messages[index + 1 :]]
        elif operation == "drop":
            messages = messages[:index] + messages[index + 1 :]
        else:
            messages[index].marker = step  # type: ignore[attr-defined]  # an extra field
        assert encode(encoder, messages) == fresh(messages)
