"""Gaps a Zep/Graphiti user found in the rule extractor, end to end on a SQLite `Engram`:
a role said "new" or "current" ("My new partner is Lena"), a titled name ("Dr. Lopez"), a
period of the past with its end ("from 2010 to 2018, then joined SAP"), a correction's
wording, faith words taken for names, and where the user's kin and friends live or work."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from embedders import HashingEmbedder
from engram import Engram, Message
from engram.memory._patterns import DEMONYMS, FAITHS
from engram.memory.entities import extract_entities


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Engram]:
    with Engram(tmp_path / "gaps.db", embedder=HashingEmbedder()) as engram:
        yield engram


def at(year: int, month: int = 1, day: int = 1, hour: int = 12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def say(mem: Engram, text: str, when: datetime, user: str = "bob") -> None:
    message = Message(role="user", content=text, created_at=when)
    mem.memories.add(messages=[message], user_id=user, user_name="Bob")


def texts(mem: Engram, user: str = "bob") -> list[str]:
    return [m.text for m in mem.memories.get_all(user_id=user) if m.kind != "episode"]


def slot(mem: Engram, attribute: str, when: datetime, user: str = "bob") -> list[str]:
    found = mem.memories.get_all(user_id=user, as_of=when)
    return [str(m.metadata.get("value")) for m in found if m.attribute == attribute]


def fields(mem: Engram, user: str = "bob") -> dict[str, str]:
    profile = mem.memories.profile(user)
    return dict(profile.fields) if profile else {}


@pytest.mark.parametrize(
    "said",
    [
        "My new partner is Lena.",
        "My current girlfriend is Lena.",
        "My new girlfriend Lena is great.",
        "Lena is my new girlfriend.",
    ],
)
def test_a_new_partner_is_the_partner_as_the_plain_form_says(mem: Engram, said: str) -> None:
    say(mem, "My partner is João.", at(2021))
    say(mem, "João and I broke up.", at(2023))
    say(mem, said, at(2023, 2))
    assert fields(mem)["partner"] == "Lena"
    [lena] = mem.memories.entities(user_id="bob", name="Lena")
    assert lena.kind == "person"


def test_a_new_boss_and_a_new_job_read_as_the_plain_form(mem: Engram) -> None:
    say(mem, "My new boss is Sam.", at(2023))
    say(mem, "My new job is at IBM.", at(2023, 2))
    assert "Sam is Bob's boss" in texts(mem)
    assert fields(mem)["employer"] == "IBM"
    assert "job" not in fields(mem)  # not "at IBM" as a job


def test_a_word_said_of_the_boss_is_no_name(mem: Engram) -> None:
    say(mem, "My boss is Italian.", at(2023))
    assert not [t for t in texts(mem) if "boss" in t]


def test_a_titled_name_is_one_name(mem: Engram) -> None:
    say(mem, "My boss Dr. Lopez is strict.", at(2022, 4))
    assert "Dr. Lopez is Bob's boss" in texts(mem)
    [lopez] = mem.memories.entities(user_id="bob")[1:]  # after the user's own
    assert (lopez.name, lopez.kind) == ("Dr. Lopez", "person")
    assert mem.memories.entities(user_id="bob", name="lopez") == [lopez]
    assert mem.memories.entities(user_id="bob", name="Dr") == []


def test_a_home_the_user_used_to_have_over_a_period_is_its_history(mem: Engram) -> None:
    say(mem, "I used to live in Paris from 2015 to 2019.", at(2022, 6))
    assert slot(mem, "home_city", at(2017)) == ["Paris"]
    assert slot(mem, "home_city", at(2019, 6)) == ["Paris"]  # 2019 is part of it
    assert slot(mem, "home_city", at(2020, 6)) == []
    [lived] = [r for r in mem.memories.relations(user_id="bob") if r.relation == "lives_in"]
    assert (lived.valid_from, lived.valid_to) == (at(2015, hour=0), at(2020, hour=0))


@pytest.mark.parametrize(
    "said", ["I worked at IBM until 2018.", "I worked at IBM from 2010 to 2018."]
)
def test_a_year_named_as_the_end_of_a_period_is_part_of_it(mem: Engram, said: str) -> None:
    say(mem, said, at(2022))
    [ibm] = [m for m in mem.memories.get_all(user_id="bob") if m.attribute == "employer"]
    assert ibm.valid_to == at(2019, hour=0)
    assert slot(mem, "employer", at(2018, 6)) == ["IBM"]


def test_a_job_joined_after_a_period_holds_from_its_end(mem: Engram) -> None:
    say(mem, "I worked at IBM from 2010 to 2018, then joined SAP.", at(2022))
    assert slot(mem, "employer", at(2015)) == ["IBM"]
    assert slot(mem, "employer", at(2020)) == ["SAP"]
    assert fields(mem)["employer"] == "SAP"
    [sap] = [
        m
        for m in mem.memories.get_all(user_id="bob")
        if m.attribute == "employer" and "SAP" in m.text
    ]
    assert sap.valid_from == at(2019, hour=0)


def test_a_corrected_home_reads_as_a_home(mem: Engram) -> None:
    say(mem, "I live in Lisbon.", at(2022))
    say(mem, "Sorry, I meant Porto, not Lisbon.", at(2022, 1, 1, 13))
    [home] = [m for m in mem.memories.get_all(user_id="bob") if m.attribute == "home_city"]
    assert home.text == "Bob lives in Porto"
    assert (home.metadata["corrects"], home.metadata["negates"]) == (True, "Lisbon")
    assert fields(mem)["home_city"] == "Porto"


def test_a_faith_is_no_entity_but_a_name_said_so_is(mem: Engram) -> None:
    say(mem, "I'm Christian and my wife is Catholic.", at(2022))
    assert not {e.name for e in mem.memories.entities(user_id="bob")} & {"Christian", "Catholic"}
    say(mem, "My friend Christian lives in Berlin.", at(2022, 2))
    [christian] = mem.memories.entities(user_id="bob", name="Christian")
    assert christian.kind == "person"


@given(word=st.sampled_from(sorted(FAITHS | DEMONYMS)))
def test_a_faith_or_nationality_describing_someone_names_nobody(word: str) -> None:
    said = word.capitalize()
    assert extract_entities(f"I am {said}.") == []
    assert extract_entities(f"We went to a {said} restaurant.") == []


def test_where_a_sister_lives_is_hers_not_the_users(mem: Engram) -> None:
    say(mem, "I live in Lisbon.", at(2019))
    say(mem, "My sister Marta lives in Madrid.", at(2020))
    say(mem, "My sister Marta moved to Paris last year.", at(2022, 6))
    assert fields(mem)["home_city"] == "Lisbon"
    hers = [m for m in mem.memories.get_all(user_id="bob") if m.metadata.get("subject") == "Marta"]
    assert [(m.attribute, m.metadata["value"]) for m in hers] == [("home_city", "Paris")]
    assert sorted(slot(mem, "home_city", at(2020, 6))) == ["Lisbon", "Madrid"]


def test_a_friends_new_job_is_theirs(mem: Engram) -> None:
    say(mem, "I work at Acme.", at(2022))
    say(mem, "Carla just got a new job at IBM.", at(2022, 4))
    assert fields(mem)["employer"] == "Acme"
    [job] = [m for m in mem.memories.get_all(user_id="bob") if m.metadata.get("subject")]
    assert (job.text, job.metadata["subject"], job.attribute) == (
        "Carla works at IBM",
        "Carla",
        "employer",
    )
    works = [r for r in mem.memories.relations(user_id="bob") if r.relation == "works_at"]
    assert len(works) == 2


def test_no_one_in_particular_gets_a_home(mem: Engram) -> None:
    say(mem, "She moved to Paris.", at(2022))
    say(mem, "Mom lives in Porto.", at(2022, 2))
    assert not [m for m in mem.memories.get_all(user_id="bob") if m.metadata.get("subject")]


def tell(mem: Engram, *turns: tuple[str, datetime]) -> None:
    """Turns of one session, each added on its own as a chat adds them."""
    for text, when in turns:
        message = Message(role="user", content=text, created_at=when, session_id="s1")
        mem.memories.add(messages=[message], user_id="bob", user_name="Bob")


@pytest.mark.parametrize(
    "fix",
    [
        "sorry, I meant Lily lives in Boulder, not Denver",
        "No wait, Lily lives in Boulder, not Denver",
    ],
)
def test_a_corrected_home_of_someone_else_replaces_the_wrong_one(mem: Engram, fix: str) -> None:
    """Denver never held: Boulder did, from when Denver was said."""
    tell(mem, ("my sister Lily lives in Denver", at(2026, 1, 22, 10)), (fix, at(2026, 1, 22, 11)))
    homes = [m for m in mem.memories.get_all(user_id="bob") if m.attribute == "home_city"]
    assert [(m.text, m.metadata.get("subject")) for m in homes] == [
        ("Lily lives in Boulder", "Lily")
    ]
    assert homes[0].valid_from == at(2026, 1, 22, 10)
    [denver] = [
        m
        for m in mem.memories.get_all(user_id="bob", include_superseded=True)
        if m.attribute == "home_city" and "Denver" in m.text
    ]
    assert denver.valid_to == denver.valid_from  # it never held
    assert "home_city" not in fields(mem)  # Lily's home, not Bob's


def test_a_correction_of_words_no_slot_holds_leaves_no_fact(mem: Engram) -> None:
    tell(
        mem,
        ("I'm applying for postdocs. top choice is the Salk Institute in San Diego", at(2026)),
        ("sorry, I meant Scripps, not Salk", at(2026, 1, 1, 13)),
    )
    assert texts(mem) == []


def test_a_correction_of_a_value_said_turns_before_still_corrects_it(mem: Engram) -> None:
    tell(
        mem,
        ("I live in Lisbon.", at(2026)),
        ("Lisbon is lovely in spring.", at(2026, 1, 1, 13)),
        ("Sorry, I meant Porto, not Lisbon.", at(2026, 1, 1, 14)),
    )
    assert fields(mem)["home_city"] == "Porto"


@pytest.mark.parametrize(
    ("first", "fix", "attribute", "new", "old"),
    [
        (
            "I live in Denver",
            "Sorry, I meant I live in Boulder, not Denver",
            "home_city",
            "Boulder",
            "Denver",
        ),
        (
            "I live in Denver",
            "I meant I live in Boulder, not Denver",
            "home_city",
            "Boulder",
            "Denver",
        ),
        (
            "I live in Denver",
            "No wait, I live in Boulder, not Denver",
            "home_city",
            "Boulder",
            "Denver",
        ),
        (
            "I work at Dell",
            "Sorry, I meant I work at Stripe, not Dell",
            "employer",
            "Stripe",
            "Dell",
        ),
        (
            "I work at Dell",
            "Oops, I meant I work for Stripe, not Dell",
            "employer",
            "Stripe",
            "Dell",
        ),
    ],
)
def test_a_correction_restating_the_whole_statement_corrects_it(
    mem: Engram, first: str, fix: str, attribute: str, new: str, old: str
) -> None:
    """The old value never held: the new one did, from when the old one was said."""
    tell(mem, (first, at(2026, 1, 22, 10)), (fix, at(2026, 1, 22, 11)))
    assert fields(mem)[attribute] == new
    assert slot(mem, attribute, at(2026, 1, 22, 10)) == [new]
    [wrong] = [
        m
        for m in mem.memories.get_all(user_id="bob", include_superseded=True)
        if m.attribute == attribute and old in m.text
    ]
    assert wrong.valid_to == wrong.valid_from  # it never held


@pytest.mark.parametrize(
    "said",
    [
        "I'm leaving Dell",
        "I'm leaving Dell after 6 years",
        "leaving Dell after 6 years, my team threw me a party",
        "leaving Dell after 6 years",
        "I left Dell after 6 years",
    ],
)
def test_leaving_the_employer_ends_it_when_said(mem: Engram, said: str) -> None:
    say(mem, "I work at Dell.", at(2026, 1, 5))
    say(mem, said, at(2026, 4, 8))
    assert "employer" not in fields(mem)
    assert slot(mem, "employer", at(2026, 3)) == ["Dell"]
    [dell] = [
        m
        for m in mem.memories.get_all(user_id="bob", include_superseded=True)
        if m.attribute == "employer" and m.text == "Bob works at Dell"
    ]
    assert dell.valid_to == at(2026, 4, 8)


@pytest.mark.parametrize(
    "said",
    [
        "I'm leaving Dell's office now",
        "leaving for Paris tomorrow, my flight is at 6",
        "I'm leaving Dell next month",
        "I'm leaving Dell tonight, the office closes at 8",
    ],
)
def test_leaving_a_place_for_the_day_or_later_ends_no_job(mem: Engram, said: str) -> None:
    say(mem, "I work at Dell.", at(2026, 1, 5))
    say(mem, said, at(2026, 4, 8))
    assert fields(mem)["employer"] == "Dell"


@pytest.mark.parametrize(
    "said",
    [
        "I PASSED MY DEFENSE. I'm officially Dr. Alvarez",
        "I graduated!",
        "I finished my PhD",
        "I defended my thesis",
        "I just graduated from Boston University",
    ],
)
def test_a_finished_degree_ends_the_school_when_said(mem: Engram, said: str) -> None:
    say(mem, "I'm a PhD student at Boston University.", at(2026, 1, 5))
    say(mem, said, at(2026, 6, 12))
    assert "school" not in fields(mem)
    assert slot(mem, "school", at(2026, 6)) == ["Boston University"]
    [school] = [
        m
        for m in mem.memories.get_all(user_id="bob", include_superseded=True)
        if m.attribute == "school" and "studies at" in m.text
    ]
    assert school.valid_to == at(2026, 6, 12)


@pytest.mark.parametrize(
    "said",
    [
        "I passed my exam",
        "passed my driving test, my instructor was thrilled",
        "I defended my thesis proposal",
        "I got my PhD acceptance letter",
        "I graduated from Harvard in 2015",
        "since I graduated I have been busy",
        "I graduated high school",
    ],
)
def test_an_exam_a_step_or_an_old_graduation_leaves_the_school(mem: Engram, said: str) -> None:
    say(mem, "I'm a PhD student at Boston University.", at(2026, 1, 5))
    say(mem, said, at(2026, 6, 12))
    assert fields(mem)["school"] == "Boston University"
