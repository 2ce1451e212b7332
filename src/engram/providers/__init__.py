"""LLM providers: the chat-model and summariser contracts and their implementations.

```
ChatModelProtocol        complete() / acomplete() -> Completion
└── OpenAIChatModel      any OpenAI-compatible endpoint (OpenAI, Ollama, vLLM, llama.cpp)
SummarizerProtocol       summarize() / asummarize(): fold evicted messages into a summary
├── ExtractiveSummarizer deterministic, offline, no LLM
└── LLMSummarizer        one chat call per fold, extractive fallback on failure
```
"""

from engram.providers._base import ChatModelProtocol, Completion, SummarizerProtocol
from engram.providers.openai import OpenAIChatModel
from engram.providers.summarizers import ExtractiveSummarizer, LLMSummarizer

__all__ = [
    "ChatModelProtocol",
    "Completion",
    "ExtractiveSummarizer",
    "LLMSummarizer",
    "OpenAIChatModel",
    "SummarizerProtocol",
]
