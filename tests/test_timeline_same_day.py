"""Two moves said the same day, each "today": "I moved to Lisbon today" at 09:00, "I moved
to Faro today" at 18:00. Both are grounded to that day's start; the one said later begins
when it was said (`timeline.same_day_start`), so "as of" any time that day one home held:
Lisbon until 18:00, Faro from then. Nothing is erased."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from engram import Engram
from test_timeline_stretch import found, held, homes, say
from test_timeline_stretch import mem as mem  # the per-backend fixture

pytest_plugins = ["servers"]

MARCH_1 = datetime(2025, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def home_as_of(mem: Engram, moment: datetime) -> str | None:
    """The home the profile gives "as of" `moment`."""
    profile = mem.memories.profile("ana", as_of=moment)
    return None if profile is None else profile.fields.get("home_city")


def listed(mem: Engram, moment: datetime) -> list[str]:
    """The homes `get_all` lists "as of" `moment`."""
    every = mem.memories.get_all(user_id="ana", as_of=moment)
    return sorted(str(m.metadata["value"]) for m in every if m.attribute == "home_city")


def test_two_moves_said_today_each_hold_from_when_said(mem: Engram) -> None:
    """Porto in January; Lisbon "today" at 09:00, Faro "today" at 18:00: Lisbon as of
    10:00, Faro as of 19:00 and the next day, and now; all three kept."""
    say(mem, "I live in Porto.", datetime(2025, 1, 1, 9, tzinfo=UTC))
    say(mem, "I moved to Lisbon today.", MARCH_1 + 9 * HOUR)
    say(mem, "I moved to Faro today.", MARCH_1 + 18 * HOUR)
    for hour in (10, 17):
        assert home_as_of(mem, MARCH_1 + hour * HOUR) == "Lisbon", hour
        assert listed(mem, MARCH_1 + hour * HOUR) == ["Lisbon"], hour
        assert held(mem, MARCH_1 + hour * HOUR) == ["Lisbon"], hour
    for moment in (MARCH_1 + 19 * HOUR, MARCH_1 + 30 * HOUR):
        assert home_as_of(mem, moment) == "Faro", moment
        assert listed(mem, moment) == ["Faro"], moment
    assert home_as_of(mem, datetime(2025, 2, 1, tzinfo=UTC)) == "Porto"
    assert mem.memories.profile("ana").fields["home_city"] == "Faro"
    porto, lisbon, faro = homes(mem)
    assert [m.metadata["value"] for m in (porto, lisbon, faro)] == ["Porto", "Lisbon", "Faro"]
    assert lisbon.valid_to == faro.valid_from == MARCH_1 + 18 * HOUR
    assert lisbon.superseded_by == faro.id and faro.is_current
    assert "supersede" in {c.action for c in mem.memories.history(lisbon.id)}


@pytest.mark.parametrize("gap", [timedelta(days=7), timedelta(days=1)])
def test_moves_said_on_other_days_keep_their_grounded_start(mem: Engram, gap: timedelta) -> None:
    """Lisbon "yesterday", said on 1 March; Faro "yesterday", said a week (or a day) later:
    Faro begins the day before it was said, not when said; Lisbon holds until then."""
    said = MARCH_1 + 9 * HOUR
    say(mem, "I moved to Lisbon yesterday.", said)
    say(mem, "I moved to Faro yesterday.", said + gap)
    lisbon, faro = homes(mem)
    faro_start = MARCH_1 + gap - timedelta(days=1)
    assert faro.valid_from == lisbon.valid_to == faro_start
    assert home_as_of(mem, faro_start - HOUR) == "Lisbon"
    assert home_as_of(mem, faro_start + HOUR) == "Faro"


def test_two_moves_said_today_with_no_home_before(mem: Engram) -> None:
    """No home known before: Lisbon "today" at 09:00, Faro "today" at 18:00 are still one
    home at a time, by profile, memories and search."""
    say(mem, "I moved to Lisbon today.", MARCH_1 + 9 * HOUR)
    say(mem, "I moved to Faro today.", MARCH_1 + 18 * HOUR)
    assert home_as_of(mem, MARCH_1 + 10 * HOUR) == "Lisbon"
    assert listed(mem, MARCH_1 + 10 * HOUR) == ["Lisbon"]
    assert found(mem, MARCH_1 + 10 * HOUR) == ["Lisbon"]
    assert home_as_of(mem, MARCH_1 + 19 * HOUR) == "Faro"
    assert found(mem, MARCH_1 + 19 * HOUR) == ["Faro"]
    assert [m.metadata["value"] for m in homes(mem)] == ["Lisbon", "Faro"]


@pytest.mark.parametrize("reverse", [False, True], ids=["in-order", "learned-in-reverse"])
def test_two_moves_said_today_learned_in_either_order_hold_alike(
    mem: Engram, reverse: bool
) -> None:
    """Lisbon "today" said at 09:00, Faro "today" at 18:00, learned in that order or the
    other (the 09:00 chat replayed after the 18:00 one): Lisbon from the day's start until
    18:00, Faro from then, either way; never a Lisbon that held over nothing."""
    said = [("I moved to Lisbon today.", MARCH_1 + 9 * HOUR)]
    said.append(("I moved to Faro today.", MARCH_1 + 18 * HOUR))
    for text, at in reversed(said) if reverse else said:
        say(mem, text, at)
    lisbon, faro = homes(mem)
    assert [lisbon.metadata["value"], faro.metadata["value"]] == ["Lisbon", "Faro"]
    assert (lisbon.valid_from, lisbon.valid_to) == (MARCH_1, MARCH_1 + 18 * HOUR)
    assert (faro.valid_from, faro.valid_to) == (MARCH_1 + 18 * HOUR, None)
    assert lisbon.superseded_by == faro.id and faro.is_current
    for hour, home in ((1, "Lisbon"), (12, "Lisbon"), (19, "Faro"), (30, "Faro")):
        assert listed(mem, MARCH_1 + hour * HOUR) == [home], hour
        assert home_as_of(mem, MARCH_1 + hour * HOUR) == home, hour
    assert mem.memories.profile("ana").fields["home_city"] == "Faro"


@pytest.mark.parametrize("reverse", [False, True], ids=["in-order", "learned-in-reverse"])
def test_two_moves_said_today_relations_start_with_their_memories(
    mem: Engram, reverse: bool
) -> None:
    """Lisbon "today" at 09:00, Faro "today" at 18:00, learned in either order: Faro's
    `lives_in`, stored from the day's start when Faro was learned first, starts at 18:00
    with its memory once Lisbon is learned; "as of" noon the user lived in Lisbon only."""
    said = [("I moved to Lisbon today.", MARCH_1 + 9 * HOUR)]
    said.append(("I moved to Faro today.", MARCH_1 + 18 * HOUR))
    for text, at in reversed(said) if reverse else said:
        say(mem, text, at)
    places = {e.id: e.name for e in mem.memories.entities(user_id="ana")}
    spans = {
        places[r.target_id]: (r.valid_from, r.valid_to)
        for r in mem.memories.relations(user_id="ana")
        if r.relation == "lives_in"
    }
    assert spans == {
        "Lisbon": (MARCH_1, MARCH_1 + 18 * HOUR),
        "Faro": (MARCH_1 + 18 * HOUR, None),
    }
    for hour, home in ((1, "Lisbon"), (12, "Lisbon"), (17, "Lisbon"), (19, "Faro"), (30, "Faro")):
        assert held(mem, MARCH_1 + hour * HOUR) == [home], hour


@settings(max_examples=20, deadline=None)
@given(
    moves=st.lists(
        st.tuples(st.sampled_from(["Lisbon", "Faro", "Braga", "Porto"]), st.integers(1, 23)),
        min_size=2,
        max_size=4,
        unique_by=(lambda move: move[0], lambda move: move[1]),
    )
)
@example(moves=[("Faro", 18), ("Lisbon", 9)])  # learned in reverse
@example(moves=[("Lisbon", 9), ("Braga", 13), ("Faro", 18)])  # three, in order
@example(moves=[("Faro", 18), ("Braga", 13), ("Lisbon", 9)])
def test_moves_said_today_learned_in_any_order_hold_as_told_in_order(
    moves: list[tuple[str, int]],
) -> None:
    """Moves "today" said at several hours of one day, learned in any order: the one said
    first holds from the day's start, each other from when it was said, until the next;
    "as of" any hour, the home said latest by then (the first, before it was said)."""
    with Engram(":memory:") as engram:
        for city, hour in moves:
            say(engram, f"I moved to {city} today.", MARCH_1 + hour * HOUR)
        told = sorted(moves, key=lambda move: move[1])
        for hour in range(24):
            moment = MARCH_1 + hour * HOUR + HOUR / 2
            home = [city for city, said in told if said <= hour + 0.5][-1:] or [told[0][0]]
            assert listed(engram, moment) == home, hour
            assert held(engram, moment) == home, hour
        assert engram.memories.profile("ana").fields["home_city"] == told[-1][0]
