"""Orchestration written once, driven by a sync or an async driver.

A flow is a generator that yields requests (`StoreCall`: a batch of store operations;
`SummarizeCall`: fold messages into a running summary) and receives their results. `run()`
drives a flow with blocking calls, `arun()` with awaited ones; the flow itself does no I/O, so
the sync and async APIs share every decision (the pattern of httpx's `auth_flow`). An
`EngramError` raised by a call is thrown into the flow, which may handle it.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, NamedTuple, TypeVar

from engram._exceptions import EngramError
from engram.providers import SummarizerProtocol
from engram.stores.conversation import BaseConversationStore, Op
from engram.types import Message

__all__ = ["Flow", "StoreCall", "SummarizeCall", "arun", "run"]

T = TypeVar("T")


class StoreCall(NamedTuple):
    """Run these operations as one batch; the flow receives the list of results."""

    ops: tuple[Op, ...]


class SummarizeCall(NamedTuple):
    """Fold `messages` into `previous`; the flow receives the new summary text."""

    previous: str | None
    messages: tuple[Message, ...]
    max_tokens: int


Request = StoreCall | SummarizeCall
Flow = Generator[Request, Any, T]


def run(flow: Flow[T], store: BaseConversationStore, summarizer: SummarizerProtocol) -> T:
    """Drive `flow` to completion with blocking calls; return its value."""
    try:
        request = next(flow)
        while True:
            try:
                if isinstance(request, StoreCall):
                    result: Any = store.batch(request.ops)
                else:
                    result = summarizer.summarize(
                        request.previous, request.messages, max_tokens=request.max_tokens
                    )
            except EngramError as exc:
                request = flow.throw(exc)
            else:
                request = flow.send(result)
    except StopIteration as stop:
        value: T = stop.value
        return value


async def arun(flow: Flow[T], store: BaseConversationStore, summarizer: SummarizerProtocol) -> T:
    """Drive `flow` to completion with awaited calls; return its value."""
    try:
        request = next(flow)
        while True:
            try:
                if isinstance(request, StoreCall):
                    result: Any = await store.abatch(request.ops)
                else:
                    result = await summarizer.asummarize(
                        request.previous, request.messages, max_tokens=request.max_tokens
                    )
            except EngramError as exc:
                request = flow.throw(exc)
            else:
                request = flow.send(result)
    except StopIteration as stop:
        value: T = stop.value
        return value


def call(*ops: Op) -> Flow[list[Any]]:
    """Yield one batch and return its results: `[session] = yield from call(GetSession(...))`."""
    results: list[Any] = yield StoreCall(ops)
    return results
