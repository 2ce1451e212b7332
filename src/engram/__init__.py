"""Engram: the memory and state layer for LLM applications and agents.

Example:
    ```python
    from engram import Engram

    with Engram("engram.db") as mem:
        s = mem.session("s1", user_id="u1")
        s.add("system", "You are a helpful travel assistant.")
        s.add("user", "I'm flying to Lisbon on 3 May. I'm vegetarian.")
        result = s.context(model="gpt-4o", budget=4000, strategy="summary")
        result.to_openai()     # the messages to send
        result.report          # what was kept, dropped, summarised
    ```
"""

from engram._conversation import Conversation
from engram._engram import Engram
from engram._exceptions import (
    BackendError,
    BackendUnavailable,
    BudgetExceededError,
    ConfigError,
    ConflictError,
    EngramError,
    InvalidInputError,
    MigrationRequired,
    NotFoundError,
    ProviderError,
    ProviderUnavailable,
)
from engram._memories import Memories
from engram.config import EngramSettings, LLMSettings
from engram.context import ContextReport, ContextResult
from engram.tokens import TokenCounter
from engram.types import ContentPart, Memory, MemoryHit, Message, Session, Summary, ToolCall

__all__ = [
    "BackendError",
    "BackendUnavailable",
    "BudgetExceededError",
    "ConfigError",
    "ConflictError",
    "ContentPart",
    "ContextReport",
    "ContextResult",
    "Conversation",
    "Engram",
    "EngramError",
    "EngramSettings",
    "InvalidInputError",
    "LLMSettings",
    "Memories",
    "Memory",
    "MemoryHit",
    "Message",
    "MigrationRequired",
    "NotFoundError",
    "ProviderError",
    "ProviderUnavailable",
    "Session",
    "Summary",
    "TokenCounter",
    "ToolCall",
]
