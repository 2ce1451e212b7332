"""Erasing a session takes back the words only it said: a value another session said first
and the erased one refined ("Google", then "Google Cloud") outlives it worded as the latest
saying left worded it, in its text, value, profile field, index and history alike, on every
memory backend."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engram import Engram
from engram.memory.texts import dense_text
from engram.providers import CachedEmbedder
from engram.providers._embeddings import cache_key
from engram.stores.memory import InMemoryConversationStore
from engram.stores.memory_memories import InMemoryMemoryStore
from engram.types._memory import Memory
from test_session_erasure import DAY1, say

pytest_plugins = ["servers"]

GOOGLE = "The user works at Google"
CLOUD = "The user works at Google Cloud"


@pytest.fixture
def mem(every_memory_engram: Engram) -> Engram:
    """An Engram on each memory backend."""
    return every_memory_engram


def fact(mem: Engram, attribute: str = "employer") -> Memory:
    [memory] = [m for m in mem.memories.get_all(user_id="ana") if m.attribute == attribute]
    return memory


def wordings(mem: Engram, memory: Memory) -> set[str | None]:
    """Every text the history of `memory` holds."""
    return {text for c in mem.memories.history(memory.id) for text in (c.old_text, c.new_text)}


def cached(mem: Engram, memory: Memory, text: str) -> bool:
    """Whether the embedding cache holds the vector of `memory` worded `text`."""
    embedder = mem.embedder
    assert isinstance(embedder, CachedEmbedder)
    key = cache_key(embedder._space_id, dense_text(replace(memory, text=text)), mem.tenant)
    return bool(embedder.cache.get_many([key]))


def test_a_value_the_erased_session_refined_goes_back_to_the_earlier_wording(
    mem: Engram,
) -> None:
    first = say(mem, "s1", "I work at Google.")
    say(mem, "s2", "I work at Google Cloud.", days=1)
    refined = fact(mem)
    assert (refined.text, refined.metadata["value"]) == (CLOUD, "Google Cloud")
    assert cached(mem, refined, CLOUD)

    mem.memories.delete_all(user_id="ana", session_id="s2")

    kept = fact(mem)
    assert (kept.id, kept.text, kept.source_ids) == (refined.id, GOOGLE, (first,))
    assert kept.metadata["value"] == "Google"
    assert kept.metadata["source_session"] == "s1"
    assert kept.metadata["said_at"] == DAY1.isoformat()
    assert "Cloud" not in json.dumps(kept.metadata)
    assert mem.memories.profile("ana").fields["employer"] == "Google"  # type: ignore[union-attr]
    assert CLOUD not in wordings(mem, kept)
    assert not cached(mem, kept, CLOUD)
    assert all(hit.parts.lexical == 0 for hit in mem.memories.search("Cloud", user_id="ana"))
    exported = mem.memories.export(user_id="ana")
    assert "Cloud" not in json.dumps([exported["memories"], exported["history"]], default=str)


async def test_the_async_erasure_takes_the_wording_back_too(mem: Engram) -> None:
    say(mem, "s1", "I work at Google.")
    say(mem, "s2", "I work at Google Cloud.", days=1)

    await mem.memories.adelete_all(user_id="ana", session_id="s2")

    assert (fact(mem).text, fact(mem).metadata["value"]) == (GOOGLE, "Google")


def test_a_wording_another_session_said_again_stays(mem: Engram) -> None:
    """s3 said "Google Cloud" too: erasing s2, where it was first said, keeps it."""
    say(mem, "s1", "I work at Google.")
    say(mem, "s2", "I work at Google Cloud.", days=1)
    say(mem, "s3", "I work at Google Cloud.", days=2)

    mem.memories.delete_all(user_id="ana", session_id="s2")

    assert (fact(mem).text, fact(mem).metadata["value"]) == (CLOUD, "Google Cloud")
    assert CLOUD in wordings(mem, fact(mem))


def test_an_erased_wording_between_two_left_leaves_the_history(mem: Engram) -> None:
    """Google (s1), Google Cloud (s2), Google Cloud Platform (s3): erasing s2 keeps the
    latest wording, and the history loses the one s2 said."""
    say(mem, "s1", "I work at Google.")
    say(mem, "s2", "I work at Google Cloud.", days=1)
    say(mem, "s3", "I work at Google Cloud Platform.", days=2)
    assert CLOUD in wordings(mem, fact(mem))

    mem.memories.delete_all(user_id="ana", session_id="s2")

    assert fact(mem).text == f"{CLOUD} Platform"
    assert CLOUD not in wordings(mem, fact(mem))


def test_a_spared_value_the_erased_session_refined_last_takes_the_wording_left(
    mem: Engram,
) -> None:
    """Google (s1), Google Cloud (s2), Google Cloud Platform (s1 again): erasing s1 spares
    the value, s2's, worded as s2 worded it."""
    say(mem, "s1", "I work at Google.")
    second = say(mem, "s2", "I work at Google Cloud.", days=1)
    say(mem, "s1", "I work at Google Cloud Platform.", days=2)

    mem.memories.delete_all(user_id="ana", session_id="s1")

    kept = fact(mem)
    assert (kept.text, kept.session_id, kept.source_ids) == (CLOUD, "s2", (second,))
    assert kept.metadata["value"] == "Google Cloud"
    assert mem.memories.profile("ana").fields["employer"] == "Google Cloud"  # type: ignore[union-attr]
    assert "Platform" not in json.dumps(mem.memories.export(user_id="ana"), default=str)


