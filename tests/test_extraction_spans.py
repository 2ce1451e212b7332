"""What the deterministic extractor keeps of a period of the past, a partner's death and a
switch said in passing, through extraction and the public API: a user who says "I worked at
Deloitte from March 2020 to May 2021" expects that job held over that span, neither after it
nor as their job now; "My wife passed away last year" leaves them no partner from then on;
and "I switched to Google" is a new job only where the turn or the session speaks of work,
never a switch of app ("I switched to Google Docs")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embedders import HashingEmbedder
from engram import Engram, Message
from engram.context._recall import memory_line
from engram.memory._phrases import date_phrase
from engram.memory.extraction import extract
from engram.memory.temporal import ground

JUNE = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)
MONTHS = "January February March April May June July August September October November December"


def at(year: int, month: int = 1, day: int = 1) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


def facts_of(*turns: str) -> list:
    """The non-episode candidates of `turns`, one a minute in one session."""
    messages = [
        Message(role="user", content=text, created_at=JUNE + timedelta(minutes=i), session_id="s")
        for i, text in enumerate(turns)
    ]
    return [c for c in extract(messages) if c.kind != "episode"]


def said(text: str, when: datetime) -> Message:
    return Message(role="user", content=text, created_at=when, session_id="chat")


@pytest.fixture
def mem(tmp_path: Path):
    with Engram(tmp_path / "spans.db", embedder=HashingEmbedder()) as engram:
        yield engram


def add(mem: Engram, *turns: tuple[str, datetime]) -> None:
    for text, when in turns:
        mem.memories.add(messages=[said(text, when)], user_id="ana")


def texts_as_of(mem: Engram, query: str, when: datetime | None) -> list[str]:
    hits = mem.memories.search(
        query, user_id="ana", as_of=when, kinds=["fact", "profile", "event"], limit=5
    )
    return [hit.memory.text for hit in hits]


# -- grounding a period ----------------------------------------------------------------


def test_a_period_from_one_month_to_another_is_one_span_ending_after_its_last_month() -> None:
    [span] = ground("I worked at Deloitte from March 2020 to May 2021", JUNE)
    assert span.span == "from March 2020 to May 2021"
    assert (span.start, span.end, span.granularity) == (at(2020, 3), at(2021, 6), "month")


def test_a_period_said_in_two_precisions_is_known_to_the_finer() -> None:
    [span] = ground("between 2019 and May 2021 I was in Porto", JUNE)
    assert (span.start, span.end, span.granularity) == (at(2019), at(2021, 6), "month")


def test_two_times_not_said_as_a_period_stay_two() -> None:
    found = ground("in March 2020 and in May 2021 I went to Rome", JUNE)
    assert [m.span for m in found] == ["March 2020", "May 2021"]
    backwards = ground("from May 2021 to March 2020", JUNE)
    assert len(backwards) == 2  # an end before the start is no period


@pytest.mark.parametrize(
    ("said", "written"),
    [
        ("from March 2020 to May 2021", "from March 2020 to May 2021"),
        ("between 2019 and May 2021", "from January 2019 to May 2021"),
        ("from 3 May 2021 to 9 May 2021", "from 3 May 2021 to 9 May 2021"),
        ("in March 2020", "in March 2020"),
        ("from 2019 to 2021", "from 2019 to 2021"),
    ],
)
def test_a_fact_dated_by_a_period_writes_its_first_and_last_parts(said: str, written: str) -> None:
    [time] = ground(said, JUNE)
    assert date_phrase(time) == written


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2000, 2030),
    st.integers(1, 12),
    st.integers(0, 40),
    st.sampled_from(["to", "until", "through", "-"]),
)
def test_any_period_of_months_holds_from_its_first_month_to_the_end_of_its_last(
    year: int, month: int, more: int, joiner: str
) -> None:
    last_year, last_month = divmod(year * 12 + month - 1 + more, 12)
    first = f"{MONTHS.split()[month - 1]} {year}"
    last = f"{MONTHS.split()[last_month]} {last_year}"
    [span] = ground(f"I was at Acme from {first} {joiner} {last}", JUNE)
    after_year, after_month = divmod(last_year * 12 + last_month + 1, 12)
    assert span.start == at(year, month)
    assert span.end == at(after_year, after_month + 1)
    assert span.granularity == "month"


# -- a job or a home of the past ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fact", "start", "end"),
    [
        (
            "I worked at Deloitte from March 2020 to May 2021",
            "The user worked at Deloitte",
            at(2020, 3),
            at(2021, 6),
        ),
        (
            "I was at Deloitte between 2015 and 2018",
            "The user worked at Deloitte",
            at(2015),
            at(2019),
        ),
        (
            "From 2016 to 2019 I worked at Acme Corp as an engineer",
            "The user worked at Acme Corp",
            at(2016),
            at(2020),
        ),
        ("I worked for Google until 2019", "The user worked at Google", None, at(2020)),
        (
            "I lived in Porto from March 2019 to May 2021",
            "The user used to live in Porto",
            at(2019, 3),
            at(2021, 6),
        ),
        (
            "between 2015 and 2018 I was in Berlin",
            "The user used to live in Berlin",
            at(2015),
            at(2019),
        ),
    ],
)
def test_a_period_of_the_past_is_a_past_value_true_over_it(
    text: str, fact: str, start: datetime | None, end: datetime
) -> None:
    [found] = facts_of(text)
    slot = "home_city" if "live" in fact else "employer"
    assert (found.text, found.attribute, found.valid_from) == (fact, slot, start)
    assert found.metadata["valid_to"] == end.isoformat()


@pytest.mark.parametrize(
    "text",
    [
        "I worked at Google for five years",  # it may go on still
        "I was at Stanford from 2015 to 2019",  # studied there
        "I was at Disneyland from 2015 to 2018",
        "I worked with Google from 2015 to 2018",  # a client
        "I was in Rome from May 3 to May 10",  # a trip
        "I was in Berlin from 2015 to 2018 for a conference",
    ],
)
def test_what_only_looks_like_a_past_job_or_home_states_none(text: str) -> None:
    assert facts_of(text) == []


def test_a_past_job_leaves_the_current_employer_current(mem: Engram) -> None:
    add(
        mem,
        ("I work at Google.", at(2024, 1, 10)),
        ("I worked at Deloitte from March 2020 to May 2021", at(2024, 6, 10)),
    )
    profile = mem.memories.profile("ana")
    assert profile is not None and profile.fields.get("employer") == "Google"
    assert texts_as_of(mem, "Where does the user work?", None)[0] == "The user works at Google"
    then = texts_as_of(mem, "Where did the user work?", at(2020, 6))
    assert "The user worked at Deloitte" in then
    assert "The user worked at Deloitte" not in texts_as_of(mem, "Deloitte", at(2021, 6, 2))


def test_a_past_job_alone_gives_no_current_employer_and_its_relation_ends(mem: Engram) -> None:
    add(mem, ("I worked at Deloitte from March 2020 to May 2021", at(2024, 6, 10)))
    profile = mem.memories.profile("ana")
    assert "employer" not in (profile.fields if profile else {})
    assert "The user worked at Deloitte" not in texts_as_of(mem, "Deloitte", None)
    [works] = [r for r in mem.memories.relations(user_id="ana") if r.relation == "works_at"]
    assert (works.valid_from, works.valid_to) == (at(2020, 3), at(2021, 6))
    assert mem.memories.relations(user_id="ana", as_of=at(2021, 7)) == []


def test_a_past_job_then_a_current_one_keeps_the_current_one(mem: Engram) -> None:
    add(
        mem,
        ("I worked at Deloitte from March 2020 to May 2021", at(2024, 1, 10)),
        ("I work at Google now", at(2024, 6, 10)),
    )
    profile = mem.memories.profile("ana")
    assert profile is not None and profile.fields.get("employer") == "Google"


def test_a_recalled_past_job_reads_its_span_in_months(mem: Engram) -> None:
    add(mem, ("I worked at Deloitte from March 2020 to May 2021", at(2024, 6, 10)))
    [hit] = mem.memories.search(
        "Deloitte", user_id="ana", as_of=at(2020, 6), kinds=["fact"], limit=1
    )
    assert memory_line(hit) == "- [2020-03 to 2021-05] The user worked at Deloitte"


# -- a partner's death --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("My wife passed away last year", at(2023)),
        ("I lost my husband in 2019", at(2019)),
        ("my late wife passed away in 2019", at(2019)),
        ("My girlfriend died in March", at(2024, 3)),
    ],
)
def test_a_partners_death_ends_the_partner_slot_from_then(text: str, start: datetime) -> None:
    found = facts_of(text)
    assert [c.kind for c in found] == ["event", "profile"]
    [ended] = [c for c in found if c.attribute == "partner"]
    assert (ended.value, ended.valid_from, "negates" in ended.metadata) == ("none", start, False)


@pytest.mark.parametrize(
    "text", ["My dad passed away last year", "I lost my mom in 2019", "my business partner died"]
)
def test_another_death_leaves_the_partner_slot_alone(text: str) -> None:
    assert all(c.attribute != "partner" for c in facts_of(text))


def test_after_a_partners_death_the_partner_is_no_longer_current(mem: Engram) -> None:
    add(
        mem,
        ("My wife is Ana", at(2020, 1, 10)),
        ("My wife passed away last year", at(2024, 6, 10)),
    )
    profile = mem.memories.profile("ana")
    assert "partner" not in (profile.fields if profile else {})
    assert "The user's wife is Ana" in texts_as_of(mem, "Who is the user's wife?", at(2022, 6))
    assert "The user's wife is Ana" not in texts_as_of(mem, "Who is the user's wife?", None)
    [partner] = [r for r in mem.memories.relations(user_id="ana") if r.relation == "partner_of"]
    assert partner.valid_to == at(2023)


# -- a switch said in passing ---------------------------------------------------------------


@pytest.mark.parametrize(
    "turns",
    [
        ["I work at Meta.", "I love pizza", "I switched to Google"],  # earlier in the session
        ["My job was killing me. I switched to Google last month"],  # work in the turn
        ["I work at Meta. I'm so tired. I switched to Google"],
    ],
)
def test_a_switch_to_a_company_amid_work_is_a_new_employer(turns: list[str]) -> None:
    employers = [c.value for c in facts_of(*turns) if c.attribute == "employer"]
    assert employers[-1] == "Google"


@pytest.mark.parametrize(
    "switch",
    [
        "I switched to Google Docs",
        "I switched to Google Maps",
        "switched to Firefox",
        "I switched to Firefox",
        "switched to oat milk",
        "I switched to decaf",
        "I switched to Spotify",
    ],
)
def test_a_switch_to_a_product_is_no_job_even_for_one_employed(switch: str) -> None:
    employers = [c.value for c in facts_of("I work at Meta.", switch) if c.attribute == "employer"]
    assert employers == ["Meta"]
    assert [c for c in facts_of(f"My job is fine. {switch}") if c.attribute == "employer"] == []


def test_a_switch_said_alone_is_no_job() -> None:
    assert [c for c in facts_of("I switched to Google") if c.attribute == "employer"] == []


# -- a job lost, said without "I" -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start"),
    [("Lost my job last week", at(2024, 6, 3)), ("Just lost my job!", JUNE)],
)
def test_a_job_lost_said_without_i_ends_the_employer(text: str, start: datetime) -> None:
    [ended] = [c for c in facts_of(text) if c.attribute == "employer"]
    assert (ended.value, ended.valid_from) == ("none", start)


@pytest.mark.parametrize(
    "text",
    [
        "It's been tough going since I lost my job, but I'm fine",
        "I've been my own boss 'cause I lost my job",
        "Lost my keys again",
    ],
)
def test_a_job_loss_told_of_before_is_no_new_ending(text: str) -> None:
    assert [c for c in facts_of(text) if c.attribute == "employer"] == []


def test_a_job_lost_said_without_i_retires_the_employer(mem: Engram) -> None:
    add(mem, ("I work at Google.", at(2024, 1, 10)), ("Lost my job last week", at(2024, 6, 10)))
    profile = mem.memories.profile("ana")
    assert "employer" not in (profile.fields if profile else {})
