"""Conformance suites for Engram backends, shipped so plugin authors can run them.

Each suite is a class of pytest specs written once against a contract. Subclass it in a test
module (the subclass name must start with `Test`) and provide the fixture it names:

```python
import pytest
from engram.testing import ConversationStoreSpec

class TestMyConversationStore(ConversationStoreSpec):
    @pytest.fixture
    def conversation_store(self):
        store = MyConversationStore(...)
        yield store
        store.close()
```

Wrap the store in the matching `AsyncDriven*` class to run every spec through `abatch` too.
Importing this package needs pytest (a test dependency, not a runtime one).
"""

from engram.testing.checkpoints import AsyncDrivenCheckpointer, CheckpointerSpec
from engram.testing.conversation import AsyncDrivenConversationStore, ConversationStoreSpec
from engram.testing.events import AsyncDrivenEventLog, CountingEventLog, EventLogSpec
from engram.testing.memories import AsyncDrivenMemoryStore, MemoryStoreSpec

__all__ = [
    "AsyncDrivenCheckpointer",
    "AsyncDrivenConversationStore",
    "AsyncDrivenEventLog",
    "AsyncDrivenMemoryStore",
    "CheckpointerSpec",
    "ConversationStoreSpec",
    "CountingEventLog",
    "EventLogSpec",
    "MemoryStoreSpec",
]
