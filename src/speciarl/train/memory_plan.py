"""Peak GPU memory of one training process, planned from the recipe and the model's shape alone.

A GRPO run of a 7B vision-language model fails or fits on a GPU for reasons that are arithmetic:
how many weights stay whole on each GPU, how many rollouts TRL samples at once, how long a
sequence gets once its image becomes tokens. ``train --dry-run`` prints this plan, so a recipe
that cannot fit says so in seconds rather than after the model loaded. docs/memory.md gives each
term's reasoning and its source in TRL 1.16 / transformers 5 / PEFT; the formulas here are that
page in code.

For other tools (``bench/gpu_scale.py`` compares the plan with a measured peak)::

    source = model_source(config.model)  # or model_source(config.model, "qwen2.5-vl-7b")
    plan = plan_memory(config, source.config, world_size=1, setup="single")
    plan.peak, plan.describe()

:func:`plan_memory` is pure: a recipe, a model config, a process count and an accelerate set-up
in, named terms in bytes out. It counts tensors PyTorch allocates, what
``torch.cuda.max_memory_allocated`` reports; the CUDA context (about 0.5 GiB) and the caching
allocator's slack come on top.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from speciarl.policy.image_tokens import ImageCost, ImageTokensError, image_cost
from speciarl.train.config import ConfigError, LoraSettings, TrainConfig
from speciarl.train.grpo import PRESETS

GIB = 2**30
SETUPS = {
    "single": "one GPU",
    "ddp": "DDP",
    "zero3": "DeepSpeed ZeRO-3",
    "fsdp": "FSDP",
}
"""Accelerate set-ups the plan knows: ``configs/accelerate/`` has one config of each."""

DEFAULT_GPU_MEMORY_GIB = 80
"""The GPU a dry run plans for when given none and seeing none: an 80 GiB A100/H100."""

CHAT_TEMPLATE_TOKENS = 21
"""Tokens Qwen2.5-VL's chat template puts around one user turn with one image: the default system
turn (11), the user turn's role, vision markers and end (7), the assistant header (3)."""

TRL_VLLM_SHARE = 0.3
"""TRL 1.16's ``vllm_gpu_memory_utilization`` default (``rollouts.vllm_gpu_memory_utilization:
null``)."""
LOGPROB_TOKEN_TILE = 4096
LOGPROB_VOCAB_TILE = 32768
"""Tokens x vocabulary entries of one logits tile in TRL 1.16's fused log-probability head
(``TOKEN_CHUNK_SIZE`` in ``trl.kernels.chunked_logprob``, ``_CHUNKED_LOGPROB_CHUNK_SIZE`` in
``trl.trainer.utils``)."""
DROPOUT_MASK_BYTES = 1
"""Bytes per element of the mask a CUDA dropout keeps for backward (bool)."""
PIXEL_BYTES = {"zero3": 2}
"""Bytes per pixel value on the GPU: the processor makes fp32, which the Trainer casts to bf16
only under DeepSpeed."""


@dataclass(frozen=True)
class ModelSource:
    """A model's transformers config and where it came from, in words."""

    config: Any
    origin: str


def model_source(model: str, architecture: str | None = None) -> ModelSource:
    """The config of ``model``: a shipped architecture when ``architecture`` names one, else the
    checkpoint's own config.json (a folder, or the local Hugging Face cache), else the shipped
    shapes of a Hub id in :data:`speciarl.policy.architectures.SHIPPED_HUB_IDS`. Raises
    :class:`ConfigError` otherwise."""
    from transformers import AutoConfig

    from speciarl.policy.architectures import (
        SHIPPED_ARCHITECTURES,
        SHIPPED_HUB_IDS,
        shipped_config,
    )

    names = ", ".join(SHIPPED_ARCHITECTURES)
    if architecture is not None:
        if architecture not in SHIPPED_ARCHITECTURES:
            raise ConfigError(f"--architecture {architecture!r}: choose one of {names}")
        return ModelSource(shipped_config(architecture), f"the shipped {architecture} shapes")
    try:
        config = AutoConfig.from_pretrained(model, local_files_only=True)
    except (OSError, ValueError):
        if model in SHIPPED_HUB_IDS:
            name = SHIPPED_HUB_IDS[model]
            return ModelSource(
                shipped_config(name), f"the shipped {name} shapes (its config.json is not here)"
            )
        raise ConfigError(
            f"model {model}: no config.json on this machine to plan memory from; "
            f"--architecture NAME plans one of {names}"
        ) from None
    return ModelSource(config, "its config.json")


