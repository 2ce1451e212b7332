"""An add keeps a new statement that differs from a close stored one in a mark: a day, a
part of the day, a count in words, a "cannot", a tense, a dislike or a name. The cheap
duplicate check asks what consolidation asks before a merge (`_marks.say_alike`), so
"drinks coffee every evening" is not lost to "drinks coffee every morning"; true
restatements stay duplicates, their provenance appended."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from engram import Engram
from engram.memory import decide, find_near_duplicates, resolve_ambiguous
from engram.memory._marks import say_alike
from engram.memory._revision_decision import added
from engram.types._memory import Memory

NOW = datetime(2026, 1, 1, tzinfo=UTC)

DIFFERENT = [
    ("The user can swim", "The user cannot swim"),
    ("The user plays tennis on Monday", "The user plays tennis on Tuesday"),
    ("The user drinks coffee every morning", "The user drinks coffee every evening"),
    ("The user works at Google", "The user worked at Google"),
    ("The user has two kids", "The user has three kids"),
    ("The user likes jazz", "The user dislikes jazz"),
    ("The user will move to Berlin", "The user moved to Berlin"),
    ("The user's sister is called Ana", "The user's sister is called Eva"),
]

SAME = [
    ("I live in Lisbon", "I live in Lisbon"),
    ("I love hiking", "I love hiking a lot"),
]


def fact(text: str) -> Memory:
    return Memory(text=text, user_id="u1", source_ids=(f"src-{text}",))


@pytest.mark.parametrize(("old", "new"), DIFFERENT)
def test_a_close_text_differing_in_a_mark_is_no_duplicate(old: str, new: str) -> None:
    decision = decide(fact(new), [(fact(old), 0.95)], now=NOW)
    assert decision.action != "noop", decision.reason
    assert not say_alike(fact(old), fact(new))


@pytest.mark.parametrize(("old", "new"), DIFFERENT)
def test_an_llm_same_verdict_does_not_make_it_a_duplicate(old: str, new: str) -> None:
    ambiguous = replace(added(fact(new), NOW, "ambiguous"), ambiguous_with=fact(old))
    assert resolve_ambiguous(ambiguous, "same", now=NOW).action != "noop"


@pytest.mark.parametrize(("old", "new"), DIFFERENT + SAME)
def test_add_and_consolidation_ask_the_same(old: str, new: str) -> None:
    merged = find_near_duplicates([fact(old), fact(new)], np.ones((2, 8)), 0.92)
    is_duplicate = decide(fact(new), [(fact(old), 0.95)], now=NOW).action == "noop"
    assert bool(merged) == is_duplicate


@pytest.fixture
def engram(tmp_path: Path) -> Iterator[Engram]:
    with Engram(str(tmp_path / "m.db")) as opened:
        yield opened


@pytest.mark.parametrize(("old", "new"), DIFFERENT)
def test_add_keeps_both_statements(engram: Engram, old: str, new: str) -> None:
    engram.memories.add(old, user_id="a", infer=False)
    report = engram.memories.add(new, user_id="a", infer=False)
    assert report.added or report.updated
    assert report.unchanged == 0  # kept, refined or superseding: no duplicate
    texts = {m.text for m in engram.memories.get_all(user_id="a")}
    assert new in texts


@pytest.mark.parametrize(("old", "new"), SAME)
def test_a_true_restatement_stays_a_duplicate(engram: Engram, old: str, new: str) -> None:
    first = engram.memories.add(old, user_id="a", infer=False).added[0]
    report = engram.memories.add(new, user_id="a", infer=False)
    assert report.unchanged == 1 and not report.added
    [kept] = engram.memories.get_all(user_id="a")
    assert kept.id == first.id
    assert len(kept.source_ids) > len(first.source_ids) or kept.text == old
