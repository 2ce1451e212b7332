"""Integrations with other frameworks; each needs its extra (`pip install engramdb[langgraph]`).

- `engram.integrations.langgraph`: `EngramSaver`, a LangGraph checkpointer backed by an Engram
  checkpointer (in memory or SQLite).
- `engram.integrations.langchain`: `EngramChatMessageHistory`, a LangChain chat-message
  history backed by an Engram session (`engramdb[langchain]`).
"""
