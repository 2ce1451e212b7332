"""The conversation operations as flows (see `_flows`): open, add, context, export, import."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any, Literal, NamedTuple

from engram import _memory_flows as memory_flows
from engram import context as ctx
from engram._exceptions import ConflictError, InvalidInputError, NotFoundError
from engram._flows import Flow, Serialize, SummarizeCall, call, call_memories
from engram._ids import new_id
from engram._validation import (
    check_budget,
    check_export_format,
    check_identifier,
    check_json_object,
    check_messages,
    check_text,
    first_repeat,
    is_blank,
    unanswered_tool_calls,
)
from engram.context._report import with_dropped
from engram.context._strategies import check_window
from engram.context._summary import backfill, summarizer_room
from engram.memory.profile import EDITED
from engram.memory.ranking import DEFAULT_WEIGHTS, RankingWeights
from engram.stores._memory_rules import MAX_LIMIT
from engram.stores.conversation import (
    AppendMessages,
    CreateSession,
    DeleteSession,
    FindToolCalls,
    GetSession,
    GetSummary,
    ListMessages,
    ListSessions,
    PurgeExpired,
    PutSummary,
)
from engram.stores.memories import GetMemories, GetProfile, RecordAccess
from engram.tokens import TokenCounter
from engram.types import Message, Session, Summary
from engram.types._copy import copy_record
from engram.types._memory import MemoryHit
from engram.types._time import parse_time

__all__ = [
    "EXPORT_FORMAT",
    "ContextSpec",
    "Strategy",
    "add_flow",
    "context_flow",
    "delete_user_sessions_flow",
    "export_flow",
    "import_flow",
    "open_flow",
]

Strategy = Literal["buffer", "window", "token_budget", "summary"]
STRATEGIES: tuple[str, ...] = ("buffer", "window", "token_budget", "summary")
NON_SYSTEM = ("user", "assistant", "tool")
EXPORT_FORMAT = "engram.session/1"
_MIN_PAGE, _MAX_PAGE = 16, 4096
logger = logging.getLogger("engram")


@dataclass(frozen=True, slots=True)
class ContextSpec:
    """How to build a context: the strategy and its options."""

    strategy: Strategy = "token_budget"
    budget: int = 8192
    """Tokens the prompt and the reply reserve may use together."""
    reserve: int = 0
    """Tokens kept free for the reply."""
    tools: tuple[Mapping[str, Any], ...] = ()
    """Tool schemas sent with the prompt (OpenAI `tools` form); counted in the budget."""
    last_messages: int | None = None
    """`window`: keep the last N messages."""
    last_turns: int | None = None
    """`window`: keep the last N user turns."""
    trigger: float = 0.8
    """`summary`: summarise once the history passes this fraction of the budget."""
    target: float = 0.5
    """`summary`: after summarising, the recent messages take at most this fraction."""
    recall: int = 0
    """Recall up to this many long-term memories of the session's user for the newest user
    message, with the user's profile (0: no long-term tier)."""
    recall_share: float = 0.3
    """The most of the prompt the profile and memories may take."""
    embedding_model_id: str = ""
    """The vectors recall compares with (set by `Conversation.context`)."""
    ranking: RankingWeights = DEFAULT_WEIGHTS
    """How recall ranks memories (set by `Conversation.context`: the Engram's)."""

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise InvalidInputError(
                f"unknown strategy {self.strategy!r}; expected one of {', '.join(STRATEGIES)}"
            )
        check_budget(self.budget, self.reserve)
        if self.strategy == "window":
            check_window(self.last_messages, self.last_turns)
        if not 0 < self.target <= self.trigger <= 1:
            raise InvalidInputError("summary fractions need 0 < target <= trigger <= 1")
        if not _is_count(self.recall) or not 0 < self.recall_share < 1:
            raise InvalidInputError("recall needs a count >= 0 and 0 < recall_share < 1")


