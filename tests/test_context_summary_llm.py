"""Running summaries: over-long LLM replies, other encodings, failures, races."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engram import Engram
from engram.context import SUMMARY_PREFIX, assemble_summary, plan_summary
from engram.providers import ExtractiveSummarizer, LLMSummarizer, OpenAIChatModel
from engram.providers._extractive import left_out
from engram.tokens import TokenCounter
from engram.types import Message
from openai_server import FakeOpenAIServer, ScriptedResponse, chat_completion_body, error_body
from test_context_support import WordCounter, system, user, words

pytest_plugins = ["openai_server", "servers"]


def count_words(text: str) -> int:
    return len(text.split())


FACTS = [
    Message(role="user", content="My name is Dana. I fly to Lisbon on March 14."),
    Message(role="assistant", content="Noted: Lisbon on March 14."),
    Message(role="user", content="Book the TAP flight. My seat is 12A."),
    Message(role="assistant", content="Booked the TAP flight, confirmation ABC123."),
]
OLDEST_FIRST = (
    "Dana flies to Lisbon on March 14. She likes window seats. She is vegetarian. "
    "She chose the TAP flight. Seat 12A is hers. The confirmation is ABC123."
)


@pytest.fixture
def model(openai_server: FakeOpenAIServer) -> Iterator[OpenAIChatModel]:
    with OpenAIChatModel(
        "summarizer", base_url=openai_server.url, api_key="sk-x", backoff=0.0, max_retries=0
    ) as chat:
        yield chat


def test_an_over_long_reply_is_asked_again_with_a_firmer_bound(
    openai_server: FakeOpenAIServer, model: OpenAIChatModel
) -> None:
    openai_server.enqueue_completion(OLDEST_FIRST)
    openai_server.enqueue_completion("Dana: Lisbon, March 14, TAP, seat 12A, ABC123.")

    summary = LLMSummarizer(model, count_words).summarize(None, FACTS, max_tokens=12)

    assert summary == "Dana: Lisbon, March 14, TAP, seat 12A, ABC123."
    second = openai_server.requests[1].json()["messages"]
    assert second[-2] == {"role": "assistant", "content": OLDEST_FIRST}
    assert second[-1]["role"] == "user" and "too long" in second[-1]["content"]
    assert "7 words at most" in second[-1]["content"]  # firmer than the 9 words asked first


async def test_a_reply_still_over_keeps_its_newest_sentences(
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.handler = lambda request: ScriptedResponse(
        200, chat_completion_body(OLDEST_FIRST)
    )
    async with OpenAIChatModel("m", base_url=openai_server.url, backoff=0.0) as chat:
        summarizer = LLMSummarizer(chat, count_words)
        summaries = [
            summarizer.summarize(None, FACTS, max_tokens=12),
            await summarizer.asummarize(None, FACTS, max_tokens=12),
        ]

    # The newest facts (at the end of an oldest-first summary) survive, not the oldest.
    assert summaries == ["Seat 12A is hers. The confirmation is ABC123."] * 2
    assert len(openai_server.requests) == 4  # asked once more each time, not more


def test_a_failed_retry_keeps_the_first_replys_newest_sentences(
    openai_server: FakeOpenAIServer, model: OpenAIChatModel
) -> None:
    openai_server.enqueue_completion(OLDEST_FIRST)
    openai_server.enqueue(status=500, json=error_body("down"))

    summary = LLMSummarizer(model, count_words).summarize(None, FACTS, max_tokens=12)

    assert summary.endswith("The confirmation is ABC123.")
    assert count_words(summary) <= 12


def test_a_reply_the_endpoint_cut_off_is_asked_again(
    openai_server: FakeOpenAIServer, model: OpenAIChatModel
) -> None:
    """A reply cut by the endpoint's `max_tokens` (its tokenizer may be less thrifty than
    ours) fits our count but misses its end: the newest facts."""
    openai_server.enqueue_completion("Dana flies to Lisbon. She booked TA", finish_reason="length")
    openai_server.enqueue_completion("Dana flies TAP to Lisbon, ABC123.")

    summary = LLMSummarizer(model, count_words).summarize(None, FACTS, max_tokens=40)

    assert summary == "Dana flies TAP to Lisbon, ABC123."
    assert len(openai_server.requests) == 2


def test_the_prompt_asks_for_the_language_of_the_conversation(
    openai_server: FakeOpenAIServer, model: OpenAIChatModel
) -> None:
    openai_server.enqueue_completion("Dana vuela a Lisboa el 14 de marzo.")
    spanish = [Message(role="user", content="Me llamo Dana y vuelo a Lisboa el 14 de marzo.")]

    LLMSummarizer(model, count_words).summarize(None, spanish, max_tokens=40)

    instructions = openai_server.requests[0].json()["messages"][0]["content"]
    assert "in the language of the conversation" in instructions


def russian_session(mem: Engram, name: str = "s1", turns: int = 40) -> None:
    s = mem.session(name)
    s.add("system", "Ты помощник.")
    for i in range(turns):
        s.add(
            "user",
            f"Встреча номер {i} с Анной Петровной назначена на {i + 1} мая в {i % 12 + 1} "
            "часов в Лиссабоне, договорились окончательно.",
        )
        s.add("assistant", f"Хорошо, записал встречу {i} на {i + 1} мая.")


@pytest.mark.parametrize("sync", [True, False])
async def test_a_summary_made_in_another_encoding_keeps_its_newest_facts(
    tmp_path: Path, sync: bool
) -> None:
    """The extractive summarizer counts in the Engram's encoding (o200k_base); a context for
    a cl100k_base model counts the same summary larger. It used to be cut at its end, with a
    marker: the newest folded meetings were lost from the prompt."""
    with Engram(str(tmp_path / "e.db")) as mem:
        assert mem.settings.encoding == "o200k_base"
        russian_session(mem)
        s = mem.session("s1")
        options = {"model": "gpt-4", "budget": 1500, "strategy": "summary"}
        result = s.context(**options) if sync else await s.acontext(**options)
        stored = s.summary()

    counter = TokenCounter.for_model("gpt-4")
    assert counter.count_messages(result.messages) <= 1500
    [sent] = [m.text for m in result.messages if m.id == "summary"]
    assert stored is not None and "truncated" not in sent
    newest = max(
        int(line.split()[3]) for line in stored.text.splitlines() if line.startswith("user:")
    )
    # In the summary, or after it in the turns sent verbatim (which it does not repeat).
    history = "\n".join(m.text for m in result.messages if m.role != "system")
    assert f"Встреча номер {newest} " in sent + history
    assert [line for line in sent.splitlines()[1:] if line.split(": ", 1)[1] in history] == []
    assert stored.tokens == counter.count_text(stored.text)  # counted for this model


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(min_value=1, max_value=400),
    room=st.integers(min_value=1, max_value=40),
    budget=st.integers(min_value=30, max_value=140),
)
def test_an_over_long_summary_keeps_its_newest_sentences_within_budget(
    size: int, room: int, budget: int
) -> None:
    counter = WordCounter()
    messages = [system("be brief", id="s")]
    messages += [user(words(7), id=f"u{i}", seq=i) for i in range(1, 10)]
    plan = plan_summary(messages, counter, budget=budget, summary_max_tokens=room)
    text = " ".join(f"Fact {i} holds." for i in range(size))

    result = assemble_summary(plan, counter, summary_text=text, budget=budget)

    assert counter.count_messages(result.messages) <= budget
    sent = [m.text for m in result.messages if m.id == "summary"]
    if counter.count_text(text) > room and 8 <= room and 2 * room + 40 <= budget:
        # Room for the marker (5 words) and a sentence, and the guard does not cut further:
        # the newest sentence is sent, after the marker.
        assert sent and sent[0].startswith(SUMMARY_PREFIX + "[… truncated ")
        assert sent[0].removeprefix(SUMMARY_PREFIX).endswith(f"Fact {size - 1} holds.")


@pytest.mark.parametrize("failure", ["500", "timeout", "thinking"])
def test_a_failing_summarizer_loses_nothing(
    openai_server: FakeOpenAIServer, tmp_path: Path, failure: str
) -> None:
    if failure == "500":
        openai_server.handler = lambda request: ScriptedResponse(500, error_body("down"))
    elif failure == "timeout":
        openai_server.handler = lambda request: ScriptedResponse(
            200, chat_completion_body("late"), delay=1.0
        )
    else:
        openai_server.handler = lambda request: ScriptedResponse(
            200,
            chat_completion_body("<think>Dana wants", finish_reason="length"),
        )
    count = TokenCounter.for_encoding("o200k_base").count_text
    with (
        OpenAIChatModel(
            "m", base_url=openai_server.url, api_key="k", max_retries=1, backoff=0.0, timeout=0.2
        ) as chat,
        Engram(str(tmp_path / "e.db"), summarizer=LLMSummarizer(chat, count)) as mem,
    ):
        s = mem.session("s1")
        s.add("system", "You are a travel agent.")
        for i in range(30):
            s.add("user", f"Trip {i}: Dana flies to city {i} on day {i}.")
            s.add("assistant", f"Booked trip {i}.")
        result = s.context(budget=400, strategy="summary")
        stored = s.summary()
        assert len(s.messages()) == 61

    # The extractive summary: lines of the conversation's own sentences, nothing the model
    # sent ("late", "Dana wants").
    said = {f"user: Trip {i}: Dana flies to city {i} on day {i}." for i in range(30)}
    said |= {f"assistant: Booked trip {i}." for i in range(30)}
    assert stored is not None and stored.text
    assert set(stored.text.splitlines()) <= said
    assert "travel agent" not in stored.text  # no system prompt in it
    report = result.report
    assert len(report.kept) + report.summarized_count + report.dropped_count == 61
    # The stored summary keeps something of every message; what this small budget's own
    # shortening of it keeps nothing of is dropped, and the report says so.
    assert left_out(stored.text) == 0
    [sent] = [m.text for m in result.messages if m.id == "summary"]
    assert 0 < report.dropped_count <= left_out(sent.removeprefix(SUMMARY_PREFIX))


@pytest.mark.parametrize("memory_address", ["sqlite", "postgres"], indirect=True)
def test_concurrent_contexts_fold_each_message_once(memory_address: str) -> None:
    with Engram(memory_address, summarizer=ExtractiveSummarizer(count_words)) as mem:
        russian_session(mem, turns=30)
        barrier = threading.Barrier(4)
        errors: list[BaseException] = []

        def build() -> None:
            try:
                barrier.wait()
                mem.session("s1").context(model="gpt-4o", budget=800, strategy="summary")
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=build) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stored = mem.session("s1").summary()
        seqs = [m.seq for m in mem.session("s1").messages() if m.role != "system"]

    assert errors == []
    assert stored is not None
    assert stored.message_count == sum(
        1 for seq in seqs if seq is not None and seq <= stored.through_seq
    )
