"""LLM extraction: malformed, truncated, prose-wrapped replies never crash and never lose input.

The model is a scripted fake implementing `ChatModelProtocol` (no HTTP involved: the OpenAI
client has its own tests against a local server).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engram._exceptions import ProviderUnavailable
from engram.memory import ExtractionBudget, LLMExtractor, extract
from engram.providers import Completion
from engram.types import Message

WHEN = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
GOOD = (
    '{"memories": [{"text": "Ana is vegetarian", "kind": "profile", "attribute": "diet", '
    '"value": "vegetarian", "subject": "Ana", "importance": 0.8, "confidence": 0.9, '
    '"sources": [0], "when": null, "entities": []}]}'
)


class ScriptedModel:
    """A chat model that answers with the scripted replies in turn (an exception is raised)."""

    def __init__(self, *replies: str | Exception) -> None:
        self.replies = list(replies)
        self.calls: list[dict[str, Any]] = []

    def complete(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        max_tokens: int | None = None,
        temperature: float = 0.0,
        response_format: Mapping[str, Any] | None = None,
    ) -> Completion:
        self.calls.append(
            {"messages": list(messages), "max_tokens": max_tokens, "format": response_format}
        )
        reply = self.replies.pop(0) if self.replies else ""
        if isinstance(reply, Exception):
            raise reply
        return Completion(text=reply, model="scripted", prompt_tokens=100, completion_tokens=50)

    async def acomplete(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        max_tokens: int | None = None,
        temperature: float = 0.0,
        response_format: Mapping[str, Any] | None = None,
    ) -> Completion:
        return self.complete(
            messages,
            max_tokens=max_tokens,
            temperature=temperature,
            response_format=response_format,
        )


def conversation() -> list[Message]:
    return [
        Message(role="user", content="I'm vegetarian, by the way.", name="Ana", created_at=WHEN),
        Message(role="assistant", content="Noted! Any allergies?", created_at=WHEN),
        Message(role="user", content="I live in Berlin.", name="Ana", created_at=WHEN),
    ]


def texts(result: Any, kind: str | None = None) -> list[str]:
    return [c.text for c in result.candidates if kind is None or c.kind == kind]


def non_episodes(result: Any) -> list[str]:
    return [c.text for c in result.candidates if c.kind != "episode"]


def model_facts(result: Any) -> list[Any]:
    """The facts the model stated (the rules' slot facts it left out are kept beside them)."""
    return [c for c in result.candidates if c.metadata.get("extractor") == "llm"]


def test_a_good_reply_gives_the_models_facts_and_keeps_the_episodes() -> None:
    messages = conversation()
    model = ScriptedModel(GOOD)
    result = LLMExtractor(model).extract(messages, user_name="Ana")
    assert texts(result, "episode") == [m.text for m in messages]
    [fact] = model_facts(result)
    assert (fact.text, fact.attribute, fact.value, fact.subject) == (
        "Ana is vegetarian",
        "diet",
        "vegetarian",
        None,
    )
    assert fact.source_ids == (messages[0].id,) and fact.metadata["extractor"] == "llm"
    assert result.llm_batches == 1 and result.fallbacks == ()
    [call] = model.calls
    assert call["format"]["type"] == "json_schema"
    assert "[0] (2023-05-08) Ana: I'm vegetarian" in call["messages"][-1]["content"]


MALFORMED = {
    "fenced with prose": "Sure! Here is the JSON:\n```json\n" + GOOD + "\n```\nHope it helps.",
    "trailing commas": '{"memories": [{"text": "Ana is vegetarian", "sources": [0,],},],}',
    "single quotes": "{'memories': [{'text': 'Ana is vegetarian', 'sources': [0]}]}",
    "truncated": '{"memories": [{"text": "Ana is vegetarian", "sources": [0]}, {"text": "Ana li',
    "bare list": '[{"text": "Ana is vegetarian", "sources": [0]}]',
    "list of strings": '["Ana is vegetarian"]',
    "other key": '{"facts": [{"text": "Ana is vegetarian", "sources": "0"}]}',
    "single object": '{"text": "Ana is vegetarian", "sources": 0}',
    "wrong types": (
        '{"memories": [{"text": "Ana is vegetarian", "kind": "hobby", "importance": "high", '
        '"confidence": "90%", "sources": ["[0]", "x"], "attribute": 12, "value": 7, '
        '"entities": ["Berlin", {"name": "Acme", "type": "company"}, 3], "when": "yesterday"}]}'
    ),
}


@pytest.mark.parametrize("reply", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_truncated_and_prose_wrapped_json_never_crashes_nor_loses_input(
    reply: str,
) -> None:
    messages = conversation()
    result = LLMExtractor(ScriptedModel(reply)).extract(messages, user_name="Ana")
    assert texts(result, "episode") == [m.text for m in messages]  # the input is all there
    assert "Ana is vegetarian" in non_episodes(result)
    for candidate in result.candidates:
        assert candidate.source_ids and 0.0 <= candidate.importance <= 1.0
        assert candidate.kind in ("episode", "fact", "preference", "profile", "event")


def test_wrong_types_are_coerced() -> None:
    result = LLMExtractor(ScriptedModel(MALFORMED["wrong types"])).extract(conversation())
    [fact] = model_facts(result)
    assert (fact.kind, fact.importance, fact.confidence) == ("fact", 0.8, 0.9)
    assert (fact.attribute, fact.value) == ("12", "7")
    assert [tuple(e) for e in fact.entities] == [("Berlin", "other"), ("Acme", "organisation")]
    assert fact.valid_from is not None and fact.valid_from.date().isoformat() == "2023-05-07"


def test_an_unusable_reply_is_retried_once_with_the_error() -> None:
    model = ScriptedModel("I'm sorry, I cannot help with that.", GOOD)
    result = LLMExtractor(model).extract(conversation(), user_name="Ana")
    assert [c.text for c in model_facts(result)] == [
        "Ana is vegetarian"
    ] and result.llm_batches == 1
    retry = model.calls[1]["messages"]
    assert retry[-2] == {"role": "assistant", "content": "I'm sorry, I cannot help with that."}
    assert "could not be used" in retry[-1]["content"]


@pytest.mark.parametrize(
    "replies",
    [("", ""), ("no json at all", "still none"), ('{"memories": [{"text": 5}]}', "x{")],
    ids=["empty", "prose", "invalid items"],
)
def test_two_bad_replies_fall_back_to_the_rules(replies: tuple[str, str]) -> None:
    messages = conversation()
    model = ScriptedModel(*replies)
    result = LLMExtractor(model).extract(messages, user_name="Ana")
    rules = [c.text for c in extract(messages, user_name="Ana")]
    assert texts(result) == rules  # episodes and the rules' facts, nothing lost
    assert len(model.calls) == 2 and result.llm_batches == 0
    assert result.fallbacks[0].startswith("invalid reply")


def test_an_empty_memories_list_is_a_valid_answer() -> None:
    result = LLMExtractor(ScriptedModel('{"memories": []}')).extract(conversation())
    assert model_facts(result) == [] and result.fallbacks == ()
    # The slot facts the rules read are kept: a small model may leave them out.
    assert non_episodes(result) == ["Ana is vegetarian", "Ana lives in Berlin"]


def test_a_provider_failure_falls_back_without_retrying() -> None:
    model = ScriptedModel(ProviderUnavailable("connection refused"))
    result = LLMExtractor(model).extract(conversation(), user_name="Ana")
    assert non_episodes(result) == ["Ana is vegetarian", "Ana lives in Berlin"]
    assert result.fallbacks == ("LLM call failed",) and len(model.calls) == 1


def test_the_budget_is_decremented_and_then_the_rules_take_over() -> None:
    messages = conversation() + conversation()  # two batches of two user turns
    budget = ExtractionBudget(max_calls=1, max_tokens=10_000)
    model = ScriptedModel(GOOD, GOOD)
    result = LLMExtractor(model, batch_size=2).extract(messages, user_name="Ana", budget=budget)
    assert (budget.calls, budget.tokens, budget.calls_left) == (1, 150, 0)
    assert len(model.calls) == 1 and result.llm_batches == 1
    assert result.fallbacks == ("LLM budget exhausted",)
    assert len(texts(result, "episode")) == len(messages)


def test_a_zero_token_budget_never_calls_the_model() -> None:
    model = ScriptedModel(GOOD)
    budget = ExtractionBudget(max_calls=5, max_tokens=10)
    result = LLMExtractor(model).extract(conversation(), budget=budget)
    assert model.calls == [] and result.llm_batches == 0


async def test_async_extraction_matches_sync() -> None:
    messages = conversation()
    sync = LLMExtractor(ScriptedModel("garbage", GOOD)).extract(messages, user_name="Ana")
    both = await LLMExtractor(ScriptedModel("garbage", GOOD)).aextract(messages, user_name="Ana")
    assert texts(both) == texts(sync)
    assert (both.llm_batches, both.fallbacks) == (sync.llm_batches, sync.fallbacks)


@settings(max_examples=150, deadline=None)
@given(first=st.text(max_size=300), second=st.text(max_size=300))
def test_arbitrary_replies_never_crash_and_keep_every_turn(first: str, second: str) -> None:
    messages = conversation()
    result = LLMExtractor(ScriptedModel(first, second)).extract(messages, user_name="Ana")
    assert texts(result, "episode") == [m.text for m in messages]
    ids = {m.id for m in messages}
    assert all(c.source_ids and set(c.source_ids) <= ids for c in result.candidates)


def test_a_relative_time_the_text_names_is_grounded_and_written_out_as_the_rules_do() -> None:
    reply = (
        '{"memories": [{"text": "Ana adopted a cat yesterday", "kind": "event", "sources": [0]}]}'
    )
    result = LLMExtractor(ScriptedModel(reply)).extract(conversation(), user_name="Ana")
    [fact] = model_facts(result)
    assert fact.valid_from == datetime(2023, 5, 7, tzinfo=UTC)  # the model gave no date
    assert fact.text == "Ana adopted a cat on 7 May 2023"  # not "yesterday" forever


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("Yesterday Ana adopted a cat", "On 7 May 2023 Ana adopted a cat"),
        ("Ana has been vegetarian since last year", "Ana has been vegetarian since 2022"),
        ("Ana met Bob two days ago", "Ana met Bob on 6 May 2023"),
        ("Ana missed last year's conference", "Ana missed 2022's conference"),
        ("Ana moved to Lisbon in June 2021", "Ana moved to Lisbon in June 2021"),
        ("Ana plays tennis every Saturday", "Ana plays tennis every Saturday"),
    ],
)
def test_only_relative_times_are_written_out(text: str, written: str) -> None:
    reply = json.dumps({"memories": [{"text": text, "sources": [0]}]})
    result = LLMExtractor(ScriptedModel(reply)).extract(conversation(), user_name="Ana")
    assert [c.text for c in model_facts(result)] == [written]


