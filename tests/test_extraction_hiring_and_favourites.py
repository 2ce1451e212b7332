"""Gaps of the rules found in QA, end to end on a SQLite `Engram` (no LLM): a person who
hires the user is no employer ("Maria hired me as a babysitter": the user works as a
babysitter, for Maria), a favourite said as none ("My favourite movie is hard to pick")
fills no slot, and a new job said in more ways ("I've started a new job at Globex", "Just
started my new job at Globex as a designer") retires the employer of before, and the role
of before when it names one. Each beside what looks like it and must read otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from embedders import HashingEmbedder
from engram import Engram, Message


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Engram]:
    with Engram(tmp_path / "hiring.db", embedder=HashingEmbedder()) as engram:
        yield engram


def say(mem: Engram, *texts: str) -> None:
    """The user's turns, each its own add, a day after the one before."""
    for day, text in enumerate(texts, start=1):
        at = datetime(2026, 2, day, tzinfo=UTC)
        mem.memories.add(messages=[Message(role="user", content=text, created_at=at)], user_id="bo")


def fields(mem: Engram, as_of: datetime | None = None) -> dict[str, str]:
    profile = mem.memories.profile("bo", as_of=as_of)
    return dict(profile.fields) if profile else {}


def current(mem: Engram) -> set[str]:
    return {m.text for m in mem.memories.get_all(user_id="bo") if m.kind != "episode"}


@pytest.mark.parametrize(
    ("said", "job", "text"),
    [
        (
            "Maria hired me as a babysitter.",
            "babysitter",
            "The user works as a babysitter for Maria",
        ),
        ("Today Maria hired me as a nanny!", "nanny", "The user works as a nanny for Maria"),
        (
            "The Smiths hired me as a dog walker.",
            "dog walker",
            "The user works as a dog walker for The Smiths",
        ),
        (
            "I got hired by Maria as a babysitter.",
            "babysitter",
            "The user works as a babysitter for Maria",
        ),
        ("I work for Maria as a nanny.", "nanny", "The user works as a nanny for Maria"),
        (
            "Maria Lopez hired me as her assistant.",
            "assistant",
            "The user works as Maria Lopez's assistant",
        ),
    ],
)
def test_a_person_who_hires_the_user_is_no_employer(
    mem: Engram, said: str, job: str, text: str
) -> None:
    say(mem, "I work at Spotify as a designer.", said)
    assert fields(mem) == {"employer": "Spotify", "occupation": job}
    assert text in current(mem)
    works_at = {fact for fact in current(mem) if fact.startswith("The user works at")}
    assert works_at == {"The user works at Spotify"}


@pytest.mark.parametrize(
    ("said", "person"),
    [
        ("Maria hired me!", "Maria"),
        ("Today Tomás hired me.", "Tomás"),
        ("Maria Lopez hired me.", "Maria Lopez"),
    ],
)
def test_a_person_named_alone_who_hires_the_user_is_no_employer(
    mem: Engram, said: str, person: str
) -> None:
    say(mem, "I work at Spotify.", said)
    assert fields(mem) == {"employer": "Spotify"}
    assert f"{person} hired the user" in current(mem)


@pytest.mark.parametrize(
    ("said", "employer"),
    [
        ("Acme Corp hired me as a driver.", "Acme Corp"),
        ("Netflix hired me as a personal assistant.", "Netflix"),
        ("Santa Maria Hospital hired me as a cleaner.", "Santa Maria Hospital"),
        ("Globex hired me as a designer.", "Globex"),
        ("Acme hired me as a driver.", "Acme"),
        ("Netflix hired me!", "Netflix"),
        ("Globex hired me!", "Globex"),
        ("I'm working for Acme as a tutor.", "Acme"),
        ("I work at Acme as a driver.", "Acme"),
    ],
)
def test_a_firm_that_hires_the_user_is_the_employer(mem: Engram, said: str, employer: str) -> None:
    say(mem, "I work at Spotify.", said)
    assert fields(mem)["employer"] == employer


@pytest.mark.parametrize(
    "said",
    [
        "My favourite movie is hard to pick.",
        "my favorite movie is too many to name",
        "My favourite movie is... honestly, hard to pick!",
        "My favourite movie is, I don't have one.",
        "My favourite movie is... it changes.",
        "My favourite movie is it depends on my mood.",
        "My favourite movie's impossible to choose.",
        "My favourite movie is a toss-up between Alien and Heat.",
        "My favourite movie is none.",
    ],
)
def test_a_favourite_said_as_none_fills_no_slot(mem: Engram, said: str) -> None:
    say(mem, said)
    assert "favorite_movie" not in fields(mem)
    say(mem, "My favourite movie is Alien.", said)
    assert fields(mem)["favorite_movie"] == "Alien"


@pytest.mark.parametrize(
    ("said", "movie"),
    [
        ("My favourite movie is Not Another Teen Movie.", "Not Another Teen Movie"),
        ("My favourite show is Always Sunny.", "Always Sunny"),
        ("My favourite movie is Impossible Things.", "Impossible Things"),
    ],
)
def test_a_title_that_opens_like_a_non_answer_is_a_favourite(
    mem: Engram, said: str, movie: str
) -> None:
    say(mem, said)
    assert movie in fields(mem).values()


