"""LongMemEval loader: one haystack per question, indexed the official way.

LongMemEval (Wu et al., ICLR 2025) gives every question its own chat history (~48 sessions
for the `_S` variant). Each question becomes one `EvalConversation` (one memory scope).

Following the official retrieval protocol (`src/retrieval/run_retrieval.py`):

- only USER turns are indexed (`roles=("user",)`); turn ids are `<session_id>_<n>`, n
  counted from 1 over all the turns of the session (assistant turns included), as there;
- abstention questions (`question_id` ending in `_abs`) are skipped;
- `evidence_turns` are the indexed turns marked `has_answer`; `evidence_sessions` are the
  question's `answer_session_ids`.

The file's items are sorted by question type, so `limit` picks evenly spaced questions
across the file (a stratified sample), not the first ones.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engram._exceptions import InvalidInputError
from engram.eval._records import EvalConversation, EvalQuestion, EvalSession, EvalTurn
from engram.types import Role

__all__ = ["load_longmemeval", "parse_longmemeval_date", "spread"]

_DATE_FORMAT = "%Y/%m/%d (%a) %H:%M"


def load_longmemeval(
    path: str | Path,
    *,
    limit: int | None = None,
    roles: Sequence[Role] = ("user",),
) -> list[EvalConversation]:
    """Read a LongMemEval file (`.json` or `.json.gz`) into one conversation per question.

    Args:
        path: An official-format file, e.g. `longmemeval_s_dev.json.gz`.
        limit: Keep `limit` evenly spaced non-abstention questions.
        roles: The turn roles to index (official protocol: user turns only).

    Returns:
        One `EvalConversation` per non-abstention question, holding that one question.

    Raises:
        InvalidInputError: The file is missing or not in LongMemEval's format.
    """
    items = _read_json(Path(path))
    try:
        raw = [item for item in items if not str(item["question_id"]).endswith("_abs")]
        return [_conversation(item, frozenset(roles)) for item in spread(raw, limit)]
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInputError(f"{path} is not a LongMemEval file: {exc!r}") from exc


def spread(items: Sequence[Any], limit: int | None) -> list[Any]:
    """`limit` items taken at evenly spaced positions (all of them when `limit` is None)."""
    if limit is None or limit >= len(items):
        return list(items)
    if limit <= 0:
        return []
    return [items[(index * len(items)) // limit] for index in range(limit)]


def parse_longmemeval_date(value: str) -> datetime:
    """LongMemEval's `2023/05/20 (Sat) 02:21` as an aware datetime (UTC)."""
    return datetime.strptime(value.strip(), _DATE_FORMAT).replace(tzinfo=UTC)


def _read_json(path: Path) -> list[Any]:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                data = json.load(handle)
        else:
            with path.open(encoding="utf-8") as handle:
                data = json.load(handle)
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"cannot read the LongMemEval file {path}: {exc}") from exc
    if not isinstance(data, list):
        raise InvalidInputError(f"{path} is not a LongMemEval file: expected a JSON list")
    return data


def _conversation(item: Mapping[str, Any], roles: frozenset[str]) -> EvalConversation:
    sessions = tuple(
        _session(str(session_id), parse_longmemeval_date(date), turns, roles)
        for session_id, date, turns in zip(
            item["haystack_session_ids"],
            item["haystack_dates"],
            item["haystack_sessions"],
            strict=True,
        )
    )
    evidence = frozenset(
        turn_id
        for session_id, turns in zip(
            item["haystack_session_ids"], item["haystack_sessions"], strict=True
        )
        for turn_id in _answer_turns(str(session_id), turns, roles)
    )
    question = EvalQuestion(
        id=str(item["question_id"]),
        text=str(item["question"]),
        category=str(item["question_type"]),
        evidence_turns=evidence,
        evidence_sessions=frozenset(str(sid) for sid in item["answer_session_ids"]),
        asked_at=parse_longmemeval_date(item["question_date"]),
    )
    return EvalConversation(id=question.id, sessions=sessions, questions=(question,))


def _session(
    session_id: str, at: datetime, raw: Sequence[Mapping[str, Any]], roles: frozenset[str]
) -> EvalSession:
    turns = tuple(
        EvalTurn(
            id=f"{session_id}_{position + 1}",
            session_id=session_id,
            role=turn["role"],
            speaker=str(turn["role"]),
            text=str(turn.get("content") or ""),
            at=at + timedelta(seconds=position),
        )
        for position, turn in enumerate(raw)
        if turn["role"] in roles
    )
    return EvalSession(id=session_id, at=at, turns=turns)


def _answer_turns(
    session_id: str, raw: Sequence[Mapping[str, Any]], roles: frozenset[str]
) -> Iterable[str]:
    for position, turn in enumerate(raw):
        if turn["role"] in roles and turn.get("has_answer") is True:
            yield f"{session_id}_{position + 1}"
