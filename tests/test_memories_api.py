"""Long-term memory through the `Engram` facade, end to end on SQLite: sync and async."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engram import Engram, InvalidInputError, Message, NotFoundError
from engram._memory_transfer import MEMORY_EXPORT_FORMAT

EMPTY_EXPORT = {
    "format": MEMORY_EXPORT_FORMAT,
    "memories": [],
    "history": [],
    "tombstones": [],
    "entities": [],
    "relations": [],
    "profile": None,
}
"""The export of a user of whom nothing is stored."""
GHOST = "01a20000-0000-7000-8000-00000000dead"
"""An id no record has."""


def said(text: str, month: int) -> Message:
    return Message(role="user", content=text, created_at=datetime(2026, month, 10, tzinfo=UTC))


@pytest.fixture
def mem(tmp_path: Path):
    with Engram(tmp_path / "engram.db") as engram:
        yield engram


def test_add_verbatim_get_update_history(mem: Engram) -> None:
    report = mem.memories.add("Ana prefers window seats", user_id="ana", infer=False)
    [memory] = report.added
    assert mem.memories.get(memory.id).text == "Ana prefers window seats"
    mem.memories.update(memory.id, "Ana prefers aisle seats", pinned=True)
    assert mem.memories.get(memory.id).pinned
    actions = [c.action for c in mem.memories.history(memory.id)]
    assert actions == ["add", "update"]
    [hit] = mem.memories.search("which seat does Ana like?", user_id="ana", limit=1)
    assert hit.memory.text == "Ana prefers aisle seats"
    assert hit.parts.dense > 0 and hit.parts.fused == hit.score


def test_duplicates_are_not_stored_twice(mem: Engram) -> None:
    mem.memories.add("Ana is allergic to peanuts", user_id="ana", infer=False)
    again = mem.memories.add("Ana is allergic to peanuts", user_id="ana", infer=False)
    assert again.added == () and again.unchanged == 1
    assert len(mem.memories.get_all(user_id="ana")) == 1


def test_belief_currency_and_as_of(mem: Engram) -> None:
    mem.memories.add(messages=[said("I live in Berlin.", 1)], user_id="ana", user_name="Ana")
    report = mem.memories.add(messages=[said("I moved to Lisbon.", 6)], user_id="ana")
    [old] = report.superseded
    assert "Berlin" in old.text and old.valid_to is not None
    now = mem.memories.search("where does Ana live?", user_id="ana", kinds=["profile", "fact"])
    assert "Lisbon" in now[0].memory.text
    assert all("Berlin" not in hit.memory.text for hit in now)
    then = mem.memories.search(
        "where does Ana live?",
        user_id="ana",
        kinds=["profile", "fact"],
        as_of=datetime(2026, 3, 1, tzinfo=UTC),
    )
    assert "Berlin" in then[0].memory.text
    assert mem.memories.get(old.id).superseded_by is not None  # kept, not deleted
    assert mem.memories.profile("ana").fields["home_city"] == "Lisbon"


def test_delete_erases_history_text(mem: Engram) -> None:
    [memory] = mem.memories.add("Ana's PIN is 4711", user_id="ana", infer=False).added
    report = mem.memories.delete(memory.id)
    assert report.memories == 1 and report.vectors == 1
    with pytest.raises(NotFoundError):
        mem.memories.get(memory.id)
    history = mem.memories.history(memory.id)
    assert history[-1].action == "delete"
    assert all(c.old_text is None and c.new_text is None for c in history)
    assert mem.memories.search("PIN", user_id="ana") == []


def test_delete_all_leaves_nothing_of_the_user(mem: Engram) -> None:
    mem.memories.add(messages=[said("My partner Tomás loves Porto.", 2)], user_id="ana")
    mem.memories.add("Bob likes jazz", user_id="bob", infer=False)
    report = mem.memories.delete_all(user_id="ana")
    assert report.memories > 0
    assert mem.memories.get_all(user_id="ana", include_superseded=True) == []
    assert mem.memories.entities(user_id="ana") == []
    assert mem.memories.profile("ana") is None
    assert len(mem.memories.get_all(user_id="bob")) == 1


def test_tenants_do_not_see_each_other(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    with Engram(path, tenant="acme") as acme, Engram(path, tenant="globex") as globex:
        [memory] = acme.memories.add("secret plan", user_id="u1", infer=False).added
        with pytest.raises(NotFoundError):
            globex.memories.get(memory.id)
        assert globex.memories.search("secret plan", user_id="u1") == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"text": "x"}, "scope"),
        ({"user_id": "ana"}, "nothing to add"),
        ({"text": "  ", "user_id": "ana", "infer": False}, "empty"),
        ({"text": "x", "user_id": "ana", "infer": False, "kind": "gossip"}, "unknown memory kind"),
        ({"text": "a\x00b", "user_id": "ana"}, "NUL"),
        ({"text": "x", "user_id": "ana", "infer": False, "importance": 5}, "importance"),
        ({"text": "x", "user_id": "ana", "infer": False, "importance": math.nan}, "importance"),
        (
            {"messages": [{"role": "user", "content": "hi", "created_at": 3}], "user_id": "ana"},
            "created_at",
        ),
        ({"messages": ["I like tea"], "user_id": "ana"}, "a message must be"),
    ],
)
def test_bad_input(mem: Engram, kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        mem.memories.add(**kwargs)
    assert mem.memories.get_all(user_id="ana") == []


def test_messages_may_be_openai_style_dicts(mem: Engram) -> None:
    said = {"role": "user", "content": "I live in Porto.", "created_at": "2026-05-01T10:00:00"}
    report = mem.memories.add(messages=[said], user_id="ana")
    assert {m.text for m in report.added} >= {"I live in Porto.", "The user lives in Porto"}
    episode = next(m for m in report.added if m.kind == "episode")
    assert episode.valid_from == datetime(2026, 5, 1, 10, tzinfo=UTC)  # naive: UTC


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda m: m.search("tea", user_id="ana", limit="5"), "limit"),
        (lambda m: m.search("tea", user_id="ana", kinds="fact"), "list of kinds"),
        (lambda m: m.search("tea", user_id="ana", kinds=["gossip"]), "unknown memory kind"),
        (lambda m: m.get_all(user_id="ana", kinds=["gossip"]), "unknown memory kind"),
        (lambda m: m.get_all(user_id="ana", limit=2.5), "limit"),
        (lambda m: m.consolidate(user_id="ana", threshold=-1), "threshold"),
        (lambda m: m.consolidate(user_id="ana", threshold=0), "threshold"),
        (lambda m: m.bloat(user_id="ana", threshold=1.5), "threshold"),
    ],
)
def test_bad_arguments_of_reads_and_jobs(mem: Engram, call: Any, match: str) -> None:
    mem.memories.add("Ana drinks tea", user_id="ana", infer=False)
    mem.memories.add("Ana drinks coffee", user_id="ana", infer=False)
    with pytest.raises(InvalidInputError, match=match):
        call(mem.memories)
    assert len(mem.memories.get_all(user_id="ana")) == 2  # nothing merged


def test_a_zero_limit_reads_nothing(mem: Engram) -> None:
    mem.memories.add("Ana drinks tea", user_id="ana", infer=False)
    assert mem.memories.search("tea", user_id="ana", limit=0) == []
    assert mem.memories.get_all(user_id="ana", limit=0) == []
    assert mem.memories.get_all(user_id="ana")[0].access_count == 0  # nothing recalled
    with pytest.raises(InvalidInputError, match="limit"):
        mem.memories.search("tea", user_id="ana", limit=-1)


async def test_a_search_that_is_no_use_records_no_access(mem: Engram) -> None:
    mem.memories.add("Ana drinks tea", user_id="ana", infer=False)
    [hit] = mem.memories.search("tea", user_id="ana", record_access=False)
    [hit] = await mem.memories.asearch("tea", user_id="ana", record_access=False)
    assert hit.memory.access_count == 0
    assert mem.memories.get_all(user_id="ana")[0].access_count == 0
    mem.memories.search("tea", user_id="ana")
    assert mem.memories.get_all(user_id="ana")[0].access_count == 1
    with pytest.raises(InvalidInputError, match="record_access"):
        mem.memories.search("tea", user_id="ana", record_access="no")  # type: ignore[arg-type]


async def test_async_twins(mem: Engram) -> None:
    added = await mem.memories.aadd("Ana runs marathons", user_id="ana", infer=False)
    hits = await mem.memories.asearch("does Ana do sport?", user_id="ana")
    assert hits[0].memory.text == "Ana runs marathons"
    memory = added.added[0]
    assert (await mem.memories.aget(memory.id)).text == memory.text
    updated = await mem.memories.aupdate(memory.id, "Ana runs ultramarathons")
    assert [m.text for m in await mem.memories.aget_all(user_id="ana")] == [updated.text]
    assert [c.action for c in await mem.memories.ahistory(memory.id)] == ["add", "update"]
    assert (await mem.memories.adelete(memory.id)).memories == 1
    with pytest.raises(NotFoundError):
        await mem.memories.adelete(memory.id)
    await mem.memories.aadd("Ana swims", user_id="ana", infer=False)
    report = await mem.memories.adelete_all(user_id="ana")
    assert report.memories == 1


async def test_async_twins_of_entities_profiles_and_export(mem: Engram, tmp_path: Path) -> None:
    turn = said("My partner is Tomás. I live in Porto.", 1)
    await mem.memories.aadd(messages=[turn], user_id="ana", user_name="Ana")
    entities = await mem.memories.aentities(user_id="ana")
    assert {"Tomás", "Porto"} <= {entity.name for entity in entities}
    relations = await mem.memories.arelations(user_id="ana")
    assert {r.relation for r in relations} == {"partner_of", "lives_in"}
    assert (await mem.memories.aprofile("ana")) == mem.memories.profile("ana")
    edited = await mem.memories.aupdate_profile("ana", {"diet": "vegan"})
    assert edited.fields["diet"] == "vegan" and edited.fields["home_city"] == "Porto"
    data = await mem.memories.aexport(user_id="ana")
    with Engram(tmp_path / "copy.db") as copy:
        stored = await copy.memories.aimport_(data)
        assert len(stored) == len(data["memories"])
        assert (await copy.memories.aprofile("ana")).fields == edited.fields


def test_context_recalls_memories_within_one_budget(mem: Engram) -> None:
    mem.memories.add(messages=[said("I'm vegetarian and my partner is Tomás.", 1)], user_id="ana")
    s = mem.session("trip", user_id="ana")
    s.add("system", "You are a travel assistant.")
    for i in range(40):
        s.add("user" if i % 2 == 0 else "assistant", f"Planning detail number {i} " * 6)
    s.add("user", "Can you suggest a restaurant for dinner? Remember my diet.")
    result = s.context("gpt-4o", budget=600, reserve=100, recall=5)
    report = result.report
    assert report.tokens_after <= 500
    assert report.recalled and report.memory_tokens > 0
    block = next(m for m in result.messages if m.id == "memories")
    assert "vegetarian" in block.text
    assert result.messages[0].text == "You are a travel assistant."
    assert result.messages[-1].text.startswith("Can you suggest a restaurant")
    tiny = s.context("gpt-4o", budget=200, reserve=50, recall=5)
    assert tiny.report.tokens_after <= 150


def test_reembed_after_the_embedder_changed(tmp_path: Path) -> None:
    from engram.providers import CachedEmbedder, LocalEmbedder

    path = tmp_path / "engram.db"
    float32 = CachedEmbedder(LocalEmbedder(threads=1, compute="float32"))
    with Engram(path, embedder=float32) as before:
        before.memories.add(messages=[said("I live in Berlin.", 1)], user_id="ana")
        before.memories.add(messages=[said("I moved to Lisbon.", 6)], user_id="ana")
        before.memories.add("Bo plays the cello.", user_id="bo", infer=False)
        stored = before.memories.get_all(user_id="ana", include_superseded=True)
        stored += before.memories.get_all(user_id="bo")
    with Engram(path, embedder=CachedEmbedder(LocalEmbedder(threads=1))) as after:
        then = datetime(2026, 3, 1, tzinfo=UTC)

        def texts(query: str, at: datetime | None = None) -> list[str]:
            hits = after.memories.search(query, user_id="ana", as_of=at)
            assert all(hit.parts.dense > 0.0 for hit in hits)  # lexical hits: embedded now
            return [hit.memory.text for hit in hits]

        # Every stored vector is another backend's: reembed stores new ones before serving
        # (else a user's first search does it for the user's).
        assert after.memories.reembed(user_id="bo") == 1
        assert after.memories.reembed(batch_size=1) == len(stored) - 1  # the rest, retired too
        assert "The user moved to Lisbon" in texts("Which city?")
        assert "The user lives in Berlin" in texts("Which city?", then)
        assert after.memories.reembed() == 0
        with pytest.raises(InvalidInputError):
            after.memories.reembed(batch_size=0)


def _everything(mem: Engram, user_id: str) -> dict[str, object]:
    """A user's memories, histories, entities, relations and profile, tenant-free."""
    data = mem.memories.export(user_id=user_id)
    for key in ("memories", "history", "entities", "relations"):
        for record in data[key]:
            del record["tenant"]
    if data["profile"] is not None:
        del data["profile"]["tenant"]
    return data


