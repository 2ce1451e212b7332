"""RFC 7396 merge patch: the pure implementation and SQLite's `json_patch()` agree.

The in-memory store merges state with `engram.stores._merge.merge_patch`, the SQLite store with
`json_patch()` in SQL; these properties keep the two backends' state updates identical.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engram.stores._merge import merge_patch
from engram.stores.sqlite import SqliteConnection

# Few distinct keys, so targets and patches overlap (the interesting case).
_keys = st.sampled_from(["a", "b", "c", "ü", "🙂"])
_text = st.text('xyü🙂"\\\n', max_size=3)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text
)
_json = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_keys, children, max_size=3),
    max_leaves=10,
)
_objects = st.dictionaries(_keys, _json, max_size=4)


@pytest.fixture(scope="module")
def conn() -> Iterator[SqliteConnection]:
    connection = SqliteConnection(":memory:")
    yield connection
    connection.close()


def _sqlite_patch(conn: SqliteConnection, target: Any, patch: Any) -> Any:
    row = conn.conn.execute("SELECT json_patch(?, ?)", (json.dumps(target), json.dumps(patch)))
    return json.loads(row.fetchone()[0])


@given(target=_objects, patch=_objects)
def test_merge_patch_matches_sqlite_json_patch(
    conn: SqliteConnection, target: dict[str, Any], patch: dict[str, Any]
) -> None:
    merged = merge_patch(target, patch)
    assert merged == _sqlite_patch(conn, target, patch)
    assert merge_patch(merged, patch) == merged  # applying a patch twice changes nothing


@given(target=_json, patch=_json)
def test_merge_patch_never_mutates_its_inputs(target: Any, patch: Any) -> None:
    target_before, patch_before = copy.deepcopy(target), copy.deepcopy(patch)
    _scribble(merge_patch(target, patch))
    assert (target, patch) == (target_before, patch_before)


def _scribble(value: Any) -> None:
    """Mutate every container in `value` (to prove the result shares nothing)."""
    if isinstance(value, dict):
        for item in list(value.values()):
            _scribble(item)
        value["__scribbled__"] = True
    elif isinstance(value, list):
        for item in value:
            _scribble(item)
        value.append("__scribbled__")
