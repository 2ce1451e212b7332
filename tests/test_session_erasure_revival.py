"""Erasing a session gives back what its memories retired: with the session forgotten, what
Engram knows is what the sessions left said, on every memory backend.

"I live in Lisbon" (s1), then "I moved to Faro" (s2): erasing s2 makes Lisbon current again
(memory, profile field, relation, search, prompt), and the history says so without Faro's
words. A value something left retired stays retired (by it); a name the user was given in
the erased session only leaves the user's entity."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engram import Engram
from engram.stores.memory import InMemoryConversationStore
from engram.stores.memory_memories import InMemoryMemoryStore
from engram.types._memory import Memory
from test_session_erasure import DAY1, lived_in, say

pytest_plugins = ["servers"]


@pytest.fixture
def mem(every_memory_engram: Engram) -> Engram:
    """An Engram on each memory backend."""
    return every_memory_engram


def homes(mem: Engram) -> list[Memory]:
    """Ana's home-city memories, current and retired, the first said first."""
    found = mem.memories.get_all(user_id="ana", include_superseded=True)
    return sorted((m for m in found if m.attribute == "home_city"), key=lambda m: m.valid_from)


def current_homes(mem: Engram) -> list[str]:
    found = mem.memories.get_all(user_id="ana")
    return sorted(str(m.metadata["value"]) for m in found if m.attribute == "home_city")


def test_the_value_an_erased_one_retired_is_current_again(mem: Engram) -> None:
    say(mem, "s1", "I live in Lisbon.")
    say(mem, "s2", "I moved to Faro.", days=1)
    [lisbon, _] = homes(mem)

    mem.memories.delete_all(user_id="ana", session_id="s2")

    [back] = homes(mem)
    assert back.id == lisbon.id
    assert (back.superseded_at, back.superseded_by, back.valid_to) == (None, None, None)
    assert current_homes(mem) == ["Lisbon"]
    assert mem.memories.profile("ana").fields == {"home_city": "Lisbon"}  # type: ignore[union-attr]
    hits = mem.memories.search("Where does the user live?", user_id="ana")
    assert lisbon.id in {hit.memory.id for hit in hits}
    assert lived_in(mem, 2) == ["Lisbon"]  # the graph agrees
    session = mem.session("s3", user_id="ana")
    session.add("user", "Where do I live?")
    [system, _] = session.context(model="gpt-4o", budget=2000, recall=4).messages
    assert "Lisbon" in str(system.content) and "Faro" not in str(system.content)
    history = mem.memories.history(lisbon.id)
    assert [change.action for change in history][-1] == "restore"
    assert "Faro" not in json.dumps([change.to_dict() for change in history])


def test_a_value_the_erased_one_retired_is_retired_by_what_retired_that(mem: Engram) -> None:
    """Lisbon (s1), Faro (s2), Porto (s3); s2 erased: Lisbon is Porto's to retire, true
    until Porto began."""
    say(mem, "s1", "I live in Lisbon.")
    say(mem, "s2", "I moved to Faro.", days=1)
    say(mem, "s3", "I moved to Porto.", days=2)
    [lisbon, _, porto] = homes(mem)

    mem.memories.delete_all(user_id="ana", session_id="s2")

    assert [m.id for m in homes(mem)] == [lisbon.id, porto.id]
    [kept, _] = homes(mem)
    assert (kept.superseded_by, kept.valid_to) == (porto.id, porto.valid_from)
    assert kept.superseded_at == porto.recorded_at
    assert current_homes(mem) == ["Porto"]
    assert (lived_in(mem, 1.5), lived_in(mem, 3)) == (["Lisbon"], ["Porto"])
    assert mem.memories.profile("ana").fields == {"home_city": "Porto"}  # type: ignore[union-attr]
    [change] = [c for c in mem.memories.history(lisbon.id) if c.related_id == porto.id]
    assert change.action == "supersede" and "Faro" not in json.dumps(change.to_dict())


def test_erasing_the_latest_gives_back_the_one_before_not_the_first(mem: Engram) -> None:
    say(mem, "s1", "I live in Lisbon.")
    say(mem, "s2", "I moved to Faro.", days=1)
    say(mem, "s3", "I moved to Porto.", days=2)
    [lisbon, faro, _] = homes(mem)

    mem.memories.delete_all(user_id="ana", session_id="s3")

    assert current_homes(mem) == ["Faro"]
    [first, second] = homes(mem)
    assert (first.superseded_by, second.superseded_by) == (faro.id, None)
    assert first.valid_to == faro.valid_from == lisbon.valid_to
    assert mem.memories.profile("ana").fields == {"home_city": "Faro"}  # type: ignore[union-attr]


def test_a_value_retired_by_one_the_erasure_leaves_stays_retired(mem: Engram) -> None:
    """Faro said in s2 and again in s3: erasing s2 leaves it (as s3's), Lisbon retired."""
    say(mem, "s1", "I live in Lisbon.")
    say(mem, "s2", "I moved to Faro.", days=1)
    say(mem, "s3", "I moved to Faro.", days=2)

    mem.memories.delete_all(user_id="ana", session_id="s2")

    [lisbon, faro] = homes(mem)
    assert (lisbon.superseded_by, faro.session_id) == (faro.id, "s3")
    assert current_homes(mem) == ["Faro"]
    assert not any(c.action == "restore" for c in mem.memories.history(lisbon.id))


