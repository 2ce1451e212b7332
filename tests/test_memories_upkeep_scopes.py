"""The upkeep jobs (`consolidate`, `bloat`, `forget`, `forgettable`, their async twins and
the `engram memories consolidate|forget --agent` commands) take an agent's scope as `add`
does, end to end on SQLite and PostgreSQL: `agent_id` alone keeps up the agent's own
memories (stored without a user), never what its users told it; `user_id` with
`agent_id`, what the user told that agent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from engram import Engram
from engram._exceptions import InvalidInputError
from engram._memory_transfer import MEMORY_EXPORT_FORMAT
from engram.cli import main
from engram.memory import ForgettingPolicy
from engram.types._memory import Memory, UserProfile

pytest_plugins = ["servers"]

OPS = "The deploy target is us-east-1"
FREEZE = "The deploy freeze starts in December"
JAN = datetime(2025, 1, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)
OWN = {"agent_id": "ops"}
"""The agent's own memories (stored without a user)."""
TOLD = {"user_id": "ana", "agent_id": "ops"}
"""What the user told the agent (the user's)."""


@pytest.fixture
def mem(memory_engram: Engram) -> Engram:
    """An Engram whose memories are in SQLite, or in PostgreSQL + pgvector."""
    return memory_engram


def export(memories: list[Memory], profile: UserProfile | None = None) -> dict[str, Any]:
    return {
        "format": MEMORY_EXPORT_FORMAT,
        "memories": [memory.to_dict() for memory in memories],
        "history": [],
        "entities": [],
        "relations": [],
        "profile": profile.to_dict() if profile else None,
    }


def duplicate(mem: Engram, text: str, **scope: str) -> Memory:
    """A second memory of `text` in the scope (an add would find it a duplicate: an edit
    makes one)."""
    [memory] = mem.memories.add("A placeholder", infer=False, **scope).added
    return mem.memories.update(memory.id, text)


def twice(mem: Engram, text: str, **scope: str) -> set[str]:
    """The ids of two identical memories of `text` in the scope."""
    [first] = mem.memories.add(text, infer=False, **scope).added
    return {first.id, duplicate(mem, text, **scope).id}


def ids(mem: Engram, **scope: str) -> set[str]:
    """The current memories of exactly the scope (`agent_id` alone: the agent's own)."""
    user = scope.get("user_id")
    return {m.id for m in mem.memories.get_all(**scope) if m.user_id == user}


# Consolidation and bloat.


def test_an_agents_own_duplicates_merge_and_what_its_users_told_it_stays(mem: Engram) -> None:
    own = twice(mem, OPS, **OWN)
    told = twice(mem, OPS, **TOLD)
    assert mem.memories.consolidate(agent_id="ops") == 1
    [kept] = ids(mem, **OWN)
    assert kept in own and [c.action for c in mem.memories.history(kept)][-1] == "merge"
    assert ids(mem, **TOLD) == told  # the user's: untouched
    assert mem.memories.consolidate(**TOLD) == 1
    assert len(ids(mem, **TOLD)) == 1 and ids(mem, **OWN) == {kept}


def test_an_agents_bloat_is_of_its_own_memories_and_none_after_consolidating(
    mem: Engram,
) -> None:
    twice(mem, OPS, **OWN)
    mem.memories.add(FREEZE, infer=False, **OWN)
    twice(mem, OPS, **TOLD)
    assert mem.memories.bloat(agent_id="ops") == pytest.approx(1 / 3)  # not 2 of 5
    assert mem.memories.consolidate(agent_id="ops") == 1
    assert mem.memories.bloat(agent_id="ops") == 0.0
    assert mem.memories.bloat(**TOLD) == pytest.approx(1 / 2)
    assert mem.memories.consolidate(**TOLD) == 1
    assert mem.memories.bloat(**TOLD) == 0.0


def home(text: str, **fields: Any) -> Memory:
    return Memory(
        text, kind="profile", attribute="home_city", metadata={"value": "Lisbon"}, **fields
    )