def test_export_import_round_trip_into_another_database(tmp_path: Path) -> None:
    with Engram(tmp_path / "a.db") as source:
        source.memories.add(
            messages=[said("I live in Berlin. My partner is Tomás.", 1)], user_id="ana"
        )
        source.memories.add(messages=[said("I moved to Lisbon.", 6)], user_id="ana")
        gone = source.memories.add("Ana's PIN is 4071", user_id="ana", infer=False).added[0]
        source.memories.delete(gone.id)
        source.memories.add("Bo plays the cello.", user_id="bo", infer=False)
        data = source.memories.export(user_id="ana")
        expected = _everything(source, "ana")
    assert {m["user_id"] for m in data["memories"]} == {"ana"}
    assert any(m["superseded_at"] for m in data["memories"])  # retired memories travel too
    assert data["entities"] and data["profile"]["fields"]["home_city"] == "Lisbon"
    assert "4071" not in str(data)  # erased text stays erased

    with Engram(tmp_path / "b.db", tenant="acme") as target:
        stored = target.memories.import_(data)
        assert len(stored) == len(data["memories"]) and {m.tenant for m in stored} == {"acme"}
        assert _everything(target, "ana") == expected
        [hit, *_] = target.memories.search("Which city?", user_id="ana", kinds=["profile"])
        assert "Lisbon" in hit.memory.text and hit.parts.dense > 0.0
        then = datetime(2026, 3, 1, tzinfo=UTC)
        [old, *_] = target.memories.search("Which city?", user_id="ana", as_of=then)
        assert "Berlin" in old.memory.text
        target.memories.import_(data)  # again: the same ids are replaced, nothing doubles
        assert _everything(target, "ana") == expected
        assert target.memories.get_all(user_id="bo") == []


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data.update(format="engram.session/1"),
        lambda data: data["memories"][0].pop("text"),
        lambda data: data["memories"][-1].update(text=""),
        lambda data: data["history"][0].update(at="not a time"),
        lambda data: data.update(entities="Tomás"),
        lambda data: data["memories"][0].update(user_id=None),  # unscoped: beyond reach
        # references to records the export does not hold
        lambda data: data["memories"][0].update(entity_ids=[GHOST]),
        lambda data: data["profile"]["sources"].update(home_city=GHOST),
    ],
)
def test_a_bad_export_is_refused_and_stores_nothing(tmp_path: Path, damage: Any) -> None:
    with Engram(tmp_path / "a.db") as source:
        source.memories.add(
            messages=[said("My partner is Tomás. I live in Porto.", 1)], user_id="ana"
        )
        data = source.memories.export(user_id="ana")
    damage(data)
    with Engram(tmp_path / "b.db") as target:
        with pytest.raises(InvalidInputError):
            target.memories.import_(data)
        assert target.memories.export(user_id="ana") == EMPTY_EXPORT