def gpu_memory(gib: float | None) -> tuple[int, str]:
    """Bytes of the GPU to plan for, and where that figure came from: ``--gpu-memory``, else the
    first visible GPU, else :data:`DEFAULT_GPU_MEMORY_GIB`."""
    if gib is not None:
        return int(gib * GIB), "--gpu-memory"
    import torch

    if torch.cuda.is_available():
        device = torch.cuda.get_device_properties(0)
        return device.total_memory, f"the visible GPU, {device.name}"
    return DEFAULT_GPU_MEMORY_GIB * GIB, "default: no --gpu-memory given and no GPU visible"


@dataclass(frozen=True)
class Shapes:
    """The model dimensions the plan uses, read from a vision-language config's ``text_config``
    and ``vision_config`` (any architecture whose image cost
    :mod:`speciarl.policy.image_tokens` knows)."""

    hidden: int
    inner: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    positions: int
    vision_hidden: int
    vision_inner: int
    image: Callable[[int | None], ImageCost] = field(repr=False, compare=False)
    """The largest image's cost at a pixel budget (``None``: the checkpoint's own bound)."""

    @classmethod
    def of(cls, model_config: Any) -> Shapes:
        vision = getattr(model_config, "vision_config", None)
        text = model_config.get_text_config() if vision is not None else None
        if text is None or text is model_config:
            raise ConfigError(
                "memory plan: the model is not a vision-language model (its config has no "
                "text_config and vision_config)"
            )
        try:
            image_cost(model_config)
        except ImageTokensError as error:
            raise ConfigError(f"memory plan: not planned: {error}") from None
        heads = text.num_attention_heads
        return cls(
            hidden=text.hidden_size,
            inner=text.intermediate_size,
            layers=text.num_hidden_layers,
            heads=heads,
            kv_heads=getattr(text, "num_key_value_heads", None) or heads,
            head_dim=getattr(text, "head_dim", None) or text.hidden_size // heads,
            vocab=text.vocab_size,
            positions=text.max_position_embeddings,
            vision_hidden=vision.hidden_size,
            vision_inner=vision.intermediate_size,
            image=partial(image_cost, model_config),
        )

    def kv_bytes_per_token(self) -> int:
        """Keys and values of one token in every layer, bf16."""
        return self.layers * 2 * self.kv_heads * self.head_dim * 2

    def no_grad_bytes_per_token(self) -> int:
        """The most a decoder layer holds per token in a forward without gradients (prefill,
        scoring): around the down projection, its bf16 input, LoRA's fp32 copy of it and the
        bf16 cast (8 x inner), with the residual stream, its normed copy and their LoRA copies
        (12 x hidden)."""
        return 8 * self.inner + 12 * self.hidden


@dataclass(frozen=True)
class ParameterCounts:
    """Exact parameter counts of the model with the recipe's adapters, from a meta-device build."""

    total: int
    trainable: int
    largest_block: int
    """Parameters of the largest decoder layer or vision block: what ZeRO-3 and FSDP gather."""
    outside_blocks: int
    """Parameters outside every block (embeddings, LM head, norms, patch embedding, merger)."""
    largest_outside: int
    """The largest single module outside the blocks (the embedding or the LM head)."""
    block_adapter: int
    """Adapter parameters of one decoder layer."""


_COUNTED: dict[tuple[str, str], ParameterCounts] = {}
"""Counts already made in this process, by model config and LoRA settings: dry runs of several
recipes of one model (and the set-ups compared in one) build each model once."""


def count_parameters(model_config: Any, lora: LoraSettings) -> ParameterCounts:
    """Build the model on the meta device (shapes, no memory), wrap it with the project's LoRA
    settings as training does, and count."""
    key = (model_config.to_json_string(), repr(lora))
    if key not in _COUNTED:
        _COUNTED[key] = _count_parameters(model_config, lora)
    return _COUNTED[key]


def _count_parameters(model_config: Any, lora: LoraSettings) -> ParameterCounts:
    import torch
    from peft import get_peft_model
    from transformers import AutoModelForImageTextToText

    from speciarl.policy.parts import submodule
    from speciarl.train.setup import lora_config, model_parts

    # PEFT asks transformers 5 a deprecated question while wrapping; not the user's concern
    with torch.device("meta"), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        base = AutoModelForImageTextToText.from_config(model_config)
        parts = model_parts(base)
        model = get_peft_model(base, lora_config(lora, base))
    block_types = set(getattr(model.get_base_model(), "_no_split_modules", None) or ())
    blocks = {
        name: module
        for name, module in model.named_modules()
        if type(module).__name__ in block_types
    }
    sizes = {name: sum(p.numel() for p in block.parameters()) for name, block in blocks.items()}
    outside = [
        sum(p.numel() for p in module.parameters(recurse=False))
        for name, module in model.named_modules()
        if not any(name == block or name.startswith(block + ".") for block in blocks)
    ]
    total = sum(p.numel() for p in model.parameters())
    first_layer = submodule(model, parts.first_decoder_layer)
    return ParameterCounts(
        total=total,
        trainable=sum(p.numel() for p in model.parameters() if p.requires_grad),
        largest_block=max(sizes.values(), default=0),
        outside_blocks=total - sum(sizes.values()),
        largest_outside=max(outside, default=0),
        block_adapter=sum(p.numel() for p in first_layer.parameters() if p.requires_grad),
    )


