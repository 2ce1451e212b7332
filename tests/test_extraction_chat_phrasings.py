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
        # a company one is only "at" by working there: a new job; a shop, a gym, a visit: no
        (
            [
                "I work at Google.",
                "I'm at Meta now",
                "I'm at Starbucks now",
                "I'm at the gym now",
                "I'm at Google now for an interview",
            ],
            {"employer": "Meta"},
            None,
        ),
        (["I work at Google.", "I'm currently at Stripe"], {"employer": "Stripe"}, None),
        (["I work at Google.", "I'm at Hooli Labs now"], {"employer": "Hooli Labs"}, None),
        (["I work at Google.", "I moved to Meta last month"], {"employer": "Meta"}, None),
        (["I work at Google.", "I'm at Meta now, on the ads team"], {"employer": "Meta"}, None),
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
        (
            ["I live in Porto.", "Actually I live in Lisbon, not Porto"],
            {"home_city": "Lisbon"},
            "The user lives in Lisbon",
        ),
        (
            ["I work at Google.", "Sorry, I work for Meta, not Google"],
            {"employer": "Meta"},
            "The user works at Meta",
        ),
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
        # a partner said by a pronoun: whom the user named last, in this turn or before
        (
            [
                "ok so I met someone. his name is Jonas",
                "we made it official, he's my boyfriend now",
            ],
            {"partner": "Jonas"},
            "The user's boyfriend is Jonas",
        ),
        (["I met someone named Jonas. She's my girlfriend now!"], {"partner": "Jonas"}, None),
        (["I've been seeing Jonas", "we're officially together"], {"partner": "Jonas"}, None),
        (
            ["Her name is Mia.", "His name is Jonas.", "he is now my bf"],
            {"partner": "Jonas"},
            None,
        ),
        (
            ["His name is Jonas. Her name is Mia.", "he's my boyfriend"],
            {"partner": "Jonas"},
            None,
        ),
        (["We got a puppy! His name is Max."], {}, "The user has a puppy named Max"),
        (["I have a new boss. His name is Bob."], {}, "Bob is the user's boss"),
        (["I have a son named Leo"], {}, "Leo is the user's son"),
        (["I have a wife"], {"relationship_status": "married"}, None),
        # "have" typed without its apostrophe
        (["ive lived in Seattle my whole life"], {"home_city": "Seattle"}, None),
        (["ive got two kids"], {"count:kids": "2"}, "The user has 2 kids"),
        (["I work at Google.", "Ive switched from Google to Meta"], {"employer": "Meta"}, None),
        (["ive been vegetarian for years"], {"diet": "vegetarian"}, None),
        (["weve moved to Lisbon"], {"home_city": "Lisbon"}, None),
        (["ive been diagnosed with asthma"], {}, "The user has asthma"),
        (["I have two sisters and a brother"], {"count:sisters": "2"}, "The user has a brother"),
        (
            ["I have 2 kids and a dog named Rex"],
            {"count:kids": "2"},
            "The user has a dog named Rex",
        ),
        # a child's age, as the user's own is kept: the latest said
        (["My son is 5"], {"age:son": "5"}, "The user's son is 5 years old"),
        (["My daughter is 7 years old"], {"age:daughter": "7"}, None),
        (["My son just turned 5"], {"age:son": "5"}, None),
        (["My son is 5", "My son just turned 6"], {"age:son": "6"}, None),
        # school, and the job of a teacher
        (["I go to UCLA"], {"school": "UCLA"}, None),
        (["I go to Boston University"], {"school": "Boston University"}, None),
        (["I go to MIT"], {"school": "MIT"}, "The user studies at MIT"),
        (["I go to Georgia Tech"], {"school": "Georgia Tech"}, None),
        (["I study at Stanford"], {"school": "Stanford"}, None),
        (["I attend Stanford"], {"school": "Stanford"}, "The user studies at Stanford"),
        (["I'm studying law at UCLA"], {"school": "UCLA", "major": "law"}, None),
        (["I'm a junior at NYU"], {"school": "NYU"}, "The user studies at NYU"),
        (["I attend Lincoln High"], {"school": "Lincoln High"}, None),
        (["I majored in biology"], {"major": "biology"}, "The user majored in biology"),
        (
            ["I teach math at Lincoln High"],
            {"occupation": "math teacher", "employer": "Lincoln High"},
            "The user teaches math at Lincoln High",
        ),
        (["I teach at Lincoln High"], {"occupation": "teacher", "employer": "Lincoln High"}, None),
        (["I teach math"], {"occupation": "math teacher"}, "The user teaches math"),
        (["I teach history to 8th graders"], {"occupation": "history teacher"}, None),
        (["I teach Spanish online"], {"occupation": "Spanish teacher"}, None),
        (["I'm teaching yoga classes"], {"occupation": "yoga teacher"}, None),
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
        (["I have a trip to Rome in August"], {}, "The user plans a trip to Rome in August 2024"),
        # siblings said with their age, and kin counted after one more
        (["I have a little brother"], {}, "The user has a little brother"),
        (["I have an older sister"], {}, "The user has an older sister"),
        (["I have a brother and two sisters"], {"count:sisters": "2"}, "The user has a brother"),
        (["I have a dog and 2 cats"], {"count:cats": "2"}, "The user has a dog"),
        (
            ["I have a wife and two kids"],
            {"relationship_status": "married", "count:kids": "2"},
            None,
        ),
        (["we have two kids"], {"count:kids": "2"}, "The user has 2 kids"),
        (["We have 3 cats 🐱"], {"count:cats": "3"}, None),
        # a named child's age is theirs: two sons keep two ages
        (
            ["My son Leo is 5 and my son Sam is 8"],
            {"age:leo": "5", "age:sam": "8"},
            "The user's son Sam is 8 years old",
        ),
        (["My son Leo is 5", "My son Leo just turned 6"], {"age:leo": "6"}, None),
        (["my daughter Emma is 3"], {"age:emma": "3"}, "The user's daughter Emma is 3 years old"),
        (["My son is 5", "My son Leo is 8"], {"age:son": "5", "age:leo": "8"}, None),
        # casual chat: lower case, no subject, emoji, no apostrophe
        (["just moved to Austin 🎉"], {"home_city": "Austin"}, None),
        (["i live in Toronto now"], {"home_city": "Toronto"}, "The user lives in Toronto"),
        (["I've lived in Seattle my whole life"], {"home_city": "Seattle"}, None),
        (["i grew up in Chicago"], {"origin": "Chicago"}, None),
        (["im from Brazil"], {"origin": "Brazil"}, None),
        (["got a new job at Amazon!!"], {"employer": "Amazon"}, None),
        (["im a software engineer"], {"occupation": "software engineer"}, None),
        (["i work as a nurse"], {"occupation": "nurse"}, None),
        (["i quit my job today"], {}, "The user quit their job"),
        (["im unemployed rn"], {}, "The user is unemployed"),
        (["my wife's name is Sara"], {"partner": "Sara"}, None),
        (["my husband is Mark"], {"partner": "Mark"}, None),
        (["i have a cat named Mochi 🐱"], {}, "The user has a cat named Mochi"),
        (["my dog's name is Buddy"], {}, "The user has a dog named Buddy"),
        (["got a new puppy, her name is Daisy"], {}, "The user has a puppy named Daisy"),
        (["I have a dog, his name is Rex"], {}, "The user has a dog named Rex"),
        (["im allergic to peanuts"], {"allergy:peanuts": "allergic"}, None),
        (["i dont eat meat"], {"avoids:meat": "doesn't eat"}, None),
        (["im vegetarian now"], {"diet": "vegetarian"}, None),
        (["im gluten free"], {"diet": "gluten free"}, None),
        (["i love hiking"], {"preference:hiking": "likes"}, None),
        (["i hate cilantro"], {"preference:cilantro": "dislikes"}, None),
        (["i really like sushi"], {"preference:sushi": "likes"}, None),
        (["my favorite food is pizza"], {"favorite_food": "pizza"}, None),
        (["i play guitar"], {"hobby:guitar": "plays"}, None),
        (["my bday is on june 12"], {"birthday": "june 12"}, None),
        (["im 27"], {"age": "27"}, None),
        (["i turned 30 today"], {"age": "30"}, None),
        (["i have type 1 diabetes"], {"condition:type_1_diabetes": "has"}, None),
        (["i have anxiety"], {"condition:anxiety": "has"}, None),
        (["im pregnant!"], {"pregnant": "yes"}, None),
        (["i work from home as a graphic designer"], {"occupation": "graphic designer"}, None),
        (["i cant eat shellfish"], {"avoids:shellfish": "can't eat"}, None),
        (["i cant stand country music"], {"preference:country_music": "dislikes"}, None),
        (["i'm a huge Taylor Swift fan"], {"preference:taylor_swift": "likes"}, None),
        (["im a soccer fan"], {"preference:soccer": "likes"}, "The user is a fan of soccer"),
        (["we adopted a rescue dog named Pepper"], {}, "The user has a dog named Pepper"),
        (["my little sister is 12"], {"age:sister": "12"}, "The user's sister is 12 years old"),
        (["me and my wife just had a baby girl named Ava"], {}, "Ava is the user's daughter"),
        # places and languages in lower case, a trip without its subject, gf and bf
        (
            ["im moving to denver next month"],
            {},
            "The user plans to move to Denver in June 2024",
        ),
        (["we just moved to austin"], {"home_city": "Austin"}, "The user moved to Austin"),
        (["Going to Mexico in May!"], {}, "The user plans a trip to Mexico in May 2024"),
        (["my gf Anna"], {"partner": "Anna"}, "The user's girlfriend is Anna"),
        # a spouse named between commas, before "and I": the name is the spouse's
        (["My wife, Sara, and I went hiking"], {"partner": "Sara"}, "The user went hiking"),
        (
            ["My husband, Tom, and I moved to Berlin"],
            {"partner": "Tom", "home_city": "Berlin"},
            None,
        ),
        (
            ["I have a bf now.", "His name is Tom."],
            {"partner": "Tom", "relationship_status": "in a relationship"},
            "The user's boyfriend is Tom",
        ),
        (
            ["i speak spanish and french"],
            {"language:spanish": "speaks", "language:french": "speaks"},
            "The user speaks French",
        ),
        (
            ["im learning japanese"],
            {"language:japanese": "learning"},
            "The user is learning Japanese",
        ),
        # two unnamed sons, told apart, keep two ages; one son's age is updated
        (
            ["My older son is 12 and my younger son is 9"],
            {"age:older_son": "12", "age:younger_son": "9"},
            "The user's older son is 12 years old",
        ),
        (["my son is 12", "my other son is 9"], {"age:son": "12", "age:other_son": "9"}, None),
        (["my son is 12", "my son just turned 13"], {"age:son": "13"}, None),
        (
            ["My eldest daughter is 15", "My oldest daughter just turned 16"],
            {"age:older_daughter": "16"},
            None,
        ),
        # training, college, a pet's age
        (["I'm training for a marathon"], {}, "The user is training for a marathon"),
        (["I'm in college"], {}, "The user is in college"),
        (
            ["I go to UCLA", "I'm a junior in college"],
            {"school": "UCLA"},
            "The user is a junior in college",
        ),
        (["our dog Bella is 3"], {"age:bella": "3"}, "The user has a dog named Bella"),
        (["my cat just turned 10"], {"age:cat": "10"}, "The user's cat is 10 years old"),
        # a job left for freelancing: no employer now, and why
        (
            ["I work at Google.", "I quit Google, I'm freelancing now"],
            {"employer": None},
            "The user is freelancing",
        ),
        (["I work at Google.", "I'm a freelancer now"], {"employer": None}, None),
        (["I work at Google.", "I'm freelancing on the side"], {"employer": "Google"}, None),
        # a new partner said as whom the user dates, after a break-up in the same turn
        (
            ["My girlfriend Sara is a nurse.", "Sara and I broke up. I'm seeing Mia now"],
            {"partner": "Mia"},
            "The user is dating Mia",
        ),
        (["I'm dating Tom."], {"partner": "Tom"}, "The user is dating Tom"),
        # the phone, replaced by the next one
        (["I have an iPhone.", "I switched to a Pixel"], {"phone": "Pixel"}, None),
        (
            ["I got a new iPhone 15 Pro yesterday"],
            {"phone": "iPhone 15 Pro"},
            "The user's phone is an iPhone 15 Pro",
        ),
        (["My phone is a Pixel 8"], {"phone": "Pixel 8"}, None),  # the model, no article
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
        (["I go to the gym"], "school"),
        (["I go to Costco on Sundays"], "school"),
        (["I go to church"], "school"),
        (["I go to CVS"], "school"),  # an acronym, but no school's
        (["I go to Walmart"], "school"),  # a name one goes to is no school, unless it says so
        (["I attend AA"], "school"),
        (["I attend Toastmasters"], "school"),  # a club
        (["Every year I attend Coachella"], "school"),  # an occasion
        (["I attend Sunday Mass"], "school"),
        (["I attend Bible Study"], "school"),
        (["My son is 5 minutes away"], "age:son"),  # a distance
        (["My son is 5'11\""], "age:son"),  # a height
        (["My son is 5 feet tall"], "age:son"),
        (["I teach kids to swim"], "occupation"),  # whom, not what: no "kids teacher"
        (["I play the lottery"], "hobby:lottery"),  # for a prize, no pastime
        (["I play lotto every week"], "hobby:lotto"),
        (["I'm at Starbucks now"], "employer"),  # where, not for whom
        (["I moved to Meta last month"], "home_city"),  # a new job, no home
        (["I'm with Tom now"], "employer"),  # with whom, not for whom
        (["My sister has a beagle named Max"], "partner"),
        (["I'm a senior engineer at Google"], "school"),
        (["I was born in May 1990"], "birthplace"),  # a month is no place
        (["My son Leo is 5"], "age:son"),  # Leo's age, not any son's
        (["My boyfriend is Tom.", "me and my boyfriend broke up"], "partner"),
        (["My boyfriend is Tom.", "My boyfriend and I broke up"], "partner"),
        (["My boyfriend is Tom.", "Me and Tom broke up"], "partner"),
        (["we have 2 options"], "count:options"),  # ours, no kin
        (["my friend is vegan"], "diet"),
        (["my brother lives in London"], "home_city"),
        (["my sister works at Google"], "employer"),
        (["if I lived in Paris I'd eat croissants every day"], "home_city"),
        (["what if i moved to Berlin"], "home_city"),
        (["do you think I should move to Austin?"], "home_city"),
        (["do I like sushi?"], "preference:sushi"),
        (["I'm not a big Lakers fan"], "preference:lakers"),
        (["I'm a total movie fan!"], "preference:total_movie"),  # says too little of what
        (["My brother is 6 feet tall"], "age:brother"),  # a height
        (["My boyfriend is Tom.", "me and my bf broke up"], "partner"),
        (["my gf, Toby, and I played board games"], "partner"),  # three of them: a list
        (["My older son is 12 and my younger son is 9"], "age:son"),  # neither is "the" son
        (["my cat is 10 pounds"], "age:cat"),  # a weight
        (["I'm seeing Hamilton tonight"], "partner"),  # a show, not a date
        (["I'm seeing Coldplay!"], "partner"),
        (["I'm seeing Dr Lee tomorrow"], "partner"),
        (["I'm not dating Tom"], "partner"),
        (["he's my boyfriend now"], "partner"),  # who, not said
        (["we're officially together"], "partner"),
        (["his name is Jonas", "he's my boyfriend's brother"], "partner"),
        (["his name is Jonas", "he's my brother now"], "partner"),
        (["her name is Mia", "he's my boyfriend now"], "partner"),  # not whom "he" means
        (["I've been seeing Dave's band a lot", "he's my boyfriend now"], "partner"),
        (["I have a Galaxy Watch"], "phone"),
        (["I don't have an iPhone"], "phone"),
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
        "I have a little time",
        "I have a little problem",
        "lol ok",
        "thanks!!",
        "how are you?",
        "I wish I had a dog",
        "i might get a cat someday",
        "do I like sushi?",
        "I'm a huge fan",
        "Going to bed",
        "going to try it",
        "going to be fine",
        "im moving to a new place",
        "I'm moving to the next step",
        "Moved to tears by the ending",
        "i moved to tears",
        "I'm training for it",
    ],
)
def test_a_verb_opening_a_remark_states_nothing_of_the_user(tmp_path: Path, text: str) -> None:
    profile, facts = remember(tmp_path, text)
    assert (profile, facts) == ({}, [])


