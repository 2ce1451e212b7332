"""Memories scoped to an agent, to a user and an agent, and to a session, end to end through
`Engram.memories` on SQLite and PostgreSQL: what each scope's reads find, how an agent's own
facts are revised, what each scope's erasure leaves, and the maintenance jobs' reach.

A scope is an AND of the ids given; an id left out matches any (as mem0's filters): a
user's reads find the user's memories of every agent and session, an agent's reads find
its memories of every user, its own (user-less) ones included."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from engram import Engram, Message, NotFoundError
from engram.memory.forgetting import ForgettingPolicy
from engram.types._memory import Memory

pytest_plugins = ["servers"]

ANA = "Ana's deploy window is Friday evening"
ANA_OPS = "Ana wants deploy alerts by SMS"
ANA_S1 = "Ana asked to deploy the billing service"
OPS = "The deploy target is us-east-1"
SUPPORT = "The deploy freeze starts in December"
BOB_S1 = "Bob rotates his deploy keys monthly"

SCOPES: dict[str, dict[str, str]] = {
    ANA: {"user_id": "ana"},
    ANA_OPS: {"user_id": "ana", "agent_id": "ops"},
    ANA_S1: {"user_id": "ana", "session_id": "s1"},
    OPS: {"agent_id": "ops"},
    SUPPORT: {"agent_id": "support"},
    BOB_S1: {"user_id": "bob", "session_id": "s1"},
}
"""One memory stored as is in each scope; every text is about deploys."""

EMPLOYER = "Xyzzorpcorp"
"""A name no other memory gives (its entity goes with the memory)."""

EVERYONE = [{"user_id": "ana"}, {"user_id": "bob"}, {"agent_id": "ops"}, {"agent_id": "support"}]
"""Scopes whose reads together cover every memory of `SCOPES`."""

FOUND_BY: list[tuple[dict[str, str], set[str]]] = [
    ({"agent_id": "ops"}, {OPS, ANA_OPS}),
    ({"agent_id": "support"}, {SUPPORT}),
    ({"agent_id": "nobody"}, set()),
    ({"user_id": "ana"}, {ANA, ANA_OPS, ANA_S1}),
    ({"user_id": "ana", "agent_id": "ops"}, {ANA_OPS}),
    ({"user_id": "ana", "agent_id": "support"}, set()),
    ({"user_id": "ana", "session_id": "s1"}, {ANA_S1}),
    ({"session_id": "s1"}, {ANA_S1, BOB_S1}),
    ({"user_id": "bob"}, {BOB_S1}),
]
"""What the reads of each scope find of `SCOPES`: every id given must match."""


@pytest.fixture
def mem(memory_engram: Engram) -> Engram:
    """An Engram whose memories are in SQLite, or in PostgreSQL + pgvector."""
    return memory_engram


@pytest.fixture
def stored(mem: Engram) -> dict[str, Memory]:
    """The memories of `SCOPES`, by text."""
    return {
        text: mem.memories.add(text, infer=False, **scope).added[0]
        for text, scope in SCOPES.items()
    }


def texts(memories: list[Memory]) -> set[str]:
    return {memory.text for memory in memories}


def every_text(mem: Engram) -> set[str]:
    """The texts of every memory of `SCOPES`' scopes, retired ones too."""
    return {
        memory.text
        for scope in EVERYONE
        for memory in mem.memories.get_all(include_superseded=True, **scope)
    }


def said(text: str) -> list[Message]:
    return [Message(role="user", content=text)]


def said_at(text: str, when: datetime) -> Message:
    return Message(role="user", content=text, created_at=when)


# 1. What each scope's reads find.


@pytest.mark.usefixtures("stored")
@pytest.mark.parametrize(("scope", "expected"), FOUND_BY)
def test_a_scopes_search_and_listing_find_exactly_its_memories(
    mem: Engram, scope: dict[str, str], expected: set[str]
) -> None:
    assert texts(mem.memories.get_all(**scope)) == expected
    hits = mem.memories.search("deploy", limit=50, **scope)
    assert texts([hit.memory for hit in hits]) == expected


def test_each_stored_memory_keeps_the_scope_it_was_added_with(
    mem: Engram, stored: dict[str, Memory]
) -> None:
    for text, memory in stored.items():
        fetched = mem.memories.get(memory.id)
        scope = {"user_id": None, "agent_id": None, "session_id": None, **SCOPES[text]}
        assert (fetched.user_id, fetched.agent_id, fetched.session_id) == tuple(scope.values())


