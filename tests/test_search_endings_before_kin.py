"""Search of a slot's ending, of what held before, and of the user's kin by role: an ending
("The user broke up with Tom") answers "What's my boyfriend's name?" only while nothing was
said of it since; "Where did I work before Zalando?" ranks the value held before first,
with no `as_of`; "my brother" matches the brother's name, and "John's children" the names of
the children John spoke of in a dialogue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engram import Engram, Message
from engram.memory.queries import named_role_relations, past_asked, role_relations


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Engram]:
    engram = Engram(str(tmp_path / "search.db"))
    yield engram
    engram.close()


def _say(mem: Engram, text: str, day: str) -> None:
    at = datetime.fromisoformat(day).replace(hour=10, tzinfo=UTC)
    message = Message(role="user", content=text, created_at=at, session_id=day)
    mem.memories.add(messages=[message], user_id="u")


def _dialogue(mem: Engram, day: str, *turns: tuple[str, str]) -> None:
    """A session of a dialogue between people, each turn by its speaker (`Message.name`)."""
    at = datetime.fromisoformat(day).replace(hour=10, tzinfo=UTC)
    messages = [
        Message(role="user", content=text, name=name, created_at=at, session_id=day)
        for name, text in turns
    ]
    mem.memories.add(messages=messages, user_id="u")


def _breakup(mem: Engram) -> None:
    _say(mem, "My boyfriend Tom is a huge meat eater", "2026-01-08")
    _say(mem, "Tom and I broke up", "2026-02-14")


def test_an_ending_does_not_outrank_the_new_value_said_since(mem: Engram) -> None:
    _breakup(mem)
    _say(mem, "ok so I met someone. his name is Jonas", "2026-07-19")
    _say(mem, "we made it official yesterday, he's my boyfriend now", "2026-07-20")
    hits = mem.memories.search("What's my boyfriend's name?", user_id="u", limit=10)
    assert "Jonas" in hits[0].memory.text
    ending = next(h for h in hits if h.memory.text == "The user broke up with Tom")
    assert ending.parts.slot == 0.0


def test_an_ending_said_last_answers_what_the_slot_holds(mem: Engram) -> None:
    _breakup(mem)
    _say(mem, "I started a pottery class", "2026-03-01")
    hits = mem.memories.search("What's my boyfriend's name?", user_id="u", limit=3)
    assert hits[0].memory.text == "The user broke up with Tom"
    assert hits[0].parts.slot == 1.0


def test_the_new_value_named_in_one_sentence_ranks_first(mem: Engram) -> None:
    _breakup(mem)
    _say(mem, "Jonas is my boyfriend now, he's a sound engineer", "2026-07-19")
    hits = mem.memories.search("What's my boyfriend's name?", user_id="u", limit=3)
    assert hits[0].memory.text == "The user's boyfriend is Jonas"


def _jobs(mem: Engram) -> None:
    _say(mem, "I work as a UX designer at Acme Corp", "2026-01-08")
    _say(mem, "started at Zalando on Monday, I work at Zalando now", "2026-05-10")


@pytest.mark.parametrize(
    "question",
    [
        "Where did I work before Zalando?",
        "Where did I use to work?",
        "What was my previous job?",
        "What was my old job?",
    ],
)
def test_a_question_about_before_ranks_the_value_held_before_first(
    mem: Engram, question: str
) -> None:
    _jobs(mem)
    hits = mem.memories.search(question, user_id="u", limit=3)
    first = hits[0]
    assert first.memory.text == "The user works at Acme Corp"
    assert not first.memory.is_current
    assert first.parts.slot == 1.0
    # The turn that said it is not demoted for stating a value since retired.
    turn = next(h for h in hits if h.memory.text == "I work as a UX designer at Acme Corp")
    assert turn.parts.current == 1.0
    # The current value holds no slot in the past asked about.
    assert all(h.parts.slot == 0.0 for h in hits if "Zalando" in h.memory.text)


def test_a_question_about_before_finds_the_retired_value_in_a_crowded_pool(
    mem: Engram,
) -> None:
    _jobs(mem)
    # More memories than a search's pool (50): the current ones are searched apart, and
    # the retired value found among all of them stays a candidate.
    for day in range(1, 61):
        _say(mem, f"I tried recipe number {day} for dinner today", f"2026-06-{day % 28 + 1:02d}")
    hits = mem.memories.search("Where did I work before Zalando?", user_id="u", limit=3)
    assert hits[0].memory.text == "The user works at Acme Corp"


def test_a_home_before_the_named_one_ranks_first(mem: Engram) -> None:
    _say(mem, "I live in Chicago", "2025-03-01")
    _say(mem, "I live in Denver", "2026-01-08")
    _say(mem, "I moved to Berlin last week!", "2026-05-10")
    before_berlin = mem.memories.search("Where did I live before Berlin?", user_id="u", limit=3)
    assert before_berlin[0].memory.text == "The user lives in Denver"
    before_denver = mem.memories.search("Where did I live before Denver?", user_id="u", limit=3)
    assert before_denver[0].memory.text == "The user lives in Chicago"


def test_a_question_about_now_still_ranks_the_current_value_first(mem: Engram) -> None:
    _jobs(mem)
    hits = mem.memories.search("Where do I work?", user_id="u", limit=5)
    assert hits[0].memory.text == "The user works at Zalando"
    assert all(h.memory.is_current for h in hits)


def test_before_naming_no_value_of_the_slot_searches_current_memories(mem: Engram) -> None:
    _jobs(mem)
    hits = mem.memories.search("Where did I work before the marathon?", user_id="u", limit=5)
    assert all(h.memory.is_current for h in hits)


def test_my_brother_matches_the_brother_by_name(mem: Engram) -> None:
    _say(mem, "my brother Diego is flying in from Miami", "2025-12-20")
    _say(mem, "I started a pottery class", "2026-03-01")
    _say(mem, "Diego is moving to Austin in January for a new job", "2026-11-15")
    hits = mem.memories.search("Where does my brother live?", user_id="u", limit=10)
    austin = next(h for h in hits if "Austin" in h.memory.text)
    assert austin.parts.entity == 1.0
    assert austin.parts.lexical > 0
    pottery = next(h for h in hits if "pottery" in h.memory.text)
    assert austin.rank < pottery.rank


def test_past_asked_reads_what_the_past_question_names() -> None:
    assert past_asked("Where did I live before Berlin?") == "berlin"
    assert past_asked("Where did I use to work?") == ""
    assert past_asked("Who is my ex?") == ""
    assert past_asked("How old am I?") is None
    assert past_asked("Where do I live?") is None


def test_role_relations_reads_the_user_roles_a_query_names() -> None:
    assert role_relations("Where does my brother live?") == {"has_brother"}
    assert role_relations("What's my wife's job?") == {"partner_of"}
    assert role_relations("Is my best friend coming?") == {"friend_of"}
    assert "has_mother" in role_relations("Where does my mom live?")
    assert role_relations("Where does Ana live?") == frozenset()


def test_role_relations_of_plural_kin_name_each_kin() -> None:
    assert {"has_son", "has_daughter", "has_child"} <= role_relations("What do my kids like?")
    assert {"has_mother", "has_father"} <= role_relations("Where do my parents live?")
    assert {"has_brother", "has_sister"} <= role_relations("How old are my siblings?")


def test_named_role_relations_reads_a_named_persons_kin() -> None:
    children = named_role_relations("What are the names of John's children?")
    assert set(children) == {"John"}
    assert {"has_son", "has_daughter"} <= children["John"]
    assert named_role_relations("Where does Melanie's husband work?") == {"Melanie": {"partner_of"}}
    assert named_role_relations("Who is Caroline's sister?") == {"Caroline": {"has_sister"}}
    assert named_role_relations("What's my wife's job?") == {}
    assert named_role_relations("Where does John live?") == {}


def _kids(mem: Engram) -> None:
    _dialogue(
        mem,
        "2023-05-01",
        ("Tim", "Hey John, how was your week?"),
        ("John", "Great! My daughter Sara's birthday is today."),
        ("Tim", "Happy birthday to her! My son Leo started school."),
    )
    _dialogue(
        mem,
        "2023-06-01",
        ("John", "I started a pottery class."),
        ("John", "Sara is moving to Austin in August."),
        ("John", "I live near a big park, it's where I work out."),
        ("Tim", "Leo is moving to Denver with his mom."),
    )


def test_a_named_persons_children_match_their_names(mem: Engram) -> None:
    _kids(mem)
    hits = mem.memories.search("Where do John's kids live?", user_id="u", limit=20)
    austin = next(h for h in hits if "Austin" in h.memory.text)
    park = next(h for h in hits if h.memory.kind == "episode" and "park" in h.memory.text)
    assert austin.parts.entity == 1.0
    assert park.parts.entity < 1.0
    pottery = next(h for h in hits if h.memory.kind == "episode" and "pottery" in h.memory.text)
    assert austin.rank < pottery.rank


def test_the_other_speakers_children_are_not_the_named_persons(mem: Engram) -> None:
    _kids(mem)
    hits = mem.memories.search("Where do John's kids live?", user_id="u", limit=20)
    denver = next(h for h in hits if "Denver" in h.memory.text)
    austin = next(h for h in hits if "Austin" in h.memory.text)
    assert denver.parts.entity < 1.0
    assert austin.rank < denver.rank


def test_a_named_persons_husband_matches_his_name(mem: Engram) -> None:
    _dialogue(
        mem,
        "2023-05-01",
        ("Melanie", "My husband Mark and I went camping last weekend."),
        ("Caroline", "Sounds lovely! I started a pottery class."),
        ("Melanie", "I work at the library, and I love it."),
    )
    _dialogue(mem, "2023-06-01", ("Melanie", "Mark got a new job at a bakery downtown."))
    hits = mem.memories.search("Where does Melanie's husband work?", user_id="u", limit=20)
    bakery = next(h for h in hits if "bakery" in h.memory.text)
    library = next(h for h in hits if h.memory.kind == "episode" and "library" in h.memory.text)
    assert bakery.parts.entity == 1.0
    assert library.parts.entity < 1.0
    pottery = next(h for h in hits if h.memory.kind == "episode" and "pottery" in h.memory.text)
    assert bakery.rank < pottery.rank


def test_the_users_kin_are_no_kin_of_someone_the_user_names(mem: Engram) -> None:
    _say(mem, "my brother Diego is flying in from Miami", "2025-12-20")
    _say(mem, "Tom is my neighbour", "2026-01-05")
    _say(mem, "Diego is moving to Austin in January for a new job", "2026-11-15")
    hits = mem.memories.search("Where does Tom's brother live?", user_id="u", limit=10)
    austin = next(h for h in hits if "Austin" in h.memory.text)
    assert austin.parts.lexical == 0
    assert austin.parts.entity < 1.0


def test_a_named_persons_kin_asked_without_a_user_searches_the_agents_memories(
    mem: Engram,
) -> None:
    message = Message(role="user", content="John's kids love the lake house.", name="John")
    mem.memories.add(messages=[message], agent_id="a")
    hits = mem.memories.search("What do John's kids love?", agent_id="a", limit=5)
    assert any("lake house" in h.memory.text for h in hits)
