"""What GRPO and SFT share: the training images, the judge, the policy, its LoRA adapters."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from speciarl.train.config import ConfigError, JudgeSettings, LoraSettings, TrainConfig

DATA_FOLDER = "data/train"
CHECKPOINT_FOLDER = "checkpoints"
DEEPSPEED_INSTALL = "pip install -e '.[deepspeed]'"
"""How to add DeepSpeed to a checkout's environment (the ``deepspeed`` extra of pyproject.toml)."""
log = logging.getLogger(__name__)


def check_launch() -> None:
    """Fail in one line, before anything loads, when the launch needs a backend that is not
    installed: ``accelerate launch`` with a DeepSpeed config sets ``ACCELERATE_USE_DEEPSPEED``,
    and without deepspeed accelerate would stop with an ImportError deep in its start-up."""
    from accelerate.utils import is_deepspeed_available, parse_flag_from_env

    if parse_flag_from_env("ACCELERATE_USE_DEEPSPEED") and not is_deepspeed_available():
        raise ConfigError(
            "this is a DeepSpeed launch (ACCELERATE_USE_DEEPSPEED=true, from the accelerate "
            f"config) but deepspeed is not installed: {DEEPSPEED_INSTALL}"
        )


def prepare_dataset(config: TrainConfig, run_dir: Path) -> Any:
    """The training set in TRL's format, built once into the run folder and reused on resume."""
    from speciarl.data.build import MANIFEST_FILE, build_split, load_built
    from speciarl.data.prepare import PartRequest, select_mixture, select_samples
    from speciarl.prompts import load_prompt

    data = config.data
    selection = {
        "dataset": data.dataset,
        "split": data.split,
        "subset": data.subset,
        "balanced": data.balanced,
        "parts": data.parts,
        "seed": data.seed,
        "source": data.source,
    }
    folder = run_dir / DATA_FOLDER
    manifest = folder / MANIFEST_FILE
    if manifest.is_file() and json.loads(manifest.read_text())["selection"] == selection:
        return load_built(folder)
    root = Path(data.root) if data.root else None
    if data.parts:
        parts = [PartRequest.parse(text) for text in data.parts]
        samples = select_mixture(parts, root=root, source=data.source, seed=data.seed)
    else:
        samples = select_samples(
            data.dataset,
            data.split,
            root=root,
            source=data.source,
            subset=data.subset,
            balanced=data.balanced,
            seed=data.seed,
        )
    report = build_split(
        samples, folder, load_prompt(data.prompt), metadata={"selection": selection}
    )
    if report.failures:
        ids = ", ".join(f["sample_id"] for f in report.failures[:5])
        log.warning("%d unreadable training image(s) left out: %s", len(report.failures), ids)
    return load_built(folder)


def training_judge(config: TrainConfig, run_dir: Path) -> Any:
    """The cascade of the recipe: lexical, then (behind the cache) taxonomy and the LLM. Without
    a hierarchy (a user's dataset and no ``judge.hierarchy``) there is no taxonomy judge, and
    without an LLM either no cache: the lexical judge alone is never cached (the start-up check
    stops such a run; see `speciarl.train.preflight.check_hierarchy`). A relative SQLite cache
    lies in the run folder."""
    settings: JudgeSettings = config.judge
    return cascade_judge(
        judge_hierarchy(config),
        endpoint=settings.endpoint,
        model=settings.model,
        prompt=settings.prompt,
        concurrency=settings.concurrency,
        batch_size=settings.batch_size,
        max_words=config.reward.max_words,
        max_chars=config.reward.max_chars,
        cache=settings.cache,
        cache_folder=run_dir,
    )


