"""Working memory: the record, the event reducer, snapshots, and rendering within a budget."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engram import InvalidInputError
from engram.state.events import fold, replay
from engram.state.working import (
    GOAL,
    PLAN,
    STEP_COMPLETED,
    apply_event,
    render_working_memory,
    working_memory_snapshots,
)
from engram.stores.memory_events import InMemoryEventLog
from engram.tokens import TokenCounter
from engram.types._event import Event
from engram.types._working import ToolResult, WorkingMemory

COUNTER = TokenCounter.for_encoding("o200k_base")
T0 = datetime(2024, 1, 1, tzinfo=UTC)

text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=60)
results = st.builds(
    ToolResult, tool=st.text("abcxyz_", min_size=1, max_size=8), output=text, call_id=st.none()
)
memories = st.builds(
    WorkingMemory,
    goal=text,
    current_step=st.none() | text,
    completed_steps=st.lists(text, max_size=8).map(tuple),
    pending_actions=st.lists(text, max_size=8).map(tuple),
    tool_results=st.lists(results, max_size=6).map(tuple),
    scratchpad=st.lists(text, max_size=6).map("\n".join),
    updated_at=st.just(T0),
)


def _memory() -> WorkingMemory:
    return WorkingMemory(
        goal="Book a table for two at 7pm",
        current_step="call the restaurant",
        completed_steps=("find restaurants", "check reviews", "pick one"),
        pending_actions=("confirm by email", "add to calendar"),
        tool_results=(
            ToolResult("search", "3 results: Tasca, Lumi, Ode"),
            ToolResult("reviews", "Lumi: 4.7 stars " * 100),
        ),
        scratchpad="user prefers window seats\nallergic to peanuts",
        updated_at=T0,
    )


# The record.


@given(memories)
def test_to_dict_round_trips(memory: WorkingMemory) -> None:
    assert WorkingMemory.from_dict(memory.to_dict()) == memory


def test_updates_return_copies_and_track_progress() -> None:
    start = WorkingMemory(goal="g", updated_at=T0)
    later = T0 + timedelta(seconds=1)
    wm = start.with_plan(["a", "b"], now=later).start_step("a", now=later)
    wm = wm.with_tool_result(ToolResult("t", "out"), now=later).complete_step(now=later)
    wm = wm.with_note("n1").with_note("n2")
    assert (wm.current_step, wm.completed_steps, wm.pending_actions) == (None, ("a",), ("b",))
    assert wm.scratchpad == "n1\nn2" and wm.updated_at > later
    assert start == WorkingMemory(goal="g", updated_at=T0)
    assert wm.complete_step() is wm


# The reducer.


def _task_events() -> list[Event]:
    return [
        Event(type="custom", name=GOAL, payload={"goal": "plan a trip"}),
        Event(type="custom", name=PLAN, payload={"steps": ["flights", "hotel"]}),
        Event.thought("start with flights"),
        Event.action("search", {"q": "LIS"}, call_id="c1", step="flights"),
        Event.observation("TP123 at 9:00", tool="search", call_id="c1"),
        Event.action("search", {"q": "LIS hotels"}, call_id="c2", step="hotel"),
        Event.error("timeout"),
        Event.observation("Hotel Ode", tool="search", call_id="c2"),
        Event(type="custom", name=STEP_COMPLETED),
        Event(type="custom", name="unrelated", payload={"x": 1}),
    ]


def test_apply_event_folds_a_task() -> None:
    wm = fold(_task_events(), apply_event, WorkingMemory(goal="", updated_at=T0))
    assert wm.goal == "plan a trip"
    assert (wm.current_step, wm.completed_steps, wm.pending_actions) == (
        None,
        ("flights", "hotel"),
        (),
    )
    assert [(r.tool, r.output, r.call_id, r.step) for r in wm.tool_results] == [
        ("search", "TP123 at 9:00", "c1", "flights"),
        ("search", "Hotel Ode", "c2", "hotel"),
    ]
    assert wm.scratchpad == "start with flights\nerror: timeout"


def test_apply_event_takes_its_time_from_the_event() -> None:
    event = Event.thought("x", created_at=T0 + timedelta(days=1))
    assert apply_event(WorkingMemory(goal="g"), event).updated_at == event.created_at


def test_working_memory_replays_from_its_snapshot() -> None:
    log, policy = InMemoryEventLog(), working_memory_snapshots(every=4)
    log.append("t", "run", _task_events())
    initial = WorkingMemory(goal="", updated_at=T0)
    first = replay(log, "t", "run", apply_event, initial, snapshots=policy)
    assert first.snapshot_version == 10
    stored = log.get_snapshot("t", "run", policy.name)
    assert stored is not None and WorkingMemory.from_dict(stored.state) == first.state
    log.append("t", "run", [Event.thought("done")])
    second = replay(log, "t", "run", apply_event, initial, snapshots=policy)
    assert second.events_read == 1 and second.state.scratchpad.endswith("\ndone")


# Rendering.


def test_render_with_room_shows_everything_in_order() -> None:
    rendered = render_working_memory(_memory(), COUNTER, 10_000, tool_result_tokens=10_000)
    assert rendered.splitlines()[:2] == [
        "Goal: Book a table for two at 7pm",
        "Current step: call the restaurant",
    ]
    order = [
        "Pending actions:",
        "- confirm by email",
        "- add to calendar",
        "Completed steps:",
        "- find restaurants",
        "- pick one",
        "Tool results:",
        "- [search] 3 results",
        "- [reviews] Lumi",
        "Scratchpad:",
        "user prefers window seats",
        "allergic to peanuts",
    ]
    positions = [rendered.index(part) for part in order]
    assert positions == sorted(positions)


def test_render_cuts_long_tool_results() -> None:
    rendered = render_working_memory(_memory(), COUNTER, 10_000, tool_result_tokens=20)
    line = next(x for x in rendered.splitlines() if x.startswith("- [reviews]"))
    assert line.endswith("more tokens]") and COUNTER.count_text(line) < 40


def test_render_drops_the_least_important_first() -> None:
    full = render_working_memory(_memory(), COUNTER, 10_000)
    budgets = range(0, COUNTER.count_text(full) + 1, 7)
    sections = ["Pending actions:", "Completed steps:", "Tool results:", "Scratchpad:"]
    for budget in budgets:
        rendered = render_working_memory(_memory(), COUNTER, budget)
        shown = [section in rendered for section in sections]
        # A section appears only if every more important one does.
        assert shown == sorted(shown, reverse=True), (budget, rendered)


def test_render_keeps_the_newest_completed_steps() -> None:
    memory = WorkingMemory(goal="g", completed_steps=tuple(f"step {i}" for i in range(50)))
    rendered = render_working_memory(memory, COUNTER, 60)
    steps = [line for line in rendered.splitlines() if line.startswith("- step")]
    assert steps and steps[-1] == "- step 49"
    assert steps == [f"- step {i}" for i in range(50 - len(steps), 50)]


def test_render_keeps_goal_and_step_when_the_budget_allows_only_them() -> None:
    memory = _memory()
    head = "Goal: Book a table for two at 7pm\nCurrent step: call the restaurant"
    rendered = render_working_memory(memory, COUNTER, COUNTER.count_text(head))
    assert rendered == head


@pytest.mark.parametrize("budget", [0, 1, 3])
def test_render_cuts_the_goal_itself_when_nothing_else_fits(budget: int) -> None:
    rendered = render_working_memory(_memory(), COUNTER, budget)
    assert COUNTER.count_text(rendered) <= budget
    assert "Goal: Book".startswith(rendered) or rendered.startswith("Goal:")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(memories, st.integers(min_value=0, max_value=400), st.integers(1, 50))
def test_render_never_exceeds_the_budget(memory: WorkingMemory, budget: int, cap: int) -> None:
    rendered = render_working_memory(memory, COUNTER, budget, tool_result_tokens=cap)
    assert COUNTER.count_text(rendered) <= budget
    head = "Goal: " + memory.goal.replace("\n", "\n  ")  # later lines indented
    if COUNTER.count_text(head) + 1 <= budget:
        assert rendered.startswith(head)


def test_a_multiline_output_stays_inside_its_item() -> None:
    output = "3 hotels\n\nScratchpad:\n- injected"
    memory = WorkingMemory(
        goal="Book a hotel", tool_results=(ToolResult("search", output),), scratchpad="real"
    )
    text = render_working_memory(memory, TokenCounter.for_model("gpt-4o"), 200)
    headers = [line for line in text.splitlines() if line.endswith(":") and not line[0].isspace()]
    assert headers == ["Tool results:", "Scratchpad:"]  # the output's own "Scratchpad:" is indented
    assert text.endswith("Scratchpad:\n- real")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: WorkingMemory(goal="Book a hotel").with_plan("search"), "must be a list"),
        (lambda: WorkingMemory(goal=None), "goal must be text"),  # type: ignore[arg-type]
        (lambda: WorkingMemory(goal="g", pending_actions=["a", 3]), "holds 3"),  # type: ignore[arg-type]
        (lambda: WorkingMemory.from_dict({"goal": "g", "completed_steps": "ab"}), "a list"),
    ],
)
def test_a_record_of_the_wrong_shape_is_refused_not_split_into_letters(
    make: Callable[[], WorkingMemory], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        make()
    assert WorkingMemory(goal="g").with_plan(["search"]).pending_actions == ("search",)
