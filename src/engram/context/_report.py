"""What a strategy returns: the messages to send and a report of what it did to get them."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from engram.context._anthropic import anthropic_request
from engram.context._groups import results_first
from engram.context._recall import RecallBlock
from engram.types import Message
from engram.types._parts import openai_tool_message

__all__ = [
    "ContextReport",
    "ContextResult",
    "make_report",
    "unused_id",
    "with_dropped",
    "with_summarized",
    "with_unread",
]


@dataclass(frozen=True, slots=True)
class ContextReport:
    """What a context strategy kept, dropped, summarised and truncated, and what it cost.

    Token figures are whole prompts: messages plus the reply priming plus the tool schemas.
    """

    strategy: str
    """`buffer`, `window`, `token_budget` or `summary`: the strategy asked for."""
    budget: int | None
    """The token budget (prompt and reply reserve together); None for strategies without one."""
    reserve: int
    """Tokens kept free for the reply."""
    tokens_before: int
    """The prompt if every input message (and the summary, if any) were sent as given."""
    tokens_after: int
    """The prompt actually returned."""
    kept: tuple[str, ...]
    """Ids of the input messages in the result, in order (truncated ones included)."""
    dropped: tuple[str, ...]
    """Ids of the input messages left out and not covered by the summary. A context built
    from a stored session reads only the newest messages it may need: the older ones it left
    out unread are counted in `dropped_unread`, not listed here."""
    summarized: tuple[str, ...]
    """Ids of the input messages left out because the summary covers them (the ones folded
    in earlier, unread, are counted in `summarized_unread`)."""
    truncated: tuple[str, ...]
    """Ids of the kept messages whose text was cut (they carry a truncation marker)."""
    summary_tokens: int = 0
    """Tokens of the summary message in the result (0: none)."""
    tools_tokens: int = 0
    """Tokens of the tool schemas."""
    recalled: tuple[str, ...] = ()
    """Ids of the long-term memories recalled into the context (best first)."""
    recall_dropped: tuple[str, ...] = ()
    """Ids of memories that were recalled but did not fit (their share of the budget, or
    what the newest turn and the summary left)."""
    profile_dropped: tuple[str, ...] = ()
    """Keys of the user's profile fields that did not fit, as `recall_dropped`."""
    memory_tokens: int = 0
    """Tokens of the message carrying the profile and recalled memories (0: none)."""
    dropped_unread: int = 0
    """Older messages of the session left out without being read, so not in `dropped`;
    `tokens_before` includes their tokens."""
    summarized_unread: int = 0
    """Older messages of the session the stored summary covered already (not read, so not
    in `summarized`)."""
    recall_skipped: str = ""
    """Why the recall asked for was not done (`no user_id`: the session has no user whose
    memories to recall); empty when it was done or not asked for."""

    @property
    def message_count(self) -> int:
        """Every message accounted for, read or not: for a stored session, all of its
        messages (`Session.message_count`)."""
        return len(self.kept) + self.dropped_count + self.summarized_count

    @property
    def dropped_count(self) -> int:
        """How many messages were left out, listed in `dropped` or not."""
        return len(self.dropped) + self.dropped_unread

    @property
    def summarized_count(self) -> int:
        """How many messages the summary stands for, listed in `summarized` or not."""
        return len(self.summarized) + self.summarized_unread

    def describe(self) -> str:
        """A one-line human summary, e.g. for logs and the CLI.

        Example:
            `token_budget: kept 12 of 40 messages (28 dropped, 1 truncated); 9,310 -> 3,584
            tokens (budget 4,096, reserve 512)`
        """
        changes = [
            f"{count} {label}"
            for count, label in (
                (self.dropped_count, "dropped"),
                (self.summarized_count, "summarized"),
                (len(self.truncated), "truncated"),
            )
            if count
        ]
        line = f"{self.strategy}: kept {len(self.kept)} of {self.message_count} messages"
        if changes:
            line += f" ({', '.join(changes)})"
        line += f"; {self.tokens_before:,} -> {self.tokens_after:,} tokens"
        if self.summary_tokens:
            line += f" incl. a {self.summary_tokens:,}-token summary"
        line += self._describe_recall()
        if self.recall_skipped:
            line += f" (recall skipped: {self.recall_skipped})"
        if self.budget is not None:
            line += f" (budget {self.budget:,}, reserve {self.reserve:,})"
        return line

    def _describe_recall(self) -> str:
        """E.g. ` and 3 memories (120 tokens; left out: 2 memories, 1 profile field)`, or
        ` and the profile (40 tokens)` when the block holds profile fields only."""
        left_out = [
            _counted(count, noun)
            for count, noun in (
                (len(self.recall_dropped), ("memory", "memories")),
                (len(self.profile_dropped), ("profile field", "profile fields")),
            )
            if count
        ]
        if not self.memory_tokens:
            return f" and no memories (left out: {', '.join(left_out)})" if left_out else ""
        sent = _counted(len(self.recalled), ("memory", "memories")) if self.recalled else ""
        text = f" and {sent or 'the profile'} ({self.memory_tokens:,} tokens"
        return text + (f"; left out: {', '.join(left_out)})" if left_out else ")")


