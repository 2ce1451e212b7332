"""Slot changes a QA pass found the rule extractor did not read, end to end on a SQLite
`Engram`: a new employer said as where the user is now ("I'm now at Globex"), someone else's
job change ("Carla left Farfetch and joined Zalando": hers, never the user's), a contact
detail to use from now on ("Please use bob@new.com from now on", "Use my new number ...")
and an address to ship to from now on. Each with the look-alikes that must change nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from embedders import HashingEmbedder
from engram import Engram, Memory, Message
from engram.memory.profile import field_text


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Engram]:
    with Engram(tmp_path / "qa-slots.db", embedder=HashingEmbedder()) as engram:
        yield engram


def say(mem: Engram, *texts: str) -> None:
    """Each text a user turn of its own add, a day after the one before."""
    for day, text in enumerate(texts, start=1):
        message = Message(role="user", content=text, created_at=datetime(2026, 1, day, tzinfo=UTC))
        mem.memories.add(messages=[message], user_id="bob")


def fields(mem: Engram) -> dict[str, str]:
    profile = mem.memories.profile("bob")
    return dict(profile.fields) if profile else {}


def facts(mem: Engram) -> dict[str, str | None]:
    """Each current fact's text, with its subject (None: the user)."""
    found = mem.memories.get_all(user_id="bob")
    return {m.text: m.metadata.get("subject") for m in found if m.kind != "episode"}


@pytest.mark.parametrize(
    "said",
    [
        "I'm now at Globex.",
        "I'm at Globex now.",
        "I'm currently at Globex.",
        "I'm at Globex now as a senior PM.",
    ],
)
def test_a_firm_the_user_is_at_now_is_the_new_employer(mem: Engram, said: str) -> None:
    say(mem, "I work at Initech.", said)
    assert fields(mem)["employer"] == "Globex"
    assert "The user works at Initech" not in facts(mem)


@pytest.mark.parametrize(
    "said",
    [
        "I'm at the gym now.",
        "I'm at home.",
        "I'm at Globex.",
        "I'm at Globex right now.",
        "I'm at Starbucks now.",
        "I'm at Walmart now.",
        "I'm at Home Depot now.",
        "I'm at Sarah's now.",
        "I'm at UVA now.",
        "I'm at Level 5 now.",
        "I'm at Bandon Dunes now.",
        "I'm at Wembley Stadium now.",
        "I'm at Grand Central now.",
        "I'm at Harvard now.",
        "I'm now at Hilton.",
        "I'm at Globex now, what should I order for lunch?",
        "I'm at Costco now. What should I get?",
        "I'm at Acme now for an interview.",
    ],
)
def test_where_the_user_is_now_is_no_employer(mem: Engram, said: str) -> None:
    say(mem, "I work at Initech.", said)
    assert fields(mem)["employer"] == "Initech"


@pytest.mark.parametrize(
    "said",
    [
        "Carla left Farfetch and joined Zalando.",
        "Carla quit Farfetch to join Zalando last month.",
        "My friend Carla left Farfetch and joined Zalando.",
    ],
)
def test_someone_elses_job_change_is_theirs(mem: Engram, said: str) -> None:
    say(mem, "I work at Initech.", "Carla works at Farfetch.", said)
    assert fields(mem)["employer"] == "Initech"
    found = facts(mem)
    assert found["Carla works at Zalando, after leaving Farfetch"] == "Carla"
    assert "Carla works at Farfetch" not in found


@pytest.mark.parametrize(
    "said",
    [
        "Carla left her band and joined the choir.",
        "Carla left Reddit and joined Discord.",
        "Carla left early and joined us for dinner.",
    ],
)
def test_someone_leaving_and_joining_no_employer_changes_no_job(mem: Engram, said: str) -> None:
    say(mem, "I work at Initech.", said)
    assert fields(mem) == {"employer": "Initech"}
    assert [text for text in facts(mem) if text.startswith("Carla works")] == []


@pytest.mark.parametrize(
    ("before", "said", "slot", "value"),
    [
        ("My email is bob@old.com.", "Please use bob@new.com from now on.", "email", "bob@new.com"),
        (
            "My email is bob@old.com.",
            "Use my new email bob@new.com, thanks.",
            "email",
            "bob@new.com",
        ),
        (
            "My phone number is 555-0100.",
            "Use my new number 555-0199 from now on",
            "phone_number",
            "555-0199",
        ),
    ],
)
def test_a_contact_detail_to_use_from_now_on_replaces_the_old(
    mem: Engram, before: str, said: str, slot: str, value: str
) -> None:
    say(mem, before, said)
    assert fields(mem)[slot] == value


def test_a_date_to_use_from_now_on_is_no_phone_number(mem: Engram) -> None:
    say(mem, "My phone number is 555-0100.", "Use 2024-01-15 from now on.")
    assert fields(mem)["phone_number"] == "555-0100"


