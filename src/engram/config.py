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

from collections.abc import Iterator
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from engram._exceptions import ConfigError
from engram._secrets import masked_address

__all__ = ["EmbeddingsSettings", "EngramSettings", "LLMSettings", "load_settings"]

_ADDRESSES = frozenset({"base_url", "db", "memory_db"})
"""The settings that are addresses, which may hold a password (`http://user:pw@host`)."""


def _http_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https:// (e.g. http://localhost:11434/v1)")
    return url


_EndpointURL = Annotated[str, AfterValidator(_http_url)]
"""The API root of an OpenAI-compatible endpoint, up to and including `/v1`."""


class _Shown(BaseModel):
    """Settings whose repr (and the repr of the settings holding them) masks the secrets of
    their addresses, as their `SecretStr` keys are."""

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield (
                name,
                masked_address(value) if name in _ADDRESSES and isinstance(value, str) else value,
            )


class LLMSettings(_Shown):
    """An OpenAI-compatible chat endpoint (OpenAI, Ollama, vLLM, llama.cpp server)."""

    # A misspelt field (ENGRAM_LLM__BASEURL) must fail, not leave the default endpoint in
    # place and send conversations there; errors never echo the input (it holds the key).
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    model: str
    """The model name the endpoint serves."""
    base_url: _EndpointURL = "https://api.openai.com/v1"
    api_key: SecretStr | None = None
    """Sent as a bearer token; never logged."""
    timeout: float = Field(default=60.0, gt=0, allow_inf_nan=False)
    """Seconds allowed for each attempt of a request, from connecting to the last byte."""
    max_retries: int = Field(default=3, ge=0)


class EmbeddingsSettings(_Shown):
    """An OpenAI-compatible embeddings endpoint (OpenAI, Ollama, vLLM, llama.cpp server); the
    arguments of `OpenAIEmbedder`."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    model: str
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

    db: str = "engram.db"
    """Where conversations live, and long-term memories too if it can hold them: a SQLite
    file (or `:memory:`, or `sqlite:///path`), a `postgresql://` URL (`engramdb[postgres]`,
    with pgvector for memories), a `redis://` URL (`engramdb[redis]`; conversations only),
    or a scheme a backend plugin registers (`engram._backends`)."""
    memory_db: str | None = None
    """Where long-term memories live instead of `db`, in the same forms: with `db` in
    Redis, e.g. `postgresql://...` or a SQLite file."""
    tenant: str = "default"
    """The tenant used when none is given."""
    durability: Literal["normal", "full"] = "normal"
    """`normal`: survives a killed process; `full`: also a power loss (one fsync per commit).
    The SQLite file's; the PostgreSQL stores take the same values as their `durability`."""
    postgres_pool_size: int = Field(default=8, ge=1)
    """The most connections a PostgreSQL pool opened from `db` or `memory_db` holds (it
    starts with one)."""
    redis_prefix: str = "engram:"
    """Prepended to every Redis key of a store opened from `db` (apps can share a Redis)."""
    encoding: str = "o200k_base"
    """The tokenizer message token counts are stored in."""
    max_message_bytes: int = Field(default=1_000_000, gt=0)
    """The largest message accepted, in UTF-8 bytes (its texts and its metadata as JSON)."""
    session_ttl_seconds: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    """Default lifetime of a new session after its last use; None: forever."""
    llm: LLMSettings | None = None
    """The LLM used for summaries; None: the offline extractive summariser."""
    embeddings: EmbeddingsSettings | None = None
    """The endpoint that embeds long-term memories and queries; None: the offline local model
    (all-MiniLM-L6-v2). After a change, `engram memories reembed`."""


def load_settings() -> EngramSettings:
    """The settings from the environment, or `ConfigError` saying which are wrong (by name
    and reason only: a value may be a secret)."""
    try:
        return EngramSettings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'settings'}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        )
        raise ConfigError(f"bad ENGRAM_* settings: {problems}") from None
