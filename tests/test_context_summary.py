"""Unit tests of summary + buffer (plan_summary, assemble_summary), the options and the API."""

from __future__ import annotations

from typing import Any

import pytest

import engram.context as context
from engram import Engram
from engram._exceptions import InvalidInputError
from engram.context import (
    SUMMARY_PREFIX,
    SummaryBufferOptions,
    TokenBudgetOptions,
    WindowOptions,
    assemble_summary,
    plan_summary,
    truncation_marker,
)
from engram.types import Message, Summary
from test_context_support import (
    WordCounter,
    assistant,
    ids,
    recall,
    system,
    tool,
    user,
    words,
)


@pytest.fixture
def counter() -> WordCounter:
    return WordCounter()


def history(*roles: str) -> list[Message]:
    """A system message (5 tokens), then one 10-token message per role, with seq 1, 2, ..."""
    messages = [system("be brief", id="s")]
    for seq, role in enumerate(roles, start=1):
        maker = user if role == "u" else assistant
        messages.append(maker(words(7), id=f"{role}{seq}", seq=seq))
    return messages


def stored_summary(text: str = "they met", through_seq: int = 0) -> Summary:
    return Summary(session_id="s1", text=text, through_seq=through_seq)


def test_nothing_is_evicted_under_the_trigger(counter: WordCounter) -> None:
    messages = history("u", "a", "u", "a", "u", "a", "u")  # 3 + 5 + 70 = 78 <= 80
    plan = plan_summary(messages, counter, budget=100)
    assert (plan.evict, ids(plan.keep), plan.tokens) == ((), ids(messages), 78)
    assert plan.through_seq is None
    assert plan.summary_max_tokens == 25


def test_the_oldest_messages_are_evicted_down_to_the_target(counter: WordCounter) -> None:
    messages = history("u", "a", "u", "a", "u", "a", "u", "a", "u")  # 98 > 80
    # The prompt must come back to 50 with a 10-token summary: 50 - 3 - 5 - 10 = 32 for history.
    plan = plan_summary(messages, counter, budget=100, summary_max_tokens=10)
    assert ids(plan.evict) == ["u1", "a2", "u3", "a4", "u5", "a6"]
    assert ids(plan.keep) == ["s", "u7", "a8", "u9"]
    assert plan.through_seq == 6
    assert plan.summary_max_tokens == 10


def test_reserve_and_tools_shrink_what_is_available(counter: WordCounter) -> None:
    messages = history("u", "a", "u", "a", "u", "a", "u")
    assert plan_summary(messages, counter, budget=110, reserve=10).evict == ()
    assert plan_summary(messages, counter, budget=100, reserve=10).evict != ()
    tools = [{"name": "lookup " * 10}]
    assert plan_summary(messages, counter, budget=100, tools=tools).evict != ()


def test_the_current_summary_counts_towards_the_trigger(counter: WordCounter) -> None:
    messages = history("u", "a", "u", "a", "u")
    assert plan_summary(messages, counter, budget=100).evict == ()
    long = stored_summary(words(30))
    assert plan_summary(messages, counter, budget=100, summary=long).evict != ()


def test_a_tool_group_is_evicted_whole(counter: WordCounter) -> None:
    messages = [
        user(words(30), id="u1", seq=1),
        assistant("", "c1", "c2", id="a2", seq=2),
        tool("c1", words(5), id="t3", seq=3),
        tool("c2", words(5), id="t4", seq=4),
        user(words(30), id="u5", seq=5),
    ]
    # History 33 + 7 + 8 + 8 + 33 = 89; goal 50 - 3 - 1 = 46: u1 goes, then the group.
    plan = plan_summary(messages, counter, budget=100, summary_max_tokens=1)
    assert ids(plan.evict) == ["u1", "a2", "t3", "t4"]
    assert plan.through_seq == 4


def test_the_current_turn_is_never_evicted(counter: WordCounter) -> None:
    messages = [user("hi", id="u1", seq=1), user(words(500), id="u2", seq=2)]
    messages.append(assistant("", "c1", id="a3", seq=3))
    plan = plan_summary(messages, counter, budget=100)
    assert ids(plan.evict) == ["u1"]
    assert ids(plan.keep) == ["u2", "a3"]


def test_already_folded_messages_are_set_aside(counter: WordCounter) -> None:
    messages = history("u", "a", "u")
    plan = plan_summary(messages, counter, budget=100, summary=stored_summary(through_seq=2))
    assert ids(plan.folded) == ["u1", "a2"]
    assert ids(plan.keep) == ["s", "u3"]
    result = assemble_summary(plan, counter, summary_text="they met", budget=100)
    assert result.report.summarized == ("u1", "a2")


