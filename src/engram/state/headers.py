"""The checkpoint header codec shared by the SQLite and PostgreSQL checkpointers (pure).

A header holds what a checkpoint row needs besides its ids: the version of every channel,
the writer's opaque `extra` (LangGraph's checkpoint header) and the small scalar values kept
inline (up to `INLINE_MAX` bytes each). Stored compressed with zstd against the thread's
dictionary (consecutive headers of a thread differ in a few versions, so a ~500-byte LangGraph
header takes ~200 bytes). Headers written before zstd were deflated; they are still read.

The dictionary (`thread_dictionary`) is the thread's first header with every value left out:
its channel names and versions, the names and tags of its inline values (not their bytes: even
a value's keys may be data), and the shape of the writer's `extra` (the maps, arrays and keys
of msgpack or JSON, texts naming channels or versions; LangGraph's extra holds node and
channel names, versions and the checkpoint's time, no values). A dictionary outlives the
checkpoints it was made from (retention keeps it, forks copy it), so it must hold nothing a
deletion erases. Threads written before held their first header whole: migration 2 of the
checkpoints schema gives each a clean one, its headers re-packed (`cleaned_dictionary`), and
the checkpointers do too when they prune, delete runs, fork or copy (a thread written by an
older process still running).
"""

from __future__ import annotations

import functools
import json
import operator
import struct
import threading
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import zstandard

from engram._exceptions import BackendError
from engram.state.checkpoints import dumps_json
from engram.types._checkpoint import ChannelVersion, ChannelWrite, EncodedValue

__all__ = [
    "INLINE_MAX",
    "Header",
    "HeaderPacker",
    "cleaned_dictionary",
    "header_packer",
    "metadata_json",
    "pack_header",
    "plain_header",
    "repack_header",
    "split_inline",
    "thread_dictionary",
    "unpack_header",
]

_NO_EXTRA = 0xFFFF
_ZSTD = b"\x02"  # the format byte of a header compressed with zstd (b"\x00": stored as is)
_ZSTD_LEVEL = -5  # zstd's fast levels: 3x faster than deflate here, 15% larger headers
_DEFLATE = b"\x01"  # headers of files written before zstd (read only)
_WBITS = -10  # their raw deflate window
_SIZES = struct.Struct("<IHI")
_KINDS: dict[type, str] = {str: "s", int: "i", float: "f"}
_PARSE: dict[str, Any] = {"s": str, "i": int, "f": float}
_ENTRY = struct.Struct("<HHI")

INLINE_MAX = 128
"""Scalar values up to this many bytes are kept in the header of each checkpoint holding
them (no value row, no extra lookup); larger ones and lists get value rows."""


class Header(NamedTuple):
    """What a checkpoint row's `header` holds.

    Stored as a format byte and, deflated against the thread's `zdict`: the sizes of the
    parts, the version map (`_versions_text`), the extra, and one length-prefixed entry per
    inline value.
    """

    versions: dict[str, ChannelVersion]
    """The version of each channel."""
    extra: EncodedValue | None
    """The writer's opaque data (LangGraph's checkpoint header)."""
    inline: dict[str, EncodedValue]
    """The small scalar values of the checkpoint, by channel."""


def plain_header(
    versions: Mapping[str, ChannelVersion],
    extra: EncodedValue | None,
    inline: Mapping[str, EncodedValue],
) -> bytes:
    """A checkpoint header, uncompressed: sizes, versions, extra, inline values."""
    encoded = _versions_text(versions).encode()
    tag, data = (b"", b"") if extra is None else (extra[0].encode(), extra[1])
    entries = b"".join([_entry(channel, *value) for channel, value in inline.items()])
    sizes = _SIZES.pack(len(encoded), _NO_EXTRA if extra is None else len(tag), len(entries))
    return b"".join((sizes, encoded, tag, data, entries))


@functools.lru_cache(maxsize=8192)
def _entry(channel: str, tag: str, data: bytes) -> bytes:
    # Cached: the small values a checkpoint carries over from its parent repeat put after put.
    name, kind = channel.encode(), tag.encode()
    return _ENTRY.pack(len(name), len(kind), len(data)) + name + kind + data


