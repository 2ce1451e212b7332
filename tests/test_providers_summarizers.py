"""The summarisers: ExtractiveSummarizer (pure) and LLMSummarizer (against a real local server)."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engram.providers
from engram.providers import (
    Completion,
    ExtractiveSummarizer,
    LLMSummarizer,
    OpenAIChatModel,
)
from engram.providers._text import split_sentences, truncate_sentences, truncate_words
from engram.types import Message, ToolCall
from openai_server import FakeOpenAIServer, ScriptedResponse, chat_completion_body, error_body

pytest_plugins = ["openai_server"]


def count_words(text: str) -> int:
    return len(text.split())


@functools.cache
def o200k() -> Callable[[str], int]:
    tokens = pytest.importorskip("engram.tokens")
    return tokens.TokenCounter.for_encoding("o200k_base").count_text  # type: ignore[no-any-return]


def user(text: str) -> Message:
    return Message(role="user", content=text)


def assistant(text: str, *calls: ToolCall) -> Message:
    return Message(role="assistant", content=text, tool_calls=calls)


def tool_result(text: str) -> Message:
    return Message(role="tool", content=text, name="lookup", tool_call_id="c1")


TRIP = [
    user("Hi there!"),
    user("My name is Dana and I'm planning a trip with my sister Priya."),
    assistant("Nice to meet you! Where would you like to go?"),
    user("We want to visit Lisbon from March 14 to March 18. Our budget is $1,200 total."),
    assistant(
        "Great choice. Let me check flights.",
        ToolCall("c1", "search_flights", '{"to": "LIS", "date": "2025-03-14"}'),
    ),
    Message(
        role="tool",
        name="search_flights",
        tool_call_id="c1",
        content='{"flights": [{"airline": "TAP", "depart": "08:15", "price": 189}, '
        '{"airline": "easyJet", "depart": "13:40", "price": 142}], "currency": "EUR", '
        '"note": "prices per person, one way, economy, including taxes and fees"}',
    ),
    user("Ok."),
    user("We decided on the TAP flight. Can you also find a hotel near Alfama?"),
    assistant("Sure! I booked the TAP flight, confirmation ABC123."),
    user("Thanks!"),
]


# ExtractiveSummarizer


def test_extractive_keeps_names_numbers_dates_decisions() -> None:
    # Room for every fact: short of it, a first line counts the messages left out.
    summary = ExtractiveSummarizer(count_words).summarize(None, TRIP, max_tokens=88)

    for fact in [
        "Dana",
        "Priya",
        "Lisbon",
        "March 14",
        "$1,200",
        "decided on the TAP flight",
        "ABC123",
        "Alfama?",
    ]:
        assert fact in summary
    for filler in ["Hi there", "Thanks!", "Ok.", "Great choice", "Sure!"]:
        assert filler not in summary
    assert count_words(summary) <= 88


def test_extractive_lines_are_chronological_and_prefixed_by_speaker() -> None:
    summary = ExtractiveSummarizer(count_words).summarize(None, TRIP, max_tokens=200)
    lines = summary.splitlines()

    assert lines[0] == "user: My name is Dana and I'm planning a trip with my sister Priya."
    assert "tool (search_flights): " in summary
    assert 'check flights. Called search_flights({"to": "LIS", "date": "2025-03-14"})' in summary
    positions = [summary.index(fact) for fact in ["Dana", "Lisbon", "TAP flight", "ABC123"]]
    assert positions == sorted(positions)


def test_extractive_shortens_tool_results() -> None:
    summary = ExtractiveSummarizer(count_words).summarize(None, TRIP, max_tokens=200)
    (tool_line,) = [line for line in summary.splitlines() if line.startswith("tool")]
    assert tool_line.endswith("…")
    assert len(tool_line) < 140
    assert "taxes and fees" not in summary


def test_extractive_is_deterministic() -> None:
    first = ExtractiveSummarizer(count_words).summarize(
        "user: I live in Oslo.", TRIP, max_tokens=40
    )
    second = ExtractiveSummarizer(count_words).summarize(
        "user: I live in Oslo.", TRIP, max_tokens=40
    )
    assert first == second


def test_extractive_folds_incrementally() -> None:
    summarizer = ExtractiveSummarizer(count_words)
    part_a = [user("My dentist appointment with Dr. Novak is on Friday at 9am.")]
    part_b = [user("I prefer aisle seats."), assistant("Noted, aisle seats it is.")]
    part_c = [assistant("We agreed the report is due on June 3."), user("ok")]

    summary = summarizer.summarize(None, part_a + part_b, max_tokens=100)
    summary = summarizer.summarize(summary, part_c, max_tokens=100)

    assert summary.splitlines() == [
        "user: My dentist appointment with Dr. Novak is on Friday at 9am.",
        "user: I prefer aisle seats.",
        "assistant: Noted, aisle seats it is.",
        "assistant: We agreed the report is due on June 3.",
    ]
    # Folding nothing new keeps the summary as it is.
    assert summarizer.summarize(summary, [], max_tokens=100) == summary


def test_extractive_compresses_old_low_value_material_first() -> None:
    summarizer = ExtractiveSummarizer(count_words)
    previous = (
        "user: The weather has been rather grey and damp lately.\n"
        "user: Invoice 4471 for $300 is due on May 2."
    )
    new = [user("The weather today is rather grey and damp again."), user("Call me Sam.")]

    summary = summarizer.summarize(previous, new, max_tokens=34)

    assert "Invoice 4471 for $300 is due on May 2." in summary
    assert "grey and damp lately" not in summary  # old, no salient feature: dropped first
    assert "grey and damp again" in summary
    assert summary.splitlines()[0] == "[… 1 message left out …]"  # and said so


def test_extractive_reads_a_previous_summary_in_prose() -> None:
    previous = "Ana booked a table at Nopa for 7pm. They chatted about the weather"
    summary = ExtractiveSummarizer(count_words).summarize(previous, [user("Thanks")], max_tokens=50)
    assert summary == "Ana booked a table at Nopa for 7pm. They chatted about the weather"


def test_extractive_truncates_a_sentence_too_long_for_the_budget() -> None:
    long = user("On Monday Anna decided " + "that we really should " * 20 + "go.")
    summary = ExtractiveSummarizer(count_words).summarize(None, [long], max_tokens=6)
    assert summary == "user: On Monday Anna decided that"


@pytest.mark.parametrize("max_tokens", [0, -5])
def test_extractive_without_budget_is_empty(max_tokens: int) -> None:
    assert ExtractiveSummarizer(count_words).summarize("x", TRIP, max_tokens=max_tokens) == ""


async def test_extractive_async_matches_sync() -> None:
    summarizer = ExtractiveSummarizer(count_words)
    expected = summarizer.summarize(None, TRIP, max_tokens=30)
    assert await summarizer.asummarize(None, TRIP, max_tokens=30) == expected


def test_extractive_folds_twenty_messages_fast() -> None:
    summarizer = ExtractiveSummarizer(o200k())
    previous = summarizer.summarize(None, TRIP, max_tokens=120)
    messages = TRIP * 2
    best = float("inf")
    for _ in range(5):  # best of five: a busy machine only ever makes it slower
        start = time.perf_counter()
        summarizer.summarize(previous, messages, max_tokens=300)
        best = min(best, time.perf_counter() - start)
    assert best < 0.010


VOCABULARY = [
    *"Alice Bob will decided $40 7pm March 3.5 ? the Dr. e.g. I'm :".split(),
    *["user:", "tool (x):", "\n", "你好世界", "😀😀", "naïve", "x" * 40, "Called f({})", "…"],
]
words = st.sampled_from(VOCABULARY) | st.text(max_size=6)
texts = st.lists(words, max_size=25).map(" ".join)
messages = st.lists(
    st.builds(user, texts) | st.builds(assistant, texts) | st.builds(tool_result, texts),
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(previous=st.none() | texts, new=messages, max_tokens=st.integers(1, 60))
def test_extractive_never_exceeds_budget_in_words(
    previous: str | None, new: list[Message], max_tokens: int
) -> None:
    summary = ExtractiveSummarizer(count_words).summarize(previous, new, max_tokens=max_tokens)
    assert count_words(summary) <= max_tokens


@settings(max_examples=60, deadline=None)
@given(previous=st.none() | texts, new=messages, max_tokens=st.integers(1, 60))
def test_extractive_never_exceeds_budget_in_o200k_tokens(
    previous: str | None, new: list[Message], max_tokens: int
) -> None:
    count = o200k()
    summary = ExtractiveSummarizer(count).summarize(previous, new, max_tokens=max_tokens)
    assert count(summary) <= max_tokens


@settings(max_examples=100, deadline=None)
@given(text=texts, max_tokens=st.integers(0, 40))
def test_truncation_never_exceeds_budget(text: str, max_tokens: int) -> None:
    count = o200k()
    for truncate in (truncate_words, truncate_sentences):
        cut = truncate(text, max_tokens, count)
        assert count(cut) <= max_tokens
        assert cut.strip() in text or cut in " ".join(split_sentences(text))


def test_split_sentences_keeps_abbreviations_and_decimals() -> None:
    text = 'Dr. Smith paid 3.50 at 7 p.m. today. "Really?" she asked.\nNew line. J. Doe said no. Ok'
    assert split_sentences(text) == [
        "Dr. Smith paid 3.50 at 7 p.m. today.",
        '"Really?" she asked.',
        "New line.",
        "J. Doe said no.",
        "Ok",
    ]


def test_truncate_words_cuts_inside_a_huge_first_word() -> None:
    assert truncate_words("abcdefghij klm", 4, len) == "abcd"
    assert truncate_sentences("One two. Three four five.", 3, count_words) == "One two."


# LLMSummarizer against the fake OpenAI server


def make_model(server: FakeOpenAIServer, **options: object) -> OpenAIChatModel:
    settings: dict[str, object] = {"api_key": "sk-summary-key", "backoff": 0.0}
    settings.update(options)
    return OpenAIChatModel("summarizer", base_url=server.url, **settings)  # type: ignore[arg-type]


def test_llm_summarizer_asks_with_previous_summary_and_new_lines(
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.enqueue_completion("Dana and Priya fly TAP to Lisbon on March 14.")

    with make_model(openai_server) as model:
        summary = LLMSummarizer(model, count_words).summarize(
            "Dana plans a Lisbon trip.", TRIP[3:6], max_tokens=40
        )

    assert summary == "Dana and Priya fly TAP to Lisbon on March 14."
    payload = openai_server.requests[0].json()
    system, request = payload["messages"]
    assert system["role"] == "system" and "Never exceed 30 words" in system["content"]
    assert request["content"].startswith("Current summary:\nDana plans a Lisbon trip.\n\n")
    assert "user: We want to visit Lisbon from March 14 to March 18." in request["content"]
    assert 'assistant: called search_flights({"to": "LIS"' in request["content"]
    assert "tool (search_flights): {" in request["content"]
    assert payload["max_tokens"] >= 40 and payload["temperature"] == 0.0


async def test_llm_summarizer_async(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue_completion("Dana flies to Lisbon.")
    async with make_model(openai_server) as model:
        summary = await LLMSummarizer(model, count_words).asummarize(None, TRIP, max_tokens=40)
    assert summary == "Dana flies to Lisbon."
    assert (
        "Current summary:\n(none yet)" in openai_server.requests[0].json()["messages"][1]["content"]
    )


def test_llm_summarizer_cuts_an_overlong_reply_at_a_sentence(
    openai_server: FakeOpenAIServer,
) -> None:
    for _ in range(2):  # over budget, it is asked once more; still over, its end is kept
        openai_server.enqueue_completion("She likes it a lot. " * 50 + "Dana flies on March 14.")
    with make_model(openai_server) as model:
        summary = LLMSummarizer(model, count_words).summarize(None, TRIP, max_tokens=12)
    assert summary == "She likes it a lot. Dana flies on March 14."
    assert len(openai_server.requests) == 2


@pytest.mark.parametrize("sync", [True, False])
async def test_llm_summarizer_falls_back_to_extractive_on_server_errors(
    openai_server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture, sync: bool
) -> None:
    openai_server.handler = lambda request: ScriptedResponse(500, error_body("sk-summary-key"))
    expected = ExtractiveSummarizer(count_words).summarize("Earlier.", TRIP, max_tokens=50)

    with caplog.at_level(logging.WARNING, logger="engram"):
        async with make_model(openai_server, max_retries=1) as model:
            summarizer = LLMSummarizer(model, count_words)
            if sync:
                summary = summarizer.summarize("Earlier.", TRIP, max_tokens=50)
            else:
                summary = await summarizer.asummarize("Earlier.", TRIP, max_tokens=50)

    assert summary == expected
    assert len(openai_server.requests) == 2
    assert "extractive" in caplog.text and "sk-summary-key" not in caplog.text


def test_llm_summarizer_falls_back_on_an_empty_reply(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue_completion("  ")
    with make_model(openai_server) as model:
        summary = LLMSummarizer(model, count_words).summarize(None, TRIP, max_tokens=50)
    assert summary == ExtractiveSummarizer(count_words).summarize(None, TRIP, max_tokens=50)


def test_llm_summarizer_leaves_a_reasoning_models_thoughts_out(
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.enqueue_completion("<think>\nDana, Lisbon, TAP...\n</think>\n\nDana flies TAP.")
    openai_server.enqueue_completion("Let me see: Dana, Lisbon.</think>Dana flies to Lisbon.")
    with make_model(openai_server) as model:
        summarizer = LLMSummarizer(model, count_words)
        summaries = [summarizer.summarize(None, TRIP, max_tokens=50) for _ in range(2)]
    assert summaries == ["Dana flies TAP.", "Dana flies to Lisbon."]


@pytest.mark.parametrize(
    ("reply", "summary"),
    [
        ('```json\n{"summary": "Dana flies to Lisbon."}\n```', "Dana flies to Lisbon."),
        ("```\nDana flies to Lisbon.\n```", "Dana flies to Lisbon."),
        ("```text\nDana flies to Lisbon.", "Dana flies to Lisbon."),  # closing fence cut off
        ('{"summary": "Dana flies to Lisbon.", "words": 4}', "Dana flies to Lisbon."),
        ('{"trip": "Lisbon", "who": "Dana"}', '{"trip": "Lisbon", "who": "Dana"}'),
        ("Dana flies to Lisbon (`TAP`).", "Dana flies to Lisbon (`TAP`)."),
    ],
    ids=["json in a fence", "text in a fence", "cut fence", "bare json", "two texts", "no fence"],
)
def test_llm_summarizer_unwraps_a_fenced_or_json_reply(
    openai_server: FakeOpenAIServer, reply: str, summary: str
) -> None:
    openai_server.enqueue_completion(reply)
    with make_model(openai_server) as model:
        assert LLMSummarizer(model, count_words).summarize(None, TRIP, max_tokens=50) == summary


def test_llm_summarizer_falls_back_on_a_reply_cut_off_while_thinking(
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.enqueue_completion("<think>\nThe user, Dana, wants", finish_reason="length")
    with make_model(openai_server) as model:
        summary = LLMSummarizer(model, count_words).summarize("Earlier.", TRIP, max_tokens=50)
    assert summary == ExtractiveSummarizer(count_words).summarize("Earlier.", TRIP, max_tokens=50)


@pytest.mark.parametrize(
    "reply",
    [
        "I'm sorry, but I can't help with that.",
        "I apologize, but I cannot fulfill this request.",
        "As an AI language model, I cannot summarize this conversation.",
    ],
)
def test_llm_summarizer_falls_back_on_a_refusal(
    openai_server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture, reply: str
) -> None:
    openai_server.enqueue_completion(reply)
    with caplog.at_level(logging.WARNING, logger="engram"), make_model(openai_server) as model:
        summary = LLMSummarizer(model, count_words).summarize("Earlier.", TRIP, max_tokens=50)
    assert summary == ExtractiveSummarizer(count_words).summarize("Earlier.", TRIP, max_tokens=50)
    assert "refused" in caplog.text


def test_llm_summarizer_falls_back_on_a_refusal_the_endpoint_flags(
    openai_server: FakeOpenAIServer,
) -> None:
    body = chat_completion_body("")
    body["choices"][0]["message"] = {"role": "assistant", "content": None, "refusal": "No."}
    openai_server.enqueue(json=body)
    with make_model(openai_server) as model:
        summary = LLMSummarizer(model, count_words).summarize(None, TRIP, max_tokens=50)
    assert summary == ExtractiveSummarizer(count_words).summarize(None, TRIP, max_tokens=50)


@pytest.mark.parametrize(
    "reply",
    [
        "Sorry for the delay: Dana and Priya fly TAP to Lisbon on March 14.",
        "Unfortunately, I cannot fit everything: Dana flies to Lisbon.",
    ],
)
def test_llm_summarizer_keeps_a_polite_summary(openai_server: FakeOpenAIServer, reply: str) -> None:
    openai_server.enqueue_completion(reply)
    with make_model(openai_server) as model:
        assert LLMSummarizer(model, count_words).summarize(None, TRIP, max_tokens=50) == reply


async def test_llm_summarizer_removes_what_no_store_takes(
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.handler = lambda request: ScriptedResponse(
        200, chat_completion_body("Dana\x00 flies\x1b to Lisbon.\ud800")
    )
    async with make_model(openai_server) as model:
        summarizer = LLMSummarizer(model, count_words)
        assert summarizer.summarize(None, TRIP, max_tokens=50) == "Dana flies to Lisbon."
        assert await summarizer.asummarize(None, TRIP, max_tokens=50) == "Dana flies to Lisbon."


def test_llm_summarizer_falls_back_when_only_control_characters_remain(
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.enqueue_completion("\x00\x00 \x07")
    with make_model(openai_server) as model:
        summary = LLMSummarizer(model, count_words).summarize(None, TRIP, max_tokens=50)
    assert summary == ExtractiveSummarizer(count_words).summarize(None, TRIP, max_tokens=50)


def test_llm_summarizer_with_nothing_new_makes_no_call(openai_server: FakeOpenAIServer) -> None:
    with make_model(openai_server) as model:
        summarizer = LLMSummarizer(model, count_words)
        assert summarizer.summarize("Dana likes tea. Bob too.", [], max_tokens=3) == (
            "Dana likes tea."
        )
    assert openai_server.requests == []


class EchoModel:
    """A plain object satisfying ChatModelProtocol (users plug in their own models)."""

    def complete(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        max_tokens: int | None = None,
        temperature: float = 0.0,
        response_format: Mapping[str, Any] | None = None,
    ) -> Completion:
        return Completion(text="Echo: " + messages[-1]["content"], model="echo")

    async def acomplete(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        max_tokens: int | None = None,
        temperature: float = 0.0,
        response_format: Mapping[str, Any] | None = None,
    ) -> Completion:
        return self.complete(messages)


def test_llm_summarizer_accepts_any_chat_model() -> None:
    summary = LLMSummarizer(EchoModel(), count_words).summarize(None, TRIP, max_tokens=50)
    assert summary.startswith("Echo: ") and count_words(summary) <= 50


def test_public_names() -> None:
    public = {
        name
        for name, value in vars(engram.providers).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }
    assert set(engram.providers.__all__) == public
    assert engram.providers.__all__ == sorted(engram.providers.__all__)


def test_extractive_keeps_a_changed_figure_not_only_the_first_one() -> None:
    """Sentences that differ only in their numbers are two facts, not a repeat: the changed
    flight (17:25 on 8 May) reaches the summary, not only the one it replaced."""
    first = user("My flight to Lisbon leaves at 09:40 on 3 May.")
    changed = user("Sorry, it changed. My flight to Lisbon leaves at 17:25 on 8 May.")
    summary = ExtractiveSummarizer(count_words).summarize(None, [first, changed], max_tokens=40)

    assert "17:25 on 8 May" in summary
    days = [user(f"Day {day}: museum visit, budget {10 * day} euros.") for day in range(1, 6)]
    summary = ExtractiveSummarizer(count_words).summarize(None, days, max_tokens=200)
    assert all(f"budget {10 * day} euros" in summary for day in range(1, 6))


def test_extractive_counts_the_messages_it_left_out_across_folds() -> None:
    """A message with something worth keeping that the summary has no room for is counted
    in its first line, fold after fold; filler ("Thanks!") is not; a phrase said over and
    over in a row is kept once."""
    summarizer = ExtractiveSummarizer(count_words)
    days = [user(f"Day {d}: museum {d} at {d}pm, budget {10 * d} euros.") for d in range(1, 7)]
    chatty = user("Day 7: the hotel has a pool. " + "so nice " * 10)
    summary = summarizer.summarize(None, [*days[:3], user("Thanks!")], max_tokens=20)
    assert summary.splitlines() == [
        "[… 2 messages left out …]",
        "user: Day 3: museum 3 at 3pm, budget 30 euros.",
    ]
    summary = summarizer.summarize(summary, [*days[3:], chatty], max_tokens=20)
    assert summary.splitlines()[0] == "[… 6 messages left out …]"  # 2, and 4 of these 5
    assert summarizer.summarize(None, [chatty], max_tokens=40) == (
        "user: Day 7: the hotel has a pool. so nice"
    )