@dataclass(frozen=True)
class SequenceBudget:
    """The longest rollout the recipe can make, in tokens, and its image."""

    image_tokens: int
    text_tokens: int
    completion_tokens: int
    max_pixels: int | None
    """The pixel budget the image was reckoned at; ``None`` for architectures without one."""
    image_patches: int
    """Positions the vision tower runs over for the image."""
    patch_values: int
    """Numbers per vision patch in ``pixel_values``."""
    image_how: str
    """Where ``image_tokens`` comes from, in words."""

    @property
    def prompt_tokens(self) -> int:
        return self.image_tokens + self.text_tokens

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def prompt_text_bound(config: TrainConfig) -> int:
    """At most as many text tokens as the policy prompt has UTF-8 bytes (a byte-level BPE never
    makes more), plus the chat template's: a bound, not a count (Qwen's tokenizer makes about a
    quarter of it), so that no tokenizer has to load."""
    from speciarl.prompts import load_prompt

    return len(load_prompt(config.data.prompt).text.encode("utf-8")) + CHAT_TEMPLATE_TOKENS


def sequence_budget(
    config: TrainConfig, shapes: Shapes, text_tokens: int | None = None
) -> SequenceBudget:
    """The largest image's tokens (for a pixel-budget architecture at ``data.max_pixels``: the
    processor rounds each side to whole tokens and keeps the area within the budget), the
    prompt's text (``text_tokens`` if counted, else :func:`prompt_text_bound`) and
    ``optimizer.max_completion_length``."""
    image = shapes.image(config.data.max_pixels)
    return SequenceBudget(
        image_tokens=image.tokens,
        text_tokens=prompt_text_bound(config) if text_tokens is None else text_tokens,
        completion_tokens=config.optimizer.max_completion_length,
        max_pixels=image.max_pixels,
        image_patches=image.patches,
        patch_values=image.patch_values,
        image_how=image.how,
    )


@dataclass(frozen=True)
class MemoryTerm:
    """One named amount of memory and how it was reckoned."""

    name: str
    bytes: int
    how: str
    """The arithmetic, with its numbers."""


@dataclass(frozen=True)
class Phase:
    """A moment of a training step and what is allocated then, besides the resident terms."""

    name: str
    terms: tuple[MemoryTerm, ...]

    @property
    def bytes(self) -> int:
        return sum(term.bytes for term in self.terms)


@dataclass(frozen=True)
class MemoryPlan:
    """Planned GPU memory of one training process: resident terms plus the worst phase."""

    setup: str
    world_size: int
    counts: ParameterCounts
    sequence: SequenceBudget
    completions_per_process: int
    micro_batch: int
    resident: tuple[MemoryTerm, ...]
    phases: tuple[Phase, ...]
    generation_note: str

    @property
    def resident_bytes(self) -> int:
        return sum(term.bytes for term in self.resident)

    @property
    def peak_phase(self) -> Phase:
        return max(self.phases, key=lambda phase: phase.bytes)

    @property
    def peak(self) -> int:
        return self.resident_bytes + self.peak_phase.bytes

    def term(self, name: str) -> int:
        """Bytes of the term called ``name`` (resident or in any phase)."""
        for term in (*self.resident, *(t for phase in self.phases for t in phase.terms)):
            if term.name == name:
                return term.bytes
        raise KeyError(name)

    def describe(self) -> list[str]:
        """The plan as printed lines: parameters, sequence, each term, the peak."""
        counts, seq = self.counts, self.sequence
        lines = [
            f"parameters: {counts.total:,} in all, {counts.trainable:,} trainable "
            f"({100 * counts.trainable / counts.total:.2f} %)",
            f"memory plan per process ({SETUPS[self.setup]}, {self.world_size} process(es); "
            f"GiB = 2^30 bytes): sequences up to {seq.total:,} tokens = {seq.image_tokens:,} "
            f"image tokens ({seq.image_how}) + at most {seq.text_tokens:,} "
            f"text tokens + {seq.completion_tokens:,} completion tokens",
            f"  resident {_gib(self.resident_bytes)}",
            *_term_lines(self.resident),
        ]
        for phase in self.phases:
            lines += [f"  {phase.name} {_gib(phase.bytes)}", *_term_lines(phase.terms)]
        lines.append(f"  {self.generation_note}")
        lines.append(
            f"  peak {_gib(self.peak)}: resident + {self.peak_phase.name} (CUDA context and "
            "allocator slack not included)"
        )
        return lines


def _gib(count: int) -> str:
    return f"{count / GIB:.2f} GiB"


