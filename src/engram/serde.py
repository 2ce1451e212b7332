"""Pluggable serialization: values become `(type_tag, bytes)` and back.

A serializer implements `SerializerProtocol` (the same shape as LangGraph's, so one can serve
both). The default, `JsonSerializer`, stores JSON values as UTF-8 JSON and `bytes` as
themselves. Wrappers compose and tag what they wrap, so rows written before a wrapper was
added stay readable:

```python
serde = CompressedSerializer(JsonSerializer())       # tags "json+zlib"
serde = EncryptedSerializer(serde, cipher=my_cipher)  # tags "json+zlib+<cipher.name>"
serde.loads_typed(("json", b"[1, 2]"))                # still reads untagged rows
```

Nothing here unpickles: an unknown tag is an error, never a guess.
"""

from __future__ import annotations

import json
import zlib
from typing import Any, Protocol, runtime_checkable

from engram._exceptions import InvalidInputError

__all__ = [
    "CipherProtocol",
    "CompressedSerializer",
    "EncryptedSerializer",
    "JsonSerializer",
    "SerializerProtocol",
]


@runtime_checkable
class SerializerProtocol(Protocol):
    """Turns values into `(type_tag, bytes)` and back."""

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        """Serialize `obj`; the tag says how to read the bytes back."""
        ...

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        """Deserialize what `dumps_typed` made."""
        ...


class CipherProtocol(Protocol):
    """Symmetric encryption for `EncryptedSerializer`; `name` becomes part of the tag."""

    name: str

    def encrypt(self, plaintext: bytes) -> bytes: ...

    def decrypt(self, ciphertext: bytes) -> bytes: ...


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
"""Compact UTF-8 JSON; one shared encoder (`json.dumps` with options builds one per call)."""


class JsonSerializer:
    """JSON values (`None`, bools, numbers, strings, lists, str-keyed dicts) and `bytes`.

    Tags: `"json"` (UTF-8 JSON), `"bytes"` (raw). Tuples come back as lists; other types are
    rejected with `InvalidInputError` rather than stored in a form that would not round-trip.
    """

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        if isinstance(obj, bytes | bytearray):
            return "bytes", bytes(obj)
        try:
            text = _JSON.encode(obj)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"not JSON-serializable: {exc}") from exc
        return "json", text.encode("utf-8")

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        tag, payload = data
        if tag == "json":
            return json.loads(payload)
        if tag == "bytes":
            return bytes(payload)
        raise InvalidInputError(f"JsonSerializer cannot read values tagged {tag!r}")


class _Wrapper:
    """A serializer that transforms the bytes of another and appends `+suffix` to its tag."""

    suffix: str

    def __init__(self, inner: SerializerProtocol) -> None:
        self.inner = inner

    def _encode(self, payload: bytes) -> bytes:
        raise NotImplementedError

    def _decode(self, payload: bytes) -> bytes:
        raise NotImplementedError

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        tag, payload = self.inner.dumps_typed(obj)
        return f"{tag}+{self.suffix}", self._encode(payload)

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        tag, payload = data
        marker = f"+{self.suffix}"
        if tag.endswith(marker):
            return self.inner.loads_typed((tag[: -len(marker)], self._decode(payload)))
        # Written before this wrapper was configured: read it as the inner serializer would.
        return self.inner.loads_typed(data)


class CompressedSerializer(_Wrapper):
    """zlib-compresses what `inner` makes when that saves space; tags `"<inner>+zlib"`.

    Args:
        inner: The serializer to wrap.
        level: zlib level (1 fastest .. 9 smallest).
        min_size: Payloads shorter than this are left as they are (and untagged).
    """

    suffix = "zlib"

    def __init__(self, inner: SerializerProtocol, *, level: int = 6, min_size: int = 256) -> None:
        super().__init__(inner)
        self.level = level
        self.min_size = min_size

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        tag, payload = self.inner.dumps_typed(obj)
        if len(payload) < self.min_size:
            return tag, payload
        packed = self._encode(payload)
        if len(packed) >= len(payload):
            return tag, payload
        return f"{tag}+{self.suffix}", packed

    def _encode(self, payload: bytes) -> bytes:
        return zlib.compress(payload, self.level)

    def _decode(self, payload: bytes) -> bytes:
        try:
            return zlib.decompress(payload)
        except zlib.error as exc:
            raise InvalidInputError(f"corrupt zlib payload: {exc}") from exc


class EncryptedSerializer(_Wrapper):
    """Encrypts what `inner` makes with `cipher`; tags `"<inner>+<cipher.name>"`."""

    def __init__(self, inner: SerializerProtocol, *, cipher: CipherProtocol) -> None:
        super().__init__(inner)
        self.cipher = cipher
        self.suffix = cipher.name

    def _encode(self, payload: bytes) -> bytes:
        return self.cipher.encrypt(payload)

    def _decode(self, payload: bytes) -> bytes:
        return self.cipher.decrypt(payload)
