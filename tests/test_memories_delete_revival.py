"""Deleting a memory gives back what it retired, as erasing its session does, on every
memory backend: "I live in Lisbon", then "I moved to Faro"; `delete` of the Faro fact makes
Lisbon current again, with its profile field, its relation and a `restore` in its history
(`forget`, decay by policy, gives nothing back). Down a chain (Lisbon, Faro, Porto), Lisbon
is Porto's to retire."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engram import Engram
from engram.memory import ForgettingPolicy
from engram.stores.memory import InMemoryConversationStore
from engram.stores.memory_memories import InMemoryMemoryStore
from engram.types._memory import Memory
from test_session_erasure import lived_in, say
from test_session_erasure_revival import current_homes, homes

pytest_plugins = ["servers"]


@pytest.fixture
def mem(every_memory_engram: Engram) -> Engram:
    """An Engram on each memory backend."""
    return every_memory_engram


def episode_of(mem: Engram, fact: Memory) -> Memory:
    """The episode of the turn that said `fact`."""
    found = mem.memories.get_all(user_id="ana", include_superseded=True)
    [episode] = [m for m in found if m.kind == "episode" and m.source_ids == fact.source_ids]
    return episode


def fields(mem: Engram) -> dict[str, str]:
    profile = mem.memories.profile("ana")
    return dict(profile.fields) if profile else {}


@pytest.mark.parametrize("episode", ["none", "before", "after"])
def test_deleting_the_value_that_retired_another_makes_it_current_again(
    mem: Engram, episode: str
) -> None:
    say(mem, "a", "I live in Lisbon.")
    say(mem, "b", "I moved to Faro.", days=60)
    [lisbon, faro] = homes(mem)
    doomed = {
        "none": [faro],
        "before": [episode_of(mem, faro), faro],
        "after": [faro, episode_of(mem, faro)],
    }[episode]

    for memory in doomed:
        mem.memories.delete(memory.id)

    [back] = homes(mem)
    assert back.id == lisbon.id
    assert (back.superseded_at, back.superseded_by, back.valid_to) == (None, None, None)
    assert current_homes(mem) == ["Lisbon"]
    assert fields(mem) == {"home_city": "Lisbon"}
    assert lived_in(mem, 90) == ["Lisbon"]  # the relation is open again
    history = mem.memories.history(lisbon.id)
    assert history[-1].action == "restore"
    assert "Faro" not in json.dumps([change.to_dict() for change in history])


def test_deleting_the_middle_of_a_chain_leaves_the_first_retired_by_the_last(
    mem: Engram,
) -> None:
    say(mem, "a", "I live in Lisbon.")
    say(mem, "b", "I moved to Faro.", days=1)
    say(mem, "c", "I moved to Porto.", days=2)
    [lisbon, faro, porto] = homes(mem)

    mem.memories.delete(faro.id)

    [kept, last] = homes(mem)
    assert (kept.id, last.id) == (lisbon.id, porto.id)
    assert (kept.superseded_by, kept.valid_to) == (porto.id, porto.valid_from)
    assert current_homes(mem) == ["Porto"]
    assert fields(mem) == {"home_city": "Porto"}
    assert (lived_in(mem, 1.5), lived_in(mem, 3)) == (["Lisbon"], ["Porto"])
    [change] = [c for c in mem.memories.history(lisbon.id) if c.related_id == porto.id]
    assert change.action == "supersede" and "Faro" not in json.dumps(change.to_dict())


def test_deleting_a_name_names_the_user_as_what_is_left_does(mem: Engram) -> None:
    say(mem, "a", "My name is Ana.")
    say(mem, "b", "Actually, call me Annie.", days=1)
    [annie] = [m for m in mem.memories.get_all(user_id="ana") if m.attribute == "name"]

    mem.memories.delete(annie.id)

    [me] = [e for e in mem.memories.entities(user_id="ana") if e.kind == "person"]
    assert (me.name, me.aliases) == ("Ana", ())
    assert fields(mem) == {"name": "Ana"}


def test_forgetting_by_policy_gives_nothing_back(mem: Engram) -> None:
    """Decay is not a retraction: "I moved to Faro" forgotten does not make Lisbon true."""
    say(mem, "a", "I live in Lisbon.")
    say(mem, "b", "I moved to Faro.", days=1)
    [lisbon, faro] = homes(mem)
    mem.memories.update(lisbon.id, pinned=True)  # all else is older than the max age

    mem.memories.forget(ForgettingPolicy(max_age=timedelta(0), keep_profile=False), user_id="ana")

    assert [m.id for m in mem.memories.get_all(user_id="ana", include_superseded=True)] == [
        lisbon.id
    ]
    assert current_homes(mem) == []
    assert fields(mem) == {}


async def test_the_async_delete_gives_it_back_too(mem: Engram) -> None:
    say(mem, "a", "I live in Lisbon.")
    say(mem, "b", "I moved to Faro.", days=1)
    [_, faro] = homes(mem)

    await mem.memories.adelete(faro.id)

    assert current_homes(mem) == ["Lisbon"]
    assert fields(mem) == {"home_city": "Lisbon"}


SAYINGS = ["I live in {}.", "I moved to {}."]
CITIES = ["Lisbon", "Faro", "Porto"]


def _told(sayings: list[tuple[str, str, int]]) -> Engram:
    """An Engram told `sayings` in order (wording, city, day said), each in a session of
    its own."""
    mem = Engram(InMemoryConversationStore(), memory_store=InMemoryMemoryStore())
    for index, (wording, city, day) in enumerate(sayings):
        say(mem, f"s{index}", wording.format(city), day)
    return mem


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sayings=st.lists(
        st.tuples(st.sampled_from(SAYINGS), st.sampled_from(CITIES), st.integers(0, 5)),
        min_size=1,
        max_size=5,
    ),
    pick=st.integers(0, 10),
)
def test_deleting_a_fact_said_once_gives_back_what_erasing_its_session_does(
    sayings: list[tuple[str, str, int]], pick: int
) -> None:
    """A home-city fact one turn said: `delete` of it leaves the current home (memory,
    profile field, relation) that `delete_all` of that turn's session leaves."""
    sayings = sorted(sayings, key=lambda saying: saying[2])
    with _told(sayings) as deleted, _told(sayings) as erased:
        once = [m for m in homes(deleted) if len(m.source_ids) == 1]
        if not once:
            return
        fact = once[pick % len(once)]
        deleted.memories.delete(fact.id)
        erased.memories.delete_all(user_id="ana", session_id=fact.session_id)
        assert current_homes(deleted) == current_homes(erased)
        assert fields(deleted).get("home_city") == fields(erased).get("home_city")
        assert lived_in(deleted, 6) == lived_in(erased, 6)
