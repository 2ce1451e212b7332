"""The conversation-store conformance suite, run against every built-in backend.

Backends and APIs come from the `conversation_store` fixture (conftest.py): memory, SQLite
file, SQLite `:memory:`, each through the sync and the async API.
"""

from engram.testing import ConversationStoreSpec


class TestConversationStore(ConversationStoreSpec):
    """Every spec of `engram.testing.conversation`, per backend and API."""
