"""Contact details as a support customer states and changes them ("My email is now
bob@new.com", "My email is ann@old.com and my phone number is 555-0100", "Sorry, I meant
555-0101"): the deterministic extractor stores the address or number alone, in its slot, and
a change or correction retires the old value. What is no address or number stores nothing:
a wrong slot value would retire a true one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engram import Engram, Message
from engram.memory import extract
from engram.memory.candidates import Candidate

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def facts(text: str) -> list[Candidate]:
    message = Message(role="user", content=text, created_at=T0)
    return [c for c in extract([message]) if c.kind != "episode"]


def slot(text: str, attribute: str) -> list[str | None]:
    return [c.value for c in facts(text) if c.attribute == attribute]


def profile_after(tmp_path: Path, turns: list[tuple[str, timedelta, str]]) -> dict[str, object]:
    """The profile after each (text, time after T0, session) turn is added on its own."""
    with Engram(tmp_path / "e.db") as mem:
        for text, after, session in turns:
            message = Message(role="user", content=text, created_at=T0 + after, session_id=session)
            mem.memories.add(messages=[message], user_id="u", session_id=session)
        profile = mem.memories.profile("u")
        return dict(profile.fields) if profile else {}


def current_texts(tmp_path: Path, turns: list[str]) -> list[str]:
    with Engram(tmp_path / "e.db") as mem:
        for day, text in enumerate(turns):
            at = T0 + timedelta(days=10 * day)
            message = Message(role="user", content=text, created_at=at, session_id=f"t-{day}")
            mem.memories.add(messages=[message], user_id="u", session_id=f"t-{day}")
        return [m.text for m in mem.memories.get_all(user_id="u", limit=100) if m.kind != "episode"]


# -- the value alone ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("My email is now bob@new.com.", "bob@new.com"),
        ("My email is ann@old.com and my phone number is 555-0100.", "ann@old.com"),
        ("I live in Denver and my email is gus@a.com.", "gus@a.com"),
        ("My email address is ann.lee+shop@mail.example.org.", "ann.lee+shop@mail.example.org"),
        ("My email changed to bob@new.com.", "bob@new.com"),
    ],
)
def test_email_is_the_address_alone(text: str, email: str) -> None:
    assert slot(text, "email") == [email]


@given(
    st.from_regex(r"[a-z]{1,8}(\.[a-z]{1,6})?", fullmatch=True),
    st.from_regex(r"[a-z]{1,8}", fullmatch=True),
    st.sampled_from(["com", "org", "io", "co.uk"]),
    st.sampled_from(["", " and my phone number is 555-0100", " and I live in Denver"]),
)
def test_email_value_is_exactly_the_address_said(
    local: str, domain: str, tld: str, tail: str
) -> None:
    address = f"{local}@{domain}.{tld}"
    assert slot(f"My email is {address}{tail}.", "email") == [address]


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("My email is ann@old.com and my phone number is 555-0100.", "555-0100"),
        ("My phone number is now 555-0199.", "555-0199"),
        ("My number changed to 555-0199.", "555-0199"),
        ("You can reach me at +1 555 123 4567.", "+1 555 123 4567"),
    ],
)
def test_phone_number_is_the_number_alone(text: str, number: str) -> None:
    assert slot(text, "phone_number") == [number]


def test_both_contact_details_of_one_sentence_are_stored() -> None:
    found = facts("My phone number is 555-0100 and my email is ann@old.com.")
    assert {(c.attribute, c.value) for c in found} >= {
        ("phone_number", "555-0100"),
        ("email", "ann@old.com"),
    }


@pytest.mark.parametrize(
    "text",
    [
        "My email is full.",
        "My email is broken again.",
        "My email is the one on file.",
        "My new address is in Austin.",
    ],
)
def test_no_contact_value_from_what_is_none(text: str) -> None:
    assert slot(text, "email") == [] and slot(text, "address") == []


def test_address_keeps_its_city() -> None:
    assert slot("My address is 12 Main St, Boston.", "address") == ["12 Main St, Boston"]


# -- changes and corrections, end to end ----------------------------------------------------


@pytest.mark.parametrize(
    ("first", "change", "field", "value"),
    [
        ("My email is bob@old.com.", "My email is now bob@new.com.", "email", "bob@new.com"),
        ("My email is bob@old.com.", "My email changed to bob@new.com.", "email", "bob@new.com"),
        (
            "My phone number is 555-0100.",
            "My number changed to 555-0199.",
            "phone_number",
            "555-0199",
        ),
        ("My name is Bob Jones.", "My name is now Robert Smith.", "name", "Robert Smith"),
        (
            "My address is 12 Main St, Boston.",
            "My new address is 5 Oak Ave, Austin.",
            "address",
            "5 Oak Ave, Austin",
        ),
    ],
)
def test_a_change_replaces_the_slot_value(
    tmp_path: Path, first: str, change: str, field: str, value: str
) -> None:
    turns = [(first, timedelta(0), "t-1"), (change, timedelta(days=10), "t-2")]
    assert profile_after(tmp_path, turns)[field] == value


@pytest.mark.parametrize(
    ("first", "fix", "field", "value"),
    [
        ("My email is bob@gmial.com.", "Sorry, I meant bob@gmail.com.", "email", "bob@gmail.com"),
        (
            "My email is bob@gmial.com.",
            "Sorry, I meant bob@gmail.com, not bob@gmial.com.",
            "email",
            "bob@gmail.com",
        ),
        ("My phone number is 555-0100.", "Sorry, I meant 555-0101.", "phone_number", "555-0101"),
        ("My phone number is 555-0100.", "Oops, make that 555-0101.", "phone_number", "555-0101"),
    ],
)
def test_a_bare_correction_of_a_contact_detail(
    tmp_path: Path, first: str, fix: str, field: str, value: str
) -> None:
    turns = [(first, timedelta(0), "t-1"), (fix, timedelta(minutes=1), "t-1")]
    assert profile_after(tmp_path, turns)[field] == value


def test_compound_sentence_fills_both_slots_end_to_end(tmp_path: Path) -> None:
    turns = [("My email is ann@old.com and my phone number is 555-0100.", timedelta(0), "t-1")]
    fields = profile_after(tmp_path, turns)
    assert fields["email"] == "ann@old.com" and fields["phone_number"] == "555-0100"


def test_a_name_change_files_a_person_not_a_place(tmp_path: Path) -> None:
    with Engram(tmp_path / "e.db") as mem:
        for day, text in [
            (0, "Hi, my name is Bob Jones."),
            (30, "I got married and changed my name to Robert Smith."),
        ]:
            message = Message(
                role="user",
                content=text,
                created_at=T0 + timedelta(days=day),
                session_id=f"t-{day}",
            )
            mem.memories.add(messages=[message], user_id="u", session_id=f"t-{day}")
        profile = mem.memories.profile("u")
        assert profile is not None and profile.fields["name"] == "Robert Smith"
        kinds = {e.name: e.kind for e in mem.memories.entities(user_id="u")}
        assert kinds.get("Robert Smith") == "person"


def test_the_old_email_is_no_current_memory_after_a_change(tmp_path: Path) -> None:
    texts = current_texts(tmp_path, ["My email is bob@old.com.", "My email is now bob@new.com."])
    assert "The user's email is bob@new.com" in texts
    assert not any("bob@old.com" in text for text in texts)


@pytest.mark.parametrize(
    ("text", "attribute", "value"),
    [
        ("You can email me at bob@new.com.", "email", "bob@new.com"),
        ("Please contact me via ann@shop.io, I check it daily.", "email", "ann@shop.io"),
        ("Call me at 555-0199 please.", "phone_number", "555-0199"),
    ],
)
def test_where_to_reach_the_user(text: str, attribute: str, value: str) -> None:
    assert slot(text, attribute) == [value]


def test_call_me_at_a_number_not_at_a_time() -> None:
    assert slot("Call me at 555-0199 after lunch.", "phone_number") == ["555-0199"]
    assert slot("Call me at 5pm tomorrow.", "phone_number") == []


# -- preferences and what ended ---------------------------------------------------------------


def test_a_preference_over_another_said_with_not_ends_the_other() -> None:
    found = {(c.attribute, c.value) for c in facts("I prefer phone calls now, not email.")}
    assert ("preference:phone_calls", "likes") in found
    assert any(attribute == "preference:email" for attribute, _ in found)


def test_a_switched_contact_preference_is_the_only_one_liked(tmp_path: Path) -> None:
    turns = [
        ("I prefer email over phone calls.", timedelta(0), "t-1"),
        ("I prefer phone calls now, not email.", timedelta(days=20), "t-2"),
    ]
    fields = profile_after(tmp_path, turns)
    assert fields.get("preference:phone_calls") == "likes"
    assert fields.get("preference:email") != "likes"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("I cancelled my premium subscription.", "The user no longer has a premium subscription"),
        ("I canceled my gym membership.", "The user no longer has a gym membership"),
    ],
)
def test_a_cancelled_subscription_is_no_longer_had(text: str, said: str) -> None:
    [found] = facts(text)
    assert found.text == said and found.metadata.get("negates")
