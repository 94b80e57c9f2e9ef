"""``speciarl train / sft / tiny-model``: training recipes and the tiny local policy."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from speciarl.cli.app import app
from speciarl.cli.common import fail, or_fail

if TYPE_CHECKING:
    from speciarl.train.config import TrainConfig


ConfigArgument = Annotated[Path, typer.Option("--config", help="Recipe YAML (see configs/).")]
OverridesArgument = Annotated[
    list[str] | None,
    typer.Argument(help="Recipe overrides such as optimizer.preset=dapo."),
]


@app.command()
def train(
    config: ConfigArgument,
    overrides: OverridesArgument = None,
    dry_run: Annotated[bool, typer.Option(help="Check the recipe and print the plan.")] = False,
    resume: Annotated[bool, typer.Option(help="Continue from the last checkpoint.")] = False,
) -> None:
    """Train a policy with GRPO (or Dr.GRPO, DAPO) and the SpeciaRL reward, through TRL."""
    from speciarl.train.grpo import check_recipe, train_grpo

    recipe = _recipe(config, overrides)
    if dry_run:
        typer.echo(or_fail(lambda: check_recipe(recipe)))
        return
    typer.echo(f"saved to {train_grpo(recipe, resume=resume)}")


@app.command()
def sft(
    config: ConfigArgument,
    overrides: OverridesArgument = None,
    dry_run: Annotated[bool, typer.Option(help="Check the recipe and print the plan.")] = False,
    resume: Annotated[bool, typer.Option(help="Continue from the last checkpoint.")] = False,
) -> None:
    """The SFT baseline: fine-tune on ground-truth labels in the answer format."""
    from speciarl.train.sft import check_sft_recipe, train_sft

    recipe = _recipe(config, overrides)
    if dry_run:
        typer.echo(or_fail(lambda: check_sft_recipe(recipe)))
        return
    typer.echo(f"saved to {train_sft(recipe, resume=resume)}")


@app.command("tiny-model")
def tiny_model(
    out: Annotated[Path, typer.Option(help="Folder for the checkpoint.")],
    size: Annotated[str, typer.Option(help="tiny (0.4 M parameters) or small (4 M).")] = "tiny",
) -> None:
    """Build a randomly initialised Qwen2.5-VL with a locally trained tokenizer; no download."""
    from speciarl.policy.tiny import SPECS, build_tiny_model

    if size not in SPECS:
        fail(f"unknown size {size!r}; choose one of {', '.join(SPECS)}")
    typer.echo(f"tiny model written to {build_tiny_model(out, SPECS[size])}")


def _recipe(path: Path, overrides: list[str] | None) -> TrainConfig:
    from speciarl.train.config import load_config

    return or_fail(lambda: load_config(path, overrides or []))
