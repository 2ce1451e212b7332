"""Summary + buffer in two pure steps, so the caller does the I/O between them.

```python
plan = plan_summary(messages, counter, budget=8192, reserve=1024, summary=stored)
text = stored.text if stored else None
if plan.evict:
    # the room in the summarizer's tokens, measured on the text it folds (`sample`)
    room = summarizer_room(plan.fold_tokens, sample, counter, summarizer_count)
    text = summarizer.fold(text, plan.evict, max_tokens=room)  # I/O, once: never re-asked
    store.put_summary(...)  # through_seq=plan.through_seq     # I/O
if text is not None:
    text = fit_summary(text, counter, plan.summary_max_tokens)  # this context's share of it
result = assemble_summary(plan, counter, summary_text=text, budget=8192, reserve=1024)
```

The stored summary is folded at the largest size any context asked for, never less than
`STORED_SUMMARY_TOKENS` (`plan.fold_tokens`), and each context sends it shortened to its own
room (`fit_summary`: its most salient sentences, deterministically, no model call). So a
context at a small budget (a classifier, a title) never compresses what a later, larger
one sends: it shortens its own copy only.

A summary made under a small budget does not leave a later, larger one nearly empty: before
assembling, `backfill` fills the room the plan leaves under the trigger with the newest turns
the summary covers, verbatim; when they all fit, the summary is not sent at all (it stays
stored, for the next small budget). A larger budget never costs a fold.

```python
plan, text = backfill(plan, covered, counter, summary_text=text, budget=8192, reserve=1024)
```
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from engram._exceptions import InvalidInputError
from engram._validation import check_budget
from engram.context._counting import MessageCounterProtocol
from engram.context._groups import anchor_index
from engram.context._measure import Measured, measure
from engram.context._recall import Recall
from engram.context._report import ContextResult, with_summarized, with_unread
from engram.context._strategies import budgeted, summary_message
from engram.context._truncate import cut_text, truncation_marker
from engram.providers._extractive import ExtractiveSummarizer, left_out, unsaid
from engram.providers._text import longest_fitting
from engram.types import Message, Summary

__all__ = [
    "DEFAULT_SUMMARY_SHARE",
    "STORED_SUMMARY_TOKENS",
    "SummaryPlan",
    "assemble_summary",
    "backfill",
    "check_fractions",
    "fit_summary",
    "plan_summary",
    "summarizer_room",
    "summary_room",
]

_SENTENCE_START = re.compile(r"(?<=[.!?…])\s+|\n\s*")
"""Where a sentence or a line of a summary starts (after its first)."""

DEFAULT_SUMMARY_SHARE = 0.25
"""Without `summary_max_tokens`, the summary may take this share of `budget - reserve`."""

STORED_SUMMARY_TOKENS = 2048
"""The least room a fold of the stored summary is asked for, whatever the budget (the room
`DEFAULT_SUMMARY_SHARE` gives the default budget of 8192): the stored summary is shared by
the contexts of every budget, each sending it shortened to its own room (`fit_summary`)."""


@dataclass(frozen=True, slots=True)
class SummaryPlan:
    """What to fold into the running summary this turn, and what to keep verbatim."""

    keep: tuple[Message, ...]
    """System messages and the history to send verbatim, in order (with token counts)."""
    evict: tuple[Message, ...]
    """Messages to fold into the summary, oldest first; empty under the trigger."""
    folded: tuple[Message, ...]
    """Input messages the summary already covers (`seq <= summary.through_seq`); ignored."""
    summary: Summary | None
    """The summary the plan started from."""
    summary_max_tokens: int
    """The most tokens the summary text sent may take (the room the plan left for it)."""
    tokens: int
    """The prompt before eviction: system messages, summary, history, tools, reply priming."""
    summary_tokens: int = 0
    """What `summary` costs sent as its message (0 without one): its share of `tokens`."""
    also_covered: tuple[str, ...] = ()
    """Ids of messages in `keep` the summary covers too (sent verbatim by `backfill`): if the
    budget guard leaves one out, the report lists it as summarised, not dropped (unless the
    summary says it keeps nothing of it, see `assemble_summary`)."""
    fold_tokens: int = 0
    """The room to fold `evict` into the stored summary with: the largest of
    `summary_max_tokens`, `STORED_SUMMARY_TOKENS` and the stored summary's own size, so a
    fold never shrinks what a context at a larger budget asked for."""
    summary_text: str | None = None
    """`summary`'s text as this context sends it (`fit_summary` to `summary_max_tokens`),
    what `summary_tokens` counts; None without one."""

    @property
    def through_seq(self) -> int | None:
        """The new summary's `through_seq`: the seq of the newest evicted message, if any."""
        seqs = [message.seq for message in self.evict if message.seq is not None]
        return max(seqs) if seqs else None