def test_the_models_facts_keep_the_session_of_their_messages_as_the_rules_do() -> None:
    messages = [replace(m, session_id="s1") for m in conversation()]
    result = LLMExtractor(ScriptedModel(GOOD)).extract(messages, user_name="Ana")
    [fact] = model_facts(result)
    [rule] = [c for c in extract(messages[:1], user_name="Ana") if c.kind != "episode"]
    assert fact.metadata["source_session"] == rule.metadata["source_session"] == "s1"


def test_the_models_order_of_sources_changes_neither_time_nor_session() -> None:
    first, _, second = [replace(m, session_id=f"s{i}") for i, m in enumerate(conversation())]
    second = replace(second, created_at=datetime(2023, 5, 12, tzinfo=UTC))
    found = []
    for sources in ([0, 1], [1, 0, 1]):
        item = {"text": "Ana went vegetarian yesterday", "kind": "fact", "sources": sources}
        reply = json.dumps({"memories": [item]})
        result = LLMExtractor(ScriptedModel(reply)).extract([first, second], user_name="Ana")
        [fact] = model_facts(result)
        found.append((fact.text, fact.source_ids, fact.valid_from, fact.metadata))
    assert found[0] == found[1]
    assert found[0][1] == (first.id, second.id) and found[0][3]["source_session"] == "s0"


