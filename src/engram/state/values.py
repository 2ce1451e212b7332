"""How channel values are stored: scalars whole, lists as content-addressed items with deltas.

Pure functions, shared by every checkpointer backend.

A channel version is stored as one `ValueRow`:

- `SCALAR`: the serialized value, inline.
- `LIST`: a list snapshot: the packed 16-byte hashes of its items. Each item is stored once
  per thread as a blob keyed by its hash, however many versions contain it.
- `DELTA`: a list written relative to an earlier version of the same channel (its `base`):
  `base_items[start:stop] + appended`. Appending a message to a 20-message list stores one
  hash and one blob, not 20 items. A delta chain is at most `snapshot_every` rows long, so
  rebuilding a list reads a bounded number of rows.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

from engram._exceptions import BackendError
from engram.serde import SerializerProtocol
from engram.types._checkpoint import EncodedList, EncodedValue, StoredValue

__all__ = [
    "DELTA",
    "HASH_SIZE",
    "LIST",
    "SCALAR",
    "ListState",
    "ValueRow",
    "assemble",
    "blob_hashes",
    "content_hash",
    "content_version",
    "decode_value",
    "diff_list",
    "encode_value",
    "pack_hashes",
    "plan_value_row",
    "resolve_hashes",
    "unpack_hashes",
]

SCALAR, LIST, DELTA = 0, 1, 2
HASH_SIZE = 16


class ValueRow(NamedTuple):
    """One stored channel version (see the module docstring)."""

    kind: int
    """`SCALAR`, `LIST` or `DELTA`."""
    type: str | None
    """The scalar's type tag (None for lists)."""
    data: bytes
    """The scalar's bytes, the list's packed item hashes, or the delta's appended hashes."""
    base: str | None = None
    """A delta's base version (the version's string form)."""
    start: int = 0
    """A delta keeps `base_items[start:stop]`..."""
    stop: int = 0
    """...then appends the hashes in `data`."""
    depth: int = 0
    """Deltas between this row and its snapshot (0 for snapshots)."""


class ListState(NamedTuple):
    """A list version's resolved item hashes: what a later delta is computed against."""

    version: str
    hashes: tuple[bytes, ...]
    depth: int
    items: tuple[EncodedValue, ...] = ()
    """The items themselves, when known (a version written by this process): a later version
    starting with the same items reuses their hashes instead of hashing them again."""


def encode_value(serde: SerializerProtocol, value: Any) -> StoredValue:
    """Serialize a channel value: lists item by item (so they can be stored as deltas)."""
    if type(value) is list:
        return EncodedList(tuple(serde.dumps_typed(item) for item in value))
    return serde.dumps_typed(value)


def decode_value(serde: SerializerProtocol, stored: StoredValue) -> Any:
    """Deserialize what `encode_value` made."""
    if isinstance(stored, EncodedList):
        return [serde.loads_typed(item) for item in stored.items]
    return serde.loads_typed(stored)


def content_hash(item: EncodedValue) -> bytes:
    """The 16-byte content hash of a serialized item."""
    tag, data = item
    digest = hashlib.blake2b(tag.encode(), digest_size=HASH_SIZE)
    digest.update(b"\0")
    digest.update(data)
    return digest.digest()


def content_version(value: StoredValue) -> str:
    """A version string derived from the content (for writers without their own versions)."""
    digest = hashlib.blake2b(digest_size=12)
    items = value.items if isinstance(value, EncodedList) else (value,)
    digest.update(b"L" if isinstance(value, EncodedList) else b"S")
    for tag, data in items:
        digest.update(b"%d:%s:%d:" % (len(tag), tag.encode(), len(data)))
        digest.update(data)
    return base64.urlsafe_b64encode(digest.digest()).decode()


def pack_hashes(hashes: Iterable[bytes]) -> bytes:
    return b"".join(hashes)


def unpack_hashes(packed: bytes) -> tuple[bytes, ...]:
    return tuple(packed[i : i + HASH_SIZE] for i in range(0, len(packed), HASH_SIZE))


def diff_list(
    base: tuple[bytes, ...], new: tuple[bytes, ...]
) -> tuple[int, int, tuple[bytes, ...]] | None:
    """Express `new` as `base[start:stop] + appended`; None if it shares no run with `base`.

    Finds the longest run of `base` that `new` starts with: covers appends, windows that
    drop the oldest items, truncation and replacing the last items.
    """
    if not base or not new:
        return None
    best_start, best_run = 0, 0
    for start, item in enumerate(base):
        if item != new[0]:
            continue
        run = 1
        while run < len(new) and start + run < len(base) and base[start + run] == new[run]:
            run += 1
        if run > best_run:
            best_start, best_run = start, run
    if best_run == 0:
        return None
    return best_start, best_start + best_run, new[best_run:]


