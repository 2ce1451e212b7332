"""Long-term memory with an LLM configured, through the facade, against a real HTTP server
that plays the model (`openai_server`): what an add spends, and what it does with bad replies.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engram import ConfigError, Engram, Message, TokenCounter
from engram.config import EngramSettings, LLMSettings
from engram.memory.revision_verdict import parse_verdict
from engram.providers._http import RetryPolicy
from openai_server import FakeOpenAIServer, ReceivedRequest, ScriptedResponse, chat_completion_body

pytest_plugins = ["openai_server", "servers"]

SAID = datetime(2026, 1, 10, tzinfo=UTC)
TURN = Message(role="user", content="I live in Porto.", created_at=SAID)


@pytest.fixture
def mem(tmp_path: Path, openai_server: FakeOpenAIServer) -> Iterator[Engram]:
    llm = LLMSettings(model="fake-model", base_url=openai_server.url, max_retries=0)
    with Engram(tmp_path / "engram.db", settings=EngramSettings(llm=llm)) as engram:
        yield engram


def texts(mem: Engram) -> list[str]:
    return [memory.text for memory in mem.memories.get_all(user_id="ana")]


def test_the_llms_memories_are_stored_and_its_tokens_reported(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    reply = {"memories": [{"text": "Ana lives in Porto", "kind": "fact", "sources": [0]}]}
    openai_server.enqueue(
        json=chat_completion_body(json.dumps(reply), prompt_tokens=300, completion_tokens=40)
    )
    report = mem.memories.add(messages=[TURN], user_id="ana", metadata={"source": "crm"})
    assert (report.llm_calls, report.llm_tokens) == (1, 340)
    assert "Ana lives in Porto" in texts(mem)
    assert all(m.metadata["source"] == "crm" for m in report.added)


def test_a_scrap_of_json_is_retried_once_then_the_rules_take_over(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    for _ in range(2):
        openai_server.enqueue(json=chat_completion_body("{not json"))
    report = mem.memories.add(messages=[TURN], user_id="ana")
    assert len(openai_server.requests) == 2 and report.llm_calls == 2
    assert "not json" not in texts(mem)
    assert "I live in Porto." in texts(mem)  # the turn itself, and what the rules found
    assert mem.memories.profile("ana").fields["home_city"] == "Porto"


def test_an_add_spends_no_more_tokens_than_allowed(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    report = mem.memories.add(messages=[TURN], user_id="ana", max_llm_tokens=10, pinned=True)
    assert openai_server.requests == [] and report.llm_calls == 0  # the prompt alone is more
    assert "I live in Porto." in texts(mem)
    assert all(memory.pinned for memory in report.added)


def test_the_llms_slot_facts_state_relations_as_the_rules_do(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    fact = {"text": "Ana lives in Lisbon", "kind": "profile", "attribute": "home_city"}
    reply = {"memories": [{**fact, "value": "Lisbon", "sources": [0]}]}
    openai_server.enqueue(json=chat_completion_body(json.dumps(reply)))
    said = Message(role="user", content="Lisbon has been home since spring.", created_at=SAID)
    mem.memories.add(messages=[said], user_id="ana", user_name="Ana")
    names = {entity.id: entity.name for entity in mem.memories.entities(user_id="ana")}
    [lives] = mem.memories.relations(user_id="ana")
    assert (names[lives.source_id], lives.relation, names[lives.target_id]) == (
        "Ana",
        "lives_in",
        "Lisbon",
    )


# What the model answers is never trusted: a bad field costs that field, never the add.


def item(text: str, **fields: object) -> dict[str, object]:
    return {"text": text, "kind": "fact", "sources": [0], **fields}


def reply_with(*items: dict[str, object]) -> str:
    return json.dumps({"memories": list(items)})


def test_a_prose_verdict_naming_two_relations_adds_the_new_memory(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    mem.memories.add("Ana drinks coffee every morning", user_id="ana", infer=False)
    openai_server.enqueue_completion(
        "The new statement contradicts the old one; they are not the same."
    )
    report = mem.memories.add("Ana drinks tea every morning", user_id="ana", infer=False)
    assert len(openai_server.requests) == 1  # the case was ambiguous: the model was asked
    assert [m.text for m in report.added] == ["Ana drinks tea every morning"]
    assert report.superseded == () and report.unchanged == 0
    assert sorted(texts(mem)) == ["Ana drinks coffee every morning", "Ana drinks tea every morning"]


def test_a_same_verdict_on_texts_differing_in_a_figure_keeps_both(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    mem.memories.add("Ana takes 5 mg of melatonin every night", user_id="ana", infer=False)
    openai_server.enqueue_completion('{"relation": "same"}')
    report = mem.memories.add(
        "Ana takes 50 mg of melatonin every night", user_id="ana", infer=False
    )
    assert len(openai_server.requests) == 1  # the model was asked, and said "same"
    assert [m.text for m in report.added] == ["Ana takes 50 mg of melatonin every night"]
    assert sorted(texts(mem)) == [
        "Ana takes 5 mg of melatonin every night",
        "Ana takes 50 mg of melatonin every night",
    ]


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ('{"relation": "contradicts"}', "contradicts"),
        ('```json\n{"relation": "Refines"}\n```', "refines"),
        ('{"relation": "refines"} (it is not unrelated)', "refines"),
        ('{"relation": "same"}', "same"),
        ("same", "same"),
        ('"contradicts".', "contradicts"),
        ("The new statement contradicts the old one; they are not the same.", "unrelated"),
        ("They are the same.", "unrelated"),  # prose never drops a new memory
        ("The new one refines the old one.", "refines"),
        ("It does not contradict the old one; it refines it.", "refines"),
        ("It is not a refinement, it contradicts it", "contradicts"),
        ("This is not contradicts", "unrelated"),
        ("sameness", "unrelated"),
        ('{"relation": "not the same"}', "unrelated"),
        ('{"relation": ["same"]}', "unrelated"),
        ('{"relation": null}', "unrelated"),
        ('{"relation": 5}', "unrelated"),
        ("", "unrelated"),
    ],
)
def test_a_verdict_is_read_from_the_json_first_and_from_prose_conservatively(
    reply: str, verdict: str
) -> None:
    assert parse_verdict(reply) == verdict


@pytest.mark.parametrize(
    "reply",
    [
        "<think>\nDoes the new one contradict the old one? It contradicts it if she",
        "Tea instead of coffee: it contradicts the old one? Both can hold.</think>\nNeither.",
        '<think>It contradicts the old one.</think>\n{"relation": "unrelated"}',
    ],
    ids=["cut off while thinking", "no opening tag", "thoughts before the answer"],
)
def test_a_reasoning_models_thoughts_are_no_verdict(
    mem: Engram, openai_server: FakeOpenAIServer, reply: str
) -> None:
    mem.memories.add("Ana drinks coffee every morning", user_id="ana", infer=False)
    openai_server.enqueue_completion(reply, finish_reason="length")
    report = mem.memories.add("Ana drinks tea every morning", user_id="ana", infer=False)
    assert len(openai_server.requests) == 1  # the model was asked, and only thought
    assert report.superseded == ()
    assert [m.valid_to for m in mem.memories.get_all(user_id="ana")] == [None, None]


def test_a_verdict_that_runs_on_is_read_only_up_to_its_bound() -> None:
    # json-repair takes time growing with the square of its input: hours for all of this.
    assert parse_verdict("Message [0] says {something} about [the trip]. " * 5000) == "unrelated"
    assert parse_verdict("Well, " * 300 + "it contradicts it.") == "unrelated"  # not read
    assert parse_verdict("Well, " * 100 + "it contradicts it.") == "contradicts"


def test_the_verdict_does_not_depend_on_the_hash_seed() -> None:
    script = (
        "from engram.memory.revision_verdict import parse_verdict\n"
        "print(parse_verdict('The new statement contradicts the old one; they are not the "
        "same.'), parse_verdict('contradicts or same'))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("0", "1")
    }
    assert outputs == {"unrelated unrelated\n"}


def test_a_number_too_large_for_a_float_falls_back_to_the_default(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    reply = reply_with(item("Ana lives in Porto", importance=10**400, confidence=-(10**400)))
    openai_server.enqueue_completion(reply)
    report = mem.memories.add(messages=[TURN], user_id="ana")
    [fact] = [m for m in report.added if m.text == "Ana lives in Porto"]
    assert fact.importance == 0.5
    assert "I live in Porto." in texts(mem)


def test_control_characters_of_the_model_never_reach_the_store(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    slot = item(
        "Ana lives\x00 in Porto\x1b[0m",
        kind="profile",
        attribute="home\x00_city",
        value="Por\x00to",
        entities=[{"name": "Po\x00rto", "kind": "place"}, {"name": "\x00\x07", "kind": "other"}],
    )
    lone = item("Ana likes \ud800 tea", subject="\x00")
    openai_server.enqueue_completion(reply_with(slot, item("\x00\x00\x00\x00"), lone))
    mem.memories.add(messages=[TURN], user_id="ana", user_name="Ana")
    stored = mem.memories.get_all(user_id="ana")
    assert sorted(m.text for m in stored) == [
        "Ana likes  tea",
        "Ana lives in Porto[0m",
        "I live in Porto.",
    ]
    assert mem.memories.profile("ana").fields == {"home_city": "Porto"}
    names = sorted(entity.name for entity in mem.memories.entities(user_id="ana"))
    assert names == ["Ana", "Porto"]
    dumped = json.dumps([m.metadata for m in stored]) + json.dumps(names)
    assert "\\u0000" not in dumped and "\\ud800" not in dumped


def test_on_postgresql_a_nul_of_the_model_is_dropped_not_blamed_on_the_user(
    postgres_clean_database: str, openai_server: FakeOpenAIServer
) -> None:
    llm = LLMSettings(model="fake-model", base_url=openai_server.url, max_retries=0)
    with Engram(postgres_clean_database, settings=EngramSettings(llm=llm)) as engram:
        slot = item("Ana lives in \x00Porto", kind="profile", attribute="home_city", value="\x00")
        openai_server.enqueue_completion(reply_with(item("Ana likes \x00 pizza"), slot))
        engram.memories.add(messages=[TURN], user_id="ana", user_name="Ana")
        stored = sorted(m.text for m in engram.memories.get_all(user_id="ana"))
        assert stored == ["Ana likes  pizza", "Ana lives in Porto", "I live in Porto."]

        openai_server.handler = lambda request: ScriptedResponse(
            200, chat_completion_body("Ana booked\x00 flights to Lisbon.")
        )
        session = engram.session("s1", user_id="ana")
        for i in range(30):
            session.add("user", f"Turn {i}: I booked flight TP{100 + i} to Lisbon on {i + 1} May.")
            session.add("assistant", f"Noted {i}.")
        for _ in range(2):  # the summary is stored, then read back
            context = session.context(model="gpt-4o", budget=400, reserve=50, strategy="summary")
            assert "Ana booked flights to Lisbon." in context.to_openai()[0]["content"]


def test_a_slot_without_a_value_is_kept_as_a_plain_fact(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    fact = item("Ana lives in Porto with her two cats", kind="profile", attribute="home_city")
    openai_server.enqueue_completion(reply_with({**fact, "value": None}))
    mem.memories.add(messages=[TURN], user_id="ana", user_name="Ana")
    assert "Ana lives in Porto with her two cats" in texts(mem)
    assert "Ana lives in Porto with her two cats" not in mem.memories.profile("ana").fields.values()
    [stored] = [m for m in mem.memories.get_all(user_id="ana") if "cats" in m.text]
    # The slot the turn fills (the rules read "Porto"), with the value, not the sentence.
    assert (stored.attribute, stored.metadata.get("value")) == ("home_city", "Porto")
    assert mem.memories.profile("ana").fields["home_city"] == "Porto"


def test_an_entity_without_a_name_costs_only_that_entity(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    entities = [{"name": "Porto", "kind": "place"}, {"name": "", "kind": "other"}, {"kind": "x"}]
    openai_server.enqueue_completion(reply_with(item("Ana lives in Porto", entities=entities)))
    report = mem.memories.add(messages=[TURN], user_id="ana", user_name="Ana")
    assert len(openai_server.requests) == 1 and report.llm_calls == 1  # no retry was needed
    assert "Ana lives in Porto" in texts(mem)
    assert [e.name for e in mem.memories.entities(user_id="ana")] == ["Ana", "Porto"]


def test_a_reply_cut_by_max_tokens_loses_its_unfinished_last_item(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    diet = item("Ana is vegetarian", kind="profile", attribute="diet", value="vegetarian")
    full = reply_with(diet, item("Ana is allergic to peanuts"))
    cut = full[: full.index("peanuts") + 3]  # ... "Ana is allergic to pea
    openai_server.enqueue_completion(cut, finish_reason="length")
    turn = Message(
        role="user",
        content="I'm vegetarian and I'm allergic to peanuts.",
        created_at=datetime(2026, 1, 10, tzinfo=UTC),
    )
    mem.memories.add(messages=[turn], user_id="ana", user_name="Ana")
    assert "Ana is allergic to pea" not in texts(mem)
    assert "Ana is vegetarian" in texts(mem)
    assert mem.memories.profile("ana").fields["diet"] == "vegetarian"


def test_a_reply_cut_inside_its_only_item_falls_back_to_the_rules(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    full = reply_with(item("Ana is vegetarian", kind="profile", attribute="diet", value="veg"))
    for _ in range(2):
        openai_server.enqueue_completion(full[: full.index('"veg"') + 4], finish_reason="length")
    turn = Message(
        role="user", content="I'm vegetarian.", created_at=datetime(2026, 1, 10, tzinfo=UTC)
    )
    mem.memories.add(messages=[turn], user_id="ana", user_name="Ana")
    assert len(openai_server.requests) == 2  # retried once, then the rules
    assert mem.memories.profile("ana").fields["diet"] == "vegetarian"


def chat_prompt_tokens(messages: list[dict[str, str]]) -> int:
    """The prompt tokens OpenAI bills for `messages` (gpt-4o's tokenizer and chat format)."""
    count = TokenCounter.for_model("gpt-4o").count_text
    return sum(count(message["content"]) + 3 for message in messages) + 3


def o200k_endpoint(request: ReceivedRequest) -> ScriptedResponse:
    """A model that counts with o200k (as OpenAI's) and writes until max_tokens."""
    body = request.json()
    prompt = chat_prompt_tokens(body["messages"])
    reply = reply_with(*(item(f"Ana likes dish number {i}") for i in range(400)))
    return ScriptedResponse(
        200,
        chat_completion_body(
            reply[: body["max_tokens"] * 3],
            prompt_tokens=prompt,
            completion_tokens=body["max_tokens"],
            finish_reason="length",
        ),
    )


@pytest.mark.parametrize(
    ("text", "budget"),
    [
        ("I live in Porto and I work at Google as an engineer. " * 30, 2000),
        ("我住在波尔图，我喜欢吃素食，我的工作是软件工程师。" * 60, 2000),
        ("😀🎉🚀 " * 300, 1500),
        ("😀🎉🚀 " * 100, 2500),
    ],
    ids=["english", "chinese", "emoji", "short emoji"],
)
def test_an_add_never_spends_more_tokens_than_allowed_whatever_the_script(
    mem: Engram, openai_server: FakeOpenAIServer, text: str, budget: int
) -> None:
    openai_server.handler = o200k_endpoint
    turn = Message(role="user", content=text, created_at=datetime(2026, 1, 10, tzinfo=UTC))
    report = mem.memories.add(messages=[turn], user_id="ana", max_llm_tokens=budget)
    assert report.llm_tokens <= budget
    assert len(openai_server.requests) == report.llm_calls
    assert text.strip() in texts(mem)


def test_every_attempt_sent_is_charged_and_retries_stay_within_the_budget(
    tmp_path: Path, openai_server: FakeOpenAIServer
) -> None:
    openai_server.handler = lambda request: ScriptedResponse(
        200, chat_completion_body("{}"), delay=1.0
    )  # the endpoint works on every attempt, but answers too late
    llm = LLMSettings(model="fake-model", base_url=openai_server.url, timeout=0.2)
    with Engram(tmp_path / "engram.db", settings=EngramSettings(llm=llm)) as engram:
        engram.resources.llm.policy = RetryPolicy(max_retries=3, backoff=0)  # type: ignore[union-attr]
        turn = Message(
            role="user",
            content="I live in Porto. " * 50,
            created_at=datetime(2026, 1, 10, tzinfo=UTC),
        )
        report = engram.memories.add(
            messages=[turn], user_id="ana", max_llm_calls=2, max_llm_tokens=20_000
        )
        assert len(openai_server.requests) == report.llm_calls == 2  # not 4 for one call
        prompt = openai_server.requests[0].json()["messages"]
        assert report.llm_tokens >= 2 * chat_prompt_tokens(prompt)

        tight = engram.memories.add(
            messages=[turn], user_id="bob", max_llm_calls=4, max_llm_tokens=3000
        )
        assert tight.llm_calls == 1 and tight.llm_tokens <= 3000  # no room for a second try


def test_a_key_the_endpoint_echoes_is_redacted_before_its_message_is_cut(
    tmp_path: Path, openai_server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    key = "sk-" + "S3CR3T" * 8
    echoed = "x" * 280 + " bad key: " + key  # the quote of the message ends inside the key
    openai_server.handler = lambda request: ScriptedResponse(500, {"error": {"message": echoed}})
    llm = LLMSettings(model="fake-model", base_url=openai_server.url, api_key=key, max_retries=0)
    caplog.set_level("DEBUG")
    with Engram(tmp_path / "engram.db", settings=EngramSettings(llm=llm)) as engram:
        engram.memories.add(messages=[TURN], user_id="ana")
        assert "I live in Porto." in [m.text for m in engram.memories.get_all(user_id="ana")]
    assert key[:10] not in caplog.text
    assert "bad key: ***" in caplog.text


def test_a_slot_fact_the_model_says_is_someone_elses_never_fills_the_users_slot(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    porto = item("The user lives in Porto", kind="profile", attribute="home_city", value="Porto")
    openai_server.enqueue_completion(reply_with({**porto, "subject": "user"}))
    mem.memories.add(messages=[TURN], user_id="u1")  # no user name given
    paris = item("Maria lives in Paris", kind="profile", attribute="home_city", value="Paris")
    openai_server.enqueue_completion(reply_with({**paris, "subject": "Maria"}))
    turn = Message(
        role="user",
        content="My sister Maria lives in Paris.",
        created_at=datetime(2026, 1, 12, tzinfo=UTC),
    )
    report = mem.memories.add(messages=[turn], user_id="u1")
    assert report.superseded == ()
    assert mem.memories.profile("u1").fields == {"home_city": "Porto"}
    names = {entity.id: entity.name for entity in mem.memories.entities(user_id="u1")}
    lives = {(names[r.source_id], names[r.target_id]) for r in mem.memories.relations(user_id="u1")}
    assert lives == {("u1", "Porto"), ("Maria", "Paris")}


def test_a_slot_fact_about_the_user_by_first_name_fills_the_users_slot(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    lisbon = item("Ana lives in Lisbon", kind="profile", attribute="home_city", value="Lisbon")
    porto = item("Ana Costa lives in Porto", kind="profile", attribute="home_city", value="Porto")
    openai_server.enqueue_completion(
        reply_with({**lisbon, "subject": "Ana"}, {**porto, "subject": "Ana Costa"})
    )
    said = "Lisbon is home now, and Ana Costa is in Porto."
    turn = Message(role="user", content=said, created_at=SAID)
    mem.memories.add(messages=[turn], user_id="ana", user_name="Ana Silva")
    assert mem.memories.profile("ana").fields == {"home_city": "Lisbon"}
    names = {entity.id: entity.name for entity in mem.memories.entities(user_id="ana")}
    lives = {
        (names[r.source_id], names[r.target_id]) for r in mem.memories.relations(user_id="ana")
    }
    assert lives == {("Ana Silva", "Lisbon"), ("Ana Costa", "Porto")}


def test_a_slot_fact_about_someone_the_model_lists_no_entity_for_keeps_its_relation(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    paris = item("Maria lives in Paris", kind="profile", attribute="home_city", value="Paris")
    openai_server.enqueue_completion(reply_with({**paris, "subject": "Maria", "entities": []}))
    turn = Message(
        role="user", content="She lives in Paris now, my sister.", created_at=TURN.created_at
    )
    mem.memories.add(messages=[turn], user_id="ana", user_name="Ana")
    names = {entity.id: entity.name for entity in mem.memories.entities(user_id="ana")}
    lives = {
        (names[r.source_id], names[r.target_id]) for r in mem.memories.relations(user_id="ana")
    }
    assert lives == {("Maria", "Paris")}
    assert mem.memories.profile("ana").fields == {}


def test_a_negative_token_count_of_the_endpoint_is_not_taken_off_the_budget(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    openai_server.handler = lambda request: ScriptedResponse(
        200, chat_completion_body("garbage", prompt_tokens=-100_000, completion_tokens=-5)
    )
    report = mem.memories.add(messages=[TURN], user_id="ana", max_llm_calls=2)
    assert report.llm_calls == 2
    prompt = chat_prompt_tokens(openai_server.requests[0].json()["messages"])
    assert report.llm_tokens >= prompt  # estimated, as for an endpoint that reports none


@pytest.mark.parametrize("status", [200, 500])
def test_a_body_nested_too_deep_to_decode_is_a_failed_call_not_a_crash(
    mem: Engram, openai_server: FakeOpenAIServer, status: int
) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    openai_server.handler = lambda request: ScriptedResponse(status, raw=deep)
    report = mem.memories.add(messages=[TURN], user_id="ana")
    assert report.llm_calls == 1  # a failed call: no retry of the extraction
    assert "I live in Porto." in texts(mem)
    assert mem.memories.profile("ana").fields["home_city"] == "Porto"


def test_a_memory_the_model_runs_on_with_is_dropped_so_the_export_imports_again(
    tmp_path: Path, openai_server: FakeOpenAIServer
) -> None:
    llm = LLMSettings(model="fake-model", base_url=openai_server.url, max_retries=0)
    settings = EngramSettings(llm=llm, max_message_bytes=4000)
    openai_server.enqueue_completion(
        reply_with(item("Ana likes " + "tea " * 1200), item("Ana lives in Porto"))
    )
    with Engram(tmp_path / "engram.db", settings=settings) as engram:
        engram.memories.add(messages=[TURN], user_id="ana")
        stored = sorted(m.text for m in engram.memories.get_all(user_id="ana"))
        assert stored == ["Ana lives in Porto", "I live in Porto."]
        data = engram.memories.export(user_id="ana")
    with Engram(tmp_path / "copy.db", settings=settings) as copy:
        assert len(copy.memories.import_(data)) == 2


@pytest.mark.parametrize("finish_reason", ["stop", None])
def test_a_reply_cut_by_a_server_that_does_not_say_so_loses_its_unfinished_last_item(
    mem: Engram, openai_server: FakeOpenAIServer, finish_reason: str | None
) -> None:
    full = reply_with(item("Ana is vegetarian"), item("Ana is allergic to peanuts"))
    cut = full[: full.index("peanuts") + 3]  # LocalAI reports such a cut as "stop"
    openai_server.enqueue_completion(cut, finish_reason=finish_reason)
    report = mem.memories.add(messages=[TURN], user_id="ana")
    assert report.llm_calls == 1
    assert "Ana is allergic to pea" not in texts(mem)
    assert "Ana is vegetarian" in texts(mem)


@pytest.mark.parametrize(
    "base_url", ["http://[::1/v1?key=sk-S3CR3T", "https://exa\u00a0mple.com/v1?key=sk-S3CR3T"]
)
def test_a_base_url_httpx_cannot_send_to_is_refused_when_engram_opens(
    tmp_path: Path, base_url: str
) -> None:
    llm = LLMSettings(model="fake-model", base_url=base_url)
    with pytest.raises(ConfigError, match="base_url is not a valid URL") as refused:
        Engram(tmp_path / "engram.db", settings=EngramSettings(llm=llm))  # not at the first add
    assert "S3CR3T" not in str(refused.value)


def test_an_endpoint_reporting_zero_tokens_is_charged_what_it_was_sent(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    openai_server.handler = lambda request: ScriptedResponse(
        200, chat_completion_body("garbage " * 40, prompt_tokens=0, completion_tokens=0)
    )  # usage all zeros, as some servers send it
    report = mem.memories.add(messages=[TURN], user_id="ana", max_llm_calls=4, max_llm_tokens=700)
    sent = sum(chat_prompt_tokens(request.json()["messages"]) for request in openai_server.requests)
    assert sent <= report.llm_tokens <= 700  # no retry: its prompt would not fit any more
    assert report.llm_calls == len(openai_server.requests) == 1


@pytest.mark.parametrize("attribute", ["Home City", "home-city", "HOME_CITY"])
def test_a_slot_the_model_spells_its_own_way_is_the_slot_the_rules_fill(
    mem: Engram, openai_server: FakeOpenAIServer, attribute: str
) -> None:
    for _ in range(2):
        openai_server.enqueue_completion("garbage")  # the rules file "I live in Porto."
    mem.memories.add(messages=[TURN], user_id="ana")
    lisbon = item("Ana lives in Lisbon", kind="profile", attribute=attribute, value="Lisbon")
    openai_server.enqueue_completion(reply_with(lisbon))
    moved = Message(
        role="user", content="I moved to Lisbon.", created_at=datetime(2026, 2, 1, tzinfo=UTC)
    )
    report = mem.memories.add(messages=[moved], user_id="ana")
    assert [m.text for m in report.superseded] == ["The user lives in Porto"]
    assert mem.memories.profile("ana").fields == {"home_city": "Lisbon"}


ASYNC_USER = """
import asyncio, sys
sys.path.insert(0, {tests!r})
from openai_server import FakeOpenAIServer
from engram import Engram, Message
from engram.config import EngramSettings, LLMSettings

async def main(server):
    llm = LLMSettings(model="fake-model", base_url=server.url, max_retries=0)
    turn = Message(role="user", content="I live in Porto.")
    if {closing!r} == "async with":
        async with Engram({db!r}, settings=EngramSettings(llm=llm)) as mem:
            await mem.memories.aadd(messages=[turn], user_id="ana")
    else:
        mem = Engram({db!r}, settings=EngramSettings(llm=llm))
        await mem.memories.aadd(messages=[turn], user_id="ana")
        mem.close()

with FakeOpenAIServer() as server:
    server.enqueue_completion('{{"memories": []}}')
    asyncio.run(main(server))
"""


@pytest.mark.parametrize(("closing", "unclosed"), [("close", True), ("async with", False)])
def test_an_async_user_closes_the_llms_connections_with_aclose(
    tmp_path: Path, closing: str, unclosed: bool
) -> None:
    """`close()` leaves the async HTTP connection of an `aadd` open (asyncio reports an
    unclosed transport when the loop ends); `async with Engram(...)` (`aclose`) closes it."""
    script = ASYNC_USER.format(
        tests=str(Path(__file__).parent), db=str(tmp_path / "e.db"), closing=closing
    )
    env = {**os.environ, "PYTHONWARNINGS": "always::ResourceWarning"}
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert run.returncode == 0, run.stderr
    assert ("unclosed transport" in run.stderr) is unclosed, run.stderr


def _extraction_prompt(request: ReceivedRequest) -> str:
    """The user message of an extraction request (the conversation the model reads)."""
    return str(request.json()["messages"][-1]["content"])


def test_a_memory_added_as_text_is_told_to_the_model_as_the_users_statement(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    said = item("The user works at Acme", kind="profile", attribute="employer", value="Acme")
    openai_server.enqueue_completion(reply_with(said))
    mem.memories.add("Works at Acme", user_id="ana")
    prompt = _extraction_prompt(openai_server.requests[0])
    assert "user (memory): Works at Acme" in prompt
    assert "states facts about the user" in prompt
    assert mem.memories.profile("ana").fields["employer"] == "Acme"


def test_a_conversation_is_not_told_to_the_model_as_memories(
    mem: Engram, openai_server: FakeOpenAIServer
) -> None:
    openai_server.enqueue_completion(reply_with())
    mem.memories.add(messages=[TURN], user_id="ana")
    prompt = _extraction_prompt(openai_server.requests[0])
    assert "user: I live in Porto." in prompt
    assert "(memory)" not in prompt and "states facts about the user" not in prompt
