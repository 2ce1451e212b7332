"""A job to come ("I start at Google next month", "Starting Monday I'll be working at
Initech") is the employer from the date said: before it, the employer is the one of then and
the plan is known; from it on, the profile, `get_all(as_of=now)` and search say the new
employer, and the old one ended then, still found "as of" an earlier time. Nothing is
retired while the old job lasts: both stay current knowledge, each true in its time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import engram._memories
from engram import Engram

HIRED = datetime(2026, 6, 10, 12, tzinfo=UTC)
ANNOUNCED = HIRED + timedelta(days=20)  # June 30: "next month" is July
NOVEMBER = datetime(2026, 11, 25, 9, tzinfo=UTC)


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Engram]:
    with Engram(str(tmp_path / "jobs.db")) as opened:
        yield opened


def at(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    """Engram's clock reads `moment` from now on."""
    monkeypatch.setattr(engram._memories, "utcnow", lambda: moment)


def say(mem: Engram, text: str, when: datetime) -> None:
    message = {"role": "user", "content": text, "created_at": when.isoformat()}
    mem.memories.add(messages=[message], user_id="u")


def employers(mem: Engram, moment: datetime) -> list[str]:
    """The employer facts true at `moment`."""
    held = mem.memories.get_all(user_id="u", as_of=moment)
    return sorted(m.text for m in held if m.attribute == "employer")


def first_answer(mem: Engram, query: str) -> str:
    [first, *_] = mem.memories.search(query, user_id="u", limit=3)
    return first.memory.text


def test_a_job_to_come_is_the_employer_once_its_date_has_passed(
    mem: Engram, monkeypatch: pytest.MonkeyPatch
) -> None:
    at(monkeypatch, NOVEMBER)
    say(mem, "I work at Initech as an accountant.", HIRED)
    say(mem, "Big news, I start at Google next month!", ANNOUNCED)

    assert mem.memories.profile("u").fields["employer"] == "Google"
    june = mem.memories.profile("u", as_of=datetime(2026, 6, 20, tzinfo=UTC))
    september = mem.memories.profile("u", as_of=datetime(2026, 9, 5, tzinfo=UTC))
    assert (june.fields["employer"], september.fields["employer"]) == ("Initech", "Google")
    assert employers(mem, NOVEMBER) == ["The user works at Google"]
    assert employers(mem, datetime(2026, 6, 20, tzinfo=UTC)) == ["The user works at Initech"]
    plans = [m.text for m in mem.memories.get_all(user_id="u") if m.metadata.get("plan")]
    assert "The user will start working at Google in July 2026" in plans
    assert first_answer(mem, "Where do I work?") == "The user works at Google"
    # Initech is not retired, it ended: current knowledge, true until July 1
    [initech] = [m for m in mem.memories.get_all(user_id="u") if m.text.endswith("Initech")]
    assert initech.valid_to == datetime(2026, 7, 1, tzinfo=UTC) and initech.is_current


def test_the_employer_changes_when_the_job_to_come_begins(
    mem: Engram, monkeypatch: pytest.MonkeyPatch
) -> None:
    at(monkeypatch, ANNOUNCED + timedelta(hours=1))
    say(mem, "I work at Initech as an accountant.", HIRED)
    say(mem, "Big news, I start at Google as a designer next month!", ANNOUNCED)
    assert mem.memories.profile("u").fields == {"employer": "Initech", "occupation": "accountant"}
    # until it begins, every view says Initech; the plan is known
    assert employers(mem, ANNOUNCED + timedelta(hours=1)) == ["The user works at Initech"]
    assert first_answer(mem, "Where do I work?") == "The user works at Initech"

    august = datetime(2026, 8, 5, tzinfo=UTC)
    at(monkeypatch, august)  # nothing said since: the stored profile is June's
    started = {"employer": "Google", "occupation": "designer"}
    assert mem.memories.profile("u").fields == started
    assert first_answer(mem, "Where do I work?") == "The user works at Google"
    say(mem, "I love sushi.", august)  # an add stores the profile caught up
    assert mem.memories.profile("u").fields == {**started, "preference:sushi": "likes"}


