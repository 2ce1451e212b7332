"""`engram delete-user`: erase everything a tenant holds of a user (`Engram.delete_user`)."""

from __future__ import annotations

import json

import click

from engram.cli._options import console, db_options, existing_engram, handles_errors, literal

__all__ = ["delete_user"]


@click.command("delete-user")
@db_options
@click.argument("user_id")
@click.option("--json", "as_json", is_flag=True, help="The erasure report as one JSON line.")
@handles_errors
def delete_user(db: str, tenant: str, user_id: str, as_json: bool) -> None:
    """Erase a user: their sessions with messages, summaries and state, and every memory
    with what was derived from it (vectors, history, entities, relations, profile).

    Prints what was erased (--json: as JSON, for a record of the request). Agent
    checkpoints and event logs are kept by thread and stream, not by user: delete those
    with `engram threads delete` and an event log's `delete_stream`.
    """
    with existing_engram(db, tenant) as mem:
        erasure = mem.delete_user(user_id)
    memories = erasure.memories
    if as_json:
        report = {"user_id": user_id, "tenant": tenant, "sessions": erasure.sessions}
        report["memories"] = None if memories is None else memories._asdict()
        click.echo(json.dumps(report, ensure_ascii=False))
        return
    console.print(f"deleted user {literal(user_id)}: {erasure.sessions} session(s)", end="")
    if memories is None:
        console.print(" (no memory store)")
        return
    console.print(
        f", {memories.memories} memories, {memories.vectors} vector(s), "
        f"{memories.history} history entries, {memories.entities} entities, "
        f"{memories.relations} relation(s), {memories.profiles} profile(s)"
    )
