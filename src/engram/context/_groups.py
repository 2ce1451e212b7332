"""The history as units: a message, or an assistant tool call with the results answering it.

Strategies keep or drop whole units, so a tool result never loses the call it answers (the
chat APIs reject such a request) and a call never loses its results. The leading system
messages (the system prompt: those before the first other message) are not part of any unit:
every strategy keeps them. A system message said later (a note added during the conversation)
is history like any turn, a unit of its own. The chat APIs also want a call's results right
after it, and every call answered: `arrange` sends a system message said between a call and
its results after them, and `without_abandoned_calls` takes out the calls no result follows
(the conversation went on without them, or their results are not in yet), with the results
that came too late for them. They also take one result per call: of two answering one call
(a tool run retried and logged twice), only the last is sent (`superseded_results`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from engram.types import Message, ToolCall

__all__ = [
    "Unit",
    "anchor_index",
    "arrange",
    "results_first",
    "split_history",
    "superseded_results",
    "without_abandoned_calls",
]

Unit = tuple[int, ...]
"""Positions (ascending) of consecutive non-system messages kept or dropped together: a
user or assistant message, and the tool results answering the assistant message's calls."""


def split_history(messages: Sequence[Message]) -> tuple[list[int], list[Unit]]:
    """The positions of the leading system messages (the system prompt, said before any
    other message), and the other messages as units, oldest first.

    A later system message is a unit of its own, like a user message: kept while it fits,
    dropped or summarised when it does not (a bot adding a note every turn would otherwise
    fill any budget with them). One said between a tool call and its results joins their
    unit (`arrange` sends it after them).

    A tool message joins the unit before it when that unit's assistant message requested its
    `tool_call_id`; system messages between them do not break the group. A tool message
    that answers no such call (it came after the conversation went on) is an orphan: the
    chat APIs reject it anywhere but right after its call, so it is in no unit, and no
    strategy sends it; nor one that another result for the same call follows
    (`superseded_results`).
    """
    systems: list[int] = []
    units: list[Unit] = []
    group: list[int] = []
    calls: set[str] = set()
    superseded = superseded_results(messages)
    leading = True
    for index, message in enumerate(messages):
        role = message.role
        leading = leading and role == "system"
        if leading:
            systems.append(index)
        elif role == "system" and calls:
            group.append(index)  # between a call and its results: sent after them
        elif role == "tool":
            if group and message.tool_call_id in calls and index not in superseded:
                group.append(index)
        else:
            if group:
                units.append(tuple(group))
            group, calls = [index], {call.id for call in message.tool_calls}
    if group:
        units.append(tuple(group))
    return systems, units


def anchor_index(messages: Sequence[Message], units: Sequence[Unit]) -> int | None:
    """The unit of the newest user message (else the newest unit not of a system message);
    None without history.

    The anchor and every unit after it form the current turn, which `token_budget` prefers
    to anything older (dropping its oldest units after the anchor first when it is too long)
    and `plan_summary` never evicts.
    """
    for position in range(len(units) - 1, -1, -1):
        if messages[units[position][0]].role == "user":
            return position
    for position in range(len(units) - 1, -1, -1):
        if messages[units[position][0]].role != "system":
            return position
    return len(units) - 1 if units else None


def arrange(
    messages: Sequence[Message],
    systems: Sequence[int],
    kept: Iterable[int],
    *,
    summary: Message | None = None,
    recall: Message | None = None,
    replacements: Mapping[int, Message] | None = None,
) -> tuple[Message, ...]:
    """The context in order: the system prompt, the summary, the recall block, the history.

    The system messages `systems` older than the first kept message come first (the system
    prompt), then the summary and the recall block, then the kept history in its original
    order (later system messages in place). `replacements` maps positions to the truncated
    copies that replace them.
    """
    history = sorted(kept)
    first = history[0] if history else len(messages)
    head = [i for i in systems if i < first]
    tail = sorted([*history, *(i for i in systems if i >= first)])
    swap = replacements or {}
    ordered = [messages[i] for i in head]
    ordered.extend(added for added in (summary, recall) if added is not None)
    ordered.extend(swap.get(i, messages[i]) for i in results_first(messages, tail))
    return tuple(ordered)


