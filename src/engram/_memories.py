"""`Memories`: long-term memory of an `Engram`, with paired sync and async methods."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from engram import _memory_flows as flows
from engram import _memory_transfer as transfer
from engram._exceptions import ConfigError, InvalidInputError, NotFoundError, ProviderError
from engram._flows import Flow, arun, call_memories, embed, run, serialized
from engram._memory_flows.edits import edit_reason
from engram._memory_flows.graph import caught_up, user_names, values_to_come
from engram._memory_flows.scope import every_memory
from engram._memory_flows.upkeep import REEMBED_BATCH, reembed_stale_flow, stale_scope
from engram._validation import (
    CLOCK_SKEW,
    MessageLike,
    check_as_of,
    check_count,
    check_flag,
    check_identifier,
    check_json_object,
    check_mapping,
    check_messages,
    check_profile_fields,
    check_text,
    check_time_bound,
    check_time_window,
    is_blank,
    to_message,
)
from engram.memory import Candidate, ExtractionBudget, Forget, ForgettingPolicy, edit_profile
from engram.memory.candidates import ENGRAM_METADATA_KEYS
from engram.memory.entities import named_entities
from engram.memory.profile import profile_at
from engram.memory.texts import dense_text
from engram.providers._embeddings import known_dimension
from engram.stores._cache import BoundedCache
from engram.stores._memory_rules import json_copy
from engram.stores.memories import (
    ErasureReport,
    GetHistory,
    GetMemories,
    GetProfile,
    ListEntities,
    ListMemories,
    ListRelations,
    ListUsers,
    MemoryFilter,
    PutMemories,
    PutProfile,
    VectorRecord,
)
from engram.types import Message, utcnow
from engram.types._memory import (
    MEMORY_KINDS,
    Entity,
    Memory,
    MemoryChange,
    MemoryHit,
    MemoryKind,
    Relation,
    UserProfile,
)

if TYPE_CHECKING:
    from engram._engram import Engram

__all__ = ["Memories"]

logger = logging.getLogger("engram")
T = TypeVar("T")
_CHECKED = 100_000
"""The scopes a `Memories` remembers as embedded by the model (`ensure_embedded`)."""
_PROBE = "dimension probe"


class Memories:
    """Remember facts, preferences and episodes about users; recall the relevant ones.

    The per-request operations (`add`, `search`, `get`, `get_all`, `update`, `delete`,
    `history`, `delete_all`, `export`, `import_`, `entities`, `relations`, `profile`,
    `update_profile`) and the maintenance jobs (`consolidate`, `bloat`, `forget`,
    `forgettable`, `reembed`) have `a`-prefixed async twins. Scope every call with
    `user_id` (and/or `agent_id`, `session_id`); the tenant is the `Engram`'s. As mem0's
    filters, a scope selects the memories that match every id it gives, and an id left out
    matches any: a user's reads find the user's memories of every agent and session, an
    agent's reads its own (stored without a user) and those of every user it was told. The
    upkeep of a scope without a user (`consolidate`, `bloat`, `forget`) keeps to its own:
    what a user told an agent is the user's, kept up with the user's.

    A write reads what is stored (similar memories, the profile, entities), decides, and
    writes. The writes of one user (`add`, `update`, `delete`, `delete_all`, `update_profile`,
    `import_`, `consolidate`, `forget`) therefore run one at a time in this `Engram`, from
    tasks, threads or both; writes of other users, and reads, run side by side. From a
    coroutine, call the async twins: a blocking write waiting for a task of its own event
    loop raises `RuntimeError` instead of deadlocking.

    Writers in other processes (or other `Engram`s over the same database) take the same
    per-user locks: record locks on a `-engram-locks` file beside a SQLite database (not on
    Windows, where only the locks of one process remain), advisory locks on PostgreSQL. So
    worker processes writing for one user at the same moment store a fact once and leave one
    current value of a slot. The writes of scopes without a `user_id` share one lock of the
    tenant.

    Example:
        ```python
        mem.memories.add(messages=[Message(role="user", content="I moved to Lisbon")],
                         user_id="ana")
        for hit in mem.memories.search("where does Ana live?", user_id="ana"):
            print(hit.memory.text, hit.parts)
        ```
    """

    def __init__(self, engram: Engram) -> None:
        self._engram = engram
        self._embedded: BoundedCache[tuple[flows.Scope, str], None] = BoundedCache(_CHECKED)
        """The scopes (`stale_scope`) and model ids whose memories a search of this Engram
        found embedded by the model, or re-embedded (`ensure_embedded`)."""

    def _run(self, flow: Flow[Any]) -> Any:
        return run(flow, self._engram.resources)

    async def _arun(self, flow: Flow[Any]) -> Any:
        return await arun(flow, self._engram.resources)

    def _scope(
        self, user_id: str | None, agent_id: str | None = None, session_id: str | None = None
    ) -> flows.Scope:
        if user_id is None and agent_id is None and session_id is None:
            raise InvalidInputError("scope memories with user_id, agent_id or session_id")
        for value, what in (
            (user_id, "user_id"),
            (agent_id, "agent_id"),
            (session_id, "session_id"),
        ):
            if value is not None:
                check_identifier(value, what)
        return flows.Scope(self._engram.tenant, user_id, agent_id, session_id)

    def _model_id(self) -> Flow[str]:
        """The id of this Engram's vectors (`Engram.embedding_model_id`). An embedder yet to
        learn its dimension (`OpenAIEmbedder(dimension=None)`) first embeds one text through
        the driver, so the async API awaits it instead of sending a blocking request."""
        if known_dimension(self._engram.embedder) is None:
            self._engram.resources.memory_store()  # no store: fail before the request
            yield from embed([_PROBE], tenant=self._engram.tenant)
        return self._engram.embedding_model_id

    def _with_model_id(self, flow: Callable[..., Flow[T]]) -> Flow[T]:
        """`flow(model_id=...)` with this Engram's vectors' id."""
        model_id = yield from self._model_id()
        result: T = yield from flow(model_id=model_id)
        return result

    # Adding.

    def add(
        self,
        text: str | None = None,
        *,
        messages: Sequence[MessageLike] = (),
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        user_name: str | None = None,
        infer: bool = True,
        kind: str = "fact",
        importance: float = 0.5,
        metadata: Mapping[str, Any] | None = None,
        pinned: bool = False,
        max_llm_calls: int = 2,
        max_llm_tokens: int = 4000,
    ) -> flows.AddReport:
        """Remember `text`, or what `messages` say, revising what is already known.

        Args:
            text: A memory of the user, to extract facts from (kept as an episode too), or
                to store as is (`infer=False`). Without an LLM, it is read as the user
                saying it: "The user lives in Paris", "User is vegetarian", "<user_name>
                lives in Paris" and mem0's subject-less facts ("Lives in Paris", "Name is
                Alex", "Allergic to nuts") as "I live in Paris", ..., so they fill the
                user's slots (profile fields) and a later "I moved to Rome" supersedes
                them. A text naming someone else ("Marta lives in Madrid") stays about
                them; one naming the user further on is read as it is.
            messages: Conversation turns to extract memories from, as `Message`s or
                OpenAI-style dicts (each turn is also kept as an episode; provenance points
                at the message ids). A naive `created_at` is taken as UTC; one more than a
                day after now is refused (the day allows for a sender's clock running
                ahead): what a message says holds from when it was said, and the current
                memories and profile say only what holds now.
            user_id, agent_id, session_id: The scope (at least one).
            user_name: The user's name, so facts about others are told apart.
            infer: Extract and revise (default); False stores `text` verbatim and each
                message as its episode only, with no fact or profile field extracted (still
                deduplicated against what is stored): such a text fills no slot, so nothing
                said later supersedes it. To have a memory's text fill the profile and be
                revised (mem0's `infer=False` facts included), add it with `infer=True`.
            kind, importance: For `text` stored as is (extraction sets its own); checked
                whether used or not.
            metadata: Merged into every new memory's metadata; it may not name Engram's
                own keys (`ENGRAM_METADATA_KEYS`: `value`, `speaker`, `context`, ...).
            pinned: New memories are pinned: forgetting policies leave them alone.
            max_llm_calls, max_llm_tokens: What this add may spend on the LLM, if one is
                configured (prompt and reply tokens); past it, the deterministic path.

        Raises:
            InvalidInputError: No scope, nothing to add, a bad message (an unknown role, no
                content, a date more than a day in the future, say), text, kind,
                importance, flag, budget or metadata (one of Engram's own keys, say).
                Nothing is stored then.
            engram.providers.ProviderConfigError: The LLM or the embeddings endpoint
                refused the settings (HTTP 401/403: the API key; 404: the model or the
                base_url), a `ProviderError` and a `ConfigError`: no later add could
                succeed. Nothing is stored: fix the settings and add again.
            ProviderUnavailable: The embeddings endpoint cannot be reached or kept
                failing; `ProviderError`: it answered no usable vectors. Nothing is stored:
                add again. An LLM that times out, fails (5xx, 429) or replies something
                unusable raises nothing: the add falls back to the rules and
                `AddReport.llm_fallbacks` says why.
        """
        flow = self._add_flow(
            text,
            messages=messages,
            user_id=user_id,
            agent_id=agent_id,
            session_id=session_id,
            user_name=user_name,
            infer=infer,
            kind=kind,
            importance=importance,
            metadata=metadata,
            pinned=pinned,
            max_llm_calls=max_llm_calls,
            max_llm_tokens=max_llm_tokens,
        )
        report: flows.AddReport = self._run(flow)
        return report

    async def aadd(
        self,
        text: str | None = None,
        *,
        messages: Sequence[MessageLike] = (),
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        user_name: str | None = None,
        infer: bool = True,
        kind: str = "fact",
        importance: float = 0.5,
        metadata: Mapping[str, Any] | None = None,
        pinned: bool = False,
        max_llm_calls: int = 2,
        max_llm_tokens: int = 4000,
    ) -> flows.AddReport:
        """Async `add`: the same arguments, result and errors (`ProviderConfigError`,
        `ProviderUnavailable`, `ProviderError`: nothing stored)."""
        flow = self._add_flow(
            text,
            messages=messages,
            user_id=user_id,
            agent_id=agent_id,
            session_id=session_id,
            user_name=user_name,
            infer=infer,
            kind=kind,
            importance=importance,
            metadata=metadata,
            pinned=pinned,
            max_llm_calls=max_llm_calls,
            max_llm_tokens=max_llm_tokens,
        )
        report: flows.AddReport = await self._arun(flow)
        return report

    def _add_flow(
        self,
        text: str | None,
        *,
        messages: Sequence[MessageLike],
        user_id: str | None,
        agent_id: str | None,
        session_id: str | None,
        user_name: str | None,
        infer: bool,
        kind: str,
        importance: float,
        metadata: Mapping[str, Any] | None,
        pinned: bool,
        max_llm_calls: int,
        max_llm_tokens: int,
    ) -> Flow[flows.AddReport]:
        scope = self._scope(user_id, agent_id, session_id)
        if text is None and not messages:
            raise InvalidInputError("nothing to add: pass text or messages")
        calls = check_count(max_llm_calls, "max_llm_calls")
        tokens = check_count(max_llm_tokens, "max_llm_tokens")
        if user_name is not None:
            check_identifier(user_name, "user_name")
        now = utcnow()
        infer = check_flag(infer, "infer")
        turns, candidates = self._inputs(
            text,
            messages,
            infer=infer,
            kind=kind,
            importance=importance,
            now=now,
        )
        add = functools.partial(
            flows.add_flow,
            scope,
            turns,
            candidates=candidates,
            budget=ExtractionBudget(
                max_calls=calls if self._engram.resources.llm else 0, max_tokens=tokens
            ),
            user_name=user_name,
            infer=infer,
            # As stored (tuples become lists), so the add returns what `get` will read.
            metadata={} if metadata is None else json_copy(_callers(metadata)),
            pinned=check_flag(pinned, "pinned"),
            text_turn=turns[-1].id if text is not None and infer else None,
            now=now,
        )
        return self._with_model_id(add)

    def _inputs(
        self,
        text: str | None,
        messages: Sequence[MessageLike],
        *,
        infer: bool,
        kind: str,
        importance: float,
        now: datetime,
    ) -> tuple[list[Message], list[Candidate]]:
        """The checked turns to extract from and the candidates to store as they are."""
        if isinstance(messages, str) or not isinstance(messages, Sequence):
            raise InvalidInputError(f"messages must be a list of messages, not {messages!r}")
        # Checked whether or not they are used (only `text` stored as is takes them), so a
        # bad value is never silently dropped.
        checked_kind, checked_importance = _kind(kind), _importance(importance)
        limit = self._engram.settings.max_message_bytes  # a memory is no larger than a message
        turns = [to_message(message) for message in messages]
        candidates: list[Candidate] = []
        if text is not None:
            check_text(text, "memory text", max_bytes=limit)
            if is_blank(text):
                raise InvalidInputError("a memory's text cannot be empty")
            if infer:
                turns.append(Message(role="user", content=text, created_at=now))
            else:
                candidates.append(
                    Candidate(text=text, kind=checked_kind, importance=checked_importance)
                )
        check_messages(turns, max_bytes=limit)  # the rule of a session's messages
        _check_said_by(turns, now)
        return turns, candidates

    # Recalling.

    def search(
        self,
        query: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        limit: int = 10,
        kinds: Sequence[str] | None = None,
        as_of: datetime | date | None = None,
        after: datetime | date | None = None,
        before: datetime | date | None = None,
        metadata: Mapping[str, Any] | None = None,
        record_access: bool = True,
    ) -> list[MemoryHit]:
        """The memories most relevant to `query`, best first, each with its score parts.

        Hybrid: exact dense similarity and BM25 under the scope filter, fused with recency,
        importance and entity match (`engram.memory.ranking`). `as_of` answers "what was
        true then", by all Engram knows now (a move said in June to have happened in March
        is true as of April; a value later corrected never was), as `relations(as_of=)`
        does; a `datetime.date` is the END of that day in UTC, the last microsecond before
        the next day (`as_of=date(2026, 3, 4)` counts what became true during March 4, as
        the ISO date "2026-03-04" does). By default only current memories are searched.
        `after` and `before` keep the memories whose event time (`valid_from`, else
        `recorded_at`) is at or after `after` and strictly before `before`; a
        `datetime.date` is the start of that day in UTC (`after=date(2026, 3, 1)` keeps
        March 1, `before=date(2026, 3, 1)` keeps what came before March 1: for a whole day
        D, `after=D, before=D + timedelta(days=1)`). A naive `as_of`, `after` or `before`
        is taken as UTC. `kinds` keeps those kinds (None
        or an empty list: every kind):

        - `profile`: the user's single-valued slots, one current value each (`attribute`:
          name, home city, employer, school, occupation, diet, partner, age, ...);
        - `fact`: other facts, about the user or the people they mention ("Marta is Ana's
          sister");
        - `preference`: likes and dislikes (`attribute` "preference:<topic>");
        - `event`: some happenings the extractor dates apart (a relative's death);
        - `episode`: the turns themselves, as said; `summary`: summaries.

        So `["fact"]` leaves out the home city and the employer: the facts about a user are
        `["fact", "profile"]` (with `preference` and `event`, every kind but the turns).

        The scope (at least one id) selects the memories matching every id given; an id
        left out matches any. `user_id` alone searches the user's memories of every agent
        and session; `agent_id` alone, the agent's own (stored without a user) and those
        of every user it was told; `user_id` with `agent_id`, what that user told that
        agent; with `session_id`, only what that session stored.

        The hits are recorded as recalled (access count and last access, which forgetting
        policies and decay read), unless `record_access` is False: a look that is no use of
        them, as an admin's inspection (`engram memories search`).

        After a change of embedder, the first search of a user's memories (of an agent's or
        a session's, without a user) by this Engram embeds and stores those the embedder
        has not (`reembed`), retired ones too, holding that user's writes meanwhile: it
        finds them by meaning already. If the embedder fails, the search goes on with the
        memories its words find, embedded on the fly, and a warning is logged once.

        Raises:
            InvalidInputError: A query that is not text, a time that is neither a datetime,
                a date nor an ISO-8601 string, a bad limit, kind or metadata filter, a
                `record_access` that is not a bool.
        """
        flow = self._search_flow(
            query,
            user_id,
            agent_id,
            session_id,
            limit,
            kinds,
            as_of,
            after,
            before,
            metadata,
            record_access=record_access,
        )
        hits: list[MemoryHit] = self._run(flow)
        return hits

    async def asearch(
        self,
        query: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        limit: int = 10,
        kinds: Sequence[str] | None = None,
        as_of: datetime | date | None = None,
        after: datetime | date | None = None,
        before: datetime | date | None = None,
        metadata: Mapping[str, Any] | None = None,
        record_access: bool = True,
    ) -> list[MemoryHit]:
        """Async `search`."""
        flow = self._search_flow(
            query,
            user_id,
            agent_id,
            session_id,
            limit,
            kinds,
            as_of,
            after,
            before,
            metadata,
            record_access=record_access,
        )
        hits: list[MemoryHit] = await self._arun(flow)
        return hits

    def _search_flow(
        self,
        query: str,
        user_id: str | None,
        agent_id: str | None,
        session_id: str | None,
        limit: int,
        kinds: Sequence[str] | None,
        as_of: datetime | date | None,
        after: datetime | date | None,
        before: datetime | date | None,
        metadata: Mapping[str, Any] | None,
        *,
        record_access: bool,
    ) -> Flow[list[MemoryHit]]:
        check_text(query, "query")
        fields = _filter_fields(kinds, as_of, after, before, metadata)
        scope = self._scope(user_id, agent_id, session_id)
        search = functools.partial(
            flows.search_flow,
            scope,
            query,
            limit=limit,
            filter_fields=fields,
            weights=self._engram.ranking,
            now=fields["valid_at"] or utcnow(),
            accessed_at=utcnow(),
            record_access=check_flag(record_access, "record_access"),
        )
        return self._with_model_id(functools.partial(self._embedded_first, scope, search))

    def _embedded_first(
        self, scope: flows.Scope, search: Callable[..., Flow[list[MemoryHit]]], *, model_id: str
    ) -> Flow[list[MemoryHit]]:
        """`search(model_id=...)`, its scope's memories embedded by the model first
        (`ensure_embedded`)."""
        yield from self.ensure_embedded(scope, model_id)
        hits: list[MemoryHit] = yield from search(model_id=model_id)
        return hits

    def ensure_embedded(self, scope: flows.Scope, model_id: str) -> Flow[None]:
        """Re-embed the memories of `scope` that `model_id` has not embedded
        (`reembed_stale_flow`), at the first search of the scope by this Engram (per model,
        a context's recall too): after an embedder change, the first search finds them by
        meaning already. A scope checked is not counted again (of the last `_CHECKED`): the
        hot path stays a lookup.

        If the embedder is missing or fails, the search goes on with what is stored (the
        lexical candidates it embeds on the fly), and a warning says so once per scope."""
        key = (stale_scope(scope), model_id)
        if key in self._embedded:
            return
        self._engram.resources.memory_store()  # no store: fail as the search would
        try:
            yield from self._reembed(key[0], REEMBED_BATCH, job=reembed_stale_flow)
        except (ProviderError, ConfigError) as exc:
            logger.warning(
                "memories of %s lack vectors of %s and could not be embedded (%s): found"
                " by keywords until `engram memories reembed` embeds them",
                key[0],
                model_id,
                exc,
            )
        self._embedded.put(key, None)

    # Reading and editing.

    def get(self, memory_id: str) -> Memory:
        """One memory by id (`NotFoundError` if absent or of another tenant)."""
        result: Memory = self._run(self._get_flow(memory_id))
        return result

    async def aget(self, memory_id: str) -> Memory:
        """Async `get`."""
        result: Memory = await self._arun(self._get_flow(memory_id))
        return result

    def _get_flow(self, memory_id: str) -> Flow[Memory]:
        check_identifier(memory_id, "memory_id")
        [[memory]] = yield from call_memories(GetMemories(self._engram.tenant, (memory_id,)))
        if memory is None:
            raise NotFoundError(f"no memory {memory_id!r}")
        found: Memory = memory
        return found

    def get_all(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        kinds: Sequence[str] | None = None,
        include_superseded: bool = False,
        as_of: datetime | date | None = None,
        after: datetime | date | None = None,
        before: datetime | date | None = None,
        metadata: Mapping[str, Any] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Memory]:
        """Memories of a scope, latest event time first (`valid_from`, when what each states
        became true, else `recorded_at`; mem0's `get_all`): those matching every id given,
        as `search` selects them (`user_id` alone: the user's of every agent and session),
        and filtered as `search` filters: `kinds` (what each holds: `search`; a slot, as
        the home city or the employer, is a "profile", not a "fact"), `as_of` (the
        memories true then, by all Engram knows now; a date is the end of that day in UTC,
        as in `search`), `after`/`before` (event time, as `search` reads them: a date is
        the start of that day in UTC) and `metadata` (top-level keys with equal values).
        Retired memories are left out unless `include_superseded` (or `as_of` asks for a
        past time). Without `as_of` this is what Engram holds true in its time, not only
        now: a job said to start next month is here from when it was said (dated from its
        start), and the job it ends stays (dated until then); `as_of=now` gives only what
        holds now.

        Raises:
            InvalidInputError: A time that is neither a datetime, a date nor an ISO-8601
                string, a bad limit, offset, kind or metadata filter.
        """
        op = self._list_op(
            user_id,
            agent_id,
            session_id,
            include_superseded,
            limit,
            offset,
            _filter_fields(kinds, as_of, after, before, metadata),
        )
        result: list[Memory] = self._run(_one(op))
        return result

    async def aget_all(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        kinds: Sequence[str] | None = None,
        include_superseded: bool = False,
        as_of: datetime | date | None = None,
        after: datetime | date | None = None,
        before: datetime | date | None = None,
        metadata: Mapping[str, Any] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Memory]:
        """Async `get_all`."""
        op = self._list_op(
            user_id,
            agent_id,
            session_id,
            include_superseded,
            limit,
            offset,
            _filter_fields(kinds, as_of, after, before, metadata),
        )
        result: list[Memory] = await self._arun(_one(op))
        return result

    def _list_op(
        self,
        user_id: str | None,
        agent_id: str | None,
        session_id: str | None,
        include_superseded: bool,
        limit: int,
        offset: int,
        fields: dict[str, Any],
    ) -> ListMemories:
        scope = self._scope(user_id, agent_id, session_id)
        check_flag(include_superseded, "include_superseded")
        where = scope.filter(include_superseded=include_superseded, **fields)
        return ListMemories(scope.tenant, where, limit, offset)

    def update(
        self,
        memory_id: str,
        text: str | None = None,
        *,
        importance: float | None = None,
        pinned: bool | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Memory:
        """Edit a memory (re-embedded if its text changes); the change is audited.

        `metadata` is merged into the memory's (a key given None is removed); of Engram's own
        keys (`ENGRAM_METADATA_KEYS`) it may name only `value`. A slot fact's text and value
        (the profile field and relation it gives) tell one story. Its value follows its new
        text: as the deterministic extractor reads the slot ("The user moved to Porto" ->
        "The user is based in Braga"), or where the old text stated it ("The user lives in
        Porto" -> "The user lives in Madrid"); a preference's key follows its topic ("The
        user enjoys jazz" -> "The user enjoys classical music": the profile's
        `preference:jazz` goes, `preference:classical_music` comes). A text and a
        `metadata={"value": ...}` must agree. A value given alone is stated in the fact's
        words, as `update_profile` states it ("The user lives in Faro"). A text that ends
        the slot ends it ("The user no longer lives in Porto", "... no longer enjoys jazz":
        value `none`, the profile field goes); a value cleared with no such text (`none`,
        "", None) is refused: delete the memory to forget it. An edit that changes nothing
        (the memory's own text, say) writes nothing. The history's reason names what changed
        besides the text, and of the metadata only the caller's keys and `value`.

        Raises:
            NotFoundError: No such memory.
            InvalidInputError: Empty or oversized text, `pinned` not a bool, `importance`
                outside 0..1, `metadata` not a mapping or naming Engram's own keys but
                `value`. For a slot fact: a new text that states no value of the slot, one
                of another slot or person, or another value than `metadata`'s; a value
                given alone when the fact's words do not name its current one (nothing to
                swap it for) or cleared with no text ending the slot; a text naming the
                value only to deny it; a preference moved to a topic another current fact holds; a
                value set to anything but text. Nothing is changed then.
        """
        result: Memory = self._run(self._update_flow(memory_id, text, importance, pinned, metadata))
        return result

    async def aupdate(
        self,
        memory_id: str,
        text: str | None = None,
        *,
        importance: float | None = None,
        pinned: bool | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Memory:
        """Async `update`."""
        flow = self._update_flow(memory_id, text, importance, pinned, metadata)
        result: Memory = await self._arun(flow)
        return result

    def _update_flow(
        self,
        memory_id: str,
        text: str | None,
        importance: float | None,
        pinned: bool | None,
        metadata: Mapping[str, Any] | None,
    ) -> Flow[Memory]:
        _check_edit(importance, pinned, metadata)
        found = yield from self._get_flow(memory_id)
        # Edit what is stored once no add of its scope is between its read and its write.
        yield from serialized(flows.lock_key(found.tenant, found.user_id))
        old = yield from self._get_flow(memory_id)
        if text is not None:
            check_text(text, "memory text", max_bytes=self._engram.settings.max_message_bytes)
        now = utcnow()
        new = flows.edited(
            old,
            text=text,
            now=now,
            importance=importance,
            pinned=pinned,
            # As stored (tuples become lists), so the edit returns what `get` will read.
            metadata=json_copy(dict(metadata)) if metadata is not None else None,
        )
        # A changed slot value is a correction: the profile and the relation follow it.
        new, corrections = yield from flows.correction_flow(old, new, now=now)
        edited = (new.text, new.attribute, new.importance, new.pinned, dict(new.metadata))
        same = (old.text, old.attribute, old.importance, old.pinned, dict(old.metadata))
        if edited == same and not corrections:
            return old  # an edit that changes nothing writes nothing (no history entry)
        vector = None
        if new.text != old.text:  # (a value given alone restates the text)
            matrix = yield from embed([dense_text(new)], tenant=self._engram.tenant)
            model_id = yield from self._model_id()  # (the embedding taught the dimension)
            vector = VectorRecord(model_id, matrix[0])
        change = MemoryChange(
            memory_id,
            "update",
            old_text=old.text,
            new_text=new.text,
            reason=edit_reason(old, new),
            tenant=self._engram.tenant,
            at=now,
        )
        [[stored], *_] = yield from call_memories(
            PutMemories(self._engram.tenant, (new,), (vector,), (change,)), *corrections
        )
        result: Memory = stored
        return result

    def delete(self, memory_id: str, *, with_sources: bool = False) -> ErasureReport:
        """Erase a memory: its row, vector, index entries, links, relations, the text of its
        history (a tombstone remains), and the entities no other memory names.

        What it retired is given back as what is left retires it, as `delete_all` of a
        session gives it back: "I moved to Faro" deleted, "I live in Lisbon" is current
        again, with its profile field and relation (a `restore` in its history); between
        Lisbon and Porto, Lisbon is retired by Porto.

        The turns it was extracted from (episodes, kept as said) are other memories: they
        stay, still found by search and recalled in context, unmarked ("I live in Porto"
        after "The user lives in Porto" is deleted). To forget what was said, pass
        `with_sources=True`: those turns are erased too, the other memories they gave kept
        ("I live in Porto and work at Google": the employer stays). To record that a value
        changed rather than forget it, edit the memory (`update`): its turns are then marked
        "(since changed)"."""
        flow = self._erase_flow(memory_id, with_sources)
        return _erased(self._run(flow), memory_id)

    async def adelete(self, memory_id: str, *, with_sources: bool = False) -> ErasureReport:
        """Async `delete`."""
        flow = self._erase_flow(memory_id, with_sources)
        return _erased(await self._arun(flow), memory_id)

    def _erase_flow(self, memory_id: str, with_sources: bool) -> Flow[ErasureReport]:
        check_identifier(memory_id, "memory_id")
        sources = check_flag(with_sources, "with_sources")
        tenant = self._engram.tenant
        return flows.erase_flow(
            tenant, (memory_id,), "user request", utcnow(), with_sources=sources
        )

    def history(self, memory_id: str) -> list[MemoryChange]:
        """Every change of a memory, oldest first; an erased memory's ends in its tombstone.

        Raises:
            NotFoundError: No memory of that id was ever stored in this tenant (or it was
                erased with its user, `delete_all(user_id=...)`, which leaves no tombstone),
                as `get` raises.
        """
        result: list[MemoryChange] = self._run(self._history_flow(memory_id))
        return result

    async def ahistory(self, memory_id: str) -> list[MemoryChange]:
        """Async `history`."""
        result: list[MemoryChange] = await self._arun(self._history_flow(memory_id))
        return result

    def _history_flow(self, memory_id: str) -> Flow[list[MemoryChange]]:
        op = GetHistory(self._engram.tenant, check_identifier(memory_id, "memory_id"))
        [changes] = yield from call_memories(op)
        if not changes:  # every memory stored has its `add`, and an erased one its tombstone
            raise NotFoundError(f"no memory {memory_id!r}")
        found: list[MemoryChange] = changes
        return found

    def users(self, *, limit: int = 100, offset: int = 0) -> list[str]:
        """The ids of the tenant's users that have memories, in order (a page of them): what
        a job over every user (consolidate, forget) goes through."""
        result: list[str] = self._run(_one(self._users_op(limit, offset)))
        return result

    async def ausers(self, *, limit: int = 100, offset: int = 0) -> list[str]:
        """Async `users`."""
        result: list[str] = await self._arun(_one(self._users_op(limit, offset)))
        return result

    def _users_op(self, limit: int, offset: int) -> ListUsers:
        return ListUsers(
            self._engram.tenant, check_count(limit, "limit"), check_count(offset, "offset")
        )

    def delete_all(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> ErasureReport:
        """Erase every memory of a scope, as `get_all` selects them (`agent_id` alone: the
        agent's own and those of every user it was told). With `user_id` alone, everything
        derived from the user goes (entities, relations, profile, history, tombstones);
        a narrower scope's erasure is that of `delete` for each memory (their texts leave
        the history, a tombstone remains). Their vectors leave the embedding cache."""
        flow = flows.erase_scope_flow(
            self._scope(user_id, agent_id, session_id), model_id=self._model_id, now=utcnow()
        )
        report: ErasureReport = self._run(flow)
        return report

    async def adelete_all(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> ErasureReport:
        """Async `delete_all`."""
        flow = flows.erase_scope_flow(
            self._scope(user_id, agent_id, session_id), model_id=self._model_id, now=utcnow()
        )
        report: ErasureReport = await self._arun(flow)
        return report

    # Export and import.

    def export(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> dict[str, Any]:
        """Every memory of a scope, retired ones too, with its audit history (and for a user
        alone, their entities, relations and profile) as JSON-ready data for `import_`.
        Vectors are left out: the importing side embeds with its own embedder."""
        data: dict[str, Any] = self._run(self._export_flow(user_id, agent_id, session_id))
        return data

    async def aexport(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> dict[str, Any]:
        """Async `export`."""
        flow = self._export_flow(user_id, agent_id, session_id)
        data: dict[str, Any] = await self._arun(flow)
        return data

    def _export_flow(
        self, user_id: str | None, agent_id: str | None, session_id: str | None
    ) -> Flow[dict[str, Any]]:
        return transfer.export_flow(self._scope(user_id, agent_id, session_id))

    def import_(self, data: Mapping[str, Any]) -> transfer.ImportedMemories:
        """Store the memories of an `export` in this tenant, embedded with this Engram's
        embedder, all of it or nothing (`InvalidInputError`, naming the record and field,
        for data that is not an export or holds what `add` or `update_profile` refuse
        (metadata over 64 KiB, a time Engram recorded something at more than a day past
        now: `valid_from`/`valid_to`, when it holds, may lie ahead), or an entity,
        relation or profile of a user whose memories the export does not hold, or of
        another user than the memories and entities it is tied to).
        Ids are kept: importing the same export again replaces what the first import stored.
        A slot the store fills for the user too (a home, an employer) keeps one current
        value, the one said last; the other is retired by it, as a contradiction would.
        An erasure is never undone: a memory deleted or forgotten here since the export
        (its tombstone is here) is skipped, with the relations, profile fields, entities
        and quotes its erasure removed; `delete_all(user_id=...)` leaves no tombstone, so
        a backup restores the user. And the export's erasures are brought: a memory stored
        here that the export holds the tombstone of (same id and user) is erased as
        `delete` erases it. Return the stored memories (a list), with `skipped_erased`, how
        many were skipped, and `erased`, how many were erased here."""
        stored: transfer.ImportedMemories = self._run(self._import_flow(data))
        return stored

    async def aimport_(self, data: Mapping[str, Any]) -> transfer.ImportedMemories:
        """Async `import_`."""
        stored: transfer.ImportedMemories = await self._arun(self._import_flow(data))
        return stored

    def _import_flow(self, data: Mapping[str, Any]) -> Flow[transfer.ImportedMemories]:
        yield from serialized(*_import_keys(self._engram.tenant, data))
        model_id = yield from self._model_id()
        stored: transfer.ImportedMemories = yield from transfer.import_flow(
            data,
            tenant=self._engram.tenant,
            model_id=model_id,
            max_bytes=self._engram.settings.max_message_bytes,
            now=utcnow(),
        )
        return stored

    # Maintenance.

    def consolidate(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        threshold: float = 0.92,
    ) -> int:
        """Merge near-duplicate memories of a scope; return merges.

        Only memories of one agent and session merge (a session's reads and erasure still
        cover what it said). The memory kept has all their provenance, the earliest time one
        was known (so "as of" searches find it as before), and stays the source of the
        profile fields, relations and supersessions that named any of them.

        Args:
            user_id, agent_id, session_id: The scope (at least one), whose own memories are
                consolidated. With `user_id`, the user's memories matching every id given
                (`user_id` alone: of every agent and session), none stored without the
                user. Without it, those stored without a user (`agent_id` alone: the agent's
                own), never what the agent's users told it: theirs, kept up with theirs.
                `bloat` and `forget` take the same scopes.
            threshold: The cosine from which two memories are near-duplicates.

        Raises:
            InvalidInputError: No scope, or a threshold outside (0, 1].
        """
        flow = self._consolidate_flow(user_id, agent_id, session_id, threshold)
        merges: int = self._run(flow)
        return merges

    async def aconsolidate(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        threshold: float = 0.92,
    ) -> int:
        """Async `consolidate`."""
        flow = self._consolidate_flow(user_id, agent_id, session_id, threshold)
        merges: int = await self._arun(flow)
        return merges

    def _consolidate_flow(
        self, user_id: str | None, agent_id: str | None, session_id: str | None, threshold: float
    ) -> Flow[int]:
        scope = self._scope(user_id, agent_id, session_id)
        model_id = yield from self._model_id()
        merges, _ = yield from flows.consolidate_flow(
            scope, model_id=model_id, threshold=threshold, now=utcnow()
        )
        return int(merges)

    def bloat(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        threshold: float = 0.92,
        kinds: Sequence[str] | None = None,
    ) -> float:
        """The share of a scope's own current memories (those `consolidate` merges) that
        are redundant near-duplicates.

        A cluster of k near-duplicates (cosine >= `threshold`, one kind group: episodes
        apart from the rest) counts k - 1. By default over the kinds `consolidate` merges
        (everything but episodes): 0.0 after a `consolidate` of the scope with the same
        threshold.
        """
        flow = self._bloat_flow(user_id, agent_id, session_id, threshold, kinds)
        share: float = self._run(flow)
        return share

    async def abloat(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        threshold: float = 0.92,
        kinds: Sequence[str] | None = None,
    ) -> float:
        """Async `bloat`."""
        flow = self._bloat_flow(user_id, agent_id, session_id, threshold, kinds)
        share: float = await self._arun(flow)
        return share

    def _bloat_flow(
        self,
        user_id: str | None,
        agent_id: str | None,
        session_id: str | None,
        threshold: float,
        kinds: Sequence[str] | None,
    ) -> Flow[float]:
        bloat = functools.partial(
            flows.bloat_flow,
            self._scope(user_id, agent_id, session_id),
            threshold=threshold,
            kinds=_kinds(kinds) or (),
        )
        return self._with_model_id(bloat)

    def reembed(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        batch_size: int = 256,
    ) -> int:
        """Embed with this Engram's embedder every memory that has no vector of it; return
        how many. After a change of embedder (another model, or another backend of the
        same model), a scope's first search does it for the scope's memories (`search`);
        run it to do it for all of them up front, before serving. Without a scope, every
        memory of the tenant.
        """
        count: int = self._run(self._reembed_flow(user_id, agent_id, session_id, batch_size))
        return count

    async def areembed(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        batch_size: int = 256,
    ) -> int:
        """Async `reembed`."""
        flow = self._reembed_flow(user_id, agent_id, session_id, batch_size)
        count: int = await self._arun(flow)
        return count

    def _reembed_flow(
        self, user_id: str | None, agent_id: str | None, session_id: str | None, batch_size: int
    ) -> Flow[int]:
        check_count(batch_size, "batch_size")  # the flow refuses 0
        if user_id is None and agent_id is None and session_id is None:
            scope = flows.Scope(self._engram.tenant)
        else:
            scope = self._scope(user_id, agent_id, session_id)
        return self._reembed(scope, batch_size)

    def _reembed(
        self,
        scope: flows.Scope,
        batch_size: int,
        *,
        job: Callable[..., Flow[int]] = flows.reembed_flow,
    ) -> Flow[int]:
        model_id = yield from self._model_id()
        _, short = self._engram._embedding_ids()
        # Vectors an older release stored under the id without the dimension are reused.
        copy_from = None if short == model_id else (short, self._engram.embedder.dimension)
        done: int = yield from job(
            scope, model_id=model_id, batch_size=batch_size, copy_from=copy_from
        )
        return done

    def forget(
        self,
        policy: ForgettingPolicy,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> ErasureReport | None:
        """Erase what a forgetting policy drops of a scope's own memories, as `consolidate`
        takes them (`agent_id` alone: the agent's own, stored without a user); pinned ones,
        and the facts the user's current profile fields come from, are exempt unless the
        policy says otherwise (`keep_pinned`, `keep_profile`). None if nothing is erased.
        Forgetting
        is decay, not a retraction: unlike `delete`, it gives back nothing a forgotten
        memory retired ("lives in Austin" forgotten leaves "lives in Denver" history).

        The rules are `max_age`, `max_idle` and `max_per_user`; `min_access` only exempts
        (from age and inactivity). `max_per_user` counts current memories, evicting the
        least important first, then the longest unused (a memory is used when a search
        returns it or a context sends it, a profile field's source included); retired
        memories are left to the age and inactivity rules (see `ForgettingPolicy`).

        Raises:
            InvalidInputError: No scope, a policy that is not a `ForgettingPolicy`, or one
                without a rule.
        """
        flow = self._forget_flow(policy, user_id, agent_id, session_id)
        report: ErasureReport | None = self._run(flow)
        return report

    async def aforget(
        self,
        policy: ForgettingPolicy,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> ErasureReport | None:
        """Async `forget`."""
        flow = self._forget_flow(policy, user_id, agent_id, session_id)
        report: ErasureReport | None = await self._arun(flow)
        return report

    def _forget_flow(
        self,
        policy: ForgettingPolicy,
        user_id: str | None,
        agent_id: str | None,
        session_id: str | None,
    ) -> Flow[ErasureReport | None]:
        scope = self._scope(user_id, agent_id, session_id)
        return flows.forget_flow(scope, _policy(policy), now=utcnow())

    def forgettable(
        self,
        policy: ForgettingPolicy,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> list[Forget]:
        """What `forget` would erase of the scope now, each memory id with its reason;
        nothing is erased (a dry run). A policy without a rule is refused, as by `forget`."""
        flow = self._forgettable_flow(policy, user_id, agent_id, session_id)
        doomed: list[Forget] = self._run(flow)
        return doomed

    async def aforgettable(
        self,
        policy: ForgettingPolicy,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> list[Forget]:
        """Async `forgettable`."""
        flow = self._forgettable_flow(policy, user_id, agent_id, session_id)
        doomed: list[Forget] = await self._arun(flow)
        return doomed

    def _forgettable_flow(
        self,
        policy: ForgettingPolicy,
        user_id: str | None,
        agent_id: str | None,
        session_id: str | None,
    ) -> Flow[list[Forget]]:
        scope = self._scope(user_id, agent_id, session_id)
        return flows.forgettable_flow(scope, _policy(policy), now=utcnow())

    # Entities and profiles.

    def entities(self, *, user_id: str, name: str | None = None) -> list[Entity]:
        """The entities of a user's memories, oldest first; with `name`, those it names: by
        name or alias (case, accents, a title and a possessive aside: "dr. lopez's"), else
        those whose name it shortens ("Carla" for "Carla Mendes")."""
        result: list[Entity] = self._run(self._entities_flow(user_id, name))
        return result

    async def aentities(self, *, user_id: str, name: str | None = None) -> list[Entity]:
        """Async `entities`."""
        result: list[Entity] = await self._arun(self._entities_flow(user_id, name))
        return result

    def _entities_flow(self, user_id: str, name: str | None) -> Flow[list[Entity]]:
        user = check_identifier(user_id, "user_id")
        if name is not None:
            check_text(name, "name")
            if not name.strip():
                raise InvalidInputError("name is blank: leave it out to list every entity")
        every: list[Entity] = yield from _one(ListEntities(self._engram.tenant, user))
        return every if name is None else named_entities(name, every)

    def relations(
        self, *, user_id: str, entity_id: str | None = None, as_of: datetime | date | None = None
    ) -> list[Relation]:
        """The relations between a user's entities (those touching `entity_id`), each with
        the memory that states it and its validity; `as_of` (naive: UTC; a date: the end
        of that day in UTC, as in `search`): only those true then."""
        result: list[Relation] = self._run(self._relations_flow(user_id, entity_id, as_of))
        return result

    async def arelations(
        self, *, user_id: str, entity_id: str | None = None, as_of: datetime | date | None = None
    ) -> list[Relation]:
        """Async `relations`."""
        flow = self._relations_flow(user_id, entity_id, as_of)
        result: list[Relation] = await self._arun(flow)
        return result

    def _relations_flow(
        self, user_id: str, entity_id: str | None, as_of: datetime | date | None
    ) -> Flow[list[Relation]]:
        user = check_identifier(user_id, "user_id")
        if entity_id is not None:
            check_identifier(entity_id, "entity_id")
        moment = check_as_of(as_of)
        return _one(ListRelations(self._engram.tenant, user, entity_id, moment))

    def profile(self, user_id: str, *, as_of: datetime | date | None = None) -> UserProfile | None:
        """The user's structured profile, kept current by extraction (None for a user with
        none): the values that hold now, a job said to start next month the employer once
        it has started, the one it ends until then.

        With `as_of` (naive: UTC; a date: the end of that day in UTC, as in `search`), the
        profile as it stood then, built from the memories true then by all Engram knows
        now (`get_all(as_of=...)`: a move in March told in June gives the new home city as
        of April): each field the value of the latest of them, its source that memory;
        `updated_at` is the moment `as_of` names. A field set by hand
        (`update_profile`) counts from the edit, through the slot fact it changed; one
        with no such fact is in the current profile only. None if no memory of the user
        was true then.

        Raises:
            InvalidInputError: A bad `user_id`, or an `as_of` that is neither a datetime,
                a date nor an ISO-8601 string.
        """
        result: UserProfile | None = self._run(self._profile_flow(user_id, as_of))
        return result

    async def aprofile(
        self, user_id: str, *, as_of: datetime | date | None = None
    ) -> UserProfile | None:
        """Async `profile`."""
        result: UserProfile | None = await self._arun(self._profile_flow(user_id, as_of))
        return result

    def _profile_flow(
        self, user_id: str, as_of: datetime | date | None = None
    ) -> Flow[UserProfile | None]:
        user = check_identifier(user_id, "user_id")
        moment = check_as_of(as_of)
        tenant = self._engram.tenant
        if moment is None:  # as stored, caught up to now: a job to come may have started
            stored, to_come, known = yield from call_memories(
                GetProfile(tenant, user), values_to_come(tenant, user), ListEntities(tenant, user)
            )
            now = utcnow()
            profile: UserProfile | None = yield from caught_up(
                tenant, stored, to_come, now=now, names=user_names(known)
            )
            return profile
        true_then = MemoryFilter(user_id=user, valid_at=moment)
        memories = yield from every_memory(tenant, true_then)
        if not memories:
            return None
        known = yield from _one(ListEntities(tenant, user))
        names = user_names(known)
        return profile_at(memories, moment=moment, user_id=user, tenant=tenant, names=names)

    def update_profile(self, user_id: str, fields: Mapping[str, str | None]) -> UserProfile:
        """Set profile fields by hand (a None value removes its field); return the profile.

        An edited field keeps its value until a memory recorded after the edit changes it
        (the user says they moved again, say). The current slot facts of an edited field
        that state another value are retired, and their relations end (so no prompt holds
        both "home city: Braga" and "The user lives in Porto"). A new value is stated in
        the retired fact's words ("The user lives in Braga", true from now, with its
        relation), so search, `get_all` and `relations` agree with the profile; a field
        with no such fact (never stated) stays in the profile only, and a removed field is
        stated by no memory.

        Raises:
            InvalidInputError: A field name is empty or longer than 256 characters, or a
                value is neither text nor None, or larger than `max_message_bytes`, or
                either holds a NUL character. Nothing is changed then.
        """
        result: UserProfile = self._run(self._update_profile_flow(user_id, fields))
        return result

    async def aupdate_profile(self, user_id: str, fields: Mapping[str, str | None]) -> UserProfile:
        """Async `update_profile`."""
        result: UserProfile = await self._arun(self._update_profile_flow(user_id, fields))
        return result

    def _update_profile_flow(
        self, user_id: str, fields: Mapping[str, str | None]
    ) -> Flow[UserProfile]:
        tenant, user = self._engram.tenant, check_identifier(user_id, "user_id")
        check_profile_fields(
            check_mapping(fields, "profile fields"), self._engram.settings.max_message_bytes
        )
        yield from serialized(flows.lock_key(tenant, user))
        stored = yield from self._profile_flow(user_id)
        now = utcnow()
        edited = edit_profile(stored, fields, user_id=user, tenant=tenant, now=now)
        changed = yield from flows.profile_edit_flow(
            flows.Scope(tenant, user), fields, model_id=self._model_id, now=now
        )
        [stored_profile, *_] = yield from call_memories(PutProfile(tenant, edited), *changed)
        profile: UserProfile = stored_profile
        return profile


def _one(op: Any) -> Flow[Any]:
    """One memory-store operation as a flow, returning its result."""
    [result] = yield from call_memories(op)
    return result


def _import_keys(tenant: str, data: Any) -> set[str]:
    """The locks of the scopes an export writes to (`import_flow` checks the data itself)."""
    if not isinstance(data, Mapping):
        return set()
    keys = {flows.lock_key(tenant, row.get("user_id")) for row in _rows(data, "memories")}
    keys |= {
        flows.lock_key(tenant, row["user_id"])
        for row in _rows(data, "tombstones")
        if isinstance(row.get("user_id"), str)
    }
    profile = data.get("profile")
    if isinstance(profile, Mapping) and isinstance(profile.get("user_id"), str):
        keys.add(flows.lock_key(tenant, profile["user_id"]))
    return keys


def _rows(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """The records under `key` of an export not yet checked (what is no record is skipped)."""
    rows = data.get(key)
    return [row for row in rows if isinstance(row, Mapping)] if isinstance(rows, list) else []


def _erased(report: ErasureReport, memory_id: str) -> ErasureReport:
    if report.memories == 0:
        raise NotFoundError(f"no memory {memory_id!r}")
    return report


def _filter_fields(
    kinds: Sequence[str] | None,
    as_of: datetime | date | None,
    after: datetime | date | None,
    before: datetime | date | None,
    metadata: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The store filter fields of `search`'s and `get_all`'s filters, each checked (time
    bounds that keep no time, `after` not before `before`, too: they would read as "no
    memories" rather than as the mistake they are)."""
    wanted = None if metadata is None else check_mapping(metadata, "metadata")
    start, end = check_time_bound(after, "after"), check_time_bound(before, "before")
    check_time_window(start, end)
    return {
        "kinds": _kinds(kinds),
        "valid_at": check_as_of(as_of),  # true then, by all we know now
        "after": start,
        "before": end,
        "metadata": wanted or None,
    }


def _kinds(kinds: Sequence[str] | None) -> tuple[MemoryKind, ...] | None:
    """A kinds filter, each kind checked (a bare string would filter by its letters)."""
    if kinds is None:
        return None
    if isinstance(kinds, str):
        raise InvalidInputError(f"kinds must be a list of kinds, e.g. [{kinds!r}]")
    if not isinstance(kinds, Iterable):
        raise InvalidInputError(f"kinds must be a list of kinds, not {kinds!r}")
    return tuple(_kind(kind) for kind in kinds) or None


def _check_edit(
    importance: float | None, pinned: bool | None, metadata: Mapping[str, Any] | None
) -> None:
    """Check what an `update` sets besides its text (checked by `_update_flow` against the
    size limit)."""
    if importance is not None:
        _importance(importance)
    if pinned is not None:
        check_flag(pinned, "pinned")
    if metadata is not None:
        _callers(metadata, editable=frozenset({"value"}))


def _callers(metadata: object, *, editable: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The caller's `metadata` for an add or an edit, which must not set Engram's own keys
    (`ENGRAM_METADATA_KEYS`, but for those `editable`): "speaker" or "context" from an app
    would change what revision, ranking and the indexes read of the memory. It is checked as
    a session's metadata is (`check_json_object`), so both refuse bad metadata alike."""
    given = check_json_object(metadata, "metadata")
    taken = sorted(given.keys() & (ENGRAM_METADATA_KEYS - editable))
    if taken:
        raise InvalidInputError(
            f"metadata keys {taken} are Engram's own (it sets them from what was said); "
            "name yours differently, e.g. 'app_" + taken[0].lstrip("_") + "'"
        )
    return given


def _policy(policy: ForgettingPolicy) -> ForgettingPolicy:
    if not isinstance(policy, ForgettingPolicy):
        raise InvalidInputError(f"policy must be a ForgettingPolicy, not {policy!r}")
    return policy


def _check_said_by(turns: Sequence[Message], now: datetime) -> None:
    """Refuse a message dated in the future of `now` (past `CLOCK_SKEW`)."""
    latest = now + CLOCK_SKEW
    for turn in turns:
        if turn.created_at > latest:
            raise InvalidInputError(
                f"message {turn.id} is dated {turn.created_at.isoformat()}, in the future: "
                f"a message may be dated at most a day past now ({now.isoformat()})"
            )


def _importance(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise InvalidInputError(f"importance must be a number within 0..1, got {value!r}")
    return float(value)


def _kind(kind: str) -> MemoryKind:
    if not isinstance(kind, str) or kind not in MEMORY_KINDS:
        raise InvalidInputError(
            f"unknown memory kind {kind!r}; expected one of {', '.join(sorted(MEMORY_KINDS))}"
        )
    return kind  # type: ignore[return-value]
