"""The deterministic extractor: an episode per turn, first-person facts, slots, never raises."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engram.memory import NO_VALUE, Candidate, extract
from engram.memory.temporal import ground
from engram.types import Message

WHEN = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
SLOTS = frozenset({"home_city", "employer"})
LOCOMO = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo_dev.json"


def said(*texts: str, role: str = "user", name: str | None = "Ana") -> list[Message]:
    return [Message(role=role, content=text, name=name, created_at=WHEN) for text in texts]  # type: ignore[arg-type]


def facts(*texts: str, user_name: str | None = "Ana") -> list[Candidate]:
    return [c for c in extract(said(*texts), user_name=user_name) if c.kind != "episode"]


def only(text: str) -> Candidate:
    [candidate] = facts(text)
    return candidate


@pytest.mark.parametrize(
    ("text", "kind", "attribute", "value", "fact"),
    [
        ("I live in Berlin with my wife.", "profile", "home_city", "Berlin", "Ana lives in Berlin"),
        (
            "Yeah, I moved to Lisbon last month.",
            "profile",
            "home_city",
            "Lisbon",
            "Ana moved to Lisbon",
        ),
        ("I'm vegetarian.", "profile", "diet", "vegetarian", "Ana is vegetarian"),
        ("I'm no longer vegetarian", "profile", "diet", NO_VALUE, "Ana is no longer vegetarian"),
        (
            "I work at Acme Inc, in Lisbon.",
            "profile",
            "employer",
            "Acme Inc",
            "Ana works at Acme Inc",
        ),
        (
            "I work as a nurse at the local hospital",
            "profile",
            "occupation",
            "nurse",
            "Ana works as a nurse",
        ),
        (
            "I quit my job at Google yesterday.",
            "profile",
            "employer",
            NO_VALUE,
            "Ana quit their job at Google",
        ),
        ("My partner Tomás is a chef.", "profile", "partner", "Tomás", "Ana's partner is Tomás"),
        ("My partner is now Lucas.", "profile", "partner", "Lucas", "Ana's partner is Lucas"),
        ("My name is Ana.", "profile", "name", "Ana", "The user's name is Ana"),
        ("I'm 34 years old", "profile", "age", "34", "Ana is 34 years old"),
        ("I'm from Sweden originally.", "profile", "origin", "Sweden", "Ana is from Sweden"),
        ("I have 2 kids.", "fact", "count:kids", "2", "Ana has 2 kids"),
        (
            "I'm allergic to peanuts!",
            "fact",
            "allergy:peanuts",
            "allergic",
            "Ana is allergic to peanuts",
        ),
        (
            "My favorite color is blue.",
            "preference",
            "favorite_color",
            "blue",
            "Ana's favorite color is blue",
        ),
        ("I hate running.", "preference", "preference:running", "dislikes", "Ana hates running"),
        # A taste ended, as "I no longer like sushi" says (`_revision_tastes.ended_taste`).
        ("I don't like sushi anymore.", "fact", None, None, "Ana no longer likes sushi"),
        (
            "I don't like sushi.",
            "preference",
            "preference:sushi",
            "dislikes",
            "Ana doesn't like sushi",
        ),
        (
            "I'm a big fan of jazz.",
            "preference",
            "preference:jazz",
            "likes",
            "Ana is a big fan of jazz",
        ),
        ("My best friend Sarah visited.", "fact", None, None, "Sarah is Ana's best friend"),
        ("I want to become a counselor.", "fact", None, None, "Ana wants to become a counselor"),
        ("I no longer eat meat.", "fact", None, None, "Ana no longer eats meat"),
    ],
)
def test_first_person_statements_become_third_person_facts(
    text: str, kind: str, attribute: str | None, value: str | None, fact: str
) -> None:
    candidate = only(text)
    assert (candidate.kind, candidate.attribute, candidate.value, candidate.text) == (
        kind,
        attribute,
        value,
        fact,
    )
    assert candidate.metadata["extractor"] == "rules"


@pytest.mark.parametrize(
    ("text", "start", "granularity"),
    [
        ("My dad passed away last year.", date(2022, 1, 1), "year"),
        ("I moved to Lisbon in March.", date(2023, 3, 1), "month"),
        ("I adopted a cat last week.", date(2023, 5, 1), "week"),
        ("My dad passed away on Monday.", date(2023, 5, 1), "day"),
        ("My dad passed away two days ago.", date(2023, 5, 6), "day"),
        ("My dad passed away.", WHEN.date(), None),
        ("I live in Berlin.", WHEN.date(), None),
    ],
)
def test_a_fact_records_when_it_was_said_and_the_precision_of_its_date(
    text: str, start: date, granularity: str | None
) -> None:
    """What a recalled line reads to date it apart from when it was said, at its precision;
    the date is its start (no `event_date`, which search would favour over the turn)."""
    fact = only(text)
    assert fact.metadata["said_at"] == WHEN.isoformat()
    assert fact.valid_from is not None and fact.valid_from.date() == start
    assert fact.metadata.get("event_granularity") == granularity
    assert "event_date" not in fact.metadata


def test_a_fact_of_a_time_named_in_passing_records_no_event_date() -> None:
    """ "My partner Tomás" holds from when it was said, not from the trip's date."""
    [partner] = [
        fact for fact in facts("My partner Tomás and I went to Rome in May.") if fact.relations
    ]
    assert partner.valid_from == WHEN and partner.metadata["said_at"] == WHEN.isoformat()
    assert "event_granularity" not in partner.metadata


def test_every_turn_is_an_episode_with_its_time_and_provenance() -> None:
    messages = [
        *said("I went to a LGBTQ support group yesterday and it was so powerful."),
        Message(role="assistant", content="That sounds wonderful!", created_at=WHEN),
        Message(role="system", content="You are helpful.", created_at=WHEN),
        Message(role="tool", content="{}", tool_call_id="c1", created_at=WHEN),
        Message(role="user", content="   ", created_at=WHEN),
    ]
    episodes = [c for c in extract(messages, user_name="Ana") if c.kind == "episode"]
    assert [e.text for e in episodes] == [messages[0].text, "That sounds wonderful!"]
    user, assistant = episodes
    assert user.source_ids == (messages[0].id,) and user.valid_from == WHEN
    assert user.metadata["event_date"] == "2023-05-07"  # "yesterday"
    assert user.metadata["role"] == "user" and user.metadata["speaker"] == "Ana"
    assert ("Ana", "person") in user.entities
    assert assistant.importance < user.importance