def check_fractions(trigger: float, target: float) -> None:
    """`0 < target <= trigger <= 1`."""
    if not 0 < target <= trigger <= 1:
        raise InvalidInputError(
            f"summary fractions need 0 < target <= trigger <= 1, got {target=} {trigger=}"
        )


def plan_summary(
    messages: Sequence[Message],
    counter: MessageCounterProtocol,
    *,
    budget: int,
    reserve: int = 0,
    tools: Sequence[Mapping[str, Any]] = (),
    summary: Summary | None = None,
    trigger: float = 0.8,
    target: float = 0.5,
    summary_max_tokens: int | None = None,
) -> SummaryPlan:
    """Decide which of the oldest messages to fold into the running summary.

    `messages` are the session's system prompt (its system messages before any other) and
    its messages not yet folded into `summary` (`seq > summary.through_seq`), later system
    messages included: they are history, folded like any turn; folded ones given anyway are
    set aside. Nothing is evicted while the prompt (system prompt, current summary, history,
    tool schemas, reply priming) stays within `trigger * (budget - reserve)`. Past it, the
    oldest units are evicted until that prompt, with the summary counted at
    `summary_max_tokens`, is within `target * (budget - reserve)`, and on up to the start of
    a user turn (see `_units_to_evict`). A tool call and its results are evicted together;
    the newest user message and what follows it never are: a summary covers a prefix of the
    history (up to `through_seq`), so folding a message after the newest user message would
    fold that one too, and the next context would not send it. When an agent or tool loop
    after it is too long, `assemble_summary` drops the loop's oldest steps whole instead;
    they are folded once a newer user message makes them older history.

    Args:
        messages: The system prompt and the not-yet-folded history, in order.
        counter: The token counter of the target model.
        budget: Tokens the prompt and the reply reserve may use together.
        reserve: Tokens kept free for the reply.
        tools: Tool schemas sent with the prompt.
        summary: The stored running summary, if any.
        trigger: Fraction of `budget - reserve` past which the oldest messages are evicted.
        target: Fraction of `budget - reserve` the prompt is brought back under.
        summary_max_tokens: Room for the summary text; default 25% of `budget - reserve`.

    Raises:
        InvalidInputError: a bad budget or reserve, fractions not `0 < target <= trigger
            <= 1`, or a `summary_max_tokens` that is not positive.
    """
    check_budget(budget, reserve)
    check_fractions(trigger, target)
    available = budget - reserve
    room = summary_room(available, summary_max_tokens)
    folded, live = _set_aside_folded(messages, summary)
    prompt = measure(live, counter, tools)
    sent = None if summary is None else fit_summary(summary.text, counter, room)
    current = 0 if sent is None else counter.count_message(summary_message(sent))
    stored = 0 if summary is None else counter.count_text(summary.text)
    tokens = prompt.total + current
    count = 0
    if tokens > trigger * available:
        count = _units_to_evict(prompt, target * available - prompt.fixed - room)
    evicted = {i for unit in prompt.units[:count] for i in unit}
    counted = _with_counts(prompt, counter)
    return SummaryPlan(
        keep=tuple(m for i, m in enumerate(counted) if i not in evicted),
        evict=tuple(live[i] for i in sorted(evicted)),
        folded=tuple(folded),
        summary=summary,
        summary_max_tokens=room,
        tokens=tokens,
        summary_tokens=current,
        fold_tokens=max(room, STORED_SUMMARY_TOKENS, stored),
        summary_text=sent,
    )


