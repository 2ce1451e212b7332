"""Engram's records: the typed values that cross every boundary.

Records are frozen dataclasses with attribute docstrings; `to_dict()`/`from_dict()` give their
JSON form. One private module per area; everything is re-exported here.
"""

from engram.types._conversation import (
    DEFAULT_TENANT,
    ROLES,
    ContentPart,
    Message,
    Role,
    Session,
    Summary,
    ToolCall,
    messages_from_openai,
    utcnow,
)
from engram.types._event import (
    EVENT_TYPES,
    AppendResult,
    Event,
    EventType,
    Snapshot,
    StreamInfo,
)
from engram.types._working import ToolResult, WorkingMemory

__all__ = [
    "DEFAULT_TENANT",
    "EVENT_TYPES",
    "ROLES",
    "AppendResult",
    "ContentPart",
    "Event",
    "EventType",
    "Message",
    "Role",
    "Session",
    "Snapshot",
    "StreamInfo",
    "Summary",
    "ToolCall",
    "ToolResult",
    "WorkingMemory",
    "messages_from_openai",
    "utcnow",
]
