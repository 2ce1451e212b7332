"""Long-term memory with an LLM configured, through the facade, against a real HTTP server
that plays the model (`openai_server`): what an add spends, and what it does with bad replies.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engram import Engram, Message
from engram.config import EngramSettings, LLMSettings
from openai_server import FakeOpenAIServer, chat_completion_body

pytest_plugins = ["openai_server"]

TURN = Message(
    role="user", content="I live in Porto.", created_at=datetime(2026, 1, 10, tzinfo=UTC)
)


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
    mem.memories.add(messages=[TURN], user_id="ana", user_name="Ana")
    names = {entity.id: entity.name for entity in mem.memories.entities(user_id="ana")}
    [lives] = mem.memories.relations(user_id="ana")
    assert (names[lives.source_id], lives.relation, names[lives.target_id]) == (
        "Ana",
        "lives_in",
        "Lisbon",
    )