def test_relations_between_entities_follow_what_the_user_says(mem: Engram) -> None:
    mem.memories.add(
        messages=[said("My partner is Tomás. I work at Siemens.", 1)],
        user_id="ana",
        user_name="Ana",
    )
    mem.memories.add(messages=[said("I left Siemens, now I work at Bosch.", 5)], user_id="ana")
    mem.memories.add(messages=[said("My partner is Tomás.", 6)], user_id="ana")
    names = {entity.id: entity.name for entity in mem.memories.entities(user_id="ana")}

    def related(at: datetime | None = None) -> set[tuple[str, str, str]]:
        found = mem.memories.relations(user_id="ana", as_of=at)
        return {(names[r.source_id], r.relation, names[r.target_id]) for r in found}

    assert related() == {
        ("Ana", "partner_of", "Tomás"),
        ("Ana", "works_at", "Siemens"),
        ("Ana", "works_at", "Bosch"),
    }  # a repeated statement adds no second relation
    assert related(datetime(2026, 3, 1, tzinfo=UTC)) == {
        ("Ana", "partner_of", "Tomás"),
        ("Ana", "works_at", "Siemens"),
    }
    assert related(datetime(2026, 7, 1, tzinfo=UTC)) == {
        ("Ana", "partner_of", "Tomás"),
        ("Ana", "works_at", "Bosch"),
    }
    [siemens] = [
        r for r in mem.memories.relations(user_id="ana") if names[r.target_id] == "Siemens"
    ]
    assert siemens.valid_to == datetime(2026, 5, 10, tzinfo=UTC) and siemens.memory_id
    tomas = next(i for i, name in names.items() if name == "Tomás")
    assert len(mem.memories.relations(user_id="ana", entity_id=tomas)) == 1
    mem.memories.delete(siemens.memory_id)  # erasing a memory erases what it stated
    assert ("Ana", "works_at", "Siemens") not in related()
    mem.memories.delete_all(user_id="ana")
    assert mem.memories.relations(user_id="ana") == []


