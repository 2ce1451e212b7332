"""Everyday chat phrasings and what the deterministic extractor remembers of them, through the
public API: a user who says "Just adopted a cat named Miso!" or "I accepted an offer from Meta"
expects the profile and facts to follow, as they do for the textbook "I have a cat" and "I
work at Meta"; and expects nothing from what only looks like such a statement.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engram import Engram, Message
from test_eval import HashingEmbedder

MAY = datetime(2024, 5, 2, 9, 0, tzinfo=UTC)


def remember(tmp_path: Path, *turns: str) -> tuple[dict[str, object], list[str]]:
    """The profile fields and current facts after `turns`, one message a day in a session."""
    with Engram(tmp_path / "chat.db", embedder=HashingEmbedder()) as engram:
        for day, text in enumerate(turns):
            message = Message(
                role="user",
                content=text,
                created_at=MAY + timedelta(days=day),
                session_id="chat",
            )
            engram.memories.add(messages=[message], user_id="ana")
        profile = engram.memories.profile("ana")
        facts = [m.text for m in engram.memories.get_all(user_id="ana") if m.kind != "episode"]
        return dict(profile.fields if profile else {}), facts


@pytest.mark.parametrize(
    ("turns", "fields", "fact"),
    [
        # a change of job, said as news; the old employer retired
        (["I work at Google.", "I accepted an offer from Meta"], {"employer": "Meta"}, None),
        (["I work at Google.", "I got an offer from Meta and took it"], {"employer": "Meta"}, None),
        (["I work at Google.", "I just started at Stripe"], {"employer": "Stripe"}, None),
        (
            ["I work at Google.", "Started a new job at Stripe last week"],
            {"employer": "Stripe"},
            None,
        ),
        (["I work at Google.", "Joined Meta last month"], {"employer": "Meta"}, None),
        (["Landed a job at Microsoft!"], {"employer": "Microsoft"}, None),
        # where the user is, not a new job: the employer stays
        (["I work at Google.", "I'm at Starbucks now, on my laptop"], {"employer": "Google"}, None),
        (
            ["I accepted the offer from Meta as a designer"],
            {"employer": "Meta", "occupation": "designer"},
            None,
        ),
        # the job and its employer, past a department or a town
        (
            ["I work as a nurse in the ICU at Santa Maria"],
            {"occupation": "nurse", "employer": "Santa Maria"},
            None,
        ),
        (
            ["Currently working as a data scientist at Uber"],
            {"occupation": "data scientist", "employer": "Uber"},
            None,
        ),
        (
            ["Work at Deloitte as an auditor"],
            {"employer": "Deloitte", "occupation": "auditor"},
            None,
        ),
        (
            ["Got promoted to senior engineer today"],
            {"occupation": "senior engineer"},
            "The user got promoted to senior engineer on 2 May 2024",
        ),
        (["I was promoted to head of sales"], {"occupation": "head of sales"}, None),
        (["I work at Google.", "I'm retired"], {}, "The user is retired"),
        # subject-less chat reads as the speaker's
        (["Just adopted a cat named Miso!"], {}, "The user has a cat named Miso"),
        (["Moved to Berlin last month"], {"home_city": "Berlin"}, None),
        (["Finally quit smoking"], {}, "The user quit smoking"),
        (["I finally quit smoking"], {}, "The user quit smoking"),
        (["Living in Madrid these days"], {"home_city": "Madrid"}, None),
        (["Been vegan for a year"], {"diet": "vegan"}, None),
        (["Went vegan last month"], {"diet": "vegan"}, None),
        (["I'm vegetarian.", "Not vegetarian anymore"], {}, "The user is no longer vegetarian"),
        (["Don't eat meat anymore"], {}, "The user no longer eats meat"),
        (["Allergic to cats"], {"allergy:cats": "allergic"}, None),
        (["Hate mushrooms"], {"preference:mushrooms": "dislikes"}, None),
        (["Turned 40 yesterday!"], {"age": "40"}, None),
        (["Just got engaged to Tom!"], {"partner": "Tom", "relationship_status": "engaged"}, None),
        (["Just had a baby girl named Rosa!"], {}, "Rosa is the user's daughter"),
        (["We just had a baby boy, his name is Leo"], {}, "Leo is the user's son"),
        (["Big fan of the Lakers"], {"preference:lakers": "likes"}, None),
        # tastes, allergies and favourites said other ways
        (["I'm not a big fan of horror movies"], {"preference:horror_movies": "dislikes"}, None),
        (["I really don't like spicy food"], {"preference:spicy_food": "dislikes"}, None),
        (["I'm severely allergic to shellfish"], {"allergy:shellfish": "allergic"}, None),
        (["I have a peanut allergy"], {"allergy:peanut": "allergic"}, None),
        (["Coffee is my favorite drink"], {"favorite_drink": "Coffee"}, None),
        # names said with "is called", pets that are "ours"
        (["My girlfriend is called Emma"], {"partner": "Emma"}, None),
        (["Our cat is named Luna"], {}, "The user has a cat named Luna"),
        (["My best friend is called Jo"], {}, "Jo is the user's best friend"),
        # corrections and values with a full stop inside
        (["I live in Porto.", "Actually it's Lisbon, not Porto"], {"home_city": "Lisbon"}, None),
        (["I live in Porto.", "No, Lisbon, not Porto"], {"home_city": "Lisbon"}, None),
        # a home up to now, and one to come
        (["I've lived in Chicago for 10 years"], {"home_city": "Chicago"}, None),
        (
            ["I'm moving to Berlin next month"],
            {},
            "The user plans to move to Berlin in June 2024",
        ),
        (["My birthday is on March 3rd"], {"birthday": "March 3rd"}, None),
        (["My email is ana@example.com"], {"email": "ana@example.com"}, None),
    ],
)
def test_a_chat_phrasing_is_remembered_as_the_plain_statement_would_be(
    tmp_path: Path, turns: list[str], fields: dict[str, str], fact: str | None
) -> None:
    profile, facts = remember(tmp_path, *turns)
    assert {key: profile.get(key) for key in fields} == fields
    if fact is not None:
        assert fact in facts


@pytest.mark.parametrize(
    ("turns", "absent"),
    [
        (["I'm at Starbucks now"], "employer"),  # where the user is, not for whom
        (["I live in Porto.", "I'm at Starbucks now"], "employer"),
        (["I accepted an offer from Zillow on our house"], "employer"),  # a sale
        (["I got promoted to the next level"], "occupation"),
        (["I've lived in Paris"], "home_city"),  # some time in one's life
        (["I'm moving to Berlin next month"], "home_city"),  # not yet
        (["Love is all you need"], "preference:is_all_you_need"),
    ],
)
def test_what_only_looks_like_a_chat_statement_fills_no_slot(
    tmp_path: Path, turns: list[str], absent: str
) -> None:
    profile, _ = remember(tmp_path, *turns)
    assert absent not in profile


@pytest.mark.parametrize(
    "text", ["Went well!", "Got any plans?", "Love and trust matter most", "Started raining here"]
)
def test_a_verb_opening_a_remark_states_nothing_of_the_user(tmp_path: Path, text: str) -> None:
    profile, facts = remember(tmp_path, text)
    assert (profile, facts) == ({}, [])


def test_a_new_employer_said_as_news_retires_the_old_one_and_is_found(tmp_path: Path) -> None:
    with Engram(tmp_path / "chat.db", embedder=HashingEmbedder()) as engram:
        for day, text in enumerate(["I work at Google.", "I accepted an offer from Meta"]):
            message = Message(role="user", content=text, created_at=MAY + timedelta(days=day))
            engram.memories.add(messages=[message], user_id="ana")
        facts = [m.text for m in engram.memories.get_all(user_id="ana") if m.kind != "episode"]
        assert facts == ["The user works at Meta"]
        hits = engram.memories.search("Where does the user work?", user_id="ana", limit=1)
        assert "Meta" in hits[0].memory.text
