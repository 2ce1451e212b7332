"""The evaluation: dataset loaders, metrics, the in-process pipeline, the runner, the CLI."""

from __future__ import annotations

import gzip
import json
import re
import tempfile
import zlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from embedders import HashingEmbedder
from engram._exceptions import InvalidInputError
from engram.cli.eval import eval_group
from engram.eval import (
    CURRENCY_SCENARIOS,
    CurrencyScenario,
    DiskEmbeddingCache,
    EngramRetriever,
    EvalSettings,
    InProcessRetriever,
    LexicalIndex,
    PipelineOptions,
    RetrievedItem,
    distinct_sessions,
    distinct_turns,
    evaluate,
    in_context,
    load_locomo,
    load_longmemeval,
    pack_context,
    parse_evidence,
    percentile,
    recall_all_at_k,
    recall_any_at_k,
    recall_at_k,
    run_currency,
    summarize,
)
from engram.eval._longmemeval import spread
from engram.eval._records import opaque_session_id
from engram.providers._embeddings import CachedEmbedder, l2_normalize

# --- tiny synthetic datasets ------------------------------------------------------------


def _locomo_item() -> dict[str, Any]:
    return {
        "sample_id": "conv-x",
        "conversation": {
            "speaker_a": "Ana",
            "speaker_b": "Ben",
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {"speaker": "Ana", "dia_id": "D1:1", "text": "Hi Ben! I adopted a puppy."},
                {"speaker": "Ben", "dia_id": "D1:2", "text": "Wow, what breed is it?"},
                {"speaker": "Ana", "dia_id": "D1:3", "text": "A beagle named Toby."},
                {
                    "speaker": "Ben",
                    "dia_id": "D1:4",
                    "text": "Look at this.",
                    "blip_caption": "a photo of a sailboat on a lake",
                    "query": "sailboat",
                    "img_url": ["http://example.invalid/boat.jpg"],
                },
            ],
            "session_2_date_time": "10:00 am on 20 June, 2023",
            "session_2": [
                {"speaker": "Ben", "dia_id": "D2:1", "text": "I started learning the violin."},
                {"speaker": "Ana", "dia_id": "D2:2", "text": "Cool! Toby chewed my shoes."},
            ],
            "session_3_date_time": "9:00 am on 1 July, 2023",
        },
        "qa": [
            {
                "question": "What breed is Ana's dog?",
                "answer": "beagle",
                "evidence": ["D1:3"],
                "category": 4,
            },
            {
                "question": "What instrument does Ben learn?",
                "answer": "violin",
                "evidence": ["D2:01; D1:9"],
                "category": 1,
            },
            {
                "question": "What did Ben sail on?",
                "answer": "a sailboat",
                "evidence": ["D:1:4"],
                "category": 3,
            },
            {
                "question": "Did Ana adopt a cat?",
                "adversarial_answer": "yes",
                "evidence": ["D1:1"],
                "category": 5,
            },
            {
                "question": "What is Ben's job?",
                "answer": "unknown",
                "evidence": ["D"],
                "category": 3,
            },
        ],
    }


def _write_locomo(tmp_path: Path) -> Path:
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps([_locomo_item()]), encoding="utf-8")
    return path


def _lme_item(question_id: str, question: str, answer_session: str) -> dict[str, Any]:
    filler = [
        {"role": "user", "content": "Can you give me a pasta recipe?"},
        {"role": "assistant", "content": "Sure: boil the pasta, add sauce."},
    ]
    answer = [
        {"role": "user", "content": "Hello there.", "has_answer": False},
        {"role": "assistant", "content": "Hi! How can I help?", "has_answer": False},
        {"role": "user", "content": "I bought a red kayak last weekend.", "has_answer": True},
    ]
    return {
        "question_id": question_id,
        "question_type": "single-session-user",
        "question": question,
        "answer": "red",
        "question_date": "2023/06/01 (Thu) 10:00",
        "haystack_session_ids": ["sharegpt_a", answer_session],
        "haystack_dates": ["2023/05/01 (Mon) 09:00", "2023/05/20 (Sat) 02:21"],
        "haystack_sessions": [filler, answer],
        "answer_session_ids": [answer_session],
    }