def test_a_profile_edited_by_hand_holds_until_the_user_says_otherwise(mem: Engram) -> None:
    mem.memories.add(messages=[said("I live in Berlin. I am vegan.", 1)], user_id="ana")
    edited = mem.memories.update_profile(
        "ana", {"home_city": "Porto", "nickname": "Nana", "diet": None}
    )
    assert edited.fields == {"home_city": "Porto", "nickname": "Nana"}
    # Replayed turns from before the edit do not undo it, even after another add.
    mem.memories.add(messages=[said("I like jazz.", 2)], user_id="ana")
    mem.memories.add(messages=[said("I moved to Lisbon.", 8)], user_id="ana")
    assert mem.memories.profile("ana").fields["home_city"] == "Porto"
    later = Message(role="user", content="I moved to Madrid.")  # said now, after the edit
    mem.memories.add(messages=[later], user_id="ana")
    assert mem.memories.profile("ana").fields["home_city"] == "Madrid"
    before = mem.memories.profile("ana")
    for bad in ({"": "x"}, {"age": 41}, {"age": "  "}):
        with pytest.raises(InvalidInputError):
            mem.memories.update_profile("ana", bad)  # type: ignore[arg-type]
    assert mem.memories.profile("ana") == before
    assert mem.memories.update_profile("bo", {"name": "Bo"}).fields == {"name": "Bo"}


def test_a_search_naming_the_user_finds_what_they_said_not_their_name(mem: Engram) -> None:
    greeting = [
        said("Hi! My name is Ana.", 1),
        Message(role="assistant", content="Nice to meet you Ana! How can I help?"),
    ]
    mem.memories.add(messages=greeting, user_id="ana")
    mem.memories.add(messages=[said("I switched to a vegan diet last week.", 2)], user_id="ana")
    mem.memories.add(messages=[said("We adopted a cat called Miso.", 3)], user_id="ana")
    assert mem.memories.profile("ana").fields["name"] == "Ana"
    [first, second, *_] = mem.memories.search("What does Ana eat?", user_id="ana")
    assert "vegan" in first.memory.text and "vegan" in second.memory.text
    [pets, *_] = mem.memories.search("Does Ana have pets?", user_id="ana")
    assert "Miso" in pets.memory.text
    [named, *_] = mem.memories.search("What is Ana's name?", user_id="ana")
    assert "Ana" in named.memory.text  # a query of the name alone keeps it
    mem.memories.add(messages=[said("Bo is vegan too.", 4)], user_id="bo")
    [other, *_] = mem.memories.search("What does Bo eat?", user_id="bo")
    assert other.parts.lexical > 0.0  # another person's name stays in the words


def test_turns_added_one_by_one_keep_the_turns_before_them_as_context(mem: Engram) -> None:
    start = datetime(2026, 5, 1, 9, tzinfo=UTC)
    turns = [
        ("user", "Did you book the table at Rui's place?", "s1"),
        ("assistant", "Yes, Friday at 8.", "s1"),
        ("user", "Lovely, is it near the river?", "s2"),  # another session: not context
        ("user", "Yes! Twice, actually.", "s1"),
    ]
    said = [
        Message(role=role, content=text, created_at=start + timedelta(minutes=i), session_id=sid)
        for i, (role, text, sid) in enumerate(turns)
    ]
    for message in said:
        mem.memories.add(messages=[message], user_id="ana")
    mem.memories.add(messages=[said[-1]], user_id="ana")  # said again: not its own context
    episodes = {m.text: m for m in mem.memories.get_all(user_id="ana", kinds=["episode"])}
    assert episodes["Yes! Twice, actually."].metadata["context"] == [
        "Did you book the table at Rui's place?",
        "Yes, Friday at 8.",
    ]
    assert "context" not in episodes["Lovely, is it near the river?"].metadata
    hits = mem.memories.search("the table at Rui's place", user_id="ana")
    twice = next(hit for hit in hits if hit.memory.text == "Yes! Twice, actually.")
    assert twice.parts.lexical > 0.0  # found by the words of the turns before it


