"""Real TRL training of the tiny local model on the synthetic benchmark, on the CPU."""

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from checkpoints import changed_weights
from speciarl.cli import app
from speciarl.train.config import load_config
from speciarl.train.grpo import train_grpo
from speciarl.train.sft import target_text, train_sft
from two_processes import run_two_processes

runner = CliRunner()


def recipe(folder: Path, model: Path, **changes) -> Path:
    content = {
        "name": "tiny-test",
        "model": str(model),
        "output_dir": str(folder / "run"),
        "data": {"dataset": "synthetic", "subset": 24},
        "judge": {"hierarchy": "synthetic"},
        "optimizer": {
            "images_per_step": 2,
            "num_generations": 4,
            "per_device_batch_size": 8,
            "max_completion_length": 24,
            "overlong_buffer": 8,
            "max_steps": 2,
        },
        "lora": {"r": 4, "alpha": 8},
        "report_to": [],
        "save_steps": 2,
    }
    for key, value in changes.items():
        section, _, leaf = key.partition("__")
        if leaf:
            content[section][leaf] = value
        else:
            content[section] = value
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(content))
    return path


@pytest.mark.parametrize("preset", ["grpo", "dr_grpo", "dapo"])
def test_grpo_presets_train_write_an_adapter_and_log_rewards(tmp_path, tiny_model, preset):
    config = load_config(recipe(tmp_path, tiny_model, optimizer__preset=preset))
    adapter = train_grpo(config)
    assert (adapter / "adapter_config.json").is_file()
    assert (adapter / "adapter_model.safetensors").is_file()
    adapter_config = json.loads((adapter / "adapter_config.json").read_text())
    assert "language_model" in adapter_config["target_modules"]
    state = json.loads(
        next((tmp_path / "run" / "checkpoints").glob("checkpoint-*/trainer_state.json")).read_text()
    )
    logged = state["log_history"][0]
    assert "speciarl/hm" in logged and "speciarl/format_failure" in logged
    assert "rewards/speciarl/mean" in logged
    if preset == "dapo":
        assert any(key.startswith("rewards/soft_overlong") for key in logged)
    rollouts = [json.loads(line) for line in (tmp_path / "run" / "rollouts" / "rank0.jsonl").open()]
    assert len(rollouts) == 2 * 2 * 4  # steps x images x rollouts
    assert {"sample_id", "completion", "answer", "verdict", "judge", "c_star", "reward"} <= set(
        rollouts[0]
    )


def test_resume_continues_from_the_last_checkpoint(tmp_path, tiny_model):
    config = load_config(recipe(tmp_path, tiny_model, save_steps=1))
    train_grpo(config)
    longer = load_config(recipe(tmp_path, tiny_model, save_steps=1, optimizer__max_steps=3))
    train_grpo(longer, resume=True)
    rollouts = [json.loads(line) for line in (tmp_path / "run" / "rollouts" / "rank0.jsonl").open()]
    steps = sorted({row["step"] for row in rollouts})
    assert steps == [0, 1, 2]  # the resumed run did only the third step
    assert (tmp_path / "run" / "checkpoints" / "checkpoint-3").is_dir()


def test_merged_model_is_saved_on_request(tmp_path, tiny_model):
    config = load_config(recipe(tmp_path, tiny_model, merge_adapter=True, optimizer__max_steps=1))
    train_grpo(config)
    merged = tmp_path / "run" / "merged"
    assert (merged / "config.json").is_file()
    from transformers import AutoModelForImageTextToText

    assert AutoModelForImageTextToText.from_pretrained(merged) is not None


def test_sft_baseline_trains_on_labels_in_the_answer_format(tmp_path, tiny_model):
    config = load_config(recipe(tmp_path, tiny_model, optimizer__learning_rate=0.01))
    adapter = train_sft(config)
    assert (adapter / "adapter_model.safetensors").is_file()
    state = json.loads(
        next((tmp_path / "run" / "checkpoints").glob("checkpoint-*/trainer_state.json")).read_text()
    )
    assert state["global_step"] == 2
    assert target_text("red circle") == (
        "<think>I look at the object in the image and name it.</think><answer>red circle</answer>"
    )


def test_cli_dry_run_and_tiny_model(tmp_path, tiny_model):
    path = recipe(tmp_path, tiny_model)
    result = runner.invoke(app, ["train", "--config", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "2 images x 4 rollouts = 8 completions per step" in result.stdout
    bad = runner.invoke(app, ["train", "--config", str(path), "optimizer.preset=ppo", "--dry-run"])
    assert bad.exit_code == 2 and "optimizer.preset must be one of" in bad.stderr
    sft = runner.invoke(app, ["sft", "--config", str(path), "--dry-run"])
    assert sft.exit_code == 0, sft.output
    built = runner.invoke(app, ["tiny-model", "--out", str(tmp_path / "m")])
    assert built.exit_code == 0, built.output
    assert (tmp_path / "m" / "config.json").is_file()


def test_two_processes_train_with_groups_split_between_them(tmp_path, tiny_model):
    """torchrun, two CPU processes, gloo: 3 images x 4 rollouts over 2 x 2-completion slices."""
    path = recipe(
        tmp_path,
        tiny_model,
        optimizer__images_per_step=3,
        optimizer__per_device_batch_size=2,
        optimizer__max_completion_length=12,
        optimizer__overlong_buffer=4,
    )
    run_two_processes("two_process_grpo.py", str(path), timeout=300)
    logs = tmp_path / "run" / "rollouts"
    by_rank = {
        rank: [json.loads(line) for line in (logs / f"rank{rank}.jsonl").open()] for rank in (0, 1)
    }
    assert len(by_rank[0]) == len(by_rank[1]) == 12
    groups: dict[tuple[int, str], list[int]] = {}
    for rank, rows in by_rank.items():
        for row in rows:
            groups.setdefault((row["step"], row["sample_id"]), []).append(rank)
    assert all(len(ranks) == 4 for ranks in groups.values())
    assert any(set(ranks) == {0, 1} for ranks in groups.values())  # a group was split
    assert (tmp_path / "run" / "adapter" / "adapter_model.safetensors").is_file()


def test_full_fine_tuning_without_lora_saves_the_whole_model(tmp_path, tiny_model):
    from transformers import AutoModelForImageTextToText

    config = load_config(recipe(tmp_path, tiny_model, lora=None, optimizer__max_steps=1))
    assert config.lora is None
    saved = train_sft(config)
    assert saved.name == "model" and (saved / "config.json").is_file()
    assert AutoModelForImageTextToText.from_pretrained(saved) is not None
    (tmp_path / "g").mkdir()
    grpo = load_config(recipe(tmp_path / "g", tiny_model, lora=None, optimizer__max_steps=1))
    assert train_grpo(grpo).name == "model"


@pytest.mark.parametrize("train_vision", [False, True])
def test_full_fine_tuning_trains_the_vision_tower_only_when_asked(
    tmp_path, tiny_model, train_vision
):
    config = load_config(
        recipe(
            tmp_path,
            tiny_model,
            lora=None,
            train_vision=train_vision,
            optimizer__max_steps=2,
            optimizer__learning_rate=1e-3,
        )
    )
    changed, vision = changed_weights(tiny_model, train_sft(config))
    assert vision and changed - vision, "the language model must train either way"
    if train_vision:
        assert len(changed & vision) > len(vision) / 2
    else:
        assert not changed & vision
