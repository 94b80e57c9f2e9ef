"""Training recipes: one YAML file per experiment, read into typed, validated settings.

Every default is the paper's (LoRA 64/32 on the language model, lr 3e-5, 10 rollouts per image,
256 images per step, 2,048-token completions, 15 epochs, temperature 1.0), so a recipe file only
says what its experiment changes. ``key.sub=value`` overrides apply on top, as on the command line.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from speciarl.reward import SCHEMES

OPTIMIZERS = ("grpo", "dr_grpo", "dapo")


class ConfigError(ValueError):
    """A recipe that cannot run; the message names the file and the key."""


@dataclass(frozen=True)
class DataSettings:
    """Which images the policy trains on."""

    dataset: str = "cub200"
    split: str = "train"
    subset: int | None = 3000
    """The paper trains on 3,000 CUB images; ``null`` keeps the whole split."""
    balanced: bool = False
    root: str | None = None
    source: str = "local"
    parts: list[str] = field(default_factory=list)
    """A mixed set instead of one dataset: ``NAME:SPLIT:COUNT`` entries."""
    prompt: str = "general"
    seed: int = 0


@dataclass(frozen=True)
class JudgeSettings:
    """The cascade that grades rollouts: lexical, then cache -> taxonomy -> LLM."""

    hierarchy: str | None = None
    """A dataset name (its shipped hierarchy) or a hierarchy file; default: the data's dataset."""
    endpoint: str | None = None
    """OpenAI-style base URL of the judge model; without it only deterministic judges run."""
    model: str | None = None
    prompt: str = "base"
    concurrency: int = 64
    batch_size: int = 1
    cache: str | None = "verdicts.sqlite"
    """SQLite file (relative to the run folder) or ``redis://`` URL; ``null`` for none."""


@dataclass(frozen=True)
class RewardSettings:
    scheme: str = "speciarl"
    noise: float = 0.0
    """Probability of moving each verdict one step (robustness ablation)."""
    format_penalty: float = -1.0
    max_words: int = 20
    max_chars: int = 200


@dataclass(frozen=True)
class OptimizerSettings:
    preset: str = "grpo"
    """grpo (KL 0.01, k3, std-scaled advantages), dr_grpo (no std, no KL), dapo (clip 0.2/0.28,
    token-level loss, no KL, soft overlong penalty, truncated completions masked)."""
    learning_rate: float = 3e-5
    num_generations: int = 10
    images_per_step: int = 256
    per_device_batch_size: int = 10
    """Completions per device per micro-batch; gradient accumulation makes up the rest."""
    epochs: float = 15.0
    max_steps: int = -1
    temperature: float = 1.0
    max_completion_length: int = 2048
    overlong_buffer: int = 512
    """DAPO's soft overlong penalty starts this many tokens before the limit."""


@dataclass(frozen=True)
class LoraSettings:
    r: int = 64
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] = field(
        default_factory=lambda: [
            "q_proj",
            "k_proj",
            "v_proj",
            "o_proj",
            "gate_proj",
            "up_proj",
            "down_proj",
        ]
    )
    """Linear layers that get adapters, matched only inside the language model's decoder layers:
    Qwen2.5-VL's vision blocks also have ``gate_proj``/``up_proj``/``down_proj``, and the vision
    tower stays frozen and without adapters."""


@dataclass(frozen=True)
class RolloutSettings:
    use_vllm: bool = False
    vllm_mode: str = "colocate"
    """``colocate`` (vLLM inside each training process) or ``server`` (``trl vllm-serve``)."""
    vllm_server_base_url: str | None = None


