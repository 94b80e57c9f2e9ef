"""The memory plan of the paper's main recipe on the real Qwen2.5-VL-7B shapes (built on the meta
device), against sums done by hand; how it moves with the batch, the lengths and the set-up; and
the dry run that prints it."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from speciarl.cli import app
from speciarl.policy.architectures import shipped_config
from speciarl.train.config import ConfigError, TrainConfig, load_config
from speciarl.train.memory_plan import (
    DEFAULT_GPU_MEMORY_GIB,
    GIB,
    MemoryPlan,
    gpu_memory,
    memory_report,
    model_source,
    plan_memory,
    prompt_text_bound,
)

CONFIGS = Path(__file__).parents[1] / "configs"
MAIN = CONFIGS / "cub_speciarl.yaml"
SEVEN_B = shipped_config("qwen2.5-vl-7b")
runner = CliRunner()

BASE_PARAMETERS = 8_292_166_656
"""Qwen2.5-VL-7B-Instruct's published 8.29 B parameters, vision tower included."""
LORA_PARAMETERS = 28 * 64 * (2 * (3584 + 3584) + 2 * (3584 + 512) + 3 * (3584 + 18944))
"""r 64 x (in + out) of q, o; k, v (512 wide: 4 key/value heads of 128); gate, up, down; 28
layers."""
KV_PER_TOKEN = 28 * 2 * 4 * 128 * 2
"""28 layers x (K, V) x 4 key/value heads x 128 x 2 bytes."""


def recipe(*overrides: str) -> TrainConfig:
    return load_config(MAIN, list(overrides))


def plan(*overrides: str, world_size: int = 1, setup: str = "single") -> MemoryPlan:
    return plan_memory(recipe(*overrides), SEVEN_B, world_size=world_size, setup=setup)


def test_the_parameter_counts_are_exact():
    counts = plan().counts
    assert LORA_PARAMETERS == 161_480_704
    assert (counts.total, counts.trainable) == (BASE_PARAMETERS + LORA_PARAMETERS, LORA_PARAMETERS)


def test_weights_and_adapter_states_by_hand():
    main = plan()
    assert main.term("frozen weights (bf16)") == BASE_PARAMETERS * 2
    assert main.term("adapters, gradients, AdamW") == LORA_PARAMETERS * (4 + 4 + 8)
    assert main.term("reference model") == 0  # LoRA: the reference is the adapter-less model


def test_the_sequence_and_the_terms_that_follow_it_by_hand():
    main = plan()
    seq = main.sequence
    assert seq.image_tokens == 1_003_520 // (28 * 28) == 1280
    assert seq.text_tokens == prompt_text_bound(recipe())
    assert seq.total == 1280 + seq.text_tokens + 2048
    rollouts = 256 * 10  # one process samples the whole step
    assert main.term("KV cache (full length)") == rollouts * seq.total * KV_PER_TOKEN
    assert main.term("layer checkpoints") == 28 * 10 * seq.total * 3584 * 2
    assert main.term("generation pixel values") == rollouts * 1280 * 4 * (3 * 2 * 14 * 14) * 4


def test_the_peak_is_resident_plus_the_worst_phase():
    main = plan()
    worst = max(phase.bytes for phase in main.phases)
    assert main.peak == main.resident_bytes + worst
    assert main.peak_phase.name == "generation, prefill"  # 2,560 rollouts in one generate


@pytest.mark.parametrize(
    ("key", "values"),
    [
        ("optimizer.per_device_batch_size", (5, 10, 20)),
        ("optimizer.max_completion_length", (1024, 2048, 4096)),
        ("data.max_pixels", (200_704, 1_003_520, 4_014_080)),
    ],
)
def test_the_plan_grows_with_the_batch_and_the_lengths(key, values):
    plans = [plan(f"{key}={value}") for value in values]
    training = [p.phases[-1].bytes for p in plans]  # the decoder layer's backward
    assert training == sorted(training) and len(set(training)) == 3
    peaks = [p.peak for p in plans]
    assert peaks == sorted(peaks)


def test_zero3_shards_weights_and_adapter_states_over_the_processes():
    single, sharded = plan(), plan(world_size=4, setup="zero3")
    for term in ("frozen weights (bf16)", "adapters, gradients, AdamW"):
        assert sharded.term(term) == math.ceil(single.term(term) / 4)
    # generate gathers the whole model on every process (TRL's ds3_gather_for_generation)
    whole = single.counts.total * 2
    assert sharded.term("gathered weights") == whole - math.ceil(whole / 4)


def test_ddp_replicates_and_keeps_a_second_copy_of_the_gradients():
    single, ddp = plan(), plan(world_size=4, setup="ddp")
    assert ddp.term("frozen weights (bf16)") == single.term("frozen weights (bf16)")
    assert ddp.term("DDP gradient buckets") == LORA_PARAMETERS * 4
    assert ddp.completions_per_process == single.completions_per_process // 4


def test_vllm_moves_generation_out_of_the_training_process():
    colocated = plan("rollouts.use_vllm=true", "rollouts.vllm_gpu_memory_utilization=0.25")
    assert colocated.term("vLLM engine (colocated)") == int(0.25 * DEFAULT_GPU_MEMORY_GIB * GIB)
    assert not [phase for phase in colocated.phases if phase.name.startswith("generation")]


def test_plans_it_cannot_make_say_why():
    with pytest.raises(ConfigError, match="set-up 'zero2'"):
        plan(setup="zero2")
    with pytest.raises(ConfigError, match="single is one process"):
        plan(world_size=2)
    with pytest.raises(ConfigError, match="LoRA recipes only"):
        plan_memory(recipe("lora=null"), SEVEN_B)
    with pytest.raises(ConfigError, match="not a multiple"):
        plan(world_size=3, setup="ddp")


