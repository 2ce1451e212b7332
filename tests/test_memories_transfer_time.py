"""Export and import keep a slot's history in time as belief revision keeps it: a user's
statements of one slot ("I live in Berlin.", then "I live in Lisbon.") split between two
databases (two devices, or a backup restored into a database that kept running), one's
export imported into the other, leave one current value, the one said last, and "as of"
any day the one value said most recently by then, with every statement's provenance."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from embedders import HashingEmbedder
from engram import Engram, Memory, Message

JAN = datetime(2026, 1, 1, tzinfo=UTC)

Statement = tuple[str, int]
"""A value of the user's home, and the day (from `JAN`) it was said."""


def message(statement: Statement) -> Message:
    city, day = statement
    return Message(
        id=f"said-{city}-{day}",
        role="user",
        content=f"I live in {city}.",
        created_at=JAN + timedelta(days=day),
    )


def database(path: Path, statements: Sequence[Statement]) -> Engram:
    """A SQLite Engram that learned `statements` of user "ana", one add each, in order."""
    mem = Engram(path, embedder=HashingEmbedder())
    for statement in statements:
        mem.memories.add(messages=[message(statement)], user_id="ana")
    return mem


def homes(mem: Engram) -> list[Memory]:
    """Ana's home values, retired ones too."""
    every = mem.memories.get_all(user_id="ana", include_superseded=True, limit=1000)
    return [m for m in every if m.attribute == "home_city"]


def held(memories: Sequence[Memory], moment: datetime) -> set[str]:
    """The values holding at `moment` (valid time), whatever was learned later."""
    return {
        str(m.metadata["value"])
        for m in memories
        if (m.valid_from is None or m.valid_from <= moment)
        and (m.valid_to is None or moment < m.valid_to)
    }


def history_errors(mem: Engram, statements: Sequence[Statement]) -> list[str]:
    """What `mem` gets wrong of `statements`: one current value, the one said last; "as
    of" each day a value was said, just that the value said most recently by then; every
    statement's message kept as provenance."""
    memories = homes(mem)
    errors: list[str] = []
    last_city, _ = max(statements, key=lambda statement: statement[1])
    current = {str(m.metadata["value"]) for m in memories if m.is_current}
    if current != {last_city}:
        errors.append(f"current {current}, said last {last_city}")
    for _, day in statements:
        latest, _ = max((s for s in statements if s[1] <= day), key=lambda s: s[1])
        if (then := held(memories, JAN + timedelta(days=day, hours=1))) != {latest}:
            errors.append(f"day {day}: {then} held, said most recently {latest}")
    sources = {source for m in memories for source in m.source_ids}
    if lost := {message(statement).id for statement in statements} - sources:
        errors.append(f"provenance lost: {lost}")
    return errors


def merge(a: Engram, b: Engram) -> None:
    """A's export of "ana" imported into B, twice: the second import changes nothing."""
    exported = a.memories.export(user_id="ana")
    b.memories.import_(exported)
    once = b.memories.export(user_id="ana")
    b.memories.import_(exported)
    assert b.memories.export(user_id="ana") == once


CITIES = ("Berlin", "Lisbon", "Oslo", "Madrid")


@st.composite
def split_statements(
    draw: st.DrawFn,
) -> tuple[list[Statement], list[Statement], list[Statement]]:
    """Statements of Ana's home on distinct days (two values said at one moment contradict
    each other: no order settles which held), and those learned by database A and by B,
    each in any order. Each database hears a value once, and the value said last is said
    only then: revision folds a value said again into the memory of its first saying,
    which keeps no record of when it was said again (so "as of" then, a value said in
    between may hold), in one database alone as in a merge."""
    heard = draw(
        st.lists(
            st.tuples(st.sampled_from(CITIES), st.booleans()),  # on A, else on B
            min_size=2,
            max_size=6,
            unique=True,
        )
    )
    days = draw(st.lists(st.integers(0, 60), min_size=len(heard), max_size=len(heard), unique=True))
    dated = sorted(zip(heard, days, strict=True), key=lambda pair: pair[1])
    (last, _), _ = dated[-1]
    dated = [((city, on_a), day) for (city, on_a), day in dated[:-1] if city != last] + dated[-1:]
    learned = draw(st.permutations(dated))
    said = [(city, day) for (city, _), day in dated]
    into_a = [(city, day) for (city, on_a), day in learned if on_a]
    into_b = [(city, day) for (city, on_a), day in learned if not on_a]
    return said, into_a, into_b


@settings(max_examples=100, deadline=None)
@given(split=split_statements())
def test_a_merge_keeps_one_value_of_a_slot_at_any_time_the_one_said_last(
    tmp_path_factory: pytest.TempPathFactory,
    split: tuple[list[Statement], list[Statement], list[Statement]],
) -> None:
    """A's share of the statements imported into B's: B tells the whole history."""
    said, into_a, into_b = split
    path = tmp_path_factory.mktemp("merge")

    with database(path / "a.db", into_a) as a, database(path / "b.db", into_b) as b:
        merge(a, b)

        assert history_errors(b, said) == []


