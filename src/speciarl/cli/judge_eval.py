"""``speciarl judge-eval``: judges measured against labelled answers, or against another judge."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from speciarl.cli.app import app
from speciarl.cli.common import bar, fail, stderr


@app.command("judge-eval")
def judge_eval(
    judges: Annotated[
        list[str],
        typer.Option(
            "--judge",
            help="A judge set-up, repeatable: KIND or KIND:key=value,... with KIND lexical, "
            "taxonomy, cascade or llm and keys endpoint, model, prompt, hierarchy, name, "
            "batch_size, concurrency (see docs/judge-eval.md).",
        ),
    ],
    out: Annotated[
        Path, typer.Option(help="Output folder: report.json, report.md, confusion.png.")
    ],
    labelled: Annotated[
        list[Path] | None,
        typer.Option(
            help="Labelled answers (JSONL; the file's name is its dataset), repeatable; "
            "default: the shipped set."
        ),
    ] = None,
    reference_judge: Annotated[
        str | None,
        typer.Option(
            help="Measure against this judge's verdicts on --pairs instead of labelled answers "
            "(a SPEC as for --judge)."
        ),
    ] = None,
    pairs: Annotated[
        Path | None,
        typer.Option(help="With --reference-judge: JSONL or CSV with ground_truth, prediction."),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(help="With --reference-judge: the shipped dataset whose hierarchy to use."),
    ] = None,
    hierarchy: Annotated[
        Path | None,
        typer.Option(help="With --reference-judge: a hierarchy file (YAML or JSON) to use."),
    ] = None,
) -> None:
    """Measure judges against labelled answers (or a reference judge): coverage, accuracy,
    kappas, per-verdict precision and recall, confusion matrices, LLM calls and wall time.

    OPENAI_API_KEY is used when set; a local server needs no key.
    """
    from speciarl.judges.judge_eval import (
        labelled_report,
        reference_report,
        summary_table,
        write_report,
    )

    def progress(description: str):
        return bar(None, description, unit="pair")

    try:
        if reference_judge is None:
            given = [
                option
                for option, value in (
                    ("--pairs", pairs),
                    ("--dataset", dataset),
                    ("--hierarchy", hierarchy),
                )
                if value is not None
            ]
            if given:
                raise ValueError(f"{', '.join(given)} go with --reference-judge")
            report = labelled_report(judges, labelled or None, progress)
        else:
            if labelled:
                raise ValueError("--labelled and --reference-judge exclude each other")
            if pairs is None:
                raise ValueError("--reference-judge needs --pairs FILE")
            report = reference_report(
                reference_judge,
                judges,
                pairs,
                dataset=dataset,
                hierarchy=hierarchy,
                progress=progress,
            )
    except ValueError as error:
        fail(str(error))
    paths = write_report(report, out)
    typer.echo(summary_table(report))
    stderr(f"wrote {', '.join(str(path) for path in paths)}")
