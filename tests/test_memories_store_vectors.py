"""The shared vector side of the memory stores: normalising, encoding, exact top-k."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from engram._exceptions import InvalidInputError
from engram.memory import vectors as vec


def test_normalize_gives_unit_float32() -> None:
    unit = vec.normalize([3, 4])
    assert unit.dtype == np.float32
    np.testing.assert_allclose(unit, [0.6, 0.8])


@pytest.mark.parametrize(
    "bad", [[0.0, 0.0], [np.nan, 1.0], [np.inf, 1.0], [], [[1.0, 2.0]], ["a", "b"], 5.0]
)
def test_normalize_rejects_what_has_no_direction(bad: object) -> None:
    with pytest.raises(InvalidInputError):
        vec.normalize(bad)


@pytest.mark.parametrize("bad", [[[1.0, 0.0], [0.0, 0.0]], [[1.0], [1.0, 2.0]], [[]]])
def test_normalize_rows_rejects_bad_rows(bad: object) -> None:
    with pytest.raises(InvalidInputError):
        vec.normalize_rows(bad)  # type: ignore[arg-type]


@given(hnp.arrays(np.float32, st.integers(1, 16), elements=st.floats(-1e3, 1e3, width=32)))
def test_bytes_round_trip(vector: np.ndarray) -> None:
    data = vec.to_bytes(vector)
    assert len(data) == 4 * vector.size
    np.testing.assert_array_equal(vec.from_bytes(data, vector.size), vector)
    np.testing.assert_array_equal(vec.stack_bytes([data, data], vector.size)[1], vector)
    with pytest.raises(InvalidInputError):
        vec.from_bytes(data, vector.size + 1)


@given(
    scores=st.lists(st.sampled_from([0.1, 0.5, 0.5, 0.9, -1.0]), max_size=30),
    k=st.integers(0, 35),
)
def test_top_k_is_a_sort_with_ties_by_key(scores: list[float], k: int) -> None:
    keys = [f"id{(index * 7) % 31:02d}" for index in range(len(scores))]
    got = vec.top_k(np.array(scores), keys, k)
    expected = sorted(range(len(scores)), key=lambda index: (-scores[index], keys[index]))[:k]
    assert got == expected
