"""SpeciaRL with TRL's GRPOTrainer: the recipe becomes a GRPOConfig, the reward our judge.

Reads top to bottom: settings, data, judge, policy, trainer, train, save.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from speciarl.train.config import COLOCATED_VLLM_SIZES, ConfigError, TrainConfig
from speciarl.train.preflight import require
from speciarl.train.setup import (
    check_launch,
    load_policy,
    lora_config,
    main_process_first,
    prepare_dataset,
    trainer_arguments,
    training_judge,
)

log = logging.getLogger(__name__)

# What each optimiser of the paper means in TRL's terms (beta is the k3 KL coefficient).
PRESETS: dict[str, dict[str, Any]] = {
    "grpo": {"loss_type": "grpo", "beta": 0.01, "scale_rewards": "group", "epsilon": 0.2},
    "dr_grpo": {"loss_type": "dr_grpo", "beta": 0.0, "scale_rewards": "none", "epsilon": 0.2},
    "dapo": {
        "loss_type": "dapo",
        "beta": 0.0,
        "scale_rewards": "group",
        "epsilon": 0.2,
        "epsilon_high": 0.28,
        "mask_truncated_completions": True,
    },
}


@dataclass(frozen=True)
class TrainingPlan:
    """What a run will do, as ``--dry-run`` prints it."""

    run_dir: Path
    world_size: int
    gradient_accumulation: int
    completions_per_step: int
    arguments: dict[str, Any]

    @property
    def completions_per_process(self) -> int:
        """Completions each process generates, judges and learns from per optimiser step."""
        return self.completions_per_step // self.world_size


def plan(config: TrainConfig, world_size: int | None = None) -> TrainingPlan:
    """Fit the recipe's batch to ``world_size`` processes (default: this launch's ``WORLD_SIZE``)
    without loading anything; a batch that does not divide raises a ConfigError."""
    world = world_size if world_size is not None else int(os.environ.get("WORLD_SIZE", "1"))
    accumulation = config.gradient_accumulation(world)
    sampling = config.optimizer.dynamic_sampling_problem(world)
    if sampling is not None:
        raise ConfigError(sampling)
    return TrainingPlan(
        run_dir=Path(config.output_dir),
        world_size=world,
        gradient_accumulation=accumulation,
        completions_per_step=config.completions_per_step(),
        arguments=grpo_arguments(config, accumulation),
    )


def tensor_parallel_problem(config: TrainConfig, world_size: int) -> str | None:
    """A colocated vLLM engine spans ``vllm_tensor_parallel_size`` training processes, so that
    size must divide their number (TRL checks it too, but only once the model has loaded)."""
    rollouts = config.rollouts
    size = rollouts.vllm_tensor_parallel_size or 1
    if rollouts.use_vllm and rollouts.vllm_mode == "colocate" and world_size % size:
        return (
            f"rollouts.vllm_tensor_parallel_size {size} must divide the {world_size} training "
            "process(es): each colocated vLLM engine spans that many of them"
        )
    return None


def check_recipe(
    config: TrainConfig,
    world_size: int | None = None,
    *,
    setup: str | None = None,
    gpu_gib: float | None = None,
    architecture: str | None = None,
) -> str:
    """``train --dry-run``: the plan for ``world_size`` processes, its memory plan
    (:func:`speciarl.train.memory_plan.memory_report`: ``setup``, ``gpu_gib``, ``architecture``)
    and every start-up check, as a report; raises :class:`PreflightError` listing every problem
    found, with the report. No weights are loaded."""
    from trl import GRPOConfig

    from speciarl.train.memory_plan import memory_report
    from speciarl.train.preflight import Report, dry_run

    def planned() -> Report:
        GRPOConfig(**plan(config).arguments)  # TRL checks the batch for the processes it sees
        steps = plan(config, world_size)
        lines, problems = memory_report(
            config, steps.world_size, setup=setup, gpu_gib=gpu_gib, architecture=architecture
        )
        parallel = tensor_parallel_problem(config, steps.world_size)
        if parallel is not None:
            problems.insert(0, parallel)
        return Report([*describe_plan(config, steps), *lines], problems)

    return "\n".join(dry_run(config, planned))


def describe_plan(config: TrainConfig, steps: TrainingPlan) -> list[str]:
    """The plan in a few lines: method, model, batch arithmetic per process, judge."""
    optimizer = config.optimizer
    return [
        f"recipe {config.name}: {optimizer.preset} with the {config.reward.scheme} reward",
        f"model {config.model}, run folder {steps.run_dir}",
        f"{optimizer.images_per_step} images x {optimizer.num_generations} rollouts = "
        f"{steps.completions_per_step} completions per step on {steps.world_size} process(es); "
        f"per process {steps.completions_per_process} = gradient accumulation "
        f"{steps.gradient_accumulation} x per_device_batch_size {optimizer.per_device_batch_size}",
        f"LLM judge: {config.judge.model or 'none'}; cache: {config.judge.cache or 'none'}",
        f"rollouts: {describe_rollouts(config)}",
        f"dynamic sampling: {describe_dynamic_sampling(config, steps)}",
    ]


def describe_dynamic_sampling(config: TrainConfig, steps: TrainingPlan) -> str:
    """Whether groups without signal are dropped and regenerated, and at what cost in rounds."""
    optimizer = config.optimizer
    if not optimizer.dynamic_sampling:
        return "off (every generated group is trained on)"
    images = optimizer.images_per_generation_round
    held = images * optimizer.num_generations // steps.world_size
    return (
        f"on; at most {optimizer.max_generation_batches} generation batches of {images} images "
        f"x {optimizer.num_generations} rollouts per step ({held} rollouts per process per "
        "batch, held at once beside the step's kept groups)"
    )


def describe_rollouts(config: TrainConfig) -> str:
    """Where rollouts are sampled, with the vLLM sizes that apply there."""
    rollouts = config.rollouts
    if not rollouts.use_vllm:
        return "transformers' generate in each training process"
    if rollouts.vllm_mode == "server":
        return f"the vLLM server at {rollouts.vllm_server_base_url or 'TRL default host:port'}"
    share = rollouts.vllm_gpu_memory_utilization
    length = rollouts.vllm_max_model_length
    return (
        "vLLM colocated in each training process; gpu_memory_utilization "
        f"{share if share is not None else 'unset (TRL: 0.3)'}, tensor_parallel_size "
        f"{rollouts.vllm_tensor_parallel_size or 1}, max_model_length "
        f"{length if length is not None else 'unset (the model limit)'}"
    )


def grpo_arguments(config: TrainConfig, accumulation: int) -> dict[str, Any]:
    """Keyword arguments of ``trl.GRPOConfig`` for this recipe."""
    optimizer = config.optimizer
    return {
        **trainer_arguments(config),
        **PRESETS[optimizer.preset],
        "num_generations": optimizer.num_generations,
        "gradient_accumulation_steps": accumulation,
        "temperature": optimizer.temperature,
        "max_completion_length": optimizer.max_completion_length,
        "use_vllm": config.rollouts.use_vllm,
        "vllm_mode": config.rollouts.vllm_mode,
        "vllm_server_base_url": config.rollouts.vllm_server_base_url,
        **{
            key: getattr(config.rollouts, key)
            for key in COLOCATED_VLLM_SIZES
            if getattr(config.rollouts, key) is not None
        },
        "log_completions": config.log_completions,
        "num_completions_to_print": config.num_completions_to_print,
    }


def reward_functions(config: TrainConfig, judge: Any, run_dir: Path) -> list[Any]:
    """The SpeciaRL reward, plus DAPO's soft overlong penalty for the dapo preset. The SpeciaRL
    reward leaves undecided rollouts unrewarded (``None``) for :class:`MaskedGRPOTrainer` to
    mask, and waits out a judge outage at ``judge.endpoint``."""
    from speciarl.train.reward_fn import SpeciaRLReward
    from speciarl.train.rollout_log import RolloutLog

    functions: list[Any] = [
        SpeciaRLReward(
            judge,
            config.reward,
            num_generations=config.optimizer.num_generations,
            prompt_name=config.data.prompt,
            seed=config.seed,
            rollout_log=RolloutLog(run_dir),
            endpoint=config.judge.endpoint,
            max_undecided=config.judge.max_undecided,
            outage_timeout=config.judge.outage_timeout,
        )
    ]
    if config.optimizer.preset == "dapo":
        from trl.rewards import get_soft_overlong_punishment

        functions.append(
            get_soft_overlong_punishment(
                max_completion_len=config.optimizer.max_completion_length,
                soft_punish_cache=config.optimizer.overlong_buffer,
            )
        )
    return functions


def train_grpo(config: TrainConfig, *, resume: bool = False, overwrite: bool = False) -> Path:
    """Train, save the LoRA adapter (and a merged model if asked); returns the adapter folder.

    ``resume`` continues the run in the recipe's folder, ``overwrite`` replaces it; a folder that
    holds a run needs one of them (:mod:`speciarl.train.run_folder`).
    """
    from trl import GRPOConfig

    from speciarl.train.run_folder import start_run

    check_launch()
    require(config)
    steps = plan(config)
    parallel = tensor_parallel_problem(config, steps.world_size)
    if parallel is not None:
        raise ConfigError(parallel)
    arguments = GRPOConfig(**steps.arguments)
    checkpoint = start_run(config, "train", resume=resume, overwrite=overwrite)
    run_dir = steps.run_dir
    if checkpoint is not None:
        from accelerate import PartialState

        from speciarl.train.rollout_log import trim_to_checkpoint

        # The rollouts of the steps after the checkpoint move to rollouts/discarded, once, by the
        # main process while the others wait: the log holds only the steps behind the weights.
        with main_process_first():
            if PartialState().is_main_process:
                trim_to_checkpoint(run_dir, checkpoint)
    with main_process_first():
        dataset = prepare_dataset(config, run_dir)
        judge = training_judge(config, run_dir)
    model, processor = load_policy(config, vllm_rollouts=config.rollouts.use_vllm)
    if config.rollouts.use_vllm and config.data.image_budget.processor_kwargs():
        # vLLM gets the raw images and its own range: hand it images already at the budget
        from speciarl.policy.image_budget import fit_images

        dataset = fit_images(dataset, processor)
    trainer = grpo_trainer(
        config,
        model=model,
        reward_funcs=reward_functions(config, judge, run_dir),
        args=arguments,
        train_dataset=dataset,
        processing_class=processor,
        peft_config=lora_config(config.lora, model),
    )
    try:
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    finally:
        close_caches(judge)
    return save_outputs(
        trainer, processor, run_dir, merge=config.merge_adapter, adapter=config.lora is not None
    )


def grpo_trainer(config: TrainConfig, **arguments: Any) -> Any:
    """The trainer for this recipe: :class:`MaskedGRPOTrainer`, or with
    ``optimizer.dynamic_sampling`` its dynamic-sampling subclass."""
    optimizer = config.optimizer
    if optimizer.dynamic_sampling:
        from speciarl.train.dynamic_sampling import DynamicSamplingGRPOTrainer

        return DynamicSamplingGRPOTrainer(
            images_per_round=optimizer.images_per_generation_round,
            max_generation_batches=optimizer.max_generation_batches,
            **arguments,
        )
    from speciarl.train.masked_trainer import MaskedGRPOTrainer

    return MaskedGRPOTrainer(**arguments)


def close_caches(judge: Any) -> None:
    """Close the judge's verdict caches, which writes back, once more, the verdicts a cache
    outage kept in memory (`speciarl.judges.resilient_cache`); a run that ends while the cache
    is still down says what it could not write."""
    from speciarl.judges.cached import CachedJudge
    from speciarl.judges.factory import judges_in

    for member in judges_in(judge):
        if isinstance(member, CachedJudge):
            member.close()


def save_outputs(
    trainer: Any, processor: Any, run_dir: Path, *, merge: bool, adapter: bool = True
) -> Path:
    """The adapter (or, after full fine-tuning, the whole model in ``RUN/model``) with the
    processor beside it, and optionally the merged model."""
    folder = run_dir / ("adapter" if adapter else "model")
    trainer.save_model(str(folder))
    processor.save_pretrained(str(folder))
    if merge and adapter and trainer.accelerator.is_main_process:
        merged = trainer.accelerator.unwrap_model(trainer.model).merge_and_unload()
        merged.save_pretrained(str(run_dir / "merged"))
        processor.save_pretrained(str(run_dir / "merged"))
    log.info("saved to %s", folder)
    return folder