def plan_value_row(
    version: str,
    value: StoredValue,
    base: ListState | None,
    snapshot_every: int,
) -> tuple[ValueRow, dict[bytes, EncodedValue], ListState | None]:
    """Plan how to store one channel version.

    Args:
        version: The version's string form.
        value: The serialized value.
        base: The resolved earlier version of the channel to diff a list against, if any.
        snapshot_every: The longest delta chain allowed before a full snapshot.

    Returns:
        The row, the blobs it needs (hash -> item) and, for lists, the new `ListState`.
    """
    if not isinstance(value, EncodedList):
        return ValueRow(SCALAR, value[0], value[1]), {}, None
    grown = _appended(version, value.items, base, snapshot_every)
    if grown is not None:
        return grown
    same = _shared_prefix(value.items, base)
    if base is not None and same:
        hashes = base.hashes[:same] + tuple(content_hash(item) for item in value.items[same:])
    else:
        hashes = tuple(content_hash(item) for item in value.items)
    if base is not None and base.version != version and base.depth + 1 < snapshot_every:
        # A list that kept all of a base read back (hashes only) and grew needs no search.
        appended = same == len(base.hashes) and len(hashes) >= same
        delta = (0, same, hashes[same:]) if appended else diff_list(base.hashes, hashes)
        if delta is not None:
            start, stop, added = delta
            depth = base.depth + 1
            row = ValueRow(DELTA, None, pack_hashes(added), base.version, start, stop, depth)
            tail = len(hashes) - len(added)
            needed = dict(zip(hashes[tail:], value.items[tail:], strict=True))
            return row, needed, ListState(version, hashes, depth, value.items)
    state = ListState(version, hashes, 0, value.items)
    blobs = dict(zip(hashes, value.items, strict=True))
    return ValueRow(LIST, None, pack_hashes(hashes)), blobs, state


def _appended(
    version: str, items: tuple[EncodedValue, ...], base: ListState | None, snapshot_every: int
) -> tuple[ValueRow, dict[bytes, EncodedValue], ListState] | None:
    """The plan of the common case, a list that kept every item of its base (known to this
    process) and grew: a delta of the new items' hashes. None for any other case."""
    if base is None or not base.items or base.version == version:
        return None
    known, depth = len(base.items), base.depth + 1
    if len(items) <= known or depth >= snapshot_every or items[:known] != base.items:
        return None
    new = items[known:]
    added = tuple([content_hash(item) for item in new])
    row = ValueRow(DELTA, None, b"".join(added), base.version, 0, known, depth)
    return (
        row,
        dict(zip(added, new, strict=True)),
        ListState(version, base.hashes + added, depth, items),
    )


def _shared_prefix(items: tuple[EncodedValue, ...], base: ListState | None) -> int:
    """How many leading items equal the base's (known when this process wrote the base)."""
    if base is None or not base.items:
        return 0
    if base.items == items[: len(base.items)]:  # kept every item (compared in C)
        return len(base.items)
    same, limit = 0, min(len(items), len(base.items))
    while same < limit and items[same] == base.items[same]:
        same += 1
    return same


def resolve_hashes(version: str, fetch: Callable[[str], ValueRow | None]) -> tuple[bytes, ...]:
    """The item hashes of a list version, following its delta chain via `fetch`.

    Raises:
        BackendError: A row of the chain is missing (the store is corrupt).
    """
    chain: list[ValueRow] = []
    current: str | None = version
    while current is not None:
        row = fetch(current)
        if row is None or row.kind == SCALAR:
            raise BackendError(f"checkpoint value {current!r} is missing or not a list")
        chain.append(row)
        current = row.base if row.kind == DELTA else None
    packed = chain[-1].data  # applied to the packed hashes, split once at the end
    for row in reversed(chain[:-1]):
        packed = packed[row.start * HASH_SIZE : row.stop * HASH_SIZE] + row.data
    return unpack_hashes(packed)


def blob_hashes(rows: Iterable[ValueRow]) -> Iterator[bytes]:
    """The blob hashes rows reference directly (deltas reach the rest through their bases)."""
    for row in rows:
        if row.kind != SCALAR:
            yield from unpack_hashes(row.data)


def assemble(
    row: ValueRow,
    hashes: tuple[bytes, ...] | None,
    blobs: Mapping[bytes, EncodedValue],
) -> StoredValue:
    """Build the stored value of a row from its resolved hashes and the blobs."""
    if row.kind == SCALAR:
        return (row.type or "", row.data)
    try:
        return EncodedList(tuple(blobs[digest] for digest in hashes or ()))
    except KeyError as exc:
        raise BackendError("checkpoint list item is missing from the store") from exc