def _is_count(value: object) -> bool:
    """Whether `value` is an integer >= 0 (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def open_flow(template: Session, *, now: datetime, create: bool) -> Flow[Session]:
    """Get a live session (extending its expiry), or create it from `template`."""
    [existing] = yield from call(GetSession(template.tenant, template.id, now, touch=True))
    if existing is None and create:
        session = _fresh(template, now)
        try:
            [existing] = yield from call(CreateSession(session))
        except ConflictError:  # created meanwhile by another writer
            [existing] = yield from call(GetSession(template.tenant, template.id, now, True))
    if existing is None:
        raise NotFoundError(f"no session {template.id!r} in tenant {template.tenant!r}")
    _check_owner(template, existing, "user_id", "user")
    _check_owner(template, existing, "agent_id", "agent")
    opened: Session = existing
    return opened


def _check_owner(template: Session, existing: Session, field: str, owner: str) -> None:
    """Refuse to open `existing` for another `owner` than the one it was created for.

    A session's user and agent are set when it is created (no store can change them later):
    a handle claiming one for a session made without would scope nothing (`recall`,
    `sessions(user_id=...)`).
    """
    wanted, held = getattr(template, field), getattr(existing, field)
    if wanted is None or wanted == held:
        return
    if held is None:
        raise InvalidInputError(
            f"session {template.id!r} was created with no {field}, so it cannot be opened "
            f"for {owner} {wanted!r}: open it without {field}, or start a new session"
        )
    raise InvalidInputError(f"session {template.id!r} belongs to another {owner}")


def _fresh(template: Session, now: datetime) -> Session:
    """The session to create at `now`; the store sets its expiry from its TTL."""
    return replace(template, created_at=now, updated_at=now, expires_at=None)


def add_flow(
    session: Session, messages: Sequence[Message], *, max_bytes: int, now: datetime
) -> Flow[list[Message]]:
    """Validate, count and append messages; a tool result must answer a call right before it."""
    _check_messages(messages, max_bytes=max_bytes)
    counted = _counted(TokenCounter.for_encoding(session.encoding), messages)
    requested = yield from _calls_before(session, counted, now=now)
    late = _late_results(counted, requested)
    if late:
        missing = tuple(sorted(set(unanswered_tool_calls(counted)) & set(late)))
        found: set[str] = set()
        if missing:
            [found] = yield from call(FindToolCalls(session.tenant, session.id, missing, now))
        unknown = sorted(set(missing) - set(found))
        if unknown:
            raise InvalidInputError(
                f"tool message(s) answer no tool call of session {session.id!r}: "
                + ", ".join(unknown)
            )
        raise InvalidInputError(
            "tool message(s) come too late for their call (the conversation went on after "
            "it): "
            + ", ".join(sorted(set(late)))
            + "; a tool result must follow its call, with only other results and system "
            "messages between, as the chat APIs take it"
        )
    [stored] = yield from call(AppendMessages(session.tenant, session.id, counted, now))
    result: list[Message] = stored
    return result


def _check_messages(
    messages: Sequence[Message], *, max_bytes: int, prefix: str | None = None
) -> None:
    """`check_messages`, and each message's metadata a JSON object every backend stores
    alike (`check_json_object`: string keys, valid UTF-8). The error of one of several
    messages (or of any, with a `prefix`) names it: `messages[2]: unknown role 'bot' ...`."""
    for index, message in enumerate(messages):
        try:
            check_messages([message], max_bytes=max_bytes)
            check_json_object(message.metadata, "message metadata")
        except InvalidInputError as exc:
            if prefix is None and len(messages) == 1:
                raise
            where = f"messages[{index}]" if prefix is None else f"{prefix}: messages[{index}]"
            raise InvalidInputError(f"{where}: {exc}") from exc


def _late_results(messages: Sequence[Message], requested: set[str]) -> list[str]:
    """The tool_call_ids of the tool messages of `messages` that answer no call of the
    newest user or assistant message before them (of `messages`; before the first, the
    calls `requested`, those of the message stored before them)."""
    late: list[str] = []
    for message in messages:
        if message.role == "tool":
            if message.tool_call_id not in requested:
                late.append(str(message.tool_call_id))
        elif message.role != "system":
            requested = {call.id for call in message.tool_calls}
    return late


def _calls_before(
    session: Session, messages: Sequence[Message], *, now: datetime
) -> Flow[set[str]]:
    """The ids of the calls of the session's newest user or assistant message, read only
    when a tool message of `messages` comes before their first user or assistant message."""
    first = next((m.role for m in messages if m.role != "system"), None)
    if first != "tool":
        return set()
    op = ListMessages(session.tenant, session.id, last=1, roles=("user", "assistant"), now=now)
    [newest] = yield from call(op)
    return {call.id for call in newest[0].tool_calls} if newest else set()


def context_flow(
    tenant: str, session_id: str, counter: TokenCounter, spec: ContextSpec, *, now: datetime
) -> Flow[ctx.ContextResult]:
    """Build the context for the next turn: the strategy over the conversation, with the
    long-term tier (if asked) in the room the strategy leaves it (see `engram.context`).
    Never loads the whole history; the report still accounts for all of it (see
    `_with_unread`)."""
    [session] = yield from call(GetSession(tenant, session_id, now, touch=True))
    if session is None:
        raise NotFoundError(f"no session {session_id!r} in tenant {tenant!r}")
    [said] = yield from call(ListMessages(tenant, session_id, roles=("system",), now=now))
    leading = yield from _system_prompt_size(session, said, now=now)
    system = _Systems(said[:leading], said[leading:])
    if not spec.recall or session.user_id is None:
        result = yield from _fitted(session, system, counter, spec, None, now=now)
        if spec.recall:  # an anonymous session has no memories: no block, and the report says so
            result = replace(result, report=replace(result.report, recall_skipped="no user_id"))
        return result
    recall, sources = yield from _recall(session, counter, spec, now=now)
    result = yield from _fitted(session, system, counter, spec, recall, now=now)
    accessed = _sent_memories(result.report, recall, sources)
    if accessed:  # what the prompt sends, not every hit searched
        yield from call_memories(RecordAccess(tenant, accessed, now))
    return result


def _sent_memories(
    report: ctx.ContextReport, recall: ctx.Recall, sources: Mapping[str, str]
) -> tuple[str, ...]:
    """The memories a context sends, each once: the recalled ones, and the source of each
    profile field it gives (the field is that memory's value in the prompt; a field set by
    hand has none). Each counts as accessed, so forgetting keeps what every prompt uses."""
    shown = [key for key in recall.profile if key not in report.profile_dropped]
    given = [sources[key] for key in shown if sources.get(key, EDITED) != EDITED]
    return tuple(dict.fromkeys((*report.recalled, *given)))


def _fitted(
    session: Session,
    system: _Systems,
    counter: TokenCounter,
    spec: ContextSpec,
    recall: ctx.Recall | None,
    *,
    now: datetime,
) -> Flow[ctx.ContextResult]:
    """The context by the strategy, with `recall` in the room it leaves."""
    if spec.strategy == "summary":
        return (yield from _summary_context(session, system, counter, spec, recall, now=now))
    history = yield from _load_history(session, spec, counter, now=now)
    read = system.with_history(history)
    messages = ctx.without_abandoned_calls(read)
    if spec.strategy == "buffer":
        fit = partial(ctx.buffer, messages, counter, tools=spec.tools)
    elif spec.strategy == "window":
        fit = partial(
            ctx.window,
            messages,
            counter,
            last_messages=spec.last_messages,
            last_turns=spec.last_turns,
            tools=spec.tools,
        )
    else:
        fit = partial(
            ctx.token_budget,
            messages,
            counter,
            budget=spec.budget,
            reserve=spec.reserve,
            tools=spec.tools,
        )
    result = _with_taken_out(_without_repeats(fit, recall, spec.recall), read, messages, counter)
    return _with_unread(result, session, read, summarized=False)


def _with_unread(
    result: ctx.ContextResult,
    session: Session,
    read: Sequence[Message],
    *,
    summarized: bool,
    summary_tokens: int = 0,
) -> ctx.ContextResult:
    """`result`, its report also counting the session's messages the flow did not read.

    A context reads only the newest messages it may need, so the strategy saw a tail of the
    history; the session's counters tell how many messages (and tokens, in their stored
    counts) came before it. They were left out: dropped, or, under `summary`, covered by the
    stored summary (which the strategy read as a message of `summary_tokens`). Either way
    `tokens_before` becomes what the whole history costs (under `summary`, the covered
    messages instead of the summary standing for them), so every strategy reports the same
    "before" for one session."""
    count = max(0, session.message_count - len(read))
    tokens = max(0, session.token_count - sum(m.tokens or 0 for m in read))
    if summarized:
        tokens -= summary_tokens
        return ctx.with_unread(result, summarized=count, tokens=tokens)
    return ctx.with_unread(result, dropped=count, tokens=tokens)


def _recall(
    session: Session, counter: TokenCounter, spec: ContextSpec, *, now: datetime
) -> Flow[tuple[ctx.Recall, Mapping[str, str]]]:
    """The profile and the memories most relevant to the newest user message, offered
    within their share of the budget; with the profile's sources (field -> memory id)."""
    assert session.user_id is not None  # context_flow skips recall without one
    op = ListMessages(session.tenant, session.id, last=1, roles=("user",), now=now)
    [newest] = yield from call(op)
    scope = memory_flows.Scope(session.tenant, session.user_id)
    hits: list[MemoryHit] = []
    if newest and not is_blank(newest[0].text):
        # Twice as many as asked: some may only repeat what the prompt says already.
        hits = yield from memory_flows.search_flow(
            scope,
            newest[0].text,
            model_id=spec.embedding_model_id,
            limit=min(2 * spec.recall, MAX_LIMIT),
            filter_fields={},
            weights=spec.ranking,
            now=now,
            record_access=False,  # the context records the memories it sends
            clip_query=True,  # a message may be longer than a query may be
        )
    [profile] = yield from call_memories(GetProfile(session.tenant, session.user_id))
    if profile is not None:  # a profile memory restates its field, which the block gives
        given = set(profile.sources.values())
        hits = [hit for hit in hits if hit.memory.kind != "profile" or hit.memory.id not in given]
    room = ctx.recall_room(
        counter,
        budget=spec.budget,
        reserve=spec.reserve,
        tools_tokens=counter.count_tools(spec.tools) if spec.tools else 0,
        share=spec.recall_share,
    )
    query = newest[0].text if newest else ""  # a long memory is cut to what matches it
    if profile is None:
        return ctx.Recall(room, tuple(hits), query=query), {}
    said = yield from _field_messages(session.tenant, profile.sources, hits)
    recall = ctx.Recall(room, tuple(hits), profile.fields, query=query, field_sources=said)
    return recall, profile.sources


