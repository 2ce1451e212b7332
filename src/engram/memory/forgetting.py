"""Forgetting and decay: which memories a policy removes, and how memories fade in ranking.

`plan_forgetting(memories, policy, now)` lists the memories a `ForgettingPolicy` removes, each
with its reason (`policy: max_age`, ...): the caller deletes them through its normal delete
path (so history, indexes and entity links are erased too). The slot facts the user's
profile fields come from (`profile=`, `UserProfile.sources`) are what the user is now, not
what went stale or unused: exempt, as pinned memories are. `decay()` is how fresh a memory
is: 1.0 just recorded or used, 0.5 one half-life of disuse later, pinned ones never fading;
it breaks ties of importance in `max_per_user` evictions and is the ranking's `decay` feature
(`RankingWeights.decay`).

A memory is used (accessed) when a search returns it or a context sends it: recalled, or as
the profile field it is the source of.

Example:
    ```python
    policy = ForgettingPolicy(max_idle=timedelta(days=180), min_access=3, max_per_user=5000)
    for memory_id, reason in plan_forgetting(memories, policy, now=utcnow()):
        store.delete(memory_id, reason=reason)
    ```
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from engram._exceptions import InvalidInputError
from engram.memory.timeline import last_said_at, sayings
from engram.types._memory import Memory

__all__ = ["Forget", "ForgettingPolicy", "decay", "forgotten_by_policy", "plan_forgetting"]

_POLICY = "policy: "
"""How the reason of a memory a policy forgot begins (its tombstone keeps it)."""


@dataclass(frozen=True, slots=True)
class ForgettingPolicy:
    """When memories are forgotten. Every rule is off unless set.

    The rules are `max_age`, `max_idle` and `max_per_user`; `min_access`, `keep_pinned` and
    `keep_profile` only exempt memories from them (a policy without a rule forgets nothing,
    and `Memories.forget` refuses it). Pinned memories are exempt from every rule while
    `keep_pinned` holds, and so are the slot facts the user's current profile fields come
    from while `keep_profile` does (a home city said 200 days ago and never changed is the
    user's home city still, not stale); memories accessed at least `min_access` times are
    exempt from the age and inactivity rules.

    `max_per_user` counts a scope's current memories only: retired ones (superseded, kept
    for "as of" answers) neither count nor are evicted by it; `max_age` and `max_idle`
    govern them. Over the cap, the current memories go in this order: the least important
    first; among equally important ones, the most faded (longest unused, see `decay`), then
    the least often used, then the oldest.
    """

    max_age: timedelta | None = None
    """Forget memories recorded longer ago than this."""
    max_idle: timedelta | None = None
    """Forget memories not accessed (nor recorded, nor said again) for this long."""
    min_access: int | None = None
    """Memories accessed at least this often survive `max_age` and `max_idle` (an exemption,
    not a rule: alone it forgets nothing)."""
    max_per_user: int | None = None
    """Keep at most this many current memories per scope (tenant, user, agent): the least
    important go first, then the most faded; retired memories are not counted."""
    keep_pinned: bool = True
    """Never forget pinned memories."""
    keep_profile: bool = True
    """Never forget the slot facts the user's current profile fields come from."""
    half_life: timedelta = timedelta(days=30)
    """The decay half-life that orders equally important victims of `max_per_user`."""

    def __post_init__(self) -> None:
        for name in ("max_age", "max_idle"):
            span = getattr(self, name)
            if span is not None and (not isinstance(span, timedelta) or span < timedelta(0)):
                raise InvalidInputError(f"{name} must be a timedelta of 0 or more, not {span!r}")
        for name in ("min_access", "max_per_user"):
            count = getattr(self, name)
            if count is not None and (type(count) is not int or count < 0):
                raise InvalidInputError(f"{name} must be an int of 0 or more, not {count!r}")
        for name in ("keep_pinned", "keep_profile"):  # None would forget what they keep
            flag = getattr(self, name)
            if not isinstance(flag, bool):
                raise InvalidInputError(f"{name} must be a bool, not {flag!r}")
        if not isinstance(self.half_life, timedelta) or self.half_life <= timedelta(0):
            raise InvalidInputError(
                f"half_life must be a positive timedelta, not {self.half_life!r}"
            )


class Forget(NamedTuple):
    """A memory to forget, and why."""

    memory_id: str
    reason: str


def forgotten_by_policy(reason: str | None) -> bool:
    """Whether an erasure's `reason` is a policy's (`plan_forgetting`): decay, which takes
    nothing back, unlike a user's erasure, which gives back what the memory retired."""
    return reason is not None and reason.startswith(_POLICY)


