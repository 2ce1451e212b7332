"""JSON merge patch (RFC 7396), for backends that cannot apply one in their query language.

The SQLite backend applies patches in SQL (`json_patch()` implements the same RFC); this module
is the reference the in-memory backend uses, and the property tests hold the two to each other.

Example:
    ```python
    merge_patch({"a": 1, "b": {"c": 2}}, {"a": None, "b": {"d": 3}})
    # {"b": {"c": 2, "d": 3}}
    ```
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

__all__ = ["merge_patch"]


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply `patch` to `target` as RFC 7396 says, without mutating either.

    An object patch merges into the target key by key: a `None` (JSON null) value deletes the
    key, an object value merges recursively, any other value replaces. A non-object patch
    replaces the target wholesale. A non-object target patched with an object starts empty.

    Args:
        target: The JSON value to patch (a mapping, list, string, number, bool or None).
        patch: The merge patch.

    Returns:
        The patched value, sharing no mutable parts with `target` or `patch`.
    """
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    base: Mapping[str, Any] = target if isinstance(target, Mapping) else {}
    result: dict[str, Any] = {}
    for key, value in base.items():
        if key not in patch:
            result[key] = copy.deepcopy(value)
        elif patch[key] is not None:
            result[key] = merge_patch(value, patch[key])
    for key, value in patch.items():
        if key not in base and value is not None:
            result[key] = merge_patch(None, value)
    return result
