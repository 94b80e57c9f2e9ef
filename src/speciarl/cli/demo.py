"""``speciarl demo`` and ``speciarl selfcheck``: the method shown and checked on this machine."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from speciarl.cli.app import app
from speciarl.cli.common import fail, stderr


@app.command()
def demo(
    quick: Annotated[bool, typer.Option(help="The few-minute version (as CI runs it).")] = False,
    out: Annotated[Path, typer.Option(help="Run folder (resumes if it exists).")] = Path(
        "runs/demo"
    ),
    seed: Annotated[
        int, typer.Option(help="Seed of every stage: model, data order, level draws, sampling.")
    ] = 0,
) -> None:
    """The paper in miniature on the CPU: pre-train, RFT vs SpeciaRL, evaluate, tabulate."""
    from dataclasses import replace

    from speciarl.demo import QUICK, DemoError, DemoSettings, run_demo

    settings = replace(QUICK if quick else DemoSettings(), seed=seed)
    try:
        with contextlib.redirect_stdout(sys.stderr):  # trainers log to stdout; it has the table
            table = run_demo(out, settings, echo=stderr)
    except DemoError as error:
        fail(str(error))
    typer.echo(table, nl=False)
    typer.echo(f"table, reports and plots in {out}", err=True)


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
