"""Changes said in words the rules did not read, end to end on a SQLite `Engram` (no LLM):
a new employer said as being hired ("Just got hired by Netflix!", "Netflix just hired me"),
a new home said as home ("Home is Oslo these days", "Oslo is home now", "We've settled in
Oslo"), and a taste said against a favourite of another slot ("I hate sushi now" after
"My favourite food is sushi", and the reverse). Each with the look-alikes that must change
nothing: someone else hired, a question, a condition, a saying about home, a trip."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from embedders import HashingEmbedder
from engram import Engram, Message


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Engram]:
    with Engram(tmp_path / "phrasings-more.db", embedder=HashingEmbedder()) as engram:
        yield engram


class Chat:
    """The user's turns, each its own add, a day after the one before."""

    def __init__(self, mem: Engram) -> None:
        self.mem, self.day = mem, 0

    def say(self, *texts: str) -> None:
        for text in texts:
            self.day += 1
            at = datetime(2026, 1, self.day, tzinfo=UTC)
            message = Message(role="user", content=text, created_at=at)
            self.mem.memories.add(messages=[message], user_id="bob")

    def fields(self) -> dict[str, str]:
        profile = self.mem.memories.profile("bob")
        return dict(profile.fields) if profile else {}

    def facts(self) -> set[str]:
        found = self.mem.memories.get_all(user_id="bob")
        return {m.text for m in found if m.kind != "episode"}


@pytest.fixture
def chat(mem: Engram) -> Chat:
    return Chat(mem)


@pytest.mark.parametrize(
    "said",
    [
        "Just got hired by Netflix!",
        "I just got hired at Netflix.",
        "I finally got hired by Netflix!",
        "I've just been hired by Netflix.",
        "Netflix hired me!",
        "Netflix just hired me.",
        "I took a job at Netflix.",
        "I accepted a job at Netflix.",
        "Got the job at Netflix!",
        "Today Netflix hired me",  # the time opens the sentence; the name follows it
        "Netflix hired me today.",
        "today netflix hired me",
        "Netflix has hired me.",
    ],
)
def test_being_hired_is_the_new_employer(chat: Chat, said: str) -> None:
    chat.say("I work at Spotify.", said)
    assert chat.fields()["employer"] == "Netflix"
    assert "The user works at Spotify" not in chat.facts()


@pytest.mark.parametrize(
    "said",
    [
        "Netflix hired my brother.",
        "My brother just got hired by Netflix.",
        "Just got hired by Netflix? No way",
        "If I got hired by Netflix I'd move to LA.",
        "Netflix hired me to fix their website.",
        "They hired me!",
        "Today Netflix hired my brother.",
        "Today they hired me.",
    ],
)
def test_hiring_that_is_not_the_users_new_job_changes_nothing(chat: Chat, said: str) -> None:
    chat.say("I work at Spotify.", said)
    assert chat.fields()["employer"] == "Spotify"
    chat.say("Just got hired by Netflix!")  # the rule reads the user's own
    assert chat.fields()["employer"] == "Netflix"


@pytest.mark.parametrize(
    "said",
    [
        "Home is Oslo these days.",
        "Home is now Oslo.",
        "These days home is Oslo.",
        "Home for me is Oslo now.",
        "My home is Oslo now.",
        "Oslo is home now.",
        "Oslo is my new home!",
        "I now call Oslo home.",
        "We've settled in Oslo.",
        "I settled down in Oslo with my wife.",
    ],
)
def test_home_said_as_home_is_the_new_home_city(chat: Chat, said: str) -> None:
    chat.say("I live in Porto.", said)
    assert chat.fields()["home_city"] == "Oslo"
    assert "The user lives in Porto" not in chat.facts()


@pytest.mark.parametrize(
    "said",
    [
        "Home is where the heart is.",
        "Home is Where the Heart Is.",
        "Rome is home to the Colosseum.",
        "Paris is my home away from home.",
        "This is home now.",
        "Home is Oslo for the summer.",
        "Is Oslo home now?",
        "My sister's home is Oslo now.",
        "We settled in nicely.",
        "I settled in Rome for the conference.",
    ],
)
def test_words_of_home_that_name_no_new_home_change_nothing(chat: Chat, said: str) -> None:
    chat.say("I live in Porto.", said)
    assert chat.fields()["home_city"] == "Porto"
    chat.say("Home is Oslo these days.")  # the rule reads the user's own
    assert chat.fields()["home_city"] == "Oslo"


@pytest.mark.parametrize("against", ["I hate sushi now.", "I used to love sushi."])
def test_a_dislike_retires_the_favourite_it_names(chat: Chat, against: str) -> None:
    chat.say("My favourite food is sushi.", "I hate olives.")
    assert chat.fields()["favorite_food"] == "sushi"  # another food changes nothing
    chat.say(against)
    assert "favorite_food" not in chat.fields()
    assert "The user's favourite food is sushi" not in chat.facts()


def test_a_favourite_retires_the_dislike_it_names(chat: Chat) -> None:
    chat.say("I hate sushi.", "Sushi is my favourite food now.")
    assert chat.fields() == {"favorite_food": "Sushi"}
    assert chat.facts() == {"The user's favourite food is Sushi"}


def test_a_dislike_said_in_an_older_chat_leaves_a_later_favourite(mem: Engram) -> None:
    chat = Chat(mem)
    chat.say("My favourite food is sushi.")
    old = Message(role="user", content="I hate sushi.", created_at=datetime(2025, 6, 1, tzinfo=UTC))
    mem.memories.add(messages=[old], user_id="bob")  # replayed, said before the favourite
    assert chat.fields()["favorite_food"] == "sushi"
    chat.say("I hate sushi now.")  # said again since: the favourite is over
    assert "favorite_food" not in chat.fields()