def fit_summary(
    text: str,
    counter: MessageCounterProtocol,
    max_tokens: int,
    *,
    besides: Sequence[Message] = (),
) -> str:
    """The stored summary `text` as a context with room for `max_tokens` of it sends it:
    whole when it fits, else its most salient sentences that fit, in their order; never the
    sentences of `besides`, the covered turns the context sends verbatim after it (`backfill`).

    The stored summary is folded at the largest size asked for (`SummaryPlan.fold_tokens`),
    so a context at a smaller budget shortens it for itself: the sentences an extractive
    fold would keep (names, numbers, dates, decisions first; among equals the newest), not
    the newest ones only, which would lose its oldest facts, nor the ones the verbatim turns
    say anyway, which would leave the older facts out for a repeat. Deterministic, with no
    model call whatever the summarizer: an LLM's summary is shortened the same way. A
    summary of no sentence worth keeping alone ("Fine. Sure.") keeps its newest part
    (`_newest_part`).
    """
    shortened = ExtractiveSummarizer(counter.count_text).shorten(text, max_tokens, besides=besides)
    return shortened or _newest_part(text, counter, max_tokens)


def backfill(
    plan: SummaryPlan,
    covered: Sequence[Message],
    counter: MessageCounterProtocol,
    *,
    summary_text: str | None,
    budget: int,
    reserve: int = 0,
    tools: Sequence[Mapping[str, Any]] = (),
    trigger: float = 0.8,
    complete: bool = True,
) -> tuple[SummaryPlan, str | None]:
    """`plan` (its fold done) with the newest turns the summary covers sent verbatim too, in
    the room it leaves under `trigger * (budget - reserve)`; and the summary text to send.

    A summary made under a small budget must not leave a larger one nearly empty: the turns
    it covers fill the room the plan leaves, newest first, whole units, stopping at the first
    that does not fit, then on to the start of a user turn (so the history sent is a
    contiguous suffix of the conversation that starts on a user message, as under
    `token_budget`: a reply left first would answer a question the model does not see).
    When every covered turn fits with the rest (`complete`: `covered` starts at the first
    message the summary covers), the summary is not sent at all (None). Otherwise the
    summary stands for the covered turns not sent, fitted again to the plan's room from the
    stored text (`fit_summary`) without the sentences the turns sent verbatim say: its room
    goes to the older facts, not to a repeat of the turns that follow it.

    The overlap left is deliberate: the summary still covers the newest covered turns sent
    after it (an LLM's summary cannot be split by turn). The model reads the turns
    themselves after the summary, so what they say wins; the report lists them as kept, and
    only the covered turns left out as summarised. Nothing is folded here: a larger budget
    never costs a fold.

    Args:
        plan: The plan over the history the summary does not cover (`plan_summary`).
        covered: The newest messages the stored summary covers that `plan` was not given,
            oldest first (tool calls with their results); `plan.folded` and `plan.evict`
            are covered too.
        counter: The token counter of the target model.
        summary_text: The stored summary, after the plan's fold if it folded (None: no
            summary, `plan` returned); the text sent is fitted from it (`fit_summary`).
        budget: Tokens the prompt and the reply reserve may use together.
        reserve: Tokens kept free for the reply.
        tools: Tool schemas sent with the prompt.
        trigger: Fraction of `budget - reserve` the prompt may fill (as in `plan_summary`).
        complete: Whether `covered` (with `plan.folded`) holds every message the summary covers.

    Raises:
        InvalidInputError: a bad budget or reserve.
    """
    check_budget(budget, reserve)
    if summary_text is None:
        return plan, None
    goal = trigger * (budget - reserve)
    older = [*covered, *plan.folded, *plan.evict]
    everything = measure(_before_history(plan.keep, older), counter, tools)
    tokens = everything.total + plan.summary_tokens
    if complete and everything.total <= goal:
        keep = tuple(_with_counts(everything, counter))
        return SummaryPlan(keep, (), (), None, plan.summary_max_tokens, everything.total), None
    fitted = fit_summary(summary_text, counter, plan.summary_max_tokens)
    sent = summary_message(fitted)
    room = goal - measure(plan.keep, counter, tools).total - counter.count_message(sent)
    history = measure(older, counter)
    sizes = history.unit_sizes
    first = len(sizes)
    while first > 0 and sizes[first - 1] <= room:
        first -= 1
        room -= sizes[first]
    while first < len(sizes) and older[history.units[first][0]].role != "user":
        first += 1  # the history sent starts on a user message, as under token_budget
    start = history.units[first][0] if first < len(sizes) else len(older)
    if start < len(older):  # without what the turns sent verbatim say
        fitted = fit_summary(summary_text, counter, plan.summary_max_tokens, besides=older[start:])
    kept = measure(_before_history(plan.keep, older[start:]), counter, tools)
    backfilled = SummaryPlan(
        keep=tuple(_with_counts(kept, counter)),
        evict=(),
        folded=tuple(older[:start]),
        summary=plan.summary,
        summary_max_tokens=plan.summary_max_tokens,
        tokens=tokens,
        summary_tokens=plan.summary_tokens,
        also_covered=tuple(message.id for message in older[start:]),
        fold_tokens=plan.fold_tokens,
        summary_text=plan.summary_text,
    )
    return backfilled, fitted


