"""Support for the context tests: a deterministic word counter, message builders, and OpenAI's
rule for tool calls and their results (`openai_accepts`).

The other `test_context_*` modules import from here. `WordCounter`: a token is a whitespace
separated word, a message costs its words plus 3 (plus 1 + argument words per tool call), a
prompt 3 more for the reply priming; the recall block's prefix is 9 words. This module also
tests the counter and the stored-count rule (`message_tokens`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from engram.context import MessageCounterProtocol, Recall, message_tokens
from engram.tokens import TokenCounter
from engram.types import Memory, MemoryHit, Message, ScoreParts, ToolCall


class WordCounter:
    """Tokens are words: simple enough to compute expected figures by hand."""

    encoding = "words"
    reply_tokens = 3

    def __init__(self) -> None:
        self.message_counts = 0

    def count_text(self, text: str) -> int:
        return len(text.split())

    def count_message(self, message: Message) -> int:
        self.message_counts += 1
        tokens = 3 + len(message.text.split())
        if message.name:
            tokens += 1
        for call in message.tool_calls:
            tokens += 1 + len(call.arguments.split())
        return tokens

    def count_messages(self, messages: Sequence[Message]) -> int:
        return sum(self.count_message(m) for m in messages) + self.reply_tokens

    def count_tools(self, tools: Sequence[Mapping[str, Any]]) -> int:
        return sum(len(json.dumps(tool).split()) for tool in tools)

    def truncate_text(self, text: str, max_tokens: int) -> str:
        return " ".join(text.split()[:max_tokens])


def words(count: int, word: str = "w") -> str:
    """A text of `count` tokens for `WordCounter`."""
    return " ".join([word] * count)


def system(text: str, **fields: Any) -> Message:
    return Message(role="system", content=text, **fields)


def user(text: str, **fields: Any) -> Message:
    return Message(role="user", content=text, **fields)


def assistant(text: str = "", *calls: str, **fields: Any) -> Message:
    """An assistant message; each of `calls` is the id of a tool call it requests."""
    tool_calls = tuple(ToolCall(id=call, name="lookup", arguments="{}") for call in calls)
    return Message(role="assistant", content=text, tool_calls=tool_calls, **fields)


def tool(call: str, text: str = "result", **fields: Any) -> Message:
    return Message(role="tool", content=text, tool_call_id=call, **fields)


def weather_call(call_id: str, city: str = "Paris") -> dict[str, Any]:
    """A tool call in OpenAI's format: the weather in `city`."""
    arguments = json.dumps({"city": city})
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": "weather", "arguments": arguments},
    }


def openai_accepts(messages: Sequence[Mapping[str, Any]]) -> bool:
    """OpenAI chat completions' rule for messages in its format: each call's results right
    after it, each call answered, call ids unique and not empty."""
    waiting: set[str] = set()
    for message in messages:
        if message["role"] == "tool":
            if message["tool_call_id"] not in waiting:
                return False
            waiting.discard(message["tool_call_id"])
            continue
        if waiting:
            return False
        call_ids = [call["id"] for call in message.get("tool_calls") or ()]
        if len(set(call_ids)) < len(call_ids) or not all(call_ids):
            return False
        waiting = set(call_ids)
    return not waiting


def ids(messages: Sequence[Message]) -> list[str]:
    return [message.id for message in messages]


def hit(text: str, memory_id: str, rank: int = 1) -> MemoryHit:
    """A recalled memory (a fact: its line in the recall block is `- text`)."""
    return MemoryHit(Memory(text=text, id=memory_id), 1.0 / rank, ScoreParts(), rank)


def recall(max_tokens: int, *texts: str, **profile: str) -> Recall:
    """Memories `r1`, `r2`, ... (best first) and profile fields, within `max_tokens`."""
    hits = tuple(hit(text, f"r{rank}", rank) for rank, text in enumerate(texts, start=1))
    return Recall(max_tokens, hits, profile)


def test_word_counter_satisfies_the_protocol() -> None:
    counter: MessageCounterProtocol = WordCounter()
    call = Message(role="assistant", tool_calls=(ToolCall("c1", "f", "a b"),))
    assert counter.count_message(Message(role="user", content="one two")) == 5
    assert counter.count_message(call) == 6
    assert counter.truncate_text("a b c", 2) == "a b"


def test_a_stored_count_is_used_in_its_own_encoding() -> None:
    counter = WordCounter()
    stored = Message(role="user", content="one two", tokens=99, encoding="words")
    assert message_tokens(stored, counter) == 99
    assert counter.message_counts == 0


def test_a_stored_count_in_another_encoding_is_recounted() -> None:
    counter = WordCounter()
    foreign = Message(role="user", content="one two", tokens=99, encoding="cl100k_base")
    unset = Message(role="user", content="one two")
    assert message_tokens(foreign, counter) == 5
    assert message_tokens(unset, counter) == 5
    assert counter.message_counts == 2


def test_a_stored_count_is_recounted_for_other_chat_format_overheads() -> None:
    legacy = TokenCounter.for_model("gpt-3.5-turbo-0301")  # 4 tokens a message, not 3
    text = Message(role="user", content="one two")
    count = TokenCounter.for_encoding("cl100k_base").count_message(text)  # as a store counts
    stored = replace(text, tokens=count, encoding="cl100k_base")
    assert message_tokens(stored, legacy) == legacy.count_message(text) == stored.tokens + 1