def test_an_episode_keeps_the_turns_before_it_in_its_session_as_context() -> None:
    def turn(text: str, name: str, session: str) -> Message:
        return Message(role="user", content=text, name=name, created_at=WHEN, session_id=session)

    long = "word " * 200
    messages = [
        turn("Did you run the marathon?", "Ben", "s1"),
        turn("Other session.", "Ben", "s2"),
        turn(long, "Ben", "s1"),
        turn("Hi", "Ana", "s1"),
        turn("Yes! I did.", "Ana", "s1"),
    ]
    episodes = [c for c in extract(messages) if c.kind == "episode"]
    first, other, wordy, hi, reply = (e.metadata for e in episodes)
    assert "context" not in first and "context" not in other
    assert first["source_session"] == "s1" and other["source_session"] == "s2"
    assert wordy["context"] == ["Ben: Did you run the marathon?"]
    assert reply["context"][-1] == "Ana: Hi" and len(reply["context"]) == 2
    cut = reply["context"][0]
    assert cut.startswith("Ben: word word") and cut.endswith(" ...") and len(cut) < 220
    assert "source_session" not in extract(said("I ran."))[0].metadata


def test_events_are_dated_in_text_and_validity() -> None:
    event = only("I bought a new car 3 days ago!")
    assert event.kind == "event"
    assert event.text == "Ana bought a new car on 5 May 2023"
    assert event.valid_from is not None and event.valid_from.date() == date(2023, 5, 5)


@pytest.mark.parametrize(
    ("text", "event"),
    [
        ("I visited Paris in March.", "Ana visited Paris in March 2023"),
        ("I went to Berlin with Mel in June.", "Ana went to Berlin with Mel in June 2022"),
        ("I visited Rome in Sept.", "Ana visited Rome in September 2022"),
        ("I visited Paris on 5 March, 2023.", "Ana visited Paris on 5 March 2023"),
        ("I visited Marseille on Mar. 5, 2023.", "Ana visited Marseille on 5 March 2023"),
    ],
)
def test_an_event_states_its_date_once(text: str, event: str) -> None:
    # The time expression ends before the sentence's full stop, and its part inside the
    # object is taken out as words ("Mar", not the "Mar" of "Marseille").
    assert only(text).text == event


def test_a_time_expression_leaves_the_full_stop_to_the_sentence() -> None:
    assert [m.span for m in ground("I visited Paris in March.", WHEN)] == ["in March"]
    assert [m.span for m in ground("In Sept. 2022 I left.", WHEN)] == ["Sept. 2022"]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("I visited Paris in March.", ["Paris"]),
        ("I went to Berlin with Mel in June.", ["Berlin", "Mel"]),
        ("My sister Lena called me. I visited Paris in March.", ["Paris"]),
        ("I love Lisbon!", ["Lisbon"]),
    ],
)
def test_a_fact_carries_the_entities_its_text_names(text: str, names: list[str]) -> None:
    # As its episode does, so that a query naming Paris finds the event (entity boost); not
    # the names of the turn's other sentences.
    fact = facts(text)[-1]
    assert [entity.name for entity in fact.entities] == names


def test_relations_and_entities_come_with_slots() -> None:
    partner = only("My partner Tomás Almeida works in Porto.")
    assert ("Tomás Almeida", "person") in partner.entities
    [relation] = partner.relations
    assert (relation.subject, relation.relation, relation.object) == (
        None,
        "partner_of",
        "Tomás Almeida",
    )
    home = only("I live in Berlin.")
    assert [(r.relation, r.object, r.object_kind) for r in home.relations] == [
        ("lives_in", "Berlin", "place")
    ]


def test_moved_from_to_negates_the_old_place() -> None:
    moved = only("I moved from Berlin to Lisbon in June.")
    assert (moved.attribute, moved.value) == ("home_city", "Lisbon")
    assert moved.metadata["negates"] == "Berlin"
    # Said on 8 May 2023, in the past tense: the June before, not the one to come.
    assert moved.valid_from is not None and moved.valid_from.date() == date(2022, 6, 1)


def test_facts_name_the_user_or_another_speaker() -> None:
    [signed] = facts("I live in Berlin.", user_name=None)
    assert (signed.text, signed.subject) == ("Ana lives in Berlin", None)
    nameless = [c for c in extract(said("I live in Berlin.", name=None)) if c.kind != "episode"]
    assert nameless[0].text == "The user lives in Berlin" and nameless[0].subject is None
    other = extract(said("I live in Boston.", name="Melanie"), user_name="Caroline")
    [fact] = [c for c in other if c.kind != "episode"]
    assert fact.text == "Melanie lives in Boston" and fact.subject == "Melanie"


def test_assistant_statements_are_not_user_facts_unless_asked() -> None:
    messages = said("I live in Paris.", role="assistant", name=None)
    assert [c.kind for c in extract(messages)] == ["episode"]
    both = extract(messages, fact_roles=("user", "assistant"))
    assert [c.kind for c in both] == ["episode", "profile"]


def test_chit_chat_yields_no_facts() -> None:
    assert (
        facts(
            "I'd like to know more.", "I like that you asked.", "I have a question.", "Haha me too!"
        )
        == []
    )


def test_duplicates_in_one_batch_are_merged_with_united_provenance() -> None:
    messages = said("I'm vegetarian.", "Like I said, I'm vegetarian.")
    [fact] = [c for c in extract(messages, user_name="Ana") if c.kind != "episode"]
    assert fact.source_ids == (messages[0].id, messages[1].id)


@settings(max_examples=150, deadline=None)
@given(texts=st.lists(st.text(max_size=200), max_size=4), name=st.none() | st.text(max_size=10))
def test_extraction_never_raises_and_keeps_every_turn(texts: list[str], name: str | None) -> None:
    messages = said(*texts, name=name or None)
    candidates = extract(messages, user_name=name)
    episodes = [c for c in candidates if c.kind == "episode"]
    assert len(episodes) == sum(1 for text in texts if text.split())
    ids = {m.id for m in messages}
    assert all(c.source_ids and set(c.source_ids) <= ids for c in candidates)


@settings(max_examples=100, deadline=None)
@given(
    words=st.lists(
        st.sampled_from(
            "I I'm my me live in moved to from work at as love hate don't no longer anymore "
            "have 2 a an the Berlin Ana Tomás partner friend allergic vegetarian quit job "
            "yesterday last week , . ! ? and but".split()
        ),
        max_size=20,
    )
)
def test_extraction_survives_first_person_word_salad(words: list[str]) -> None:
    for candidate in extract(said(" ".join(words))):
        assert candidate.text.strip()
        assert 0.0 <= candidate.importance <= 1.0


def _locomo_conversations() -> list[tuple[str, list[Message]]]:
    """(speaker_a, messages) per LoCoMo conversation, every turn a named user message."""
    found: list[tuple[str, list[Message]]] = []
    for conversation in json.loads(LOCOMO.read_text(encoding="utf-8")):
        sessions = conversation["conversation"]
        messages: list[Message] = []
        for key, turns in sessions.items():
            if not (re.fullmatch(r"session_\d+", key) and isinstance(turns, list)):
                continue
            when = datetime.strptime(sessions[f"{key}_date_time"], "%I:%M %p on %d %B, %Y")
            messages.extend(
                Message(
                    role="user",
                    content=turn["text"],
                    name=turn["speaker"],
                    created_at=when.replace(tzinfo=UTC),
                )
                for turn in turns
            )
        found.append((sessions["speaker_a"], messages))
    return found


