"""`engram eval`: measure how well memory retrieves the evidence of benchmark questions."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from engram._backends import scheme_of, sqlite_path
from engram._engram import Engram
from engram._exceptions import ConfigError
from engram.cli._options import console, handles_errors, literal
from engram.eval import (
    DiskEmbeddingCache,
    EngramRetriever,
    EvalConversation,
    EvalSettings,
    InProcessRetriever,
    PipelineOptions,
    RetrieverProtocol,
    evaluate,
    load_locomo,
    load_longmemeval,
    run_currency,
    summarize,
)
from engram.eval._bloat import BloatMeter
from engram.eval._cache import default_cache_path
from engram.providers._embeddings import CachedEmbedder

__all__ = ["eval_group"]

F = TypeVar("F", bound=Callable[..., Any])

_DEFAULT_FILES = {"locomo": "locomo_dev.json", "longmemeval": "longmemeval_s_dev.json.gz"}
_stderr = Console(stderr=True, highlight=False)


@click.group("eval")
def eval_group() -> None:
    """Evaluate memory retrieval on LoCoMo and LongMemEval (no LLM needed).

    Each conversation is ingested as dated messages under its own user; each question is a
    search. The output ends with one JSON line of the results.
    """


def _ints(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        numbers = tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError as exc:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}") from exc
    if not numbers or min(numbers) < 1:
        raise click.BadParameter("expected positive integers")
    return numbers


def _sqlite_file(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Path | None:
    """The file of a SQLite address (a path or sqlite:///path): another backend's address
    is refused, not read as a path (`postgresql://h/db` would make a directory `postgresql:`)."""
    if value is None:
        return None
    scheme = scheme_of(value)
    if scheme != "sqlite":
        raise click.BadParameter(
            f"a SQLite file (a path or sqlite:///path), not a {scheme} address"
        )
    try:
        return Path(sqlite_path(value))
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from exc


def cache_options(command: F) -> F:
    """`--cache` and `--no-cache`: where embeddings are cached between runs."""
    command = click.option("--no-cache", is_flag=True, help="Do not cache embeddings on disk.")(
        command
    )
    return click.option(
        "--cache",
        envvar="ENGRAM_EVAL_CACHE",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Embedding cache file (default: <tmp>/engram-eval/embeddings.sqlite; "
        "env: ENGRAM_EVAL_CACHE).",
    )(command)


def eval_options(command: F) -> F:
    """The options every `engram eval` command takes."""
    options = [
        click.option(
            "--data",
            envvar="ENGRAM_EVAL_DATA",
            type=click.Path(exists=True, path_type=Path),
            help="The dataset file, or a directory holding it under its usual name "
            "(env: ENGRAM_EVAL_DATA).",
        ),
        click.option("--limit", type=click.IntRange(min=1), help="Evaluate only this many."),
        click.option(
            "--k",
            "ks",
            default="1,5,10,20",
            show_default=True,
            callback=_ints,
            help="Recall cut-offs, comma-separated.",
        ),
        click.option(
            "--budgets",
            default="1000,2000,4000",
            show_default=True,
            callback=_ints,
            help="Evidence-in-context token budgets, comma-separated.",
        ),
        click.option(
            "--retriever",
            type=click.Choice(["engram", "in-process"]),
            default="engram",
            show_default=True,
            help="engram: the product, Engram's memory API on a SQLite file; in-process: "
            "the same extraction and ranking without a database (fast, for tuning).",
        ),
        click.option(
            "--db",
            type=click.Path(dir_okay=False),
            callback=_sqlite_file,
            help="SQLite file for --retriever engram (default: a temporary file).",
        ),
        click.option(
            "--no-dense",
            is_flag=True,
            help="BM25 only, no embedding model (in-process retriever only).",
        ),
    ]
    command = cache_options(command)
    for option in reversed(options):
        command = option(command)
    return command


@eval_group.command()
@eval_options
@handles_errors
def locomo(**options: Any) -> None:
    """LoCoMo: turn- and session-level evidence recall, evidence-in-context, latency.

    Categories 1-4 (multi-hop, temporal, open-domain, single-hop); adversarial questions and
    questions without valid evidence are skipped. Both speakers' turns are stored.
    """
    path = _data_path(options["data"], "locomo")
    conversations = load_locomo(path, limit=options["limit"])
    _run("locomo", path, conversations, options, official=False, headline="recall@10")


@eval_group.command()
@eval_options
@handles_errors
def longmemeval(**options: Any) -> None:
    """LongMemEval: session-level recall_all@k over user turns (official protocol).

    Only user turns are indexed; abstention questions are skipped. `recall_all@k` requires
    every answer session among the first k distinct sessions retrieved, `recall_any@k` one
    of them; the `official_` ones use the official labels (sessions of `has_answer` user
    turns: the official session granularity), the `turn2session_` ones the official turn
    granularity (a non-evidence turn of an evidence session takes one of the k places).
    --limit takes evenly spaced questions (the file is sorted by question type).
    """
    path = _data_path(options["data"], "longmemeval")
    with _stderr.status("loading LongMemEval..."):
        conversations = load_longmemeval(path, limit=options["limit"])
    _run("longmemeval", path, conversations, options, official=True, headline="recall_all@5")


@eval_group.command()
@click.option(
    "--db",
    type=click.Path(dir_okay=False),
    callback=_sqlite_file,
    help="SQLite file to use (default: a temporary file).",
)
@cache_options
@handles_errors
def currency(db: Path | None, cache: Path | None, no_cache: bool) -> None:
    """Belief currency: after a fact changes, the new value must win.

    Each scenario states a value, then a new one, then asks: searching now must name the new
    value first, searching "as of" a date in between the old one, and the old value must
    still be stored.
    """
    with ExitStack() as stack:
        options = {"db": db, "no_dense": False, "no_cache": no_cache, "cache": cache}
        engram = _open_engram(options, stack, _embedder(options, stack))
        results = run_currency(engram.memories)
    table = Table("scenario", "current first", "as of: old", "old kept", title="belief currency")
    for result in results:
        table.add_row(
            result.name,
            *(_mark(value) for value in (result.current_first, result.as_of_old, result.old_kept)),
        )
    console.print(table)
    summary = {
        "scenarios": len(results),
        "passed": sum(result.passed for result in results),
        **{
            name: sum(getattr(r, name) for r in results)
            for name in ("current_first", "as_of_old", "old_kept")
        },
    }
    click.echo(json.dumps(summary))


def _mark(value: bool) -> str:
    return "yes" if value else "NO"


def _data_path(data: Path | None, dataset: str) -> Path:
    if data is None:
        raise click.UsageError("give the dataset with --data PATH (or ENGRAM_EVAL_DATA)")
    path = data / _DEFAULT_FILES[dataset] if data.is_dir() else data
    if not path.is_file():
        raise click.UsageError(f"no dataset file at {path}")
    return path


def _run(
    dataset: str,
    path: Path,
    conversations: Sequence[EvalConversation],
    options: dict[str, Any],
    *,
    official: bool,
    headline: str,
) -> None:
    settings = EvalSettings(ks=options["ks"], budgets=options["budgets"], official=official)
    total = sum(len(conversation.questions) for conversation in conversations)
    with _retriever(options) as (retriever, described):
        with _progress() as progress:
            task = progress.add_task(dataset, total=total)
            run = evaluate(
                conversations,
                retriever,
                settings,
                on_question=lambda _result: progress.advance(task),
            )
    report = summarize(
        run,
        dataset=dataset,
        retriever=retriever.name,
        settings={"data": str(path), "limit": options["limit"], **described},
    )
    if isinstance(retriever, BloatMeter):  # the Engram retriever: bloat after consolidating
        report.update(retriever.figures())
    for table in _tables(report, headline):
        console.print(table)
    click.echo(json.dumps(report, sort_keys=False))


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_stderr,
        transient=True,
    )


@contextmanager
def _retriever(options: dict[str, Any]) -> Iterator[tuple[RetrieverProtocol, dict[str, Any]]]:
    with ExitStack() as stack:
        if options["retriever"] == "engram":
            if options["no_dense"]:
                raise click.UsageError("--no-dense needs --retriever in-process")
            retriever, engram = _engram_retriever(options, stack)
            llm = engram.settings.llm
            yield (
                retriever,
                {
                    "db": str(options["db"] or "temporary"),
                    # Whether extraction had an LLM (ENGRAM_LLM__*), and the embedding cache used.
                    "llm": llm.model if llm is not None else None,
                    "embedding_cache": None if options["no_cache"] else str(_cache_path(options)),
                },
            )
            return
        embedder = None if options["no_dense"] else _embedder(options, stack)
        pipeline = PipelineOptions(dense=embedder is not None)
        # Queries skip the cache: the measured latency includes embedding the query.
        queries = embedder.inner if isinstance(embedder, CachedEmbedder) else None
        retriever = InProcessRetriever(embedder, pipeline, query_embedder=queries)
        yield retriever, {"pipeline": asdict(pipeline)}


def _cache_path(options: dict[str, Any]) -> Path:
    """The embedding cache file of a run: `--cache`, or the default one."""
    return Path(options["cache"]) if options["cache"] is not None else default_cache_path()


def _embedder(options: dict[str, Any], stack: ExitStack) -> CachedEmbedder:
    from engram.providers._onnx_embedder import LocalEmbedder

    local = LocalEmbedder()
    local.load()
    if options["no_cache"]:
        return CachedEmbedder(local)
    cache = DiskEmbeddingCache(_cache_path(options))
    stack.callback(cache.close)
    return CachedEmbedder(local, cache)


def _engram_retriever(
    options: dict[str, Any], stack: ExitStack
) -> tuple[RetrieverProtocol, Engram]:
    embedder = None if options["no_dense"] else _embedder(options, stack)
    engram = _open_engram(options, stack, embedder)
    cache = embedder.cache if embedder is not None else None
    disk = cache if isinstance(cache, DiskEmbeddingCache) else None
    return BloatMeter(EngramRetriever(engram.memories, cache=disk), engram.memories), engram


def _open_engram(
    options: dict[str, Any], stack: ExitStack, embedder: CachedEmbedder | None
) -> Engram:
    db = options["db"]
    if db is None:
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="engram-eval-"))
        db = Path(folder) / "eval.db"
    return stack.enter_context(Engram(db, embedder=embedder))


def _tables(report: dict[str, Any], headline: str) -> list[Table]:
    """The overall metrics, and the headline metric per category."""
    title = f"{report['dataset']}: {report['questions']} questions, {report['retriever']}"
    overall = Table("metric", "value", title=title)
    for name, value in report.items():
        if "@" in name:
            overall.add_row(name, f"{value:.3f}")
    overall.add_row("search p50 / p95 ms", f"{report['search_p50_ms']} / {report['search_p95_ms']}")
    overall.add_row("ingest s", str(report["ingest_seconds"]))
    if "bloat" in report:
        overall.add_row(
            "bloat before / after consolidating (worst user)",
            f"{report['bloat_before']:.1%} / {report['bloat']:.1%}",
        )
    categories = Table("category", "questions", headline)
    for category, values in report["per_category"].items():
        value = values.get(headline)
        categories.add_row(
            literal(category), str(values["questions"]), "" if value is None else f"{value:.3f}"
        )
    return [overall, categories]
