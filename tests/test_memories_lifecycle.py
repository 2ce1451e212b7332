"""The end of a memory's life through the public API: scoped erasure, the embedding cache,
imports of partial exports, forgetting; and the API's bounds."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engram import Engram, InvalidInputError, Message
from engram._memory_transfer import MEMORY_EXPORT_FORMAT
from engram.memory.forgetting import ForgettingPolicy
from engram.providers import CachedEmbedder, LocalEmbedder
from engram.types._memory import Memory

pytest_plugins = ["servers"]

EMPLOYER = "Xyzzorpcorp"


@pytest.fixture
def address(memory_address: str) -> str:
    return memory_address


@pytest.fixture
def mem(memory_engram: Engram) -> Engram:
    return memory_engram


def names(mem: Engram) -> list[str]:
    return sorted(entity.name for entity in mem.memories.entities(user_id="ana"))


@pytest.mark.parametrize("scope", [{"session_id": "s9"}, {"agent_id": "bot9"}])
def test_erasing_a_session_or_agent_takes_the_entities_only_it_named(
    mem: Engram, scope: dict[str, str]
) -> None:
    said = [Message(role="user", content="I live in Porto.")]
    mem.memories.add(messages=said, user_id="ana", session_id="s1")
    work = [Message(role="user", content=f"I work at {EMPLOYER}.")]
    mem.memories.add(messages=work, user_id="ana", **scope)
    assert EMPLOYER in names(mem)
    report = mem.memories.delete_all(user_id="ana", **scope)
    assert report.entities >= 1
    assert EMPLOYER not in names(mem) and "Porto" in names(mem)  # the rest of the user stays
    assert mem.memories.profile("ana").fields == {"home_city": "Porto"}  # type: ignore[union-attr]


class Counting(LocalEmbedder):
    """The local model, remembering which texts it really embedded (not served by a cache)."""

    def __init__(self) -> None:
        super().__init__(threads=1)
        self.seen: list[str] = []

    def embed(self, texts: Sequence[str]) -> Any:
        self.seen += texts
        return super().embed(texts)


def test_erasure_drops_every_text_a_memory_had_from_the_embedding_cache(tmp_path: Path) -> None:
    model = Counting()
    embedder = CachedEmbedder(model)
    texts = ["My diary is blue.", "My diary is red."]
    with Engram(tmp_path / "m.db", embedder=embedder) as mem:
        memory = mem.memories.add(texts[0], user_id="ana", infer=False).added[0]
        mem.memories.update(memory.id, texts[1])
        model.seen.clear()
        embedder.embed(texts, tenant=mem.tenant)
        assert model.seen == []  # the control: both were cached
        mem.memories.delete_all(user_id="ana")
        embedder.embed(texts, tenant=mem.tenant)
        assert model.seen == texts  # neither is any more


def test_a_sessions_export_imports_elsewhere_without_its_links(tmp_path: Path) -> None:
    """A session's export holds no entities: its memories keep their text, not dead links."""
    with Engram(tmp_path / "a.db") as source:
        work = [Message(role="user", content=f"I work at {EMPLOYER}.")]
        source.memories.add(messages=work, user_id="ana", session_id="s9")
        data = source.memories.export(user_id="ana", session_id="s9")
    assert data["entities"] == [] and any(m["entity_ids"] for m in data["memories"])
    with Engram(tmp_path / "b.db") as target:
        stored = target.memories.import_(data)
        assert {m.text for m in stored} == {m["text"] for m in data["memories"]}
        assert all(m.entity_ids == () for m in stored)


def test_an_old_export_imported_again_does_not_revive_what_the_user_changed(
    mem: Engram, tmp_path: Path
) -> None:
    with Engram(tmp_path / "a.db") as source:
        source.memories.add("I live in Berlin.", user_id="ana")
        data = source.memories.export(user_id="ana")
    mem.memories.import_(data)
    mem.memories.add("I moved to Lisbon.", user_id="ana")
    mem.memories.update_profile("ana", {"diet": "vegan"})
    mem.memories.import_(data)  # the same, older export again
    assert mem.memories.profile("ana").fields == {"home_city": "Lisbon", "diet": "vegan"}
    facts = mem.memories.get_all(user_id="ana", kinds=["fact", "profile"])
    [fact] = [memory for memory in facts if memory.attribute == "home_city"]
    assert "Lisbon" in fact.text  # the Berlin fact stays retired, its relation ended
    [current] = mem.memories.relations(user_id="ana", as_of=datetime.now(UTC))
    assert current.memory_id == fact.id


def test_an_import_links_the_entities_the_user_already_has(mem: Engram, tmp_path: Path) -> None:
    with Engram(tmp_path / "a.db") as source:
        source.memories.add("I live in Berlin.", user_id="ana", user_name="Ana")
        data = source.memories.export(user_id="ana")
    mem.memories.add("I work at Sony. I was in Berlin once.", user_id="ana", user_name="Ana")
    mem.memories.import_(data)
    assert names(mem) == ["Ana", "Berlin", "Sony"]  # not two of Ana, nor of Berlin
    [ana] = mem.memories.entities(user_id="ana", name="Ana")
    assert len(mem.memories.relations(user_id="ana", entity_id=ana.id)) == 2
    mem.memories.import_(data)  # again: nothing doubles
    assert names(mem) == ["Ana", "Berlin", "Sony"]


def _home_said(mem: Engram, city: str, month: int) -> None:
    said = Message(
        role="user",
        content=f"I live in {city}. I love living in {city}.",
        created_at=datetime(2026, month, 1, tzinfo=UTC),
    )
    mem.memories.add(messages=[said], user_id="ana")


