"""Hybrid ranking: fusion order, score parts, feature boosts, decay, query preparation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engram._exceptions import InvalidInputError
from engram.memory.queries import (
    entities_in_query,
    is_temporal_query,
    lexical_query,
    query_periods,
    without_names,
)
from engram.memory.ranking import (
    DEFAULT_WEIGHTS,
    MemoryFeatures,
    RankingWeights,
    complete_dense,
    current_at,
    fuse,
    memory_features,
    rank_memories,
    recency,
    stale_episodes,
    stale_preferences,
)
from engram.memory.texts import CONTEXT_KEY, SESSION_KEY, dense_text, index_text, lexical_text
from engram.types._memory import Memory

NOW = datetime(2024, 1, 1, tzinfo=UTC)


RRF = RankingWeights(method="rrf", dense=1.0, lexical=1.0, entity=0, time=0, session=0)
"""Plain reciprocal rank fusion, no boosts."""


def test_rrf_rewards_agreement_between_lists() -> None:
    dense = [("a", 0.9), ("b", 0.8), ("e", 0.75), ("c", 0.7)]
    lexical = [("c", 9.0), ("b", 5.0), ("d", 1.0)]
    ids = [result.id for result in fuse(dense, lexical, weights=RRF)]
    assert ids[0] == "b"  # second in both lists beats first in one and fourth in the other
    assert set(ids) == {"a", "b", "c", "d", "e"}


def test_rrf_score_is_the_weighted_sum_of_reciprocal_ranks() -> None:
    weights = RankingWeights(method="rrf", rrf_k=10, dense=2.0, lexical=1.0)
    (only,) = fuse([("a", 0.5)], [("a", 3.0)], weights=weights)
    assert only.score == pytest.approx(2.0 / 11 + 1.0 / 11)


def test_parts_carry_raw_signal_values_and_the_fused_score() -> None:
    features = {"a": MemoryFeatures(entity=1.0, recency=0.25, importance=0.75)}
    (result,) = fuse([("a", 0.42)], [("a", 7.5)], features)
    assert result.parts.dense == 0.42
    assert result.parts.lexical == 7.5
    assert (result.parts.entity, result.parts.recency, result.parts.importance) == (
        1.0,
        0.25,
        0.75,
    )
    assert result.parts.fused == result.score


def test_a_candidate_missing_from_a_list_scores_zero_there() -> None:
    (result,) = fuse(dense=[("a", 0.3)])
    assert result.parts.lexical == 0.0
    assert result.parts.dense == 0.3


def test_duplicate_ids_keep_their_best_rank() -> None:
    results = fuse(dense=[("a", 0.9), ("b", 0.8), ("a", 0.1)])
    assert [result.id for result in results] == ["a", "b"]
    assert results[0].parts.dense == 0.9


def test_entity_boost_lifts_a_memory_naming_the_query_entities() -> None:
    dense = [("a", 0.9), ("b", 0.8)]
    features = {"b": MemoryFeatures(entity=1.0)}
    assert fuse(dense, features=features, weights=RRF)[0].id == "a"
    boosted = RankingWeights(method="rrf", entity=0.5)
    assert fuse(dense, features=features, weights=boosted)[0].id == "b"


def test_boosts_multiply_and_show_in_the_parts() -> None:
    weights = RankingWeights(method="rrf", rrf_k=0, dense=1.0, entity=1.0, time=0.5)
    features = {"a": MemoryFeatures(entity=1.0, time=1.0)}
    (result,) = fuse([("a", 0.5)], features=features, weights=weights)
    assert result.score == pytest.approx(1.0 * 2.0 * 1.5)
    assert (result.parts.entity, result.parts.time) == (1.0, 1.0)


unit = st.floats(0.0, 1.0)


@given(
    st.lists(st.tuples(st.sampled_from("abcdef"), st.floats(-1.0, 1.0)), max_size=6),
    st.lists(st.tuples(st.sampled_from("abcdef"), st.floats(0.0, 30.0)), max_size=6),
    st.dictionaries(
        st.sampled_from("abcdef"),
        st.builds(
            MemoryFeatures,
            entity=unit,
            recency=unit,
            importance=unit,
            time=unit,
            current=st.sampled_from([0.0, 1.0]),
            decay=unit,
        ),
    ),
    st.sampled_from(["rrf", "weighted"]),
)
def test_the_parts_recompute_the_score(
    dense: list[tuple[str, float]],
    lexical: list[tuple[str, float]],
    features: dict[str, MemoryFeatures],
    method: str,
) -> None:
    """(was: the parts held the raw signals only, so no one could tell how they made the
    score: the demo printed "score 2.88 = dense 0.55, bm25 3.1, entity 1.0, ...")"""
    weights = replace(DEFAULT_WEIGHTS, method=method)
    groups = {memory_id: f"s{ord(memory_id) % 2}" for memory_id in "abcdef"}
    for result in fuse(dense, lexical, features, weights, groups=groups):
        assert result.parts.fused == result.score
        assert result.score == pytest.approx(result.parts.base * result.parts.boost)
        assert result.parts.boost >= weights.superseded**1.0 > 0


def test_session_boost_lifts_the_neighbours_of_the_best_hit() -> None:
    dense = [("top", 0.9), ("lone", 0.5), ("mate", 0.45)]
    groups = {"top": "s1", "mate": "s1", "lone": "s2"}
    weights = RankingWeights(session=2.0, entity=0, time=0)
    plain = [r.id for r in fuse(dense, weights=replace(weights, session=0.0), groups=groups)]
    assert plain == ["top", "lone", "mate"]
    boosted = fuse(dense, weights=weights, groups=groups)
    assert [r.id for r in boosted] == ["top", "mate", "lone"]
    assert boosted[0].parts.session == 1.0
    assert 0 < boosted[2].parts.session < 1.0


def test_a_session_of_several_good_candidates_beats_one_slightly_better_candidate() -> None:
    dense = [("a1", 0.9), ("b1", 0.85), ("b2", 0.8), ("b3", 0.8), ("b4", 0.8), ("a2", 0.1)]
    groups = {"a1": "s1", "a2": "s1", "b1": "s2", "b2": "s2", "b3": "s2", "b4": "s2"}
    weights = RankingWeights(dense=1.0, lexical=0.0, session=2.0, entity=0, time=0)
    ranked = fuse(dense, weights=weights, groups=groups)
    assert [r.id for r in ranked][:4] == ["b1", "b2", "b3", "b4"]  # a1 had the best cosine
    strength = {"s1": (0.9 + 0.1) / 0.9, "s2": (0.85 + 0.8 + 0.8) / 0.9}  # best 3 only
    by_id = {r.id: r for r in ranked}
    assert by_id["a1"].parts.session == pytest.approx(strength["s1"] / strength["s2"])
    assert by_id["b4"].parts.session == 1.0


def test_superseded_memories_decay_below_current_ones() -> None:
    dense = [("old", 0.9), ("new", 0.89)]
    features = {"old": MemoryFeatures(current=False)}
    results = fuse(dense, features=features)
    assert [result.id for result in results] == ["new", "old"]
    assert results[1].score > 0  # decayed, still findable


def test_weighted_method_scales_each_list_by_its_best() -> None:
    weights = replace(RRF, method="weighted")
    results = fuse([("a", 0.8), ("b", 0.2)], [("b", 10.0), ("c", 5.0)], weights=weights)
    scores = {result.id: result.score for result in results}
    assert scores == pytest.approx({"a": 1.0, "b": 1.25, "c": 0.5})
    (negative,) = fuse([("d", -0.2)], weights=weights)
    assert negative.score == 0.0


def test_ties_break_by_best_single_list_rank_then_id() -> None:
    results = fuse([("x", 0.5), ("y", 0.4)], [("y", 2.0), ("x", 1.0)], weights=RRF)
    assert [result.id for result in results] == ["x", "y"]


def test_limit_keeps_the_best() -> None:
    dense = [(str(index), 1.0 - index / 10) for index in range(10)]
    assert [result.id for result in fuse(dense, limit=3)] == ["0", "1", "2"]


@pytest.mark.parametrize(
    "bad",
    [
        {"method": "max"},
        {"rrf_k": -1},
        {"half_life_days": 0},
        {"superseded": 1.5},
        {"entity": -0.1},
        {"dense": float("inf")},
    ],
)
def test_invalid_weights_are_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        RankingWeights(**bad)  # type: ignore[arg-type]


def test_recency_halves_every_half_life() -> None:
    assert recency(NOW, NOW, 30) == 1.0
    assert recency(NOW - timedelta(days=30), NOW, 30) == pytest.approx(0.5)
    assert recency(NOW - timedelta(days=60), NOW, 30) == pytest.approx(0.25)
    assert recency(NOW + timedelta(days=5), NOW, 30) == 1.0
    assert recency(None, NOW, 30) == 0.0
    assert recency(NOW, None, 30) == 0.0


def test_memory_features_read_the_record() -> None:
    memory = Memory(
        text="Ana lives in Lisbon",
        entity_ids=("e-ana", "e-lisbon"),
        importance=0.8,
        valid_from=NOW - timedelta(days=180),
    )
    features = memory_features(memory, query_entities=("e-ana", "e-porto"), now=NOW)
    assert features.entity == 0.5
    assert features.recency == pytest.approx(0.5)
    assert features.importance == 0.8
    assert features.time == 0.0
    assert features.current


def test_decay_follows_use_and_spares_pinned_memories() -> None:
    weights = RankingWeights(half_life_days=30)
    learned = NOW - timedelta(days=30)

    def fresh(**fields: object) -> float:
        memory = Memory(text="Ana likes tea", recorded_at=learned, **fields)  # type: ignore[arg-type]
        return memory_features(memory, now=NOW, weights=weights).decay

    assert fresh() == pytest.approx(0.5)  # one half-life unused
    assert fresh(pinned=True) == 1.0
    assert fresh(last_accessed_at=NOW - timedelta(days=1)) > 0.97  # recalled yesterday
    assert fresh(last_accessed_at=NOW + timedelta(days=1)) == pytest.approx(0.5)  # not yet, then
    assert memory_features(Memory(text="x"), now=None).decay == 0.0


def test_the_decay_weight_ranks_what_is_fresh_in_memory_first() -> None:
    old = NOW - timedelta(days=400)
    memories = {
        "idle": Memory(text="Ana likes tea", id="idle", recorded_at=old),
        "pinned": Memory(text="Ana likes mint tea", id="pinned", recorded_at=old, pinned=True),
    }
    dense = [("idle", 0.9), ("pinned", 0.9)]
    plain = rank_memories(memories, dense, now=NOW)
    assert plain[0].score == plain[1].score  # no decay weight: a tie
    ranked = rank_memories(memories, dense, now=NOW, weights=RankingWeights(decay=1.0))
    assert [hit.memory.id for hit in ranked] == ["pinned", "idle"]
    assert ranked[0].parts.decay == 1.0 and ranked[1].parts.decay < 0.5


def test_entity_feature_matches_names_in_metadata() -> None:
    memory = Memory(
        text="I adopted a beagle",
        kind="episode",
        metadata={"speaker": "Ana", "entities": ["Tomás Almeida"]},
    )
    assert memory_features(memory, query_entities=("ana",)).entity == 1.0
    assert memory_features(memory, query_entities=("tomas almeida", "ben")).entity == 0.5


def test_time_feature_for_when_questions_and_named_periods() -> None:
    dated = Memory(text="I ran a race yesterday", metadata={"event_date": "2023-05-07"})
    undated = Memory(text="I like races", valid_from=datetime(2023, 9, 1, tzinfo=UTC))
    assert memory_features(dated, temporal=True).time == 1.0
    assert memory_features(undated, temporal=True).time == 0.0
    may = query_periods("What did I do in May 2023?")
    assert memory_features(dated, periods=may).time == 1.0
    assert memory_features(undated, periods=may).time == 0.0


def test_query_periods_keep_only_absolute_dates_without_a_reference() -> None:
    (may,) = query_periods("What did Ana paint in May 2023?")
    assert may == (datetime(2023, 5, 1, tzinfo=UTC), datetime(2023, 6, 1, tzinfo=UTC))
    assert query_periods("What did Ana paint last week?") == ()
    (week,) = query_periods("What did Ana paint yesterday?", NOW)
    assert week[0] == NOW - timedelta(days=1)


def test_temporal_queries() -> None:
    assert is_temporal_query("When did Caroline go to the support group?")
    assert is_temporal_query("In what year did Ana move?")
    assert is_temporal_query("What year did Ana move to Lisbon?")
    assert not is_temporal_query("What did Ana paint?")


def test_entities_in_query_are_folded_names() -> None:
    assert entities_in_query("What did Caroline research?") == ("caroline",)
    assert entities_in_query("where does Tomás live", people=["Tomás"]) == ("tomas",)


def test_index_text_puts_an_episode_after_its_context() -> None:
    memory = Memory(
        text="Yes! I did.",
        kind="episode",
        metadata={"speaker": "Ana", CONTEXT_KEY: ["Ben: Hi", "Ben: Did you run it?"]},
    )
    assert index_text(memory) == "Ana: Yes! I did."
    assert index_text(memory, context=1) == "Ben: Did you run it?\nAna: Yes! I did."
    assert index_text(memory, context=5).startswith("Ben: Hi\n")
    assert index_text(memory, speaker=False) == "Yes! I did."
    fact = Memory(text="Ana ran a marathon", metadata={"speaker": "Ana", CONTEXT_KEY: ["x"]})
    assert index_text(fact, context=2) == "Ana ran a marathon"


def test_stores_index_an_episode_with_its_context_and_embed_it_with_its_speaker() -> None:
    memory = Memory(
        text="Yes! I did.",
        kind="episode",
        metadata={"speaker": "Ana", CONTEXT_KEY: ["Ben: Hi", "Ben: Did you run it?"]},
    )
    assert lexical_text(memory) == "Ben: Hi\nBen: Did you run it?\nAna: Yes! I did."
    assert dense_text(memory) == "Ana: Yes! I did."
    fact = Memory(text="Ana ran a marathon", metadata={"speaker": "Ana"})
    assert lexical_text(fact) == dense_text(fact) == "Ana ran a marathon"


def test_complete_dense_merges_more_cosines_best_first() -> None:
    dense = [("a", 0.9), ("b", 0.5)]
    merged = complete_dense(dense, [("c", 0.7), ("a", 0.1), ("d", 0.5)])
    assert merged == [("a", 0.9), ("c", 0.7), ("b", 0.5), ("d", 0.5)]  # ties by id


def test_a_lexical_candidate_ranks_by_its_true_cosine_once_completed() -> None:
    # "far" was found by BM25 only: outside the dense top N its dense part is 0.
    near, far = Memory(text="near"), Memory(text="far")
    memories = {near.id: near, far.id: far}
    weights = RankingWeights(entity=0, time=0, session=0)
    lexical = [(far.id, 5.0), (near.id, 1.0)]
    without = {
        h.memory.id: h for h in rank_memories(memories, [(near.id, 0.6)], lexical, weights=weights)
    }
    assert without[far.id].parts.dense == 0.0
    assert without[near.id].score > without[far.id].score
    completed = complete_dense([(near.id, 0.6)], [(far.id, 0.55)])
    within = rank_memories(memories, completed, lexical, weights=weights)
    assert [hit.memory.id for hit in within] == [far.id, near.id]
    assert within[0].parts.dense == pytest.approx(0.55)


def test_rank_memories_groups_by_source_session() -> None:
    top = Memory(text="a", metadata={SESSION_KEY: "s1"})
    mate = Memory(text="b", metadata={SESSION_KEY: "s1"})
    lone = Memory(text="c", metadata={SESSION_KEY: "s2"})
    memories = {m.id: m for m in (top, mate, lone)}
    dense = [(top.id, 0.9), (lone.id, 0.8), (mate.id, 0.75)]
    hits = rank_memories(memories, dense, weights=RankingWeights(session=5.0))
    assert [hit.memory.id for hit in hits] == [top.id, mate.id, lone.id]


def test_rank_memories_puts_the_current_value_above_the_superseded_one() -> None:
    old = Memory(text="Ana lives in Porto", superseded_at=NOW, valid_to=NOW)
    new = Memory(text="Ana lives in Lisbon")
    memories = {old.id: old, new.id: new}
    hits = rank_memories(memories, dense=[(old.id, 0.91), (new.id, 0.90)])
    assert [hit.memory.id for hit in hits] == [new.id, old.id]
    assert [hit.rank for hit in hits] == [1, 2]
    assert hits[0].parts.fused == hits[0].score


def test_rank_memories_drops_candidates_that_were_not_loaded() -> None:
    kept = Memory(text="kept")
    hits = rank_memories({kept.id: kept}, dense=[("gone", 0.99), (kept.id, 0.5)])
    assert [hit.memory.id for hit in hits] == [kept.id]


def test_rank_memories_limit() -> None:
    memories = {m.id: m for m in (Memory(text=str(index)) for index in range(5))}
    dense = [(memory_id, 0.5) for memory_id in memories]
    assert len(rank_memories(memories, dense, limit=2)) == 2


def test_lexical_query_drops_function_words() -> None:
    assert lexical_query("What did Caroline research?") == "Caroline research"
    assert lexical_query("When is Mel's birthday") == "Mel birthday"
    assert lexical_query("What is the name of my dog?") == "name dog"


def test_lexical_query_drops_the_phrases_that_only_say_now() -> None:
    # "days" of "these days" would match "10 days. my brother is flying in".
    assert lexical_query("What kind of music do I like these days?") == "kind music like"
    assert lexical_query("Where do I work at the moment?") == "work"
    assert lexical_query("What am I reading lately, right now?") == "reading"
    assert lexical_query("Nowadays, what do I drink?") == "drink"
    # Words of the topic stay: "days" asked about is a term.
    assert lexical_query("How many days off do I have?") == "many days"


def test_lexical_query_keeps_a_query_made_only_of_stopwords() -> None:
    assert lexical_query("who am I") == "who am I"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("What does Ana eat?", "What does eat?"),
        ("What is ana’s running goal?", "What is running goal?"),
        ("Did Ana Silva meet Anabel?", "Did meet Anabel?"),
        ("Who is Ana?", "Who is Ana?"),  # nothing but function words would remain
        ("Ana", "Ana"),
        ("Where does Bo live?", "Where does Bo live?"),
    ],
)
def test_without_names_drops_the_names_if_content_remains(query: str, expected: str) -> None:
    assert without_names(query, ["Ana Silva", "Ana"]) == expected


def test_default_weights_are_the_tuned_ones() -> None:
    assert RankingWeights() == DEFAULT_WEIGHTS


_pairs = st.lists(
    st.tuples(st.sampled_from("abcdefghij"), st.floats(-1, 10, allow_nan=False)), max_size=10
)


@given(dense=_pairs, lexical=_pairs, method=st.sampled_from(["rrf", "weighted"]))
def test_fusion_ranks_every_candidate_once_best_first(
    dense: list[tuple[str, float]], lexical: list[tuple[str, float]], method: str
) -> None:
    weights = RankingWeights(method=method)  # type: ignore[arg-type]
    results = fuse(dense, lexical, weights=weights)
    ids = [result.id for result in results]
    assert sorted(ids) == sorted({memory_id for memory_id, _ in [*dense, *lexical]})
    scores = [result.score for result in results]
    assert scores == sorted(scores, reverse=True)
    assert all(result.parts.fused == result.score for result in results)


@given(dense=_pairs, lexical=_pairs, boost=st.floats(0, 5))
def test_an_entity_boost_never_demotes_the_boosted_memory(
    dense: list[tuple[str, float]], lexical: list[tuple[str, float]], boost: float
) -> None:
    ids = [memory_id for memory_id, _ in [*dense, *lexical]]
    if not ids:
        return
    target = ids[0]
    features = {target: MemoryFeatures(entity=1.0)}
    before = [r.id for r in fuse(dense, lexical, features, RRF)]
    after = [r.id for r in fuse(dense, lexical, features, replace(RRF, entity=boost))]
    assert after.index(target) <= before.index(target)


JAN, MAR, JUN = (datetime(2023, month, 1, tzinfo=UTC) for month in (1, 3, 6))


def _moved() -> dict[str, Memory]:
    """Lisbon said in January, Porto in June: the Lisbon fact superseded in June."""
    said_lisbon = Memory(text="I live in Lisbon.", kind="episode", source_ids=("m1",))
    lisbon = Memory(
        text="The user lives in Lisbon",
        kind="profile",
        attribute="home_city",
        source_ids=("m1",),
        superseded_at=JUN,
        valid_to=JUN,
    )
    said_porto = Memory(text="I just moved to Porto.", kind="episode", source_ids=("m2",))
    porto = Memory(
        text="The user moved to Porto", kind="profile", attribute="home_city", source_ids=("m2",)
    )
    return {m.text: m for m in (said_lisbon, lisbon, said_porto, porto)}


def test_current_at_judges_currency_at_the_time_asked_about() -> None:
    lisbon = _moved()["The user lives in Lisbon"]
    assert current_at(lisbon, MAR)
    assert not current_at(lisbon, JUN)
    assert not current_at(lisbon, None)


def test_an_episode_stating_only_a_retired_value_is_stale() -> None:
    memories = _moved()
    stale = stale_episodes(memories.values(), None)
    assert stale == {memories["I live in Lisbon."].id: 0.0}
    assert stale_episodes(memories.values(), MAR) == {}  # in March, Lisbon was true


def test_an_episode_stating_a_retired_and_a_current_value_is_partly_stale() -> None:
    memories = _moved()
    vegan = Memory(text="The user is vegan", kind="profile", attribute="diet", source_ids=("m1",))
    stale = stale_episodes([*memories.values(), vegan], None)
    assert stale == {memories["I live in Lisbon."].id: 0.5}


def test_the_current_value_wins_even_when_the_stale_episode_matches_best() -> None:
    memories = _moved()
    by_id = {m.id: m for m in memories.values()}
    dense = [
        (memories["I live in Lisbon."].id, 0.9),
        (memories["The user lives in Lisbon"].id, 0.85),
        (memories["I just moved to Porto."].id, 0.6),
        (memories["The user moved to Porto"].id, 0.5),
    ]
    hits = rank_memories(by_id, dense, now=JUN + timedelta(days=1), current_only=True)
    texts = [hit.memory.text for hit in hits]
    assert texts[0] == "I just moved to Porto."
    assert "The user lives in Lisbon" not in texts  # retired: left out of a "now" search
    assert texts.index("I live in Lisbon.") > texts.index("The user moved to Porto")
    then = rank_memories(by_id, dense, now=MAR)
    assert then[0].memory.text == "I live in Lisbon."


def test_a_decomposed_query_finds_what_its_composed_twin_finds() -> None:
    assert lexical_query("Where is Zu\u0308rich?") == lexical_query("Where is Zürich?")
    assert lexical_query("nai\u0308ve") == "naïve"


def test_a_preference_naming_a_retired_value_ranks_below_the_current_one() -> None:
    lisbon = Memory(
        text="The user lives in Lisbon",
        kind="profile",
        attribute="home_city",
        metadata={"value": "Lisbon"},
        superseded_at=JUN,
        valid_to=JUN,
    )
    porto = Memory(
        text="The user moved to Porto",
        kind="profile",
        attribute="home_city",
        metadata={"value": "Porto"},
    )
    loves = Memory(
        text="The user loves living in Lisbon",
        kind="preference",
        attribute="preference:living_in_lisbon",
    )
    tea = Memory(text="The user loves tea", kind="preference", attribute="preference:tea")
    memories = {m.id: m for m in (lisbon, porto, loves, tea)}
    assert stale_preferences(memories.values(), None) == {loves.id}
    assert stale_preferences(memories.values(), MAR) == set()  # in March, Lisbon held
    dense = [(loves.id, 0.9), (lisbon.id, 0.85), (porto.id, 0.6)]
    hits = rank_memories(memories, dense, now=JUN + timedelta(days=1), current_only=True)
    assert [hit.memory.text for hit in hits] == [porto.text, loves.text]


def test_fuse_keeps_a_limit_and_refuses_a_negative_one() -> None:
    dense = [("a", 0.9), ("b", 0.5), ("c", 0.1)]
    assert [r.id for r in fuse(dense=dense, limit=2)] == ["a", "b"]
    assert len(fuse(dense=dense)) == 3
    with pytest.raises(InvalidInputError, match="limit"):
        fuse(dense=dense, limit=-1)