def test_what_an_agent_is_told_stays_with_that_agent(mem: Engram) -> None:
    mem.memories.add(messages=said("I live in Porto. I love sushi."), user_id="ana", agent_id="ops")
    mem.memories.add(messages=said("The deploy target is us-east-1."), agent_id="ops")
    mem.memories.add(messages=said("I love ramen."), user_id="ana", agent_id="support")
    told_ops = mem.memories.get_all(user_id="ana", agent_id="ops")
    assert {m.attribute for m in told_ops} >= {"home_city", "preference:sushi"}
    assert all((m.user_id, m.agent_id) == ("ana", "ops") for m in told_ops)
    agents_own = [m for m in mem.memories.get_all(agent_id="ops") if m.user_id is None]
    assert texts(agents_own) == {"The deploy target is us-east-1."}
    food = {hit.memory.text for hit in mem.memories.search("what food do I love?", agent_id="ops")}
    assert "The user loves sushi" in food and "The user loves ramen" not in food
    everywhere = {hit.memory.text for hit in mem.memories.search("food I love", user_id="ana")}
    assert {"The user loves sushi", "The user loves ramen"} <= everywhere
    hits = mem.memories.search("deploy target", user_id="ana", agent_id="support")
    assert {hit.memory.text for hit in hits} <= {"I love ramen.", "The user loves ramen"}


def test_an_agents_memories_of_many_users_page_newest_first(mem: Engram) -> None:
    added = [
        mem.memories.add(f"Deploy note {n}", infer=False, agent_id="ops", **scope).added[0].id
        for n, scope in enumerate([{"user_id": "u2"}, {}, {"user_id": "u1"}, {}, {"user_id": "u2"}])
    ]
    pages = [mem.memories.get_all(agent_id="ops", limit=2, offset=at) for at in (0, 2, 4)]
    assert [m.id for page in pages for m in page] == added[::-1]


def test_an_agents_search_of_the_past_finds_its_own_value_then(mem: Engram) -> None:
    jan, june = (datetime(2025, month, 1, tzinfo=UTC) for month in (1, 6))
    mem.memories.add(messages=[said_at("I live in Madrid.", jan)], agent_id="ops")
    mem.memories.add(messages=[said_at("I live in Rome.", jan)], agent_id="support")
    mem.memories.add(messages=[said_at("I live in Oslo.", jan)], user_id="ana", agent_id="ops")
    mem.memories.add(messages=[said_at("I moved to Lisbon.", june)], agent_id="ops")
    march = datetime(2025, 3, 1, tzinfo=UTC)
    for scope, then, now in [
        ({"agent_id": "ops"}, {"Madrid", "Oslo"}, {"Lisbon", "Oslo"}),
        ({"agent_id": "support"}, {"Rome"}, {"Rome"}),
        ({"user_id": "ana"}, {"Oslo"}, {"Oslo"}),
    ]:
        hits = mem.memories.search("where do I live?", as_of=march, kinds=["profile"], **scope)
        assert {hit.memory.metadata["value"] for hit in hits} == then
        hits = mem.memories.search("where do I live?", kinds=["profile"], **scope)
        assert {hit.memory.metadata["value"] for hit in hits} == now


@pytest.mark.usefixtures("stored")
def test_the_async_twins_scope_as_the_sync_calls(mem: Engram) -> None:
    async def agents_reads_then_erasure() -> tuple[set[str], set[str], int]:
        hits = await mem.memories.asearch("deploy", agent_id="ops", limit=50)
        listed = await mem.memories.aget_all(user_id="ana", agent_id="ops")
        report = await mem.memories.adelete_all(agent_id="ops")
        return texts([hit.memory for hit in hits]), texts(listed), report.memories

    assert asyncio.run(agents_reads_then_erasure()) == ({OPS, ANA_OPS}, {ANA_OPS}, 2)
    assert every_text(mem) == {ANA, ANA_S1, SUPPORT, BOB_S1}


# 2. An agent's own facts are revised within the agent.


def test_an_agents_fact_said_again_is_stored_once(mem: Engram) -> None:
    [first] = mem.memories.add(OPS, agent_id="ops", infer=False).added
    again = mem.memories.add(OPS, agent_id="ops", infer=False)
    assert (again.added, again.unchanged) == ((), 1)
    assert [m.id for m in mem.memories.get_all(agent_id="ops")] == [first.id]


def test_another_agents_or_a_users_identical_memory_is_not_merged(mem: Engram) -> None:
    [ana] = mem.memories.add(OPS, user_id="ana", agent_id="ops", infer=False).added
    [ops] = mem.memories.add(OPS, agent_id="ops", infer=False).added
    [support] = mem.memories.add(OPS, agent_id="support", infer=False).added
    assert len({ana.id, ops.id, support.id}) == 3
    for memory in (ana, ops, support):
        assert mem.memories.get(memory.id).is_current
        assert [c.action for c in mem.memories.history(memory.id)] == ["add"]


