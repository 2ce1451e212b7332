"""Row codecs shared by the SQL backends (SQLite and PostgreSQL).

JSON values (content, tool calls, metadata, state, payloads) are stored as compact `text`, so
the bytes written come back exactly (and PostgreSQL's jsonb, which cannot hold U+0000, is not
involved). Content and tool calls are kept in OpenAI form. Times differ per backend (SQLite
text, PostgreSQL timestamptz), so each backend decodes a row's `created_at` itself.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Protocol

from engram._exceptions import InvalidInputError
from engram.types import ContentPart, Message, ToolCall

__all__ = ["Row", "dumps", "message_from_row", "message_json"]


class Row(Protocol):
    """A fetched row, by column name (a `sqlite3.Row` or a psycopg dict row)."""

    def __getitem__(self, key: str, /) -> Any: ...


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def dumps(value: Any) -> str:
    """Compact JSON text; `InvalidInputError` if `value` is not JSON-serialisable."""
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"not JSON-serialisable: {exc}") from exc


def message_json(message: Message) -> tuple[str, str | None, str]:
    """A message's JSON columns: content, tool calls (None without any) and metadata."""
    content = message.content
    calls = message.tool_calls
    return (
        dumps(content if isinstance(content, str) else [part.to_openai() for part in content]),
        dumps([call.to_openai() for call in calls]) if calls else None,
        dumps(dict(message.metadata)) if message.metadata else "{}",
    )


def message_from_row(row: Row, created_at: datetime) -> Message:
    """A `Message` from a stored row and its decoded `created_at` (the hot path of every
    read: no detours)."""
    content = json.loads(row["content"])
    tool_calls = row["tool_calls"]
    metadata = row["metadata"]
    return Message(
        role=row["role"],
        content=content if isinstance(content, str) else _parts(content),
        name=row["name"],
        tool_calls=tuple(map(ToolCall.from_openai, json.loads(tool_calls))) if tool_calls else (),
        tool_call_id=row["tool_call_id"],
        metadata=json.loads(metadata) if metadata != "{}" else {},
        id=row["id"],
        created_at=created_at,
        session_id=row["session_id"],
        seq=row["seq"],
        tokens=row["tokens"],
        encoding=row["encoding"],
    )


def _parts(raw: list[dict[str, Any]]) -> tuple[ContentPart, ...]:
    return tuple(ContentPart.from_openai(part) for part in raw)
