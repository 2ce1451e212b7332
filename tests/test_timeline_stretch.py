"""A slot value said again, stretch by stretch: a value said before and after another
value it was learned after (an old chat replayed, an import) holds before that value
and again after it, each stretch a memory with its own sayings, so "as of" any time the
value said latest holds. Nothing is erased: the cut is audited (`supersede`, `add`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engram import Engram, Message
from engram.stores.memory import InMemoryConversationStore
from engram.stores.memory_memories import InMemoryMemoryStore
from engram.types._memory import Memory

pytest_plugins = ["servers"]

DAY0 = datetime(2021, 6, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(params=["sqlite", "postgres", "in-memory"])
def mem(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engram]:
    """An Engram on SQLite, on PostgreSQL (the `servers` plugin's) and in memory."""
    if request.param == "in-memory":
        engram = Engram(InMemoryConversationStore(), memory_store=InMemoryMemoryStore())
    elif request.param == "postgres":
        engram = Engram(request.getfixturevalue("postgres_clean_database"))
    else:
        engram = Engram(str(tmp_path / "memories.db"))
    with engram:
        yield engram


def day(n: float) -> datetime:
    return DAY0 + n * DAY


def say(mem: Engram, text: str, at: datetime) -> None:
    mem.memories.add(messages=[Message(role="user", content=text, created_at=at)], user_id="ana")


def homes(mem: Engram) -> list[Memory]:
    every = mem.memories.get_all(user_id="ana", include_superseded=True)
    return sorted((m for m in every if m.attribute == "home_city"), key=lambda m: (began(m), m.id))


def began(memory: Memory) -> datetime:
    return memory.valid_from or memory.recorded_at


def held(mem: Engram, moment: datetime) -> list[str]:
    """The places the user lived in "as of" `moment`, by their relations."""
    places = {e.id: e.name for e in mem.memories.entities(user_id="ana")}
    relations = mem.memories.relations(user_id="ana", as_of=moment)
    return sorted(places[r.target_id] for r in relations if r.relation == "lives_in")


def found(mem: Engram, moment: datetime | None = None) -> list[str]:
    """The homes `search` finds "as of" `moment` (now: the current ones)."""
    hits = mem.memories.search("Where does the user live?", user_id="ana", as_of=moment)
    return sorted({str(h.memory.metadata["value"]) for h in hits if h.memory.attribute})


def spans(mem: Engram) -> list[tuple[str, float, float | None]]:
    """Each home memory: its value, and the days it held from and to."""
    return [
        (
            str(m.metadata["value"]),
            (began(m) - DAY0) / DAY,
            None if m.valid_to is None else (m.valid_to - DAY0) / DAY,
        )
        for m in homes(mem)
    ]


def current_home(mem: Engram) -> str | None:
    profile = mem.memories.profile("ana")
    return None if profile is None else profile.fields.get("home_city")


def test_a_value_said_again_holds_again_after_a_value_said_between_learned_last(
    mem: Engram,
) -> None:
    """Berlin on day 0 and day 2, then Lisbon said on day 1 (a replayed chat): Berlin
    from day 0 to 1, Lisbon from 1 to 2, Berlin from 2, by memories, relations and
    search; Berlin current; the cut audited, nothing erased."""
    say(mem, "I live in Berlin.", day(0))
    say(mem, "I live in Berlin.", day(2))
    say(mem, "I live in Lisbon.", day(1))
    assert spans(mem) == [("Berlin", 0, 1), ("Lisbon", 1, 2), ("Berlin", 2, None)]
    for moment, city in ((0.5, "Berlin"), (1.5, "Lisbon"), (2.5, "Berlin")):
        assert held(mem, day(moment)) == [city], moment
        assert found(mem, day(moment)) == [city], moment
    assert found(mem) == ["Berlin"] and current_home(mem) == "Berlin"
    first, lisbon, second = homes(mem)
    assert [m.is_current for m in (first, lisbon, second)] == [False, False, True]
    assert first.superseded_by == lisbon.id and lisbon.superseded_by == second.id
    assert "supersede" in {c.action for c in mem.memories.history(first.id)}
    assert [c.action for c in mem.memories.history(second.id)] == ["add"]
    every = [c.action for m in homes(mem) for c in mem.memories.history(m.id)]
    assert "delete" not in every


def test_a_value_said_again_after_another_in_order_holds_again(mem: Engram) -> None:
    """Berlin (day 0), Lisbon (day 1), Berlin (day 2), learned in that order: Berlin as
    of day 0.5, Lisbon as of day 1.5, Berlin now; each statement kept."""
    say(mem, "I live in Berlin.", day(0))
    say(mem, "I live in Lisbon.", day(1))
    say(mem, "I live in Berlin.", day(2))
    assert spans(mem) == [("Berlin", 0, 1), ("Lisbon", 1, 2), ("Berlin", 2, None)]
    for moment, city in ((0.5, "Berlin"), (1.5, "Lisbon"), (3, "Berlin")):
        assert held(mem, day(moment)) == [city], moment
        assert found(mem, day(moment)) == [city], moment
    assert found(mem) == ["Berlin"] and current_home(mem) == "Berlin"


def test_each_saying_between_two_values_starts_a_stretch(mem: Engram) -> None:
    """Berlin on days 0, 2 and 4; Lisbon (day 1) and Oslo (day 3) replayed after: the
    value said latest holds between each two sayings."""
    for n in (0, 2, 4):
        say(mem, "I live in Berlin.", day(n))
    say(mem, "I live in Lisbon.", day(1))
    say(mem, "I live in Oslo.", day(3))
    expected = ["Berlin", "Lisbon", "Berlin", "Oslo", "Berlin"]
    assert [held(mem, day(n + 0.5)) for n in range(5)] == [[city] for city in expected]
    assert current_home(mem) == "Berlin"


def test_two_values_replayed_in_one_add_are_fitted_between_the_sayings(mem: Engram) -> None:
    """Berlin on days 0, 2 and 4; one add replays Lisbon (day 1) and Oslo (day 3): the
    second cuts the stretch the first cut off, and each holds between Berlin's sayings,
    by memories and relations."""
    for n in (0, 2, 4):
        say(mem, "I live in Berlin.", day(n))
    mem.memories.add(
        messages=[
            Message(role="user", content="I live in Lisbon.", created_at=day(1)),
            Message(role="user", content="I live in Oslo.", created_at=day(3)),
        ],
        user_id="ana",
    )
    expected = ["Berlin", "Lisbon", "Berlin", "Oslo", "Berlin"]
    assert [held(mem, day(n + 0.5)) for n in range(5)] == [[city] for city in expected]
    assert [found(mem, day(n + 0.5)) for n in range(5)] == [[city] for city in expected]
    assert [m.metadata["value"] for m in homes(mem) if m.is_current] == ["Berlin"]


def test_a_value_refined_later_is_said_then(mem: Engram) -> None:
    """Lisbon on day 0, refined on day 2 ("Lisbon, Portugal"); Berlin said on day 1
    replayed: the refinement was the user's latest word, so Lisbon stays current, Berlin
    holding from day 1 to 2."""
    say(mem, "I live in Lisbon.", day(0))
    say(mem, "I live in Lisbon, Portugal.", day(2))
    say(mem, "I live in Berlin.", day(1))
    current = [m for m in homes(mem) if m.is_current]
    assert [str(m.metadata["value"]).split(",")[0] for m in current] == ["Lisbon"]
    assert held(mem, day(1.5)) == ["Berlin"]
    assert held(mem, day(0.5)) == ["Lisbon"]


@pytest.mark.parametrize("first", ["Lisbon", "Porto"])
def test_two_values_said_at_one_moment_the_one_learned_later_holds(mem: Engram, first: str) -> None:
    """Porto and Lisbon both said on day 0, Porto again on day 1, learned in either
    order: from day 0 the value learned later alone holds (the rule for a tie), Porto from
    day 1."""
    other = "Porto" if first == "Lisbon" else "Lisbon"
    say(mem, f"I live in {first}.", day(0))
    say(mem, "I live in Porto.", day(1))
    say(mem, f"I live in {other}.", day(0))
    assert held(mem, day(0.5)) == [other]
    assert held(mem, day(1.5)) == ["Porto"]
    assert current_home(mem) == "Porto"


def test_a_memory_edit_that_only_rewords_is_not_a_later_saying(mem: Engram) -> None:
    """Berlin on day 0, its memory reworded by hand (the value kept); Lisbon said on day
    1 replayed: the rewording said no value, so Lisbon, said later, is current."""
    say(mem, "I live in Berlin.", day(0))
    [berlin] = homes(mem)
    mem.memories.update(berlin.id, "Ana lives in Berlin")
    say(mem, "I live in Lisbon.", day(1))
    assert [m.metadata["value"] for m in homes(mem) if m.is_current] == ["Lisbon"]
    assert held(mem, day(0.5)) == ["Berlin"]


@pytest.mark.parametrize("direction", ["into the value said between", "into the value said again"])
def test_an_import_cuts_a_value_said_again_where_the_other_store_learned_a_value_between(
    mem: Engram, direction: str
) -> None:
    """One store learned Berlin on day 0 and day 2, another Lisbon said on day 1: an
    export of either imported into the other (twice: the second import changes nothing)
    is Berlin, Lisbon from day 1, Berlin from day 2."""
    with Engram(InMemoryConversationStore(), memory_store=InMemoryMemoryStore()) as other:
        berlin, lisbon = (other, mem) if direction.endswith("between") else (mem, other)
        say(berlin, "I live in Berlin.", day(0))
        say(berlin, "I live in Berlin.", day(2))
        say(lisbon, "I live in Lisbon.", day(1))
        exported = other.memories.export(user_id="ana")
        for _ in range(2):
            mem.memories.import_(exported)
            assert spans(mem) == [("Berlin", 0, 1), ("Lisbon", 1, 2), ("Berlin", 2, None)]
            for moment, city in ((0.5, "Berlin"), (1.5, "Lisbon"), (2.5, "Berlin")):
                assert held(mem, day(moment)) == [city], moment
                assert found(mem, day(moment)) == [city], moment
            assert found(mem) == ["Berlin"] and current_home(mem) == "Berlin"


@pytest.mark.parametrize("ending", ["I don't live in Berlin anymore.", "I moved out of Berlin."])
def test_an_ending_said_between_two_sayings_learned_last_cuts_the_value(
    mem: Engram, ending: str
) -> None:
    """Berlin on day 0 and day 2, then an ending of it said on day 1 (replayed): as if
    learned in order, Berlin from day 0 to 1, none from 1 to 2, Berlin again from 2."""
    say(mem, "I live in Berlin.", day(0))
    say(mem, "I live in Berlin.", day(2))
    say(mem, ending, day(1))
    assert spans(mem) == [("Berlin", 0, 1), ("none", 1, 2), ("Berlin", 2, None)]
    assert [held(mem, day(n)) for n in (0.5, 1.5, 2.5)] == [["Berlin"], [], ["Berlin"]]
    assert "Berlin" not in found(mem, day(1.5))
    assert found(mem, day(2.5)) == ["Berlin"] and current_home(mem) == "Berlin"
    first, ended, second = homes(mem)
    assert [m.is_current for m in (first, ended, second)] == [False, False, True]
    assert first.superseded_by == ended.id
    assert [c.action for c in mem.memories.history(second.id)] == ["add"]


def test_an_ending_said_between_learned_last_ends_as_one_learned_in_order(mem: Engram) -> None:
    """The late ending leaves the slot as the three statements learned in order do."""
    with Engram(InMemoryConversationStore(), memory_store=InMemoryMemoryStore()) as in_order:
        for text, n in (("I live in Berlin.", 0), ("I moved out of Berlin.", 1)):
            say(in_order, text, day(n))
        say(in_order, "I live in Berlin.", day(2))
        say(mem, "I live in Berlin.", day(0))
        say(mem, "I live in Berlin.", day(2))
        say(mem, "I moved out of Berlin.", day(1))
        assert spans(mem) == spans(in_order)
        moments = [day(n / 4) for n in range(13)]
        assert [held(mem, m) for m in moments] == [held(in_order, m) for m in moments]


def test_an_ending_of_another_value_said_between_cuts_nothing(mem: Engram) -> None:
    say(mem, "I live in Berlin.", day(0))
    say(mem, "I live in Berlin.", day(2))
    say(mem, "I don't live in Paris anymore.", day(1))
    assert spans(mem) == [("Berlin", 0, None)]
    assert [held(mem, day(n)) for n in (0.5, 1.5, 2.5)] == [["Berlin"]] * 3


def test_an_import_of_an_ending_said_between_cuts_the_value(mem: Engram) -> None:
    """A store that learned Berlin on day 0 and day 2 imports another's ending of Berlin
    said on day 1: no Berlin as of day 1.5, Berlin again from day 2."""
    with Engram(InMemoryConversationStore(), memory_store=InMemoryMemoryStore()) as other:
        say(other, "I live in Berlin.", day(0))
        say(other, "I don't live in Berlin anymore.", day(1))
        say(mem, "I live in Berlin.", day(0))
        say(mem, "I live in Berlin.", day(2))
        mem.memories.import_(other.memories.export(user_id="ana"))
    assert [held(mem, day(n)) for n in (0.5, 1.5, 2.5)] == [["Berlin"], [], ["Berlin"]]
    assert current_home(mem) == "Berlin"


@settings(max_examples=15, deadline=None)
@given(
    sayings=st.integers(1, 4),
    at=st.integers(0, 4),
    ending=st.sampled_from(["I moved out of Berlin.", "I don't live in Berlin anymore."]),
)
def test_an_ending_learned_last_holds_as_if_learned_in_order(
    sayings: int, at: int, ending: str
) -> None:
    """Berlin said on some days and an ending of it on another, the ending learned last:
    "as of" every half day and now, the slot is what learning them in order makes it."""
    texts = ["I live in Berlin."] * sayings
    texts.insert(min(at, sayings), ending)
    end = texts.index(ending)

    def learned(order: list[int]) -> Engram:
        engram = Engram(InMemoryConversationStore(), memory_store=InMemoryMemoryStore())
        for n in order:
            say(engram, texts[n], day(n))
        return engram

    with learned(list(range(len(texts)))) as in_order:
        with learned([*(n for n in range(len(texts)) if n != end), end]) as late:
            moments = [day(n / 2) for n in range(2 * len(texts) + 1)]
            assert [held(late, m) for m in moments] == [held(in_order, m) for m in moments]
            assert current_home(late) == current_home(in_order)
