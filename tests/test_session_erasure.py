"""Erasing a session takes what only it said: a slot value another session said too outlives
it, with none of the erased session's provenance, scope or words, on every memory backend.

A value said in two sessions is one memory, the first session's, the second saying's message
ids appended to its provenance (`revision`); `delete_all(session_id=...)` of either session
leaves it, as the other session's."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engram import Engram, Message
from engram.memory.timeline import sayings
from engram.stores.memory import InMemoryConversationStore
from engram.stores.memory_memories import InMemoryMemoryStore
from engram.types._memory import Memory

pytest_plugins = ["servers"]

DAY1 = datetime(2026, 3, 1, 9, tzinfo=UTC)
SECRET = "My favourite colour is quokkamauve."


@pytest.fixture
def mem(every_memory_engram: Engram) -> Engram:
    """An Engram on each memory backend."""
    return every_memory_engram


def say(mem: Engram, session_id: str, text: str, days: int = 0) -> str:
    """Add one user turn of `session_id` (Ana's); return its message id."""
    when = DAY1 + timedelta(days=days)
    turn = Message(role="user", content=text, created_at=when, session_id=session_id)
    mem.memories.add(messages=[turn], user_id="ana", session_id=session_id)
    return turn.id


def home(mem: Engram) -> Memory:
    [memory] = [m for m in mem.memories.get_all(user_id="ana") if m.attribute == "home_city"]
    return memory


def test_a_value_both_sessions_said_outlives_the_first_as_the_seconds(mem: Engram) -> None:
    first = say(mem, "s1", "I live in Berlin.")
    say(mem, "s1", SECRET)
    second = say(mem, "s2", "I live in Berlin.", days=1)
    assert (home(mem).session_id, home(mem).source_ids) == ("s1", (first, second))

    report = mem.memories.delete_all(user_id="ana", session_id="s1")

    # s1's two episodes and its colour go (from the profile too); the home city is s2's now
    assert (report.memories, report.profiles) == (3, 1)
    kept = home(mem)
    assert (kept.session_id, kept.source_ids) == ("s2", (second,))
    assert kept.metadata["source_session"] == "s2"
    assert list(mem.memories.profile("ana").fields.values()) == ["Berlin"]  # type: ignore[union-attr]
    assert mem.memories.get_all(user_id="ana", session_id="s1") == []
    assert mem.memories.search("where do I live?", user_id="ana", session_id="s1") == []
    found = mem.memories.search("where do I live?", user_id="ana", session_id="s2")
    assert kept.id in {hit.memory.id for hit in found}
    assert mem.memories.delete_all(user_id="ana", session_id="s1").memories == 0
    exported = json.dumps(mem.memories.export(user_id="ana"))
    assert "quokka" not in exported
    assert first not in exported  # nor in the history of the memory left
    assert all(first not in m.source_ids for m in mem.memories.get_all(user_id="ana"))
    assert [c.source_ids for c in mem.memories.history(kept.id)] == [(), (second,)]


def test_a_value_both_sessions_said_outlives_the_second_without_its_turns(mem: Engram) -> None:
    first = say(mem, "s1", "I live in Berlin.")
    second = say(mem, "s2", "I live in Berlin.", days=1)

    report = mem.memories.delete_all(session_id="s2")

    assert report.memories == 1  # s2's episode; the value was s1's first
    kept = home(mem)
    assert (kept.session_id, kept.source_ids) == ("s1", (first,))
    assert all(second not in m.source_ids for m in mem.memories.get_all(user_id="ana"))
    assert second not in json.dumps(mem.memories.export(user_id="ana"))


def test_a_value_only_the_erased_session_said_goes(mem: Engram) -> None:
    say(mem, "s1", "I live in Berlin.")
    say(mem, "s2", "I love sushi.", days=1)

    report = mem.memories.delete_all(user_id="ana", session_id="s1")

    assert report.profiles == 1 and report.memories == 2  # the episode and the value
    assert [m for m in mem.memories.get_all(user_id="ana") if m.attribute == "home_city"] == []
    assert "home_city" not in mem.memories.profile("ana").fields  # type: ignore[union-attr]


async def test_the_async_erasure_spares_it_too(mem: Engram) -> None:
    say(mem, "s1", "I live in Berlin.")
    second = say(mem, "s2", "I live in Berlin.", days=1)

    await mem.memories.adelete_all(user_id="ana", session_id="s1")

    assert (home(mem).session_id, home(mem).source_ids) == ("s2", (second,))


def test_a_value_told_two_agents_outlives_the_erasure_of_the_first(mem: Engram) -> None:
    """An agent's scope is no different: what another agent was told too stays, as its."""
    told = [Message(role="user", content="I live in Berlin.", created_at=DAY1)]
    mem.memories.add(messages=told, user_id="ana", agent_id="ops")
    again = Message(role="user", content="I live in Berlin.", created_at=DAY1 + timedelta(1))
    mem.memories.add(messages=[again], user_id="ana", agent_id="support")

    mem.memories.delete_all(agent_id="ops")

    assert (home(mem).agent_id, home(mem).source_ids) == ("support", (again.id,))
    assert mem.memories.get_all(agent_id="ops") == []


SESSIONS = ["s1", "s2", "s3"]
CITIES = ["Berlin", "Porto"]


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sayings=st.lists(
        st.tuples(st.sampled_from(SESSIONS), st.sampled_from(CITIES)), min_size=1, max_size=5
    ),
    erased=st.sampled_from(SESSIONS),
)
def test_nothing_left_names_or_comes_only_from_the_erased_session(
    sayings: list[tuple[str, str]], erased: str
) -> None:
    """Whatever was said where: after erasing a session, no memory is of it or keeps one of
    its message ids, every memory left that came from turns comes from some of them, and
    none is recorded before the first of them said it."""
    with Engram(InMemoryConversationStore(), memory_store=InMemoryMemoryStore()) as mem:
        said: dict[str, list[str]] = {session: [] for session in SESSIONS}
        when: dict[str, datetime] = {}
        for day, (session, city) in enumerate(sayings):
            said[session].append(message := say(mem, session, f"I live in {city}.", day))
            when[message] = DAY1 + timedelta(days=day)
        mem.memories.delete_all(user_id="ana", session_id=erased)
        left = mem.memories.get_all(user_id="ana", include_superseded=True, limit=100)
        assert all(erased not in (m.session_id, m.metadata.get("source_session")) for m in left)
        assert not {s for m in left for s in m.source_ids} & set(said[erased])
        histories = [c for m in left for c in mem.memories.history(m.id)]
        assert not {s for c in histories for s in c.source_ids} & set(said[erased])
        assert all(m.source_ids for m in left)
        assert all(m.recorded_at >= min(when[s] for s in m.source_ids) for m in left)


