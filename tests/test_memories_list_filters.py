"""`memories.get_all` filters as `search` does (`as_of`, `after`, `before`, `metadata`), and
`engram memories list|search --as-of`: on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from engram import Engram, InvalidInputError, Message
from engram.cli import main

pytest_plugins = ["servers"]


def _said(day: int) -> datetime:
    return datetime(2026, 1, day, 10, tzinfo=UTC)


def _moved(mem: Engram) -> None:
    """Ana lived in Berlin from 1 January; on 10 January she said she had moved to Lisbon."""
    for day, text in ((1, "I live in Berlin."), (10, "I moved to Lisbon.")):
        said = Message(role="user", content=text, created_at=_said(day))
        mem.memories.add(messages=[said], user_id="ana", session_id=f"s{day}")


def _texts(memories: list) -> list[str]:  # type: ignore[type-arg]
    return [memory.text for memory in memories]


def test_as_of_lists_what_was_true_then(memory_engram: Engram) -> None:
    _moved(memory_engram)
    listed = memory_engram.memories.get_all

    then = listed(user_id="ana", kinds=["profile"], as_of=_said(5))
    now = listed(user_id="ana", kinds=["profile"])
    assert _texts(then) == ["The user lives in Berlin"]
    assert _texts(now) == ["The user moved to Lisbon"]
    # An ISO-8601 string works as a datetime does, as in `search`.
    assert _texts(listed(user_id="ana", kinds=["profile"], as_of="2026-01-05")) == _texts(then)


def test_event_time_and_metadata_filters(memory_engram: Engram) -> None:
    _moved(memory_engram)
    listed = memory_engram.memories.get_all

    episodes = listed(user_id="ana", kinds=["episode"], after=_said(5))
    assert _texts(episodes) == ["I moved to Lisbon."]
    assert _texts(listed(user_id="ana", kinds=["episode"], before=_said(5))) == [
        "I live in Berlin."
    ]
    slot = listed(user_id="ana", metadata={"value": "Berlin"}, include_superseded=True)
    assert _texts(slot) == ["The user lives in Berlin"]
    assert listed(user_id="ana", metadata={"value": "Berlin"}) == []  # retired now


async def test_async_twin_filters_alike(memory_engram: Engram) -> None:
    _moved(memory_engram)
    sync = memory_engram.memories.get_all(user_id="ana", as_of=_said(5), kinds=["profile"])
    both = await memory_engram.memories.aget_all(user_id="ana", as_of=_said(5), kinds=["profile"])
    assert _texts(both) == _texts(sync) == ["The user lives in Berlin"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("as_of", "last tuesday"), ("after", 5), ("before", "2026-13-01"), ("metadata", ["value"])],
)
def test_bad_filters_are_clear_errors(memory_engram: Engram, field: str, value: object) -> None:
    with pytest.raises(InvalidInputError, match=field):
        memory_engram.memories.get_all(user_id="ana", **{field: value})  # type: ignore[arg-type]


def test_cli_lists_and_searches_as_of_a_date(tmp_path: Path) -> None:
    db = str(tmp_path / "memories.db")
    with Engram(db) as mem:
        _moved(mem)
    runner = CliRunner()
    common = ["--db", db, "--user", "ana"]

    then = runner.invoke(
        main, ["memories", "list", *common, "--kind", "profile", "--as-of", "2026-01-05"]
    )
    now = runner.invoke(main, ["memories", "list", *common, "--kind", "profile"])
    assert then.exit_code == now.exit_code == 0, then.output + now.output
    assert "Berlin" in then.output and "Lisbon" not in then.output
    assert "Lisbon" in now.output and "Berlin" not in now.output
    # Berlin was current on 5 January: retired since, not then.
    assert "(later" in then.output
    every = runner.invoke(main, ["memories", "list", *common, "--kind", "profile", "--all"])
    assert "(supersed" in every.output and "(later" not in every.output

    found = runner.invoke(main, ["memories", "search", *common, "where", "--as-of", "2026-01-05"])
    assert found.exit_code == 0, found.output
    assert "Berlin" in found.output and "Lisbon" not in found.output

    bad = runner.invoke(main, ["memories", "list", *common, "--as-of", "someday"])
    assert bad.exit_code == 2 and "--as-of is not an ISO-8601 time" in bad.output


def test_cli_lists_and_searches_by_kind_agent_and_session(tmp_path: Path) -> None:
    db = str(tmp_path / "memories.db")
    with Engram(db) as mem:
        _moved(mem)
        mem.memories.add("Ana likes green tea", user_id="ana", agent_id="barista", infer=False)
    runner = CliRunner()
    common = ["--db", db, "--user", "ana"]

    def output(*args: str) -> str:
        result = runner.invoke(main, ["memories", *args])
        assert result.exit_code == 0, result.output
        return result.output

    assert "tea" in output("search", *common, "tea", "--agent", "barista")
    assert "no memories found" in output("search", *common, "tea", "--agent", "chef")
    berlin = output("list", *common, "--session", "s1")
    assert "Berlin" in berlin and "Lisbon" not in berlin and "tea" not in berlin
    profiles = output("search", *common, "where", "--kind", "profile", "--session", "s10")
    assert "Lisbon" in profiles and "I moved" not in profiles
