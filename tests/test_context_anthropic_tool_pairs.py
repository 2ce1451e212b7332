"""Tool calls in Anthropic's shape in every strategy: an assistant message's `tool_use` parts,
answered by the `tool_result` parts of the user message after it, are one unit, kept, dropped,
windowed and summarised together like OpenAI's `tool_calls` and tool messages, and counted as
the messages `to_openai()` sends for them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from engram import BudgetExceededError, Engram
from engram.context import (
    ContextResult,
    assemble_summary,
    buffer,
    message_tokens,
    plan_summary,
    token_budget,
    window,
    without_abandoned_calls,
)
from engram.stores.memory import InMemoryConversationStore
from engram.tokens import TokenCounter
from engram.types import ContentPart, Message, ToolCall
from test_context_anthropic import assert_anthropic_accepts
from test_context_properties import (
    COUNTERS,
    PROPERTY_SETTINGS,
    TOOLS,
    agent_loops,
    conversations,
)
from test_context_support import WordCounter, ids, openai_accepts, words


def use(call: str) -> ContentPart:
    return ContentPart(type="tool_use", extra={"id": call, "name": "lookup", "input": {"q": "x"}})


def result(call: str, text: str = "result") -> ContentPart:
    return ContentPart(type="tool_result", extra={"tool_use_id": call, "content": text})


def calls(*uses: str, text: str = "", **fields: Any) -> Message:
    """An assistant message of `tool_use` parts (its `tool_calls` empty), after its text."""
    said = (ContentPart(type="text", text=text),) if text else ()
    return Message(role="assistant", content=(*said, *(use(u) for u in uses)), **fields)


def results(*parts: ContentPart, **fields: Any) -> Message:
    return Message(role="user", content=parts, **fields)


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def say(role: str, text: str, **fields: Any) -> Message:
    return Message(role=role, content=text, **fields)  # type: ignore[arg-type]


def history() -> list[Message]:
    return [
        say("system", "You help.", id="s"),
        say("user", "Weather in Paris?", id="u1"),
        calls("c1", text="Checking.", id="a1"),
        results(result("c1", words(40, "sunny")), id="r1"),
        say("assistant", "Sunny.", id="a2"),
        say("user", "And Rome?", id="u2"),
    ]


def sent_tokens(counter: Any, context: ContextResult, tools: Sequence[Any] = ()) -> int:
    """What the messages `to_openai()` gives cost."""
    messages = [Message.from_openai(m) for m in context.to_openai()]
    return int(counter.count_messages(messages)) + (counter.count_tools(tools) if tools else 0)


def assert_pairs_whole(context: ContextResult) -> None:
    assert openai_accepts(context.to_openai())
    assert_anthropic_accepts(context.to_anthropic())


# 1. One unit: no strategy splits a call from its results.


def test_a_window_does_not_start_between_a_tool_use_and_its_result() -> None:
    """(was: the window sent r1 without a1, a prompt both APIs refuse)"""
    context = window(history(), WordCounter(), last_messages=3)
    assert ids(context.messages) == ["s", "a1", "r1", "a2", "u2"]
    assert_pairs_whole(context)


def test_a_window_of_turns_counts_a_result_message_as_no_turn() -> None:
    """(was: the user message of results began a turn, so the window began there)"""
    context = window(history(), WordCounter(), last_turns=2)
    assert ids(context.messages) == ["s", "u1", "a1", "r1", "a2", "u2"]
    context = window(history(), WordCounter(), last_turns=1)
    assert ids(context.messages) == ["s", "u2"]


@pytest.mark.parametrize("budget", range(20, 90, 4))
def test_token_budget_keeps_or_drops_the_pair_together(budget: int) -> None:
    counter = WordCounter()
    try:
        context = token_budget(history(), counter, budget=budget)
    except BudgetExceededError:
        return
    kept = set(ids(context.messages))
    assert ("a1" in kept) == ("r1" in kept)
    assert sent_tokens(counter, context) == context.report.tokens_after <= budget
    assert_pairs_whole(context)


def test_an_agent_loop_anchors_on_the_users_message_not_on_a_result() -> None:
    """The newest user turn is the user's question, not the results after it: cut to fit,
    it keeps its end (was: the newest results message was taken for the user's turn)."""
    loop = [
        say("user", words(200, "q"), id="u1"),
        calls("c1", id="a1"),
        results(result("c1", words(5)), id="r1"),
        calls("c2", id="a2"),
        results(result("c2", words(5)), id="r2"),
    ]
    context = token_budget(loop, WordCounter(), budget=70)
    assert ids(context.messages) == ["u1", "a2", "r2"]
    assert context.report.truncated == ("u1",)
    assert_pairs_whole(context)


def test_a_summary_folds_a_pair_whole() -> None:
    """(was: the results message, taken for a user turn, stopped the eviction after a1)"""
    counter = WordCounter()
    messages = [
        say("user", words(40), id="u1", seq=1),
        calls("c1", "c2", id="a2", seq=2),
        results(result("c1", words(5)), result("c2", words(5)), id="r3", seq=3),
        say("user", words(30), id="u4", seq=4),
    ]
    plan = plan_summary(messages, counter, budget=100, summary_max_tokens=1)
    assert ids(plan.evict) == ["u1", "a2", "r3"]
    context = assemble_summary(plan, counter, summary_text="they asked", budget=100)
    assert ids(context.messages) == ["summary", "u4"]


# 2. Malformed histories: orphans, several calls, calls partly answered.


def test_an_orphan_result_at_the_start_is_never_sent() -> None:
    """(was: sent first, answering no call)"""
    messages = [
        results(result("c0"), id="r0"),
        say("assistant", "Done.", id="a1"),
        say("user", "Thanks", id="u2"),
    ]
    for context in (buffer(messages, WordCounter()), window(messages, WordCounter(), last_turns=5)):
        assert ids(context.messages) == ["a1", "u2"]
        assert "r0" in context.report.dropped
    assert ids(without_abandoned_calls(messages)) == ["a1", "u2"]


def test_an_orphan_result_is_taken_out_of_what_the_user_said_with_it() -> None:
    said = ContentPart(type="text", text="Also, Rome?")
    messages = [results(result("c0"), said, id="u0"), say("assistant", "Rome is warm.")]
    [first, _] = without_abandoned_calls(messages)
    assert (first.id, first.content) == ("u0", (said,))


def test_several_uses_answered_by_one_message_of_several_results() -> None:
    messages = [
        say("user", "Paris and Rome?", id="u1"),
        calls("c1", "c2", text="Both.", id="a1"),
        results(result("c1", "sunny"), result("c2", "rain"), id="r1"),
        say("assistant", "Sunny, then rain.", id="a2"),
    ]
    context = window(messages, WordCounter(), last_messages=2)
    assert ids(context.messages) == ["a1", "r1", "a2"]
    assert_pairs_whole(context)
    openai = context.to_openai()
    assert [m["role"] for m in openai] == ["assistant", "tool", "tool", "assistant"]
    assert [c["id"] for c in openai[0]["tool_calls"]] == ["c1", "c2"]


def test_parallel_uses_partly_answered_lose_the_unanswered_ones() -> None:
    """(was: c2's `tool_use` stayed, unanswered, refused by both APIs)"""
    messages = [
        say("user", "Paris and Rome?", id="u1"),
        calls("c1", "c2", text="Both.", id="a1"),
        results(result("c1", "sunny"), id="r1"),
        say("user", "Thanks", id="u2"),
    ]
    kept = without_abandoned_calls(messages)
    assert ids(kept) == ["u1", "a1", "r1", "u2"]
    assert kept[1].content == (ContentPart(type="text", text="Both."), use("c1"))
    assert_pairs_whole(buffer(kept, WordCounter()))


def test_a_use_whose_result_never_came_is_left_out_with_a_blank_message() -> None:
    messages = [say("user", "Weather?", id="u1"), calls("c1", id="a1"), say("user", "Hello?")]
    assert ids(without_abandoned_calls(messages))[:1] == ["u1"]
    assert "a1" not in ids(without_abandoned_calls(messages))


# 3. Counting: the results are counted as the tool messages sent for them.


def test_a_result_part_counts_as_the_tool_message_sent_for_it() -> None:
    """(was: 4 tokens, its content not counted, so a budget could be exceeded)"""
    counter = TokenCounter.for_model("gpt-4o")
    [message] = [m for m in history() if m.id == "r1"]
    tool = Message(role="tool", content=words(40, "sunny"), tool_call_id="c1")
    assert message_tokens(message, counter) == counter.count_message(tool)
    assert message_tokens(replace(message, tokens=4, encoding=counter.encoding), counter) == (
        counter.count_message(tool)
    ), "a stored count blind to the result's content was trusted"


def test_a_use_part_counts_as_the_call_sent_for_it() -> None:
    counter = TokenCounter.for_model("gpt-4o")
    message = calls("c1", text="Checking.")
    context = buffer([message, results(result("c1"))], counter)
    [sent, _] = [Message.from_openai(m) for m in context.to_openai()]
    assert message_tokens(message, counter) == counter.count_message(sent)


def test_token_budget_never_exceeds_the_budget_with_long_results() -> None:
    """(was: the results' content was free, so the prompt sent was over the budget)"""
    counter = TokenCounter.for_model("gpt-4o")
    context = token_budget(history(), counter, budget=60)
    assert "r1" not in ids(context.messages)
    assert sent_tokens(counter, context) == context.report.tokens_after <= 60


# 4. Properties: conversations with tool groups in Anthropic's shape.


def anthropic_shaped(messages: Sequence[Message], mixed: bool) -> list[Message]:
    """`messages`, each tool call group in Anthropic's shape: the calls as `tool_use` parts
    after the text, the results as one user message of `tool_result` parts (its id the last
    tool message's), followed, when `mixed`, by a text part the user said with them."""
    shaped: list[Message] = []
    group: list[Message] = []

    def close() -> None:
        if group:
            parts = [result(m.tool_call_id or "", m.text) for m in group]
            if mixed:
                parts.append(ContentPart(type="text", text="and also"))
            shaped.append(results(*parts, id=group[-1].id))
            group.clear()

    for message in messages:
        if message.role == "tool":
            group.append(message)
            continue
        if message.role != "system":
            close()
        if message.tool_calls:
            uses = tuple(ContentPart.from_openai(c.to_anthropic()) for c in message.tool_calls)
            said = (ContentPart(type="text", text=message.text),) if message.text else ()
            message = replace(message, content=(*said, *uses), tool_calls=())
        shaped.append(message)
    close()
    return shaped


def pairs(messages: Sequence[Message]) -> list[tuple[str, str]]:
    """(the calls' message id, their results' message id) of each Anthropic-shaped group."""
    found = []
    for at, message in enumerate(messages):
        if message.role == "user" and not isinstance(message.content, str):
            if any(part.type == "tool_result" for part in message.content):
                caller = next(m for m in reversed(messages[:at]) if m.role == "assistant")
                found.append((caller.id, message.id))
    return found


@pytest.mark.parametrize("counter_name", COUNTERS)
@PROPERTY_SETTINGS
@given(
    messages=st.one_of(conversations(), agent_loops()),
    size=st.one_of(st.floats(0.05, 1.3), st.integers(5, 200)),
    reserve=st.integers(0, 20),
    mixed=st.booleans(),
    with_tools=st.booleans(),
    near=st.one_of(st.none(), st.floats(0.5, 1.0)),
    lengths=st.lists(st.integers(0, 300), min_size=1, max_size=5),
)
def test_token_budget_sends_anthropic_pairs_whole_within_the_budget(
    counter_name: str,
    messages: list[Message],
    size: float | int,
    reserve: int,
    mixed: bool,
    with_tools: bool,
    near: float | None,
    lengths: list[int],
) -> None:
    """Budgets near the whole conversation's cost, or a `near` share of the newest user
    message's and the newest unit's, where the newest results are cut."""
    counter = COUNTERS[counter_name]()
    tools = TOOLS if with_tools else []
    messages = with_result_lengths(messages, lengths)
    shaped = anthropic_shaped(messages, mixed)
    cost = buffer(_anchor_and_newest(shaped) if near else shaped, counter, tools=tools)
    total = cost.report.tokens_after
    size = near or size
    budget = max(1, round(size * total) if isinstance(size, float) else size) + reserve
    options: dict[str, Any] = {"budget": budget, "reserve": reserve, "tools": tools}
    try:
        context = token_budget(shaped, counter, **options)
    except BudgetExceededError:
        event("budget exceeded")
        if not mixed:  # the same newest user message at its floor: the same verdict
            with pytest.raises(BudgetExceededError):
                token_budget(messages, counter, **options)
        return
    if not mixed:
        token_budget(messages, counter, **options)  # no error either
    event("dropped" if context.report.dropped else "all kept")
    answers = {answer for _, answer in pairs(shaped)}
    event("results cut" if answers & set(context.report.truncated) else "no results cut")
    assert sent_tokens(counter, context, tools) == context.report.tokens_after
    assert context.report.tokens_after <= budget - reserve
    assert_pairs_whole(context)
    kept = set(ids(context.messages))
    for call, answer in pairs(shaped):
        assert (call in kept) == (answer in kept), f"{call} and {answer} were split"


def with_result_lengths(messages: Sequence[Message], lengths: Sequence[int]) -> list[Message]:
    """`messages`, the tool messages' texts `lengths` words long in turn (the generated ones
    are mostly empty)."""
    sizes = iter(lengths * len(messages))
    return [replace(m, content=words(next(sizes))) if m.role == "tool" else m for m in messages]


def _anchor_and_newest(messages: Sequence[Message]) -> list[Message]:
    """The newest message the user said (text, not results) and the messages from the newest
    assistant message on after it: what a budget near their cost makes `token_budget` cut."""
    said = [at for at, m in enumerate(messages) if m.role == "user" and m.content is m.text]
    anchor = said[-1] if said else 0
    replies = [at for at, m in enumerate(messages) if m.role == "assistant" and at > anchor]
    return [*messages[anchor : anchor + 1], *messages[replies[-1] if replies else anchor + 1 :]]


@PROPERTY_SETTINGS
@given(messages=conversations(), turns=st.integers(0, 6))
def test_a_window_of_turns_keeps_the_same_messages_in_either_shape(
    messages: list[Message], turns: int
) -> None:
    counter = WordCounter()
    shaped = window(anthropic_shaped(messages, False), counter, last_turns=turns)
    openai = window(messages, counter, last_turns=turns)
    answer = results_message_ids(messages)
    assert ids(shaped.messages) == list(
        dict.fromkeys(answer.get(m.id, m.id) for m in openai.messages)
    )
    assert_pairs_whole(shaped)


def results_message_ids(messages: Sequence[Message]) -> dict[str, str]:
    """Each tool message's id: the id of the message of results `anthropic_shaped` makes of it
    (the last tool message's of its group)."""
    answer: dict[str, str] = {}
    group: list[str] = []
    for message in [*messages, Message(role="user")]:
        if message.role == "tool":
            group.append(message.id)
        elif message.role != "system":
            answer.update((i, group[-1]) for i in group)
            group = []
    return answer


@pytest.mark.parametrize("counter_name", COUNTERS)
@PROPERTY_SETTINGS
@given(
    messages=conversations(max_events=30),
    budget=st.integers(40, 800),
    mixed=st.booleans(),
)
def test_a_summary_folds_anthropic_pairs_whole(
    counter_name: str, messages: list[Message], budget: int, mixed: bool
) -> None:
    counter = COUNTERS[counter_name]()
    shaped = [
        replace(m, seq=seq) for seq, m in enumerate(anthropic_shaped(messages, mixed), start=1)
    ]
    plan = plan_summary(shaped, counter, budget=budget, trigger=0.5, target=0.3)
    evicted = set(ids(plan.evict))
    for call, answer in pairs(shaped):
        assert (call in evicted) == (answer in evicted), f"{call} and {answer} were split"
    event("evicted" if evicted else "under the trigger")
    try:
        context = assemble_summary(plan, counter, summary_text="they talked", budget=budget)
    except BudgetExceededError:
        return
    assert sent_tokens(counter, context) == context.report.tokens_after <= budget
    assert_pairs_whole(context)


def test_the_newest_result_is_cut_to_fit_as_a_tool_message_is() -> None:
    """(was: a result part could not be cut, so a long one was dropped with its call, and
    the agent would call the tool again)"""
    counter = WordCounter()
    loop = [
        say("user", "Read the page.", id="u1"),
        calls("c1", id="a1"),
        results(result("c1", words(300, "page")), id="r1"),
    ]
    twin = [
        loop[0],
        Message(role="assistant", id="a1", tool_calls=(ToolCall("c1", "lookup", '{"q": "x"}'),)),
        say("tool", words(300, "page"), id="r1", tool_call_id="c1"),
    ]
    context = token_budget(loop, counter, budget=100)
    openai = token_budget(twin, counter, budget=100)
    assert ids(context.messages) == ids(openai.messages) == ["u1", "a1", "r1"]
    assert context.report.truncated == openai.report.truncated == ("r1",)
    assert context.to_openai()[2] == openai.to_openai()[2]  # the tool message, cut alike
    assert sent_tokens(counter, context) == context.report.tokens_after <= 100


def test_reasoning_to_anthropic_sends_as_thinking_is_counted() -> None:
    """A signed LangChain `reasoning` block goes to Anthropic as a `thinking` block: its text
    counts, as a `thinking` block's does (was: free, even in a stored count)."""
    counter = TokenCounter.for_model("gpt-4o")
    thought = words(30, "hmm")
    reasoning = {"type": "reasoning", "reasoning": thought, "extras": {"signature": "sig"}}
    message = Message(
        role="assistant",
        content=(ContentPart.from_openai(reasoning), ContentPart(type="text", text="Done.")),
    )
    [turn] = buffer([message], counter).to_anthropic()["messages"][1:]
    assert turn["content"][0] == {"type": "thinking", "thinking": thought, "signature": "sig"}
    expected = counter.count_message(message) + counter.count_text(thought)
    assert message_tokens(message, counter) == expected
    stored = replace(message, tokens=counter.count_message(message), encoding=counter.encoding)
    assert message_tokens(stored, counter) == expected


def test_a_thinking_block_counts_though_to_openai_leaves_it_out() -> None:
    """The context does not know which format it goes in: a part only one sends counts, so
    the count is over what `to_openai()` sends by it, never under."""
    counter = TokenCounter.for_model("gpt-4o")
    thinking = ContentPart(type="thinking", extra={"thinking": words(30, "hmm"), "signature": "s"})
    message = Message(role="assistant", content=(thinking, ContentPart(type="text", text="Hi.")))
    context = buffer([say("user", "Hi"), message], counter)
    extra = counter.count_text(words(30, "hmm"))
    assert context.report.tokens_after == sent_tokens(counter, context) + extra


# 5. In a session, on every strategy.

STRATEGIES: list[dict[str, Any]] = [
    {"strategy": "buffer"},
    {"strategy": "window", "last_messages": 3},
    {"strategy": "window", "last_turns": 1},
    {"strategy": "token_budget"},
    {"strategy": "summary"},
]


@pytest.mark.parametrize("spec", STRATEGIES, ids=lambda s: "-".join(map(str, s.values())))
def test_a_session_of_anthropic_tool_pairs_sends_them_whole(spec: dict[str, Any]) -> None:
    with Engram(InMemoryConversationStore()) as engram:
        s = engram.session("s1")
        s.add("system", "You are a travel assistant.")
        for turn in range(6):
            s.add("user", f"Weather in city {turn}? " + words(30, "please"))
            s.add("assistant", [text("Checking."), use(f"c{turn}").to_openai()])
            s.add("user", [result(f"c{turn}", words(80, "sunny")).to_openai()])
            s.add("assistant", f"Sunny in city {turn}. " + words(20, "nice"))
        s.add("assistant", [use("pending").to_openai()])  # its result not in yet
        context = s.context("gpt-4o", budget=600, **spec)
        stored = s.messages()
    counter = TokenCounter.for_model("gpt-4o")
    assert sent_tokens(counter, context) == context.report.tokens_after
    if spec["strategy"] in ("token_budget", "summary"):
        assert context.report.tokens_after <= 600
    assert_pairs_whole(context)
    kept = set(ids(context.messages))
    assert stored[-1].id not in kept, "a call still waiting for its result was sent"
    for call, answer in pairs(stored):
        assert (call in kept) == (answer in kept), f"{call} and {answer} were split"
