"""`as_of` takes a `datetime.date`, as `after`/`before` do: the END of that day in UTC (what
became true during March 4 is true as of March 4), in `search`, `get_all`, `relations` and
`profile` (and their async twins), and in the CLI's `--as-of` given a date alone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from engram import Engram, InvalidInputError, Message
from engram._validation import check_as_of
from engram.cli import main

pytest_plugins = ["servers"]

SETTLED = datetime(2024, 3, 1, 10, tzinfo=UTC)
MOVED = datetime(2024, 3, 4, 15, tzinfo=UTC)
"""The move to Rome, told (and so recorded) in the afternoon of March 4."""

MOVE_DAY, EVE = date(2024, 3, 4), date(2024, 3, 3)


def _moved(mem: Engram) -> None:
    """Ana lived in Paris from March 1; on March 4 at 15:00 UTC she moved to Rome."""
    for when, text in ((SETTLED, "I live in Paris."), (MOVED, "I moved to Rome.")):
        said = Message(role="user", content=text, created_at=when)
        mem.memories.add(messages=[said], user_id="ana", session_id=when.isoformat())


def _home(texts: list[str]) -> str:
    """The one city the home-city facts name."""
    cities = {city for city in ("Paris", "Rome") for text in texts if city in text}
    assert len(cities) == 1, texts
    return cities.pop()


def _searched(mem: Engram, as_of: object) -> str:
    hits = mem.memories.search(
        "where does Ana live?",
        user_id="ana",
        kinds=["profile"],
        as_of=as_of,  # type: ignore[arg-type]
        record_access=False,
    )
    return _home([hit.memory.text for hit in hits])


def _listed(mem: Engram, as_of: object) -> str:
    found = mem.memories.get_all(user_id="ana", kinds=["profile"], as_of=as_of)  # type: ignore[arg-type]
    return _home([memory.text for memory in found])


def _profiled(mem: Engram, as_of: object) -> str:
    profile = mem.memories.profile("ana", as_of=as_of)  # type: ignore[arg-type]
    assert profile is not None
    return profile.fields["home_city"]


def _related(mem: Engram, as_of: object) -> str:
    names = {entity.id: entity.name for entity in mem.memories.entities(user_id="ana")}
    found = mem.memories.relations(user_id="ana", as_of=as_of)  # type: ignore[arg-type]
    return _home([names[r.target_id] for r in found if r.relation == "lives_in"])


READERS = [_searched, _listed, _profiled, _related]


def test_a_date_is_the_end_of_its_day_in_utc() -> None:
    end = check_as_of(MOVE_DAY)
    assert end == datetime(2024, 3, 4, 23, 59, 59, 999999, tzinfo=UTC)
    assert end + timedelta(microseconds=1) == datetime(2024, 3, 5, tzinfo=UTC)  # the next day
    assert check_as_of("2024-03-04") == end  # an ISO date alone means the same
    assert check_as_of(date.max) == datetime.combine(date.max, datetime.max.time(), tzinfo=UTC)
    # A datetime, naive (UTC) or aware, or an ISO time is the moment it names, as before.
    assert check_as_of(datetime(2024, 3, 4)) == datetime(2024, 3, 4, tzinfo=UTC)
    assert check_as_of("2024-03-04T09:30+01:00") == datetime(2024, 3, 4, 8, 30, tzinfo=UTC)
    assert check_as_of(None) is None


@pytest.mark.parametrize("read", READERS, ids=lambda read: read.__name__.strip("_"))
def test_as_of_a_date_counts_what_became_true_that_day(
    every_memory_engram: Engram, read: object
) -> None:
    _moved(every_memory_engram)
    assert callable(read)
    assert read(every_memory_engram, MOVE_DAY) == "Rome"
    assert read(every_memory_engram, EVE) == "Paris"
    # The same day as a datetime is its start: before the move.
    assert read(every_memory_engram, datetime(2024, 3, 4)) == "Paris"


async def test_async_twins_take_a_date_alike(every_memory_engram: Engram) -> None:
    _moved(every_memory_engram)
    memories = every_memory_engram.memories
    for day, home in ((MOVE_DAY, "Rome"), (EVE, "Paris")):
        hits = await memories.asearch(
            "where does Ana live?", user_id="ana", kinds=["profile"], as_of=day
        )
        listed = await memories.aget_all(user_id="ana", kinds=["profile"], as_of=day)
        profile = await memories.aprofile("ana", as_of=day)
        related = await memories.arelations(user_id="ana", as_of=day)
        assert _home([hit.memory.text for hit in hits]) == home
        assert _home([memory.text for memory in listed]) == home
        assert profile is not None and profile.fields["home_city"] == home
        assert len([r for r in related if r.relation == "lives_in"]) == 1


@pytest.mark.parametrize("read", READERS, ids=lambda read: read.__name__.strip("_"))
@pytest.mark.parametrize("bad", [20240304, "March 4", "2024-13-04", 2024.5])
def test_a_bad_as_of_is_a_clear_error(tmp_path: Path, read: object, bad: object) -> None:
    with Engram(tmp_path / "m.db") as mem:
        _moved(mem)
        assert callable(read)
        with pytest.raises(InvalidInputError, match="as_of") as raised:
            read(mem, bad)
        # The very error `after` gives the same value, but for the argument it names.
        with pytest.raises(InvalidInputError) as after:
            mem.memories.get_all(user_id="ana", after=bad)  # type: ignore[arg-type]
        assert str(raised.value) == str(after.value).replace("after", "as_of")


def test_cli_as_of_a_date_alone_is_the_end_of_that_day(tmp_path: Path) -> None:
    db = str(tmp_path / "m.db")
    with Engram(db) as mem:
        _moved(mem)
    runner = CliRunner()
    common = ["--db", db, "--user", "ana"]

    def shown(*args: str) -> str:
        result = runner.invoke(main, ["memories", *args])
        assert result.exit_code == 0, result.output
        return result.output

    for day, home, gone in (("2024-03-04", "Rome", "Paris"), ("2024-03-03", "Paris", "Rome")):
        listed = shown("list", *common, "--kind", "profile", "--as-of", day)
        found = shown("search", *common, "where", "--kind", "profile", "--as-of", day)
        profile = shown("profile", *common, "--as-of", day)
        for output in (listed, found, profile):
            assert home in output and gone not in output, output
    # A time of day is the moment it names: 14:00 on March 4 is before the move.
    early = shown("profile", *common, "--as-of", "2024-03-04T14:00")
    assert "Paris" in early and "Rome" not in early
