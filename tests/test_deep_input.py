"""JSON nested past any sane depth (or a value referring to itself) is a clear
InvalidInputError at the edge, never a RecursionError from an encoder, and writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engram import Engram, InvalidInputError
from engram.stores.sqlite import SqliteEventLog
from engram.types import Event


def _nested(depth: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    node = root
    for _ in range(depth):
        node["a"] = {}
        node = node["a"]
    return root


def _cycle() -> dict[str, Any]:
    value: dict[str, Any] = {"items": []}
    value["items"].append(value)
    return value


CASES: dict[str, Callable[[Engram, Any], object]] = {
    "memory add": lambda mem, v: mem.memories.add(
        "I like tea.", user_id="u", infer=False, metadata=v
    ),
    "memory update": lambda mem, v: mem.memories.update(
        mem.memories.add("I like tea.", user_id="u", infer=False).added[0].id, metadata=v
    ),
    "message": lambda mem, v: mem.session("s").add("user", "hi", metadata=v),
    "session": lambda mem, v: mem.session("s2", metadata=v),
    "state": lambda mem, v: mem.session("s3").update_state({"x": v}),
}


@pytest.mark.parametrize("value", [_nested(3000), _cycle()], ids=["deep", "cycle"])
@pytest.mark.parametrize("case", list(CASES))
def test_deep_metadata_is_invalid_input(tmp_path: Path, case: str, value: Any) -> None:
    with Engram(tmp_path / "m.db") as mem:
        with pytest.raises(InvalidInputError, match="levels deep|serialisable"):
            CASES[case](mem, value)
        assert [m.text for m in mem.memories.get_all(user_id="u")] in ([], ["I like tea."])
        assert mem.session("s").messages() == []


def test_metadata_a_hundred_levels_deep_is_kept(tmp_path: Path) -> None:
    with Engram(tmp_path / "m.db") as mem:
        [memory] = mem.memories.add(
            "I like tea.", user_id="u", infer=False, metadata=_nested(99)
        ).added
        assert mem.memories.get(memory.id).metadata["a"] == _nested(99)["a"]


@pytest.mark.parametrize("value", [_nested(3000), _cycle()], ids=["deep", "cycle"])
def test_a_deep_event_payload_is_invalid_input(tmp_path: Path, value: Any) -> None:
    with SqliteEventLog.from_path(tmp_path / "e.db") as log:
        with pytest.raises(InvalidInputError):
            log.append("default", "s", [Event(type="custom", payload=value)])
        assert log.read("default", "s") == []
