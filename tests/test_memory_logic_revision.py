"""Belief revision: duplicates, refinements, contradictions; what is true now and as of a date."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from engram.memory import (
    Candidate,
    ExtractionBudget,
    RevisionPlan,
    decide,
    extract,
    plan_revisions,
)
from engram.memory._revision_decision import retired
from engram.memory.revision_plan import aplan_revisions
from engram.memory.timeline import EDITED_AT, ends
from engram.providers import Completion
from engram.types import Message
from engram.types._memory import Memory

JAN = datetime(2023, 1, 10, 9, 0, tzinfo=UTC)
JUNE = datetime(2023, 6, 15, 18, 30, tzinfo=UTC)
NOW = datetime(2024, 1, 1, tzinfo=UTC)


def remember(text: str, when: datetime, *, kind: str | None = None) -> list[Memory]:
    message = Message(role="user", content=text, name="Ana", created_at=when)
    candidates = [c for c in extract([message], user_name="Ana") if c.kind != "episode"]
    return [c.to_memory(user_id="u1", now=when) for c in candidates]


def memory(text: str, **fields: Any) -> Memory:
    """A stored memory, said when it began to hold (else in January)."""
    fields.setdefault("user_id", "u1")
    fields.setdefault("source_ids", (f"m-{text[:8]}",))
    fields.setdefault("recorded_at", fields.get("valid_from") or JAN)
    return Memory(text=text, **fields)


def as_of(memories: Sequence[Memory], moment: datetime) -> list[str]:
    """The texts valid at `moment` (valid time), whatever was learned later."""
    return [
        m.text
        for m in memories
        if (m.valid_from is None or m.valid_from <= moment)
        and (m.valid_to is None or moment < m.valid_to)
    ]


def current(memories: Sequence[Memory]) -> list[str]:
    return [m.text for m in memories if m.is_current]


def apply(store: dict[str, Memory], plan: RevisionPlan) -> None:
    for written in (*plan.inserts, *plan.updates):
        store[written.id] = written


def test_belief_currency_berlin_then_lisbon() -> None:
    store: dict[str, Memory] = {}
    [berlin] = remember("I live in Berlin.", JAN)
    apply(store, plan_revisions([berlin], [[]], now=JAN))
    [lisbon] = remember("I moved to Lisbon.", JUNE)
    similar = [(m, 0.62) for m in store.values()]  # "lives in Berlin" vs "moved to Lisbon"
    plan = plan_revisions([lisbon], [similar], now=JUNE)
    apply(store, plan)

    [decision] = plan.decisions
    assert decision.action == "supersede" and decision.target == berlin
    old = store[berlin.id]
    assert old.valid_to == JUNE and old.superseded_at == JUNE
    assert old.superseded_by == lisbon.id
    assert current(list(store.values())) == ["Ana moved to Lisbon"]
    assert as_of(list(store.values()), JAN + timedelta(days=60)) == ["Ana lives in Berlin"]
    assert as_of(list(store.values()), JUNE + timedelta(days=1)) == ["Ana moved to Lisbon"]
    assert len(store) == 2  # nothing deleted
    actions = sorted((c.action, c.memory_id) for c in plan.changes)
    assert actions == sorted([("add", lisbon.id), ("supersede", berlin.id)])


def test_both_statements_in_one_batch_revise_each_other() -> None:
    berlin, lisbon = remember("I live in Berlin.", JAN)[0], remember("I moved to Lisbon.", JUNE)[0]
    plan = plan_revisions([berlin, lisbon], [[], []], now=NOW)
    assert [d.action for d in plan.decisions] == ["add", "supersede"]
    assert {m.id for m in plan.inserts} == {berlin.id, lisbon.id} and plan.updates == ()
    final = {m.id: m for m in plan.inserts}
    assert final[berlin.id].valid_to == JUNE and final[lisbon.id].is_current


def test_same_slot_value_is_a_duplicate_with_provenance_appended() -> None:
    [first] = remember("I'm vegetarian.", JAN)
    [again] = remember("As I said, I'm a vegetarian!", JUNE)
    decision = decide(again, [(first, 0.4)], now=NOW)
    assert decision.action == "noop" and decision.inserts == ()
    [kept] = decision.updates
    assert kept.id == first.id and kept.source_ids == first.source_ids + again.source_ids
    [change] = decision.changes
    assert change.action == "update" and "provenance appended" in (change.reason or "")


def test_reingesting_the_same_message_writes_nothing() -> None:
    [first] = remember("I'm vegetarian.", JAN)
    twin = Candidate(
        text=first.text, attribute="diet", value="vegetarian", source_ids=first.source_ids
    ).to_memory(user_id="u1")
    decision = decide(twin, [(first, 1.0)], now=NOW)
    assert (decision.action, decision.updates, decision.changes) == ("noop", (), ())


def test_near_duplicates_by_cosine_are_noops() -> None:
    old = memory("Ana enjoys long walks on the beach")
    new = memory("Ana loves long walks on the beach", source_ids=("m2",))
    assert decide(new, [(old, 0.95)], now=NOW).action == "noop"


def test_slot_refinement_updates_in_place() -> None:
    old = memory("Ana lives in Lisbon", attribute="home_city", metadata={"value": "Lisbon"})
    new = memory(
        "Ana lives in Lisbon, Portugal",
        attribute="home_city",
        metadata={"value": "Lisbon, Portugal"},
        source_ids=("m2",),
    )
    decision = decide(new, [(old, 0.9)], now=NOW)
    assert decision.action == "update" and decision.inserts == ()
    [updated] = decision.updates
    assert (updated.id, updated.text) == (old.id, "Ana lives in Lisbon, Portugal")
    assert updated.source_ids == (*old.source_ids, "m2")
    [change] = decision.changes
    assert (change.old_text, change.new_text) == (old.text, new.text)


def test_text_refinement_updates_in_place() -> None:
    old = memory("Ana likes jazz")
    new = memory("Ana likes jazz, especially Miles Davis", source_ids=("m2",))
    decision = decide(new, [(old, 0.86)], now=NOW)
    assert decision.action == "update" and decision.memory.text == new.text


def test_a_text_with_a_figure_changed_is_no_refinement() -> None:
    # All of the old words are in the new text ("0" too), but one "0" became a "1".
    old = memory("Thread 0 fact 0: I like colour number 0")
    new = memory("Thread 0 fact 1: I like colour number 1", source_ids=("m2",))
    decision = decide(new, [(old, 0.9)], now=NOW)
    assert decision.action == "add" and decision.updates == ()
    more = memory("Ana takes 5 mg of it daily, 2 pills", source_ids=("m3",))
    assert decide(more, [(memory("Ana takes 5 mg of it"), 0.9)], now=NOW).action == "update"


def test_negation_supersedes_the_matching_memory() -> None:
    old = memory("Ana is vegetarian", valid_from=JAN)
    new = memory("Ana is no longer vegetarian", valid_from=JUNE, metadata={"negates": "vegetarian"})
    unrelated = memory("Ana likes jazz")
    decision = decide(new, [(unrelated, 0.3), (old, 0.7)], now=NOW)
    assert decision.action == "supersede"
    [retired] = decision.updates
    assert retired.id == old.id and retired.valid_to == JUNE and retired.superseded_by == new.id


def test_negated_slot_value_supersedes_and_is_not_a_refinement() -> None:
    [diet] = remember("I'm vegetarian.", JAN)
    [no_more] = remember("I'm no longer vegetarian.", JUNE)
    assert decide(no_more, [(diet, 0.88)], now=NOW).action == "supersede"


def test_grey_zone_without_slot_signal_is_ambiguous_and_added() -> None:
    old = memory("Ana plays tennis on weekends")
    new = memory("Ana joined a tennis club", source_ids=("m2",))
    decision = decide(new, [(old, 0.84)], now=NOW)
    assert decision.action == "add" and decision.ambiguous_with == old


class Verdict:
    """A fake chat model answering every question with one verdict."""

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.prompts: list[str] = []

    def complete(self, messages: Sequence[Mapping[str, Any]], **_: Any) -> Completion:
        self.prompts.append(str(messages[-1]["content"]))
        return Completion(text=self.reply, model="fake")

    async def acomplete(self, messages: Sequence[Mapping[str, Any]], **_: Any) -> Completion:
        return self.complete(messages)


def test_the_llm_settles_ambiguous_cases_within_the_budget() -> None:
    old = memory("Ana plays tennis on weekends", valid_from=JAN)
    new = memory("Ana plays squash instead", valid_from=JUNE, source_ids=("m2",))
    model = Verdict('```json\n{"relation": "contradicts"}\n```')
    budget = ExtractionBudget(max_calls=1, max_tokens=1000)
    plan = plan_revisions([new], [[(old, 0.83)]], now=NOW, model=model, budget=budget)
    assert plan.decisions[0].action == "supersede" and budget.calls == 1
    assert "Ana plays tennis on weekends" in model.prompts[0]
    spent = plan_revisions([new], [[(old, 0.83)]], now=NOW, model=model, budget=budget)
    assert spent.decisions[0].action == "add" and len(model.prompts) == 1  # budget spent


async def test_async_revision_asks_the_same_question() -> None:
    old = memory("Ana plays tennis on weekends")
    new = memory("Ana joined a tennis club", source_ids=("m2",))
    model = Verdict("refines")
    budget = ExtractionBudget(max_calls=1, max_tokens=1000)
    plan = await aplan_revisions([new], [[(old, 0.84)]], now=NOW, model=model, budget=budget)
    assert plan.decisions[0].action == "update" and plan.updates[0].text == new.text


def test_without_a_model_ambiguous_cases_are_new() -> None:
    old = memory("Ana plays tennis on weekends")
    new = memory("Ana joined a tennis club", source_ids=("m2",))
    plan = plan_revisions([new], [[(old, 0.84)]], now=NOW, budget=ExtractionBudget(5, 5000))
    assert plan.decisions[0].action == "add"


def test_episodes_are_never_revised_against_facts() -> None:
    fact = memory("Ana is vegetarian")
    episode = memory("I'm no longer vegetarian!", kind="episode", source_ids=("m9",))
    assert decide(episode, [(fact, 0.99)], now=NOW).action == "add"
    again = memory("I'm no longer vegetarian!", kind="episode", source_ids=("m9",))
    stored = decide(again, [(episode, 1.0)], now=NOW)
    assert stored.action == "noop" and stored.updates == ()


def test_other_speakers_and_scopes_do_not_collide() -> None:
    caroline = memory(
        "Caroline lives in Chicago",
        attribute="home_city",
        metadata={"value": "Chicago", "subject": "Caroline"},
    )
    melanie = memory(
        "Melanie lives in Boston",
        attribute="home_city",
        metadata={"value": "Boston", "subject": "Melanie"},
    )
    assert decide(melanie, [(caroline, 0.8)], now=NOW).action == "add"
    stranger = memory(
        "Ana lives in Rome", attribute="home_city", user_id="u2", metadata={"value": "Rome"}
    )
    mine = memory("Ana lives in Oslo", attribute="home_city", metadata={"value": "Oslo"})
    assert decide(mine, [(stranger, 0.9)], now=NOW).action == "add"


def test_superseded_memories_are_history_not_rivals() -> None:
    old = memory(
        "Ana lives in Berlin",
        attribute="home_city",
        metadata={"value": "Berlin"},
        superseded_at=JUNE,
        valid_to=JUNE,
    )
    new = memory("Ana lives in Oslo", attribute="home_city", metadata={"value": "Oslo"})
    assert decide(new, [(old, 0.9)], now=NOW).action == "add"


def test_the_latest_word_wins_even_when_its_value_began_earlier() -> None:
    """ "I live in Porto", then "I moved to Lisbon last month" a month later: Lisbon began
    before Porto was mentioned, but it was said last, so it is current."""
    [porto] = remember("I live in Porto.", JUNE)
    [lisbon] = remember("I moved to Lisbon last month.", JUNE + timedelta(days=30))
    assert lisbon.valid_from is not None and lisbon.valid_from < JUNE
    decision = decide(lisbon, [(porto, 0.7)], now=NOW)
    assert decision.action == "supersede" and decision.memory.is_current
    [retired] = decision.updates
    assert retired.id == porto.id and retired.valid_to == porto.valid_from  # it never held


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Ana takes 5 mg of melatonin at night", "Ana takes 50 mg of melatonin at night"),
        ("Invoice 1001 was paid on 3 May", "Invoice 1002 was paid on 3 May"),
        ("Ana's passport number is X1234567", "Ana's passport number is Y7654321"),
    ],
)
def test_texts_alike_but_for_a_figure_are_never_duplicates(first: str, second: str) -> None:
    old, new = memory(first), memory(second)
    decision = decide(new, [(old, 0.97)], now=NOW)
    assert decision.action == "add" and decision.inserts == (new,)
    assert decision.ambiguous_with == old  # the LLM, when there is one, may settle it


def test_near_duplicates_with_the_same_figures_are_duplicates() -> None:
    old = memory("Ana takes 5 mg of melatonin at night")
    new = memory("Ana takes 5 mg of melatonin every night")
    assert decide(new, [(old, 0.97)], now=NOW).action == "noop"


def test_an_older_value_learned_later_is_filed_as_history() -> None:
    lisbon = memory(
        "Ana lives in Lisbon", attribute="home_city", metadata={"value": "Lisbon"}, valid_from=JUNE
    )
    berlin = memory(
        "Ana lived in Berlin",
        attribute="home_city",
        metadata={"value": "Berlin"},
        valid_from=JAN,
        source_ids=("old",),
    )
    decision = decide(berlin, [(lisbon, 0.7)], now=NOW)
    assert decision.action == "add" and decision.updates == ()
    [past] = decision.inserts
    assert past.valid_to == JUNE and past.superseded_by == lisbon.id and not past.is_current


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["Berlin", "Lisbon", "Lisbon Portugal", "Oslo"]),
            st.floats(min_value=0.0, max_value=1.0),
            st.integers(min_value=0, max_value=400),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_revision_never_loses_provenance_and_keeps_one_current_value(
    steps: list[tuple[str, float, int]],
) -> None:
    store: dict[str, Memory] = {}
    for index, (city, cosine, day) in enumerate(steps):
        new = memory(
            f"Ana lives in {city}",
            attribute="home_city",
            metadata={"value": city},
            valid_from=JAN + timedelta(days=day),
            source_ids=(f"msg{index}",),
        )
        plan = plan_revisions([new], [[(m, cosine) for m in store.values()]], now=NOW)
        apply(store, plan)
    sources = {s for m in store.values() for s in m.source_ids}
    assert sources == {f"msg{i}" for i in range(len(steps))}
    assert len([m for m in store.values() if m.is_current]) == 1


@settings(max_examples=80, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["Berlin", "Lisbon", "Oslo", "Madrid"]), st.integers(0, 400)),
        min_size=2,
        max_size=7,
    )
)
def test_one_value_of_a_slot_holds_at_any_time_whatever_order_it_is_learned_in(
    steps: list[tuple[str, int]],
) -> None:
    """Values said on any days, learned in any order (old chats replayed after the current
    value was learned): "as of" any day, at most one of them held. (Two values said at one
    moment contradict each other: no order settles which held.)"""
    assume(len({day for _, day in steps}) == len(set(steps)))
    store: dict[str, Memory] = {}
    for index, (city, day) in enumerate(steps):
        said = JAN + timedelta(days=day)
        new = memory(
            f"Ana lives in {city}",
            attribute="home_city",
            metadata={"value": city},
            valid_from=said,
            recorded_at=said,
            source_ids=(f"msg{index}",),
        )
        apply(store, plan_revisions([new], [list((m, 0.5) for m in store.values())], now=NOW))
    for _city, day in steps:
        moment = JAN + timedelta(days=day, hours=1)
        assert len(as_of(list(store.values()), moment)) <= 1, moment


@settings(max_examples=100, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["Berlin", "Lisbon", "Oslo", "Madrid", "Porto"]),
            st.integers(0, 100),  # the day it was said
            st.integers(0, 30),  # how many days before that it began ("since last month")
        ),
        min_size=2,
        max_size=5,
        unique_by=(lambda step: step[0], lambda step: step[1], lambda step: step[1] - step[2]),
    )
)
def test_the_latest_word_holds_over_its_span_whatever_began_first(
    steps: list[tuple[str, int, int]],
) -> None:
    """Values said on any days, each begun up to a month before it was said ("I moved to
    Lisbon last month"), learned in any order: the value said last is the one current
    value, and "as of" any day at most one value held. (Each value is said once here; see
    `test_the_value_said_last_holds_now_though_said_before_too` for values said again.)"""
    store: dict[str, Memory] = {}
    for index, (city, day, since) in enumerate(steps):
        new = memory(
            f"Ana lives in {city}",
            attribute="home_city",
            metadata={"value": city},
            valid_from=JAN + timedelta(days=day - since),
            recorded_at=JAN + timedelta(days=day),
            source_ids=(f"msg{index}",),
        )
        apply(store, plan_revisions([new], [[(m, 0.5) for m in store.values()]], now=NOW))
    last, _, _ = max(steps, key=lambda step: step[1])
    assert current(list(store.values())) == [f"Ana lives in {last}"]
    for day in range(-30, 101):
        moment = JAN + timedelta(days=day, hours=1)
        assert len(as_of(list(store.values()), moment)) <= 1, moment


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["Berlin", "Lisbon", "Oslo"]),
            st.integers(0, 100),  # the day it was said
            st.integers(0, 30),  # how many days before that it began
        ),
        min_size=2,
        max_size=6,
        unique_by=(lambda step: step[1], lambda step: step[1] - step[2]),
    ),
    revised_when_said=st.booleans(),
)
@example(steps=[("Berlin", 0, 0), ("Berlin", 2, 0), ("Lisbon", 1, 0)], revised_when_said=True)
@example(  # "Lisbon since day 64", said on day 68, then "Berlin" said on day 67 replayed
    steps=[("Berlin", 65, 0), ("Lisbon", 66, 0), ("Lisbon", 68, 4), ("Berlin", 67, 0)],
    revised_when_said=False,
)
def test_the_value_said_last_holds_now_though_said_before_too(
    steps: list[tuple[str, int, int]], revised_when_said: bool
) -> None:
    """Values said on any days, some of them said again, learned in any order (Berlin said
    on day 0 and day 2, then Lisbon from day 1 replayed): a value said again is folded into
    the memory of its first saying, which records when it was last said, so the value said
    last is the one current value, and "as of" any day at most one value held."""
    store: dict[str, Memory] = {}
    for index, (city, day, since) in enumerate(steps):
        said = JAN + timedelta(days=day)
        new = memory(
            f"Ana lives in {city}",
            attribute="home_city",
            metadata={"value": city},
            valid_from=said - timedelta(days=since),
            recorded_at=said,
            source_ids=(f"msg{index}",),
        )
        now = said if revised_when_said else NOW
        apply(store, plan_revisions([new], [[(m, 0.5) for m in store.values()]], now=now))
    last, _, _ = max(steps, key=lambda step: step[1])
    assert current(list(store.values())) == [f"Ana lives in {last}"]
    for day in range(-30, 101):
        moment = JAN + timedelta(days=day, hours=1)
        assert len(as_of(list(store.values()), moment)) <= 1, moment


@settings(max_examples=100, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["Berlin", "Lisbon", "Oslo", "Madrid", "Porto"]),
            st.integers(0, 100),  # the day it was said
            st.integers(0, 30),  # how many days before that it began
        ),
        min_size=2,
        max_size=5,
        unique_by=(lambda step: step[0], lambda step: step[1], lambda step: step[1] - step[2]),
    ),
    edited_after=st.integers(0, 4),
)
def test_a_replayed_value_is_retired_no_sooner_than_the_value_retiring_it_was_said(
    steps: list[tuple[str, int, int]], edited_after: int
) -> None:
    """Values learned in any order, each revised when it was said (a replay's `now`, as
    the add flow takes it), the value current after one of them retired by a hand edit
    made after all were said: a value retired is retired no earlier than it was recorded,
    nor than the value retiring it was (Engram cannot have known it was over before), and
    "as of" any day at most one value held."""
    edited_at = JAN + timedelta(days=200)
    store: dict[str, Memory] = {}
    for index, (city, day, since) in enumerate(steps):
        said = JAN + timedelta(days=day)
        new = memory(
            f"Ana lives in {city}",
            attribute="home_city",
            metadata={"value": city},
            valid_from=said - timedelta(days=since),
            recorded_at=said,
            source_ids=(f"msg{index}",),
        )
        apply(store, plan_revisions([new], [[(m, 0.5) for m in store.values()]], now=said))
        if index == edited_after:  # as `update_profile` retires the field's current value
            for m in [m for m in store.values() if m.is_current]:
                store[m.id] = retired(m, end=edited_at, now=edited_at)
    for m in store.values():
        if m.superseded_at is not None:
            assert m.superseded_at >= m.recorded_at, m
            if m.superseded_by in store:
                assert m.superseded_at >= store[m.superseded_by].recorded_at, m
    for day in range(-30, 201):
        moment = JAN + timedelta(days=day, hours=1)
        assert len(as_of(list(store.values()), moment)) <= 1, moment


def test_a_move_said_last_ends_a_past_value_where_it_began() -> None:
    """Berlin, then Porto; then "I moved to Lisbon last month", begun while Berlin held:
    Berlin ended where Lisbon began (Porto never held)."""
    berlin = memory(
        "Ana lived in Berlin",
        attribute="home_city",
        metadata={"value": "Berlin"},
        valid_from=JAN,
        valid_to=JUNE,
        superseded_at=JUNE,
    )
    porto = memory(
        "Ana lives in Porto", attribute="home_city", metadata={"value": "Porto"}, valid_from=JUNE
    )
    [lisbon] = remember("I moved to Lisbon last month.", JUNE + timedelta(days=20))
    assert lisbon.valid_from is not None and JAN < lisbon.valid_from < JUNE

    decision = decide(lisbon, [(porto, 0.7), (berlin, 0.5)], now=NOW)

    assert decision.action == "supersede" and decision.memory.is_current
    ends = {m.id: m.valid_to for m in decision.updates}
    assert ends == {porto.id: JUNE, berlin.id: lisbon.valid_from}
    stored = [*decision.updates, *decision.inserts]
    assert as_of(stored, lisbon.valid_from + timedelta(days=1)) == ["Ana moved to Lisbon"]


def test_a_value_edited_by_hand_is_said_when_the_edit_was_made() -> None:
    """Porto, said in January and set by hand at NOW (a correction of the value); Lisbon,
    said in June, replayed after the edit: the edit is the later word, so Lisbon is
    history that never held (Porto held from January), retired no earlier than the edit."""
    porto = memory(
        "Ana lives in Porto",
        attribute="home_city",
        metadata={"value": "Porto", EDITED_AT: NOW.isoformat()},
        valid_from=JAN,
    )
    [lisbon] = remember("I live in Lisbon.", JUNE)

    decision = decide(lisbon, [(porto, 0.7)], now=JUNE)

    filed = decision.memory
    assert decision.action == "add" and not decision.updates
    assert filed.superseded_by == porto.id and filed.valid_to == filed.valid_from
    assert filed.superseded_at is not None and filed.superseded_at >= NOW


def test_a_past_value_said_later_ends_no_value_that_began_after_it_ended() -> None:
    """Porto, said in June and current since; Berlin from January to June, said later (or
    corrected by hand since): the two never held at once, so neither ends the other."""
    porto = memory(
        "Ana lives in Porto", attribute="home_city", metadata={"value": "Porto"}, valid_from=JUNE
    )
    berlin = memory(
        "Ana lived in Berlin",
        attribute="home_city",
        metadata={"value": "Berlin"},
        valid_from=JAN,
        valid_to=JUNE,
        recorded_at=NOW,
        superseded_at=NOW,
    )
    assert ends([porto, berlin]) == []


def test_a_duplicate_without_a_slot_adopts_the_new_slot() -> None:
    old = memory("Ana lives in Lisbon")  # e.g. added as raw text
    new = memory("Ana lives in Lisbon", attribute="home_city", metadata={"value": "Lisbon"})
    decision = decide(new, [(old, 1.0)], now=NOW)
    [kept] = decision.updates
    assert decision.action == "noop" and kept.id == old.id
    assert (kept.attribute, kept.metadata["value"]) == ("home_city", "Lisbon")


def test_close_texts_filling_different_slots_are_both_kept() -> None:
    color = memory("Ana's favorite color is blue", attribute="favorite_color")
    food = memory("Ana's favorite food is blue cheese", attribute="favorite_food")
    assert decide(food, [(color, 0.95)], now=NOW).action == "add"


def slot(text: str, attribute: str, value: str, when: datetime = JAN, **meta: Any) -> Memory:
    return memory(
        text,
        attribute=attribute,
        metadata={"value": value, **meta},
        valid_from=when,
        source_ids=(f"m-{text}",),
    )


def test_an_ending_retires_the_value_it_names_and_nothing_is_deleted() -> None:
    store: dict[str, Memory] = {}
    [paris] = remember("I live in Paris.", JAN)
    apply(store, plan_revisions([paris], [[]], now=JAN))
    [gone] = remember("I don't live in Paris anymore.", JUNE)
    plan = plan_revisions([gone], [[(m, 0.9) for m in store.values()]], now=JUNE)
    apply(store, plan)

    [decision] = plan.decisions
    assert decision.action == "supersede" and decision.target == paris
    old = store[paris.id]
    assert (old.valid_to, old.superseded_at, old.superseded_by) == (JUNE, JUNE, gone.id)
    assert current(list(store.values())) == ["Ana no longer lives in Paris"]
    assert as_of(list(store.values()), JAN + timedelta(days=30)) == ["Ana lives in Paris"]
    actions = sorted((c.action, c.memory_id) for c in plan.changes)
    assert actions == sorted([("add", gone.id), ("supersede", paris.id)])
    [retired] = [c for c in plan.changes if c.action == "supersede"]
    assert "home_city Paris ended" in (retired.reason or "")


def test_an_ending_naming_another_value_retires_nothing() -> None:
    paris = slot("Ana lives in Paris", "home_city", "Paris")
    [rome] = remember("I don't live in Rome anymore.", JUNE)
    decision = decide(rome, [(paris, 0.8)], now=NOW)
    assert decision.action == "add" and decision.updates == ()
    [plain] = decision.inserts
    assert (plain.attribute, plain.kind, "value" in plain.metadata) == (None, "fact", False)
    assert plain.text == "Ana no longer lives in Rome"


def test_an_ending_matches_a_longer_or_shorter_name() -> None:
    google = slot("Ana works at Google Inc", "employer", "Google Inc")
    [left] = remember("I no longer work at Google.", JUNE)
    assert decide(left, [(google, 0.0)], now=NOW).action == "supersede"


def test_an_ending_naming_no_value_ends_any_and_is_said_once() -> None:
    job = slot("Ana works at Acme", "employer", "Acme")
    [quit_job] = remember("I quit my job.", JUNE)
    decision = decide(quit_job, [(job, 0.3)], now=NOW)
    assert decision.action == "supersede"
    [again] = remember("I quit my job!", JUNE + timedelta(days=1))
    assert decide(again, [(quit_job, 0.9)], now=NOW).action == "noop"


def test_an_ending_said_anew_replaces_the_ending_it_follows() -> None:
    [unemployed] = remember("I'm unemployed.", JAN)
    [retired] = remember("I'm retired now.", JUNE)
    decision = decide(retired, [(unemployed, 0.5)], now=NOW)
    assert decision.action == "supersede" and decision.target == unemployed
    [ended] = decision.updates
    assert ended.valid_to == JUNE and ended.superseded_by == retired.id
    assert [m.text for m in decision.inserts] == ["Ana is retired"]


def test_a_guessed_change_fills_the_slot_holding_the_old_value() -> None:
    google = slot("Ana works at Google", "employer", "Google")
    [switch] = remember("I switched from Google to Meta.", JUNE)
    decision = decide(switch, [(google, 0.6)], now=NOW)
    assert decision.action == "supersede" and decision.target == google
    assert (decision.memory.attribute, decision.memory.metadata["value"]) == ("employer", "Meta")


def test_a_guessed_slot_goes_where_the_old_value_is() -> None:
    paris = slot("Ana lives in Paris", "home_city", "Paris")
    job = slot("Ana works at Acme", "employer", "Acme")
    [left] = remember("I left Paris last month.", JUNE)  # a guess: employer
    decision = decide(left, [(paris, 0.77), (job, 0.4)], now=NOW)
    assert decision.action == "supersede" and decision.target == paris
    assert decision.memory.attribute == "home_city"
    [retired] = decision.updates
    assert retired.id == paris.id and retired.valid_to == left.valid_from  # May, when it ended


def test_a_guessed_change_naming_no_current_value_is_a_plain_fact() -> None:
    job = slot("Ana works at Acme", "employer", "Acme")
    [switch] = remember("I switched from coffee to tea.", JUNE)
    decision = decide(switch, [(job, 0.2)], now=NOW)
    assert decision.action == "add" and decision.memory.attribute is None


def test_a_slot_change_does_not_retire_other_memories_naming_the_old_value() -> None:
    visit = memory("Ana visited Berlin in May 2022", kind="event")
    [moved] = remember("I moved from Berlin to Lisbon.", JUNE)
    assert decide(moved, [(visit, 0.7)], now=NOW).action == "add"


def test_a_statement_said_after_its_negation_is_no_duplicate_and_retires_it() -> None:
    no_meat = memory("Ana no longer eats meat", metadata={"negates": "eat meat"})
    meat = memory("Ana eats meat", source_ids=("m2",))
    decision = decide(meat, [(no_meat, 0.95)], now=NOW)
    assert decision.action == "supersede" and decision.ambiguous_with is None
    [retired] = decision.updates
    assert retired.id == no_meat.id and retired.superseded_at is not None


@pytest.mark.parametrize(
    ("first", "then"),
    [
        ("Ana is allergic to peanuts", "Ana is not allergic to peanuts"),
        ("Ana is not allergic to peanuts", "Ana is allergic to peanuts"),
        ("Ana drinks coffee at night", "Ana never drinks coffee at night"),
        ("Ana doesn't like jazz", "Ana likes jazz"),
    ],
)
def test_a_plain_negation_saying_nothing_more_supersedes(first: str, then: str) -> None:
    old = memory(first)
    decision = decide(memory(then, source_ids=("m2",)), [(old, 0.96)], now=NOW)
    assert decision.action == "supersede" and decision.memory.text == then
    [retired] = decision.updates
    assert retired.id == old.id and retired.superseded_at is not None  # kept, as history


def test_a_plain_negation_saying_more_is_kept_beside() -> None:
    old = memory("Ana is allergic to peanuts")
    new = memory("Ana is not allergic to peanuts, only to cashews", source_ids=("m2",))
    decision = decide(new, [(old, 0.9)], now=NOW)
    assert decision.action == "add" and decision.updates == ()


@pytest.mark.parametrize(
    ("old", "said", "attribute"),
    [
        (
            ("Ana lives in Porto", "home_city", "Porto"),
            "We moved to Berlin last month.",
            "home_city",
        ),
        (("Ana works at Google", "employer", "Google"), "I joined Meta last month.", "employer"),
        (("Ana works at Google", "employer", "Google"), "I started my own company.", "employer"),
        (("Ana is vegetarian", "diet", "vegetarian"), "I started eating meat again.", "diet"),
        (("Ana's girlfriend is Eva", "partner", "Eva"), "I'm single now.", "partner"),
        (("Ana's girlfriend is Eva", "partner", "Eva"), "We broke up.", "partner"),
        (("Ana loves coffee", "preference:coffee", "likes"), "I used to love coffee.", None),
        (("Ana loves coffee", "preference:coffee", "likes"), "I prefer tea over coffee.", None),
        (
            ("Ana's favorite color is blue", "favorite_color", "blue"),
            "My favourite colour is green.",
            None,
        ),
    ],
)
def test_a_common_change_retires_the_slot_value(
    old: tuple[str, str, str], said: str, attribute: str | None
) -> None:
    held = slot(*old)
    [new] = [m for m in remember(said, JUNE) if m.attribute == (attribute or held.attribute)]
    decision = decide(new, [(held, 0.5)], now=NOW)
    assert decision.action == "supersede" and decision.target == held


def test_a_correction_of_a_diet_holds_since_the_diet_it_corrects() -> None:
    vegetarian = slot("Ana is vegetarian", "diet", "vegetarian")
    [fix] = remember("Sorry, I meant vegan, not vegetarian.", JUNE)
    decision = decide(fix, [(vegetarian, 0.5)], now=NOW)
    assert decision.action == "supersede" and decision.target == vegetarian
    assert decision.memory.text == "Ana is vegan"  # what it corrects is in its metadata
    assert decision.memory.valid_from == vegetarian.valid_from


def test_a_liking_that_ended_leaves_a_dislike_alone() -> None:
    dislike = slot("Ana hates coffee", "preference:coffee", "dislikes")
    [ended] = remember("I used to love coffee.", JUNE)
    assert decide(ended, [(dislike, 0.7)], now=NOW).action == "add"


@pytest.mark.parametrize(
    ("old", "said"),
    [
        ("Ana loves coffee", "I don't drink coffee anymore."),
        ("Ana has a dog named Rex", "My dog Rex died last week."),
        ("Ana has a dog named Rex", "Rex passed away."),
        (
            "Ana plans to live in Berlin",
            "The move fell through, I'm not moving to Berlin after all.",
        ),
    ],
)
def test_a_negation_said_another_way_retires_what_it_names(old: str, said: str) -> None:
    held = memory(old)
    [new] = remember(said, JUNE)
    decision = decide(new, [(held, 0.6)], now=NOW)
    assert decision.action == "supersede" and decision.target == held


def test_a_plan_to_quit_ends_nothing_yet() -> None:
    job = slot("Ana works at Google", "employer", "Google")
    [plan] = remember("I'm going to quit my job at Google.", JUNE)
    assert plan.metadata.get("plan")
    decision = decide(plan, [(job, 0.8)], now=NOW)
    assert decision.action == "add" and decision.updates == ()


def in_session(text: str, when: datetime, session: str = "s1") -> list[Memory]:
    message = Message(role="user", content=text, name="Ana", created_at=when, session_id=session)
    candidates = [c for c in extract([message], user_name="Ana") if c.kind != "episode"]
    return [c.to_memory(user_id="u1", now=when) for c in candidates]


def test_a_bare_correction_corrects_the_value_its_session_stated_just_before() -> None:
    [porto] = in_session("I moved to Porto last month.", JUNE)
    [fix] = in_session("Oops, I meant Braga.", JUNE + timedelta(minutes=2))
    decision = decide(fix, [(porto, 0.3)], now=NOW)
    assert decision.action == "supersede" and decision.target == porto
    assert decision.memory.attribute == "home_city"
    assert decision.memory.metadata["value"] == "Braga"
    assert decision.memory.text == "Ana moved to Braga"
    assert decision.memory.valid_from == porto.valid_from  # Porto never held
    [retired] = decision.updates
    assert retired.id == porto.id and retired.superseded_by == fix.id


@pytest.mark.parametrize(
    ("said", "session", "later"),
    [
        ("I moved to Porto last month.", "s2", timedelta(minutes=2)),  # another session
        ("I moved to Porto last month.", "s1", timedelta(days=2)),  # long after
        ("I'm vegetarian.", "s1", timedelta(minutes=2)),  # a name corrects no diet
    ],
)
def test_a_bare_correction_naming_no_value_said_just_before_is_a_plain_fact(
    said: str, session: str, later: timedelta
) -> None:
    [held] = in_session(said, JUNE, session)
    [fix] = in_session("Oops, I meant Braga.", JUNE + later)
    decision = decide(fix, [(held, 0.3)], now=NOW)
    assert decision.action == "add" and decision.updates == ()
    assert decision.memory.attribute is None and decision.memory.text == "Ana meant Braga"


def test_a_partner_further_on_retires_the_old_role() -> None:
    [girlfriend] = remember("My girlfriend is Eva.", JAN)
    [married, _status] = remember("Eva and I got married.", JUNE)
    decision = decide(married, [(girlfriend, 0.6)], now=NOW)
    assert decision.action == "supersede" and decision.target == girlfriend
    [retired] = decision.updates
    assert retired.valid_to == JUNE and retired.superseded_by == married.id
    # the same partner said again in passing, or with a vaguer word, is a duplicate
    [wife] = remember("My wife Eva is great.", JUNE + timedelta(days=1))
    [partner] = remember("My partner Eva is great.", JUNE + timedelta(days=2))
    assert decide(wife, [(decision.memory, 0.6)], now=NOW).action == "noop"
    assert decide(partner, [(wife, 0.6)], now=NOW).action == "noop"


def test_a_liking_of_living_somewhere_ends_with_that_home() -> None:
    porto = slot("Ana lives in Porto", "home_city", "Porto")
    [living] = remember("I love living in Porto.", JAN + timedelta(days=1))
    [city] = remember("I love Porto.", JAN + timedelta(days=2))
    [moved] = remember("I moved to Lisbon.", JUNE)
    decision = decide(moved, [(porto, 0.6), (living, 0.5), (city, 0.5)], now=NOW)
    assert decision.action == "supersede" and decision.target == porto
    retired = {m.id: m for m in decision.updates}
    assert set(retired) == {porto.id, living.id}  # loving Porto is not living there
    assert retired[living.id].valid_to == JUNE and retired[living.id].superseded_by == moved.id
    reasons = [c.reason for c in decision.changes if c.memory_id == living.id]
    assert reasons and "home_city was Porto" in (reasons[0] or "")
    # a move elsewhere that Porto was not the home of leaves it alone
    braga = slot("Ana lives in Braga", "home_city", "Braga")
    assert [m.id for m in decide(moved, [(braga, 0.6), (living, 0.5)], now=NOW).updates] == [
        braga.id
    ]


def test_a_home_of_the_past_ends_when_its_words_say() -> None:
    [braga] = remember("I lived in Braga until 2019.", JAN)
    [porto] = remember("I lived in Porto from 2019 to 2021.", JAN)
    stored = [decide(m, [], now=NOW).memory for m in (braga, porto)]
    assert [m.valid_to for m in stored] == [  # a year named as the end is included
        datetime(2020, 1, 1, tzinfo=UTC),
        datetime(2022, 1, 1, tzinfo=UTC),
    ]
    assert as_of(stored, datetime(2020, 6, 1, tzinfo=UTC)) == ["Ana used to live in Porto"]
