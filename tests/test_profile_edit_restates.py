"""A hand edit of a profile field states its new value as a memory: the user's fact it
retires is restated in its own words ("The user lives in Faro"), true from the edit, so
the profile, relations, search, `get_all` and a session's context give one answer; and it
is the user's latest word, which a statement said before it and replayed after it does not
undo. (was: the edit retired "The user lives in Lisbon" and recorded Faro in the profile
only: relations, search and `get_all(as_of=now)` knew of no current home.)"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engram import Engram, Message
from engram.types._memory import Memory

pytest_plugins = ["servers"]

FEB = datetime(2026, 2, 1, 10, 0, tzinfo=UTC)
DAY = timedelta(days=1)
CITIES = ["Lisbon", "Faro", "Porto", "Braga"]


@pytest.fixture
def mem(memory_engram: Engram) -> Engram:
    return memory_engram


def say(mem: Engram, text: str, at: datetime) -> None:
    mem.memories.add(messages=[Message(role="user", content=text, created_at=at)], user_id="st")


def homes(mem: Engram, **where: object) -> list[Memory]:
    """The user's home facts, current ones unless `where` says otherwise."""
    every = mem.memories.get_all(user_id="st", **where)  # type: ignore[arg-type]
    return sorted((m for m in every if m.attribute == "home_city"), key=lambda m: m.recorded_at)


def lived_in(mem: Engram, as_of: datetime | None = None) -> list[str]:
    """The places the user lived in, by the relations current (or held `as_of`)."""
    places = {e.id: e.name for e in mem.memories.entities(user_id="st")}
    relations = mem.memories.relations(user_id="st", as_of=as_of)
    return [
        places[r.target_id]
        for r in relations
        if r.relation == "lives_in" and (as_of is not None or r.valid_to is None)
    ]


def test_profile_relations_search_get_all_and_context_agree_after_an_edit(mem: Engram) -> None:
    say(mem, "I live in Lisbon.", FEB)
    [lisbon] = homes(mem)
    fields = mem.memories.update_profile("st", {"home_city": "Faro"}).fields
    assert fields["home_city"] == "Faro"
    assert lived_in(mem) == ["Faro"]
    now = datetime.now(UTC)
    [faro] = homes(mem, as_of=now)
    assert faro.text == "The user lives in Faro" and faro.metadata["value"] == "Faro"
    assert [m.id for m in homes(mem)] == [faro.id]
    hits = mem.memories.search(
        "where does the user live", user_id="st", kinds=["profile", "fact"], record_access=False
    )
    assert [h.memory.id for h in hits] == [faro.id]  # found by its vector and its words
    assert [c.action for c in mem.memories.history(faro.id)] == ["add"]
    [retired] = [m for m in homes(mem, include_superseded=True) if m.id == lisbon.id]
    assert retired.superseded_by == faro.id
    session = mem.session("s2", user_id="st")
    session.add("user", "Where do I live?")
    [system, _] = session.context(model="gpt-4o", budget=2000, recall=4).messages
    assert "home city: Faro" in str(system.content)
    assert "lives in Lisbon" not in str(system.content)


def test_a_statement_replayed_after_the_edit_does_not_undo_it(mem: Engram) -> None:
    """Porto, said a day before the edit but written after it (a replay): Faro stays the
    home, for the memory and the relation as for the profile."""
    say(mem, "I live in Lisbon.", FEB)
    mem.memories.update_profile("st", {"home_city": "Faro"})
    say(mem, "I live in Porto.", datetime.now(UTC) - DAY)
    assert mem.memories.profile("st").fields["home_city"] == "Faro"  # type: ignore[union-attr]
    assert [m.text for m in homes(mem)] == ["The user lives in Faro"]
    assert lived_in(mem) == ["Faro"]
    [porto] = [m for m in homes(mem, include_superseded=True) if "Porto" in m.text]
    assert not porto.is_current


def test_as_of_before_the_edit_the_old_value_holds(mem: Engram) -> None:
    say(mem, "I live in Lisbon.", FEB)
    mem.memories.update_profile("st", {"home_city": "Faro"})
    before = FEB + DAY
    assert [m.text for m in homes(mem, as_of=before)] == ["The user lives in Lisbon"]
    assert lived_in(mem, as_of=before) == ["Lisbon"]
    assert [m.text for m in homes(mem, as_of=datetime.now(UTC))] == ["The user lives in Faro"]


def test_an_edit_of_an_edited_field_restates_it_again_and_removing_it_states_none(
    mem: Engram,
) -> None:
    """Lisbon, edited to Faro, then Tavira, then removed: one home at a time, each
    retiring the last; the removal retires Tavira and states nothing."""
    say(mem, "I live in Lisbon.", FEB)
    mem.memories.update_profile("st", {"home_city": "Faro"})
    mem.memories.update_profile("st", {"home_city": "Tavira"})
    [tavira] = homes(mem)
    assert tavira.text == "The user lives in Tavira" and lived_in(mem) == ["Tavira"]
    every = homes(mem, include_superseded=True)
    [faro] = [m for m in every if m.text == "The user lives in Faro"]
    assert faro.superseded_by == tavira.id
    mem.memories.update_profile("st", {"home_city": None})
    assert homes(mem) == [] and lived_in(mem) == []
    assert "home_city" not in mem.memories.profile("st").fields  # type: ignore[union-attr]
    [gone] = [m for m in homes(mem, include_superseded=True) if m.id == tavira.id]
    assert gone.superseded_by is None and gone.valid_to is not None


def test_the_async_edit_restates_the_value_too(mem: Engram) -> None:
    say(mem, "I live in Lisbon.", FEB)
    profile = asyncio.run(mem.memories.aupdate_profile("st", {"home_city": "Faro"}))
    assert profile.fields["home_city"] == "Faro"
    assert [m.text for m in homes(mem)] == ["The user lives in Faro"]
    assert lived_in(mem) == ["Faro"]


_step = st.one_of(
    st.tuples(st.just("say"), st.sampled_from(CITIES), st.integers(0, 30)),
    st.tuples(st.just("edit"), st.sampled_from(CITIES), st.just(0)),
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(_step, min_size=1, max_size=5))
def test_after_an_edit_replacing_a_stated_home_every_call_names_the_edited_one(
    steps: list[tuple[str, str, int]],
) -> None:
    """Homes said on any days (all before the edits: replays) and profile edits, in any
    order: after an edit that replaced a current home fact, that home is the one current
    memory, the one current relation and the profile field, whatever is replayed later."""
    edited: str | None = None
    with TemporaryDirectory() as folder, Engram(str(Path(folder) / "m.db")) as mem:
        for action, city, day in steps:
            if action == "say":
                say(mem, f"I live in {city}.", FEB + day * DAY)
            else:
                replaced = [m for m in homes(mem) if m.metadata.get("value") != city]
                mem.memories.update_profile("st", {"home_city": city})
                edited = city if replaced else edited
            if edited is not None:
                assert [m.metadata.get("value") for m in homes(mem)] == [edited]
                assert lived_in(mem) == [edited]
                profile = mem.memories.profile("st")
                assert profile is not None and profile.fields["home_city"] == edited