def _write_longmemeval(tmp_path: Path) -> Path:
    items = [
        _lme_item("q1", "What colour is the kayak I bought?", "answer_1"),
        _lme_item("q2_abs", "What colour is my canoe?", "answer_2"),
        _lme_item("q3", "Which kayak did I buy?", "answer_3"),
    ]
    path = tmp_path / "lme.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        json.dump(items, handle)
    return path


# --- loaders ------------------------------------------------------------------------------


def test_parse_evidence_normalises_label_noise() -> None:
    known = {"D8:6", "D9:17", "D11:26", "D30:5", "D9:1", "D4:4", "D4:6"}
    labels = ["D8:6; D9:17", "D:11:26", "D30:05", "D9:1 D4:4 D4:6", "D10:19", "D"]
    assert parse_evidence(labels, known) == frozenset(known)


def test_load_locomo_normalises_turns_sessions_and_questions(tmp_path: Path) -> None:
    (conversation,) = load_locomo(_write_locomo(tmp_path))
    assert conversation.id == "conv-x"
    assert [session.id for session in conversation.sessions] == ["D1", "D2"]  # D3: no turns
    first = conversation.sessions[0]
    assert first.at.isoformat() == "2023-05-08T13:56:00+00:00"
    assert all(turn.role == "user" for turn in conversation.turns)
    image = first.turns[3]
    assert image.text == "Look at this. [image: a photo of a sailboat on a lake]"
    assert [turn.at for turn in first.turns] == sorted(turn.at for turn in first.turns)
    assert [q.category for q in conversation.questions] == [
        "single-hop",
        "multi-hop",
        "open-domain",
    ]
    multi = conversation.questions[1]
    assert multi.evidence_turns == {"D2:1"}  # D2:01 normalised, D1:9 does not exist
    assert multi.evidence_sessions == {"D2"}
    assert conversation.questions[2].evidence_turns == {"D1:4"}


def test_load_locomo_limit_and_bad_files(tmp_path: Path) -> None:
    assert len(load_locomo(_write_locomo(tmp_path), limit=0)) == 0
    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "a list"}', encoding="utf-8")
    with pytest.raises(InvalidInputError):
        load_locomo(bad)
    with pytest.raises(InvalidInputError):
        load_locomo(tmp_path / "missing.json")


def test_load_longmemeval_follows_the_official_protocol(tmp_path: Path) -> None:
    conversations = load_longmemeval(_write_longmemeval(tmp_path))
    assert [c.id for c in conversations] == ["q1", "q3"]  # abstention skipped
    first = conversations[0]
    assert {turn.role for turn in first.turns} == {"user"}
    assert [turn.id for turn in first.sessions[1].turns] == ["answer_1_1", "answer_1_3"]
    (question,) = first.questions
    assert question.evidence_turns == {"answer_1_3"}
    assert question.evidence_sessions == {"answer_1"}
    assert question.asked_at is not None and question.asked_at.year == 2023


def test_load_longmemeval_can_index_both_roles(tmp_path: Path) -> None:
    conversations = load_longmemeval(
        _write_longmemeval(tmp_path), roles=("user", "assistant"), limit=1
    )
    assert len(conversations[0].sessions[1].turns) == 3


def test_spread_takes_evenly_spaced_items() -> None:
    assert spread(list(range(10)), 3) == [0, 3, 6]
    assert spread(list(range(3)), None) == [0, 1, 2]
    assert spread(list(range(3)), 5) == [0, 1, 2]


# --- metrics ------------------------------------------------------------------------------


def _item(text: str, *turns: str) -> RetrievedItem:
    return RetrievedItem(text=text, turn_ids=turns)


def test_k_counts_distinct_turns_whatever_the_unit_of_memory() -> None:
    items = [_item("a", "t1", "t2"), _item("b", "t2"), _item("c", "t3", "t4")]
    turns = distinct_turns(items)
    assert turns == ["t1", "t2", "t3", "t4"]
    assert recall_at_k(turns, {"t3", "t9"}, 2) == 0.0
    assert recall_at_k(turns, {"t3", "t9"}, 3) == 0.5