@pytest.mark.skipif(not LOCOMO.exists(), reason="LoCoMo dev data not available")
def test_locomo_turns_all_become_episodes_and_facts_keep_speakers_apart() -> None:
    for speaker_a, messages in _locomo_conversations():
        candidates = extract(messages, user_name=speaker_a)
        episodes = [c for c in candidates if c.kind == "episode"]
        assert len(episodes) == sum(1 for m in messages if m.text.strip())
        authors = {m.id: m.name for m in messages}
        for fact in (c for c in candidates if c.kind != "episode"):
            author = authors[fact.source_ids[0]]
            if fact.subject is not None and fact.subject not in authors.values():
                # About someone a speaker names ("Pepper loves lounging on the couch").
                assert fact.text.startswith(fact.subject)
                continue
            assert fact.subject == (None if author == speaker_a else author)
            assert str(author) in fact.text


def test_a_nameless_user_is_the_user_inside_a_sentence() -> None:
    turn = Message(
        role="user", content="My colleague Tomás Silva moved to Lisbon.", created_at=WHEN
    )
    texts = [c.text for c in extract([turn]) if c.kind != "episode"]
    assert "Tomás Silva is the user's colleague" in texts


@pytest.mark.parametrize(
    ("text", "attribute", "negates", "fact"),
    [
        ("I don't live in Paris anymore.", "home_city", "Paris", "Ana no longer lives in Paris"),
        ("I no longer live in Paris.", "home_city", "Paris", "Ana no longer lives in Paris"),
        ("I'm not living in Paris anymore", "home_city", "Paris", "Ana no longer lives in Paris"),
        ("I moved out of Paris last year.", "home_city", "Paris", "Ana moved out of Paris in 2022"),
        ("I moved away from Paris.", "home_city", "Paris", "Ana moved away from Paris"),
        ("I used to live in Paris.", "home_city", "Paris", "Ana used to live in Paris"),
        ("I no longer work at Google.", "employer", "Google", "Ana no longer works at Google"),
        ("I don't work at Google.", "employer", "Google", "Ana doesn't work at Google"),
        ("I'm not at Google anymore.", "employer", "Google", "Ana is no longer at Google"),
        ("I left Google.", "employer", "Google", "Ana left Google"),
        ("I resigned from Acme Corp.", "employer", "Acme Corp", "Ana resigned from Acme Corp"),
        ("I quit my job at Google.", "employer", "Google", "Ana quit their job at Google"),
        ("I stopped being vegetarian.", "diet", "vegetarian", "Ana is no longer vegetarian"),
        ("I'm not vegan anymore.", "diet", "vegan", "Ana is no longer vegan"),
        ("I dropped out of MIT.", "school", "MIT", "Ana dropped out of MIT"),
        ("I no longer study at MIT.", "school", "MIT", "Ana no longer studies at MIT"),
        (
            "I don't work as a nurse anymore",
            "occupation",
            "nurse",
            "Ana no longer works as a nurse",
        ),
        ("I broke up with Tom.", "partner", "Tom", "Ana broke up with Tom"),
        ("Tom and I split up.", "partner", "Tom", "Ana broke up with Tom"),
        ("I'm not with Tom anymore.", "partner", "Tom", "Ana is no longer with Tom"),
    ],
)
def test_a_slot_value_that_ended_is_an_ending_not_a_value(
    text: str, attribute: str, negates: str, fact: str
) -> None:
    ended = only(text)
    assert (ended.attribute, ended.value, ended.text) == (attribute, NO_VALUE, fact)
    assert ended.metadata["negates"] == negates


def test_an_ending_says_when_it_happened() -> None:
    [left] = facts("I left Google last month.")
    assert left.text == "Ana left Google in April 2023" and left.metadata["guessed"] is True
    assert left.valid_from == datetime(2023, 4, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "attribute", "value", "negates", "guessed"),
    [
        ("I left Google and joined Meta last week.", "employer", "Meta", "Google", False),
        ("I quit Google to join Meta.", "employer", "Meta", "Google", False),
        ("I left Google for a job at Meta.", "employer", "Meta", "Google", False),
        ("I switched jobs from Google to Meta.", "employer", "Meta", "Google", False),
        ("I switched from vegetarian to vegan.", "diet", "vegan", "vegetarian", False),
        ("I moved from Paris to Rome.", "home_city", "Rome", "Paris", False),
        # The words leave the slot open: revision decides by what Google or Paris is now.
        ("I switched from Google to Meta.", "employer", "Meta", "Google", True),
        ("I left Paris for Rome.", "home_city", "Rome", "Paris", True),  # a place: a home
        ("I left Acme for Initech.", "employer", "Initech", "Acme", True),
    ],
)
def test_a_replaced_slot_value_names_the_old_one(
    text: str, attribute: str, value: str, negates: str, guessed: bool
) -> None:
    new = only(text)
    assert (new.attribute, new.value, new.metadata["negates"]) == (attribute, value, negates)
    assert bool(new.metadata.get("guessed")) is guessed
    if guessed:
        assert new.relations == ()  # Rome may be no employer: no "works_at" relation


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "I left Paris and moved to Berlin.",
            {("home_city", NO_VALUE), ("home_city", "Berlin")},
        ),
        (
            "I work at Google and live in Lisbon.",
            {("employer", "Google"), ("home_city", "Lisbon")},
        ),
        (
            "i moved to Rome and now work at Fiat",
            {("home_city", "Rome"), ("employer", "Fiat")},
        ),
        ("I left Google and joined Meta.", {("employer", "Meta")}),  # one change of job
        # Another subject in between: the second verb is not the user's.
        ("I think my sister left Paris and moved to Berlin.", set()),
        ("I met Tom, who left Paris and moved to Berlin.", set()),
        ("I love cats and dogs.", set()),
    ],
)
def test_verbs_sharing_the_first_person_each_state_a_fact(
    text: str, expected: set[tuple[str, str]]
) -> None:
    slots = {(c.attribute, c.value) for c in facts(text) if c.attribute in SLOTS}
    assert slots == expected


def test_a_new_job_after_leaving_one_reads_as_the_job() -> None:
    meta = only("I left Google and joined Meta last week.")
    assert meta.text == "Ana works at Meta, after leaving Google in the week of 1 May 2023"
    assert meta.valid_from == datetime(2023, 5, 1, tzinfo=UTC)
    assert [(r.relation, r.object) for r in meta.relations] == [("works_at", "Meta")]