def _field_messages(
    tenant: str, sources: Mapping[str, str], hits: Sequence[MemoryHit]
) -> Flow[dict[str, tuple[str, ...]]]:
    """Field -> the ids of the messages its value was taken from (those of its source
    memory; none for a field set by hand), so that a recalled turn of those messages may
    give the field in the block (`recall_block`). Read only when a turn was recalled."""
    taken = {key: memory_id for key, memory_id in sources.items() if memory_id != EDITED}
    if not taken or not any(hit.memory.kind == "episode" for hit in hits):
        return {}
    [memories] = yield from call_memories(GetMemories(tenant, tuple(taken.values())))
    by_id = {memory.id: memory for memory in memories if memory is not None}
    return {
        key: by_id[memory_id].source_ids for key, memory_id in taken.items() if memory_id in by_id
    }


def _without_repeats(
    fit: Callable[..., ctx.ContextResult], recall: ctx.Recall | None, limit: int
) -> ctx.ContextResult:
    """The context `fit` builds with the best `limit` of the recalled memories that do not
    repeat a message it sends.

    A memory whose every source message is in the prompt (the episode of the newest user
    turn, of a turn the history keeps) only repeats it: it gives its place to the next one,
    and the context is fitted again, until none repeats (each round drops at least one). So
    does one the block had no room for: it takes no slot of `limit`, and the report does not
    call it left out (`recall_dropped`), since the prompt says it anyway.

    The memories that take the places given up make another block, which may push out older
    history (`token_budget`): a memory set aside for repeating a message the context no
    longer sends is offered again, once (so the rounds end), rather than lost from both.
    A memory the block leaves out for restating a profile field it gives (neither kept nor
    dropped: "The user loves sushi" beside "likes: sushi") gives its place up for good."""
    if recall is None:
        return fit(recall=None)
    repeats: set[str] = set()
    restored: set[str] = set()
    restating: set[str] = set()
    while True:
        offered = [hit for hit in recall.hits if hit.memory.id not in repeats | restating]
        offered = offered[:limit]
        result = fit(recall=replace(recall, hits=tuple(offered)))
        sent = {message.id for message in result.messages}
        found = {hit.memory.id for hit in offered if _repeats(hit, sent)}
        placed = {*result.report.recalled, *result.report.recall_dropped}
        restated = {hit.memory.id for hit in offered} - placed - found
        restating |= restated
        if restated and not found:
            continue
        if not found:
            back = {
                hit.memory.id
                for hit in recall.hits
                if hit.memory.id in repeats - restored and not _repeats(hit, sent)
            }
            if not back:
                return result
            repeats -= back
            restored |= back
        repeats |= found