def test_session_metrics_count_distinct_sessions() -> None:
    session_of = {"t1": "s1", "t2": "s1", "t3": "s2", "t4": "s3"}
    sessions = distinct_sessions(["t1", "t2", "t3", "t4", "unknown"], session_of)
    assert sessions == ["s1", "s2", "s3"]
    assert recall_all_at_k(sessions, {"s1", "s2"}, 2) == 1.0
    assert recall_all_at_k(sessions, {"s1", "s3"}, 2) == 0.0
    assert recall_all_at_k(sessions, set(), 1) == 1.0  # as LongMemEval's all([])
    assert recall_any_at_k(sessions, {"s3", "s9"}, 2) == 0.0
    assert recall_any_at_k(sessions, {"s3", "s9"}, 3) == 1.0
    assert recall_any_at_k(sessions, set(), 3) == 0.0  # as LongMemEval's any([])


def test_recall_needs_evidence() -> None:
    with pytest.raises(InvalidInputError):
        recall_at_k(["a"], set(), 1)
    with pytest.raises(InvalidInputError):
        in_context([], set(), 10, len)


def _words(text: str) -> int:
    return len(text.split())


def test_pack_context_is_greedy_and_skips_what_does_not_fit() -> None:
    items = [_item("one two", "t1"), _item("a b c d e f g h", "t2"), _item("x", "t3")]
    packed = pack_context(items, budget=6, count=_words)
    assert [item.turn_ids for item in packed] == [("t1",), ("t3",)]  # 3 + 2 tokens
    assert in_context(items, {"t2", "t3"}, 6, _words) == 0.5
    assert in_context(items, {"t2", "t3"}, 20, _words) == 1.0


def test_pack_context_counts_a_repeated_text_once() -> None:
    items = [_item("same text", "t1"), _item("same text", "t2")]
    assert len(pack_context(items, budget=3, count=_words)) == 2


