"""SQLite checkpointer specifics: what is stored, garbage collection, caches across processes."""

from __future__ import annotations

import sqlite3
import zlib
from pathlib import Path
from typing import Any

import pytest

from engram._exceptions import BackendError, ConflictError, MigrationRequired
from engram._ids import new_id
from engram.state import headers
from engram.state.values import encode_value
from engram.stores._cache import BoundedCache
from engram.stores.checkpoints import CopyThread, PutCheckpoint
from engram.stores.sqlite import SqliteConnection
from engram.stores.sqlite.checkpoints import SqliteCheckpointer
from engram.types._checkpoint import ChannelWrite, CheckpointInfo, RetentionPolicy

T = "default"
TABLES = ("checkpoints", "checkpoint_values", "checkpoint_blobs", "checkpoint_writes")


def message(i: int) -> dict[str, Any]:
    return {"role": "user" if i % 2 else "assistant", "content": f"message {i} " + "x" * 180}


def open_file(path: Path, **kwargs: Any) -> SqliteCheckpointer:
    return SqliteCheckpointer(SqliteConnection(path), **kwargs)


def values(checkpointer: SqliteCheckpointer, thread: str, checkpoint_id: str | None = None) -> Any:
    got = checkpointer.get(T, thread, checkpoint_id)
    assert got is not None
    return got.values