def test_plan_keeps_counted_messages(counter: WordCounter) -> None:
    plan = plan_summary(history("u", "a"), counter, budget=100)
    assert all(m.encoding == "words" and m.tokens == 10 for m in plan.keep[1:])
    counter.message_counts = 0
    assemble_summary(plan, counter, summary_text=None, budget=100)
    assert counter.message_counts == 0


def test_assemble_puts_the_summary_after_the_system_messages(counter: WordCounter) -> None:
    messages = history("u", "a", "u", "a", "u", "a", "u", "a", "u")
    plan = plan_summary(messages, counter, budget=100, summary_max_tokens=10)
    result = assemble_summary(plan, counter, summary_text="they met", budget=100)
    assert ids(result.messages) == ["s", "summary", "u7", "a8", "u9"]
    assert result.messages[1].text == SUMMARY_PREFIX + "they met"
    report = result.report
    assert report.strategy == "summary"
    assert report.summarized == ("u1", "a2", "u3", "a4", "u5", "a6")
    assert report.dropped == ()
    assert (report.tokens_before, report.tokens_after) == (98, 48)
    assert report.summary_tokens == 10
    assert "6 summarized" in report.describe()


def test_assemble_without_summary_reports_evicted_messages_dropped(
    counter: WordCounter,
) -> None:
    messages = history("u", "a", "u", "a", "u", "a", "u", "a", "u")
    plan = plan_summary(messages, counter, budget=100, summary_max_tokens=10)
    result = assemble_summary(plan, counter, summary_text=None, budget=100)
    assert ids(result.messages) == ["s", "u7", "a8", "u9"]
    assert result.report.dropped == ("u1", "a2", "u3", "a4", "u5", "a6")
    assert result.report.summarized == ()


def test_assemble_cuts_a_summary_longer_than_planned(counter: WordCounter) -> None:
    messages = history("u", "a", "u", "a", "u", "a", "u", "a", "u")
    plan = plan_summary(messages, counter, budget=100, summary_max_tokens=10)
    result = assemble_summary(plan, counter, summary_text=words(500), budget=100)
    assert result.messages[1].text == SUMMARY_PREFIX + words(4) + "\n" + truncation_marker(496)
    assert ids(result.messages) == ["s", "summary", "u7", "a8", "u9"]


def test_assemble_never_exceeds_the_budget(counter: WordCounter) -> None:
    messages = history("u", "a", "u", "a", "u", "a", "u", "a", "u")
    plan = plan_summary(messages, counter, budget=100, summary_max_tokens=10)
    # A smaller budget than planned: 3 + 5 (system) + 10 (summary) + 10 (u9) leave room for
    # a8, not for u7; a8 answers u7, so it goes too (the history starts on a user turn).
    result = assemble_summary(plan, counter, summary_text="they met", budget=40)
    assert ids(result.messages) == ["s", "summary", "u9"]
    assert counter.count_messages(result.messages) == 28
    assert result.report.dropped == ("u7", "a8")


def test_assemble_puts_the_recall_block_after_the_summary(counter: WordCounter) -> None:
    messages = history("u", "a", "u", "a", "u", "a", "u", "a", "u")
    messages[1] = user(words(7), id="memories", seq=1)  # folded: named only by the report
    offered = recall(20, "likes tea", words(30))
    # The plan leaves the block its room (15 tokens), as the session's context does.
    plan = plan_summary(messages, counter, budget=100 - 15, summary_max_tokens=10)
    result = assemble_summary(plan, counter, summary_text="they met", budget=100, recall=offered)
    # The fold ends where a user turn starts: a8 (the reply to u7) is folded with u7.
    assert ids(result.messages) == ["s", "summary", "memories-2", "u9"]
    report = result.report
    assert report.summarized == ("memories", "a2", "u3", "a4", "u5", "a6", "u7", "a8")
    assert (report.recalled, report.recall_dropped, report.memory_tokens) == (("r1",), ("r2",), 15)
    assert (report.budget, report.tokens_after) == (100, 3 + 5 + 10 + 15 + 10)


@pytest.mark.parametrize(
    "options",
    [
        {"trigger": 0.4, "target": 0.5},
        {"trigger": 1.2},
        {"target": 0},
        {"summary_max_tokens": 0},
        {"budget": 10, "reserve": 10},
    ],
)
def test_plan_rejects_bad_options(counter: WordCounter, options: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {"budget": 100, **options}
    with pytest.raises(InvalidInputError):
        plan_summary(history("u"), counter, **arguments)
    with pytest.raises(InvalidInputError):
        SummaryBufferOptions(**arguments)


def test_options_validate_when_built() -> None:
    assert WindowOptions(last_turns=3).last_turns == 3
    assert TokenBudgetOptions(budget=100, reserve=10).reserve == 10
    assert SummaryBufferOptions(budget=100).trigger == 0.8
    with pytest.raises(InvalidInputError):
        WindowOptions()
    with pytest.raises(InvalidInputError):
        TokenBudgetOptions(budget=0)


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in vars(context) if not name.startswith("_")}
    assert context.__all__ == sorted(context.__all__)
    assert set(context.__all__) == public


