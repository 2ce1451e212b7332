"""Who a memory flow is about (`Scope`), what its writes serialise on (`lock_key`),
and the reads of all of a scope's memories (`every_memory`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engram._flows import Flow, call_memories
from engram.stores.memories import ListMemories, MemoryFilter
from engram.types._memory import Memory


@dataclass(frozen=True, slots=True)
class Scope:
    """Who a memory is about: the tenant and a user, agent and/or session."""

    tenant: str
    user_id: str | None = None
    agent_id: str | None = None
    session_id: str | None = None

    def filter(self, **fields: Any) -> MemoryFilter:
        """The store filter of this scope, plus `fields`."""
        return MemoryFilter(
            user_id=self.user_id, agent_id=self.agent_id, session_id=self.session_id, **fields
        )

    def own_filter(self, **fields: Any) -> MemoryFilter:
        """The store filter of this scope's own memories: those a new memory of the scope is
        revised against, and those its upkeep consolidates, measures and forgets. Without a
        user, only those stored without a user: an agent's reads (`filter`) include what its
        users told it, but those are the users' to revise and keep up, and would crowd the
        agent's own out of a nearest-neighbour search."""
        if self.user_id is None:
            return self.filter(without_user=True, **fields)
        return self.filter(**fields)

    def slot_filter(self, **fields: Any) -> MemoryFilter:
        """The store filter of the memories a slot fact is revised against: the user's,
        whatever agent or session stored them (a user has one home city, in every
        conversation); without a user, this scope's own (`own_filter`). The writes of a
        user serialise on the user alone (`lock_key`), so no other add of these memories
        runs meanwhile."""
        if self.user_id is None:
            return self.own_filter(**fields)
        return MemoryFilter(user_id=self.user_id, **fields)

    @property
    def lock_key(self) -> str:
        """What the writes of this scope serialise on (see `lock_key`)."""
        return lock_key(self.tenant, self.user_id)

    @property
    def whole_user(self) -> str | None:
        """The user, when the scope is a user alone (no agent or session): everything of the
        user (entities, relations, profile) is in scope; else None."""
        return self.user_id if self.agent_id is None and self.session_id is None else None


def lock_key(tenant: str, user_id: str | None) -> str:
    """The lock (`_flows.Serialize`) of the memory writes of a scope: its user's, whatever the
    agent or session (the profile, the entities and the slots are the user's); without a
    user, the tenant's user-less one: such scopes overlap (an agent's memories include its
    sessions') and share the entities of no user."""
    if user_id is not None:
        return repr(("memories", tenant, user_id))
    return repr(("memories", tenant, None))


FACT_KINDS = ("fact", "preference", "profile", "event", "summary")


PAGE = 10_000
"""Memories read per store batch when a flow needs all of a scope's."""


def every_memory(tenant: str, where: MemoryFilter) -> Flow[list[Memory]]:
    """Every memory `where` selects, oldest first, read a page at a time."""
    memories: list[Memory] = []
    while True:
        [page] = yield from call_memories(
            ListMemories(tenant, where, limit=PAGE, offset=len(memories), order="oldest")
        )
        memories.extend(page)
        if len(page) < PAGE:
            return memories
