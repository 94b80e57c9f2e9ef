"""The `speciarl` command. Each subcommand calls library functions and holds no logic."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer

app = typer.Typer(
    help="Specificity-aware RL for fine-grained open-world classification.",
    no_args_is_help=True,
    add_completion=False,
)


class JudgeKind(StrEnum):
    lexical = "lexical"
    taxonomy = "taxonomy"
    cascade = "cascade"


@app.command()
def judge(
    pairs: Annotated[
        Path, typer.Option(help="JSONL or CSV file with ground_truth and prediction fields.")
    ],
    out: Annotated[Path, typer.Option(help="Output JSONL, one line per input pair, in order.")],
    judge_kind: Annotated[
        JudgeKind, typer.Option("--judge", help="Which judge grades the pairs.")
    ] = JudgeKind.cascade,
    hierarchy: Annotated[
        Path | None, typer.Option(help="Label hierarchy (YAML or JSON) for the taxonomy judge.")
    ] = None,
    cache: Annotated[
        Path | None, typer.Option(help="SQLite verdict cache file, shared across runs.")
    ] = None,
) -> None:
    """Grade each prediction against its ground truth with one of the six verdicts."""
    from speciarl.judges.factory import build_judge
    from speciarl.judges.hierarchy import Hierarchy
    from speciarl.judges.pairs_file import pairs_of, read_pair_records, write_judgements
    from speciarl.judges.summary import judging_summary

    try:
        records = read_pair_records(pairs)
        loaded = Hierarchy.load(hierarchy) if hierarchy is not None else None
        grader = build_judge(judge_kind.value, hierarchy=loaded, cache_path=cache)
    except ValueError as error:
        _fail(str(error))
    judgements = grader.judge(pairs_of(records))
    write_judgements(out, records, judgements)
    typer.echo(judging_summary(judgements, grader.counters), err=True)


def _fail(message: str) -> NoReturn:
    """Stop with a plain one-line error that names what was wrong."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


@app.command()
def selfcheck() -> None:
    """Judge the paper's examples and reward one group; fails if anything disagrees."""
    from speciarl.selfcheck import run_selfcheck

    result = run_selfcheck()
    typer.echo("\n".join(result.lines))
    if result.failures:
        typer.echo(f"{result.failures} check(s) failed", err=True)
        raise typer.Exit(code=1)
    typer.echo("self-check passed")


if __name__ == "__main__":
    app()
