"""`ListEncoder`: channel values serialized for Engram, list items serialized once.

Engram stores a list channel item by item (deltas of content-addressed items). LangGraph's
`add_messages` extends the state's list with the same message objects, so the encoder
remembers the last list of each `(thread, namespace, channel)`: its item objects, their
encodings and their top-level state. The next list reuses the encodings of its leading items
that are the same objects with the same top-level state, and serializes only the others:
appending a message to a 20-message list costs one message's serialization.

LangGraph state is not meant to be changed in place. An item whose attributes were reassigned
(`message.content = ...`) or whose entries changed (a dict item) is serialized again; a change
deeper inside an item already put (a tool call's arguments edited in place) is not seen.
"""

from __future__ import annotations

import operator
from typing import Any, NamedTuple

from langgraph.checkpoint.serde.base import SerializerProtocol

from engram.integrations.langgraph._msgpack import split_array
from engram.state.values import encode_value
from engram.types._checkpoint import EncodedList, EncodedValue, StoredValue

__all__ = ["ListEncoder"]

_Key = tuple[str, str, str]
_IMMUTABLE = frozenset({str, bytes, int, float, bool, type(None)})
_CONTAINERS = (dict, list)
_OPAQUE = object()
_PYDANTIC_VIEW = operator.attrgetter("__dict__", "__pydantic_extra__")


class _Encoded(NamedTuple):
    """A list as `ListEncoder` last encoded it."""

    objects: tuple[Any, ...]
    """The items (held, so comparing them with `is` is safe)."""
    snapshots: tuple[Any, ...]
    """Each item's `_snapshot` when it was serialized."""
    items: tuple[EncodedValue, ...]
    """Each item's encoding."""


class ListEncoder:
    """Serializes channel values for Engram: a list as its items' encodings (see the module).

    Args:
        serde: LangGraph's serializer; a list's items are serialized as one msgpack array
            and split (`engram.integrations.langgraph._msgpack`).
        size: How many lists to remember (all are forgotten when it is reached).
    """

    def __init__(self, serde: SerializerProtocol, size: int = 4096) -> None:
        self.serde = serde
        self.size = size
        self._last: dict[_Key, _Encoded] = {}

    def encode(self, key: _Key, value: Any) -> StoredValue:
        """The stored form of a channel value (`key`: thread id, namespace, channel)."""
        if type(value) is not list:
            return self.serde.dumps_typed(value)
        items = self._items(key, value)
        return encode_value(self.serde, value) if items is None else EncodedList(items)

    def _items(self, key: _Key, value: list[Any]) -> tuple[EncodedValue, ...] | None:
        """The items' encodings (None if they are not the items of a msgpack array)."""
        last = self._last.get(key)
        same = 0 if last is None else _unchanged(last, value)
        new = value[same:]
        encoded = self._serialize(new) if new else ()
        if encoded is None:
            return None
        snapshots = tuple([_snapshot(view) for view in _views(new)])
        if last is not None and same:
            snapshots, encoded = last.snapshots[:same] + snapshots, last.items[:same] + encoded
        if len(self._last) >= self.size and key not in self._last:
            self._last.clear()
        self._last[key] = _Encoded(tuple(value), snapshots, encoded)
        return encoded

    def _serialize(self, items: list[Any]) -> tuple[EncodedValue, ...] | None:
        """The items' encodings as items of a msgpack array (None if the serde makes none).

        A lone item (the message just appended) is serialized alone: a msgpack object's
        encoding is the same alone or in an array.
        """
        if len(items) == 1:
            tag, data = self.serde.dumps_typed(items[0])
            if tag == "msgpack":
                return (("msgpack", data),)
        tag, data = self.serde.dumps_typed(items)
        parts = split_array(data) if tag == "msgpack" else None
        return None if parts is None else tuple([("msgpack", part) for part in parts])


def _unchanged(last: _Encoded, value: list[Any]) -> int:
    """How many leading items of `value` are `last`'s objects with the same top-level state."""
    identical = list(map(operator.is_, value, last.objects))  # compared in C, like the states
    same = identical.index(False) if False in identical else len(identical)
    if not same:
        return 0
    views, snapshots = _views(value[:same]), last.snapshots[:same]
    if tuple(views) == snapshots:
        return same
    return next(i for i, (v, s) in enumerate(zip(views, snapshots, strict=True)) if v != s)


def _view(item: Any) -> Any:
    """An item's live top-level state: None for an immutable scalar (the same object is the
    same value), the item for a dict or list, else its attributes and pydantic's extra
    fields; `_OPAQUE` for an object without attributes."""
    if type(item) in _IMMUTABLE:
        return None
    if isinstance(item, _CONTAINERS):
        return item
    state = getattr(item, "__dict__", None)
    if state is None:
        return _OPAQUE
    return state, getattr(item, "__pydantic_extra__", None)


def _views(items: list[Any]) -> list[Any]:
    """`_view` of each item; for a list of pydantic models (messages), in one C-level pass."""
    try:
        return list(map(_PYDANTIC_VIEW, items))
    except AttributeError:  # not all pydantic models
        return [_view(item) for item in items]


def _snapshot(view: Any) -> Any:
    """A copy of a `_view` (holding the same values), to compare with a later view; an
    opaque item's is a fresh `object()`, equal to nothing (so it is serialized every time)."""
    if view is None:
        return None
    if view is _OPAQUE:
        return object()
    if type(view) is tuple:
        state, extra = view
        return dict(state), None if extra is None else dict(extra)
    return dict(view) if isinstance(view, dict) else list(view)