def test_percentile_interpolates() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([5.0], 95) == 5.0
    assert percentile([], 50) == 0.0  # no NaN in a report's JSON line


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"[{}]", "not a LongMemEval file"),
        (b"[1]", "not a LongMemEval file"),
        (b"\xff[", "cannot read"),
    ],
)
def test_a_bad_longmemeval_file_is_invalid_input(
    tmp_path: Path, content: bytes, match: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(InvalidInputError, match=match):
        load_longmemeval(path)


@given(
    turns=st.lists(st.sampled_from([f"t{i}" for i in range(8)]), max_size=12),
    evidence=st.sets(st.sampled_from([f"t{i}" for i in range(8)]), min_size=1),
    k=st.integers(1, 10),
)
def test_recall_is_monotonic_in_k(turns: list[str], evidence: set[str], k: int) -> None:
    ranked = list(dict.fromkeys(turns))
    assert 0.0 <= recall_at_k(ranked, evidence, k) <= recall_at_k(ranked, evidence, k + 1) <= 1.0
    assert recall_all_at_k(ranked, evidence, k) <= recall_at_k(ranked, evidence, k) + 1e-12 or (
        recall_at_k(ranked, evidence, k) == 1.0
    )


@given(
    sizes=st.lists(st.integers(1, 30), max_size=15),
    budget=st.integers(0, 100),
)
def test_packed_context_never_exceeds_the_budget(sizes: list[int], budget: int) -> None:
    items = [
        _item(" ".join(["w"] * size) + f" {index}", f"t{index}") for index, size in enumerate(sizes)
    ]
    packed = pack_context(items, budget, _words)
    assert sum(_words(item.text) + 1 for item in packed) <= budget


# --- lexical index, pipeline, runner ------------------------------------------------------


def test_lexical_index_ranks_by_bm25_and_ignores_stopwords() -> None:
    index = LexicalIndex()
    index.add(["I adopted a dog", "what a day", "the dog park was busy"])
    results = index.search("What dog did I adopt?", 5)
    assert [position for position, _ in results] == [0, 2]
    assert results[0][1] > results[1][1] > 0
    assert index.search("zebra", 5) == []


def test_pipeline_finds_the_evidence(tmp_path: Path) -> None:
    conversations = load_locomo(_write_locomo(tmp_path))
    retriever = InProcessRetriever(HashingEmbedder())
    run = evaluate(conversations, retriever, EvalSettings(ks=(1, 2), budgets=(50,)))
    by_id = {result.question_id: result.metrics for result in run.results}
    assert by_id["conv-x/0"]["recall@2"] == 1.0  # "breed" + "Ana" -> D1:3
    assert by_id["conv-x/1"]["recall@2"] == 1.0  # "Ben" + "learn" -> D2:1
    assert run.conversations == 1 and run.turns == 6
    assert all(result.latency_ms >= 0 for result in run.results)


def test_pipeline_indexes_the_previous_turn_as_context(tmp_path: Path) -> None:
    (conversation,) = load_locomo(_write_locomo(tmp_path))
    retriever = InProcessRetriever(None, PipelineOptions(dense=False, lexical_context=1))
    retriever.ingest(conversation)
    # D1:3 says only "A beagle named Toby."; the question's words are in D1:2's question.
    items = retriever.search(conversation.id, "what breed", 3)
    assert {item.turn_ids for item in items[:2]} == {("D1:2",), ("D1:3",)}
    hits = retriever.search_hits(conversation.id, "what breed", 3)
    beagle = next(hit for hit in hits if hit.memory.text == "A beagle named Toby.")
    assert beagle.parts.lexical > 0 and beagle.parts.fused == beagle.score
    retriever.forget(conversation.id)


def test_pipeline_entity_feature_names_the_speaker(tmp_path: Path) -> None:
    (conversation,) = load_locomo(_write_locomo(tmp_path))
    retriever = InProcessRetriever(None, PipelineOptions(dense=False))
    retriever.ingest(conversation)
    hits = retriever.search_hits(conversation.id, "What did Ben start learning?", 5)
    ben = next(hit for hit in hits if hit.memory.text == "I started learning the violin.")
    assert ben.parts.entity == 1.0
    assert ben.memory.metadata["speaker"] == "Ben"


def test_summary_reports_overall_and_per_category_means(tmp_path: Path) -> None:
    conversations = load_locomo(_write_locomo(tmp_path))
    run = evaluate(conversations, InProcessRetriever(None, PipelineOptions(dense=False)))
    report = summarize(run, dataset="locomo", retriever="in-process", settings={"x": 1})
    assert report["questions"] == 3
    assert 0.0 <= report["recall@10"] <= 1.0
    assert {"in_context@1k", "in_context@2k", "in_context@4k", "session_recall@5"} <= set(report)
    assert set(report["per_category"]) == {"multi-hop", "open-domain", "single-hop"}
    assert report["per_category"]["single-hop"]["questions"] == 1
    assert report["search_p95_ms"] >= report["search_p50_ms"]
    assert report["settings"] == {"x": 1}


def test_longmemeval_official_metric(tmp_path: Path) -> None:
    conversations = load_longmemeval(_write_longmemeval(tmp_path))
    retriever = InProcessRetriever(None, PipelineOptions(dense=False))
    run = evaluate(conversations, retriever, EvalSettings(ks=(1,), official=True))
    for result in run.results:
        assert result.metrics["recall_all@1"] == 1.0  # "kayak" is only in the answer session
        assert result.metrics["official_recall_all@1"] == 1.0


def test_longmemeval_official_metrics_leave_out_a_question_without_labelled_turns(
    tmp_path: Path,
) -> None:
    unlabelled = _lme_item("q4", "Which kayak did I buy?", "answer_4")
    for turn in unlabelled["haystack_sessions"][1]:
        turn["has_answer"] = False  # its answer session holds no has_answer user turn
    path = tmp_path / "lme.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        json.dump(
            [_lme_item("q1", "What colour is the kayak I bought?", "answer_1"), unlabelled], handle
        )
    retriever = InProcessRetriever(None, PipelineOptions(dense=False))
    run = evaluate(load_longmemeval(path), retriever, EvalSettings(ks=(1,), official=True))
    labelled, unlabelled_result = run.results
    assert labelled.metrics["turn2session_recall_all@1"] == 1.0
    assert "official_recall_all@1" not in unlabelled_result.metrics  # not a vacuous 1.0
    assert "turn2session_recall_all@1" not in unlabelled_result.metrics
    assert unlabelled_result.metrics["recall_all@1"] == 1.0  # answer_session_ids still scored


