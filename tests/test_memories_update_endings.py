"""`update()` of a slot fact and the end of a slot, and whose slot a new text states: a value
cleared alone is refused (the text would go on stating it: delete the memory instead), a
text that ends the slot ends it ("The user no longer enjoys jazz", as a message saying so
is read), and a text stating the slot of someone else than whom the fact is about is
refused ("My sister lives in Rome" for the user's home)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from engram import Engram, InvalidInputError, Message
from memory_updates import JAN, fields, slot, stored

pytest_plugins = ["servers", "memory_updates"]


def targets(mem: Engram) -> list[str]:
    """The entities Ana's current relations point at."""
    names = {e.id: e.name for e in mem.memories.entities(user_id="ana")}
    now = datetime.now(UTC)
    return [names[r.target_id] for r in mem.memories.relations(user_id="ana", as_of=now)]


@pytest.mark.parametrize("value", ["none", "None", "", None])
@pytest.mark.parametrize(
    ("said", "attribute"),
    [
        ("I live in Porto.", "home_city"),
        ("I work at Google.", "employer"),
        ("My name is Ana.", "name"),
        ("I love jazz.", "preference:jazz"),
    ],
)
def test_a_value_cleared_alone_is_refused_and_the_memory_is_to_be_deleted(
    mem: Engram, said: str, attribute: str, value: Any
) -> None:
    """The fact's words would go on stating the value the profile forgot."""
    fact = slot(mem, said, attribute)
    profile = fields(mem)

    with pytest.raises(InvalidInputError, match=r"delete the memory .*no longer"):
        mem.memories.update(fact.id, metadata={"value": value})

    assert stored(mem, fact) == (fact, ["add"], profile)


@pytest.mark.parametrize(
    ("said", "attribute", "ending", "negates"),
    [
        ("I live in Porto.", "home_city", "The user no longer lives in Porto", "Porto"),
        ("I live in Porto.", "home_city", "The user moved out of Porto", "Porto"),
        ("I work at Google.", "employer", "The user no longer works at Google", "Google"),
        ("I'm vegetarian.", "diet", "The user is no longer vegetarian", "vegetarian"),
        # "left X" leaves the slot open (a job where X is no well-known place): naming the
        # fact's own value, it ends the fact's slot, as revision files a guessed ending
        ("I live in Lisboa.", "home_city", "The user left Lisboa", "Lisboa"),
        ("I live in Lisboa.", "home_city", "Left Lisboa", "Lisboa"),
        ("I study at Nova.", "school", "The user left Nova", "Nova"),
    ],
)
def test_a_text_that_ends_the_slot_ends_it(
    mem: Engram, said: str, attribute: str, ending: str, negates: str
) -> None:
    fact = slot(mem, said, attribute)

    edited = mem.memories.update(fact.id, ending)

    assert (edited.text, edited.attribute) == (ending, attribute)
    assert (edited.metadata["value"], edited.metadata["negates"]) == ("none", negates)
    assert mem.memories.get(fact.id) == edited
    assert attribute not in fields(mem)
    assert negates not in targets(mem)


@pytest.mark.parametrize(
    ("said", "attribute", "ending", "ended"),
    [
        ("I live in Porto.", "home_city", "The user no longer lives in Porto", "Porto"),
        ("I work at Google.", "employer", "The user no longer works at Google", "Google"),
    ],
)
def test_an_ending_names_the_entity_of_the_value_it_ends(
    mem: Engram, said: str, attribute: str, ending: str, ended: str
) -> None:
    """As the ending a message states does ("I no longer live in Porto"): found by Porto."""
    fact = slot(mem, said, attribute)

    edited = mem.memories.update(fact.id, ending)

    assert edited.metadata["value"] == "none"
    names = {e.id: e.name for e in mem.memories.entities(user_id="ana")}
    assert [names[i] for i in edited.entity_ids] == [ended]
    assert edited.metadata["entities"] == [ended]
    assert mem.memories.get(fact.id) == edited


