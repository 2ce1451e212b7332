"""The public API is explicit: `engram.__all__` is sorted and is exactly the public names."""

from __future__ import annotations

import engram


def test_all_is_sorted_and_complete() -> None:
    public = {name for name in vars(engram) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(engram, name)).__name__ == "module"}
    assert engram.__all__ == sorted(engram.__all__)
    assert set(engram.__all__) == public - modules


def test_every_export_is_documented() -> None:
    for name in engram.__all__:
        assert getattr(engram, name).__doc__, name
