"""Splitting a msgpack array into its items' bytes, and joining items back into an array.

A msgpack array is a header followed by its items' encodings, back to back. LangGraph
serializes a `messages` list in one `dumps_typed` call; splitting the result gives each
message's bytes as if serialized alone (Engram stores lists item by item), at the cost of
walking the item boundaries, not of serializing each item separately. Joining is the
reverse, so a stored list deserializes in one call too.
"""

from __future__ import annotations

__all__ = ["array_header", "join_array", "split_array", "split_items"]

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
