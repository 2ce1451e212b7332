"""Time helpers shared by the records: every stored time is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from engram._exceptions import InvalidInputError

__all__ = ["parse_optional_time", "parse_time", "utcnow"]


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def parse_time(value: str | datetime, what: str = "time") -> datetime:
    """An ISO-8601 string or a datetime, as an aware datetime (naive means UTC).

    Raises:
        InvalidInputError: `value` is neither a datetime nor an ISO-8601 string.
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise InvalidInputError(f"{what} is not an ISO-8601 time: {value!r}") from exc
    if not isinstance(value, datetime):
        raise InvalidInputError(f"{what} must be a datetime or an ISO-8601 string, not {value!r}")
    if not value.tzinfo:
        return value.replace(tzinfo=UTC)
    try:  # every stored time is UTC: a time past year 9999 there is no time at all
        value.astimezone(UTC)
    except OverflowError as exc:
        raise InvalidInputError(f"{what} is out of range in UTC: {value.isoformat()}") from exc
    return value


def parse_optional_time(value: str | datetime | None, what: str = "time") -> datetime | None:
    """`parse_time`, passing None through."""
    return None if value is None else parse_time(value, what)
