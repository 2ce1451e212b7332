"""A summary made under a small budget does not stand in for turns a later, larger budget
has room for: those are sent verbatim, the stored summary stays for the next small budget,
and nothing is summarised again."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from engram import Engram
from engram.context import (
    SUMMARY_PREFIX,
    ContextResult,
    assemble_summary,
    plan_summary,
    summary_message,
)
from engram.context._summary import backfill, fit_summary, summary_room
from engram.providers import ExtractiveSummarizer, LLMSummarizer, OpenAIChatModel
from engram.providers._extractive import unsaid
from engram.tokens import TokenCounter
from engram.types import Message, Summary, ToolCall
from openai_server import FakeOpenAIServer, ScriptedResponse, chat_completion_body

pytest_plugins = ["openai_server"]

COUNT = TokenCounter.for_encoding("o200k_base").count_text


def turn(i: int) -> tuple[str, str]:
    return (
        f"Trip {i}: Dana flies to city {i} on day {i} and wants a window seat, row {i}.",
        f"Booked trip {i} for Dana, confirmation C{i:04d}.",
    )


def summary_sent(result: ContextResult) -> list[str]:
    return [m.text for m in result.messages if m.text.startswith(SUMMARY_PREFIX)]


async def test_a_later_larger_budget_sends_the_covered_turns_verbatim(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    openai_server.handler = lambda request: ScriptedResponse(
        200, chat_completion_body("Dana booked trips to cities 0 to 15.")
    )
    async with OpenAIChatModel(
        "m", base_url=openai_server.url, api_key="k", backoff=0.0, max_retries=0
    ) as chat:
        with Engram(str(tmp_path / "e.db"), summarizer=LLMSummarizer(chat, COUNT)) as mem:
            s = mem.session("s1")
            s.add("system", "You are a travel agent.")
            for i in range(20):
                s.add("user", turn(i)[0])
                s.add("assistant", turn(i)[1])
            ids = [m.id for m in s.messages()]

            small = s.context(budget=300, strategy="summary")
            stored = s.summary()
            large = await s.acontext(budget=8000, strategy="summary")
            again = s.context(budget=300, strategy="summary")
            assert s.summary() == stored

    assert stored is not None and summary_sent(small)
    assert len(openai_server.requests) == 1  # folded once; never summarised again
    assert summary_sent(large) == []
    assert [m.id for m in large.messages] == ids
    assert list(large.report.kept) == ids
    assert large.report.summarized_count == large.report.dropped_count == 0
    assert large.report.summary_tokens == 0
    assert summary_sent(again) == summary_sent(small)
    assert again.report.summarized_count == small.report.summarized_count


def long_turn(i: int) -> tuple[str, str]:
    return (
        f"Trip {i}: Dana flies to city {i} on day {i} and wants a window seat, row {i}, "
        "a vegetarian meal, and a hotel near the old town with late check-out.",
        f"Booked trip {i} for Dana: flight F{i:03d}, seat {i}A, hotel H{i}, "
        f"confirmation C{i:04d}. Anything else for this trip?",
    )


async def test_a_larger_budget_fills_with_the_newest_covered_turns_and_the_summary(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    # 60 turns cost ~5,300 tokens: more than a 4,000 budget holds, so the summary a 500
    # budget made stays, standing for the oldest turns only.
    openai_server.handler = lambda request: ScriptedResponse(
        200, chat_completion_body("Dana booked trips to many cities.")
    )
    counter = TokenCounter.for_model("gpt-4o")
    async with OpenAIChatModel(
        "m", base_url=openai_server.url, api_key="k", backoff=0.0, max_retries=0
    ) as chat:
        with Engram(str(tmp_path / "e.db"), summarizer=LLMSummarizer(chat, COUNT)) as mem:
            s = mem.session("s1")
            s.add("system", "You are a travel agent.")
            for i in range(60):
                s.add("user", long_turn(i)[0])
                s.add("assistant", long_turn(i)[1])
            s.add("user", "Which seat did I want on trip 3?")
            history = [m for m in s.messages() if m.role != "system"]
            small = s.context(model="gpt-4o", budget=500, strategy="summary")
            stored = s.summary()
            large = s.context(model="gpt-4o", budget=4000, strategy="summary")
            assert s.summary() == stored

    assert len(openai_server.requests) == 1  # the larger budget folds nothing
    assert stored is not None
    assert summary_sent(large) == summary_sent(small) != []
    report = large.report
    # The newest turns, covered ones included, verbatim and in order, newest first into
    # the room the trigger (0.8 of the budget) leaves; the summary stands for the rest.
    kept = [i for i in report.kept if i in {m.id for m in history}]
    assert kept == [m.id for m in history][-len(kept) :] and len(kept) > 60
    assert any((m.seq or 0) <= stored.through_seq for m in history if m.id in kept)
    # The history sent starts on a user message: the older turn, question and reply, did
    # not fit.
    older = history[-len(kept) - 2 : -len(kept)]
    assert history[-len(kept)].role == "user"
    assert report.tokens_after <= 0.8 * 4000 < report.tokens_after + counter.count_messages(older)
    assert set(report.summarized) == {m.id for m in history} - set(kept)
    assert report.dropped_count == 0 and report.summarized_unread == 0
    assert report.summarized_count + len(kept) == len(history)
    assert report.tokens_after > 4 * small.report.tokens_after


@settings(max_examples=25, deadline=None)
@given(
    turns=st.integers(min_value=8, max_value=40),
    small=st.integers(min_value=200, max_value=600),
    grow=st.integers(min_value=0, max_value=3000),
)
def test_a_larger_budget_keeps_what_a_smaller_one_kept_and_folds_nothing(
    turns: int, small: int, grow: int
) -> None:
    counter = TokenCounter.for_model("gpt-4o")
    with Engram(":memory:", summarizer=ExtractiveSummarizer(COUNT)) as mem:
        s = mem.session("s1")
        s.add("system", "You are a travel agent.")
        for i in range(turns):
            s.add("user", long_turn(i)[0])
            s.add("assistant", long_turn(i)[1])
        s.add("user", "Which seat did I want on trip 3?")
        first = s.context(model="gpt-4o", budget=small, strategy="summary")
        stored = s.summary()
        larger = s.context(model="gpt-4o", budget=small + grow, strategy="summary")
        assert s.summary() == stored  # no fold because the budget grew
        messages = s.messages()
    check(larger, messages, stored, counter, small + grow)
    assert set(first.report.kept) <= set(larger.report.kept)
    assert larger.report.tokens_after <= 0.8 * (small + grow)
    if summary_sent(larger):  # the newest covered turns fill the room, newest first
        history = [m for m in messages if m.role != "system"]
        kept = [m for m in history if m.id in larger.report.kept]
        assert kept[0].role == "user"  # whole turns: the older one did not fit
        older = history[-len(kept) - 2 : -len(kept)]
        # The room is measured with the summary as this budget fits it, before it leaves
        # out what the turns sent after it say.
        fitted = fit_summary(stored.text, counter, summary_room(small + grow, None))
        sized = counter.count_message(summary_message(fitted)) - larger.report.summary_tokens
        total = larger.report.tokens_after + sized + counter.count_messages(older)
        assert total > 0.8 * (small + grow)


def test_a_covered_turn_the_budget_guard_leaves_out_is_reported_summarised() -> None:
    # Backfilled for 2,000 tokens, assembled within 1,000 (the options changed between the
    # steps): the guard drops the oldest covered turns sent, which the summary covers.
    counter = TokenCounter.for_model("gpt-4o")
    history = [
        Message(role=role, content=text, id=f"m{2 * i + j}", seq=2 * i + j + 1)
        for i in range(30)
        for j, (role, text) in enumerate(zip(("user", "assistant"), long_turn(i), strict=True))
    ]
    summary = Summary(session_id="s1", text="Dana booked trips 0 to 19.", through_seq=40)
    covered, pending = history[:40], history[40:]
    plan = plan_summary(pending, counter, budget=2000, summary=summary)
    plan, text = backfill(plan, covered, counter, summary_text=summary.text, budget=2000)
    assert text == summary.text and plan.also_covered and not plan.evict
    report = assemble_summary(plan, counter, summary_text=text, budget=1000).report
    kept = set(report.kept)
    assert kept & set(plan.also_covered) and set(plan.also_covered) - kept
    assert report.dropped == ()
    assert set(report.summarized) == {m.id for m in covered} - kept
    assert {m.id for m in pending} <= kept


STEPS = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=6),  # turns added before the context
        st.booleans(),  # whether they end with a tool call and its result
        st.integers(min_value=150, max_value=2500),  # its budget
        st.integers(min_value=0, max_value=60),  # its reserve
    ),
    min_size=1,
    max_size=5,
)


@settings(max_examples=40, deadline=None)
@given(steps=STEPS, model=st.sampled_from(["gpt-4o", "gpt-4"]))
def test_every_message_is_sent_summarised_or_reported_dropped(
    steps: list[tuple[int, bool, int, int]], model: str
) -> None:
    counter = TokenCounter.for_model(model)
    with Engram(":memory:", summarizer=ExtractiveSummarizer(COUNT)) as mem:
        s = mem.session("s1")
        s.add("system", "You are a travel agent.")
        added = 0
        for turns, tool, budget, reserve in steps:
            for i in range(added, added + turns):
                s.add("user", turn(i)[0])
                s.add("assistant", turn(i)[1])
            added += turns
            if tool and turns:
                call = ToolCall(f"c{added}", "find_flight", f'{{"trip": {added}}}')
                s.add("assistant", "", tool_calls=[call])
                s.add("tool", f"Flight F{added} at 08:15.", tool_call_id=call.id)
            s.add("user", f"What about trip {added}?")
            result = s.context(model=model, budget=budget, reserve=reserve, strategy="summary")
            check(result, s.messages(), s.summary(), counter, budget - reserve)


def check(
    result: ContextResult,
    messages: list[Message],
    summary: Summary | None,
    counter: TokenCounter,
    available: int,
) -> None:
    report = result.report
    assert counter.count_messages(result.messages) <= available
    # Every message is accounted for once: sent, covered by the sent summary, or dropped.
    kept, dropped, summarized = set(report.kept), set(report.dropped), set(report.summarized)
    listed = [*report.kept, *report.dropped, *report.summarized]
    assert len(set(listed)) == len(listed) and set(listed) <= {m.id for m in messages}
    assert report.message_count == len(messages)
    sent = {m.id: m for m in result.messages}
    for message in messages:
        if message.id in kept and message.id not in report.truncated:
            assert sent[message.id].text == message.text  # verbatim
    [*carried] = summary_sent(result)
    covered: set[str] = set()
    if carried:
        assert len(carried) == 1 and summary is not None
        through = summary.through_seq
        order = [m.id for m in messages if m.role != "system" and (m.seq or 0) <= through]
        # The summary stands for the oldest turns it covers; the newest ones that fit are
        # sent verbatim too (a suffix of them), and are reported kept, not summarised.
        verbatim = [i for i in order if i in kept]
        assert verbatim == order[len(order) - len(verbatim) :]
        covered = set(order) - kept
        assert summarized <= covered
        # What the sent summary keeps nothing of is reported dropped, not summarised.
        by_id = {m.id: m for m in messages}
        assert unsaid(carried[0], [by_id[i] for i in summarized]) == []
        assert {m.id for m in unsaid(carried[0], [by_id[i] for i in dropped & covered])} == (
            dropped & covered
        )
    else:
        assert report.summarized_count == 0 and report.summary_tokens == 0
    left_out = {m.id for m in messages} - kept - covered
    assert dropped <= left_out | covered
    assert report.dropped_count + report.summarized_count == len(left_out) + len(covered)
    if counter.count_messages(messages) <= 0.8 * available:
        # The whole history fits under the trigger: sent as it was said, summary or not.
        assert carried == [] and list(report.kept) == [m.id for m in messages]
