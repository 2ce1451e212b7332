"""A bounded in-process cache the backends keep on their write paths."""

from __future__ import annotations

from collections import OrderedDict
from typing import TypeVar

__all__ = ["BoundedCache"]

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(OrderedDict[K, V]):
    """A bounded mapping; when full, the oldest entry goes (first in, first out).

    Reads (`get`, inherited) don't reorder entries: a hit is one C-level lookup, which
    matters on the put path.
    """

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: K, value: V) -> None:
        self[key] = value
        if len(self) > self.size:
            self.popitem(last=False)

    def discard(self, key: K) -> None:
        self.pop(key, None)