def _term_lines(terms: tuple[MemoryTerm, ...]) -> list[str]:
    return [f"    {term.name}: {_gib(term.bytes)} = {term.how}" for term in terms]


def layer_activation_bytes(
    shapes: Shapes,
    lora: LoraSettings,
    batch: int,
    sequence: int,
    *,
    layer_adapter: int,
    fp32_adapters: bool,
    padded: bool = True,
    dropout_mask_bytes: int = DROPOUT_MASK_BYTES,
) -> int:
    """What autograd keeps for one decoder layer's backward (LoRA adapters, bf16 autocast) for
    ``batch`` sequences of ``sequence`` tokens: under activation checkpointing, the one layer
    being recomputed holds this. docs/memory.md lists each tensor. A ``padded`` batch takes
    SDPA's masked kernel, with key/value heads repeated to every query head and a bf16 copy of
    the mask; ``layer_adapter`` (the layer's adapter parameters) sizes autocast's bf16 copies of
    fp32 adapters."""
    hidden, inner, width = shapes.hidden, shapes.inner, shapes.heads * shapes.head_dim
    per_token = 2 * (4 * hidden + 4)  # two RMSNorms: the fp32 input and its rsqrt
    per_token += 6 * inner  # MLP: gate output, its SiLU, up output
    per_token += 4 * shapes.heads  # attention's fp32 log-sum-exp
    if padded:  # query, key and value at every head, output
        per_token += 8 * width
    else:  # query and output at every head, key and value at the key/value heads
        per_token += 4 * width + 4 * shapes.kv_heads * shapes.head_dim
    widths = {"q_proj": hidden, "k_proj": hidden, "v_proj": hidden, "o_proj": width}
    widths |= {"gate_proj": hidden, "up_proj": hidden, "down_proj": inner}
    inputs = {"q_proj": "x1", "k_proj": "x1", "v_proj": "x1", "o_proj": "attn"}
    inputs |= {"gate_proj": "x2", "up_proj": "x2", "down_proj": "mlp"}
    kept = {"attn"}  # SDPA already keeps its output, which o_proj reads without a copy
    for module in (name for name in lora.target_modules if name in widths):
        per_token += 2 * lora.r  # lora_A's output, kept for lora_B
        if lora.dropout > 0:  # the dropout mask, and the dropped input lora_A keeps (bf16)
            per_token += (dropout_mask_bytes + 2) * widths[module]
        elif fp32_adapters or inputs[module] not in kept:  # each fp32 cast is a copy of its own
            per_token += 2 * widths[module]
            kept.add(inputs[module])
    mask = 2 * batch * sequence**2 if padded else 0
    casts = 2 * layer_adapter if fp32_adapters else 0
    return batch * sequence * per_token + mask + casts


