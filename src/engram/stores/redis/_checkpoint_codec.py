"""Key layout, record encoding and Lua scripts of the Redis checkpointer (pure, no I/O).

Per thread (`cp:{tenant}:{thread}`, escaped as in `base.py`):

| key    | type   | holds                                                                 |
|--------|--------|-----------------------------------------------------------------------|
| (base) | string | the thread record as JSON: incarnation id, creation time, retention, TTL |
| `:x`   | zset   | checkpoint members `{namespace}:{id}`, all scores 0 (ordered by `ZRANGEBYLEX`) |
| `:c`   | hash   | member -> checkpoint header (parent, seq, time, metadata, versions, extra) |
| `:v`   | hash   | `{namespace}:{channel}:{version}` -> a stored channel version (`ValueRow`) |
| `:b`   | hash   | 16-byte content hash -> list item (once per thread, shared by versions) |
| `:w`   | hash   | member -> the checkpoint's pending writes                             |

Per tenant: `cpthreads:{tenant}` (zset: thread ids by creation order) and its counter
`cpthreads:{tenant}:clock`. Namespaces and channels are escaped (`%` and `:`) like tenants,
so a member's namespace ends at its last `:` and a value field's parts split at the first two.
Checkpoint ids are UUID strings: within a namespace, lexical order is creation order.

Binary records are length-prefixed parts (`pack`): 4 bytes big-endian length, then the bytes.
A value row is `pack(kind,start,stop,depth ; type ; base ; data)`, so Lua can follow a delta
chain (`CHAINS_SCRIPT`) without a JSON parser.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from engram._exceptions import BackendError
from engram.state.checkpoints import dumps_json
from engram.state.values import DELTA, SCALAR, ValueRow
from engram.types._checkpoint import (
    ChannelVersion,
    EncodedValue,
    PendingWrite,
    RetentionPolicy,
)

__all__ = [
    "CHAINS_SCRIPT",
    "EXPIRE_SCRIPT",
    "PERSIST_SCRIPT",
    "PREFETCH_SCRIPT",
    "CheckpointKeys",
    "Header",
    "ThreadKeys",
    "ThreadRecord",
    "decode_blob",
    "decode_header",
    "decode_row",
    "decode_writes",
    "encode_blob",
    "encode_header",
    "encode_row",
    "encode_writes",
    "escape",
    "member",
    "member_id",
    "member_namespace",
    "namespace_range",
    "pack",
    "unpack",
    "value_field",
    "value_key",
]


def escape(part: str) -> str:
    return part.replace("%", "%25").replace(":", "%3A")


_ESCAPED = re.compile("%(25|3A)")


def _unescape(part: str) -> str:
    return _ESCAPED.sub(lambda match: "%" if match.group(1) == "25" else ":", part)


# Keys.


@dataclass(frozen=True, slots=True)
class ThreadKeys:
    """The keys of one thread."""

    record: str
    index: str
    headers: str
    values: str
    blobs: str
    writes: str

    @property
    def all(self) -> tuple[str, ...]:
        return (self.record, self.index, self.headers, self.values, self.blobs, self.writes)


@dataclass(frozen=True, slots=True)
class CheckpointKeys:
    """Every key of a checkpointer, under one prefix."""

    prefix: str = "engram:"

    def thread(self, tenant: str, thread_id: str) -> ThreadKeys:
        base = f"{self.prefix}cp:{escape(tenant)}:{escape(thread_id)}"
        return ThreadKeys(base, f"{base}:x", f"{base}:c", f"{base}:v", f"{base}:b", f"{base}:w")

    def threads(self, tenant: str) -> str:
        return f"{self.prefix}cpthreads:{escape(tenant)}"

    def clock(self, tenant: str) -> str:
        return f"{self.threads(tenant)}:clock"


def member(namespace: str, checkpoint_id: str) -> str:
    """A checkpoint's member in the thread's `:x` zset and its field in `:c` and `:w`."""
    return f"{escape(namespace)}:{checkpoint_id}"


def member_namespace(item: str) -> str:
    return _unescape(item.rpartition(":")[0])


def member_id(item: str) -> str:
    return item.rpartition(":")[2]


def namespace_range(namespace: str) -> tuple[str, str]:
    """`ZRANGEBYLEX` bounds of a namespace's members: exactly those starting `{namespace}:`."""
    escaped = escape(namespace)
    return f"[{escaped}:", f"({escaped};"  # ';' follows ':'; escaped names hold no ':'