def test_engram_adapter_maps_provenance_to_turns(tmp_path: Path) -> None:
    from engram import Engram

    conversations = load_locomo(_write_locomo(tmp_path))
    with Engram(tmp_path / "eval.db", embedder=HashingEmbedder()) as engram:
        retriever = EngramRetriever(engram.memories)
        run = evaluate(conversations, retriever, EvalSettings(ks=(1, 5), budgets=(100,)))
        assert retriever.name == "engram"
        by_id = {result.question_id: result.metrics for result in run.results}
        assert by_id["conv-x/1"]["recall@5"] == 1.0  # "violin" -> D2:1
        assert engram.memories.get_all(user_id="conv-x") == []  # forgotten after its questions


def test_engram_indexes_each_turn_with_the_turns_before_it(tmp_path: Path) -> None:
    from engram import Engram

    (conversation,) = load_locomo(_write_locomo(tmp_path))
    with Engram(tmp_path / "eval.db", embedder=HashingEmbedder()) as engram:
        retriever = EngramRetriever(engram.memories)
        retriever.ingest(conversation)
        # D1:3 says only "A beagle named Toby."; "breed" is in D1:2, the turn before it.
        hits = engram.memories.search("what breed", user_id=conversation.id, limit=5)
        beagle = next(hit for hit in hits if hit.memory.text == "A beagle named Toby.")
        assert beagle.parts.lexical > 0
        assert beagle.memory.metadata["source_session"] == opaque_session_id("D1")
        items = retriever.search(conversation.id, "what breed", 2)
        assert {turn for item in items for turn in item.turn_ids} == {"D1:2", "D1:3"}
        assert all(item.text.startswith("- [2023-05-08] ") for item in items)  # as in context
        retriever.forget(conversation.id)


class WideHashingEmbedder(HashingEmbedder):
    """Bag of words in 4,096 dimensions: distinct words (almost) never share one."""

    model_id = "test/wide-hashing"
    dimension = 4096

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                rows[row, zlib.crc32(word.encode()) % self.dimension] += 1.0
        return l2_normalize(rows)


def test_engram_search_scores_lexical_candidates_by_their_true_cosine(tmp_path: Path) -> None:
    from engram import Engram

    with Engram(tmp_path / "pool.db", embedder=WideHashingEmbedder()) as engram:
        for index in range(60):  # 60 memories nearer to the query than the target
            text = f"alpha red{index} green{index} blue{index}"
            engram.memories.add(text, user_id="u", infer=False)
        assert len(engram.memories.get_all(user_id="u")) == 60
        engram.memories.add("zebra one two three four five", user_id="u", infer=False)
        hits = engram.memories.search("alpha zebra", user_id="u", limit=5)
        # Outside the 50 nearest vectors, found by BM25: it still gets its cosine.
        zebra = hits[0]
        assert zebra.memory.text.startswith("zebra") and zebra.parts.lexical > 0
        assert zebra.parts.dense == pytest.approx(float(np.sqrt(1 / 12)), abs=0.05)


def test_currency_scenarios_keep_the_old_value_answerable_as_of_then(tmp_path: Path) -> None:
    from engram import Engram

    with Engram(tmp_path / "currency.db", embedder=HashingEmbedder()) as engram:
        results = run_currency(engram.memories, CURRENCY_SCENARIOS[:3])
        assert [result.name for result in results] == ["home", "employer", "diet"]
        assert all(result.passed for result in results)  # the current value first, too
        assert engram.memories.get_all(user_id="currency-home") == []