@pytest.mark.parametrize(("stored_month", "imported_month"), [(1, 3), (5, 3)])
def test_an_import_beside_a_stored_value_keeps_one_current_the_latest_said(
    mem: Engram, tmp_path: Path, stored_month: int, imported_month: int
) -> None:
    with Engram(tmp_path / "a.db") as source:
        _home_said(source, "Berlin", imported_month)
        data = source.memories.export(user_id="ana")
    _home_said(mem, "Tokyo", stored_month)
    mem.memories.import_(data)
    latest, older = ("Berlin", "Tokyo") if imported_month > stored_month else ("Tokyo", "Berlin")
    homes = [m for m in mem.memories.get_all(user_id="ana") if m.attribute == "home_city"]
    assert [latest in m.text for m in homes] == [True]  # one current home
    loves = mem.memories.get_all(user_id="ana", kinds=["preference"])
    assert [latest in m.text for m in loves] == [True]  # what held while the other did ended
    assert mem.memories.profile("ana").fields["home_city"] == latest  # type: ignore[union-attr]
    [current] = mem.memories.relations(user_id="ana", as_of=datetime.now(UTC))
    assert current.memory_id == homes[0].id
    between = datetime(2026, min(stored_month, imported_month), 15, tzinfo=UTC)
    kinds = [homes[0].kind]
    [then] = mem.memories.search("Where does Ana live?", user_id="ana", as_of=between, kinds=kinds)
    assert older in then.memory.text  # the retired value, still true as of then
    assert mem.memories.history(then.memory.id)[-1].action == "supersede"
    mem.memories.import_(data)  # again: still one current home, nothing new retired
    homes = [m for m in mem.memories.get_all(user_id="ana") if m.attribute == "home_city"]
    assert [latest in m.text for m in homes] == [True]


def test_forgetting_states_its_rule_once(mem: Engram) -> None:
    memory = mem.memories.add("I like green tea.", user_id="ana", infer=False).added[0]
    mem.memories.forget(ForgettingPolicy(max_per_user=0), user_id="ana")
    assert mem.memories.history(memory.id)[-1].reason == "policy: max_per_user"


def test_each_forgotten_memory_keeps_the_rule_that_forgot_it(mem: Engram) -> None:
    """Its tombstone named every rule of the run, as if each had forgotten it."""
    old = Memory("Ana visited Rome.", user_id="ana", recorded_at=datetime(2020, 1, 1, tzinfo=UTC))
    new = [Memory(f"Ana likes {c}.", user_id="ana", importance=i / 4) for i, c in enumerate("xyz")]
    memories = [memory.to_dict() for memory in [old, *new]]
    mem.memories.import_({"format": MEMORY_EXPORT_FORMAT, "memories": memories, "history": []})
    policy = ForgettingPolicy(max_age=timedelta(days=30), max_per_user=2)
    doomed = mem.memories.forgettable(policy, user_id="ana")
    assert [(f.memory_id, f.reason) for f in doomed] == [
        (old.id, "policy: max_age"),
        (new[0].id, "policy: max_per_user"),
    ]
    assert mem.memories.forget(policy, user_id="ana").memories == 2  # type: ignore[union-attr]
    assert [mem.memories.history(f.memory_id)[-1].reason for f in doomed] == [
        "policy: max_age",
        "policy: max_per_user",
    ]


def test_search_takes_every_limit_up_to_the_bound_and_names_a_bad_one(mem: Engram) -> None:
    mem.memories.add("I like green tea.", user_id="ana", infer=False)
    assert len(mem.memories.search("tea", user_id="ana", limit=50_000)) == 1
    with pytest.raises(InvalidInputError, match="got 100001"):
        mem.memories.search("tea", user_id="ana", limit=100_001)


@pytest.mark.parametrize("field", ["user_id", "agent_id"])
def test_a_session_refuses_an_empty_owner(mem: Engram, field: str) -> None:
    with pytest.raises(InvalidInputError, match=field):
        mem.session("s1", **{field: ""})


def test_an_export_taken_while_the_user_writes_is_one_consistent_state(tmp_path: Path) -> None:
    """Its reads take several batches: a write between them left exports naming memories
    they did not hold, which import refused."""
    path = tmp_path / "live.db"
    cities = ["Porto", "Lisbon", "Braga", "Faro"]
    with Engram(path) as mem:
        mem.memories.add("I live in Porto.", user_id="ana")
        done = threading.Event()

        def write() -> None:
            for i in range(40):
                mem.memories.add(f"I moved to {cities[i % 4]}.", user_id="ana")
            done.set()

        writer = threading.Thread(target=write)
        writer.start()
        exports = []
        while not done.is_set():
            exports.append(mem.memories.export(user_id="ana"))
        writer.join()
    for index, data in enumerate(exports):
        with Engram(tmp_path / f"copy{index}.db") as copy:
            copy.memories.import_(data)  # raises on an inconsistent export


def test_retired_memories_crowd_no_current_one_out_of_a_search(mem: Engram) -> None:
    moves = [
        Message(role="user", content=f"I live in Town{i}.", created_at=datetime(2020, 1, 1 + i))
        for i in range(28)
    ] + [
        Message(role="user", content=f"I live in City{i}.", created_at=datetime(2020, 2, 1 + i))
        for i in range(27)
    ]
    for move in moves:  # 54 retired home cities: more than a search's candidates
        mem.memories.add(messages=[move], user_id="ana", user_name="Ana")
    mem.memories.add("Ana likes green tea", user_id="ana", infer=False)
    hits = mem.memories.search(
        "where does Ana live?", user_id="ana", kinds=["fact", "profile"], limit=10
    )
    assert sorted(hit.memory.text for hit in hits) == ["Ana likes green tea", "Ana lives in City26"]
