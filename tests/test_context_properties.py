"""Hypothesis properties of the budgeted strategies, with a word counter and the real one.

Generated conversations mix roles, lengths from empty to long, tool-call groups of 1-3
results (sometimes with a system message inside the group), and system messages anywhere;
budgets go from tiny to large. Recalled profiles and memories have texts of the same kinds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from engram._exceptions import BudgetExceededError
from engram.context import (
    NEWEST_USER_MIN_TOKENS,
    SUMMARY_PREFIX,
    ContextResult,
    MessageCounterProtocol,
    Recall,
    SummaryPlan,
    assemble_summary,
    plan_summary,
    recall_room,
    summary_message,
    token_budget,
    truncation_marker,
    without_abandoned_calls,
)
from engram.context._truncate import last_tokens
from engram.tokens import TokenCounter
from engram.types import Message, Summary, ToolCall
from test_context_support import WordCounter, hit

Counter = Any  # WordCounter or TokenCounter: both have count_messages too

COUNTERS: dict[str, Callable[[], Counter]] = {
    "words": WordCounter,
    "o200k": lambda: TokenCounter.for_encoding("o200k_base"),
}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look a thing up",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        },
    }
]
VOCABULARY = ["the", "cat", "sat", "42", "naïve", "😀", "tool", "résumé", "\n", "{", "ok."]
PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


class _Code:
    """Reads small choices off one drawn integer (one draw per event keeps generation fast)."""

    def __init__(self, value: int) -> None:
        self.value = value

    def pick(self, choices: int) -> int:
        self.value, choice = divmod(self.value, choices)
        return choice


def _text(code: _Code, *, short: bool = False) -> str:
    count = [code.pick(13), code.pick(41), 100 + code.pick(201), 0][code.pick(2 if short else 4)]
    start, stride = code.pick(len(VOCABULARY)), 1 + code.pick(10)
    return " ".join(VOCABULARY[(start + stride * i) % len(VOCABULARY)] for i in range(count))


def _event(number: int, value: int) -> list[Message]:
    """A user, assistant or system message, or a tool call with 1-3 results."""
    code = _Code(value)
    kind = ["user", "assistant", "tools", "system", "user"][code.pick(5)]
    if kind != "tools":
        text = _text(code, short=kind == "system")
        return [Message(role=kind, content=text, id=f"m{number}")]  # type: ignore[arg-type]
    calls = tuple(
        ToolCall(id=f"c{number}.{k}", name="lookup", arguments='{"q": "x"}')
        for k in range(1 + code.pick(3))
    )
    group = [Message(role="assistant", content=_text(code), tool_calls=calls, id=f"m{number}")]
    for k, call in enumerate(calls):
        if code.pick(10) == 9:
            text = _text(code, short=True)
            group.append(Message(role="system", content=text, id=f"m{number}.s{k}"))
        group.append(
            Message(role="tool", content=_text(code), tool_call_id=call.id, id=f"m{number}.{k}")
        )
    return group


def conversations(max_events: int = 25) -> st.SearchStrategy[list[Message]]:
    """Conversations of up to `max_events` events, each decoded from one integer."""
    return st.lists(st.integers(0, 2**64), max_size=max_events).map(
        lambda values: [m for number, v in enumerate(values) for m in _event(number, v)]
    )


def agent_loops(max_steps: int = 30) -> st.SearchStrategy[list[Message]]:
    """A conversation, a user message, then only assistant messages and tool calls."""

    def build(before: list[Message], values: list[int]) -> list[Message]:
        steps = [m for number, v in enumerate(values, start=100) for m in _event(number, v)]
        loop = [replace(m, role="assistant") if m.role == "user" else m for m in steps]
        return [*before, Message(role="user", content="go on", id="m99"), *loop]

    values = st.lists(st.integers(0, 2**64), min_size=1, max_size=max_steps)
    return st.builds(build, conversations(max_events=8), values)


def recalls() -> st.SearchStrategy[Recall]:
    """Up to 4 profile fields and up to 6 memories (`r1`, `r2`, ... best first); no room yet."""

    def build(fields: list[int], memories: list[int]) -> Recall:
        profile = {f"field_{k}": _text(_Code(value)) for k, value in enumerate(fields)}
        texts = [_text(_Code(value)) for value in memories]
        hits = tuple(hit(text, f"r{rank}", rank) for rank, text in enumerate(texts, start=1))
        return Recall(0, hits, profile)

    values = st.lists(st.integers(0, 2**64), max_size=4)
    return st.builds(build, values, st.lists(st.integers(0, 2**64), max_size=6))


budget_specs = st.tuples(st.one_of(st.floats(0.05, 1.3), st.integers(-5, 80)), st.integers(0, 40))
"""(a share of the whole prompt, or tokens above the must-keep minimum), and the reserve."""


def budget_from(spec: tuple[float | int, int], total: int, minimum: int) -> tuple[int, int]:
    """A budget near one of the two interesting points: the whole prompt, the minimum."""
    size, reserve = spec
    limit = round(size * total) if isinstance(size, float) else minimum + size
    return max(1, limit) + reserve, reserve


# Checks, written against the messages alone (not the library's internals).


def prompt_tokens(counter: Counter, messages: Sequence[Message], tools: Sequence[Any]) -> int:
    tokens: int = counter.count_messages(messages)
    return tokens + (counter.count_tools(tools) if tools else 0)


def leading(messages: Sequence[Message]) -> list[Message]:
    """The system prompt: the system messages before any other message."""
    count = next((i for i, m in enumerate(messages) if m.role != "system"), len(messages))
    return list(messages[:count])


def history(messages: Sequence[Message]) -> list[Message]:
    """Everything after the system prompt; later system messages are history too."""
    return list(messages[len(leading(messages)) :])


def units(messages: Sequence[Message]) -> list[list[Message]]:
    """The history in units: a message, or a tool call with its results (and the system
    messages said after the call); a result whose call is not before it is in none."""
    groups: list[list[Message]] = []
    calls: set[str] = set()
    for m in history(messages):
        if m.role == "tool":
            if m.tool_call_id in calls:
                groups[-1].append(m)
        elif m.role == "system" and calls:
            groups[-1].append(m)
        else:
            groups.append([m])
            calls = {call.id for call in m.tool_calls}
    return groups


def newest_unit(messages: Sequence[Message]) -> list[Message]:
    """The newest user message, else the newest unit not of a system message."""
    users = [m for m in history(messages) if m.role == "user"]
    if users:
        return [users[-1]]
    groups = [group for group in units(messages) if group[0].role != "system"]
    return groups[-1] if groups else []


def floor_tokens(counter: MessageCounterProtocol, message: Message, keep: int) -> int:
    """The message cut to `keep` tokens and the marker, if that makes it smaller: a user
    message to its first and last halves of them around the marker, others to their first."""
    whole = counter.count_message(message)
    text = message.text
    total = counter.count_text(text)
    if total <= keep:
        return whole
    ends = (keep // 2, keep - keep // 2) if message.role == "user" else (keep, 0)
    head = counter.truncate_text(text, ends[0]) if ends[0] else ""
    tail = last_tokens(text[len(head) :], counter, ends[1]).lstrip()
    removed = total - sum(counter.count_text(part) for part in (head, tail) if part)
    cut = message.with_text("\n".join(p for p in (head, truncation_marker(removed), tail) if p))
    return min(whole, counter.count_message(cut))


def minimum_tokens(counter: Counter, messages: Sequence[Message], tools: Sequence[Any]) -> int:
    """The system prompt, tools, priming and the newest user message (or unit) at its floor,
    of what is sent (a call still waiting for its results is not)."""
    messages = without_abandoned_calls(messages)
    systems = leading(messages)
    unit = newest_unit(messages)
    keep = NEWEST_USER_MIN_TOKENS if unit and unit[0].role == "user" else 0
    return prompt_tokens(counter, systems, tools) + sum(
        floor_tokens(counter, m, keep) for m in unit
    )


def last_unit(messages: Sequence[Message]) -> list[Message]:
    """The newest unit of the history."""
    groups = units(messages)
    return groups[-1] if groups else []


def core_floor_tokens(counter: Counter, messages: Sequence[Message]) -> int:
    """The system prompt, priming, the newest user message and the newest unit at their
    floors.

    The prompt with the summary added fits when this plus the summary message does. Of
    what is sent (a call still waiting for its results is not).
    """
    messages = without_abandoned_calls(messages)
    systems = leading(messages)
    anchor = newest_unit(messages)
    keep = NEWEST_USER_MIN_TOKENS if anchor and anchor[0].role == "user" else 0
    core = {m.id: (m, keep) for m in anchor}
    core.update({m.id: (m, 0) for m in last_unit(messages) if m.id not in core})
    floors = sum(floor_tokens(counter, m, low) for m, low in core.values())
    return prompt_tokens(counter, systems, []) + floors


def assert_only_the_newest_cut(source: Sequence[Message], report: Any) -> None:
    """Only the newest user message and the newest unit (of what is sent) may be cut, never
    an older step."""
    source = without_abandoned_calls(source)
    cuttable = {m.id for m in (*newest_unit(source), *last_unit(source))}
    assert set(report.truncated) <= cuttable, "an older message was cut instead of dropped"


def assert_starts_on_a_user_turn(source: Sequence[Message], result: Sequence[Message]) -> None:
    """Once older history is dropped, the history sent starts with a user message: the
    replies whose question went are dropped with it."""
    unit, groups = newest_unit(source), units(source)
    sent = {m.id for m in result}
    if not unit or unit[0].role != "user" or groups[0][0].id in sent:
        return
    first = next(m for m in history(source) if m.id in sent)
    assert first.role == "user", f"the history sent starts with a {first.role} message"


def assert_cut_in_the_middle(original: str, sent: str) -> None:
    """A cut user message keeps its start and its end, the marker between them."""
    if sent == original:
        return
    at = sent.index("[… truncated")
    head, tail = (" ".join(part.split()) for part in (sent[:at], sent[sent.index("…]", at) + 2 :]))
    whole = " ".join(original.split())  # the word counter's cuts join words with one space
    assert whole.startswith(head) and whole.endswith(tail), "not cut in the middle"
    if len(original.split()) > 2 * NEWEST_USER_MIN_TOKENS:
        assert tail, "the end of the newest user message was lost"


def assert_summary_sent_if_it_fits(
    counter: Counter, plan: SummaryPlan, result: ContextResult, text: str | None, room: int
) -> None:
    """A summary within its planned size is sent whole when it fits beside the newest."""
    if text is None or counter.count_text(text) > plan.summary_max_tokens:
        return
    whole = counter.count_message(summary_message(text))
    if core_floor_tokens(counter, plan.keep) + whole <= room:
        event("summary fits")
        sent = [m.text for m in result.messages if m.id == "summary"]
        assert sent == [SUMMARY_PREFIX + text], "a stored summary that fits was not sent"


def assert_tool_groups_whole(source: Sequence[Message], result: Sequence[Message]) -> None:
    sent = {m.id for m in result}
    calls = {call.id: m.id for m in result for call in m.tool_calls}
    for message in result:
        if message.role == "tool":
            assert message.tool_call_id in calls, f"{message.id} sent without its call"
    for message in source:
        if message.role == "tool" and message.tool_call_id in calls:
            assert message.id in sent, f"{message.id} dropped while its call was sent"


def assert_contiguous_before_newest(source: Sequence[Message], result: Sequence[Message]) -> None:
    said = [m.id for m in history(source)]
    unit = newest_unit(source)
    if not unit:
        return
    anchor = said.index(unit[0].id)
    older = sorted(said.index(m.id) for m in result if m.id in said[:anchor])
    assert older == list(range(anchor - len(older), anchor))


@pytest.mark.parametrize("counter_name", COUNTERS)
@PROPERTY_SETTINGS
@given(messages=conversations(), spec=budget_specs, with_tools=st.booleans())
def test_token_budget_invariants(
    counter_name: str, messages: list[Message], spec: tuple[float | int, int], with_tools: bool
) -> None:
    counter = COUNTERS[counter_name]()
    tools = TOOLS if with_tools else []
    total, minimum = (
        prompt_tokens(counter, messages, tools),
        minimum_tokens(counter, messages, tools),
    )
    budget, reserve = budget_from(spec, total, minimum)
    try:
        result = token_budget(messages, counter, budget=budget, reserve=reserve, tools=tools)
    except BudgetExceededError:
        event("budget exceeded")
        assert minimum_tokens(counter, messages, tools) > budget - reserve
        return
    event("truncated" if result.report.truncated else "not truncated")
    event("dropped" if result.report.dropped else "all kept")
    sent = result.messages
    after = prompt_tokens(counter, sent, tools)
    assert after == result.report.tokens_after <= budget - reserve
    ids = [m.id for m in sent]
    assert {m.id for m in leading(messages)} <= set(ids)
    unit = newest_unit(messages)
    if unit and unit[0].role == "user":
        [newest] = [m for m in sent if m.id == unit[0].id]
        assert newest.text == unit[0].text or "[… truncated" in newest.text
        assert_cut_in_the_middle(unit[0].text, newest.text)
    assert_tool_groups_whole(messages, sent)
    assert_contiguous_before_newest(messages, sent)
    assert_starts_on_a_user_turn(messages, sent)
    assert_only_the_newest_cut(messages, result.report)
    report = result.report
    assert list(report.kept) == ids
    assert set(report.kept) | set(report.dropped) == {m.id for m in messages}
    assert not set(report.kept) & set(report.dropped)
    assert set(report.truncated) == {m.id for m in sent if m not in messages}


def with_clashing_ids(messages: list[Message]) -> list[Message]:
    """`messages`, the first two renamed to the ids a context gives its own messages."""
    names = iter(["memories", "summary"])
    return [replace(m, id=next(names, m.id)) for m in messages]


@pytest.mark.parametrize("counter_name", COUNTERS)
@PROPERTY_SETTINGS
@given(
    messages=conversations(),
    spec=st.tuples(st.one_of(st.floats(0.05, 2.0), st.integers(-5, 150)), st.integers(0, 40)),
    offered=recalls(),
    share=st.floats(0.05, 0.95),
    summary=st.sampled_from([None, "they compared bikes", " ".join(VOCABULARY * 20)]),
    with_tools=st.booleans(),
    clash=st.booleans(),
)
def test_token_budget_with_recall_invariants(
    counter_name: str,
    messages: list[Message],
    spec: tuple[float | int, int],
    offered: Recall,
    share: float,
    summary: str | None,
    with_tools: bool,
    clash: bool,
) -> None:
    """The block never costs the current turn or the summary anything: both are sent as they
    are without it (the newest user message whole whenever memories are sent); only older
    history gives way to it. The budget given is the one reported and never exceeded."""
    counter = COUNTERS[counter_name]()
    tools = TOOLS if with_tools else []
    messages = with_clashing_ids(messages) if clash else messages
    total, minimum = (
        prompt_tokens(counter, messages, tools),
        minimum_tokens(counter, messages, tools),
    )
    budget, reserve = budget_from(spec, total, minimum)
    tools_cost = counter.count_tools(tools) if tools else 0
    room = recall_room(
        counter, budget=budget, reserve=reserve, tools_tokens=tools_cost, share=share
    )
    offered = replace(offered, max_tokens=room)
    options: dict[str, Any] = {"budget": budget, "reserve": reserve, "tools": tools}
    try:
        without = token_budget(messages, counter, summary=summary, **options)
    except BudgetExceededError:
        event("budget exceeded")
        with pytest.raises(BudgetExceededError):
            token_budget(messages, counter, summary=summary, recall=offered, **options)
        return
    result = token_budget(messages, counter, summary=summary, recall=offered, **options)
    report, sent = result.report, result.messages
    assert report.budget == budget
    assert prompt_tokens(counter, sent, tools) == report.tokens_after <= budget - reserve
    given = {m.id for m in messages}
    sent_ids = [m.id for m in sent]
    assert len(set(sent_ids)) == len(sent_ids), "two messages of the context share an id"
    blocks = [m for m in sent if m.id not in given and m.id.startswith("memories")]
    assert len(blocks) == (1 if report.memory_tokens else 0)
    event("memories sent" if blocks else "no memories sent")
    assert report.memory_tokens == sum(counter.count_message(m) for m in blocks) <= room
    assert sorted([*report.recalled, *report.recall_dropped]) == sorted(
        h.memory.id for h in offered.hits
    )
    assert set(report.profile_dropped) <= set(offered.profile)
    for memory in (h.memory for h in offered.hits if h.memory.id in report.recalled):
        assert f"- {memory.text}" in blocks[0].text
    assert (report.truncated, report.summary_tokens) == (
        without.report.truncated,
        without.report.summary_tokens,
    ), "the memories cost the current turn or the summary tokens"
    others = {(m.id, m.text) for m in sent if m not in blocks}
    assert others <= {(m.id, m.text) for m in without.messages}, "a message was sent otherwise"
    unit = newest_unit(messages)
    if blocks and unit and unit[0].role == "user":
        assert unit[0] in sent, "the newest user message was cut while memories were sent"


@pytest.mark.parametrize("counter_name", COUNTERS)
@PROPERTY_SETTINGS
@given(
    messages=conversations(max_events=30),
    budget=st.integers(40, 800),
    reserve=st.integers(0, 30),
    fractions=st.tuples(st.floats(0.1, 1.0), st.floats(0.05, 1.0)).map(sorted),
)
def test_summary_buffer_folds_every_message_exactly_once(
    counter_name: str,
    messages: list[Message],
    budget: int,
    reserve: int,
    fractions: list[float],
) -> None:
    counter = COUNTERS[counter_name]()
    target, trigger = fractions
    stored: list[Message] = []
    summarized: list[str] = []  # the fake summary: which messages it folded, in order
    summary: Summary | None = None
    for seq, message in enumerate(messages, start=1):
        stored.append(message.__class__.from_dict({**message.to_dict(), "seq": seq}))
        through = summary.through_seq if summary else 0
        prompt = leading(stored)
        live = [*prompt, *(m for m in history(stored) if (m.seq or 0) > through)]
        plan = plan_summary(
            live,
            counter,
            budget=budget,
            reserve=reserve,
            summary=summary,
            trigger=trigger,
            target=target,
        )
        assert not plan.folded
        evicted = [m.id for m in plan.evict]
        assert not set(evicted) & set(summarized), "a message was summarised twice"
        summarized += evicted
        if plan.evict:
            assert plan.through_seq is not None
            folded = f"a summary of {len(summarized)} messages"
            summary = Summary(session_id="s", text=folded, through_seq=plan.through_seq)
        kept = [m.id for m in plan.keep if m.id not in {m.id for m in prompt}]
        assert sorted([*summarized, *kept]) == sorted(m.id for m in history(stored))
        assert {m.id for m in prompt} <= {m.id for m in plan.keep}
        users = [m.id for m in stored if m.role == "user"]
        assert not users or users[-1] in {m.id for m in plan.keep}, "the newest user was evicted"
        text = summary.text if summary else None
        try:
            result = assemble_summary(
                plan, counter, summary_text=text, budget=budget, reserve=reserve
            )
        except BudgetExceededError:
            event("budget exceeded")
            assert minimum_tokens(counter, plan.keep, []) > budget - reserve
            continue
        event("evicted" if evicted else "under the trigger")
        assert prompt_tokens(counter, result.messages, []) <= budget - reserve
        assert set(result.report.summarized) == set(evicted)
        assert_tool_groups_whole(plan.keep, result.messages)
        assert_only_the_newest_cut(plan.keep, result.report)
        assert_starts_on_a_user_turn(plan.keep, result.messages)
        assert_summary_sent_if_it_fits(counter, plan, result, text, budget - reserve)


@pytest.mark.parametrize("counter_name", COUNTERS)
@PROPERTY_SETTINGS
@given(
    messages=agent_loops(),
    budget=st.integers(40, 800),
    reserve=st.integers(0, 30),
    folded=st.integers(0, 8),
)
def test_summary_buffer_drops_an_agent_loop_oldest_first(
    counter_name: str, messages: list[Message], budget: int, reserve: int, folded: int
) -> None:
    """After the newest user message, older steps are dropped whole, not cut to markers,
    and the stored summary is sent whenever it fits beside the newest messages."""
    counter = COUNTERS[counter_name]()
    stored = [Message.from_dict({**m.to_dict(), "seq": seq}) for seq, m in enumerate(messages, 1)]
    through = min(folded, next(m.seq or 0 for m in stored if m.id == "m99") - 1)
    summary = Summary(session_id="s", text="they compared bikes", through_seq=through)
    live = [*leading(stored), *(m for m in history(stored) if (m.seq or 0) > through)]
    plan = plan_summary(live, counter, budget=budget, reserve=reserve, summary=summary)
    text = summary.text  # no fold changes it: the fake summary stays the same
    try:
        result = assemble_summary(plan, counter, summary_text=text, budget=budget, reserve=reserve)
    except BudgetExceededError:
        event("budget exceeded")
        assert minimum_tokens(counter, plan.keep, []) > budget - reserve
        return
    event("dropped" if result.report.dropped else "all kept")
    assert prompt_tokens(counter, result.messages, []) <= budget - reserve
    assert "m99" in {m.id for m in result.messages}
    assert_tool_groups_whole(plan.keep, result.messages)
    assert_only_the_newest_cut(plan.keep, result.report)
    assert_summary_sent_if_it_fits(counter, plan, result, text, budget - reserve)