def value_field(namespace: str, channel: str, version: str) -> str:
    """A stored channel version's field in the thread's `:v` hash."""
    return f"{escape(namespace)}:{escape(channel)}:{version}"


def value_key(field: str) -> tuple[str, str, str]:
    """The `(namespace, channel, version)` of a value field (`engram.state.retention.ValueKey`)."""
    namespace, channel, version = field.split(":", 2)
    return _unescape(namespace), _unescape(channel), version


# Length-prefixed parts.


def pack(*parts: bytes) -> bytes:
    return b"".join(len(part).to_bytes(4, "big") + part for part in parts)


def unpack(data: bytes) -> list[bytes]:
    parts, at = [], 0
    try:
        while at < len(data):
            size = int.from_bytes(data[at : at + 4], "big")
            if at + 4 + size > len(data):
                raise ValueError("truncated")
            parts.append(data[at + 4 : at + 4 + size])
            at += 4 + size
    except ValueError as exc:
        raise BackendError(f"corrupt checkpoint record: {exc}") from exc
    return parts


# Thread records.


@dataclass(frozen=True, slots=True)
class ThreadRecord:
    """What a thread's base key holds."""

    uid: str
    """This incarnation of the thread (a thread deleted and created again gets another):
    in-process caches of its stored values are keyed by it."""
    created_ms: int
    retention: RetentionPolicy | None = None
    ttl_ms: int | None = None
    """The thread's own TTL (else the checkpointer's)."""

    @classmethod
    def new(cls, created_ms: int) -> ThreadRecord:
        return cls(secrets.token_hex(8), created_ms)

    def encode(self) -> str:
        retention = None if self.retention is None else self.retention.to_dict()
        return json.dumps(
            {"uid": self.uid, "created_ms": self.created_ms, "retention": retention,
             "ttl_ms": self.ttl_ms},
            separators=(",", ":"),
        )  # fmt: skip

    @classmethod
    def decode(cls, raw: bytes | str) -> ThreadRecord:
        data = json.loads(raw)
        retention = data.get("retention")
        return cls(
            data["uid"],
            int(data["created_ms"]),
            None if retention is None else RetentionPolicy.from_dict(retention),
            data.get("ttl_ms"),
        )

    def with_retention(self, policy: RetentionPolicy | None) -> ThreadRecord:
        return replace(self, retention=policy)

    def with_ttl(self, ttl_ms: int | None) -> ThreadRecord:
        return replace(self, ttl_ms=ttl_ms)


# Checkpoint headers.


class Header(NamedTuple):
    """A stored checkpoint header: everything of `CheckpointInfo` its key does not say."""

    parent_id: str | None
    seq: int
    created_ms: int
    metadata: dict[str, Any]
    versions: dict[str, ChannelVersion]
    extra: EncodedValue | None


def encode_header(
    parent_id: str | None,
    seq: int,
    created_ms: int,
    metadata_json: str,
    versions: Mapping[str, ChannelVersion],
    extra: EncodedValue | None,
) -> bytes:
    """A header as stored (`metadata_json` already checked JSON text, see `dumps_json`)."""
    parent = "null" if parent_id is None else f'"{parent_id}"'
    text = f"[{parent},{seq},{created_ms},{metadata_json},{dumps_json(versions)}]".encode()
    if extra is None:
        return pack(text)
    return pack(text, extra[0].encode(), extra[1])


def decode_header(raw: bytes) -> Header:
    parts = unpack(raw)
    parent_id, seq, created_ms, metadata, versions = json.loads(parts[0])
    extra = (parts[1].decode(), parts[2]) if len(parts) == 3 else None
    return Header(parent_id, seq, created_ms, metadata, versions, extra)


# Values, list items and pending writes.


def encode_row(row: ValueRow) -> bytes:
    head = f"{row.kind},{row.start},{row.stop},{row.depth}".encode()
    base = b"" if row.base is None else row.base.encode()
    return pack(head, (row.type or "").encode(), base, row.data)