def _versions_text(versions: Mapping[str, ChannelVersion]) -> str:
    """A version map as text: `FS channel US value RS ...` when every version is a string
    (LangGraph's), else `GS channel US kind value RS ...`, else (a name needs escaping) JSON."""
    try:  # joined in C: one string per put and channel adds up
        pairs: Iterable[tuple[str, str]] = versions.items()  # type: ignore[assignment]
        text, prefix = "\x1e".join(map("\x1f".join, pairs)), "\x1c"
    except TypeError:  # a version (or name) that is not a string
        try:  # str() of an int, float or str is what `_PARSE` reads back
            parts = [f"{c}\x1f{_KINDS[type(v)]}{v}" for c, v in versions.items()]
        except KeyError:  # another type of version
            return dumps_json(versions)
        text, prefix = "\x1e".join(parts), "\x1d"
    count = len(versions)
    if text.count("\x1f") != count or text.count("\x1e") != max(count - 1, 0):
        return dumps_json(versions)
    return prefix + text


_split_unit = operator.methodcaller("partition", "\x1f")


def _parse_versions(text: str) -> dict[str, ChannelVersion]:
    if text.startswith("\x1c"):
        parts = text[1:].split("\x1e") if len(text) > 1 else ()
        return {channel: version for channel, _, version in map(_split_unit, parts)}
    if not text.startswith("\x1d"):
        parsed: dict[str, ChannelVersion] = json.loads(text)
        return parsed
    versions: dict[str, ChannelVersion] = {}
    for part in text[1:].split("\x1e") if len(text) > 1 else ():
        channel, _, value = part.partition("\x1f")
        versions[channel] = _PARSE[value[0]](value[1:])
    return versions


def thread_dictionary(plain: bytes) -> bytes:
    """The dictionary of a thread whose first header is `plain`: that header with its values
    left out (see the module docstring). Also cleans an old dictionary (a whole header).

    A header that cannot be parsed gives an empty dictionary (headers still compress).
    """
    try:
        header = _parse_plain(plain)
    except (struct.error, ValueError, LookupError):  # UnicodeDecodeError is a ValueError
        return b""
    structure = {str(name).encode() for item in header.versions.items() for name in item}
    extra = header.extra and (header.extra[0], _shape(*header.extra, structure))
    names = {channel: (tag, b"") for channel, (tag, _) in header.inline.items()}
    return plain_header(header.versions, extra, names)


def cleaned_dictionary(zdict: bytes | None) -> tuple[bytes | None, Callable[[bytes], bytes]]:
    """A thread's dictionary holding no values, and what turns a header stored against
    `zdict` into one stored against it: `zdict` itself (headers unchanged) if it holds none,
    else (a whole first header, as written before `thread_dictionary`) its clean one."""
    clean = None if zdict is None else thread_dictionary(zdict)
    if clean == zdict:
        return zdict, _unchanged
    packer = HeaderPacker(clean or b"")
    return clean, functools.partial(repack_header, zdict=zdict, packer=packer)


def _unchanged(stored: bytes) -> bytes:
    return stored


def repack_header(stored: bytes, zdict: bytes | None, packer: HeaderPacker) -> bytes:
    """A stored header (compressed against `zdict`) compressed by `packer` instead."""
    header = unpack_header(stored, zdict)
    return packer.pack(plain_header(header.versions, header.extra, header.inline))


def _shape(tag: str, data: bytes, structure: set[bytes]) -> bytes:
    """The shape of an encoded extra (see `_msgpack_shape`, `_json_shape`); nothing of one of
    another encoding."""
    try:
        if tag == "msgpack":
            return _msgpack_shape(data, structure)
        if tag == "json":
            return _json_shape(data, structure)
    except (IndexError, ValueError, RecursionError):  # not what its tag says
        pass
    return b""


def _json_shape(data: bytes, structure: set[bytes]) -> bytes:
    """`data` (JSON text) with its objects, arrays and keys kept, and of its other items only
    texts in `structure` (the header's channel names and versions): every other one null."""

    def shape(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: shape(item) for key, item in value.items()}
        if isinstance(value, list):
            return [shape(item) for item in value]
        return value if isinstance(value, str) and value.encode() in structure else None

    return json.dumps(shape(json.loads(data)), ensure_ascii=False, separators=(",", ":")).encode()


# msgpack: byte -> (size of the length field, bytes between it and the data) of str, bin, ext
_MSGPACK_SIZED = {
    0xC4: (1, 0), 0xC5: (2, 0), 0xC6: (4, 0), 0xD9: (1, 0), 0xDA: (2, 0), 0xDB: (4, 0),
    0xC7: (1, 1), 0xC8: (2, 1), 0xC9: (4, 1),
}  # fmt: skip
# byte -> total size of nil, bools, numbers and fixext
_MSGPACK_FIXED = {
    0xC0: 1, 0xC2: 1, 0xC3: 1, 0xCA: 5, 0xCB: 9, 0xCC: 2, 0xCD: 3, 0xCE: 5, 0xCF: 9,
    0xD0: 2, 0xD1: 3, 0xD2: 5, 0xD3: 9, 0xD4: 3, 0xD5: 4, 0xD6: 6, 0xD7: 10, 0xD8: 18,
}  # fmt: skip
_MSGPACK_TEXT = (0xD9, 0xDA, 0xDB)
_NIL = 0xC0
_TS_KEY = b"\xa2ts"  # LangGraph's checkpoint time, a key of its header (msgpack)