@settings(max_examples=60, deadline=None)
@given(split=split_statements())
def test_a_backup_restored_into_the_database_that_kept_learning_keeps_what_it_learned(
    tmp_path_factory: pytest.TempPathFactory,
    split: tuple[list[Statement], list[Statement], list[Statement]],
) -> None:
    """A backup taken after the first share of the statements, restored once the database
    learned the second share: the database still tells the whole history."""
    said, before, since = split
    path = tmp_path_factory.mktemp("restore")

    with database(path / "b.db", before) as b:
        backup = b.memories.export(user_id="ana")
        for statement in since:
            b.memories.add(messages=[message(statement)], user_id="ana")
        # A value said again folds into one memory: what revision gets wrong of it in one
        # database alone (see `split_statements`), no import can right.
        assume(history_errors(b, said) == [])
        b.memories.import_(backup)
        once = b.memories.export(user_id="ana")
        b.memories.import_(backup)

        assert history_errors(b, said) == []
        assert b.memories.export(user_id="ana") == once


def homes_as_of(mem: Engram, day: int) -> list[str]:
    """Ana's home "as of" `day`, as a search answers it."""
    moment = JAN + timedelta(days=day, hours=1)
    hits = mem.memories.search("where does Ana live", user_id="ana", as_of=moment, limit=50)
    return sorted(str(hit.memory.metadata["value"]) for hit in hits if hit.memory.attribute)


MERGES = {
    # The export's Berlin ended where Oslo began, not knowing of Lisbon said between.
    "an imported past value": ([("Berlin", 0), ("Oslo", 20)], [("Lisbon", 10)]),
    # The store's Berlin ended where Oslo began, not knowing of Lisbon said between.
    "a stored past value": ([("Lisbon", 10)], [("Berlin", 0), ("Oslo", 20)]),
    # The export's Berlin is current; the store's too, said again after Lisbon.
    "an imported current value said again later": (
        [("Berlin", 0)],
        [("Berlin", 20), ("Lisbon", 10)],
    ),
}


@pytest.mark.parametrize("case", MERGES)
def test_a_value_held_until_a_value_the_other_database_knew_began(
    tmp_path: Path, case: str
) -> None:
    into_a, into_b = MERGES[case]
    with database(tmp_path / "a.db", into_a) as a, database(tmp_path / "b.db", into_b) as b:
        merge(a, b)

        assert homes_as_of(b, 5) == ["Berlin"]
        assert homes_as_of(b, 15) == ["Lisbon"]
        assert history_errors(b, [*into_a, *into_b]) == []


@pytest.mark.parametrize(
    "into_a, into_b",
    [([("Berlin", 0)], [("Lisbon", 10)]), MERGES["an imported past value"]],
    ids=["retired by the import", "ended sooner by the import"],
)
def test_importing_the_export_again_keeps_what_the_first_import_ended(
    tmp_path: Path, into_a: list[Statement], into_b: list[Statement]
) -> None:
    """The export's version of a memory the first import retired or ended sooner is older
    than the stored one: a second import keeps the stored one, and writes no history."""
    with database(tmp_path / "a.db", into_a) as a, database(tmp_path / "b.db", into_b) as b:
        merge(a, b)


def test_a_backup_restored_keeps_a_value_said_earlier_that_was_learned_since(
    tmp_path: Path,
) -> None:
    """Berlin said on day 1, backed up; then a chat of day 0 saying Berlin too, and Lisbon
    on day 2: the restore keeps Berlin from day 0, and its message of day 0."""
    with database(tmp_path / "b.db", [("Berlin", 1)]) as b:
        backup = b.memories.export(user_id="ana")
        for statement in [("Berlin", 0), ("Lisbon", 2)]:
            b.memories.add(messages=[message(statement)], user_id="ana")

        b.memories.import_(backup)

        assert homes_as_of(b, 0) == ["Berlin"]
        assert history_errors(b, [("Berlin", 0), ("Berlin", 1), ("Lisbon", 2)]) == []


def test_a_move_said_last_holds_from_its_start_over_what_the_other_database_knew(
    tmp_path: Path,
) -> None:
    """B heard "I moved to Lisbon last month" on day 75 (a move of day 31); A heard Berlin
    on day 40 and Oslo on day 60, both said before it: merged, Lisbon is current, and held
    from day 31 on, whatever A believed then (the latest word wins over its span)."""
    moved = Message(
        id="said-moved",
        role="user",
        content="I moved to Lisbon last month.",
        created_at=JAN + timedelta(days=75),
    )
    with database(tmp_path / "a.db", [("Berlin", 40), ("Oslo", 60)]) as a:
        with database(tmp_path / "b.db", []) as b:
            b.memories.add(messages=[moved], user_id="ana")
            [lisbon] = homes(b)
            assert lisbon.valid_from == JAN + timedelta(days=31)

            merge(a, b)

            assert [str(m.metadata["value"]) for m in homes(b) if m.is_current] == ["Lisbon"]
            assert homes_as_of(b, 50) == homes_as_of(b, 70) == ["Lisbon"]
            assert homes_as_of(b, 20) == []
