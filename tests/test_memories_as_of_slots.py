"""A Zep user's questions about the past: a search "as of" a date ranks the slot fact valid
then first (above turns that merely share the question's words, and facts about other
people), and `profile(as_of=)` gives the profile as it stood then."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from engram import Engram, InvalidInputError, Message
from engram.cli import main
from engram.eval import CURRENCY_SCENARIOS, run_currency
from engram.memory.ranking import asked_slots, rank_memories
from engram.types._memory import Memory

pytest_plugins = ["servers"]


def day(year: int, month: int, day: int = 1) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


def tell(mem: Engram, text: str, when: datetime, session: str) -> None:
    message = Message(role="user", content=text, created_at=when)
    mem.memories.add(messages=[message], user_id="ana", session_id=session, user_name="Ana")


def ana(mem: Engram) -> None:
    """The QA timeline: Lisbon and Google, a sister in Madrid, a partner, then a move to
    Berlin in March 2021 told in June, and a new employer in 2022."""
    tell(mem, "Hi, I'm Ana. I live in Lisbon and I work at Google.", day(2020, 1, 10), "s1")
    tell(mem, "I'm vegetarian.", day(2020, 1, 10), "s1")
    tell(mem, "My sister Marta lives in Madrid.", day(2020, 6), "s2")
    tell(mem, "My boss is called Tom.", day(2020, 6), "s2")
    tell(mem, "My partner is João.", day(2021, 1, 5), "s3")
    tell(mem, "I moved to Berlin in March 2021.", day(2021, 6, 15), "s4")
    tell(mem, "I left Google and joined Meta.", day(2022, 2), "s5")


# --- search ----------------------------------------------------------------------------------


@pytest.mark.parametrize("question", ["where does Ana live?", "Where do I live?"])
def test_search_ranks_the_home_valid_then_first_at_every_date(
    memory_engram: Engram, question: str
) -> None:
    """Before, "My sister Marta lives in Madrid." came first at every date, and as of April
    2021 "Ana moved to Berlin" only 4th: it shares no word with the question, and its
    session (June's) held nothing else true in April."""
    ana(memory_engram)
    homes = {day(2020, 3): "Lisbon", day(2021, 4): "Berlin", day(2022, 6): "Berlin", None: "Berlin"}
    for as_of, home in homes.items():
        hits = memory_engram.memories.search(
            question, user_id="ana", as_of=as_of, record_access=False
        )
        first = hits[0].memory
        assert (first.attribute, home in first.text) == ("home_city", True), (
            as_of,
            [h.memory.text for h in hits],
        )
        assert hits[0].parts.boost > hits[1].parts.boost


def test_search_for_the_employer_as_of_ranks_the_employer_then(memory_engram: Engram) -> None:
    ana(memory_engram)
    for as_of, employer in ((day(2021, 4), "Google"), (day(2022, 6), "Meta")):
        hits = memory_engram.memories.search(
            "where does Ana work?", user_id="ana", as_of=as_of, record_access=False
        )
        assert hits[0].memory.attribute == "employer" and employer in hits[0].memory.text


def test_a_question_about_someone_else_does_not_favour_the_users_slot(
    memory_engram: Engram,
) -> None:
    ana(memory_engram)
    hits = memory_engram.memories.search(
        "Where does Marta live?", user_id="ana", record_access=False
    )
    home = next(
        h for h in hits if h.memory.attribute == "home_city" and "subject" not in h.memory.metadata
    )
    assert "Madrid" in hits[0].memory.text and home.rank > 1
    assert home.parts.boost < hits[0].parts.boost


def test_a_question_about_the_users_kin_does_not_favour_the_users_slot(
    memory_engram: Engram,
) -> None:
    ana(memory_engram)
    hits = memory_engram.memories.search(
        "Where does my sister live?", user_id="ana", record_access=False
    )
    assert "Madrid" in hits[0].memory.text
    users = [h for h in hits[1:] if h.memory.attribute and "subject" not in h.memory.metadata]
    assert users and all(hit.parts.boost < hits[0].parts.boost for hit in users)


def test_currency_scenarios_with_an_aside_pass(tmp_path: Path) -> None:
    """The aside ("My sister Marta lives in Madrid") came first now or as of then before."""
    asides = [s for s in CURRENCY_SCENARIOS if s.aside is not None]
    assert len(asides) == 3
    with Engram(tmp_path / "currency.db") as engram:
        results = run_currency(engram.memories, asides)
    assert [(r.name, r.passed) for r in results] == [(s.name, True) for s in asides]


@pytest.mark.parametrize(
    ("question", "slots"),
    [
        ("where does Ana live?", {"home_city"}),
        ("Which city do I live in now?", {"home_city"}),
        ("Who do I work for?", {"employer"}),
        ("where do I work these days?", {"employer"}),
        ("who am I dating?", {"partner", "relationship_status"}),
        ("What is my diet?", {"diet"}),
        ("how old am I?", {"age", "birthday", "birth_year"}),
        ("What did we talk about last week?", set()),
        ("Where does my sister live?", set()),
        ("How old is my son?", set()),
    ],
)
def test_asked_slots(question: str, slots: set[str]) -> None:
    assert asked_slots(question) == slots


def _memory(text: str, **fields: object) -> Memory:
    return Memory(text=text, user_id="ana", **fields)  # type: ignore[arg-type]


@given(
    episode_cosine=st.floats(0.0, 1.0),
    fact_cosine=st.floats(0.05, 1.0),
    bm25=st.floats(0.0, 20.0),
)
def test_the_slot_fact_outranks_a_turn_its_cosine_is_within_a_third_of(
    episode_cosine: float, fact_cosine: float, bm25: float
) -> None:
    """Whatever the turn's lexical match and its session's strength, the fact holding the
    asked slot ranks above a turn whose cosine is at most thrice its own: the slot boost and
    the session boost (which a slot fact gets whole) outweigh the turn's lexical match."""
    if episode_cosine > 3 * fact_cosine:
        return
    memories = {
        "turn": _memory("My sister Marta lives in Madrid.", kind="episode", session_id="s2"),
        "mate": _memory("My boss is called Tom.", kind="episode", session_id="s2"),
        "fact": _memory(
            "Ana moved to Berlin", kind="profile", attribute="home_city", session_id="s4"
        ),
    }
    hits = rank_memories(
        memories,
        [("turn", episode_cosine), ("mate", episode_cosine), ("fact", fact_cosine)],
        [("turn", bm25), ("mate", bm25)],
        query="where does Ana live?",
        now=day(2021, 4),
    )
    assert hits[0].memory.attribute == "home_city"


# --- profile(as_of=) -----------------------------------------------------------------------


def test_profile_as_of_gives_the_values_true_then(memory_engram: Engram) -> None:
    ana(memory_engram)
    current = memory_engram.memories.profile("ana")
    assert current is not None and current.fields["home_city"] == "Berlin"
    expected = {
        day(2020, 3): ("Lisbon", "Google", None),
        day(2021, 2): ("Lisbon", "Google", "João"),
        day(2021, 4): ("Berlin", "Google", "João"),  # the March move, told in June
        day(2022, 6): ("Berlin", "Meta", "João"),
    }
    for as_of, (home, employer, partner) in expected.items():
        then = memory_engram.memories.profile("ana", as_of=as_of)
        assert then is not None and then.updated_at == as_of
        fields = then.fields
        assert (fields["home_city"], fields["employer"], fields.get("partner")) == (
            home,
            employer,
            partner,
        )
        assert fields["name"] == "Ana" and fields["diet"] == "vegetarian"
        source = memory_engram.memories.get(then.sources["home_city"])
        assert source.attribute == "home_city" and home in source.text
    # The profile of now is the stored one, as before.
    assert memory_engram.memories.profile("ana") == current


def test_profile_as_of_before_anything_known_is_none(tmp_path: Path) -> None:
    with Engram(tmp_path / "m.db") as mem:
        ana(mem)
        assert mem.memories.profile("ana", as_of=day(2019, 1)) is None
        assert mem.memories.profile("nobody", as_of=day(2021, 1)) is None
        naive = mem.memories.profile("ana", as_of=datetime(2021, 4, 1))
        text = mem.memories.profile("ana", as_of="2021-04-01")
        assert naive is not None and text is not None and naive.fields == text.fields
        with pytest.raises(InvalidInputError):
            mem.memories.profile("ana", as_of="not a time")  # type: ignore[arg-type]
        later = asyncio.run(mem.memories.aprofile("ana", as_of=day(2022, 6)))
        assert later is not None and later.fields["employer"] == "Meta"


def test_profile_as_of_follows_a_hand_edit_from_the_edit_on(tmp_path: Path) -> None:
    with Engram(tmp_path / "m.db") as mem:
        ana(mem)
        mem.memories.update_profile("ana", {"home_city": "Faro"})
        now = mem.memories.profile("ana", as_of=datetime.now(UTC))
        assert now is not None and now.fields["home_city"] == "Faro"
        then = mem.memories.profile("ana", as_of=day(2021, 4))
        assert then is not None and then.fields["home_city"] == "Berlin"


def test_cli_profile_as_of(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with Engram(path) as mem:
        ana(mem)
    runner = CliRunner()
    base = ["memories", "profile", "--db", str(path), "--user", "ana"]
    shown = runner.invoke(main, [*base, "--as-of", "2020-03-01"])
    assert shown.exit_code == 0, shown.output
    assert "Lisbon" in shown.output and "Berlin" not in shown.output
    now = runner.invoke(main, base)
    assert "Berlin" in now.output and "Lisbon" not in now.output
    empty = runner.invoke(main, [*base, "--as-of", "2019-01-01"])
    assert empty.exit_code == 0 and "no profile for ana as of 2019-01-01" in empty.output
    edit = runner.invoke(main, [*base, "--as-of", "2020-03-01", "--set", "diet=vegan"])
    assert edit.exit_code != 0 and "cannot be edited" in edit.output
