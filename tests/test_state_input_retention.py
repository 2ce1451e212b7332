"""`RetentionPolicy` refuses values of the wrong type with `InvalidInputError` saying what to
pass (a number of seconds for `max_age` crashed with a TypeError; `keep_last=True` was taken
for 1)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from engram._exceptions import InvalidInputError
from engram.types._checkpoint import RetentionPolicy


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"max_age": 5}, "max_age must be a datetime.timedelta"),
        ({"max_age": "1d"}, "max_age must be a datetime.timedelta"),
        ({"max_age": timedelta(0)}, "max_age must be positive"),
        ({"keep_last": True}, "keep_last must be a positive integer"),
        ({"keep_every": False}, "keep_every must be a positive integer"),
        ({"keep_last": 2.0}, "keep_last must be a positive integer"),
        ({"keep_every": 0}, "keep_every must be a positive integer"),
    ],
)
def test_a_policy_of_the_wrong_type_is_refused(fields: dict[str, Any], says: str) -> None:
    with pytest.raises(InvalidInputError, match=says):
        RetentionPolicy(**fields)


def test_a_valid_policy_round_trips() -> None:
    policy = RetentionPolicy(keep_last=3, keep_every=10, max_age=timedelta(days=30))
    assert RetentionPolicy.from_dict(policy.to_dict()) == policy
