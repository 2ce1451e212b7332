"""`session.context()` as a chatbot uses it: a long pasted log ending with its question,
Anthropic image parts sent to OpenAI, recall asked for anonymous sessions, honest errors,
and a trimmed history that starts on a user turn."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from engram import BudgetExceededError, Engram, InvalidInputError
from engram.context import ContextResult, token_budget, truncation_marker
from engram.stores.memory import InMemoryConversationStore
from engram.tokens import TokenCounter
from engram.types import Message
from test_context_support import WordCounter, assistant, ids, system, user, words


@pytest.fixture
def mem() -> Iterator[Engram]:
    with Engram(InMemoryConversationStore()) as engram:
        yield engram


def test_a_long_pasted_log_keeps_its_question_at_the_end(mem: Engram) -> None:
    s = mem.session("log")
    s.add("system", "You summarise documents.")
    log = "\n".join(f"line {i}: status ok, latency {i % 97} ms" for i in range(3000))
    s.add("user", f"Here is the log:\n{log}\n\nQUESTION: which line had the highest latency?")
    result = s.context(model="gpt-4o", budget=1000, reserve=200)
    sent = result.to_openai()[-1]["content"]
    assert sent.startswith("Here is the log:\nline 0: status ok")
    assert sent.endswith("QUESTION: which line had the highest latency?")
    assert re.search(r"\n\[… truncated \d+ tokens …\]\n", sent)
    counter = TokenCounter.for_model("gpt-4o")
    assert result.report.tokens_after == counter.count_messages(result.messages) <= 800
    assert result.report.tokens_after >= 790  # cut just enough, not more


def test_only_a_user_message_loses_its_middle() -> None:
    counter = WordCounter()
    text = " ".join(f"w{i}" for i in range(100))
    messages = [user("go", id="u"), assistant(text, id="a")]
    [_, reply] = token_budget(messages, counter, budget=3 + 5 + 3 + 20).messages
    assert reply.text == " ".join(f"w{i}" for i in range(16)) + "\n" + truncation_marker(84)


def _png_part(source: dict[str, str]) -> dict[str, object]:
    return {"type": "image", "source": source}


def test_anthropic_image_parts_are_sent_to_openai_as_image_urls(mem: Engram) -> None:
    s = mem.session("images")
    s.add(
        "user",
        [
            {"type": "text", "text": "What is in these?"},
            _png_part({"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}),
            _png_part({"type": "url", "url": "https://example.com/cat.png"}),
            {"type": "image_url", "image_url": {"url": "https://example.com/dog.png"}},
        ],
    )
    [message] = s.context(model="gpt-4o", budget=10_000).to_openai()
    assert message["content"] == [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/dog.png"}},
    ]


def test_an_image_source_openai_has_no_form_for_is_refused_for_openai() -> None:
    part = _png_part({"type": "file", "file_id": "file_1"})
    message = Message.from_openai({"role": "user", "content": [part]})
    result = token_budget([message], TokenCounter.for_model("gpt-4o"), budget=10_000)
    with pytest.raises(InvalidInputError, match="'image' part in a user message"):
        ContextResult(result.messages, result.report).to_openai()
    assert result.messages[0].to_dict()["content"] == [part]  # kept as given


@pytest.mark.parametrize("strategy", ["token_budget", "summary", "window", "buffer"])
def test_recall_for_a_session_without_a_user_is_skipped_and_said(
    mem: Engram, strategy: str
) -> None:
    s = mem.session("anonymous")
    s.add("system", "You are helpful.")
    s.add("user", "What do I like to eat?")
    options = {"last_messages": 5} if strategy == "window" else {}
    result = s.context(model="gpt-4o", budget=500, recall=5, strategy=strategy, **options)
    assert [m["role"] for m in result.to_openai()] == ["system", "user"]
    assert result.report.recall_skipped == "no user_id"
    assert "recall skipped: no user_id" in result.report.describe()
    assert s.context(model="gpt-4o", budget=500).report.recall_skipped == ""


def test_a_short_message_that_does_not_fit_is_not_said_to_be_cut() -> None:
    messages = [system(words(40), id="s"), user(words(7), id="u")]
    with pytest.raises(BudgetExceededError) as caught:
        token_budget(messages, WordCounter(), budget=30)
    text = str(caught.value)
    assert "prompt, tool schemas and reply priming alone take 46 tokens" in text
    assert "newest user message 10 more" in text
    assert "cut" not in text


def test_a_long_message_that_does_not_fit_even_cut_says_so() -> None:
    messages = [system(words(10), id="s"), user(words(100), id="u")]
    with pytest.raises(BudgetExceededError) as caught:
        token_budget(messages, WordCounter(), budget=30)
    text = str(caught.value)
    assert "alone" not in text
    assert "even cut to 32 tokens (its start and its end)" in text


def test_an_unknown_model_error_says_what_to_pass_to_context(mem: Engram) -> None:
    s = mem.session("claude")
    s.add("user", "hi")
    with pytest.raises(InvalidInputError, match=r"encoding='o200k_base'.* and budget="):
        s.context(model="my-finetune")
    with pytest.raises(InvalidInputError) as caught:
        s.context(model="claude-sonnet-4", budget=4000)
    assert "encoding='o200k_base'" in str(caught.value)
    assert "and budget=" not in str(caught.value)
    assert s.context(model="claude-sonnet-4", encoding="o200k_base", budget=4000).messages


def test_a_trimmed_history_starts_on_a_user_turn() -> None:
    messages = [system("sys", id="s"), user(words(30), id="u1"), assistant("a1", id="a1")]
    messages += [assistant("more", id="a1b"), user("u2", id="u2")]
    result = token_budget(messages, WordCounter(), budget=3 + 4 + 4 + 4 + 4 + 5)
    assert ids(result.messages) == ["s", "u2"]
    assert result.report.dropped == ("u1", "a1", "a1b")


def test_an_opening_assistant_greeting_is_kept() -> None:
    messages = [assistant("Hello! How can I help?", id="hello"), user("hi", id="u1")]
    result = token_budget(messages, WordCounter(), budget=100)
    assert ids(result.messages) == ["hello", "u1"]


def test_a_summary_fold_ends_where_a_user_turn_starts(mem: Engram) -> None:
    s = mem.session("folds")
    s.add("system", "You are helpful.")
    for i in range(60):
        s.add("user", f"question {i} " + "detail " * 10)
        s.add("assistant", f"answer {i} " + "more " * 10)
        s.add("assistant", f"and a follow-up {i}")
    s.context(model="gpt-4o", budget=700, strategy="summary")
    summary = s.summary()
    assert summary is not None
    following = s.messages()[summary.through_seq]  # seqs start at 1: the next message
    assert following.role == "user"