def test_starting_monday_the_user_works_at_the_new_employer(
    mem: Engram, monkeypatch: pytest.MonkeyPatch
) -> None:
    wednesday = datetime(2026, 3, 4, 10, tzinfo=UTC)
    at(monkeypatch, wednesday + timedelta(hours=1))
    say(mem, "I work at Globex.", wednesday - timedelta(days=60))
    say(mem, "Starting Monday I'll be working at Initech.", wednesday)
    assert mem.memories.profile("u").fields["employer"] == "Globex"

    at(monkeypatch, wednesday + timedelta(days=7))
    assert mem.memories.profile("u").fields["employer"] == "Initech"
    assert employers(mem, wednesday + timedelta(days=7)) == ["The user works at Initech"]
    friday = datetime(2026, 3, 6, tzinfo=UTC)
    assert mem.memories.profile("u", as_of=friday).fields["employer"] == "Globex"


PLANNED = datetime(2026, 6, 10, 12, tzinfo=UTC)  # "next month" is July
CALLED_OFF = datetime(2026, 6, 25, 12, tzinfo=UTC)  # before July 1
AUGUST = datetime(2026, 8, 5, tzinfo=UTC)


def employer_values(mem: Engram) -> dict[str, list[object]]:
    """Every employer value stored, retired too, by text."""
    stored = mem.memories.get_all(user_id="u", include_superseded=True)
    values: dict[str, list[object]] = {}
    for m in stored:
        if m.attribute == "employer":
            values.setdefault(m.text, []).append(m)
    return values


def assert_initech_given_back(mem: Engram) -> None:
    """In August, every view says Initech: the Google job never began, Initech never ended."""
    assert mem.memories.profile("u").fields["employer"] == "Initech"
    assert employers(mem, AUGUST) == ["The user works at Initech"]
    assert first_answer(mem, "Where do I work?") == "The user works at Initech"
    values = employer_values(mem)
    [initech] = values["The user works at Initech"]
    assert (initech.valid_to, initech.superseded_by, initech.is_current) == (None, None, True)
    assert "restore" in [change.action for change in mem.memories.history(initech.id)]
    [google] = values["The user works at Google"]
    assert not google.is_current and google.valid_to == google.valid_from
    assert not [m for m in mem.memories.get_all(user_id="u") if m.metadata.get("plan")]


@pytest.mark.parametrize(
    "calling_off",
    [
        "I'm not joining Google after all.",
        "I turned down the Google offer.",
        "Sadly the Google job fell through, so I'm staying put.",
    ],
)
def test_a_job_to_come_called_off_never_begins(
    mem: Engram, monkeypatch: pytest.MonkeyPatch, calling_off: str
) -> None:
    at(monkeypatch, AUGUST)
    say(mem, "I work at Initech as an accountant.", HIRED)
    say(mem, "Big news, I start at Google next month!", PLANNED)
    say(mem, calling_off, CALLED_OFF)
    assert_initech_given_back(mem)


def test_the_employer_said_again_before_the_job_to_come_calls_it_off(
    mem: Engram, monkeypatch: pytest.MonkeyPatch
) -> None:
    at(monkeypatch, AUGUST)
    say(mem, "I work at Initech as an accountant.", HIRED)
    say(mem, "Big news, I start at Google next month!", PLANNED)
    say(mem, "I work at Initech.", CALLED_OFF)
    assert_initech_given_back(mem)


def test_another_job_to_come_said_instead_replaces_the_first(
    mem: Engram, monkeypatch: pytest.MonkeyPatch
) -> None:
    at(monkeypatch, AUGUST)
    say(mem, "I work at Initech as an accountant.", HIRED)
    say(mem, "Big news, I start at Google next month!", PLANNED)
    say(mem, "I'm joining Meta next month instead.", CALLED_OFF)
    assert mem.memories.profile("u").fields["employer"] == "Meta"
    assert employers(mem, AUGUST) == ["The user works at Meta"]
    assert employers(mem, datetime(2026, 6, 28, tzinfo=UTC)) == ["The user works at Initech"]
    [google] = employer_values(mem)["The user works at Google"]
    assert not google.is_current and google.valid_to == google.valid_from
    held = mem.memories.get_all(user_id="u")
    plans = [m.text for m in held if m.metadata.get("plan") and not m.attribute]
    assert plans == ["The user will start working at Meta in July 2026"]
