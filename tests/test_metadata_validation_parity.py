"""Bad metadata and state are refused alike by memories, sessions, messages and state, on
every backend: one check (`check_json_object`), one wording naming the input, nothing
written. A NUL character is refused everywhere, as PostgreSQL cannot keep one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engram import ConfigError, Engram, InvalidInputError, NotFoundError
from engram.config import EngramSettings
from engram.stores import InMemoryConversationStore, InMemoryMemoryStore

pytest_plugins = ["servers"]


BACKENDS = ("memory", "sqlite", "postgres", "redis")


@pytest.fixture
def engram(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engram]:
    """An empty Engram on each backend: in memory (memories too), a SQLite file, PostgreSQL
    (the `servers` plugin's), Redis (sessions only: it keeps no long-term memories)."""
    if request.param == "memory":
        with Engram(InMemoryConversationStore(), memory_store=InMemoryMemoryStore()) as memory:
            yield memory
    elif request.param == "sqlite":
        with Engram(tmp_path / "engram.db") as on_file:
            yield on_file
    elif request.param == "postgres":
        with Engram(request.getfixturevalue("postgres_clean_database")) as on_postgres:
            yield on_postgres
    else:
        url, prefix = (request.getfixturevalue(name) for name in ("redis_url", "redis_prefix"))
        with Engram(url, settings=EngramSettings(redis_prefix=prefix)) as on_redis:
            yield on_redis


def _add_memory(engram: Engram, bad: Any) -> None:
    engram.memories.add("Prefers tea", user_id="ana", infer=False, metadata=bad)


def _edit_memory(engram: Engram, bad: Any) -> None:
    engram.memories.update(_ana_memory(engram), metadata=bad)


def _open_session(engram: Engram, bad: Any) -> None:
    engram.session("s", user_id="ana", metadata=bad)


def _add_message(engram: Engram, bad: Any) -> None:
    engram.session("s", user_id="ana").add("user", "hi", metadata=bad)


def _update_state(engram: Engram, bad: Any) -> None:
    engram.session("s", user_id="ana").update_state(bad)


def _ana_memory(engram: Engram) -> str:
    return engram.memories.get_all(user_id="ana")[0].id


def _written(engram: Engram) -> Any:
    """Everything the writes above could have stored."""
    try:
        memories = [(m.text, m.metadata) for m in engram.memories.get_all(user_id="ana")]
    except ConfigError:  # no long-term memory store (Redis keeps none)
        memories = None
    try:
        session = engram.session("s", create=False)
    except NotFoundError:
        return memories, None
    info = session.info()
    return memories, info.metadata, session.state(), [m.metadata for m in session.messages()]


WRITES: dict[str, tuple[Callable[[Engram, Any], None], str]] = {
    "memory-add": (_add_memory, "metadata"),
    "memory-update": (_edit_memory, "metadata"),
    "session": (_open_session, "session metadata"),
    "message": (_add_message, "message metadata"),
    "state": (_update_state, "state patch"),
}

BAD: dict[str, tuple[dict[str, Any], str]] = {
    "nul-value": ({"v": "a\x00b"}, "{what}['v'] contains a NUL character"),
    "nul-key": ({"k\x00": 1}, "a key of {what} contains a NUL character"),
    "nul-nested": ({"v": [{"w": "\x00"}]}, "{what}['v'][0]['w'] contains a NUL character"),
    "nan": ({"v": float("nan")}, "{what}['v'] is nan, which is not a JSON number"),
    "infinity": ({"v": float("inf")}, "{what}['v'] is inf, which is not a JSON number"),
    "bytes": ({"v": b"x"}, "{what}['v'] is bytes b'x', which is not a JSON value"),
    "surrogate": (
        {"v": "\ud800"},
        "{what}['v'] is not valid UTF-8 text (surrogates not allowed: '\\ud800' at character 0)",
    ),
    "number-key": ({1: "x"}, "{what} has the key 1: JSON object keys must be strings"),
}


CASES = [
    (write, backend)
    for write in WRITES
    for backend in BACKENDS
    if not (write.startswith("memory") and backend == "redis")  # Redis keeps no memories
]


@pytest.mark.parametrize("bad", BAD, ids=list(BAD))
@pytest.mark.parametrize(
    ("write", "engram"), CASES, indirect=["engram"], ids=[f"{w}-{b}" for w, b in CASES]
)
def test_bad_metadata_is_refused_alike_naming_the_input(
    engram: Engram, write: str, bad: str
) -> None:
    if write == "memory-update":
        _add_memory(engram, {"note": "kept"})
    if write in ("message", "state"):
        engram.session("s", user_id="ana")
    before = _written(engram)
    run, what = WRITES[write]
    value, message = BAD[bad]

    with pytest.raises(InvalidInputError) as refused:
        run(engram, value)

    assert str(refused.value) == message.format(what=what)
    assert _written(engram) == before
