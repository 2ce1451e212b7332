"""Context strategies: which messages to send the model this turn, within a token budget.

Everything here is pure (no I/O): functions of messages, a token counter and options that
return a `ContextResult` (the messages to send and a `ContextReport` of what was kept,
dropped, summarised and truncated). Storage and summarisation happen around them.

```
buffer            every message
window            system prompt + the last N messages / user turns
token_budget      system prompt + the newest history that fits `budget - reserve`
plan_summary      summary + buffer, step 1: which old messages to fold into the summary
assemble_summary  summary + buffer, step 2: system prompt + summary + kept history, within budget
```

Rules every strategy keeps: the system prompt (the system messages before any other message)
is always sent; a system message said later (a note added during the conversation) is history
like any turn: kept while it fits, else dropped or summarised. An assistant tool call and the
tool results answering it are kept or dropped together, in OpenAI's shape or Anthropic's; a
tool result that does not follow its call (the conversation went on first) is never sent,
nor one another result for the same call follows (a retried tool run: the last is sent), nor
a call no result answers: each strategy applies `without_abandoned_calls` to what it is
given, so a strategy called directly sends what the chat APIs accept. Each strategy can also
send a `Recall` (the user's profile and recalled memories) as one system message; the
budgeted ones give it what the system prompt, the newest user turn and the summary leave,
within its share, before older history.

Token counts come from a `MessageCounterProtocol` (`engram.tokens.TokenCounter`); a
message's stored count is reused when it is in the counter's encoding (`message_tokens`).

Example:
    ```python
    from engram.context import token_budget

    result = token_budget(messages, counter, budget=8192, reserve=1024)
    client.chat.completions.create(model="gpt-4o", messages=result.to_openai())
    anthropic.messages.create(model="claude-sonnet-4-5", max_tokens=1024, **result.to_anthropic())
    print(result.report.describe())
    ```
"""

from engram.context._counting import MessageCounterProtocol, message_tokens
from engram.context._fit import NEWEST_USER_MIN_TOKENS
from engram.context._groups import without_abandoned_calls
from engram.context._options import (
    BufferOptions,
    ContextOptions,
    SummaryBufferOptions,
    TokenBudgetOptions,
    WindowOptions,
)
from engram.context._recall import Recall, RecallBlock, recall_block, recall_room
from engram.context._report import ContextReport, ContextResult, with_unread
from engram.context._strategies import (
    SUMMARY_PREFIX,
    buffer,
    summary_message,
    token_budget,
    window,
)
from engram.context._summary import (
    DEFAULT_SUMMARY_SHARE,
    SummaryPlan,
    assemble_summary,
    plan_summary,
)
from engram.context._truncate import truncation_marker

__all__ = [
    "BufferOptions",
    "ContextOptions",
    "ContextReport",
    "ContextResult",
    "DEFAULT_SUMMARY_SHARE",
    "MessageCounterProtocol",
    "NEWEST_USER_MIN_TOKENS",
    "Recall",
    "RecallBlock",
    "SUMMARY_PREFIX",
    "SummaryBufferOptions",
    "SummaryPlan",
    "TokenBudgetOptions",
    "WindowOptions",
    "assemble_summary",
    "buffer",
    "message_tokens",
    "plan_summary",
    "recall_block",
    "recall_room",
    "summary_message",
    "token_budget",
    "truncation_marker",
    "window",
    "with_unread",
    "without_abandoned_calls",
]
