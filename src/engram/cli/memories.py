"""`engram memories`: list, search, history, delete, entities, profile, export, import,
consolidate, forget and re-embed long-term memories."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import IO

import click
from rich.table import Table

from engram._engram import Engram
from engram._exceptions import InvalidInputError, NotFoundError
from engram._memory_transfer import parse_export
from engram._validation import check_as_of
from engram.cli._options import (
    F,
    console,
    count,
    db_options,
    duration,
    existing_engram,
    handles_errors,
    json_output,
    literal,
    read_json,
    removed_if_failed,
    timestamp,
    write_json,
)
from engram.config import load_settings
from engram.memory import ForgettingPolicy
from engram.stores._memory_rules import MAX_LIMIT
from engram.stores.memories import ErasureReport
from engram.types import utcnow
from engram.types._memory import Memory, Relation

__all__ = ["memories"]

user_option = click.option("--user", "user_id", required=True, help="The user whose memories.")
agent_option = click.option(
    "--agent",
    "agent_id",
    default=None,
    help="Only the memories this agent stored: with --user, those of the user; alone, the "
    "agent's own (stored without a user).",
)

kinds_option = click.option("--kind", "kinds", multiple=True, help="Only this kind (repeatable).")


def scope_options(command: F) -> F:
    """`--agent` and `--session`: only what that agent, or that session, stored of the user."""
    command = click.option(
        "--session", "session_id", default=None, help="Only what this session stored."
    )(command)
    return click.option("--agent", "agent_id", default=None, help="Only what this agent stored.")(
        command
    )


def _moment(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    """`--as-of` as the API reads `as_of` (`check_as_of`): a date alone is its day's end."""
    try:
        return check_as_of(value, "--as-of")
    except InvalidInputError as exc:
        raise click.BadParameter(str(exc)) from None


as_of_option = click.option(
    "--as-of",
    "as_of",
    default=None,
    metavar="TIME",
    callback=_moment,
    help="Only what was true then, by all Engram knows now (ISO-8601, UTC unless it names a "
    "zone; a date alone, e.g. 2026-03-01, is the end of that day: what became true on it "
    "counts).",
)


@click.group(name="memories")
def memories() -> None:
    """Inspect and maintain long-term memories: users, list, search, history, delete,
    entities, profile, export, import, consolidate, forget, reembed."""


@memories.command("list")
@db_options
@user_option
@kinds_option
@scope_options
@click.option("--all", "include_superseded", is_flag=True, help="Include superseded memories.")
@as_of_option
@click.option(
    "--limit", default=50, show_default=True, type=count(0, MAX_LIMIT), help="At most this many."
)
@handles_errors
def list_memories(
    db: str,
    tenant: str,
    user_id: str,
    kinds: tuple[str, ...],
    agent_id: str | None,
    session_id: str | None,
    include_superseded: bool,
    as_of: datetime | None,
    limit: int,
) -> None:
    """List a user's memories, latest event time first (when what each states became true,
    else when it was recorded: not the order of the 'recorded' column)."""
    with existing_engram(db, tenant, read_only=True) as mem:
        found = mem.memories.get_all(
            user_id=user_id,
            agent_id=agent_id,
            session_id=session_id,
            kinds=kinds or None,
            include_superseded=include_superseded,
            as_of=as_of,
            limit=limit,
        )
    table = Table("kind", "recorded", "text")
    table.add_column("id", no_wrap=True, overflow="fold")  # whole: history and delete take it
    for memory in found:
        recorded = timestamp(memory.recorded_at)
        table.add_row(
            literal(_kind(memory, as_of)),
            recorded,
            literal(_preview(memory.text)),
            literal(memory.id),
        )
    console.print(table if found else "no memories")


