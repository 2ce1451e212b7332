"""Edge cases a QA run found at the memory API's and CLI's edges: a span without its unit,
an import dated in the future, metadata of any size, a search window that keeps no time,
a job on a user with no memories, and `search --limit 0`. Each is refused (or warned of)
clearly, writing nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from engram import Engram, InvalidInputError
from engram._validation import CLOCK_SKEW, MAX_METADATA_BYTES
from engram.cli import main

TOO_BIG = {"blob": "z" * (MAX_METADATA_BYTES + 1)}


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A SQLite file holding two memories of "ana"."""
    path = str(tmp_path / "memories.db")
    with Engram(path) as mem:
        mem.memories.add("Ana is vegetarian", user_id="ana", infer=False)
        mem.memories.add("Ana lives in Lisbon", user_id="ana", infer=False)
    return path


@pytest.fixture
def mem(db: str) -> Iterator[Engram]:
    with Engram(db) as opened:
        yield opened


def texts(db: str) -> list[str]:
    with Engram(db) as mem:
        return sorted(memory.text for memory in mem.memories.get_all(user_id="ana"))


# 1. A span without its unit.


@pytest.mark.parametrize("option", ["--max-age", "--max-idle"])
@pytest.mark.parametrize("span", ["1", "90", "1.5"])
def test_forget_refuses_a_span_without_a_unit_and_erases_nothing(
    db: str, option: str, span: str
) -> None:
    result = CliRunner().invoke(
        main, ["memories", "forget", "--db", db, "--user", "ana", option, span]
    )

    assert result.exit_code == 2, result.output
    assert "use a number and a unit" in result.output and option in result.output
    assert texts(db) == ["Ana is vegetarian", "Ana lives in Lisbon"]


def test_forget_still_takes_a_span_with_its_unit(db: str) -> None:
    result = CliRunner().invoke(
        main, ["memories", "forget", "--db", db, "--user", "ana", "--max-age", "1d"]
    )

    assert result.exit_code == 0, result.output
    assert texts(db) == ["Ana is vegetarian", "Ana lives in Lisbon"]  # recorded just now


def test_prune_refuses_a_span_without_a_unit(tmp_path: Path) -> None:
    db = str(tmp_path / "agent.db")
    result = CliRunner().invoke(main, ["threads", "prune", "--max-age", "3600", "--db", db])

    assert result.exit_code == 2 and "use a number and a unit" in result.output, result.output


# 2. An import dated in the future.


def _shifted(data: dict[str, Any], ahead: timedelta, fields: tuple[str, ...]) -> dict[str, Any]:
    """`data` (an export) with the times of `fields` of every record moved `ahead`."""

    def moved(record: dict[str, Any]) -> dict[str, Any]:
        return {
            key: (datetime.fromisoformat(value) + ahead).isoformat()
            if key in fields and isinstance(value, str)
            else value
            for key, value in record.items()
        }

    shifted = dict(data)
    for key in ("memories", "history", "entities", "relations", "tombstones"):
        shifted[key] = [moved(record) for record in data[key]]
    if data["profile"] is not None:
        shifted["profile"] = moved(data["profile"])
    return shifted


LEARNED = ("recorded_at", "created_at", "updated_at", "at", "last_interaction_at")


def test_an_export_shifted_into_the_future_is_refused_naming_record_and_field(
    mem: Engram, tmp_path: Path
) -> None:
    data = _shifted(mem.memories.export(user_id="ana"), timedelta(days=400), LEARNED)

    with Engram(str(tmp_path / "target.db")) as target:
        with pytest.raises(InvalidInputError, match=r"memories\[0\].*recorded_at.*in the future"):
            target.memories.import_(data)

        assert target.memories.get_all(user_id="ana") == []
        assert target.memories.profile("ana") is None


@pytest.mark.parametrize(
    ("key", "field"),
    [
        ("memories", "updated_at"),
        ("memories", "last_accessed_at"),
        ("memories", "superseded_at"),
        ("history", "at"),
        ("profile", "updated_at"),
    ],
)
def test_each_time_engram_learned_something_at_is_checked(
    mem: Engram, tmp_path: Path, key: str, field: str
) -> None:
    data = mem.memories.export(user_id="ana")
    ahead = (datetime.now(UTC) + CLOCK_SKEW + timedelta(hours=1)).isoformat()
    record = data[key] if key == "profile" else data[key][0]
    record[field] = ahead

    with Engram(str(tmp_path / "target.db")) as target:
        with pytest.raises(InvalidInputError, match=rf"{key}.*{field}.*in the future"):
            target.memories.import_(data)
        assert target.memories.get_all(user_id="ana") == []


def test_an_import_within_the_clock_skew_and_a_planned_fact_are_taken(
    mem: Engram, tmp_path: Path
) -> None:
    data = _shifted(mem.memories.export(user_id="ana"), CLOCK_SKEW / 2, LEARNED)
    planned = datetime.now(UTC) + timedelta(days=200)  # "I start at Google in July"
    data["memories"][0]["valid_from"] = planned.isoformat()

    with Engram(str(tmp_path / "target.db")) as target:
        stored = target.memories.import_(data)

    assert len(stored) == 2
    assert {memory.valid_from for memory in stored} == {None, planned}


