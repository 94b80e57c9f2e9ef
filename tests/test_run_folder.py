"""A run folder is bound to its recipe: the saved recipe, --resume and --overwrite."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from speciarl.cli import app
from speciarl.train.config import ConfigError, TrainConfig, load_config
from speciarl.train.grpo import train_grpo
from speciarl.train.run_folder import check_run_folder, recipe_file, start_run
from test_train_e2e import recipe

runner = CliRunner()


def config_in(folder: Path, **changes) -> TrainConfig:
    return dataclasses.replace(TrainConfig(output_dir=str(folder)), **changes)


def with_optimizer(config: TrainConfig, **changes) -> TrainConfig:
    return dataclasses.replace(config, optimizer=dataclasses.replace(config.optimizer, **changes))


def leave_a_run(folder: Path, config: TrainConfig, command: str = "train") -> None:
    """What a run leaves: its saved recipe, a checkpoint, its rollout log, its adapter."""
    start_run(config, command, resume=False, overwrite=False)
    for part in ("checkpoints/checkpoint-2", "rollouts", "adapter", "data/train"):
        (folder / part).mkdir(parents=True, exist_ok=True)
    (folder / "checkpoints/checkpoint-2/trainer_state.json").write_text("{}")
    (folder / "rollouts/rank0.jsonl").write_text("{}\n")
    (folder / "adapter/adapter_model.safetensors").write_text("")
    (folder / "data/train/manifest.json").write_text("{}")
    (folder / "verdicts.sqlite").write_text("")


def refusal(config: TrainConfig, command: str = "train", **options: bool) -> str:
    with pytest.raises(ConfigError) as caught:
        check_run_folder(
            config,
            command,
            resume=options.get("resume", False),
            overwrite=options.get("overwrite", False),
        )
    message = str(caught.value)
    assert "\n" not in message and str(config.output_dir) in message
    return message


def test_a_fresh_run_saves_its_resolved_recipe(tmp_path):
    config = config_in(tmp_path / "run", seed=3)
    assert start_run(config, "train", resume=False, overwrite=False) is None
    saved = recipe_file(tmp_path / "run", "train")
    assert saved.name == "recipe.train.yaml"
    text = saved.read_text()
    assert text.startswith("# The resolved recipe of this run folder")
    assert "learning_rate: 3.0e-05" in text and "num_generations: 10" in text  # defaults filled in
    assert load_config(saved) == config
    assert not list(saved.parent.glob(".*.tmp"))  # written atomically, nothing left behind


def test_training_again_into_a_run_needs_resume_or_overwrite(tmp_path):
    folder = tmp_path / "run"
    config = config_in(folder)
    leave_a_run(folder, config)
    message = refusal(config)
    assert "holds a run (checkpoints, rollouts, adapter)" in message
    assert "--resume" in message and "--overwrite" in message


def test_another_recipe_into_a_run_is_refused_with_its_differences(tmp_path):
    folder = tmp_path / "run"
    leave_a_run(folder, config_in(folder))
    other = with_optimizer(
        config_in(folder, reward=dataclasses.replace(TrainConfig().reward, scheme="binary")),
        learning_rate=1e-4,
    )
    message = refusal(other)
    assert (
        'optimizer.learning_rate: 3e-05 → 0.0001, reward.scheme: "speciarl" → "binary"' in message
    )
    assert "--overwrite" in message
    message = refusal(other, resume=True)
    assert "--resume needs the run's own recipe (recipe.train.yaml)" in message
    assert 'reward.scheme: "speciarl" → "binary"' in message


def test_resume_may_train_longer_and_move_the_judge(tmp_path):
    folder = tmp_path / "run"
    leave_a_run(folder, config_in(folder))
    longer = with_optimizer(config_in(folder), max_steps=400, epochs=20.0)
    longer = dataclasses.replace(
        longer, judge=dataclasses.replace(longer.judge, cache="redis://10.0.0.2:6379/0")
    )
    checkpoint = start_run(longer, "train", resume=True, overwrite=False)
    assert checkpoint == folder / "checkpoints" / "checkpoint-2"
    assert load_config(recipe_file(folder, "train")) == longer  # the saved recipe follows
    assert (folder / "rollouts" / "rank0.jsonl").is_file()  # nothing cleared


def test_resume_without_a_checkpoint_is_an_error_not_a_fresh_start(tmp_path):
    folder = tmp_path / "run"
    message = refusal(config_in(folder), resume=True)
    assert "--resume found no checkpoint in" in message
    start_run(config_in(folder), "train", resume=False, overwrite=False)
    (folder / "rollouts").mkdir()
    (folder / "rollouts" / "rank0.jsonl").write_text("{}\n")
    assert "--resume found no checkpoint" in refusal(config_in(folder), resume=True)


def test_resume_and_overwrite_exclude_each_other(tmp_path):
    message = refusal(config_in(tmp_path / "run"), resume=True, overwrite=True)
    assert "--resume and --overwrite exclude each other" in message


def test_overwrite_clears_the_old_run_but_keeps_the_built_data_and_the_verdicts(tmp_path):
    folder = tmp_path / "run"
    leave_a_run(folder, config_in(folder))
    (folder / "merged").mkdir()
    (folder / "merged" / "config.json").write_text("{}")
    new = with_optimizer(config_in(folder), learning_rate=1e-4)
    assert start_run(new, "train", resume=False, overwrite=True) is None
    left = sorted(path.name for path in folder.iterdir())
    assert left == ["data", "recipe.train.yaml", "verdicts.sqlite"]
    assert load_config(recipe_file(folder, "train")) == new


def test_sft_and_grpo_do_not_share_a_run_folder(tmp_path):
    folder = tmp_path / "run"
    leave_a_run(folder, config_in(folder), command="train")
    for resume in (False, True):
        message = refusal(config_in(folder), "sft", resume=resume)
        assert "holds a run of `speciarl train`" in message and "--overwrite" in message
    start_run(config_in(folder), "sft", resume=False, overwrite=True)
    assert [path.name for path in folder.glob("recipe.*.yaml")] == ["recipe.sft.yaml"]


def test_a_run_that_never_trained_a_step_may_start_again(tmp_path):
    """Only a saved recipe (the start failed: no checkpoint, no rollout, no output): nothing
    to protect, so fixing the recipe and starting again needs no option."""
    folder = tmp_path / "run"
    start_run(config_in(folder), "sft", resume=False, overwrite=False)
    fixed = config_in(folder, model="models/the-right-one")
    start_run(fixed, "train", resume=False, overwrite=False)
    assert [path.name for path in folder.glob("recipe.*.yaml")] == ["recipe.train.yaml"]
    assert load_config(recipe_file(folder, "train")) == fixed


def test_a_run_from_before_saved_recipes_can_still_resume(tmp_path):
    folder = tmp_path / "run"
    (folder / "checkpoints" / "checkpoint-5").mkdir(parents=True)
    config = config_in(folder)
    assert "holds a run (checkpoints)" in refusal(config)
    assert start_run(config, "train", resume=True, overwrite=False) == (
        folder / "checkpoints" / "checkpoint-5"
    )
    assert recipe_file(folder, "train").is_file()


def test_a_saved_recipe_that_no_longer_reads_says_to_overwrite(tmp_path):
    folder = tmp_path / "run"
    leave_a_run(folder, config_in(folder))
    recipe_file(folder, "train").write_text("optimizer:\n  clip: 3\n")
    message = refusal(config_in(folder), resume=True)
    assert "unknown setting optimizer.clip" in message and "--overwrite" in message


# --- the commands, end to end --------------------------------------------------------------------


def test_cli_refuses_a_used_folder_in_one_line_before_loading_anything(tmp_path, tiny_model):
    path = recipe(tmp_path, tiny_model)
    config = load_config(path)
    leave_a_run(Path(config.output_dir), config)
    for command in ("train", "sft"):
        result = runner.invoke(app, [command, "--config", str(path)])
        assert result.exit_code == 2, result.output
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith(f"error: {config.output_dir} holds a run")
    both = runner.invoke(app, ["train", "--config", str(path), "--resume", "--overwrite"])
    assert both.exit_code == 2 and "exclude each other" in both.stderr


def test_a_run_folder_keeps_one_run_and_its_rewards_are_named_after_the_scheme(
    tmp_path, tiny_model
):
    """Two 1-step GRPO runs: a second recipe is refused, --overwrite replaces the first run
    (steps counted from 0 again, no old checkpoint left), and --resume with a changed learning
    rate is refused."""
    one_step = {"optimizer__max_steps": 1, "save_steps": 1}
    first = load_config(recipe(tmp_path, tiny_model, **one_step))
    train_grpo(first)
    run = tmp_path / "run"
    binary = load_config(recipe(tmp_path, tiny_model, reward={"scheme": "binary"}, **one_step))
    with pytest.raises(ConfigError) as refused:
        train_grpo(binary)
    assert 'reward.scheme: "speciarl" → "binary"' in str(refused.value)
    (run / "checkpoints" / "checkpoint-1" / "marker").write_text("the first run's")
    train_grpo(binary, overwrite=True)
    rollouts = [json.loads(line) for line in (run / "rollouts" / "rank0.jsonl").open()]
    assert sorted({row["step"] for row in rollouts}) == [0]
    assert len(rollouts) == 2 * 4  # this run's only: images x rollouts
    assert not (run / "checkpoints" / "checkpoint-1" / "marker").exists()
    assert load_config(run / "recipe.train.yaml") == binary
    state = json.loads((run / "checkpoints" / "checkpoint-1" / "trainer_state.json").read_text())
    logged = state["log_history"][0]
    assert "rewards/binary/mean" in logged and "rewards/binary/std" in logged
    assert not any(key.startswith("rewards/speciarl/") for key in logged)
    assert "speciarl/hm" in logged  # the judge's diagnostics keep their names
    faster = with_optimizer(binary, learning_rate=1e-3, max_steps=2)
    with pytest.raises(ConfigError) as refused:
        train_grpo(faster, resume=True)
    assert "optimizer.learning_rate: 3e-05 → 0.001" in str(refused.value)


def test_every_setting_resume_may_change_is_a_setting():
    from speciarl.train.run_folder import RESUMABLE, dotted_settings

    assert not RESUMABLE - set(dotted_settings(dataclasses.asdict(TrainConfig())))