@pytest.mark.parametrize(
    ("turns", "fields"),
    [
        # a new employer said in passing, with the job after it
        (["I work at Google.", "I'm with Deloitte now"], {"employer": "Deloitte"}),
        (
            ["I work at Google.", "I'm at Stripe now as a PM"],
            {"employer": "Stripe", "occupation": "PM"},
        ),
        (
            ["I joined Stripe last month as a designer"],
            {"employer": "Stripe", "occupation": "designer"},
        ),
        (["I work at Google.", "I switched jobs to Stripe"], {"employer": "Stripe"}),
        (
            ["I work at Google.", "I switched to Stripe as a designer"],
            {"employer": "Stripe", "occupation": "designer"},
        ),
        (["I work at Google.", "I switched to Stripe last month"], {"employer": "Stripe"}),
        # the job lost, said with an adverb
        (["I work at Google.", "I also lost my job"], {"employer": None}),
        (["I work at Google.", "I just got laid off"], {"employer": None}),
        # whom one sees for care, replaced by the next one
        (["My doctor is Dr. Lopez"], {"doctor": "Dr. Lopez"}),
        (["My doctor is Dr. Lopez", "My new doctor is Dr Kim"], {"doctor": "Dr. Kim"}),
        (["my therapist, Sarah, says hi"], {"therapist": "Sarah"}),
        # lower case, chat words and emoji after the value
        (["I'm 29 btw"], {"age": "29"}),
        (["im single rn"], {"relationship_status": "single"}),
        (["Im engaged!!"], {"relationship_status": "engaged"}),
        (["we have 3 kids now"], {"count:kids": "3"}),
        (["we moved to austin rn im still unpacking lol"], {"home_city": "Austin"}),
        (["i moved to lisbon 🎉"], {"home_city": "Lisbon"}),
        (["got promoted to senior engineer 🎉"], {"occupation": "senior engineer"}),
        # a number, and slots said new
        (["my new number is 555-123-4567"], {"phone_number": "555-123-4567"}),
        (["My phone is 555 123 4567"], {"phone_number": "555 123 4567", "phone": None}),
        (["my new email is ana@example.com"], {"email": "ana@example.com"}),
        (["my star sign is Leo"], {"star_sign": "Leo"}),
        # what only looks like a lost job or a status
        (["I work at Google.", "I lost my job search notes"], {"employer": "Google"}),
        (["i'm single-handedly running this"], {"relationship_status": None}),
        (["my phone is broken"], {"phone": None}),
    ],
)
def test_an_everyday_change_said_in_chat_updates_the_profile(
    tmp_path: Path, turns: list[str], fields: dict[str, str | None]
) -> None:
    profile, _ = remember(tmp_path, *turns)
    assert {key: profile.get(key) for key in fields} == fields


