"""The long-term memory part of `engram demo`: extract, revise, search, recall.

After the replay, the conversation is remembered day by day, as an app would after each
conversation (`memories.add(messages=...)`, the deterministic extractor, local MiniLM
embeddings), then searched the way a user would ask, once "as of" an earlier date, and
finally recalled into the context of one more turn inside the same token budget.
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

from engram._engram import Engram
from engram._exceptions import ConfigError
from engram.cli._options import console, literal
from engram.cli._transcripts import Transcript
from engram.memory.profile import field_text
from engram.types import MemoryHit

__all__ = ["show_memory"]

RECALL = 8
"""Memories recalled into the last turn's context."""


def show_memory(
    mem: Engram, transcript: Transcript, conversation: Any, model: str, budget: int, reserve: int
) -> None:
    """Remember `transcript` for its user, then search and recall what was remembered."""
    console.rule("[bold]Long-term memory[/] (deterministic extraction, local MiniLM, offline)")
    try:
        _remember(mem, transcript)
    except ConfigError as exc:  # the local-embeddings extra is missing
        console.print(f"[yellow]skipped:[/] {literal(exc)}")
        return
    user = transcript.user_id
    profile = mem.memories.profile(user)
    fields = profile.fields if profile is not None else {}
    console.print(
        "\nProfile: " + "; ".join(literal(field_text(key, value)) for key, value in fields.items())
        if fields
        else "\nProfile: (no field yet)"
    )
    for question in transcript.questions:
        hits = mem.memories.search(question.text, user_id=user, limit=3, as_of=question.as_of)
        when = f" [dim](as of {question.as_of:%d %B %Y})[/]" if question.as_of else ""
        console.print(f"\nSearch “{literal(question.text)}”{when}")
        for hit in hits:
            console.print(_hit_line(hit))
    result = conversation.context(
        model, budget=budget, reserve=reserve, strategy="summary", recall=RECALL
    )
    console.print(
        f"\nContext of the next turn, with recall={RECALL}: {literal(result.report.describe())}",
        highlight=False,
    )


def _remember(mem: Engram, transcript: Transcript) -> None:
    """`memories.add` once per day of the conversation, printing what each add did."""
    console.print(f"{'day':<10}  {'new':>3}  {'facts':>5}  superseded")
    for day, group in groupby(transcript.messages, key=lambda m: m.created_at.date()):
        messages = [m for m in group if m.role in ("user", "assistant")]
        if not messages:
            continue
        report = mem.memories.add(
            messages=messages, user_id=transcript.user_id, user_name=transcript.user_name
        )
        facts = sum(memory.kind != "episode" for memory in report.added)
        retired = (
            "; ".join(f"[red]“{literal(m.text)}”[/]" for m in report.superseded) or "[dim]-[/]"
        )
        console.print(f"{day}  {len(report.added):>3}  {facts:>5}  {retired}")


def _hit_line(hit: MemoryHit) -> str:
    parts = hit.parts
    text = " ".join(hit.memory.text.split())
    text = text if len(text) <= 66 else text[:65] + "…"
    return (
        f"  {hit.rank}. [cyan]{literal(hit.memory.kind):<8}[/] {literal(text)}\n"
        f"     [dim]score {parts.fused:.2f} = match {parts.base:.2f} x boost {parts.boost:.2f}"
        f" (dense {parts.dense:.2f}, bm25 {parts.lexical:.1f}, entity {parts.entity:.1f}"
        f", time {parts.time:.0f}, session {parts.session:.2f})[/]"
    )