@pytest.mark.parametrize("own", [{"agent_id": "ops"}, {"session_id": "s9"}])
def test_a_userless_scopes_duplicate_is_found_among_many_of_its_users_memories(
    mem: Engram, own: dict[str, str]
) -> None:
    """The users an agent (or a session) serves hold the same text: its own one, stored
    without a user, is still found, as it revises against its own memories only."""
    for user in ("u1", "u2", "u3", "u4", "u5", "u6"):
        mem.memories.add(OPS, user_id=user, infer=False, **own)
    [mine] = mem.memories.add(OPS, infer=False, **own).added
    again = mem.memories.add(OPS, infer=False, **own)
    assert (again.added, again.unchanged) == ((), 1)
    userless = [m for m in mem.memories.get_all(**own) if m.user_id is None]
    assert [m.id for m in userless] == [mine.id]


def test_an_agents_own_slot_moves_within_the_agent_alone(mem: Engram) -> None:
    mem.memories.add(messages=said("I live in Porto."), user_id="ana", agent_id="ops")
    mem.memories.add(messages=said("I live in Madrid."), agent_id="ops")
    mem.memories.add(messages=said("I live in Madrid."), agent_id="support")
    report = mem.memories.add(messages=said("I moved to Lisbon."), agent_id="ops")
    assert [(m.user_id, m.agent_id, m.metadata["value"]) for m in report.superseded] == [
        (None, "ops", "Madrid")
    ]
    homes = {
        m.id: (m.user_id or "-", m.agent_id, m.metadata["value"])
        for scope in EVERYONE
        for m in mem.memories.get_all(**scope)
        if m.attribute == "home_city"
    }
    assert sorted(homes.values()) == [
        ("-", "ops", "Lisbon"),
        ("-", "support", "Madrid"),
        ("ana", "ops", "Porto"),
    ]
    assert mem.memories.profile("ana").fields == {"home_city": "Porto"}  # type: ignore[union-attr]


def test_a_users_fact_outlives_the_session_that_said_it_first(mem: Engram) -> None:
    """Said outright after a session said it, the fact is the user's, not the session's."""
    mem.memories.add(ANA, user_id="ana", session_id="s1", infer=False)
    mem.memories.add(ANA, user_id="ana", infer=False)
    mem.memories.delete_all(user_id="ana", session_id="s1")
    assert texts(mem.memories.get_all(user_id="ana")) == {ANA}


# 3. Erasing a scope erases exactly it.


ERASED: list[tuple[dict[str, str], set[str]]] = [
    ({"agent_id": "ops"}, {OPS, ANA_OPS}),
    ({"user_id": "ana", "agent_id": "ops"}, {ANA_OPS}),
    ({"user_id": "ana", "session_id": "s1"}, {ANA_S1}),
    ({"session_id": "s1"}, {ANA_S1, BOB_S1}),
]


@pytest.mark.parametrize(("scope", "erased"), ERASED)
def test_delete_all_erases_exactly_its_scope_and_leaves_tombstones(
    mem: Engram, stored: dict[str, Memory], scope: dict[str, str], erased: set[str]
) -> None:
    report = mem.memories.delete_all(**scope)
    assert (report.memories, report.vectors) == (len(erased), len(erased))
    assert report.history == len(erased)  # each memory's `add` entry, blanked
    assert (report.entities, report.relations, report.profiles) == (0, 0, 0)
    assert every_text(mem) == set(SCOPES) - erased
    assert mem.memories.get_all(**scope) == []
    found = {hit.memory.text for s in EVERYONE for hit in mem.memories.search("deploy", **s)}
    assert found == set(SCOPES) - erased
    for text in erased:
        history = mem.memories.history(stored[text].id)
        assert [c.action for c in history] == ["add", "delete"]
        assert all(c.old_text is None and c.new_text is None for c in history)
    for text in set(SCOPES) - erased:
        [entry] = mem.memories.history(stored[text].id)
        assert entry.new_text == text


def test_erasing_a_user_leaves_the_agents_own_and_other_users(
    mem: Engram, stored: dict[str, Memory]
) -> None:
    report = mem.memories.delete_all(user_id="ana")
    assert (report.memories, report.vectors, report.history) == (3, 3, 3)
    assert every_text(mem) == {OPS, SUPPORT, BOB_S1}
    for text in (ANA, ANA_OPS, ANA_S1):
        with pytest.raises(NotFoundError):  # no tombstone: nothing of Ana is left
            mem.memories.history(stored[text].id)


def test_delete_all_of_a_scope_with_nothing_erases_nothing(
    mem: Engram, stored: dict[str, Memory]
) -> None:
    report = mem.memories.delete_all(user_id="ana", agent_id="support")
    assert report.total == 0
    assert every_text(mem) == set(stored)


