"""A context at a small budget (a classifier, a title) never makes a later one at a larger
budget worse: the stored summary is folded at the largest size asked for, and each context
sends its own shortening of it (`fit_summary`), on every conversation backend."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engram import Engram
from engram.context import SUMMARY_PREFIX, ContextResult, plan_summary, summary_message
from engram.context._summary import STORED_SUMMARY_TOKENS, fit_summary
from engram.providers import LLMSummarizer, OpenAIChatModel
from engram.tokens import TokenCounter
from engram.types import Message, Summary
from openai_server import FakeOpenAIServer, ScriptedResponse, chat_completion_body
from test_context_support import WordCounter, user, words

pytest_plugins = ["servers", "openai_server"]

T0 = datetime(2026, 11, 1, 9, tzinfo=UTC)
GPT4O = TokenCounter.for_model("gpt-4o")
COUNT = TokenCounter.for_encoding("o200k_base").count_text

FACTS = [
    "My dentist appointment is on Friday 4 December at 10:00 with Dr. Sousa.",
    "Rui's birthday is on 9 January; I want to get him a vinyl player.",
    "My cat Miso has a vet visit on 2 December.",
    "The sofa budget is 900 euros, max.",
    "My half marathon is on 12 March in Lisbon.",
    "I decided to learn Japanese with Duolingo, 15 minutes a day.",
    "My landlord Mr. Costa raises the rent to 1,150 euros in January.",
    "Marta's wedding is on 14 June in Lyon.",
]
FILLER = (
    "I also rambled about the weather, traffic, and a podcast episode I liked on the way home. "
)


@pytest.fixture
def mem(every_session_engram: Engram) -> Engram:
    return every_session_engram


def sent_text(result: ContextResult) -> str:
    return "\n".join(message.text for message in result.messages)


def summary_sent(result: ContextResult) -> list[str]:
    return [m.text for m in result.messages if m.text.startswith(SUMMARY_PREFIX)]


def verbatim(result: ContextResult) -> str:
    """The history sent after the summary."""
    return "\n".join(m.text for m in result.messages if m.role != "system")


def chat(mem: Engram, session_id: str, small: int | None) -> ContextResult:
    """The QA session: 40 turns, each followed by a context at 1000 tokens (reserve 200),
    after one at `small` (reserve 50) if given; then the question, at 1000."""
    s = mem.session(session_id, user_id="ana")
    s.add("system", "You are Max, Ana's assistant.", created_at=T0)
    for i in range(40):
        when = T0 + timedelta(minutes=2 * i)
        said = FACTS[i] if i < len(FACTS) else "Just chatting."
        s.add("user", f"{said} {FILLER * 4}", created_at=when)
        if small is not None:
            side = s.context(model="gpt-4o", budget=small, reserve=50, strategy="summary")
            assert GPT4O.count_messages(side.messages) <= small - 50
        s.context(model="gpt-4o", budget=1000, reserve=200, strategy="summary")
        s.add("assistant", "Got it. " + "That sounds good to me. " * 5, created_at=when)
    question = "When is my dentist appointment and what's the sofa budget?"
    s.add("user", question, created_at=T0 + timedelta(hours=2))
    return s.context(model="gpt-4o", budget=1000, reserve=200, strategy="summary")


def test_small_side_calls_keep_the_facts_a_larger_budget_sends(mem: Engram) -> None:
    alone = chat(mem, "alone", small=None)
    mixed = chat(mem, "mixed", small=300)

    assert all(fact in sent_text(alone) for fact in FACTS)
    assert all(fact in sent_text(mixed) for fact in FACTS)  # the dentist and sofa too
    # The small calls folded more, so more covered turns are sent verbatim: the summary
    # leaves out what they say, and holds every other fact the one sent alone does.
    for result in (alone, mixed):
        assert [f for f in FACTS if f in summary_sent(result)[0] and f in verbatim(result)] == []
    assert [fact for fact in FACTS if fact in summary_sent(alone)[0]] == [
        fact for fact in FACTS if fact in summary_sent(mixed)[0] or fact in verbatim(mixed)
    ]
    assert GPT4O.count_messages(mixed.messages) <= 800
    stored = mem.session("mixed").summary()
    assert stored is not None and all(fact in stored.text for fact in FACTS)


def test_a_small_budget_sends_its_own_shortening_and_stores_the_fuller_summary(
    mem: Engram,
) -> None:
    s = mem.session("s1")
    s.add("system", "You are Max, Ana's assistant.")
    for fact in FACTS:
        s.add("user", f"{fact} {FILLER * 4}")
        s.add("assistant", "Got it.")
    s.add("user", "What did I tell you?")

    small = s.context(model="gpt-4o", budget=300, reserve=50, strategy="summary")
    stored = s.summary()
    large = s.context(model="gpt-4o", budget=1000, reserve=200, strategy="summary")

    assert stored is not None and all(fact in stored.text for fact in FACTS)
    assert s.summary() == stored  # the larger budget folds nothing
    [short] = summary_sent(small)
    assert GPT4O.count_text(short.removeprefix(SUMMARY_PREFIX)) <= (300 - 50) // 4
    assert GPT4O.count_messages(small.messages) <= 250
    assert all(fact in sent_text(large) for fact in FACTS)


async def test_an_llm_summary_is_asked_once_and_shortened_per_context(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    """Each fold is one request, at the stored size; a small budget shortens the reply for
    itself, without a request of its own, and a larger one sends it whole."""
    reply = " ".join(FACTS)
    openai_server.handler = lambda request: ScriptedResponse(200, chat_completion_body(reply))
    async with OpenAIChatModel(
        "m", base_url=openai_server.url, api_key="k", backoff=0.0, max_retries=0
    ) as model:
        with Engram(str(tmp_path / "e.db"), summarizer=LLMSummarizer(model, COUNT)) as mem:
            s = mem.session("s1")
            s.add("system", "You are Max, Ana's assistant.")
            for fact in FACTS:
                s.add("user", f"{fact} {FILLER * 4}")
                s.add("assistant", "Got it.")
            s.add("user", "What did I tell you?")
            contexts = [
                s.context(model="gpt-4o", budget=budget, reserve=reserve, strategy="summary")
                for budget, reserve in [(300, 50), (1000, 200), (300, 50), (1000, 200)]
            ]
            stored = s.summary()

    assert len(openai_server.requests) == 1  # folded once; no request per small context
    asked = openai_server.requests[0].json()["messages"][-1]["content"]
    assert f"at most {int(STORED_SUMMARY_TOKENS * 0.75)} words" in asked
    assert stored is not None and stored.text == reply
    small, large, small_again, large_again = contexts
    # The larger budget sends it whole but for the facts its verbatim turns say after it.
    [sent] = summary_sent(large)
    assert summary_sent(large) == summary_sent(large_again)
    repeated = [fact for fact in FACTS if fact in verbatim(large)]
    assert repeated and sent == SUMMARY_PREFIX + " ".join(f for f in FACTS if f not in repeated)
    assert summary_sent(small) == summary_sent(small_again) != summary_sent(large)
    assert GPT4O.count_messages(small.messages) <= 250


class RecordingSummarizer:
    """Keeps a line per message (its first 8 words) and, to fill the room it is given, numbered
    notes; records each room asked for."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    def summarize(
        self, previous: str | None, messages: Sequence[Message], *, max_tokens: int
    ) -> str:
        self.asked.append(max_tokens)
        lines = [*(previous or "").splitlines()[:1], *(m.text.split(".")[0] for m in messages)]
        text = "\n".join(lines)
        notes = [f"Note {i} of the fold." for i in range(max_tokens)]
        while notes and COUNT(text) < max_tokens - 20:
            text += "\n" + notes.pop(0)
        return text

    async def asummarize(
        self, previous: str | None, messages: Sequence[Message], *, max_tokens: int
    ) -> str:
        return self.summarize(previous, messages, max_tokens=max_tokens)


