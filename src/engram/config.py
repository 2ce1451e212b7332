"""Engram's settings: one `BaseSettings`, read at construction, from `ENGRAM_*` variables.

Example:
    ```bash
    export ENGRAM_DB=/var/lib/engram/engram.db
    export ENGRAM_LLM__BASE_URL=http://localhost:11434/v1   # Ollama
    export ENGRAM_LLM__MODEL=llama3.2
    export ENGRAM_EMBEDDINGS__BASE_URL=http://localhost:11434/v1
    export ENGRAM_EMBEDDINGS__MODEL=nomic-embed-text
    ```
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict

from engram._exceptions import ConfigError, InvalidInputError
from engram._secrets import masked_address
from engram._validation import check_identifier
from engram.stores._conversation_rules import MAX_TTL_SECONDS
from engram.tokens._encodings import ENCODING_NAMES

__all__ = ["EmbeddingsSettings", "EngramSettings", "LLMSettings", "load_settings"]

_ADDRESSES = frozenset({"base_url", "db", "memory_db"})
"""The settings that are addresses, which may hold a password (`http://user:pw@host`)."""


def _http_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https:// (e.g. http://localhost:11434/v1)")
    return url


_EndpointURL = Annotated[str, AfterValidator(_http_url)]
"""The API root of an OpenAI-compatible endpoint, up to and including `/v1`."""


def _tenant(tenant: str) -> str:
    try:
        return check_identifier(tenant, "tenant")
    except InvalidInputError as exc:  # pydantic reports a ValueError under the setting's name
        raise ValueError(str(exc)) from None


def _encoding(encoding: str) -> str:
    if encoding not in ENCODING_NAMES:
        raise ValueError(f"must be one of {', '.join(ENCODING_NAMES)}")
    return encoding


class _Shown(BaseModel):
    """Settings whose repr (and the repr of the settings holding them) masks the secrets of
    their addresses, as their `SecretStr` keys are."""

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield (
                name,
                masked_address(value) if name in _ADDRESSES and isinstance(value, str) else value,
            )


class _Section(_Shown):
    """A section of `EngramSettings` (`llm`, `embeddings`): made on its own, its bad values are
    a `ConfigError` as `EngramSettings`' are, each named by its path in the settings."""

    _section: ClassVar[str]
    """The field of `EngramSettings` that holds this section."""

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise _settings_error(exc, self._section) from None

    # Marked as pydantic marks its own, so that validating `EngramSettings` does not call it:
    # there, its `ConfigError` would leave pydantic as is, without the settings' other errors.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]


class LLMSettings(_Section):
    """An OpenAI-compatible chat endpoint (OpenAI, Ollama, vLLM, llama.cpp server)."""

    _section = "llm"

    # A misspelt field (ENGRAM_LLM__BASEURL) must fail, not leave the default endpoint in
    # place and send conversations there; errors never echo the input (it holds the key).
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    model: str = Field(min_length=1)
    """The model name the endpoint serves."""
    base_url: _EndpointURL = "https://api.openai.com/v1"
    api_key: SecretStr | None = None
    """Sent as a bearer token; never logged."""
    timeout: float = Field(default=60.0, gt=0, allow_inf_nan=False)
    """Seconds allowed for each attempt of a request, from connecting to the last byte."""
    max_retries: int = Field(default=3, ge=0)
    reply_tokens: int | None = Field(default=None, ge=16)
    """The least `max_tokens` a request allows its reply, as far as its caller's budget
    leaves room: for a reasoning model (Qwen3, DeepSeek-R1), whose `<think>` block counts
    against it, e.g. 4096. None: each request's own (an extraction 1024, a revision verdict
    up to 1024, a summary about its size). The add's `max_llm_tokens` still bounds what is
    spent: an add's request is raised only within the room its budget gives the model
    (`AttemptLedger.max_reply_tokens`), and sent as asked when it gives none; a summary, on
    no budget, is raised to it."""


class EmbeddingsSettings(_Section):
    """An OpenAI-compatible embeddings endpoint (OpenAI, Ollama, vLLM, llama.cpp server); the
    arguments of `OpenAIEmbedder`."""

    _section = "embeddings"

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    model: str = Field(min_length=1)
    """The embedding model the endpoint serves, e.g. `text-embedding-3-small`."""
    base_url: _EndpointURL = "https://api.openai.com/v1"
    api_key: SecretStr | None = None
    """Sent as a bearer token; never logged."""
    dimension: int | None = Field(default=None, ge=1)
    """The vector length; None: learned from the first response."""
    send_dimensions: bool = False
    """Ask the endpoint for `dimension`-long vectors (OpenAI's text-embedding-3 models)."""
    batch_size: int = Field(default=128, ge=1)
    """Texts per request."""
    timeout: float = Field(default=60.0, gt=0, allow_inf_nan=False)
    """Seconds allowed for each attempt of a request, from connecting to the last byte."""
    max_retries: int = Field(default=3, ge=0)

    @model_validator(mode="after")
    def _dimension_to_send(self) -> Self:
        if self.send_dimensions and self.dimension is None:
            raise ValueError("send_dimensions needs a dimension")
        return self


