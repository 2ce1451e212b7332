"""Belief-currency scenarios: after a fact changes, does the new value win?

Each scenario tells memory one value ("I live in Lisbon", January), then a new one ("I just
moved to Porto", June), then asks. Three checks, through `Engram.memories`:

- `current_first`: searching now, the first hit naming either value names the new one;
- `as_of_old`: searching "as of" a date between the two, the first such hit names the old;
- `old_kept`: a memory (not the turn's episode) still holds the old value: a contradiction
  supersedes, never deletes.
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
    """A word only the old value's memories contain (case-insensitive)."""
    new_value: str
    """A word only the new value's memories contain."""


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
)
"""The shipped scenarios: single-valued slots the deterministic extractor recognises."""


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
    for text, at in ((scenario.old_statement, _BEFORE), (scenario.new_statement, _AFTER)):
        memories.add(messages=[Message(role="user", content=text, created_at=at)], user_id=user)
    now = memories.search(scenario.question, user_id=user, limit=10)
    then = memories.search(scenario.question, user_id=user, limit=10, as_of=_BETWEEN)
    result = CurrencyResult(
        name=scenario.name,
        current_first=_first_value(now, scenario) == scenario.new_value,
        as_of_old=_first_value(then, scenario) == scenario.old_value,
        old_kept=any(
            memory.kind != "episode" and scenario.old_value in _words(memory.text)
            for memory in memories.get_all(user_id=user, include_superseded=True, limit=1000)
        ),
    )
    memories.delete_all(user_id=user)
    return result


def _first_value(hits: Sequence[MemoryHit], scenario: CurrencyScenario) -> str | None:
    """The value named by the best hit that names one (None if none does)."""
    for hit in hits:
        words = _words(hit.memory.text)
        for value in (scenario.new_value, scenario.old_value):
            if value in words:
                return value
    return None


def _words(text: str) -> set[str]:
    """The words of `text`, casefolded, without the full stops and commas."""
    return set(text.casefold().replace(".", " ").replace(",", " ").split())