def cascade_judge(
    hierarchy: Any,
    *,
    endpoint: str | None = None,
    model: str | None = None,
    prompt: str = "base",
    concurrency: int = 64,
    batch_size: int = 1,
    max_words: int = 20,
    max_chars: int = 200,
    cache: str | Path | None = None,
    cache_folder: Path | None = None,
) -> Any:
    """The training cascade from plain arguments (what :func:`training_judge` reads from a
    recipe): lexical, then, behind the verdict cache, taxonomy (with a ``hierarchy``) and the
    LLM judge (with both ``endpoint`` and ``model``). ``cache`` is a ``redis://``,
    ``rediss://`` or ``unix://`` URL or a SQLite file, a relative one taken from
    ``cache_folder`` (default: the working folder). With neither a hierarchy nor an LLM the
    cache is left out with a warning: the lexical judge alone is never cached."""
    from speciarl.judges.factory import build_judge, open_cache
    from speciarl.judges.llm import LLMJudgeSettings

    llm = None
    if endpoint is not None and model is not None:
        llm = LLMJudgeSettings(
            endpoint=endpoint,
            model=model,
            prompt=prompt,
            concurrency=concurrency,
            batch_size=batch_size,
            max_words=max_words,
            max_chars=max_chars,
        )
    opened = None
    if cache is not None and (hierarchy is not None or llm is not None):
        if str(cache).startswith(("redis://", "rediss://", "unix://")):
            opened = open_cache(redis_url=str(cache))
        else:
            opened = open_cache(path=(cache_folder or Path()) / cache)
    elif cache is not None:
        log.warning("judge.cache %s is not used: the lexical judge alone is never cached", cache)
    return build_judge("cascade", hierarchy=hierarchy, llm=llm, cache=opened)


def judge_hierarchy(config: TrainConfig) -> Any:
    """The recipe's hierarchy: ``judge.hierarchy`` (a file or a dataset name), else the shipped
    training dataset's (a mixed set's combined; a built copy of a shipped dataset counts as it);
    ``None`` for a user's own dataset, which ships none. A mixed set with a part of the user's
    own needs ``judge.hierarchy`` (a ConfigError). An unknown dataset is a DatasetError."""
    from speciarl.data.prepare import PartRequest
    from speciarl.data.registry import REGISTRY, combined_hierarchy, get_dataset, named_hierarchy

    chosen = config.judge.hierarchy
    if chosen is not None:
        return named_hierarchy(chosen)
    parts = [PartRequest.parse(text).dataset for text in config.data.parts]
    references = parts or [config.data.dataset]
    names = [get_dataset(reference).name for reference in references]
    own = [ref for ref, name in zip(references, names, strict=True) if name not in REGISTRY]
    if own and parts:
        raise ConfigError(
            f"judge.hierarchy: not set, and the data.parts dataset {own[0]} is not a shipped "
            "one, so no label hierarchy comes with it: set judge.hierarchy to a hierarchy "
            "file covering the labels of every part (`speciarl hierarchy draft` writes a start)"
        )
    if own:
        return None
    return combined_hierarchy(names) if parts else REGISTRY[names[0]].hierarchy()


def lora_config(settings: LoraSettings | None, model: Any) -> Any:
    """Adapters on the named linear layers of ``model``'s decoder layers only, wherever its
    architecture keeps them (`speciarl.policy.parts`); ``None`` (full fine-tuning) without
    settings. A name no decoder layer has is a :class:`ConfigError`."""
    if settings is None:
        return None
    from peft import LoraConfig

    from speciarl.policy.parts import PolicyPartsError, lora_target_modules

    try:
        targets = lora_target_modules(model_parts(model), settings.target_modules)
    except PolicyPartsError as error:
        raise ConfigError(str(error)) from None
    return LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=targets,
        task_type="CAUSAL_LM",
    )


def model_parts(model: Any) -> Any:
    """The :class:`~speciarl.policy.parts.PolicyParts` of a policy, a model whose parts cannot be
    found being a :class:`ConfigError` (the recipe's ``model`` is not a vision-language model
    speciarl can train)."""
    from speciarl.policy.parts import PolicyPartsError, policy_parts

    try:
        return policy_parts(model)
    except PolicyPartsError as error:
        raise ConfigError(f"model: {error}") from None