def test_a_saying_of_an_erased_session_no_longer_counts(mem: Engram) -> None:
    """Berlin said in s1 (day 0) and again in s2 (day 2); s2 erased, Lisbon said on day 1
    (learned last) is the latest word left: s2's saying must not cut Berlin around it."""
    say(mem, "s1", "I live in Berlin.")
    second = say(mem, "s2", "I live in Berlin.", days=2)
    assert [s.source_ids for s in sayings(home(mem))] == [(second,)]

    mem.memories.delete_all(user_id="ana", session_id="s2")

    assert sayings(home(mem)) == []
    say(mem, "s3", "I live in Lisbon.", days=1)
    [current] = [
        m
        for m in mem.memories.get_all(user_id="ana")
        if m.attribute == "home_city" and m.superseded_at is None
    ]
    assert "Lisbon" in current.text


def homes_as_of(mem: Engram, days: float | None) -> list[str]:
    """The home values `search` finds "as of" `days` after DAY1 (None: the current ones)."""
    moment = None if days is None else DAY1 + timedelta(days=days)
    hits = mem.memories.search("Where does the user live?", user_id="ana", as_of=moment)
    return sorted({str(h.memory.metadata["value"]) for h in hits if h.memory.attribute})


def lived_in(mem: Engram, days: float) -> list[str]:
    """The places Ana lived in "as of" `days` after DAY1, by her relations."""
    places = {e.id: e.name for e in mem.memories.entities(user_id="ana")}
    moment = DAY1 + timedelta(days=days)
    relations = mem.memories.relations(user_id="ana", as_of=moment)
    return sorted(places[r.target_id] for r in relations if r.relation == "lives_in")


def test_a_value_kept_after_its_first_saying_is_erased_holds_from_the_next(mem: Engram) -> None:
    """Berlin said in s1 on day 0 and again in s2 on day 5; s1 erased, nothing left says
    Berlin before day 5: the memory is recorded, said and holds from then (its record's
    creation kept), so "as of" day 2 the user lived nowhere known."""
    first = say(mem, "s1", "I live in Berlin.")
    second = say(mem, "s2", "I live in Berlin.", days=5)
    created = home(mem).created_at
    assert homes_as_of(mem, 2) == ["Berlin"]

    mem.memories.delete_all(user_id="ana", session_id="s1")

    kept = home(mem)
    moved = DAY1 + timedelta(days=5)
    assert (kept.session_id, kept.source_ids) == ("s2", (second,))
    assert (kept.recorded_at, kept.valid_from, kept.created_at) == (moved, moved, created)
    assert kept.metadata.get("said_at", moved.isoformat()) == moved.isoformat()
    assert sayings(kept) == []
    assert first not in json.dumps(kept.metadata)
    assert homes_as_of(mem, 2) == []
    assert homes_as_of(mem, 6) == ["Berlin"]
    assert homes_as_of(mem, None) == ["Berlin"]
    assert (lived_in(mem, 2), lived_in(mem, 6)) == ([], ["Berlin"])  # the graph agrees


def test_the_value_it_retired_keeps_its_end_and_the_gap_holds_nothing(mem: Engram) -> None:
    """Porto (day -3), Berlin said in s1 (day 0) and in s2 (day 5), s1 erased: Porto still
    ended on day 0 (erasure infers no value that held on), Berlin holds from day 5."""
    say(mem, "s0", "I live in Porto.", days=-3)
    say(mem, "s1", "I live in Berlin.")
    say(mem, "s2", "I live in Berlin.", days=5)

    mem.memories.delete_all(user_id="ana", session_id="s1")

    assert (homes_as_of(mem, -1), homes_as_of(mem, 2), homes_as_of(mem, 6)) == (
        ["Porto"],
        [],
        ["Berlin"],
    )
    assert homes_as_of(mem, None) == ["Berlin"]
    [porto] = [
        m
        for m in mem.memories.get_all(user_id="ana", include_superseded=True)
        if m.attribute == "home_city" and m.superseded_at is not None
    ]
    assert porto.valid_to == DAY1


def test_a_value_kept_after_its_first_of_three_sayings_keeps_the_third(mem: Engram) -> None:
    say(mem, "s1", "I live in Berlin.")
    say(mem, "s2", "I live in Berlin.", days=5)
    third = say(mem, "s3", "I live in Berlin.", days=7)

    mem.memories.delete_all(user_id="ana", session_id="s1")

    kept = home(mem)
    assert kept.recorded_at == DAY1 + timedelta(days=5)
    assert [(s.at, s.source_ids) for s in sayings(kept)] == [(DAY1 + timedelta(days=7), (third,))]
    assert homes_as_of(mem, 6) == ["Berlin"]