# An agent or tool loop: many non-user messages after the newest user message.


def agent_loop(session: Any, steps: int) -> None:
    session.add("user", "Research bikes.")
    for i in range(steps):
        session.add("assistant", f"Step {i}: looked at bike model M{i} and its price.")


def assert_newest_kept_whole(result: Any, steps: int) -> None:
    """Only the newest messages are sent, whole, after the newest user message."""
    texts = [m.text for m in result.messages if m.role == "assistant"]
    assert result.report.truncated == ()
    assert texts, "the loop's newest steps were all dropped"
    first = steps - len(texts)
    expected = [f"Step {i}: looked at bike model M{i} and its price." for i in range(first, steps)]
    assert texts == expected


def test_an_agent_loop_keeps_its_newest_steps_whole() -> None:
    s = Engram(":memory:").session("loop")
    agent_loop(s, 30)
    result = s.context(model="gpt-4o", budget=300, strategy="summary")
    assert result.messages[0].text == "Research bikes."
    assert_newest_kept_whole(result, 30)
    budgeted = s.context(model="gpt-4o", budget=300, strategy="token_budget")
    assert budgeted.messages[0].text == "Research bikes."  # read although not in the tail
    assert_newest_kept_whole(budgeted, 30)
    assert len(result.messages) >= len(budgeted.messages)


def test_a_tool_loop_keeps_its_newest_groups_whole() -> None:
    s = Engram(":memory:").session("tools")
    s.add("user", "Research bikes.")
    for i in range(20):
        call = {"id": f"c{i}", "name": "lookup", "arguments": f'{{"model": "M{i}"}}'}
        s.add("assistant", "", tool_calls=[call])
        s.add("tool", f"Bike model M{i} costs {100 + i} euros.", tool_call_id=f"c{i}")
    result = s.context(model="gpt-4o", budget=400, strategy="summary")
    assert result.report.truncated == ()
    assert result.messages[0].text == "Research bikes."
    results = [m.text for m in result.messages if m.role == "tool"]
    assert results and results[-1] == "Bike model M19 costs 119 euros."
    calls = [m.tool_calls[0].id for m in result.messages if m.role == "assistant"]
    assert calls == [m.tool_call_id for m in result.messages if m.role == "tool"]


def test_an_agent_loop_after_earlier_turns_sends_the_stored_summary() -> None:
    s = Engram(":memory:").session("turns")
    for i in range(20):
        s.add("user", f"Question {i} about the bike shop on day {i}?")
        s.add("assistant", f"Answer {i}: the shop opens at {i} o'clock.")
    agent_loop(s, 30)
    result = s.context(model="gpt-4o", budget=300, strategy="summary")
    stored = s.summary()
    assert stored is not None
    assert result.report.summary_tokens > 0
    [sent] = [m for m in result.messages if m.id == "summary"]
    # The stored summary is kept at the largest size asked for; this small budget sends its
    # own shortening of it: its most salient sentences, the newest question among them,
    # after a first line counting the messages it keeps nothing of.
    marker, *lines = sent.text.removeprefix(SUMMARY_PREFIX).splitlines()
    assert marker.startswith("[… ") and marker.endswith(" messages left out …]")
    assert set(lines) <= set(stored.text.splitlines())
    assert "user: Question 19 about the bike shop on day 19?" in lines
    assert_newest_kept_whole(result, 30)


def test_assemble_drops_the_oldest_messages_after_the_newest_user(counter: WordCounter) -> None:
    messages = [system("be brief", id="s"), user(words(7), id="u1", seq=1)]
    messages += [assistant(words(7), id=f"a{seq}", seq=seq) for seq in range(2, 12)]
    plan = plan_summary(messages, counter, budget=100, summary=stored_summary("they met"))
    assert plan.evict == ()  # the summary covers a prefix: nothing after u1 can be folded
    result = assemble_summary(plan, counter, summary_text="they met", budget=100)
    # 3 + 5 (system) + 8 (summary) + 10 (u1) leave 74: the newest seven steps, whole.
    assert ids(result.messages) == ["s", "summary", "u1", *(f"a{seq}" for seq in range(5, 12))]
    assert result.report.truncated == ()
    assert result.report.dropped == ("a2", "a3", "a4")
