"""Unit tests of the stateless strategies: buffer, window, token_budget, and their reports."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from engram._exceptions import BudgetExceededError, InvalidInputError
from engram.context import (
    SUMMARY_PREFIX,
    buffer,
    token_budget,
    truncation_marker,
    window,
)
from engram.tokens import TokenCounter
from engram.types import ContentPart, Message
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

TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]


@pytest.fixture
def counter() -> WordCounter:
    return WordCounter()


def chat() -> list[Message]:
    """sys, u1, a1, u2, a2(call c1), tool c1, a3, u3 (ids spell the roles)."""
    return [
        system("be brief", id="sys"),
        user("hello", id="u1"),
        assistant("hi there", id="a1"),
        user("what is the weather", id="u2"),
        assistant("", "c1", id="a2"),
        tool("c1", "sunny and warm", id="t1"),
        assistant("it is sunny", id="a3"),
        user("thanks", id="u3"),
    ]


# buffer


def test_buffer_sends_everything_and_reports_the_cost(counter: WordCounter) -> None:
    messages = chat()
    result = buffer(messages, counter, tools=TOOLS)
    expected = counter.count_messages(messages) + counter.count_tools(TOOLS)
    report = result.report
    assert result.messages == tuple(messages)
    assert (report.strategy, report.budget, report.dropped) == ("buffer", None, ())
    assert report.kept == tuple(ids(messages))
    assert report.tokens_before == report.tokens_after == expected
    assert report.tools_tokens == counter.count_tools(TOOLS)


# window


def test_window_keeps_system_messages_and_the_last_messages(counter: WordCounter) -> None:
    result = window(chat(), counter, last_messages=2)
    assert ids(result.messages) == ["sys", "a3", "u3"]
    assert result.report.dropped == ("u1", "a1", "u2", "a2", "t1")


def test_window_widens_to_a_whole_tool_group(counter: WordCounter) -> None:
    result = window(chat(), counter, last_messages=3)
    assert ids(result.messages) == ["sys", "a2", "t1", "a3", "u3"]


def test_window_by_turns_starts_at_a_user_message(counter: WordCounter) -> None:
    assert ids(window(chat(), counter, last_turns=1).messages) == ["sys", "u3"]
    two = ["sys", "u2", "a2", "t1", "a3", "u3"]
    assert ids(window(chat(), counter, last_turns=2).messages) == two
    assert ids(window(chat(), counter, last_turns=9).messages) == ids(chat())
    assert ids(window(chat(), counter, last_turns=0).messages) == ["sys"]


def test_window_leaves_out_an_orphan_tool_result_at_its_start(counter: WordCounter) -> None:
    messages = [tool("gone", id="orphan"), assistant("so", id="a"), user("ok", id="u")]
    result = window(messages, counter, last_messages=3)
    assert ids(result.messages) == ["a", "u"]
    assert result.report.dropped == ("orphan",)


def test_window_counts_a_later_system_message_as_history(counter: WordCounter) -> None:
    messages = [system("prompt", id="s0"), user("a", id="u1"), system("note", id="s1")]
    messages += [user("b", id="u2"), system("late", id="s2"), user("c", id="u3")]
    result = window(messages, counter, last_messages=2)
    assert ids(result.messages) == ["s0", "s2", "u3"]
    assert set(result.report.dropped) == {"u1", "s1", "u2"}


@pytest.mark.parametrize(
    "options",
    [{}, {"last_messages": 1, "last_turns": 1}, {"last_messages": -1}, {"last_turns": -2}],
)
def test_window_rejects_bad_sizes(counter: WordCounter, options: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError):
        window(chat(), counter, **options)


# token_budget


def sized(role: str, tokens: int, id: str) -> Message:
    """A message of exactly `tokens` tokens for WordCounter (3 of them overhead)."""
    return Message(role=role, content=words(tokens - 3), id=id)  # type: ignore[arg-type]


def test_token_budget_keeps_everything_that_fits(counter: WordCounter) -> None:
    messages = chat()
    result = token_budget(messages, counter, budget=1000)
    assert result.messages == tuple(messages)
    assert result.report.tokens_after == counter.count_messages(messages)
    assert result.report.dropped == result.report.truncated == ()


def test_token_budget_keeps_the_newest_contiguous_history(counter: WordCounter) -> None:
    messages = [sized("system", 10, "s"), sized("user", 5, "u1"), sized("assistant", 40, "a1")]
    messages += [sized("user", 20, "u2"), sized("assistant", 20, "a2"), sized("user", 10, "u3")]
    # 3 (priming) + 10 + 10 + 20 + 20 = 63: u3, a2, u2 fit; a1 does not, so u1 is not tried.
    result = token_budget(messages, counter, budget=70, reserve=7)
    assert ids(result.messages) == ["s", "u2", "a2", "u3"]
    assert result.report.tokens_after == 63
    assert result.report.dropped == ("u1", "a1")


def test_token_budget_counts_reserve_and_tools(counter: WordCounter) -> None:
    messages = [sized("user", 10, "u1"), sized("assistant", 10, "a1"), sized("user", 10, "u2")]
    tools_cost = counter.count_tools(TOOLS)
    # 3 (priming) + tools leave 29 tokens: room for u2 and a1, not for u1 as well; a1
    # answers u1, so it goes too (the history starts on a user turn).
    result = token_budget(messages, counter, budget=32 + tools_cost + 5, reserve=5, tools=TOOLS)
    assert ids(result.messages) == ["u2"]
    assert result.report.dropped == ("u1", "a1")
    assert result.report.tokens_after == 13 + tools_cost
    assert result.report.tools_tokens == tools_cost


def test_token_budget_keeps_or_drops_a_tool_group_whole(counter: WordCounter) -> None:
    call = Message(role="assistant", content=words(20), tool_calls=chat()[4].tool_calls, id="a")
    messages = [user("question", id="u1"), call, tool("c1", "ok", id="t")]
    messages.append(user("next", id="u2"))
    # u2 (4) + t (4) fit in 3 + 12, the 25-token call does not: the result goes with it.
    result = token_budget(messages, counter, budget=3 + 12)
    assert ids(result.messages) == ["u2"]
    assert result.report.dropped == ("u1", "a", "t")


def test_token_budget_truncates_the_newest_user_message(counter: WordCounter) -> None:
    """Its middle goes: the start says what it is about, the end asks the question."""
    text = " ".join(f"w{i}" for i in range(100))
    result = token_budget([system("sys", id="s"), user(text, id="u")], counter, budget=54)
    [kept_system, cut] = result.messages
    assert kept_system.id == "s"
    assert cut.id == "u"
    head, tail = " ".join(f"w{i}" for i in range(19)), " ".join(f"w{i}" for i in range(80, 100))
    assert cut.text == f"{head}\n{truncation_marker(61)}\n{tail}"
    assert counter.count_messages(result.messages) == 54
    assert result.report.truncated == ("u",)
    assert (cut.tokens, cut.encoding) == (47, "words")


def test_token_budget_fails_when_the_newest_user_message_cannot_fit(
    counter: WordCounter,
) -> None:
    messages = [system(words(20), id="s"), user(words(100), id="u")]
    # 3 + 23 for the system side, 40 for the user message at its floor (32 words + marker).
    token_budget(messages, counter, budget=66)
    with pytest.raises(BudgetExceededError, match=r"= 65 tokens.*take 26.* 40 more"):
        token_budget(messages, counter, budget=70, reserve=5)


def test_token_budget_fails_when_system_messages_cannot_fit(counter: WordCounter) -> None:
    with pytest.raises(BudgetExceededError, match="take 53 tokens"):
        token_budget([system(words(47))], counter, budget=50)


@pytest.mark.parametrize(("budget", "reserve"), [(0, 0), (-5, 0), (10, 10), (10, -1)])
def test_token_budget_rejects_bad_budgets(counter: WordCounter, budget: int, reserve: int) -> None:
    with pytest.raises(InvalidInputError):
        token_budget(chat(), counter, budget=budget, reserve=reserve)


def current_turn() -> list[Message]:
    """An older exchange, then a turn: a user question, a tool call and a 100-word result."""
    return [
        user(words(5), id="old"),
        user(words(10), id="u"),
        assistant("", "c1", id="a"),
        tool("c1", words(100), id="t"),
    ]


def test_token_budget_cuts_a_large_tool_result_of_the_current_turn(
    counter: WordCounter,
) -> None:
    # u 13 + a 5 + priming 3 = 21 leaves 29 for the result: 21 words and the marker.
    result = token_budget(current_turn(), counter, budget=50)
    assert ids(result.messages) == ["u", "a", "t"]
    assert result.messages[2].text == words(21) + "\n" + truncation_marker(79)
    assert result.report.truncated == ("t",)
    assert result.report.tokens_after == 50


def test_token_budget_drops_the_current_turn_tail_only_below_its_markers(
    counter: WordCounter,
) -> None:
    # The result's floor is its marker (8 tokens): 3 + 13 + 5 + 8 = 29.
    at_floor = token_budget(current_turn(), counter, budget=29)
    assert at_floor.messages[2].text == truncation_marker(100)
    # Below it, the tool group goes; the room left takes older history as usual.
    below = token_budget(current_turn(), counter, budget=28)
    assert ids(below.messages) == ["old", "u"]
    assert below.report.dropped == ("a", "t")


def test_token_budget_without_a_user_message_keeps_the_newest_unit(
    counter: WordCounter,
) -> None:
    messages = [assistant(words(10), id="a1"), assistant("", "c1", id="a2")]
    messages.append(tool("c1", words(100), id="t"))
    # a2 (5) and the result (cut to fit the 3 + 5 left: its marker) make the newest unit.
    result = token_budget(messages, counter, budget=16)
    assert ids(result.messages) == ["a2", "t"]
    assert result.messages[1].text == truncation_marker(100)


def test_token_budget_never_opens_with_an_orphan_tool_result(counter: WordCounter) -> None:
    messages = [tool("cut-off", id="orphan"), assistant("so", id="a"), user("ok", id="u")]
    result = token_budget(messages, counter, budget=1000)
    assert ids(result.messages) == ["a", "u"]
    assert result.report.dropped == ("orphan",)


def test_token_budget_places_the_summary_after_leading_system_messages(
    counter: WordCounter,
) -> None:
    messages = [system("rules", id="s"), user("a", id="u1"), user("b", id="u2")]
    result = token_budget(messages, counter, budget=100, summary="they met")
    [first, summary, *rest] = result.messages
    assert (first.id, ids(rest)) == ("s", ["u1", "u2"])
    assert (summary.role, summary.text) == ("system", SUMMARY_PREFIX + "they met")
    assert result.report.summary_tokens == counter.count_message(summary) == 10
    assert result.report.kept == ("s", "u1", "u2")


def test_token_budget_cuts_the_summary_before_the_current_turn(counter: WordCounter) -> None:
    messages = [user(words(10), id="u1"), user(words(10), id="u2")]
    # 3 + 13 for the newest user message leaves 14: the summary shrinks to fit them.
    result = token_budget(messages, counter, budget=30, summary=words(50))
    summary = result.messages[0]
    assert ids(result.messages) == ["summary", "u2"]
    assert summary.text == SUMMARY_PREFIX + "w\n" + truncation_marker(49)
    assert result.report.summary_tokens == 14
    assert counter.count_messages(result.messages) == 30


def test_token_budget_drops_a_summary_that_cannot_fit(counter: WordCounter) -> None:
    result = token_budget([user(words(10), id="u")], counter, budget=20, summary=words(50))
    assert ids(result.messages) == ["u"]
    assert result.report.summary_tokens == 0


def test_token_budget_keeps_non_text_parts_of_a_cut_message(counter: WordCounter) -> None:
    image = ContentPart(type="image_url", payload={"url": "https://example.com/cat.png"})
    parts = (ContentPart(type="text", text=words(100)), image)
    message = Message(role="user", content=parts, id="u")
    [cut] = token_budget([message], counter, budget=60).messages
    assert isinstance(cut.content, tuple)
    assert cut.content[1] == image
    assert cut.text == words(24) + "\n" + truncation_marker(51) + "\n" + words(25)


def test_token_budget_cuts_a_text_part_of_another_type() -> None:
    counter = TokenCounter.for_encoding("o200k_base")
    part = ContentPart(type="input_text", text="word " * 2000)  # the Responses API's text
    message = Message(role="user", content=(part,), id="u")
    result = token_budget([message], counter, budget=1000)
    [cut] = result.messages
    assert isinstance(cut.content, tuple)
    assert [(p.type, p.text is not None) for p in cut.content] == [("input_text", True)]
    assert result.report.truncated == ("u",)
    assert counter.count_messages(result.messages) <= 1000


def test_token_budget_counts_each_message_once(counter: WordCounter) -> None:
    messages = chat()[:1] + chat()[1:] * 20
    token_budget(messages, counter, budget=60)
    assert counter.message_counts == len(messages)


def test_token_budget_reuses_stored_counts(counter: WordCounter) -> None:
    stored = [replace(m, tokens=5, encoding="words") for m in chat()]
    result = token_budget(stored, counter, budget=3 + 5 * 5)
    assert counter.message_counts == 0
    # a2, t1 and a3 would fit, but answer u2, which does not: they go with it.
    assert ids(result.messages) == ["sys", "u3"]


# recall: the profile and memories, one system message within the same budget
# (for WordCounter the block costs 3 + 9 for its prefix + the words of its lines)


def test_token_budget_reports_the_budget_given_and_counts_the_recall_block(
    counter: WordCounter,
) -> None:
    messages = [system("be brief", id="s"), user(words(10), id="u1"), user(words(10), id="u2")]
    # 3 + 5 + 13 (u2) leave 39: the block (15 + 6 + 6) goes before the older u1 (13).
    offered = recall(100, words(5), words(5), name="Ana")
    result = token_budget(messages, counter, budget=60, recall=offered)
    assert ids(result.messages) == ["s", "memories", "u2"]
    report = result.report
    assert (report.budget, report.tokens_after, report.memory_tokens) == (60, 48, 27)
    assert report.tokens_after == counter.count_messages(result.messages)
    assert (report.recalled, report.kept, report.dropped) == (("r1", "r2"), ("s", "u2"), ("u1",))
    assert report.describe().endswith("48 tokens and 2 memories (27 tokens) (budget 60, reserve 0)")


def test_memories_give_way_before_the_newest_user_message_is_cut(counter: WordCounter) -> None:
    messages = [system("be brief", id="s"), user(words(50), id="u")]
    offered = recall(100, words(5), words(5))
    # 3 + 5 + 53 = 61 for the messages; the block would add 3 + 9 + 6 = 18 with one memory.
    tight = token_budget(messages, counter, budget=61 + 17, recall=offered)
    assert tight.messages == tuple(messages)
    report = tight.report
    assert (report.truncated, report.recalled, report.recall_dropped) == ((), (), ("r1", "r2"))
    assert "61 tokens and no memories (left out: 2 memories)" in report.describe()
    roomier = token_budget(messages, counter, budget=61 + 18, recall=offered)
    assert ids(roomier.messages) == ["s", "memories", "u"]
    assert (roomier.report.recalled, roomier.report.truncated) == (("r1",), ())
    cut = token_budget(messages, counter, budget=50, recall=offered)
    assert cut.report.truncated == ("u",)
    assert (cut.report.recalled, cut.report.memory_tokens) == ((), 0)


def test_a_profile_field_or_memory_that_does_not_fit_is_left_out_alone(
    counter: WordCounter,
) -> None:
    offered = recall(
        40,
        "allergic to peanuts",
        words(100),
        "likes sushi",
        name="Ana",
        notes=words(200),
        diet="vegetarian",
    )
    result = token_budget(
        [user("what should I cook", id="u")], counter, budget=1000, recall=offered
    )
    block = result.messages[0]
    assert block.text.splitlines()[1:] == [
        "- name: Ana",
        "- diet: vegetarian",
        "- allergic to peanuts",
        "- likes sushi",
    ]
    report = result.report
    assert report.memory_tokens == counter.count_message(block) == 3 + 9 + 3 + 3 + 4 + 3
    assert (report.recalled, report.recall_dropped) == (("r1", "r3"), ("r2",))
    assert report.profile_dropped == ("notes",)
    assert "2 memories (25 tokens; left out: 1 memory, 1 profile field)" in report.describe()


def test_added_messages_never_take_the_id_of_a_message(counter: WordCounter) -> None:
    messages = [user("hi", id="memories"), assistant("hello", id="memories-2")]
    messages.append(user("and?", id="summary"))
    offered = recall(50, "likes tea")
    result = token_budget(messages, counter, budget=1000, summary="they met", recall=offered)
    assert ids(result.messages) == ["summary-2", "memories-3", "memories", "memories-2", "summary"]
    assert result.report.kept == ("memories", "memories-2", "summary")
    assert result.report.recalled == ("r1",)


@pytest.mark.parametrize("strategy", ["buffer", "window"])
def test_buffer_and_window_send_the_recall_block_within_its_share(
    counter: WordCounter, strategy: str
) -> None:
    offered = recall(20, "likes tea", words(30))
    messages = [*chat(), user("tea?", id="memories")]
    if strategy == "buffer":
        result = buffer(messages, counter, recall=offered)
    else:
        result = window(messages, counter, last_turns=1, recall=offered)
    assert ids(result.messages)[:2] == ["sys", "memories-2"]
    assert result.messages[1].text.endswith("\n- likes tea")
    report = result.report
    assert (report.recalled, report.recall_dropped, report.memory_tokens) == (("r1",), ("r2",), 15)
    assert report.tokens_after == counter.count_messages(result.messages)


# reports


def test_describe_summarises_the_report_in_one_line(counter: WordCounter) -> None:
    messages = [sized("system", 10, "s"), sized("user", 500, "u1"), sized("user", 60, "u2")]
    report = token_budget(messages, counter, budget=80, reserve=20).report
    assert report.describe() == (
        "token_budget: kept 2 of 3 messages (1 dropped, 1 truncated); "
        "573 -> 60 tokens (budget 80, reserve 20)"
    )


def test_result_converts_to_openai_messages(counter: WordCounter) -> None:
    result = token_budget(chat(), counter, budget=1000)
    wire = result.to_openai()
    assert wire[0] == {"role": "system", "content": "be brief"}
    assert wire[4]["tool_calls"][0]["id"] == "c1"
    assert wire[5] == {"role": "tool", "content": "sunny and warm", "tool_call_id": "c1"}


def test_describe_says_what_the_recall_block_holds(counter: WordCounter) -> None:
    messages = [system("be brief", id="s"), user(words(10), id="u")]
    one = token_budget(messages, counter, budget=100, recall=recall(100, words(5)))
    assert " and 1 memory (" in one.report.describe()
    # Only the profile: the block's tokens are not "0 memories".
    profile = token_budget(messages, counter, budget=100, recall=recall(100, diet="vegetarian"))
    assert profile.report.memory_tokens > 0 and profile.report.recalled == ()
    assert f" and the profile ({profile.report.memory_tokens} tokens)" in profile.report.describe()
