"""Splitting a msgpack array into its items' bytes, and joining items back into an array.

A msgpack array is a header followed by its items' encodings, back to back. LangGraph
serializes a `messages` list in one `dumps_typed` call; splitting the result gives each
message's bytes as if serialized alone (Engram stores lists item by item), at the cost of
walking the item boundaries, not of serializing each item separately. Joining is the
reverse, so a stored list deserializes in one call too.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from langgraph.checkpoint.serde.base import SerializerProtocol

from engram.state.values import encode_value
from engram.types._checkpoint import EncodedList, EncodedValue, StoredValue

__all__ = ["ListEncoder", "array_header", "join_array", "split_array", "split_items"]

# Byte -> (size of the length field, extra fixed bytes) for variable-length types.
_SIZED = {
    0xC4: (1, 0), 0xC5: (2, 0), 0xC6: (4, 0),  # bin 8/16/32
    0xD9: (1, 0), 0xDA: (2, 0), 0xDB: (4, 0),  # str 8/16/32
    0xC7: (1, 1), 0xC8: (2, 1), 0xC9: (4, 1),  # ext 8/16/32 (+ type byte)
}  # fmt: skip
# Byte -> total size of fixed-size types (nil, bools, numbers, fixext).
_FIXED = {
    0xC0: 1, 0xC2: 1, 0xC3: 1,
    0xCA: 5, 0xCB: 9, 0xCC: 2, 0xCD: 3, 0xCE: 5, 0xCF: 9,
    0xD0: 2, 0xD1: 3, 0xD2: 5, 0xD3: 9,
    0xD4: 3, 0xD5: 4, 0xD6: 6, 0xD7: 10, 0xD8: 18,
}  # fmt: skip
# Byte -> (size of the count field, objects per counted entry) for arrays and maps.
_CONTAINERS = {0xDC: (2, 1), 0xDD: (4, 1), 0xDE: (2, 2), 0xDF: (4, 2)}


def _skip(data: bytes, at: int) -> int:
    """The offset just past the object starting at `at` (its nested objects included)."""
    pending = 1
    while pending:
        pending -= 1
        byte = data[at]
        if byte <= 0x7F or byte >= 0xE0:  # positive / negative fixint
            at += 1
        elif byte <= 0x8F:  # fixmap
            pending += 2 * (byte & 0x0F)
            at += 1
        elif byte <= 0x9F:  # fixarray
            pending += byte & 0x0F
            at += 1
        elif byte <= 0xBF:  # fixstr
            at += 1 + (byte & 0x1F)
        elif byte in _FIXED:
            at += _FIXED[byte]
        elif byte in _SIZED:
            width, extra = _SIZED[byte]
            at += 1 + width + extra + int.from_bytes(data[at + 1 : at + 1 + width], "big")
        elif byte in _CONTAINERS:
            width, per_entry = _CONTAINERS[byte]
            pending += per_entry * int.from_bytes(data[at + 1 : at + 1 + width], "big")
            at += 1 + width
        else:
            raise ValueError(f"not msgpack: byte {byte:#x} at {at}")
    return at


def array_header(data: bytes) -> tuple[int, int] | None:
    """`(item count, header size)` of the msgpack array `data` (None if it is not one)."""
    head = data[0] if data else 0
    if 0x90 <= head <= 0x9F:
        return head & 0x0F, 1
    if head in (0xDC, 0xDD):
        width = 2 if head == 0xDC else 4
        return int.from_bytes(data[1 : 1 + width], "big"), 1 + width
    return None


def split_items(data: bytes, at: int, count: int) -> list[bytes] | None:
    """The encodings of the `count` objects from offset `at` to the end of `data`."""
    items = []
    for _ in range(count):
        end = _skip(data, at)
        items.append(data[at:end])
        at = end
    return items if at == len(data) else None


def split_array(data: bytes) -> list[bytes] | None:
    """The encodings of the items of the msgpack array `data` (None if it is not one)."""
    header = array_header(data)
    return None if header is None else split_items(data, header[1], header[0])


def join_array(items: list[bytes]) -> bytes:
    """The msgpack array whose items are encoded as `items`."""
    count = len(items)
    if count < 16:
        head = bytes([0x90 | count])
    elif count < 1 << 16:
        head = b"\xdc" + count.to_bytes(2, "big")
    else:
        head = b"\xdd" + count.to_bytes(4, "big")
    return head + b"".join(items)


class ListEncoder:
    """Serializes channel values for Engram: lists as msgpack arrays split into their items.

    Remembers the last list it encoded per `(thread, namespace, channel)`: its item objects,
    their encodings and a snapshot of each item's top-level state (`_snapshot`). The next list
    of that channel reuses the encodings of its leading items that are the same objects with
    the same top-level state, and serializes only the rest: appending a message to a
    20-message list costs one message's serialization, not twenty (`add_messages` keeps the
    message objects of the list it extends).

    LangGraph state is not meant to be changed in place: a reassigned attribute
    (`message.content = ...`) is noticed and the item serialized again, but a change deeper
    inside an item already put (a tool call's arguments edited in place) is not.
    """

    def __init__(self, serde: SerializerProtocol, size: int = 4096) -> None:
        self.serde = serde
        self.size = size
        self._last: dict[tuple[str, str, str], _Encoded] = {}

    def encode(self, key: tuple[str, str, str], value: Any) -> StoredValue:
        """The stored form of a channel value (`key`: thread id, namespace, channel)."""
        if type(value) is list:
            items = self._items(key, value)
            if items is not None:
                return EncodedList(items)
        return encode_value(self.serde, value)

    def _items(
        self, key: tuple[str, str, str], value: list[Any]
    ) -> tuple[EncodedValue, ...] | None:
        """The items' encodings (None if the list is not a msgpack array of them)."""
        last = self._last.get(key)
        same = 0 if last is None else _unchanged(last, value)
        new = value[same:]
        tail = self._split(new) if new else ()
        if tail is None:
            return None
        snapshots = tuple([_snapshot(item) for item in new])
        if last is not None and same:
            encoded = _Encoded(
                tuple(value), last.snapshots[:same] + snapshots, last.items[:same] + tail
            )
        else:
            encoded = _Encoded(tuple(value), snapshots, tail)
        if len(self._last) >= self.size and key not in self._last:
            self._last.clear()
        self._last[key] = encoded
        return encoded.items

    def _split(self, items: list[Any]) -> tuple[EncodedValue, ...] | None:
        """The items' encodings, from one serialization of them as a msgpack array."""
        tag, data = self.serde.dumps_typed(items)
        parts = split_array(data) if tag == "msgpack" else None
        return None if parts is None else tuple([("msgpack", part) for part in parts])


class _Encoded(NamedTuple):
    """A list as `ListEncoder` last encoded it."""

    objects: tuple[Any, ...]
    """The items (held, so `is` compares them with the next list's safely)."""
    snapshots: tuple[Any, ...]
    """Each item's `_snapshot` when it was serialized."""
    items: tuple[EncodedValue, ...]
    """Each item's encoding."""


_IMMUTABLE = frozenset({str, bytes, int, float, bool, type(None)})


def _snapshot(item: Any) -> Any:
    """What an item's serialization depends on at its top level, to compare later.

    Nothing for an immutable scalar (the same object is the same value); a shallow copy of a
    dict or list; for other objects their attributes (and pydantic's extra fields); for an
    object without attributes a fresh `object()`, equal to nothing (so never reused).
    """
    kind = type(item)
    if kind in _IMMUTABLE:
        return None
    if kind is dict or kind is list:
        return kind(item)
    state = getattr(item, "__dict__", None)
    if state is None:
        return object()
    extra = getattr(item, "__pydantic_extra__", None)
    return (dict(state), dict(extra) if extra else None)


def _unchanged(last: _Encoded, value: list[Any]) -> int:
    """How many leading items of `value` are `last`'s objects, with the same snapshot."""
    objects, snapshots = last.objects, last.snapshots
    limit, same = min(len(objects), len(value)), 0
    while (
        same < limit and value[same] is objects[same] and _snapshot(value[same]) == snapshots[same]
    ):
        same += 1
    return same
