"""`delete(memory_id, with_sources=True)` forgets what was said too: the turns the memory
was extracted from go with it, the other memories they gave stay. Without it, the turns
stay as said (documented on `delete`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from embedders import HashingEmbedder
from engram import Engram
from engram.cli import main

pytest_plugins = ["servers"]


@pytest.fixture
def mem(memory_engram: Engram) -> Engram:
    return memory_engram


def _texts(mem: Engram, user: str) -> list[str]:
    hits = mem.memories.search("Where do I live?", user_id=user, record_access=False)
    return [hit.memory.text for hit in hits]


def test_deleting_with_sources_forgets_the_turn_that_said_it(mem: Engram) -> None:
    mem.memories.add("I live in Porto. I work at Google.", user_id="ana")
    [home] = [m for m in mem.memories.get_all(user_id="ana") if m.attribute == "home_city"]
    report = mem.memories.delete(home.id, with_sources=True)
    assert report.memories == 2
    assert not any("Porto" in text for text in _texts(mem, "ana"))
    assert mem.memories.profile("ana").fields == {"employer": "Google"}
    session = mem.session("s1", user_id="ana")
    session.add("user", "Where do I live?")
    block = session.context(model="gpt-4o", budget=2000, recall=5).messages[0].text
    assert "Porto" not in block


def test_deleting_without_sources_keeps_the_turn_as_said(mem: Engram) -> None:
    mem.memories.add("I live in Porto", user_id="bo")
    [home] = [m for m in mem.memories.get_all(user_id="bo") if m.attribute == "home_city"]
    assert mem.memories.delete(home.id, with_sources=False).memories == 1
    assert _texts(mem, "bo") == ["I live in Porto"]


def test_the_cli_deletes_with_sources(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    with Engram(db, embedder=HashingEmbedder()) as mem:
        mem.memories.add("I live in Porto", user_id="cy")
        [home] = [m for m in mem.memories.get_all(user_id="cy") if m.attribute == "home_city"]
    result = CliRunner().invoke(main, ["memories", "delete", "--db", db, "--with-sources", home.id])
    assert result.exit_code == 0, result.output
    assert f"deleted {home.id} and 1 turn(s) it came from" in result.output
    with Engram(db, embedder=HashingEmbedder()) as mem:
        assert mem.memories.get_all(user_id="cy") == []