def test_the_cli_refuses_a_future_export_before_creating_the_database(
    mem: Engram, tmp_path: Path
) -> None:
    data = _shifted(mem.memories.export(user_id="ana"), timedelta(days=400), LEARNED)
    file = tmp_path / "future.json"
    file.write_text(json.dumps(data), encoding="utf-8")
    target = tmp_path / "target.db"

    result = CliRunner().invoke(main, ["memories", "import", "--db", str(target), str(file)])

    assert result.exit_code == 1 and "in the future" in result.output, result.output
    assert not target.exists()


# 3. Metadata of any size.


def test_add_refuses_metadata_over_the_limit_and_writes_nothing(mem: Engram) -> None:
    with pytest.raises(InvalidInputError, match=r"metadata is [\d,]+ bytes as JSON, more than"):
        mem.memories.add("Ana plays the cello", user_id="ana", infer=False, metadata=TOO_BIG)

    assert len(mem.memories.get_all(user_id="ana")) == 2


def test_metadata_within_the_limit_is_taken(mem: Engram) -> None:
    labels = {"blob": "z" * (MAX_METADATA_BYTES - 100)}

    added = mem.memories.add("Ana plays the cello", user_id="ana", infer=False, metadata=labels)

    assert added.added[0].metadata["blob"] == labels["blob"]


def test_update_refuses_metadata_over_the_limit_and_changes_nothing(mem: Engram) -> None:
    memory = mem.memories.get_all(user_id="ana")[0]

    with pytest.raises(InvalidInputError, match="more than the 65,536 allowed"):
        mem.memories.update(memory.id, metadata=TOO_BIG)

    assert mem.memories.get(memory.id) == memory


def test_import_refuses_metadata_over_the_limit_naming_the_record(
    mem: Engram, tmp_path: Path
) -> None:
    data = mem.memories.export(user_id="ana")
    data["memories"][1]["metadata"] = {**data["memories"][1]["metadata"], **TOO_BIG}

    with Engram(str(tmp_path / "target.db")) as target:
        with pytest.raises(InvalidInputError, match=r"memories\[1\].*metadata is .* bytes"):
            target.memories.import_(data)
        assert target.memories.get_all(user_id="ana") == []


def test_a_session_state_is_the_applications_data_of_any_size(mem: Engram) -> None:
    session = mem.session("big", user_id="ana")
    session.update_state({"scratchpad": "x" * (MAX_METADATA_BYTES + 1)})
    assert len(session.state()["scratchpad"]) == MAX_METADATA_BYTES + 1


def test_session_and_message_metadata_take_the_same_limit(mem: Engram) -> None:
    with pytest.raises(InvalidInputError, match="session metadata is"):
        mem.session("s-big", metadata=TOO_BIG)
    session = mem.session("s1")

    with pytest.raises(InvalidInputError, match="message metadata is"):
        session.add("user", "hi", metadata=TOO_BIG)

    assert session.messages() == []


# 4. A search window that keeps no time.


@pytest.mark.parametrize(
    ("after", "before"),
    [("2026-03-01", "2026-02-01"), ("2026-03-01", "2026-03-01")],
    ids=["after-later", "same-moment"],
)
def test_search_refuses_after_not_before_before(mem: Engram, after: str, before: str) -> None:
    with pytest.raises(InvalidInputError, match="after must be earlier than before"):
        mem.memories.search("Lisbon", user_id="ana", after=after, before=before)
    with pytest.raises(InvalidInputError, match="after must be earlier than before"):
        mem.memories.get_all(user_id="ana", after=after, before=before)


def test_search_takes_a_window_that_keeps_time(mem: Engram) -> None:
    now = datetime.now(UTC)
    hits = mem.memories.search(
        "Lisbon", user_id="ana", after=now - timedelta(days=1), before=now + timedelta(days=1)
    )

    assert "Ana lives in Lisbon" in [hit.memory.text for hit in hits]


# 5. A job on a user with no memories.


@pytest.mark.parametrize(
    ("job", "says"),
    [
        (["forget", "--max-age", "1d"], "nothing to forget"),
        (["forget", "--max-age", "1d", "--dry-run"], "nothing to forget"),
        (["consolidate"], "nothing to merge"),
    ],
    ids=["forget", "forget-dry-run", "consolidate"],
)
def test_a_job_on_a_user_with_no_memories_warns_as_export_does(
    db: str, job: list[str], says: str
) -> None:
    command, *options = job
    result = CliRunner().invoke(
        main, ["memories", command, "--db", db, "--user", "anna", "--user", "ana", *options]
    )

    assert result.exit_code == 0, result.output
    assert (
        f"user 'anna' has no memories in tenant 'default': {says} "
        "(`engram memories users` lists the users)"
    ) in result.stderr
    assert "'ana'" not in result.stderr
    assert texts(db) == ["Ana is vegetarian", "Ana lives in Lisbon"]


def test_export_warns_with_the_same_words(db: str) -> None:
    result = CliRunner().invoke(main, ["memories", "export", "--db", db, "--user", "anna"])

    assert result.exit_code == 0
    assert (
        "user 'anna' has no memories in tenant 'default': the export is empty "
        "(`engram memories users` lists the users)"
    ) in result.stderr


# 6. `search --limit 0`, as the API and `list` take it.


def test_cli_search_takes_limit_zero_as_list_and_the_api_do(db: str, mem: Engram) -> None:
    assert mem.memories.search("Lisbon", user_id="ana", limit=0) == []
    search = ["memories", "search", "--db", db, "--user", "ana", "--limit", "0", "Lisbon"]
    listing = ["memories", "list", "--db", db, "--user", "ana", "--limit", "0"]

    for args in (search, listing):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        assert "Lisbon" not in result.output