@memories.command()
@db_options
@user_option
@click.argument("query")
@kinds_option
@scope_options
@as_of_option
@click.option(
    "--limit", default=10, show_default=True, type=count(0, MAX_LIMIT), help="At most this many."
)
@handles_errors
def search(
    db: str,
    tenant: str,
    user_id: str,
    query: str,
    kinds: tuple[str, ...],
    agent_id: str | None,
    session_id: str | None,
    as_of: datetime | None,
    limit: int,
) -> None:
    """Search a user's memories (hybrid), with the parts of each score."""
    with existing_engram(db, tenant, read_only=True) as mem:
        hits = mem.memories.search(
            query,
            user_id=user_id,
            agent_id=agent_id,
            session_id=session_id,
            kinds=kinds or None,
            as_of=as_of,
            limit=limit,
            record_access=False,
        )
    table = Table("#", "score", "match", "boost", "dense", "lexical", "id", "text")
    for hit in hits:
        parts = hit.parts
        table.add_row(
            str(hit.rank),
            f"{hit.score:.3f}",
            f"{parts.base:.3f}",
            f"{parts.boost:.2f}",
            f"{parts.dense:.3f}",
            f"{parts.lexical:.3f}",
            literal(hit.memory.id),
            literal(_preview(hit.memory.text)),
        )
    console.print(table if hits else "no memories found")


@memories.command()
@db_options
@click.argument("memory_id")
@handles_errors
def history(db: str, tenant: str, memory_id: str) -> None:
    """Show every change of a memory, oldest first (an erased memory's is a tombstone)."""
    with existing_engram(db, tenant, read_only=True) as mem:
        try:
            changes = mem.memories.history(memory_id)
        except NotFoundError:
            raise click.ClickException(
                f"no memory {memory_id} (ids are shown whole by list)"
            ) from None
    table = Table("at", "action", "old", "new", "reason")
    for change in changes:
        table.add_row(
            timestamp(change.at),
            literal(change.action),
            literal(_preview(change.old_text or "", 40)),
            literal(_preview(change.new_text or "", 40)),
            literal(change.reason or ""),
        )
    console.print(table)


@memories.command()
@db_options
@click.argument("memory_id")
@click.option(
    "--with-sources",
    is_flag=True,
    help="Erase the turns it was extracted from too (they stay recallable otherwise).",
)
@handles_errors
def delete(db: str, tenant: str, memory_id: str, with_sources: bool) -> None:
    """Erase a memory: its row, vector, links, and the text of its history."""
    with existing_engram(db, tenant) as mem:
        report = mem.memories.delete(memory_id, with_sources=with_sources)
    turns = f" and {report.memories - 1} turn(s) it came from" if with_sources else ""
    console.print(
        f"deleted {literal(memory_id)}{turns}: {report.vectors} vector(s), "
        f"{report.history} history entries blanked, {report.relations} relation(s), "
        f"{report.profiles} profile(s) edited"
    )


@memories.command()
@db_options
@click.option(
    "--user",
    "user_ids",
    multiple=True,
    help="A user (repeatable; default: every user, or with --agent its own memories).",
)
@agent_option
@click.option(
    "--threshold",
    default=0.92,
    show_default=True,
    type=click.FloatRange(0.0, 1.0, min_open=True),
    help="The cosine from which two memories are near-duplicates.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per user, per line.")
@handles_errors
def consolidate(
    db: str,
    tenant: str,
    user_ids: tuple[str, ...],
    agent_id: str | None,
    threshold: float,
    as_json: bool,
) -> None:
    """Merge each user's near-duplicate memories (all provenance kept); with --agent, those
    the agent stored (alone: its own, stored without a user).

    Prints the merges and the bloat (the share of redundant near-duplicates) before and after
    (with --json, per user: {"user", "agent", "merges", "bloat_before", "bloat_after"}).
    """
    if math.isnan(threshold):  # FloatRange lets it through: no comparison fails
        raise click.BadParameter("nan is not a cosine", param_hint="--threshold")
    table = _scope_table(agent_id, "merges", "bloat before", "bloat after")
    with existing_engram(db, tenant) as mem:
        upkeep = mem.memories
        users = _users(mem, tenant, user_ids, every=agent_id is None, job="nothing to merge")
        for user_id in users:
            before = upkeep.bloat(user_id=user_id, agent_id=agent_id, threshold=threshold)
            merges = upkeep.consolidate(user_id=user_id, agent_id=agent_id, threshold=threshold)
            after = upkeep.bloat(user_id=user_id, agent_id=agent_id, threshold=threshold)
            if as_json:
                figures = {"merges": merges, "bloat_before": before, "bloat_after": after}
                _echo_json(user_id, agent_id, figures)
                continue
            table.add_row(_user_cell(user_id), str(merges), f"{before:.1%}", f"{after:.1%}")
    if not as_json:
        console.print(table)


