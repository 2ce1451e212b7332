"""`memories.search` as a user coming from mem0 or Zep tries it, on SQLite and PostgreSQL:
what a search "as of" a past time ranks first, how memories of no session rank beside those
of a session, and how a bad limit is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from engram import Engram, InvalidInputError, Message

pytest_plugins = ["servers"]


def said(text: str, month: int) -> Message:
    return Message(role="user", content=text, created_at=datetime(2026, month, 10, tzinfo=UTC))


def moved(mem: Engram) -> None:
    """Ana lived in Berlin from January, then moved to Lisbon in June."""
    mem.memories.add(messages=[said("I live in Berlin.", 1)], user_id="ana", user_name="Ana")
    mem.memories.add(messages=[said("I moved to Lisbon.", 6)], user_id="ana")


def test_as_of_after_a_move_ranks_the_old_home_below_the_new_as_now(
    memory_engram: Engram,
) -> None:
    """The turn "I live in Berlin" states a value retired in June: as of July it is as
    stale as it is now, not the best answer to where Ana lived."""
    moved(memory_engram)
    for as_of in (None, datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 9, 1, tzinfo=UTC)):
        hits = memory_engram.memories.search("where does Ana live?", user_id="ana", as_of=as_of)
        assert "Lisbon" in hits[0].memory.text, (as_of, [h.memory.text for h in hits])
        berlin = next(h for h in hits if "Berlin" in h.memory.text)
        assert berlin.memory.kind == "episode" and berlin.rank == len(hits)


def test_as_of_before_a_move_still_finds_the_old_home_first(memory_engram: Engram) -> None:
    moved(memory_engram)
    march = datetime(2026, 3, 1, tzinfo=UTC)
    hits = memory_engram.memories.search("where does Ana live?", user_id="ana", as_of=march)
    # The fact and the turn that said it, whichever first: both name Ana's home then.
    assert sorted(h.memory.kind for h in hits) == ["episode", "profile"]
    assert all("Berlin" in h.memory.text for h in hits)


def test_a_memory_of_no_session_is_not_outranked_by_a_weaker_one_of_a_session(
    memory_engram: Engram,
) -> None:
    """mem0's `run_id` given on some adds only: a memory of no session is not demoted by the
    session boost. Before, any memory of a session got the whole boost over those of none,
    and "green tea" found "oolong tea" first."""
    memory_engram.memories.add("Ana likes green tea", user_id="ana", infer=False)
    memory_engram.memories.add("Ana likes oolong tea", user_id="ana", session_id="s1", infer=False)
    hits = memory_engram.memories.search("green tea", user_id="ana")
    assert [h.memory.text for h in hits] == ["Ana likes green tea", "Ana likes oolong tea"]
    assert hits[0].parts.session == hits[1].parts.session == 1.0


def test_search_and_get_all_refuse_a_bad_limit_in_the_same_words(tmp_path: Path) -> None:
    with Engram(tmp_path / "engram.db") as mem:
        for limit in (-1, 10**9, True, "5"):
            with pytest.raises(InvalidInputError) as listing:
                mem.memories.get_all(user_id="ana", limit=limit)  # type: ignore[arg-type]
            with pytest.raises(InvalidInputError) as search:
                mem.memories.search("tea", user_id="ana", limit=limit)  # type: ignore[arg-type]
            assert str(search.value) == str(listing.value)
