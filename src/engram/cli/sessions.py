"""`engram sessions`: list, show, export, import and delete conversations."""

from __future__ import annotations

import json
from typing import IO, Any

import click
from rich.table import Table

from engram._conversation import Conversation
from engram._engram import Engram
from engram._exceptions import ConflictError, NotFoundError
from engram._session_flows import import_flow
from engram.cli._options import (
    console,
    count,
    db_options,
    existing_engram,
    handles_errors,
    json_output,
    literal,
    read_json,
    timestamp,
    write_json,
)
from engram.config import load_settings
from engram.types import Message, Session, utcnow

__all__ = ["sessions"]


@click.group()
def sessions() -> None:
    """Browse and manage conversation sessions."""


def _inspected(mem: Engram, session_id: str) -> Conversation:
    """A live session, read without extending its lifetime: looking at a session from the
    CLI is not using it (`Engram.session` would touch it)."""
    found = mem.store.get_session(mem.tenant, session_id, now=utcnow())
    if found is None:
        raise NotFoundError(f"no session {session_id!r} in tenant {mem.tenant!r}")
    return Conversation(mem, found)


@sessions.command("list")
@db_options
@click.option("--user", "user_id", help="Only this user's sessions.")
@click.option("--limit", default=50, show_default=True, type=count(), help="At most this many.")
@handles_errors
def list_sessions(db: str, tenant: str, user_id: str | None, limit: int) -> None:
    """List sessions, most recently updated first."""
    with existing_engram(db, tenant, read_only=True) as mem:
        found = mem.sessions(user_id=user_id, limit=limit)
    table = Table("session", "user", "messages", "tokens", "updated", "expires")
    for s in found:
        table.add_row(
            literal(s.id),
            literal(s.user_id or "-"),
            str(s.message_count),
            str(s.token_count),
            timestamp(s.updated_at),
            timestamp(s.expires_at) if s.expires_at else "never",
        )
    console.print(table if found else "no sessions")


@sessions.command()
@db_options
@click.argument("session_id")
@click.option(
    "--last", default=20, show_default=True, type=count(), help="Show the newest N messages."
)
@handles_errors
def show(db: str, tenant: str, session_id: str, last: int) -> None:
    """Show a session: its record, running summary and newest messages."""
    with existing_engram(db, tenant, read_only=True) as mem:
        conversation = _inspected(mem, session_id)
        info, summary = conversation.info(), conversation.summary()
        messages = conversation.messages(last=last)
    _print_session(info)
    if summary is not None:
        console.print(
            f"[bold]summary[/] of {summary.message_count} messages "
            f"(through #{summary.through_seq}, {summary.tokens} tokens):\n"
            f"{literal(summary.text)}\n"
        )
    table = Table("#", "role", "tokens", "content", show_lines=False)
    for m in messages:
        table.add_row(str(m.seq), literal(m.role), str(m.tokens), literal(_preview(m)))
    console.print(table)


@sessions.command()
@db_options
@click.argument("session_id")
@json_output
@handles_errors
def export(db: str, tenant: str, session_id: str, output: IO[str]) -> None:
    """Export a session (messages, summary, state) as JSON."""
    with existing_engram(db, tenant, read_only=True) as mem:
        data = _inspected(mem, session_id).export()
    write_json(data, output)


@sessions.command("import")
@db_options
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--as", "session_id", help="Import under this session id.")
@handles_errors
def import_session(db: str, tenant: str, file: IO[str], session_id: str | None) -> None:
    """Import a session exported with `engram sessions export` (all or nothing)."""
    data = read_json(file)
    _check_export(data, tenant, session_id)
    with Engram(db, tenant=tenant) as mem:
        try:
            conversation = mem.import_session(data, session_id=session_id)
        except ConflictError as exc:  # a second restore of one backup, most often
            raise click.ClickException(
                f"{exc}: nothing was imported; to keep both, import under another id with --as"
            ) from exc
        info = conversation.info()
    console.print(f"imported {literal(info.id)}: {info.message_count} messages")


@sessions.command()
@db_options
@click.argument("session_id")
@handles_errors
def delete(db: str, tenant: str, session_id: str) -> None:
    """Delete a session with its messages, summary and state."""
    with existing_engram(db, tenant) as mem:
        deleted = _inspected(mem, session_id).delete()
    console.print(f"{'deleted' if deleted else 'no session'} {literal(session_id)}")


def _check_export(data: Any, tenant: str, session_id: str | None) -> None:
    """Refuse a malformed export before the database is opened (or created): the import
    checks everything before its first storage operation, so running it up to there is the
    whole check."""
    flow = import_flow(
        data,
        tenant=tenant,
        session_id=session_id,
        max_bytes=load_settings().max_message_bytes,
        now=utcnow(),
    )
    next(flow)
    flow.close()


def _print_session(s: Session) -> None:
    console.print(
        f"[bold]{literal(s.id)}[/]  user={literal(s.user_id or '-')}  "
        f"agent={literal(s.agent_id or '-')}"
    )
    console.print(
        f"{s.message_count} messages, {s.token_count} tokens ({literal(s.encoding)}); "
        f"created {timestamp(s.created_at)}, updated {timestamp(s.updated_at)}"
    )
    if s.state:
        console.print(f"state: {literal(json.dumps(dict(s.state), ensure_ascii=False))}")
    console.print()


def _preview(message: Message, width: int = 100) -> str:
    text = message.text.replace("\n", " ")
    if message.tool_calls:
        text = (text + " " if text else "") + "→ " + ", ".join(c.name for c in message.tool_calls)
    return text if len(text) <= width else text[: width - 1] + "…"
