"""What a user's later word does to what Engram believes, through the public API.

A move stated after the old home city, even one that began earlier; distinct figures in
verbatim memories; a profile field edited by hand. Each must leave one current answer, and
lose nothing that "as of" an earlier time still answers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engram import Engram, InvalidInputError, Message

pytest_plugins = ["servers"]

MAY = datetime(2024, 5, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def mem(memory_engram: Engram) -> Engram:
    return memory_engram


def say(mem: Engram, text: str, at: datetime) -> None:
    mem.memories.add(messages=[Message(role="user", content=text, created_at=at)], user_id="ana")


def facts(mem: Engram, **where: object) -> list[str]:
    memories = mem.memories.get_all(user_id="ana", **where)  # type: ignore[arg-type]
    return [m.text for m in memories if m.kind != "episode"]


def test_a_move_said_later_wins_though_it_began_before_the_old_city_was_said(
    mem: Engram,
) -> None:
    say(mem, "I live in Porto.", MAY)
    say(mem, "I moved to Lisbon last month.", MAY + timedelta(days=20))  # moved in April
    assert mem.memories.profile("ana").fields["home_city"] == "Lisbon"  # type: ignore[union-attr]
    assert [t for t in facts(mem) if "Porto" in t or "Lisbon" in t] == ["The user moved to Lisbon"]
    hits = mem.memories.search("Where does the user live?", user_id="ana", limit=3)
    assert "Lisbon" in hits[0].memory.text
    places = {e.id: e.name for e in mem.memories.entities(user_id="ana")}
    current = [places[r.target_id] for r in mem.memories.relations(user_id="ana") if not r.valid_to]
    assert current == ["Lisbon"]
    # Porto is kept, retired, not deleted
    assert any("Porto" in t for t in facts(mem, include_superseded=True))


def test_an_older_message_replayed_later_is_history(mem: Engram) -> None:
    say(mem, "I live in Porto.", MAY)
    say(mem, "I moved to Lisbon.", MAY - timedelta(days=400))
    assert mem.memories.profile("ana").fields["home_city"] == "Porto"  # type: ignore[union-attr]
    old = mem.memories.search("Where does the user live?", user_id="ana", as_of=MAY - timedelta(1))
    assert "Lisbon" in old[0].memory.text


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("I take 5 mg of melatonin at night.", "I take 50 mg of melatonin at night."),
        ("Invoice 1001 was paid on 3 May.", "Invoice 1002 was paid on 3 May."),
        ("My passport number is X1234567.", "My passport number is Y7654321."),
    ],
)
def test_verbatim_memories_differing_in_a_figure_are_both_kept(
    mem: Engram, first: str, second: str
) -> None:
    mem.memories.add(first, user_id="ana", infer=False)
    result = mem.memories.add(second, user_id="ana", infer=False)
    assert [m.text for m in result.added] == [second]
    assert sorted(facts(mem)) == sorted([first, second])


def test_a_profile_edit_retires_the_fact_it_replaces(mem: Engram) -> None:
    """The edit retires Porto and states Braga in its words, with the relation it states."""
    say(mem, "I live in Porto.", MAY)
    mem.memories.update_profile("ana", {"home_city": "Braga"})
    assert mem.memories.profile("ana").fields["home_city"] == "Braga"  # type: ignore[union-attr]
    assert [t for t in facts(mem) if "Porto" in t or "Braga" in t] == ["The user lives in Braga"]
    places = {e.id: e.name for e in mem.memories.entities(user_id="ana")}
    relations = mem.memories.relations(user_id="ana")
    ended = sorted((places[r.target_id], r.valid_to is not None) for r in relations)
    assert ended == [("Braga", False), ("Porto", True)]
    before = mem.memories.search("Where does the user live?", user_id="ana", as_of=MAY)
    assert any("Porto" in hit.memory.text for hit in before)  # nothing deleted
    every = mem.memories.get_all(user_id="ana", include_superseded=True)
    fact, braga = sorted((m for m in every if m.attribute), key=lambda m: m.recorded_at)
    assert [c.action for c in mem.memories.history(fact.id)][-1] == "supersede"
    assert fact.superseded_by == braga.id
    assert [c.action for c in mem.memories.history(braga.id)] == ["add"]


def test_a_profile_edit_keeping_the_value_retires_nothing(mem: Engram) -> None:
    say(mem, "I live in Porto.", MAY)
    mem.memories.update_profile("ana", {"home_city": "porto", "notes": "likes trams"})
    assert [t for t in facts(mem) if "Porto" in t] == ["The user lives in Porto"]
    assert [r.valid_to for r in mem.memories.relations(user_id="ana")] == [None]


def test_as_of_is_what_was_true_then_by_all_we_know_now(mem: Engram) -> None:
    """A move said in June to have happened in March is true as of April, for search as
    for relations; a value later corrected never was."""
    say(mem, "I live in Porto.", MAY - timedelta(days=120))  # January
    say(mem, "I moved to Lisbon in March.", MAY + timedelta(days=30))  # said in June
    april = MAY - timedelta(days=17)
    [hit, *_] = mem.memories.search("Where does the user live?", user_id="ana", as_of=april)
    assert "Lisbon" in hit.memory.text
    places = {e.id: e.name for e in mem.memories.entities(user_id="ana")}
    held = [places[r.target_id] for r in mem.memories.relations(user_id="ana", as_of=april)]
    assert held == ["Lisbon"]
    early = mem.memories.search("Where does the user live?", user_id="ana", as_of=april - 60 * DAY)
    assert "Porto" in early[0].memory.text  # February: Porto still held


def test_a_memory_of_unknown_start_holds_from_when_it_was_recorded(mem: Engram) -> None:
    mem.memories.add("Ana is allergic to peanuts.", user_id="ana", infer=False)
    before = mem.memories.search("allergy", user_id="ana", as_of=MAY)  # long before it was said
    assert before == []


def test_a_fact_said_before_a_hand_edit_but_written_after_it_is_retired(mem: Engram) -> None:
    """An add that waited for the edit's lock, or a replay: the edit wins, and the fact it
    overrides does not stay current beside it."""
    said = datetime.now(UTC) - timedelta(minutes=5)
    mem.memories.update_profile("ana", {"diet": "keto"})
    say(mem, "I'm vegan.", said)
    assert mem.memories.profile("ana").fields["diet"] == "keto"  # type: ignore[union-attr]
    assert not [t for t in facts(mem) if "vegan" in t]
    [vegan] = [
        m for m in mem.memories.get_all(user_id="ana", include_superseded=True) if m.attribute
    ]
    assert vegan.valid_to is not None and mem.memories.history(vegan.id)[-1].action == "supersede"
    say(mem, "I'm vegan now.", datetime.now(UTC))  # said after the edit: it changes the diet
    assert mem.memories.profile("ana").fields["diet"] == "vegan"  # type: ignore[union-attr]


def test_an_edit_of_a_slot_facts_value_in_its_text_corrects_the_slot(mem: Engram) -> None:
    say(mem, "I live in Porto.", MAY)
    [fact] = [m for m in mem.memories.get_all(user_id="ana") if m.attribute == "home_city"]
    edited = mem.memories.update(fact.id, "The user lives in Madrid")
    assert edited.metadata["value"] == "Madrid"
    assert mem.memories.profile("ana").fields["home_city"] == "Madrid"  # type: ignore[union-attr]
    places = {e.id: e.name for e in mem.memories.entities(user_id="ana")}
    assert [places[r.target_id] for r in mem.memories.relations(user_id="ana")] == ["Madrid"]
    reworded = mem.memories.update(fact.id, "Ana has her home in Madrid")  # not only the value
    assert reworded.metadata["value"] == "Madrid"


def turn(text: str, at: datetime) -> Message:
    return Message(role="user", content=text, created_at=at, session_id="chat-1")


def home(mem: Engram) -> str:
    return mem.memories.profile("ana").fields["home_city"]  # type: ignore[union-attr,no-any-return]


@pytest.mark.parametrize("together", [True, False])
def test_oops_i_meant_corrects_the_previous_turn(mem: Engram, together: bool) -> None:
    first = turn("I moved to Porto last month.", MAY)
    fix = turn("Oops, I meant Braga.", MAY + timedelta(minutes=1))
    for batch in [[first, fix]] if together else [[first], [fix]]:
        mem.memories.add(messages=batch, user_id="ana")
    assert home(mem) == "Braga"
    assert [t for t in facts(mem) if "Porto" in t or "Braga" in t] == ["The user moved to Braga"]
    hits = mem.memories.search("Where does the user live?", user_id="ana", limit=3)
    assert "Braga" in hits[0].memory.text
    places = {e.id: e.name for e in mem.memories.entities(user_id="ana")}
    current = [places[r.target_id] for r in mem.memories.relations(user_id="ana") if not r.valid_to]
    assert current == ["Braga"]
    [porto] = [t for t in facts(mem, include_superseded=True) if "Porto" in t and "Braga" not in t]
    assert porto == "The user moved to Porto"  # retired, kept


def test_a_wedding_retires_the_girlfriend(mem: Engram) -> None:
    say(mem, "My girlfriend is Ana.", MAY)
    say(mem, "Ana and I got married!", MAY + 30 * DAY)
    partner = [m for m in mem.memories.get_all(user_id="ana") if m.attribute == "partner"]
    assert [(m.text, m.metadata["role"]) for m in partner] == [("The user married Ana", "spouse")]
    assert mem.memories.profile("ana").fields["partner"] == "Ana"  # type: ignore[union-attr]
    [girlfriend] = [t for t in facts(mem, include_superseded=True) if "girlfriend" in t]
    assert girlfriend == "The user's girlfriend is Ana"  # superseded, not deleted
    before = mem.memories.search("Who is the user's partner?", user_id="ana", as_of=MAY + DAY)
    assert before[0].memory.text == "The user's girlfriend is Ana"


def test_loving_living_somewhere_ends_with_the_move_but_loving_the_city_does_not(
    mem: Engram,
) -> None:
    say(mem, "I live in Porto.", MAY)
    say(mem, "I love living in Porto.", MAY + DAY)
    say(mem, "I love Porto.", MAY + 2 * DAY)
    say(mem, "I moved to Lisbon.", MAY + 30 * DAY)
    assert sorted(t for t in facts(mem) if "love" in t) == ["The user loves Porto"]
    fields = mem.memories.profile("ana").fields  # type: ignore[union-attr]
    assert "preference:living_in_porto" not in fields and fields["preference:porto"] == "likes"
    then = mem.memories.search("What does the user love?", user_id="ana", as_of=MAY + 3 * DAY)
    assert "The user loves living in Porto" in [hit.memory.text for hit in then]


def test_a_liking_of_living_somewhere_ends_with_the_move_however_far_it_is(mem: Engram) -> None:
    say(mem, "I live in Porto.", MAY)
    say(mem, "I love living in Porto.", MAY + DAY)
    nearer = [  # to "The user moved to Lisbon" than the liking is: its five nearest facts
        "The user visited Lisbon in 2019",
        "The user flew to Lisbon for a wedding",
        "The user studied in Lisbon",
        "The user has a flat in Lisbon",
        "The user learned Portuguese in Lisbon",
    ]
    for text in nearer:
        mem.memories.add(text, user_id="ana", infer=False)
    say(mem, "I moved to Lisbon.", MAY + 30 * DAY)
    assert not [t for t in facts(mem) if "loves living" in t]
    loved = [m for m in mem.memories.get_all(user_id="ana", include_superseded=True)]
    [retired] = [m for m in loved if m.text == "The user loves living in Porto"]
    assert retired.valid_to is not None and retired.superseded_at is not None


def test_a_home_told_between_two_others_is_the_answer_as_of_its_years(mem: Engram) -> None:
    say(mem, "I lived in Braga until 2019.", MAY)
    say(mem, "I live in Lisbon now.", MAY + DAY)
    say(mem, "I lived in Porto from 2019 to 2021.", MAY + 2 * DAY)
    assert home(mem) == "Lisbon"
    then = mem.memories.search(
        "Where did the user live?", user_id="ana", as_of=datetime(2020, 6, 1, tzinfo=UTC)
    )
    assert [hit.memory.text for hit in then] == ["The user used to live in Porto"]


def test_a_self_introduction_names_the_user_their_job_and_employer(mem: Engram) -> None:
    say(mem, "Hi! I'm Ana, I work as a nurse at Santa Maria hospital in Lisbon.", MAY)
    fields = mem.memories.profile("ana").fields  # type: ignore[union-attr]
    assert (fields.get("name"), fields.get("occupation"), fields.get("employer")) == (
        "Ana",
        "nurse",
        "Santa Maria hospital",
    )


def test_a_rehomed_pet_is_no_longer_the_users(mem: Engram) -> None:
    say(mem, "We adopted a cat called Miso.", MAY)
    say(mem, "Actually I'm allergic to cats, sadly we had to rehome Miso.", MAY + DAY)
    assert not any("has a cat" in t for t in facts(mem))
    pets = [r for r in mem.memories.relations(user_id="ana") if r.relation == "has_pet"]
    assert pets and all(r.valid_to is not None for r in pets)
    assert mem.memories.profile("ana").fields.get("allergy:cats") == "allergic"  # type: ignore[union-attr]


def test_an_unnamed_pet_death_ends_the_one_pet_of_that_kind(mem: Engram) -> None:
    say(mem, "We adopted a cat called Miso.", MAY)
    say(mem, "My cat died.", MAY + DAY)
    assert "The user has a cat named Miso" not in facts(mem)
    pets = [r for r in mem.memories.relations(user_id="ana") if r.relation == "has_pet"]
    assert pets and all(r.valid_to is not None for r in pets)


@pytest.mark.parametrize(
    "pets",
    [
        ("We adopted a cat called Miso.", "We adopted a cat called Tofu."),
        ("We adopted a dog called Rex.",),
    ],
)
def test_an_unnamed_pet_death_ends_nothing_unless_one_pet_is_of_that_kind(
    mem: Engram, pets: tuple[str, ...]
) -> None:
    for day, text in enumerate(pets):
        say(mem, text, MAY + day * DAY)
    say(mem, "My cat died.", MAY + 5 * DAY)
    held = [r for r in mem.memories.relations(user_id="ana") if r.relation == "has_pet"]
    assert len(held) == len(pets) and all(r.valid_to is None for r in held)


@pytest.mark.parametrize("value", ["", "  ", 5, True, ["Madrid"]])
def test_a_slot_fact_edited_to_a_value_that_is_no_text_is_refused(
    mem: Engram, value: object
) -> None:
    say(mem, "I live in Porto.", datetime(2026, 1, 1, tzinfo=UTC))
    [city] = [m for m in mem.memories.get_all(user_id="ana") if m.attribute == "home_city"]
    with pytest.raises(InvalidInputError, match="home_city"):
        mem.memories.update(city.id, metadata={"value": value})
    assert mem.memories.get(city.id).metadata["value"] == "Porto"
    assert mem.memories.profile("ana").fields["home_city"] == "Porto"  # type: ignore[union-attr]