def test_forgetting_policies_run_through_the_api(mem: Engram) -> None:
    from datetime import timedelta

    from engram.memory import ForgettingPolicy

    old = [said(f"I visited museum number {i} in Rome.", 1) for i in range(3)]
    mem.memories.add(messages=old, user_id="ana")
    kept = mem.memories.add("Ana is allergic to peanuts", user_id="ana", infer=False, pinned=True)
    mem.memories.add("Bo plays the cello.", user_id="bo", infer=False)
    policy = ForgettingPolicy(max_age=timedelta(days=30))
    planned = mem.memories.forgettable(policy, user_id="ana")  # a dry run erases nothing
    assert {reason for _, reason in planned} == {"policy: max_age"} and len(planned) >= 3
    assert kept.added[0].id not in {memory_id for memory_id, _ in planned}
    assert len(mem.memories.get_all(user_id="ana")) == len(planned) + 1
    report = mem.memories.forget(policy, user_id="ana")
    assert report is not None and report.memories == len(planned)
    assert [m.text for m in mem.memories.get_all(user_id="ana")] == [kept.added[0].text]
    assert len(mem.memories.get_all(user_id="bo")) == 1  # another user's are not touched
    assert mem.memories.forget(ForgettingPolicy(max_per_user=0), user_id="ana") is None


def test_a_search_of_the_past_records_the_access_now(mem: Engram) -> None:
    mem.memories.add(messages=[said("I live in Berlin.", 1)], user_id="ana")
    then, searched = datetime(2026, 2, 1, tzinfo=UTC), datetime.now(UTC)
    [hit, *_] = mem.memories.search("Where does Ana live?", user_id="ana", as_of=then)
    accessed = mem.memories.get(hit.memory.id).last_accessed_at
    assert accessed is not None and accessed >= searched.replace(microsecond=0)


def test_metadata_and_pinning_reach_extracted_memories(mem: Engram) -> None:
    report = mem.memories.add(
        messages=[said("I live in Berlin. I am vegan.", 1)],
        user_id="ana",
        metadata={"source": "crm"},
        pinned=True,
    )
    assert len(report.added) >= 3
    for memory in report.added:
        assert memory.pinned and memory.metadata["source"] == "crm"
    city = next(m for m in report.added if m.attribute == "home_city")
    assert city.metadata["value"] == "Berlin"
    with pytest.raises(InvalidInputError):
        mem.memories.add("x", user_id="ana", max_llm_tokens=-1)