def results_first(messages: Sequence[Message], positions: list[int]) -> list[int]:
    """`positions` with each system message that comes between a call and its results
    (`split_history` keeps them one unit) moved after the results."""
    ordered = list(positions)
    for at in range(len(ordered) - 2, -1, -1):
        moved = at
        while (
            moved + 1 < len(ordered)
            and messages[ordered[moved]].role == "system"
            and messages[ordered[moved + 1]].role == "tool"
        ):
            ordered[moved], ordered[moved + 1] = ordered[moved + 1], ordered[moved]
            moved += 1
    return ordered


def without_abandoned_calls(messages: Sequence[Message]) -> list[Message]:
    """`messages` as the chat APIs accept them: without the tool calls no tool message
    answers right after them (only other results and system messages between), and without
    the tool results that answer no such call or that another result for their call follows
    (`superseded_results`).

    A call is abandoned when the conversation went on without its result (the user spoke
    again, the run stopped); a result is an orphan when it came after that. A call still
    waiting for its result (the newest message's, results not in yet) is left out too: OpenAI
    refuses a prompt with an assistant `tool_calls` message that its results do not follow,
    even as the last message, and so do the other chat APIs. Its results are sent with it
    once they are added. An assistant message keeps its content and its answered calls (the
    first of those sharing an id), less the `tool_use` parts of the calls it loses
    (`_with_calls`), and is left out if nothing else is left of it (`_is_blank`)."""
    kept: list[Message] = []
    requested: set[str] = set()
    superseded = superseded_results(messages)
    for index, message in enumerate(messages):
        if message.role == "tool":
            if message.tool_call_id in requested and index not in superseded:
                kept.append(message)
            continue
        if message.role == "system":
            kept.append(message)
            continue
        calls = _answered_calls(messages, index)
        if calls != message.tool_calls:
            message = _with_calls(message, calls)
            if not calls and _is_blank(message):
                requested = set()
                continue
        requested = {call.id for call in message.tool_calls}
        kept.append(message)
    return kept


def superseded_results(messages: Sequence[Message]) -> set[int]:
    """Positions of the tool messages that another result for the same call follows before
    the conversation goes on (only other results and system messages between).

    A tool run retried and logged twice leaves two results for one call, which the chat APIs
    refuse (OpenAI and Anthropic take exactly one per call). The last is the one sent: it is
    what the run ended with (the first is usually the failure that made it retry), and what
    the conversation went on from."""
    superseded: set[int] = set()
    latest: dict[str | None, int] = {}
    for index, message in enumerate(messages):
        if message.role == "tool":
            if (earlier := latest.get(message.tool_call_id)) is not None:
                superseded.add(earlier)
            latest[message.tool_call_id] = index
        elif message.role != "system":
            latest = {}
    return superseded


def _with_calls(message: Message, calls: tuple[ToolCall, ...]) -> Message:
    """`message` with only `calls`, and without the Anthropic `tool_use` parts (LangChain keeps
    them in the content) of the calls it no longer has: the API refuses a `tool_use` block
    that no `tool_result` answers. Content left with no part becomes empty text."""
    content = message.content
    if not isinstance(content, str):
        kept = {call.id for call in calls}
        dropped = {call.id for call in message.tool_calls} - kept
        parts = tuple(
            part
            for part in content
            if not (part.type == "tool_use" and part.extra.get("id") in dropped)
        )
        content = parts or ""
    return replace(message, content=content, tool_calls=calls, tokens=None, encoding=None)


def _is_blank(message: Message) -> bool:
    """Whether `message` says nothing besides its calls: its text, of every text part
    (`output_text` too), is blank, and it has no other part (an image, a refusal, a
    thinking block)."""
    if isinstance(message.content, str):
        return not message.content.strip()
    return all(part.text is not None and not part.text.strip() for part in message.content)


def _answered_calls(messages: Sequence[Message], index: int) -> tuple[ToolCall, ...]:
    """The calls of `messages[index]` a tool message answers right after it, one per id."""
    results: set[str | None] = set()
    for message in messages[index + 1 :]:
        if message.role == "tool":
            results.add(message.tool_call_id)
        elif message.role != "system":
            break
    calls: list[ToolCall] = []
    for call in messages[index].tool_calls:
        if call.id in results:
            results.discard(call.id)
            calls.append(call)
    return tuple(calls)
