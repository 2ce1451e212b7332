"""Two values of one slot the model reads in one turn ("I moved from Paris to Rome": Paris
and Rome, both `home_city`): which is current goes by what the text says of each, never by
the order the model lists them in, and agrees with the rules' reading (no model)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engram import Engram, Message
from engram.config import EngramSettings, LLMSettings
from openai_server import FakeOpenAIServer

pytest_plugins = ["openai_server"]

DAY = datetime(2026, 3, 2, 10, tzinfo=UTC)
LATER = datetime(2026, 3, 5, 10, tzinfo=UTC)


@pytest.fixture
def mem(tmp_path: Path, openai_server: FakeOpenAIServer) -> Iterator[Engram]:
    llm = LLMSettings(model="fake-model", base_url=openai_server.url, max_retries=0)
    with Engram(tmp_path / "engram.db", settings=EngramSettings(llm=llm)) as engram:
        yield engram


def home(text: str, city: str, **fields: object) -> dict[str, object]:
    return {
        "text": text,
        "kind": "profile",
        "attribute": "home_city",
        "value": city,
        "sources": [0],
        **fields,
    }


def add(mem: Engram, said: str) -> None:
    message = Message(role="user", content=said, created_at=DAY)
    report = mem.memories.add(messages=[message], user_id="ana", user_name="Ana")
    assert report.llm_calls == 1 and not report.llm_fallbacks  # the model's reading


def current_home(mem: Engram) -> tuple[str | None, list[str], list[str]]:
    """The home by the profile, by the current memories and by the relations held now."""
    profile = mem.memories.profile("ana")
    homes = [
        str(m.metadata["value"])
        for m in mem.memories.get_all(user_id="ana")
        if m.attribute == "home_city"
    ]
    places = {e.id: e.name for e in mem.memories.entities(user_id="ana")}
    held = [
        places[r.target_id]
        for r in mem.memories.relations(user_id="ana", as_of=DAY)
        if r.relation == "lives_in"
    ]
    return None if profile is None else profile.fields.get("home_city"), homes, held


PAST_AND_CURRENT = {
    "lived-moved": (home("Ana lived in Paris", "Paris"), home("Ana moved to Rome", "Rome")),
    "used-to": (home("Ana used to live in Paris", "Paris"), home("Ana lives in Rome", "Rome")),
    "one-text": (
        home("Ana moved from Paris to Rome", "Paris"),
        home("Ana moved from Paris to Rome", "Rome"),
    ),
    "earlier-when": (
        home("Ana lives in Paris", "Paris", when="2020-01-01"),
        home("Ana lives in Rome", "Rome"),
    ),
}


@pytest.mark.parametrize("reverse", [False, True], ids=["past-first", "current-first"])
@pytest.mark.parametrize("reading", sorted(PAST_AND_CURRENT))
def test_the_value_the_text_says_is_past_is_the_past_in_any_order(
    mem: Engram, openai_server: FakeOpenAIServer, reading: str, reverse: bool
) -> None:
    """Paris, said as the past ("lived in", "used to", "moved from", an earlier `when`),
    listed before or after Rome: Rome is the home by profile, memories and relations;
    Paris is kept, retired by Rome, holding until Rome began."""
    past, current = PAST_AND_CURRENT[reading]
    items = (current, past) if reverse else (past, current)
    openai_server.enqueue_completion(json.dumps({"memories": list(items)}))
    add(mem, "I moved from Paris to Rome.")
    assert current_home(mem) == ("Rome", ["Rome"], ["Rome"])
    every = mem.memories.get_all(user_id="ana", include_superseded=True)
    paris, rome = sorted((m for m in every if m.attribute == "home_city"), key=lambda m: m.text)
    if paris.metadata["value"] != "Paris":
        paris, rome = rome, paris
    assert paris.superseded_by == rome.id and rome.is_current
    assert paris.valid_to == rome.valid_from


@pytest.mark.parametrize("reverse", [False, True], ids=["paris-first", "rome-first"])
def test_two_values_with_nothing_telling_them_apart_pick_alike_in_any_order(
    mem: Engram, openai_server: FakeOpenAIServer, reverse: bool
) -> None:
    """Neither value said as the past nor dated: the one first in alphabetical order is
    the past (Paris), whichever the model lists last."""
    items = [home("Ana lives in Paris", "Paris"), home("Ana lives in Rome", "Rome")]
    openai_server.enqueue_completion(json.dumps({"memories": items[::-1] if reverse else items}))
    add(mem, "I live in Paris and in Rome.")
    assert current_home(mem) == ("Rome", ["Rome"], ["Rome"])


@pytest.mark.parametrize(
    "said", ["I moved from Paris to Rome.", "I used to live in Paris, now I live in Rome."]
)
def test_the_rules_read_the_same_turn_alike(said: str) -> None:
    """Without a model, the rules make Rome the home too."""
    with Engram(":memory:") as engram:
        engram.memories.add(
            messages=[Message(role="user", content=said, created_at=DAY)], user_id="ana"
        )
        assert current_home(engram) == ("Rome", ["Rome"], ["Rome"])


@pytest.mark.parametrize(
    ("held", "past", "home_now"),
    [
        ("Rome", home("Ana used to live in Paris", "Paris"), "Rome"),
        ("Rome", home("Ana lived in Paris", "Paris"), "Rome"),
        ("Paris", home("Ana used to live in Paris", "Paris"), None),  # the end of it
    ],
)
def test_a_past_told_in_a_later_turn_never_takes_the_current_values_place(
    mem: Engram, openai_server: FakeOpenAIServer, held: str, past: dict[str, object], home_now: str
) -> None:
    """ "I used to live in Paris", told after "I live in Rome": Rome stays the home, as
    without a model; told while Paris is the home, it ends it."""
    openai_server.enqueue_completion(json.dumps({"memories": [home(f"Ana lives in {held}", held)]}))
    add(mem, f"I live in {held}.")
    openai_server.enqueue_completion(json.dumps({"memories": [past]}))
    message = Message(role="user", content="I used to live in Paris.", created_at=LATER)
    mem.memories.add(messages=[message], user_id="ana", user_name="Ana")
    profile = mem.memories.profile("ana")
    assert (profile.fields.get("home_city") if profile else None) == home_now
    assert str(past["text"]) in [m.text for m in mem.memories.get_all(user_id="ana")]
