"""Time helpers shared by the records: every stored time is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["parse_optional_time", "parse_time", "utcnow"]


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def parse_time(value: str | datetime) -> datetime:
    """An ISO-8601 string or a datetime, as an aware datetime (naive means UTC)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_optional_time(value: str | datetime | None) -> datetime | None:
    """`parse_time`, passing None through."""
    return None if value is None else parse_time(value)
