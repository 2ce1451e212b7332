"""LoCoMo loader: conversations, dated sessions and evidence-labelled questions.

LoCoMo (Maharana et al., ACL 2024) is a list of long two-person conversations. Each becomes
one `EvalConversation` (one memory scope): both speakers are users of the memory, so every
turn is ingested with role `user` and the speaker's name.

Normalisation, following the data README:

- Only the sessions present as turn lists are real (some `session_N_date_time` have none).
- An image turn's text gets its BLIP caption appended as `[image: ...]` (the text-only setting
  of the LoCoMo paper); the `query` field (the image search string) is ignored.
- Evidence labels are parsed leniently: `"D8:6; D9:17"` and `"D9:1 D4:4 D4:6"` are split,
  `"D:11:26"` is read as `D11:26`, `"D30:05"` as `D30:5`; labels that name no existing turn
  (`"D10:19"` in conv-42, `"D4:36"` in conv-47, `"D"`) are dropped.
- Questions of category 5 (adversarial) and questions left without evidence are skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engram._exceptions import InvalidInputError
from engram.eval._records import EvalConversation, EvalQuestion, EvalSession, EvalTurn

__all__ = ["LOCOMO_CATEGORIES", "load_locomo", "parse_evidence", "parse_locomo_date"]

LOCOMO_CATEGORIES: Mapping[int, str] = {
    1: "multi-hop",
    2: "temporal",
    3: "open-domain",
    4: "single-hop",
}
"""The evaluated categories (LoCoMo's own numbering); 5 (adversarial) is excluded."""

_SESSION_KEY = re.compile(r"session_(\d+)")
_EVIDENCE = re.compile(r"D:?(\d+):0*(\d+)")
_DATE_FORMAT = "%I:%M %p on %d %B, %Y"


def load_locomo(path: str | Path, *, limit: int | None = None) -> list[EvalConversation]:
    """Read LoCoMo's JSON file into normalised conversations.

    Args:
        path: The `locomo10.json`-format file (e.g. `locomo_dev.json`).
        limit: Read only the first `limit` conversations.

    Returns:
        One `EvalConversation` per conversation, with its evaluated questions.

    Raises:
        InvalidInputError: The file is missing or not in LoCoMo's format.
    """
    raw = _read_json(Path(path))
    items = raw[:limit] if limit is not None else raw
    try:
        return [_conversation(item) for item in items]
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInputError(f"{path} is not a LoCoMo file: {exc!r}") from exc


def parse_evidence(labels: Iterable[Any], known: Iterable[str]) -> frozenset[str]:
    """Normalise LoCoMo evidence labels to existing turn ids.

    Example:
        ```python
        parse_evidence(["D8:6; D9:17", "D:1:02", "D"], {"D8:6", "D9:17", "D1:2"})
        # frozenset({"D8:6", "D9:17", "D1:2"})
        ```
    """
    existing = set(known)
    found = {
        f"D{match[1]}:{match[2]}" for label in labels for match in _EVIDENCE.finditer(str(label))
    }
    return frozenset(found & existing)


def _read_json(path: Path) -> list[Any]:
    try:
        with path.open(encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"cannot read the LoCoMo file {path}: {exc}") from exc
    if not isinstance(data, list):
        raise InvalidInputError(f"{path} is not a LoCoMo file: expected a JSON list")
    return data


def _conversation(item: Mapping[str, Any]) -> EvalConversation:
    conversation = item["conversation"]
    sessions = tuple(_sessions(conversation))
    known = {turn.id for session in sessions for turn in session.turns}
    sample_id = str(item["sample_id"])
    questions = tuple(
        question
        for index, qa in enumerate(item.get("qa", ()))
        if (question := _question(sample_id, index, qa, known)) is not None
    )
    return EvalConversation(id=sample_id, sessions=sessions, questions=questions)


def _sessions(conversation: Mapping[str, Any]) -> Iterable[EvalSession]:
    numbers = sorted(
        int(match[1])
        for key, value in conversation.items()
        if (match := _SESSION_KEY.fullmatch(key)) and isinstance(value, list) and value
    )
    for number in numbers:
        at = parse_locomo_date(conversation[f"session_{number}_date_time"])
        turns = _turns(f"D{number}", at, conversation[f"session_{number}"])
        yield EvalSession(id=f"D{number}", at=at, turns=turns)


def _turns(session_id: str, at: datetime, raw: Sequence[Mapping[str, Any]]) -> tuple[EvalTurn, ...]:
    return tuple(
        EvalTurn(
            id=str(turn["dia_id"]),
            session_id=session_id,
            role="user",
            speaker=str(turn["speaker"]),
            text=_turn_text(turn),
            at=at + timedelta(seconds=position),
        )
        for position, turn in enumerate(raw)
    )


def _turn_text(turn: Mapping[str, Any]) -> str:
    text = str(turn.get("text", ""))
    caption = turn.get("blip_caption")
    return f"{text} [image: {caption}]" if caption else text


def parse_locomo_date(value: str) -> datetime:
    """LoCoMo's `1:56 pm on 8 May, 2023` as an aware datetime (UTC)."""
    return datetime.strptime(value.strip(), _DATE_FORMAT).replace(tzinfo=UTC)


def _question(
    sample_id: str, index: int, qa: Mapping[str, Any], known: set[str]
) -> EvalQuestion | None:
    category = LOCOMO_CATEGORIES.get(int(qa["category"]))
    if category is None:
        return None
    evidence = parse_evidence(qa.get("evidence", ()), known)
    if not evidence:
        return None
    return EvalQuestion(
        id=f"{sample_id}/{index}",
        text=str(qa["question"]),
        category=category,
        evidence_turns=evidence,
        evidence_sessions=frozenset(turn.split(":")[0] for turn in evidence),
    )
