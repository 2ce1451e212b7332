"""A past span of a slot overlapping another value: "I moved to Lisbon in 2020", then "I
lived in Porto from 2019 to 2021". The value said later wins over the overlap, as it does
over any span (`timeline.ends`), so "as of" any time one home held, by memories, relations
and search; the value cut is audited and nothing is erased."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random
from tempfile import TemporaryDirectory

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engram import Engram
from test_memories_edit_timeline import _check_one_value_at_a_time
from test_timeline_stretch import current_home, found, held, homes, say
from test_timeline_stretch import mem as mem  # the per-backend fixture

pytest_plugins = ["servers"]

JAN = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
FEB = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
MID_2021 = datetime(2021, 6, 1, tzinfo=UTC)
Y2023 = datetime(2023, 1, 1, tzinfo=UTC)


def listed(mem: Engram, moment: datetime) -> list[str]:
    """The homes `get_all` lists "as of" `moment`."""
    every = mem.memories.get_all(user_id="ana", as_of=moment)
    return sorted(str(m.metadata["value"]) for m in every if m.attribute == "home_city")


def everywhere(mem: Engram, moment: datetime) -> list[str]:
    """The one home memories, relations and search agree on "as of" `moment`."""
    homes_held = held(mem, moment)
    assert listed(mem, moment) == homes_held, moment
    assert found(mem, moment) == homes_held, moment
    return homes_held


def test_a_past_span_said_later_cuts_the_current_value_it_overlaps(mem: Engram) -> None:
    """Lisbon since 2020 (said in January), then Porto from 2019 to 2021 (said in
    February): Porto alone as of mid-2021, Lisbon from 2022 on and current; Lisbon's
    first stretch retired by Porto (never held: Porto began first), its second a new
    memory; both audited, nothing erased."""
    say(mem, "I moved to Lisbon in 2020.", JAN)
    say(mem, "I lived in Porto from 2019 to 2021.", FEB)
    assert everywhere(mem, MID_2021) == ["Porto"]
    assert everywhere(mem, Y2023) == ["Lisbon"]
    assert found(mem) == ["Lisbon"] and current_home(mem) == "Lisbon"
    first, porto, second = sorted(homes(mem), key=lambda m: (m.valid_to is None, m.recorded_at))
    assert (first.metadata["value"], porto.metadata["value"]) == ("Lisbon", "Porto")
    assert first.valid_to == first.valid_from and first.superseded_by == porto.id
    assert second.metadata["value"] == "Lisbon" and second.is_current
    assert second.valid_from == porto.valid_to == datetime(2022, 1, 1, tzinfo=UTC)
    assert "supersede" in {c.action for c in mem.memories.history(first.id)}
    assert [c.action for c in mem.memories.history(second.id)] == ["add"]
    assert "delete" not in {c.action for m in homes(mem) for c in mem.memories.history(m.id)}


def test_a_past_span_said_inside_the_current_value_leaves_it_both_sides(mem: Engram) -> None:
    """Lisbon since 2015, then Porto from 2019 to 2021: Lisbon up to 2019, Porto over
    2019-2021, Lisbon again from 2022."""
    say(mem, "I moved to Lisbon in 2015.", JAN)
    say(mem, "I lived in Porto from 2019 to 2021.", FEB)
    assert everywhere(mem, datetime(2017, 6, 1, tzinfo=UTC)) == ["Lisbon"]
    assert everywhere(mem, MID_2021) == ["Porto"]
    assert everywhere(mem, Y2023) == ["Lisbon"]
    assert current_home(mem) == "Lisbon"


@pytest.mark.parametrize("replayed", [False, True])
def test_a_value_said_after_a_past_span_clips_it(mem: Engram, replayed: bool) -> None:
    """Porto from 2019 to 2021 said in January, Lisbon since 2020 said in February,
    learned in that order or the other (an old chat replayed): Porto ends where Lisbon
    began, for its relation too; Lisbon current."""
    spoken = [("I lived in Porto from 2019 to 2021.", JAN), ("I moved to Lisbon in 2020.", FEB)]
    for text, at in reversed(spoken) if replayed else spoken:
        say(mem, text, at)
    assert everywhere(mem, datetime(2019, 6, 1, tzinfo=UTC)) == ["Porto"]
    assert everywhere(mem, MID_2021) == ["Lisbon"]
    [porto] = [m for m in homes(mem) if m.metadata["value"] == "Porto"]
    assert porto.valid_to == datetime(2020, 1, 1, tzinfo=UTC)
    assert current_home(mem) == "Lisbon"


def test_a_value_said_earlier_again_ends_a_value_a_later_span_cut_short(mem: Engram) -> None:
    """Braga since 2010 (day 0), Braga from 2010 to 2011 (day 3), Lisbon (day 2), then
    Lisbon again said on day 1 (replayed last): Lisbon holds from day 1, so the first
    Braga, retired by Lisbon on day 2, ends sooner too, where the later Braga span began
    (the user's latest word on Braga), audited; no two homes at once."""
    for day, text in [
        (0, "I moved to Braga in 2010."),
        (3, "I lived in Braga from 2010 to 2011."),
        (2, "I live in Lisbon."),
        (1, "I live in Lisbon."),
    ]:
        say(mem, text, JAN + timedelta(days=day))
    relations = [r for r in mem.memories.relations(user_id="ana") if r.relation == "lives_in"]
    _check_one_value_at_a_time(homes(mem), relations)
    assert everywhere(mem, MID_2021.replace(year=2011)) == ["Braga"]
    assert everywhere(mem, JAN + timedelta(hours=12)) == []
    assert everywhere(mem, JAN + timedelta(days=1, hours=12)) == ["Lisbon"]
    assert current_home(mem) == "Lisbon"
    first = next(m for m in homes(mem) if m.text == "The user moved to Braga")
    assert first.valid_to == first.valid_from == datetime(2010, 1, 1, tzinfo=UTC)
    assert "update" in {c.action for c in mem.memories.history(first.id)}
    assert "delete" not in {c.action for m in homes(mem) for c in mem.memories.history(m.id)}


def test_a_past_span_cut_short_is_not_another_span_ending_there(mem: Engram) -> None:
    """Porto since 2010 (said on day 2, learned first), then Lisbon from 2012 to 2013
    (day 0) cut short to nothing where Porto began, then Lisbon from 2010 to 2011 (day 1),
    whose end is where the first Lisbon was cut: another span, not the same one said
    again, so not merged into it (widening it over Porto); cut short too, Porto alone."""
    for day, text in [
        (2, "I moved to Porto in 2010."),
        (0, "I lived in Lisbon from 2012 to 2013."),
        (1, "I lived in Lisbon from 2010 to 2011."),
    ]:
        say(mem, text, JAN + timedelta(days=day))
    assert everywhere(mem, MID_2021.replace(year=2011)) == ["Porto"]
    assert everywhere(mem, MID_2021.replace(year=2012)) == ["Porto"]
    assert current_home(mem) == "Porto"
    lisbon = [m for m in homes(mem) if m.metadata["value"] == "Lisbon"]
    assert sorted(m.valid_from for m in lisbon) == [
        datetime(2010, 1, 1, tzinfo=UTC),
        datetime(2012, 1, 1, tzinfo=UTC),
    ]
    assert all(m.valid_to == m.valid_from for m in lisbon)


CITIES = ("Lisbon", "Porto", "Braga")


_statement = st.one_of(
    st.builds(
        lambda city, start, years: f"I lived in {city} from {start} to {start + years}.",
        st.sampled_from(CITIES),
        st.integers(2010, 2020),
        st.integers(1, 4),
    ),
    st.builds(
        lambda city, year: f"I moved to {city} in {year}.",
        st.sampled_from(CITIES),
        st.integers(2010, 2025),
    ),
    st.builds(lambda city: f"I live in {city}.", st.sampled_from(CITIES)),
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    said=st.lists(_statement, min_size=2, max_size=5),
    order=st.randoms(use_true_random=False),
)
@example(said=["I moved to Lisbon in 2020.", "I lived in Porto from 2019 to 2021."], order=None)
@example(said=["I lived in Porto from 2019 to 2021.", "I moved to Lisbon in 2020."], order=None)
@example(said=["I moved to Lisbon in 2015.", "I lived in Porto from 2019 to 2021."], order=None)
@example(  # a past stay in Braga is no opposite of living there now, to be retired by it
    said=[
        "I lived in Braga from 2010 to 2011.",
        "I lived in Lisbon from 2010 to 2011.",
        "I live in Braga.",
    ],
    order=None,
)
@example(
    said=[
        "I moved to Lisbon in 2010.",
        "I moved to Braga in 2010.",
        "I live in Lisbon.",
        "I live in Lisbon.",
        "I lived in Braga from 2010 to 2011.",
    ],
    order=Random(16),  # learned in the order 0, 4, 1, 3, 2
)
def test_past_spans_and_current_values_in_any_order_keep_one_home_at_a_time(
    said: list[str], order: Random | None
) -> None:
    """Past spans and current values said on successive days, learned in any order: "as
    of" any time at most one home held, by the memories' spans, their relations and
    `get_all`; nothing is erased."""
    learned = list(enumerate(said))
    if order is not None:
        order.shuffle(learned)
    with TemporaryDirectory() as folder, Engram(str(Path(folder) / "m.db")) as mem:
        for day, text in learned:
            say(mem, text, JAN + timedelta(days=day))
        memories = homes(mem)
        relations = [r for r in mem.memories.relations(user_id="ana") if r.relation == "lives_in"]
        _check_one_value_at_a_time(memories, relations)
        for year in range(2010, 2027):
            assert len(set(listed(mem, datetime(year, 7, 1, tzinfo=UTC)))) <= 1, year
        for memory in memories:
            assert "delete" not in {change.action for change in mem.memories.history(memory.id)}
