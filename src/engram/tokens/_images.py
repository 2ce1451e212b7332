"""Token cost of image content parts, by OpenAI's published formulas.

OpenAI's vision guide prices an image one of two ways, by model (`ImagePricing`):

- tiles (GPT-4o, GPT-4.1, GPT-4.5, GPT-5, o1, o3, gpt-4o-mini): a `detail: low` image costs
  `base` tokens (85 for GPT-4o). A `high` (or `auto`) image is scaled to fit a 2048 x 2048
  square, then so its shortest side is 768px (images are only ever scaled down), then costs
  `base` plus `tile` (170 for GPT-4o) per 512px tile covering it: 1024 x 1024 -> 765 tokens,
  2048 x 4096 -> 1105 tokens, for GPT-4o. gpt-4o-mini charges 2833 and 5667: 33 times more.
- patches (GPT-4.1 mini and nano, GPT-5 mini and nano, o4-mini): whatever the detail, the
  32px patches covering the image, at most 1536 (a larger image is scaled down to fit), times
  the model's multiplier (1.62 for gpt-4.1-mini).

The size comes from `width`/`height` keys in the part's payload (an Engram extension to the
OpenAI form) or from the header of an inline `data:` URL (PNG, GIF, JPEG, WebP). When it is
unknown, an image is counted at the most its formula can give (1445 tokens for a GPT-4o
`high`/`auto` image: 768 x 2048 after scaling, 2 x 4 tiles), so token budgets are never
exceeded.
"""

from __future__ import annotations

import base64
import binascii
import math
import struct
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any, NamedTuple

__all__ = [
    "GPT_4O_IMAGES",
    "IMAGE_BASE_TOKENS",
    "IMAGE_TILE_TOKENS",
    "IMAGE_UNKNOWN_SIZE_TOKENS",
    "ImagePricing",
    "high_detail_tokens",
    "image_size",
    "image_tokens",
]

IMAGE_BASE_TOKENS = 85
"""Cost of a `low` detail image, and the base cost of a `high` one."""
IMAGE_TILE_TOKENS = 170
"""Cost of each 512px tile of a `high` detail image."""
IMAGE_UNKNOWN_SIZE_TOKENS = IMAGE_BASE_TOKENS + 8 * IMAGE_TILE_TOKENS
"""Cost of a `high`/`auto` image of unknown size: the formula's maximum (1445)."""

_HEADER_CHARS = 256 * 1024
"""How much of an inline image's base64 text is decoded to find its size."""

_MAX_PATCHES = 1536
"""The most 32px patches a patch-priced model reads of an image."""


class ImagePricing(NamedTuple):
    """How a model charges for an image: by tiles, `base` tokens plus `tile` per 512px tile
    of a `high` detail image (`base` alone for `low`); or, if `per_patch` is set, by the
    32px patches covering it (at most 1536), times `per_patch`, whatever the detail."""

    base: int = IMAGE_BASE_TOKENS
    tile: int = IMAGE_TILE_TOKENS
    per_patch: float | None = None


GPT_4O_IMAGES = ImagePricing()
"""GPT-4o's prices (85 + 170 per tile): the ones stored counts are made with."""


def image_tokens(payload: Mapping[str, Any], pricing: ImagePricing = GPT_4O_IMAGES) -> int:
    """Token cost of an `image_url` part's payload (`{"url": ..., "detail": ...}`)."""
    low = str(payload.get("detail") or "auto").lower() == "low"
    if low and pricing.per_patch is None:
        return pricing.base
    size = _declared_size(payload) or image_size(str(payload.get("url") or ""))
    if size is None:
        size = (0, 0)  # unknown: the most the formula gives
    return high_detail_tokens(*size, pricing=pricing)


def high_detail_tokens(width: int, height: int, *, pricing: ImagePricing = GPT_4O_IMAGES) -> int:
    """Token cost of a `high` detail image of `width` x `height` pixels (of any image, for a
    patch-priced model); a size that is not positive counts as the most the formula gives.

    Example:
        ```python
        high_detail_tokens(1024, 1024)  # 765
        ```
    """
    if pricing.per_patch is not None:
        patches = _patches(width, height) if width > 0 and height > 0 else _MAX_PATCHES
        return math.ceil(patches * pricing.per_patch)
    if width <= 0 or height <= 0:
        return pricing.base + 8 * pricing.tile  # 768 x 2048 after scaling: 2 x 4 tiles
    w, h = Fraction(width), Fraction(height)
    scale = min(Fraction(1), Fraction(2048) / max(w, h))
    w, h = w * scale, h * scale
    scale = min(Fraction(1), Fraction(768) / min(w, h))
    w, h = w * scale, h * scale
    tiles = math.ceil(w / 512) * math.ceil(h / 512)
    return pricing.base + pricing.tile * tiles


def _patches(width: int, height: int) -> int:
    """The 32px patches a patch-priced model reads of a `width` x `height` image: those
    covering it, or, past 1536, those covering it scaled down to fit (OpenAI's steps: shrink
    to the budget's area, then until its width is a whole number of patches)."""
    patches = math.ceil(width / 32) * math.ceil(height / 32)
    if patches <= _MAX_PATCHES:
        return patches
    shrink = math.sqrt(_MAX_PATCHES * 32 * 32 / (width * height))
    w, h = width * shrink, height * shrink
    fit = math.floor(w / 32) / (w / 32)
    w, h = w * fit, h * fit
    return min(_MAX_PATCHES, math.ceil(w / 32) * math.ceil(h / 32))


def image_size(url: str) -> tuple[int, int] | None:
    """(width, height) of an inline `data:image/...;base64,` image, or None if unknown."""
    header, sep, encoded = url.partition(",")
    if not sep or not header.startswith("data:") or not header.endswith(";base64"):
        return None
    chunk = encoded[:_HEADER_CHARS]
    try:
        data = base64.b64decode(chunk[: len(chunk) - len(chunk) % 4])
    except (binascii.Error, ValueError):
        return None
    for sniff in _SNIFFERS:
        size = sniff(data)
        if size is not None:
            return size
    return None


def _declared_size(payload: Mapping[str, Any]) -> tuple[int, int] | None:
    width, height = payload.get("width"), payload.get("height")
    if isinstance(width, int) and isinstance(height, int):
        return width, height
    return None


def _png_size(data: bytes) -> tuple[int, int] | None:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR" or len(data) < 24:
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _gif_size(data: bytes) -> tuple[int, int] | None:
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 10:
        return None
    width, height = struct.unpack("<HH", data[6:10])
    return width, height


def _webp_size(data: bytes) -> tuple[int, int] | None:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP" or len(data) < 30:
        return None
    kind = data[12:16]
    if kind == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if kind == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        return width, int.from_bytes(data[27:30], "little") + 1
    return None


_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
"""Start-of-frame markers (the others in C0-CF are DHT, JPG and DAC)."""


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    if data[:2] != b"\xff\xd8":
        return None
    at = 2
    while at + 9 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
        elif marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return width, height
        elif marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            at += 2
        else:
            at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return None


_SNIFFERS: tuple[Callable[[bytes], tuple[int, int] | None], ...] = (
    _png_size,
    _jpeg_size,
    _gif_size,
    _webp_size,
)
