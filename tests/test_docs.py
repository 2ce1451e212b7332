"""The README stays true: its Python examples run, and its command list is the CLI's.

The Python blocks run in order in one namespace (a later block uses the `mem` and `s` of an
earlier one), in an empty directory, against real SQLite files, Redis and PostgreSQL: the
mixed-backends block gets a Redis client and a PostgreSQL connection as `redis_client` and
`pg_pool`, the two names it leaves to the reader.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import psycopg
import pytest
import redis

from engram import Engram
from engram.cli import main
from engram.integrations.langgraph import EngramSaver

pytest_plugins = ["servers"]

README = Path(__file__).resolve().parents[1] / "README.md"


def blocks(language: str) -> list[str]:
    """The README's fenced code blocks of `language` ("" for none), in order."""
    found: list[tuple[str, list[str]]] = []
    inside = False
    for line in README.read_text(encoding="utf-8").splitlines(keepends=True):
        if line.startswith("```"):
            if not inside:
                found.append((line[3:].strip(), []))
            inside = not inside
        elif inside:
            found[-1][1].append(line)
    return ["".join(lines) for tag, lines in found if tag == language]


@pytest.fixture
def namespace(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    redis_url: str,
    redis_prefix: str,
    postgres_clean_database: str,
) -> Iterator[dict[str, Any]]:
    monkeypatch.chdir(tmp_path)
    with (
        redis.Redis.from_url(redis_url) as client,
        psycopg.connect(postgres_clean_database, autocommit=True) as conn,
    ):
        before = set(client.scan_iter(match="engram:*"))
        yield {"__name__": "readme", "redis_client": client, "pg_pool": conn}
        assert set(client.scan_iter(match="engram:*")) == before  # the example wrote nothing


def test_readme_python_blocks_run(namespace: dict[str, Any]) -> None:
    examples = blocks("python")
    assert len(examples) >= 4
    opened: list[Engram] = []
    try:
        for example in examples:
            exec(compile(example, "README.md", "exec"), namespace)
            mem = namespace.get("mem")
            if isinstance(mem, Engram) and mem not in opened:
                opened.append(mem)
    finally:
        for mem in opened:
            mem.close()
    result = namespace["result"]
    assert result.report.tokens_after <= 4000 - 500
    assert [m["role"] for m in result.to_openai()] == ["system", "user"]
    assert any("Lisbon" in hit.memory.text for hit in namespace["hits"])
    with EngramSaver.from_path("agent.db") as saver:  # the graph's state outlived it
        graph = namespace["builder"].compile(checkpointer=saver)
        assert graph.get_state(namespace["config"]).values == {"steps": 1}


def _commands(group: click.Group, prefix: str = "engram") -> Iterator[tuple[str, click.Command]]:
    """Every command below `group`, with its path (`engram sessions list`)."""
    for name, command in group.commands.items():
        yield f"{prefix} {name}", command
        if isinstance(command, click.Group):
            yield from _commands(command, f"{prefix} {name}")


def _documented(listing: str) -> Iterator[str]:
    """The command paths of the README's listing: `engram sessions list | show ID` names
    `engram sessions`, `engram sessions list` and `engram sessions show`; a placeholder in
    capitals (`engram delete-user USER_ID`) names no command."""
    for line in listing.splitlines():
        engram, group, *rest = re.sub(r"\[[^]]*\]", "", line).split(maxsplit=2)
        yield f"{engram} {group}"
        for alternative in " ".join(rest).split("|"):
            if alternative.strip() and not alternative.split()[0].isupper():
                yield f"{engram} {group} {alternative.split()[0]}"


def test_readme_lists_every_command() -> None:
    [listing] = [block for block in blocks("") if block.startswith("engram ")]
    assert set(_documented(listing)) == {path for path, _ in _commands(main)}


def test_every_command_and_option_has_help() -> None:
    silent = [
        f"{path} {param.name}" if param else path
        for path, command in _commands(main)
        for param in [None, *command.params]
        if (param is None and not (command.help or "").strip())
        or (isinstance(param, click.Option) and not param.help)
    ]
    assert silent == []