@pytest.mark.parametrize(
    ("subject", "name", "about_user"),
    [
        ("Maria", None, False),
        ("the user's sister", None, False),
        ("The User", None, True),
        ("Ana", None, True),  # the speaker's name
        ("Bea", None, False),
        ("Bea", "Bea", True),  # the name the model says the user has
        ("Ana", "Bea", True),
    ],
)
def test_without_a_user_name_a_subject_not_the_user_is_kept(
    subject: str, name: str | None, about_user: bool
) -> None:
    items = [
        {
            "text": f"{subject} lives in Paris",
            "attribute": "home_city",
            "value": "Paris",
            "subject": subject,
            "sources": [0],
        }
    ]
    if name:
        items.append({"text": f"The user is {name}", "attribute": "name", "value": name})
    reply = json.dumps({"memories": items})
    paris = Message(role="user", content="Paris, at last!", name="Ana", created_at=WHEN)
    result = LLMExtractor(ScriptedModel(reply)).extract([*conversation(), paris])  # no user name
    [fact] = [c for c in result.candidates if c.attribute == "home_city" and c.value == "Paris"]
    assert (fact.subject is None) is about_user


FENCE = "`" * 3
PROSE_WITH_JSON = {
    "prose naming a message": "Based on message [0], here is the JSON:\n" + GOOD,
    "fence after such prose": f"From [0] and [2]:\n{FENCE}json\n{GOOD}\n{FENCE}",
    "thinking": "<think>\nMessage [0] says she is vegetarian: {diet}.\n</think>\n" + GOOD,
    "a note after": GOOD + "\nNote: I used message [0] as the source.",
    "braces after": GOOD + "\n\nI hope this {helps}.",
}


