"""`engram demo`: replay a long conversation and watch the context stay inside its budget,
then remember it long term and recall it (`_demo_memory`)."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import click
from rich.progress import Progress
from rich.table import Table

from engram._engram import Engram
from engram._ids import new_id
from engram.cli._demo_memory import show_memory
from engram.cli._options import console, count, handles_errors, literal
from engram.cli._transcripts import Transcript, load_bundled, load_locomo, split_turns
from engram.context import ContextReport, ContextResult
from engram.tokens import TokenCounter
from engram.types import Message

__all__ = ["demo"]

STRATEGIES: dict[str, dict[str, Any]] = {
    "buffer": {"strategy": "buffer"},
    "window": {"strategy": "window", "last_messages": 12},
    "token_budget": {"strategy": "token_budget"},
    "summary": {"strategy": "summary"},
}


@dataclass
class Tally:
    """Per-strategy figures over a replay."""

    sent: list[int] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)
    over_budget: int = 0

    def add(self, result: ContextResult, budget: int) -> None:
        self.sent.append(result.report.tokens_after)
        self.kept.append(len(result.messages))
        self.over_budget += result.report.tokens_after > budget


@click.command()
@click.option("--data", type=click.Path(exists=True, dir_okay=False), help="A LoCoMo JSON file.")
@click.option("--sample", help="LoCoMo: the sample_id of the conversation (default: the first).")
@click.option(
    "--db",
    default="engram-demo.db",
    show_default=True,
    help="Database to write: a SQLite file, postgresql:// or redis:// URL.",
)
@click.option("--model", default="gpt-4o", show_default=True, help="Tokenizer / model.")
@click.option(
    "--budget", default=3000, show_default=True, type=count(1), help="Context budget in tokens."
)
@click.option(
    "--reserve", default=200, show_default=True, type=count(), help="Tokens kept for the reply."
)
@click.option(
    "--strategy",
    type=click.Choice(list(STRATEGIES)),
    default="summary",
    show_default=True,
    help="The strategy replayed turn by turn.",
)
@click.option("--compare/--no-compare", default=True, help="Compare all strategies at the end.")
@click.option(
    "--memory/--no-memory", default=True, help="Then remember it long term, search and recall."
)
@handles_errors
def demo(
    data: str | None,
    sample: str | None,
    db: str,
    model: str,
    budget: int,
    reserve: int,
    strategy: str,
    compare: bool,
    memory: bool,
) -> None:
    """Replay a long conversation into a session, turn by turn, then remember it.

    Each turn shows the tokens in the stored history and in the context sent to the model,
    and when messages were trimmed or summarised, and what. Then the conversation becomes
    long-term memories of its user, day by day (facts, episodes, a profile; a changed fact
    supersedes the old one), which are searched, once "as of" an earlier date, and recalled
    into the next turn's context. Runs offline: SQLite, exact tiktoken counts, the
    extractive summariser, the deterministic extractor, MiniLM on onnxruntime.
    """
    if reserve >= budget:  # refused before the database is written
        raise click.UsageError(f"--reserve {reserve} leaves no room in --budget {budget}")
    if sample is not None and data is None:
        raise click.UsageError("--sample picks a conversation of --data")
    TokenCounter.for_model(model)  # an unknown model too
    transcript = load_locomo(data, sample) if data else load_bundled()
    options = _options(strategy, budget, reserve, transcript)
    console.rule(f"[bold]{literal(transcript.title)}[/]")
    console.print(
        f"{len(transcript.messages)} messages · model {literal(model)} · budget {budget} tokens "
        f"(reply reserve {reserve}) · strategy [bold]{strategy}[/] · database {literal(db)}"
    )
    with Engram(db) as mem:
        session_id = f"demo-{new_id()[:13]}"
        conversation = mem.session(session_id, user_id=transcript.user_id)
        by_id = {m.id: m for m in transcript.messages}
        _replay(conversation, transcript, model, options, on_turn=_turn_printer(by_id, budget))
        if compare:
            _compare(mem, transcript, model, budget, reserve)
        if memory:
            show_memory(mem, transcript, conversation, model, budget, reserve)
    where = literal(shlex.quote(db))  # pasted into a shell as printed
    console.print(
        f"\nExplore it: [bold]engram sessions show {literal(shlex.quote(session_id))} "
        f"--db {where}[/]  (or [bold]engram sessions list --db {where}[/])"
    )


def _options(strategy: str, budget: int, reserve: int, transcript: Transcript) -> dict[str, Any]:
    """The context options of a strategy; the tool schemas are counted by every one."""
    return {**STRATEGIES[strategy], "budget": budget, "reserve": reserve, "tools": transcript.tools}


def _replay(
    conversation: Any,
    transcript: Transcript,
    model: str,
    options: Mapping[str, Any],
    on_turn: Callable[[int, Any, ContextResult], None],
    *,
    fresh_ids: bool = False,
) -> None:
    """Add each turn's user message, build the context, then add the rest of the turn."""
    messages = transcript.messages
    if fresh_ids:  # message ids are unique within a tenant: a second replay needs its own
        messages = tuple(replace(m, id=new_id()) for m in messages)
    for number, turn in enumerate(split_turns(messages)):
        head, rest = (turn[:1], turn[1:]) if turn[0].role == "user" else ([], turn)
        if head:
            conversation.add_messages(head)
            on_turn(number, conversation, conversation.context(model, **options))
        if rest:
            conversation.add_messages(rest)


