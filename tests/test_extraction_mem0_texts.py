"""A memory given to `memories.add` as text, the way mem0 users add facts, is read as the
user saying it (no LLM: the rule extractor): "The user lives in Paris", "User is
vegetarian", "<user_name> lives in Paris", and mem0's own subject-less facts ("Lives in San
Francisco", "Name is Alex") fill the user's slots and are revised by what the user says
later. A text naming someone else stays theirs, one naming the user further on is read as
it is, a chat turn opening on a bare verb is not rewritten, and `infer=False` still stores
the text verbatim with no slot."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from embedders import HashingEmbedder
from engram import Engram
from engram.memory._first_person import first_person


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Engram]:
    with Engram(tmp_path / "mem0-texts.db", embedder=HashingEmbedder()) as engram:
        yield engram


def fields(mem: Engram, user: str = "u") -> dict[str, str]:
    profile = mem.memories.profile(user)
    return dict(profile.fields) if profile else {}


def current_facts(mem: Engram, user: str = "u") -> dict[str, str | None]:
    """Each current non-episode memory's text, with its subject (None: the user)."""
    found = mem.memories.get_all(user_id=user)
    return {m.text: m.metadata.get("subject") for m in found if m.kind != "episode"}


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("The user lives in Paris", "home_city", "Paris"),
        ("User is vegetarian", "diet", "vegetarian"),
        ("The user works at Google.", "employer", "Google"),
        ("The user's favourite food is sushi", "favorite_food", "sushi"),
        ("Is a vegetarian", "diet", "vegetarian"),
        ("Lives in San Francisco", "home_city", "San Francisco"),
        ("Works at Google", "employer", "Google"),
        ("Name is Alex", "name", "Alex"),
        ("Likes to play tennis", "preference:to_play_tennis", "likes"),
        ("Favourite movie is Inception", "favorite_movie", "Inception"),
    ],
)
def test_a_memory_text_about_the_user_fills_the_slot(
    mem: Engram, text: str, field: str, value: str
) -> None:
    report = mem.memories.add(text, user_id="u")
    assert fields(mem)[field] == value
    # The episode keeps the text as given; the fact is the user's.
    assert [m.text for m in report.added if m.kind == "episode"] == [text]
    assert None in current_facts(mem).values()


def test_a_text_naming_the_user_by_the_user_name_is_the_users(mem: Engram) -> None:
    mem.memories.add("Ana lives in Paris", user_id="u", user_name="Ana")
    assert fields(mem)["home_city"] == "Paris"
    assert current_facts(mem) == {"Ana lives in Paris": None}


def test_a_later_message_supersedes_what_a_memory_text_said(mem: Engram) -> None:
    mem.memories.add("The user lives in Paris", user_id="u")
    report = mem.memories.add(
        messages=[{"role": "user", "content": "I moved to Rome."}], user_id="u"
    )
    assert fields(mem)["home_city"] == "Rome"
    assert [m.text for m in report.superseded] == ["The user lives in Paris"]
    assert "The user lives in Paris" not in current_facts(mem)


def test_a_text_naming_someone_else_or_the_user_further_on_is_not_the_users(
    mem: Engram,
) -> None:
    mem.memories.add("Marta lives in Madrid", user_id="u")
    mem.memories.add("James lives in Lisbon", user_id="u")
    mem.memories.add("Marta told the user she lives in Porto", user_id="u")
    assert "home_city" not in fields(mem)
    assert current_facts(mem)["Marta lives in Madrid"] == "Marta"
    # ... while the user's own is read.
    mem.memories.add("The user lives in Paris", user_id="u")
    assert fields(mem)["home_city"] == "Paris"


def test_a_chat_turn_opening_on_a_bare_verb_is_not_rewritten(mem: Engram) -> None:
    chat = [{"role": "user", "content": "Lives in Madrid, my sister. Works at Zara."}]
    mem.memories.add(messages=chat, user_id="u")
    assert "home_city" not in fields(mem)
    assert "employer" not in fields(mem)
    mem.memories.add("Lives in Paris", user_id="u")  # the same words as a memory's text
    assert fields(mem)["home_city"] == "Paris"


def test_infer_false_keeps_the_text_verbatim_with_no_slot(mem: Engram) -> None:
    mem.memories.add("The user lives in Paris", user_id="u", infer=False)
    assert fields(mem) == {}
    assert current_facts(mem) == {"The user lives in Paris": None}
    mem.memories.add("The user lives in Berlin", user_id="v")
    assert fields(mem, "v") == {"home_city": "Berlin"}


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("Lives in Braga", "I live in Braga"),
        ("Is a nurse", "I am a nurse"),
        ("Doesn't eat meat", "I don't eat meat"),
        ("Name is Ana", "My name is Ana"),
        ("Favorite food is sushi", "My favorite food is sushi"),
        ("Sister Marta lives in Porto", "My sister Marta lives in Porto"),
        ("Allergic to nuts", "I am allergic to nuts"),
        ("Vegetarian", "I am vegetarian"),
        # Left as they are: a name, a thing that is no statement of the user's.
        ("James lives in Braga", "James lives in Braga"),
        ("Vegan recipes are easy", "Vegan recipes are easy"),
        ("Dog owners love parks", "Dog owners love parks"),
        ("From now on call me Bob", "From now on call me Bob"),
    ],
)
def test_first_person_reads_a_subjectless_text_as_the_users(text: str, said: str) -> None:
    assert first_person(text, ["The user"], unnamed=True) == said
    assert first_person(text, ["The user"]) == text  # only when asked


def test_a_memory_text_ending_a_value_ends_it(mem: Engram) -> None:
    mem.memories.add("The user works at Google", user_id="u")
    mem.memories.add("User no longer works at Google", user_id="u")
    assert "employer" not in fields(mem)
    assert "The user no longer works at Google" in current_facts(mem)
    assert "The user works at Google" not in current_facts(mem)


def test_an_agents_own_memory_text_is_no_users(mem: Engram) -> None:
    mem.memories.add("Prefers short answers", agent_id="helper")
    kept = mem.memories.get_all(agent_id="helper")
    assert [(m.kind, m.text) for m in kept] == [("episode", "Prefers short answers")]
    mem.memories.add("Prefers short answers", user_id="u")  # the user's, read as theirs
    assert fields(mem)["preference:short_answers"] == "likes"