@pytest.mark.parametrize("reply", PROSE_WITH_JSON.values(), ids=PROSE_WITH_JSON.keys())
def test_brackets_in_the_prose_around_the_json_are_not_taken_for_it(reply: str) -> None:
    model = ScriptedModel(reply)
    result = LLMExtractor(model).extract(conversation(), user_name="Ana")
    assert [c.text for c in model_facts(result)] == ["Ana is vegetarian"]
    assert len(model.calls) == 1 and result.fallbacks == ()  # read at once, no retry


DRAFT = '{"memories": [{"text": "Ana eats meat", "kind": "fact", "sources": [0]}]}'
THOUGHTS = {
    "closed, answer after": f"<think>A draft: {DRAFT}</think>\n" + GOOD,
    "no opening tag": f"A draft: {DRAFT} No, she is vegetarian.</think>\n" + GOOD,
}


@pytest.mark.parametrize("reply", THOUGHTS.values(), ids=THOUGHTS.keys())
def test_a_draft_in_a_reasoning_models_thoughts_is_not_its_answer(reply: str) -> None:
    result = LLMExtractor(ScriptedModel(reply)).extract(conversation(), user_name="Ana")
    assert [c.text for c in model_facts(result)] == ["Ana is vegetarian"] and result.fallbacks == ()


def test_a_reply_cut_off_while_the_model_thinks_falls_back_to_the_rules() -> None:
    cut = f"<think>Message [0]: {DRAFT}, or is it"
    messages, model = conversation(), ScriptedModel(cut, cut)
    result = LLMExtractor(model).extract(messages, user_name="Ana")
    assert texts(result) == [c.text for c in extract(messages, user_name="Ana")]
    assert len(model.calls) == 2 and result.fallbacks[0].startswith("invalid reply")


def test_what_the_prompt_cuts_off_a_long_message_is_left_to_the_rules() -> None:
    chatter = "I keep thinking about the trip we planned. " * 40  # past what the prompt shows
    long = Message(
        role="user", content=chatter + "By the way, I moved to Berlin.", name="Ana", created_at=WHEN
    )
    model = ScriptedModel('{"memories": []}')  # it saw only the chatter
    result = LLMExtractor(model).extract([long], user_name="Ana")
    assert "Berlin" not in model.calls[0]["messages"][-1]["content"]
    [moved] = [c for c in result.candidates if c.kind != "episode"]
    assert (moved.attribute, moved.value, moved.source_ids) == ("home_city", "Berlin", (long.id,))
    assert result.llm_batches == 1 and result.fallbacks == ()


def test_a_reply_that_runs_on_gives_at_most_max_items_memories() -> None:
    from engram.memory._llm_reply import MAX_ITEMS, reply_schema

    item = {"kind": "fact", "sources": [0]}
    many = [{**item, "text": f"Ana owns book number {i}"} for i in range(MAX_ITEMS + 50)]
    result = LLMExtractor(ScriptedModel(json.dumps({"memories": many}))).extract(conversation())
    assert [c.text for c in model_facts(result)] == [m["text"] for m in many[:MAX_ITEMS]]
    assert len(texts(result, "episode")) == 3 and result.fallbacks == ()
    assert reply_schema()["properties"]["memories"]["maxItems"] == MAX_ITEMS


def test_a_reply_that_runs_on_in_prose_is_read_up_to_a_bound() -> None:
    runaway = "Message [0] says {something} about [the trip]. " * 5000  # max_tokens ignored
    messages, model = conversation(), ScriptedModel(runaway, runaway)
    result = LLMExtractor(model).extract(messages, user_name="Ana")  # read up to a bound
    assert texts(result) == [c.text for c in extract(messages, user_name="Ana")]
    assert len(model.calls) == 2 and result.fallbacks[0].startswith("invalid reply")
