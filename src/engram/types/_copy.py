"""`copy_record`: `dataclasses.replace` for the records copied on hot paths.

Every append copies each `Message` twice (counted, then numbered by the store), and a recall
re-stamps each cached `Memory` it returns. `replace`'s generic walk over the fields (and the
frozen `__init__` it calls, one `object.__setattr__` per field) cost twice as much as filling
the slots of the copy directly, which is what `copy_record` does for slotted dataclasses
without a `__post_init__` (anything else goes through `replace`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, replace
from types import MemberDescriptorType
from typing import Any, TypeVar

__all__ = ["copy_record"]

R = TypeVar("R")


Setters = tuple[tuple[str, Callable[[Any, Any], None]], ...] | None
_SETTERS: dict[type[Any], Setters] = {}


def _slot_setters(cls: type[Any]) -> Setters:
    """Each field's slot setter; None if a field is not a slot (a subclass without
    `slots=True`) or copies must run `__init__` (a `__post_init__`)."""
    if cls not in _SETTERS:
        slots: dict[str, Any] = {item.name: getattr(cls, item.name, None) for item in fields(cls)}
        direct = not hasattr(cls, "__post_init__") and all(
            isinstance(slot, MemberDescriptorType) for slot in slots.values()
        )
        _SETTERS[cls] = tuple((n, slot.__set__) for n, slot in slots.items()) if direct else None
    return _SETTERS[cls]


def copy_record(record: R, **changes: Any) -> R:
    """`dataclasses.replace(record, **changes)` for a frozen dataclass, filling the slots of
    the copy directly when it can (see the module docstring).

    Raises:
        TypeError: A change names no field of the record.
    """
    kind: type[Any] = type(record)
    setters = _slot_setters(kind)
    if setters is None:
        return replace(record, **changes)  # type: ignore[type-var]
    copy: R = object.__new__(kind)
    for name, set_slot in setters:
        set_slot(copy, changes.pop(name) if name in changes else getattr(record, name))
    if changes:
        raise TypeError(f"{kind.__name__} has no field(s) {sorted(changes)}")
    return copy