# --- where the model's shapes and the GPU's size come from ------------------------------------


def test_the_model_config_comes_from_the_checkpoint_then_the_shipped_shapes(tiny_model):
    assert model_source(str(tiny_model)).origin == "its config.json"
    hub = model_source("Qwen/Qwen2.5-VL-7B-Instruct")
    assert "shipped qwen2.5-vl-7b" in hub.origin
    assert hub.config.to_dict() == SEVEN_B.to_dict()
    assert "qwen2.5-vl-3b" in model_source(str(tiny_model), "qwen2.5-vl-3b").origin
    with pytest.raises(ConfigError, match=r"--architecture NAME plans one of qwen2\.5-vl-3b"):
        model_source("someone/else-vl")
    with pytest.raises(ConfigError, match=r"--architecture 'qwen2\.5-vl-72b'"):
        model_source("someone/else-vl", "qwen2.5-vl-72b")


def test_the_gpu_is_the_option_else_the_visible_one_else_80_gib():
    assert gpu_memory(40) == (40 * GIB, "--gpu-memory")
    capacity, origin = gpu_memory(None)
    assert capacity > 0 and origin
    if origin.startswith("default"):
        assert capacity == 80 * GIB


# --- the colocated vLLM split ------------------------------------------------------------------


def test_a_vllm_share_that_leaves_too_little_fails_naming_the_keys():
    config = recipe("rollouts.use_vllm=true", "rollouts.vllm_gpu_memory_utilization=0.9")
    _, problems = memory_report(config, 4, setup="zero3", gpu_gib=80)
    (problem,) = problems
    assert problem.startswith("rollouts.vllm_gpu_memory_utilization 0.9: vLLM's share, 72.0 GiB")
    assert "more than the GPU's 80.0 GiB (--gpu-memory)" in problem
    assert "optimizer.per_device_batch_size or data.max_pixels" in problem


def test_a_vllm_share_too_small_for_the_weights_and_one_sequence_fails():
    config = recipe("rollouts.use_vllm=true", "rollouts.vllm_gpu_memory_utilization=0.2")
    _, problems = memory_report(config, 4, setup="zero3", gpu_gib=80)
    (problem,) = problems
    assert "cannot hold vLLM's copy of the weights (15.4 GiB" in problem
    assert "one 128,000-token sequence" in problem
    assert "rollouts.vllm_max_model_length unset" in problem
    fitted = recipe(
        "rollouts.use_vllm=true",
        "rollouts.vllm_gpu_memory_utilization=0.3",
        "rollouts.vllm_max_model_length=4096",
    )
    lines, problems = memory_report(fitted, 4, setup="zero3", gpu_gib=80)
    assert problems == []
    assert any(line.startswith("vLLM max model length 4,096 holds") for line in lines)


def test_a_plan_over_the_gpu_warns_without_vllm():
    lines, problems = memory_report(recipe(), 1, gpu_gib=80)
    assert problems == []
    assert lines[-1].startswith("WARNING: the planned peak")
    assert lines[-1].endswith("exceeds the GPU's 80.0 GiB (--gpu-memory)")


def test_a_model_without_a_config_here_gets_a_line_not_a_problem():
    lines, problems = memory_report(recipe("model=someone/else-vl"), 1, gpu_gib=80)
    assert problems == []
    assert lines[-1].startswith("memory plan: not available: model someone/else-vl")


# --- the command line --------------------------------------------------------------------------


def test_the_dry_run_prints_the_counts_and_the_plan_before_the_problems():
    result = runner.invoke(app, ["train", "--config", str(MAIN), "--dry-run", "--processes", "4"])
    assert result.exit_code == 2  # no data root, no judge server here
    out = result.stdout
    assert "parameters: 8,453,647,360 in all, 161,480,704 trainable (1.91 %)" in out
    assert "memory plan per process (DDP, 4 process(es)" in out
    assert "    frozen weights (bf16): 15.45 GiB = 8,292,166,656 parameters x 2 bytes" in out
    assert "  peak per set-up at 4 processes: ddp " in out
    assert "GPU memory planned for: " in out
    assert result.stderr.startswith("error: the recipe cannot start")
    assert "data.root is not set" in result.stderr


def test_the_dry_run_options_for_the_plan():
    arguments = ["train", "--config", str(MAIN), "--dry-run", "--gpu-memory", "141"]
    zero3 = runner.invoke(app, [*arguments, "--processes", "4", "--setup", "zero3"])
    assert "memory plan per process (DeepSpeed ZeRO-3, 4 process(es)" in zero3.stdout
    assert "GPU memory planned for: 141.0 GiB (--gpu-memory)" in zero3.stdout
    single = runner.invoke(app, [*arguments, "--processes", "4", "--setup", "single"])
    assert "--setup single plans one process, not --processes 4" in single.stderr
    three_b = runner.invoke(app, [*arguments, "--architecture", "qwen2.5-vl-3b"])
    assert "from the shipped qwen2.5-vl-3b shapes" in three_b.stdout
    assert "119,734,272 trainable" in three_b.stdout


def test_the_plan_options_need_the_dry_run(tmp_path):
    recipe_file = str(CONFIGS / "synthetic_tiny.yaml")
    for option, value in (("--gpu-memory", "80"), ("--setup", "ddp"), ("--architecture", "x")):
        result = runner.invoke(
            app, ["train", "--config", recipe_file, option, value, f"output_dir={tmp_path}"]
        )
        assert result.exit_code == 2
        assert f"{option} plans a launch with --dry-run" in result.stderr
