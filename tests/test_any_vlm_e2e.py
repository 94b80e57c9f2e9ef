"""Every tiny architecture through the whole path: GRPO with LoRA, then predict, verify, report.

Each step runs the real command (`speciarl train`, `predict`, `verify`, `report`) on a tiny
model built for that architecture. The adapters are checked against where each architecture
keeps its decoder layers, written out here from transformers' module layout rather than read
from speciarl, so a wrong placement cannot agree with itself.
"""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForImageTextToText
from typer.testing import CliRunner

from speciarl.cli import app
from speciarl.policy.tiny import SPECS, build_tiny_model
from test_train_e2e import recipe

runner = CliRunner()

DECODER_LAYERS = {
    "qwen2.5-vl": "model.language_model.layers",
    "qwen3-vl": "model.language_model.layers",
    "gemma3": "model.language_model.layers",
    "internvl": "model.language_model.layers",
    "llava-onevision": "model.language_model.layers",
    "smolvlm": "model.text_model.layers",
}
"""Each architecture's decoder-layer list, as transformers 5 names it."""
LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
"""The recipe's default LoRA targets: every linear layer of a decoder layer."""
SLOW = {"qwen2.5-vl", "qwen3-vl", "llava-onevision"}
"""Run with the slow tests only: the six together take over 90 s. Qwen2.5-VL trains and predicts
in tests/test_train_e2e.py and tests/test_evaluate_e2e.py as well, Qwen3-VL shares its code path,
LLaVA-OneVision shares Qwen's ChatML format."""


def arch_param(arch: str) -> object:
    return pytest.param(arch, marks=[pytest.mark.slow] if arch in SLOW else [])


def cli(*args: object) -> str:
    result = runner.invoke(app, [str(arg) for arg in args])
    assert result.exit_code == 0, result.output
    return result.output


def any_vlm_recipe(folder: Path, model: Path) -> Path:
    """The tiny recipe, smaller still: six architectures train in the suite's time."""
    return recipe(
        folder,
        model,
        data__subset=8,
        optimizer__num_generations=2,
        optimizer__per_device_batch_size=4,
        optimizer__max_completion_length=8,
        optimizer__overlong_buffer=2,
        merge_adapter=True,
    )


def adapted_modules(adapter: Path) -> set[str]:
    """The module paths (of the transformers model) that carry a LoRA adapter."""
    weights = load_file(str(adapter / "adapter_model.safetensors"))
    prefix = "base_model.model."
    modules = {name.split(".lora_")[0] for name in weights}
    assert all(module.startswith(prefix) for module in modules), sorted(modules)[:3]
    return {module.removeprefix(prefix) for module in modules}


def weights(folder: Path) -> dict[str, torch.Tensor]:
    """A checkpoint's weights by module path (a file may store them under older names)."""
    return AutoModelForImageTextToText.from_pretrained(folder).state_dict()


@pytest.mark.parametrize("arch", [arch_param(arch) for arch in DECODER_LAYERS])
def test_grpo_puts_lora_on_the_language_model_only_then_predicts_and_reports(tmp_path, arch):
    model = build_tiny_model(tmp_path / "model", architecture=arch)
    cli("train", "--config", any_vlm_recipe(tmp_path, model))
    run = tmp_path / "run"

    layers = SPECS["tiny"].layers
    expected = {f"{DECODER_LAYERS[arch]}.{i}" for i in range(layers)}
    adapted = adapted_modules(run / "adapter")
    assert len(adapted) == layers * len(LINEAR)
    assert {module.rsplit(".", 2)[0] for module in adapted} == expected
    assert {module.rsplit(".", 1)[1] for module in adapted} == set(LINEAR)

    # the merged model is the base architecture, no adapter left in it (the vision side cannot
    # change under LoRA, PEFT freezes every base weight: its freezing under full fine-tuning is
    # tested per architecture in tests/test_policy_parts.py and by training in test_train_e2e.py)
    assert weights(run / "merged").keys() == weights(model).keys()
    rollouts = (run / "rollouts" / "rank0.jsonl").read_text().splitlines()
    assert len(rollouts) == 2 * 2 * 2  # steps x images x rollouts

    out = tmp_path / "eval"
    cli(
        "predict",
        *("--model", model, "--adapter", run / "adapter", "--datasets", "synthetic"),
        *("--subset", 4, "--out", out, "--max-new-tokens", 12, "--batch-size", 4),
    )
    cli("verify", "--out", out)
    cli("report", "--out", out, "--resamples", 20, "--name", arch)
    predictions = (out / "synthetic" / "predictions.jsonl").read_text().splitlines()
    assert len(predictions) == 4
    report = json.loads((out / "report.json").read_text())
    section = report["datasets"]["synthetic"]
    assert section["n_images"] == section["n_predictions"] == 4