def test_disk_cache_embeds_each_text_once_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "vectors.sqlite"
    first = CachedEmbedder(HashingEmbedder(), DiskEmbeddingCache(path))
    vectors = first.embed(["alpha", "beta", "alpha"])
    assert first.misses == 2
    again = CachedEmbedder(HashingEmbedder(), DiskEmbeddingCache(path))
    assert np.array_equal(again.embed(["beta", "alpha"]), vectors[[1, 0]])
    assert again.misses == 0


# --- CLI ------------------------------------------------------------------------------------


def _last_json(output: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def test_cli_locomo_ends_with_one_json_line(tmp_path: Path) -> None:
    path = _write_locomo(tmp_path)
    result = CliRunner().invoke(
        eval_group, ["locomo", "--data", str(path), "--retriever", "in-process", "--no-dense"]
    )
    assert result.exit_code == 0, result.output
    report = _last_json(result.output)
    assert report["dataset"] == "locomo" and report["questions"] == 3
    assert "recall@10" in report and "in_context@2k" in report


def test_cli_longmemeval_reads_a_directory_from_the_environment(tmp_path: Path) -> None:
    _write_longmemeval(tmp_path).rename(tmp_path / "longmemeval_s_dev.json.gz")
    result = CliRunner().invoke(
        eval_group,
        ["longmemeval", "--retriever", "in-process", "--no-dense", "--k", "1,5"],
        env={"ENGRAM_EVAL_DATA": str(tmp_path)},
    )
    assert result.exit_code == 0, result.output
    report = _last_json(result.output)
    assert report["questions"] == 2
    assert report["recall_all@5"] == 1.0 and "official_recall_all@5" in report


def test_cli_currency_reports_every_scenario(tmp_path: Path) -> None:
    args = ["currency", "--db", str(tmp_path / "c.db"), "--cache", str(tmp_path / "v.sqlite")]
    result = CliRunner().invoke(eval_group, args)
    assert result.exit_code == 0, result.output
    report = _last_json(result.output)
    assert report["scenarios"] == len(CURRENCY_SCENARIOS)
    assert report["passed"] == len(CURRENCY_SCENARIOS)


def test_cli_requires_the_data() -> None:
    result = CliRunner().invoke(eval_group, ["locomo", "--no-dense"])
    assert result.exit_code == 2
    assert "--data" in result.output


def test_cli_measures_the_product_unless_told_otherwise(tmp_path: Path) -> None:
    path = _write_locomo(tmp_path)
    result = CliRunner().invoke(eval_group, ["locomo", "--data", str(path), "--no-dense"])
    assert result.exit_code == 2
    assert "--retriever in-process" in result.output


def test_cli_rejects_bad_cutoffs(tmp_path: Path) -> None:
    path = _write_locomo(tmp_path)
    result = CliRunner().invoke(eval_group, ["locomo", "--data", str(path), "--k", "1,x"])
    assert result.exit_code == 2


REAL_LOCOMO = Path(__file__).parents[2] / "shared" / "data" / "locomo_dev.json"


@pytest.mark.skipif(not REAL_LOCOMO.is_file(), reason="LoCoMo data not available")
def test_real_locomo_first_conversation_bm25() -> None:
    result = CliRunner().invoke(
        eval_group,
        [
            "locomo",
            "--data",
            str(REAL_LOCOMO),
            "--limit",
            "1",
            "--retriever",
            "in-process",
            "--no-dense",
        ],
    )
    assert result.exit_code == 0, result.output
    report = _last_json(result.output)
    assert report["questions"] == 150
    assert report["recall@10"] > 0.6


def test_disk_cache_serves_and_keeps_nothing_while_bypassed(tmp_path: Path) -> None:
    cache = DiskEmbeddingCache(tmp_path / "vectors.sqlite")
    embedder = CachedEmbedder(HashingEmbedder(), cache)
    embedder.embed(["alpha"])
    with cache.bypassed():
        embedder.embed(["alpha", "question"])
    assert embedder.misses == 3  # alpha again, and the question
    embedder.embed(["alpha", "question"])
    assert embedder.misses == 4  # the question was not kept


def test_cli_report_names_the_default_cache_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without `--cache` the report names the file the run used, not None."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("ENGRAM_EVAL_CACHE", raising=False)
    result = CliRunner().invoke(eval_group, ["locomo", "--data", str(_write_locomo(tmp_path))])
    assert result.exit_code == 0, result.output
    settings = json.loads(result.output.strip().splitlines()[-1])["settings"]
    cache = tmp_path / "engram-eval" / "embeddings.sqlite"
    assert settings["embedding_cache"] == str(cache) and cache.exists()


def test_cli_engram_searches_embed_every_question_on_every_run(tmp_path: Path) -> None:
    """The disk cache keeps the ingested turns' vectors, never the questions': re-runs
    measure search latency with the query's embedding, as the first run does."""
    path, cache = _write_locomo(tmp_path), tmp_path / "v.sqlite"
    result = CliRunner().invoke(eval_group, ["locomo", "--data", str(path), "--cache", str(cache)])
    assert result.exit_code == 0, result.output
    # The report says what ran: no LLM (none configured), and the cache file.
    settings = json.loads(result.output.strip().splitlines()[-1])["settings"]
    assert settings["llm"] is None and settings["embedding_cache"] == str(cache)
    from engram.providers._onnx_embedder import LocalEmbedder

    embedder = CachedEmbedder(LocalEmbedder(), DiskEmbeddingCache(cache))
    questions = [q["question"] for q in _locomo_item()["qa"]]
    embedder.embed(questions)
    assert embedder.misses == len(questions)


class _Forgetful:
    """Engram's memories, but a contradiction deletes what it supersedes (as mem0 does)."""

    def __init__(self, memories: Any) -> None:
        self.memories = memories

    def add(self, **kwargs: Any) -> Any:
        report = self.memories.add(**kwargs)
        user = kwargs["user_id"]
        for memory in self.memories.get_all(user_id=user, include_superseded=True):
            if memory.superseded_at is not None:
                self.memories.delete(memory.id)
        return report

    def __getattr__(self, name: str) -> Any:
        return getattr(self.memories, name)


def test_currency_notices_a_contradiction_that_deletes_the_old_value(tmp_path: Path) -> None:
    from engram import Engram

    with Engram(tmp_path / "currency.db", embedder=HashingEmbedder()) as engram:
        [kept] = run_currency(engram.memories, CURRENCY_SCENARIOS[:1])
        [lost] = run_currency(_Forgetful(engram.memories), CURRENCY_SCENARIOS[:1])
    assert kept.old_kept and kept.passed
    assert not lost.old_kept and not lost.passed


def test_currency_does_not_count_the_change_naming_the_old_value_as_kept(tmp_path: Path) -> None:
    from engram import Engram

    left = CurrencyScenario(
        "left", "I work at Google.", "I left Google.", "Where do I work?", "google", "left"
    )
    with Engram(tmp_path / "currency.db", embedder=HashingEmbedder()) as engram:
        [lost] = run_currency(_Forgetful(engram.memories), [left])
    # "The user left Google" (June) names Google too, but the January memory is gone
    assert not lost.old_kept


class _Undated:
    """Engram's memories, but every message is taken as said when it is learned."""

    def __init__(self, memories: Any) -> None:
        self.memories = memories

    def add(self, *, messages: Any, user_id: str) -> Any:
        undated = [replace(message, created_at=datetime.now(UTC)) for message in messages]
        return self.memories.add(messages=undated, user_id=user_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.memories, name)


def test_a_replayed_scenario_needs_the_statements_fitted_by_when_they_were_said(
    tmp_path: Path,
) -> None:
    from engram import Engram

    [replayed] = [s for s in CURRENCY_SCENARIOS if s.name == "home-replayed"]
    with Engram(tmp_path / "currency.db", embedder=HashingEmbedder()) as engram:
        [fitted] = run_currency(engram.memories, [replayed])
        [undated] = run_currency(_Undated(engram.memories), [replayed])
    assert fitted.passed
    assert not undated.current_first  # the old statement, learned last, would win