@pytest.mark.parametrize(
    "text",
    [
        "I don't work at Google.",
        "I don't think I live in Paris.",
        "I can't say I work at Google anymore.",
        "I'm used to living in Paris.",
        "I never said I'm vegan.",
        "I'm not vegan.",
    ],
)
def test_a_negated_slot_value_is_never_stored_as_the_users(text: str) -> None:
    assert all(c.value == NO_VALUE for c in facts(text) if c.attribute)


@pytest.mark.parametrize(
    "text",
    [
        "Do I live in Paris? And should I work at Meta?",
        "I live in Paris?",
        "If I moved to Rome, would I be happier?",
        "I wish I lived in Paris.",
        "Imagine I lived in Tokyo and worked at Sony.",
        "I'm not sure if I'm vegan.",
        'My friend said "I live in Paris".',
        "My boss told me I work at the best company.",
        "Tom thinks I moved to Berlin.",
        # A doubt.
        "Maybe I live in Vienna, not sure.",
        "Perhaps I'm vegan.",
        "I work at Google, I think, not sure.",
        # A supposition or a fiction.
        "Let's say I live in Rome.",
        "Assume I live in Rome and earn 50k, what's my tax?",
        "Hypothetically, I live in Rome.",
        "Say I moved to Rome, what would change?",
        "For this example, I'm vegan.",
        "Assuming I quit my job at Google, how long can I live on savings?",
        "In my novel, I live in Rome and work at Meta.",
    ],
)
def test_nothing_is_taken_from_what_the_user_does_not_assert(text: str) -> None:
    assert facts(text) == []


@pytest.mark.parametrize(
    ("text", "slot"),
    [
        ("I moved to Berlin last month, any tips?", ("home_city", "Berlin")),
        ("As I said, I live in Paris.", ("home_city", "Paris")),
        ("I live in Paris, right?", ("home_city", "Paris")),
        ("Did I tell you I moved to Berlin?", ("home_city", "Berlin")),
        ("I joined Meta as a product designer.", ("employer", "Meta")),
        ("I joined Meta as a product designer.", ("occupation", "product designer")),
        ("I joined Meta last month, new job!", ("employer", "Meta")),
        ("Did you know that I work at Siemens now?", ("employer", "Siemens")),
        ("Would you believe I got a job at Apple?", ("employer", "Apple")),
        ("I'm a software engineer at Google.", ("employer", "Google")),
        ("I'm a software engineer at Google.", ("occupation", "software engineer")),
        ("I'm employed by Siemens.", ("employer", "Siemens")),
        ("I'm a nurse at St. Mary's Hospital.", ("employer", "St. Mary's Hospital")),
        ("My GP is Dr. Smith. I live in Washington D.C.", ("home_city", "Washington D.C")),
        ("I live in Oslo and I'm vegan-curious lol", ("home_city", "Oslo")),
        ("Say hi to Tom for me, I live in Rome now.", ("home_city", "Rome")),
        ("I live in Porto, hypothetically I could move.", ("home_city", "Porto")),
    ],
)
def test_a_statement_beside_a_question_title_or_initial_is_read_whole(
    text: str, slot: tuple[str, str]
) -> None:
    assert slot in {(c.attribute, c.value) for c in facts(text)}


@pytest.mark.parametrize(
    "text",
    [
        "I'm vegan-curious lol",
        "I'm a regular at Joe's Bar.",
        "I'm a fan of The Cure.",
        "I joined Toastmasters last week.",  # one joins a club too: no word of work
    ],
)
def test_no_slot_from_what_only_looks_like_one(text: str) -> None:
    assert {c.attribute for c in facts(text)} & {"diet", "employer", "occupation"} == set()


def test_a_verb_before_a_rule_that_starts_past_the_subject_asks_nothing() -> None:
    assert [c.text for c in facts("I have a cat named Miso.")] == ["Ana has a cat named Miso"]


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("i moved to munich last week", "Munich"),
        ("i live in new york city with my wife", "New York City"),
        ("i live in mexico city now", "Mexico City"),
        ("i moved to a new flat", None),
        ("i live in the suburbs", None),
        ("i moved to downtown la", None),
        ("I moved to the countryside", None),  # capitals elsewhere: a name would have one
    ],
)
def test_a_lowercase_writer_names_places_in_lowercase(text: str, place: str | None) -> None:
    homes = [c.value for c in facts(text) if c.attribute == "home_city"]
    assert homes == ([place] if place else [])


def test_a_place_ends_before_the_pronoun_that_follows_it() -> None:
    [lived] = facts("When I lived in Rome I was vegan.")
    assert lived.text == "Ana used to live in Rome"


def test_a_correction_replaces_the_value_it_names_in_whatever_slot() -> None:
    fix = only("Actually I meant Lisbon, not Porto.")
    assert (fix.value, fix.metadata["negates"], fix.metadata["guessed"]) == (
        "Lisbon",
        "Porto",
        True,
    )
    assert fix.text == "Ana meant Lisbon, not Porto"


@pytest.mark.parametrize(
    "text",
    [
        "I left Mom a message.",
        "I left Boston for the weekend.",
        "I left Paris after the conference.",
        "I quit smoking last year.",
        "I moved out of my parents' house.",
        "I'm not at home right now.",
    ],
)
def test_leaving_something_else_ends_no_slot(text: str) -> None:
    assert [c.attribute for c in facts(text) if c.attribute] == []


def test_each_clause_of_a_sentence_is_read() -> None:
    said_both = facts("I don't live in Paris anymore but I live in Rome now.")
    assert [(c.attribute, c.value) for c in said_both] == [
        ("home_city", NO_VALUE),
        ("home_city", "Rome"),
    ]
    both = facts("I live in Lisbon and I work at Siemens.")
    assert [(c.attribute, c.value) for c in both] == [
        ("home_city", "Lisbon"),
        ("employer", "Siemens"),
    ]


def test_facts_record_who_said_them() -> None:
    said = Message(role="user", content="I live in Porto. I'm vegetarian.", name="Ana")
    facts = [c for c in extract([said]) if c.kind != "episode"]
    assert facts and {c.metadata["speaker"] for c in facts} == {"Ana"}
    anonymous = Message(role="user", content="I live in Porto.")
    assert all("speaker" not in c.metadata for c in extract([anonymous]) if c.kind != "episode")


def test_a_liked_symbol_names_the_preference() -> None:
    [fact] = [
        c for c in extract([Message(role="user", content="I love 🍣!")]) if c.kind != "episode"
    ]
    assert fact.attribute == "preference:🍣"


