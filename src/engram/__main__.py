"""`python -m engram`: the CLI."""

from engram.cli import main

main()
