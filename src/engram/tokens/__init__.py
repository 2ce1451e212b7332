"""Exact, offline token counting.

OpenAI's `o200k_base` and `cl100k_base` tokenizers are built from rank files shipped inside
Engram (sha256-checked at load), so nothing is ever downloaded; counts equal tiktoken's on
texts of any length. `TokenCounter` adds OpenAI's chat-format overheads (messages, names,
tool calls, tool schemas, images). Other tokenizers plug in through `TokenizerProtocol`
(`HFTokenizer` wraps a Hugging Face `tokenizer.json`).

Example:
    ```python
    from engram.tokens import TokenCounter, context_window

    counter = TokenCounter.for_model("gpt-4o-mini")
    counter.count_text("How many tokens is this?")  # 6
    context_window("gpt-4o-mini")  # 128000
    ```
"""

from __future__ import annotations

from engram.tokens._chat import TokenCounter
from engram.tokens._hf import HFTokenizer
from engram.tokens._models import context_window, encoding_for_model
from engram.tokens._protocol import TokenizerProtocol
from engram.tokens._registry import get_tokenizer
from engram.tokens._tiktoken import TiktokenTokenizer
from engram.tokens._tools import GPT_4_TOOL_CONSTANTS, GPT_4O_TOOL_CONSTANTS, ToolConstants

__all__ = [
    "GPT_4O_TOOL_CONSTANTS",
    "GPT_4_TOOL_CONSTANTS",
    "HFTokenizer",
    "TiktokenTokenizer",
    "TokenCounter",
    "TokenizerProtocol",
    "ToolConstants",
    "context_window",
    "encoding_for_model",
    "get_tokenizer",
]