def _counted(count: int, noun: tuple[str, str]) -> str:
    return f"{count} {noun[0] if count == 1 else noun[1]}"


@dataclass(frozen=True, slots=True)
class ContextResult:
    """The messages to send, in order, and the report of how they were chosen."""

    messages: tuple[Message, ...]
    """System messages, the summary (if any) and the kept history, ready to send."""
    report: ContextReport
    """What was kept, dropped, summarised and truncated."""

    def to_openai(self) -> list[dict[str, Any]]:
        """The messages in OpenAI chat-completions form (`Message.to_openai`: each part as
        OpenAI takes it in a message of its role, an Anthropic image part or a LangChain data
        block as the part OpenAI takes for it, another model's reasoning left out, tool calls
        among the parts as `tool_calls`).

        The Anthropic `tool_result` blocks of a user message go as OpenAI's tool messages,
        in order, then the rest of the message (if any) as a user message.

        Raises:
            InvalidInputError: A part OpenAI takes no form of in a message of its role (an
                image in a system or tool message, a file by URL, video).
        """
        return [sent for message in self.messages for sent in _openai_messages(message)]

    def to_anthropic(self) -> dict[str, Any]:
        """The conversation as Anthropic's Messages API takes it: `{"system": [text blocks],
        "messages": [user and assistant turns]}`, without `system` when there is none.

        The system prompt goes to `system`; a system note said later goes, in place, as a
        `[system] ...` text block in a user turn; tool calls are `tool_use` blocks (malformed
        arguments as `{"_raw": ...}`) and their results `tool_result` blocks in the next user
        turn; messages of one role in a row are one turn; the turns start with a user turn (a
        `[conversation start]` one before an assistant's opening). Details: `engram.context.
        _anthropic`. Pass the tool schemas as `tools=` when the history holds tool calls.

        Example:
            ```python
            client.messages.create(model=model, max_tokens=1024, **result.to_anthropic())
            ```

        Raises:
            InvalidInputError: A system prompt message holds a part other than text, or an
                image is a `data:` URL that is not base64.
        """
        return anthropic_request(self.messages)


def _openai_messages(message: Message) -> list[dict[str, Any]]:
    """`message` in OpenAI form: a user message's Anthropic `tool_result` blocks as tool
    messages, before the rest of it (none when nothing of it is sent)."""
    if message.role != "user" or isinstance(message.content, str):
        return [message.to_openai()]
    results = [openai_tool_message(part.to_openai()) for part in message.content]
    if not any(results):
        return [message.to_openai()]
    rest = tuple(part for part, result in zip(message.content, results, strict=True) if not result)
    sent = [result for result in results if result is not None]
    said = replace(message, content=rest).to_openai()
    return [*sent, said] if said["content"] else sent