def decode_row(raw: bytes) -> ValueRow:
    head, type_, base, data = unpack(raw)
    kind, start, stop, depth = (int(part) for part in head.split(b","))
    return ValueRow(
        kind,
        type_.decode() if kind == SCALAR else None,
        data,
        base.decode() if kind == DELTA else None,
        start,
        stop,
        depth,
    )


def encode_blob(item: EncodedValue) -> bytes:
    return pack(item[0].encode(), item[1])


def decode_blob(raw: bytes) -> EncodedValue:
    size = int.from_bytes(raw[:4], "big")  # read per list item: no general `unpack`
    if len(raw) < 8 + size:
        raise BackendError("corrupt checkpoint list item")
    return raw[4 : 4 + size].decode(), raw[8 + size :]


def encode_writes(writes: Iterable[PendingWrite]) -> bytes:
    """A checkpoint's pending writes, six parts each."""
    parts: list[bytes] = []
    for write in writes:
        tag, data = write.value
        parts += [write.task_id.encode(), write.channel.encode(), tag.encode(), data]
        parts += [str(write.idx).encode(), write.task_path.encode()]
    return pack(*parts)


def decode_writes(raw: bytes | None) -> list[PendingWrite]:
    if not raw:
        return []
    parts = unpack(raw)
    return [
        PendingWrite(
            task_id=parts[at].decode(),
            channel=parts[at + 1].decode(),
            value=(parts[at + 2].decode(), parts[at + 3]),
            idx=int(parts[at + 4]),
            task_path=parts[at + 5].decode(),
        )
        for at in range(0, len(parts), 6)
    ]


# Lua scripts.

PREFETCH_SCRIPT = """
local record = redis.call('GET', KEYS[1])
local head = false
if ARGV[1] == '1' then
  head = redis.call('ZREVRANGEBYLEX', KEYS[2], ARGV[3], ARGV[2], 'LIMIT', 0, 1)[1] or false
end
local parent = ARGV[4]
if ARGV[5] == '1' then parent = head end
local header = false
if parent and parent ~= '' then header = redis.call('HGET', KEYS[3], parent) end
local flags = {}
for i = 6, #ARGV do flags[#flags + 1] = redis.call('HEXISTS', KEYS[4], ARGV[i]) end
return {record, head, header, flags}
"""
"""What a put or a get reads, in one round trip: the thread record, the namespace's head (if
ARGV[1] is '1'; lex bounds ARGV[2..3]), a checkpoint's header (member ARGV[4], or the head's
if ARGV[5] is '1': a put's parent, a get's checkpoint) and whether each value field in
ARGV[6..] is stored."""

CHAINS_SCRIPT = """
local function part(s, at)
  local n = struct.unpack('>I4', s, at)
  return string.sub(s, at + 4, at + 3 + n), at + 4 + n
end
local out, seen, todo, i = {}, {}, {}, 1
for _, field in ipairs(ARGV) do todo[#todo + 1] = field end
while i <= #todo do
  local field = todo[i]
  i = i + 1
  if not seen[field] then
    seen[field] = true
    local row = redis.call('HGET', KEYS[1], field)
    if row then
      out[#out + 1] = field
      out[#out + 1] = row
      local head, at = part(row, 1)
      if string.sub(head, 1, 1) == '2' then
        local _, after = part(row, at)
        local base = part(row, after)
        local a = string.find(field, ':', 1, true)
        local b = string.find(field, ':', a + 1, true)
        todo[#todo + 1] = string.sub(field, 1, b) .. base
      end
    end
  end
end
return out
"""
"""The value rows of the fields in ARGV and of every delta base they rebuild from, in one
round trip: a flat list `field, row, field, row, ...` (absent fields are left out)."""

EXPIRE_SCRIPT = "for _, key in ipairs(KEYS) do redis.call('PEXPIRE', key, ARGV[1]) end"
"""Give every key of a thread the same TTL (one script: one clock, one deadline)."""

PERSIST_SCRIPT = "for _, key in ipairs(KEYS) do redis.call('PERSIST', key) end"