@pytest.mark.parametrize(
    ("said", "ending", "negates"),
    [
        ("I enjoy jazz.", "The user no longer enjoys jazz", "likes"),
        ("I love jazz.", "The user no longer likes jazz", "likes"),
        ("I love jazz.", "The user no longer loves jazz", "likes"),
        ("I love jazz.", "The user stopped liking jazz", "likes"),
        ("I love jazz.", "The user isn't into jazz anymore", "likes"),
        ("I love jazz.", "The user is no longer a fan of jazz", "likes"),
        ("I love jazz.", "The user used to love jazz", "likes"),
        ("I hate jazz.", "The user no longer hates jazz", "dislikes"),
    ],
)
def test_a_taste_edited_to_its_end_is_the_users_changed_taste(
    mem: Engram, said: str, ending: str, negates: str
) -> None:
    """As a message saying so is read: the end of the taste in its `preference:` slot, as
    "I used to love jazz" is, and the profile no longer holds it."""
    taste = slot(mem, said, "preference:jazz")

    edited = mem.memories.update(taste.id, ending)

    assert (edited.text, edited.attribute) == (ending, "preference:jazz")
    assert (edited.metadata["value"], edited.metadata["negates"]) == ("none", negates)
    assert fields(mem) == {}
    again = mem.memories.update(taste.id, "The user loves jazz")  # the taste back: no ending
    assert (again.metadata["value"], "negates" in again.metadata) == ("likes", False)


def test_an_ending_edited_to_a_value_takes_it(mem: Engram) -> None:
    """An ending ("The user quit their job") edited to a job states that job, not an end."""
    slot(mem, "I work at Google.", "employer")
    mem.memories.add(
        messages=[Message(role="user", content="I quit my job.", created_at=JAN)], user_id="ana"
    )
    [ending] = [m for m in mem.memories.get_all(user_id="ana") if m.attribute == "employer"]
    assert ending.metadata["value"] == "none"

    edited = mem.memories.update(ending.id, "The user works at Meta")

    assert edited.metadata["value"] == "Meta" == mem.memories.get(ending.id).metadata["value"]
    assert targets(mem) == ["Meta"]


@pytest.mark.parametrize(
    ("said", "attribute", "text", "metadata"),
    [
        ("I live in Porto.", "home_city", "My sister lives in Porto", None),
        ("I live in Porto.", "home_city", "My sister lives in Rome", {"value": "Rome"}),
        ("I live in Porto.", "home_city", "The user's sister lives in Porto", None),
        ("I live in Porto.", "home_city", "Her older brother lives in Porto", None),
        ("I live in Porto.", "home_city", "Marta lives in Porto", None),
        ("I live in Porto.", "home_city", "My sister Marta lives in Rome", {"value": "Rome"}),
        ("I work at Google.", "employer", "My husband works at Google", None),
        ("I'm vegetarian.", "diet", "My sister is vegetarian", None),
        ("My name is Ana.", "name", "My sister's name is Ana", None),
    ],
)
def test_a_text_stating_someone_elses_slot_is_refused(
    mem: Engram, said: str, attribute: str, text: str, metadata: dict[str, str] | None
) -> None:
    """The user's fact would file another person's home (job, diet, name) as the user's."""
    fact = slot(mem, said, attribute)
    profile = fields(mem)

    with pytest.raises(InvalidInputError, match=f"states the {attribute} of .*, not of the user"):
        mem.memories.update(fact.id, text, metadata=metadata)

    assert stored(mem, fact) == (fact, ["add"], profile)


@pytest.mark.parametrize("text", ["The user lives in Madrid", "Lives in Madrid"])
def test_a_text_stating_the_users_slot_is_refused_for_someone_elses_fact(
    mem: Engram, text: str
) -> None:
    marta = slot(mem, "My sister Marta lives in Madrid.", "home_city")

    with pytest.raises(InvalidInputError, match="states the home_city of the user, not of Marta"):
        mem.memories.update(marta.id, text)

    assert stored(mem, marta) == (marta, ["add"], {})


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("My wife and I live in Rome", "Rome"),
        ("The user lives in Rome with her sister", "Rome"),
    ],
)
def test_a_text_naming_someone_else_beside_the_user_is_the_users(
    mem: Engram, text: str, value: str
) -> None:
    home = slot(mem, "I live in Porto.", "home_city")

    edited = mem.memories.update(home.id, text)

    assert edited.metadata["value"] == value
    assert fields(mem) == {"home_city": value}


@pytest.mark.parametrize(
    ("said", "attribute", "text", "metadata"),
    [
        ("My name is Ana.", "name", "The user is no longer called Ana", None),
        ("My name is Ana.", "name", "The user is not called Marta", {"value": "Marta"}),
        ("I'm 30 years old.", "age", "The user is no longer 30", None),
    ],
)
def test_a_text_naming_the_value_only_to_negate_it_is_refused(
    mem: Engram, said: str, attribute: str, text: str, metadata: dict[str, str] | None
) -> None:
    """Naming the value is not stating it: the fact would keep a value its text denies."""
    fact = slot(mem, said, attribute)
    profile = fields(mem)

    with pytest.raises(InvalidInputError, match=f"states no {attribute}"):
        mem.memories.update(fact.id, text, metadata=metadata)

    assert stored(mem, fact) == (fact, ["add"], profile)