@pytest.mark.parametrize(
    ("turns", "absent"),
    [
        (["I'm with my mom now"], "employer"),
        (["I've been with Sara for 3 years"], "employer"),  # a partner, not a company
        (["I'm with Deloitte now for an interview"], "employer"),
        (["I'm at Google for a meeting"], "employer"),
        (["I switched to Spotify"], "employer"),  # an app as often as a job
        (["I switched to Google Docs, the team loves it"], "employer"),
        (["I switched to decaf"], "employer"),
        (["I joined a gym"], "employer"),
        (["My doctor is Indian"], "doctor"),  # after a bare "is", only a titled name
        (["my new job is great"], "job"),
        (["My number is 7"], "phone_number"),
        (["My brother is 29 btw"], "age"),
    ],
)
def test_an_everyday_remark_that_changes_nothing_fills_no_slot(
    tmp_path: Path, turns: list[str], absent: str
) -> None:
    profile, _ = remember(tmp_path, *turns)
    assert absent not in profile


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


@pytest.mark.parametrize(
    "news", ["I just got engaged!", "I'm married now.", "I'm in a relationship"]
)
def test_a_partnered_status_retires_the_no_partner_that_single_implied(
    tmp_path: Path, news: str
) -> None:
    fields, facts = remember(tmp_path, "I'm single.", news)
    assert "The user has no partner now" not in facts
    assert fields["relationship_status"] != "single"


def test_a_new_single_status_keeps_the_partner_ended(tmp_path: Path) -> None:
    fields, facts = remember(tmp_path, "My boyfriend Tom is great.", "I'm divorced.", "I'm single.")
    assert "partner" not in fields
    assert "The user has no partner now" in facts