def plan_memory(
    config: TrainConfig,
    model_config: Any,
    *,
    world_size: int = 1,
    setup: str = "single",
    gpu_memory: int = DEFAULT_GPU_MEMORY_GIB * GIB,
    text_tokens: int | None = None,
    counts: ParameterCounts | None = None,
) -> MemoryPlan:
    """The memory plan of one process of a ``world_size``-process launch in ``setup`` (a key of
    :data:`SETUPS`). ``gpu_memory`` sizes a colocated vLLM engine's share; ``text_tokens`` is the
    prompt's text length when counted (default: :func:`prompt_text_bound`); ``counts`` saves
    rebuilding the model when planning several set-ups. Raises :class:`ConfigError` for a plan
    it cannot make (full fine-tuning, an unknown set-up, a batch that does not divide)."""
    if setup not in SETUPS:
        raise ConfigError(f"set-up {setup!r}: choose one of {', '.join(SETUPS)}")
    if setup == "single" and world_size != 1:
        raise ConfigError(f"set-up single is one process, not {world_size}")
    if config.lora is None:
        raise ConfigError("memory plan: planned for LoRA recipes only (this one has lora: null)")
    shapes = Shapes.of(model_config)
    counts = counts or count_parameters(model_config, config.lora)
    seq = sequence_budget(config, shapes, text_tokens)
    generated = config.completions_per_step() // world_size
    # dynamic sampling generates rounds of its own size, each beside the groups kept so far
    optimizer = config.optimizer
    sampled = optimizer.images_per_generation_round * optimizer.num_generations // world_size
    held = generated + sampled if optimizer.dynamic_sampling else generated
    config.gradient_accumulation(world_size)  # a batch that does not divide has no plan
    micro = config.optimizer.per_device_batch_size
    sharded = setup in ("zero3", "fsdp")
    share = world_size if sharded else 1
    # PEFT keeps adapters in fp32 unless TRL asks for bf16 (it does under ZeRO-3)
    fp32_adapters = setup != "zero3"
    frozen = counts.total - counts.trainable
    resident = [
        MemoryTerm(
            "frozen weights (bf16)",
            math.ceil(frozen * 2 / share),
            f"{frozen:,} parameters x 2 bytes" + (f" / {share} processes" if sharded else ""),
        ),
        _adapter_term(counts.trainable, setup, share),
    ]
    if setup == "ddp":
        resident.append(
            MemoryTerm(
                "DDP gradient buckets",
                counts.trainable * 4,
                f"{counts.trainable:,} trainable x 4 bytes (a second copy of the gradients)",
            )
        )
    if has_kl_term(config):
        resident.append(
            MemoryTerm(
                "reference model",
                0,
                "none: with LoRA, TRL computes the KL reference with the adapters disabled",
            )
        )
    batch = _rollout_batch_term(config, shapes, seq, held, setup)
    resident.append(batch)
    rollouts = config.rollouts
    colocated = rollouts.use_vllm and rollouts.vllm_mode == "colocate"
    if colocated:
        fraction = rollouts.vllm_gpu_memory_utilization or TRL_VLLM_SHARE
        resident.append(
            MemoryTerm(
                "vLLM engine (colocated)",
                int(fraction * gpu_memory),
                f"rollouts.vllm_gpu_memory_utilization {fraction} x {gpu_memory / GIB:.1f} GiB",
            )
        )
    phases = _scoring_phases(config, shapes, seq, micro, batch)
    phases += _training_phases(config, shapes, counts, seq, micro, setup, share, fp32_adapters)
    if rollouts.use_vllm:
        where = "the colocated vLLM engine (its share is resident)" if colocated else "the server"
        note = f"generation: in {where}; TRL re-scores the rollouts in micro-batches (no_grad)"
    else:
        phases = _generation_phases(config, shapes, counts, seq, sampled, setup, share) + phases
        note = (
            f"generation: transformers' generate, all {sampled:,} rollouts of the process at "
            "once (TRL samples the whole generation batch in one call)"
        )
    return MemoryPlan(
        setup=setup,
        world_size=world_size,
        counts=counts,
        sequence=seq,
        completions_per_process=generated,
        micro_batch=micro,
        resident=tuple(resident),
        phases=tuple(phases),
        generation_note=note,
    )


def has_kl_term(config: TrainConfig) -> bool:
    """Whether the recipe's preset has a KL coefficient (``grpo``: 0.01), hence a reference."""
    return PRESETS[config.optimizer.preset]["beta"] != 0


def _adapter_term(trainable: int, setup: str, share: int) -> MemoryTerm:
    """LoRA weights, gradients and AdamW's two moments: fp32 (4 + 4 + 8 bytes) as PEFT keeps
    them; under ZeRO-3, bf16 weights and gradients plus DeepSpeed's fp32 master copy and
    moments (2 + 2 + 12)."""
    split = f" / {share} processes" if share > 1 else ""
    if setup == "zero3":
        how = f"{trainable:,} x (2 bf16 weight + 2 bf16 gradient + 12 fp32 master and AdamW)"
    else:
        how = f"{trainable:,} x (4 weight + 4 gradient + 8 AdamW moments), fp32"
    return MemoryTerm("adapters, gradients, AdamW", math.ceil(trainable * 16 / share), how + split)


def _rollout_batch_term(
    config: TrainConfig, shapes: Shapes, seq: SequenceBudget, generated: int, setup: str
) -> MemoryTerm:
    """The generation batch TRL keeps on the GPU for the whole step (and, while the next one is
    sampled, still): every rollout's pixel values (the processor runs once per rollout, so each
    image is there num_generations times), its tokens and masks, and its log-probabilities."""
    pixel_bytes = PIXEL_BYTES.get(setup, 4)
    patches = seq.image_patches
    pixels = generated * patches * seq.patch_values * pixel_bytes
    token_tensors = 5  # prompt ids and mask, completion ids and mask, mm_token_type_ids
    tokens = generated * seq.total * 8 * token_tensors
    rollouts = config.rollouts
    log_prob_rows = has_kl_term(config) + 2 * rollouts.use_vllm
    log_probs = generated * seq.completion_tokens * 4 * log_prob_rows
    scores = f" + {seq.completion_tokens:,} x {log_prob_rows} fp32 log-probs"
    scores = scores if log_prob_rows else ""
    return MemoryTerm(
        "rollout batch",
        pixels + tokens + log_probs,
        f"{generated:,} rollouts x ({patches:,} patches x {seq.patch_values} values x "
        f"{pixel_bytes} bytes + {seq.total:,} tokens x {token_tensors} int64 tensors{scores})",
    )


