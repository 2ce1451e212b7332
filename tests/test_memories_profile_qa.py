"""Profile edits through the public API, as a user coming from mem0 or Zep checks them: a
field removed by hand stays removed until the user says otherwise, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from engram import Engram, Message
from engram.memory import edit_profile, update_profile
from engram.types import Memory, UserProfile

pytest_plugins = ["servers"]

JAN = datetime(2026, 1, 10, tzinfo=UTC)
JUNE = datetime(2026, 6, 10, tzinfo=UTC)


def said(text: str, when: datetime | None = None) -> Message:
    return Message(role="user", content=text, created_at=when or datetime.now(UTC))


def test_a_field_removed_by_hand_is_not_brought_back_by_an_older_statement(
    memory_engram: Engram,
) -> None:
    """(was: removing a field forgot the edit, so a statement said before the removal, a
    replayed chat or an add that waited for the edit's lock, silently put it back)"""
    memories = memory_engram.memories
    memories.add(messages=[said("I work at Google.", JAN)], user_id="bob")
    memories.update_profile("bob", {"employer": None})
    memories.add(messages=[said("I joined Meta.", JAN)], user_id="bob")  # said before it
    profile = memories.profile("bob")
    assert profile is not None and "employer" not in profile.fields
    assert [m.text for m in memories.get_all(user_id="bob") if m.attribute] == []
    memories.add(messages=[said("I work at IBM now.")], user_id="bob")  # said after it
    profile = memories.profile("bob")
    assert profile is not None and profile.fields["employer"] == "IBM"
    assert memories.get(profile.sources["employer"]).attribute == "employer"


def diet(recorded_at: datetime) -> Memory:
    return Memory(
        text="The user is vegan",
        kind="profile",
        attribute="diet",
        metadata={"value": "vegan"},
        recorded_at=recorded_at,
    )


def test_a_removal_holds_against_memories_recorded_before_it_only() -> None:
    removed = edit_profile(
        UserProfile("u1", fields={"diet": "keto"}, sources={"diet": "m1"}),
        {"diet": None},
        user_id="u1",
        now=JUNE,
    )
    assert "diet" not in removed.fields
    assert "diet" not in update_profile(removed, [diet(JAN)], now=JUNE).fields
    later = update_profile(removed, [diet(datetime(2026, 7, 1, tzinfo=UTC))])
    assert later.fields["diet"] == "vegan"