@pytest.mark.parametrize("said", ["i love cooking 🍳", "I love cooking! 😍🍳", "I love 🍳 cooking"])
def test_an_emoji_beside_words_is_no_part_of_the_slot(said: str) -> None:
    """(was: `preference:cooking_🍳`, a second slot beside "I love cooking"'s)"""
    [fact] = [c for c in extract([Message(role="user", content=said)]) if c.kind != "episode"]
    [plain] = [
        c for c in extract([Message(role="user", content="I love cooking")]) if c.kind != "episode"
    ]
    assert fact.attribute == plain.attribute == "preference:cooking"


def test_a_partner_named_in_passing_is_a_partner_from_when_it_was_said() -> None:
    said = datetime(2026, 3, 2, 9, tzinfo=UTC)
    text = "I want to plan a trip to Portugal in May with my partner Tomás."
    [partner] = [
        c
        for c in extract([Message(role="user", content=text, created_at=said)])
        if c.attribute == "partner"
    ]
    assert partner.valid_from == said  # not 1 May: the trip's date, not the partnership's
    assert [r.valid_from for r in partner.relations] == [said]


@pytest.mark.parametrize(
    ("text", "slot"),
    [
        # "We" includes the user, as "My wife and I" does.
        ("We moved to Berlin last month.", ("home_city", "Berlin")),
        ("We relocated to Berlin in March.", ("home_city", "Berlin")),
        ("We live in Berlin now.", ("home_city", "Berlin")),
        ("We broke up.", ("partner", NO_VALUE)),
        # A change of job said without a word of work.
        ("I joined Meta last month.", ("employer", "Meta")),
        ("I started at Stripe on Monday.", ("employer", "Stripe")),
        ("I'm now a senior engineer at Meta.", ("employer", "Meta")),
        ("I switched jobs, I'm at Meta now.", ("employer", "Meta")),
        ("I've been at Meta since January.", ("employer", "Meta")),
        # No employer now, said without the job.
        ("I started my own company.", ("employer", NO_VALUE)),
        ("I retired last month.", ("employer", NO_VALUE)),
        ("I resigned.", ("employer", NO_VALUE)),
        ("I'm unemployed now.", ("employer", NO_VALUE)),
        ("I'm a teacher now.", ("occupation", "teacher")),
        # Diets, partners, homes, ages and names.
        ("I started eating meat again.", ("diet", NO_VALUE)),
        ("I eat meat again.", ("diet", NO_VALUE)),
        ("I'm on a keto diet now.", ("diet", "keto")),
        ("I'm single now.", ("partner", NO_VALUE)),
        ("I moved to lisbon.", ("home_city", "Lisbon")),
        ("I moved to new york last week.", ("home_city", "New York")),
        ("Just moved to Vancouver!", ("home_city", "Vancouver")),
        ("I'm back in Porto now.", ("home_city", "Porto")),
        ("I lived in Porto for 5 years, now I'm in Lisbon.", ("home_city", "Lisbon")),
        ("I'm 30 now.", ("age", "30")),
        ("I just turned 30!", ("age", "30")),
        ("I go by Sam now.", ("name", "Sam")),
        ("I changed my name to Samantha Lee.", ("name", "Samantha Lee")),
        # Said plainly, not as a change.
        ("I'm based in London.", ("home_city", "London")),
        ("My birthday is March 3rd.", ("birthday", "March 3rd")),
        ("I was born on 3 March 1990.", ("birthday", "3 March 1990")),
        ("I work at Google as a software engineer.", ("occupation", "software engineer")),
    ],
)
def test_common_ways_of_saying_a_change_fill_the_slot(text: str, slot: tuple[str, str]) -> None:
    assert slot in {(c.attribute, c.value) for c in facts(text)}


@pytest.mark.parametrize(
    "text",
    [
        "My sister moved to Rome.",  # a third party
        "My sister and her husband broke up.",
        "We're moving to Berlin next month!",  # a plan
        "I'm going to quit my job at Google.",
        "Did we move to Berlin?",  # a question
        "We split the bill.",
        "We broke up the fight.",
        "I was born on a farm.",  # no date: no birthday
        "I joined a book club.",  # a club joined
        "I joined the Chess Club.",
        "I joined Strava.",
        "I started with Python.",
        "I'm at Starbucks now.",  # where, not for whom
        "I've been at Heathrow since Monday.",
        "I'm back in Porto for the weekend.",  # a trip
        "I moved to Porto for the summer.",  # a season away
        "My sister Marta moved to Rome for a few months.",
        "I'm working at the lab in Oslo for the semester.",
        "I'm in Rome now!",
        "Friday is my last day at Google.",  # still to come
        "I retired my old laptop.",
        "I eat meat.",
        "I'm an aspiring writer.",
        "I turned 30 pages.",
        "i moved to sales",
    ],
)
def test_no_slot_change_from_what_only_looks_like_one(text: str) -> None:
    slots = {"home_city", "employer", "occupation", "diet", "partner", "age", "name"}
    assert {c.attribute for c in facts(text)} & slots == set()


@pytest.mark.parametrize(
    ("text", "attribute", "negates", "fact"),
    [
        (
            "I was laid off from Google last week.",
            "employer",
            "Google",
            "Ana was laid off from Google",
        ),
        ("I was fired from Google.", "employer", "Google", "Ana was fired from Google"),
        ("Today was my last day at Google.", "employer", "Google", "Ana left Google on 8 May 2023"),
        ("My ex Tom called me.", "partner", "Tom", "Tom is Ana's ex"),
        ("I'm a former nurse.", "occupation", "nurse", "Ana is a former nurse"),
        ("I used to love coffee.", "preference:coffee", "likes", "Ana used to love coffee"),
        ("I used to hate olives.", "preference:olives", "dislikes", "Ana used to hate olives"),
    ],
)
def test_an_end_is_worded_as_it_was_said(
    text: str, attribute: str, negates: str, fact: str
) -> None:
    ended = only(text)
    assert (ended.attribute, ended.value, ended.text) == (attribute, NO_VALUE, fact)
    assert ended.metadata["negates"] == negates


def test_we_adopting_a_pet_gives_the_user_the_pet() -> None:
    [pet] = facts("We adopted a cat named Luna.")
    assert pet.text == "Ana has a cat named Luna"
    assert [(r.relation, r.object) for r in pet.relations] == [("has_pet", "Luna")]


@pytest.mark.parametrize(
    ("text", "fact"),
    [
        ("My dog Rex died last week.", "Ana's dog Rex died in the week of 1 May 2023"),
        ("Rex passed away.", "Rex passed away"),
        ("Sadly Rex passed away.", "Rex passed away"),
    ],
)
def test_a_death_negates_the_name(text: str, fact: str) -> None:
    died = only(text)
    assert (died.attribute, died.text, died.metadata["negates"]) == (None, fact, "Rex")


