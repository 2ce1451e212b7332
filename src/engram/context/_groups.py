"""The history as units: a message, or an assistant tool call with the results answering it.

Strategies keep or drop whole units, so a tool result never loses the call it answers (the
chat APIs reject such a request) and a call never loses its results. System messages are not
part of any unit: every strategy keeps them. The chat APIs also want a call's results right
after it, and every call answered: `arrange` sends a system message said between a call and
its results after them, and `without_abandoned_calls` takes out the calls nothing answered
before the conversation went on (the user spoke again, the run stopped).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from engram.types import Message, ToolCall

__all__ = [
    "Unit",
    "anchor_index",
    "arrange",
    "skip_orphans",
    "split_history",
    "without_abandoned_calls",
]

Unit = tuple[int, ...]
"""Positions (ascending) of consecutive non-system messages kept or dropped together.

A unit opening with a tool result is an orphan: it answers no call of the unit before it
(the history was malformed, or cut inside a tool-call group before it reached us).
"""


def split_history(messages: Sequence[Message]) -> tuple[list[int], list[Unit]]:
    """The positions of the system messages, and the other messages as units, oldest first.

    A tool message joins the unit before it when that unit's assistant message requested its
    `tool_call_id`; system messages between them do not break the group. Consecutive tool
    messages that answer no such call form one orphan unit.
    """
    systems: list[int] = []
    units: list[Unit] = []
    group: list[int] = []
    calls: tuple[ToolCall, ...] = ()
    orphan = False
    for index, message in enumerate(messages):
        role = message.role
        if role == "system":
            systems.append(index)
        elif role == "tool" and group and (orphan or _answers(message, calls)):
            group.append(index)
        else:
            if group:
                units.append(tuple(group))
            group, calls, orphan = [index], message.tool_calls, role == "tool"
    if group:
        units.append(tuple(group))
    return systems, units


def _answers(message: Message, calls: tuple[ToolCall, ...]) -> bool:
    for call in calls:
        if call.id == message.tool_call_id:
            return True
    return False


def anchor_index(messages: Sequence[Message], units: Sequence[Unit]) -> int | None:
    """The unit of the newest user message (else the newest unit); None without history.

    The anchor and every unit after it form the current turn, which `token_budget` prefers
    to anything older (dropping its oldest units after the anchor first when it is too long)
    and `plan_summary` never evicts.
    """
    for position in range(len(units) - 1, -1, -1):
        if messages[units[position][0]].role == "user":
            return position
    return len(units) - 1 if units else None


def skip_orphans(messages: Sequence[Message], units: Sequence[Unit], start: int, end: int) -> int:
    """The first position from `start` (up to `end`) whose unit is not an orphan.

    A context never opens with an orphan tool result: the chat APIs reject it.
    """
    while start < end and messages[units[start][0]].role == "tool":
        start += 1
    return start


def arrange(
    messages: Sequence[Message],
    systems: Sequence[int],
    kept: Iterable[int],
    *,
    summary: Message | None = None,
    recall: Message | None = None,
    replacements: Mapping[int, Message] | None = None,
) -> tuple[Message, ...]:
    """The context in order: system messages, the summary, the recall block, the history.

    System messages older than the first kept message come first, then the summary and the
    recall block, then the kept history in its original order (with system messages met there
    left in place). `replacements` maps positions to the truncated copies that replace them.
    """
    history = sorted(kept)
    first = history[0] if history else len(messages)
    head = [i for i in systems if i < first]
    tail = sorted([*history, *(i for i in systems if i >= first)])
    swap = replacements or {}
    ordered = [messages[i] for i in head]
    ordered.extend(added for added in (summary, recall) if added is not None)
    ordered.extend(swap.get(i, messages[i]) for i in _results_first(messages, tail))
    return tuple(ordered)


def _results_first(messages: Sequence[Message], positions: list[int]) -> list[int]:
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
    """`messages` without the tool calls no tool message answers, where the conversation
    went on after them: the chat APIs refuse a call without its result. An assistant message
    keeps its text and its answered calls, and is left out if nothing else is left of it.
    The calls of the newest message stay: their results may be on their way."""
    answered = {message.tool_call_id for message in messages if message.role == "tool"}
    newest = max((i for i, m in enumerate(messages) if m.role != "system"), default=-1)
    kept: list[Message] = []
    for index, message in enumerate(messages):
        calls = tuple(call for call in message.tool_calls if call.id in answered)
        if index != newest and len(calls) < len(message.tool_calls):
            if not calls and not message.text.strip():
                continue
            message = replace(message, tool_calls=calls, tokens=None, encoding=None)
        kept.append(message)
    return kept