def _scoring_phases(
    config: TrainConfig, shapes: Shapes, seq: SequenceBudget, micro: int, batch: MemoryTerm
) -> list[Phase]:
    """After sampling, TRL builds the new rollout batch while the last one is still buffered,
    scores it micro-batch by micro-batch without gradients when it needs log-probabilities
    (the KL reference, vLLM's importance sampling), then re-concatenates the pixel values of each
    micro-batch (``unsplit_pixel_values_by_grid``) while the whole batch is still alive."""
    new = MemoryTerm("new rollout batch", batch.bytes, "as the rollout batch above")
    phases = [
        Phase(
            "buffering the new rollouts",
            (new, MemoryTerm("its micro-batch copies", batch.bytes, "the same again")),
        )
    ]
    if has_kl_term(config) or config.rollouts.use_vllm:
        per_token = shapes.no_grad_bytes_per_token()
        tile = min(micro * seq.completion_tokens, LOGPROB_TOKEN_TILE)
        tile *= min(shapes.vocab, LOGPROB_VOCAB_TILE) * 2
        forward = MemoryTerm(
            "no-grad forward",
            micro * seq.total * per_token + tile,
            f"{micro} x {seq.total:,} tokens x {per_token:,} bytes in a decoder layer + the "
            "logits tile",
        )
        phases.insert(0, Phase("scoring the new rollouts", (new, forward)))
    return phases


def _gathered_term(counts: ParameterCounts, setup: str) -> list[MemoryTerm]:
    """Weights a sharded set-up holds whole while it computes: two blocks (the current one and
    the one prefetched) and, for FSDP, the root module's parameters, for ZeRO-3 the largest
    module outside the blocks (the LM head, gathered for the fused log-probabilities)."""
    if setup == "fsdp":
        count, what = counts.outside_blocks, "the root module's parameters"
    elif setup == "zero3":
        count, what = counts.largest_outside, "the largest module outside them"
    else:
        return []
    return [
        MemoryTerm(
            "gathered weights",
            (2 * counts.largest_block + count) * 2,
            f"(2 blocks x {counts.largest_block:,} + {what}, {count:,}) x 2 bytes",
        )
    ]


def _training_phases(
    config: TrainConfig,
    shapes: Shapes,
    counts: ParameterCounts,
    seq: SequenceBudget,
    micro: int,
    setup: str,
    share: int,
    fp32_adapters: bool,
) -> list[Phase]:
    """One micro-batch's backward, under activation checkpointing: its peak is either at the
    fused LM head (the first thing backward runs) or in the last decoder layer's recompute."""
    hidden, tokens = shapes.hidden, micro * seq.total
    scored = micro * seq.completion_tokens
    checkpoints = MemoryTerm(
        "layer checkpoints",
        shapes.layers * tokens * hidden * 2,
        f"{shapes.layers} layers x {micro} x {seq.total:,} tokens x {hidden} x 2 bytes",
    )
    mask = MemoryTerm(
        "attention mask",
        micro * seq.total**2,
        f"{micro} x {seq.total:,}^2 bools (padded batches get a dense mask)",
    )
    gathered = _gathered_term(counts, setup)
    tile = min(scored, LOGPROB_TOKEN_TILE) * min(shapes.vocab, LOGPROB_VOCAB_TILE) * 2
    head = [
        MemoryTerm(
            "final norm",
            tokens * hidden * 4,
            f"{tokens:,} tokens x {hidden} x 4 bytes (its fp32 input)",
        ),
        MemoryTerm(
            "LM head (fused log-probabilities)",
            scored * hidden * (2 + 4 + 2) + tile,
            f"{scored:,} completion tokens x {hidden} x (2 kept + 4 fp32 gradient + 2 bf16 "
            f"gradient) + a {min(scored, LOGPROB_TOKEN_TILE):,} x "
            f"{min(shapes.vocab, LOGPROB_VOCAB_TILE):,} bf16 logits tile (never all "
            f"{shapes.vocab:,} logits at once)",
        ),
    ]
    down_fp32 = fp32_adapters and "down_proj" in config.lora.target_modules
    # the incoming and outgoing gradient of the layer (4 x hidden) and, at the down projection,
    # its base and LoRA input gradients with dropout's (fp32 when the adapters are)
    grad_per_token = 4 * hidden + (8 if down_fp32 else 6) * shapes.inner
    layer = [
        MemoryTerm(
            "recomputed layer",
            layer_activation_bytes(
                shapes,
                config.lora,
                micro,
                seq.total,
                layer_adapter=counts.block_adapter,
                fp32_adapters=fp32_adapters,
            ),
            f"{micro} x {seq.total:,} tokens x what one decoder layer keeps for backward "
            "(docs/memory.md), + a bf16 copy of the mask",
        ),
        MemoryTerm(
            "layer gradients",
            tokens * grad_per_token,
            f"{tokens:,} tokens x {grad_per_token:,} bytes (gradients alive in its backward)",
        ),
    ]
    return [
        Phase("training, LM head backward", (*gathered, checkpoints, mask, *head)),
        Phase("training, decoder layer backward", (*gathered, checkpoints, mask, *layer)),
    ]