@pytest.mark.parametrize(
    ("text", "fact", "start"),
    [
        ("My dad passed away last year.", "Ana's dad died", date(2022, 1, 1)),
        ("my grandmother died in March", "Ana's grandmother died", date(2023, 3, 1)),
        ("lost my mom in 2019", "Ana's mom died", date(2019, 1, 1)),
        ("I lost my older brother in 2015.", "Ana's older brother died", date(2015, 1, 1)),
        ("My grandpa passed last week.", "Ana's grandpa died", date(2023, 5, 1)),
    ],
)
def test_a_relative_who_died_unnamed_is_an_event_from_its_date(
    text: str, fact: str, start: date
) -> None:
    died = only(text)
    assert (died.kind, died.attribute, died.text) == ("event", None, fact)
    assert died.valid_from.date() == start


def test_a_relative_lost_for_a_moment_or_a_test_passed_is_no_death() -> None:
    found = facts(
        "I lost my son at the mall. My son passed last week! I lost my dad's watch. "
        "My grandma passed away."
    )
    assert [c.text for c in found if "died" in c.text] == ["Ana's grandma died"]


@pytest.mark.parametrize(
    ("text", "negates", "fact"),
    [
        ("I lost my job at Door Dash this month.", "Door Dash", "Ana lost their job at Door Dash"),
        ("I lost my job yesterday.", None, "Ana lost their job"),
        ("I quit my job at the bakery.", None, "Ana quit their job at the bakery"),
    ],
)
def test_a_job_lost_or_quit_ends_the_employer(text: str, negates: str | None, fact: str) -> None:
    ended = only(text)
    assert (ended.attribute, ended.value, ended.text) == ("employer", NO_VALUE, fact)
    assert ended.metadata.get("negates") == negates


@pytest.mark.parametrize(
    ("text", "fact"),
    [
        ("I also lost my job as a banker.", "Ana lost their job as a banker"),
        ("I just got laid off.", "Ana was laid off"),
        ("I've just been fired from Acme Corp.", "Ana was fired from Acme Corp"),
    ],
)
def test_a_job_lost_said_with_an_adverb_ends_the_employer(text: str, fact: str) -> None:
    ended = only(text)
    assert (ended.attribute, ended.value, ended.text) == ("employer", NO_VALUE, fact)


@pytest.mark.parametrize(
    ("text", "role", "name"),
    [
        ("My doctor is Dr. Lopez.", "doctor", "Dr. Lopez"),
        ("my dentist's name is Kim", "dentist", "Kim"),
        ("My vet, Doctor Patel, is great", "vet", "Dr. Patel"),
    ],
)
def test_whom_the_user_sees_for_care_is_a_slot_and_a_relation(
    text: str, role: str, name: str
) -> None:
    carer = only(text)
    assert (carer.attribute, carer.value, carer.text) == (role, name, f"Ana's {role} is {name}")
    assert [(r.relation, r.object) for r in carer.relations] == [(f"has_{role}", name)]


def test_a_company_the_user_is_with_now_is_the_employer_with_the_role_after() -> None:
    found = facts("I'm with Deloitte now as a senior consultant")
    assert {(c.attribute, c.value) for c in found} == {
        ("employer", "Deloitte"),
        ("occupation", "senior consultant"),
    }
    assert facts("I'm with Sara now. I'm with Google on this one.") == []


def test_an_emoji_after_a_value_is_no_part_of_it() -> None:
    found = facts("got promoted to senior engineer 🎉", "i moved to lisbon 🎉")
    assert [(c.attribute, c.value) for c in found] == [
        ("occupation", "senior engineer"),
        ("home_city", "Lisbon"),
    ]


def test_a_preference_over_another_ends_the_other_liking() -> None:
    found = facts("I prefer tea over coffee these days.")
    assert {(c.attribute, c.value) for c in found} == {
        ("preference:tea", "likes"),
        ("preference:coffee", NO_VALUE),
    }
    [coffee] = [c for c in found if c.attribute == "preference:coffee"]
    assert coffee.metadata["negates"] == "likes"
    assert [c.attribute for c in facts("I prefer to walk to work.")] == [
        "preference:to_walk_to_work"
    ]


def test_a_habit_no_longer_kept_negates_what_it_consumed() -> None:
    stopped = only("I don't drink coffee anymore.")
    assert (stopped.text, stopped.metadata["negates"]) == ("Ana no longer drinks coffee", "coffee")
    # not drinking it (a habit, the `avoids:` slot) ends no liking of it
    assert ["negates" in c.metadata for c in facts("I don't drink coffee.")] == [False]


def test_a_plan_is_marked_and_a_dropped_plan_negates_its_place() -> None:
    [plan] = facts("I'm going to quit my job at Google.")
    assert plan.attribute is None and plan.metadata["plan"] is True
    dropped = only("The move fell through, I'm not moving to Berlin after all.")
    assert dropped.attribute is None and dropped.metadata["negates"] == "Berlin"
    assert dropped.text == "Ana is no longer planning to move to Berlin"


@pytest.mark.parametrize(
    ("text", "attribute", "value", "negates"),
    [
        ("No wait, it's Braga, not Porto.", "employer", "Braga", "Porto"),  # a guess
        ("My mistake, Braga, not Porto.", "employer", "Braga", "Porto"),
        ("Sorry, I meant vegan, not vegetarian.", "diet", "vegan", "vegetarian"),
    ],
)
def test_a_correction_without_i_meant_or_of_a_diet_names_the_old_value(
    text: str, attribute: str, value: str, negates: str
) -> None:
    fix = only(text)
    assert (fix.attribute, fix.value, fix.metadata["negates"]) == (attribute, value, negates)
    assert fix.metadata["corrects"] is True and fix.metadata["guessed"] is True


def test_a_slot_key_is_one_however_it_is_spelt() -> None:
    assert only("My favourite colour is green.").attribute == "favorite_color"
    assert only("My favorite color is blue.").attribute == "favorite_color"


def in_session(*texts: str) -> list[Message]:
    return [
        Message(role="user", content=text, name="Ana", created_at=WHEN, session_id="s1")
        for text in texts
    ]


def test_a_bare_correction_corrects_the_value_the_previous_turn_stated() -> None:
    found = extract(in_session("I moved to Porto last month", "Oops, I meant Braga."))
    [fix] = [c for c in found if c.metadata.get("corrects")]
    assert (fix.attribute, fix.value, fix.metadata["negates"]) == ("home_city", "Braga", "Porto")
    assert fix.metadata["restated"] == {"home_city": "Ana moved to Braga"}
    # the turn before, when not in the batch, may be given as history
    [again] = [
        c
        for c in extract(in_session("Oops, I meant Braga."), history=in_session("I live in Porto"))
        if c.kind != "episode"
    ]
    assert (again.attribute, again.metadata["negates"]) == ("home_city", "Porto")
    assert [c.text for c in extract([], history=in_session("I live in Porto"))] == []


