"""`update()` leaves a memory's text, its slot value and the user's profile telling one
story: a value given alone is stated in the fact's words, a text stating another slot or
another value than the one given is refused, a preference's key follows its topic, the
fact's own text changes nothing, and the history names only what the caller changed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engram import Engram, InvalidInputError, Message
from memory_updates import JAN, fields, slot, stored

pytest_plugins = ["servers", "memory_updates"]


def homes(mem: Engram) -> list[str]:
    places = {e.id: e.name for e in mem.memories.entities(user_id="ana")}
    return [places[r.target_id] for r in mem.memories.relations(user_id="ana") if not r.valid_to]


def test_a_value_given_alone_is_stated_in_the_facts_words(mem: Engram) -> None:
    home = slot(mem, "I live in Porto.", "home_city")

    edited = mem.memories.update(home.id, metadata={"value": "Faro"})

    assert (edited.text, edited.metadata["value"]) == ("The user lives in Faro", "Faro")
    assert mem.memories.get(home.id).text == "The user lives in Faro"
    assert fields(mem) == {"home_city": "Faro"} == fields(mem, as_of=datetime.now(UTC))
    assert homes(mem) == ["Faro"]
    [hit] = mem.memories.search("Where does Ana live?", user_id="ana", kinds=["profile"])
    assert hit.memory.text == "The user lives in Faro"
    [then] = mem.memories.search(
        "Where does Ana live?", user_id="ana", kinds=["profile"], as_of=datetime.now(UTC)
    )
    assert then.memory.text == "The user lives in Faro"
    last = mem.memories.history(home.id)[-1]
    assert (last.old_text, last.new_text) == ("The user lives in Porto", "The user lives in Faro")


def test_a_value_the_facts_words_cannot_state_is_refused(mem: Engram) -> None:
    """An ending ("The user quit their job") names no employer to swap for the new one, and
    no words are made up for it (as a profile edit restates no such fact): the error says
    it ends the slot, and to give the text stating the job."""
    slot(mem, "I work at Google.", "employer")
    quit_ = mem.memories.add(
        messages=[Message(role="user", content="I quit my job.", created_at=JAN)], user_id="ana"
    )
    [ending] = [m for m in quit_.added if m.attribute == "employer"]

    with pytest.raises(
        InvalidInputError, match=r"end the employer, naming no value: .*update\(memory_id, text"
    ):
        mem.memories.update(ending.id, metadata={"value": "Meta"})

    assert stored(mem, ending) == (ending, ["add"], {})


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("The user works at IBM", "Faro"),  # another slot, not naming the value
        ("The user works at Faro Labs", "Faro"),  # another slot, naming the value
        ("The user lives in Braga", "Faro"),  # another value of the slot
        ("The user lives in Porto", "Faro"),  # its own text, stating another value
    ],
)
def test_a_text_stating_another_slot_or_value_than_the_given_one_is_refused(
    mem: Engram, text: str, value: str
) -> None:
    home = slot(mem, "I live in Porto.", "home_city")

    with pytest.raises(InvalidInputError, match="home_city"):
        mem.memories.update(home.id, text, metadata={"value": value})

    assert stored(mem, home) == (home, ["add"], {"home_city": "Porto"})
    assert homes(mem) == ["Porto"]


def test_a_text_naming_the_value_in_another_slot_is_refused(mem: Engram) -> None:
    """A text naming Porto as an employer ("Porto Labs") does not keep the home in Porto."""
    home = slot(mem, "I live in Porto.", "home_city")

    with pytest.raises(InvalidInputError, match="employer, not home_city"):
        mem.memories.update(home.id, "The user works at Porto Labs")

    assert stored(mem, home) == (home, ["add"], {"home_city": "Porto"})


@pytest.mark.parametrize("metadata", [None, {"value": "likes"}])
def test_a_preferences_key_follows_its_new_topic(
    mem: Engram, metadata: dict[str, str] | None
) -> None:
    jazz = slot(mem, "I enjoy jazz music.", "preference:jazz_music")

    edited = mem.memories.update(jazz.id, "The user enjoys classical music", metadata=metadata)

    assert (edited.attribute, edited.metadata["value"]) == ("preference:classical_music", "likes")
    assert mem.memories.get(jazz.id).attribute == "preference:classical_music"
    expected = {"preference:classical_music": "likes"}
    assert fields(mem) == expected == fields(mem, as_of=datetime.now(UTC))
    assert mem.memories.profile("ana").sources == {"preference:classical_music": jazz.id}  # type: ignore[union-attr]
    reason = mem.memories.history(jazz.id)[-1].reason
    assert reason == "user edit; attribute 'preference:jazz_music' -> 'preference:classical_music'"


def test_a_preference_is_not_moved_to_a_topic_another_fact_holds(mem: Engram) -> None:
    jazz = slot(mem, "I enjoy jazz music.", "preference:jazz_music")
    slot(mem, "I love classical music.", "preference:classical_music")
    profile = fields(mem)

    with pytest.raises(InvalidInputError, match="already states preference:classical_music"):
        mem.memories.update(jazz.id, "The user enjoys classical music")

    assert stored(mem, jazz) == (jazz, ["add"], profile)


def test_a_preferences_value_given_alone_is_stated_in_its_words(mem: Engram) -> None:
    hiking = slot(mem, "I like hiking.", "preference:hiking")

    edited = mem.memories.update(hiking.id, metadata={"value": "dislikes"})

    assert edited.text == "The user dislikes hiking"
    assert fields(mem) == {"preference:hiking": "dislikes"}


@pytest.mark.parametrize(
    ("attribute", "said", "edit"),
    [
        ("home_city", "I live in Porto.", {"metadata": {"value": "Faro"}}),
        (
            "preference:jazz_music",
            "I enjoy jazz music.",
            {"text": "The user enjoys classical music", "metadata": {"value": "likes"}},
        ),
    ],
)
def test_an_edit_to_the_facts_own_text_writes_nothing(
    mem: Engram, attribute: str, said: str, edit: dict[str, object]
) -> None:
    fact = slot(mem, said, attribute)
    before = mem.memories.update(fact.id, **edit)  # type: ignore[arg-type]
    profile = fields(mem)

    again = mem.memories.update(fact.id, before.text)

    assert again == before == mem.memories.get(fact.id)
    assert [c.action for c in mem.memories.history(fact.id)] == ["add", "update"]
    assert fields(mem) == profile


def test_the_history_names_only_what_the_caller_changed(mem: Engram) -> None:
    home = slot(mem, "I live in Porto.", "home_city")

    mem.memories.update(home.id, "The user lives in Madrid")
    mem.memories.update(home.id, metadata={"source": "crm"})
    mem.memories.update(home.id, metadata={"value": "Faro", "source": None})

    reasons = [c.reason for c in mem.memories.history(home.id)[1:]]
    assert reasons == [
        "user edit; metadata {'value': 'Porto'} -> {'value': 'Madrid'}",
        "user edit; metadata {} -> {'source': 'crm'}",
        "user edit; metadata {'value': 'Madrid', 'source': 'crm'} -> {'value': 'Faro'}",
    ]


async def test_the_async_twin_states_a_value_given_alone(mem: Engram) -> None:
    home = slot(mem, "I live in Porto.", "home_city")

    edited = await mem.memories.aupdate(home.id, metadata={"value": "Faro"})

    assert edited.text == "The user lives in Faro" == (await mem.memories.aget(home.id)).text
    assert fields(mem) == {"home_city": "Faro"}
    with pytest.raises(InvalidInputError, match="home_city"):
        await mem.memories.aupdate(home.id, "The user works at IBM", metadata={"value": "Faro"})


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("User lives in Faro", "Faro"),
        ("Lives in Faro", "Faro"),
        ("Based in Faro", "Faro"),
    ],
)
def test_a_new_text_is_read_as_a_memory_added_as_text_is(
    mem: Engram, text: str, value: str
) -> None:
    """As `add(text)` reads "User ..." and mem0's subject-less facts as the user's, so does
    an edit's new text."""
    home = slot(mem, "I live in Porto.", "home_city")
    edited = mem.memories.update(home.id, text)
    assert (edited.text, edited.metadata["value"]) == (text, value)
    assert fields(mem)["home_city"] == value


def test_a_subject_less_text_is_not_read_as_another_persons_fact(mem: Engram) -> None:
    turn = Message(role="user", content="My sister Marta lives in Porto.", created_at=JAN)
    added = mem.memories.add(messages=[turn], user_id="ana").added
    [marta] = [m for m in added if m.attribute == "home_city"]
    with pytest.raises(InvalidInputError):
        mem.memories.update(marta.id, "Lives in Faro")
    assert mem.memories.get(marta.id) == marta