def decay(memory: Memory, now: datetime, half_life: timedelta) -> float:
    """How much of its ranking weight a memory keeps: 0.5 ** (idle time / half-life).

    Idle time runs from the latest of its last access, its record time and its last saying
    (a value the user said again lately is fresh); pinned memories do not fade. An access or
    saying after `now` does not count (a search "as of" an earlier time). The result is in
    [0, 1] (1.0 for a time in the future).

    Raises:
        InvalidInputError: `half_life` is not positive.
    """
    if half_life <= timedelta(0):
        raise InvalidInputError("half_life must be positive")
    if memory.pinned:
        return 1.0
    times = [memory.last_accessed_at, *(saying.at for saying in sayings(memory))]
    used = max((at for at in times if at is not None and at <= now), default=None)
    idle = (now - max(memory.recorded_at, used or memory.recorded_at)).total_seconds()
    return 1.0 if idle <= 0 else float(0.5 ** (idle / half_life.total_seconds()))


def _expired(memory: Memory, policy: ForgettingPolicy, now: datetime) -> str | None:
    if policy.min_access is not None and memory.access_count >= policy.min_access:
        return None
    if policy.max_age is not None and now - memory.recorded_at > policy.max_age:
        return f"{_POLICY}max_age"
    last = _last_used(memory)
    if policy.max_idle is not None and now - last > policy.max_idle:
        return f"{_POLICY}max_idle"
    return None


def _last_used(memory: Memory) -> datetime:
    """When `memory` was last recorded, accessed or said again (`timeline.last_said_at`: a
    value the user restated yesterday is not idle since it was first recorded)."""
    said = last_said_at(memory)
    return max(
        memory.recorded_at,
        memory.last_accessed_at or memory.recorded_at,
        said or memory.recorded_at,
    )


def _eviction_order(
    memory: Memory, now: datetime, half_life: timedelta
) -> tuple[float, float, int, datetime, str]:
    """Sort key of `max_per_user`, lowest evicted first: importance, then freshness
    (`decay`: how recently recorded or used), then access count, then record time (and id,
    so the order is total). A memory the user's profile or recall puts in every prompt is
    fresh; an old, never used one of equal importance goes before it."""
    freshness = decay(memory, now, half_life)
    return memory.importance, freshness, memory.access_count, memory.recorded_at, memory.id


def _exempt(memory: Memory, policy: ForgettingPolicy, profile: Collection[str]) -> bool:
    """Whether `policy` keeps `memory` from every rule: pinned, or the source of a current
    profile field (an id of `profile`), while the policy keeps those."""
    return (policy.keep_pinned and memory.pinned) or (policy.keep_profile and memory.id in profile)


def _over_cap(
    memories: Iterable[Memory],
    policy: ForgettingPolicy,
    now: datetime,
    cap: int,
    profile: Collection[str],
) -> list[Forget]:
    scopes: dict[tuple[str, str | None, str | None], list[Memory]] = {}
    for memory in memories:
        if memory.superseded_at is None:  # retired history is max_age's and max_idle's
            scopes.setdefault((memory.tenant, memory.user_id, memory.agent_id), []).append(memory)
    forgotten: list[Forget] = []
    for members in scopes.values():
        excess = len(members) - cap
        if excess <= 0:
            continue
        removable = [m for m in members if not _exempt(m, policy, profile)]
        removable.sort(key=lambda memory: _eviction_order(memory, now, policy.half_life))
        forgotten.extend(Forget(m.id, f"{_POLICY}max_per_user") for m in removable[:excess])
    return forgotten


def plan_forgetting(
    memories: Sequence[Memory],
    policy: ForgettingPolicy,
    now: datetime,
    *,
    profile: Collection[str] = (),
) -> list[Forget]:
    """The memories `policy` forgets at `now`, each with its reason.

    Args:
        memories: The memories to examine (any scopes).
        policy: The rules.
        now: The current time.
        profile: The ids of the memories the users' current profile fields come from
            (`UserProfile.sources`): exempt while `policy.keep_profile` holds. They still
            count towards `max_per_user`, as pinned memories do.

    Returns:
        One `Forget` per memory to delete, in input order for the age and inactivity rules,
        then the current ones over the per-user cap, first evicted first.
    """
    forgotten: list[Forget] = []
    survivors: list[Memory] = []
    for memory in memories:
        reason = None if _exempt(memory, policy, profile) else _expired(memory, policy, now)
        if reason:
            forgotten.append(Forget(memory.id, reason))
        else:
            survivors.append(memory)
    if policy.max_per_user is not None:
        forgotten.extend(_over_cap(survivors, policy, now, policy.max_per_user, profile))
    return forgotten