def test_a_fold_at_a_small_budget_keeps_the_size_a_larger_one_asked_for() -> None:
    summarizer = RecordingSummarizer()
    with Engram(":memory:", summarizer=summarizer) as mem:
        s = mem.session("s1")
        s.add("system", "You are Max.")
        for i in range(40):
            s.add("user", f"Turn {i}. " + "A long story about the garden and the neighbours. " * 50)
            s.add("assistant", "Noted.")
        large = s.context(model="gpt-4o", budget=20_000, strategy="summary")
        first = s.summary()
        for i in range(40, 46):
            s.add("user", f"Turn {i}. Short.")
            s.add("assistant", "Noted.")
        s.context(model="gpt-4o", budget=1000, strategy="summary")
        second = s.summary()
        again = s.context(model="gpt-4o", budget=20_000, strategy="summary")

    assert first is not None and second is not None and second.through_seq > first.through_seq
    assert summarizer.asked[0] == 20_000 // 4
    # sent whole, but for the lines the turns sent verbatim after it say (`backfill`)
    assert first.tokens > STORED_SUMMARY_TOKENS
    assert large.report.summary_tokens > STORED_SUMMARY_TOKENS
    assert summarizer.asked[1] >= first.tokens  # not the 250 tokens of the small budget
    assert second.tokens >= first.tokens - 20
    assert again.report.summary_tokens > STORED_SUMMARY_TOKENS