def _before_history(keep: Sequence[Message], older: Sequence[Message]) -> list[Message]:
    """`keep` with `older` (history said before all of it) in front of its first non-system
    message."""
    at = next((i for i, message in enumerate(keep) if message.role != "system"), len(keep))
    return [*keep[:at], *older, *keep[at:]]


def summarizer_room(
    room: int, sample: str, counter: MessageCounterProtocol, count: Callable[[str], int]
) -> int:
    """`room`, tokens of the context's model (`counter`), as tokens the summarizer counts
    with (`count`): scaled down by how much more the model's tokenizer counts `sample`, the
    text being summarised, never up.

    A summarizer bounds its summary in its own tokens; asked for `room` of those, its summary
    could be over `room` in the model's, and cut (its oldest sentences) or asked again (a
    paid call). Asked for the room scaled to its tokens, its summary fits as it is, up to the
    difference between its text and `sample`; `assemble_summary` cuts what is over at a
    sentence end, so one fold never asks twice.
    """
    theirs = counter.count_text(sample)
    ours = count(sample)
    if theirs <= ours or theirs == 0:
        return room
    return max(1, room * ours // theirs)


def summary_room(available: int, summary_max_tokens: int | None) -> int:
    """The tokens the summary text may take: `summary_max_tokens`, validated, or a share."""
    if summary_max_tokens is None:
        return max(1, int(available * DEFAULT_SUMMARY_SHARE))
    if not isinstance(summary_max_tokens, int) or summary_max_tokens <= 0:
        raise InvalidInputError(
            f"summary_max_tokens must be a positive integer, got {summary_max_tokens!r}"
        )
    return summary_max_tokens


def _set_aside_folded(
    messages: Sequence[Message], summary: Summary | None
) -> tuple[list[Message], list[Message]]:
    """(messages the summary covers, the others); the leading system messages (the system
    prompt) are never covered, a later one is history like any turn."""
    if summary is None:
        return [], list(messages)
    folded: list[Message] = []
    live: list[Message] = []
    leading = True
    for message in messages:
        seq = message.seq
        leading = leading and message.role == "system"
        if not leading and seq is not None and seq <= summary.through_seq:
            folded.append(message)
        else:
            live.append(message)
    return folded, live


def _units_to_evict(prompt: Measured, history_goal: float) -> int:
    """How many of the oldest units to evict so the history is within `history_goal`.

    Never the current turn (see `plan_summary`). Eviction ends where a user turn starts:
    the units after the evicted ones up to it go too. An assistant reply left first would
    answer a question the summary holds (and Anthropic wants a user message first); a
    system message left first would pass for the system prompt next time (the leading
    system messages, which are never evicted).
    """
    limit = anchor_index(prompt.messages, prompt.units) or 0
    sizes = prompt.unit_sizes
    history = sum(sizes)
    count = 0
    while count < limit and history > history_goal:
        history -= sizes[count]
        count += 1
    while 0 < count < limit and prompt.messages[prompt.units[count][0]].role != "user":
        count += 1
    return count


def _with_counts(prompt: Measured, counter: MessageCounterProtocol) -> list[Message]:
    """The messages carrying their counts, so `assemble_summary` does not count them again."""
    return [
        m if m.tokens == size and m.encoding == counter.encoding else _counted(m, size, counter)
        for m, size in zip(prompt.messages, prompt.sizes, strict=True)
    ]


def _counted(message: Message, size: int, counter: MessageCounterProtocol) -> Message:
    return replace(message, tokens=size, encoding=counter.encoding)


def _newest_part(text: str, counter: MessageCounterProtocol, max_tokens: int) -> str:
    """`text` if within `max_tokens`, else the truncation marker and the longest tail of its
    sentences (or lines) that fits with it.

    A running summary is written oldest first: its end holds the newest facts, the ones a
    cut must keep. Without a whole sentence that fits, the start is kept instead (`cut_text`).
    """
    total = counter.count_text(text)
    if total <= max_tokens:
        return text
    starts = [match.end() for match in _SENTENCE_START.finditer(text) if match.end() < len(text)]

    def marked(i: int) -> str:  # the i-th shortest tail, after its marker
        tail = text[starts[-1 - i] :]
        return f"{truncation_marker(total - counter.count_text(tail))}\n{tail}"

    best = longest_fitting(len(starts), marked, max_tokens, counter.count_text)
    return best if best is not None else cut_text(text, counter, max_tokens)


def assemble_summary(
    plan: SummaryPlan,
    counter: MessageCounterProtocol,
    *,
    summary_text: str | None,
    budget: int,
    reserve: int = 0,
    tools: Sequence[Mapping[str, Any]] = (),
    recall: Recall | None = None,
) -> ContextResult:
    """The context: system messages, the summary, the recall block (if `recall` is given),
    then the kept messages, within the budget.

    `summary_text` is the summary after folding `plan.evict` into it (None: no summary; the
    evicted messages are then reported dropped). A summary longer than the room the plan
    left for it (`plan.summary_max_tokens`) is cut to it: its newest sentences, after a
    truncation marker (a summary is written oldest first). A summary that says it left
    messages out (`[… N messages left out …]`, the extractive one's first line) stands for
    the others only: the covered messages given that it keeps nothing of are reported
    dropped, and so, counted in `dropped_unread`, are the rest of the N, older ones not
    given (see `with_unread`). Then `token_budget` is applied
    as a guard, so the result never exceeds `budget - reserve` (it only bites when the
    current turn is too large, or the options changed): the summary
    comes before all but the newest user message and the newest unit after it, and the
    oldest messages after that user message are dropped whole, never cut to markers. The
    recall block gets what the newest turn and the summary leave, within its share, before
    the kept history; plan with `budget` less the block's tokens so the plan leaves it room.

    Raises:
        InvalidInputError: a bad budget or reserve.
        BudgetExceededError: as `token_budget`.
    """
    check_budget(budget, reserve)
    prompt = measure(plan.keep, counter, tools)
    if summary_text is not None:
        summary_text = _newest_part(summary_text, counter, plan.summary_max_tokens)
    covered = [message.id for message in (*plan.folded, *plan.evict)]
    lost, unread = _left_out(plan, summary_text)
    if summary_text is None:
        lost = set(covered)
    summarized = [i for i in covered if i not in lost]
    result = budgeted(
        prompt,
        counter,
        "summary",
        budget=budget,
        reserve=reserve,
        summary=summary_text,
        recall=recall,
        tokens_before=plan.tokens,
        summarized=summarized,
        dropped=[i for i in covered if i in lost],
    )
    result = with_unread(result, dropped=unread)
    if summary_text is None or not plan.also_covered:
        return result
    return with_summarized(result, [i for i in plan.also_covered if i not in lost])


def _left_out(plan: SummaryPlan, summary_text: str | None) -> tuple[set[str], int]:
    """The ids of the messages given that `summary_text` covers but keeps nothing of, and how
    many more it says it left out (older ones, not given): none when it does not say
    (`left_out`: an LLM's summary, or one that kept something of every message).

    What a summary keeps nothing of is not summarised: the report lists it as dropped (a
    covered turn sent verbatim is kept, unless the budget guard leaves it out)."""
    left = 0 if summary_text is None else left_out(summary_text)
    if not left:
        return set(), 0
    also = set(plan.also_covered)
    given = [*plan.folded, *plan.evict, *(m for m in plan.keep if m.id in also)]
    lost = {message.id for message in unsaid(summary_text or "", given)}
    return lost, max(0, left - len(lost))