@pytest.mark.parametrize("scope", [{"agent_id": "ops"}, {"user_id": "ana", "agent_id": "ops"}])
def test_erasing_an_agent_takes_what_the_user_told_it_from_the_profile(
    mem: Engram, scope: dict[str, str]
) -> None:
    mem.memories.add(messages=said(f"I work at {EMPLOYER}."), user_id="ana", agent_id="ops")
    mem.memories.add(messages=said("I love sushi."), user_id="ana", agent_id="support")
    report = mem.memories.delete_all(**scope)
    assert (report.memories, report.profiles) == (2, 1)  # the fact and its episode
    assert report.entities >= 1 and report.relations >= 1
    left = mem.memories.get_all(user_id="ana", include_superseded=True)
    assert {m.agent_id for m in left} == {"support"}
    assert "employer" not in mem.memories.profile("ana").fields  # type: ignore[union-attr]
    assert EMPLOYER not in {e.name for e in mem.memories.entities(user_id="ana")}
    assert mem.memories.relations(user_id="ana") == []


def test_an_erased_agent_memorys_edited_texts_leave_its_history(
    mem: Engram, stored: dict[str, Memory]
) -> None:
    mem.memories.update(stored[OPS].id, "The deploy target is ap-south-1")
    report = mem.memories.delete_all(agent_id="ops")
    assert report.history == 3  # Ana's add; the agent's add and edit
    history = mem.memories.history(stored[OPS].id)
    assert [c.action for c in history] == ["add", "update", "delete"]
    assert all(c.old_text is None and c.new_text is None for c in history)


# 4. Export and import, consolidation, forgetting.


@pytest.mark.parametrize("scope", [{"agent_id": "ops"}, {"user_id": "ana", "agent_id": "ops"}])
def test_an_agents_export_imports_elsewhere_as_it_was(
    mem: Engram, memory_address: str, stored: dict[str, Memory], scope: dict[str, str]
) -> None:
    data = mem.memories.export(**scope)
    exported = {row["id"]: {**row, "tenant": "elsewhere"} for row in data["memories"]}
    assert set(exported) == {m.id for m in mem.memories.get_all(**scope)}
    with Engram(memory_address, tenant="elsewhere") as elsewhere:
        elsewhere.memories.import_(data)
        imported = elsewhere.memories.get_all(**scope)
        assert {m.id: m.to_dict() for m in imported} == exported
        assert every_text(elsewhere) == texts(imported)


def duplicate(mem: Engram, text: str, **scope: str) -> Memory:
    """A second memory of `text` in the scope (an add would find it a duplicate: an edit
    makes one)."""
    [memory] = mem.memories.add("A placeholder", infer=False, **scope).added
    return mem.memories.update(memory.id, text)


def test_consolidating_a_user_merges_within_each_agent_and_spares_the_agents_own(
    mem: Engram,
) -> None:
    for scope in ({}, {"agent_id": "ops"}, {"agent_id": "support"}):
        mem.memories.add(OPS, user_id="ana", infer=False, **scope)
    duplicate(mem, OPS, user_id="ana", agent_id="ops")
    [own] = mem.memories.add(OPS, agent_id="ops", infer=False).added
    others = duplicate(mem, OPS, agent_id="ops")
    assert mem.memories.consolidate(user_id="ana") == 1
    left = mem.memories.get_all(user_id="ana")
    assert sorted(m.agent_id or "" for m in left) == ["", "ops", "support"]
    agents_own = [m for m in mem.memories.get_all(agent_id="ops") if m.user_id is None]
    assert {m.id for m in agents_own} == {own.id, others.id}


def test_forgetting_a_users_memories_spares_the_agents_own(
    mem: Engram, stored: dict[str, Memory]
) -> None:
    report = mem.memories.forget(ForgettingPolicy(max_per_user=0), user_id="ana")
    assert report is not None and report.memories == 3
    assert every_text(mem) == {OPS, SUPPORT, BOB_S1}


def test_an_agents_own_add_reads_no_users_turns_as_its_context(mem: Engram) -> None:
    """The earlier turns an add's extraction reads (a correction's, an episode's context)
    are its own scope's: a user's words never reach the agent's own memories, which outlive
    the user's erasure."""
    first = Message(role="user", content="I live in Porto.", session_id="c1")
    mem.memories.add(messages=[first], user_id="ana", agent_id="ops")
    then = Message(role="user", content="Oops, I meant Braga.", session_id="c1")
    mem.memories.add(messages=[then], agent_id="ops")
    mem.memories.delete_all(user_id="ana")
    left = mem.memories.get_all(agent_id="ops", include_superseded=True)
    assert left and not any("Porto" in m.text or "Porto" in str(m.metadata) for m in left)
