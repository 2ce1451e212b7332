"""Belief-currency scenarios: after a fact changes, does the new value win?

Each scenario tells memory one value ("I live in Lisbon", January), then a new one ("I just
moved to Porto", June), then asks. Three checks, through `Engram.memories`:

- `current_first`: searching now, the first hit naming either value names the new one;
- `as_of_old`: searching "as of" a date between the two, the first such hit names the old;
- `old_kept`: a memory (not the turn's episode) that held before the change still holds the
  old value: a contradiction supersedes, never deletes. The new statement's own memories do
  not count, though they may name the old value ("The user quit Google").

Some scenarios hear an aside between the two statements: the same question's words said of
someone else ("My sister Marta lives in Madrid"). There the first hit itself must name the
value, now and "as of" then: the user's slot fact ranks above a turn that merely shares the
question's words, whatever the date asked about.

Some scenarios are learned out of order ("replayed": the June statement reaches memory
first, the January one after, as an old chat imported late does): the answers must be the
same, whatever order the statements came in.

A change is news: the old value held until it. A correction ("Actually I live in Porto, not
Lisbon") says the old value never held, so "as of" then must not name it; it is no currency
scenario (see the correction tests of `Engram.memories`). Nor is a second slot beside the
first ("I'm from Boston", then "I live in Chicago": both stay current).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from engram.types import Message
from engram.types._memory import Memory, MemoryHit

__all__ = ["CURRENCY_SCENARIOS", "CurrencyResult", "CurrencyScenario", "run_currency"]

_BEFORE = datetime(2023, 1, 5, 10, 0, tzinfo=UTC)
_ASIDE = datetime(2023, 2, 1, 10, 0, tzinfo=UTC)
_BETWEEN = datetime(2023, 3, 1, tzinfo=UTC)
_AFTER = datetime(2023, 6, 5, 10, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class CurrencyScenario:
    """A value stated, then replaced, then asked about."""

    name: str
    old_statement: str
    """What the user says first (in January 2023)."""
    new_statement: str
    """What the user says later (in June 2023)."""
    question: str
    old_value: str
    """A word only the old value's memories contain (case-insensitive), but for the new
    statement's, which may name it too ("I quit Google, I'm freelancing now")."""
    new_value: str
    """A word only the new value's memories contain: a hit naming both names the new one."""
    replayed: bool = False
    """Whether memory learns the new statement first and the old one after (each still
    dated when it was said)."""
    aside: str | None = None
    """What the user says of someone else in between (February), in the question's words but
    naming neither value; with one, the first hit must name the value asked for."""


CURRENCY_SCENARIOS: tuple[CurrencyScenario, ...] = (
    CurrencyScenario(
        "home", "I live in Lisbon.", "I just moved to Porto.", "Where do I live?", "lisbon", "porto"
    ),
    CurrencyScenario(
        "employer",
        "I work at Google.",
        "I started a new job, I work at Microsoft now.",
        "Where do I work?",
        "google",
        "microsoft",
    ),
    CurrencyScenario(
        "diet", "I am vegan.", "I am vegetarian now.", "What is my diet?", "vegan", "vegetarian"
    ),
    CurrencyScenario(
        "partner",
        "My boyfriend Tom is great.",
        "My girlfriend Sara is great.",
        "Who is my partner?",
        "tom",
        "sara",
    ),
    CurrencyScenario(
        "age", "I am 30 years old.", "I am 31 years old.", "How old am I?", "30", "31"
    ),
    CurrencyScenario(
        "school",
        "I study at MIT.",
        "I study at Stanford now.",
        "Where do I study?",
        "mit",
        "stanford",
    ),
    CurrencyScenario(
        "home-chat",
        "I live in Austin.",
        "we moved to denver last month",
        "where do I live now?",
        "austin",
        "denver",
    ),
    CurrencyScenario(
        "employer-quit",
        "I work at Google.",
        "I quit Google, I'm freelancing now",
        "where do I work these days?",
        "google",
        "freelancing",
    ),
    CurrencyScenario(
        "employer-started",
        "I work at Google.",
        "just started at Stripe!",
        "where do I work now?",
        "google",
        "stripe",
    ),
    CurrencyScenario(
        "diet-lapsed",
        "I've been vegan for 5 years.",
        "I'm not vegan anymore, I eat fish now",
        "do I eat fish?",
        "vegan",
        "fish",
    ),
    CurrencyScenario(
        "breakup",
        "My girlfriend Sara is a nurse.",
        "Sara and I broke up. I'm seeing Mia now",
        "who am I dating?",
        "sara",
        "mia",
    ),
    CurrencyScenario("birthday", "I'm 30.", "I just turned 31", "how old am I?", "30", "31"),
    CurrencyScenario(
        "promotion",
        "I'm a junior engineer.",
        "I got promoted to senior engineer",
        "what's my job title?",
        "junior",
        "senior",
    ),
    CurrencyScenario(
        "car",
        "I drive a Honda Civic.",
        "I drive a Tesla now",
        "what car do I drive?",
        "honda",
        "tesla",
    ),
    CurrencyScenario(
        "favourite-band",
        "my favourite band is Muse",
        "these days my favourite band is Arctic Monkeys",
        "what's my favourite band?",
        "muse",
        "arctic",
    ),
    CurrencyScenario(
        "engaged",
        "I'm single.",
        "I got engaged last weekend!",
        "am I seeing anyone?",
        "single",
        "engaged",
    ),
    CurrencyScenario(
        "phone",
        "I have an iPhone.",
        "I switched to a Pixel",
        "what phone do I have?",
        "iphone",
        "pixel",
    ),
    CurrencyScenario(
        "home-replayed",
        "I live in Lisbon.",
        "I just moved to Porto.",
        "Where do I live?",
        "lisbon",
        "porto",
        replayed=True,
    ),
    CurrencyScenario(
        "employer-replayed",
        "I work at Google.",
        "just started at Stripe!",
        "where do I work now?",
        "google",
        "stripe",
        replayed=True,
    ),
    CurrencyScenario(
        "home-aside",
        "I live in Lisbon.",
        "I just moved to Porto.",
        "Where do I live?",
        "lisbon",
        "porto",
        aside="My sister Marta lives in Madrid.",
    ),
    CurrencyScenario(
        "employer-aside",
        "I work at Google.",
        "just started at Stripe!",
        "where do I work now?",
        "google",
        "stripe",
        aside="My friend Tom works at Amazon.",
    ),
    CurrencyScenario(
        "partner-aside",
        "My girlfriend Sara is a nurse.",
        "Sara and I broke up. I'm seeing Mia now",
        "who am I dating?",
        "sara",
        "mia",
        aside="My brother Leo is dating Eva.",
    ),
)
"""The shipped scenarios: single-valued slots the deterministic extractor recognises, said as
textbook sentences (the first six) and as people chat: lower case, a plural subject, two
clauses, news ("just started at Stripe!"), a value ended and another named in one turn; two
learned out of order (`replayed`); and three with an aside about someone else in the
question's words (`aside`)."""