def _msgpack_shape(data: bytes, structure: set[bytes]) -> bytes:
    """`data` (one msgpack object) with its maps, arrays and text keys kept, and of its other
    items only texts in `structure` (the header's channel names and versions) and the text
    of the top-level key `ts` (LangGraph's: the time of the thread's first checkpoint, which
    the thread row keeps too): every other item (text, numbers, binaries, extension types)
    is nil."""
    shape = bytearray()
    items = [0]  # the depth of each item still to read, last first; negative for a map key
    key = b""  # the last top-level key
    at = 0
    while items:
        depth = items.pop()
        byte = data[at]
        if 0x80 <= byte <= 0x9F or 0xDC <= byte <= 0xDF:  # a map or an array
            width = 0 if byte <= 0x9F else 2 if byte in (0xDC, 0xDE) else 4
            count = byte & 0x0F if byte <= 0x9F else _size(data, at, width)
            if count > len(data) - at:  # each item takes a byte at least
                raise ValueError("truncated msgpack")
            shape += data[at : at + 1 + width]
            at += 1 + width
            inner = abs(depth) + 1
            items += [inner, -inner] * count if byte <= 0x8F or byte >= 0xDE else [inner] * count
            continue
        start = at + 1  # where a text's characters start
        if byte <= 0x7F or byte >= 0xE0:  # fixint
            end = at + 1
        elif byte <= 0xBF:  # fixstr
            end = at + 1 + (byte & 0x1F)
        elif byte in _MSGPACK_FIXED:
            end = at + _MSGPACK_FIXED[byte]
        elif byte in _MSGPACK_SIZED:
            width, between = _MSGPACK_SIZED[byte]
            start = at + 1 + width + between
            end = start + _size(data, at, width)
        else:
            raise ValueError(f"not msgpack: byte {byte:#x} at {at}")
        if end > len(data):
            raise ValueError("truncated msgpack")
        text = 0xA0 <= byte <= 0xBF or byte in _MSGPACK_TEXT
        if depth == -1:
            key = data[at:end]
        kept = depth < 0 or data[start:end] in structure or (depth == 1 and key == _TS_KEY)
        shape += data[at:end] if text and kept else bytes([_NIL])
        at = end
    if at != len(data):
        raise ValueError("not one msgpack object")
    return bytes(shape)


def _size(data: bytes, at: int, width: int) -> int:
    """The big-endian length or count of `width` bytes after the type byte at `at`."""
    if at + 1 + width > len(data):
        raise ValueError("truncated msgpack")
    return int.from_bytes(data[at + 1 : at + 1 + width], "big")


class HeaderPacker:
    """Compresses a thread's headers against its dictionary (`thread_dictionary`).

    The prepared dictionary is shared; zstd contexts are not thread-safe, so each OS thread
    gets its own.
    """

    def __init__(self, zdict: bytes) -> None:
        self._dictionary = zstandard.ZstdCompressionDict(
            zdict, dict_type=zstandard.DICT_TYPE_RAWCONTENT
        )
        self._dictionary.precompute_compress(level=_ZSTD_LEVEL)
        self._local = threading.local()

    def pack(self, plain: bytes) -> bytes:
        """A header as stored: the format byte and the compressed frame."""
        compressor = getattr(self._local, "compressor", None)
        if compressor is None:
            compressor = self._local.compressor = zstandard.ZstdCompressor(
                level=_ZSTD_LEVEL,
                dict_data=self._dictionary,
                write_checksum=False,
                write_content_size=True,
                write_dict_id=False,
            )
        packed: bytes = compressor.compress(plain)
        return _ZSTD + packed


class _HeaderUnpacker:
    """Decompresses headers compressed against one dictionary (a context per OS thread)."""

    def __init__(self, zdict: bytes) -> None:
        self._dictionary = zstandard.ZstdCompressionDict(
            zdict, dict_type=zstandard.DICT_TYPE_RAWCONTENT
        )
        self._local = threading.local()

    def unpack(self, packed: bytes) -> bytes:
        decompressor = getattr(self._local, "decompressor", None)
        if decompressor is None:
            decompressor = zstandard.ZstdDecompressor(dict_data=self._dictionary)
            self._local.decompressor = decompressor
        plain: bytes = decompressor.decompress(packed)
        return plain


