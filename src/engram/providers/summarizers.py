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

import logging
from collections.abc import Sequence
from typing import Any

from engram._exceptions import ProviderError
from engram.providers._base import ChatModelProtocol
from engram.providers._extractive import ExtractiveSummarizer
from engram.providers._text import TokenCounter, shorten, speaker, truncate_sentences
from engram.types import Message

__all__ = ["ExtractiveSummarizer", "LLMSummarizer"]

logger = logging.getLogger("engram.providers")

_WORDS_PER_TOKEN = 0.75  # English prose: about three words per four tokens
_REPLY_MARGIN = 1.25  # the model's tokenizer may differ from ours; we truncate afterwards
_TOOL_RESULT_CHARS = 1000  # enough of a tool's raw output to summarise it

_INSTRUCTIONS = """\
You maintain the running summary of a conversation between a user and an assistant.
Merge the new messages into the current summary and reply with the updated summary only.
Keep every name, number, date, time, amount of money, decision, commitment, preference, \
tool result and open question. Drop small talk and repetition. Write short, plain sentences, \
oldest first. Never exceed {words} words; when space runs out, shorten the oldest, least \
important details first."""


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


class LLMSummarizer:
    """A `SummarizerProtocol` that asks a chat model for the updated summary.

    One chat call per fold. A reply over budget is cut after its last whole sentence that fits
    (or after a word). If the model fails (`ProviderError`, including `ProviderUnavailable`) or
    replies with nothing, the fold falls back to `ExtractiveSummarizer`, with a logged warning,
    so no context is ever lost.

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
        if not messages or max_tokens <= 0:
            return truncate_sentences(previous or "", max_tokens, self.count_tokens)
        try:
            completion = self.model.complete(
                _summary_prompt(previous, messages, max_tokens),
                max_tokens=self._reply_tokens(max_tokens),
            )
        except ProviderError as exc:
            return self._fall_back(exc, previous, messages, max_tokens)
        return self._finish(completion.text, previous, messages, max_tokens)

    async def asummarize(
        self, previous: str | None, messages: Sequence[Message], *, max_tokens: int
    ) -> str:
        """Async twin of `summarize`."""
        if not messages or max_tokens <= 0:
            return truncate_sentences(previous or "", max_tokens, self.count_tokens)
        try:
            completion = await self.model.acomplete(
                _summary_prompt(previous, messages, max_tokens),
                max_tokens=self._reply_tokens(max_tokens),
            )
        except ProviderError as exc:
            return self._fall_back(exc, previous, messages, max_tokens)
        return self._finish(completion.text, previous, messages, max_tokens)

    @staticmethod
    def _reply_tokens(max_tokens: int) -> int:
        return int(max_tokens * _REPLY_MARGIN) + 16

    def _finish(
        self, text: str, previous: str | None, messages: Sequence[Message], max_tokens: int
    ) -> str:
        if not text.strip():
            return self._fall_back(
                "the model replied with an empty summary", previous, messages, max_tokens
            )
        return truncate_sentences(text.strip(), max_tokens, self.count_tokens)

    def _fall_back(
        self,
        reason: ProviderError | str,
        previous: str | None,
        messages: Sequence[Message],
        max_tokens: int,
    ) -> str:
        logger.warning("LLM summary failed (%s); using the extractive summary instead", reason)
        return self.fallback.summarize(previous, messages, max_tokens=max_tokens)