@pytest.mark.parametrize(
    ("before", "text"),
    [
        ("I love pizza.", "Oops, I meant Braga."),  # the previous turn stated no value
        ("I live in Porto and work at Acme.", "I meant Braga."),  # which one?
        ("I'm vegetarian.", "I meant Braga."),  # a name does not correct a diet
        ("I live in Porto.", "I mean Porto is lovely."),  # "I mean" as a filler
        ("My girlfriend is Ana.", "Sorry, Tom."),  # an apology to Tom
    ],
)
def test_a_bare_correction_corrects_nothing_it_cannot_tell(before: str, text: str) -> None:
    found = extract(in_session(before, text))
    assert not [c for c in found if c.metadata.get("corrects")]


def test_a_bare_correction_first_in_its_batch_names_no_old_value() -> None:
    [fix] = facts("Sorry, make that vegan.")
    assert (fix.attribute, fix.value, fix.metadata["corrects"]) == ("diet", "vegan", True)
    assert "negates" not in fix.metadata


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("Ana and I got married.", "spouse"),
        ("Yesterday Tomás and I got married!", "spouse"),
        ("I'm married to Ana now.", "spouse"),
        ("I got engaged to Ana.", "fiancé"),
        ("Ana is my wife now.", "wife"),
        ("Ana's my girlfriend.", "girlfriend"),
        ("My girlfriend is Ana.", "girlfriend"),
    ],
)
def test_a_partner_carries_the_role_said(text: str, role: str) -> None:
    [partner] = [c for c in facts(text) if c.attribute == "partner"]
    assert partner.value in ("Ana", "Tomás") and partner.metadata["role"] == role


@pytest.mark.parametrize(
    ("text", "slot"),
    [
        ("I got hired by Meta last month.", ("employer", "Meta")),
        ("I work remotely for Google.", ("employer", "Google")),
        ("I work part-time at Starbucks.", ("employer", "Starbucks")),
        ("I've been vegan for 3 years.", ("diet", "vegan")),
        ("I switched to a vegan diet.", ("diet", "vegan")),
        ("I'm 30 and my sister is 28.", ("age", "30")),
        ("I'm not 30, I'm 31.", ("age", "31")),
        ("Ana left me for Tom.", ("partner", NO_VALUE)),
        ("My girlfriend dumped me last week.", ("partner", NO_VALUE)),
    ],
)
def test_more_ways_of_saying_a_change_fill_the_slot(text: str, slot: tuple[str, str]) -> None:
    assert slot in {(c.attribute, c.value) for c in facts(text)}


@pytest.mark.parametrize(
    "text",
    [
        "I got offered a job at Meta.",
        "Tom left me a message.",
        "Mom left me at the station.",
        "I'm 20 minutes away.",
        "I'm 100% sure.",
        "My sister said she moved to Paris.",
        'My sister said "I moved to Paris".',
        "Should I move to Berlin?",
        "My brother lives in Rome.",
    ],
)
def test_no_slot_from_an_offer_an_errand_a_figure_or_someone_else(text: str) -> None:
    assert [c.attribute for c in facts(text) if c.attribute] == []


def test_a_home_of_the_past_holds_over_the_period_said() -> None:
    [until] = facts("I lived in Braga until 2019.")
    assert until.valid_from is None and until.metadata["valid_to"] == "2020-01-01T00:00:00+00:00"
    [span] = facts("I lived in Porto from 2019 to 2021.")
    assert span.valid_from == datetime(2019, 1, 1, tzinfo=UTC)
    assert span.metadata["valid_to"] == "2022-01-01T00:00:00+00:00"


def test_a_liking_of_living_somewhere_is_tied_to_the_home() -> None:
    [living] = facts("I love living in Porto.")
    assert (living.metadata["tied_to"], living.metadata["tied_value"]) == ("home_city", "Porto")
    [city] = facts("I love Porto.")
    assert "tied_to" not in city.metadata


@pytest.mark.parametrize(
    "text",
    [
        "My sister said, I moved to Paris.",
        "He said: I live in Porto.",
        "She was like, I live in Porto now.",
        "My friend texted me: I moved to Paris!",
        "My friends call me Bobby.",
        "They used to call me Bob.",
        "I'm used to being vegan.",
    ],
)
def test_no_slot_from_someone_elses_words_or_a_nickname(text: str) -> None:
    assert [c.attribute for c in facts(text) if c.attribute] == []


@pytest.mark.parametrize(
    ("text", "slot"),
    [
        ("Like I said, I live in Porto.", ("home_city", "Porto")),
        ("Please call me Robert.", ("name", "Robert")),
        ("Yes, call me Rob.", ("name", "Rob")),
        ("I used to be vegan.", ("diet", NO_VALUE)),
        ("I used to be a vegetarian, now I'm pescatarian.", ("diet", "pescatarian")),
        ("I no longer work there.", ("employer", NO_VALUE)),
        ("I'm not working there anymore.", ("employer", NO_VALUE)),
    ],
)
def test_the_users_own_words_still_fill_the_slot(text: str, slot: tuple[str, str]) -> None:
    assert slot in {(c.attribute, c.value) for c in facts(text)}


def test_no_longer_working_there_ends_the_employer_the_previous_turn_named() -> None:
    found = extract(in_session("I work at Google.", "I no longer work there."))
    [ended] = [c for c in found if c.value == NO_VALUE]
    assert (ended.attribute, ended.metadata["negates"]) == ("employer", "Google")
    assert ended.text == "Ana no longer works at Google"
    assert [c.attribute for c in facts("I don't work there.") if c.attribute] == []  # never did


@pytest.mark.parametrize(
    ("text", "negates"),
    [
        ("We had to put Rex down.", "Rex"),
        ("We put our dog Rex to sleep.", "Rex"),
        ("Rex, my dog, passed away last week.", "Rex"),
        ("My cat Luna ran away.", "Luna"),
        ("I don't have a dog anymore.", "have a dog"),
        ("I put Tom down for a nap.", None),  # a child, to bed
        ("We put Tom to sleep.", None),
        ("My sister Ana ran away from home.", None),  # still the user's sister
    ],
)
def test_a_pet_gone_negates_its_name_and_a_child_put_to_bed_nothing(
    text: str, negates: str | None
) -> None:
    assert [c.metadata["negates"] for c in facts(text) if "negates" in c.metadata] == (
        [negates] if negates else []
    )


@pytest.mark.parametrize(
    "text",
    [
        "I recently learned that I'm 12.5% Irish.",
        "Explain bitcoin like I'm 10.",
        "I want to retire by the time I'm 60.",
        "When I'm 40 years old I'll buy a boat.",
    ],
)
def test_an_age_of_another_time_a_share_or_a_jest_is_no_age(text: str) -> None:
    assert [c.value for c in facts(text) if c.attribute == "age"] == []


