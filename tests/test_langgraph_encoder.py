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


def test_messages_edited_in_place_at_any_depth_are_serialized_again() -> None:
    """The human-in-the-loop edit: a tool call's arguments changed on the message itself."""
    encoder = ListEncoder(SERDE)
    messages = [message(i) for i in range(6)]
    encode(encoder, messages)
    ai = messages[1]
    assert isinstance(ai, AIMessage)
    ai.tool_calls.append({"name": "send", "args": {"to": "a"}, "id": "c9", "type": "tool_call"})
    assert encode(encoder, messages) == fresh(messages)  # depth 1: an attribute's list
    ai.tool_calls[0]["id"] = "c-edited"
    assert encode(encoder, messages) == fresh(messages)  # depth 2: a tool call
    ai.tool_calls[1]["args"]["to"] = "right@x.com"
    assert encode(encoder, messages) == fresh(messages)  # depth 3: its arguments
    ai.additional_kwargs["meta"] = {"tags": ["a"]}
    encode(encoder, messages)
    ai.additional_kwargs["meta"]["tags"].append("b")
    assert encode(encoder, messages) == fresh(messages)  # depth 4
    ai.response_metadata["usage"] = {"tokens": 1}
    encode(encoder, messages)
    ai.response_metadata["usage"]["tokens"] = True  # equal to 1, serialized otherwise
    assert encode(encoder, messages) == fresh(messages)
    decoded = SERDE.loads_typed(("msgpack", encode(encoder, messages)[1][1]))
    assert decoded.tool_calls[1]["args"] == {"to": "right@x.com"}


def test_dicts_in_a_list_edited_at_any_depth_are_serialized_again() -> None:
    encoder = ListEncoder(SERDE)
    todos: list[Any] = [{"title": "a", "meta": {"done": False, "tags": ["x"]}}, {"title": "b"}]
    encode(encoder, todos)
    todos[0]["title"] = "A"
    assert encode(encoder, todos) == fresh(todos)  # depth 1
    todos[0]["meta"]["done"] = True
    assert encode(encoder, todos) == fresh(todos)  # depth 2
    todos[0]["meta"]["tags"][0] = "y"
    assert encode(encoder, todos) == fresh(todos)  # depth 3
    todos[0]["meta"]["tags"].append(1)
    assert encode(encoder, todos) == fresh(todos)
    todos[0]["meta"]["tags"][1] = 1.0  # equal to 1, serialized otherwise
    assert encode(encoder, todos) == fresh(todos)
    todos[0]["meta"]["renamed"] = todos[0]["meta"].pop("done")  # same value, another key
    assert encode(encoder, todos) == fresh(todos)


def test_nested_lists_edited_at_any_depth_are_serialized_again() -> None:
    encoder = ListEncoder(SERDE)
    value: list[Any] = [[1, [2, [3]]], "tail"]
    encode(encoder, value)
    value[0].append(4)
    assert encode(encoder, value) == fresh(value)  # depth 1
    value[0][1].append(5)
    assert encode(encoder, value) == fresh(value)  # depth 2
    value[0][1][1][0] = 9
    assert encode(encoder, value) == fresh(value)  # depth 3
    value[0][1][1][0] = [9]  # a value by a list of it
    assert encode(encoder, value) == fresh(value)
    value[0][1][1][0] = (9,)  # a list by a tuple of the same items
    assert encode(encoder, value) == fresh(value)


@dataclass
class Note:
    """A dataclass item: its state is its `__dict__`."""

    text: str
    refs: list[Any]


def test_objects_inside_items_edited_in_place_are_serialized_again() -> None:
    encoder = ListEncoder(SERDE)
    value: list[Any] = [{"note": Note("n", [message(1)])}, Note("m", [])]
    encode(encoder, value)
    value[0]["note"].refs[0].tool_calls[0]["args"]["q"] = "edited"  # depth 6
    assert encode(encoder, value) == fresh(value)
    value[1].refs.append({"k": 1})
    assert encode(encoder, value) == fresh(value)
    value[1].refs[0]["k"] = 2
    assert encode(encoder, value) == fresh(value)


def test_items_without_a_fingerprint_are_serialized_every_time() -> None:
    encoder = ListEncoder(SERDE)
    value: list[Any] = [{"s": {1, 2}}, {1: ["int key"]}, message(1)]
    assert encode(encoder, value) == fresh(value)
    value[0]["s"].add(3)  # a set: no readable state
    assert encode(encoder, value) == fresh(value)
    value[1][1].append("x")  # a dict with a key that is not a str
    assert encode(encoder, value) == fresh(value)


class EditingSerde(JsonPlusSerializer):
    """Edits the first item's arguments right after serializing: the way a node edits the
    state while LangGraph's "async" durability puts the previous checkpoint."""

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        typed = super().dumps_typed(obj)
        if isinstance(obj, list) and obj and isinstance(obj[0], AIMessage):
            obj[0].tool_calls[0]["args"]["q"] = "edited meanwhile"
        return typed


def test_an_edit_made_while_serializing_is_serialized_next_time() -> None:
    encoder = ListEncoder(EditingSerde())
    messages = [message(1), message(2)]
    encode(encoder, messages)
    assert encode(encoder, messages) == fresh(messages)


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


def test_a_list_once_pickled_is_checked_again_once_it_is_msgpack() -> None:
    serde = JsonPlusSerializer(pickle_fallback=True)
    encoder, ai = ListEncoder(serde), message(1)
    stored = encoder.encode(KEY, [ai, Unpicklable()])  # no msgpack array: item by item
    assert isinstance(stored, EncodedList) and stored.items[1][0] == "pickle"
    for edit in ("first", "second"):
        stored = encoder.encode(KEY, [ai])
        assert isinstance(stored, EncodedList) and stored.items == fresh([ai])
        ai.tool_calls[0]["args"]["q"] = edit


SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats() | st.text()
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


def containers(value: Any) -> list[Any]:
    """Every dict and list inside `value` (itself included)."""
    found, pending = [], [value]
    while pending:
        node = pending.pop()
        if isinstance(node, dict | list):
            found.append(node)
            pending.extend(node.values() if isinstance(node, dict) else node)
    return found


@settings(max_examples=100, deadline=None)
@given(st.lists(JSON, min_size=1, max_size=4), st.data())
def test_plain_items_edited_anywhere_always_match_a_fresh_serialization(
    value: list[Any], data: st.DataObject
) -> None:
    encoder = ListEncoder(SERDE)
    assert encode(encoder, value) == fresh(value)
    for _ in range(data.draw(st.integers(1, 6))):
        target = data.draw(st.sampled_from(containers(value)))
        new = data.draw(JSON)
        if isinstance(target, dict):
            target[data.draw(st.text(max_size=2))] = new
        elif target and data.draw(st.booleans()):
            target[data.draw(st.integers(0, len(target) - 1))] = new
        else:
            target.append(new)
        assert encode(encoder, value) == fresh(value)


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
