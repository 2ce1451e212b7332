"""Facts a person states about themselves in casual, lower-case chat ("i have a sister named
maria", "my bf is tom", "i work at google"): the deterministic extractor reads them as it
reads the capitalised forms, names title-cased (a well-known company spelt as it spells
itself), and takes no common word for a name or an employer ("my bf is great", "i work at
home")."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engram import Message
from engram.memory.candidates import Candidate
from engram.memory.extraction import extract
from engram.memory.queries import STOPWORDS

MAY = datetime(2024, 5, 2, 9, 0, tzinfo=UTC)


def facts(text: str) -> list[Candidate]:
    message = Message(role="user", content=text, created_at=MAY)
    return [c for c in extract([message]) if c.kind != "episode"]


def slot(text: str, attribute: str) -> list[str | None]:
    return [c.value for c in facts(text) if c.attribute == attribute]


# -- kin one has, named in lower case (also `test_extraction_lowercase_names`) ------------


@given(st.sampled_from(["maria", "tom", "jo", "leo", "sara", "dan"]))
def test_kin_one_has_is_stored_as_my_sister_name_is(name: str) -> None:
    # "i have a sister named maria" states what "my sister maria just got married" does.
    had = [(c.text, c.relations) for c in facts(f"i have a sister named {name}")]
    said = [(c.text, c.relations) for c in facts(f"my sister {name} just got married")]
    assert had == said


@pytest.mark.parametrize(
    "text",
    [
        "i have a sister named after my mom",
        "i have a brother called so often",
        "i have a sister named maria in Paris",  # capitals elsewhere: a name would have one
    ],
)
def test_no_kin_named_from_a_common_word(text: str) -> None:
    assert [c for c in facts(text) if c.relations] == []
    [introduced] = [c for c in facts(text) if "introduces" in c.metadata]
    assert introduced.text.startswith("The user has a")


# -- a partner after a bare "is" (also `test_extraction_lowercase_names`) ----------------


@pytest.mark.parametrize(
    "word",
    [
        "great",
        "amazing",
        "pregnant",
        "sick",
        "away",
        "home",
        "here",
        "busy",
        "thoughtful",
        "supportive",
        "italian",
        "annoyed",
        "always",
        "lovely",
        "taken",
    ],
)
def test_no_partner_from_a_word_said_of_a_partner(word: str) -> None:
    for text in (f"my bf is {word}", f"my wife is {word}!", f"my girlfriend is now {word}"):
        assert slot(text, "partner") == [], text


def test_no_partner_from_is_before_more_words() -> None:
    # Only a word that ends the clause: "tom and he" may be "tom and jerry".
    assert slot("my bf is tom and jerry fan", "partner") == []
    assert slot("my bf is so sweet", "partner") == []


# -- the employer, said in lower case ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "employer"),
    [
        ("i work at google", "Google"),
        ("I work at google", "Google"),
        ("i work for microsoft", "Microsoft"),
        ("i just started at microsoft", "Microsoft"),
        ("i joined openai last month", "OpenAI"),
        ("i got a job at nvidia", "Nvidia"),
        ("i work at goldman sachs", "Goldman Sachs"),
        ("i work at acme", "Acme"),
        ("i just started at acme, new job", "Acme"),
    ],
)
def test_an_employer_in_lower_case_is_a_name(text: str, employer: str) -> None:
    [fact] = [c for c in facts(text) if c.attribute == "employer"]
    assert fact.value == employer
    assert [(r.relation, r.object) for r in fact.relations] == [("works_at", employer)]


def test_a_role_after_a_lowercase_employer_is_the_occupation() -> None:
    found = {c.attribute: c.value for c in facts("i work at google as a designer")}
    assert (found["employer"], found["occupation"]) == ("Google", "designer")


@pytest.mark.parametrize(
    "text",
    [
        "i work at home",
        "I work at home",
        "i work at night",
        "i work at nights",
        "i work at night shifts",
        "i work at night and sleep all day",
        "I work at home on Mondays",
        "i work at weekends",
    ],
)
def test_where_or_when_one_works_is_no_employer(text: str) -> None:
    assert slot(text, "employer") == []


@pytest.mark.parametrize(
    "text",
    [
        "i joined reddit",
        "i joined a gym",
        "i joined toastmasters",
        "i started at the bottom",
        "i started at uni",
        "i just started at home",
    ],
)
def test_a_lowercase_start_or_join_is_no_employer_without_work(text: str) -> None:
    assert slot(text, "employer") == []


def test_a_workplace_said_with_an_article_stays_as_said() -> None:
    assert slot("i work at a bakery", "employer") == ["a bakery"]


# -- a job loss told of before ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "since I lost my job I've been cooking more",
        "since i lost my job i've been cooking more",
        "I've been cooking more since I lost my job",
        "I've been my own boss 'cause I lost my job",
    ],
)
def test_a_subordinate_job_loss_is_no_ending(text: str) -> None:
    # A loss given as the time or the reason of something else was news before; as an
    # ending it would supersede the turn that first told it (`_job_change_rules._SINCE`).
    assert slot(text, "employer") == []


def test_a_job_loss_said_as_news_ends_the_employer() -> None:
    assert slot("Lost my job. Since then I've been cooking more", "employer") == ["none"]
    assert slot("i lost my job so i've been cooking more", "employer") == ["none"]


def test_no_partner_from_a_function_word_after_is() -> None:
    for word in sorted(STOPWORDS):
        assert slot(f"my bf is {word}", "partner") == [], word


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mango is going to my neighbor Dave's", "Dave is the user's neighbor"),
        ("we stayed at my sister Ana's place", "Ana is the user's sister"),
        ("my friend Chris' birthday is today", "Chris is the user's friend"),
        ("my dog Rex's vet is great", "The user has a dog named Rex"),
        ("my boyfriend Tom's parents are visiting", "The user's boyfriend is Tom"),
    ],
)
def test_a_name_said_with_a_possessive_is_the_person_not_their_place(
    text: str, expected: str
) -> None:
    texts = [c.text for c in facts(text)]
    assert expected in texts
    assert not any("'s is" in said or said.endswith("'s") for said in texts)


def test_a_possessive_name_fills_the_partner_slot_without_it() -> None:
    assert slot("my boyfriend Tom's parents are visiting", "partner") == ["Tom"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I GOT THE SCRIPPS POSTDOC", "The user got the scripps postdoc"),
        ("omg I GOT THE SCRIPPS POSTDOC", "The user got the scripps postdoc"),
        ("I GOT THE SCRIPPS POSTDOC. Scripps!!", "The user got the Scripps postdoc"),
        ("I LOVE MY NEW JOB", "The user loves their new job"),
        ("I LOVE JAZZ", "The user loves jazz"),
    ],
)
def test_a_shouted_clause_is_remembered_in_small_letters(text: str, expected: str) -> None:
    assert expected in [c.text for c in facts(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I love the NBA", "The user loves the NBA"),
        ("I work at IBM", "The user works at IBM"),
        ("I WORK AT IBM", "The user works at IBM"),
        ("I'm training for the NYC marathon", "The user is training for the NYC marathon"),
    ],
)
def test_capitals_of_a_name_said_in_a_plain_clause_are_kept(text: str, expected: str) -> None:
    assert expected in [c.text for c in facts(text)]