def test_a_span_of_years_is_written_out_whole() -> None:
    [event] = facts("I volunteered in Dublin from 2007 to 2013.")
    assert event.text == "Ana volunteered in Dublin from 2007 to 2013"
    assert event.valid_from == datetime(2007, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Hi! I'm Ana, I work as a nurse at Santa Maria hospital in Lisbon.", "Ana"),
        ("I'm Ana, nice to meet you.", "Ana"),
        ("I'm Ana.", "Ana"),
        ("Hi, I'm Ana and I love cats.", "Ana"),
        ("Hello there, I'm Bob!", "Bob"),
    ],
)
def test_a_self_introduction_with_im_names_the_user(text: str, name: str) -> None:
    assert ("name", name) in {(c.attribute, c.value) for c in facts(text)}


@pytest.mark.parametrize(
    "text",
    [
        "I'm Ana's sister.",
        "Hi, I'm Ana's sister.",
        "I'm fine.",
        "I'm Brazilian.",
        "I'm Portuguese, and I live in Lisbon.",
        "I'm Tired.",
        "I'm Nervous.",
        "I'm Lisbon-based.",
        "Hey, I'm Brazilian!",
    ],
)
def test_im_before_a_capitalised_word_that_is_no_name_names_no_one(text: str) -> None:
    assert [c.value for c in facts(text) if c.attribute == "name"] == []


@pytest.mark.parametrize(
    ("text", "occupation", "said"),
    [
        ("I work as a nurse.", "nurse", "Ana works as a nurse"),
        ("I work as an engineer.", "engineer", "Ana works as an engineer"),
        ("I work as the head nurse.", "head nurse", "Ana works as the head nurse"),
        ("I'm a teacher.", "teacher", "Ana works as a teacher"),
        ("I'm an engineer at Google.", "engineer", "Ana works as an engineer"),
    ],
)
def test_an_occupation_value_has_no_article(text: str, occupation: str, said: str) -> None:
    [job] = [c for c in facts(text) if c.attribute == "occupation"]
    assert (job.value, job.text) == (occupation, said)


@pytest.mark.parametrize(
    ("text", "employer"),
    [
        ("I work as a nurse at Santa Maria hospital in Lisbon.", "Santa Maria hospital"),
        ("I work as a nurse at Santa Maria Hospital.", "Santa Maria Hospital"),
        ("I work as the head nurse at St. Mary's Hospital in Boston.", "St. Mary's Hospital"),
        ("I work as a consultant for Deloitte in London.", "Deloitte"),
        ("I work at Santa Maria hospital in Lisbon.", "Santa Maria hospital"),
        ("I'm a nurse at Santa Maria hospital.", "Santa Maria hospital"),
    ],
)
def test_working_as_a_job_at_a_named_place_gives_the_employer(text: str, employer: str) -> None:
    assert ("employer", employer) in {(c.attribute, c.value) for c in facts(text)}


@pytest.mark.parametrize(
    "text",
    [
        "I work as a nurse at the local hospital.",
        "I work as a barista in Lisbon.",
        "I work as a volunteer at Red Cross.",
    ],
)
def test_working_as_a_job_names_no_employer_but_a_named_one(text: str) -> None:
    assert [c.value for c in facts(text) if c.attribute == "employer"] == []


@pytest.mark.parametrize(
    ("text", "pet", "said"),
    [
        ("Sadly we had to rehome Miso.", "Miso", "Ana had to rehome Miso"),
        ("We rehomed Miso.", "Miso", "Ana rehomed Miso"),
        ("I gave my dog Rex away.", "Rex", "Ana gave away their dog Rex"),
        ("We gave away our cat Miso.", "Miso", "Ana gave away their cat Miso"),
        ("We found a new home for Luna.", "Luna", "Ana found a new home for Luna"),
    ],
)
def test_a_pet_given_up_negates_it(text: str, pet: str, said: str) -> None:
    [given_up] = [c for c in facts(text) if c.metadata.get("negates")]
    assert (given_up.text, given_up.metadata["negates"]) == (said, pet)


@pytest.mark.parametrize(
    "text",
    ["We have to rehome Miso.", "I gave away Harry Potter.", "I gave Tom away at the wedding."],
)
def test_no_pet_is_given_up_where_none_is_said_or_done(text: str) -> None:
    assert [c.metadata["negates"] for c in facts(text) if c.metadata.get("negates")] == []


@pytest.mark.parametrize(
    "text",
    [
        "I'm from Porto but live in Lisbon.",
        "I grew up in Porto and now live in Lisbon.",
    ],
)
def test_a_bare_verb_after_but_or_and_keeps_the_users_subject(text: str) -> None:
    slots = {(c.attribute, c.value) for c in facts(text) if c.kind == "profile"}
    assert {("origin", "Porto"), ("home_city", "Lisbon")} <= slots


@pytest.mark.parametrize(
    "text",
    ["My parents are from Porto and live in Lisbon.", "I met Tom and his kids live in Lisbon."],
)
def test_a_bare_verb_after_someone_elses_clause_is_not_the_users_home(text: str) -> None:
    assert "home_city" not in {c.attribute for c in facts(text)}


@pytest.mark.parametrize("text", ["These days I'm at Meta.", "Nowadays I'm at Meta."])
def test_being_at_a_named_company_for_now_is_the_employer(text: str) -> None:
    assert ("employer", "Meta") in {(c.attribute, c.value) for c in facts(text)}


@pytest.mark.parametrize(
    "text",
    [
        "These days I'm at the gym.",
        "These days I'm at home.",
        "These days I'm at a conference.",
        "I'm at Porto.",
        "These days I'm at Central Park.",
        "These days I'm at Porto for the weekend.",
    ],
)
def test_being_somewhere_for_now_is_no_employer(text: str) -> None:
    assert "employer" not in {c.attribute for c in facts(text)}


def test_being_at_a_place_the_previous_turn_named_is_no_employer() -> None:
    found = extract(said("I just moved to Porto.", "These days I'm at Porto."), user_name="Ana")
    assert "employer" not in {c.attribute for c in found}


def test_an_unnamed_pet_death_names_the_kind_of_pet_it_ends() -> None:
    [died] = facts("My cat died.")
    assert died.metadata.get("negates_pet") == "cat"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My sister has a dog called Max.", []),
        ("Tom has a cat named Rex.", []),
        ("My friend Tom has a cat named Rex.", ["Tom is Ana's friend"]),
        ("I think she has a cat named Luna.", []),
        ("I have a dog named Rex and my sister has a cat named Luna.", ["Ana has a dog named Rex"]),
        ("We adopted a cat called Miso.", ["Ana has a cat named Miso"]),
    ],
)
def test_a_pet_named_after_someone_elses_verb_is_not_the_users(
    text: str, expected: list[str]
) -> None:
    assert [c.text for c in facts(text)] == expected
