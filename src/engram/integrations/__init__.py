"""Integrations with other frameworks; each needs its extra (`pip install engramdb[langgraph]`).

- `engram.integrations.langgraph`: `EngramSaver`, a LangGraph checkpointer backed by an Engram
  checkpointer (in memory or SQLite).
"""