@pytest.mark.parametrize(
    ("turns", "attribute", "back", "value"),
    [
        (["I work at Google.", "I quit my job."], "employer", "The user works at Meta", "Meta"),
        (
            ["I live in Porto.", "I moved out of Porto."],
            "home_city",
            "The user lives in Faro",
            "Faro",
        ),
        (
            ["I love jazz.", "I used to love jazz."],
            "preference:jazz",
            "The user loves jazz",
            "likes",
        ),
    ],
)
def test_an_ending_edited_back_to_a_value_fills_the_profile_again(
    mem: Engram, turns: list[str], attribute: str, back: str, value: str
) -> None:
    """The ending was the source of no field (the field went); edited to a value, it is."""
    for said in turns:
        mem.memories.add(
            messages=[Message(role="user", content=said, created_at=JAN)], user_id="ana"
        )
    [ending] = [m for m in mem.memories.get_all(user_id="ana") if m.attribute == attribute]
    assert ending.metadata["value"] == "none"
    assert attribute not in fields(mem)

    edited = mem.memories.update(ending.id, back)

    assert edited.metadata["value"] == value
    assert fields(mem)[attribute] == value
    assert mem.memories.profile("ana").sources[attribute] == edited.id  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("said", "attribute", "ending", "back", "value"),
    [
        (
            "I love jazz.",
            "preference:jazz",
            "The user no longer enjoys jazz",
            "The user loves jazz",
            "likes",
        ),
        (
            "I work at Google.",
            "employer",
            "The user no longer works at Google",
            "The user works at Meta",
            "Meta",
        ),
        (
            "I live in Porto.",
            "home_city",
            "The user left Porto",
            "The user lives in Porto",
            "Porto",
        ),
    ],
)
def test_a_fact_edited_to_its_end_then_back_to_a_value_holds_it(
    mem: Engram, said: str, attribute: str, ending: str, back: str, value: str
) -> None:
    fact = slot(mem, said, attribute)
    assert mem.memories.update(fact.id, ending).metadata["value"] == "none"
    assert attribute not in fields(mem)

    mem.memories.update(fact.id, back)

    assert fields(mem) == {attribute: value}


@pytest.mark.parametrize(
    ("said", "attribute", "ending", "negates"),
    [
        ("I work at Google.", "employer", "The user quit their job", None),
        ("I work at Google.", "employer", "The user lost their job", None),
        ("I work at Google.", "employer", "Quit their job", None),
        ("I work at Google.", "employer", "Left their job", None),
        ("I live in Porto.", "home_city", "No longer lives in Porto", "Porto"),
        ("I live in Paris.", "home_city", "The user left Paris", "Paris"),
        ("I live in Paris.", "home_city", "Left Paris", "Paris"),
        ("I love jazz.", "preference:jazz", "No longer enjoys jazz", "likes"),
        ("I love jazz.", "preference:jazz", "The user doesn't enjoy jazz anymore", "likes"),
        ("I love jazz.", "preference:jazz", "Doesn't like jazz anymore", "likes"),
    ],
)
def test_an_ending_in_other_words_ends_the_slot(
    mem: Engram, said: str, attribute: str, ending: str, negates: str | None
) -> None:
    """ "their" of the user read as "my", a text naming no subject read as the user's, a
    place left no employer, a taste not enjoyed anymore no dislike."""
    fact = slot(mem, said, attribute)

    edited = mem.memories.update(fact.id, ending)

    assert (edited.text, edited.attribute) == (ending, attribute)
    assert (edited.metadata["value"], edited.metadata.get("negates")) == ("none", negates)
    assert attribute not in fields(mem)


def test_leaving_another_value_than_the_facts_is_still_another_slot(mem: Engram) -> None:
    """A guessed ending ("left X") of a value the fact does not hold is read as guessed."""
    home = slot(mem, "I live in Lisboa.", "home_city")

    with pytest.raises(InvalidInputError, match="states employer, not home_city"):
        mem.memories.update(home.id, "The user left Acme")

    assert stored(mem, home) == (home, ["add"], {"home_city": "Lisboa"})


@pytest.mark.parametrize("text", ["The user quit their job", "Quit their job", "Lost their job"])
def test_a_memory_text_quitting_their_job_ends_the_employer(mem: Engram, text: str) -> None:
    slot(mem, "I work at Google.", "employer")

    mem.memories.add(text, user_id="ana")

    assert "employer" not in fields(mem)
    [ending] = [m for m in mem.memories.get_all(user_id="ana") if m.attribute == "employer"]
    assert ending.metadata["value"] == "none"
