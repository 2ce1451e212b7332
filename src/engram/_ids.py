"""Time-sortable identifiers (UUIDv7, RFC 9562).

IDs made by one process sort in creation order, even within one millisecond: the 12-bit
`rand_a` field carries a counter, and the timestamp is bumped if the counter overflows.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

__all__ = ["new_id", "id_timestamp_ms"]

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def new_id() -> str:
    """Return a new UUIDv7 as a 36-character string, greater than any earlier one here."""
    global _last_ms, _counter
    with _lock:
        now = time.time_ns() // 1_000_000
        if now > _last_ms:
            _last_ms, _counter = now, int.from_bytes(os.urandom(2), "big") & 0x3FF
        else:
            _counter += 1
            if _counter > 0xFFF:
                _last_ms, _counter = _last_ms + 1, 0
        ms, seq = _last_ms, _counter
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | (seq << 64) | (0b10 << 62) | rand_b
    digits = f"{value:032x}"  # what str(uuid.UUID(int=value)) gives, without the object
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def id_timestamp_ms(identifier: str) -> int:
    """Return the Unix time in milliseconds encoded in a UUIDv7 string."""
    return uuid.UUID(identifier).int >> 80