def _load_history(
    session: Session, spec: ContextSpec, counter: TokenCounter, *, now: datetime
) -> Flow[list[Message]]:
    tenant, session_id = session.tenant, session.id
    if spec.strategy == "buffer":
        [everything] = yield from call(ListMessages(tenant, session_id, roles=NON_SYSTEM, now=now))
        return list(everything)
    if spec.last_messages is not None:
        # A few more than asked, so a window that starts inside a tool group can be completed.
        last = spec.last_messages + 8
        op = ListMessages(tenant, session_id, last=last, roles=NON_SYSTEM, now=now)
        [tail] = yield from call(op)
        return (yield from _from_group_start(session, list(tail), now=now))
    return (yield from _load_tail(session, spec, counter, now=now))


def _load_tail(
    session: Session, spec: ContextSpec, counter: TokenCounter, *, now: datetime
) -> Flow[list[Message]]:
    """Newest messages first, in growing pages, until the budget (or turn count) is covered.

    The first page is sized from the session's mean message size, so one read usually does.
    """
    loaded: list[Message] = []
    covered = 0
    page, before = _first_page(session, spec), None
    while True:
        op = ListMessages(
            session.tenant, session.id, last=page, before_seq=before, roles=NON_SYSTEM, now=now
        )
        [chunk] = yield from call(op)
        loaded[:0] = chunk
        covered += _coverage(chunk, spec, counter)
        if len(chunk) < page:
            return loaded
        if covered > _needed(spec):
            loaded = yield from _from_group_start(session, loaded, now=now)
            return (yield from _with_newest_user(session, loaded, now=now))
        before, page = chunk[0].seq, min(page * 2, _MAX_PAGE)


def _from_group_start(
    session: Session, loaded: list[Message], *, now: datetime
) -> Flow[list[Message]]:
    """`loaded`, read further back when it starts with tool results, up to the message
    before them (the assistant message whose calls they answer).

    A tail read may start inside a tool-call group (one call of many tools, a result each).
    The strategies keep or drop a group whole; without its call they would take the
    results read for orphans, to leave out, or, when they are the newest messages, to send
    without the call they answer (which the chat APIs reject)."""
    while loaded and loaded[0].role == "tool":
        op = ListMessages(
            session.tenant,
            session.id,
            last=_MIN_PAGE,
            before_seq=loaded[0].seq,
            roles=NON_SYSTEM,
            now=now,
        )
        [chunk] = yield from call(op)
        if not chunk:
            break
        loaded[:0] = chunk
    return loaded


def _with_newest_user(
    session: Session, loaded: list[Message], *, now: datetime
) -> Flow[list[Message]]:
    """`loaded`, with the newest user message in front when the tail read did not reach it.

    `token_budget` always keeps the newest user message, but in a long agent or tool loop the
    tail that covers the budget holds only the loop's newest steps. The steps between are
    not read: the strategy would drop them anyway, since the tail alone fills the budget."""
    if any(m.role == "user" for m in loaded):
        return loaded
    op = ListMessages(session.tenant, session.id, last=1, roles=("user",), now=now)
    [newest] = yield from call(op)
    return [*newest, *loaded]


