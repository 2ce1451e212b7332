"""Names written in lower case after a kin or partner word, as people chat ("my sister maria
just got married", "my bf tom is great"): the deterministic extractor reads them where a name
is expected (after "'s name is", "named", between commas, or as the subject of a verb) and
stores them title-cased, with the entity and the relation; a common word in that place
("my sister just", "my bf really", "my friend group is") is no name."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from embedders import HashingEmbedder
from engram import Engram, Message
from engram.memory.candidates import Candidate
from engram.memory.extraction import extract
from engram.memory.queries import STOPWORDS

MAY = datetime(2024, 5, 2, 9, 0, tzinfo=UTC)


def facts(text: str) -> list[Candidate]:
    message = Message(role="user", content=text, created_at=MAY)
    return [c for c in extract([message]) if c.kind != "episode"]


def named(text: str) -> list[tuple[str, str]]:
    """The (relation, person) pairs the facts of `text` state."""
    return [(r.relation, r.object) for c in facts(text) for r in c.relations]


@pytest.mark.parametrize(
    ("text", "relation", "name"),
    [
        ("my sister maria just got married", "has_sister", "Maria"),
        ("My sister maria just got married!", "has_sister", "Maria"),
        ("my little brother sam is coming over", "has_brother", "Sam"),
        ("my best friend jake said hi", "friend_of", "Jake"),
        ("my sister emily is coming over", "has_sister", "Emily"),
        ("my sister's name is maria", "has_sister", "Maria"),
        ("my cousin, ana, lives in porto", "has_cousin", "Ana"),
        ("i think my son leo has a cold", "has_son", "Leo"),
        ("my sister anne-marie has a dog", "has_sister", "Anne-Marie"),
        ("my sister maria loves cooking", "has_sister", "Maria"),
        ("i have a sister named maria", "has_sister", "Maria"),
        ("I have a brother called tom", "has_brother", "Tom"),
        ("i have a son named leo and two daughters", "has_son", "Leo"),
    ],
)
def test_kin_named_in_lower_case(text: str, relation: str, name: str) -> None:
    [fact] = [c for c in facts(text) if c.relations]
    assert [(r.relation, r.object) for r in fact.relations] == [(relation, name)]
    assert (name, "person") in [(e.name, e.kind) for e in fact.entities]
    assert name in fact.text


@pytest.mark.parametrize(
    ("text", "role", "name"),
    [
        ("my boyfriend tom is great", "boyfriend", "Tom"),
        ("my bf tom is great", "boyfriend", "Tom"),
        ("my wife, sara, works at a bank", "wife", "Sara"),
        ("my wife, sara, and i went hiking", "wife", "Sara"),
        ("my gf's name is mia", "girlfriend", "Mia"),
        ("my husband is called dan", "husband", "Dan"),
        ("my wife sara and i moved to lisbon", "wife", "Sara"),
        ("I think my bf tom's the best", "boyfriend", "Tom"),
        ("my bf is tom", "boyfriend", "Tom"),
        ("my girlfriend is sarah", "girlfriend", "Sarah"),
        ("my husband's name is dave", "husband", "Dave"),
        ("my wife is now ana lol", "wife", "Ana"),
        ("my gf is mia, she's great", "girlfriend", "Mia"),
    ],
)
def test_partner_named_in_lower_case(text: str, role: str, name: str) -> None:
    [partner] = [c for c in facts(text) if c.attribute == "partner"]
    assert (partner.value, partner.metadata["role"]) == (name, role)
    assert [(r.relation, r.object) for r in partner.relations] == [("partner_of", name)]
    assert (name, "person") in [(e.name, e.kind) for e in partner.entities]


@pytest.mark.parametrize(
    "text",
    [
        # verbs, adverbs and function words right after the kin word
        "my sister works at google",
        "my boyfriend really is great",
        "my mom said hi",
        "my sister just got married",
        "my sister and i went out",
        "my bf too is great",
        "my sister is great",
        "my mom never has time",
        "my sister probably is coming",
        "my sister left and i cried",
        "my sister texted me",
        "my mom finally has a phone",
        "my dad, however, is fine",
        "my sister who lives in porto is here",
        "my bf lol is the best",
        # nouns a kin word qualifies, or kin own, said without the "'s"
        "my friend group is great",
        "my mom guilt is real",
        "my bf car is broken",
        "my mom house is big",
        "my bf mom is visiting",
        "my sister kids are loud",
        "my bf dog is cute",
        # a sentence with capitals writes names with them: lower case is no name there
        "I met my sister anna in Paris",
        "my brother tom is visiting Lisbon",
        # a dating partner in a list with the user (Toby the dog, in LoCoMo)
        "my gf, toby, and i played board games",
    ],
)
def test_no_name_from_a_common_word(text: str) -> None:
    assert named(text) == []
    assert not [c for c in facts(text) if c.attribute == "partner"]


def test_a_capitalised_name_beside_a_lowercase_word() -> None:
    # The writer capitalises names: "tom" is no name of theirs, "Maria" is.
    assert named("My sister Maria and my brother tom are here") == [("has_sister", "Maria")]


def test_stopwords_after_a_kin_word_are_no_names() -> None:
    # Every function word, in every place a lower-case name is read.
    for word in sorted(STOPWORDS):
        for text in (
            f"my sister {word} is here",
            f"my bf, {word}, works at a bank",
            f"my sister's name is {word}",
        ):
            assert named(text) == [], text


@given(st.sampled_from(["maria", "tom", "jo", "leo", "sara", "dan"]))
def test_the_stored_name_is_title_cased_and_the_same_as_capitalised(name: str) -> None:
    lower = named(f"my sister {name} just got married")
    upper = named(f"My sister {name.capitalize()} just got married")
    assert lower == upper == [("has_sister", name.capitalize())]


def test_a_lowercase_partner_fills_the_profile(tmp_path: Path) -> None:
    with Engram(tmp_path / "chat.db", embedder=HashingEmbedder()) as engram:
        message = Message(role="user", content="my bf tom is great", created_at=MAY)
        engram.memories.add(messages=[message], user_id="ana")
        profile = engram.memories.profile("ana")
        assert profile is not None and profile.fields["partner"] == "Tom"