def test_deleting_what_named_someone_erases_their_entity_too(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "engram.db"
    with Engram(path) as mem:
        said_it = said("I live in Porto. My partner is Zqxjvorp.", 1)
        mem.memories.add(messages=[said_it], user_id="ana", user_name="Ana")
        mem.memories.add(messages=[said("I work at Bosch.", 2)], user_id="ana")
        named = [m for m in mem.memories.get_all(user_id="ana") if "Zqxjvorp" in m.text]
        assert len(named) == 2 and any(
            e.name == "Zqxjvorp" for e in mem.memories.entities(user_id="ana")
        )
        reports = [mem.memories.delete(memory.id) for memory in named]
        assert sum(report.entities for report in reports) == 1
        left = {entity.name for entity in mem.memories.entities(user_id="ana")}
        assert "Zqxjvorp" not in left and {"Porto", "Bosch"} <= left  # still named elsewhere
        assert "partner" not in mem.memories.profile("ana").fields
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert b"Zqxjvorp" not in path.read_bytes()


def test_ranking_weights_are_the_engrams(tmp_path: Path) -> None:
    from engram.memory.ranking import RankingWeights

    turns = [said("I went hiking in the Alps.", 1), said("I went hiking in the Dolomites.", 10)]
    newer_over_older = {}
    for name, weights in (("default", None), ("recent", RankingWeights(recency=5.0))):
        with Engram(tmp_path / f"{name}.db", **({"ranking": weights} if weights else {})) as mem:
            for turn in turns:
                mem.memories.add(messages=[turn], user_id="ana")
            hits = mem.memories.search("Where did I go hiking?", user_id="ana", kinds=["episode"])
            fused = {hit.memory.text: hit.parts.fused for hit in hits}
            newer_over_older[name] = fused[turns[1].text] / fused[turns[0].text]
            session = mem.session("s1", user_id="ana")
            session.add("user", "Where did I go hiking?")
            recalled = session.context(model="gpt-4o", budget=2000, recall=1)
            block = next(m for m in recalled.messages if m.id == "memories")
            if weights is not None:  # recall ranks with the Engram's weights too
                assert "Dolomites" in block.text and "Alps" not in block.text
    assert newer_over_older["recent"] > 1.5 * newer_over_older["default"]


def test_a_query_naming_an_entity_matches_memories_naming_its_alias(mem: Engram) -> None:
    mem.memories.add(messages=[said("I had lunch with Tomás at the harbour.", 1)], user_id="ana")
    mem.memories.add(messages=[said("My colleague Tomás Silva moved to Lisbon.", 2)], user_id="ana")
    [silva] = [e for e in mem.memories.entities(user_id="ana") if e.name == "Tomás Silva"]
    assert "Tomás" in silva.aliases
    hits = mem.memories.search("Where did Tomás Silva eat?", user_id="ana")
    lunch = next(hit for hit in hits if "lunch" in hit.memory.text)
    assert lunch.parts.entity == 1.0


def test_erased_memories_leave_the_embedding_cache(mem: Engram) -> None:
    from engram.providers import CachedEmbedder
    from engram.providers._embeddings import cache_key

    embedder = mem.embedder
    assert isinstance(embedder, CachedEmbedder)

    def cached(text: str) -> bool:
        key = cache_key(f"{embedder.model_id}\x00{embedder.backend}", text, mem.tenant)
        return bool(embedder.cache.get_many([key]))

    one = mem.memories.add("Ana's PIN is 4071", user_id="ana", infer=False).added[0]
    mem.memories.add("Ana's locker code is 5512", user_id="ana", infer=False)
    mem.memories.add("Bo's locker code is 9930", user_id="bo", infer=False)
    assert cached("Ana's PIN is 4071") and cached("Ana's locker code is 5512")
    mem.memories.delete(one.id)
    assert not cached("Ana's PIN is 4071") and cached("Ana's locker code is 5512")
    mem.memories.delete_all(user_id="ana")
    assert not cached("Ana's locker code is 5512") and cached("Bo's locker code is 9930")


def test_an_edit_of_more_than_the_text_is_audited(mem: Engram) -> None:
    memory = mem.memories.add("Ana is allergic to peanuts", user_id="ana", infer=False).added[0]
    mem.memories.update(memory.id, importance=0.9, pinned=True, metadata={"source": "doctor"})
    last = mem.memories.history(memory.id)[-1]
    assert last.action == "update" and last.old_text == last.new_text
    assert last.reason is not None and last.reason.startswith("user edit; ")
    for edit in ("importance 0.5 -> 0.9", "pinned False -> True", "'source': 'doctor'}"):
        assert edit in last.reason


def test_an_edit_merges_metadata(mem: Engram) -> None:
    [city] = [
        m
        for m in mem.memories.add(messages=[said("I live in Porto.", 1)], user_id="ana").added
        if m.attribute == "home_city"
    ]
    edited = mem.memories.update(city.id, metadata={"source": "crm", "team": "a"})
    assert edited.metadata["source"] == "crm" and edited.metadata["value"] == "Porto"
    edited = mem.memories.update(city.id, metadata={"team": None})
    assert "team" not in edited.metadata and edited.metadata["source"] == "crm"


def test_an_edit_keeps_the_stored_none_values_it_does_not_name(mem: Engram) -> None:
    [memory] = mem.memories.add(
        "Ana likes tea", user_id="ana", infer=False, metadata={"team": None, "rank": 1}
    ).added
    edited = mem.memories.update(memory.id, metadata={"rank": 2})
    assert edited.metadata["team"] is None and edited.metadata["rank"] == 2
    [hit] = mem.memories.search("tea", user_id="ana", metadata={"team": None})
    assert hit.memory.id == memory.id


def test_an_add_and_an_edit_return_their_metadata_as_stored(mem: Engram) -> None:
    added = mem.memories.add("Ana likes tea", user_id="ana", infer=False, metadata={"z": (1,)})
    [memory] = added.added
    assert memory.metadata["z"] == [1] == mem.memories.get(memory.id).metadata["z"]
    edited = mem.memories.update(memory.id, metadata={"cups": (1, 2)})
    assert edited.metadata["cups"] == [1, 2] == mem.memories.get(memory.id).metadata["cups"]


def test_delete_user_erases_their_sessions_and_memories(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "engram.db"
    with Engram(path) as mem:
        for session_id in ("s1", "s2"):
            mem.session(session_id, user_id="ana").add("user", "My code word is qwxzvbnm.")
        mem.session("s3", user_id="bo").add("user", "Hello")
        mem.memories.add(messages=[said("I live in Porto.", 1)], user_id="ana")
        erased = mem.delete_user("ana")
        assert erased.sessions == 2
        assert erased.memories is not None and erased.memories.memories >= 2
        assert [s.id for s in mem.sessions()] == ["s3"]
        assert mem.memories.get_all(user_id="ana", include_superseded=True) == []
        assert mem.memories.profile("ana") is None
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = path.read_bytes()
    assert b"qwxzvbnm" not in data and b"Porto" not in data


def test_naive_datetimes_are_taken_as_utc(mem: Engram) -> None:
    naive = Message(role="user", content="I live in Berlin.", created_at=datetime(2026, 1, 10))
    [*added] = mem.memories.add(messages=[naive], user_id="ana").added
    assert {m.recorded_at for m in added} == {datetime(2026, 1, 10, tzinfo=UTC)}
    mem.memories.add(messages=[said("I moved to Lisbon.", 6)], user_id="ana")

    def where(**times: datetime) -> list[str]:
        kinds = ["profile", "fact"]
        hits = mem.memories.search("where does Ana live?", user_id="ana", kinds=kinds, **times)
        return [hit.memory.text for hit in hits]

    then = datetime(2026, 3, 1)
    assert where(as_of=then) == where(as_of=then.replace(tzinfo=UTC))
    assert "Berlin" in where(as_of=then)[0]
    spring = {"after": datetime(2026, 1, 1), "before": datetime(2026, 4, 1)}
    assert where(**spring) == where(**{k: v.replace(tzinfo=UTC) for k, v in spring.items()})
    lives = mem.memories.relations(user_id="ana", as_of=then)
    assert lives == mem.memories.relations(user_id="ana", as_of=then.replace(tzinfo=UTC))
    assert len(lives) == 1


async def test_async_twins_take_naive_datetimes_as_utc(mem: Engram) -> None:
    naive = Message(role="user", content="I live in Berlin.", created_at=datetime(2026, 1, 10))
    report = await mem.memories.aadd(messages=[naive], user_id="ana")
    assert {m.recorded_at for m in report.added} == {datetime(2026, 1, 10, tzinfo=UTC)}
    hits = await mem.memories.asearch("where?", user_id="ana", as_of=datetime(2026, 3, 1))
    assert any("Berlin" in hit.memory.text for hit in hits)
    assert await mem.memories.arelations(user_id="ana", as_of=datetime(2026, 3, 1))


def test_a_move_said_in_the_past_tense_dates_from_the_month_gone_by(mem: Engram) -> None:
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    earlier = Message(
        role="user", content="I live in Lisbon.", created_at=datetime(2025, 6, 1, tzinfo=UTC)
    )
    mem.memories.add(messages=[earlier], user_id="ana")
    moved = Message(role="user", content="I moved to Berlin in January.", created_at=now)
    report = mem.memories.add(messages=[moved], user_id="ana")
    [fact] = [m for m in report.added if m.attribute == "home_city"]
    assert fact.metadata["value"] == "Berlin"
    assert fact.valid_from == datetime(2026, 1, 1, tzinfo=UTC)  # not the January to come
    hits = mem.memories.search("where does the user live", user_id="ana", as_of=now)
    assert "Berlin" in hits[0].memory.text


def test_leaving_a_job_for_another_supersedes_it_from_when_it_happened(mem: Engram) -> None:
    mem.memories.add(messages=[said("I work at Google.", 1)], user_id="u")
    report = mem.memories.add(
        messages=[said("I left Google and joined Meta last week.", 6)], user_id="u"
    )
    [google] = report.superseded
    week = datetime(2026, 6, 1, tzinfo=UTC)  # "last week", said on Wednesday 10 June
    assert google.text == "The user works at Google" and google.valid_to == week
    assert mem.memories.profile("u").fields["employer"] == "Meta"
    [hit, *_] = mem.memories.search("where does the user work", user_id="u")
    assert "Meta" in hit.memory.text and hit.memory.is_current
    march = datetime(2026, 3, 1, tzinfo=UTC)
    then = mem.memories.search("where does the user work", user_id="u", as_of=march)
    assert then[0].memory.text == "The user works at Google"
    assert [c.action for c in mem.memories.history(google.id)] == ["add", "supersede"]
    names = {entity.id: entity.name for entity in mem.memories.entities(user_id="u")}
    ends = {names[r.target_id]: r.valid_to for r in mem.memories.relations(user_id="u")}
    assert ends == {"Google": week, "Meta": None}


def _open_relations(mem: Engram, user_id: str) -> dict[tuple[str, str], str]:
    """(relation, entity name) -> entity kind of the user's relations that hold now."""
    entities = {entity.id: entity for entity in mem.memories.entities(user_id=user_id)}
    return {
        (r.relation, entities[r.target_id].name): entities[r.target_id].kind
        for r in mem.memories.relations(user_id=user_id)
        if r.valid_to is None
    }


def test_a_switch_the_words_leave_open_moves_the_slot_and_its_relation(mem: Engram) -> None:
    mem.memories.add(messages=[said("I work at Google.", 1)], user_id="u")
    mem.memories.add(messages=[said("I switched from Google to Meta.", 6)], user_id="u")
    assert mem.memories.profile("u").fields["employer"] == "Meta"
    assert _open_relations(mem, "u") == {("works_at", "Meta"): "organisation"}
    names = [entity.name for entity in mem.memories.entities(user_id="u")]
    assert names.count("Google") == 1  # "from Google" does not make a place of it
    [hit, *_] = mem.memories.search("where does the user work?", user_id="u")
    assert hit.memory.text == "The user works at Meta (switched from Google to Meta)"


def test_a_guessed_change_takes_the_kind_of_the_slot_it_lands_in(mem: Engram) -> None:
    mem.memories.add(messages=[said("I live in Paris.", 1)], user_id="u")
    mem.memories.add(messages=[said("I left Paris for Rome.", 6)], user_id="u")
    assert mem.memories.profile("u").fields["home_city"] == "Rome"
    assert _open_relations(mem, "u") == {("lives_in", "Rome"): "place"}
    [hit, *_] = mem.memories.search("where does the user live?", user_id="u")
    assert hit.memory.text == "The user lives in Rome (left Paris for Rome)"


def test_questions_and_wishes_leave_the_users_facts_alone(mem: Engram) -> None:
    mem.memories.add(messages=[said("I live in Lisbon and I work at Google.", 1)], user_id="u")
    for text in ("Do I live in Paris? Should I work at Meta?", "If I moved to Rome, so what?"):
        report = mem.memories.add(messages=[said(text, 2)], user_id="u")
        assert report.superseded == ()
    assert mem.memories.profile("u").fields == {"home_city": "Lisbon", "employer": "Google"}


def test_a_correction_fixes_the_slot_holding_the_value_it_names(mem: Engram) -> None:
    mem.memories.add(messages=[said("I live in Porto. I work at Google.", 1)], user_id="u")
    report = mem.memories.add(messages=[said("Sorry, I meant Lisbon, not Porto.", 2)], user_id="u")
    [porto] = report.superseded
    assert porto.text == "The user lives in Porto"
    january = datetime(2026, 1, 10, tzinfo=UTC)
    assert porto.valid_from == porto.valid_to == january  # it never held: Lisbon did
    [lisbon] = [m for m in report.added if m.attribute == "home_city"]
    assert lisbon.valid_from == january
    then = mem.memories.relations(user_id="u", as_of=datetime(2026, 1, 20, tzinfo=UTC))
    assert [r.memory_id for r in then if r.relation == "lives_in"] == [lisbon.id]
    assert mem.memories.profile("u").fields == {"home_city": "Lisbon", "employer": "Google"}
    assert _open_relations(mem, "u") == {
        ("lives_in", "Lisbon"): "place",
        ("works_at", "Google"): "organisation",
    }


def test_verbs_sharing_one_i_each_state_their_fact(mem: Engram) -> None:
    mem.memories.add(messages=[said("I live in Paris.", 1)], user_id="u")
    mem.memories.add(messages=[said("I left Paris and moved to Berlin.", 6)], user_id="u")
    mem.memories.add(messages=[said("I work at Siemens and love jazz.", 7)], user_id="u")
    fields = mem.memories.profile("u").fields
    assert (fields["home_city"], fields["employer"]) == ("Berlin", "Siemens")
    assert _open_relations(mem, "u") == {
        ("lives_in", "Berlin"): "place",
        ("works_at", "Siemens"): "organisation",
    }
    june = datetime(2026, 6, 1, tzinfo=UTC)
    [then, *_] = mem.memories.search("where does the user live", user_id="u", as_of=june)
    assert then.memory.text == "The user lives in Paris"


def test_an_agents_memory_never_names_a_users_entity(mem: Engram) -> None:
    mem.memories.add(messages=[said("I work at Google.", 1)], user_id="ana")
    mem.memories.add(messages=[said("I use Google Docs at Google.", 2)], agent_id="bot")
    [agents, *_] = [m for m in mem.memories.get_all(agent_id="bot") if m.entity_ids]
    anas = {entity.id for entity in mem.memories.entities(user_id="ana")}
    assert agents.entity_ids and not set(agents.entity_ids) & anas
    mem.memories.delete_all(user_id="ana")
    assert mem.memories.entities(user_id="ana") == []
    assert mem.memories.get(agents.id).entity_ids == agents.entity_ids


def test_a_home_that_ended_is_retired_not_deleted(mem: Engram) -> None:
    mem.memories.add(messages=[said("I live in Paris.", 1)], user_id="u")
    kept = mem.memories.add(messages=[said("I don't live in Rome anymore.", 3)], user_id="u")
    assert kept.superseded == () and mem.memories.profile("u").fields["home_city"] == "Paris"
    report = mem.memories.add(messages=[said("I don't live in Paris anymore.", 6)], user_id="u")
    [paris] = report.superseded
    june = datetime(2026, 6, 10, tzinfo=UTC)
    assert paris.text == "The user lives in Paris" and paris.valid_to == june
    assert "home_city" not in mem.memories.profile("u").fields
    facts = {m.text for m in mem.memories.get_all(user_id="u") if m.kind != "episode"}
    assert facts == {"The user no longer lives in Paris", "The user no longer lives in Rome"}
    everything = mem.memories.get_all(user_id="u", include_superseded=True)
    assert paris.id in {m.id for m in everything}  # kept, not deleted
    march = datetime(2026, 3, 1, tzinfo=UTC)
    then = mem.memories.search("where does the user live", user_id="u", as_of=march)
    assert then[0].memory.text == "The user lives in Paris"
    now = mem.memories.search("where does the user live", user_id="u")
    assert all(hit.memory.id != paris.id for hit in now)
    history = mem.memories.history(paris.id)
    assert [c.action for c in history] == ["add", "supersede"]
    assert history[-1].related_id == mem.memories.get(paris.id).superseded_by
    [lives] = mem.memories.relations(user_id="u")
    assert lives.relation == "lives_in" and lives.valid_to == june
    assert mem.memories.relations(user_id="u", as_of=march) == [lives]  # it held then


def test_a_question_naming_the_user_matches_their_facts(mem: Engram) -> None:
    said = Message(role="user", content="I'm vegetarian.")
    mem.memories.add(messages=[said], user_id="ana", user_name="Ana")
    mem.memories.add("Ana met Bo at the gym.", user_id="ana", infer=False)
    hits = mem.memories.search("What does Ana eat?", user_id="ana")
    fact = next(hit for hit in hits if hit.memory.kind != "episode")
    assert fact.memory.text == "Ana is vegetarian" and fact.parts.entity == 1.0
    assert hits[0].memory.text in ("I'm vegetarian.", "Ana is vegetarian")
    # Her name left the query's words: no memory matches it by its letters.
    assert all(hit.parts.lexical == 0.0 for hit in hits)


@pytest.mark.parametrize("together", [True, False])
def test_the_user_mentioned_by_name_is_one_entity(mem: Engram, together: bool) -> None:
    greeting = Message(role="assistant", content="Good morning, Ana! How was Lisbon?")
    statement = Message(role="user", content="My partner is Tomás.")
    batches = [[greeting, statement]] if together else [[greeting], [statement]]
    for batch in batches:
        mem.memories.add(messages=batch, user_id="ana", user_name="Ana")
    [ana] = [e for e in mem.memories.entities(user_id="ana") if e.name == "Ana"]
    assert ana.metadata.get("user") is True and ana.kind == "person"
    [partner] = mem.memories.relations(user_id="ana")
    assert partner.source_id == ana.id and partner.relation == "partner_of"


def test_a_memory_is_no_larger_than_a_message(tmp_path: Path) -> None:
    from engram.config import EngramSettings

    with Engram(tmp_path / "small.db", settings=EngramSettings(max_message_bytes=100)) as mem:
        with pytest.raises(InvalidInputError, match="allowed"):
            mem.memories.add("x" * 101, user_id="ana", infer=False)
        with pytest.raises(InvalidInputError, match="allowed"):
            mem.memories.add(messages=[Message(role="user", content="é" * 51)], user_id="ana")
        [kept] = mem.memories.add("x" * 100, user_id="ana", infer=False).added
        with pytest.raises(InvalidInputError, match="allowed"):
            mem.memories.update(kept.id, "y" * 101)
        assert [m.text for m in mem.memories.get_all(user_id="ana")] == ["x" * 100]


def test_an_edit_that_changes_nothing_writes_nothing(mem: Engram) -> None:
    [memory] = mem.memories.add("Ana likes tea", user_id="ana", infer=False, importance=0.7).added
    same = mem.memories.update(memory.id, text="Ana likes tea", importance=0.7, pinned=False)
    assert same == memory == mem.memories.get(memory.id)
    assert [change.action for change in mem.memories.history(memory.id)] == ["add"]
    mem.memories.update(memory.id, pinned=True)
    assert [change.action for change in mem.memories.history(memory.id)] == ["add", "update"]