def _generation_phases(
    config: TrainConfig,
    shapes: Shapes,
    counts: ParameterCounts,
    seq: SequenceBudget,
    generated: int,
    setup: str,
    share: int,
) -> list[Phase]:
    """transformers' ``generate`` over the whole generation batch: first the prefill of every
    prompt, then decoding to the full length with the KV cache grown to it."""
    pixel_bytes = PIXEL_BYTES.get(setup, 4)
    patches = seq.image_patches
    if setup == "zero3":  # ds3_gather_for_generation: the whole model, on every process
        whole = counts.total * 2
        gathered = [
            MemoryTerm(
                "gathered weights",
                whole - math.ceil(whole / share),
                f"{counts.total:,} x 2 bytes gathered for generate, less this process's shard",
            )
        ]
    else:
        gathered = _gathered_term(counts, setup)
    inputs = MemoryTerm(
        "generation pixel values",
        generated * patches * seq.patch_values * pixel_bytes,
        f"{generated:,} x {patches:,} patches x {seq.patch_values} x {pixel_bytes} bytes",
    )
    kv = shapes.kv_bytes_per_token()
    llm = shapes.no_grad_bytes_per_token()
    vision = 4 * shapes.vision_hidden + 6 * shapes.vision_inner
    prefill = max(seq.prompt_tokens * llm, seq.image_patches * vision)
    return [
        Phase(
            "generation, prefill",
            (
                *gathered,
                inputs,
                MemoryTerm(
                    "KV cache (prompts)",
                    generated * seq.prompt_tokens * kv,
                    f"{generated:,} x {seq.prompt_tokens:,} tokens x {kv:,} bytes",
                ),
                MemoryTerm(
                    "prefill activations",
                    generated * prefill,
                    f"{generated:,} rollouts x max({seq.prompt_tokens:,} tokens x {llm:,} "
                    f"bytes in a decoder layer, {seq.image_patches:,} vision patches x "
                    f"{vision:,} bytes in a vision block)",
                ),
                MemoryTerm(
                    "prefill attention mask",
                    3 * generated * seq.prompt_tokens**2,
                    f"{generated:,} x {seq.prompt_tokens:,}^2 x (1 bool + 2 bf16) bytes "
                    "(left-padded prompts)",
                ),
            ),
        ),
        Phase(
            "generation, decoding",
            (
                *gathered,
                inputs,
                MemoryTerm(
                    "KV cache (full length)",
                    generated * seq.total * kv,
                    f"{generated:,} x {seq.total:,} tokens x {kv:,} bytes "
                    f"({shapes.layers} layers x K and V x {shapes.kv_heads} heads x "
                    f"{shapes.head_dim} x 2 bytes)",
                ),
                MemoryTerm(
                    "sampling",
                    generated * shapes.vocab * 4 * 3,
                    f"{generated:,} x {shapes.vocab:,} vocabulary x 4 bytes x 3 (logits, "
                    "processed scores, probabilities)",
                ),
            ),
        ),
    ]


def memory_report(
    config: TrainConfig,
    world_size: int,
    *,
    setup: str | None = None,
    gpu_gib: float | None = None,
    architecture: str | None = None,
) -> tuple[list[str], list[str]]:
    """The dry run's memory section: lines to print and problems that stop the run. ``setup``
    defaults to ``single`` for one process and ``ddp`` for more; the GPU is ``gpu_gib``, else the
    visible one, else :data:`DEFAULT_GPU_MEMORY_GIB`. A model whose config is not on this machine
    gets a line saying so, not a problem: the launch may be elsewhere."""
    chosen = setup or ("single" if world_size == 1 else "ddp")
    if chosen not in SETUPS:
        raise ConfigError(f"--setup {chosen!r}: choose one of {', '.join(SETUPS)}")
    if chosen == "single" and world_size != 1:
        raise ConfigError(f"--setup single plans one process, not --processes {world_size}")
    capacity, origin = gpu_memory(gpu_gib)
    lines = [f"GPU memory planned for: {capacity / GIB:.1f} GiB ({origin})"]
    try:
        source = model_source(config.model, architecture)
        shapes = Shapes.of(source.config)
    except ConfigError as error:
        if architecture is not None:
            raise
        message = str(error)
        if not message.startswith("memory plan: "):
            message = f"memory plan: not available: {message}"
        return [*lines, message], []
    lines.append(f"model shapes: {config.model}, from {source.origin}")
    problems = _length_problems(config, shapes, lines)
    if config.lora is None:
        return [*lines, "memory plan: not available for full fine-tuning (lora: null)"], problems
    counts = count_parameters(source.config, config.lora)

    def planned(name: str) -> MemoryPlan:
        return plan_memory(
            config,
            source.config,
            world_size=world_size,
            setup=name,
            gpu_memory=capacity,
            counts=counts,
        )

    plan = planned(chosen)
    lines += plan.describe()
    if world_size > 1:
        others = [
            f"{name} {planned(name).peak / GIB:.2f} GiB" for name in SETUPS if name != "single"
        ]
        lines.append(f"  peak per set-up at {world_size} processes: {', '.join(others)}")
    rollouts = config.rollouts
    if rollouts.use_vllm and rollouts.vllm_mode == "colocate":
        problems += _colocated_problems(config, plan, shapes, capacity, origin)
    elif plan.peak > capacity:
        lines.append(
            f"WARNING: the planned peak, {plan.peak / GIB:.1f} GiB, exceeds the GPU's "
            f"{capacity / GIB:.1f} GiB ({origin})"
        )
    return lines, problems


