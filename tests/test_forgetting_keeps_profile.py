"""Forgetting policies forget what is stale or unused, not who the user is now: the slot
facts the user's current profile fields come from are exempt by default, as pinned
memories are, from age, inactivity and the per-user cap (`keep_profile=False` lifts it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engram import Engram, Message
from engram.memory import ForgettingPolicy

pytest_plugins = ["servers"]

AGE = ForgettingPolicy(max_age=timedelta(days=150))


@pytest.fixture
def mem(memory_engram: Engram) -> Engram:
    return memory_engram


def _said(mem: Engram, user: str, text: str, days_ago: int) -> None:
    at = datetime.now(UTC) - timedelta(days=days_ago)
    mem.memories.add(messages=[Message(role="user", content=text, created_at=at)], user_id=user)


def test_age_forgets_the_old_turn_not_the_home_city_it_still_is(mem: Engram) -> None:
    _said(mem, "ana", "I live in Porto.", 200)
    home = mem.memories.profile("ana").sources["home_city"]
    doomed = {memory_id for memory_id, _ in mem.memories.forgettable(AGE, user_id="ana")}
    assert doomed and home not in doomed
    mem.memories.forget(AGE, user_id="ana")
    assert mem.memories.profile("ana").fields == {"home_city": "Porto"}
    assert [m.id for m in mem.memories.get_all(user_id="ana")] == [home]


def test_a_retired_value_is_forgotten_by_age_its_successor_kept(mem: Engram) -> None:
    _said(mem, "bo", "I live in Porto.", 200)
    _said(mem, "bo", "I moved to Berlin.", 160)
    mem.memories.forget(AGE, user_id="bo")
    assert mem.memories.profile("bo").fields == {"home_city": "Berlin"}
    left = mem.memories.get_all(user_id="bo", include_superseded=True)
    assert [m.text for m in left] == ["The user moved to Berlin"]


def test_the_cap_evicts_trivia_before_the_current_employer(mem: Engram) -> None:
    _said(mem, "cy", "I work at Google.", 10)
    for colour in ("red", "blue", "green"):
        mem.memories.add(f"Likes the colour {colour}", user_id="cy", infer=False, importance=0.9)
    cap = ForgettingPolicy(max_per_user=1)
    mem.memories.forget(cap, user_id="cy")
    assert mem.memories.profile("cy").fields == {"employer": "Google"}
    [kept] = mem.memories.get_all(user_id="cy")
    assert kept.attribute == "employer"


def test_keep_profile_false_lets_the_rules_forget_the_profile_too(mem: Engram) -> None:
    _said(mem, "di", "I live in Porto.", 200)
    home = mem.memories.profile("di").sources["home_city"]
    every = ForgettingPolicy(max_age=timedelta(days=150), keep_profile=False)
    assert home in {memory_id for memory_id, _ in mem.memories.forgettable(every, user_id="di")}
    mem.memories.forget(every, user_id="di")
    assert not mem.memories.profile("di").fields