def test_consolidating_an_agents_own_re_points_what_its_merged_away_memory_retired(
    mem: Engram,
) -> None:
    kept = home("The user lives in Lisbon", importance=0.9, recorded_at=JAN + 3 * DAY, **OWN)
    merged = home("The user lives in Lisbon now", recorded_at=JAN + 2 * DAY, **OWN)
    old = Memory(
        "The user lives in Porto",
        kind="profile",
        attribute="home_city",
        metadata={"value": "Porto"},
        recorded_at=JAN,
        superseded_at=JAN + 2 * DAY,
        superseded_by=merged.id,
        **OWN,
    )
    mem.memories.import_(export([kept, merged, old]))
    assert mem.memories.consolidate(agent_id="ops", threshold=0.85) == 1
    assert ids(mem, **OWN) == {kept.id}
    assert mem.memories.get(old.id).superseded_by == kept.id


def test_consolidating_what_a_user_told_an_agent_re_points_the_users_other_memories(
    mem: Engram,
) -> None:
    """The user's value retired by what the user told the agent was stored by no agent; it
    and the profile field name the survivor after the merge."""
    kept = home("The user lives in Lisbon", importance=0.9, recorded_at=JAN + 3 * DAY, **TOLD)
    merged = home("The user lives in Lisbon now", recorded_at=JAN + 2 * DAY, **TOLD)
    old = Memory(
        "The user lives in Porto",
        kind="profile",
        user_id="ana",
        attribute="home_city",
        metadata={"value": "Porto"},
        recorded_at=JAN,
        superseded_at=JAN + 2 * DAY,
        superseded_by=merged.id,
    )
    profile = UserProfile("ana", fields={"home_city": "Lisbon"}, sources={"home_city": merged.id})
    mem.memories.import_(export([kept, merged, old], profile))
    assert mem.memories.consolidate(**TOLD, threshold=0.85) == 1
    assert mem.memories.get(old.id).superseded_by == kept.id
    assert mem.memories.profile("ana").sources == {"home_city": kept.id}  # type: ignore[union-attr]


# Forgetting.


@pytest.fixture
def old_memories(mem: Engram) -> dict[str, Memory]:
    """Memories recorded in January 2025, by name: two of the agent's own (one pinned), what
    the user told it, the user's own and another agent's."""
    memories = {
        "own": Memory("The agent restarts the cache nightly", recorded_at=JAN, **OWN),
        "pinned": Memory(OPS, recorded_at=JAN, pinned=True, **OWN),
        "told": Memory("Ana wants deploy alerts by SMS", recorded_at=JAN, **TOLD),
        "ana": Memory("Ana's deploy window is Friday evening", recorded_at=JAN, user_id="ana"),
        "support": Memory(FREEZE, recorded_at=JAN, agent_id="support"),
    }
    mem.memories.import_(export(list(memories.values())))
    return memories


def stored_names(mem: Engram, memories: dict[str, Memory]) -> set[str]:
    found = mem.memories.get_all
    everyone = [*found(agent_id="ops"), *found(agent_id="support"), *found(user_id="ana")]
    by_id = {memory.id: name for name, memory in memories.items()}
    return {by_id[memory.id] for memory in everyone if memory.id in by_id}


@pytest.mark.parametrize(
    ("policy", "reason"),
    [
        (ForgettingPolicy(max_age=timedelta(days=30)), "policy: max_age"),
        (ForgettingPolicy(max_per_user=0), "policy: max_per_user"),
    ],
)
def test_forgetting_an_agents_memories_erases_only_its_own_unpinned_ones(
    mem: Engram, old_memories: dict[str, Memory], policy: ForgettingPolicy, reason: str
) -> None:
    doomed = mem.memories.forgettable(policy, agent_id="ops")
    assert doomed == [(old_memories["own"].id, reason)]
    report = mem.memories.forget(policy, agent_id="ops")
    assert report is not None and report.memories == 1
    assert stored_names(mem, old_memories) == {"pinned", "told", "ana", "support"}
    assert mem.memories.forget(policy, agent_id="ops") is None  # nothing left to forget


def test_forgetting_what_a_user_told_an_agent_spares_the_rest_of_the_user(
    mem: Engram, old_memories: dict[str, Memory]
) -> None:
    report = mem.memories.forget(ForgettingPolicy(max_per_user=0), **TOLD)
    assert report is not None and report.memories == 1
    assert stored_names(mem, old_memories) == {"own", "pinned", "ana", "support"}


