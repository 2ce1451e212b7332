"""Engram's exceptions: one tree, rooted at `EngramError`.

```
EngramError
├── InvalidInputError (ValueError)      bad input, rejected before anything is written
│   └── BudgetExceededError             the system prompt and newest user turn cannot fit
├── NotFoundError (LookupError)         no such record for this tenant
├── ConflictError                       the record exists already / a concurrent write won
├── ConfigError                         a setting is missing or inconsistent
├── BackendError                        the storage backend failed
│   ├── BackendUnavailable              it cannot be reached
│   └── MigrationRequired               its schema is older or newer than this code
└── ProviderError                       an LLM or embedding endpoint failed
    └── ProviderUnavailable             it cannot be reached or keeps failing (timeouts, 5xx)
```

Driver exceptions (sqlite3, httpx, ...) never leave Engram: backends and providers translate
them at their edge with `raise ... from exc`.
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "BackendUnavailable",
    "BudgetExceededError",
    "ConfigError",
    "ConflictError",
    "EngramError",
    "InvalidInputError",
    "MigrationRequired",
    "NotFoundError",
    "ProviderError",
    "ProviderUnavailable",
]


class EngramError(Exception):
    """Base class of every error Engram raises."""


class InvalidInputError(EngramError, ValueError):
    """The input was rejected by validation; nothing was written."""


class BudgetExceededError(InvalidInputError):
    """A context cannot be built: the must-keep messages alone exceed the token budget."""


class NotFoundError(EngramError, LookupError):
    """The record does not exist for this tenant (or has expired)."""


class ConflictError(EngramError):
    """The write conflicts with existing state (duplicate id, stale expected version)."""


class ConfigError(EngramError):
    """A setting is missing, malformed or inconsistent with another."""


class BackendError(EngramError):
    """The storage backend failed."""


class BackendUnavailable(BackendError):
    """The storage backend cannot be reached or opened."""


class MigrationRequired(BackendError):
    """The stored schema does not match this version of Engram; run `engram db migrate`."""


class ProviderError(EngramError):
    """An LLM or embedding endpoint returned an error."""


class ProviderUnavailable(ProviderError):
    """An LLM or embedding endpoint cannot be reached, timed out, or kept failing."""