@functools.lru_cache(maxsize=1024)
def _unpacker(zdict: bytes) -> _HeaderUnpacker:
    return _HeaderUnpacker(zdict)


def header_packer(zdict: bytes) -> HeaderPacker:
    """The packer of a thread's headers, primed with its dictionary; see `pack_header`."""
    return HeaderPacker(zdict)


def pack_header(plain: bytes, packer: HeaderPacker) -> bytes:
    """A header as stored, compressed by the thread's `header_packer`."""
    return packer.pack(plain)


def unpack_header(stored: bytes, zdict: bytes | None) -> Header:
    """The parts of a stored header."""
    try:
        form = stored[:1]
        if form == _ZSTD:
            plain = _unpacker(bytes(zdict or b"")).unpack(stored[1:])
        elif form == _DEFLATE:
            unpacker = zlib.decompressobj(_WBITS, zdict or b"")
            plain = unpacker.decompress(stored[1:]) + unpacker.flush()
        else:
            plain = bytes(stored[1:])
        return _parse_plain(plain)
    except (zstandard.ZstdError, zlib.error, struct.error) as exc:
        raise BackendError(f"corrupt checkpoint header: {exc}") from exc


def _parse_plain(plain: bytes) -> Header:
    """The parts of an uncompressed header (`plain_header`)."""
    size, tag_size, entries_size = _SIZES.unpack_from(plain)
    at = _SIZES.size + size
    versions = _parse_versions(plain[_SIZES.size : at].decode())
    extra = None
    if tag_size != _NO_EXTRA:
        data_size = len(plain) - at - tag_size - entries_size
        tag = plain[at : at + tag_size].decode()
        extra = (tag, plain[at + tag_size : at + tag_size + data_size])
        at += tag_size + data_size
    return Header(versions, extra, _inline(plain, at))


def _inline(plain: bytes, at: int) -> dict[str, EncodedValue]:
    inline: dict[str, EncodedValue] = {}
    while at < len(plain):
        name_size, tag_size, data_size = _ENTRY.unpack_from(plain, at)
        at += _ENTRY.size
        name = plain[at : at + name_size].decode()
        tag = plain[at + name_size : at + name_size + tag_size].decode()
        at += name_size + tag_size
        inline[name] = (tag, plain[at : at + data_size])
        at += data_size
    return inline


def _not_json(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON")


def _json_encoder() -> Any:
    """json's C encoder with `dumps_json`'s settings, without circular-reference markers (so
    it keeps no state between calls; a cycle ends in RecursionError); None without one."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    separators_and_flags = (":", ",", False, False, False)  # sort_keys, skipkeys, allow_nan
    return make(None, _not_json, json.encoder.encode_basestring, None, *separators_and_flags)


_ENCODE_JSON = _json_encoder()


def metadata_json(metadata: Mapping[str, Any]) -> str:
    """`dumps_json(metadata)`, by json's C encoder called directly: `JSONEncoder.encode`'s
    per-call setup costs more than encoding LangGraph's few metadata keys, once per put."""
    if _ENCODE_JSON is None or type(metadata) is not dict:
        return dumps_json(metadata)
    try:
        text = "".join(_ENCODE_JSON(metadata, 0))
        text.encode()  # lone surrogates are not text
    except (TypeError, ValueError, RecursionError):
        return dumps_json(metadata)  # raises InvalidInputError, saying what is wrong
    return text


_ABSENT = object()


def split_inline(
    writes: Sequence[ChannelWrite],
    versions: Mapping[str, ChannelVersion],
    parent: Header | None,
) -> tuple[dict[str, EncodedValue], list[ChannelWrite]]:
    """A put's values kept inline in its header (small new scalars, and the `parent`'s small
    values the checkpoint still holds at the same version), and the writes needing value rows.

    Args:
        writes: The put's written channels.
        versions: The checkpoint's version of every channel.
        parent: The parent's header, if there is a parent.
    """
    inline: dict[str, EncodedValue] = {}
    stored: list[ChannelWrite] = []
    limit = INLINE_MAX
    for write in writes:
        channel, _, value = write
        if isinstance(value, tuple) and len(value[1]) <= limit:
            inline[channel] = value
        else:
            stored.append(write)
    if parent is not None and parent.inline:
        parent_versions = parent.versions
        for channel, value in parent.inline.items():
            if channel not in inline and versions.get(channel, _ABSENT) == parent_versions[channel]:
                inline[channel] = value
    return inline, stored