async def test_the_async_twins_keep_up_an_agents_own_memories(
    mem: Engram, old_memories: dict[str, Memory]
) -> None:
    twice(mem, FREEZE, **OWN)
    assert await mem.memories.abloat(agent_id="ops") == pytest.approx(1 / 4)
    assert await mem.memories.aconsolidate(agent_id="ops") == 1
    assert await mem.memories.abloat(agent_id="ops") == 0.0
    policy = ForgettingPolicy(max_age=timedelta(days=30))
    doomed = await mem.memories.aforgettable(policy, agent_id="ops")
    assert doomed == [(old_memories["own"].id, "policy: max_age")]
    report = await mem.memories.aforget(policy, agent_id="ops")
    assert report is not None and report.memories == 1
    assert stored_names(mem, old_memories) == {"pinned", "told", "ana", "support"}


UNSCOPED: list[Callable[[Engram], Any]] = [
    lambda mem: mem.memories.consolidate(),
    lambda mem: mem.memories.bloat(),
    lambda mem: mem.memories.forget(ForgettingPolicy(max_per_user=0)),
    lambda mem: mem.memories.forgettable(ForgettingPolicy(max_per_user=0)),
]


@pytest.mark.usefixtures("old_memories")
def test_upkeep_without_a_scope_is_refused(mem: Engram) -> None:
    for call in UNSCOPED:
        with pytest.raises(InvalidInputError, match="user_id, agent_id or session_id"):
            call(mem)
    assert len(mem.memories.get_all(agent_id="ops")) == 3  # nothing was forgotten


# The CLI.


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A SQLite file: the agent's own duplicates, one pinned memory of its own, and the
    user's duplicates told to it."""
    path = str(tmp_path / "memories.db")
    with Engram(path) as mem:
        twice(mem, OPS, **OWN)
        mem.memories.add(FREEZE, infer=False, pinned=True, **OWN)
        twice(mem, OPS, **TOLD)
    return path


def rows(output: str) -> list[list[str]]:
    """The cells of each row of a table."""
    return [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in output.splitlines()
        if line.startswith("│")
    ]


def test_consolidate_and_forget_take_an_agent(db: str) -> None:
    runner = CliRunner()
    consolidate = ["memories", "consolidate", "--db", db, "--agent", "ops"]
    merged = runner.invoke(main, consolidate, terminal_width=200)
    assert merged.exit_code == 0, merged.output
    assert "agent ops" in merged.output
    assert rows(merged.output) == [["-", "1", "33.3%", "0.0%"]]
    told = runner.invoke(main, [*consolidate, "--user", "ana"], terminal_width=200)
    assert told.exit_code == 0, told.output
    assert rows(told.output) == [["ana", "1", "50.0%", "0.0%"]]
    with Engram(db) as mem:
        kept = {m.pinned: m.id for m in mem.memories.get_all(agent_id="ops") if not m.user_id}
        [told_id] = [m.id for m in mem.memories.get_all(**TOLD)]
    forget = ["memories", "forget", "--db", db, "--agent", "ops", "--max-per-user", "0"]
    planned = runner.invoke(main, [*forget, "--dry-run"], terminal_width=200)
    assert planned.exit_code == 0, planned.output
    assert rows(planned.output)[0][:2] == ["-", "fact"]
    assert kept[False] in planned.output
    assert kept[True] not in planned.output and told_id not in planned.output
    erased = runner.invoke(main, forget, terminal_width=200)
    assert erased.exit_code == 0, erased.output
    assert rows(erased.output)[0][:2] == ["-", "1"]
    with Engram(db) as mem:
        [left] = [m for m in mem.memories.get_all(agent_id="ops") if m.user_id is None]
        assert left.pinned and left.text == FREEZE
        assert len(mem.memories.get_all(**TOLD)) == 1  # the user's: consolidated, kept


def test_forget_without_a_user_or_an_agent_names_both(db: str) -> None:
    command = ["memories", "forget", "--db", db, "--max-per-user", "0"]
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 2 and "--agent" in result.output
    with Engram(db) as mem:
        assert len(mem.memories.get_all(agent_id="ops")) == 5
