"""Running-summary summarisers: `LLMSummarizer` and the offline `ExtractiveSummarizer`.

Both implement `SummarizerProtocol`: they fold messages evicted from a context window into the
previous running summary and never return more than `max_tokens` tokens.

Example:
    ```python
    model = OpenAIChatModel("llama3.2", base_url="http://localhost:11434/v1")
    summarizer = LLMSummarizer(model, count_tokens)
    summary = summarizer.summarize(previous_summary, evicted_messages, max_tokens=300)
    ```
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Generator, Sequence
from typing import Any, NamedTuple

from engram._exceptions import ConfigError, ProviderError
from engram.providers._base import ChatModelProtocol, Completion
from engram.providers._extractive import ExtractiveSummarizer
from engram.providers._text import (
    TokenCounter,
    newest_sentences,
    shorten,
    speaker,
    truncate_sentences,
)
from engram.providers.openai import storable_text, without_reasoning
from engram.types import Message

__all__ = ["ExtractiveSummarizer", "LLMSummarizer"]

logger = logging.getLogger("engram.providers")

_WORDS_PER_TOKEN = 0.75  # English prose: about three words per four tokens
_REPLY_MARGIN = 1.25  # the model's tokenizer may differ from ours; we truncate afterwards
_FIRMER = 0.8  # asked again, a model that overshot gets a tighter word count
_TOOL_RESULT_CHARS = 1000  # enough of a tool's raw output to summarise it
_REFUSAL_OPENING = re.compile(
    r"^\W*(?:(?:i'?m|i am)\s+(?:so\s+|very\s+)?sorry|sorry\b|i\s+apologi[sz]e|my apologies"
    r"|unfortunately,?\s+i\b|i\s+(?:cannot|can'?t|can not|won'?t|am unable|'?m unable)"
    r"|as an ai\b)",
    re.IGNORECASE,
)
_REFUSAL_WORDS = 60  # a longer reply is a summary that happens to start politely
_WORD = re.compile(r"\w+(?:'\w+)?")
_REFUSAL_VOCABULARY = frozenset(
    """i i'm im am me my you your we a an the this that these those it it's is are was be to of
    for with on in at as and or but not no so very sorry apologize apologise apologies
    unfortunately cannot can can't won't will would unable able help assist assistance with
    request requests comply fulfil fulfill provide do that's here there any anything else
    something such content please let know if ai language model assistant however""".split()
)
"""The words of a refusal: a reply with no other word from the conversation is one."""
_FENCED = re.compile(r"\A```[\w+.-]*[ \t]*\n(.*?)(?:\n[ \t]*```)?\Z", re.DOTALL)
"""A reply in a code fence (```, ```json, ```text), its closing one cut off or not."""

_INSTRUCTIONS = """\
You maintain the running summary of a conversation between a user and an assistant.
Merge the new messages into the current summary and reply with the updated summary only.
Keep every name, number, date, time, amount of money, decision, commitment, preference, \
tool result and open question. Drop small talk and repetition. Write short, plain sentences, \
oldest first, in the language of the conversation. Never exceed {words} words; when space runs \
out, shorten the oldest, least important details first."""

_SHORTEN = """\
That summary is too long: {words} words at most. Reply with it rewritten to fit: shorten or \
drop the oldest, least important details first and keep every new fact."""


def _transcript(messages: Sequence[Message]) -> str:
    """The new messages as `speaker: text` lines (long tool results shortened)."""
    lines: list[str] = []
    for message in messages:
        label, text = speaker(message), message.text.strip()
        if message.role == "tool":
            text = shorten(text, _TOOL_RESULT_CHARS)
        if text:
            lines.append(f"{label}: {text}")
        lines.extend(
            f"{label}: called {call.name}({call.arguments})" for call in message.tool_calls
        )
    return "\n".join(lines)


def _summary_prompt(
    previous: str | None, messages: Sequence[Message], max_tokens: int
) -> list[dict[str, Any]]:
    """The chat messages asking a model to fold `messages` into `previous`."""
    words = max(1, int(max_tokens * _WORDS_PER_TOKEN))
    request = (
        f"Current summary:\n{previous.strip() if previous else '(none yet)'}\n\n"
        f"New messages:\n{_transcript(messages)}\n\n"
        f"Updated summary (at most {words} words):"
    )
    return [
        {"role": "system", "content": _INSTRUCTIONS.format(words=words)},
        {"role": "user", "content": request},
    ]


class _Ask(NamedTuple):
    """One chat request a fold makes: the messages, and the most tokens the reply may take."""

    prompt: list[dict[str, Any]]
    max_tokens: int


_Fold = Generator[_Ask, Completion | ProviderError, str]
"""`LLMSummarizer._fold`: yields requests, receives their outcomes, returns the summary."""


def _summary_of(done: StopIteration) -> str:
    """What a finished `_Fold` returned."""
    summary: str = done.value
    return summary


class LLMSummarizer:
    """A `SummarizerProtocol` that asks a chat model for the updated summary.

    One chat call per fold, in the language of the conversation, two at most: a reply over
    budget (or cut off by the endpoint, `finish_reason` `length`) is sent back once with a
    firmer bound; one still over keeps its newest sentences that fit (a summary is written
    oldest first, so its end holds the newest facts), and a failed retry keeps the first
    reply's. Characters no store takes (NUL, other control characters) are removed.
    A reasoning model's thoughts (`<think>...</think>`) are no part of the summary, nor is a
    code fence around it; a JSON object with one text field (`{"summary": "..."}`, though
    the prompt asks for plain text) gives that text. If the
    model fails (`ProviderError`, including `ProviderUnavailable` and a refusal the endpoint
    flags), replies with nothing (or only thoughts, cut off by `max_tokens`), or plainly
    refuses ("I'm sorry, I can't help with that": a short apology naming nothing of the
    conversation), the fold falls back to `ExtractiveSummarizer`, with a logged warning, so
    no context is ever lost. A refused key, model or base_url (`ProviderConfigError`, a
    `ConfigError`) is raised instead: every later fold would fall back alike. `summarize`
    and `asummarize` drive one fold (`_fold`), so they take the same path.

    Args:
        model: The chat model to ask (e.g. an `OpenAIChatModel`).
        count_tokens: The token counter the budget is measured with.
    """

    def __init__(self, model: ChatModelProtocol, count_tokens: TokenCounter) -> None:
        self.model = model
        self.count_tokens = count_tokens
        self.fallback = ExtractiveSummarizer(count_tokens)

    def summarize(
        self, previous: str | None, messages: Sequence[Message], *, max_tokens: int
    ) -> str:
        """Fold `messages` into `previous`; the result has at most `max_tokens` tokens.

        Args:
            previous: The running summary so far, or None.
            messages: The messages newly evicted from the context, oldest first.
            max_tokens: Hard limit, measured with `count_tokens`.

        Returns:
            The new summary: the model's, or the extractive one if the model failed.
        """
        fold = self._fold(previous, messages, max_tokens)
        reply: Completion | ProviderError | None = None
        while True:
            try:
                ask = next(fold) if reply is None else fold.send(reply)
            except StopIteration as done:
                return _summary_of(done)
            try:
                reply = self.model.complete(ask.prompt, max_tokens=ask.max_tokens)
            except ConfigError:
                raise  # a bad key, model or base_url: the extractive fallback would hide it
            except ProviderError as exc:
                reply = exc

    async def asummarize(
        self, previous: str | None, messages: Sequence[Message], *, max_tokens: int
    ) -> str:
        """Async twin of `summarize`."""
        fold = self._fold(previous, messages, max_tokens)
        reply: Completion | ProviderError | None = None
        while True:
            try:
                ask = next(fold) if reply is None else fold.send(reply)
            except StopIteration as done:
                return _summary_of(done)
            try:
                reply = await self.model.acomplete(ask.prompt, max_tokens=ask.max_tokens)
            except ConfigError:
                raise  # a bad key, model or base_url: the extractive fallback would hide it
            except ProviderError as exc:
                reply = exc

    def _fold(self, previous: str | None, messages: Sequence[Message], max_tokens: int) -> _Fold:
        """The fold, written once for `summarize` and `asummarize`: it yields the chat
        requests to make (at most two) and receives each one's completion, or the
        `ProviderError` it failed with; it returns the summary."""
        if not messages or max_tokens <= 0:
            return truncate_sentences(previous or "", max_tokens, self.count_tokens)
        prompt = _summary_prompt(previous, messages, max_tokens)
        reply = yield _Ask(prompt, self._reply_tokens(max_tokens))
        if isinstance(reply, ProviderError):
            return self._fall_back(reply, previous, messages, max_tokens)
        summary = self._checked(reply.text, previous, messages)
        if summary is None or self._whole(reply, summary, max_tokens):
            return self._finish(summary, previous, messages, max_tokens)
        # Over budget: ask once more, firmly, rather than lose the newest facts.
        again = yield _Ask(
            _shorter_prompt(prompt, summary, max_tokens), self._reply_tokens(max_tokens)
        )
        if isinstance(again, ProviderError):
            logger.warning("LLM summary retry failed (%s); keeping its newest sentences", again)
            return self._finish(summary, previous, messages, max_tokens)
        return self._finish_retry(again.text, summary, previous, messages, max_tokens)

    def _whole(self, completion: Completion, summary: str, max_tokens: int) -> bool:
        """Whether `summary` fits and the endpoint did not cut it off (`length`: its end,
        the newest facts, is missing)."""
        return completion.finish_reason != "length" and self.count_tokens(summary) <= max_tokens

    @staticmethod
    def _reply_tokens(max_tokens: int) -> int:
        return int(max_tokens * _REPLY_MARGIN) + 16

    def _checked(self, text: str, previous: str | None, messages: Sequence[Message]) -> str | None:
        """The reply as a summary, or None if it is none (empty, only thoughts, a refusal)."""
        summary = _unwrapped(storable_text(without_reasoning(text)).strip())
        if not summary:
            logger.warning("the model replied with an empty summary")
            return None
        if _is_refusal(summary, previous, messages):
            logger.warning("the model refused: %r", shorten(summary, 120))
            return None
        return summary

    def _finish(
        self,
        summary: str | None,
        previous: str | None,
        messages: Sequence[Message],
        max_tokens: int,
    ) -> str:
        """`summary` within `max_tokens` (its newest sentences), or the extractive one."""
        if summary is None:
            return self._fall_back("no usable reply", previous, messages, max_tokens)
        return newest_sentences(summary, max_tokens, self.count_tokens)

    def _finish_retry(
        self,
        text: str,
        first: str,
        previous: str | None,
        messages: Sequence[Message],
        max_tokens: int,
    ) -> str:
        """The shortened reply if usable, else the first one; cut to its newest sentences."""
        again = self._checked(text, previous, messages)
        if again is None:
            return self._finish(first, previous, messages, max_tokens)
        if self.count_tokens(again) > max_tokens:
            logger.warning(
                "LLM summary still over %d tokens when asked again; keeping its newest sentences",
                max_tokens,
            )
        return self._finish(again, previous, messages, max_tokens)

    def _fall_back(
        self,
        reason: ProviderError | str,
        previous: str | None,
        messages: Sequence[Message],
        max_tokens: int,
    ) -> str:
        logger.warning("LLM summary failed (%s); using the extractive summary instead", reason)
        return self.fallback.summarize(previous, messages, max_tokens=max_tokens)


def _unwrapped(reply: str) -> str:
    """`reply` without a code fence around it; the text of a JSON object whose one text field
    is the summary (small models answer `{"summary": ...}` in JSON mode or out of habit)."""
    fenced = _FENCED.match(reply)
    text = fenced.group(1).strip() if fenced else reply
    if not text.startswith("{"):
        return text
    try:
        data = json.loads(text)  # an object: the text opens with "{"
    except (ValueError, RecursionError):
        return text
    texts = [value for value in data.values() if isinstance(value, str)]
    return texts[0].strip() if len(texts) == 1 else text


def _shorter_prompt(
    prompt: list[dict[str, Any]], summary: str, max_tokens: int
) -> list[dict[str, Any]]:
    """`prompt`, the over-long `summary` the model gave, and a firmer request to shorten it."""
    words = max(1, int(max_tokens * _WORDS_PER_TOKEN * _FIRMER))
    return [
        *prompt,
        {"role": "assistant", "content": summary},
        {"role": "user", "content": _SHORTEN.format(words=words)},
    ]


def _is_refusal(reply: str, previous: str | None, messages: Sequence[Message]) -> bool:
    """Whether `reply` plainly refuses: a short apology, naming nothing of the conversation.

    Conservative: a reply that mentions any word of the conversation or of the previous
    summary, other than the words refusals are made of, counts as a summary.
    """
    words = _WORD.findall(reply.lower())
    if len(words) > _REFUSAL_WORDS or not _REFUSAL_OPENING.match(reply):
        return False
    said = set(_WORD.findall(f"{previous or ''}\n{_transcript(messages)}".lower()))
    return not any(word in said for word in words if word not in _REFUSAL_VOCABULARY)
