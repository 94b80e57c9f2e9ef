"""The SFT baseline: TRL's SFTTrainer on ground-truth labels written in the answer format.

Same data, LoRA set-up and policy loading as GRPO; the target of each image is
``<think>…</think><answer>LABEL</answer>``, and the loss covers only that completion. Every row
is asked with the recipe's policy prompt unless a caller chooses one per row (``prompt_of``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from speciarl.data.build import conversation
from speciarl.prompts import load_prompt
from speciarl.train.config import TrainConfig
from speciarl.train.grpo import save_outputs
from speciarl.train.preflight import require
from speciarl.train.setup import (
    check_launch,
    load_policy,
    lora_config,
    main_process_first,
    prepare_dataset,
    trainer_arguments,
)

REASONING = "I look at the object in the image and name it."


def target_text(label: str) -> str:
    """What the policy should answer for an image of ``label``."""
    return f"<think>{REASONING}</think><answer>{label}</answer>"


Target = Callable[[dict[str, Any]], str]
"""What the policy should answer for a training row (its ``label``, ``sample_id``, ...)."""


def label_target(row: dict[str, Any]) -> str:
    """The ground-truth label in the answer format: the SFT baseline."""
    return target_text(row["label"])


PromptChoice = Callable[[dict[str, Any]], str]
"""The name of the policy prompt a training row is asked with (see :mod:`speciarl.prompts`)."""


def with_targets(
    dataset: Any, target: Target = label_target, prompt_of: PromptChoice | None = None
) -> Any:
    """The TRL prompt-completion format: the built prompt, or the one ``prompt_of`` names for
    the row, plus an assistant completion."""
    conversations: dict[str, list[dict[str, str]]] = {}

    def example(row: dict[str, Any]) -> dict[str, Any]:
        completion = {"completion": [{"role": "assistant", "content": target(row)}]}
        if prompt_of is None:
            return completion
        name = prompt_of(row)
        if name not in conversations:
            conversations[name] = conversation(load_prompt(name))
        return {"prompt": conversations[name], **completion}

    return dataset.map(example)


def sft_arguments(config: TrainConfig) -> dict[str, Any]:
    """Keyword arguments of ``trl.SFTConfig`` for this recipe."""
    return {**trainer_arguments(config), "max_length": None}


def check_sft_recipe(config: TrainConfig) -> str:
    """``sft --dry-run``: TRL accepts the arguments and the model and data are there (SFT needs
    no judge); raises :class:`PreflightError` listing every problem found."""
    from trl import SFTConfig

    from speciarl.train.preflight import Report, dry_run

    def planned() -> Report:
        SFTConfig(**sft_arguments(config))  # TRL validates the arguments
        summary = (
            f"recipe {config.name}: SFT on {config.data.dataset} labels, model {config.model}, "
            f"run folder {config.output_dir}"
        )
        return Report([summary])

    return "\n".join(dry_run(config, planned, judged=False))


def train_sft(
    config: TrainConfig,
    *,
    resume: bool = False,
    overwrite: bool = False,
    target: Target = label_target,
    prompt_of: PromptChoice | None = None,
) -> Path:
    """Fine-tune on ``target`` answers (the labels by default), each row asked with the prompt
    ``prompt_of`` names (the recipe's by default); returns the saved folder.

    ``resume`` and ``overwrite`` as for GRPO (:mod:`speciarl.train.run_folder`).
    """
    from trl import SFTConfig, SFTTrainer

    from speciarl.train.run_folder import start_run

    check_launch()
    require(config, judged=False)
    arguments = SFTConfig(**sft_arguments(config))
    checkpoint = start_run(config, "sft", resume=resume, overwrite=overwrite)
    run_dir = Path(config.output_dir)
    with main_process_first():
        dataset = with_targets(prepare_dataset(config, run_dir), target, prompt_of)
    model, processor = load_policy(config)
    trainer = SFTTrainer(
        model=model,
        args=arguments,
        train_dataset=dataset,
        processing_class=processor,
        peft_config=lora_config(config.lora, model),
    )
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    return save_outputs(
        trainer, processor, run_dir, merge=config.merge_adapter, adapter=config.lora is not None
    )
