"""``speciarl rollouts``: what a training run's policy answered, step by step."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from speciarl.cli.app import app
from speciarl.cli.common import or_fail, stderr
from speciarl.evaluate.html.rollout_steps import GROUPS_PER_STEP


@app.command("rollouts")
def rollouts_command(
    run: Annotated[Path, typer.Argument(help="Run folder of `speciarl train`.")],
    html: Annotated[
        Path | None,
        typer.Option(help="Write the rollouts page here (charts, per-step table, groups)."),
    ] = None,
    groups_per_step: Annotated[
        int, typer.Option(min=1, help="Groups per step embedded in the page.")
    ] = GROUPS_PER_STEP,
) -> None:
    """Per step: verdict shares, format failures, mean reward and answer length, read from the
    run's rollout log (all ranks); with --html, a page to read each step's groups too."""
    from speciarl.evaluate.html.rollout_steps import summarize_rollouts, text_summary

    if html is None:
        typer.echo(text_summary(or_fail(lambda: summarize_rollouts(run))), nl=False)
        return
    from speciarl.evaluate.html.rollouts_page import write_rollouts_html

    written = or_fail(lambda: write_rollouts_html(run, html, groups_per_step=groups_per_step))
    stderr(f"wrote {written}")
