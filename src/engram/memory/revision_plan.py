"""Revising a batch of new memories at once, so they see each other.

One `add` can carry statements that revise each other ("I live in Berlin. ... I moved to
Lisbon."). `plan_revisions()` decides the new memories in order; each one is compared with its
stored neighbours *as already revised by the earlier ones* and with the earlier new memories of
the batch. The plan's `inserts` and `updates` are net: a memory inserted and then superseded in
the same batch is inserted once, in its final state. Persist the plan in one transaction.

Example:
    ```python
    news = [candidate.to_memory(user_id="u1", now=now) for candidate in candidates]
    similar = [store_search(memory) for memory in news]   # [(Memory, cosine), ...] each
    plan = plan_revisions(news, similar, now=now)
    store.put_many(plan.inserts); store.put_many(plan.updates); history.extend(plan.changes)
    ```
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from engram.memory._revision_decision import Decision
from engram.memory.llm_flow import ExtractionBudget, LLMFlow, adrive, drive
from engram.memory.revision import DEFAULT_POLICY, RevisionPolicy
from engram.memory.revision_verdict import decision_flow
from engram.providers._base import ChatModelProtocol
from engram.types._memory import Memory, MemoryChange

__all__ = ["RevisionPlan", "aplan_revisions", "plan_flow", "plan_revisions"]

Pairwise = Callable[[int, int], float]
"""`pairwise(i, j)`: the cosine similarity of the batch's new memories i and j."""


@dataclass(frozen=True, slots=True)
class RevisionPlan:
    """The net writes of revising a batch of new memories."""

    decisions: tuple[Decision, ...]
    """One per new memory, in order."""
    inserts: tuple[Memory, ...]
    """Memories to insert, in their final state."""
    updates: tuple[Memory, ...]
    """Existing memories to rewrite, in their final state."""
    changes: tuple[MemoryChange, ...]
    """Audit entries to append, in order."""


def _neighbours(
    index: int,
    similar: Sequence[tuple[Memory, float]],
    decisions: Sequence[Decision],
    state: dict[str, Memory],
    pairwise: Pairwise | None,
) -> list[tuple[Memory, float]]:
    """The stored neighbours as revised so far, plus the batch's earlier memories (and
    the others their decisions inserted)."""
    best: dict[str, tuple[Memory, float]] = {}
    for memory, cosine in similar:
        best[memory.id] = (state.get(memory.id, memory), cosine)
    for earlier, decision in enumerate(decisions):
        memory = state.get(decision.memory.id, decision.memory)
        cosine = pairwise(index, earlier) if pairwise else 0.0
        if memory.id not in best or best[memory.id][1] < cosine:
            best[memory.id] = (memory, cosine)
        for inserted in decision.inserts:  # a stretch the decision cut off, say
            best.setdefault(inserted.id, (state.get(inserted.id, inserted), 0.0))
    return list(best.values())


def plan_flow(
    news: Sequence[Memory],
    similar: Sequence[Sequence[tuple[Memory, float]]],
    *,
    now: datetime,
    budget: ExtractionBudget | None = None,
    policy: RevisionPolicy = DEFAULT_POLICY,
    pairwise: Pairwise | None = None,
) -> LLMFlow[RevisionPlan]:
    """The batch revision as a flow (LLM questions only for ambiguous cases, within `budget`).

    Args:
        news: The new memories, in the order they were said.
        similar: For each new memory, its stored neighbours with cosine similarities (include
            the current holders of its `attribute`, see `decide`).
        now: The record time of the changes, at the latest: the changes a new memory makes
            are recorded with it (its `recorded_at`, if earlier), so "as of" a time between
            two statements of the batch, the first one's changes are known and the
            second's are not.
        budget: LLM budget for ambiguous cases; None: never ask.
        policy: The thresholds.
        pairwise: Cosine similarity between two new memories of the batch, if known
            (without it, batch members still match each other by slot and exact text).

    Returns:
        The plan.
    """
    state: dict[str, Memory] = {}
    inserted: dict[str, None] = {}
    updated: dict[str, None] = {}
    decisions: list[Decision] = []
    changes: list[MemoryChange] = []
    for index, new in enumerate(news):
        pool = _neighbours(index, similar[index], decisions, state, pairwise)
        at = min(now, new.recorded_at)
        decision = yield from decision_flow(new, pool, now=at, budget=budget, policy=policy)
        for memory in decision.inserts:
            state[memory.id] = memory
            inserted[memory.id] = None
        for memory in decision.updates:
            state[memory.id] = memory
            updated.setdefault(memory.id, None)
        decisions.append(decision)
        changes.extend(decision.changes)
    return RevisionPlan(
        decisions=tuple(decisions),
        inserts=tuple(state[memory_id] for memory_id in inserted),
        updates=tuple(state[memory_id] for memory_id in updated if memory_id not in inserted),
        changes=tuple(changes),
    )


def plan_revisions(
    news: Sequence[Memory],
    similar: Sequence[Sequence[tuple[Memory, float]]],
    *,
    now: datetime,
    model: ChatModelProtocol | None = None,
    budget: ExtractionBudget | None = None,
    policy: RevisionPolicy = DEFAULT_POLICY,
    pairwise: Pairwise | None = None,
) -> RevisionPlan:
    """Revise a batch of new memories (see `plan_flow`).

    The LLM is asked about ambiguous cases only with both a `model` and a `budget`; otherwise
    they are added as new.
    """
    flow = plan_flow(news, similar, now=now, budget=budget, policy=policy, pairwise=pairwise)
    return _run_offline(flow) if model is None else drive(flow, model)


async def aplan_revisions(
    news: Sequence[Memory],
    similar: Sequence[Sequence[tuple[Memory, float]]],
    *,
    now: datetime,
    model: ChatModelProtocol | None = None,
    budget: ExtractionBudget | None = None,
    policy: RevisionPolicy = DEFAULT_POLICY,
    pairwise: Pairwise | None = None,
) -> RevisionPlan:
    """Async twin of `plan_revisions`."""
    flow = plan_flow(news, similar, now=now, budget=budget, policy=policy, pairwise=pairwise)
    return _run_offline(flow) if model is None else await adrive(flow, model)


def _run_offline(flow: LLMFlow[RevisionPlan]) -> RevisionPlan:
    """Run a flow with no model: every LLM question gets "the call failed" (None)."""
    try:
        next(flow)
        while True:
            flow.send(None)
    except StopIteration as stop:
        plan: RevisionPlan = stop.value
        return plan