def _first_page(session: Session, spec: ContextSpec) -> int:
    if spec.last_turns is not None:
        estimate = 4 * (spec.last_turns + 1)
    else:
        mean = max(1.0, session.token_count / max(1, session.message_count))
        estimate = int(spec.budget / mean)
    return min(_MAX_PAGE, max(_MIN_PAGE, estimate + estimate // 4 + 8))


def _coverage(messages: Sequence[Message], spec: ContextSpec, counter: TokenCounter) -> int:
    if spec.last_turns is not None:
        return sum(m.role == "user" for m in messages)
    return sum(ctx.message_tokens(m, counter) for m in messages)


def _needed(spec: ContextSpec) -> int:
    return spec.last_turns if spec.last_turns is not None else spec.budget


class _Systems(NamedTuple):
    """A session's system messages: its system prompt, said before any other message, and
    the later ones (notes added during the conversation: history like any turn)."""

    prompt: Sequence[Message]
    later: Sequence[Message]

    def with_history(self, history: Sequence[Message]) -> list[Message]:
        """The system prompt and `history` (a tail of it, read in order), with the later
        system messages said within it, in the order they were said; the ones said before
        it are left out with the history not read (dropped, or covered by the summary)."""
        return sorted([*self.prompt, *self.within(history)], key=lambda m: m.seq or 0)

    def within(self, history: Sequence[Message], *, until: int | None = None) -> list[Message]:
        """`history` with the later system messages said after its first message (up to
        seq `until`), in the order they were said."""
        if not history:
            return []
        start, given = history[0].seq or 0, {message.id for message in history}
        end = until if until is not None else float("inf")
        notes = [m for m in self.later if start < (m.seq or 0) <= end and m.id not in given]
        return sorted([*history, *notes], key=lambda m: m.seq or 0)


def _system_prompt_size(session: Session, system: Sequence[Message], *, now: datetime) -> Flow[int]:
    """How many of `system` (the session's system messages, in order) come before its
    first other message: its system prompt, which every context sends.

    A session's seqs count up by one, so the prompt is the run of system messages with
    consecutive seqs from the first: all of it when that one is the session's first message
    (seq 1, or, read to make sure, no other message comes before it), else none."""
    first = (system[0].seq or 0) if system else 0
    run = 0
    while run < len(system) and system[run].seq == first + run:
        run += 1
    if run == 0 or first == 1:
        return run
    op = ListMessages(
        session.tenant, session.id, last=1, before_seq=first, roles=NON_SYSTEM, now=now
    )
    [before] = yield from call(op)
    return 0 if before else run


def _with_taken_out(
    result: ctx.ContextResult,
    read: Sequence[Message],
    given: Sequence[Message],
    counter: TokenCounter,
) -> ctx.ContextResult:
    """`result`, its report listing as dropped the messages read that the strategy was not
    given (`without_abandoned_calls` took them out: no chat API accepts them)."""
    ids = {message.id for message in given}
    out = [message for message in read if message.id not in ids]
    tokens = sum(ctx.message_tokens(message, counter) for message in out)
    return with_dropped(result, [message.id for message in out], tokens=tokens)


_SUMMARY_ATTEMPTS = 3
"""How often `summary` reads, folds and stores the running summary before it settles for a
summary it could not store (another writer kept storing theirs first)."""


class _Unfolded(NamedTuple):
    """The stored summary, the history it does not cover, and the plan over them."""

    summary: Summary | None
    pending: list[Message]
    planned: int
    """The tokens the plan left the recall block (`_planned_block`)."""
    given: list[Message]
    """The messages the plan was given: the system ones and `pending`, abandoned calls out."""
    plan: ctx.SummaryPlan


def _summary_context(
    session: Session,
    system: _Systems,
    counter: TokenCounter,
    spec: ContextSpec,
    recall: ctx.Recall | None,
    *,
    now: datetime,
) -> Flow[ctx.ContextResult]:
    """Summary + buffer, one fold at a time per session, racing other writers safely.

    The newest turns the summary covers fill the room left under the trigger, verbatim
    (`backfill`, which drops the summary when they all fit): a summary made for a small
    budget does not stand in for turns a larger one has room for. The stored summary stays,
    at the largest size asked for (`_summarized`); each context sends its own shortening.

    A context with something to fold first waits for any fold of the session in progress
    (`_fold_turn`), then reads the summary again: two contexts of one chat built at once
    (a web server's concurrent requests) would otherwise both pay for the same fold, where
    the first one's summary usually covers what the second meant to fold. Processes that do
    not share the lock still race: the stored summary is optimistic (`PutSummary` names the
    summary it replaces), so the second to store gets `ConflictError` and starts over from
    the summary the winner stored (nothing left to fold, usually). After
    `_SUMMARY_ATTEMPTS` lost races it sends the summary it made without storing it: the
    prompt is right, the next context folds again.
    """
    replan = partial(_plan_unfolded, session, system, counter, spec, recall, now=now)
    unfolded = yield from replan()
    if unfolded.plan.evict:
        yield from _fold_turn(session)
        unfolded = yield from replan()  # what a fold that held the turn stored
    for attempt in range(1, _SUMMARY_ATTEMPTS + 1):
        summary, pending, planned, given, plan = unfolded
        text = summary.text if summary else None
        if not plan.evict:
            break
        text = yield from _summarized(session, text, plan, counter)
        folded = _folded(session.id, plan, text, counter, now)
        expected = summary.through_seq if summary else None
        try:
            yield from call(PutSummary(session.tenant, folded, expected))
        except ConflictError:  # another process stored a summary since we read ours
            if attempt < _SUMMARY_ATTEMPTS:
                unfolded = yield from replan()
                continue
        break
    older, complete = yield from _covered_tail(session, summary, plan, spec, planned, now=now)
    older = system.within(older, until=summary.through_seq if summary else None)
    read = system.with_history([*older, *pending])
    if not plan.evict:  # the stored summary (`backfill` fits it to this context)
        text = summary.text if summary else None
    plan, text = backfill(
        plan,
        ctx.without_abandoned_calls(older),
        counter,
        summary_text=text,
        budget=spec.budget - planned,
        reserve=spec.reserve,
        tools=spec.tools,
        trigger=spec.trigger,
        complete=complete,
    )
    given = ctx.without_abandoned_calls(read)
    fit = partial(
        ctx.assemble_summary,
        plan,
        counter,
        summary_text=text,
        budget=spec.budget,
        reserve=spec.reserve,
        tools=spec.tools,
    )
    result = _with_taken_out(_without_repeats(fit, recall, spec.recall), read, given, counter)
    return _with_unread(result, session, read, summarized=True, summary_tokens=plan.summary_tokens)


def _plan_unfolded(
    session: Session,
    system: _Systems,
    counter: TokenCounter,
    spec: ContextSpec,
    recall: ctx.Recall | None,
    *,
    now: datetime,
) -> Flow[_Unfolded]:
    """Read the stored summary and the history it does not cover, and plan the fold.

    The plan leaves the recall block the room it would take (`_planned_block`): otherwise
    the block would push out history the plan meant to keep, dropped instead of summarised;
    nor more, or it would fold history that fits."""
    summary, pending = yield from _unfolded(session, now=now)
    planned = _planned_block(recall, pending, spec.recall, counter)
    given = ctx.without_abandoned_calls(system.with_history(pending))
    plan = ctx.plan_summary(
        given,
        counter,
        budget=spec.budget - planned,
        reserve=spec.reserve,
        tools=spec.tools,
        summary=summary,
        trigger=spec.trigger,
        target=spec.target,
    )
    return _Unfolded(summary, pending, planned, given, plan)


def _fold_turn(session: Session) -> Flow[None]:
    """Wait for any fold of `session`'s summary in progress, then hold the turn until the
    context flow ends (a failing fold ends it too).

    This process's contexts of the session take turns, on any thread or event loop
    (`ScopeLocks`); so do other processes' where the memory store holds keys across
    processes (SQLite, PostgreSQL: `ScopeHold`). Without a memory store (Redis) the turn is
    this process's, and `PutSummary`'s compare-and-set orders the other processes' folds."""
    logger.debug("session %r: waiting for any fold of its summary in progress", session.id)
    yield Serialize((repr(("summary", session.tenant, session.id)),))


_VERBATIM_SLACK = 2.0
"""`_covered_tail` reads covered turns until their stored counts (in the session's encoding)
pass this many times the room: the model's tokenizer may count them fewer."""


def _covered_tail(
    session: Session,
    summary: Summary | None,
    plan: ctx.SummaryPlan,
    spec: ContextSpec,
    planned: int,
    *,
    now: datetime,
) -> Flow[tuple[list[Message], bool]]:
    """The newest messages the stored `summary` covers, oldest first, read newest first in
    growing pages until their stored counts pass what the trigger leaves room for; and
    whether they are all of them (`backfill` sends them verbatim, newest first)."""
    if summary is None or summary.through_seq < 1:
        return [], True
    goal = spec.trigger * (spec.budget - planned - spec.reserve)
    room = _VERBATIM_SLACK * max(0.0, goal - plan.tokens + plan.summary_tokens)
    mean = max(1.0, session.token_count / max(1, session.message_count))
    page = min(_MAX_PAGE, max(_MIN_PAGE, int(room / mean) + 8))
    loaded: list[Message] = []
    stored, before = 0, summary.through_seq + 1
    while True:
        op = ListMessages(
            session.tenant, session.id, last=page, before_seq=before, roles=NON_SYSTEM, now=now
        )
        [chunk] = yield from call(op)
        loaded[:0] = chunk
        if len(chunk) < page:
            return loaded, True
        stored += sum(m.tokens or 0 for m in chunk)
        if stored > room:
            return (yield from _from_group_start(session, loaded, now=now)), False
        before, page = chunk[0].seq, min(page * 2, _MAX_PAGE)


def _summarized(
    session: Session, previous: str | None, plan: ctx.SummaryPlan, counter: TokenCounter
) -> Flow[str]:
    """`plan.evict` folded into `previous`, in one `SummarizeCall`, never asked again.

    The fold is asked for `plan.fold_tokens`, not this context's room: the stored summary
    keeps the largest size any context asked for (at least `STORED_SUMMARY_TOKENS`), and
    each context sends it shortened to its own room, deterministically (`fit_summary`). A
    context at a small budget thus costs no fold of its own and shrinks nothing a larger
    one sends; with an LLM summarizer, each fold asks for that larger size (one request,
    as before, but a longer reply).

    The room is measured for this context's model; the summarizer bounds its summary in
    its own tokens, which the built-in ones count in the Engram's encoding (the session's,
    unless the setting changed since the session was opened).
    So it is asked for the room in those tokens (`summarizer_room`); a summary still over
    it (another tokenizer, a text unlike the sample) is cut at a sentence end by
    `assemble_summary`, keeping its newest sentences, rather than folded again: each fold
    is one paid request (two when the model overshoots its own bound, see `LLMSummarizer`)."""
    evict = tuple(plan.evict)
    room = plan.fold_tokens
    if session.encoding != counter.encoding:
        sample = "\n".join([previous or "", *(message.text for message in evict)])
        own = TokenCounter.for_encoding(session.encoding).count_text
        room = summarizer_room(room, sample, counter, own)
    text: str = yield SummarizeCall(previous, evict, room)
    return text


def _repeats(hit: MemoryHit, sent: set[str]) -> bool:
    """Whether a recalled memory only repeats messages the prompt sends (every one of its
    sources is among `sent`)."""
    return bool(hit.memory.source_ids) and sent.issuperset(hit.memory.source_ids)


def _planned_block(
    recall: ctx.Recall | None, pending: Sequence[Message], limit: int, counter: TokenCounter
) -> int:
    """The tokens to plan for the recall block: the block of the best `limit` memories
    (what `_without_repeats` offers first; recall searched twice as many), less those that
    only repeat the current turn (the newest user message and what follows it, which a
    summary never folds, so the context always sends)."""
    if recall is None:
        return 0
    users = [i for i, message in enumerate(pending) if message.role == "user"]
    current = {message.id for message in pending[users[-1] :]} if users else set()
    hits = [hit for hit in recall.hits if not _repeats(hit, current)]
    return ctx.recall_block(replace(recall, hits=tuple(hits[:limit])), counter).tokens


def _unfolded(session: Session, *, now: datetime) -> Flow[tuple[Summary | None, list[Message]]]:
    """The stored summary and the history it does not cover yet."""
    tenant, session_id = session.tenant, session.id
    [summary] = yield from call(GetSummary(tenant, session_id, now))
    after = summary.through_seq if summary else None
    op = ListMessages(tenant, session_id, after_seq=after, roles=NON_SYSTEM, now=now)
    [pending] = yield from call(op)
    return summary, list(pending)


def _folded(
    session_id: str, plan: ctx.SummaryPlan, text: str, counter: TokenCounter, now: datetime
) -> Summary:
    """The running summary once `plan.evict` is folded into it, as `text`."""
    return Summary(
        session_id=session_id,
        text=text,
        through_seq=max(m.seq or 0 for m in plan.evict),
        message_count=(plan.summary.message_count if plan.summary else 0) + len(plan.evict),
        tokens=counter.count_text(text),
        updated_at=now,
    )


def delete_user_sessions_flow(tenant: str, user_id: str, *, now: datetime) -> Flow[int]:
    """Delete every session of a user (messages, summaries, state): the live ones, and the
    expired ones not purged yet (with the tenant's other expired sessions); return how many
    live ones."""
    deleted = 0
    while True:
        [sessions] = yield from call(ListSessions(tenant, now, user_id, limit=500))
        gone = yield from call(*(DeleteSession(tenant, session.id) for session in sessions))
        if not any(gone):
            yield from call(PurgeExpired(tenant, now))
            return deleted
        deleted += sum(1 for existed in gone if existed)


def export_flow(tenant: str, session_id: str, *, now: datetime) -> Flow[dict[str, Any]]:
    """A session with its messages and summary, as JSON-ready data (`NotFoundError`, from
    the clocked reads, if the session is absent or expired)."""
    session, messages, summary = yield from call(
        GetSession(tenant, session_id, now),
        ListMessages(tenant, session_id, now=now),
        GetSummary(tenant, session_id, now),
    )
    return {
        "format": EXPORT_FORMAT,
        "session": session.to_dict(),
        "messages": [m.to_dict() for m in messages],
        "summary": summary.to_dict() if summary else None,
    }


def _counted(counter: TokenCounter, messages: Sequence[Message]) -> tuple[Message, ...]:
    """`messages` with their tokens counted by `counter`, whatever they say."""
    return tuple(
        copy_record(m, tokens=counter.count_message(m), encoding=counter.encoding) for m in messages
    )


def import_flow(
    data: Mapping[str, Any], *, tenant: str, session_id: str | None, max_bytes: int, now: datetime
) -> Flow[Session]:
    """Recreate an exported session in `tenant`, atomically (all of it or nothing).

    Token counts are counted again, not taken from the file: the budget of every context
    rests on them, and an export is untrusted input. Its tool results must follow their
    calls as `add_flow` has them (only other results and system messages between)."""
    session, messages, summary = _parse_export(data, tenant=tenant, session_id=session_id)
    _check_session(session, summary, max_bytes=max_bytes)
    _check_messages(messages, max_bytes=max_bytes, prefix=_MALFORMED)
    counter = TokenCounter.for_encoding(session.encoding)
    messages = _counted(counter, messages)
    if summary is not None:
        summary = replace(summary, tokens=counter.count_text(summary.text))
    if unanswered_tool_calls(messages):
        raise InvalidInputError("the export holds tool results without their tool calls")
    if late := _late_results(messages, set()):
        raise InvalidInputError(
            "the export holds tool results that come too late for their call (the "
            "conversation went on after it): " + ", ".join(sorted(set(late)))
        )
    # Restored now: an expiring session lives its TTL from the import (an export of a
    # session that has expired since would otherwise be refused as absent).
    fresh = replace(session, message_count=0, token_count=0, updated_at=now, expires_at=None)
    ops: list[Any] = [CreateSession(fresh), AppendMessages(tenant, fresh.id, messages, now)]
    if summary is not None:
        ops.append(PutSummary(tenant, replace(summary, session_id=fresh.id), None))
    yield from call(*ops)
    [stored] = yield from call(GetSession(tenant, fresh.id, now))
    result: Session = stored
    return result


def _parse_export(
    data: Mapping[str, Any], *, tenant: str, session_id: str | None
) -> tuple[Session, tuple[Message, ...], Summary | None]:
    check_export_format(data, EXPORT_FORMAT)
    raw_session = _exported(data.get("session"), "session", _SESSION_FIELDS)
    session = _parsed(Session.from_dict, raw_session, "session")
    listed = data.get("messages")
    if not isinstance(listed, list | tuple):
        raise InvalidInputError(
            f"{_MALFORMED}: messages must be a list of messages, not {type(listed).__name__}"
        )
    raws = [_exported(m, f"messages[{i}]", _MESSAGE_FIELDS) for i, m in enumerate(listed)]
    ordered = sorted(enumerate(raws), key=lambda item: item[1].get("seq") or 0)
    messages = tuple(_parsed(Message.from_dict, m, f"messages[{i}]") for i, m in ordered)
    raw_summary = data.get("summary")
    summary = None
    if raw_summary:
        raw_summary = _exported(raw_summary, "summary", _SUMMARY_FIELDS)
        summary = _parsed(Summary.from_dict, raw_summary, "summary")
    _check_unique(messages)
    if summary is not None and not _is_count(summary.through_seq):
        raise InvalidInputError(
            f"the summary's through_seq must be a count >= 0, got {summary.through_seq!r}"
        )
    chosen = check_identifier(session.id if session_id is None else session_id, "session id")
    session = replace(session, tenant=tenant, id=chosen)
    # Stored seqs are renumbered 1..n on import; the summary's boundary follows its message.
    renumbered = {m.seq: index for index, m in enumerate(messages, start=1)}
    if summary is not None:
        through = max(
            (s for s in renumbered if s is not None and s <= summary.through_seq), default=None
        )
        summary = replace(summary, through_seq=renumbered.get(through, 0))
    # A copy under a new id gets new message ids (ids are unique within a tenant).
    renamed = session_id is not None and session_id != raw_session["id"]
    stripped = tuple(
        replace(m, seq=None, session_id=None, id=new_id() if renamed else m.id) for m in messages
    )
    return session, stripped, summary


_MALFORMED = "malformed session export"

_TEXT, _COUNT, _NUMBER, _OBJECT, _LIST = "text", "an integer", "a number", "an object", "a list"
_TIME = "an ISO-8601 time"
_CHECKS: dict[str, tuple[type | tuple[type, ...], ...]] = {
    _TEXT: (str,),
    _TIME: (str, datetime),
    _COUNT: (int,),
    _NUMBER: (int, float),
    _OBJECT: (Mapping,),
    _LIST: (list, tuple),
}
"""What each kind of field of an export must be (None aside, where a field may be absent)."""

_SESSION_FIELDS = {
    "id": (_TEXT, True),
    "created_at": (_TIME, True),
    "updated_at": (_TIME, True),
    "user_id": (_TEXT, False),
    "agent_id": (_TEXT, False),
    "metadata": (_OBJECT, False),
    "state": (_OBJECT, False),
    "ttl_seconds": (_NUMBER, False),
    "expires_at": (_TIME, False),
    "message_count": (_COUNT, False),
    "token_count": (_COUNT, False),
    "encoding": (_TEXT, False),
}
_MESSAGE_FIELDS = {
    "id": (_TEXT, True),
    "role": (_TEXT, True),
    "created_at": (_TIME, True),
    "content": ("text or a list of content parts", False),
    "name": (_TEXT, False),
    "tool_calls": (_LIST, False),
    "tool_call_id": (_TEXT, False),
    "metadata": (_OBJECT, False),
    "seq": (_COUNT, False),
    "tokens": (_COUNT, False),
}
_SUMMARY_FIELDS = {
    "session_id": (_TEXT, True),
    "text": (_TEXT, True),
    "through_seq": (_COUNT, True),
    "updated_at": (_TIME, True),
    "message_count": (_COUNT, False),
    "tokens": (_COUNT, False),
}
"""Each record's fields an import reads: what each must be, and whether it is required (as
`to_dict` writes every one, an export has them all)."""


def _exported(
    value: object, where: str, fields: Mapping[str, tuple[str, bool]]
) -> Mapping[str, Any]:
    """`value`, the export's record at `where`, checked to be an object whose `fields` have
    their kind (`InvalidInputError` naming the field and what it must be)."""
    if not isinstance(value, Mapping):
        raise InvalidInputError(
            f"{_MALFORMED}: {where} must be an object, not {type(value).__name__}"
        )
    for name, (kind, required) in fields.items():
        field_value = value.get(name)
        if field_value is not None:
            _check_field(field_value, f"{where}: {name}", kind)
        elif required:
            raise InvalidInputError(f"{_MALFORMED}: {where}: {name} is missing ({kind})")
    return value


def _check_field(value: Any, where: str, kind: str) -> None:
    """Refuse the export's field `value` at `where` unless it is of `kind` (`_CHECKS`; a
    time, one `parse_time` reads)."""
    if isinstance(value, bool) or not isinstance(value, _CHECKS.get(kind, (str, list, tuple))):
        raise InvalidInputError(f"{_MALFORMED}: {where} must be {kind}, not {value!r:.100}")
    if kind == _TIME and isinstance(value, str):
        try:
            parse_time(value)
        except InvalidInputError as exc:
            raise InvalidInputError(
                f"{_MALFORMED}: {where} is not an ISO-8601 time: {value!r:.100}"
            ) from exc


def _parsed(parse: Callable[[Mapping[str, Any]], Any], value: Mapping[str, Any], where: str) -> Any:
    """The record `parse` makes of the export's `value` at `where`; its `InvalidInputError`
    (a bad time, tool call or content part) names `where`."""
    try:
        return parse(value)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{_MALFORMED}: {where}: {exc}") from exc
    except (AttributeError, KeyError, TypeError, ValueError) as exc:  # a field `_exported`
        # does not check, of a shape no export has
        raise InvalidInputError(f"{_MALFORMED}: {where}: {exc!r}") from exc


def _check_unique(messages: Sequence[Message]) -> None:
    """Refuse an export holding two messages of one id (the store would refuse the append
    as a conflict, naming neither) or of one seq (their order would be a guess)."""
    for what in ("id", "seq"):
        if repeat := first_repeat(getattr(message, what) for message in messages):
            index, first = repeat
            raise InvalidInputError(
                f"malformed session export: messages[{index}] repeats the {what} "
                f"{getattr(messages[index], what)!r} of messages[{first}] (in seq order)"
            )


def _check_session(session: Session, summary: Summary | None, *, max_bytes: int) -> None:
    """Check what the import stores besides the messages as `Engram.session` and the
    summarizer would have it: a user and agent id, a summary no larger than a message."""
    for what in ("user_id", "agent_id"):
        if (value := getattr(session, what)) is not None:
            check_identifier(value, f"the session's {what}")
    check_json_object(session.metadata, "the session's metadata")
    check_json_object(session.state, "the session's state", max_bytes=None)
    if summary is not None:
        check_text(summary.text, "the summary's text", max_bytes=max_bytes)
