"""vLLM rollout settings in recipes: TRL 1.16's GRPOConfig fields they become, the values they
take, and what a dry run checks about them (process count, sequence length)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from trl import GRPOConfig

from speciarl.train.config import ConfigError, TrainConfig, load_config
from speciarl.train.grpo import check_recipe, grpo_arguments, plan
from speciarl.train.memory_plan import (
    LOGPROB_TOKEN_TILE,
    LOGPROB_VOCAB_TILE,
    TRL_VLLM_SHARE,
    memory_report,
)
from speciarl.train.preflight import PreflightError

MAIN = Path(__file__).parents[1] / "configs" / "cub_speciarl.yaml"
COLOCATED = ("rollouts.use_vllm=true",)


def recipe(*overrides: str) -> TrainConfig:
    return load_config(MAIN, list(overrides))


def test_the_sizes_become_trl_fields_of_the_same_name():
    config = recipe(
        *COLOCATED,
        "rollouts.vllm_gpu_memory_utilization=0.35",
        "rollouts.vllm_tensor_parallel_size=2",
        "rollouts.vllm_max_model_length=4096",
    )
    arguments = grpo_arguments(config, plan(config, 4).gradient_accumulation)
    trl = GRPOConfig(**arguments)
    assert (trl.vllm_gpu_memory_utilization, trl.vllm_tensor_parallel_size) == (0.35, 2)
    assert trl.vllm_max_model_length == 4096


def test_unset_sizes_leave_trls_defaults():
    from speciarl.train.config import COLOCATED_VLLM_SIZES

    arguments = grpo_arguments(recipe(*COLOCATED), 1)
    assert not set(COLOCATED_VLLM_SIZES) & set(arguments)
    defaults = {field.name: field.default for field in dataclasses.fields(GRPOConfig)}
    assert defaults["vllm_gpu_memory_utilization"] == TRL_VLLM_SHARE


def test_the_plans_copies_of_trl_constants_match_the_installed_trl():
    from trl.kernels.chunked_logprob import TOKEN_CHUNK_SIZE
    from trl.trainer import utils

    assert (LOGPROB_TOKEN_TILE, LOGPROB_VOCAB_TILE) == (
        TOKEN_CHUNK_SIZE,
        utils._CHUNKED_LOGPROB_CHUNK_SIZE,
    )


def test_trl_has_no_images_per_prompt_limit_and_neither_has_a_recipe():
    """Every training prompt holds one image, which vLLM's default limit admits; a recipe that
    tries to set one is told the keys that exist."""
    assert not [f.name for f in dataclasses.fields(GRPOConfig) if "limit_mm" in f.name]
    with pytest.raises(ConfigError, match=r"unknown setting rollouts\.vllm_limit_mm_per_prompt"):
        recipe("rollouts.vllm_limit_mm_per_prompt=1")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("vllm_gpu_memory_utilization=0", "strictly between 0 and 1; got 0.0"),
        ("vllm_gpu_memory_utilization=1", "strictly between 0 and 1; got 1.0"),
        ("vllm_tensor_parallel_size=0", "rollouts.vllm_tensor_parallel_size must be positive"),
        ("vllm_max_model_length=-1", "rollouts.vllm_max_model_length must be positive"),
        ("vllm_mode=remote", "rollouts.vllm_mode must be colocate or server"),
    ],
)
def test_impossible_values_name_their_key(override, message):
    with pytest.raises(ConfigError, match=message):
        recipe(f"rollouts.{override}")


def test_a_server_takes_its_sizes_on_its_own_command_line():
    with pytest.raises(ConfigError) as caught:
        recipe(*COLOCATED, "rollouts.vllm_mode=server", "rollouts.vllm_max_model_length=4096")
    assert str(caught.value).endswith(
        "rollouts.vllm_max_model_length sizes a colocated vLLM engine; with rollouts.vllm_mode "
        "server, give the server its own size on its command line (docs/multinode.md) and leave "
        "this unset"
    )


def test_tensor_parallel_size_must_divide_the_processes():
    config = recipe(*COLOCATED, "rollouts.vllm_tensor_parallel_size=3")
    with pytest.raises(PreflightError) as caught:
        check_recipe(config, 4, gpu_gib=141)
    assert caught.value.problems[0] == (
        "rollouts.vllm_tensor_parallel_size 3 must divide the 4 training process(es): each "
        "colocated vLLM engine spans that many of them"
    )
    assert any(line.startswith("parameters: ") for line in caught.value.report)


def test_a_maximum_length_shorter_than_a_rollout_names_the_keys():
    config = recipe(*COLOCATED, "rollouts.vllm_max_model_length=3000")
    _, problems = memory_report(config, 4, setup="zero3", gpu_gib=141)
    (problem,) = problems
    assert problem.startswith("rollouts.vllm_max_model_length 3,000 is shorter than the longest")
    assert "1,280 image tokens (data.max_pixels 1,003,520)" in problem
    assert "optimizer.max_completion_length 2,048" in problem


def test_an_unset_maximum_length_says_what_would_do():
    lines, problems = memory_report(recipe(*COLOCATED), 4, setup="zero3", gpu_gib=141)
    assert problems == []
    (line,) = [line for line in lines if line.startswith("vLLM max model length")]
    assert "unset, so the model's 128,000" in line
    assert "rollouts.vllm_max_model_length=3712" in line


def test_sizes_without_vllm_are_said_to_wait_for_it():
    config = recipe("rollouts.vllm_gpu_memory_utilization=0.4")
    lines, _ = memory_report(config, 1, gpu_gib=141)
    assert "the vllm_* sizes apply once rollouts.use_vllm is true" in "\n".join(lines)


def test_a_server_is_told_the_length_it_must_take():
    config = recipe(*COLOCATED, "rollouts.vllm_mode=server")
    lines, problems = memory_report(config, 4, setup="zero3", gpu_gib=141)
    assert problems == []
    assert "vLLM server: must take sequences of 3,712 tokens" in "\n".join(lines)