def with_unread(
    result: ContextResult, *, dropped: int = 0, summarized: int = 0, tokens: int = 0
) -> ContextResult:
    """`result`, its report also counting older messages that were left out unread:
    `dropped` of them dropped, `summarized` of them covered by the summary; `tokens` is
    added to `tokens_before`.

    Under `summary`, `dropped_unread` counts so far the unread messages the summary says it
    keeps nothing of (`assemble_summary`): they are among `summarized`, so at most that many
    stay dropped, and only the others are summarised."""
    report = result.report
    claimed = min(report.dropped_unread, summarized)
    report = replace(
        report,
        tokens_before=report.tokens_before + tokens,
        dropped_unread=claimed + dropped,
        summarized_unread=report.summarized_unread + summarized - claimed,
    )
    return ContextResult(result.messages, report)


def with_dropped(result: ContextResult, ids: Sequence[str], *, tokens: int = 0) -> ContextResult:
    """`result`, its report also listing as dropped the messages `ids`, taken out of the
    history before the strategy read it (see `without_abandoned_calls`); `tokens`, what they
    cost, is added to `tokens_before`."""
    if not ids:
        return result
    report = replace(
        result.report,
        tokens_before=result.report.tokens_before + tokens,
        dropped=(*result.report.dropped, *ids),
    )
    return ContextResult(result.messages, report)


def with_summarized(result: ContextResult, ids: Collection[str]) -> ContextResult:
    """`result`, its report listing as summarised the messages of `ids` it lists as dropped:
    the summary it sends covers them (see `backfill`)."""
    report = result.report
    moved = tuple(message_id for message_id in report.dropped if message_id in ids)
    if not moved:
        return result
    report = replace(
        report,
        dropped=tuple(message_id for message_id in report.dropped if message_id not in ids),
        summarized=(*report.summarized, *moved),
    )
    return ContextResult(result.messages, report)


def make_report(
    strategy: str,
    messages: Sequence[Message],
    kept: Collection[int],
    *,
    tokens_before: int,
    tokens_after: int,
    budget: int | None = None,
    reserve: int = 0,
    summarized: Sequence[str] = (),
    also_dropped: Sequence[str] = (),
    truncated: Sequence[str] = (),
    summary_tokens: int = 0,
    tools_tokens: int = 0,
    recall: RecallBlock | None = None,
) -> ContextReport:
    """A report from the positions of the kept messages in `messages`.

    The kept ids are in the order the context sends them (`arrange`: a system message said
    between a call and its results comes after them). The other messages of `messages` are
    reported dropped; `summarized` and `also_dropped` are ids of messages that are not in
    `messages` at all (evicted into a summary earlier). `tokens_after` includes the recall
    block's tokens, if any.
    """
    keep = set(kept)
    left_out = [message.id for i, message in enumerate(messages) if i not in keep]
    block = recall or RecallBlock(None, (), (), 0)
    return ContextReport(
        strategy=strategy,
        budget=budget,
        reserve=reserve,
        tokens_before=tokens_before,
        tokens_after=tokens_after,
        kept=tuple(messages[i].id for i in results_first(messages, sorted(keep))),
        dropped=(*left_out, *also_dropped),
        summarized=tuple(summarized),
        truncated=tuple(truncated),
        summary_tokens=summary_tokens,
        tools_tokens=tools_tokens,
        recalled=block.kept,
        recall_dropped=block.dropped,
        profile_dropped=block.profile_dropped,
        memory_tokens=block.tokens,
    )


def unused_id(preferred: str, taken: Iterable[str]) -> str:
    """`preferred`, else the first of `preferred-2`, `preferred-3`, ... not in `taken`.

    The id of a message a strategy adds (the summary, the recall block): a message given to
    it may carry any id, and the report names messages by id, so an added message must not
    share one with any message the report lists.
    """
    used = set(taken)
    candidate, number = preferred, 1
    while candidate in used:
        number += 1
        candidate = f"{preferred}-{number}"
    return candidate
