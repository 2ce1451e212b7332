"""`to_anthropic()` merging consecutive assistant messages keeps Claude's thinking first.

Anthropic's rule (Messages API, extended thinking): an assistant turn opens with its
`thinking` / `redacted_thinking` blocks, each sent back as given, signature included; the API
joins consecutive turns of one role itself, so leaving the messages unmerged would not help.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from engram import Engram
from engram.context import buffer
from engram.stores.memory import InMemoryConversationStore
from engram.types import ContentPart, Message, ToolCall
from test_context_support import WordCounter, user

THINKING = {"type": "thinking", "thinking": "Check the ferry times.", "signature": "sig-2=="}
REDACTED = {"type": "redacted_thinking", "data": "EmwKAhgB"}
EARLIER_THINKING = {"type": "thinking", "thinking": "Greet first.", "signature": "sig-1=="}


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def assistant(*blocks: dict[str, Any]) -> Message:
    content = tuple(ContentPart.from_openai(block) for block in blocks)
    return Message(role="assistant", content=content)


def assistant_turns(*messages: Message) -> list[list[dict[str, Any]]]:
    request = buffer([user("Plan my Lisbon day."), *messages], WordCounter()).to_anthropic()
    return [turn["content"] for turn in request["messages"] if turn["role"] == "assistant"]


def test_thinking_of_a_merged_message_goes_before_the_text_before_it() -> None:
    [turn] = assistant_turns(
        assistant(text("Sure.")),
        assistant(THINKING, REDACTED, text("Take the 10:00 ferry.")),
    )
    assert turn == [THINKING, REDACTED, text("Sure."), text("Take the 10:00 ferry.")]


def test_every_merged_messages_opening_thinking_opens_the_turn_in_order() -> None:
    [turn] = assistant_turns(
        assistant(EARLIER_THINKING, text("Sure.")),
        assistant(THINKING, text("Take the 10:00 ferry.")),
    )
    assert turn == [EARLIER_THINKING, THINKING, text("Sure."), text("Take the 10:00 ferry.")]


def test_thinking_before_a_tool_call_opens_the_turn_it_is_merged_into() -> None:
    """The case Anthropic checks: the last assistant turn of a tool loop must open with the
    thinking that led to its call, as given."""
    call = ToolCall(id="call_1", name="ferries", arguments='{"day": "sat"}')
    calling = replace(assistant(THINKING), tool_calls=(call,))
    result = Message(role="tool", content="10:00, 12:00", tool_call_id="call_1")
    request = buffer(
        [user("Plan my Lisbon day."), assistant(text("Sure.")), calling, result], WordCounter()
    ).to_anthropic()
    assert request["messages"][1]["content"] == [
        THINKING,
        text("Sure."),
        {"type": "tool_use", "id": "call_1", "name": "ferries", "input": {"day": "sat"}},
    ]


def test_a_messages_own_block_order_is_kept() -> None:
    """Only the thinking a merged message opens with moves; what it holds after is its own."""
    [turn] = assistant_turns(
        assistant(text("Sure.")),
        assistant(text("Checking."), THINKING),
    )
    assert turn == [text("Sure."), text("Checking."), THINKING]


@pytest.fixture
def mem() -> Iterator[Engram]:
    with Engram(InMemoryConversationStore()) as engram:
        yield engram


def test_a_session_with_two_assistant_messages_in_a_row(mem: Engram) -> None:
    s = mem.session("claude")
    s.add("user", "Plan my Lisbon day.")
    s.add("assistant", "Sure.")
    s.add("assistant", [THINKING, text("Take the 10:00 ferry.")])
    request = s.context(model="gpt-4o", budget=10_000).to_anthropic()
    assert request["messages"][1] == {
        "role": "assistant",
        "content": [THINKING, text("Sure."), text("Take the 10:00 ferry.")],
    }