def _length_problems(config: TrainConfig, shapes: Shapes, lines: list[str]) -> list[str]:
    """The longest rollout against vLLM's maximum model length, with a line saying what holds."""
    from speciarl.train.config import COLOCATED_VLLM_SIZES

    rollouts, seq = config.rollouts, sequence_budget(config, shapes)
    if not rollouts.use_vllm:
        if any(getattr(rollouts, key) is not None for key in COLOCATED_VLLM_SIZES):
            lines.append(
                "rollouts: sampled with transformers' generate; the vllm_* sizes apply once "
                "rollouts.use_vllm is true"
            )
        return []
    if rollouts.vllm_mode == "server":
        lines.append(
            f"vLLM server: must take sequences of {seq.total:,} tokens (its --max-model-len) "
            "and one image per prompt"
        )
        return []
    length = rollouts.vllm_max_model_length
    if length is None:
        lines.append(
            f"vLLM max model length: unset, so the model's {shapes.positions:,}; the longest "
            f"rollout is {seq.total:,} tokens (rollouts.vllm_max_model_length={seq.total} keeps "
            "the engine's KV cache to what rollouts use)"
        )
        return []
    if length < seq.total:
        return [
            f"rollouts.vllm_max_model_length {length:,} is shorter than the longest rollout: "
            f"{seq.image_tokens:,} image tokens ({seq.image_how}) + at most "
            f"{seq.text_tokens:,} text tokens + optimizer.max_completion_length "
            f"{seq.completion_tokens:,} = {seq.total:,}; raise it, or lower "
            + ("data.max_pixels or " if seq.max_pixels is not None else "")
            + "optimizer.max_completion_length"
        ]
    lines.append(f"vLLM max model length {length:,} holds the longest rollout, {seq.total:,}")
    return []


def _colocated_problems(
    config: TrainConfig, plan: MemoryPlan, shapes: Shapes, capacity: int, origin: str
) -> list[str]:
    """A colocated engine's share must leave room for training, and hold the engine's own copy
    of the weights plus the KV cache of one sequence of its maximum length (vLLM refuses to
    start otherwise; it needs activation memory besides, so passing is necessary, not enough)."""
    rollouts, counts = config.rollouts, plan.counts
    fraction = rollouts.vllm_gpu_memory_utilization or TRL_VLLM_SHARE
    share = int(fraction * capacity)
    problems = []
    if plan.peak > capacity:
        problems.append(
            f"rollouts.vllm_gpu_memory_utilization {fraction}: vLLM's share, "
            f"{share / GIB:.1f} GiB, plus the training process's planned "
            f"{(plan.peak - share) / GIB:.1f} GiB ({SETUPS[plan.setup]}) is "
            f"{plan.peak / GIB:.1f} GiB, more than the GPU's {capacity / GIB:.1f} GiB "
            f"({origin}); lower rollouts.vllm_gpu_memory_utilization, "
            "optimizer.per_device_batch_size or data.max_pixels (or plan another GPU with "
            "--gpu-memory)"
        )
    parallel = rollouts.vllm_tensor_parallel_size or 1
    weights = (counts.total - counts.trainable) * 2 / parallel
    length = rollouts.vllm_max_model_length or shapes.positions
    heads = max(1, shapes.kv_heads // parallel)
    kv = length * shapes.layers * 2 * heads * shapes.head_dim * 2
    if share < weights + kv:
        named = rollouts.vllm_max_model_length or "unset: the model's limit"
        problems.append(
            f"rollouts.vllm_gpu_memory_utilization {fraction} x {capacity / GIB:.1f} GiB = "
            f"{share / GIB:.1f} GiB cannot hold vLLM's copy of the weights "
            f"({weights / GIB:.1f} GiB at rollouts.vllm_tensor_parallel_size {parallel}) and "
            f"the KV cache of one {length:,}-token sequence ({kv / GIB:.1f} GiB; "
            f"rollouts.vllm_max_model_length {named}); raise the share or lower the length"
        )
    return problems
