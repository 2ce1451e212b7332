"""A secret put in agent state, and where traces of it are: shared by the tests of checkpoint
erasure (`test_state_erasure_traces`) and of the migration cleaning older databases
(`test_checkpoints_dictionary_migration`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any, TypedDict

import psycopg
from langgraph.graph import START, StateGraph

from engram.integrations.langgraph import EngramSaver
from engram.state import headers

SECRET = "SecretFirst123 my password is hunter2"
MARK = b"SecretFirst123"


class State(TypedDict):
    notes: str


def run_secret_graph(saver: EngramSaver, thread_id: str) -> None:
    """The secret as the first input (a value kept inline in the header), then three inputs
    without it."""
    graph = StateGraph(State)
    graph.add_node("n", lambda state: {"notes": "processed"})
    graph.add_edge(START, "n")
    compiled = graph.compile(checkpointer=saver)
    config: Any = {"configurable": {"thread_id": thread_id}}
    compiled.invoke({"notes": SECRET}, config)
    for step in range(3):
        compiled.invoke({"notes": f"later {step}"}, config)


def holds(value: Any) -> bool:
    """Whether a column value holds `MARK`."""
    if isinstance(value, str):
        return MARK.decode() in value
    return isinstance(value, bytes | memoryview) and MARK in bytes(value)


def sqlite_traces(path: Path) -> list[str]:
    """Where `MARK` is: the files (database, log) whose bytes hold it, and the table columns
    whose values do."""
    found = [f.name for f in path.parent.iterdir() if f.name.startswith(path.name)]
    found = [name for name in found if MARK in (path.parent / name).read_bytes()]
    with closing(sqlite3.connect(path)) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            cursor = db.execute(f'SELECT * FROM "{table}"')
            columns = [column[0] for column in cursor.description]
            for row in cursor:
                found += [f"{table}.{c}" for c, v in zip(columns, row, strict=True) if holds(v)]
    return found


def postgres_traces(url: str) -> list[str]:
    """The table columns holding `MARK` in some row."""
    found = []
    with psycopg.connect(url) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' AND data_type IN ('bytea', 'text', 'jsonb')"
        ).fetchall()
        for table, column in columns:
            values = conn.execute(f'SELECT "{column}" FROM "{table}"').fetchall()
            found += [f"{table}.{column}" for (value,) in values if holds(value)]
    return found


# Threads as an older Engram wrote them: their dictionary their first header, values included.

_SQLITE_THREADS = "SELECT key, thread_id, zdict FROM checkpoint_threads"
_SQLITE_ROWS = "SELECT namespace, checkpoint_id, header FROM checkpoints WHERE thread_key = ?"
_SQLITE_SET_HEADER = (
    "UPDATE checkpoints SET header = ? WHERE thread_key = ? AND namespace = ? AND checkpoint_id = ?"
)
_SQLITE_SET_DICTIONARY = "UPDATE checkpoint_threads SET zdict = ? WHERE key = ?"
_POSTGRES_THREADS = "SELECT key, thread_id, zdict FROM engram_checkpoint_threads"
_POSTGRES_ROWS = (
    "SELECT namespace, checkpoint_id::text, header FROM engram_checkpoints WHERE thread_key = %s"
)
_POSTGRES_SET_HEADER = (
    "UPDATE engram_checkpoints SET header = %s"
    " WHERE thread_key = %s AND namespace = %s AND checkpoint_id = %s::uuid"
)
_POSTGRES_SET_DICTIONARY = "UPDATE engram_checkpoint_threads SET zdict = %s WHERE key = %s"


def _first_header(rows: Sequence[Any], zdict: bytes | None) -> bytes:
    """A thread's first header, plain (`rows`: namespace, checkpoint id, stored header)."""
    first = min(rows, key=lambda row: row[1])  # ids sort as their times
    return headers.plain_header(*headers.unpack_header(bytes(first[2]), zdict))


def _stored(zdict: Any) -> bytes | None:
    return None if zdict is None else bytes(zdict)


def sqlite_first_headers(db: sqlite3.Connection) -> dict[str, bytes]:
    """Each thread's first header, plain: the dictionary the old code gave it."""
    return {
        thread_id: _first_header(db.execute(_SQLITE_ROWS, (key,)).fetchall(), _stored(zdict))
        for key, thread_id, zdict in db.execute(_SQLITE_THREADS).fetchall()
    }


def set_sqlite_dictionaries(db: sqlite3.Connection, dictionaries: Mapping[str, bytes]) -> None:
    """Give each thread named in `dictionaries` that dictionary, its headers re-packed."""
    for key, thread_id, zdict in db.execute(_SQLITE_THREADS).fetchall():
        if thread_id in dictionaries:
            packer = headers.header_packer(dictionaries[thread_id])
            for namespace, checkpoint_id, header in db.execute(_SQLITE_ROWS, (key,)).fetchall():
                packed = headers.repack_header(bytes(header), _stored(zdict), packer)
                db.execute(_SQLITE_SET_HEADER, (packed, key, namespace, checkpoint_id))
            db.execute(_SQLITE_SET_DICTIONARY, (dictionaries[thread_id], key))


def postgres_first_headers(conn: psycopg.Connection[Any]) -> dict[str, bytes]:
    """`sqlite_first_headers` of a PostgreSQL database."""
    return {
        thread_id: _first_header(conn.execute(_POSTGRES_ROWS, (key,)).fetchall(), _stored(zdict))
        for key, thread_id, zdict in conn.execute(_POSTGRES_THREADS).fetchall()
    }


def set_postgres_dictionaries(
    conn: psycopg.Connection[Any], dictionaries: Mapping[str, bytes]
) -> None:
    """`set_sqlite_dictionaries` of a PostgreSQL database."""
    for key, thread_id, zdict in conn.execute(_POSTGRES_THREADS).fetchall():
        if thread_id in dictionaries:
            packer = headers.header_packer(dictionaries[thread_id])
            for namespace, checkpoint_id, header in conn.execute(_POSTGRES_ROWS, (key,)).fetchall():
                packed = headers.repack_header(bytes(header), _stored(zdict), packer)
                conn.execute(_POSTGRES_SET_HEADER, (packed, key, namespace, checkpoint_id))
            conn.execute(_POSTGRES_SET_DICTIONARY, (dictionaries[thread_id], key))