class EngramSettings(BaseSettings, _Shown):
    """Everything Engram can be configured with."""

    model_config = SettingsConfigDict(
        env_prefix="ENGRAM_", env_nested_delimiter="__", extra="forbid", hide_input_in_errors=True
    )

    def __init__(self, **values: Any) -> None:
        """Bad values are a `ConfigError` (an `EngramError`, as every error Engram raises)
        naming each field, its variable and why, never the value (it may be a secret)."""
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise _settings_error(exc) from None

    db: str = "engram.db"
    """Where conversations live, and long-term memories too if it can hold them: a SQLite
    file (or `:memory:`, or `sqlite:///path`), a `postgresql://` URL (`engramdb[postgres]`,
    with pgvector for memories), a `redis://` URL (`engramdb[redis]`; conversations only),
    or a scheme a backend plugin registers (`engram._backends`)."""
    memory_db: str | None = None
    """Where long-term memories live instead of `db`, in the same forms: with `db` in
    Redis, e.g. `postgresql://...` or a SQLite file."""
    tenant: Annotated[str, AfterValidator(_tenant)] = "default"
    """The tenant used when none is given."""
    durability: Literal["normal", "full"] = "normal"
    """`normal`: survives a killed process; `full`: also a power loss (one fsync per commit).
    The SQLite file's; the PostgreSQL stores take the same values as their `durability`."""
    postgres_pool_size: int = Field(default=8, ge=1)
    """The most connections a PostgreSQL pool opened from `db` or `memory_db` holds (it
    starts with one)."""
    redis_prefix: str = "engram:"
    """Prepended to every Redis key of a store opened from `db` (apps can share a Redis)."""
    encoding: Annotated[str, AfterValidator(_encoding)] = "o200k_base"
    """The tokenizer message token counts are stored in."""
    max_message_bytes: int = Field(default=1_000_000, gt=0)
    """The largest message accepted, in UTF-8 bytes (its texts and its metadata as JSON)."""
    session_ttl_seconds: float | None = Field(
        default=None, gt=0, le=MAX_TTL_SECONDS, allow_inf_nan=False
    )
    """Default lifetime of a new session after its last use; None: forever."""
    llm: LLMSettings | None = None
    """The LLM used for summaries; None: the offline extractive summariser."""
    embeddings: EmbeddingsSettings | None = None
    """The endpoint that embeds long-term memories and queries; None: the offline local model
    (all-MiniLM-L6-v2). After a change, `engram memories reembed`."""


def load_settings() -> EngramSettings:
    """The settings from the environment, or `ConfigError` saying which are wrong (by
    variable, field and reason only: a value may be a secret). An `ENGRAM_*` variable no
    setting reads is wrong too: a misspelt `ENGRAM_MEMORYDB` would leave the default."""
    if unknown := _unknown_variables():
        raise _config_error([f"{name}: no such setting (misspelt?)" for name in unknown])
    return EngramSettings()


_OTHER_VARIABLES = ("ENGRAM_EVAL_", "ENGRAM_BENCH_", "ENGRAM_TEST_")
"""Prefixes of the `ENGRAM_*` variables others read: `engram eval`'s options, the benchmarks'
and the tests' servers."""


def _unknown_variables() -> list[str]:
    """The `ENGRAM_*` variables no setting reads (`ENGRAM_LLM_MODEL`, one `_` short)."""
    fields = {name.upper() for name in EngramSettings.model_fields}
    return sorted(
        name
        for name in os.environ
        if name.upper().startswith("ENGRAM_")
        and not name.upper().startswith(_OTHER_VARIABLES)
        and name.upper().removeprefix("ENGRAM_").split("__")[0] not in fields
    )


def _config_error(problems: list[str]) -> ConfigError:
    return ConfigError(f"bad ENGRAM_* settings: {'; '.join(problems)}")


def _settings_error(exc: ValidationError, *section: str) -> ConfigError:
    """`exc` as a `ConfigError` naming each field (its path below `section`, if any)."""
    errors = exc.errors(include_input=False, include_url=False)
    return _config_error([_problem(error, section) for error in errors])


def _problem(error: ErrorDetails, section: tuple[str, ...] = ()) -> str:
    """`llm.model: Field required (ENGRAM_LLM__MODEL)`: the field (its path below `section`),
    why, and the variable."""
    field = ".".join(str(part) for part in (*section, *error["loc"]))
    if not field:
        return f"settings: {error['msg']}"
    reason = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        reason = "no such setting (misspelt?)"
    return f"{field}: {reason} (ENGRAM_{field.replace('.', '__').upper()})"
