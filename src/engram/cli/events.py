"""`engram events`: browse agent event logs (in a SQLite file, PostgreSQL or Redis) and
rebuild their state."""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from typing import Any, cast

import click
from rich.table import Table

from engram.cli._options import (
    PostgresStore,
    RedisStore,
    StoreOpeners,
    console,
    count,
    db_options,
    handles_errors,
    literal,
    store_at,
    timestamp,
)
from engram.state.events import Replay, event_summary, merge_custom_payloads, replay
from engram.stores.events import BaseEventLog
from engram.stores.sqlite import events as events_schema
from engram.stores.sqlite.events import SqliteEventLog
from engram.types._event import EVENT_TYPES, Event, EventType
from engram.types._working import output_text

__all__ = ["events"]

_REDUCERS = {"summary": event_summary, "merge": merge_custom_payloads}


@click.group()
def events() -> None:
    """Browse agent event logs (streams) and replay them."""


def _postgres() -> tuple[PostgresStore[BaseEventLog], int]:
    """The PostgreSQL event log class, and how many migrations its schema has."""
    from engram.stores.postgres.base import EVENT_MIGRATIONS
    from engram.stores.postgres.events import PostgresEventLog

    return PostgresEventLog, len(EVENT_MIGRATIONS)


def _redis() -> RedisStore[BaseEventLog]:
    """The Redis event log class."""
    from engram.stores.redis.events import RedisEventLog

    return RedisEventLog


_EVENT_LOGS = StoreOpeners[BaseEventLog](
    events_schema.COMPONENT,
    len(events_schema.MIGRATIONS),
    sqlite=SqliteEventLog.from_path,
    postgresql=_postgres,
    redis=_redis,
)
"""The event log of each backend (`store_at`)."""


def _open_log(db: str) -> AbstractContextManager[BaseEventLog]:
    """The event log of `db`, for commands that only read: a SQLite file is left as it is
    (an Engram database without events reads as one without streams)."""
    return store_at(db, _EVENT_LOGS, read_only=True)


@events.command("list")
@db_options
@click.option("--prefix", help="Only streams whose id starts with this.")
@click.option("--limit", default=50, show_default=True, type=count(), help="At most this many.")
@handles_errors
def list_streams(db: str, tenant: str, prefix: str | None, limit: int) -> None:
    """List streams, most recently appended to first."""
    with _open_log(db) as log:
        found = log.list_streams(tenant, prefix=prefix, limit=limit)
    table = Table("stream", "events", "created", "updated")
    for info in found:
        table.add_row(
            literal(info.stream_id),
            str(info.version),
            timestamp(info.created_at),
            timestamp(info.updated_at),
        )
    console.print(table if found else "no streams")


@events.command()
@db_options
@click.argument("stream_id")
@click.option(
    "--from", "from_version", type=count(), help="First version to show (default: last N)."
)
@click.option(
    "--limit",
    default=20,
    show_default=True,
    type=count(1),
    help="At most this many events.",
)
@click.option(
    "--type", "types", multiple=True, type=click.Choice(sorted(EVENT_TYPES)), help="Only these."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@handles_errors
def tail(
    db: str,
    tenant: str,
    stream_id: str,
    from_version: int | None,
    limit: int,
    types: tuple[str, ...],
    as_json: bool,
) -> None:
    """Show a stream's events (of the --type given): the newest N, or N from a version on."""
    with _open_log(db) as log:
        info = log.get_stream(tenant, stream_id)
        if info is None:
            raise click.ClickException(f"no stream {stream_id!r} in tenant {tenant!r}")
        kinds = cast(tuple[EventType, ...], types) or None
        if from_version is None:
            found = _newest(log, tenant, stream_id, info.version, limit, kinds)
        else:
            found = log.read(tenant, stream_id, from_version=from_version, limit=limit, types=kinds)
    if as_json:
        for event in found:
            click.echo(json.dumps(event.to_dict(), ensure_ascii=False))
        return
    console.print(f"[bold]{literal(stream_id)}[/]: {info.version} events")
    table = Table("#", "time (UTC)", "type", "content")
    for event in found:
        kind = event.type if event.name is None else f"{event.type}:{event.name}"
        table.add_row(
            str(event.version), timestamp(event.created_at), literal(kind), literal(preview(event))
        )
    console.print(table if found else "no events in that range")


def _newest(
    log: BaseEventLog,
    tenant: str,
    stream_id: str,
    version: int,
    limit: int,
    kinds: tuple[EventType, ...] | None,
) -> list[Event]:
    """The newest `limit` events of `kinds` (any if None), oldest first: read backwards from
    `version`, in windows that double while the events of those kinds are sparse."""
    found: list[Event] = []
    end, window = version, limit
    while end >= 1 and len(found) < limit:
        start = max(end - window + 1, 1)
        found[:0] = log.read(tenant, stream_id, from_version=start, to_version=end, types=kinds)
        end, window = start - 1, window * 2
    return found[-limit:]


@events.command("replay")
@db_options
@click.argument("stream_id")
@click.option(
    "--reducer",
    type=click.Choice(sorted(_REDUCERS)),
    default="summary",
    show_default=True,
    help="summary: counts and last event per type; merge: custom payloads merged (RFC 7396).",
)
@click.option("--to", "to_version", type=count(), help="Rebuild the state as of this version.")
@click.option("--json", "as_json", is_flag=True, help="Print the state as JSON.")
@handles_errors
def replay_stream(
    db: str, tenant: str, stream_id: str, reducer: str, to_version: int | None, as_json: bool
) -> None:
    """Rebuild a stream's state by replaying its events through a built-in reducer."""
    with _open_log(db) as log:
        if log.get_stream(tenant, stream_id) is None:
            raise click.ClickException(f"no stream {stream_id!r} in tenant {tenant!r}")
        rebuilt = replay(log, tenant, stream_id, _REDUCERS[reducer], {}, to_version=to_version)
    if as_json:
        click.echo(json.dumps(rebuilt.state, ensure_ascii=False, indent=2))
        return
    console.print(
        f"[bold]{literal(stream_id)}[/] at version {rebuilt.version} "
        f"({rebuilt.events_read} events replayed)"
    )
    if reducer == "summary":
        _print_summary(rebuilt)
    else:
        console.print(literal(json.dumps(rebuilt.state, ensure_ascii=False, indent=2)))


def _print_summary(rebuilt: Replay[dict[str, Any]]) -> None:
    table = Table("type", "count", "last #", "last content")
    counts: dict[str, int] = rebuilt.state.get("counts", {})
    for kind in sorted(counts):
        last = Event.from_dict(rebuilt.state["last"][kind])
        table.add_row(literal(kind), str(counts[kind]), str(last.version), literal(preview(last)))
    console.print(table if counts else "no events")


def preview(event: Event, width: int = 100) -> str:
    """One line describing an event's content."""
    payload = event.payload
    if event.type == "thought":
        text = str(payload.get("text", ""))
    elif event.type == "action":
        arguments = json.dumps(payload.get("arguments", {}), ensure_ascii=False)
        text = f"{payload.get('tool', '?')}({arguments})"
    elif event.type == "observation":
        text = f"{payload.get('tool') or 'tool'} → {output_text(payload.get('output', ''))}"
    elif event.type == "error":
        text = str(payload.get("message", ""))
    else:
        text = json.dumps(dict(payload), ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