def test_a_hand_edit_after_the_erased_refinement_stays(mem: Engram) -> None:
    """The user's own edit is no session's saying: erasing s2 leaves its wording."""
    say(mem, "s1", "I work at Google.")
    say(mem, "s2", "I work at Google Cloud.", days=1)
    mem.memories.update(fact(mem).id, "Ana works at Google Cloud")

    mem.memories.delete_all(user_id="ana", session_id="s2")

    assert fact(mem).text == "Ana works at Google Cloud"


def test_two_values_the_erased_session_refined_both_go_back_in_the_profile(
    mem: Engram,
) -> None:
    say(mem, "s1", "I work at Google.")
    say(mem, "s1", "My name is Ana.")
    say(mem, "s2", "I work at Google Cloud.", days=1)
    say(mem, "s2", "My name is Ana Silva.", days=1)

    mem.memories.delete_all(user_id="ana", session_id="s2")

    assert (fact(mem).text, fact(mem, "name").metadata["value"]) == (GOOGLE, "Ana")
    fields = mem.memories.profile("ana").fields  # type: ignore[union-attr]
    assert (fields["employer"], fields["name"]) == ("Google", "Ana")


SESSIONS = ["s1", "s2", "s3"]
EMPLOYERS = ["Google", "Google Cloud", "Google Cloud Platform"]


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sayings=st.lists(
        st.tuples(st.sampled_from(SESSIONS), st.sampled_from(EMPLOYERS)), min_size=1, max_size=5
    ),
    erased=st.sampled_from(SESSIONS),
)
def test_no_wording_left_is_one_only_the_erased_session_said(
    sayings: list[tuple[str, str]], erased: str
) -> None:
    """Whatever was said where: after erasing a session, every fact's text and value, and
    every text of its history, is a wording some session left said."""
    with Engram(InMemoryConversationStore(), memory_store=InMemoryMemoryStore()) as mem:
        for day, (session, employer) in enumerate(sayings):
            say(mem, session, f"I work at {employer}.", day)
        mem.memories.delete_all(user_id="ana", session_id=erased)
        left = {employer for session, employer in sayings if session != erased}
        facts = [
            m
            for m in mem.memories.get_all(user_id="ana", include_superseded=True, limit=100)
            if m.attribute == "employer"
        ]
        assert {m.metadata["value"] for m in facts} <= left
        said = {f"The user works at {employer}" for employer in left}
        assert {m.text for m in facts} <= said
        assert set().union(*(wordings(mem, m) for m in facts)) <= {*said, None}


def test_a_value_taken_back_to_an_earlier_wording_is_embedded_anew(mem: Engram) -> None:
    """The store drops the vector of a changed text: the erasure embeds the earlier wording
    with the current model, so a search by meaning finds it, not only one by its words."""
    say(mem, "s1", "I work at Google.")
    say(mem, "s2", "I work at Google Cloud.", days=1)

    mem.memories.delete_all(user_id="ana", session_id="s2")

    kept = fact(mem)
    store = mem.resources.memory_store()
    [vector] = store.get_vectors(mem.tenant, [kept.id], mem.embedding_model_id)
    assert vector is not None
    expected = mem.embedder.embed([dense_text(kept)])[0]
    assert float(vector @ expected) > 0.999