def test_a_name_given_in_the_erased_session_leaves_the_users_entity(mem: Engram) -> None:
    say(mem, "s1", "My name is Ana.")
    say(mem, "s2", "Actually, call me Annie.", days=1)
    [me] = [e for e in mem.memories.entities(user_id="ana") if e.kind == "person"]
    assert (me.name, me.aliases) == ("Annie", ("Ana",))

    mem.memories.delete_all(user_id="ana", session_id="s2")

    [me] = [e for e in mem.memories.entities(user_id="ana") if e.kind == "person"]
    assert (me.name, me.aliases) == ("Ana", ())
    assert mem.memories.profile("ana").fields == {"name": "Ana"}  # type: ignore[union-attr]


def test_a_name_only_the_erased_session_gave_goes_back_to_the_users_id(mem: Engram) -> None:
    say(mem, "s1", "I live in Lisbon.")
    say(mem, "s2", "Actually, call me Annie.", days=1)

    mem.memories.delete_all(user_id="ana", session_id="s2")

    [me] = [e for e in mem.memories.entities(user_id="ana") if e.kind == "person"]
    assert (me.name, me.aliases) == ("ana", ())
    assert "Annie" not in json.dumps(mem.memories.export(user_id="ana"))


SESSIONS = ["s1", "s2", "s3"]
CITIES = ["Lisbon", "Faro", "Porto"]
SAYINGS = ["I live in {}.", "I moved to {}."]


def _ingested(sayings: list[tuple[str, str, str, int]], without: str | None) -> Engram:
    """An Engram told `sayings` in order (session, wording, city, day said), but those of
    the session `without`."""
    mem = Engram(InMemoryConversationStore(), memory_store=InMemoryMemoryStore())
    for session, wording, city, day in sayings:
        if session != without:
            say(mem, session, wording.format(city), day)
    return mem


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sayings=st.lists(
        st.tuples(
            st.sampled_from(SESSIONS),
            st.sampled_from(SAYINGS),
            st.sampled_from(CITIES),
            st.integers(0, 5),
        ),
        min_size=1,
        max_size=6,
    ),
    erased=st.sampled_from(SESSIONS),
)
def test_erasing_a_session_leaves_what_the_others_alone_would_have(
    sayings: list[tuple[str, str, str, int]], erased: str
) -> None:
    """After erasing a session, the current home (memory, profile field, relation) is the
    one the same sayings but the session's give. Told in the order said (a replay of an
    older saying filed as history stays retired by the value left that retired it, even if
    an erased saying of that value is why: `test_of_two_values_...` covers a replay)."""
    sayings = sorted(sayings, key=lambda saying: saying[3])  # no replay (see below)
    with _ingested(sayings, None) as mem, _ingested(sayings, erased) as without:
        mem.memories.delete_all(user_id="ana", session_id=erased)
        assert current_homes(mem) == current_homes(without)
        profile, expected = mem.memories.profile("ana"), without.memories.profile("ana")
        assert (profile.fields if profile else {}) == (expected.fields if expected else {})
        assert lived_in(mem, 6) == lived_in(without, 6)


def test_the_chain_of_erased_retirers_is_followed(mem: Engram) -> None:
    """Lisbon (s1), Faro and Braga (s2), Porto (s3): s2's two values erased, Lisbon is
    Porto's to retire, through both."""
    say(mem, "s1", "I live in Lisbon.")
    say(mem, "s2", "I moved to Faro.", days=1)
    say(mem, "s2", "I moved to Braga.", days=2)
    say(mem, "s3", "I moved to Porto.", days=3)

    mem.memories.delete_all(user_id="ana", session_id="s2")

    [lisbon, porto] = homes(mem)
    assert (lisbon.superseded_by, lisbon.valid_to) == (porto.id, DAY1 + timedelta(days=3))
    assert current_homes(mem) == ["Porto"]


def test_of_two_values_an_erased_one_retired_the_latest_said_is_current(mem: Engram) -> None:
    """Lisbon (s1, day 0), Faro (s2, day 2), then Porto said on day 1, replayed after Faro
    (history, retired by Faro); s2 erased: Porto, said after Lisbon, is current."""
    say(mem, "s1", "I live in Lisbon.")
    say(mem, "s2", "I moved to Faro.", days=2)
    say(mem, "s3", "I moved to Porto.", days=1)
    assert current_homes(mem) == ["Faro"]

    mem.memories.delete_all(user_id="ana", session_id="s2")

    [lisbon, porto] = homes(mem)
    assert current_homes(mem) == ["Porto"]
    assert (lisbon.superseded_by, lisbon.valid_to) == (porto.id, porto.valid_from)
    assert mem.memories.profile("ana").fields == {"home_city": "Porto"}  # type: ignore[union-attr]
    assert (lived_in(mem, 0.5), lived_in(mem, 3)) == (["Lisbon"], ["Porto"])


async def test_the_async_erasure_gives_it_back_too(mem: Engram) -> None:
    say(mem, "s1", "I live in Lisbon.")
    say(mem, "s2", "I moved to Faro.", days=1)

    await mem.memories.adelete_all(user_id="ana", session_id="s2")

    assert current_homes(mem) == ["Lisbon"]
    assert mem.memories.profile("ana").fields == {"home_city": "Lisbon"}  # type: ignore[union-attr]