@dataclass(frozen=True)
class TrainConfig:
    """One experiment."""

    name: str = "speciarl"
    model: str = "Qwen/Qwen2.5-VL-7B-Instruct"
    output_dir: str = "runs/speciarl"
    seed: int = 0
    data: DataSettings = field(default_factory=DataSettings)
    judge: JudgeSettings = field(default_factory=JudgeSettings)
    reward: RewardSettings = field(default_factory=RewardSettings)
    optimizer: OptimizerSettings = field(default_factory=OptimizerSettings)
    lora: LoraSettings | None = field(default_factory=LoraSettings)
    """``null`` trains every weight (full fine-tuning), as tiny CPU models need."""
    train_vision: bool = False
    """With full fine-tuning, also train the vision tower (LoRA never touches it). Off by
    default, as in the paper: a language-model loss at a language model's learning rate mostly
    wears away what the tower has learnt to see."""
    rollouts: RolloutSettings = field(default_factory=RolloutSettings)
    report_to: list[str] = field(default_factory=lambda: ["tensorboard"])
    logging_steps: int = 1
    save_steps: int = 20
    merge_adapter: bool = False
    """Also save the LoRA adapter merged into the base model."""

    def validate(self) -> TrainConfig:
        """Raise :class:`ConfigError` for any setting that cannot run; returns self."""
        checks = [
            (
                self.optimizer.preset in OPTIMIZERS,
                f"optimizer.preset must be one of {', '.join(OPTIMIZERS)}",
            ),
            (self.reward.scheme in SCHEMES, f"reward.scheme must be one of {', '.join(SCHEMES)}"),
            (0.0 <= self.reward.noise <= 1.0, "reward.noise must be within [0, 1]"),
            (self.optimizer.num_generations >= 2, "optimizer.num_generations must be at least 2"),
            (self.optimizer.images_per_step >= 1, "optimizer.images_per_step must be positive"),
            (
                self.optimizer.per_device_batch_size >= 1,
                "optimizer.per_device_batch_size must be positive",
            ),
            (self.optimizer.learning_rate > 0, "optimizer.learning_rate must be positive"),
            (
                self.optimizer.max_completion_length > self.optimizer.overlong_buffer >= 0,
                "optimizer.overlong_buffer must be below max_completion_length",
            ),
            (
                self.lora is None or (self.lora.r >= 1 and self.lora.alpha >= 1),
                "lora.r and lora.alpha must be positive",
            ),
            (
                self.rollouts.vllm_mode in ("colocate", "server"),
                "rollouts.vllm_mode must be colocate or server",
            ),
            (
                (self.judge.endpoint is None) == (self.judge.model is None),
                "judge.endpoint and judge.model go together",
            ),
            (self.data.subset is None or self.data.subset >= 1, "data.subset must be positive"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        return self

    def completions_per_step(self) -> int:
        return self.optimizer.images_per_step * self.optimizer.num_generations

    def gradient_accumulation(self, world_size: int) -> int:
        """Micro-batches per step so that one step sees ``images_per_step`` whole groups."""
        per_micro_batch = self.optimizer.per_device_batch_size * world_size
        total = self.completions_per_step()
        if total % per_micro_batch:
            raise ConfigError(
                f"{self.optimizer.images_per_step} images x {self.optimizer.num_generations} "
                f"rollouts = {total} completions per step is not a multiple of "
                f"per_device_batch_size {self.optimizer.per_device_batch_size} x {world_size} "
                "processes; change optimizer.per_device_batch_size or images_per_step"
            )
        return total // per_micro_batch


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> TrainConfig:
    """Read a recipe, apply ``key.sub=value`` overrides, validate."""
    source = Path(path)
    try:
        content = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{source}: cannot read recipe: {error}") from None
    if not isinstance(content, dict):
        raise ConfigError(f"{source}: a recipe is a mapping of settings")
    for override in overrides:
        _apply_override(content, override)
    try:
        return _build(TrainConfig, content, "").validate()
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None


def _apply_override(content: dict[str, Any], override: str) -> None:
    key, equals, raw = override.partition("=")
    if not equals or not key:
        raise ConfigError(f"override {override!r} is not KEY=VALUE")
    *parents, leaf = key.split(".")
    node = content
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {override!r}: {part} is not a section")
    node[leaf] = yaml.safe_load(raw)


def _build(cls: type, values: Mapping[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown setting {where}{unknown[0]}; known: {', '.join(sorted(known))}")
    arguments = {}
    for name, value in values.items():
        hint = hints[name]
        section = _section_type(hint)
        if section is not None and (value is not None or not _optional(hint)):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where}{name} must be a section of settings")
            arguments[name] = _build(section, value, f"{where}{name}.")
        elif section is not None:
            arguments[name] = None
        else:
            arguments[name] = _checked(value, hint, f"{where}{name}")
    return cls(**arguments)


def _section_type(hint: Any) -> type | None:
    """The settings dataclass a field holds, if it is a section (possibly optional)."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    sections = [option for option in options if dataclasses.is_dataclass(option)]
    return sections[0] if sections else None


def _optional(hint: Any) -> bool:
    return isinstance(hint, types.UnionType) and type(None) in typing.get_args(hint)


def _checked(value: Any, hint: Any, key: str) -> Any:
    """``value`` if it fits the type ``hint`` (ints pass as floats), else a ConfigError."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    for option in options:
        if option is type(None) and value is None:
            return None
        if typing.get_origin(option) is list and isinstance(value, list):
            (item,) = typing.get_args(option)
            return [_checked(entry, item, f"{key}[]") for entry in value]
        if option is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if option in (int, str, bool) and type(value) is option:
            return value
    names = " or ".join(getattr(o, "__name__", str(o)) for o in options)
    raise ConfigError(f"{key} must be {names}, got {value!r}")
