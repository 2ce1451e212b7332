"""A secret put in agent state, and where traces of it are: shared by the tests of checkpoint
erasure (`test_state_erasure_traces`) and of the migration cleaning older databases
(`test_checkpoints_dictionary_migration`)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any, TypedDict

import psycopg
from langgraph.graph import START, StateGraph

from engram.integrations.langgraph import EngramSaver

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
