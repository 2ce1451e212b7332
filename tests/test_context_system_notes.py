"""System messages said during a conversation (a bot's note every turn) are history: only the
system prompt, the system messages before any other message, is always sent."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from engram import Engram
from engram.context import assemble_summary, plan_summary, token_budget
from engram.stores.memory import InMemoryConversationStore
from engram.types import Message, Summary
from test_context_support import WordCounter, assistant, ids, system, user, words


@pytest.fixture(params=["sqlite", "memory"])
def mem(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engram]:
    store = tmp_path / "engram.db" if request.param == "sqlite" else InMemoryConversationStore()
    with Engram(store) as engram:
        yield engram


def noted_chat(turns: int) -> list[Message]:
    """A system prompt, then per turn a system note, a question and an answer (with seqs)."""
    messages = [system("You are helpful.", id="prompt")]
    for i in range(turns):
        messages.append(system(f"note {i} " + words(8), id=f"note{i}"))
        messages.append(user(f"q {i}", id=f"user{i}"))
        messages.append(assistant(f"a {i}", id=f"assistant{i}"))
    return [replace(m, seq=seq) for seq, m in enumerate(messages, 1)]


def test_token_budget_drops_old_notes_and_keeps_the_system_prompt() -> None:
    counter = WordCounter()
    messages = noted_chat(150)
    result = token_budget(messages, counter, budget=200)
    sent = ids(result.messages)
    assert sent[0] == "prompt"
    assert sent[-3:] == ["note149", "user149", "assistant149"]
    assert "note1" in result.report.dropped
    assert result.report.tokens_after <= 200
    assert counter.count_messages(result.messages) == result.report.tokens_after


def test_a_system_message_after_the_first_turn_is_not_a_system_prompt() -> None:
    messages = [user("hi", id="u1"), system(words(50), id="late"), user("and?", id="u2")]
    result = token_budget(messages, WordCounter(), budget=30)
    assert ids(result.messages) == ["u2"]
    assert set(result.report.dropped) == {"u1", "late"}


def test_summary_folds_old_notes_and_never_the_system_prompt() -> None:
    counter = WordCounter()
    messages = noted_chat(150)
    plan = plan_summary(messages, counter, budget=300)
    folded = {m.id for m in plan.evict}
    assert "note1" in folded and "prompt" not in folded
    assert [m.id for m in plan.keep[:2]] == ["prompt", "note0"]  # before any turn: a prompt
    assert plan.keep[2].role != "system"  # a note left first would pass for the prompt
    result = assemble_summary(plan, counter, summary_text="they chatted", budget=300)
    assert "note1" in result.report.summarized
    assert ids(result.messages)[:3] == ["prompt", "note0", "summary"]


def test_a_note_left_after_a_fold_is_folded_next_time_not_pinned() -> None:
    counter = WordCounter()
    messages = noted_chat(40)
    plan = plan_summary(messages, counter, budget=300)
    through = plan.through_seq
    assert through is not None
    summary = Summary(session_id="s", text="they chatted", through_seq=through)
    live = [m for m in messages[:2] if m.role == "system"]
    live += [m for m in messages if (m.seq or 0) > through]
    assert live[2].role != "system"
    again = plan_summary(live, counter, budget=300, summary=summary)
    assert not again.folded


@pytest.mark.parametrize("strategy", ["token_budget", "summary"])
def test_a_session_with_a_note_every_turn_stays_usable(mem: Engram, strategy: str) -> None:
    s = mem.session("notes")
    s.add("system", "You are a helpful assistant.")
    for i in range(150):
        s.add("system", f"Context note {i}: the user's page is /products/{i}, cart {i} items.")
        s.add("user", f"question {i}")
        s.add("assistant", f"answer {i}")
    stored = {m.seq: m.id for m in s.messages()}
    for _ in range(2):  # the second time from the stored summary
        result = s.context(model="gpt-4o", budget=2000, strategy=strategy)
        report = result.report
        assert report.tokens_after <= 2000
        assert report.kept[:2] == (stored[1], stored[2])  # the note before any turn: a prompt
        assert result.to_openai()[-1]["content"] == "answer 149"
        assert stored[449] in report.kept  # the newest note
        assert report.message_count == 451
        left_out = (*report.summarized, *report.dropped)
        assert report.summarized_count + report.dropped_count > 0
        assert stored[5] in left_out or report.summarized_unread + report.dropped_unread


def test_a_session_that_opens_with_a_user_message_has_no_system_prompt(mem: Engram) -> None:
    s = mem.session("no-prompt")
    s.add("user", "hello")
    s.add("system", "Note: " + "long context " * 400)
    s.add("user", "what now?")
    result = s.context(model="gpt-4o", budget=100)
    assert [m["role"] for m in result.to_openai()] == ["user"]
    assert result.report.dropped_count == 2


def test_the_system_prompt_is_sent_even_when_the_history_is_read_in_part(mem: Engram) -> None:
    s = mem.session("long")
    s.add("system", "Prompt one.")
    s.add("system", "Prompt two.")
    for i in range(300):
        s.add("system", f"note {i}")
        s.add("user", f"question {i} " + "words " * 30)
        s.add("assistant", f"answer {i}")
    result = s.context(model="gpt-4o", budget=500)
    sent = result.to_openai()
    assert [m["content"] for m in sent[:2]] == ["Prompt one.", "Prompt two."]
    assert sent[2]["role"] != "system" or sent[2]["content"].startswith("note ")
    assert not any(m["content"] == "note 1" for m in sent)
    assert result.report.tokens_after <= 500
