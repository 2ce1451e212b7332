"""Entities (extraction, safe alias merging, resolution, relations) and user profiles."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engram.memory import (
    EntityMention,
    build_relations,
    close_relations,
    extract,
    extract_entities,
    fold,
    merge_aliases,
    plan_revisions,
    resolve_entities,
    update_profile,
)
from engram.memory.candidates import ENTITY_KINDS
from engram.memory.queries import entities_in_query
from engram.types import Message
from engram.types._memory import Entity, Memory, UserProfile

JAN = datetime(2023, 1, 10, tzinfo=UTC)
JUNE = datetime(2023, 6, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "My partner Tomás Almeida works at Acme Inc in Berlin.",
            [("Tomás Almeida", "person"), ("Acme Inc", "organisation"), ("Berlin", "place")],
        ),
        ("I work at Google now.", [("Google", "organisation")]),
        ("Hey Mel! Good to see you!", [("Mel", "person")]),
        (
            "Caroline went with Melanie to New York City last week.",
            [("Caroline", "person"), ("Melanie", "person"), ("New York City", "place")],
        ),
        (
            "I graduated from Stanford University in 2016.",
            [("Stanford University", "organisation")],
        ),
        ("I met Dr. Smith yesterday.", [("Smith", "person")]),
        ("Thanks! That was great. I loved it.", []),
    ],
)
def test_extract_entities_with_kinds(text: str, expected: list[tuple[str, str]]) -> None:
    assert [tuple(m) for m in extract_entities(text, people=["Caroline"])] == expected


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=300))
def test_entity_extraction_never_raises(text: str) -> None:
    for mention in extract_entities(text):
        assert mention.name.strip() and mention.kind in ENTITY_KINDS


def test_fold_ignores_case_diacritics_and_a_leading_article() -> None:
    assert fold("  Tomás  ALMEIDA ") == fold("tomas almeida") == "tomas almeida"
    assert fold("The Beatles") == "beatles"


def entity(name: str, kind: str = "person", user: str = "u1", age: int = 0) -> Entity:
    return Entity(name=name, kind=kind, user_id=user, created_at=JAN + timedelta(days=age))


def test_merge_aliases_makes_only_safe_merges() -> None:
    full = entity("Tomás Almeida")
    first, last, folded = entity("Tomás", age=1), entity("Almeida", age=2), entity("tomas", age=3)
    place = entity("Tomás", kind="place")
    other_user = entity("Tomás", user="u2")
    ana, ana_silva, ana_costa = entity("Ana"), entity("Ana Silva"), entity("Ana Costa")
    tom = entity("Tom")
    mapping = merge_aliases(
        [full, first, last, folded, place, other_user, ana, ana_silva, ana_costa, tom]
    )
    assert mapping[first.id] == mapping[last.id] == mapping[folded.id] == full.id
    assert mapping[full.id] == full.id
    assert mapping[place.id] == place.id and mapping[other_user.id] == other_user.id
    assert mapping[ana.id] == ana.id  # "Ana" could be either Ana: not merged
    assert mapping[tom.id] == tom.id  # a nickname is a guess: not merged


def test_resolve_entities_reuses_creates_and_learns_aliases() -> None:
    known = [entity("Tomás Almeida"), entity("Berlin", kind="place")]
    mentions = [
        EntityMention("Tomás", "person"),
        EntityMention("berlin", "place"),
        EntityMention("Acme Inc", "organisation"),
        EntityMention("Tomás", "person"),
    ]
    resolution = resolve_entities(mentions, known, user_id="u1", now=JUNE)
    assert resolution.ids["tomas"] == known[0].id and resolution.ids["berlin"] == known[1].id
    [acme] = resolution.new
    assert (acme.name, acme.kind, acme.user_id) == ("Acme Inc", "organisation", "u1")
    [tomas] = resolution.updated
    assert tomas.id == known[0].id and tomas.aliases == ("Tomás",)


def test_a_longer_name_renames_the_entity_and_keeps_the_short_one_as_alias() -> None:
    short = entity("Tomás")
    resolution = resolve_entities([EntityMention("Tomás Almeida", "person")], [short])
    [renamed] = resolution.updated
    assert (renamed.id, renamed.name, renamed.aliases) == (short.id, "Tomás Almeida", ("Tomás",))


def test_two_names_of_unknown_kind_sharing_a_word_stay_apart() -> None:
    """(was: "TAP" merged into "TAP TP", both of unknown kind, by their first word)"""
    code = entity("TAP TP", kind="other")
    resolution = resolve_entities([EntityMention("TAP", "other")], [code])
    assert [e.name for e in resolution.new] == ["TAP"] and resolution.updated == ()
    airline = entity("TAP", kind="other")
    assert merge_aliases([code, airline]) == {code.id: code.id, airline.id: airline.id}


@pytest.mark.parametrize(("known_kind", "said_kind"), [("person", "other"), ("other", "person")])
def test_a_name_of_unknown_kind_shortens_or_extends_the_only_one_it_fits(
    known_kind: str, said_kind: str
) -> None:
    full = entity("Tomás Almeida", kind=known_kind)
    [tomas] = resolve_entities([EntityMention("Tomás", said_kind)], [full]).updated
    assert (tomas.id, tomas.name, tomas.kind, tomas.aliases) == (
        full.id,
        "Tomás Almeida",
        "person",
        ("Tomás",),
    )
    firm = entity("Tomás Consulting", kind="organisation")  # two it could shorten: a new one
    resolution = resolve_entities([EntityMention("Tomás", "other")], [full, firm])
    assert [e.name for e in resolution.new] == ["Tomás"] and resolution.updated == ()


def test_relations_are_built_and_closed_with_the_memory() -> None:
    message = Message(role="user", content="I live in Berlin.", name="Ana", created_at=JAN)
    [fact] = [c for c in extract([message], user_name="Ana") if c.kind != "episode"]
    resolution = resolve_entities(fact.entities, [], user_id="u1")
    [relation] = build_relations(
        fact.relations,
        resolution.ids,
        user_entity_id="user-entity",
        memory_id="mem-1",
        user_id="u1",
    )
    assert (relation.source_id, relation.relation, relation.target_id) == (
        "user-entity",
        "lives_in",
        resolution.ids["berlin"],
    )
    assert relation.valid_from == JAN and relation.memory_id == "mem-1"
    [closed] = close_relations([relation], ["mem-1"], JUNE)
    assert closed.valid_to == JUNE
    assert close_relations([closed], ["mem-1"], JUNE) == []  # already closed


def remember(text: str, when: datetime, name: str = "Ana") -> list[Memory]:
    message = Message(role="user", content=text, name=name, created_at=when)
    candidates = [c for c in extract([message], user_name="Ana") if c.kind != "episode"]
    return [c.to_memory(user_id="u1", now=when) for c in candidates]


def test_profile_tracks_the_current_value_with_its_source() -> None:
    first = remember("My name is Ana. I live in Berlin. I'm vegetarian.", JAN)
    plan = plan_revisions(first, [[] for _ in first], now=JAN)
    profile = update_profile(None, plan.inserts, user_id="u1", names=["Ana"], now=JAN)
    assert dict(profile.fields) == {"name": "Ana", "home_city": "Berlin", "diet": "vegetarian"}
    [berlin] = [m for m in plan.inserts if m.attribute == "home_city"]
    assert profile.sources["home_city"] == berlin.id

    [lisbon] = remember("I moved to Lisbon.", JUNE)
    moved = plan_revisions([lisbon], [[(m, 0.5) for m in plan.inserts]], now=JUNE)
    profile = update_profile(profile, [*moved.inserts, *moved.updates], names=["Ana"], now=JUNE)
    assert profile.fields["home_city"] == "Lisbon" and profile.sources["home_city"] == lisbon.id
    assert profile.fields["diet"] == "vegetarian"  # untouched


def test_quitting_drops_the_field_and_other_speakers_are_ignored() -> None:
    [job] = remember("I work at Acme Inc.", JAN)
    [quit_job] = remember("I quit my job.", JUNE)
    plan = plan_revisions([job, quit_job], [[], []], now=JUNE)
    [melanie] = remember("I live in Boston.", JUNE, name="Melanie")
    profile = update_profile(None, [*plan.inserts, melanie], user_id="u1", names=["Ana"])
    assert "employer" not in profile.fields and "home_city" not in profile.fields


def test_a_superseded_source_without_replacement_is_dropped() -> None:
    [diet] = remember("I'm vegan.", JAN)
    profile = update_profile(None, [diet], user_id="u1")
    retired = replace(diet, superseded_at=JUNE, valid_to=JUNE)
    assert "diet" not in update_profile(profile, [retired]).fields


def test_hand_edits_win_until_a_newer_statement() -> None:
    edited = UserProfile(
        user_id="u1", fields={"diet": "pescatarian"}, sources={"diet": "manual"}, updated_at=JUNE
    )
    [older] = remember("I'm vegan.", JAN)
    assert update_profile(edited, [older]).fields["diet"] == "pescatarian"
    [newer] = remember("I'm vegan.", JUNE + timedelta(days=1))
    assert update_profile(edited, [newer]).fields["diet"] == "vegan"


def test_last_interaction_is_the_latest_episode() -> None:
    said = Message(role="user", content="hello there", created_at=JUNE)
    [episode] = [c.to_memory(user_id="u1") for c in extract([said])]
    profile = update_profile(UserProfile(user_id="u1", last_interaction_at=JAN), [episode])
    assert profile.last_interaction_at == JUNE


def test_an_ending_clears_the_field_it_names_and_only_that_one() -> None:
    first = remember("I live in Paris. I work at Google. I'm vegetarian.", JAN)
    plan = plan_revisions(first, [[] for _ in first], now=JAN)
    profile = update_profile(None, plan.inserts, user_id="u1", names=["Ana"], now=JAN)
    stored = list(plan.inserts)
    said = remember(
        "I don't live in Rome anymore. I left Google. I stopped being vegetarian.", JUNE
    )
    later = plan_revisions(said, [[(m, 0.5) for m in stored] for _ in said], now=JUNE)
    profile = update_profile(profile, [*later.inserts, *later.updates], names=["Ana"], now=JUNE)
    assert dict(profile.fields) == {"home_city": "Paris"}


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Thinking Lisbon first, then Porto.", ["Lisbon", "Porto"]),
        ("Maybe Lena will come.", ["Lena"]),
        ("Add the Lisbon trip to my calendar.", ["Lisbon"]),
        ("Sun 3 May we fly.", []),
        ("Sterling Bank is great.", ["Sterling Bank"]),  # -ing ends names too
        ("Billy Joel played.", ["Billy Joel"]),
    ],
)
def test_a_word_opening_the_sentence_is_not_part_of_the_name(text: str, names: list[str]) -> None:
    assert [mention.name for mention in extract_entities(text)] == names


def test_a_decomposed_name_is_one_name() -> None:
    names = [mention.name for mention in extract_entities("I met Zoe\u0308 in Zu\u0308rich.")]
    assert names == ["Zoë", "Zürich"]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Anna lives in Madrid.", ["Anna", "Madrid"]),
        ("Mel got a new job at Siemens.", ["Mel", "Siemens"]),
        ("Tomás moved to Lisbon.", ["Tomás", "Lisbon"]),
        ("Great news. Rex always loves the beach.", ["Rex"]),
        ("Rex", ["Rex"]),  # a one-word query
        ("Rex?", ["Rex"]),
    ],
)
def test_a_name_opening_a_sentence_is_a_name(text: str, names: list[str]) -> None:
    assert [mention.name for mention in extract_entities(text)] == names


@pytest.mark.parametrize(
    "text",
    [
        "Thanks for coming.",
        "Sure thing.",
        "Maybe later.",
        "Went to the park.",
        "Love it!",
        "Sounds great!",
        "Keep it up!",
        "Can't wait!",
        "You're right.",
        "Wish I could come.",  # "could" is the verb of "I", not of "Wish"
        "Things got busy.",
        "Seeing you was great.",
        "Anything is possible.",
        "Finally got the job!",
        "Super excited!",
        "Agreed!",
        "Yup!",
        "Thanks",
        "Yesterday",
        "The",
        "Nature is so calming.",  # common nouns as subjects
        "Art was my escape.",
        "Family is everything to me.",
    ],
)
def test_a_common_word_opening_a_sentence_is_no_name(text: str) -> None:
    assert extract_entities(text) == []


def test_a_one_word_query_names_its_entity() -> None:
    assert entities_in_query("Rex") == ("rex",)
    assert entities_in_query("Thanks!") == ()


def test_a_turn_opening_with_a_name_links_it() -> None:
    found = extract([Message(role="user", content="Anna lives in Madrid.")])
    [episode] = [c for c in found if c.kind == "episode"]
    assert [entity.name for entity in episode.entities] == ["Anna", "Madrid"]


def test_a_change_said_without_the_slot_words_updates_the_profile() -> None:
    first = remember("I live in Porto. I work at Google. My girlfriend is Eva.", JAN)
    plan = plan_revisions(first, [[] for _ in first], now=JAN)
    profile = update_profile(None, plan.inserts, user_id="u1", names=["Ana"], now=JAN)
    said = remember("We moved to Berlin. I retired last month. I'm single now.", JUNE)
    stored = list(plan.inserts)
    later = plan_revisions(said, [[(m, 0.5) for m in stored] for _ in said], now=JUNE)
    profile = update_profile(profile, [*later.inserts, *later.updates], names=["Ana"], now=JUNE)
    assert dict(profile.fields) == {"home_city": "Berlin", "relationship_status": "single"}


def test_names_joined_by_ampersand_are_two_when_each_is_named() -> None:
    text = "Lisbon & Porto, 3 to 11 May (Ana & Tomás). Train from Lisbon to Porto, seat for Tomás."
    assert [tuple(m) for m in extract_entities(text, people=["Ana"])] == [
        ("Lisbon", "place"),
        ("Porto", "place"),
        ("Ana", "person"),
        ("Tomás", "other"),
    ]
    firms = "I work at Procter & Gamble and shop at Marks & Spencer. AT&T is slow."
    assert [m.name for m in extract_entities(firms)] == [
        "Procter & Gamble",
        "Marks & Spencer",
        "AT&T",
    ]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Budget is EUR 1,800 total.", []),
        ("Prices are in EUR unless stated otherwise.", []),
        ("Rates will move a little before May.", []),
        ("Priya wants the Q2 deck and the FY2026 plan in USD.", ["Priya"]),
        ("Kitchen-level Portuguese is more than most visitors have.", ["Portuguese"]),
        ("Plenty is left. We have plenty of time.", []),  # written in lower case too
    ],
)
def test_currency_codes_periods_and_sentence_words_are_no_names(
    text: str, names: list[str]
) -> None:
    assert [mention.name for mention in extract_entities(text)] == names
    assert entities_in_query(text) == tuple(fold(name) for name in names)


def test_a_place_merges_by_its_last_word_and_no_name_by_a_side_of_ampersand() -> None:
    porto, station = entity("Porto", kind="place"), entity("Porto Campanhã", kind="place", age=1)
    campanha, gaia = entity("Campanhã", kind="place", age=2), entity("Gaia", kind="place")
    vila = entity("Vila Nova de Gaia", kind="place", age=1)
    firm, procter = (
        entity("Procter & Gamble", kind="organisation"),
        entity("Procter", "organisation"),
    )
    mapping = merge_aliases([porto, station, campanha, gaia, vila, firm, procter])
    assert mapping[porto.id] == porto.id and mapping[station.id] == station.id
    assert mapping[campanha.id] == station.id and mapping[gaia.id] == vila.id
    assert mapping[procter.id] == procter.id


def test_a_longer_place_or_an_ampersand_pair_does_not_absorb_a_known_name() -> None:
    ana, porto = entity("Ana"), entity("Porto", kind="place")
    mentions = [EntityMention("Ana & Tomás", "person"), EntityMention("Porto Campanhã", "place")]
    resolution = resolve_entities(mentions, [ana, porto], user_id="u1", now=JUNE)
    assert [e.name for e in resolution.new] == ["Ana & Tomás", "Porto Campanhã"]
    assert resolution.updated == ()