@pytest.mark.parametrize(
    ("said", "address"),
    [
        ("Ship to 5 Main St, Springfield from now on.", "5 Main St, Springfield"),
        ("From now on, ship to 5 Main St, Springfield.", "5 Main St, Springfield"),
        (
            "Going forward, please send my packages to 12 Rua Augusta, Lisbon.",
            "12 Rua Augusta, Lisbon",
        ),
    ],
)
def test_an_address_to_ship_to_from_now_on_replaces_the_old(
    mem: Engram, said: str, address: str
) -> None:
    say(mem, "My address is 1 Old Road, Porto.", said)
    assert fields(mem)["address"] == address


@pytest.mark.parametrize(
    "said",
    [
        "Ship to 5 Main St, Springfield.",
        "Ship it to 5 Main St for my mom's birthday.",
        "Send it to 2 people from now on.",
        "Ship to Lisbon from now on.",
        "Send them to 3 Slack channels from now on.",
    ],
)
def test_a_delivery_not_for_good_or_to_no_street_changes_no_address(mem: Engram, said: str) -> None:
    say(mem, "My address is 1 Old Road, Porto.", said)
    assert fields(mem)["address"] == "1 Old Road, Porto"


# -- abilities, possessions and habits said against each other ------------------------------

MIDWAY = datetime(2026, 1, 1, 12, tzinfo=UTC)
"""After the first of two turns of `say`, before the second."""


def current_and_before(mem: Engram) -> tuple[list[str], list[str]]:
    """The current facts, and those as of between the two turns said."""

    def texts(found: list[Memory]) -> list[str]:
        return sorted(m.text for m in found if m.kind != "episode")

    before = mem.memories.get_all(user_id="bob", as_of=MIDWAY.date())
    return texts(mem.memories.get_all(user_id="bob")), texts(before)


@pytest.mark.parametrize(
    ("first", "then", "was", "now"),
    [
        ("I can swim.", "I can't swim anymore.", ["can swim"], ["can no longer swim"]),
        ("I can no longer swim.", "I can swim again!", ["can no longer swim"], ["can swim"]),
        ("I can't drive.", "I can drive now.", ["cannot drive"], ["can drive"]),
        ("I'm unable to ski.", "I know how to ski.", ["cannot ski"], ["can ski"]),
        (
            "I can speak Spanish.",
            "I can't speak Spanish anymore.",
            ["can speak Spanish"],
            ["can no longer speak Spanish"],
        ),
        ("I own a car.", "I don't own a car.", ["owns a car"], ["doesn't own a car"]),
        (
            "I own a car.",
            "I sold my car.",
            ["owns a car"],
            ["no longer owns a car", "sold their car"],
        ),
        ("I eat meat.", "I don't eat meat.", ["eats meat"], ["doesn't eat meat"]),
        (
            "I don't eat meat.",
            "I eat meat again.",
            ["doesn't eat meat"],
            ["eats meat", "eats meat again"],
        ),
        ("I smoke.", "I don't smoke.", ["smokes"], ["doesn't smoke"]),
        (
            "I play the guitar.",
            "I don't play the guitar anymore.",
            ["plays the guitar"],
            ["no longer plays the guitar"],
        ),
    ],
)
def test_an_ability_possession_or_habit_said_against_the_last_supersedes_it(
    mem: Engram, first: str, then: str, was: list[str], now: list[str]
) -> None:
    say(mem, first, then)
    current, before = current_and_before(mem)
    assert current == [f"The user {text}" for text in now]
    assert before == [f"The user {text}" for text in was]


def test_learning_a_skill_makes_it_an_ability_from_when_learned(mem: Engram) -> None:
    for day, text in ((1, "I cannot swim."), (20, "I learned to swim yesterday.")):
        message = Message(role="user", content=text, created_at=datetime(2026, 1, day, tzinfo=UTC))
        mem.memories.add(messages=[message], user_id="bob")
    [can] = [m for m in mem.memories.get_all(user_id="bob") if m.text == "The user can swim"]
    assert can.valid_from == datetime(2026, 1, 19, tzinfo=UTC)  # the day before it was said
    current = {m.text for m in mem.memories.get_all(user_id="bob")}
    assert "The user cannot swim" not in current
    before = mem.memories.get_all(user_id="bob", as_of=datetime(2026, 1, 10, tzinfo=UTC).date())
    assert "The user cannot swim" in {m.text for m in before}


