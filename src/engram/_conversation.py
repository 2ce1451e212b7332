"""`Conversation`: a handle on one session, with paired sync and async methods."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from engram import _session_flows as flows
from engram._exceptions import InvalidInputError, NotFoundError
from engram._flows import Flow, arun, call, run
from engram._memory_flows.scope import Scope
from engram._validation import (
    MessageLike,
    check_json_object,
    message_from,
    to_message,
)
from engram.context import ContextResult
from engram.stores.conversation import DeleteSession, GetSession, ListMessages, MergeState
from engram.tokens import TokenCounter, context_window
from engram.types import Message, Session, Summary, utcnow

if TYPE_CHECKING:
    from engram._engram import Engram

__all__ = ["Conversation"]


class Conversation:
    """One session's conversation: add messages, read them, build a context for the model.

    Get one from `Engram.session()`; every method has an `a`-prefixed async twin.

    Example:
        ```python
        s = mem.session("s1", user_id="u1")
        s.add("user", "I'm vegetarian, and I'm flying to Lisbon on 3 May.")
        result = s.context(model="gpt-4o", budget=4000, strategy="summary")
        openai_messages = result.to_openai()
        ```
    """

    def __init__(self, engram: Engram, session: Session) -> None:
        self._engram = engram
        self._session = session

    @property
    def id(self) -> str:
        return self._session.id

    @property
    def tenant(self) -> str:
        return self._session.tenant

    def __repr__(self) -> str:
        return f"Conversation(id={self.id!r}, tenant={self.tenant!r})"

    def _run(self, flow: Flow[Any]) -> Any:
        return run(flow, self._engram.resources)

    async def _arun(self, flow: Flow[Any]) -> Any:
        return await arun(flow, self._engram.resources)

    # Writing.

    def add(self, role: str, content: Any = "", **fields: Any) -> Message:
        """Append one message and return it as stored (with `seq` and `tokens`).

        Args:
            role: `system`, `user`, `assistant` or `tool`.
            content: Text (or UTF-8 bytes), or content parts.
            **fields: `name`, `tool_calls` (ToolCall or OpenAI dicts), `tool_call_id`,
                `metadata`, `created_at` (a datetime or an ISO-8601 string; naive is UTC),
                `id`; and what an OpenAI SDK reply's `model_dump()` holds: `refusal` (kept
                as a refusal part), `annotations` (kept in the metadata), `audio` and
                `function_call` (refused unless empty).

        Raises:
            InvalidInputError: Unknown role, a tool result answering no call of this session,
                NUL characters or invalid UTF-8, a message over the size limit, a `created_at` that
                is not a time. Nothing is stored.
            NotFoundError: The session expired or was deleted.
        """
        return self.add_messages([message_from(role, content, fields)])[0]

    async def aadd(self, role: str, content: Any = "", **fields: Any) -> Message:
        """Async `add`."""
        return (await self.aadd_messages([message_from(role, content, fields)]))[0]

    def add_messages(self, messages: Sequence[MessageLike]) -> list[Message]:
        """Append several messages atomically (all or none); accepts OpenAI-style dicts.

        Raises:
            InvalidInputError: `messages` is not a list (one message alone too: pass
                [message]), or a message is invalid (see `add`). Nothing is stored.
            NotFoundError: The session expired or was deleted.
        """
        result: list[Message] = self._run(self._add_flow(messages))
        return result

    async def aadd_messages(self, messages: Sequence[MessageLike]) -> list[Message]:
        """Async `add_messages`."""
        result: list[Message] = await self._arun(self._add_flow(messages))
        return result

    def _add_flow(self, messages: Sequence[MessageLike]) -> Flow[list[Message]]:
        # One message (its keys or letters would be read as messages), None or a number.
        if isinstance(messages, Mapping | Message | str) or not isinstance(messages, Iterable):
            raise InvalidInputError(
                f"add_messages takes a list of messages, not {type(messages).__name__}: "
                "pass [message], or add() one"
            )
        parsed = [to_message(item) for item in messages]
        limit = self._engram.settings.max_message_bytes
        return flows.add_flow(self._session, parsed, max_bytes=limit, now=utcnow())

    def update_state(self, patch: Mapping[str, Any]) -> dict[str, Any]:
        """Merge `patch` into the session state (RFC 7396: null deletes); return the new state.

        Raises:
            InvalidInputError: `patch` is not a JSON object (a mapping with string keys of
                JSON values, its text valid UTF-8); the error names the bad place.
            NotFoundError: The session expired or was deleted.
        """
        result: dict[str, Any] = self._run(self._state_flow(patch))
        return result

    async def aupdate_state(self, patch: Mapping[str, Any]) -> dict[str, Any]:
        """Async `update_state`."""
        result: dict[str, Any] = await self._arun(self._state_flow(patch))
        return result

    def _state_flow(self, patch: Mapping[str, Any]) -> Flow[dict[str, Any]]:
        op = MergeState(self.tenant, self.id, _json_object(patch), utcnow())
        [state] = yield from call(op)
        return dict(state)

    def delete(self) -> bool:
        """Delete the session, its messages, summary and state."""
        return bool(self._engram.store.batch([DeleteSession(self.tenant, self.id)])[0])

    async def adelete(self) -> bool:
        """Async `delete`."""
        return bool((await self._engram.store.abatch([DeleteSession(self.tenant, self.id)]))[0])

    # Reading.

    def info(self) -> Session:
        """The session record, fresh from the store (counts, state, expiry)."""
        result: Session = self._run(self._info_flow())
        return result

    async def ainfo(self) -> Session:
        """Async `info`."""
        result: Session = await self._arun(self._info_flow())
        return result

    def _info_flow(self) -> Flow[Session]:
        [session] = yield from call(GetSession(self.tenant, self.id, utcnow()))
        if session is None:
            raise NotFoundError(f"no session {self.id!r} in tenant {self.tenant!r}")
        self._session = session
        result: Session = session
        return result

    def state(self) -> dict[str, Any]:
        """The session state."""
        return dict(self.info().state)

    def messages(self, *, last: int | None = None) -> list[Message]:
        """The stored messages, oldest first; `last=N` for the newest N only.

        Raises:
            NotFoundError: The session expired or was deleted.
        """
        return self._engram.store.list_messages(self._messages_op(last))

    async def amessages(self, *, last: int | None = None) -> list[Message]:
        """Async `messages`."""
        return await self._engram.store.alist_messages(self._messages_op(last))

    def _messages_op(self, last: int | None) -> ListMessages:
        return ListMessages(self.tenant, self.id, last=last, now=utcnow())

    def summary(self) -> Summary | None:
        """The running summary, if one has been made.

        Raises:
            NotFoundError: The session expired or was deleted.
        """
        return self._engram.store.get_summary(self.tenant, self.id, now=utcnow())

    async def asummary(self) -> Summary | None:
        """Async `summary`."""
        return await self._engram.store.aget_summary(self.tenant, self.id, now=utcnow())

    def export(self) -> dict[str, Any]:
        """The session, its messages and summary as JSON-ready data (`Engram.import_session`)."""
        result: dict[str, Any] = self._run(flows.export_flow(self.tenant, self.id, now=utcnow()))
        return result

    # The context.

    def context(self, model: str = "gpt-4o", **options: Any) -> ContextResult:
        """Build the prompt for the next turn, within the token budget.

        Args:
            model: The model the prompt is for (selects the tokenizer and default budget).
            **options: `strategy` (`token_budget` (default), `summary`, `window`, `buffer`),
                `budget` (default: the model's context window), `reserve` (tokens kept for the
                reply), `tools` (OpenAI tool schemas, counted), `last_messages`/`last_turns`
                (window), `trigger`/`target` (summary), `encoding` (override the tokenizer),
                `recall` (bring up to N long-term memories of the session's user and their
                profile into the prompt, within `recall_share` of it; default 0: they give
                way to the system prompt, the newest turn and the summary, and the report
                lists what did not fit in `recall_dropped` and `profile_dropped`; a session
                without a user_id gets none, and the report's `recall_skipped` says so).

        Returns:
            The messages to send (`.to_openai()`) and a report of what was kept, dropped,
            summarised and truncated, with token totals before and after.

        Raises:
            BudgetExceededError: The system prompt and the newest user message cannot fit.
            InvalidInputError: A bad budget, reserve or strategy.
        """
        counter, spec = _context_spec(model, options, self._engram)
        result: ContextResult = self._run(self._context_flow(counter, spec))
        return result

    async def acontext(self, model: str = "gpt-4o", **options: Any) -> ContextResult:
        """Async `context`."""
        counter, spec = _context_spec(model, options, self._engram)
        result: ContextResult = await self._arun(self._context_flow(counter, spec))
        return result

    def _context_flow(self, counter: TokenCounter, spec: flows.ContextSpec) -> Flow[ContextResult]:
        """The context flow; with recall, first the id of the vectors it searches (an embedder
        yet to learn its dimension learns it through the driver, as the memory API does)."""
        if spec.recall and self._session.user_id is not None:
            memories = self._engram.memories
            model_id = yield from memories._model_id()
            scope = Scope(self.tenant, self._session.user_id)
            yield from memories.ensure_embedded(scope, model_id)  # after an embedder change
            spec = replace(spec, embedding_model_id=model_id)
        result: ContextResult = yield from flows.context_flow(
            self.tenant, self.id, counter, spec, now=utcnow()
        )
        return result


def _context_spec(
    model: str, options: dict[str, Any], engram: Engram
) -> tuple[TokenCounter, flows.ContextSpec]:
    if not isinstance(model, str) or not model:
        raise InvalidInputError(f"model must be a model name, got {model!r}")
    encoding = options.pop("encoding", None)
    counter = TokenCounter.for_encoding(encoding) if encoding else _model_counter(model, options)
    if "budget" not in options:
        window = context_window(model)
        if window is None:
            raise InvalidInputError(f"no known context window for {model!r}; pass budget=")
        options["budget"] = window
    if "tools" in options:
        tools = options["tools"]
        if tools is not None and (
            isinstance(tools, str | Mapping) or not isinstance(tools, Iterable)
        ):
            raise InvalidInputError(f"tools must be a list of tool schemas, got {tools!r}")
        options["tools"] = tuple(tools or ())
    options["ranking"] = engram.ranking
    try:
        return counter, flows.ContextSpec(**options)
    except TypeError as exc:
        raise InvalidInputError(f"bad context option: {exc}") from exc


def _model_counter(model: str, options: Mapping[str, Any]) -> TokenCounter:
    """The counter of `model`'s tokenizer; for a model it does not know, an error that says
    what to pass to `context()` instead (a tokenizer by name, and the budget, whose default
    is the model's context window)."""
    try:
        return TokenCounter.for_model(model)
    except InvalidInputError as exc:
        budget = "" if "budget" in options else " and budget= (its context window)"
        raise InvalidInputError(
            f"unknown model {model!r}: cannot tell which tokenizer it uses. Pass "
            f"encoding='o200k_base' (GPT-4o and later; an approximation for other models' "
            f"tokenizers) or encoding='cl100k_base' (GPT-4, GPT-3.5){budget}, e.g. "
            f"session.context(model={model!r}, encoding='o200k_base', budget=100_000)."
        ) from exc


def _json_object(patch: object) -> dict[str, Any]:
    """A state patch as every backend stores it: a JSON object (RFC 7396 would let any other
    value replace the state, but the state is an object) with text keys and valid UTF-8 text
    (`check_json_object`: a number key, which a database would turn into text, is refused as
    the memory API's metadata refuses it). Round-tripping it through JSON detaches it from the
    caller's objects."""
    copied: dict[str, Any] = json.loads(
        json.dumps(check_json_object(patch, "state patch", max_bytes=None))
    )
    return copied
