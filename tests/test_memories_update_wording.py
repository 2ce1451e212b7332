"""`update()` of a slot fact reads the new value from a text that states the slot in other
words, as the deterministic extractor reads a message: "I moved to Porto." is stored as
"The user moved to Porto"; "The user lives in Braga" corrects it to Braga (the value, the
profile field, the relation). A text that states no value of the slot is refused, and
nothing changes."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engram import Engram, InvalidInputError, Message
from engram.stores.memory import InMemoryConversationStore
from engram.stores.memory_memories import InMemoryMemoryStore
from engram.types._memory import Memory

pytest_plugins = ["servers"]


@pytest.fixture
def mem(every_memory_engram: Engram) -> Engram:
    """An Engram on each memory backend."""
    return every_memory_engram


def told(mem: Engram, text: str, name: str | None = None) -> list[Memory]:
    """The facts (no episodes) Ana's turn `text` gave, said under `name`."""
    turn = Message(role="user", content=text, name=name)
    added = mem.memories.add(messages=[turn], user_id="ana").added
    return [memory for memory in added if memory.kind != "episode"]


def slot(mem: Engram, text: str, attribute: str, name: str | None = None) -> Memory:
    [fact] = [m for m in told(mem, text, name) if m.attribute == attribute]
    return fact


def relation_targets(mem: Engram) -> list[str]:
    places = {e.id: e.name for e in mem.memories.entities(user_id="ana")}
    return [places[r.target_id] for r in mem.memories.relations(user_id="ana") if not r.valid_to]


def profile(mem: Engram) -> dict[str, str]:
    found = mem.memories.profile("ana")
    return dict(found.fields) if found else {}


@pytest.mark.parametrize(
    ("said", "edit"),
    [
        ("I moved to Porto.", "The user lives in Braga"),
        ("I live in Porto.", "The user moved to Braga"),
        ("I moved to Porto.", "The user is based in Braga"),
        ("I live in Porto.", "The user now lives in Braga"),
    ],
)
def test_a_home_restated_in_other_words_takes_the_value_of_the_new_text(
    mem: Engram, said: str, edit: str
) -> None:
    fact = slot(mem, said, "home_city")

    edited = mem.memories.update(fact.id, edit)

    assert (edited.text, edited.metadata["value"]) == (edit, "Braga")
    assert mem.memories.get(fact.id).metadata["value"] == "Braga"
    assert profile(mem) == {"home_city": "Braga"}
    assert relation_targets(mem) == ["Braga"]


def test_an_employer_restated_in_other_words_takes_the_value_of_the_new_text(
    mem: Engram,
) -> None:
    fact = slot(mem, "I work at Google.", "employer")

    edited = mem.memories.update(fact.id, "The user got a job at Meta")

    assert edited.metadata["value"] == "Meta"
    assert profile(mem) == {"employer": "Meta"}
    assert relation_targets(mem) == ["Meta"]


def test_a_fact_said_under_the_users_name_is_read_as_the_users(mem: Engram) -> None:
    fact = slot(mem, "I live in Porto.", "home_city", name="Ana")
    assert fact.text == "Ana lives in Porto"

    edited = mem.memories.update(fact.id, "Ana moved to Braga")

    assert edited.metadata["value"] == "Braga"
    assert profile(mem) == {"home_city": "Braga"}


def test_a_fact_about_someone_else_is_read_as_theirs(mem: Engram) -> None:
    marta = slot(mem, "My sister Marta lives in Madrid.", "home_city")
    assert marta.text == "Marta lives in Madrid"

    edited = mem.memories.update(marta.id, "Marta moved to Braga")

    assert (edited.metadata["value"], edited.metadata["subject"]) == ("Braga", "Marta")
    assert profile(mem) == {}  # hers, not the user's
    edited = mem.memories.update(marta.id, "The user's sister Marta lives in Faro")
    assert edited.metadata["value"] == "Faro"
    with pytest.raises(InvalidInputError, match="home_city"):
        mem.memories.update(marta.id, "The user lives in Porto")  # the user's home, not hers


@pytest.mark.parametrize(
    "refused",
    [
        "The user works at Braga Labs",  # another slot
        "The user loves Braga",  # no slot
        "Marta lives in Braga",  # someone else's home
        "The user visited Braga",  # a visit
    ],
)
def test_only_a_text_stating_one_value_of_the_slot_is_read(mem: Engram, refused: str) -> None:
    """Refused (nothing changed) until the text states the slot; then read."""
    fact = slot(mem, "I moved to Porto.", "home_city")

    with pytest.raises(InvalidInputError, match="home_city"):
        mem.memories.update(fact.id, refused)

    assert mem.memories.get(fact.id) == fact
    assert [c.action for c in mem.memories.history(fact.id)] == ["add"]
    assert profile(mem) == {"home_city": "Porto"}
    edited = mem.memories.update(fact.id, "The user lives in Braga")
    assert edited.metadata["value"] == "Braga"


HOMES = ["I live in {}.", "I moved to {}.", "I'm based in {}.", "I relocated to {}."]
RESTATED = [
    "The user lives in {}",
    "The user moved to {}",
    "The user is based in {}",
    "The user is living in {}",
    "The user relocated to {}",
    "The user moved back to {}",
]
CITIES = ["Lisbon", "Porto", "Braga", "Faro", "Coimbra"]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    said=st.sampled_from(HOMES),
    restated=st.sampled_from(RESTATED),
    cities=st.lists(st.sampled_from(CITIES), min_size=2, max_size=2, unique=True),
)
def test_any_wording_the_extractor_reads_as_a_home_gives_its_value(
    said: str, restated: str, cities: list[str]
) -> None:
    """Whatever the home was said in, a restatement the extractor reads as the user's home
    (said in the first person) gives the slot its city."""
    old, new = cities
    with Engram(InMemoryConversationStore(), memory_store=InMemoryMemoryStore()) as engram:
        fact = slot(engram, said.format(old), "home_city")
        edited = engram.memories.update(fact.id, restated.format(new))
        assert edited.metadata["value"] == new
        assert profile(engram) == {"home_city": new}
