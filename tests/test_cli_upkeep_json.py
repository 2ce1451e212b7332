"""`engram memories consolidate --json` and `forget --json` (with and without --dry-run):
one JSON object per line, for nightly jobs to read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from engram import Engram
from engram.cli import main
from engram.stores.memories import VectorRecord
from engram.types._memory import Memory


@pytest.fixture
def db(tmp_path: Path) -> str:
    """Two near-duplicate memories of ana and one other, stored without revision."""
    path = str(tmp_path / "memories.db")
    texts = ["Ana is vegetarian", "Ana is vegetarian and has been for years", "Ana likes jazz"]
    with Engram(path) as mem:
        vectors = mem.embedder.embed(texts)
        vectors[1] = vectors[0] + 0.01 * vectors[1]
        memories = [
            Memory(text, id=f"m{index}", user_id="ana", tenant=mem.tenant, importance=0.5)
            for index, text in enumerate(texts)
        ]
        records = [VectorRecord(mem.embedding_model_id, row) for row in vectors]
        mem.resources.memory_store().put_memories(mem.tenant, memories, vectors=records)
    return path


def lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines()]


def test_consolidate_json(db: str) -> None:
    result = CliRunner().invoke(main, ["memories", "consolidate", "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    [line] = lines(result.output)
    assert line == {
        "user": "ana",
        "agent": None,
        "merges": 1,
        "bloat_before": pytest.approx(1 / 3),
        "bloat_after": 0.0,
    }


def test_forget_json_dry_run_then_erasure(db: str) -> None:
    command = ["memories", "forget", "--db", db, "--user", "ana", "--max-per-user", "2", "--json"]
    listed = CliRunner().invoke(main, [*command, "--dry-run"])
    assert listed.exit_code == 0, listed.output
    [doomed] = lines(listed.output)
    assert doomed["why"] == "max_per_user" and doomed["user"] == "ana"
    erased = CliRunner().invoke(main, command)
    assert erased.exit_code == 0, erased.output
    [report] = lines(erased.output)
    assert (report["user"], report["memories"], report["vectors"]) == ("ana", 1, 1)
    with Engram(db) as mem:
        assert doomed["id"] not in {m.id for m in mem.memories.get_all(user_id="ana")}
    again = CliRunner().invoke(main, [*command, "--dry-run"])
    assert again.exit_code == 0 and again.output == ""