@memories.command()
@db_options
@click.option("--user", "user_ids", multiple=True, help="A user (repeatable).")
@click.option("--all-users", is_flag=True, help="Every user of the tenant.")
@agent_option
@click.option("--max-age", help="Forget memories recorded longer ago than this: 12h, 90d, 2w.")
@click.option("--max-idle", help="Forget memories neither used nor recorded for this long.")
@click.option(
    "--min-access",
    type=click.IntRange(min=1),
    help="Memories recalled at least this often survive --max-age and --max-idle.",
)
@click.option(
    "--max-per-user",
    type=click.IntRange(min=0),
    help="Keep at most this many current memories per user and agent: the least important "
    "go first, then the longest unused (retired ones are history: only --max-age and "
    "--max-idle forget them).",
)
@click.option("--include-pinned", is_flag=True, help="Pinned memories may be forgotten too.")
@click.option("--dry-run", is_flag=True, help="List what would be forgotten; erase nothing.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON object per line: per user, what was erased; with --dry-run, per memory.",
)
@handles_errors
def forget(
    db: str,
    tenant: str,
    user_ids: tuple[str, ...],
    all_users: bool,
    agent_id: str | None,
    max_age: str | None,
    max_idle: str | None,
    min_access: int | None,
    max_per_user: int | None,
    include_pinned: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Erase the memories a forgetting policy drops (as `delete` erases: history text,
    vectors, links), for each user; with --agent, of those the agent stored (alone: its
    own, stored without a user). Pinned memories are exempt unless --include-pinned, and
    so are the facts the user's current profile fields come from."""
    if max_age is None and max_idle is None and max_per_user is None:
        raise click.UsageError("give a rule: --max-age, --max-idle or --max-per-user")
    if user_ids and all_users:
        raise click.UsageError("give --user (repeatable) or --all-users, not both")
    if not user_ids and not all_users and agent_id is None:
        raise click.UsageError(
            "give --user (repeatable) or --all-users, or --agent alone for the agent's own"
        )
    policy = ForgettingPolicy(
        max_age=None if max_age is None else duration(max_age, "--max-age"),
        max_idle=None if max_idle is None else duration(max_idle, "--max-idle"),
        min_access=min_access,
        max_per_user=max_per_user,
        keep_pinned=not include_pinned,
    )
    with existing_engram(db, tenant, read_only=dry_run) as mem:
        users = _users(mem, tenant, user_ids, every=all_users, job="nothing to forget")
        if dry_run:
            table = _scope_table(agent_id, "kind", "why", "text")
            table.add_column("id", no_wrap=True, overflow="fold")
            for user_id in users:
                doomed = mem.memories.forgettable(policy, user_id=user_id, agent_id=agent_id)
                for memory_id, reason in doomed:
                    memory = mem.memories.get(memory_id)
                    if as_json:
                        why = {
                            "id": memory_id,
                            "kind": _kind(memory),
                            "why": reason.removeprefix("policy: "),
                        }
                        _echo_json(user_id, agent_id, {**why, "text": memory.text})
                        continue
                    table.add_row(
                        _user_cell(user_id),
                        literal(_kind(memory)),
                        reason.removeprefix("policy: "),
                        literal(_preview(memory.text)),
                        literal(memory_id),
                    )
            if not as_json:
                console.print(table if table.row_count else "nothing to forget")
            return
        table = _scope_table(agent_id, "memories", "history", "entities", "relations", "profiles")
        for user_id in users:
            forgotten = mem.memories.forget(policy, user_id=user_id, agent_id=agent_id)
            report = forgotten or ErasureReport()
            erased = (report.memories, report.history, report.entities, report.relations)
            if as_json:
                _echo_json(user_id, agent_id, dict(report._asdict()))
                continue
            table.add_row(_user_cell(user_id), *map(str, erased), str(report.profiles))
    if not as_json:
        console.print(table)


@memories.command()
@db_options
@click.option("--json", "as_json", is_flag=True, help="Each id as a JSON string, one per line.")
@handles_errors
def users(db: str, tenant: str, as_json: bool) -> None:
    """List the users that have memories, one id per line (--json for ids that hold line
    breaks or control characters)."""
    with existing_engram(db, tenant, read_only=True) as mem:
        found = _every_user(mem)
    if not as_json:
        unprintable = [user_id for user_id in found if not user_id.isprintable()]
        if unprintable:  # a line break would make two ids, an escape sequence would be obeyed
            raise click.ClickException(
                f"user id {unprintable[0]!r} cannot be printed one per line: use --json"
            )
    for user_id in found:
        click.echo(json.dumps(user_id, ensure_ascii=False) if as_json else user_id)


@memories.command()
@db_options
@user_option
@json_output
@handles_errors
def export(db: str, tenant: str, user_id: str, output: IO[str]) -> None:
    """Export a user's memories (retired ones too), their history, entities, relations and
    profile as JSON."""
    with existing_engram(db, tenant, read_only=True) as mem:
        data = mem.memories.export(user_id=user_id)
    write_json(data, output)
    # On standard error: the export itself may be going to standard output.
    if count := len(data["memories"]):
        click.echo(f"exported {count} memories of user {user_id!r}", err=True)
    else:
        _warn_no_memories(user_id, tenant, "the export is empty")


@memories.command("import")
@db_options
@click.argument("file", type=click.File("r", encoding="utf-8"))
@handles_errors
def import_memories(db: str, tenant: str, file: IO[str]) -> None:
    """Import memories exported with `engram memories export` (all or nothing), embedding
    them with the configured embedder (ENGRAM_EMBEDDINGS__*, else the local model).

    Memories deleted or forgotten in the database since the export stay erased (skipped,
    with what they gave rise to); a user erased whole (`delete_all`) is restored."""
    data = read_json(file)
    # A malformed file is refused before the database is opened (or created).
    settings = load_settings()
    parse_export(data, tenant, settings.max_message_bytes, now=utcnow())
    # A failed import (the embedder down, say) leaves no new database file behind.
    with removed_if_failed(db, settings.memory_db), Engram(db, tenant=tenant) as mem:
        stored = mem.memories.import_(data)
    console.print(f"imported {len(stored)} memories")
    if stored.skipped_erased:
        console.print(
            f"skipped {stored.skipped_erased} memories erased since the export: an import "
            "never undoes an erasure"
        )
    if stored.erased:
        console.print(f"erased {stored.erased} memories the export says were erased there")


@memories.command()
@db_options
@click.option("--user", "user_id", default=None, help="Only this user's (default: every user's).")
@handles_errors
def reembed(db: str, tenant: str, user_id: str | None) -> None:
    """Embed the memories that have no vector of the current embedding model (the local
    one, or the endpoint ENGRAM_EMBEDDINGS__* names).

    Run it after changing the embedder: until then, memories embedded by another model,
    backend or dimension are found by their words (BM25) but not by their meaning.
    """
    with existing_engram(db, tenant) as mem:
        count = mem.memories.reembed(user_id=user_id)
        console.print(f"embedded {count} memories with {literal(mem.embedding_model_id)}")


@memories.command()
@db_options
@user_option
@click.option("--name", default=None, help="Only entities with this name or alias.")
@handles_errors
def entities(db: str, tenant: str, user_id: str, name: str | None) -> None:
    """List a user's entities with their aliases and relations (and when those held): its
    own ("partner_of João"), then those of others to it ("Ana partner_of" it)."""
    with existing_engram(db, tenant, read_only=True) as mem:
        found = mem.memories.entities(user_id=user_id, name=name)
        every = mem.memories.entities(user_id=user_id) if name is not None else found
        relations = mem.memories.relations(user_id=user_id)
    names = {entity.id: entity.name for entity in every}  # the targets --name leaves out too
    table = Table("entity", "kind", "aliases", "relations")
    for entity in found:
        held = [
            f"{r.relation} {names.get(r.target_id, r.target_id)} {_interval(r)}"
            for r in relations
            if r.source_id == entity.id
        ] + [
            f"{names.get(r.source_id, r.source_id)} {r.relation} it {_interval(r)}"
            for r in relations
            if r.target_id == entity.id and r.source_id != entity.id
        ]
        table.add_row(
            *map(literal, (entity.name, entity.kind, ", ".join(entity.aliases), "\n".join(held)))
        )
    console.print(table if found else f"no entities for {literal(user_id)}")


@memories.command()
@db_options
@user_option
@click.option("--set", "assignments", multiple=True, help="FIELD=VALUE to set (repeatable).")
@click.option("--unset", "removals", multiple=True, help="A field to remove (repeatable).")
@as_of_option
@handles_errors
def profile(
    db: str,
    tenant: str,
    user_id: str,
    assignments: tuple[str, ...],
    removals: tuple[str, ...],
    as_of: datetime | None,
) -> None:
    """Show a user's profile; --set and --unset edit it by hand first; --as-of shows it as
    it stood then (built from the memories true then)."""
    if as_of is not None and (assignments or removals):
        raise click.UsageError("--as-of shows a past profile: it cannot be edited")
    edits: dict[str, str | None] = dict.fromkeys(removals)
    for assignment in assignments:
        field, equals, value = assignment.partition("=")
        if not equals:
            raise click.BadParameter(
                f"expected FIELD=VALUE, got {assignment!r}", param_hint="--set"
            )
        edits[field.strip()] = value
    with existing_engram(db, tenant, read_only=not edits) as mem:
        current = mem.memories.profile(user_id, as_of=as_of)
        missing = [name for name in removals if current is None or name not in current.fields]
        if missing:  # a typo would otherwise leave the field it meant in place, silently
            raise click.BadParameter(
                f"{user_id} has no profile field {', '.join(map(repr, missing))}",
                param_hint="--unset",
            )
        shown = mem.memories.update_profile(user_id, edits) if edits else current
    if shown is None:
        then = "" if as_of is None else f" as of {as_of.isoformat()}"
        console.print(f"no profile for {literal(user_id)}{then}")
        return
    table = Table("field", "value", "source")
    for field, value in sorted(shown.fields.items()):
        table.add_row(literal(field), literal(value), literal(shown.sources.get(field, "")))
    console.print(table)


_PAGE = 1000


def _users(
    mem: Engram, tenant: str, user_ids: tuple[str, ...], *, every: bool, job: str
) -> list[str | None]:
    """The users a job goes through: those named, else every user if `every`, else none (a
    job of an agent's own memories: one scope without a user). A user named who has no
    memories (a typo, say) is warned of (`_warn_no_memories`: `job` says what the job does
    with them), not silently passed over."""
    if not user_ids:
        return list(_every_user(mem)) if every else [None]
    known = set(_every_user(mem))
    for user_id in dict.fromkeys(user_ids):
        if user_id not in known:
            _warn_no_memories(user_id, tenant, job)
    return list(user_ids)


def _warn_no_memories(user_id: str, tenant: str, consequence: str) -> None:
    """Warn, on standard error (standard output may be data: an export, --json lines), that
    `user_id` has no memories in `tenant`, so `consequence`; the exit code stays 0."""
    click.echo(
        f"user {user_id!r} has no memories in tenant {tenant!r}: {consequence} "
        "(`engram memories users` lists the users)",
        err=True,
    )


def _scope_table(agent_id: str | None, *columns: str) -> Table:
    """A table of a job's results, one row per user ("-": the agent's own memories), titled
    with the agent whose memories they are, if one."""
    title = None if agent_id is None else f"memories stored by agent {literal(agent_id)}"
    return Table("user", *columns, title=title)


def _echo_json(user_id: str | None, agent_id: str | None, figures: Mapping[str, object]) -> None:
    """One line of a job's --json output: the scope (user null: the agent's own), then
    `figures`."""
    line = {"user": user_id, "agent": agent_id, **figures}
    click.echo(json.dumps(line, ensure_ascii=False))


def _user_cell(user_id: str | None) -> str:
    return "-" if user_id is None else literal(user_id)


def _every_user(mem: Engram) -> list[str]:
    """The tenant's users with memories, read a page at a time, all before any changes."""
    found: list[str] = []
    while page := mem.memories.users(limit=_PAGE, offset=len(found)):
        found += page
    return found


def _interval(relation: Relation) -> str:
    start = relation.valid_from.date().isoformat() if relation.valid_from else ""
    end = relation.valid_to.date().isoformat() if relation.valid_to else ""
    return f"({start} - {end})" if start or end else ""


def _kind(memory: Memory, as_of: datetime | None = None) -> str:
    """The memory's kind, marked if Engram has retired it: "(superseded)" if by `as_of` (by
    now without one), "(later superseded)" if after it (it was current then)."""
    if memory.superseded_at is None:
        return memory.kind
    later = as_of is not None and memory.superseded_at > as_of
    return memory.kind + (" (later superseded)" if later else " (superseded)")


def _preview(text: str, width: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
