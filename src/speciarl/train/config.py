"""Training recipes: one YAML file per experiment, read into typed, validated settings.

Every default is the paper's (LoRA 64/32 on the language model, lr 3e-5, 10 rollouts per image,
256 images per step, 2,048-token completions, 15 epochs, temperature 1.0), so a recipe file only
says what its experiment changes. ``key.sub=value`` overrides apply on top, as on the command line.
Both are YAML, with numbers as YAML 1.2 spells them too (``3e-5``; see :class:`RecipeLoader`).
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from speciarl.policy.image_budget import DEFAULT_MAX_PIXELS, DEFAULT_MIN_PIXELS, ImageBudget
from speciarl.reward import SCHEMES

OPTIMIZERS = ("grpo", "dr_grpo", "dapo")


class ConfigError(ValueError):
    """A recipe that cannot run; the message names the file and the key."""


@dataclass(frozen=True)
class DataSettings:
    """Which images the policy trains on, and how many pixels each keeps for it."""

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
    min_pixels: int | None = DEFAULT_MIN_PIXELS
    """Images smaller than this many pixels are enlarged to it; ``null``: the processor's own."""
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    """Images larger than this many pixels are shrunk to it (28 x 28 pixels per image token);
    ``null``: the processor's own (12,845,056 for Qwen2.5-VL, 16,384 tokens)."""

    @property
    def image_budget(self) -> ImageBudget:
        return ImageBudget(self.min_pixels, self.max_pixels)


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
    max_undecided: float = 0.05
    """Share of a step's rollouts (all processes together) that may stay undecided: well-formed
    answers no judge gave a verdict, e.g. while the LLM judge is unreachable. Undecided rollouts
    are masked, never rewarded: no part in the loss nor in their group's advantage statistics.
    Above this share, with an LLM judge, the step asks the judge again about them, waiting 1 s,
    2 s, 4 s ... (at most 30 s) between tries."""
    outage_timeout: float = 600.0
    """Seconds one step may wait for the judge to bring the undecided share back to
    ``max_undecided``; then the run stops with a message naming ``endpoint``, its last
    checkpoint kept for ``speciarl train --config ... --resume``."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_undecided <= 1.0:
            raise ConfigError(
                f"judge.max_undecided must be within [0, 1], got {self.max_undecided}"
            )
        if self.outage_timeout < 0:
            raise ConfigError(
                f"judge.outage_timeout must not be negative, got {self.outage_timeout}"
            )


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
    dynamic_sampling: bool = False
    """DAPO's dynamic sampling (:mod:`speciarl.train.dynamic_sampling`): drop every group whose
    decided rollouts all got the same summed reward (it carries no gradient) and generate more
    groups until each process holds its share of ``images_per_step`` groups with signal."""
    max_generation_batches: int = 10
    """With ``dynamic_sampling``, the most generation rounds one step makes (the step's own
    batch counts as the first); a step that reaches it trains on the groups it kept, the
    shortfall filled with dropped groups masked out of the loss (and a warning)."""
    generation_batch_size: int | None = None
    """With ``dynamic_sampling``, images generated per round (each with ``num_generations``
    rollouts), at least ``images_per_step``; ``null``: ``images_per_step``. The DAPO release
    generates 768 images per round for a training batch of 256. A round holds all its rollouts
    in memory at once."""

    def __post_init__(self) -> None:
        if self.max_generation_batches < 1:
            raise ConfigError(
                "optimizer.max_generation_batches must be at least 1, got "
                f"{self.max_generation_batches}"
            )
        generation = self.generation_batch_size
        if generation is not None and generation < self.images_per_step:
            raise ConfigError(
                f"optimizer.generation_batch_size ({generation} images per generation round) "
                f"must be at least optimizer.images_per_step ({self.images_per_step}): the "
                "first round generates the step's own batch"
            )
        if not self.dynamic_sampling:
            defaults = {entry.name: entry.default for entry in dataclasses.fields(self)}
            changed = [
                key
                for key in ("max_generation_batches", "generation_batch_size")
                if getattr(self, key) != defaults[key]
            ]
            if changed:
                raise ConfigError(
                    f"optimizer.{changed[0]} applies only with optimizer.dynamic_sampling: "
                    "true; set dynamic_sampling or drop the key"
                )

    @property
    def images_per_generation_round(self) -> int:
        """Images one dynamic-sampling round generates (``generation_batch_size`` or the
        step's own ``images_per_step``)."""
        return self.generation_batch_size or self.images_per_step

    def dynamic_sampling_problem(self, world_size: int) -> str | None:
        """Why dynamic sampling cannot split its rounds over ``world_size`` processes; else
        None. Groups never move between processes, so each must generate and keep whole
        groups, and every round must give each process as many rows (TRL gathers rewards)."""
        if not self.dynamic_sampling or world_size == 1:
            return None
        if self.images_per_step % world_size:
            share = self.images_per_step * self.num_generations / world_size
            return (
                f"with optimizer.dynamic_sampling each process must hold whole groups, but "
                f"optimizer.images_per_step {self.images_per_step} x {self.num_generations} "
                f"rollouts over {world_size} processes gives each {share:g} completions, not a "
                f"multiple of num_generations {self.num_generations}: change "
                f"optimizer.images_per_step to a multiple of {world_size} (and "
                "optimizer.per_device_batch_size so that it still divides each process's share)"
            )
        if self.images_per_generation_round % world_size:
            return (
                f"optimizer.generation_batch_size {self.images_per_generation_round} must be a "
                f"multiple of the {world_size} processes: each generates the same number of "
                "whole groups per round"
            )
        return None


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


COLOCATED_VLLM_SIZES = (
    "vllm_gpu_memory_utilization",
    "vllm_tensor_parallel_size",
    "vllm_max_model_length",
)
"""Rollout settings that size a colocated vLLM engine: TRL's ``GRPOConfig`` fields of the same
names, which TRL passes to the ``vllm.LLM`` it builds inside each training process."""


@dataclass(frozen=True)
class RolloutSettings:
    """How rollouts are sampled: transformers' ``generate`` in each training process (default),
    or vLLM, colocated in each training process or as a separate server.

    ``null`` sizes leave TRL's defaults. TRL 1.16 has no setting for vLLM's images-per-prompt
    limit (``limit_mm_per_prompt``); none is needed: every training prompt holds exactly one
    image, which vLLM's default limit admits (docs/memory.md)."""

    use_vllm: bool = False
    vllm_mode: str = "colocate"
    """``colocate`` (vLLM inside each training process) or ``server`` (``trl vllm-serve``)."""
    vllm_server_base_url: str | None = None
    vllm_gpu_memory_utilization: float | None = None
    """Share of each GPU's memory the colocated engine reserves for its weights, KV cache and
    activations (null: TRL's 0.3); training gets the rest, which ``train --dry-run`` checks
    against the memory plan."""
    vllm_tensor_parallel_size: int | None = None
    """GPUs one colocated engine spans (null: 1); must divide the number of training processes."""
    vllm_max_model_length: int | None = None
    """Longest sequence (prompt with its image tokens, plus completion) the colocated engine
    holds; null: the model's own limit (128,000 positions for Qwen2.5-VL), a KV cache the share
    must then hold. ``train --dry-run`` prints the least that holds every rollout."""

    def problem(self) -> str | None:
        """What cannot run in these settings, naming the ``rollouts.`` key; else None."""
        if self.vllm_mode not in ("colocate", "server"):
            return "rollouts.vllm_mode must be colocate or server"
        share = self.vllm_gpu_memory_utilization
        if share is not None and not 0 < share < 1:
            return (
                "rollouts.vllm_gpu_memory_utilization is a share of the GPU's memory, "
                f"strictly between 0 and 1; got {share}"
            )
        for key in ("vllm_tensor_parallel_size", "vllm_max_model_length"):
            value = getattr(self, key)
            if value is not None and value < 1:
                return f"rollouts.{key} must be positive, got {value}"
        if self.vllm_mode == "server":
            for key in COLOCATED_VLLM_SIZES:
                if getattr(self, key) is not None:
                    return (
                        f"rollouts.{key} sizes a colocated vLLM engine; with rollouts.vllm_mode "
                        "server, give the server its own size on its command line "
                        "(docs/multinode.md) and leave this unset"
                    )
        return None


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
    report_to: list[str] = field(default_factory=list)
    """Loggers that also receive TRL's metrics (``tensorboard``, ``wandb``, ... as transformers
    names them); none by default, so a fresh install runs. The metrics are always in the
    ``log_history`` of each checkpoint's ``trainer_state.json`` either way."""
    logging_steps: int = 1
    log_completions: bool = False
    """Also have TRL log its own table of completions every ``logging_steps`` (TRL's
    ``log_completions``): the step's prompts, completions, rewards and advantages, written to
    ``RUN/checkpoints/completions/completions_<step>.parquet``, printed as a table when ``rich``
    is installed, and sent to W&B and trackio when they are in ``report_to``. Off by default: the
    rollout log (``RUN/rollouts``) already keeps every rollout with its verdict."""
    num_completions_to_print: int | None = None
    """With ``log_completions``, how many completions TRL prints per logged step (TRL's
    ``num_completions_to_print``); ``null`` prints them all. The Parquet table and the loggers
    always get every completion of the step."""
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
                (self.judge.endpoint is None) == (self.judge.model is None),
                "judge.endpoint and judge.model go together",
            ),
            (self.data.subset is None or self.data.subset >= 1, "data.subset must be positive"),
        ]
        budget_problem = self.data.image_budget.problem("data.min_pixels", "data.max_pixels")
        checks.append((budget_problem is None, str(budget_problem)))
        rollout_problem = self.rollouts.problem()
        checks.append((rollout_problem is None, str(rollout_problem)))
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
    """Read a recipe, apply ``key.sub=value`` overrides, validate, and check that the loggers it
    reports to are installed (here, not once the model has loaded)."""
    config = read_recipe(path, overrides)
    try:
        check_loggers(config.report_to)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    return config


