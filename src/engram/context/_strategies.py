"""The stateless strategies: `buffer`, `window` and `token_budget`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engram._exceptions import InvalidInputError
from engram._validation import check_budget
from engram.context._counting import MessageCounterProtocol
from engram.context._fit import SUMMARY_ID, SUMMARY_PREFIX, fit, summary_message
from engram.context._groups import Unit, arrange
from engram.context._measure import Measured, measure
from engram.context._recall import RECALL_ID, Recall, recall_block
from engram.context._report import ContextResult, make_report, unused_id
from engram.context._truncate import Cut
from engram.types import Message

__all__ = [
    "SUMMARY_PREFIX",
    "budgeted",
    "buffer",
    "check_window",
    "summary_message",
    "token_budget",
    "window",
]


def buffer(
    messages: Sequence[Message],
    counter: MessageCounterProtocol,
    *,
    tools: Sequence[Mapping[str, Any]] = (),
    recall: Recall | None = None,
) -> ContextResult:
    """Every message the chat APIs accept (and the recall block, within its share): as
    given, less the calls no result answers and the orphan or superseded results
    (`without_abandoned_calls`, reported dropped); the report still carries the token totals.

    Example:
        ```python
        result = buffer(messages, counter)
        result.report.tokens_after  # what the whole history costs
        ```
    """
    prompt = measure(messages, counter, tools)
    return _select(prompt, counter, [i for unit in prompt.units for i in unit], "buffer", recall)


def window(
    messages: Sequence[Message],
    counter: MessageCounterProtocol,
    *,
    last_messages: int | None = None,
    last_turns: int | None = None,
    tools: Sequence[Mapping[str, Any]] = (),
    recall: Recall | None = None,
) -> ContextResult:
    """The system prompt and the last N messages, or the last N user turns (and the recall
    block, within its share).

    Pass exactly one of `last_messages` and `last_turns`. A turn starts at a user message.
    A system message said after the first other message counts as one of the N.
    A window that would start inside a tool-call group is widened to the whole group (so the
    newest N messages are always in it). Calls no result answers and tool results that
    answer no call right before them are left out (see `without_abandoned_calls`).
    The window ignores the token budget; combine it with `token_budget` for that.

    Raises:
        InvalidInputError: neither or both of `last_messages`/`last_turns`, or a negative one.
    """
    check_window(last_messages, last_turns)
    prompt = measure(messages, counter, tools)
    units = list(prompt.units)
    if last_messages is not None:
        start = _start_of_last_messages(units, last_messages)
    else:
        start = _start_of_last_turns(messages, units, last_turns or 0)
    kept = units[start:]
    return _select(prompt, counter, [i for unit in kept for i in unit], "window", recall)


def check_window(last_messages: int | None, last_turns: int | None) -> None:
    """Exactly one of the two window sizes, not negative."""
    if (last_messages is None) == (last_turns is None):
        raise InvalidInputError("a window needs exactly one of last_messages and last_turns")
    size = last_messages if last_messages is not None else last_turns
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise InvalidInputError(f"a window size must be an integer >= 0, got {size!r}")


def _start_of_last_messages(units: Sequence[Unit], count: int) -> int:
    start, taken = len(units), 0
    while start > 0 and taken < count:
        start -= 1
        taken += len(units[start])
    return start


def _start_of_last_turns(messages: Sequence[Message], units: Sequence[Unit], count: int) -> int:
    if count == 0:
        return len(units)
    starts = [position for position, unit in enumerate(units) if messages[unit[0]].role == "user"]
    return starts[-count] if count <= len(starts) else 0


def _select(
    prompt: Measured,
    counter: MessageCounterProtocol,
    kept: list[int],
    strategy: str,
    recall: Recall | None,
) -> ContextResult:
    block = None
    if recall is not None:
        message_id = unused_id(RECALL_ID, (m.id for m in prompt.messages))
        block = recall_block(recall, counter, message_id=message_id)
    report = make_report(
        strategy,
        prompt.messages,
        kept + list(prompt.systems),
        tokens_before=prompt.total,
        tokens_after=prompt.fixed + prompt.tokens_at(kept) + (block.tokens if block else 0),
        tools_tokens=prompt.tools,
        recall=block,
    )
    added = block.message if block else None
    return ContextResult(arrange(prompt.messages, prompt.systems, kept, recall=added), report)


def token_budget(
    messages: Sequence[Message],
    counter: MessageCounterProtocol,
    *,
    budget: int,
    reserve: int = 0,
    tools: Sequence[Mapping[str, Any]] = (),
    summary: str | None = None,
    recall: Recall | None = None,
) -> ContextResult:
    """The system prompt and the newest history that fit in `budget - reserve` tokens.

    The prompt (messages, reply priming, tool schemas, the summary message if `summary` is
    given, the recall block if `recall` is) never exceeds `budget - reserve`. What goes in,
    by priority:

    1. the system prompt (the system messages before any other message), whole;
    2. the newest user message (without one, the newest unit not of a system message) and
       the newest unit after it, in their shortest form: the user message cut to 32 tokens
       (its first 16 and its last 16, around the marker: its end usually asks the
       question), the unit after
       it cut to `[… truncated N tokens …]` markers (if even that does not fit, that unit
       is dropped);
    3. the summary, as a system message after the system prompt (cut if need be);
    4. those two whole, or with their largest messages cut just enough;
    5. the recall block, as a system message after the summary: only if nothing above was
       cut, the profile fields, then the memories best first, each that fits in what is
       left, within `recall.max_tokens` (so memories give way before the newest user message
       is cut, never the other way round);
    6. the other messages after the newest user message (an agent or tool loop), newest
       first, whole, stopping at the first that does not fit;
    7. if all of those fit, older messages, newest first, stopping at the first that does
       not fit, so the history sent before the newest user message is a contiguous suffix;
       when older ones were dropped, it starts on a user message (the replies whose
       question was dropped go too, tool calls with their results, as LangGraph's
       `trim_messages(start_on="human")`: Anthropic wants a user message first).

    Only the messages of step 2 are ever cut: the rest are kept whole or dropped. A user
    message loses its middle, any other its end. A system message said later (a note added
    each turn) is history like the others: kept while it fits, else dropped. The
    summary and the recall block never share an id with a message given (they become
    `summary-2`, `memories-2`, ... when one has theirs), so the report's ids are unambiguous.

    An assistant tool call and its results are kept or dropped together, in OpenAI's shape
    or Anthropic's (`tool_use` parts, answered by the next user message's `tool_result`
    parts), a tool result that answers no call right before it (an orphan) is never sent,
    nor a call no result answers (`without_abandoned_calls`).

    Messages are counted as `message_tokens` does: Anthropic's tool parts as the messages
    `to_openai()` sends for them, and a part only one format sends (a `thinking` block, left
    out by `to_openai()`) counted too, since the context does not know which format it goes
    in. So `report.tokens_after` is what `to_openai()` sends, or more by such parts: never
    less, so the budget holds for either format.

    Example:
        ```python
        result = token_budget(messages, counter, budget=8192, reserve=1024)
        print(result.report.describe())
        ```

    Raises:
        InvalidInputError: `budget` is not positive, or `reserve` is negative or not below it.
        BudgetExceededError: the system prompt, tool schemas and reply priming plus the
            newest user message cut to 32 tokens do not fit.
    """
    check_budget(budget, reserve)
    prompt = measure(messages, counter, tools)
    return budgeted(
        prompt,
        counter,
        "token_budget",
        budget=budget,
        reserve=reserve,
        summary=summary,
        recall=recall,
    )


def budgeted(
    prompt: Measured,
    counter: MessageCounterProtocol,
    strategy: str,
    *,
    budget: int,
    reserve: int,
    summary: str | None,
    recall: Recall | None = None,
    tokens_before: int | None = None,
    summarized: Sequence[str] = (),
    dropped: Sequence[str] = (),
) -> ContextResult:
    """`token_budget` over a measured prompt, reported as `strategy`.

    `tokens_before` overrides the reported input cost; `summarized` and `dropped` are ids
    of messages outside `prompt` that the report lists as such.
    """
    listed = {*(m.id for m in prompt.messages), *summarized, *dropped}
    summary_id = unused_id(SUMMARY_ID, listed)
    recall_id = unused_id(RECALL_ID, {*listed, summary_id})
    whole = None
    if summary is not None:
        message = summary_message(summary, message_id=summary_id)
        whole = Cut(message, counter.count_message(message))
    chosen = fit(
        prompt,
        counter,
        budget=budget,
        reserve=reserve,
        summary=whole,
        recall=recall,
        recall_id=recall_id,
    )
    cut_summary = chosen.summary
    if tokens_before is None:
        tokens_before = prompt.total + (whole.tokens if whole else 0)
    report = make_report(
        strategy,
        prompt.messages,
        chosen.kept + list(prompt.systems),
        tokens_before=tokens_before,
        tokens_after=chosen.tokens,
        budget=budget,
        reserve=reserve,
        summarized=summarized,
        also_dropped=dropped,
        truncated=[prompt.messages[i].id for i in sorted(chosen.replacements)],
        summary_tokens=cut_summary.tokens if cut_summary else 0,
        tools_tokens=prompt.tools,
        recall=chosen.recall,
    )
    messages = arrange(
        prompt.messages,
        prompt.systems,
        chosen.kept,
        summary=cut_summary.message if cut_summary else None,
        recall=chosen.recall.message if chosen.recall else None,
        replacements=chosen.replacements,
    )
    return ContextResult(messages, report)
