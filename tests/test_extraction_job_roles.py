"""A job change that names the new role makes it the occupation ("I left Farfetch and joined
Google as a product manager": the data analyst of before retired, kept for `as_of`), and a
few more ways of saying where one works, lives or what one loves ("New job at Netflix!",
"I'm a Netflix employee now", "Home is New York City now",
"My favourite movies are Alien and Heat"), each beside what looks like it and says no such
thing. A memory given as text is read as the user saying it when an LLM is configured and
its call fails too (the rules' fallback)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from embedders import HashingEmbedder
from engram import Engram, Message
from engram.config import EngramSettings, LLMSettings
from engram.memory.extraction import extract
from openai_server import FakeOpenAIServer

pytest_plugins = ["openai_server"]

BEFORE = datetime(2026, 9, 1, tzinfo=UTC)
AFTER = datetime(2026, 9, 15, tzinfo=UTC)
JANUARY = datetime(2026, 1, 5, 10, tzinfo=UTC)
FEBRUARY = datetime(2026, 2, 1, tzinfo=UTC)
APRIL = datetime(2026, 4, 8, 10, tzinfo=UTC)
NOVEMBER = datetime(2026, 11, 2, 10, tzinfo=UTC)


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Engram]:
    with Engram(tmp_path / "job-roles.db", embedder=HashingEmbedder()) as engram:
        yield engram


def say(mem: Engram, text: str, when: datetime = AFTER) -> None:
    mem.memories.add(
        messages=[{"role": "user", "content": text, "created_at": when}], user_id="ana"
    )


def fields(mem: Engram) -> dict[str, str]:
    profile = mem.memories.profile("ana")
    return dict(profile.fields) if profile else {}


def current(mem: Engram, **filters: object) -> list[str]:
    found = mem.memories.get_all(user_id="ana", **filters)  # type: ignore[arg-type]
    return [m.text for m in found if m.kind != "episode"]


@pytest.mark.parametrize(
    ("turn", "role"),
    [
        ("Big news: I left Farfetch and joined Google as a product manager.", "product manager"),
        ("I quit Farfetch to join Google as a designer.", "designer"),
        ("I left Farfetch and started at Google as a PM.", "PM"),
        ("I switched from Farfetch to Google as a PM.", "PM"),
        ("Google hired me as a product manager.", "product manager"),
    ],
)
def test_leaving_for_a_new_role_retires_the_old_one(mem: Engram, turn: str, role: str) -> None:
    say(mem, "I work at Farfetch as a data analyst.", BEFORE)
    say(mem, turn)
    assert fields(mem)["employer"] == "Google"
    assert fields(mem)["occupation"] == role
    assert "The user works as a data analyst" not in current(mem)
    before = current(mem, as_of=datetime(2026, 9, 10, tzinfo=UTC))
    assert "The user works as a data analyst" in before


def test_anothers_job_and_a_meetup_leave_the_new_role(mem: Engram) -> None:
    say(mem, "I work at Farfetch as a data analyst.", BEFORE)
    say(mem, "I left Farfetch and joined Google as a product manager.")
    say(mem, "Tom joined Google as a designer.")
    say(mem, "I joined Google's meetup as a guest.")
    say(mem, "I left Google and joined Stripe as a result of the layoffs.")
    assert fields(mem)["employer"] == "Stripe"
    assert fields(mem)["occupation"] == "product manager"


def test_what_one_joins_of_a_company_is_no_employer(mem: Engram) -> None:
    say(mem, "I work at Farfetch as a data analyst.", BEFORE)
    say(mem, "I joined Google's meetup as a guest.")
    say(mem, "I joined Sara's book club.")
    assert fields(mem) == {"employer": "Farfetch", "occupation": "data analyst"}
    say(mem, "I joined McDonald's as a cashier.")
    assert fields(mem) == {"employer": "McDonald's", "occupation": "cashier"}


def test_a_new_job_said_with_no_verb(mem: Engram) -> None:
    say(mem, "I work at Farfetch.", BEFORE)
    for said in ("New job at Netflix for my brother.", "New job at Netflix?"):
        say(mem, said)
    assert fields(mem)["employer"] == "Farfetch"
    say(mem, "New job at Netflix!")
    assert fields(mem)["employer"] == "Netflix"
    say(mem, "Finally, new job at Stripe as a designer!")
    assert fields(mem) == {"employer": "Stripe", "occupation": "designer"}


def test_staff_of_a_company(mem: Engram) -> None:
    say(mem, "I work at Farfetch.", BEFORE)
    for said in ("I'm a former Netflix employee.", "I'm not a Netflix employee."):
        say(mem, said)
    say(mem, "I'm a Netflix employee's wife.")
    assert fields(mem)["employer"] == "Farfetch"
    say(mem, "I'm a Netflix employee now.")
    assert fields(mem)["employer"] == "Netflix"


@pytest.mark.parametrize(
    ("turn", "city"),
    [
        ("Home is New York City now.", "New York City"),
        ("New York City is home now.", "New York City"),
        ("Home is Rio de Janeiro these days.", "Rio de Janeiro"),
    ],
)
def test_home_named_in_three_words(mem: Engram, turn: str, city: str) -> None:
    say(mem, "Home is New York City for the summer.")
    assert "home_city" not in fields(mem)
    say(mem, turn)
    assert fields(mem)["home_city"] == city


@pytest.mark.parametrize(
    "turn", ["My favourite movies are Alien and Heat.", "Favourite movies are Alien and Heat."]
)
def test_favourites_said_together_fill_the_things_slot(mem: Engram, turn: str) -> None:
    say(mem, "My favourite movie is Inception.", BEFORE)
    say(mem, "My favourite movies are hard to pick.")
    say(mem, "My sister's favourite movies are Up and Coco.")
    assert fields(mem)["favorite_movie"] == "Inception"
    say(mem, turn)
    assert fields(mem)["favorite_movie"] == "Alien and Heat"
    assert "The user's favourite movie is Inception" not in current(mem)


@pytest.fixture
def llm_mem(tmp_path: Path, openai_server: FakeOpenAIServer) -> Iterator[Engram]:
    llm = LLMSettings(model="fake-model", base_url=openai_server.url, max_retries=0)
    settings = EngramSettings(llm=llm)
    with Engram(tmp_path / "llm.db", settings=settings, embedder=HashingEmbedder()) as engram:
        yield engram


def test_a_memory_text_is_the_users_when_the_model_fails(
    llm_mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    for _ in range(2):
        openai_server.enqueue_completion("{not json")
    report = llm_mem.memories.add("The user lives in Paris", user_id="ana")
    assert report.llm_fallbacks and len(openai_server.requests) == 2
    assert llm_mem.memories.profile("ana").fields["home_city"] == "Paris"


def test_a_memory_text_is_the_users_when_the_budget_runs_out(
    llm_mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    report = llm_mem.memories.add("Works at Google", user_id="ana", max_llm_tokens=10)
    assert report.llm_fallbacks and openai_server.requests == []
    assert llm_mem.memories.profile("ana").fields["employer"] == "Google"


@pytest.mark.parametrize(
    "turn",
    [
        "I have a full time job at Dell",
        "I've got two kids and a full time job at Dell so no time lol",
        "I have a part-time job at Dell.",
    ],
)
def test_a_job_the_user_has_names_the_employer(mem: Engram, turn: str) -> None:
    say(mem, turn)
    assert fields(mem)["employer"] == "Dell"
    assert not [text for text in current(mem) if text.endswith(("full time", "part-time"))]
    if "two kids" in turn:
        assert fields(mem)["count:kids"] == "2"


@pytest.mark.parametrize(
    "turn",
    [
        "My wife has a full time job at Dell",
        "I had a full time job at Dell",
        "I have a friend with a job at Dell",
        "I accepted the Zillow offer on our house",
    ],
)
def test_a_job_of_anothers_or_of_before_names_no_employer(mem: Engram, turn: str) -> None:
    say(mem, turn)
    assert "employer" not in fields(mem)


def test_an_accepted_offer_is_the_new_job_dated_when_said_not_by_another_clause(
    mem: Engram,
) -> None:
    """ "big launch in December" dates the launch: the job restated beside it holds from
    when the offer was accepted, so it is the employer as of November."""
    say(mem, "I've got two kids and a full time job at Dell so no time lol", JANUARY)
    say(mem, "I accepted the Stripe offer. leaving Dell after 6 years", APRIL)
    say(mem, "work at Stripe is intense rn btw, big launch in December", NOVEMBER)
    assert fields(mem)["employer"] == "Stripe"
    for when, employer in ((FEBRUARY, "Dell"), (datetime(2026, 11, 20, tzinfo=UTC), "Stripe")):
        profile = mem.memories.profile("ana", as_of=when.date())
        assert profile is not None and profile.fields["employer"] == employer
    [stripe] = [m for m in mem.memories.get_all(user_id="ana") if m.attribute == "employer"]
    assert stripe.valid_from == APRIL


@pytest.mark.parametrize(
    ("turn", "start"),
    [
        ("work at Stripe is intense rn btw, big launch in December", NOVEMBER),
        ("I work at Stripe; the launch is in December", NOVEMBER),
        ("I joined Stripe, last month", datetime(2026, 10, 1, tzinfo=UTC)),
        ("Last month, I joined Stripe", datetime(2026, 10, 1, tzinfo=UTC)),
    ],
)
def test_a_job_is_dated_by_the_time_of_its_own_clause(turn: str, start: datetime) -> None:
    said = Message(role="user", content=turn, created_at=NOVEMBER)
    [job] = [c for c in extract([said]) if c.attribute == "employer"]
    assert job.valid_from == start