@dataclass(frozen=True, slots=True)
class CurrencyResult:
    """The checks of one scenario."""

    name: str
    current_first: bool
    as_of_old: bool
    old_kept: bool

    @property
    def passed(self) -> bool:
        """All three checks hold."""
        return self.current_first and self.as_of_old and self.old_kept


class CurrencyMemoriesProtocol(Protocol):
    """The part of `Engram.memories` the scenarios use."""

    def add(self, *, messages: Sequence[Message], user_id: str) -> Any: ...

    def search(
        self, query: str, *, user_id: str, limit: int, as_of: datetime | None = None
    ) -> Sequence[MemoryHit]: ...

    def get_all(
        self, *, user_id: str, include_superseded: bool, limit: int
    ) -> Sequence[Memory]: ...

    def delete_all(self, *, user_id: str) -> Any: ...


def run_currency(
    memories: CurrencyMemoriesProtocol,
    scenarios: Sequence[CurrencyScenario] = CURRENCY_SCENARIOS,
) -> list[CurrencyResult]:
    """Play each scenario under its own user (erased afterwards) and check the answers."""
    return [_play(memories, scenario) for scenario in scenarios]


def _play(memories: CurrencyMemoriesProtocol, scenario: CurrencyScenario) -> CurrencyResult:
    user = f"currency-{scenario.name}"
    said = [(scenario.old_statement, _BEFORE), (scenario.new_statement, _AFTER)]
    if scenario.aside is not None:
        said.insert(1, (scenario.aside, _ASIDE))
    for text, at in reversed(said) if scenario.replayed else said:
        memories.add(messages=[Message(role="user", content=text, created_at=at)], user_id=user)
    now = memories.search(scenario.question, user_id=user, limit=10)
    then = memories.search(scenario.question, user_id=user, limit=10, as_of=_BETWEEN)
    result = CurrencyResult(
        name=scenario.name,
        current_first=_first_value(now, scenario) == scenario.new_value,
        as_of_old=_first_value(then, scenario) == scenario.old_value,
        old_kept=any(
            _held_then(memory) and scenario.old_value in _words(memory.text)
            for memory in memories.get_all(user_id=user, include_superseded=True, limit=1000)
        ),
    )
    memories.delete_all(user_id=user)
    return result


def _held_then(memory: Memory) -> bool:
    """Whether `memory` is a fact (not a turn's episode) that held between the two statements:
    one of the old value's, not the new statement's ("The user quit Google" names the old
    value too, but would not show it was kept)."""
    return memory.kind != "episode" and (memory.valid_from is None or memory.valid_from < _BETWEEN)


def _first_value(hits: Sequence[MemoryHit], scenario: CurrencyScenario) -> str | None:
    """The value named by the best hit that names one (None if none does); with an aside,
    by the best hit itself."""
    for hit in hits[:1] if scenario.aside is not None else hits:
        words = _words(hit.memory.text)
        for value in (scenario.new_value, scenario.old_value):
            if value in words:
                return value
    return None


def _words(text: str) -> set[str]:
    """The words of `text`, casefolded, without the full stops and commas."""
    return set(text.casefold().replace(".", " ").replace(",", " ").split())
