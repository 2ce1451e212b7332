"""What the `update()` tests of slot facts share: the `mem` fixture, Ana's January turn
giving a slot fact, her profile's fields, and what a refused edit must leave as it was.

A pytest plugin: a test module loads it with `pytest_plugins = ["memory_updates"]`. Test
modules also import its helpers, before pytest loads it as a plugin, so it opts out of
assertion rewriting (it has no asserts: a test asserts what `stored` returns):
PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engram import Engram, Message
from engram.types._memory import Memory

__all__ = ["JAN", "fields", "mem", "slot", "stored"]

JAN = datetime(2026, 1, 5, 10, tzinfo=UTC)


@pytest.fixture
def mem(every_memory_engram: Engram) -> Engram:
    """An Engram on each memory backend."""
    return every_memory_engram


def slot(mem: Engram, text: str, attribute: str) -> Memory:
    """The fact filling `attribute` that Ana's turn `text`, said in January, gave."""
    turn = Message(role="user", content=text, created_at=JAN)
    added = mem.memories.add(messages=[turn], user_id="ana").added
    [fact] = [m for m in added if m.attribute == attribute]
    return fact


def fields(mem: Engram, as_of: datetime | None = None) -> dict[str, str]:
    """Ana's profile fields (as of `as_of`); none if she has no profile."""
    found = mem.memories.profile("ana", as_of=as_of)
    return dict(found.fields) if found else {}


def stored(mem: Engram, fact: Memory) -> tuple[Memory, list[str], dict[str, str]]:
    """Slot fact `fact` as stored, the actions of its history, and Ana's profile fields: an
    edit refused left them as they were (`(fact, ["add"], profile)`)."""
    actions = [c.action for c in mem.memories.history(fact.id)]
    return mem.memories.get(fact.id), actions, fields(mem)
