"""How the model's facts become beliefs, through the facade, against a real HTTP server that
plays the model (`openai_server`): whose slot a fact fills, when it starts, what it corrects,
what the model is shown, and what is no memory at all."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engram import Engram, Message
from engram.config import EngramSettings, LLMSettings
from openai_server import FakeOpenAIServer, ReceivedRequest

pytest_plugins = ["openai_server"]

DAY = datetime(2026, 3, 2, 10, tzinfo=UTC)


@pytest.fixture
def mem(tmp_path: Path, openai_server: FakeOpenAIServer) -> Iterator[Engram]:
    llm = LLMSettings(model="fake-model", base_url=openai_server.url, max_retries=0)
    with Engram(tmp_path / "engram.db", settings=EngramSettings(llm=llm)) as engram:
        yield engram


def item(text: str, **fields: object) -> dict[str, object]:
    return {"text": text, "kind": "fact", "sources": [0], **fields}


def home(text: str, city: str, **fields: object) -> dict[str, object]:
    return item(text, **{"kind": "profile", "attribute": "home_city", "value": city, **fields})


def reply_with(*items: dict[str, object]) -> str:
    return json.dumps({"memories": list(items)})


def turn(content: str, when: datetime = DAY, role: str = "user") -> Message:
    return Message(role=role, content=content, created_at=when)  # type: ignore[arg-type]


def add(
    mem: Engram,
    server: FakeOpenAIServer,
    said: str | list[Message],
    *items: dict[str, object],
    user_name: str | None = "Ana",
    when: datetime = DAY,
) -> None:
    server.enqueue_completion(reply_with(*items))
    messages = [turn(said, when)] if isinstance(said, str) else said
    mem.memories.add(messages=messages, user_id="ana", user_name=user_name)


def facts(mem: Engram) -> list[str]:
    return sorted(
        m.text
        for m in mem.memories.get_all(user_id="ana", include_superseded=True)
        if m.kind != "episode"
    )


def prompt_of(request: ReceivedRequest) -> str:
    return str(request.json()["messages"][-1]["content"])


@pytest.mark.parametrize("user_name", ["Ana", None])
def test_a_home_the_text_gives_someone_else_never_retires_the_users(
    mem: Engram, openai_server: FakeOpenAIServer, user_name: str | None
) -> None:
    add(mem, openai_server, "I live in Paris.", home("Ana lives in Paris", "Paris"))
    marta = home("Marta lives in Madrid", "Madrid")  # no `subject`: the text says whose
    later = DAY + timedelta(days=1)
    add(
        mem,
        openai_server,
        "My sister Marta lives in Madrid.",
        marta,
        user_name=user_name,
        when=later,
    )
    assert mem.memories.profile("ana").fields == {"home_city": "Paris"}
    current = {m.text: m.metadata.get("subject") for m in mem.memories.get_all(user_id="ana")}
    assert current["Ana lives in Paris"] is None
    assert current["Marta lives in Madrid"] == "Marta"


def test_a_home_of_the_users_kin_by_their_tie_alone_is_theirs(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    add(mem, openai_server, "I live in Paris.", home("Ana lives in Paris", "Paris"))
    mom = home("Ana's mom lives in Porto", "Porto")
    add(mem, openai_server, "My mom lives in Porto.", mom, when=DAY + timedelta(days=1))
    assert mem.memories.profile("ana").fields == {"home_city": "Paris"}
    [porto] = [m for m in mem.memories.get_all(user_id="ana") if m.text.endswith("in Porto")]
    assert porto.metadata["subject"] == "the user's mom"


def test_a_name_never_said_is_the_users_when_the_model_was_told_no_name(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    add(mem, openai_server, "I live in Porto.", home("Ana lives in Porto", "Porto"), user_name=None)
    assert mem.memories.profile("ana").fields == {"home_city": "Porto"}


def test_the_prompt_asks_whom_each_memory_is_about(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    add(mem, openai_server, "I live in Paris.")
    body = openai_server.requests[0].json()
    schema = body["response_format"]["json_schema"]["schema"]
    assert "subject" in schema["properties"]["memories"]["items"]["required"]
    assert 'subject "Marta"' in body["messages"][0]["content"]


@pytest.mark.parametrize("kind", ["event", "fact", "profile"])
def test_a_move_the_model_calls_an_event_is_the_users_home(
    mem: Engram, openai_server: FakeOpenAIServer, kind: str
) -> None:
    add(mem, openai_server, "I live in Paris.", home("Ana lives in Paris", "Paris"))
    moved = home("Ana moved to Rome in February 2026", "Rome", kind=kind, when="2026-02-01")
    report_day = DAY + timedelta(days=1)
    add(mem, openai_server, "I moved to Rome in February.", moved, when=report_day)
    assert mem.memories.profile("ana").fields == {"home_city": "Rome"}
    assert mem.memories.profile("ana", as_of=report_day).fields == {"home_city": "Rome"}


def test_a_correction_through_the_model_makes_the_old_value_never_true(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    add(mem, openai_server, "I live in Porto.", home("Ana lives in Porto", "Porto"))
    fixed = home("Ana lives in Lisbon, not Porto", "Lisbon")
    later = DAY + timedelta(days=9)
    add(mem, openai_server, "Sorry, I meant Lisbon, not Porto.", fixed, when=later)
    for moment in (DAY + timedelta(days=1), later + timedelta(hours=1)):
        assert mem.memories.profile("ana", as_of=moment).fields == {"home_city": "Lisbon"}
    assert facts(mem) == ["Ana lives in Lisbon, not Porto", "Ana lives in Porto"]


def test_a_move_the_model_dates_later_is_a_plan_not_the_home_now(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    add(mem, openai_server, "I live in Paris.", home("Ana lives in Paris", "Paris"))
    plan = home("Ana will move to Rome in March 2027", "Rome", when="2027-03-01")
    later = DAY + timedelta(days=1)
    add(mem, openai_server, "I'm moving to Rome in March 2027.", plan, when=later)
    assert mem.memories.profile("ana").fields == {"home_city": "Paris"}
    [rome] = [
        m
        for m in mem.memories.get_all(user_id="ana", include_superseded=True)
        if "Rome" in m.text and m.kind != "episode"
    ]
    assert (rome.attribute, rome.metadata.get("plan"), rome.superseded_at) == (None, True, None)


@pytest.mark.parametrize(
    ("said", "when", "starts"),
    [
        ("Ana swims every Saturday", "Saturday", DAY),  # DAY is a Monday: no next Saturday
        ("Ana swims every Saturday", "every Saturday", DAY),
        ("Ana is seeing the dentist on Saturday", "Saturday", datetime(2026, 3, 7, tzinfo=UTC)),
    ],
)
def test_a_day_the_text_says_recurs_dates_no_habit(
    mem: Engram, openai_server: FakeOpenAIServer, said: str, when: str, starts: datetime
) -> None:
    add(mem, openai_server, f"{said}.", item(said, when=when))
    [fact] = [m for m in mem.memories.get_all(user_id="ana") if m.kind != "episode"]
    assert fact.valid_from == starts
    assert fact in mem.memories.get_all(user_id="ana", as_of=starts)


def test_the_model_is_shown_the_question_a_reply_answers_as_context(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    question = turn("Did you move to Rome?", role="assistant")
    answer = turn("Yes, last month.", DAY + timedelta(seconds=5))
    add(mem, openai_server, [question, answer], home("Ana lives in Rome", "Rome"))
    prompt = prompt_of(openai_server.requests[0])
    assert "(context) (2026-03-02) assistant: Did you move to Rome?\n[0] " in prompt
    assert "no source to cite" in prompt
    # Rome is named by the question the user answers: it is no made-up value.
    assert mem.memories.profile("ana").fields == {"home_city": "Rome"}


def test_the_context_shown_is_left_out_when_the_budget_holds_only_the_message(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    question = turn("Which city do you live in now? " + "Tell me more. " * 60, role="assistant")
    answer = turn("Rome.", DAY + timedelta(seconds=5))
    openai_server.enqueue_completion(reply_with())
    mem.memories.add(messages=[question, answer], user_id="ana", max_llm_tokens=700)
    [request] = openai_server.requests
    assert "(context)" not in prompt_of(request)


@pytest.mark.parametrize("text", ["...", "N/A", "null", "???", "---", "<text>"])
def test_a_memory_that_says_nothing_is_dropped(
    mem: Engram, openai_server: FakeOpenAIServer, text: str
) -> None:
    add(mem, openai_server, "Hello there!", item(text), item("Ana says hello"))
    assert facts(mem) == ["Ana says hello"]


def test_a_reply_of_nothing_but_echoed_placeholders_is_retried(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    echo = '{"memories": [{"text": ..., "kind": ..., "sources": [...]}]}'
    openai_server.enqueue_completion(echo)
    add(mem, openai_server, "Hello there!")
    assert len(openai_server.requests) == 2
    assert "the text says nothing" in prompt_of(openai_server.requests[1])
    assert facts(mem) == []


def test_an_invalid_reply_is_the_reason_given_when_no_budget_is_left_to_retry(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    openai_server.enqueue_completion("nope")
    report = mem.memories.add(messages=[turn("I'm vegetarian.")], user_id="ana", max_llm_calls=1)
    [reason] = report.llm_fallbacks
    assert reason.startswith("invalid reply: ") and reason.endswith("no budget left to retry")
