"""Everyday chat phrasings and what the deterministic extractor remembers of them, through the
public API: a user who says "Just adopted a cat named Miso!" or "I accepted an offer from Meta"
expects the profile and facts to follow, as they do for the textbook "I have a cat" and "I
work at Meta"; and expects nothing from what only looks like such a statement.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from embedders import HashingEmbedder
from engram import Engram, Message

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
        # family: kin named in a list, kids counted, a partner named in the next breath
        (["My kids are Sam and Alex"], {}, "Alex is the user's child"),
        (["My kids are Sam and Alex"], {}, "Sam is the user's child"),
        (["I have two kids, Sam and Alex"], {"count:kids": "2"}, "Sam is the user's child"),
        (["I'm a mom of two"], {"count:kids": "2"}, "The user has 2 kids"),
        (["I'm a father of 3"], {"count:kids": "3"}, None),
        (["I have two kids"], {"count:kids": "2"}, None),
        (["I have 3 children"], {"count:kids": "3"}, None),  # one slot, however said
        (
            ["I have a girlfriend now.", "Her name is Mia."],
            {"partner": "Mia", "relationship_status": "in a relationship"},
            None,
        ),
        (["I have a girlfriend now. Her name is Mia."], {"partner": "Mia"}, None),
        (["We got a puppy! His name is Max."], {}, "The user has a puppy named Max"),
        (["I have a new boss. His name is Bob."], {}, "Bob is the user's boss"),
        (["I have a son named Leo"], {}, "Leo is the user's son"),
        (["I have a wife"], {"relationship_status": "married"}, None),
        # school, and the job of a teacher
        (["I go to UCLA"], {"school": "UCLA"}, None),
        (["I'm studying law at UCLA"], {"school": "UCLA", "major": "law"}, None),
        (["I'm a junior at NYU"], {"school": "NYU"}, "The user studies at NYU"),
        (["I attend Lincoln High"], {"school": "Lincoln High"}, None),
        (["I majored in biology"], {"major": "biology"}, "The user majored in biology"),
        (
            ["I teach math at Lincoln High"],
            {"occupation": "teacher", "employer": "Lincoln High"},
            "The user teaches math at Lincoln High",
        ),
        # birth
        (["I was born in 1990"], {"birth_year": "1990"}, None),
        (["Born in Porto"], {"birthplace": "Porto"}, None),
        (["I was born in Porto in 1990"], {"birthplace": "Porto", "birth_year": "1990"}, None),
        (["I was born in May 1990"], {"birth_year": "1990"}, None),
        (["Born and raised in Chicago"], {"birthplace": "Chicago", "origin": "Chicago"}, None),
        # what the user doesn't eat or drink, can't have, or is intolerant to
        (["I don't drink alcohol"], {"avoids:alcohol": "doesn't drink"}, None),
        (["I don't drink"], {"avoids:alcohol": "doesn't drink"}, None),
        (["I don't eat pork"], {"avoids:pork": "doesn't eat"}, None),
        (["I can't have dairy"], {"avoids:dairy": "can't have"}, None),
        (["I cannot eat gluten"], {"avoids:gluten": "can't eat"}, None),
        (["I'm lactose intolerant"], {"intolerance:lactose": "intolerant"}, None),
        (["I have a gluten intolerance"], {"intolerance:gluten": "intolerant"}, None),
        # an intolerance is no diet: the vegan stays
        (["I'm vegan.", "I'm lactose intolerant"], {"diet": "vegan"}, None),
        # health
        (["I have asthma"], {"condition:asthma": "has"}, "The user has asthma"),
        (["I'm diabetic"], {"condition:diabetes": "has"}, None),
        (["I was diagnosed with ADHD last year"], {"condition:adhd": "has"}, None),
        (["I'm 20 weeks pregnant"], {"pregnant": "yes"}, "The user is 20 weeks pregnant"),
        # pets with their breed
        (["We have a beagle named Max"], {}, "The user has a beagle named Max, a dog"),
        (["a beagle named Max"], {}, "The user has a beagle named Max, a dog"),
        (["My corgi Biscuit hates baths"], {}, "The user has a corgi named Biscuit, a dog"),
        (["Just adopted a ragdoll called Luna"], {}, "The user has a ragdoll named Luna, a cat"),
        # age, from when it was said
        (["I'm 34"], {"age": "34"}, None),
        (["I turned 34 last week"], {"age": "34"}, None),
        # languages
        (
            ["I speak Spanish and French"],
            {"language:spanish": "speaks", "language:french": "speaks"},
            None,
        ),
        (["I'm fluent in German"], {"language:german": "fluent"}, None),
        (["I'm learning Japanese"], {"language:japanese": "learning"}, None),
        (["I'm a native English speaker"], {"language:english": "native"}, None),
        # hobbies
        (["I play tennis every weekend"], {"hobby:tennis": "plays"}, "The user plays tennis"),
        (["I've been playing the piano for 5 years"], {"hobby:piano": "plays"}, None),
        (["I go hiking on weekends"], {"hobby:hiking": "goes"}, None),
        (["I practice yoga"], {"hobby:yoga": "practices"}, None),
        (["My hobbies are hiking and chess"], {"hobby:chess": "enjoys"}, None),
        # the car
        (["I drive a Tesla"], {"car": "Tesla"}, "The user drives a Tesla"),
        (["My car is a Prius"], {"car": "Prius"}, None),
        # travel plans: a trip, no move
        (["I'm going to Japan in April"], {}, "The user plans a trip to Japan in April 2025"),
        (
            ["We're flying to Paris next week"],
            {},
            "The user plans a trip to Paris in the week of 6 May 2024",
        ),
        (["Heading to Lisbon tomorrow"], {}, "The user plans a trip to Lisbon on 3 May 2024"),
        (["I'm planning a trip to Italy"], {}, "The user plans a trip to Italy"),
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
        (["My friend Tom lives in Paris"], "home_city"),  # Tom's home, not the user's
        (["My parents live in Porto"], "home_city"),
        (["I'm going to Japan in April"], "home_city"),  # a trip
        (["I go to Costco every week"], "school"),  # a shop, not a school
        (["I go to UFC fights"], "school"),
        (["My sister has a beagle named Max"], "partner"),
        (["I'm a senior engineer at Google"], "school"),
        (["I was born in May 1990"], "birthplace"),  # a month is no place
    ],
)
def test_what_only_looks_like_a_chat_statement_fills_no_slot(
    tmp_path: Path, turns: list[str], absent: str
) -> None:
    profile, _ = remember(tmp_path, *turns)
    assert absent not in profile


@pytest.mark.parametrize(
    "text",
    [
        "Went well!",
        "Got any plans?",
        "Love and trust matter most",
        "Started raining here",
        "Sounds good",
        "Had fun today",
        "Her name is Mia.",  # nobody introduced: whose?
        "I don't have time",
        "I don't eat much",
        "I play it safe",
        "I'm going to miss you",
        "I'm heading to bed",
        "I speak my mind",
        "My sister has a beagle named Max",
    ],
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


def test_a_turn_naming_a_friend_gives_the_user_no_home_and_finds_the_friend(
    tmp_path: Path,
) -> None:
    profile, facts = remember(tmp_path, "My friend Tom lives in Paris")
    assert "home_city" not in profile
    assert not any("The user lives" in fact for fact in facts)


def test_everyday_facts_are_found_by_the_questions_they_answer(tmp_path: Path) -> None:
    turns = [
        "I have a girlfriend now.",
        "Her name is Mia.",
        "I teach math at Lincoln High",
        "I can't have dairy",
        "We have a beagle named Max",
    ]
    with Engram(tmp_path / "chat.db", embedder=HashingEmbedder()) as engram:
        for day, text in enumerate(turns):
            message = Message(role="user", content=text, created_at=MAY + timedelta(days=day))
            engram.memories.add(messages=[message], user_id="ana")
        asked = {
            "What is the name of the user's girlfriend?": "Mia",
            "What does the user teach?": "math",
            "What can't the user eat?": "dairy",
            "What breed is the user's dog?": "beagle",
        }
        for question, answer in asked.items():
            hits = engram.memories.search(question, user_id="ana", limit=3)
            assert any(answer in hit.memory.text for hit in hits), question


@pytest.mark.parametrize(
    ("text", "wanted", "unwanted"),
    [
        ("I'm going to Costco later", "The user plans to go to Costco later", "trip"),
        ("I play the lottery sometimes", "The user plays the lottery", "sometimes"),
    ],
)
def test_an_errand_is_no_trip_and_how_often_no_part_of_a_pastime(
    tmp_path: Path, text: str, wanted: str, unwanted: str
) -> None:
    profile, facts = remember(tmp_path, text)
    assert facts == [wanted]
    assert not any(unwanted in str(item) for item in (*profile, *profile.values()))
