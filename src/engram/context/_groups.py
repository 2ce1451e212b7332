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

Calls and results come in either shape, grouped alike: OpenAI's (an assistant message's
`tool_calls`, answered by tool messages) and Anthropic's (the assistant message's `tool_use`
parts, or LangChain's `tool_call` parts, answered by the `tool_result` parts of the user
message after it: `call_ids`, `result_ids`). A user message of `tool_result` parts is a
result, not a user turn: it joins its call's unit like a tool message.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import replace

from engram.types import ContentPart, Message, ToolCall
from engram.types._parts import openai_tool_call

__all__ = [
    "Unit",
    "anchor_index",
    "arrange",
    "call_ids",
    "is_result",
    "is_said",
    "part_calls",
    "result_ids",
    "results_first",
    "sendable",
    "split_history",
    "superseded_results",
    "without_abandoned_calls",
]

Unit = tuple[int, ...]
"""Positions (ascending) of consecutive non-system messages kept or dropped together: a
user or assistant message, and the tool results answering the assistant message's calls."""


def split_history(
    messages: Sequence[Message], left_out: Container[int] = ()
) -> tuple[list[int], list[Unit]]:
    """The positions of the leading system messages (the system prompt, said before any
    other message), and the other messages as units, oldest first; those at `left_out`
    positions are in none, though they end the system prompt. `measure` gives it the
    messages as `sendable` sends them, and leaves out those it leaves out: abandoned calls,
    orphan results and results another result for their call follows (`superseded_results`).

    A later system message is a unit of its own, like a user message: kept while it fits,
    dropped or summarised when it does not (a bot adding a note every turn would otherwise
    fill any budget with them). One said between a tool call and its results joins their
    unit (`arrange` sends it after them).

    A tool message joins the unit before it when that unit's assistant message requested its
    `tool_call_id`; system messages between them do not break the group. A tool message
    that answers no such call (it came after the conversation went on) is an orphan: the
    chat APIs reject it anywhere but right after its call, so it is in no unit, and no
    strategy sends it. A user message with `tool_result` parts (Anthropic's shape,
    `is_result`) joins the unit before it likewise when one of them answers its calls; one
    answering none is an orphan too when it has nothing else (in no unit), else a user
    message like any other (`without_abandoned_calls` takes its orphan results out).
    """
    systems: list[int] = []
    units: list[Unit] = []
    group: list[int] = []
    calls: set[str | None] = set()
    leading = True
    for index, message in enumerate(messages):
        role = message.role
        leading = leading and role == "system"
        if index in left_out:
            continue
        answers = set(result_ids(message))
        if leading:
            systems.append(index)
        elif role == "system" and calls:
            group.append(index)  # between a call and its results: sent after them
        elif role == "tool" or (answers and not _says_more(message)):
            if group and answers & calls:
                group.append(index)
        elif group and answers & calls:
            group.append(index)  # results and what the user said after them, one message
            calls = set()
        else:
            if group:
                units.append(tuple(group))
            group, calls = [index], set(call_ids(message))
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
            and is_result(messages[ordered[moved + 1]])
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
    (`_with_calls`), and is left out if nothing else is left of it (`_is_blank`).

    Anthropic's shape is taken alike: the `tool_use` parts of an assistant message are its
    calls, answered by the `tool_result` parts of the user messages right after it; a
    `tool_result` part answering none of them, or that another result for its call follows,
    is taken out of its user message, which is left out if nothing else is left of it.

    Every strategy applies it to what it is given (`sendable`, by position), so calling one
    directly sends what a session sends."""
    return [message for message in sendable(messages) if message is not None]


def sendable(messages: Sequence[Message]) -> list[Message | None]:
    """`without_abandoned_calls` by position: each message as sent, None where it is left
    out (so a strategy's report can list it as dropped)."""
    sent: list[Message | None] = []
    requested: set[str | None] = set()
    superseded = superseded_results(messages)
    for index, message in enumerate(messages):
        if message.role == "tool":
            keep = message.tool_call_id in requested and (index, None) not in superseded
            sent.append(message if keep else None)
            continue
        if message.role == "system":
            sent.append(message)
            continue
        answers = set(result_ids(message))
        if answers:
            dropped = {at for at, _ in _result_parts(message) if (index, at) in superseded}
            message = _without_results(message, requested, dropped)
            if not message.content:
                sent.append(None)
                if answers - requested:
                    requested = set()  # an orphan: the conversation went on before it
                continue
            if not _says_more(message):
                sent.append(message)  # results only: more of them may follow
                continue
        answered = _answers_after(messages, index)
        calls = _first_of_each(call for call in message.tool_calls if call.id in answered)
        lost = set(call_ids(message)) - answered
        if calls != message.tool_calls or lost:
            message = _with_calls(message, calls, lost)
            if not calls and _is_blank(message):
                sent.append(None)
                requested = set()
                continue
        requested = set(call_ids(message))
        sent.append(message)
    return sent


def superseded_results(messages: Sequence[Message]) -> set[tuple[int, int | None]]:
    """The results another result for the same call follows before the conversation goes
    on (only other results and system messages between): (position, None) for a tool
    message, (position, part index) for a `tool_result` part, in one user message or in
    several. A user message saying more than its results ends the run after them.

    A tool run retried and logged twice leaves two results for one call, which the chat APIs
    refuse (OpenAI and Anthropic take exactly one per call). The last is the one sent: it is
    what the run ended with (the first is usually the failure that made it retry), and what
    the conversation went on from."""
    superseded: set[tuple[int, int | None]] = set()
    latest: dict[str | None, tuple[int, int | None]] = {}
    for index, message in enumerate(messages):
        if message.role == "system":
            continue
        if message.role == "tool":
            results: list[tuple[int | None, str | None]] = [(None, message.tool_call_id)]
        else:
            results = [(at, _result_id(part)) for at, part in _result_parts(message)]
        if not results:
            latest = {}
            continue
        for at, call in results:
            if (earlier := latest.get(call)) is not None:
                superseded.add(earlier)
            latest[call] = (index, at)
        if message.role != "tool" and _says_more(message):
            latest = {}
    return superseded


def call_ids(message: Message) -> tuple[str, ...]:
    """The ids of the calls `message` requests: its `tool_calls`, then those of an assistant
    message's call parts (Anthropic's `tool_use`, LangChain's `tool_call`: `part_calls`)."""
    ids = [call.id for call in message.tool_calls]
    ids.extend(call.id for call in part_calls(message) if call.id not in ids)
    return tuple(ids)


def part_calls(message: Message) -> tuple[ToolCall, ...]:
    """The calls among an assistant message's parts (Anthropic's `tool_use`, LangChain's
    `tool_call`) that none of its `tool_calls` repeats, as `Message.to_openai` sends them."""
    if message.role != "assistant" or isinstance(message.content, str):
        return ()
    listed = {call.id for call in message.tool_calls}
    calls: list[ToolCall] = []
    for part in message.content:
        found = openai_tool_call(part.to_openai()) if part.type in _CALL_PARTS else None
        if found is not None and found["id"] not in listed:
            listed.add(found["id"])
            calls.append(ToolCall.from_openai(found))
    return tuple(calls)


def result_ids(message: Message) -> tuple[str | None, ...]:
    """The ids of the calls `message` answers: a tool message's `tool_call_id`, a user
    message's `tool_result` parts' `tool_use_id` (Anthropic's shape); else none."""
    if message.role == "tool":
        return (message.tool_call_id,)
    if message.role != "user" or isinstance(message.content, str):
        return ()
    return tuple(_result_id(part) for part in message.content if part.type == "tool_result")


def is_said(message: Message) -> bool:
    """Whether `message` is a user message that says something: not only tool results (a
    question typed with them is said)."""
    return message.role == "user" and (not is_result(message) or _says_more(message))


def is_result(message: Message) -> bool:
    """Whether `message` holds tool results: a tool message, or a user message with
    `tool_result` parts."""
    return bool(result_ids(message))


_CALL_PARTS = frozenset({"tool_use", "tool_call"})
"""The parts that are tool calls: Anthropic's `tool_use`, LangChain's `tool_call`."""


def _result_id(part: ContentPart) -> str | None:
    found = part.extra.get("tool_use_id")
    return str(found) if found is not None else None


def _says_more(message: Message) -> bool:
    """Whether a user message says something besides its `tool_result` parts."""
    return not isinstance(message.content, str) and any(
        part.type != "tool_result" for part in message.content
    )


def _result_parts(message: Message) -> list[tuple[int, ContentPart]]:
    """A user message's `tool_result` parts, with their index among its parts."""
    if message.role != "user" or isinstance(message.content, str):
        return []
    return [(at, part) for at, part in enumerate(message.content) if part.type == "tool_result"]


def _without_results(message: Message, answered: set[str | None], superseded: set[int]) -> Message:
    """A user message without its `tool_result` parts that answer no call of `answered` or
    that are `superseded` (part indices); `message` itself when it loses none."""
    content = () if isinstance(message.content, str) else message.content
    parts = tuple(
        part
        for at, part in enumerate(content)
        if part.type != "tool_result" or (_result_id(part) in answered and at not in superseded)
    )
    if len(parts) == len(content):
        return message
    return replace(message, content=parts, tokens=None, encoding=None)


def _first_of_each(calls: Iterable[ToolCall]) -> tuple[ToolCall, ...]:
    """`calls`, the first of those sharing an id only."""
    seen: set[str] = set()
    kept: list[ToolCall] = []
    for call in calls:
        if call.id not in seen:
            seen.add(call.id)
            kept.append(call)
    return tuple(kept)


def _with_calls(message: Message, calls: tuple[ToolCall, ...], lost: set[str]) -> Message:
    """`message` with only `calls`, and without the call parts (Anthropic's `tool_use`,
    LangChain's `tool_call`) of the `lost` calls: the API refuses a `tool_use` block that no
    `tool_result` answers. Content left with no part becomes empty text."""
    content = message.content
    if not isinstance(content, str):
        parts = tuple(
            part
            for part in content
            if not (part.type in _CALL_PARTS and part.extra.get("id") in lost)
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


def _answers_after(messages: Sequence[Message], index: int) -> set[str | None]:
    """The ids of the calls the results right after `messages[index]` answer: the tool
    messages and the user messages of `tool_result` parts only that follow it (system
    messages between), and the `tool_result` parts of the user message after them."""
    answered: set[str | None] = set()
    for message in messages[index + 1 :]:
        if message.role == "system":
            continue
        answered.update(result_ids(message))
        if message.role != "tool" and (not is_result(message) or _says_more(message)):
            break
    return answered
