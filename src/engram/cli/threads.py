"""`engram threads`: list, show, history, fork, rollback, prune and delete agent threads.

Works on any thread in the database (a SQLite file, PostgreSQL or Redis), including
LangGraph threads written by `EngramSaver` (their values are shown with LangGraph's
serializer when LangGraph is installed).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

import click
from rich.table import Table

from engram._exceptions import NotFoundError
from engram.cli._options import (
    PostgresStore,
    RedisStore,
    StoreOpeners,
    console,
    count,
    db_options,
    duration,
    handles_errors,
    literal,
    store_at,
)
from engram.serde import JsonSerializer, SerializerProtocol
from engram.state.values import decode_value
from engram.stores.checkpoints import BaseCheckpointer, GetCheckpoint
from engram.stores.sqlite import checkpoints_base as checkpoints_schema
from engram.stores.sqlite.checkpoints import SqliteCheckpointer
from engram.types._checkpoint import (
    CheckpointInfo,
    EncodedList,
    PruneReport,
    RetentionPolicy,
    StoredValue,
)

__all__ = ["threads"]

namespace_option = click.option(
    "--namespace", "-n", default="", show_default=True, help="Checkpoint namespace."
)


@click.group(name="threads")
def threads() -> None:
    """Inspect and manage agent checkpoints: threads, history, forks, retention."""


def _postgres() -> tuple[PostgresStore[BaseCheckpointer], int]:
    """The PostgreSQL checkpointer class, and how many migrations its schema has."""
    from engram.stores.postgres.checkpoints import PostgresCheckpointer
    from engram.stores.postgres.checkpoints_base import MIGRATIONS

    return PostgresCheckpointer, len(MIGRATIONS)


def _redis() -> RedisStore[BaseCheckpointer]:
    """The Redis checkpointer class."""
    from engram.stores.redis.checkpoints import RedisCheckpointer

    return RedisCheckpointer


_CHECKPOINTERS = StoreOpeners[BaseCheckpointer](
    checkpoints_schema.COMPONENT,
    len(checkpoints_schema.MIGRATIONS),
    sqlite=SqliteCheckpointer.from_path,
    postgresql=_postgres,
    redis=_redis,
)
"""The checkpointer of each backend (`store_at`)."""


def _checkpointer(db: str) -> AbstractContextManager[BaseCheckpointer]:
    """The checkpointer at `db`, for the commands that write."""
    return store_at(db, _CHECKPOINTERS)


def _reading(db: str) -> AbstractContextManager[BaseCheckpointer]:
    """`_checkpointer` for the commands that only read: a SQLite file is left as it is (an
    Engram database without checkpoints reads as one without threads)."""
    return store_at(db, _CHECKPOINTERS, read_only=True)


@threads.command("list")
@db_options
@click.option("--limit", default=50, show_default=True, type=count(), help="At most this many.")
@handles_errors
def list_threads(db: str, tenant: str, limit: int) -> None:
    """List threads, newest first: checkpoints (#), last write, retention, newest checkpoint."""
    with _reading(db) as checkpointer:
        found = checkpointer.list_threads(tenant, limit=limit)
    table = Table("thread", "#", "updated", "retention")
    table.add_column("head", no_wrap=True, min_width=36)
    for thread in found:
        children = [ns for ns in thread.namespaces if ns]
        name = thread.thread_id + (f" (+{len(children)} ns)" if children else "")
        table.add_row(
            literal(name),
            str(thread.checkpoint_count),
            _when(thread.updated_at),
            _policy(thread.retention),
            literal(thread.head_id or "-"),
        )
    console.print(table if found else "no threads")


@threads.command()
@db_options
@click.argument("thread_id")
@click.option("--checkpoint", "checkpoint_id", help="A checkpoint id (default: the newest).")
@namespace_option
@handles_errors
def show(db: str, tenant: str, thread_id: str, checkpoint_id: str | None, namespace: str) -> None:
    """Show a checkpoint of a thread: its header and channel values."""
    with _reading(db) as checkpointer:
        op = GetCheckpoint(tenant, thread_id, namespace, checkpoint_id)
        stored = checkpointer.batch([op])[0]
    if stored is None:
        raise NotFoundError(f"no checkpoint {checkpoint_id or '(newest)'} in thread {thread_id}")
    info = stored.info
    console.print(
        f"[bold]{literal(info.thread_id)}[/] checkpoint [bold]{literal(info.id)}[/] (#{info.seq})"
    )
    console.print(f"parent {literal(info.parent_id or '-')}  created {_when(info.created_at)}")
    console.print(f"metadata {literal(json.dumps(dict(info.metadata), default=str))}")
    pending = len(stored.pending_writes or ())
    console.print(f"pending writes {pending}" if pending else "no pending writes")
    table = Table("channel", "version", "value")
    for channel, value in sorted((stored.values or {}).items()):
        version = str(info.versions.get(channel, ""))
        table.add_row(literal(channel), literal(version), literal(_preview(value)))
    console.print(table)


@threads.command()
@db_options
@click.argument("thread_id")
@namespace_option
@click.option(
    "--limit", default=20, show_default=True, type=count(1), help="At most this many, newest first."
)
@click.option("--before", help="Only checkpoints older than this id (paging).")
@handles_errors
def history(
    db: str, tenant: str, thread_id: str, namespace: str, limit: int, before: str | None
) -> None:
    """List a thread's checkpoints, newest first, with what changed at each."""
    with _reading(db) as checkpointer:
        found = checkpointer.history(
            tenant, thread_id, namespace=namespace, before=before, limit=limit
        )
    if not found:
        raise NotFoundError(f"no checkpoints in thread {thread_id}")
    by_id = {info.id: info for info in found}
    table = Table("#")
    table.add_column("checkpoint", no_wrap=True, min_width=36)
    for name in ("created", "step", "changed"):
        table.add_column(name)
    for newer, info in zip([None, *found], found, strict=False):
        made = " ".join(str(info.metadata.get(key, "")) for key in ("source", "step")).strip()
        table.add_row(
            str(info.seq),
            literal(info.id),
            _when(info.created_at),
            literal(made),
            literal(_changed(info, by_id.get(info.parent_id or ""), newer)),
        )
    console.print(table)


@threads.command()
@db_options
@click.argument("thread_id")
@click.option("--checkpoint", "checkpoint_id", help="Fork from this checkpoint (default: newest).")
@click.option("--to", "new_thread_id", required=True, help="The new thread's id.")
@namespace_option
@handles_errors
def fork(
    db: str,
    tenant: str,
    thread_id: str,
    checkpoint_id: str | None,
    new_thread_id: str,
    namespace: str,
) -> None:
    """Start a new thread from a checkpoint of this one (time travel)."""
    with _checkpointer(db) as checkpointer:
        info = checkpointer.fork(
            tenant, thread_id, new_thread_id, checkpoint_id, namespace=namespace
        )
    console.print(
        f"forked {literal(thread_id)} into [bold]{literal(info.thread_id)}[/] "
        f"at checkpoint {literal(info.id)}"
    )


@threads.command()
@db_options
@click.argument("thread_id")
@click.argument("checkpoint_id")
@namespace_option
@handles_errors
def rollback(db: str, tenant: str, thread_id: str, checkpoint_id: str, namespace: str) -> None:
    """Make an earlier checkpoint's values the thread's newest (history is kept); its
    pending questions (interrupts) are asked again."""
    with _checkpointer(db) as checkpointer:
        info = checkpointer.rollback(tenant, thread_id, checkpoint_id, namespace=namespace)
    console.print(
        f"rolled {literal(thread_id)} back to {literal(checkpoint_id)}: "
        f"new head {literal(info.id)} (#{info.seq})"
    )


@threads.command()
@db_options
@click.argument("thread_ids", nargs=-1)
@click.option("--keep-last", type=count(1), help="Keep the newest N checkpoints.")
@click.option("--keep-every", type=count(1), help="Also keep every Kth checkpoint (by #).")
@click.option("--max-age", help="Drop checkpoints older than this: 90s, 30m, 12h, 7d, 2w.")
@click.option("--save", is_flag=True, help="Store the policy on the threads for later prunes.")
@click.option(
    "--dry-run", is_flag=True, help="Report what would be removed; change nothing (nor --save)."
)
@handles_errors
def prune(
    db: str,
    tenant: str,
    thread_ids: tuple[str, ...],
    keep_last: int | None,
    keep_every: int | None,
    max_age: str | None,
    save: bool,
    dry_run: bool,
) -> None:
    """Apply retention to THREAD_IDS (default: every thread).

    Without a policy option each thread's saved policy applies. The newest checkpoint of a
    thread is always kept, and every kept checkpoint still rebuilds exactly.
    """
    policy = None
    if keep_last is not None or keep_every is not None or max_age is not None:
        age = None if max_age is None else duration(max_age, "--max-age")
        if age is not None and age <= timedelta(0):
            raise click.BadParameter(f"{max_age!r}: must be positive", param_hint="--max-age")
        policy = RetentionPolicy(keep_last=keep_last, keep_every=keep_every, max_age=age)
    if save and (policy is None or not thread_ids):
        raise click.UsageError("--save needs a policy option and thread ids")
    with (_reading if dry_run else _checkpointer)(db) as checkpointer:
        saved = thread_ids if save and not dry_run else ()
        for thread_id in saved:  # a typo would get a policy and become a thread of its own
            if checkpointer.get_thread(tenant, thread_id) is None:
                raise NotFoundError(f"no thread {thread_id}")
        for thread_id in saved:
            checkpointer.set_retention(tenant, thread_id, policy)
        report = checkpointer.prune(tenant, thread_ids or None, policy=policy, dry_run=dry_run)
    _print_report(report, dry_run)


@threads.command()
@db_options
@click.argument("thread_id")
@click.confirmation_option(prompt="Delete the thread and all its checkpoints?")
@handles_errors
def delete(db: str, tenant: str, thread_id: str) -> None:
    """Delete a thread with all its checkpoints, values and pending writes."""
    with _checkpointer(db) as checkpointer:
        deleted = checkpointer.delete_thread(tenant, thread_id)
    if not deleted:
        raise NotFoundError(f"no thread {thread_id}")
    console.print(f"deleted {literal(thread_id)}")


def _print_report(report: PruneReport, dry_run: bool) -> None:
    verb = "would remove" if dry_run else "removed"
    table = Table("threads", "checkpoints kept", f"checkpoints {verb}", "values", "items")
    table.add_row(
        str(report.threads),
        str(report.checkpoints_kept),
        str(report.checkpoints_deleted),
        str(report.values_deleted),
        str(report.blobs_deleted),
    )
    console.print(table)


def _when(moment: datetime) -> str:
    return moment.strftime("%m-%d %H:%M")


def _policy(policy: RetentionPolicy | None) -> str:
    if policy is None:
        return "-"
    parts = [f"last {policy.keep_last}" if policy.keep_last else ""]
    parts.append(f"every {policy.keep_every}" if policy.keep_every else "")
    parts.append(f"max age {policy.max_age}" if policy.max_age else "")
    return ", ".join(part for part in parts if part) or "keep all"


def _changed(
    info: CheckpointInfo, parent: CheckpointInfo | None, newer: CheckpointInfo | None
) -> str:
    """The channels whose version differs from the parent's, and how it was made."""
    if info.parent_id is None:
        changed = ", ".join(sorted(info.versions)) or "-"
    elif parent is None:
        changed = "?"
    else:
        changed = (
            ", ".join(sorted(ch for ch, v in info.versions.items() if parent.versions.get(ch) != v))
            or "-"
        )
    notes = []
    if parent is not None and newer is not None and newer.parent_id != info.id:
        notes.append(f"from #{parent.seq}")
    if "rollback_to" in info.metadata:
        notes.append("rollback")
    forked = info.metadata.get("forked_from")
    if isinstance(forked, Mapping):  # else a run's own metadata (LangGraph copies configurable)
        notes.append(f"fork of {forked.get('thread_id')}")
    return " ".join([changed, *(f"({note})" for note in notes)])


def _serdes() -> Iterator[SerializerProtocol]:
    yield JsonSerializer()
    try:
        from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
    except ImportError:  # pragma: no cover - LangGraph is optional
        return
    yield JsonPlusSerializer()


def _preview(stored: StoredValue, width: int = 100) -> str:
    for serde in _serdes():
        try:
            return _short(decode_value(serde, stored), width)
        except Exception:  # this serializer cannot read it: try the next
            continue
    items = stored.items if isinstance(stored, EncodedList) else (stored,)
    tags = ", ".join(sorted({tag for tag, _ in items})) or "empty"
    return f"<{tags}, {sum(len(data) for _, data in items)} bytes>"


def _short(value: Any, width: int) -> str:
    if isinstance(value, list):
        head = f"[{len(value)} items]"
        return f"{head} last: {_short(value[-1], width - len(head) - 7)}" if value else "[]"
    if hasattr(value, "type") and hasattr(value, "content"):  # a chat message
        text = f"{value.type}: {value.content}"
    elif isinstance(value, Mapping | str | int | float | bool) or value is None:
        text = json.dumps(value, default=str, ensure_ascii=False)
    else:
        text = repr(value)
    return text if len(text) <= width else text[: max(width - 1, 1)] + "…"