def trainer_arguments(config: TrainConfig) -> dict[str, Any]:
    """The arguments GRPO and SFT share: optimiser, device, precision, logging, saving."""
    optimizer, gpu = config.optimizer, on_gpu()
    return {
        "output_dir": str(Path(config.output_dir) / CHECKPOINT_FOLDER),
        "learning_rate": optimizer.learning_rate,
        "lr_scheduler_type": "constant",
        "per_device_train_batch_size": optimizer.per_device_batch_size,
        "num_train_epochs": optimizer.epochs,
        "max_steps": optimizer.max_steps,
        "use_cpu": not gpu,
        "bf16": gpu,
        "activation_checkpointing": gpu,
        "logging_steps": config.logging_steps,
        "save_steps": config.save_steps,
        "report_to": config.report_to or "none",
        "seed": config.seed,
        "remove_unused_columns": False,
    }


def main_process_first() -> Any:
    """A context in which the main process goes first (it builds the data; others then reuse it).

    Creating accelerate's state here also starts the process group of a distributed launch.
    """
    from accelerate import PartialState

    return PartialState().main_process_first()


def on_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def load_policy(config: TrainConfig, *, vllm_rollouts: bool = False) -> tuple[Any, Any]:
    """The vision-language model (bf16 on GPU, fp32 on CPU) and its processor, which holds the
    recipe's image budget; under full fine-tuning the vision tower is frozen unless
    ``config.train_vision``. The processor comes first: a budget it cannot take, or, with
    ``vllm_rollouts`` (the images also go to vLLM), one that vLLM cannot keep, stops the run
    before the weights load."""
    import torch
    from transformers import AutoModelForImageTextToText

    from speciarl.policy.image_budget import ImageBudgetError, load_processor
    from speciarl.policy.parts import freeze_vision_tower

    try:
        processor = load_processor(config.model, config.data.image_budget, padding_side="left")
    except ImageBudgetError as error:
        raise ConfigError(f"data.min_pixels/data.max_pixels: {error}") from None
    if vllm_rollouts:
        check_vllm_budget(config)
    dtype = torch.bfloat16 if on_gpu() else torch.float32
    model = AutoModelForImageTextToText.from_pretrained(config.model, dtype=dtype)
    parts = model_parts(model)  # before training: a model speciarl cannot place stops here
    if config.lora is None and not config.train_vision:
        freeze_vision_tower(model, parts)
    return model, processor


def check_vllm_budget(config: TrainConfig) -> None:
    """Refuse a budget that vLLM rollouts would not keep (reads the checkpoint's processor
    settings, not its weights).

    TRL gives vLLM the raw images and no processor settings: its colocated engine (and a
    ``vllm serve`` server) resizes them within the checkpoint's own pixel range. Training feeds
    vLLM images already resized to the budget (`speciarl.policy.image_budget.fit_images`), which
    that range leaves unchanged only if it holds the whole budget.
    """
    from transformers import AutoImageProcessor

    from speciarl.policy.image_budget import processor_budget, takes_pixel_budget

    wanted = config.data.image_budget.processor_kwargs()
    if not wanted:
        return  # vLLM's range is the budget
    checkpoint = AutoImageProcessor.from_pretrained(config.model)
    if not takes_pixel_budget(checkpoint):
        return  # it keeps its own sizing, as vLLM's does (load_processor refused any other)
    budget, _ = processor_budget(AutoImageProcessor.from_pretrained(config.model, **wanted))
    own, _ = processor_budget(checkpoint)
    if not budget.inside(own):
        raise ConfigError(
            f"data.min_pixels/data.max_pixels: with rollouts.use_vllm, vLLM resizes images into "
            f"{config.model}'s own range [{own.min_pixels}, {own.max_pixels}] pixels, so the "
            f"budget [{budget.min_pixels}, {budget.max_pixels}] must lie inside it (or set "
            "rollouts.use_vllm: false)"
        )
