"""LangGraph integration: `EngramSaver`, a checkpointer backed by Engram.

Needs LangGraph (`pip install engramdb[langgraph]`). Passes LangGraph's conformance suite
(`langgraph-checkpoint-conformance`) on the in-memory and SQLite checkpointers.

Example:
    ```python
    from engram.integrations.langgraph import EngramSaver

    with EngramSaver.from_path("agent.db") as saver:
        graph = builder.compile(checkpointer=saver)
    ```
"""

try:
    from engram.integrations.langgraph._saver import EngramSaver
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "engram.integrations.langgraph needs LangGraph: pip install 'engramdb[langgraph]'"
    ) from exc

__all__ = ["EngramSaver"]