@pytest.mark.parametrize(
    "said",
    [
        "I've started a new job at Globex.",
        "I have a new job at Globex!",
        "Started my new job at Globex today.",
        "Just started my new job at Globex!",
        "new job at google",
    ],
)
def test_a_new_job_retires_the_employer_of_before(mem: Engram, said: str) -> None:
    say(mem, "I work at Initech as a nurse.", said)
    assert fields(mem)["employer"] in ("Globex", "Google")
    assert fields(mem)["occupation"] == "nurse"  # no new role named: the role is kept
    assert "The user works at Initech" not in current(mem)


@pytest.mark.parametrize(
    "said",
    [
        "Just started my new job at Globex as a designer!",
        "I've started a new job at Globex as a designer.",
        "New job at Globex as a designer!",
        "I got a new job: designer at Globex",
        "I got a new job - a designer at Globex!",
        "New job: designer at Globex",
    ],
)
def test_a_new_job_with_its_role_retires_the_role_of_before(mem: Engram, said: str) -> None:
    say(mem, "I work at Initech as a nurse.", said)
    assert fields(mem) == {"employer": "Globex", "occupation": "designer"}
    assert "The user works as a nurse" not in current(mem)


@pytest.mark.parametrize(
    "said",
    [
        "I have a job interview at Globex.",
        "My sister has a new job at Globex.",
        "Do I have a new job at Globex?",
        "I started my new job search at Globex.",
    ],
)
def test_words_of_a_job_that_is_no_new_one_change_nothing(mem: Engram, said: str) -> None:
    say(mem, "I work at Initech as a nurse.", said)
    assert fields(mem) == {"employer": "Initech", "occupation": "nurse"}


@pytest.mark.parametrize(
    ("said", "employer", "job"),
    [
        ("I work at a bakery as a cleaner.", "a bakery", "cleaner"),
        ("I work at the local gym as a receptionist.", "the local gym", "receptionist"),
    ],
)
def test_an_unnamed_workplace_ends_before_the_role(
    mem: Engram, said: str, employer: str, job: str
) -> None:
    say(mem, said)
    assert fields(mem) == {"employer": employer, "occupation": job}


def plans(mem: Engram) -> dict[str, datetime | None]:
    """The user's plans and when each is to come true (not the values they give a slot)."""
    return {
        m.text: m.valid_from
        for m in mem.memories.get_all(user_id="bo")
        if m.kind != "episode" and m.metadata.get("plan") and m.attribute is None
    }


@pytest.mark.parametrize(
    ("said", "plan", "starts"),
    [
        (
            "I start at Globex next month.",
            "The user will start working at Globex in March 2026",
            datetime(2026, 3, 1, tzinfo=UTC),
        ),
        (
            "Starting Friday I'll be working at Globex.",
            "The user will start working at Globex on 6 February 2026",
            datetime(2026, 2, 6, tzinfo=UTC),
        ),
        (
            "I'm joining Google next month as a designer.",
            "The user will start working at Google as a designer in March 2026",
            datetime(2026, 3, 1, tzinfo=UTC),
        ),
        (
            "Starting next week, I work at Globex.",
            "The user will start working at Globex in the week of 9 February 2026",
            datetime(2026, 2, 9, tzinfo=UTC),
        ),
    ],
)
def test_a_job_to_come_is_a_plan_and_the_employer_of_its_day_stays(
    mem: Engram, said: str, plan: str, starts: datetime
) -> None:
    say(mem, "I work at Initech as a nurse.", said)
    said_on = datetime(2026, 2, 2, 12, tzinfo=UTC)
    assert fields(mem, as_of=said_on) == {"employer": "Initech", "occupation": "nurse"}
    assert plans(mem) == {plan: starts}
    new_employer = plan.removeprefix("The user will start working at ").split()[0]
    assert fields(mem)["employer"] == new_employer  # the job began long before today


@pytest.mark.parametrize(
    "said",
    ["I'm joining Tom next week.", "I'll work for Maria next week.", "I start at 9am tomorrow."],
)
def test_joining_or_working_for_a_person_is_no_job_to_come(mem: Engram, said: str) -> None:
    say(mem, "I work at Initech.", said)
    assert fields(mem) == {"employer": "Initech"}
    assert plans(mem) == {}


def test_an_occupation_one_became_retires_the_one_before_from_when_it_began(mem: Engram) -> None:
    say(mem, "I'm a teacher.", "I became a nurse last year.")
    assert fields(mem) == {"occupation": "nurse"}
    (nurse,) = [m for m in mem.memories.get_all(user_id="bo") if m.attribute == "occupation"]
    assert (nurse.text, nurse.valid_from) == (
        "The user became a nurse in 2025",
        datetime(2025, 1, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize("said", ["I became a better writer.", "I want to become a nurse."])
def test_becoming_better_or_wanting_to_become_keeps_the_occupation(mem: Engram, said: str) -> None:
    say(mem, "I'm a teacher.", said)
    assert fields(mem) == {"occupation": "teacher"}
