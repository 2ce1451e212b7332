"""LLM providers: the chat-model and summariser contracts and their implementations.

```
ChatModelProtocol        complete() / acomplete() -> Completion
└── OpenAIChatModel      any OpenAI-compatible endpoint (OpenAI, Ollama, vLLM, llama.cpp)
SummarizerProtocol       summarize() / asummarize(): fold evicted messages into a summary
├── ExtractiveSummarizer deterministic, offline, no LLM
└── LLMSummarizer        one chat call per fold, extractive fallback on failure
EmbedderProtocol         embed() / aembed() -> normalised float32 rows
├── LocalEmbedder        all-MiniLM-L6-v2, int8 ONNX, offline (the default)
├── OpenAIEmbedder       any OpenAI-compatible /embeddings endpoint
└── CachedEmbedder       wraps one: never embeds the same text twice
```
"""

from engram.providers._base import ChatModelProtocol, Completion, SummarizerProtocol
from engram.providers._embeddings import (
    CachedEmbedder,
    EmbedderProtocol,
    EmbeddingCacheProtocol,
    EmbeddingSpace,
    LRUEmbeddingCache,
    embedding_space,
)
from engram.providers._http import ProviderConfigError
from engram.providers._onnx_embedder import LocalEmbedder
from engram.providers._openai_embeddings import OpenAIEmbedder
from engram.providers.openai import OpenAIChatModel
from engram.providers.summarizers import ExtractiveSummarizer, LLMSummarizer

__all__ = [
    "CachedEmbedder",
    "ChatModelProtocol",
    "Completion",
    "EmbedderProtocol",
    "EmbeddingCacheProtocol",
    "EmbeddingSpace",
    "ExtractiveSummarizer",
    "LLMSummarizer",
    "LRUEmbeddingCache",
    "LocalEmbedder",
    "OpenAIChatModel",
    "OpenAIEmbedder",
    "ProviderConfigError",
    "SummarizerProtocol",
    "embedding_space",
]
