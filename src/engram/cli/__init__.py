"""The `engram` command line."""

from __future__ import annotations

import click

from engram.cli._options import engram_errors
from engram.cli.db import db
from engram.cli.demo import demo
from engram.cli.eval import eval_group
from engram.cli.events import events
from engram.cli.memories import memories
from engram.cli.sessions import sessions
from engram.cli.threads import threads
from engram.cli.users import delete_user
from engram.config import load_settings

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="engramdb")
def main() -> None:
    """Engram: memory and state for LLM applications and agents."""
    # Every command checks the ENGRAM_* variables first: a misspelt ENGRAM_DBB must be named,
    # not hidden behind "no database at engram.db" (a command reading its default).
    with engram_errors():
        load_settings()


main.add_command(demo)
main.add_command(sessions)
main.add_command(db)
main.add_command(events)
main.add_command(eval_group)
main.add_command(threads)
main.add_command(memories)
main.add_command(delete_user)