def read_recipe(path: str | Path, overrides: Sequence[str] = ()) -> TrainConfig:
    """The validated recipe of a file, without checking what this machine has installed (a run
    folder's saved recipe must stay readable where its loggers are not)."""
    source = Path(path)
    try:
        content = yaml.load(source.read_text(encoding="utf-8"), Loader=RecipeLoader) or {}
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


def recipe_text(config: TrainConfig) -> str:
    """``config`` as a recipe file with every setting spelled out; :func:`read_recipe` reads it
    back as an equal config."""
    return yaml.dump(
        dataclasses.asdict(config), Dumper=RecipeDumper, sort_keys=False, allow_unicode=True
    )


# Logger names with an extra of this package; other loggers install under their own name.
LOGGER_EXTRAS = ("tensorboard", "wandb")
LOGGER_PACKAGES = {"comet_ml": "comet-ml", "azure_ml": "azureml-core", "flyte": "flytekit"}


def check_loggers(names: Sequence[str]) -> None:
    """A :class:`ConfigError` naming ``report_to`` and the install command for a logger that
    transformers does not know or that is not installed."""
    if not names:
        return  # the usual case needs no transformers import
    from transformers.integrations.integration_utils import (
        INTEGRATION_TO_CALLBACK,
        get_available_reporting_integrations,
    )

    installed = set(get_available_reporting_integrations())
    for name in names:
        if name not in INTEGRATION_TO_CALLBACK:
            known = ", ".join(sorted(INTEGRATION_TO_CALLBACK))
            raise ConfigError(f"report_to: unknown logger {name!r}; known: {known}")
        if name not in installed:
            install = (
                f"pip install -e '.[{name}]'"
                if name in LOGGER_EXTRAS
                else f"pip install {LOGGER_PACKAGES.get(name, name)}"
            )
            raise ConfigError(
                f"report_to names {name}, which is not installed: {install} "
                "(or drop it from report_to)"
            )


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
    try:
        node[leaf] = yaml.load(raw, Loader=RecipeLoader)
    except yaml.YAMLError:
        raise ConfigError(f"override {override!r}: {raw!r} is not a YAML value") from None


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
    """``value`` if it fits the type ``hint`` (ints pass as floats; a number where a string is
    expected passes as written), else a ConfigError."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    for option in options:
        if option is type(None) and value is None:
            return None
        if typing.get_origin(option) is list and isinstance(value, list):
            (item,) = typing.get_args(option)
            return [_checked(entry, item, f"{key}[]") for entry in value]
        if option is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return int(value)
        if option is str and isinstance(value, _SpelledFloat | _SpelledInt):
            return value.spelling
        if option in (str, bool) and type(value) is option:
            return value
    names = " or ".join(getattr(o, "__name__", str(o)) for o in options)
    raise ConfigError(f"{key} must be {names}, got {value!r}")


# --- the YAML dialect of recipes -----------------------------------------------------------------

# YAML 1.2 floats with an exponent and no dot (3e-5, 1E-4, 1e3), or a dot and an unsigned
# exponent (3.0e5): YAML 1.1, which PyYAML implements, leaves them strings.
_EXPONENT_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)[eE][-+]?[0-9]+$")


class _SpelledFloat(float):
    """A float that remembers how the recipe wrote it, for settings that are strings."""

    spelling: str


class _SpelledInt(int):
    """An int that remembers how the recipe wrote it (``007``, ``1:30``)."""

    spelling: str


class RecipeLoader(yaml.SafeLoader):
    """PyYAML's safe loader, also reading 1.2's exponent floats as numbers (so
    ``learning_rate: 3e-5`` is 3e-5, not the string ``'3e-5'``). Numbers keep their spelling:
    where the setting is a string (a name, a model id), the text comes back as written."""


class RecipeDumper(yaml.SafeDumper):
    """Quotes every string that :class:`RecipeLoader` would read as a number."""


def _spelled(kind: type, construct: Any) -> Any:
    def constructor(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
        number = kind(construct(loader, node))
        number.spelling = node.value
        return number

    return constructor


for _resolving in (RecipeLoader, RecipeDumper):
    _resolving.add_implicit_resolver(
        "tag:yaml.org,2002:float", _EXPONENT_FLOAT, list("-+.0123456789")
    )
RecipeLoader.add_constructor(
    "tag:yaml.org,2002:float", _spelled(_SpelledFloat, yaml.SafeLoader.construct_yaml_float)
)
RecipeLoader.add_constructor(
    "tag:yaml.org,2002:int", _spelled(_SpelledInt, yaml.SafeLoader.construct_yaml_int)
)
