"""Unit tests of summary + buffer (plan_summary, assemble_summary), the options and the API."""

from __future__ import annotations

from typing import Any

import pytest

import engram.context as context
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
from test_context_support import WordCounter, assistant, ids, system, tool, user, words


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
        assistant("", "c1", id="a2", seq=2),
        tool("c1", words(5), id="t3", seq=3),
        tool("c1", words(5), id="t4", seq=4),
        user(words(30), id="u5", seq=5),
    ]
    # History 33 + 5 + 8 + 8 + 33 = 87; goal 50 - 3 - 1 = 46: u1 goes, then the group.
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
    assert report.strategy == "summary_buffer"
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
    # A smaller budget than planned: 3 + 5 (system) + 10 (summary) + 10 (u9) leave room for a8.
    result = assemble_summary(plan, counter, summary_text="they met", budget=40)
    assert ids(result.messages) == ["s", "summary", "a8", "u9"]
    assert counter.count_messages(result.messages) == 38
    assert result.report.dropped == ("u7",)


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
