"""`update()` of a slot fact to a text ending another value of its slot than its own ("The
user left Coimbra" for "The user lives in Lisboa") is refused: the user still holds the
fact's value, and nothing changes."""

from __future__ import annotations

import pytest

from engram import Engram, InvalidInputError
from memory_updates import fields, slot, stored

pytest_plugins = ["servers", "memory_updates"]


@pytest.mark.parametrize(
    ("said", "attribute", "ending"),
    [
        ("I live in Lisboa.", "home_city", "The user left Coimbra"),
        ("I live in Lisboa.", "home_city", "The user no longer lives in Coimbra"),
        ("I live in Porto.", "home_city", "The user moved out of Coimbra"),
        ("I work at Google.", "employer", "The user no longer works at Meta"),
    ],
)
def test_an_ending_of_another_value_is_refused_and_nothing_changes(
    mem: Engram, said: str, attribute: str, ending: str
) -> None:
    fact = slot(mem, said, attribute)
    before = stored(mem, fact)
    assert attribute in before[2]

    with pytest.raises(InvalidInputError, match=rf"ends {attribute} .*, not"):
        mem.memories.update(fact.id, ending)
    with pytest.raises(InvalidInputError, match=rf"ends {attribute} .*, not"):
        mem.memories.update(fact.id, ending, metadata={"value": "none"})

    assert stored(mem, fact) == before
    assert fields(mem)[attribute] == before[2][attribute]


def test_an_ending_of_its_own_value_still_ends_it(mem: Engram) -> None:
    fact = slot(mem, "I live in Lisboa.", "home_city")

    edited = mem.memories.update(fact.id, "The user left Lisboa")

    assert (edited.metadata["value"], edited.metadata["negates"]) == ("none", "Lisboa")
    assert "home_city" not in fields(mem)
