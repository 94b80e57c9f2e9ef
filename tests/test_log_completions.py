"""The recipe's ``log_completions`` key turns on TRL's own completions table."""

import pandas as pd

from speciarl.train.config import load_config
from speciarl.train.grpo import plan, train_grpo
from test_train_e2e import recipe as tiny_recipe


def recipe(folder, model, **top_level):
    """The end-to-end tests' tiny recipe, one step long."""
    return tiny_recipe(folder, model, optimizer__max_steps=1, save_steps=1, **top_level)


def grpo_config(path, *overrides):
    from trl import GRPOConfig

    return GRPOConfig(**plan(load_config(path, overrides), world_size=1).arguments)


def test_log_completions_is_off_by_default(tmp_path):
    arguments = grpo_config(recipe(tmp_path, "tiny"))
    assert arguments.log_completions is False
    assert arguments.num_completions_to_print is None


def test_the_recipe_key_reaches_grpo_config(tmp_path):
    path = recipe(tmp_path, "tiny", log_completions=True, num_completions_to_print=3)
    arguments = grpo_config(path)
    assert arguments.log_completions is True
    assert arguments.num_completions_to_print == 3
    overridden = grpo_config(recipe(tmp_path, "tiny"), "log_completions=true")
    assert overridden.log_completions is True


def test_a_tiny_run_writes_trls_completions_table(tmp_path, tiny_model, capsys):
    # TRL 1.16 (GRPOTrainer.log) writes every logged step's completions to
    # <output_dir>/completions/completions_<step:05d>.parquet whatever the loggers, prints them
    # with rich when it is installed, and sends them to W&B/trackio only when reported to.
    config = load_config(
        recipe(tmp_path, tiny_model, log_completions=True, num_completions_to_print=2)
    )
    train_grpo(config)
    table_file = tmp_path / "run" / "checkpoints" / "completions" / "completions_00001.parquet"
    assert table_file.is_file()
    table = pd.read_parquet(table_file)
    assert len(table) == 2 * 4  # images x rollouts of the step
    assert {"step", "prompt", "completion", "advantage"} <= set(table.columns)
    assert set(table["step"]) == {1}
    printed = capsys.readouterr().out
    assert "Step 1" in printed and "Advantage" in printed
    # our own rollout log is still written, alongside TRL's table
    assert (tmp_path / "run" / "rollouts" / "rank0.jsonl").is_file()