def _turn_printer(
    by_id: Mapping[str, Message], budget: int
) -> Callable[[int, Any, ContextResult], None]:
    table_header = f"{'turn':>4}  {'history':>15}  {'context':>14}  {'kept':>4}  what happened"
    console.print(f"\n[dim]{table_header}[/]")
    seen_dropped: set[str] = set()

    def on_turn(number: int, conversation: Any, result: ContextResult) -> None:
        info = conversation.info()
        report = result.report
        share = 100 * report.tokens_after / budget
        console.print(
            f"{number:>4}  {info.message_count:>5} msg {info.token_count:>6} tok  "
            f"{report.tokens_after:>6} tok {share:>3.0f}%  {len(result.messages):>4}  "
            + _happened(report, by_id, seen_dropped)
        )

    return on_turn


def _happened(report: ContextReport, by_id: Mapping[str, Message], seen: set[str]) -> str:
    parts: list[str] = []
    if report.summarized:
        first = by_id.get(report.summarized[0])
        parts.append(
            f"[yellow]summarised {len(report.summarized)} msgs[/]"
            + (f" from “{literal(_clip(first.text, 40))}”" if first else "")
            + f" → summary {report.summary_tokens} tok"
        )
    fresh = [i for i in report.dropped if i not in seen]
    seen.update(report.dropped)
    if fresh:
        first = by_id.get(fresh[0])
        parts.append(
            f"[red]trimmed {len(fresh)} msgs[/]"
            + (f" “{literal(_clip(first.text, 40))}”" if first else "")
        )
    if report.truncated:
        parts.append(f"[magenta]truncated {len(report.truncated)}[/]")
    return "; ".join(parts) or "[dim]-[/]"


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _compare(mem: Engram, transcript: Transcript, model: str, budget: int, reserve: int) -> None:
    turns = sum(1 for t in split_turns(transcript.messages) if t[0].role == "user")
    tallies: dict[str, Tally] = {}
    with Progress(console=console, transient=True) as progress:
        for name in STRATEGIES:
            task = progress.add_task(f"replaying with {name}", total=turns)
            tally = tallies[name] = Tally()
            options = _options(name, budget, reserve, transcript)
            conversation = mem.session(f"compare-{name}-{new_id()[:13]}")

            def record(
                _: int, __: Any, result: ContextResult, tally: Tally = tally, task: Any = task
            ) -> None:
                tally.add(result, budget - reserve)
                progress.advance(task)

            _replay(conversation, transcript, model, options, on_turn=record, fresh_ids=True)
            conversation.delete()
    console.print(_comparison_table(tallies, budget - reserve))


def _comparison_table(tallies: Mapping[str, Tally], limit: int) -> Table:
    table = Table(title=f"Strategies compared (prompt limit {limit} tokens)")
    for column in ("strategy", "tokens/turn (avg)", "max", "total sent", "msgs kept (avg)"):
        table.add_column(column, justify="right" if column != "strategy" else "left")
    table.add_column("turns over limit", justify="right")
    for name, tally in tallies.items():
        table.add_row(
            name,
            f"{_mean(tally.sent):,.0f}",
            f"{max(tally.sent, default=0):,}",
            f"{sum(tally.sent):,}",
            f"{_mean(tally.kept):.1f}",
            f"[red]{tally.over_budget}[/]" if tally.over_budget else "0",
        )
    return table


def _mean(values: Sequence[int]) -> float:
    return sum(values) / len(values) if values else 0.0