def stored_bytes(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return {
            "headers": db.execute("SELECT sum(length(header)) FROM checkpoints").fetchone()[0],
            "values": db.execute(
                "SELECT coalesce(sum(length(data)), 0) FROM checkpoint_values"
            ).fetchone()[0],
            "blobs": db.execute(
                "SELECT coalesce(sum(length(data)), 0) FROM checkpoint_blobs"
            ).fetchone()[0],
        }


def rows(path: Path, table: str) -> int:
    with sqlite3.connect(path) as db:
        count: int = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        return count


def orphans(path: Path) -> int:
    """Blobs no value row references (list snapshots and deltas list their hashes)."""
    with sqlite3.connect(path) as db:
        referenced = set()
        for (data,) in db.execute("SELECT data FROM checkpoint_values WHERE kind != 0"):
            referenced |= {data[i : i + 16] for i in range(0, len(data), 16)}
        stored = {bytes(h) for (h,) in db.execute("SELECT hash FROM checkpoint_blobs")}
        return len(stored - referenced)


def test_storage_grows_with_what_changed(tmp_path: Path) -> None:
    """100 checkpoints of a list growing to 20 messages cost about the messages, once."""
    path = tmp_path / "c.db"
    checkpointer = open_file(path)
    messages: list[dict[str, Any]] = []
    profile = {"bio": "y" * 2000}  # big, never changes: stored once
    for step in range(100):
        if step % 5 == 0:
            messages = [*messages, message(step // 5)]
        checkpointer.put(T, "t", {"messages": messages, "profile": profile, "step": step})
    sizes = stored_bytes(path)
    message_bytes = sum(len(str(m)) for m in messages)
    assert sizes["blobs"] < 1.2 * message_bytes  # every message stored once
    assert sizes["values"] < 2500 + 20 * 16 * 8  # the profile once, plus list hash deltas
    assert sizes["headers"] < 100 * 150  # ~100 bytes of header per checkpoint
    full_copies = 100 * (2000 + message_bytes / 2)
    assert sum(sizes.values()) < full_copies / 10
    assert values(checkpointer, "t")["messages"] == messages


def test_prune_and_delete_leave_nothing_behind(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    checkpointer = open_file(path, snapshot_every=3)
    items: list[str] = []
    for step in range(30):
        items = items[1:] + [f"i{step}"] if step % 4 == 3 else [*items, f"i{step}"]
        checkpointer.put(T, "t", {"l": items, "n": step, "big": "z" * 300 + str(step // 7)})
    before = rows(path, "checkpoint_blobs"), rows(path, "checkpoint_values")
    checkpointer.prune(T, policy=RetentionPolicy(keep_last=2))
    after = rows(path, "checkpoint_blobs"), rows(path, "checkpoint_values")
    assert after[0] < before[0] and after[1] < before[1] and orphans(path) == 0
    assert values(checkpointer, "t")["l"] == items
    checkpointer.delete_thread(T, "t")
    assert all(rows(path, table) == 0 for table in (*TABLES, "checkpoint_threads"))


def test_a_deleted_thread_is_recreated_by_a_writer_that_cached_it(tmp_path: Path) -> None:
    """Process A caches the thread's key; process B deletes the thread; A's next put works."""
    a, b = open_file(tmp_path / "c.db"), open_file(tmp_path / "c.db")
    a.put(T, "t", {"l": ["x"]})
    b.delete_thread(T, "t")
    a.put(T, "t", {"l": ["x", "y"]})
    assert values(b, "t") == {"l": ["x", "y"]}
    assert [h.seq for h in b.history(T, "t")] == [1]


def test_a_delta_base_pruned_by_another_process(tmp_path: Path) -> None:
    """A's cached base of a list was pruned by B: A stores a snapshot instead."""
    a, b = open_file(tmp_path / "c.db"), open_file(tmp_path / "c.db")
    first = a.put(T, "t", {"l": ["x"]})
    a.put(T, "t", {"l": ["y"]})
    b.prune(T, policy=RetentionPolicy(keep_last=1))  # the version ["x"] is gone
    a.put(T, "t", {"l": ["x", "z"]}, parent_id=first.id)  # parent (and base) no longer stored
    assert values(b, "t") == {"l": ["x", "z"]}
    assert orphans(tmp_path / "c.db") == 0


def step_put(
    checkpointer: SqliteCheckpointer, thread: str, parent: str | None, number: int, items: list[str]
) -> CheckpointInfo:
    """A put as LangGraph's saver makes them: its own id and versions, the parent named, only
    the changed channels written (the writer's fast path once the thread is cached)."""
    changed = {"step": number} if number % 2 else {"step": number, "l": items}
    versions = {"step": f"{number:04d}", "l": f"{number - number % 2:04d}"}
    writes = tuple(
        ChannelWrite(channel, versions[channel], encode_value(checkpointer.serde, value))
        for channel, value in changed.items()
    )
    op = PutCheckpoint(T, thread, "", new_id(), parent, versions, writes)
    info: CheckpointInfo = checkpointer.batch([op])[0]
    return info


def test_cached_puts_after_another_process_deleted_or_recreated_the_thread(
    tmp_path: Path,
) -> None:
    """A's caches (thread key, parent header, list base) outlive the thread: B deletes it, or
    deletes and recreates it (a new key). A's next puts, small or list, still land whole."""
    path = tmp_path / "c.db"
    a, b = open_file(path), open_file(path)
    for recreate in (False, True):
        thread, parent, items = f"t{recreate}", None, list[str]()
        for number in range(6):
            items = [*items, f"m{number}"] if number % 2 == 0 else items
            parent = step_put(a, thread, parent, number, items).id
        b.delete_thread(T, thread)
        if recreate:
            b.put(T, thread, {"l": ["other"]})
        for number in range(6, 10):
            items = [*items, f"m{number}"] if number % 2 == 0 else items
            parent = step_put(a, thread, parent, number, items).id
            assert values(b, thread) == {"step": number, "l": items}
        assert orphans(path) == 0


def test_bounded_caches_forget_their_oldest_entries() -> None:
    cache: BoundedCache[str, int] = BoundedCache(2)
    for number, key in enumerate("abca"):
        cache.put(key, number)
    assert dict(cache) == {"c": 2, "a": 3}  # "a" went first, then "b"
    cache.discard("missing")
    cache.discard("c")
    assert "c" not in cache and len(cache) <= 2


def test_copy_into_a_thread_with_another_dictionary_is_refused(tmp_path: Path) -> None:
    checkpointer = open_file(tmp_path / "c.db")
    checkpointer.put(T, "dst", {"other": ["channels"]})
    checkpointer.put(T, "src", {"a": 1, "b": "long" * 10})
    last = checkpointer.put(T, "src", {"a": 2, "b": "long" * 10})
    with pytest.raises(ConflictError, match="thread dst exists already"):
        checkpointer.batch([CopyThread(T, "src", "dst")])
    assert checkpointer.batch([CopyThread(T, "src", "new")]) == [2]
    fresh = open_file(tmp_path / "c.db")  # no cached headers: decompresses what was stored
    assert values(fresh, "dst") == {"other": ["channels"]}
    assert values(fresh, "new") == {"a": 2, "b": "long" * 10}
    assert values(fresh, "new", last.id) == {"a": 2, "b": "long" * 10}
    assert len(fresh.history(T, "new")) == 2


def test_small_scalars_stay_in_the_header(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    checkpointer = open_file(path)
    for step in range(10):
        big = "b" * (headers.INLINE_MAX + 1)
        checkpointer.put(T, "t", {"step": step, "flag": None, "big": big})
    assert rows(path, "checkpoint_values") == 1  # only `big`, once
    assert values(open_file(path), "t")["step"] == 9


def test_migrations_are_idempotent_and_refuse_newer_schemas(tmp_path: Path) -> None:
    conn = SqliteConnection(tmp_path / "c.db")
    SqliteCheckpointer(conn)
    SqliteCheckpointer(conn)
    conn.conn.execute("UPDATE engram_migrations SET version = 99 WHERE component = 'checkpoints'")
    with pytest.raises(MigrationRequired):
        SqliteCheckpointer(conn)
    conn.close()


def test_headers_of_files_written_before_zstd_are_still_read() -> None:
    zdict = headers.plain_header({"a": "1", "b": "1"}, None, {"a": ("json", b"1")})
    plain = headers.plain_header({"a": "2", "b": "1"}, ("msgpack", b"extra"), {"a": ("json", b"2")})
    deflate = zlib.compressobj(1, zlib.DEFLATED, -10, 2, zlib.Z_FIXED, zdict)
    old = b"\x01" + deflate.compress(plain) + deflate.flush()
    new = headers.pack_header(plain, headers.header_packer(zdict))
    assert new[:1] == b"\x02"
    expected = headers.Header({"a": "2", "b": "1"}, ("msgpack", b"extra"), {"a": ("json", b"2")})
    assert headers.unpack_header(old, zdict) == headers.unpack_header(new, zdict) == expected


def test_a_corrupt_header_is_a_backend_error() -> None:
    zdict = headers.plain_header({"a": "1"}, None, {})
    plain = headers.plain_header({"a": "2"}, None, {})
    stored = headers.pack_header(plain, headers.header_packer(zdict))
    with pytest.raises(BackendError, match="corrupt checkpoint header"):
        headers.unpack_header(stored[:-3], zdict)
