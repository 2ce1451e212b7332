"""A caller's metadata never sets the keys Engram reads: an add or an edit naming one is
refused whole, and every key Engram stores is in `ENGRAM_METADATA_KEYS`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engram import Engram, InvalidInputError, Message
from engram.memory import ENGRAM_METADATA_KEYS
from engram.memory.texts import CONTEXT_KEY, SESSION_KEY
from engram.memory.timeline import EDITED_AT, LAST_SAID_AT, SAID_AGAIN

pytest_plugins = ["servers"]

START = datetime(2026, 1, 5, 9, tzinfo=UTC)

CHAT = (
    "Hi, I'm Ana. I live in Lisbon and I love living in Lisbon.",
    "I ran 5 km this morning.",
    "I have a girlfriend now. Her name is Mia.",
    "I'm vegetarian. I work at Google.",
    "I lived in Dublin until 2019.",
    "I'm going to quit my job at Google next year.",
    "My cat died last week.",
    "I moved to Porto. Sorry, I meant Faro, not Porto.",
    "I switched from vegetarian to vegan.",
    "I live in Faro.",
)


def turns(session: str, texts: tuple[str, ...]) -> list[Message]:
    return [
        Message(
            role="user",
            content=text,
            name="Ana",
            session_id=session,
            created_at=START + timedelta(days=day),
        )
        for day, text in enumerate(texts)
    ]


@pytest.fixture
def mem(every_memory_engram: Engram) -> Engram:
    return every_memory_engram


@pytest.mark.parametrize("key", ["speaker", "context", "value", "subject", "_said_again"])
def test_an_add_naming_an_engram_key_is_refused_and_stores_nothing(mem: Engram, key: str) -> None:
    with pytest.raises(InvalidInputError, match=key):
        mem.memories.add(
            messages=turns("s1", ("I live in Lisbon.",)),
            user_id="ana",
            metadata={"source": "crm", key: "bob"},
        )
    assert mem.memories.get_all(user_id="ana", include_superseded=True) == []
    assert mem.memories.profile("ana") is None


@pytest.mark.parametrize("key", ["subject", "speaker", "confidence", "negates"])
def test_an_edit_naming_an_engram_key_but_value_is_refused_and_changes_nothing(
    mem: Engram, key: str
) -> None:
    mem.memories.add(messages=turns("s1", ("I live in Lisbon.",)), user_id="ana")
    [city] = mem.memories.get_all(user_id="ana", kinds=["profile"])
    with pytest.raises(InvalidInputError, match=key):
        mem.memories.update(city.id, metadata={"source": "crm", key: None})
    assert mem.memories.get(city.id) == city
    assert [change.action for change in mem.memories.history(city.id)] == ["add"]
    edited = mem.memories.update(city.id, metadata={"value": "Faro"})
    assert (
        edited.metadata["value"] == "Faro"
        and mem.memories.profile("ana").fields["home_city"] == "Faro"
    )


def test_every_key_engram_stores_is_one_of_its_own_or_the_callers(mem: Engram) -> None:
    for day, turn in enumerate(turns("s1", CHAT)):
        mem.memories.add(messages=[turn], user_id="ana", metadata={"app_tag": day})
    mem.memories.add(messages=turns("s2", CHAT[:2]), user_id="ana", metadata={"app_tag": 0})
    [city] = [
        m
        for m in mem.memories.get_all(user_id="ana")
        if m.attribute == "home_city" and m.valid_to is None
    ]
    mem.memories.update(city.id, "Ana lives in Braga", metadata={"value": "Braga"})
    mem.memories.consolidate(user_id="ana", threshold=0.8)
    stored = mem.memories.get_all(user_id="ana", include_superseded=True, limit=1000)
    seen = {key for memory in stored for key in memory.metadata}
    assert seen - {"app_tag"} <= ENGRAM_METADATA_KEYS
    # Not vacuous: the chat reaches the keys of episodes, slots, sayings and edits.
    assert {"speaker", "said_at", "value", CONTEXT_KEY, SESSION_KEY, EDITED_AT} <= seen


def test_the_key_constants_of_other_modules_are_registered() -> None:
    assert {CONTEXT_KEY, SESSION_KEY, EDITED_AT, SAID_AGAIN, LAST_SAID_AT} <= ENGRAM_METADATA_KEYS
