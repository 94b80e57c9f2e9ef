"""``speciarl train / sft / tiny-model``: training recipes and the tiny local policy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from speciarl.cli.app import app
from speciarl.cli.common import fail, or_fail
from speciarl.policy.architectures import SHIPPED_ARCHITECTURES
from speciarl.policy.tiny import (
    ARCHITECTURES,
    DEFAULT_ARCHITECTURE,
    SPECS,
    build_tiny_model,
    tiny_architecture,
)

if TYPE_CHECKING:
    from speciarl.train.config import TrainConfig


ConfigArgument = Annotated[Path, typer.Option("--config", help="Recipe YAML (see configs/).")]
OverridesArgument = Annotated[
    list[str] | None,
    typer.Argument(help="Recipe overrides such as optimizer.preset=dapo."),
]
ResumeOption = Annotated[
    bool,
    typer.Option(help="Continue the run in the recipe's output_dir from its last checkpoint."),
]
OverwriteOption = Annotated[
    bool,
    typer.Option(
        help="Replace the run in the recipe's output_dir (its checkpoints, rollout log, "
        "saved model) and start afresh."
    ),
]


@app.command()
def train(
    config: ConfigArgument,
    overrides: OverridesArgument = None,
    dry_run: Annotated[bool, typer.Option(help="Check the recipe and print the plan.")] = False,
    resume: ResumeOption = False,
    overwrite: OverwriteOption = False,
    processes: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="With --dry-run: plan a launch of this many processes (default: WORLD_SIZE, "
            "or 1). Real launches take theirs from accelerate launch or torchrun.",
        ),
    ] = None,
    gpu_memory: Annotated[
        float | None,
        typer.Option(
            min=1,
            help="With --dry-run: GiB of memory per GPU to plan for (default: the visible GPU's, "
            "else 80).",
        ),
    ] = None,
    setup: Annotated[
        str | None,
        typer.Option(
            help="With --dry-run: the accelerate set-up the memory plan is for: single, ddp, "
            "zero3 or fsdp (default: single for one process, ddp for more).",
        ),
    ] = None,
    architecture: Annotated[
        str | None,
        typer.Option(
            help="With --dry-run: plan memory for this shipped architecture ("
            + ", ".join(SHIPPED_ARCHITECTURES)
            + ") instead of the model's own config.json.",
        ),
    ] = None,
) -> None:
    """Train a policy with GRPO (or Dr.GRPO, DAPO) and the SpeciaRL reward, through TRL."""
    from speciarl.train.grpo import check_recipe, train_grpo

    recipe = _recipe(config, overrides)
    if dry_run:
        _print_dry_run(
            lambda: check_recipe(
                recipe, processes, setup=setup, gpu_gib=gpu_memory, architecture=architecture
            )
        )
        return
    planning = (
        ("--processes", processes),
        ("--gpu-memory", gpu_memory),
        ("--setup", setup),
        ("--architecture", architecture),
    )
    for option, value in planning:
        if value is not None:
            fail(
                f"{option} plans a launch with --dry-run; a real launch takes its processes and "
                "GPUs from accelerate launch or torchrun"
            )
    saved = _unless_unstartable(lambda: train_grpo(recipe, resume=resume, overwrite=overwrite))
    typer.echo(f"saved to {saved}")


@app.command()
def sft(
    config: ConfigArgument,
    overrides: OverridesArgument = None,
    dry_run: Annotated[bool, typer.Option(help="Check the recipe and print the plan.")] = False,
    resume: ResumeOption = False,
    overwrite: OverwriteOption = False,
) -> None:
    """The SFT baseline: fine-tune on ground-truth labels in the answer format."""
    from speciarl.train.sft import check_sft_recipe, train_sft

    recipe = _recipe(config, overrides)
    if dry_run:
        _print_dry_run(lambda: check_sft_recipe(recipe))
        return
    saved = _unless_unstartable(lambda: train_sft(recipe, resume=resume, overwrite=overwrite))
    typer.echo(f"saved to {saved}")


@app.command("tiny-model")
def tiny_model(
    out: Annotated[Path, typer.Option(help="Folder for the checkpoint.")],
    arch: Annotated[
        str,
        typer.Option(
            help="Architecture: "
            + ", ".join(f"{name} ({arch.title})" for name, arch in ARCHITECTURES.items())
            + "."
        ),
    ] = DEFAULT_ARCHITECTURE,
    size: Annotated[
        str,
        typer.Option(help="tiny (0.25-0.5 M parameters), small (4 M) or medium (120 M, for GPUs)."),
    ] = "tiny",
) -> None:
    """Build a randomly initialised vision-language model of a real architecture (its own
    config, processor and chat format) with a locally trained tokenizer; no download."""
    if size not in SPECS:
        fail(f"unknown size {size!r}; choose one of {', '.join(SPECS)}")
    or_fail(lambda: tiny_architecture(arch))
    built = build_tiny_model(out, SPECS[size], architecture=arch)
    typer.echo(f"tiny {arch} model written to {built}")


def _recipe(path: Path, overrides: list[str] | None) -> TrainConfig:
    from speciarl.train.config import load_config

    return or_fail(lambda: load_config(path, overrides or []))


def _print_dry_run(check: Callable[[], str]) -> None:
    """Print a dry run's report. When the recipe cannot start, what was planned and checked is
    printed all the same (stdout), before the problems (stderr, exit code 2): the plan says how
    far off the recipe is."""
    from speciarl.train.preflight import PreflightError

    try:
        report = check()
    except PreflightError as error:
        if error.report:
            typer.echo("\n".join(error.report))
        fail(str(error))
    except ValueError as error:
        fail(str(error))
    typer.echo(report)


def _unless_unstartable(run: Callable[[], Path]) -> Path:
    """Run a training; a recipe that cannot start (ConfigError), or a run stopped by a judge
    outage (it says how to resume), is a one-line error. Other errors keep their traceback:
    they come from inside the trainer."""
    from speciarl.train.config import ConfigError
    from speciarl.train.reward_fn import JudgeOutage

    try:
        return run()
    except (ConfigError, JudgeOutage) as error:
        fail(str(error))
