"""A run folder belongs to one run: the recipe that trains it is saved in it, and training into
it again either continues that run (``--resume``, same recipe) or replaces it (``--overwrite``).

Without this, a second run with another recipe appends its steps to the first one's rollout log,
leaves the old checkpoints beside its own (so a later ``--resume`` continues the wrong run), and
a resume with changed settings trains on while the trainer keeps the checkpoint's.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from speciarl.atomic import atomic_write
from speciarl.train.config import ConfigError, TrainConfig, read_recipe, recipe_text
from speciarl.train.setup import CHECKPOINT_FOLDER

log = logging.getLogger(__name__)

COMMANDS = ("train", "sft")
"""The commands that train into a run folder; each saves its recipe as ``recipe.<command>.yaml``,
so the file says both what trained the folder and how to run it again."""

RUN_OUTPUTS = (CHECKPOINT_FOLDER, "rollouts", "adapter", "model", "merged")
"""What a run writes into its folder and ``--overwrite`` clears. The built training set
(``data/train``) and the verdict cache stay: both are reused when they still fit."""

RESUMABLE = frozenset(
    {
        # Train longer (or shorter): the trainer continues from its checkpoint either way.
        "optimizer.max_steps",
        "optimizer.epochs",
        # What is logged and kept, not what is learned.
        "logging_steps",
        "save_steps",
        "report_to",
        "merge_adapter",
        "log_completions",
        "num_completions_to_print",
        # How long to wait out a judge outage: a run stopped by one may resume with more patience.
        "judge.max_undecided",
        "judge.outage_timeout",
        # Where things are and how fast they run: addresses, paths, concurrency.
        "output_dir",
        "data.root",
        "judge.endpoint",
        "judge.cache",
        "judge.concurrency",
        "judge.batch_size",
        "rollouts.use_vllm",
        "rollouts.vllm_mode",
        "rollouts.vllm_server_base_url",
    }
)
"""Settings that ``--resume`` may change; any other difference from the saved recipe is refused."""


def recipe_file(folder: Path, command: str) -> Path:
    return folder / f"recipe.{command}.yaml"


def start_run(config: TrainConfig, command: str, *, resume: bool, overwrite: bool) -> Path | None:
    """Bind ``config``'s run folder to it before anything loads; returns the checkpoint to resume
    from (``None`` for a fresh start).

    Every process checks the folder as it was; then the main process clears it (``overwrite``)
    and saves the recipe while the others wait, so no process sees another's writes half done.
    """
    from accelerate import PartialState

    folder = Path(config.output_dir)
    checkpoint = check_run_folder(config, command, resume=resume, overwrite=overwrite)
    state = PartialState()
    state.wait_for_everyone()
    if state.is_main_process:
        if checkpoint is None:
            clear_run(folder)  # with no --overwrite, only empty folders and stale recipes
        save_recipe(config, command)
    state.wait_for_everyone()
    return checkpoint


def check_run_folder(
    config: TrainConfig, command: str, *, resume: bool, overwrite: bool
) -> Path | None:
    """The checkpoint to resume from, or ``None`` to start afresh; a one-line
    :class:`ConfigError` naming the folder and the option when ``config`` may not train there."""
    folder = Path(config.output_dir)
    if resume and overwrite:
        raise ConfigError(f"{folder}: --resume and --overwrite exclude each other; choose one")
    if overwrite:
        return None
    other = [name for name in COMMANDS if name != command and recipe_file(folder, name).is_file()]
    if other and (resume or _holds_a_run(folder)):
        raise ConfigError(
            f"{folder} holds a run of `speciarl {other[0]}`; replace it with --overwrite or "
            "train into another output_dir"
        )
    saved = recipe_file(folder, command)
    if not resume:
        if _holds_a_run(folder):
            changes = _differences(saved, config) if saved.is_file() else {}
            advice = (
                f"it was trained with another recipe ({_describe(changes)}): replace it with "
                "--overwrite or train into another output_dir"
                if changes
                else "continue it with --resume or replace it with --overwrite"
            )
            raise ConfigError(f"{folder} holds a run ({_contents(folder)}); {advice}")
        return None
    checkpoint = last_checkpoint(folder)
    if checkpoint is None:
        raise ConfigError(
            f"{folder}: --resume found no checkpoint in {folder / CHECKPOINT_FOLDER}; "
            "train without --resume to start (with --overwrite if the folder holds a run)"
        )
    if not saved.is_file():
        log.warning("%s has no saved recipe (an older run): resuming without comparing", folder)
        return checkpoint
    changes = {
        key: change for key, change in _differences(saved, config).items() if key not in RESUMABLE
    }
    if changes:
        raise ConfigError(
            f"{folder}: --resume needs the run's own recipe ({saved.name}), but these settings "
            f"differ: {_describe(changes)}; undo them, or replace the run with --overwrite"
        )
    return checkpoint


def last_checkpoint(folder: Path) -> Path | None:
    """The newest ``checkpoints/checkpoint-<step>`` folder, as the trainer itself finds it."""
    from transformers.trainer_utils import get_last_checkpoint

    checkpoints = folder / CHECKPOINT_FOLDER
    if not checkpoints.is_dir():
        return None
    found = get_last_checkpoint(str(checkpoints))
    return Path(found) if found else None


def save_recipe(config: TrainConfig, command: str) -> Path:
    """``RUN/recipe.<command>.yaml``: the resolved recipe, every default filled in."""
    path = recipe_file(Path(config.output_dir), command)
    header = (
        "# The resolved recipe of this run folder, every default filled in. Continue the run with\n"
        f"#   speciarl {command} --config {path} --resume\n"
        "# or train it again from the start with --overwrite instead of --resume.\n"
    )
    with atomic_write(path) as stream:
        stream.write(header + recipe_text(config))
    return path


def clear_run(folder: Path) -> None:
    """Remove a previous run's outputs; its saved recipe goes last, so an interrupted clear
    still leaves a folder that ``--resume`` refuses for the old recipe."""
    for name in RUN_OUTPUTS:
        path = folder / name
        if path.is_dir():
            shutil.rmtree(path)
    for command in COMMANDS:
        recipe_file(folder, command).unlink(missing_ok=True)


def _holds_a_run(folder: Path) -> bool:
    return bool(_contents(folder))


def _contents(folder: Path) -> str:
    """What of a run the folder holds, as words for a message ('' when nothing)."""
    return ", ".join(
        name for name in RUN_OUTPUTS if (folder / name).is_dir() and any((folder / name).iterdir())
    )


def _differences(saved: Path, config: TrainConfig) -> dict[str, tuple[Any, Any]]:
    """``{key: (old, new)}`` for every setting in which ``config`` differs from the saved one."""
    try:
        old = dotted_settings(dataclasses.asdict(read_recipe(saved)))
    except ConfigError as error:
        raise ConfigError(f"{error}; replace the run with --overwrite") from None
    new = dotted_settings(dataclasses.asdict(config))
    return {
        key: (old.get(key), new.get(key))
        for key in sorted(old.keys() | new.keys())
        if old.get(key) != new.get(key)
    }


def _describe(differences: Mapping[str, tuple[Any, Any]]) -> str:
    return ", ".join(
        f"{key}: {json.dumps(old)} → {json.dumps(new)}" for key, (old, new) in differences.items()
    )


def dotted_settings(settings: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted keys of nested settings; a whole section that is ``None`` (``lora: null``) is one
    leaf."""
    found: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, Mapping):
            found.update(dotted_settings(value, f"{prefix}{key}."))
        else:
            found[f"{prefix}{key}"] = value
    return found