@pytest.mark.parametrize(
    "said",
    [
        "Can you swim?",
        "Can I drive there?",
        "I can't find my keys.",
        "I can't wait!",
        "I can't believe it.",
        "I can see that.",
        "I can help you.",
        "I can drive you to the airport.",
        "I can cook dinner tonight.",
        "If I could swim, I'd go.",
        "I wish I could ski.",
        "I couldn't swim as a kid.",
        "My son can swim.",
        "My wife can't drive.",
        "I can't believe I can swim now!",
        "I don't own up to it.",
        "I don't play games with people.",
        "I eat fish on Fridays.",
    ],
)
def test_no_ability_possession_or_habit_from_what_is_not_the_users_own_statement(
    mem: Engram, said: str
) -> None:
    say(mem, said)
    assert not [
        text
        for text, subject in facts(mem).items()
        if subject is None and re.search(r"\b(?:can|cannot|owns?|eats|plays)\b", text)
    ]


def profile_block(mem: Engram, asked: str) -> str:
    """The system message of a session's context for `asked` (the profile block in it)."""
    session = mem.session("ask", user_id="bob")
    session.add("user", asked)
    system = session.context(model="gpt-4o", budget=2000, recall=4).messages[0]
    return str(system.content)


@pytest.mark.parametrize(
    ("said", "reads"),
    [
        (["I don't eat meat.", "I eat meat again."], "eats meat"),
        (["I eat meat.", "I don't eat meat."], "doesn't eat meat"),
        (["I eat fish now."], "eats fish"),
        (["I drink coffee."], "drinks coffee"),
        (["I don't drink alcohol."], "doesn't drink alcohol"),
        (["I can't have dairy."], "can't have dairy"),
        (["I smoke.", "I don't smoke."], "doesn't smoke"),
    ],
)
def test_a_habit_reads_as_what_the_user_does_in_the_profile_and_the_context(
    mem: Engram, said: list[str], reads: str
) -> None:
    """(was: "avoids fish: eats", "avoids meat: doesn't eat" in every prompt: the habit's
    slot is `avoids:`, whatever its value says)"""
    say(mem, *said)
    [(attribute, value)] = fields(mem).items()
    assert attribute.startswith("avoids:")
    assert field_text(attribute, value) == reads
    block = profile_block(mem, "What do I eat and drink? Do I smoke?")
    assert reads in block  # the field, or the turn that says it (the field then goes unsaid)
    assert "avoids" not in block


def test_a_hand_edited_habit_value_reads_as_a_field() -> None:
    assert field_text("avoids:gluten", "strictly") == "avoids gluten: strictly"


@pytest.mark.parametrize(
    "then",
    [
        "I've stopped being vegan, I eat fish now, pescatarian I guess",
        "I'm not vegan anymore, pescatarian I guess",
        "I'm not vegan now; pescatarian I think",
        "I'm pescatarian now",
    ],
)
def test_a_new_diet_said_after_the_end_of_the_old_one_is_the_diet(mem: Engram, then: str) -> None:
    """(was: a hedged diet after a comma, "..., pescatarian I guess", was read in the clause
    of "not vegan", so as denied: the diet went, the switch was lost)"""
    say(mem, "I've been vegan for 2 years", then)
    assert fields(mem).get("diet") == "pescatarian"
    assert "The user is vegan" not in facts(mem)


@pytest.mark.parametrize(
    ("moved", "city", "part"),
    [
        ("I moved to Berlin last week! living in Kreuzberg now", "Berlin", "Kreuzberg"),
        ("I moved to Berlin, I live in Kreuzberg", "Berlin", "Kreuzberg"),
        ("We moved to San Diego! We live in North Park now.", "San Diego", "North Park"),
        ("Just moved to Berlin. I'm living in Kreuzberg.", "Berlin", "Kreuzberg"),
    ],
)
def test_a_place_said_with_the_city_moved_to_is_a_part_of_it_not_the_home_city(
    mem: Engram, moved: str, city: str, part: str
) -> None:
    """(was: "home city: Kreuzberg" in every prompt, "moved to Berlin" superseded the day it
    was said)"""
    say(mem, "I live in Chicago", moved)
    assert fields(mem)["home_city"] == city
    current = facts(mem)
    assert f"The user lives in {part}, {city}" in current
    assert f"The user lives in {part}" not in current
    assert any(text.startswith(f"The user moved to {city}") for text in current)
    assert "The user lives in Chicago" not in current


@pytest.mark.parametrize(
    ("then", "home"),
    [
        ("I moved from Berlin to Munich", "Munich"),
        ("I moved to Cambridge, I used to live in Boston", "Cambridge"),
        ("My sister moved to Boston, I live in Somerville", "Somerville"),
        ("I moved to Germany, I live in Kreuzberg", "Kreuzberg"),
        ("I live in Kreuzberg now", "Kreuzberg"),
        ("I moved to Berlin, I live in Munich now", "Munich"),
    ],
)
def test_a_home_with_no_well_known_city_moved_to_beside_it_is_the_home_city(
    mem: Engram, then: str, home: str
) -> None:
    say(mem, "I live in Chicago", then)
    assert fields(mem)["home_city"] == home
