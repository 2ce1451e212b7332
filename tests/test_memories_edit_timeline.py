"""Hand edits in a slot's timeline: statements said before an edit but learned after it
(a replayed chat, an add that waited for the edit's lock) are fitted among the slot's values
as any statement is, and the edit retires the one left current.

"As of" any time at most one value of a slot holds, for memories and for the relations they
state; a retired memory is retired no earlier than it was recorded, nor than the change
that retired it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random
from tempfile import TemporaryDirectory

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from engram import Engram, Message
from engram.memory.timeline import sayings
from engram.types._memory import Memory, Relation

pytest_plugins = ["servers"]

Y2020 = datetime(2020, 3, 1, 9, 0, tzinfo=UTC)
Y2024 = datetime(2024, 5, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def mem(memory_engram: Engram) -> Engram:
    return memory_engram


def say(mem: Engram, text: str, at: datetime) -> None:
    mem.memories.add(messages=[Message(role="user", content=text, created_at=at)], user_id="ana")


def homes(mem: Engram) -> list[Memory]:
    every = mem.memories.get_all(user_id="ana", include_superseded=True)
    return sorted((m for m in every if m.attribute == "home_city"), key=lambda m: m.recorded_at)


def held(mem: Engram, moment: datetime) -> list[str]:
    """The places the user lived in "as of" `moment`, by their relations."""
    places = {e.id: e.name for e in mem.memories.entities(user_id="ana")}
    relations = mem.memories.relations(user_id="ana", as_of=moment)
    return [places[r.target_id] for r in relations if r.relation == "lives_in"]


def test_statements_replayed_after_a_profile_edit_end_where_the_next_began(mem: Engram) -> None:
    """The home set to Braga by hand; then Lisbon (said in 2020) and Porto (said in 2024)
    replayed, in that order: Lisbon ends where Porto began, for its relation too, and
    both are retired when the edit was made, not when they were said."""
    mem.memories.update_profile("ana", {"home_city": "Braga"})
    edited_at = mem.memories.profile("ana").updated_at  # type: ignore[union-attr]
    say(mem, "I live in Lisbon.", Y2020)
    say(mem, "I live in Porto.", Y2024)
    assert held(mem, Y2024 + 30 * DAY) == ["Porto"]
    assert held(mem, Y2020 + 30 * DAY) == ["Lisbon"]
    lisbon, porto = homes(mem)
    assert lisbon.valid_to == Y2024 and porto.valid_to == edited_at
    assert lisbon.superseded_at is not None and lisbon.superseded_at >= edited_at
    assert porto.superseded_at is not None and porto.superseded_at >= edited_at
    assert mem.memories.profile("ana").fields["home_city"] == "Braga"  # type: ignore[union-attr]


def test_a_statement_replayed_after_the_value_it_preceded_is_retired_when_that_one_was_said(
    mem: Engram,
) -> None:
    """Braga said in 2024, then replaced by a hand edit (Porto, stated from the edit);
    Lisbon, said in 2020, replayed: it held until Braga began, and Engram learned it was
    over no sooner than it learned of Braga. The current value, Porto, made it history."""
    say(mem, "I live in Braga.", Y2024)
    mem.memories.update_profile("ana", {"home_city": "Porto"})
    say(mem, "I live in Lisbon.", Y2020)
    lisbon, braga, porto = homes(mem)
    assert porto.is_current and braga.superseded_by == porto.id
    assert lisbon.valid_to == Y2024 and lisbon.superseded_by == porto.id
    assert lisbon.superseded_at is not None and lisbon.superseded_at >= braga.recorded_at
    assert held(mem, Y2020 + 30 * DAY) == ["Lisbon"]
    assert held(mem, Y2024 + 30 * DAY) == ["Braga"]


def test_a_value_replayed_after_an_edit_retired_its_later_statement_ends_where_that_began(
    mem: Engram,
) -> None:
    """Lisbon said in 2024, replaced by a hand edit (Porto, stated from the edit); Lisbon
    said in 2020 replayed: one stretch of Lisbon each, the older ending where the later
    began (one relation as of any time, not two)."""
    say(mem, "I live in Lisbon.", Y2024)
    mem.memories.update_profile("ana", {"home_city": "Porto"})
    say(mem, "I live in Lisbon.", Y2020)
    older, later, porto = homes(mem)
    assert porto.is_current and later.valid_to == porto.valid_from
    assert older.valid_to == later.valid_from == Y2024
    assert held(mem, Y2024 + 30 * DAY) == ["Lisbon"]
    assert held(mem, Y2020 + 30 * DAY) == ["Lisbon"]


def test_a_relation_ends_with_its_memory_when_a_replay_ends_that_sooner(mem: Engram) -> None:
    """Braga said in 2020, retired by a hand edit (its relation ended then, Porto's began);
    Lisbon, said in 2024, replayed: Braga ended where Lisbon began, and so did its
    relation."""
    say(mem, "I live in Braga.", Y2020)
    mem.memories.update_profile("ana", {"home_city": "Porto"})
    say(mem, "I live in Lisbon.", Y2024)
    braga, _lisbon, porto = homes(mem)
    assert porto.is_current and held(mem, datetime.now(UTC)) == ["Porto"]
    assert braga.valid_to == Y2024
    assert held(mem, Y2024 + 30 * DAY) == ["Lisbon"]
    [relation] = [r for r in mem.memories.relations(user_id="ana") if r.memory_id == braga.id]
    assert relation.valid_to == Y2024


def test_a_value_replayed_before_its_own_later_stretch_ends_where_that_began(
    mem: Engram,
) -> None:
    """Lisbon (day 1), then Porto (day 3), the home then set by hand; Lisbon said on day 0
    and Porto said on day 2 replayed: the first Lisbon is a stretch of Lisbon ending where
    its next statement began, not where Porto did, so "as of" day 2 Porto alone held."""
    say(mem, "I live in Lisbon.", Y2020 + DAY)
    say(mem, "I live in Porto.", Y2020 + 3 * DAY)
    mem.memories.update_profile("ana", {"home_city": "Braga"})
    say(mem, "I live in Lisbon.", Y2020)
    say(mem, "I live in Porto.", Y2020 + 2 * DAY)
    first = homes(mem)[0]
    assert first.valid_to == Y2020 + DAY
    assert held(mem, Y2020 + 2 * DAY + timedelta(hours=1)) == ["Porto"]
    assert held(mem, Y2020 + timedelta(hours=1)) == ["Lisbon"]


def home_field(mem: Engram) -> str | None:
    profile = mem.memories.profile("ana")
    return None if profile is None else profile.fields.get("home_city")


def test_a_statement_replayed_after_a_memory_edit_does_not_undo_it(mem: Engram) -> None:
    """Lisbon said in 2020, the memory edited to Porto by hand; Lisbon said in 2024
    replayed: the edit is the user's latest word (made after 2024), as a profile edit is.
    Porto stays current from its start; the replay never held, retired no earlier than
    the edit; the profile says Porto."""
    say(mem, "I live in Lisbon.", Y2020)
    [lisbon] = homes(mem)
    porto = mem.memories.update(lisbon.id, "The user lives in Porto")
    say(mem, "I live in Lisbon.", Y2024)
    edited, replayed = homes(mem)
    assert edited.id == porto.id and edited.is_current and edited.valid_to is None
    assert edited.valid_from == lisbon.valid_from
    assert not replayed.is_current and replayed.superseded_by == porto.id
    assert replayed.valid_to == replayed.valid_from == Y2024
    assert replayed.superseded_at is not None and replayed.superseded_at >= porto.updated_at
    assert home_field(mem) == "Porto"
    assert held(mem, Y2024 + 30 * DAY) == ["Porto"]
    assert held(mem, Y2020 + 30 * DAY) == ["Porto"]


def test_a_memory_edit_is_the_latest_word_over_a_value_said_within_its_span(
    mem: Engram,
) -> None:
    """Lisbon said on day 1, retired by a hand edit of the profile (Porto); the profile set
    back to Lisbon and Lisbon said on day 0 replayed (current, from day 0); that memory
    edited to Porto: the edit says Porto held from day 0, so the Lisbon said on day 1, before
    the edit, never held, nor did its relation (one home as of day 1, not two)."""
    mem.memories.update_profile("ana", {"home_city": "Porto"})
    say(mem, "I live in Lisbon.", Y2020 + DAY)
    mem.memories.update_profile("ana", {"home_city": "Lisbon"})
    say(mem, "I live in Lisbon.", Y2020)
    [current] = [m for m in homes(mem) if m.is_current]
    porto = mem.memories.update(current.id, "The user lives in Porto")
    [said_later] = [m for m in homes(mem) if m.id != porto.id]
    assert said_later.valid_to == said_later.valid_from == Y2020 + DAY
    [relation] = [r for r in mem.memories.relations(user_id="ana") if r.memory_id == said_later.id]
    assert relation.valid_to == Y2020 + DAY
    assert held(mem, Y2020 + DAY + timedelta(hours=1)) == ["Porto"]
    assert home_field(mem) == "Porto"


def test_a_memory_edit_after_a_profile_edit_sets_the_profile(mem: Engram) -> None:
    """Porto said, the profile set to Porto by hand, then the memory edited to Braga: the
    later edit is the user's latest word, for the profile too."""
    say(mem, "I live in Porto.", Y2020)
    mem.memories.update_profile("ana", {"home_city": "Porto"})
    [porto] = homes(mem)
    braga = mem.memories.update(porto.id, "The user lives in Braga")
    assert home_field(mem) == "Braga"
    say(mem, "I live in Lisbon.", Y2024)
    assert home_field(mem) == "Braga"
    assert [m.id for m in homes(mem) if m.is_current] == [braga.id]


def test_a_memory_edit_stays_the_latest_word_through_export_and_import(tmp_path: Path) -> None:
    """A memory edited by hand, exported and imported elsewhere: a statement said before
    the edit, replayed there, does not undo it."""
    with Engram(str(tmp_path / "a.db")) as a, Engram(str(tmp_path / "b.db")) as b:
        say(a, "I live in Lisbon.", Y2020)
        [lisbon] = homes(a)
        a.memories.update(lisbon.id, "The user lives in Porto")
        b.memories.import_(a.memories.export(user_id="ana"))
        say(b, "I live in Lisbon.", Y2024)
        assert [m.metadata.get("value") for m in homes(b) if m.is_current] == ["Porto"]
        assert home_field(b) == "Porto"


def test_a_value_said_again_stays_current_when_an_older_value_is_replayed(mem: Engram) -> None:
    """Berlin said on day 0 and again on day 2, then Lisbon, said on day 1, replayed: the
    second Berlin, folded into the first, recorded when it was said, so Berlin (the user's
    latest word) stays current; Berlin's memory is cut where Lisbon began, and the second
    saying holds from day 2 as a memory of its own, provenance with it: Berlin day 0-1,
    Lisbon day 1-2, Berlin from day 2."""
    say(mem, "I live in Berlin.", Y2020)
    say(mem, "I live in Berlin.", Y2020 + 2 * DAY)
    [folded] = homes(mem)
    assert [s.at for s in sayings(folded)] == [Y2020 + 2 * DAY]
    say(mem, "I live in Lisbon.", Y2020 + DAY)
    berlin, lisbon, again = homes(mem)
    assert berlin.id == folded.id and berlin.metadata["said_at"] == Y2020.isoformat()
    assert (berlin.valid_to, berlin.superseded_by) == (Y2020 + DAY, lisbon.id)
    assert (lisbon.valid_to, lisbon.superseded_by) == (Y2020 + 2 * DAY, again.id)
    assert again.is_current and again.valid_from == Y2020 + 2 * DAY
    assert again.metadata["value"] == "Berlin" and sayings(berlin) == sayings(again) == []
    assert set(berlin.source_ids) | set(again.source_ids) == set(folded.source_ids)
    assert not set(berlin.source_ids) & set(again.source_ids)
    assert home_field(mem) == "Berlin"
    for day, city in ((0.5, "Berlin"), (1.5, "Lisbon"), (2.5, "Berlin")):
        assert held(mem, Y2020 + day * DAY) == [city], day


def test_an_older_backup_imported_keeps_when_a_value_was_last_said(mem: Engram) -> None:
    """Berlin said on day 0, exported, said again on day 2; the older export imported back
    (a restore): the memory keeps the later saying, so Lisbon, said on day 1 and replayed
    after, holds from day 1 to day 2, Berlin current."""
    say(mem, "I live in Berlin.", Y2020)
    backup = mem.memories.export(user_id="ana")
    say(mem, "I live in Berlin.", Y2020 + 2 * DAY)
    mem.memories.import_(backup)
    [berlin] = homes(mem)
    assert [s.at for s in sayings(berlin)] == [Y2020 + 2 * DAY]
    say(mem, "I live in Lisbon.", Y2020 + DAY)
    assert [m.metadata["value"] for m in homes(mem) if m.is_current] == ["Berlin"]
    assert held(mem, Y2020 + 1.5 * DAY) == ["Lisbon"]
    assert home_field(mem) == "Berlin"


def test_an_import_ends_a_relation_with_its_memory_fitted_sooner(tmp_path: Path) -> None:
    """A learned Berlin (said on day 0), then Lisbon; B learned Berlin said on day 1: A's
    export imported into B, twice, fits A's Berlin to end where B's began, and the
    relation it states ends then too (one relation as of any time, not two)."""
    day1 = Y2020 + DAY
    with Engram(str(tmp_path / "a.db")) as a, Engram(str(tmp_path / "b.db")) as b:
        say(a, "I live in Berlin.", Y2020)
        say(a, "I live in Lisbon.", Y2020 + 2 * DAY)
        say(b, "I live in Berlin.", day1)
        exported = a.memories.export(user_id="ana")
        for _ in range(2):
            b.memories.import_(exported)
            first = homes(b)[0]
            assert first.valid_to == day1
            [relation] = [r for r in b.memories.relations(user_id="ana") if r.memory_id == first.id]
            assert relation.valid_to == day1
            assert held(b, day1 + timedelta(hours=1)) == ["Berlin"]


CITIES = ("Lisbon", "Porto", "Braga")


def _check_one_value_at_a_time(memories: Sequence[Memory], relations: Sequence[Relation]) -> None:
    """At most one home "as of" any moment a span begins or ends, by memories and by
    relations; each retired memory retired no earlier than it, or what retired it, was
    recorded."""
    by_id = {m.id: m for m in memories}
    for m in memories:
        if m.superseded_at is not None:
            assert m.superseded_at >= m.recorded_at, m
            successor = by_id.get(m.superseded_by or "")
            if successor is not None:
                assert m.superseded_at >= successor.recorded_at, (m, successor)
    edges = {m.valid_from or m.recorded_at for m in memories}
    edges |= {m.valid_to for m in memories if m.valid_to is not None}
    edges |= {r.valid_from for r in relations if r.valid_from is not None}
    edges |= {r.valid_to for r in relations if r.valid_to is not None}
    for edge in edges:
        moment = edge + timedelta(seconds=1)
        values = {
            str(m.metadata.get("value"))
            for m in memories
            if (m.valid_from or m.recorded_at) <= moment
            and (m.valid_to is None or moment < m.valid_to)
        }
        assert len(values) <= 1, (moment, values)
        targets = {
            r.target_id
            for r in relations
            if (r.valid_from is None or r.valid_from <= moment)
            and (r.valid_to is None or moment < r.valid_to)
        }
        assert len(targets) <= 1, (moment, targets)


_step = st.one_of(
    st.tuples(st.just("say"), st.sampled_from(CITIES), st.integers(0, 2000)),
    st.tuples(st.just("edit profile"), st.sampled_from(CITIES), st.just(0)),
    st.tuples(st.just("edit memory"), st.sampled_from(CITIES), st.just(0)),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(_step, min_size=2, max_size=6))
@example(steps=[("say", "Lisbon", 0), ("edit memory", "Porto", 0), ("say", "Lisbon", 1500)])
@example(steps=[("say", "Porto", 0), ("edit profile", "Porto", 0), ("edit memory", "Braga", 0)])
@example(
    steps=[
        ("edit profile", "Porto", 0),
        ("say", "Lisbon", 1),
        ("edit profile", "Lisbon", 0),
        ("say", "Lisbon", 0),
        ("edit memory", "Porto", 0),
    ]
)
def test_statements_at_any_dates_and_hand_edits_keep_one_home_at_a_time(
    steps: list[tuple[str, str, int]],
) -> None:
    """Homes said on any days, learned in any order, mixed with hand edits of the profile
    and of the current home's memory: "as of" any time one home held, for the memories
    and for the relations, and nothing was retired before it was known to be over. (Two
    values said at one moment contradict each other: no order settles which held.) Every
    statement was said before every edit (replayed), so the last edit is the user's latest
    word, for the profile and the current memory alike."""
    days = [day for action, _, day in steps if action == "say"]
    assume(len(days) == len(set(days)))
    last_edit: str | None = None
    with TemporaryDirectory() as folder, Engram(str(Path(folder) / "m.db")) as mem:
        for action, city, day in steps:
            if action == "say":
                say(mem, f"I live in {city}.", Y2020 + day * DAY)
            elif action == "edit profile":
                mem.memories.update_profile("ana", {"home_city": city})
                last_edit = city
            else:
                current = [m for m in homes(mem) if m.is_current]
                for memory in current[:1]:
                    mem.memories.update(memory.id, f"The user lives in {city}")
                    if memory.metadata.get("value") != city:  # else no edit was made
                        last_edit = city
        relations = [r for r in mem.memories.relations(user_id="ana") if r.relation == "lives_in"]
        _check_one_value_at_a_time(homes(mem), relations)
        if last_edit is not None:
            assert home_field(mem) == last_edit
            assert {m.metadata.get("value") for m in homes(mem) if m.is_current} <= {last_edit}


def _values_said_last(said: Sequence[tuple[str, int]], day: int) -> set[str]:
    """The values said latest on or before `day`: one, or those said on that one day."""
    latest = max(said_on for _, said_on in said if said_on <= day)
    return {city for city, said_on in said if said_on == latest}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    said=st.lists(st.tuples(st.sampled_from(CITIES), st.integers(0, 12)), min_size=1, max_size=7),
    order=st.randoms(use_true_random=False),
)
@example(said=[("Lisbon", 0), ("Lisbon", 2), ("Porto", 1)], order=None)
@example(said=[("Lisbon", 2), ("Lisbon", 0), ("Porto", 1)], order=None)
@example(said=[("Lisbon", 0), ("Lisbon", 2), ("Lisbon", 4), ("Porto", 1), ("Braga", 3)], order=None)
@example(said=[("Lisbon", 0), ("Porto", 1), ("Porto", 0)], order=None)
@example(said=[("Lisbon", 0), ("Lisbon", 4), ("Braga", 4), ("Porto", 1)], order=None)
def test_as_of_each_saying_the_value_said_latest_holds(
    said: list[tuple[str, int]], order: Random | None
) -> None:
    """Homes said on any days (a value said again and again among others), learned in any
    order: "as of" each day one was said, the home said latest on or before it holds, by
    the memories' spans and by the relations (of two said on that one day, one: the one
    learned later); the current home is the one said last, and nothing is erased."""
    learned = list(said)
    if order is not None:
        order.shuffle(learned)
    with TemporaryDirectory() as folder, Engram(str(Path(folder) / "m.db")) as mem:
        for city, day in learned:
            say(mem, f"I live in {city}.", Y2020 + day * DAY)
        memories = homes(mem)
        for _city, day in said:
            moment = Y2020 + day * DAY
            spans = {
                str(m.metadata.get("value"))
                for m in memories
                if (m.valid_from or m.recorded_at) <= moment
                and (m.valid_to is None or moment < m.valid_to)
            }
            assert len(spans) == 1 and spans <= _values_said_last(said, day), (day, spans)
            assert held(mem, moment) == sorted(spans), day
        current = [str(m.metadata.get("value")) for m in memories if m.is_current]
        assert len(current) == 1, current
        assert current[0] in _values_said_last(said, max(day for _, day in said))
        assert home_field(mem) == current[0]
        for memory in memories:
            assert "delete" not in {change.action for change in mem.memories.history(memory.id)}
