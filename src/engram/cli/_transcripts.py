"""Conversations to replay: the one shipped with Engram, and LoCoMo's format."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from engram._exceptions import InvalidInputError
from engram.eval._locomo import _read_json
from engram.types import Message

__all__ = ["Question", "Transcript", "load_bundled", "load_locomo", "split_turns"]

_LOCOMO_TIME = "%I:%M %p on %d %B, %Y"


@dataclass(frozen=True, slots=True)
class Question:
    """A question the demo asks of the conversation's long-term memory."""

    text: str
    as_of: datetime | None = None
    """Ask about what was true then (`memories.search(as_of=...)`)."""


@dataclass(frozen=True, slots=True)
class Transcript:
    """A recorded conversation, ready to replay into a session."""

    title: str
    user_id: str
    messages: tuple[Message, ...]
    tools: tuple[Mapping[str, Any], ...] = ()
    user_name: str | None = None
    """How the conversation names the user (facts are stated about them by name)."""
    questions: tuple[Question, ...] = ()
    """Questions for the demo's memory search."""


def load_bundled() -> Transcript:
    """The long sample conversation shipped with Engram (written for the demo)."""
    source = resources.files("engram.cli").joinpath("demo_conversation.json")
    data = json.loads(source.read_text(encoding="utf-8"))
    messages = tuple(
        Message.from_openai(item, created_at=datetime.fromisoformat(item["created_at"]))
        for item in data["messages"]
    )
    questions = tuple(
        Question(item["text"], datetime.fromisoformat(item["as_of"]) if "as_of" in item else None)
        for item in data.get("questions", ())
    )
    return Transcript(
        data["title"],
        data["user_id"],
        messages,
        tuple(data.get("tools", ())),
        user_name=data.get("user_name"),
        questions=questions,
    )


def load_locomo(path: str | Path, sample: str | None = None) -> Transcript:
    """One conversation of a LoCoMo file (the first, or the one whose `sample_id` is given).

    Speaker A plays the user and speaker B the assistant; image turns keep their caption.

    Raises:
        InvalidInputError: The file cannot be read, is not in LoCoMo's format (as
            `engram eval locomo` reads it), or has no conversation `sample`.
    """
    items = _read_json(Path(path))  # a JSON list, or the error `engram eval locomo` gives
    try:
        return _transcript(items, sample, path)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:  # a misshapen item
        raise InvalidInputError(f"{path} is not a LoCoMo file: {exc!r}") from exc


def _transcript(items: Sequence[Any], sample: str | None, path: str | Path) -> Transcript:
    chosen = [item for item in items if sample in (None, item.get("sample_id"))]
    if not chosen:
        raise InvalidInputError(f"no conversation {sample!r} in {path}")
    item = chosen[0]
    conversation = item["conversation"]
    a, b = conversation["speaker_a"], conversation["speaker_b"]
    system = Message(
        role="system",
        content=f"You are {b}, chatting with your friend {a}. Be warm and remember details.",
        created_at=_session_time(conversation, 1),
    )
    turns = [m for n in _session_numbers(conversation) for m in _session(conversation, n, a)]
    return Transcript(
        f"LoCoMo {item.get('sample_id')}: {a} & {b}",
        a,
        (system, *turns),
        user_name=a,
        questions=_locomo_questions(item.get("qa", ())),
    )


def _locomo_questions(qa: Sequence[Mapping[str, Any]], count: int = 3) -> tuple[Question, ...]:
    """The first `count` answerable questions (categories 1-4; 5 is adversarial)."""
    texts = [
        item["question"]
        for item in qa
        if item.get("category") in (1, 2, 3, 4) and isinstance(item.get("question"), str)
    ]
    return tuple(Question(text) for text in texts[:count])


def _session_numbers(conversation: Mapping[str, Any]) -> list[int]:
    numbers = [
        int(key.split("_")[1])
        for key, value in conversation.items()
        if key.startswith("session_") and key.count("_") == 1 and isinstance(value, list)
    ]
    return sorted(numbers)


def _session_time(conversation: Mapping[str, Any], number: int) -> datetime:
    raw = conversation.get(f"session_{number}_date_time", "")
    try:
        return datetime.strptime(raw, _LOCOMO_TIME).replace(tzinfo=UTC)
    except ValueError:
        return datetime(2023, 1, 1, tzinfo=UTC)


def _session(conversation: Mapping[str, Any], number: int, user: str) -> Iterator[Message]:
    start = _session_time(conversation, number)
    for index, turn in enumerate(conversation[f"session_{number}"]):
        text = turn["text"]
        if turn.get("blip_caption"):
            text = f"{text} [shares a photo: {turn['blip_caption']}]"
        yield Message(
            role="user" if turn["speaker"] == user else "assistant",
            content=text,
            name=_name(turn["speaker"]),
            created_at=start + timedelta(seconds=30 * index),
            metadata={"dia_id": turn.get("dia_id")},
        )


def _name(speaker: str) -> str:
    return "".join(c for c in speaker if c.isalnum() or c in "_-") or "speaker"


def split_turns(messages: Sequence[Message]) -> list[list[Message]]:
    """Group messages into turns; a turn starts at each user message."""
    turns: list[list[Message]] = []
    for message in messages:
        if message.role == "user" or not turns:
            turns.append([])
        turns[-1].append(message)
    return turns
