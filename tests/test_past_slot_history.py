"""The deterministic extractor files a home or a job said to have ended before it was said
("I lived in Porto from 2019 to 2021", "I worked at Deloitte from March 2020 to May 2021")
as the slot's history: the current value stays current, and "as of" the span the past one
is the answer (memories and relations)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from embedders import HashingEmbedder
from engram import Engram, Message

MAY = datetime(2026, 5, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def mem(tmp_path: Path):
    with Engram(tmp_path / "past.db", embedder=HashingEmbedder()) as engram:
        yield engram


def say(mem: Engram, text: str, when: datetime) -> None:
    message = Message(role="user", content=text, created_at=when, session_id="chat")
    mem.memories.add(messages=[message], user_id="ana")


def facts_as_of(mem: Engram, query: str, when: datetime) -> list[str]:
    hits = mem.memories.search(query, user_id="ana", as_of=when, kinds=["fact", "profile"])
    return [hit.memory.text for hit in hits]


def _entity_names(mem: Engram) -> dict[str, str]:
    return {entity.id: entity.name for entity in mem.memories.entities(user_id="ana")}


def lives_in(mem: Engram, when: datetime | None) -> list[str]:
    names = _entity_names(mem)
    found = mem.memories.relations(user_id="ana", as_of=when)
    return sorted(names[r.target_id] for r in found if r.relation == "lives_in")


def test_a_past_home_said_while_the_current_one_is_known_is_its_history(mem: Engram) -> None:
    say(mem, "I live in Lisbon.", MAY)
    say(mem, "I lived in Porto from 2019 to 2021.", MAY + DAY)
    profile = mem.memories.profile("ana")
    assert profile is not None and profile.fields.get("home_city") == "Lisbon"
    current = [m for m in mem.memories.get_all(user_id="ana") if m.attribute == "home_city"]
    lisbon = next(m for m in current if m.metadata.get("value") == "Lisbon")
    assert lisbon.superseded_at is None and lisbon.valid_to is None
    porto = next(m for m in current if m.metadata.get("value") == "Porto")
    assert (porto.valid_from, porto.valid_to) == (
        datetime(2019, 1, 1, tzinfo=UTC),
        datetime(2022, 1, 1, tzinfo=UTC),
    )
    then = datetime(2020, 6, 1, tzinfo=UTC)
    assert facts_as_of(mem, "Where did the user live?", then) == ["The user used to live in Porto"]
    assert lives_in(mem, then) == ["Porto"]
    assert lives_in(mem, MAY + 2 * DAY) == ["Lisbon"]


def test_a_past_job_said_while_the_current_one_is_known_leaves_it_current(mem: Engram) -> None:
    say(mem, "I work at Google.", MAY)
    say(mem, "I worked at Deloitte from March 2020 to May 2021.", MAY + DAY)
    profile = mem.memories.profile("ana")
    assert profile is not None and profile.fields.get("employer") == "Google"
    jobs = [m for m in mem.memories.get_all(user_id="ana") if m.attribute == "employer"]
    spans = {m.metadata.get("value"): (m.valid_from, m.valid_to) for m in jobs}
    assert spans == {
        "Google": (MAY, None),
        "Deloitte": (datetime(2020, 3, 1, tzinfo=UTC), datetime(2021, 6, 1, tzinfo=UTC)),
    }
    then = facts_as_of(mem, "Where did the user work?", datetime(2020, 6, 1, tzinfo=UTC))
    assert then == ["The user worked at Deloitte"]
    now = mem.memories.search("Where does the user work?", user_id="ana", kinds=["profile"])
    assert [hit.memory.text for hit in now] == ["The user works at Google"]