def test_the_plan_folds_at_the_largest_size_asked_for() -> None:
    counter = WordCounter()
    messages = [user(words(7), id=f"u{i}", seq=i) for i in range(1, 30)]
    big = Summary(session_id="s1", text=words(3000), through_seq=0)
    small = Summary(session_id="s1", text=words(10), through_seq=0)
    assert plan_summary(messages, counter, budget=200).fold_tokens == STORED_SUMMARY_TOKENS
    assert plan_summary(messages, counter, budget=200, summary=big).fold_tokens == 3000
    assert plan_summary(messages, counter, budget=200, summary=small).fold_tokens == (
        STORED_SUMMARY_TOKENS
    )
    assert plan_summary(messages, counter, budget=40_000).fold_tokens == 10_000
    # The trigger counts the summary as this context sends it, not as stored.
    plan = plan_summary(messages, counter, budget=200, summary=big)
    assert plan.summary_tokens <= counter.count_message(summary_message(words(50)))


def test_fit_summary_keeps_the_salient_sentences_oldest_included() -> None:
    lines = [f"user: {fact}" for fact in FACTS[:3]]
    lines += [f"assistant: {'That sounds good to me, really quite good indeed.'}" for _ in "ab"]
    lines += [f"user: {FILLER.strip()}"]
    text = "\n".join(lines)
    # With the first line saying how many messages it keeps nothing of, and less than any
    # other line costs.
    marker = "[… 3 messages left out …]"
    room = GPT4O.count_text("\n".join([marker, *lines[:3]])) + 8
    fitted = fit_summary(text, GPT4O, room)
    assert fitted is not None and GPT4O.count_text(fitted) <= room
    assert fitted.splitlines()[0] == marker
    assert all(fact in fitted for fact in FACTS[:3])
    assert fit_summary(text, GPT4O, GPT4O.count_text(text)) == text


def fact(i: int) -> str:
    gym = NAMES[i % len(NAMES)]
    return f"My locker {i} at Gym {gym} opens with code {1000 + i} on {i + 1} May."


NAMES = ["Alvalade", "Benfica", "Campolide", "Estrela", "Graça", "Lumiar", "Marvila", "Olivais"]

STEPS = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=4),  # chatty turns before the next fact
        st.lists(st.sampled_from([250, 400, 700, 1000, 1600]), min_size=1, max_size=3),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=30, deadline=None)
@given(steps=STEPS)
def test_a_context_holds_every_fact_its_summary_has_room_for(
    steps: list[tuple[int, list[int]]],
) -> None:
    """Whatever budgets came before, a context sends every fact said so far when they fit
    in its summary's room (a quarter of the budget): a smaller budget before it never
    compressed them out of the stored summary (kept at the largest size asked for, at least
    `STORED_SUMMARY_TOKENS`, which they fit)."""
    with Engram(":memory:") as mem:
        s = mem.session("s1")
        s.add("system", "You are a concierge.")
        said: list[str] = []
        for index, (chatter, budgets) in enumerate(steps):
            for _ in range(chatter):
                s.add("user", FILLER * 3)
                s.add("assistant", "Sure.")
            said.append(fact(index))
            s.add("user", said[-1] + " " + FILLER * 2)
            for budget in budgets:
                result = s.context(model="gpt-4o", budget=budget, strategy="summary")
                assert GPT4O.count_messages(result.messages) <= budget
                lines = GPT4O.count_text("\n".join(f"user: {f}" for f in said))
                if lines + 2 * len(said) <= budget // 4:
                    text = sent_text(result)
                    assert [f for f in said if f not in text] == []
            s.add("assistant", "Got it.")
